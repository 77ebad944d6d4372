/* test_sql_doc.c - the rules' payload scan says "JSON" exactly when jansson
 * does, and finds the members the tree has, on the cases that decide it:
 * grammar, escapes and surrogates, UTF-8, number ranges, depth, NUL bytes,
 * repeated keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/sql_doc.h"

struct doc_case {
    const char *text;
    size_t len; /* 0: strlen */
    int is_json;
};

#define C(s, j)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1, j                                                                        \
    }

static const struct doc_case cases[] = {
    C("{\"temperature\": 95.5, \"seq\": 1, \"device\": \"dev-1\"}", 1),
    C("  {}  ", 1),
    C("[]", 1),
    C("\"just a string\"", 1),
    C("42", 1),
    C("-0", 1),
    C("true", 1),
    C("null", 1),
    C("", 0),
    C("   ", 0),
    C("{", 0),
    C("{\"a\":1,}", 0),
    C("[1,]", 0),
    C("{\"a\" 1}", 0),
    C("{1: 2}", 0),
    C("01", 0),
    C("1.", 0),
    C("1e", 0),
    C("1e+", 0),
    C("-", 0),
    C("+1", 0),
    C(".5", 0),
    C("1.5e-3", 1),
    C("9223372036854775807", 1),
    C("9223372036854775808", 0),
    C("-9223372036854775808", 1),
    C("-9223372036854775809", 0),
    C("1e308", 1),
    C("1e309", 0),
    C("-1e309", 0),
    C("1e-400", 1),
    C("truex", 0),
    C("nul", 0),
    C("True", 0),
    C("\"a\\u00e9\\n\\t\\\"\\\\\\/\"", 1),
    C("\"\\x\"", 0),
    C("\"\\u12\"", 0),
    C("\"\\u0000\"", 0),
    C("\"\\ud83d\\ude00\"", 1),
    C("\"\\ud83d\"", 0),
    C("\"\\ude00\"", 0),
    C("\"\\ud83d\\u0041\"", 0),
    C("\"tab\there\"", 0),
    C("\"\xc3\xa9\"", 1),
    C("\"\xc3\"", 0),
    C("\"\xc0\xaf\"", 0),
    C("\"\xed\xa0\x80\"", 0),
    C("\"\xf4\x90\x80\x80\"", 0),
    C("\"\xf0\x9f\x98\x80\"", 1),
    C("\"\xff\"", 0),
    C("[1\0]", 1),
    C("[1\0\0]", 0),
    C("[1 \0]", 0),
    C("{\"a\":true\0}", 1),
    C("\"a\"\0", 0),
    C("{\"a\":1,\"a\":2}", 1),
    C("{\"k\\u0041\": 1, \"kA\": 2}", 1),
    C("[1] [2]", 0),
    C("{\"a\":{\"b\":[1,{\"c\":null}]}}", 1),
    /* Numbers converted without strtod must be strtod's doubles. */
    C("{\"a\": 0.1, \"b\": -12.345678901234, \"c\": 123456789012345.6, \"d\": 90.1, "
      "\"e\": -0.0, \"f\": 0.000000000000001, \"g\": 1234567890123456.7, \"h\": 1e5, "
      "\"i\": 999999999999999, \"j\": 1000000000000000, \"k\": -9223372036854775808}",
      1),
};

static void check(const char *text, size_t len, int is_json)
{
    json_t *tree = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    struct sql_doc d;
    sql_doc_init(&d, (const uint8_t *)text, len);
    if ((tree != NULL) != is_json)
        fail_msg("jansson disagrees with the table on %.*s", (int)len, text);
    if (sql_doc_is_json(&d) != (tree != NULL))
        fail_msg("scan disagrees with jansson on %.*s", (int)len, text);
    if (json_is_object(tree)) {
        const char *key;
        json_t *v;
        json_object_foreach(tree, key, v)
        {
            const json_t *got = sql_doc_member(&d, key);
            assert_non_null(got);
            assert_true(json_equal((json_t *)got, v));
        }
        assert_null(sql_doc_member(&d, "no such member"));
    }
    sql_doc_release(&d);
    json_decref(tree);
}

static void test_agrees_with_jansson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(cases[i].text, cases[i].len, cases[i].is_json);
}

/* jansson counts every value as one level and stops past 2048. */
static void test_depth(void **state)
{
    (void)state;
    for (int depth = 2046; depth <= 2050; depth++) {
        for (int with_leaf = 0; with_leaf < 2; with_leaf++) {
            size_t n = (size_t)depth * 2 + 1;
            char *s = malloc(n + 1), *p = s;
            for (int i = 0; i < depth; i++)
                *p++ = '[';
            if (with_leaf) *p++ = '1';
            for (int i = 0; i < depth; i++)
                *p++ = ']';
            json_t *tree = json_loadb(s, (size_t)(p - s), JSON_DECODE_ANY, NULL);
            check(s, (size_t)(p - s), tree != NULL);
            json_decref(tree);
            free(s);
        }
    }
}

static void test_members_are_parsed_once_and_last_wins(void **state)
{
    (void)state;
    const char *text = "{\"t\": 90.1, \"t\": 95.5, \"s\": \"x\", \"n\": 7, \"o\": {\"a\": [1]}}";
    struct sql_doc d;
    sql_doc_init(&d, (const uint8_t *)text, strlen(text));
    const json_t *t = sql_doc_member(&d, "t");
    assert_true(json_is_real(t) && json_real_value(t) == 95.5);
    assert_ptr_equal(sql_doc_member(&d, "t"), t);
    assert_string_equal(json_string_value(sql_doc_member(&d, "s")), "x");
    assert_int_equal(json_integer_value(sql_doc_member(&d, "n")), 7);
    assert_true(json_is_object(sql_doc_member(&d, "o")));
    assert_false(d.has_tree); /* no member needed the whole tree */
    sql_doc_release(&d);
}

static void test_many_members_fall_back_to_the_tree(void **state)
{
    (void)state;
    char text[4096] = "{";
    for (int i = 0; i < SQL_DOC_MEMBERS + 8; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s\"k%d\": %d", i ? "," : "", i,
                 i);
    strcat(text, "}");
    check(text, strlen(text), 1);
    struct sql_doc d;
    sql_doc_init(&d, (const uint8_t *)text, strlen(text));
    assert_int_equal(json_integer_value(sql_doc_member(&d, "k39")), 39);
    assert_int_equal(json_integer_value(sql_doc_member(&d, "k0")), 0);
    sql_doc_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_with_jansson),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_members_are_parsed_once_and_last_wins),
        cmocka_unit_test(test_many_members_fall_back_to_the_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
