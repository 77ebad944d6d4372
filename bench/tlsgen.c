/*
 * bench/tlsgen.c - MQTT-over-TLS load generator for the umbrad / mosquitto
 * TLS benchmark (bench/tls.sh).
 *
 * One thread, one poll() loop, non-blocking sockets and mbedTLS on the
 * client side, presenting an X.509 client certificate as AWS IoT devices do.
 *
 *  - handshake: keep --concurrency connections in flight. Each one does a
 *    full TLS 1.2 handshake (no session id, no ticket: nothing to resume),
 *    sends CONNECT, waits for CONNACK, sends DISCONNECT and closes; its slot
 *    then starts a new connection. Completed connections are counted over
 *    the measured window, after a warm-up.
 *  - idle: open --connections connections (--parallel setups at a time),
 *    CONNECT with keepalive 600 each, wait for every CONNACK, hold them
 *    --hold seconds, and report the broker's VmRSS growth per connection.
 *  - fanin: --publishers P publishers and 1 subscriber, every one over TLS
 *    with a client certificate. The subscriber subscribes to --sub-filter;
 *    the publishers publish QoS 0 to --topic-pattern (%c: their client id)
 *    as fast as TCP flow control allows, each encrypting one batch of
 *    PUBLISH packets into one TLS record at a time; or, with --rate R, at R
 *    messages/s in all, each writing what is due once per 1 ms tick (as
 *    umbra-loadgen --rate), so that the broker's CPU per delivered message
 *    can be measured below saturation. The payload carries the
 *    send time: messages/s received, sent/s and end-to-end latency over the
 *    measured window, then a drain phase. The same load as umbra-loadgen's
 *    fanin scenario, over TLS, where the broker applies the certificate's
 *    policies to every connect, subscribe, publish and delivery.
 *
 * Given --pid, the broker's CPU time (utime+stime from /proc/PID/stat) and
 * RSS are sampled; the generator's own CPU time and the machine's busy time
 * (/proc/stat) say whether the generator or someone else was the limit.
 * The negotiated cipher suite and ECDHE curve are reported, because they,
 * more than anything else, set the cost of a handshake.
 *
 * Connects to 127.0.0.1 only. A deadline bounds every run. Prints one JSON
 * line on stdout. Exit status 1 when a connection failed or the deadline
 * passed, 2 on a usage error.
 */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h> /* only for its MBEDTLS_ERR_NET_* codes */
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOGGED_ERRORS 5
#define RETRY_NS 10000000ull   /* a failed slot waits 10 ms: a dead broker must not spin us */
#define HANDSHAKE_KEEPALIVE 60 /* inside the aws profile's 30..1200 s */
#define IDLE_KEEPALIVE 600     /* must outlast the idle run */
#define FAN_READ_BUF (256 * 1024) /* the fan-in subscriber's input buffer */
#define FAN_READS_PER_STEP 16     /* records a subscriber reads before poll() again */
#define FAN_WRITES_PER_STEP 4     /* records a publisher writes before poll() again */
#define PAYLOAD_MIN 16            /* send time 8 + publisher 4 + sequence 4 */
#define HIST_SUB_BITS 5           /* 32 linear sub-buckets per power of two */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (64u * HIST_SUB)
#define QUIET_NS 300000000ull /* the drain ends after 300 ms of silence */

enum mode { MODE_HANDSHAKE, MODE_IDLE, MODE_FANIN };

enum state {
    ST_FREE,
    ST_CONNECTING,  /* TCP connect in progress */
    ST_HANDSHAKE,   /* TLS handshake */
    ST_WRITE,       /* writing out[]: CONNECT or DISCONNECT */
    ST_CONNACK,     /* reading the 4-byte CONNACK */
    ST_IDLE,        /* connected and silent (idle mode; fan-in publishers before the load) */
    ST_SUBACK,      /* fan-in subscriber: reading the 5-byte SUBACK */
    ST_PUBLISH,     /* fan-in publisher: writing batches of PUBLISH packets */
    ST_RECEIVE,     /* fan-in subscriber: reading PUBLISH packets */
};

struct conn {
    int fd; /* -1 when closed */
    enum state st;
    short events;  /* what poll() waits for */
    short revents; /* what poll() last reported */
    bool ssl_ready;
    mbedtls_ssl_context ssl;
    /* mbedtls_ssl_write must be retried with the same data after WANT_*. */
    uint8_t out[320];
    size_t out_len, out_off;
    bool out_is_disconnect;
    enum state after_write; /* the state once out[] is written (not for DISCONNECT) */
    uint8_t in[8];
    size_t in_len;
    /* fan-in */
    bool is_sub;
    int index;        /* publisher number */
    char id[96];      /* client id */
    uint8_t *msg;     /* publisher: one encoded PUBLISH, the payload filled with 'x' */
    size_t msg_len, msg_hdr_len;
    uint8_t *buf;     /* publisher: the batch being written; subscriber: input */
    size_t buf_len, buf_off, buf_cap;
    uint32_t seq;     /* publisher: messages built so far (next sequence number) */
    uint64_t start_ns;
    uint64_t retry_ns; /* after a failure, the slot waits until then */
};

struct opts {
    const char *host, *ca, *cert, *key, *servername, *curves;
    const char *sub_cert, *sub_key, *client_prefix, *topic_pattern, *sub_filter;
    int port, concurrency, connections, parallel, pid, publishers, payload, sndbuf;
    enum mode mode;
    double warmup, duration, hold, timeout, drain;
    double rate; /* fan-in: total messages/s over all publishers; 0 = unpaced */
    bool verify;
};

static struct opts o = {
    .host = "127.0.0.1",
    .servername = "localhost",
    .mode = MODE_HANDSHAKE,
    .concurrency = 8,
    .connections = 1000,
    .parallel = 32,
    .warmup = 1,
    .duration = 5,
    .hold = 2,
    .timeout = 0,
    .verify = true,
    .publishers = 8,
    .payload = 128,
    .sndbuf = 64 * 1024,
    .drain = 3,
    .client_prefix = "bench-",
    .topic_pattern = "bench/%c/data",
    .sub_filter = "bench/+/data",
};

static mbedtls_ssl_config conf, sub_conf; /* sub_conf: with --sub-cert */
static bool have_sub_conf;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context entropy;
static mbedtls_x509_crt ca_crt, own_crt, sub_crt;
static mbedtls_pk_context own_key, sub_key;
static mbedtls_ecp_group_id curve_list[16];
static bool have_curve_list;

static struct conn *conns;
static int nconns;
static struct sockaddr_in broker_addr;
static unsigned long serial; /* makes client ids unique */
static char curve_name[32] = "?", suite_name[64] = "?", key_label[32] = "?";

static bool running = true, measuring;
static uint64_t completed, win_completed, errors, started, nready;
static double *lat_ms; /* connection latencies (connect to CONNACK) in the window */
static size_t lat_n, lat_cap;

