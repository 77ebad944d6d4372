/*
 * sql_functions.c - the functions of AWS IoT SQL: one small C function
 * each, found by name in one table. Arguments arrive evaluated (NULL is
 * Undefined); a function given what it cannot use returns Undefined.
 */
#include "sql_functions.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <mbedtls/base64.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef json_t *(*sql_fn)(json_t **args, size_t n, const struct sql_message *m);

/* ---- helpers ---- */

static bool number_arg(json_t *v, double *out)
{
    json_t *num = v ? sql_to_number(v) : NULL;
    if (!num) return false;
    *out = sql_number_value(num);
    json_decref(num);
    return true;
}

static bool int_arg(json_t *v, long long *out)
{
    double d;
    if (!number_arg(v, &d) || d != floor(d) || fabs(d) > 9.2e18) return false;
    *out = (long long)d;
    return true;
}

/* Strings, and what converts to them (numbers, booleans, JSON), but not null. */
static char *string_arg(json_t *v)
{
    return v ? sql_to_string(v) : NULL;
}

static json_t *real_or_undefined(double d)
{
    return isfinite(d) ? json_real(d) : NULL;
}

/* An Int stays an Int when the result is whole (floor, ceil, round, abs). */
static json_t *whole(double d)
{
    return fabs(d) < 9.2e18 ? json_integer((json_int_t)d) : real_or_undefined(d);
}

/* ---- the message ---- */

static json_t *f_topic(json_t **a, size_t n, const struct sql_message *m)
{
    const char *t = m->topic;
    size_t len = m->topic_len;
    /* Basic Ingest: $aws/rules/RULE/ is not part of the topic. */
    if (len > 11 && strncmp(t, "$aws/rules/", 11) == 0) {
        const char *slash = memchr(t + 11, '/', len - 11);
        if (slash) {
            len -= (size_t)(slash + 1 - t);
            t = slash + 1;
        }
    }
    if (n == 0) return json_stringn(t, len);
    long long want;
    if (!int_arg(a[0], &want) || want < 1) return NULL;
    const char *p = t, *end = t + len;
    for (long long i = 1; i < want; i++) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (!slash) return NULL;
        p = slash + 1;
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    return json_stringn(p, (size_t)((slash ? slash : end) - p));
}

static json_t *f_clientid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    return json_string(m->client_id ? m->client_id : "n/a");
}

static json_t *f_principal(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    return m->principal ? json_string(m->principal) : NULL;
}

static json_t *f_accountid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    return m->account_id ? json_string(m->account_id) : NULL;
}

static json_t *f_timestamp(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    return json_integer(m->timestamp_ms);
}

/* A version-4 UUID from the message's random source, as text (37 bytes). */
static void uuid_text(const struct sql_message *m, char out[37])
{
    uint8_t b[16] = {0};
    if (m->random) m->random(m->ctx, b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

const char *sql_trace_id(const struct sql_message *m)
{
    if (m->trace_id || !m->trace_buf) return m->trace_id;
    if (!m->trace_buf[0]) uuid_text(m, m->trace_buf);
    return m->trace_buf;
}

static json_t *f_traceid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    const char *id = sql_trace_id(m);
    return id ? json_string(id) : NULL;
}

static json_t *f_newuuid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    char s[37];
    uuid_text(m, s);
    return json_string(s);
}

static json_t *f_sql_version(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n, (void)m;
    return json_string("2016-03-23");
}

static json_t *f_get_thing_shadow(json_t **a, size_t n, const struct sql_message *m)
{
    /* (thing, roleArn): the classic shadow; (thing, shadow, roleArn): a named one. The
     * role means nothing here. */
    if (!m->get_shadow || !json_is_string(a[0]) || !json_is_string(a[1])) return NULL;
    if (n == 3 && !json_is_string(a[2])) return NULL;
    return m->get_shadow(m->ctx, json_string_value(a[0]), n == 3 ? json_string_value(a[1]) : "");
}

/* ---- numbers ---- */

#define MATH1(name, expr)                                                                          \
    static json_t *name(json_t **a, size_t n, const struct sql_message *m)                        \
    {                                                                                              \
        (void)n, (void)m;                                                                          \
        double x;                                                                                  \
        if (!number_arg(a[0], &x)) return NULL;                                                    \
        return expr;                                                                               \
    }

MATH1(f_abs, x == floor(x) ? whole(fabs(x)) : real_or_undefined(fabs(x)))
MATH1(f_ceil, whole(ceil(x)))
MATH1(f_floor, whole(floor(x)))
MATH1(f_round, whole(round(x))) /* half away from zero, as AWS */
MATH1(f_sqrt, x < 0 ? NULL : real_or_undefined(sqrt(x)))
MATH1(f_ln, x <= 0 ? NULL : real_or_undefined(log(x)))
MATH1(f_log, x <= 0 ? NULL : real_or_undefined(log10(x)))
MATH1(f_exp, real_or_undefined(exp(x)))
MATH1(f_sign, json_integer(x > 0 ? 1 : x < 0 ? -1 : 0))
MATH1(f_sin, real_or_undefined(sin(x)))
MATH1(f_cos, real_or_undefined(cos(x)))
MATH1(f_tan, real_or_undefined(tan(x)))
MATH1(f_asin, real_or_undefined(asin(x)))
MATH1(f_acos, real_or_undefined(acos(x)))
MATH1(f_atan, real_or_undefined(atan(x)))
MATH1(f_sinh, real_or_undefined(sinh(x)))
MATH1(f_cosh, real_or_undefined(cosh(x)))
MATH1(f_tanh, real_or_undefined(tanh(x)))

