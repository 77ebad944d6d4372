/*
 * sql_parse.c - AWS IoT SQL text to a tree: a lexer over the statement and
 * a recursive-descent parser, one function per precedence level. Every
 * error names what was expected and where ("... at 1:17"), which is what
 * create-topic-rule reports as SqlParseException.
 */
#include "sql.h"

#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the function table ---- */

struct sql_function {
    const char *name;
    unsigned min, max; /* argument counts; max UINT_MAX-like 99 for variadic */
};

static const struct sql_function functions[] = {
    {"abs", 1, 1},          {"accountid", 0, 0},     {"acos", 1, 1},
    {"asin", 1, 1},         {"atan", 1, 1},          {"atan2", 2, 2},
    {"bitand", 2, 2},       {"bitnot", 1, 1},        {"bitor", 2, 2},
    {"bitxor", 2, 2},       {"ceil", 1, 1},          {"chr", 1, 1},
    {"clientid", 0, 0},     {"coalesce", 1, 99},     {"concat", 0, 99},
    {"cos", 1, 1},          {"cosh", 1, 1},          {"decode", 2, 2},
    {"encode", 2, 2},       {"endswith", 2, 2},      {"exp", 1, 1},
    {"floor", 1, 1},        {"get", 2, 2},           {"get_thing_shadow", 2, 3},
    {"indexof", 2, 2},      {"isnull", 1, 1},        {"isundefined", 1, 1},
    {"length", 1, 1},       {"ln", 1, 1},            {"log", 1, 1},
    {"lower", 1, 1},        {"lpad", 2, 2},          {"ltrim", 1, 1},
    {"md5", 1, 1},          {"mod", 2, 2},           {"nanvl", 2, 2},
    {"newuuid", 0, 0},      {"numbytes", 1, 1},      {"parse_time", 2, 3},
    {"power", 2, 2},        {"principal", 0, 0},     {"rand", 0, 0},
    {"regexp_matches", 2, 2}, {"regexp_replace", 3, 3}, {"regexp_substr", 2, 2},
    {"remainder", 2, 2},    {"replace", 3, 3},       {"round", 1, 1},
    {"rpad", 2, 2},         {"rtrim", 1, 1},         {"sha1", 1, 1},
    {"sha224", 1, 1},       {"sha256", 1, 1},        {"sha384", 1, 1},
    {"sha512", 1, 1},       {"sign", 1, 1},          {"sin", 1, 1},
    {"sinh", 1, 1},         {"sql_version", 0, 0},   {"sqrt", 1, 1},
    {"startswith", 2, 2},   {"substring", 2, 3},     {"tan", 1, 1},
    {"tanh", 1, 1},         {"time_to_epoch", 2, 2}, {"timestamp", 0, 0},
    {"topic", 0, 1},        {"traceid", 0, 0},       {"trim", 1, 1},
    {"trunc", 2, 2},        {"upper", 1, 1},
};

bool sql_function_known(const char *name, size_t nargs, const char **why)
{
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        if (strcasecmp(functions[i].name, name) != 0) continue;
        if (nargs >= functions[i].min && nargs <= functions[i].max) return true;
        if (why) *why = "wrong number of arguments";
        return false;
    }
    if (why) *why = "unknown function";
    return false;
}

/* ---- lexer ---- */

enum tok {
    T_EOF, T_IDENT, T_STRING, T_NUMBER, T_STAR, T_COMMA, T_DOT, T_LPAREN, T_RPAREN,
    T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE, T_COLON, T_PLUS, T_MINUS, T_SLASH, T_PERCENT,
    T_CONCAT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_BAD,
};

struct token {
    enum tok t;
    const char *s; /* its text in the statement */
    size_t len;
    size_t col;    /* 1-based */
};

struct parser {
    const char *text, *end, *p;
    struct token tok; /* the current token */
    struct sql_error *err;
    int depth;
    bool failed, no_memory;
};

