/* levelset.c - small array of children with a hash index when wide. */
#include "levelset.h"

#include "error.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* The index stores position + 1 so that 0 (NULL) means absent. */
static int index_put(struct levelset *ls, uint32_t pos)
{
    const struct levelset_entry *e = &ls->entries[pos];
    return strmap_put(ls->index, e->level, e->len, (void *)(uintptr_t)(pos + 1), NULL);
}

static int build_index(struct levelset *ls)
{
    ls->index = strmap_new();
    if (!ls->index) return UMBRA_ENOMEM;
    for (uint32_t i = 0; i < ls->count; i++) {
        if (index_put(ls, i)) {
            strmap_free(ls->index);
            ls->index = NULL;
            return UMBRA_ENOMEM;
        }
    }
    return 0;
}

static long find(const struct levelset *ls, const char *level, size_t len)
{
    if (ls->index) {
        uintptr_t v = (uintptr_t)strmap_get(ls->index, level, len);
        return v ? (long)v - 1 : -1;
    }
    for (uint32_t i = 0; i < ls->count; i++) {
        const struct levelset_entry *e = &ls->entries[i];
        if (e->len == len && memcmp(e->level, level, len) == 0) return (long)i;
    }
    return -1;
}

void *levelset_get(const struct levelset *ls, const char *level, size_t len)
{
    long i = find(ls, level, len);
    return i < 0 ? NULL : ls->entries[i].node;
}

int levelset_add(struct levelset *ls, const char *level, size_t len, void *node)
{
    if (ls->count == ls->cap) {
        uint32_t ncap = ls->cap ? ls->cap * 2 : 2;
        struct levelset_entry *n = realloc(ls->entries, ncap * sizeof *n);
        if (!n) return UMBRA_ENOMEM;
        ls->entries = n;
        ls->cap = ncap;
    }
    uint32_t pos = ls->count;
    ls->entries[pos] = (struct levelset_entry){level, (uint32_t)len, node};
    ls->count++;
    int rc = 0;
    if (ls->index)
        rc = index_put(ls, pos);
    else if (ls->count > LEVELSET_INDEX_AT)
        rc = build_index(ls);
    if (rc) ls->count--;
    return rc;
}

void levelset_del(struct levelset *ls, const char *level, size_t len)
{
    long i = find(ls, level, len);
    if (i < 0) return;
    uint32_t last = ls->count - 1;
    if (ls->index) strmap_del(ls->index, level, len);
    if ((uint32_t)i != last) {
        ls->entries[i] = ls->entries[last];
        /* The moved entry's position changed; a failed update drops the
         * index, and lookups fall back to the scan. */
        if (ls->index && index_put(ls, (uint32_t)i)) {
            strmap_free(ls->index);
            ls->index = NULL;
        }
    }
    ls->count--;
    if (ls->count == 0) levelset_free(ls);
}

void levelset_free(struct levelset *ls)
{
    free(ls->entries);
    strmap_free(ls->index);
    memset(ls, 0, sizeof *ls);
}
