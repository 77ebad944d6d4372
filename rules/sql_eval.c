/*
 * sql_eval.c - AWS IoT SQL values, operators and the SELECT result.
 *
 * NULL is Undefined everywhere: an operand that is Undefined, or of a type
 * the operator cannot convert, makes the result Undefined (= and <> give
 * false and true for defined values of different types, as AWS does).
 * Numbers keep AWS's two kinds: Int (json integer) and Decimal (json real).
 */
#include "sql_eval.h"
#include "sql_json.h"

#include "error.h"
#include "sql_functions.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- conversions (shared with the functions) ---- */

int sql_is_true(const json_t *v)
{
    if (json_is_true(v)) return 1;
    if (json_is_string(v)) return strcasecmp(json_string_value(v), "true") == 0;
    return 0;
}

/* Boolean or "true"/"false": 1/0, else -1 (Undefined). */
static int to_bool(const json_t *v)
{
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0) return 1;
        if (strcasecmp(s, "false") == 0) return 0;
    }
    return -1;
}

/* ^-?\d+(\.\d+)?([eE]-?\d+)?$ as AWS converts strings to numbers. */
static bool numeric_string(const char *s)
{
    const char *p = s;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!isdigit((unsigned char)*p)) return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

json_t *sql_to_number(const json_t *v)
{
    if (json_is_integer(v) || json_is_real(v)) return json_incref((json_t *)v);
    if (!json_is_string(v) || !numeric_string(json_string_value(v))) return NULL;
    const char *s = json_string_value(v);
    if (!strpbrk(s, ".eE")) {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (*end == '\0' && !(n == LLONG_MAX || n == LLONG_MIN)) return json_integer(n);
    }
    return json_real(strtod(s, NULL));
}

double sql_number_value(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* A Decimal that holds a whole number behaves as an Int (2016-03-23). */
static bool is_whole(const json_t *v)
{
    if (json_is_integer(v)) return true;
    double d = json_real_value(v);
    return json_is_real(v) && d == floor(d) && fabs(d) < 9.2e18;
}

char *sql_to_string(const json_t *v)
{
    char buf[64];
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(buf, sizeof buf, "%.15g", d);
        if (strtod(buf, NULL) != d) snprintf(buf, sizeof buf, "%.17g", d);
        if (!strpbrk(buf, ".eEn")) strcat(buf, ".0"); /* a Decimal prints as one */
        return strdup(buf);
    }
    if (json_is_boolean(v)) return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_array(v) || json_is_object(v))
        return sql_json_dump(v, NULL);
    return NULL; /* null and Undefined have no string form */
}

json_t *sql_string_take(char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    return v;
}

/* The exact value of an Int, or of a Decimal that is_whole() accepted. */
static long long whole_value(const json_t *v)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_real_value(v);
}

/* ---- operators ---- */

static json_t *arithmetic(enum sql_op op, const json_t *x, const json_t *y)
{
    json_t *a = sql_to_number(x), *b = sql_to_number(y), *r = NULL;
    if (!a || !b) goto out;
    if (is_whole(a) && is_whole(b)) {
        long long p = whole_value(a), q = whole_value(b);
        switch (op) {
        case SQL_OP_ADD:
            if (!__builtin_add_overflow(p, q, &p)) r = json_integer(p);
            break;
        case SQL_OP_SUB:
            if (!__builtin_sub_overflow(p, q, &p)) r = json_integer(p);
            break;
        case SQL_OP_MUL:
            if (!__builtin_mul_overflow(p, q, &p)) r = json_integer(p);
            break;
        case SQL_OP_DIV:
            if (q != 0 && !(p == LLONG_MIN && q == -1)) r = json_integer(p / q);
            break;
        default:
            if (q != 0 && !(p == LLONG_MIN && q == -1)) r = json_integer(p % q);
            break;
        }
        if (r || op == SQL_OP_DIV || op == SQL_OP_MOD) goto out;
    }
    double p = sql_number_value(a), q = sql_number_value(b), d;
    switch (op) {
    case SQL_OP_ADD:
        d = p + q;
        break;
    case SQL_OP_SUB:
        d = p - q;
        break;
    case SQL_OP_MUL:
        d = p * q;
        break;
    case SQL_OP_DIV:
        if (q == 0) goto out;
        d = p / q;
        break;
    default:
        if (q == 0) goto out;
        d = fmod(p, q);
        break;
    }
    r = isfinite(d) ? json_real(d) : NULL;
out:
    json_decref(a);
    json_decref(b);
    return r;
}

