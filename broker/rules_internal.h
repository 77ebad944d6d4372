/*
 * rules_internal.h - what the rules service, its actions and its sinks
 * share: compiled rules, their counters, and the run of one rule on one
 * message, which outlives the publish when an action finishes later.
 *
 * A rule's counters live in a refcounted rule_stats that a reloaded rule of
 * the same name takes over, so an HTTP response arriving after
 * replace-topic-rule still counts for that rule.
 *
 * Loop thread only.
 */
#ifndef UMBRA_RULES_INTERNAL_H
#define UMBRA_RULES_INTERNAL_H

#include "sql_eval.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct umbra_server;
struct template;
struct sql_query;

struct rule_stats {
    unsigned refs;
    char *name;
    uint64_t evaluated; /* messages its FROM matched, WHERE evaluated (metrics only) */
    uint64_t matched, succeeded, failed, dropped;
    uint64_t last_warning_ms; /* failures are logged at most once a second per rule */
    uint64_t warnings_not_logged;
};

enum action_kind {
    ACTION_REPUBLISH,
    ACTION_DYNAMODB,
    ACTION_DYNAMODB_V2,
    ACTION_S3,
    ACTION_HTTP,
    ACTION_POSTGRES,
};

struct http_header_template {
    char *key;
    struct template *value;
};

struct rule_action {
    enum action_kind kind;
    const char *failed_action; /* errorAction's "failedAction": "RepublishAction", ... */
    struct template *topic;    /* republish; s3: the key; http: the url */
    char *bucket;              /* s3 */
    uint8_t qos;
    /* dynamoDB, dynamoDBv2, postgres: the table ("ddb_" + tableName for DynamoDB) */
    char *table;
    char *hash_field, *range_field, *payload_field;
    struct template *hash_value, *range_value, *operation;
    bool is_hash_number, is_range_number;
    /* http headers; postgres columns (key: column, value: template) */
    struct http_header_template *headers;
    size_t nheaders;
    char *connection; /* postgres connection string */
};

struct rule {
    struct rule_stats *stats; /* stats->name is the rule's name */
    struct sql_query *query;
    bool is_star; /* SELECT * (no alias): the body is the whole payload */
    size_t from_len;
    size_t same_from_as; /* index of the first loaded rule with this FROM (itself if none) */
    struct rule_action *actions;
    size_t nactions;
    struct rule_action error_action;
    bool has_error_action;
};

struct umbra_rules {
    struct rule *rules;
    size_t n;
    int depth;            /* republish nesting */
    int64_t timestamp_ms; /* timestamp() of the message being run */
};

/* Compile {"TYPE": {fields}} as the registry stored it. 0, or an error (logged). */
int rule_action_compile(const char *rule, const json_t *spec, struct rule_action *a);
void rule_action_free(struct rule_action *a);

/*
 * One rule's run on one message. Every action reports into it, now or when
 * its sink finishes; when the last has, the errorAction (if any) gets one
 * document naming every failure, as AWS sends.
 */
struct rule_run {
    unsigned pending; /* actions not finished, +1 while the rule's turn runs */
    struct rule_stats *stats;
    bool is_error_run;             /* the errorAction's own run: failures are only logged */
    json_t *failures;              /* NULL when nothing waits for them */
    const struct sql_message *msg; /* while the rule's turn runs */
    /* A copy of the message, made when an action finishes later and the
     * errorAction would need it. */
    struct sql_message copy;
    char *copy_topic, *copy_client_id, *copy_principal;
    uint8_t *copy_payload;
    char copy_trace_id[37];
};

/* What a sink holds for one queued action and hands back when it is done. */
struct rule_ticket {
    struct rule_run *run;
    const char *failed_action;
    char *resource;
};

/* What a sink with a full queue answers: the message is dropped (counted as
 * such), not failed. */
extern const char sink_queue_full[];

/* A ticket for an action a sink will finish later. NULL when out of memory. */
struct rule_ticket *rule_ticket_new(struct rule_run *run, const struct rule_action *a,
                                    const char *resource);
/* The action is done: why NULL for success, else why it failed. Frees t. */
void rule_ticket_done(struct umbra_server *s, struct rule_ticket *t, const char *why);
/* The sink's queue was full: the message is dropped for this action. Frees t. */
void rule_ticket_drop(struct umbra_server *s, struct rule_ticket *t, const char *why);

/* An action finished (now): count it, log it, keep it for the errorAction. */
void rule_run_report(struct umbra_server *s, struct rule_run *run, const char *failed_action,
                     const char *resource, const char *why, bool is_dropped);
/* The rule's turn or an action is over; the last one runs the errorAction. */
void rule_run_release(struct umbra_server *s, struct rule_run *run);

/* rules_service.c: run the errorAction of the rule that owns these stats (if
 * it is still loaded) with this error document. */
void rules_run_error_action(struct umbra_server *s, const struct rule_stats *stats,
                            const struct sql_message *m, const char *doc);

void rule_stats_unref(struct rule_stats *st);

#endif
