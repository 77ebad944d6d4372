/*
 * tls_engine.h - TLS 1.2 over memory buffers, with mbedTLS.
 *
 * The engine never touches a socket: the connection feeds it ciphertext
 * as it arrives, takes plaintext out, gives it plaintext to encrypt, and
 * sends whatever ciphertext the engine has queued. So the same connection
 * code serves plain TCP and TLS, handshakes never block the loop, and the
 * engine is tested by pumping bytes between a server and a client in
 * memory.
 *
 * Client certificates are requested but not verified here: the broker
 * decides after the handshake, from the registry (a certificate may be
 * registered without a CA, which no trust store can express).
 * One thread per engine object.
 */
#ifndef UMBRA_TLS_ENGINE_H
#define UMBRA_TLS_ENGINE_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_context;
struct tls_conn;

struct tls_options {
    bool is_server;
    const char *cert_file; /* PEM chain: own certificate first (client: optional) */
    const char *key_file;  /* PEM private key, with cert_file */
    const char *ca_file;   /* PEM: a server lists it in CertificateRequest and verifies client
                              chains with it (optional); a client verifies the server */
    const char *server_name; /* client: SNI and name to verify (NULL: none) */
    const char *const *alpn; /* NULL-terminated protocol list, or NULL */
};

/*
 * Load keys and certificates and set up TLS 1.2 with ECDHE and AEAD
 * suites. Returns 0, or UMBRA_EINVAL / UMBRA_EIO / UMBRA_ENOMEM with a
 * message in err. The caller releases it with tls_context_free(); every
 * connection made from it holds a reference too, so a context replaced
 * (new server certificate) lives on until its last connection is freed.
 */
int tls_context_new(struct tls_context **out, const struct tls_options *opt, char *err,
                    size_t errlen);
void tls_context_free(struct tls_context *ctx);

/* A connection in the handshake state. NULL on allocation failure. */
struct tls_conn *tls_conn_new(struct tls_context *ctx);
void tls_conn_free(struct tls_conn *c);

/* Ciphertext received from the peer (copied). Returns 0 or UMBRA_ENOMEM. */
int tls_conn_feed(struct tls_conn *c, const uint8_t *data, size_t len);

/*
 * Make progress: finish the handshake if needed, then decrypt into
 * out[0..cap). Returns the number of plaintext bytes (0 when more
 * ciphertext is needed), or a negative UMBRA_E* when the connection must
 * close (err gets mbedTLS's reason). Call until it returns 0.
 */
int tls_conn_read(struct tls_conn *c, uint8_t *out, size_t cap, char *err, size_t errlen);

/* Encrypt plaintext into the outgoing buffer. Returns 0 or a negative error. */
int tls_conn_write(struct tls_conn *c, const uint8_t *data, size_t len);

/* Ciphertext to send: borrowed; the caller consumes from it (buf_consume). */
struct buf *tls_conn_outgoing(struct tls_conn *c);

bool tls_conn_is_established(const struct tls_conn *c);

/* Give back the ciphertext buffers while they are empty (an idle
 * connection); they grow again on the next record. */
void tls_conn_trim(struct tls_conn *c);

/* After the handshake: the peer's certificate DER (NULL if it sent none). */
const uint8_t *tls_conn_peer_der(const struct tls_conn *c, size_t *len);
/* Negotiated ALPN protocol or NULL; SNI the client sent or NULL (server). */
const char *tls_conn_alpn(const struct tls_conn *c);
const char *tls_conn_sni(const struct tls_conn *c);

#endif
