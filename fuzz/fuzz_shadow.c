/*
 * fuzz_shadow.c - libFuzzer target for the Device Shadow document logic:
 * any bytes, as an /update payload against a few stored documents and as a
 * /get or /delete payload, must give either an accepted result or a
 * rejection with an AWS code and message, and an accepted update must leave
 * a document AWS could hold: version one higher, depth and size within the
 * limits, no empty objects, metadata mirroring the state leaf for leaf, and
 * a /update/delta exactly when the document has a delta.
 */
#include "shadow/shadow.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static const char *const stored_texts[] = {
    NULL, /* never created */
    "{\"state\":{\"desired\":{\"color\":\"red\",\"l\":[1,2]},\"reported\":{\"color\":\"blue\"}},"
    "\"metadata\":{\"desired\":{\"color\":{\"timestamp\":1},\"l\":[{\"timestamp\":1},{"
    "\"timestamp\":1}]},\"reported\":{\"color\":{\"timestamp\":1}}},\"version\":3}",
    "{\"state\":{\"reported\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}},\"metadata\":{"
    "\"reported\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"timestamp\":1}}}}}}},\"version\":41}",
    "{\"state\":{},\"metadata\":{},\"version\":9}", /* cleared */
    "{\"deleted\":12}",
};
#define NSTORED (sizeof stored_texts / sizeof stored_texts[0])

static void load_stored(const char *text, struct shadow_doc *d)
{
    memset(d, 0, sizeof *d);
    if (!text) return;
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j);
    json_t *deleted = json_object_get(j, "deleted");
    if (deleted) {
        d->version = json_integer_value(deleted);
    } else {
        d->state = json_incref(json_object_get(j, "state"));
        d->metadata = json_incref(json_object_get(j, "metadata"));
        d->version = json_integer_value(json_object_get(j, "version"));
        d->exists = true;
    }
    json_decref(j);
}

/* Levels under v, counting a container at `level` as AWS does. */
static int depth(const json_t *v, int level)
{
    int max = level;
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
        {
            int d = depth(c, level + 1);
            if (d > max) max = d;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
        {
            int d = depth(c, level + 1);
            if (d > max) max = d;
        }
    }
    return max;
}

static bool is_timestamp(const json_t *m)
{
    return json_is_object(m) && json_object_size(m) == 1 &&
           json_is_integer(json_object_get(m, "timestamp"));
}

/* meta mirrors v: objects key for key, arrays element for element, leaves
 * are {"timestamp":N}. stored: objects in the stored state are never empty. */
static void check_mirror(const json_t *v, const json_t *meta, bool stored)
{
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        CHECK(json_is_object(meta));
        CHECK(json_object_size(meta) == json_object_size(v));
        if (stored) CHECK(json_object_size(v) > 0);
        json_object_foreach((json_t *)v, k, c) check_mirror(c, json_object_get(meta, k), stored);
    } else if (json_is_array(v)) {
        CHECK(json_is_array(meta));
        CHECK(json_array_size(meta) == json_array_size(v));
        json_array_foreach(v, i, c) check_mirror(c, json_array_get(meta, i), false);
    } else {
        CHECK(is_timestamp(meta));
    }
}

static void check_rejected(const struct shadow_result *r)
{
    CHECK(r->rejected && !r->accepted && !r->delta && !r->documents);
    CHECK(r->code == 400 || r->code == 404 || r->code == 409 || r->code == 413 || r->code == 415 ||
          r->code == 500);
    CHECK(r->message && r->message[0]);
    CHECK(json_integer_value(json_object_get(r->rejected, "code")) == r->code);
}

static void check_document(const struct shadow_doc *d)
{
    CHECK(d->exists && json_is_object(d->state) && json_is_object(d->metadata));
    const char *k;
    json_t *section;
    json_object_foreach(d->state, k, section)
    {
        CHECK(strcmp(k, "desired") == 0 || strcmp(k, "reported") == 0);
        CHECK(depth(section, 1) <= SHADOW_MAX_DEPTH);
        check_mirror(section, json_object_get(d->metadata, k), true);
    }
    /* Only the state itself may be empty: a cleared shadow is {}. */
    CHECK(json_object_size(d->metadata) == json_object_size(d->state));
    CHECK(shadow_state_size(d->state) <= SHADOW_MAX_STATE_BYTES);
}

static void check_update(const struct shadow_doc *stored, const struct shadow_doc *out,
                         const struct shadow_result *r)
{
    if (r->code) {
        check_rejected(r);
        CHECK(!out->exists && !out->state);
        return;
    }
    CHECK(r->accepted && r->documents && !r->rejected);
    CHECK(out->version == stored->version + 1);
    CHECK(json_integer_value(json_object_get(r->accepted, "version")) == out->version);
    check_document(out);
    json_t *delta = shadow_delta(out, NULL);
    CHECK(!delta == !r->delta);
    if (delta) CHECK(json_equal(delta, json_object_get(r->delta, "state")));
    json_decref(delta);
}

static void fuzz_update(const struct shadow_doc *stored, const uint8_t *data, size_t size)
{
    struct shadow_doc out;
    struct shadow_result res;
    CHECK(shadow_update(stored, (const char *)data, size, 1000, &out, &res) == 0);
    check_update(stored, &out, &res);
    if (res.code == 0) {
        /* The same request again applies to the new document just as well,
         * unless it pinned the version that has now moved on. */
        struct shadow_doc again;
        struct shadow_result res2;
        CHECK(shadow_update(&out, (const char *)data, size, 1001, &again, &res2) == 0);
        check_update(&out, &again, &res2);
        CHECK(res2.code == 0 || res2.code == 409);
        shadow_result_free(&res2);
        shadow_doc_free(&again);
    }
    shadow_result_free(&res);
    shadow_doc_free(&out);
}

static void fuzz_get_delete(const struct shadow_doc *stored, const uint8_t *data, size_t size)
{
    struct shadow_result res;
    struct shadow_doc out;
    CHECK(shadow_get(stored, "thing", (const char *)data, size, 1000, &res) == 0);
    if (res.code) {
        check_rejected(&res);
        CHECK(res.code != 404 || !stored->exists);
    } else {
        CHECK(stored->exists && res.accepted);
    }
    shadow_result_free(&res);

    CHECK(shadow_delete(stored, "thing", (const char *)data, size, 1000, &out, &res) == 0);
    if (res.code) {
        check_rejected(&res);
    } else {
        CHECK(stored->exists && !out.exists && out.version == stored->version);
    }
    shadow_result_free(&res);
    shadow_doc_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < NSTORED; i++) {
        struct shadow_doc stored;
        load_stored(stored_texts[i], &stored);
        if (stored.exists) check_document(&stored);
        fuzz_update(&stored, data, size);
        fuzz_get_delete(&stored, data, size);
        shadow_doc_free(&stored);
    }
    return 0;
}