static void next(struct parser *ps)
{
    const char *p = ps->p;
    while (p < ps->end && isspace((unsigned char)*p)) p++;
    struct token t = {T_EOF, p, 0, (size_t)(p - ps->text) + 1};
    if (p == ps->end) {
        ps->tok = t;
        ps->p = p;
        return;
    }
    char c = *p;
    const char *q = p + 1;
    if (isalpha((unsigned char)c) || c == '_') {
        while (q < ps->end && (isalnum((unsigned char)*q) || *q == '_')) q++;
        t.t = T_IDENT;
    } else if (isdigit((unsigned char)c)) {
        while (q < ps->end && isdigit((unsigned char)*q)) q++;
        if (q + 1 < ps->end && *q == '.' && isdigit((unsigned char)q[1]))
            for (q++; q < ps->end && isdigit((unsigned char)*q); q++) {}
        if (q < ps->end && (*q == 'e' || *q == 'E')) {
            const char *e = q + 1;
            if (e < ps->end && (*e == '+' || *e == '-')) e++;
            if (e < ps->end && isdigit((unsigned char)*e)) {
                for (q = e; q < ps->end && isdigit((unsigned char)*q); q++) {}
            }
        }
        t.t = T_NUMBER;
    } else if (c == '\'' || c == '"') {
        /* A quote inside is written twice. */
        for (;;) {
            while (q < ps->end && *q != c) q++;
            if (q == ps->end) {
                t.t = T_BAD;
                break;
            }
            if (q + 1 < ps->end && q[1] == c) {
                q += 2;
                continue;
            }
            q++;
            t.t = T_STRING;
            break;
        }
    } else {
        t.t = T_BAD;
        switch (c) {
        case '*': t.t = T_STAR; break;
        case ',': t.t = T_COMMA; break;
        case '.': t.t = T_DOT; break;
        case '(': t.t = T_LPAREN; break;
        case ')': t.t = T_RPAREN; break;
        case '[': t.t = T_LBRACK; break;
        case ']': t.t = T_RBRACK; break;
        case '{': t.t = T_LBRACE; break;
        case '}': t.t = T_RBRACE; break;
        case ':': t.t = T_COLON; break;
        case '+': t.t = T_PLUS; break;
        case '-': t.t = T_MINUS; break;
        case '/': t.t = T_SLASH; break;
        case '%': t.t = T_PERCENT; break;
        case '=': t.t = T_EQ; break;
        case '|':
            if (q < ps->end && *q == '|') {
                q++;
                t.t = T_CONCAT;
            }
            break;
        case '!':
            if (q < ps->end && *q == '=') {
                q++;
                t.t = T_NE;
            }
            break;
        case '<':
            t.t = T_LT;
            if (q < ps->end && *q == '=') q++, t.t = T_LE;
            else if (q < ps->end && *q == '>') q++, t.t = T_NE;
            break;
        case '>':
            t.t = T_GT;
            if (q < ps->end && *q == '=') q++, t.t = T_GE;
            break;
        }
    }
    t.len = (size_t)(q - p);
    ps->tok = t;
    ps->p = q;
}

static bool is_keyword(const struct token *t, const char *kw)
{
    return t->t == T_IDENT && t->len == strlen(kw) && strncasecmp(t->s, kw, t->len) == 0;
}

