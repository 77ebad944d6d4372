/* profile.c - the two behaviour tables (see profile.h and docs/compatibility.md). */
#include "profile.h"

#include <string.h>

const struct umbra_profile umbra_profile_mqtt = {
    .name = "mqtt",
    .hash_matches_parent = true,
    .retained_exact_only = false,
    .qos2_disconnects = false,
    .topic_limits = {0, 0},
    .max_filters_per_subscribe = 0,
    .max_subscriptions = 0,
    .keepalive_min = 0,
    .keepalive_max = 0,
    .max_client_id = 0,
};

const struct umbra_profile umbra_profile_aws = {
    .name = "aws",
    .hash_matches_parent = false,
    .retained_exact_only = true,
    .qos2_disconnects = true,
    .topic_limits = {256, 7},
    .max_filters_per_subscribe = 8,
    .max_subscriptions = 50,
    .keepalive_min = 30,
    .keepalive_max = 1200,
    .max_client_id = 128,
};

const struct umbra_profile *umbra_profile_find(const char *name)
{
    if (strcmp(name, "mqtt") == 0) return &umbra_profile_mqtt;
    if (strcmp(name, "aws") == 0) return &umbra_profile_aws;
    return NULL;
}
