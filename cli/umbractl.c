/*
 * umbractl.c - Umbra's administration CLI.
 *
 *   umbractl [--data-dir DIR] COMMAND [--FLAG VALUE]...
 *
 * Commands, flags and JSON output mirror `aws iot ...`: each command is a
 * row in one table naming the registry operation and how each flag maps
 * to a field of the AWS request. Values starting with file:// are read
 * from that file, as the AWS CLI does. A few commands of Umbra's own
 * (get-root-ca, health) sit in a second table. Exit status: 0 ok, 1 the
 * operation failed (AWS-style error on stderr), 2 usage error.
 */
#include "backup.h"
#include "error.h"
#include "health.h"
#include "iot_data.h"
#include "registry.h"
#include "text_output.h"
#include "usage.h"
#include "version.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

enum arg_type {
    ARG_STRING, /* "--thing-name N" -> "thingName": "N" */
    ARG_INT,    /* "--expected-version 3" -> 3 */
    ARG_JSON,   /* "--attribute-payload '{...}'" or file://... -> object */
    ARG_BOOL,   /* "--remove-thing-type" -> true; "--no-remove-thing-type" -> false */
    ARG_OUTFILE /* "--certificate-pem-outfile F": write response field `key` (a.b) to F */
};

struct arg_spec {
    const char *flag; /* without the leading "--" */
    const char *key;  /* AWS request field */
    enum arg_type type;
    int is_required;
};

struct command {
    const char *name;
    const char *operation; /* AWS operation name, for error messages */
    registry_op run;       /* NULL: an iot-data operation, sent to the running umbrad */
    struct arg_spec args[8];
    const char *help;
    bool has_outfile; /* a positional OUTFILE takes the response body, as in the AWS CLI */
};

/* What `aws iot-data` commands all take, beside their own flags. */
#define DATA_PLANE_BINARY_FORMAT {"cli-binary-format", "cliBinaryFormat", ARG_STRING, 0}

