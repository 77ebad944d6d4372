/*
 * test_trie.c - subscription trie: wildcards, '$' topics, empty levels,
 * shared groups, QoS replacement, pruning, wide nodes and popular filters,
 * deep topics, and differential runs against mqtt_topic_matches().
 */
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

/* Heap accounting, to check that pruning gives memory back: AddressSanitizer's
 * exact count when it is on, else glibc's (which counts its thread cache of
 * freed blocks as in use). */
#if defined(__SANITIZE_ADDRESS__)
#define USE_ASAN_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_ASAN_COUNT 1
#endif
#endif
#if defined(USE_ASAN_COUNT)
/* From <sanitizer/allocator_interface.h>, which not every compiler ships. */
size_t __sanitizer_get_current_allocated_bytes(void);
#define HAVE_HEAP_COUNT 1
#define HEAP_NOISE 0
static size_t heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#elif defined(__GLIBC__)
#define HAVE_HEAP_COUNT 1
#define HEAP_NOISE (256 * 1024)
#include <malloc.h>
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#else
#define HAVE_HEAP_COUNT 0
#endif

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

static void unsub(struct trie *t, const char *f, void *who)
{
    assert_int_equal(trie_unsubscribe(t, f, strlen(f), who), 0);
}

static int A, B, C, D;

/* Many subscribers: hits counted per subscriber index of an array. */
enum { MANY = 1024 };
static int many[MANY];

struct tally {
    int n[MANY];
    int qos[MANY];
    unsigned flags[MANY];
    int total;
};

static void tally(void *ctx, void *subscriber, uint8_t qos, unsigned flags)
{
    struct tally *t = ctx;
    int i = (int)((int *)subscriber - many);
    assert_true(i >= 0 && i < MANY);
    t->n[i]++;
    t->qos[i] = qos;
    t->flags[i] |= flags;
    t->total++;
}

static void tally_match(struct trie *t, const char *topic, struct tally *out)
{
    memset(out, 0, sizeof *out);
    trie_match(t, topic, strlen(topic), tally, out);
}

/* ---- matching rules ---- */

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
    h = match(t, "a/bb");
    assert_int_equal(h.n, 2); /* a/+ and a/# */
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

static void test_plus_last_level_and_parent_flags(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/+/#", &A, 0);
    sub(t, "a/+", &B, 1);
    sub(t, "+/#", &C, 2);
    /* "a/b": "a/+" exactly, "a/+/#" by the parent rule, "+/#" normally. */
    struct hits h = match(t, "a/b");
    assert_int_equal(h.n, 3);
    for (int i = 0; i < h.n; i++) {
        if (h.who[i] == &A) assert_int_equal(h.flags[i], TRIE_MATCH_PARENT);
        if (h.who[i] == &B) assert_int_equal(h.qos[i], 1);
        if (h.who[i] == &C) assert_int_equal(h.flags[i], 0);
    }
    /* "a": only "+/#", by the parent rule. */
    h = match(t, "a");
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.who[0], &C);
    assert_int_equal(h.flags[0], TRIE_MATCH_PARENT);
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

static void test_dollar_rules_in_detail(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "#", &A, 0);
    sub(t, "+/#", &B, 0);
    sub(t, "$SYS/#", &C, 0);
    sub(t, "+", &D, 0);
    /* "$SYS" alone: only "$SYS/#", through the parent rule. */
    struct hits h = match(t, "$SYS");
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.who[0], &C);
    assert_int_equal(h.flags[0], TRIE_MATCH_PARENT);
    h = match(t, "$SYS/a/b");
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.who[0], &C);
    assert_int_equal(h.flags[0], 0);
    assert_int_equal(match(t, "$").n, 0);
    /* Not a '$' topic: "#", "+/#" (parent rule) and "+". */
    assert_int_equal(match(t, "x").n, 3);
    trie_free(t);

    /* The same rules inside $share groups. */
    t = trie_new(NULL);
    sub(t, "$share/g/#", &A, 0);
    sub(t, "$share/g/$SYS/#", &B, 0);
    sub(t, "$share/g/+/x", &C, 0);
    h = match(t, "$SYS/x");
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.who[0], &B);
    assert_int_equal(h.flags[0], TRIE_MATCH_SHARED);
    h = match(t, "a/x");
    assert_int_equal(h.n, 2);
    assert_int_equal(count_of(&h, &A) + count_of(&h, &C), 2);
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
    assert_int_equal(match(t, "a/b").n, 0);
    assert_int_equal(match(t, "ab").n, 0);
    trie_free(t);
}

