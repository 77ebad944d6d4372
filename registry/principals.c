/*
 * principals.c - attaching certificates (principals) to things:
 * AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals,
 * ListPrincipalThings. Principals are certificate ARNs.
 */
#include "registry_internal.h"

#include "error.h"

#include <stdio.h>
#include <string.h>

static int thing_exists(struct registry *r, const char *name, struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, "SELECT 1 FROM things WHERE name = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc != SQLITE_DONE) return reg_fail_db(r, e);
    return reg_fail(e, "ResourceNotFoundException", 404, "Thing %s cannot be found.", name);
}

/* A principal must be the ARN of a registered certificate of this account. */
static int principal_exists(struct registry *r, const char *principal, struct reg_error *e)
{
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:iot:%s:%s:cert/", r->region, r->account);
    if (strncmp(principal, prefix, (size_t)n) != 0)
        return reg_fail(e, "InvalidRequestException", 400,
                        "Principal %.200s is not a certificate ARN of this account", principal);
    sqlite3_stmt *st = reg_prepare(r, "SELECT 1 FROM certificates WHERE id = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, principal + n, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc != SQLITE_DONE) return reg_fail_db(r, e);
    return reg_fail(e, "ResourceNotFoundException", 404, "The certificate %s does not exist.",
                    principal + n);
}

static int read_pair(struct registry *r, const json_t *req, const char **thing,
                     const char **principal, struct reg_error *e)
{
    int rc;
    if ((rc = reg_string(req, "thingName", true, thing, e)) ||
        (rc = reg_string(req, "principal", true, principal, e)))
        return rc;
    rc = thing_exists(r, *thing, e);
    if (rc < 0) return rc;
    rc = principal_exists(r, *principal, e);
    return rc < 0 ? rc : 0;
}

static int run_pair(struct registry *r, const char *sql, const char *thing, const char *principal,
                    json_t **resp, struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, sql, e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, thing, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, principal, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_object();
    return 0;
}

int registry_attach_thing_principal(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e)
{
    const char *thing, *principal;
    int rc = read_pair(r, req, &thing, &principal, e);
    if (rc) return rc;
    return run_pair(r,
                    "INSERT OR IGNORE INTO thing_principals(thing_name, principal)"
                    " VALUES(?1, ?2)",
                    thing, principal, resp, e);
}

int registry_detach_thing_principal(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e)
{
    const char *thing, *principal;
    int rc;
    if ((rc = reg_string(req, "thingName", true, &thing, e)) ||
        (rc = reg_string(req, "principal", true, &principal, e)))
        return rc;
    rc = thing_exists(r, thing, e);
    if (rc < 0) return rc;
    return run_pair(r, "DELETE FROM thing_principals WHERE thing_name = ?1 AND principal = ?2",
                    thing, principal, resp, e);
}

static int list_column(struct registry *r, const char *sql, const char *arg, const char *key,
                       json_t **resp, struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, sql, e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(list, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    *resp = json_pack("{s:o}", key, list);
    return 0;
}

int registry_list_thing_principals(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *thing;
    int rc = reg_string(req, "thingName", true, &thing, e);
    if (rc || (rc = thing_exists(r, thing, e)) < 0) return rc;
    return list_column(r,
                       "SELECT principal FROM thing_principals WHERE thing_name = ?1"
                       " ORDER BY principal",
                       thing, "principals", resp, e);
}

int registry_list_principal_things(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *principal;
    int rc = reg_string(req, "principal", true, &principal, e);
    if (rc) return rc;
    return list_column(r,
                       "SELECT thing_name FROM thing_principals WHERE principal = ?1"
                       " ORDER BY thing_name",
                       principal, "things", resp, e);
}

int registry_connection_thing(struct registry *r, const char *principal, const char *client_id,
                              json_t **thing)
{
    struct reg_error e;
    *thing = NULL;
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT t.type_name, t.attributes FROM things t"
                                   " JOIN thing_principals p ON p.thing_name = t.name"
                                   " WHERE p.principal = ?1 AND t.name = ?2",
                                   &e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, client_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        json_t *attrs = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        *thing = json_pack("{s:s, s:o}", "thingName", client_id, "attributes",
                           attrs ? attrs : json_object());
        const char *type = (const char *)sqlite3_column_text(st, 0);
        if (*thing && type) json_object_set_new(*thing, "thingTypeName", json_string(type));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return *thing ? 1 : UMBRA_ENOMEM;
    return rc == SQLITE_DONE ? 0 : UMBRA_EIO;
}
