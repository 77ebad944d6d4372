/* test_session.c - session bookkeeping: queue bounds, drop policy, packet ids, in-flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "message.h"
#include "session.h"

#include <string.h>

static struct umbra_delivery make(uint8_t qos, size_t payload_len, char tag)
{
    char payload[256];
    memset(payload, tag, sizeof payload);
    struct umbra_delivery d = {0};
    d.msg = msg_new("t", 1, payload, payload_len, qos);
    d.qos = qos;
    return d;
}

static char tag_of(const struct umbra_delivery *d)
{
    return d->msg->payload_len ? (char)d->msg->payload[0] : 0;
}

static void test_queue_keeps_arrival_order(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    struct session_limits lim = {10, 100, 0};
    for (char t = 'a'; t <= 'z'; t++) {
        struct umbra_delivery d = make(1, 1, t);
        assert_int_equal(session_enqueue(s, &lim, &d), 0);
    }
    assert_int_equal(session_queued(s), 26);
    struct umbra_delivery d;
    for (char t = 'a'; t <= 'z'; t++) {
        assert_true(session_dequeue(s, &d));
        assert_int_equal(tag_of(&d), t);
        msg_unref(d.msg);
    }
    assert_false(session_dequeue(s, &d));
    assert_int_equal(s->queued_bytes, 0);
    session_free(s);
}

static void test_queue_message_bound_drops_new_qos1(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    struct session_limits lim = {10, 3, 0};
    for (char t = 'a'; t < 'a' + 5; t++) {
        /* The router asks first, to drop a QoS 0 message before copying it. */
        assert_int_equal(session_has_room(s, &lim, 4), t < 'a' + 3);
        struct umbra_delivery d = make(1, 4, t);
        int rc = session_enqueue(s, &lim, &d);
        assert_int_equal(rc, t < 'a' + 3 ? 0 : UMBRA_ELIMIT);
    }
    assert_int_equal(session_queued(s), 3);
    assert_int_equal(s->dropped, 2);
    struct umbra_delivery d;
    assert_true(session_dequeue(s, &d));
    assert_int_equal(tag_of(&d), 'a');
    msg_unref(d.msg);
    session_free(s);
}

static void test_queue_full_drops_oldest_qos0_first(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    struct session_limits lim = {10, 3, 0};
    struct umbra_delivery a = make(1, 1, 'a'), b = make(0, 1, 'b'), c = make(0, 1, 'c');
    assert_int_equal(session_enqueue(s, &lim, &a), 0);
    assert_int_equal(session_enqueue(s, &lim, &b), 0);
    assert_int_equal(session_enqueue(s, &lim, &c), 0);
    /* A QoS 1 arrival evicts the oldest QoS 0 ('b'). */
    struct umbra_delivery d1 = make(1, 1, 'd');
    assert_int_equal(session_enqueue(s, &lim, &d1), 0);
    /* A QoS 0 arrival into a full queue is itself dropped. */
    struct umbra_delivery e = make(0, 1, 'e');
    assert_int_equal(session_enqueue(s, &lim, &e), UMBRA_ELIMIT);
    assert_int_equal(s->dropped, 2);
    const char want[] = {'a', 'c', 'd'};
    for (int i = 0; i < 3; i++) {
        struct umbra_delivery d;
        assert_true(session_dequeue(s, &d));
        assert_int_equal(tag_of(&d), want[i]);
        msg_unref(d.msg);
    }
    assert_int_equal(s->queued_qos0, 0);
    session_free(s);
}

static void test_queue_byte_bound(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    struct session_limits lim = {10, 1000, 250};
    struct umbra_delivery a = make(1, 100, 'a'), b = make(1, 100, 'b'), c = make(1, 100, 'c');
    assert_int_equal(session_enqueue(s, &lim, &a), 0);
    assert_int_equal(session_enqueue(s, &lim, &b), 0);
    assert_int_equal(session_enqueue(s, &lim, &c), UMBRA_ELIMIT);
    assert_int_equal(s->queued_bytes, 200);
    struct umbra_delivery d;
    assert_true(session_dequeue(s, &d));
    msg_unref(d.msg);
    assert_int_equal(s->queued_bytes, 100);
    struct umbra_delivery e = make(1, 100, 'e');
    assert_int_equal(session_enqueue(s, &lim, &e), 0);
    session_free(s);
}

