/*
 * sql_doc.h - a message's payload as the rules see it, parsed only as far
 * as they need.
 *
 * Most WHERE clauses read one or two top-level fields (`temperature > 90`).
 * Building the whole jansson tree for that costs several times more than
 * routing the message, so the payload is first scanned once, without
 * allocating: the scan decides whether it is JSON exactly as
 * json_loadb(JSON_DECODE_ANY) would (grammar, UTF-8, escapes, number
 * ranges, depth) and notes where each top-level member's key and value
 * lie. A field is then parsed alone, once per message; the whole tree is
 * built only when something needs it (SELECT *, a key written with
 * escapes, more members than the index holds).
 *
 * Pure: no I/O. fuzz_sql_doc checks every answer against jansson's.
 */
#ifndef UMBRA_SQL_DOC_H
#define UMBRA_SQL_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SQL_DOC_MEMBERS 32 /* top-level members indexed; past that the tree is built */

struct sql_doc_member {
    const char *key, *value; /* into the payload: the key's characters (no quotes), the value */
    uint32_t key_len, value_len;
    json_t *parsed; /* the value, once asked for (owned) */
};

struct sql_doc {
    const uint8_t *payload;
    size_t len;
    enum { SQL_DOC_UNSCANNED, SQL_DOC_OBJECT, SQL_DOC_OTHER_JSON, SQL_DOC_NOT_JSON } kind;
    bool needs_tree; /* an escaped key or too many members: look fields up in the tree */
    bool has_tree;   /* tree below has been made (it may be NULL: not JSON) */
    json_t *tree;
    size_t nmembers;
    struct sql_doc_member members[SQL_DOC_MEMBERS];
};

/* Start with a payload (not copied: it must outlive the doc). Nothing is scanned yet. */
void sql_doc_init(struct sql_doc *d, const uint8_t *payload, size_t len);
void sql_doc_release(struct sql_doc *d);

/* Is the payload JSON (as json_loadb with JSON_DECODE_ANY would take it)? */
bool sql_doc_is_json(struct sql_doc *d);

/* The top-level member `name` of an object payload (the last one when a key
 * repeats, as jansson keeps); NULL when absent or the payload is not an
 * object. Borrowed: valid until sql_doc_release. */
const json_t *sql_doc_member(struct sql_doc *d, const char *name);

/* The whole payload parsed, or NULL when it is not JSON. Borrowed. */
const json_t *sql_doc_tree(struct sql_doc *d);

#endif
