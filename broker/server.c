/*
 * server.c - the broker's lifetime: start-up (data dir, load, listeners),
 * the per-turn flush, the tick, the session table, and a clean stop.
 *
 * Each loop turn ends in flush_turn(): connection output is written first,
 * then the persistence batch collected during the turn goes to the writer
 * thread. Acknowledgements gated on that batch go out on the first turn
 * after it commits.
 */
#include "server.h"
#include "cert.h"

#include "auth.h"
#include "rule_counters.h"
#include "rules_service.h"
#include "sink_http.h"
#include "sink_postgres.h"
#include "shadow_service.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "metrics_http.h"
#include "mqtt_codec.h"
#include "notify.h"
#include "persist.h"
#include "reload.h"
#include "pki.h"
#include "registry.h"
#include "tls_engine.h"
#include "profile.h"
#include "retain.h"
#include "router.h"
#include "strmap.h"
#include "sys_topics.h"
#include "trie.h"
#include "usage_meter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#define TICK_MS 250
#define EXPIRY_SCAN_MS 1000
#define READ_BUF_SIZE (64 * 1024)
#define SCRATCH_SIZE (MQTT_MAX_HEADER_LEN + 2 + 65535 + 2 + 64)

uint64_t server_now_ms(const struct umbra_server *s)
{
    return uv_now(s->loop);
}

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static bool session_is_online(void *subscriber)
{
    return ((struct umbra_session *)subscriber)->conn != NULL;
}

static void release_retained(void *m)
{
    msg_unref(m);
}

int server_init(struct umbra_server *s, uv_loop_t *loop, const struct umbra_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = cfg;
    s->limits.max_inflight = (uint32_t)cfg->max_inflight;
    s->limits.max_queued_messages =
        cfg->max_queued_messages > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->max_queued_messages;
    s->limits.max_queued_bytes = cfg->max_queued_bytes;
    s->max_packet_size = (size_t)cfg->max_packet_size;
    /* A congested connection holds at most this much unsent output before
     * deliveries wait in its session queue (bounded there). */
    s->max_out_bytes = 1024 * 1024;
    s->conns.prev = s->conns.next = &s->conns;
    s->dirty.prev = s->dirty.next = &s->dirty;
    s->turn_paused.prev = s->turn_paused.next = &s->turn_paused;
    s->trie = trie_new(session_is_online);
    s->retained = retain_new(release_retained);
    s->sessions = strmap_new();
    s->read_buf_size = READ_BUF_SIZE;
    s->read_buf = malloc(READ_BUF_SIZE);
    s->scratch_size = SCRATCH_SIZE;
    s->scratch = malloc(2 * SCRATCH_SIZE);
    s->hdr0 = s->scratch ? s->scratch + SCRATCH_SIZE : NULL;
    if (!s->trie || !s->retained || !s->sessions || !s->read_buf || !s->scratch) {
        server_free(s);
        return UMBRA_ENOMEM;
    }
    s->start_ms = wall_ms();
    metrics_histogram_init(&s->stats.persist_commit, metrics_latency_bounds,
                           metrics_latency_nbounds);
    metrics_histogram_init(&s->stats.delivery_latency, metrics_latency_bounds,
                           metrics_latency_nbounds);
    return 0;
}

/* ---- sessions ---- */

struct umbra_session *server_session_find(struct umbra_server *s, const char *id, size_t len)
{
    return strmap_get(s->sessions, id, len);
}

struct umbra_session *server_session_create(struct umbra_server *s, const char *id, size_t len,
                                            bool is_clean)
{
    struct umbra_session *sess = session_new(id, len);
    if (!sess) return NULL;
    sess->is_clean = is_clean;
    sess->profile = umbra_profile_find(s->cfg->mqtt_profile);
    if (strmap_put_borrowed(s->sessions, sess->client_id, len, sess, NULL)) {
        session_free(sess);
        return NULL;
    }
    sess->usage = usage_meter_acquire(s->usage, sess->client_id, len);
    return sess;
}

