/* test_persist.c - write-behind persistence: what is committed loads back, epochs advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "message.h"
#include "persist.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct loaded {
    int retained, messages, sessions, subs, deliveries, incoming;
    char last_retained[64];
    uint64_t seqs[16];
    uint8_t states[16];
    uint64_t last_msg_id;
};

static int on_retained(void *ctx, const char *t, size_t tl, const void *p, size_t pl, uint8_t q)
{
    struct loaded *l = ctx;
    (void)q;
    l->retained++;
    snprintf(l->last_retained, sizeof l->last_retained, "%.*s=%.*s", (int)tl, t, (int)pl,
             (const char *)p);
    return 0;
}

static int on_message(void *ctx, uint64_t id, const char *t, size_t tl, const void *p, size_t pl,
                      uint8_t q)
{
    struct loaded *l = ctx;
    (void)t, (void)tl, (void)p, (void)pl, (void)q;
    l->messages++;
    l->last_msg_id = id;
    return 0;
}

static int on_session(void *ctx, const char *id, size_t len, uint64_t since)
{
    (void)id, (void)len, (void)since;
    ((struct loaded *)ctx)->sessions++;
    return 0;
}

static int on_sub(void *ctx, const char *id, size_t len, const char *f, size_t fl, uint8_t q)
{
    (void)id, (void)len, (void)f, (void)fl, (void)q;
    ((struct loaded *)ctx)->subs++;
    return 0;
}

static int on_delivery(void *ctx, const char *id, size_t len, uint64_t seq, uint64_t msg_id,
                       uint8_t qos, uint8_t state, uint16_t pid, bool retained)
{
    struct loaded *l = ctx;
    (void)id, (void)len, (void)msg_id, (void)qos, (void)pid, (void)retained;
    if (l->deliveries < 16) {
        l->seqs[l->deliveries] = seq;
        l->states[l->deliveries] = state;
    }
    l->deliveries++;
    return 0;
}

static int on_incoming(void *ctx, const char *id, size_t len, uint16_t pid)
{
    (void)id, (void)len, (void)pid;
    ((struct loaded *)ctx)->incoming++;
    return 0;
}

static struct persist_loader loader_for(struct loaded *l)
{
    struct persist_loader ld = {l,      on_retained, on_message,  on_session,
                                on_sub, on_delivery, on_incoming, NULL};
    return ld;
}

static uint64_t committed_epoch;
static void on_commit(void *ctx, uint64_t epoch)
{
    (void)ctx;
    committed_epoch = epoch;
}

/* Run the loop until the writer has committed `epoch`. */
static void wait_commit(uv_loop_t *loop, struct persist *p, uint64_t epoch)
{
    for (int i = 0; i < 5000 && persist_committed(p) < epoch; i++) {
        persist_flush(p);
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_true(persist_committed(p) >= epoch);
}

static char *temp_db(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/umbra-persist-XXXXXX");
    assert_non_null(mkdtemp(dir));
    static char path[96];
    snprintf(path, sizeof path, "%s/umbra.db", dir);
    return path;
}

static void remove_db(const char *path)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
}

static void test_committed_state_loads_back(void **state)
{
    (void)state;
    const char *path = temp_db();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct persist *p;
    assert_int_equal(persist_open(&p, path, false), 0);
    struct loaded l0 = {0};
    struct persist_loader ld0 = loader_for(&l0);
    assert_int_equal(persist_load(p, &ld0), 0);
    assert_int_equal(l0.sessions, 0);
    assert_int_equal(persist_start(p, &loop, on_commit, NULL), 0);

    uint64_t epoch = persist_epoch(p);
    struct umbra_msg *r = msg_new("room/temp", 9, "21", 2, 1);
    persist_retain_set(p, r);
    persist_session_put(p, "dev1", 4, 0);
    persist_sub_put(p, "dev1", 4, "room/#", 6, 1);
    struct umbra_msg *m = msg_new("room/temp", 9, "22", 2, 1);
    persist_msg_ref(p, m);
    persist_delivery_put(p, "dev1", 4, 1, m, 1, 0, 0, false);
    persist_msg_ref(p, m); /* a second delivery shares the stored message */
    persist_delivery_put(p, "dev1", 4, 2, m, 1, 1, 7, false);
    persist_incoming_qos2(p, "dev1", 4, 9, true);
    assert_true(persist_op_count(p) >= 7);
    msg_unref(r);
    wait_commit(&loop, p, epoch);
    assert_true(committed_epoch >= epoch);
    assert_true(persist_epoch(p) > epoch);

    /* Deleting the first delivery keeps the shared message row. */
    epoch = persist_epoch(p);
    persist_delivery_del(p, "dev1", 4, 1);
    persist_msg_unref(p, m);
    wait_commit(&loop, p, epoch);
    msg_unref(m);
    persist_close(p);
    uv_run(&loop, UV_RUN_DEFAULT);

    assert_int_equal(persist_open(&p, path, false), 0);
    struct loaded l = {0};
    struct persist_loader ld = loader_for(&l);
    assert_int_equal(persist_load(p, &ld), 0);
    assert_int_equal(l.retained, 1);
    assert_string_equal(l.last_retained, "room/temp=21");
    assert_int_equal(l.sessions, 1);
    assert_int_equal(l.subs, 1);
    assert_int_equal(l.messages, 1);
    assert_int_equal(l.deliveries, 1);
    assert_int_equal(l.seqs[0], 2);
    assert_int_equal(l.states[0], 1);
    assert_int_equal(l.incoming, 1);
    persist_close(p);
    uv_loop_close(&loop);
    remove_db(path);
}

