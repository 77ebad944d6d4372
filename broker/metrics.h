/*
 * metrics.h - the Prometheus text exposition format (version 0.0.4) and a
 * histogram with fixed buckets.
 *
 * The scrape handler writes families with metrics_family() (# HELP and
 * # TYPE) followed by their samples. Label values are escaped here
 * (backslash, double quote, newline), so a caller may pass any bytes an
 * operator chose (a rule name); callers never pass what clients choose.
 *
 * A histogram counts observations per bucket, not cumulatively: observing
 * is a short scan over at most METRICS_MAX_BUCKETS bounds and one add, and
 * the cumulative `_bucket{le=...}` series are summed only when written.
 *
 * Pure: no I/O, no globals. Writers append to a struct buf and return 0 or
 * UMBRA_ENOMEM; after a failure the buffer holds a truncated text.
 */
#ifndef UMBRA_METRICS_H
#define UMBRA_METRICS_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

struct metrics_label {
    const char *name; /* [a-zA-Z_][a-zA-Z0-9_]*, never escaped */
    const char *value;
};

#define METRICS_MAX_BUCKETS 16

struct metrics_histogram {
    const double *bounds; /* ascending upper bounds, borrowed (static tables) */
    uint32_t nbounds;
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* last: above every bound (+Inf) */
    uint64_t count;
    double sum;
};

/* Latency buckets in seconds, 100 us to 10 s. */
extern const double metrics_latency_bounds[];
extern const uint32_t metrics_latency_nbounds;

/* bounds (ascending, at most METRICS_MAX_BUCKETS) must outlive h. */
void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, uint32_t nbounds);
void metrics_histogram_observe(struct metrics_histogram *h, double value);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
int metrics_family(struct buf *out, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. An integer value is written exactly. */
int metrics_u64(struct buf *out, const char *name, const struct metrics_label *labels,
                size_t nlabels, uint64_t value);
int metrics_double(struct buf *out, const char *name, const struct metrics_label *labels,
                   size_t nlabels, double value);
/* name_bucket{labels,le="..."} (cumulative, ending with +Inf), name_sum, name_count. */
int metrics_histogram_write(struct buf *out, const char *name, const struct metrics_label *labels,
                            size_t nlabels, const struct metrics_histogram *h);

/* A label value as the format quotes it (without the quotes). */
int metrics_escape_label(struct buf *out, const char *value);

#endif
