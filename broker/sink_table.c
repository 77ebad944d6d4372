/*
 * sink_table.c - dynamoDB and dynamoDBv2 rows into the persistence batch
 * (persist.c makes the tables and writes the rows).
 */
#include "sink_table.h"

#include "error.h"
#include "persist.h"
#include "rules_internal.h"
#include "server.h"
#include "template.h"

#include <jansson.h>
#include <mbedtls/base64.h>
#include <stdlib.h>
#include <string.h>

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

/* A payload that is not JSON is kept as base64, as DynamoDB keeps binary. */
static json_t *base64_string(const uint8_t *body, size_t len)
{
    size_t need = 0;
    mbedtls_base64_encode(NULL, 0, &need, body, len);
    unsigned char *b64 = malloc(need + 1);
    json_t *out = NULL;
    if (b64 && !mbedtls_base64_encode(b64, need + 1, &need, body, len)) {
        b64[need] = '\0';
        out = json_string((const char *)b64);
    }
    free(b64);
    return out;
}

/* Queue the row with this turn's persistence batch; NULL, or why not. */
static const char *queue_row(struct umbra_server *s, const char *table, json_t *row)
{
    char *text = row ? json_dumps(row, JSON_COMPACT) : NULL;
    json_decref(row);
    int rc = text ? persist_rule_row(s->persist, table, strlen(table), text, strlen(text))
                  : UMBRA_ENOMEM;
    free(text);
    return rc == UMBRA_ELIMIT ? sink_queue_full : rc ? "out of memory" : NULL;
}

const char *sink_table_put_row(struct umbra_server *s, const struct rule_action *a,
                               const struct sql_message *m, const uint8_t *body, size_t len,
                               bool is_raw)
{
    json_t *keys = json_array();
    if (!keys) return "out of memory";
    if (!add_key(keys, a->hash_field, template_render(a->hash_value, m), a->is_hash_number) ||
        (a->range_field &&
         !add_key(keys, a->range_field, template_render(a->range_value, m), a->is_range_number))) {
        json_decref(keys);
        return "a key value is empty or not a number as its type says";
    }
    char *op = a->operation ? template_render(a->operation, m) : NULL;
    bool is_delete = op && strcmp(op, "DELETE") == 0;
    free(op);
    json_t *payload = is_raw ? base64_string(body, len) : json_stringn((const char *)body, len);
    if (!payload) {
        json_decref(keys);
        return "out of memory";
    }
    return queue_row(s, a->table,
                     json_pack("{s:o, s:s, s:o, s:b}", "keys", keys, "payloadField",
                               a->payload_field, "payload", payload, "delete", is_delete));
}

const char *sink_table_put_item(struct umbra_server *s, const struct rule_action *a,
                                const uint8_t *body, size_t len, bool is_raw)
{
    json_t *item = is_raw ? NULL : json_loadb((const char *)body, len, 0, NULL);
    if (!json_is_object(item) || json_object_size(item) == 0) {
        json_decref(item);
        return "the SELECT result is not a JSON object with attributes, as dynamoDBv2 needs";
    }
    return queue_row(s, a->table, json_pack("{s:o}", "item", item));
}
