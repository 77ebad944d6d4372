/*
 * test_usage_price.c - price tables: the built-in one, the lecture's, the
 * tier boundaries of AWS's messaging tiers, and tables that must be refused
 * with a message naming the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "usage_price.h"

#include <math.h>
#include <string.h>

static void parse_ok(const char *text, struct usage_price_table *t)
{
    char err[256] = "";
    int rc = usage_price_parse(text, strlen(text), t, NULL, err, sizeof err);
    if (rc) fail_msg("refused: %s", err);
}

static void assert_cost(double got, double want)
{
    if (fabs(got - want) > 1e-9 * (1 + fabs(want))) fail_msg("cost %.12f, want %.12f", got, want);
}

static void test_default_table_prices_us_east_1(void **state)
{
    (void)state;
    struct usage_price_table t;
    parse_ok(usage_price_default, &t);
    assert_cost(usage_price_cost(&t, USAGE_CONNECTION_MINUTES, 1000000), 0.08);
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 1000000), 1.00);
    assert_cost(usage_price_cost(&t, USAGE_REGISTRY_SHADOW_OPS, 1000000), 1.25);
    assert_cost(usage_price_cost(&t, USAGE_RULES_TRIGGERED, 2000000), 0.30);
    assert_cost(usage_price_cost(&t, USAGE_ACTIONS_APPLIED, 1000000), 0.15);
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 0), 0);
}

static void test_messaging_tier_boundaries(void **state)
{
    (void)state;
    struct usage_price_table t;
    parse_ok(usage_price_default, &t);
    /* The first billion at $1.00 per million... */
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 1000000000), 1000.0);
    /* ...the next message is in the second tier ($0.80)... */
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 1000000001), 1000.0 + 0.8e-6);
    /* ...which ends at five billion: 1000 + 4000 * 0.80... */
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 5000000000), 4200.0);
    /* ...and beyond it $0.70. */
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 6000000000), 4900.0);
}

static void test_lecture_table(void **state)
{
    (void)state;
    struct usage_price_table t;
    parse_ok(
        "{\"readOn\": \"2016\", \"prices\": {\"connectionMinutes\": [{\"perMillion\": 0}],"
        " \"messages\": [{\"perMillion\": 5}], \"registryShadowOperations\": [{\"perMillion\": 0}],"
        " \"rulesTriggered\": [{\"perMillion\": 0}], \"actionsApplied\": [{\"perMillion\": 0}]}}",
        &t);
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 3000000), 15.0);
    assert_cost(usage_price_cost(&t, USAGE_MESSAGES, 7000000000), 35000.0);
    assert_cost(usage_price_cost(&t, USAGE_RULES_TRIGGERED, 7000000000), 0);
}

static const char five[] = "\"connectionMinutes\": [{\"perMillion\": 1}],"
                           " \"messages\": [{\"perMillion\": 1}],"
                           " \"registryShadowOperations\": [{\"perMillion\": 1}],"
                           " \"rulesTriggered\": [{\"perMillion\": 1}]";

static void assert_refused(const char *text, const char *why)
{
    struct usage_price_table t;
    char err[256] = "";
    json_t *doc = (json_t *)1;
    assert_int_equal(usage_price_parse(text, strlen(text), &t, &doc, err, sizeof err), -1);
    assert_null(doc);
    if (!strstr(err, why)) fail_msg("for %s: message '%s' lacks '%s'", text, err, why);
}

static void test_bad_tables_are_refused(void **state)
{
    (void)state;
    char text[1024];
    assert_refused("{", "line 1");
    assert_refused("[]", "must be a JSON object");
    assert_refused("{\"prices\": {}}", "readOn");
    assert_refused("{\"readOn\": \"x\"}", "prices must be an object");
    assert_refused("{\"readOn\": \"x\", \"price\": {}}", "unknown key \"price\"");
    assert_refused("{\"readOn\": \"x\", \"currency\": \"EUR\", \"prices\": {}}", "USD");
    snprintf(text, sizeof text, "{\"readOn\": \"x\", \"prices\": {%s}}", five);
    assert_refused(text, "prices.actionsApplied");
    snprintf(text, sizeof text,
             "{\"readOn\": \"x\", \"prices\": {%s, \"actionsApplied\": [{\"perMillion\": -1}]}}",
             five);
    assert_refused(text, "perMillion must be a number");
    snprintf(text, sizeof text,
             "{\"readOn\": \"x\", \"prices\": {%s, \"actionsApplied\": [{\"perMillion\": 1, "
             "\"upTo\": 5}]}}",
             five);
    assert_refused(text, "the last tier has no upTo");
    snprintf(text, sizeof text,
             "{\"readOn\": \"x\", \"prices\": {%s, \"actionsApplied\": [{\"upTo\": 5, "
             "\"perMillion\": 1}, {\"upTo\": 5, \"perMillion\": 1}, {\"perMillion\": 1}]}}",
             five);
    assert_refused(text, "above the one before");
    snprintf(text, sizeof text,
             "{\"readOn\": \"x\", \"prices\": {%s, \"actionsApplied\": [{\"perMillion\": 1}], "
             "\"actionApplied\": []}}",
             five);
    assert_refused(text, "unknown quantity \"actionApplied\"");
    assert_refused("{\"readOn\": \"x\", \"readOn\": \"y\"}", "duplicate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_table_prices_us_east_1),
        cmocka_unit_test(test_messaging_tier_boundaries),
        cmocka_unit_test(test_lecture_table),
        cmocka_unit_test(test_bad_tables_are_refused),
    };
    return cmocka_run_group_tests_name("usage_price", tests, NULL, NULL);
}
