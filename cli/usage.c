/*
 * usage.c - umbractl get-usage: what the recorded usage would cost on AWS
 * IoT Core, and the metering of umbractl's own registry operations.
 *
 * The usage table holds sums per UTC hour and client id. Prices have
 * monthly volume tiers, so the cost is computed per calendar month from
 * that month's totals; a group (thing or day) is charged its share of each
 * month's cost of each quantity, so the groups add up to the total.
 */
#include "usage.h"

#include "error.h"
#include "usage_price.h"
#include "usage_time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* AWS's list of registry operations it bills ("Registry operations" in
 * its metering details); the others are free. */
static const char *const metered_ops[] = {
    "AttachThingPrincipal", "CreateThing",         "CreateThingType",     "DescribeThing",
    "DescribeThingType",    "ListPrincipalThings", "ListThingPrincipals", "ListThings",
    "ListThingTypes",       "UpdateThing",
};

static int64_t now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

void usage_record_registry_op(struct registry *r, const char *operation, const json_t *req,
                              const json_t *resp)
{
    size_t i = 0, n = sizeof metered_ops / sizeof metered_ops[0];
    while (i < n && strcmp(metered_ops[i], operation) != 0)
        i++;
    if (i == n) return;
    const char *thing = json_string_value(json_object_get(req, "thingName"));
    struct usage_counts c = {{0}};
    c.n[USAGE_REGISTRY_SHADOW_OPS] = usage_operations(json_dumpb(resp, NULL, 0, JSON_COMPACT));
    if (registry_usage_add(r, (uint64_t)now_s() / 3600, thing ? thing : "", &c))
        fprintf(stderr, "umbractl: warning: could not record the usage of %s\n", operation);
}

/* ---- get-usage ---- */

struct options {
    int64_t start, end;
    bool has_start, has_end;
    enum registry_usage_group group;
    const char *price_file;
};

/* One month's totals and what each quantity cost in it. */
struct month {
    char name[8];
    struct usage_counts counts;
    double cost[USAGE_NCOUNTERS];
};

struct report {
    const struct usage_price_table *prices;
    struct month *months;
    size_t nmonths, cap;
    bool is_oom;
    /* Grouped rows arrive by group: the group being filled. */
    json_t *groups;
    char *group;
    struct usage_counts gcounts;
    double gcost;
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: umbractl get-usage [--start-time T] [--end-time T] "
                 "[--group-by thing|day] [--price-table FILE]\n\n"
                 "What the recorded usage would cost on AWS IoT Core. Times are ISO 8601 in UTC\n"
                 "(2026-12-03T10:00:00Z) or epoch seconds; usage is kept per UTC hour, and a\n"
                 "range takes every hour it overlaps. The running umbrad writes its meters every\n"
                 "usage_flush_interval seconds (10 by default) and when it stops.\n");
}

static int parse_time_flag(const char *flag, const char *value, int64_t *out)
{
    if (usage_parse_time(value, out) == 0) return 0;
    fprintf(stderr,
            "umbractl get-usage: --%s: '%s' is not a time: give ISO 8601 "
            "(2026-12-03T10:00:00Z) or epoch seconds\n",
            flag, value);
    return 2;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0) {
            print_usage(stdout);
            return -1;
        }
        bool takes_value = !strcmp(f, "--start-time") || !strcmp(f, "--end-time") ||
                           !strcmp(f, "--group-by") || !strcmp(f, "--price-table");
        if (!takes_value) {
            fprintf(stderr,
                    "umbractl get-usage: unknown option %s (see umbractl get-usage --help)\n", f);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "umbractl get-usage: %s needs a value\n", f);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(f, "--start-time")) {
            if (parse_time_flag("start-time", v, &o->start)) return 2;
            o->has_start = true;
        } else if (!strcmp(f, "--end-time")) {
            if (parse_time_flag("end-time", v, &o->end)) return 2;
            o->has_end = true;
        } else if (!strcmp(f, "--group-by")) {
            if (strcmp(v, "thing") && strcmp(v, "day")) {
                fprintf(stderr, "umbractl get-usage: --group-by must be thing or day, got '%s'\n",
                        v);
                return 2;
            }
            o->group = strcmp(v, "thing") == 0 ? REGISTRY_USAGE_BY_THING : REGISTRY_USAGE_BY_DAY;
        } else {
            o->price_file = strncmp(v, "file://", 7) == 0 ? v + 7 : v;
        }
    }
    if (o->has_start && o->has_end && o->end <= o->start) {
        fprintf(stderr, "umbractl get-usage: --end-time must be after --start-time\n");
        return 2;
    }
    return 0;
}

