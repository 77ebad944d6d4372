/*
 * trie.c - subscription trie.
 *
 * A node per filter level. '+' and '#' children are kept in their own
 * pointers so matching never looks them up by string; other children live
 * in a levelset. Matching walks the topic's levels once with an explicit
 * stack (reused, so nothing is allocated per publish once it has grown, and
 * a topic of 60,000 empty levels cannot exhaust the C stack).
 */
#include "trie.h"

#include "error.h"
#include "levelset.h"
#include "mqtt_topic.h"

#include <stdlib.h>
#include <string.h>

struct trie_sub {
    void *subscriber;
    uint8_t qos;
};

struct trie_group {
    char *name;
    uint32_t name_len;
    uint32_t cursor; /* next member in turn */
    struct trie_sub *members;
    uint32_t nmembers, cap;
};

struct trie_node {
    struct trie_node *parent;
    struct trie_node *plus, *hash;
    struct levelset kids;
    struct trie_sub *subs;
    struct trie_group *groups;
    uint32_t nsubs, subs_cap, ngroups;
    uint32_t level_len;
    char level[]; /* not NUL-terminated */
};

struct frame {
    struct trie_node *node;
    const char *level; /* start of the topic level to match below node */
};

struct trie {
    struct trie_node *root;
    trie_online_fn online;
    size_t count;
    struct frame *stack;
    size_t stack_cap;
};

static struct trie_node *node_new(struct trie_node *parent, const char *level, size_t len)
{
    struct trie_node *n = calloc(1, sizeof *n + len);
    if (!n) return NULL;
    n->parent = parent;
    n->level_len = (uint32_t)len;
    memcpy(n->level, level, len);
    return n;
}

static bool node_is_empty(const struct trie_node *n)
{
    return !n->nsubs && !n->ngroups && !n->plus && !n->hash && !n->kids.count;
}

static void node_free(struct trie_node *n)
{
    for (uint32_t i = 0; i < n->ngroups; i++) {
        free(n->groups[i].name);
        free(n->groups[i].members);
    }
    free(n->groups);
    free(n->subs);
    levelset_free(&n->kids);
    free(n);
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

/* Free a subtree without recursion: detach children onto a work list. */
static void subtree_free(struct trie_node *top)
{
    struct trie_node **work = NULL;
    size_t n = 0, cap = 0;
    struct trie_node *cur = top;
    while (cur) {
        size_t need = n + cur->kids.count + 2;
        if (need > cap) {
            size_t ncap = cap ? cap * 2 : 64;
            while (ncap < need)
                ncap *= 2;
            struct trie_node **w = realloc(work, ncap * sizeof *w);
            if (!w) break; /* leak rather than crash; only at shutdown */
            work = w;
            cap = ncap;
        }
        for (uint32_t i = 0; i < cur->kids.count; i++)
            work[n++] = cur->kids.entries[i].node;
        if (cur->plus) work[n++] = cur->plus;
        if (cur->hash) work[n++] = cur->hash;
        node_free(cur);
        cur = n ? work[--n] : NULL;
    }
    free(work);
}

void trie_free(struct trie *t)
{
    if (!t) return;
    subtree_free(t->root);
    free(t->stack);
    free(t);
}

size_t trie_count(const struct trie *t)
{
    return t->count;
}

/* ---- building ---- */

static struct trie_node *child_get(const struct trie_node *n, const char *lvl, size_t len)
{
    if (len == 1 && lvl[0] == '+') return n->plus;
    if (len == 1 && lvl[0] == '#') return n->hash;
    return levelset_get(&n->kids, lvl, len);
}

static struct trie_node *child_make(struct trie_node *n, const char *lvl, size_t len)
{
    struct trie_node *c = child_get(n, lvl, len);
    if (c) return c;
    c = node_new(n, lvl, len);
    if (!c) return NULL;
    if (len == 1 && lvl[0] == '+')
        n->plus = c;
    else if (len == 1 && lvl[0] == '#')
        n->hash = c;
    else if (levelset_add(&n->kids, c->level, len, c)) {
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
        levelset_del(&parent->kids, c->level, c->level_len);
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

/* Walk (find == true) or build the node path of a filter. */
static struct trie_node *filter_node(struct trie *t, const char *f, size_t len, bool create)
{
    struct trie_node *n = t->root;
    const char *end = f + len;
    const char *s = f;
    for (;;) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *lend = slash ? slash : end;
        n = create ? child_make(n, s, (size_t)(lend - s)) : child_get(n, s, (size_t)(lend - s));
        if (!n || !slash) return n;
        s = slash + 1;
    }
}

static int subs_add(struct trie_sub **arr, uint32_t *n, uint32_t *cap, void *sub, uint8_t qos,
                    bool *replaced)
{
    for (uint32_t i = 0; i < *n; i++) {
        if ((*arr)[i].subscriber != sub) continue;
        (*arr)[i].qos = qos;
        *replaced = true;
        return 0;
    }
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 2;
        struct trie_sub *a = realloc(*arr, ncap * sizeof *a);
        if (!a) return UMBRA_ENOMEM;
        *arr = a;
        *cap = ncap;
    }
    (*arr)[(*n)++] = (struct trie_sub){sub, qos};
    *replaced = false;
    return 0;
}

static bool subs_del(struct trie_sub *arr, uint32_t *n, void *sub, uint32_t *removed_at)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (arr[i].subscriber != sub) continue;
        /* Keep order: round-robin fairness among group members relies on it. */
        memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof *arr);
        (*n)--;
        if (removed_at) *removed_at = i;
        return true;
    }
    return false;
}

