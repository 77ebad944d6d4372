/*
 * test_strmap.c - hash map: growth, deletion with backward shift, binary
 * keys, keys on both sides of the inline-key limit, iteration, and a random
 * differential run against a plain array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_put_get_replace(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    int a, b;
    void *old = &a;
    assert_int_equal(strmap_put(m, "k", 1, &a, &old), 0);
    assert_null(old);
    assert_int_equal(strmap_put(m, "k", 1, &b, &old), 0);
    assert_ptr_equal(old, &a);
    assert_ptr_equal(strmap_get(m, "k", 1), &b);
    assert_null(strmap_get(m, "kk", 2));
    assert_int_equal(strmap_count(m), 1);
    assert_int_equal(strmap_put(m, "", 0, &a, NULL), 0);
    assert_ptr_equal(strmap_get(m, "", 0), &a);
    strmap_free(m);
}

static void test_grow_delete_reinsert_100k(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    char k[32];
    for (uintptr_t i = 1; i <= 100000; i++) {
        int n = snprintf(k, sizeof k, "client-%lu", (unsigned long)i);
        assert_int_equal(strmap_put(m, k, (size_t)n, (void *)i, NULL), 0);
    }
    assert_int_equal(strmap_count(m), 100000);
    for (uintptr_t i = 1; i <= 100000; i += 3) {
        int n = snprintf(k, sizeof k, "client-%lu", (unsigned long)i);
        assert_ptr_equal(strmap_del(m, k, (size_t)n), (void *)i);
        assert_null(strmap_del(m, k, (size_t)n));
    }
    for (uintptr_t i = 1; i <= 100000; i++) {
        int n = snprintf(k, sizeof k, "client-%lu", (unsigned long)i);
        void *v = strmap_get(m, k, (size_t)n);
        if ((i - 1) % 3 == 0)
            assert_null(v);
        else
            assert_ptr_equal(v, (void *)i);
    }
    for (uintptr_t i = 1; i <= 100000; i += 3) {
        int n = snprintf(k, sizeof k, "client-%lu", (unsigned long)i);
        assert_int_equal(strmap_put(m, k, (size_t)n, (void *)(i + 7), NULL), 0);
    }
    assert_int_equal(strmap_count(m), 100000);
    assert_ptr_equal(strmap_get(m, "client-1", 8), (void *)8);
    strmap_free(m);
}

static void test_binary_keys(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    int a, b;
    assert_int_equal(strmap_put(m, "a\0b", 3, &a, NULL), 0);
    assert_int_equal(strmap_put(m, "a\0c", 3, &b, NULL), 0);
    assert_ptr_equal(strmap_get(m, "a\0b", 3), &a);
    assert_ptr_equal(strmap_get(m, "a\0c", 3), &b);
    assert_null(strmap_get(m, "a", 1));
    strmap_free(m);
}

static void test_iteration_sees_each_once(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    static char seen[1000];
    char k[16];
    for (uintptr_t i = 0; i < 1000; i++) {
        int n = snprintf(k, sizeof k, "%lu", (unsigned long)i);
        strmap_put(m, k, (size_t)n, (void *)i, NULL);
    }
    struct strmap_iter it;
    const char *key;
    size_t len;
    void *v;
    int count = 0;
    strmap_iter_init(&it, m);
    while (strmap_next(&it, &key, &len, &v)) {
        assert_int_equal(seen[(uintptr_t)v]++, 0);
        char want[16];
        int wn = snprintf(want, sizeof want, "%lu", (unsigned long)(uintptr_t)v);
        assert_int_equal(len, (size_t)wn);
        assert_memory_equal(key, want, len);
        count++;
    }
    assert_int_equal(count, 1000);
    strmap_free(m);
}

/* Deleting from the middle of probe runs must keep every other key findable. */
static void test_delete_keeps_probe_runs(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed < 40; seed++) {
        struct strmap *m = strmap_new();
        char k[16];
        int present[300] = {0};
        for (int step = 0; step < 3000; step++) {
            int i = (int)(rand_r(&seed) % 300);
            int n = snprintf(k, sizeof k, "%d", i);
            if (rand_r(&seed) % 2) {
                strmap_put(m, k, (size_t)n, (void *)(uintptr_t)(i + 1), NULL);
                present[i] = 1;
            } else {
                void *v = strmap_del(m, k, (size_t)n);
                assert_true(present[i] ? v == (void *)(uintptr_t)(i + 1) : v == NULL);
                present[i] = 0;
            }
        }
        for (int i = 0; i < 300; i++) {
            int n = snprintf(k, sizeof k, "%d", i);
            assert_true((strmap_get(m, k, (size_t)n) != NULL) == present[i]);
        }
        strmap_free(m);
    }
}

