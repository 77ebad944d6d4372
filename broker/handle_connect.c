/*
 * handle_connect.c - CONNECT: validation, client id, takeover, session
 * resume or creation, will, keepalive, CONNACK.
 */
#include "auth.h"
#include "conn.h"
#include "tls_engine.h"
#include "error.h"
#include "log.h"
#include "mqtt_codec.h"
#include "persist.h"
#include "profile.h"
#include "router.h"
#include "usage_meter.h"

#include <stdio.h>
#include <string.h>

/* A CONNECT that does not become a session: counted, then closed. */
static void end_connect(struct umbra_conn *c, enum umbra_connect_result result,
                        enum umbra_close_reason why, const char *reason)
{
    conn_listener(c)->server->stats.connects[result]++;
    conn_close_for(c, why, reason);
}

static void refuse(struct umbra_conn *c, uint8_t rc, const char *why)
{
    uint8_t pkt[4];
    mqtt_encode_connack(pkt, sizeof pkt, false, rc);
    conn_write(c, pkt, sizeof pkt, NULL, 0);
    char reason[96];
    snprintf(reason, sizeof reason, "CONNACK %u: %s", rc, why);
    bool is_unavailable = rc == MQTT_CONNACK_UNAVAILABLE;
    end_connect(c,
                is_unavailable                    ? UMBRA_CONNECT_UNAVAILABLE
                : rc == MQTT_CONNACK_BAD_PROTOCOL ? UMBRA_CONNECT_BAD_PROTOCOL
                                                  : UMBRA_CONNECT_ID_REJECTED,
                is_unavailable ? UMBRA_CLOSE_ERROR : UMBRA_CLOSE_PROTOCOL_ERROR, reason);
}

static uint16_t effective_keepalive(const struct umbra_profile *p, uint16_t asked)
{
    if (!p->keepalive_max) return asked;
    if (asked == 0 || asked > p->keepalive_max) return p->keepalive_max;
    if (asked < p->keepalive_min) return p->keepalive_min;
    return asked;
}

/* Generated ids never start with '$' (reserved on AWS). */
static size_t generate_client_id(struct umbra_conn *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "umbra-%llx-%llx",
                     (unsigned long long)conn_listener(c)->server->start_ms,
                     (unsigned long long)++conn_listener(c)->server->generated_ids);
    return n < 0 ? 0 : (size_t)n;
}

static int take_will(struct umbra_conn *c, const struct mqtt_connect *m)
{
    if (!m->has_will) return 0;
    if (!mqtt_topic_within_limits(m->will_topic.ptr, m->will_topic.len,
                                  &conn_listener(c)->profile->topic_limits))
        return UMBRA_ETOPIC;
    if (conn_listener(c)->profile->qos2_disconnects && m->will_qos == 2) return UMBRA_EPROTOCOL;
    c->will = msg_new(m->will_topic.ptr, m->will_topic.len, m->will_payload.ptr,
                      m->will_payload.len, m->will_qos);
    if (!c->will) return UMBRA_ENOMEM;
    c->will_qos = m->will_qos;
    c->will_retain = m->will_retain;
    return 0;
}

/* Find or make the session; *present tells CONNACK whether one was resumed. */
static struct umbra_session *open_session(struct umbra_conn *c, const char *id, size_t id_len,
                                          bool is_clean, bool *present)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct umbra_session *sess = server_session_find(s, id, id_len);
    if (sess && sess->conn) {
        /* Takeover (MQTT-3.1.4-2): the older connection goes, with its will.
         * A clean session dies with it, so look the id up again. */
        conn_close_for(sess->conn, UMBRA_CLOSE_TAKEN_OVER,
                       "session taken over by a new connection");
        sess = server_session_find(s, id, id_len);
    }
    *present = false;
    if (sess && is_clean) {
        server_session_destroy(s, sess);
        sess = NULL;
    }
    if (sess) {
        *present = true;
        return sess;
    }
    sess = server_session_create(s, id, id_len, is_clean);
    if (sess && !is_clean) {
        sess->is_persisted = true;
        persist_session_put(s->persist, sess->client_id, sess->client_id_len, 0);
    }
    return sess;
}

/* One line per accepted client: who, from where, how; over TLS, which
 * certificate, ALPN and server name. */
static void log_connected(struct umbra_conn *c, const struct umbra_session *sess, bool is_clean,
                          bool is_resumed)
{
    char peer[CONN_PEER_MAX];
    const char *alpn = c->tls ? tls_conn_alpn(c->tls->engine) : NULL;
    const char *sni = c->tls ? tls_conn_sni(c->tls->engine) : NULL;
    log_event(UMBRA_LOG_INFO, "client_connected",
              "client connected: id={client_id} addr={address} listener={listener} "
              "clean={clean} keepalive={keepalive}",
              LOG_STR("client_id", sess->client_id),
              LOG_STR("address", conn_peer(c, peer, sizeof peer)),
              LOG_STR("listener", conn_listener(c)->kind), LOG_BOOL("clean", is_clean),
              LOG_INT("keepalive", c->keepalive), LOG_STR("session", is_resumed ? "resumed" : NULL),
              LOG_FLAG("insecure", strcmp(conn_listener(c)->kind, "mqtt") == 0),
              LOG_STR("cert", c->tls ? c->tls->cert_id : NULL), LOG_STR("alpn", alpn),
              LOG_STR("sni", sni));
}

