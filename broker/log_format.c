/*
 * log_format.c - rendering a log record as a text or a JSON line.
 *
 * Everything goes through a bounded writer that keeps a few bytes in
 * reserve: whatever was cut, the reserve still closes the open JSON string
 * and object and ends the line, so a long client id costs its tail, never
 * the line's syntax.
 */
#include "log_format.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* '"', '}' and '\n': what closes a JSON line cut in the middle of a string. */
#define RESERVE 3

struct writer {
    char *p;
    size_t len, cap;
    bool is_full; /* something did not fit: write nothing more but the closing */
};

/* Append n bytes if they fit before the reserve, else mark the line full. */
static bool put(struct writer *w, const char *s, size_t n)
{
    if (w->is_full || w->len + n > w->cap - RESERVE) {
        w->is_full = true;
        return false;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    return true;
}

static bool puts_(struct writer *w, const char *s)
{
    return put(w, s, strlen(s));
}

/* The closing bytes, which the reserve always has room for. */
static void put_reserved(struct writer *w, char c)
{
    if (w->len < w->cap) w->p[w->len++] = c;
}

const char *log_format_level_name(int level)
{
    return level_names[level < 0 ? 0 : level > 3 ? 3 : level];
}

int log_format_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "text") == 0) return LOG_FORMAT_TEXT;
    if (strcmp(name, "json") == 0) return LOG_FORMAT_JSON;
    return -1;
}

/* "2026-01-02T03:04:05.678Z" */
static void put_time(struct writer *w, const struct log_record *r)
{
    time_t t = (time_t)r->time_sec;
    struct tm tm;
    char buf[64];
    if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ",
             r->time_ms < 0 || r->time_ms > 999 ? 0 : r->time_ms);
    puts_(w, buf);
}

static const struct log_field *find_field(const struct log_record *r, const char *key, size_t len)
{
    for (size_t i = 0; i < r->nfields; i++)
        if (strncmp(r->fields[i].key, key, len) == 0 && r->fields[i].key[len] == '\0')
            return &r->fields[i];
    return NULL;
}

/* Does the template name this field as {key}? */
static bool template_names(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{'))
        if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '}') return true;
    return false;
}

/* ---- JSON ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* The escaped bytes of s (no quotes); each escape goes in whole or not at all. */
static void put_json_chars(struct writer *w, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && !w->is_full;) {
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(w, esc, 2);
        } else if (c == '\n') {
            put(w, "\\n", 2);
        } else if (c == '\r') {
            put(w, "\\r", 2);
        } else if (c == '\t') {
            put(w, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            /* DEL is legal JSON, but escaped it cannot drive a terminal. */
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(w, esc, 6);
        } else if (c < 0x80) {
            put(w, (const char *)&u[i], 1);
        } else {
            size_t len = utf8_sequence(u + i, n - i);
            if (len) {
                put(w, (const char *)&u[i], len);
                i += len;
                continue;
            }
            put(w, "\\ufffd", 6);
        }
        i++;
    }
}

static void put_json_string(struct writer *w, const char *s, size_t n)
{
    if (!put(w, "\"", 1)) return;
    put_json_chars(w, s, n);
    /* Opened, so closed, even when cut short. */
    put_reserved(w, '"');
}

/* ,"key": */
static bool put_json_key(struct writer *w, const char *key)
{
    if (!put(w, ",", 1)) return false;
    put_json_string(w, key, strlen(key));
    return put(w, ":", 1);
}

/* The template with the fields substituted, as the text format shows it,
 * but JSON-escaped (the "msg" member). */
static void put_json_msg(struct writer *w, const struct log_record *r)
{
    const char *t = r->text ? r->text : "";
    if (!put(w, "\"", 1)) return;
    const char *end = t + strlen(t);
    for (const char *p = t; p < end && !w->is_full;) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        const struct log_field *f =
            close && r->nfields ? find_field(r, open + 1, (size_t)(close - open - 1)) : NULL;
        if (!f) {
            size_t n = open ? (size_t)(open - p) + 1 : (size_t)(end - p);
            put_json_chars(w, p, n);
            p += n;
            continue;
        }
        put_json_chars(w, p, (size_t)(open - p));
        char num[32];
        if (f->type == LOG_FIELD_STR) {
            const char *v = f->str ? f->str : "?";
            put_json_chars(w, v, strlen(v));
        } else {
            snprintf(num, sizeof num, "%lld", f->num);
            put_json_chars(w, num, strlen(num));
        }
        p = close + 1;
    }
    put_reserved(w, '"');
}

