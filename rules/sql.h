/*
 * sql.h - AWS IoT SQL (version 2016-03-23): parse a rule's statement once
 * into a tree that the evaluator walks for every message.
 *
 *   SELECT [VALUE] item [AS alias], ... [FROM 'topic/filter'] [WHERE expr]
 *
 * Expressions: literals (numbers, 'strings', "strings", true, false, NULL,
 * {'k': e} objects, [e, ...] arrays), field paths (a.b.c, a[0], *), calls
 * of the known functions (refused at parse time when unknown or called
 * with the wrong number of arguments), unary -/NOT, the binary operators
 * * / % + - || = <> != < <= > >= AND OR, IN (list), CASE v WHEN ... END
 * and cast(e AS Type). Precedence, lowest first: OR, AND, NOT,
 * comparison and IN, + - ||, * / %, unary minus, postfix . and [].
 *
 * Pure: no I/O, no globals. A syntax error gives AWS's SqlParseException
 * message with the 1-based column where it was found.
 */
#ifndef UMBRA_SQL_H
#define UMBRA_SQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum sql_kind {
    SQL_LITERAL, /* value */
    SQL_STAR,    /* the whole payload */
    SQL_FIELD,   /* name: a top-level field of the payload */
    SQL_MEMBER,  /* a.name */
    SQL_INDEX,   /* a[b] */
    SQL_CALL,    /* name(args) */
    SQL_CAST,    /* cast(a AS name) */
    SQL_NEG,     /* -a */
    SQL_NOT,     /* NOT a */
    SQL_BINARY,  /* a op b */
    SQL_IN,      /* a IN (args) */
    SQL_CASE,    /* CASE a WHEN args[2i] THEN args[2i+1] ... ELSE b END */
    SQL_OBJECT,  /* {keys[i]: args[i]} */
    SQL_ARRAY,   /* [args] */
};

enum sql_op {
    SQL_OP_MUL, SQL_OP_DIV, SQL_OP_MOD, SQL_OP_ADD, SQL_OP_SUB, SQL_OP_CONCAT,
    SQL_OP_EQ, SQL_OP_NE, SQL_OP_LT, SQL_OP_LE, SQL_OP_GT, SQL_OP_GE,
    SQL_OP_AND, SQL_OP_OR,
};

struct sql_node {
    enum sql_kind kind;
    enum sql_op op;          /* SQL_BINARY */
    json_t *value;           /* SQL_LITERAL (owned) */
    char *name;              /* SQL_FIELD, SQL_MEMBER, SQL_CALL (lowercase), SQL_CAST type */
    struct sql_node *a, *b;  /* operands; b: CASE's ELSE */
    struct sql_node **args;  /* call arguments, IN list, CASE pairs, object values, array items */
    char **keys;             /* SQL_OBJECT keys */
    size_t nargs;
    size_t column;           /* where it starts in the statement, 1-based */
};

struct sql_item {
    struct sql_node *expr;
    char *alias; /* NULL: the item's own name (a field's last name, or $N) */
};

struct sql_query {
    bool is_value; /* SELECT VALUE e: the result is e itself, not an object */
    struct sql_item *items;
    size_t nitems;
    char *from;    /* the topic filter, NULL when there is no FROM */
    struct sql_node *where; /* NULL when there is no WHERE */
};

struct sql_error {
    size_t column;      /* 1-based position of the error */
    char message[256];  /* AWS-style: "Expected an expression at 1:12" style text */
};

#define SQL_MAX_LENGTH (256 * 1024) /* AWS's rule size limit */
#define SQL_MAX_DEPTH 64            /* nesting of expressions */

/* Parse text[0..len). Returns 0 and *out (free with sql_query_free), or
 * UMBRA_EINVAL with err filled, or UMBRA_ENOMEM. */
int sql_parse(const char *text, size_t len, struct sql_query **out, struct sql_error *err);
void sql_query_free(struct sql_query *q);

/* Parse a lone expression (what a ${...} substitution template holds). */
int sql_parse_expression(const char *text, size_t len, struct sql_node **out,
                         struct sql_error *err);
void sql_node_free(struct sql_node *n);

/*
 * Does a rule's FROM filter take this topic? MQTT's + and # (which also
 * matches its parent level); unlike a subscription, a leading wildcard
 * takes $aws/... topics too.
 */
bool sql_from_matches(const char *filter, size_t flen, const char *topic, size_t tlen);

/* The function table: is `name` (any case) a function taking nargs arguments? */
bool sql_function_known(const char *name, size_t nargs, const char **why);

#endif
