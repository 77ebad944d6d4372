/* test_registry_things.c - things in the registry, with AWS IoT's rules and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "registry.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[96];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/umbra-reg-XXXXXX");
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

/* Run an operation with a JSON request text; returns the response or NULL with *e. */
static json_t *call(struct registry *r, registry_op op, const char *req_text, struct reg_error *e)
{
    json_error_t jerr;
    json_t *req = json_loads(req_text, 0, &jerr);
    if (!req) fail_msg("bad test JSON %s: %s", req_text, jerr.text);
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

static void expect_error(struct registry *r, registry_op op, const char *req, const char *type,
                         int status)
{
    struct reg_error e;
    json_t *resp = call(r, op, req, &e);
    if (resp) fail_msg("%s: expected %s, got success", req, type);
    assert_string_equal(e.type, type);
    assert_int_equal(e.status, status);
    assert_true(strlen(e.message) > 0);
}

static void test_account_is_twelve_digits_and_stable(void **state)
{
    struct registry *r = *state;
    const char *acct = registry_account(r);
    assert_int_equal(strlen(acct), 12);
    for (int i = 0; i < 12; i++)
        assert_true(acct[i] >= '0' && acct[i] <= '9');
    struct registry *again;
    char err[256];
    assert_int_equal(registry_open(&again, path, "eu-west-1", err, sizeof err), 0);
    assert_string_equal(registry_account(again), acct);
    registry_close(again);
}

static void test_a_newer_schema_is_refused(void **state)
{
    (void)state;
    char other[128], err[256];
    snprintf(other, sizeof other, "%s/newer.db", dir);
    struct registry *r;
    assert_int_equal(registry_open(&r, other, NULL, err, sizeof err), 0);
    registry_close(r);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE schema_version SET version = version + 1 WHERE "
                                  "component = 'registry'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(registry_open(&r, other, NULL, err, sizeof err), UMBRA_EIO);
    assert_non_null(strstr(err, "newer than this build"));
}

static void test_create_describe(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *c = call(r, registry_create_thing,
                     "{\"thingName\":\"lamp-1\",\"attributePayload\":{\"attributes\":"
                     "{\"room\":\"kitchen\",\"floor\":\"2\"}}}",
                     &e);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "thingName")), "lamp-1");
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:iot:eu-west-1:%s:thing/lamp-1", registry_account(r));
    assert_string_equal(json_string_value(json_object_get(c, "thingArn")), arn);
    const char *id = json_string_value(json_object_get(c, "thingId"));
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');

    json_t *d = call(r, registry_describe_thing, "{\"thingName\":\"lamp-1\"}", &e);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "defaultClientId")), "lamp-1");
    assert_string_equal(json_string_value(json_object_get(d, "thingId")), id);
    assert_int_equal(json_integer_value(json_object_get(d, "version")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(d, "attributes"), "room")), "kitchen");
    assert_null(json_object_get(d, "thingTypeName"));
    json_decref(c);
    json_decref(d);
}

static void test_create_is_idempotent_only_for_same_config(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *a = call(r, registry_create_thing, "{\"thingName\":\"dup\"}", &e);
    json_t *b = call(r, registry_create_thing, "{\"thingName\":\"dup\"}", &e);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    expect_error(r, registry_create_thing,
                 "{\"thingName\":\"dup\",\"attributePayload\":{\"attributes\":{\"a\":\"b\"}}}",
                 "ResourceAlreadyExistsException", 409);
}

