/*
 * sql_eval.h - evaluate a parsed AWS IoT SQL statement against one message.
 *
 * Values are jansson values; NULL stands for AWS's Undefined (a missing
 * field, or an operator or function given what it cannot use), which
 * propagates through operators and is left out of the result object.
 * The message is its topic, its payload (parsed when it is JSON) and what
 * the broker knows of its publisher; functions that need the outside world
 * (the shadow store, randomness, the clock) come as context fields, so the
 * evaluator stays pure and tests pass fixed ones.
 */
#ifndef UMBRA_SQL_EVAL_H
#define UMBRA_SQL_EVAL_H

#include "sql.h"
#include "sql_doc.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sql_message {
    const char *topic;
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    const json_t *json;    /* the payload parsed, or NULL when it is not JSON */
    struct sql_doc *doc;   /* when set, used instead of json: parsed as far as needed */
    const char *client_id; /* NULL: not published over MQTT (clientid() is "n/a") */
    const char *principal; /* certificate id, or NULL */
    const char *account_id;
    const char *trace_id; /* NULL: traceid() is Undefined, unless trace_buf is set */
    char *trace_buf;      /* 37 bytes, "" until traceid() first makes a UUID there */
    int64_t timestamp_ms; /* timestamp() */
    /* get_thing_shadow(thing, shadow): a new reference to the document, or NULL. */
    json_t *(*get_shadow)(void *ctx, const char *thing, const char *shadow);
    /* newuuid(): fill out with n random bytes. */
    void (*random)(void *ctx, uint8_t *out, size_t n);
    void *ctx;
};

/* traceid(): trace_id, or the UUID made in trace_buf on first use; NULL when neither. */
const char *sql_trace_id(const struct sql_message *m);

/* The whole payload parsed (borrowed), or NULL when it is not JSON. */
const json_t *sql_payload(const struct sql_message *m);

/* One expression. Returns a new reference, or NULL for Undefined. */
json_t *sql_eval(const struct sql_node *n, const struct sql_message *m);

/*
 * The whole statement: when WHERE is absent or true, returns 1 and *out,
 * the SELECT result (an object; for SELECT VALUE the value itself, NULL
 * when Undefined); else returns 0. Returns UMBRA_ENOMEM if memory ran out.
 */
int sql_evaluate(const struct sql_query *q, const struct sql_message *m, json_t **out);

/* WHERE alone: 1 when it is absent or true, else 0 (false, Undefined). */
int sql_where(const struct sql_query *q, const struct sql_message *m);

/* Is this value true as a condition (true, or the string "true" in any case)? */
int sql_is_true(const json_t *v);

#endif
