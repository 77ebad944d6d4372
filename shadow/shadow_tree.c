/*
 * shadow_tree.c - operations on shadow state trees: merge a request into a
 * stored state while keeping its metadata in step, compute the delta, compare
 * values, measure size, check encoding.
 *
 * Callers validate first (depth, types), so recursion here is bounded by
 * SHADOW_MAX_DEPTH for request trees and by what was stored for stored ones.
 */
#include "shadow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- metadata ---- */

static json_t *mirror_object(const json_t *v, int64_t now)
{
    json_t *m = json_object();
    const char *k;
    json_t *c;
    if (!m) return NULL;
    CONST_FOREACH(v, k, c)
    {
        if (json_object_set_new(m, k, shadow_meta_mirror(c, now)) != 0) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

static json_t *mirror_array(const json_t *v, int64_t now)
{
    json_t *m = json_array();
    size_t i;
    json_t *c;
    if (!m) return NULL;
    json_array_foreach(v, i, c)
    {
        if (json_array_append_new(m, shadow_meta_mirror(c, now)) != 0) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

json_t *shadow_meta_mirror(const json_t *v, int64_t now)
{
    if (json_is_object(v)) return mirror_object(v, now);
    /* AWS gives arrays one metadata entry per element, not one timestamp. */
    if (json_is_array(v)) return mirror_array(v, now);
    return json_pack("{s:I}", "timestamp", (json_int_t)now);
}

/* ---- merge ---- */

static void drop(json_t *state, json_t *meta, const char *k)
{
    json_object_del(state, k);
    json_object_del(meta, k);
}

/* Scalars and arrays replace the stored value and all of its metadata. */
static int replace_value(json_t *state, json_t *meta, const char *k, const json_t *pv, int64_t now)
{
    if (json_object_set_new(state, k, json_deep_copy(pv)) != 0) return -1;
    return json_object_set_new(meta, k, shadow_meta_mirror(pv, now));
}

/* An object merges into a stored object; over anything else (absent or a
 * type change) it starts from empty, and if nothing but nulls and empty
 * objects came, nothing is stored: AWS never keeps an empty object. */
static int merge_object_value(json_t *state, json_t *meta, const char *k, const json_t *pv,
                              int64_t now)
{
    json_t *sv = json_object_get(state, k);
    json_t *mv = json_object_get(meta, k);
    if (!json_is_object(sv)) {
        sv = json_object();
        if (json_object_set_new(state, k, sv) != 0) return -1;
        mv = NULL;
    }
    if (!json_is_object(mv)) {
        mv = json_object();
        if (json_object_set_new(meta, k, mv) != 0) return -1;
    }
    if (shadow_merge(sv, mv, pv, now) != 0) return -1;
    if (json_object_size(sv) == 0) drop(state, meta, k);
    return 0;
}

int shadow_merge(json_t *state, json_t *meta, const json_t *patch, int64_t now)
{
    const char *k;
    json_t *pv;
    CONST_FOREACH(patch, k, pv)
    {
        int rc = 0;
        if (json_is_null(pv))
            drop(state, meta, k);
        else if (json_is_object(pv))
            rc = merge_object_value(state, meta, k, pv, now);
        else
            rc = replace_value(state, meta, k, pv, now);
        if (rc != 0) return -1;
    }
    return 0;
}

/* ---- equality ---- */

/* An integer equals a real only when the real is exactly that integer. */
static bool int_equals_real(json_int_t i, double d)
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
    json_int_t t = (json_int_t)d;
    return (double)t == d && t == i;
}

static bool number_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b)) return json_real_value(a) == json_real_value(b);
    if (json_is_integer(a)) return int_equals_real(json_integer_value(a), json_real_value(b));
    return int_equals_real(json_integer_value(b), json_real_value(a));
}

static bool object_equal(const json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    if (json_object_size(a) != json_object_size(b)) return false;
    CONST_FOREACH(a, k, v)
    {
        const json_t *w = json_object_get(b, k);
        if (!w || !shadow_value_equal(v, w)) return false;
    }
    return true;
}

static bool array_equal(const json_t *a, const json_t *b)
{
    size_t n = json_array_size(a);
    if (n != json_array_size(b)) return false;
    for (size_t i = 0; i < n; i++)
        if (!shadow_value_equal(json_array_get(a, i), json_array_get(b, i))) return false;
    return true;
}

bool shadow_value_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return number_equal(a, b);
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_object(a)) return object_equal(a, b);
    if (json_is_array(a)) return array_equal(a, b);
    return json_equal(a, b);
}

/* ---- delta ---- */