/* Words that end an expression or a list rather than name a field. */
static bool is_reserved(const struct token *t)
{
    static const char *const words[] = {"select", "from", "where", "as", "and", "or", "not",
                                        "in", "case", "when", "then", "else", "end"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (is_keyword(t, words[i])) return true;
    return false;
}

static void *fail(struct parser *ps, size_t col, const char *fmt, const char *arg)
{
    if (ps->failed) return NULL;
    ps->failed = true;
    char what[200];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    ps->err->column = col;
    snprintf(ps->err->message, sizeof ps->err->message, "%s at 1:%zu", what, col);
    return NULL;
}

static void *oom(struct parser *ps)
{
    ps->no_memory = true;
    return fail(ps, ps->tok.col, "Out of memory", NULL);
}

/* What the current token is, for messages. */
static const char *shown(struct parser *ps, char *buf, size_t cap)
{
    if (ps->tok.t == T_EOF) return "the end of the statement";
    snprintf(buf, cap, "'%.*s'", (int)(ps->tok.len > 40 ? 40 : ps->tok.len), ps->tok.s);
    return buf;
}

static void *unexpected(struct parser *ps, const char *expected)
{
    char buf[64], what[160];
    snprintf(what, sizeof what, "Expected %s but found %s", expected, shown(ps, buf, sizeof buf));
    return fail(ps, ps->tok.col, "%s", what);
}

static bool expect(struct parser *ps, enum tok t, const char *what)
{
    if (ps->tok.t != t) {
        unexpected(ps, what);
        return false;
    }
    next(ps);
    return true;
}

/* ---- nodes ---- */

void sql_node_free(struct sql_node *n)
{
    if (!n) return;
    json_decref(n->value);
    free(n->name);
    sql_node_free(n->a);
    sql_node_free(n->b);
    for (size_t i = 0; i < n->nargs; i++) {
        sql_node_free(n->args[i]);
        if (n->keys) free(n->keys[i]);
    }
    free(n->args);
    free(n->keys);
    free(n);
}

static struct sql_node *node(struct parser *ps, enum sql_kind kind, size_t col)
{
    struct sql_node *n = calloc(1, sizeof *n);
    if (!n) return oom(ps);
    n->kind = kind;
    n->column = col;
    return n;
}

static bool add_arg(struct parser *ps, struct sql_node *n, struct sql_node *arg, char *key)
{
    struct sql_node **na = realloc(n->args, (n->nargs + 1) * sizeof *na);
    if (na) n->args = na;
    if (na && (key || n->keys)) {
        char **nk = realloc(n->keys, (n->nargs + 1) * sizeof *nk);
        if (nk) n->keys = nk;
        na = nk ? na : NULL;
    }
    if (!na) {
        sql_node_free(arg);
        free(key);
        oom(ps);
        return false;
    }
    n->args[n->nargs] = arg;
    if (n->keys) n->keys[n->nargs] = key;
    n->nargs++;
    return true;
}

/* The text of a string literal, quotes removed and doubled quotes undone. */
static char *string_value(struct parser *ps, const struct token *t)
{
    char *s = malloc(t->len);
    if (!s) return oom(ps);
    char q = t->s[0];
    size_t n = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        s[n++] = t->s[i];
        if (t->s[i] == q) i++;
    }
    s[n] = '\0';
    return s;
}

/* Keys and aliases become JSON object keys, which must be UTF-8. */
static bool is_utf8(const char *s)
{
    json_t *v = json_string(s);
    json_decref(v);
    return v != NULL;
}

static json_t *number_value(const struct token *t)
{
    char buf[64];
    if (t->len >= sizeof buf) return json_real(strtod(t->s, NULL));
    memcpy(buf, t->s, t->len);
    buf[t->len] = '\0';
    if (!memchr(buf, '.', t->len) && !strpbrk(buf, "eE")) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) return json_integer(v);
    }
    return json_real(strtod(buf, NULL));
}

/* ---- expressions ---- */

static struct sql_node *parse_expr(struct parser *ps);

static struct sql_node *parse_list(struct parser *ps, struct sql_node *n, enum tok close,
                                   const char *what)
{
    if (ps->tok.t == close) {
        next(ps);
        return n;
    }
    for (;;) {
        struct sql_node *arg = ps->tok.t == T_STAR && close == T_RPAREN ? node(ps, SQL_STAR, ps->tok.col)
                                                                         : NULL;
        if (arg)
            next(ps);
        else if (!ps->failed)
            arg = parse_expr(ps);
        if (!arg || !add_arg(ps, n, arg, NULL)) {
            sql_node_free(n);
            return NULL;
        }
        if (ps->tok.t == T_COMMA) {
            next(ps);
            continue;
        }
        if (ps->tok.t == close) {
            next(ps);
            return n;
        }
        sql_node_free(n);
        return unexpected(ps, what);
    }
}

