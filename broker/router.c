/*
 * router.c - publish fan-out, delivery windows and acknowledgement flows.
 *
 * The hot path (QoS 0 to online subscribers) is: one trie walk collecting
 * targets into a reused array, one PUBLISH header encoded once, and per
 * target two memcpys into the connection's output buffer. QoS 1/2 targets
 * share one refcounted copy of the message; their per-recipient header
 * differs only by packet id.
 */
#include "router.h"

#include "auth.h"

#include "conn.h"
#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "persist.h"
#include "profile.h"
#include "retain.h"
#include "trie.h"
#include "usage_meter.h"

#include <stdlib.h>
#include <string.h>

/* ---- persistence of deliveries (persistent sessions, QoS > 0 only) ---- */

static void persist_new_delivery(struct umbra_server *s, struct umbra_session *sess,
                                 struct umbra_delivery *d)
{
    if (!sess->is_persisted || d->qos == 0) return;
    d->seq = sess->next_seq++;
    persist_msg_ref(s->persist, d->msg);
    persist_delivery_put(s->persist, sess->client_id, sess->client_id_len, d->seq, d->msg, d->qos,
                         d->state, d->packet_id, d->is_retained);
}

static void persist_update_delivery(struct umbra_server *s, struct umbra_session *sess,
                                    const struct umbra_delivery *d)
{
    if (!d->seq) return;
    persist_delivery_put(s->persist, sess->client_id, sess->client_id_len, d->seq, d->msg, d->qos,
                         d->state, d->packet_id, d->is_retained);
}

static void end_delivery(struct umbra_server *s, struct umbra_session *sess,
                         struct umbra_delivery *d)
{
    if (d->seq) {
        persist_delivery_del(s->persist, sess->client_id, sess->client_id_len, d->seq);
        persist_msg_unref(s->persist, d->msg);
    }
    msg_unref(d->msg);
    d->msg = NULL;
}

/* ---- writing packets ---- */

static void write_publish(struct umbra_server *s, struct umbra_conn *c, const char *topic,
                          size_t topic_len, const uint8_t *payload, size_t payload_len, uint8_t qos,
                          uint16_t packet_id, bool retain, bool dup)
{
    struct mqtt_publish pub = {
        .dup = dup,
        .qos = qos,
        .retain = retain,
        .topic = {topic, (uint16_t)topic_len},
        .packet_id = packet_id,
        .payload = {payload, payload_len},
    };
    size_t n = mqtt_encode_publish_header(s->scratch, s->scratch_size, &pub);
    if (n == 0 || n > s->scratch_size) return; /* topics are bounded: cannot happen */
    if (conn_write(c, s->scratch, n, payload, payload_len) == 0) {
        s->stats.msgs_sent++;
        s->stats.msgs_sent_by_qos[qos]++;
        if (c->session)
            usage_count(c->session->usage, USAGE_MESSAGES, usage_messages(topic_len + payload_len));
    }
}

/*
 * Publish-to-delivery latency, sampled: at most one delivery per loop turn
 * reads the clock, so under load the cost per delivery is a compare. Only
 * messages a client's PUBLISH made carry a birth time (QoS 1/2, or kept for
 * a congested or offline subscriber); retained copies and re-sends are not
 * deliveries of a fresh publish and are left out.
 */
static void sample_latency(struct umbra_server *s, const struct umbra_delivery *d)
{
    if (!d->msg->born_ns || d->is_dup || d->is_retained ||
        s->stats.latency_sampled_turn == s->turns)
        return;
    s->stats.latency_sampled_turn = s->turns;
    metrics_histogram_observe(&s->stats.delivery_latency,
                              (double)(uv_hrtime() - d->msg->born_ns) / 1e9);
}

static void write_delivery(struct umbra_server *s, struct umbra_conn *c,
                           const struct umbra_delivery *d)
{
    if (d->state == DLV_WAIT_PUBCOMP) {
        uint8_t pkt[4];
        mqtt_encode_ack(pkt, sizeof pkt, MQTT_PUBREL, d->packet_id);
        conn_write(c, pkt, sizeof pkt, NULL, 0);
        return;
    }
    sample_latency(s, d);
    write_publish(s, c, d->msg->topic, d->msg->topic_len, d->msg->payload, d->msg->payload_len,
                  d->qos, d->packet_id, d->is_retained, d->is_dup);
}

static size_t encode_qos0_header(struct umbra_server *s, const char *topic, size_t topic_len,
                                 size_t payload_len)
{
    struct mqtt_publish pub = {
        .topic = {topic, (uint16_t)topic_len},
        .payload = {NULL, payload_len},
    };
    size_t n = mqtt_encode_publish_header(s->hdr0, s->scratch_size, &pub);
    return n <= s->scratch_size ? n : 0;
}