static void test_overlapping_filters_reported_per_filter(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/#", &A, 0);
    sub(t, "a/b", &A, 2);
    sub(t, "a/+", &A, 1);
    sub(t, "#", &A, 1);
    struct hits h = match(t, "a/b");
    assert_int_equal(h.n, 4);
    assert_int_equal(count_of(&h, &A), 4);
    assert_int_equal(trie_count(t), 4);
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
    /* The same in a $share group. */
    assert_int_equal(trie_subscribe(t, "$share/g/x", 10, &A, 0, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(trie_subscribe(t, "$share/g/x", 10, &A, 1, &replaced), 0);
    assert_true(replaced);
    assert_int_equal(trie_count(t), 2);
    h = match(t, "x");
    assert_int_equal(h.n, 2); /* one plain, one shared: separate subscriptions */
    for (int i = 0; i < 2; i++)
        assert_int_equal(h.qos[i], h.flags[i] & TRIE_MATCH_SHARED ? 1 : 2);
    trie_free(t);
}

/* ---- unsubscribing and pruning ---- */

static void test_unsubscribe_prunes(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    sub(t, "a/b/c/d", &A, 0);
    sub(t, "a/+/#", &A, 0);
    sub(t, "$share/g/a/b", &B, 0);
    assert_int_equal(trie_count(t), 3);
    unsub(t, "a/b/c/d", &A);
    assert_int_equal(trie_unsubscribe(t, "a/b/c/d", 7, &A), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "a/b/c", 5, &A), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "a/+/#", 5, &B), UMBRA_ENOTFOUND);
    unsub(t, "a/+/#", &A);
    assert_int_equal(trie_unsubscribe(t, "$share/h/a/b", 12, &B), UMBRA_ENOTFOUND);
    assert_int_equal(trie_unsubscribe(t, "a/b", 3, &B), UMBRA_ENOTFOUND);
    unsub(t, "$share/g/a/b", &B);
    assert_int_equal(trie_count(t), 0);
    assert_int_equal(match(t, "a/b/c/d").n, 0);
    /* The trie is reusable after being emptied. */
    sub(t, "a/b", &C, 1);
    assert_int_equal(match(t, "a/b").n, 1);
    trie_free(t);
}

/*
 * Subscribe and unsubscribe fresh filters round after round: if emptied
 * nodes were kept, the heap would grow by each round's nodes (over 100 KB a
 * round, 2 MB in all). AddressSanitizer's count is exact; glibc's thread
 * cache of freed blocks adds noise of some tens of KB.
 */
static void test_pruning_gives_memory_back(void **state)
{
    (void)state;
#if HAVE_HEAP_COUNT
    struct trie *t = trie_new(NULL);
    size_t after_first = 0;
    char f[80];
    for (int round = 0; round < 20; round++) {
        /* Wide nodes, a popular filter, deep paths, wildcards and groups. */
        for (int i = 0; i < 300; i++) {
            snprintf(f, sizeof f, "dev/%d-%d/a-long-level-name-for-the-map/%d", round, i, i % 7);
            sub(t, f, &many[i], 1);
            snprintf(f, sizeof f, "$share/g%d/jobs%d/+/%d/#", i % 3, round, i % 11);
            sub(t, f, &many[i], 0);
            snprintf(f, sizeof f, "fleet%d/all", round);
            sub(t, f, &many[i], 0);
        }
        sub(t, "+/+/#", &A, 0);
        sub(t, "#", &B, 0);
        assert_int_equal(trie_count(t), 902);
        for (int i = 299; i >= 0; i--) {
            snprintf(f, sizeof f, "dev/%d-%d/a-long-level-name-for-the-map/%d", round, i, i % 7);
            unsub(t, f, &many[i]);
            snprintf(f, sizeof f, "$share/g%d/jobs%d/+/%d/#", i % 3, round, i % 11);
            unsub(t, f, &many[i]);
            snprintf(f, sizeof f, "fleet%d/all", round);
            unsub(t, f, &many[i]);
        }
        unsub(t, "#", &B);
        unsub(t, "+/+/#", &A);
        assert_int_equal(trie_count(t), 0);
        if (round == 0) after_first = heap_in_use();
    }
    size_t after_last = heap_in_use();
    if (after_last > after_first + HEAP_NOISE)
        fail_msg("heap grew by %zu bytes over 19 rounds", after_last - after_first);
    trie_free(t);
#else
    skip();
#endif
}

