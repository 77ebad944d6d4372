/*
 * bench/loadgen.c - MQTT 3.1.1 load generator for the umbrad / mosquitto
 * side-by-side benchmark (bench/run.sh).
 *
 * One libuv loop on one thread drives every connection. Packets are built
 * and parsed with the project's codec (broker/mqtt_codec.h).
 *
 *  - Publishers fill one of two preallocated output buffers while the other
 *    is being written, so at most two buffers (about 2 x 64 KiB) of unsent
 *    data exist per connection and nothing is allocated per message. Their
 *    SO_SNDBUF is set (--sndbuf) so that the kernel does not add megabytes
 *    of its own (autotuning grows it to 4 MiB), which under a flood would
 *    make latency the time to drain the kernel's queue. QoS 0
 *    publishers refill as soon as a write completes (TCP flow control sets
 *    the pace) unless --rate paces them: then they write what is due once
 *    per 1 ms timer tick, in one write. QoS 1 publishers keep at most
 *    --window messages in flight end to end (not yet PUBACKed or not yet
 *    received by every subscriber). A window of PUBACKs alone would not
 *    bound anything: a broker acknowledges on receipt, so the subscriber's
 *    queue would grow until the broker's queue limit discards messages.
 *  - Each payload starts with the CLOCK_MONOTONIC send time, the publisher
 *    number and a sequence number. With --payload-json it is instead a JSON
 *    object of fixed layout that carries the same three numbers, plus a
 *    temperature above 90 in exactly one message in ten and the publisher's
 *    device name, for rules whose WHERE reads the payload. Subscribers read
 *    in large chunks, record end-to-end latency in a log-linear histogram,
 *    mark each sequence number in a bitmap (lost, duplicate and reordered
 *    messages are counted) and acknowledge QoS 1 with one write per read.
 *  - Run phases: connect, warm-up, measured window, drain (publishing has
 *    stopped; wait for what is still in flight), report. A deadline timer
 *    bounds the whole run.
 *  - Given --broker-pid, the broker's CPU time (utime+stime) and RSS are read
 *    from /proc over the measured window; the idle scenario reads its RSS
 *    before connecting and while every connection is idle. The machine's
 *    busy and steal time (/proc/stat, all CPUs) over the window tell
 *    whether anything else competed for the CPUs.
 *
 * Prints one JSON line per run on stdout. Exit status 1 when a connection
 * failed or a QoS 1 message was lost, 2 on a usage error.
 */
#include "mqtt_codec.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define CHUNK (64 * 1024)         /* bytes a publisher hands to one write */
#define READ_BUF_SUB (256 * 1024) /* subscribers read in big chunks */
#define READ_BUF_PUB (16 * 1024)  /* publishers read CONNACK / PUBACKs */
#define READ_BUF_IDLE 64          /* idle connections read one CONNACK */
#define PAYLOAD_MIN 16            /* send time 8 + publisher 4 + sequence 4 */
#define HIST_SUB_BITS 5           /* 32 linear sub-buckets per power of two */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (64u * HIST_SUB)
#define QUIET_NS 300000000ull /* QoS 0 drain ends after 300 ms of silence */
#define MAX_LOGGED_ERRORS 5

enum role { ROLE_SUB, ROLE_PUB, ROLE_IDLE };

struct opts {
    const char *host, *scenario, *topic;
    int port, publishers, subscribers, payload, window, qos, connections, parallel, sndbuf;
    double rate, duration, warmup, drain, hold;
    int broker_pid;
    bool payload_json;
};

/* A growable byte buffer; grows only when a packet does not fit. */
struct obuf {
    uint8_t *data;
    size_t len, cap;
};

/* Sequence numbers one subscriber has received from one publisher. */
struct seen {
    uint64_t *bits;
    size_t nbits;
    uint64_t unique;
    uint32_t last;
};

struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct obuf out[2]; /* out[fill] takes new packets; the other may be in a write */
    int fill;
    bool writing, inited, settled, ready, dead;
    enum role role;
    int index; /* publisher or subscriber number */
    uint8_t *in;
    size_t in_len, in_cap;
    /* publisher */
    uint32_t seq;       /* messages published so far (next sequence number) */
    uint32_t inflight;  /* QoS 1 messages not acknowledged yet */
    uint64_t delivered; /* its messages received, summed over subscribers */
    uint16_t next_pid;
    uint64_t *pid_bits; /* QoS 1 packet ids in flight */
    /* subscriber */
    struct seen *seen; /* one per publisher */
};

struct broker_sample {
    bool ok;
    uint64_t ticks; /* utime + stime */
    uint64_t ns;
};

/* Whole-machine CPU time from /proc/stat, in clock ticks over all CPUs. */
struct host_sample {
    bool ok;
    uint64_t busy, steal;
};

static struct opts o = {
    .host = "127.0.0.1",
    .scenario = NULL,
    .topic = "bench/load/topic",
    .port = 0,
    .publishers = -1,
    .subscribers = -1,
    .payload = 128,
    .window = 100,
    .qos = -1,
    .connections = 10000,
    .parallel = 200,
    .sndbuf = 64 * 1024,
    .rate = -1,
    .duration = 8,
    .warmup = 2,
    .drain = -1,
    .hold = 3,
    .broker_pid = 0,
};

static uv_loop_t *loop;
static struct client *clients;
static int nclients, npub, nsub, nstarted, nconnecting, nready, nfailed;
static bool running, measuring, finished;
static uv_timer_t phase_timer, tick_timer, deadline_timer;

static uint8_t *msg_tmpl; /* one encoded PUBLISH, payload filled with 'x' */
static size_t msg_len, msg_hdr_len, msg_pid_off;

