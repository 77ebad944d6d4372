/*
 * conn.h - one client connection: a libuv TCP stream, its framing state,
 * its output buffer and its keepalive.
 *
 * Input: reads land in the server's shared read buffer and are decoded in
 * place; only the tail of a packet split across reads is copied into the
 * connection's own buffer, so an idle connection holds no buffer at all.
 * Output: packets are appended to the connection's output buffer and
 * written once per loop turn (uv_try_write, then uv_write for what the
 * kernel did not take). Output that acknowledges durable state is gated:
 * it waits until the persistence batch it depends on is committed.
 */
#ifndef UMBRA_CONN_H
#define UMBRA_CONN_H

#include "buf.h"
#include "message.h"
#include "mqtt_codec.h"
#include "server.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct umbra_profile;
struct tls_context;
struct tls_conn;

enum conn_state {
    CONN_NEW,       /* accepted, waiting for CONNECT */
    CONN_CONNECTED, /* CONNACK 0 sent */
    CONN_CLOSING,   /* uv_close called */
};

struct umbra_listener {
    uv_tcp_t tcp;
    struct umbra_server *server;
    const struct umbra_profile *profile;
    const char *kind;        /* "mqtt", "mqtts" or "https" */
    bool is_http;            /* connections speak HTTP/1.1 (the REST data plane), not MQTT */
    struct tls_context *tls; /* NULL for plain TCP; owned by the server */
    char addr[80];
};

struct conn_gate {
    uint64_t epoch;  /* persistence batch that must commit first */
    uint64_t offset; /* first gated byte, counted in out_total */
};

struct conn_write_req;

/* What only TLS connections carry, kept apart so plain ones do not pay. */
struct http_conn;

struct conn_tls {
    struct tls_conn *engine;
    struct http_conn *http; /* on an https listener, once admitted */
    bool is_admitted; /* the client certificate was accepted */
    char cert_id[65]; /* its id, once admitted */
};

struct umbra_conn {
    /* First: the handle's address is the connection's. Its data field holds
     * the listener (and through it the server): one pointer fewer in a
     * struct every idle client pays for. */
    uv_tcp_t tcp;
    struct umbra_session *session;   /* NULL until CONNECT succeeds */
    struct conn_list link;           /* server->conns */
    struct conn_list dirty_link;     /* server->dirty when output is pending */
    struct conn_list turn_link;      /* server->turn_paused while is_turn_paused */

    struct buf *in; /* partial packet carried between reads; NULL if none */
    struct buf out; /* bytes not yet handed to the kernel */
    struct conn_write_req *writing;
    uint64_t out_total; /* bytes ever appended to out */
    uint64_t out_sent;  /* bytes ever taken out of out */
    struct conn_gate gates[2];
    struct umbra_msg *will; /* NULL when there is none */
    struct conn_tls *tls;   /* NULL on plain listeners */
    uint64_t connected_ms;  /* loop time of the accepted CONNECT: connection minutes */

    /* Milliseconds of loop time, truncated: only differences of at most
     * a day and a half (1.5 x 65535 s keepalive) are ever taken. */
    uint32_t accepted_ms;
    uint32_t last_rx_ms;
    uint32_t minutes_metered; /* connection minutes counted so far (usage_meter.h) */
    uint16_t keepalive; /* effective, seconds; 0 = none */
    uint8_t ngates;
    uint8_t out_idle_ticks;
    uint8_t state;
    uint8_t will_qos;
    bool will_retain;
    bool is_dirty;
    bool is_clean_disconnect; /* DISCONNECT received: no will */
    bool is_read_paused;      /* too much unsent output: stop reading */
    bool is_turn_paused;      /* this loop turn's input budget is spent: read next turn */

    /* The peer's address, kept compact (28 bytes, not a formatted string:
     * this struct is paid for once per idle client). */
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } peer;
};

static inline struct umbra_listener *conn_listener(const struct umbra_conn *c)
{
    return (struct umbra_listener *)c->tcp.data;
}

/* "ip:port" or "[ip6]:port" of the peer, for logs. Returns out. */
#define CONN_PEER_MAX 64
const char *conn_peer(const struct umbra_conn *c, char *out, size_t cap);

/* Start listening; the listener is owned by the server. */
int listener_start(struct umbra_server *s, const char *kind, const char *spec,
                   const struct umbra_profile *profile, struct tls_context *tls);
void listener_close(struct umbra_listener *l);

/* Append bytes to the output (a, then b; either may be empty). Marks the
 * connection for this turn's flush. Returns 0 or UMBRA_ENOMEM. */
int conn_write(struct umbra_conn *c, const void *a, size_t alen, const void *b, size_t blen);
/* Everything appended from now on waits for persistence batch `epoch`. */
void conn_gate(struct umbra_conn *c, uint64_t epoch);
/* The same, for output appended since the connection's out_total was `offset`. */
void conn_gate_from(struct umbra_conn *c, uint64_t epoch, uint64_t offset);
/* Too much output pending: hold back deliveries. */
bool conn_is_congested(const struct umbra_conn *c);

/* Input taken per loop turn before connections wait for the next one. */
#define CONN_TURN_READ_BUDGET (256 * 1024)

/* A new loop turn: connections paused for the input budget read again. */
void conn_resume_turn(struct umbra_server *s);

/* Close with a reason for the log; sends the will unless the client said
 * DISCONNECT. Safe to call twice. `why` classifies it for the metrics;
 * conn_close() is a protocol error. */
void conn_close_for(struct umbra_conn *c, enum umbra_close_reason why, const char *reason);
void conn_close(struct umbra_conn *c, const char *reason);

/* Called once per loop turn: write the output of every dirty connection. */
void conn_flush_all(struct umbra_server *s);
/* Called by the server's 1 s tick: keepalive and CONNECT deadlines. */
void conn_tick(struct umbra_conn *c, uint64_t now_ms);

/* Packet handlers (handle_*.c). Each returns 0, or an error after which the
 * caller closes the connection (the handler has logged why). */
int handle_connect(struct umbra_conn *c, const struct mqtt_frame *f);
int handle_publish(struct umbra_conn *c, const struct mqtt_publish *p, const struct mqtt_frame *f);
int handle_ack(struct umbra_conn *c, int type, uint16_t packet_id);
int handle_subscribe(struct umbra_conn *c, const struct mqtt_subscribe *sub);
int handle_unsubscribe(struct umbra_conn *c, const struct mqtt_unsubscribe *unsub);

#endif
