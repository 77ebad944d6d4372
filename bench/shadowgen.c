/*
 * bench/shadowgen.c - device shadow update load for umbrad (bench/shadow.sh).
 *
 * --clients MQTT clients share --things things (client i owns the things
 * whose number is i modulo the client count) and keep --window updates
 * each in flight: a QoS 1 PUBLISH of {"state":{"reported":{"seq":N}},
 * "clientToken":"N"} to $aws/things/bench-K/shadow/update, answered by the
 * shadow service on .../update/accepted (subscribed at QoS 0), which umbrad
 * sends only once the new document is committed to SQLite. Each accepted
 * carries its clientToken back, so the generator knows the request's send
 * time: it records update-to-accepted latency and sends the next update.
 *
 * Over the measured window: accepted updates per second, latency p50/p99,
 * the broker's CPU (--pid), and, from $SYS/broker/store/commits (umbrad
 * with --sys-interval 1), commits per second, so how many updates one
 * commit carries.
 *
 * One thread, poll(), non-blocking sockets to 127.0.0.1. Prints one JSON
 * line; exit 1 on a connection error, a rejected update or a timeout.
 */
#include "mqtt_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 1000
#define MAX_SEQ (1u << 22) /* updates in one run; send times indexed by seq */
#define HIST_SUB 32
#define HIST_BUCKETS (64 * HIST_SUB)

struct buf {
    uint8_t *data;
    size_t len, cap;
};

struct client {
    int fd;
    struct buf in, out;
    int nthings, next_thing; /* things i, i + n, i + 2n, ... */
    int subacks_due;
    bool is_ready;
    uint16_t next_pid;
};

static struct {
    int port, clients, things, window, pid;
    double warmup, duration, timeout;
} o = {.clients = 1, .things = 1000, .window = 10, .warmup = 1, .duration = 5, .timeout = 60};

static struct client *cl;
static uint64_t *sent_ns; /* by seq */
static uint32_t next_seq;
static uint64_t hist[HIST_BUCKETS];
static uint64_t win_start, win_end, win_accepted, accepted_total, rejected, errors;
static uint64_t commit_t[2], commit_v[2]; /* first and last $SYS sample in the window */
static int commit_samples;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "shadowgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        if (!(b->data = realloc(b->data, cap))) die("realloc");
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB) return (unsigned)v;
    unsigned e = 63 - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (e - 5)) & (HIST_SUB - 1);
    unsigned i = (e - 4) * HIST_SUB + sub;
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static double hist_value(unsigned i)
{
    if (i < HIST_SUB) return i;
    unsigned e = i / HIST_SUB + 4, sub = i % HIST_SUB;
    return (double)((1ull << e) + ((uint64_t)sub << (e - 5)));
}

static double percentile_us(double p)
{
    uint64_t n = 0, seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) n += hist[i];
    if (!n) return 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if ((seen += hist[i]) >= (uint64_t)(p * (double)n + 0.5)) return hist_value(i) / 1000.0;
    return 0;
}

static double broker_cpu_seconds(void)
{
    if (o.pid <= 0) return -1;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", o.pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void send_update(struct client *c, int index)
{
    if (next_seq >= MAX_SEQ) return;
    int thing = index + c->next_thing * o.clients;
    c->next_thing = (c->next_thing + 1) % c->nthings;
    uint32_t seq = next_seq++;
    char topic[96], payload[128];
    snprintf(topic, sizeof topic, "$aws/things/bench-%04d/shadow/update", thing);
    int plen = snprintf(payload, sizeof payload,
                        "{\"state\":{\"reported\":{\"seq\":%u}},\"clientToken\":\"%u\"}", seq, seq);
    if (!++c->next_pid) c->next_pid = 1;
    struct mqtt_publish pub = {.qos = 1,
                               .topic = {topic, (uint16_t)strlen(topic)},
                               .packet_id = c->next_pid,
                               .payload = {(const uint8_t *)payload, (size_t)plen}};
    uint8_t pkt[512];
    size_t n = mqtt_encode_publish(pkt, sizeof pkt, &pub);
    sent_ns[seq] = now_ns();
    buf_add(&c->out, pkt, n);
}

static void on_accepted(struct client *c, int index, const struct mqtt_publish *p, uint64_t t)
{
    static const char key[] = "\"clientToken\":\"";
    const char *s = memmem(p->payload.ptr, p->payload.len, key, sizeof key - 1);
    if (!s) {
        errors++;
        return;
    }
    uint32_t seq = (uint32_t)strtoul(s + sizeof key - 1, NULL, 10);
    if (seq >= next_seq) {
        errors++;
        return;
    }
    accepted_total++;
    if (t >= win_start && t < win_end) {
        win_accepted++;
        hist[hist_index(t - sent_ns[seq])]++;
    }
    if (!win_end || t < win_end) send_update(c, index);
}

static void on_sys(const struct mqtt_publish *p, uint64_t t)
{
    if (!win_start || t < win_start || t >= win_end) return;
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)(p->payload.len < 31 ? p->payload.len : 31),
             (const char *)p->payload.ptr);
    int slot = commit_samples ? 1 : 0;
    commit_t[slot] = t;
    commit_v[slot] = strtoull(text, NULL, 10);
    commit_samples++;
}

