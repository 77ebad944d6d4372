/*
 * usage_table.c - the usage table (registry migration 7): adding counts to
 * an hour's row, and sums for get-usage.
 *
 * Rows are added to, never replaced (INSERT ... ON CONFLICT DO UPDATE SET
 * x = x + ?), so the daemon's flushes and umbractl's own registry
 * operations may both write the same hour and client id.
 */
#include "registry_internal.h"

#include "error.h"

#include <stdio.h>

const char registry_usage_add_sql[] =
    "INSERT INTO usage(hour, client_id, connection_minutes, messages, registry_shadow_ops,"
    " rules_triggered, actions_applied) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT(hour, client_id) DO UPDATE SET connection_minutes = connection_minutes + ?3,"
    " messages = messages + ?4, registry_shadow_ops = registry_shadow_ops + ?5,"
    " rules_triggered = rules_triggered + ?6, actions_applied = actions_applied + ?7";

int registry_usage_add(struct registry *r, uint64_t hour, const char *client_id,
                       const struct usage_counts *counts)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, registry_usage_add_sql, -1, &st, NULL) != SQLITE_OK)
        return UMBRA_EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)hour);
    sqlite3_bind_text(st, 2, client_id, -1, SQLITE_STATIC);
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        sqlite3_bind_int64(st, 3 + i, (sqlite3_int64)counts->n[i]);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : UMBRA_EIO;
}

/* The group column of each grouping: SQL text of ours, never the user's. */
static const char *const group_sql[] = {
    [REGISTRY_USAGE_TOTAL] = "NULL",
    [REGISTRY_USAGE_BY_THING] = "client_id",
    [REGISTRY_USAGE_BY_DAY] = "strftime('%Y-%m-%d', hour * 3600, 'unixepoch')",
};

int registry_usage_query(struct registry *r, int64_t start, int64_t end,
                         enum registry_usage_group group,
                         void (*fn)(void *ctx, const char *month, const char *group,
                                    const struct usage_counts *counts),
                         void *ctx)
{
    char sql[768];
    const char *g = group_sql[group];
    snprintf(sql, sizeof sql,
             "SELECT strftime('%%Y-%%m', hour * 3600, 'unixepoch') AS month, %s AS g,"
             " SUM(connection_minutes), SUM(messages), SUM(registry_shadow_ops),"
             " SUM(rules_triggered), SUM(actions_applied) FROM usage"
             " WHERE hour * 3600 > ?1 - 3600 AND hour * 3600 < ?2 GROUP BY month, g"
             " ORDER BY g, month",
             g);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return UMBRA_EIO;
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, end);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct usage_counts c;
        for (int i = 0; i < USAGE_NCOUNTERS; i++)
            c.n[i] = (uint64_t)sqlite3_column_int64(st, 2 + i);
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           &c);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : UMBRA_EIO;
}

int registry_usage_first_hour(struct registry *r, int64_t *hour)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT MIN(hour) FROM usage", -1, &st, NULL) != SQLITE_OK)
        return UMBRA_EIO;
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (found) *hour = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return UMBRA_EIO;
    return found ? 0 : UMBRA_ENOTFOUND;
}
