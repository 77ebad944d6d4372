/*
 * conn.c - listeners and client connections on libuv TCP streams.
 *
 * The read path decodes packets straight out of the server's shared read
 * buffer and dispatches them to the handle_*.c functions; the write path
 * batches a connection's output per loop turn (see conn.h). Closing is
 * two-phase: conn_close() detaches the session and sends the will at
 * once, uv_close() frees the memory later.
 */
#include "conn.h"

#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "persist.h"
#include "profile.h"
#include "router.h"
#include "rules_service.h"
#include "tls_engine.h"
#include "usage_meter.h"
#include "cert.h"
#include "http_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A uv_write in progress owns the bytes it writes. */
struct conn_write_req {
    uv_write_t req;
    struct umbra_conn *conn;
    size_t len;
    uint8_t data[];
};

/* ---- intrusive lists ---- */

static void list_insert(struct conn_list *head, struct conn_list *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

static void list_remove(struct conn_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define CONN_OF(ptr, member)                                                                       \
    ((struct umbra_conn *)((char *)(ptr)-offsetof(struct umbra_conn, member)))

/* ---- output ---- */

static void mark_dirty(struct umbra_conn *c)
{
    if (c->is_dirty || c->state == CONN_CLOSING) return;
    c->is_dirty = true;
    list_insert(&conn_listener(c)->server->dirty, &c->dirty_link);
}

int conn_write(struct umbra_conn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    if (c->state == CONN_CLOSING) return UMBRA_EINVAL;
    if (buf_reserve(&c->out, alen + blen)) return UMBRA_ENOMEM;
    buf_append(&c->out, a, alen);
    buf_append(&c->out, b, blen);
    c->out_total += alen + blen;
    conn_listener(c)->server->stats.bytes_sent += alen + blen;
    mark_dirty(c);
    return 0;
}

void conn_gate_from(struct umbra_conn *c, uint64_t epoch, uint64_t offset)
{
    /* Bytes not yet flushed can still be held back; the earliest is out_sent. */
    if (offset < c->out_sent) offset = c->out_sent;
    if (c->ngates && c->gates[c->ngates - 1].epoch >= epoch) return;
    if (c->ngates == sizeof c->gates / sizeof c->gates[0]) {
        /* Full: extend the last gate to the later epoch. Conservative: those
         * bytes wait a little longer, never less. */
        c->gates[c->ngates - 1].epoch = epoch;
        return;
    }
    if (c->ngates && c->gates[c->ngates - 1].offset > offset)
        offset = c->gates[c->ngates - 1].offset;
    c->gates[c->ngates++] = (struct conn_gate){epoch, offset};
}

void conn_gate(struct umbra_conn *c, uint64_t epoch)
{
    conn_gate_from(c, epoch, c->out_total);
}

bool conn_is_congested(const struct umbra_conn *c)
{
    size_t pending = c->out.len + (c->writing ? c->writing->len : 0);
    if (c->tls) pending += tls_conn_outgoing(c->tls->engine)->len;
    return pending >= conn_listener(c)->server->max_out_bytes;
}

/* Bytes of c->out that may go to the kernel now. */
static size_t sendable(struct umbra_conn *c)
{
    uint64_t committed = conn_listener(c)->server->persist
                             ? persist_committed(conn_listener(c)->server->persist)
                             : UINT64_MAX;
    while (c->ngates && c->gates[0].epoch <= committed) {
        memmove(&c->gates[0], &c->gates[1], (size_t)(c->ngates - 1) * sizeof c->gates[0]);
        c->ngates--;
    }
    if (!c->ngates) return c->out.len;
    return (size_t)(c->gates[0].offset - c->out_sent);
}

static void resume_if_drained(struct umbra_conn *c);

static void on_written(uv_write_t *req, int status)
{
    struct conn_write_req *w = (struct conn_write_req *)req;
    struct umbra_conn *c = w->conn;
    c->writing = NULL;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED) conn_close_for(c, UMBRA_CLOSE_CONNECTION_LOST, "write failed");
        return;
    }
    if (c->state == CONN_CLOSING) return;
    mark_dirty(c);
    if (c->session) router_pump(conn_listener(c)->server, c->session);
    resume_if_drained(c);
}

