"""The rules engine's sinks against real endpoints: http (a local HTTP server), dynamoDBv2
(tables of the data directory's database), s3 write failures, and errorAction's one document
per (rule, message) naming every failed action."""
import base64
import json
import os
import re
import time

import pytest

from conftest import SLOW
from mqtt_raw import Client, publish
from rule_endpoint import Endpoint
from test_rules import ctl, republish, rule, rows, wait_loaded
from test_shadows import listen, next_publish


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def endpoint():
    made = []

    def factory(**kw):
        ep = Endpoint(**kw)
        made.append(ep)
        return ep

    yield factory
    for ep in made:
        ep.close()


def http(url, *headers):
    action = {"url": url}
    if headers:
        action["headers"] = [{"key": k, "value": v} for k, v in headers]
    return {"http": action}


def counters(b, name, want=None, until=None, timeout=10.0):
    """The rule's counters from get-topic-rule (the running daemon's), once they are want (or
    until(counters) holds)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        got = json.loads(ctl(b, "get-topic-rule", "--rule-name", name).stdout).get("umbraCounters")
        if (got == want if until is None else got and until(got)) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def sender(b):
    pub = Client(b.port)
    pub.connect("p")
    return pub


def test_http_posts_the_result_with_templated_url_and_headers(broker, endpoint):
    b, ep = broker, endpoint()
    rule(b, "web", "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 10",
         http(ep.url + "/in/${topic(2)}?c=${clientid()}", ("x-device", "dev-${topic(2)}")))
    wait_loaded(b)
    pub = sender(b)
    pub.send(publish("sensors/d1/data", b'{"temp": 5}'))
    pub.send(publish("sensors/d1/data", b'{"temp": 30}'))
    got = ep.wait(1)
    assert len(got) == 1
    path, headers, body = got[0]
    assert path == "/in/d1?c=p"
    assert headers["content-type"] == "application/json"
    assert headers["x-device"] == "dev-d1"
    assert json.loads(body) == {"temp": 30, "device": "d1"}
    assert counters(b, "web", {"matched": 1, "succeeded": 1, "failed": 0, "dropped": 0})


def test_http_binary_payload_is_octet_stream_unless_the_rule_says(broker, endpoint):
    b, ep = broker, endpoint()
    rule(b, "raw", "SELECT * FROM 'bin/a'", http(ep.url + "/a"))
    rule(b, "typed", "SELECT * FROM 'bin/b'", http(ep.url + "/b", ("Content-Type", "image/png")))
    wait_loaded(b)
    pub = sender(b)
    pub.send(publish("bin/a", b"\x00\xffnot json"))
    pub.send(publish("bin/b", b"\x89PNG"))
    got = {p: (h, body) for p, h, body in ep.wait(2)}
    assert got["/a"] == (got["/a"][0], b"\x00\xffnot json")
    assert got["/a"][0]["content-type"] == "application/octet-stream"
    assert got["/b"][0]["content-type"] == "image/png" and got["/b"][1] == b"\x89PNG"


def test_http_retries_429_and_5xx_then_succeeds(broker, endpoint):
    b, ep = broker, endpoint(statuses=[503, 429])
    rule(b, "retry", "SELECT * FROM 'r/#'", http(ep.url + "/r"))
    wait_loaded(b)
    sender(b).send(publish("r/1", b'{"n": 1}'))
    got = ep.wait(3)
    assert [json.loads(body) for _, _, body in got] == [{"n": 1}] * 3
    assert counters(b, "retry", {"matched": 1, "succeeded": 1, "failed": 0, "dropped": 0})
    assert len(ep.wait(4, timeout=0.8)) == 3  # no fourth try


def test_http_client_error_fails_at_once_and_reaches_error_action(broker, endpoint):
    b, ep = broker, endpoint(statuses=[404])
    url = ep.url + "/missing"
    rule(b, "nf", "SELECT * FROM 'nf/#'", http(url), error_action=republish("errors/nf"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    sender(b).send(publish("nf/1", b'{"n": 1}'))
    doc = json.loads(next_publish(sub).payload)
    assert doc["ruleName"] == "nf" and doc["topic"] == "nf/1" and doc["clientId"] == "p"
    assert UUID.fullmatch(doc["cloudwatchTraceId"])
    assert base64.b64decode(doc["base64OriginalPayload"]) == b'{"n": 1}'
    assert doc["failures"] == [{"failedAction": "HttpAction", "failedResource": url,
                                "errorMessage": "the endpoint answered HTTP 404"}]
    assert len(ep.wait(2, timeout=0.8)) == 1  # 404 is not tried again
    assert counters(b, "nf", {"matched": 1, "succeeded": 0, "failed": 1, "dropped": 0})


def test_one_error_document_names_every_failed_action(broker, endpoint):
    """A synchronous failure (an invalid republish topic) and an asynchronous one (HTTP 500 three
    times) of the same message: one error document, listing both."""
    b, ep = broker, endpoint(statuses=[500, 500, 500])
    rule(b, "two", "SELECT * FROM 'two/#'", republish("bad/#/topic"), http(ep.url + "/x"),
         error_action=republish("errors/two"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    sender(b).send(publish("two/1", b'{"n": 1}'))
    doc = json.loads(next_publish(sub).payload)
    assert sorted(f["failedAction"] for f in doc["failures"]) == ["HttpAction", "RepublishAction"]
    assert sub.no_packet(0.5)  # one document, not one per failure
    assert len(ep.wait(3)) == 3


def test_endpoint_that_is_down_costs_the_broker_nothing(broker, endpoint):
    """A hanging endpoint: messages keep flowing to subscribers at once, the http action's queue
    stays bounded (past 1000 waiting requests a message is dropped and counted), and stopping
    the broker does not wait for the endpoint."""
    b, ep = broker, endpoint(delay=10)
    rule(b, "slow", "SELECT * FROM 'load/#'", http(ep.url + "/slow"))
    wait_loaded(b)
    sub = listen(b, "s", "load/#")
    pub = sender(b)
    for i in range(1100):
        pub.send(publish("load/x", b'{"i": %d}' % i))
    t0 = time.monotonic()
    for i in range(1100):
        assert json.loads(next_publish(sub).payload) == {"i": i}
    assert time.monotonic() - t0 < 5 * SLOW
    got = counters(b, "slow", until=lambda c: c["matched"] == 1100)
    assert got["matched"] == 1100 and got["dropped"] == 100, got
    t0 = time.monotonic()
    assert b.stop() == 0, b.logs()
    assert time.monotonic() - t0 < 5


def test_dynamodb_v2_puts_each_attribute_in_its_column(broker):
    b = broker
    rule(b, "v2", "SELECT topic(2) AS device, temp, tags FROM 'v2/#'",
         {"dynamoDBv2": {"roleArn": "arn:aws:iam::1:role/r", "putItem": {"tableName": "Readings"}}})
    wait_loaded(b)
    pub = sender(b)
    pub.send(publish("v2/d1", b'{"temp": 21.5}', qos=1, pid=1))
    pub.send(publish("v2/d2", b'{"temp": 7, "tags": ["a", "b"]}', qos=1, pid=2))
    deadline = time.monotonic() + 5 * SLOW
    while len(rows(b, "ddb_Readings")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    import sqlite3
    db = sqlite3.connect(os.path.join(b.data_dir, "umbra.db"), timeout=5)
    db.row_factory = sqlite3.Row
    got = [dict(r) for r in db.execute('SELECT * FROM "ddb_Readings" ORDER BY device')]
    db.close()
    assert got == [{"device": "d1", "temp": 21.5, "tags": None},
                   {"device": "d2", "temp": 7, "tags": '["a","b"]'}]


def test_dynamodb_v2_refuses_a_result_that_is_not_an_object(broker):
    b = broker
    rule(b, "v2bad", "SELECT VALUE temp FROM 'v2bad/#'",
         {"dynamoDBv2": {"roleArn": "arn:aws:iam::1:role/r", "putItem": {"tableName": "T"}}},
         error_action=republish("errors/v2"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    sender(b).send(publish("v2bad/1", b'{"temp": 3}'))
    doc = json.loads(next_publish(sub).payload)
    assert doc["failures"][0]["failedAction"] == "DynamoActionV2"
    assert doc["failures"][0]["failedResource"] == "T"


def test_s3_write_failure_reaches_error_action(broker):
    b = broker
    # A file where the bucket's directory should be: the write fails on the thread pool.
    os.makedirs(os.path.join(b.data_dir, "buckets"), exist_ok=True)
    with open(os.path.join(b.data_dir, "buckets", "blocked"), "w") as f:
        f.write("not a directory")
    rule(b, "s3bad", "SELECT * FROM 's3/#'",
         {"s3": {"roleArn": "arn:aws:iam::1:role/r", "bucketName": "blocked", "key": "k/${topic(2)}"}},
         error_action=republish("errors/s3"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    sender(b).send(publish("s3/x", b'{"n": 1}'))
    doc = json.loads(next_publish(sub).payload)
    assert doc["failures"][0]["failedAction"] == "S3Action"
    assert doc["failures"][0]["failedResource"] == "blocked"
    assert "directory" in doc["failures"][0]["errorMessage"]
    assert counters(b, "s3bad", {"matched": 1, "succeeded": 0, "failed": 1, "dropped": 0})


def test_traceid_is_one_uuid_per_message(broker):
    b = broker
    rule(b, "t1", "SELECT traceid() AS t FROM 'trace/#'", republish("traced/1"))
    rule(b, "t2", "SELECT traceid() AS t FROM 'trace/#'", republish("traced/2"))
    wait_loaded(b)
    sub = listen(b, "s", "traced/#")
    pub = sender(b)
    pub.send(publish("trace/a", b"{}"))
    pub.send(publish("trace/b", b"{}"))
    got = [json.loads(next_publish(sub).payload)["t"] for _ in range(4)]
    assert all(UUID.fullmatch(t) for t in got)
    assert len(set(got)) == 2  # both rules see the same id for a message, messages differ


def test_acknowledged_messages_table_rows_survive_kill_9(broker):
    """A QoS 1 PUBACK means the message's table rows are on disk: kill -9 loses none."""
    from mqtt_raw import PUBACK
    b = broker
    rule(b, "keep", "SELECT * FROM 'keep/#'",
         {"dynamoDB": {"tableName": "Kept", "roleArn": "arn:aws:iam::1:role/r",
                       "hashKeyField": "n", "hashKeyValue": "${n}", "hashKeyType": "NUMBER"}},
         {"dynamoDBv2": {"roleArn": "arn:aws:iam::1:role/r", "putItem": {"tableName": "KeptV2"}}})
    wait_loaded(b)
    pub = sender(b)
    for i in range(200):
        pub.send(publish("keep/x", b'{"n": %d}' % i, qos=1, pid=i + 1))
    acked = {pub.expect(PUBACK).pid for _ in range(200)}
    assert acked == set(range(1, 201))
    b.kill9()
    b.start()
    assert sorted(r[0] for r in rows(b, "ddb_Kept")) == list(range(200))
    assert sorted(r[0] for r in rows(b, "ddb_KeptV2")) == list(range(200))