/* ---- shared subscriptions ---- */

static bool online_flags[4] = {true, true, true, true};
static int members[4];
static bool is_online(void *who)
{
    return online_flags[(int *)who - members];
}

static int member_of(const struct hits *h, int i)
{
    return (int)((int *)h->who[i] - members);
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
            int m = member_of(&h, i);
            got[m]++;
            assert_int_equal(h.flags[i], m == 3 ? 0 : TRIE_MATCH_SHARED);
            /* Strict turns: 0, 1, 2, 0, ... */
            if (m != 3) assert_int_equal(m, k % 3);
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
            got[member_of(&h, i)]++;
    }
    assert_int_equal(got[1], 0);
    assert_int_equal(got[0], 10);
    assert_int_equal(got[2], 10);

    /* Nobody online: the message still goes to one member (it may queue),
     * and the turns still rotate. */
    online_flags[0] = online_flags[2] = false;
    memset(got, 0, sizeof got);
    for (int k = 0; k < 9; k++) {
        struct hits h = match(t, "s/x");
        assert_int_equal(h.n, 2);
        for (int i = 0; i < h.n; i++)
            got[member_of(&h, i)]++;
    }
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 3);
    online_flags[0] = online_flags[1] = online_flags[2] = true;
    trie_free(t);
}

/* Leaving a group keeps the turns: nobody is skipped or served twice. */
static void test_shared_unsubscribe_keeps_turns(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    for (int i = 0; i < 4; i++)
        sub(t, "$share/g/t", &members[i], 0);
    struct hits h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 0);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 1);
    /* Next in turn is 2. Removing 1 (already served) keeps it 2. */
    unsub(t, "$share/g/t", &members[1]);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 2);
    /* Next is 3; removing 3 itself passes the turn to 0. */
    unsub(t, "$share/g/t", &members[3]);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 0);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 2);
    /* A new member joins at the end of the order: 0, 2, 1. */
    sub(t, "$share/g/t", &members[1], 0);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 0);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 2);
    h = match(t, "t");
    assert_int_equal(member_of(&h, 0), 1);
    unsub(t, "$share/g/t", &members[0]);
    unsub(t, "$share/g/t", &members[1]);
    h = match(t, "t");
    assert_int_equal(h.n, 1);
    assert_int_equal(member_of(&h, 0), 2);
    unsub(t, "$share/g/t", &members[2]);
    assert_int_equal(match(t, "t").n, 0);
    assert_int_equal(trie_count(t), 0);
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
    int a = 0, b = 0;
    for (int k = 0; k < 10; k++) {
        struct hits h = match(t, "t");
        assert_int_equal(h.n, 3);
        assert_int_equal(count_of(&h, &C), 1);
        assert_int_equal(count_of(&h, &D), 1);
        assert_int_equal(count_of(&h, &A) + count_of(&h, &B), 1);
        a += count_of(&h, &A);
        b += count_of(&h, &B);
        for (int i = 0; i < h.n; i++)
            assert_int_equal(h.flags[i], h.who[i] == &D ? 0 : TRIE_MATCH_SHARED);
    }
    assert_int_equal(a, 5);
    assert_int_equal(b, 5);
    assert_int_equal(trie_count(t), 4);
    trie_free(t);
}

/* ---- scale and depth ---- */

