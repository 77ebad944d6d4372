/* test_sink_s3.c - which bucket names and object keys the s3 action takes:
 * nothing that could leave DATA_DIR/buckets/BUCKET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/sink_s3.h"

static void test_buckets(void **state)
{
    (void)state;
    assert_true(sink_s3_valid_bucket("device-logs"));
    assert_true(sink_s3_valid_bucket("a.b-c9"));
    assert_false(sink_s3_valid_bucket("ab"));
    assert_false(sink_s3_valid_bucket(".."));
    assert_false(sink_s3_valid_bucket("Upper"));
    assert_false(sink_s3_valid_bucket("a/b/c"));
    assert_false(sink_s3_valid_bucket("0123456789012345678901234567890123456789012345678901234567890123"));
}

static void test_keys(void **state)
{
    (void)state;
    assert_true(sink_s3_valid_key("boot/dev1.json"));
    assert_true(sink_s3_valid_key("a..b/.c/d."));
    assert_false(sink_s3_valid_key(""));
    assert_false(sink_s3_valid_key("/etc/passwd"));
    assert_false(sink_s3_valid_key("../x"));
    assert_false(sink_s3_valid_key("a/../../x"));
    assert_false(sink_s3_valid_key("a/./x"));
    assert_false(sink_s3_valid_key("a//x"));
    assert_false(sink_s3_valid_key("a/"));
    assert_false(sink_s3_valid_key(".."));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_buckets), cmocka_unit_test(test_keys)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