static void test_enqueue_front_and_ring_wrap(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    struct session_limits lim = {10, 1000, 0};
    /* Move the ring's head around so pushes wrap. */
    for (int round = 0; round < 20; round++) {
        struct umbra_delivery x = make(1, 1, 'x');
        session_enqueue(s, &lim, &x);
        struct umbra_delivery d;
        session_dequeue(s, &d);
        msg_unref(d.msg);
    }
    struct umbra_delivery b = make(1, 1, 'b'), a = make(1, 1, 'a');
    session_enqueue(s, &lim, &b);
    session_enqueue_front(s, &a);
    struct umbra_delivery d;
    assert_true(session_dequeue(s, &d));
    assert_int_equal(tag_of(&d), 'a');
    msg_unref(d.msg);
    assert_true(session_dequeue(s, &d));
    assert_int_equal(tag_of(&d), 'b');
    msg_unref(d.msg);
    session_free(s);
}

static void test_packet_ids_skip_zero_and_in_flight(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    s->last_packet_id = 65534;
    assert_int_equal(session_next_packet_id(s), 65535);
    /* Wraps past 0; id 1 is in flight so 2 comes next. */
    struct umbra_delivery d = make(1, 1, 'a');
    d.packet_id = 1;
    assert_int_equal(session_inflight_add(s, &d), 0);
    assert_int_equal(session_next_packet_id(s), 2);
    session_free(s);
}

static void test_inflight_take_keeps_order(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    for (uint16_t id = 1; id <= 4; id++) {
        struct umbra_delivery d = make(1, 1, (char)('a' + id));
        d.packet_id = id;
        session_inflight_add(s, &d);
    }
    struct umbra_delivery out;
    assert_true(session_inflight_take(s, 2, &out));
    msg_unref(out.msg);
    assert_false(session_inflight_take(s, 2, &out));
    assert_int_equal(s->ninflight, 3);
    assert_int_equal(s->inflight[0].packet_id, 1);
    assert_int_equal(s->inflight[1].packet_id, 3);
    assert_int_equal(s->inflight[2].packet_id, 4);
    assert_non_null(session_inflight_find(s, 4));
    assert_null(session_inflight_find(s, 9));
    session_free(s);
}

static void test_subscriptions_set_replace_delete(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    bool existed = true;
    assert_int_equal(session_sub_set(s, "a/+", 3, 1, &existed), 0);
    assert_false(existed);
    assert_int_equal(session_sub_set(s, "a/+", 3, 2, &existed), 0);
    assert_true(existed);
    assert_int_equal(s->nsubs, 1);
    assert_int_equal(s->subs[0].qos, 2);
    assert_int_equal(session_sub_del(s, "a/#", 3), UMBRA_ENOTFOUND);
    assert_int_equal(session_sub_del(s, "a/+", 3), 0);
    assert_int_equal(s->nsubs, 0);
    session_free(s);
}

static void test_incoming_qos2_ids(void **state)
{
    (void)state;
    struct umbra_session *s = session_new("c", 1);
    assert_false(session_incoming_qos2_has(s, 7));
    assert_int_equal(session_incoming_qos2_add(s, 7), 0);
    assert_int_equal(session_incoming_qos2_add(s, 7), 0);
    assert_int_equal(s->nincoming_qos2, 1);
    assert_true(session_incoming_qos2_has(s, 7));
    assert_true(session_incoming_qos2_del(s, 7));
    assert_false(session_incoming_qos2_del(s, 7));
    session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_keeps_arrival_order),
        cmocka_unit_test(test_queue_message_bound_drops_new_qos1),
        cmocka_unit_test(test_queue_full_drops_oldest_qos0_first),
        cmocka_unit_test(test_queue_byte_bound),
        cmocka_unit_test(test_enqueue_front_and_ring_wrap),
        cmocka_unit_test(test_packet_ids_skip_zero_and_in_flight),
        cmocka_unit_test(test_inflight_take_keeps_order),
        cmocka_unit_test(test_subscriptions_set_replace_delete),
        cmocka_unit_test(test_incoming_qos2_ids),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
