/*
 * usage_rules.h - AWS IoT Core's metering rules: what one operation costs
 * in billable units. Pure arithmetic, no I/O: the meter (usage_meter.h)
 * counts with it on the loop thread, umbractl for its registry operations.
 *
 * The rules (AWS "IoT Core additional metering details"):
 * - messages are metered in 5 KB (5,120 byte) increments, at least one per
 *   metered packet: a PUBLISH by its topic and payload, a CONNECT by its
 *   whole size (will topic and payload included), a SUBSCRIBE topic filter
 *   by its length, a PUBACK from a device as one message;
 * - HTTP bodies are metered in 5 KB increments too; a response without a
 *   body costs nothing, a request at least one message;
 * - registry and shadow operations in 1 KB (1,024 byte) increments of the
 *   record, at least one;
 * - connectivity in 1-minute increments, the first minute when the client
 *   connects;
 * - rules triggered and actions applied in 5 KB increments of the message,
 *   a rule with no action counting one.
 */
#ifndef UMBRA_USAGE_RULES_H
#define UMBRA_USAGE_RULES_H

#include <stdint.h>

#define USAGE_MESSAGE_BYTES 5120u
#define USAGE_RECORD_BYTES 1024u
#define USAGE_MINUTE_MS 60000u

/* What AWS bills, in the order of the usage table's columns. */
enum usage_counter {
    USAGE_CONNECTION_MINUTES,
    USAGE_MESSAGES,
    USAGE_REGISTRY_SHADOW_OPS,
    USAGE_RULES_TRIGGERED,
    USAGE_ACTIONS_APPLIED,
    USAGE_NCOUNTERS
};

struct usage_counts {
    uint64_t n[USAGE_NCOUNTERS];
};

/* The JSON names get-usage prints and price tables use, by counter. */
extern const char *const usage_counter_names[USAGE_NCOUNTERS];

/* 5 KB messages for `bytes` of a metered packet: at least 1. */
uint64_t usage_messages(uint64_t bytes);
/* 5 KB messages for an HTTP body: 0 for an empty one. */
uint64_t usage_body_messages(uint64_t bytes);
/* 1 KB registry or shadow operations for a record of `bytes`: at least 1. */
uint64_t usage_operations(uint64_t bytes);
/* Connection minutes owed after `elapsed_ms` connected: at least 1. */
uint64_t usage_minutes(uint64_t elapsed_ms);
/* Actions a triggered rule applies: its actions, at least one. */
uint64_t usage_actions(uint64_t nactions);
/* The UTC hour (seconds since the epoch / 3600) of a wall-clock time. */
uint64_t usage_hour(uint64_t epoch_ms);

/* Add every counter of b to a. */
void usage_counts_add(struct usage_counts *a, const struct usage_counts *b);
int usage_counts_is_zero(const struct usage_counts *c);

#endif
