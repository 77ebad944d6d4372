/*
 * test_mqtt_topic.c - unit tests for mqtt_topic.c: the MQTT UTF-8 string
 * rule, topic name and filter syntax, $share splitting, AWS limits and
 * filter matching. Mostly tables; each row says what it exercises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_topic.h"

/* A byte string with an explicit length, so rows can hold NUL bytes. */
struct bstr {
    const char *s;
    size_t len;
};
#define B(lit)                                                                                     \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }

static void check_bool(bool got, bool want, const char *what, const struct bstr *in)
{
    if (got != want) {
        print_error("%s(\"", what);
        for (size_t i = 0; i < in->len; i++) {
            unsigned char c = (unsigned char)in->s[i];
            if (c >= 0x20 && c < 0x7F)
                print_error("%c", c);
            else
                print_error("\\x%02x", c);
        }
        print_error("\") = %d, want %d\n", got, want);
        fail();
    }
}

/* ---- UTF-8 ------------------------------------------------------------- */

static const struct utf8_row {
    struct bstr in;
    bool valid;
} utf8_rows[] = {
    {B(""), true},
    {B("plain ascii"), true},
    {B("a long ascii string past the eight-byte fast path"), true},
    {B("\x01\x1f\x7f"), true},     /* controls: SHOULD NOT, still legal */
    {B("caf\xc3\xa9"), true},      /* U+00E9, 2 bytes */
    {B("\xc2\x80"), true},         /* U+0080, smallest 2-byte */
    {B("\xdf\xbf"), true},         /* U+07FF */
    {B("\xe0\xa0\x80"), true},     /* U+0800, smallest 3-byte */
    {B("\xe2\x82\xac"), true},     /* U+20AC euro */
    {B("\xed\x9f\xbf"), true},     /* U+D7FF, just below surrogates */
    {B("\xee\x80\x80"), true},     /* U+E000, just above surrogates */
    {B("\xef\xbb\xbf"), true},     /* U+FEFF BOM: allowed, not stripped */
    {B("\xef\xbf\xbf"), true},     /* U+FFFF non-character: SHOULD NOT */
    {B("\xf0\x90\x80\x80"), true}, /* U+10000, smallest 4-byte */
    {B("\xf0\x9f\x98\x80"), true}, /* U+1F600 emoji */
    {B("\xf4\x8f\xbf\xbf"), true}, /* U+10FFFF, the largest */
    {B("12345678\xc3\xa9"
       "12345678\xf0\x9f\x98\x80"),
     true},           /* mixed with fast path */
    {B("\0"), false}, /* U+0000 */
    {B("abc\0def"), false},
    {B("abcdefgh\0ijklmnop"), false},       /* NUL inside a fast-path chunk */
    {B("\xc0\x80"), false},                 /* overlong U+0000 */
    {B("\xc1\xbf"), false},                 /* overlong U+007F */
    {B("\xe0\x80\x80"), false},             /* overlong 3-byte */
    {B("\xe0\x9f\xbf"), false},             /* overlong U+07FF */
    {B("\xf0\x80\x80\x80"), false},         /* overlong 4-byte */
    {B("\xf0\x8f\xbf\xbf"), false},         /* overlong U+FFFF */
    {B("\xed\xa0\x80"), false},             /* U+D800 high surrogate */
    {B("\xed\xbf\xbf"), false},             /* U+DFFF low surrogate */
    {B("\xed\xa0\xbd\xed\xb8\x80"), false}, /* CESU-8 surrogate pair */
    {B("\xf4\x90\x80\x80"), false},         /* U+110000 */
    {B("\xf5\x80\x80\x80"), false},         /* lead byte above F4 */
    {B("\xf8\x88\x80\x80\x80"), false},     /* 5-byte form */
    {B("\xff"), false},
    {B("\x80"), false}, /* stray continuation */
    {B("a\xbf"), false},
    {B("\xc3"), false},                 /* truncated 2-byte */
    {B("\xe2\x82"), false},             /* truncated 3-byte */
    {B("\xf0\x9f\x98"), false},         /* truncated 4-byte */
    {B("abcdefgh\xf0\x9f\x98"), false}, /* truncated after a fast chunk */
    {B("\xc3("), false},                /* bad continuation */
    {B("\xe2(\xac"), false},
    {B("\xe2\x82("), false},
    {B("\xf0\x9f(\x80"), false},
    {B("\xf0\x9f\x98("), false},
};

static void test_utf8(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(utf8_rows) / sizeof(utf8_rows[0]); i++) {
        const struct utf8_row *r = &utf8_rows[i];
        check_bool(mqtt_utf8_valid(r->in.s, r->in.len), r->valid, "mqtt_utf8_valid", &r->in);
    }
}

