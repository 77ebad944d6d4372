/*
 * shadow_service.c - shadow requests from MQTT, answered through the
 * router once what they changed is on disk.
 */
#include "shadow_service.h"

#include "error.h"
#include "log.h"
#include "persist.h"
#include "router.h"
#include "server.h"
#include "shadow.h"
#include "shadow_topic.h"
#include "strmap.h"

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

void shadow_service_request(struct umbra_server *s, const struct shadow_topic *t, const char *topic,
                            const uint8_t *payload, size_t len)
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
    if (rc) {
        log_error("shadow %s: %s", key, umbra_strerror(rc));
        return;
    }
    const char *op = shadow_op_name(t->op);
    char suffix[32];
    if (res.code) {
        snprintf(suffix, sizeof suffix, "/%s/rejected", op);
        reply(s, 0, topic, t->prefix_len, suffix, res.rejected);
        shadow_result_free(&res);
        return;
    }
    uint64_t epoch = t->op == SHADOW_GET ? 0 : store(s, key, klen, &fresh);
    if (t->op == SHADOW_UPDATE) {
        /* AWS's order: delta, documents, accepted. */
        if (res.delta) reply(s, epoch, topic, t->prefix_len, "/update/delta", res.delta);
        reply(s, epoch, topic, t->prefix_len, "/update/documents", res.documents);
    }
    snprintf(suffix, sizeof suffix, "/%s/accepted", op);
    reply(s, epoch, topic, t->prefix_len, suffix, res.accepted);
    shadow_result_free(&res);
}