static json_t *concatenate(const json_t *x, const json_t *y)
{
    char *a = sql_to_string(x), *b = sql_to_string(y);
    json_t *r = NULL;
    if (a && b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = malloc(la + lb + 1);
        if (s) {
            memcpy(s, a, la);
            memcpy(s + la, b, lb + 1);
            r = sql_string_take(s);
        }
    }
    free(a);
    free(b);
    return r;
}

/* = between defined values: 1 equal, 0 not (types that differ are not equal). */
int sql_equal(const json_t *a, const json_t *b)
{
    bool na = json_is_number(a), nb = json_is_number(b);
    if (na && nb) return sql_number_value(a) == sql_number_value(b);
    if (json_typeof(a) != json_typeof(b)) {
        /* true and false are different jansson types but one SQL type */
        return json_is_boolean(a) && json_is_boolean(b) ? json_equal(a, b) : 0;
    }
    if (json_is_array(a)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b)) return 0;
        for (size_t i = 0; i < n; i++)
            if (!sql_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            json_t *w = json_object_get(b, k);
            if (!w || !sql_equal(v, w)) return 0;
        }
        return 1;
    }
    return json_equal(a, b);
}

static json_t *order(enum sql_op op, double p, double q)
{
    return json_boolean(op == SQL_OP_LT   ? p < q
                        : op == SQL_OP_LE ? p <= q
                        : op == SQL_OP_GT ? p > q
                                          : p >= q);
}

static json_t *compare(enum sql_op op, const json_t *x, const json_t *y)
{
    if (op == SQL_OP_EQ) return json_boolean(sql_equal(x, y));
    if (op == SQL_OP_NE) return json_boolean(!sql_equal(x, y));
    /* The usual WHERE (a field against a number literal) converts nothing. */
    if (json_is_number(x) && json_is_number(y))
        return order(op, sql_number_value(x), sql_number_value(y));
    json_t *a = sql_to_number(x), *b = sql_to_number(y), *r = NULL;
    if (a && b) r = order(op, sql_number_value(a), sql_number_value(b));
    json_decref(a);
    json_decref(b);
    return r;
}

static const json_t *peek(const struct sql_node *n, const struct sql_message *m, bool *is_peeked);

static json_t *binary(const struct sql_node *n, const struct sql_message *m)
{
    /* Literals and fields are looked at where they are, without a reference:
     * jansson's reference counts are atomic, and a WHERE such as
     * `temperature > 90` would otherwise spend most of its time on them. */
    bool peeked_a, peeked_b;
    const json_t *pa = peek(n->a, m, &peeked_a), *pb = peek(n->b, m, &peeked_b);
    json_t *own_a = peeked_a ? NULL : sql_eval(n->a, m);
    json_t *own_b = peeked_b ? NULL : sql_eval(n->b, m);
    const json_t *a = peeked_a ? pa : own_a, *b = peeked_b ? pb : own_b;
    json_t *r = NULL;
    if (!a || !b) goto out;
    switch (n->op) {
    case SQL_OP_AND:
    case SQL_OP_OR: {
        int p = to_bool(a), q = to_bool(b);
        if (p >= 0 && q >= 0) r = json_boolean(n->op == SQL_OP_AND ? p && q : p || q);
        break;
    }
    case SQL_OP_CONCAT:
        r = concatenate(a, b);
        break;
    case SQL_OP_ADD:
        r = json_is_string(a) || json_is_string(b) ? concatenate(a, b) : arithmetic(n->op, a, b);
        break;
    case SQL_OP_SUB:
    case SQL_OP_MUL:
    case SQL_OP_DIV:
    case SQL_OP_MOD:
        r = arithmetic(n->op, a, b);
        break;
    default:
        r = compare(n->op, a, b);
        break;
    }
out:
    json_decref(own_a);
    json_decref(own_b);
    return r;
}

/* ---- field access ---- */

const json_t *sql_payload(const struct sql_message *m)
{
    return m->doc ? sql_doc_tree(m->doc) : m->json;
}

static json_t *member(const json_t *base, const char *name)
{
    json_t *v = json_is_object(base) ? json_object_get(base, name) : NULL;
    return json_incref(v);
}

/* A literal, a field or a path of members (a.b.c) as it is, borrowed;
 * *is_peeked is false for anything else, which must be evaluated. */