static void put_json_field(struct writer *w, const struct log_field *f)
{
    if (f->type == LOG_FIELD_STR && !f->str) return;
    /* A key with no room for its value would break the object. */
    size_t need = strlen(f->key) + 4 + (f->type == LOG_FIELD_STR ? 2 : 21);
    if (w->len + need > w->cap - RESERVE) {
        w->is_full = true;
        return;
    }
    put_json_key(w, f->key);
    char num[32];
    switch (f->type) {
    case LOG_FIELD_STR:
        put_json_string(w, f->str, strlen(f->str));
        break;
    case LOG_FIELD_INT:
        snprintf(num, sizeof num, "%lld", f->num);
        puts_(w, num);
        break;
    case LOG_FIELD_BOOL:
    case LOG_FIELD_FLAG:
        puts_(w, f->num ? "true" : "false");
        break;
    }
}

static size_t format_json(struct writer *w, const struct log_record *r)
{
    puts_(w, "{\"time\":\"");
    put_time(w, r);
    puts_(w, "\",\"level\":\"");
    puts_(w, log_format_level_name(r->level));
    puts_(w, "\",\"event\":");
    const char *event = r->event ? r->event : "message";
    put_json_string(w, event, strlen(event));
    if (put(w, ",\"msg\":", 7)) put_json_msg(w, r);
    for (size_t i = 0; i < r->nfields && !w->is_full; i++)
        put_json_field(w, &r->fields[i]);
    put_reserved(w, '}');
    put_reserved(w, '\n');
    return w->len;
}

/* ---- text ---- */

static void put_text_value(struct writer *w, const struct log_field *f)
{
    char num[32];
    if (f->type == LOG_FIELD_STR) {
        puts_(w, f->str ? f->str : "?");
        return;
    }
    snprintf(num, sizeof num, "%lld", f->num);
    puts_(w, num);
}

static size_t format_text(struct writer *w, const struct log_record *r)
{
    put_time(w, r);
    char level[8];
    snprintf(level, sizeof level, " %-5s ", log_format_level_name(r->level));
    puts_(w, level);
    size_t start = w->len;
    const char *t = r->text ? r->text : "";
    for (const char *p = t; *p && !w->is_full;) {
        const char *open = strchr(p, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        const struct log_field *f =
            close && r->nfields ? find_field(r, open + 1, (size_t)(close - open - 1)) : NULL;
        if (!f) {
            size_t n = open ? (size_t)(open - p) + 1 : strlen(p);
            put(w, p, n);
            p += n;
            continue;
        }
        put(w, p, (size_t)(open - p));
        put_text_value(w, f);
        p = close + 1;
    }
    for (size_t i = 0; i < r->nfields && !w->is_full; i++) {
        const struct log_field *f = &r->fields[i];
        if (f->is_json_only || template_names(t, f->key)) continue;
        if (f->type == LOG_FIELD_STR && !f->str) continue;
        if (f->type == LOG_FIELD_FLAG) {
            if (f->num && put(w, " ", 1)) puts_(w, f->key);
            continue;
        }
        if (put(w, " ", 1) && puts_(w, f->key) && put(w, "=", 1)) put_text_value(w, f);
    }
    /* A control character from a client must not start a forged line or
     * drive a terminal. */
    for (size_t i = start; i < w->len; i++)
        if ((unsigned char)w->p[i] < 0x20 || w->p[i] == 0x7f) w->p[i] = '?';
    put_reserved(w, '\n');
    return w->len;
}

size_t log_format_line(char *out, size_t cap, enum log_format format, const struct log_record *r)
{
    struct writer w = {out, 0, cap < LOG_LINE_MIN ? 0 : cap, false};
    if (!w.cap) return 0;
    return format == LOG_FORMAT_JSON ? format_json(&w, r) : format_text(&w, r);
}
