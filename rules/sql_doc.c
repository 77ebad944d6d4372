/*
 * sql_doc.c - a validating JSON scan that allocates nothing, indexing an
 * object payload's top-level members, and the parsing of one member when
 * a rule reads it. The scan follows jansson's json_loadb(JSON_DECODE_ANY)
 * rule for rule, so "is it JSON" and "what is this field" give the answers
 * the whole tree would.
 */
#include "sql_doc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: every value counts one level */

struct scan {
    const uint8_t *p, *end;
    int depth;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* \uXXXX at p (after the backslash and 'u'); -1 when not four hex digits. */
static long read_u4(const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* One UTF-8 sequence starting at p (not ASCII): its length, or 0 when jansson
 * refuses it (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t u = *p;
    size_t n = u >= 0xC2 && u <= 0xDF   ? 2
               : u >= 0xE0 && u <= 0xEF ? 3
               : u >= 0xF0 && u <= 0xF4 ? 4
                                        : 0;
    if (!n || (size_t)(end - p) < n) return 0;
    uint32_t v = u & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (n == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) return 0;
    if (n == 4 && (v < 0x10000 || v > 0x10FFFF)) return 0;
    return n;
}

/* A string at s->p (the opening quote). *escaped says whether it held a backslash. */
static bool scan_string(struct scan *s, bool *escaped)
{
    const uint8_t *p = s->p + 1, *end = s->end;
    *escaped = false;
    while (p < end) {
        uint8_t c = *p;
        if (c == '"') {
            s->p = p + 1;
            return true;
        }
        if (c < 0x20) return false;
        if (c < 0x80 && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = utf8_len(p, end);
            if (!n) return false;
            p += n;
            continue;
        }
        *escaped = true;
        if (++p >= end) return false;
        c = *p++;
        if (c != 'u') {
            if (!strchr("\"\\/bfnrt", c) || c == '\0') return false;
            continue;
        }
        long v = read_u4(p, end);
        if (v < 0) return false;
        p += 4;
        if (v == 0 || (v >= 0xDC00 && v <= 0xDFFF)) return false; /* NUL, or an unpaired low */
        if (v >= 0xD800 && v <= 0xDBFF) {
            /* A high surrogate needs its low one right after. */
            if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return false;
            long lo = read_u4(p + 2, end);
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            p += 6;
        }
    }
    return false;
}

static bool is_digit(const uint8_t *p, const uint8_t *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number, with jansson's range checks: an integer must fit json_int_t, a
 * real must not overflow. */
static bool scan_number(struct scan *s)
{
    const uint8_t *start = s->p, *p = s->p, *end = s->end;
    if (*p == '-') p++;
    if (p < end && *p == '0') {
        p++;
        if (is_digit(p, end)) return false;
    } else if (is_digit(p, end)) {
        while (is_digit(p, end))
            p++;
    } else {
        return false;
    }
    bool is_real = p < end && (*p == '.' || *p == 'e' || *p == 'E');
    if (p < end && *p == '.') {
        if (!is_digit(++p, end)) return false;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(p, end)) return false;
        while (is_digit(p, end))
            p++;
    }
    s->p = p;
    size_t n = (size_t)(p - start);
    /* Short numbers are always in range: only long ones need converting.
     * A real overflows only with an exponent or hundreds of digits. */
    if (!is_real && n <= 18) return true;
    if (is_real && n < 300 && !memchr(start, 'e', n) && !memchr(start, 'E', n)) return true;
    char buf[64], *text = n < sizeof buf ? buf : malloc(n + 1);
    if (!text) return false;
    memcpy(text, start, n);
    text[n] = '\0';
    errno = 0;
    bool ok;
    if (is_real) {
        double v = strtod(text, NULL);
        ok = !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL));
    } else {
        strtoll(text, NULL, 10);
        ok = errno != ERANGE;
    }
    if (text != buf) free(text);
    return ok;
}

static bool scan_value(struct scan *s);

static bool scan_literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return false;
    s->p += n;
    /* jansson reads a run of letters as one token: "truex" is not "true". */
    return !(s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || (*s->p >= 'A' && *s->p <= 'Z')));
}

/* After '[' or '{': the members, up to the closing bracket. Object members
 * go to d when it is given (the top level). */
static bool scan_members(struct scan *s, bool is_object, struct sql_doc *d)
{
    s->p++;
    skip_ws(s);
    uint8_t close = is_object ? '}' : ']';
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (is_object) {
            const uint8_t *key = s->p;
            bool escaped;
            if (s->p >= s->end || *s->p != '"' || !scan_string(s, &escaped)) return false;
            const uint8_t *key_end = s->p;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return false;
            s->p++;
            skip_ws(s);
            const uint8_t *value = s->p;
            if (!scan_value(s)) return false;
            if (d && (escaped || d->nmembers == SQL_DOC_MEMBERS)) {
                d->needs_tree = true;
            } else if (d) {
                struct sql_doc_member *m = &d->members[d->nmembers++];
                m->key = (const char *)key + 1;
                m->key_len = (uint32_t)(key_end - key - 2);
                m->value = (const char *)value;
                m->value_len = (uint32_t)(s->p - value);
                if (s->p[-1] == '\0') m->value_len--; /* the NUL skipped after a number */
                m->parsed = NULL;
            }
        } else if (!scan_value(s)) {
            return false;
        }
        skip_ws(s);
        if (s->p >= s->end) return false;
        if (*s->p == close) {
            s->p++;
            return true;
        }
        if (*s->p++ != ',') return false;
    }
}

