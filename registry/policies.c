/*
 * policies.c - AWS IoT policies in the registry: CreatePolicy, GetPolicy,
 * ListPolicies, DeletePolicy, the policy-version operations, attaching
 * policies to certificates (AttachPolicy, DetachPolicy,
 * ListAttachedPolicies, ListTargetsForPolicy), GetEffectivePolicies and
 * TestAuthorization, plus what the broker reads: the documents attached
 * to a principal.
 *
 * Documents are checked with policy/ when stored (MalformedPolicyException)
 * and kept as the caller wrote them. Version ids are increasing integers
 * counted per policy and never reused; at most five versions, one default.
 * Targets are certificate ARNs of registered certificates (Umbra has no
 * thing groups or Cognito identities), at most ten policies each.
 */
#include "registry_internal.h"

#include "names.h"
#include "policy.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 5
#define MAX_TARGET_POLICIES 10
#define MAX_AUTH_INFOS 10
#define DEFAULT_PAGE 250

/* ---- statements ---- */

/* Bind parameters ?1.. from types: 's' a C string (NULL binds NULL), 'i' an int64_t. */
static sqlite3_stmt *vprep(struct registry *r, struct reg_error *e, const char *sql,
                           const char *types, va_list ap)
{
    sqlite3_stmt *st = reg_prepare(r, sql, e);
    if (!st) return NULL;
    for (int i = 0; types[i]; i++) {
        if (types[i] == 's')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    return st;
}

static sqlite3_stmt *prep(struct registry *r, struct reg_error *e, const char *sql,
                          const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = vprep(r, e, sql, types, ap);
    va_end(ap);
    return st;
}

/* Run a statement that returns no rows. */
static int run(struct registry *r, struct reg_error *e, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = vprep(r, e, sql, types, ap);
    va_end(ap);
    if (!st) return UMBRA_EIO;
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

/* The integer in the first column of the first row (0 with no row). */
static int count(struct registry *r, struct reg_error *e, int64_t *out, const char *sql,
                 const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = vprep(r, e, sql, types, ap);
    va_end(ap);
    if (!st) return UMBRA_EIO;
    int step = sqlite3_step(st);
    *out = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

/* Writes that read first (limits, counters) run in one IMMEDIATE transaction. */
static int begin(struct registry *r, struct reg_error *e)
{
    return sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : reg_fail_db(r, e);
}

static int finish(struct registry *r, int rc, struct reg_error *e)
{
    if (!rc && sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) rc = reg_fail_db(r, e);
    if (rc) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- request fields ---- */

static json_t *policy_arn(struct registry *r, const char *name)
{
    return json_sprintf("arn:aws:iot:%s:%s:policy/%s", r->region, r->account, name);
}

static json_t *policy_ref(struct registry *r, const char *name)
{
    return json_pack("{s:s, s:o}", "policyName", name, "policyArn", policy_arn(r, name));
}

static int read_name(const json_t *req, const char **name, struct reg_error *e)
{
    int rc = reg_string(req, "policyName", true, name, e);
    return rc ? rc : reg_check(names_check_policy, "policyName", *name, e);
}

static int read_document(const json_t *req, const char **doc, struct reg_error *e)
{
    int rc = reg_string(req, "policyDocument", true, doc, e);
    if (rc) return rc;
    char why[400];
    rc = policy_validate(*doc, strlen(*doc), why, sizeof why);
    if (rc == UMBRA_EINVAL) return reg_fail(e, "MalformedPolicyException", 400, "%s", why);
    if (rc) return reg_fail(e, "InternalFailureException", 500, "%s", why);
    return 0;
}

static int read_bool(const json_t *req, const char *key, bool *out, struct reg_error *e)
{
    json_t *v = json_object_get(req, key);
    *out = false;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return reg_fail(e, "InvalidRequestException", 400, "%s must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

/* policyVersionId: a positive decimal integer, as AWS's pattern [0-9]+. */
static int read_version(const json_t *req, const char **version, struct reg_error *e)
{
    int rc = reg_string(req, "policyVersionId", true, version, e);
    if (rc) return rc;
    size_t n = strlen(*version);
    bool ok = n > 0 && n < 19;
    for (size_t i = 0; ok && i < n; i++)
        ok = (*version)[i] >= '0' && (*version)[i] <= '9';
    if (ok) return 0;
    return reg_fail(e, "InvalidRequestException", 400,
                    "1 validation error detected: Value '%.40s' at 'policyVersionId' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: [0-9]+",
                    *version);
}

/* marker (a name from the previous page) and pageSize 1..250. */
static int read_page(const json_t *req, const char **marker, int64_t *size, struct reg_error *e)
{
    bool has;
    *size = DEFAULT_PAGE;
    int rc = reg_int(req, "pageSize", &has, size, e);
    if (!rc) rc = reg_string(req, "marker", false, marker, e);
    if (rc) return rc;
    if (*size < 1 || *size > 250)
        return reg_fail(e, "InvalidRequestException", 400, "pageSize must be between 1 and 250");
    return 0;
}

/* ---- lookups ---- */

static int policy_not_found(struct reg_error *e, const char *name)
{
    return reg_fail(e, "ResourceNotFoundException", 404, "Policy not found: %s", name);
}

static int version_not_found(struct reg_error *e, const char *name, const char *version)
{
    return reg_fail(e, "ResourceNotFoundException", 404, "Policy version %s of policy %s not found",
                    version, name);
}

struct policy_row {
    int64_t created_at, modified_at, generation, next_version;
    char default_version[24];
    char *document; /* of the default version */
};

/* The policy or ResourceNotFound; free row->document after. */
static int load_policy(struct registry *r, const char *name, struct policy_row *p,
                       struct reg_error *e)
{
    sqlite3_stmt *st = prep(r, e,
                            "SELECT p.created_at, p.modified_at, p.generation, p.next_version,"
                            " v.version_id, v.document FROM policies p LEFT JOIN policy_versions v"
                            " ON v.policy_name = p.name AND v.is_default = 1 WHERE p.name = ?1",
                            "s", name);
    if (!st) return UMBRA_EIO;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? policy_not_found(e, name) : reg_fail_db(r, e);
    }
    memset(p, 0, sizeof *p);
    p->created_at = sqlite3_column_int64(st, 0);
    p->modified_at = sqlite3_column_int64(st, 1);
    p->generation = sqlite3_column_int64(st, 2);
    p->next_version = sqlite3_column_int64(st, 3);
    const char *v = (const char *)sqlite3_column_text(st, 4);
    const char *doc = (const char *)sqlite3_column_text(st, 5);
    snprintf(p->default_version, sizeof p->default_version, "%s", v ? v : "");
    p->document = strdup(doc ? doc : "");
    sqlite3_finalize(st);
    if (!p->document) return reg_fail(e, "InternalFailureException", 500, "out of memory");
    return 0;
}

static int need_policy(struct registry *r, const char *name, struct reg_error *e)
{
    struct policy_row p;
    int rc = load_policy(r, name, &p, e);
    if (!rc) free(p.document);
    return rc;
}

/* A target is the ARN of a certificate registered in this account and region. */
static int check_target(struct registry *r, const char *target, const char **cert_id,
                        struct reg_error *e)
{
    char prefix[96];
    int n = snprintf(prefix, sizeof prefix, "arn:aws:iot:%s:%s:cert/", r->region, r->account);
    if (strncmp(target, prefix, (size_t)n) == 0) {
        int64_t found;
        int rc = count(r, e, &found, "SELECT 1 FROM certificates WHERE id = ?1", "s", target + n);
        if (rc) return rc;
        if (found) {
            if (cert_id) *cert_id = target + n;
            return 0;
        }
    }
    return reg_fail(e, "ResourceNotFoundException", 404,
                    "Target %.300s not found: expected the ARN of a registered certificate "
                    "(%s<certificateId>)",
                    target, prefix);
}

/* ---- policies ---- */

int registry_create_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e)
{
    const char *name, *doc;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_document(req, &doc, e))) return rc;
    if ((rc = begin(r, e))) return rc;
    int64_t exists, now = reg_now();
    rc = count(r, e, &exists, "SELECT 1 FROM policies WHERE name = ?1", "s", name);
    if (!rc && exists)
        rc = reg_fail(e, "ResourceAlreadyExistsException", 409,
                      "Policy cannot be created - name already exists (name=%s)", name);
    if (!rc)
        rc = run(r, e,
                 "INSERT INTO policies(name, created_at, modified_at, generation, next_version)"
                 " VALUES(?1, ?2, ?2, 1, 2)",
                 "si", name, now);
    if (!rc)
        rc = run(r, e,
                 "INSERT INTO policy_versions(policy_name, version_id, document, is_default,"
                 " created_at) VALUES(?1, '1', ?2, 1, ?3)",
                 "ssi", name, doc, now);
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_pack("{s:s, s:o, s:s, s:s}", "policyName", name, "policyArn", policy_arn(r, name),
                      "policyDocument", doc, "policyVersionId", "1");
    return 0;
}

int registry_get_policy(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e)
{
    const char *name;
    struct policy_row p;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = load_policy(r, name, &p, e))) return rc;
    *resp = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I, s:o}", "policyName", name, "policyArn",
                      policy_arn(r, name), "policyDocument", p.document, "defaultVersionId",
                      p.default_version, "creationDate", (json_int_t)p.created_at,
                      "lastModifiedDate", (json_int_t)p.modified_at, "generationId",
                      json_sprintf("%lld", (long long)p.generation));
    free(p.document);
    return 0;
}

