/*
 * sink_http.c - libcurl's multi interface driven by the libuv loop.
 *
 * libcurl says which sockets it waits on (on_socket: a uv_poll per socket,
 * tied to it with curl_multi_assign) and when it next needs the time
 * (on_curl_timer: one uv_timer); both hand control back with
 * curl_multi_socket_action, after which finished transfers are collected.
 * A request that is to be tried again waits on its own uv_timer and goes
 * back into the multi handle; its easy handle keeps its connection cache.
 */
#include "sink_http.h"

#include "log.h"
#include "rules_internal.h"
#include "server.h"
#include "strmap.h"
#include "template.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

struct http_job;

struct sink_http {
    struct umbra_server *server;
    CURLM *multi;
    uv_timer_t timer;
    struct strmap *origins; /* "scheme://host:port" -> requests waiting (as a pointer) */
    unsigned pending;
    struct http_job *jobs; /* every request not finished, for stop */
};

struct http_job {
    struct sink_http *h;
    struct http_job *prev, *next;
    CURL *easy;
    struct rule_ticket *ticket;
    struct curl_slist *headers;
    char *origin;
    int tries;
    uv_timer_t retry;
    char error[CURL_ERROR_SIZE];
    size_t len;
    uint8_t body[];
};

struct http_socket {
    uv_poll_t poll;
    struct sink_http *h;
    curl_socket_t fd;
};

/* ---- origins: the bound per endpoint ---- */

/* "scheme://host:port" of a URL (up to the path). */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

static unsigned origin_count(struct sink_http *h, const char *o, size_t n)
{
    return (unsigned)(uintptr_t)strmap_get(h->origins, o, n);
}

static int origin_add(struct sink_http *h, const char *o, size_t n, int delta)
{
    unsigned c = origin_count(h, o, n) + (unsigned)delta;
    if (c == 0) {
        strmap_del(h->origins, o, n);
        return 0;
    }
    return strmap_put(h->origins, o, n, (void *)(uintptr_t)c, NULL);
}

/* ---- finishing ---- */

static void job_freed(uv_handle_t *t)
{
    free(t->data);
}

static void job_finish(struct http_job *j, const char *why)
{
    struct sink_http *h = j->h;
    if (j->prev)
        j->prev->next = j->next;
    else
        h->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    h->pending--;
    origin_add(h, j->origin, strlen(j->origin), -1);
    curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->origin);
    struct rule_ticket *t = j->ticket;
    uv_close((uv_handle_t *)&j->retry, job_freed);
    rule_ticket_done(h->server, t, why);
}

static void retry_now(uv_timer_t *timer)
{
    struct http_job *j = timer->data;
    if (curl_multi_add_handle(j->h->multi, j->easy) != CURLM_OK)
        job_finish(j, "cannot start the request again");
}

/* A transfer ended: success, another try, or failure. */
static void transfer_done(struct http_job *j, CURLcode result)
{
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(j->h->multi, j->easy);
    if (result == CURLE_OK && status >= 200 && status < 300) {
        job_finish(j, NULL);
        return;
    }
    bool is_transient =
        result == CURLE_OK ? status == 429 || status >= 500
                           : result == CURLE_COULDNT_CONNECT ||
                                 result == CURLE_OPERATION_TIMEDOUT || result == CURLE_SEND_ERROR ||
                                 result == CURLE_RECV_ERROR || result == CURLE_GOT_NOTHING;
    if (is_transient && ++j->tries < SINK_HTTP_TRIES && !j->h->server->is_stopping) {
        uv_timer_start(&j->retry, retry_now, j->tries == 1 ? 100 : 400, 0);
        return;
    }
    char why[CURL_ERROR_SIZE + 64];
    if (result == CURLE_OK)
        snprintf(why, sizeof why, "the endpoint answered HTTP %ld", status);
    else
        snprintf(why, sizeof why, "%s", j->error[0] ? j->error : curl_easy_strerror(result));
    job_finish(j, why);
}

static void collect_done(struct sink_http *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct http_job *j = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j) transfer_done(j, msg->data.result);
    }
}

/* ---- libcurl on the loop ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct http_socket *sock = p->data;
    int flags = status < 0 ? CURL_CSELECT_ERR
                           : ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                                 ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    int running;
    struct sink_http *h = sock->h; /* sock may be gone after the call */
    curl_multi_socket_action(h->multi, sock->fd, flags, &running);
    collect_done(h);
}

static void socket_freed(uv_handle_t *p)
{
    free(p->data);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    struct sink_http *h = userp;
    struct http_socket *sock = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sock) {
            uv_poll_stop(&sock->poll);
            curl_multi_assign(h->multi, fd, NULL);
            uv_close((uv_handle_t *)&sock->poll, socket_freed);
        }
        return 0;
    }
    if (!sock) {
        if (!(sock = calloc(1, sizeof *sock))) return -1;
        if (uv_poll_init_socket(h->server->loop, &sock->poll, fd)) {
            free(sock);
            return -1;
        }
        sock->h = h;
        sock->fd = fd;
        sock->poll.data = sock;
        curl_multi_assign(h->multi, fd, sock);
    }
    int events =
        ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    uv_poll_start(&sock->poll, events, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct sink_http *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(h);
}

