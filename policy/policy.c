/*
 * policy.c - compile AWS IoT policy documents and evaluate them.
 *
 * Compiling checks the grammar once (what create-policy refuses with
 * MalformedPolicyException) and keeps what evaluation needs: per statement
 * the effect, a bit set of the known actions it names, its resource
 * patterns and its conditions. Evaluation never parses JSON.
 *
 * Resource patterns keep their `${...}` variables; evaluation expands them
 * into a pattern where characters that came from a variable are escaped
 * (a client id holding '*' matches only a literal '*'), then matches with
 * IAM's `*`/`?` wildcards.
 */
#include "policy.h"

#include "error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const action_names[POLICY_NACTIONS] = {
    [POLICY_CONNECT] = "iot:Connect",
    [POLICY_PUBLISH] = "iot:Publish",
    [POLICY_SUBSCRIBE] = "iot:Subscribe",
    [POLICY_RECEIVE] = "iot:Receive",
    [POLICY_RETAIN_PUBLISH] = "iot:RetainPublish",
    [POLICY_GET_RETAINED_MESSAGE] = "iot:GetRetainedMessage",
    [POLICY_LIST_RETAINED_MESSAGES] = "iot:ListRetainedMessages",
    [POLICY_GET_THING_SHADOW] = "iot:GetThingShadow",
    [POLICY_UPDATE_THING_SHADOW] = "iot:UpdateThingShadow",
    [POLICY_DELETE_THING_SHADOW] = "iot:DeleteThingShadow",
    [POLICY_LIST_NAMED_SHADOWS] = "iot:ListNamedShadowsForThing",
    [POLICY_DELETE_CONNECTION] = "iot:DeleteConnection",
    [POLICY_DESCRIBE_JOB_EXECUTION] = "iot:DescribeJobExecution",
    [POLICY_GET_PENDING_JOB_EXECUTIONS] = "iot:GetPendingJobExecutions",
    [POLICY_UPDATE_JOB_EXECUTION] = "iot:UpdateJobExecution",
    [POLICY_START_NEXT_PENDING_JOB_EXECUTION] = "iot:StartNextPendingJobExecution",
    [POLICY_ASSUME_ROLE_WITH_CERTIFICATE] = "iot:AssumeRoleWithCertificate",
};

const char *policy_action_name(enum policy_action a)
{
    return (unsigned)a < POLICY_NACTIONS ? action_names[a] : NULL;
}

int policy_action_parse(const char *name)
{
    for (int i = 0; i < POLICY_NACTIONS; i++)
        if (strcasecmp(action_names[i], name) == 0) return i;
    return -1;
}

/* ---- conditions ---- */

enum cond_op {
    OP_STRING_EQUALS,
    OP_STRING_NOT_EQUALS,
    OP_STRING_EQUALS_IGNORE_CASE,
    OP_STRING_NOT_EQUALS_IGNORE_CASE,
    OP_STRING_LIKE,
    OP_STRING_NOT_LIKE,
    OP_ARN_EQUALS,
    OP_ARN_NOT_EQUALS,
    OP_ARN_LIKE,
    OP_ARN_NOT_LIKE,
    OP_BOOL,
    OP_IP_ADDRESS,
    OP_NOT_IP_ADDRESS,
    OP_NUMERIC_EQUALS,
    OP_NUMERIC_NOT_EQUALS,
    OP_NUMERIC_LESS_THAN,
    OP_NUMERIC_LESS_THAN_EQUALS,
    OP_NUMERIC_GREATER_THAN,
    OP_NUMERIC_GREATER_THAN_EQUALS,
    OP_NULL,
};

