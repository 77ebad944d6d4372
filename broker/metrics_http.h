/*
 * metrics_http.h - the metrics listener: plain HTTP/1.1 for Prometheus and
 * health checks, apart from the MQTT and HTTPS listeners.
 *
 *   GET /metrics  the exposition (metrics_scrape.h), text format 0.0.4
 *   GET /healthz  200 "ok" whenever the loop answers (liveness)
 *   GET /readyz   200 once listeners are up and the database is open,
 *                 503 before and while stopping (readiness)
 *
 * HEAD is answered like GET without the body; other methods get 405,
 * other paths 404, and a request that does not parse (or carries a body)
 * its 4xx and a close. Bounded: METRICS_MAX_CLIENTS connections (as many
 * again are answered 503, beyond that closed at once),
 * METRICS_REQUEST_TIMEOUT_MS for each request,
 * headers within http_request.h's limits. No authentication: the default
 * address is loopback.
 *
 * Loop thread only.
 */
#ifndef UMBRA_METRICS_HTTP_H
#define UMBRA_METRICS_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define METRICS_MAX_CLIENTS 16
#define METRICS_REQUEST_TIMEOUT_MS 5000

struct umbra_server;
struct metrics_client;

struct metrics_http {
    uv_tcp_t tcp; /* the listening socket */
    struct umbra_server *server;
    struct metrics_client *clients; /* doubly linked */
    unsigned nclients;              /* every client, the refused ones too */
    unsigned nrefused;              /* clients past the bound, being told 503 */
    bool is_stopping;               /* metrics_http_stop was called */
    bool is_listener_closed;        /* its handle's close callback ran */
    char read_buf[4096];            /* shared by every client: reads are handled to completion */
};

/* Listen on spec ("HOST:PORT"); s->metrics owns the result. 0, UMBRA_ECONFIG
 * or UMBRA_EIO (logged). */
int metrics_http_start(struct umbra_server *s, const char *spec);
/* Close the listener and every client; the memory goes when the last
 * handle has closed. */
void metrics_http_stop(struct umbra_server *s);
/* From the server's tick: requests past their deadline are closed. */
void metrics_http_tick(struct umbra_server *s, uint64_t now_ms);

#endif