static const struct command commands[] = {
    {"create-thing",
     "CreateThing",
     registry_create_thing,
     {{"thing-name", "thingName", ARG_STRING, 1},
      {"thing-type-name", "thingTypeName", ARG_STRING, 0},
      {"attribute-payload", "attributePayload", ARG_JSON, 0}},
     "Create a thing.",
     false},
    {"describe-thing",
     "DescribeThing",
     registry_describe_thing,
     {{"thing-name", "thingName", ARG_STRING, 1}},
     "Describe a thing.",
     false},
    {"update-thing",
     "UpdateThing",
     registry_update_thing,
     {{"thing-name", "thingName", ARG_STRING, 1},
      {"thing-type-name", "thingTypeName", ARG_STRING, 0},
      {"attribute-payload", "attributePayload", ARG_JSON, 0},
      {"expected-version", "expectedVersion", ARG_INT, 0},
      {"remove-thing-type", "removeThingType", ARG_BOOL, 0}},
     "Update a thing's attributes or type.",
     false},
    {"delete-thing",
     "DeleteThing",
     registry_delete_thing,
     {{"thing-name", "thingName", ARG_STRING, 1},
      {"expected-version", "expectedVersion", ARG_INT, 0}},
     "Delete a thing.",
     false},
    {"list-things",
     "ListThings",
     registry_list_things,
     {{"attribute-name", "attributeName", ARG_STRING, 0},
      {"attribute-value", "attributeValue", ARG_STRING, 0},
      {"thing-type-name", "thingTypeName", ARG_STRING, 0},
      {"use-prefix-attribute-value", "usePrefixAttributeValue", ARG_BOOL, 0},
      {"max-results", "maxResults", ARG_INT, 0},
      {"next-token", "nextToken", ARG_STRING, 0}},
     "List things, optionally by attribute or type.",
     false},
    {"create-thing-type",
     "CreateThingType",
     registry_create_thing_type,
     {{"thing-type-name", "thingTypeName", ARG_STRING, 1},
      {"thing-type-properties", "thingTypeProperties", ARG_JSON, 0},
      {"tags", "tags", ARG_JSON, 0}},
     "Create a thing type.",
     false},
    {"describe-thing-type",
     "DescribeThingType",
     registry_describe_thing_type,
     {{"thing-type-name", "thingTypeName", ARG_STRING, 1}},
     "Describe a thing type.",
     false},
    {"list-thing-types",
     "ListThingTypes",
     registry_list_thing_types,
     {{"thing-type-name", "thingTypeName", ARG_STRING, 0},
      {"max-results", "maxResults", ARG_INT, 0},
      {"next-token", "nextToken", ARG_STRING, 0}},
     "List thing types.",
     false},
    {"deprecate-thing-type",
     "DeprecateThingType",
     registry_deprecate_thing_type,
     {{"thing-type-name", "thingTypeName", ARG_STRING, 1},
      {"undo-deprecate", "undoDeprecate", ARG_BOOL, 0}},
     "Deprecate a thing type (no new things of it), or undo that.",
     false},
    {"delete-thing-type",
     "DeleteThingType",
     registry_delete_thing_type,
     {{"thing-type-name", "thingTypeName", ARG_STRING, 1}},
     "Delete a deprecated thing type no thing uses.",
     false},
    {"create-keys-and-certificate",
     "CreateKeysAndCertificate",
     registry_create_keys_and_certificate,
     {{"set-as-active", "setAsActive", ARG_BOOL, 0},
      {"certificate-pem-outfile", "certificatePem", ARG_OUTFILE, 0},
      {"public-key-outfile", "keyPair.PublicKey", ARG_OUTFILE, 0},
      {"private-key-outfile", "keyPair.PrivateKey", ARG_OUTFILE, 0},
      {"key-type", "keyType", ARG_STRING, 0}},
     "Create a key pair (RSA 2048, or --key-type ec for P-256) and a certificate signed by "
     "Umbra's CA.",
     false},
    {"create-certificate-from-csr",
     "CreateCertificateFromCsr",
     registry_create_certificate_from_csr,
     {{"certificate-signing-request", "certificateSigningRequest", ARG_STRING, 1},
      {"set-as-active", "setAsActive", ARG_BOOL, 0},
      {"certificate-pem-outfile", "certificatePem", ARG_OUTFILE, 0}},
     "Issue a certificate for a certificate signing request.",
     false},
    {"register-certificate",
     "RegisterCertificate",
     registry_register_certificate,
     {{"certificate-pem", "certificatePem", ARG_STRING, 1},
      {"ca-certificate-pem", "caCertificatePem", ARG_STRING, 0},
      {"set-as-active", "setAsActive", ARG_BOOL, 0},
      {"status", "status", ARG_STRING, 0}},
     "Register a device certificate signed by a registered CA.",
     false},
    {"register-certificate-without-ca",
     "RegisterCertificateWithoutCA",
     registry_register_certificate_without_ca,
     {{"certificate-pem", "certificatePem", ARG_STRING, 1}, {"status", "status", ARG_STRING, 0}},
     "Register a device certificate without its CA.",
     false},
    {"describe-certificate",
     "DescribeCertificate",
     registry_describe_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1}},
     "Describe a certificate.",
     false},
    {"update-certificate",
     "UpdateCertificate",
     registry_update_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1},
      {"new-status", "newStatus", ARG_STRING, 1}},
     "Set a certificate ACTIVE, INACTIVE or REVOKED.",
     false},
    {"delete-certificate",
     "DeleteCertificate",
     registry_delete_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1},
      {"force-delete", "forceDelete", ARG_BOOL, 0}},
     "Delete a certificate that is not ACTIVE and not attached.",
     false},
    {"list-certificates",
     "ListCertificates",
     registry_list_certificates,
     {{"page-size", "pageSize", ARG_INT, 0},
      {"marker", "marker", ARG_STRING, 0},
      {"ascending-order", "ascendingOrder", ARG_BOOL, 0}},
     "List certificates.",
     false},
    {"register-ca-certificate",
     "RegisterCACertificate",
     registry_register_ca_certificate,
     {{"ca-certificate", "caCertificate", ARG_STRING, 1},
      {"verification-certificate", "verificationCertificate", ARG_STRING, 0},
      {"set-as-active", "setAsActive", ARG_BOOL, 0},
      {"allow-auto-registration", "allowAutoRegistration", ARG_BOOL, 0}},
     "Register a CA certificate.",
     false},
    {"describe-ca-certificate",
     "DescribeCACertificate",
     registry_describe_ca_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1}},
     "Describe a CA certificate.",
     false},
    {"list-ca-certificates",
     "ListCACertificates",
     registry_list_ca_certificates,
     {{"page-size", "pageSize", ARG_INT, 0},
      {"marker", "marker", ARG_STRING, 0},
      {"ascending-order", "ascendingOrder", ARG_BOOL, 0}},
     "List CA certificates.",
     false},
    {"update-ca-certificate",
     "UpdateCACertificate",
     registry_update_ca_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1},
      {"new-status", "newStatus", ARG_STRING, 0},
      {"new-auto-registration-status", "newAutoRegistrationStatus", ARG_STRING, 0}},
     "Set a CA certificate ACTIVE or INACTIVE.",
     false},
    {"delete-ca-certificate",
     "DeleteCACertificate",
     registry_delete_ca_certificate,
     {{"certificate-id", "certificateId", ARG_STRING, 1}},
     "Delete an INACTIVE CA certificate.",
     false},
    {"list-certificates-by-ca",
     "ListCertificatesByCA",
     registry_list_certificates_by_ca,
     {{"ca-certificate-id", "caCertificateId", ARG_STRING, 1},
      {"page-size", "pageSize", ARG_INT, 0},
      {"marker", "marker", ARG_STRING, 0},
      {"ascending-order", "ascendingOrder", ARG_BOOL, 0}},
     "List the certificates signed by a registered CA.",
     false},
    {"attach-thing-principal",
     "AttachThingPrincipal",
     registry_attach_thing_principal,
     {{"thing-name", "thingName", ARG_STRING, 1}, {"principal", "principal", ARG_STRING, 1}},
     "Attach a certificate (by ARN) to a thing.",
     false},
    {"detach-thing-principal",
     "DetachThingPrincipal",
     registry_detach_thing_principal,
     {{"thing-name", "thingName", ARG_STRING, 1}, {"principal", "principal", ARG_STRING, 1}},
     "Detach a certificate from a thing.",
     false},
    {"list-thing-principals",
     "ListThingPrincipals",
     registry_list_thing_principals,
     {{"thing-name", "thingName", ARG_STRING, 1}},
     "List the certificates attached to a thing.",
     false},
    {"list-principal-things",
     "ListPrincipalThings",
     registry_list_principal_things,
     {{"principal", "principal", ARG_STRING, 1}},
     "List the things a certificate is attached to.",
     false},
    {"create-policy",
     "CreatePolicy",
     registry_create_policy,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"policy-document", "policyDocument", ARG_STRING, 1}},
     "Create a policy from a JSON document (file://PATH or inline text).",
     false},
    {"get-policy",
     "GetPolicy",
     registry_get_policy,
     {{"policy-name", "policyName", ARG_STRING, 1}},
     "Show a policy and its default version's document.",
     false},
    {"list-policies",
     "ListPolicies",
     registry_list_policies,
     {{"marker", "marker", ARG_STRING, 0},
      {"page-size", "pageSize", ARG_INT, 0},
      {"ascending-order", "ascendingOrder", ARG_BOOL, 0}},
     "List policies.",
     false},
    {"delete-policy",
     "DeletePolicy",
     registry_delete_policy,
     {{"policy-name", "policyName", ARG_STRING, 1}},
     "Delete a policy that is not attached and has only its default version.",
     false},
    {"create-policy-version",
     "CreatePolicyVersion",
     registry_create_policy_version,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"policy-document", "policyDocument", ARG_STRING, 1},
      {"set-as-default", "setAsDefault", ARG_BOOL, 0}},
     "Add a version to a policy (at most 5), optionally as the default.",
     false},
    {"get-policy-version",
     "GetPolicyVersion",
     registry_get_policy_version,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"policy-version-id", "policyVersionId", ARG_STRING, 1}},
     "Show one version of a policy.",
     false},
    {"list-policy-versions",
     "ListPolicyVersions",
     registry_list_policy_versions,
     {{"policy-name", "policyName", ARG_STRING, 1}},
     "List the versions of a policy.",
     false},
    {"set-default-policy-version",
     "SetDefaultPolicyVersion",
     registry_set_default_policy_version,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"policy-version-id", "policyVersionId", ARG_STRING, 1}},
     "Make a version the policy's operative (default) one.",
     false},
    {"delete-policy-version",
     "DeletePolicyVersion",
     registry_delete_policy_version,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"policy-version-id", "policyVersionId", ARG_STRING, 1}},
     "Delete a version of a policy that is not the default.",
     false},
    {"attach-policy",
     "AttachPolicy",
     registry_attach_policy,
     {{"policy-name", "policyName", ARG_STRING, 1}, {"target", "target", ARG_STRING, 1}},
     "Attach a policy to a certificate (by ARN).",
     false},
    {"detach-policy",
     "DetachPolicy",
     registry_detach_policy,
     {{"policy-name", "policyName", ARG_STRING, 1}, {"target", "target", ARG_STRING, 1}},
     "Detach a policy from a certificate.",
     false},
    {"list-attached-policies",
     "ListAttachedPolicies",
     registry_list_attached_policies,
     {{"target", "target", ARG_STRING, 1},
      {"marker", "marker", ARG_STRING, 0},
      {"page-size", "pageSize", ARG_INT, 0},
      {"recursive", "recursive", ARG_BOOL, 0}},
     "List the policies attached to a certificate.",
     false},
    {"list-targets-for-policy",
     "ListTargetsForPolicy",
     registry_list_targets_for_policy,
     {{"policy-name", "policyName", ARG_STRING, 1},
      {"marker", "marker", ARG_STRING, 0},
      {"page-size", "pageSize", ARG_INT, 0}},
     "List the certificates a policy is attached to.",
     false},
    {"get-effective-policies",
     "GetEffectivePolicies",
     registry_get_effective_policies,
     {{"principal", "principal", ARG_STRING, 0}, {"thing-name", "thingName", ARG_STRING, 0}},
     "Show the policies (default versions) that apply to a certificate.",
     false},
    {"test-authorization",
     "TestAuthorization",
     registry_test_authorization,
     {{"auth-infos", "authInfos", ARG_JSON, 1},
      {"principal", "principal", ARG_STRING, 0},
      {"client-id", "clientId", ARG_STRING, 0},
      {"policy-names-to-add", "policyNamesToAdd", ARG_JSON, 0},
      {"policy-names-to-skip", "policyNamesToSkip", ARG_JSON, 0}},
     "Evaluate a principal's policies for actions on resources, as the broker would.",
     false},
    {"describe-endpoint",
     "DescribeEndpoint",
     registry_describe_endpoint,
     {{"endpoint-type", "endpointType", ARG_STRING, 0}},
     "Print the endpoint devices connect to.",
     false},
    {"create-topic-rule",
     "CreateTopicRule",
     registry_create_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1},
      {"topic-rule-payload", "topicRulePayload", ARG_JSON, 1}},
     "Create a rule: its SQL and the actions for what it selects.",
     false},
    {"get-topic-rule",
     "GetTopicRule",
     registry_get_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1}},
     "Show a rule.",
     false},
    {"list-topic-rules",
     "ListTopicRules",
     registry_list_topic_rules,
     {{"topic", "topic", ARG_STRING, 0},
      {"rule-disabled", "ruleDisabled", ARG_BOOL, 0},
      {"max-results", "maxResults", ARG_INT, 0},
      {"next-token", "nextToken", ARG_STRING, 0}},
     "List rules, optionally those for one topic filter.",
     false},
    {"replace-topic-rule",
     "ReplaceTopicRule",
     registry_replace_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1},
      {"topic-rule-payload", "topicRulePayload", ARG_JSON, 1}},
     "Replace a rule's SQL and actions.",
     false},
    {"delete-topic-rule",
     "DeleteTopicRule",
     registry_delete_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1}},
     "Delete a rule.",
     false},
    {"enable-topic-rule",
     "EnableTopicRule",
     registry_enable_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1}},
     "Enable a rule.",
     false},
    {"disable-topic-rule",
     "DisableTopicRule",
     registry_disable_topic_rule,
     {{"rule-name", "ruleName", ARG_STRING, 1}},
     "Disable a rule.",
     false},
    /* aws iot-data */
    {"get-thing-shadow",
     "GetThingShadow",
     NULL,
     {{"thing-name", "thingName", ARG_STRING, 1}, {"shadow-name", "shadowName", ARG_STRING, 0}},
     "Write a thing's shadow document to OUTFILE (iot-data; needs the running umbrad).",
     true},
    {"update-thing-shadow",
     "UpdateThingShadow",
     NULL,
     {{"thing-name", "thingName", ARG_STRING, 1},
      {"shadow-name", "shadowName", ARG_STRING, 0},
      {"payload", "payload", ARG_STRING, 1},
      DATA_PLANE_BINARY_FORMAT},
     "Update a shadow; the accepted document goes to OUTFILE (iot-data).",
     true},
    {"delete-thing-shadow",
     "DeleteThingShadow",
     NULL,
     {{"thing-name", "thingName", ARG_STRING, 1}, {"shadow-name", "shadowName", ARG_STRING, 0}},
     "Delete a shadow; its last version goes to OUTFILE (iot-data).",
     true},
    {"list-named-shadows-for-thing",
     "ListNamedShadowsForThing",
     NULL,
     {{"thing-name", "thingName", ARG_STRING, 1},
      {"next-token", "nextToken", ARG_STRING, 0},
      {"page-size", "pageSize", ARG_INT, 0}},
     "List the named shadows of a thing (iot-data).",
     false},
    {"publish",
     "Publish",
     NULL,
     {{"topic", "topic", ARG_STRING, 1},
      {"qos", "qos", ARG_INT, 0},
      {"retain", "retain", ARG_BOOL, 0},
      {"payload", "payload", ARG_STRING, 0},
      DATA_PLANE_BINARY_FORMAT},
     "Publish a message through the broker (iot-data).",
     false},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Print DATA_DIR/ca.pem as it is, so `docker exec umbra umbractl get-root-ca
 * > ca.pem` needs no shell or copy in the container. */
