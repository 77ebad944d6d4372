/*
 * certificates.c - device and CA certificates in the registry: register
 * (with a registered CA, or without one), describe, change status, delete,
 * list. A certificate's id is AWS's: SHA-256 of its DER (tls/cert.c).
 */
#include "registry_internal.h"

#include "cert.h"
#include "error.h"
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const statuses[] = {
    "ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER", "REGISTER_INACTIVE", "PENDING_ACTIVATION",
    NULL};

static bool is_status(const char *s)
{
    for (int i = 0; statuses[i]; i++)
        if (strcmp(s, statuses[i]) == 0) return true;
    return false;
}

static json_t *arn(struct registry *r, const char *kind, const char *id)
{
    return json_sprintf("arn:aws:iot:%s:%s:%s/%s", r->region, r->account, kind, id);
}

static int parse_pem(const char *pem, struct cert_info *info, struct reg_error *e)
{
    char why[160];
    if (cert_parse((const uint8_t *)pem, strlen(pem) + 1, info, why, sizeof why) == 0) return 0;
    return reg_fail(e, "CertificateValidationException", 400, "Certificate is invalid: %s", why);
}

static int check_id(const char *id, struct reg_error *e)
{
    size_t n = strlen(id);
    bool ok = n == CERT_ID_HEX_LEN;
    for (size_t i = 0; ok && i < n; i++)
        ok = strchr("0123456789abcdefABCDEF", id[i]) != NULL;
    if (ok) return 0;
    return reg_fail(e, "InvalidRequestException", 400,
                    "1 validation error detected: Value '%.80s' at 'certificateId' failed to "
                    "satisfy constraint: Member must have length 64",
                    id);
}

/* Status from `status`, else setAsActive, else INACTIVE (AWS's default). */
static int read_status(const json_t *req, const char **status, struct reg_error *e)
{
    int rc = reg_string(req, "status", false, status, e);
    if (rc) return rc;
    if (*status) {
        if (!is_status(*status))
            return reg_fail(e, "InvalidRequestException", 400, "Invalid certificate status %.40s",
                            *status);
        return 0;
    }
    json_t *active = json_object_get(req, "setAsActive");
    *status = active && json_is_true(active) ? "ACTIVE" : "INACTIVE";
    return 0;
}