static const json_t *peek(const struct sql_node *n, const struct sql_message *m, bool *is_peeked)
{
    *is_peeked = true;
    if (n->kind == SQL_LITERAL) return n->value;
    if (n->kind == SQL_FIELD)
        return m->doc ? sql_doc_member(m->doc, n->name) : json_object_get(m->json, n->name);
    if (n->kind == SQL_MEMBER) {
        const json_t *base = peek(n->a, m, is_peeked);
        if (*is_peeked) return json_is_object(base) ? json_object_get(base, n->name) : NULL;
    }
    *is_peeked = false;
    return NULL;
}

json_t *sql_get(const json_t *base, const json_t *key)
{
    if (json_is_array(base) && json_is_number(key) && is_whole(key)) {
        double i = sql_number_value(key);
        if (i < 0 || i >= (double)json_array_size(base)) return NULL;
        return json_incref(json_array_get(base, (size_t)i));
    }
    if (json_is_object(base) && json_is_string(key))
        return json_incref(json_object_get(base, json_string_value(key)));
    if (json_is_array(base) && json_is_string(key) && numeric_string(json_string_value(key))) {
        json_t *i = sql_to_number(key);
        json_t *v = i ? sql_get(base, i) : NULL;
        json_decref(i);
        return v;
    }
    if (json_is_string(base) && json_is_number(key) && is_whole(key)) {
        const char *s = json_string_value(base);
        double i = sql_number_value(key);
        if (i < 0 || i >= (double)json_string_length(base)) return NULL;
        return json_stringn(s + (size_t)i, 1);
    }
    return NULL;
}

/* ---- the rest of the expressions ---- */

static json_t *cast(const struct sql_node *n, const struct sql_message *m)
{
    json_t *v = sql_eval(n->a, m), *r = NULL;
    if (!v) return NULL;
    const char *t = n->name;
    if (!strcmp(t, "string") || !strcmp(t, "nvarchar") || !strcmp(t, "text") ||
        !strcmp(t, "ntext") || !strcmp(t, "varchar")) {
        r = sql_string_take(sql_to_string(v));
    } else if (!strcmp(t, "bool") || !strcmp(t, "boolean")) {
        int b = to_bool(v);
        if (b >= 0)
            r = json_boolean(b);
        else if (json_is_number(v))
            r = json_boolean(sql_number_value(v) != 0);
    } else {
        json_t *num = json_is_boolean(v) ? json_integer(json_is_true(v)) : sql_to_number(v);
        if (num && (!strcmp(t, "int") || !strcmp(t, "integer"))) {
            double d = floor(sql_number_value(num)); /* rounds down */
            if (fabs(d) < 9.2e18) r = json_integer((json_int_t)d);
        } else if (num) {
            r = json_real(sql_number_value(num));
        }
        json_decref(num);
    }
    json_decref(v);
    return r;
}

static json_t *in_list(const struct sql_node *n, const struct sql_message *m)
{
    json_t *a = sql_eval(n->a, m);
    if (!a) return NULL;
    bool found = false;
    for (size_t i = 0; i < n->nargs && !found; i++) {
        json_t *b = sql_eval(n->args[i], m);
        /* An array in the list is searched too: x IN (arr). */
        if (json_is_array(b) && !json_is_array(a)) {
            size_t j;
            json_t *e;
            json_array_foreach(b, j, e) found = found || sql_equal(a, e);
        } else if (b) {
            found = sql_equal(a, b);
        }
        json_decref(b);
    }
    json_decref(a);
    return json_boolean(found);
}

static json_t *case_of(const struct sql_node *n, const struct sql_message *m)
{
    json_t *v = sql_eval(n->a, m);
    if (!v) return NULL;
    json_t *r = NULL;
    bool matched = false;
    for (size_t i = 0; i + 1 < n->nargs && !matched; i += 2) {
        json_t *w = sql_eval(n->args[i], m);
        if (w && sql_equal(v, w)) {
            matched = true;
            r = sql_eval(n->args[i + 1], m);
        }
        json_decref(w);
    }
    if (!matched && n->b) r = sql_eval(n->b, m);
    json_decref(v);
    return r;
}

static json_t *object_of(const struct sql_node *n, const struct sql_message *m)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n->nargs; i++) {
        json_t *v = sql_eval(n->args[i], m);
        if (v) json_object_set_new(o, n->keys[i], v);
    }
    return o;
}

