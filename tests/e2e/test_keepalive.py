"""Keepalive: 1.5 times the interval, reset by traffic."""
import time

from mqtt_raw import Client, publish, PINGREQ_BYTES, PINGRESP


def test_silent_client_dropped_after_one_and_a_half_keepalives(broker):
    c = Client(broker.port)
    c.connect("quiet", keepalive=1)
    t0 = time.monotonic()
    assert c.is_closed(timeout=4)
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed <= 3.0, elapsed  # 1.5 x keepalive, checked every 250 ms
    assert "reason=keepalive timeout" in broker.log_line("client disconnected: id=quiet ")


def test_pings_keep_client_alive(broker):
    c = Client(broker.port)
    c.connect("pinger", keepalive=1)
    for _ in range(6):
        time.sleep(0.5)
        c.send(PINGREQ_BYTES)
        c.expect(PINGRESP)
    assert not c.is_closed(timeout=0.2)


def test_keepalive_zero_means_no_timeout(broker):
    c = Client(broker.port)
    c.connect("forever", keepalive=0)
    assert not c.is_closed(timeout=2)


def test_any_packet_from_the_client_resets_keepalive(broker):
    # MQTT-3.1.2-24 counts every control packet, not only PINGREQ: QoS 0 publishes will do.
    c = Client(broker.port)
    c.connect("chatty", keepalive=1)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        c.send(publish("chatter", b"x"))
        assert not c.is_closed(timeout=0.5)
