/*
 * rest_route.h - which AWS IoT REST operation a request names.
 *
 * Routes on the raw request target as botocore builds it: the path is split
 * on literal '/', then each segment is percent-decoded, so a topic "a/b"
 * sent as "/topics/a%2Fb" is one segment (curl users who write
 * "/topics/a/b" get the same topic: the rest of the path is the topic).
 * Query parameters are percent-decoded too; '+' stays '+' (it is an MQTT
 * wildcard, not a space, in these APIs).
 *
 * Pure: no I/O, no allocation. Names are checked only for length here;
 * the handlers check them against AWS's patterns.
 */
#ifndef UMBRA_REST_ROUTE_H
#define UMBRA_REST_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

enum rest_op {
    REST_GET_THING_SHADOW,
    REST_UPDATE_THING_SHADOW,
    REST_DELETE_THING_SHADOW,
    REST_LIST_NAMED_SHADOWS,
    REST_PUBLISH,
};

#define REST_MAX_NAME 256
#define REST_MAX_TOPIC 4096

struct rest_route {
    enum rest_op op;
    char thing[REST_MAX_NAME + 1];
    char shadow[REST_MAX_NAME + 1]; /* "" for the classic shadow */
    char topic[REST_MAX_TOPIC + 1];
    size_t topic_len;  /* may hold NUL bytes: the handler refuses them */
    int qos;           /* publish: 0 unless ?qos= */
    bool is_retained;  /* publish: ?retain=true */
    char next_token[REST_MAX_NAME + 1];
    int page_size;     /* list: 0 unless ?pageSize= */
};

/* The error for a request that names no operation or names it badly. */
struct rest_route_error {
    int status;            /* 400, 404, 405 */
    const char *exception; /* AWS exception name */
    const char *message;
};

/*
 * Route method + target. Returns 0 and fills *out, or -1 and fills *err
 * (unknown path: 404; known path, other method: 405; bad percent-encoding,
 * a parameter out of range or too long: 400).
 */
int rest_route(const char *method, const char *target, size_t len, struct rest_route *out,
               struct rest_route_error *err);

/*
 * Percent-decode src[0..len) into dst (cap bytes, NUL-terminated). Returns
 * the decoded length, or -1 for a bad escape or when it does not fit.
 */
long rest_percent_decode(const char *src, size_t len, char *dst, size_t cap);

#endif