/* libcurl wants to be called back in timeout_ms (-1: never). Not from here:
 * libcurl must not be re-entered, so even 0 goes through the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct sink_http *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static struct sink_http *sink_get(struct umbra_server *s)
{
    if (s->http) return s->http;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    struct sink_http *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init()) || !(h->origins = strmap_new())) {
        if (h && h->multi) curl_multi_cleanup(h->multi);
        free(h);
        return NULL;
    }
    h->server = s;
    uv_timer_init(s->loop, &h->timer);
    h->timer.data = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    /* Reuse a few connections per endpoint rather than open one per message. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
    s->http = h;
    return h;
}

/* ---- requests ---- */

static bool url_ok(const char *url)
{
    return strlen(url) <= SINK_HTTP_MAX_URL &&
           (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

/* "Key: value" for each header, and the Content-Type AWS would send. */
static const char *build_headers(struct http_job *j, const struct rule_action *a,
                                 const struct sql_message *m, bool is_raw)
{
    bool has_type = false;
    for (size_t i = 0; i < a->nheaders; i++) {
        char *value = template_render(a->headers[i].value, m);
        if (!value) return "out of memory";
        if (strpbrk(value, "\r\n")) {
            free(value);
            return "a header value holds a line break";
        }
        size_t n = strlen(a->headers[i].key) + strlen(value) + 3;
        char *line = malloc(n);
        if (line) snprintf(line, n, "%s: %s", a->headers[i].key, value);
        free(value);
        struct curl_slist *l = line ? curl_slist_append(j->headers, line) : NULL;
        free(line);
        if (!l) return "out of memory";
        j->headers = l;
        has_type |= strcasecmp(a->headers[i].key, "content-type") == 0;
    }
    const char *extra[] = {
        has_type ? NULL
        : is_raw ? "Content-Type: application/octet-stream"
                 : "Content-Type: application/json",
        "Expect:", /* no 100-continue round trip for bodies over 1 KiB */
    };
    for (size_t i = 0; i < 2; i++) {
        if (!extra[i]) continue;
        struct curl_slist *l = curl_slist_append(j->headers, extra[i]);
        if (!l) return "out of memory";
        j->headers = l;
    }
    return NULL;
}

static const char *start(struct sink_http *h, struct http_job *j, const char *url)
{
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)SINK_HTTP_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "umbra-rules/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error);
    return curl_multi_add_handle(h->multi, e) == CURLM_OK ? NULL : "cannot start the request";
}

/* NULL when the request is running, else why not (j is then not queued). */
static const char *queue(struct umbra_server *s, struct http_job **out, struct rule_ticket *t,
                         const struct rule_action *a, const struct sql_message *m, const char *url,
                         const uint8_t *body, size_t len, bool is_raw)
{
    if (!url_ok(url)) return "the url is not http:// or https://, or longer than 2000";
    struct sink_http *h = sink_get(s);
    if (!h) return "cannot start libcurl";
    size_t ol = origin_len(url);
    if (h->pending >= SINK_HTTP_MAX_PENDING || origin_count(h, url, ol) >= SINK_HTTP_MAX_PER_ORIGIN)
        return sink_queue_full;
    struct http_job *j = calloc(1, sizeof *j + len + 1);
    if (!j) return "out of memory";
    *out = j;
    j->h = h;
    j->ticket = t;
    j->len = len;
    memcpy(j->body, body, len);
    const char *why =
        (j->easy = curl_easy_init()) ? build_headers(j, a, m, is_raw) : "cannot start libcurl";
    if (!why && (!(j->origin = strndup(url, ol)) || origin_add(h, url, ol, 1)))
        why = "out of memory";
    if (why) return why;
    uv_timer_init(s->loop, &j->retry);
    j->retry.data = j;
    j->next = h->jobs;
    if (h->jobs) h->jobs->prev = j;
    h->jobs = j;
    h->pending++;
    why = start(h, j, url);
    if (why) {
        job_finish(j, why); /* the ticket is done there */
        *out = NULL;
        return NULL;
    }
    return NULL;
}

void sink_http_post(struct umbra_server *s, struct rule_ticket *t, const struct rule_action *a,
                    const struct sql_message *m, const char *url, const uint8_t *body, size_t len,
                    bool is_raw)
{
    struct http_job *j = NULL;
    const char *why = queue(s, &j, t, a, m, url, body, len, is_raw);
    if (!why) return;
    if (j) {
        /* Not started: nothing but memory to give back. */
        curl_easy_cleanup(j->easy);
        curl_slist_free_all(j->headers);
        free(j->origin);
        free(j);
    }
    if (why == sink_queue_full)
        rule_ticket_drop(s, t, why);
    else
        rule_ticket_done(s, t, why);
}

static void sink_freed(uv_handle_t *t)
{
    free(t->data);
}

void sink_http_stop(struct umbra_server *s)
{
    struct sink_http *h = s->http;
    if (!h) return;
    while (h->jobs) {
        struct http_job *j = h->jobs;
        curl_multi_remove_handle(h->multi, j->easy);
        uv_timer_stop(&j->retry);
        job_finish(j, "the broker is stopping");
    }
    curl_multi_cleanup(h->multi);
    strmap_free(h->origins);
    uv_close((uv_handle_t *)&h->timer, sink_freed);
    s->http = NULL;
    curl_global_cleanup();
}
