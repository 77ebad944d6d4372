/*
 * cert.h - X.509 certificate identity, as AWS IoT computes it.
 *
 * A certificate's id is the lowercase hex SHA-256 of its DER encoding; its
 * principal ARN is arn:aws:iot:REGION:ACCOUNT:cert/ID. This module parses
 * PEM or DER (mbedTLS), and reports id, validity and whether it is a CA.
 * No I/O, no globals.
 */
#ifndef UMBRA_TLS_CERT_H
#define UMBRA_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERT_ID_HEX_LEN 64

struct cert_info {
    char id[CERT_ID_HEX_LEN + 1]; /* lowercase hex SHA-256 of the DER */
    int64_t not_before;           /* Unix seconds, UTC */
    int64_t not_after;
    bool is_ca;        /* basicConstraints CA:TRUE */
    char subject[256]; /* one-line distinguished name, truncated */
    char issuer[256];
    char dns_names[512]; /* subjectAltName dNSName entries, comma-separated; those that
                            do not fit (or hold a comma) are left out */
};

/* Id of a DER certificate (any bytes: no parsing). out gets 64 hex + NUL. */
void cert_id_from_der(const uint8_t *der, size_t len, char out[CERT_ID_HEX_LEN + 1]);

/*
 * Parse one certificate, PEM (NUL-terminated text, the first certificate
 * is used) or DER. Returns 0, UMBRA_EINVAL for anything that is not a
 * certificate; err (may be NULL) says why.
 */
int cert_parse(const uint8_t *data, size_t len, struct cert_info *out, char *err, size_t errlen);

/*
 * Is the certificate signed by the CA certificate? Both PEM (NUL-terminated,
 * lengths counting the NUL) or DER. Validity dates are not checked here.
 * Returns 0 when it is, UMBRA_EINVAL when not or unparsable.
 */
int cert_verify_issuer(const uint8_t *cert, size_t len, const uint8_t *ca, size_t ca_len);

/*
 * The name devices should connect to, from a server certificate: its first
 * DNS name other than "localhost", else "localhost" (what describe-endpoint
 * prints and what the first start announces).
 */
void cert_endpoint_name(const struct cert_info *server, char *out, size_t cap);

/*
 * The certificate's fields as AWS IoT names them for policy variables,
 * without the "iot:Certificate." prefix: "Subject.CommonName",
 * "Issuer.Organization", "Subject.AlternativeName.DNSName",
 * "SerialNumber", ... A field that occurs more than once is reported once
 * per value, in order. Values are the raw text (no escaping). Returns 0,
 * or UMBRA_EINVAL when der is not a certificate.
 */
int cert_policy_fields(const uint8_t *der, size_t len,
                       void (*fn)(void *ctx, const char *field, const char *value), void *ctx);

/* "arn:aws:iot:REGION:ACCOUNT:cert/ID" into out; returns its length, as snprintf. */
int cert_arn(char *out, size_t cap, const char *region, const char *account, const char *id);

#endif
