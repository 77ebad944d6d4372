/*
 * text_output.c - the AWS CLI's `--output text` layout, for umbractl.
 *
 * The rules are the AWS CLI's, so scripts written against `aws iot ...
 * --output text` (cut, awk) read umbractl the same way:
 *  - an object prints its scalar values on one line, tab-separated, in the
 *    order of their sorted keys, prefixed by the upper-cased key it was
 *    found under; then each non-scalar member, under its own key;
 *  - the objects of a list share one column set: every scalar key any of
 *    them has, sorted, empty where one lacks it;
 *  - a list of scalars prints one "KEY<TAB>value" line per element (or, at
 *    the top, the values on one line);
 *  - true/false/null print as True/False/None.
 */
#include "text_output.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

static void put_scalar(FILE *out, const json_t *v)
{
    if (json_is_string(v))
        fputs(json_string_value(v), out);
    else if (json_is_integer(v))
        fprintf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%.17g", json_real_value(v));
    else if (json_is_true(v))
        fputs("True", out);
    else if (json_is_false(v))
        fputs("False", out);
    else
        fputs("None", out);
}

static void put_upper(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc(toupper((unsigned char)*s), out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object's keys, sorted; *n gets their count. Caller frees the array. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **keys = malloc((*n ? *n : 1) * sizeof *keys);
    if (!keys) {
        *n = 0;
        return NULL;
    }
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

static void format(FILE *out, const json_t *item, const char *id, const json_t *cols);

/* One line of cells, prefixed by the upper-cased id when there is one. */
static void put_cell(FILE *out, bool *any, const char *id, const json_t *v)
{
    if (*any)
        fputc('\t', out);
    else if (id) {
        put_upper(out, id);
        fputc('\t', out);
    }
    *any = true;
    if (v && is_scalar(v)) put_scalar(out, v);
}

/* cols: the shared column names (an array) for objects of a list, or NULL. */
static void format_object(FILE *out, const json_t *obj, const char *id, const json_t *cols)
{
    size_t n;
    const char **keys = sorted_keys(obj, &n);
    if (!keys) return;
    bool any = false;
    if (cols) {
        size_t i;
        json_t *k;
        json_array_foreach(cols, i, k)
            put_cell(out, &any, id, json_object_get(obj, json_string_value(k)));
    } else {
        for (size_t i = 0; i < n; i++)
            if (is_scalar(json_object_get(obj, keys[i])))
                put_cell(out, &any, id, json_object_get(obj, keys[i]));
    }
    if (any) fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, keys[i]);
        if (!is_scalar(v)) format(out, v, keys[i], NULL);
    }
    free(keys);
}

static void format_scalar_list(FILE *out, const json_t *list, const char *id)
{
    size_t i;
    json_t *v;
    if (id) {
        json_array_foreach(list, i, v)
        {
            if (!is_scalar(v)) continue;
            put_upper(out, id);
            fputc('\t', out);
            put_scalar(out, v);
            fputc('\n', out);
        }
        return;
    }
    bool any = false;
    json_array_foreach(list, i, v)
    {
        if (!is_scalar(v)) continue;
        if (any) fputc('\t', out);
        any = true;
        put_scalar(out, v);
    }
    fputc('\n', out);
}

static void format_list(FILE *out, const json_t *list, const char *id)
{
    if (json_array_size(list) == 0) return;
    size_t i;
    json_t *v;
    bool has_objects = false, has_lists = false, has_scalars = false;
    json_array_foreach(list, i, v)
    {
        has_objects |= json_is_object(v);
        has_lists |= json_is_array(v);
        has_scalars |= is_scalar(v);
    }
    if (has_objects) {
        /* Every scalar key of every object, sorted: the shared columns. */
        json_t *seen = json_object();
        json_array_foreach(list, i, v)
        {
            const char *k;
            json_t *m;
            if (!json_is_object(v)) continue;
            json_object_foreach(v, k, m) if (is_scalar(m))
                json_object_set_new(seen, k, json_null());
        }
        size_t n;
        const char **keys = sorted_keys(seen, &n);
        json_t *cols = json_array();
        for (size_t j = 0; keys && j < n; j++)
            json_array_append_new(cols, json_string(keys[j]));
        free(keys);
        json_array_foreach(list, i, v) format(out, v, id, json_is_object(v) ? cols : NULL);
        json_decref(cols);
        json_decref(seen);
        return;
    }
    if (has_lists) {
        if (has_scalars) format_scalar_list(out, list, id);
        json_array_foreach(list, i, v) if (!is_scalar(v)) format(out, v, id, NULL);
        return;
    }
    format_scalar_list(out, list, id);
}

static void format(FILE *out, const json_t *item, const char *id, const json_t *cols)
{
    if (json_is_object(item)) {
        format_object(out, item, id, cols);
    } else if (json_is_array(item)) {
        format_list(out, item, id);
    } else {
        put_scalar(out, item);
        fputc('\n', out);
    }
}

void text_output_print(FILE *out, const json_t *resp)
{
    format(out, resp, NULL, NULL);
}
