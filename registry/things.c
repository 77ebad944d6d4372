/*
 * things.c - CreateThing, DescribeThing, UpdateThing, DeleteThing and
 * ListThings with AWS IoT's rules: names, attribute limits, idempotent
 * create, optimistic versions, attribute merge, paging.
 */
#include "registry_internal.h"

#include "names.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS_UNTYPED 3
#define MAX_ATTRS_TYPED 50

static int check_thing_name(const char *name, struct reg_error *e)
{
    return reg_check(names_check_thing, "thingName", name, e);
}

static json_t *thing_arn(struct registry *r, const char *name)
{
    return json_sprintf("arn:aws:iot:%s:%s:thing/%s", r->region, r->account, name);
}

/* Validate attributePayload.attributes; *attrs borrowed (NULL if absent). */
static int read_attributes(const json_t *req, json_t **attrs, bool *merge, struct reg_error *e)
{
    json_t *payload = json_object_get(req, "attributePayload");
    *attrs = NULL;
    *merge = false;
    if (!payload || json_is_null(payload)) return 0;
    if (!json_is_object(payload))
        return reg_fail(e, "InvalidRequestException", 400, "attributePayload must be an object");
    json_t *m = json_object_get(payload, "merge");
    if (m && !json_is_boolean(m))
        return reg_fail(e, "InvalidRequestException", 400, "merge must be a boolean");
    *merge = m && json_is_true(m);
    json_t *a = json_object_get(payload, "attributes");
    if (!a || json_is_null(a)) return 0;
    if (!json_is_object(a))
        return reg_fail(e, "InvalidRequestException", 400, "attributes must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        int rc = reg_check(names_check_attribute_name, "attributePayload.attributes.key", k, e);
        if (rc) return rc;
        if (!json_is_string(v))
            return reg_fail(e, "InvalidRequestException", 400,
                            "attribute %.128s: the value must be a string", k);
        /* jansson refuses \u0000 when parsing, so strlen sees the whole value. */
        rc = reg_check(names_check_attribute_value, "attributePayload.attributes.value",
                       json_string_value(v), e);
        if (rc) return rc;
    }
    *attrs = a;
    return 0;
}

static int check_attribute_count(const json_t *attrs, const char *type, struct reg_error *e)
{
    size_t max = type ? MAX_ATTRS_TYPED : MAX_ATTRS_UNTYPED;
    if (json_object_size(attrs) <= max) return 0;
    return reg_fail(e, "InvalidRequestException", 400,
                    "A thing %s a thing type can have at most %zu attributes",
                    type ? "with" : "without", max);
}

struct thing_row {
    char id[37];
    char *type_name;
    json_t *attributes;
    int64_t version;
};

static void row_free(struct thing_row *t)
{
    free(t->type_name);
    json_decref(t->attributes);
}

/* 1 found, 0 absent, negative on failure. */
static int load_thing(struct registry *r, const char *name, struct thing_row *t,
                      struct reg_error *e)
{
    sqlite3_stmt *st =
        reg_prepare(r, "SELECT id, type_name, attributes, version FROM things WHERE name = ?1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return reg_fail_db(r, e);
    }
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", (const char *)sqlite3_column_text(st, 0));
    const char *type = (const char *)sqlite3_column_text(st, 1);
    t->type_name = type ? strdup(type) : NULL;
    t->attributes = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    if (!t->attributes) t->attributes = json_object();
    t->version = sqlite3_column_int64(st, 3);
    sqlite3_finalize(st);
    return 1;
}

