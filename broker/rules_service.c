/*
 * rules_service.c - topic rules on the message path: compiled SQL and
 * actions in memory, matched against every published message.
 *
 * Actions: republish (to the router, with a loop guard); dynamoDB and
 * dynamoDBv2 (rows of tables in the data directory's database, written with
 * the broker's own persistence batch, sink_table.c); s3 (files on the thread
 * pool, sink_s3.c); http (libcurl on the loop, sink_http.c); postgres (a
 * worker thread per database, sink_postgres.c). No sink blocks the loop;
 * each has a bounded queue and drops, counted, what does not fit.
 */
#include "rules_service.h"

#include "error.h"
#include "log.h"
#include "mqtt_topic.h"
#include "registry.h"
#include "router.h"
#include "rules_internal.h"
#include "server.h"
#include "shadow_service.h"
#include "sink_http.h"
#include "sink_postgres.h"
#include "sink_s3.h"
#include "sink_table.h"
#include "sql.h"
#include "sql_json.h"
#include "template.h"
#include "usage_meter.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPUBLISH_DEPTH 8 /* a rule republishing into its own FROM stops here */

/* ---- loading ---- */

static void rule_free(struct rule *r)
{
    rule_stats_unref(r->stats);
    sql_query_free(r->query);
    for (size_t i = 0; i < r->nactions; i++)
        rule_action_free(&r->actions[i]);
    free(r->actions);
    rule_action_free(&r->error_action);
}

static void rules_free(struct umbra_rules *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    free(rs);
}

/* The counters of the rule of this name loaded before, or new ones. */
static struct rule_stats *stats_for(const struct umbra_server *s, const char *name)
{
    for (size_t i = 0; s->rules && i < s->rules->n; i++)
        if (strcmp(s->rules->rules[i].stats->name, name) == 0) {
            s->rules->rules[i].stats->refs++;
            return s->rules->rules[i].stats;
        }
    struct rule_stats *st = calloc(1, sizeof *st);
    if (st && !(st->name = strdup(name))) {
        free(st);
        return NULL;
    }
    if (st) st->refs = 1;
    return st;
}

struct load_ctx {
    struct umbra_server *s;
    struct umbra_rules *rs;
    int rc;
};

static void on_rule(void *ctx, const char *name, const char *payload)
{
    struct load_ctx *l = ctx;
    json_t *p = json_loads(payload, 0, NULL);
    struct rule r = {0};
    struct sql_error err;
    const char *sql = json_string_value(json_object_get(p, "sql"));
    int rc = !p || !sql ? UMBRA_EINVAL : 0;
    if (!rc && !(r.stats = stats_for(l->s, name))) rc = UMBRA_ENOMEM;
    if (!rc && (rc = sql_parse(sql, strlen(sql), &r.query, &err)))
        log_error("rule %s: %s", name, err.message);
    if (!rc) r.from_len = r.query->from ? strlen(r.query->from) : 0;
    if (!rc)
        r.is_star = !r.query->is_value && r.query->nitems == 1 &&
                    r.query->items[0].expr->kind == SQL_STAR && !r.query->items[0].alias;
    json_t *actions = json_object_get(p, "actions");
    size_t n = json_array_size(actions);
    if (!rc && n && !(r.actions = calloc(n, sizeof *r.actions))) rc = UMBRA_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = rule_action_compile(name, json_array_get(actions, i), &r.actions[i]);
        r.nactions = i + 1;
    }
    json_t *ea = json_object_get(p, "errorAction");
    if (!rc && json_is_object(ea)) {
        rc = rule_action_compile(name, ea, &r.error_action);
        r.has_error_action = rc == 0;
    }
    json_decref(p);
    struct rule *grown = rc ? NULL : realloc(l->rs->rules, (l->rs->n + 1) * sizeof *grown);
    if (!grown) {
        /* A rule that cannot be compiled (stored by an older version) is skipped. */
        log_error("rule %s not loaded", name);
        rule_free(&r);
        if (rc == UMBRA_ENOMEM || !rc) l->rc = UMBRA_ENOMEM;
        return;
    }
    /* The first rule with the same FROM, whose match this one reuses. */
    r.same_from_as = l->rs->n;
    for (size_t i = 0; r.query->from && i < l->rs->n; i++) {
        const char *other = grown[i].query->from;
        if (other && strcmp(other, r.query->from) == 0) {
            r.same_from_as = i;
            break;
        }
    }
    l->rs->rules = grown;
    l->rs->rules[l->rs->n++] = r;
}

