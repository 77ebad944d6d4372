/* test_registry_names.c - AWS IoT's name and value rules (registry/names.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "registry/names.h"

#include <stdio.h>
#include <string.h>

typedef int (*check_fn)(const char *s, size_t len, const char **why);

struct bytes {
    const char *s;
    size_t len;
};

#define B(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

static void expect_ok(check_fn fn, const char *s, size_t len)
{
    const char *why = "untouched";
    int rc = fn(s, len, &why);
    if (rc != 0)
        fail_msg("expected valid: '%.*s' (len %zu), got %d: %s", (int)len, s, len, rc, why);
    assert_string_equal(why, "untouched");
    assert_int_equal(fn(s, len, NULL), 0);
}

static void expect_bad(check_fn fn, const char *s, size_t len, const char *want_why)
{
    const char *why = NULL;
    int rc = fn(s, len, &why);
    if (rc != UMBRA_EINVAL)
        fail_msg("expected invalid: '%.*s' (len %zu), got %d", s ? (int)len : 0, s ? s : "", len,
                 rc);
    assert_non_null(why);
    if (want_why) assert_string_equal(why, want_why);
    assert_int_equal(fn(s, len, NULL), UMBRA_EINVAL);
}

static void run_table(check_fn fn, const struct bytes *ok, size_t n_ok, const struct bytes *bad,
                      size_t n_bad, const char *pattern_why)
{
    for (size_t i = 0; i < n_ok; i++)
        expect_ok(fn, ok[i].s, ok[i].len);
    for (size_t i = 0; i < n_bad; i++)
        expect_bad(fn, bad[i].s, bad[i].len, pattern_why);
}

/* fn accepts max bytes of c, rejects max+1 with the max-length message. */
static void check_lengths(check_fn fn, char c, size_t max, const char *max_why)
{
    char buf[1024];
    assert_true(max + 1 < sizeof buf);
    memset(buf, c, sizeof buf);
    expect_ok(fn, buf, 1);
    expect_ok(fn, buf, max);
    expect_bad(fn, buf, max + 1, max_why);
    expect_bad(fn, buf, sizeof buf, max_why);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MIN1 "Member must have length greater than or equal to 1"
#define THING_PAT "Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
#define ATTR_NAME_PAT "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+"
#define ATTR_VALUE_PAT "Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#=\\[\\]-]*"
#define POLICY_PAT "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
#define SHADOW_PAT "Member must satisfy regular expression pattern: [$a-zA-Z0-9:_-]+"
#define TOKEN_PAT "Member must contain only printable ASCII characters"

/* Bytes no name pattern accepts; each check adds its own. */
#define COMMON_BAD                                                                                 \
    B("a b"), B(" a"), B("a "), B("a\tb"), B("a\nb"), B("a\0b"), B("\0"), B("a\0"),                \
        B("caf\xc3\xa9"), B("\xe2\x82\xac"), B("\xff"), B("\x80"), B("a\x7f"), B("a\"b"),          \
        B("a'b"), B("a\\b"), B("a;b"), B("a!b"), B("a*b"), B("a?b"), B("a%b"), B("a&b"),           \
        B("a(b)"), B("a{b}"), B("a<b>"), B("a|b"), B("a~b"), B("a`b"), B("a^b")

static void test_thing(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B("a"),        B("Z"),           B("0"),           B("-"),      B("_"),   B(":"),
        B("my-thing"), B("My_Thing:01"), B("abc-XYZ_09:"), B("::--__"), B("123"),
    };
    static const struct bytes bad[] = {COMMON_BAD, B("a.b"),  B("a/b"),  B("a@b"),
                                       B("a#b"),   B("a=b"),  B("a+b"),  B("a,b"),
                                       B("a$b"),   B("a[b]"), B("$aws"), B("a/b/c")};
    run_table(names_check_thing, ok, N(ok), bad, N(bad), THING_PAT);
    expect_bad(names_check_thing, "", 0, MIN1);
    check_lengths(names_check_thing, 'x', NAMES_THING_MAX,
                  "Member must have length less than or equal to 128");
    assert_int_equal(NAMES_THING_MAX, 128);
}

static void test_thing_type(void **state)
{
    (void)state;
    static const struct bytes ok[] = {B("t"), B("LightBulb"), B("type:v1_a-b"), B("9")};
    static const struct bytes bad[] = {COMMON_BAD, B("a.b"), B("a/b"), B("a=b"), B("a$b")};
    run_table(names_check_thing_type, ok, N(ok), bad, N(bad), THING_PAT);
    expect_bad(names_check_thing_type, "", 0, MIN1);
    check_lengths(names_check_thing_type, '-', NAMES_THING_TYPE_MAX,
                  "Member must have length less than or equal to 128");
}

