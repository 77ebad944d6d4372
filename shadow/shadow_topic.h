/*
 * shadow_topic.h - the reserved shadow request topics.
 *
 *   $aws/things/THING/shadow/{update,get,delete}
 *   $aws/things/THING/shadow/name/SHADOW/{update,get,delete}
 *
 * Only the request topics parse: responses (/accepted, /rejected, /delta,
 * /documents) are ordinary topics the service publishes to. Pure.
 */
#ifndef UMBRA_SHADOW_TOPIC_H
#define UMBRA_SHADOW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

enum shadow_op { SHADOW_UPDATE, SHADOW_GET, SHADOW_DELETE };

struct shadow_topic {
    const char *thing; /* points into the topic */
    size_t thing_len;
    const char *name; /* NULL for the classic (unnamed) shadow */
    size_t name_len;
    enum shadow_op op;
    size_t prefix_len; /* "$aws/things/T/shadow[/name/S]" */
};

/* True when topic is a shadow request with valid thing and shadow names. */
bool shadow_topic_parse(const char *topic, size_t len, struct shadow_topic *out);

/* "update", "get" or "delete". */
const char *shadow_op_name(enum shadow_op op);

#endif
