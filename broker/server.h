/*
 * server.h - the broker: one libuv loop owning every session, the trie,
 * retained messages, listeners and connections.
 *
 * Loop thread only (the persistence writer is the one other thread, and it
 * only sees its own batches). Nothing here locks.
 */
#ifndef UMBRA_SERVER_H
#define UMBRA_SERVER_H

#include "config.h"
#include "metrics.h"
#include "session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct umbra_conn;
struct umbra_listener;
struct persist;
struct trie;
struct retain_store;
struct strmap;
struct registry;
struct tls_context;
struct metrics_http;

/* Why a connection closed (umbra_disconnects_total{reason}). */
enum umbra_close_reason {
    UMBRA_CLOSE_PROTOCOL_ERROR,  /* the default: a packet broke the protocol or a limit */
    UMBRA_CLOSE_CLIENT,          /* the client sent DISCONNECT */
    UMBRA_CLOSE_CONNECTION_LOST, /* end of stream, reset, a failed read or write */
    UMBRA_CLOSE_KEEPALIVE,
    UMBRA_CLOSE_TIMEOUT, /* no CONNECT, TLS handshake, or HTTP request in time */
    UMBRA_CLOSE_TAKEN_OVER,
    UMBRA_CLOSE_POLICY,      /* iot:Connect or iot:Publish denied */
    UMBRA_CLOSE_CERTIFICATE, /* refused or no longer allowed (revoked, inactive) */
    UMBRA_CLOSE_TLS,         /* a TLS error */
    UMBRA_CLOSE_LIMIT,       /* max_connections */
    UMBRA_CLOSE_SERVER_STOP,
    UMBRA_CLOSE_ERROR, /* out of memory, or another failure of the broker's own */
    UMBRA_CLOSE_NREASONS
};

/* How a CONNECT ended (umbra_connects_total{result}). */
enum umbra_connect_result {
    UMBRA_CONNECT_ACCEPTED,
    UMBRA_CONNECT_BAD_PROTOCOL,   /* CONNACK 1 */
    UMBRA_CONNECT_ID_REJECTED,    /* CONNACK 2 */
    UMBRA_CONNECT_UNAVAILABLE,    /* CONNACK 3 */
    UMBRA_CONNECT_NOT_AUTHORIZED, /* iot:Connect denied: closed without CONNACK, as AWS */
    UMBRA_CONNECT_MALFORMED,      /* closed without CONNACK: bad packet or will */
    UMBRA_CONNECT_NRESULTS
};

/* Why a message was not delivered to a subscriber (umbra_messages_dropped_total). */
enum umbra_drop_reason {
    UMBRA_DROP_QUEUE_FULL,   /* the session queue's bounds */
    UMBRA_DROP_OFFLINE_QOS0, /* QoS 0 is not kept for an offline session */
    UMBRA_DROP_OUT_OF_MEMORY,
    UMBRA_DROP_NREASONS
};

/* Why a TLS connection was not admitted (umbra_tls_handshake_failures_total). */
enum umbra_tls_failure {
    UMBRA_TLS_NO_CLIENT_CERT,
    UMBRA_TLS_UNKNOWN_CERT,    /* not registered */
    UMBRA_TLS_CERT_NOT_ACTIVE, /* revoked, inactive, expired, not yet valid, or its CA inactive */
    UMBRA_TLS_PROTOCOL,        /* the handshake failed */
    UMBRA_TLS_TIMEOUT,
    UMBRA_TLS_NFAILURES
};

#define UMBRA_STATS_POLICY_ACTIONS 32 /* >= POLICY_NACTIONS, checked in auth.c */

/*
 * Counters published on $SYS and as metrics (metrics_scrape.c). Plain
 * integers incremented on the loop thread: no atomics, no locks, and the
 * message path only ever adds to a field it already has in cache.
 */
struct umbra_stats {
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t msgs_dropped; /* $SYS: every reason but offline_qos0 */
    uint64_t connections_total;
    uint64_t clients_connected;
    uint64_t clients_maximum;
    uint64_t publish_denied; /* PUBLISH refused by policy (the client is disconnected) */

