/*
 * topic_rules.c - CreateTopicRule, GetTopicRule, ListTopicRules,
 * ReplaceTopicRule, DeleteTopicRule, EnableTopicRule, DisableTopicRule.
 *
 * A rule is stored as the TopicRulePayload it was created with (checked
 * here: the SQL parses, every action is one Umbra runs and has the fields
 * AWS requires), plus its FROM filter for ListTopicRules' topicPattern.
 * The daemon reads the enabled rules when the registry's change counter
 * moves, so a change applies without a restart.
 */
#include "registry_internal.h"

#include "error.h"
#include "sql.h"
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RULE_NAME 128
#define MAX_ACTIONS 10

/* The actions Umbra runs, and the fields AWS's model requires for each. */
static const struct {
    const char *type;
    const char *required[4];
} actions[] = {
    {"republish", {"topic", "roleArn"}},
    {"http", {"url"}},
    {"dynamoDB", {"tableName", "roleArn", "hashKeyField", "hashKeyValue"}},
    {"dynamoDBv2", {"roleArn", "putItem"}},
    {"s3", {"roleArn", "bucketName", "key"}},
    {"postgres", {"connectionString", "table"}}, /* an Umbra extension */
};
#define SUPPORTED_ACTIONS "republish, http, dynamoDB, dynamoDBv2, s3, postgres"
#define MAX_HTTP_HEADERS 100
#define MAX_URL 2000

static int check_rule_name(const char *name, struct reg_error *e)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= MAX_RULE_NAME;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
    if (ok) return 0;
    return reg_fail(e, "InvalidRequestException", 400,
                    "1 validation error detected: Value '%s' at 'ruleName' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$",
                    name);
}

static int read_name(const json_t *req, const char **name, struct reg_error *e)
{
    int rc = reg_string(req, "ruleName", true, name, e);
    return rc ? rc : check_rule_name(*name, e);
}

/* The parameters AWS evaluates as substitution templates must compile. */
static int check_templates(const json_t *fields, const char *where, const char *type,
                           struct reg_error *e)
{
    static const char *const templated[] = {"topic",        "url",           "key",
                                            "hashKeyValue", "rangeKeyValue", "payloadField"};
    for (size_t i = 0; i < sizeof templated / sizeof templated[0]; i++) {
        json_t *v = json_object_get(fields, templated[i]);
        if (!v) continue;
        if (!json_is_string(v))
            return reg_fail(e, "InvalidRequestException", 400, "%s.%s.%s must be a string", where,
                            type, templated[i]);
        struct template *t;
        struct sql_error err;
        int rc = template_compile(json_string_value(v), &t, &err);
        template_free(t);
        if (rc == UMBRA_ENOMEM)
            return reg_fail(e, "InternalFailureException", 500, "Out of memory");
        if (rc)
            return reg_fail(e, "InvalidRequestException", 400, "%s.%s.%s: %s", where, type,
                            templated[i], err.message);
    }
    return 0;
}

static int check_template_text(const char *text, const char *where, const char *what,
                               struct reg_error *e)
{
    struct template *t;
    struct sql_error err;
    int rc = template_compile(text, &t, &err);
    template_free(t);
    if (rc == UMBRA_ENOMEM) return reg_fail(e, "InternalFailureException", 500, "Out of memory");
    if (rc)
        return reg_fail(e, "InvalidRequestException", 400, "%s.%s: %s", where, what, err.message);
    return 0;
}

/* PostgreSQL names the postgres action writes to: [A-Za-z_][A-Za-z0-9_]*
 * (at most 63), the table optionally schema.table. */
static bool is_sql_name(const char *s, bool may_qualify)
{
    size_t n = 0;
    for (const char *p = s;; p++) {
        bool is_letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        if (is_letter || (n && *p >= '0' && *p <= '9')) {
            if (++n > 63) return false;
        } else if (*p == '.' && may_qualify && n) {
            may_qualify = false;
            n = 0;
        } else {
            return *p == '\0' && n;
        }
    }
}