/* Children of one node: array, then hash map past 8, then array again. */
static void test_wide_node_grows_and_shrinks(void **state)
{
    (void)state;
    enum { N = 40 };
    char f[N][64];
    struct trie *t = trie_new(NULL);
    for (int i = 0; i < N; i++) {
        /* Short (compared by tag alone), medium and long (> 16 bytes)
         * levels, many sharing their first and last bytes. */
        if (i % 3 == 0)
            snprintf(f[i], sizeof f[i], "w/%c%d", 'a' + i % 26, i);
        else if (i % 3 == 1)
            snprintf(f[i], sizeof f[i], "w/dev-%04d-x", i);
        else
            snprintf(f[i], sizeof f[i], "w/a-rather-long-device-name-%d-z", i);
        sub(t, f[i], &many[i], 0);
        for (int j = 0; j <= i; j++) {
            struct hits h = match(t, f[j]);
            assert_int_equal(h.n, 1);
            assert_ptr_equal(h.who[0], &many[j]);
        }
        assert_int_equal(match(t, "w/dev-9999-x").n, 0);
    }
    sub(t, "w/+", &A, 0);
    /* Remove in another order, checking every filter each time. */
    bool gone[N] = {false};
    for (int k = 0; k < N; k++) {
        int i = (k * 7) % N;
        unsub(t, f[i], &many[i]);
        gone[i] = true;
        for (int j = 0; j < N; j++) {
            struct hits h = match(t, f[j]);
            assert_int_equal(h.n, gone[j] ? 1 : 2); /* "w/+" always */
            assert_int_equal(count_of(&h, &many[j]), gone[j] ? 0 : 1);
        }
    }
    assert_int_equal(trie_count(t), 1);
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
        unsub(t, f, &subs[i]);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(f, sizeof f, "dev/%d/state", i);
        assert_int_equal(match(t, f).n, i % 2);
    }
    trie_free(t);
}

/* One filter with many subscribers: its subscriber index must stay exact
 * through replacements and removals in any order. */
static void test_popular_filter(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    static struct tally got;
    for (int i = 0; i < MANY; i++)
        sub(t, "fleet/all", &many[i], 0);
    bool replaced = false;
    for (int i = 0; i < MANY; i += 10) {
        assert_int_equal(trie_subscribe(t, "fleet/all", 9, &many[i], 2, &replaced), 0);
        assert_true(replaced);
    }
    assert_int_equal(trie_count(t), MANY);
    tally_match(t, "fleet/all", &got);
    assert_int_equal(got.total, MANY);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(got.n[i], 1);
        assert_int_equal(got.qos[i], i % 10 ? 0 : 2);
    }
    /* Remove a scattered half, then all but a few, checking as we go. */
    bool gone[MANY] = {false};
    int left = MANY;
    for (int k = 0; k < MANY - 5; k++) {
        int i = (k * 389) % MANY;
        unsub(t, "fleet/all", &many[i]);
        assert_int_equal(trie_unsubscribe(t, "fleet/all", 9, &many[i]), UMBRA_ENOTFOUND);
        gone[i] = true;
        left--;
        if (k % 97 && left > 20) continue;
        tally_match(t, "fleet/all", &got);
        assert_int_equal(got.total, left);
        for (int j = 0; j < MANY; j++)
            assert_int_equal(got.n[j], gone[j] ? 0 : 1);
    }
    assert_int_equal(trie_count(t), 5);
    for (int i = 0; i < MANY; i++)
        if (!gone[i]) unsub(t, "fleet/all", &many[i]);
    assert_int_equal(trie_count(t), 0);
    assert_int_equal(match(t, "fleet/all").n, 0);
    trie_free(t);
}

/* Every filter of 'a' or '+' over 10 levels: 1024 filters all matching
 * "a/a/.../a", which makes the walk try both branches at every level. */
static void test_every_plus_combination(void **state)
{
    (void)state;
    enum { LEVELS = 10 };
    struct trie *t = trie_new(NULL);
    char filters[MANY][2 * LEVELS];
    for (int bits = 0; bits < MANY; bits++) {
        char *f = filters[bits];
        for (int l = 0; l < LEVELS; l++) {
            f[2 * l] = (bits >> l) & 1 ? '+' : 'a';
            f[2 * l + 1] = l == LEVELS - 1 ? '\0' : '/';
        }
        sub(t, f, &many[bits], (uint8_t)(bits % 3));
    }
    static struct tally got;
    tally_match(t, "a/a/a/a/a/a/a/a/a/a", &got);
    assert_int_equal(got.total, MANY);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(got.n[i], 1);
        assert_int_equal(got.qos[i], i % 3);
    }
    /* 'b' at levels 2 and 7: only filters with '+' there match. */
    const char *topic = "a/a/b/a/a/a/a/b/a/a";
    tally_match(t, topic, &got);
    assert_int_equal(got.total, MANY / 4);
    for (int i = 0; i < MANY; i++) {
        bool want = mqtt_topic_matches(filters[i], strlen(filters[i]), topic, strlen(topic), true);
        assert_int_equal(got.n[i], want ? 1 : 0);
    }
    assert_int_equal(match(t, "a/a/a/a/a/a/a/a/a").n, 0);
    assert_int_equal(match(t, "a/a/a/a/a/a/a/a/a/a/a").n, 0);
    trie_free(t);
}

