/*
 * names.c - AWS IoT's patterns and length limits for registry names and
 * values, and AWS's validation-error sentence. Pure: no I/O, no allocation.
 */
#include "names.h"

#include "error.h"

#include <limits.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define MSG_NULL "Member must not be null"
#define MSG_MIN1 "Member must have length greater than or equal to 1"
#define MSG_MAX(n) "Member must have length less than or equal to " STR(n)
#define MSG_PATTERN(p) "Member must satisfy regular expression pattern: " p

/* One field's rules. punct lists the allowed bytes besides ASCII letters and
 * digits; printable instead allows every byte in 0x20..0x7e. plus is 1 when the
 * pattern ends in '+' (needs one byte) and 0 when it ends in '*'. */
struct spec {
    const char *punct;
    int printable;
    int plus;
    size_t min, max;
    const char *pattern_msg;
    const char *max_msg;
};

static const struct spec thing_spec = {
    .punct = ":_-",
    .plus = 1,
    .min = 1,
    .max = NAMES_THING_MAX,
    .pattern_msg = MSG_PATTERN("[a-zA-Z0-9:_-]+"),
    .max_msg = MSG_MAX(NAMES_THING_MAX),
};

static const struct spec thing_type_spec = {
    .punct = ":_-",
    .plus = 1,
    .min = 1,
    .max = NAMES_THING_TYPE_MAX,
    .pattern_msg = MSG_PATTERN("[a-zA-Z0-9:_-]+"),
    .max_msg = MSG_MAX(NAMES_THING_TYPE_MAX),
};

/* The model gives AttributeName no minimum; the '+' in the pattern is what
 * rejects an empty name. */
static const struct spec attr_name_spec = {
    .punct = "_.,@/:#-",
    .plus = 1,
    .min = 0,
    .max = NAMES_ATTRIBUTE_NAME_MAX,
    .pattern_msg = MSG_PATTERN("[a-zA-Z0-9_.,@/:#-]+"),
    .max_msg = MSG_MAX(NAMES_ATTRIBUTE_NAME_MAX),
};

/* The current model added '=', '[' and ']' to the value pattern. */
static const struct spec attr_value_spec = {
    .punct = "_.,@/:#=[]-",
    .plus = 0,
    .min = 0,
    .max = NAMES_ATTRIBUTE_VALUE_MAX,
    .pattern_msg = MSG_PATTERN("[a-zA-Z0-9_.,@/:#=\\[\\]-]*"),
    .max_msg = MSG_MAX(NAMES_ATTRIBUTE_VALUE_MAX),
};

static const struct spec policy_spec = {
    .punct = "_+=,.@-",
    .plus = 1,
    .min = 1,
    .max = NAMES_POLICY_MAX,
    .pattern_msg = MSG_PATTERN("[\\w+=,.@-]+"),
    .max_msg = MSG_MAX(NAMES_POLICY_MAX),
};

static const struct spec shadow_spec = {
    .punct = "$:_-",
    .plus = 1,
    .min = 1,
    .max = NAMES_SHADOW_MAX,
    .pattern_msg = MSG_PATTERN("[$a-zA-Z0-9:_-]+"),
    .max_msg = MSG_MAX(NAMES_SHADOW_MAX),
};

static const struct spec client_token_spec = {
    .punct = "",
    .printable = 1,
    .plus = 1,
    .min = 1,
    .max = NAMES_CLIENT_TOKEN_MAX,
    .pattern_msg = "Member must contain only printable ASCII characters",
    .max_msg = MSG_MAX(NAMES_CLIENT_TOKEN_MAX),
};

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int allowed(const struct spec *sp, unsigned char c)
{
    if (sp->printable) return c >= 0x20 && c <= 0x7e;
    if (is_alnum(c)) return 1;
    /* Search strlen(punct) bytes, never the terminator, so a NUL byte is never allowed. */
    return memchr(sp->punct, c, strlen(sp->punct)) != NULL;
}

static int fail(const char **why, const char *msg)
{
    if (why) *why = msg;
    return UMBRA_EINVAL;
}

static int check(const struct spec *sp, const char *s, size_t len, const char **why)
{
    if (!s) return fail(why, MSG_NULL);
    if (len == 0) {
        if (sp->min > 0) return fail(why, MSG_MIN1);
        return sp->plus ? fail(why, sp->pattern_msg) : 0;
    }
    for (size_t i = 0; i < len; i++)
        if (!allowed(sp, (unsigned char)s[i])) return fail(why, sp->pattern_msg);
    if (len > sp->max) return fail(why, sp->max_msg);
    return 0;
}

int names_check_thing(const char *s, size_t len, const char **why)
{
    return check(&thing_spec, s, len, why);
}

int names_check_thing_type(const char *s, size_t len, const char **why)
{
    return check(&thing_type_spec, s, len, why);
}

int names_check_attribute_name(const char *s, size_t len, const char **why)
{
    return check(&attr_name_spec, s, len, why);
}

int names_check_attribute_value(const char *s, size_t len, const char **why)
{
    return check(&attr_value_spec, s, len, why);
}

int names_check_policy(const char *s, size_t len, const char **why)
{
    return check(&policy_spec, s, len, why);
}

int names_check_shadow(const char *s, size_t len, const char **why)
{
    return check(&shadow_spec, s, len, why);
}

int names_check_client_token(const char *s, size_t len, const char **why)
{
    return check(&client_token_spec, s, len, why);
}

/* A bounded writer: copies what fits (keeping room for the NUL) and counts all. */
struct writer {
    char *out;
    size_t cap;
    size_t pos;               /* bytes stored in out */
    unsigned long long total; /* bytes the whole sentence needs */
};

static void put(struct writer *w, const char *p, size_t n)
{
    w->total += n;
    if (w->cap == 0) return;
    size_t room = w->cap - 1 - w->pos;
    if (n > room) n = room;
    memcpy(w->out + w->pos, p, n);
    w->pos += n;
}

static void put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_escaped(struct writer *w, const char *v, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\\') {
            put(w, "\\\\", 2);
        } else if (c >= 0x20 && c <= 0x7e) {
            put(w, (const char *)&v[i], 1);
        } else {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
            put(w, esc, sizeof esc);
        }
    }
}

int names_format_error(char *out, size_t cap, const char *field, const char *value, size_t len,
                       const char *why)
{
    if (cap > 0 && !out) return UMBRA_EINVAL;
    if (cap > 0) out[0] = '\0';
    if (!field || !why || (!value && len > 0) || len > (size_t)INT_MAX) return UMBRA_EINVAL;

    struct writer w = {out, cap, 0, 0};
    put_str(&w, "1 validation error detected: Value '");
    put_escaped(&w, value, len);
    put_str(&w, "' at '");
    put_str(&w, field);
    put_str(&w, "' failed to satisfy constraint: ");
    put_str(&w, why);
    if (cap > 0) out[w.pos] = '\0';
    if (w.total > (unsigned long long)INT_MAX) {
        if (cap > 0) out[0] = '\0';
        return UMBRA_EINVAL;
    }
    return (int)w.total;
}
