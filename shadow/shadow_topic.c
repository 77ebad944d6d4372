/*
 * shadow_topic.c - recognise shadow request topics, with AWS's name rules
 * (thing [a-zA-Z0-9:_-]{1,128}, shadow [$a-zA-Z0-9:_-]{1,64}).
 */
#include "shadow_topic.h"

#include <string.h>

#define PREFIX "$aws/things/"
#define PREFIX_LEN (sizeof PREFIX - 1)

static bool name_char(char c, bool allow_dollar)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '_' || c == '-' || (allow_dollar && c == '$');
}

/* Length of the level starting at p (up to '/' or end), if every byte is a
 * name character and it is 1..max long; 0 otherwise. */
static size_t name_level(const char *p, const char *end, size_t max, bool allow_dollar)
{
    size_t n = 0;
    while (p + n < end && p[n] != '/') {
        if (!name_char(p[n], allow_dollar)) return 0;
        n++;
    }
    return n <= max ? n : 0;
}

static bool level_is(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 && (p + n == end || p[n] == '/');
}

bool shadow_topic_parse(const char *topic, size_t len, struct shadow_topic *out)
{
    const char *end = topic + len;
    if (len < PREFIX_LEN || memcmp(topic, PREFIX, PREFIX_LEN) != 0) return false;
    const char *p = topic + PREFIX_LEN;
    size_t tl = name_level(p, end, 128, false);
    if (!tl || p + tl == end) return false;
    memset(out, 0, sizeof *out);
    out->thing = p;
    out->thing_len = tl;
    p += tl + 1;
    if (!level_is(p, end, "shadow")) return false;
    p += 6;
    if (p == end) return false;
    p++;
    if (level_is(p, end, "name")) {
        p += 5;
        if (p >= end) return false;
        size_t nl = name_level(p, end, 64, true);
        if (!nl || p + nl == end) return false;
        out->name = p;
        out->name_len = nl;
        p += nl + 1;
    }
    out->prefix_len = (size_t)(p - 1 - topic);
    static const struct {
        const char *word;
        enum shadow_op op;
    } ops[] = {{"update", SHADOW_UPDATE}, {"get", SHADOW_GET}, {"delete", SHADOW_DELETE}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].word);
        if ((size_t)(end - p) == n && memcmp(p, ops[i].word, n) == 0) {
            out->op = ops[i].op;
            return true;
        }
    }
    return false;
}

const char *shadow_op_name(enum shadow_op op)
{
    return op == SHADOW_UPDATE ? "update" : op == SHADOW_GET ? "get" : "delete";
}