/* Put a QoS 1/2 delivery in flight and send it. */
static void send_in_flight(struct umbra_server *s, struct umbra_session *sess,
                           struct umbra_delivery *d, bool is_new)
{
    d->packet_id = session_next_packet_id(sess);
    d->state = d->qos == 1 ? DLV_WAIT_PUBACK : DLV_WAIT_PUBREC;
    if (is_new)
        persist_new_delivery(s, sess, d);
    else
        persist_update_delivery(s, sess, d);
    write_delivery(s, sess->conn, d);
    d->is_dup = 1; /* any later send is a re-send */
    if (session_inflight_add(sess, d)) {
        log_error("out of memory: delivery to %s dropped", sess->client_id);
        end_delivery(s, sess, d);
    }
}

static bool can_send_now(const struct umbra_server *s, const struct umbra_session *sess,
                         uint8_t qos)
{
    if (!sess->conn || conn_is_congested(sess->conn)) return false;
    if (session_queued(sess) > 0) return false; /* keep order behind the queue */
    return qos == 0 || sess->ninflight < s->limits.max_inflight;
}

void router_deliver(struct umbra_server *s, struct umbra_session *sess, struct umbra_msg *msg,
                    uint8_t qos, bool is_retained)
{
    if (!sess->conn && qos == 0) {
        s->stats.dropped[UMBRA_DROP_OFFLINE_QOS0]++; /* QoS 0 is not kept for offline sessions */
        return;
    }
    if (can_send_now(s, sess, qos)) {
        if (qos == 0) {
            write_publish(s, sess->conn, msg->topic, msg->topic_len, msg->payload, msg->payload_len,
                          0, 0, is_retained, false);
            return;
        }
        struct umbra_delivery d = {.msg = msg_ref(msg), .qos = qos, .is_retained = is_retained};
        send_in_flight(s, sess, &d, true);
        return;
    }
    struct umbra_delivery d = {.msg = msg_ref(msg), .qos = qos, .is_retained = is_retained};
    persist_new_delivery(s, sess, &d);
    uint64_t seq = d.seq;
    uint64_t dropped_before = sess->dropped;
    int rc = session_enqueue(sess, &s->limits, &d);
    /* The queue makes room by dropping its oldest QoS 0 delivery, else the
     * new one: the metric counts both ($SYS counts only the new one). */
    s->stats.dropped[rc == UMBRA_ENOMEM ? UMBRA_DROP_OUT_OF_MEMORY : UMBRA_DROP_QUEUE_FULL] +=
        sess->dropped - dropped_before;
    if (rc != 0) {
        s->stats.msgs_dropped++;
        if (seq) {
            /* Dropped after being recorded: forget it on disk too. The
             * message reference went with the drop. */
            persist_delivery_del(s->persist, sess->client_id, sess->client_id_len, seq);
            persist_msg_unref(s->persist, msg);
        }
    }
}

void router_pump(struct umbra_server *s, struct umbra_session *sess)
{
    struct umbra_delivery d;
    while (sess->conn && !conn_is_congested(sess->conn) && session_dequeue(sess, &d)) {
        /* Queued while offline, perhaps before a restart (no auth then) or
         * under an older policy: iot:Receive is checked again on sending. */
        if (sess->auth &&
            !auth_allows(s, sess->auth, POLICY_RECEIVE, d.msg->topic, d.msg->topic_len)) {
            end_delivery(s, sess, &d);
            continue;
        }
        if (d.qos == 0) {
            write_publish(s, sess->conn, d.msg->topic, d.msg->topic_len, d.msg->payload,
                          d.msg->payload_len, 0, 0, d.is_retained, false);
            msg_unref(d.msg);
            continue;
        }
        if (sess->ninflight >= s->limits.max_inflight) {
            session_enqueue_front(sess, &d);
            return;
        }
        send_in_flight(s, sess, &d, false);
    }
}

void router_resume(struct umbra_server *s, struct umbra_session *sess)
{
    for (uint32_t i = 0; i < sess->ninflight; i++) {
        sess->inflight[i].is_dup = 1;
        write_delivery(s, sess->conn, &sess->inflight[i]);
    }
    router_pump(s, sess);
}

void router_acked(struct umbra_server *s, struct umbra_session *sess, int type, uint16_t packet_id)
{
    struct umbra_delivery *d = session_inflight_find(sess, packet_id);
    if (!d) return; /* unknown id: MQTT lets us ignore it */
    if (type == MQTT_PUBREC) {
        if (d->state != DLV_WAIT_PUBREC && d->state != DLV_WAIT_PUBCOMP) return;
        d->state = DLV_WAIT_PUBCOMP;
        persist_update_delivery(s, sess, d);
        write_delivery(s, sess->conn, d);
        return;
    }
    uint8_t want = type == MQTT_PUBACK ? DLV_WAIT_PUBACK : DLV_WAIT_PUBCOMP;
    if (d->state != want) return;
    struct umbra_delivery done;
    session_inflight_take(sess, packet_id, &done);
    end_delivery(s, sess, &done);
    router_pump(s, sess);
}

void router_session_offline(struct umbra_server *s, struct umbra_session *sess)
{
    /* QoS 0 deliveries waiting for a congested connection are not kept;
     * rotate the queue once, putting QoS 1/2 back in order. */
    uint32_t n = session_queued(sess);
    for (uint32_t i = 0; i < n; i++) {
        struct umbra_delivery d;
        session_dequeue(sess, &d);
        if (d.qos == 0) {
            s->stats.dropped[UMBRA_DROP_OFFLINE_QOS0]++;
            msg_unref(d.msg);
        } else
            session_enqueue(sess, &s->limits, &d);
    }
}

