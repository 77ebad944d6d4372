/*
 * endpoint.c - DescribeEndpoint: where devices connect.
 *
 * AWS answers with an account-specific DNS name per endpoint type; Umbra
 * has one gateway, so every type names it: the server certificate's name
 * (pki_endpoint), or before the daemon first made one, this machine's host
 * name, which is what that certificate will carry.
 */
#include "registry_internal.h"

#include "error.h"
#include "pki.h"

#include <string.h>
#include <unistd.h>

static const char *const endpoint_types[] = {
    "iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs", NULL,
};

int registry_describe_endpoint(struct registry *r, const json_t *req, json_t **resp,
                               struct reg_error *e)
{
    const char *type;
    int rc = reg_string(req, "endpointType", false, &type, e);
    if (rc) return rc;
    if (type) {
        int i = 0;
        while (endpoint_types[i] && strcmp(endpoint_types[i], type) != 0)
            i++;
        if (!endpoint_types[i])
            return reg_fail(e, "InvalidRequestException", 400,
                            "Endpoint type %.128s not recognized.", type);
    }
    char name[256];
    if (pki_endpoint(r->dir, name, sizeof name)) {
        if (gethostname(name, sizeof name - 1) || !name[0] || strchr(name, ','))
            strcpy(name, "localhost");
        name[sizeof name - 1] = '\0';
    }
    *resp = json_pack("{s:s}", "endpointAddress", name);
    return 0;
}
