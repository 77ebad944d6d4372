/*
 * trie.c - the subscription trie.
 *
 * The idea: a node per filter level, reached from its parent by level
 * string, with the wildcard children '+' and '#' kept in their own pointers
 * so matching never looks them up. Exact children live in a small array
 * while a node has few (each entry carries the level's length and a 4-byte
 * tag, so a miss rarely touches the child), and in a strmap once the node is
 * wide ("devices/<100,000 ids>").
 *
 * trie_match walks the topic once, depth first, with no allocation and no
 * recursion: the nodes' parent links are the stack. Going back up, the
 * level a node matched is found again by scanning the topic backwards, and
 * only while some ancestor still has a '+' branch to try (`pending`), so a
 * topic without wildcard subscribers is a single downward walk.
 *
 * Plain subscribers of a node are an array, with a hash index from
 * subscriber to position once a filter is popular (100,000 devices on
 * "fleet/all" must not make SUBSCRIBE quadratic). $share groups keep their
 * members in subscription order for round-robin and are expected small.
 *
 * trie_match's callback must not change the trie.
 */
#include "trie.h"

#include "error.h"
#include "mqtt_topic.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#define KIDS_MAP_AT 8        /* more exact children than this: a strmap */
#define KIDS_ARRAY_AT 4      /* a strmap shrunk to this many: back to an array */
#define SUBS_INDEX_AT 16     /* more plain subscribers than this: index them */
#define STRMAP_INLINE 16     /* strmap copies keys this short into its slots */
#define LEVEL_MAX 0x7FFFFFFF /* level_len's bits; MQTT strings stop at 65,535 */

struct trie_sub {
    void *subscriber;
    uint8_t qos;
};

struct trie_group {
    char *name;
    uint32_t name_len;
    uint32_t cursor; /* the member whose turn is next */
    struct trie_sub *members;
    uint32_t nmembers;
};

/* What few nodes need: $share groups and the index of a popular filter. */
struct node_extra {
    struct strmap *subs_index; /* subscriber pointer bytes -> position + 1 */
    struct trie_group *groups;
    uint32_t ngroups;
};

/* An exact child in a narrow node. */
struct kid {
    uint32_t len;
    uint32_t tag; /* level_tag() of the child's level */
    struct trie_node *node;
};

struct trie_node {
    struct trie_node *parent;
    struct trie_node *plus, *hash;
    union {
        struct kid *arr;
        struct strmap *map; /* level -> node, when kids_mapped */
    } kids;
    struct trie_sub *subs;
    struct node_extra *extra;
    uint32_t nkids; /* exact children */
    uint32_t nsubs;
    uint32_t level_len : 31;
    uint32_t kids_mapped : 1;
    char level[]; /* not NUL-terminated */
};

struct trie {
    struct trie_node *root;
    trie_online_fn online;
    size_t count;
};

/* ---- small helpers ---- */

/*
 * Arrays grow to the next power of two, so their capacity follows from
 * their length and need not be stored: room runs out exactly when the
 * length is 0 or a power of two.
 */
static bool is_full(uint32_t n)
{
    return (n & (n - 1)) == 0;
}

static void *grow_array(void *arr, uint32_t n, size_t elem)
{
    return realloc(arr, (n ? (size_t)n * 2 : 1) * elem);
}

/*
 * Equality of short byte strings without a call: two overlapping loads per
 * side cover 4 to 16 bytes. Levels are nearly always that short.
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
    return memcmp(a, b, len) == 0;
}

/*
 * Length plus a 4-byte tag tells most levels apart without touching the
 * child node. Levels of up to 4 bytes are their own tag (the comparison is
 * then complete); longer ones mix their first and last 4 bytes, where ids
 * like "dev-0001" and "dev-0002" differ.
 */
static inline uint32_t level_tag(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t a, b;
    if (len < 4) {
        a = 0;
        for (size_t i = 0; i < len; i++)
            a |= (uint32_t)p[i] << (8 * i);
        return a;
    }
    memcpy(&a, p, 4);
    if (len == 4) return a;
    memcpy(&b, p + len - 4, 4);
    return a ^ (b << 13 | b >> 19);
}