/* Rows of one text column as a page: key[] items made by item(), nextMarker = last one. */
static int list_page(struct registry *r, sqlite3_stmt *st, int64_t size, const char *key,
                     json_t *(*item)(struct registry *r, const char *value), json_t **resp,
                     struct reg_error *e)
{
    if (!st) return UMBRA_EIO;
    json_t *list = json_array();
    char *last = NULL;
    bool more = false;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if ((int64_t)json_array_size(list) == size) {
            more = true;
            break;
        }
        json_array_append_new(list, item(r, v));
        free(last);
        last = strdup(v);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        free(last);
        json_decref(list);
        return reg_fail_db(r, e);
    }
    *resp = json_pack("{s:o}", key, list);
    if (more && last) json_object_set_new(*resp, "nextMarker", json_string(last));
    free(last);
    return 0;
}

static json_t *ref_item(struct registry *r, const char *name)
{
    return policy_ref(r, name);
}

static json_t *string_item(struct registry *r, const char *value)
{
    (void)r;
    return json_string(value);
}

int registry_list_policies(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e)
{
    const char *marker;
    int64_t size;
    bool asc;
    int rc;
    if ((rc = read_page(req, &marker, &size, e)) ||
        (rc = read_bool(req, "ascendingOrder", &asc, e)))
        return rc;
    sqlite3_stmt *st =
        asc ? prep(r, e,
                   "SELECT name FROM policies WHERE ?1 IS NULL OR name > ?1 ORDER BY name LIMIT ?2",
                   "si", marker, size + 1)
            : prep(r, e,
                   "SELECT name FROM policies WHERE ?1 IS NULL OR name < ?1"
                   " ORDER BY name DESC LIMIT ?2",
                   "si", marker, size + 1);
    return list_page(r, st, size, "policies", ref_item, resp, e);
}

