/*
 * registry.c - opening the registry: connection settings, schema
 * migrations, the account identity, and helpers every operation uses.
 *
 * Migrations are numbered SQL scripts applied in order inside a
 * transaction; schema_version('registry') records the last one, so a newer
 * umbrad upgrades an older data dir in place and never re-applies a step.
 */
#include "registry_internal.h"

#include "names.h"

#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *const migrations[] = {
    /* 1: things and the account's identity. */
    "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY, version INTEGER);"
    "CREATE TABLE registry_settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE things(name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, type_name TEXT,"
    " attributes TEXT NOT NULL DEFAULT '{}', version INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL);",
    /* 2: certificates, CA certificates, thing-principal attachments. */
    "CREATE TABLE ca_certificates(id TEXT PRIMARY KEY, pem TEXT NOT NULL, status TEXT NOT NULL,"
    " auto_registration TEXT NOT NULL DEFAULT 'DISABLE', subject TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL);"
    "CREATE TABLE certificates(id TEXT PRIMARY KEY, pem TEXT NOT NULL, status TEXT NOT NULL,"
    " ca_id TEXT, created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, generation INTEGER NOT NULL);"
    "CREATE INDEX certificates_by_ca ON certificates(ca_id);"
    "CREATE TABLE thing_principals(thing_name TEXT NOT NULL, principal TEXT NOT NULL,"
    " PRIMARY KEY(thing_name, principal)) WITHOUT ROWID;"
    "CREATE INDEX principal_things ON thing_principals(principal);",
    /* 3: thing types. */
    "CREATE TABLE thing_types(name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " properties TEXT NOT NULL DEFAULT '{}', deprecated INTEGER NOT NULL DEFAULT 0,"
    " deprecated_at INTEGER, created_at INTEGER NOT NULL);"
    "CREATE INDEX things_by_type ON things(type_name);",
    /* 4: policies, their versions (ids never reused: next_version counts on)
     * and their targets. A deleted certificate loses its policy attachments. */
    "CREATE TABLE policies(name TEXT PRIMARY KEY, created_at INTEGER NOT NULL,"
    " modified_at INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 1,"
    " next_version INTEGER NOT NULL DEFAULT 2);"
    "CREATE TABLE policy_versions(policy_name TEXT NOT NULL"
    " REFERENCES policies(name) ON DELETE CASCADE, version_id TEXT NOT NULL,"
    " document TEXT NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, PRIMARY KEY(policy_name, version_id)) WITHOUT ROWID;"
    "CREATE TABLE policy_targets(policy_name TEXT NOT NULL REFERENCES policies(name),"
    " target TEXT NOT NULL, PRIMARY KEY(policy_name, target)) WITHOUT ROWID;"
    "CREATE INDEX policy_targets_by_target ON policy_targets(target);"
    "CREATE TRIGGER certificates_drop_policy_targets AFTER DELETE ON certificates BEGIN"
    " DELETE FROM policy_targets WHERE target LIKE 'arn:aws:iot:%:cert/' || OLD.id;"
    " END;",
    /* 5: a generation number that moves with every registry change and only
     * then: the broker's persistence writes to the same file, so SQLite's
     * data_version would make every commit look like a registry change. */
    "CREATE TABLE registry_generation(n INTEGER NOT NULL);"
    "INSERT INTO registry_generation VALUES(0);"
    "CREATE TRIGGER gen_things_insert AFTER INSERT ON things BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_things_update AFTER UPDATE ON things BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_things_delete AFTER DELETE ON things BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_principals_insert AFTER INSERT ON thing_principals BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_principals_update AFTER UPDATE ON thing_principals BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_principals_delete AFTER DELETE ON thing_principals BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_types_insert AFTER INSERT ON thing_types BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_types_update AFTER UPDATE ON thing_types BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_thing_types_delete AFTER DELETE ON thing_types BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_certificates_insert AFTER INSERT ON certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_certificates_update AFTER UPDATE ON certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_certificates_delete AFTER DELETE ON certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_ca_certificates_insert AFTER INSERT ON ca_certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_ca_certificates_update AFTER UPDATE ON ca_certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_ca_certificates_delete AFTER DELETE ON ca_certificates BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policies_insert AFTER INSERT ON policies BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policies_update AFTER UPDATE ON policies BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policies_delete AFTER DELETE ON policies BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_versions_insert AFTER INSERT ON policy_versions BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_versions_update AFTER UPDATE ON policy_versions BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_versions_delete AFTER DELETE ON policy_versions BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_targets_insert AFTER INSERT ON policy_targets BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_targets_update AFTER UPDATE ON policy_targets BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_policy_targets_delete AFTER DELETE ON policy_targets BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;",
    /* 6: topic rules, as their TopicRulePayload, with the FROM filter apart. */
    "CREATE TABLE topic_rules(name TEXT PRIMARY KEY, payload TEXT NOT NULL,"
    " topic_pattern TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL);"
    "CREATE TRIGGER gen_topic_rules_insert AFTER INSERT ON topic_rules BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_topic_rules_update AFTER UPDATE ON topic_rules BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;"
    "CREATE TRIGGER gen_topic_rules_delete AFTER DELETE ON topic_rules BEGIN"
    " UPDATE registry_generation SET n = n + 1; END;",
    /* 7: usage metering (usage_table.c): what AWS would bill, per UTC hour
     * and client id. No generation triggers: the broker writes it all the
     * time, and nothing the daemon caches depends on it. */
    "CREATE TABLE usage(hour INTEGER NOT NULL, client_id TEXT NOT NULL,"
    " connection_minutes INTEGER NOT NULL DEFAULT 0, messages INTEGER NOT NULL DEFAULT 0,"
    " registry_shadow_ops INTEGER NOT NULL DEFAULT 0,"
    " rules_triggered INTEGER NOT NULL DEFAULT 0, actions_applied INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(hour, client_id)) WITHOUT ROWID;",
};
#define NMIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