/* Hand n bytes to the kernel: what it does not take now goes in one
 * uv_write that owns a copy. Returns false if the connection was closed. */
static bool send_bytes(struct umbra_conn *c, const uint8_t *data, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == UV_EAGAIN || w == UV_ENOSYS) w = 0;
    if (w < 0) {
        conn_close_for(c, UMBRA_CLOSE_CONNECTION_LOST, "write failed");
        return false;
    }
    if ((size_t)w == n) return true;
    size_t rest = n - (size_t)w;
    struct conn_write_req *req = malloc(sizeof *req + rest);
    if (!req) {
        conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return false;
    }
    req->conn = c;
    req->len = rest;
    memcpy(req->data, data + w, rest);
    uv_buf_t rb = uv_buf_init((char *)req->data, (unsigned)rest);
    if (uv_write(&req->req, (uv_stream_t *)&c->tcp, &rb, 1, on_written)) {
        free(req);
        conn_close_for(c, UMBRA_CLOSE_CONNECTION_LOST, "write failed");
        return false;
    }
    c->writing = req;
    return true;
}

/* n bytes of plaintext output are on their way: account and tidy up. */
static void consumed_output(struct umbra_conn *c, size_t n)
{
    buf_consume(&c->out, n);
    c->out_sent += n;
    c->out_idle_ticks = 0;
    /* A small, empty buffer goes back at once: idle clients then hold
     * none, and the heap has no holes between connection structs. */
    if (c->out.len == 0 && c->out.cap <= 16384) buf_free(&c->out);
}

/* TLS: encrypt what may go, then send all pending ciphertext. */
static bool flush_tls(struct umbra_conn *c, size_t n)
{
    if (n) {
        if (tls_conn_write(c->tls->engine, c->out.data, n)) {
            conn_close_for(c, UMBRA_CLOSE_TLS, "TLS write failed");
            return false;
        }
        consumed_output(c, n);
    }
    struct buf *cipher = tls_conn_outgoing(c->tls->engine);
    if (!cipher->len) return true;
    if (!send_bytes(c, cipher->data, cipher->len)) return false;
    buf_consume(cipher, cipher->len);
    return true;
}

/* Returns false when the connection stays dirty (gated output). */
static bool flush_one(struct umbra_conn *c)
{
    if (c->writing) return true; /* on_written marks it dirty again */
    size_t n = sendable(c);
    if (c->tls) {
        if (!flush_tls(c, n)) return true;
    } else if (n > 0) {
        if (!send_bytes(c, c->out.data, n)) return true;
        consumed_output(c, n);
    }
    /* The window may have room again: let queued messages follow. */
    if (n && !c->writing && c->session && session_queued(c->session) && !conn_is_congested(c))
        router_pump(conn_listener(c)->server, c->session);
    resume_if_drained(c);
    /* HTTP: the last response (Connection: close, or after an error) is out. */
    if (c->tls && http_conn_is_done(c) && c->out.len == 0 && !c->writing &&
        tls_conn_outgoing(c->tls->engine)->len == 0)
        http_conn_linger(c);
    return c->ngates == 0 || c->out.len == 0;
}

void conn_flush_all(struct umbra_server *s)
{
    /* Detach the list first: flushing may dirty connections again. */
    struct conn_list pending = {&pending, &pending};
    if (s->dirty.next == &s->dirty) return;
    pending.next = s->dirty.next;
    pending.prev = s->dirty.prev;
    pending.next->prev = &pending;
    pending.prev->next = &pending;
    s->dirty.next = s->dirty.prev = &s->dirty;
    while (pending.next != &pending) {
        struct conn_list *n = pending.next;
        struct umbra_conn *c = CONN_OF(n, dirty_link);
        list_remove(n);
        c->is_dirty = false;
        if (c->state == CONN_CLOSING) continue;
        if (!flush_one(c) || c->out.len > 0) {
            /* Gated on persistence, or more was queued while flushing. */
            if (c->state != CONN_CLOSING && c->out.len > 0 && !c->writing) mark_dirty(c);
        }
    }
}

/* ---- closing ---- */