static json_t *f_atan2(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    double y, x;
    return number_arg(a[0], &y) && number_arg(a[1], &x) ? real_or_undefined(atan2(y, x)) : NULL;
}

static json_t *f_power(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    double x, y;
    if (!number_arg(a[0], &x) || !number_arg(a[1], &y)) return NULL;
    double r = pow(x, y);
    return json_is_integer(a[0]) && json_is_integer(a[1]) && y >= 0 && r == floor(r)
               ? whole(r)
               : real_or_undefined(r);
}

static json_t *f_mod(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    long long x, y;
    if (int_arg(a[0], &x) && int_arg(a[1], &y)) {
        if (y == 0 || (x == LLONG_MIN && y == -1)) return NULL;
        return json_integer(x % y);
    }
    double p, q;
    if (!number_arg(a[0], &p) || !number_arg(a[1], &q) || q == 0) return NULL;
    return real_or_undefined(fmod(p, q));
}

static json_t *f_trunc(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    double x;
    long long digits;
    if (!number_arg(a[0], &x) || !int_arg(a[1], &digits) || digits < 0 || digits > 17) return NULL;
    double scale = pow(10, (double)digits);
    return real_or_undefined(trunc(x * scale) / scale);
}

static json_t *bitwise(json_t **a, char op)
{
    long long x, y = 0;
    if (!json_is_integer(a[0]) || (op != '~' && !json_is_integer(a[1]))) return NULL;
    x = json_integer_value(a[0]);
    if (op != '~') y = json_integer_value(a[1]);
    return json_integer(op == '&' ? x & y : op == '|' ? x | y : op == '^' ? x ^ y : ~x);
}

static json_t *f_bitand(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return bitwise(a, '&');
}

static json_t *f_bitor(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return bitwise(a, '|');
}

static json_t *f_bitxor(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return bitwise(a, '^');
}

static json_t *f_bitnot(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return bitwise(a, '~');
}

static json_t *f_nanvl(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    if (!a[0] || !a[1]) return NULL;
    bool is_nan = json_is_real(a[0]) && isnan(json_real_value(a[0]));
    return json_incref(is_nan ? a[1] : a[0]);
}

static json_t *f_rand(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    uint8_t b[8] = {0};
    if (m->random) m->random(m->ctx, b, sizeof b);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return json_real((double)(v >> 11) / 9007199254740992.0);
}

/* ---- strings ---- */

static json_t *map_chars(json_t *v, int (*f)(int))
{
    if (!json_is_string(v)) return NULL;
    char *s = strdup(json_string_value(v));
    if (!s) return NULL;
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 128) *c = (char)f((unsigned char)*c);
    return sql_string_take(s);
}

static json_t *f_lower(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return map_chars(a[0], tolower);
}

static json_t *f_upper(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return map_chars(a[0], toupper);
}

static json_t *trimmed(json_t *v, bool left, bool right)
{
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v), *e = s + json_string_length(v);
    while (left && s < e && isspace((unsigned char)*s)) s++;
    while (right && e > s && isspace((unsigned char)e[-1])) e--;
    return json_stringn(s, (size_t)(e - s));
}

static json_t *f_trim(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return trimmed(a[0], true, true);
}

static json_t *f_ltrim(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return trimmed(a[0], true, false);
}

static json_t *f_rtrim(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return trimmed(a[0], false, true);
}

/* Characters, not bytes: UTF-8 sequences count once. */
static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) n++;
    return n;
}

static size_t utf8_offset(const char *s, size_t bytes, size_t chars)
{
    size_t i = 0;
    for (size_t c = 0; i < bytes; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && c++ == chars) break;
    }
    return i;
}

static json_t *f_length(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    if (json_is_array(a[0])) return json_integer((json_int_t)json_array_size(a[0]));
    char *s = string_arg(a[0]);
    if (!s) return NULL;
    json_t *r = json_integer((json_int_t)utf8_length(s, strlen(s)));
    free(s);
    return r;
}

static json_t *f_numbytes(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]);
    if (!s) return NULL;
    json_t *r = json_integer((json_int_t)strlen(s));
    free(s);
    return r;
}

/* substring(s, start[, end]): 0-based characters, end exclusive, clamped. */
static json_t *f_substring(json_t **a, size_t n, const struct sql_message *m)
{
    (void)m;
    char *s = string_arg(a[0]);
    long long start = 0, end = 0;
    if (!s || !int_arg(a[1], &start) || (n == 3 && !int_arg(a[2], &end))) {
        free(s);
        return NULL;
    }
    size_t bytes = strlen(s), chars = utf8_length(s, bytes);
    if (n < 3) end = (long long)chars;
    if (start < 0) start = 0;
    if (end > (long long)chars) end = (long long)chars;
    json_t *r;
    if (start >= end) {
        r = json_string("");
    } else {
        size_t from = utf8_offset(s, bytes, (size_t)start), to = utf8_offset(s, bytes, (size_t)end);
        r = json_stringn(s + from, to - from);
    }
    free(s);
    return r;
}

static json_t *affix(json_t **a, bool at_start)
{
    char *s = string_arg(a[0]), *x = string_arg(a[1]);
    json_t *r = NULL;
    if (s && x) {
        size_t ls = strlen(s), lx = strlen(x);
        r = json_boolean(lx <= ls && memcmp(at_start ? s : s + ls - lx, x, lx) == 0);
    }
    free(s);
    free(x);
    return r;
}

static json_t *f_startswith(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return affix(a, true);
}

static json_t *f_endswith(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return affix(a, false);
}

static json_t *f_indexof(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]), *x = string_arg(a[1]);
    json_t *r = NULL;
    if (s && x) {
        const char *hit = strstr(s, x);
        r = json_integer(hit ? (json_int_t)utf8_length(s, (size_t)(hit - s)) : -1);
    }
    free(s);
    free(x);
    return r;
}