/*
 * End of the topic level starting at p: the next '/' or end. Topics are
 * mostly short levels, where a word-at-a-time scan beats a memchr call.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline const char *level_end(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= ones * '/';
        /* Has-zero-byte trick; exact for the lowest zero byte, which on a
         * little-endian machine is the first '/' in memory. */
        uint64_t z = (v - ones) & ~v & highs;
        if (z) return p + (__builtin_ctzll(z) >> 3);
        p += 8;
    }
    while (p < end && *p != '/')
        p++;
    return p;
}
#else
static inline const char *level_end(const char *p, const char *end)
{
    const char *slash = memchr(p, '/', (size_t)(end - p));
    return slash ? slash : end;
}
#endif

/* Start of the topic level that ends at `lend` (a '/' or the end). */
static inline const char *level_start(const char *topic, const char *lend)
{
    while (lend > topic && lend[-1] != '/')
        lend--;
    return lend;
}

static inline bool is_single(const char *s, size_t len, char c)
{
    return len == 1 && s[0] == c;
}

/* ---- exact children ---- */

static inline struct trie_node *kid_get(const struct trie_node *n, const char *s, size_t len)
{
    if (n->kids_mapped) return strmap_get(n->kids.map, s, len);
    if (!n->nkids) return NULL;
    uint32_t tag = level_tag(s, len);
    const struct kid *k = n->kids.arr;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (k[i].len == len && k[i].tag == tag &&
            (len <= 4 || bytes_equal(k[i].node->level, s, len)))
            return k[i].node;
    return NULL;
}

/* Key the map by the child's level: short ones are copied into the map's
 * slots (no allocation, no pointer to chase), long ones borrowed from the
 * child, which outlives its entry. */
static int map_add(struct strmap *m, struct trie_node *c)
{
    if (c->level_len <= STRMAP_INLINE) return strmap_put(m, c->level, c->level_len, c, NULL);
    return strmap_put_borrowed(m, c->level, c->level_len, c, NULL);
}

static int kids_to_map(struct trie_node *n)
{
    struct strmap *m = strmap_new();
    if (!m) return UMBRA_ENOMEM;
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (map_add(m, n->kids.arr[i].node)) {
            strmap_free(m);
            return UMBRA_ENOMEM;
        }
    }
    free(n->kids.arr);
    n->kids.map = m;
    n->kids_mapped = 1;
    return 0;
}

/* Best effort: a node that stays mapped still works, it just uses more memory. */
static void kids_to_array(struct trie_node *n)
{
    struct kid *arr = malloc(KIDS_ARRAY_AT * sizeof *arr);
    if (!arr) return;
    struct strmap_iter it;
    const char *key;
    size_t len;
    void *val;
    uint32_t i = 0;
    strmap_iter_init(&it, n->kids.map);
    while (strmap_next(&it, &key, &len, &val)) {
        struct trie_node *c = val;
        arr[i++] = (struct kid){c->level_len, level_tag(c->level, c->level_len), c};
    }
    strmap_free(n->kids.map);
    n->kids.arr = arr;
    n->kids_mapped = 0;
}

static int kid_add(struct trie_node *n, struct trie_node *c)
{
    if (n->kids_mapped) {
        if (map_add(n->kids.map, c)) return UMBRA_ENOMEM;
    } else if (n->nkids == KIDS_MAP_AT) {
        if (kids_to_map(n) || map_add(n->kids.map, c)) return UMBRA_ENOMEM;
    } else {
        if (is_full(n->nkids)) {
            struct kid *arr = grow_array(n->kids.arr, n->nkids, sizeof *arr);
            if (!arr) return UMBRA_ENOMEM;
            n->kids.arr = arr;
        }
        n->kids.arr[n->nkids] = (struct kid){c->level_len, level_tag(c->level, c->level_len), c};
    }
    n->nkids++;
    return 0;
}

