/* test_sql_parse.c - AWS IoT SQL statements: what parses into which tree,
 * and what create-topic-rule must refuse, with the column of the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sql_query *parse(const char *text)
{
    struct sql_query *q;
    struct sql_error err;
    int rc = sql_parse(text, strlen(text), &q, &err);
    if (rc) fail_msg("'%s' should parse: %s", text, err.message);
    return q;
}

static void test_statements_that_parse(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "SELECT * FROM '#'",
        "select * from 'sensors/+/data'",
        "SELECT * FROM '$aws/things/+/shadow/update/accepted'",
        "SELECT *, topic(2) AS dev FROM 'sensors/+/data' WHERE temp > 50",
        "SELECT temp, humidity AS h FROM 'a/b' WHERE temp >= 10 AND NOT (humidity < 5 OR h = 1)",
        "SELECT a.b.c, a[0], a.b[1].c, get(get(obj, 'item2'), '0') FROM 't'",
        "SELECT VALUE state.reported FROM 'x'",
        "SELECT value FROM 'x'",
        "SELECT value AS v, value.x FROM 'x'",
        "SELECT value[0] FROM 'x'",
        "SELECT VALUE [1, 2] FROM 'x'",
        "SELECT 1 + 2 * 3 - -4 / 2 % 3 AS n, 'a' || 'b' AS s, 1.5e3 AS e FROM 't'",
        "SELECT CASE color WHEN 'red' THEN 1 WHEN 'blue' THEN 2 ELSE 0 END AS c FROM 't'",
        "SELECT CASE x WHEN 1 THEN 'one' END FROM 't'",
        "SELECT cast(temp AS Int) AS t, cast('1.5' AS Decimal), cast(x AS Boolean) FROM 't'",
        "SELECT encode(*, 'base64') AS data FROM 'bin/#'",
        "SELECT {'a': 1, 'b': [1, 2, {'c': true}], d: null} AS obj FROM 't'",
        "SELECT [] AS e, {} AS o FROM 't'",
        "SELECT * FROM 't' WHERE color IN ('red', 'green', 'blue')",
        "SELECT * FROM 't' WHERE startswith(topic(), 'a') AND isUndefined(x) = false",
        "SELECT timestamp() AS ts, newuuid() AS id, clientid(), principal(), traceid() FROM 't'",
        "SELECT concat() AS a, concat('a', 'b', 'c', 'd') AS b, coalesce(a, b, c) FROM 't'",
        "SELECT regexp_replace(s, '[0-9]+', 'N'), substring(s, 1), substring(s, 1, 3) FROM 't'",
        "SELECT get_thing_shadow('thing', 'shadow', 'arn:aws:iam::1:role/r') AS s FROM 't'",
        "SELECT 'it''s' AS s, \"double \"\" quote\" AS d FROM 't'",
        "SELECT x AS a.b.c FROM 't'",
        "SELECT * WHERE a <> b AND a != c AND a <= d",
        "SELECT *",
        "  SELECT\n*\tFROM\n'#'  ",
        "SELECT ((((1)))) AS deep FROM 't'",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) sql_query_free(parse(ok[i]));
}

static void test_tree_shape(void **state)
{
    (void)state;
    struct sql_query *q =
        parse("SELECT *, topic(2) AS dev, a.b[1] FROM 'sensors/+/data' WHERE temp > 50 + 1 * 2");
    assert_int_equal(q->nitems, 3);
    assert_int_equal(q->items[0].expr->kind, SQL_STAR);
    assert_int_equal(q->items[1].expr->kind, SQL_CALL);
    assert_string_equal(q->items[1].expr->name, "topic");
    assert_int_equal(q->items[1].expr->nargs, 1);
    assert_string_equal(q->items[1].alias, "dev");
    struct sql_node *idx = q->items[2].expr;
    assert_int_equal(idx->kind, SQL_INDEX);
    assert_int_equal(idx->a->kind, SQL_MEMBER);
    assert_string_equal(idx->a->name, "b");
    assert_int_equal(idx->a->a->kind, SQL_FIELD);
    assert_string_equal(idx->a->a->name, "a");
    assert_null(q->items[2].alias);
    assert_string_equal(q->from, "sensors/+/data");
    /* temp > (50 + (1 * 2)) */
    struct sql_node *w = q->where;
    assert_int_equal(w->kind, SQL_BINARY);
    assert_int_equal(w->op, SQL_OP_GT);
    assert_int_equal(w->b->op, SQL_OP_ADD);
    assert_int_equal(w->b->b->op, SQL_OP_MUL);
    sql_query_free(q);

    /* AND binds tighter than OR, NOT tighter than AND. */
    q = parse("SELECT * FROM 't' WHERE NOT a OR b AND c");
    assert_int_equal(q->where->op, SQL_OP_OR);
    assert_int_equal(q->where->a->kind, SQL_NOT);
    assert_int_equal(q->where->b->op, SQL_OP_AND);
    sql_query_free(q);

    q = parse("SELECT VALUE -3 FROM 't'");
    assert_true(q->is_value);
    assert_int_equal(q->items[0].expr->kind, SQL_LITERAL);
    assert_int_equal(json_integer_value(q->items[0].expr->value), -3);
    sql_query_free(q);

    q = parse("SELECT value[0] FROM 't'");
    assert_false(q->is_value);
    assert_int_equal(q->items[0].expr->kind, SQL_INDEX);
    sql_query_free(q);
    q = parse("SELECT VALUE [1, 2] FROM 't'");
    assert_true(q->is_value);
    assert_int_equal(q->items[0].expr->kind, SQL_ARRAY);
    sql_query_free(q);

    q = parse("SELECT value FROM 't'");
    assert_false(q->is_value);
    assert_string_equal(q->items[0].expr->name, "value");
    sql_query_free(q);

    q = parse("SELECT 'it''s' AS s, 2.50 AS d, 7 AS i FROM 't'");
    assert_string_equal(json_string_value(q->items[0].expr->value), "it's");
    assert_true(json_is_real(q->items[1].expr->value));
    assert_true(json_is_integer(q->items[2].expr->value));
    sql_query_free(q);

    q = parse("SELECT {'a': 1, b: 'x'} AS o FROM 't'");
    struct sql_node *o = q->items[0].expr;
    assert_int_equal(o->kind, SQL_OBJECT);
    assert_int_equal(o->nargs, 2);
    assert_string_equal(o->keys[0], "a");
    assert_string_equal(o->keys[1], "b");
    sql_query_free(q);

    q = parse("SELECT cast(x AS Decimal) FROM 't' WHERE x IN (1, 2)");
    assert_int_equal(q->items[0].expr->kind, SQL_CAST);
    assert_string_equal(q->items[0].expr->name, "decimal");
    assert_int_equal(q->where->kind, SQL_IN);
    assert_int_equal(q->where->nargs, 2);
    sql_query_free(q);
}

