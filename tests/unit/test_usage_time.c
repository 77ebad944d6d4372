/*
 * test_usage_time.c - get-usage's times: ISO 8601 with offsets, fractions
 * and dates alone, epoch seconds, and what must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "usage_time.h"

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t want;
    } good[] = {
        {"2026-12-03T10:00:00Z", 1796292000},
        {"2026-12-03T11:30:00+01:30", 1796292000},
        {"2026-12-03T08:00:00-0200", 1796292000},
        {"2026-12-03T10:00Z", 1796292000},
        {"2026-12-03T10:00:00.999", 1796292000},
        {"2026-12-03", 1796256000},
        {"1796292000", 1796292000},
        {"1796292000.5", 1796292000},
        {"2024-02-29", 1709164800},
    };
    int64_t t;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (usage_parse_time(good[i].text, &t)) fail_msg("refused '%s'", good[i].text);
        if (t != good[i].want) fail_msg("'%s' read as %lld", good[i].text, (long long)t);
    }
    const char *bad[] = {"",
                         "2026-13-01",
                         "2025-02-29",
                         "2026-12-03T24:00:00Z",
                         "yesterday",
                         "-5",
                         "2026-12-03T10:00:00Q",
                         "1e9",
                         "12345678901234",
                         "1969-12-31",
                         "2026-12-03T10",
                         "2026-12-03T10:00:00+5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (usage_parse_time(bad[i], &t) == 0) fail_msg("accepted '%s'", bad[i]);
    char out[21];
    usage_format_time(1796292000, out);
    assert_string_equal(out, "2026-12-03T10:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests_name("usage_time", tests, NULL, NULL);
}