static void test_deep_topic_does_not_recurse(void **state)
{
    (void)state;
    struct trie *t = trie_new(NULL);
    size_t n = 60000;
    char *f = malloc(2 * n + 2);
    memset(f, '/', n);
    f[n] = '#';
    f[n + 1] = '\0';
    sub(t, f, &A, 0);
    f[n] = '\0';
    struct hits h = match(t, f);
    assert_int_equal(h.n, 1);

    /* An exact chain and a '+' chain of 30,000 levels each: the walk
     * descends the exact one, then backs up all the way to take '+'. */
    size_t levels = 30000;
    for (size_t i = 0; i < levels; i++) {
        f[2 * i] = 'x';
        f[2 * i + 1] = '/';
    }
    f[2 * levels - 1] = '\0';
    sub(t, f, &B, 0);
    for (size_t i = 0; i < levels; i++)
        f[2 * i] = '+';
    sub(t, f, &C, 0);
    for (size_t i = 0; i < levels; i++)
        f[2 * i] = 'x';
    h = match(t, f);
    assert_int_equal(h.n, 2);
    assert_int_equal(count_of(&h, &B), 1);
    assert_int_equal(count_of(&h, &C), 1);
    free(f);
    trie_free(t);
}

/* ---- differential runs against mqtt_topic_matches() ---- */

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

/*
 * Random subscribes, resubscribes and unsubscribes of four subscribers,
 * plain and in two $share groups, against a list of subscriptions: after
 * every step the count must agree and random topics must match as the
 * list says. Plain matches are compared exactly (subscriber, QoS, flags);
 * each matching group must yield one of its members.
 */
struct model_sub {
    char filter[64]; /* without the $share prefix */
    int group;       /* -1 plain, else the group number */
    int who;
    uint8_t qos;
};

struct model {
    struct model_sub subs[256];
    int n;
};

static int model_find(const struct model *m, const char *filter, int group, int who)
{
    for (int i = 0; i < m->n; i++)
        if (m->subs[i].group == group && m->subs[i].who == who &&
            strcmp(m->subs[i].filter, filter) == 0)
            return i;
    return -1;
}

static void full_filter(char *out, size_t size, const char *filter, int group)
{
    if (group < 0)
        snprintf(out, size, "%s", filter);
    else
        snprintf(out, size, "$share/g%d/%s", group, filter);
}

/* Is there an earlier matching subscription of the same (group, filter)? */
static bool group_seen(const struct model *m, int upto)
{
    const struct model_sub *s = &m->subs[upto];
    for (int i = 0; i < upto; i++)
        if (m->subs[i].group == s->group && strcmp(m->subs[i].filter, s->filter) == 0) return true;
    return false;
}

static void check_model(struct trie *t, const struct model *m, const char *topic)
{
    struct hits h = {0};
    trie_match(t, topic, strlen(topic), collect, &h);
    assert_true(h.n <= MAXHITS);
    bool used[MAXHITS] = {false};
    int want_shared = 0;
    size_t tlen = strlen(topic);
    for (int i = 0; i < m->n; i++) {
        const struct model_sub *s = &m->subs[i];
        size_t flen = strlen(s->filter);
        if (!mqtt_topic_matches(s->filter, flen, topic, tlen, true)) continue;
        unsigned flags =
            mqtt_topic_matches(s->filter, flen, topic, tlen, false) ? 0 : TRIE_MATCH_PARENT;
        if (s->group >= 0) {
            want_shared += !group_seen(m, i);
            continue;
        }
        bool found = false;
        for (int j = 0; j < h.n && !found; j++) {
            if (used[j] || h.who[j] != &members[s->who] || h.flags[j] != flags ||
                h.qos[j] != s->qos)
                continue;
            used[j] = found = true;
        }
        if (!found) fail_msg("'%s' on '%s' for %d not reported", s->filter, topic, s->who);
    }
    int got_shared = 0;
    for (int j = 0; j < h.n; j++) {
        if (used[j]) continue;
        if (!(h.flags[j] & TRIE_MATCH_SHARED)) fail_msg("unexpected plain match on '%s'", topic);
        got_shared++;
        /* The chosen member belongs to a matching group with that QoS. */
        bool ok = false;
        for (int i = 0; i < m->n && !ok; i++) {
            const struct model_sub *s = &m->subs[i];
            ok = s->group >= 0 && h.who[j] == &members[s->who] && h.qos[j] == s->qos &&
                 mqtt_topic_matches(s->filter, strlen(s->filter), topic, tlen, true);
        }
        if (!ok) fail_msg("shared match on '%s' from no matching group", topic);
    }
    assert_int_equal(got_shared, want_shared);
}