static json_t *array_of(const struct sql_node *n, const struct sql_message *m)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->nargs; i++) {
        json_t *v = sql_eval(n->args[i], m);
        if (v) json_array_append_new(a, v);
    }
    return a;
}

json_t *sql_eval(const struct sql_node *n, const struct sql_message *m)
{
    json_t *a, *b, *r;
    switch (n->kind) {
    case SQL_LITERAL:
        return json_incref(n->value);
    case SQL_STAR:
        return json_incref((json_t *)sql_payload(m));
    case SQL_FIELD:
        return m->doc ? json_incref((json_t *)sql_doc_member(m->doc, n->name))
                      : member(m->json, n->name);
    case SQL_MEMBER:
        a = sql_eval(n->a, m);
        r = member(a, n->name);
        json_decref(a);
        return r;
    case SQL_INDEX:
        a = sql_eval(n->a, m);
        b = a ? sql_eval(n->b, m) : NULL;
        r = a && b ? sql_get(a, b) : NULL;
        json_decref(a);
        json_decref(b);
        return r;
    case SQL_CALL:
        return sql_call(n, m);
    case SQL_CAST:
        return cast(n, m);
    case SQL_NEG:
        a = sql_eval(n->a, m);
        b = json_integer(0);
        r = a ? arithmetic(SQL_OP_SUB, b, a) : NULL;
        json_decref(a);
        json_decref(b);
        return r;
    case SQL_NOT: {
        a = sql_eval(n->a, m);
        int v = a ? to_bool(a) : -1;
        json_decref(a);
        return v < 0 ? NULL : json_boolean(!v);
    }
    case SQL_BINARY:
        return binary(n, m);
    case SQL_IN:
        return in_list(n, m);
    case SQL_CASE:
        return case_of(n, m);
    case SQL_OBJECT:
        return object_of(n, m);
    case SQL_ARRAY:
        return array_of(n, m);
    }
    return NULL;
}

/* ---- SELECT ---- */

/* The key an item without AS gets: a field's own name, a function's name. */
static void item_name(const struct sql_node *e, size_t index, char *out, size_t cap)
{
    if ((e->kind == SQL_FIELD || e->kind == SQL_MEMBER || e->kind == SQL_CALL) && e->name)
        snprintf(out, cap, "%s", e->name);
    else
        snprintf(out, cap, "_%zu", index + 1);
}

/* Set o[a.b.c] = v, making the objects on the way (AS a.b.c). Takes v. */
static int set_path(json_t *o, const char *path, json_t *v)
{
    char key[256];
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        json_t *child = json_object_get(o, key);
        if (!json_is_object(child)) {
            child = json_object();
            if (!child || json_object_set_new(o, key, child)) {
                json_decref(v);
                return UMBRA_ENOMEM;
            }
        }
        o = child;
        path = dot + 1;
    }
    return json_object_set_new(o, path, v) ? UMBRA_ENOMEM : 0;
}

int sql_where(const struct sql_query *q, const struct sql_message *m)
{
    if (!q->where) return 1;
    json_t *w = sql_eval(q->where, m);
    int ok = json_is_true(w) || (json_is_string(w) && sql_is_true(w));
    json_decref(w);
    return ok;
}

int sql_evaluate(const struct sql_query *q, const struct sql_message *m, json_t **out)
{
    *out = NULL;
    if (!sql_where(q, m)) return 0;
    if (q->is_value) {
        *out = sql_eval(q->items[0].expr, m);
        return 1;
    }
    json_t *o = json_object();
    if (!o) return UMBRA_ENOMEM;
    for (size_t i = 0; i < q->nitems; i++) {
        const struct sql_item *it = &q->items[i];
        if (it->expr->kind == SQL_STAR && !it->alias) {
            const json_t *payload = sql_payload(m);
            if (json_is_object(payload)) {
                json_object_update(o, (json_t *)payload);
            } else if (payload && q->nitems == 1) {
                /* SELECT * of a payload that is JSON but not an object: the value itself. */
                json_decref(o);
                *out = json_incref((json_t *)payload);
                return 1;
            }
            continue;
        }
        json_t *v = sql_eval(it->expr, m);
        if (!v) continue; /* Undefined: left out */
        char name[256];
        if (it->alias)
            snprintf(name, sizeof name, "%s", it->alias);
        else
            item_name(it->expr, i, name, sizeof name);
        if (set_path(o, name, v)) {
            json_decref(o);
            return UMBRA_ENOMEM;
        }
    }
    *out = o;
    return 1;
}