int rules_service_load(struct umbra_server *s)
{
    if (!s->registry) return 0;
    struct umbra_rules *rs = calloc(1, sizeof *rs);
    if (!rs) return UMBRA_ENOMEM;
    /* Rules still there keep their counters (stats_for). */
    struct load_ctx l = {s, rs, 0};
    if (registry_each_enabled_topic_rule(s->registry, on_rule, &l) || l.rc) {
        rules_free(rs);
        log_error("cannot load the topic rules; keeping the ones loaded before");
        return UMBRA_EIO;
    }
    bool is_reload = s->rules != NULL;
    if (is_reload) rs->depth = s->rules->depth;
    size_t before = is_reload ? s->rules->n : 0;
    rules_free(s->rules);
    s->rules = rs;
    /* Every registry change reloads; say so only when the set of rules grew or shrank. */
    if (rs->n != before || (!is_reload && rs->n)) log_info("topic rules: %zu enabled", rs->n);
    return 0;
}

void rules_service_free(struct umbra_server *s)
{
    rules_free(s->rules);
    s->rules = NULL;
}

/* ---- running ---- */

bool rules_service_is_ingest(const char *topic, size_t len)
{
    return len > 11 && memcmp(topic, "$aws/rules/", 11) == 0;
}

/* Does the rule take this message? FROM's filter, or Basic Ingest by name. */
static bool wants(const struct rule *r, const char *topic, size_t len, bool is_ingest)
{
    if (is_ingest) {
        size_t nl = strlen(r->stats->name);
        return len > 11 + nl && memcmp(topic + 11, r->stats->name, nl) == 0 &&
               (topic[11 + nl] == '/' || 11 + nl == len);
    }
    if (!r->query->from) return false; /* a rule without FROM takes Basic Ingest only */
    return sql_from_matches(r->query->from, r->from_len, topic, len);
}

static void random_bytes(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rand();
}

/* get_thing_shadow(): the document as GetThingShadow returns it. */
static json_t *get_shadow(void *ctx, const char *thing, const char *shadow)
{
    struct shadow_call_result r = {0};
    json_t *doc = NULL;
    if (shadow_service_call(ctx, thing, shadow, SHADOW_GET, NULL, 0, &r) == 0 && r.status == 200 &&
        r.body)
        doc = json_loads(r.body, 0, NULL);
    shadow_call_result_free(&r);
    return doc;
}

static void run_message(struct umbra_server *s, const char *topic, size_t len,
                        const uint8_t *payload, size_t plen, const struct rules_origin *o);

