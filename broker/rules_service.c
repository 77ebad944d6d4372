/*
 * rules_service.c - topic rules on the message path: compiled SQL and
 * actions in memory, matched against every published message.
 *
 * The actions run so far: republish (to the router, with a loop guard),
 * dynamoDB (rows of a table in the data directory's database, written with
 * the broker's own persistence batch) and s3 (files, sink_s3.c): no sink
 * blocks the loop.
 * Rules with other actions load, and those actions count as dropped until
 * their sinks exist; the log says so once per load.
 */
#include "rules_service.h"

#include "error.h"
#include "log.h"
#include "mqtt_topic.h"
#include "persist.h"
#include "registry.h"
#include "router.h"
#include "server.h"
#include "sink_s3.h"
#include "sql.h"
#include "sql_eval.h"
#include "template.h"

#include <jansson.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPUBLISH_DEPTH 8 /* a rule republishing into its own FROM stops here */

enum action_kind { ACTION_REPUBLISH, ACTION_DYNAMODB, ACTION_S3, ACTION_NOT_RUN };

struct rule_action {
    enum action_kind kind;
    char *type;             /* "republish", "http", ... */
    struct template *topic; /* republish; s3: the key */
    char *bucket;           /* s3 */
    uint8_t qos;
    /* dynamoDB: a table of the data directory's database, "ddb_" + tableName */
    char *table;
    char *hash_field, *range_field, *payload_field;
    struct template *hash_value, *range_value, *operation;
    bool is_hash_number, is_range_number;
};

struct rule {
    char *name;
    struct sql_query *query;
    bool is_star; /* SELECT * (no alias): the body is the whole payload */
    struct rule_action *actions;
    size_t nactions;
    struct rule_action error_action; /* type NULL when there is none */
    uint64_t matched, succeeded, failed, dropped;
    uint64_t last_warning_ms; /* failures are logged at most once a second per rule */
    uint64_t warnings_not_logged;
};

struct umbra_rules {
    struct rule *rules;
    size_t n;
    int depth; /* republish nesting */
};

/* ---- loading ---- */

static void action_free(struct rule_action *a)
{
    free(a->type);
    template_free(a->topic);
    free(a->table);
    free(a->bucket);
    free(a->hash_field);
    free(a->range_field);
    free(a->payload_field);
    template_free(a->hash_value);
    template_free(a->range_value);
    template_free(a->operation);
}

static char *field_copy(const json_t *fields, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(fields, key));
    return v || fallback ? strdup(v ? v : fallback) : NULL;
}

static int field_template(const char *rule, const json_t *fields, const char *key,
                          struct template **out)
{
    const char *v = json_string_value(json_object_get(fields, key));
    if (!v) return 0;
    struct sql_error err;
    int rc = template_compile(v, out, &err);
    if (rc) log_error("rule %s: %s: %s", rule, key, err.message);
    return rc;
}

/* dynamoDB: {tableName, hashKeyField, hashKeyValue, hashKeyType, rangeKey..., payloadField,
 * operation}, as AWS takes it. */
static int compile_dynamodb(const char *rule, const json_t *fields, struct rule_action *a)
{
    a->kind = ACTION_DYNAMODB;
    const char *table = json_string_value(json_object_get(fields, "tableName"));
    size_t n = table ? strlen(table) + 5 : 0;
    if (!table || !(a->table = malloc(n))) return UMBRA_EINVAL;
    snprintf(a->table, n, "ddb_%s", table);
    a->hash_field = field_copy(fields, "hashKeyField", NULL);
    a->range_field = field_copy(fields, "rangeKeyField", NULL);
    a->payload_field = field_copy(fields, "payloadField", "payload");
    const char *ht = json_string_value(json_object_get(fields, "hashKeyType"));
    const char *rt = json_string_value(json_object_get(fields, "rangeKeyType"));
    a->is_hash_number = ht && strcmp(ht, "NUMBER") == 0;
    a->is_range_number = rt && strcmp(rt, "NUMBER") == 0;
    int rc = field_template(rule, fields, "hashKeyValue", &a->hash_value);
    if (!rc) rc = field_template(rule, fields, "rangeKeyValue", &a->range_value);
    if (!rc) rc = field_template(rule, fields, "operation", &a->operation);
    if (!rc && (!a->hash_field || !a->hash_value || !a->payload_field)) rc = UMBRA_EINVAL;
    if (!rc && a->range_field && !a->range_value) rc = UMBRA_EINVAL;
    return rc;
}