int registry_delete_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = begin(r, e))) return rc;
    int64_t n = 0;
    rc = need_policy(r, name, e);
    if (!rc)
        rc = count(r, e, &n, "SELECT count(*) FROM policy_targets WHERE policy_name = ?1", "s",
                   name);
    if (!rc && n > 0)
        rc = reg_fail(e, "DeleteConflictException", 409,
                      "The policy cannot be deleted as the policy is attached to one or more "
                      "principals (name=%s)",
                      name);
    if (!rc)
        rc = count(r, e, &n,
                   "SELECT count(*) FROM policy_versions WHERE policy_name = ?1 AND is_default = 0",
                   "s", name);
    if (!rc && n > 0)
        rc = reg_fail(e, "DeleteConflictException", 409,
                      "Cannot delete the policy because it has one or more policy versions "
                      "attached to it (name=%s)",
                      name);
    if (!rc) rc = run(r, e, "DELETE FROM policy_versions WHERE policy_name = ?1", "s", name);
    if (!rc) rc = run(r, e, "DELETE FROM policies WHERE name = ?1", "s", name);
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_object();
    return 0;
}

/* ---- versions ---- */

int registry_create_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *name, *doc;
    bool set_default;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_document(req, &doc, e)) ||
        (rc = read_bool(req, "setAsDefault", &set_default, e)) || (rc = begin(r, e)))
        return rc;
    struct policy_row p;
    int64_t n = 0, now = reg_now();
    char version[24] = "";
    if (!(rc = load_policy(r, name, &p, e))) {
        free(p.document);
        snprintf(version, sizeof version, "%lld", (long long)p.next_version);
        rc = count(r, e, &n, "SELECT count(*) FROM policy_versions WHERE policy_name = ?1", "s",
                   name);
    }
    if (!rc && n >= MAX_VERSIONS)
        rc = reg_fail(e, "VersionsLimitExceededException", 409,
                      "The policy %s already has the maximum number of versions (%d)", name,
                      MAX_VERSIONS);
    if (!rc)
        rc = run(r, e,
                 "INSERT INTO policy_versions(policy_name, version_id, document, is_default,"
                 " created_at) VALUES(?1, ?2, ?3, 0, ?4)",
                 "sssi", name, version, doc, now);
    if (!rc && set_default)
        rc = run(r, e,
                 "UPDATE policy_versions SET is_default = (version_id = ?2) WHERE policy_name = ?1",
                 "ss", name, version);
    if (!rc)
        rc = run(r, e,
                 "UPDATE policies SET next_version = next_version + 1, modified_at = ?2,"
                 " generation = generation + 1 WHERE name = ?1",
                 "si", name, now);
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_pack("{s:o, s:s, s:s, s:b}", "policyArn", policy_arn(r, name), "policyDocument",
                      doc, "policyVersionId", version, "isDefaultVersion", set_default);
    return 0;
}

