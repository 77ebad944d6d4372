/*
 * fuzz_sql_doc.c - the rules' payload scan against jansson itself: for any
 * bytes, sql_doc says "JSON" exactly when json_loadb(JSON_DECODE_ANY)
 * parses them, and every top-level member it finds (and a few it should
 * not) equals the tree's.
 */
#include "sql_doc.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static void check_member(struct sql_doc *d, const json_t *tree, const char *key)
{
    const json_t *got = sql_doc_member(d, key);
    const json_t *want = json_object_get(tree, key);
    if ((got == NULL) != (want == NULL) || (got && !json_equal((json_t *)got, (json_t *)want)))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *tree = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    struct sql_doc d;
    sql_doc_init(&d, data, size);
    if (sql_doc_is_json(&d) != (tree != NULL)) __builtin_trap();
    if (json_is_object(tree)) {
        const char *key;
        json_t *v;
        json_object_foreach(tree, key, v) check_member(&d, tree, key);
        static const char *const absent[] = {"", "a", "temperature", "x\"y"};
        for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
            check_member(&d, tree, absent[i]);
    } else if (sql_doc_member(&d, "a")) {
        __builtin_trap(); /* only an object has members */
    }
    const json_t *whole = sql_doc_tree(&d);
    if ((whole == NULL) != (tree == NULL) || (whole && !json_equal((json_t *)whole, tree)))
        __builtin_trap();
    sql_doc_release(&d);
    json_decref(tree);
    return 0;
}
