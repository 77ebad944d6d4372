/* test_strmap.c - hash map: growth, deletion with backward shift, binary keys, iteration. */
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

static void test_replace_rebinds_borrowed_key(void **state)
{
    (void)state;
    struct strmap *m = strmap_new();
    char *first = strdup("client-7"), *second = strdup("client-7");
    int a, b;
    assert_int_equal(strmap_put_borrowed(m, first, 8, &a, NULL), 0);
    void *old = NULL;
    assert_int_equal(strmap_put_borrowed(m, second, 8, &b, &old), 0);
    assert_ptr_equal(old, &a);
    free(first); /* the map must now point at `second`: ASan sees any use of `first` */
    assert_ptr_equal(strmap_get(m, "client-7", 8), &b);
    /* A copying put over a borrowed key takes its own copy. */
    assert_int_equal(strmap_put(m, "client-7", 8, &a, NULL), 0);
    free(second);
    assert_ptr_equal(strmap_get(m, "client-7", 8), &a);
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
    };
    return cmocka_run_group_tests_name("strmap", tests, NULL, NULL);
}
