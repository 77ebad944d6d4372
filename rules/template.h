/*
 * template.h - AWS IoT substitution templates: "alerts/${topic(2)}/x" in an
 * action's parameters, each ${expression} evaluated against the original
 * message (not the SELECT result) and replaced by its string form; an
 * Undefined or null value becomes the empty string. "$$" stands for a
 * literal "$" (how a republish reaches "$aws/..." topics).
 *
 * Pure: compiled once when a rule is loaded, rendered per message.
 */
#ifndef UMBRA_TEMPLATE_H
#define UMBRA_TEMPLATE_H

#include "sql.h"
#include "sql_eval.h"

struct template;

/* Compile s. Returns 0 and *out (free with template_free), UMBRA_EINVAL with
 * err (column counted in s) for a bad expression or an unclosed ${, or
 * UMBRA_ENOMEM. */
int template_compile(const char *s, struct template **out, struct sql_error *err);
void template_free(struct template *t);

/* Render for one message. Returns a string the caller frees, or NULL when
 * memory ran out. */
char *template_render(const struct template *t, const struct sql_message *m);

/* True when the template has no ${...}: the same text for every message. */
int template_is_constant(const struct template *t);

#endif
