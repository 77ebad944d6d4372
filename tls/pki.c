/*
 * pki.c - key generation and certificate issuing with mbedTLS 2.28.
 *
 * mbedTLS 2.28 has no subjectAltName writer, so the extension is encoded
 * here with its ASN.1 writer: a SEQUENCE of GeneralNames, dNSName [2] as
 * IA5String and iPAddress [7] as the raw 4 or 16 address bytes. ASN.1
 * writers fill buffers from the end backwards, hence the reversed loops.
 */
#include "pki.h"

#include "cert.h"
#include "error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX 16384

struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct rng *r)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                                 (const unsigned char *)"umbra-pki", 9);
}

static void rng_free(struct rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

static int fail(int rc, const char *what, char *err, size_t errlen)
{
    char why[160];
    mbedtls_strerror(rc, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
    return UMBRA_EINVAL;
}

int pki_generate_key(enum pki_key_type type, char **key_pem, char *err, size_t errlen)
{
    struct rng rng;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = rng_init(&rng);
    const mbedtls_pk_info_t *info =
        mbedtls_pk_info_from_type(type == PKI_KEY_RSA2048 ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECKEY);
    if (!rc) rc = mbedtls_pk_setup(&pk, info);
    if (!rc && type == PKI_KEY_RSA2048)
        rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), mbedtls_ctr_drbg_random, &rng.drbg, 2048,
                                 65537);
    else if (!rc)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                 mbedtls_ctr_drbg_random, &rng.drbg);
    char *pem = NULL;
    if (!rc) {
        pem = calloc(1, PEM_MAX);
        rc = pem ? mbedtls_pk_write_key_pem(&pk, (unsigned char *)pem, PEM_MAX)
                 : MBEDTLS_ERR_PK_ALLOC_FAILED;
    }
    mbedtls_pk_free(&pk);
    rng_free(&rng);
    if (rc) {
        free(pem);
        return fail(rc, "key generation", err, errlen);
    }
    *key_pem = pem;
    return 0;
}

static int parse_key(mbedtls_pk_context *pk, const char *pem)
{
    return mbedtls_pk_parse_key(pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0);
}

int pki_public_key(const char *key_pem, char **pub_pem, char *err, size_t errlen)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = parse_key(&pk, key_pem);
    char *pem = NULL;
    if (!rc) {
        pem = calloc(1, PEM_MAX);
        rc = pem ? mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pem, PEM_MAX)
                 : MBEDTLS_ERR_PK_ALLOC_FAILED;
    }
    mbedtls_pk_free(&pk);
    if (rc) {
        free(pem);
        return fail(rc, "public key", err, errlen);
    }
    *pub_pem = pem;
    return 0;
}

/* Encode the subjectAltName extension value; returns its length or negative. */
static int write_san(unsigned char *buf, size_t size, const char *const *dns,
                     const char *const *ips, unsigned char **start)
{
    unsigned char *p = buf + size;
    size_t len = 0;
    int ret; /* MBEDTLS_ASN1_CHK_ADD's name for it */
    size_t nips = 0, ndns = 0;
    while (ips && ips[nips])
        nips++;
    while (dns && dns[ndns])
        ndns++;
    for (size_t i = nips; i-- > 0;) {
        unsigned char addr[16];
        size_t alen = 4;
        if (inet_pton(AF_INET, ips[i], addr) != 1) {
            if (inet_pton(AF_INET6, ips[i], addr) != 1) return MBEDTLS_ERR_X509_BAD_INPUT_DATA;
            alen = 16;
        }
        size_t l = 0;
        MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_raw_buffer(&p, buf, addr, alen));
        MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_len(&p, buf, alen));
        MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
        len += l;
    }
    for (size_t i = ndns; i-- > 0;) {
        size_t n = strlen(dns[i]), l = 0;
        MBEDTLS_ASN1_CHK_ADD(
            l, mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)dns[i], n));
        MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_len(&p, buf, n));
        MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
        len += l;
    }
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    *start = p;
    return (int)len;
}

static void validity(int days, char from[16], char to[16])
{
    time_t now = time(NULL) - 3600; /* an hour of slack for clocks that lag */
    time_t end = now + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(from, 16, "%Y%m%d%H%M%S", &tm);
    gmtime_r(&end, &tm);
    strftime(to, 16, "%Y%m%d%H%M%S", &tm);
}

