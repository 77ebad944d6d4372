/*
 * sql_functions.h - AWS IoT SQL's functions, and the value conversions the
 * evaluator and the functions share. Internal to rules/. Pure.
 */
#ifndef UMBRA_SQL_FUNCTIONS_H
#define UMBRA_SQL_FUNCTIONS_H

#include "sql_eval.h"

/* A call node: its value, or NULL (Undefined). New reference. */
json_t *sql_call(const struct sql_node *n, const struct sql_message *m);

/* Does the evaluator have this function (lowercase name)? */
bool sql_function_implemented(const char *name);

/* A number (Int or Decimal) from a number or a numeric string; else NULL. New reference. */
json_t *sql_to_number(const json_t *v);
double sql_number_value(const json_t *v);
/* The string form AWS converts to (NULL for null and Undefined). Caller frees. */
char *sql_to_string(const json_t *v);
/* A json string from s, which it frees (NULL in, or not UTF-8: NULL out). */
json_t *sql_string_take(char *s);
/* = between two defined values. */
int sql_equal(const json_t *a, const json_t *b);
/* get(coll, key): array index, object key, string character. New reference or NULL. */
json_t *sql_get(const json_t *base, const json_t *key);

#endif
