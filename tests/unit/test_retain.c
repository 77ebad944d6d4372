/*
 * test_retain.c - retained store: set/replace/clear and the references
 * given back, wildcard retrieval, '$' rules, the parent rule on and off,
 * the topics reported, wide and deep trees, and differential runs against
 * mqtt_topic_matches().
 */
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

/* Differential against mqtt_topic_matches over random topics and filters,
 * before and after clearing a random part of the store. */
static void differential_queries(struct retain_store *rs, char topics[][32], int nt, unsigned *seed)
{
    static const char *const lv[] = {"a", "b", "$x", "", "+", "#"};
    for (int q = 0; q < 20; q++) {
        char f[32] = "";
        int n = 1 + (int)(rand_r(seed) % 3);
        for (int k = 0; k < n; k++) {
            if (k) strcat(f, "/");
            const char *l = lv[rand_r(seed) % 6];
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
}

static void test_differential(void **state)
{
    (void)state;
    static const char *const lv[] = {"a", "b", "$x", ""};
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
        differential_queries(rs, topics, nt, &seed);
        for (int i = 0; i < nt; i++) {
            if (rand_r(&seed) % 2) continue;
            set(rs, topics[i], -1);
            if (i != --nt) memcpy(topics[i], topics[nt], sizeof topics[i]);
            i--;
        }
        assert_int_equal(retain_count(rs), (size_t)nt);
        differential_queries(rs, topics, nt, &seed);
        retain_free(rs);
    }
}

/* References: one release per reference the store gives up, never more. */
static int refs[16]; /* references the store holds, per message */

static void release_ref(void *m)
{
    int i = (int)((int *)m - msgs);
    assert_true(refs[i] > 0);
    refs[i]--;
}

static void put_ref(struct retain_store *rs, const char *topic, int i)
{
    if (i >= 0) refs[i]++; /* the caller's reference goes to the store */
    assert_int_equal(retain_set(rs, topic, strlen(topic), i < 0 ? NULL : &msgs[i]), 0);
}

static void test_references_given_back_once(void **state)
{
    (void)state;
    memset(refs, 0, sizeof refs);
    struct retain_store *rs = retain_new(release_ref);
    put_ref(rs, "a", 0);
    put_ref(rs, "a", 0); /* same message again: the old reference goes */
    assert_int_equal(refs[0], 1);
    put_ref(rs, "a", 1);
    assert_int_equal(refs[0], 0);
    assert_int_equal(refs[1], 1);
    put_ref(rs, "b", 1); /* one message on two topics: two references */
    assert_int_equal(refs[1], 2);
    put_ref(rs, "c", -1); /* clearing nothing gives nothing back */
    put_ref(rs, "a/b", -1);
    assert_int_equal(refs[1], 2);
    put_ref(rs, "a", -1);
    assert_int_equal(refs[1], 1);
    put_ref(rs, "a", -1);
    assert_int_equal(refs[1], 1);
    put_ref(rs, "x/y/z", 2);
    put_ref(rs, "x/y", 3);
    put_ref(rs, "x", 4);
    assert_int_equal(retain_count(rs), 4);
    retain_free(rs);
    for (int i = 0; i < 16; i++)
        assert_int_equal(refs[i], 0);
}

/* Reported topics are rebuilt exactly, empty levels included, with the
 * message retained on them. */
static struct retain_store *check_rs;

static void check_reported(void *ctx, const char *topic, size_t len, void *m)
{
    int *n = ctx;
    assert_ptr_equal(retain_get(check_rs, topic, len), m);
    (*n)++;
}

static void test_reported_topics_are_exact(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    const char *topics[] = {"/", "//", "a/", "/a", "a//b", "a", "$x", "$x/", "a/b/c/d"};
    for (int i = 0; i < 9; i++)
        set(rs, topics[i], i);
    check_rs = rs;
    struct found f = match(rs, "#", true);
    assert_int_equal(f.n, 7); /* not "$x" or "$x/" */
    for (int i = 0; i < 9; i++)
        assert_int_equal(has(&f, topics[i]), topics[i][0] != '$');
    f = match(rs, "+/+", true);
    assert_int_equal(f.n, 3); /* "/", "a/", "/a" */
    assert_true(has(&f, "/") && has(&f, "a/") && has(&f, "/a"));
    f = match(rs, "$x/#", true);
    assert_int_equal(f.n, 2);
    assert_true(has(&f, "$x") && has(&f, "$x/"));
    f = match(rs, "$x/#", false);
    assert_int_equal(f.n, 1);
    assert_true(has(&f, "$x/"));
    f = match(rs, "/+", true);
    assert_int_equal(f.n, 2); /* "//" is three levels */
    int n = 0;
    retain_match(rs, "#", 1, true, check_reported, &n);
    assert_int_equal(n, 7);
    n = 0;
    retain_foreach(rs, check_reported, &n);
    assert_int_equal(n, 9);
    assert_int_equal(retain_count(rs), 9);
    retain_free(rs);
}

static void test_wide_level(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    char t[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(t, sizeof t, "dev/%d/state", i);
        assert_int_equal(retain_set(rs, t, strlen(t), &msgs[i % 16]), 0);
    }
    int n = 0;
    check_rs = rs;
    retain_match(rs, "dev/+/state", 11, true, check_reported, &n);
    assert_int_equal(n, 1000);
    for (int i = 0; i < 1000; i += 2) {
        snprintf(t, sizeof t, "dev/%d/state", i);
        assert_int_equal(retain_set(rs, t, strlen(t), NULL), 0);
    }
    n = 0;
    retain_match(rs, "dev/#", 5, false, check_reported, &n);
    assert_int_equal(n, 500);
    assert_int_equal(retain_count(rs), 500);
    assert_null(retain_get(rs, "dev/0/state", 11));
    assert_ptr_equal(retain_get(rs, "dev/1/state", 11), &msgs[1]);
    assert_null(retain_get(rs, "dev/1", 5));
    retain_free(rs);
}

/* 60,000 levels: setting, matching, clearing and freeing use no recursion. */
static void test_deep_topic(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(release);
    size_t n = 60000;
    char *t = malloc(n + 2);
    memset(t, '/', n);
    t[n] = '\0';
    assert_int_equal(retain_set(rs, t, n, &msgs[0]), 0);
    assert_int_equal(retain_set(rs, "x", 1, &msgs[1]), 0);
    int found = 0;
    check_rs = rs;
    retain_match(rs, "#", 1, true, check_reported, &found);
    assert_int_equal(found, 2);
    found = 0;
    retain_match(rs, t, n, true, check_reported, &found);
    assert_int_equal(found, 1);
    t[n] = '+'; /* 60,000 empty levels, then '+' for the last one */
    found = 0;
    retain_match(rs, t, n + 1, true, check_reported, &found);
    assert_int_equal(found, 1);
    /* A second message part way down, then a deep tree left to free. */
    assert_int_equal(retain_set(rs, t, n / 2, &msgs[2]), 0);
    assert_int_equal(retain_count(rs), 3);
    retain_free(rs);
    free(t);
}

/*
 * Random sets, replaces and clears over a small tree, each message a
 * fresh token: a token may be released only after it stopped being the
 * topic's message, and every token exactly once by the end.
 */
enum { NTOK = 4000 };
static int tok_released[NTOK];
static int tok[NTOK];
static int tok_current[NTOK]; /* 1 while the store should hold it */

static void release_tok(void *m)
{
    int i = (int)((int *)m - tok);
    assert_true(i >= 0 && i < NTOK);
    assert_false(tok_current[i]);
    tok_released[i]++;
}

static void test_release_exactly_once(void **state)
{
    (void)state;
    static const char *const topics[] = {"a", "a/b", "a/b/c", "a//c", "/", "$x/a", "b", "a/b/c/d"};
    enum { NT = sizeof topics / sizeof topics[0] };
    int model[NT];
    for (int i = 0; i < NT; i++)
        model[i] = -1;
    memset(tok_released, 0, sizeof tok_released);
    memset(tok_current, 0, sizeof tok_current);
    struct retain_store *rs = retain_new(release_tok);
    unsigned seed = 5;
    size_t count = 0;
    for (int next = 0; next < NTOK;) {
        int t = (int)(rand_r(&seed) % NT);
        const char *topic = topics[t];
        int prev = model[t];
        if (prev >= 0) tok_current[prev] = 0; /* about to be given back */
        if (rand_r(&seed) % 3 == 0) {
            assert_int_equal(retain_set(rs, topic, strlen(topic), NULL), 0);
            count -= prev >= 0;
            model[t] = -1;
        } else {
            tok_current[next] = 1;
            assert_int_equal(retain_set(rs, topic, strlen(topic), &tok[next]), 0);
            count += prev < 0;
            model[t] = next++;
        }
        if (prev >= 0) assert_int_equal(tok_released[prev], 1);
        assert_int_equal(retain_count(rs), count);
        for (int i = 0; i < NT; i++)
            assert_ptr_equal(retain_get(rs, topics[i], strlen(topics[i])),
                             model[i] < 0 ? NULL : &tok[model[i]]);
    }
    memset(tok_current, 0, sizeof tok_current);
    retain_free(rs);
    for (int i = 0; i < NTOK; i++)
        assert_int_equal(tok_released[i], 1);
}

/* The topic passed to the callback is exactly the stored one. */
struct topic_check {
    const char *want;
    int n;
};

static void check_topic(void *ctx, const char *topic, size_t len, void *m)
{
    struct topic_check *c = ctx;
    (void)m;
    assert_int_equal(len, strlen(c->want));
    assert_memory_equal(topic, c->want, len);
    c->n++;
}

static void test_reported_topics_exact(void **state)
{
    (void)state;
    static const char *const topics[] = {"/", "//", "a/", "/a", "a//b", "$SYS/x/", "x"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        struct retain_store *rs = retain_new(release);
        set(rs, topics[i], 0);
        struct topic_check c = {topics[i], 0};
        retain_match(rs, topics[i], strlen(topics[i]), false, check_topic, &c);
        retain_foreach(rs, check_topic, &c);
        assert_int_equal(c.n, 2);
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
        cmocka_unit_test(test_references_given_back_once),
        cmocka_unit_test(test_reported_topics_are_exact),
        cmocka_unit_test(test_wide_level),
        cmocka_unit_test(test_deep_topic),
        cmocka_unit_test(test_release_exactly_once),
        cmocka_unit_test(test_reported_topics_exact),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests_name("retain", tests, NULL, NULL);
}
