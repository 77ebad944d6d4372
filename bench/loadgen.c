/*
 * loadgen.c - MQTT load generator for side-by-side broker benchmarks.
 *
 * One libuv loop drives every connection. Publishers write batches of
 * PUBLISH packets into reused buffers and keep a bounded amount of data
 * queued in the kernel (QoS 0) or a bounded window of unacknowledged
 * messages (QoS 1); subscribers decode with the project's codec, stamp
 * end-to-end latency from the send time carried in each payload into a
 * log-linear histogram, and acknowledge QoS 1 in one write per read.
 * Prints one JSON line per run.
 *
 *   umbra-loadgen --port P --scenario fanin|fanout|qos1|idle [options]
 */
#include "mqtt_codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define BATCH 64                 /* PUBLISH packets per write */
#define QUEUE_LIMIT (256 * 1024) /* bytes a QoS 0 publisher keeps queued */
#define HIST_SUB 16              /* sub-buckets per power of two */
#define HIST_BUCKETS (40 * HIST_SUB)

struct opts {
    const char *host;
    int port;
    const char *scenario;
    int publishers, subscribers, payload, window, connections;
    double duration, warmup, hold;
};

enum role { ROLE_PUB, ROLE_SUB, ROLE_IDLE };

struct client;

struct wbuf {
    uv_write_t req;
    struct client *cl;
    size_t len;
    uint8_t data[];
};

struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    enum role role;
    int id;
    bool is_ready;
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t queued;   /* bytes written and not yet completed */
    uint32_t inflight; /* QoS 1 publishes awaiting PUBACK */
    uint16_t next_pid;
};

static struct opts o = {"127.0.0.1", 1883, "fanin", 8, 50, 128, 100, 10000, 10, 2, 5};
static uv_loop_t *loop;
static struct client *clients;
static int nclients, nready, nconnected, nstarted;
static int qos;
static bool running, measuring, stopping;
static uint64_t sent, received, errors, measure_start_ns, measure_end_ns;
static uint64_t hist[HIST_BUCKETS];
static uv_timer_t phase_timer;
static char topic[] = "bench/load/topic";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hist_index(uint64_t us)
{
    if (us < HIST_SUB) return (int)us;
    int msb = 63 - __builtin_clzll(us);
    int shift = msb - 4;
    int idx = (msb - 3) * HIST_SUB + (int)((us >> shift) & (HIST_SUB - 1));
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static double hist_value(int idx)
{
    if (idx < HIST_SUB) return idx;
    int msb = idx / HIST_SUB + 3;
    int sub = idx % HIST_SUB;
    return (double)((1ull << msb) + ((uint64_t)sub << (msb - 4)));
}

static double percentile(double p)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        total += hist[i];
    if (!total) return 0;
    uint64_t want = (uint64_t)(p * (double)total), acc = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        acc += hist[i];
        if (acc > want) return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

static void on_write(uv_write_t *req, int status);

static void send_bytes(struct client *cl, const void *data, size_t len)
{
    struct wbuf *w = malloc(sizeof *w + len);
    if (!w) abort();
    w->cl = cl;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    cl->queued += len;
    if (uv_write(&w->req, (uv_stream_t *)&cl->tcp, &b, 1, on_write)) {
        errors++;
        cl->queued -= len;
        free(w);
    }
}

static void pump(struct client *cl);

static void on_write(uv_write_t *req, int status)
{
    struct wbuf *w = (struct wbuf *)req;
    struct client *cl = w->cl;
    cl->queued -= w->len;
    free(w);
    if (status < 0 && !stopping) errors++;
    if (cl->role == ROLE_PUB && running) pump(cl);
}

/* Write one batch of PUBLISH packets into a single buffer. */
static void publish_batch(struct client *cl, int count)
{
    uint8_t payload[65536];
    memset(payload, 'x', (size_t)o.payload);
    struct mqtt_publish pub = {.qos = (uint8_t)qos,
                               .topic = {topic, (uint16_t)strlen(topic)},
                               .payload = {payload, (size_t)o.payload}};
    size_t one = mqtt_encode_publish(NULL, 0, &pub);
    struct wbuf *w = malloc(sizeof *w + one * (size_t)count);
    if (!w) abort();
    size_t off = 0;
    for (int i = 0; i < count; i++) {
        uint64_t t = now_ns();
        memcpy(payload, &t, sizeof t);
        if (qos) {
            if (++cl->next_pid == 0) cl->next_pid = 1;
            pub.packet_id = cl->next_pid;
            cl->inflight++;
        }
        off += mqtt_encode_publish(w->data + off, one, &pub);
    }
    w->cl = cl;
    w->len = off;
    cl->queued += off;
    sent += (uint64_t)count;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)off);
    if (uv_write(&w->req, (uv_stream_t *)&cl->tcp, &b, 1, on_write)) {
        errors++;
        cl->queued -= off;
        free(w);
    }
}