static struct sql_node *parse_call(struct parser *ps, struct token name)
{
    struct sql_node *n = node(ps, SQL_CALL, name.col);
    if (!n || !(n->name = strndup(name.s, name.len))) {
        sql_node_free(n);
        return n ? oom(ps) : NULL;
    }
    for (char *c = n->name; *c; c++) *c = (char)tolower((unsigned char)*c);
    next(ps); /* the '(' */
    if (strcmp(n->name, "cast") == 0) {
        n->kind = SQL_CAST;
        free(n->name);
        n->name = NULL;
        if (!(n->a = parse_expr(ps)) || !is_keyword(&ps->tok, "as")) {
            sql_node_free(n);
            return ps->failed ? NULL : unexpected(ps, "AS in cast()");
        }
        next(ps);
        static const char *const types[] = {"string", "nvarchar", "text", "ntext", "varchar",
                                            "int", "integer", "double", "decimal", "bool",
                                            "boolean"};
        bool ok = false;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) ok |= is_keyword(&ps->tok, types[i]);
        if (!ok) {
            sql_node_free(n);
            return unexpected(ps, "a type (String, Int, Decimal, Double, Boolean)");
        }
        if (!(n->name = strndup(ps->tok.s, ps->tok.len))) {
            sql_node_free(n);
            return oom(ps);
        }
        for (char *c = n->name; *c; c++) *c = (char)tolower((unsigned char)*c);
        next(ps);
        if (!expect(ps, T_RPAREN, "')'")) {
            sql_node_free(n);
            return NULL;
        }
        return n;
    }
    if (!(n = parse_list(ps, n, T_RPAREN, "',' or ')'"))) return NULL;
    const char *why;
    if (!sql_function_known(n->name, n->nargs, &why)) {
        char what[160];
        snprintf(what, sizeof what, "%s %s() with %zu argument%s",
                 strcmp(why, "unknown function") == 0 ? "Unknown function" : "Wrong number of arguments for",
                 n->name, n->nargs, n->nargs == 1 ? "" : "s");
        size_t col = n->column;
        sql_node_free(n);
        return fail(ps, col, "%s", what);
    }
    return n;
}

static struct sql_node *parse_case(struct parser *ps)
{
    struct sql_node *n = node(ps, SQL_CASE, ps->tok.col);
    if (!n) return NULL;
    next(ps);
    if (!(n->a = parse_expr(ps))) goto bad;
    while (is_keyword(&ps->tok, "when")) {
        next(ps);
        struct sql_node *w = parse_expr(ps);
        if (!w || !add_arg(ps, n, w, NULL)) goto bad;
        if (!is_keyword(&ps->tok, "then")) {
            unexpected(ps, "THEN");
            goto bad;
        }
        next(ps);
        struct sql_node *t = parse_expr(ps);
        if (!t || !add_arg(ps, n, t, NULL)) goto bad;
    }
    if (!n->nargs) {
        unexpected(ps, "WHEN");
        goto bad;
    }
    if (is_keyword(&ps->tok, "else")) {
        next(ps);
        if (!(n->b = parse_expr(ps))) goto bad;
    }
    if (!is_keyword(&ps->tok, "end")) {
        unexpected(ps, "WHEN, ELSE or END");
        goto bad;
    }
    next(ps);
    return n;
bad:
    sql_node_free(n);
    return NULL;
}