/*
 * --payload-json: every payload is this object, padded with spaces to
 * --payload bytes. Numbers are right-aligned in fixed-width fields (JSON
 * allows the spaces before a value), so a publisher writes digits at fixed
 * offsets into the template and a subscriber reads them back from there.
 */
#define JSON_SEQ_W 10
#define JSON_TEMP_W 5 /* "dd.d" right-aligned */
#define JSON_DEV_W 4  /* "dev-0003": the publisher number, zero-padded */
#define JSON_T_W 20
#define JSON_PUB_W 5
static size_t json_seq_off, json_temp_off, json_dev_off, json_t_off, json_pub_off, json_len;

static uint64_t load_start_ns, win_start_ns, win_end_ns, last_rx_ns, drain_end_ns;
static uint64_t connect_start_ns, connect_end_ns;
static uint64_t win_sent, win_received, sent_total, received_total, unique_total;
static uint64_t duplicates, out_of_order, errors, bad_packets, bad_acks;
static uint64_t hist[HIST_BUCKETS];
static struct broker_sample bs0, bs1;
static struct host_sample hs0, hs1;
static double own_cpu0, own_cpu1;
static long rss_before_kb, rss_after_kb, hwm_after_kb;

/* ---- time, /proc and statistics ---------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double own_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* utime + stime of --broker-pid, from /proc/PID/stat (fields 14 and 15). */
static struct broker_sample broker_sample(void)
{
    struct broker_sample s = {.ns = now_ns()};
    if (o.broker_pid <= 0) return s;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", o.broker_pid);
    FILE *f = fopen(path, "r");
    if (!f) return s;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
        s.ticks = ut + st;
        s.ok = true;
    }
    return s;
}

static struct host_sample host_sample(void)
{
    struct host_sample h = {0};
    unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return h;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        h.busy = v[0] + v[1] + v[2] + v[5] + v[6];
        h.steal = v[7];
        h.ok = true;
    }
    fclose(f);
    return h;
}

/* A "Key:   N kB" line of /proc/PID/status, or -1. */
static long broker_status_kb(const char *key)
{
    if (o.broker_pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", o.broker_pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            kb = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

/* Middle of a bucket's range. */
static double hist_mid(unsigned idx)
{
    if (idx < HIST_SUB) return idx;
    unsigned shift = idx / HIST_SUB - 1;
    uint64_t lo = (1ull << (shift + HIST_SUB_BITS)) + ((uint64_t)(idx % HIST_SUB) << shift);
    return (double)lo + (double)(1ull << shift) / 2;
}

/* Latency percentile in microseconds (0 when nothing was recorded). */
static double percentile_us(double p)
{
    uint64_t total = 0, acc = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += hist[i];
    if (!total) return 0;
    uint64_t rank = (uint64_t)(p * (double)total); /* ceil without libm */
    if ((double)rank < p * (double)total || rank < 1) rank++;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        acc += hist[i];
        if (acc >= rank) return hist_mid(i) / 1000.0;
    }
    return 0;
}

static double max_us(void)
{
    for (unsigned i = HIST_BUCKETS; i-- > 0;)
        if (hist[i]) return hist_mid(i) / 1000.0;
    return 0;
}

/* ---- buffers ------------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "loadgen: out of memory\n");
        abort();
    }
    return p;
}

static uint8_t *obuf_reserve(struct obuf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

/* Mark seq as received; false when it already was (a duplicate). */
static bool seen_mark(struct seen *s, uint32_t seq)
{
    if (seq >= s->nbits) {
        size_t nbits = s->nbits ? s->nbits : 1u << 20;
        while (nbits <= seq)
            nbits *= 2;
        s->bits = xrealloc(s->bits, nbits / 8);
        memset((uint8_t *)s->bits + s->nbits / 8, 0, (nbits - s->nbits) / 8);
        s->nbits = nbits;
    }
    uint64_t bit = 1ull << (seq & 63);
    if (s->bits[seq >> 6] & bit) return false;
    s->bits[seq >> 6] |= bit;
    return true;
}

/* ---- run control -------------------------------------------------------- */

static void finish(void);

static void log_error(struct client *cl, const char *what, int uverr)
{
    errors++;
    if (errors <= MAX_LOGGED_ERRORS)
        fprintf(stderr, "loadgen: connection %d: %s%s%s\n", (int)(cl - clients), what,
                uverr ? ": " : "", uverr ? uv_strerror(uverr) : "");
}

static bool is_idle_run(void)
{
    return !strcmp(o.scenario, "idle");
}

static void start_connects(void);
static void all_settled(void);

/* A connection finished its setup, successfully or not. */
static void settle(struct client *cl)
{
    if (cl->settled) return;
    cl->settled = true;
    nconnecting--;
    if (cl->ready)
        nready++;
    else
        nfailed++;
    if (finished) return;
    if (nfailed && !is_idle_run()) {
        finish(); /* a load run needs every connection */
        return;
    }
    start_connects();
    if (nready + nfailed == nclients) all_settled();
}

static void client_close(struct client *cl)
{
    if (cl->inited && !uv_is_closing((uv_handle_t *)&cl->tcp))
        uv_close((uv_handle_t *)&cl->tcp, NULL);
}

/* The connection broke or the broker refused it. */
static void client_fail(struct client *cl, const char *what, int uverr)
{
    if (cl->dead || finished) return;
    cl->dead = true;
    log_error(cl, what, uverr);
    client_close(cl);
    if (!cl->settled)
        settle(cl);
    else if (!is_idle_run())
        finish();
}

/* ---- writing ------------------------------------------------------------ */

static void pump(struct client *cl);
static void flush(struct client *cl);

static void on_write(uv_write_t *req, int status)
{
    struct client *cl = req->data;
    cl->writing = false;
    cl->out[cl->fill ^ 1].len = 0;
    if (finished) return;
    if (status < 0) {
        client_fail(cl, "write", status);
        return;
    }
    if (cl->role == ROLE_PUB && o.rate <= 0) pump(cl); /* paced ones wait for the tick */
    flush(cl);
}

/* Start writing out[fill] unless a write is already in progress. */
static void flush(struct client *cl)
{
    struct obuf *b = &cl->out[cl->fill];
    if (cl->writing || cl->dead || !b->len) return;
    cl->fill ^= 1;
    cl->writing = true;
    cl->wreq.data = cl;
    uv_buf_t ub = uv_buf_init((char *)b->data, (unsigned)b->len);
    int rc = uv_write(&cl->wreq, (uv_stream_t *)&cl->tcp, &ub, 1, on_write);
    if (rc) {
        cl->writing = false;
        b->len = 0;
        client_fail(cl, "write", rc);
    }
}

/* Next free QoS 1 packet id (never one still in flight). */
static uint16_t take_pid(struct client *cl)
{
    for (;;) {
        if (++cl->next_pid == 0) cl->next_pid = 1;
        uint16_t id = cl->next_pid;
        if (!(cl->pid_bits[id >> 6] & (1ull << (id & 63)))) {
            cl->pid_bits[id >> 6] |= 1ull << (id & 63);
            return id;
        }
    }
}

/* v right-aligned in width characters, spaces before it. */
static void put_num(uint8_t *p, int width, uint64_t v, char fill)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = v || i == width - 1 ? (uint8_t)('0' + v % 10) : (uint8_t)fill;
        v /= 10;
    }
}

