/*
 * shadow_service.c - shadow requests from MQTT, answered through the
 * router once what they changed is on disk.
 */
#include "shadow_service.h"

#include "error.h"
#include "log.h"
#include "persist.h"
#include "router.h"
#include "rules_service.h"
#include "server.h"
#include "shadow.h"
#include "shadow_topic.h"
#include "strmap.h"
#include "usage_meter.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A reply waiting for the batch it depends on. */
struct shadow_reply {
    struct shadow_reply *next;
    uint64_t epoch;
    char *topic;
    size_t topic_len;
    char *payload;
    size_t payload_len;
};

int shadow_service_init(struct umbra_server *s)
{
    s->shadows = strmap_new();
    return s->shadows ? 0 : UMBRA_ENOMEM;
}

static void free_doc(struct shadow_doc *d)
{
    shadow_doc_free(d);
    free(d);
}

void shadow_service_free(struct umbra_server *s)
{
    if (s->shadows) {
        struct strmap_iter it;
        const char *k;
        size_t kl;
        void *v;
        strmap_iter_init(&it, s->shadows);
        while (strmap_next(&it, &k, &kl, &v))
            free_doc(v);
        strmap_free(s->shadows);
        s->shadows = NULL;
    }
    while (s->shadow_replies) {
        struct shadow_reply *r = s->shadow_replies;
        s->shadow_replies = r->next;
        free(r->topic);
        free(r->payload);
        free(r);
    }
    s->shadow_replies_tail = NULL;
}

/* ---- the stored form: {"state","metadata","version","exists"} ---- */