int reg_fail(struct reg_error *e, const char *type, int status, const char *fmt, ...)
{
    e->type = type;
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return status >= 500 ? UMBRA_EIO : UMBRA_EINVAL;
}

int reg_fail_db(struct registry *r, struct reg_error *e)
{
    return reg_fail(e, "InternalFailureException", 500, "registry database: %s",
                    sqlite3_errmsg(r->db));
}

int reg_string(const json_t *req, const char *key, bool required, const char **out,
               struct reg_error *e)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return reg_fail(e, "InvalidRequestException", 400, "Missing required parameter %s",
                            key);
        return 0;
    }
    if (!json_is_string(v))
        return reg_fail(e, "InvalidRequestException", 400, "%s must be a string", key);
    *out = json_string_value(v);
    return 0;
}

int reg_int(const json_t *req, const char *key, bool *present, int64_t *out, struct reg_error *e)
{
    json_t *v = json_object_get(req, key);
    *present = v && !json_is_null(v);
    if (!*present) return 0;
    if (!json_is_integer(v))
        return reg_fail(e, "InvalidRequestException", 400, "%s must be an integer", key);
    *out = json_integer_value(v);
    return 0;
}

int reg_check(reg_name_check check, const char *field, const char *value, struct reg_error *e)
{
    const char *why;
    if (check(value, value ? strlen(value) : 0, &why) == 0) return 0;
    names_format_error(e->message, sizeof e->message, field, value, value ? strlen(value) : 0, why);
    e->type = "InvalidRequestException";
    e->status = 400;
    return UMBRA_EINVAL;
}

sqlite3_stmt *reg_prepare(struct registry *r, const char *sql, struct reg_error *e)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        reg_fail_db(r, e);
        return NULL;
    }
    return st;
}

