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

/* Check a name or value with one of names.h's checks; on failure fill e with
 * AWS's "1 validation error detected: ..." InvalidRequestException. */
typedef int (*reg_name_check)(const char *s, size_t len, const char **why);
int reg_check(reg_name_check check, const char *field, const char *value, struct reg_error *e);

/* Prepare, or fail the operation with a ServiceUnavailable-like error. */
sqlite3_stmt *reg_prepare(struct registry *r, const char *sql, struct reg_error *e);

/* A thing may name this type: it exists and (for a new thing) is not
 * deprecated. 0, or an AWS error in e. */
int reg_check_thing_type(struct registry *r, const char *name, bool for_new_thing,
                         struct reg_error *e);

/* Run a statement that has one text parameter (?1) and returns no rows. */
int reg_exec_text(struct registry *r, const char *sql, const char *arg, struct reg_error *e);

int64_t reg_now(void);
/* A random version 4 UUID, as AWS's thingId. */
void reg_uuid(char out[37]);

#endif