/* Issue for a subject public key already parsed (from a key or a CSR). */
static int issue_for(const struct pki_request *req, mbedtls_pk_context *subject_key,
                     const char *issuer_cert_pem, const char *issuer_key_pem, char **cert_pem,
                     char *err, size_t errlen)
{
    struct rng rng;
    mbedtls_pk_context issuer_key;
    mbedtls_x509_crt issuer;
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    mbedtls_pk_init(&issuer_key);
    mbedtls_x509_crt_init(&issuer);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    char *pem = NULL;
    const char *what = "random generator";
    int rc = rng_init(&rng);
    if (!rc) what = "issuer key", rc = parse_key(&issuer_key, issuer_key_pem);
    char issuer_name[512];
    if (!rc && issuer_cert_pem) {
        what = "issuer certificate";
        rc = mbedtls_x509_crt_parse(&issuer, (const unsigned char *)issuer_cert_pem,
                                    strlen(issuer_cert_pem) + 1);
        if (!rc && mbedtls_x509_dn_gets(issuer_name, sizeof issuer_name, &issuer.subject) < 0)
            rc = MBEDTLS_ERR_X509_BAD_INPUT_DATA;
    } else if (!rc) {
        snprintf(issuer_name, sizeof issuer_name, "%s", req->subject);
    }
    if (!rc) {
        what = "certificate";
        unsigned char serial_bytes[16];
        mbedtls_ctr_drbg_random(&rng.drbg, serial_bytes, sizeof serial_bytes);
        serial_bytes[0] &= 0x7F; /* positive, as RFC 5280 requires */
        char from[16], to[16];
        validity(req->days, from, to);
        mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&crt, subject_key);
        mbedtls_x509write_crt_set_issuer_key(&crt, &issuer_key);
        rc = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof serial_bytes);
        if (!rc) rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
        if (!rc) rc = mbedtls_x509write_crt_set_subject_name(&crt, req->subject);
        if (!rc) rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer_name);
        if (!rc) rc = mbedtls_x509write_crt_set_validity(&crt, from, to);
        if (!rc) rc = mbedtls_x509write_crt_set_basic_constraints(&crt, req->is_ca, -1);
        if (!rc) rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
        if (!rc) rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
        if (!rc)
            rc = mbedtls_x509write_crt_set_key_usage(
                &crt, req->is_ca
                          ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                          : MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_ENCIPHERMENT);
        if (!rc && ((req->dns_names && req->dns_names[0]) || (req->ips && req->ips[0]))) {
            unsigned char san[2048], *start;
            int len = write_san(san, sizeof san, req->dns_names, req->ips, &start);
            rc = len < 0
                     ? len
                     : mbedtls_x509write_crt_set_extension(
                           &crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                           MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, start, (size_t)len);
        }
    }
    if (!rc) {
        pem = calloc(1, PEM_MAX);
        rc = pem ? mbedtls_x509write_crt_pem(&crt, (unsigned char *)pem, PEM_MAX,
                                             mbedtls_ctr_drbg_random, &rng.drbg)
                 : MBEDTLS_ERR_X509_ALLOC_FAILED;
    }
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_x509_crt_free(&issuer);
    mbedtls_pk_free(&issuer_key);
    rng_free(&rng);
    if (rc) {
        free(pem);
        return fail(rc, what, err, errlen);
    }
    *cert_pem = pem;
    return 0;
}

int pki_issue(const struct pki_request *req, const char *subject_key_pem,
              const char *issuer_cert_pem, const char *issuer_key_pem, char **cert_pem, char *err,
              size_t errlen)
{
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    int rc = parse_key(&key, subject_key_pem);
    if (rc) {
        mbedtls_pk_free(&key);
        return fail(rc, "subject key", err, errlen);
    }
    rc = issue_for(req, &key, issuer_cert_pem, issuer_key_pem, cert_pem, err, errlen);
    mbedtls_pk_free(&key);
    return rc;
}

/* AWS accepts RSA of at least 2048 bits and the NIST P curves. */
static bool key_acceptable(mbedtls_pk_context *pk)
{
    if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA) return mbedtls_pk_get_bitlen(pk) >= 2048;
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) return false;
    mbedtls_ecp_group_id g = mbedtls_pk_ec(*pk)->grp.id;
    return g == MBEDTLS_ECP_DP_SECP256R1 || g == MBEDTLS_ECP_DP_SECP384R1 ||
           g == MBEDTLS_ECP_DP_SECP521R1;
}

int pki_issue_from_csr(const char *csr_pem, int days, const char *issuer_cert_pem,
                       const char *issuer_key_pem, char **cert_pem, char *err, size_t errlen)
{
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    /* Parsing checks the CSR's self-signature too. */
    int rc = mbedtls_x509_csr_parse(&csr, (const unsigned char *)csr_pem, strlen(csr_pem) + 1);
    if (rc) {
        mbedtls_x509_csr_free(&csr);
        return fail(rc, "certificate signing request", err, errlen);
    }
    if (!key_acceptable(&csr.pk)) {
        mbedtls_x509_csr_free(&csr);
        snprintf(err, errlen,
                 "the CSR's key must be RSA of at least 2048 bits or ECC P-256, "
                 "P-384 or P-521");
        return UMBRA_EINVAL;
    }
    char subject[512];
    if (mbedtls_x509_dn_gets(subject, sizeof subject, &csr.subject) <= 0)
        snprintf(subject, sizeof subject, "CN=AWS IoT Certificate");
    struct pki_request req = {.subject = subject, .days = days};
    rc = issue_for(&req, &csr.pk, issuer_cert_pem, issuer_key_pem, cert_pem, err, errlen);
    mbedtls_x509_csr_free(&csr);
    return rc;
}

