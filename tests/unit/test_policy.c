/* test_policy.c - AWS IoT policy grammar and evaluation: a table of documents, actions,
 * resources and connections with the decision AWS makes, plus the malformed documents
 * create-policy refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARN "arn:aws:iot:us-east-1:123456789012:"

/* ---- connections: variable values by name ---- */

struct var {
    const char *name;
    const char *values[4];
};

struct conn {
    const char *label;
    struct var vars[16];
};

/* A device whose client id is its thing's name. */
static const struct conn DEV = {
    "dev",
    {
        {"iot:ClientId", {"dev1"}},
        {"iot:CertificateId", {"c0ffee"}},
        {"iot:Connection.Thing.ThingName", {"dev1"}},
        {"iot:Connection.Thing.ThingTypeName", {"sensor"}},
        {"iot:Connection.Thing.Attributes[color]", {"red"}},
        {"iot:Connection.Thing.IsAttached", {"true"}},
        {"iot:Certificate.Subject.CommonName", {"dev1"}},
        {"iot:Certificate.Subject.Organization", {"Acme, Inc."}},
        {"iot:Certificate.Subject.OrganizationalUnit", {"ou-*"}},
        {"iot:ConnectAttributes", {"PersistentConnect", "LastWill"}},
        {"aws:SourceIp", {"10.1.2.3"}},
        {"iot:LastWillTopic", {ARN "topic/will/dev1"}},
    },
};

/* A client with no thing, whose id is an MQTT wildcard. */
static const struct conn PLUS = {
    "plus",
    {
        {"iot:ClientId", {"+"}},
        {"iot:Connection.Thing.IsAttached", {"false"}},
        {"aws:SourceIp", {"192.168.0.9"}},
    },
};

/* A client id holding a policy wildcard: it must stay literal. */
static const struct conn STAR = {
    "star",
    {
        {"iot:ClientId", {"a*"}},
        {"aws:SourceIp", {"2001:db8::1"}},
    },
};

static const struct conn NONE = {"none", {{NULL, {NULL}}}};

static size_t get_var(void *ctx, const char *name, const char **values, size_t max)
{
    const struct conn *c = ctx;
    for (const struct var *v = c->vars; v->name; v++) {
        if (strcmp(v->name, name) != 0) continue;
        size_t n = 0;
        while (n < 4 && v->values[n] && n < max) {
            values[n] = v->values[n];
            n++;
        }
        return n;
    }
    return 0;
}

/* ---- the table ---- */

#define A POLICY_ALLOWED
#define I POLICY_IMPLICIT_DENY
#define X POLICY_EXPLICIT_DENY

struct tcase {
    const char *doc;
    enum policy_action action;
    const char *resource;
    const struct conn *conn;
    enum policy_decision want;
};

#define DOC(stmts) "{\"Version\":\"2012-10-17\",\"Statement\":[" stmts "]}"
#define ALLOW(act, res) "{\"Effect\":\"Allow\",\"Action\":" act ",\"Resource\":" res "}"
#define DENY(act, res) "{\"Effect\":\"Deny\",\"Action\":" act ",\"Resource\":" res "}"

static const char *const thing_scoped =
    DOC(ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:Connection.Thing.ThingName}\"") "," ALLOW(
        "[\"iot:Publish\",\"iot:Receive\"]",
        "\"" ARN
        "topic/things/${iot:Connection.Thing.ThingName}/*\"") "," ALLOW("\"iot:Subscribe\"",
                                                                        "\"" ARN
                                                                        "topicfilter/things/"
                                                                        "${iot:Connection.Thing."
                                                                        "ThingName}/*\""));

