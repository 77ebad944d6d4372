/*
 * shadow.c - Device Shadow requests: validate an /update, /get or /delete
 * payload the way AWS IoT does (same checks, same order, same codes and
 * texts), apply it to the stored document and build every payload the
 * service publishes in answer.
 *
 * Validation order for /update (AWS's own local implementation, Greengrass
 * ShadowManager, and AWS's error texts): message size, UTF-8, JSON syntax,
 * state present, state/desired/reported types, unknown nodes in state,
 * clientToken, version type, nesting depth, nulls in arrays, version
 * conflict, then the merged state's size.
 */
#include "shadow.h"

#include "shadow_internal.h"

#include "error.h"

#include <stdarg.h>
#include <string.h>

/* Why a request is refused: AWS's code and message; arg, when set, is
 * quoted after the message ("...: 'arg'"), as AWS does for names. */
struct verdict {
    int code;
    const char *msg;
    const char *arg;
};

#define ACCEPTABLE ((struct verdict){0, NULL, NULL})

static struct verdict refuse(int code, const char *msg)
{
    return (struct verdict){code, msg, NULL};
}

/* ---- payloads ---- */

static int add_token(json_t *doc, const char *token)
{
    if (!doc) return -1;
    if (!token) return 0;
    return json_object_set_new(doc, "clientToken", json_string(token));
}

/* A built payload, or NULL when building it ran out of memory. */
static json_t *with_token(json_t *doc, const char *token)
{
    if (add_token(doc, token) == 0) return doc;
    json_decref(doc);
    return NULL;
}

static json_t *copy_or_empty(const json_t *v)
{
    return v ? json_deep_copy(v) : json_object();
}

static int rejected(struct shadow_result *res, struct verdict v, const char *token, int64_t now)
{
    json_t *msg = v.arg ? json_sprintf("%s: '%s'", v.msg, v.arg) : json_string(v.msg);
    json_t *doc =
        json_pack("{s:i, s:o, s:I}", "code", v.code, "message", msg, "timestamp", (json_int_t)now);
    doc = with_token(doc, token);
    if (!doc) return UMBRA_ENOMEM;
    res->code = v.code;
    res->rejected = doc;
    res->message = json_string_value(json_object_get(doc, "message"));
    return 0;
}

/* {"state":..,"metadata":..,"version":N} as /update/documents shows a document. */
static json_t *snapshot(const struct shadow_doc *d)
{
    return json_pack("{s:o, s:o, s:I}", "state", copy_or_empty(d->state), "metadata",
                     copy_or_empty(d->metadata), "version", (json_int_t)d->version);
}

/* ---- parsing ---- */

/* What every request shares: the size and encoding of the bytes, then JSON
 * syntax. Empty payloads are allowed only where AWS allows them (get,
 * delete): *root is then NULL. */
static struct verdict parse(const char *payload, size_t len, bool empty_ok, json_t **root)
{
    *root = NULL;
    if (len > SHADOW_MAX_PAYLOAD)
        return refuse(413, "The payload exceeds the maximum size allowed");
    if (len == 0 && empty_ok) return ACCEPTABLE;
    if (!shadow_utf8_valid(payload, len))
        return refuse(415, "Unsupported documented encoding; supported encoding is UTF-8");
    *root = json_loadb(payload ? payload : "", len, JSON_DECODE_ANY, NULL);
    /* An update must be an object to have a state node; get and delete
     * look only for a clientToken, so any JSON value will do there. */
    if (!*root || (!empty_ok && !json_is_object(*root))) {
        json_decref(*root);
        *root = NULL;
        return refuse(400, "Invalid JSON");
    }
    return ACCEPTABLE;
}

/* The request's clientToken when AWS would accept it, else NULL: a missing
 * token and a bad one are both left out of the responses. */
static const char *client_token(const json_t *root)
{
    const json_t *t = json_object_get(root, "clientToken");
    if (json_is_string(t) && json_string_length(t) <= SHADOW_MAX_CLIENT_TOKEN)
        return json_string_value(t);
    return NULL;
}

