"""Malformed input closes that connection and harms nobody else."""
import struct
import time

import pytest

from mqtt_raw import (Client, packet, publish, subscribe, connect, mqtt_str, PUBLISH, PUBREL,
                      SUBSCRIBE, UNSUBSCRIBE, PINGREQ, PINGREQ_BYTES, CONNACK)


def bystander(broker):
    """A subscriber on another connection that must keep working."""
    s = Client(broker.port)
    s.connect("bystander")
    assert s.subscribe(1, ("watch", 0)) == [0]
    return s


def assert_bystander_ok(broker, s):
    p = Client(broker.port)
    p.connect("pub-after")
    p.send(publish("watch", b"still here"))
    got = s.expect(PUBLISH)
    assert got.payload == b"still here"


BAD_AFTER_CONNECT = {
    "subscribe_with_flags_0": subscribe(1, ("a", 0), flags=0),
    "pubrel_with_flags_0": packet(PUBREL, 0, struct.pack("!H", 1)),
    "invalid_utf8_topic": packet(PUBLISH, 0, mqtt_str(b"a\xff\xfe")),
    "nul_in_topic": packet(PUBLISH, 0, mqtt_str(b"a\x00b")),
    "surrogate_in_topic": packet(PUBLISH, 0, mqtt_str(b"a\xed\xa0\x80")),
    "second_connect": connect("again"),
    "wildcard_in_publish_topic": publish("a/+/b"),
    "hash_in_publish_topic": publish("a/#"),
    "empty_topic": publish(""),
    "subscribe_without_filters": packet(SUBSCRIBE, 2, struct.pack("!H", 1)),
    "subscribe_qos_3": subscribe(1, ("a", 3)),
    "publish_qos1_packet_id_0": publish("a", b"x", qos=1, pid=0),
    "subscribe_packet_id_0": subscribe(0, ("a", 0)),
    "publish_qos_3": packet(PUBLISH, 0x06, mqtt_str("a") + b"\x00\x01"),
    "five_byte_remaining_length": bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    "garbage": b"\x00\x01\x02\x03garbage",
    "bad_filter": subscribe(1, ("a/#/b", 0)),
    "connack_from_client": packet(CONNACK, 0, b"\x00\x00"),
    "unsubscribe_with_flags_0": packet(UNSUBSCRIBE, 0, struct.pack("!H", 1) + mqtt_str("a")),
    "unsubscribe_without_filters": packet(UNSUBSCRIBE, 2, struct.pack("!H", 1)),
    "subscribe_reserved_bits_in_options": subscribe(1, ("a", 0x04)),
    "pingreq_with_flags": bytes([PINGREQ << 4 | 1, 0]),
    "truncated_topic_length": packet(PUBLISH, 0, b"\x00\x09abc"),
    "invalid_utf8_filter": subscribe(1, (b"a/\xc3", 0)),
    "nul_in_filter": subscribe(1, (b"a/\x00", 0)),
    "empty_filter": subscribe(1, ("", 0)),
    "publish_qos2_packet_id_0": publish("a", b"x", qos=2, pid=0),
    "unsubscribe_packet_id_0": packet(UNSUBSCRIBE, 2, struct.pack("!H", 0) + mqtt_str("a")),
    "publish_qos0_with_dup": publish("a", b"x", dup=True),  # MQTT-3.3.1-2
    "plus_inside_a_level": subscribe(1, ("a/b+", 0)),
    "hash_inside_a_level": subscribe(1, ("a/b#", 0)),
}


@pytest.mark.parametrize("name", sorted(BAD_AFTER_CONNECT))
def test_malformed_packet_closes_only_that_connection(broker, name):
    s = bystander(broker)
    c = Client(broker.port)
    c.connect("bad-" + name)
    c.send(BAD_AFTER_CONNECT[name])
    assert c.is_closed(), name
    assert_bystander_ok(broker, s)


def _connect_flags_or(cid, bits):
    pkt = bytearray(connect(cid))
    pkt[9] |= bits  # fixed header 2 + "MQTT" 6 + level 1: byte 9 holds the connect flags
    return bytes(pkt)


