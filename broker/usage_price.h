/*
 * usage_price.h - price tables and what usage costs under them. Pure: JSON
 * text in, dollars out; no I/O, no clock.
 *
 * A price table names, for each metered quantity (usage_rules.h), its
 * tiers in US dollars per million units. Tiers are by monthly volume, as
 * AWS's messaging tiers are (first billion, next four billion, beyond):
 *
 *   {"readOn": "2026-12-03", "region": "us-east-1", "source": "URL",
 *    "prices": {"messages": [{"upTo": 1000000000, "perMillion": 1.00},
 *                            {"upTo": 5000000000, "perMillion": 0.80},
 *                            {"perMillion": 0.70}], ...}}
 *
 * "upTo" is where a tier ends, in units per month counted from zero; the
 * last tier has none. Every quantity must be priced ("perMillion": 0 for
 * free); unknown keys are refused, so a misspelt one cannot price as zero.
 */
#ifndef UMBRA_USAGE_PRICE_H
#define UMBRA_USAGE_PRICE_H

#include "usage_rules.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define USAGE_MAX_TIERS 8

struct usage_tier {
    uint64_t up_to; /* 0: no limit (the last tier) */
    double per_million;
};

struct usage_price_table {
    struct usage_tier tiers[USAGE_NCOUNTERS][USAGE_MAX_TIERS];
    unsigned ntiers[USAGE_NCOUNTERS];
};

/* The built-in table: AWS IoT Core's us-east-1 list prices (JSON text). */
extern const char usage_price_default[];

/*
 * Parse and check a price table. 0 with *out filled and, when doc is not
 * NULL, *doc the table as JSON (caller decrefs); or -1 with a message in
 * err naming the problem (and its line for JSON syntax errors).
 */
int usage_price_parse(const char *text, size_t len, struct usage_price_table *out, json_t **doc,
                      char *err, size_t errlen);

/* The cost in dollars of `quantity` units of c used in one month. */
double usage_price_cost(const struct usage_price_table *t, enum usage_counter c, uint64_t quantity);

#endif