static void rule_free(struct rule *r)
{
    free(r->name);
    sql_query_free(r->query);
    for (size_t i = 0; i < r->nactions; i++)
        action_free(&r->actions[i]);
    free(r->actions);
    action_free(&r->error_action);
}

static void rules_free(struct umbra_rules *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    free(rs);
}

/* {"republish": {...}} into a runnable action; 0 or an error (logged). */
static int compile_action(const char *rule, const json_t *spec, struct rule_action *a)
{
    memset(a, 0, sizeof *a);
    const char *type = json_object_iter_key(json_object_iter((json_t *)spec));
    json_t *fields = type ? json_object_get(spec, type) : NULL;
    if (!type || !(a->type = strdup(type))) return UMBRA_ENOMEM;
    if (strcmp(type, "dynamoDB") == 0) return compile_dynamodb(rule, fields, a);
    if (strcmp(type, "s3") == 0) {
        a->kind = ACTION_S3;
        a->bucket = field_copy(fields, "bucketName", NULL);
        int rc = field_template(rule, fields, "key", &a->topic);
        return rc ? rc : a->bucket && a->topic ? 0 : UMBRA_EINVAL;
    }
    if (strcmp(type, "republish") != 0) {
        a->kind = ACTION_NOT_RUN;
        log_warn("rule %s: %s actions are not run by this broker yet; their messages are dropped",
                 rule, type);
        return 0;
    }
    a->kind = ACTION_REPUBLISH;
    a->qos = (uint8_t)json_integer_value(json_object_get(fields, "qos"));
    struct sql_error err;
    const char *topic = json_string_value(json_object_get(fields, "topic"));
    int rc = topic ? template_compile(topic, &a->topic, &err) : UMBRA_EINVAL;
    if (rc) log_error("rule %s: republish topic: %s", rule, topic ? err.message : "missing");
    return rc;
}

struct load_ctx {
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
    if (!rc && !(r.name = strdup(name))) rc = UMBRA_ENOMEM;
    if (!rc && (rc = sql_parse(sql, strlen(sql), &r.query, &err)))
        log_error("rule %s: %s", name, err.message);
    if (!rc)
        r.is_star = !r.query->is_value && r.query->nitems == 1 &&
                    r.query->items[0].expr->kind == SQL_STAR && !r.query->items[0].alias;
    json_t *actions = json_object_get(p, "actions");
    size_t n = json_array_size(actions);
    if (!rc && n && !(r.actions = calloc(n, sizeof *r.actions))) rc = UMBRA_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = compile_action(name, json_array_get(actions, i), &r.actions[i]);
        r.nactions = i + 1;
    }
    json_t *ea = json_object_get(p, "errorAction");
    if (!rc && json_is_object(ea)) rc = compile_action(name, ea, &r.error_action);
    json_decref(p);
    struct rule *grown = rc ? NULL : realloc(l->rs->rules, (l->rs->n + 1) * sizeof *grown);
    if (!grown) {
        /* A rule that cannot be compiled (stored by an older version) is skipped. */
        log_error("rule %s not loaded", name);
        rule_free(&r);
        if (rc == UMBRA_ENOMEM || !rc) l->rc = UMBRA_ENOMEM;
        return;
    }
    l->rs->rules = grown;
    l->rs->rules[l->rs->n++] = r;
}