/* 1 when a row with that id exists in `table`, 0 if not, negative on error. */
static int exists(struct registry *r, const char *table, const char *id, struct reg_error *e)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE id = ?1", table);
    sqlite3_stmt *st = reg_prepare(r, sql, e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

/* The registered CA that signed pem, into ca_id; 0 found, 1 none, negative on error. */
static int find_issuer(struct registry *r, const char *pem, char ca_id[CERT_ID_HEX_LEN + 1],
                       struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, "SELECT id, pem FROM ca_certificates", e);
    if (!st) return UMBRA_EIO;
    int found = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *ca_pem = (const char *)sqlite3_column_text(st, 1);
        if (cert_verify_issuer((const uint8_t *)pem, strlen(pem) + 1, (const uint8_t *)ca_pem,
                               strlen(ca_pem) + 1) == 0) {
            snprintf(ca_id, CERT_ID_HEX_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
            found = 0;
            break;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static int insert_certificate(struct registry *r, const char *pem, const struct cert_info *info,
                              const char *status, const char *ca_id, json_t **resp,
                              struct reg_error *e)
{
    int rc = exists(r, "certificates", info->id, e);
    if (rc < 0) return rc;
    if (rc == 1)
        return reg_fail(e, "ResourceAlreadyExistsException", 409,
                        "The certificate is already provisioned or registered");
    sqlite3_stmt *st = reg_prepare(r,
                                   "INSERT INTO certificates(id, pem, status, ca_id, created_at,"
                                   " modified_at, not_before, not_after, generation)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, 1)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, info->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pem, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ca_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, reg_now());
    sqlite3_bind_int64(st, 6, info->not_before);
    sqlite3_bind_int64(st, 7, info->not_after);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_pack("{s:o, s:s}", "certificateArn", arn(r, "cert", info->id), "certificateId",
                      info->id);
    return 0;
}

int registry_register_certificate_without_ca(struct registry *r, const json_t *req, json_t **resp,
                                             struct reg_error *e)
{
    const char *pem, *status;
    struct cert_info info;
    int rc;
    if ((rc = reg_string(req, "certificatePem", true, &pem, e)) ||
        (rc = read_status(req, &status, e)) || (rc = parse_pem(pem, &info, e)))
        return rc;
    return insert_certificate(r, pem, &info, status, NULL, resp, e);
}

/* The data directory's CA, made on first use when umbrad has not run yet. */
static int load_signer(struct registry *r, char **ca_pem, char **ca_key, struct reg_error *e)
{
    static const char *const hosts[] = {"localhost", "127.0.0.1", "::1", NULL};
    char err[256], path[4200];
    bool created;
    if (pki_init_data_dir(r->dir, hosts, &created, err, sizeof err))
        return reg_fail(e, "InternalFailureException", 500, "%s", err);
    *ca_pem = *ca_key = NULL;
    const char *names[2] = {"ca.pem", "ca.key"};
    char **out[2] = {ca_pem, ca_key};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", r->dir, names[i]);
        FILE *f = fopen(path, "rb");
        char *buf = calloc(1, 16384);
        if (f && buf) fread(buf, 1, 16383, f);
        if (f) fclose(f);
        *out[i] = buf;
        if (!f || !buf || !buf[0]) {
            free(*ca_pem);
            free(*ca_key);
            return reg_fail(e, "InternalFailureException", 500, "cannot read %s", path);
        }
    }
    return 0;
}

static bool set_as_active(const json_t *req)
{
    json_t *v = json_object_get(req, "setAsActive");
    return v && json_is_true(v);
}

/* Register a certificate Umbra just issued: trusted as registered, no customer CA. */
static int register_issued(struct registry *r, const char *pem, bool active, json_t **resp,
                           struct reg_error *e)
{
    struct cert_info info;
    int rc = parse_pem(pem, &info, e);
    if (!rc) rc = insert_certificate(r, pem, &info, active ? "ACTIVE" : "INACTIVE", NULL, resp, e);
    if (!rc) json_object_set_new(*resp, "certificatePem", json_string(pem));
    return rc;
}

int registry_create_keys_and_certificate(struct registry *r, const json_t *req, json_t **resp,
                                         struct reg_error *e)
{
    /* keyType is Umbra's extension: AWS always makes RSA 2048 keys. */
    const char *key_type = NULL;
    int rc = reg_string(req, "keyType", false, &key_type, e);
    if (rc) return rc;
    enum pki_key_type type = PKI_KEY_RSA2048;
    if (key_type && strcmp(key_type, "ec") == 0)
        type = PKI_KEY_EC_P256;
    else if (key_type && strcmp(key_type, "rsa") != 0)
        return reg_fail(e, "InvalidRequestException", 400,
                        "keyType must be 'rsa' (RSA 2048) or 'ec' (ECC P-256)");
    char *ca_pem, *ca_key, *key = NULL, *pub = NULL, *cert = NULL, err[256];
    if ((rc = load_signer(r, &ca_pem, &ca_key, e))) return rc;
    struct pki_request preq = {.subject = "CN=AWS IoT Certificate", .days = 365 * 30};
    if (pki_generate_key(type, &key, err, sizeof err) ||
        pki_public_key(key, &pub, err, sizeof err) ||
        pki_issue(&preq, key, ca_pem, ca_key, &cert, err, sizeof err))
        rc = reg_fail(e, "InternalFailureException", 500, "%s", err);
    if (!rc) rc = register_issued(r, cert, set_as_active(req), resp, e);
    if (!rc)
        json_object_set_new(*resp, "keyPair",
                            json_pack("{s:s, s:s}", "PublicKey", pub, "PrivateKey", key));
    free(ca_pem);
    free(ca_key);
    free(key);
    free(pub);
    free(cert);
    return rc;
}

int registry_create_certificate_from_csr(struct registry *r, const json_t *req, json_t **resp,
                                         struct reg_error *e)
{
    const char *csr;
    int rc = reg_string(req, "certificateSigningRequest", true, &csr, e);
    if (rc) return rc;
    if (strlen(csr) > 4096)
        return reg_fail(e, "InvalidRequestException", 400,
                        "certificateSigningRequest must be at most 4096 characters");
    char *ca_pem, *ca_key, *cert = NULL, err[256];
    if ((rc = load_signer(r, &ca_pem, &ca_key, e))) return rc;
    if (pki_issue_from_csr(csr, 365 * 30, ca_pem, ca_key, &cert, err, sizeof err))
        rc = reg_fail(e, "InvalidRequestException", 400, "%s", err);
    if (!rc) rc = register_issued(r, cert, set_as_active(req), resp, e);
    free(ca_pem);
    free(ca_key);
    free(cert);
    return rc;
}

int registry_register_certificate(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e)
{
    const char *pem, *ca_pem, *status;
    struct cert_info info, ca_info;
    int rc;
    if ((rc = reg_string(req, "certificatePem", true, &pem, e)) ||
        (rc = reg_string(req, "caCertificatePem", false, &ca_pem, e)) ||
        (rc = read_status(req, &status, e)) || (rc = parse_pem(pem, &info, e)))
        return rc;
    char ca_id[CERT_ID_HEX_LEN + 1];
    if (ca_pem) {
        if ((rc = parse_pem(ca_pem, &ca_info, e))) return rc;
        rc = exists(r, "ca_certificates", ca_info.id, e);
        if (rc < 0) return rc;
        if (rc == 0)
            return reg_fail(e, "ResourceNotFoundException", 404,
                            "CA certificate %s is not registered", ca_info.id);
        if (cert_verify_issuer((const uint8_t *)pem, strlen(pem) + 1, (const uint8_t *)ca_pem,
                               strlen(ca_pem) + 1))
            return reg_fail(e, "CertificateValidationException", 400,
                            "The certificate is not signed by the given CA certificate");
        memcpy(ca_id, ca_info.id, sizeof ca_id);
    } else {
        rc = find_issuer(r, pem, ca_id, e);
        if (rc < 0) return rc;
        if (rc == 1)
            return reg_fail(e, "CertificateValidationException", 400,
                            "The certificate is not signed by a registered CA certificate");
    }
    return insert_certificate(r, pem, &info, status, ca_id, resp, e);
}

static int read_id(const json_t *req, const char *key, const char **id, struct reg_error *e)
{
    int rc = reg_string(req, key, true, id, e);
    return rc ? rc : check_id(*id, e);
}

static int cert_not_found(struct reg_error *e, const char *id)
{
    return reg_fail(e, "ResourceNotFoundException", 404, "The certificate %s does not exist.", id);
}

int registry_describe_certificate(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e)
{
    const char *id;
    int rc = read_id(req, "certificateId", &id, e);
    if (rc) return rc;
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT pem, status, ca_id, created_at, modified_at,"
                                   " not_before, not_after, generation FROM certificates"
                                   " WHERE id = lower(?1)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return cert_not_found(e, id);
    }
    char lower[CERT_ID_HEX_LEN + 1];
    for (int i = 0; i <= CERT_ID_HEX_LEN; i++)
        lower[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] + 32 : id[i]);
    json_t *d = json_pack(
        "{s:o, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:s, s:{s:I, s:I}, s:s}", "certificateArn",
        arn(r, "cert", lower), "certificateId", lower, "status", sqlite3_column_text(st, 1),
        "certificatePem", sqlite3_column_text(st, 0), "ownedBy", r->account, "creationDate",
        (json_int_t)sqlite3_column_int64(st, 3), "lastModifiedDate",
        (json_int_t)sqlite3_column_int64(st, 4), "customerVersion", 1, "generationId", "1",
        "validity", "notBefore", (json_int_t)sqlite3_column_int64(st, 5), "notAfter",
        (json_int_t)sqlite3_column_int64(st, 6), "certificateMode", "DEFAULT");
    if (d && sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_set_new(d, "caCertificateId",
                            json_string((const char *)sqlite3_column_text(st, 2)));
    sqlite3_finalize(st);
    *resp = json_pack("{s:o}", "certificateDescription", d);
    return 0;
}

/* Current status into buf; 1 found, 0 absent, negative on error. */
static int cert_status(struct registry *r, const char *id, char *buf, size_t cap,
                       struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r, "SELECT status FROM certificates WHERE id = lower(?1)", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : reg_fail_db(r, e);
}

int registry_update_certificate(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    const char *id, *status;
    int rc;
    if ((rc = read_id(req, "certificateId", &id, e)) ||
        (rc = reg_string(req, "newStatus", true, &status, e)))
        return rc;
    if (strcmp(status, "ACTIVE") && strcmp(status, "INACTIVE") && strcmp(status, "REVOKED"))
        return reg_fail(e, "InvalidRequestException", 400,
                        "newStatus must be ACTIVE, INACTIVE or REVOKED");
    char current[32];
    rc = cert_status(r, id, current, sizeof current, e);
    if (rc < 0) return rc;
    if (rc == 0) return cert_not_found(e, id);
    if (strcmp(current, "REVOKED") == 0 && strcmp(status, "REVOKED") != 0)
        return reg_fail(e, "CertificateStateException", 406,
                        "Certificate %s is revoked and cannot change status", id);
    sqlite3_stmt *st = reg_prepare(r,
                                   "UPDATE certificates SET status = ?1, modified_at = ?2,"
                                   " generation = generation + 1 WHERE id = lower(?3)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, reg_now());
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_object();
    return 0;
}

int registry_delete_certificate(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e)
{
    const char *id;
    int rc = read_id(req, "certificateId", &id, e);
    if (rc) return rc;
    char current[32];
    rc = cert_status(r, id, current, sizeof current, e);
    if (rc < 0) return rc;
    if (rc == 0) return cert_not_found(e, id);
    if (strcmp(current, "ACTIVE") == 0)
        return reg_fail(e, "CertificateStateException", 406,
                        "Certificate must be deactivated (not ACTIVE) before deletion. Id: %s", id);
    char principal[256];
    snprintf(principal, sizeof principal, "arn:aws:iot:%s:%s:cert/%s", r->region, r->account, id);
    for (char *p = strrchr(principal, '/'); p && *p; p++)
        if (*p >= 'A' && *p <= 'F') *p = (char)(*p + 32);
    sqlite3_stmt *st = reg_prepare(r, "SELECT 1 FROM thing_principals WHERE principal = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    int attached = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    /* forceDelete overrides attached policies only, never attached things. */
    if (attached)
        return reg_fail(e, "DeleteConflictException", 409,
                        "Things must be detached before deletion (arn: %s)", principal);
    st = reg_prepare(r, "SELECT 1 FROM policy_targets WHERE target = ?1 LIMIT 1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
    bool has_policies = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    /* A trigger removes the attachments of a certificate deleted by force. */
    if (has_policies && !json_is_true(json_object_get(req, "forceDelete")))
        return reg_fail(e, "DeleteConflictException", 409,
                        "Certificate policies must be detached before deletion (arn: %s)",
                        principal);
    st = reg_prepare(r, "DELETE FROM certificates WHERE id = lower(?1)", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_object();
    return 0;
}

/* pageSize / marker paging shared by the two certificate lists. */
static int read_page(const json_t *req, int64_t *size, int64_t *offset, struct reg_error *e)
{
    const char *marker;
    bool has;
    *size = 25;
    int rc = reg_int(req, "pageSize", &has, size, e);
    if (!rc) rc = reg_string(req, "marker", false, &marker, e);
    if (rc) return rc;
    if (*size < 1 || *size > 250)
        return reg_fail(e, "InvalidRequestException", 400, "pageSize must be between 1 and 250");
    char *end = NULL;
    *offset = marker ? strtoll(marker, &end, 10) : 0;
    if (marker && (end == marker || *end || *offset < 0))
        return reg_fail(e, "InvalidRequestException", 400, "Invalid marker");
    return 0;
}

static int list_table(struct registry *r, const json_t *req, const char *sql, const char *kind,
                      json_t **resp, struct reg_error *e)
{
    int64_t size = 25, offset = 0;
    int rc = read_page(req, &size, &offset, e);
    if (rc) return rc;
    json_t *asc = json_object_get(req, "ascendingOrder");
    char full[512];
    snprintf(full, sizeof full, "%s ORDER BY created_at %s, id LIMIT ?1 OFFSET ?2", sql,
             asc && json_is_true(asc) ? "ASC" : "DESC");
    sqlite3_stmt *st = reg_prepare(r, full, e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_int64(st, 1, size + 1);
    sqlite3_bind_int64(st, 2, offset);
    json_t *list = json_array();
    int64_t n = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == size) {
            more = true;
            break;
        }
        const char *id = (const char *)sqlite3_column_text(st, 0);
        json_t *item = json_pack("{s:o, s:s, s:s, s:I}", "certificateArn", arn(r, kind, id),
                                 "certificateId", id, "status", sqlite3_column_text(st, 1),
                                 "creationDate", (json_int_t)sqlite3_column_int64(st, 2));
        if (item && strcmp(kind, "cert") == 0)
            json_object_set_new(item, "certificateMode", json_string("DEFAULT"));
        json_array_append_new(list, item);
        n++;
    }
    sqlite3_finalize(st);
    *resp = json_pack("{s:o}", "certificates", list);
    if (more)
        json_object_set_new(*resp, "nextMarker", json_sprintf("%lld", (long long)(offset + n)));
    return 0;
}

int registry_list_certificates(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    return list_table(r, req, "SELECT id, status, created_at FROM certificates", "cert", resp, e);
}

int registry_list_ca_certificates(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e)
{
    return list_table(r, req, "SELECT id, status, created_at FROM ca_certificates", "cacert", resp,
                      e);
}

int registry_register_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e)
{
    const char *pem;
    struct cert_info info;
    int rc;
    if ((rc = reg_string(req, "caCertificate", true, &pem, e)) || (rc = parse_pem(pem, &info, e)))
        return rc;
    if (!info.is_ca)
        return reg_fail(e, "CertificateValidationException", 400,
                        "The certificate is not a CA certificate (basicConstraints CA:TRUE)");
    rc = exists(r, "ca_certificates", info.id, e);
    if (rc < 0) return rc;
    if (rc == 1)
        return reg_fail(e, "ResourceAlreadyExistsException", 409,
                        "The CA certificate is already registered");
    json_t *active = json_object_get(req, "setAsActive");
    json_t *auto_reg = json_object_get(req, "allowAutoRegistration");
    sqlite3_stmt *st = reg_prepare(r,
                                   "INSERT INTO ca_certificates(id, pem, status, auto_registration,"
                                   " subject, created_at, modified_at, not_before, not_after)"
                                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, info.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pem, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, active && json_is_true(active) ? "ACTIVE" : "INACTIVE", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 4, auto_reg && json_is_true(auto_reg) ? "ENABLE" : "DISABLE", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 5, info.subject, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, reg_now());
    sqlite3_bind_int64(st, 7, info.not_before);
    sqlite3_bind_int64(st, 8, info.not_after);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_pack("{s:o, s:s}", "certificateArn", arn(r, "cacert", info.id), "certificateId",
                      info.id);
    return 0;
}

int registry_describe_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e)
{
    const char *id;
    int rc = read_id(req, "certificateId", &id, e);
    if (rc) return rc;
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT id, pem, status, auto_registration, created_at,"
                                   " modified_at, not_before, not_after FROM ca_certificates"
                                   " WHERE id = lower(?1)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return reg_fail(e, "ResourceNotFoundException", 404,
                        "The CA certificate %s does not exist.", id);
    }
    const char *cid = (const char *)sqlite3_column_text(st, 0);
    json_t *d =
        json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:i, s:s, s:{s:I, s:I}, s:s}",
                  "certificateArn", arn(r, "cacert", cid), "certificateId", cid, "status",
                  sqlite3_column_text(st, 2), "certificatePem", sqlite3_column_text(st, 1),
                  "ownedBy", r->account, "creationDate", (json_int_t)sqlite3_column_int64(st, 4),
                  "autoRegistrationStatus", sqlite3_column_text(st, 3), "lastModifiedDate",
                  (json_int_t)sqlite3_column_int64(st, 5), "customerVersion", 1, "generationId",
                  "1", "validity", "notBefore", (json_int_t)sqlite3_column_int64(st, 6), "notAfter",
                  (json_int_t)sqlite3_column_int64(st, 7), "certificateMode", "DEFAULT");
    sqlite3_finalize(st);
    *resp = json_pack("{s:o}", "certificateDescription", d);
    return 0;
}

