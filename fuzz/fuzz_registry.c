/*
 * fuzz_registry.c - libFuzzer target for the registry operations: the
 * requests umbractl and the HTTP API hand them are untrusted JSON (names,
 * attributes, PEM certificates, CSRs, paging tokens). The first byte picks
 * the operation, the rest is the request. Any input must give a response or
 * an AWS error, never a crash, a leak or a half-filled error.
 */
#include "pki.h"
#include "registry.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const registry_op ops[] = {
    registry_create_thing,
    registry_describe_thing,
    registry_update_thing,
    registry_delete_thing,
    registry_list_things,
    registry_create_thing_type,
    registry_describe_thing_type,
    registry_list_thing_types,
    registry_deprecate_thing_type,
    registry_delete_thing_type,
    registry_create_certificate_from_csr,
    registry_register_certificate,
    registry_register_certificate_without_ca,
    registry_describe_certificate,
    registry_update_certificate,
    registry_delete_certificate,
    registry_list_certificates,
    registry_register_ca_certificate,
    registry_describe_ca_certificate,
    registry_list_certificates_by_ca,
    registry_update_ca_certificate,
    registry_list_ca_certificates,
    registry_delete_ca_certificate,
    registry_attach_thing_principal,
    registry_detach_thing_principal,
    registry_list_thing_principals,
    registry_list_principal_things,
    registry_describe_endpoint,
    registry_create_policy,
    registry_get_policy,
    registry_list_policies,
    registry_delete_policy,
    registry_create_policy_version,
    registry_get_policy_version,
    registry_list_policy_versions,
    registry_set_default_policy_version,
    registry_delete_policy_version,
    registry_attach_policy,
    registry_detach_policy,
    registry_list_attached_policies,
    registry_list_targets_for_policy,
    registry_get_effective_policies,
    registry_test_authorization,
    registry_create_topic_rule,
    registry_get_topic_rule,
    registry_list_topic_rules,
    registry_replace_topic_rule,
    registry_delete_topic_rule,
    registry_enable_topic_rule,
    registry_disable_topic_rule,
};
#define NOPS (sizeof ops / sizeof ops[0])

static struct registry *reg;
static char dir[] = "/tmp/umbra-fuzz-registry-XXXXXX";

static void remove_registry(void)
{
    registry_close(reg);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static void open_registry(void)
{
    char err[512], path[128];
    if (!mkdtemp(dir)) abort();
    /* The data dir's CA lets create-certificate-from-csr sign. */
    static const char *const hosts[] = {"localhost", NULL};
    bool created;
    if (pki_init_data_dir(dir, hosts, &created, err, sizeof err)) abort();
    snprintf(path, sizeof path, "%s/umbra.db", dir);
    if (registry_open(&reg, path, "us-east-1", err, sizeof err)) abort();
    atexit(remove_registry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg) open_registry();
    if (size < 1) return 0;
    registry_op op = ops[data[0] % NOPS];
    json_t *req = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!req) return 0;
    json_t *resp = NULL;
    struct reg_error e = {0};
    int rc = op(reg, req, &resp, &e);
    if (rc == 0 && !resp) __builtin_trap(); /* success answers something */
    if (rc != 0 && (resp || !e.type || !e.message[0])) __builtin_trap(); /* errors say what */
    json_decref(resp);
    json_decref(req);
    return 0;
}
