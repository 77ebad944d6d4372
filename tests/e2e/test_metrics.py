"""The metrics listener: Prometheus exposition that promtool accepts, counters that move as a
user expects them to, /healthz and /readyz, the HTTP rules and bounds of the listener, the
metrics-url file and `umbractl health`."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

from conftest import SLOW, UMBRACTL, UMBRAD
from mqtt_raw import Client, DISCONNECT_BYTES, PUBACK, PUBLISH, publish
from test_rules import republish, rule, wait_loaded
from test_tls import paho, unregistered_certificate

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# Every family the broker exposes, always (rules' ones may have no samples).
FAMILIES = [
    "umbra_build_info", "umbra_uptime_seconds", "umbra_connections", "umbra_clients_connected",
    "umbra_connects_total", "umbra_disconnects_total", "umbra_tls_handshakes_total",
    "umbra_tls_handshake_failures_total", "umbra_auth_failures_total",
    "umbra_policy_denials_total", "umbra_sessions", "umbra_subscriptions",
    "umbra_messages_queued", "umbra_messages_inflight", "umbra_retained_messages",
    "umbra_messages_received_total", "umbra_messages_sent_total", "umbra_bytes_received_total",
    "umbra_bytes_sent_total", "umbra_messages_dropped_total", "umbra_shadow_operations_total",
    "umbra_persist_commit_seconds", "umbra_delivery_latency_seconds",
    "umbra_rule_evaluations_total", "umbra_rule_matches_total",
    "umbra_rule_action_failures_total", "umbra_rule_actions_dropped_total",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
    "process_open_fds", "process_max_fds",
]


def metrics_url(b):
    with open(os.path.join(b.data_dir, "metrics-url")) as f:
        return f.read().strip()


def base_url(b):
    return metrics_url(b)[:-len("/metrics")]


def scrape_text(b):
    with urllib.request.urlopen(metrics_url(b), timeout=5 * SLOW) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return r.read().decode()


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(b):
    return parse(scrape_text(b))


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for(b, name, at_least, timeout=5.0, **labels):
    """Scrape until a sample reaches at_least (counters move within a loop turn or a tick)."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        samples = scrape(b)
        if value(samples, name, **labels) >= at_least:
            return samples
        assert time.monotonic() < deadline, "%s%r stayed at %s, wanted %s" % (
            name, labels, value(samples, name, **labels), at_least)
        time.sleep(0.05)


