/*
 * registry.h - the device registry (things, and next certificates, CA
 * certificates and attachments) in SQLite, shaped like AWS IoT's API.
 *
 * Every operation takes its request as a JSON object named and shaped as
 * AWS's REST API and CLI name them (thingName, attributePayload,
 * expectedVersion, ...) and answers with the JSON object AWS answers
 * with, so umbractl prints it and the HTTP API sends it unchanged. Errors
 * carry AWS's exception name, HTTP status and message.
 *
 * Both umbrad and umbractl link this module and open the same database;
 * SQLite (WAL, busy timeout) arbitrates between them. Not for the
 * message path: the broker caches what it needs.
 */
#ifndef UMBRA_REGISTRY_H
#define UMBRA_REGISTRY_H

#include "usage_rules.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct registry;

/* An AWS-style failure: e.g. ("ResourceNotFoundException", 404, "..."). */
struct reg_error {
    const char *type; /* static string */
    int status;       /* HTTP status AWS uses for it */
    char message[512];
};

/*
 * Open (creating and migrating) DIR/umbra.db's registry tables. The account
 * id (12 digits, generated on first open) and region live in the database.
 * Returns 0 or a negative UMBRA_E*, with a message in err.
 */
int registry_open(struct registry **out, const char *path, const char *region, char *err,
                  size_t errlen);
void registry_close(struct registry *r);

const char *registry_account(const struct registry *r);
const char *registry_region(const struct registry *r);

/*
 * Operations. `req` is borrowed; on success *resp is a new JSON object the
 * caller releases with json_decref(). On failure the return value is
 * negative and *e says what AWS would say.
 */
typedef int (*registry_op)(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);

int registry_create_thing(struct registry *r, const json_t *req, json_t **resp,
                          struct reg_error *e);
int registry_describe_thing(struct registry *r, const json_t *req, json_t **resp,
                            struct reg_error *e);
int registry_update_thing(struct registry *r, const json_t *req, json_t **resp,
                          struct reg_error *e);
int registry_delete_thing(struct registry *r, const json_t *req, json_t **resp,
                          struct reg_error *e);
int registry_list_things(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e);

/* Thing types (thing_types.c). */
int registry_create_thing_type(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);
int registry_describe_thing_type(struct registry *r, const json_t *req, json_t **resp,
                                 struct reg_error *e);
int registry_list_thing_types(struct registry *r, const json_t *req, json_t **resp,
                              struct reg_error *e);
int registry_deprecate_thing_type(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e);
int registry_delete_thing_type(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);

/* Topic rules (topic_rules.c): ruleName, topicRulePayload as AWS takes them. */
int registry_create_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);
int registry_get_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                            struct reg_error *e);
int registry_list_topic_rules(struct registry *r, const json_t *req, json_t **resp,
                              struct reg_error *e);
int registry_replace_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);
int registry_delete_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);
int registry_enable_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);
int registry_disable_topic_rule(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);

/* For the daemon: each enabled rule's name and stored TopicRulePayload (JSON
 * text), in name order. 0 or UMBRA_EIO. */
int registry_each_enabled_topic_rule(struct registry *r,
                                     void (*fn)(void *ctx, const char *name, const char *payload),
                                     void *ctx);

/*
 * For the daemon's caches (never on the message path): a generation number
 * that triggers move on every change to the registry's tables, by any
 * process, and on nothing else (the broker's own persistence shares the
 * file), so a cheap poll tells when to reload.
 */
int registry_change_counter(struct registry *r, uint64_t *counter);

/* One certificate as the gateway needs it to admit a connection. */
struct reg_trust {
    const char *id;     /* borrowed for the callback */
    const char *status; /* ACTIVE, INACTIVE, REVOKED, ... */
    int64_t not_before, not_after;
    bool has_ca;       /* registered with a CA ... */
    bool is_ca_active; /* ... and that CA is ACTIVE */
};
/* Call fn for every registered certificate. */
int registry_each_certificate(struct registry *r, void (*fn)(void *ctx, const struct reg_trust *t),
                              void *ctx);

/* Certificates (certificates.c). */
int registry_register_certificate(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e);
int registry_register_certificate_without_ca(struct registry *r, const json_t *req, json_t **resp,
                                             struct reg_error *e);
int registry_describe_certificate(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e);
int registry_update_certificate(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);
int registry_delete_certificate(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);
int registry_list_certificates(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);
/* Made by Umbra's CA (the data dir's ca.pem): RSA 2048 keys, as AWS. */
int registry_create_keys_and_certificate(struct registry *r, const json_t *req, json_t **resp,
                                         struct reg_error *e);
