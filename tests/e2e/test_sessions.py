"""Persistent sessions: resume, offline queueing, redelivery with DUP, bounds, expiry.

Surviving restarts and kill -9 is in test_persistence.py."""
import pytest

from mqtt_raw import (Client, publish, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
                      DISCONNECT_BYTES)
from sessions import persistent, publish_acked, drain


def test_session_present_and_offline_messages_delivered_in_order(broker):
    c, present = persistent(broker)
    assert present == 0
    c.close()
    publish_acked(broker, 5, qos=1)
    publish_acked(broker, 2, qos=2, start=5)
    publish_acked(broker, 1, qos=0, start=7)
    c, present = persistent(broker, filt=None)
    assert present == 1
    got = drain(c, 7)
    assert [m.payload for m in got] == [b"m%d" % i for i in range(7)]
    # Keeping QoS 0 messages for an offline client is the broker's choice (mosquitto does not by
    # default); if it does, the message comes last, at QoS 0, and once.
    try:
        last = c.recv(0.5)
    except TimeoutError:
        return
    assert (last.type, last.qos, last.payload) == (PUBLISH, 0, b"m7")
    c.no_packet(0.3)


@pytest.mark.parametrize("qos", [1, 2])
def test_unacked_inflight_is_resent_with_dup_and_same_id(broker, qos):
    c, _ = persistent(broker, qos=qos)
    publish_acked(broker, 1, qos=qos)
    first = c.expect(PUBLISH)
    assert not first.dup and first.qos == qos
    c.close()  # neither PUBACK nor PUBREC
    c, present = persistent(broker, filt=None)
    assert present == 1
    again = c.expect(PUBLISH)
    assert again.dup and again.qos == qos
    assert (again.pid, again.topic, again.payload) == (first.pid, first.topic, first.payload)
    drain_one_ack(c, again)
    c.no_packet(0.5)


def drain_one_ack(c, m):
    if m.qos == 1:
        c.send(ack(PUBACK, m.pid))
    else:
        c.send(ack(PUBREC, m.pid))
        assert c.expect(PUBREL).pid == m.pid
        c.send(ack(PUBCOMP, m.pid))


def test_subscriptions_kept_across_reconnect(broker):
    c, present = persistent(broker, filt="keep/+", qos=1)
    assert present == 0
    c.send(DISCONNECT_BYTES)
    assert c.is_closed()
    c, present = persistent(broker, filt=None)
    assert present == 1
    p = Client(broker.port)
    p.connect("pub")
    p.send(publish("keep/x", b"live", qos=1, pid=3))
    assert p.expect(PUBACK).pid == 3
    got = c.expect(PUBLISH)
    assert (got.topic, got.payload, got.qos) == ("keep/x", b"live", 1)


def test_clean_session_discards_stored_session(broker):
    c, _ = persistent(broker)
    c.close()
    publish_acked(broker, 3)
    fresh = Client(broker.port)
    assert fresh.connect("dev", clean=True) == (0, 0)
    fresh.no_packet(0.5)
    fresh.close()
    c, present = persistent(broker, filt=None)
    assert present == 0
    c.no_packet(0.5)


def test_offline_queue_is_bounded(start_broker):
    b = start_broker("--max-queued-messages", "5")
    c, _ = persistent(b)
    c.close()
    publish_acked(b, 12)
    c, _ = persistent(b, filt=None)
    got = []
    while True:
        try:
            m = c.recv(0.7)
        except TimeoutError:
            break
        got.append(int(m.payload[1:]))
        c.send(ack(PUBACK, m.pid))
    # At most 5 kept, and what arrives is in publish order. (Which ones a full queue drops, the
    # oldest or the newest, is a policy this test leaves open.)
    assert 1 <= len(got) <= 5, got
    assert got == sorted(got) and len(set(got)) == len(got), got


def test_offline_session_expires(start_broker):
    b = start_broker("--session-expiry", "1")
    c, _ = persistent(b, cid="ephemeral")
    c.close()
    b.wait_log("session expired: id=ephemeral", timeout=10)
    c, present = persistent(b, cid="ephemeral", filt=None)
    assert present == 0


def test_takeover_resends_unacknowledged_delivery_with_dup(broker):
    first, _ = persistent(broker, cid="roam")
    publish_acked(broker, 1)
    m = first.expect(PUBLISH)  # not acknowledged on this connection...
    second, present = persistent(broker, cid="roam", filt=None)
    assert present == 1
    assert first.is_closed()
    again = second.expect(PUBLISH)  # ...so the new one gets it again
    assert again.dup and (again.pid, again.payload, again.qos) == (m.pid, m.payload, 1)
    second.send(ack(PUBACK, again.pid))
    second.no_packet(0.3)


def test_retained_published_while_offline_arrives_once_as_a_live_message(broker):
    c, _ = persistent(broker, filt="r/#")
    c.close()
    p = Client(broker.port)
    p.connect("pub")
    p.send(publish("r/x", b"while away", qos=1, retain=True, pid=1))
    assert p.expect(PUBACK).pid == 1
    c, present = persistent(broker, filt=None)
    assert present == 1
    got = drain(c, 1)[0]
    # It matched an established subscription, so RETAIN is 0 (MQTT-3.3.1-9), and only the
    # queued copy arrives: reconnecting is not subscribing.
    assert (got.topic, got.payload, got.retain) == ("r/x", b"while away", False)
    c.no_packet(0.5)
