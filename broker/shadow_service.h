/*
 * shadow_service.h - device shadows on the broker: requests on the reserved
 * topics, documents in memory and on disk, replies once durable.
 *
 * Every shadow is kept in memory by "THING/SHADOW" ("THING/" for the
 * classic one). A request runs the pure document logic (shadow/shadow.h);
 * an accepted update or delete becomes a persistence operation of the
 * current batch, and its replies (/delta, /documents, /accepted) wait until
 * that batch is committed: a device never sees an accepted that a crash
 * could take back, and many shadows updated in one loop turn cost one
 * commit. Rejections, and replies that only read, go out at once unless
 * earlier replies are still waiting (order is kept).
 *
 * Loop thread only.
 */
#ifndef UMBRA_SHADOW_SERVICE_H
#define UMBRA_SHADOW_SERVICE_H

#include "shadow_topic.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;

int shadow_service_init(struct umbra_server *s);
void shadow_service_free(struct umbra_server *s);

/* Startup: one stored shadow (persist_loader's shadow callback). */
int shadow_service_load(struct umbra_server *s, const char *key, size_t klen, const char *doc,
                        size_t dlen);

/* A PUBLISH on a shadow request topic (after the publisher's authorization). */
void shadow_service_request(struct umbra_server *s, const struct shadow_topic *t, const char *topic,
                            const uint8_t *payload, size_t len);

/* The outcome of a REST call (GetThingShadow, UpdateThingShadow, DeleteThingShadow). */
struct shadow_call_result {
    int status;      /* 200, or AWS's error code (400, 404, 409, 413, 415, 500) */
    char *message;   /* the error's message, NULL with 200 */
    char *body;      /* the 200 body (compact JSON), NULL on error */
    uint64_t epoch;  /* the response waits for this persistence batch (0: none) */
};

/*
 * A REST request on the shadow `shadow` ("" for the classic one) of
 * `thing`: the same logic as MQTT requests, with the MQTT replies AWS
 * publishes for REST callers (/update/delta, /documents, /accepted after an
 * update; no /rejected). Returns 0 with *out filled (free it with
 * shadow_call_result_free), or UMBRA_EINVAL for names AWS refuses.
 */
int shadow_service_call(struct umbra_server *s, const char *thing, const char *shadow,
                        enum shadow_op op, const uint8_t *payload, size_t len,
                        struct shadow_call_result *out);
void shadow_call_result_free(struct shadow_call_result *r);

/*
 * ListNamedShadowsForThing: {"results":[names, sorted],"timestamp":T} with
 * "nextToken" when more follow (page_size 0 means 100; next_token NULL or
 * "" for the first page). Caller decrefs *out. 0 or UMBRA_ENOMEM.
 */
int shadow_service_list_named(struct umbra_server *s, const char *thing, const char *next_token,
                              int page_size, json_t **out);

/* Persistence batch `epoch` is committed: send the replies that waited for it. */
void shadow_service_committed(struct umbra_server *s, uint64_t epoch);

#endif