static void on_closed(uv_handle_t *h)
{
    struct umbra_conn *c = (struct umbra_conn *)h;
    if (c->in) buf_free(c->in);
    free(c->in);
    buf_free(&c->out);
    msg_unref(c->will);
    if (c->tls) {
        http_conn_free(c);
        tls_conn_free(c->tls->engine);
    }
    free(c->tls);
    free(c);
}

static void detach_session(struct umbra_conn *c)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = c->session;
    if (!sess) return;
    /* The minute it leaves in is a minute connected. */
    usage_meter_minutes(sess->usage, &c->minutes_metered, server_now_ms(s) - c->connected_ms);
    c->session = NULL;
    sess->conn = NULL;
    sess->offline_since_ms = server_now_ms(s);
    if (sess->is_clean) {
        server_session_destroy(s, sess);
        return;
    }
    router_session_offline(s, sess);
    if (sess->is_persisted)
        persist_session_put(s->persist, sess->client_id, sess->client_id_len,
                            sess->offline_since_ms);
}

void conn_close(struct umbra_conn *c, const char *reason)
{
    conn_close_for(c, UMBRA_CLOSE_PROTOCOL_ERROR, reason);
}

void conn_close_for(struct umbra_conn *c, enum umbra_close_reason why, const char *reason)
{
    if (c->state == CONN_CLOSING) return;
    struct umbra_server *s = conn_listener(c)->server;
    if (!conn_listener(c)->is_http) s->stats.disconnects[why]++;
    bool was_connected = c->state == CONN_CONNECTED;
    /* Best effort: a CONNACK with an error code, or acks not gated. */
    if (!c->writing) {
        size_t n = sendable(c);
        if (c->tls && (!n || tls_conn_write(c->tls->engine, c->out.data, n) == 0)) {
            struct buf *cipher = tls_conn_outgoing(c->tls->engine);
            uv_buf_t b = uv_buf_init((char *)cipher->data, (unsigned)cipher->len);
            if (cipher->len) uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        } else if (!c->tls && n) {
            uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)n);
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
    }
    c->state = CONN_CLOSING;
    if (c->is_dirty) {
        list_remove(&c->dirty_link);
        c->is_dirty = false;
    }
    if (c->is_turn_paused) {
        list_remove(&c->turn_link);
        c->is_turn_paused = false;
    }
    list_remove(&c->link);
    s->nconns--;
    char peer[CONN_PEER_MAX];
    conn_peer(c, peer, sizeof peer);
    if (was_connected) {
        s->stats.clients_connected--;
        log_event(UMBRA_LOG_INFO, "client_disconnected",
                  "client disconnected: id={client_id} addr={address} listener={listener} "
                  "reason={reason}",
                  LOG_STR("client_id", c->session ? c->session->client_id : NULL),
                  LOG_STR("address", peer), LOG_STR("listener", conn_listener(c)->kind),
                  LOG_STR("reason", reason));
    } else if (conn_listener(c)->is_http) {
        log_event(UMBRA_LOG_DEBUG, "https_closed",
                  "https connection closed: addr={address} reason={reason}",
                  LOG_STR("address", peer), LOG_JSON_STR("listener", conn_listener(c)->kind),
                  LOG_STR("reason", reason));
    } else {
        log_event(UMBRA_LOG_INFO, "connection_closed",
                  "connection closed before CONNECT completed: addr={address} "
                  "listener={listener} reason={reason}",
                  LOG_STR("address", peer), LOG_STR("listener", conn_listener(c)->kind),
                  LOG_STR("reason", reason));
    }
    struct umbra_msg *will = c->will;
    c->will = NULL;
    /* The will is published after the session may be gone: rules want its client id. */
    char *client_id = will && c->session ? strdup(c->session->client_id) : NULL;
    detach_session(c);
    if (will && !c->is_clean_disconnect && was_connected) {
        router_publish(s, will->topic, will->topic_len, will->payload, will->payload_len,
                       c->will_qos, c->will_retain, will, false);
        struct rules_origin o = {client_id, c->tls ? c->tls->cert_id : NULL};
        rules_service_message(s, will->topic, will->topic_len, will->payload, will->payload_len,
                              &o);
    }
    free(client_id);
    msg_unref(will);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- input ---- */