/* Tenths of a degree: above 90.0 for exactly one sequence number in ten
 * (shifted per publisher), spread over 20.0..89.9 otherwise. */
static unsigned temperature_tenths(uint32_t pub, uint32_t seq)
{
    uint32_t h = (seq + pub) * 2654435761u;
    if ((seq + pub * 3) % 10 == 0) return 901 + (h >> 8) % 99; /* 90.1..99.9 */
    return 200 + (h >> 8) % 700;                               /* 20.0..89.9 */
}

static void put_json_payload(uint8_t *pl, uint64_t t, uint32_t pub, uint32_t seq)
{
    put_num(pl + json_seq_off, JSON_SEQ_W, seq, ' ');
    unsigned tt = temperature_tenths(pub, seq);
    put_num(pl + json_temp_off, JSON_TEMP_W - 2, tt / 10, ' ');
    pl[json_temp_off + JSON_TEMP_W - 2] = '.';
    pl[json_temp_off + JSON_TEMP_W - 1] = (uint8_t)('0' + tt % 10);
    put_num(pl + json_dev_off, JSON_DEV_W, pub, '0');
    put_num(pl + json_t_off, JSON_T_W, t, ' ');
    put_num(pl + json_pub_off, JSON_PUB_W, pub, ' ');
}

/* The number in a fixed-width field, or false when it holds none. */
static bool get_num(const uint8_t *p, int width, uint64_t *v)
{
    int i = 0;
    while (i < width && p[i] == ' ')
        i++;
    if (i == width) return false;
    for (*v = 0; i < width; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return true;
}

/* Append n PUBLISH packets to the buffer being filled. */
static void append_publishes(struct client *cl, size_t n)
{
    struct obuf *b = &cl->out[cl->fill];
    uint8_t *p = obuf_reserve(b, n * msg_len);
    uint64_t t = now_ns();
    uint32_t pub = (uint32_t)cl->index;
    for (size_t i = 0; i < n; i++, p += msg_len) {
        memcpy(p, msg_tmpl, msg_len);
        if (o.qos) {
            uint16_t id = take_pid(cl);
            p[msg_pid_off] = (uint8_t)(id >> 8);
            p[msg_pid_off + 1] = (uint8_t)id;
            cl->inflight++;
        }
        uint8_t *pl = p + msg_hdr_len;
        if (o.payload_json) {
            put_json_payload(pl, t, pub, cl->seq);
        } else {
            memcpy(pl, &t, 8);
            memcpy(pl + 8, &pub, 4);
            memcpy(pl + 12, &cl->seq, 4);
        }
        cl->seq++;
    }
    b->len += n * msg_len;
    sent_total += n;
    if (measuring) win_sent += n;
}

/* How many messages a publisher may add now. */
static size_t publish_budget(struct client *cl)
{
    size_t len = cl->out[cl->fill].len;
    if (len >= CHUNK) return 0;
    size_t n = (CHUNK - len + msg_len - 1) / msg_len;
    if (o.qos) { /* the window is end to end: acknowledged and delivered */
        uint64_t open = cl->seq - cl->delivered / (uint64_t)nsub;
        if (open < cl->inflight) open = cl->inflight;
        size_t room = (uint64_t)o.window > open ? (size_t)((uint64_t)o.window - open) : 0;
        if (room < n) n = room;
    }
    if (o.rate > 0) {
        double per_pub = o.rate / npub;
        uint64_t due = (uint64_t)(per_pub * (double)(now_ns() - load_start_ns) / 1e9);
        size_t owed = due > cl->seq ? (size_t)(due - cl->seq) : 0;
        if (owed < n) n = owed;
    }
    return n;
}

static void pump(struct client *cl)
{
    if (!running || cl->dead) return;
    size_t n = publish_budget(cl);
    if (n) append_publishes(cl, n);
    flush(cl);
}

static void pump_publishers(void)
{
    for (int i = nsub; i < nsub + npub; i++)
        pump(&clients[i]);
}

static void send_packet(struct client *cl, const uint8_t *pkt, size_t len)
{
    memcpy(obuf_reserve(&cl->out[cl->fill], len), pkt, len);
    cl->out[cl->fill].len += len;
    flush(cl);
}

/* ---- reading ------------------------------------------------------------ */

static void on_subscriber_publish(struct client *cl, const struct mqtt_publish *pub, uint64_t t)
{
    uint64_t sent_at;
    uint32_t from, seq;
    if (o.payload_json) {
        const uint8_t *pl = pub->payload.ptr;
        uint64_t f, q;
        if (pub->payload.len < json_len || !get_num(pl + json_t_off, JSON_T_W, &sent_at) ||
            !get_num(pl + json_pub_off, JSON_PUB_W, &f) ||
            !get_num(pl + json_seq_off, JSON_SEQ_W, &q) || f > UINT32_MAX || q > UINT32_MAX) {
            bad_packets++;
            return;
        }
        from = (uint32_t)f;
        seq = (uint32_t)q;
    } else if (pub->payload.len < PAYLOAD_MIN) {
        bad_packets++;
        return;
    } else {
        memcpy(&sent_at, pub->payload.ptr, 8);
        memcpy(&from, pub->payload.ptr + 8, 4);
        memcpy(&seq, pub->payload.ptr + 12, 4);
    }
    if (from >= (uint32_t)npub) {
        bad_packets++;
        return;
    }
    struct seen *s = &cl->seen[from];
    if (seen_mark(s, seq)) {
        s->unique++;
        unique_total++;
        clients[nsub + (int)from].delivered++;
    } else {
        duplicates++;
    }
    if (seq < s->last) out_of_order++;
    s->last = seq;
    received_total++;
    last_rx_ns = t;
    if (measuring) {
        win_received++;
        hist[hist_index(t > sent_at ? t - sent_at : 0)]++;
    }
    if (pub->qos == 1) {
        struct obuf *b = &cl->out[cl->fill];
        b->len += mqtt_encode_ack(obuf_reserve(b, 4), 4, MQTT_PUBACK, pub->packet_id);
    }
}

static void on_puback(struct client *cl, uint16_t id)
{
    uint64_t bit = 1ull << (id & 63);
    if (cl->role != ROLE_PUB || !cl->pid_bits || !(cl->pid_bits[id >> 6] & bit)) {
        bad_acks++;
        return;
    }
    cl->pid_bits[id >> 6] &= ~bit;
    cl->inflight--;
}

static void mark_ready(struct client *cl)
{
    cl->ready = true;
    settle(cl);
}

static void on_connack(struct client *cl, const struct mqtt_connack *ack)
{
    if (ack->return_code != MQTT_CONNACK_ACCEPTED) {
        client_fail(cl, "CONNACK refused", 0);
        return;
    }
    if (cl->role != ROLE_SUB) {
        mark_ready(cl);
        return;
    }
    uint8_t pkt[512];
    struct mqtt_sub_req req = {o.topic, (uint8_t)o.qos};
    size_t n = mqtt_encode_subscribe(pkt, sizeof pkt, 1, &req, 1);
    send_packet(cl, pkt, n);
}

static void on_suback(struct client *cl, const struct mqtt_suback *ack)
{
    if (ack->return_codes.len != 1 || ack->return_codes.ptr[0] == MQTT_SUBACK_FAILURE) {
        client_fail(cl, "SUBACK refused", 0);
        return;
    }
    mark_ready(cl);
}

static void on_packet(struct client *cl, const struct mqtt_packet *p, uint64_t t)
{
    switch (p->type) {
    case MQTT_CONNACK:
        on_connack(cl, &p->u.connack);
        break;
    case MQTT_SUBACK:
        on_suback(cl, &p->u.suback);
        break;
    case MQTT_PUBACK:
        on_puback(cl, p->u.ack.packet_id);
        break;
    case MQTT_PUBLISH:
        if (cl->role == ROLE_SUB) on_subscriber_publish(cl, &p->u.publish, t);
        break;
    default:
        break;
    }
}

static size_t read_buf_size(enum role r)
{
    return r == ROLE_SUB ? READ_BUF_SUB : r == ROLE_PUB ? READ_BUF_PUB : READ_BUF_IDLE;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct client *cl = h->data;
    if (!cl->in) {
        cl->in_cap = read_buf_size(cl->role);
        cl->in = xrealloc(NULL, cl->in_cap);
    }
    *b = uv_buf_init((char *)cl->in + cl->in_len, (unsigned)(cl->in_cap - cl->in_len));
}

/* Decode every whole packet in the input buffer; keep the partial rest. */
static void parse_input(struct client *cl, uint64_t t)
{
    size_t off = 0;
    while (!cl->dead && !finished) {
        struct mqtt_frame f;
        size_t need = 0;
        int rc = mqtt_frame(cl->in + off, cl->in_len - off, 0, &f, &need);
        if (rc == 0 && need > cl->in_cap) {
            client_fail(cl, "packet larger than the read buffer", 0);
            return;
        }
        if (rc == 0) break;
        struct mqtt_packet p;
        if (rc < 0 || mqtt_decode(&f, &p) != 0) {
            bad_packets++;
            client_fail(cl, "malformed packet from the broker", 0);
            return;
        }
        on_packet(cl, &p, t);
        off += f.total_len;
    }
    memmove(cl->in, cl->in + off, cl->in_len - off);
    cl->in_len -= off;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct client *cl = s->data;
    if (finished || cl->dead) return;
    if (nread < 0) {
        client_fail(cl, "read", (int)nread);
        return;
    }
    if (nread == 0) return;
    cl->in_len += (size_t)nread;
    parse_input(cl, now_ns());
    if (cl->dead || finished) return;
    if (cl->role == ROLE_PUB) pump(cl); /* PUBACKs opened the window */
    flush(cl);                          /* subscribers: this read's PUBACKs in one write */
    if (cl->role == ROLE_SUB && o.qos) pump_publishers(); /* deliveries opened it */
}

/* ---- connecting --------------------------------------------------------- */

static void send_connect(struct client *cl)
{
    char id[48];
    snprintf(id, sizeof id, "loadgen-%d-%d", (int)getpid(), (int)(cl - clients));
    struct mqtt_connect c = {.protocol_level = 4,
                             .clean_session = true,
                             .keepalive = 600, /* longer than any run; no PINGREQ needed */
                             .client_id = {id, (uint16_t)strlen(id)}};
    uint8_t pkt[128];
    size_t n = mqtt_encode_connect(pkt, sizeof pkt, &c);
    send_packet(cl, pkt, n);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *cl = req->data;
    if (finished) return;
    if (status < 0) {
        client_fail(cl, "connect", status);
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_read);
    if (!rc && cl->role == ROLE_PUB && o.sndbuf > 0) {
        int size = o.sndbuf; /* SO_SNDBUF; Linux doubles it for its bookkeeping */
        rc = uv_send_buffer_size((uv_handle_t *)&cl->tcp, &size);
    }
    if (rc) {
        client_fail(cl, "read start", rc);
        return;
    }
    send_connect(cl);
}

static void connect_one(struct client *cl)
{
    struct sockaddr_in addr;
    nconnecting++;
    int rc = uv_ip4_addr(o.host, o.port, &addr);
    if (!rc) rc = uv_tcp_init(loop, &cl->tcp);
    if (rc) {
        client_fail(cl, "socket", rc);
        return;
    }
    cl->inited = true;
    cl->tcp.data = cl;
    cl->creq.data = cl;
    uv_tcp_nodelay(&cl->tcp, 1);
    rc = uv_tcp_connect(&cl->creq, &cl->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc) client_fail(cl, "connect", rc);
}

/* Keep up to --parallel connection setups in progress. */
static void start_connects(void)
{
    static bool active; /* a failing connect_one() settles, which calls us again */
    if (active) return;
    active = true;
    while (!finished && nstarted < nclients && nconnecting < o.parallel)
        connect_one(&clients[nstarted++]);
    active = false;
}

/* ---- phases ------------------------------------------------------------- */

static void begin_window(void)
{
    measuring = true;
    win_sent = win_received = 0;
    memset(hist, 0, sizeof hist);
    own_cpu0 = own_cpu_seconds();
    hs0 = host_sample();
    bs0 = broker_sample();
    win_start_ns = now_ns();
}

static void end_window(void)
{
    win_end_ns = now_ns();
    bs1 = broker_sample();
    hs1 = host_sample();
    own_cpu1 = own_cpu_seconds();
    rss_after_kb = broker_status_kb("VmRSS");
    hwm_after_kb = broker_status_kb("VmHWM");
    measuring = false;
}

/* Every subscriber has every message and every QoS 1 message is acknowledged. */
static bool drained(void)
{
    uint64_t inflight = 0;
    for (int i = 0; i < nclients; i++)
        if (clients[i].role == ROLE_PUB) inflight += clients[i].inflight;
    return inflight == 0 && unique_total == sent_total * (uint64_t)nsub;
}

static void on_drain_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t n = now_ns();
    if (drained() || n >= drain_end_ns || (o.qos == 0 && n - last_rx_ns > QUIET_NS)) finish();
}