struct bad {
    const char *text;
    size_t column;
    const char *says; /* part of the message */
};

static void test_statements_refused(void **state)
{
    (void)state;
    static const struct bad bad[] = {
        {"", 1, "Expected SELECT"},
        {"SELEC * FROM 't'", 1, "Expected SELECT"},
        {"SELECT", 7, "an expression"},
        {"SELECT * FROM", 14, "topic filter"},
        {"SELECT * FROM t", 15, "topic filter"},
        {"SELECT * FROM \"t\"", 15, "single quotes"},
        {"SELECT * FROM 't", 15, "Expected"},
        {"SELECT * FROM 't' WHERE", 24, "an expression"},
        {"SELECT * FROM 't' WHERE a >", 28, "an expression"},
        {"SELECT * FROM 't' extra", 19, "the end of the statement"},
        {"SELECT a b FROM 't'", 10, "FROM, WHERE"},
        {"SELECT a, FROM 't'", 11, "an expression"},
        {"SELECT nosuch(1) FROM 't'", 8, "Unknown function nosuch()"},
        {"SELECT topic(1, 2) FROM 't'", 8, "Wrong number of arguments for topic()"},
        {"SELECT abs() FROM 't'", 8, "Wrong number of arguments for abs()"},
        {"SELECT abs(1 FROM 't'", 14, "',' or ')'"},
        {"SELECT (1 + 2 FROM 't'", 15, "')'"},
        {"SELECT a. FROM 't'", 11, "field name after '.'"},
        {"SELECT a[1 FROM 't'", 12, "']'"},
        {"SELECT CASE x THEN 1 END FROM 't'", 15, "WHEN"},
        {"SELECT CASE x WHEN 1 2 END FROM 't'", 22, "THEN"},
        {"SELECT CASE x WHEN 1 THEN 2 FROM 't'", 29, "WHEN, ELSE or END"},
        {"SELECT cast(x) FROM 't'", 14, "AS in cast()"},
        {"SELECT cast(x AS Float) FROM 't'", 18, "a type"},
        {"SELECT {'a' 1} FROM 't'", 13, "':'"},
        {"SELECT {1: 2} FROM 't'", 9, "a key"},
        {"SELECT [1, 2 FROM 't'", 14, "',' or ']'"},
        {"SELECT * FROM 't' WHERE a IN 1", 30, "'(' after IN"},
        {"SELECT x AS FROM 't'", 13, "an alias"},
        {"SELECT # FROM 't'", 8, "an expression"},
        {"SELECT a | b FROM 't'", 10, "FROM, WHERE"},
        {"SELECT (SELECT VALUE x FROM y) FROM 't'", 9, "Nested SELECT"},
        {"SELECT * FROM 't' WHERE a = 1 AND", 34, "an expression"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sql_query *q = NULL;
        struct sql_error err;
        int rc = sql_parse(bad[i].text, strlen(bad[i].text), &q, &err);
        if (rc == 0) fail_msg("'%s' should be refused", bad[i].text);
        assert_null(q);
        if (err.column != bad[i].column || !strstr(err.message, bad[i].says))
            fail_msg("'%s': got column %zu '%s', want %zu '%s'", bad[i].text, err.column,
                     err.message, bad[i].column, bad[i].says);
        char where[32];
        snprintf(where, sizeof where, "at 1:%zu", bad[i].column);
        assert_non_null(strstr(err.message, where));
    }
}

static void test_hostile_input(void **state)
{
    (void)state;
    struct sql_query *q;
    struct sql_error err;
    /* Deep nesting is refused, not a stack overflow. */
    char deep[4096];
    size_t n = (size_t)snprintf(deep, sizeof deep, "SELECT ");
    for (int i = 0; i < 1000; i++) deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < 1000; i++) deep[n++] = ')';
    deep[n] = '\0';
    assert_int_not_equal(sql_parse(deep, n, &q, &err), 0);
    assert_non_null(strstr(err.message, "nested too deeply"));
    n = (size_t)snprintf(deep, sizeof deep, "SELECT ");
    for (int i = 0; i < 1000; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "-");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "1");
    assert_int_not_equal(sql_parse(deep, n, &q, &err), 0);
    n = (size_t)snprintf(deep, sizeof deep, "SELECT ");
    for (int i = 0; i < 500; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "NOT ");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "a");
    assert_int_not_equal(sql_parse(deep, n, &q, &err), 0);
    /* A NUL inside, and bytes that are not UTF-8 in a literal. */
    assert_int_not_equal(sql_parse("SELECT a\0b", 10, &q, &err), 0);
    assert_int_equal(err.column, 9);
    assert_int_not_equal(sql_parse("SELECT '\xff' FROM 't'", 18, &q, &err), 0);
    assert_non_null(strstr(err.message, "UTF-8"));
    /* Aliases and object keys become JSON keys: UTF-8 too (found by fuzz_sql). */
    const char *alias = "SELECT a AS '\xff'", *key = "SELECT {'\xff': 1}";
    assert_int_not_equal(sql_parse(alias, strlen(alias), &q, &err), 0);
    assert_non_null(strstr(err.message, "Aliases must be UTF-8"));
    assert_int_not_equal(sql_parse(key, strlen(key), &q, &err), 0);
    assert_non_null(strstr(err.message, "Object keys must be UTF-8"));
    /* Longer than AWS allows. */
    size_t big = SQL_MAX_LENGTH + 1;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, ' ', big);
    memcpy(s, "SELECT *", 8);
    assert_int_not_equal(sql_parse(s, big, &q, &err), 0);
    free(s);
    /* A huge number is a decimal, not an overflow. */
    q = parse("SELECT 123456789012345678901234567890 AS n FROM 't'");
    assert_true(json_is_real(q->items[0].expr->value));
    sql_query_free(q);
}

