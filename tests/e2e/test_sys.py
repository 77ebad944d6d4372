"""$SYS/broker statistics, named as mosquitto names them."""
import time

from mqtt_raw import Client, publish, PUBLISH, SLOW, DISCONNECT_BYTES

TOPICS = ["uptime", "clients/connected", "messages/received", "messages/sent", "bytes/received",
          "bytes/sent", "publish/messages/dropped"]


def number(v):
    return int(v.split()[0])


def read_until(c, values, done, timeout=6.0):
    """Keep the latest live value of each $SYS topic until done(values) holds (bounded)."""
    deadline = time.monotonic() + timeout * SLOW
    while not done(values):
        left = deadline - time.monotonic()
        assert left > 0, "timed out; last $SYS values: %r" % values
        p = c.recv(left / SLOW)
        # Retained ones are the stored values from before this subscription.
        if not p.retain and p.topic[len("$SYS/broker/"):] in TOPICS:
            values[p.topic] = number(p.payload.decode())
    return values


def test_sys_topics_published_and_growing(start_broker):
    b = start_broker("--sys-interval", "1")
    s = Client(b.port)
    s.connect("sys")
    s.subscribe(1, ("$SYS/broker/#", 0))
    first = dict(read_until(s, {}, lambda v: all("$SYS/broker/" + t in v for t in TOPICS)))
    assert first["$SYS/broker/clients/connected"] >= 1
    assert first["$SYS/broker/publish/messages/dropped"] == 0

    t = Client(b.port)
    t.connect("traffic")
    t.subscribe(1, ("load/x", 0))
    for i in range(10):
        t.send(publish("load/x", b"x" * 100))
    for i in range(10):
        assert t.expect(PUBLISH).payload == b"x" * 100

    def grown(v):
        return (v["$SYS/broker/messages/received"] >= first["$SYS/broker/messages/received"] + 10
                and v["$SYS/broker/messages/sent"] >= first["$SYS/broker/messages/sent"] + 10
                and v["$SYS/broker/bytes/received"] >= first["$SYS/broker/bytes/received"] + 1000
                and v["$SYS/broker/bytes/sent"] >= first["$SYS/broker/bytes/sent"] + 1000
                and v["$SYS/broker/clients/connected"] >= 2
                and v["$SYS/broker/uptime"] > first["$SYS/broker/uptime"])
    read_until(s, dict(first), grown)


def test_clients_cannot_publish_to_sys(broker):
    s = Client(broker.port)
    s.connect("s")
    s.subscribe(1, ("$SYS/#", 0))
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("$SYS/broker/uptime", b"forged"))
    s.no_packet(0.5)


def test_sys_topics_not_matched_by_leading_wildcards(start_broker):
    b = start_broker("--sys-interval", "1")
    wide = Client(b.port)
    wide.connect("wide")
    assert wide.subscribe(1, ("#", 0), ("+/broker/#", 0), ("+/broker/uptime", 0)) == [0, 0, 0]
    sys = Client(b.port)
    sys.connect("sys")
    sys.subscribe(1, ("$SYS/broker/uptime", 0))
    while sys.expect(PUBLISH, timeout=4).retain:
        pass  # the stored value from before; wait for a live update
    wide.no_packet(0.2)  # a $SYS round went by after '#' subscribed, and did not reach it


def test_connected_count_falls_however_clients_leave(start_broker):
    b = start_broker("--sys-interval", "1")
    s = Client(b.port)
    s.connect("sys")
    s.subscribe(1, ("$SYS/broker/clients/connected", 0))
    key = "$SYS/broker/clients/connected"
    clients = {}
    for cid in ("polite", "dropper", "broken", "roamer", "stays"):
        clients[cid] = Client(b.port)
        clients[cid].connect(cid)
    read_until(s, {}, lambda v: v.get(key) == 6)
    clients["polite"].send(DISCONNECT_BYTES)
    clients["dropper"].close()
    clients["broken"].send(b"\xf0\x00")  # reserved packet type 15
    roamer2 = Client(b.port)
    roamer2.connect("roamer")  # takes the session over: still one client
    for cid in ("polite", "broken", "roamer"):
        assert clients[cid].is_closed()
    # sys, roamer (the new connection) and stays
    read_until(s, {}, lambda v: v.get(key) == 3)