static void kid_del(struct trie_node *n, struct trie_node *c)
{
    if (n->kids_mapped) {
        strmap_del(n->kids.map, c->level, c->level_len);
        if (--n->nkids == 0) {
            strmap_free(n->kids.map);
            n->kids.arr = NULL;
            n->kids_mapped = 0;
        } else if (n->nkids <= KIDS_ARRAY_AT) {
            kids_to_array(n);
        }
        return;
    }
    struct kid *k = n->kids.arr;
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (k[i].node != c) continue;
        k[i] = k[--n->nkids];
        break;
    }
    if (n->nkids == 0) {
        free(n->kids.arr);
        n->kids.arr = NULL;
    }
}

/* ---- nodes ---- */

static struct trie_node *node_new(struct trie_node *parent, const char *level, size_t len)
{
    struct trie_node *n = calloc(1, sizeof *n + len);
    if (!n) return NULL;
    n->parent = parent;
    n->level_len = (uint32_t)len & LEVEL_MAX;
    memcpy(n->level, level, len);
    return n;
}

static bool node_is_empty(const struct trie_node *n)
{
    return !n->nsubs && !n->extra && !n->plus && !n->hash && !n->nkids;
}

static void extra_free(struct node_extra *x)
{
    if (!x) return;
    for (uint32_t i = 0; i < x->ngroups; i++) {
        free(x->groups[i].name);
        free(x->groups[i].members);
    }
    free(x->groups);
    strmap_free(x->subs_index);
    free(x);
}

/* Frees the node's own memory, not its children. */
static void node_free(struct trie_node *n)
{
    if (n->kids_mapped)
        strmap_free(n->kids.map);
    else
        free(n->kids.arr);
    free(n->subs);
    extra_free(n->extra);
    free(n);
}

static void extra_drop_if_empty(struct trie_node *n)
{
    struct node_extra *x = n->extra;
    if (x && !x->ngroups && !x->subs_index) {
        free(x->groups);
        free(x);
        n->extra = NULL;
    }
}

struct trie *trie_new(trie_online_fn online)
{
    struct trie *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->root = node_new(NULL, "", 0);
    if (!t->root) {
        free(t);
        return NULL;
    }
    t->online = online;
    return t;
}

/* Put c on the to-do list of trie_free(), linked through its parent field. */
static struct trie_node *todo_push(struct trie_node *todo, struct trie_node *c)
{
    if (!c) return todo;
    c->parent = todo;
    return c;
}

/*
 * Free every node without recursion or allocation: the parent links are no
 * longer needed, so they become the links of a to-do list.
 */
void trie_free(struct trie *t)
{
    if (!t) return;
    struct trie_node *todo = t->root;
    while (todo) {
        struct trie_node *n = todo;
        todo = todo_push(n->parent, n->plus);
        todo = todo_push(todo, n->hash);
        if (n->kids_mapped) {
            struct strmap_iter it;
            const char *key;
            size_t len;
            void *val;
            strmap_iter_init(&it, n->kids.map);
            while (strmap_next(&it, &key, &len, &val))
                todo = todo_push(todo, val);
        } else {
            for (uint32_t i = 0; i < n->nkids; i++)
                todo = todo_push(todo, n->kids.arr[i].node);
        }
        node_free(n);
    }
    free(t);
}

size_t trie_count(const struct trie *t)
{
    return t->count;
}

/* ---- building ---- */

static struct trie_node *child_get(const struct trie_node *n, const char *s, size_t len)
{
    if (is_single(s, len, '+')) return n->plus;
    if (is_single(s, len, '#')) return n->hash;
    return kid_get(n, s, len);
}

static struct trie_node *child_make(struct trie_node *n, const char *s, size_t len)
{
    struct trie_node *c = child_get(n, s, len);
    if (c) return c;
    c = node_new(n, s, len);
    if (!c) return NULL;
    if (is_single(s, len, '+')) {
        n->plus = c;
    } else if (is_single(s, len, '#')) {
        n->hash = c;
    } else if (kid_add(n, c)) {
        free(c);
        return NULL;
    }
    return c;
}

static void child_remove(struct trie_node *parent, struct trie_node *c)
{
    if (parent->plus == c)
        parent->plus = NULL;
    else if (parent->hash == c)
        parent->hash = NULL;
    else
        kid_del(parent, c);
}