int registry_get_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    const char *name, *version;
    struct policy_row p;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_version(req, &version, e)) ||
        (rc = load_policy(r, name, &p, e)))
        return rc;
    free(p.document);
    sqlite3_stmt *st = prep(r, e,
                            "SELECT document, is_default, created_at FROM policy_versions"
                            " WHERE policy_name = ?1 AND version_id = ?2",
                            "ss", name, version);
    if (!st) return UMBRA_EIO;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? version_not_found(e, name, version) : reg_fail_db(r, e);
    }
    *resp = json_pack("{s:o, s:s, s:s, s:s, s:b, s:I, s:I, s:o}", "policyArn", policy_arn(r, name),
                      "policyName", name, "policyDocument", sqlite3_column_text(st, 0),
                      "policyVersionId", version, "isDefaultVersion", sqlite3_column_int(st, 1),
                      "creationDate", (json_int_t)sqlite3_column_int64(st, 2), "lastModifiedDate",
                      (json_int_t)p.modified_at, "generationId",
                      json_sprintf("%lld", (long long)p.generation));
    sqlite3_finalize(st);
    return 0;
}

int registry_list_policy_versions(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = need_policy(r, name, e))) return rc;
    sqlite3_stmt *st = prep(r, e,
                            "SELECT version_id, is_default, created_at FROM policy_versions"
                            " WHERE policy_name = ?1 ORDER BY CAST(version_id AS INTEGER) DESC",
                            "s", name);
    if (!st) return UMBRA_EIO;
    json_t *list = json_array();
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list,
                              json_pack("{s:s, s:b, s:I}", "versionId", sqlite3_column_text(st, 0),
                                        "isDefaultVersion", sqlite3_column_int(st, 1), "createDate",
                                        (json_int_t)sqlite3_column_int64(st, 2)));
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return reg_fail_db(r, e);
    }
    *resp = json_pack("{s:o}", "policyVersions", list);
    return 0;
}

