/* test_trie.c - subscription trie: wildcards, '$' topics, shared groups, pruning, and a
 * differential check against mqtt_topic_matches(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "mqtt_topic.h"
#include "trie.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXHITS 64

struct hits {
    int n;
    void *who[MAXHITS];
    uint8_t qos[MAXHITS];
    unsigned flags[MAXHITS];
};

static void collect(void *ctx, void *subscriber, uint8_t qos, unsigned flags)
{
    struct hits *h = ctx;
    if (h->n < MAXHITS) {
        h->who[h->n] = subscriber;
        h->qos[h->n] = qos;
        h->flags[h->n] = flags;
    }
    h->n++;
}

static struct hits match(struct trie *t, const char *topic)
{
    struct hits h = {0};
    trie_match(t, topic, strlen(topic), collect, &h);
    return h;
}

static int count_of(const struct hits *h, void *who)
{
    int c = 0;
    for (int i = 0; i < h->n && i < MAXHITS; i++)
        c += h->who[i] == who;
    return c;
}

static void sub(struct trie *t, const char *f, void *who, uint8_t qos)
{
    assert_true(mqtt_topic_filter_valid(f, strlen(f)));
    assert_int_equal(trie_subscribe(t, f, strlen(f), who, qos, NULL), 0);
}

static int A, B, C, D;

static void test_exact_plus_hash(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/b", &A, 1);
    sub(t, "a/+", &B, 0);
    sub(t, "a/#", &C, 2);
    sub(t, "+/+/c", &D, 0);
    struct hits h = match(t, "a/b");
    assert_int_equal(h.n, 3);
    assert_int_equal(count_of(&h, &A), 1);
    assert_int_equal(count_of(&h, &B), 1);
    assert_int_equal(count_of(&h, &C), 1);
    h = match(t, "a/b/c");
    assert_int_equal(h.n, 2); /* a/# and +/+/c */
    assert_int_equal(count_of(&h, &D), 1);
    h = match(t, "b/b");
    assert_int_equal(h.n, 0);
    trie_free(t);
}

static void test_hash_matches_parent_with_flag(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/#", &A, 1);
    sub(t, "#", &B, 0);
    struct hits h = match(t, "a");
    assert_int_equal(h.n, 2);
    for (int i = 0; i < h.n; i++) {
        if (h.who[i] == &A)
            assert_int_equal(h.flags[i], TRIE_MATCH_PARENT);
        else
            assert_int_equal(h.flags[i], 0);
    }
    h = match(t, "a/x/y");
    assert_int_equal(h.n, 2);
    assert_int_equal(h.flags[0] | h.flags[1], 0);
    trie_free(t);
}

static void test_dollar_topics_need_explicit_first_level(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "#", &A, 0);
    sub(t, "+/x", &B, 0);
    sub(t, "$SYS/#", &C, 0);
    sub(t, "$SYS/+", &D, 0);
    struct hits h = match(t, "$SYS/x");
    assert_int_equal(h.n, 2);
    assert_int_equal(count_of(&h, &C), 1);
    assert_int_equal(count_of(&h, &D), 1);
    h = match(t, "a/x");
    assert_int_equal(h.n, 2);
    assert_int_equal(count_of(&h, &A), 1);
    assert_int_equal(count_of(&h, &B), 1);
    /* '$' in a later level is ordinary. */
    h = match(t, "a/$x");
    assert_int_equal(count_of(&h, &A), 1);
    trie_free(t);
}

static void test_empty_levels_are_levels(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a//b", &A, 0);
    sub(t, "/+", &B, 0);
    sub(t, "a/+/b", &C, 0);
    sub(t, "+/", &D, 0);
    struct hits h = match(t, "a//b");
    assert_int_equal(h.n, 2);
    h = match(t, "/x");
    assert_int_equal(h.n, 1);
    assert_int_equal(count_of(&h, &B), 1);
    h = match(t, "a/");
    assert_int_equal(h.n, 1);
    assert_int_equal(count_of(&h, &D), 1);
    h = match(t, "/");
    assert_int_equal(h.n, 2); /* "/+" and "+/" */
    trie_free(t);
}

