/* test_shadow_topic.c - which topics are shadow requests, and what they name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shadow/shadow_topic.h"

#include <stdio.h>
#include <string.h>

static void expect(const char *topic, const char *thing, const char *name, enum shadow_op op,
                   const char *prefix)
{
    struct shadow_topic t;
    if (!shadow_topic_parse(topic, strlen(topic), &t)) fail_msg("'%s' should parse", topic);
    assert_int_equal(t.thing_len, strlen(thing));
    assert_memory_equal(t.thing, thing, t.thing_len);
    if (name) {
        assert_non_null(t.name);
        assert_int_equal(t.name_len, strlen(name));
        assert_memory_equal(t.name, name, t.name_len);
    } else {
        assert_null(t.name);
    }
    assert_int_equal(t.op, op);
    assert_int_equal(t.prefix_len, strlen(prefix));
    assert_memory_equal(topic, prefix, t.prefix_len);
}

static void test_requests(void **state)
{
    (void)state;
    expect("$aws/things/IoT-motion-sensor/shadow/update", "IoT-motion-sensor", NULL, SHADOW_UPDATE,
           "$aws/things/IoT-motion-sensor/shadow");
    expect("$aws/things/t/shadow/get", "t", NULL, SHADOW_GET, "$aws/things/t/shadow");
    expect("$aws/things/a:b_c-d/shadow/delete", "a:b_c-d", NULL, SHADOW_DELETE,
           "$aws/things/a:b_c-d/shadow");
    expect("$aws/things/lamp/shadow/name/config/update", "lamp", "config", SHADOW_UPDATE,
           "$aws/things/lamp/shadow/name/config");
    expect("$aws/things/lamp/shadow/name/$package/get", "lamp", "$package", SHADOW_GET,
           "$aws/things/lamp/shadow/name/$package");
    /* "name" as a thing name and as an op position are not confused. */
    expect("$aws/things/name/shadow/name/name/delete", "name", "name", SHADOW_DELETE,
           "$aws/things/name/shadow/name/name");
}

static void test_not_requests(void **state)
{
    (void)state;
    static const char *const no[] = {
        "$aws/things/t/shadow/update/accepted",
        "$aws/things/t/shadow/update/delta",
        "$aws/things/t/shadow/get/rejected",
        "$aws/things/t/shadow/name/s/update/documents",
        "$aws/things/t/shadow",
        "$aws/things/t/shadow/",
        "$aws/things/t/shadow/upsert",
        "$aws/things/t/shadow/name/update",
        "$aws/things/t/shadow/name//update",
        "$aws/things//shadow/update",
        "$aws/things/t t/shadow/update",
        "$aws/things/t+/shadow/update",
        "$aws/things/#/shadow/update",
        "$aws/things/t/shadow/name/s s/update",
        "$aws/things/$t/shadow/update",
        "$aws/things/t/shadows/update",
        "$aws/things/t/shadow/update/",
        "aws/things/t/shadow/update",
        "things/t/shadow/update",
        "",
    };
    struct shadow_topic t;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (shadow_topic_parse(no[i], strlen(no[i]), &t)) fail_msg("'%s' should not parse", no[i]);
    /* Length limits: a 128-character thing name parses, 129 does not; 64 and 65 for shadows. */
    char topic[512];
    for (int n = 128; n <= 129; n++) {
        int len = snprintf(topic, sizeof topic, "$aws/things/%0*d/shadow/get", n, 0);
        assert_int_equal(shadow_topic_parse(topic, (size_t)len, &t), n == 128);
    }
    for (int n = 64; n <= 65; n++) {
        int len = snprintf(topic, sizeof topic, "$aws/things/t/shadow/name/%0*d/get", n, 0);
        assert_int_equal(shadow_topic_parse(topic, (size_t)len, &t), n == 64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_not_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
