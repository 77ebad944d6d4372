/*
 * handle_subscribe.c - SUBSCRIBE and UNSUBSCRIBE: profile limits, the trie,
 * the session's list, persistence, SUBACK, then retained messages.
 */
#include "conn.h"
#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "persist.h"
#include "profile.h"
#include "retain.h"
#include "auth.h"
#include "router.h"
#include "trie.h"
#include "usage_meter.h"

#include <stdlib.h>
#include <string.h>

struct retained_ctx {
    struct umbra_server *s;
    struct umbra_session *sess;
    uint8_t granted;
};

static void send_retained(void *ctx, const char *topic, size_t len, void *m)
{
    struct retained_ctx *r = ctx;
    struct umbra_msg *msg = m;
    if (!auth_allows(r->s, r->sess->auth, POLICY_RECEIVE, topic, len)) return;
    uint8_t qos = msg->qos < r->granted ? msg->qos : r->granted;
    router_deliver(r->s, r->sess, msg, qos, true);
}

static bool has_wildcard(const char *f, size_t len)
{
    return memchr(f, '+', len) || memchr(f, '#', len);
}

/* Stored retained messages for a new subscription (none for $share). */
static void deliver_retained(struct umbra_conn *c, const struct mqtt_str *filter, uint8_t granted)
{
    const struct umbra_profile *profile = conn_listener(c)->profile;
    const char *g, *inner;
    size_t glen, ilen;
    if (mqtt_topic_split_shared(filter->ptr, filter->len, &g, &glen, &inner, &ilen)) return;
    struct retained_ctx r = {conn_listener(c)->server, c->session, granted};
    if (profile->retained_exact_only) {
        if (has_wildcard(filter->ptr, filter->len)) return;
        void *m = retain_get(conn_listener(c)->server->retained, filter->ptr, filter->len);
        if (m) send_retained(&r, filter->ptr, filter->len, m);
        return;
    }
    retain_match(conn_listener(c)->server->retained, filter->ptr, filter->len,
                 profile->hash_matches_parent, send_retained, &r);
}

/* Returns the SUBACK code for one filter, or a negative error to close. */
static int subscribe_one(struct umbra_conn *c, const struct mqtt_str *filter, uint8_t qos)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = c->session;
    const struct umbra_profile *profile = conn_listener(c)->profile;
    if (qos == 2 && profile->qos2_disconnects) return UMBRA_EPROTOCOL;
    if (!mqtt_topic_within_limits(filter->ptr, filter->len, &profile->topic_limits))
        return MQTT_SUBACK_FAILURE;
    /* iot:Subscribe on topicfilter/FILTER, '+' and '#' taken literally. */
    if (!auth_allows(s, sess->auth, POLICY_SUBSCRIBE, filter->ptr, filter->len))
        return MQTT_SUBACK_FAILURE;
    /* The broker's limit, tightened by the profile's (AWS: 50). It also
     * bounds the session's linear filter list. */
    uint64_t limit = s->cfg->max_subscriptions;
    if (profile->max_subscriptions && profile->max_subscriptions < limit)
        limit = profile->max_subscriptions;
    if (sess->nsubs >= limit && !session_sub_find(sess, filter->ptr, filter->len))
        return MQTT_SUBACK_FAILURE;
    if (session_sub_set(sess, filter->ptr, filter->len, qos, NULL)) return MQTT_SUBACK_FAILURE;
    if (trie_subscribe(s->trie, filter->ptr, filter->len, sess, qos, NULL)) {
        session_sub_del(sess, filter->ptr, filter->len);
        return MQTT_SUBACK_FAILURE;
    }
    if (sess->is_persisted)
        persist_sub_put(s->persist, sess->client_id, sess->client_id_len, filter->ptr, filter->len,
                        qos);
    return qos;
}

int handle_subscribe(struct umbra_conn *c, const struct mqtt_subscribe *sub)
{
    struct umbra_server *s = conn_listener(c)->server;
    const struct umbra_profile *profile = conn_listener(c)->profile;
    if (profile->max_filters_per_subscribe && sub->count > profile->max_filters_per_subscribe) {
        conn_close(c, "too many filters in one SUBSCRIBE");
        return UMBRA_ELIMIT;
    }
    uint8_t *codes = malloc(sub->count);
    if (!codes) {
        conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
        return UMBRA_ENOMEM;
    }
    uint64_t ops_before = persist_op_count(s->persist);
    struct mqtt_list_iter it;
    struct mqtt_str filter;
    uint8_t qos;
    size_t n = 0;
    mqtt_list_iter_init(&it, &sub->list);
    while (mqtt_subscribe_next(&it, &filter, &qos)) {
        /* AWS meters a SUBSCRIBE by each topic filter it submits. */
        usage_count(c->session->usage, USAGE_MESSAGES, usage_messages(filter.len));
        int rc = subscribe_one(c, &filter, qos);
        if (rc < 0) {
            free(codes);
            conn_close(c, "QoS 2 SUBSCRIBE is not supported on this listener");
            return rc;
        }
        codes[n++] = (uint8_t)rc;
    }
    if (persist_op_count(s->persist) != ops_before) conn_gate(c, persist_epoch(s->persist));
    size_t need = mqtt_encode_suback(s->scratch, s->scratch_size, sub->packet_id, codes, n);
    if (need <= s->scratch_size) conn_write(c, s->scratch, need, NULL, 0);

    /* Retained messages follow the SUBACK, in filter order. */
    mqtt_list_iter_init(&it, &sub->list);
    for (size_t i = 0; mqtt_subscribe_next(&it, &filter, &qos); i++)
        if (codes[i] != MQTT_SUBACK_FAILURE) deliver_retained(c, &filter, codes[i]);
    free(codes);
    return 0;
}

int handle_unsubscribe(struct umbra_conn *c, const struct mqtt_unsubscribe *unsub)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = c->session;
    uint64_t ops_before = persist_op_count(s->persist);
    struct mqtt_list_iter it;
    struct mqtt_str filter;
    mqtt_list_iter_init(&it, &unsub->list);
    while (mqtt_unsubscribe_next(&it, &filter)) {
        if (session_sub_del(sess, filter.ptr, filter.len)) continue;
        trie_unsubscribe(s->trie, filter.ptr, filter.len, sess);
        if (sess->is_persisted)
            persist_sub_del(s->persist, sess->client_id, sess->client_id_len, filter.ptr,
                            filter.len);
    }
    if (persist_op_count(s->persist) != ops_before) conn_gate(c, persist_epoch(s->persist));
    uint8_t pkt[4];
    mqtt_encode_ack(pkt, sizeof pkt, MQTT_UNSUBACK, unsub->packet_id);
    return conn_write(c, pkt, sizeof pkt, NULL, 0);
}
