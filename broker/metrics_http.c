/*
 * metrics_http.c - the metrics listener's sockets: accept, read requests
 * through http_request.h (the same reader the HTTPS data plane uses, and
 * fuzzed), answer, and keep every client within its bounds.
 *
 * Its own listener, not a route of the HTTPS one: Prometheus and
 * container health checks speak plain HTTP without client certificates,
 * and a scrape must keep working when the TLS listeners are refusing
 * connections, which is exactly when an operator looks.
 */
#include "metrics_http.h"

#include "buf.h"
#include "config.h"
#include "error.h"
#include "http_request.h"
#include "http_response.h"
#include "log.h"
#include "metrics_scrape.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

struct metrics_client {
    uv_tcp_t tcp; /* first: the handle's address is the client's */
    struct metrics_http *owner;
    struct metrics_client *prev, *next;
    struct http_reader reader;
    uint64_t waiting_since_ms; /* accepted, or the last request answered */
    unsigned writes;           /* uv_writes in progress */
    bool is_closing;
    bool close_after_write; /* the last response is queued */
    bool is_refused;        /* past the bound: 503, then what it sends is discarded */
};

/* A response on its way: the head and the body it owns. */
struct metrics_write {
    uv_write_t req;
    struct metrics_client *client;
    struct buf body;
    size_t head_len;
    char head[HTTP_HEAD_MAX + 32];
};

static const char exposition_type[] = "text/plain; version=0.0.4; charset=utf-8";

static void maybe_free_owner(struct metrics_http *m)
{
    if (m->is_listener_closed && m->nclients == 0) free(m);
}

static void on_client_closed(uv_handle_t *h)
{
    struct metrics_client *c = (struct metrics_client *)h;
    struct metrics_http *m = c->owner;
    http_reader_free(&c->reader);
    m->nclients--;
    if (c->is_refused) m->nrefused--;
    free(c);
    maybe_free_owner(m);
}

static void client_close(struct metrics_client *c)
{
    if (c->is_closing) return;
    c->is_closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->owner->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

/*
 * A refused client has usually sent its request already: closing a socket
 * with unread bytes makes the kernel send RST, which can destroy the 503
 * before the client reads it. So the write side is shut down and the
 * client's bytes read and dropped until it closes (or the tick does).
 */
static void linger(struct metrics_client *c)
{
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown)) {
        free(req);
        client_close(c);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct metrics_write *w = (struct metrics_write *)req;
    struct metrics_client *c = w->client;
    buf_free(&w->body);
    free(w);
    c->writes--;
    if (c->is_closing) return;
    if (status < 0)
        client_close(c);
    else if (c->close_after_write && c->writes == 0)
        c->is_refused ? linger(c) : client_close(c);
}

