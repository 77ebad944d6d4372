"""Will messages."""
import time

from mqtt_raw import Client, PUBLISH, DISCONNECT_BYTES


def watcher(broker, filt="will/#", qos=1):
    w = Client(broker.port)
    w.connect("watcher")
    w.subscribe(1, (filt, qos))
    return w


def test_will_sent_when_socket_drops(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("dev", will=("will/dev", b"gone", 1, False))
    c.close()
    got = w.expect(PUBLISH)
    assert (got.topic, got.payload, got.qos) == ("will/dev", b"gone", 1)


def test_will_not_sent_after_disconnect(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("dev", will=("will/dev", b"gone", 0, False))
    c.send(DISCONNECT_BYTES)
    assert c.is_closed()
    w.no_packet(0.7)


def test_will_sent_on_keepalive_timeout(broker):
    w = watcher(broker)
    c = Client(broker.port)
    c.connect("sleepy", keepalive=1, will=("will/sleepy", b"timeout", 0, False))
    got = w.expect(PUBLISH, timeout=5)
    assert got.payload == b"timeout"


def test_retained_will(broker):
    c = Client(broker.port)
    c.connect("dev", will=("will/ret", b"last words", 1, True))
    c.close()
    time.sleep(0.2)
    late = watcher(broker, "will/ret")
    got = late.expect(PUBLISH)
    assert (got.payload, got.retain) == (b"last words", True)


def test_takeover_closes_first_connection_and_sends_its_will(broker):
    w = watcher(broker)
    first = Client(broker.port)
    first.connect("same-id", will=("will/first", b"taken over", 0, False))
    second = Client(broker.port)
    assert second.connect("same-id") == (0, 0)
    assert first.is_closed()
    assert w.expect(PUBLISH).payload == b"taken over"
    assert "session taken over" in broker.logs()
