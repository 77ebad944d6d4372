/*
 * fuzz_sql_json.c - libFuzzer target for the rules engine's JSON writer:
 * whatever jansson parses (any value, NUL bytes in strings allowed) must be
 * written as text that parses back to an equal value with bit-identical
 * reals, byte for byte what json_dumps writes when no real is involved, and
 * unchanged by a second trip; each real is written as the rule says
 * (%.*g at the first precision from 15 to 17 that reads back, in jansson's
 * spelling), whichever path the writer took. The input as one unchecked string must be
 * written exactly as json_dumps writes it, or refused exactly when
 * json_dumps refuses it (bytes that are not UTF-8).
 */
#include "rules/sql_json.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)
#define JANSSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The rule for one real, the slow way (as in tests/unit/test_sql_json.c). */
#define REFERENCE_SIZE 80
static void reference_text(double d, char out[REFERENCE_SIZE])
{
    char text[40];
    int precision = d != 0 && fabs(d) < DBL_MIN ? 1 : 15;
    do
        snprintf(text, sizeof text, "%.*g", precision, d);
    while (strtod(text, NULL) != d && ++precision <= 17);
    char *e = strchr(text, 'e');
    if (e) {
        *e = '\0';
        snprintf(out, REFERENCE_SIZE, "%se%d", text, atoi(e + 1));
    } else {
        snprintf(out, REFERENCE_SIZE, "%s%s", text, strchr(text, '.') ? "" : ".0");
    }
}

static void check_real_text(const json_t *real)
{
    char want[REFERENCE_SIZE];
    reference_text(json_real_value(real), want);
    char *got = sql_json_dump(real, NULL);
    CHECK(got && strcmp(got, want) == 0);
    free(got);
}

/* a and b are json_equal; check that their reals have the same bits (-0.0
 * equals 0.0 for json_equal) and the rule's text, and count them. */
static size_t same_reals(const json_t *a, const json_t *b)
{
    size_t n = 0;
    if (json_is_real(a)) {
        double x = json_real_value(a), y = json_real_value(b);
        CHECK(memcmp(&x, &y, sizeof x) == 0);
        check_real_text(a);
        return 1;
    }
    if (json_is_array(a)) {
        for (size_t i = 0; i < json_array_size(a); i++)
            n += same_reals(json_array_get(a, i), json_array_get(b, i));
    } else if (json_is_object(a)) {
        json_t *obj = (json_t *)a;
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it))
            n += same_reals(
                json_object_iter_value(it),
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it)));
    }
    return n;
}

static void check_value(const json_t *v)
{
    size_t len;
    char *text = sql_json_dump(v, &len);
    CHECK(text); /* parsed, so UTF-8 and within jansson's depth limit */
    CHECK(len == strlen(text));

    json_error_t err;
    json_t *back = json_loadb(text, len, LOAD_FLAGS, &err);
    CHECK(back);
    CHECK(json_equal(back, v));
    if (same_reals(v, back) == 0) {
        char *jansson = json_dumps(v, JANSSON_FLAGS);
        CHECK(jansson && strcmp(jansson, text) == 0);
        free(jansson);
    }
    char *again = sql_json_dump(back, NULL);
    CHECK(again && strcmp(again, text) == 0);
    free(again);
    json_decref(back);
    free(text);
}

static void check_raw_string(const uint8_t *data, size_t size)
{
    json_t *s = json_stringn_nocheck((const char *)data, size);
    if (!s) return;
    char *text = sql_json_dump(s, NULL), *jansson = json_dumps(s, JANSSON_FLAGS);
    CHECK(!text == !jansson);
    CHECK(!text || strcmp(text, jansson) == 0);
    free(text);
    free(jansson);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *v = json_loadb((const char *)data, size, LOAD_FLAGS, &err);
    if (v) check_value(v);
    json_decref(v);
    check_raw_string(data, size);
    return 0;
}
