/*
 * pki.h - keys and certificates made by Umbra itself (mbedTLS).
 *
 * The data directory's own CA signs the server certificate and the device
 * certificates of create-keys-and-certificate. Everything here works on
 * PEM strings; pki_init_data_dir() is the one function that touches files.
 * Key generation is slow (RSA 2048: tens to hundreds of milliseconds): run
 * it off the event loop.
 */
#ifndef UMBRA_TLS_PKI_H
#define UMBRA_TLS_PKI_H

#include <stdbool.h>
#include <stddef.h>

enum pki_key_type { PKI_KEY_RSA2048, PKI_KEY_EC_P256 };

/* A new private key as PEM. Caller frees *key_pem with free(). */
int pki_generate_key(enum pki_key_type type, char **key_pem, char *err, size_t errlen);

/* The public key of a private key, as PEM. Caller frees. */
int pki_public_key(const char *key_pem, char **pub_pem, char *err, size_t errlen);

struct pki_request {
    const char *subject;          /* "CN=...,O=..." */
    const char *const *dns_names; /* NULL-terminated subjectAltName DNS entries, or NULL */
    const char *const *ips;       /* NULL-terminated subjectAltName IP entries, or NULL */
    bool is_ca;
    bool is_server; /* serverAuth extended key usage, else clientAuth */
    int days;
};

/*
 * Issue a certificate for the public half of subject_key_pem, signed by
 * issuer_key_pem, with issuer_cert_pem's subject as issuer. A NULL issuer
 * certificate makes it self-signed. Caller frees *cert_pem.
 */
int pki_issue(const struct pki_request *req, const char *subject_key_pem,
              const char *issuer_cert_pem, const char *issuer_key_pem, char **cert_pem, char *err,
              size_t errlen);

/*
 * Issue a client certificate for a CSR (PEM, its signature checked; RSA >=
 * 2048 or ECC P-256/384/521 keys, as AWS requires), keeping its subject.
 */
int pki_issue_from_csr(const char *csr_pem, int days, const char *issuer_cert_pem,
                       const char *issuer_key_pem, char **cert_pem, char *err, size_t errlen);

/*
 * Make sure DIR holds ca.pem/ca.key (Umbra's CA), server.pem/server.key
 * (for `hosts`: names and IP addresses) and umbractl.pem/umbractl.key
 * (umbractl's client certificate for the daemon's HTTPS API), creating what
 * is missing; keys are written mode 0600. *created says whether the CA or
 * the server certificate was made (the first start).
 */
int pki_init_data_dir(const char *dir, const char *const *hosts, bool *created, char *err,
                      size_t errlen);

/*
 * The endpoint devices connect to, from DIR/server.pem (see
 * cert_endpoint_name). Returns 0, UMBRA_ENOTFOUND when there is no server
 * certificate yet, UMBRA_EINVAL when it does not parse.
 */
int pki_endpoint(const char *dir, char *out, size_t cap);

#endif
