/*
 * handle_publish.c - PUBLISH from a client and the acknowledgement packets
 * of both directions (PUBACK, PUBREC, PUBREL, PUBCOMP).
 *
 * Incoming QoS 2 uses the spec's "method B" bookkeeping: the message is
 * routed when the PUBLISH arrives and its packet id remembered until
 * PUBREL, so a re-sent PUBLISH with the same id is not routed twice.
 */
#include "auth.h"
#include "rules_service.h"
#include "shadow_service.h"
#include "shadow_topic.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "persist.h"
#include "profile.h"
#include "router.h"
#include "usage_meter.h"

#include <string.h>

static void send_ack(struct umbra_conn *c, enum mqtt_type type, uint16_t packet_id)
{
    uint8_t pkt[4];
    mqtt_encode_ack(pkt, sizeof pkt, type, packet_id);
    conn_write(c, pkt, sizeof pkt, NULL, 0);
}

/* Clients may not write the broker's own $SYS tree: drop silently, as
 * mosquitto does, but still complete the QoS flow. */
static bool is_reserved_for_broker(const struct mqtt_publish *p)
{
    return p->topic.len >= 5 && memcmp(p->topic.ptr, "$SYS/", 5) == 0;
}

int handle_publish(struct umbra_conn *c, const struct mqtt_publish *p, const struct mqtt_frame *f)
{
    (void)f;
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = c->session;
    const struct umbra_profile *profile = conn_listener(c)->profile;
    if (p->qos == 2 && profile->qos2_disconnects) {
        conn_close(c, "QoS 2 PUBLISH is not supported on this listener");
        return UMBRA_EPROTOCOL;
    }
    if (!mqtt_topic_within_limits(p->topic.ptr, p->topic.len, &profile->topic_limits)) {
        conn_close(c, "topic exceeds the listener's limits");
        return UMBRA_ETOPIC;
    }
    /* A PUBLISH the policies do not allow closes the connection, as AWS
     * does for MQTT 3.1.1 (no PUBACK). */
    if (!auth_allows(s, sess->auth, POLICY_PUBLISH, p->topic.ptr, p->topic.len) ||
        (p->retain &&
         !auth_allows(s, sess->auth, POLICY_RETAIN_PUBLISH, p->topic.ptr, p->topic.len))) {
        s->stats.publish_denied++;
        conn_close_for(c, UMBRA_CLOSE_POLICY,
                       p->retain ? "not authorized to publish (retained) to this topic"
                                 : "not authorized to publish to this topic");
        return UMBRA_EDENIED;
    }
    s->stats.msgs_received++;
    /* An inbound PUBLISH by topic and payload; a retained one also as a
     * RETAINED message. */
    uint64_t units = usage_messages((uint64_t)p->topic.len + p->payload.len);
    usage_count(sess->usage, USAGE_MESSAGES, p->retain ? 2 * units : units);
    s->stats.msgs_received_by_qos[p->qos]++;

    if (p->qos == 2 && session_incoming_qos2_has(sess, p->packet_id)) {
        send_ack(c, MQTT_PUBREC, p->packet_id); /* a re-send: already routed */
        return 0;
    }
    uint64_t ops_before = persist_op_count(s->persist);
    /* A shadow request is also an ordinary message: subscribers (and rules)
     * see it. The service's replies follow once its change is durable. */
    struct shadow_topic st;
    if (shadow_topic_parse(p->topic.ptr, p->topic.len, &st))
        shadow_service_request(s, &st, p->topic.ptr, p->payload.ptr, p->payload.len);
    /* Basic Ingest ($aws/rules/RULE/...) reaches its rule only, never subscribers. */
    bool is_ingest = rules_service_is_ingest(p->topic.ptr, p->topic.len);
    if (!is_reserved_for_broker(p) && !is_ingest) {
        s->is_timing_publish = true; /* messages it makes carry their birth time */
        router_publish(s, p->topic.ptr, p->topic.len, p->payload.ptr, p->payload.len, p->qos,
                       p->retain, NULL, false);
        s->is_timing_publish = false;
    }
    if (!is_reserved_for_broker(p)) {
        struct rules_origin o = {sess->client_id, c->tls ? c->tls->cert_id : NULL};
        rules_service_message(s, p->topic.ptr, p->topic.len, p->payload.ptr, p->payload.len, &o);
    }
    if (p->qos == 0) return 0;
    if (p->qos == 2) {
        if (session_incoming_qos2_add(sess, p->packet_id)) {
            conn_close_for(c, UMBRA_CLOSE_ERROR, "out of memory");
            return UMBRA_ENOMEM;
        }
        if (sess->is_persisted)
            persist_incoming_qos2(s->persist, sess->client_id, sess->client_id_len, p->packet_id,
                                  true);
    }
    /* Acknowledge only what is durable: gate the ack on this turn's batch
     * when routing stored anything (retained, persistent-session queues). */
    if (persist_op_count(s->persist) != ops_before) conn_gate(c, persist_epoch(s->persist));
    send_ack(c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p->packet_id);
    return 0;
}

int handle_ack(struct umbra_conn *c, int type, uint16_t packet_id)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = c->session;
    if (type == MQTT_PUBREL) {
        if (session_incoming_qos2_del(sess, packet_id) && sess->is_persisted)
            persist_incoming_qos2(s->persist, sess->client_id, sess->client_id_len, packet_id,
                                  false);
        /* PUBCOMP even for an unknown id (MQTT-4.3.3-2 re-sent PUBREL). */
        send_ack(c, MQTT_PUBCOMP, packet_id);
        return 0;
    }
    if (type == MQTT_PUBACK) usage_count(sess->usage, USAGE_MESSAGES, 1); /* one 5 KB message */
    if (type == MQTT_PUBREC && conn_listener(c)->profile->qos2_disconnects) {
        conn_close(c, "QoS 2 flow is not supported on this listener");
        return UMBRA_EPROTOCOL;
    }
    /* A PUBREL must not go out before its state is stored: re-sending the
     * PUBLISH after a crash would deliver the message twice. */
    uint64_t ops_before = persist_op_count(s->persist);
    uint64_t out_before = c->out_total;
    router_acked(s, sess, type, packet_id);
    if (persist_op_count(s->persist) != ops_before)
        conn_gate_from(c, persist_epoch(s->persist), out_before);
    return 0;
}