/* [{KEY: name, value: template}], at most max: http headers, postgres columns. */
static int check_pairs(const json_t *list, const char *key, size_t max, bool is_column,
                       const char *where, struct reg_error *e)
{
    if (!list) return 0;
    if (!json_is_array(list) || json_array_size(list) > max)
        return reg_fail(e, "InvalidRequestException", 400, "%s must be a list of at most %zu",
                        where, max);
    size_t i;
    json_t *h;
    json_array_foreach(list, i, h)
    {
        const char *name = json_string_value(json_object_get(h, key));
        const char *value = json_string_value(json_object_get(h, "value"));
        size_t nl = name ? strlen(name) : 0;
        bool ok = name && value && nl >= 1 && nl <= 256 &&
                  (is_column ? is_sql_name(name, false) : !strpbrk(name, ":\r\n "));
        if (!ok)
            return reg_fail(e, "InvalidRequestException", 400,
                            "%s[%zu] needs a %s (%s) and a value", where, i, key,
                            is_column ? "an SQL name: letters, digits, _" : "1-256 characters");
        int rc = check_template_text(value, where, name, e);
        if (rc) return rc;
    }
    return 0;
}

/* What one action type needs beyond its required fields. */
static int check_fields(const char *type, const json_t *fields, const char *where,
                        struct reg_error *e)
{
    char at[96];
    if (strcmp(type, "http") == 0) {
        const char *url = json_string_value(json_object_get(fields, "url"));
        if (!url || strlen(url) > MAX_URL ||
            (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0))
            return reg_fail(e, "InvalidRequestException", 400,
                            "%s.http.url must be an https:// (or http://) URL of at most 2000 "
                            "characters",
                            where);
        snprintf(at, sizeof at, "%s.http.headers", where);
        return check_pairs(json_object_get(fields, "headers"), "key", MAX_HTTP_HEADERS, false, at,
                           e);
    }
    if (strcmp(type, "dynamoDBv2") == 0) {
        const json_t *put = json_object_get(fields, "putItem");
        if (!json_is_string(json_object_get(put, "tableName")))
            return reg_fail(e, "InvalidRequestException", 400,
                            "%s.dynamoDBv2.putItem.tableName is required", where);
        return 0;
    }
    if (strcmp(type, "postgres") == 0) {
        const char *conn = json_string_value(json_object_get(fields, "connectionString"));
        const char *table = json_string_value(json_object_get(fields, "table"));
        const json_t *pc = json_object_get(fields, "payloadColumn");
        if (!conn || !table || !is_sql_name(table, true) ||
            (pc && (!json_is_string(pc) || !is_sql_name(json_string_value(pc), false))))
            return reg_fail(e, "InvalidRequestException", 400,
                            "%s.postgres needs a connectionString and a table, and table and "
                            "payloadColumn must be SQL names (letters, digits, _)",
                            where);
        snprintf(at, sizeof at, "%s.postgres.columns", where);
        return check_pairs(json_object_get(fields, "columns"), "name", 1600, true, at, e);
    }
    return 0;
}

/* One element of actions (or the errorAction): {"TYPE": {fields}}. */
static int check_action(const json_t *a, const char *where, struct reg_error *e)
{
    int rc;
    if (!json_is_object(a) || json_object_size(a) != 1)
        return reg_fail(e, "InvalidRequestException", 400,
                        "%s must be an object with exactly one action", where);
    const char *type = json_object_iter_key(json_object_iter((json_t *)a));
    json_t *fields = json_object_get(a, type);
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        if (strcmp(actions[i].type, type) != 0) continue;
        if (!json_is_object(fields))
            return reg_fail(e, "InvalidRequestException", 400, "%s.%s must be an object", where,
                            type);
        for (size_t k = 0; k < 4 && actions[i].required[k]; k++)
            if (!json_object_get(fields, actions[i].required[k]))
                return reg_fail(e, "InvalidRequestException", 400, "%s.%s.%s is required", where,
                                type, actions[i].required[k]);
        if ((rc = check_templates(fields, where, type, e))) return rc;
        json_t *qos = json_object_get(fields, "qos");
        if (qos &&
            (!json_is_integer(qos) || json_integer_value(qos) < 0 || json_integer_value(qos) > 1))
            return reg_fail(e, "InvalidRequestException", 400, "%s.%s.qos must be 0 or 1", where,
                            type);
        return check_fields(type, fields, where, e);
    }
    return reg_fail(e, "InvalidRequestException", 400,
                    "%s: action %s is not supported by this broker (supported: " SUPPORTED_ACTIONS
                    ")",
                    where, type);
}

/*
 * The payload as stored: AWS's fields only, with their defaults. *from gets
 * the FROM filter ("" without FROM), owned by the caller.
 */
