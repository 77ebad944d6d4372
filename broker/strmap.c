/*
 * strmap.c - open-addressing hash map from byte strings to pointers.
 *
 * Slots are 24 bytes (key pointer, length, hash, value); keys are copied
 * into their own allocation. Linear probing keeps lookups cache-friendly,
 * and deletion shifts later entries of the probe run back instead of
 * leaving tombstones, so a map that churns (sessions coming and going)
 * never degrades. The table doubles at 70% load.
 */
#include "strmap.h"

#include "error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BORROWED 0x80000000u /* in len: the map does not own the key */
#define LEN(s) ((s)->len & ~BORROWED)

struct slot {
    char *key;    /* NULL = empty */
    uint32_t len; /* with BORROWED when the key is the caller's */
    uint32_t hash;
    void *val;
};

struct strmap {
    struct slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

/* A multiply-xorshift hash over 8-byte words: fast on short keys (topic
 * levels, client ids) and well mixed in the low bits the mask keeps. */
static uint32_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xFF51AFD7ED558CCDull);
    const unsigned char *p = (const unsigned char *)key;
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ (k * 0xC4CEB9FE1A85EC53ull)) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h = (h ^ (tail * 0xC4CEB9FE1A85EC53ull)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cap = 8;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (!(m->slots[i].len & BORROWED)) free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static size_t find_slot(const struct strmap *m, const char *key, size_t len, uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct slot *s = &m->slots[i];
        if (!s->key) return i;
        if (s->hash == h && LEN(s) == len && memcmp(s->key, key, len) == 0) return i;
    }
}

static int grow(struct strmap *m)
{
    size_t ncap = m->cap * 2;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return UMBRA_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct slot *s = &m->slots[i];
        if (!s->key) continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int put(struct strmap *m, const char *key, size_t len, void *val, void **old, bool borrow)
{
    if (len >= BORROWED) return UMBRA_EINVAL;
    uint32_t h = hash_bytes(key, len);
    size_t i = find_slot(m, key, len, h);
    if (m->slots[i].key) {
        /* Rebind the key as this call asks: a borrowed key from an old
         * value (a session's own id) must not outlive that value. */
        struct slot *sl = &m->slots[i];
        if (borrow) {
            if (!(sl->len & BORROWED)) free(sl->key);
            sl->key = (char *)key;
            sl->len = (uint32_t)len | BORROWED;
        } else if (sl->len & BORROWED) {
            char *k = malloc(len ? len : 1);
            if (!k) return UMBRA_ENOMEM;
            memcpy(k, key, len);
            sl->key = k;
            sl->len = (uint32_t)len;
        }
        if (old) *old = sl->val;
        sl->val = val;
        return 0;
    }
    if (old) *old = NULL;
    if ((m->count + 1) * 10 > m->cap * 7) {
        if (grow(m)) return UMBRA_ENOMEM;
        i = find_slot(m, key, len, h);
    }
    char *k = (char *)key;
    if (!borrow) {
        k = malloc(len ? len : 1);
        if (!k) return UMBRA_ENOMEM;
        memcpy(k, key, len);
    }
    m->slots[i] = (struct slot){k, (uint32_t)len | (borrow ? BORROWED : 0), h, val};
    m->count++;
    return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t len, void *val, void **old)
{
    return put(m, key, len, val, old, false);
}

int strmap_put_borrowed(struct strmap *m, const char *key, size_t len, void *val, void **old)
{
    return put(m, key, len, val, old, true);
}

void *strmap_get(const struct strmap *m, const char *key, size_t len)
{
    if (len >= BORROWED) return NULL;
    size_t i = find_slot(m, key, len, hash_bytes(key, len));
    return m->slots[i].key ? m->slots[i].val : NULL;
}

void *strmap_del(struct strmap *m, const char *key, size_t len)
{
    if (len >= BORROWED) return NULL;
    size_t i = find_slot(m, key, len, hash_bytes(key, len));
    if (!m->slots[i].key) return NULL;
    void *val = m->slots[i].val;
    if (!(m->slots[i].len & BORROWED)) free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    /* Backward shift: move later members of the probe run into the hole
     * when their home slot is not between the hole and themselves. */
    size_t mask = m->cap - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        m->slots[hole] = m->slots[j];
        m->slots[j].key = NULL;
        hole = j;
    }
    return val;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}

void strmap_iter_init(struct strmap_iter *it, const struct strmap *m)
{
    it->m = m;
    it->idx = 0;
}

int strmap_next(struct strmap_iter *it, const char **key, size_t *len, void **val)
{
    const struct strmap *m = it->m;
    while (it->idx < m->cap) {
        const struct slot *s = &m->slots[it->idx++];
        if (!s->key) continue;
        *key = s->key;
        *len = LEN(s);
        *val = s->val;
        return 1;
    }
    return 0;
}