static void drop_session_messages(struct umbra_server *s, struct umbra_session *sess)
{
    /* Persisted deliveries go with the session row; release their messages'
     * disk references so shared message rows are deleted with the last. */
    for (uint32_t i = 0; i < sess->ninflight; i++)
        if (sess->inflight[i].seq && s->persist)
            persist_msg_unref(s->persist, sess->inflight[i].msg);
    for (uint32_t i = 0; i < sess->qlen; i++) {
        struct umbra_delivery *d = &sess->queue[(sess->qhead + i) % sess->qcap];
        if (d->seq && s->persist) persist_msg_unref(s->persist, d->msg);
    }
}

void server_session_destroy(struct umbra_server *s, struct umbra_session *sess)
{
    auth_unref(sess->auth);
    sess->auth = NULL;
    for (uint32_t i = 0; i < sess->nsubs; i++)
        trie_unsubscribe(s->trie, sess->subs[i].filter, sess->subs[i].len, sess);
    drop_session_messages(s, sess);
    if (sess->is_persisted && s->persist)
        persist_session_del(s->persist, sess->client_id, sess->client_id_len);
    strmap_del(s->sessions, sess->client_id, sess->client_id_len);
    usage_meter_release(s->usage, sess->usage);
    session_free(sess);
}

static void expire_sessions(struct umbra_server *s, uint64_t now)
{
    uint64_t ttl = s->cfg->session_expiry * 1000;
    if (!ttl) return;
    /* Collect first: destroying while iterating would move the map. */
    struct umbra_session *expired[64];
    size_t n;
    do {
        n = 0;
        struct strmap_iter it;
        const char *k;
        size_t kl;
        void *v;
        strmap_iter_init(&it, s->sessions);
        while (n < 64 && strmap_next(&it, &k, &kl, &v)) {
            struct umbra_session *sess = v;
            if (!sess->conn && now - sess->offline_since_ms >= ttl) expired[n++] = sess;
        }
        for (size_t i = 0; i < n; i++) {
            log_event(UMBRA_LOG_INFO, "session_expired", "session expired: id={client_id}",
                      LOG_STR("client_id", expired[i]->client_id));
            server_session_destroy(s, expired[i]);
        }
    } while (n == 64);
}

/* ---- loading persisted state ---- */

struct load_ctx {
    struct umbra_server *s;
    struct strmap *msgs; /* 8-byte id -> struct umbra_msg (one reference) */
    uint64_t now;
};

static int load_retained(void *ctx, const char *topic, size_t tlen, const void *payload,
                         size_t plen, uint8_t qos)
{
    struct load_ctx *l = ctx;
    struct umbra_msg *m = msg_new(topic, tlen, payload, plen, qos);
    if (!m) return UMBRA_ENOMEM;
    return retain_set(l->s->retained, topic, tlen, m);
}

static int load_message(void *ctx, uint64_t id, const char *topic, size_t tlen, const void *payload,
                        size_t plen, uint8_t qos)
{
    struct load_ctx *l = ctx;
    struct umbra_msg *m = msg_new(topic, tlen, payload, plen, qos);
    if (!m) return UMBRA_ENOMEM;
    m->db_id = id;
    if (strmap_put(l->msgs, (const char *)&id, sizeof id, m, NULL)) {
        msg_unref(m);
        return UMBRA_ENOMEM;
    }
    return 0;
}

static int load_session(void *ctx, const char *id, size_t len, uint64_t offline_since)
{
    struct load_ctx *l = ctx;
    struct umbra_session *sess = server_session_create(l->s, id, len, false);
    if (!sess) return UMBRA_ENOMEM;
    sess->is_persisted = true;
    /* Offline time is wall-clock on disk; expiry counts from this start. */
    (void)offline_since;
    sess->offline_since_ms = l->now;
    return 0;
}

static int load_subscription(void *ctx, const char *id, size_t len, const char *filter, size_t flen,
                             uint8_t qos)
{
    struct load_ctx *l = ctx;
    struct umbra_session *sess = server_session_find(l->s, id, len);
    if (!sess || !mqtt_topic_filter_valid(filter, flen) || qos > 2) return 0;
    if (session_sub_set(sess, filter, flen, qos, NULL)) return UMBRA_ENOMEM;
    return trie_subscribe(l->s->trie, filter, flen, sess, qos, NULL);
}