static void pump(struct client *cl)
{
    if (!running) return;
    if (qos == 0) {
        while (cl->queued < QUEUE_LIMIT)
            publish_batch(cl, BATCH);
        return;
    }
    int room = o.window - (int)cl->inflight;
    if (room >= BATCH / 4 || (room > 0 && cl->inflight == 0)) publish_batch(cl, room);
}

static void finish(void);

static void on_phase(uv_timer_t *t)
{
    (void)t;
    if (!measuring) {
        measuring = true;
        received = 0;
        memset(hist, 0, sizeof hist);
        measure_start_ns = now_ns();
        uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.duration * 1000), 0);
        return;
    }
    measure_end_ns = now_ns();
    finish();
}

static void start_load(void)
{
    running = true;
    for (int i = 0; i < nclients; i++)
        if (clients[i].role == ROLE_PUB) pump(&clients[i]);
    uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.warmup * 1000), 0);
}

static void client_ready(struct client *cl)
{
    if (cl->is_ready) return;
    cl->is_ready = true;
    nready++;
    if (nready < nclients) return;
    if (cl->role == ROLE_IDLE) {
        printf("READY %d\n", nready);
        fflush(stdout);
        measure_start_ns = now_ns();
        measuring = true;
        uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.hold * 1000), 0);
        return;
    }
    start_load();
}