static struct sql_node *parse_object(struct parser *ps)
{
    struct sql_node *n = node(ps, SQL_OBJECT, ps->tok.col);
    if (!n) return NULL;
    next(ps);
    if (ps->tok.t == T_RBRACE) {
        next(ps);
        return n;
    }
    for (;;) {
        if (ps->tok.t != T_STRING && ps->tok.t != T_IDENT) {
            sql_node_free(n);
            return unexpected(ps, "a key");
        }
        char *key = ps->tok.t == T_STRING ? string_value(ps, &ps->tok) : strndup(ps->tok.s, ps->tok.len);
        if (!key) {
            sql_node_free(n);
            return oom(ps);
        }
        if (!is_utf8(key)) {
            free(key);
            sql_node_free(n);
            return fail(ps, ps->tok.col, "Object keys must be UTF-8%s", NULL);
        }
        next(ps);
        if (!expect(ps, T_COLON, "':'")) {
            free(key);
            sql_node_free(n);
            return NULL;
        }
        struct sql_node *v = parse_expr(ps);
        if (!v) {
            free(key);
            sql_node_free(n);
            return NULL;
        }
        if (!n->keys && !(n->keys = calloc(1, sizeof *n->keys))) {
            free(key);
            sql_node_free(v);
            sql_node_free(n);
            return oom(ps);
        }
        if (!add_arg(ps, n, v, key)) {
            sql_node_free(n);
            return NULL;
        }
        if (ps->tok.t == T_COMMA) {
            next(ps);
            continue;
        }
        if (expect(ps, T_RBRACE, "',' or '}'")) return n;
        sql_node_free(n);
        return NULL;
    }
}

static struct sql_node *parse_primary(struct parser *ps)
{
    struct token t = ps->tok;
    struct sql_node *n;
    switch (t.t) {
    case T_NUMBER:
        if (!(n = node(ps, SQL_LITERAL, t.col))) return NULL;
        if (!(n->value = number_value(&t))) {
            sql_node_free(n);
            return oom(ps);
        }
        next(ps);
        return n;
    case T_STRING: {
        char *s = string_value(ps, &t);
        if (!s || !(n = node(ps, SQL_LITERAL, t.col))) {
            free(s);
            return NULL;
        }
        n->value = json_string(s);
        free(s);
        if (!n->value) { /* not UTF-8 */
            sql_node_free(n);
            return fail(ps, t.col, "String literals must be UTF-8%s", NULL);
        }
        next(ps);
        return n;
    }
    case T_LPAREN:
        next(ps);
        if (is_keyword(&ps->tok, "select"))
            return fail(ps, ps->tok.col, "Nested SELECT is not supported%s", NULL);
        if (!(n = parse_expr(ps))) return NULL;
        if (!expect(ps, T_RPAREN, "')'")) {
            sql_node_free(n);
            return NULL;
        }
        return n;
    case T_LBRACE:
        return parse_object(ps);
    case T_LBRACK:
        if (!(n = node(ps, SQL_ARRAY, t.col))) return NULL;
        next(ps);
        return parse_list(ps, n, T_RBRACK, "',' or ']'");
    case T_IDENT:
        if (is_keyword(&t, "true") || is_keyword(&t, "false") || is_keyword(&t, "null")) {
            if (!(n = node(ps, SQL_LITERAL, t.col))) return NULL;
            n->value = is_keyword(&t, "null") ? json_null() : json_boolean(is_keyword(&t, "true"));
            next(ps);
            return n;
        }
        if (is_keyword(&t, "case")) return parse_case(ps);
        if (is_reserved(&t)) return unexpected(ps, "an expression");
        next(ps);
        if (ps->tok.t == T_LPAREN) return parse_call(ps, t);
        if (!(n = node(ps, SQL_FIELD, t.col)) || !(n->name = strndup(t.s, t.len))) {
            sql_node_free(n);
            return n ? oom(ps) : NULL;
        }
        return n;
    default:
        return unexpected(ps, "an expression");
    }
}

