/*
 * http_request.c - one HTTP/1.1 request at a time out of untrusted bytes,
 * with http_parser doing the grammar and this file the bounds.
 */
#include "http_request.h"

#include <string.h>
#include <strings.h>

enum part { IN_TARGET, IN_NAME, IN_VALUE };

static struct http_reader *reader_of(http_parser *p)
{
    return (struct http_reader *)p; /* the parser is the reader's first member */
}

static int fail(struct http_reader *r, int status, const char *reason)
{
    if (!r->error_status) {
        r->error_status = status;
        r->error_reason = reason;
    }
    return -1; /* stops the parser */
}

/* Append to the head, within its bound. */
static int head_add(struct http_reader *r, const char *at, size_t len, int status)
{
    if (r->head.len + len + 1 > HTTP_MAX_HEAD_BYTES)
        return fail(r, status, status == 414 ? "request target too long" : "headers too large");
    if (buf_append(&r->head, at, len)) return fail(r, 500, "out of memory");
    return 0;
}

static int end_part(struct http_reader *r)
{
    return head_add(r, "", 1, 431);
}

static int on_message_begin(http_parser *p)
{
    struct http_reader *r = reader_of(p);
    r->offsets[0] = 0;
    r->has_begun = true;
    r->nheaders = 0;
    r->in_value = false;
    r->headers_done = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    return head_add(reader_of(p), at, len, 414);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    /* A new name starts after the target or after a value; otherwise the
     * parser is handing over the same name in pieces. */
    if (r->nheaders == 0 || r->in_value) {
        if (r->nheaders == HTTP_MAX_HEADERS) return fail(r, 431, "too many headers");
        if (end_part(r)) return -1;
        r->offsets[1 + 2 * r->nheaders] = (uint32_t)r->head.len;
        r->offsets[2 + 2 * r->nheaders] = 0;
        r->nheaders++;
        r->in_value = false;
    }
    return head_add(r, at, len, 431);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (!r->in_value) {
        if (end_part(r)) return -1;
        r->offsets[2 * r->nheaders] = (uint32_t)r->head.len;
        r->in_value = true;
    }
    return head_add(r, at, len, 431);
}

static int on_headers_complete(http_parser *p)
{
    struct http_reader *r = reader_of(p);
    if (p->http_major != 1 || p->http_minor > 1) return fail(r, 505, "HTTP version not supported");
    /* A name with no value (the parser allows "Name:"): give it an empty one. */
    if (r->nheaders && !r->in_value) {
        if (end_part(r)) return -1;
        r->offsets[2 * r->nheaders] = (uint32_t)r->head.len;
    }
    if (end_part(r)) return -1;
    r->headers_done = true;
    /* Refuse an oversized body before reading any of it. */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->max_body)
        return fail(r, 413, "body too large");
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = (const char *)r->head.data + r->offsets[1 + 2 * i];
        const char *value = (const char *)r->head.data + r->offsets[2 + 2 * i];
        if (strcasecmp(name, "expect") == 0) {
            if (strcasecmp(value, "100-continue") != 0)
                return fail(r, 417, "unsupported Expect");
            r->wants_continue = true;
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = reader_of(p);
    if (r->body.len + len > r->max_body) return fail(r, 413, "body too large");
    if (buf_append(&r->body, at, len)) return fail(r, 500, "out of memory");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_reader *r = reader_of(p);
    struct http_request *q = &r->req;
    const char *head = (const char *)r->head.data;
    memset(q, 0, sizeof *q);
    q->method = http_method_str((enum http_method)p->method);
    q->target = head + r->offsets[0];
    q->target_len = strlen(q->target);
    for (size_t i = 0; i < r->nheaders; i++)
        q->headers[i] = (struct http_header){head + r->offsets[1 + 2 * i],
                                             head + r->offsets[2 + 2 * i]};
    q->nheaders = r->nheaders;
    q->body = r->body.data ? r->body.data : (const uint8_t *)"";
    q->body_len = r->body.len;
    q->is_keep_alive = http_should_keep_alive(p) != 0;
    q->expects_continue = r->wants_continue;
    q->http_minor = p->http_minor;
    r->is_done = true;
    http_parser_pause(p, 1); /* one request at a time */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_reader_init(struct http_reader *r, size_t max_body)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->max_body = max_body;
}

void http_reader_free(struct http_reader *r)
{
    buf_free(&r->head);
    buf_free(&r->body);
}

enum http_read http_reader_feed(struct http_reader *r, const uint8_t *data, size_t len,
                                size_t *used)
{
    *used = 0;
    if (r->error_status) return HTTP_READ_ERROR;
    if (r->is_done) return HTTP_READ_DONE;
    if (len == 0) return HTTP_READ_MORE; /* a zero length means end of input to the parser */
    size_t n = http_parser_execute(&r->parser, &settings, (const char *)data, len);
    *used = n;
    if (r->parser.upgrade) { /* what follows would be another protocol: not served here */
        fail(r, 400, "protocol upgrade not supported here");
        return HTTP_READ_ERROR;
    }
    if (r->is_done) return HTTP_READ_DONE;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->error_status) return HTTP_READ_ERROR;
    if (e != HPE_OK) {
        fail(r, 400, http_errno_description(e));
        return HTTP_READ_ERROR;
    }
    return HTTP_READ_MORE;
}

const struct http_request *http_reader_request(const struct http_reader *r)
{
    return r->is_done ? &r->req : NULL;
}

void http_reader_next(struct http_reader *r)
{
    buf_free(&r->head);
    buf_free(&r->body);
    r->nheaders = 0;
    r->in_value = r->headers_done = r->is_done = r->wants_continue = r->has_begun = false;
    memset(&r->req, 0, sizeof r->req);
    http_parser_pause(&r->parser, 0);
}

bool http_reader_is_mid_request(const struct http_reader *r)
{
    return r->has_begun && !r->is_done;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}
