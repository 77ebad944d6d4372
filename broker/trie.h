/*
 * trie.h - the subscription trie: topic filters -> subscribers.
 *
 * One node per topic level; each node holds the plain subscribers of the
 * filter that ends there and the $share groups of that filter. Matching a
 * topic visits every node that can match ('+', '#', exact levels) and calls
 * back once per (subscriber, filter) match; merging overlapping
 * subscriptions of one subscriber is the caller's job (the router knows the
 * subscriber's QoS rules). Subscribers are opaque pointers.
 *
 * Rules: topics starting with '$' are not matched by filters starting with a
 * wildcard (MQTT-4.7.2-1). "a/#" also matches "a"; such matches carry
 * TRIE_MATCH_PARENT so a caller applying AWS rules can drop them.
 * For a $share group one member is chosen per matching message, round-robin,
 * skipping members the `online` callback reports offline; when none is
 * online the next member in turn is chosen anyway (its session may queue).
 *
 * Loop thread only; no I/O.
 */
#ifndef UMBRA_TRIE_H
#define UMBRA_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRIE_MATCH_SHARED 0x1 /* chosen from a $share group */
#define TRIE_MATCH_PARENT 0x2 /* matched through "x/#" matching "x" */

struct trie;

typedef bool (*trie_online_fn)(void *subscriber);
typedef void (*trie_match_fn)(void *ctx, void *subscriber, uint8_t qos, unsigned flags);

/* Caller frees with trie_free(). online may be NULL (all online). */
struct trie *trie_new(trie_online_fn online);
void trie_free(struct trie *t);

/*
 * Subscribe `subscriber` to a valid filter (mqtt_topic_filter_valid), which
 * may be "$share/GROUP/FILTER". Subscribing again to the same filter
 * replaces the QoS and sets *replaced (may be NULL).
 * Returns 0 or UMBRA_ENOMEM.
 */
int trie_subscribe(struct trie *t, const char *filter, size_t len, void *subscriber, uint8_t qos,
                   bool *replaced);
/* Returns 0, or UMBRA_ENOTFOUND if the subscriber did not have that filter. */
int trie_unsubscribe(struct trie *t, const char *filter, size_t len, void *subscriber);

/* Call fn for every subscription matching the topic name. */
void trie_match(struct trie *t, const char *topic, size_t len, trie_match_fn fn, void *ctx);

/* Number of subscriptions held (plain and shared). */
size_t trie_count(const struct trie *t);

#endif
