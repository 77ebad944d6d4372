"""QoS 0, 1 and 2 in both directions, with exact acknowledgement flows."""
import pytest

from mqtt_raw import Client, publish, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP


def pair(broker, sub_qos, topic="q/t"):
    s = Client(broker.port)
    s.connect("sub")
    assert s.subscribe(1, (topic, sub_qos)) == [sub_qos]
    p = Client(broker.port)
    p.connect("pub")
    return s, p


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_delivered_qos_is_min_of_publish_and_subscription(broker, pub_qos, sub_qos):
    s, p = pair(broker, sub_qos)
    p.send(publish("q/t", b"m", qos=pub_qos, pid=10))
    if pub_qos == 1:
        assert p.expect(PUBACK).pid == 10
    elif pub_qos == 2:
        assert p.expect(PUBREC).pid == 10
        p.send(ack(PUBREL, 10))
        assert p.expect(PUBCOMP).pid == 10
    got = s.expect(PUBLISH)
    assert got.qos == min(pub_qos, sub_qos)
    assert got.payload == b"m"
    assert not got.retain and not got.dup
    if got.qos == 1:
        s.send(ack(PUBACK, got.pid))
    elif got.qos == 2:
        s.send(ack(PUBREC, got.pid))
        assert s.expect(PUBREL).pid == got.pid
        s.send(ack(PUBCOMP, got.pid))
    s.no_packet()


def test_qos2_resent_publish_before_pubrel_delivered_once(broker):
    s, p = pair(broker, 2)
    p.send(publish("q/t", b"once", qos=2, pid=5))
    assert p.expect(PUBREC).pid == 5
    p.send(publish("q/t", b"once", qos=2, pid=5, dup=True))
    assert p.expect(PUBREC).pid == 5
    p.send(ack(PUBREL, 5))
    assert p.expect(PUBCOMP).pid == 5
    got = s.expect(PUBLISH)
    assert got.payload == b"once"
    s.send(ack(PUBREC, got.pid))
    s.expect(PUBREL)
    s.send(ack(PUBCOMP, got.pid))
    s.no_packet(0.5)
    # After PUBREL the id is free again: a new message with it is a new message. (Whether it is
    # passed on at PUBLISH or at PUBREL is the broker's choice, MQTT 3.1.1 4.3.3: complete the flow.)
    p.send(publish("q/t", b"twice", qos=2, pid=5))
    assert p.expect(PUBREC).pid == 5
    p.send(ack(PUBREL, 5))
    assert p.expect(PUBCOMP).pid == 5
    assert s.expect(PUBLISH).payload == b"twice"


def test_pubrel_for_unknown_id_still_gets_pubcomp(broker):
    c = Client(broker.port)
    c.connect("c")
    c.send(ack(PUBREL, 77))
    assert c.expect(PUBCOMP).pid == 77


def test_qos1_unacked_delivery_is_not_lost_while_connected(broker):
    s, p = pair(broker, 1)
    for i in range(3):
        p.send(publish("q/t", b"%d" % i, qos=1, pid=i + 1))
        p.expect(PUBACK)
    got = [s.expect(PUBLISH) for _ in range(3)]
    assert [g.payload for g in got] == [b"0", b"1", b"2"]
    assert len({g.pid for g in got}) == 3


def test_max_inflight_window(start_broker):
    b = start_broker("--max-inflight", "2")
    s, p = pair(b, 1)
    for i in range(5):
        p.send(publish("q/t", b"%d" % i, qos=1, pid=i + 1))
        p.expect(PUBACK)
    first = [s.expect(PUBLISH) for _ in range(2)]
    s.no_packet(0.5)  # window full
    s.send(ack(PUBACK, first[0].pid))
    third = s.expect(PUBLISH)
    assert third.payload == b"2"
    s.no_packet(0.3)
    s.send(ack(PUBACK, first[1].pid))
    s.send(ack(PUBACK, third.pid))
    rest = [s.expect(PUBLISH) for _ in range(2)]
    assert [r.payload for r in rest] == [b"3", b"4"]
