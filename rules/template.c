/*
 * template.c - substitution templates: literal pieces and expressions.
 */
#include "template.h"

#include "error.h"
#include "sql_functions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct piece {
    char *text;            /* a literal piece, or NULL */
    struct sql_node *expr; /* else an expression */
};

struct template {
    struct piece *pieces;
    size_t n;
};

void template_free(struct template *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->pieces[i].text);
        sql_node_free(t->pieces[i].expr);
    }
    free(t->pieces);
    free(t);
}

static int add(struct template *t, char *text, struct sql_node *expr)
{
    struct piece *np = realloc(t->pieces, (t->n + 1) * sizeof *np);
    if (!np) {
        free(text);
        sql_node_free(expr);
        return UMBRA_ENOMEM;
    }
    t->pieces = np;
    t->pieces[t->n++] = (struct piece){text, expr};
    return 0;
}

/* The end of the expression that starts at p: the '}' outside quotes and braces. */
static const char *closing(const char *p)
{
    int depth = 0;
    char quote = 0;
    for (; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            if (depth-- == 0) return p;
        }
    }
    return NULL;
}

int template_compile(const char *s, struct template **out, struct sql_error *err)
{
    *out = NULL;
    memset(err, 0, sizeof *err);
    struct template *t = calloc(1, sizeof *t);
    if (!t) return UMBRA_ENOMEM;
    size_t cap = strlen(s) + 1, len = 0;
    char *lit = malloc(cap);
    int rc = lit ? 0 : UMBRA_ENOMEM;
    const char *p = s;
    while (!rc && *p) {
        if (p[0] == '$' && p[1] == '$') {
            lit[len++] = '$';
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = closing(p + 2);
            if (!end) {
                err->column = (size_t)(p - s) + 1;
                snprintf(err->message, sizeof err->message, "Unclosed ${ at 1:%zu", err->column);
                rc = UMBRA_EINVAL;
                break;
            }
            struct sql_node *e;
            rc = sql_parse_expression(p + 2, (size_t)(end - p - 2), &e, err);
            if (rc) {
                /* The position in the whole parameter, not in the expression. */
                err->column += (size_t)(p - s) + 2;
                char *at = strstr(err->message, " at 1:");
                if (at) *at = '\0';
                char fixed[sizeof err->message];
                snprintf(fixed, sizeof fixed, "%.200s in ${...} at 1:%zu", err->message,
                         err->column);
                memcpy(err->message, fixed, sizeof fixed);
                break;
            }
            if (len) {
                lit[len] = '\0';
                rc = add(t, strdup(lit), NULL);
                len = 0;
            }
            if (!rc) rc = add(t, NULL, e);
            p = end + 1;
        } else {
            lit[len++] = *p++;
        }
    }
    if (!rc && len) {
        lit[len] = '\0';
        rc = add(t, strdup(lit), NULL);
    }
    for (size_t i = 0; !rc && i < t->n; i++)
        if (!t->pieces[i].text && !t->pieces[i].expr) rc = UMBRA_ENOMEM;
    free(lit);
    if (rc) {
        template_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

char *template_render(const struct template *t, const struct sql_message *m)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && i < t->n; i++) {
        char *owned = NULL;
        const char *text = t->pieces[i].text;
        if (!text) {
            json_t *v = sql_eval(t->pieces[i].expr, m);
            owned = v ? sql_to_string(v) : NULL; /* Undefined and null: nothing */
            json_decref(v);
            text = owned ? owned : "";
        }
        size_t n = strlen(text);
        if (len + n + 1 > cap) {
            while (len + n + 1 > cap) cap *= 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                out = NULL;
            }
            out = grown;
        }
        if (out) {
            memcpy(out + len, text, n);
            len += n;
        }
        free(owned);
    }
    if (out) out[len] = '\0';
    return out;
}

int template_is_constant(const struct template *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->pieces[i].text) return 0;
    return 1;
}
