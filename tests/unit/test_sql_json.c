/* test_sql_json.c - JSON text for rule results: jansson's compact bytes,
 * except that reals are the shortest decimal that reads back exactly. Where
 * no real is involved, json_dumps itself is the expected output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules/sql_json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JANSSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)
#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* Dump v (taking the reference) and compare with want, which may hold NUL
 * bytes only as escapes, so strlen gives its length. */
static void expect_text(json_t *v, const char *want)
{
    assert_non_null(v);
    size_t len = 0;
    char *got = sql_json_dump(v, &len);
    if (!got) fail_msg("got NULL, want '%s'", want);
    if (strcmp(got, want)) fail_msg("got '%s', want '%s'", got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    json_decref(v);
}

static void expect_real(double d, const char *want)
{
    expect_text(json_real(d), want);
}

/* The value has no real: our text must be json_dumps's, byte for byte. */
static void expect_as_jansson(json_t *v)
{
    assert_non_null(v);
    char *want = json_dumps(v, JANSSON_FLAGS);
    assert_non_null(want);
    expect_text(v, want);
    free(want);
}

/* Both refuse v (a string that is not UTF-8). */
static void expect_refused(json_t *v)
{
    assert_non_null(v);
    assert_null(sql_json_dump(v, NULL));
    json_decref(v);
}

/* ---- reals ---- */

static void test_real_that_jansson_prints_long(void **state)
{
    (void)state;
    expect_real(90.1, "90.1");
    expect_real(21.5, "21.5");
    expect_real(0.1, "0.1");
    expect_real(-273.15, "-273.15");
}

static void test_real_that_needs_17_digits(void **state)
{
    (void)state;
    expect_real(0.1 + 0.2, "0.30000000000000004");
    expect_real(1.0 / 3.0, "0.3333333333333333");
    expect_real(DBL_EPSILON + 1.0, "1.0000000000000002");
}

static void test_real_with_large_exponent(void **state)
{
    (void)state;
    /* jansson drops glibc's '+' and leading exponent zeros; so do we. */
    expect_real(1e300, "1e300");
    expect_real(1e21, "1e21");
    expect_real(1e16, "1e16");
    expect_real(-1.5e100, "-1.5e100");
    /* Rounded to 15 or 16 digits, DBL_MAX reads back as infinity. */
    expect_real(DBL_MAX, "1.7976931348623157e308");
}

static void test_real_with_small_exponent(void **state)
{
    (void)state;
    expect_real(1.5e-7, "1.5e-7");
    expect_real(1e-5, "1e-5");
    expect_real(0.0001, "0.0001");
    expect_real(DBL_MIN, "2.2250738585072014e-308");
}

static void test_real_subnormal(void **state)
{
    (void)state;
    expect_real(5e-324, "5e-324");
    expect_real(-5e-324, "-5e-324");
    expect_real(1e-310, "1e-310");
    expect_real(2.5e-320, "2.5e-320");
}

static void test_real_zero(void **state)
{
    (void)state;
    expect_real(0.0, "0.0");
    expect_real(-0.0, "-0.0");
}

static void test_real_whole_keeps_point(void **state)
{
    (void)state;
    /* Without ".0" the text would read back as an integer. */
    expect_real(100.0, "100.0");
    expect_real(1.0, "1.0");
    expect_real(-3.0, "-3.0");
    expect_real(123456789012345.0, "123456789012345.0");
    expect_real(9007199254740993.0, "9007199254740992.0");
}

static void test_real_in_a_parsed_payload(void **state)
{
    (void)state;
    json_t *v =
        json_loads("{\"temperature\": 90.1, \"humidity\": 40.5, \"id\": \"dev1\"}", 0, NULL);
    expect_text(v, "{\"temperature\":90.1,\"humidity\":40.5,\"id\":\"dev1\"}");
}

/* ---- other scalars ---- */

static void test_integers(void **state)
{
    (void)state;
    expect_text(json_integer(0), "0");
    expect_text(json_integer(-1), "-1");
    expect_text(json_integer(42), "42");
    expect_text(json_integer(1000000007), "1000000007");
    expect_text(json_integer(INT64_MAX), "9223372036854775807");
    expect_text(json_integer(INT64_MIN), "-9223372036854775808");
    expect_as_jansson(json_integer(INT64_MIN + 1));
}

static void test_literals(void **state)
{
    (void)state;
    expect_text(json_true(), "true");
    expect_text(json_false(), "false");
    expect_text(json_null(), "null");
}

/* ---- containers ---- */

static void test_empty_containers(void **state)
{
    (void)state;
    expect_text(json_object(), "{}");
    expect_text(json_array(), "[]");
    expect_text(json_pack("[[],{}]"), "[[],{}]");
    expect_text(json_pack("{s:{},s:[]}", "a", "b"), "{\"a\":{},\"b\":[]}");
}

static void test_nested(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:[i,{s:[b,n,{s:s}]},[[i]]],s:{s:{s:{}}}}", "a", 1, "b", 1, "c", "d", 2,
                          "x", "y", "z");
    expect_as_jansson(v);
    v = json_pack("{s:[f,{s:f}],s:i}", "t", 90.1, "u", 0.5, "n", 3);
    expect_text(v, "{\"t\":[90.1,{\"u\":0.5}],\"n\":3}");
}

