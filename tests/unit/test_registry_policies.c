/* test_registry_policies.c - policies, their versions and targets in the registry, with AWS
 * IoT's rules and errors; GetEffectivePolicies and TestAuthorization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "pki.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[96];
static char *ca_key, *ca_pem, *dev_key, *dev_pem, *dev2_pem;

#define ALLOW_ALL                                                                                  \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","       \
    "\"Resource\":\"*\"}]}"
#define ALLOW_CONNECT                                                                              \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\"," \
    "\"Resource\":\"*\"}]}"

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
    ca_pem = issue("CN=Fleet CA", true, ca_key, NULL, ca_key);
    dev_pem = issue("CN=dev", false, dev_key, ca_pem, ca_key);
    dev2_pem = issue("CN=dev2", false, dev_key, ca_pem, ca_key);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(ca_key), free(ca_pem), free(dev_key), free(dev_pem), free(dev2_pem);
    return 0;
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/umbra-regp-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/umbra.db", dir);
    struct registry *r;
    char err[256];
    assert_int_equal(registry_open(&r, path, "eu-west-1", err, sizeof err), 0);
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

/* Run an operation; req is consumed. Returns the response or NULL with *e. */
static json_t *call(struct registry *r, registry_op op, json_t *req, struct reg_error *e)
{
    assert_non_null(req);
    json_t *resp = NULL;
    memset(e, 0, sizeof *e);
    int rc = op(r, req, &resp, e);
    json_decref(req);
    if (rc) {
        assert_null(resp);
        assert_non_null(e->type);
        return NULL;
    }
    assert_non_null(resp);
    return resp;
}

/* Succeeds, and the response is dropped. */
static void ok(struct registry *r, registry_op op, json_t *req)
{
    struct reg_error e;
    json_t *resp = call(r, op, req, &e);
    if (!resp) fail_msg("unexpected %s: %s", e.type, e.message);
    json_decref(resp);
}

static void expect_error(struct registry *r, registry_op op, json_t *req, const char *type,
                         int status, const char *message)
{
    struct reg_error e;
    json_t *resp = call(r, op, req, &e);
    if (resp) fail_msg("expected %s, got success", type);
    if (strcmp(e.type, type) != 0) fail_msg("expected %s, got %s: %s", type, e.type, e.message);
    assert_int_equal(e.status, status);
    assert_true(strlen(e.message) > 0);
    if (message) assert_string_equal(e.message, message);
}

static json_t *create_req(const char *name, const char *doc)
{
    return json_pack("{s:s, s:s}", "policyName", name, "policyDocument", doc);
}

static json_t *name_req(const char *name)
{
    return json_pack("{s:s}", "policyName", name);
}

static json_t *version_req(const char *name, const char *version)
{
    return json_pack("{s:s, s:s}", "policyName", name, "policyVersionId", version);
}

static json_t *target_req(const char *name, const char *target)
{
    return json_pack("{s:s, s:s}", "policyName", name, "target", target);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s) fail_msg("no string %s", key);
    return s;
}

/* A document allowing one action on one resource (or denying it). */
static char *doc_of(const char *effect, const char *action, const char *resource)
{
    json_t *d = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "Version", "2012-10-17", "Statement",
                          "Effect", effect, "Action", action, "Resource", resource);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return text;
}

/* Register a device certificate; its ARN into arn. */
static void register_cert(struct registry *r, const char *pem, char *arn, size_t cap)
{
    struct reg_error e;
    json_t *c = call(r, registry_register_certificate_without_ca,
                     json_pack("{s:s, s:s}", "certificatePem", pem, "status", "ACTIVE"), &e);
    assert_non_null(c);
    snprintf(arn, cap, "%s", str(c, "certificateArn"));
    json_decref(c);
}

