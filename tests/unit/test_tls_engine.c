/* test_tls_engine.c - TLS over memory buffers: a server and a client engine pumping bytes to
 * each other, with and without client certificates, ALPN and SNI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cert.h"
#include "error.h"
#include "tls_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static char p_ca[128], p_srv[128], p_srv_key[128], p_dev[128], p_dev_key[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/umbra-tls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
             " -keyout ca.key -out ca.pem -days 3 -subj /CN=TestCA"
             " -addext basicConstraints=critical,CA:TRUE 2>/dev/null"
             " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key"
             " -out srv.csr -subj /CN=localhost 2>/dev/null"
             " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > srv.ext"
             " && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
             " -extfile srv.ext -out srv.pem -days 3 2>/dev/null"
             " && openssl req -newkey rsa:2048 -nodes -keyout dev.key -out dev.csr -subj /CN=dev"
             " 2>/dev/null && openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key"
             " -CAcreateserial -out dev.pem -days 3 2>/dev/null",
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p_ca, sizeof p_ca, "%s/ca.pem", dir);
    snprintf(p_srv, sizeof p_srv, "%s/srv.pem", dir);
    snprintf(p_srv_key, sizeof p_srv_key, "%s/srv.key", dir);
    snprintf(p_dev, sizeof p_dev, "%s/dev.pem", dir);
    snprintf(p_dev_key, sizeof p_dev_key, "%s/dev.key", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* Move ciphertext both ways until neither side has anything to say. */
static int pump(struct tls_conn *a, struct tls_conn *b, uint8_t *got_a, size_t *na, uint8_t *got_b,
                size_t *nb)
{
    for (int round = 0; round < 50; round++) {
        bool moved = false;
        struct tls_conn *pair[2][2] = {{a, b}, {b, a}};
        for (int i = 0; i < 2; i++) {
            struct buf *o = tls_conn_outgoing(pair[i][0]);
            if (o->len) {
                assert_int_equal(tls_conn_feed(pair[i][1], o->data, o->len), 0);
                buf_consume(o, o->len);
                moved = true;
            }
        }
        char err[200];
        int r = tls_conn_read(a, got_a + *na, 4096, err, sizeof err);
        if (r < 0) return r;
        *na += (size_t)r;
        r = tls_conn_read(b, got_b + *nb, 4096, err, sizeof err);
        if (r < 0) return r;
        *nb += (size_t)r;
        if (!moved && tls_conn_is_established(a) && tls_conn_is_established(b)) return 0;
    }
    return 0;
}

