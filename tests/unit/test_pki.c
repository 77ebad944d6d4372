/* test_pki.c - Umbra's own PKI, checked by openssl: the CA, a server certificate with
 * subjectAltNames, device keys, and a data directory initialised once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cert.h"
#include "error.h"
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/umbra-pki-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int sh(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg);
    return system(cmd);
}

static void test_data_dir_pki_verifies_with_openssl(void **state)
{
    (void)state;
    const char *hosts[] = {"localhost", "broker.example", "127.0.0.1", "::1", NULL};
    bool created = false;
    char err[256];
    assert_int_equal(pki_init_data_dir(dir, hosts, &created, err, sizeof err), 0);
    assert_true(created);
    /* The chain verifies, for TLS server use. */
    assert_int_equal(sh("openssl verify -purpose sslserver -CAfile %s/ca.pem %s/server.pem"
                        " >/dev/null",
                        dir),
                     0);
    /* subjectAltName carries every name and address. */
    assert_int_equal(sh("openssl x509 -in %s/server.pem -noout -ext subjectAltName | tr -d ' \\n'"
                        " | grep -q 'DNS:localhost,DNS:broker.example,IPAddress:127.0.0.1,"
                        "IPAddress:0:0:0:0:0:0:0:1'",
                        dir),
                     0);
    assert_int_equal(sh("openssl x509 -in %s/ca.pem -noout -ext basicConstraints | grep -q "
                        "'CA:TRUE'",
                        dir),
                     0);
    char key[128];
    snprintf(key, sizeof key, "%s/ca.key", dir);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A second start keeps what is there. */
    char before[128];
    snprintf(before, sizeof before, "%s/server.pem", dir);
    struct stat st1, st2;
    stat(before, &st1);
    assert_int_equal(pki_init_data_dir(dir, hosts, &created, err, sizeof err), 0);
    assert_false(created);
    stat(before, &st2);
    assert_int_equal(st1.st_ino, st2.st_ino);
}

static void test_device_certificate_from_generated_keys(void **state)
{
    (void)state;
    char err[256];
    char *ca_key, *ca, *dev_key, *dev, *pub;
    assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &ca_key, err, sizeof err), 0);
    struct pki_request ca_req = {.subject = "CN=Test CA", .is_ca = true, .days = 10};
    assert_int_equal(pki_issue(&ca_req, ca_key, NULL, ca_key, &ca, err, sizeof err), 0);
    assert_int_equal(pki_generate_key(PKI_KEY_RSA2048, &dev_key, err, sizeof err), 0);
    assert_non_null(strstr(dev_key, "BEGIN RSA PRIVATE KEY"));
    struct pki_request dev_req = {.subject = "CN=AWS IoT Certificate", .days = 365};
    assert_int_equal(pki_issue(&dev_req, dev_key, ca, ca_key, &dev, err, sizeof err), 0);
    assert_int_equal(cert_verify_issuer((const uint8_t *)dev, strlen(dev) + 1, (const uint8_t *)ca,
                                        strlen(ca) + 1),
                     0);
    struct cert_info info;
    assert_int_equal(cert_parse((const uint8_t *)dev, strlen(dev) + 1, &info, NULL, 0), 0);
    assert_false(info.is_ca);
    assert_true(info.not_after - info.not_before >= 365 * 86400);
    assert_int_equal(pki_public_key(dev_key, &pub, err, sizeof err), 0);
    assert_non_null(strstr(pub, "BEGIN PUBLIC KEY"));
    free(ca_key);
    free(ca);
    free(dev_key);
    free(dev);
    free(pub);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char err[256] = "";
    char *out = NULL;
    struct pki_request req = {.subject = "CN=x", .days = 1};
    assert_int_not_equal(pki_issue(&req, "not a key", NULL, "not a key", &out, err, sizeof err), 0);
    assert_null(out);
    assert_true(strlen(err) > 0);
    char *key;
    assert_int_equal(pki_generate_key(PKI_KEY_EC_P256, &key, err, sizeof err), 0);
    const char *bad_ip[] = {"999.1.1.1", NULL};
    struct pki_request req2 = {.subject = "CN=x", .ips = bad_ip, .days = 1};
    assert_int_not_equal(pki_issue(&req2, key, NULL, key, &out, err, sizeof err), 0);
    free(key);
    bool created;
    assert_int_not_equal(pki_init_data_dir("/nonexistent/dir", NULL, &created, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_dir_pki_verifies_with_openssl),
        cmocka_unit_test(test_device_certificate_from_generated_keys),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests_name("pki", tests, setup, teardown);
}
