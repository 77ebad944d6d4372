/*
 * session.c - session bookkeeping: subscriptions, in-flight list, bounded
 * queue with the drop policy, packet ids.
 *
 * The in-flight list is short (max_inflight, 100 by default), so lookups by
 * packet id are linear scans over a contiguous array: faster than a map at
 * that size and nothing to allocate per message.
 */
#include "session.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

struct umbra_session *session_new(const char *client_id, size_t len)
{
    if (len > UINT16_MAX) return NULL;
    /* The id lives in the same allocation: one chunk per session. */
    struct umbra_session *s = calloc(1, sizeof *s + len + 1);
    if (!s) return NULL;
    s->client_id = (char *)(s + 1);
    memcpy(s->client_id, client_id, len);
    s->client_id[len] = '\0';
    s->client_id_len = (uint16_t)len;
    s->next_seq = 1;
    return s;
}

void session_clear_messages(struct umbra_session *s)
{
    for (uint32_t i = 0; i < s->ninflight; i++)
        msg_unref(s->inflight[i].msg);
    s->ninflight = 0;
    struct umbra_delivery d;
    while (session_dequeue(s, &d))
        msg_unref(d.msg);
    s->nincoming_qos2 = 0;
}

void session_free(struct umbra_session *s)
{
    if (!s) return;
    session_clear_messages(s);
    for (uint32_t i = 0; i < s->nsubs; i++)
        free(s->subs[i].filter);
    free(s->subs);
    free(s->inflight);
    free(s->queue);
    free(s->incoming_qos2);
    free(s);
}

static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap) return 0;
    uint32_t n = *cap ? *cap * 2 : 4;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return UMBRA_ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
}

static int find_sub(const struct umbra_session *s, const char *filter, size_t len)
{
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].len == len && memcmp(s->subs[i].filter, filter, len) == 0) return (int)i;
    return -1;
}

struct session_sub *session_sub_find(struct umbra_session *s, const char *filter, size_t len)
{
    int i = find_sub(s, filter, len);
    return i < 0 ? NULL : &s->subs[i];
}

int session_sub_set(struct umbra_session *s, const char *filter, size_t len, uint8_t qos,
                    bool *existed)
{
    int i = find_sub(s, filter, len);
    if (existed) *existed = i >= 0;
    if (i >= 0) {
        s->subs[i].qos = qos;
        return 0;
    }
    if (len > UINT16_MAX) return UMBRA_EINVAL;
    if (grow((void **)&s->subs, &s->subs_cap, sizeof *s->subs, s->nsubs + 1)) return UMBRA_ENOMEM;
    char *copy = malloc(len + 1);
    if (!copy) return UMBRA_ENOMEM;
    memcpy(copy, filter, len);
    copy[len] = '\0';
    s->subs[s->nsubs++] = (struct session_sub){copy, (uint16_t)len, qos};
    return 0;
}

int session_sub_del(struct umbra_session *s, const char *filter, size_t len)
{
    int i = find_sub(s, filter, len);
    if (i < 0) return UMBRA_ENOTFOUND;
    free(s->subs[i].filter);
    s->subs[i] = s->subs[--s->nsubs];
    return 0;
}

uint16_t session_next_packet_id(struct umbra_session *s)
{
    /* At most 65535 ids and far fewer in flight, so this ends quickly. */
    for (;;) {
        uint16_t id = ++s->last_packet_id;
        if (id == 0) continue;
        if (!session_inflight_find(s, id)) return id;
    }
}

/* ---- queue (ring buffer) ---- */

static struct umbra_delivery *qat(const struct umbra_session *s, uint32_t i)
{
    return &s->queue[(s->qhead + i) % s->qcap];
}

static int queue_grow(struct umbra_session *s)
{
    if (s->qlen < s->qcap) return 0;
    uint32_t ncap = s->qcap ? s->qcap * 2 : 8;
    struct umbra_delivery *nq = malloc((size_t)ncap * sizeof *nq);
    if (!nq) return UMBRA_ENOMEM;
    for (uint32_t i = 0; i < s->qlen; i++)
        nq[i] = *qat(s, i);
    free(s->queue);
    s->queue = nq;
    s->qcap = ncap;
    s->qhead = 0;
    return 0;
}

static void account_add(struct umbra_session *s, const struct umbra_delivery *d)
{
    s->queued_bytes += d->msg->payload_len;
    if (d->qos == 0) s->queued_qos0++;
}

static void account_sub(struct umbra_session *s, const struct umbra_delivery *d)
{
    s->queued_bytes -= d->msg->payload_len;
    if (d->qos == 0) s->queued_qos0--;
}