/* ---- the data directory's own PKI ---- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, PEM_MAX);
    size_t n = buf ? fread(buf, 1, PEM_MAX - 1, f) : 0;
    fclose(f);
    if (buf && n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int write_text(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    /* Write beside, then rename: a crash never leaves half a key. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return UMBRA_EIO;
    }
    return 0;
}

static int ensure_ca(const char *dir, char **ca_pem, char **ca_key, bool *created, char *err,
                     size_t errlen)
{
    char cert_path[4096], key_path[4096];
    snprintf(cert_path, sizeof cert_path, "%s/ca.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/ca.key", dir);
    *ca_pem = read_text(cert_path);
    *ca_key = read_text(key_path);
    if (*ca_pem && *ca_key) return 0;
    free(*ca_pem);
    free(*ca_key);
    *ca_pem = *ca_key = NULL;
    int rc = pki_generate_key(PKI_KEY_EC_P256, ca_key, err, errlen);
    struct pki_request req = {.subject = "CN=Umbra Root CA,O=Umbra", .is_ca = true, .days = 3650};
    if (!rc) rc = pki_issue(&req, *ca_key, NULL, *ca_key, ca_pem, err, errlen);
    if (!rc) rc = write_text(key_path, *ca_key, 0600, err, errlen);
    if (!rc) rc = write_text(cert_path, *ca_pem, 0644, err, errlen);
    if (!rc) *created = true;
    return rc;
}

static bool is_ip(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Issue name.pem/name.key in dir, signed by the CA, unless both exist and
 * the CA is the one they were made with. */
static int ensure_issued(const char *dir, const char *name, const struct pki_request *req,
                         const char *ca_pem, const char *ca_key, bool ca_is_new, bool *created,
                         char *err, size_t errlen)
{
    char cert_path[4096], key_path[4096];
    snprintf(cert_path, sizeof cert_path, "%s/%s.pem", dir, name);
    snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name);
    if (!ca_is_new && access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0) return 0;
    char *key = NULL, *cert = NULL;
    int rc = pki_generate_key(PKI_KEY_EC_P256, &key, err, errlen);
    if (!rc) rc = pki_issue(req, key, ca_pem, ca_key, &cert, err, errlen);
    if (!rc) rc = write_text(key_path, key, 0600, err, errlen);
    if (!rc) rc = write_text(cert_path, cert, 0644, err, errlen);
    if (!rc) *created = true;
    free(key);
    free(cert);
    return rc;
}

int pki_init_data_dir(const char *dir, const char *const *hosts, bool *created, char *err,
                      size_t errlen)
{
    *created = false;
    char *ca_pem = NULL, *ca_key = NULL;
    int rc = ensure_ca(dir, &ca_pem, &ca_key, created, err, errlen);
    bool ca_is_new = *created;
    const char *dns[16] = {0}, *ips[16] = {0};
    size_t nd = 0, ni = 0;
    for (size_t i = 0; hosts && hosts[i] && nd < 15 && ni < 15; i++) {
        if (is_ip(hosts[i]))
            ips[ni++] = hosts[i];
        else
            dns[nd++] = hosts[i];
    }
    char subject[300];
    snprintf(subject, sizeof subject, "CN=%s,O=Umbra", nd ? dns[0] : "localhost");
    struct pki_request server = {
        .subject = subject, .dns_names = dns, .ips = ips, .is_server = true, .days = 825};
    if (!rc)
        rc = ensure_issued(dir, "server", &server, ca_pem, ca_key, ca_is_new, created, err, errlen);
    /* umbractl's own client certificate, for the daemon's HTTPS API: whoever
     * can read the data directory administers the broker anyway. */
    /* Not part of *created: a data directory from before umbractl had one
     * gets it silently, without a second "first start" announcement. */
    struct pki_request admin = {.subject = "CN=umbractl,O=Umbra", .days = 3650};
    bool admin_made = false;
    if (!rc)
        rc = ensure_issued(dir, "umbractl", &admin, ca_pem, ca_key, ca_is_new, &admin_made, err,
                           errlen);
    free(ca_pem);
    free(ca_key);
    return rc;
}

int pki_endpoint(const char *dir, char *out, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/server.pem", dir);
    char *pem = read_text(path);
    if (!pem) return UMBRA_ENOTFOUND;
    struct cert_info info;
    int rc = cert_parse((const uint8_t *)pem, strlen(pem) + 1, &info, NULL, 0);
    free(pem);
    if (rc) return rc;
    cert_endpoint_name(&info, out, cap);
    return 0;
}