static const struct {
    const char *name;
    enum cond_op op;
    bool is_negated; /* true when the key is absent */
} cond_ops[] = {
    {"StringEquals", OP_STRING_EQUALS, false},
    {"StringNotEquals", OP_STRING_NOT_EQUALS, true},
    {"StringEqualsIgnoreCase", OP_STRING_EQUALS_IGNORE_CASE, false},
    {"StringNotEqualsIgnoreCase", OP_STRING_NOT_EQUALS_IGNORE_CASE, true},
    {"StringLike", OP_STRING_LIKE, false},
    {"StringNotLike", OP_STRING_NOT_LIKE, true},
    {"ArnEquals", OP_ARN_EQUALS, false},
    {"ArnNotEquals", OP_ARN_NOT_EQUALS, true},
    {"ArnLike", OP_ARN_LIKE, false},
    {"ArnNotLike", OP_ARN_NOT_LIKE, true},
    {"Bool", OP_BOOL, false},
    {"IpAddress", OP_IP_ADDRESS, false},
    {"NotIpAddress", OP_NOT_IP_ADDRESS, true},
    {"NumericEquals", OP_NUMERIC_EQUALS, false},
    {"NumericNotEquals", OP_NUMERIC_NOT_EQUALS, true},
    {"NumericLessThan", OP_NUMERIC_LESS_THAN, false},
    {"NumericLessThanEquals", OP_NUMERIC_LESS_THAN_EQUALS, false},
    {"NumericGreaterThan", OP_NUMERIC_GREATER_THAN, false},
    {"NumericGreaterThanEquals", OP_NUMERIC_GREATER_THAN_EQUALS, false},
    {"Null", OP_NULL, false},
};
#define NCOND_OPS (sizeof cond_ops / sizeof cond_ops[0])

enum quantifier { Q_NONE, Q_FOR_ALL_VALUES, Q_FOR_ANY_VALUE };

struct condition {
    enum cond_op op;
    enum quantifier quant;
    bool is_negated;
    bool if_exists;
    char *key;
    char **values;
    size_t nvalues;
};

struct statement {
    bool is_deny;
    bool not_action;
    bool not_resource;
    uint32_t actions; /* bit per enum policy_action */
    char **resources;
    size_t nresources;
    struct condition *conds;
    size_t nconds;
};

struct policy {
    bool has_variables; /* Version 2012-10-17: ${...} is expanded */
    struct statement *statements;
    size_t nstatements;
};

/* ---- matching ---- */

/*
 * Wildcard match. With escapes, "\c" in the pattern is a literal c (how
 * expanded variables and `${*}` keep their characters literal). Greedy
 * with backtracking to the last '*': linear for one star, O(n*m) at worst,
 * and patterns are at most a few KB.
 */
static bool glob(const char *p, size_t pl, const char *s, size_t sl, bool escapes, bool fold)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < sl) {
        if (pi < pl) {
            char c = p[pi];
            size_t step = 1;
            bool literal = false;
            if (escapes && c == '\\' && pi + 1 < pl) {
                c = p[pi + 1];
                step = 2;
                literal = true;
            }
            if (!literal && c == '*') {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            bool same =
                fold ? tolower((unsigned char)c) == tolower((unsigned char)s[si]) : c == s[si];
            if (!literal && c == '?') { /* one character: a whole UTF-8 sequence */
                pi += step;
                si++;
                while (si < sl && ((unsigned char)s[si] & 0xC0) == 0x80)
                    si++;
                continue;
            }
            if (same) {
                pi += step;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX) return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pl && p[pi] == '*')
        pi++;
    return pi == pl;
}

bool policy_glob(const char *pattern, size_t plen, const char *s, size_t slen)
{
    return glob(pattern, plen, s, slen, false, false);
}

/* ---- variables ---- */

/* An expansion: starts in a caller's stack buffer, moves to the heap when a
 * long value needs it. overflow means memory ran out. */
struct out {
    char *p;
    size_t len, cap;
    bool overflow;
    bool on_heap;
};

static void out_free(struct out *o)
{
    if (o->on_heap) free(o->p);
}

static bool grow(struct out *o)
{
    size_t cap = o->cap * 2;
    char *p = o->on_heap ? realloc(o->p, cap) : malloc(cap);
    if (!p) {
        o->overflow = true;
        return false;
    }
    if (!o->on_heap) memcpy(p, o->p, o->len);
    o->p = p;
    o->cap = cap;
    o->on_heap = true;
    return true;
}

static void put(struct out *o, const char *s, size_t n, bool escape)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool esc = escape ? (c == '*' || c == '?' || c == '\\') : c == '\\';
        if (o->len + 3 > o->cap && !grow(o)) return;
        if (esc) o->p[o->len++] = '\\';
        o->p[o->len++] = c;
    }
}

/*
 * A certificate field goes in escaped as AWS does, and is unusable when it
 * holds characters that would act as wildcards or is too long.
 */
