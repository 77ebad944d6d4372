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

#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct shadow_topic;

int shadow_service_init(struct umbra_server *s);
void shadow_service_free(struct umbra_server *s);

/* Startup: one stored shadow (persist_loader's shadow callback). */
int shadow_service_load(struct umbra_server *s, const char *key, size_t klen, const char *doc,
                        size_t dlen);

/* A PUBLISH on a shadow request topic (after the publisher's authorization). */
void shadow_service_request(struct umbra_server *s, const struct shadow_topic *t, const char *topic,
                            const uint8_t *payload, size_t len);

/* Persistence batch `epoch` is committed: send the replies that waited for it. */
void shadow_service_committed(struct umbra_server *s, uint64_t epoch);

#endif