static void test_create_and_get(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *c = call(r, registry_create_policy, create_req("pub.sub=1@a-b_c,d+", ALLOW_ALL), &e);
    assert_non_null(c);
    char arn[160];
    snprintf(arn, sizeof arn, "arn:aws:iot:eu-west-1:%s:policy/pub.sub=1@a-b_c,d+",
             registry_account(r));
    assert_string_equal(str(c, "policyName"), "pub.sub=1@a-b_c,d+");
    assert_string_equal(str(c, "policyArn"), arn);
    assert_string_equal(str(c, "policyDocument"), ALLOW_ALL);
    assert_string_equal(str(c, "policyVersionId"), "1");
    json_decref(c);

    json_t *g = call(r, registry_get_policy, name_req("pub.sub=1@a-b_c,d+"), &e);
    assert_non_null(g);
    assert_string_equal(str(g, "policyName"), "pub.sub=1@a-b_c,d+");
    assert_string_equal(str(g, "policyArn"), arn);
    assert_string_equal(str(g, "policyDocument"), ALLOW_ALL);
    assert_string_equal(str(g, "defaultVersionId"), "1");
    assert_string_equal(str(g, "generationId"), "1");
    assert_true(json_is_integer(json_object_get(g, "creationDate")));
    assert_true(json_integer_value(json_object_get(g, "lastModifiedDate")) >=
                json_integer_value(json_object_get(g, "creationDate")));
    json_decref(g);

    char msg[256];
    snprintf(msg, sizeof msg, "Policy cannot be created - name already exists (name=%s)",
             "pub.sub=1@a-b_c,d+");
    expect_error(r, registry_create_policy, create_req("pub.sub=1@a-b_c,d+", ALLOW_CONNECT),
                 "ResourceAlreadyExistsException", 409, msg);
    expect_error(r, registry_get_policy, name_req("nope"), "ResourceNotFoundException", 404, NULL);
}

static void test_invalid_requests(void **state)
{
    struct registry *r = *state;
    expect_error(r, registry_create_policy, create_req("bad name", ALLOW_ALL),
                 "InvalidRequestException", 400,
                 "1 validation error detected: Value 'bad name' at 'policyName' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "[\\w+=,.@-]+");
    expect_error(r, registry_create_policy, create_req("", ALLOW_ALL), "InvalidRequestException",
                 400, NULL);
    char longname[140];
    memset(longname, 'p', 129);
    longname[129] = '\0';
    expect_error(r, registry_create_policy, create_req(longname, ALLOW_ALL),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_create_policy, json_pack("{s:s}", "policyName", "p"),
                 "InvalidRequestException", 400, "Missing required parameter policyDocument");
    /* The document is a string holding JSON, never an object. */
    expect_error(
        r, registry_create_policy,
        json_pack("{s:s, s:{s:s}}", "policyName", "p", "policyDocument", "Version", "2012-10-17"),
        "InvalidRequestException", 400, NULL);
    expect_error(r, registry_create_policy, json_pack("{s:i}", "policyName", 3),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_get_policy, json_object(), "InvalidRequestException", 400, NULL);
    expect_error(r, registry_get_policy, name_req("a/b"), "InvalidRequestException", 400, NULL);
}

static void test_malformed_documents(void **state)
{
    struct registry *r = *state;
    static const char *const bad[] = {
        "{\"Version\":\"2012-10-17\",\"Statement\":[",
        "not json",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"iot:*\","
        "\"Resource\":\"*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
        "\"Resource\":\"foo\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(r, registry_create_policy, create_req("m", bad[i]), "MalformedPolicyException",
                     400, NULL);
    /* More than 2048 characters, whitespace not counted. */
    char big[4000];
    int n = snprintf(big, sizeof big,
                     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                     "\"Action\":\"iot:Publish\",\"Resource\":[");
    for (int i = 0; n < 2100; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s\"arn:aws:iot:*:*:topic/t%03d\"",
                      i ? "," : "", i);
    snprintf(big + n, sizeof big - (size_t)n, "]}]}");
    expect_error(r, registry_create_policy, create_req("m", big), "MalformedPolicyException", 400,
                 NULL);
    struct reg_error e;
    assert_null(call(r, registry_get_policy, name_req("m"), &e));
    /* Whitespace does not count against the limit. */
    char spaced[3000];
    n = snprintf(spaced, sizeof spaced, "%s", ALLOW_ALL);
    memset(spaced + n, ' ', 2500);
    spaced[n + 2500] = '\0';
    ok(r, registry_create_policy, create_req("spaced", spaced));
}

static void test_list_policies_paging(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    const char *names[] = {"c", "a", "e", "b", "d"};
    for (int i = 0; i < 5; i++)
        ok(r, registry_create_policy, create_req(names[i], ALLOW_CONNECT));
    json_t *l = call(r, registry_list_policies, json_object(), &e);
    json_t *items = json_object_get(l, "policies");
    assert_int_equal(json_array_size(items), 5);
    assert_string_equal(str(json_array_get(items, 0), "policyName"), "e");
    assert_string_equal(str(json_array_get(items, 4), "policyName"), "a");
    assert_true(strstr(str(json_array_get(items, 4), "policyArn"), ":policy/a") != NULL);
    assert_null(json_object_get(l, "nextMarker"));
    json_decref(l);

    /* Ascending, two at a time, following nextMarker. */
    char seen[8] = "";
    const char *marker = NULL;
    json_t *page = NULL;
    for (int round = 0; round < 4; round++) {
        json_t *req = json_pack("{s:i, s:b}", "pageSize", 2, "ascendingOrder", 1);
        if (marker) json_object_set_new(req, "marker", json_string(marker));
        json_t *next = call(r, registry_list_policies, req, &e);
        assert_non_null(next);
        json_decref(page);
        page = next;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(page, "policies"), i, p)
            strcat(seen, str(p, "policyName"));
        marker = json_string_value(json_object_get(page, "nextMarker"));
        if (!marker) break;
    }
    json_decref(page);
    assert_string_equal(seen, "abcde");

    l = call(r, registry_list_policies, json_pack("{s:i, s:s}", "pageSize", 2, "marker", "d"), &e);
    items = json_object_get(l, "policies");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(str(json_array_get(items, 0), "policyName"), "c");
    assert_string_equal(str(l, "nextMarker"), "b");
    json_decref(l);
    l = call(r, registry_list_policies, json_pack("{s:i, s:s}", "pageSize", 2, "marker", "b"), &e);
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 1);
    assert_null(json_object_get(l, "nextMarker"));
    json_decref(l);

    expect_error(r, registry_list_policies, json_pack("{s:i}", "pageSize", 0),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_policies, json_pack("{s:i}", "pageSize", 251),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_policies, json_pack("{s:s}", "pageSize", "2"),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_policies, json_pack("{s:s}", "ascendingOrder", "yes"),
                 "InvalidRequestException", 400, NULL);
}

