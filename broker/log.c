/* log.c - timestamped, levelled log lines on stderr, written with one call. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* Room for a long client id or topic, escaped, with the rest of the line. */
#define LINE_MAX_BYTES 4096

static int current_level = UMBRA_LOG_INFO;
static int current_format = LOG_FORMAT_TEXT;

void umbra_log_set_level(int level)
{
    current_level = level;
}

int umbra_log_get_level(void)
{
    return current_level;
}

int umbra_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, log_format_level_name(i)) == 0) return i;
    return -1;
}

void umbra_log_set_format(int format)
{
    current_format = format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
}

int umbra_log_get_format(void)
{
    return current_format;
}

static void emit(int level, const char *event, const char *text, const struct log_field *fields,
                 size_t nfields)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct log_record r = {
        .time_sec = tv.tv_sec,
        .time_ms = (int)(tv.tv_usec / 1000),
        .level = level,
        .event = event,
        .text = text,
        .fields = fields,
        .nfields = nfields,
    };
    char line[LINE_MAX_BYTES];
    size_t n = log_format_line(line, sizeof line, (enum log_format)current_format, &r);
    /* One write per line so lines from a crash or a pipe never interleave. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void umbra_log(int level, const char *fmt, ...)
{
    if (level > current_level) return;
    char text[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (m < 0) text[0] = '\0';
    emit(level, "message", text, NULL, 0);
}

void umbra_log_event(int level, const char *event, const char *text, const struct log_field *fields,
                     size_t nfields)
{
    if (level > current_level) return;
    emit(level, event, text, fields, nfields);
}
