/* test_log_format.c - log lines as text and as JSON: fields, escaping, cutting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "log_format.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-02T03:04:05.678Z */
#define T0 1767323045

static char line[4096];

static const char *render(enum log_format f, const char *event, const char *text,
                          const struct log_field *fields, size_t n, size_t cap)
{
    struct log_record r = {T0, 678, UMBRA_LOG_INFO, event, text, fields, n};
    assert_true(cap <= sizeof line - 1);
    size_t len = log_format_line(line, cap, f, &r);
    assert_true(len <= cap);
    assert_true(len > 0);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1)); /* one line, whatever the values held */
    line[len] = '\0';
    return line;
}

/* Parse the JSON line (it must be one complete object); caller decrefs. */
static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    if (!o) fail_msg("not JSON (%s): %s", err.text, text);
    assert_true(json_is_object(o));
    return o;
}

static const char *member(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

#define CONNECTED_TEMPLATE                                                                         \
    "client connected: id={client_id} addr={address} listener={listener} clean={clean} "           \
    "keepalive={keepalive}"

static void test_text_keeps_the_words_and_appends_the_other_fields(void **state)
{
    (void)state;
    const struct log_field f[] = {
        LOG_STR("client_id", "dev-1"), LOG_STR("address", "127.0.0.1:5555"),
        LOG_STR("listener", "mqtts"),  LOG_BOOL("clean", 0),
        LOG_INT("keepalive", 42),      LOG_STR("session", "resumed"),
        LOG_FLAG("insecure", 0),       LOG_STR("cert", "abc"),
        LOG_STR("alpn", NULL),         LOG_JSON_STR("hidden", "only in json"),
        LOG_FLAG("flagged", 1),
    };
    assert_string_equal(render(LOG_FORMAT_TEXT, "client_connected", CONNECTED_TEMPLATE, f,
                               sizeof f / sizeof f[0], 1024),
                        "2026-01-02T03:04:05.678Z info  client connected: id=dev-1 "
                        "addr=127.0.0.1:5555 listener=mqtts clean=0 keepalive=42 session=resumed "
                        "cert=abc flagged\n");
}

static void test_json_carries_every_fact_as_a_member(void **state)
{
    (void)state;
    const struct log_field f[] = {
        LOG_STR("client_id", "dev-1"), LOG_STR("address", "127.0.0.1:5555"),
        LOG_STR("listener", "mqtts"),  LOG_BOOL("clean", 0),
        LOG_INT("keepalive", 42),      LOG_STR("alpn", NULL),
        LOG_FLAG("insecure", 1),       LOG_JSON_STR("reason", "why"),
    };
    json_t *o = parse(render(LOG_FORMAT_JSON, "client_connected", CONNECTED_TEMPLATE, f,
                             sizeof f / sizeof f[0], 1024));
    assert_string_equal(member(o, "time"), "2026-01-02T03:04:05.678Z");
    assert_string_equal(member(o, "level"), "info");
    assert_string_equal(member(o, "event"), "client_connected");
    assert_string_equal(member(o, "client_id"), "dev-1");
    assert_string_equal(member(o, "address"), "127.0.0.1:5555");
    assert_string_equal(member(o, "listener"), "mqtts");
    assert_string_equal(member(o, "reason"), "why");
    assert_true(json_is_false(json_object_get(o, "clean")));
    assert_true(json_is_true(json_object_get(o, "insecure")));
    assert_int_equal(json_integer_value(json_object_get(o, "keepalive")), 42);
    assert_null(json_object_get(o, "alpn")); /* absent, not null */
    assert_string_equal(member(o, "msg"), "client connected: id=dev-1 addr=127.0.0.1:5555 "
                                          "listener=mqtts clean=0 keepalive=42");
    json_decref(o);
}

static void test_plain_messages_are_literal(void **state)
{
    (void)state;
    /* No fields: braces from a topic are words, not placeholders. */
    assert_string_equal(render(LOG_FORMAT_TEXT, "message", "rule on {a}/b: 50%", NULL, 0, 1024),
                        "2026-01-02T03:04:05.678Z info  rule on {a}/b: 50%\n");
    json_t *o = parse(render(LOG_FORMAT_JSON, NULL, "rule on {a}/b", NULL, 0, 1024));
    assert_string_equal(member(o, "event"), "message");
    assert_string_equal(member(o, "msg"), "rule on {a}/b");
    json_decref(o);
    /* A placeholder with no value reads "?"; an unknown one stays as written. */
    const struct log_field f[] = {LOG_STR("client_id", NULL)};
    assert_string_equal(render(LOG_FORMAT_TEXT, "e", "id={client_id} {other}", f, 1, 1024),
                        "2026-01-02T03:04:05.678Z info  id=? {other}\n");
}

static void test_text_turns_control_characters_into_question_marks(void **state)
{
    (void)state;
    const char *forged = "evil\n2026-01-01T00:00:00.000Z error forged\x1b[2J\x7f";
    const struct log_field f[] = {LOG_STR("client_id", forged)};
    assert_string_equal(render(LOG_FORMAT_TEXT, "e", "id={client_id}", f, 1, 1024),
                        "2026-01-02T03:04:05.678Z info  id=evil?2026-01-01T00:00:00.000Z error "
                        "forged?[2J?\n");
}

static void test_json_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    const char *id = "a\"b\\c\nd\re\tf\x01g\x1fh\x7fi";
    const struct log_field f[] = {LOG_STR("client_id", id), LOG_STR("we\"ird", "k")};
    const char *text = render(LOG_FORMAT_JSON, "e", "id={client_id}", f, 2, 1024);
    assert_non_null(
        strstr(text, "\"client_id\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh\\u007fi\""));
    json_t *o = parse(text);
    assert_string_equal(member(o, "client_id"), id);
    assert_string_equal(member(o, "we\"ird"), "k");
    assert_string_equal(member(o, "msg"), "id=a\"b\\c\nd\re\tf\x01g\x1fh\x7fi");
    json_decref(o);
}