static void on_packet(struct client *c, int index, const struct mqtt_packet *pkt, uint64_t t)
{
    switch (pkt->type) {
    case MQTT_CONNACK:
        if (pkt->u.connack.return_code) {
            fprintf(stderr, "shadowgen: CONNACK %d\n", pkt->u.connack.return_code);
            exit(1);
        }
        break;
    case MQTT_SUBACK:
        if (--c->subacks_due == 0) c->is_ready = true;
        break;
    case MQTT_PUBLISH: {
        const struct mqtt_publish *p = &pkt->u.publish;
        if (p->topic.len > 5 && memcmp(p->topic.ptr, "$SYS/", 5) == 0)
            on_sys(p, t);
        else if (p->topic.len > 9 && memcmp(p->topic.ptr + p->topic.len - 9, "/accepted", 9) == 0)
            on_accepted(c, index, p, t);
        else
            rejected++;
        break;
    }
    case MQTT_PUBACK:
        break;
    default:
        errors++;
    }
}

static void read_client(struct client *c, int index)
{
    uint8_t tmp[65536];
    for (;;) {
        ssize_t n = read(c->fd, tmp, sizeof tmp);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            fprintf(stderr, "shadowgen: client %d: connection closed\n", index);
            exit(1);
        }
        buf_add(&c->in, tmp, (size_t)n);
    }
    uint64_t t = now_ns();
    size_t off = 0;
    while (off < c->in.len) {
        struct mqtt_frame f;
        if (mqtt_frame(c->in.data + off, c->in.len - off, 0, &f, NULL) <= 0) break;
        struct mqtt_packet pkt;
        if (mqtt_decode(&f, &pkt) == 0)
            on_packet(c, index, &pkt, t);
        else
            errors++;
        off += f.total_len;
    }
    buf_drop(&c->in, off);
}

static void write_client(struct client *c)
{
    while (c->out.len) {
        ssize_t n = write(c->fd, c->out.data, c->out.len);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) die("write");
        buf_drop(&c->out, (size_t)n);
    }
}

static void connect_client(struct client *c, int index)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char id[32];
    snprintf(id, sizeof id, "shadowgen-%d", index);
    struct mqtt_connect m = {.clean_session = true, .keepalive = 600,
                             .client_id = {id, (uint16_t)strlen(id)}};
    uint8_t pkt[256];
    buf_add(&c->out, pkt, mqtt_encode_connect(pkt, sizeof pkt, &m));
    /* The accepted topics of its things, 50 filters per SUBSCRIBE. */
    c->nthings = (o.things - index + o.clients - 1) / o.clients;
    static char names[50][96];
    struct mqtt_sub_req reqs[51];
    size_t nreq = 0;
    uint16_t pid = 1;
    for (int k = 0; k < c->nthings; k++) {
        snprintf(names[nreq], sizeof names[nreq], "$aws/things/bench-%04d/shadow/update/accepted",
                 index + k * o.clients);
        reqs[nreq] = (struct mqtt_sub_req){names[nreq], 0};
        if (++nreq == 50 || k + 1 == c->nthings) {
            uint8_t sub[8192];
            buf_add(&c->out, sub, mqtt_encode_subscribe(sub, sizeof sub, pid++, reqs, nreq));
            c->subacks_due++;
            nreq = 0;
        }
    }
    if (index == 0) {
        struct mqtt_sub_req sys = {"$SYS/broker/store/commits", 0};
        uint8_t sub[128];
        buf_add(&c->out, sub, mqtt_encode_subscribe(sub, sizeof sub, pid++, &sys, 1));
        c->subacks_due++;
    }
    write_client(c);
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK)) die("fcntl");
}