/* Queue one response; body (may be NULL) is taken over. HEAD gets the head only. */
static void respond(struct metrics_client *c, int status, const char *content_type,
                    struct buf *body, bool is_keep_alive, bool is_head)
{
    struct metrics_write *w = calloc(1, sizeof *w);
    if (!w) {
        if (body) buf_free(body);
        client_close(c);
        return;
    }
    w->client = c;
    if (body) w->body = *body;
    w->head_len = http_response_head(w->head, HTTP_HEAD_MAX, status, content_type, w->body.len,
                                     is_keep_alive, NULL, NULL);
    if (status == 405 && w->head_len >= 2) {
        /* RFC 9110: a 405 names the methods that are allowed. */
        memcpy(w->head + w->head_len - 2, "Allow: GET, HEAD\r\n\r\n", 20);
        w->head_len += 18;
    }
    uv_buf_t bufs[2] = {uv_buf_init(w->head, (unsigned)w->head_len),
                        uv_buf_init((char *)w->body.data, (unsigned)w->body.len)};
    unsigned n = is_head || !w->body.len ? 1 : 2;
    if (!w->head_len || uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, on_written)) {
        buf_free(&w->body);
        free(w);
        client_close(c);
        return;
    }
    c->writes++;
    if (!is_keep_alive) {
        c->close_after_write = true;
        if (!c->is_refused) uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void respond_text(struct metrics_client *c, int status, const char *text, bool keep,
                         bool is_head)
{
    struct buf body = {0};
    if (buf_append(&body, text, strlen(text))) {
        client_close(c);
        return;
    }
    respond(c, status, "text/plain; charset=utf-8", &body, keep, is_head);
}

static bool is_path(const struct http_request *req, const char *path)
{
    size_t n = strlen(path);
    /* A query string is allowed and ignored (Prometheus sends none). */
    return req->target_len >= n && memcmp(req->target, path, n) == 0 &&
           (req->target_len == n || req->target[n] == '?');
}

static bool is_ready(const struct umbra_server *s)
{
    return s->is_ready && !s->is_stopping && s->persist && s->registry;
}

static void handle(struct metrics_client *c, const struct http_request *req)
{
    struct umbra_server *s = c->owner->server;
    bool is_head = strcmp(req->method, "HEAD") == 0;
    bool keep = req->is_keep_alive;
    if (!is_head && strcmp(req->method, "GET") != 0) {
        respond_text(c, 405, "method not allowed: GET or HEAD\n", keep, false);
    } else if (is_path(req, "/metrics")) {
        struct buf body = {0};
        if (metrics_scrape(s, &body)) {
            buf_free(&body);
            respond_text(c, 500, "out of memory\n", false, is_head);
            return;
        }
        respond(c, 200, exposition_type, &body, keep, is_head);
    } else if (is_path(req, "/healthz")) {
        respond_text(c, 200, "ok\n", keep, is_head);
    } else if (is_path(req, "/readyz")) {
        bool ready = is_ready(s);
        respond_text(c, ready ? 200 : 503, ready ? "ready\n" : "not ready\n", keep, is_head);
    } else {
        respond_text(c, 404, "not found: /metrics, /healthz or /readyz\n", keep, is_head);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct metrics_client *c = (struct metrics_client *)h;
    *b = uv_buf_init(c->owner->read_buf, sizeof c->owner->read_buf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct metrics_client *c = (struct metrics_client *)st;
    if (nread < 0) {
        client_close(c);
        return;
    }
    if (c->is_refused) return; /* answered already: dropped */
    const uint8_t *data = (const uint8_t *)b->base;
    size_t len = (size_t)nread;
    /* Pipelined requests are answered in order, each from the reader. */
    while (len && !c->is_closing && !c->close_after_write) {
        size_t used;
        enum http_read r = http_reader_feed(&c->reader, data, len, &used);
        data += used;
        len -= used;
        if (r == HTTP_READ_ERROR) {
            char text[128];
            snprintf(text, sizeof text, "%s\n",
                     c->reader.error_reason ? c->reader.error_reason : "malformed request");
            respond_text(c, c->reader.error_status, text, false, false);
            return;
        }
        if (r == HTTP_READ_MORE) break;
        handle(c, http_reader_request(&c->reader));
        http_reader_next(&c->reader);
        c->waiting_since_ms = server_now_ms(c->owner->server);
    }
}

/* Past both bounds (a flood): accepted and closed at once. */
static void drop_connection(struct metrics_http *m)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t) return;
    uv_tcp_init(m->server->loop, t);
    uv_accept((uv_stream_t *)&m->tcp, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void on_connection(uv_stream_t *server_handle, int status)
{
    struct metrics_http *m = server_handle->data;
    if (status < 0 || m->is_stopping) return;
    bool is_refused = m->nclients - m->nrefused >= METRICS_MAX_CLIENTS;
    if (is_refused && m->nrefused >= METRICS_MAX_CLIENTS) {
        drop_connection(m);
        return;
    }
    struct metrics_client *c = calloc(1, sizeof *c);
    if (!c) return;
    c->is_refused = is_refused;
    m->nrefused += is_refused;
    uv_tcp_init(m->server->loop, &c->tcp);
    c->owner = m;
    /* No body: a scrape or a health check never sends one. */
    http_reader_init(&c->reader, 0);
    m->nclients++;
    c->next = m->clients;
    if (m->clients) m->clients->prev = c;
    m->clients = c;
    c->waiting_since_ms = server_now_ms(m->server);
    if (uv_accept(server_handle, (uv_stream_t *)&c->tcp) ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
        client_close(c);
    else if (is_refused)
        respond_text(c, 503, "too many metrics connections\n", false, false);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct metrics_http *m = h->data;
    m->is_listener_closed = true;
    maybe_free_owner(m);
}

int metrics_http_start(struct umbra_server *s, const char *spec)
{
    char host[128];
    int port;
    struct sockaddr_storage ss;
    if (config_parse_listen(spec, host, sizeof host, &port)) return UMBRA_ECONFIG;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) {
        log_error("metrics: '%s' is not an IP address", host);
        return UMBRA_ECONFIG;
    }
    struct metrics_http *m = calloc(1, sizeof *m);
    if (!m) return UMBRA_ENOMEM;
    m->server = s;
    uv_tcp_init(s->loop, &m->tcp);
    m->tcp.data = m;
    int rc = uv_tcp_bind(&m->tcp, (struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&m->tcp, 64, on_connection);
    if (rc) {
        log_error("metrics: cannot listen on %s: %s", spec, uv_strerror(rc));
        m->is_stopping = true;
        uv_close((uv_handle_t *)&m->tcp, on_listener_closed);
        return UMBRA_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&m->tcp, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    s->metrics = m;
    log_event(UMBRA_LOG_INFO, "listening",
              "listening: {listener} on {host} port {port} (plain HTTP: /metrics, /healthz, "
              "/readyz)",
              LOG_STR("listener", "metrics"), LOG_STR("host", host), LOG_INT("port", port));
    return 0;
}

void metrics_http_stop(struct umbra_server *s)
{
    struct metrics_http *m = s->metrics;
    if (!m) return;
    s->metrics = NULL;
    m->is_stopping = true;
    while (m->clients)
        client_close(m->clients);
    uv_close((uv_handle_t *)&m->tcp, on_listener_closed);
}

void metrics_http_tick(struct umbra_server *s, uint64_t now_ms)
{
    struct metrics_http *m = s->metrics;
    for (struct metrics_client *c = m ? m->clients : NULL, *next; c; c = next) {
        next = c->next;
        if (now_ms - c->waiting_since_ms < METRICS_REQUEST_TIMEOUT_MS) continue;
        if (c->close_after_write || c->writes || c->is_refused ||
            !http_reader_is_mid_request(&c->reader)) {
            client_close(c); /* idle, or not reading its answer */
            continue;
        }
        respond_text(c, 408, "request timeout\n", false, false);
        c->waiting_since_ms = now_ms; /* one more period for the 408 to leave */
    }
}
