/* test_registry_certificates.c - certificates, CA certificates and principals in the registry,
 * their AWS errors, the trust facts the gateway reads, and change detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cert.h"
#include "error.h"
#include "pki.h"
#include "registry.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64], path[96];
static char *ca_key, *ca_pem, *dev_key, *dev_pem, *other_key, *other_ca, *stray_pem;

static char *issue(const char *subject, bool is_ca, const char *key, const char *issuer,
                   const char *issuer_key)
{
    char err[256], *out = NULL;
    struct pki_request req = {.subject = subject, .is_ca = is_ca, .days = 3};
    assert_int_equal(pki_issue(&req, key, issuer, issuer_key, &out, err, sizeof err), 0);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &ca_key, err, sizeof err), 0);
    assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &dev_key, err, sizeof err), 0);
    assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &other_key, err, sizeof err), 0);
    ca_pem = issue("CN=Fleet CA", true, ca_key, NULL, ca_key);
    other_ca = issue("CN=Other CA", true, other_key, NULL, other_key);
    dev_pem = issue("CN=dev", false, dev_key, ca_pem, ca_key);
    stray_pem = issue("CN=stray", false, dev_key, other_ca, other_key);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(ca_key), free(ca_pem), free(dev_key), free(dev_pem);
    free(other_key), free(other_ca), free(stray_pem);
    return 0;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/umbra-regc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/umbra.db", dir);
    struct registry *r;
    char err[256];
    assert_int_equal(registry_open(&r, path, NULL, err, sizeof err), 0);
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

static json_t *call(struct registry *r, registry_op op, json_t *req, struct reg_error *e)
{
    json_t *resp = NULL;
    memset(e, 0, sizeof *e);
    int rc = op(r, req, &resp, e);
    json_decref(req);
    if (rc) {
        assert_null(resp);
        return NULL;
    }
    return resp;
}

static void expect(struct registry *r, registry_op op, json_t *req, const char *type)
{
    struct reg_error e;
    json_t *resp = call(r, op, req, &e);
    if (resp) fail_msg("expected %s", type);
    assert_string_equal(e.type, type);
}

static const char *id_of(json_t *resp)
{
    return json_string_value(json_object_get(resp, "certificateId"));
}

struct seen {
    int n;
    struct reg_trust last;
    char status[32];
};

static void on_trust(void *ctx, const struct reg_trust *t)
{
    struct seen *s = ctx;
    s->n++;
    s->last = *t;
    snprintf(s->status, sizeof s->status, "%s", t->status);
}

static void test_register_with_ca_and_trust_facts(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *ca = call(r, registry_register_ca_certificate,
                      json_pack("{s:s, s:b}", "caCertificate", ca_pem, "setAsActive", 1), &e);
    assert_non_null(ca);
    /* Found by signature among the registered CAs. */
    json_t *dev = call(r, registry_register_certificate,
                       json_pack("{s:s, s:s}", "certificatePem", dev_pem, "status", "ACTIVE"), &e);
    assert_non_null(dev);
    struct cert_info info;
    cert_parse((const uint8_t *)dev_pem, strlen(dev_pem) + 1, &info, NULL, 0);
    assert_string_equal(id_of(dev), info.id);

    struct seen s = {0};
    assert_int_equal(registry_each_certificate(r, on_trust, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.status, "ACTIVE");
    assert_true(s.last.has_ca && s.last.is_ca_active);
    assert_int_equal(s.last.not_before, info.not_before);

    /* Deactivating the CA shows through. */
    json_decref(call(r, registry_update_ca_certificate,
                     json_pack("{s:s, s:s}", "certificateId", id_of(ca), "newStatus", "INACTIVE"),
                     &e));
    memset(&s, 0, sizeof s);
    registry_each_certificate(r, on_trust, &s);
    assert_true(s.last.has_ca && !s.last.is_ca_active);

    expect(r, registry_register_certificate, json_pack("{s:s}", "certificatePem", dev_pem),
           "ResourceAlreadyExistsException");
    expect(r, registry_register_certificate, json_pack("{s:s}", "certificatePem", stray_pem),
           "CertificateValidationException");
    expect(r, registry_register_certificate,
           json_pack("{s:s, s:s}", "certificatePem", stray_pem, "caCertificatePem", other_ca),
           "ResourceNotFoundException");
    expect(r, registry_register_certificate,
           json_pack("{s:s, s:s}", "certificatePem", stray_pem, "caCertificatePem", ca_pem),
           "CertificateValidationException");
    expect(r, registry_register_ca_certificate, json_pack("{s:s}", "caCertificate", dev_pem),
           "CertificateValidationException");
    expect(r, registry_register_ca_certificate, json_pack("{s:s}", "caCertificate", ca_pem),
           "ResourceAlreadyExistsException");
    json_decref(ca);
    json_decref(dev);
}

