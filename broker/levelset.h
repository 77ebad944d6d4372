/*
 * levelset.h - the children of a topic-tree node, found by level string.
 *
 * Shared by the subscription trie and the retained store. Most nodes have
 * a handful of children, which a linear scan over a small array finds
 * fastest; past LEVELSET_INDEX_AT children a hash index is added so wide
 * nodes ("devices/+" with 100,000 device ids below) stay O(1).
 * Level strings are borrowed from the child nodes, which own them.
 */
#ifndef UMBRA_LEVELSET_H
#define UMBRA_LEVELSET_H

#include <stddef.h>
#include <stdint.h>

#define LEVELSET_INDEX_AT 8

struct strmap;

struct levelset_entry {
    const char *level;
    uint32_t len;
    void *node;
};

struct levelset {
    struct levelset_entry *entries;
    struct strmap *index; /* level -> entry position + 1, when large */
    uint32_t count, cap;
};

/* Borrowed child or NULL. */
void *levelset_get(const struct levelset *ls, const char *level, size_t len);
/* Add a child not present yet. Returns 0 or UMBRA_ENOMEM. */
int levelset_add(struct levelset *ls, const char *level, size_t len, void *node);
/* Remove a child; a no-op if absent. */
void levelset_del(struct levelset *ls, const char *level, size_t len);
/* Free the set's memory (not the children). */
void levelset_free(struct levelset *ls);

#endif