/* The table in path, or the built-in one. 0, or 2 with the problem printed. */
static int load_prices(const char *path, struct usage_price_table *t, json_t **doc)
{
    char err[256];
    if (!path) {
        if (usage_price_parse(usage_price_default, strlen(usage_price_default), t, doc, err,
                              sizeof err) == 0)
            return 0;
        fprintf(stderr, "umbractl get-usage: built-in price table: %s\n", err);
        return 2;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "umbractl get-usage: --price-table %s: %s\n", path, strerror(errno));
        return 2;
    }
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text, f);
    bool is_too_big = len == sizeof text;
    bool has_failed = ferror(f);
    fclose(f);
    if (is_too_big || has_failed) {
        fprintf(stderr, "umbractl get-usage: --price-table %s: %s\n", path,
                is_too_big ? "larger than 1 MiB" : "read error");
        return 2;
    }
    if (usage_price_parse(text, len, t, doc, err, sizeof err) == 0) return 0;
    fprintf(stderr, "umbractl get-usage: --price-table %s: %s\n", path, err);
    return 2;
}

static double round_cost(double usd)
{
    return round(usd * 1e9) / 1e9; /* nano-dollars: no float noise in the output */
}

static json_t *usage_json(const struct usage_counts *c)
{
    json_t *o = json_object();
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        json_object_set_new(o, usage_counter_names[i], json_integer((json_int_t)c->n[i]));
    return o;
}

static void add_month(void *ctx, const char *month, const char *group, const struct usage_counts *c)
{
    (void)group;
    struct report *r = ctx;
    if (r->nmonths == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        struct month *n = realloc(r->months, ncap * sizeof *n);
        if (!n) {
            r->is_oom = true;
            return;
        }
        r->months = n;
        r->cap = ncap;
    }
    struct month *m = &r->months[r->nmonths++];
    snprintf(m->name, sizeof m->name, "%s", month ? month : "");
    m->counts = *c;
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        m->cost[i] = usage_price_cost(r->prices, i, c->n[i]);
}

static const struct month *find_month(const struct report *r, const char *name)
{
    for (size_t i = 0; i < r->nmonths; i++)
        if (strcmp(r->months[i].name, name) == 0) return &r->months[i];
    return NULL;
}

/* Close the group being filled, appending it to r->groups. */
static void end_group(struct report *r, const char *label)
{
    if (!r->group) return;
    json_t *g = json_object();
    bool is_account = !*r->group;
    json_object_set_new(g, label, is_account ? json_null() : json_string(r->group));
    json_object_set_new(g, "usage", usage_json(&r->gcounts));
    json_object_set_new(g, "estimatedCostUSD", json_real(round_cost(r->gcost)));
    json_array_append_new(r->groups, g);
    free(r->group);
    r->group = NULL;
}

struct group_ctx {
    struct report *r;
    const char *label;
};

