/*
 * http_conn.h - the HTTPS data plane on a client connection.
 *
 * Connections on an "https" listener carry an HTTP/1.1 reader instead of
 * MQTT framing: conn.c hands them their decrypted bytes, and each whole
 * request is routed (http/rest_route.h) to AWS IoT's data-plane operations
 * (shadows, publish), authorized against the client certificate's policies,
 * and answered through the connection's output. A response that reports a
 * durable change waits, like a PUBACK, for the persistence batch that holds
 * it; pipelined responses keep their order because gates hold everything
 * after them.
 *
 * Loop thread only.
 */
#ifndef UMBRA_HTTP_CONN_H
#define UMBRA_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_conn;

#define HTTP_REQUEST_TIMEOUT_MS 10000 /* a started request must be whole by then */
#define HTTP_IDLE_TIMEOUT_MS 60000    /* keep-alive connections idle this long are closed */
#define HTTP_LINGER_MS 2000           /* reading what a refused client still sends */

/* The client certificate was admitted: start reading requests. 0 or UMBRA_ENOMEM. */
int http_conn_open(struct umbra_conn *c);

/* Plaintext from the client. May close the connection. */
void http_conn_consume(struct umbra_conn *c, const uint8_t *data, size_t len);

/* True once the last response is written and the connection should close. */
bool http_conn_is_done(const struct umbra_conn *c);

/*
 * The last response is written: send FIN, then read and discard until the
 * client closes (or HTTP_LINGER_MS pass). Closing at once while the client
 * is still sending a body it was refused would make the kernel answer with
 * a reset, and a reset can destroy the response before the client reads it.
 */
void http_conn_linger(struct umbra_conn *c);

/* The server's tick: request and idle timeouts. */
void http_conn_tick(struct umbra_conn *c, uint64_t now_ms);

void http_conn_free(struct umbra_conn *c);

#endif