static void test_versions(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    ok(r, registry_create_policy, create_req("v", ALLOW_CONNECT));

    json_t *v2 = call(r, registry_create_policy_version, create_req("v", ALLOW_ALL), &e);
    assert_non_null(v2);
    assert_string_equal(str(v2, "policyVersionId"), "2");
    assert_true(json_is_false(json_object_get(v2, "isDefaultVersion")));
    assert_string_equal(str(v2, "policyDocument"), ALLOW_ALL);
    assert_true(strstr(str(v2, "policyArn"), ":policy/v") != NULL);
    json_decref(v2);
    json_t *g = call(r, registry_get_policy, name_req("v"), &e);
    assert_string_equal(str(g, "defaultVersionId"), "1");
    assert_string_equal(str(g, "policyDocument"), ALLOW_CONNECT);
    json_decref(g);

    json_t *req = create_req("v", ALLOW_ALL);
    json_object_set_new(req, "setAsDefault", json_true());
    json_t *v3 = call(r, registry_create_policy_version, req, &e);
    assert_string_equal(str(v3, "policyVersionId"), "3");
    assert_true(json_is_true(json_object_get(v3, "isDefaultVersion")));
    json_decref(v3);
    g = call(r, registry_get_policy, name_req("v"), &e);
    assert_string_equal(str(g, "defaultVersionId"), "3");
    assert_string_equal(str(g, "policyDocument"), ALLOW_ALL);
    assert_string_not_equal(str(g, "generationId"), "1");
    json_decref(g);

    json_t *l = call(r, registry_list_policy_versions, name_req("v"), &e);
    json_t *vs = json_object_get(l, "policyVersions");
    assert_int_equal(json_array_size(vs), 3);
    const char *order[] = {"3", "2", "1"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(vs, i);
        assert_string_equal(str(v, "versionId"), order[i]);
        assert_int_equal(json_is_true(json_object_get(v, "isDefaultVersion")), i == 0);
        assert_true(json_is_integer(json_object_get(v, "createDate")));
    }
    json_decref(l);

    json_t *gv = call(r, registry_get_policy_version, version_req("v", "1"), &e);
    assert_string_equal(str(gv, "policyName"), "v");
    assert_string_equal(str(gv, "policyVersionId"), "1");
    assert_string_equal(str(gv, "policyDocument"), ALLOW_CONNECT);
    assert_true(json_is_false(json_object_get(gv, "isDefaultVersion")));
    assert_true(json_is_integer(json_object_get(gv, "creationDate")));
    assert_true(json_is_integer(json_object_get(gv, "lastModifiedDate")));
    assert_true(json_is_string(json_object_get(gv, "generationId")));
    assert_true(strstr(str(gv, "policyArn"), ":policy/v") != NULL);
    json_decref(gv);
    expect_error(r, registry_get_policy_version, version_req("v", "9"), "ResourceNotFoundException",
                 404, NULL);
    expect_error(r, registry_get_policy_version, version_req("nope", "1"),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_get_policy_version, version_req("v", "x1"), "InvalidRequestException",
                 400, NULL);
    expect_error(r, registry_get_policy_version, version_req("v", ""), "InvalidRequestException",
                 400, NULL);

    /* Five versions at most; ids keep counting after deletions. */
    ok(r, registry_create_policy_version, create_req("v", ALLOW_CONNECT));
    ok(r, registry_create_policy_version, create_req("v", ALLOW_CONNECT));
    expect_error(r, registry_create_policy_version, create_req("v", ALLOW_CONNECT),
                 "VersionsLimitExceededException", 409,
                 "The policy v already has the maximum number of versions (5)");
    expect_error(r, registry_delete_policy_version, version_req("v", "3"),
                 "InvalidRequestException", 400, "Cannot delete the default version of a policy");
    ok(r, registry_delete_policy_version, version_req("v", "2"));
    expect_error(r, registry_delete_policy_version, version_req("v", "2"),
                 "ResourceNotFoundException", 404, NULL);
    json_t *v6 = call(r, registry_create_policy_version, create_req("v", ALLOW_CONNECT), &e);
    assert_string_equal(str(v6, "policyVersionId"), "6");
    json_decref(v6);

    ok(r, registry_set_default_policy_version, version_req("v", "1"));
    ok(r, registry_set_default_policy_version, version_req("v", "1")); /* idempotent */
    g = call(r, registry_get_policy, name_req("v"), &e);
    assert_string_equal(str(g, "defaultVersionId"), "1");
    assert_string_equal(str(g, "policyDocument"), ALLOW_CONNECT);
    json_decref(g);
    expect_error(r, registry_set_default_policy_version, version_req("v", "2"),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_set_default_policy_version, version_req("nope", "1"),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_create_policy_version, create_req("nope", ALLOW_ALL),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_create_policy_version, create_req("v", "{\"Statement\":"),
                 "MalformedPolicyException", 400, NULL);
    req = create_req("v", ALLOW_ALL);
    json_object_set_new(req, "setAsDefault", json_string("true"));
    expect_error(r, registry_create_policy_version, req, "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_policy_versions, name_req("nope"), "ResourceNotFoundException",
                 404, NULL);

    /* DeletePolicy wants only the default version left. */
    expect_error(r, registry_delete_policy, name_req("v"), "DeleteConflictException", 409,
                 "Cannot delete the policy because it has one or more policy versions attached "
                 "to it (name=v)");
    const char *others[] = {"3", "4", "5", "6"};
    for (int i = 0; i < 4; i++)
        ok(r, registry_delete_policy_version, version_req("v", others[i]));
    ok(r, registry_delete_policy, name_req("v"));
    expect_error(r, registry_get_policy, name_req("v"), "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_delete_policy, name_req("v"), "ResourceNotFoundException", 404, NULL);
    /* The name can be used again, starting from version 1. */
    json_t *again = call(r, registry_create_policy, create_req("v", ALLOW_ALL), &e);
    assert_string_equal(str(again, "policyVersionId"), "1");
    json_decref(again);
    l = call(r, registry_list_policy_versions, name_req("v"), &e);
    assert_int_equal(json_array_size(json_object_get(l, "policyVersions")), 1);
    json_decref(l);
}

struct collected {
    int n;
    char names[16][32];
    char docs[16][256];
};

static void collect(void *ctx, const char *name, const char *document)
{
    struct collected *c = ctx;
    assert_true(c->n < 16);
    snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
    snprintf(c->docs[c->n], sizeof c->docs[0], "%s", document);
    c->n++;
}

static void test_attach_detach_and_lists(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    char cert[200], cert2[200];
    register_cert(r, dev_pem, cert, sizeof cert);
    register_cert(r, dev2_pem, cert2, sizeof cert2);
    ok(r, registry_create_policy, create_req("b", ALLOW_CONNECT));
    ok(r, registry_create_policy, create_req("a", ALLOW_CONNECT));

    ok(r, registry_attach_policy, target_req("b", cert));
    ok(r, registry_attach_policy, target_req("b", cert)); /* idempotent */
    ok(r, registry_attach_policy, target_req("a", cert));
    ok(r, registry_attach_policy, target_req("b", cert2));

    json_t *l = call(r, registry_list_attached_policies, json_pack("{s:s}", "target", cert), &e);
    json_t *ps = json_object_get(l, "policies");
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(str(json_array_get(ps, 0), "policyName"), "a");
    assert_string_equal(str(json_array_get(ps, 1), "policyName"), "b");
    assert_true(strstr(str(json_array_get(ps, 1), "policyArn"), ":policy/b") != NULL);
    assert_null(json_object_get(l, "nextMarker"));
    json_decref(l);
    l = call(r, registry_list_attached_policies,
             json_pack("{s:s, s:i, s:b}", "target", cert, "pageSize", 1, "recursive", 1), &e);
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 1);
    assert_string_equal(str(l, "nextMarker"), "a");
    json_decref(l);
    l = call(r, registry_list_attached_policies,
             json_pack("{s:s, s:s}", "target", cert, "marker", "a"), &e);
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 1);
    assert_string_equal(str(json_array_get(json_object_get(l, "policies"), 0), "policyName"), "b");
    json_decref(l);

    l = call(r, registry_list_targets_for_policy, name_req("b"), &e);
    json_t *ts = json_object_get(l, "targets");
    assert_int_equal(json_array_size(ts), 2);
    const char *first = strcmp(cert, cert2) < 0 ? cert : cert2;
    const char *second = first == cert ? cert2 : cert;
    assert_string_equal(json_string_value(json_array_get(ts, 0)), first);
    assert_string_equal(json_string_value(json_array_get(ts, 1)), second);
    json_decref(l);
    l = call(r, registry_list_targets_for_policy,
             json_pack("{s:s, s:i}", "policyName", "b", "pageSize", 1), &e);
    assert_int_equal(json_array_size(json_object_get(l, "targets")), 1);
    assert_non_null(json_object_get(l, "nextMarker"));
    json_decref(l);

    /* For the broker: default documents, by policy name. */
    json_t *v = create_req("b", ALLOW_ALL);
    json_object_set_new(v, "setAsDefault", json_true());
    ok(r, registry_create_policy_version, v);
    struct collected got = {0};
    assert_int_equal(registry_principal_policies(r, cert, collect, &got), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.names[0], "a");
    assert_string_equal(got.docs[0], ALLOW_CONNECT);
    assert_string_equal(got.names[1], "b");
    assert_string_equal(got.docs[1], ALLOW_ALL);
    memset(&got, 0, sizeof got);
    assert_int_equal(registry_principal_policies(r, "arn:aws:iot:x:y:cert/none", collect, &got), 0);
    assert_int_equal(got.n, 0);

    json_t *eff =
        call(r, registry_get_effective_policies, json_pack("{s:s}", "principal", cert), &e);
    json_t *ep = json_object_get(eff, "effectivePolicies");
    assert_int_equal(json_array_size(ep), 2);
    assert_string_equal(str(json_array_get(ep, 1), "policyName"), "b");
    assert_string_equal(str(json_array_get(ep, 1), "policyDocument"), ALLOW_ALL);
    assert_true(strstr(str(json_array_get(ep, 1), "policyArn"), ":policy/b") != NULL);
    json_decref(eff);
    ok(r, registry_create_thing, json_pack("{s:s}", "thingName", "lamp"));
    eff = call(r, registry_get_effective_policies,
               json_pack("{s:s, s:s}", "principal", cert, "thingName", "lamp"), &e);
    assert_int_equal(json_array_size(json_object_get(eff, "effectivePolicies")), 2);
    json_decref(eff);
    eff = call(r, registry_get_effective_policies, json_object(), &e);
    assert_int_equal(json_array_size(json_object_get(eff, "effectivePolicies")), 0);
    json_decref(eff);
    expect_error(r, registry_get_effective_policies, json_pack("{s:s}", "thingName", "nope"),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_get_effective_policies, json_pack("{s:s}", "principal", "foo"),
                 "ResourceNotFoundException", 404, NULL);

    /* Attached policies cannot be deleted. */
    expect_error(r, registry_delete_policy, name_req("a"), "DeleteConflictException", 409,
                 "The policy cannot be deleted as the policy is attached to one or more "
                 "principals (name=a)");

    /* Targets must be registered certificates; policies must exist. */
    char unknown[200];
    snprintf(unknown, sizeof unknown, "arn:aws:iot:eu-west-1:%s:cert/%064d", registry_account(r),
             0);
    expect_error(r, registry_attach_policy, target_req("a", unknown), "ResourceNotFoundException",
                 404, NULL);
    expect_error(r, registry_attach_policy, target_req("a", "foo"), "ResourceNotFoundException",
                 404, NULL);
    expect_error(r, registry_attach_policy, target_req("nope", cert), "ResourceNotFoundException",
                 404, NULL);
    expect_error(r, registry_attach_policy, json_pack("{s:s}", "policyName", "a"),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_attached_policies, json_pack("{s:s}", "target", unknown),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_list_attached_policies,
                 json_pack("{s:s, s:i}", "target", cert, "pageSize", 300),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_list_targets_for_policy, name_req("nope"), "ResourceNotFoundException",
                 404, NULL);

    /* Ten policies per target at most. */
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "extra%d", i);
        ok(r, registry_create_policy, create_req(name, ALLOW_CONNECT));
        ok(r, registry_attach_policy, target_req(name, cert));
    }
    ok(r, registry_create_policy, create_req("eleventh", ALLOW_CONNECT));
    expect_error(r, registry_attach_policy, target_req("eleventh", cert), "LimitExceededException",
                 410, NULL);
    ok(r, registry_attach_policy, target_req("a", cert)); /* already attached: still fine */
    ok(r, registry_attach_policy, target_req("eleventh", cert2));

    /* Detach; detaching what is not attached succeeds. */
    ok(r, registry_detach_policy, target_req("a", cert));
    ok(r, registry_detach_policy, target_req("a", cert));
    expect_error(r, registry_detach_policy, target_req("nope", cert), "ResourceNotFoundException",
                 404, NULL);
    ok(r, registry_delete_policy, name_req("a"));
    l = call(r, registry_list_attached_policies, json_pack("{s:s}", "target", cert), &e);
    assert_int_equal(json_array_size(json_object_get(l, "policies")), 9);
    json_decref(l);

    /* A deleted certificate takes its attachments with it. */
    ok(r, registry_update_certificate,
       json_pack("{s:s, s:s}", "certificateId", strrchr(cert2, '/') + 1, "newStatus", "INACTIVE"));
    ok(r, registry_delete_certificate,
       json_pack("{s:s, s:b}", "certificateId", strrchr(cert2, '/') + 1, "forceDelete", 1));
    l = call(r, registry_list_targets_for_policy, name_req("b"), &e);
    ts = json_object_get(l, "targets");
    assert_int_equal(json_array_size(ts), 1);
    assert_string_equal(json_string_value(json_array_get(ts, 0)), cert);
    json_decref(l);
    ok(r, registry_delete_policy, name_req("eleventh"));
}

