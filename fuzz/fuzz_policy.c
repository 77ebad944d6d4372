/*
 * fuzz_policy.c - libFuzzer target for the policy parser and evaluator:
 * any document must compile or be refused with a message, and a compiled
 * one must evaluate every action on a few resources without fault.
 */
#include "policy.h"

#include <stdint.h>
#include <string.h>

static size_t get(void *ctx, const char *name, const char **values, size_t max)
{
    (void)ctx;
    if (max == 0) return 0;
    if (strcmp(name, "iot:ClientId") == 0) {
        values[0] = "dev*1";
        return 1;
    }
    if (strcmp(name, "iot:ConnectAttributes") == 0 && max >= 2) {
        values[0] = "PersistentConnect";
        values[1] = "LastWill";
        return 2;
    }
    if (strncmp(name, "iot:Certificate.", 16) == 0) {
        values[0] = "Acme, \"Inc\" <x>;";
        return 1;
    }
    if (strcmp(name, "aws:SourceIp") == 0) {
        values[0] = "10.0.0.1";
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p;
    char err[512] = "";
    if (policy_compile((const char *)data, size, &p, err, sizeof err) != 0) {
        if (!err[0]) __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    static const char *const resources[] = {
        "arn:aws:iot:us-east-1:123456789012:topic/a/b",
        "arn:aws:iot:us-east-1:123456789012:topicfilter/a/#",
        "arn:aws:iot:us-east-1:123456789012:client/dev*1",
        "",
    };
    struct policy_vars vars = {get, NULL};
    for (int a = 0; a < POLICY_NACTIONS; a++)
        for (size_t r = 0; r < sizeof resources / sizeof resources[0]; r++) {
            enum policy_decision d =
                policy_evaluate_one(p, (enum policy_action)a, resources[r], &vars);
            if (d != POLICY_ALLOWED && d != POLICY_IMPLICIT_DENY && d != POLICY_EXPLICIT_DENY)
                __builtin_trap();
        }
    policy_free(p);
    return 0;
}