static struct verdict check_token(const json_t *root)
{
    const json_t *t = json_object_get(root, "clientToken");
    if (t && !client_token(root)) return refuse(400, "Invalid clientToken");
    return ACCEPTABLE;
}

/* ---- update validation ---- */

static bool is_section(const json_t *v)
{
    return !v || json_is_object(v) || json_is_null(v);
}

static struct verdict check_state(const json_t *state)
{
    if (!state) return refuse(400, "Missing required node: state");
    if (json_is_null(state)) return ACCEPTABLE;
    if (!json_is_object(state)) return refuse(400, "State node must be an object");
    if (!is_section(json_object_get(state, "desired")))
        return refuse(400, "Desired node must be an object");
    if (!is_section(json_object_get(state, "reported")))
        return refuse(400, "Reported node must be an object");
    const char *k;
    json_t *v;
    CONST_FOREACH(state, k, v)
    {
        if (strcmp(k, "desired") != 0 && strcmp(k, "reported") != 0)
            return (struct verdict){400, "State contains an invalid node", k};
    }
    return ACCEPTABLE;
}

static struct verdict check_version(const json_t *version)
{
    if (version && !(json_is_integer(version) && json_integer_value(version) >= 0))
        return refuse(400, "Invalid version");
    return ACCEPTABLE;
}

/* desired/reported are level 1 and a leaf may sit at level 6, so a
 * container (object or array) is allowed up to level 5: AWS counts an
 * empty object or array at level 6 as a seventh level. */
static bool too_deep(const json_t *v, int level)
{
    if (!json_is_object(v) && !json_is_array(v)) return false;
    if (level >= SHADOW_MAX_DEPTH) return true;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (too_deep(json_array_get(v, i), level + 1)) return true;
        return false;
    }
    const char *k;
    json_t *c;
    CONST_FOREACH(v, k, c)
    {
        if (too_deep(c, level + 1)) return true;
    }
    return false;
}

static bool null_in_array(const json_t *v)
{
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, c)
        {
            if (json_is_null(c) || null_in_array(c)) return true;
        }
    } else if (json_is_object(v)) {
        CONST_FOREACH(v, k, c)
        {
            if (null_in_array(c)) return true;
        }
    }
    return false;
}

/* Checks on the sections' contents, once their types are known to be right. */
static struct verdict check_contents(const json_t *state)
{
    static const char *const sections[] = {"desired", "reported"};
    for (int i = 0; i < 2; i++)
        if (too_deep(json_object_get(state, sections[i]), 1))
            return refuse(400, "JSON contains too many levels of nesting; maximum is 6");
    for (int i = 0; i < 2; i++)
        if (null_in_array(json_object_get(state, sections[i]))) return refuse(400, "Invalid JSON");
    return ACCEPTABLE;
}

/* Every check that needs only the request, in AWS's order. */
static struct verdict check_update(const json_t *root)
{
    const json_t *state = json_object_get(root, "state");
    struct verdict v = check_state(state);
    if (v.code == 0) v = check_token(root);
    if (v.code == 0) v = check_version(json_object_get(root, "version"));
    if (v.code == 0) v = check_contents(state);
    return v;
}

/* ---- update ---- */

/* The merged document, without its version yet. */
static int merge_into(const struct shadow_doc *stored, const json_t *state, int64_t now,
                      struct shadow_doc *out)
{
    bool keep = stored->exists && !json_is_null(state);
    out->state = keep ? copy_or_empty(stored->state) : json_object();
    out->metadata = keep ? copy_or_empty(stored->metadata) : json_object();
    if (!out->state || !out->metadata) return -1;
    if (json_is_null(state)) return 0; /* "state": null clears everything */
    return shadow_merge(out->state, out->metadata, state, now);
}

/* /update/accepted: the request's state as sent, nulls included, with a
 * timestamp for each of its leaves (nulls too). */
static json_t *update_accepted(const json_t *state, const struct shadow_doc *d, int64_t now,
                               const char *token)
{
    json_t *doc = json_pack("{s:o, s:o, s:I, s:I}", "state", json_deep_copy(state), "metadata",
                            shadow_meta_mirror(state, now), "version", (json_int_t)d->version,
                            "timestamp", (json_int_t)now);
    return with_token(doc, token);
}