static bool certificate_value(const char *v, char *buf, size_t cap)
{
    size_t n = 0;
    if (strlen(v) > 1024 || strpbrk(v, "*$+?#")) return false;
    for (; *v; v++) {
        if (n + 3 > cap) return false;
        if (strchr(",\"\\+=<>;", *v)) buf[n++] = '\\';
        buf[n++] = *v;
    }
    buf[n] = '\0';
    return true;
}

/* AWS does not substitute values longer than this. */
#define MAX_VALUE 1024

/* The first value of a variable, or NULL when it has none. */
static const char *lookup(const struct policy_vars *vars, const char *name, char *certbuf,
                          size_t certcap)
{
    const char *v[1];
    if (!vars || !vars->get || vars->get(vars->ctx, name, v, 1) == 0 || !v[0]) return NULL;
    if (strlen(v[0]) > MAX_VALUE) return NULL;
    if (strncmp(name, "iot:Certificate.", 16) == 0)
        return certificate_value(v[0], certbuf, certcap) ? certbuf : NULL;
    return v[0];
}

/*
 * Expand ${...} in text into o as an escaped pattern: the document's own
 * `*` and `?` stay wildcards, what variables put in is literal. Condition
 * operators that compare strings unescape the result.
 */
static void expand(const struct policy *pol, const char *text, const struct policy_vars *vars,
                   struct out *o)
{
    const char *t = text;
    while (*t) {
        const char *open = pol->has_variables ? strstr(t, "${") : NULL;
        const char *close = open ? strchr(open + 2, '}') : NULL;
        if (!close) {
            put(o, t, strlen(t), false);
            break;
        }
        put(o, t, (size_t)(open - t), false);
        char name[256];
        size_t nl = (size_t)(close - open - 2);
        if (nl >= sizeof name) { /* no variable has so long a name: literal text */
            put(o, open, (size_t)(close + 1 - open), true);
            t = close + 1;
            continue;
        }
        memcpy(name, open + 2, nl);
        name[nl] = '\0';
        char certbuf[2100];
        const char *value;
        if (nl == 1 && strchr("*?$", name[0])) /* ${*} ${?} ${$}: the character itself */
            put(o, name, 1, true);
        else if ((value = lookup(vars, name, certbuf, sizeof certbuf)))
            put(o, value, strlen(value), true);
        else /* unresolvable: the text stays, literally (AWS: it then rarely matches) */
            put(o, open, (size_t)(close + 1 - open), true);
        t = close + 1;
    }
    o->p[o->len] = '\0';
}

/* Turn an escaped pattern back into the plain string it stands for. */
static size_t unescape(char *s, size_t len)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        if (s[r] == '\\' && r + 1 < len) r++;
        s[w++] = s[r];
    }
    s[w] = '\0';
    return w;
}

/* ---- evaluation ---- */

/* 1 a pattern matches, 0 none does, -1 out of memory expanding one. */
static int resource_matches(const struct policy *pol, const struct statement *st,
                            const char *resource, const struct policy_vars *vars)
{
    size_t rl = strlen(resource);
    for (size_t i = 0; i < st->nresources; i++) {
        char buf[4096];
        struct out o = {buf, 0, sizeof buf, false, false};
        expand(pol, st->resources[i], vars, &o);
        bool m = !o.overflow && glob(o.p, o.len, resource, rl, true, false);
        bool failed = o.overflow;
        out_free(&o);
        if (failed) return -1;
        if (m) return 1;
    }
    return 0;
}

static bool ip_in_cidr(const char *ip, const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    size_t nl = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (nl >= sizeof net) return false;
    memcpy(net, cidr, nl);
    net[nl] = '\0';
    uint8_t a[16], b[16];
    int bytes;
    if (inet_pton(AF_INET, ip, a) == 1 && inet_pton(AF_INET, net, b) == 1)
        bytes = 4;
    else if (inet_pton(AF_INET6, ip, a) == 1 && inet_pton(AF_INET6, net, b) == 1)
        bytes = 16;
    else
        return false;
    long bits = bytes * 8;
    if (slash) {
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end) return false;
    }
    if (bits < 0 || bits > bytes * 8) return false;
    for (int i = 0; i < bytes && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}