def raw_http(b, data, timeout=5.0):
    """Send bytes to the metrics listener; return everything it answers before closing."""
    host, port = base_url(b)[len("http://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout * SLOW) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)


def test_metrics_url_written_and_exposition_passes_promtool(broker):
    url = metrics_url(broker)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url), url
    assert int(url.rsplit(":", 1)[1].split("/")[0]) != 0  # the port bound, not the 0 asked for
    assert broker.log_line("listening: metrics on 127.0.0.1 port")
    text = scrape_text(broker)
    for name in FAMILIES:
        assert "# HELP %s " % name in text, name
        assert "# TYPE %s " % name in text, name
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (make deps)"
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    s = parse(text)
    assert value(s, "umbra_build_info", version="0.1.0") == 1
    assert value(s, "process_open_fds") > 0
    assert value(s, "process_max_fds") >= value(s, "process_open_fds")
    assert value(s, "process_resident_memory_bytes") > 1e6
    assert abs(value(s, "process_start_time_seconds") - time.time()) < 120
    assert ("umbra_connections", (("listener", "mqtt"),)) in s


def test_qos1_publishes_and_deliveries_are_counted(broker):
    b = broker
    before = scrape(b)
    sub = Client(b.port)
    sub.connect("metrics-sub")
    sub.subscribe(1, ("m/q1", 1))
    pub = Client(b.port)
    pub.connect("metrics-pub")
    n = 20
    for i in range(n):
        pub.send(publish("m/q1", b"payload-%d" % i, qos=1, pid=i + 1))
        assert pub.expect(PUBACK).pid == i + 1
    for i in range(n):
        p = sub.expect(PUBLISH)
        sub.send(bytes([0x40, 2]) + p.pid.to_bytes(2, "big"))
    after = wait_for(b, "umbra_messages_sent_total",
                     value(before, "umbra_messages_sent_total", qos="1") + n, qos="1")
    assert (value(after, "umbra_messages_received_total", qos="1") -
            value(before, "umbra_messages_received_total", qos="1")) == n
    assert (value(after, "umbra_connects_total", result="accepted") -
            value(before, "umbra_connects_total", result="accepted")) == 2
    assert value(after, "umbra_clients_connected") == 2
    assert value(after, "umbra_connections", listener="mqtt") == 2
    assert (value(after, "umbra_bytes_received_total") -
            value(before, "umbra_bytes_received_total")) > n * len(b"payload-0")
    assert value(after, "umbra_bytes_sent_total") > value(before, "umbra_bytes_sent_total")
    # Sampled at most once per loop turn, but at least once for these.
    count = value(after, "umbra_delivery_latency_seconds_count")
    assert count >= 1
    assert value(after, "umbra_delivery_latency_seconds_bucket", le="+Inf") == count
    assert value(after, "umbra_delivery_latency_seconds_sum") < count * 5


def test_disconnect_reasons_are_classified(broker):
    b = broker
    before = scrape(b)
    c = Client(b.port)
    c.connect("leaves-politely")
    c.send(DISCONNECT_BYTES)
    assert c.is_closed()
    old = Client(b.port)
    old.connect("taken")
    new = Client(b.port)
    new.connect("taken")
    assert old.is_closed()
    gone = Client(b.port)
    gone.connect("vanishes")
    gone.close()
    after = wait_for(b, "umbra_disconnects_total",
                     value(before, "umbra_disconnects_total", reason="connection_lost") + 1,
                     reason="connection_lost")
    for reason in ("client", "taken_over"):
        assert (value(after, "umbra_disconnects_total", reason=reason) -
                value(before, "umbra_disconnects_total", reason=reason)) == 1, reason


def test_policy_denied_subscribe_counted(start_broker, tmp_path):
    doc = tmp_path / "policy.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": "arn:aws:iot:*:*:topicfilter/open/*"}]}))
    b = start_broker("--mqtt-policy", str(doc))
    c = Client(b.port)
    c.connect("nosy")
    assert c.subscribe(1, ("secret/plans", 0), ("open/x", 0)) == [0x80, 0]
    s = wait_for(b, "umbra_policy_denials_total", 1, action="subscribe")
    assert value(s, "umbra_policy_denials_total", action="publish") == 0


def test_refused_tls_connect_counted(start_broker, tmp_path):
    b = start_broker(tls=True)
    c, ok, _, _ = paho(b, *unregistered_certificate(tmp_path), "intruder")
    assert not ok
    c.loop_stop()
    s = wait_for(b, "umbra_tls_handshake_failures_total", 1, reason="unknown_cert")
    assert value(s, "umbra_tls_handshakes_total") >= 1
    assert value(s, "umbra_auth_failures_total", listener="mqtts") >= 1
    assert value(s, "umbra_disconnects_total", reason="certificate") >= 1
    assert value(s, "umbra_connections", listener="https") == 0


def test_shadow_update_rule_match_and_commit_latency(broker):
    b = broker
    rule(b, "hot_sensor", "SELECT temp FROM 'sensors/+' WHERE temp > 50", republish("alerts/hot"))
    wait_loaded(b)
    c = Client(b.port)
    c.connect("sensor")
    c.send(publish("$aws/things/dev1/shadow/update",
                   json.dumps({"state": {"reported": {"temp": 70}}}), qos=1, pid=1))
    assert c.expect(PUBACK).pid == 1
    c.send(publish("$aws/things/dev1/shadow/update", b"not json", qos=1, pid=2))
    c.expect(PUBACK)
    c.send(publish("sensors/a", json.dumps({"temp": 70})))
    c.send(publish("sensors/a", json.dumps({"temp": 20})))
    s = wait_for(b, "umbra_rule_evaluations_total", 2, rule="hot_sensor")
    assert value(s, "umbra_rule_matches_total", rule="hot_sensor") == 1
    assert value(s, "umbra_rule_action_failures_total", rule="hot_sensor") == 0
    s = wait_for(b, "umbra_shadow_operations_total", 1, operation="update", result="rejected")
    assert value(s, "umbra_shadow_operations_total", operation="update", result="accepted") == 1
    count = value(s, "umbra_persist_commit_seconds_count")
    assert count >= 1  # the accepted update was committed before its PUBACK
    assert value(s, "umbra_persist_commit_seconds_bucket", le="+Inf") == count
    assert value(s, "umbra_persist_commit_seconds_sum") > 0


