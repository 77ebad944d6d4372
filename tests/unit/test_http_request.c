/* test_http_request.c - HTTP/1.1 requests from untrusted bytes: whole,
 * split, pipelined, and every way they can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/http_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feed all of text; returns the result of the last feed, *used the bytes taken in all. */
static enum http_read feed_all(struct http_reader *r, const char *text, size_t len, size_t *used)
{
    size_t n;
    enum http_read rc = http_reader_feed(r, (const uint8_t *)text, len, &n);
    *used = n;
    return rc;
}

static void test_simple_get(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 1024);
    const char *req = "GET /things/lamp/shadow?name=cfg HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&r, req, strlen(req), &used), HTTP_READ_DONE);
    assert_int_equal(used, strlen(req));
    const struct http_request *q = http_reader_request(&r);
    assert_string_equal(q->method, "GET");
    assert_string_equal(q->target, "/things/lamp/shadow?name=cfg");
    assert_int_equal(q->nheaders, 2);
    assert_string_equal(http_request_header(q, "host"), "x");
    assert_string_equal(http_request_header(q, "CONTENT-TYPE"), "application/json");
    assert_null(http_request_header(q, "accept"));
    assert_int_equal(q->body_len, 0);
    assert_true(q->is_keep_alive);
    http_reader_free(&r);
}

static void test_body_split_byte_by_byte(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 1024);
    const char *req = "POST /topics/a%2Fb?qos=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
                      "X-Long-Header-Name: some value\r\n\r\nhello world";
    size_t len = strlen(req);
    for (size_t i = 0; i < len; i++) {
        size_t used;
        enum http_read rc = http_reader_feed(&r, (const uint8_t *)req + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, i + 1 == len ? HTTP_READ_DONE : HTTP_READ_MORE);
        if (i > 0 && i + 1 < len) assert_true(http_reader_is_mid_request(&r));
    }
    const struct http_request *q = http_reader_request(&r);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->target, "/topics/a%2Fb?qos=1");
    assert_string_equal(http_request_header(q, "x-long-header-name"), "some value");
    assert_int_equal(q->body_len, 11);
    assert_memory_equal(q->body, "hello world", 11);
    http_reader_free(&r);
}

static void test_pipelined_requests_one_at_a_time(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 1024);
    const char *two = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                      "DELETE /b HTTP/1.1\r\nConnection: close\r\n\r\n";
    size_t len = strlen(two), used;
    assert_int_equal(feed_all(&r, two, len, &used), HTTP_READ_DONE);
    const struct http_request *q = http_reader_request(&r);
    assert_string_equal(q->target, "/a");
    assert_memory_equal(q->body, "abc", 3);
    /* Until the caller moves on, the reader takes nothing more. */
    size_t again;
    assert_int_equal(http_reader_feed(&r, (const uint8_t *)two + used, len - used, &again),
                     HTTP_READ_DONE);
    assert_int_equal(again, 0);
    http_reader_next(&r);
    assert_false(http_reader_is_mid_request(&r));
    size_t used2;
    assert_int_equal(feed_all(&r, two + used, len - used, &used2), HTTP_READ_DONE);
    assert_int_equal(used + used2, len);
    q = http_reader_request(&r);
    assert_string_equal(q->method, "DELETE");
    assert_string_equal(q->target, "/b");
    assert_false(q->is_keep_alive);
    http_reader_free(&r);
}

static void test_chunked_body(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 1024);
    const char *req = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&r, req, strlen(req), &used), HTTP_READ_DONE);
    const struct http_request *q = http_reader_request(&r);
    assert_int_equal(q->body_len, 11);
    assert_memory_equal(q->body, "hello world", 11);
    http_reader_free(&r);
}

static void test_http_1_0_closes_and_expect_continue(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 1024);
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    size_t used;
    assert_int_equal(feed_all(&r, req, strlen(req), &used), HTTP_READ_DONE);
    assert_false(http_reader_request(&r)->is_keep_alive);
    http_reader_next(&r);
    http_reader_free(&r);

    http_reader_init(&r, 1024);
    const char *head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert_int_equal(feed_all(&r, head, strlen(head), &used), HTTP_READ_MORE);
    assert_true(r.wants_continue);
    assert_int_equal(feed_all(&r, "ok", 2, &used), HTTP_READ_DONE);
    assert_true(http_reader_request(&r)->expects_continue);
    http_reader_free(&r);
}