    uint64_t msgs_received_by_qos[3];
    uint64_t msgs_sent_by_qos[3];
    uint64_t dropped[UMBRA_DROP_NREASONS];
    uint64_t connects[UMBRA_CONNECT_NRESULTS];
    uint64_t disconnects[UMBRA_CLOSE_NREASONS]; /* MQTT listeners only */
    uint64_t tls_handshakes;                    /* completed, before admission */
    uint64_t tls_failures[UMBRA_TLS_NFAILURES];
    uint64_t auth_failures[2]; /* certificates refused: [0] mqtts, [1] https */
    uint64_t policy_denials[UMBRA_STATS_POLICY_ACTIONS]; /* by enum policy_action */
    uint64_t shadow_ops[3][2];                           /* [enum shadow_op][is_rejected] */
    struct metrics_histogram persist_commit;             /* seconds from BEGIN to COMMIT */
    struct metrics_histogram delivery_latency;           /* seconds from PUBLISH read to written */
    uint64_t latency_sampled_turn; /* the loop turn that took the last latency sample */
};

/* Intrusive doubly linked list node. */
struct conn_list {
    struct conn_list *prev, *next;
};

/* One recipient of a publish, gathered before delivering. */
struct route_target {
    struct umbra_session *session;
    uint8_t qos;
};

/* Reads the configuration again for a reload: fills out (already
 * config_init'ed) from the same sources as at start, or returns nonzero
 * with a message in err. */
typedef int (*server_config_loader)(void *ctx, struct umbra_config *out, char *err, size_t errlen);

struct umbra_server {
    uv_loop_t *loop;
    const struct umbra_config *cfg; /* the start-up one, then the last one reloaded */
    struct umbra_config *reloaded;  /* owned: what cfg points at after a reload */
    server_config_loader load_config;
    void *load_config_ctx;
    const char *config_file; /* -c FILE, for the log; NULL when there is none */
    struct session_limits limits;
    size_t max_packet_size;
    size_t max_out_bytes; /* output a connection may hold before it is congested */

    struct persist *persist;
    struct trie *trie;
    struct retain_store *retained;
    struct strmap *sessions; /* client id -> struct umbra_session */

    struct conn_list conns; /* every live connection */
    struct conn_list dirty; /* connections with output to flush this turn */
    struct conn_list turn_paused; /* connections that read their share of this turn */
    size_t turn_read_bytes;       /* input taken this turn, against CONN_TURN_READ_BUDGET */
    uint64_t nconns;
    uint64_t next_conn_id;
    uint64_t http_requests; /* HTTPS requests answered: request ids */
    uint64_t generated_ids; /* client ids made for empty CONNECT ids */

    /* Identity: the registry (not on the message path) and, for the TLS
     * listener, a cache of what admitting a certificate needs. */
    struct registry *registry;
    struct strmap *trust; /* certificate id -> struct trust_entry */
    /* Authorization (auth.c): policy sets by principal ARN, the plain
     * listener's policy, every client's auth, "arn:aws:iot:REGION:ACCOUNT:". */
    struct strmap *policy_sets;
    struct policy_set *plain_policies;
    struct policy_set *admin_policies; /* allow all: umbractl's certificate */
    char admin_cert_id[65];            /* "" when there is none */
    char admin_principal[256];
    struct conn_list auths;
    char arn_prefix[96];
    /* Device shadows (shadow_service.c): documents by "THING/SHADOW", and
     * replies waiting for their batch to commit, oldest first. */
    struct strmap *shadows;
    struct shadow_reply *shadow_replies, *shadow_replies_tail;
    struct umbra_rules *rules; /* the enabled topic rules (rules_service.c) */
    struct usage_meter *usage; /* what AWS would bill, per client (usage_meter.c) */
    unsigned s3_pending;       /* s3 objects being written (sink_s3.c) */
    struct sink_http *http;    /* libcurl on the loop, made on first use (sink_http.c) */
    struct pg_worker *postgres; /* a worker per connection string (sink_postgres.c) */
    uint64_t rule_counters_sum; /* what rule-counters.json last showed (rule_counters.c) */
    bool rule_counters_writing;
    uint64_t registry_counter;
    struct tls_context *tls;       /* MQTT listeners (ALPN x-amzn-mqtt-ca, mqtt) */
    struct tls_context *https_tls; /* HTTPS listener (ALPN x-amzn-http-ca, http/1.1) */
    uint8_t *tls_plain; /* decrypted bytes of one read, shared like read_buf */
    size_t tls_plain_size;