def test_get_thing_shadow_reads_the_local_shadow_store(broker):
    b = broker
    rule(b, "ask", "SELECT get_thing_shadow('lamp', 'arn:aws:iam::1:role/r').state.reported.on "
                   "AS on, get_thing_shadow('lamp', 'cfg', 'arn:aws:iam::1:role/r').state.desired "
                   "AS cfg FROM 'ask/#'", republish("answer"))
    wait_loaded(b)
    sub = listen(b, "s", "answer", "$aws/things/lamp/shadow/name/+/update/accepted",
                 "$aws/things/lamp/shadow/update/accepted")
    pub = sender(b)
    pub.send(publish("$aws/things/lamp/shadow/update", b'{"state": {"reported": {"on": 1}}}'))
    pub.send(publish("$aws/things/lamp/shadow/name/cfg/update", b'{"state": {"desired": {"lux": 9}}}'))
    assert {next_publish(sub).topic for _ in range(2)} == {
        "$aws/things/lamp/shadow/update/accepted", "$aws/things/lamp/shadow/name/cfg/update/accepted"}
    pub.send(publish("ask/now", b"{}"))
    assert json.loads(next_publish(sub).payload) == {"on": 1, "cfg": {"lux": 9}}


def test_decimals_keep_their_shortest_form(broker, endpoint):
    """90.1 is republished and posted as 90.1, not 90.099999999999994 (AWS prints the shortest
    decimal that reads back the same)."""
    b, ep = broker, endpoint()
    rule(b, "dec", "SELECT * FROM 'dec/#'", republish("dec-out"), http(ep.url + "/d"))
    rule(b, "dec2", "SELECT temp * 1 AS t, 0.1 + 0.2 AS s FROM 'dec/#'", republish("dec-out2"))
    wait_loaded(b)
    sub = listen(b, "s", "dec-out", "dec-out2")
    sender(b).send(publish("dec/x", b'{"temp": 90.1, "tiny": 1.5e-7}'))
    got = {p.topic: p.payload for p in (next_publish(sub), next_publish(sub))}
    assert got["dec-out"] == b'{"temp":90.1,"tiny":1.5e-7}'
    assert got["dec-out2"] == b'{"t":90.1,"s":0.30000000000000004}'
    assert ep.wait(1)[0][2] == b'{"temp":90.1,"tiny":1.5e-7}'


def test_http_header_values_cannot_inject_headers(broker, endpoint):
    """A header value rendered from the payload that holds a line break fails the action (to
    errorAction) instead of adding headers to the request."""
    b, ep = broker, endpoint()
    rule(b, "inject", "SELECT * FROM 'inj/#'", http(ep.url + "/i", ("x-note", "${note}")),
         error_action=republish("errors/inj"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    pub = sender(b)
    pub.send(publish("inj/x", json.dumps({"note": "a\r\nX-Evil: 1"}).encode()))
    doc = json.loads(next_publish(sub).payload)
    assert doc["failures"][0]["errorMessage"] == "a header value holds a line break"
    pub.send(publish("inj/x", json.dumps({"note": "fine"}).encode()))
    got = ep.wait(1)
    assert len(got) == 1 and got[0][1]["x-note"] == "fine" and "x-evil" not in got[0][1]
