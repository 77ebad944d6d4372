"""Every acknowledgement byte for byte: fixed header flags, remaining length, packet id.

MQTT 3.1.1 2.2.2 fixes the flags of each packet type (PUBREL, SUBSCRIBE and UNSUBSCRIBE 0b0010,
the rest 0) and 3.4-3.14 their exact lengths; a broker that gets them wrong breaks strict clients
even when a lenient one like paho still works."""
import struct

from mqtt_raw import (Client, connect, publish, subscribe, unsubscribe, ack, CONNACK, PUBLISH,
                      PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP, PINGREQ_BYTES)


def pid(n):
    return struct.pack("!H", n)


def exact(p, ptype, flags, body):
    assert (p.type, p.flags, p.body) == (ptype, flags, body), p


def connected(broker, cid):
    c = Client(broker.port)
    c.send(connect(cid))
    exact(c.recv(), CONNACK, 0, b"\x00\x00")
    return c


def test_connack_suback_unsuback_pingresp_bytes(broker):
    c = connected(broker, "bytes")
    c.send(subscribe(0x1234, ("b/0", 0), ("b/1", 1), ("b/2", 2)))
    exact(c.recv(), SUBACK, 0, pid(0x1234) + b"\x00\x01\x02")
    c.send(unsubscribe(0xBEEF, "b/0", "b/1"))
    exact(c.recv(), UNSUBACK, 0, pid(0xBEEF))
    c.send(PINGREQ_BYTES)
    exact(c.recv(), PINGRESP, 0, b"")


def test_publisher_qos1_gets_puback_with_its_packet_id(broker):
    c = connected(broker, "p1")
    for n in (1, 0x7FFF, 0xFFFF):
        c.send(publish("acks/q1", b"x", qos=1, pid=n))
        exact(c.recv(), PUBACK, 0, pid(n))
    c.no_packet(0.2)


def test_publisher_qos2_gets_pubrec_then_pubcomp(broker):
    c = connected(broker, "p2")
    c.send(publish("acks/q2", b"x", qos=2, pid=0xABCD))
    exact(c.recv(), PUBREC, 0, pid(0xABCD))
    c.no_packet(0.2)  # nothing more until PUBREL
    c.send(ack(PUBREL, 0xABCD))
    exact(c.recv(), PUBCOMP, 0, pid(0xABCD))
    c.no_packet(0.2)


def test_subscriber_qos1_flow_bytes(broker):
    s = connected(broker, "s1")
    s.subscribe(1, ("acks/t", 1))
    p = connected(broker, "p")
    p.send(publish("acks/t", b"payload", qos=1, pid=9))
    exact(p.recv(), PUBACK, 0, pid(9))
    m = s.recv()
    assert (m.type, m.flags) == (PUBLISH, 0x02)  # QoS 1, DUP 0, RETAIN 0
    assert m.pid != 0
    assert m.body == b"\x00\x06acks/t" + pid(m.pid) + b"payload"
    s.send(ack(PUBACK, m.pid))
    s.no_packet(0.3)  # acknowledged: never re-sent


def test_subscriber_qos2_flow_bytes(broker):
    # Broker -> client: PUBLISH (QoS 2), client PUBREC, broker PUBREL (flags 2), client PUBCOMP.
    s = connected(broker, "s2")
    s.subscribe(1, ("acks/t", 2))
    p = connected(broker, "p")
    p.send(publish("acks/t", b"exactly", qos=2, pid=3))
    exact(p.recv(), PUBREC, 0, pid(3))
    p.send(ack(PUBREL, 3))
    exact(p.recv(), PUBCOMP, 0, pid(3))
    m = s.recv()
    assert (m.type, m.flags) == (PUBLISH, 0x04)
    assert m.pid != 0
    assert m.body == b"\x00\x06acks/t" + pid(m.pid) + b"exactly"
    s.no_packet(0.3)  # no PUBREL before our PUBREC
    s.send(ack(PUBREC, m.pid))
    exact(s.recv(), PUBREL, 0x02, pid(m.pid))
    s.send(ack(PUBCOMP, m.pid))
    s.no_packet(0.3)


def test_outgoing_packet_ids_in_flight_are_distinct_and_nonzero(broker):
    s = connected(broker, "ids")
    s.subscribe(1, ("ids/1", 1), ("ids/2", 2))
    p = connected(broker, "p")
    for i in range(6):
        p.send(publish("ids/%d" % (1 + i % 2), b"%d" % i, qos=1 + i % 2, pid=100 + i))
        r = p.recv()
        if i % 2:
            exact(r, PUBREC, 0, pid(100 + i))
            p.send(ack(PUBREL, 100 + i))
            exact(p.recv(), PUBCOMP, 0, pid(100 + i))
        else:
            exact(r, PUBACK, 0, pid(100 + i))
    got = [s.expect(PUBLISH) for _ in range(6)]  # none acknowledged yet
    assert [g.payload for g in got] == [b"%d" % i for i in range(6)]
    ids = [g.pid for g in got]
    assert 0 not in ids and len(set(ids)) == 6, ids
    for g in got:
        s.send(ack(PUBACK if g.qos == 1 else PUBREC, g.pid))
    rels = sorted(s.expect(PUBREL).pid for g in got if g.qos == 2)
    assert rels == sorted(g.pid for g in got if g.qos == 2)
    for r in rels:
        s.send(ack(PUBCOMP, r))
    s.no_packet(0.3)


def test_outgoing_packet_ids_wrap_and_skip_one_still_in_flight(start_broker):
    # 66,000 QoS 1 deliveries: ids run past 65535 back to 1 (never 0), and the one message the
    # subscriber holds unacknowledged keeps its id to itself (MQTT-2.3.1-2).
    b = start_broker("--max-inflight", "1000")
    s = connected(b, "s")
    s.subscribe(1, ("wrap", 1))
    p = connected(b, "p")
    n, batch = 66000, 500
    held = None
    for start in range(0, n, batch):
        p.send(b"".join(publish("wrap", b"%d" % i, qos=1, pid=i % 65535 + 1)
                        for i in range(start, start + batch)))
        acks = []
        for i in range(start, start + batch):
            m = s.expect(PUBLISH)
            assert m.payload == b"%d" % i and m.pid != 0
            if held is None:
                held = m.pid  # never acknowledged until the end
                continue
            assert m.pid != held, "id %d reused while in flight (message %d)" % (held, i)
            acks.append(ack(PUBACK, m.pid))
        s.send(b"".join(acks))
        for _ in range(batch):
            assert p.expect(PUBACK)
    s.send(ack(PUBACK, held))
    s.no_packet(0.3)