static void stamp(struct umbra_rules *rs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rs->timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publish the result; NULL, or why it failed. */
static const char *republish(struct umbra_server *s, const char *topic, uint8_t qos,
                             const uint8_t *body, size_t blen)
{
    if (!topic) return "out of memory";
    size_t tl = strlen(topic);
    if (!mqtt_topic_name_valid(topic, tl)) return "the republish topic is not a valid topic name";
    if (s->rules->depth >= MAX_REPUBLISH_DEPTH)
        return "republish loop: the message went through too many rules";
    router_publish(s, topic, tl, body, blen, qos, false, NULL, false);
    struct rules_origin none = {NULL, NULL};
    s->rules->depth++;
    run_message(s, topic, tl, body, blen, &none);
    s->rules->depth--;
    return NULL;
}

/* What an action writes to: the topic, table, bucket or URL, for failures. */
static char *resource_of(const struct rule_action *a, const struct sql_message *m)
{
    switch (a->kind) {
    case ACTION_DYNAMODB:
    case ACTION_DYNAMODB_V2:
        return strdup(a->table + 4);
    case ACTION_POSTGRES:
        return strdup(a->table);
    case ACTION_S3:
        return strdup(a->bucket);
    default:
        return template_render(a->topic, m);
    }
}

/* One action with the rule's result; it reports into run, now or later. */
static void run_action(struct umbra_server *s, struct rule_run *run, const struct rule_action *a,
                       const struct sql_message *m, const uint8_t *body, size_t blen, bool is_raw)
{
    char *resource = resource_of(a, m);
    const char *why = resource ? NULL : "out of memory";
    struct rule_ticket *t = NULL;
    if (!why && (a->kind == ACTION_S3 || a->kind == ACTION_HTTP || a->kind == ACTION_POSTGRES) &&
        !(t = rule_ticket_new(run, a, resource)))
        why = "out of memory";
    if (why) {
        /* nothing to run */
    } else if (a->kind == ACTION_REPUBLISH) {
        why = republish(s, resource, a->qos, body, blen);
    } else if (a->kind == ACTION_DYNAMODB) {
        why = sink_table_put_row(s, a, m, body, blen, is_raw);
    } else if (a->kind == ACTION_DYNAMODB_V2) {
        why = sink_table_put_item(s, a, body, blen, is_raw);
    } else if (a->kind == ACTION_S3) {
        char *key = template_render(a->topic, m);
        sink_s3_put(s, t, a->bucket, key, body, blen);
        free(key);
    } else if (a->kind == ACTION_HTTP) {
        sink_http_post(s, t, a, m, resource, body, blen, is_raw);
    } else {
        sink_postgres_insert(s, t, a, m, body, blen, is_raw);
    }
    if (!t)
        rule_run_report(s, run, a->failed_action, resource ? resource : "", why,
                        why == sink_queue_full);
    free(resource);
}

static struct rule_run *run_new(struct rule_stats *stats, bool wants_failures, bool is_error_run)
{
    struct rule_run *run = calloc(1, sizeof *run);
    if (!run || (wants_failures && !(run->failures = json_array()))) {
        free(run);
        return NULL;
    }
    run->pending = 1;
    run->stats = stats;
    run->is_error_run = is_error_run;
    stats->refs++;
    return run;
}

/* The rule's turn is over: what finishes later must not see the message. */
static void run_end_turn(struct umbra_server *s, struct rule_run *run)
{
    if (run->pending > 1) run->msg = NULL;
    rule_run_release(s, run);
}

void rules_run_error_action(struct umbra_server *s, const struct rule_stats *stats,
                            const struct sql_message *m, const char *doc)
{
    /* The rule as it is now: it may have been replaced while an action ran. */
    const struct rule *r = NULL;
    for (size_t i = 0; s->rules && i < s->rules->n && !r; i++)
        if (s->rules->rules[i].stats == stats) r = &s->rules->rules[i];
    if (!r || !r->has_error_action) return;
    if (s->rules->depth == 0) stamp(s->rules); /* a late failure: now is another moment */
    struct rule_run *run = run_new(r->stats, false, true);
    if (!run) {
        log_error("rule %s: out of memory for the errorAction", stats->name);
        return;
    }
    run->msg = m;
    run_action(s, run, &r->error_action, m, (const uint8_t *)doc, strlen(doc), false);
    run_end_turn(s, run);
}

#define FROM_CACHE 64 /* rules whose FROM match is remembered per message */

/* What the rules of one message share: the SELECT * body, made once. */
struct message_bodies {
    char *star; /* the payload's JSON, re-encoded; NULL until a SELECT * rule matched */
    size_t star_len;
};

/* A triggered rule is metered for the publisher (the account, for
 * messages from HTTPS or a republish), in 5 KB increments of the message,
 * with its actions: at least one. */
static void meter_rule(struct umbra_server *s, const struct rule *r, const struct sql_message *m)
{
    const char *who = m->client_id ? m->client_id : "";
    uint64_t units = usage_messages((uint64_t)m->topic_len + m->payload_len);
    usage_meter_add(s->usage, who, strlen(who), USAGE_RULES_TRIGGERED, units);
    usage_meter_add(s->usage, who, strlen(who), USAGE_ACTIONS_APPLIED,
                    units * usage_actions(r->nactions));
}

static void run_rule(struct umbra_server *s, struct rule *r, const struct sql_message *m,
                     struct message_bodies *shared)
{
    json_t *result = NULL;
    char *text = NULL;
    /* SELECT * selects the payload itself: only WHERE needs evaluating, and
     * every such rule sends the same JSON, encoded once per message. */
    r->stats->evaluated++;
    int rc = r->is_star ? sql_where(r->query, m) : sql_evaluate(r->query, m, &result);
    if (rc <= 0) {
        if (rc < 0) log_error("rule %s: out of memory", r->stats->name);
        return;
    }
    r->stats->matched++;
    meter_rule(s, r, m);
    /* The body every action sends: the SELECT result as JSON, or for
     * SELECT * of a payload that is not JSON, the payload's own bytes. */
    bool is_raw = r->is_star && !sql_doc_is_json(m->doc);
    const char *json_body = NULL;
    size_t body_len = 0;
    if (r->is_star && !is_raw) {
        if (!shared->star) shared->star = sql_json_dump(sql_doc_tree(m->doc), &shared->star_len);
        json_body = shared->star;
        body_len = shared->star_len;
    } else if (!is_raw && result) {
        json_body = text = sql_json_dump(result, &body_len);
    }
    json_decref(result);
    const uint8_t *body = is_raw ? m->payload : (const uint8_t *)(json_body ? json_body : "");
    size_t blen = is_raw ? m->payload_len : json_body ? body_len : 0;
    struct rule_run *run = run_new(r->stats, r->has_error_action, false);
    if (!run) {
        log_error("rule %s: out of memory", r->stats->name);
        free(text);
        return;
    }
    run->msg = m;
    /* A republish runs other rules, but never reloads them: r stays valid. */
    for (size_t i = 0; i < r->nactions; i++)
        run_action(s, run, &r->actions[i], m, body, blen, is_raw);
    free(text);
    run_end_turn(s, run);
}

static void run_message(struct umbra_server *s, const char *topic, size_t len,
                        const uint8_t *payload, size_t plen, const struct rules_origin *o)
{
    bool is_ingest = rules_service_is_ingest(topic, len);
    char trace_id[37] = ""; /* made when traceid() or an error document needs it */
    struct sql_doc doc;
    sql_doc_init(&doc, payload, plen);
    /* timestamp(): once per published message; a republish inside it keeps it. */
    if (s->rules->depth == 0) stamp(s->rules);
    struct sql_message m = {.topic = topic,
                            .topic_len = len,
                            .payload = payload,
                            .payload_len = plen,
                            .client_id = o->client_id,
                            .principal = o->principal,
                            .account_id = registry_account(s->registry),
                            .timestamp_ms = s->rules->timestamp_ms,
                            .get_shadow = get_shadow,
                            .doc = &doc,
                            .trace_buf = trace_id,
                            .random = random_bytes,
                            .ctx = s};
    struct message_bodies shared = {NULL, 0};
    /* Rules often share a FROM: match each filter once per message. */
    int8_t from_hit[FROM_CACHE];
    /* By index: a republish may reload nothing, but keep no pointer across it. */
    for (size_t i = 0; s->rules && i < s->rules->n; i++) {
        struct rule *r = &s->rules->rules[i];
        bool hit = !is_ingest && r->same_from_as < i && r->same_from_as < FROM_CACHE
                       ? from_hit[r->same_from_as]
                       : wants(r, topic, len, is_ingest);
        if (i < FROM_CACHE) from_hit[i] = hit;
        if (!hit) continue;
        run_rule(s, r, &m, &shared);
    }
    free(shared.star);
    sql_doc_release(&doc);
}

void rules_service_message(struct umbra_server *s, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len,
                           const struct rules_origin *origin)
{
    /* A stopping broker starts no actions: its sinks are closing. */
    if (!s->rules || s->rules->n == 0 || s->is_stopping) return; /* usually one test */
    run_message(s, topic, topic_len, payload, payload_len, origin);
}

void rules_service_each_counter(struct umbra_server *s,
                                void (*fn)(void *ctx, const char *rule, const char *counter,
                                           uint64_t value),
                                void *ctx)
{
    for (size_t i = 0; s->rules && i < s->rules->n; i++) {
        const struct rule_stats *st = s->rules->rules[i].stats;
        fn(ctx, st->name, "matched", st->matched);
        fn(ctx, st->name, "succeeded", st->succeeded);
        fn(ctx, st->name, "failed", st->failed);
        fn(ctx, st->name, "dropped", st->dropped);
    }
}

void rules_service_each_rule(struct umbra_server *s,
                             void (*fn)(void *ctx, const char *rule,
                                        const struct rules_counts *counts),
                             void *ctx)
{
    for (size_t i = 0; s->rules && i < s->rules->n; i++) {
        const struct rule_stats *st = s->rules->rules[i].stats;
        struct rules_counts c = {st->evaluated, st->matched, st->succeeded, st->failed,
                                 st->dropped};
        fn(ctx, st->name, &c);
    }
}
