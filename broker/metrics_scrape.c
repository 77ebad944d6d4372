/*
 * metrics_scrape.c - every metric, its help and its labels, in one place.
 *
 * Label values come from fixed tables here (reasons, results, QoS levels,
 * listener kinds) or from the operator (rule names): never from clients,
 * so the number of series is bounded whatever devices send.
 */
#include "metrics_scrape.h"

#include "conn.h"
#include "error.h"
#include "metrics.h"
#include "persist.h"
#include "policy.h"
#include "retain.h"
#include "rules_service.h"
#include "server.h"
#include "strmap.h"
#include "trie.h"
#include "version.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const close_reasons[] = {
    [UMBRA_CLOSE_PROTOCOL_ERROR] = "protocol_error",
    [UMBRA_CLOSE_CLIENT] = "client",
    [UMBRA_CLOSE_CONNECTION_LOST] = "connection_lost",
    [UMBRA_CLOSE_KEEPALIVE] = "keepalive",
    [UMBRA_CLOSE_TIMEOUT] = "timeout",
    [UMBRA_CLOSE_TAKEN_OVER] = "taken_over",
    [UMBRA_CLOSE_POLICY] = "policy",
    [UMBRA_CLOSE_CERTIFICATE] = "certificate",
    [UMBRA_CLOSE_TLS] = "tls",
    [UMBRA_CLOSE_LIMIT] = "limit",
    [UMBRA_CLOSE_SERVER_STOP] = "server_stop",
    [UMBRA_CLOSE_ERROR] = "error",
};
_Static_assert(NELEMS(close_reasons) == UMBRA_CLOSE_NREASONS, "a label per close reason");

static const char *const connect_results[] = {
    [UMBRA_CONNECT_ACCEPTED] = "accepted",
    [UMBRA_CONNECT_BAD_PROTOCOL] = "bad_protocol",
    [UMBRA_CONNECT_ID_REJECTED] = "identifier_rejected",
    [UMBRA_CONNECT_UNAVAILABLE] = "server_unavailable",
    [UMBRA_CONNECT_NOT_AUTHORIZED] = "not_authorized",
    [UMBRA_CONNECT_MALFORMED] = "malformed",
};
_Static_assert(NELEMS(connect_results) == UMBRA_CONNECT_NRESULTS, "a label per CONNECT result");

static const char *const drop_reasons[] = {
    [UMBRA_DROP_QUEUE_FULL] = "queue_full",
    [UMBRA_DROP_OFFLINE_QOS0] = "offline_qos0",
    [UMBRA_DROP_OUT_OF_MEMORY] = "out_of_memory",
};
_Static_assert(NELEMS(drop_reasons) == UMBRA_DROP_NREASONS, "a label per drop reason");

static const char *const tls_failures[] = {
    [UMBRA_TLS_NO_CLIENT_CERT] = "no_client_cert",
    [UMBRA_TLS_UNKNOWN_CERT] = "unknown_cert",
    [UMBRA_TLS_CERT_NOT_ACTIVE] = "cert_not_active",
    [UMBRA_TLS_PROTOCOL] = "protocol",
    [UMBRA_TLS_TIMEOUT] = "timeout",
};
_Static_assert(NELEMS(tls_failures) == UMBRA_TLS_NFAILURES, "a label per TLS failure");

/* The actions the broker evaluates; the others are never counted. */
static const struct {
    enum policy_action action;
    const char *label;
} denial_actions[] = {
    {POLICY_CONNECT, "connect"},
    {POLICY_PUBLISH, "publish"},
    {POLICY_RETAIN_PUBLISH, "retain_publish"},
    {POLICY_SUBSCRIBE, "subscribe"},
    {POLICY_RECEIVE, "receive"},
    {POLICY_GET_THING_SHADOW, "get_thing_shadow"},
    {POLICY_UPDATE_THING_SHADOW, "update_thing_shadow"},
    {POLICY_DELETE_THING_SHADOW, "delete_thing_shadow"},
    {POLICY_LIST_NAMED_SHADOWS, "list_named_shadows"},
};

static const char *const qos_labels[] = {"0", "1", "2"};
static const char *const shadow_operations[] = {"update", "get", "delete"}; /* enum shadow_op */
static const char *const listener_kinds[] = {"mqtt", "mqtts", "https"};

/* A scrape in progress: the first allocation failure sticks. */
struct scrape {
    struct buf *out;
    int rc;
};

static void family(struct scrape *sc, const char *name, const char *type, const char *help)
{
    if (!sc->rc) sc->rc = metrics_family(sc->out, name, type, help);
}

static void sample(struct scrape *sc, const char *name, const char *label, const char *value,
                   uint64_t v)
{
    struct metrics_label l = {label, value};
    if (!sc->rc) sc->rc = metrics_u64(sc->out, name, &l, label ? 1 : 0, v);
}

static void sample_double(struct scrape *sc, const char *name, double v)
{
    if (!sc->rc) sc->rc = metrics_double(sc->out, name, NULL, 0, v);
}

/* One family without labels. */
static void single(struct scrape *sc, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    family(sc, name, type, help);
    sample(sc, name, NULL, NULL, v);
}

