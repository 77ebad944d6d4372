/* test_template.c - substitution templates in rule actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect(const char *tmpl, const char *want)
{
    json_t *payload = json_loads("{\"id\":7,\"room\":\"hall\",\"t\":21.5,\"n\":null}", 0, NULL);
    struct sql_message m = {.topic = "sensors/dev1/data", .topic_len = 17, .json = payload,
                            .client_id = "dev1", .timestamp_ms = 1700000000123};
    struct template *t;
    struct sql_error err;
    if (template_compile(tmpl, &t, &err)) fail_msg("%s: %s", tmpl, err.message);
    char *got = template_render(t, &m);
    if (strcmp(got, want)) fail_msg("%s: got '%s', want '%s'", tmpl, got, want);
    free(got);
    template_free(t);
    json_decref(payload);
}

static void test_rendering(void **state)
{
    (void)state;
    expect("plain/topic", "plain/topic");
    expect("", "");
    expect("alerts/${topic(2)}", "alerts/dev1");
    expect("${topic()}", "sensors/dev1/data");
    expect("${timestamp()}", "1700000000123");
    expect("logs/${parse_time(\"yyyy/MM/dd\", timestamp(), \"UTC\")}", "logs/2023/11/14");
    expect("rooms/${room}/${id}/${t}", "rooms/hall/7/21.5");
    expect("${replace(topic(), '/', '-')}", "sensors-dev1-data");
    expect("x${missing}y${n}z", "xyz");
    expect("$$aws/things/${clientid()}/shadow/update", "$aws/things/dev1/shadow/update");
    expect("cost $5", "cost $5");
    expect("${concat('{', room, '}')}", "{hall}");
    expect("${'}'}", "}");
}

static void test_bad_templates(void **state)
{
    (void)state;
    struct template *t;
    struct sql_error err;
    assert_int_not_equal(template_compile("a/${topic(2)", &t, &err), 0);
    assert_int_equal(err.column, 3);
    assert_int_not_equal(template_compile("a/${nosuch()}", &t, &err), 0);
    assert_int_equal(err.column, 5);
    assert_non_null(strstr(err.message, "Unknown function nosuch()"));
    assert_non_null(strstr(err.message, "at 1:5"));
    assert_int_not_equal(template_compile("${}", &t, &err), 0);
    assert_int_not_equal(template_compile("${1 +}", &t, &err), 0);
    assert_int_equal(template_compile("a${topic()}", &t, &err), 0);
    assert_false(template_is_constant(t));
    template_free(t);
    assert_int_equal(template_compile("a$$b", &t, &err), 0);
    assert_true(template_is_constant(t));
    template_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rendering),
        cmocka_unit_test(test_bad_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