static int dispatch(struct umbra_conn *c, const struct mqtt_frame *f)
{
    if (c->state == CONN_NEW) {
        if (f->type != MQTT_CONNECT) {
            conn_close(c, "first packet is not CONNECT");
            return UMBRA_EPROTOCOL;
        }
        return handle_connect(c, f);
    }
    struct mqtt_packet pkt;
    int rc = mqtt_decode(f, &pkt);
    if (rc) {
        char why[64];
        snprintf(why, sizeof why, "malformed %s", mqtt_type_name(f->type));
        conn_close(c, why);
        return rc;
    }
    switch (pkt.type) {
    case MQTT_PUBLISH:
        return handle_publish(c, &pkt.u.publish, f);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        return handle_ack(c, pkt.type, pkt.u.ack.packet_id);
    case MQTT_SUBSCRIBE:
        return handle_subscribe(c, &pkt.u.subscribe);
    case MQTT_UNSUBSCRIBE:
        return handle_unsubscribe(c, &pkt.u.unsubscribe);
    case MQTT_PINGREQ: {
        uint8_t resp[2];
        mqtt_encode_empty(resp, sizeof resp, MQTT_PINGRESP);
        return conn_write(c, resp, sizeof resp, NULL, 0);
    }
    case MQTT_DISCONNECT:
        c->is_clean_disconnect = true;
        conn_close_for(c, UMBRA_CLOSE_CLIENT, "client sent DISCONNECT");
        return UMBRA_EPROTOCOL; /* stop reading */
    case MQTT_CONNECT:
        conn_close(c, "second CONNECT");
        return UMBRA_EPROTOCOL;
    default:
        conn_close(c, "packet type only a server may send");
        return UMBRA_EPROTOCOL;
    }
}

