/*
 * test_registry_usage.c - the usage table: rows add up rather than replace,
 * sums come by month and group in group order, a range takes the hours it
 * overlaps, and an empty table has no first hour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[96];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/umbra-usage-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/umbra.db", dir);
    struct registry *r;
    char err[256];
    assert_int_equal(registry_open(&r, path, "us-east-1", err, sizeof err), 0);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    registry_close(*state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

struct rows {
    char text[512];
};

static void collect(void *ctx, const char *month, const char *group, const struct usage_counts *c)
{
    struct rows *r = ctx;
    size_t n = strlen(r->text);
    snprintf(r->text + n, sizeof r->text - n, "%s %s %llu %llu;", month, group ? group : "-",
             (unsigned long long)c->n[USAGE_MESSAGES],
             (unsigned long long)c->n[USAGE_CONNECTION_MINUTES]);
}

/* 2026-11-30T23:00Z and 2026-12-01T00:00Z, as hours. */
#define NOV_30_23H (1796079600 / 3600)
#define DEC_1_00H (1796083200 / 3600)

static void test_rows_add_and_group(void **state)
{
    struct registry *r = *state;
    int64_t first;
    assert_int_equal(registry_usage_first_hour(r, &first), UMBRA_ENOTFOUND);
    struct usage_counts a = {{1, 10, 0, 0, 0}}, b = {{0, 5, 0, 0, 0}};
    assert_int_equal(registry_usage_add(r, NOV_30_23H, "dev", &a), 0);
    assert_int_equal(registry_usage_add(r, NOV_30_23H, "dev", &b), 0); /* adds */
    assert_int_equal(registry_usage_add(r, DEC_1_00H, "dev", &a), 0);
    assert_int_equal(registry_usage_add(r, DEC_1_00H, "", &b), 0);
    assert_int_equal(registry_usage_first_hour(r, &first), 0);
    assert_int_equal(first, NOV_30_23H);

    struct rows rows = {""};
    assert_int_equal(
        registry_usage_query(r, 0, INT64_MAX / 2, REGISTRY_USAGE_TOTAL, collect, &rows), 0);
    assert_string_equal(rows.text, "2026-11 - 15 1;2026-12 - 15 1;");
    memset(&rows, 0, sizeof rows);
    registry_usage_query(r, 0, INT64_MAX / 2, REGISTRY_USAGE_BY_THING, collect, &rows);
    assert_string_equal(rows.text, "2026-12  5 0;2026-11 dev 15 1;2026-12 dev 10 1;");
    memset(&rows, 0, sizeof rows);
    registry_usage_query(r, 0, INT64_MAX / 2, REGISTRY_USAGE_BY_DAY, collect, &rows);
    assert_string_equal(rows.text, "2026-11 2026-11-30 15 1;2026-12 2026-12-01 15 1;");
    /* 23:30 to 00:10 overlaps both hours; 23:59:59 to 00:00 only the first. */
    memset(&rows, 0, sizeof rows);
    registry_usage_query(r, NOV_30_23H * 3600 + 1800, DEC_1_00H * 3600 + 600, REGISTRY_USAGE_TOTAL,
                         collect, &rows);
    assert_string_equal(rows.text, "2026-11 - 15 1;2026-12 - 15 1;");
    memset(&rows, 0, sizeof rows);
    registry_usage_query(r, DEC_1_00H * 3600 - 1, DEC_1_00H * 3600, REGISTRY_USAGE_TOTAL, collect,
                         &rows);
    assert_string_equal(rows.text, "2026-11 - 15 1;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_add_and_group, setup, teardown),
    };
    return cmocka_run_group_tests_name("registry_usage", tests, NULL, NULL);
}