/* Inside a transaction: the version exists (1 if it is the default), or an error. */
static int find_version(struct registry *r, const char *name, const char *version, bool *is_default,
                        struct reg_error *e)
{
    int rc = need_policy(r, name, e);
    if (rc) return rc;
    sqlite3_stmt *st = prep(
        r, e, "SELECT is_default FROM policy_versions WHERE policy_name = ?1 AND version_id = ?2",
        "ss", name, version);
    if (!st) return UMBRA_EIO;
    int step = sqlite3_step(st);
    *is_default = step == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (step == SQLITE_DONE) return version_not_found(e, name, version);
    return step == SQLITE_ROW ? 0 : reg_fail_db(r, e);
}

int registry_set_default_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                        struct reg_error *e)
{
    const char *name, *version;
    bool is_default;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_version(req, &version, e)) ||
        (rc = begin(r, e)))
        return rc;
    rc = find_version(r, name, version, &is_default, e);
    if (!rc && !is_default)
        rc = run(r, e,
                 "UPDATE policy_versions SET is_default = (version_id = ?2) WHERE policy_name = ?1",
                 "ss", name, version);
    if (!rc && !is_default)
        rc = run(r, e,
                 "UPDATE policies SET modified_at = ?2, generation = generation + 1"
                 " WHERE name = ?1",
                 "si", name, reg_now());
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_object();
    return 0;
}

int registry_delete_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *name, *version;
    bool is_default;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_version(req, &version, e)) ||
        (rc = begin(r, e)))
        return rc;
    rc = find_version(r, name, version, &is_default, e);
    /* moto's exception and text; AWS's model also lists DeleteConflictException. */
    if (!rc && is_default)
        rc = reg_fail(e, "InvalidRequestException", 400,
                      "Cannot delete the default version of a policy");
    if (!rc)
        rc = run(r, e, "DELETE FROM policy_versions WHERE policy_name = ?1 AND version_id = ?2",
                 "ss", name, version);
    if (!rc)
        rc = run(r, e,
                 "UPDATE policies SET modified_at = ?2, generation = generation + 1"
                 " WHERE name = ?1",
                 "si", name, reg_now());
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_object();
    return 0;
}

/* ---- targets ---- */

int registry_attach_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e)
{
    const char *name, *target;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = reg_string(req, "target", true, &target, e)) ||
        (rc = begin(r, e)))
        return rc;
    int64_t attached = 0, n = 0;
    if (!(rc = need_policy(r, name, e)) && !(rc = check_target(r, target, NULL, e)))
        rc = count(r, e, &attached,
                   "SELECT 1 FROM policy_targets WHERE policy_name = ?1 AND target = ?2", "ss",
                   name, target);
    if (!rc && !attached)
        rc = count(r, e, &n, "SELECT count(*) FROM policy_targets WHERE target = ?1", "s", target);
    if (!rc && !attached && n >= MAX_TARGET_POLICIES)
        rc = reg_fail(e, "LimitExceededException", 410,
                      "The target %s already has the maximum number of policies attached (%d)",
                      target, MAX_TARGET_POLICIES);
    if (!rc && !attached)
        rc = run(r, e, "INSERT INTO policy_targets(policy_name, target) VALUES(?1, ?2)", "ss", name,
                 target);
    if ((rc = finish(r, rc, e))) return rc;
    *resp = json_object();
    return 0;
}

int registry_detach_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e)
{
    const char *name, *target;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = reg_string(req, "target", true, &target, e)) ||
        (rc = need_policy(r, name, e)))
        return rc;
    /* Not attached (or its certificate gone): nothing to do, as AWS answers. */
    if ((rc = run(r, e, "DELETE FROM policy_targets WHERE policy_name = ?1 AND target = ?2", "ss",
                  name, target)))
        return rc;
    *resp = json_object();
    return 0;
}