static int load_delivery(void *ctx, const char *id, size_t len, uint64_t seq, uint64_t msg_id,
                         uint8_t qos, uint8_t state, uint16_t packet_id, bool is_retained)
{
    struct load_ctx *l = ctx;
    struct umbra_session *sess = server_session_find(l->s, id, len);
    struct umbra_msg *m = strmap_get(l->msgs, (const char *)&msg_id, sizeof msg_id);
    if (!sess || !m || qos == 0 || qos > 2 || state > DLV_WAIT_PUBCOMP) return 0;
    if (seq >= sess->next_seq) sess->next_seq = seq + 1;
    m->persist_refs++;
    struct umbra_delivery d = {
        .msg = msg_ref(m),
        .seq = seq,
        .packet_id = packet_id,
        .qos = qos,
        .state = state,
        .is_retained = is_retained,
        .is_dup = state != DLV_QUEUED,
    };
    if (state == DLV_QUEUED || packet_id == 0 || session_inflight_find(sess, packet_id)) {
        d.state = DLV_QUEUED;
        d.packet_id = 0;
        /* Bypass the bounds: these were accepted under them already. */
        return session_enqueue_front(sess, &d) ? UMBRA_ENOMEM : 0;
    }
    return session_inflight_add(sess, &d);
}

static int load_incoming(void *ctx, const char *id, size_t len, uint16_t packet_id)
{
    struct load_ctx *l = ctx;
    struct umbra_session *sess = server_session_find(l->s, id, len);
    return sess ? session_incoming_qos2_add(sess, packet_id) : 0;
}

/* session_enqueue_front reverses order; loaded queues are fixed up here. */
static void reverse_queues(struct umbra_server *s)
{
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    strmap_iter_init(&it, s->sessions);
    while (strmap_next(&it, &k, &kl, &v)) {
        struct umbra_session *sess = v;
        for (uint32_t i = 0, j = sess->qlen ? sess->qlen - 1 : 0; i < j; i++, j--) {
            struct umbra_delivery *a = &sess->queue[(sess->qhead + i) % sess->qcap];
            struct umbra_delivery *b = &sess->queue[(sess->qhead + j) % sess->qcap];
            struct umbra_delivery t = *a;
            *a = *b;
            *b = t;
        }
    }
}

static int load_shadow(void *ctx, const char *key, size_t klen, const char *doc, size_t dlen)
{
    return shadow_service_load(((struct load_ctx *)ctx)->s, key, klen, doc, dlen);
}

static int load_state(struct umbra_server *s)
{
    struct load_ctx l = {s, strmap_new(), wall_ms()};
    if (!l.msgs) return UMBRA_ENOMEM;
    l.now = server_now_ms(s);
    struct persist_loader loader = {
        .ctx = &l,
        .retained = load_retained,
        .message = load_message,
        .session = load_session,
        .subscription = load_subscription,
        .delivery = load_delivery,
        .incoming_qos2 = load_incoming,
        .shadow = load_shadow,
    };
    int rc = persist_load(s->persist, &loader);
    reverse_queues(s);
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    strmap_iter_init(&it, l.msgs);
    while (strmap_next(&it, &k, &kl, &v))
        msg_unref(v);
    strmap_free(l.msgs);
    if (!rc)
        log_info("loaded %zu retained messages and %zu persistent sessions",
                 retain_count(s->retained), strmap_count(s->sessions));
    return rc;
}

/* ---- certificates ---- */

struct trust_entry {
    char status[20];
    bool has_ca, is_ca_active;
    int64_t not_before, not_after;
};

static void free_trust(struct strmap *m)
{
    if (!m) return;
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    strmap_iter_init(&it, m);
    while (strmap_next(&it, &k, &kl, &v))
        free(v);
    strmap_free(m);
}

static void add_trust(void *ctx, const struct reg_trust *t)
{
    struct trust_entry *e = calloc(1, sizeof *e);
    if (!e) return;
    snprintf(e->status, sizeof e->status, "%s", t->status);
    e->has_ca = t->has_ca;
    e->is_ca_active = t->is_ca_active;
    e->not_before = t->not_before;
    e->not_after = t->not_after;
    if (strmap_put(ctx, t->id, strlen(t->id), e, NULL)) free(e);
}

