/*
 * strmap.c - open-addressing hash map from byte strings to pointers.
 *
 * The idea: one flat array of 32-byte slots, linear probing, no per-entry
 * allocation in the common case. A slot holds the key's hash, its length
 * and flags, the value, and 16 bytes of key storage: a copied key of up to
 * 16 bytes (topic levels, device ids, pointer-sized binary keys) lives
 * inline in the slot, so inserting it allocates nothing and comparing it
 * touches no other cache line. Longer copied keys get one allocation;
 * borrowed keys are pointed to.
 *
 * Deletion shifts the later members of the probe run back into the hole
 * instead of leaving tombstones, so a map that churns (sessions coming and
 * going) never degrades. The table doubles at 70% load and never shrinks.
 */
#include "strmap.h"

#include "error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_MAX 16

/* Flags in slot.meta above the key length. */
#define USED 0x80000000u   /* the slot holds an entry */
#define INLINE 0x40000000u /* key bytes are in slot.key.bytes */
#define HEAP 0x20000000u   /* key.ptr is the map's own copy */
#define LEN_MASK 0x1FFFFFFFu
#define LEN_MAX LEN_MASK

#define MIN_CAP 8

struct slot {
    union {
        const char *ptr;
        char bytes[INLINE_MAX];
    } key;
    uint32_t meta; /* key length | flags; 0 = empty */
    uint32_t hash;
    void *val;
};

struct strmap {
    struct slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
    uint64_t seed; /* per map, so colliding keys cannot be precomputed */
};

/* ---- hashing ---- */

/*
 * A wyhash-style hash: keys up to 16 bytes (nearly all of them here) are
 * read with at most four overlapping loads and mixed by two 64x64->128-bit
 * multiplications; longer keys fold 16 bytes per round first.
 */
#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Multiply and fold the 128-bit product: the core wyhash mixing step. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t hi = (a >> 32) * (b >> 32), lo = (uint32_t)a * (uint64_t)(uint32_t)b;
    uint64_t mid = (a >> 32) * (uint32_t)b + (uint32_t)a * (b >> 32);
    return (lo + (mid << 32)) ^ (hi + (mid >> 32));
#endif
}

