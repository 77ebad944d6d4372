/*
 * retain.c - retained messages in a topic tree.
 *
 * The idea: one node per topic level (children in a levelset), a node
 * holding the retained message of the topic ending there, if any. Clearing
 * a topic prunes the nodes left empty, so the tree only ever holds the
 * paths of retained topics. A subscription's filter is walked against the
 * tree (exact levels by lookup, '+' over all children, '#' over a whole
 * subtree) with an explicit stack, so deep topics cannot exhaust the C
 * stack; the walk allocates its stack and a buffer for the reported topic,
 * which is fine on SUBSCRIBE, the only caller (PUBLISH only sets and
 * clears). A topic is rebuilt from the parent links only when reported.
 *
 * Callbacks must not change the store.
 */
#include "retain.h"

#include "error.h"
#include "levelset.h"

#include <stdlib.h>
#include <string.h>

struct rnode {
    struct rnode *parent;
    struct levelset kids;
    void *msg;
    uint32_t level_len;
    char level[];
};

struct retain_store {
    struct rnode *root;
    retain_release_fn release;
    size_t count;
};

/* A walk position: a node and the filter levels left to match below it
 * (NULL while walking a '#' subtree). */
struct rframe {
    struct rnode *node;
    const char *filter;
};

struct walk {
    struct rframe *stack;
    size_t depth, cap;
    char *path; /* scratch for the topic of a reported node */
    size_t path_cap;
    bool failed;
};

static struct rnode *rnode_new(struct rnode *parent, const char *level, size_t len)
{
    struct rnode *n = calloc(1, sizeof *n + len);
    if (!n) return NULL;
    n->parent = parent;
    n->level_len = (uint32_t)len;
    memcpy(n->level, level, len);
    return n;
}

struct retain_store *retain_new(retain_release_fn release)
{
    struct retain_store *rs = calloc(1, sizeof *rs);
    if (!rs) return NULL;
    rs->root = rnode_new(NULL, "", 0);
    if (!rs->root) {
        free(rs);
        return NULL;
    }
    rs->release = release;
    return rs;
}

/*
 * Free every node without recursion or allocation: the parent links are no
 * longer needed, so they become the links of a to-do list.
 */
void retain_free(struct retain_store *rs)
{
    if (!rs) return;
    struct rnode *todo = rs->root;
    while (todo) {
        struct rnode *n = todo;
        todo = n->parent;
        for (uint32_t i = 0; i < n->kids.count; i++) {
            struct rnode *c = n->kids.entries[i].node;
            c->parent = todo;
            todo = c;
        }
        if (n->msg) rs->release(n->msg);
        levelset_free(&n->kids);
        free(n);
    }
    free(rs);
}

size_t retain_count(const struct retain_store *rs)
{
    return rs->count;
}

/* Remove empty nodes from n up to (not including) the root. */
static void prune(struct rnode *n)
{
    while (n->parent && !n->msg && n->kids.count == 0) {
        struct rnode *parent = n->parent;
        levelset_del(&parent->kids, n->level, n->level_len);
        levelset_free(&n->kids);
        free(n);
        n = parent;
    }
}

static struct rnode *child_make(struct rnode *n, const char *s, size_t len)
{
    struct rnode *c = rnode_new(n, s, len);
    if (c && levelset_add(&n->kids, c->level, len, c)) {
        free(c);
        return NULL;
    }
    return c;
}

/*
 * The node of a topic name, or NULL. When creating, a failure part way
 * removes the nodes it made.
 */
static struct rnode *find_node(const struct retain_store *rs, const char *topic, size_t len,
                               bool create)
{
    struct rnode *n = rs->root;
    const char *end = topic + len, *s = topic;
    for (;;) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        size_t llen = (size_t)((slash ? slash : end) - s);
        struct rnode *c = levelset_get(&n->kids, s, llen);
        if (!c && create) c = child_make(n, s, llen);
        if (!c) {
            if (create) prune(n);
            return NULL;
        }
        n = c;
        if (!slash) return n;
        s = slash + 1;
    }
}

int retain_set(struct retain_store *rs, const char *topic, size_t len, void *msg)
{
    struct rnode *n = find_node(rs, topic, len, msg != NULL);
    if (!n) return msg ? UMBRA_ENOMEM : 0;
    if (n->msg) {
        rs->release(n->msg);
        rs->count--;
    }
    n->msg = msg;
    if (msg)
        rs->count++;
    else
        prune(n);
    return 0;
}

