/* test_cert.c - certificate ids as AWS computes them, checked against openssl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cert.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void run(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, arg);
    assert_int_equal(system(cmd), 0);
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/umbra-cert-XXXXXX");
    assert_non_null(mkdtemp(dir));
    run("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30"
        " -subj '/CN=Umbra Test CA' -addext basicConstraints=critical,CA:TRUE 2>/dev/null"
        " && openssl x509 -in ca.pem -outform der -out ca.der"
        " && openssl x509 -in ca.pem -outform der | sha256sum | cut -c1-64 > ca.id"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key"
        " -out dev.csr -subj '/CN=device-1' 2>/dev/null"
        " && openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out dev.pem"
        " -days 2 2>/dev/null && openssl x509 -in dev.pem -outform der | sha256sum | cut -c1-64 >"
        " dev.id"
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key"
        " -out srv.pem -days 2 -subj /CN=srv -addext"
        " subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:broker.example.test,DNS:b2 2>/dev/null",
        dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    run("rm -rf %s", dir);
    return 0;
}

static void path(char *out, const char *name)
{
    snprintf(out, 128, "%s/%s", dir, name);
}

static void test_id_matches_openssl_sha256_of_der(void **state)
{
    (void)state;
    uint8_t pem[8192], want[128];
    char p[128];
    path(p, "dev.pem");
    size_t n = slurp(p, pem, sizeof pem);
    path(p, "dev.id");
    slurp(p, want, sizeof want);
    struct cert_info info;
    char err[128];
    assert_int_equal(cert_parse(pem, n + 1, &info, err, sizeof err), 0);
    assert_memory_equal(info.id, want, 64);
    assert_false(info.is_ca);
    assert_non_null(strstr(info.subject, "device-1"));
    assert_non_null(strstr(info.issuer, "Umbra Test CA"));
    /* Two days of validity, starting about now. */
    int64_t span = info.not_after - info.not_before;
    assert_true(span >= 2 * 86400 - 5 && span <= 2 * 86400 + 5);
}

static void test_der_input_and_ca_flag(void **state)
{
    (void)state;
    uint8_t der[8192], want[128];
    char p[128];
    path(p, "ca.der");
    size_t n = slurp(p, der, sizeof der);
    path(p, "ca.id");
    slurp(p, want, sizeof want);
    struct cert_info info;
    assert_int_equal(cert_parse(der, n, &info, NULL, 0), 0);
    assert_memory_equal(info.id, want, 64);
    assert_true(info.is_ca);
    char raw_id[65];
    cert_id_from_der(der, n, raw_id);
    assert_string_equal(raw_id, info.id);
}

static void test_garbage_is_refused(void **state)
{
    (void)state;
    struct cert_info info;
    char err[128] = "";
    const char *junk[] = {"", "hello",
                          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"};
    for (size_t i = 0; i < 3; i++) {
        err[0] = '\0';
        assert_int_equal(
            cert_parse((const uint8_t *)junk[i], strlen(junk[i]) + 1, &info, err, sizeof err),
            UMBRA_EINVAL);
        assert_true(strlen(err) > 0);
    }
    uint8_t bytes[64];
    memset(bytes, 0x30, sizeof bytes);
    assert_int_equal(cert_parse(bytes, sizeof bytes, &info, NULL, 0), UMBRA_EINVAL);
}

static void test_dns_names_and_endpoint(void **state)
{
    (void)state;
    char p[128];
    static uint8_t pem[16384];
    struct cert_info info;
    char endpoint[64];
    path(p, "srv.pem");
    size_t n = slurp(p, pem, sizeof pem);
    assert_int_equal(cert_parse(pem, n + 1, &info, NULL, 0), 0);
    /* Only dNSName entries, in order; the IP address is not a name. */
    assert_string_equal(info.dns_names, "localhost,broker.example.test,b2");
    cert_endpoint_name(&info, endpoint, sizeof endpoint);
    assert_string_equal(endpoint, "broker.example.test");
    /* Without any other name, localhost. */
    path(p, "dev.pem");
    n = slurp(p, pem, sizeof pem);
    assert_int_equal(cert_parse(pem, n + 1, &info, NULL, 0), 0);
    assert_string_equal(info.dns_names, "");
    cert_endpoint_name(&info, endpoint, sizeof endpoint);
    assert_string_equal(endpoint, "localhost");
}

static void test_arn(void **state)
{
    (void)state;
    char arn[200];
    cert_arn(arn, sizeof arn, "us-east-1", "123456789012", "ab12");
    assert_string_equal(arn, "arn:aws:iot:us-east-1:123456789012:cert/ab12");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_matches_openssl_sha256_of_der),
        cmocka_unit_test(test_der_input_and_ca_flag),
        cmocka_unit_test(test_garbage_is_refused),
        cmocka_unit_test(test_dns_names_and_endpoint),
        cmocka_unit_test(test_arn),
    };
    return cmocka_run_group_tests_name("cert", tests, setup, teardown);
}