static json_t *update_documents(const struct shadow_doc *prev, const struct shadow_doc *cur,
                                int64_t now, const char *token)
{
    /* A shadow being created (first time or after a delete) has no previous. */
    json_t *p = prev->exists ? snapshot(prev) : json_null();
    json_t *doc = json_pack("{s:o, s:o, s:I}", "previous", p, "current", snapshot(cur), "timestamp",
                            (json_int_t)now);
    return with_token(doc, token);
}

/* /update/delta carries the document's whole delta, or is not sent. */
static int update_delta(const struct shadow_doc *d, int64_t now, const char *token, json_t **out)
{
    json_t *delta, *meta;
    *out = NULL;
    if (shadow_delta_of(json_object_get(d->state, "desired"), json_object_get(d->state, "reported"),
                        json_object_get(d->metadata, "desired"), &delta, &meta) != 0)
        return -1;
    if (!delta) return 0;
    json_t *doc = json_pack("{s:I, s:I, s:o, s:o}", "version", (json_int_t)d->version, "timestamp",
                            (json_int_t)now, "state", delta, "metadata", meta);
    *out = with_token(doc, token);
    return *out ? 0 : -1;
}

static int accept_update(const struct shadow_doc *stored, const json_t *state, int64_t now,
                         const char *token, struct shadow_doc *out, struct shadow_result *res)
{
    res->accepted = update_accepted(state, out, now, token);
    res->documents = update_documents(stored, out, now, token);
    if (!res->accepted || !res->documents || update_delta(out, now, token, &res->delta) != 0)
        return UMBRA_ENOMEM;
    return 0;
}

/* After validation: version check, merge, size check, payloads. */
static int apply_update(const struct shadow_doc *stored, const json_t *root, int64_t now,
                        struct shadow_doc *out, struct shadow_result *res)
{
    const char *token = client_token(root);
    const json_t *state = json_object_get(root, "state");
    const json_t *version = json_object_get(root, "version");
    if (version && json_integer_value(version) != stored->version)
        return rejected(res, refuse(409, "Version conflict"), token, now);
    if (stored->version == INT64_MAX)
        return rejected(res, refuse(500, "Internal service failure"), token, now);
    if (merge_into(stored, state, now, out) != 0) return UMBRA_ENOMEM;
    if (shadow_state_size(out->state) > SHADOW_MAX_STATE_BYTES) {
        shadow_doc_free(out);
        return rejected(res, refuse(413, "The payload exceeds the maximum size allowed"), token,
                        now);
    }
    out->version = stored->version + 1;
    out->exists = true;
    return accept_update(stored, state, now, token, out, res);
}

static const struct shadow_doc no_shadow = {NULL, NULL, 0, false};

/* Start every request from an empty result, so a failure leaves nothing to free twice. */
static int begin(struct shadow_result *res, struct shadow_doc *out)
{
    if (!res) return UMBRA_EINVAL;
    memset(res, 0, sizeof *res);
    if (out) *out = no_shadow;
    return 0;
}

/* On ENOMEM the caller gets nothing back, not half a result. */
static int finish(int rc, struct shadow_result *res, struct shadow_doc *out)
{
    if (rc == 0) return 0;
    shadow_result_free(res);
    if (out) shadow_doc_free(out);
    return rc;
}

int shadow_update(const struct shadow_doc *stored, const char *payload, size_t len, int64_t now,
                  struct shadow_doc *out_new, struct shadow_result *res)
{
    json_t *root;
    if (begin(res, out_new) != 0 || !out_new) return UMBRA_EINVAL;
    if (!stored) stored = &no_shadow;
    struct verdict v = parse(payload, len, false, &root);
    if (v.code == 0) v = check_update(root);
    int rc = v.code ? rejected(res, v, client_token(root), now)
                    : apply_update(stored, root, now, out_new, res);
    json_decref(root);
    return finish(rc, res, out_new);
}

/* ---- get and delete ---- */

/* Get and delete read nothing but clientToken from their payload (the v1
 * SDKs also send a version there: it is ignored). */