/* authResults[i] of a TestAuthorization response. */
static json_t *result(json_t *resp, size_t i)
{
    json_t *res = json_array_get(json_object_get(resp, "authResults"), i);
    assert_non_null(res);
    return res;
}

static const char *decision(json_t *resp, size_t i)
{
    return str(result(resp, i), "authDecision");
}

static size_t count_in(json_t *res, const char *path)
{
    /* "allowed", "implicitDeny" or "explicitDeny" */
    json_t *o = strcmp(path, "allowed") == 0
                    ? json_object_get(res, "allowed")
                    : json_object_get(json_object_get(res, "denied"), path);
    return json_array_size(json_object_get(o, "policies"));
}

static void test_test_authorization(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    char cert[200], res[160];
    register_cert(r, dev_pem, cert, sizeof cert);
    const char *cert_id = strrchr(cert, '/') + 1;
    const char *acct = registry_account(r);

    /* own: publish under the client's own prefix, connect as itself, subscribe under its
     * certificate id; block: deny publishing to .../secret. */
    char own[1024];
    snprintf(own, sizeof own,
             "{\"Version\":\"2012-10-17\",\"Statement\":["
             "{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":["
             "\"arn:aws:iot:eu-west-1:%s:topic/${iot:ClientId}/*\","
             "\"arn:aws:iot:eu-west-1:%s:topic/secret\"]},"
             "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\","
             "\"Resource\":\"arn:aws:iot:eu-west-1:%s:client/${iot:ClientId}\"},"
             "{\"Effect\":\"Allow\",\"Action\":\"iot:Subscribe\","
             "\"Resource\":\"arn:aws:iot:eu-west-1:%s:topicfilter/${iot:CertificateId}/#\"}]}",
             acct, acct, acct, acct);
    char secret[160];
    snprintf(secret, sizeof secret, "arn:aws:iot:eu-west-1:%s:topic/secret", acct);
    char *block = doc_of("Deny", "iot:Publish", secret);
    char *recv = doc_of("Allow", "iot:Receive", "*");
    ok(r, registry_create_policy, create_req("own", own));
    ok(r, registry_create_policy, create_req("block", block));
    ok(r, registry_create_policy, create_req("recv", recv));
    free(block);
    free(recv);
    ok(r, registry_attach_policy, target_req("own", cert));
    ok(r, registry_attach_policy, target_req("block", cert));

    snprintf(res, sizeof res, "arn:aws:iot:eu-west-1:%s:topic/dev-1/temp", acct);
    char other[160], client[160], filter[200], mine_filter[200];
    snprintf(other, sizeof other, "arn:aws:iot:eu-west-1:%s:topic/dev-2/temp", acct);
    snprintf(client, sizeof client, "arn:aws:iot:eu-west-1:%s:client/dev-1", acct);
    snprintf(mine_filter, sizeof mine_filter, "arn:aws:iot:eu-west-1:%s:topicfilter/%s/#", acct,
             cert_id);
    snprintf(filter, sizeof filter, "arn:aws:iot:eu-west-1:%s:topicfilter/other/#", acct);
    json_t *req = json_pack(
        "{s:s, s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}, {s:s, s:[s]}, {s:s, s:[s]}, {s:s, s:[s]},"
        " {s:s, s:[s]}]}",
        "principal", cert, "clientId", "dev-1", "authInfos", "actionType", "PUBLISH", "resources",
        res, "actionType", "PUBLISH", "resources", other, "actionType", "PUBLISH", "resources",
        secret, "actionType", "CONNECT", "resources", client, "actionType", "SUBSCRIBE",
        "resources", mine_filter, "actionType", "SUBSCRIBE", "resources", filter);
    json_t *t = call(r, registry_test_authorization, req, &e);
    if (!t) fail_msg("%s: %s", e.type, e.message);
    assert_int_equal(json_array_size(json_object_get(t, "authResults")), 6);
    assert_string_equal(decision(t, 0), "ALLOWED");
    json_t *r0 = result(t, 0);
    assert_int_equal(count_in(r0, "allowed"), 1);
    assert_string_equal(
        str(json_array_get(json_object_get(json_object_get(r0, "allowed"), "policies"), 0),
            "policyName"),
        "own");
    assert_int_equal(count_in(r0, "implicitDeny"), 1); /* block says nothing about it */
    assert_int_equal(count_in(r0, "explicitDeny"), 0);
    assert_true(json_is_array(json_object_get(r0, "missingContextValues")));
    assert_int_equal(json_array_size(json_object_get(r0, "missingContextValues")), 0);
    json_t *info = json_object_get(r0, "authInfo");
    assert_string_equal(str(info, "actionType"), "PUBLISH");
    assert_string_equal(json_string_value(json_array_get(json_object_get(info, "resources"), 0)),
                        res);
    assert_string_equal(decision(t, 1), "IMPLICIT_DENY");
    assert_int_equal(count_in(result(t, 1), "allowed"), 0);
    assert_int_equal(count_in(result(t, 1), "implicitDeny"), 2);
    assert_string_equal(decision(t, 2), "EXPLICIT_DENY");
    assert_int_equal(count_in(result(t, 2), "explicitDeny"), 1);
    assert_string_equal(
        str(json_array_get(json_object_get(json_object_get(json_object_get(result(t, 2), "denied"),
                                                           "explicitDeny"),
                                           "policies"),
                           0),
            "policyName"),
        "block");
    assert_int_equal(count_in(result(t, 2), "allowed"), 1);
    assert_string_equal(decision(t, 3), "ALLOWED");
    assert_string_equal(decision(t, 4), "ALLOWED");
    assert_string_equal(decision(t, 5), "IMPLICIT_DENY");
    json_decref(t);

    /* Another client id: its own prefix, not dev-1's. Without one, ${iot:ClientId} stays
     * unresolved and matches nothing. */
    t = call(r, registry_test_authorization,
             json_pack("{s:s, s:s, s:[{s:s, s:[s, s]}]}", "principal", cert, "clientId", "dev-2",
                       "authInfos", "actionType", "PUBLISH", "resources", other, res),
             &e);
    assert_string_equal(decision(t, 0), "IMPLICIT_DENY"); /* dev-1's topic is not allowed */
    assert_int_equal(count_in(result(t, 0), "allowed"), 1);
    json_decref(t);
    t = call(r, registry_test_authorization,
             json_pack("{s:s, s:[{s:s, s:[s]}]}", "principal", cert, "authInfos", "actionType",
                       "PUBLISH", "resources", res),
             &e);
    assert_string_equal(decision(t, 0), "IMPLICIT_DENY");
    json_decref(t);

    /* Skipping the deny; adding an unattached policy. */
    t = call(r, registry_test_authorization,
             json_pack("{s:s, s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}], s:[s], s:[s]}", "principal",
                       cert, "clientId", "dev-1", "authInfos", "actionType", "PUBLISH", "resources",
                       secret, "actionType", "RECEIVE", "resources", res, "policyNamesToSkip",
                       "block", "policyNamesToAdd", "recv"),
             &e);
    assert_string_equal(decision(t, 0), "ALLOWED");
    assert_int_equal(count_in(result(t, 0), "explicitDeny"), 0);
    assert_int_equal(count_in(result(t, 0), "implicitDeny"), 1); /* recv */
    assert_string_equal(decision(t, 1), "ALLOWED");
    json_decref(t);

    /* No principal: only the added policies count. */
    t = call(r, registry_test_authorization,
             json_pack("{s:[{s:s, s:[s]}], s:[s]}", "authInfos", "actionType", "RECEIVE",
                       "resources", res, "policyNamesToAdd", "recv"),
             &e);
    assert_string_equal(decision(t, 0), "ALLOWED");
    json_decref(t);
    t = call(
        r, registry_test_authorization,
        json_pack("{s:[{s:s, s:[s]}]}", "authInfos", "actionType", "RECEIVE", "resources", res),
        &e);
    assert_string_equal(decision(t, 0), "IMPLICIT_DENY");
    assert_int_equal(count_in(result(t, 0), "implicitDeny"), 0);
    json_decref(t);

    /* Errors. */
    expect_error(r, registry_test_authorization, json_object(), "InvalidRequestException", 400,
                 NULL);
    expect_error(r, registry_test_authorization, json_pack("{s:[]}", "authInfos"),
                 "InvalidRequestException", 400, NULL);
    json_t *many = json_array();
    for (int i = 0; i < 11; i++)
        json_array_append_new(many,
                              json_pack("{s:s, s:[s]}", "actionType", "PUBLISH", "resources", res));
    expect_error(r, registry_test_authorization, json_pack("{s:o}", "authInfos", many),
                 "InvalidRequestException", 400, NULL);
    expect_error(
        r, registry_test_authorization,
        json_pack("{s:[{s:s, s:[s]}]}", "authInfos", "actionType", "RETAIN", "resources", res),
        "InvalidRequestException", 400, NULL);
    expect_error(r, registry_test_authorization,
                 json_pack("{s:[{s:s}]}", "authInfos", "actionType", "PUBLISH"),
                 "InvalidRequestException", 400, NULL);
    expect_error(
        r, registry_test_authorization,
        json_pack("{s:[{s:s, s:[i]}]}", "authInfos", "actionType", "PUBLISH", "resources", 3),
        "InvalidRequestException", 400, NULL);
    expect_error(r, registry_test_authorization, json_pack("{s:[s]}", "authInfos", "PUBLISH"),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_test_authorization,
                 json_pack("{s:[{s:s, s:[s]}], s:[s]}", "authInfos", "actionType", "PUBLISH",
                           "resources", res, "policyNamesToAdd", "nope"),
                 "ResourceNotFoundException", 404, NULL);
    expect_error(r, registry_test_authorization,
                 json_pack("{s:[{s:s, s:[s]}], s:s}", "authInfos", "actionType", "PUBLISH",
                           "resources", res, "policyNamesToSkip", "block"),
                 "InvalidRequestException", 400, NULL);
    expect_error(r, registry_test_authorization,
                 json_pack("{s:s, s:[{s:s, s:[s]}]}", "principal", "foo", "authInfos", "actionType",
                           "PUBLISH", "resources", res),
                 "ResourceNotFoundException", 404, NULL);
}

static void test_persists_across_reopen(void **state)
{
    struct registry *r = *state;
    ok(r, registry_create_policy, create_req("kept", ALLOW_ALL));
    ok(r, registry_create_policy_version, create_req("kept", ALLOW_CONNECT));
    struct registry *again;
    char err[256];
    assert_int_equal(registry_open(&again, path, "eu-west-1", err, sizeof err), 0);
    struct reg_error e;
    json_t *v = call(again, registry_create_policy_version, create_req("kept", ALLOW_ALL), &e);
    assert_non_null(v);
    assert_string_equal(str(v, "policyVersionId"), "3");
    json_decref(v);
    registry_close(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_policies_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_detach_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_test_authorization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),
    };
    return cmocka_run_group_tests_name("registry_policies", tests, group_setup, group_teardown);
}