static int print_root_ca(const char *data_dir)
{
    char path[4096], chunk[4096];
    snprintf(path, sizeof path, "%s/ca.pem", data_dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr,
                "umbractl: cannot read %s: %s (umbrad makes it on its first start on this data "
                "directory)\n",
                path, strerror(errno));
        return 1;
    }
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (fwrite(chunk, 1, n, stdout) != n) rc = 1;
    if (ferror(f)) rc = 1;
    fclose(f);
    return fflush(stdout) ? 1 : rc;
}

/* Umbra's own commands: no AWS request, no flags, only the data directory. */
struct local_command {
    const char *name;
    int (*run)(const char *data_dir);
    const char *help;
};

static const struct local_command local_commands[] = {
    {"get-root-ca", print_root_ca,
     "Print the CA certificate devices trust (DATA_DIR/ca.pem), as AWS's Amazon Root CA."},
    {"health", health_check,
     "Ask the running umbrad for GET /healthz: ok and exit 0, else why and exit 1."},
};
#define NLOCAL (sizeof local_commands / sizeof local_commands[0])

static const struct local_command *find_local_command(const char *name)
{
    for (size_t i = 0; i < NLOCAL; i++)
        if (strcmp(local_commands[i].name, name) == 0) return &local_commands[i];
    return NULL;
}