/* Rebuild the certificate cache from the registry. */
static int load_trust(struct umbra_server *s)
{
    struct strmap *m = strmap_new();
    if (!m) return UMBRA_ENOMEM;
    if (registry_each_certificate(s->registry, add_trust, m)) {
        free_trust(m);
        return UMBRA_EIO;
    }
    free_trust(s->trust);
    s->trust = m;
    return 0;
}

bool server_certificate_allowed(struct umbra_server *s, const char *cert_id, const char **why)
{
    if (s->admin_cert_id[0] && strcmp(cert_id, s->admin_cert_id) == 0) return true;
    struct trust_entry *e = s->trust ? strmap_get(s->trust, cert_id, strlen(cert_id)) : NULL;
    int64_t now = (int64_t)(wall_ms() / 1000);
    if (!e)
        *why = "certificate not registered";
    else if (strcmp(e->status, "ACTIVE") != 0)
        *why = strcmp(e->status, "REVOKED") == 0 ? "certificate REVOKED" : "certificate not ACTIVE";
    else if (now < e->not_before)
        *why = "certificate not yet valid";
    else if (now > e->not_after)
        *why = "certificate expired";
    else if (e->has_ca && !e->is_ca_active)
        *why = "CA certificate not ACTIVE";
    else
        return true;
    return false;
}

bool server_certificate_is_known(struct umbra_server *s, const char *cert_id)
{
    return s->trust && strmap_get(s->trust, cert_id, strlen(cert_id));
}

/* Registry changed (umbractl), or a reload asked: reload, and drop
 * connections whose certificate may no longer connect. */
static void refresh_registry(struct umbra_server *s, bool is_forced)
{
    uint64_t counter;
    if (!s->registry || registry_change_counter(s->registry, &counter) ||
        (counter == s->registry_counter && !is_forced))
        return;
    if (load_trust(s)) {
        /* The counter is not taken: the next tick tries again. */
        log_error("cannot reload certificates from the registry");
        return;
    }
    if (auth_refresh_all(s) == 0) s->registry_counter = counter;
    rules_service_load(s);
    struct conn_list *n = s->conns.next;
    while (n != &s->conns) {
        struct conn_list *next = n->next;
        struct umbra_conn *c = (struct umbra_conn *)((char *)n - offsetof(struct umbra_conn, link));
        const char *why;
        if (c->tls && c->tls->is_admitted &&
            !server_certificate_allowed(s, c->tls->cert_id, &why)) {
            log_event(UMBRA_LOG_WARN, "certificate_closed",
                      "closing connections of certificate {cert}: {reason}",
                      LOG_STR("cert", c->tls->cert_id), LOG_STR("reason", why));
            conn_close_for(c, UMBRA_CLOSE_CERTIFICATE, why);
        }
        n = next;
    }
}

void server_refresh_registry(struct umbra_server *s)
{
    refresh_registry(s, false);
}

void server_reload_registry(struct umbra_server *s)
{
    refresh_registry(s, true);
}

/* Where the server's certificate and key come from: configured files, else
 * the ones Umbra made in the data dir. */
static void server_credentials(const struct umbra_config *cfg, char *cert, char *key, size_t cap)
{
    if (cfg->tls_cert)
        snprintf(cert, cap, "%s", cfg->tls_cert);
    else
        snprintf(cert, cap, "%s/server.pem", cfg->data_dir);
    if (cfg->tls_key)
        snprintf(key, cap, "%s", cfg->tls_key);
    else
        snprintf(key, cap, "%s/server.key", cfg->data_dir);
}

/* ALPN as AWS's endpoints take it: MQTT on 8883, HTTP on 8443. */
static const char *const mqtt_alpn[] = {"x-amzn-mqtt-ca", "mqtt", NULL};
static const char *const http_alpn[] = {"x-amzn-http-ca", "http/1.1", NULL};

static int make_tls_context(const struct umbra_config *cfg, const char *const *alpn,
                            struct tls_context **out, char *err, size_t errlen)
{
    char cert[4096], key[4096];
    server_credentials(cfg, cert, key, sizeof cert);
    /* No CA here: a device certificate is trusted by its registry entry
     * (whose CA signature was checked when it was registered), so checking
     * the chain again on every handshake would only cost an ECDSA verify. */
    struct tls_options o = {.is_server = true, .cert_file = cert, .key_file = key, .alpn = alpn};
    return tls_context_new(out, &o, err, errlen);
}

