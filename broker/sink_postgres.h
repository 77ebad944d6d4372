/*
 * sink_postgres.h - the rules engine's postgres action (an Umbra
 * extension): one row per message into a PostgreSQL table, through libpq.
 *
 *   {"postgres": {"connectionString": "host=127.0.0.1 port=5432 dbname=iot",
 *                 "table": "readings",
 *                 "columns": [{"name": "device", "value": "${topic(2)}"}, ...],
 *                 "payloadColumn": "payload"}}
 *
 * Column values are templates; payloadColumn (default "payload" when there
 * are no columns) takes the SELECT result as JSON text (a payload that is
 * not JSON as a JSON string of its base64). PostgreSQL converts each value
 * to its column's type. A table that does not exist is made on first use
 * (columns TEXT, the payload column JSONB). Names are SQL identifiers
 * (letters, digits, _; the table may be schema.table), folded to lower
 * case as PostgreSQL does with unquoted names.
 *
 * libpq blocks, so each connection string has a worker thread with a
 * queue of at most SINK_POSTGRES_MAX_QUEUE rows; past that a message is
 * dropped and counted. The worker writes up to 100 waiting rows in one
 * transaction (row by row when one of them fails), and while the server is
 * down fails rows at once and tries to connect again at most once a second:
 * a dead database costs the broker neither time nor unbounded memory.
 *
 * Loop thread only (the workers are internal).
 */
#ifndef UMBRA_SINK_POSTGRES_H
#define UMBRA_SINK_POSTGRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct rule_ticket;
struct rule_action;
struct sql_message;

#define SINK_POSTGRES_MAX_QUEUE 10000
#define SINK_POSTGRES_BATCH 100

/* Queue one row; t is done when it is written (or not), or now. */
void sink_postgres_insert(struct umbra_server *s, struct rule_ticket *t,
                          const struct rule_action *a, const struct sql_message *m,
                          const uint8_t *body, size_t len, bool is_raw);

/* Stop: the workers write what waits (for at most 2 s), then end. */
void sink_postgres_stop(struct umbra_server *s);

#endif
