/*
 * http_conn.c - HTTPS requests on a connection, answered as AWS IoT's
 * data plane answers them (GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow, ListNamedShadowsForThing, Publish).
 */
#include "http_conn.h"

#include "auth.h"
#include "conn.h"
#include "error.h"
#include "http_request.h"
#include "http_response.h"
#include "log.h"
#include "mqtt_topic.h"
#include "persist.h"
#include "profile.h"
#include "rest_route.h"
#include "router.h"
#include "rules_service.h"
#include "shadow.h"
#include "usage_meter.h"
#include "shadow_service.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_conn {
    struct http_reader reader;
    struct umbra_auth *auth; /* the certificate's policies */
    uint32_t request_started_ms; /* 0: between requests */
    uint32_t linger_since_ms;    /* 0 until the write side is shut down */
    bool is_done;                /* the last response is queued: close once it is written */
    const char *usage_key;       /* whose usage the request is (borrowed while handled) */
};

static struct http_conn *state(const struct umbra_conn *c)
{
    return c->tls ? c->tls->http : NULL;
}

/* x-amzn-RequestId: a UUID-shaped id, unique per process run. */
static void request_id(struct umbra_server *s, char out[37])
{
    uint64_t a = s->start_ms * 2654435761u ^ (uint64_t)s->next_conn_id << 20,
             b = ++s->http_requests;
    snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xfff, (unsigned)(b >> 48) & 0xfff,
             (unsigned long long)(b & 0xffffffffffffull));
}

/* Queue one response; gated on `epoch` when it reports a durable change. */
static void respond(struct umbra_conn *c, const struct http_request *req, int status,
                    const char *body, size_t len, const char *error_type, const char *rid,
                    uint64_t epoch)
{
    struct http_conn *h = state(c);
    bool keep = req && req->is_keep_alive && status < 500;
    char head[HTTP_HEAD_MAX];
    size_t n = http_response_head(head, sizeof head, status, "application/json", len, keep, rid,
                                  error_type);
    if (epoch) conn_gate(c, epoch);
    /* AWS meters a response by its body, error responses included. */
    const char *who = h->usage_key ? h->usage_key : "";
    usage_meter_add(conn_listener(c)->server->usage, who, strlen(who), USAGE_MESSAGES,
                    usage_body_messages(len));
    if (!n || conn_write(c, head, n, body, len)) {
        conn_close(c, "out of memory");
        return;
    }
    if (!keep) h->is_done = true;
}

static void respond_error(struct umbra_conn *c, const struct http_request *req, int status,
                          const char *exception, const char *message, const char *rid)
{
    char *body = http_error_body(message ? message : http_status_reason(status));
    const char *text = body ? body : "{}";
    respond(c, req, status, text, strlen(text), exception ? exception : http_aws_exception(status),
            rid, 0);
    free(body);
}

static void respond_json(struct umbra_conn *c, const struct http_request *req, json_t *o,
                         const char *rid, uint64_t epoch)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (!body) {
        respond_error(c, req, 500, NULL, "Internal service failure", rid);
        return;
    }
    respond(c, req, 200, body, strlen(body), NULL, rid, epoch);
    free(body);
}

/* ---- operations ---- */

static const enum policy_action shadow_actions[] = {
    [REST_GET_THING_SHADOW] = POLICY_GET_THING_SHADOW,
    [REST_UPDATE_THING_SHADOW] = POLICY_UPDATE_THING_SHADOW,
    [REST_DELETE_THING_SHADOW] = POLICY_DELETE_THING_SHADOW,
};

static const enum shadow_op shadow_ops[] = {
    [REST_GET_THING_SHADOW] = SHADOW_GET,
    [REST_UPDATE_THING_SHADOW] = SHADOW_UPDATE,
    [REST_DELETE_THING_SHADOW] = SHADOW_DELETE,
};

/* Policies name a shadow as thing/THING, or thing/THING/SHADOW for a named one. */
static bool may(struct umbra_conn *c, enum policy_action action, const struct rest_route *rt)
{
    char name[2 * REST_MAX_NAME + 2];
    int n = snprintf(name, sizeof name, "%s%s%s", rt->thing, rt->shadow[0] ? "/" : "", rt->shadow);
    return auth_allows(conn_listener(c)->server, state(c)->auth, action, name, (size_t)n);
}