/* Does the text parse as an address or CIDR block (of either family)? */
static bool valid_cidr(const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    size_t nl = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (nl >= sizeof net) return false;
    memcpy(net, cidr, nl);
    net[nl] = '\0';
    uint8_t a[16];
    int bytes = inet_pton(AF_INET, net, a) == 1 ? 4 : inet_pton(AF_INET6, net, a) == 1 ? 16 : 0;
    if (!bytes) return false;
    if (!slash) return true;
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    return end != slash + 1 && !*end && bits >= 0 && bits <= bytes * 8;
}

static bool numeric(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0';
}

/* One request value against one condition value (already expanded). */
static bool value_matches(enum cond_op op, const char *have, const char *want, size_t wl,
                          bool want_is_pattern)
{
    double x, y;
    switch (op) {
    case OP_STRING_EQUALS:
    case OP_STRING_NOT_EQUALS:
    case OP_ARN_EQUALS:
    case OP_ARN_NOT_EQUALS:
        return strcmp(have, want) == 0;
    case OP_STRING_EQUALS_IGNORE_CASE:
    case OP_STRING_NOT_EQUALS_IGNORE_CASE:
        return strcasecmp(have, want) == 0;
    case OP_STRING_LIKE:
    case OP_STRING_NOT_LIKE:
    case OP_ARN_LIKE:
    case OP_ARN_NOT_LIKE:
        return glob(want, wl, have, strlen(have), want_is_pattern, false);
    case OP_BOOL:
        return strcasecmp(have, want) == 0;
    case OP_IP_ADDRESS:
    case OP_NOT_IP_ADDRESS:
        return ip_in_cidr(have, want);
    case OP_NULL:
        return false; /* handled before */
    default:
        if (!numeric(have, &x) || !numeric(want, &y)) return false;
        switch (op) {
        case OP_NUMERIC_EQUALS:
        case OP_NUMERIC_NOT_EQUALS:
            return x == y;
        case OP_NUMERIC_LESS_THAN:
            return x < y;
        case OP_NUMERIC_LESS_THAN_EQUALS:
            return x <= y;
        case OP_NUMERIC_GREATER_THAN:
            return x > y;
        default:
            return x >= y;
        }
    }
}

static bool is_like(enum cond_op op)
{
    return op == OP_STRING_LIKE || op == OP_STRING_NOT_LIKE || op == OP_ARN_LIKE ||
           op == OP_ARN_NOT_LIKE;
}

/* Does one request value match any of the condition's values? */
static bool any_value_matches(const struct policy *pol, const struct condition *c, const char *have,
                              const struct policy_vars *vars)
{
    for (size_t i = 0; i < c->nvalues; i++) {
        char buf[4096];
        struct out o = {buf, 0, sizeof buf, false, false};
        expand(pol, c->values[i], vars, &o);
        size_t wl = o.len;
        if (!o.overflow && !is_like(c->op)) wl = unescape(o.p, o.len);
        bool m = !o.overflow && value_matches(c->op, have, o.p, wl, true);
        out_free(&o);
        if (m) return true;
    }
    return false;
}

#define MAX_KEY_VALUES 16

static bool condition_holds(const struct policy *pol, const struct condition *c,
                            const struct policy_vars *vars)
{
    const char *have[MAX_KEY_VALUES];
    size_t n = vars && vars->get ? vars->get(vars->ctx, c->key, have, MAX_KEY_VALUES) : 0;
    if (n > MAX_KEY_VALUES) n = MAX_KEY_VALUES;
    if (c->op == OP_NULL) {
        /* "Null": "true" holds when the key is absent. */
        bool want_absent = c->nvalues && strcasecmp(c->values[0], "true") == 0;
        return want_absent == (n == 0);
    }
    if (n == 0) {
        if (c->quant == Q_FOR_ALL_VALUES) return true;
        if (c->quant == Q_FOR_ANY_VALUE) return false;
        return c->if_exists || c->is_negated;
    }
    if (c->quant == Q_FOR_ALL_VALUES) {
        for (size_t i = 0; i < n; i++) {
            bool m = any_value_matches(pol, c, have[i], vars);
            if (c->is_negated ? m : !m) return false;
        }
        return true;
    }
    if (c->quant == Q_FOR_ANY_VALUE) {
        for (size_t i = 0; i < n; i++) {
            bool m = any_value_matches(pol, c, have[i], vars);
            if (c->is_negated ? !m : m) return true;
        }
        return false;
    }
    bool m = any_value_matches(pol, c, have[0], vars);
    return c->is_negated ? !m : m;
}