/* Decode and handle every whole packet in data; returns bytes consumed. */
static size_t process(struct umbra_conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (c->state != CONN_CLOSING && off < len) {
        struct mqtt_frame f;
        int rc =
            mqtt_frame(data + off, len - off, conn_listener(c)->server->max_packet_size, &f, NULL);
        if (rc == 0) break;
        if (rc < 0) {
            conn_close(c, rc == UMBRA_ETOO_LARGE ? "packet too large" : "malformed packet");
            return len;
        }
        conn_listener(c)->server->stats.bytes_received += f.total_len;
        if (dispatch(c, &f) != 0 && c->state != CONN_CLOSING) conn_close(c, "protocol error");
        off += f.total_len;
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);

/*
 * TCP backpressure: a client that sends faster than it reads (acks it
 * never collects, its own subscriptions) is not read from while its
 * unsent output is over four times the congestion mark. Resumed by
 * flush_one when the output drains.
 */
static void pause_if_flooded(struct umbra_conn *c)
{
    size_t pending = c->out.len + (c->writing ? c->writing->len : 0);
    if (c->is_read_paused || c->state == CONN_CLOSING ||
        pending < 4 * conn_listener(c)->server->max_out_bytes)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->is_read_paused = true;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

static void resume_if_drained(struct umbra_conn *c)
{
    if (!c->is_read_paused || c->state == CONN_CLOSING || conn_is_congested(c)) return;
    c->is_read_paused = false;
    if (c->is_turn_paused) return; /* the next turn starts it */
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
        conn_close_for(c, UMBRA_CLOSE_ERROR, "read failed");
}

/*
 * The input budget of a loop turn. Output is written once per turn
 * (flush_turn), so a turn that read megabytes from many publishers would
 * route more to a subscriber than its output may hold, and the excess QoS 0
 * messages would be dropped: the broker would spend its time reading what
 * it then throws away. Past the budget, a connection that has just been
 * read waits for the next turn, after the flush; TCP holds the rest.
 */
static void pause_for_turn(struct umbra_conn *c, size_t nread)
{
    struct umbra_server *s = conn_listener(c)->server;
    s->turn_read_bytes += nread;
    if (s->turn_read_bytes < CONN_TURN_READ_BUDGET || c->is_turn_paused || c->is_read_paused ||
        c->state == CONN_CLOSING)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->is_turn_paused = true;
    list_insert(&s->turn_paused, &c->turn_link);
}

void conn_resume_turn(struct umbra_server *s)
{
    s->turn_read_bytes = 0;
    while (s->turn_paused.next != &s->turn_paused) {
        struct umbra_conn *c = CONN_OF(s->turn_paused.next, turn_link);
        list_remove(&c->turn_link);
        c->is_turn_paused = false;
        if (c->is_read_paused || c->state == CONN_CLOSING) continue;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
            conn_close_for(c, UMBRA_CLOSE_ERROR, "read failed");
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct umbra_conn *c = (struct umbra_conn *)h;
    *b = uv_buf_init((char *)conn_listener(c)->server->read_buf,
                     (unsigned)conn_listener(c)->server->read_buf_size);
}

/* MQTT bytes, from the socket or out of TLS: decode whole packets, keep a tail. */
static void consume_plaintext(struct umbra_conn *c, const uint8_t *data, size_t len)
{
    if (conn_listener(c)->is_http) {
        http_conn_consume(c, data, len);
        pause_if_flooded(c);
        return;
    }
    if (!c->in || c->in->len == 0) {
        /* The usual case: decode straight from the shared buffer and keep
         * only an incomplete tail. */
        size_t used = process(c, data, len);
        pause_if_flooded(c);
        if (c->state == CONN_CLOSING || used == len) return;
        if (!c->in) c->in = calloc(1, sizeof *c->in);
        if (!c->in || buf_append(c->in, data + used, len - used))
            conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return;
    }
    if (buf_append(c->in, data, len)) {
        conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return;
    }
    size_t used = process(c, c->in->data, c->in->len);
    pause_if_flooded(c);
    if (c->state == CONN_CLOSING) return;
    buf_consume(c->in, used);
    if (c->in->len == 0) {
        buf_free(c->in);
        free(c->in);
        c->in = NULL;
    }
}

/* A certificate was not admitted: counted by reason and by listener. */
static void refused_certificate(struct umbra_conn *c, enum umbra_tls_failure reason)
{
    struct umbra_server *s = conn_listener(c)->server;
    s->stats.tls_failures[reason]++;
    s->stats.auth_failures[conn_listener(c)->is_http]++;
}

/* Right after the handshake: the registry decides (registered, ACTIVE,
 * valid now, CA ACTIVE if it has one). Returns false after closing. */
static bool admit_certificate(struct umbra_conn *c)
{
    size_t len = 0;
    const uint8_t *der = tls_conn_peer_der(c->tls->engine, &len);
    char peer[CONN_PEER_MAX];
    if (!der) {
        log_event(UMBRA_LOG_WARN, "tls_refused", "refused TLS connection from {address}: {reason}",
                  LOG_STR("address", conn_peer(c, peer, sizeof peer)),
                  LOG_JSON_STR("listener", conn_listener(c)->kind),
                  LOG_STR("reason", "no client certificate"));
        refused_certificate(c, UMBRA_TLS_NO_CLIENT_CERT);
        conn_close_for(c, UMBRA_CLOSE_CERTIFICATE, "no client certificate");
        return false;
    }
    char id[CERT_ID_HEX_LEN + 1];
    cert_id_from_der(der, len, id);
    const char *why;
    /* A refusal may come from a cache a moment old (a certificate just
     * created by umbractl): look at the registry before saying no. */
    bool allowed = server_certificate_allowed(conn_listener(c)->server, id, &why);
    if (!allowed) {
        server_refresh_registry(conn_listener(c)->server);
        allowed = server_certificate_allowed(conn_listener(c)->server, id, &why);
    }
    if (!allowed) {
        log_event(UMBRA_LOG_WARN, "tls_refused",
                  "refused TLS connection from {address}: certificate {cert}: {reason}",
                  LOG_STR("address", conn_peer(c, peer, sizeof peer)),
                  LOG_JSON_STR("listener", conn_listener(c)->kind), LOG_STR("cert", id),
                  LOG_STR("reason", why));
        refused_certificate(c, server_certificate_is_known(conn_listener(c)->server, id)
                                   ? UMBRA_TLS_CERT_NOT_ACTIVE
                                   : UMBRA_TLS_UNKNOWN_CERT);
        conn_close_for(c, UMBRA_CLOSE_CERTIFICATE, why);
        return false;
    }
    memcpy(c->tls->cert_id, id, sizeof c->tls->cert_id);
    c->tls->is_admitted = true;
    if (conn_listener(c)->is_http && http_conn_open(c)) {
        conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return false;
    }
    /* The connect timeout starts now: the handshake had its own. */
    c->accepted_ms = (uint32_t)server_now_ms(conn_listener(c)->server);
    return true;
}

static void read_tls(struct umbra_conn *c, const uint8_t *data, size_t len)
{
    if (tls_conn_feed(c->tls->engine, data, len)) {
        conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return;
    }
    bool was_established = tls_conn_is_established(c->tls->engine);
    for (;;) {
        char err[200] = "";
        int n = tls_conn_read(c->tls->engine, conn_listener(c)->server->tls_plain,
                              conn_listener(c)->server->tls_plain_size, err, sizeof err);
        if (!was_established && tls_conn_is_established(c->tls->engine)) {
            was_established = true;
            conn_listener(c)->server->stats.tls_handshakes++;
            if (!admit_certificate(c)) return;
        }
        if (n < 0) {
            if (!was_established)
                conn_listener(c)->server->stats.tls_failures[UMBRA_TLS_PROTOCOL]++;
            conn_close_for(c, UMBRA_CLOSE_TLS, err[0] ? err : "TLS error");
            return;
        }
        if (n == 0) break;
        consume_plaintext(c, conn_listener(c)->server->tls_plain, (size_t)n);
        if (c->state == CONN_CLOSING) return;
    }
    /* Handshake messages (and alerts) wait in the engine: send them. */
    if (tls_conn_outgoing(c->tls->engine)->len) mark_dirty(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct umbra_conn *c = (struct umbra_conn *)st;
    if (nread < 0) {
        conn_close_for(c, UMBRA_CLOSE_CONNECTION_LOST,
                       nread == UV_EOF ? "connection closed by client" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->state == CONN_CLOSING) return;
    c->last_rx_ms = (uint32_t)server_now_ms(conn_listener(c)->server);
    if (c->tls)
        read_tls(c, (const uint8_t *)b->base, (size_t)nread);
    else
        consume_plaintext(c, (const uint8_t *)b->base, (size_t)nread);
    pause_for_turn(c, (size_t)nread);
}

/* ---- accepting ---- */

static void record_peer(struct umbra_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&c->peer, 0, sizeof c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        memcpy(&c->peer, &ss, ss.ss_family == AF_INET6 ? sizeof c->peer.v6 : sizeof c->peer.v4);
}

const char *conn_peer(const struct umbra_conn *c, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (c->peer.sa.sa_family == AF_INET6) {
        uv_ip6_name(&c->peer.v6, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%d", ip, ntohs(c->peer.v6.sin6_port));
    } else {
        if (c->peer.sa.sa_family == AF_INET) uv_ip4_name(&c->peer.v4, ip, sizeof ip);
        snprintf(out, cap, "%s:%d", ip, ntohs(c->peer.v4.sin_port));
    }
    return out;
}

static void on_connection(uv_stream_t *server_handle, int status)
{
    struct umbra_listener *l = server_handle->data;
    struct umbra_server *s = l->server;
    if (status < 0) {
        log_warn("accept on %s failed: %s", l->addr, uv_strerror(status));
        return;
    }
    struct umbra_conn *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("out of memory accepting a connection");
        return;
    }
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = l;
    c->link.prev = c->link.next = &c->link;
    c->dirty_link.prev = c->dirty_link.next = &c->dirty_link;
    c->turn_link.prev = c->turn_link.next = &c->turn_link;
    if (uv_accept(server_handle, (uv_stream_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    s->next_conn_id++;
    c->accepted_ms = c->last_rx_ms = (uint32_t)server_now_ms(s);
    list_insert(&s->conns, &c->link);
    s->nconns++;
    record_peer(c);
    if (s->is_stopping || s->nconns > s->cfg->max_connections) {
        conn_close_for(c, s->is_stopping ? UMBRA_CLOSE_SERVER_STOP : UMBRA_CLOSE_LIMIT,
                       s->is_stopping ? "server stopping" : "too many connections");
        return;
    }
    if (l->tls) {
        c->tls = calloc(1, sizeof *c->tls);
        if (!c->tls || !(c->tls->engine = tls_conn_new(l->tls))) {
            conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
            return;
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
        conn_close_for(c, UMBRA_CLOSE_ERROR, "read failed");
}

int listener_start(struct umbra_server *s, const char *kind, const char *spec,
                   const struct umbra_profile *profile, struct tls_context *tls)
{
    char host[128];
    int port;
    if (config_parse_listen(spec, host, sizeof host, &port)) return UMBRA_ECONFIG;
    if (s->nlisteners == (int)(sizeof s->listeners / sizeof s->listeners[0])) return UMBRA_ELIMIT;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
        log_error("%s: '%s' is not an IP address", kind, host);
        return UMBRA_ECONFIG;
    }
    struct umbra_listener *l = calloc(1, sizeof *l);
    if (!l) return UMBRA_ENOMEM;
    l->server = s;
    l->profile = profile;
    l->kind = kind;
    l->is_http = strcmp(kind, "https") == 0;
    l->tls = tls;
    snprintf(l->addr, sizeof l->addr, "%s", spec);
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc) {
        log_error("%s: cannot listen on %s: %s", kind, spec, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return UMBRA_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    int bport = port;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen) == 0)
        bport = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    s->listeners[s->nlisteners++] = l;
    bool is_insecure = strcmp(kind, "mqtt") == 0;
    log_event(UMBRA_LOG_INFO, "listening",
              is_insecure ? "listening: {listener} on {host} port {port} (profile {profile}, "
                            "insecure: no authentication)"
                          : "listening: {listener} on {host} port {port} (profile {profile})",
              LOG_STR("listener", kind), LOG_STR("host", host), LOG_INT("port", bport),
              LOG_STR("profile", profile->name), LOG_JSON_BOOL("insecure", is_insecure));
    return 0;
}

void listener_close(struct umbra_listener *l)
{
    uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
}

/* ---- timers ---- */

void conn_tick(struct umbra_conn *c, uint64_t now_ms)
{
    if (c->state == CONN_NEW) {
        const struct umbra_config *cfg = conn_listener(c)->server->cfg;
        uint32_t waited = (uint32_t)now_ms - c->accepted_ms;
        if (c->tls && !c->tls->is_admitted) {
            if (waited >= cfg->tls_handshake_timeout * 1000) {
                char peer[CONN_PEER_MAX];
                log_event(UMBRA_LOG_WARN, "tls_handshake_timeout",
                          "dropped TLS connection from {address}: handshake not finished in "
                          "{timeout}s",
                          LOG_STR("address", conn_peer(c, peer, sizeof peer)),
                          LOG_JSON_STR("listener", conn_listener(c)->kind),
                          LOG_INT("timeout", cfg->tls_handshake_timeout),
                          LOG_JSON_STR("reason", "TLS handshake timeout"));
                conn_listener(c)->server->stats.tls_failures[UMBRA_TLS_TIMEOUT]++;
                conn_close_for(c, UMBRA_CLOSE_TIMEOUT, "TLS handshake timeout");
            }
        } else if (conn_listener(c)->is_http) {
            http_conn_tick(c, now_ms);
        } else if (waited >= cfg->connect_timeout * 1000) {
            conn_close_for(c, UMBRA_CLOSE_TIMEOUT, "no CONNECT within the connect timeout");
        }
        return;
    }
    if (c->keepalive && (uint32_t)now_ms - c->last_rx_ms >= (uint32_t)c->keepalive * 1500) {
        conn_close_for(c, UMBRA_CLOSE_KEEPALIVE, "keepalive timeout");
        return;
    }
    if (c->session)
        usage_meter_minutes(c->session->usage, &c->minutes_metered, now_ms - c->connected_ms);
    /* Give an idle connection's output buffer back after a couple of ticks. */
    if (c->out.len == 0 && !c->writing && c->out_idle_ticks < 2 && ++c->out_idle_ticks == 2) {
        buf_free(&c->out);
        if (c->tls) tls_conn_trim(c->tls->engine);
    }
}
