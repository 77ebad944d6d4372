/*
 * usage_meter.c - per-client usage accumulators and their batched writes.
 *
 * Accumulators are found by key in a strmap (at CONNECT, or for counts
 * that belong to no session) and chained in a list for the flush, which
 * writes each non-zero one as a single persistence operation and frees
 * those no session holds any more. Counts are attributed to the hour the
 * meter was in when they were counted; the tick notices a new hour within
 * its period (250 ms), so at most that much spills over into the next.
 */
#include "usage_meter.h"

#include "log.h"
#include "persist.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

struct usage_meter {
    struct strmap *by_key;
    struct usage_acc *all;
    uint64_t hour;          /* the UTC hour the counts are in */
    uint64_t last_flush_ms; /* wall clock */
};

struct usage_meter *usage_meter_new(uint64_t now_ms)
{
    struct usage_meter *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->by_key = strmap_new();
    if (!m->by_key) {
        free(m);
        return NULL;
    }
    m->hour = usage_hour(now_ms);
    m->last_flush_ms = now_ms;
    return m;
}

void usage_meter_free(struct usage_meter *m)
{
    if (!m) return;
    for (struct usage_acc *a = m->all, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    strmap_free(m->by_key);
    free(m);
}

static struct usage_acc *find_or_make(struct usage_meter *m, const char *key, size_t len)
{
    if (len > UINT16_MAX) len = UINT16_MAX; /* keys are client ids and thing names */
    struct usage_acc *a = strmap_get(m->by_key, key, len);
    if (a) return a;
    a = calloc(1, sizeof *a + len + 1);
    if (!a) goto oom;
    memcpy(a->key, key, len);
    a->key_len = (uint16_t)len;
    if (strmap_put_borrowed(m->by_key, a->key, len, a, NULL)) {
        free(a);
        goto oom;
    }
    a->next = m->all;
    m->all = a;
    return a;
oom:
    log_error("usage: out of memory, %.*s is not metered", (int)len, key);
    return NULL;
}

struct usage_acc *usage_meter_acquire(struct usage_meter *m, const char *key, size_t len)
{
    if (!m) return NULL;
    struct usage_acc *a = find_or_make(m, key, len);
    if (a) a->refs++;
    return a;
}

void usage_meter_release(struct usage_meter *m, struct usage_acc *a)
{
    (void)m;
    if (a && a->refs) a->refs--;
}

void usage_meter_add(struct usage_meter *m, const char *key, size_t len, enum usage_counter c,
                     uint64_t n)
{
    if (m) usage_count(find_or_make(m, key, len), c, n);
}

void usage_meter_minutes(struct usage_acc *a, uint32_t *metered, uint64_t elapsed_ms)
{
    uint64_t due = usage_minutes(elapsed_ms);
    if (due <= *metered) return;
    usage_count(a, USAGE_CONNECTION_MINUTES, due - *metered);
    *metered = (uint32_t)due;
}

void usage_meter_flush(struct usage_meter *m, struct persist *p, uint64_t now_ms)
{
    if (!m) return;
    struct usage_acc **link = &m->all;
    while (*link) {
        struct usage_acc *a = *link;
        if (!usage_counts_is_zero(&a->counts)) {
            if (p) persist_usage_add(p, m->hour, a->key, a->key_len, &a->counts);
            memset(&a->counts, 0, sizeof a->counts);
        }
        if (a->refs == 0) {
            /* Nobody counts on it any more: a later count makes a new one. */
            *link = a->next;
            strmap_del(m->by_key, a->key, a->key_len);
            free(a);
            continue;
        }
        link = &a->next;
    }
    m->hour = usage_hour(now_ms);
    m->last_flush_ms = now_ms;
}

void usage_meter_tick(struct usage_meter *m, struct persist *p, uint64_t now_ms,
                      uint64_t interval_ms)
{
    if (!m) return;
    if (usage_hour(now_ms) != m->hour || now_ms - m->last_flush_ms >= interval_ms ||
        now_ms < m->last_flush_ms) /* the clock was set back */
        usage_meter_flush(m, p, now_ms);
}