static json_t *f_replace(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]), *from = string_arg(a[1]), *to = string_arg(a[2]);
    json_t *r = NULL;
    if (s && from && to) {
        size_t lf = strlen(from), lt = strlen(to), count = 0;
        for (const char *p = s; lf && (p = strstr(p, from)); p += lf) count++;
        size_t cap = strlen(s) + count * lt + 1;
        char *out = count <= (SIZE_MAX - strlen(s)) / (lt + 1) ? malloc(cap) : NULL;
        if (out) {
            char *w = out;
            const char *p = s, *hit;
            while (lf && (hit = strstr(p, from))) {
                memcpy(w, p, (size_t)(hit - p));
                w += hit - p;
                memcpy(w, to, lt);
                w += lt;
                p = hit + lf;
            }
            strcpy(w, p);
            r = sql_string_take(out);
        }
    }
    free(s);
    free(from);
    free(to);
    return r;
}

static json_t *pad(json_t **a, bool left)
{
    char *s = string_arg(a[0]);
    long long count;
    json_t *r = NULL;
    if (s && int_arg(a[1], &count) && count >= 0 && count <= 65536) {
        size_t ls = strlen(s);
        char *out = malloc(ls + (size_t)count + 1);
        if (out) {
            memset(out + (left ? 0 : ls), ' ', (size_t)count);
            memcpy(out + (left ? (size_t)count : 0), s, ls);
            out[ls + (size_t)count] = '\0';
            r = sql_string_take(out);
        }
    }
    free(s);
    return r;
}

static json_t *f_lpad(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return pad(a, true);
}

static json_t *f_rpad(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return pad(a, false);
}

static json_t *f_chr(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    long long c;
    if (!int_arg(a[0], &c) || c < 1 || c > 127) return NULL; /* ASCII */
    char s[2] = {(char)c, 0};
    return json_string(s);
}

/* concat(...): strings joined, or arrays (and values) joined into one array. */
static json_t *f_concat(json_t **a, size_t n, const struct sql_message *m)
{
    (void)m;
    if (n == 0) return NULL;
    bool any_array = false;
    for (size_t i = 0; i < n; i++) {
        if (!a[i]) return NULL;
        any_array |= json_is_array(a[i]);
    }
    if (any_array) {
        json_t *out = json_array();
        for (size_t i = 0; out && i < n; i++) {
            if (json_is_array(a[i]))
                json_array_extend(out, a[i]);
            else
                json_array_append(out, a[i]);
        }
        return out;
    }
    size_t cap = 1, len = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < n; i++) {
        char *s = sql_to_string(a[i]);
        if (!s) {
            free(out);
            return NULL;
        }
        size_t ls = strlen(s);
        char *grown = realloc(out, len + ls + 1);
        if (grown) {
            memcpy(grown + len, s, ls);
            len += ls;
        }
        free(s);
        out = grown;
    }
    if (!out) return NULL;
    out[len] = '\0';
    return sql_string_take(out);
}

/* ---- regular expressions (POSIX extended, close to Java's for common patterns) ---- */

#define MAX_PATTERN 512

/*
 * glibc's regcomp copies a repeated subexpression once per repetition, so
 * stacked quantifiers ("x*++++...") or large bounds ("(a{200}){200}") cost
 * memory exponential in the pattern: such patterns are refused (Undefined),
 * and bounds are kept to two of at most 32.
 * Java's possessive and lazy forms ("*+", "*?") are among them.
 */
static bool is_tame(const char *p)
{
    bool after_quantifier = false;
    size_t n = 0, bounds = 0;
    for (; *p; p++, n++) {
        if (n >= MAX_PATTERN) return false;
        if (*p == '\\' && p[1]) {
            p++;
            after_quantifier = false;
            continue;
        }
        bool is_quantifier = *p == '*' || *p == '+' || *p == '?' || *p == '{';
        if (is_quantifier && after_quantifier) return false;
        if (*p == '{') {
            char *end;
            long lo = strtol(p + 1, &end, 10), hi = lo;
            if (*end == ',') hi = end[1] == '}' ? lo : strtol(end + 1, &end, 10);
            if (lo > 32 || hi > 32 || ++bounds > 2) return false; /* at most 32 x 32 copies */
            const char *close = strchr(p, '}');
            if (close) p = close;
        }
        after_quantifier = is_quantifier;
    }
    return true;
}

static bool compile(json_t *pattern, regex_t *re)
{
    return json_is_string(pattern) && is_tame(json_string_value(pattern)) &&
           regcomp(re, json_string_value(pattern), REG_EXTENDED) == 0;
}

static json_t *f_regexp_matches(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]);
    regex_t re;
    json_t *r = NULL;
    if (s && compile(a[1], &re)) {
        r = json_boolean(regexec(&re, s, 0, NULL, 0) == 0);
        regfree(&re);
    }
    free(s);
    return r;
}

static json_t *f_regexp_substr(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]);
    regex_t re;
    json_t *r = NULL;
    regmatch_t mt;
    if (s && compile(a[1], &re)) {
        r = regexec(&re, s, 1, &mt, 0) == 0
                ? json_stringn(s + mt.rm_so, (size_t)(mt.rm_eo - mt.rm_so))
                : json_string("");
        regfree(&re);
    }
    free(s);
    return r;
}

