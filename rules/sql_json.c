/*
 * sql_json.c - compact JSON text with shortest round-trip reals.
 *
 * One growable buffer (256 bytes, doubling) receives the whole text: no
 * allocation per value, strings copied in runs between the bytes that need
 * an escape, integers and short decimal reals formatted by hand, and
 * snprintf/strtod only for the other reals.
 * The output follows jansson's dump.c byte for byte apart from the digits
 * of reals; tests/unit/test_sql_json.c and fuzz/fuzz_sql_json.c compare the
 * two.
 */
#include "sql_json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAPACITY 256

struct out {
    char *text;
    size_t len; /* bytes written, not counting the final NUL */
    size_t cap; /* always > len, so that the NUL fits */
};

/* ---- the buffer ---- */

static bool grow(struct out *o, size_t n)
{
    size_t cap = o->cap;
    while (cap - o->len <= n) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *text = realloc(o->text, cap);
    if (!text) return false;
    o->text = text;
    o->cap = cap;
    return true;
}

/* Room for n more bytes and the final NUL. */
static inline bool room(struct out *o, size_t n)
{
    return o->cap - o->len > n || grow(o, n);
}

static inline bool put(struct out *o, const void *bytes, size_t n)
{
    if (!room(o, n)) return false;
    memcpy(o->text + o->len, bytes, n);
    o->len += n;
    return true;
}

static inline bool put_byte(struct out *o, char c)
{
    if (!room(o, 1)) return false;
    o->text[o->len++] = c;
    return true;
}

/* ---- numbers ---- */

static bool put_integer(struct out *o, json_int_t i)
{
    char digits[24]; /* "-9223372036854775808" is 20 */
    char *d = digits + sizeof digits;
    /* Negate in unsigned arithmetic: -INT64_MIN overflows a signed one. */
    unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0) *--d = '-';
    return put(o, d, (size_t)(digits + sizeof digits - d));
}

/* %.*g of d at the lowest precision from 15 to 17 that strtod reads back
 * as d. Any decimal of at most 15 digits (DBL_DIG) survives the trip to a
 * normal double and back, so when d has such a form %.15g finds it (%g
 * drops the trailing zeros); 17 digits always suffice. Subnormals carry
 * fewer digits than DBL_DIG, so for them the search starts at one digit:
 * 5e-324, not 4.94065645841247e-324. */
static size_t shortest_g(double d, char *text, size_t size)
{
    int precision = d != 0 && fabs(d) < DBL_MIN ? 1 : 15;
    for (;; precision++) {
        int n = snprintf(text, size, "%.*g", precision, d);
        if (precision >= 17 || strtod(text, NULL) == d) return (size_t)n;
    }
}

/* jansson's spelling of a %g number (jsonp_dtostr): a whole value gets
 * ".0" so that it reads back as a real rather than an integer, and the
 * exponent loses its '+' and leading zeros: 1e+300 is 1e300, 1.5e-07 is
 * 1.5e-7. text has room for the two more bytes. */
static size_t jansson_form(char *text, size_t n)
{
    char *e = memchr(text, 'e', n);
    if (!e) {
        if (!memchr(text, '.', n)) {
            memcpy(text + n, ".0", 3);
            n += 2;
        }
        return n;
    }
    char *kept = e[1] == '-' ? e + 2 : e + 1; /* where the exponent's digits go */
    char *from = e[1] == '-' || e[1] == '+' ? e + 2 : e + 1;
    while (from[0] == '0' && from[1])
        from++;
    memmove(kept, from, (size_t)(text + n + 1 - from));
    return n - (size_t)(from - kept);
}

/* m (at most 15 digits) with a decimal point k digits from the right, as
 * %g writes it in fixed notation plus jansson's ".0": "90.1", "0.0025",
 * "100.0". */
static size_t write_fixed(bool is_negative, uint64_t m, int k, char *text)
{
    while (k > 0 && m % 10 == 0) {
        m /= 10;
        k--;
    }
    char digits[24], *d = digits + sizeof digits;
    do {
        *--d = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    int ndigits = (int)(digits + sizeof digits - d);
    char *t = text;
    if (is_negative) *t++ = '-';
    if (k == 0) {
        memcpy(t, d, (size_t)ndigits);
        memcpy(t + ndigits, ".0", 2);
        return (size_t)(t + ndigits + 2 - text);
    }
    int whole = ndigits > k ? ndigits - k : 0; /* digits before the point */
    if (whole) {
        memcpy(t, d, (size_t)whole);
        t += whole;
    } else {
        *t++ = '0';
    }
    *t++ = '.';
    for (int zeros = k - ndigits; zeros > 0; zeros--)
        *t++ = '0';
    memcpy(t, d + whole, (size_t)(ndigits - whole));
    return (size_t)(t + ndigits - whole - text);
}

/* The common case without snprintf or strtod: a reading such as 90.1 or
 * 52.52, which is an integer m of few digits over 10^k. For each k from 0
 * up, m is the nearest integer to |d| * 10^k, and it is the answer when
 * m / 10^k == |d|: m < 2^53 and 10^k <= 10^22 are exact doubles and IEEE
 * division rounds correctly, so the quotient is what strtod makes of the
 * decimal (Clinger's fast path). A decimal of at most 15 digits that reads
 * back as d is the one %.15g prints (it is the 15-digit decimal nearest to
 * d), and in [1e-4, 1e15) %g prints it in fixed notation, so the text is
 * exactly the slow path's. Returns 0 when the slow path must decide. */
static size_t fixed_real(double d, char *text)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = fabs(d);
    if (a != 0 && !(a >= 1e-4 && a < 1e15)) return 0;
    for (int k = 0; k < (int)(sizeof pow10 / sizeof pow10[0]); k++) {
        double m = nearbyint(a * pow10[k]);
        if (m >= 1e15) return 0; /* 16 digits: %.15g cannot hold them */
        if (m / pow10[k] == a) return write_fixed(signbit(d), (uint64_t)m, k, text);
    }
    return 0;
}