/* fan-in */
static bool flooding; /* publishers build new batches */
static uint64_t load_start_ns; /* --rate: messages due are counted from here */
static int suback_code = -1;
static uint64_t fan_sent_total, fan_received_total, fan_win_sent, fan_win_received;
static uint64_t fan_out_of_order, fan_bad_packets, fan_last_rx_ns;
static uint32_t *fan_next_seq; /* per publisher: the sequence number expected next */
static uint64_t hist[HIST_BUCKETS]; /* end-to-end latency, ns, log-linear */

/* ---- time and /proc ---------------------------------------------------- */

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

struct sample {
    bool ok;
    uint64_t ns;
    double broker_s;          /* broker utime + stime, seconds */
    double own_s;             /* our CPU time */
    uint64_t host_busy, host_all; /* /proc/stat ticks, all CPUs */
};

/* utime + stime of --pid, from /proc/PID/stat (fields 14 and 15). */
static bool broker_cpu(double *secs)
{
    if (o.pid <= 0) return false;
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", o.pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return false;
    *secs = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return true;
}

static void host_ticks(uint64_t *busy, uint64_t *all)
{
    unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
    *busy = *all = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        *busy = v[0] + v[1] + v[2] + v[5] + v[6];
        *all = *busy + v[3] + v[4] + v[7];
    }
    fclose(f);
}

static struct sample take_sample(void)
{
    struct sample s = {.ns = now_ns(), .own_s = own_cpu_seconds()};
    s.ok = broker_cpu(&s.broker_s);
    host_ticks(&s.host_busy, &s.host_all);
    return s;
}

/* A "Key:   N kB" line of /proc/PID/status, or -1. */
static long broker_status_kb(const char *key)
{
    if (o.pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", o.pid);
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

static double secs_between(const struct sample *a, const struct sample *b)
{
    return (double)(b->ns - a->ns) / 1e9;
}

/* CPU % of one core used by the broker, by us, and by the whole machine. */
static double broker_pct(const struct sample *a, const struct sample *b)
{
    double s = secs_between(a, b);
    return a->ok && b->ok && s > 0 ? 100.0 * (b->broker_s - a->broker_s) / s : -1;
}

static double own_pct(const struct sample *a, const struct sample *b)
{
    double s = secs_between(a, b);
    return s > 0 ? 100.0 * (b->own_s - a->own_s) / s : -1;
}

static double host_pct(const struct sample *a, const struct sample *b)
{
    uint64_t all = b->host_all - a->host_all;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!all || ncpu < 1) return -1;
    return 100.0 * (double)ncpu * (double)(b->host_busy - a->host_busy) / (double)all;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double p)
{
    if (!lat_n) return 0;
    size_t i = (size_t)(p * (double)(lat_n - 1) + 0.5);
    return lat_ms[i];
}

/* The fan-in latency histogram: 32 linear sub-buckets per power of two of
 * nanoseconds (about 3 % resolution), as in umbra-loadgen. */
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
static double hist_percentile_us(double p)
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

static double hist_max_us(void)
{
    for (unsigned i = HIST_BUCKETS; i-- > 0;)
        if (hist[i]) return hist_mid(i) / 1000.0;
    return 0;
}

/* ---- errors ------------------------------------------------------------- */

static void log_error(const struct conn *c, const char *what, int tls_rc)
{
    errors++;
    if (errors > MAX_LOGGED_ERRORS) return;
    char msg[160] = "";
    if (tls_rc) mbedtls_strerror(tls_rc, msg, sizeof msg);
    fprintf(stderr, "tlsgen: connection %d: %s%s%s\n", (int)(c - conns), what, tls_rc ? ": " : "",
            msg);
}

/* ---- the socket under mbedTLS -------------------------------------------- */

/* Our own BIO, so that EAGAIN needs no fcntl() and a reset raises no SIGPIPE. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* mbedTLS names the ECDHE curve only in a level-2 debug message. */
static void on_debug(void *ctx, int level, const char *file, int line, const char *str)
{
    (void)ctx, (void)level, (void)file, (void)line;
    const char *p = strstr(str, "ECDH curve: ");
    if (!p) return;
    snprintf(curve_name, sizeof curve_name, "%s", p + strlen("ECDH curve: "));
    curve_name[strcspn(curve_name, "\r\n")] = '\0';
    mbedtls_debug_set_threshold(0); /* once is enough; debug output costs CPU */
}

/* ---- MQTT packets ---------------------------------------------------------- */

/* CONNECT 3.1.1, clean session, a unique client id (fan-in: the
 * connection's own); no user name or password: the certificate is the
 * identity. */
static size_t encode_connect(uint8_t *p, size_t cap, unsigned keepalive, const char *fixed_id)
{
    char id[96];
    int idlen = fixed_id ? snprintf(id, sizeof id, "%s", fixed_id)
                         : snprintf(id, sizeof id, "tlsgen-%d-%lu", (int)getpid(), serial++);
    size_t rem = 10 + 2 + (size_t)idlen; /* variable header + client id */
    if (idlen <= 0 || rem > 127 || rem + 2 > cap) abort(); /* one-byte remaining length */
    uint8_t *q = p;
    *q++ = 0x10;
    *q++ = (uint8_t)rem;
    static const uint8_t vh[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0x02};
    memcpy(q, vh, sizeof vh);
    q += sizeof vh;
    *q++ = (uint8_t)(keepalive >> 8);
    *q++ = (uint8_t)keepalive;
    *q++ = 0;
    *q++ = (uint8_t)idlen;
    memcpy(q, id, (size_t)idlen);
    q += idlen;
    return (size_t)(q - p);
}

/* MQTT remaining length; returns the bytes used (at most 4). */
static size_t encode_varint(uint8_t *p, size_t v)
{
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(v & 127);
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 128 : 0));
    } while (v);
    return n;
}

/* SUBSCRIBE, packet id 1, one filter at QoS 0. */
static size_t encode_subscribe(uint8_t *p, size_t cap, const char *filter)
{
    size_t flen = strlen(filter), rem = 2 + 2 + flen + 1;
    if (flen > 65535 || rem + 5 > cap) abort(); /* checked when parsing the options */
    uint8_t *q = p;
    *q++ = 0x82;
    q += encode_varint(q, rem);
    *q++ = 0, *q++ = 1; /* packet id */
    *q++ = (uint8_t)(flen >> 8), *q++ = (uint8_t)flen;
    memcpy(q, filter, flen);
    q += flen;
    *q++ = 0; /* QoS 0 */
    return (size_t)(q - p);
}

/* The publisher's topic: --topic-pattern with %c replaced by its client id. */
static bool fan_topic(const char *id, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = o.topic_pattern; *s; s++) {
        const char *add = s;
        size_t len = 1;
        if (s[0] == '%' && s[1] == 'c') add = id, len = strlen(id), s++;
        else if (s[0] == '%' && s[1] == '%') s++;
        if (n + len >= cap) return false;
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    return n > 0 && !strpbrk(out, "+#");
}

