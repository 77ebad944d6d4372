/* message.c - refcounted messages in a single allocation. */
#include "message.h"

#include <stdlib.h>
#include <string.h>

struct umbra_msg *msg_new(const char *topic, size_t topic_len, const void *payload,
                          size_t payload_len, uint8_t qos)
{
    if (topic_len > UINT16_MAX || payload_len > UINT32_MAX) return NULL;
    struct umbra_msg *m = malloc(sizeof *m + topic_len + 1 + payload_len);
    if (!m) return NULL;
    m->refs = 1;
    m->persist_refs = 0;
    m->db_id = 0;
    m->born_ns = 0;
    m->topic_len = (uint16_t)topic_len;
    m->qos = qos;
    m->payload_len = (uint32_t)payload_len;
    m->topic = (char *)(m + 1);
    memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    m->payload = (uint8_t *)m->topic + topic_len + 1;
    if (payload_len) memcpy(m->payload, payload, payload_len);
    return m;
}

void msg_unref(struct umbra_msg *m)
{
    if (m && --m->refs == 0) free(m);
}