static void on_phase(uv_timer_t *t);

static void start_drain(void)
{
    end_window();
    running = false;
    last_rx_ns = now_ns();
    drain_end_ns = last_rx_ns + (uint64_t)(o.drain * 1e9);
    uv_timer_start(&tick_timer, on_drain_tick, 20, 20);
}

static void on_phase(uv_timer_t *t)
{
    (void)t;
    if (is_idle_run()) { /* the hold is over: every connection sat idle */
        rss_after_kb = broker_status_kb("VmRSS");
        hwm_after_kb = broker_status_kb("VmHWM");
        finish();
    } else if (!measuring) {
        begin_window();
        uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.duration * 1000), 0);
    } else {
        start_drain();
    }
}

static void on_rate_tick(uv_timer_t *t)
{
    (void)t;
    pump_publishers();
}

static void all_settled(void)
{
    connect_end_ns = now_ns();
    if (is_idle_run()) {
        printf("READY %d\n", nready);
        fflush(stdout);
        uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.hold * 1000), 0);
        return;
    }
    running = true;
    load_start_ns = now_ns();
    pump_publishers();
    if (o.rate > 0) uv_timer_start(&tick_timer, on_rate_tick, 1, 1);
    uv_timer_start(&phase_timer, on_phase, (uint64_t)(o.warmup * 1000), 0);
}

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    errors++;
    fprintf(stderr, "loadgen: deadline reached (connected %d of %d, failed %d)\n", nready, nclients,
            nfailed);
    if (measuring) end_window();
    finish();
}

