"""CONNECT and CONNACK."""
from mqtt_raw import Client, connect, CONNACK


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
