"""Wildcards, overlapping subscriptions, shared subscriptions, unsubscribe."""
from mqtt_raw import Client, publish, unsubscribe, ack, PUBLISH, PUBACK, UNSUBACK


def sub(broker, cid, *filters):
    c = Client(broker.port)
    c.connect(cid)
    c.subscribe(1, *filters)
    return c


def pub(broker, *msgs):
    p = Client(broker.port)
    p.connect("pub")
    for topic, payload in msgs:
        p.send(publish(topic, payload))
    return p


def test_overlapping_subscriptions_deliver_once_at_highest_qos(broker):
    s = sub(broker, "s", ("a/#", 0), ("a/b", 2), ("a/+", 1))
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("a/b", b"x", qos=2, pid=1))
    got = s.expect(PUBLISH)
    assert got.qos == 2
    s.no_packet(0.5)


def test_plus_and_hash_wildcards(broker):
    s = sub(broker, "s", ("a/+/c", 0), ("x/#", 0))
    pub(broker, ("a/b/c", b"1"), ("a/b/d", b"no"), ("x", b"2"), ("x/y/z", b"3"), ("a/c", b"no"))
    got = sorted(s.expect(PUBLISH).payload for _ in range(3))
    assert got == [b"1", b"2", b"3"]
    s.no_packet()


def test_dollar_topics_not_matched_by_leading_wildcards(broker):
    s = sub(broker, "s", ("#", 0), ("+/x", 0))
    d = sub(broker, "d", ("$app/#", 0))
    pub(broker, ("$app/x", b"dollar"), ("b/x", b"plain"))
    assert d.expect(PUBLISH).payload == b"dollar"
    assert s.expect(PUBLISH).payload == b"plain"  # one delivery for two matching filters
    s.no_packet()


def test_shared_subscription_splits_round_robin(broker):
    members = [sub(broker, "m%d" % i, ("$share/g/jobs", 0)) for i in range(3)]
    plain = sub(broker, "plain", ("jobs", 0))
    pub(broker, *[("jobs", b"%d" % i) for i in range(30)])
    assert [plain.expect(PUBLISH).payload for _ in range(30)] == [b"%d" % i for i in range(30)]
    counts = []
    seen = set()
    for m in members:
        n = 0
        while True:
            try:
                seen.add(m.recv(0.5).payload)
                n += 1
            except TimeoutError:
                break
        counts.append(n)
    assert counts == [10, 10, 10]
    assert len(seen) == 30


def test_unsubscribe_stops_delivery(broker):
    s = sub(broker, "s", ("u/t", 0))
    s.send(unsubscribe(2, "u/t"))
    assert s.expect(UNSUBACK).pid == 2
    pub(broker, ("u/t", b"x"))
    s.no_packet(0.5)


def test_subscriber_sees_retain_0_on_live_messages(broker):
    s = sub(broker, "s", ("live", 1))
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("live", b"r", qos=1, retain=True, pid=3))
    p.expect(PUBACK)
    got = s.expect(PUBLISH)
    assert not got.retain
    s.send(ack(PUBACK, got.pid))
