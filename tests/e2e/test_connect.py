"""CONNECT and CONNACK."""
import pytest

from mqtt_raw import Client, connect, packet, mqtt_str, publish, CONNACK, PUBLISH


def test_connack_accepted_without_session(broker):
    c = Client(broker.port)
    present, rc = c.connect("dev1")
    assert (present, rc) == (0, 0)


def test_bad_protocol_name_gets_connack_1_and_close(broker):
    c = Client(broker.port)
    c.send(connect("dev1", proto=b"MQTX"))
    p = c.expect(CONNACK)
    assert p.body == b"\x00\x01"
    assert c.is_closed()


def test_mqtt5_and_level_2_get_connack_1(broker):
    for level in (5, 2):
        c = Client(broker.port)
        c.send(connect("dev1", level=level))
        assert c.expect(CONNACK).body == b"\x00\x01"
        assert c.is_closed()


def test_empty_client_id_without_clean_session_gets_connack_2(broker):
    c = Client(broker.port)
    c.send(connect("", clean=False))
    assert c.expect(CONNACK).body == b"\x00\x02"
    assert c.is_closed()


def test_empty_client_id_with_clean_session_is_assigned_one(broker):
    c = Client(broker.port)
    assert c.connect("", clean=True) == (0, 0)
    assert "client connected: id=umbra-" in broker.logs()


def test_mqtt31_client_accepted(broker):
    c = Client(broker.port)
    c.send(connect("old", proto=b"MQIsdp", level=3))
    assert c.expect(CONNACK).body == b"\x00\x00"


def test_username_and_password_accepted_on_plain_listener(broker):
    c = Client(broker.port)
    assert c.connect("u", username="?SDK=Python&Version=1", password=b"x") == (0, 0)


def test_long_client_id_accepted_on_mqtt_profile(broker):
    # 23 characters is only the least a server must allow (MQTT-3.1.3-5); 3.1.1 permits more.
    c = Client(broker.port)
    assert c.connect("d" * 100) == (0, 0)


def test_session_present_set_only_when_a_session_was_stored(broker):
    c = Client(broker.port)
    assert c.connect("sp", clean=False) == (0, 0)
    c.close()
    c = Client(broker.port)
    assert c.connect("sp", clean=False) == (1, 0)
    c.close()
    c = Client(broker.port)
    assert c.connect("sp", clean=True) == (0, 0)  # MQTT-3.2.2-1: clean session -> 0


def _connect_flags(cid, flags):
    body = mqtt_str("MQTT") + bytes([4, flags]) + b"\x00\x3c" + mqtt_str(cid)
    return packet(1, 0, body)


BAD_CONNECTS = {
    "will_topic_with_wildcard": connect("bad-will", will=("will/+", b"x", 0, False)),
    "will_topic_empty": connect("bad-will", will=("", b"x", 0, False)),
    "will_qos_without_will_flag": _connect_flags("bad-wq", 0x02 | 0x08),  # MQTT-3.1.2-13
    "will_retain_without_will_flag": _connect_flags("bad-wr", 0x02 | 0x20),  # MQTT-3.1.2-15
    "client_id_invalid_utf8": packet(1, 0, mqtt_str("MQTT") + b"\x04\x02\x00\x3c" + mqtt_str(b"\xc3(")),
}


@pytest.mark.parametrize("name", sorted(BAD_CONNECTS))
def test_malformed_connect_closed_without_will_or_session(broker, name):
    w = Client(broker.port)
    w.connect("watcher")
    w.subscribe(1, ("#", 0))
    c = Client(broker.port)
    c.send(BAD_CONNECTS[name])
    try:
        p = c.recv(3)  # a CONNACK refusing it is allowed; acceptance is not
        assert p.type == CONNACK and p.body[1] != 0, p
    except (ConnectionError, TimeoutError):
        pass
    assert c.is_closed()
    w.no_packet(0.3)  # no will came out of it
    ok = Client(broker.port)
    ok.connect("after")
    ok.send(publish("still/ok", b"y"))
    assert w.expect(PUBLISH).payload == b"y"
