/*
 * http_request.h - HTTP/1.1 requests read from untrusted bytes.
 *
 * A thin layer over Node's http_parser (Debian's libhttp-parser): the
 * parser does the grammar (request line, header folding, chunked bodies,
 * keep-alive rules); this layer collects one request at a time into its
 * own memory and enforces Umbra's bounds: the request line and headers
 * together, the number of headers, and the body (checked against
 * Content-Length before any body byte arrives). After a whole request the
 * reader stops, so pipelined requests are answered one at a time and in
 * order: the caller handles it, calls http_reader_next() and feeds the
 * rest of its bytes.
 *
 * Pure: no I/O, no globals. Caller owns the reader (init/free).
 */
#ifndef UMBRA_HTTP_REQUEST_H
#define UMBRA_HTTP_REQUEST_H

#include "buf.h"

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD_BYTES 16384 /* request line and headers */
#define HTTP_MAX_HEADERS 64

struct http_header {
    const char *name; /* NUL-terminated, as sent (compare case-insensitively) */
    const char *value;
};

/* One request. Every pointer is borrowed from the reader: valid until
 * http_reader_next() or http_reader_free(). */
struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *target; /* the raw request target: "/things/x/shadow?name=y" */
    size_t target_len;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    const uint8_t *body; /* never NULL; body_len may be 0 */
    size_t body_len;
    bool is_keep_alive;    /* the connection stays open after the response */
    bool expects_continue; /* "Expect: 100-continue" */
    unsigned short http_minor;
};

enum http_read {
    HTTP_READ_MORE = 0, /* every byte taken; no whole request yet */
    HTTP_READ_DONE = 1, /* a whole request: see http_reader_request() */
    HTTP_READ_ERROR = -1, /* see reader->error_status; answer it and close */
};

struct http_reader {
    http_parser parser;
    size_t max_body;
    struct buf head; /* target and headers, each NUL-terminated */
    struct buf body;
    uint32_t offsets[1 + 2 * HTTP_MAX_HEADERS]; /* target, then name/value pairs, into head */
    size_t nheaders;
    bool in_value;        /* the last header callback was a value */
    bool headers_done;
    bool has_begun;       /* a byte of the current request has arrived */
    bool is_done;         /* a whole request is waiting */
    bool wants_continue;  /* headers said Expect: 100-continue; cleared by the caller */
    int error_status;     /* 400, 413, 414, 431, 505 ...: set with HTTP_READ_ERROR */
    const char *error_reason; /* for logs */
    struct http_request req;
};

/* Ready to read requests with bodies of at most max_body bytes. */
void http_reader_init(struct http_reader *r, size_t max_body);
void http_reader_free(struct http_reader *r);

/*
 * Parse from data. *used gets how many bytes were taken: all of them with
 * HTTP_READ_MORE; up to the end of the request with HTTP_READ_DONE (the
 * rest belongs to the next one). Once HTTP_READ_ERROR is returned the
 * connection is beyond repair: answer error_status and close.
 */
enum http_read http_reader_feed(struct http_reader *r, const uint8_t *data, size_t len,
                                size_t *used);

/* The request after HTTP_READ_DONE. Borrowed. */
const struct http_request *http_reader_request(const struct http_reader *r);

/* Done with the request: forget it (giving its memory back) and read the next. */
void http_reader_next(struct http_reader *r);

/* True while part of a request has arrived but not all of it. */
bool http_reader_is_mid_request(const struct http_reader *r);

/* The value of header name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

#endif
