/*
 * fuzz_usage.c - libFuzzer target for what get-usage reads from users: a
 * price table file and --start-time/--end-time. Any bytes must give a
 * table or an error message, a time or a refusal; an accepted table must
 * price any quantity at a finite, non-negative cost that never falls as
 * the quantity grows.
 */
#include "usage_price.h"
#include "usage_time.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void check_table(const struct usage_price_table *t)
{
    static const uint64_t q[] = {0, 1, 999999, 1000000000, 1000000001, 5000000000, UINT64_MAX};
    for (int c = 0; c < USAGE_NCOUNTERS; c++) {
        double before = 0;
        for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
            double cost = usage_price_cost(t, c, q[i]);
            if (!isfinite(cost) || cost < 0 || cost < before) __builtin_trap();
            before = cost;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct usage_price_table t;
    char err[256];
    json_t *doc;
    if (usage_price_parse((const char *)data, size, &t, &doc, err, sizeof err) == 0) {
        check_table(&t);
        json_decref(doc);
    } else if (!memchr(err, '\0', sizeof err) || !err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    char text[128];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t when;
    if (usage_parse_time(text, &when) == 0) {
        char out[21];
        if (when < 0) __builtin_trap();
        usage_format_time(when, out);
        int64_t again;
        if (usage_parse_time(out, &again) || again != when) __builtin_trap();
    }
    return 0;
}