/* SIGHUP: new handshakes use the certificate and key now on disk; the
 * connections made with the old ones keep them (and their context) to the
 * end. A file that does not load leaves everything as it was. */
static int reload_context(struct umbra_server *s, struct tls_context **ctx,
                          const char *const *alpn)
{
    char err[512];
    struct tls_context *fresh;
    if (make_tls_context(s->cfg, alpn, &fresh, err, sizeof err)) {
        log_event(UMBRA_LOG_ERROR, "tls_reload_refused",
                  "reload: kept the current server certificate: {reason}", LOG_STR("reason", err));
        return -1;
    }
    for (int i = 0; i < s->nlisteners; i++)
        if (s->listeners[i]->tls == *ctx) s->listeners[i]->tls = fresh;
    tls_context_free(*ctx);
    *ctx = fresh;
    return 0;
}

void server_reload_tls(struct umbra_server *s)
{
    if (!s->tls || reload_context(s, &s->tls, mqtt_alpn) ||
        reload_context(s, &s->https_tls, http_alpn))
        return;
    char cert[4096], key[4096];
    server_credentials(s->cfg, cert, key, sizeof cert);
    log_event(UMBRA_LOG_INFO, "tls_reloaded", "reload: new TLS connections use {file}",
              LOG_STR("file", cert));
}

/* Default host names of the server certificate: loopback and this machine. */
static int certificate_hosts(const struct umbra_config *cfg, char **list)
{
    if (cfg->hosts) {
        *list = strdup(cfg->hosts);
    } else {
        char name[256] = "";
        if (gethostname(name, sizeof name - 1) || strchr(name, ',')) name[0] = '\0';
        size_t n = strlen(name) + 32;
        if ((*list = malloc(n)))
            snprintf(*list, n, "localhost,127.0.0.1,::1%s%s", *name ? "," : "", name);
    }
    return *list ? 0 : UMBRA_ENOMEM;
}

/* What a new user needs next: where the CA is, the endpoint, the commands. */
static void announce_first_start(const struct umbra_config *cfg)
{
    char endpoint[256] = "localhost", host[128];
    int port = 8883;
    pki_endpoint(cfg->data_dir, endpoint, sizeof endpoint);
    config_parse_listen(cfg->mqtts, host, sizeof host, &port);
    log_info("first start: made a CA and a server certificate in %s", cfg->data_dir);
    log_info("  devices trust %s/ca.pem; endpoint %s, port %d", cfg->data_dir, endpoint, port);
    log_info("  next: umbractl --data-dir %s create-keys-and-certificate --set-as-active "
             "--certificate-pem-outfile device.pem.crt --private-key-outfile device.pem.key",
             cfg->data_dir);
    log_info("  then: mosquitto_pub -h %s -p %d --cafile %s/ca.pem --cert device.pem.crt "
             "--key device.pem.key -i my-device -t hello -m world",
             endpoint, port, cfg->data_dir);
}

/* Where umbractl finds a listener: DATA_DIR/FILE holds its bound address (a
 * wildcard one as loopback, port 0 as the port the kernel chose), e.g.
 * endpoint-url "https://127.0.0.1:8443" for the HTTPS API and metrics-url
 * "http://127.0.0.1:9883/metrics". */
static void write_url_file(struct umbra_server *s, const uv_tcp_t *tcp, const char *scheme,
                           const char *suffix, const char *file)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "127.0.0.1", url[160], path[4096];
    int port = 0;
    if (uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len)) return;
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        port = ntohs(a->sin6_port);
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            snprintf(ip, sizeof ip, "::1");
        else
            uv_ip6_name(a, ip, sizeof ip);
        snprintf(url, sizeof url, "%s://[%s]:%d%s", scheme, ip, port, suffix);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        port = ntohs(a->sin_port);
        if (a->sin_addr.s_addr != htonl(INADDR_ANY)) uv_ip4_name(a, ip, sizeof ip);
        snprintf(url, sizeof url, "%s://%s:%d%s", scheme, ip, port, suffix);
    }
    snprintf(path, sizeof path, "%s/%s", s->cfg->data_dir, file);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", url) < 0) log_warn("cannot write %s", path);
    if (f) fclose(f);
}