/* Encode the publisher's PUBLISH template (QoS 0, payload of 'x'). */
static void fan_make_template(struct conn *c)
{
    char topic[512];
    if (!fan_topic(c->id, topic, sizeof topic)) {
        fprintf(stderr, "tlsgen: bad --topic-pattern '%s'\n", o.topic_pattern);
        exit(2);
    }
    size_t tlen = strlen(topic), rem = 2 + tlen + (size_t)o.payload;
    c->msg = malloc(1 + 4 + rem);
    if (!c->msg) abort();
    c->msg[0] = 0x30;
    size_t h = 1 + encode_varint(c->msg + 1, rem);
    c->msg[h++] = (uint8_t)(tlen >> 8);
    c->msg[h++] = (uint8_t)tlen;
    memcpy(c->msg + h, topic, tlen);
    h += tlen;
    memset(c->msg + h, 'x', (size_t)o.payload);
    c->msg_hdr_len = h;
    c->msg_len = h + (size_t)o.payload;
}

/* ---- connections ----------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->st = ST_FREE;
    c->events = 0;
}

static void conn_start(struct conn *c);

/* A connection failed: count it. In handshake mode the main loop starts its
 * slot over after RETRY_NS. */
static void conn_fail(struct conn *c, const char *what, int tls_rc)
{
    log_error(c, what, tls_rc);
    conn_close(c);
    c->retry_ns = now_ns() + RETRY_NS;
}

static void conn_start(struct conn *c)
{
    if (!c->ssl_ready) {
        mbedtls_ssl_init(&c->ssl);
        int rc = mbedtls_ssl_setup(&c->ssl, c->is_sub && have_sub_conf ? &sub_conf : &conf);
        if (rc) {
            conn_fail(c, "ssl setup", rc);
            return;
        }
        c->ssl_ready = true;
        mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    } else {
        /* A reset keeps the buffers but forgets the session: the next
         * handshake is a full one (we never call mbedtls_ssl_set_session). */
        mbedtls_ssl_session_reset(&c->ssl);
    }
    mbedtls_ssl_set_hostname(&c->ssl, o.servername);
    c->in_len = c->out_len = c->out_off = 0;
    c->start_ns = now_ns();
    started++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c, strerror(errno), 0);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* As umbra-loadgen: without a cap the kernel grows a flooded socket's
     * send buffer to megabytes, and latency becomes the time to drain it. */
    if (o.mode == MODE_FANIN && !c->is_sub && o.sndbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof o.sndbuf);
    if (connect(c->fd, (struct sockaddr *)&broker_addr, sizeof broker_addr) && errno != EINPROGRESS) {
        char what[96];
        snprintf(what, sizeof what, "connect: %s", strerror(errno));
        conn_fail(c, what, 0);
        return;
    }
    c->st = ST_CONNECTING;
    c->events = POLLOUT;
}

static void record_latency(struct conn *c)
{
    if (!measuring) return;
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 4096;
        lat_ms = realloc(lat_ms, lat_cap * sizeof *lat_ms);
        if (!lat_ms) abort();
    }
    lat_ms[lat_n++] = (double)(now_ns() - c->start_ns) / 1e6;
}

/* ---- fan-in ------------------------------------------------------------------ */

/* How many messages a publisher may put in its next batch: as many whole
 * PUBLISH packets as one TLS record holds; with --rate, no more than are
 * due (rate / publishers per second since the load started). */
static size_t fan_budget(const struct conn *c, uint64_t t)
{
    size_t n = c->buf_cap / c->msg_len;
    if (o.rate > 0) {
        double per_pub = o.rate / o.publishers;
        uint64_t due = (uint64_t)(per_pub * (double)(t - load_start_ns) / 1e9);
        size_t owed = due > c->seq ? (size_t)(due - c->seq) : 0;
        if (owed < n) n = owed;
    }
    return n;
}

/* Fill the publisher's batch with n (at most one TLS record's worth) PUBLISH
 * packets, each stamped with the send time, the publisher and its sequence
 * number. */
static void fan_build_batch(struct conn *c, size_t n, uint64_t t)
{
    uint32_t pub = (uint32_t)c->index;
    uint8_t *p = c->buf;
    for (size_t i = 0; i < n; i++, p += c->msg_len) {
        memcpy(p, c->msg, c->msg_len);
        uint8_t *pl = p + c->msg_hdr_len;
        memcpy(pl, &t, 8);
        memcpy(pl + 8, &pub, 4);
        memcpy(pl + 12, &c->seq, 4);
        c->seq++;
    }
    c->buf_len = n * c->msg_len;
    c->buf_off = 0;
    fan_sent_total += n;
    if (measuring) fan_win_sent += n;
}

/* A publisher's socket is readable: the broker says nothing to a QoS 0
 * publisher, so this is it closing the connection (a denied publish does). */
static bool fan_check_open(struct conn *c)
{
    uint8_t junk[256];
    int rc = mbedtls_ssl_read(&c->ssl, junk, sizeof junk);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc > 0) return true;
    conn_fail(c,
              rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "publisher closed by the broker"
                                                                 : "publisher read",
              rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : rc);
    return false;
}

static void fan_on_publish(const uint8_t *p, size_t rem, int qos, uint64_t t)
{
    if (rem < 2) {
        fan_bad_packets++;
        return;
    }
    size_t hdr = 2 + ((size_t)p[0] << 8 | p[1]) + (qos ? 2 : 0);
    if (rem < hdr + PAYLOAD_MIN) {
        fan_bad_packets++;
        return;
    }
    uint64_t sent_at;
    uint32_t from, seq;
    memcpy(&sent_at, p + hdr, 8);
    memcpy(&from, p + hdr + 8, 4);
    memcpy(&seq, p + hdr + 12, 4);
    if (from >= (uint32_t)o.publishers) {
        fan_bad_packets++;
        return;
    }
    if (seq < fan_next_seq[from])
        fan_out_of_order++; /* a duplicate or a reordering: neither should happen */
    else
        fan_next_seq[from] = seq + 1;
    fan_received_total++;
    fan_last_rx_ns = t;
    if (measuring) {
        fan_win_received++;
        hist[hist_index(t > sent_at ? t - sent_at : 0)]++;
    }
}

/* Every whole packet in the subscriber's input; the partial rest stays.
 * False when the connection failed. */
static bool fan_parse(struct conn *c, uint64_t t)
{
    size_t off = 0;
    for (;;) {
        const uint8_t *p = c->buf + off;
        size_t avail = c->buf_len - off, rem = 0, i = 1;
        unsigned shift = 0;
        bool whole = false;
        while (i < avail && i <= 4) {
            rem |= (size_t)(p[i] & 127) << shift;
            shift += 7;
            if (!(p[i++] & 128)) {
                whole = true;
                break;
            }
        }
        if (!whole && i > 4) {
            fan_bad_packets++;
            conn_fail(c, "malformed packet from the broker", 0);
            return false;
        }
        if (!whole) break;
        if (i + rem > c->buf_cap) {
            conn_fail(c, "packet larger than the input buffer", 0);
            return false;
        }
        if (avail < i + rem) break;
        if ((p[0] & 0xF0) == 0x30) fan_on_publish(p + i, rem, (p[0] >> 1) & 3, t);
        off += i + rem;
    }
    memmove(c->buf, c->buf + off, c->buf_len - off);
    c->buf_len -= off;
    return true;
}

