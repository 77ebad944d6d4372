/*
 * sink_s3.c - s3 objects as files, written on the thread pool.
 */
#include "sink_s3.h"

#include "rules_internal.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

struct s3_write {
    uv_work_t work;
    struct umbra_server *server;
    struct rule_ticket *ticket;
    char *path; /* DATA_DIR/buckets/BUCKET/KEY */
    size_t len;
    int error; /* errno of the write, 0 when it worked */
    uint8_t data[];
};

int sink_s3_valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
              b[i] == '-'))
            return 0;
    return strcmp(b, ".") && strcmp(b, "..");
}

int sink_s3_valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 1024 || k[0] == '/') return 0;
    for (const char *seg = k; seg;) {
        const char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        seg = end ? end + 1 : NULL;
    }
    return 1;
}

/* mkdir -p of the directories above path. */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc && errno != EEXIST) return errno;
    }
    return 0;
}

static void write_object(uv_work_t *req)
{
    struct s3_write *w = req->data;
    char tmp[8192];
    w->error = make_parents(w->path);
    if (w->error) return;
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", w->path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        w->error = errno;
        return;
    }
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(fd, w->data + off, w->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            w->error = errno;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) && !w->error) w->error = errno;
    if (!w->error && rename(tmp, w->path)) w->error = errno;
    if (w->error) unlink(tmp);
}

static void written(uv_work_t *req, int status)
{
    struct s3_write *w = req->data;
    w->server->s3_pending--;
    const char *why = status ? "the write was cancelled" : w->error ? strerror(w->error) : NULL;
    rule_ticket_done(w->server, w->ticket, why);
    free(w->path);
    free(w);
}

/* NULL when queued, else why not. */
static const char *queue_object(struct umbra_server *s, struct rule_ticket *t, const char *bucket,
                                const char *key, const uint8_t *data, size_t len)
{
    if (!key) return "out of memory";
    if (!sink_s3_valid_bucket(bucket)) return "invalid bucket name";
    if (!sink_s3_valid_key(key)) return "invalid object key";
    if (s->s3_pending >= SINK_S3_MAX_PENDING) return sink_queue_full;
    struct s3_write *w = malloc(sizeof *w + len);
    size_t plen = strlen(s->cfg->data_dir) + strlen(bucket) + strlen(key) + 16;
    if (!w || !(w->path = malloc(plen))) {
        free(w);
        return "out of memory";
    }
    snprintf(w->path, plen, "%s/buckets/%s/%s", s->cfg->data_dir, bucket, key);
    w->server = s;
    w->ticket = t;
    w->len = len;
    w->error = 0;
    memcpy(w->data, data, len);
    w->work.data = w;
    if (uv_queue_work(s->loop, &w->work, write_object, written)) {
        free(w->path);
        free(w);
        return "cannot queue the write";
    }
    s->s3_pending++;
    return NULL;
}

void sink_s3_put(struct umbra_server *s, struct rule_ticket *t, const char *bucket, const char *key,
                 const uint8_t *data, size_t len)
{
    const char *why = queue_object(s, t, bucket, key, data, len);
    if (why == sink_queue_full)
        rule_ticket_drop(s, t, why);
    else if (why)
        rule_ticket_done(s, t, why);
}