/* umbractl's certificate (DATA_DIR/umbractl.pem): an administrator on the
 * HTTPS API, allowed everything, never in the registry. */
static int load_admin_identity(struct umbra_server *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/umbractl.pem", s->cfg->data_dir);
    FILE *f = fopen(path, "rb");
    char pem[8192];
    size_t n = f ? fread(pem, 1, sizeof pem - 1, f) : 0;
    if (f) fclose(f);
    pem[n] = '\0';
    struct cert_info info;
    if (!n || cert_parse((const uint8_t *)pem, n + 1, &info, NULL, 0)) {
        log_error("cannot read umbractl's certificate %s", path);
        return UMBRA_EIO;
    }
    memcpy(s->admin_cert_id, info.id, sizeof s->admin_cert_id);
    snprintf(s->admin_principal, sizeof s->admin_principal, "%scert/%s", s->arn_prefix, info.id);
    return 0;
}

static int start_tls_listener(struct umbra_server *s)
{
    const struct umbra_config *cfg = s->cfg;
    char err[512];
    const char *hosts[17] = {0};
    char *list;
    if (certificate_hosts(cfg, &list)) return UMBRA_ENOMEM;
    int n = 0;
    for (char *save = NULL, *h = strtok_r(list, ",", &save); h && n < 16;
         h = strtok_r(NULL, ",", &save))
        if (*h) hosts[n++] = h;
    bool created = false;
    int rc = pki_init_data_dir(cfg->data_dir, hosts, &created, err, sizeof err);
    if (rc) {
        free(list);
        log_error("%s", err);
        return rc;
    }
    free(list);
    if (created) announce_first_start(cfg);
    if ((rc = load_admin_identity(s))) return rc;
    if ((rc = make_tls_context(cfg, mqtt_alpn, &s->tls, err, sizeof err)) ||
        (rc = make_tls_context(cfg, http_alpn, &s->https_tls, err, sizeof err))) {
        log_error("TLS: %s", err);
        return rc;
    }
    if ((rc = load_trust(s))) return rc;
    s->tls_plain_size = 16384 + 1024;
    s->tls_plain = malloc(s->tls_plain_size);
    if (!s->tls_plain) return UMBRA_ENOMEM;
    /* Both TLS listeners share the server certificate and the trust cache;
     * HTTPS is AWS's data plane, so it has AWS's limits. */
    if (cfg->mqtts &&
        (rc = listener_start(s, "mqtts", cfg->mqtts, umbra_profile_find(cfg->mqtts_profile),
                             s->tls)))
        return rc;
    if (cfg->https &&
        (rc = listener_start(s, "https", cfg->https, umbra_profile_find("aws"), s->https_tls)))
        return rc;
    if (cfg->https)
        write_url_file(s, &s->listeners[s->nlisteners - 1]->tcp, "https", "", "endpoint-url");
    return 0;
}

/* ---- loop hooks ---- */

static void flush_turn(uv_prepare_t *h)
{
    struct umbra_server *s = h->data;
    s->turns++;
    conn_flush_all(s);
    conn_resume_turn(s);
    persist_flush(s->persist);
}

static void on_committed(void *ctx, uint64_t epoch)
{
    struct umbra_server *s = ctx;
    /* Timed by the writer thread; recorded here, on the loop, lock-free. */
    metrics_histogram_observe(&s->stats.persist_commit,
                              (double)persist_last_commit_ns(s->persist) / 1e9);
    /* Gated connections stay on the dirty list; the next turn's flush
     * releases what this commit unblocked. Shadow replies that waited for
     * this batch go out now. */
    shadow_service_committed(s, epoch);
}

static void on_tick(uv_timer_t *t)
{
    struct umbra_server *s = t->data;
    uint64_t now = server_now_ms(s);
    struct conn_list *n = s->conns.next;
    while (n != &s->conns) {
        struct conn_list *next = n->next; /* conn_tick may close (unlink) it */
        struct umbra_conn *c = (struct umbra_conn *)((char *)n - offsetof(struct umbra_conn, link));
        conn_tick(c, now);
        n = next;
    }
    server_refresh_registry(s);
    rule_counters_update(s);
    usage_meter_tick(s->usage, s->persist, wall_ms(),
                     (s->cfg->usage_flush_interval ? s->cfg->usage_flush_interval : 1) * 1000);
    metrics_http_tick(s, now);
    if (now - s->last_expiry_scan_ms >= EXPIRY_SCAN_MS) {
        s->last_expiry_scan_ms = now;
        expire_sessions(s, now);
    }
}

