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

enum mode { MODE_HANDSHAKE, MODE_IDLE };

enum state {
    ST_FREE,
    ST_CONNECTING,  /* TCP connect in progress */
    ST_HANDSHAKE,   /* TLS handshake */
    ST_WRITE,       /* writing out[]: CONNECT or DISCONNECT */
    ST_CONNACK,     /* reading the 4-byte CONNACK */
    ST_IDLE,        /* connected and silent (idle mode) */
};

struct conn {
    int fd; /* -1 when closed */
    enum state st;
    short events; /* what poll() waits for */
    bool ssl_ready;
    mbedtls_ssl_context ssl;
    /* mbedtls_ssl_write must be retried with the same data after WANT_*. */
    uint8_t out[192];
    size_t out_len, out_off;
    bool out_is_disconnect;
    uint8_t in[4];
    size_t in_len;
    uint64_t start_ns;
    uint64_t retry_ns; /* after a failure, the slot waits until then */
};

struct opts {
    const char *host, *ca, *cert, *key, *servername, *curves;
    int port, concurrency, connections, parallel, pid;
    enum mode mode;
    double warmup, duration, hold, timeout;
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
};

static mbedtls_ssl_config conf;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_entropy_context entropy;
static mbedtls_x509_crt ca_crt, own_crt;
static mbedtls_pk_context own_key;
static mbedtls_ecp_group_id curve_list[16];

static struct conn *conns;
static int nconns;
static struct sockaddr_in broker_addr;
static unsigned long serial; /* makes client ids unique */
static char curve_name[32] = "?", suite_name[64] = "?", key_label[32] = "?";

static bool running = true, measuring;
static uint64_t completed, win_completed, errors, started, nready;
static double *lat_ms; /* connection latencies (connect to CONNACK) in the window */
static size_t lat_n, lat_cap;

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

/* CONNECT 3.1.1, clean session, a unique client id; no user name or password:
 * the certificate is the identity. */
static size_t encode_connect(uint8_t *p, size_t cap, unsigned keepalive)
{
    char id[64];
    int idlen = snprintf(id, sizeof id, "tlsgen-%d-%lu", (int)getpid(), serial++);
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
        int rc = mbedtls_ssl_setup(&c->ssl, &conf);
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
                                        o.mode == MODE_IDLE ? IDLE_KEEPALIVE : HANDSHAKE_KEEPALIVE);
            c->out_off = 0;
            c->out_is_disconnect = false;
            c->st = ST_WRITE;
            break;
        case ST_WRITE:
            rc = mbedtls_ssl_write(&c->ssl, c->out + c->out_off, c->out_len - c->out_off);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                c->events = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                return;
            }
            if (rc < 0) {
                conn_fail(c, c->out_is_disconnect ? "write DISCONNECT" : "write CONNECT", rc);
                return;
            }
            c->out_off += (size_t)rc;
            if (c->out_off < c->out_len) break;
            if (!c->out_is_disconnect) {
                c->st = ST_CONNACK;
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
            rc = mbedtls_ssl_read(&c->ssl, c->in + c->in_len, sizeof c->in - c->in_len);
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
            if (c->in_len < sizeof c->in) break;
            if (c->in[0] != 0x20 || c->in[1] != 2 || c->in[3] != 0) {
                char what[64];
                snprintf(what, sizeof what, "CONNACK refused (%02x %02x %02x %02x)", c->in[0],
                         c->in[1], c->in[2], c->in[3]);
                conn_fail(c, what, 0);
                return;
            }
            record_latency(c);
            if (o.mode == MODE_IDLE) {
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
        if (pfd[k].revents) step(&conns[idx[k]]);
}

/* ---- runs ---------------------------------------------------------------- */

static int ms_until(uint64_t t)
{
    uint64_t now = now_ns();
    if (t <= now) return 0;
    uint64_t ms = (t - now + 999999) / 1000000;
    return ms > 100 ? 100 : (int)ms;
}

/* Idle connections say goodbye (DISCONNECT, close_notify; best effort, they
 * are non-blocking) so that the broker logs no errors; the rest just close. */
static void close_all(void)
{
    static const uint8_t disconnect[] = {0xE0, 0};
    for (int i = 0; i < nconns; i++) {
        if (conns[i].st == ST_IDLE) {
            mbedtls_ssl_write(&conns[i].ssl, disconnect, sizeof disconnect);
            mbedtls_ssl_close_notify(&conns[i].ssl);
        }
        conn_close(&conns[i]);
        if (conns[i].ssl_ready) mbedtls_ssl_free(&conns[i].ssl);
        conns[i].ssl_ready = false;
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
    mbedtls_ssl_conf_curves(&conf, curve_list);
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
    if ((rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)))
        die_tls("TLS configuration", rc);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    /* Every handshake is a full one: no ticket to resume with. */
    mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    mbedtls_ssl_conf_authmode(&conf, o.verify ? MBEDTLS_SSL_VERIFY_REQUIRED
                                              : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(&conf, &ca_crt, NULL);
    if ((rc = mbedtls_ssl_conf_own_cert(&conf, &own_crt, &own_key))) die_tls("own certificate", rc);
    if (o.curves) parse_curves(o.curves);
    mbedtls_ssl_conf_dbg(&conf, on_debug, NULL);
    mbedtls_debug_set_threshold(2); /* until on_debug has seen the curve */
}

static void free_tls(void)
{
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca_crt);
    mbedtls_x509_crt_free(&own_crt);
    mbedtls_pk_free(&own_key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

/* ---- options and helper modes ---------------------------------------------------- */

static void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: umbra-tlsgen --port PORT --ca CA.pem --cert CERT.pem --key KEY.pem\n"
            "                    [--mode handshake|idle] [options]\n"
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
            "\n"
            "options:\n"
            "  --host ADDR        broker address, 127.0.0.1 only [127.0.0.1]\n"
            "  --servername NAME  name the server certificate is checked against [localhost]\n"
            "  --no-verify        do not verify the server certificate\n"
            "  --curves LIST      ECDHE curves offered, e.g. secp256r1,x25519\n"
            "                     [mbedTLS's default list, which starts with secp521r1]\n"
            "  --pid PID          broker process: CPU time and RSS from /proc\n"
            "  --timeout S        deadline of the whole run [handshake: warmup+duration+30,\n"
            "                     idle: 120+hold]\n"
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
    if (o.timeout <= 0) o.timeout = o.mode == MODE_IDLE ? 120 + o.hold : o.warmup + o.duration + 30;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    parse(argc, argv);
    uint64_t deadline = now_ns() + (uint64_t)(o.timeout * 1e9);
    nconns = o.mode == MODE_IDLE ? o.connections : o.concurrency;
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
    int rc = o.mode == MODE_IDLE ? run_idle(deadline) : run_handshake(deadline);
    fflush(stdout);
    free(conns);
    free(lat_ms);
    free_tls();
    return rc;
}
