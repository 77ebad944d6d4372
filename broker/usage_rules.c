/*
 * usage_rules.c - AWS IoT Core's metering increments (see usage_rules.h).
 */
#include "usage_rules.h"

const char *const usage_counter_names[USAGE_NCOUNTERS] = {
    [USAGE_CONNECTION_MINUTES] = "connectionMinutes",
    [USAGE_MESSAGES] = "messages",
    [USAGE_REGISTRY_SHADOW_OPS] = "registryShadowOperations",
    [USAGE_RULES_TRIGGERED] = "rulesTriggered",
    [USAGE_ACTIONS_APPLIED] = "actionsApplied",
};

/* ceil(n / unit) without the overflow of n + unit - 1. */
static uint64_t increments(uint64_t n, uint64_t unit)
{
    return n / unit + (n % unit != 0);
}

uint64_t usage_messages(uint64_t bytes)
{
    return bytes ? increments(bytes, USAGE_MESSAGE_BYTES) : 1;
}

uint64_t usage_body_messages(uint64_t bytes)
{
    return increments(bytes, USAGE_MESSAGE_BYTES);
}

uint64_t usage_operations(uint64_t bytes)
{
    return bytes ? increments(bytes, USAGE_RECORD_BYTES) : 1;
}

uint64_t usage_minutes(uint64_t elapsed_ms)
{
    return elapsed_ms ? increments(elapsed_ms, USAGE_MINUTE_MS) : 1;
}

uint64_t usage_actions(uint64_t nactions)
{
    return nactions ? nactions : 1;
}

uint64_t usage_hour(uint64_t epoch_ms)
{
    return epoch_ms / 3600000u;
}

void usage_counts_add(struct usage_counts *a, const struct usage_counts *b)
{
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        a->n[i] += b->n[i];
}

int usage_counts_is_zero(const struct usage_counts *c)
{
    for (int i = 0; i < USAGE_NCOUNTERS; i++)
        if (c->n[i]) return 0;
    return 1;
}