static bool scan_value_at(struct scan *s, struct sql_doc *d)
{
    if (s->p >= s->end) return false;
    if (++s->depth > MAX_DEPTH) return false;
    const uint8_t *start = s->p;
    bool escaped, ok;
    switch (*s->p) {
    case '{':
        ok = scan_members(s, true, d);
        break;
    case '[':
        ok = scan_members(s, false, NULL);
        break;
    case '"':
        ok = scan_string(s, &escaped);
        break;
    case 't':
        ok = scan_literal(s, "true");
        break;
    case 'f':
        ok = scan_literal(s, "false");
        break;
    case 'n':
        ok = scan_literal(s, "null");
        break;
    default:
        ok = (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && scan_number(s);
    }
    /* jansson's lexer ends a number or a literal by reading one byte too far
     * and putting it back; a NUL put back is lost, so one NUL right after
     * such a token is skipped. (Anywhere else a NUL ends the input.) */
    bool is_token = *start != '{' && *start != '[' && *start != '"';
    if (ok && is_token && s->p < s->end && *s->p == '\0') s->p++;
    s->depth--;
    return ok;
}

static bool scan_value(struct scan *s)
{
    return scan_value_at(s, NULL);
}

static void scan(struct sql_doc *d)
{
    struct scan s = {d->payload, d->payload + d->len, 0};
    skip_ws(&s);
    bool is_object = s.p < s.end && *s.p == '{';
    bool ok = scan_value_at(&s, is_object ? d : NULL);
    skip_ws(&s);
    ok = ok && s.p == s.end;
    d->kind = !ok ? SQL_DOC_NOT_JSON : is_object ? SQL_DOC_OBJECT : SQL_DOC_OTHER_JSON;
    if (!ok) d->nmembers = 0;
}

void sql_doc_init(struct sql_doc *d, const uint8_t *payload, size_t len)
{
    d->payload = payload;
    d->len = len;
    d->kind = SQL_DOC_UNSCANNED;
    d->needs_tree = d->has_tree = false;
    d->tree = NULL;
    d->nmembers = 0;
}

void sql_doc_release(struct sql_doc *d)
{
    for (size_t i = 0; i < d->nmembers; i++)
        json_decref(d->members[i].parsed);
    d->nmembers = 0;
    json_decref(d->tree);
    d->tree = NULL;
}

bool sql_doc_is_json(struct sql_doc *d)
{
    if (d->kind == SQL_DOC_UNSCANNED) scan(d);
    return d->kind != SQL_DOC_NOT_JSON;
}

const json_t *sql_doc_tree(struct sql_doc *d)
{
    if (!d->has_tree) {
        d->has_tree = true;
        d->tree = sql_doc_is_json(d)
                      ? json_loadb((const char *)d->payload, d->len, JSON_DECODE_ANY, NULL)
                      : NULL;
    }
    return d->tree;
}

/* A scanned value on its own. Strings without escapes, numbers and literals
 * are made directly; anything else goes through jansson. */
/*
 * A number the scan already checked. Integers and short decimals (at most
 * 15 digits, no exponent: the usual sensor reading) are converted here: a
 * mantissa below 2^53 divided by an exact power of ten is one correctly
 * rounded operation, so the double is strtod's. Anything else goes to
 * strtod/strtoll.
 */
static json_t *parse_number(const char *v, size_t n)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    bool is_negative = v[0] == '-';
    uint64_t mantissa = 0;
    int digits = 0, decimals = -1;
    for (size_t i = is_negative; i < n; i++) {
        if (v[i] == '.' && decimals < 0) {
            decimals = 0;
        } else if (v[i] >= '0' && v[i] <= '9' && digits < 15) {
            mantissa = mantissa * 10 + (uint64_t)(v[i] - '0');
            digits++;
            if (decimals >= 0) decimals++;
        } else {
            digits = -1; /* an exponent, or too many digits */
            break;
        }
    }
    if (digits > 0 && decimals < 0) {
        json_int_t i = (json_int_t)mantissa;
        return json_integer(is_negative ? -i : i);
    }
    if (digits > 0 && decimals > 0) {
        double d = (double)mantissa / pow10[decimals];
        return json_real(is_negative ? -d : d);
    }
    char buf[400];
    if (n >= sizeof buf) return json_loadb(v, n, JSON_DECODE_ANY, NULL);
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (!strpbrk(buf, ".eE")) return json_integer((json_int_t)strtoll(buf, NULL, 10));
    return json_real(strtod(buf, NULL));
}

static json_t *parse_value(const struct sql_doc_member *m)
{
    const char *v = m->value;
    size_t n = m->value_len;
    if (v[0] == '"' && !memchr(v, '\\', n)) return json_stringn_nocheck(v + 1, n - 2);
    if (v[0] == 't') return json_true();
    if (v[0] == 'f') return json_false();
    if (v[0] == 'n') return json_null();
    if (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) return parse_number(v, n);
    return json_loadb(v, n, JSON_DECODE_ANY, NULL);
}

const json_t *sql_doc_member(struct sql_doc *d, const char *name)
{
    if (!sql_doc_is_json(d) || d->kind != SQL_DOC_OBJECT) return NULL;
    if (d->needs_tree) return json_object_get(sql_doc_tree(d), name);
    size_t nl = strlen(name);
    /* The last of repeated keys wins, as jansson keeps it. */
    for (size_t i = d->nmembers; i-- > 0;) {
        struct sql_doc_member *m = &d->members[i];
        if (m->key_len != nl || memcmp(m->key, name, nl) != 0) continue;
        if (!m->parsed) m->parsed = parse_value(m);
        return m->parsed;
    }
    return NULL;
}