static struct trie_group *group_find(struct trie_node *n, const char *name, size_t len)
{
    for (uint32_t i = 0; i < n->ngroups; i++)
        if (n->groups[i].name_len == len && memcmp(n->groups[i].name, name, len) == 0)
            return &n->groups[i];
    return NULL;
}

static struct trie_group *group_make(struct trie_node *n, const char *name, size_t len)
{
    struct trie_group *g = group_find(n, name, len);
    if (g) return g;
    struct trie_group *arr = realloc(n->groups, (n->ngroups + 1) * sizeof *arr);
    if (!arr) return NULL;
    n->groups = arr;
    g = &arr[n->ngroups];
    memset(g, 0, sizeof *g);
    g->name = malloc(len ? len : 1);
    if (!g->name) return NULL;
    memcpy(g->name, name, len);
    g->name_len = (uint32_t)len;
    n->ngroups++;
    return g;
}

static void group_remove(struct trie_node *n, struct trie_group *g)
{
    free(g->name);
    free(g->members);
    *g = n->groups[--n->ngroups];
}

int trie_subscribe(struct trie *t, const char *filter, size_t len, void *subscriber, uint8_t qos,
                   bool *replaced)
{
    const char *group, *inner;
    size_t glen, ilen;
    bool is_shared = mqtt_topic_split_shared(filter, len, &group, &glen, &inner, &ilen);
    struct trie_node *n =
        is_shared ? filter_node(t, inner, ilen, true) : filter_node(t, filter, len, true);
    if (!n) return UMBRA_ENOMEM;
    bool was_there = false;
    int rc;
    if (is_shared) {
        struct trie_group *g = group_make(n, group, glen);
        rc = g ? subs_add(&g->members, &g->nmembers, &g->cap, subscriber, qos, &was_there)
               : UMBRA_ENOMEM;
        if (g && g->nmembers == 0) group_remove(n, g);
    } else {
        rc = subs_add(&n->subs, &n->nsubs, &n->subs_cap, subscriber, qos, &was_there);
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
    bool is_shared = mqtt_topic_split_shared(filter, len, &group, &glen, &inner, &ilen);
    struct trie_node *n =
        is_shared ? filter_node(t, inner, ilen, false) : filter_node(t, filter, len, false);
    if (!n) return UMBRA_ENOTFOUND;
    bool removed;
    if (is_shared) {
        struct trie_group *g = group_find(n, group, glen);
        uint32_t at = 0;
        removed = g && subs_del(g->members, &g->nmembers, subscriber, &at);
        if (removed) {
            /* The member after the removed one keeps its turn. */
            if (g->cursor > at) g->cursor--;
            if (g->nmembers == 0) group_remove(n, g);
        }
    } else {
        removed = subs_del(n->subs, &n->nsubs, subscriber, NULL);
    }
    if (!removed) return UMBRA_ENOTFOUND;
    t->count--;
    prune(n);
    return 0;
}

/* ---- matching ---- */

static void report(struct trie *t, struct trie_node *n, unsigned flags, trie_match_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < n->nsubs; i++)
        fn(ctx, n->subs[i].subscriber, n->subs[i].qos, flags);
    for (uint32_t i = 0; i < n->ngroups; i++) {
        struct trie_group *g = &n->groups[i];
        uint32_t pick = g->cursor % g->nmembers;
        for (uint32_t k = 0; k < g->nmembers; k++) {
            uint32_t j = (g->cursor + k) % g->nmembers;
            if (!t->online || t->online(g->members[j].subscriber)) {
                pick = j;
                break;
            }
        }
        g->cursor = (pick + 1) % g->nmembers;
        fn(ctx, g->members[pick].subscriber, g->members[pick].qos, flags | TRIE_MATCH_SHARED);
    }
}

static bool push(struct trie *t, size_t *depth, struct trie_node *n, const char *level)
{
    if (*depth == t->stack_cap) {
        size_t ncap = t->stack_cap ? t->stack_cap * 2 : 32;
        struct frame *s = realloc(t->stack, ncap * sizeof *s);
        if (!s) return false;
        t->stack = s;
        t->stack_cap = ncap;
    }
    t->stack[(*depth)++] = (struct frame){n, level};
    return true;
}

/* The topic level starting at `level` ends the topic: report the child
 * (and its "#" child, which matches the parent level too). Otherwise
 * descend. */
static void step(struct trie *t, size_t *depth, struct trie_node *child, const char *slash,
                 trie_match_fn fn, void *ctx)
{
    if (!slash) {
        report(t, child, 0, fn, ctx);
        if (child->hash) report(t, child->hash, TRIE_MATCH_PARENT, fn, ctx);
        return;
    }
    push(t, depth, child, slash + 1);
}

void trie_match(struct trie *t, const char *topic, size_t len, trie_match_fn fn, void *ctx)
{
    const char *end = topic + len;
    size_t depth = 0;
    if (!push(t, &depth, t->root, topic)) return;
    while (depth) {
        struct frame f = t->stack[--depth];
        const char *slash = memchr(f.level, '/', (size_t)(end - f.level));
        size_t llen = (size_t)((slash ? slash : end) - f.level);
        /* MQTT-4.7.2-1: a leading wildcard does not match a '$' topic. */
        bool is_system = f.level == topic && llen > 0 && topic[0] == '$';
        struct trie_node *n = f.node;
        if (n->hash && !is_system) report(t, n->hash, 0, fn, ctx);
        if (n->plus && !is_system) step(t, &depth, n->plus, slash, fn, ctx);
        struct trie_node *exact = n->kids.count ? levelset_get(&n->kids, f.level, llen) : NULL;
        if (exact) step(t, &depth, exact, slash, fn, ctx);
    }
}