int handle_connect(struct umbra_conn *c, const struct mqtt_frame *f)
{
    struct umbra_server *s = conn_listener(c)->server;
    const struct umbra_profile *profile = conn_listener(c)->profile;
    struct mqtt_packet pkt;
    int rc = mqtt_decode(f, &pkt);
    if (rc == UMBRA_EPROTO_NAME || rc == UMBRA_EPROTO_LEVEL) {
        refuse(c, MQTT_CONNACK_BAD_PROTOCOL, umbra_strerror(rc));
        return rc;
    }
    if (rc == UMBRA_ECLIENT_ID) {
        refuse(c, MQTT_CONNACK_ID_REJECTED, "empty client id needs clean session");
        return rc;
    }
    if (rc) {
        end_connect(c, UMBRA_CONNECT_MALFORMED, UMBRA_CLOSE_PROTOCOL_ERROR, "malformed CONNECT");
        return rc;
    }
    const struct mqtt_connect *m = &pkt.u.connect;
    if (profile->max_client_id && m->client_id.len > profile->max_client_id) {
        refuse(c, MQTT_CONNACK_ID_REJECTED, "client id too long");
        return UMBRA_ECLIENT_ID;
    }
    char generated[64];
    const char *id = m->client_id.ptr;
    size_t id_len = m->client_id.len;
    if (id_len == 0) {
        id_len = generate_client_id(c, generated, sizeof generated);
        id = generated;
    }
    rc = take_will(c, m);
    if (rc) {
        if (rc == UMBRA_ENOMEM)
            end_connect(c, UMBRA_CONNECT_UNAVAILABLE, UMBRA_CLOSE_ERROR, "out of memory");
        else
            end_connect(c, UMBRA_CONNECT_MALFORMED, UMBRA_CLOSE_PROTOCOL_ERROR, "will not allowed");
        return rc;
    }
    /* iot:Connect on client/ID, and a will needs iot:Publish (and
     * iot:RetainPublish) on its topic. Refused before any session is
     * touched: a denied client cannot take over someone else's. AWS closes
     * an MQTT 3.1.1 connection without CONNACK. */
    struct umbra_auth *auth;
    if (auth_open(s, c, m, id, id_len, &auth)) {
        refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory");
        return UMBRA_ENOMEM;
    }
    if (!auth_allows(s, auth, POLICY_CONNECT, id, id_len) ||
        (m->has_will &&
         (!auth_allows(s, auth, POLICY_PUBLISH, m->will_topic.ptr, m->will_topic.len) ||
          (m->will_retain &&
           !auth_allows(s, auth, POLICY_RETAIN_PUBLISH, m->will_topic.ptr, m->will_topic.len))))) {
        auth_unref(auth);
        end_connect(c, UMBRA_CONNECT_NOT_AUTHORIZED, UMBRA_CLOSE_POLICY,
                    "not authorized to connect");
        return UMBRA_EDENIED;
    }

    uint64_t ops_before = persist_op_count(s->persist);
    bool present;
    struct umbra_session *sess = open_session(c, id, id_len, m->clean_session, &present);
    if (!sess) {
        auth_unref(auth);
        refuse(c, MQTT_CONNACK_UNAVAILABLE, "out of memory");
        return UMBRA_ENOMEM;
    }
    auth_unref(sess->auth);
    sess->auth = auth;
    sess->conn = c;
    sess->profile = profile;
    c->session = sess;
    c->state = CONN_CONNECTED;
    c->keepalive = effective_keepalive(profile, m->keepalive);
    c->last_rx_ms = (uint32_t)server_now_ms(s);
    /* AWS meters a CONNECT by its size, will included, and connectivity
     * from its first minute. */
    c->connected_ms = server_now_ms(s);
    c->minutes_metered = 1;
    usage_count(sess->usage, USAGE_CONNECTION_MINUTES, 1);
    usage_count(sess->usage, USAGE_MESSAGES, usage_messages(f->body_len));
    s->stats.clients_connected++;
    s->stats.connections_total++;
    s->stats.connects[UMBRA_CONNECT_ACCEPTED]++;
    if (s->stats.clients_connected > s->stats.clients_maximum)
        s->stats.clients_maximum = s->stats.clients_connected;

    /* A new persistent session is acknowledged only once it is on disk. */
    if (persist_op_count(s->persist) != ops_before) conn_gate(c, persist_epoch(s->persist));
    uint8_t ack[4];
    mqtt_encode_connack(ack, sizeof ack, present, MQTT_CONNACK_ACCEPTED);
    conn_write(c, ack, sizeof ack, NULL, 0);
    log_connected(c, sess, m->clean_session, present);
    if (present) router_resume(s, sess);
    return 0;
}