static int run_local_command(const struct local_command *c, const char *data_dir, int argc,
                             char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: umbractl %s\n\n%s\n", c->name, c->help);
            return 0;
        }
    }
    if (argc > 0) {
        fprintf(stderr, "umbractl %s: unknown option %s (see umbractl %s --help)\n", c->name,
                argv[0], c->name);
        return 2;
    }
    return c->run(data_dir);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: umbractl [--data-dir DIR] [--endpoint-url URL] [--output json|text] COMMAND "
            "[--FLAG VALUE]...\n\n"
            "Administer an Umbra broker's registry; commands and flags mirror `aws iot`.\n"
            "The data directory is --data-dir, else $UMBRA_DATA_DIR, else ./var; ARNs use\n"
            "the region $UMBRA_REGION (umbrad's setting), else us-east-1.\n"
            "--output may also follow the command, as with the AWS CLI.\n\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-28s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\nUmbra's own commands:\n");
    for (size_t i = 0; i < NLOCAL; i++)
        fprintf(out, "  %-28s %s\n", local_commands[i].name, local_commands[i].help);
    fprintf(out, "\n  %-28s %s\n", "backup DEST",
            "Copy the data directory to DEST while umbrad runs (an extension).");
    fprintf(out, "  %-28s %s\n", "get-usage",
            "What the metered usage would cost on AWS IoT Core (an extension).");
    fprintf(out, "\n  umbractl COMMAND --help     flags of one command\n"
                 "  umbractl --version          print the version\n");
}

