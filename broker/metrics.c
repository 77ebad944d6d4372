/*
 * metrics.c - Prometheus text exposition and fixed-bucket histograms.
 *
 * Numbers are written so that Prometheus reads them back exactly: counters
 * as integers, other values with 17 significant digits unless a shorter
 * form is exact, and the special values as +Inf, -Inf and NaN.
 */
#include "metrics.h"

#include "error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const uint32_t metrics_latency_nbounds =
    sizeof metrics_latency_bounds / sizeof metrics_latency_bounds[0];

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds, uint32_t nbounds)
{
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds < METRICS_MAX_BUCKETS ? nbounds : METRICS_MAX_BUCKETS;
}

void metrics_histogram_observe(struct metrics_histogram *h, double value)
{
    /* Buckets are upper bounds, inclusive (le): a value on a bound counts in it. */
    uint32_t i = 0;
    while (i < h->nbounds && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += value;
}

static int put(struct buf *out, const char *s, size_t n)
{
    return buf_append(out, s, n) ? UMBRA_ENOMEM : 0;
}

static int puts_(struct buf *out, const char *s)
{
    return put(out, s, strlen(s));
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static int escape(struct buf *out, const char *s, int is_label)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\'              ? "\\\\"
                          : *s == '\n'            ? "\\n"
                          : *s == '"' && is_label ? "\\\""
                                                  : NULL;
        if (!rep) continue;
        if (put(out, run, (size_t)(s - run)) || puts_(out, rep)) return UMBRA_ENOMEM;
        run = s + 1;
    }
    return put(out, run, (size_t)(s - run));
}

int metrics_escape_label(struct buf *out, const char *value)
{
    return escape(out, value, 1);
}

int metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
    if (puts_(out, "# HELP ") || puts_(out, name) || puts_(out, " ") || escape(out, help, 0) ||
        puts_(out, "\n# TYPE ") || puts_(out, name) || puts_(out, " ") || puts_(out, type) ||
        puts_(out, "\n"))
        return UMBRA_ENOMEM;
    return 0;
}

static int series(struct buf *out, const char *name, const char *suffix,
                  const struct metrics_label *labels, size_t nlabels)
{
    if (puts_(out, name) || puts_(out, suffix)) return UMBRA_ENOMEM;
    if (!nlabels) return 0;
    for (size_t i = 0; i < nlabels; i++)
        if (puts_(out, i ? "," : "{") || puts_(out, labels[i].name) || puts_(out, "=\"") ||
            escape(out, labels[i].value ? labels[i].value : "", 1) || puts_(out, "\""))
            return UMBRA_ENOMEM;
    return puts_(out, "}");
}

static void format_double(char *text, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(text, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(text, cap, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        /* The shortest of %.15g and %.17g that reads back as v. */
        snprintf(text, cap, "%.15g", v);
        if (strtod(text, NULL) != v) snprintf(text, cap, "%.17g", v);
    }
}

static int value_line(struct buf *out, const char *text)
{
    if (puts_(out, " ") || puts_(out, text) || puts_(out, "\n")) return UMBRA_ENOMEM;
    return 0;
}

int metrics_u64(struct buf *out, const char *name, const struct metrics_label *labels,
                size_t nlabels, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    return series(out, name, "", labels, nlabels) || value_line(out, text) ? UMBRA_ENOMEM : 0;
}

int metrics_double(struct buf *out, const char *name, const struct metrics_label *labels,
                   size_t nlabels, double value)
{
    char text[40];
    format_double(text, sizeof text, value);
    return series(out, name, "", labels, nlabels) || value_line(out, text) ? UMBRA_ENOMEM : 0;
}

#define HISTOGRAM_MAX_LABELS 4

int metrics_histogram_write(struct buf *out, const char *name, const struct metrics_label *labels,
                            size_t nlabels, const struct metrics_histogram *h)
{
    if (nlabels > HISTOGRAM_MAX_LABELS) return UMBRA_EINVAL;
    struct metrics_label with_le[HISTOGRAM_MAX_LABELS + 1];
    if (nlabels) memcpy(with_le, labels, nlabels * sizeof *labels);
    uint64_t cumulative = 0;
    char le[40], text[32];
    for (uint32_t i = 0; i <= h->nbounds; i++) {
        cumulative += h->counts[i];
        if (i < h->nbounds)
            format_double(le, sizeof le, h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        with_le[nlabels] = (struct metrics_label){"le", le};
        snprintf(text, sizeof text, "%llu", (unsigned long long)cumulative);
        if (series(out, name, "_bucket", with_le, nlabels + 1) || value_line(out, text))
            return UMBRA_ENOMEM;
    }
    char sum[40];
    format_double(sum, sizeof sum, h->sum);
    snprintf(text, sizeof text, "%llu", (unsigned long long)h->count);
    if (series(out, name, "_sum", labels, nlabels) || value_line(out, sum) ||
        series(out, name, "_count", labels, nlabels) || value_line(out, text))
        return UMBRA_ENOMEM;
    return 0;
}