static bool statement_applies(const struct policy *pol, const struct statement *st,
                              enum policy_action action, const char *resource,
                              const struct policy_vars *vars)
{
    bool named = (st->actions >> action) & 1u;
    if (named == st->not_action) return false;
    int m = resource_matches(pol, st, resource, vars);
    if (m < 0) return st->is_deny; /* out of memory: fail closed */
    if ((m == 1) == st->not_resource) return false;
    for (size_t i = 0; i < st->nconds; i++)
        if (!condition_holds(pol, &st->conds[i], vars)) return false;
    return true;
}

enum policy_decision policy_evaluate_one(const struct policy *p, enum policy_action action,
                                         const char *resource, const struct policy_vars *vars)
{
    if ((unsigned)action >= POLICY_NACTIONS || !resource) return POLICY_IMPLICIT_DENY;
    bool allowed = false;
    for (size_t i = 0; i < p->nstatements; i++) {
        const struct statement *st = &p->statements[i];
        if (allowed && !st->is_deny) continue;
        if (!statement_applies(p, st, action, resource, vars)) continue;
        if (st->is_deny) return POLICY_EXPLICIT_DENY;
        allowed = true;
    }
    return allowed ? POLICY_ALLOWED : POLICY_IMPLICIT_DENY;
}

enum policy_decision policy_evaluate(const struct policy *const *policies, size_t n,
                                     enum policy_action action, const char *resource,
                                     const struct policy_vars *vars, int *decider)
{
    int first_allow = -1;
    for (size_t i = 0; i < n; i++) {
        enum policy_decision d = policy_evaluate_one(policies[i], action, resource, vars);
        if (d == POLICY_EXPLICIT_DENY) {
            if (decider) *decider = (int)i;
            return d;
        }
        if (d == POLICY_ALLOWED && first_allow < 0) first_allow = (int)i;
    }
    if (decider) *decider = first_allow;
    return first_allow >= 0 ? POLICY_ALLOWED : POLICY_IMPLICIT_DENY;
}

/* ---- compiling ---- */

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void policy_free(struct policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nstatements; i++) {
        struct statement *st = &p->statements[i];
        free_strings(st->resources, st->nresources);
        for (size_t j = 0; j < st->nconds; j++) {
            free(st->conds[j].key);
            free_strings(st->conds[j].values, st->conds[j].nvalues);
        }
        free(st->conds);
    }
    free(p->statements);
    free(p);
}

static int malformed(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen) snprintf(err, errlen, fmt, arg ? arg : "");
    return UMBRA_EINVAL;
}

/* A string or a list of strings; with scalars_ok (condition values) bools
 * and numbers too, as their text, as IAM takes them. */
static int string_list(const json_t *v, const char *field, bool scalars_ok, char ***out, size_t *n,
                       char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && count == 0)
        return malformed(err, errlen, "Policy statement %s must not be an empty list", field);
    char **list = calloc(count, sizeof *list);
    if (!list) return UMBRA_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        char num[64];
        const char *s = NULL;
        if (json_is_string(e))
            s = json_string_value(e);
        else if (!scalars_ok)
            s = NULL;
        else if (json_is_true(e) || json_is_false(e))
            s = json_is_true(e) ? "true" : "false";
        else if (json_is_integer(e))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(e)), s = num;
        else if (json_is_real(e))
            snprintf(num, sizeof num, "%.15g", json_real_value(e)), s = num;
        if (!s) {
            free_strings(list, i);
            return malformed(err, errlen,
                             "Policy statement %s must be a string or a list of strings", field);
        }
        if (!(list[i] = strdup(s))) {
            free_strings(list, i);
            return UMBRA_ENOMEM;
        }
    }
    *out = list;
    *n = count;
    return 0;
}

static int compile_actions(const json_t *v, struct statement *st, char *err, size_t errlen)
{
    char **names;
    size_t n;
    int rc =
        string_list(v, st->not_action ? "NotAction" : "Action", false, &names, &n, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *a = names[i];
        if (strcmp(a, "*") != 0 && (!strchr(a, ':') || a[0] == ':'))
            rc =
                malformed(err, errlen, "Invalid action: '%s' is not of the form service:action", a);
        for (int k = 0; !rc && k < POLICY_NACTIONS; k++)
            if (glob(a, strlen(a), action_names[k], strlen(action_names[k]), false, true))
                st->actions |= 1u << k;
    }
    free_strings(names, n);
    return rc;
}