static void test_status_rules(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *c = call(r, registry_register_certificate_without_ca,
                     json_pack("{s:s}", "certificatePem", stray_pem), &e);
    assert_non_null(c);
    char id[65];
    snprintf(id, sizeof id, "%s", id_of(c));
    json_decref(c);
    json_t *d = call(r, registry_describe_certificate, json_pack("{s:s}", "certificateId", id), &e);
    json_t *desc = json_object_get(d, "certificateDescription");
    assert_string_equal(json_string_value(json_object_get(desc, "status")), "INACTIVE");
    assert_null(json_object_get(desc, "caCertificateId"));
    json_decref(d);
    const char *bad_status[] = {"PENDING_TRANSFER", "active", ""};
    for (int i = 0; i < 3; i++)
        expect(r, registry_update_certificate,
               json_pack("{s:s, s:s}", "certificateId", id, "newStatus", bad_status[i]),
               "InvalidRequestException");
    json_decref(call(r, registry_update_certificate,
                     json_pack("{s:s, s:s}", "certificateId", id, "newStatus", "ACTIVE"), &e));
    expect(r, registry_delete_certificate, json_pack("{s:s}", "certificateId", id),
           "CertificateStateException");
    json_decref(call(r, registry_update_certificate,
                     json_pack("{s:s, s:s}", "certificateId", id, "newStatus", "REVOKED"), &e));
    expect(r, registry_update_certificate,
           json_pack("{s:s, s:s}", "certificateId", id, "newStatus", "ACTIVE"),
           "CertificateStateException");
    json_t *ok = call(r, registry_delete_certificate, json_pack("{s:s}", "certificateId", id), &e);
    assert_non_null(ok);
    json_decref(ok);
    expect(r, registry_describe_certificate, json_pack("{s:s}", "certificateId", id),
           "ResourceNotFoundException");
    expect(r, registry_describe_certificate, json_pack("{s:s}", "certificateId", "zz"),
           "InvalidRequestException");
    expect(r, registry_register_certificate_without_ca, json_pack("{s:s}", "certificatePem", "x"),
           "CertificateValidationException");
    expect(r, registry_register_certificate_without_ca, json_pack("{}"), "InvalidRequestException");
    expect(r, registry_register_certificate_without_ca,
           json_pack("{s:s, s:s}", "certificatePem", stray_pem, "status", "BOGUS"),
           "InvalidRequestException");
}