void *retain_get(const struct retain_store *rs, const char *topic, size_t len)
{
    struct rnode *n = find_node(rs, topic, len, false);
    return n ? n->msg : NULL;
}

/* ---- walking ---- */

static void push(struct walk *w, struct rnode *n, const char *filter)
{
    if (w->depth == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 32;
        struct rframe *st = realloc(w->stack, ncap * sizeof *st);
        if (!st) {
            w->failed = true;
            return;
        }
        w->stack = st;
        w->cap = ncap;
    }
    w->stack[w->depth++] = (struct rframe){n, filter};
}

/* Report n's message with its topic, rebuilt from the parent links: only
 * matches pay for it, and subscribing is not the hot path. */
static void emit(struct walk *w, const struct rnode *n, retain_match_fn fn, void *ctx)
{
    if (!n->msg || w->failed) return;
    size_t len = 0;
    for (const struct rnode *p = n; p->parent; p = p->parent)
        len += p->level_len + 1;
    len--; /* no '/' before the first level */
    if (len + 1 > w->path_cap) {
        char *np = realloc(w->path, len + 1);
        if (!np) {
            w->failed = true;
            return;
        }
        w->path = np;
        w->path_cap = len + 1;
    }
    size_t at = len;
    for (const struct rnode *p = n; p->parent; p = p->parent) {
        at -= p->level_len;
        memcpy(w->path + at, p->level, p->level_len);
        if (at) w->path[--at] = '/';
    }
    w->path[len] = '\0';
    fn(ctx, w->path, len, n->msg);
}

static bool is_system_top(const struct rnode *c)
{
    return c->parent && !c->parent->parent && c->level_len > 0 && c->level[0] == '$';
}

/* Every message strictly below n ('#' semantics; no top-level '$'). */
static void walk_subtree(struct walk *w, struct rnode *n, retain_match_fn fn, void *ctx)
{
    size_t base = w->depth;
    for (uint32_t i = 0; i < n->kids.count; i++)
        if (!is_system_top(n->kids.entries[i].node)) push(w, n->kids.entries[i].node, NULL);
    while (w->depth > base && !w->failed) {
        struct rnode *c = w->stack[--w->depth].node;
        emit(w, c, fn, ctx);
        for (uint32_t i = 0; i < c->kids.count; i++)
            push(w, c->kids.entries[i].node, NULL);
    }
}

void retain_match(const struct retain_store *rs, const char *filter, size_t len,
                  bool hash_matches_parent, retain_match_fn fn, void *ctx)
{
    struct walk w = {0};
    const char *end = filter + len;
    push(&w, rs->root, filter);
    while (w.depth && !w.failed) {
        struct rframe f = w.stack[--w.depth];
        const char *slash = memchr(f.filter, '/', (size_t)(end - f.filter));
        size_t llen = (size_t)((slash ? slash : end) - f.filter);
        if (llen == 1 && f.filter[0] == '#') {
            /* "a/#" matches "a" itself under the MQTT rule. */
            if (hash_matches_parent && f.node != rs->root) emit(&w, f.node, fn, ctx);
            walk_subtree(&w, f.node, fn, ctx);
            continue;
        }
        bool is_plus = llen == 1 && f.filter[0] == '+';
        struct rnode *only = is_plus ? NULL : levelset_get(&f.node->kids, f.filter, llen);
        uint32_t n = is_plus ? f.node->kids.count : (only ? 1 : 0);
        for (uint32_t i = 0; i < n; i++) {
            struct rnode *c = is_plus ? f.node->kids.entries[i].node : only;
            if (is_plus && is_system_top(c)) continue;
            if (slash)
                push(&w, c, slash + 1);
            else
                emit(&w, c, fn, ctx);
        }
    }
    free(w.stack);
    free(w.path);
}

void retain_foreach(const struct retain_store *rs, retain_match_fn fn, void *ctx)
{
    struct walk w = {0};
    push(&w, rs->root, NULL);
    while (w.depth && !w.failed) {
        struct rnode *c = w.stack[--w.depth].node;
        emit(&w, c, fn, ctx);
        for (uint32_t i = 0; i < c->kids.count; i++)
            push(&w, c->kids.entries[i].node, NULL);
    }
    free(w.stack);
    free(w.path);
}