/* Every match replaced; $1..$9 in the replacement name groups, as in Java. */
static json_t *f_regexp_replace(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    char *s = string_arg(a[0]), *with = string_arg(a[2]);
    regex_t re;
    json_t *r = NULL;
    if (s && with && compile(a[1], &re)) {
        size_t cap = strlen(s) * 2 + 64, len = 0;
        char *out = malloc(cap);
        const char *p = s;
        regmatch_t g[10];
        int flags = 0;
        while (out && *p && regexec(&re, p, 10, g, flags) == 0) {
            size_t need = len + (size_t)g[0].rm_so + strlen(with) * 8 + strlen(p) + 2;
            if (need > cap) {
                char *grown = realloc(out, cap = need * 2);
                if (!grown) {
                    free(out);
                    out = NULL;
                    break;
                }
                out = grown;
            }
            memcpy(out + len, p, (size_t)g[0].rm_so);
            len += (size_t)g[0].rm_so;
            for (const char *w = with; *w; w++) {
                if (*w == '$' && w[1] >= '0' && w[1] <= '9' && g[w[1] - '0'].rm_so >= 0) {
                    regmatch_t *x = &g[w[1] - '0'];
                    size_t gl = (size_t)(x->rm_eo - x->rm_so);
                    if (len + gl + strlen(p) + 2 > cap) break;
                    memcpy(out + len, p + x->rm_so, gl);
                    len += gl;
                    w++;
                } else {
                    out[len++] = *w;
                }
            }
            if (g[0].rm_eo == g[0].rm_so) { /* an empty match: step over one character */
                if (!p[g[0].rm_eo]) {
                    p += g[0].rm_eo;
                    break;
                }
                out[len++] = p[g[0].rm_eo];
                p += g[0].rm_eo + 1;
            } else {
                p += g[0].rm_eo;
            }
            flags = REG_NOTBOL;
        }
        if (out) {
            size_t rest = strlen(p);
            char *grown = realloc(out, len + rest + 1);
            if (grown) {
                memcpy(grown + len, p, rest + 1);
                r = sql_string_take(grown);
            } else {
                free(out);
            }
        }
        regfree(&re);
    }
    free(s);
    free(with);
    return r;
}

/* ---- types, collections ---- */

static json_t *f_isnull(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return json_boolean(json_is_null(a[0]));
}

static json_t *f_isundefined(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return json_boolean(a[0] == NULL);
}

static json_t *f_coalesce(json_t **a, size_t n, const struct sql_message *m)
{
    (void)m;
    for (size_t i = 0; i < n; i++)
        if (a[i] && !json_is_null(a[i])) return json_incref(a[i]);
    return NULL;
}

static json_t *f_get(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    return a[0] && a[1] ? sql_get(a[0], a[1]) : NULL;
}

/* ---- encodings and digests ---- */

static json_t *base64_of(const uint8_t *data, size_t len)
{
    size_t need = 0;
    mbedtls_base64_encode(NULL, 0, &need, data, len);
    char *out = malloc(need + 1);
    if (!out || mbedtls_base64_encode((unsigned char *)out, need + 1, &need, data, len)) {
        free(out);
        return NULL;
    }
    out[need] = '\0';
    return sql_string_take(out);
}

static json_t *f_encode(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    if (!json_is_string(a[1]) || strcasecmp(json_string_value(a[1]), "base64") != 0) return NULL;
    char *s = string_arg(a[0]);
    json_t *r = s ? base64_of((const uint8_t *)s, strlen(s)) : NULL;
    free(s);
    return r;
}

static json_t *f_decode(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n, (void)m;
    if (!json_is_string(a[0]) || !json_is_string(a[1]) ||
        strcasecmp(json_string_value(a[1]), "base64") != 0)
        return NULL;
    const unsigned char *in = (const unsigned char *)json_string_value(a[0]);
    size_t len = json_string_length(a[0]), need = 0;
    if (mbedtls_base64_decode(NULL, 0, &need, in, len) == MBEDTLS_ERR_BASE64_INVALID_CHARACTER)
        return NULL;
    unsigned char *out = malloc(need + 1);
    if (!out || mbedtls_base64_decode(out, need + 1, &need, in, len)) {
        free(out);
        return NULL;
    }
    json_t *r = json_stringn((const char *)out, need); /* NULL unless UTF-8 */
    free(out);
    return r;
}

static json_t *digest(json_t *v, int kind)
{
    char *s = string_arg(v);
    if (!s) return NULL;
    unsigned char h[64];
    size_t hl;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    int rc;
    switch (kind) {
    case 5: rc = mbedtls_md5_ret(p, len, h), hl = 16; break;
    case 1: rc = mbedtls_sha1_ret(p, len, h), hl = 20; break;
    case 224: rc = mbedtls_sha256_ret(p, len, h, 1), hl = 28; break;
    case 256: rc = mbedtls_sha256_ret(p, len, h, 0), hl = 32; break;
    case 384: rc = mbedtls_sha512_ret(p, len, h, 1), hl = 48; break;
    default: rc = mbedtls_sha512_ret(p, len, h, 0), hl = 64; break;
    }
    free(s);
    if (rc) return NULL;
    char hex[129];
    for (size_t i = 0; i < hl; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    return json_string(hex);
}

#define DIGEST(name, kind)                                                                         \
    static json_t *name(json_t **a, size_t n, const struct sql_message *m)                        \
    {                                                                                              \
        (void)n, (void)m;                                                                          \
        return digest(a[0], kind);                                                                 \
    }
DIGEST(f_md5, 5)
DIGEST(f_sha1, 1)
DIGEST(f_sha224, 224)
DIGEST(f_sha256, 256)
DIGEST(f_sha384, 384)
DIGEST(f_sha512, 512)

/* ---- time: parse_time and time_to_epoch ----
 *
 * Both read a Joda-Time pattern: AWS formats parse_time with Joda, and the
 * JDK patterns it documents for time_to_epoch agree on the letters kept here.
 * The calendar is the proleptic Gregorian one, computed below rather than by
 * the C library: zones are UTC and fixed offsets only, so a result never
 * depends on the host's clock, zone database or locale.
 */

#define MS_PER_DAY 86400000LL

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
/* Monday first, as ISO 8601 and Joda number them. */
static const char *const day_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};