int rules_service_load(struct umbra_server *s)
{
    if (!s->registry) return 0;
    struct umbra_rules *rs = calloc(1, sizeof *rs);
    if (!rs) return UMBRA_ENOMEM;
    struct load_ctx l = {rs, 0};
    if (registry_each_enabled_topic_rule(s->registry, on_rule, &l) || l.rc) {
        rules_free(rs);
        log_error("cannot load the topic rules; keeping the ones loaded before");
        return UMBRA_EIO;
    }
    /* Counters carry over for rules that are still there. */
    for (size_t i = 0; s->rules && i < rs->n; i++)
        for (size_t j = 0; j < s->rules->n; j++)
            if (strcmp(rs->rules[i].name, s->rules->rules[j].name) == 0) {
                struct rule *o = &s->rules->rules[j], *r = &rs->rules[i];
                r->matched = o->matched, r->succeeded = o->succeeded;
                r->failed = o->failed, r->dropped = o->dropped;
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
        size_t nl = strlen(r->name);
        return len > 11 + nl && memcmp(topic + 11, r->name, nl) == 0 &&
               (topic[11 + nl] == '/' || 11 + nl == len);
    }
    if (!r->query->from) return false; /* a rule without FROM takes Basic Ingest only */
    return sql_from_matches(r->query->from, strlen(r->query->from), topic, len);
}

static void random_bytes(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rand();
}

/* The AWS error document for errorAction. Caller frees. */
static char *error_document(const struct rule *r, const struct sql_message *m,
                            const char *failures_json)
{
    size_t b64_len = 0;
    mbedtls_base64_encode(NULL, 0, &b64_len, m->payload, m->payload_len);
    unsigned char *b64 = malloc(b64_len + 1);
    if (!b64 || mbedtls_base64_encode(b64, b64_len + 1, &b64_len, m->payload, m->payload_len)) {
        free(b64);
        return NULL;
    }
    b64[b64_len] = '\0';
    json_t *failures = json_loads(failures_json, 0, NULL);
    json_t *doc = json_pack("{s:s, s:s%, s:s, s:s, s:o}", "ruleName", r->name, "topic", m->topic,
                            m->topic_len, "clientId", m->client_id ? m->client_id : "n/a",
                            "base64OriginalPayload", (const char *)b64, "failures",
                            failures ? failures : json_array());
    free(b64);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return text;
}

static void run_message(struct umbra_server *s, const char *topic, size_t len,
                        const uint8_t *payload, size_t plen, const struct rules_origin *o);

/* Publish the result; NULL, or why it failed. */
static const char *republish(struct umbra_server *s, const struct rule_action *a,
                             const struct sql_message *m, const uint8_t *body, size_t blen,
                             char **topic_out)
{
    char *topic = template_render(a->topic, m);
    *topic_out = topic;
    if (!topic) return "out of memory";
    size_t tl = strlen(topic);
    if (!mqtt_topic_name_valid(topic, tl)) return "the republish topic is not a valid topic name";
    if (s->rules->depth >= MAX_REPUBLISH_DEPTH)
        return "republish loop: the message went through too many rules";
    router_publish(s, topic, tl, body, blen, a->qos, false, NULL, false);
    struct rules_origin none = {NULL, NULL};
    s->rules->depth++;
    run_message(s, topic, tl, body, blen, &none);
    s->rules->depth--;
    return NULL;
}

/* A key's value as the row stores it: NUMBER keys must be numbers. */
static bool add_key(json_t *keys, const char *field, char *value, bool is_number)
{
    if (!value) return false;
    if (is_number) {
        char *end;
        strtod(value, &end);
        if (!value[0] || *end) {
            free(value);
            return false;
        }
    }
    json_array_append_new(keys, json_pack("[s, s, b]", field, value, is_number));
    free(value);
    return true;
}