static bool same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int registry_create_thing(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e)
{
    const char *name, *type;
    json_t *attrs;
    bool merge;
    int rc;
    if ((rc = reg_string(req, "thingName", true, &name, e)) || (rc = check_thing_name(name, e)) ||
        (rc = reg_string(req, "thingTypeName", false, &type, e)) ||
        (rc = read_attributes(req, &attrs, &merge, e)) ||
        (type && (rc = reg_check_thing_type(r, type, true, e))))
        return rc;
    json_t *want = attrs ? json_deep_copy(attrs) : json_object();
    if ((rc = check_attribute_count(want, type, e))) goto out;

    struct thing_row old;
    rc = load_thing(r, name, &old, e);
    if (rc < 0) goto out;
    if (rc == 1) {
        /* Same name and configuration: AWS answers as if it created it. */
        bool same = same_string(old.type_name, type) && json_equal(old.attributes, want);
        char id[37];
        memcpy(id, old.id, sizeof id);
        row_free(&old);
        if (!same) {
            rc = reg_fail(e, "ResourceAlreadyExistsException", 409,
                          "Thing %s already exists in account with different attributes", name);
            goto out;
        }
        *resp = json_pack("{s:s, s:o, s:s}", "thingName", name, "thingArn", thing_arn(r, name),
                          "thingId", id);
        rc = 0;
        goto out;
    }
    char id[37];
    reg_uuid(id);
    char *attrs_text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *st = reg_prepare(r,
                                   "INSERT INTO things(name, id, type_name, attributes, version,"
                                   " created_at) VALUES(?1, ?2, ?3, ?4, 1, ?5)",
                                   e);
    if (!st || !attrs_text) {
        free(attrs_text);
        sqlite3_finalize(st);
        rc = st ? reg_fail(e, "InternalFailureException", 500, "out of memory") : UMBRA_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, attrs_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, reg_now());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    free(attrs_text);
    if (step == SQLITE_CONSTRAINT) {
        /* Created by another process between our read and write. */
        rc = reg_fail(e, "ResourceAlreadyExistsException", 409, "Thing %s already exists", name);
        goto out;
    }
    if (step != SQLITE_DONE) {
        rc = reg_fail_db(r, e);
        goto out;
    }
    *resp = json_pack("{s:s, s:o, s:s}", "thingName", name, "thingArn", thing_arn(r, name),
                      "thingId", id);
    rc = 0;
out:
    json_decref(want);
    return rc;
}

static json_t *describe(struct registry *r, const char *name, const struct thing_row *t)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:O, s:I}", "defaultClientId", name, "thingName",
                          name, "thingId", t->id, "thingArn", thing_arn(r, name), "attributes",
                          t->attributes, "version", (json_int_t)t->version);
    if (o && t->type_name) json_object_set_new(o, "thingTypeName", json_string(t->type_name));
    return o;
}

static int not_found(struct reg_error *e, const char *name)
{
    return reg_fail(e, "ResourceNotFoundException", 404, "Thing %s cannot be found.", name);
}

int registry_describe_thing(struct registry *r, const json_t *req, json_t **resp,
                            struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = reg_string(req, "thingName", true, &name, e)) || (rc = check_thing_name(name, e)))
        return rc;
    struct thing_row t;
    rc = load_thing(r, name, &t, e);
    if (rc < 0) return rc;
    if (rc == 0) return not_found(e, name);
    *resp = describe(r, name, &t);
    row_free(&t);
    return 0;
}

static int version_conflict(struct reg_error *e, const char *name, int64_t have, int64_t want)
{
    return reg_fail(e, "VersionConflictException", 409,
                    "The version for thing %s does not match the expected version: expected %lld, "
                    "current %lld",
                    name, (long long)want, (long long)have);
}

/* Apply attributePayload to the stored attributes (merge, or replace). */
static void apply_attributes(json_t *stored, const json_t *attrs, bool merge)
{
    if (!merge) json_object_clear(stored);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)attrs, k, v)
    {
        /* An empty value removes the attribute when merging. */
        if (merge && json_string_length(v) == 0)
            json_object_del(stored, k);
        else
            json_object_set(stored, k, v);
    }
}

int registry_update_thing(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e)
{
    const char *name, *type;
    json_t *attrs;
    bool merge, has_expected;
    int64_t expected = 0;
    int rc;
    if ((rc = reg_string(req, "thingName", true, &name, e)) || (rc = check_thing_name(name, e)) ||
        (rc = reg_string(req, "thingTypeName", false, &type, e)) ||
        (rc = read_attributes(req, &attrs, &merge, e)) ||
        (rc = reg_int(req, "expectedVersion", &has_expected, &expected, e)))
        return rc;
    json_t *remove = json_object_get(req, "removeThingType");
    bool remove_type = remove && json_is_true(remove);
    if (remove_type && type)
        return reg_fail(e, "InvalidRequestException", 400,
                        "Cannot remove and set the thing type in the same request");
    struct thing_row t;
    rc = load_thing(r, name, &t, e);
    if (rc < 0) return rc;
    if (rc == 0) return not_found(e, name);
    if (has_expected && expected != t.version) {
        rc = version_conflict(e, name, t.version, expected);
        row_free(&t);
        return rc;
    }
    /* Moving a thing to a deprecated type is refused like creating one in it;
     * staying in its (now deprecated) type is not a move. */
    if (type && !same_string(type, t.type_name) && (rc = reg_check_thing_type(r, type, true, e))) {
        row_free(&t);
        return rc;
    }
    if (attrs) apply_attributes(t.attributes, attrs, merge);
    const char *new_type = remove_type ? NULL : (type ? type : t.type_name);
    if ((rc = check_attribute_count(t.attributes, new_type, e))) {
        row_free(&t);
        return rc;
    }
    char *text = json_dumps(t.attributes, JSON_COMPACT | JSON_SORT_KEYS);
    /* The version guard makes the update atomic against concurrent writers. */
    sqlite3_stmt *st = reg_prepare(r,
                                   "UPDATE things SET attributes = ?1, type_name = ?2,"
                                   " version = version + 1 WHERE name = ?3 AND version = ?4",
                                   e);
    if (!st || !text) {
        free(text);
        sqlite3_finalize(st);
        row_free(&t);
        return UMBRA_EIO;
    }
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, new_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, t.version);
    int step = sqlite3_step(st);
    int changed = sqlite3_changes(r->db);
    sqlite3_finalize(st);
    free(text);
    if (step != SQLITE_DONE)
        rc = reg_fail_db(r, e);
    else if (changed == 0)
        rc = version_conflict(e, name, t.version + 1, t.version);
    else
        *resp = json_object();
    row_free(&t);
    return rc;
}