/*
 * Days from 1970-01-01 to y-m-d, after Howard Hinnant's days_from_civil:
 * years start in March so that the leap day ends them, and 400-year eras
 * (146097 days each) repeat exactly, so one formula serves every era.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* 0 = Monday; 1970-01-01 was a Thursday. */
static int weekday_of(int64_t days)
{
    return (int)((days % 7 + 10) % 7);
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

struct civil {
    int64_t year; /* 0 is 1 BC, as in Joda */
    int month, day, weekday;
    int hour, minute, second, millis;
};

/* The inverse (Hinnant's civil_from_days), with the time of day. */
static void civil_from_millis(int64_t ms, struct civil *c)
{
    int64_t days = ms / MS_PER_DAY, rest = ms % MS_PER_DAY;
    if (rest < 0) days--, rest += MS_PER_DAY; /* before 1970: round towards the past */
    c->weekday = weekday_of(days);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = yoe + era * 400 + (c->month <= 2);
    c->hour = (int)(rest / 3600000);
    c->minute = (int)(rest / 60000 % 60);
    c->second = (int)(rest / 1000 % 60);
    c->millis = (int)(rest % 1000);
}

/* Epoch milliseconds: an Int as it is, a Decimal truncated towards zero. */
static bool millis_arg(json_t *v, int64_t *out)
{
    json_t *num = v ? sql_to_number(v) : NULL;
    if (!num) return false;
    bool ok = true;
    if (json_is_integer(num)) {
        *out = json_integer_value(num);
    } else {
        double d = json_real_value(num);
        ok = isfinite(d) && fabs(d) < 9.2e18;
        if (ok) *out = (int64_t)d;
    }
    json_decref(num);
    return ok;
}

/* -- patterns -- */

/* One piece of a pattern: a run of one letter ("yyyy"), or one literal byte. */
struct piece {
    char letter; /* 0 for a literal */
    char literal;
    size_t count;
};

struct scanner {
    const char *p, *end;
    bool is_quoted;
};

static bool is_ascii_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * The next piece: 1, or 0 at the end, or -1 for a quote left open (Joda
 * would take the rest as text; the JDK refuses it, and so do we). '' is a
 * quote character, inside quotes or out.
 */
static int next_piece(struct scanner *sc, struct piece *pc)
{
    while (sc->p < sc->end) {
        char c = *sc->p++;
        if (c == '\'' && sc->p < sc->end && *sc->p == '\'') {
            sc->p++;
            *pc = (struct piece){0, '\'', 1};
            return 1;
        }
        if (c == '\'') {
            sc->is_quoted = !sc->is_quoted;
            continue;
        }
        if (sc->is_quoted || !is_ascii_letter(c)) {
            *pc = (struct piece){0, c, 1};
            return 1;
        }
        size_t count = 1;
        for (; sc->p < sc->end && *sc->p == c; sc->p++)
            count++;
        *pc = (struct piece){c, 0, count};
        return 1;
    }
    return sc->is_quoted ? -1 : 0;
}

/* Letters outside this subset are refused (Undefined), as Joda refuses unknown ones. */
static bool is_supported(const struct piece *pc)
{
    switch (pc->letter) {
    case 0:
    case 'G':
    case 'y':
    case 'M':
    case 'd':
    case 'E':
    case 'a':
    case 'H':
    case 'h':
    case 'm':
    case 's':
    case 'S':
    case 'Z':
        return true;
    case 'z':
        return pc->count <= 3; /* zzzz is a long zone name */
    case 'V':
        return pc->count == 2; /* the JDK's zone id */
    default:
        return false;
    }
}

/* Numbers that run into each other ("yyyyMMdd") take fixed widths when read. */
static bool is_numeric(const struct piece *pc)
{
    return pc->letter && strchr("yMdHhmsS", pc->letter) && !(pc->letter == 'M' && pc->count >= 3);
}

static bool next_is_numeric(struct scanner sc)
{
    struct piece pc;
    return next_piece(&sc, &pc) == 1 && is_numeric(&pc);
}

/* -- formatting (parse_time) -- */

struct out {
    char *s;
    size_t len, cap;
    bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed) return;
    if (o->len + n > o->cap) {
        size_t cap = (o->len + n) * 2 + 16;
        char *grown = realloc(o->s, cap);
        if (!grown) {
            o->failed = true;
            return;
        }
        o->s = grown, o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
}

static void put_zeros(struct out *o, size_t n)
{
    for (; n > 0; n--)
        put(o, "0", 1);
}

/* At least `width` digits, zero-padded; a negative number gets a '-' first. */
static void put_number(struct out *o, int64_t v, size_t width)
{
    char digits[24];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = (size_t)snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    if (v < 0) put(o, "-", 1);
    if (n < width) put_zeros(o, width - n);
    put(o, digits, n);
}

/*
 * Joda prints a fraction of a second with at least `width` digits and as
 * many more as it knows (milliseconds), without trailing zeros beyond the
 * width: for 120 ms, S gives "12", SSS "120" and SSSS "1200".
 */
static void put_fraction(struct out *o, int millis, size_t width)
{
    char d[4];
    snprintf(d, sizeof d, "%03d", millis);
    size_t n = 3;
    while (n > width && n > 1 && d[n - 1] == '0')
        n--;
    put(o, d, n);
    if (n < width) put_zeros(o, width - n);
}

static void put_offset(struct out *o, int offset_ms, bool has_colon)
{
    int minutes = abs(offset_ms) / 60000;
    char s[16];
    int n = snprintf(s, sizeof s, "%c%02d%s%02d", offset_ms < 0 ? '-' : '+', minutes / 60,
                     has_colon ? ":" : "", minutes % 60);
    put(o, s, (size_t)n);
}

/* A fixed-offset zone's id is its offset ("+05:30"), as in Joda; zero is "UTC". */
static void put_zone(struct out *o, int offset_ms)
{
    if (offset_ms == 0)
        put(o, "UTC", 3);
    else
        put_offset(o, offset_ms, true);
}

static void put_name(struct out *o, const char *name, size_t count)
{
    put(o, name, count >= 4 ? strlen(name) : 3); /* four letters or more: the full name */
}

static void print_piece(struct out *o, const struct piece *pc, const struct civil *c, int offset_ms)
{
    size_t n = pc->count;
    switch (pc->letter) {
    case 0:
        put(o, &pc->literal, 1);
        break;
    case 'G':
        put(o, c->year > 0 ? "AD" : "BC", 2);
        break;
    case 'y':
        if (n == 2) /* Joda's two-digit year drops the sign */
            put_number(o, (c->year < 0 ? -c->year : c->year) % 100, 2);
        else
            put_number(o, c->year, n);
        break;
    case 'M':
        if (n >= 3)
            put_name(o, month_names[c->month - 1], n);
        else
            put_number(o, c->month, n);
        break;
    case 'd':
        put_number(o, c->day, n);
        break;
    case 'E':
        put_name(o, day_names[c->weekday], n);
        break;
    case 'a':
        put(o, c->hour < 12 ? "AM" : "PM", 2);
        break;
    case 'H':
        put_number(o, c->hour, n);
        break;
    case 'h':
        put_number(o, c->hour % 12 == 0 ? 12 : c->hour % 12, n);
        break;
    case 'm':
        put_number(o, c->minute, n);
        break;
    case 's':
        put_number(o, c->second, n);
        break;
    case 'S':
        put_fraction(o, c->millis, n);
        break;
    case 'Z':
        if (n <= 2)
            put_offset(o, offset_ms, n == 2);
        else
            put_zone(o, offset_ms);
        break;
    default: /* z, VV */
        put_zone(o, offset_ms);
        break;
    }
}

static json_t *format_time(const char *pattern, size_t len, const struct civil *c, int offset_ms)
{
    struct scanner sc = {pattern, pattern + len, false};
    struct out o = {0};
    struct piece pc;
    int rc;
    while ((rc = next_piece(&sc, &pc)) == 1 && is_supported(&pc))
        print_piece(&o, &pc, c, offset_ms);
    json_t *r = rc == 0 && !o.failed ? json_stringn(o.s ? o.s : "", o.len) : NULL;
    free(o.s);
    return r;
}

/* -- reading (time_to_epoch, and the timezone argument) -- */

struct reader {
    const char *p, *end;
};

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Joda matches literals and names in any case. */
static bool read_word(struct reader *r, const char *word, size_t len)
{
    if ((size_t)(r->end - r->p) < len) return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(r->p[i]) != ascii_lower(word[i])) return false;
    r->p += len;
    return true;
}