/* ---- report ------------------------------------------------------------- */

static double seconds_between(uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) / 1e9 : 0;
}

static void print_idle_report(void)
{
    double per = nready > 0 && rss_before_kb >= 0 && rss_after_kb >= 0
                     ? (double)(rss_after_kb - rss_before_kb) / nready
                     : 0;
    printf("{\"scenario\":\"idle\",\"connections\":%d,\"failed\":%d,\"connect_seconds\":%.3f,"
           "\"broker_rss_before_kb\":%ld,\"broker_rss_kb\":%ld,\"broker_hwm_kb\":%ld,"
           "\"kb_per_conn\":%.3f,\"errors\":%llu}\n",
           nready, nfailed, seconds_between(connect_start_ns, connect_end_ns), rss_before_kb,
           rss_after_kb, hwm_after_kb, per, (unsigned long long)errors);
}

static void print_load_report(void)
{
    double secs = seconds_between(win_start_ns, win_end_ns);
    double bcpu = -1, lcpu = -1, hbusy = -1, hsteal = -1;
    double tck = (double)sysconf(_SC_CLK_TCK);
    if (bs0.ok && bs1.ok && secs > 0) bcpu = 100.0 * (double)(bs1.ticks - bs0.ticks) / tck / secs;
    if (hs0.ok && hs1.ok && secs > 0) {
        hbusy = 100.0 * (double)(hs1.busy - hs0.busy) / tck / secs;
        hsteal = 100.0 * (double)(hs1.steal - hs0.steal) / tck / secs;
    }
    if (secs > 0) lcpu = 100.0 * (own_cpu1 - own_cpu0) / secs;
    uint64_t expected = sent_total * (uint64_t)nsub;
    uint64_t unacked = 0;
    for (int i = 0; i < nclients; i++)
        if (clients[i].role == ROLE_PUB) unacked += clients[i].inflight;
    printf("{\"scenario\":\"%s\",\"qos\":%d,\"publishers\":%d,\"subscribers\":%d,\"payload\":%d,"
           "\"payload_json\":%s,\"rate\":%.0f,\"window\":%d,\"sndbuf\":%d,\"seconds\":%.3f,"
           "\"sent\":%llu,\"received\":%"
           "llu,"
           "\"msgs_per_sec\":%.0f,\"sent_per_sec\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f,\"sent_total\":%llu,\"received_total\":%llu,\"lost\":%llu,"
           "\"duplicates\":%llu,\"out_of_order\":%llu,\"unacked\":%llu,\"bad_acks\":%llu,"
           "\"broker_cpu_pct\":%.1f,\"broker_rss_kb\":%ld,\"broker_hwm_kb\":%ld,"
           "\"loadgen_cpu_pct\":%.1f,\"host_busy_pct\":%.1f,\"host_steal_pct\":%.1f,"
           "\"errors\":%llu}\n",
           o.scenario, o.qos, npub, nsub, o.payload, o.payload_json ? "true" : "false",
           o.rate > 0 ? o.rate : 0, o.qos ? o.window : 0, o.sndbuf, secs,
           (unsigned long long)win_sent, (unsigned long long)win_received,
           secs > 0 ? (double)win_received / secs : 0, secs > 0 ? (double)win_sent / secs : 0,
           percentile_us(0.50), percentile_us(0.99), max_us(), (unsigned long long)sent_total,
           (unsigned long long)received_total,
           (unsigned long long)(expected > unique_total ? expected - unique_total : 0),
           (unsigned long long)duplicates, (unsigned long long)out_of_order,
           (unsigned long long)unacked, (unsigned long long)bad_acks, bcpu, rss_after_kb,
           hwm_after_kb, lcpu, hbusy, hsteal, (unsigned long long)(errors + bad_packets));
}