int registry_list_certificates_by_ca(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e)
{
    const char *ca_id;
    int rc = read_id(req, "caCertificateId", &ca_id, e);
    if (rc) return rc;
    rc = exists(r, "ca_certificates", ca_id, e);
    if (rc < 0) return rc;
    if (rc == 0)
        return reg_fail(e, "ResourceNotFoundException", 404,
                        "The CA certificate %s does not exist.", ca_id);
    /* The id is 64 hex digits (checked), so it is safe inside the SQL text. */
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT id, status, created_at FROM certificates WHERE ca_id = lower('%s')", ca_id);
    return list_table(r, req, sql, "cert", resp, e);
}

int registry_update_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *id, *status, *auto_reg;
    int rc;
    if ((rc = read_id(req, "certificateId", &id, e)) ||
        (rc = reg_string(req, "newStatus", false, &status, e)) ||
        (rc = reg_string(req, "newAutoRegistrationStatus", false, &auto_reg, e)))
        return rc;
    if (status && strcmp(status, "ACTIVE") && strcmp(status, "INACTIVE"))
        return reg_fail(e, "InvalidRequestException", 400, "newStatus must be ACTIVE or INACTIVE");
    if (auto_reg && strcmp(auto_reg, "ENABLE") && strcmp(auto_reg, "DISABLE"))
        return reg_fail(e, "InvalidRequestException", 400,
                        "newAutoRegistrationStatus must be ENABLE or DISABLE");
    rc = exists(r, "ca_certificates", id, e);
    if (rc < 0) return rc;
    if (rc == 0)
        return reg_fail(e, "ResourceNotFoundException", 404,
                        "The CA certificate %s does not exist.", id);
    sqlite3_stmt *st = reg_prepare(r,
                                   "UPDATE ca_certificates SET status = coalesce(?1, status),"
                                   " auto_registration = coalesce(?2, auto_registration),"
                                   " modified_at = ?3 WHERE id = lower(?4)",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, auto_reg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, reg_now());
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    *resp = json_object();
    return 0;
}

