/*
 * session.h - an MQTT session: what outlives a connection.
 *
 * A session holds the client's subscriptions, the messages in flight to it
 * (sent, not yet acknowledged), the messages queued behind them, and the
 * QoS 2 packet ids it sent us that await PUBREL. A connection points at its
 * session; a persistent session (clean session 0) stays when the
 * connection goes. This module is the bookkeeping only: bounds, drop
 * policy, packet ids. No I/O, no libuv; the router decides when to send.
 */
#ifndef UMBRA_SESSION_H
#define UMBRA_SESSION_H

#include "message.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_conn;
struct umbra_profile;

enum delivery_state {
    DLV_QUEUED = 0,      /* not sent yet */
    DLV_WAIT_PUBACK = 1, /* QoS 1 sent */
    DLV_WAIT_PUBREC = 2, /* QoS 2 sent */
    DLV_WAIT_PUBCOMP = 3 /* QoS 2, PUBREL sent */
};

/* One message on its way to one session. */
struct umbra_delivery {
    struct umbra_msg *msg; /* one reference owned by the delivery */
    uint64_t seq;          /* database row key; 0 = not persisted */
    uint16_t packet_id;    /* 0 until sent */
    uint8_t qos;
    uint8_t state;       /* enum delivery_state */
    uint8_t is_retained; /* sent with RETAIN=1 (retained on subscribe) */
    uint8_t is_dup;      /* sent before: DUP=1 on the next send */
};

struct session_sub {
    char *filter; /* NUL-terminated, owned */
    uint16_t len;
    uint8_t qos;
};

/* Queue bounds, from the configuration. */
struct session_limits {
    uint32_t max_inflight;
    uint32_t max_queued_messages;
    uint64_t max_queued_bytes;
};

struct umbra_session {
    char *client_id; /* NUL-terminated, inside the session's allocation */
    uint16_t client_id_len;
    bool is_clean;                       /* clean session 1: dies with its connection */
    bool is_persisted;                   /* has a row in the database */
    const struct umbra_profile *profile; /* of the last connection */
    struct umbra_conn *conn;             /* NULL while offline */
    uint64_t offline_since_ms;

    struct session_sub *subs;
    uint32_t nsubs, subs_cap;

    /* Sent and unacknowledged, in send order; at most max_inflight. */
    struct umbra_delivery *inflight;
    uint32_t ninflight, inflight_cap;

    /* Waiting to be sent, a ring buffer in arrival order. */
    struct umbra_delivery *queue;
    uint32_t qhead, qlen, qcap;
    uint32_t queued_qos0;
    uint64_t queued_bytes;

    /* QoS 2 packet ids received and answered with PUBREC, awaiting PUBREL. */
    uint16_t *incoming_qos2;
    uint32_t nincoming_qos2, incoming_qos2_cap;

    /* What this client may do (broker/auth.h); NULL when everything. Held
     * by the session so deliveries while offline are checked too. */
    struct umbra_auth *auth;
    struct usage_acc *usage; /* this client's usage meter (usage_meter.h); may be NULL */

    uint16_t last_packet_id;
    uint64_t next_seq;
    uint64_t dropped; /* messages dropped because the queue was full */

    /* Router scratch: merges overlapping subscriptions of one publish. */
    uint64_t match_epoch;
    uint32_t match_slot;
};

/* Caller frees with session_free(). NULL on allocation failure. */
struct umbra_session *session_new(const char *client_id, size_t len);
/* Frees subscriptions, deliveries (dropping their message references). */
void session_free(struct umbra_session *s);

/* Add or update a subscription; *existed says whether it was there. */
int session_sub_set(struct umbra_session *s, const char *filter, size_t len, uint8_t qos,
                    bool *existed);
/* Borrowed subscription with exactly that filter, or NULL. */
struct session_sub *session_sub_find(struct umbra_session *s, const char *filter, size_t len);
/* Remove; UMBRA_ENOTFOUND if absent. */
int session_sub_del(struct umbra_session *s, const char *filter, size_t len);

/* A packet id not in use by an in-flight delivery (never 0). */
uint16_t session_next_packet_id(struct umbra_session *s);

/*
 * Queue a delivery at the back (takes over d->msg's reference).
 * When the queue is at a bound: the oldest queued QoS 0 delivery is dropped
 * to make room; if there is none, the new delivery is dropped when it is QoS
 * 0 or when a QoS 1/2 delivery cannot fit either. Drops increment
 * s->dropped and release the message reference.
 * Returns 0 if queued, UMBRA_ELIMIT if the new delivery was dropped,
 * UMBRA_ENOMEM (dropped as well).
 */
int session_enqueue(struct umbra_session *s, const struct session_limits *lim,
                    struct umbra_delivery *d);
/* Queue at the front (messages taken back from flight on reconnect). */
int session_enqueue_front(struct umbra_session *s, struct umbra_delivery *d);
/* Would a message of this size fit in the queue as it is (no QoS 0 evicted)? */
bool session_has_room(const struct umbra_session *s, const struct session_limits *lim,
                      size_t payload_len);
/* Pop the oldest queued delivery into *d; false if none. Caller owns d->msg. */
bool session_dequeue(struct umbra_session *s, struct umbra_delivery *d);
static inline uint32_t session_queued(const struct umbra_session *s)
{
    return s->qlen;
}

/* Append to the in-flight list (takes over d->msg's reference). */
int session_inflight_add(struct umbra_session *s, const struct umbra_delivery *d);
/* Borrowed pointer to the in-flight delivery with that id, or NULL. */
struct umbra_delivery *session_inflight_find(struct umbra_session *s, uint16_t packet_id);
/* Remove it, moving it to *out (caller owns out->msg). false if absent. */
bool session_inflight_take(struct umbra_session *s, uint16_t packet_id, struct umbra_delivery *out);

/* Incoming QoS 2 ids: has / add / remove. */
bool session_incoming_qos2_has(const struct umbra_session *s, uint16_t packet_id);
int session_incoming_qos2_add(struct umbra_session *s, uint16_t packet_id);
bool session_incoming_qos2_del(struct umbra_session *s, uint16_t packet_id);

/* Drop every delivery and incoming id (clean session restart). */
void session_clear_messages(struct umbra_session *s);

#endif