int registry_list_attached_policies(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e)
{
    const char *target, *marker;
    int64_t size;
    bool recursive; /* no thing groups, so nothing to inherit from */
    int rc;
    if ((rc = reg_string(req, "target", true, &target, e)) ||
        (rc = read_page(req, &marker, &size, e)) ||
        (rc = read_bool(req, "recursive", &recursive, e)) ||
        (rc = check_target(r, target, NULL, e)))
        return rc;
    sqlite3_stmt *st = prep(r, e,
                            "SELECT policy_name FROM policy_targets WHERE target = ?1"
                            " AND (?2 IS NULL OR policy_name > ?2) ORDER BY policy_name LIMIT ?3",
                            "ssi", target, marker, size + 1);
    return list_page(r, st, size, "policies", ref_item, resp, e);
}

int registry_list_targets_for_policy(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e)
{
    const char *name, *marker;
    int64_t size;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_page(req, &marker, &size, e)) ||
        (rc = need_policy(r, name, e)))
        return rc;
    sqlite3_stmt *st = prep(r, e,
                            "SELECT target FROM policy_targets WHERE policy_name = ?1"
                            " AND (?2 IS NULL OR target > ?2) ORDER BY target LIMIT ?3",
                            "ssi", name, marker, size + 1);
    return list_page(r, st, size, "targets", string_item, resp, e);
}

/* fn for each policy attached to target, with its default document, by name. */
static int each_attached(struct registry *r, const char *target,
                         void (*fn)(void *ctx, const char *policy_name, const char *document),
                         void *ctx, struct reg_error *e)
{
    sqlite3_stmt *st = prep(r, e,
                            "SELECT t.policy_name, v.document FROM policy_targets t"
                            " JOIN policy_versions v ON v.policy_name = t.policy_name"
                            " AND v.is_default = 1 WHERE t.target = ?1 ORDER BY t.policy_name",
                            "s", target);
    if (!st) return UMBRA_EIO;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

int registry_principal_policies(struct registry *r, const char *principal_arn,
                                void (*fn)(void *ctx, const char *policy_name,
                                           const char *document),
                                void *ctx)
{
    struct reg_error e;
    return each_attached(r, principal_arn, fn, ctx, &e);
}

struct effective {
    struct registry *r;
    json_t *list;
};

static void add_effective(void *ctx, const char *name, const char *document)
{
    struct effective *eff = ctx;
    json_array_append_new(eff->list,
                          json_pack("{s:s, s:o, s:s}", "policyName", name, "policyArn",
                                    policy_arn(eff->r, name), "policyDocument", document));
}

int registry_get_effective_policies(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e)
{
    const char *principal, *thing;
    int rc;
    if ((rc = reg_string(req, "principal", false, &principal, e)) ||
        (rc = reg_string(req, "thingName", false, &thing, e)))
        return rc;
    if (thing) {
        int64_t found;
        if ((rc = reg_check(names_check_thing, "thingName", thing, e)) ||
            (rc = count(r, e, &found, "SELECT 1 FROM things WHERE name = ?1", "s", thing)))
            return rc;
        if (!found)
            return reg_fail(e, "ResourceNotFoundException", 404, "Thing %s cannot be found.",
                            thing);
    }
    if (principal && (rc = check_target(r, principal, NULL, e))) return rc;
    /* A thing contributes only its thing groups' policies, and Umbra has none. */
    struct effective eff = {r, json_array()};
    if (principal && (rc = each_attached(r, principal, add_effective, &eff, e))) {
        json_decref(eff.list);
        return rc;
    }
    *resp = json_pack("{s:o}", "effectivePolicies", eff.list);
    return 0;
}

/* ---- TestAuthorization ---- */

struct candidate {
    char *name;
    struct policy *policy;
};

struct candidates {
    struct candidate *v;
    size_t n;
    const json_t *skip;
    int rc;
    char err[256];
};

static bool in_names(const json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

static bool has_candidate(const struct candidates *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) return true;
    return false;
}

static void add_candidate(void *ctx, const char *name, const char *document)
{
    struct candidates *c = ctx;
    if (c->rc || (c->skip && in_names(c->skip, name)) || has_candidate(c, name)) return;
    struct candidate *grown = realloc(c->v, (c->n + 1) * sizeof *grown);
    if (!grown) {
        c->rc = UMBRA_ENOMEM;
        snprintf(c->err, sizeof c->err, "out of memory");
        return;
    }
    c->v = grown;
    struct candidate *k = &c->v[c->n];
    k->policy = NULL;
    k->name = strdup(name);
    if (!k->name) {
        c->rc = UMBRA_ENOMEM;
        snprintf(c->err, sizeof c->err, "out of memory");
        return;
    }
    c->n++;
    c->rc = policy_compile(document, strlen(document), &k->policy, c->err, sizeof c->err);
}

static void free_candidates(struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        policy_free(c->v[i].policy);
    }
    free(c->v);
}

