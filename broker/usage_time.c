/*
 * usage_time.c - reading and writing get-usage's times (usage_time.h).
 *
 * Every field is read with its exact number of digits and range-checked
 * before timegm() sees it, so text never reaches the C library unchecked
 * and no time zone or locale of the host applies.
 */
#include "usage_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* n digits at *p into *v, advancing *p. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c) return false;
    (*p)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && is_leap ? 29 : days[m - 1];
}

static int parse_epoch(const char *s, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (p - s >= 12) return -1; /* past year 9999 */
        v = v * 10 + (*p - '0');
    }
    if (p == s) return -1;
    if (*p == '.') /* a fraction of a second: dropped */
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p || v > 253402300799) return -1;
    *out = v;
    return 0;
}

/* Z, +HH:MM, +HHMM, -HH:MM or nothing (UTC): seconds east of UTC. */
static bool parse_zone(const char **p, int *offset)
{
    *offset = 0;
    if (**p == '\0') return true;
    if (expect(p, 'Z') || expect(p, 'z')) return true;
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0;
    int h, m;
    if (!sign) return false;
    (*p)++;
    if (!digits(p, 2, &h)) return false;
    expect(p, ':');
    if (!digits(p, 2, &m) || h > 23 || m > 59) return false;
    *offset = sign * (h * 3600 + m * 60);
    return true;
}

static bool parse_clock(const char **p, struct tm *tm)
{
    if (!digits(p, 2, &tm->tm_hour) || !expect(p, ':') || !digits(p, 2, &tm->tm_min)) return false;
    if (expect(p, ':') && !digits(p, 2, &tm->tm_sec)) return false;
    if (expect(p, '.') || expect(p, ',')) {
        const char *start = *p;
        while (**p >= '0' && **p <= '9')
            (*p)++;
        if (*p == start) return false;
    }
    return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 59;
}

int usage_parse_time(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    if (strlen(s) < 10 || s[4] != '-') return parse_epoch(s, out);
    const char *p = s;
    struct tm tm = {0};
    int y, mo, d, offset;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
    if ((*p == 'T' || *p == 't' || *p == ' ') && (p++, !parse_clock(&p, &tm))) return -1;
    if (!parse_zone(&p, &offset) || *p) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    int64_t t = (int64_t)timegm(&tm) - offset;
    if (t < 0) return -1;
    *out = t;
    return 0;
}

void usage_format_time(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char text[64];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, text, 20);
    out[20] = '\0';
}
