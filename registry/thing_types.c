/*
 * thing_types.c - CreateThingType, DescribeThingType, ListThingTypes,
 * DeprecateThingType and DeleteThingType, and the checks things.c makes
 * when a thing names a type.
 *
 * A type's properties never change after creation (AWS's UpdateThingType
 * is newer than this API level); deprecation is the only state. AWS also
 * makes DeleteThingType wait five minutes after deprecation; Umbra does
 * not, since nothing here caches types across processes.
 */
#include "registry_internal.h"

#include "names.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DESCRIPTION 2028
#define MAX_SEARCHABLE 3

static json_t *type_arn(struct registry *r, const char *name)
{
    return json_sprintf("arn:aws:iot:%s:%s:thingtype/%s", r->region, r->account, name);
}

static int type_not_found(struct reg_error *e, const char *name)
{
    return reg_fail(e, "ResourceNotFoundException", 404, "Thing Type %s does not exist", name);
}

static int read_name(const json_t *req, const char **name, struct reg_error *e)
{
    int rc = reg_string(req, "thingTypeName", true, name, e);
    return rc ? rc : reg_check(names_check_thing_type, "thingTypeName", *name, e);
}

/* thingTypeProperties, normalised: {"thingTypeDescription"?, "searchableAttributes"?}. */
static int read_properties(const json_t *req, json_t **out, struct reg_error *e)
{
    json_t *p = json_object_get(req, "thingTypeProperties");
    *out = json_object();
    if (!p || json_is_null(p)) return 0;
    if (!json_is_object(p)) {
        json_decref(*out);
        return reg_fail(e, "InvalidRequestException", 400, "thingTypeProperties must be an object");
    }
    json_t *d = json_object_get(p, "thingTypeDescription");
    int rc = 0;
    if (d && !json_is_null(d)) {
        if (!json_is_string(d) || json_string_length(d) > MAX_DESCRIPTION)
            rc = reg_fail(e, "InvalidRequestException", 400,
                          "thingTypeDescription must be a string of at most %d characters",
                          MAX_DESCRIPTION);
        else
            json_object_set(*out, "thingTypeDescription", d);
    }
    json_t *sa = json_object_get(p, "searchableAttributes");
    if (!rc && sa && !json_is_null(sa)) {
        if (!json_is_array(sa) || json_array_size(sa) > MAX_SEARCHABLE) {
            rc = reg_fail(e, "InvalidRequestException", 400,
                          "searchableAttributes must be a list of at most %d attribute names",
                          MAX_SEARCHABLE);
        } else {
            size_t i;
            json_t *v;
            json_array_foreach(sa, i, v)
            {
                if (!json_is_string(v)) {
                    rc = reg_fail(e, "InvalidRequestException", 400,
                                  "searchableAttributes must hold strings");
                    break;
                }
                rc = reg_check(names_check_attribute_name, "searchableAttributes.member",
                               json_string_value(v), e);
                if (rc) break;
            }
            if (!rc) json_object_set(*out, "searchableAttributes", sa);
        }
    }
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

struct type_row {
    char id[37];
    json_t *properties;
    bool is_deprecated;
    int64_t deprecated_at;
    int64_t created_at;
};

/* 1 found, 0 absent, negative on failure. */
static int load_type(struct registry *r, const char *name, struct type_row *t, struct reg_error *e)
{
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT id, properties, deprecated, deprecated_at, created_at"
                                   " FROM thing_types WHERE name = ?1",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : reg_fail_db(r, e);
    }
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", (const char *)sqlite3_column_text(st, 0));
    t->properties = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    if (!t->properties) t->properties = json_object();
    t->is_deprecated = sqlite3_column_int(st, 2) != 0;
    t->deprecated_at = sqlite3_column_int64(st, 3);
    t->created_at = sqlite3_column_int64(st, 4);
    sqlite3_finalize(st);
    return 1;
}

int reg_check_thing_type(struct registry *r, const char *name, bool for_new_thing,
                         struct reg_error *e)
{
    int rc = reg_check(names_check_thing_type, "thingTypeName", name, e);
    if (rc) return rc;
    struct type_row t;
    if ((rc = load_type(r, name, &t, e)) < 0) return rc;
    if (rc == 0) return type_not_found(e, name);
    json_decref(t.properties);
    if (for_new_thing && t.is_deprecated) /* AWS's wording, typo included: clients match on it. */
        return reg_fail(e, "InvalidRequestException", 400,
                        "Can not create new thing with depreated thing type:%s", name);
    return 0;
}

int registry_create_thing_type(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    const char *name;
    json_t *props;
    int rc;
    if ((rc = read_name(req, &name, e)) || (rc = read_properties(req, &props, e))) return rc;
    struct type_row old;
    if ((rc = load_type(r, name, &old, e)) < 0) goto out;
    if (rc == 1) {
        /* Same name and properties: answered as if created, like CreateThing. */
        bool same = json_equal(old.properties, props);
        json_decref(old.properties);
        if (!same) {
            rc = reg_fail(e, "ResourceAlreadyExistsException", 409,
                          "Thing Type %s already exists with different properties", name);
            goto out;
        }
        *resp = json_pack("{s:s, s:o, s:s}", "thingTypeName", name, "thingTypeArn",
                          type_arn(r, name), "thingTypeId", old.id);
        rc = 0;
        goto out;
    }
    char id[37];
    reg_uuid(id);
    char *text = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *st = reg_prepare(r,
                                   "INSERT INTO thing_types(name, id, properties, created_at)"
                                   " VALUES(?1, ?2, ?3, ?4)",
                                   e);
    if (!st || !text) {
        sqlite3_finalize(st);
        free(text);
        rc = st ? reg_fail(e, "InternalFailureException", 500, "out of memory") : UMBRA_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, reg_now());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    free(text);
    if (step == SQLITE_CONSTRAINT)
        rc = reg_fail(e, "ResourceAlreadyExistsException", 409, "Thing Type %s already exists",
                      name);
    else if (step != SQLITE_DONE)
        rc = reg_fail_db(r, e);
    else
        *resp = json_pack("{s:s, s:o, s:s}", "thingTypeName", name, "thingTypeArn",
                          type_arn(r, name), "thingTypeId", id);
out:
    json_decref(props);
    return rc;
}