int reg_exec_text(struct registry *r, const char *sql, const char *arg, struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, sql, e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

int64_t reg_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec;
}

static void random_bytes(uint8_t *out, size_t n)
{
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(out, 1, n, f) : 0;
    if (f) fclose(f);
    /* /dev/urandom is always there on Linux; fall back to something unique. */
    for (size_t i = got; i < n; i++)
        out[i] = (uint8_t)(rand() ^ (int)getpid() ^ (int)i);
}

void reg_uuid(char out[37])
{
    uint8_t b[16];
    random_bytes(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    int v = 0;
    sqlite3_exec(db,
                 "CREATE TABLE IF NOT EXISTS schema_version(component TEXT PRIMARY KEY,"
                 " version INTEGER)",
                 NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE component='registry'", -1,
                           &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    int have = schema_version(db);
    /* A newer umbrad migrated this database: its tables may mean what this
     * build does not know, so it is not ours to write (see "Upgrade" in
     * docs/operations.md). */
    if (have > NMIGRATIONS) {
        snprintf(err, errlen,
                 "registry schema version %d is newer than this build's %d: run the newer "
                 "umbrad, or restore the backup taken before the upgrade",
                 have, NMIGRATIONS);
        return UMBRA_EIO;
    }
    for (int v = have; v < NMIGRATIONS; v++) {
        char *msg = NULL;
        char bump[128];
        snprintf(bump, sizeof bump,
                 "INSERT OR REPLACE INTO schema_version(component, version) VALUES('registry', %d)",
                 v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "registry migration %d: %s", v + 1, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return UMBRA_EIO;
        }
    }
    return 0;
}

/* The account id: 12 digits chosen on first open, like an AWS account. */
static int load_account(struct registry *r, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT value FROM registry_settings WHERE key='account'", -1,
                           &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(r->account, sizeof r->account, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    uint8_t b[12];
    random_bytes(b, sizeof b);
    for (int i = 0; i < 12; i++)
        r->account[i] = (char)('0' + b[i] % 10);
    if (r->account[0] == '0') r->account[0] = '1';
    r->account[12] = '\0';
    if (sqlite3_prepare_v2(
            r->db, "INSERT OR IGNORE INTO registry_settings(key, value) VALUES('account', ?1)", -1,
            &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, r->account, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) goto fail;
    return load_account(r, err, errlen); /* another process may have won the race */
fail:
    snprintf(err, errlen, "registry: %s", sqlite3_errmsg(r->db));
    return UMBRA_EIO;
}

int registry_open(struct registry **out, const char *path, const char *region, char *err,
                  size_t errlen)
{
    struct registry *r = calloc(1, sizeof *r);
    if (!r) return UMBRA_ENOMEM;
    snprintf(r->region, sizeof r->region, "%s", region ? region : "us-east-1");
    snprintf(r->dir, sizeof r->dir, "%s", path);
    char *slash = strrchr(r->dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(r->dir, sizeof r->dir, ".");
    int rc = UMBRA_EIO;
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, r->db ? sqlite3_errmsg(r->db) : "?");
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 5000);
    if (sqlite3_exec(r->db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(r->db));
        goto fail;
    }
    if ((rc = migrate(r->db, err, errlen)) != 0) goto fail;
    if ((rc = load_account(r, err, errlen)) != 0) goto fail;
    *out = r;
    return 0;
fail:
    registry_close(r);
    return rc;
}

void registry_close(struct registry *r)
{
    if (!r) return;
    sqlite3_close(r->db);
    free(r);
}

const char *registry_account(const struct registry *r)
{
    return r->account;
}

const char *registry_region(const struct registry *r)
{
    return r->region;
}

int registry_change_counter(struct registry *r, uint64_t *counter)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT n FROM registry_generation", -1, &st, NULL) != SQLITE_OK)
        return UMBRA_EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *counter = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : UMBRA_EIO;
}
