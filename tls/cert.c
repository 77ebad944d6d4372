/* cert.c - certificate ids and facts through mbedTLS's X.509 parser. */
#include "cert.h"

#include "error.h"

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void cert_id_from_der(const uint8_t *der, size_t len, char out[CERT_ID_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t digest[32];
    mbedtls_sha256_ret(der, len, digest, 0);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[CERT_ID_HEX_LEN] = '\0';
}

/* Days from the civil date to 1970-01-01 (H. Hinnant's algorithm): no
 * timegm(), no time zone. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t x509_time_to_unix(const mbedtls_x509_time *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

static void join_dns_names(const mbedtls_x509_sequence *san, char *out, size_t cap)
{
    size_t used = 0;
    for (; san; san = san->next) {
        const mbedtls_x509_buf *b = &san->buf;
        if (b->tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)) continue;
        if (b->len == 0 || memchr(b->p, ',', b->len) || memchr(b->p, '\0', b->len)) continue;
        size_t need = b->len + (used ? 1 : 0);
        if (used + need + 1 > cap) continue;
        if (used) out[used++] = ',';
        memcpy(out + used, b->p, b->len);
        used += b->len;
    }
    out[used] = '\0';
}

int cert_parse(const uint8_t *data, size_t len, struct cert_info *out, char *err, size_t errlen)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    /* mbedTLS takes PEM only with its terminating NUL counted in len. */
    int rc = mbedtls_x509_crt_parse(&crt, data, len);
    if (rc < 0 || !crt.raw.p) {
        if (err) snprintf(err, errlen, "not a valid X.509 certificate (mbedTLS -0x%04x)", -rc);
        mbedtls_x509_crt_free(&crt);
        return UMBRA_EINVAL;
    }
    memset(out, 0, sizeof *out);
    cert_id_from_der(crt.raw.p, crt.raw.len, out->id);
    out->not_before = x509_time_to_unix(&crt.valid_from);
    out->not_after = x509_time_to_unix(&crt.valid_to);
    out->is_ca = crt.ca_istrue != 0;
    if (mbedtls_x509_dn_gets(out->subject, sizeof out->subject, &crt.subject) < 0)
        out->subject[0] = '\0';
    if (mbedtls_x509_dn_gets(out->issuer, sizeof out->issuer, &crt.issuer) < 0)
        out->issuer[0] = '\0';
    join_dns_names(&crt.subject_alt_names, out->dns_names, sizeof out->dns_names);
    mbedtls_x509_crt_free(&crt);
    return 0;
}

int cert_verify_issuer(const uint8_t *cert, size_t len, const uint8_t *ca, size_t ca_len)
{
    mbedtls_x509_crt leaf, trust;
    mbedtls_x509_crt_init(&leaf);
    mbedtls_x509_crt_init(&trust);
    int rc = UMBRA_EINVAL;
    uint32_t flags = 0;
    if (mbedtls_x509_crt_parse(&leaf, cert, len) == 0 &&
        mbedtls_x509_crt_parse(&trust, ca, ca_len) == 0) {
        mbedtls_x509_crt_verify(&leaf, &trust, NULL, NULL, &flags, NULL, NULL);
        /* Only the chain matters here; dates are judged at connect time. */
        flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
        if (flags == 0) rc = 0;
    }
    mbedtls_x509_crt_free(&leaf);
    mbedtls_x509_crt_free(&trust);
    return rc;
}

int cert_arn(char *out, size_t cap, const char *region, const char *account, const char *id)
{
    return snprintf(out, cap, "arn:aws:iot:%s:%s:cert/%s", region, account, id);
}

void cert_endpoint_name(const struct cert_info *server, char *out, size_t cap)
{
    const char *p = server->dns_names;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (!(n == 9 && strncmp(p, "localhost", 9) == 0)) {
            snprintf(out, cap, "%.*s", (int)n, p);
            return;
        }
        p += n + (p[n] == ',');
    }
    snprintf(out, cap, "localhost");
}