static json_t *type_metadata(const struct type_row *t)
{
    json_t *m = json_pack("{s:b, s:I}", "deprecated", t->is_deprecated, "creationDate",
                          (json_int_t)t->created_at);
    if (m && t->is_deprecated)
        json_object_set_new(m, "deprecationDate", json_integer(t->deprecated_at));
    return m;
}

int registry_describe_thing_type(struct registry *r, const json_t *req, json_t **resp,
                                 struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    struct type_row t;
    if ((rc = load_type(r, name, &t, e)) < 0) return rc;
    if (rc == 0) return type_not_found(e, name);
    *resp = json_pack("{s:s, s:s, s:o, s:o, s:o}", "thingTypeName", name, "thingTypeId", t.id,
                      "thingTypeArn", type_arn(r, name), "thingTypeProperties", t.properties,
                      "thingTypeMetadata", type_metadata(&t));
    return 0;
}

int registry_list_thing_types(struct registry *r, const json_t *req, json_t **resp,
                              struct reg_error *e)
{
    const char *token, *only;
    bool has_max;
    int64_t max = 50;
    int rc;
    if ((rc = reg_string(req, "nextToken", false, &token, e)) ||
        (rc = reg_string(req, "thingTypeName", false, &only, e)) ||
        (rc = reg_int(req, "maxResults", &has_max, &max, e)))
        return rc;
    if (has_max && (max < 1 || max > 250))
        return reg_fail(e, "InvalidRequestException", 400, "maxResults must be between 1 and 250");
    sqlite3_stmt *st = reg_prepare(r,
                                   "SELECT name, id, properties, deprecated, deprecated_at,"
                                   " created_at FROM thing_types"
                                   " WHERE name > ?1 AND (?2 IS NULL OR name = ?2)"
                                   " ORDER BY name LIMIT ?3",
                                   e);
    if (!st) return UMBRA_EIO;
    /* The token is the last name returned, as for ListThings. */
    sqlite3_bind_text(st, 1, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, only, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, max + 1);
    json_t *types = json_array();
    bool more = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int64_t)json_array_size(types) == max) {
            more = true;
            break;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        struct type_row t = {
            .is_deprecated = sqlite3_column_int(st, 3) != 0,
            .deprecated_at = sqlite3_column_int64(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
        };
        json_t *props = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        json_array_append_new(types, json_pack("{s:s, s:o, s:o, s:o}", "thingTypeName", name,
                                               "thingTypeArn", type_arn(r, name),
                                               "thingTypeProperties", props ? props : json_object(),
                                               "thingTypeMetadata", type_metadata(&t)));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(types);
        return reg_fail_db(r, e);
    }
    *resp = json_pack("{s:o}", "thingTypes", types);
    size_t n = json_array_size(types);
    if (more && n)
        json_object_set(*resp, "nextToken",
                        json_object_get(json_array_get(types, n - 1), "thingTypeName"));
    return 0;
}

int registry_deprecate_thing_type(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    json_t *undo = json_object_get(req, "undoDeprecate");
    if (undo && !json_is_boolean(undo) && !json_is_null(undo))
        return reg_fail(e, "InvalidRequestException", 400, "undoDeprecate must be a boolean");
    bool deprecate = !(undo && json_is_true(undo));
    sqlite3_stmt *st = reg_prepare(r,
                                   "UPDATE thing_types SET deprecated = ?1,"
                                   " deprecated_at = CASE WHEN ?1 THEN ?2 END WHERE name = ?3",
                                   e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_int(st, 1, deprecate);
    sqlite3_bind_int64(st, 2, reg_now());
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int changed = sqlite3_changes(r->db);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return reg_fail_db(r, e);
    if (changed == 0) return type_not_found(e, name);
    *resp = json_object();
    return 0;
}

int registry_delete_thing_type(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    const char *name;
    int rc;
    if ((rc = read_name(req, &name, e))) return rc;
    struct type_row t;
    if ((rc = load_type(r, name, &t, e)) < 0) return rc;
    if (rc == 0) return type_not_found(e, name);
    json_decref(t.properties);
    if (!t.is_deprecated)
        return reg_fail(e, "InvalidRequestException", 400,
                        "Thing Type %s must be deprecated before it is deleted", name);
    sqlite3_stmt *st = reg_prepare(r, "SELECT 1 FROM things WHERE type_name = ?1 LIMIT 1", e);
    if (!st) return UMBRA_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool in_use = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (in_use)
        return reg_fail(e, "InvalidRequestException", 400,
                        "Thing Type %s is still associated with one or more things", name);
    if ((rc = reg_exec_text(r, "DELETE FROM thing_types WHERE name = ?1", name, e))) return rc;
    *resp = json_object();
    return 0;
}