/* ---- fan-out ---- */

static void collect_target(void *ctx, void *subscriber, uint8_t qos, unsigned flags)
{
    struct umbra_server *s = ctx;
    struct umbra_session *sess = subscriber;
    if ((flags & TRIE_MATCH_PARENT) && !sess->profile->hash_matches_parent) return;
    bool is_shared = flags & TRIE_MATCH_SHARED;
    if (!is_shared && sess->match_epoch == s->match_epoch) {
        struct route_target *t = &s->targets[sess->match_slot];
        if (qos > t->qos) t->qos = qos;
        return;
    }
    if (s->ntargets == s->targets_cap) {
        uint32_t ncap = s->targets_cap ? s->targets_cap * 2 : 64;
        struct route_target *n = realloc(s->targets, ncap * sizeof *n);
        if (!n) {
            s->stats.msgs_dropped++;
            s->stats.dropped[UMBRA_DROP_OUT_OF_MEMORY]++;
            return;
        }
        s->targets = n;
        s->targets_cap = ncap;
    }
    if (!is_shared) {
        sess->match_epoch = s->match_epoch;
        sess->match_slot = s->ntargets;
    }
    s->targets[s->ntargets++] = (struct route_target){sess, qos};
}

static void update_retained(struct umbra_server *s, const char *topic, size_t topic_len,
                            size_t payload_len, struct umbra_msg **msg, bool is_internal)
{
    if (payload_len == 0) {
        if (retain_get(s->retained, topic, topic_len)) {
            retain_set(s->retained, topic, topic_len, NULL);
            if (!is_internal) persist_retain_del(s->persist, topic, topic_len);
        }
        return;
    }
    if (retain_set(s->retained, topic, topic_len, msg_ref(*msg))) {
        msg_unref(*msg);
        log_error("out of memory: retained message on %.*s not stored", (int)topic_len, topic);
        return;
    }
    if (!is_internal) persist_retain_set(s->persist, *msg);
}

void router_publish(struct umbra_server *s, const char *topic, size_t topic_len,
                    const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain,
                    struct umbra_msg *msg, bool is_internal)
{
    struct umbra_msg *own = NULL;
    if (retain && payload_len > 0 && !msg) {
        msg = own = msg_new(topic, topic_len, payload, payload_len, qos);
        if (!msg) {
            log_error("out of memory: message on %.*s dropped", (int)topic_len, topic);
            s->stats.msgs_dropped++;
            s->stats.dropped[UMBRA_DROP_OUT_OF_MEMORY]++;
            return;
        }
        if (s->is_timing_publish) msg->born_ns = uv_hrtime();
    }
    if (retain) update_retained(s, topic, topic_len, payload_len, &msg, is_internal);

    s->ntargets = 0;
    s->match_epoch++;
    trie_match(s->trie, topic, topic_len, collect_target, s);

    size_t hdr0_len = 0; /* the QoS 0 header, encoded once for all targets */
    uint64_t units = usage_messages((uint64_t)topic_len + payload_len); /* per delivery */
    for (uint32_t i = 0; i < s->ntargets; i++) {
        struct umbra_session *sess = s->targets[i].session;
        /* iot:Receive, for every delivery (a cached decision per topic). */
        if (sess->auth && !auth_allows(s, sess->auth, POLICY_RECEIVE, topic, topic_len)) continue;
        uint8_t q = s->targets[i].qos < qos ? s->targets[i].qos : qos;
        if (q == 0 && sess->conn && can_send_now(s, sess, 0)) {
            if (!hdr0_len) hdr0_len = encode_qos0_header(s, topic, topic_len, payload_len);
            if (hdr0_len && conn_write(sess->conn, s->hdr0, hdr0_len, payload, payload_len) == 0) {
                s->stats.msgs_sent++;
                s->stats.msgs_sent_by_qos[0]++;
                usage_count(sess->usage, USAGE_MESSAGES, units);
            }
            continue;
        }
        if (q == 0 && !sess->conn) {
            s->stats.dropped[UMBRA_DROP_OFFLINE_QOS0]++;
            continue;
        }
        if (q == 0 && !session_has_room(sess, &s->limits, payload_len)) {
            /* A congested subscriber's full queue would refuse it anyway:
             * drop it before copying it. This is the flood's common case. */
            sess->dropped++;
            s->stats.msgs_dropped++;
            s->stats.dropped[UMBRA_DROP_QUEUE_FULL]++;
            continue;
        }
        if (!msg) {
            msg = own = msg_new(topic, topic_len, payload, payload_len, qos);
            if (!msg) {
                log_error("out of memory: message on %.*s dropped", (int)topic_len, topic);
                s->stats.msgs_dropped++;
                s->stats.dropped[UMBRA_DROP_OUT_OF_MEMORY]++;
                return;
            }
            if (s->is_timing_publish) msg->born_ns = uv_hrtime();
        }
        router_deliver(s, sess, msg, q, false);
    }
    msg_unref(own);
}