static const struct tcase cases[] = {
    /* Default deny, allow, explicit deny wins. */
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a\"")), POLICY_PUBLISH, ARN "topic/a", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a\"")), POLICY_PUBLISH, ARN "topic/b", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a\"")), POLICY_RECEIVE, ARN "topic/a", &DEV, I},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") "," DENY("\"iot:Publish\"", "\"" ARN "topic/secret\"")),
     POLICY_PUBLISH, ARN "topic/secret", &DEV, X},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") "," DENY("\"iot:Publish\"", "\"" ARN "topic/secret\"")),
     POLICY_PUBLISH, ARN "topic/public", &DEV, A},
    {DOC(DENY("\"iot:Publish\"", "\"" ARN "topic/secret\"") "," ALLOW("\"iot:*\"", "\"*\"")),
     POLICY_PUBLISH, ARN "topic/secret", &DEV, X},
    {DOC(DENY("\"iot:Publish\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/x", &DEV, X},
    {DOC(DENY("\"iot:Publish\"", "\"*\"")), POLICY_SUBSCRIBE, ARN "topicfilter/x", &DEV, I},
    /* Action forms: string, list, wildcards, case-insensitive. */
    {DOC(ALLOW("\"*\"", "\"*\"")), POLICY_CONNECT, ARN "client/x", &DEV, A},
    {DOC(ALLOW("\"iot:*\"", "\"*\"")), POLICY_RECEIVE, ARN "topic/x", &DEV, A},
    {DOC(ALLOW("\"iot:Pub*\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/x", &DEV, A},
    {DOC(ALLOW("\"iot:Pub*\"", "\"*\"")), POLICY_RECEIVE, ARN "topic/x", &DEV, I},
    {DOC(ALLOW("\"iot:*Shadow\"", "\"*\"")), POLICY_UPDATE_THING_SHADOW, ARN "thing/t", &DEV, A},
    {DOC(ALLOW("\"iot:*Shadow\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/t", &DEV, I},
    {DOC(ALLOW("\"iot:?eceive\"", "\"*\"")), POLICY_RECEIVE, ARN "topic/t", &DEV, A},
    {DOC(ALLOW("\"IOT:PUBLISH\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/t", &DEV, A},
    {DOC(ALLOW("\"iot:publish\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/t", &DEV, A},
    {DOC(ALLOW("[\"iot:Connect\",\"iot:Subscribe\"]", "\"*\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/t", &DEV, A},
    {DOC(ALLOW("[\"iot:Connect\",\"iot:Subscribe\"]", "\"*\"")), POLICY_RECEIVE, ARN "topic/t",
     &DEV, I},
    {DOC(ALLOW("\"iot:RetainPublish\"", "\"*\"")), POLICY_RETAIN_PUBLISH, ARN "topic/t", &DEV, A},
    {DOC(ALLOW("\"iot:RetainPublish\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/t", &DEV, I},
    {DOC(ALLOW("\"iot:GetThingShadow\"", "\"" ARN "thing/dev1\"")), POLICY_GET_THING_SHADOW,
     ARN "thing/dev1", &DEV, A},
    {DOC(ALLOW("\"iot:GetThingShadow\"", "\"" ARN "thing/dev1\"")), POLICY_DELETE_THING_SHADOW,
     ARN "thing/dev1", &DEV, I},
    {DOC(ALLOW("\"iam:PassRole\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/t", &DEV, I},
    /* Resources: lists, `*` across levels, `?` one character, case-sensitive. */
    {DOC(ALLOW("\"iot:Publish\"", "[\"" ARN "topic/a\",\"" ARN "topic/b\"]")), POLICY_PUBLISH,
     ARN "topic/b", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "[\"" ARN "topic/a\",\"" ARN "topic/b\"]")), POLICY_PUBLISH,
     ARN "topic/c", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a/*\"")), POLICY_PUBLISH, ARN "topic/a/b/c/d",
     &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a/*\"")), POLICY_PUBLISH, ARN "topic/a", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a/*\"")), POLICY_PUBLISH, ARN "topic/a/", &DEV,
     A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a*\"")), POLICY_PUBLISH, ARN "topic/a", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a?c\"")), POLICY_PUBLISH, ARN "topic/abc", &DEV,
     A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a?c\"")), POLICY_PUBLISH, ARN "topic/ac", &DEV,
     I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a?c\"")), POLICY_PUBLISH, ARN "topic/a/c", &DEV,
     A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/A\"")), POLICY_PUBLISH, ARN "topic/a", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/*/temp\"")), POLICY_PUBLISH,
     ARN "topic/house/kitchen/temp", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/*/temp\"")), POLICY_PUBLISH,
     ARN "topic/house/kitchen/hum", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"arn:aws:iot:*:*:topic/x\"")), POLICY_PUBLISH, ARN "topic/x",
     &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"arn:aws:iot:eu-west-1:123456789012:topic/x\"")),
     POLICY_PUBLISH, ARN "topic/x", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"*\"")), POLICY_PUBLISH, ARN "topic/anything/at/all", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/**\"")), POLICY_PUBLISH, ARN "topic/x/y", &DEV,
     A},
    /* MQTT wildcards are literal characters in policies. */
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/#\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/#", &DEV, A},
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/#\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/b", &DEV, I},
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/+\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/b", &DEV, I},
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/+\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/+", &DEV, A},
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/*\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/#", &DEV, A},
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/a/*\"")), POLICY_SUBSCRIBE,
     ARN "topicfilter/a/+/c", &DEV, A},
    {DOC(ALLOW("\"iot:Receive\"", "\"" ARN "topic/a/#\"")), POLICY_RECEIVE, ARN "topic/a/b", &DEV,
     I},
    /* The documented gap: denying a topic filter does not deny receiving. */
    {DOC(ALLOW("\"iot:*\"", "\"*\"") "," DENY("\"iot:Subscribe\"",
                                              "\"" ARN "topicfilter/a/restricted/*\"")),
     POLICY_RECEIVE, ARN "topic/a/restricted/x", &DEV, A},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") "," DENY("\"iot:Subscribe\"",
                                              "\"" ARN "topicfilter/a/restricted/*\"")),
     POLICY_SUBSCRIBE, ARN "topicfilter/a/restricted/#", &DEV, X},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") "," DENY("\"iot:Subscribe\"",
                                              "\"" ARN "topicfilter/a/restricted/*\"")),
     POLICY_SUBSCRIBE, ARN "topicfilter/a/#", &DEV, A},
    /* Variables. */
    {DOC(ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:ClientId}\"")), POLICY_CONNECT,
     ARN "client/dev1", &DEV, A},
    {DOC(ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:ClientId}\"")), POLICY_CONNECT,
     ARN "client/dev2", &DEV, I},
    {thing_scoped, POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {thing_scoped, POLICY_PUBLISH, ARN "topic/things/dev1/telemetry", &DEV, A},
    {thing_scoped, POLICY_PUBLISH, ARN "topic/things/dev2/telemetry", &DEV, I},
    {thing_scoped, POLICY_RECEIVE, ARN "topic/things/dev1/cmd", &DEV, A},
    {thing_scoped, POLICY_SUBSCRIBE, ARN "topicfilter/things/dev1/#", &DEV, A},
    {thing_scoped, POLICY_SUBSCRIBE, ARN "topicfilter/things/#", &DEV, I},
    {thing_scoped, POLICY_SUBSCRIBE, ARN "topicfilter/things/dev2/#", &DEV, I},
    /* No thing: the variable is unresolved and the statement matches nothing... */
    {thing_scoped, POLICY_CONNECT, ARN "client/+", &PLUS, I},
    {thing_scoped, POLICY_PUBLISH, ARN "topic/things//x", &PLUS, I},
    /* The unresolved variable's text stays, literally (AWS): only a topic spelled that way
     * matches. */
    {thing_scoped, POLICY_PUBLISH, ARN "topic/things/${iot:Connection.Thing.ThingName}/x", &PLUS,
     A},
    /* So NotResource with an unresolved variable applies: Deny statements keep working. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" ARN
         "topic/${iot:Connection.Thing.ThingName}\"}"),
     POLICY_PUBLISH, ARN "topic/x", &PLUS, A},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Publish\","
                                     "\"NotResource\":\"" ARN
                                     "topic/things/${iot:Connection.Thing.ThingName}/*\"}"),
     POLICY_PUBLISH, ARN "topic/things/other/x", &PLUS, X},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":\"" ARN
         "topic/${iot:Connection.Thing.ThingName}\"}"),
     POLICY_PUBLISH, ARN "topic/x", &DEV, A},
    /* In a condition value too: the usual "client id must be the thing name" guard denies a
     * client with no thing. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringNotEquals\":{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, A},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Connect\","
                                     "\"Resource\":\"*\",\"Condition\":{\"StringNotEquals\":"
                                     "{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, X},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Connect\","
                                     "\"Resource\":\"*\",\"Condition\":{\"StringNotEquals\":"
                                     "{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Connection.Thing.ThingTypeName}/x\"")),
     POLICY_PUBLISH, ARN "topic/sensor/x", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Connection.Thing.Attributes[color]}/x\"")),
     POLICY_PUBLISH, ARN "topic/red/x", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Connection.Thing.Attributes[shape]}/x\"")),
     POLICY_PUBLISH, ARN "topic/round/x", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:CertificateId}\"")), POLICY_PUBLISH,
     ARN "topic/c0ffee", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Certificate.Subject.CommonName}/*\"")),
     POLICY_PUBLISH, ARN "topic/dev1/x", &DEV, A},
    /* Certificate values: ',' escaped; a value with a wildcard character is unusable. */
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Certificate.Subject.Organization}\"")),
     POLICY_PUBLISH, ARN "topic/Acme\\, Inc.", &DEV, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:Certificate.Subject.Organization}\"")),
     POLICY_PUBLISH, ARN "topic/Acme, Inc.", &DEV, I},
    {DOC(ALLOW("\"iot:Publish\"",
               "\"" ARN "topic/${iot:Certificate.Subject.OrganizationalUnit}\"")),
     POLICY_PUBLISH, ARN "topic/ou-x", &DEV, I},
    /* A variable's value is literal: '+' client id, '*' client id. */
    {DOC(ALLOW("\"iot:Subscribe\"", "\"" ARN "topicfilter/my/${iot:ClientId}/topic\"")),
     POLICY_SUBSCRIBE, ARN "topicfilter/my/+/topic", &PLUS, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:ClientId}\"")), POLICY_PUBLISH,
     ARN "topic/a*", &STAR, A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${iot:ClientId}\"")), POLICY_PUBLISH,
     ARN "topic/abc", &STAR, I},
    /* ${*} ${?} ${$} are the characters themselves, never wildcards. */
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a${*}\"")), POLICY_PUBLISH, ARN "topic/a*", &DEV,
     A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a${*}\"")), POLICY_PUBLISH, ARN "topic/ab", &DEV,
     I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a${?}\"")), POLICY_PUBLISH, ARN "topic/a?", &DEV,
     A},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a${?}\"")), POLICY_PUBLISH, ARN "topic/ab", &DEV,
     I},
    {DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/${$}aws/x\"")), POLICY_PUBLISH,
     ARN "topic/$aws/x", &DEV, A},
    /* Version 2008-10-17 (or none) has no variables: the text is literal. */
    {"{\"Version\":\"2008-10-17\",\"Statement\":" ALLOW("\"iot:Connect\"",
                                                        "\"" ARN "client/${iot:ClientId}\"") "}",
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {"{\"Statement\":" ALLOW("\"iot:Connect\"", "\"" ARN "client/${iot:ClientId}\"") "}",
     POLICY_CONNECT, ARN "client/${iot:ClientId}", &DEV, A},
    /* A single statement object instead of a list. */
    {"{\"Version\":\"2012-10-17\",\"Statement\":" ALLOW("\"iot:Connect\"", "\"*\"") "}",
     POLICY_CONNECT, ARN "client/x", &DEV, A},
    /* NotAction, NotResource. */
    {DOC("{\"Effect\":\"Allow\",\"NotAction\":\"iot:Publish\",\"Resource\":\"*\"}"), POLICY_RECEIVE,
     ARN "topic/x", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"NotAction\":\"iot:Publish\",\"Resource\":\"*\"}"), POLICY_PUBLISH,
     ARN "topic/x", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"NotAction\":[\"iot:Publish\",\"iot:Receive\"],\"Resource\":"
         "\"*\"}"),
     POLICY_RECEIVE, ARN "topic/x", &DEV, I},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Receive\","
                                     "\"NotResource\":\"" ARN "topic/public/*\"}"),
     POLICY_RECEIVE, ARN "topic/private/x", &DEV, X},
    {DOC(ALLOW("\"iot:*\"", "\"*\"") ",{\"Effect\":\"Deny\",\"Action\":\"iot:Receive\","
                                     "\"NotResource\":\"" ARN "topic/public/*\"}"),
     POLICY_RECEIVE, ARN "topic/public/x", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":[\"" ARN
         "topic/a\",\"" ARN "topic/b\"]}"),
     POLICY_PUBLISH, ARN "topic/c", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"NotResource\":[\"" ARN
         "topic/a\",\"" ARN "topic/b\"]}"),
     POLICY_PUBLISH, ARN "topic/b", &DEV, I},
    /* Conditions: string operators. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"dev1\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":[\"x\",\"dev1\"]}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"DEV1\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEqualsIgnoreCase\":{\"iot:ClientId\":\"DEV1\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringNotEquals\":{\"iot:ClientId\":\"dev1\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringNotEquals\":{\"iot:ClientId\":\"dev2\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringLike\":{\"iot:ClientId\":\"dev*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringLike\":{\"iot:ClientId\":\"sensor-*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringNotLike\":{\"iot:ClientId\":\"sensor-*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    /* StringEquals compares literally: '*' in the condition value is not a wildcard. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"dev*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"a*\"}}}"),
     POLICY_CONNECT, ARN "client/a*", &STAR, A},
    /* Variables in condition values. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"${iot:Connection.Thing.ThingName}\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, I},
    /* Missing keys: positive operators fail, negated ones hold, IfExists holds. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:Connection.Thing.ThingName\":\"dev1\"}}}"),
     POLICY_CONNECT, ARN "client/x", &NONE, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringNotEquals\":{\"iot:Connection.Thing.ThingName\":\"dev1\"}}}"),
     POLICY_CONNECT, ARN "client/x", &NONE, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEqualsIfExists\":{\"iot:Connection.Thing.ThingName\":\"dev1\"}}}"),
     POLICY_CONNECT, ARN "client/x", &NONE, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEqualsIfExists\":{\"iot:ClientId\":\"other\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Null\":{\"iot:Connection.Thing.ThingName\":\"true\"}}}"),
     POLICY_CONNECT, ARN "client/x", &NONE, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Null\":{\"iot:Connection.Thing.ThingName\":\"true\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Null\":{\"iot:Connection.Thing.ThingName\":false}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    /* Bool: the thing is attached. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Bool\":{\"iot:Connection.Thing.IsAttached\":\"true\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Bool\":{\"iot:Connection.Thing.IsAttached\":true}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"Bool\":{\"iot:Connection.Thing.IsAttached\":\"TRUE\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    /* Source address. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":[\"172.16.0.0/12\",\"192.168.0.0/16\"]}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"10.1.2.3\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"10.1.2.4/32\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/32\"}}}"),
     POLICY_CONNECT, ARN "client/a*", &STAR, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/a*", &STAR, I},
    /* Multi-valued keys: ForAnyValue / ForAllValues. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAnyValue:StringEquals\":{\"iot:ConnectAttributes\":\"LastWill\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAnyValue:StringEquals\":{\"iot:ConnectAttributes\":\"LastWill\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAllValues:StringEquals\":{\"iot:ConnectAttributes\":[\"PersistentConnect\","
         "\"LastWill\"]}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAllValues:StringEquals\":{\"iot:ConnectAttributes\":\"PersistentConnect\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAllValues:StringEquals\":{\"iot:ConnectAttributes\":\"PersistentConnect\"}}}"),
     POLICY_CONNECT, ARN "client/+", &PLUS, A},
    {DOC("{\"Effect\":\"Deny\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAnyValue:StringEquals\":{\"iot:ConnectAttributes\":\"PersistentConnect\"}}}," ALLOW(
             "\"iot:Connect\"", "\"*\"")),
     POLICY_CONNECT, ARN "client/dev1", &DEV, X},
    {DOC("{\"Effect\":\"Deny\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ForAnyValue:StringEquals\":{\"iot:ConnectAttributes\":\"PersistentConnect\"}}}," ALLOW(
             "\"iot:Connect\"", "\"*\"")),
     POLICY_CONNECT, ARN "client/+", &PLUS, A},
    /* ArnEquals / ArnLike on the will topic. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ArnEquals\":{\"iot:LastWillTopic\":\"" ARN "topic/will/${iot:ClientId}\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ArnLike\":{\"iot:LastWillTopic\":\"" ARN "topic/will/*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"ArnLike\":{\"iot:LastWillTopic\":\"" ARN "topic/other/*\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    /* Several operators and keys: all must hold. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"dev1\"},\"IpAddress\":{\"aws:SourceIp\":"
         "\"10.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, A},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"dev1\"},\"IpAddress\":{\"aws:SourceIp\":"
         "\"11.0.0.0/8\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"StringEquals\":{\"iot:ClientId\":\"dev1\",\"iot:CertificateId\":\"nope\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    /* Numeric, with integer and decimal values. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"NumericLessThan\":{\"iot:Connection.Thing.Attributes[color]\":1.5}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
    /* A variable name no variable has (over 255 characters): unresolved, and its text is
     * literal, '*' included. */
    {DOC(ALLOW(
         "\"iot:Publish\"",
         "\"" ARN "topic/${*"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\"")),
     POLICY_PUBLISH, ARN "topic/anything", &DEV, I},
    /* Numeric. */
    {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\",\"Condition\":"
         "{\"NumericLessThan\":{\"iot:Connection.Thing.Attributes[color]\":\"5\"}}}"),
     POLICY_CONNECT, ARN "client/dev1", &DEV, I},
};