/* Every single code point: encode it, check the verdict, and a surrogate never passes. */
static void test_utf8_all_code_points(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        char b[8] = {0}; /* 8: room for the scanner's word load, as gcc -flto checks */
        size_t n;
        if (cp < 0x80) {
            b[0] = (char)cp;
            n = 1;
        } else if (cp < 0x800) {
            b[0] = (char)(0xC0 | cp >> 6);
            b[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (char)(0xE0 | cp >> 12);
            b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
            b[2] = (char)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            b[0] = (char)(0xF0 | cp >> 18);
            b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
            b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
            b[3] = (char)(0x80 | (cp & 0x3F));
            n = 4;
        }
        bool want = cp != 0 && (cp < 0xD800 || cp > 0xDFFF);
        if (mqtt_utf8_valid(b, n) != want) fail_msg("code point U+%04X", (unsigned)cp);
    }
}

/* ---- Names and filters ------------------------------------------------- */

static const struct topic_row {
    struct bstr in;
    bool name, filter;
} topic_rows[] = {
    {B(""), false, false},
    {B("a"), true, true},
    {B("a/b/c"), true, true},
    {B("/"), true, true},
    {B("/a"), true, true},
    {B("a/"), true, true},
    {B("a//b"), true, true},
    {B(" "), true, true},
    {B("$SYS/broker/load"), true, true},
    {B("$aws/things/t1/shadow/update"), true, true},
    {B("sensors/\xc3\xa9t\xc3\xa9/temp"), true, true},
    {B("a/b\0c"), false, false},
    {B("a/\xc0\xaf"), false, false},     /* overlong '/' */
    {B("a/\xed\xa0\x80"), false, false}, /* surrogate */
    {B("+"), false, true},
    {B("#"), false, true},
    {B("+/+"), false, true},
    {B("+/#"), false, true},
    {B("/+"), false, true},
    {B("/#"), false, true},
    {B("a/+/b"), false, true},
    {B("a/+"), false, true},
    {B("a/#"), false, true},
    {B("a//+//#"), false, true},
    {B("averyveryverylonglevel/+/and/more/#"), false, true},
    {B("a+"), false, false},
    {B("+a"), false, false},
    {B("a/b+/c"), false, false},
    {B("a/+b/c"), false, false},
    {B("++"), false, false},
    {B("a#"), false, false},
    {B("#a"), false, false},
    {B("a/#/b"), false, false},
    {B("#/"), false, false},
    {B("##"), false, false},
    {B("a/b/c/d/e/f/g/h#"), false, false}, /* '#' after a fast-path chunk */
    {B("abcdefgh+"), false, false},
    /* Shared subscriptions. */
    {B("$share/g/a"), true, true}, /* a legal name too: only '$' text */
    {B("$share/g/+"), false, true},
    {B("$share/g/#"), false, true},
    {B("$share/group/a/+/c/#"), false, true},
    {B("$share/g//"), true, true},          /* FILTER "/" */
    {B("$share/g/$share/h/x"), true, true}, /* inner filter taken literally */
    {B("$share/\xc3\xa9/a"), true, true},
    {B("$share/g/"), true, false}, /* empty FILTER */
    {B("$share/g"), true, false},  /* no FILTER */
    {B("$share/"), true, false},
    {B("$share//a"), true, false}, /* empty GROUP */
    {B("$share/+/a"), false, false},
    {B("$share/#/a"), false, false},
    {B("$share/g+/a"), false, false},
    {B("$share/g/a+"), false, false},
    {B("$share/g/#/a"), false, false},
    {B("$share/g\0/a"), false, false},
    {B("$share"), true, true}, /* no prefix: an ordinary level */
    {B("$shared/g/a"), true, true},
    {B("$share+"), false, false},
};

static void test_topic_name_filter(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(topic_rows) / sizeof(topic_rows[0]); i++) {
        const struct topic_row *r = &topic_rows[i];
        check_bool(mqtt_topic_name_valid(r->in.s, r->in.len), r->name, "mqtt_topic_name_valid",
                   &r->in);
        check_bool(mqtt_topic_filter_valid(r->in.s, r->in.len), r->filter,
                   "mqtt_topic_filter_valid", &r->in);
    }
}

