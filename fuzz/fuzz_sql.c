/*
 * fuzz_sql.c - AWS IoT SQL statements and template expressions from
 * arbitrary bytes: every input parses or is refused with a position
 * inside it, and frees cleanly either way; what parses is evaluated
 * against a message.
 */
#include "sql.h"
#include "sql_eval.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sql_query *q = NULL;
    struct sql_error err;
    if (sql_parse((const char *)data, size, &q, &err) == 0) {
        if (!q || q->nitems == 0) __builtin_trap();
        static const char payload[] = "{\"a\":1,\"b\":\"x\",\"c\":[1,2.5,\"3\"],\"d\":{\"e\":null}}";
        json_t *json = json_loads(payload, 0, NULL);
        struct sql_message m = {.topic = "a/b/c", .topic_len = 5,
                                .payload = (const uint8_t *)payload,
                                .payload_len = sizeof payload - 1, .json = json,
                                .timestamp_ms = 1};
        json_t *out = NULL;
        if (sql_evaluate(q, &m, &out) < 0) __builtin_trap();
        json_decref(out);
        json_decref(json);
        sql_query_free(q);
    } else if (q || err.column == 0 || err.column > size + 1 || !err.message[0]) {
        __builtin_trap();
    }
    struct sql_node *n = NULL;
    if (sql_parse_expression((const char *)data, size, &n, &err) == 0) {
        if (!n) __builtin_trap();
        sql_node_free(n);
    }
    return 0;
}
