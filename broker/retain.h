/*
 * retain.h - retained messages, one per topic, found by topic filter.
 *
 * A topic tree (one node per level) whose nodes may hold a retained message.
 * Messages are opaque pointers owned by the store: it holds one reference
 * and gives it back through the `release` callback when the message is
 * replaced, cleared or the store is freed.
 *
 * Loop thread only; no I/O.
 */
#ifndef UMBRA_RETAIN_H
#define UMBRA_RETAIN_H

#include <stdbool.h>
#include <stddef.h>

struct retain_store;

typedef void (*retain_release_fn)(void *msg);
typedef void (*retain_match_fn)(void *ctx, const char *topic, size_t len, void *msg);

/* Caller frees with retain_free(). */
struct retain_store *retain_new(retain_release_fn release);
void retain_free(struct retain_store *rs);

/*
 * Store msg as the retained message of a valid topic name, taking over the
 * caller's reference and releasing the previous one. msg NULL clears the
 * topic (a no-op if none). Returns 0 or UMBRA_ENOMEM.
 */
int retain_set(struct retain_store *rs, const char *topic, size_t len, void *msg);
/* Borrowed message or NULL. */
void *retain_get(const struct retain_store *rs, const char *topic, size_t len);

/*
 * Call fn for every retained message whose topic matches a valid filter
 * (no $share prefix), following the trie's rules ('$' topics and leading
 * wildcards; hash_matches_parent as in mqtt_topic_matches()). `topic` passed
 * to fn is borrowed for the call only.
 */
void retain_match(const struct retain_store *rs, const char *filter, size_t len,
                  bool hash_matches_parent, retain_match_fn fn, void *ctx);

/* Every retained message, in no particular order. */
void retain_foreach(const struct retain_store *rs, retain_match_fn fn, void *ctx);
size_t retain_count(const struct retain_store *rs);

#endif