/* Drive one connection until it would block. */
static void step(struct conn *c)
{
    int rc;
    for (;;) {
        switch (c->st) {
        case ST_FREE:
            return;
        case ST_CONNECTING: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
                char what[96];
                snprintf(what, sizeof what, "connect: %s", strerror(err ? err : errno));
                conn_fail(c, what, 0);
                return;
            }
            c->st = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE:
            rc = mbedtls_ssl_handshake(&c->ssl);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc) {
                conn_fail(c, "TLS handshake", rc);
                return;
            }
            if (suite_name[0] == '?')
                snprintf(suite_name, sizeof suite_name, "%s", mbedtls_ssl_get_ciphersuite(&c->ssl));
            c->out_len = encode_connect(c->out, sizeof c->out,
                                        o.mode == MODE_HANDSHAKE ? HANDSHAKE_KEEPALIVE
                                                                 : IDLE_KEEPALIVE,
                                        o.mode == MODE_FANIN ? c->id : NULL);
            c->out_off = 0;
            c->out_is_disconnect = false;
            c->after_write = ST_CONNACK;
            c->st = ST_WRITE;
            break;
        case ST_WRITE:
            rc = mbedtls_ssl_write(&c->ssl, c->out + c->out_off, c->out_len - c->out_off);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc < 0) {
                conn_fail(c,
                          c->out_is_disconnect           ? "write DISCONNECT"
                          : c->after_write == ST_SUBACK ? "write SUBSCRIBE"
                                                         : "write CONNECT",
                          rc);
                return;
            }
            c->out_off += (size_t)rc;
            if (c->out_off < c->out_len) break;
            if (!c->out_is_disconnect) {
                c->st = c->after_write;
                break;
            }
            /* Done: a polite close_notify (best effort), close, start over. */
            mbedtls_ssl_close_notify(&c->ssl);
            conn_close(c);
            completed++;
            if (measuring) win_completed++;
            if (running) conn_start(c);
            return;
        case ST_CONNACK:
            rc = mbedtls_ssl_read(&c->ssl, c->in + c->in_len, 4 - c->in_len);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
                conn_fail(c, "closed by the broker before CONNACK", 0);
                return;
            }
            if (rc < 0) {
                conn_fail(c, "read CONNACK", rc);
                return;
            }
            c->in_len += (size_t)rc;
            if (c->in_len < 4) break;
            if (c->in[0] != 0x20 || c->in[1] != 2 || c->in[3] != 0) {
                char what[64];
                snprintf(what, sizeof what, "CONNACK refused (%02x %02x %02x %02x)", c->in[0],
                         c->in[1], c->in[2], c->in[3]);
                conn_fail(c, what, 0);
                return;
            }
            record_latency(c);
            if (o.mode == MODE_FANIN && c->is_sub) {
                c->out_len = encode_subscribe(c->out, sizeof c->out, o.sub_filter);
                c->out_off = 0;
                c->in_len = 0;
                c->after_write = ST_SUBACK;
                c->st = ST_WRITE;
                break;
            }
            if (o.mode != MODE_HANDSHAKE) { /* idle, or a fan-in publisher waiting for the load */
                nready++;
                c->st = ST_IDLE;
                c->events = POLLIN;
                return;
            }
            c->out[0] = 0xE0; /* DISCONNECT */
            c->out[1] = 0;
            c->out_len = 2;
            c->out_off = 0;
            c->out_is_disconnect = true;
            c->st = ST_WRITE;
            break;
        case ST_IDLE: {
            uint8_t junk[256]; /* nothing is expected; whatever comes is dropped */
            rc = mbedtls_ssl_read(&c->ssl, junk, sizeof junk);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc <= 0) {
                nready--;
                conn_fail(c, rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY
                                 ? "closed by the broker while idle"
                                 : "read while idle",
                          rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : rc);
                return;
            }
            break;
        }
        case ST_SUBACK:
            rc = mbedtls_ssl_read(&c->ssl, c->in + c->in_len, 5 - c->in_len);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
                conn_fail(c, "closed by the broker before SUBACK", 0);
                return;
            }
            if (rc < 0) {
                conn_fail(c, "read SUBACK", rc);
                return;
            }
            c->in_len += (size_t)rc;
            if (c->in_len < 5) break;
            if (c->in[0] != 0x90 || c->in[1] != 3 || c->in[2] != 0 || c->in[3] != 1) {
                char what[80];
                snprintf(what, sizeof what, "unexpected reply to SUBSCRIBE (%02x %02x %02x %02x %02x)",
                         c->in[0], c->in[1], c->in[2], c->in[3], c->in[4]);
                conn_fail(c, what, 0);
                return;
            }
            suback_code = c->in[4];
            if (suback_code > 2) {
                /* always said, whatever the error count: the policy refused the filter */
                fprintf(stderr, "tlsgen: SUBACK 0x%02x: the broker did not grant '%s' to %s\n",
                        suback_code, o.sub_filter, c->id);
                conn_fail(c, "SUBACK refused", 0);
                return;
            }
            c->buf_cap = FAN_READ_BUF;
            c->buf_len = 0;
            c->buf = malloc(c->buf_cap);
            if (!c->buf) abort();
            nready++;
            c->st = ST_RECEIVE;
            c->events = POLLIN;
            return;
        case ST_PUBLISH:
            if ((c->revents & (POLLIN | POLLHUP | POLLERR)) && !fan_check_open(c)) return;
            c->revents = 0;
            for (int k = 0; k < FAN_WRITES_PER_STEP; k++) {
                if (c->buf_off == c->buf_len) {
                    if (!flooding) { /* the load is over and the last batch is out */
                        c->events = POLLIN;
                        return;
                    }
                    uint64_t t = now_ns();
                    size_t n = fan_budget(c, t);
                    if (!n) { /* paced: nothing due before the next tick */
                        c->events = POLLIN;
                        return;
                    }
                    fan_build_batch(c, n, t);
                }
                rc = mbedtls_ssl_write(&c->ssl, c->buf + c->buf_off, c->buf_len - c->buf_off);
                if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                    c->events = POLLIN | POLLOUT; /* retried with the same data */
                    return;
                }
                if (rc < 0) {
                    conn_fail(c, "write PUBLISH", rc);
                    return;
                }
                c->buf_off += (size_t)rc;
            }
            c->events = POLLIN | POLLOUT;
            return;
        case ST_RECEIVE:
            for (int k = 0; k < FAN_READS_PER_STEP; k++) {
                /* Room for a whole record (16 KB at most): mbedTLS then keeps no
                 * plaintext back that poll() could not see. */
                rc = mbedtls_ssl_read(&c->ssl, c->buf + c->buf_len, c->buf_cap - c->buf_len);
                if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                    c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                    return;
                }
                if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
                    conn_fail(c, "subscriber closed by the broker", 0);
                    return;
                }
                if (rc < 0) {
                    conn_fail(c, "subscriber read", rc);
                    return;
                }
                c->buf_len += (size_t)rc;
                if (!fan_parse(c, now_ns())) return;
            }
            c->events = POLLIN;
            return;
        }
    }
}