static char *doc_to_text(const struct shadow_doc *d)
{
    json_t *o = json_pack("{s:O?, s:O?, s:I, s:b}", "state", d->state, "metadata", d->metadata,
                          "version", (json_int_t)d->version, "exists", d->exists);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

int shadow_service_load(struct umbra_server *s, const char *key, size_t klen, const char *doc,
                        size_t dlen)
{
    json_t *o = json_loadb(doc, dlen, 0, NULL);
    struct shadow_doc *d = calloc(1, sizeof *d);
    if (!o || !d) {
        json_decref(o);
        free(d);
        log_error("shadow %.*s: stored document unreadable, skipped", (int)klen, key);
        return 0;
    }
    json_t *state = json_object_get(o, "state"), *meta = json_object_get(o, "metadata");
    d->state = json_is_object(state) ? json_incref(state) : NULL;
    d->metadata = json_is_object(meta) ? json_incref(meta) : NULL;
    d->version = json_integer_value(json_object_get(o, "version"));
    d->exists = json_is_true(json_object_get(o, "exists"));
    json_decref(o);
    void *old = NULL;
    if (strmap_put(s->shadows, key, klen, d, &old)) {
        free_doc(d);
        return UMBRA_ENOMEM;
    }
    if (old) free_doc(old);
    return 0;
}

/* ---- replies ---- */

static void publish_now(struct umbra_server *s, const char *topic, size_t tlen, const char *payload,
                        size_t plen)
{
    /* QoS 1, as if the service were a client publishing; each subscriber
     * gets it at its granted QoS, and its iot:Receive is checked. */
    router_publish(s, topic, tlen, (const uint8_t *)payload, plen, 1, false, NULL, true);
    struct rules_origin none = {NULL, NULL};
    rules_service_message(s, topic, tlen, (const uint8_t *)payload, plen, &none);
}

/* Send now, or after the replies still waiting (order is kept), or after
 * batch `epoch` when it depends on it (epoch 0: it depends on nothing). */
static void reply(struct umbra_server *s, uint64_t epoch, const char *prefix, size_t plen,
                  const char *suffix, json_t *payload)
{
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    size_t tlen = plen + strlen(suffix);
    char *topic = malloc(tlen + 1);
    if (!text || !topic) {
        log_error("out of memory: shadow reply on %.*s%s lost", (int)plen, prefix, suffix);
        free(text);
        free(topic);
        return;
    }
    memcpy(topic, prefix, plen);
    memcpy(topic + plen, suffix, tlen - plen + 1);
    if (!epoch && s->shadow_replies_tail) epoch = s->shadow_replies_tail->epoch;
    if (!epoch) {
        publish_now(s, topic, tlen, text, strlen(text));
        free(topic);
        free(text);
        return;
    }
    struct shadow_reply *r = calloc(1, sizeof *r);
    if (!r) {
        free(topic);
        free(text);
        return;
    }
    *r = (struct shadow_reply){NULL, epoch, topic, tlen, text, strlen(text)};
    if (s->shadow_replies_tail)
        s->shadow_replies_tail->next = r;
    else
        s->shadow_replies = r;
    s->shadow_replies_tail = r;
}

void shadow_service_committed(struct umbra_server *s, uint64_t epoch)
{
    while (s->shadow_replies && s->shadow_replies->epoch <= epoch) {
        struct shadow_reply *r = s->shadow_replies;
        s->shadow_replies = r->next;
        if (!s->shadow_replies) s->shadow_replies_tail = NULL;
        publish_now(s, r->topic, r->topic_len, r->payload, r->payload_len);
        free(r->topic);
        free(r->payload);
        free(r);
    }
}

/* ---- requests ---- */

/* Store the new document (memory now, disk in this turn's batch); returns
 * the batch's epoch, which the replies then wait for. */
static uint64_t store(struct umbra_server *s, const char *key, size_t klen,
                      struct shadow_doc *fresh)
{
    struct shadow_doc *d = malloc(sizeof *d);
    char *text = doc_to_text(fresh);
    void *old = NULL;
    if (!d || !text || strmap_put(s->shadows, key, klen, d, &old)) {
        log_error("out of memory: shadow %.*s not stored", (int)klen, key);
        free(d);
        free(text);
        shadow_doc_free(fresh);
        return 0;
    }
    *d = *fresh;
    if (old) free_doc(old);
    persist_shadow_put(s->persist, key, klen, text, strlen(text));
    free(text);
    return persist_epoch(s->persist);
}

/* A shadow operation is metered for its thing, in 1 KB increments of the
 * record: the document sent for an update, the one returned for a get. */
static void meter_operation(struct umbra_server *s, const struct shadow_topic *t, size_t len,
                            const json_t *accepted)
{
    size_t record = t->op == SHADOW_UPDATE ? len
                    : t->op == SHADOW_GET  ? json_dumpb(accepted, NULL, 0, JSON_COMPACT)
                                           : 0;
    usage_meter_add(s->usage, t->thing, t->thing_len, USAGE_REGISTRY_SHADOW_OPS,
                    usage_operations(record));
}

/* Run one request: the document logic, storing what it accepts, and the
 * MQTT replies (rejections only for MQTT requests: REST callers get theirs
 * as HTTP errors, as on AWS). When out is not NULL it gets the accepted or
 * rejected document for a REST response. */
static void run(struct umbra_server *s, const struct shadow_topic *t, const char *topic,
                const uint8_t *payload, size_t len, bool is_mqtt, struct shadow_call_result *out)
{
    char key[128 + 1 + 64 + 1];
    size_t klen = t->thing_len;
    memcpy(key, t->thing, t->thing_len);
    key[klen++] = '/';
    if (t->name) {
        memcpy(key + klen, t->name, t->name_len);
        klen += t->name_len;
    }
    key[klen] = '\0';
    /* Messages name the shadow: the named one, or the thing for the classic. */
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)(t->name ? t->name_len : t->thing_len),
             t->name ? t->name : t->thing);

    const struct shadow_doc *stored = strmap_get(s->shadows, key, klen);
    int64_t now = (int64_t)time(NULL);
    struct shadow_doc fresh = {0};
    struct shadow_result res = {0};
    const char *p = (const char *)payload;
    int rc;
    switch (t->op) {
    case SHADOW_UPDATE:
        rc = shadow_update(stored, p, len, now, &fresh, &res);
        break;
    case SHADOW_GET:
        rc = shadow_get(stored, name, p, len, now, &res);
        break;
    default:
        rc = shadow_delete(stored, name, p, len, now, &fresh, &res);
        break;
    }
    s->stats.shadow_ops[t->op][rc || res.code]++;
    if (rc) {
        log_error("shadow %s: %s", key, umbra_strerror(rc));
        if (out) *out = (struct shadow_call_result){500, strdup("Internal service failure"), NULL, 0};
        return;
    }
    const char *op = shadow_op_name(t->op);
    char suffix[32];
    if (res.code) {
        snprintf(suffix, sizeof suffix, "/%s/rejected", op);
        if (is_mqtt) reply(s, 0, topic, t->prefix_len, suffix, res.rejected);
        if (out) *out = (struct shadow_call_result){res.code, strdup(res.message), NULL, 0};
        shadow_result_free(&res);
        return;
    }
    meter_operation(s, t, len, res.accepted);
    uint64_t epoch = t->op == SHADOW_GET ? 0 : store(s, key, klen, &fresh);
    if (t->op == SHADOW_UPDATE) {
        /* AWS's order: delta, documents, accepted. */
        if (res.delta) reply(s, epoch, topic, t->prefix_len, "/update/delta", res.delta);
        reply(s, epoch, topic, t->prefix_len, "/update/documents", res.documents);
    }
    /* A REST get or delete is answered over HTTP only; a REST update is
     * also announced on /update/accepted, as the device SDKs expect. */
    snprintf(suffix, sizeof suffix, "/%s/accepted", op);
    if (is_mqtt || t->op == SHADOW_UPDATE)
        reply(s, epoch, topic, t->prefix_len, suffix, res.accepted);
    if (out) {
        *out = (struct shadow_call_result){200, NULL, json_dumps(res.accepted, JSON_COMPACT), epoch};
        if (!out->body) *out = (struct shadow_call_result){500, strdup("Internal service failure"), NULL, 0};
    }
    shadow_result_free(&res);
}