/* policyNamesToAdd / policyNamesToSkip: absent, or a list of policy names. */
static int read_names(const json_t *req, const char *key, const json_t **out, struct reg_error *e)
{
    const json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v))
        return reg_fail(e, "InvalidRequestException", 400, "%s must be a list of policy names",
                        key);
    size_t i;
    json_t *name;
    json_array_foreach(v, i, name)
    {
        if (!json_is_string(name))
            return reg_fail(e, "InvalidRequestException", 400, "%s must be a list of policy names",
                            key);
        int rc = reg_check(names_check_policy, key, json_string_value(name), e);
        if (rc) return rc;
    }
    *out = v;
    return 0;
}

static const struct {
    const char *type;
    const char *action;
} action_types[] = {
    {"PUBLISH", "iot:Publish"},
    {"SUBSCRIBE", "iot:Subscribe"},
    {"RECEIVE", "iot:Receive"},
    {"CONNECT", "iot:Connect"},
};

static int read_auth_infos(const json_t *req, const json_t **out, struct reg_error *e)
{
    const json_t *infos = json_object_get(req, "authInfos");
    if (!infos || json_is_null(infos))
        return reg_fail(e, "InvalidRequestException", 400, "Missing required parameter authInfos");
    if (!json_is_array(infos) || json_array_size(infos) < 1 ||
        json_array_size(infos) > MAX_AUTH_INFOS)
        return reg_fail(e, "InvalidRequestException", 400,
                        "authInfos must be a list of 1 to %d items", MAX_AUTH_INFOS);
    size_t i;
    json_t *info;
    json_array_foreach(infos, i, info)
    {
        const char *type;
        int rc = json_is_object(info)
                     ? reg_string(info, "actionType", true, &type, e)
                     : reg_fail(e, "InvalidRequestException", 400, "authInfos must hold objects");
        if (rc) return rc;
        size_t k = 0;
        while (k < sizeof action_types / sizeof action_types[0] &&
               strcmp(action_types[k].type, type) != 0)
            k++;
        if (k == sizeof action_types / sizeof action_types[0])
            return reg_fail(e, "InvalidRequestException", 400,
                            "1 validation error detected: Value '%.40s' at "
                            "'authInfos.%zu.member.actionType' failed to satisfy constraint: "
                            "Member must satisfy enum value set: [PUBLISH, SUBSCRIBE, RECEIVE, "
                            "CONNECT]",
                            type, i + 1);
        const json_t *res = json_object_get(info, "resources");
        bool ok = json_is_array(res) && json_array_size(res) > 0;
        size_t j;
        json_t *v;
        json_array_foreach(res, j, v) ok = ok && json_is_string(v);
        if (!ok)
            return reg_fail(e, "InvalidRequestException", 400,
                            "authInfos[%zu].resources must be a non-empty list of resource ARNs",
                            i);
    }
    *out = infos;
    return 0;
}

static int action_of(const char *type)
{
    for (size_t k = 0; k < sizeof action_types / sizeof action_types[0]; k++)
        if (strcmp(action_types[k].type, type) == 0)
            return policy_action_parse(action_types[k].action);
    return -1;
}

struct auth_vars {
    const char *client_id;
    const char *cert_id;
};

/* Only what TestAuthorization is told: the client id and the certificate. */
static size_t auth_var(void *ctx, const char *name, const char **values, size_t max)
{
    const struct auth_vars *v = ctx;
    const char *value = NULL;
    if (strcmp(name, "iot:ClientId") == 0)
        value = v->client_id;
    else if (strcmp(name, "iot:CertificateId") == 0)
        value = v->cert_id;
    if (!value || max == 0) return 0;
    values[0] = value;
    return 1;
}