static int check_payload(const json_t *req, json_t **out, char **from, struct reg_error *e)
{
    const json_t *p = json_object_get(req, "topicRulePayload");
    if (!json_is_object(p))
        return reg_fail(e, "InvalidRequestException", 400, "topicRulePayload is required");
    const char *sql, *description, *version;
    int rc;
    if ((rc = reg_string(p, "sql", true, &sql, e)) ||
        (rc = reg_string(p, "description", false, &description, e)) ||
        (rc = reg_string(p, "awsIotSqlVersion", false, &version, e)))
        return rc;
    if (version && strcmp(version, "2015-10-08") && strcmp(version, "2016-03-23") &&
        strcmp(version, "beta"))
        return reg_fail(e, "InvalidRequestException", 400,
                        "awsIotSqlVersion must be 2015-10-08, 2016-03-23 or beta");
    struct sql_query *q;
    struct sql_error err;
    rc = sql_parse(sql, strlen(sql), &q, &err);
    if (rc == UMBRA_ENOMEM) return reg_fail(e, "InternalFailureException", 500, "Out of memory");
    if (rc) return reg_fail(e, "SqlParseException", 400, "%s", err.message);
    *from = strdup(q->from ? q->from : "");
    sql_query_free(q);
    if (!*from) return reg_fail(e, "InternalFailureException", 500, "Out of memory");
    json_t *list = json_object_get(p, "actions");
    if (list && !json_is_array(list))
        rc = reg_fail(e, "InvalidRequestException", 400, "actions must be a list");
    else if (json_array_size(list) > MAX_ACTIONS)
        rc = reg_fail(e, "InvalidRequestException", 400, "A rule has at most %d actions",
                      MAX_ACTIONS);
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) if (!rc) rc = check_action(a, "actions member", e);
    json_t *error_action = json_object_get(p, "errorAction");
    if (!rc && error_action && !json_is_null(error_action))
        rc = check_action(error_action, "errorAction", e);
    json_t *disabled = json_object_get(p, "ruleDisabled");
    if (!rc && disabled && !json_is_boolean(disabled))
        rc = reg_fail(e, "InvalidRequestException", 400, "ruleDisabled must be a boolean");
    if (rc) {
        free(*from);
        *from = NULL;
        return rc;
    }
    json_t *acts = list ? json_incref(list) : json_array();
    *out = json_pack("{s:s, s:o, s:b, s:s}", "sql", sql, "actions", acts, "ruleDisabled",
                     json_is_true(disabled), "awsIotSqlVersion", version ? version : "2015-10-08");
    if (!*out) {
        free(*from);
        *from = NULL;
        return reg_fail(e, "InternalFailureException", 500, "Out of memory");
    }
    if (description) json_object_set_new(*out, "description", json_string(description));
    if (error_action && !json_is_null(error_action))
        json_object_set(*out, "errorAction", (json_t *)error_action);
    return 0;
}

static int denied(struct reg_error *e, const char *name)
{
    /* What AWS says about a rule that does not exist. */
    return reg_fail(e, "UnauthorizedException", 401, "Access to topic rule '%s' was denied", name);
}

static json_t *rule_arn(struct registry *r, const char *name)
{
    return json_sprintf("arn:aws:iot:%s:%s:rule/%s", r->region, r->account, name);
}

/* Store a checked payload: insert (create) or update (replace). */
static int store(struct registry *r, const json_t *req, bool is_new, json_t **resp,
                 struct reg_error *e)
{
    const char *name;
    json_t *payload = NULL;
    char *from = NULL;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = check_payload(req, &payload, &from, e))) return rc;
    char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    sqlite3_stmt *st =
        text
            ? reg_prepare(r,
                          is_new ? "INSERT INTO topic_rules(name, payload, topic_pattern, disabled,"
                                   " created_at) VALUES(?1, ?2, ?3, ?4, ?5)"
                                 : "UPDATE topic_rules SET payload = ?2, topic_pattern = ?3,"
                                   " disabled = ?4 WHERE name = ?1",
                          e)
            : NULL;
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, from, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, json_is_true(json_object_get(payload, "ruleDisabled")));
        sqlite3_bind_int64(st, 5, reg_now());
        int step = sqlite3_step(st);
        if (step == SQLITE_CONSTRAINT)
            rc = reg_fail(e, "ResourceAlreadyExistsException", 409,
                          "Rule with name: %s already exists", name);
        else if (step != SQLITE_DONE)
            rc = reg_fail_db(r, e);
        else if (!is_new && sqlite3_changes(r->db) == 0)
            rc = denied(e, name);
        sqlite3_finalize(st);
    } else {
        rc = text ? UMBRA_EIO : reg_fail(e, "InternalFailureException", 500, "Out of memory");
    }
    free(text);
    free(from);
    json_decref(payload);
    if (!rc) *resp = json_object();
    return rc;
}

int registry_create_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    return store(r, req, true, resp, e);
}