static void test_topic_max_length(void **state)
{
    (void)state;
    static char big[65535];
    memset(big, 'x', sizeof(big));
    for (size_t i = 64; i < sizeof(big); i += 64)
        big[i] = '/';
    assert_true(mqtt_topic_name_valid(big, sizeof(big)));
    assert_true(mqtt_topic_filter_valid(big, sizeof(big)));
    big[sizeof(big) - 1] = '#';
    big[sizeof(big) - 2] = '/';
    assert_false(mqtt_topic_name_valid(big, sizeof(big)));
    assert_true(mqtt_topic_filter_valid(big, sizeof(big)));
    big[100] = '+';
    assert_false(mqtt_topic_filter_valid(big, sizeof(big)));
}

static void test_split_shared(void **state)
{
    (void)state;
    const char *g, *f;
    size_t gl, fl;
    const char *s = "$share/grp/a/+/c";

    assert_true(mqtt_topic_split_shared(s, strlen(s), &g, &gl, &f, &fl));
    assert_int_equal(gl, 3);
    assert_memory_equal(g, "grp", 3);
    assert_int_equal(fl, 5);
    assert_memory_equal(f, "a/+/c", 5);
    assert_ptr_equal(f, s + 11);

    s = "$share/g/#";
    assert_true(mqtt_topic_split_shared(s, strlen(s), &g, &gl, &f, &fl));
    assert_int_equal(gl, 1);
    assert_int_equal(fl, 1);
    assert_int_equal(f[0], '#');

    static const char *const not_shared[] = {
        "a/b", "$share", "$sharex/g/a", "$SHARE/g/a", "$share/g", "share/g/a", ""};
    for (size_t i = 0; i < sizeof(not_shared) / sizeof(not_shared[0]); i++)
        assert_false(
            mqtt_topic_split_shared(not_shared[i], strlen(not_shared[i]), &g, &gl, &f, &fl));
}

/* ---- Limits ------------------------------------------------------------ */

static const struct limit_row {
    const char *in;
    size_t max_bytes, max_slashes;
    bool ok;
} limit_rows[] = {
    {"a/b/c", 0, 0, true}, /* unlimited */
    {"a/b/c", 5, 2, true},
    {"a/b/c", 4, 0, false},
    {"a/b/c", 0, 1, false},
    {"a/b/c/d/e/f/g/h", 256, 7, true}, /* AWS: 8 levels */
    {"a/b/c/d/e/f/g/h/i", 256, 7, false},
    {"////////", 0, 7, false},
    {"///////", 0, 7, true},
    /* "$share/GROUP/" does not count. */
    {"$share/group/a/b/c/d/e/f/g/h", 256, 7, true},
    {"$share/group/a/b/c/d/e/f/g/h/i", 256, 7, false},
    {"$share/a-long-group-name/0123456789", 10, 0, true},
    {"$share/a-long-group-name/0123456789x", 10, 0, false},
    /* "$aws/rules/NAME/" does not count. */
    {"$aws/rules/myrule/a/b/c/d/e/f/g/h", 256, 7, true},
    {"$aws/rules/myrule/a/b/c/d/e/f/g/h/i", 256, 7, false},
    {"$aws/rules/a-long-rule-name/0123456789", 10, 0, true},
    {"$aws/rules/a-long-rule-name/0123456789x", 10, 0, false},
    {"$aws/rules/r/", 1, 1, true},
    /* Without the trailing slash, or other $aws topics, everything counts. */
    {"$aws/rules/r", 256, 1, false},
    {"$aws/things/t/shadow/update", 256, 4, true},
    {"$aws/things/t/shadow/update", 256, 3, false},
    {"$aws/things/t/shadow/update", 26, 0, false},
    /* Both prefixes together. */
    {"$share/g/$aws/rules/r/a/b", 3, 1, true},
};

static void test_limits(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(limit_rows) / sizeof(limit_rows[0]); i++) {
        const struct limit_row *r = &limit_rows[i];
        struct mqtt_topic_limits lim = {r->max_bytes, r->max_slashes};
        if (mqtt_topic_within_limits(r->in, strlen(r->in), &lim) != r->ok)
            fail_msg("within_limits(\"%s\", %zu, %zu) != %d", r->in, r->max_bytes, r->max_slashes,
                     r->ok);
    }
    assert_true(mqtt_topic_within_limits("a/b", 3, NULL));
}

/* ---- Matching ---------------------------------------------------------- */

enum { NO = 0, YES = 1, MQTT_ONLY = 2 }; /* MQTT_ONLY: parent match via '#' */