/* Wait up to timeout_ms for socket events and step the connections that have them. */
static void poll_once(int timeout_ms)
{
    static struct pollfd *pfd;
    static int *idx;
    if (!pfd) {
        pfd = calloc((size_t)nconns, sizeof *pfd);
        idx = calloc((size_t)nconns, sizeof *idx);
        if (!pfd || !idx) abort();
    }
    int n = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0 && conns[i].events) {
            pfd[n].fd = conns[i].fd;
            pfd[n].events = conns[i].events;
            pfd[n].revents = 0;
            idx[n++] = i;
        }
    int rc = poll(pfd, (nfds_t)n, timeout_ms);
    if (rc <= 0) return;
    for (int k = 0; k < n; k++)
        if (pfd[k].revents) {
            conns[idx[k]].revents = pfd[k].revents;
            step(&conns[idx[k]]);
        }
}

/* ---- runs ---------------------------------------------------------------- */

static int ms_until(uint64_t t)
{
    uint64_t now = now_ns();
    if (t <= now) return 0;
    uint64_t ms = (t - now + 999999) / 1000000;
    return ms > 100 ? 100 : (int)ms;
}

/* Idle connections and fan-in connections with nothing half written say
 * goodbye (DISCONNECT, close_notify; best effort, they are non-blocking) so
 * that the broker logs no errors; the rest just close. */
static void close_all(void)
{
    static const uint8_t disconnect[] = {0xE0, 0};
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->st == ST_IDLE || c->st == ST_RECEIVE ||
            (c->st == ST_PUBLISH && c->buf_off == c->buf_len)) {
            mbedtls_ssl_write(&c->ssl, disconnect, sizeof disconnect);
            mbedtls_ssl_close_notify(&c->ssl);
        }
        conn_close(c);
        if (c->ssl_ready) mbedtls_ssl_free(&c->ssl);
        c->ssl_ready = false;
        free(c->msg);
        free(c->buf);
        c->msg = c->buf = NULL;
    }
}

static int run_handshake(uint64_t deadline)
{
    uint64_t t0 = now_ns();
    uint64_t win_start = t0 + (uint64_t)(o.warmup * 1e9);
    uint64_t win_end = win_start + (uint64_t)(o.duration * 1e9);
    struct sample s0 = {0}, s1 = {0};
    bool timed_out = false;
    for (int i = 0; i < nconns; i++)
        conn_start(&conns[i]);
    for (;;) {
        uint64_t now = now_ns();
        if (!measuring && now >= win_start) {
            s0 = take_sample();
            measuring = true;
        }
        if (measuring && now >= win_end) {
            s1 = take_sample();
            break;
        }
        if (now >= deadline) { /* only when the window never ended: something stalled */
            timed_out = true;
            s1 = take_sample();
            if (!measuring) s0 = s1;
            break;
        }
        /* failed slots start over once their pause is up */
        int wait_ms = ms_until(measuring ? win_end : win_start);
        for (int i = 0; i < nconns; i++)
            if (conns[i].st == ST_FREE) {
                if (now >= conns[i].retry_ns)
                    conn_start(&conns[i]);
                else if (wait_ms > 10)
                    wait_ms = 10;
            }
        poll_once(wait_ms);
    }
    /* Let the connections in flight finish (uncounted), for at most 2 s, so
     * that the broker does not see handshakes cut off. */
    running = false;
    measuring = false;
    uint64_t grace_end = now_ns() + 2000000000ull;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < nconns; i++)
            if (conns[i].fd >= 0) busy = true;
        if (!busy || now_ns() >= grace_end) break;
        poll_once(ms_until(grace_end));
    }
    close_all();
    double secs = secs_between(&s0, &s1);
    if (lat_n) qsort(lat_ms, lat_n, sizeof *lat_ms, cmp_double);
    double bpct = broker_pct(&s0, &s1);
    double bcpu_ms = s0.ok && s1.ok && win_completed ? 1000.0 * (s1.broker_s - s0.broker_s) /
                                                           (double)win_completed
                                                     : -1;
    double gcpu_ms =
        win_completed ? 1000.0 * (s1.own_s - s0.own_s) / (double)win_completed : -1;
    printf("{\"mode\":\"handshake\",\"client_key\":\"%s\",\"suite\":\"%s\",\"curve\":\"%s\","
           "\"concurrency\":%d,\"warmup\":%.1f,\"seconds\":%.3f,\"handshakes\":%llu,"
           "\"handshakes_per_sec\":%.1f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"broker_cpu_pct\":%.1f,"
           "\"broker_cpu_ms_per_handshake\":%.3f,\"gen_cpu_pct\":%.1f,"
           "\"gen_cpu_ms_per_handshake\":%.3f,\"host_busy_pct\":%.1f,\"started\":%llu,"
           "\"completed\":%llu,\"timed_out\":%s,\"errors\":%llu}\n",
           key_label, suite_name, curve_name, o.concurrency, o.warmup, secs,
           (unsigned long long)win_completed, secs > 0 ? (double)win_completed / secs : 0,
           percentile(0.50), percentile(0.99), bpct, bcpu_ms, own_pct(&s0, &s1), gcpu_ms,
           host_pct(&s0, &s1), (unsigned long long)started, (unsigned long long)completed,
           timed_out ? "true" : "false", (unsigned long long)(errors + (timed_out ? 1 : 0)));
    return errors || timed_out ? 1 : 0;
}

static int run_idle(uint64_t deadline)
{
    long rss_before = broker_status_kb("VmRSS");
    struct sample s0 = take_sample(), s1 = {0};
    measuring = true; /* connection latencies of every setup */
    int next = 0, settled_n = 0;
    bool timed_out = false;
    uint64_t hold_end = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        /* keep --parallel setups in flight */
        int inflight = 0;
        for (int i = 0; i < next; i++)
            if (conns[i].fd >= 0 && conns[i].st != ST_IDLE) inflight++;
        while (next < nconns && inflight < o.parallel) {
            conn_start(&conns[next++]);
            inflight++;
        }
        if (!hold_end && next == nconns && inflight == 0) {
            /* every connection has its CONNACK or has failed */
            s1 = take_sample();
            settled_n = (int)nready;
            hold_end = now_ns() + (uint64_t)(o.hold * 1e9);
        }
        if (hold_end && now >= hold_end) break;
        poll_once(hold_end ? ms_until(hold_end) : 100);
    }
    long rss_after = broker_status_kb("VmRSS"), hwm = broker_status_kb("VmHWM");
    if (!hold_end) s1 = take_sample();
    uint64_t held = nready;
    running = false;
    measuring = false;
    close_all();
    if (lat_n) qsort(lat_ms, lat_n, sizeof *lat_ms, cmp_double);
    double kb = rss_before >= 0 && rss_after >= 0 && held
                    ? (double)(rss_after - rss_before) / (double)held
                    : -1;
    double bcpu_ms = s0.ok && s1.ok && settled_n ? 1000.0 * (s1.broker_s - s0.broker_s) /
                                                      (double)settled_n
                                                : -1;
    printf("{\"mode\":\"idle\",\"client_key\":\"%s\",\"suite\":\"%s\",\"curve\":\"%s\","
           "\"connections\":%d,\"connected\":%d,\"held\":%llu,\"connect_seconds\":%.3f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"broker_cpu_ms_per_handshake\":%.3f,"
           "\"broker_rss_before_kb\":%ld,\"broker_rss_kb\":%ld,\"broker_hwm_kb\":%ld,"
           "\"kb_per_conn\":%.2f,\"timed_out\":%s,\"errors\":%llu}\n",
           key_label, suite_name, curve_name, nconns, settled_n, (unsigned long long)held,
           secs_between(&s0, &s1), percentile(0.50), percentile(0.99), bcpu_ms, rss_before,
           rss_after, hwm, kb, timed_out ? "true" : "false",
           (unsigned long long)(errors + (timed_out ? 1 : 0)));
    return errors || timed_out ? 1 : 0;
}