static void close_all(void)
{
    for (int i = 0; i < nclients; i++)
        client_close(&clients[i]);
    uv_close((uv_handle_t *)&phase_timer, NULL);
    uv_close((uv_handle_t *)&tick_timer, NULL);
    uv_close((uv_handle_t *)&deadline_timer, NULL);
}

static void finish(void)
{
    if (finished) return;
    finished = true;
    running = false;
    if (is_idle_run())
        print_idle_report();
    else
        print_load_report();
    fflush(stdout);
    close_all();
}

/* ---- options ------------------------------------------------------------ */

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: umbra-loadgen --port PORT --scenario NAME [options]\n"
            "       umbra-loadgen --free-port            print a free 127.0.0.1 TCP port\n"
            "       umbra-loadgen --port PORT --probe S  wait up to S seconds for a listener\n"
            "\n"
            "scenarios (defaults in brackets):\n"
            "  fanin    P publishers [8] at QoS 0, as fast as TCP flow control allows,\n"
            "           into 1 subscriber: messages/s received\n"
            "  fanout   1 publisher at QoS 0, as fast as flow control allows, to S\n"
            "           subscribers [50] of the same topic: deliveries/s summed\n"
            "  qos1     P publishers [8] at QoS 1, each with at most W [100] messages\n"
            "           in flight end to end (not yet PUBACKed, or not yet received),\n"
            "           into 1 QoS 1 subscriber that acknowledges; lost messages\n"
            "           (must be 0), duplicates and reordering are counted\n"
            "  latency  1 publisher paced at --rate [10000] msg/s into 1 subscriber:\n"
            "           end-to-end latency below saturation\n"
            "  idle     N connections [10000] CONNECT (keepalive 600) and stay idle;\n"
            "           prints READY when every CONNACK is in, holds --hold seconds\n"
            "every scenario reports end-to-end latency p50/p99 (payloads carry the\n"
            "CLOCK_MONOTONIC send time), one JSON line on stdout.\n"
            "\n"
            "options:\n"
            "  --host ADDR          broker address [127.0.0.1]\n"
            "  --port PORT          broker port (required)\n"
            "  --topic TOPIC        [bench/load/topic]\n"
            "  --publishers N       --subscribers N   override the scenario's counts\n"
            "  --qos 0|1            override the scenario's QoS\n"
            "  --payload BYTES      payload size, 16..65000 [128]\n"
            "  --payload-json       JSON payloads, padded to --payload bytes (at least 95):\n"
            "                       "
            "{\"seq\":N,\"temperature\":T,\"device\":\"dev-K\",\"t\":NS,\"pub\":K};\n"
            "                       T > 90 in one message in ten, else 20.0..89.9\n"
            "  --window W           QoS 1 messages in flight per publisher [100]\n"
            "  --rate R             total msg/s over all publishers, written every 1 ms;\n"
            "                       0 = as fast as flow control allows\n"
            "  --warmup S           seconds of load before measuring [2]\n"
            "  --duration S         measured seconds [8]\n"
            "  --drain S            longest wait for in-flight messages after [QoS 0: 3, 1: 10]\n"
            "  --connections N      idle connections [10000]\n"
            "  --parallel N         connection setups in progress at once [200]\n"
            "  --sndbuf BYTES       publishers' SO_SNDBUF [65536] (the kernel doubles it);\n"
            "                       0 = kernel autotuning, up to MiBs queued per socket\n"
            "  --hold S             idle: seconds to hold the connections [3]\n"
            "  --broker-pid PID     sample the broker's CPU time and RSS from /proc\n");
    exit(status);
}