/* a.b, a[0], chained. */
static struct sql_node *parse_postfix(struct parser *ps)
{
    struct sql_node *n = parse_primary(ps);
    while (n && (ps->tok.t == T_DOT || ps->tok.t == T_LBRACK)) {
        struct sql_node *m = node(ps, ps->tok.t == T_DOT ? SQL_MEMBER : SQL_INDEX, ps->tok.col);
        if (!m) {
            sql_node_free(n);
            return NULL;
        }
        m->a = n;
        bool is_member = ps->tok.t == T_DOT;
        next(ps);
        if (is_member) {
            if (ps->tok.t != T_IDENT || is_reserved(&ps->tok)) {
                sql_node_free(m);
                return unexpected(ps, "a field name after '.'");
            }
            if (!(m->name = strndup(ps->tok.s, ps->tok.len))) {
                sql_node_free(m);
                return oom(ps);
            }
            next(ps);
        } else if (!(m->b = parse_expr(ps)) || !expect(ps, T_RBRACK, "']'")) {
            sql_node_free(m);
            return NULL;
        }
        n = m;
    }
    return n;
}

static struct sql_node *parse_unary(struct parser *ps)
{
    if (ps->tok.t != T_MINUS) return parse_postfix(ps);
    size_t col = ps->tok.col;
    next(ps);
    if (++ps->depth > SQL_MAX_DEPTH) return fail(ps, col, "Expression nested too deeply%s", NULL);
    struct sql_node *a = parse_unary(ps);
    ps->depth--;
    if (!a) return NULL;
    /* A negative number literal is a literal. */
    if (a->kind == SQL_LITERAL && json_is_integer(a->value) && json_integer_value(a->value) >= 0) {
        json_integer_set(a->value, -json_integer_value(a->value));
        a->column = col;
        return a;
    }
    if (a->kind == SQL_LITERAL && json_is_real(a->value)) {
        json_real_set(a->value, -json_real_value(a->value));
        a->column = col;
        return a;
    }
    struct sql_node *n = node(ps, SQL_NEG, col);
    if (!n) {
        sql_node_free(a);
        return NULL;
    }
    n->a = a;
    return n;
}

