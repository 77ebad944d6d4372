/*
 * mqtt_topic.h - MQTT topic names and filters: UTF-8 rules, syntax, limits.
 *
 * Pure functions over (pointer, length) pairs; no allocation, no I/O.
 */
#ifndef UMBRA_MQTT_TOPIC_H
#define UMBRA_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/*
 * MQTT string rule (1.5.3): well-formed UTF-8 (no overlongs, no surrogates
 * U+D800..U+DFFF, nothing above U+10FFFF) and no U+0000.
 */
bool mqtt_utf8_valid(const char *s, size_t len);

/* A PUBLISH topic name: valid UTF-8, at least one byte, no '+' or '#'. */
bool mqtt_topic_name_valid(const char *s, size_t len);

/*
 * A SUBSCRIBE topic filter: valid UTF-8, at least one byte, '+' alone in its
 * level, '#' alone in the last level. "$share/GROUP/FILTER" requires a
 * non-empty GROUP without '/', '+' or '#' and a valid non-empty FILTER.
 */
bool mqtt_topic_filter_valid(const char *s, size_t len);

/*
 * Split "$share/GROUP/FILTER". Returns true and the two parts when s is a
 * shared subscription (syntax already checked), false otherwise.
 */
bool mqtt_topic_split_shared(const char *s, size_t len, const char **group, size_t *group_len,
                             const char **filter, size_t *filter_len);

/*
 * Limits a listener profile puts on names and filters (AWS: 256 bytes and 7
 * slashes; 0 means unlimited). The "$share/GROUP/" and "$aws/rules/NAME/"
 * prefixes do not count, as AWS documents.
 */
struct mqtt_topic_limits {
    size_t max_bytes;
    size_t max_slashes;
};
bool mqtt_topic_within_limits(const char *s, size_t len, const struct mqtt_topic_limits *lim);

/* True if the topic or filter starts with '$' (not matched by leading wildcards). */
static inline bool mqtt_topic_is_system(const char *s, size_t len)
{
    return len > 0 && s[0] == '$';
}

/*
 * Does topic name `topic` match filter `filter`? Used where a single
 * comparison is needed (retained lookups, policy checks); bulk matching goes
 * through the trie. hash_matches_parent selects MQTT's rule that "a/#"
 * matches "a" (true) or AWS's (false).
 */
bool mqtt_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen,
                        bool hash_matches_parent);

#endif