static void command_usage(FILE *out, const struct command *c)
{
    fprintf(out, "usage: umbractl %s", c->name);
    for (const struct arg_spec *a = c->args; a->flag; a++) {
        const char *v = a->type == ARG_BOOL ? "" : a->type == ARG_INT ? " N" : " VALUE";
        fprintf(out, a->is_required ? " --%s%s" : " [--%s%s]", a->flag, v);
    }
    fprintf(out, " [--output json|text]%s\n\n%s Values may be given as file://PATH.\n",
            c->has_outfile ? " OUTFILE" : "", c->help);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* Read file://PATH values; other values are returned as they are (borrowed). */
static char *load_value(const char *value, char **owned)
{
    *owned = NULL;
    /* fileb:// (raw bytes, for payloads) reads the same way here. */
    if (strncmp(value, "fileb://", 8) == 0) value++;
    if (strncmp(value, "file://", 7) != 0) return (char *)value;
    FILE *f = fopen(value + 7, "rb");
    if (!f) {
        fprintf(stderr, "umbractl: cannot read %s: %s\n", value + 7, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "umbractl: %s is too large\n", value + 7);
        return NULL;
    }
    buf[len] = '\0';
    *owned = buf;
    return buf;
}

/* Outfile flags are the CLI's business, not the request's: kept aside. */
static json_t *outfiles;

/* --output: "json" (the default) or "text", as the AWS CLI names them. */
static bool is_text_output;

static int set_output(const char *value)
{
    if (strcmp(value, "json") == 0 || strcmp(value, "text") == 0) {
        is_text_output = strcmp(value, "text") == 0;
        return 0;
    }
    fprintf(stderr, "umbractl: --output must be json or text, got '%s'\n", value);
    return 2;
}

static int set_arg(json_t *req, const struct arg_spec *a, const char *value)
{
    if (a->type == ARG_OUTFILE) {
        json_object_set_new(outfiles, a->key, json_string(value));
        return 0;
    }
    char *owned;
    char *text = load_value(value, &owned);
    if (!text) return 2;
    int rc = 0;
    if (a->type == ARG_STRING) {
        json_object_set_new(req, a->key, json_string(text));
    } else if (a->type == ARG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end) {
            fprintf(stderr, "umbractl: --%s expects an integer, got '%s'\n", a->flag, text);
            rc = 2;
        } else {
            json_object_set_new(req, a->key, json_integer(v));
        }
    } else {
        json_error_t jerr;
        json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!v) {
            fprintf(stderr, "umbractl: --%s: invalid JSON: %s (line %d)\n", a->flag, jerr.text,
                    jerr.line);
            rc = 2;
        } else {
            json_object_set_new(req, a->key, v);
        }
    }
    free(owned);
    return rc;
}