static uint32_t hash_bytes(uint64_t seed, const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t a, b;
    if (len <= 16) {
        if (len >= 4) {
            /* Two overlapping pairs of 4-byte loads cover 4..16 bytes. */
            size_t mid = (len >> 3) << 2;
            a = (load32(p) << 32) | load32(p + mid);
            b = (load32(p + len - 4) << 32) | load32(p + len - 4 - mid);
        } else if (len > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        while (i > 16) {
            seed = mum(load64(p) ^ P1, load64(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = load64(p + i - 16);
        b = load64(p + i - 8);
    }
    uint64_t h = mum(P1 ^ len, mum(a ^ P1, b ^ seed ^ P2));
    return (uint32_t)(h ^ (h >> 32));
}

/* ---- slots ---- */

static inline size_t slot_len(const struct slot *s)
{
    return s->meta & LEN_MASK;
}

static inline const char *slot_key(const struct slot *s)
{
    return (s->meta & INLINE) ? s->key.bytes : s->key.ptr;
}

/*
 * Equality of short byte strings without a call: two overlapping loads per
 * side cover 4 to 16 bytes, the size of nearly every key here.
 */
static inline bool bytes_equal(const char *a, const char *b, size_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + len - 8, 8);
        memcpy(&b1, b + len - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (len >= 4 && len < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + len - 4, 4);
        memcpy(&b1, b + len - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return len == 0 || memcmp(a, b, len) == 0;
}

static inline bool slot_is(const struct slot *s, const char *key, size_t len, uint32_t h)
{
    /* The hash check rejects nearly every other key without reading it. */
    return s->hash == h && slot_len(s) == len && bytes_equal(slot_key(s), key, len);
}

/* The slot holding key, or the empty slot ending its probe run. */
static size_t find_slot(const struct strmap *m, const char *key, size_t len, uint32_t h)
{
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct slot *s = &m->slots[i];
        if (!s->meta || slot_is(s, key, len, h)) return i;
    }
}

static void slot_release(struct slot *s)
{
    if (s->meta & HEAP) free((void *)s->key.ptr);
}

/* ---- the map ---- */

struct strmap *strmap_new(void)
{
    struct strmap *m = malloc(sizeof *m);
    if (!m) return NULL;
    m->slots = calloc(MIN_CAP, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    m->mask = MIN_CAP - 1;
    m->count = 0;
    /* The map's address varies per run (ASLR) and per map; good enough to
     * keep a client from choosing topic levels that all collide. */
    m->seed = mum((uint64_t)(uintptr_t)m ^ P2, P0) ^ P0;
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i <= m->mask; i++)
        slot_release(&m->slots[i]);
    free(m->slots);
    free(m);
}

/* Double the table. Slots move whole: inline keys move with them. */
static int grow(struct strmap *m)
{
    size_t ncap = (m->mask + 1) * 2, nmask = ncap - 1;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return UMBRA_ENOMEM;
    for (size_t i = 0; i <= m->mask; i++) {
        const struct slot *s = &m->slots[i];
        if (!s->meta) continue;
        size_t j = s->hash & nmask;
        while (ns[j].meta)
            j = (j + 1) & nmask;
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->mask = nmask;
    return 0;
}

static int put(struct strmap *m, const char *key, size_t len, void *val, void **old, bool borrow)
{
    if (old) *old = NULL;
    if (len > LEN_MAX) return UMBRA_EINVAL;
    uint32_t h = hash_bytes(m->seed, key, len);
    size_t i = find_slot(m, key, len, h);
    struct slot *s = &m->slots[i];
    bool is_new = !s->meta;
    if (is_new && (m->count + 1) * 10 > (m->mask + 1) * 7) {
        if (grow(m)) return UMBRA_ENOMEM;
        i = find_slot(m, key, len, h);
        s = &m->slots[i];
    }
    struct slot n = {.meta = (uint32_t)len | USED, .hash = h, .val = val};
    bool keep_key = !is_new && !borrow && (s->meta & (INLINE | HEAP));
    if (keep_key) {
        /* Replacing a copied key with a copied key: keep the copy. */
        n.key = s->key;
        n.meta = s->meta;
    } else if (borrow) {
        n.key.ptr = key;
    } else if (len <= INLINE_MAX) {
        if (len) memcpy(n.key.bytes, key, len);
        n.meta |= INLINE;
    } else {
        char *copy = malloc(len);
        if (!copy) return UMBRA_ENOMEM;
        memcpy(copy, key, len);
        n.key.ptr = copy;
        n.meta |= HEAP;
    }
    /*
     * A replacement stores the key the way this call asks: a borrowed key
     * then belongs to the new value (a new session taking over a client id
     * while the old session, owner of the old key, is freed), and a copied
     * key no longer depends on the previous borrower.
     */
    if (is_new) {
        m->count++;
    } else {
        if (old) *old = s->val;
        if (!keep_key) slot_release(s);
    }
    *s = n;
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
    if (len > LEN_MAX) return NULL;
    const struct slot *s = &m->slots[find_slot(m, key, len, hash_bytes(m->seed, key, len))];
    return s->meta ? s->val : NULL;
}

/*
 * Backward-shift deletion: walk the probe run after the hole and move back
 * every entry whose home slot is not cyclically within (hole, j], i.e. one
 * that a lookup would otherwise no longer reach.
 */
static void close_hole(struct strmap *m, size_t hole)
{
    for (size_t j = (hole + 1) & m->mask; m->slots[j].meta; j = (j + 1) & m->mask) {
        size_t home = m->slots[j].hash & m->mask;
        bool reachable = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (reachable) continue;
        m->slots[hole] = m->slots[j];
        hole = j;
    }
    memset(&m->slots[hole], 0, sizeof m->slots[hole]);
}

void *strmap_del(struct strmap *m, const char *key, size_t len)
{
    if (len > LEN_MAX) return NULL;
    size_t i = find_slot(m, key, len, hash_bytes(m->seed, key, len));
    struct slot *s = &m->slots[i];
    if (!s->meta) return NULL;
    void *val = s->val;
    slot_release(s);
    m->count--;
    close_hole(m, i);
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
    while (it->idx <= m->mask) {
        const struct slot *s = &m->slots[it->idx++];
        if (!s->meta) continue;
        *key = slot_key(s);
        *len = slot_len(s);
        *val = s->val;
        return 1;
    }
    return 0;
}