static void test_differential_with_unsubscribes(void **state)
{
    (void)state;
    unsigned seed = 4242;
    static struct model m;
    for (int round = 0; round < 60; round++) {
        struct trie *t = trie_new(NULL);
        m.n = 0;
        for (int step = 0; step < 300; step++) {
            char filter[64], full[80];
            random_string(filter, true, &seed);
            int group = rand_r(&seed) % 3 == 0 ? (int)(rand_r(&seed) % 2) : -1;
            int who = (int)(rand_r(&seed) % 4);
            uint8_t qos = (uint8_t)(rand_r(&seed) % 3);
            full_filter(full, sizeof full, filter, group);
            if (!mqtt_topic_filter_valid(full, strlen(full))) continue;
            int at = model_find(&m, filter, group, who);
            if (rand_r(&seed) % 3 == 0) {
                int rc = trie_unsubscribe(t, full, strlen(full), &members[who]);
                assert_int_equal(rc, at >= 0 ? 0 : UMBRA_ENOTFOUND);
                if (at >= 0)
                    memmove(&m.subs[at], &m.subs[at + 1], (size_t)(--m.n - at) * sizeof m.subs[0]);
            } else if (at >= 0 || m.n < 40) {
                bool replaced = !(at >= 0);
                assert_int_equal(
                    trie_subscribe(t, full, strlen(full), &members[who], qos, &replaced), 0);
                assert_int_equal(replaced, at >= 0);
                if (at < 0) {
                    at = m.n++;
                    snprintf(m.subs[at].filter, sizeof m.subs[at].filter, "%s", filter);
                    m.subs[at].group = group;
                    m.subs[at].who = who;
                }
                m.subs[at].qos = qos;
            }
            assert_int_equal(trie_count(t), (size_t)m.n);
            for (int k = 0; k < 3; k++) {
                char topic[64];
                random_string(topic, false, &seed);
                check_model(t, &m, topic);
            }
        }
        /* Empty it completely: nothing may match afterwards. */
        while (m.n) {
            char full[80];
            struct model_sub *s = &m.subs[--m.n];
            full_filter(full, sizeof full, s->filter, s->group);
            assert_int_equal(trie_unsubscribe(t, full, strlen(full), &members[s->who]), 0);
        }
        assert_int_equal(trie_count(t), 0);
        assert_int_equal(match(t, "a").n + match(t, "$x/a").n + match(t, "/").n, 0);
        trie_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_plus_hash),
        cmocka_unit_test(test_hash_matches_parent_with_flag),
        cmocka_unit_test(test_plus_last_level_and_parent_flags),
        cmocka_unit_test(test_dollar_topics_need_explicit_first_level),
        cmocka_unit_test(test_dollar_rules_in_detail),
        cmocka_unit_test(test_empty_levels_are_levels),
        cmocka_unit_test(test_overlapping_filters_reported_per_filter),
        cmocka_unit_test(test_resubscribe_replaces_qos),
        cmocka_unit_test(test_unsubscribe_prunes),
        cmocka_unit_test(test_pruning_gives_memory_back),
        cmocka_unit_test(test_shared_round_robin_skips_offline),
        cmocka_unit_test(test_shared_unsubscribe_keeps_turns),
        cmocka_unit_test(test_two_groups_and_plain_on_one_filter),
        cmocka_unit_test(test_wide_node_grows_and_shrinks),
        cmocka_unit_test(test_wide_node_uses_index),
        cmocka_unit_test(test_popular_filter),
        cmocka_unit_test(test_every_plus_combination),
        cmocka_unit_test(test_deep_topic_does_not_recurse),
        cmocka_unit_test(test_differential_against_brute_force),
        cmocka_unit_test(test_differential_with_unsubscribes),
    };
    return cmocka_run_group_tests_name("trie", tests, NULL, NULL);
}
