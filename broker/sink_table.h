/*
 * sink_table.h - the rules engine's dynamoDB and dynamoDBv2 actions on this
 * machine: rows of tables ("ddb_" + tableName) in the data directory's
 * database, written with the broker's own persistence batch, so a row is
 * as durable as the message that made it and never costs the loop a
 * database call.
 *
 * Loop thread only.
 */
#ifndef UMBRA_SINK_TABLE_H
#define UMBRA_SINK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct rule_action;
struct sql_message;

/* dynamoDB: the keys from their templates, the result in payloadField.
 * NULL, or why not (sink_queue_full when the batch is full). */
const char *sink_table_put_row(struct umbra_server *s, const struct rule_action *a,
                               const struct sql_message *m, const uint8_t *body, size_t len,
                               bool is_raw);

/* dynamoDBv2: each top-level attribute of the result (a JSON object) is a
 * column. NULL, or why not. */
const char *sink_table_put_item(struct umbra_server *s, const struct rule_action *a,
                                const uint8_t *body, size_t len, bool is_raw);

#endif