static void test_overlapping_filters_reported_per_filter(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/#", &A, 0);
    sub(t, "a/b", &A, 2);
    sub(t, "a/+", &A, 1);
    struct hits h = match(t, "a/b");
    assert_int_equal(h.n, 3);
    assert_int_equal(count_of(&h, &A), 3);
    assert_int_equal(trie_count(t), 3);
    trie_free(t);
}

static void test_resubscribe_replaces_qos(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    bool replaced = true;
    assert_int_equal(trie_subscribe(t, "x", 1, &A, 0, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(trie_subscribe(t, "x", 1, &A, 2, &replaced), 0);
    assert_true(replaced);
    assert_int_equal(trie_count(t), 1);
    struct hits h = match(t, "x");
    assert_int_equal(h.n, 1);
    assert_int_equal(h.qos[0], 2);
    trie_free(t);
}

static void test_unsubscribe_prunes(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/b/c/d", &A, 0);
    sub(t, "a/+/#", &A, 0);
    sub(t, "$share/g/a/b", &B, 0);
    assert_int_equal(trie_count(t), 3);
    assert_int_equal(trie_unsubscribe(t, "a/b/c/d", 7, &A), 0);
    assert_int_equal(trie_unsubscribe(t, "a/b/c/d", 7, &A), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "a/+/#", 5, &B), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "a/+/#", 5, &A), 0);
    assert_int_equal(trie_unsubscribe(t, "$share/h/a/b", 12, &B), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "$share/g/a/b", 12, &B), 0);
    assert_int_equal(trie_count(t), 0);
    assert_int_equal(match(t, "a/b/c/d").n, 0);
    /* Nodes are gone: ASan's leak check would see them otherwise, and the
     * trie is reusable. */
    sub(t, "a/b", &C, 1);
    assert_int_equal(match(t, "a/b").n, 1);
    trie_free(t);
}

static bool online_flags[4] = {true, true, true, true};
static int members[4];
static bool is_online(void *who)
{
    return online_flags[(int *)who - members];
}

static void test_shared_round_robin_skips_offline(void **state)
{
    (void)state;
    struct trie *t = trie_new(is_online);
    for (int i = 0; i < 3; i++)
        sub(t, "$share/g/s/+", &members[i], 1);
    sub(t, "s/+", &members[3], 0);
    int got[4] = {0};
    for (int k = 0; k < 30; k++) {
        struct hits h = match(t, "s/x");
        assert_int_equal(h.n, 2);
        for (int i = 0; i < h.n; i++) {
            int m = (int *)h.who[i] - members;
            got[m]++;
            assert_int_equal(h.flags[i], m == 3 ? 0 : TRIE_MATCH_SHARED);
        }
    }
    assert_int_equal(got[0], 10);
    assert_int_equal(got[1], 10);
    assert_int_equal(got[2], 10);
    assert_int_equal(got[3], 30);

    online_flags[1] = false;
    memset(got, 0, sizeof got);
    for (int k = 0; k < 20; k++) {
        struct hits h = match(t, "s/x");
        for (int i = 0; i < h.n; i++)
            got[(int *)h.who[i] - members]++;
    }
    assert_int_equal(got[1], 0);
    assert_int_equal(got[0], 10);
    assert_int_equal(got[2], 10);

    /* Nobody online: the message still goes to one member (it may queue). */
    online_flags[0] = online_flags[2] = false;
    struct hits h = match(t, "s/x");
    assert_int_equal(h.n, 2);
    online_flags[0] = online_flags[1] = online_flags[2] = true;
    trie_free(t);
}

static void test_two_groups_and_plain_on_one_filter(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "$share/g1/t", &A, 0);
    sub(t, "$share/g1/t", &B, 0);
    sub(t, "$share/g2/t", &C, 0);
    sub(t, "t", &D, 0);
    struct hits h = match(t, "t");
    assert_int_equal(h.n, 3);
    assert_int_equal(count_of(&h, &C), 1);
    assert_int_equal(count_of(&h, &D), 1);
    assert_int_equal(count_of(&h, &A) + count_of(&h, &B), 1);
    trie_free(t);
}