int registry_replace_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    return store(r, req, false, resp, e);
}

int registry_get_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                            struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    sqlite3_stmt *st =
        reg_prepare(r, "SELECT payload, disabled, created_at FROM topic_rules WHERE name = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? denied(e, name) : reg_fail_db(r, e);
    }
    json_t *rule = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    if (!rule) rule = json_object();
    json_object_set_new(rule, "ruleName", json_string(name));
    json_object_set_new(rule, "ruleDisabled", json_boolean(sqlite3_column_int(st, 1)));
    json_object_set_new(rule, "createdAt", json_integer(sqlite3_column_int64(st, 2)));
    sqlite3_finalize(st);
    *resp = json_pack("{s:o, s:o}", "ruleArn", rule_arn(r, name), "rule", rule);
    return 0;
}

int registry_list_topic_rules(struct registry *r, const json_t *req, json_t **resp,
                              struct reg_error *e)
{
    const char *token, *topic;
    bool has_max, has_disabled;
    int64_t max = 1000, disabled_flag = 0;
    int rc;
    if ((rc = reg_string(req, "nextToken", false, &token, e)) ||
        (rc = reg_string(req, "topic", false, &topic, e)) ||
        (rc = reg_int(req, "maxResults", &has_max, &max, e)))
        return rc;
    json_t *d = json_object_get(req, "ruleDisabled");
    has_disabled = d && !json_is_null(d);
    if (has_disabled && !json_is_boolean(d))
        return reg_fail(e, "InvalidRequestException", 400, "ruleDisabled must be a boolean");
    disabled_flag = json_is_true(d);
    if (has_max && (max < 1 || max > 10000))
        return reg_fail(e, "InvalidRequestException", 400,
                        "maxResults must be between 1 and 10000");
    sqlite3_stmt *st =
        reg_prepare(r,
                    "SELECT name, topic_pattern, disabled, created_at FROM topic_rules"
                    " WHERE name > ?1 AND (?2 IS NULL OR topic_pattern = ?2)"
                    " AND (?3 = 0 OR disabled = ?4) ORDER BY name LIMIT ?5",
                    e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, has_disabled);
    sqlite3_bind_int64(st, 4, disabled_flag);
    sqlite3_bind_int64(st, 5, max + 1);
    json_t *rules = json_array();
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int64_t)json_array_size(rules) == max) {
            more = true;
            break;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        json_array_append_new(rules, json_pack("{s:o, s:s, s:s, s:I, s:b}", "ruleArn",
                                               rule_arn(r, name), "ruleName", name, "topicPattern",
                                               (const char *)sqlite3_column_text(st, 1),
                                               "createdAt", (json_int_t)sqlite3_column_int64(st, 3),
                                               "ruleDisabled", sqlite3_column_int(st, 2)));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(rules);
        return reg_fail_db(r, e);
    }
    *resp = json_pack("{s:o}", "rules", rules);
    size_t n = json_array_size(rules);
    if (more && n)
        json_object_set(*resp, "nextToken",
                        json_object_get(json_array_get(rules, n - 1), "ruleName"));
    return 0;
}

int registry_delete_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    sqlite3_stmt *st = reg_prepare(r, "DELETE FROM topic_rules WHERE name = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    if (sqlite3_changes(r->db) == 0) return denied(e, name);
    *resp = json_object();
    return 0;
}

/* Enable or disable: the flag, and ruleDisabled in the stored payload. */
static int set_disabled(struct registry *r, const json_t *req, bool disabled, json_t **resp,
                        struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    sqlite3_stmt *st = reg_prepare(r,
                                   "UPDATE topic_rules SET disabled = ?2, payload ="
                                   " json_set(payload, '$.ruleDisabled', json(?3)) WHERE name = ?1",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, disabled);
    sqlite3_bind_text(st, 3, disabled ? "true" : "false", -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    if (sqlite3_changes(r->db) == 0) return denied(e, name);
    *resp = json_object();
    return 0;
}

int registry_enable_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    return set_disabled(r, req, false, resp, e);
}

int registry_disable_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    return set_disabled(r, req, true, resp, e);
}

int registry_each_enabled_topic_rule(struct registry *r,
                                     void (*fn)(void *ctx, const char *name, const char *payload),
                                     void *ctx)
{
    struct reg_error e;
    sqlite3_stmt *st = reg_prepare(
        r, "SELECT name, payload FROM topic_rules WHERE disabled = 0 ORDER BY name", &e);
    if (!st) return UMBRA_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : UMBRA_EIO;
}
