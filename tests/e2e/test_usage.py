"""Usage metering: a known mix of MQTT, HTTPS, shadow, registry and rule traffic from real
clients is metered exactly as AWS IoT Core would bill it, survives a restart and a kill -9
(once flushed), and get-usage prices it with the built-in and the lecture's price tables."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import SLOW, UMBRACTL
from helpers import PahoClient
from mqtt_raw import Client, PINGRESP, DISCONNECT_BYTES

LECTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "../../examples/price-table-lecture.json")
COUNTERS = ("connectionMinutes", "messages", "registryShadowOperations", "rulesTriggered",
            "actionsApplied")


def ctl(b, *args, check=True):
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir] + list(args), capture_output=True,
                       text=True, timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def get_usage(b, *args):
    return json.loads(ctl(b, "get-usage", *args).stdout)


def wait_usage(b, want, *args, timeout=15.0):
    """Poll get-usage (bounded) until its groups equal want ({thing: {counter: n}})."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        doc = get_usage(b, "--group-by", "thing", *args)
        got = {g["thing"]: {k: v for k, v in g["usage"].items() if v} for g in doc["groups"]}
        if got == want:
            return doc
        assert time.monotonic() < deadline, "usage %r, want %r" % (got, want)
        time.sleep(0.2)


def totals(want):
    return {k: sum(w.get(k, 0) for w in want.values()) for k in COUNTERS}


def meter_rule(b):
    payload = {"sql": "SELECT * FROM 'fleet/data'", "awsIotSqlVersion": "2016-03-23",
               "actions": [{"republish": {"topic": "audit/a", "roleArn": "arn:aws:iam::1:role/r"}},
                           {"republish": {"topic": "audit/b", "roleArn": "arn:aws:iam::1:role/r"}}]}
    ctl(b, "create-topic-rule", "--rule-name", "meter", "--topic-rule-payload", json.dumps(payload))
    time.sleep(0.6 * SLOW)  # the daemon loads rules on its registry poll


def traffic(b):
    """The mix; returns what AWS would meter for it, per client id."""
    ctl(b, "create-thing", "--thing-name", "sensor-1")
    ctl(b, "describe-thing", "--thing-name", "sensor-1")
    meter_rule(b)
    subs = [PahoClient(b, "sub-%d" % i) for i in (1, 2)]
    for s in subs:
        s.subscribe("fleet/data", 1)
    multi = PahoClient(b, "multi")
    done = []
    multi.client.on_subscribe = lambda c, u, mid, granted: done.append(granted)
    multi.client.subscribe([("a/1", 0), ("a/2", 0), ("a/3", 0)])  # one SUBSCRIBE, 3 filters
    sensor = PahoClient(b, "sensor-1", will=("fleet/will", b"w" * 100, 1, False))
    for _ in range(5):
        sensor.publish("fleet/data", b"k" * 1024, qos=1)
    for _ in range(2):
        sensor.publish("fleet/data", b"K" * 12 * 1024, qos=1)  # 3 messages each
    sensor.publish("fleet/status", b"s" * 10, qos=1, retain=True)  # PUBLISH and RETAINED
    sensor.publish("$aws/things/sensor-1/shadow/update", b'{"state":{"reported":{"t":1}}}', qos=1)
    for s in subs:
        assert len(s.get_all(7, timeout=10 * SLOW)) == 7
    late = PahoClient(b, "late")
    late.subscribe("fleet/status", 1)
    assert late.get().retain
    r = ctl(b, "update-thing-shadow", "--thing-name", "sensor-1", "--cli-binary-format",
            "raw-in-base64-out", "--payload", '{"state":{"desired":{"t":2}}}', os.devnull)
    pinger = Client(b.port)
    pinger.connect("pinger")
    for _ in range(3):
        pinger.send(b"\xc0\x00")
        pinger.expect(PINGRESP)
    pinger.send(DISCONNECT_BYTES)
    assert len(done) == 1 and len(done[0]) == 3
    for c in subs + [multi, sensor, late]:
        c.close()
    return {
        # CONNECT (its will included) 1, 5 x 1 KB 5, 2 x 12 KB 6, retained 1 + 1, shadow
        # update 1, the HTTPS update's request and response 1 + 1.
        "sensor-1": {"connectionMinutes": 1, "messages": 17,
                     # create-thing, describe-thing, shadow updates over MQTT and HTTPS
                     "registryShadowOperations": 4,
                     "rulesTriggered": 5 + 2 * 3, "actionsApplied": 2 * (5 + 2 * 3)},
        # CONNECT, SUBSCRIBE, 7 deliveries (11 messages) and their 7 PUBACKs
        "sub-1": {"connectionMinutes": 1, "messages": 1 + 1 + 11 + 7},
        "sub-2": {"connectionMinutes": 1, "messages": 1 + 1 + 11 + 7},
        "multi": {"connectionMinutes": 1, "messages": 1 + 3},
        # CONNECT, SUBSCRIBE, the retained message delivered and its PUBACK
        "late": {"connectionMinutes": 1, "messages": 4},
        # CONNECT; PINGREQ, PINGRESP, CONNACK, SUBACK, DISCONNECT are free
        "pinger": {"connectionMinutes": 1, "messages": 1},
    }


