"""$SYS/broker statistics, named as mosquitto names them."""
from mqtt_raw import Client, publish, PUBLISH

TOPICS = ["uptime", "clients/connected", "messages/received", "messages/sent", "bytes/received",
          "bytes/sent", "publish/messages/dropped"]


def snapshot(c, seconds=3.0):
    values = {}
    try:
        while True:
            p = c.recv(seconds)
            if p.retain:
                continue  # the stored values from before this subscription
            values[p.topic] = p.payload.decode()
            if all("$SYS/broker/" + t in values for t in TOPICS) and len(values) > 12:
                return values
    except TimeoutError:
        return values


def number(v):
    return int(v.split()[0])


def test_sys_topics_published_and_growing(start_broker):
    b = start_broker("--sys-interval", "1")
    s = Client(b.port)
    s.connect("sys")
    s.subscribe(1, ("$SYS/broker/#", 0))
    first = snapshot(s)
    for t in TOPICS:
        assert "$SYS/broker/" + t in first, t
    assert first["$SYS/broker/uptime"].endswith("seconds")
    assert number(first["$SYS/broker/clients/connected"]) >= 1
    p = Client(b.port)
    p.connect("traffic")
    for i in range(10):
        p.send(publish("load/x", b"x" * 100))
    s.buf = b""
    second = snapshot(s)
    while number(second["$SYS/broker/messages/received"]) < 10:
        second = snapshot(s)
    assert number(second["$SYS/broker/bytes/received"]) > number(first["$SYS/broker/bytes/received"])
    assert number(second["$SYS/broker/messages/sent"]) > number(first["$SYS/broker/messages/sent"])


def test_clients_cannot_publish_to_sys(broker):
    s = Client(broker.port)
    s.connect("s")
    s.subscribe(1, ("$SYS/#", 0))
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("$SYS/broker/uptime", b"forged"))
    s.no_packet(0.5)
