"""Topic rules running in umbrad: the SQL selects, WHERE filters, republish delivers, templates
fill the topic, Basic Ingest, errorAction, and rule changes apply while the daemon runs."""
import json
import os
import subprocess
import time

from conftest import SLOW, UMBRACTL
from mqtt_raw import Client, publish
from test_shadows import listen, next_publish


def ctl(b, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r


def rule(b, name, sql, *actions, error_action=None, command="create-topic-rule"):
    payload = {"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": list(actions)}
    if error_action:
        payload["errorAction"] = error_action
    ctl(b, command, "--rule-name", name, "--topic-rule-payload", json.dumps(payload))


def republish(topic, qos=0):
    return {"republish": {"topic": topic, "qos": qos, "roleArn": "arn:aws:iam::123456789012:role/r"}}


def wait_loaded(b):
    """Rules apply within the daemon's registry poll (250 ms)."""
    time.sleep(0.6 * SLOW)


def test_select_where_and_republish_with_templates(broker):
    b = broker
    rule(b, "hot", "SELECT temp, topic(2) AS device, clientid() AS cid FROM 'sensors/+/data' "
                   "WHERE temp > 50", republish("alerts/${topic(2)}", qos=1))
    wait_loaded(b)
    sub = listen(b, "watcher", "alerts/#")
    pub = Client(b.port)
    pub.connect("sensor-7")
    pub.send(publish("sensors/dev9/data", json.dumps({"temp": 20, "hum": 1}).encode()))
    pub.send(publish("sensors/dev9/data", json.dumps({"temp": 70, "hum": 2}).encode()))
    p = next_publish(sub)
    assert p.topic == "alerts/dev9"
    assert json.loads(p.payload) == {"temp": 70, "device": "dev9", "cid": "sensor-7"}
    assert sub.no_packet(0.3)  # the cool reading matched nothing


def test_basic_ingest_reaches_only_its_rule(broker):
    b = broker
    rule(b, "ingest", "SELECT * FROM 'unused/topic'", republish("out/ingest"))
    wait_loaded(b)
    sub = listen(b, "s", "#")
    sub2 = listen(b, "s2", "$aws/rules/#")
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("$aws/rules/ingest/anything", b'{"v": 1}'))
    p = next_publish(sub)
    assert (p.topic, json.loads(p.payload)) == ("out/ingest", {"v": 1})
    assert sub2.no_packet(0.3)  # never delivered to subscribers


def test_rules_follow_registry_changes_live(broker):
    b = broker
    sub = listen(b, "s", "copy/#")
    pub = Client(b.port)
    pub.connect("p")
    rule(b, "copy", "SELECT * FROM 'in/#'", republish("copy/${topic()}"))
    wait_loaded(b)
    pub.send(publish("in/a", b'{"n": 1}'))
    assert next_publish(sub).topic == "copy/in/a"
    ctl(b, "disable-topic-rule", "--rule-name", "copy")
    wait_loaded(b)
    pub.send(publish("in/a", b'{"n": 2}'))
    assert sub.no_packet(0.3)
    ctl(b, "enable-topic-rule", "--rule-name", "copy")
    rule(b, "copy", "SELECT n * 10 AS n FROM 'in/#'", republish("copy/x"), command="replace-topic-rule")
    wait_loaded(b)
    pub.send(publish("in/a", b'{"n": 3}'))
    p = next_publish(sub)
    assert (p.topic, json.loads(p.payload)) == ("copy/x", {"n": 30})
    ctl(b, "delete-topic-rule", "--rule-name", "copy")
    wait_loaded(b)
    pub.send(publish("in/a", b'{"n": 4}'))
    assert sub.no_packet(0.3)


def test_binary_payloads_and_encode(broker):
    b = broker
    rule(b, "raw", "SELECT * FROM 'bin/raw'", republish("out/raw"))
    rule(b, "b64", "SELECT encode(*, 'base64') AS data FROM 'bin/raw'", republish("out/b64"))
    wait_loaded(b)
    sub = listen(b, "s", "out/#")
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("bin/raw", b"\x00\xffhello"))
    got = {}
    for _ in range(2):
        p = next_publish(sub)
        got[p.topic] = p.payload
    assert got["out/raw"] == b"\x00\xffhello"
    assert json.loads(got["out/b64"]) == {"data": "AP9oZWxsbw=="}


