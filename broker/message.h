/*
 * message.h - an application message, stored once and shared.
 *
 * A message that has to outlive the packet it came in (queued for a
 * session, in flight, retained, a will) is copied once into one allocation
 * holding topic and payload, and shared by reference count among every
 * delivery, the retained store and the persistence queue. Messages that
 * only pass through to online QoS 0 subscribers are never allocated.
 */
#ifndef UMBRA_MESSAGE_H
#define UMBRA_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

struct umbra_msg {
    uint32_t refs;
    uint32_t persist_refs; /* delivery rows in the database naming db_id */
    uint64_t db_id;        /* row in the messages table; 0 = not stored */
    uint16_t topic_len;
    uint8_t qos; /* QoS it was published with */
    uint32_t payload_len;
    uint64_t born_ns; /* uv_hrtime() when a client's PUBLISH made it; 0 otherwise */
    char *topic;      /* NUL-terminated; points into this allocation */
    uint8_t *payload; /* points into this allocation */
};

/* One reference owned by the caller; NULL on allocation failure. */
struct umbra_msg *msg_new(const char *topic, size_t topic_len, const void *payload,
                          size_t payload_len, uint8_t qos);

static inline struct umbra_msg *msg_ref(struct umbra_msg *m)
{
    m->refs++;
    return m;
}

/* Drop a reference; frees the message with the last one. NULL is a no-op. */
void msg_unref(struct umbra_msg *m);

#endif