static void test_expressions_for_templates(void **state)
{
    (void)state;
    struct sql_node *n;
    struct sql_error err;
    assert_int_equal(sql_parse_expression("topic(3)", 8, &n, &err), 0);
    assert_int_equal(n->kind, SQL_CALL);
    sql_node_free(n);
    const char *e = "replace(topic(), '/', '-')";
    assert_int_equal(sql_parse_expression(e, strlen(e), &n, &err), 0);
    sql_node_free(n);
    assert_int_not_equal(sql_parse_expression("topic() extra", 13, &n, &err), 0);
    assert_int_equal(err.column, 9);
    assert_int_not_equal(sql_parse_expression("", 0, &n, &err), 0);
}

static void test_function_table(void **state)
{
    (void)state;
    assert_true(sql_function_known("TOPIC", 0, NULL));
    assert_true(sql_function_known("topic", 1, NULL));
    assert_false(sql_function_known("topic", 2, NULL));
    assert_true(sql_function_known("concat", 0, NULL));
    assert_true(sql_function_known("concat", 50, NULL));
    const char *why = NULL;
    assert_false(sql_function_known("aws_lambda", 2, &why));
    assert_string_equal(why, "unknown function");
}

static void test_from_filters(void **state)
{
    (void)state;
    static const struct {
        const char *filter, *topic;
        bool matches;
    } cases[] = {
        {"#", "a", true},           {"#", "a/b/c", true},
        {"#", "$aws/things/x/shadow/update", true}, {"+/things/#", "$aws/things/x", true},
        {"sensors/+/data", "sensors/d1/data", true}, {"sensors/+/data", "sensors/d1/x", false},
        {"sensors/+/data", "sensors/d1/data/x", false}, {"sensors/#", "sensors", true},
        {"sensors/#", "sensors/a/b", true}, {"sensors/#", "sensorsX", false},
        {"a/b", "a/b", true},       {"a/b", "a/b/", false},
        {"a/+", "a/", true},        {"a", "a/b", false},
        {"$aws/rules/r/#", "$aws/rules/r/x", true}, {"a/+/+", "a/b", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sql_from_matches(cases[i].filter, strlen(cases[i].filter), cases[i].topic,
                             strlen(cases[i].topic)) != cases[i].matches)
            fail_msg("FROM '%s' on %s", cases[i].filter, cases[i].topic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_that_parse), cmocka_unit_test(test_tree_shape),
        cmocka_unit_test(test_statements_refused),    cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_expressions_for_templates), cmocka_unit_test(test_function_table),
        cmocka_unit_test(test_from_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