def test_every_counter_exact_and_durable(start_broker):
    b = start_broker("--usage-flush-interval", "1", tls=True)
    want = traffic(b)
    doc = wait_usage(b, want)
    assert doc["usage"] == totals(want)
    assert doc["priceTable"]["region"] == "us-east-1" and doc["priceTable"]["readOn"]
    # The built-in table: $0.08/M minutes, $1/M messages, $1.25/M operations, $0.15/M rules
    # and actions.
    t = totals(want)
    cost = (t["connectionMinutes"] * 0.08 + t["messages"] * 1.0 + t["registryShadowOperations"]
            * 1.25 + (t["rulesTriggered"] + t["actionsApplied"]) * 0.15) / 1e6
    assert doc["estimatedCostUSD"] == pytest.approx(cost, rel=1e-9)
    assert sum(g["estimatedCostUSD"] for g in doc["groups"]) == pytest.approx(cost, rel=1e-6)

    b.restart()  # a clean stop writes the meters; the table is still there after
    wait_usage(b, want)

    # What a flush wrote survives kill -9.
    extra = Client(b.port)
    extra.connect("after-restart")
    extra.send(DISCONNECT_BYTES)
    want["after-restart"] = {"connectionMinutes": 1, "messages": 1}
    wait_usage(b, want)
    b.kill9()
    b.start()
    wait_usage(b, want)


def test_lecture_price_table_and_groups_by_day(start_broker):
    b = start_broker("--usage-flush-interval", "1")
    c = Client(b.port)
    c.connect("dev")
    for _ in range(3):
        c.send(bytes([0x30, 13, 0, 5]) + b"t/abc" + b"123456")  # QoS 0 PUBLISH, 11 bytes
    c.send(DISCONNECT_BYTES)
    wait_usage(b, {"dev": {"connectionMinutes": 1, "messages": 4}})
    doc = get_usage(b, "--price-table", LECTURE, "--group-by", "day")
    assert doc["usage"]["messages"] == 4
    assert doc["estimatedCostUSD"] == pytest.approx(4 * 5.0 / 1e6)  # $5 per million messages
    assert doc["costBreakdownUSD"]["connectionMinutes"] == 0
    assert doc["priceTable"]["prices"]["messages"] == [{"perMillion": 5.0}]
    assert doc["groupBy"] == "day" and len(doc["groups"]) == 1
    assert doc["groups"][0]["day"] == time.strftime("%Y-%m-%d", time.gmtime())
    # A range that ends before anything was recorded is empty; epoch seconds work too.
    empty = get_usage(b, "--start-time", "2020-01-01T00:00:00Z", "--end-time", "1600000000")
    assert empty["usage"]["messages"] == 0 and empty["estimatedCostUSD"] == 0
    assert empty["startTime"] == "2020-01-01T00:00:00Z"
    assert empty["endTime"] == "2020-09-13T12:26:40Z"


@pytest.mark.parametrize("args, why", [
    (["--start-time", "yesterday"], "--start-time: 'yesterday' is not a time"),
    (["--end-time", "2026-02-30T00:00:00Z"], "--end-time"),
    (["--start-time", "2026-12-03", "--end-time", "2026-12-02"], "must be after"),
    (["--group-by", "hour"], "--group-by must be thing or day"),
    (["--bogus"], "unknown option --bogus"),
    (["--start-time"], "needs a value"),
])
def test_bad_arguments_exit_2(tmp_path, args, why):
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-usage"] + args,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and why in r.stderr, r.stderr


def test_malformed_price_table_names_the_file_and_problem(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text('{"readOn": "today", "prices": {"messages": [{"perMillion": "five"}]}}')
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-usage", "--price-table",
                        str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert str(bad) in r.stderr and "prices.connectionMinutes" in r.stderr, r.stderr
    bad.write_text("{\n  \"readOn\": \n")
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-usage", "--price-table",
                        "file://" + str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and str(bad) in r.stderr and "line 3" in r.stderr, r.stderr
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-usage", "--price-table",
                        str(tmp_path / "missing.json")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "missing.json" in r.stderr


def test_sighup_writes_the_meters_at_once(start_broker):
    b = start_broker("--usage-flush-interval", "3600")
    hour = time.time() // 3600
    c = Client(b.port)
    c.connect("hup")
    c.send(DISCONNECT_BYTES)
    time.sleep(0.5 * SLOW)
    if time.time() // 3600 == hour:  # a new UTC hour writes the meters by itself
        assert get_usage(b)["usage"]["messages"] == 0
    b.proc.send_signal(signal.SIGHUP)
    wait_usage(b, {"hup": {"connectionMinutes": 1, "messages": 1}}, timeout=5.0)


def test_exact_under_load_across_many_flushes(start_broker):
    """Thousands of deliveries while the meters are written every second: every write adds,
    none is lost or counted twice."""
    b = start_broker("--usage-flush-interval", "1")
    n = 3000
    subs = [PahoClient(b, "load-sub-%d" % i) for i in range(3)]
    for s in subs:
        s.subscribe("load/x", 0)
    pub = PahoClient(b, "load-pub")
    for i in range(n):
        pub.publish("load/x", b"p" * 100)  # QoS 0: no PUBACK either way
        if i % 1000 == 999:
            time.sleep(1.2)  # let a flush land mid-run
    for s in subs:
        assert len(s.get_all(n, timeout=20 * SLOW)) == n
    for c in subs + [pub]:
        c.close()
    want = {"load-pub": {"connectionMinutes": 1, "messages": 1 + n}}
    for i in range(3):
        want["load-sub-%d" % i] = {"connectionMinutes": 1, "messages": 1 + 1 + n}
    wait_usage(b, want)
