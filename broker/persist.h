/*
 * persist.h - durable broker state in SQLite, written behind the loop.
 *
 * The loop thread records changes (retained set/clear, persistent sessions,
 * their subscriptions, their queued and in-flight deliveries, incoming QoS 2
 * ids) as operations in the current batch; nothing touches SQLite on the
 * message path. Once per loop turn persist_flush() hands the batch to a
 * writer thread, which applies it in one transaction and reports back on
 * the loop with the batch's epoch. The broker holds every acknowledgement
 * that depends on a batch (PUBACK, PUBREC, SUBACK, CONNACK) until that epoch
 * is committed: what Umbra acknowledged survives kill -9.
 *
 * With persist_sync "normal" a commit reaches the OS (survives a killed
 * daemon); "full" also fsyncs it (survives power loss).
 */
#ifndef UMBRA_PERSIST_H
#define UMBRA_PERSIST_H

#include "message.h"
#include "usage_rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct persist;

/* Called on the loop thread after batch `epoch` (and all before it) commit. */
typedef void (*persist_committed_fn)(void *ctx, uint64_t epoch);

/*
 * Open (creating) DIR/umbra.db and its schema. The writer thread starts on
 * persist_start(), after loading. Caller frees with persist_close().
 */
int persist_open(struct persist **out, const char *path, bool sync_full);

/* Startup load, in this order: retained, messages, sessions, subscriptions,
 * deliveries (per session in seq order), incoming QoS 2 ids. Callbacks
 * return 0 to continue or an error to stop the load. Strings are borrowed. */
struct persist_loader {
    void *ctx;
    int (*retained)(void *ctx, const char *topic, size_t topic_len, const void *payload,
                    size_t payload_len, uint8_t qos);
    int (*message)(void *ctx, uint64_t id, const char *topic, size_t topic_len, const void *payload,
                   size_t payload_len, uint8_t qos);
    int (*session)(void *ctx, const char *client_id, size_t len, uint64_t offline_since_ms);
    int (*subscription)(void *ctx, const char *client_id, size_t len, const char *filter,
                        size_t filter_len, uint8_t qos);
    int (*delivery)(void *ctx, const char *client_id, size_t len, uint64_t seq, uint64_t msg_id,
                    uint8_t qos, uint8_t state, uint16_t packet_id, bool is_retained);
    int (*incoming_qos2)(void *ctx, const char *client_id, size_t len, uint16_t packet_id);
    /* Device shadows: key "THING/SHADOW" ("THING/" for the classic one), the
     * stored document as JSON. May be NULL. */
    int (*shadow)(void *ctx, const char *key, size_t klen, const char *doc, size_t dlen);
};
int persist_load(struct persist *p, const struct persist_loader *l);

/* Start the writer thread, reporting commits on `loop`. */
int persist_start(struct persist *p, uv_loop_t *loop, persist_committed_fn fn, void *ctx);

/* Epoch of the batch being collected, and the last one committed. */
uint64_t persist_epoch(const struct persist *p);
uint64_t persist_committed(const struct persist *p);
/* Nanoseconds the last committed batch took from BEGIN to COMMIT (writer
 * thread time), for the committed callback to record. */
uint64_t persist_last_commit_ns(const struct persist *p);
/* Number of operations recorded so far (to see whether a call added any). */
uint64_t persist_op_count(const struct persist *p);

/* Operations. Strings are copied; messages are referenced until written. */
void persist_retain_set(struct persist *p, struct umbra_msg *m);
void persist_retain_del(struct persist *p, const char *topic, size_t len);
void persist_session_put(struct persist *p, const char *client_id, size_t len,
                         uint64_t offline_since_ms);
/* Deletes the session with its subscriptions, deliveries and QoS 2 ids. */
void persist_session_del(struct persist *p, const char *client_id, size_t len);
void persist_sub_put(struct persist *p, const char *client_id, size_t len, const char *filter,
                     size_t filter_len, uint8_t qos);
void persist_sub_del(struct persist *p, const char *client_id, size_t len, const char *filter,
                     size_t filter_len);
/* Store the message once (assigns m->db_id if 0) and count a reference. */
void persist_msg_ref(struct persist *p, struct umbra_msg *m);
/* Drop a reference; deletes the row with the last one. */
void persist_msg_unref(struct persist *p, struct umbra_msg *m);
void persist_delivery_put(struct persist *p, const char *client_id, size_t len, uint64_t seq,
                          const struct umbra_msg *m, uint8_t qos, uint8_t state, uint16_t packet_id,
                          bool is_retained);
void persist_delivery_del(struct persist *p, const char *client_id, size_t len, uint64_t seq);
void persist_incoming_qos2(struct persist *p, const char *client_id, size_t len, uint16_t packet_id,
                           bool present);

/* Hand the collected batch to the writer if it is idle (once per loop turn). */
/* A device shadow's stored document (JSON text), or its removal. */
void persist_shadow_put(struct persist *p, const char *key, size_t klen, const char *doc,
                        size_t dlen);
void persist_shadow_del(struct persist *p, const char *key, size_t klen);

/*
 * A row for the rules engine's table sink (dynamoDB actions): table name
 * and the row as JSON (see persist.c). Written with the batch; a row its
 * table refuses is logged and dropped without failing the batch. Returns
 * UMBRA_ELIMIT when the batch being filled is full (PERSIST_MAX_RULE_ROWS
 * operations): the sink drops and counts rather than buffer without bound.
 */
#define PERSIST_MAX_RULE_ROWS 100000
int persist_rule_row(struct persist *p, const char *table, size_t tlen, const char *row,
                     size_t rlen);

/* Add counts to the usage row of (hour, client id): usage_meter.h's flush. */
void persist_usage_add(struct persist *p, uint64_t hour, const char *client_id, size_t len,
                       const struct usage_counts *counts);

void persist_flush(struct persist *p);
/* Stop: write everything collected, wait, join the writer, close the DB. */
void persist_close(struct persist *p);

#endif
