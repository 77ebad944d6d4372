/*
 * test_usage_rules.c - AWS IoT Core's metering increments, and the meter's
 * accumulators: references, counting, and the flush that frees what no
 * session holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "usage_meter.h"
#include "usage_rules.h"

static void test_messages_are_5k_increments(void **state)
{
    (void)state;
    assert_int_equal(usage_messages(0), 1); /* an empty PUBLISH is still a message */
    assert_int_equal(usage_messages(1), 1);
    assert_int_equal(usage_messages(5120), 1);
    assert_int_equal(usage_messages(5121), 2);
    assert_int_equal(usage_messages(12 * 1024 + 3), 3); /* a 12 KB publish is 3 messages */
    assert_int_equal(usage_messages(UINT64_MAX), UINT64_MAX / 5120 + 1);
    assert_int_equal(usage_body_messages(0), 0); /* a response without a body is free */
    assert_int_equal(usage_body_messages(5121), 2);
}

static void test_records_are_1k_increments(void **state)
{
    (void)state;
    assert_int_equal(usage_operations(0), 1);
    assert_int_equal(usage_operations(1024), 1);
    assert_int_equal(usage_operations(1025), 2);
    assert_int_equal(usage_operations(3000), 3);
}

static void test_minutes_round_up_from_the_first(void **state)
{
    (void)state;
    assert_int_equal(usage_minutes(0), 1);
    assert_int_equal(usage_minutes(59999), 1);
    assert_int_equal(usage_minutes(60000), 1);
    assert_int_equal(usage_minutes(60001), 2);
    assert_int_equal(usage_actions(0), 1); /* a rule with no action counts one */
    assert_int_equal(usage_actions(2), 2);
    assert_int_equal(usage_hour(3600000ull * 493000 + 3599999), 493000);
}

static void test_meter_counts_through_references(void **state)
{
    (void)state;
    struct usage_meter *m = usage_meter_new(3600000);
    struct usage_acc *a = usage_meter_acquire(m, "dev1", 4);
    struct usage_acc *b = usage_meter_acquire(m, "dev1", 4);
    assert_ptr_equal(a, b);
    usage_count(a, USAGE_MESSAGES, 3);
    usage_meter_add(m, "dev1", 4, USAGE_MESSAGES, 2);
    assert_int_equal(a->counts.n[USAGE_MESSAGES], 5);
    usage_count(NULL, USAGE_MESSAGES, 1); /* unmetered: no crash */
    uint32_t metered = 1;
    usage_meter_minutes(a, &metered, 125000);
    assert_int_equal(metered, 3);
    assert_int_equal(a->counts.n[USAGE_CONNECTION_MINUTES], 2);
    usage_meter_minutes(a, &metered, 125001); /* nothing new */
    assert_int_equal(a->counts.n[USAGE_CONNECTION_MINUTES], 2);
    /* A flush zeroes what it wrote; held accumulators stay. */
    usage_meter_flush(m, NULL, 3600000);
    assert_true(usage_counts_is_zero(&a->counts));
    usage_meter_release(m, a);
    usage_meter_release(m, b);
    usage_meter_add(m, "other", 5, USAGE_RULES_TRIGGERED, 1);
    usage_meter_flush(m, NULL, 3600000); /* frees both: nobody holds them */
    struct usage_acc *c = usage_meter_acquire(m, "dev1", 4);
    assert_true(usage_counts_is_zero(&c->counts));
    usage_meter_release(m, c);
    usage_meter_free(m);
    assert_null(usage_meter_acquire(NULL, "x", 1));
}

static void test_counts_add(void **state)
{
    (void)state;
    struct usage_counts a = {{1, 2, 3, 4, 5}}, b = {{10, 20, 30, 40, 50}};
    usage_counts_add(&a, &b);
    assert_int_equal(a.n[USAGE_ACTIONS_APPLIED], 55);
    assert_false(usage_counts_is_zero(&a));
    assert_string_equal(usage_counter_names[USAGE_REGISTRY_SHADOW_OPS], "registryShadowOperations");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_are_5k_increments),
        cmocka_unit_test(test_records_are_1k_increments),
        cmocka_unit_test(test_minutes_round_up_from_the_first),
        cmocka_unit_test(test_meter_counts_through_references),
        cmocka_unit_test(test_counts_add),
    };
    return cmocka_run_group_tests_name("usage_rules", tests, NULL, NULL);
}