static struct sql_node *binary(struct parser *ps, enum sql_op op, struct sql_node *a,
                               struct sql_node *b, size_t col)
{
    if (!b) {
        sql_node_free(a);
        return NULL;
    }
    struct sql_node *n = node(ps, SQL_BINARY, col);
    if (!n) {
        sql_node_free(a);
        sql_node_free(b);
        return NULL;
    }
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static struct sql_node *parse_mul(struct parser *ps)
{
    struct sql_node *n = parse_unary(ps);
    while (n && (ps->tok.t == T_STAR || ps->tok.t == T_SLASH || ps->tok.t == T_PERCENT)) {
        enum sql_op op = ps->tok.t == T_STAR ? SQL_OP_MUL : ps->tok.t == T_SLASH ? SQL_OP_DIV : SQL_OP_MOD;
        size_t col = ps->tok.col;
        next(ps);
        n = binary(ps, op, n, parse_unary(ps), col);
    }
    return n;
}

static struct sql_node *parse_add(struct parser *ps)
{
    struct sql_node *n = parse_mul(ps);
    while (n && (ps->tok.t == T_PLUS || ps->tok.t == T_MINUS || ps->tok.t == T_CONCAT)) {
        enum sql_op op = ps->tok.t == T_PLUS ? SQL_OP_ADD : ps->tok.t == T_MINUS ? SQL_OP_SUB : SQL_OP_CONCAT;
        size_t col = ps->tok.col;
        next(ps);
        n = binary(ps, op, n, parse_mul(ps), col);
    }
    return n;
}

static struct sql_node *parse_cmp(struct parser *ps)
{
    struct sql_node *n = parse_add(ps);
    if (!n) return NULL;
    enum sql_op op;
    switch (ps->tok.t) {
    case T_EQ: op = SQL_OP_EQ; break;
    case T_NE: op = SQL_OP_NE; break;
    case T_LT: op = SQL_OP_LT; break;
    case T_LE: op = SQL_OP_LE; break;
    case T_GT: op = SQL_OP_GT; break;
    case T_GE: op = SQL_OP_GE; break;
    default:
        if (!is_keyword(&ps->tok, "in")) return n;
        {
            struct sql_node *in = node(ps, SQL_IN, ps->tok.col);
            if (!in) {
                sql_node_free(n);
                return NULL;
            }
            in->a = n;
            next(ps);
            if (!expect(ps, T_LPAREN, "'(' after IN")) {
                sql_node_free(in);
                return NULL;
            }
            return parse_list(ps, in, T_RPAREN, "',' or ')'");
        }
    }
    size_t col = ps->tok.col;
    next(ps);
    return binary(ps, op, n, parse_add(ps), col);
}

static struct sql_node *parse_not(struct parser *ps)
{
    if (!is_keyword(&ps->tok, "not")) return parse_cmp(ps);
    size_t col = ps->tok.col;
    next(ps);
    if (++ps->depth > SQL_MAX_DEPTH) return fail(ps, col, "Expression nested too deeply%s", NULL);
    struct sql_node *a = parse_not(ps);
    ps->depth--;
    if (!a) return NULL;
    struct sql_node *n = node(ps, SQL_NOT, col);
    if (!n) {
        sql_node_free(a);
        return NULL;
    }
    n->a = a;
    return n;
}

static struct sql_node *parse_and(struct parser *ps)
{
    struct sql_node *n = parse_not(ps);
    while (n && is_keyword(&ps->tok, "and")) {
        size_t col = ps->tok.col;
        next(ps);
        n = binary(ps, SQL_OP_AND, n, parse_not(ps), col);
    }
    return n;
}

static struct sql_node *parse_expr(struct parser *ps)
{
    if (++ps->depth > SQL_MAX_DEPTH)
        return fail(ps, ps->tok.col, "Expression nested too deeply%s", NULL);
    struct sql_node *n = parse_and(ps);
    while (n && is_keyword(&ps->tok, "or")) {
        size_t col = ps->tok.col;
        next(ps);
        n = binary(ps, SQL_OP_OR, n, parse_and(ps), col);
    }
    ps->depth--;
    return n;
}

/* ---- the statement ---- */

void sql_query_free(struct sql_query *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->nitems; i++) {
        sql_node_free(q->items[i].expr);
        free(q->items[i].alias);
    }
    free(q->items);
    free(q->from);
    sql_node_free(q->where);
    free(q);
}

/* AS alias: a name, or a dotted path of names (AS a.b builds {"a":{"b":..}}). */
static char *parse_alias(struct parser *ps)
{
    if (ps->tok.t == T_STRING) {
        size_t col = ps->tok.col;
        char *s = string_value(ps, &ps->tok);
        next(ps);
        if (s && !is_utf8(s)) {
            free(s);
            return fail(ps, col, "Aliases must be UTF-8%s", NULL);
        }
        return s;
    }
    if (ps->tok.t != T_IDENT || is_reserved(&ps->tok)) return unexpected(ps, "an alias after AS");
    const char *start = ps->tok.s;
    const char *stop = ps->tok.s + ps->tok.len;
    next(ps);
    while (ps->tok.t == T_DOT) {
        next(ps);
        if (ps->tok.t != T_IDENT) return unexpected(ps, "a name after '.' in the alias");
        stop = ps->tok.s + ps->tok.len;
        next(ps);
    }
    char *s = strndup(start, (size_t)(stop - start));
    return s ? s : oom(ps);
}

static bool parse_item(struct parser *ps, struct sql_query *q)
{
    struct sql_item item = {0};
    if (ps->tok.t == T_STAR) {
        item.expr = node(ps, SQL_STAR, ps->tok.col);
        next(ps);
    } else {
        item.expr = parse_expr(ps);
    }
    if (!item.expr) return false;
    if (is_keyword(&ps->tok, "as")) {
        next(ps);
        if (!(item.alias = parse_alias(ps))) {
            sql_node_free(item.expr);
            return false;
        }
    }
    struct sql_item *ni = realloc(q->items, (q->nitems + 1) * sizeof *ni);
    if (!ni) {
        sql_node_free(item.expr);
        free(item.alias);
        oom(ps);
        return false;
    }
    q->items = ni;
    q->items[q->nitems++] = item;
    return true;
}