static void test_attribute_name(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B("a"),     B("serial"), B("model.version"), B("a_b,c@d/e:f#g-h"), B("#"), B("/path"),
        B("x@y.z"), B("1,2"),    B("k:v"),
    };
    static const struct bytes bad[] = {COMMON_BAD, B("a=b"), B("a+b"), B("a$b"), B("a[b]")};
    run_table(names_check_attribute_name, ok, N(ok), bad, N(bad), ATTR_NAME_PAT);
    /* No minimum in the model: the '+' of the pattern rejects the empty name. */
    expect_bad(names_check_attribute_name, "", 0, ATTR_NAME_PAT);
    check_lengths(names_check_attribute_name, '.', NAMES_ATTRIBUTE_NAME_MAX,
                  "Member must have length less than or equal to 128");
}

static void test_attribute_value(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B(""),         B("v"),    B("1.2.3"), B("a_b,c@d/e:f#g-h"), B("user@example.com"),
        B("12:34:56"), B("#tag"), B("-"),     B("/a/b/c"), B("a=b"), B("[1]"), B("a]"),
    };
    static const struct bytes bad[] = {COMMON_BAD, B("a+b"), B("a$b"), B("a b"), B("{x}")};
    run_table(names_check_attribute_value, ok, N(ok), bad, N(bad), ATTR_VALUE_PAT);
    expect_ok(names_check_attribute_value, "", 0);
    check_lengths(names_check_attribute_value, '9', NAMES_ATTRIBUTE_VALUE_MAX,
                  "Member must have length less than or equal to 800");
    assert_int_equal(NAMES_ATTRIBUTE_VALUE_MAX, 800);
}

static void test_policy(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B("p"),   B("MyPolicy"),  B("policy_1"), B("a+b=c,d.e@f-g"), B("="), B("@"),
        B("..."), B("Allow-All"), B("0"),
    };
    static const struct bytes bad[] = {COMMON_BAD, B("a:b"), B("a/b"),
                                       B("a#b"),   B("a$b"), B("a[b]")};
    run_table(names_check_policy, ok, N(ok), bad, N(bad), POLICY_PAT);
    expect_bad(names_check_policy, "", 0, MIN1);
    check_lengths(names_check_policy, 'P', NAMES_POLICY_MAX,
                  "Member must have length less than or equal to 128");
}

static void test_shadow(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B("s"), B("config"), B("my-shadow_1:a"), B("$package"), B("$"), B("a$b"),
    };
    static const struct bytes bad[] = {COMMON_BAD, B("a.b"), B("a/b"), B("a=b"),
                                       B("a#b"),   B("a+b"), B("a@b")};
    run_table(names_check_shadow, ok, N(ok), bad, N(bad), SHADOW_PAT);
    expect_bad(names_check_shadow, "", 0, MIN1);
    check_lengths(names_check_shadow, 'q', NAMES_SHADOW_MAX,
                  "Member must have length less than or equal to 64");
    assert_int_equal(NAMES_SHADOW_MAX, 64);
}

static void test_client_token(void **state)
{
    (void)state;
    static const struct bytes ok[] = {
        B("t"),
        B("token-1"),
        B("a b"),
        B(" "),
        B("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"),
        B("x"),
        B("550e8400-e29b-41d4-a716-446655440000"),
    };
    static const struct bytes bad[] = {
        B("a\tb"), B("a\nb"), B("a\0b"),        B("\0"),           B("a\x7f"),
        B("\x1f"), B("\xff"), B("caf\xc3\xa9"), B("\xe2\x82\xac"), B("a\r"),
    };
    run_table(names_check_client_token, ok, N(ok), bad, N(bad), TOKEN_PAT);
    expect_bad(names_check_client_token, "", 0, MIN1);
    check_lengths(names_check_client_token, ' ', NAMES_CLIENT_TOKEN_MAX,
                  "Member must have length less than or equal to 64");
}

/* Over-long values that also break the pattern report the pattern, as AWS does
 * for non-ASCII names it counts in characters, not bytes. */
static void test_pattern_before_max(void **state)
{
    (void)state;
    char buf[300];
    for (size_t i = 0; i < 100; i++)
        memcpy(buf + 2 * i, "\xc3\xa9", 2); /* 100 x U+00E9 = 200 bytes */
    expect_bad(names_check_thing, buf, 200, THING_PAT);
    memset(buf, 'a', sizeof buf);
    buf[sizeof buf - 1] = ' ';
    expect_bad(names_check_thing, buf, sizeof buf, THING_PAT);
    expect_bad(names_check_attribute_value, buf, sizeof buf, ATTR_VALUE_PAT);
}

/* The length argument rules: bytes past len are never read, and a NUL inside counts. */
static void test_length_is_explicit(void **state)
{
    (void)state;
    expect_ok(names_check_thing, "abc def", 3);
    expect_ok(names_check_policy, "p=1\0junk", 3);
    expect_bad(names_check_policy, "p=1\0junk", 4, POLICY_PAT);
    expect_bad(names_check_shadow, "ab\0", 3, SHADOW_PAT);
    expect_ok(names_check_attribute_value, "x y", 0);
}