static void test_mutual_tls_handshake_and_data(void **state)
{
    (void)state;
    const char *alpn_srv[] = {"x-amzn-mqtt-ca", "mqtt", NULL};
    const char *alpn_cli[] = {"x-amzn-mqtt-ca", NULL};
    struct tls_options so = {.is_server = true,
                             .cert_file = p_srv,
                             .key_file = p_srv_key,
                             .ca_file = p_ca,
                             .alpn = alpn_srv};
    struct tls_options co = {.cert_file = p_dev,
                             .key_file = p_dev_key,
                             .ca_file = p_ca,
                             .server_name = "localhost",
                             .alpn = alpn_cli};
    struct tls_context *sctx, *cctx;
    char err[256];
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    assert_int_equal(tls_context_new(&cctx, &co, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx), *c = tls_conn_new(cctx);
    uint8_t got_s[8192], got_c[8192];
    size_t ns = 0, nc = 0;
    tls_conn_read(c, got_c, sizeof got_c, err, sizeof err); /* client speaks first */
    assert_int_equal(pump(s, c, got_s, &ns, got_c, &nc), 0);
    assert_true(tls_conn_is_established(s));
    assert_true(tls_conn_is_established(c));
    assert_string_equal(tls_conn_alpn(s), "x-amzn-mqtt-ca");
    assert_string_equal(tls_conn_sni(s), "localhost");

    /* The server sees the device certificate: its id is the registry key. */
    size_t der_len = 0;
    const uint8_t *der = tls_conn_peer_der(s, &der_len);
    assert_non_null(der);
    char id[65];
    cert_id_from_der(der, der_len, id);
    FILE *f = fopen(p_dev, "rb");
    uint8_t pem[8192];
    size_t n = fread(pem, 1, sizeof pem - 1, f);
    fclose(f);
    pem[n] = 0;
    struct cert_info info;
    assert_int_equal(cert_parse(pem, n + 1, &info, NULL, 0), 0);
    assert_string_equal(id, info.id);

    /* Application data both ways, larger than one TLS record. */
    static uint8_t big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(tls_conn_write(c, (const uint8_t *)"CONNECT", 7), 0);
    assert_int_equal(tls_conn_write(s, big, sizeof big), 0);
    ns = nc = 0;
    static uint8_t got_big[65536];
    size_t nbig = 0;
    for (int i = 0; i < 20 && (ns < 7 || nbig < sizeof big); i++) {
        struct buf *o = tls_conn_outgoing(c);
        tls_conn_feed(s, o->data, o->len);
        buf_consume(o, o->len);
        o = tls_conn_outgoing(s);
        tls_conn_feed(c, o->data, o->len);
        buf_consume(o, o->len);
        int r;
        while ((r = tls_conn_read(s, got_s + ns, sizeof got_s - ns, err, sizeof err)) > 0)
            ns += (size_t)r;
        while ((r = tls_conn_read(c, got_big + nbig, sizeof got_big - nbig, err, sizeof err)) > 0)
            nbig += (size_t)r;
    }
    assert_int_equal(ns, 7);
    assert_memory_equal(got_s, "CONNECT", 7);
    assert_int_equal(nbig, sizeof big);
    assert_memory_equal(got_big, big, sizeof big);

    tls_conn_free(s);
    tls_conn_free(c);
    tls_context_free(sctx);
    tls_context_free(cctx);
}

static void test_client_without_certificate_is_visible_after_handshake(void **state)
{
    (void)state;
    struct tls_options so = {
        .is_server = true, .cert_file = p_srv, .key_file = p_srv_key, .ca_file = p_ca};
    struct tls_options co = {.ca_file = p_ca, .server_name = "localhost"};
    struct tls_context *sctx, *cctx;
    char err[256];
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    assert_int_equal(tls_context_new(&cctx, &co, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx), *c = tls_conn_new(cctx);
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    tls_conn_read(c, b, sizeof b, err, sizeof err);
    assert_int_equal(pump(s, c, a, &na, b, &nb), 0);
    assert_true(tls_conn_is_established(s));
    size_t len;
    assert_null(tls_conn_peer_der(s, &len)); /* the broker refuses this one */
    tls_conn_free(s);
    tls_conn_free(c);
    tls_context_free(sctx);
    tls_context_free(cctx);
}

static void test_client_rejects_wrong_server_name(void **state)
{
    (void)state;
    struct tls_options so = {.is_server = true, .cert_file = p_srv, .key_file = p_srv_key};
    struct tls_options co = {.ca_file = p_ca, .server_name = "not-this-host"};
    struct tls_context *sctx, *cctx;
    char err[256];
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    assert_int_equal(tls_context_new(&cctx, &co, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx), *c = tls_conn_new(cctx);
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    tls_conn_read(c, b, sizeof b, err, sizeof err);
    assert_true(pump(s, c, a, &na, b, &nb) < 0);
    tls_conn_free(s);
    tls_conn_free(c);
    tls_context_free(sctx);
    tls_context_free(cctx);
}

static void test_garbage_ciphertext_fails_cleanly(void **state)
{
    (void)state;
    struct tls_options so = {.is_server = true, .cert_file = p_srv, .key_file = p_srv_key};
    struct tls_context *sctx;
    char err[256] = "";
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(tls_conn_feed(s, (const uint8_t *)junk, sizeof junk - 1), 0);
    uint8_t out[256];
    assert_true(tls_conn_read(s, out, sizeof out, err, sizeof err) < 0);
    assert_true(strlen(err) > 0);
    tls_conn_free(s);
    tls_context_free(sctx);
}

/* A context replaced on reload is released by its owner while its
 * connections live on: they finish their handshake and talk on it. */
static void test_released_context_lives_while_its_connections_do(void **state)
{
    (void)state;
    struct tls_options so = {.is_server = true, .cert_file = p_srv, .key_file = p_srv_key};
    struct tls_options co = {.ca_file = p_ca, .server_name = "localhost"};
    struct tls_context *sctx, *cctx;
    char err[256];
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    assert_int_equal(tls_context_new(&cctx, &co, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx), *c = tls_conn_new(cctx);
    tls_context_free(sctx); /* the owner lets go first */
    tls_context_free(cctx);
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    tls_conn_read(c, b, sizeof b, err, sizeof err);
    assert_int_equal(pump(s, c, a, &na, b, &nb), 0);
    assert_true(tls_conn_is_established(s));
    assert_int_equal(tls_conn_write(c, (const uint8_t *)"ping", 4), 0);
    na = nb = 0;
    assert_int_equal(pump(s, c, a, &na, b, &nb), 0);
    assert_int_equal(na, 4);
    assert_memory_equal(a, "ping", 4);
    tls_conn_free(s); /* the last reference frees the context (ASan checks) */
    tls_conn_free(c);
}

/* A ClientHello whose server name holds a control byte is refused: the
 * name would be written to the log. */
static void test_server_name_with_control_bytes_refused(void **state)
{
    (void)state;
    struct tls_options so = {.is_server = true, .cert_file = p_srv, .key_file = p_srv_key};
    struct tls_options co = {.server_name = "evil\nhost"};
    struct tls_context *sctx, *cctx;
    char err[256];
    assert_int_equal(tls_context_new(&sctx, &so, err, sizeof err), 0);
    assert_int_equal(tls_context_new(&cctx, &co, err, sizeof err), 0);
    struct tls_conn *s = tls_conn_new(sctx), *c = tls_conn_new(cctx);
    uint8_t a[4096], b[4096];
    size_t na = 0, nb = 0;
    tls_conn_read(c, b, sizeof b, err, sizeof err);
    assert_true(pump(s, c, a, &na, b, &nb) < 0);
    assert_false(tls_conn_is_established(s));
    tls_conn_free(s);
    tls_conn_free(c);
    tls_context_free(sctx);
    tls_context_free(cctx);
}

static void test_bad_files_are_reported(void **state)
{
    (void)state;
    struct tls_context *ctx = NULL;
    char err[256] = "";
    struct tls_options o = {
        .is_server = true, .cert_file = "/nonexistent.pem", .key_file = p_srv_key};
    assert_int_equal(tls_context_new(&ctx, &o, err, sizeof err), UMBRA_EINVAL);
    assert_non_null(strstr(err, "/nonexistent.pem"));
    o.cert_file = p_srv;
    o.key_file = p_dev_key; /* a key that does not match the certificate */
    assert_int_not_equal(tls_context_new(&ctx, &o, err, sizeof err), 0);
    struct tls_options none = {.is_server = true};
    assert_int_equal(tls_context_new(&ctx, &none, err, sizeof err), UMBRA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_tls_handshake_and_data),
        cmocka_unit_test(test_released_context_lives_while_its_connections_do),
        cmocka_unit_test(test_server_name_with_control_bytes_refused),
        cmocka_unit_test(test_client_without_certificate_is_visible_after_handshake),
        cmocka_unit_test(test_client_rejects_wrong_server_name),
        cmocka_unit_test(test_garbage_ciphertext_fails_cleanly),
        cmocka_unit_test(test_bad_files_are_reported),
    };
    return cmocka_run_group_tests_name("tls_engine", tests, setup, teardown);
}