static struct verdict parse_token_only(const char *payload, size_t len, json_t **root)
{
    struct verdict v = parse(payload, len, true, root);
    return v.code ? v : check_token(*root);
}

static struct verdict not_found(const char *name)
{
    return (struct verdict){404, "No shadow exists with name", name ? name : ""};
}

static json_t *get_accepted(const struct shadow_doc *d, int64_t now, const char *token)
{
    json_t *state = copy_or_empty(d->state), *delta;
    if (shadow_delta_of(json_object_get(d->state, "desired"), json_object_get(d->state, "reported"),
                        NULL, &delta, NULL) != 0 ||
        (delta && json_object_set_new(state, "delta", delta) != 0)) {
        json_decref(state);
        return NULL;
    }
    json_t *doc =
        json_pack("{s:o, s:o, s:I, s:I}", "state", state, "metadata", copy_or_empty(d->metadata),
                  "version", (json_int_t)d->version, "timestamp", (json_int_t)now);
    return with_token(doc, token);
}

int shadow_get(const struct shadow_doc *stored, const char *name, const char *payload, size_t len,
               int64_t now, struct shadow_result *res)
{
    json_t *root;
    if (begin(res, NULL) != 0) return UMBRA_EINVAL;
    if (!stored) stored = &no_shadow;
    struct verdict v = parse_token_only(payload, len, &root);
    if (v.code == 0 && !stored->exists) v = not_found(name);
    const char *token = client_token(root);
    int rc = 0;
    if (v.code)
        rc = rejected(res, v, token, now);
    else if (!(res->accepted = get_accepted(stored, now, token)))
        rc = UMBRA_ENOMEM;
    json_decref(root);
    return finish(rc, res, NULL);
}

/* The deleted shadow keeps its version so that re-creating it continues
 * from there; /delete/accepted reports that last version. */
static int accept_delete(const struct shadow_doc *stored, int64_t now, const char *token,
                         struct shadow_doc *out, struct shadow_result *res)
{
    out->version = stored->version;
    res->accepted = with_token(json_pack("{s:I, s:I}", "version", (json_int_t)stored->version,
                                         "timestamp", (json_int_t)now),
                               token);
    return res->accepted ? 0 : UMBRA_ENOMEM;
}

int shadow_delete(const struct shadow_doc *stored, const char *name, const char *payload,
                  size_t len, int64_t now, struct shadow_doc *out_new, struct shadow_result *res)
{
    json_t *root;
    if (begin(res, out_new) != 0 || !out_new) return UMBRA_EINVAL;
    if (!stored) stored = &no_shadow;
    struct verdict v = parse_token_only(payload, len, &root);
    if (v.code == 0 && !stored->exists) v = not_found(name);
    const char *token = client_token(root);
    int rc =
        v.code ? rejected(res, v, token, now) : accept_delete(stored, now, token, out_new, res);
    json_decref(root);
    return finish(rc, res, out_new);
}

/* ---- helpers for the service ---- */

json_t *shadow_delta(const struct shadow_doc *doc, json_t **metadata)
{
    json_t *delta = NULL;
    if (metadata) *metadata = NULL;
    if (!doc || !doc->exists) return NULL;
    shadow_delta_of(json_object_get(doc->state, "desired"), json_object_get(doc->state, "reported"),
                    json_object_get(doc->metadata, "desired"), &delta, metadata);
    return delta;
}

size_t shadow_state_size(const json_t *state)
{
    size_t size = 0;
    const json_t *d = json_object_get(state, "desired"), *r = json_object_get(state, "reported");
    if (d) size += shadow_json_size(d);
    if (r) size += shadow_json_size(r);
    return size;
}

void shadow_doc_free(struct shadow_doc *d)
{
    if (!d) return;
    json_decref(d->state);
    json_decref(d->metadata);
    *d = no_shadow;
}

void shadow_result_free(struct shadow_result *r)
{
    if (!r) return;
    json_decref(r->accepted);
    json_decref(r->rejected);
    json_decref(r->delta);
    json_decref(r->documents);
    memset(r, 0, sizeof *r);
}