/* Queue the row with this turn's persistence batch; NULL, or why not. */
static const char *put_row(struct umbra_server *s, const struct rule_action *a,
                           const struct sql_message *m, const uint8_t *body, size_t blen,
                           bool is_raw)
{
    json_t *keys = json_array();
    if (!keys) return "out of memory";
    const char *why = NULL;
    if (!add_key(keys, a->hash_field, template_render(a->hash_value, m), a->is_hash_number) ||
        (a->range_field &&
         !add_key(keys, a->range_field, template_render(a->range_value, m), a->is_range_number)))
        why = "a key value is empty or not a number as its type says";
    char *op = a->operation ? template_render(a->operation, m) : NULL;
    bool is_delete = op && strcmp(op, "DELETE") == 0;
    free(op);
    /* A payload that is not JSON is kept as base64, as DynamoDB keeps binary. */
    json_t *payload = NULL;
    if (!why && is_raw) {
        size_t need = 0;
        mbedtls_base64_encode(NULL, 0, &need, body, blen);
        unsigned char *b64 = malloc(need + 1);
        if (b64 && !mbedtls_base64_encode(b64, need + 1, &need, body, blen)) {
            b64[need] = '\0';
            payload = json_string((const char *)b64);
        }
        free(b64);
    } else if (!why) {
        payload = json_stringn((const char *)body, blen);
    }
    json_t *row = why || !payload
                      ? NULL
                      : json_pack("{s:o, s:s, s:o, s:b}", "keys", keys, "payloadField",
                                  a->payload_field, "payload", payload, "delete", is_delete);
    if (!row) {
        json_decref(keys);
        json_decref(payload);
        return why ? why : "out of memory";
    }
    char *text = json_dumps(row, JSON_COMPACT);
    json_decref(row);
    int rc = text ? persist_rule_row(s->persist, a->table, strlen(a->table), text, strlen(text))
                  : UMBRA_ENOMEM;
    free(text);
    return rc == UMBRA_ELIMIT ? "the table sink's queue is full" : rc ? "out of memory" : NULL;
}

#define BODY_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)

/* What the rules of one message share: the SELECT * body, made once. */
struct message_bodies {
    char *star; /* the payload's JSON, re-encoded; NULL until a SELECT * rule matched */
};

