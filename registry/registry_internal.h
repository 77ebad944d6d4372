/*
 * registry_internal.h - what the registry's files share and nobody else
 * needs: the struct, error helpers, request field access, statements.
 */
#ifndef UMBRA_REGISTRY_INTERNAL_H
#define UMBRA_REGISTRY_INTERNAL_H

#include "registry.h"

#include <sqlite3.h>
#include <stdbool.h>

struct registry {
    sqlite3 *db;
    char account[13];
    char region[32];
    char dir[4096]; /* the data directory: its CA signs created certificates */
};

/* Fill e and return UMBRA_EINVAL-style negative code (printf-like message). */
int reg_fail(struct reg_error *e, const char *type, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int reg_fail_db(struct registry *r, struct reg_error *e);

/* Request fields: NULL when absent; a wrong JSON type is an InvalidRequest. */
int reg_string(const json_t *req, const char *key, bool required, const char **out,
               struct reg_error *e);
int reg_int(const json_t *req, const char *key, bool *present, int64_t *out, struct reg_error *e);

/* A value matching [chars]{min,max}: the shape of every AWS name pattern. */
bool reg_matches(const char *s, const char *allowed_punct, size_t min, size_t max);

/* Prepare, or fail the operation with a ServiceUnavailable-like error. */
sqlite3_stmt *reg_prepare(struct registry *r, const char *sql, struct reg_error *e);

int64_t reg_now(void);
/* A random version 4 UUID, as AWS's thingId. */
void reg_uuid(char out[37]);

#endif
