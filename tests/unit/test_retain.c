/* test_retain.c - retained store: set/replace/clear, references, filter matching rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mqtt_topic.h"
#include "retain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int released[16];
static int msgs[16];

static void release(void *m)
{
    released[(int *)m - msgs]++;
}

struct found {
    int n;
    char topics[32][64];
};

static void collect(void *ctx, const char *topic, size_t len, void *m)
{
    struct found *f = ctx;
    (void)m;
    if (f->n < 32) snprintf(f->topics[f->n], sizeof f->topics[0], "%.*s", (int)len, topic);
    f->n++;
}

static bool has(const struct found *f, const char *topic)
{
    for (int i = 0; i < f->n && i < 32; i++)
        if (strcmp(f->topics[i], topic) == 0) return true;
    return false;
}

static struct found match(struct retain_store *rs, const char *filter, bool parent)
{
    struct found f = {0};
    retain_match(rs, filter, strlen(filter), parent, collect, &f);
    return f;
}

static void set(struct retain_store *rs, const char *topic, int i)
{
    assert_int_equal(retain_set(rs, topic, strlen(topic), i < 0 ? NULL : &msgs[i]), 0);
}

static void test_set_replace_clear_release(void **state)
{
    (void)state;
    memset(released, 0, sizeof released);
    struct retain_store *rs = retain_new(release);
    set(rs, "a/b", 0);
    assert_ptr_equal(retain_get(rs, "a/b", 3), &msgs[0]);
    set(rs, "a/b", 1); /* replace releases the old one */
    assert_int_equal(released[0], 1);
    assert_int_equal(retain_count(rs), 1);
    set(rs, "a/b", -1); /* clear */
    assert_int_equal(released[1], 1);
    assert_null(retain_get(rs, "a/b", 3));
    assert_int_equal(retain_count(rs), 0);
    set(rs, "nothing/here", -1); /* clearing an absent topic is a no-op */
    set(rs, "x", 2);
    set(rs, "x/y/z", 3);
    retain_free(rs); /* releases what is left, once each */
    assert_int_equal(released[2], 1);
    assert_int_equal(released[3], 1);
    assert_int_equal(released[0] + released[1], 2);
}

static void test_wildcard_retrieval(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    set(rs, "s", 0);
    set(rs, "s/a", 1);
    set(rs, "s/b", 2);
    set(rs, "s/a/x", 3);
    set(rs, "t/a", 4);
    set(rs, "/lead", 5);
    set(rs, "s//e", 6);
    struct found f = match(rs, "s/+", true);
    assert_int_equal(f.n, 2);
    assert_true(has(&f, "s/a") && has(&f, "s/b"));
    f = match(rs, "s/#", true);
    assert_int_equal(f.n, 5); /* s, s/a, s/b, s/a/x, s//e */
    assert_true(has(&f, "s") && has(&f, "s/a/x") && has(&f, "s//e"));
    f = match(rs, "s/#", false);
    assert_int_equal(f.n, 4);
    assert_false(has(&f, "s"));
    f = match(rs, "+/a", true);
    assert_int_equal(f.n, 2);
    f = match(rs, "#", true);
    assert_int_equal(f.n, 7);
    f = match(rs, "+/lead", true);
    assert_int_equal(f.n, 1);
    assert_true(has(&f, "/lead"));
    f = match(rs, "s/a", true);
    assert_int_equal(f.n, 1);
    f = match(rs, "s/+/+", true);
    assert_int_equal(f.n, 2); /* s/a/x and s//e */
    retain_free(rs);
}

static void test_dollar_topics(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    set(rs, "$SYS/broker/uptime", 0);
    set(rs, "a/$b", 1);
    struct found f = match(rs, "#", true);
    assert_int_equal(f.n, 1);
    assert_true(has(&f, "a/$b"));
    assert_int_equal(match(rs, "+/broker/+", true).n, 0);
    f = match(rs, "$SYS/#", true);
    assert_int_equal(f.n, 1);
    assert_true(has(&f, "$SYS/broker/uptime"));
    assert_int_equal(match(rs, "$SYS/+/uptime", true).n, 1);
    struct found all = {0};
    retain_foreach(rs, collect, &all);
    assert_int_equal(all.n, 2);
    retain_free(rs);
}

static void test_clear_prunes_and_reuses(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    set(rs, "a/b/c/d/e", 0);
    set(rs, "a/b", 1);
    set(rs, "a/b/c/d/e", -1);
    assert_int_equal(match(rs, "#", true).n, 1);
    set(rs, "a/b", -1);
    assert_int_equal(match(rs, "#", true).n, 0);
    assert_int_equal(retain_count(rs), 0);
    set(rs, "a/b/c", 2);
    assert_int_equal(match(rs, "a/#", true).n, 1);
    retain_free(rs);
}

/* Differential against mqtt_topic_matches over random topics and filters. */
static void test_differential(void **state)
{
    (void)state;
    static const char *const lv[] = {"a", "b", "$x", "", "+", "#"};
    unsigned seed = 99;
    for (int round = 0; round < 200; round++) {
        struct retain_store *rs = retain_new(release);
        char topics[12][32];
        int nt = 0;
        for (int i = 0; i < 12; i++) {
            char t[32] = "";
            int n = 1 + (int)(rand_r(&seed) % 3);
            for (int k = 0; k < n; k++) {
                if (k) strcat(t, "/");
                strcat(t, lv[rand_r(&seed) % 4]);
            }
            if (!mqtt_topic_name_valid(t, strlen(t)) || retain_get(rs, t, strlen(t))) continue;
            strcpy(topics[nt], t);
            set(rs, topics[nt], nt);
            nt++;
        }
        for (int q = 0; q < 20; q++) {
            char f[32] = "";
            int n = 1 + (int)(rand_r(&seed) % 3);
            for (int k = 0; k < n; k++) {
                if (k) strcat(f, "/");
                const char *l = lv[rand_r(&seed) % 6];
                strcat(f, l[0] == '#' && k != n - 1 ? "+" : l);
            }
            if (!mqtt_topic_filter_valid(f, strlen(f))) continue;
            for (int parent = 0; parent < 2; parent++) {
                struct found got = match(rs, f, parent);
                int want = 0;
                for (int i = 0; i < nt; i++) {
                    bool m = mqtt_topic_matches(f, strlen(f), topics[i], strlen(topics[i]), parent);
                    want += m;
                    if (m && !has(&got, topics[i]))
                        fail_msg("filter '%s' misses '%s' (parent %d)", f, topics[i], parent);
                }
                if (got.n != want) fail_msg("filter '%s': %d found, %d expected", f, got.n, want);
            }
        }
        retain_free(rs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_replace_clear_release),
        cmocka_unit_test(test_wildcard_retrieval),
        cmocka_unit_test(test_dollar_topics),
        cmocka_unit_test(test_clear_prunes_and_reuses),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests_name("retain", tests, NULL, NULL);
}