/* Fan-in: connect the subscriber (conns[0]) and the publishers, start the
 * load once every one is ready, measure after the warm-up, then stop the
 * publishers and drain. Any failed connection ends the run. */
static int run_fanin(uint64_t deadline)
{
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->is_sub = i == 0;
        c->index = i - 1;
        if (c->is_sub)
            snprintf(c->id, sizeof c->id, "%ssub", o.client_prefix);
        else
            snprintf(c->id, sizeof c->id, "%spub-%d", o.client_prefix, c->index);
        if (!c->is_sub) {
            fan_make_template(c);
            c->buf_cap = c->msg_len > 16384 ? c->msg_len : 16384; /* one record's plaintext */
            c->buf = malloc(c->buf_cap);
            if (!c->buf) abort();
        }
    }
    fan_next_seq = calloc((size_t)o.publishers, sizeof *fan_next_seq);
    if (!fan_next_seq) abort();
    for (int i = 0; i < nconns; i++)
        conn_start(&conns[i]);
    struct sample s0 = {0}, s1 = {0};
    bool timed_out = false, loaded = false, drained = false;
    uint64_t t0 = now_ns(), load_start = 0, win_start = 0, win_end = 0, drain_end = 0;
    uint64_t next_tick = 0; /* --rate: publishers write what is due every 1 ms */
    double connect_s = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (errors) break; /* a load run needs every connection */
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (!loaded && nready == (uint64_t)nconns) {
            loaded = flooding = true;
            load_start = load_start_ns = now;
            next_tick = now + 1000000ull;
            connect_s = (double)(now - t0) / 1e9;
            win_start = load_start + (uint64_t)(o.warmup * 1e9);
            win_end = win_start + (uint64_t)(o.duration * 1e9);
            for (int i = 1; i < nconns; i++) {
                conns[i].st = ST_PUBLISH;
                conns[i].revents = 0;
                step(&conns[i]);
            }
            continue;
        }
        if (loaded && !measuring && !drain_end && now >= win_start) {
            memset(hist, 0, sizeof hist);
            fan_win_sent = fan_win_received = 0;
            s0 = take_sample();
            measuring = true;
        }
        if (measuring && now >= win_end) {
            s1 = take_sample();
            measuring = flooding = false;
            fan_last_rx_ns = now;
            drain_end = now + (uint64_t)(o.drain * 1e9);
        }
        if (drain_end) {
            bool pending = false; /* a publisher still writing its last batch */
            for (int i = 1; i < nconns; i++)
                if (conns[i].buf_off < conns[i].buf_len) pending = true;
            if ((!pending && fan_received_total >= fan_sent_total) || now >= drain_end ||
                now - fan_last_rx_ns > QUIET_NS) {
                drained = true;
                break;
            }
        }
        if (o.rate > 0 && flooding && now >= next_tick) {
            /* The tick: publishers with nothing left to write take what is
             * due (the budget counts from load_start, so a late tick sends
             * more rather than lowering the rate). */
            next_tick += 1000000ull;
            if (next_tick <= now) next_tick = now + 1000000ull;
            for (int i = 1; i < nconns; i++)
                if (conns[i].st == ST_PUBLISH && conns[i].buf_off == conns[i].buf_len) {
                    conns[i].revents = 0;
                    step(&conns[i]);
                }
            continue;
        }
        int wait_ms = ms_until(!loaded ? deadline : measuring ? win_end : drain_end ? drain_end : win_start);
        if (drain_end && wait_ms > 20) wait_ms = 20;
        if (o.rate > 0 && flooding) wait_ms = ms_until(next_tick); /* 0 or 1 */
        poll_once(wait_ms);
    }
    if (!drained && !s1.ns) {
        s1 = take_sample();
        if (!s0.ns) s0 = s1;
    }
    measuring = flooding = false;
    long rss = broker_status_kb("VmRSS"), hwm = broker_status_kb("VmHWM");
    close_all();
    double secs = secs_between(&s0, &s1);
    uint64_t lost = fan_sent_total > fan_received_total ? fan_sent_total - fan_received_total : 0;
    /* The broker's cost per delivered message, and what one core of it would
     * deliver at that cost: meaningful below saturation (--rate, lost 0). */
    double bpct = broker_pct(&s0, &s1);
    double us_per_msg = bpct >= 0 && fan_win_received
                            ? 1e6 * (s1.broker_s - s0.broker_s) / (double)fan_win_received
                            : -1;
    double capacity = bpct > 0 && secs > 0 ? (double)fan_win_received / secs / (bpct / 100.0) : -1;
    printf("{\"mode\":\"fanin\",\"client_key\":\"%s\",\"suite\":\"%s\",\"curve\":\"%s\","
           "\"publishers\":%d,\"subscribers\":1,\"payload\":%d,\"sndbuf\":%d,\"rate\":%.0f,"
           "\"sub_filter\":\"%s\",\"suback\":%d,\"connect_seconds\":%.3f,\"warmup\":%.1f,"
           "\"seconds\":%.3f,\"sent\":%llu,\"received\":%llu,\"msgs_per_sec\":%.0f,"
           "\"sent_per_sec\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"sent_total\":%llu,\"received_total\":%llu,\"lost\":%llu,\"out_of_order\":%llu,"
           "\"broker_cpu_pct\":%.1f,\"broker_cpu_us_per_msg\":%.3f,\"capacity_per_core\":%.0f,"
           "\"broker_rss_kb\":%ld,\"broker_hwm_kb\":%ld,"
           "\"gen_cpu_pct\":%.1f,\"host_busy_pct\":%.1f,\"timed_out\":%s,\"errors\":%llu}\n",
           key_label, suite_name, curve_name, o.publishers, o.payload, o.sndbuf, o.rate, o.sub_filter,
           suback_code, connect_s, o.warmup, secs, (unsigned long long)fan_win_sent,
           (unsigned long long)fan_win_received,
           secs > 0 ? (double)fan_win_received / secs : 0,
           secs > 0 ? (double)fan_win_sent / secs : 0, hist_percentile_us(0.50),
           hist_percentile_us(0.99), hist_max_us(), (unsigned long long)fan_sent_total,
           (unsigned long long)fan_received_total, (unsigned long long)lost,
           (unsigned long long)fan_out_of_order, bpct, us_per_msg, capacity, rss, hwm,
           own_pct(&s0, &s1), host_pct(&s0, &s1), timed_out ? "true" : "false",
           (unsigned long long)(errors + fan_bad_packets + (timed_out ? 1 : 0)));
    free(fan_next_seq);
    return errors || fan_bad_packets || timed_out ? 1 : 0;
}