def test_drops_and_queue_gauges(start_broker):
    b = start_broker("--max-queued-messages", "2")
    away = Client(b.port)
    away.connect("away", clean=False)
    away.subscribe(1, ("q/#", 1))
    away.send(DISCONNECT_BYTES)
    assert away.is_closed()
    pub = Client(b.port)
    pub.connect("pub")
    for i in range(5):
        pub.send(publish("q/1", b"kept or dropped", qos=1, pid=i + 1))
        pub.expect(PUBACK)
    pub.send(publish("q/0", b"qos 0, nobody online"))
    pub.send(publish("r/kept", b"retained", retain=True))
    s = wait_for(b, "umbra_retained_messages", 1)  # the last one sent: the others are in
    assert value(s, "umbra_messages_dropped_total", reason="offline_qos0") == 1
    assert value(s, "umbra_messages_dropped_total", reason="queue_full") == 3
    assert value(s, "umbra_messages_queued") == 2
    assert value(s, "umbra_sessions") == 2
    assert value(s, "umbra_subscriptions") == 1


def test_health_readiness_and_http_rules(broker):
    base = base_url(broker)
    with urllib.request.urlopen(base + "/healthz", timeout=5 * SLOW) as r:
        assert (r.status, r.read()) == (200, b"ok\n")
    with urllib.request.urlopen(base + "/readyz", timeout=5 * SLOW) as r:
        assert r.status == 200
    head = raw_http(broker, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n"), head
    assert b"Content-Length: 0\r\n" not in head  # the length of the body GET would get
    missing = raw_http(broker, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404 "), missing
    post = raw_http(broker, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
    assert post.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: GET, HEAD\r\n" in post, post
    garbage = raw_http(broker, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in garbage, garbage
    body = raw_http(broker, b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert body.startswith(b"HTTP/1.1 413 "), body
    # Keep-alive and pipelining: two answers on one connection, in order.
    two = raw_http(broker, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert two.count(b"HTTP/1.1 200 OK") == 2 and two.endswith(b"ready\n"), two


def test_metrics_connections_are_bounded(broker):
    host, port = base_url(broker)[len("http://"):].rsplit(":", 1)
    held = [socket.create_connection((host, int(port)), timeout=5 * SLOW) for _ in range(16)]
    try:
        time.sleep(0.2 * SLOW)  # every one accepted
        extra = raw_http(broker, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert extra.startswith(b"HTTP/1.1 503 "), extra
        held.pop().close()
        deadline = time.monotonic() + 5 * SLOW
        while True:  # the slot is free once the broker has seen the close
            answer = raw_http(broker, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if answer.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
    finally:
        for s in held:
            s.close()


def test_unfinished_request_times_out(broker):
    start = time.monotonic()
    answer = raw_http(broker, b"GET /metrics HTTP/1.1\r\nHost: x\r\n", timeout=15)
    took = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert 4.5 < took < 8 * SLOW, took


def test_metrics_off_means_no_listener_and_no_file(start_broker):
    b = start_broker("--metrics", "off")
    c = Client(b.port)
    assert c.connect("works") == (0, 0)
    assert not os.path.exists(os.path.join(b.data_dir, "metrics-url"))
    assert "listening: metrics" not in b.logs()


def test_stale_metrics_url_removed_when_off(start_broker):
    b = start_broker()
    assert os.path.exists(os.path.join(b.data_dir, "metrics-url"))
    b.stop()
    b.args += ["--metrics", "off"]
    b.start()
    assert not os.path.exists(os.path.join(b.data_dir, "metrics-url"))


def health(b):
    return subprocess.run([UMBRACTL, "--data-dir", b.data_dir, "health"], capture_output=True,
                          text=True, timeout=20)


def test_umbractl_health_against_running_and_stopped_broker(start_broker):
    b = start_broker()
    r = health(b)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    assert b.stop() == 0
    r = health(b)
    assert r.returncode == 1
    assert "unhealthy: no answer from %s/healthz" % base_url(b) in r.stderr, r.stderr


def test_metrics_port_in_use_stops_the_daemon(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path / "d"), "--mqtt", "127.0.0.1:0",
                            "--mqtts", "off", "--https", "off", "--metrics", "127.0.0.1:%d" % port],
                           capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 1
    assert "metrics: cannot listen on 127.0.0.1:%d: address already in use" % port in r.stderr
