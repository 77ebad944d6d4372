/*
 * usage_time.h - the times get-usage takes and prints: ISO 8601 in UTC
 * (2026-12-03T10:00:00Z, with an optional offset, fraction, or only the
 * date) or epoch seconds, as the AWS CLI accepts them. Pure: no clock.
 */
#ifndef UMBRA_USAGE_TIME_H
#define UMBRA_USAGE_TIME_H

#include <stdint.h>

/* 0 and *out (epoch seconds, a fraction dropped), or -1 for text that is
 * not such a time (or is before 1970 or after 9999). s is NUL-terminated. */
int usage_parse_time(const char *s, int64_t *out);

/* "YYYY-MM-DDTHH:MM:SSZ" for epoch seconds t (0 <= t < year 10000). */
void usage_format_time(int64_t t, char out[21]);

#endif