int registry_create_certificate_from_csr(struct registry *r, const json_t *req, json_t **resp,
                                         struct reg_error *e);
int registry_register_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e);
int registry_describe_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e);
int registry_list_certificates_by_ca(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e);
int registry_update_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);
int registry_list_ca_certificates(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e);
int registry_delete_ca_certificate(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);

/* DescribeEndpoint (endpoint.c): the name in DATA_DIR/server.pem devices connect to. */
int registry_describe_endpoint(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e);

/* Thing-principal attachments (principals.c). */
int registry_attach_thing_principal(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e);
int registry_detach_thing_principal(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e);
int registry_list_thing_principals(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);
int registry_list_principal_things(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);

/*
 * The connection's thing, as AWS defines it for policy variables: the thing
 * named client_id, if it is attached to the principal. 1 and *thing =
 * {"thingName", "thingTypeName"?, "attributes"} (caller decrefs), 0 when
 * there is none, negative on a database error.
 */
int registry_connection_thing(struct registry *r, const char *principal, const char *client_id,
                              json_t **thing);

/*
 * Policies (policies.c): documents checked with policy/ when stored
 * (MalformedPolicyException), up to five versions each with one default,
 * attached to certificate ARNs (at most ten policies per certificate).
 */
int registry_create_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);
int registry_get_policy(struct registry *r, const json_t *req, json_t **resp, struct reg_error *e);
int registry_list_policies(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);
int registry_delete_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);
int registry_create_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);
int registry_get_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);
int registry_list_policy_versions(struct registry *r, const json_t *req, json_t **resp,
                                  struct reg_error *e);
int registry_set_default_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                        struct reg_error *e);
int registry_delete_policy_version(struct registry *r, const json_t *req, json_t **resp,
                                   struct reg_error *e);
int registry_attach_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);
int registry_detach_policy(struct registry *r, const json_t *req, json_t **resp,
                           struct reg_error *e);
int registry_list_attached_policies(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e);
int registry_list_targets_for_policy(struct registry *r, const json_t *req, json_t **resp,
                                     struct reg_error *e);
int registry_get_effective_policies(struct registry *r, const json_t *req, json_t **resp,
                                    struct reg_error *e);
/* Evaluates the principal's policies (less policyNamesToSkip, plus
 * policyNamesToAdd) with iot:ClientId from clientId and iot:CertificateId
 * from the principal's ARN; other policy variables stay unresolved. */
int registry_test_authorization(struct registry *r, const json_t *req, json_t **resp,
                                struct reg_error *e);

/*
 * For the broker (not the message path): call fn with the default-version
 * document of every policy attached to principal_arn, ordered by policy
 * name. The strings are borrowed for the call. 0, or UMBRA_EIO.
 */
int registry_principal_policies(struct registry *r, const char *principal_arn,
                                void (*fn)(void *ctx, const char *policy_name,
                                           const char *document),
                                void *ctx);

/*
 * Usage metering (usage_table.c): what AWS would bill, one row per UTC
 * hour and client id (or thing name; "" for the account). The broker adds
 * to it through its persistence writer; umbractl adds its own registry
 * operations with registry_usage_add. 0 or UMBRA_EIO.
 */
/* The statement that adds counts to a row: ?1 hour, ?2 client id, ?3..?7
 * the counters in enum usage_counter order (for the broker's writer). */
extern const char registry_usage_add_sql[];
int registry_usage_add(struct registry *r, uint64_t hour, const char *client_id,
                       const struct usage_counts *counts);

enum registry_usage_group { REGISTRY_USAGE_TOTAL, REGISTRY_USAGE_BY_THING, REGISTRY_USAGE_BY_DAY };

/* Sums of the rows whose hour overlaps [start, end) (epoch seconds), by
 * UTC month ("YYYY-MM") and group (NULL for the total, the client id, or
 * the UTC day "YYYY-MM-DD"), in group then month order. The strings are
 * borrowed for the call. 0 or UMBRA_EIO. */
int registry_usage_query(struct registry *r, int64_t start, int64_t end,
                         enum registry_usage_group group,
                         void (*fn)(void *ctx, const char *month, const char *group,
                                    const struct usage_counts *counts),
                         void *ctx);
/* The first recorded hour (epoch seconds / 3600): 0 and *hour, or
 * UMBRA_ENOTFOUND when nothing is recorded, UMBRA_EIO. */
int registry_usage_first_hour(struct registry *r, int64_t *hour);

#endif