static double num_arg(const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "loadgen: bad number '%s' (expected %g..%g)\n", v, lo, hi);
        usage(2);
    }
    return d;
}

struct scenario_defaults {
    const char *name;
    int publishers, subscribers, qos;
    double rate;
};

static const struct scenario_defaults scenarios[] = {
    {"fanin", 8, 1, 0, 0},       {"fanout", 1, 50, 0, 0}, {"qos1", 8, 1, 1, 0},
    {"latency", 1, 1, 0, 10000}, {"idle", 0, 0, 0, 0},
};

static void apply_scenario(void)
{
    const struct scenario_defaults *d = NULL;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (!strcmp(o.scenario, scenarios[i].name)) d = &scenarios[i];
    if (!d) {
        fprintf(stderr, "loadgen: unknown scenario '%s'\n", o.scenario);
        usage(2);
    }
    if (o.publishers < 0) o.publishers = d->publishers;
    if (o.subscribers < 0) o.subscribers = d->subscribers;
    if (o.qos < 0) o.qos = d->qos;
    if (o.rate < 0) o.rate = d->rate;
    if (o.drain < 0) o.drain = o.qos ? 10 : 3;
    if (!is_idle_run() && (o.publishers < 1 || o.subscribers < 1)) usage(2);
    /* keepalive 600 s must outlast the run */
    if (o.warmup + o.duration + o.drain > 500 || o.hold > 500) {
        fprintf(stderr, "loadgen: a run must stay under 500 seconds\n");
        usage(2);
    }
}

static int free_port(void);
static int probe(double seconds);

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) usage(0);
        if (!strcmp(k, "--free-port")) exit(free_port());
        if (!strcmp(k, "--payload-json")) {
            o.payload_json = true;
            continue;
        }
        if (i + 1 >= argc) usage(2);
        const char *v = argv[++i];
        if (!strcmp(k, "--host"))
            o.host = v;
        else if (!strcmp(k, "--port"))
            o.port = (int)num_arg(v, 1, 65535);
        else if (!strcmp(k, "--probe"))
            exit(probe(num_arg(v, 0, 600)));
        else if (!strcmp(k, "--scenario"))
            o.scenario = v;
        else if (!strcmp(k, "--topic"))
            o.topic = v;
        else if (!strcmp(k, "--publishers"))
            o.publishers = (int)num_arg(v, 0, 10000);
        else if (!strcmp(k, "--subscribers"))
            o.subscribers = (int)num_arg(v, 0, 10000);
        else if (!strcmp(k, "--qos"))
            o.qos = (int)num_arg(v, 0, 1);
        else if (!strcmp(k, "--payload"))
            o.payload = (int)num_arg(v, PAYLOAD_MIN, 65000);
        else if (!strcmp(k, "--window"))
            o.window = (int)num_arg(v, 1, 65000);
        else if (!strcmp(k, "--rate"))
            o.rate = num_arg(v, 0, 1e9);
        else if (!strcmp(k, "--warmup"))
            o.warmup = num_arg(v, 0, 500);
        else if (!strcmp(k, "--duration"))
            o.duration = num_arg(v, 0.1, 500);
        else if (!strcmp(k, "--drain"))
            o.drain = num_arg(v, 0, 500);
        else if (!strcmp(k, "--connections"))
            o.connections = (int)num_arg(v, 1, 1000000);
        else if (!strcmp(k, "--sndbuf"))
            o.sndbuf = (int)num_arg(v, 0, 1 << 26);
        else if (!strcmp(k, "--parallel"))
            o.parallel = (int)num_arg(v, 1, 100000);
        else if (!strcmp(k, "--hold"))
            o.hold = num_arg(v, 0, 500);
        else if (!strcmp(k, "--broker-pid"))
            o.broker_pid = (int)num_arg(v, 1, 1 << 30);
        else
            usage(2);
    }
    if (!o.port || !o.scenario) usage(2);
    apply_scenario();
}

/* ---- helper modes ------------------------------------------------------- */

static int free_port(void)
{
    uv_loop_t *l = uv_default_loop();
    uv_tcp_t t;
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int len = sizeof name;
    uv_tcp_init(l, &t);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    int rc = uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0);
    if (!rc) rc = uv_tcp_getsockname(&t, (struct sockaddr *)&name, &len);
    if (!rc) printf("%d\n", ntohs(((struct sockaddr_in *)&name)->sin_port));
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(l, UV_RUN_DEFAULT);
    return rc ? 1 : 0;
}