BAD_FIRST_PACKET = {
    "publish_before_connect": publish("watch", b"sneaked in"),
    "subscribe_before_connect": subscribe(1, ("watch", 0)),
    "pingreq_before_connect": PINGREQ_BYTES,
    "connect_reserved_flag_set": _connect_flags_or("bad-reserved", 0x01),  # MQTT-3.1.2-3
    "connect_will_qos_without_will_flag": _connect_flags_or("bad-wq", 0x08),  # MQTT-3.1.2-13
    "connect_will_retain_without_will_flag": _connect_flags_or("bad-wr", 0x20),  # MQTT-3.1.2-15
    "connect_will_qos_3": connect("bad-willqos", will=("will/t", b"x", 3, False)),
    "connect_password_without_username": connect("bad-pw", password=b"secret"),
    "connect_truncated_payload": packet(1, 0, mqtt_str("MQTT") + b"\x04\x02\x00\x3c\x00\x09ab"),
}


@pytest.mark.parametrize("name", sorted(BAD_FIRST_PACKET))
def test_malformed_first_packet_closes_only_that_connection(broker, name):
    s = bystander(broker)
    c = Client(broker.port)
    c.send(BAD_FIRST_PACKET[name])
    assert c.is_closed(), name
    assert "client connected: id=bad-" not in broker.logs()
    s.no_packet(0.2)  # nothing from the bad connection reached anyone
    assert_bystander_ok(broker, s)


def test_oversized_packet_closed_from_its_header(start_broker):
    b = start_broker("--max-packet-size", "1024")
    s = bystander(b)
    c = Client(b.port)
    c.connect("big")
    # Only the fixed header of a 2000-byte packet: closed before the body arrives.
    c.send(bytes([0x30]) + bytes([0xD0, 0x0F]))
    assert c.is_closed()
    assert "packet too large" in b.logs()
    ok = Client(b.port)
    ok.connect("small")
    ok.send(publish("watch", b"x" * 900))
    assert s.expect(PUBLISH).payload == b"x" * 900


def test_default_max_packet_is_128k(broker):
    s = Client(broker.port)
    s.connect("s")
    s.subscribe(1, ("t", 0))
    c = Client(broker.port)
    c.connect("big")
    c.send(publish("t", b"x" * 131072))  # 131072 payload + header > 131072
    assert c.is_closed()
    assert "packet too large" in broker.log_line("id=big", "client disconnected")
    s.no_packet(0.2)
    c2 = Client(broker.port)
    c2.connect("fits")
    # The largest packet allowed: 131072 bytes in all (2 + 1 topic + payload, after 4 header bytes).
    c2.send(publish("t", b"y" * (131072 - 4 - 3)))
    assert len(s.expect(PUBLISH).payload) == 131072 - 7


def test_silent_client_closed_after_connect_timeout(start_broker):
    b = start_broker("--connect-timeout", "1")
    s = bystander(b)
    t0 = time.monotonic()
    c = Client(b.port)
    assert c.is_closed(timeout=4)
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed <= 3.0, elapsed
    assert "no CONNECT within the connect timeout" in b.logs()
    assert_bystander_ok(b, s)  # the bystander itself was not timed out: it sent CONNECT


def test_partial_connect_closed_after_connect_timeout(start_broker):
    b = start_broker("--connect-timeout", "1")
    c = Client(b.port)
    c.send(connect("slowloris")[:5])  # a CONNECT that never completes
    assert c.is_closed(timeout=4)
    assert "client connected: id=slowloris" not in b.logs()


def test_packet_split_byte_by_byte_is_reassembled(broker):
    s = Client(broker.port)
    s.connect("s")
    s.subscribe(1, ("slow/t", 1))
    c = Client(broker.port)
    c.connect("slowpoke")
    for byte in publish("slow/t", b"dribble", qos=1, pid=9):
        c.send(bytes([byte]))
    assert c.recv().pid == 9
    assert s.expect(PUBLISH).payload == b"dribble"


def test_several_packets_in_one_write(broker):
    s = Client(broker.port)
    s.connect("s")
    s.subscribe(1, ("many", 0))
    c = Client(broker.port)
    c.send(connect("burst") + b"".join(publish("many", b"%d" % i) for i in range(50)))
    c.expect(CONNACK)
    got = [s.expect(PUBLISH).payload for _ in range(50)]
    assert got == [b"%d" % i for i in range(50)]