/* One authResult: each policy's verdict over the resources, and the decision. */
static json_t *authorize(struct registry *r, const struct candidates *c, const json_t *info,
                         const struct policy_vars *vars, int *verdict)
{
    enum policy_action action =
        (enum policy_action)action_of(json_string_value(json_object_get(info, "actionType")));
    const json_t *resources = json_object_get(info, "resources");
    for (size_t i = 0; i < c->n; i++)
        verdict[i] = POLICY_IMPLICIT_DENY;
    bool all_allowed = true, any_denied = false;
    size_t j;
    json_t *res;
    json_array_foreach(resources, j, res)
    {
        bool allowed = false;
        for (size_t i = 0; i < c->n; i++) {
            enum policy_decision d =
                policy_evaluate_one(c->v[i].policy, action, json_string_value(res), vars);
            if (d == POLICY_EXPLICIT_DENY) {
                verdict[i] = POLICY_EXPLICIT_DENY;
                any_denied = true;
            } else if (d == POLICY_ALLOWED) {
                if (verdict[i] == POLICY_IMPLICIT_DENY) verdict[i] = POLICY_ALLOWED;
                allowed = true;
            }
        }
        all_allowed = all_allowed && allowed;
    }
    json_t *allowed = json_array(), *implicit = json_array(), *explicit = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_t *to = verdict[i] == POLICY_EXPLICIT_DENY ? explicit
                     : verdict[i] == POLICY_ALLOWED     ? allowed
                                                        : implicit;
        json_array_append_new(to, policy_ref(r, c->v[i].name));
    }
    const char *decision = any_denied ? "EXPLICIT_DENY" : all_allowed ? "ALLOWED" : "IMPLICIT_DENY";
    return json_pack("{s:o, s:{s:o}, s:{s:{s:o}, s:{s:o}}, s:s, s:[]}", "authInfo",
                     json_deep_copy(info), "allowed", "policies", allowed, "denied", "implicitDeny",
                     "policies", implicit, "explicitDeny", "policies", explicit, "authDecision",
                     decision, "missingContextValues");
}

int registry_test_authorization(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    const char *principal, *client_id;
    const json_t *infos, *add, *skip;
    int rc;
    if ((rc = reg_string(req, "principal", false, &principal, e)) ||
        (rc = reg_string(req, "clientId", false, &client_id, e)) ||
        (rc = read_auth_infos(req, &infos, e)) ||
        (rc = read_names(req, "policyNamesToAdd", &add, e)) ||
        (rc = read_names(req, "policyNamesToSkip", &skip, e)))
        return rc;
    struct auth_vars av = {client_id, NULL};
    if (principal && (rc = check_target(r, principal, &av.cert_id, e))) return rc;

    /* The principal's policies but the skipped ones, then the added ones. */
    struct candidates c = {.skip = skip};
    if (principal) rc = each_attached(r, principal, add_candidate, &c, e);
    c.skip = NULL;
    size_t i;
    json_t *name;
    json_array_foreach(add, i, name)
    {
        if (rc || c.rc) break;
        struct policy_row p;
        if ((rc = load_policy(r, json_string_value(name), &p, e))) break;
        add_candidate(&c, json_string_value(name), p.document);
        free(p.document);
    }
    if (!rc && c.rc) rc = reg_fail(e, "InternalFailureException", 500, "stored policy: %s", c.err);
    int *verdict = rc ? NULL : calloc(c.n + 1, sizeof *verdict);
    if (!rc && !verdict) rc = reg_fail(e, "InternalFailureException", 500, "out of memory");
    if (rc) {
        free_candidates(&c);
        return rc;
    }
    struct policy_vars vars = {auth_var, &av};
    json_t *results = json_array();
    json_t *info;
    json_array_foreach(infos, i, info)
        json_array_append_new(results, authorize(r, &c, info, &vars, verdict));
    free(verdict);
    free_candidates(&c);
    *resp = json_pack("{s:o}", "authResults", results);
    return 0;
}