static bool is_resource(const char *r)
{
    if (strcmp(r, "*") == 0) return true;
    /* arn:PARTITION:iot:REGION:ACCOUNT:RESOURCE, each part possibly a wildcard. */
    if (strncmp(r, "arn:", 4) != 0) return false;
    const char *p = r + 4;
    for (int field = 0; field < 4; field++) {
        const char *colon = strchr(p, ':');
        if (!colon) return false;
        if (field == 1 && !(colon - p == 3 && strncmp(p, "iot", 3) == 0) &&
            !(colon - p == 1 && *p == '*'))
            return false;
        p = colon + 1;
    }
    return *p != '\0';
}

static int compile_condition_block(const json_t *block, struct statement *st, char *err,
                                   size_t errlen)
{
    if (!json_is_object(block))
        return malformed(err, errlen, "Policy statement Condition must be an object%s", "");
    const char *opname;
    json_t *keys;
    json_object_foreach((json_t *)block, opname, keys)
    {
        enum quantifier q = Q_NONE;
        const char *base = opname;
        if (strncmp(base, "ForAllValues:", 13) == 0) {
            q = Q_FOR_ALL_VALUES;
            base += 13;
        } else if (strncmp(base, "ForAnyValue:", 12) == 0) {
            q = Q_FOR_ANY_VALUE;
            base += 12;
        }
        char name[64];
        snprintf(name, sizeof name, "%s", base);
        size_t nl = strlen(name);
        bool if_exists = nl > 8 && strcmp(name + nl - 8, "IfExists") == 0;
        if (if_exists) name[nl - 8] = '\0';
        size_t k = 0;
        while (k < NCOND_OPS && strcmp(cond_ops[k].name, name) != 0)
            k++;
        if (k == NCOND_OPS || strlen(base) >= sizeof name)
            return malformed(err, errlen, "Unknown condition operator: %s", opname);
        if (!json_is_object(keys) || json_object_size(keys) == 0)
            return malformed(err, errlen, "Condition operator %s needs an object of keys", opname);
        const char *key;
        json_t *vals;
        json_object_foreach(keys, key, vals)
        {
            struct condition *grown = realloc(st->conds, (st->nconds + 1) * sizeof *grown);
            if (!grown) return UMBRA_ENOMEM;
            st->conds = grown;
            struct condition *c = &st->conds[st->nconds];
            memset(c, 0, sizeof *c);
            c->op = cond_ops[k].op;
            c->is_negated = cond_ops[k].is_negated;
            c->quant = q;
            c->if_exists = if_exists;
            if (!(c->key = strdup(key))) return UMBRA_ENOMEM;
            st->nconds++;
            int rc =
                string_list(vals, "Condition value", true, &c->values, &c->nvalues, err, errlen);
            if (rc) return rc;
            /* An address block that does not parse would match nothing (or, read
             * loosely, everything): refuse it when the policy is created. */
            for (size_t v = 0;
                 (c->op == OP_IP_ADDRESS || c->op == OP_NOT_IP_ADDRESS) && v < c->nvalues; v++)
                if (!strstr(c->values[v], "${") && !valid_cidr(c->values[v]))
                    return malformed(err, errlen, "Invalid IP address or CIDR block: %s",
                                     c->values[v]);
        }
    }
    return 0;
}

