/*
 * fuzz_http.c - the HTTPS front door: arbitrary bytes through the request
 * reader (in pieces whose sizes the input chooses, as TCP would cut them),
 * every whole request through the REST router and a response head.
 */
#include "http_request.h"
#include "http_response.h"
#include "rest_route.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct http_reader r;
    http_reader_init(&r, 4096);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece, used;
        enum http_read rc = http_reader_feed(&r, data + off, n, &used);
        if (used > n) __builtin_trap();
        off += used;
        if (rc == HTTP_READ_ERROR) {
            if (r.error_status < 400 || r.error_status > 599) __builtin_trap();
            break;
        }
        if (rc == HTTP_READ_DONE) {
            const struct http_request *q = http_reader_request(&r);
            if (!q || q->body_len > 4096 || strlen(q->target) != q->target_len) __builtin_trap();
            for (size_t i = 0; i < q->nheaders; i++)
                (void)strlen(q->headers[i].name), (void)strlen(q->headers[i].value);
            struct rest_route rt;
            struct rest_route_error err;
            if (rest_route(q->method, q->target, q->target_len, &rt, &err) == 0) {
                if (rt.qos < 0 || rt.qos > 1 || rt.topic_len > REST_MAX_TOPIC) __builtin_trap();
            } else if (err.status != 400 && err.status != 404 && err.status != 405) {
                __builtin_trap();
            }
            char head[HTTP_HEAD_MAX];
            http_response_head(head, sizeof head, 200, "application/json", q->body_len,
                               q->is_keep_alive, "id", NULL);
            http_reader_next(&r);
        }
    }
    http_reader_free(&r);
    return 0;
}
