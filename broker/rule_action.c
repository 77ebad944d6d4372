/*
 * rule_action.c - a stored action ({"TYPE": {fields}}, already checked by
 * the registry) compiled for the message path: templates parsed once,
 * names resolved once.
 */
#include "rules_internal.h"

#include "error.h"
#include "log.h"
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rule_action_free(struct rule_action *a)
{
    template_free(a->topic);
    free(a->table);
    free(a->bucket);
    free(a->hash_field);
    free(a->range_field);
    free(a->payload_field);
    template_free(a->hash_value);
    template_free(a->range_value);
    template_free(a->operation);
    for (size_t i = 0; i < a->nheaders; i++) {
        free(a->headers[i].key);
        template_free(a->headers[i].value);
    }
    free(a->headers);
    free(a->connection);
    memset(a, 0, sizeof *a);
}

static char *field_copy(const json_t *fields, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(fields, key));
    return v || fallback ? strdup(v ? v : fallback) : NULL;
}

static int compile_text(const char *rule, const char *what, const char *text, struct template **out)
{
    struct sql_error err;
    int rc = text ? template_compile(text, out, &err) : UMBRA_EINVAL;
    if (rc) log_error("rule %s: %s: %s", rule, what, text ? err.message : "missing");
    return rc;
}

static int field_template(const char *rule, const json_t *fields, const char *key,
                          struct template **out)
{
    const char *v = json_string_value(json_object_get(fields, key));
    return v ? compile_text(rule, key, v, out) : 0;
}

static char *prefixed(const char *prefix, const char *name)
{
    if (!name) return NULL;
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s%s", prefix, name);
    return out;
}

/* dynamoDB: {tableName, hashKeyField, hashKeyValue, hashKeyType, rangeKey..., payloadField,
 * operation}, as AWS takes it. */
static int compile_dynamodb(const char *rule, const json_t *fields, struct rule_action *a)
{
    a->failed_action = "DynamoAction";
    if (!(a->table = prefixed("ddb_", json_string_value(json_object_get(fields, "tableName")))))
        return UMBRA_EINVAL;
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

/* Pairs of a name and a template: http's headers [{key, value}], postgres'
 * columns [{name, value}]. */
static int compile_pairs(const char *rule, const json_t *list, const char *name_key,
                         struct rule_action *a)
{
    size_t n = json_array_size(list);
    if (n && !(a->headers = calloc(n, sizeof *a->headers))) return UMBRA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *h = json_array_get(list, i);
        const char *key = json_string_value(json_object_get(h, name_key));
        if (!key || !(a->headers[i].key = strdup(key))) return UMBRA_EINVAL;
        a->nheaders = i + 1;
        int rc = compile_text(rule, key, json_string_value(json_object_get(h, "value")),
                              &a->headers[i].value);
        if (rc) return rc;
    }
    return 0;
}

static int compile_postgres(const char *rule, const json_t *fields, struct rule_action *a)
{
    a->failed_action = "PostgresAction";
    a->connection = field_copy(fields, "connectionString", NULL);
    a->table = field_copy(fields, "table", NULL);
    const json_t *columns = json_object_get(fields, "columns");
    /* Without a column mapping the whole result goes to "payload". */
    a->payload_field = field_copy(fields, "payloadColumn", columns ? NULL : "payload");
    if (!a->connection || !a->table) return UMBRA_EINVAL;
    return compile_pairs(rule, columns, "name", a);
}

int rule_action_compile(const char *rule, const json_t *spec, struct rule_action *a)
{
    memset(a, 0, sizeof *a);
    const char *type = json_object_iter_key(json_object_iter((json_t *)spec));
    json_t *fields = type ? json_object_get(spec, type) : NULL;
    if (!type) return UMBRA_EINVAL;
    if (strcmp(type, "republish") == 0) {
        a->kind = ACTION_REPUBLISH;
        a->failed_action = "RepublishAction";
        a->qos = (uint8_t)json_integer_value(json_object_get(fields, "qos"));
        return compile_text(rule, "republish topic",
                            json_string_value(json_object_get(fields, "topic")), &a->topic);
    }
    if (strcmp(type, "dynamoDB") == 0) {
        a->kind = ACTION_DYNAMODB;
        return compile_dynamodb(rule, fields, a);
    }
    if (strcmp(type, "dynamoDBv2") == 0) {
        a->kind = ACTION_DYNAMODB_V2;
        a->failed_action = "DynamoActionV2";
        const json_t *put = json_object_get(fields, "putItem");
        a->table = prefixed("ddb_", json_string_value(json_object_get(put, "tableName")));
        return a->table ? 0 : UMBRA_EINVAL;
    }
    if (strcmp(type, "s3") == 0) {
        a->kind = ACTION_S3;
        a->failed_action = "S3Action";
        a->bucket = field_copy(fields, "bucketName", NULL);
        int rc = field_template(rule, fields, "key", &a->topic);
        return rc ? rc : a->bucket && a->topic ? 0 : UMBRA_EINVAL;
    }
    if (strcmp(type, "http") == 0) {
        a->kind = ACTION_HTTP;
        a->failed_action = "HttpAction";
        int rc = compile_text(rule, "http url", json_string_value(json_object_get(fields, "url")),
                              &a->topic);
        return rc ? rc : compile_pairs(rule, json_object_get(fields, "headers"), "key", a);
    }
    if (strcmp(type, "postgres") == 0) {
        a->kind = ACTION_POSTGRES;
        return compile_postgres(rule, fields, a);
    }
    log_error("rule %s: %s actions are not run by this broker", rule, type);
    return UMBRA_EINVAL;
}