static int probe_ok;

static void on_probe(uv_connect_t *req, int status)
{
    probe_ok = status == 0;
    uv_close((uv_handle_t *)req->handle, NULL);
}

/* Try to connect every 50 ms until a listener answers or time is up. */
static int probe(double seconds)
{
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    struct sockaddr_in addr;
    if (!o.port || uv_ip4_addr(o.host, o.port, &addr)) usage(2);
    do {
        uv_tcp_t t;
        uv_connect_t req;
        uv_tcp_init(uv_default_loop(), &t);
        if (uv_tcp_connect(&req, &t, (const struct sockaddr *)&addr, on_probe))
            uv_close((uv_handle_t *)&t, NULL);
        uv_run(uv_default_loop(), UV_RUN_DEFAULT);
        if (probe_ok) return 0;
        usleep(50000);
    } while (now_ns() < end);
    return 1;
}

/* ---- setup -------------------------------------------------------------- */

/* The --payload-json layout at p (NULL: only measure it); its length. */
static size_t json_layout(char *p)
{
    static const struct {
        const char *text;
        int width;
        size_t *off;
    } parts[] = {
        {"{\"seq\":", JSON_SEQ_W, &json_seq_off},
        {",\"temperature\":", JSON_TEMP_W, &json_temp_off},
        {",\"device\":\"dev-", JSON_DEV_W, &json_dev_off},
        {"\",\"t\":", JSON_T_W, &json_t_off},
        {",\"pub\":", JSON_PUB_W, &json_pub_off},
        {"}", 0, NULL},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t tl = strlen(parts[i].text);
        if (p) memcpy(p + n, parts[i].text, tl);
        n += tl;
        if (parts[i].off) *parts[i].off = n;
        if (p) memset(p + n, '0', (size_t)parts[i].width);
        n += (size_t)parts[i].width;
    }
    return n;
}

static void build_template(void)
{
    uint8_t *payload = xrealloc(NULL, (size_t)o.payload);
    memset(payload, o.payload_json ? ' ' : 'x', (size_t)o.payload);
    if (o.payload_json) {
        json_len = json_layout(NULL);
        if ((size_t)o.payload < json_len) {
            fprintf(stderr, "loadgen: --payload-json needs --payload %zu or more\n", json_len);
            exit(2);
        }
        json_layout((char *)payload);
        put_json_payload(payload, 0, 0, 0);
    }
    struct mqtt_publish pub = {.qos = (uint8_t)o.qos,
                               .topic = {o.topic, (uint16_t)strlen(o.topic)},
                               .packet_id = o.qos ? 1 : 0,
                               .payload = {payload, (size_t)o.payload}};
    msg_len = mqtt_encode_publish(NULL, 0, &pub);
    msg_hdr_len = mqtt_encode_publish_header(NULL, 0, &pub);
    msg_pid_off = o.qos ? mqtt_publish_packet_id_offset(&pub) : 0;
    if (!msg_len || msg_hdr_len + (size_t)o.payload != msg_len) {
        fprintf(stderr, "loadgen: cannot encode a PUBLISH on '%s'\n", o.topic);
        exit(2);
    }
    msg_tmpl = xrealloc(NULL, msg_len);
    mqtt_encode_publish(msg_tmpl, msg_len, &pub);
    free(payload);
}

static void setup_clients(void)
{
    bool idle = is_idle_run();
    npub = idle ? 0 : o.publishers;
    nsub = idle ? 0 : o.subscribers;
    nclients = idle ? o.connections : npub + nsub;
    clients = calloc((size_t)nclients, sizeof *clients);
    if (!clients) abort();
    for (int i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        /* subscribers first, so they are subscribed before anyone publishes */
        cl->role = idle ? ROLE_IDLE : i < nsub ? ROLE_SUB : ROLE_PUB;
        cl->index = cl->role == ROLE_PUB ? i - nsub : i;
        if (cl->role == ROLE_PUB) {
            for (int k = 0; k < 2; k++)
                obuf_reserve(&cl->out[k], CHUNK + msg_len);
            if (o.qos) cl->pid_bits = calloc(65536 / 64, sizeof(uint64_t));
        } else if (cl->role == ROLE_SUB) {
            cl->seen = calloc((size_t)npub, sizeof *cl->seen);
        }
    }
}

static void free_clients(void)
{
    for (int i = 0; i < nclients; i++) {
        struct client *cl = &clients[i];
        free(cl->out[0].data);
        free(cl->out[1].data);
        free(cl->in);
        free(cl->pid_bits);
        if (cl->seen)
            for (int k = 0; k < npub; k++)
                free(cl->seen[k].bits);
        free(cl->seen);
    }
    free(clients);
    free(msg_tmpl);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    parse(argc, argv);
    loop = uv_default_loop();
    if (!is_idle_run()) build_template();
    setup_clients();
    uv_timer_init(loop, &phase_timer);
    uv_timer_init(loop, &tick_timer);
    uv_timer_init(loop, &deadline_timer);
    double limit = is_idle_run() ? 120 + o.hold : 60 + o.warmup + o.duration + o.drain;
    uv_timer_start(&deadline_timer, on_deadline, (uint64_t)(limit * 1000), 0);
    rss_before_kb = broker_status_kb("VmRSS");
    connect_start_ns = now_ns();
    start_connects();
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    free_clients();
    uint64_t lost = 0;
    if (!is_idle_run() && o.qos && unique_total < sent_total * (uint64_t)nsub)
        lost = sent_total * (uint64_t)nsub - unique_total;
    return errors || bad_packets || lost ? 1 : 0;
}
