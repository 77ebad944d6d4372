/*
 * shadow.h - the document logic of AWS IoT Device Shadows.
 *
 * Given the stored document of one shadow (classic or named) and the bytes a
 * client sent to its /update, /get or /delete topic (or REST body), compute
 * exactly what AWS answers: the /accepted payload, or the /rejected error
 * document with AWS's code and message, plus for an accepted update the
 * /update/delta payload (when the resulting delta is not empty), the
 * /update/documents payload and the new document to store.
 *
 * Pure: no I/O, no globals, no clock. The service passes the time (epoch
 * seconds) used for every timestamp, and owns topics, persistence, locking
 * and fan-out (publish order: delta, documents, accepted).
 */
#ifndef UMBRA_SHADOW_H
#define UMBRA_SHADOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHADOW_MAX_STATE_BYTES 8192     /* desired + reported, compact, without metadata */
#define SHADOW_MAX_DEPTH 6              /* levels, counting desired/reported as level 1 */
#define SHADOW_MAX_CLIENT_TOKEN 64      /* bytes */
#define SHADOW_MAX_PAYLOAD (128 * 1024) /* AWS's message size limit */

/*
 * A stored shadow. When exists: state is {"desired"?:{..},"reported"?:{..}}
 * (empty sections absent, {} once cleared) and metadata mirrors it with
 * {"timestamp":N} leaves; version is the last accepted version (>= 1).
 * When !exists: state and metadata are NULL and version is 0 for a shadow
 * never created, or the last version of a deleted one, so that re-creating
 * it continues the numbering (AWS resets it after 48 h: the service may
 * then pass 0).
 */
struct shadow_doc {
    json_t *state;
    json_t *metadata;
    int64_t version;
    bool exists;
};

/*
 * The outcome of a request. code is 0 when accepted, else the AWS error code
 * (400, 404, 409, 413, 415, 500) and message points into rejected.
 * Accepted: `accepted` is the /accepted payload (and REST 200 body); for an
 * update `documents` is the /update/documents payload and `delta` the
 * /update/delta payload or NULL when none is to be published. Rejected:
 * only `rejected` is set. Every payload carries the request's clientToken
 * when it had a valid one.
 */
struct shadow_result {
    int code;
    const char *message;
    json_t *accepted;
    json_t *rejected;
    json_t *delta;
    json_t *documents;
};

/*
 * Each request function returns 0 when it produced a result (accepted or
 * rejected: see res->code) and a negative UMBRA_E* value when it could not
 * (UMBRA_ENOMEM, UMBRA_EINVAL for NULL arguments); the result and out_new are
 * then empty. out_new is filled only when the request is accepted, and is
 * then the document to store in place of *stored (which is never modified).
 * payload may be NULL when len is 0. name is the shadow's name as it appears
 * in 404 messages: the shadow name for a named shadow, the thing name for the
 * classic one.
 */
int shadow_update(const struct shadow_doc *stored, const char *payload, size_t len, int64_t now,
                  struct shadow_doc *out_new, struct shadow_result *res);
int shadow_get(const struct shadow_doc *stored, const char *name, const char *payload, size_t len,
               int64_t now, struct shadow_result *res);
int shadow_delete(const struct shadow_doc *stored, const char *name, const char *payload,
                  size_t len, int64_t now, struct shadow_doc *out_new, struct shadow_result *res);

/*
 * The delta of a document: the parts of desired that reported lacks or holds
 * with another value (numbers compared by value). Returns a new object, or
 * NULL when the delta is empty. When metadata is not NULL, *metadata receives
 * the desired metadata of the delta's leaves (NULL with an empty delta).
 */
json_t *shadow_delta(const struct shadow_doc *doc, json_t **metadata);

/* Bytes the state counts against SHADOW_MAX_STATE_BYTES (compact JSON of
 * desired plus that of reported, numbers in their shortest form). */
size_t shadow_state_size(const json_t *state);

void shadow_doc_free(struct shadow_doc *d);
void shadow_result_free(struct shadow_result *r);

#endif