static void test_decision_table(void **state)
{
    (void)state;
    size_t n = sizeof cases / sizeof cases[0];
    assert_true(n >= 100);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tcase *t = &cases[i];
        struct policy *p;
        char err[512];
        if (policy_compile(t->doc, strlen(t->doc), &p, err, sizeof err) != 0) {
            print_error("case %zu: does not compile: %s\n%s\n", i, err, t->doc);
            failures++;
            continue;
        }
        struct policy_vars vars = {get_var, (void *)t->conn};
        enum policy_decision got = policy_evaluate_one(p, t->action, t->resource, &vars);
        if (got != t->want) {
            print_error("case %zu: %s %s as %s: got %d, want %d\n%s\n", i,
                        policy_action_name(t->action), t->resource, t->conn->label, got, t->want,
                        t->doc);
            failures++;
        }
        policy_free(p);
    }
    assert_int_equal(failures, 0);
}

/* Several attached policies: any Deny wins, and the decider is named. */
static void test_policies_together(void **state)
{
    (void)state;
    const char *docs[] = {
        DOC(ALLOW("\"iot:Publish\"", "\"" ARN "topic/a/*\"")),
        DOC(ALLOW("\"iot:Publish\"", "\"*\"")),
        DOC(DENY("\"iot:Publish\"", "\"" ARN "topic/a/secret\"")),
    };
    struct policy *p[3];
    char err[256];
    for (int i = 0; i < 3; i++)
        assert_int_equal(policy_compile(docs[i], strlen(docs[i]), &p[i], err, sizeof err), 0);
    const struct policy *const *all = (const struct policy *const *)p;
    struct policy_vars vars = {get_var, (void *)&DEV};
    int who = -2;
    assert_int_equal(policy_evaluate(all, 3, POLICY_PUBLISH, ARN "topic/a/x", &vars, &who),
                     POLICY_ALLOWED);
    assert_int_equal(who, 0);
    assert_int_equal(policy_evaluate(all, 3, POLICY_PUBLISH, ARN "topic/b", &vars, &who),
                     POLICY_ALLOWED);
    assert_int_equal(who, 1);
    assert_int_equal(policy_evaluate(all, 3, POLICY_PUBLISH, ARN "topic/a/secret", &vars, &who),
                     POLICY_EXPLICIT_DENY);
    assert_int_equal(who, 2);
    assert_int_equal(policy_evaluate(all, 3, POLICY_RECEIVE, ARN "topic/a/x", &vars, &who),
                     POLICY_IMPLICIT_DENY);
    assert_int_equal(who, -1);
    assert_int_equal(policy_evaluate(all, 0, POLICY_PUBLISH, ARN "topic/a/x", &vars, &who),
                     POLICY_IMPLICIT_DENY);
    for (int i = 0; i < 3; i++)
        policy_free(p[i]);
}