static void test_invalid_input(void **state)
{
    struct registry *r = *state;
    const char *bad[] = {
        "{}",
        "{\"thingName\":\"\"}",
        "{\"thingName\":\"has space\"}",
        "{\"thingName\":\"slash/no\"}",
        "{\"thingName\":\"caf\\u00e9\"}",
        "{\"thingName\":42}",
        "{\"thingName\":\"a\",\"attributePayload\":{\"attributes\":{\"bad name\":\"v\"}}}",
        "{\"thingName\":\"a\",\"attributePayload\":{\"attributes\":{\"k\":\"no spaces\"}}}",
        "{\"thingName\":\"a\",\"attributePayload\":{\"attributes\":{\"k\":5}}}",
        "{\"thingName\":\"a\",\"attributePayload\":{\"attributes\":{\"a\":\"1\",\"b\":\"2\","
        "\"c\":\"3\",\"d\":\"4\"}}}",
        "{\"thingName\":\"a\",\"attributePayload\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(r, registry_create_thing, bad[i], "InvalidRequestException", 400);
    char long_name[200] = "{\"thingName\":\"";
    memset(long_name + strlen(long_name), 'x', 129);
    strcat(long_name, "\"}");
    expect_error(r, registry_create_thing, long_name, "InvalidRequestException", 400);
    expect_error(r, registry_create_thing, "{\"thingName\":\"t\",\"thingTypeName\":\"nope\"}",
                 "ResourceNotFoundException", 404);
    expect_error(r, registry_describe_thing, "{\"thingName\":\"ghost\"}",
                 "ResourceNotFoundException", 404);
}

static void test_update_merge_replace_and_versions(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_decref(call(r, registry_create_thing,
                     "{\"thingName\":\"s\",\"attributePayload\":{\"attributes\":{\"a\":\"1\","
                     "\"b\":\"2\"}}}",
                     &e));
    json_t *u = call(r, registry_update_thing,
                     "{\"thingName\":\"s\",\"attributePayload\":{\"attributes\":{\"b\":\"\","
                     "\"c\":\"3\"},\"merge\":true},\"expectedVersion\":1}",
                     &e);
    assert_non_null(u);
    assert_int_equal(json_object_size(u), 0);
    json_decref(u);
    json_t *d = call(r, registry_describe_thing, "{\"thingName\":\"s\"}", &e);
    json_t *attrs = json_object_get(d, "attributes");
    assert_int_equal(json_object_size(attrs), 2);
    assert_string_equal(json_string_value(json_object_get(attrs, "a")), "1");
    assert_string_equal(json_string_value(json_object_get(attrs, "c")), "3");
    assert_int_equal(json_integer_value(json_object_get(d, "version")), 2);
    json_decref(d);

    expect_error(r, registry_update_thing, "{\"thingName\":\"s\",\"expectedVersion\":1}",
                 "VersionConflictException", 409);
    json_decref(call(r, registry_update_thing,
                     "{\"thingName\":\"s\",\"attributePayload\":{\"attributes\":{\"z\":\"9\"}}}",
                     &e));
    d = call(r, registry_describe_thing, "{\"thingName\":\"s\"}", &e);
    assert_int_equal(json_object_size(json_object_get(d, "attributes")), 1);
    assert_int_equal(json_integer_value(json_object_get(d, "version")), 3);
    json_decref(d);
    expect_error(r, registry_update_thing, "{\"thingName\":\"ghost\"}", "ResourceNotFoundException",
                 404);
    expect_error(r, registry_update_thing,
                 "{\"thingName\":\"s\",\"thingTypeName\":\"t\",\"removeThingType\":true}",
                 "InvalidRequestException", 400);
}

static void test_delete_with_versions(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_decref(call(r, registry_create_thing, "{\"thingName\":\"gone\"}", &e));
    expect_error(r, registry_delete_thing, "{\"thingName\":\"gone\",\"expectedVersion\":7}",
                 "VersionConflictException", 409);
    json_t *ok =
        call(r, registry_delete_thing, "{\"thingName\":\"gone\",\"expectedVersion\":1}", &e);
    assert_non_null(ok);
    json_decref(ok);
    expect_error(r, registry_describe_thing, "{\"thingName\":\"gone\"}",
                 "ResourceNotFoundException", 404);
    ok = call(r, registry_delete_thing, "{\"thingName\":\"gone\"}", &e); /* absent: success */
    assert_non_null(ok);
    json_decref(ok);
}

static void test_list_filters_and_pages(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    char req[256];
    for (int i = 0; i < 7; i++) {
        snprintf(req, sizeof req,
                 "{\"thingName\":\"dev-%d\",\"attributePayload\":{\"attributes\":{\"site\":"
                 "\"%s\"}}}",
                 i, i % 2 ? "paris-1" : "lyon");
        json_decref(call(r, registry_create_thing, req, &e));
    }
    json_t *all = call(r, registry_list_things, "{}", &e);
    assert_int_equal(json_array_size(json_object_get(all, "things")), 7);
    assert_null(json_object_get(all, "nextToken"));
    json_decref(all);

    json_t *paris = call(r, registry_list_things,
                         "{\"attributeName\":\"site\",\"attributeValue\":\"paris\","
                         "\"usePrefixAttributeValue\":true}",
                         &e);
    assert_int_equal(json_array_size(json_object_get(paris, "things")), 3);
    json_decref(paris);

    /* Pages of 3 see every thing exactly once. */
    int seen = 0;
    char token[64] = "";
    for (int page = 0; page < 5; page++) {
        if (page == 0)
            snprintf(req, sizeof req, "{\"maxResults\":3}");
        else
            snprintf(req, sizeof req, "{\"maxResults\":3,\"nextToken\":\"%s\"}", token);
        json_t *p = call(r, registry_list_things, req, &e);
        seen += (int)json_array_size(json_object_get(p, "things"));
        json_t *next = json_object_get(p, "nextToken");
        if (!next) {
            json_decref(p);
            break;
        }
        snprintf(token, sizeof token, "%s", json_string_value(next));
        json_decref(p);
    }
    assert_int_equal(seen, 7);
    expect_error(r, registry_list_things, "{\"maxResults\":0}", "InvalidRequestException", 400);
    expect_error(r, registry_list_things, "{\"maxResults\":251}", "InvalidRequestException", 400);
}

static void test_thing_types(void **state)
{
    struct registry *r = *state;
    struct reg_error e;
    json_t *t = call(r, registry_create_thing_type,
                     "{\"thingTypeName\":\"lamp\",\"thingTypeProperties\":"
                     "{\"thingTypeDescription\":\"a lamp\",\"searchableAttributes\":[\"room\"]}}",
                     &e);
    assert_non_null(t);
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:iot:eu-west-1:%s:thingtype/lamp", registry_account(r));
    assert_string_equal(json_string_value(json_object_get(t, "thingTypeArn")), arn);
    assert_int_equal(strlen(json_string_value(json_object_get(t, "thingTypeId"))), 36);
    json_decref(t);
    expect_error(r, registry_create_thing_type, "{\"thingTypeName\":\"lamp\"}",
                 "ResourceAlreadyExistsException", 409);
    expect_error(r, registry_create_thing_type, "{\"thingTypeName\":\"a b\"}",
                 "InvalidRequestException", 400);
    expect_error(r, registry_create_thing_type,
                 "{\"thingTypeName\":\"x\",\"thingTypeProperties\":{\"searchableAttributes\":"
                 "[\"a\",\"b\",\"c\",\"d\"]}}",
                 "InvalidRequestException", 400);
    expect_error(r, registry_create_thing_type,
                 "{\"thingTypeName\":\"x\",\"thingTypeProperties\":{\"searchableAttributes\":[1]}}",
                 "InvalidRequestException", 400);
    expect_error(r, registry_describe_thing_type, "{\"thingTypeName\":\"ghost\"}",
                 "ResourceNotFoundException", 404);

    /* Typed things take up to 50 attributes and show their type. */
    char req[2048] = "{\"thingName\":\"l1\",\"thingTypeName\":\"lamp\",\"attributePayload\":"
                     "{\"attributes\":{";
    for (int i = 0; i < 50; i++)
        snprintf(req + strlen(req), sizeof req - strlen(req), "%s\"a%d\":\"v\"", i ? "," : "", i);
    strcat(req, "}}}");
    json_decref(call(r, registry_create_thing, req, &e));
    json_t *d = call(r, registry_describe_thing, "{\"thingName\":\"l1\"}", &e);
    assert_string_equal(json_string_value(json_object_get(d, "thingTypeName")), "lamp");
    json_decref(d);

    /* Deprecated: no new things, and delete waits for the things to go. */
    json_decref(call(r, registry_deprecate_thing_type, "{\"thingTypeName\":\"lamp\"}", &e));
    expect_error(r, registry_create_thing, "{\"thingName\":\"l2\",\"thingTypeName\":\"lamp\"}",
                 "InvalidRequestException", 400);
    d = call(r, registry_describe_thing_type, "{\"thingTypeName\":\"lamp\"}", &e);
    json_t *meta = json_object_get(d, "thingTypeMetadata");
    assert_true(json_is_true(json_object_get(meta, "deprecated")));
    assert_true(json_is_integer(json_object_get(meta, "deprecationDate")));
    json_decref(d);
    expect_error(r, registry_delete_thing_type, "{\"thingTypeName\":\"lamp\"}",
                 "InvalidRequestException", 400);
    json_decref(call(r, registry_delete_thing, "{\"thingName\":\"l1\"}", &e));
    json_decref(call(r, registry_delete_thing_type, "{\"thingTypeName\":\"lamp\"}", &e));
    json_t *l = call(r, registry_list_thing_types, "{}", &e);
    assert_int_equal(json_array_size(json_object_get(l, "thingTypes")), 0);
    json_decref(l);
    expect_error(r, registry_deprecate_thing_type, "{\"thingTypeName\":\"lamp\"}",
                 "ResourceNotFoundException", 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_account_is_twelve_digits_and_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_is_idempotent_only_for_same_config, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_merge_replace_and_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_with_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thing_types, setup, teardown),
    };
    return cmocka_run_group_tests_name("registry_things", tests, NULL, NULL);
}