static void test_wide_node_uses_index(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    static int subs[2000];
    char f[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(f, sizeof f, "dev/%d/state", i);
        sub(t, f, &subs[i], 1);
    }
    for (int i = 0; i < 2000; i += 97) {
        snprintf(f, sizeof f, "dev/%d/state", i);
        struct hits h = match(t, f);
        assert_int_equal(h.n, 1);
        assert_ptr_equal(h.who[0], &subs[i]);
    }
    for (int i = 0; i < 2000; i += 2) {
        snprintf(f, sizeof f, "dev/%d/state", i);
        assert_int_equal(trie_unsubscribe(t, f, strlen(f), &subs[i]), 0);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(f, sizeof f, "dev/%d/state", i);
        assert_int_equal(match(t, f).n, i % 2);
    }
    trie_free(t);
}

static void test_deep_topic_does_not_recurse(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    size_t n = 60000;
    char *f = malloc(n + 2);
    memset(f, '/', n);
    f[n] = '#';
    f[n + 1] = '\0';
    sub(t, f, &A, 0);
    f[n] = '\0';
    struct hits h = match(t, f);
    assert_int_equal(h.n, 1);
    free(f);
    trie_free(t);
}

/* Differential: random filters and topics over a tiny alphabet. */
static const char *const levels[] = {"a", "b", "$x", "", "+", "#"};

static void random_string(char *out, bool is_filter, unsigned *seed)
{
    int nlev = 1 + (int)(rand_r(seed) % 4);
    out[0] = '\0';
    for (int i = 0; i < nlev; i++) {
        int choices = is_filter ? 6 : 4;
        const char *l = levels[rand_r(seed) % (unsigned)choices];
        if (l[0] == '#' && i != nlev - 1) l = "+";
        if (i) strcat(out, "/");
        strcat(out, l);
    }
}

static void test_differential_against_brute_force(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        struct trie *t = trie_new(NULL);
        char filters[24][64];
        int nf = 0;
        for (int i = 0; i < 24; i++) {
            random_string(filters[nf], true, &seed);
            if (!mqtt_topic_filter_valid(filters[nf], strlen(filters[nf]))) continue;
            bool dup = false;
            for (int j = 0; j < nf; j++)
                dup |= strcmp(filters[j], filters[nf]) == 0;
            if (dup) continue;
            /* A distinct subscriber per filter: the filter's own slot. */
            assert_int_equal(
                trie_subscribe(t, filters[nf], strlen(filters[nf]), filters[nf], 0, NULL), 0);
            nf++;
        }
        for (int k = 0; k < 20; k++) {
            char topic[64];
            random_string(topic, false, &seed);
            if (!mqtt_topic_name_valid(topic, strlen(topic))) continue;
            struct hits h = match(t, topic);
            for (int i = 0; i < nf; i++) {
                bool want =
                    mqtt_topic_matches(filters[i], strlen(filters[i]), topic, strlen(topic), true);
                bool strict =
                    mqtt_topic_matches(filters[i], strlen(filters[i]), topic, strlen(topic), false);
                int got = 0;
                unsigned flags = 0;
                for (int j = 0; j < h.n; j++)
                    if (h.who[j] == filters[i]) got++, flags = h.flags[j];
                if (got != (want ? 1 : 0))
                    fail_msg("filter '%s' topic '%s': trie %d, brute force %d", filters[i], topic,
                             got, want);
                if (got) assert_int_equal(flags, strict ? 0 : TRIE_MATCH_PARENT);
            }
        }
        trie_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_plus_hash),
        cmocka_unit_test(test_hash_matches_parent_with_flag),
        cmocka_unit_test(test_dollar_topics_need_explicit_first_level),
        cmocka_unit_test(test_empty_levels_are_levels),
        cmocka_unit_test(test_overlapping_filters_reported_per_filter),
        cmocka_unit_test(test_resubscribe_replaces_qos),
        cmocka_unit_test(test_unsubscribe_prunes),
        cmocka_unit_test(test_shared_round_robin_skips_offline),
        cmocka_unit_test(test_two_groups_and_plain_on_one_filter),
        cmocka_unit_test(test_wide_node_uses_index),
        cmocka_unit_test(test_deep_topic_does_not_recurse),
        cmocka_unit_test(test_differential_against_brute_force),
    };
    return cmocka_run_group_tests_name("trie", tests, NULL, NULL);
}