/* Remove empty nodes from n up to (not including) the root. */
static void prune(struct trie_node *n)
{
    while (n->parent && node_is_empty(n)) {
        struct trie_node *parent = n->parent;
        child_remove(parent, n);
        node_free(n);
        n = parent;
    }
}

/*
 * The node a filter ends at, or NULL. When creating, a failure part way
 * removes the nodes it made.
 */
static struct trie_node *filter_node(struct trie *t, const char *f, size_t len, bool create)
{
    struct trie_node *n = t->root;
    const char *end = f + len, *s = f;
    for (;;) {
        const char *lend = level_end(s, end);
        size_t llen = (size_t)(lend - s);
        struct trie_node *c = create ? child_make(n, s, llen) : child_get(n, s, llen);
        if (!c) {
            if (create) prune(n);
            return NULL;
        }
        n = c;
        if (lend == end) return n;
        s = lend + 1;
    }
}

/* ---- plain subscribers ---- */

static const char *sub_key(void *const *subscriber)
{
    return (const char *)subscriber;
}

static long subs_find(const struct trie_node *n, void *subscriber)
{
    if (n->extra && n->extra->subs_index) {
        uintptr_t pos =
            (uintptr_t)strmap_get(n->extra->subs_index, sub_key(&subscriber), sizeof subscriber);
        return pos ? (long)pos - 1 : -1;
    }
    for (uint32_t i = 0; i < n->nsubs; i++)
        if (n->subs[i].subscriber == subscriber) return (long)i;
    return -1;
}

static void index_drop(struct trie_node *n)
{
    strmap_free(n->extra->subs_index);
    n->extra->subs_index = NULL;
    extra_drop_if_empty(n);
}

static int index_put(struct strmap *index, void *subscriber, uint32_t pos)
{
    return strmap_put(index, sub_key(&subscriber), sizeof subscriber, (void *)(uintptr_t)(pos + 1),
                      NULL);
}

/*
 * The index only speeds lookups up: when it cannot be built or kept up to
 * date it is dropped and lookups scan, so it never makes a SUBSCRIBE fail.
 */
static void index_after_add(struct trie_node *n)
{
    uint32_t pos = n->nsubs - 1;
    if (n->extra && n->extra->subs_index) {
        if (index_put(n->extra->subs_index, n->subs[pos].subscriber, pos)) index_drop(n);
        return;
    }
    if (n->nsubs <= SUBS_INDEX_AT) return;
    if (!n->extra && !(n->extra = calloc(1, sizeof *n->extra))) return;
    struct strmap *index = strmap_new();
    for (uint32_t i = 0; index && i < n->nsubs; i++) {
        if (index_put(index, n->subs[i].subscriber, i)) {
            strmap_free(index);
            index = NULL;
        }
    }
    n->extra->subs_index = index;
    extra_drop_if_empty(n);
}

static int subs_add(struct trie_node *n, void *subscriber, uint8_t qos, bool *was_there)
{
    long i = subs_find(n, subscriber);
    *was_there = i >= 0;
    if (i >= 0) {
        n->subs[i].qos = qos;
        return 0;
    }
    if (is_full(n->nsubs)) {
        struct trie_sub *arr = grow_array(n->subs, n->nsubs, sizeof *arr);
        if (!arr) return UMBRA_ENOMEM;
        n->subs = arr;
    }
    n->subs[n->nsubs++] = (struct trie_sub){subscriber, qos};
    index_after_add(n);
    return 0;
}

static bool subs_del(struct trie_node *n, void *subscriber)
{
    long i = subs_find(n, subscriber);
    if (i < 0) return false;
    /* Plain subscribers have no order: move the last one into the hole. */
    uint32_t last = --n->nsubs;
    struct strmap *index = n->extra ? n->extra->subs_index : NULL;
    if (index) strmap_del(index, sub_key(&subscriber), sizeof subscriber);
    if ((uint32_t)i != last) {
        n->subs[i] = n->subs[last];
        /* Replacing an existing key's value cannot fail. */
        if (index) index_put(index, n->subs[i].subscriber, (uint32_t)i);
    }
    if (index && n->nsubs <= SUBS_INDEX_AT / 2) index_drop(n);
    if (n->nsubs == 0) {
        free(n->subs);
        n->subs = NULL;
    }
    return true;
}