static void test_key_order_preserved(void **state)
{
    (void)state;
    json_t *v = json_object();
    json_object_set_new(v, "zulu", json_integer(1));
    json_object_set_new(v, "alpha", json_integer(2));
    json_object_set_new(v, "mike", json_integer(3));
    json_object_set_new(v, "alpha", json_integer(4)); /* replacing keeps the place */
    json_object_del(v, "zulu");
    json_object_set_new(v, "zulu", json_integer(5)); /* re-adding goes last */
    char *want = json_dumps(v, JANSSON_FLAGS | JSON_PRESERVE_ORDER);
    assert_string_equal(want, "{\"alpha\":4,\"mike\":3,\"zulu\":5}");
    expect_text(v, want);
    free(want);
}

static void test_large_output_grows_buffer(void **state)
{
    (void)state;
    json_t *a = json_array();
    for (int i = 0; i < 5000; i++)
        json_array_append_new(a, i % 2 ? json_integer(i * 7919LL) : json_string("k\"v\n"));
    expect_as_jansson(a);
    char *raw = malloc(20000);
    for (int i = 0; i < 20000; i++)
        raw[i] = (char)(i % 32); /* six bytes out for each byte in */
    expect_as_jansson(json_stringn(raw, 20000));
    free(raw);
}

/* ---- strings ---- */

static void test_string_quotes_and_backslashes(void **state)
{
    (void)state;
    expect_text(json_string("say \"hi\""), "\"say \\\"hi\\\"\"");
    expect_text(json_string("C:\\dir\\"), "\"C:\\\\dir\\\\\"");
    expect_text(json_string(""), "\"\"");
    expect_as_jansson(json_string("\"\\\"\\"));
}

