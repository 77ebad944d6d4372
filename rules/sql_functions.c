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

static json_t *f_traceid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    return m->trace_id ? json_string(m->trace_id) : NULL;
}

static json_t *f_newuuid(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n;
    uint8_t b[16] = {0};
    if (m->random) m->random(m->ctx, b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    char s[37];
    snprintf(s, sizeof s,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return json_string(s);
}

static json_t *f_sql_version(json_t **a, size_t n, const struct sql_message *m)
{
    (void)a, (void)n, (void)m;
    return json_string("2016-03-23");
}

static json_t *f_get_thing_shadow(json_t **a, size_t n, const struct sql_message *m)
{
    if (!m->get_shadow || !json_is_string(a[0]) || !json_is_string(a[1])) return NULL;
    (void)n; /* the role ARN (third argument) means nothing here */
    return m->get_shadow(m->ctx, json_string_value(a[0]), json_string_value(a[1]));
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
    {"tanh", f_tanh},       {"timestamp", f_timestamp},
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