static void do_shadow(struct umbra_conn *c, const struct http_request *req,
                      const struct rest_route *rt, const char *rid)
{
    struct umbra_server *s = conn_listener(c)->server;
    if (!may(c, shadow_actions[rt->op], rt)) {
        respond_error(c, req, 403, "ForbiddenException", "Forbidden", rid);
        return;
    }
    if (req->body_len > SHADOW_MAX_PAYLOAD) {
        respond_error(c, req, 413, NULL, "The payload exceeds the maximum size allowed", rid);
        return;
    }
    struct shadow_call_result r;
    if (shadow_service_call(s, rt->thing, rt->shadow, shadow_ops[rt->op], req->body, req->body_len,
                            &r)) {
        respond_error(c, req, 400, NULL,
                      rt->shadow[0] ? "Invalid thing name or shadow name" : "Invalid thing name",
                      rid);
        return;
    }
    if (r.status == 200)
        respond(c, req, 200, r.body, strlen(r.body), NULL, rid, r.epoch);
    else
        respond_error(c, req, r.status, NULL, r.message, rid);
    shadow_call_result_free(&r);
}

static void do_list_named(struct umbra_conn *c, const struct http_request *req,
                          const struct rest_route *rt, const char *rid)
{
    if (!may(c, POLICY_LIST_NAMED_SHADOWS, rt)) {
        respond_error(c, req, 403, "ForbiddenException", "Forbidden", rid);
        return;
    }
    json_t *o;
    if (shadow_service_list_named(conn_listener(c)->server, rt->thing, rt->next_token,
                                  rt->page_size, &o)) {
        respond_error(c, req, 500, NULL, "Internal service failure", rid);
        return;
    }
    respond_json(c, req, o, rid, 0);
    json_decref(o);
}

static void do_publish(struct umbra_conn *c, const struct http_request *req,
                       const struct rest_route *rt, const char *rid)
{
    struct umbra_server *s = conn_listener(c)->server;
    const char *topic = rt->topic;
    size_t tlen = rt->topic_len;
    if (!mqtt_topic_name_valid(topic, tlen) ||
        !mqtt_topic_within_limits(topic, tlen, &conn_listener(c)->profile->topic_limits)) {
        respond_error(c, req, 400, NULL, "Invalid topic name", rid);
        return;
    }
    if (req->body_len > s->max_packet_size) {
        respond_error(c, req, 413, "RequestEntityTooLargeException",
                      "The payload exceeds the maximum size allowed", rid);
        return;
    }
    if (!auth_allows(s, state(c)->auth, POLICY_PUBLISH, topic, tlen) ||
        (rt->is_retained && !auth_allows(s, state(c)->auth, POLICY_RETAIN_PUBLISH, topic, tlen))) {
        s->stats.publish_denied++;
        respond_error(c, req, 403, "ForbiddenException", "Forbidden", rid);
        return;
    }
    s->stats.msgs_received++;
    s->stats.msgs_received_by_qos[(unsigned)rt->qos < 3 ? rt->qos : 0]++;
    uint64_t ops_before = persist_op_count(s->persist);
    /* As over MQTT: a shadow request topic reaches the shadow service, and
     * the message is routed like any other (but never into $SYS). */
    struct shadow_topic st;
    if (shadow_topic_parse(topic, tlen, &st))
        shadow_service_request(s, &st, topic, req->body, req->body_len);
    bool is_sys = tlen >= 5 && memcmp(topic, "$SYS/", 5) == 0;
    if (!is_sys && !rules_service_is_ingest(topic, tlen))
        router_publish(s, topic, tlen, req->body, req->body_len, (uint8_t)rt->qos, rt->is_retained,
                       NULL, false);
    if (!is_sys) {
        struct rules_origin o = {NULL, c->tls->cert_id}; /* HTTP has no client id */
        rules_service_message(s, topic, tlen, req->body, req->body_len, &o);
    }
    uint64_t epoch = persist_op_count(s->persist) != ops_before ? persist_epoch(s->persist) : 0;
    json_t *o = json_pack("{s:s, s:s}", "message", "OK", "traceId", rid);
    respond_json(c, req, o, rid, epoch);
    json_decref(o);
}