/* Build the AWS request from flags. Returns 0 or 2 (usage error, printed). */
static const char *outfile_arg; /* the positional OUTFILE, for commands that take one */

static int parse_flags(const struct command *c, int argc, char **argv, json_t *req)
{
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (strncmp(f, "--", 2) != 0 && c->has_outfile && !outfile_arg) {
            outfile_arg = f;
            continue;
        }
        if (strncmp(f, "--", 2) != 0) {
            fprintf(stderr, "umbractl %s: unexpected argument '%s'\n", c->name, f);
            return 2;
        }
        f += 2;
        if (strcmp(f, "output") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "umbractl %s: --output needs a value\n", c->name);
                return 2;
            }
            int rc = set_output(argv[++i]);
            if (rc) return rc;
            continue;
        }
        bool negated = strncmp(f, "no-", 3) == 0;
        const struct arg_spec *a = c->args;
        for (; a->flag; a++)
            if (strcmp(a->flag, f) == 0 ||
                (negated && a->type == ARG_BOOL && !strcmp(a->flag, f + 3)))
                break;
        if (!a->flag) {
            fprintf(stderr, "umbractl %s: unknown option --%s (see umbractl %s --help)\n", c->name,
                    f, c->name);
            return 2;
        }
        if (a->type == ARG_BOOL) {
            json_object_set_new(req, a->key, json_boolean(!negated));
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "umbractl %s: --%s needs a value\n", c->name, f);
            return 2;
        }
        int rc = set_arg(req, a, argv[++i]);
        if (rc) return rc;
    }
    for (const struct arg_spec *a = c->args; a->flag; a++) {
        if (a->is_required && !json_object_get(req, a->key)) {
            fprintf(stderr, "umbractl %s: the following arguments are required: --%s\n", c->name,
                    a->flag);
            return 2;
        }
    }
    if (c->has_outfile && !outfile_arg) {
        fprintf(stderr, "umbractl %s: the following arguments are required: outfile\n", c->name);
        return 2;
    }
    return 0;
}