static void test_borrowed_keys_are_not_copied_or_freed(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    char *key = strdup("session-1");
    int v;
    assert_int_equal(strmap_put_borrowed(m, key, 9, &v, NULL), 0);
    assert_ptr_equal(strmap_get(m, "session-1", 9), &v);
    struct strmap_iter it;
    const char *k;
    size_t len;
    void *val;
    strmap_iter_init(&it, m);
    assert_true(strmap_next(&it, &k, &len, &val));
    assert_ptr_equal(k, key);
    assert_int_equal(len, 9);
    assert_ptr_equal(strmap_del(m, key, 9), &v);
    assert_int_equal(strmap_put_borrowed(m, key, 9, &v, NULL), 0);
    strmap_free(m); /* must not free key: ASan would report a double free below */
    free(key);
}

/*
 * Replacing an entry stores the key as the replacing call asks: a session
 * taking over a client id frees the old session (owner of the old borrowed
 * key) right after; a copied replacement must not depend on the borrower.
 * Under ASan a stale key pointer would be a use after free.
 */
static void test_replace_rebinds_borrowed_key(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    int a, b, c;
    void *old = NULL;
    for (size_t len = 3; len <= 40; len += 37) { /* inline-sized and heap-sized */
        char *k1 = malloc(len), *k2 = malloc(len), *probe = malloc(len);
        memset(k1, 'k', len);
        memcpy(k2, k1, len);
        memcpy(probe, k1, len);
        assert_int_equal(strmap_put_borrowed(m, k1, len, &a, NULL), 0);
        assert_int_equal(strmap_put_borrowed(m, k2, len, &b, &old), 0);
        assert_ptr_equal(old, &a);
        free(k1); /* the old owner goes away */
        assert_ptr_equal(strmap_get(m, probe, len), &b);
        /* A copied replacement takes its own copy of the key. */
        assert_int_equal(strmap_put(m, probe, len, &c, &old), 0);
        assert_ptr_equal(old, &b);
        free(k2);
        assert_ptr_equal(strmap_get(m, probe, len), &c);
        struct strmap_iter it;
        const char *k;
        size_t klen;
        void *v;
        int n = 0;
        strmap_iter_init(&it, m);
        while (strmap_next(&it, &k, &klen, &v))
            n += klen == len && memcmp(k, probe, len) == 0 && v == &c;
        assert_int_equal(n, 1);
        /* Copied over copied keeps working; borrowed over copied frees the copy. */
        assert_int_equal(strmap_put(m, probe, len, &a, NULL), 0);
        assert_int_equal(strmap_put_borrowed(m, probe, len, &b, NULL), 0);
        assert_ptr_equal(strmap_del(m, probe, len), &b);
        assert_int_equal(strmap_count(m), 0);
        free(probe);
    }
    strmap_free(m);
}

/* Every key length from 0 to 64 (inline, at the limit, heap-copied), keys
 * differing only in one byte, and NUL bytes anywhere. */
static void test_key_lengths_and_nul_bytes(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    static char keys[65][2][64];
    for (size_t len = 0; len <= 64; len++) {
        for (int v = 0; v < 2; v++) {
            char *k = keys[len][v];
            memset(k, 0, sizeof keys[len][v]);
            for (size_t i = 0; i < len; i++)
                k[i] = (char)(i % 3 == 0 ? 0 : 'a' + (int)(i % 26));
            /* Variant 1 differs in the middle byte only. */
            if (len && v) k[len / 2] ^= 0x40;
            if (len == 0 && v) continue;
            assert_int_equal(strmap_put(m, k, len, k, NULL), 0);
        }
    }
    assert_int_equal(strmap_count(m), 65 * 2 - 1);
    for (size_t len = 0; len <= 64; len++) {
        for (int v = 0; v < 2; v++) {
            if (len == 0 && v) continue;
            assert_ptr_equal(strmap_get(m, keys[len][v], len), keys[len][v]);
        }
        /* The same bytes shifted by one are not a stored key. */
        if (len > 1) assert_null(strmap_get(m, keys[64][0] + 1, len - 1));
    }
    /* Keys come back through iteration with their bytes intact. */
    struct strmap_iter it;
    const char *k;
    size_t len;
    void *v;
    int n = 0;
    strmap_iter_init(&it, m);
    while (strmap_next(&it, &k, &len, &v)) {
        assert_memory_equal(k, v, len);
        n++;
    }
    assert_int_equal(n, 65 * 2 - 1);
    for (size_t l = 0; l <= 64; l++)
        assert_ptr_equal(strmap_del(m, keys[l][0], l), keys[l][0]);
    assert_int_equal(strmap_count(m), 64);
    strmap_free(m);
}

