/*
 * sql_json.h - the JSON text of a rule's result, as AWS IoT writes it.
 *
 * The bytes are json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) except for
 * reals: jansson prints 17 significant digits, so a device's 90.1 would be
 * republished as 90.099999999999994, while AWS IoT prints the shortest
 * decimal that reads back as the same double (90.1). Everything else
 * (member order, escapes, integers, the ".0" of whole reals, the exponent's
 * form) is jansson's, so switching a caller over changes only real digits.
 *
 * Pure: no I/O, no global state, safe from any thread. The process is
 * expected to run in the "C" locale (the broker never calls setlocale), so
 * that printf and strtod use '.' as the decimal point.
 */
#ifndef UMBRA_SQL_JSON_H
#define UMBRA_SQL_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Deepest nesting of arrays and objects sql_json_dump writes: jansson's own
 * parse limit, so whatever json_loads accepted can be written back. */
#define SQL_JSON_MAX_DEPTH 2048

/* v as compact JSON text: what json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
 * gives, except that reals are the shortest decimal that reads back as the
 * same double. Returns a NUL-terminated string the caller frees with free()
 * (its length in *len when len != NULL), or NULL when memory runs out, when
 * v is NULL, nested deeper than SQL_JSON_MAX_DEPTH or cyclic, or holds a
 * string or key that is not UTF-8 (only json_*_nocheck can make one) or a
 * real that is not finite: no JSON text exists for those. */
char *sql_json_dump(const json_t *v, size_t *len);

#endif
