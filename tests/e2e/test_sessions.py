"""Persistent sessions: resume, offline queueing, redelivery with DUP, bounds, persistence."""
import time

from mqtt_raw import Client, publish, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, subscribe


def persistent(broker, cid="dev", filt="s/#", qos=1):
    c = Client(broker.port)
    present, rc = c.connect(cid, clean=False)
    assert rc == 0
    if filt:
        c.subscribe(1, (filt, qos))
    return c, present


def publish_acked(broker, n, qos=1, topic="s/t", start=0):
    p = Client(broker.port)
    p.connect("pub")
    for i in range(start, start + n):
        p.send(publish(topic, b"m%d" % i, qos=qos, pid=i + 1))
        if qos == 1:
            assert p.expect(PUBACK).pid == i + 1
        elif qos == 2:
            assert p.expect(PUBREC).pid == i + 1
            p.send(ack(PUBREL, i + 1))
            p.expect(PUBCOMP)
    p.close()


def drain(c, n, qos=1):
    out = []
    for _ in range(n):
        m = c.expect(PUBLISH)
        out.append(m)
        if m.qos == 1:
            c.send(ack(PUBACK, m.pid))
        elif m.qos == 2:
            c.send(ack(PUBREC, m.pid))
            c.expect(PUBREL)
            c.send(ack(PUBCOMP, m.pid))
    return out


def test_session_present_and_offline_messages_delivered_in_order(broker):
    c, present = persistent(broker)
    assert present == 0
    c.close()
    publish_acked(broker, 5, qos=1)
    publish_acked(broker, 2, qos=2, start=5)
    publish_acked(broker, 1, qos=0, start=7)  # QoS 0 is not kept offline
    c, present = persistent(broker, filt=None)
    assert present == 1
    got = drain(c, 7)
    assert [m.payload for m in got] == [b"m%d" % i for i in range(7)]
    c.no_packet(0.5)


def test_unacked_inflight_is_resent_with_dup_and_same_id(broker):
    c, _ = persistent(broker)
    publish_acked(broker, 1)
    first = c.expect(PUBLISH)
    assert not first.dup
    c.close()  # no PUBACK
    c, present = persistent(broker, filt=None)
    assert present == 1
    again = c.expect(PUBLISH)
    assert again.dup and again.pid == first.pid and again.payload == first.payload
    c.send(ack(PUBACK, again.pid))
    c.no_packet(0.5)


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
    assert 1 <= len(got) <= 5
    assert got == sorted(got)


def test_session_survives_restart(broker):
    c, _ = persistent(broker)
    c.close()
    publish_acked(broker, 3)
    broker.restart()
    c, present = persistent(broker, filt=None)
    assert present == 1
    assert [m.payload for m in drain(c, 3)] == [b"m0", b"m1", b"m2"]
    # The subscription itself survived too.
    publish_acked(broker, 1, start=3)
    assert drain(c, 1)[0].payload == b"m3"


def test_acknowledged_messages_survive_kill_9(broker):
    c, _ = persistent(broker)
    c.close()
    publish_acked(broker, 20)
    broker.kill9()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    assert [m.payload for m in drain(c, 20)] == [b"m%d" % i for i in range(20)]


def test_subscription_acknowledged_survives_kill_9(broker):
    c = Client(broker.port)
    c.connect("subber", clean=False)
    c.send(subscribe(1, ("k9/#", 1)))
    assert c.expect(SUBACK).body == b"\x00\x01\x01"
    c.close()
    broker.kill9()
    broker.start()
    publish_acked(broker, 1, topic="k9/x")
    c2 = Client(broker.port)
    assert c2.connect("subber", clean=False) == (1, 0)
    assert c2.expect(PUBLISH).payload == b"m0"


def test_inflight_qos2_survives_kill_9_without_duplicate(broker):
    c, _ = persistent(broker, qos=2)
    publish_acked(broker, 1, qos=2)
    m = c.expect(PUBLISH)
    assert m.qos == 2
    c.send(ack(PUBREC, m.pid))
    assert c.expect(PUBREL).pid == m.pid
    c.close()
    broker.kill9()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    # Only the PUBREL is re-sent: the message is not delivered twice.
    again = c.recv()
    assert again.type == PUBREL and again.pid == m.pid
    c.send(ack(PUBCOMP, m.pid))
    c.no_packet(0.5)


def test_offline_session_expires(start_broker):
    b = start_broker("--session-expiry", "1")
    c, _ = persistent(b, cid="ephemeral")
    c.close()
    deadline = time.monotonic() + 10
    while "session expired: id=ephemeral" not in b.logs():
        assert time.monotonic() < deadline, "session never expired"
        time.sleep(0.1)
    c, present = persistent(b, cid="ephemeral", filt=None)
    assert present == 0