/* One key of desired: *d is what the delta holds for it, NULL if nothing. */
static int delta_value(const json_t *dv, const json_t *rv, json_t **d)
{
    *d = NULL;
    if (json_is_object(dv) && json_is_object(rv)) return shadow_delta_of(dv, rv, NULL, d, NULL);
    if (rv && shadow_value_equal(dv, rv)) return 0;
    *d = json_deep_copy(dv);
    return *d ? 0 : -1;
}

static int delta_object(const json_t *desired, const json_t *reported, json_t **out)
{
    json_t *delta = json_object();
    const char *k;
    json_t *dv;
    if (!delta) return -1;
    CONST_FOREACH(desired, k, dv)
    {
        json_t *d;
        if (delta_value(dv, json_object_get(reported, k), &d) != 0 ||
            (d && json_object_set_new(delta, k, d) != 0)) {
            json_decref(delta);
            return -1;
        }
    }
    if (json_object_size(delta) == 0) {
        json_decref(delta);
        delta = NULL;
    }
    *out = delta;
    return 0;
}

/* The delta's metadata is the desired metadata of the same paths. */
static json_t *delta_metadata(const json_t *delta, const json_t *meta)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    if (!out) return NULL;
    CONST_FOREACH(delta, k, v)
    {
        const json_t *m = json_object_get(meta, k);
        if (!m) continue;
        json_t *c =
            json_is_object(v) && json_is_object(m) ? delta_metadata(v, m) : json_deep_copy(m);
        if (json_object_set_new(out, k, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

int shadow_delta_of(const json_t *desired, const json_t *reported, const json_t *desired_meta,
                    json_t **out, json_t **out_meta)
{
    *out = NULL;
    if (out_meta) *out_meta = NULL;
    if (!json_is_object(desired)) return 0;
    if (delta_object(desired, reported, out) != 0) return -1;
    if (!*out || !out_meta) return 0;
    *out_meta = delta_metadata(*out, desired_meta);
    if (*out_meta) return 0;
    json_decref(*out);
    *out = NULL;
    return -1;
}

/* ---- size ---- */

static size_t string_size(const char *s, size_t n)
{
    size_t size = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            size += 2;
        else if (c < 0x20)
            size += 6; /* \u00XX */
        else
            size += 1;
    }
    return size;
}

static int decimal_digits(int v)
{
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

/* The shortest text that reads back as d, laid out the way JavaScript and
 * Jackson print doubles (not jansson's 17 digits): positional for exponents
 * -7..20 with ".0" on integral values ("100.0", "0.1"), else "1.5e21". */
static size_t real_size(double d)
{
    char buf[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (prec > 17) prec = 17;
    const char *e = strchr(buf, 'e');
    int exp = atoi(e + 1);
    if (d != 0 && (exp < -7 || exp > 20))
        return (size_t)(e - buf) + 1 + (exp < 0) + (size_t)decimal_digits(exp < 0 ? -exp : exp);
    int decimals = prec - 1 - exp > 0 ? prec - 1 - exp : 0;
    int n = snprintf(buf, sizeof buf, "%.*f", decimals, d);
    return (size_t)n + (decimals == 0 ? 2 : 0);
}

static size_t integer_size(json_int_t i)
{
    char buf[32];
    return (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, i);
}

static size_t container_size(const json_t *v)
{
    size_t size = 2, n = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        CONST_FOREACH(v, k, c)
        {
            size += string_size(k, strlen(k)) + 1 + shadow_json_size(c);
            n++;
        }
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            size += shadow_json_size(c);
            n++;
        }
    }
    return size + (n ? n - 1 : 0); /* commas */
}

size_t shadow_json_size(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return container_size(v);
    case JSON_STRING:
        return string_size(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return integer_size(json_integer_value(v));
    case JSON_REAL:
        return real_size(json_real_value(v));
    case JSON_TRUE:
    case JSON_NULL:
        return 4;
    case JSON_FALSE:
        return 5;
    }
    return 0;
}

/* ---- encoding ---- */

/* Length of the sequence lead byte c starts (0 if it starts none) and, in
 * *cp, the code point bits it carries. */
static size_t utf8_lead(unsigned char c, unsigned *cp)
{
    size_t len = 0;
    if (c >= 0xC2 && c <= 0xDF) /* C0 and C1 could only start overlongs */
        len = 2, *cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, *cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) /* above F4 is beyond U+10FFFF */
        len = 4, *cp = c & 0x07;
    return len;
}

bool shadow_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned cp;
        size_t len;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        len = utf8_lead(s[i], &cp);
        if (len == 0 || n - i < len) return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
        i += len;
    }
    return true;
}