static void test_string_control_chars(void **state)
{
    (void)state;
    expect_text(json_string("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    /* jansson writes \u00XX with upper-case hex digits; DEL is not escaped. */
    expect_text(json_string("\x01\x1f\x1b\x7f"), "\"\\u0001\\u001F\\u001B\x7f\"");
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    expect_as_jansson(json_stringn(all, sizeof all));
}

static void test_string_with_nul(void **state)
{
    (void)state;
    expect_text(json_stringn("a\0b", 3), "\"a\\u0000b\"");
    expect_text(json_stringn("\0", 1), "\"\\u0000\"");
    json_t *o = json_object();
    json_object_setn_new(o, "k\0ey", 4, json_stringn("\0\0", 2));
    expect_as_jansson(o);
}

static void test_string_utf8_as_is(void **state)
{
    (void)state;
    expect_text(json_string("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* U+2028 and U+2029 are valid in JSON text; jansson leaves them. */
    expect_as_jansson(json_string("\xe2\x80\xa8\xe2\x80\xa9"));
    /* The edges of each sequence length: U+0080, U+07FF, U+0800, U+FFFF,
     * U+10000, U+10FFFF. */
    expect_as_jansson(json_string("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
                                  "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
    expect_as_jansson(json_pack("{s:s}", "cl\xc3\xa9", "v\xc3\xa4rde"));
}

static void test_string_slash_not_escaped(void **state)
{
    (void)state;
    expect_text(json_string("a/b</script>"), "\"a/b</script>\"");
    expect_as_jansson(json_pack("{s:s}", "sensors/+/data", "$aws/things/x"));
}

static void test_string_not_utf8_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a\xff",            /* never in UTF-8 */
        "\x80",             /* continuation with no lead */
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xe2\x82",         /* cut short */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xf5\x80\x80\x80", /* lead past F4 */
        "ok\xc3",           /* cut short at the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = json_string_nocheck(bad[i]);
        char *jansson = json_dumps(v, JANSSON_FLAGS);
        if (jansson) fail_msg("json_dumps accepted case %zu: %s", i, jansson);
        expect_refused(v);
    }
    /* jansson ignores the failure of a key: json_dumps writes a broken
     * {":1} here. We refuse the whole value instead. */
    json_t *o = json_object();
    json_object_setn_new_nocheck(o, "k\xff", 2, json_integer(1));
    expect_refused(o);
}

/* ---- limits and the interface ---- */

static json_t *nested_arrays(int depth)
{
    json_t *v = json_array();
    for (int i = 1; i < depth; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    return v;
}

/* "[[...]]", depth arrays deep; the caller frees it. */
static char *nested_text(int depth)
{
    char *text = malloc(2 * (size_t)depth + 1);
    memset(text, '[', (size_t)depth);
    memset(text + depth, ']', (size_t)depth);
    text[2 * depth] = '\0';
    return text;
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* The limit is jansson's parse limit: what json_loads reads, we write. */
    char *deepest = nested_text(SQL_JSON_MAX_DEPTH),
         *too_deep = nested_text(SQL_JSON_MAX_DEPTH + 1);
    json_t *loaded = json_loads(deepest, 0, NULL);
    assert_non_null(loaded);
    json_decref(loaded);
    assert_null(json_loads(too_deep, 0, NULL));

    json_t *v = nested_arrays(SQL_JSON_MAX_DEPTH);
    size_t len;
    char *got = sql_json_dump(v, &len);
    assert_non_null(got);
    assert_int_equal(len, 2 * SQL_JSON_MAX_DEPTH);
    assert_string_equal(got, deepest);
    free(got);
    json_decref(v);
    expect_refused(nested_arrays(SQL_JSON_MAX_DEPTH + 1));
    free(deepest);
    free(too_deep);
}

static void test_cycle_refused(void **state)
{
    (void)state;
    json_t *a = json_array(), *b = json_array();
    json_array_append(a, b);
    json_array_append(b, a);
    assert_null(json_dumps(a, JANSSON_FLAGS));
    assert_null(sql_json_dump(a, NULL));
    json_array_clear(b); /* break the cycle so that both are freed */
    json_decref(b);
    json_decref(a);
}

static void test_null_value_and_length(void **state)
{
    (void)state;
    size_t len = 99;
    assert_null(sql_json_dump(NULL, &len));
    assert_int_equal(len, 99);
    json_t *v = json_pack("{s:i}", "a", 1);
    char *got = sql_json_dump(v, NULL);
    assert_string_equal(got, "{\"a\":1}");
    free(got);
    json_decref(v);
}

/* ---- properties over pseudo-random values ---- */

static uint64_t rng_state;

static uint64_t next_random(void)
{
    /* splitmix64: a fixed seed gives the same cases on every run. */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(next_random() % n);
}

/* Any finite bit pattern, a decimal as a device would send, a whole
 * number, or a subnormal. */
static double random_double(void)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e6, 1e9, 1e15, 1e-3, 1e20};
    double d;
    switch (below(4)) {
    case 0:
        do {
            uint64_t bits = next_random();
            memcpy(&d, &bits, sizeof d);
        } while (!isfinite(d));
        return d;
    case 1:
        return (double)((int64_t)(next_random() % 20000001) - 10000000) / scale[below(10)];
    case 2:
        return (double)(int64_t)(next_random() >> below(64));
    default: {
        uint64_t bits = next_random() >> 12; /* exponent field zero */
        memcpy(&d, &bits, sizeof d);
        return below(2) ? d : -d;
    }
    }
}

/* The digits of a number's text without its sign, point, exponent and
 * leading or trailing zeros: "1234567890123450.0" has 15, like
 * "1.23456789012345e15". */
static size_t significant_digits(const char *text)
{
    size_t end = strcspn(text, "e");
    char digits[64];
    size_t n = 0;
    for (size_t i = 0; i < end && n < sizeof digits; i++)
        if (text[i] >= '0' && text[i] <= '9') digits[n++] = text[i];
    size_t first = 0;
    while (first < n && digits[first] == '0')
        first++;
    while (n > first && digits[n - 1] == '0')
        n--;
    return n - first;
}

static void check_real(double d)
{
    json_t *v = json_real(d);
    size_t len;
    char *got = sql_json_dump(v, &len);
    char *jansson = json_dumps(v, JANSSON_FLAGS);
    assert_non_null(got);
    double back = strtod(got, NULL);
    if (back != d || signbit(back) != signbit(d))
        fail_msg("%.17g printed as %s reads back as %.17g", d, got, back);
    if (!strpbrk(got, ".e")) fail_msg("%s would read back as an integer", got);
    if (significant_digits(got) > significant_digits(jansson))
        fail_msg("%s has more digits than jansson's %s", got, jansson);
    json_t *loaded = json_loads(got, JSON_DECODE_ANY, NULL);
    if (!json_is_real(loaded) || !json_equal(loaded, v)) fail_msg("%s does not load back", got);
    json_decref(loaded);
    free(jansson);
    free(got);
    json_decref(v);
}

/* The rule for reals, stated the slow way: %.*g at the first precision
 * from 15 (1 for a subnormal) to 17 that strtod reads back, then
 * jansson's spelling: ".0" when there is neither point nor exponent, and
 * the exponent as a plain integer. */
#define REFERENCE_SIZE 80
static void reference_text(double d, char out[REFERENCE_SIZE])
{
    char text[40];
    int precision = d != 0 && fabs(d) < DBL_MIN ? 1 : 15;
    do
        snprintf(text, sizeof text, "%.*g", precision, d);
    while (strtod(text, NULL) != d && ++precision <= 17);
    char *e = strchr(text, 'e');
    if (e) {
        *e = '\0';
        snprintf(out, REFERENCE_SIZE, "%se%d", text, atoi(e + 1));
    } else {
        snprintf(out, REFERENCE_SIZE, "%s%s", text, strchr(text, '.') ? "" : ".0");
    }
}

static void check_reference(double d)
{
    char want[REFERENCE_SIZE];
    reference_text(d, want);
    json_t *v = json_real(d);
    char *got = sql_json_dump(v, NULL);
    if (strcmp(got, want)) fail_msg("%.17g: got %s, want %s", d, got, want);
    free(got);
    json_decref(v);
}

/* Readings of a few digits take a path without snprintf; it must give the
 * same text, above all near where %g changes notation (1e-4, 1e15) and
 * where the digits outgrow it (15 and more). */
static void test_reals_match_the_rule(void **state)
{
    (void)state;
    static const double edges[] = {
        1e-4,
        9.99999999999999e-5,
        1.00000000000001e-4,
        0.000123456789012345,
        1e15,
        999999999999999.0,
        999999999999999.9,
        99999999999999.98,
        123456789012345.6,
        0.1,
        0.5,
        1.005,
        2.675,
        1e-3,
        4.35,
        0.07,
        1234.5678,
        1e14,
        5e-5,
        0.3 * 3,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_reference(edges[i]);
        check_reference(-edges[i]);
        check_reference(nextafter(edges[i], 0));
        check_reference(nextafter(edges[i], INFINITY));
    }
    rng_state = 99;
    for (int i = 0; i < 100000; i++) {
        int64_t m = (int64_t)(next_random() % 2000000000000001ULL) - 1000000000000000LL;
        check_reference((double)(m >> below(50)) / pow(10, below(20)));
        check_reference(random_double());
    }
}

static void test_random_reals_round_trip(void **state)
{
    (void)state;
    rng_state = 20240601;
    for (int i = 0; i < 2000; i++)
        check_real(random_double());
}

static json_t *random_string(int is_key)
{
    /* Each piece exercises a path of the string writer. */
    static const char *const piece[] = {
        "a",
        "Zz9",
        " ",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\b",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xe2\x80\xa8",
        "\0",
    };
    size_t npieces =
        sizeof piece / sizeof piece[0] - (is_key ? 1 : 0); /* json_loads refuses NUL in keys */
    char text[64];
    size_t len = 0;
    for (unsigned n = below(6); n > 0; n--) {
        const char *p = piece[below((unsigned)npieces)];
        size_t plen = *p ? strlen(p) : 1;
        memcpy(text + len, p, plen);
        len += plen;
    }
    return json_stringn(text, len);
}

static json_t *random_value(int depth, int with_reals)
{
    unsigned kind = below(depth >= 5 ? 6 : 8);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(below(2));
    case 2:
        return json_integer((json_int_t)next_random());
    case 3:
        return json_integer((json_int_t)below(2000) - 1000);
    case 4:
        return random_string(0);
    case 5:
        return with_reals ? json_real(random_double()) : json_integer(0);
    case 6: {
        json_t *a = json_array();
        for (unsigned n = below(5); n > 0; n--)
            json_array_append_new(a, random_value(depth + 1, with_reals));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned n = below(5); n > 0; n--) {
            json_t *key = random_string(1);
            json_object_setn_new(o, json_string_value(key), json_string_length(key),
                                 random_value(depth + 1, with_reals));
            json_decref(key);
        }
        return o;
    }
    }
}

static void check_structure(json_t *v, int with_reals)
{
    size_t len;
    char *got = sql_json_dump(v, &len);
    assert_non_null(got);
    assert_int_equal(len, strlen(got));
    if (!with_reals) {
        char *jansson = json_dumps(v, JANSSON_FLAGS);
        if (strcmp(got, jansson)) fail_msg("got '%s', jansson '%s'", got, jansson);
        free(jansson);
    }
    json_error_t err;
    json_t *loaded = json_loads(got, LOAD_FLAGS, &err);
    if (!loaded) fail_msg("'%s' does not load: %s", got, err.text);
    if (!json_equal(loaded, v)) fail_msg("'%s' loads as a different value", got);
    json_decref(loaded);
    free(got);
}

static void test_random_structures_round_trip(void **state)
{
    (void)state;
    rng_state = 7;
    for (int i = 0; i < 500; i++) {
        int with_reals = i % 2;
        json_t *v = random_value(0, with_reals);
        check_structure(v, with_reals);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_that_jansson_prints_long),
        cmocka_unit_test(test_real_that_needs_17_digits),
        cmocka_unit_test(test_real_with_large_exponent),
        cmocka_unit_test(test_real_with_small_exponent),
        cmocka_unit_test(test_real_subnormal),
        cmocka_unit_test(test_real_zero),
        cmocka_unit_test(test_real_whole_keeps_point),
        cmocka_unit_test(test_real_in_a_parsed_payload),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_empty_containers),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_key_order_preserved),
        cmocka_unit_test(test_large_output_grows_buffer),
        cmocka_unit_test(test_string_quotes_and_backslashes),
        cmocka_unit_test(test_string_control_chars),
        cmocka_unit_test(test_string_with_nul),
        cmocka_unit_test(test_string_utf8_as_is),
        cmocka_unit_test(test_string_slash_not_escaped),
        cmocka_unit_test(test_string_not_utf8_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_cycle_refused),
        cmocka_unit_test(test_null_value_and_length),
        cmocka_unit_test(test_reals_match_the_rule),
        cmocka_unit_test(test_random_reals_round_trip),
        cmocka_unit_test(test_random_structures_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
