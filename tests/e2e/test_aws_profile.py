"""The aws profile: what AWS IoT Core does where it departs from MQTT 3.1.1."""
import pytest

from mqtt_raw import Client, publish, subscribe, PUBLISH, PUBACK


@pytest.fixture
def aws(start_broker):
    return start_broker("--mqtt-profile", "aws")


def connected(b, cid):
    c = Client(b.port)
    assert c.connect(cid) == (0, 0)
    return c


def test_qos2_publish_closes_connection(aws):
    c = connected(aws, "q2")
    c.send(publish("t", b"x", qos=2, pid=1))
    assert c.is_closed()


def test_qos2_subscribe_closes_connection(aws):
    c = connected(aws, "q2s")
    c.send(subscribe(1, ("t", 2)))
    assert c.is_closed()


def test_hash_does_not_match_parent(aws):
    s = connected(aws, "s")
    s.subscribe(1, ("sensor/#", 0))
    p = connected(aws, "p")
    p.send(publish("sensor", b"parent"))
    p.send(publish("sensor/", b"child"))
    assert s.expect(PUBLISH).payload == b"child"
    s.no_packet(0.5)


def test_retained_only_for_exact_filter(aws):
    p = connected(aws, "p")
    p.send(publish("dev/state", b"on", qos=1, retain=True, pid=1))
    p.expect(PUBACK)
    wild = connected(aws, "wild")
    wild.subscribe(1, ("dev/+", 1))
    wild.no_packet(0.5)
    exact = connected(aws, "exact")
    exact.subscribe(1, ("dev/state", 1))
    got = exact.expect(PUBLISH)
    assert got.payload == b"on" and got.retain


def test_topic_limits(aws):
    s = connected(aws, "s")
    codes = s.subscribe(1, ("a/" * 7 + "a", 0), ("a/" * 8 + "a", 0), ("x" * 257, 0),
                        ("$share/g/" + "a/" * 7 + "a", 0), ("y" * 256, 0))
    assert codes == [0, 0x80, 0x80, 0, 0]
    # At the limits exactly, PUBLISH is accepted and delivered.
    lim = connected(aws, "lim")
    assert lim.subscribe(1, ("a/" * 7 + "a", 0), ("y" * 256, 0)) == [0, 0]
    ok = connected(aws, "ok")
    ok.send(publish("a/" * 7 + "a", b"deep"))
    ok.send(publish("y" * 256, b"long"))
    assert [lim.expect(PUBLISH).payload for _ in range(2)] == [b"deep", b"long"]
    long_topic = connected(aws, "long")
    long_topic.send(publish("x" * 257, b"x"))
    assert long_topic.is_closed()
    deep = connected(aws, "deep")
    deep.send(publish("a/" * 8 + "a", b"x"))
    assert deep.is_closed()


def test_more_than_8_filters_in_one_subscribe_closes(aws):
    c = connected(aws, "many")
    c.send(subscribe(1, *[("f/%d" % i, 0) for i in range(9)]))
    assert c.is_closed()


def test_51st_subscription_refused(aws):
    c = connected(aws, "fifty")
    for batch in range(6):
        codes = c.subscribe(batch + 1, *[("f/%d" % (batch * 8 + i), 1) for i in range(8)])
        assert codes == [1] * 8
    codes = c.subscribe(9, ("f/48", 1), ("f/49", 1), ("f/50", 1), ("f/0", 0))
    assert codes == [1, 1, 0x80, 0]  # re-subscribing an existing filter still works


def test_keepalive_clamped_to_30_seconds(aws):
    c = Client(aws.port)
    c.connect("short", keepalive=1)
    assert not c.is_closed(timeout=3)  # 1.5 x 1 s went by twice over
    assert "keepalive=30" in aws.log_line("client connected: id=short ")
    f = Client(aws.port)
    f.connect("five", keepalive=5)
    assert "keepalive=30" in aws.log_line("client connected: id=five ")
    z = Client(aws.port)
    z.connect("zero", keepalive=0)
    assert "keepalive=1200" in aws.log_line("client connected: id=zero ")


def test_client_id_over_128_bytes_refused(aws):
    c = Client(aws.port)
    assert c.connect("x" * 129)[1] == 2
