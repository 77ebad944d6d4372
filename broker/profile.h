/*
 * profile.h - listener behaviour profiles: full MQTT 3.1.1, or AWS IoT.
 *
 * Where AWS IoT departs from the OASIS spec, the broker asks the profile of
 * the connection (or of the offline session's last connection) through one
 * named field; docs/compatibility.md lists every field. Profiles are
 * immutable tables.
 */
#ifndef UMBRA_PROFILE_H
#define UMBRA_PROFILE_H

#include "mqtt_topic.h"

#include <stdbool.h>
#include <stdint.h>

struct umbra_profile {
    const char *name;
    /* "a/#" matches "a" (MQTT 4.7.1.2); AWS: it does not. */
    bool hash_matches_parent;
    /* Stored retained messages go only to a subscription whose filter is the
     * retained topic itself (AWS); MQTT: to every matching filter. */
    bool retained_exact_only;
    /* QoS 2 PUBLISH or SUBSCRIBE: AWS closes the connection. */
    bool qos2_disconnects;
    /* Topic name and filter limits (0 = none): AWS 256 bytes, 7 slashes. */
    struct mqtt_topic_limits topic_limits;
    /* Filters in one SUBSCRIBE (0 = any); more closes the connection. */
    uint32_t max_filters_per_subscribe;
    /* Subscriptions per connection (0 = any); excess filters get 0x80. */
    uint32_t max_subscriptions;
    /* Keepalive clamp in seconds (0 = honour the client); 0 from the client
     * becomes keepalive_max when clamping. */
    uint16_t keepalive_min, keepalive_max;
    /* Client ids longer than this are refused with CONNACK 2 (0 = any). */
    uint32_t max_client_id;
};

extern const struct umbra_profile umbra_profile_mqtt;
extern const struct umbra_profile umbra_profile_aws;

/* "mqtt" or "aws"; NULL if unknown. */
const struct umbra_profile *umbra_profile_find(const char *name);

#endif