/* Remove the oldest QoS 0 delivery from the queue; false if there is none. */
static bool drop_oldest_qos0(struct umbra_session *s)
{
    if (s->queued_qos0 == 0) return false;
    for (uint32_t i = 0; i < s->qlen; i++) {
        struct umbra_delivery *d = qat(s, i);
        if (d->qos != 0) continue;
        account_sub(s, d);
        msg_unref(d->msg);
        if (i == 0) {
            /* The common case under overload: the head is QoS 0. */
            s->qhead = (s->qhead + 1) % s->qcap;
        } else {
            for (uint32_t j = i; j + 1 < s->qlen; j++)
                *qat(s, j) = *qat(s, j + 1);
        }
        s->qlen--;
        s->dropped++;
        return true;
    }
    return false;
}

static bool over_bounds(const struct umbra_session *s, const struct session_limits *lim,
                        size_t extra_bytes)
{
    if (s->qlen + 1 > lim->max_queued_messages) return true;
    return lim->max_queued_bytes && s->queued_bytes + extra_bytes > lim->max_queued_bytes;
}

bool session_has_room(const struct umbra_session *s, const struct session_limits *lim,
                      size_t payload_len)
{
    return !over_bounds(s, lim, payload_len);
}

int session_enqueue(struct umbra_session *s, const struct session_limits *lim,
                    struct umbra_delivery *d)
{
    size_t bytes = d->msg->payload_len;
    while (over_bounds(s, lim, bytes)) {
        if (d->qos == 0 || !drop_oldest_qos0(s)) {
            s->dropped++;
            msg_unref(d->msg);
            d->msg = NULL;
            return UMBRA_ELIMIT;
        }
    }
    if (queue_grow(s)) {
        s->dropped++;
        msg_unref(d->msg);
        d->msg = NULL;
        return UMBRA_ENOMEM;
    }
    *qat(s, s->qlen++) = *d;
    account_add(s, d);
    return 0;
}

int session_enqueue_front(struct umbra_session *s, struct umbra_delivery *d)
{
    if (queue_grow(s)) return UMBRA_ENOMEM;
    s->qhead = (s->qhead + s->qcap - 1) % s->qcap;
    s->qlen++;
    *qat(s, 0) = *d;
    account_add(s, d);
    return 0;
}

bool session_dequeue(struct umbra_session *s, struct umbra_delivery *d)
{
    if (s->qlen == 0) return false;
    *d = *qat(s, 0);
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    account_sub(s, d);
    return true;
}

/* ---- in flight ---- */

int session_inflight_add(struct umbra_session *s, const struct umbra_delivery *d)
{
    if (grow((void **)&s->inflight, &s->inflight_cap, sizeof *s->inflight, s->ninflight + 1))
        return UMBRA_ENOMEM;
    s->inflight[s->ninflight++] = *d;
    return 0;
}

struct umbra_delivery *session_inflight_find(struct umbra_session *s, uint16_t packet_id)
{
    for (uint32_t i = 0; i < s->ninflight; i++)
        if (s->inflight[i].packet_id == packet_id) return &s->inflight[i];
    return NULL;
}

bool session_inflight_take(struct umbra_session *s, uint16_t packet_id, struct umbra_delivery *out)
{
    for (uint32_t i = 0; i < s->ninflight; i++) {
        if (s->inflight[i].packet_id != packet_id) continue;
        *out = s->inflight[i];
        /* Keep send order: resends after a reconnect go out oldest first. */
        memmove(&s->inflight[i], &s->inflight[i + 1], (s->ninflight - i - 1) * sizeof *s->inflight);
        s->ninflight--;
        return true;
    }
    return false;
}

/* ---- incoming QoS 2 ---- */

bool session_incoming_qos2_has(const struct umbra_session *s, uint16_t packet_id)
{
    for (uint32_t i = 0; i < s->nincoming_qos2; i++)
        if (s->incoming_qos2[i] == packet_id) return true;
    return false;
}

int session_incoming_qos2_add(struct umbra_session *s, uint16_t packet_id)
{
    if (session_incoming_qos2_has(s, packet_id)) return 0;
    if (grow((void **)&s->incoming_qos2, &s->incoming_qos2_cap, sizeof *s->incoming_qos2,
             s->nincoming_qos2 + 1))
        return UMBRA_ENOMEM;
    s->incoming_qos2[s->nincoming_qos2++] = packet_id;
    return 0;
}

bool session_incoming_qos2_del(struct umbra_session *s, uint16_t packet_id)
{
    for (uint32_t i = 0; i < s->nincoming_qos2; i++) {
        if (s->incoming_qos2[i] != packet_id) continue;
        s->incoming_qos2[i] = s->incoming_qos2[--s->nincoming_qos2];
        return true;
    }
    return false;
}
