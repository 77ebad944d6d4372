/* log.c - timestamped, levelled log lines on stderr, written with one call. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int current_level = UMBRA_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

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
        if (strcmp(name, level_names[i]) == 0) return i;
    return -1;
}

void umbra_log(int level, const char *fmt, ...)
{
    if (level > current_level) return;
    char line[1024];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03dZ %-5s ", (int)(tv.tv_usec / 1000),
                          level_names[level < 0   ? 0
                                      : level > 3 ? 3
                                                  : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t start = n;
    n += (size_t)m;
    if (n > sizeof line - 2) n = sizeof line - 2;
    /* Client ids and topics come from the network: a control character in
     * one must not start a forged log line or drive a terminal. */
    for (size_t i = start; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) line[i] = '?';
    line[n++] = '\n';
    /* One write per line so lines from a crash or a pipe never interleave. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
