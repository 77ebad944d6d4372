/* test_rest_route.c - AWS IoT data-plane paths, as botocore and curl send them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/rest_route.h"

#include <stdio.h>
#include <string.h>

static struct rest_route route(const char *method, const char *target)
{
    struct rest_route r;
    struct rest_route_error e;
    if (rest_route(method, target, strlen(target), &r, &e))
        fail_msg("%s %s: %d %s", method, target, e.status, e.message);
    return r;
}

static void expect_error(const char *method, const char *target, int status, const char *exception)
{
    struct rest_route r;
    struct rest_route_error e;
    if (!rest_route(method, target, strlen(target), &r, &e))
        fail_msg("%s %s should fail with %d", method, target, status);
    assert_int_equal(e.status, status);
    assert_string_equal(e.exception, exception);
    assert_non_null(e.message);
}

static void test_shadow_operations(void **state)
{
    (void)state;
    struct rest_route r = route("GET", "/things/loT-motion-sensor/shadow");
    assert_int_equal(r.op, REST_GET_THING_SHADOW);
    assert_string_equal(r.thing, "loT-motion-sensor");
    assert_string_equal(r.shadow, "");
    r = route("POST", "/things/lamp/shadow?name=config");
    assert_int_equal(r.op, REST_UPDATE_THING_SHADOW);
    assert_string_equal(r.shadow, "config");
    r = route("DELETE", "/things/a%3Ab/shadow?name=%24package&x=1");
    assert_int_equal(r.op, REST_DELETE_THING_SHADOW);
    assert_string_equal(r.thing, "a:b");
    assert_string_equal(r.shadow, "$package");
}

static void test_list_named_shadows(void **state)
{
    (void)state;
    struct rest_route r = route("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp");
    assert_int_equal(r.op, REST_LIST_NAMED_SHADOWS);
    assert_string_equal(r.thing, "lamp");
    assert_int_equal(r.page_size, 0);
    r = route("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=2&nextToken=b%20c");
    assert_int_equal(r.page_size, 2);
    assert_string_equal(r.next_token, "b c");
    expect_error("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=0", 400,
                 "InvalidRequestException");
    expect_error("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=101", 400,
                 "InvalidRequestException");
    expect_error("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp?pageSize=1x", 400,
                 "InvalidRequestException");
}

static void test_publish(void **state)
{
    (void)state;
    /* botocore escapes the slashes; curl users often do not: the same topic. */
    struct rest_route r = route("POST", "/topics/sensors%2Fmotion?qos=1");
    assert_int_equal(r.op, REST_PUBLISH);
    assert_string_equal(r.topic, "sensors/motion");
    assert_int_equal(r.qos, 1);
    assert_false(r.is_retained);
    r = route("POST", "/topics/sensors/motion");
    assert_string_equal(r.topic, "sensors/motion");
    assert_int_equal(r.qos, 0);
    r = route("POST", "/topics/%24aws%2Fthings%2Flamp%2Fshadow%2Fupdate?retain=true&qos=0");
    assert_string_equal(r.topic, "$aws/things/lamp/shadow/update");
    assert_true(r.is_retained);
    /* '+' is not a space here. */
    r = route("POST", "/topics/a+b");
    assert_string_equal(r.topic, "a+b");
    /* A NUL byte decodes, with its length: the handler refuses it as a topic. */
    r = route("POST", "/topics/a%00b");
    assert_int_equal(r.topic_len, 3);
    expect_error("POST", "/topics/a?qos=2", 400, "InvalidRequestException");
    expect_error("POST", "/topics/a?qos=", 400, "InvalidRequestException");
    expect_error("POST", "/topics/a?retain=yes", 400, "InvalidRequestException");
    expect_error("POST", "/topics/", 400, "InvalidRequestException");
}

static void test_unknown_paths_and_methods(void **state)
{
    (void)state;
    expect_error("GET", "/", 404, "ResourceNotFoundException");
    expect_error("GET", "/things/lamp", 404, "ResourceNotFoundException");
    expect_error("GET", "/things/lamp/shadow/extra", 404, "ResourceNotFoundException");
    expect_error("GET", "/things//shadow", 400, "InvalidRequestException");
    expect_error("PUT", "/things/lamp/shadow", 405, "MethodNotAllowedException");
    expect_error("GET", "/topics/a", 405, "MethodNotAllowedException");
    expect_error("POST", "/api/things/shadow/ListNamedShadowsForThing/lamp", 405,
                 "MethodNotAllowedException");
    expect_error("GET", "/api/things/shadow/ListNamedShadowsForThing/", 404,
                 "ResourceNotFoundException");
    expect_error("GET", "/things/la%zzmp/shadow", 400, "InvalidRequestException");
    expect_error("GET", "/things/lamp%/shadow", 400, "InvalidRequestException");
    expect_error("GET", "/things/la%00mp/shadow", 400, "InvalidRequestException");
    expect_error("GET", "/things/lamp/shadow?name=", 400, "InvalidRequestException");
    expect_error("GET", "/things/lamp/shadow?name=%2", 400, "InvalidRequestException");
}

static void test_oversized_names(void **state)
{
    (void)state;
    char target[REST_MAX_TOPIC + 64];
    int n = snprintf(target, sizeof target, "/things/");
    memset(target + n, 'a', REST_MAX_NAME + 1);
    snprintf(target + n + REST_MAX_NAME + 1, sizeof target - (size_t)n - REST_MAX_NAME - 1,
             "/shadow");
    expect_error("GET", target, 400, "InvalidRequestException");
    n = snprintf(target, sizeof target, "/topics/");
    memset(target + n, 'a', REST_MAX_TOPIC + 1);
    target[n + REST_MAX_TOPIC + 1] = '\0';
    expect_error("POST", target, 400, "InvalidRequestException");
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(rest_percent_decode("a%2Fb", 5, out, sizeof out), 3);
    assert_string_equal(out, "a/b");
    assert_int_equal(rest_percent_decode("%41%4a%4A", 9, out, sizeof out), 3);
    assert_string_equal(out, "AJJ");
    assert_int_equal(rest_percent_decode("%4", 2, out, sizeof out), -1);
    assert_int_equal(rest_percent_decode("%", 1, out, sizeof out), -1);
    assert_int_equal(rest_percent_decode("%g0", 3, out, sizeof out), -1);
    assert_int_equal(rest_percent_decode("12345678", 8, out, sizeof out), -1); /* no room for NUL */
    assert_int_equal(rest_percent_decode("1234567", 7, out, sizeof out), 7);
    assert_int_equal(rest_percent_decode("", 0, out, sizeof out), 0);
    assert_int_equal(rest_percent_decode("a", 1, out, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shadow_operations),   cmocka_unit_test(test_list_named_shadows),
        cmocka_unit_test(test_publish),             cmocka_unit_test(test_unknown_paths_and_methods),
        cmocka_unit_test(test_oversized_names),     cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