static void on_sys_timer(uv_timer_t *t)
{
    sys_topics_publish(t->data);
}

void server_start_sys_timer(struct umbra_server *s)
{
    uint64_t ms = s->cfg->sys_interval * 1000;
    uv_timer_stop(&s->sys_timer);
    if (ms) uv_timer_start(&s->sys_timer, on_sys_timer, ms, ms);
}

void server_set_config_loader(struct umbra_server *s, server_config_loader fn, void *ctx,
                              const char *file)
{
    s->load_config = fn;
    s->load_config_ctx = ctx;
    s->config_file = file;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct umbra_server *s = h->data;
    if (signum == SIGHUP) {
        log_event(UMBRA_LOG_INFO, "signal", "received {signal}, reloading",
                  LOG_STR("signal", "SIGHUP"));
        reload_run(s);
        usage_meter_flush(s->usage, s->persist, wall_ms()); /* a way to see usage now */
        return;
    }
    log_event(UMBRA_LOG_INFO, "signal", "received {signal}, shutting down",
              LOG_STR("signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
    server_stop(s);
}

static int make_data_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
    log_error("cannot create data directory %s: %s", dir, strerror(errno));
    return UMBRA_EIO;
}

/* The listeners accept connections: tell the service manager, with what
 * `systemctl status` shows. */
void server_notify_ready(struct umbra_server *s)
{
    char state[512];
    int n = snprintf(state, sizeof state, "READY=1\nSTATUS=serving");
    for (int i = 0; i < s->nlisteners && n > 0 && (size_t)n < sizeof state; i++)
        n += snprintf(state + n, sizeof state - (size_t)n, "%s %s on %s", i ? "," : "",
                      s->listeners[i]->kind, s->listeners[i]->addr);
    if (notify_send(state)) log_warn("cannot notify the service manager at $NOTIFY_SOCKET");
}

/* Last, so that DATA_DIR/metrics-url appears once everything answers. A
 * data dir that had a metrics listener before loses its file: a health
 * check must not ask a port some other process may hold now. */
static int start_metrics_listener(struct umbra_server *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics-url", s->cfg->data_dir);
    if (!s->cfg->metrics) {
        if (unlink(path) && errno != ENOENT) log_warn("cannot remove %s", path);
        return 0;
    }
    int rc = metrics_http_start(s, s->cfg->metrics);
    if (rc) return rc;
    write_url_file(s, &s->metrics->tcp, "http", "/metrics", "metrics-url");
    return 0;
}

int server_start(struct umbra_server *s)
{
    const struct umbra_config *cfg = s->cfg;
    int rc = make_data_dir(cfg->data_dir);
    if (rc) return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/umbra.db", cfg->data_dir);
    rc = persist_open(&s->persist, path, strcmp(cfg->persist_sync, "full") == 0);
    if (rc) return rc;
    /* Before loading: loaded sessions take their meters. */
    if (!(s->usage = usage_meter_new(wall_ms()))) return UMBRA_ENOMEM;
    if ((rc = shadow_service_init(s))) return rc;
    rc = load_state(s);
    if (rc) {
        log_error("cannot load state from %s: %s", path, umbra_strerror(rc));
        return rc;
    }
    rc = persist_start(s->persist, s->loop, on_committed, s);
    if (rc) return rc;
    /* The registry: identities, policies, things (never on the message path). */
    char err[512];
    if ((rc = registry_open(&s->registry, path, cfg->region, err, sizeof err))) {
        log_error("%s", err);
        return rc;
    }
    registry_change_counter(s->registry, &s->registry_counter);
    if ((rc = auth_server_init(s))) return rc;
    rules_service_load(s); /* a rule that does not load is logged and skipped */

    uv_prepare_init(s->loop, &s->flush_handle);
    s->flush_handle.data = s;
    uv_prepare_start(&s->flush_handle, flush_turn);
    uv_timer_init(s->loop, &s->tick_timer);
    s->tick_timer.data = s;
    uv_timer_start(&s->tick_timer, on_tick, TICK_MS, TICK_MS);
    uv_timer_init(s->loop, &s->sys_timer);
    s->sys_timer.data = s;
    if (cfg->sys_interval) sys_topics_publish(s);
    server_start_sys_timer(s);
    uv_signal_init(s->loop, &s->sigint_handle);
    uv_signal_init(s->loop, &s->sigterm_handle);
    uv_signal_init(s->loop, &s->sighup_handle);
    s->sigint_handle.data = s->sigterm_handle.data = s->sighup_handle.data = s;
    uv_signal_start(&s->sigint_handle, on_signal, SIGINT);
    uv_signal_start(&s->sigterm_handle, on_signal, SIGTERM);
    uv_signal_start(&s->sighup_handle, on_signal, SIGHUP);
    s->has_handles = true;

    if (cfg->mqtt) {
        rc = listener_start(s, "mqtt", cfg->mqtt, umbra_profile_find(cfg->mqtt_profile), NULL);
        if (rc) return rc;
    }
    if ((cfg->mqtts || cfg->https) && (rc = start_tls_listener(s))) return rc;
    if (s->nlisteners == 0)
        log_warn("no listener configured: pass --mqtts, --https or --mqtt HOST:PORT");
    if ((rc = start_metrics_listener(s))) return rc;
    s->is_ready = true;
    server_notify_ready(s);
    return 0;
}

void server_stop(struct umbra_server *s)
{
    if (s->is_stopping) return;
    s->is_stopping = true;
    notify_send("STOPPING=1");
    metrics_http_stop(s);
    for (int i = 0; i < s->nlisteners; i++)
        listener_close(s->listeners[i]);
    s->nlisteners = 0;
    conn_flush_all(s);
    while (s->conns.next != &s->conns) {
        struct umbra_conn *c =
            (struct umbra_conn *)((char *)s->conns.next - offsetof(struct umbra_conn, link));
        /* Wills are for clients that vanish, not for a broker that stops. */
        c->is_clean_disconnect = true;
        conn_close_for(c, UMBRA_CLOSE_SERVER_STOP, "server shutting down");
    }
    if (s->has_handles) {
        uv_prepare_stop(&s->flush_handle);
        uv_close((uv_handle_t *)&s->flush_handle, NULL);
        uv_close((uv_handle_t *)&s->tick_timer, NULL);
        uv_close((uv_handle_t *)&s->sys_timer, NULL);
        uv_close((uv_handle_t *)&s->sigint_handle, NULL);
        uv_close((uv_handle_t *)&s->sigterm_handle, NULL);
        uv_close((uv_handle_t *)&s->sighup_handle, NULL);
        s->has_handles = false;
    }
    /* Sinks end before the writer: what they report back is counted. */
    sink_http_stop(s);
    sink_postgres_stop(s);
    rule_counters_remove(s);
    /* What was metered since the last write goes with the last batch. */
    usage_meter_flush(s->usage, s->persist, wall_ms());
    /* Write what the turn collected and stop the writer (closes its handle). */
    persist_close(s->persist);
    s->persist = NULL;
}

void server_free(struct umbra_server *s)
{
    if (s->persist) {
        persist_close(s->persist);
        s->persist = NULL;
    }
    if (s->sessions) {
        struct strmap_iter it;
        const char *k;
        size_t kl;
        void *v;
        strmap_iter_init(&it, s->sessions);
        while (strmap_next(&it, &k, &kl, &v)) {
            auth_unref(((struct umbra_session *)v)->auth);
            session_free(v);
        }
        strmap_free(s->sessions);
    }
    trie_free(s->trie);
    retain_free(s->retained);
    free_trust(s->trust);
    shadow_service_free(s);
    rules_service_free(s);
    usage_meter_free(s->usage);
    auth_server_free(s);
    registry_close(s->registry);
    tls_context_free(s->tls);
    tls_context_free(s->https_tls);
    free(s->tls_plain);
    free(s->read_buf);
    free(s->scratch);
    free(s->targets);
    if (s->reloaded) {
        config_free(s->reloaded);
        free(s->reloaded);
    }
    memset(s, 0, sizeof *s);
}