/* The client id as the JSON line shows it, after jansson decodes it. */
static char *json_client_id(const char *raw)
{
    const struct log_field f[] = {LOG_STR("client_id", raw)};
    json_t *o = parse(render(LOG_FORMAT_JSON, "e", "x", f, 1, 1024));
    char *v = strdup(member(o, "client_id"));
    json_decref(o);
    return v;
}

static void test_json_replaces_bytes_that_are_not_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *shown;
    } cases[] = {
        {"caf\xc3\xa9", "caf\xc3\xa9"},             /* é, kept */
        {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"}, /* U+1F600, kept */
        {"\xe2\x80\xa8", "\xe2\x80\xa8"},           /* U+2028 is valid JSON */
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},                                                    /* never valid */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong, 3 bytes */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short at the end */
        {"\x80z", "\xef\xbf\xbdz"},                 /* a lone continuation byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *shown = json_client_id(cases[i].raw);
        if (strcmp(shown, cases[i].shown) != 0) fail_msg("case %zu: got '%s'", i, shown);
        free(shown);
    }
}

static void test_a_long_value_is_cut_but_the_line_stays_whole(void **state)
{
    (void)state;
    char big[3000];
    /* Quotes and control characters: every escape must go in whole or not at all. */
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = "a\"\x01\xc3\xa9"[i % 5];
    big[sizeof big - 1] = '\0';
    const struct log_field f[] = {LOG_STR("client_id", big), LOG_STR("reason", "after"),
                                  LOG_INT("n", 7)};
    for (size_t cap = LOG_LINE_MIN; cap < 700; cap += 7) {
        json_t *o = parse(render(LOG_FORMAT_JSON, "client_connected", "id={client_id}", f, 3, cap));
        assert_string_equal(member(o, "event"), "client_connected");
        json_decref(o);
        render(LOG_FORMAT_TEXT, "client_connected", "id={client_id}", f, 3, cap);
    }
    /* A buffer too small for any line gets nothing. */
    struct log_record r = {T0, 0, UMBRA_LOG_INFO, "e", "x", NULL, 0};
    assert_int_equal(log_format_line(line, LOG_LINE_MIN - 1, LOG_FORMAT_JSON, &r), 0);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(log_format_parse("text"), LOG_FORMAT_TEXT);
    assert_int_equal(log_format_parse("json"), LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("JSON"), -1);
    assert_int_equal(log_format_parse(NULL), -1);
    assert_string_equal(log_format_level_name(UMBRA_LOG_WARN), "warn");
    assert_string_equal(log_format_level_name(99), "debug");
    assert_int_equal(umbra_log_level_parse("debug"), UMBRA_LOG_DEBUG);
    assert_int_equal(umbra_log_level_parse("loud"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_keeps_the_words_and_appends_the_other_fields),
        cmocka_unit_test(test_json_carries_every_fact_as_a_member),
        cmocka_unit_test(test_plain_messages_are_literal),
        cmocka_unit_test(test_text_turns_control_characters_into_question_marks),
        cmocka_unit_test(test_json_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(test_json_replaces_bytes_that_are_not_utf8),
        cmocka_unit_test(test_a_long_value_is_cut_but_the_line_stays_whole),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