/* Copied keys are copies: the caller's buffer can change afterwards. */
static void test_keys_are_copied(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    char shortk[8] = "abc", longk[40] = "a-key-longer-than-sixteen-bytes";
    int a, b;
    assert_int_equal(strmap_put(m, shortk, 3, &a, NULL), 0);
    assert_int_equal(strmap_put(m, longk, strlen(longk), &b, NULL), 0);
    memset(shortk, 'x', sizeof shortk);
    memset(longk, 'x', sizeof longk);
    assert_ptr_equal(strmap_get(m, "abc", 3), &a);
    assert_ptr_equal(strmap_get(m, "a-key-longer-than-sixteen-bytes", 31), &b);
    assert_null(strmap_get(m, shortk, 3));
    strmap_free(m);
}

/* Random puts, replaces and deletes of keys of mixed lengths, checked
 * against an array after every step and by a full iteration at the end. */
static void test_differential_random(void **state)
{
    (void)state;
    enum { NKEYS = 500 };
    static char keys[NKEYS][48];
    static size_t lens[NKEYS];
    static uintptr_t model[NKEYS]; /* 0 = absent */
    unsigned seed = 7;
    for (int i = 0; i < NKEYS; i++) {
        lens[i] = (size_t)(rand_r(&seed) % 40);
        int n = snprintf(keys[i], sizeof keys[i], "%d/", i);
        for (size_t j = (size_t)n; j < lens[i]; j++)
            keys[i][j] = (char)(rand_r(&seed) % 4); /* NULs and control bytes */
        if (lens[i] < (size_t)n) lens[i] = (size_t)n;
    }
    struct strmap *m = strmap_new();
    size_t count = 0;
    for (int step = 0; step < 200000; step++) {
        int i = (int)(rand_r(&seed) % NKEYS);
        unsigned op = rand_r(&seed) % 3;
        if (op < 2) {
            uintptr_t val = (uintptr_t)step + 1;
            void *old = (void *)1;
            assert_int_equal(strmap_put(m, keys[i], lens[i], (void *)val, &old), 0);
            assert_ptr_equal(old, (void *)model[i]);
            count += model[i] == 0;
            model[i] = val;
        } else {
            assert_ptr_equal(strmap_del(m, keys[i], lens[i]), (void *)model[i]);
            count -= model[i] != 0;
            model[i] = 0;
        }
        assert_int_equal(strmap_count(m), count);
        int j = (int)(rand_r(&seed) % NKEYS);
        assert_ptr_equal(strmap_get(m, keys[j], lens[j]), (void *)model[j]);
    }
    static char seen[NKEYS];
    struct strmap_iter it;
    const char *k;
    size_t len;
    void *v;
    size_t n = 0;
    strmap_iter_init(&it, m);
    while (strmap_next(&it, &k, &len, &v)) {
        int i = atoi(k);
        assert_true(i >= 0 && i < NKEYS);
        assert_int_equal(len, lens[i]);
        assert_memory_equal(k, keys[i], len);
        assert_ptr_equal(v, (void *)model[i]);
        assert_int_equal(seen[i]++, 0);
        n++;
    }
    assert_int_equal(n, count);
    strmap_free(m);
}

/* Iteration after heavy churn still visits each live entry exactly once. */
static void test_iteration_after_deletes(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    char k[16];
    for (uintptr_t i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "k%lu", (unsigned long)i);
        assert_int_equal(strmap_put(m, k, (size_t)n, (void *)(i + 1), NULL), 0);
    }
    for (uintptr_t i = 0; i < 5000; i++) {
        if (i % 5 == 0) continue;
        int n = snprintf(k, sizeof k, "k%lu", (unsigned long)i);
        assert_ptr_equal(strmap_del(m, k, (size_t)n), (void *)(i + 1));
    }
    static char seen[5000];
    struct strmap_iter it;
    const char *key;
    size_t len;
    void *v;
    int count = 0;
    strmap_iter_init(&it, m);
    while (strmap_next(&it, &key, &len, &v)) {
        uintptr_t i = (uintptr_t)v - 1;
        assert_int_equal(i % 5, 0);
        assert_int_equal(seen[i]++, 0);
        count++;
    }
    assert_int_equal(count, 1000);
    assert_int_equal(strmap_count(m), 1000);
    strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_grow_delete_reinsert_100k),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_iteration_sees_each_once),
        cmocka_unit_test(test_delete_keeps_probe_runs),
        cmocka_unit_test(test_borrowed_keys_are_not_copied_or_freed),
        cmocka_unit_test(test_replace_rebinds_borrowed_key),
        cmocka_unit_test(test_key_lengths_and_nul_bytes),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_differential_random),
        cmocka_unit_test(test_iteration_after_deletes),
    };
    return cmocka_run_group_tests_name("strmap", tests, NULL, NULL);
}
