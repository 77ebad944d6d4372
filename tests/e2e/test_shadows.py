"""Device shadows over MQTT: the reserved topics, replies, versions, durability."""
import json

from mqtt_raw import Client, publish, PUBLISH, PUBACK

PREFIX = "$aws/things/%s/shadow"


def listen(b, cid, *filters):
    c = Client(b.port)
    c.connect(cid)
    assert c.subscribe(1, *[(f, 1) for f in filters]) == [1] * len(filters)
    return c


def next_publish(c):
    """The next PUBLISH, acknowledged if QoS 1; PUBACKs for our own requests are skipped."""
    while True:
        p = c.recv()
        if p.type == PUBLISH:
            if p.qos:
                c.send(bytes([0x40, 2]) + p.pid.to_bytes(2, "big"))
            return p
        assert p.type == PUBACK, p


def replies(c, n):
    """The next n PUBLISHes, as {topic: payload}."""
    got = {}
    for _ in range(n):
        p = next_publish(c)
        got[p.topic] = json.loads(p.payload) if p.payload else None
    return got


def request(c, topic, doc, pid):
    c.send(publish(topic, json.dumps(doc).encode() if doc is not None else b"", qos=1, pid=pid))


def test_update_get_delete_classic_shadow(broker):
    t = PREFIX % "lamp"
    c = listen(broker, "lamp", t + "/update/+", t + "/get/+", t + "/delete/+")
    request(c, t + "/update", {"state": {"desired": {"on": True}}, "clientToken": "c1"}, 1)
    got = replies(c, 3)
    assert got[t + "/update/accepted"]["version"] == 1
    assert got[t + "/update/accepted"]["clientToken"] == "c1"
    assert got[t + "/update/delta"]["state"] == {"on": True}
    assert got[t + "/update/documents"]["previous"] is None
    assert got[t + "/update/documents"]["current"]["state"]["desired"] == {"on": True}

    # The device reports back: the delta is gone.
    request(c, t + "/update", {"state": {"reported": {"on": True}}}, 2)
    got = replies(c, 2)
    assert t + "/update/delta" not in got
    assert got[t + "/update/accepted"]["version"] == 2

    request(c, t + "/get", {"clientToken": "g"}, 3)
    doc = json.loads(next_publish(c).payload)
    assert doc["state"] == {"desired": {"on": True}, "reported": {"on": True}}
    assert doc["version"] == 2 and doc["clientToken"] == "g"

    request(c, t + "/delete", None, 4)
    p = next_publish(c)
    assert p.topic == t + "/delete/accepted"
    assert json.loads(p.payload)["version"] == 2
    request(c, t + "/get", None, 5)
    p = next_publish(c)
    assert p.topic == t + "/get/rejected"
    assert json.loads(p.payload)["code"] == 404
    assert json.loads(p.payload)["message"] == "No shadow exists with name: 'lamp'"


def test_named_shadows_are_separate(broker):
    t = PREFIX % "pump"
    c = listen(broker, "pump", t + "/name/+/update/accepted", t + "/update/accepted")
    request(c, t + "/name/config/update", {"state": {"reported": {"rpm": 10}}}, 1)
    request(c, t + "/update", {"state": {"reported": {"on": False}}}, 2)
    got = replies(c, 2)
    assert got[t + "/name/config/update/accepted"]["state"] == {"reported": {"rpm": 10}}
    assert got[t + "/update/accepted"]["state"] == {"reported": {"on": False}}
    assert got[t + "/name/config/update/accepted"]["version"] == 1


def test_rejections_and_version_conflict(broker):
    t = PREFIX % "valve"
    c = listen(broker, "valve", t + "/update/accepted", t + "/update/rejected")
    c.send(publish(t + "/update", b"{not json", qos=0))
    p = next_publish(c)
    assert p.topic == t + "/update/rejected" and json.loads(p.payload)["code"] == 400
    request(c, t + "/update", {"state": {"reported": {"x": 1}}}, 1)
    assert next_publish(c).topic == t + "/update/accepted"
    request(c, t + "/update", {"state": {"reported": {"x": 2}}, "version": 7, "clientToken": "v"}, 2)
    p = next_publish(c)
    assert p.topic == t + "/update/rejected"
    rej = json.loads(p.payload)
    assert rej["code"] == 409 and rej["message"] == "Version conflict" and rej["clientToken"] == "v"


def test_two_clients_updating_one_shadow(broker):
    t = PREFIX % "shared"
    a = listen(broker, "a", t + "/update/accepted")
    b = Client(broker.port)
    b.connect("b")
    for i in range(20):
        (a if i % 2 else b).send(publish(t + "/update",
                                         json.dumps({"state": {"reported": {"n": i}}}).encode()))
    versions = [json.loads(next_publish(a).payload)["version"] for _ in range(20)]
    assert sorted(versions) == list(range(1, 21))


def test_accepted_updates_survive_kill_9(broker):
    t = PREFIX % "durable"
    c = listen(broker, "d", t + "/update/accepted")
    for i in range(10):
        request(c, t + "/update", {"state": {"reported": {"n": i}}}, i + 1)
    assert [json.loads(next_publish(c).payload)["version"] for _ in range(10)] == list(range(1, 11))
    broker.kill9()
    broker.start()
    c = listen(broker, "d2", t + "/get/accepted")
    request(c, t + "/get", None, 1)
    doc = json.loads(next_publish(c).payload)
    assert doc["version"] == 10 and doc["state"]["reported"] == {"n": 9}
