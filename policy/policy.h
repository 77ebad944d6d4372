/*
 * policy.h - AWS IoT policies: parse a JSON document once, evaluate it
 * many times.
 *
 * A document is compiled into statements whose actions are a bit set over
 * the known IoT actions and whose resources are patterns with `*`/`?`
 * wildcards and `${...}` policy variables. Evaluation takes an action, the
 * resource ARN and a way to read the connection's variables, and answers
 * with IAM's semantics: default deny, an Allow grants, an explicit Deny
 * always wins. MQTT's `+` and `#` are ordinary characters here, as in AWS.
 *
 * Pure: no I/O, no globals; the only allocation is the compiled policy.
 */
#ifndef UMBRA_POLICY_H
#define UMBRA_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* AWS counts a document's characters without whitespace against this. */
#define POLICY_MAX_CHARS 2048

/* The data-plane actions Umbra knows (AWS's names: "iot:Connect", ...). */
enum policy_action {
    POLICY_CONNECT,
    POLICY_PUBLISH,
    POLICY_SUBSCRIBE,
    POLICY_RECEIVE,
    POLICY_RETAIN_PUBLISH,
    POLICY_GET_RETAINED_MESSAGE,
    POLICY_LIST_RETAINED_MESSAGES,
    POLICY_GET_THING_SHADOW,
    POLICY_UPDATE_THING_SHADOW,
    POLICY_DELETE_THING_SHADOW,
    POLICY_LIST_NAMED_SHADOWS,
    POLICY_DELETE_CONNECTION,
    POLICY_DESCRIBE_JOB_EXECUTION,
    POLICY_GET_PENDING_JOB_EXECUTIONS,
    POLICY_UPDATE_JOB_EXECUTION,
    POLICY_START_NEXT_PENDING_JOB_EXECUTION,
    POLICY_ASSUME_ROLE_WITH_CERTIFICATE,
    POLICY_NACTIONS
};

/* "iot:Publish" for POLICY_PUBLISH. */
const char *policy_action_name(enum policy_action a);
/* The action named (case-insensitively, as IAM), or -1. */
int policy_action_parse(const char *name);

/*
 * Where evaluation reads variables: `${iot:ClientId}` in a resource and
 * condition keys like "aws:SourceIp". get() is given the name without
 * `${` `}` (e.g. "iot:Connection.Thing.Attributes[color]") and fills up to
 * max values (more than one only for multi-valued keys such as
 * iot:ConnectAttributes or a ".List" name); it returns how many, 0 when
 * the variable has no value (the statement then keeps the literal
 * `${...}` text and usually fails to match, as AWS does).
 */
struct policy_vars {
    size_t (*get)(void *ctx, const char *name, const char **values, size_t max);
    void *ctx;
};

struct policy;

/*
 * Parse and check a document. Returns 0 and *out, or UMBRA_EINVAL with a
 * message for AWS's MalformedPolicyException in err (bad JSON with its
 * position, a missing or unknown Effect, no Action or Resource, a
 * resource that is not an IoT ARN or "*", an unknown condition operator,
 * more than POLICY_MAX_CHARS characters), or UMBRA_ENOMEM.
 */
int policy_compile(const char *text, size_t len, struct policy **out, char *err, size_t errlen);
void policy_free(struct policy *p);

/* The same checks without keeping the result (for create-policy). */
int policy_validate(const char *text, size_t len, char *err, size_t errlen);

enum policy_decision {
    POLICY_IMPLICIT_DENY, /* no statement allows it */
    POLICY_ALLOWED,
    POLICY_EXPLICIT_DENY,
};

/*
 * Evaluate policies together (all those attached to a principal) for one
 * action on one resource ARN. *decider (may be NULL) gets the index of the
 * policy whose statement decided: the denying one, else the first that
 * allowed; -1 for an implicit deny.
 */
enum policy_decision policy_evaluate(const struct policy *const *policies, size_t n,
                                     enum policy_action action, const char *resource,
                                     const struct policy_vars *vars, int *decider);

/* Does this one policy allow / explicitly deny? (For TestAuthorization.) */
enum policy_decision policy_evaluate_one(const struct policy *p, enum policy_action action,
                                         const char *resource, const struct policy_vars *vars);

/*
 * IAM's wildcard match: `*` any run of characters (across '/'), `?` one
 * character; everything else literal, case-sensitive. Exposed for tests.
 */
bool policy_glob(const char *pattern, size_t plen, const char *s, size_t slen);

#endif