/* One family with one label, a sample for every value of a fixed table. */
static void by_label(struct scrape *sc, const char *name, const char *type, const char *help,
                     const char *label, const char *const *values, const uint64_t *counts, size_t n)
{
    family(sc, name, type, help);
    for (size_t i = 0; i < n; i++)
        sample(sc, name, label, values[i], counts[i]);
}

static void histogram(struct scrape *sc, const char *name, const char *help,
                      const struct metrics_histogram *h)
{
    family(sc, name, "histogram", help);
    if (!sc->rc) sc->rc = metrics_histogram_write(sc->out, name, NULL, 0, h);
}

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---- connections and sessions ---- */

static void scrape_connections(struct scrape *sc, struct umbra_server *s)
{
    uint64_t open[NELEMS(listener_kinds)] = {0};
    bool is_on[NELEMS(listener_kinds)] = {false};
    for (int i = 0; i < s->nlisteners; i++)
        for (size_t k = 0; k < NELEMS(listener_kinds); k++)
            if (strcmp(s->listeners[i]->kind, listener_kinds[k]) == 0) is_on[k] = true;
    /* A walk per scrape: counting on accept and close would cost every
     * connection, this costs only the scraper (100,000 connections: ~1 ms). */
    for (struct conn_list *n = s->conns.next; n != &s->conns; n = n->next) {
        struct umbra_conn *c = (struct umbra_conn *)((char *)n - offsetof(struct umbra_conn, link));
        for (size_t k = 0; k < NELEMS(listener_kinds); k++)
            if (strcmp(conn_listener(c)->kind, listener_kinds[k]) == 0) open[k]++;
    }
    family(sc, "umbra_connections", "gauge",
           "Connections open, by listener (MQTT connections before CONNECT included).");
    for (size_t k = 0; k < NELEMS(listener_kinds); k++)
        if (is_on[k]) sample(sc, "umbra_connections", "listener", listener_kinds[k], open[k]);
    const struct umbra_stats *st = &s->stats;
    single(sc, "umbra_clients_connected", "gauge", "MQTT clients with an accepted CONNECT.",
           st->clients_connected);
    by_label(sc, "umbra_connects_total", "counter", "CONNECT packets handled, by outcome.",
             "result", connect_results, st->connects, UMBRA_CONNECT_NRESULTS);
    by_label(sc, "umbra_disconnects_total", "counter",
             "MQTT connections closed, by reason (before or after CONNECT).", "reason",
             close_reasons, st->disconnects, UMBRA_CLOSE_NREASONS);
    single(sc, "umbra_tls_handshakes_total", "counter", "TLS handshakes completed.",
           st->tls_handshakes);
    by_label(sc, "umbra_tls_handshake_failures_total", "counter",
             "TLS connections not admitted, by reason.", "reason", tls_failures, st->tls_failures,
             UMBRA_TLS_NFAILURES);
    static const char *const cert_listeners[] = {"mqtts", "https"};
    by_label(sc, "umbra_auth_failures_total", "counter",
             "Client certificates refused (missing, unregistered or not active), by listener.",
             "listener", cert_listeners, st->auth_failures, 2);
    family(sc, "umbra_policy_denials_total", "counter",
           "Operations the attached policies refused, by action.");
    for (size_t i = 0; i < NELEMS(denial_actions); i++)
        sample(sc, "umbra_policy_denials_total", "action", denial_actions[i].label,
               st->policy_denials[denial_actions[i].action]);
}

static void scrape_sessions(struct scrape *sc, struct umbra_server *s)
{
    uint64_t queued = 0, inflight = 0;
    struct strmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    strmap_iter_init(&it, s->sessions);
    while (strmap_next(&it, &k, &kl, &v)) {
        queued += session_queued(v);
        inflight += ((struct umbra_session *)v)->ninflight;
    }
    single(sc, "umbra_sessions", "gauge", "Sessions, online and offline persistent ones.",
           strmap_count(s->sessions));
    single(sc, "umbra_subscriptions", "gauge", "Subscriptions in the topic tree.",
           trie_count(s->trie));
    single(sc, "umbra_messages_queued", "gauge",
           "Deliveries waiting in session queues (offline or congested subscribers).", queued);
    single(sc, "umbra_messages_inflight", "gauge",
           "QoS 1 and 2 deliveries sent and not yet acknowledged.", inflight);
    single(sc, "umbra_retained_messages", "gauge", "Retained messages.", retain_count(s->retained));
}

/* ---- messages ---- */

