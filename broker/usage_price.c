/*
 * usage_price.c - price tables (see usage_price.h): checking one, and
 * pricing a month's usage through its tiers.
 */
#include "usage_price.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/*
 * AWS IoT Core, US East (N. Virginia), list prices as published on
 * https://aws.amazon.com/iot-core/pricing/ (connectivity per minute,
 * messaging in volume tiers per month, shadow and registry operations,
 * rules triggered and actions applied). The free tier is not applied.
 */
const char usage_price_default[] =
    "{\"name\": \"AWS IoT Core list prices\", \"region\": \"us-east-1\", \"currency\": \"USD\","
    " \"readOn\": \"2026-12-03\", \"source\": \"https://aws.amazon.com/iot-core/pricing/\","
    " \"prices\": {"
    "\"connectionMinutes\": [{\"perMillion\": 0.08}],"
    " \"messages\": [{\"upTo\": 1000000000, \"perMillion\": 1.00},"
    " {\"upTo\": 5000000000, \"perMillion\": 0.80}, {\"perMillion\": 0.70}],"
    " \"registryShadowOperations\": [{\"perMillion\": 1.25}],"
    " \"rulesTriggered\": [{\"perMillion\": 0.15}],"
    " \"actionsApplied\": [{\"perMillion\": 0.15}]}}";

static int fail(char *err, size_t errlen, const char *fmt, const char *a)
{
    snprintf(err, errlen, fmt, a);
    return -1;
}

static int parse_tier(const json_t *t, const char *name, uint64_t after, struct usage_tier *out,
                      int is_last, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    if (!json_is_object(t)) return fail(err, errlen, "prices.%s: a tier must be an object", name);
    json_object_foreach((json_t *)t, k, v)
    {
        if (strcmp(k, "upTo") != 0 && strcmp(k, "perMillion") != 0)
            return fail(err, errlen, "prices.%s: unknown tier key (only upTo and perMillion)",
                        name);
    }
    json_t *price = json_object_get(t, "perMillion");
    if (!json_is_number(price) || !isfinite(json_number_value(price)) ||
        json_number_value(price) < 0 || json_number_value(price) > 1e9)
        return fail(err, errlen, "prices.%s: perMillion must be a number from 0 to 1e9", name);
    out->per_million = json_number_value(price);
    json_t *up = json_object_get(t, "upTo");
    if (is_last) {
        if (up) return fail(err, errlen, "prices.%s: the last tier has no upTo", name);
        out->up_to = 0;
        return 0;
    }
    if (!json_is_integer(up) || json_integer_value(up) <= 0 ||
        (uint64_t)json_integer_value(up) <= after)
        return fail(err, errlen,
                    "prices.%s: every tier but the last needs an integer upTo above the one "
                    "before",
                    name);
    out->up_to = (uint64_t)json_integer_value(up);
    return 0;
}

static int parse_prices(const json_t *prices, struct usage_price_table *out, char *err,
                        size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)prices, k, v)
    {
        int known = 0;
        for (int c = 0; c < USAGE_NCOUNTERS; c++)
            known |= strcmp(k, usage_counter_names[c]) == 0;
        if (!known) return fail(err, errlen, "prices: unknown quantity \"%.64s\"", k);
    }
    for (int c = 0; c < USAGE_NCOUNTERS; c++) {
        const char *name = usage_counter_names[c];
        json_t *tiers = json_object_get(prices, name);
        size_t n = json_array_size(tiers);
        if (!json_is_array(tiers) || n == 0 || n > USAGE_MAX_TIERS)
            return fail(err, errlen, "prices.%s: must be an array of 1 to 8 tiers", name);
        uint64_t after = 0;
        for (size_t i = 0; i < n; i++) {
            struct usage_tier *t = &out->tiers[c][i];
            if (parse_tier(json_array_get(tiers, i), name, after, t, i + 1 == n, err, errlen))
                return -1;
            after = t->up_to;
        }
        out->ntiers[c] = (unsigned)n;
    }
    return 0;
}

static const char *const top_keys[] = {"name",   "region", "currency", "readOn",
                                       "source", "note",   "prices"};

static int check_top(const json_t *doc, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        size_t i = 0;
        while (i < sizeof top_keys / sizeof top_keys[0] && strcmp(k, top_keys[i]) != 0)
            i++;
        if (i == sizeof top_keys / sizeof top_keys[0])
            return fail(err, errlen, "unknown key \"%.64s\"", k);
        if (strcmp(k, "prices") != 0 && !json_is_string(v))
            return fail(err, errlen, "%s must be a string", k);
    }
    if (!json_is_string(json_object_get(doc, "readOn")))
        return fail(err, errlen, "%s", "readOn (the date the prices were read) is required");
    json_t *cur = json_object_get(doc, "currency");
    if (cur && strcmp(json_string_value(cur), "USD") != 0)
        return fail(err, errlen, "%s", "currency must be USD");
    if (!json_is_object(json_object_get(doc, "prices")))
        return fail(err, errlen, "%s", "prices must be an object");
    return 0;
}

int usage_price_parse(const char *text, size_t len, struct usage_price_table *out, json_t **doc,
                      char *err, size_t errlen)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    if (doc) *doc = NULL;
    json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!d) {
        snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
        return -1;
    }
    int rc = json_is_object(d) ? 0 : fail(err, errlen, "%s", "the table must be a JSON object");
    if (!rc) rc = check_top(d, err, errlen);
    if (!rc) rc = parse_prices(json_object_get(d, "prices"), out, err, errlen);
    if (rc || !doc)
        json_decref(d);
    else
        *doc = d;
    return rc;
}

double usage_price_cost(const struct usage_price_table *t, enum usage_counter c, uint64_t quantity)
{
    double cost = 0;
    uint64_t start = 0; /* where this tier begins */
    for (unsigned i = 0; i < t->ntiers[c] && quantity > start; i++) {
        const struct usage_tier *tier = &t->tiers[c][i];
        uint64_t end = tier->up_to && tier->up_to < quantity ? tier->up_to : quantity;
        cost += (double)(end - start) * tier->per_million / 1e6;
        start = end;
    }
    return cost;
}
