"""Wildcards, overlapping subscriptions, shared subscriptions, unsubscribe."""
import pytest

from mqtt_raw import Client, publish, unsubscribe, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK


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
    p.expect(PUBREC)
    p.send(ack(PUBREL, 1))  # a broker may hold a QoS 2 message until PUBREL (4.3.3)
    p.expect(PUBCOMP)
    got = s.expect(PUBLISH)
    assert got.qos == 2
    s.send(ack(PUBREC, got.pid))
    assert s.expect(PUBREL).pid == got.pid
    s.send(ack(PUBCOMP, got.pid))
    s.no_packet(0.5)


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
def test_hash_at_qos0_and_exact_at_qos2_give_one_delivery_at_highest_qos(broker, pub_qos):
    # Two SUBSCRIBE packets, the wider filter first (MQTT-3.3.5-1).
    s = sub(broker, "s", ("a/#", 0))
    assert s.subscribe(2, ("a/b", 2)) == [2]
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("a/b", b"x", qos=pub_qos, pid=1))
    if pub_qos == 1:
        p.expect(PUBACK)
    elif pub_qos == 2:
        p.expect(PUBREC)
        p.send(ack(PUBREL, 1))
        p.expect(PUBCOMP)
    got = s.expect(PUBLISH)
    assert (got.payload, got.qos) == (b"x", pub_qos)
    if got.qos == 1:
        s.send(ack(PUBACK, got.pid))
    elif got.qos == 2:
        s.send(ack(PUBREC, got.pid))
        assert s.expect(PUBREL).pid == got.pid
        s.send(ack(PUBCOMP, got.pid))
    s.no_packet(0.5)
    # A topic only the wide filter matches comes at its QoS 0.
    p.send(publish("a/c", b"y", qos=2, pid=2))
    p.expect(PUBREC)
    p.send(ack(PUBREL, 2))
    p.expect(PUBCOMP)
    got = s.expect(PUBLISH)
    assert (got.payload, got.qos) == (b"y", 0)


def test_hash_matches_parent_level_on_mqtt_profile(broker):
    s = sub(broker, "s", ("a/#", 0))
    pub(broker, ("a", b"parent"), ("a/b", b"child"), ("ab", b"no"))
    assert [s.expect(PUBLISH).payload for _ in range(2)] == [b"parent", b"child"]
    s.no_packet()


# The examples of MQTT 3.1.1 section 4.7, plus case sensitivity and empty levels.
MATCHES = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("#", "sport/tennis", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("+/tennis/#", "sport/tennis/x", True),
    ("ACCOUNTS", "Accounts", False),
    ("a//b", "a//b", True),
    ("a/+/b", "a//b", True),
]


@pytest.mark.parametrize("filt,topic,match", MATCHES)
def test_topic_filter_matching_follows_the_spec_examples(broker, filt, topic, match):
    s = sub(broker, "s", (filt, 0), ("sentinel", 0))
    pub(broker, (topic, b"probe"), ("sentinel", b"end"))  # one connection: delivered in order
    first = s.expect(PUBLISH)
    if match:
        assert (first.topic, first.payload) == (topic, b"probe")
        first = s.expect(PUBLISH)
    assert first.payload == b"end", "%r matched %r" % (filt, topic)


def test_resubscribe_replaces_qos_and_resends_retained(broker):
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("r/s", b"kept", qos=1, retain=True, pid=1))
    p.expect(PUBACK)
    s = sub(broker, "s", ("r/s", 0))
    assert s.expect(PUBLISH).qos == 0
    assert s.subscribe(2, ("r/s", 1)) == [1]  # the same filter again: replaces it (MQTT-3.8.4-3)
    again = s.expect(PUBLISH)  # retained messages are re-sent
    assert (again.payload, again.retain, again.qos) == (b"kept", True, 1)
    s.send(ack(PUBACK, again.pid))
    p.send(publish("r/s", b"live", qos=1, pid=2))
    got = s.expect(PUBLISH)
    assert (got.payload, got.qos) == (b"live", 1)  # once, at the new QoS
    s.send(ack(PUBACK, got.pid))
    s.no_packet(0.3)


def test_unsubscribe_of_unknown_filter_still_gets_unsuback(broker):
    s = sub(broker, "s", ("x", 0))
    s.send(unsubscribe(9, "never/subscribed", "x"))
    assert s.expect(UNSUBACK).pid == 9


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


@pytest.mark.parametrize("n_members", [2, 3])
def test_shared_subscription_splits_round_robin(broker, n_members):
    members = [sub(broker, "m%d" % i, ("$share/g/jobs", 0)) for i in range(n_members)]
    plain = sub(broker, "plain", ("jobs", 0))
    total = 6 * n_members
    pub(broker, *[("jobs", b"%d" % i) for i in range(total)])
    # A plain subscriber gets every message, in order.
    assert [plain.expect(PUBLISH).payload for _ in range(total)] == [b"%d" % i for i in range(total)]
    got = [[] for _ in members]
    for m, out in zip(members, got):
        for _ in range(total // n_members):  # an even split: each member gets its share...
            out.append(m.expect(PUBLISH).payload)
    for m in members:
        m.no_packet(0.3)  # ...and no more
    # Each message went to exactly one member.
    assert sorted(sum(got, []), key=int) == [b"%d" % i for i in range(total)]
    for out in got:
        assert out == sorted(out, key=int)


def test_shared_subscription_member_leaving_gets_nothing_more(broker):
    a = sub(broker, "a", ("$share/g/t", 0))
    b = sub(broker, "b", ("$share/g/t", 0))
    b.send(unsubscribe(2, "$share/g/t"))
    assert b.expect(UNSUBACK).pid == 2
    pub(broker, *[("t", b"%d" % i) for i in range(4)])
    assert [a.expect(PUBLISH).payload for _ in range(4)] == [b"0", b"1", b"2", b"3"]
    b.no_packet(0.3)


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


def test_unsubscribe_still_completes_a_qos2_delivery_in_progress(broker):
    # MQTT-3.10.4-3: deliveries already started are completed after UNSUBSCRIBE.
    s = sub(broker, "s", ("u2/t", 2))
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("u2/t", b"started", qos=2, pid=1))
    p.expect(PUBREC)
    p.send(ack(PUBREL, 1))
    p.expect(PUBCOMP)
    m = s.expect(PUBLISH)
    s.send(unsubscribe(2, "u2/t"))
    assert s.expect(UNSUBACK).pid == 2
    s.send(ack(PUBREC, m.pid))
    assert s.expect(PUBREL).pid == m.pid
    s.send(ack(PUBCOMP, m.pid))
    p.send(publish("u2/t", b"after", qos=2, pid=2))
    p.expect(PUBREC)
    p.send(ack(PUBREL, 2))
    p.expect(PUBCOMP)
    s.no_packet(0.3)


def test_one_subscribe_with_many_filters(broker):
    filters = [("many/%d" % i, i % 3) for i in range(200)]
    s = Client(broker.port)
    s.connect("s")
    assert s.subscribe(7, *filters) == [q for _, q in filters]  # codes in filter order
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("many/199", b"last"))
    got = s.expect(PUBLISH)
    assert (got.topic, got.payload) == ("many/199", b"last")