/* A name, full or in three letters: Joda reads either for MMM and MMMM (EEE, EEEE). */
static bool read_name(struct reader *r, const char *const *names, int count, int *index)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < count; i++) {
            if (read_word(r, names[i], pass == 0 ? strlen(names[i]) : 3)) {
                *index = i;
                return true;
            }
        }
    }
    return false;
}

/* One of two words ("AM"/"PM", "BC"/"AD"): which, 0 or 1. */
static bool read_choice(struct reader *r, const char *first, const char *second, int *which)
{
    if (read_word(r, first, strlen(first)))
        *which = 0;
    else if (read_word(r, second, strlen(second)))
        *which = 1;
    else
        return false;
    return true;
}

/*
 * 1 to max_digits digits, after a sign if is_signed. Never more than nine:
 * they hold any field, and "dddddddddddddddddddd" cannot overflow.
 */
static bool read_number(struct reader *r, size_t max_digits, bool is_signed, int64_t *out,
                        size_t *ndigits)
{
    if (max_digits > 9) max_digits = 9;
    const char *p = r->p;
    bool is_negative = false;
    if (is_signed && p < r->end && (*p == '-' || *p == '+')) is_negative = *p++ == '-';
    int64_t v = 0;
    size_t n = 0;
    for (; n < max_digits && p < r->end && *p >= '0' && *p <= '9'; n++)
        v = v * 10 + (*p++ - '0');
    if (n == 0) return false;
    r->p = p;
    *out = is_negative ? -v : v;
    if (ndigits) *ndigits = n;
    return true;
}