static bool put_real(struct out *o, double d)
{
    /* json_real refuses these, and JSON has no spelling for them. */
    if (!isfinite(d)) return false;
    char text[40]; /* "-2.2250738585072014e-308" is 24 */
    size_t n = fixed_real(d, text);
    if (!n) n = jansson_form(text, shortest_g(d, text, sizeof text - 2));
    return put(o, text, n);
}

/* ---- strings ---- */

/* What each byte is to the string writer: the length of the UTF-8
 * sequence it starts (1 for ASCII that is copied as is), ESC for ASCII
 * that must be escaped (control characters, '"', '\\'), or 0 for a byte
 * that cannot start a sequence (continuation bytes, overlong leads C0 and
 * C1, F5..FF). '/' and DEL are copied: jansson escapes neither by default. */
#define ESC 9
/* clang-format off */
static const unsigned char byte_class[256] = {
    /* 0x00 */ ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC,
    /* 0x10 */ ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC, ESC,
    /* 0x20 */ 1, 1, ESC, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ESC, 1, 1, 1,
    /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x90 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xA0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xB0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0xC0 */ 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* 0xD0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* 0xE0 */ 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* 0xF0 */ 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

/* Whether the n-byte sequence at p (whose lead byte says n) is UTF-8 as
 * jansson checks it: continuation bytes present, no overlong form, no
 * UTF-16 surrogate, nothing past U+10FFFF. json_dumps fails on anything
 * else, and so do we rather than write text that is not UTF-8. */
static bool is_utf8_sequence(const unsigned char *p, const unsigned char *end, size_t n)
{
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if ((size_t)(end - p) < n) return false;
    uint32_t cp = p[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return false;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    return cp >= least[n] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

static bool put_escape(struct out *o, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[6] = {'\\', (char)c};
    switch (c) {
    case '"':
    case '\\':
        return put(o, seq, 2);
    case '\b':
        return put(o, "\\b", 2);
    case '\f':
        return put(o, "\\f", 2);
    case '\n':
        return put(o, "\\n", 2);
    case '\r':
        return put(o, "\\r", 2);
    case '\t':
        return put(o, "\\t", 2);
    }
    /* The other control characters, NUL included; jansson's hex digits
     * are upper case (\u001F). */
    memcpy(seq + 1, "u00", 3);
    seq[4] = hex[c >> 4];
    seq[5] = hex[c & 0xF];
    return put(o, seq, 6);
}

static bool put_string(struct out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const unsigned char *run = p; /* start of the bytes not yet written */
    if (!put_byte(o, '"')) return false;
    while (p < end) {
        unsigned char kind = byte_class[*p];
        if (kind == 1) {
            p++;
        } else if (kind == ESC) {
            if (!put(o, run, (size_t)(p - run)) || !put_escape(o, *p)) return false;
            run = ++p;
        } else if (kind && is_utf8_sequence(p, end, kind)) {
            p += kind;
        } else {
            return false;
        }
    }
    return put(o, run, (size_t)(p - run)) && put_byte(o, '"');
}

/* ---- containers ---- */

static bool put_value(struct out *o, const json_t *v, int depth);

static bool put_array(struct out *o, const json_t *array, int depth)
{
    size_t n = json_array_size(array);
    if (!put_byte(o, '[')) return false;
    for (size_t i = 0; i < n; i++) {
        if (i && !put_byte(o, ',')) return false;
        if (!put_value(o, json_array_get(array, i), depth)) return false;
    }
    return put_byte(o, ']');
}

/* Members in jansson's iteration order, which is insertion order since
 * jansson 2.8 (what JSON_PRESERVE_ORDER asked for before). Keys may hold
 * NUL bytes (json_object_setn), hence their lengths. */
static bool put_object(struct out *o, const json_t *object, int depth)
{
    /* jansson's iterators take a non-const object but do not change it. */
    json_t *obj = (json_t *)object;
    if (!put_byte(o, '{')) return false;
    void *it = json_object_iter(obj);
    for (bool first = true; it; it = json_object_iter_next(obj, it), first = false) {
        if (!first && !put_byte(o, ',')) return false;
        if (!put_string(o, json_object_iter_key(it), json_object_iter_key_len(it)) ||
            !put_byte(o, ':') || !put_value(o, json_object_iter_value(it), depth))
            return false;
    }
    return put_byte(o, '}');
}

/* depth counts the arrays and objects around v. The limit also ends a
 * cycle (an array appended to itself), which json_dumps refuses too. */
static bool put_value(struct out *o, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return depth < SQL_JSON_MAX_DEPTH && put_object(o, v, depth + 1);
    case JSON_ARRAY:
        return depth < SQL_JSON_MAX_DEPTH && put_array(o, v, depth + 1);
    case JSON_STRING:
        return put_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(o, json_integer_value(v));
    case JSON_REAL:
        return put_real(o, json_real_value(v));
    case JSON_TRUE:
        return put(o, "true", 4);
    case JSON_FALSE:
        return put(o, "false", 5);
    case JSON_NULL:
        return put(o, "null", 4);
    }
    return false;
}

char *sql_json_dump(const json_t *v, size_t *len)
{
    struct out o = {malloc(FIRST_CAPACITY), 0, FIRST_CAPACITY};
    if (!o.text) return NULL;
    if (!v || !put_value(&o, v, 0)) {
        free(o.text);
        return NULL;
    }
    o.text[o.len] = '\0';
    if (len) *len = o.len;
    return o.text;
}