int registry_delete_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e)
{
    const char *id;
    int rc = read_id(req, "certificateId", &id, e);
    if (rc) return rc;
    sqlite3_stmt *st = reg_prepare(r, "SELECT status FROM ca_certificates WHERE id = lower(?1)", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    bool active =
        step == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ACTIVE") == 0;
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return reg_fail(e, "ResourceNotFoundException", 404,
                        "The CA certificate %s does not exist.", id);
    if (step != SQLITE_ROW) return reg_fail_db(r, e);
    if (active)
        return reg_fail(e, "CertificateStateException", 406,
                        "Cannot delete the CA certificate %s while it is ACTIVE; set it INACTIVE "
                        "first.",
                        id);
    /* Device certificates it signed stay registered but can no longer connect:
     * the gateway requires their CA to be registered and ACTIVE. */
    if ((rc = reg_exec_text(r, "DELETE FROM ca_certificates WHERE id = lower(?1)", id, e)))
        return rc;
    *resp = json_object();
    return 0;
}

int registry_each_certificate(struct registry *r, void (*fn)(void *ctx, const struct reg_trust *t),
                              void *ctx)
{
    struct reg_error e;
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT c.id, c.status, c.not_before, c.not_after, c.ca_id,"
                                   " ca.status FROM certificates c"
                                   " LEFT JOIN ca_certificates ca ON ca.id = c.ca_id",
                                   &e);
    if (!st) return UMBRA_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ca_status = (const char *)sqlite3_column_text(st, 5);
        struct reg_trust t = {
            .id = (const char *)sqlite3_column_text(st, 0),
            .status = (const char *)sqlite3_column_text(st, 1),
            .not_before = sqlite3_column_int64(st, 2),
            .not_after = sqlite3_column_int64(st, 3),
            .has_ca = sqlite3_column_type(st, 4) != SQLITE_NULL,
            .is_ca_active = ca_status && strcmp(ca_status, "ACTIVE") == 0,
        };
        fn(ctx, &t);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : UMBRA_EIO;
}