/* Distinguished-name attributes AWS exposes, by OID. */
static const struct {
    const char *oid;
    size_t oid_len;
    const char *name;
} dn_fields[] = {
#define F(o, n)                                                                                    \
    {                                                                                              \
        o, sizeof o - 1, n                                                                         \
    }
    F(MBEDTLS_OID_AT_CN, "CommonName"),
    F(MBEDTLS_OID_AT_COUNTRY, "Country"),
    F(MBEDTLS_OID_AT_ORGANIZATION, "Organization"),
    F(MBEDTLS_OID_AT_ORG_UNIT, "OrganizationalUnit"),
    F(MBEDTLS_OID_AT_STATE, "State"),
    F(MBEDTLS_OID_AT_SERIAL_NUMBER, "SerialNumber"),
    F(MBEDTLS_OID_AT_TITLE, "Title"),
    F(MBEDTLS_OID_AT_SUR_NAME, "Surname"),
    F(MBEDTLS_OID_AT_GIVEN_NAME, "GivenName"),
    F(MBEDTLS_OID_AT_INITIALS, "Initials"),
    F(MBEDTLS_OID_AT_PSEUDONYM, "Pseudonym"),
    F(MBEDTLS_OID_AT_GENERATION_QUALIFIER, "GenerationQualifier"),
    F(MBEDTLS_OID_AT_DN_QUALIFIER, "DistinguishedNameQualifier"),
#undef F
};

static void report_name(const mbedtls_x509_name *n, const char *side,
                        void (*fn)(void *, const char *, const char *), void *ctx)
{
    for (; n; n = n->next) {
        if (!n->oid.p) continue;
        for (size_t i = 0; i < sizeof dn_fields / sizeof dn_fields[0]; i++) {
            if (n->oid.len != dn_fields[i].oid_len ||
                memcmp(n->oid.p, dn_fields[i].oid, n->oid.len) != 0)
                continue;
            char field[64], value[1100];
            if (n->val.len >= sizeof value || memchr(n->val.p, '\0', n->val.len)) break;
            memcpy(value, n->val.p, n->val.len);
            value[n->val.len] = '\0';
            snprintf(field, sizeof field, "%s.%s", side, dn_fields[i].name);
            fn(ctx, field, value);
            break;
        }
    }
}

int cert_policy_fields(const uint8_t *der, size_t len,
                       void (*fn)(void *ctx, const char *field, const char *value), void *ctx)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
        mbedtls_x509_crt_free(&crt);
        return UMBRA_EINVAL;
    }
    report_name(&crt.subject, "Subject", fn, ctx);
    report_name(&crt.issuer, "Issuer", fn, ctx);
    for (const mbedtls_x509_sequence *san = &crt.subject_alt_names; san && san->buf.p;
         san = san->next) {
        const mbedtls_x509_buf *b = &san->buf;
        const char *kind = NULL;
        char value[1100];
        switch (b->tag) {
        case MBEDTLS_ASN1_CONTEXT_SPECIFIC | 1:
            kind = "RFC822Name";
            break;
        case MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2:
            kind = "DNSName";
            break;
        case MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6:
            kind = "UniformResourceIdentifier";
            break;
        case MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7:
            kind = "IPAddress";
            break;
        default:
            continue;
        }
        if (b->tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)) {
            if ((b->len != 4 && b->len != 16) ||
                !inet_ntop(b->len == 4 ? AF_INET : AF_INET6, b->p, value, sizeof value))
                continue;
        } else {
            if (b->len >= sizeof value || memchr(b->p, '\0', b->len)) continue;
            memcpy(value, b->p, b->len);
            value[b->len] = '\0';
        }
        char field[64];
        snprintf(field, sizeof field, "Subject.AlternativeName.%s", kind);
        fn(ctx, field, value);
    }
    char serial[128];
    if (mbedtls_x509_serial_gets(serial, sizeof serial, &crt.serial) > 0) {
        /* mbedTLS writes "0A:1B:..."; AWS shows the serial as one hex string. */
        size_t w = 0;
        for (size_t r = 0; serial[r]; r++)
            if (serial[r] != ':') serial[w++] = serial[r];
        serial[w] = '\0';
        fn(ctx, "SerialNumber", serial);
    }
    mbedtls_x509_crt_free(&crt);
    return 0;
}
