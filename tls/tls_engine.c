/*
 * tls_engine.c - mbedTLS driven through memory "BIOs".
 *
 * mbedTLS calls bio_recv when it wants ciphertext and bio_send when it has
 * some; here they read from the connection's `in` buffer (WANT_READ when
 * it is empty) and append to its `out` buffer (never blocking). The
 * context holds what every connection shares: configuration, certificate
 * chain, key, and the random generator.
 */
#include "tls_engine.h"

#include "error.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALPN 8

struct tls_context {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt own_cert;
    mbedtls_x509_crt ca;
    mbedtls_pk_context key;
    unsigned refs; /* the owner's, plus one per connection made from it */
    bool is_server;
    char *server_name;
    char *alpn_copy[MAX_ALPN + 1];
    const char *alpn[MAX_ALPN + 1];
};

struct tls_conn {
    mbedtls_ssl_context ssl; /* first: the SNI callback finds the conn from it */
    struct tls_context *ctx;
    struct buf in; /* ciphertext not yet consumed by mbedTLS */
    size_t in_off;
    struct buf out; /* ciphertext to send */
    bool is_established;
    char sni[256];
};

/* Modern suites only: forward secrecy and AEAD, as AWS's TLS 1.2 policy. */
static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/* Key exchange: the fast curves first. mbedTLS picks by the server's order,
 * and its default list starts with secp521r1, several times the cost of
 * x25519 or P-256 per handshake. The larger curves stay acceptable. */
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE,
};

static void describe(int rc, const char *what, char *err, size_t errlen)
{
    if (!err) return;
    char why[160];
    mbedtls_strerror(rc, why, sizeof why);
    snprintf(err, errlen, "%s: %s", what, why);
}

static int bio_send(void *p, const unsigned char *data, size_t len)
{
    struct tls_conn *c = p;
    if (buf_append(&c->out, data, len)) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return (int)len;
}

static int bio_recv(void *p, unsigned char *data, size_t len)
{
    struct tls_conn *c = p;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    if (len > avail) len = avail;
    memcpy(data, c->in.data + c->in_off, len);
    c->in_off += len;
    if (c->in_off == c->in.len) {
        c->in.len = 0;
        c->in_off = 0;
    }
    return (int)len;
}

static int on_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    (void)p;
    struct tls_conn *c = (struct tls_conn *)ssl;
    if (len >= sizeof c->sni) return -1;
    /* A host name is printable ASCII; anything else would end up in logs. */
    for (size_t i = 0; i < len; i++)
        if (name[i] <= 0x20 || name[i] >= 0x7f) return -1;
    memcpy(c->sni, name, len);
    c->sni[len] = '\0';
    return 0; /* one certificate for every name the client asks for */
}

static int load_credentials(struct tls_context *t, const struct tls_options *o, char *err,
                            size_t errlen)
{
    int rc;
    if (o->cert_file) {
        if ((rc = mbedtls_x509_crt_parse_file(&t->own_cert, o->cert_file)) != 0) {
            describe(rc, o->cert_file, err, errlen);
            return UMBRA_EINVAL;
        }
        if ((rc = mbedtls_pk_parse_keyfile(&t->key, o->key_file ? o->key_file : "", NULL)) != 0) {
            describe(rc, o->key_file ? o->key_file : "key file", err, errlen);
            return UMBRA_EINVAL;
        }
        if (mbedtls_pk_check_pair(&t->own_cert.pk, &t->key) != 0) {
            snprintf(err, errlen, "%s does not hold the key of %s",
                     o->key_file ? o->key_file : "the key file", o->cert_file);
            return UMBRA_EINVAL;
        }
        if ((rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->own_cert, &t->key)) != 0) {
            describe(rc, "certificate and key", err, errlen);
            return UMBRA_EINVAL;
        }
    } else if (o->is_server) {
        snprintf(err, errlen, "a server needs a certificate and a key");
        return UMBRA_EINVAL;
    }
    if (o->ca_file) {
        if ((rc = mbedtls_x509_crt_parse_file(&t->ca, o->ca_file)) != 0) {
            describe(rc, o->ca_file, err, errlen);
            return UMBRA_EINVAL;
        }
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    }
    return 0;
}

static int copy_alpn(struct tls_context *t, const char *const *alpn)
{
    int n = 0;
    for (; alpn && alpn[n] && n < MAX_ALPN; n++) {
        t->alpn_copy[n] = strdup(alpn[n]);
        if (!t->alpn_copy[n]) return UMBRA_ENOMEM;
        t->alpn[n] = t->alpn_copy[n];
    }
    t->alpn[n] = NULL;
    if (n) mbedtls_ssl_conf_alpn_protocols(&t->conf, t->alpn);
    return 0;
}