static void test_malformed_documents(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *says;
    } bad[] = {
        {"", "not valid JSON"},
        {"{\"Version\":\"2012-10-17\",\"Statement\":[", "not valid JSON"},
        {"[]", "must be a JSON object"},
        {"{\"Version\":\"2012-10-17\"}", "no Statement"},
        {"{\"Version\":\"2012-10-17\",\"Statement\":[]}", "no Statement"},
        {"{\"Version\":\"2012-10-17\",\"Statement\":[1]}", "must be an object"},
        {"{\"Version\":\"2012-10-17\",\"Statement\":[" ALLOW("\"iot:*\"", "\"*\"") "],\"X\":1}",
         "Unknown field in policy document: X"},
        {"{\"Version\":\"2020-01-01\",\"Statement\":[" ALLOW("\"iot:*\"", "\"*\"") "]}",
         "Invalid policy Version"},
        {DOC("{\"Action\":\"iot:*\",\"Resource\":\"*\"}"), "missing its Effect"},
        {DOC("{\"Effect\":\"Maybe\",\"Action\":\"iot:*\",\"Resource\":\"*\"}"), "Invalid effect"},
        {DOC("{\"Effect\":\"allow\",\"Action\":\"iot:*\",\"Resource\":\"*\"}"), "Invalid effect"},
        {DOC("{\"Effect\":\"Allow\",\"Resource\":\"*\"}"), "Action or NotAction"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"NotAction\":\"iot:Publish\","
             "\"Resource\":\"*\"}"),
         "Action or NotAction"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\"}"), "Resource or NotResource"},
        {DOC(ALLOW("\"iot:*\"", "\"foo\"")), "Invalid resource: foo"},
        {DOC(ALLOW("\"iot:*\"", "\"arn:aws:s3:::bucket\"")), "Invalid resource"},
        {DOC(ALLOW("\"iot:*\"", "[]")), "empty list"},
        {DOC(ALLOW("\"publish\"", "\"*\"")), "Invalid action"},
        {DOC(ALLOW("42", "\"*\"")), "string or a list"},
        {DOC(ALLOW("\"iot:*\"", "{\"a\":1}")), "string or a list"},
        {DOC("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"iot:*\",\"Resource\":\"*\"}"),
         "principal"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Bogus\":1}"),
         "Unknown field in policy statement: Bogus"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"StringSortOf\":{\"iot:ClientId\":\"x\"}}}"),
         "Unknown condition operator: StringSortOf"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":[]}"),
         "Condition must be an object"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"StringEquals\":\"x\"}}"),
         "needs an object of keys"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"StringEquals\":{\"iot:ClientId\":{\"a\":1}}}}"),
         "string or a list"},
        {"{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":[]}",
         "not valid JSON"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/\"}}}"),
         "Invalid IP address or CIDR block: 10.0.0.0/"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"NotIpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"999.1.1.1\"]}}}"),
         "Invalid IP address or CIDR block: 999.1.1.1"},
        {DOC("{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"*\",\"Condition\":"
             "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}}"),
         "Invalid IP address or CIDR block"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        struct policy *p = (struct policy *)1;
        int rc = policy_compile(bad[i].doc, strlen(bad[i].doc), &p, err, sizeof err);
        if (rc != UMBRA_EINVAL || p != NULL || !strstr(err, bad[i].says))
            fail_msg("case %zu: rc %d, err '%s', wanted '%s'\n%s", i, rc, err, bad[i].says,
                     bad[i].doc);
        assert_int_equal(policy_validate(bad[i].doc, strlen(bad[i].doc), err, sizeof err),
                         UMBRA_EINVAL);
    }
}