static void handle(struct umbra_conn *c, const struct http_request *req)
{
    char rid[37];
    request_id(conn_listener(c)->server, rid);
    struct rest_route rt;
    struct rest_route_error err;
    struct umbra_server *s = conn_listener(c)->server;
    if (rest_route(req->method, req->target, req->target_len, &rt, &err)) {
        usage_meter_add(s->usage, "", 0, USAGE_MESSAGES, usage_messages(req->body_len));
        respond_error(c, req, err.status, err.exception, err.message, rid);
        return;
    }
    /* Metered for the shadow's thing; a publish for the account (HTTP
     * has no client id). A retained publish is a RETAINED message too. */
    struct http_conn *h = state(c);
    h->usage_key = rt.thing;
    uint64_t units = usage_messages(req->body_len);
    usage_meter_add(s->usage, rt.thing, strlen(rt.thing), USAGE_MESSAGES,
                    rt.op == REST_PUBLISH && rt.is_retained ? 2 * units : units);
    switch (rt.op) {
    case REST_GET_THING_SHADOW:
    case REST_UPDATE_THING_SHADOW:
    case REST_DELETE_THING_SHADOW:
        do_shadow(c, req, &rt, rid);
        break;
    case REST_LIST_NAMED_SHADOWS:
        do_list_named(c, req, &rt, rid);
        break;
    case REST_PUBLISH:
        do_publish(c, req, &rt, rid);
        break;
    }
    h->usage_key = NULL;
}

/* ---- the connection ---- */

int http_conn_open(struct umbra_conn *c)
{
    struct umbra_server *s = conn_listener(c)->server;
    struct http_conn *h = calloc(1, sizeof *h);
    if (!h) return UMBRA_ENOMEM;
    /* Bodies up to the MQTT packet limit (AWS: 128 KB for both). */
    http_reader_init(&h->reader, s->max_packet_size);
    if (auth_open_rest(s, c, &h->auth)) {
        http_reader_free(&h->reader);
        free(h);
        return UMBRA_ENOMEM;
    }
    c->tls->http = h;
    return 0;
}

void http_conn_consume(struct umbra_conn *c, const uint8_t *data, size_t len)
{
    struct http_conn *h = state(c);
    struct umbra_server *s = conn_listener(c)->server;
    if (!h) return;
    while (len && !h->is_done && c->state != CONN_CLOSING) {
        size_t used;
        enum http_read r = http_reader_feed(&h->reader, data, len, &used);
        data += used;
        len -= used;
        s->stats.bytes_received += used;
        if (h->reader.wants_continue && r == HTTP_READ_MORE) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write(c, cont, sizeof cont - 1, NULL, 0);
        }
        h->reader.wants_continue = false;
        if (r == HTTP_READ_ERROR) {
            char peer[CONN_PEER_MAX];
            log_info("https: bad request from %s: %s", conn_peer(c, peer, sizeof peer),
                     h->reader.error_reason ? h->reader.error_reason : "malformed");
            char rid[37];
            request_id(s, rid);
            respond_error(c, NULL, h->reader.error_status, NULL,
                          http_status_reason(h->reader.error_status), rid);
            return;
        }
        if (r == HTTP_READ_MORE) break;
        handle(c, http_reader_request(&h->reader));
        http_reader_next(&h->reader);
        h->request_started_ms = 0;
    }
    if (http_reader_is_mid_request(&h->reader) && !h->request_started_ms)
        h->request_started_ms = (uint32_t)server_now_ms(s) | 1;
}

bool http_conn_is_done(const struct umbra_conn *c)
{
    struct http_conn *h = state(c);
    return h && h->is_done;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

void http_conn_linger(struct umbra_conn *c)
{
    struct http_conn *h = state(c);
    if (!h || h->linger_since_ms) return;
    h->linger_since_ms = (uint32_t)server_now_ms(conn_listener(c)->server) | 1;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown)) {
        free(req);
        conn_close(c, "response sent, connection: close");
    }
}

void http_conn_tick(struct umbra_conn *c, uint64_t now_ms)
{
    struct http_conn *h = state(c);
    if (!h) return;
    if (h->linger_since_ms) {
        if ((uint32_t)now_ms - h->linger_since_ms >= HTTP_LINGER_MS)
            conn_close(c, "response sent, connection: close");
        return;
    }
    if (h->is_done) return;
    if (h->request_started_ms && (uint32_t)now_ms - h->request_started_ms >= HTTP_REQUEST_TIMEOUT_MS) {
        char rid[37];
        request_id(conn_listener(c)->server, rid);
        respond_error(c, NULL, 408, "RequestTimeoutException", "Request Timeout", rid);
        return;
    }
    if (!h->request_started_ms && c->out.len == 0 &&
        (uint32_t)now_ms - c->last_rx_ms >= HTTP_IDLE_TIMEOUT_MS)
        conn_close(c, "idle keep-alive connection");
}

void http_conn_free(struct umbra_conn *c)
{
    struct http_conn *h = state(c);
    if (!h) return;
    http_reader_free(&h->reader);
    auth_unref(h->auth);
    free(h);
    c->tls->http = NULL;
}
