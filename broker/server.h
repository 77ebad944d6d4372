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

/* Counters published on $SYS (and later as metrics). */
struct umbra_stats {
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t bytes_received;
    uint64_t bytes_sent;
    uint64_t msgs_dropped;
    uint64_t connections_total;
    uint64_t clients_connected;
    uint64_t clients_maximum;
    uint64_t publish_denied; /* PUBLISH refused by policy (the client is disconnected) */
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
