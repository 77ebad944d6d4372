/*
 * usage_meter.h - what each client would be billed on AWS IoT Core,
 * counted in memory on the loop thread and written in batches.
 *
 * One accumulator per client id (the thing name, for AWS devices) holds
 * the counters of the current UTC hour. A session keeps a reference to its
 * own, so counting a delivery is one addition through a pointer: no lookup
 * and no allocation on the fan-out path. Counts that belong to no session
 * (shadow operations by thing, HTTPS requests, rules) go through
 * usage_meter_add(), one hash lookup, off the fan-out path.
 *
 * usage_meter_tick() hands every accumulator that moved to the persistence
 * writer (persist_usage_add, which adds to the row of its hour) every
 * flush interval and when the hour changes; usage_meter_flush() does it
 * now (clean shutdown). SQLite is never touched here.
 *
 * Loop thread only.
 */
#ifndef UMBRA_USAGE_METER_H
#define UMBRA_USAGE_METER_H

#include "usage_rules.h"

#include <stddef.h>
#include <stdint.h>

struct persist;
struct usage_meter;

struct usage_acc {
    struct usage_counts counts; /* since the last flush */
    struct usage_acc *next;     /* every accumulator, for the flush */
    uint32_t refs;              /* sessions holding it */
    uint16_t key_len;
    char key[]; /* client id or thing name, NUL-terminated */
};

/* now_ms: wall-clock milliseconds, which the first hour is counted in.
 * NULL on allocation failure. Free with usage_meter_free(). */
struct usage_meter *usage_meter_new(uint64_t now_ms);
void usage_meter_free(struct usage_meter *m);

/* The accumulator of `key` with a reference for the caller (a session),
 * or NULL (out of memory: that client goes unmetered). m may be NULL. */
struct usage_acc *usage_meter_acquire(struct usage_meter *m, const char *key, size_t len);
/* Drop the reference; the accumulator goes after its counts are written. */
void usage_meter_release(struct usage_meter *m, struct usage_acc *a);

/* Count n units on the accumulator a (which may be NULL: not metered). */
static inline void usage_count(struct usage_acc *a, enum usage_counter c, uint64_t n)
{
    if (a) a->counts.n[c] += n;
}

/* Count n units on key's accumulator, making it if needed. */
void usage_meter_add(struct usage_meter *m, const char *key, size_t len, enum usage_counter c,
                     uint64_t n);

/* Count the connection minutes a connection owes after elapsed_ms:
 * *metered is how many it has been charged so far. */
void usage_meter_minutes(struct usage_acc *a, uint32_t *metered, uint64_t elapsed_ms);

/* Write what moved if interval_ms passed since the last write or the UTC
 * hour changed (now_ms is wall-clock). */
void usage_meter_tick(struct usage_meter *m, struct persist *p, uint64_t now_ms,
                      uint64_t interval_ms);
/* Write what moved now, into the hour it was counted in. */
void usage_meter_flush(struct usage_meter *m, struct persist *p, uint64_t now_ms);

#endif