static bool read_field(struct reader *r, size_t count, int lo, int hi, int *out)
{
    int64_t v;
    if (!read_number(r, count > 2 ? count : 2, false, &v, NULL) || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

/* The year ending in yy within 50 years of the pivot, as Joda reads two-digit years. */
static int64_t century_of(int64_t yy, int64_t pivot)
{
    int64_t base = pivot - 50;
    return base + ((yy - base) % 100 + 100) % 100;
}

/*
 * Years read up to nine digits and a sign, but only `count` digits when a
 * number follows. yy reads two digits into the century around the pivot;
 * when no number follows it also takes a longer or signed year as written.
 */
static bool read_year(struct reader *r, size_t count, bool before_number, int64_t pivot,
                      int64_t *year)
{
    size_t digits;
    const char *start = r->p;
    if (count == 2 && before_number) {
        if (!read_number(r, 2, false, year, &digits) || digits != 2) return false;
        *year = century_of(*year, pivot);
        return true;
    }
    if (!read_number(r, before_number ? count : 9, true, year, &digits)) return false;
    bool is_plain_two = digits == 2 && *start != '-' && *start != '+';
    if (count == 2 && is_plain_two) *year = century_of(*year, pivot);
    return true;
}

/* A fraction of a second in up to nine digits: milliseconds are kept, the rest dropped. */
static bool read_fraction(struct reader *r, int *millis)
{
    int ms = 0;
    size_t n = 0;
    for (; n < 9 && r->p < r->end && *r->p >= '0' && *r->p <= '9'; n++, r->p++)
        if (n < 3) ms = ms * 10 + (*r->p - '0');
    if (n == 0) return false;
    for (; n < 3; n++)
        ms *= 10;
    *millis = ms;
    return true;
}

/*
 * "+05:30", "+0530", "+05", "-8", or "Z" for zero: Joda reads Z and ZZ
 * alike, so the JDK's ZZ ("+0000") reads too. Hours stop at 23, as in Joda.
 */
static bool read_offset(struct reader *r, int *offset_ms)
{
    if (r->p < r->end && *r->p == 'Z') {
        r->p++;
        *offset_ms = 0;
        return true;
    }
    if (r->p == r->end || (*r->p != '+' && *r->p != '-')) return false;
    bool is_negative = *r->p++ == '-';
    int64_t hours, minutes = 0;
    size_t digits = 2;
    if (!read_number(r, 2, false, &hours, NULL)) return false;
    bool has_colon = r->p < r->end && *r->p == ':';
    if (has_colon) r->p++;
    bool has_minutes = read_number(r, 2, false, &minutes, &digits);
    if (digits != 2 || (has_colon && !has_minutes) || hours > 23 || minutes > 59) return false;
    int ms = (int)(hours * 60 + minutes) * 60000;
    *offset_ms = is_negative ? -ms : ms;
    return true;
}

/*
 * A zone: UTC, GMT or Z, a fixed offset, or UTC or GMT and an offset
 * ("UTC+01:00"). Region names (America/New_York) need the zone database
 * and its daylight-saving rules: they are not read, so the result is
 * Undefined.
 */
static bool read_zone(struct reader *r, int *offset_ms)
{
    *offset_ms = 0;
    if (read_word(r, "UTC", 3) || read_word(r, "GMT", 3)) {
        bool has_offset = r->p < r->end && (*r->p == '+' || *r->p == '-');
        return !has_offset || read_offset(r, offset_ms);
    }
    return read_offset(r, offset_ms);
}

static bool zone_arg(json_t *v, int *offset_ms)
{
    if (!json_is_string(v)) return false;
    struct reader r = {json_string_value(v), json_string_value(v) + json_string_length(v)};
    return read_zone(&r, offset_ms) && r.p == r.end;
}

/* What a string gave; -1 for what it did not carry. */
struct fields {
    int64_t year;
    int month, day, hour, minute, second, millis;
    int hour12, is_pm, weekday, is_ad;
    int offset_ms;
};

static bool read_piece(struct reader *r, const struct piece *pc, bool before_number, int64_t pivot,
                       struct fields *f)
{
    size_t n = pc->count;
    int month;
    switch (pc->letter) {
    case 0:
        return read_word(r, &pc->literal, 1);
    case 'G':
        return read_choice(r, "BC", "AD", &f->is_ad);
    case 'y':
        return read_year(r, n, before_number, pivot, &f->year);
    case 'M':
        if (n < 3) return read_field(r, n, 1, 12, &f->month);
        if (!read_name(r, month_names, 12, &month)) return false;
        f->month = month + 1;
        return true;
    case 'd':
        return read_field(r, n, 1, 31, &f->day);
    case 'E':
        return read_name(r, day_names, 7, &f->weekday);
    case 'a':
        return read_choice(r, "AM", "PM", &f->is_pm);
    case 'H':
        return read_field(r, n, 0, 23, &f->hour);
    case 'h':
        return read_field(r, n, 1, 12, &f->hour12);
    case 'm':
        return read_field(r, n, 0, 59, &f->minute);
    case 's':
        return read_field(r, n, 0, 59, &f->second);
    case 'S':
        return read_fraction(r, &f->millis);
    case 'Z':
        return n <= 2 ? read_offset(r, &f->offset_ms) : read_zone(r, &f->offset_ms);
    default: /* z, VV */
        return read_zone(r, &f->offset_ms);
    }
}

/*
 * The fields as an instant. A day name or era that disagrees with the date
 * makes the string not match. HH wins over h and a, as it does in Joda.
 */
static bool resolve(const struct fields *f, int64_t *epoch_ms)
{
    int hour = f->hour;
    if (hour < 0) hour = (f->hour12 >= 0 ? f->hour12 % 12 : 0) + (f->is_pm == 1 ? 12 : 0);
    if (f->day > days_in_month(f->year, f->month)) return false;
    int64_t days = days_from_civil(f->year, f->month, f->day);
    if (f->weekday >= 0 && weekday_of(days) != f->weekday) return false;
    if (f->is_ad >= 0 && (f->year > 0) != (f->is_ad == 1)) return false;
    int64_t ms_of_day = ((hour * 60LL + f->minute) * 60 + f->second) * 1000 + f->millis;
    return !__builtin_mul_overflow(days, MS_PER_DAY, epoch_ms) &&
           !__builtin_add_overflow(*epoch_ms, ms_of_day - f->offset_ms, epoch_ms);
}

/* What is absent is 1970-01-01 00:00:00.000 UTC, as Joda starts from the epoch. */
static bool read_time(const char *text, size_t text_len, const char *pattern, size_t len,
                      int64_t pivot, int64_t *epoch_ms)
{
    struct fields f = {.year = 1970,
                       .month = 1,
                       .day = 1,
                       .hour = -1,
                       .hour12 = -1,
                       .is_pm = -1,
                       .weekday = -1,
                       .is_ad = -1};
    struct scanner sc = {pattern, pattern + len, false};
    struct reader r = {text, text + text_len};
    struct piece pc;
    int rc;
    while ((rc = next_piece(&sc, &pc)) == 1) {
        if (!is_supported(&pc) || !read_piece(&r, &pc, next_is_numeric(sc), pivot, &f))
            return false;
    }
    return rc == 0 && r.p == r.end && resolve(&f, epoch_ms);
}

/* parse_time(pattern, epochMillis[, timezone]): the instant as text; UTC by default. */
static json_t *f_parse_time(json_t **a, size_t n, const struct sql_message *m)
{
    (void)m;
    int64_t ms;
    int offset_ms = 0;
    if (!json_is_string(a[0]) || !millis_arg(a[1], &ms)) return NULL;
    if (n == 3 && !zone_arg(a[2], &offset_ms)) return NULL;
    if (__builtin_add_overflow(ms, (int64_t)offset_ms, &ms)) return NULL;
    struct civil c;
    civil_from_millis(ms, &c);
    return format_time(json_string_value(a[0]), json_string_length(a[0]), &c, offset_ms);
}

/*
 * time_to_epoch(timeString, pattern): epoch milliseconds, an Int. Joda puts
 * two-digit years within 50 years of "now" less 30; the message's time
 * stands for now, which keeps the function pure.
 */
static json_t *f_time_to_epoch(json_t **a, size_t n, const struct sql_message *m)
{
    (void)n;
    if (!json_is_string(a[0]) || !json_is_string(a[1])) return NULL;
    struct civil now;
    civil_from_millis(m->timestamp_ms, &now);
    int64_t ms;
    bool ok = read_time(json_string_value(a[0]), json_string_length(a[0]), json_string_value(a[1]),
                        json_string_length(a[1]), now.year - 30, &ms);
    return ok ? json_integer(ms) : NULL;
}

/* ---- the table ---- */

static const struct {
    const char *name;
    sql_fn fn;
} table[] = {
    {"abs", f_abs},         {"accountid", f_accountid},
    {"acos", f_acos},       {"asin", f_asin},
    {"atan", f_atan},       {"atan2", f_atan2},
    {"bitand", f_bitand},   {"bitnot", f_bitnot},
    {"bitor", f_bitor},     {"bitxor", f_bitxor},
    {"ceil", f_ceil},       {"chr", f_chr},
    {"clientid", f_clientid}, {"coalesce", f_coalesce},
    {"concat", f_concat},   {"cos", f_cos},
    {"cosh", f_cosh},       {"decode", f_decode},
    {"encode", f_encode},   {"endswith", f_endswith},
    {"exp", f_exp},         {"floor", f_floor},
    {"get", f_get},         {"get_thing_shadow", f_get_thing_shadow},
    {"indexof", f_indexof}, {"isnull", f_isnull},
    {"isundefined", f_isundefined}, {"length", f_length},
    {"ln", f_ln},           {"log", f_log},
    {"lower", f_lower},     {"lpad", f_lpad},
    {"ltrim", f_ltrim},     {"md5", f_md5},
    {"mod", f_mod},         {"nanvl", f_nanvl},
    {"newuuid", f_newuuid}, {"numbytes", f_numbytes},
    {"parse_time", f_parse_time},
    {"power", f_power},     {"principal", f_principal},
    {"rand", f_rand},       {"regexp_matches", f_regexp_matches},
    {"regexp_replace", f_regexp_replace}, {"regexp_substr", f_regexp_substr},
    {"remainder", f_mod},   {"replace", f_replace},
    {"round", f_round},     {"rpad", f_rpad},
    {"rtrim", f_rtrim},     {"sha1", f_sha1},
    {"sha224", f_sha224},   {"sha256", f_sha256},
    {"sha384", f_sha384},   {"sha512", f_sha512},
    {"sign", f_sign},       {"sin", f_sin},
    {"sinh", f_sinh},       {"sql_version", f_sql_version},
    {"sqrt", f_sqrt},       {"startswith", f_startswith},
    {"substring", f_substring}, {"tan", f_tan},
    {"tanh", f_tanh},       {"time_to_epoch", f_time_to_epoch},
    {"timestamp", f_timestamp},
    {"topic", f_topic},     {"traceid", f_traceid},
    {"trim", f_trim},       {"trunc", f_trunc},
    {"upper", f_upper},
};

bool sql_function_implemented(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0) return true;
    return false;
}

json_t *sql_call(const struct sql_node *n, const struct sql_message *m)
{
    sql_fn fn = NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0] && !fn; i++)
        if (strcmp(table[i].name, n->name) == 0) fn = table[i].fn;
    if (!fn || n->nargs > 16) return NULL;
    json_t *args[16] = {0};
    /* encode(*, 'base64') encodes the raw payload, JSON or not. */
    if (fn == f_encode && n->args[0]->kind == SQL_STAR) {
        json_t *how = sql_eval(n->args[1], m);
        bool ok = json_is_string(how) && strcasecmp(json_string_value(how), "base64") == 0;
        json_decref(how);
        return ok ? base64_of(m->payload ? m->payload : (const uint8_t *)"", m->payload_len)
                  : NULL;
    }
    for (size_t i = 0; i < n->nargs; i++) args[i] = sql_eval(n->args[i], m);
    json_t *r = fn(args, n->nargs, m);
    for (size_t i = 0; i < n->nargs; i++) json_decref(args[i]);
    return r;
}