static void test_principals(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *c = call(r, registry_register_certificate_without_ca,
                     json_pack("{s:s}", "certificatePem", dev_pem), &e);
    const char *arn = json_string_value(json_object_get(c, "certificateArn"));
    json_decref(call(r, registry_create_thing, json_pack("{s:s}", "thingName", "t1"), &e));
    expect(r, registry_attach_thing_principal,
           json_pack("{s:s, s:s}", "thingName", "nope", "principal", arn),
           "ResourceNotFoundException");
    expect(r, registry_attach_thing_principal,
           json_pack("{s:s, s:s}", "thingName", "t1", "principal", "arn:aws:iot:x:1:cert/ab"),
           "InvalidRequestException");
    json_decref(call(r, registry_attach_thing_principal,
                     json_pack("{s:s, s:s}", "thingName", "t1", "principal", arn), &e));
    /* Attaching twice is idempotent. */
    json_t *again = call(r, registry_attach_thing_principal,
                         json_pack("{s:s, s:s}", "thingName", "t1", "principal", arn), &e);
    assert_non_null(again);
    json_decref(again);
    json_t *list =
        call(r, registry_list_thing_principals, json_pack("{s:s}", "thingName", "t1"), &e);
    assert_int_equal(json_array_size(json_object_get(list, "principals")), 1);
    json_decref(list);
    expect(r, registry_delete_thing, json_pack("{s:s}", "thingName", "t1"),
           "InvalidRequestException");
    expect(r, registry_delete_certificate, json_pack("{s:s}", "certificateId", id_of(c)),
           "DeleteConflictException");
    json_decref(call(r, registry_detach_thing_principal,
                     json_pack("{s:s, s:s}", "thingName", "t1", "principal", arn), &e));
    list = call(r, registry_list_principal_things, json_pack("{s:s}", "principal", arn), &e);
    assert_int_equal(json_array_size(json_object_get(list, "things")), 0);
    json_decref(list);
    json_decref(c);
}

static void test_change_counter_sees_other_connections(void **state)
{
    struct registry *r = *state;
    uint64_t before, after, same;
    assert_int_equal(registry_change_counter(r, &before), 0);
    assert_int_equal(registry_change_counter(r, &same), 0);
    assert_int_equal(before, same);
    /* Another process (umbractl) writes through its own connection. */
    struct registry *other;
    char err[256];
    assert_int_equal(registry_open(&other, path, NULL, err, sizeof err), 0);
    struct reg_error e;
    json_decref(call(other, registry_create_thing, json_pack("{s:s}", "thingName", "x"), &e));
    registry_close(other);
    assert_int_equal(registry_change_counter(r, &after), 0);
    assert_true(after != before);
    /* And our own writes count too. */
    json_decref(call(r, registry_create_thing, json_pack("{s:s}", "thingName", "y"), &e));
    assert_int_equal(registry_change_counter(r, &same), 0);
    assert_true(same != after);
    /* Commits to other tables of the same file (the broker's sessions and
     * retained messages) are not registry changes. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS not_registry(x);"
                                      "INSERT INTO not_registry VALUES(1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    uint64_t later;
    assert_int_equal(registry_change_counter(r, &later), 0);
    assert_int_equal(later, same);
}

static void test_list_paging(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    char *keys[5];
    char err[256];
    for (int i = 0; i < 5; i++) {
        char subject[32];
        snprintf(subject, sizeof subject, "CN=d%d", i);
        assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &keys[i], err, sizeof err), 0);
        char *pem = issue(subject, false, keys[i], NULL, keys[i]);
        json_decref(call(r, registry_register_certificate_without_ca,
                         json_pack("{s:s}", "certificatePem", pem), &e));
        free(pem);
        free(keys[i]);
    }
    int seen = 0;
    json_t *marker = NULL;
    for (int page = 0; page < 4; page++) {
        json_t *req = json_pack("{s:i}", "pageSize", 2);
        if (marker) json_object_set(req, "marker", marker);
        json_decref(marker);
        marker = NULL;
        json_t *resp = call(r, registry_list_certificates, req, &e);
        seen += (int)json_array_size(json_object_get(resp, "certificates"));
        marker = json_incref(json_object_get(resp, "nextMarker"));
        json_decref(resp);
        if (!marker) break;
    }
    assert_int_equal(seen, 5);
    expect(r, registry_list_certificates, json_pack("{s:i}", "pageSize", 0),
           "InvalidRequestException");
    expect(r, registry_list_certificates, json_pack("{s:s}", "marker", "x"),
           "InvalidRequestException");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_with_ca_and_trust_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_counter_sees_other_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
    };
    return cmocka_run_group_tests_name("registry_certificates", tests, group_setup, group_teardown);
}
