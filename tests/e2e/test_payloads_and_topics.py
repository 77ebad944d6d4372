"""Payloads and topics arrive exactly as sent: binary, empty, large, multibyte UTF-8."""
import pytest

from mqtt_raw import Client, publish, ack, PUBLISH, PUBACK


def pair(broker, filt, qos=0):
    s = Client(broker.port)
    s.connect("s")
    assert s.subscribe(1, (filt, qos)) == [qos]
    p = Client(broker.port)
    p.connect("p")
    return s, p


@pytest.mark.parametrize("payload", [b"", b"\x00", bytes(range(256)) * 4, b"\xff" * 65536],
                         ids=["empty", "nul", "all-bytes", "64k"])
def test_payload_delivered_byte_for_byte(broker, payload):
    s, p = pair(broker, "bin", qos=1)
    p.send(publish("bin", payload, qos=1, pid=1))
    assert p.expect(PUBACK).pid == 1
    got = s.expect(PUBLISH)
    assert got.payload == payload
    s.send(ack(PUBACK, got.pid))


def test_multibyte_utf8_topics_route_by_level(broker):
    s, p = pair(broker, "zimmer/+/température")
    p.send(publish("zimmer/küche/température", "21°C"))
    p.send(publish("zimmer/küche/temperature", "no"))  # differs only by an accent
    p.send(publish("zimmer/寝室/température", "19°C"))
    got = [s.expect(PUBLISH) for _ in range(2)]
    assert [(g.topic, g.payload.decode()) for g in got] == [
        ("zimmer/küche/température", "21°C"), ("zimmer/寝室/température", "19°C")]
    s.no_packet(0.3)


def test_topic_of_65535_bytes_accepted(broker):
    topic = "t/" + "x" * 65533  # the longest an MQTT string can be
    s, p = pair(broker, "t/+")
    p.send(publish(topic, b"long"))
    got = s.expect(PUBLISH)
    assert (len(got.topic), got.payload) == (65535, b"long")


def test_fan_out_to_many_subscribers(broker):
    subs = []
    for i in range(50):
        c = Client(broker.port)
        c.connect("fan%d" % i)
        c.subscribe(1, ("fan/out", 1))
        subs.append(c)
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("fan/out", b"all of you", qos=1, pid=1))
    assert p.expect(PUBACK).pid == 1
    for c in subs:
        got = c.expect(PUBLISH)
        assert (got.payload, got.qos) == (b"all of you", 1)
        c.send(ack(PUBACK, got.pid))