int tls_context_new(struct tls_context **out, const struct tls_options *o, char *err, size_t errlen)
{
    struct tls_context *t = calloc(1, sizeof *t);
    if (!t) return UMBRA_ENOMEM;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->own_cert);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_pk_init(&t->key);
    t->refs = 1;
    t->is_server = o->is_server;
    int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                   (const unsigned char *)"umbra", 5);
    if (rc) {
        describe(rc, "random generator", err, errlen);
        tls_context_free(t);
        return UMBRA_EIO;
    }
    rc = mbedtls_ssl_config_defaults(&t->conf,
                                     o->is_server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                     MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc) {
        describe(rc, "TLS configuration", err, errlen);
        tls_context_free(t);
        return UMBRA_EINVAL;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&t->conf, suites);
    if (o->is_server) {
        /* Ask for a certificate; the registry decides after the handshake. */
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
        mbedtls_ssl_conf_sni(&t->conf, on_sni, NULL);
        mbedtls_ssl_conf_curves(&t->conf, curves);
    } else {
        mbedtls_ssl_conf_authmode(&t->conf, o->ca_file ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                       : MBEDTLS_SSL_VERIFY_NONE);
        if (o->server_name && !(t->server_name = strdup(o->server_name))) rc = UMBRA_ENOMEM;
    }
    if (!rc) rc = load_credentials(t, o, err, errlen);
    if (!rc) rc = copy_alpn(t, o->alpn);
    if (rc) {
        if (rc == UMBRA_ENOMEM && err) snprintf(err, errlen, "out of memory");
        tls_context_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void tls_context_free(struct tls_context *t)
{
    if (!t || --t->refs > 0) return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    mbedtls_x509_crt_free(&t->own_cert);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_pk_free(&t->key);
    for (int i = 0; t->alpn_copy[i]; i++)
        free(t->alpn_copy[i]);
    free(t->server_name);
    free(t);
}

struct tls_conn *tls_conn_new(struct tls_context *ctx)
{
    struct tls_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ctx = ctx;
    ctx->refs++;
    mbedtls_ssl_init(&c->ssl);
    if (mbedtls_ssl_setup(&c->ssl, &ctx->conf) ||
        (ctx->server_name && mbedtls_ssl_set_hostname(&c->ssl, ctx->server_name))) {
        tls_conn_free(c);
        return NULL;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    return c;
}

void tls_conn_free(struct tls_conn *c)
{
    if (!c) return;
    mbedtls_ssl_free(&c->ssl);
    buf_free(&c->in);
    buf_free(&c->out);
    tls_context_free(c->ctx);
    free(c);
}

int tls_conn_feed(struct tls_conn *c, const uint8_t *data, size_t len)
{
    if (c->in_off && c->in_off == c->in.len) c->in.len = c->in_off = 0;
    return buf_append(&c->in, data, len);
}

static bool is_retry(int rc)
{
    return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE;
}

int tls_conn_read(struct tls_conn *c, uint8_t *out, size_t cap, char *err, size_t errlen)
{
    if (!c->is_established) {
        int rc = mbedtls_ssl_handshake(&c->ssl);
        if (is_retry(rc)) return 0;
        if (rc) {
            describe(rc, "TLS handshake failed", err, errlen);
            return UMBRA_EPROTOCOL;
        }
        c->is_established = true;
    }
    int n = mbedtls_ssl_read(&c->ssl, out, cap);
    if (n > 0) return n;
    if (is_retry(n)) return 0;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        if (err) snprintf(err, errlen, "peer closed the TLS session");
        return UMBRA_EIO;
    }
    describe(n, "TLS read failed", err, errlen);
    return UMBRA_EPROTOCOL;
}

int tls_conn_write(struct tls_conn *c, const uint8_t *data, size_t len)
{
    while (len > 0) {
        int n = mbedtls_ssl_write(&c->ssl, data, len);
        if (n < 0) return UMBRA_EIO; /* the memory BIO never blocks a write */
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

struct buf *tls_conn_outgoing(struct tls_conn *c)
{
    return &c->out;
}

void tls_conn_trim(struct tls_conn *c)
{
    if (c->in_off == c->in.len) {
        buf_free(&c->in);
        c->in_off = 0;
    }
    if (c->out.len == 0) buf_free(&c->out);
}

bool tls_conn_is_established(const struct tls_conn *c)
{
    return c->is_established;
}

const uint8_t *tls_conn_peer_der(const struct tls_conn *c, size_t *len)
{
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (!peer) return NULL;
    *len = peer->raw.len;
    return peer->raw.p;
}

const char *tls_conn_alpn(const struct tls_conn *c)
{
    return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

const char *tls_conn_sni(const struct tls_conn *c)
{
    return c->sni[0] ? c->sni : NULL;
}