/* Write response fields to the files named by the outfile flags (mode 0600). */
static int write_outfiles(const json_t *resp)
{
    const char *path_key;
    json_t *file;
    json_object_foreach(outfiles, path_key, file)
    {
        char key[64];
        snprintf(key, sizeof key, "%s", path_key);
        char *dot = strchr(key, '.');
        const json_t *v = resp;
        if (dot) {
            *dot = '\0';
            v = json_object_get(v, key);
            v = json_object_get(v, dot + 1);
        } else {
            v = json_object_get(v, key);
        }
        const char *path = json_string_value(file);
        FILE *f = NULL;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) f = fdopen(fd, "w");
        if (!f || !json_is_string(v) || fputs(json_string_value(v), f) < 0) {
            fprintf(stderr, "umbractl: cannot write %s: %s\n", path, strerror(errno));
            if (f)
                fclose(f);
            else if (fd >= 0)
                close(fd);
            return 1;
        }
        fclose(f);
    }
    return 0;
}

static const char *endpoint_url; /* --endpoint-url: the daemon's HTTPS API */

/* get-topic-rule: the running daemon's counters for the rule, under
 * "umbraCounters" (rule_counters.h); nothing when no daemon runs. */
static void add_live_counters(const char *data_dir, json_t *resp)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rule-counters.json", data_dir);
    json_t *doc = json_load_file(path, 0, NULL);
    json_int_t pid = json_integer_value(json_object_get(doc, "pid"));
    const char *name = json_string_value(json_object_get(json_object_get(resp, "rule"), "ruleName"));
    json_t *mine = name ? json_object_get(json_object_get(doc, "rules"), name) : NULL;
    if (mine && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
        json_object_set(resp, "umbraCounters", mine);
    json_decref(doc);
}