/* AWS counts characters without whitespace: 2048 pass, 2049 do not. */
static void test_size_limit(void **state)
{
    (void)state;
    const char *head = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                       "\"Action\":\"iot:Publish\",\"Resource\":\"" ARN "topic/";
    const char *tail = "\"}]}";
    char doc[8192];
    size_t fixed = strlen(head) + strlen(tail);
    size_t pad = POLICY_MAX_CHARS - fixed;
    char err[256];
    for (int extra = 0; extra < 2; extra++) {
        size_t n = 0;
        n += (size_t)snprintf(doc + n, sizeof doc - n, "%s", head);
        memset(doc + n, 'x', pad + (size_t)extra);
        n += pad + (size_t)extra;
        n += (size_t)snprintf(doc + n, sizeof doc - n, "%s", tail);
        assert_int_equal(policy_validate(doc, n, err, sizeof err), extra ? UMBRA_EINVAL : 0);
    }
    /* Whitespace is free. */
    char spaced[8192];
    size_t n = (size_t)snprintf(spaced, sizeof spaced, "%s", head);
    memset(spaced + n, 'x', pad);
    n += pad;
    n += (size_t)snprintf(spaced + n, sizeof spaced - n, "%s", tail);
    char with_ws[9000];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        with_ws[m++] = spaced[i];
        if (spaced[i] == ',') with_ws[m++] = '\n';
    }
    assert_int_equal(policy_validate(with_ws, m, err, sizeof err), 0);
    /* Characters, not bytes: 'é' is two bytes and one character. */
    char wide[8192];
    n = (size_t)snprintf(wide, sizeof wide, "%s", head);
    for (size_t i = 0; i < pad; i++) {
        wide[n++] = (char)0xC3;
        wide[n++] = (char)0xA9;
    }
    n += (size_t)snprintf(wide + n, sizeof wide - n, "%s", tail);
    assert_int_equal(policy_validate(wide, n, err, sizeof err), 0);
}