/* ---- $share groups ---- */

static struct trie_group *group_find(const struct trie_node *n, const char *name, size_t len)
{
    if (!n->extra) return NULL;
    for (uint32_t i = 0; i < n->extra->ngroups; i++) {
        struct trie_group *g = &n->extra->groups[i];
        if (g->name_len == len && memcmp(g->name, name, len) == 0) return g;
    }
    return NULL;
}

static struct trie_group *group_make(struct trie_node *n, const char *name, size_t len)
{
    struct trie_group *g = group_find(n, name, len);
    if (g) return g;
    if (!n->extra && !(n->extra = calloc(1, sizeof *n->extra))) return NULL;
    struct node_extra *x = n->extra;
    char *copy = malloc(len ? len : 1);
    struct trie_group *arr =
        copy && is_full(x->ngroups) ? grow_array(x->groups, x->ngroups, sizeof *arr) : x->groups;
    if (!copy || !arr) {
        free(copy);
        extra_drop_if_empty(n);
        return NULL;
    }
    x->groups = arr;
    memcpy(copy, name, len);
    g = &x->groups[x->ngroups++];
    *g = (struct trie_group){.name = copy, .name_len = (uint32_t)len};
    return g;
}

static void group_remove(struct trie_node *n, struct trie_group *g)
{
    struct node_extra *x = n->extra;
    free(g->name);
    free(g->members);
    *g = x->groups[--x->ngroups];
    if (x->ngroups == 0) {
        free(x->groups);
        x->groups = NULL;
    }
    extra_drop_if_empty(n);
}

static int member_add(struct trie_group *g, void *subscriber, uint8_t qos, bool *was_there)
{
    for (uint32_t i = 0; i < g->nmembers; i++) {
        if (g->members[i].subscriber != subscriber) continue;
        g->members[i].qos = qos;
        *was_there = true;
        return 0;
    }
    *was_there = false;
    if (is_full(g->nmembers)) {
        struct trie_sub *arr = grow_array(g->members, g->nmembers, sizeof *arr);
        if (!arr) return UMBRA_ENOMEM;
        g->members = arr;
    }
    g->members[g->nmembers++] = (struct trie_sub){subscriber, qos};
    return 0;
}

static bool member_del(struct trie_group *g, void *subscriber)
{
    for (uint32_t i = 0; i < g->nmembers; i++) {
        if (g->members[i].subscriber != subscriber) continue;
        /* Keep the order, and the turn with the member after the removed
         * one, so nobody is skipped or served twice in a round. */
        memmove(&g->members[i], &g->members[i + 1], (g->nmembers - i - 1) * sizeof *g->members);
        g->nmembers--;
        if (g->cursor > i) g->cursor--;
        if (g->cursor >= g->nmembers) g->cursor = 0;
        return true;
    }
    return false;
}

/* ---- subscribe / unsubscribe ---- */

int trie_subscribe(struct trie *t, const char *filter, size_t len, void *subscriber, uint8_t qos,
                   bool *replaced)
{
    const char *group = NULL, *inner;
    size_t glen = 0, ilen;
    bool shared = mqtt_topic_split_shared(filter, len, &group, &glen, &inner, &ilen);
    if (!shared) {
        inner = filter;
        ilen = len;
    }
    if (ilen > LEVEL_MAX || glen > LEVEL_MAX) return UMBRA_EINVAL;
    struct trie_node *n = filter_node(t, inner, ilen, true);
    if (!n) return UMBRA_ENOMEM;
    bool was_there = false;
    int rc;
    if (shared) {
        struct trie_group *g = group_make(n, group, glen);
        rc = g ? member_add(g, subscriber, qos, &was_there) : UMBRA_ENOMEM;
        if (g && g->nmembers == 0) group_remove(n, g);
    } else {
        rc = subs_add(n, subscriber, qos, &was_there);
    }
    if (rc) {
        prune(n);
        return rc;
    }
    if (!was_there) t->count++;
    if (replaced) *replaced = was_there;
    return 0;
}