static void init_parser(struct parser *ps, const char *text, size_t len, struct sql_error *err)
{
    memset(ps, 0, sizeof *ps);
    ps->text = ps->p = text;
    ps->end = text + len;
    ps->err = err;
    memset(err, 0, sizeof *err);
    next(ps);
}

static int finish(struct parser *ps, int ok)
{
    if (ok) return 0;
    return ps->no_memory ? UMBRA_ENOMEM : UMBRA_EINVAL;
}

int sql_parse(const char *text, size_t len, struct sql_query **out, struct sql_error *err)
{
    *out = NULL;
    struct parser ps;
    init_parser(&ps, text, len, err);
    if (len > SQL_MAX_LENGTH) {
        fail(&ps, 1, "Statement longer than %s", "256 KB");
        return UMBRA_EINVAL;
    }
    if (memchr(text, '\0', len)) {
        fail(&ps, (size_t)((const char *)memchr(text, '\0', len) - text) + 1,
             "Unexpected NUL character%s", NULL);
        return UMBRA_EINVAL;
    }
    struct sql_query *q = calloc(1, sizeof *q);
    if (!q) return UMBRA_ENOMEM;
    if (!is_keyword(&ps.tok, "select")) {
        unexpected(&ps, "SELECT");
        sql_query_free(q);
        return UMBRA_EINVAL;
    }
    next(&ps);
    /* SELECT VALUE e: unless "value" is a field name followed by the end of the list. */
    if (is_keyword(&ps.tok, "value")) {
        struct parser peek = ps;
        next(&peek);
        /* "value[0]" indexes a field; "VALUE [1, 2]" (with a space) selects an array. */
        bool is_index = peek.tok.t == T_LBRACK && peek.tok.s == ps.tok.s + ps.tok.len;
        if (peek.tok.t != T_EOF && peek.tok.t != T_COMMA && !is_keyword(&peek.tok, "from") &&
            !is_keyword(&peek.tok, "as") && peek.tok.t != T_DOT && !is_index) {
            q->is_value = true;
            next(&ps);
        }
    }
    bool ok = parse_item(&ps, q);
    while (ok && !q->is_value && ps.tok.t == T_COMMA) {
        next(&ps);
        ok = parse_item(&ps, q);
    }
    if (ok && is_keyword(&ps.tok, "from")) {
        next(&ps);
        if (ps.tok.t != T_STRING || ps.tok.s[0] != '\'') {
            unexpected(&ps, "a topic filter in single quotes after FROM");
            ok = false;
        } else if (!(q->from = string_value(&ps, &ps.tok))) {
            ok = false;
        } else {
            next(&ps);
        }
    }
    if (ok && is_keyword(&ps.tok, "where")) {
        next(&ps);
        ok = (q->where = parse_expr(&ps)) != NULL;
    }
    if (ok && ps.tok.t != T_EOF) {
        unexpected(&ps, q->from || q->where ? "the end of the statement"
                                            : "',', FROM, WHERE or the end of the statement");
        ok = false;
    }
    if (!ok) {
        sql_query_free(q);
        return finish(&ps, 0);
    }
    *out = q;
    return 0;
}

int sql_parse_expression(const char *text, size_t len, struct sql_node **out, struct sql_error *err)
{
    *out = NULL;
    struct parser ps;
    init_parser(&ps, text, len, err);
    if (memchr(text, '\0', len)) {
        fail(&ps, 1, "Unexpected NUL character%s", NULL);
        return UMBRA_EINVAL;
    }
    struct sql_node *n = parse_expr(&ps);
    if (n && ps.tok.t != T_EOF) {
        unexpected(&ps, "the end of the expression");
        sql_node_free(n);
        n = NULL;
    }
    if (!n) return finish(&ps, 0);
    *out = n;
    return 0;
}
