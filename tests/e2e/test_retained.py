"""Retained messages: set, replace, clear, delivery flags, restart and kill -9."""
from mqtt_raw import Client, publish, PUBLISH, PUBACK


def publish_retained(broker, topic, payload, qos=1):
    p = Client(broker.port)
    p.connect("retainer")
    p.send(publish(topic, payload, qos=qos, retain=True, pid=1))
    if qos:
        p.expect(PUBACK)
    p.close()


def subscribe_get(broker, filt, cid="late"):
    s = Client(broker.port)
    s.connect(cid)
    s.subscribe(1, (filt, 1))
    return s


def test_retained_delivered_on_subscribe_with_retain_flag(broker):
    publish_retained(broker, "room/temp", b"21")
    s = subscribe_get(broker, "room/+")
    got = s.expect(PUBLISH)
    assert (got.topic, got.payload, got.retain) == ("room/temp", b"21", True)


def test_retained_replaced_and_cleared(broker):
    publish_retained(broker, "r/t", b"old")
    publish_retained(broker, "r/t", b"new")
    s = subscribe_get(broker, "r/t")
    assert s.expect(PUBLISH).payload == b"new"
    s.no_packet()
    # Clearing with an empty payload is still delivered to current subscribers...
    publish_retained(broker, "r/t", b"")
    got = s.expect(PUBLISH)
    assert got.payload == b"" and not got.retain
    # ...and leaves nothing for new ones.
    s2 = subscribe_get(broker, "r/t", cid="later")
    s2.no_packet(0.5)


def test_retained_survives_restart(broker):
    publish_retained(broker, "keep/me", b"v1")
    broker.restart()
    assert subscribe_get(broker, "keep/#").expect(PUBLISH).payload == b"v1"


def test_retained_acknowledged_survives_kill_9(broker):
    publish_retained(broker, "crash/safe", b"acked")
    broker.kill9()
    broker.start()
    got = subscribe_get(broker, "crash/safe").expect(PUBLISH)
    assert (got.payload, got.retain) == (b"acked", True)


def test_retained_qos_is_min_of_stored_and_granted(broker):
    publish_retained(broker, "q/r", b"x", qos=0)
    got = subscribe_get(broker, "q/r").expect(PUBLISH)
    assert got.qos == 0 and got.retain


def test_hash_filter_gets_parent_retained_on_mqtt_profile(broker):
    publish_retained(broker, "p", b"parent")
    assert subscribe_get(broker, "p/#").expect(PUBLISH).payload == b"parent"


def test_non_retained_publish_leaves_the_retained_message_alone(broker):
    # MQTT-3.3.1-12: RETAIN 0 neither stores nor replaces nor removes - even with an empty payload.
    publish_retained(broker, "r/keep", b"stored")
    p = Client(broker.port)
    p.connect("plain")
    p.send(publish("r/keep", b"live only", qos=1, pid=1))
    p.expect(PUBACK)
    p.send(publish("r/keep", b"", qos=1, pid=2))
    p.expect(PUBACK)
    got = subscribe_get(broker, "r/keep").expect(PUBLISH)
    assert (got.payload, got.retain) == (b"stored", True)