static double arg(const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || d < lo || d > hi) {
        fprintf(stderr, "shadowgen: bad value '%s'\n", v);
        exit(2);
    }
    return d;
}

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: umbra-shadowgen --port P [--clients N (1)] [--things T (1000)] [--window W "
            "(10)]\n"
            "       [--warmup S (1)] [--duration S (5)] [--pid BROKER_PID] [--timeout S (60)]\n"
            "Shadow updates against umbrad's plain listener on 127.0.0.1 (run it with "
            "--sys-interval 1).\n");
    exit(status);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--help")) usage(0);
        if (!v) usage(2);
        i++;
        if (!strcmp(k, "--port")) o.port = (int)arg(v, 1, 65535);
        else if (!strcmp(k, "--clients")) o.clients = (int)arg(v, 1, MAX_CLIENTS);
        else if (!strcmp(k, "--things")) o.things = (int)arg(v, 1, 100000);
        else if (!strcmp(k, "--window")) o.window = (int)arg(v, 1, 1000);
        else if (!strcmp(k, "--warmup")) o.warmup = arg(v, 0, 60);
        else if (!strcmp(k, "--duration")) o.duration = arg(v, 0.5, 600);
        else if (!strcmp(k, "--timeout")) o.timeout = arg(v, 1, 3600);
        else if (!strcmp(k, "--pid")) o.pid = (int)arg(v, 1, 1e9);
        else usage(2);
    }
    if (!o.port || o.clients > o.things) usage(2);
    cl = calloc((size_t)o.clients, sizeof *cl);
    sent_ns = calloc(MAX_SEQ, sizeof *sent_ns);
    struct pollfd *pfd = calloc((size_t)o.clients, sizeof *pfd);
    if (!cl || !sent_ns || !pfd) die("calloc");
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o.timeout * 1e9);
    for (int i = 0; i < o.clients; i++)
        connect_client(&cl[i], i);
    bool loaded = false;
    double cpu0 = -1, cpu1 = -1;
    for (;;) {
        uint64_t t = now_ns();
        if (t > deadline) {
            fprintf(stderr, "shadowgen: timed out\n");
            return 1;
        }
        if (!loaded) {
            int ready = 0;
            for (int i = 0; i < o.clients; i++) ready += cl[i].is_ready;
            if (ready == o.clients) {
                loaded = true;
                win_start = t + (uint64_t)(o.warmup * 1e9);
                win_end = win_start + (uint64_t)(o.duration * 1e9);
                for (int i = 0; i < o.clients; i++)
                    for (int w = 0; w < o.window; w++)
                        send_update(&cl[i], i);
            }
        }
        if (loaded && cpu0 < 0 && t >= win_start) cpu0 = broker_cpu_seconds();
        if (loaded && t >= win_end) {
            cpu1 = broker_cpu_seconds();
            break;
        }
        for (int i = 0; i < o.clients; i++) {
            write_client(&cl[i]);
            pfd[i] = (struct pollfd){cl[i].fd, (short)(POLLIN | (cl[i].out.len ? POLLOUT : 0)), 0};
        }
        int n = poll(pfd, (nfds_t)o.clients, 10);
        if (n < 0 && errno != EINTR) die("poll");
        for (int i = 0; i < o.clients && n > 0; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) read_client(&cl[i], i);
    }
    double secs = o.duration;
    double commits_per_sec =
        commit_samples >= 2 && commit_t[1] > commit_t[0]
            ? (double)(commit_v[1] - commit_v[0]) / ((double)(commit_t[1] - commit_t[0]) / 1e9)
            : -1;
    double rate = (double)win_accepted / secs;
    double cpu = cpu0 >= 0 && cpu1 >= 0 ? 100.0 * (cpu1 - cpu0) / secs : -1;
    printf("{\"clients\":%d,\"things\":%d,\"window\":%d,\"seconds\":%.1f,\"accepted\":%llu,"
           "\"updates_per_sec\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"broker_cpu_pct\":%.1f,"
           "\"commits_per_sec\":%.1f,\"updates_per_commit\":%.1f,\"rejected\":%llu,"
           "\"errors\":%llu}\n",
           o.clients, o.things, o.window, secs, (unsigned long long)win_accepted, rate,
           percentile_us(0.50) / 1000.0, percentile_us(0.99) / 1000.0, cpu, commits_per_sec,
           commits_per_sec > 0 ? rate / commits_per_sec : -1, (unsigned long long)rejected,
           (unsigned long long)errors);
    return rejected || errors ? 1 : 0;
}
