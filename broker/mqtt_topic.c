/*
 * mqtt_topic.c - MQTT topic names and filters: UTF-8 rules, syntax, limits,
 * matching.
 *
 * Everything here runs on the PUBLISH hot path (every topic name of every
 * message is validated, retained lookups and policy checks match filters), so
 * the functions take (pointer, length) pairs, never allocate, and validate in
 * a single pass. The scanner checks eight bytes at a time while the text is
 * plain ASCII, which topics nearly always are, and only decodes UTF-8
 * sequences byte by byte when a high bit shows up.
 */
#include "mqtt_topic.h"

#include <stdint.h>
#include <string.h>

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof(SHARE_PREFIX) - 1)
#define RULES_PREFIX "$aws/rules/"
#define RULES_PREFIX_LEN (sizeof(RULES_PREFIX) - 1)

/* ---- SWAR helpers: test eight bytes at once ---------------------------- */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/*
 * Non-zero iff some byte of v is 0. The classic bit trick: as a whole value
 * it is exact (only bits above a real zero byte can be spurious).
 */
static inline uint64_t swar_has_zero(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

static inline uint64_t swar_has_byte(uint64_t v, uint8_t b)
{
    return swar_has_zero(v ^ (ONES * b));
}

/* ---- UTF-8 ------------------------------------------------------------- */

/*
 * Length of the well-formed multi-byte sequence at p (p[0] >= 0x80, n bytes
 * available), or 0 if it is not one. The ranges are Unicode's table 3-7 of
 * well-formed sequences, which excludes overlongs (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF
 * (F4 90.., F5..FF) by construction.
 */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80, hi = 0xBF;

    if (c < 0xC2) return 0; /* stray continuation byte or overlong lead */
    if (c < 0xE0) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3) return 0;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4) return 0;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

/* What scan() checks on top of the MQTT string rule. */
enum scan_mode {
    SCAN_STRING, /* UTF-8 and no U+0000 only */
    SCAN_NAME,   /* ... and no wildcard at all */
    SCAN_FILTER, /* ... and wildcards only where a filter allows them */
};

/*
 * One pass over s checking the MQTT string rule and, depending on mode, the
 * wildcard rules. Inlined with a constant mode, so each caller gets its own
 * tight loop.
 */
static inline bool scan(const uint8_t *s, size_t len, enum scan_mode mode)
{
    size_t i = 0;

    while (i < len) {
        /* Fast path: skip eight plain bytes (ASCII, not NUL, not a wildcard). */
        if (len - i >= 8) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            uint64_t special = (v & HIGHS) | swar_has_zero(v);
            if (mode != SCAN_STRING) special |= swar_has_byte(v, '+') | swar_has_byte(v, '#');
            if (!special) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0) return false;
            i += n;
            continue;
        }
        if (c == 0) return false;
        if (mode != SCAN_STRING && (c == '+' || c == '#')) {
            if (mode == SCAN_NAME) return false;
            /* Both wildcards take a whole level; '#' must also be the last. */
            if (i > 0 && s[i - 1] != '/') return false;
            if (c == '#' && i + 1 != len) return false;
            if (c == '+' && i + 1 != len && s[i + 1] != '/') return false;
        }
        i++;
    }
    return true;
}

bool mqtt_utf8_valid(const char *s, size_t len)
{
    return scan((const uint8_t *)s, len, SCAN_STRING);
}

/* ---- Names and filters ------------------------------------------------- */

bool mqtt_topic_name_valid(const char *s, size_t len)
{
    return len > 0 && scan((const uint8_t *)s, len, SCAN_NAME);
}