static void test_null(void **state)
{
    (void)state;
    check_fn fns[] = {names_check_thing,          names_check_thing_type,
                      names_check_attribute_name, names_check_attribute_value,
                      names_check_policy,         names_check_shadow,
                      names_check_client_token};
    for (size_t i = 0; i < N(fns); i++) {
        expect_bad(fns[i], NULL, 0, "Member must not be null");
        expect_bad(fns[i], NULL, 5, "Member must not be null");
    }
}

static void test_format_error(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(names_check_thing("x y", 3, &why), UMBRA_EINVAL);
    char out[512];
    int n = names_format_error(out, sizeof out, "thingName", "x y", 3, why);
    const char *want = "1 validation error detected: Value 'x y' at 'thingName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: "
                       "[a-zA-Z0-9:_-]+";
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));

    char big[129];
    memset(big, 'a', sizeof big);
    assert_int_equal(names_check_policy(big, sizeof big, &why), UMBRA_EINVAL);
    n = names_format_error(out, sizeof out, "policyName", big, sizeof big, why);
    assert_true(n > 0 && (size_t)n == strlen(out));
    assert_non_null(strstr(out, "' at 'policyName' failed to satisfy constraint: Member must have "
                                "length less than or equal to 128"));

    n = names_format_error(out, sizeof out, "attributes.name", "", 0, ATTR_NAME_PAT);
    assert_string_equal(out, "1 validation error detected: Value '' at 'attributes.name' failed "
                             "to satisfy constraint: " ATTR_NAME_PAT);
    n = names_format_error(out, sizeof out, "f", NULL, 0, "w");
    assert_string_equal(out, "1 validation error detected: Value '' at 'f' failed to satisfy "
                             "constraint: w");
}

static void test_format_error_escapes(void **state)
{
    (void)state;
    char out[256];
    int n = names_format_error(out, sizeof out, "thingName", "a\0b\\c\xc3\xa9\n'", 9, "w");
    const char *want = "1 validation error detected: Value 'a\\x00b\\\\c\\xc3\\xa9\\x0a'' at "
                       "'thingName' failed to satisfy constraint: w";
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
    for (const char *p = out; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
}

static void test_format_error_truncates(void **state)
{
    (void)state;
    char full[256];
    int n = names_format_error(full, sizeof full, "thingName", "x\x01y", 3, THING_PAT);
    assert_true(n > 0 && (size_t)n < sizeof full);
    assert_int_equal((size_t)n, strlen(full));

    char small[20];
    memset(small, '#', sizeof small);
    assert_int_equal(names_format_error(small, sizeof small, "thingName", "x\x01y", 3, THING_PAT),
                     n);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, full, sizeof small - 1);

    /* Exactly enough room, and one byte short. */
    char exact[256];
    assert_int_equal(names_format_error(exact, (size_t)n + 1, "thingName", "x\x01y", 3, THING_PAT),
                     n);
    assert_string_equal(exact, full);
    assert_int_equal(names_format_error(exact, (size_t)n, "thingName", "x\x01y", 3, THING_PAT), n);
    assert_int_equal(strlen(exact), (size_t)n - 1);

    /* cap 1 gives the empty string; cap 0 writes nothing and takes NULL. */
    char one[1] = {'#'};
    assert_int_equal(names_format_error(one, 1, "thingName", "x", 1, "w"),
                     names_format_error(NULL, 0, "thingName", "x", 1, "w"));
    assert_int_equal(one[0], '\0');
    char untouched = '#';
    assert_true(names_format_error(&untouched, 0, "f", "v", 1, "w") > 0);
    assert_int_equal(untouched, '#');
}

static void test_format_error_bad_args(void **state)
{
    (void)state;
    char out[64];
    strcpy(out, "junk");
    assert_int_equal(names_format_error(out, sizeof out, NULL, "v", 1, "w"), UMBRA_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(names_format_error(out, sizeof out, "f", "v", 1, NULL), UMBRA_EINVAL);
    assert_int_equal(names_format_error(out, sizeof out, "f", NULL, 1, "w"), UMBRA_EINVAL);
    assert_int_equal(names_format_error(NULL, 8, "f", "v", 1, "w"), UMBRA_EINVAL);
    assert_int_equal(names_format_error(out, sizeof out, "f", "v", (size_t)INT32_MAX + 1, "w"),
                     UMBRA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thing),
        cmocka_unit_test(test_thing_type),
        cmocka_unit_test(test_attribute_name),
        cmocka_unit_test(test_attribute_value),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_shadow),
        cmocka_unit_test(test_client_token),
        cmocka_unit_test(test_pattern_before_max),
        cmocka_unit_test(test_length_is_explicit),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_format_error),
        cmocka_unit_test(test_format_error_escapes),
        cmocka_unit_test(test_format_error_truncates),
        cmocka_unit_test(test_format_error_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