static void scrape_messages(struct scrape *sc, struct umbra_server *s)
{
    const struct umbra_stats *st = &s->stats;
    by_label(sc, "umbra_messages_received_total", "counter",
             "PUBLISH messages accepted from clients (MQTT and HTTPS), by QoS.", "qos", qos_labels,
             st->msgs_received_by_qos, 3);
    by_label(sc, "umbra_messages_sent_total", "counter",
             "PUBLISH packets written to clients, by QoS.", "qos", qos_labels, st->msgs_sent_by_qos,
             3);
    single(sc, "umbra_bytes_received_total", "counter",
           "Bytes of MQTT packets and HTTPS requests read.", st->bytes_received);
    single(sc, "umbra_bytes_sent_total", "counter", "Bytes written to clients, before TLS.",
           st->bytes_sent);
    by_label(sc, "umbra_messages_dropped_total", "counter", "Deliveries not made, by reason.",
             "reason", drop_reasons, st->dropped, UMBRA_DROP_NREASONS);
    family(sc, "umbra_shadow_operations_total", "counter",
           "Device shadow requests (MQTT and HTTPS), by operation and result.");
    for (int op = 0; op < 3; op++)
        for (int rejected = 0; rejected < 2; rejected++) {
            struct metrics_label l[2] = {{"operation", shadow_operations[op]},
                                         {"result", rejected ? "rejected" : "accepted"}};
            if (!sc->rc)
                sc->rc = metrics_u64(sc->out, "umbra_shadow_operations_total", l, 2,
                                     st->shadow_ops[op][rejected]);
        }
    histogram(sc, "umbra_persist_commit_seconds",
              "Time the writer thread took to commit one persistence batch.", &st->persist_commit);
    histogram(sc, "umbra_delivery_latency_seconds",
              "Time from reading a PUBLISH to writing it to a subscriber (QoS 1/2 and kept "
              "messages; at most one sample per loop turn).",
              &st->delivery_latency);
}

/* ---- rules ---- */

struct rule_families {
    struct scrape *sc;
    const char *name;
    int which; /* 0 evaluated, 1 matched, 2 failed, 3 dropped */
};

static void rule_sample(void *ctx, const char *rule, const struct rules_counts *c)
{
    struct rule_families *f = ctx;
    const uint64_t v[] = {c->evaluated, c->matched, c->failed, c->dropped};
    sample(f->sc, f->name, "rule", rule, v[f->which]);
}

static void scrape_rules(struct scrape *sc, struct umbra_server *s)
{
    static const struct {
        const char *name, *help;
    } families[] = {
        {"umbra_rule_evaluations_total", "Messages a topic rule's FROM matched, by rule."},
        {"umbra_rule_matches_total", "Messages a topic rule's WHERE accepted, by rule."},
        {"umbra_rule_action_failures_total", "Rule actions that failed, by rule."},
        {"umbra_rule_actions_dropped_total",
         "Rule actions dropped because their sink's queue was full, by rule."},
    };
    for (int i = 0; i < (int)NELEMS(families); i++) {
        family(sc, families[i].name, "counter", families[i].help);
        struct rule_families f = {sc, families[i].name, i};
        rules_service_each_rule(s, rule_sample, &f);
    }
}

/* ---- the process, from /proc ---- */

struct proc_stat {
    double cpu_seconds, start_time;
    uint64_t rss_bytes;
};

/* /proc/self/stat: fields after the command's closing parenthesis (the
 * command may hold spaces and parentheses); utime 14, stime 15, starttime
 * 22, rss 24. */
static int read_proc_stat(struct proc_stat *ps)
{
    char text[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');
    if (!p) return UMBRA_EIO;
    unsigned long long utime, stime, start, rss;
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
               "%*d %llu %*u %llu",
               &utime, &stime, &start, &rss) != 4)
        return UMBRA_EIO;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    unsigned long long boot = 0;
    char line[256];
    if ((f = fopen("/proc/stat", "r"))) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "btime %llu", &boot) == 1) break;
        fclose(f);
    }
    ps->cpu_seconds = (double)(utime + stime) / ticks;
    ps->start_time = (double)boot + (double)start / ticks;
    ps->rss_bytes = rss * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

static uint64_t count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    uint64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n ? n - 1 : 0; /* not the directory's own descriptor */
}

static void scrape_process(struct scrape *sc, struct umbra_server *s)
{
    struct proc_stat ps;
    if (read_proc_stat(&ps) == 0) {
        family(sc, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
        sample_double(sc, "process_cpu_seconds_total", ps.cpu_seconds);
        single(sc, "process_resident_memory_bytes", "gauge", "Resident memory size.", ps.rss_bytes);
        family(sc, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
        sample_double(sc, "process_start_time_seconds", ps.start_time);
    }
    single(sc, "process_open_fds", "gauge", "Open file descriptors.", count_open_fds());
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        single(sc, "process_max_fds", "gauge", "Limit of open file descriptors.",
               (uint64_t)rl.rlim_cur);
    family(sc, "umbra_build_info", "gauge", "The running build: always 1, with its version.");
    sample(sc, "umbra_build_info", "version", UMBRA_VERSION, 1);
    family(sc, "umbra_uptime_seconds", "gauge", "Seconds since umbrad started.");
    sample_double(sc, "umbra_uptime_seconds", (double)(wall_ms() - s->start_ms) / 1000);
}

int metrics_scrape(struct umbra_server *s, struct buf *out)
{
    struct scrape sc = {out, 0};
    scrape_process(&sc, s);
    scrape_connections(&sc, s);
    scrape_sessions(&sc, s);
    scrape_messages(&sc, s);
    scrape_rules(&sc, s);
    return sc.rc;
}