void shadow_service_request(struct umbra_server *s, const struct shadow_topic *t, const char *topic,
                            const uint8_t *payload, size_t len)
{
    run(s, t, topic, payload, len, true, NULL);
}

int shadow_service_call(struct umbra_server *s, const char *thing, const char *shadow,
                        enum shadow_op op, const uint8_t *payload, size_t len,
                        struct shadow_call_result *out)
{
    *out = (struct shadow_call_result){0};
    /* The request topic the same call would arrive on over MQTT: its parser
     * checks both names, and the replies go out under it. */
    char topic[256 + 64];
    int n = shadow[0] ? snprintf(topic, sizeof topic, "$aws/things/%s/shadow/name/%s/%s", thing,
                                 shadow, shadow_op_name(op))
                      : snprintf(topic, sizeof topic, "$aws/things/%s/shadow/%s", thing,
                                 shadow_op_name(op));
    struct shadow_topic t;
    if (n <= 0 || (size_t)n >= sizeof topic || !shadow_topic_parse(topic, (size_t)n, &t))
        return UMBRA_EINVAL;
    run(s, &t, topic, payload, len, false, out);
    return 0;
}

void shadow_call_result_free(struct shadow_call_result *r)
{
    free(r->message);
    free(r->body);
    *r = (struct shadow_call_result){0};
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int shadow_service_list_named(struct umbra_server *s, const char *thing, const char *next_token,
                              int page_size, json_t **out)
{
    *out = NULL;
    size_t tl = strlen(thing), n = 0, cap = 0;
    char **names = NULL;
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    int rc = 0;
    /* A scan of every shadow: fine for the thousands a broker holds;
     * an index by thing would be the next step for millions. */
    strmap_iter_init(&it, s->shadows);
    while (strmap_next(&it, &k, &kl, &v)) {
        const struct shadow_doc *d = v;
        if (!d->exists || kl <= tl + 1 || memcmp(k, thing, tl) != 0 || k[tl] != '/') continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *nn);
            if (!nn) {
                rc = UMBRA_ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strndup(k + tl + 1, kl - tl - 1))) {
            rc = UMBRA_ENOMEM;
            break;
        }
        n++;
    }
    json_t *results = rc ? NULL : json_array();
    json_t *o = results ? json_pack("{s:o, s:I}", "results", results, "timestamp",
                                    (json_int_t)time(NULL))
                        : NULL;
    if (!rc && !o) rc = UMBRA_ENOMEM;
    if (!rc) {
        if (n) qsort(names, n, sizeof *names, compare_names);
        size_t limit = page_size > 0 ? (size_t)page_size : 100, taken = 0;
        /* The token is the last name of the page before: the page goes on after it. */
        for (size_t i = 0; i < n && !rc; i++) {
            if (next_token && next_token[0] && strcmp(names[i], next_token) <= 0) continue;
            if (taken == limit) {
                if (json_object_set_new(o, "nextToken", json_string(names[i - 1]))) rc = UMBRA_ENOMEM;
                break;
            }
            if (json_array_append_new(results, json_string(names[i]))) rc = UMBRA_ENOMEM;
            taken++;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}