static bool has_share_prefix(const char *s, size_t len)
{
    return len >= SHARE_PREFIX_LEN && memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

bool mqtt_topic_filter_valid(const char *s, size_t len)
{
    if (len == 0) return false;
    if (!has_share_prefix(s, len)) return scan((const uint8_t *)s, len, SCAN_FILTER);

    /*
     * "$share/GROUP/FILTER": GROUP is one non-empty level without wildcards,
     * FILTER a non-empty plain filter. The inner filter is not itself
     * checked for a $share prefix: it is matched literally.
     */
    const char *group = s + SHARE_PREFIX_LEN;
    size_t rest = len - SHARE_PREFIX_LEN;
    const char *slash = memchr(group, '/', rest);
    if (slash == NULL || slash == group) return false;
    size_t group_len = (size_t)(slash - group);
    const char *filter = slash + 1;
    size_t filter_len = rest - group_len - 1;
    return filter_len > 0 && scan((const uint8_t *)group, group_len, SCAN_NAME) &&
           scan((const uint8_t *)filter, filter_len, SCAN_FILTER);
}

bool mqtt_topic_split_shared(const char *s, size_t len, const char **group, size_t *group_len,
                             const char **filter, size_t *filter_len)
{
    if (!has_share_prefix(s, len)) return false;
    const char *g = s + SHARE_PREFIX_LEN;
    size_t rest = len - SHARE_PREFIX_LEN;
    const char *slash = memchr(g, '/', rest);
    if (slash == NULL) return false;
    *group = g;
    *group_len = (size_t)(slash - g);
    *filter = slash + 1;
    *filter_len = rest - *group_len - 1;
    return true;
}

/* ---- Limits ------------------------------------------------------------ */

bool mqtt_topic_within_limits(const char *s, size_t len, const struct mqtt_topic_limits *lim)
{
    const char *group, *inner;
    size_t group_len, inner_len;

    if (lim == NULL) return true;

    /* AWS leaves the "$share/GROUP/" and "$aws/rules/NAME/" prefixes out. */
    if (mqtt_topic_split_shared(s, len, &group, &group_len, &inner, &inner_len)) {
        s = inner;
        len = inner_len;
    }
    if (len > RULES_PREFIX_LEN && memcmp(s, RULES_PREFIX, RULES_PREFIX_LEN) == 0) {
        const char *name = s + RULES_PREFIX_LEN;
        const char *slash = memchr(name, '/', len - RULES_PREFIX_LEN);
        if (slash != NULL && slash != name) {
            len -= (size_t)(slash + 1 - s);
            s = slash + 1;
        }
    }

    if (lim->max_bytes != 0 && len > lim->max_bytes) return false;
    if (lim->max_slashes != 0) {
        size_t slashes = 0;
        const char *p = s, *end = s + len;
        while (p < end && (p = memchr(p, '/', (size_t)(end - p))) != NULL) {
            if (++slashes > lim->max_slashes) return false;
            p++;
        }
    }
    return true;
}

/* ---- Matching ---------------------------------------------------------- */

/* End of the level starting at s[i]: the next '/' or len. */
static inline size_t level_end(const char *s, size_t len, size_t i)
{
    if (i >= len) return len; /* also keeps a NULL s away from memchr */
    const char *slash = memchr(s + i, '/', len - i);
    return slash ? (size_t)(slash - s) : len;
}

bool mqtt_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen,
                        bool hash_matches_parent)
{
    /* MQTT-4.7.2-1: "$..." topics are not matched by a leading wildcard. */
    if (tlen > 0 && topic[0] == '$' && flen > 0 && (filter[0] == '+' || filter[0] == '#'))
        return false;

    /*
     * Walk level by level. A name or filter of n slashes has n + 1 levels,
     * some possibly empty ("a//b", "/a", "a/"); t_more says whether the topic
     * still has a level at t. The filter always has one at f inside the loop.
     */
    size_t f = 0, t = 0;
    bool t_more = true;
    for (;;) {
        size_t fe = level_end(filter, flen, f);
        bool is_hash = fe - f == 1 && filter[f] == '#';
        bool is_plus = fe - f == 1 && filter[f] == '+';

        /* Topic used up, filter not: only "parent/#" can still match. */
        if (!t_more) return is_hash && hash_matches_parent;
        if (is_hash) return true;

        size_t te = level_end(topic, tlen, t);
        if (!is_plus &&
            (fe - f != te - t || (fe > f && memcmp(filter + f, topic + t, fe - f) != 0)))
            return false;

        bool t_next = te < tlen;
        if (fe >= flen) return !t_next; /* filter done: topic must be too */
        f = fe + 1;
        t = te + 1;
        t_more = t_next;
    }
}
