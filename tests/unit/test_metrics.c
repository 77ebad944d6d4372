/*
 * test_metrics.c - the exposition format: families, label escaping, exact
 * integers and special values, histograms cumulative up to +Inf with
 * _sum and _count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The buffer as a NUL-terminated string (the buffer keeps it). */
static const char *text(struct buf *b)
{
    assert_int_equal(buf_append(b, "", 1), 0);
    b->len--;
    return (const char *)b->data;
}

static void test_family_help_and_type(void **state)
{
    (void)state;
    struct buf b = {0};
    assert_int_equal(metrics_family(&b, "umbra_x_total", "counter", "Lines\nand \\ slashes."), 0);
    assert_string_equal(text(&b), "# HELP umbra_x_total Lines\\nand \\\\ slashes.\n"
                                  "# TYPE umbra_x_total counter\n");
    buf_free(&b);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    struct buf b = {0};
    struct metrics_label l[2] = {{"rule", "a\"b\\c\nd"}, {"result", "ok"}};
    assert_int_equal(metrics_u64(&b, "umbra_rule_matches_total", l, 2, 7), 0);
    assert_string_equal(text(&b),
                        "umbra_rule_matches_total{rule=\"a\\\"b\\\\c\\nd\",result=\"ok\"} 7\n");
    buf_free(&b);
}

static void test_values_without_labels(void **state)
{
    (void)state;
    struct buf b = {0};
    assert_int_equal(metrics_u64(&b, "c", NULL, 0, UINT64_MAX), 0);
    assert_int_equal(metrics_double(&b, "g", NULL, 0, 0.25), 0);
    assert_int_equal(metrics_double(&b, "g", NULL, 0, 0.1), 0);
    assert_int_equal(metrics_double(&b, "g", NULL, 0, INFINITY), 0);
    assert_int_equal(metrics_double(&b, "g", NULL, 0, -INFINITY), 0);
    assert_int_equal(metrics_double(&b, "g", NULL, 0, NAN), 0);
    assert_string_equal(text(&b), "c 18446744073709551615\ng 0.25\ng 0.1\ng +Inf\ng -Inf\ng NaN\n");
    buf_free(&b);
}

static void test_escape_plain_value_unchanged(void **state)
{
    (void)state;
    struct buf b = {0};
    assert_int_equal(metrics_escape_label(&b, "sensor_rule-1"), 0);
    assert_string_equal(text(&b), "sensor_rule-1");
    buf_free(&b);
}

static const double bounds[] = {0.1, 1, 10};

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    struct metrics_histogram h;
    metrics_histogram_init(&h, bounds, 3);
    metrics_histogram_observe(&h, 0.05);
    metrics_histogram_observe(&h, 0.1); /* on a bound: in that bucket (le) */
    metrics_histogram_observe(&h, 5);
    metrics_histogram_observe(&h, 100); /* above every bound: +Inf only */
    assert_int_equal(h.count, 4);
    struct buf b = {0};
    struct metrics_label l = {"op", "x"};
    assert_int_equal(metrics_histogram_write(&b, "lat_seconds", &l, 1, &h), 0);
    assert_string_equal(text(&b), "lat_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
                                  "lat_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
                                  "lat_seconds_bucket{op=\"x\",le=\"10\"} 3\n"
                                  "lat_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
                                  "lat_seconds_sum{op=\"x\"} 105.15\n"
                                  "lat_seconds_count{op=\"x\"} 4\n");
    buf_free(&b);
}

static void test_empty_histogram_without_labels(void **state)
{
    (void)state;
    struct metrics_histogram h;
    metrics_histogram_init(&h, bounds, 3);
    struct buf b = {0};
    assert_int_equal(metrics_histogram_write(&b, "h", NULL, 0, &h), 0);
    assert_string_equal(text(&b), "h_bucket{le=\"0.1\"} 0\nh_bucket{le=\"1\"} 0\n"
                                  "h_bucket{le=\"10\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
                                  "h_sum 0\nh_count 0\n");
    buf_free(&b);
}

static void test_latency_bounds_ascend_and_fit(void **state)
{
    (void)state;
    assert_true(metrics_latency_nbounds <= METRICS_MAX_BUCKETS);
    for (uint32_t i = 1; i < metrics_latency_nbounds; i++)
        assert_true(metrics_latency_bounds[i - 1] < metrics_latency_bounds[i]);
    /* More bounds than fit are cut, never written past the array. */
    static double many[METRICS_MAX_BUCKETS + 4];
    for (int i = 0; i < METRICS_MAX_BUCKETS + 4; i++)
        many[i] = i + 1;
    struct metrics_histogram h;
    metrics_histogram_init(&h, many, METRICS_MAX_BUCKETS + 4);
    metrics_histogram_observe(&h, 1000);
    assert_int_equal(h.nbounds, METRICS_MAX_BUCKETS);
    assert_int_equal(h.counts[METRICS_MAX_BUCKETS], 1);
}

static void test_too_many_histogram_labels(void **state)
{
    (void)state;
    struct metrics_histogram h;
    metrics_histogram_init(&h, bounds, 3);
    struct metrics_label l[5] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}};
    struct buf b = {0};
    assert_int_equal(metrics_histogram_write(&b, "h", l, 5, &h), UMBRA_EINVAL);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_help_and_type),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_values_without_labels),
        cmocka_unit_test(test_escape_plain_value_unchanged),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_empty_histogram_without_labels),
        cmocka_unit_test(test_latency_bounds_ascend_and_fit),
        cmocka_unit_test(test_too_many_histogram_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
