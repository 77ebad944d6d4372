"""What was acknowledged survives SIGTERM + restart and kill -9 + restart with the same data dir."""
from mqtt_raw import (Client, publish, subscribe, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
                      SUBACK)
from sessions import persistent, publish_acked, drain


def test_session_survives_restart(broker):
    c, _ = persistent(broker)
    c.close()
    publish_acked(broker, 3)
    broker.restart()
    c, present = persistent(broker, filt=None)
    assert present == 1
    assert [m.payload for m in drain(c, 3)] == [b"m0", b"m1", b"m2"]
    # The subscription itself survived too.
    publish_acked(broker, 1, start=3)
    assert drain(c, 1)[0].payload == b"m3"


def test_acknowledged_messages_survive_kill_9(broker):
    c, _ = persistent(broker)
    c.close()
    publish_acked(broker, 20)
    broker.kill9()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    assert [m.payload for m in drain(c, 20)] == [b"m%d" % i for i in range(20)]


def test_subscription_acknowledged_survives_kill_9(broker):
    c = Client(broker.port)
    c.connect("subber", clean=False)
    c.send(subscribe(1, ("k9/#", 1)))
    assert c.expect(SUBACK).body == b"\x00\x01\x01"
    c.close()
    broker.kill9()
    broker.start()
    publish_acked(broker, 1, topic="k9/x")
    c2 = Client(broker.port)
    assert c2.connect("subber", clean=False) == (1, 0)
    assert c2.expect(PUBLISH).payload == b"m0"


def test_inflight_qos2_survives_kill_9_without_duplicate(broker):
    c, _ = persistent(broker, qos=2)
    publish_acked(broker, 1, qos=2)
    m = c.expect(PUBLISH)
    assert m.qos == 2
    c.send(ack(PUBREC, m.pid))
    assert c.expect(PUBREL).pid == m.pid
    c.close()
    broker.kill9()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    # Only the PUBREL is re-sent: the message is not delivered twice.
    again = c.recv()
    assert again.type == PUBREL and again.pid == m.pid
    c.send(ack(PUBCOMP, m.pid))
    c.no_packet(0.5)


def test_queued_qos2_messages_survive_kill_9(broker):
    c, _ = persistent(broker, qos=2)
    c.close()
    publish_acked(broker, 5, qos=2)  # each completed with PUBCOMP
    broker.kill9()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    got = drain(c, 5)
    assert [(m.payload, m.qos) for m in got] == [(b"m%d" % i, 2) for i in range(5)]
    c.no_packet(0.5)


def test_unacked_delivery_survives_kill_9_and_is_resent_with_dup(broker):
    c, _ = persistent(broker)
    publish_acked(broker, 1)
    first = c.expect(PUBLISH)  # never acknowledged
    broker.kill9()
    assert c.is_closed()
    broker.start()
    c, present = persistent(broker, filt=None)
    assert present == 1
    again = c.expect(PUBLISH)
    assert again.dup and (again.pid, again.payload) == (first.pid, first.payload)
    c.send(ack(PUBACK, again.pid))
    c.no_packet(0.5)


def test_incoming_qos2_is_exactly_once_across_kill_9(broker):
    # An offline subscriber, and a persistent publisher whose QoS 2 PUBLISH got PUBREC.
    s, _ = persistent(broker, cid="sub", qos=2)
    s.close()
    p = Client(broker.port)
    assert p.connect("qos2-pub", clean=False) == (0, 0)
    p.send(publish("s/t", b"exactly once", qos=2, pid=7))
    assert p.expect(PUBREC).pid == 7
    broker.kill9()
    broker.start()
    # The publisher resumes: it re-sends the PUBLISH (DUP, allowed before PUBREL), then PUBREL.
    p = Client(broker.port)
    assert p.connect("qos2-pub", clean=False) == (1, 0)
    p.send(publish("s/t", b"exactly once", qos=2, pid=7, dup=True))
    assert p.expect(PUBREC).pid == 7
    p.send(ack(PUBREL, 7))
    assert p.expect(PUBCOMP).pid == 7
    s, present = persistent(broker, cid="sub", filt=None)
    assert present == 1
    assert [m.payload for m in drain(s, 1)] == [b"exactly once"]
    s.no_packet(0.5)


def test_session_retained_and_subscription_survive_sigterm_restart(broker):
    c, _ = persistent(broker, filt="home/#", qos=1)
    c.send(subscribe(2, ("office/+", 2)))
    assert c.expect(SUBACK).body == b"\x00\x02\x02"
    c.close()
    p = Client(broker.port)
    p.connect("pub")
    p.send(publish("home/door", b"open", qos=1, retain=True, pid=1))
    assert p.expect(PUBACK).pid == 1
    p.send(publish("office/light", b"on", qos=2, pid=2))
    assert p.expect(PUBREC).pid == 2
    p.send(ack(PUBREL, 2))
    assert p.expect(PUBCOMP).pid == 2
    p.close()
    broker.restart()
    c, present = persistent(broker, filt=None)
    assert present == 1
    got = drain(c, 2)
    assert [(m.topic, m.payload, m.qos) for m in got] == [("home/door", b"open", 1),
                                                          ("office/light", b"on", 2)]
    late = Client(broker.port)
    late.connect("late")
    late.subscribe(1, ("home/door", 0))
    r = late.expect(PUBLISH)
    assert (r.payload, r.retain) == (b"open", True)
