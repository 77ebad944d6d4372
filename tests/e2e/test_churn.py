"""Connections that come and go at awkward moments leave the broker serving everyone else.

Each test ends with the fixture's clean stop (exit status 0), so under SANITIZE=1 a use after
free or a leak on one of these paths fails it."""
import socket
import struct

from mqtt_raw import (Client, connect, publish, subscribe, ack, PUBLISH, PUBACK, CONNACK,
                      DISCONNECT_BYTES)


def still_serving(broker):
    s = Client(broker.port)
    s.connect("probe-sub")
    s.subscribe(1, ("probe", 1))
    p = Client(broker.port)
    p.connect("probe-pub")
    p.send(publish("probe", b"alive", qos=1, pid=1))
    assert p.expect(PUBACK).pid == 1
    assert s.expect(PUBLISH).payload == b"alive"


def test_rapid_takeovers_leave_one_working_connection(broker):
    conns = []
    for i in range(30):
        c = Client(broker.port)
        assert c.connect("same", clean=bool(i % 2), will=("w/same", b"%d" % i, 1, False))[1] == 0
        conns.append(c)
    for c in conns[:-1]:
        assert c.is_closed()
    last = conns[-1]
    assert last.subscribe(1, ("t", 1)) == [1]
    p = Client(broker.port)
    p.connect("p")
    p.send(publish("t", b"to the last one", qos=1, pid=1))
    p.expect(PUBACK)
    assert last.expect(PUBLISH).payload == b"to the last one"
    still_serving(broker)


def test_takeovers_sent_in_one_burst(broker):
    # Every CONNECT lands before the broker has answered the previous one.
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        s.sendall(connect("burst", clean=False) + subscribe(1, ("b/%d" % i, 1)))
        socks.append(s)
    last = Client(broker.port)
    present, rc = last.connect("burst", clean=False)
    assert (present, rc) == (1, 0)
    for s in socks:
        s.close()
    still_serving(broker)


def test_subscriber_vanishing_mid_fan_out(broker):
    subs = []
    for i in range(20):
        c = Client(broker.port)
        c.connect("v%d" % i, clean=bool(i % 2))
        c.subscribe(1, ("fan/#", 1))  # QoS 1: nothing may be dropped for the ones that stay
        subs.append(c)
    p = Client(broker.port)
    p.connect("p")
    burst = b"".join(publish("fan/x", b"y" * 2000, qos=1, pid=n + 1) for n in range(200))
    p.send(burst)
    for c in subs[::2]:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # reset while its output is being written
    acks = 0
    while acks < 200:
        assert p.expect(PUBACK)
        acks += 1
    for c in subs[1::2]:
        got = 0
        while got < 200:
            m = c.expect(PUBLISH)
            if m.qos:
                c.send(ack(PUBACK, m.pid))
            got += 1
    still_serving(broker)


def test_many_short_connections(broker):
    for i in range(150):
        c = Client(broker.port)
        if i % 3 == 0:
            c.send(connect("short%d" % i))  # then gone without waiting for CONNACK
        elif i % 3 == 1:
            c.connect("short%d" % i, clean=False)
            c.send(subscribe(1, ("s/%d" % i, 1)) + DISCONNECT_BYTES)
        else:
            c.send(connect("short%d" % i)[:7])  # half a CONNECT
        c.close()
    still_serving(broker)


def test_reset_right_after_connack(broker):
    for i in range(50):
        c = Client(broker.port)
        c.send(connect("rst%d" % i, will=("w/rst", b"x", 1, True)))
        assert c.expect(CONNACK).body == b"\x00\x00"
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    still_serving(broker)