static void test_glob(void **state)
{
    (void)state;
    struct {
        const char *p, *s;
        bool want;
    } g[] = {
        {"", "", true},
        {"*", "", true},
        {"*", "anything/at/all", true},
        {"a*", "a", true},
        {"a*b", "axxb", true},
        {"a*b", "axxbx", false},
        {"a*b*c", "abc", true},
        {"a*b*c", "acb", false},
        {"?", "", false},
        {"?", "x", true},
        {"a?", "ab", true},
        {"*?", "", false},
        {"**", "x", true},
        {"a\\*", "a\\b", true},
        {"x", "X", false},
        {"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        {"a/?", "a/\xc3\xa9", true},
        {"a/?", "a/\xe2\x82\xac", true},
        {"a/??", "a/\xc3\xa9", false},
        {"?b", "\xc3\xa9" "b", true},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (policy_glob(g[i].p, strlen(g[i].p), g[i].s, strlen(g[i].s)) != g[i].want)
            fail_msg("glob '%s' '%s' should be %d", g[i].p, g[i].s, g[i].want);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_int_equal(policy_action_parse("iot:Publish"), POLICY_PUBLISH);
    assert_int_equal(policy_action_parse("IOT:RECEIVE"), POLICY_RECEIVE);
    assert_int_equal(policy_action_parse("iot:Nope"), -1);
    for (int a = 0; a < POLICY_NACTIONS; a++)
        assert_int_equal(policy_action_parse(policy_action_name((enum policy_action)a)), a);
    assert_null(policy_action_name(POLICY_NACTIONS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_policies_together),
        cmocka_unit_test(test_malformed_documents),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