static void add_group_row(void *ctx, const char *month, const char *group,
                          const struct usage_counts *c)
{
    struct group_ctx *gc = ctx;
    struct report *r = gc->r;
    group = group ? group : "";
    if (r->group && strcmp(r->group, group) != 0) end_group(r, gc->label);
    if (!r->group) {
        if (!(r->group = strdup(group))) {
            r->is_oom = true;
            return;
        }
        memset(&r->gcounts, 0, sizeof r->gcounts);
        r->gcost = 0;
    }
    usage_counts_add(&r->gcounts, c);
    const struct month *m = find_month(r, month ? month : "");
    for (int i = 0; m && i < USAGE_NCOUNTERS; i++)
        if (m->counts.n[i]) r->gcost += m->cost[i] * (double)c->n[i] / (double)m->counts.n[i];
}

static json_t *build_report(struct registry *reg, const struct options *o, struct report *r,
                            json_t *price_doc)
{
    if (registry_usage_query(reg, o->start, o->end, REGISTRY_USAGE_TOTAL, add_month, r))
        return NULL;
    struct usage_counts total = {{0}};
    double cost[USAGE_NCOUNTERS] = {0}, sum = 0;
    for (size_t i = 0; i < r->nmonths; i++) {
        usage_counts_add(&total, &r->months[i].counts);
        for (int c = 0; c < USAGE_NCOUNTERS; c++)
            cost[c] += r->months[i].cost[c];
    }
    char start[21], end[21];
    usage_format_time(o->start, start);
    usage_format_time(o->end, end);
    json_t *out = json_object();
    json_object_set_new(out, "startTime", json_string(start));
    json_object_set_new(out, "endTime", json_string(end));
    json_object_set_new(out, "usage", usage_json(&total));
    json_t *breakdown = json_object();
    for (int c = 0; c < USAGE_NCOUNTERS; c++) {
        json_object_set_new(breakdown, usage_counter_names[c], json_real(round_cost(cost[c])));
        sum += cost[c];
    }
    json_object_set_new(out, "estimatedCostUSD", json_real(round_cost(sum)));
    json_object_set_new(out, "costBreakdownUSD", breakdown);
    if (o->group != REGISTRY_USAGE_TOTAL) {
        struct group_ctx gc = {r, o->group == REGISTRY_USAGE_BY_THING ? "thing" : "day"};
        r->groups = json_array();
        int rc = registry_usage_query(reg, o->start, o->end, o->group, add_group_row, &gc);
        end_group(r, gc.label);
        json_object_set_new(out, "groupBy", json_string(gc.label));
        json_object_set_new(out, "groups", r->groups);
        if (rc) {
            json_decref(out);
            return NULL;
        }
    }
    json_object_set(out, "priceTable", price_doc);
    return out;
}

/* Without --start-time: from the first recorded hour (or now, when none). */
static int default_times(struct registry *reg, struct options *o)
{
    int64_t first;
    if (!o->has_end) o->end = now_s() + 1;
    if (o->has_start) return 0;
    int rc = registry_usage_first_hour(reg, &first);
    if (rc == UMBRA_ENOTFOUND) {
        o->start = o->end < 3600 ? 0 : o->end - 1;
        return 0;
    }
    o->start = first * 3600;
    return rc;
}

int usage_main(const char *data_dir, int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    struct usage_price_table prices;
    json_t *price_doc;
    if ((rc = load_prices(o.price_file, &prices, &price_doc))) return rc;
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/umbra.db", data_dir);
    const char *region = getenv("UMBRA_REGION");
    struct registry *reg;
    if (registry_open(&reg, path, region && *region ? region : NULL, err, sizeof err)) {
        fprintf(stderr, "umbractl: %s\n", err);
        json_decref(price_doc);
        return 1;
    }
    struct report r = {.prices = &prices};
    json_t *out = default_times(reg, &o) ? NULL : build_report(reg, &o, &r, price_doc);
    registry_close(reg);
    free(r.months);
    json_decref(price_doc);
    if (!out || r.is_oom) {
        fprintf(stderr, "An error occurred (InternalFailureException) when calling the GetUsage "
                        "operation: cannot read the usage table\n");
        json_decref(out);
        return 1;
    }
    char *text = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(out);
    if (!text || puts(text) < 0) {
        free(text);
        return 1;
    }
    free(text);
    return 0;
}