    struct umbra_listener *listeners[4];
    int nlisteners;

    uv_prepare_t flush_handle;
    uv_timer_t tick_timer;
    uv_timer_t sys_timer;
    uv_signal_t sigint_handle, sigterm_handle, sighup_handle;
    bool is_stopping;
    bool is_ready;    /* server_start finished: listeners up, database open */
    bool has_handles; /* timers, signals and the flush hook are initialised */

    /* Shared, reused buffers: one read buffer for all connections (reads are
     * handled to completion before the next), and encode scratch space. */
    uint8_t *read_buf;
    size_t read_buf_size;
    uint8_t *scratch; /* per-recipient encoding */
    uint8_t *hdr0;    /* the QoS 0 PUBLISH header shared by one fan-out */
    size_t scratch_size;

    /* Publish fan-out scratch. */
    struct route_target *targets;
    uint32_t ntargets, targets_cap;
    uint64_t match_epoch;
    uint64_t turns;         /* loop turns flushed: one latency sample per turn at most */
    bool is_timing_publish; /* a client's PUBLISH is being routed: stamp new messages */

    struct metrics_http *metrics; /* the metrics listener (metrics_http.c); NULL when off */

    struct umbra_stats stats;
    uint64_t start_ms;
    uint64_t last_expiry_scan_ms;
};

/* Set up the server with its configuration (borrowed, must outlive it). */
int server_init(struct umbra_server *s, uv_loop_t *loop, const struct umbra_config *cfg);
/* Open the data dir, load state, bind listeners, start timers and signals. */
int server_start(struct umbra_server *s);
/* Begin a clean stop: close listeners and connections, flush, let the loop end. */
void server_stop(struct umbra_server *s);
/* Free everything after the loop has returned. */
void server_free(struct umbra_server *s);

uint64_t server_now_ms(const struct umbra_server *s);

/* May a connection with this certificate id be admitted now? Returns true,
 * or false with a static reason for the log. */
bool server_certificate_allowed(struct umbra_server *s, const char *cert_id, const char **why);
/* Is the certificate in the trust cache (registered), whatever its status? */
bool server_certificate_is_known(struct umbra_server *s, const char *cert_id);
/* Reload the certificate cache if the registry changed, closing connections
 * whose certificate may no longer connect. Cheap when nothing changed. */
void server_refresh_registry(struct umbra_server *s);

/* SIGHUP reads the configuration through fn (see reload.h); without one
 * it only re-reads the certificate files. file (borrowed) names it in logs. */
void server_set_config_loader(struct umbra_server *s, server_config_loader fn, void *ctx,
                              const char *file);
/* New TLS connections use the certificate and key now on disk (SIGHUP). */
void server_reload_tls(struct umbra_server *s);
/* Rebuild the trust, policy and rule caches from the registry now, even if
 * its change counter has not moved. */
void server_reload_registry(struct umbra_server *s);
/* Tell the service manager (notify.h) the listeners accept connections. */
void server_notify_ready(struct umbra_server *s);
/* (Re)start the $SYS timer for cfg->sys_interval; 0 stops it. */
void server_start_sys_timer(struct umbra_server *s);

/* Session table. */
struct umbra_session *server_session_find(struct umbra_server *s, const char *id, size_t len);
/* Create and register a session. NULL on allocation failure. */
struct umbra_session *server_session_create(struct umbra_server *s, const char *id, size_t len,
                                            bool is_clean);
/* Unsubscribe everything, forget it (and its rows when persisted), free it. */
void server_session_destroy(struct umbra_server *s, struct umbra_session *sess);

#endif