static void on_packet(struct client *cl, const struct mqtt_packet *p, uint8_t *acks, size_t *nacks)
{
    switch (p->type) {
    case MQTT_CONNACK:
        if (p->u.connack.return_code) {
            errors++;
            return;
        }
        if (cl->role == ROLE_SUB) {
            uint8_t buf[128];
            struct mqtt_sub_req r = {topic, (uint8_t)qos};
            size_t n = mqtt_encode_subscribe(buf, sizeof buf, 1, &r, 1);
            send_bytes(cl, buf, n);
        } else {
            client_ready(cl);
        }
        return;
    case MQTT_SUBACK:
        client_ready(cl);
        return;
    case MQTT_PUBACK:
        if (cl->inflight) cl->inflight--;
        pump(cl);
        return;
    case MQTT_PUBLISH: {
        if (measuring) {
            received++;
            if (p->u.publish.payload.len >= 8) {
                uint64_t t;
                memcpy(&t, p->u.publish.payload.ptr, sizeof t);
                uint64_t n = now_ns();
                hist[hist_index(n > t ? (n - t) / 1000 : 0)]++;
            }
        }
        if (p->u.publish.qos == 1)
            *nacks += mqtt_encode_ack(acks + *nacks, 4, MQTT_PUBACK, p->u.publish.packet_id);
        return;
    }
    default:
        return;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct client *cl = h->data;
    if (cl->in_cap - cl->in_len < 65536) {
        cl->in_cap = cl->in_cap ? cl->in_cap * 2 : 131072;
        cl->in = realloc(cl->in, cl->in_cap);
        if (!cl->in) abort();
    }
    *b = uv_buf_init((char *)cl->in + cl->in_len, (unsigned)(cl->in_cap - cl->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct client *cl = s->data;
    if (nread < 0) {
        if (!stopping) {
            errors++;
            fprintf(stderr, "loadgen: connection %d: %s\n", cl->id, uv_strerror((int)nread));
            stopping = true;
            finish();
        }
        return;
    }
    cl->in_len += (size_t)nread;
    size_t off = 0;
    /* Acks for a whole read go out in one write. */
    static uint8_t acks[65536 * 4];
    size_t nacks = 0;
    while (off < cl->in_len) {
        struct mqtt_frame f;
        if (mqtt_frame(cl->in + off, cl->in_len - off, 0, &f, NULL) != 1) break;
        struct mqtt_packet p;
        if (mqtt_decode(&f, &p) == 0) on_packet(cl, &p, acks, &nacks);
        off += f.total_len;
        if (nacks > sizeof acks - 4) {
            send_bytes(cl, acks, nacks);
            nacks = 0;
        }
    }
    if (nacks) send_bytes(cl, acks, nacks);
    memmove(cl->in, cl->in + off, cl->in_len - off);
    cl->in_len -= off;
}

static void on_connect(uv_connect_t *req, int status);

static void connect_one(struct client *cl)
{
    struct sockaddr_in addr;
    uv_ip4_addr(o.host, o.port, &addr);
    uv_tcp_init(loop, &cl->tcp);
    cl->tcp.data = cl;
    uv_tcp_nodelay(&cl->tcp, 1);
    if (uv_tcp_connect(&cl->creq, &cl->tcp, (struct sockaddr *)&addr, on_connect)) errors++;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *cl = req->handle->data;
    if (status < 0) {
        fprintf(stderr, "loadgen: connect %d: %s\n", cl->id, uv_strerror(status));
        errors++;
        stopping = true;
        finish();
        return;
    }
    nconnected++;
    uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read);
    char id[32];
    snprintf(id, sizeof id, "lg-%d-%d", (int)uv_os_getpid(), cl->id);
    struct mqtt_connect c = {.clean_session = true,
                             .keepalive = cl->role == ROLE_IDLE ? 600 : 60,
                             .client_id = {id, (uint16_t)strlen(id)}};
    uint8_t buf[128];
    size_t n = mqtt_encode_connect(buf, sizeof buf, &c);
    send_bytes(cl, buf, n);
    /* Idle connections are opened a few hundred at a time. */
    if (nstarted < nclients) connect_one(&clients[nstarted++]);
}

static void close_all(void)
{
    for (int i = 0; i < nclients; i++)
        if (!uv_is_closing((uv_handle_t *)&clients[i].tcp))
            uv_close((uv_handle_t *)&clients[i].tcp, NULL);
    if (!uv_is_closing((uv_handle_t *)&phase_timer)) uv_close((uv_handle_t *)&phase_timer, NULL);
}

static void finish(void)
{
    static bool done;
    if (done) return;
    done = true;
    running = false;
    stopping = true;
    double secs =
        measure_end_ns > measure_start_ns ? (double)(measure_end_ns - measure_start_ns) / 1e9 : 0;
    printf("{\"scenario\":\"%s\",\"publishers\":%d,\"subscribers\":%d,\"payload\":%d,"
           "\"seconds\":%.2f,\"sent\":%llu,\"received\":%llu,\"msgs_per_sec\":%.0f,"
           "\"p50_us\":%.0f,\"p99_us\":%.0f,\"connections\":%d,\"errors\":%llu}\n",
           o.scenario, o.publishers, o.subscribers, o.payload, secs, (unsigned long long)sent,
           (unsigned long long)received, secs > 0 ? (double)received / secs : 0, percentile(0.50),
           percentile(0.99), nconnected, (unsigned long long)errors);
    fflush(stdout);
    close_all();
}

static void usage(void)
{
    fprintf(stderr, "usage: umbra-loadgen --port P [--host H] --scenario fanin|fanout|qos1|idle\n"
                    "  [--publishers N] [--subscribers N] [--payload BYTES] [--window N]\n"
                    "  [--duration S] [--warmup S] [--connections N] [--hold S]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *k = argv[i], *v = argv[++i];
        if (!strcmp(k, "--host"))
            o.host = v;
        else if (!strcmp(k, "--port"))
            o.port = atoi(v);
        else if (!strcmp(k, "--scenario"))
            o.scenario = v;
        else if (!strcmp(k, "--publishers"))
            o.publishers = atoi(v);
        else if (!strcmp(k, "--subscribers"))
            o.subscribers = atoi(v);
        else if (!strcmp(k, "--payload"))
            o.payload = atoi(v);
        else if (!strcmp(k, "--window"))
            o.window = atoi(v);
        else if (!strcmp(k, "--duration"))
            o.duration = atof(v);
        else if (!strcmp(k, "--warmup"))
            o.warmup = atof(v);
        else if (!strcmp(k, "--connections"))
            o.connections = atoi(v);
        else if (!strcmp(k, "--hold"))
            o.hold = atof(v);
        else
            usage();
    }
    if (o.payload < 8 || o.payload > 65000 || o.port <= 0) usage();
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    loop = uv_default_loop();
    int npub = 0, nsub = 0, nidle = 0;
    if (!strcmp(o.scenario, "fanin")) {
        npub = o.publishers;
        nsub = 1;
    } else if (!strcmp(o.scenario, "fanout")) {
        npub = 1;
        nsub = o.subscribers;
    } else if (!strcmp(o.scenario, "qos1")) {
        npub = o.publishers;
        nsub = 1;
        qos = 1;
    } else if (!strcmp(o.scenario, "idle")) {
        nidle = o.connections;
    } else {
        usage();
    }
    o.publishers = npub;
    o.subscribers = nsub;
    nclients = npub + nsub + nidle;
    clients = calloc((size_t)nclients, sizeof *clients);
    for (int i = 0; i < nclients; i++) {
        clients[i].id = i;
        clients[i].role = i < nsub ? ROLE_SUB : i < nsub + npub ? ROLE_PUB : ROLE_IDLE;
    }
    uv_timer_init(loop, &phase_timer);
    int parallel = nclients < 200 ? nclients : 200;
    for (nstarted = 0; nstarted < parallel; nstarted++)
        connect_one(&clients[nstarted]);
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < nclients; i++)
        free(clients[i].in);
    free(clients);
    return errors ? 1 : 0;
}