static int run_command(const char *data_dir, const struct command *c, json_t *req)
{
    char path[4096], err[512];
    if (!c->run) return iot_data_run(data_dir, endpoint_url, c->operation, req, outfile_arg);
    /* Like umbrad, start a data directory that does not exist yet. */
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "umbractl: cannot create %s: %s\n", data_dir, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/umbra.db", data_dir);
    /* The daemon's region, when its environment is ours too (docker exec). */
    const char *region = getenv("UMBRA_REGION");
    struct registry *r;
    if (registry_open(&r, path, region && *region ? region : NULL, err, sizeof err)) {
        fprintf(stderr, "umbractl: %s\n", err);
        return 1;
    }
    json_t *resp = NULL;
    struct reg_error e = {0};
    int rc = c->run(r, req, &resp, &e);
    if (!rc) usage_record_registry_op(r, c->operation, req, resp); /* AWS bills some */
    registry_close(r);
    if (!rc && c->run == registry_get_topic_rule) add_live_counters(data_dir, resp);
    if (rc) {
        /* The AWS CLI's wording, so scripts that parse it keep working. */
        fprintf(stderr, "An error occurred (%s) when calling the %s operation: %s\n", e.type,
                c->operation, e.message);
        return 1;
    }
    if (write_outfiles(resp)) {
        json_decref(resp);
        return 1;
    }
    if (json_object_size(resp) > 0 && is_text_output) {
        text_output_print(stdout, resp);
    } else if (json_object_size(resp) > 0) {
        char *text = json_dumps(resp, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        if (text) puts(text);
        free(text);
    }
    json_decref(resp);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data_dir = getenv("UMBRA_DATA_DIR"), *output = NULL;
    if (!data_dir || !*data_dir) data_dir = "./var";
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("umbractl %s\n", UMBRA_VERSION);
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        }
        const char **global = strcmp(a, "--data-dir") == 0       ? &data_dir
                              : strcmp(a, "--endpoint-url") == 0 ? &endpoint_url
                              : strcmp(a, "--output") == 0       ? &output
                                                                 : NULL;
        if (global) {
            if (i + 1 >= argc) {
                fprintf(stderr, "umbractl: %s needs a value\n", a);
                return 2;
            }
            *global = argv[++i];
            if (global == &output && set_output(output)) return 2;
            continue;
        }
        break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* Not an AWS operation: it copies the data directory, registry and all. */
    if (strcmp(argv[i], "backup") == 0) return backup_main(data_dir, argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "get-usage") == 0) return usage_main(data_dir, argc - i - 1, argv + i + 1);
    const struct local_command *local = find_local_command(argv[i]);
    if (local) return run_local_command(local, data_dir, argc - i - 1, argv + i + 1);
    const struct command *c = find_command(argv[i]);
    if (!c) {
        fprintf(stderr, "umbractl: unknown command or option '%s' (see umbractl --help)\n",
                argv[i]);
        return 2;
    }
    for (int j = i + 1; j < argc; j++) {
        if (strcmp(argv[j], "--help") == 0) {
            command_usage(stdout, c);
            return 0;
        }
    }
    json_t *req = json_object();
    outfiles = json_object();
    int rc = parse_flags(c, argc - i - 1, argv + i + 1, req);
    if (!rc) rc = run_command(data_dir, c, req);
    json_decref(req);
    json_decref(outfiles);
    return rc;
}