int trie_unsubscribe(struct trie *t, const char *filter, size_t len, void *subscriber)
{
    const char *group, *inner;
    size_t glen, ilen;
    bool shared = mqtt_topic_split_shared(filter, len, &group, &glen, &inner, &ilen);
    if (!shared) {
        inner = filter;
        ilen = len;
    }
    struct trie_node *n = filter_node(t, inner, ilen, false);
    if (!n) return UMBRA_ENOTFOUND;
    bool removed;
    if (shared) {
        struct trie_group *g = group_find(n, group, glen);
        removed = g && member_del(g, subscriber);
        if (removed && g->nmembers == 0) group_remove(n, g);
    } else {
        removed = subs_del(n, subscriber);
    }
    if (!removed) return UMBRA_ENOTFOUND;
    t->count--;
    prune(n);
    return 0;
}

/* ---- matching ---- */

/* The member whose turn it is, skipping offline ones unless all are. */
static const struct trie_sub *group_pick(const struct trie *t, struct trie_group *g)
{
    uint32_t pick = g->cursor;
    if (t->online) {
        for (uint32_t k = 0, j = g->cursor; k < g->nmembers; k++) {
            if (t->online(g->members[j].subscriber)) {
                pick = j;
                break;
            }
            if (++j == g->nmembers) j = 0;
        }
    }
    g->cursor = pick + 1 == g->nmembers ? 0 : pick + 1;
    return &g->members[pick];
}

static void report(const struct trie *t, const struct trie_node *n, unsigned flags,
                   trie_match_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < n->nsubs; i++)
        fn(ctx, n->subs[i].subscriber, n->subs[i].qos, flags);
    if (!n->extra) return;
    for (uint32_t i = 0; i < n->extra->ngroups; i++) {
        const struct trie_sub *m = group_pick(t, &n->extra->groups[i]);
        fn(ctx, m->subscriber, m->qos, flags | TRIE_MATCH_SHARED);
    }
}

/* A child that matched the topic's last level: its filter matches, and
 * so does its "#" child under the parent rule ("a/#" matches "a"). */
static void report_last(const struct trie *t, const struct trie_node *c, trie_match_fn fn,
                        void *ctx)
{
    report(t, c, 0, fn, ctx);
    if (c->hash) report(t, c->hash, TRIE_MATCH_PARENT, fn, ctx);
}

void trie_match(struct trie *t, const char *topic, size_t len, trie_match_fn fn, void *ctx)
{
    const char *end = topic + len;
    const struct trie_node *root = t->root;
    /* MQTT-4.7.2-1: a leading wildcard does not match a '$' topic. */
    bool is_system = len > 0 && topic[0] == '$';
    const struct trie_node *n = root;
    const char *lvl = topic; /* the topic level n's children are matched against */
    size_t pending = 0;      /* ancestors whose '+' child is still to be tried */

    for (;;) {
        const char *lend = level_end(lvl, end);
        bool is_last = lend == end;
        const struct trie_node *plus = n->plus;
        if (n != root || !is_system) {
            if (n->hash) report(t, n->hash, 0, fn, ctx);
        } else {
            plus = NULL;
        }

        const struct trie_node *exact = kid_get(n, lvl, (size_t)(lend - lvl));
        if (exact && is_last) {
            report_last(t, exact, fn, ctx);
        } else if (exact) {
            pending += plus != NULL;
            n = exact;
            lvl = lend + 1;
            continue;
        }
        if (plus && is_last) {
            report_last(t, plus, fn, ctx);
        } else if (plus) {
            n = plus;
            lvl = lend + 1;
            continue;
        }

        /* Back up to the nearest ancestor left through its exact child
         * while it also has a '+' child, and take that branch. */
        for (;;) {
            if (!pending) return;
            const struct trie_node *child = n;
            const char *cend = lvl - 1; /* the '/' after the level child matched */
            n = n->parent;
            lvl = level_start(topic, cend);
            if (child != n->plus && n->plus && (n != root || !is_system)) {
                pending--;
                n = n->plus;
                lvl = cend + 1;
                break;
            }
        }
    }
}
