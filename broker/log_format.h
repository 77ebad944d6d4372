/*
 * log_format.h - one log line, as text or as JSON, into the caller's buffer.
 *
 * Pure: no clock, no I/O, no globals; log.c adds the time and writes the
 * line. An event is a short stable name ("client_connected"), a template of
 * human words with {placeholders} for its fields ("client connected:
 * id={client_id} addr={address}"), and the fields themselves. The text
 * format substitutes the fields into the template and appends the fields
 * the template does not name as " key=value", so text lines read as they
 * always have; the JSON format writes each field as a member, so a log
 * collector never has to parse the words.
 *
 * Values come from the network (client ids, topics): the text format turns
 * control characters into '?', the JSON format escapes them and replaces
 * bytes that are not UTF-8 with U+FFFD, so neither can forge a line.
 */
#ifndef UMBRA_LOG_FORMAT_H
#define UMBRA_LOG_FORMAT_H

#include <stdint.h>
#include <stddef.h>

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

enum log_field_type {
    LOG_FIELD_STR,  /* str; NULL leaves the field out ("?" where the template names it) */
    LOG_FIELD_INT,  /* num */
    LOG_FIELD_BOOL, /* num: text 1/0, JSON true/false */
    LOG_FIELD_FLAG, /* num: text a bare " key" when set, nothing otherwise; JSON true/false */
};

struct log_field {
    const char *key; /* JSON member name and placeholder name: client_id, address, reason */
    enum log_field_type type;
    const char *str;
    long long num;
    int is_json_only; /* the template's words already say it: never appended to text */
};

/* Field constructors for the log_event() macro of log.h. */
#define LOG_STR(k, v)                                                                              \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_STR, .str = (v)                                              \
    }
#define LOG_INT(k, v)                                                                              \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_INT, .num = (long long)(v)                                   \
    }
#define LOG_BOOL(k, v)                                                                             \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_BOOL, .num = (v) ? 1 : 0                                     \
    }
#define LOG_FLAG(k, v)                                                                             \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_FLAG, .num = (v) ? 1 : 0                                     \
    }
#define LOG_JSON_STR(k, v)                                                                         \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_STR, .str = (v), .is_json_only = 1                           \
    }
#define LOG_JSON_BOOL(k, v)                                                                        \
    {                                                                                              \
        .key = (k), .type = LOG_FIELD_BOOL, .num = (v) ? 1 : 0, .is_json_only = 1                  \
    }

struct log_record {
    int64_t time_sec; /* UTC seconds since the epoch */
    int time_ms;      /* 0..999 */
    int level;        /* enum umbra_log_level */
    const char *event;
    const char *text; /* template; with no fields, taken literally */
    const struct log_field *fields;
    size_t nfields;
};

/* The smallest buffer log_format_line accepts. */
#define LOG_LINE_MIN 128

/*
 * Write one line, ending in '\n', into out (cap >= LOG_LINE_MIN). Returns
 * its length, at most cap; no NUL is written. A line that does not fit is
 * cut short, but stays one line, and in JSON one complete object.
 */
size_t log_format_line(char *out, size_t cap, enum log_format format, const struct log_record *r);

/* "text" or "json"; -1 for anything else. */
int log_format_parse(const char *name);
/* "error", "warn", "info", "debug" (static). */
const char *log_format_level_name(int level);

#endif