static void run_rule(struct umbra_server *s, struct rule *r, const struct sql_message *m,
                     struct message_bodies *shared)
{
    json_t *result = NULL;
    char *text = NULL;
    /* SELECT * selects the payload itself: only WHERE needs evaluating, and
     * every such rule sends the same JSON, encoded once per message. */
    int rc = r->is_star ? sql_where(r->query, m) : sql_evaluate(r->query, m, &result);
    if (rc <= 0) {
        if (rc < 0) log_error("rule %s: out of memory", r->name);
        return;
    }
    r->matched++;
    /* The body every action sends: the SELECT result as JSON, or for
     * SELECT * of a payload that is not JSON, the payload's own bytes. */
    bool is_raw = r->is_star && !m->json;
    const char *json_body = NULL;
    if (r->is_star && m->json) {
        if (!shared->star) shared->star = json_dumps(m->json, BODY_FLAGS);
        json_body = shared->star;
    } else if (!is_raw && result) {
        json_body = text = json_dumps(result, BODY_FLAGS);
    }
    json_decref(result);
    const uint8_t *body = is_raw ? m->payload : (const uint8_t *)(json_body ? json_body : "");
    size_t blen = is_raw ? m->payload_len : json_body ? strlen(json_body) : 0;
    json_t *failures = json_array();
    for (size_t i = 0; i < r->nactions; i++) {
        const struct rule_action *a = &r->actions[i];
        if (a->kind == ACTION_NOT_RUN) {
            r->dropped++;
            continue;
        }
        char *topic = NULL;
        bool is_table = a->kind == ACTION_DYNAMODB;
        const char *why;
        if (is_table) {
            why = put_row(s, a, m, body, blen, is_raw);
        } else if (a->kind == ACTION_S3) {
            topic = template_render(a->topic, m); /* the key */
            why = topic ? sink_s3_put(s, a->bucket, topic, body, blen) : "out of memory";
        } else {
            why = republish(s, a, m, body, blen, &topic);
        }
        const char *resource = is_table               ? a->table + 4
                               : a->kind == ACTION_S3 ? a->bucket
                               : topic                ? topic
                                                      : "";
        if (!why) {
            r->succeeded++;
        } else {
            r->failed++;
            uint64_t now = server_now_ms(s);
            if (r->last_warning_ms && now - r->last_warning_ms < 1000) {
                r->warnings_not_logged++;
            } else {
                log_warn("rule %s: %s to %s failed: %s (%llu more failures not logged)", r->name,
                         a->type, resource, why, (unsigned long long)r->warnings_not_logged);
                r->last_warning_ms = now;
                r->warnings_not_logged = 0;
            }
            json_array_append_new(failures,
                                  json_pack("{s:s, s:s, s:s}", "failedAction",
                                            is_table               ? "DynamoAction"
                                            : a->kind == ACTION_S3 ? "S3Action"
                                                                   : "RepublishAction",
                                            "failedResource", resource, "errorMessage", why));
        }
        free(topic);
    }
    free(text);
    /* One error message per (rule, message), naming every failed action. */
    if (json_array_size(failures) && r->error_action.kind == ACTION_REPUBLISH &&
        r->error_action.type) {
        char *fj = json_dumps(failures, JSON_COMPACT);
        char *doc = fj ? error_document(r, m, fj) : NULL;
        char *topic = NULL;
        const char *why =
            doc ? republish(s, &r->error_action, m, (const uint8_t *)doc, strlen(doc), &topic)
                : "out of memory";
        if (why) log_warn("rule %s: errorAction failed: %s", r->name, why);
        free(topic);
        free(doc);
        free(fj);
    }
    json_decref(failures);
}

static void run_message(struct umbra_server *s, const char *topic, size_t len,
                        const uint8_t *payload, size_t plen, const struct rules_origin *o)
{
    bool is_ingest = rules_service_is_ingest(topic, len);
    json_t *json = NULL;
    bool parsed = false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct sql_message m = {.topic = topic,
                            .topic_len = len,
                            .payload = payload,
                            .payload_len = plen,
                            .client_id = o->client_id,
                            .principal = o->principal,
                            .account_id = registry_account(s->registry),
                            .timestamp_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                            .random = random_bytes};
    struct message_bodies shared = {NULL};
    /* By index: a republish may reload nothing, but keep no pointer across it. */
    for (size_t i = 0; s->rules && i < s->rules->n; i++) {
        struct rule *r = &s->rules->rules[i];
        if (!wants(r, topic, len, is_ingest)) continue;
        if (!parsed) {
            json = json_loadb((const char *)payload, plen, JSON_DECODE_ANY, NULL);
            parsed = true;
            m.json = json;
        }
        run_rule(s, r, &m, &shared);
    }
    free(shared.star);
    json_decref(json);
}

void rules_service_message(struct umbra_server *s, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len,
                           const struct rules_origin *origin)
{
    if (!s->rules || s->rules->n == 0) return; /* the usual case: one test */
    run_message(s, topic, topic_len, payload, payload_len, origin);
}

void rules_service_each_counter(struct umbra_server *s,
                                void (*fn)(void *ctx, const char *rule, const char *counter,
                                           uint64_t value),
                                void *ctx)
{
    for (size_t i = 0; s->rules && i < s->rules->n; i++) {
        const struct rule *r = &s->rules->rules[i];
        fn(ctx, r->name, "matched", r->matched);
        fn(ctx, r->name, "succeeded", r->succeeded);
        fn(ctx, r->name, "failed", r->failed);
        fn(ctx, r->name, "dropped", r->dropped);
    }
}