/* One malformed or oversized request: the error status it must get. */
struct bad_case {
    const char *name;
    const char *bytes; /* NULL: built by the test */
    int status;
};

static void expect_error(const char *bytes, size_t len, size_t max_body, int status)
{
    print_message("  %.40s\n", bytes[0] > ' ' ? bytes : "(binary)");
    struct http_reader r;
    http_reader_init(&r, max_body);
    size_t used;
    enum http_read rc = http_reader_feed(&r, (const uint8_t *)bytes, len, &used);
    if (rc != HTTP_READ_ERROR) fail_msg("expected an error %d, got %d", status, rc);
    assert_int_equal(r.error_status, status);
    assert_non_null(r.error_reason);
    /* Once broken, always broken. */
    assert_int_equal(http_reader_feed(&r, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &used),
                     HTTP_READ_ERROR);
    http_reader_free(&r);
}

static void test_malformed_requests(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
        {"HTTP/0.9 (no version)", "GET /\r\n\r\n", 505},
        {"bad method", "FETCH / HTTP/1.1\r\n\r\n", 400},
        {"space in target", "GET /a b HTTP/1.1\r\n\r\n", 400},
        {"header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
        {"bad content length", "POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400},
        {"two content lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         400},
        {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
        {"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 505},
        {"body over the limit (declared)", "POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 413},
        {"body over the limit (chunked)",
         "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n", 413},
        {"unknown expectation", "POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
        {"upgrade", "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400},
        {"NUL in header", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].bytes);
        if (strcmp(cases[i].name, "NUL in header") == 0) len = 29;
        if (strcmp(cases[i].name, "body over the limit (chunked)") == 0) {
            /* 2000 body bytes in one chunk, against a 1000-byte limit. */
            char buf[2200];
            int n = snprintf(buf, sizeof buf, "%s", cases[i].bytes);
            memset(buf + n, 'x', 2000);
            expect_error(buf, (size_t)n + 2000, 1000, cases[i].status);
            continue;
        }
        expect_error(cases[i].bytes, len, 1000, cases[i].status);
    }
}

static void test_oversized_heads(void **state)
{
    (void)state;
    size_t big = HTTP_MAX_HEAD_BYTES + 100;
    char *buf = malloc(big + 64);
    assert_non_null(buf);
    /* A target too long. */
    int n = snprintf(buf, big, "GET /");
    memset(buf + n, 'a', big - (size_t)n);
    expect_error(buf, big, 1000, 414);
    /* Headers too large. */
    n = snprintf(buf, big, "GET / HTTP/1.1\r\nX: ");
    memset(buf + n, 'a', big - (size_t)n);
    expect_error(buf, big, 1000, 431);
    free(buf);
    /* Too many headers. */
    char many[HTTP_MAX_HEADERS * 8 + 64];
    size_t off = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        off += (size_t)snprintf(many + off, sizeof many - off, "H%d: v\r\n", i);
    off += (size_t)snprintf(many + off, sizeof many - off, "\r\n");
    expect_error(many, off, 1000, 431);
}

static void test_exactly_the_limits(void **state)
{
    (void)state;
    struct http_reader r;
    http_reader_init(&r, 5);
    const char *req = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n12345";
    size_t used;
    assert_int_equal(feed_all(&r, req, strlen(req), &used), HTTP_READ_DONE);
    assert_int_equal(http_reader_request(&r)->body_len, 5);
    http_reader_free(&r);
    /* A header with an empty value is a header. */
    http_reader_init(&r, 5);
    const char *empty = "GET / HTTP/1.1\r\nX-Empty:\r\nY: 1\r\n\r\n";
    assert_int_equal(feed_all(&r, empty, strlen(empty), &used), HTTP_READ_DONE);
    assert_string_equal(http_request_header(http_reader_request(&r), "x-empty"), "");
    assert_string_equal(http_request_header(http_reader_request(&r), "y"), "1");
    http_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_body_split_byte_by_byte),
        cmocka_unit_test(test_pipelined_requests_one_at_a_time),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_http_1_0_closes_and_expect_continue),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_oversized_heads),
        cmocka_unit_test(test_exactly_the_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