static const struct match_row {
    const char *filter, *topic;
    int result;
} match_rows[] = {
    {"a", "a", YES},
    {"a", "b", NO},
    {"a", "ab", NO},
    {"ab", "a", NO},
    {"a/b", "a/b", YES},
    {"a/b", "a/b/c", NO},
    {"a/b/c", "a/b", NO},
    {"a/b", "a", NO},
    /* '+': exactly one level, possibly empty. */
    {"+", "a", YES},
    {"+", "a/b", NO},
    {"+", "/", NO},
    {"+/+", "/", YES},
    {"+/+", "a/b", YES},
    {"+/+", "a", NO},
    {"a/+", "a/b", YES},
    {"a/+", "a/", YES},
    {"a/+", "a", NO},
    {"a/+", "a/b/c", NO},
    {"a/+/c", "a/b/c", YES},
    {"a/+/c", "a//c", YES},
    {"a/+/c", "a/b/d", NO},
    {"+/a", "/a", YES},
    {"/+", "/a", YES},
    {"/+", "a", NO},
    /* '#': the rest, and the parent level under MQTT rules only. */
    {"#", "a", YES},
    {"#", "a/b/c", YES},
    {"#", "/", YES},
    {"#", "/a", YES},
    {"a/#", "a/b", YES},
    {"a/#", "a/b/c", YES},
    {"a/#", "a/", YES},
    {"a/#", "a", MQTT_ONLY},
    {"a/#", "ab", NO},
    {"a/#", "b/a", NO},
    {"a/b/#", "a", NO},
    {"a/+/#", "a/b", MQTT_ONLY},
    {"a/+/#", "a/b/c/d", YES},
    {"+/#", "a", MQTT_ONLY},
    {"/#", "/", YES},
    {"/#", "", MQTT_ONLY},
    /* Empty levels are levels. */
    {"a//b", "a//b", YES},
    {"a//b", "a/b", NO},
    {"a/b", "a//b", NO},
    {"/a", "/a", YES},
    {"/a", "a", NO},
    {"a/", "a/", YES},
    {"a/", "a", NO},
    {"a//#", "a/", MQTT_ONLY},
    {"a/+/+", "a//", YES},
    /* '$' topics and leading wildcards (MQTT-4.7.2-1). */
    {"#", "$SYS", NO},
    {"#", "$SYS/broker/load", NO},
    {"+/broker/load", "$SYS/broker/load", NO},
    {"+", "$SYS", NO},
    {"$SYS/#", "$SYS/broker/load", YES},
    {"$SYS/#", "$SYS", MQTT_ONLY},
    {"$SYS/+/load", "$SYS/broker/load", YES},
    {"$aws/things/+/shadow/#", "$aws/things/t1/shadow/update/accepted", YES},
    {"a/#", "a/$b", YES}, /* only the first level counts */
    {"+/$b", "a/$b", YES},
    /* UTF-8 compared as bytes. */
    {"caf\xc3\xa9/+", "caf\xc3\xa9/x", YES},
    {"caf\xc3\xa9", "cafe", NO},
};

static void test_matches(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
        const struct match_row *r = &match_rows[i];
        bool mqtt = r->result != NO, aws = r->result == YES;
        size_t fl = strlen(r->filter), tl = strlen(r->topic);
        if (mqtt_topic_matches(r->filter, fl, r->topic, tl, true) != mqtt)
            fail_msg("matches(\"%s\", \"%s\", parent) != %d", r->filter, r->topic, mqtt);
        if (mqtt_topic_matches(r->filter, fl, r->topic, tl, false) != aws)
            fail_msg("matches(\"%s\", \"%s\", no parent) != %d", r->filter, r->topic, aws);
    }
}

/* A valid name used as a filter matches itself and nothing else from a set. */
static void test_matches_literal(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "a/b", "a//b", "/a", "a/", "/", "$SYS/x", "ab/c"};
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            assert_int_equal(
                mqtt_topic_matches(names[i], strlen(names[i]), names[j], strlen(names[j]), true),
                i == j);
}

/* NULL with length 0 is never dereferenced. */
static void test_empty_inputs(void **state)
{
    (void)state;
    assert_true(mqtt_utf8_valid(NULL, 0));
    assert_false(mqtt_topic_name_valid(NULL, 0));
    assert_false(mqtt_topic_filter_valid(NULL, 0));
    assert_false(mqtt_topic_matches("a", 1, NULL, 0, true));
    assert_false(mqtt_topic_is_system(NULL, 0));
    assert_true(mqtt_topic_is_system("$x", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_all_code_points),
        cmocka_unit_test(test_topic_name_filter),
        cmocka_unit_test(test_topic_max_length),
        cmocka_unit_test(test_split_shared),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_matches_literal),
        cmocka_unit_test(test_empty_inputs),
    };
    return cmocka_run_group_tests_name("mqtt_topic", tests, NULL, NULL);
}