def test_republish_loop_is_stopped_and_error_action_reports(broker):
    b = broker
    # Republishes into its own FROM: stopped after a bounded number of rounds.
    rule(b, "loop", "SELECT * FROM 'loop/#'", republish("loop/again"))
    # A republish to a topic that cannot exist fails: errorAction gets AWS's error document.
    rule(b, "broken", "SELECT * FROM 'bad/in'", republish("bad/${missing}+x"),
         error_action=republish("errors/rules"))
    wait_loaded(b)
    sub = listen(b, "s", "loop/#", "errors/#")
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("loop/start", b'{"x": 1}'))
    seen = 0
    while seen < 100:
        try:
            sub.recv(timeout=0.5 * SLOW)
        except TimeoutError:
            break
        seen += 1
    assert 1 < seen <= 12, seen
    assert "republish loop" in b.logs()
    pub.send(publish("bad/in", b'{"y": 2}'))
    p = next_publish(sub)
    assert p.topic == "errors/rules"
    doc = json.loads(p.payload)
    assert doc["ruleName"] == "broken" and doc["topic"] == "bad/in" and doc["clientId"] == "p"
    assert doc["base64OriginalPayload"] == "eyJ5IjogMn0="
    assert doc["failures"][0]["failedAction"] == "RepublishAction"


def test_shadow_service_messages_reach_rules(broker):
    b = broker
    rule(b, "shadows", "SELECT state.reported.temp AS t, topic(3) AS thing FROM "
                       "'$aws/things/+/shadow/update/accepted'", republish("shadow-temps"))
    wait_loaded(b)
    sub = listen(b, "s", "shadow-temps")
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("$aws/things/oven/shadow/update", b'{"state": {"reported": {"temp": 180}}}'))
    p = next_publish(sub)
    assert json.loads(p.payload) == {"t": 180, "thing": "oven"}


def test_rule_counters_in_sys(start_broker):
    b = start_broker("--sys-interval", "1")
    rule(b, "count", "SELECT * FROM 'c/#' WHERE n > 1", republish("c-out"),
         {"http": {"url": "https://127.0.0.1:1/x"}})
    wait_loaded(b)
    pub = Client(b.port)
    pub.connect("p")
    for n in range(4):
        pub.send(publish("c/x", json.dumps({"n": n}).encode()))
    sub = listen(b, "s", "$SYS/broker/rules/count/#")
    got = {}
    deadline = time.monotonic() + 10 * SLOW
    # n = 2 and 3 matched; each republished once, and the http action (nothing listens on
    # port 1) failed after its three tries.
    want = {"matched": 2, "succeeded": 2, "failed": 2, "dropped": 0}
    while got != want and time.monotonic() < deadline:
        p = next_publish(sub)
        got[p.topic.rsplit("/", 1)[1]] = int(p.payload)
    assert got == want


