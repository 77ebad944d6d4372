/*
 * rules_service.h - the rules engine on the broker: topic rules from the
 * registry, compiled once, run on every message a client, the HTTPS API or
 * the shadow service publishes.
 *
 * Rules are loaded at start and again whenever the registry's change
 * counter moves (umbractl create/replace/delete/enable/disable-topic-rule
 * apply without a restart). For a message, each enabled rule whose FROM
 * filter matches the topic has its WHERE and SELECT evaluated (the payload
 * is parsed at most once per message, and only when a rule matches) and
 * its actions run. Messages to $aws/rules/RULE/... (Basic Ingest) go to
 * that rule only and are never delivered to subscribers.
 *
 * Loop thread only.
 */
#ifndef UMBRA_RULES_SERVICE_H
#define UMBRA_RULES_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;

/* Who published a message, for clientid() and principal(). */
struct rules_origin {
    const char *client_id; /* NULL: not over MQTT ("n/a") */
    const char *principal; /* certificate id, or NULL */
};

/* (Re)load the enabled rules from the registry. 0, or an error (the rules
 * loaded before stay). */
int rules_service_load(struct umbra_server *s);
void rules_service_free(struct umbra_server *s);

/* A message was published: run the rules it triggers. */
void rules_service_message(struct umbra_server *s, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len,
                           const struct rules_origin *origin);

/* Each enabled rule's counters: matched (WHERE true), succeeded, failed and
 * dropped (actions), for $SYS. */
void rules_service_each_counter(struct umbra_server *s,
                                void (*fn)(void *ctx, const char *rule, const char *counter,
                                           uint64_t value),
                                void *ctx);

/* Each enabled rule's counters, for the metrics. */
struct rules_counts {
    uint64_t evaluated;                  /* messages its FROM matched */
    uint64_t matched;                    /* ... and its WHERE accepted */
    uint64_t succeeded, failed, dropped; /* action outcomes */
};
void rules_service_each_rule(struct umbra_server *s,
                             void (*fn)(void *ctx, const char *rule,
                                        const struct rules_counts *counts),
                             void *ctx);

/* A Basic Ingest topic ($aws/rules/...): handed to rules only, not routed. */
bool rules_service_is_ingest(const char *topic, size_t topic_len);

#endif