/* ---- setup ------------------------------------------------------------------ */

static void die_tls(const char *what, int rc)
{
    char msg[160];
    mbedtls_strerror(rc, msg, sizeof msg);
    fprintf(stderr, "tlsgen: %s: %s\n", what, msg);
    exit(2);
}

/* --curves secp256r1,x25519: the ECDHE groups offered, in order of preference. */
static void parse_curves(const char *list)
{
    size_t n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_name(name);
        if (!ci || n + 1 >= sizeof curve_list / sizeof curve_list[0]) {
            fprintf(stderr, "tlsgen: unknown or too many curves in '%s'\n", list);
            exit(2);
        }
        curve_list[n++] = ci->grp_id;
    }
    curve_list[n] = MBEDTLS_ECP_DP_NONE;
    if (!n) exit(2);
    have_curve_list = true;
}

/* A client configuration presenting crt and key. */
static void setup_conf(mbedtls_ssl_config *cf, mbedtls_x509_crt *crt, mbedtls_pk_context *key)
{
    int rc;
    if ((rc = mbedtls_ssl_config_defaults(cf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)))
        die_tls("TLS configuration", rc);
    mbedtls_ssl_conf_rng(cf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_min_version(cf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(cf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    /* Every handshake is a full one: no ticket to resume with. */
    mbedtls_ssl_conf_session_tickets(cf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    mbedtls_ssl_conf_authmode(cf, o.verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(cf, &ca_crt, NULL);
    if ((rc = mbedtls_ssl_conf_own_cert(cf, crt, key))) die_tls("own certificate", rc);
    if (have_curve_list) mbedtls_ssl_conf_curves(cf, curve_list);
    mbedtls_ssl_conf_dbg(cf, on_debug, NULL);
}

static void setup_tls(void)
{
    int rc;
    mbedtls_ssl_config_init(&conf);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_entropy_init(&entropy);
    mbedtls_x509_crt_init(&ca_crt);
    mbedtls_x509_crt_init(&own_crt);
    mbedtls_pk_init(&own_key);
    mbedtls_ssl_config_init(&sub_conf);
    mbedtls_x509_crt_init(&sub_crt);
    mbedtls_pk_init(&sub_key);
    if ((rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                    (const unsigned char *)"tlsgen", 6)))
        die_tls("random generator", rc);
    if ((rc = mbedtls_x509_crt_parse_file(&ca_crt, o.ca))) die_tls(o.ca, rc);
    if ((rc = mbedtls_x509_crt_parse_file(&own_crt, o.cert))) die_tls(o.cert, rc);
    if ((rc = mbedtls_pk_parse_keyfile(&own_key, o.key, NULL))) die_tls(o.key, rc);
    if (mbedtls_pk_get_type(&own_key) == MBEDTLS_PK_RSA)
        snprintf(key_label, sizeof key_label, "rsa%zu", mbedtls_pk_get_bitlen(&own_key));
    else if (mbedtls_pk_get_type(&own_key) == MBEDTLS_PK_ECKEY)
        snprintf(key_label, sizeof key_label, "%s",
                 mbedtls_ecp_curve_info_from_grp_id(mbedtls_pk_ec(own_key)->grp.id)->name);
    if (o.curves) parse_curves(o.curves);
    setup_conf(&conf, &own_crt, &own_key);
    if (o.sub_cert) { /* fan-in: the subscriber's own certificate */
        if ((rc = mbedtls_x509_crt_parse_file(&sub_crt, o.sub_cert))) die_tls(o.sub_cert, rc);
        if ((rc = mbedtls_pk_parse_keyfile(&sub_key, o.sub_key, NULL))) die_tls(o.sub_key, rc);
        setup_conf(&sub_conf, &sub_crt, &sub_key);
        have_sub_conf = true;
    }
    mbedtls_debug_set_threshold(2); /* until on_debug has seen the curve */
}

static void free_tls(void)
{
    mbedtls_ssl_config_free(&conf);
    mbedtls_ssl_config_free(&sub_conf);
    mbedtls_x509_crt_free(&ca_crt);
    mbedtls_x509_crt_free(&own_crt);
    mbedtls_x509_crt_free(&sub_crt);
    mbedtls_pk_free(&own_key);
    mbedtls_pk_free(&sub_key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

/* ---- options and helper modes ---------------------------------------------------- */

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: umbra-tlsgen --port PORT --ca CA.pem --cert CERT.pem --key KEY.pem\n"
            "                    [--mode handshake|idle|fanin] [options]\n"
            "       umbra-tlsgen --free-port            print a free 127.0.0.1 TCP port\n"
            "       umbra-tlsgen --port PORT --probe S  wait up to S seconds for a listener\n"
            "\n"
            "modes (defaults in brackets):\n"
            "  handshake  keep --concurrency [8] connections in flight; each does a full\n"
            "             TLS 1.2 handshake with the client certificate, CONNECT, CONNACK,\n"
            "             DISCONNECT, close: completed connections per second over\n"
            "             --duration [5] s after --warmup [1] s\n"
            "  idle       open --connections [1000] (--parallel [32] at a time), CONNECT\n"
            "             with keepalive 600, hold them --hold [2] s: broker VmRSS growth\n"
            "             per connection (needs --pid)\n"
            "  fanin      --publishers [8] publishers at QoS 0, as fast as TCP flow\n"
            "             control allows (or paced by --rate), into 1 subscriber:\n"
            "             messages/s received, sent/s, end-to-end latency p50/p99 over\n"
            "             --duration [5] s after --warmup [1] s, then up to --drain [3] s\n"
            "             for the rest; with --pid, broker CPU us per delivered message\n"
            "             and capacity per core (received/s / broker CPU fraction)\n"
            "\n"
            "options:\n"
            "  --host ADDR        broker address, 127.0.0.1 only [127.0.0.1]\n"
            "  --servername NAME  name the server certificate is checked against [localhost]\n"
            "  --no-verify        do not verify the server certificate\n"
            "  --curves LIST      ECDHE curves offered, e.g. secp256r1,x25519\n"
            "                     [mbedTLS's default list, which starts with secp521r1]\n"
            "  --pid PID          broker process: CPU time and RSS from /proc\n"
            "  --timeout S        deadline of the whole run [handshake: warmup+duration+30,\n"
            "                     idle: 120+hold, fanin: warmup+duration+drain+30]\n"
            "fanin options:\n"
            "  --sub-cert F --sub-key F  the subscriber's certificate [--cert, --key]\n"
            "  --client-prefix P  client ids P pub-0 .. P pub-N-1 and P sub [bench-]\n"
            "  --topic-pattern T  publishers' topic, %%c = client id [bench/%%c/data]\n"
            "  --sub-filter F     the subscriber's filter; SUBACK 0x80 fails [bench/+/data]\n"
            "  --publishers N     [8]     --payload BYTES  16..65000 [128]\n"
            "  --sndbuf BYTES     publishers' SO_SNDBUF, 0 = autotuning [65536]\n"
            "  --rate R           total msg/s over all publishers, each writing what is due\n"
            "                     every 1 ms; 0 = as fast as flow control allows [0]\n"
            "prints one JSON line on stdout; exit 1 on connection errors or a timeout.\n");
    exit(status);
}

static double num_arg(const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "tlsgen: bad number '%s' (expected %g..%g)\n", v, lo, hi);
        usage(2);
    }
    return d;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return 1;
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

/* Try to connect every 50 ms until a listener answers or time is up. */
static int probe(double seconds)
{
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&broker_addr, sizeof broker_addr);
        if (fd >= 0) close(fd);
        if (!rc) return 0;
        usleep(50000);
    } while (now_ns() < end);
    return 1;
}

static void parse(int argc, char **argv)
{
    double probe_s = -1;
    bool want_free_port = false;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) usage(0);
        if (!strcmp(k, "--free-port")) {
            want_free_port = true;
            continue;
        }
        if (!strcmp(k, "--no-verify")) {
            o.verify = false;
            continue;
        }
        if (i + 1 >= argc) usage(2);
        const char *v = argv[++i];
        if (!strcmp(k, "--host"))
            o.host = v;
        else if (!strcmp(k, "--port"))
            o.port = (int)num_arg(v, 1, 65535);
        else if (!strcmp(k, "--ca"))
            o.ca = v;
        else if (!strcmp(k, "--cert"))
            o.cert = v;
        else if (!strcmp(k, "--key"))
            o.key = v;
        else if (!strcmp(k, "--servername"))
            o.servername = v;
        else if (!strcmp(k, "--curves"))
            o.curves = v;
        else if (!strcmp(k, "--mode")) {
            if (!strcmp(v, "handshake"))
                o.mode = MODE_HANDSHAKE;
            else if (!strcmp(v, "idle"))
                o.mode = MODE_IDLE;
            else if (!strcmp(v, "fanin"))
                o.mode = MODE_FANIN;
            else
                usage(2);
        } else if (!strcmp(k, "--concurrency"))
            o.concurrency = (int)num_arg(v, 1, 10000);
        else if (!strcmp(k, "--connections"))
            o.connections = (int)num_arg(v, 1, 1000000);
        else if (!strcmp(k, "--parallel"))
            o.parallel = (int)num_arg(v, 1, 10000);
        else if (!strcmp(k, "--warmup"))
            o.warmup = num_arg(v, 0, 300);
        else if (!strcmp(k, "--duration"))
            o.duration = num_arg(v, 0.1, 300);
        else if (!strcmp(k, "--hold"))
            o.hold = num_arg(v, 0, 300);
        else if (!strcmp(k, "--timeout"))
            o.timeout = num_arg(v, 1, 3600);
        else if (!strcmp(k, "--pid"))
            o.pid = (int)num_arg(v, 1, 1 << 30);
        else if (!strcmp(k, "--probe"))
            probe_s = num_arg(v, 0, 600);
        else if (!strcmp(k, "--sub-cert"))
            o.sub_cert = v;
        else if (!strcmp(k, "--sub-key"))
            o.sub_key = v;
        else if (!strcmp(k, "--client-prefix"))
            o.client_prefix = v;
        else if (!strcmp(k, "--topic-pattern"))
            o.topic_pattern = v;
        else if (!strcmp(k, "--sub-filter"))
            o.sub_filter = v;
        else if (!strcmp(k, "--publishers"))
            o.publishers = (int)num_arg(v, 1, 1000);
        else if (!strcmp(k, "--payload"))
            o.payload = (int)num_arg(v, PAYLOAD_MIN, 65000);
        else if (!strcmp(k, "--sndbuf"))
            o.sndbuf = (int)num_arg(v, 0, 64 << 20);
        else if (!strcmp(k, "--drain"))
            o.drain = num_arg(v, 0, 300);
        else if (!strcmp(k, "--rate"))
            o.rate = num_arg(v, 0, 1e9);
        else
            usage(2);
    }
    if (want_free_port) exit(free_port());
    /* A benchmark tool that floods handshakes has no business off this machine. */
    if (strcmp(o.host, "127.0.0.1")) {
        fprintf(stderr, "tlsgen: --host must be 127.0.0.1\n");
        exit(2);
    }
    broker_addr.sin_family = AF_INET;
    broker_addr.sin_port = htons((uint16_t)o.port);
    inet_pton(AF_INET, o.host, &broker_addr.sin_addr);
    if (!o.port) usage(2);
    if (probe_s >= 0) exit(probe(probe_s));
    if (!o.ca || !o.cert || !o.key) usage(2);
    if (!o.sub_cert != !o.sub_key) {
        fprintf(stderr, "tlsgen: --sub-cert and --sub-key go together\n");
        exit(2);
    }
    /* client ids (prefix + "pub-N") and the SUBSCRIBE must fit their buffers */
    if (strlen(o.client_prefix) > 64 || strlen(o.sub_filter) > 256 || !o.sub_filter[0]) {
        fprintf(stderr, "tlsgen: --client-prefix up to 64 bytes, --sub-filter 1..256\n");
        exit(2);
    }
    if (o.timeout <= 0)
        o.timeout = o.mode == MODE_IDLE    ? 120 + o.hold
                    : o.mode == MODE_FANIN ? o.warmup + o.duration + o.drain + 30
                                           : o.warmup + o.duration + 30;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    parse(argc, argv);
    uint64_t deadline = now_ns() + (uint64_t)(o.timeout * 1e9);
    nconns = o.mode == MODE_IDLE    ? o.connections
             : o.mode == MODE_FANIN ? o.publishers + 1
                                    : o.concurrency;
    /* one descriptor per connection, and a few to spare */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)nconns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)nconns + 64) {
            fprintf(stderr, "tlsgen: ulimit -n %llu is too small for %d connections\n",
                    (unsigned long long)rl.rlim_cur, nconns);
            return 2;
        }
    }
    setup_tls();
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns) abort();
    for (int i = 0; i < nconns; i++)
        conns[i].fd = -1;
    int rc = o.mode == MODE_IDLE    ? run_idle(deadline)
             : o.mode == MODE_FANIN ? run_fanin(deadline)
                                    : run_handshake(deadline);
    fflush(stdout);
    free(conns);
    free(lat_ms);
    free_tls();
    return rc;
}