def rows(b, table, timeout=5.0):
    """The rows of a rules table in the data directory's database (read as another client)."""
    import sqlite3
    deadline = time.monotonic() + timeout * SLOW
    while True:
        db = sqlite3.connect(os.path.join(b.data_dir, "umbra.db"), timeout=5)
        try:
            got = db.execute('SELECT * FROM "%s"' % table).fetchall()
        except sqlite3.OperationalError:
            got = []
        finally:
            db.close()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_lecture_table_rule_stores_every_message(broker):
    """The lecture's second rule: every message into a table keyed by topic and timestamp."""
    b = broker
    rule(b, "save", "SELECT * FROM '#'",
         {"dynamoDB": {"tableName": "MotionData", "roleArn": "arn:aws:iam::1:role/r",
                       "hashKeyField": "topic", "hashKeyValue": "${topic()}",
                       "rangeKeyField": "timestamp", "rangeKeyValue": "${timestamp()}",
                       "rangeKeyType": "NUMBER"}})
    wait_loaded(b)
    pub = Client(b.port)
    pub.connect("p")
    # The motion sensor of the lecture reports on its shadow's update topic: stored, and so
    # are the shadow service's replies.
    pub.send(publish("$aws/things/IoT-motion-sensor/shadow/update",
                     b'{"state":{"reported":{"motion":1}}}', qos=1, pid=1))
    deadline = time.monotonic() + 5 * SLOW
    while True:
        topics = {r[0] for r in rows(b, "ddb_MotionData")}
        if "$aws/things/IoT-motion-sensor/shadow/update/accepted" in topics:
            break
        assert time.monotonic() < deadline, (topics, b.logs()[-2000:])
        time.sleep(0.05)
    assert "$aws/things/IoT-motion-sensor/shadow/update" in topics
    pub.send(publish("sensors/motion", b'{"motion": 1, "time": "2026/12/02 10:00:00"}', qos=1,
                     pid=2))
    deadline = time.monotonic() + 5 * SLOW
    while True:
        got = rows(b, "ddb_MotionData")
        mine = [r for r in got if r[0] == "sensors/motion"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(mine) == 1
    topic, ts, payload = mine[0]
    assert abs(ts / 1000 - time.time()) < 60
    assert json.loads(payload) == {"motion": 1, "time": "2026/12/02 10:00:00"}


def test_table_rows_replace_and_delete_by_key(broker):
    b = broker
    action = {"tableName": "Devices", "roleArn": "arn:aws:iam::1:role/r",
              "hashKeyField": "device", "hashKeyValue": "${topic(2)}", "payloadField": "doc",
              "operation": "${op}"}
    rule(b, "devices", "SELECT temp FROM 'dev/+/state'", {"dynamoDB": action})
    wait_loaded(b)
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("dev/a/state", b'{"temp": 1, "op": "INSERT"}'))
    pub.send(publish("dev/a/state", b'{"temp": 2, "op": "UPDATE"}'))
    pub.send(publish("dev/b/state", b'{"temp": 3, "op": "INSERT"}'))
    deadline = time.monotonic() + 5 * SLOW
    while sorted(rows(b, "ddb_Devices")) != [("a", '{"temp":2}'), ("b", '{"temp":3}')]:
        assert time.monotonic() < deadline, rows(b, "ddb_Devices")
        time.sleep(0.05)
    pub.send(publish("dev/a/state", b'{"temp": 9, "op": "DELETE"}'))
    while rows(b, "ddb_Devices") != [("b", '{"temp":3}')]:
        assert time.monotonic() < deadline, rows(b, "ddb_Devices")
        time.sleep(0.05)


def test_s3_action_writes_objects_as_files(broker):
    b = broker
    rule(b, "archive", "SELECT * FROM 'logs/+'",
         {"s3": {"bucketName": "device-logs", "roleArn": "arn:aws:iam::1:role/r",
                 "key": "${topic(2)}/${clientid()}.json"}},
         error_action=republish("errors/s3"))
    rule(b, "escape", "SELECT * FROM 'esc'",
         {"s3": {"bucketName": "device-logs", "roleArn": "arn:aws:iam::1:role/r",
                 "key": "../${topic()}"}},
         error_action=republish("errors/s3"))
    wait_loaded(b)
    errors = listen(b, "e", "errors/#")
    pub = Client(b.port)
    pub.connect("dev1")
    pub.send(publish("logs/boot", b'{"ok": true}'))
    path = os.path.join(b.data_dir, "buckets", "device-logs", "boot", "dev1.json")
    deadline = time.monotonic() + 5 * SLOW
    while not os.path.exists(path):
        assert time.monotonic() < deadline, b.logs()[-2000:]
        time.sleep(0.05)
    with open(path) as f:
        assert json.load(f) == {"ok": True}
    # A key that would leave the bucket is refused, and errorAction says so.
    pub.send(publish("esc", b"{}"))
    doc = json.loads(next_publish(errors).payload)
    assert doc["failures"] == [{"failedAction": "S3Action", "failedResource": "device-logs",
                                "errorMessage": "invalid object key"}]
    assert not os.path.exists(os.path.join(b.data_dir, "buckets", "esc"))
