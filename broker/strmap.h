/*
 * strmap.h - hash map from byte strings to pointers.
 *
 * Open addressing with linear probing; keys are copied in, values are
 * borrowed (the map never frees them). Used for trie children, the session
 * table and retained topics. Not thread-safe: one owner.
 */
#ifndef UMBRA_STRMAP_H
#define UMBRA_STRMAP_H

#include <stddef.h>

struct strmap;

/* Caller frees with strmap_free(). NULL on allocation failure. */
struct strmap *strmap_new(void);
/* Frees the map and its key copies, not the values. */
void strmap_free(struct strmap *m);

/*
 * Insert or replace. The previous value, if any, goes to *old (may be NULL
 * when the caller does not care). Returns 0 or UMBRA_ENOMEM.
 */
int strmap_put(struct strmap *m, const char *key, size_t len, void *val, void **old);
/*
 * Insert or replace without copying the key: it must stay valid and
 * unchanged while the entry exists (e.g. a session's own client id). Saves
 * an allocation per entry in the big tables.
 */
int strmap_put_borrowed(struct strmap *m, const char *key, size_t len, void *val, void **old);
/* Borrowed value or NULL. */
void *strmap_get(const struct strmap *m, const char *key, size_t len);
/* Remove and return the value, or NULL if absent. */
void *strmap_del(struct strmap *m, const char *key, size_t len);
size_t strmap_count(const struct strmap *m);

/* Iteration; the map must not change while iterating. */
struct strmap_iter {
    const struct strmap *m;
    size_t idx;
};
void strmap_iter_init(struct strmap_iter *it, const struct strmap *m);
/* Returns 1 with the next entry (key borrowed), 0 at the end. */
int strmap_next(struct strmap_iter *it, const char **key, size_t *len, void **val);

#endif
