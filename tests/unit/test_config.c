/* test_config.c - configuration defaults, flags, JSON files, environment and listener specs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_defaults_are_valid(void **state)
{
    (void)state;
    struct umbra_config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    assert_string_equal(c.data_dir, "./var");
    assert_null(c.mqtt);
    assert_string_equal(c.mqtts, "0.0.0.0:8883"); /* like AWS IoT's device gateway */
    assert_null(c.hosts);                         /* loopback and this machine's name */
    assert_int_equal(c.tls_handshake_timeout, 10);
    assert_int_equal(c.max_packet_size, 131072);
    assert_int_equal(c.max_inflight, 100);
    assert_int_equal(c.sys_interval, 10);
    config_free(&c);
}

static void test_flag_values(void **state)
{
    (void)state;
    struct umbra_config c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_set(&c, "max_inflight", "20", err, sizeof err), 0);
    assert_int_equal(c.max_inflight, 20);
    assert_int_equal(config_set(&c, "max_inflight", "-1", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(config_set(&c, "max_inflight", "12x", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(config_set(&c, "max_inflight", "", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(config_set(&c, "max_inflight", "99999999999999999999999", err, sizeof err),
                     UMBRA_ECONFIG);
    assert_int_equal(config_set(&c, "no_such_key", "1", err, sizeof err), UMBRA_ENOTFOUND);
    assert_non_null(strstr(err, "no_such_key"));
    /* A listener is turned off with "off" (or an empty value). */
    assert_int_equal(config_set(&c, "mqtts", "off", err, sizeof err), 0);
    assert_null(c.mqtts);
    assert_int_equal(config_set(&c, "mqtts", "127.0.0.1:8884", err, sizeof err), 0);
    assert_string_equal(c.mqtts, "127.0.0.1:8884");
    assert_int_equal(config_set(&c, "mqtts", "", err, sizeof err), 0);
    assert_null(c.mqtts);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    /* Certificate and key files come in pairs. */
    assert_int_equal(config_set(&c, "tls_cert", "/etc/umbra/server.pem", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "tls_key"));
    assert_int_equal(config_set(&c, "tls_key", "/etc/umbra/server.key", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "tls_handshake_timeout", "0", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(config_set(&c, "tls_handshake_timeout", "5", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "mqtt_profile", "bogus", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "mqtt_profile"));
    config_free(&c);
}

static int load_text(struct umbra_config *c, const char *text, char *err, size_t errlen)
{
    char path[] = "/tmp/umbra-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    int rc = config_load_file(c, path, err, errlen);
    unlink(path);
    return rc;
}

static void test_json_file(void **state)
{
    (void)state;
    struct umbra_config c;
    char err[256];
    config_init(&c);
    assert_int_equal(load_text(&c, "{\"mqtt\": \"127.0.0.1:1883\", \"max_queued_messages\": 5}",
                               err, sizeof err),
                     0);
    assert_string_equal(c.mqtt, "127.0.0.1:1883");
    assert_int_equal(c.max_queued_messages, 5);
    assert_int_equal(load_text(&c, "{\"mqtt\": 5}", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(load_text(&c, "{\"max_inflight\": -3}", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(load_text(&c, "{\"unknown\": 1}", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(load_text(&c, "[1, 2]", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(load_text(&c, "{\"mqtt\": ", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(load_text(&c, "{\"a\":1,\"a\":2}", err, sizeof err), UMBRA_ECONFIG);
    assert_int_equal(config_load_file(&c, "/nonexistent/umbra.json", err, sizeof err),
                     UMBRA_ECONFIG);
    config_free(&c);
}

/* The variables these tests set; each test starts and ends without them. */
static const char *const env_vars[] = {
    "UMBRA_DATA_DIR",     "UMBRA_MQTTS",     "UMBRA_HTTPS",         "UMBRA_REGION",
    "UMBRA_LOG_LEVEL",    "UMBRA_HOSTNAMES", "UMBRA_HOSTS",         "UMBRA_MAX_INFLIGHT",
    "UMBRA_MQTT_PROFILE", "UMBRA_TLS_CERT",  "UMBRA_NOT_A_SETTING",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    return 0;
}

static void test_environment_between_file_and_flags(void **state)
{
    (void)state;
    struct umbra_config c;
    char err[256];
    config_init(&c);
    assert_int_equal(load_text(&c,
                               "{\"mqtt_profile\": \"aws\", \"max_inflight\": 5, \"region\": "
                               "\"eu-west-1\"}",
                               err, sizeof err),
                     0);
    setenv("UMBRA_DATA_DIR", "/var/lib/umbra", 1);
    setenv("UMBRA_MQTTS", "127.0.0.1:18883", 1);
    setenv("UMBRA_HTTPS", "off", 1);
    setenv("UMBRA_MAX_INFLIGHT", "7", 1);
    setenv("UMBRA_LOG_LEVEL", "debug", 1);
    setenv("UMBRA_HOSTNAMES", "umbra.example.com,192.0.2.10", 1);
    setenv("UMBRA_REGION", "", 1);         /* empty: not set, the file's value stays */
    setenv("UMBRA_NOT_A_SETTING", "1", 1); /* a warning, not an error */
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    assert_string_equal(c.data_dir, "/var/lib/umbra");
    assert_string_equal(c.mqtts, "127.0.0.1:18883");
    assert_null(c.https); /* "off", as with the flag */
    assert_int_equal(c.max_inflight, 7);
    assert_string_equal(c.log_level, "debug");
    assert_string_equal(c.hosts, "umbra.example.com,192.0.2.10");
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.mqtt_profile, "aws"); /* no variable: the file's */
    /* Flags come last. */
    assert_int_equal(config_set(&c, "max_inflight", "9", err, sizeof err), 0);
    assert_int_equal(c.max_inflight, 9);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    config_free(&c);
    clear_env(NULL);
}

static void test_environment_errors_name_the_variable(void **state)
{
    (void)state;
    struct umbra_config c;
    char err[256];
    /* A value that is not a number fails at once. */
    config_init(&c);
    setenv("UMBRA_MAX_INFLIGHT", "lots", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "UMBRA_MAX_INFLIGHT"));
    assert_non_null(strstr(err, "lots"));
    config_free(&c);
    unsetenv("UMBRA_MAX_INFLIGHT");

    /* A value checked with the others names its variable too... */
    config_init(&c);
    setenv("UMBRA_LOG_LEVEL", "loud", 1);
    setenv("UMBRA_MQTTS", "nonsense", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "(from UMBRA_MQTTS)"));
    assert_int_equal(config_set(&c, "mqtts", "127.0.0.1:8883", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "(from UMBRA_LOG_LEVEL)"));
    /* ...unless a flag replaced it: then the variable is not to blame. */
    assert_int_equal(config_set(&c, "log_level", "louder", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_null(strstr(err, "UMBRA_"));
    assert_int_equal(config_set(&c, "log_level", "warn", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    config_free(&c);
    clear_env(NULL);

    /* The documented name of `hosts` and the generic one must agree. */
    config_init(&c);
    setenv("UMBRA_HOSTNAMES", "a.example", 1);
    setenv("UMBRA_HOSTS", "b.example", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "UMBRA_HOSTNAMES"));
    assert_non_null(strstr(err, "UMBRA_HOSTS"));
    setenv("UMBRA_HOSTS", "a.example", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    assert_string_equal(c.hosts, "a.example");
    config_free(&c);
    clear_env(NULL);

    /* A rule between keys names the variable of the key it starts with. */
    config_init(&c);
    setenv("UMBRA_TLS_CERT", "/etc/umbra/server.pem", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), UMBRA_ECONFIG);
    assert_non_null(strstr(err, "tls_key"));
    assert_non_null(strstr(err, "(from UMBRA_TLS_CERT)"));
    config_free(&c);
    clear_env(NULL);
}

static void test_listen_specs(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(config_parse_listen("127.0.0.1:1883", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 1883);
    assert_int_equal(config_parse_listen("[::1]:8883", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 8883);
    assert_int_equal(config_parse_listen(":1883", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(config_parse_listen("1883", host, sizeof host, &port), UMBRA_ECONFIG);
    assert_int_equal(config_parse_listen("h:", host, sizeof host, &port), UMBRA_ECONFIG);
    assert_int_equal(config_parse_listen("h:70000", host, sizeof host, &port), UMBRA_ECONFIG);
    assert_int_equal(config_parse_listen("h:-1", host, sizeof host, &port), UMBRA_ECONFIG);
    assert_int_equal(config_parse_listen("[::1:80", host, sizeof host, &port), UMBRA_ECONFIG);
    assert_int_equal(config_parse_listen("[::1]80", host, sizeof host, &port), UMBRA_ECONFIG);
    char small[4];
    assert_int_equal(config_parse_listen("localhost:1", small, sizeof small, &port), UMBRA_ECONFIG);
}

static void count_change(void *ctx, const char *key)
{
    char *seen = ctx;
    strcat(seen, key);
    strcat(seen, " ");
}

static void test_changes_copies_and_error_keys(void **state)
{
    (void)state;
    struct umbra_config a, b;
    char err[256], seen[256] = "", text[64];
    config_init(&a);
    config_init(&b);
    config_each_change(&a, &b, count_change, seen);
    assert_string_equal(seen, "");
    assert_int_equal(config_set(&b, "max_inflight", "7", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "mqtt", "127.0.0.1:1883", err, sizeof err), 0);
    assert_int_equal(config_set(&b, "tls_cert", "/x.pem", err, sizeof err), 0);
    config_each_change(&a, &b, count_change, seen);
    assert_string_equal(seen, "mqtt tls_cert max_inflight ");
    config_value_text(&a, "mqtt", text, sizeof text);
    assert_string_equal(text, "off");
    config_value_text(&a, "tls_cert", text, sizeof text);
    assert_string_equal(text, "(default)");
    config_value_text(&b, "max_inflight", text, sizeof text);
    assert_string_equal(text, "7");
    /* Copying back what may not change makes the two equal again. */
    assert_int_equal(config_copy_key(&b, &a, "mqtt"), 0);
    assert_int_equal(config_copy_key(&b, &a, "tls_cert"), 0);
    assert_int_equal(config_copy_key(&b, &a, "max_inflight"), 0);
    assert_int_equal(config_copy_key(&b, &a, "nope"), UMBRA_ENOTFOUND);
    seen[0] = '\0';
    config_each_change(&a, &b, count_change, seen);
    assert_string_equal(seen, "");
    assert_null(b.mqtt);

    assert_string_equal(config_error_key("max_inflight: expected 1..65535"), "max_inflight");
    assert_string_equal(config_error_key("/etc/u.json: log_format: must be a string"),
                        "log_format");
    assert_null(config_error_key("/etc/u.json:3: '}' expected"));
    assert_null(config_error_key("/etc/u.json: nokey: unknown key"));
    b.max_inflight = 0;
    assert_int_equal(config_validate(&b, err, sizeof err), UMBRA_ECONFIG);
    assert_string_equal(config_error_key(err), "max_inflight");
    config_free(&a);
    config_free(&b);
}

static void test_printed_config_reads_back(void **state)
{
    (void)state;
    struct umbra_config a, b;
    char err[256], seen[512] = "";
    config_init(&a);
    config_init(&b);
    assert_int_equal(config_set(&a, "mqtt", "[::1]:1883", err, sizeof err), 0);
    assert_int_equal(config_set(&a, "https", "off", err, sizeof err), 0);
    assert_int_equal(config_set(&a, "max_queued_bytes", "12345", err, sizeof err), 0);
    char *text = config_to_json(&a);
    assert_non_null(text);
    /* Every key is there, the unset ones as null. */
    assert_non_null(strstr(text, "\"hosts\": null"));
    assert_non_null(strstr(text, "\"https\": \"off\""));
    assert_non_null(strstr(text, "\"session_expiry\": 0"));
    assert_int_equal(load_text(&b, text, err, sizeof err), 0);
    config_each_change(&a, &b, count_change, seen);
    assert_string_equal(seen, "");
    free(text);
    config_free(&a);
    config_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid),
        cmocka_unit_test(test_flag_values),
        cmocka_unit_test(test_json_file),
        cmocka_unit_test_setup_teardown(test_environment_between_file_and_flags, clear_env,
                                        clear_env),
        cmocka_unit_test_setup_teardown(test_environment_errors_name_the_variable, clear_env,
                                        clear_env),
        cmocka_unit_test(test_listen_specs),
        cmocka_unit_test(test_changes_copies_and_error_keys),
        cmocka_unit_test(test_printed_config_reads_back),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
