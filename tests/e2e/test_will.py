"""Will messages."""
import pytest

from mqtt_raw import Client, publish, PUBLISH, DISCONNECT_BYTES


def watcher(broker, filt="will/#", qos=1):
    w = Client(broker.port)
    w.connect("watcher")
    w.subscribe(1, (filt, qos))
    return w


@pytest.mark.parametrize("will_qos", [0, 1, 2])
def test_will_sent_with_its_qos_when_socket_drops(broker, will_qos):
    w = watcher(broker, qos=2)
    c = Client(broker.port)
    c.connect("dev", will=("will/dev", b"gone", will_qos, False))
    c.close()
    got = w.expect(PUBLISH)
    assert (got.topic, got.payload, got.qos, got.retain) == ("will/dev", b"gone", will_qos, False)
    assert "reason=connection closed by client" in broker.log_line("client disconnected: id=dev ")


def test_will_not_sent_after_disconnect(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("dev", will=("will/dev", b"gone", 0, False))
    c.send(DISCONNECT_BYTES)
    assert c.is_closed()
    assert "reason=client sent DISCONNECT" in broker.log_line("client disconnected: id=dev ")
    w.no_packet(0.5)


def test_will_sent_when_broker_closes_a_malformed_connection(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("broken", will=("will/broken", b"protocol error", 0, False))
    c.send(bytes([0x30, 0x03, 0x00, 0x05, 0x61]))  # topic length beyond the packet
    assert c.is_closed()
    assert w.expect(PUBLISH).payload == b"protocol error"


def test_will_sent_on_keepalive_timeout(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("sleepy", keepalive=1, will=("will/sleepy", b"timeout", 1, False))
    got = w.expect(PUBLISH, timeout=5)
    assert (got.payload, got.qos) == (b"timeout", 1)
    assert "reason=keepalive timeout" in broker.log_line("client disconnected: id=sleepy ")


def test_retained_will(broker):
    live = watcher(broker, "will/ret")
    c = Client(broker.port)
    c.connect("dev", will=("will/ret", b"last words", 1, True))
    c.close()
    got = live.expect(PUBLISH)  # a live delivery: RETAIN 0 (MQTT-3.3.1-9)
    assert (got.payload, got.qos, got.retain) == (b"last words", 1, False)
    late = Client(broker.port)
    late.connect("late")
    late.subscribe(1, ("will/ret", 1))
    got = late.expect(PUBLISH)  # and it was retained
    assert (got.payload, got.retain) == (b"last words", True)


def test_takeover_closes_first_connection_and_sends_its_will(broker):
    w = watcher(broker)
    first = Client(broker.port)
    first.connect("same-id", will=("will/first", b"taken over", 0, False))
    second = Client(broker.port)
    assert second.connect("same-id") == (0, 0)
    assert first.is_closed()
    assert w.expect(PUBLISH).payload == b"taken over"
    assert "reason=session taken over by a new connection" in broker.log_line(
        "client disconnected: id=same-id ")


def test_takeover_of_a_persistent_session_resumes_it(broker):
    first = Client(broker.port)
    assert first.connect("phone", clean=False) == (0, 0)
    first.subscribe(1, ("inbox", 1))
    second = Client(broker.port)
    assert second.connect("phone", clean=False) == (1, 0)  # the session, not a new one
    assert first.is_closed()
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("inbox", b"to the new connection", qos=1, pid=1))
    assert second.expect(PUBLISH).payload == b"to the new connection"