static int compile_statement(const json_t *s, struct statement *st, char *err, size_t errlen)
{
    if (!json_is_object(s))
        return malformed(err, errlen, "Policy Statement must be an object or a list of objects%s",
                         "");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v)
    {
        static const char *const known[] = {"Sid",      "Effect",      "Action",    "NotAction",
                                            "Resource", "NotResource", "Condition", NULL};
        int i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (strcmp(key, "Principal") == 0 || strcmp(key, "NotPrincipal") == 0)
            return malformed(err, errlen, "Policy document should not specify a principal%s", "");
        if (!known[i]) return malformed(err, errlen, "Unknown field in policy statement: %s", key);
    }
    const json_t *effect = json_object_get(s, "Effect");
    if (!json_is_string(effect))
        return malformed(err, errlen, "Policy statement is missing its Effect%s", "");
    const char *e = json_string_value(effect);
    if (strcmp(e, "Allow") != 0 && strcmp(e, "Deny") != 0)
        return malformed(err, errlen, "Invalid effect: %s (expected Allow or Deny)", e);
    st->is_deny = strcmp(e, "Deny") == 0;

    const json_t *action = json_object_get(s, "Action");
    const json_t *not_action = json_object_get(s, "NotAction");
    if (!action == !not_action)
        return malformed(err, errlen, "Policy statement needs exactly one of Action or NotAction%s",
                         "");
    st->not_action = !action;
    int rc = compile_actions(action ? action : not_action, st, err, errlen);
    if (rc) return rc;

    const json_t *res = json_object_get(s, "Resource");
    const json_t *not_res = json_object_get(s, "NotResource");
    if (!res == !not_res)
        return malformed(err, errlen,
                         "Policy statement needs exactly one of Resource or NotResource%s", "");
    st->not_resource = !res;
    rc = string_list(res ? res : not_res, res ? "Resource" : "NotResource", false, &st->resources,
                     &st->nresources, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < st->nresources; i++)
        if (!is_resource(st->resources[i]))
            return malformed(
                err, errlen,
                "Invalid resource: %s (expected \"*\" or arn:aws:iot:REGION:ACCOUNT:...)",
                st->resources[i]);
    const json_t *cond = json_object_get(s, "Condition");
    return cond ? compile_condition_block(cond, st, err, errlen) : 0;
}

/* Characters, not bytes (UTF-8 continuation bytes do not count), without whitespace. */
static size_t visible_chars(const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!isspace(c) && (c & 0xC0) != 0x80) n++;
    }
    return n;
}

int policy_compile(const char *text, size_t len, struct policy **out, char *err, size_t errlen)
{
    *out = NULL;
    if (visible_chars(text, len) > POLICY_MAX_CHARS) {
        if (err)
            snprintf(err, errlen,
                     "Policy document is longer than %d characters (whitespace not counted)",
                     POLICY_MAX_CHARS);
        return UMBRA_EINVAL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (err)
            snprintf(err, errlen, "Policy document is not valid JSON: %s at line %d, column %d",
                     jerr.text, jerr.line, jerr.column);
        return UMBRA_EINVAL;
    }
    struct policy *p = calloc(1, sizeof *p);
    int rc = p ? 0 : UMBRA_ENOMEM;
    const json_t *stmts = NULL;
    if (!rc && !json_is_object(doc))
        rc = malformed(err, errlen, "Policy document must be a JSON object%s", "");
    if (!rc) {
        const char *key;
        json_t *v;
        json_object_foreach(doc, key, v) if (strcmp(key, "Version") && strcmp(key, "Id") &&
                                             strcmp(key, "Statement") && !rc) rc =
            malformed(err, errlen, "Unknown field in policy document: %s", key);
    }
    if (!rc) {
        const json_t *ver = json_object_get(doc, "Version");
        const char *vs = json_string_value(ver);
        if (ver && (!vs || (strcmp(vs, "2012-10-17") && strcmp(vs, "2008-10-17"))))
            rc = malformed(err, errlen, "Invalid policy Version: %s (expected 2012-10-17)",
                           vs ? vs : "(not a string)");
        /* Variables exist from the 2012-10-17 grammar on, as in IAM. */
        p->has_variables = vs && strcmp(vs, "2012-10-17") == 0;
    }
    if (!rc) {
        stmts = json_object_get(doc, "Statement");
        if (!stmts || (json_is_array(stmts) && json_array_size(stmts) == 0))
            rc = malformed(err, errlen, "Policy document has no Statement%s", "");
    }
    if (!rc) {
        size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
        p->statements = calloc(n, sizeof *p->statements);
        if (!p->statements) rc = UMBRA_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++) {
            p->nstatements = i + 1;
            rc = compile_statement(json_is_array(stmts) ? json_array_get(stmts, i) : stmts,
                                   &p->statements[i], err, errlen);
        }
    }
    json_decref(doc);
    if (rc) {
        if (rc == UMBRA_ENOMEM && err) snprintf(err, errlen, "out of memory");
        policy_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int policy_validate(const char *text, size_t len, char *err, size_t errlen)
{
    struct policy *p;
    int rc = policy_compile(text, len, &p, err, errlen);
    policy_free(p);
    return rc;
}