static void test_session_delete_cascades(void **state)
{
    (void)state;
    const char *path = temp_db();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct persist *p;
    assert_int_equal(persist_open(&p, path, true), 0);
    assert_int_equal(persist_start(p, &loop, on_commit, NULL), 0);
    struct umbra_msg *m = msg_new("t", 1, "x", 1, 1);
    persist_session_put(p, "a", 1, 0);
    persist_sub_put(p, "a", 1, "t", 1, 1);
    persist_msg_ref(p, m);
    persist_delivery_put(p, "a", 1, 1, m, 1, 0, 0, false);
    persist_incoming_qos2(p, "a", 1, 3, true);
    persist_session_del(p, "a", 1);
    persist_msg_unref(p, m);
    persist_retain_set(p, m);
    persist_retain_del(p, "t", 1);
    wait_commit(&loop, p, persist_epoch(p));
    msg_unref(m);
    persist_close(p);
    uv_run(&loop, UV_RUN_DEFAULT);

    assert_int_equal(persist_open(&p, path, false), 0);
    struct loaded l = {0};
    struct persist_loader ld = loader_for(&l);
    assert_int_equal(persist_load(p, &ld), 0);
    assert_int_equal(l.sessions + l.subs + l.deliveries + l.incoming + l.messages + l.retained,
                     0);
    persist_close(p);
    uv_loop_close(&loop);
    remove_db(path);
}

static void test_close_writes_uncommitted_batch(void **state)
{
    (void)state;
    const char *path = temp_db();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct persist *p;
    assert_int_equal(persist_open(&p, path, false), 0);
    assert_int_equal(persist_start(p, &loop, on_commit, NULL), 0);
    persist_session_put(p, "late", 4, 0); /* never flushed by a loop turn */
    persist_close(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(persist_open(&p, path, false), 0);
    struct loaded l = {0};
    struct persist_loader ld = loader_for(&l);
    assert_int_equal(persist_load(p, &ld), 0);
    assert_int_equal(l.sessions, 1);
    persist_close(p);
    uv_loop_close(&loop);
    remove_db(path);
}

static void test_open_refuses_a_non_database(void **state)
{
    (void)state;
    const char *path = temp_db();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an sqlite database, it is plain text long enough to have a header", f);
    fclose(f);
    struct persist *p = NULL;
    assert_int_equal(persist_open(&p, path, false), UMBRA_EIO);
    remove_db(path);
}

static void test_open_refuses_a_newer_schema(void **state)
{
    (void)state;
    const char *path = temp_db();
    struct persist *p = NULL;
    assert_int_equal(persist_open(&p, path, false), 0);
    persist_close(p);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE schema_version SET version = 2 WHERE component = "
                                  "'broker'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    p = NULL;
    assert_int_equal(persist_open(&p, path, false), UMBRA_EIO);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_state_loads_back),
        cmocka_unit_test(test_session_delete_cascades),
        cmocka_unit_test(test_close_writes_uncommitted_batch),
        cmocka_unit_test(test_open_refuses_a_non_database),
        cmocka_unit_test(test_open_refuses_a_newer_schema),
    };
    return cmocka_run_group_tests_name("persist", tests, NULL, NULL);
}