int registry_delete_thing(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e)
{
    const char *name;
    bool has_expected;
    int64_t expected = 0;
    int rc;
    if ((rc = reg_string(req, "thingName", true, &name, e)) || (rc = check_thing_name(name, e)) ||
        (rc = reg_int(req, "expectedVersion", &has_expected, &expected, e)))
        return rc;
    struct thing_row t;
    rc = load_thing(r, name, &t, e);
    if (rc < 0) return rc;
    if (rc == 1) {
        int64_t have = t.version;
        row_free(&t);
        if (has_expected && expected != have) return version_conflict(e, name, have, expected);
        sqlite3_stmt *st =
            reg_prepare(r, "SELECT 1 FROM thing_principals WHERE thing_name = ?1 LIMIT 1", e);
        if (!st) return UMBRA_EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        bool attached = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (attached)
            return reg_fail(e, "InvalidRequestException", 400,
                            "Cannot delete. Thing %s is still attached to one or more principals",
                            name);
        st = reg_prepare(r, "DELETE FROM things WHERE name = ?1", e);
        if (!st) return UMBRA_EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) return reg_fail_db(r, e);
    }
    /* Deleting a thing that does not exist succeeds, as AWS documents. */
    *resp = json_object();
    return 0;
}

static bool attribute_matches(const json_t *attrs, const char *name, const char *value, bool prefix)
{
    if (!name) return true;
    json_t *v = json_object_get(attrs, name);
    if (!json_is_string(v)) return false;
    if (!value) return true;
    const char *s = json_string_value(v);
    return prefix ? strncmp(s, value, strlen(value)) == 0 : strcmp(s, value) == 0;
}

int registry_list_things(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e)
{
    const char *token, *attr_name, *attr_value, *type;
    bool has_max;
    int64_t max = 50;
    int rc;
    if ((rc = reg_string(req, "nextToken", false, &token, e)) ||
        (rc = reg_string(req, "attributeName", false, &attr_name, e)) ||
        (rc = reg_string(req, "attributeValue", false, &attr_value, e)) ||
        (rc = reg_string(req, "thingTypeName", false, &type, e)) ||
        (rc = reg_int(req, "maxResults", &has_max, &max, e)))
        return rc;
    if (has_max && (max < 1 || max > 250))
        return reg_fail(e, "InvalidRequestException", 400, "maxResults must be between 1 and 250");
    json_t *prefix_flag = json_object_get(req, "usePrefixAttributeValue");
    bool use_prefix = prefix_flag && json_is_true(prefix_flag);
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT name, type_name, attributes, version FROM things"
                                   " WHERE name > ?1 AND (?2 IS NULL OR type_name = ?2)"
                                   " ORDER BY name",
                                   e);
    if (!st) return UMBRA_EIO;
    /* The token is the last name returned: names sort, and are never reused mid-list. */
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    json_t *things = json_array();
    const char *last = NULL;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        json_t *attrs = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (!attrs) attrs = json_object();
        if (!attribute_matches(attrs, attr_name, attr_value, use_prefix)) {
            json_decref(attrs);
            continue;
        }
        if ((int64_t)json_array_size(things) == max) {
            json_decref(attrs);
            more = true;
            break;
        }
        json_t *item =
            json_pack("{s:s, s:o, s:o, s:I}", "thingName", name, "thingArn", thing_arn(r, name),
                      "attributes", attrs, "version", (json_int_t)sqlite3_column_int64(st, 3));
        const char *tn = (const char *)sqlite3_column_text(st, 1);
        if (item && tn) json_object_set_new(item, "thingTypeName", json_string(tn));
        json_array_append_new(things, item);
        last = json_string_value(json_object_get(item, "thingName"));
    }
    *resp = json_pack("{s:o}", "things", things);
    if (more && last) json_object_set_new(*resp, "nextToken", json_string(last));
    sqlite3_finalize(st);
    return 0;
}
