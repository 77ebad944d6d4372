/*
 * sink_s3.h - the rules engine's s3 action on this machine: objects are
 * files under DATA_DIR/buckets/BUCKET/KEY, written off the loop (libuv's
 * thread pool), each atomically (a temporary file renamed into place).
 *
 * At most SINK_S3_MAX_PENDING writes wait at a time; past that a put is
 * dropped and the rule counts it as such, so a slow disk costs bounded
 * memory and never slows the broker. A write that fails (disk full, ...)
 * counts as a failed action and reaches the rule's errorAction.
 *
 * Loop thread only.
 */
#ifndef UMBRA_SINK_S3_H
#define UMBRA_SINK_S3_H

#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct rule_ticket;

#define SINK_S3_MAX_PENDING 1000

/* Queue one object (key NULL: out of memory); t is done when it is written,
 * or now when it cannot be. */
void sink_s3_put(struct umbra_server *s, struct rule_ticket *t, const char *bucket, const char *key,
                 const uint8_t *data, size_t len);

/* Bucket names as S3 takes them: 3-63 of [a-z0-9.-]. Keys: 1-1024 bytes, no
 * "." or ".." segment, no leading '/', no NUL. */
int sink_s3_valid_bucket(const char *bucket);
int sink_s3_valid_key(const char *key);

#endif
