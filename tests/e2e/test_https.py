"""The HTTPS data plane on 8443: shadows and publish with client certificates, as AWS serves them.

Clients are curl (the lecture's commands, unchanged but for host and files), Python's
http.client over TLS with a device certificate, raw TLS sockets for malformed input, and
umbractl's iot-data commands.
"""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import SLOW, UMBRACTL
from mqtt_raw import Client, PUBLISH, PUBACK
from test_shadows import listen, next_publish, replies
from test_tls import ctl, make_device

THING = "loT-motion-sensor"  # the lecture's thing name, typo included


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(tls=True)


def curl(b, cert, key, *args):
    """curl like the lecture: -k and a client certificate. Returns (status, body)."""
    r = subprocess.run(["curl", "-s", "-k", "--cert", cert, "--key", key, "-w", "\n%{http_code}"]
                       + list(args), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def url(b, path):
    return "https://127.0.0.1:%d%s" % (b.https_port, path)


class Rest:
    """A keep-alive HTTPS connection with a device certificate."""

    def __init__(self, b, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(b.data_dir, "ca.pem"))
        ctx.load_cert_chain(cert, key)
        self.conn = http.client.HTTPSConnection("localhost", b.https_port, context=ctx,
                                                timeout=10 * SLOW)

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=body)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def json(self, method, path, doc=None):
        status, headers, data = self.call(method, path, None if doc is None else json.dumps(doc))
        return status, headers, json.loads(data) if data else None

    def close(self):
        self.conn.close()


def device(b, name=THING):
    _, cert, key = make_device(b, name)
    return cert, key


def test_lecture_curl_commands(tls_broker):
    b = tls_broker
    cert, key = device(b)
    sub = listen(b, "watcher", "$aws/things/%s/shadow/update/#" % THING)
    shadow = url(b, "/things/%s/shadow" % THING)
    hdr = ["-H", "Content-Type: application/json", "-X", "POST"]
    status, body = curl(b, cert, key, *hdr, "-d", '{"state":{"desired":{"motion":"0","time":"hello"}}}',
                        shadow)
    assert status == 200, body
    doc = json.loads(body)
    assert doc["state"] == {"desired": {"motion": "0", "time": "hello"}} and doc["version"] == 1
    assert set(doc["metadata"]["desired"]) == {"motion", "time"}
    # MQTT subscribers see what AWS publishes for a REST update: delta, documents, accepted.
    got = replies(sub, 3)
    prefix = "$aws/things/%s/shadow/update" % THING
    assert got[prefix + "/delta"]["state"] == {"motion": "0", "time": "hello"}
    assert got[prefix + "/documents"]["current"]["version"] == 1
    assert got[prefix + "/accepted"]["version"] == 1

    status, body = curl(b, cert, key, *hdr, "-d", '{"state":{"reported":{"motion":"0","time":"hello"}}}',
                        shadow)
    assert status == 200 and json.loads(body)["version"] == 2
    status, body = curl(b, cert, key, shadow)
    doc = json.loads(body)
    assert status == 200 and "delta" not in doc["state"]
    assert doc["state"]["reported"] == {"motion": "0", "time": "hello"}

    # The lecture's reset: "state": null clears everything, the shadow stays.
    status, body = curl(b, cert, key, *hdr, "-d", '{"state":null}', shadow)
    assert status == 200, body
    status, body = curl(b, cert, key, shadow)
    assert status == 200 and json.loads(body)["state"] == {} and json.loads(body)["version"] == 3


def test_errors_are_aws_errors(tls_broker):
    b = tls_broker
    cert, key = device(b, "lamp")
    r = Rest(b, cert, key)
    status, h, doc = r.json("GET", "/things/lamp/shadow")
    assert status == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"
    assert doc == {"message": "No shadow exists with name: 'lamp'"}
    assert len(h["x-amzn-requestid"]) == 36
    status, h, doc = r.json("GET", "/things/lamp/shadow?name=cfg")
    assert status == 404 and doc["message"] == "No shadow exists with name: 'cfg'"
    status, h, doc = r.json("DELETE", "/things/lamp/shadow")
    assert status == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"

    assert r.json("POST", "/things/lamp/shadow", {"state": {"desired": {"on": 1}}})[0] == 200
    status, h, doc = r.json("POST", "/things/lamp/shadow", {"state": {"desired": {"on": 2}}, "version": 7})
    assert status == 409 and h["x-amzn-errortype"] == "ConflictException"
    assert doc == {"message": "Version conflict"}
    status, h, data = r.call("POST", "/things/lamp/shadow", b"{not json")
    assert status == 400 and h["x-amzn-errortype"] == "InvalidRequestException"
    assert json.loads(data)["message"] == "Invalid JSON"
    status, h, doc = r.json("POST", "/things/lamp/shadow", {"nostate": 1})
    assert status == 400 and doc["message"] == "Missing required node: state"
    status, h, doc = r.json("POST", "/things/lamp/shadow", {"state": {"desired": {"big": "x" * 9000}}})
    assert status == 413 and h["x-amzn-errortype"] == "RequestEntityTooLargeException"
    status, h, doc = r.json("GET", "/things/bad%20name/shadow")
    assert status == 400 and h["x-amzn-errortype"] == "InvalidRequestException"
    status, h, doc = r.json("PUT", "/things/lamp/shadow")
    assert status == 405 and h["x-amzn-errortype"] == "MethodNotAllowedException"
    status, h, doc = r.json("GET", "/no/such/path")
    assert status == 404
    # The connection survived every one of those: keep-alive holds across errors.
    status, _, doc = r.json("GET", "/things/lamp/shadow")
    assert status == 200 and doc["version"] == 1
    r.close()


def test_body_over_the_message_limit_is_refused(tls_broker):
    b = tls_broker
    cert, key = device(b, "big")
    r = Rest(b, cert, key)
    status, h, _ = r.call("POST", "/things/big/shadow", b"{" + b" " * (200 * 1024) + b"}")
    assert status == 413 and h["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert h["connection"] == "close"


def test_named_shadows_and_listing(tls_broker):
    b = tls_broker
    cert, key = device(b, "multi")
    r = Rest(b, cert, key)
    for name in ["gamma", "alpha", "beta"]:
        status, _, doc = r.json("POST", "/things/multi/shadow?name=" + name,
                                {"state": {"reported": {"n": name}}})
        assert status == 200 and doc["version"] == 1
    r.json("POST", "/things/multi/shadow", {"state": {"reported": {"classic": True}}})
    status, _, doc = r.json("GET", "/things/multi/shadow?name=beta")
    assert doc["state"]["reported"] == {"n": "beta"}
    base = "/api/things/shadow/ListNamedShadowsForThing/multi"
    status, _, doc = r.json("GET", base)
    assert status == 200 and doc["results"] == ["alpha", "beta", "gamma"]  # never the classic one
    assert "nextToken" not in doc and isinstance(doc["timestamp"], int)
    _, _, page1 = r.json("GET", base + "?pageSize=2")
    assert page1["results"] == ["alpha", "beta"] and page1["nextToken"]
    _, _, page2 = r.json("GET", base + "?pageSize=2&nextToken=" + page1["nextToken"])
    assert page2["results"] == ["gamma"] and "nextToken" not in page2
    # A thing with no shadows (or no thing at all) lists nothing, not 404.
    status, _, doc = r.json("GET", "/api/things/shadow/ListNamedShadowsForThing/nobody")
    assert status == 200 and doc["results"] == []
    status, _, doc = r.json("DELETE", "/things/multi/shadow?name=alpha")
    assert status == 200 and doc["version"] == 1
    _, _, doc = r.json("GET", base)
    assert doc["results"] == ["beta", "gamma"]
    r.close()


def test_publish_over_https(tls_broker):
    b = tls_broker
    cert, key = device(b, "pub")
    sub = listen(b, "sub", "sensors/#")
    status, body = curl(b, cert, key, "-X", "POST", "-d", '{"motion": 1}',
                        url(b, "/topics/sensors%2Fmotion?qos=1"))
    assert status == 200 and json.loads(body)["message"] == "OK"
    p = next_publish(sub)
    assert (p.topic, p.payload) == ("sensors/motion", b'{"motion": 1}')
    # Retained, then read by a new subscriber; an empty retained payload deletes it.
    r = Rest(b, cert, key)
    assert r.call("POST", "/topics/sensors/state?retain=true", b"on")[0] == 200
    late = listen(b, "late", "sensors/state")
    p = next_publish(late)
    assert p.payload == b"on" and p.retain
    assert r.call("POST", "/topics/sensors/state?retain=true", b"")[0] == 200
    later = listen(b, "later", "sensors/state")
    assert later.no_packet(0.3)
    for bad in ["/topics/a?qos=2", "/topics/a/%23", "/topics/a/+/b", "/topics/a%00b"]:
        status, h, _ = r.call("POST", bad, b"x")
        assert status == 400 and h["x-amzn-errortype"] == "InvalidRequestException", bad
    # A publish to a shadow request topic reaches the shadow service, as over MQTT.
    watcher = listen(b, "w", "$aws/things/pub/shadow/update/accepted")
    assert r.call("POST", "/topics/%24aws%2Fthings%2Fpub%2Fshadow%2Fupdate",
                  b'{"state":{"reported":{"via":"publish"}}}')[0] == 200
    assert json.loads(next_publish(watcher).payload)["state"]["reported"] == {"via": "publish"}
    r.close()


def test_policies_decide_rest_calls(tls_broker):
    b = tls_broker
    out, cert, key = make_device(b, "ro", policy=False)
    ctl(b, "create-policy", "--policy-name", "read-only", "--policy-document", json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iot:GetThingShadow", "iot:ListNamedShadowsForThing"],
             "Resource": "arn:aws:iot:*:*:thing/ro"},
            {"Effect": "Allow", "Action": "iot:UpdateThingShadow",
             "Resource": "arn:aws:iot:*:*:thing/ro/writable"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/ro/*"},
        ]}))
    ctl(b, "attach-policy", "--policy-name", "read-only", "--target", out["certificateArn"])
    r = Rest(b, cert, key)
    status, h, doc = r.json("POST", "/things/ro/shadow", {"state": {"reported": {"x": 1}}})
    assert status == 403 and h["x-amzn-errortype"] == "ForbiddenException"
    assert r.json("GET", "/things/ro/shadow")[0] == 404  # allowed, and there is none
    assert r.json("GET", "/things/other/shadow")[0] == 403
    assert r.json("POST", "/things/ro/shadow?name=writable", {"state": {"reported": {"x": 1}}})[0] == 200
    assert r.json("DELETE", "/things/ro/shadow?name=writable")[0] == 403
    assert r.call("POST", "/topics/ro/telemetry", b"1")[0] == 200
    status, h, _ = r.call("POST", "/topics/elsewhere", b"1")
    assert status == 403 and h["x-amzn-errortype"] == "ForbiddenException"
    assert r.call("POST", "/topics/ro/kept?retain=true", b"1")[0] == 403  # no iot:RetainPublish
    assert "denied: client=(https) action=iot:UpdateThingShadow resource=arn:aws:iot:" in b.logs()
    # Policy changes apply to the next request on the same connection.
    ctl(b, "detach-policy", "--policy-name", "read-only", "--target", out["certificateArn"])
    deadline = time.monotonic() + 5 * SLOW
    while r.json("GET", "/things/ro/shadow")[0] != 403:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r.close()


def test_certificates_are_checked_as_on_8883(tls_broker):
    b = tls_broker
    out, cert, key = make_device(b, "dev")
    ca = os.path.join(b.data_dir, "ca.pem")
    r = subprocess.run(["curl", "-s", "--cacert", ca, url(b, "/things/dev/shadow")],
                       capture_output=True, timeout=30)
    assert r.returncode != 0  # no client certificate: no TLS session
    ctl(b, "update-certificate", "--certificate-id", out["certificateId"], "--new-status", "INACTIVE")
    deadline = time.monotonic() + 5 * SLOW
    while True:
        r = subprocess.run(["curl", "-s", "--cacert", ca, "--cert", cert, "--key", key,
                            url(b, "/things/dev/shadow")], capture_output=True, timeout=30)
        if r.returncode != 0:
            break
        assert time.monotonic() < deadline, "an INACTIVE certificate still gets answers"
        time.sleep(0.1)
    assert "certificate not ACTIVE" in b.logs()


def raw_tls(b, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(b.data_dir, "ca.pem"))
    ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", b.https_port), timeout=10 * SLOW)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("request_bytes, status", [
    (b"\x00\x01garbage\r\n\r\n", 400),
    (b"GET /things/x/shadow HTTP/1.1\r\nHost x\r\n\r\n", 400),
    (b"GET /things/x/shadow HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"POST /topics/a HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400),
])
def test_malformed_http_gets_an_error_and_a_close(tls_broker, request_bytes, status):
    b = tls_broker
    cert, key = device(b, "m")
    s = raw_tls(b, cert, key)
    s.sendall(request_bytes)
    data = read_all(s)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]
    assert b"Connection: close" in data and b"x-amzn-ErrorType: " in data
    s.close()
    # The daemon is fine.
    assert Rest(b, cert, key).call("GET", "/things/m/shadow")[0] == 404


def test_pipelined_requests_are_answered_in_order(tls_broker):
    b = tls_broker
    cert, key = device(b, "pipe")
    s = raw_tls(b, cert, key)
    body = b'{"state":{"reported":{"n":1}}}'
    s.sendall(b"POST /things/pipe/shadow HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s"
              b"GET /things/pipe/shadow HTTP/1.1\r\nHost: h\r\n\r\n"
              b"GET /things/pipe/shadow?name=none HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
              % (len(body), body))
    data = read_all(s)
    heads = re.findall(rb"HTTP/1\.1 \d+ [A-Za-z ]+(?=\r\n)", data)
    assert heads == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found"], data
    # The GET after the update sees it: responses follow requests.
    assert data.count(b'"version":1') == 2
    s.close()


def test_a_stalled_request_times_out(tls_broker):
    b = tls_broker
    cert, key = device(b, "slow")
    s = raw_tls(b, cert, key)
    s.sendall(b"POST /things/slow/shadow HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    s.settimeout(20 * SLOW)
    data = read_all(s)
    assert data.startswith(b"HTTP/1.1 408 "), data


def test_device_follows_rest_desired_state_over_mqtt(tls_broker):
    """An app sets desired over HTTPS; the device gets /delta over MQTT and reports back."""
    b = tls_broker
    cert, key = device(b, "heater")
    from test_policies import TLSClient
    dev = TLSClient(b, cert, key)
    assert dev.connect("heater") == (0, 0)
    prefix = "$aws/things/heater/shadow"
    assert dev.subscribe(1, (prefix + "/update/delta", 1), (prefix + "/update/accepted", 1)) == [1, 1]
    app = Rest(b, cert, key)
    assert app.json("POST", "/things/heater/shadow", {"state": {"desired": {"temp": 21}}})[0] == 200
    got = {}
    while prefix + "/update/delta" not in got:
        p = next_publish(dev)
        got[p.topic] = json.loads(p.payload)
    assert got[prefix + "/update/delta"]["state"] == {"temp": 21}
    from mqtt_raw import publish
    dev.send(publish(prefix + "/update", json.dumps({"state": {"reported": {"temp": 21}}}).encode(),
                     qos=1, pid=5))
    deadline = time.monotonic() + 5 * SLOW
    while True:
        status, _, doc = app.json("GET", "/things/heater/shadow")
        if doc["version"] == 2:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "delta" not in doc["state"] and doc["state"]["reported"] == {"temp": 21}
    app.close()


def test_concurrent_rest_updates_get_distinct_versions(tls_broker):
    b = tls_broker
    cert, key = device(b, "busy")
    versions, errors = [], []

    def worker(n):
        try:
            r = Rest(b, cert, key)
            for i in range(15):
                status, _, doc = r.json("POST", "/things/busy/shadow",
                                        {"state": {"reported": {"w%d" % n: i}}})
                assert status == 200
                versions.append(doc["version"])
            r.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(versions) == list(range(1, 46))


def test_accepted_rest_updates_survive_kill_9(tls_broker):
    b = tls_broker
    cert, key = device(b, "durable")
    r = Rest(b, cert, key)
    for i in range(20):
        assert r.json("POST", "/things/durable/shadow?name=log", {"state": {"reported": {"n": i}}})[0] == 200
    r.close()
    b.kill9()
    b.start()
    status, _, doc = Rest(b, cert, key).json("GET", "/things/durable/shadow?name=log")
    assert status == 200 and doc["version"] == 20 and doc["state"]["reported"] == {"n": 19}


def umbractl(b, *args):
    return subprocess.run([UMBRACTL, "--data-dir", b.data_dir] + list(args), capture_output=True,
                          text=True, timeout=30)


def test_umbractl_iot_data_commands(tls_broker, tmp_path):
    b = tls_broker
    out = str(tmp_path / "out.json")
    r = umbractl(b, "update-thing-shadow", "--thing-name", "lamp", "--cli-binary-format",
                 "raw-in-base64-out", "--payload", '{"state":{"desired":{"on":true}}}', out)
    assert r.returncode == 0, r.stderr
    assert json.load(open(out))["version"] == 1
    r = umbractl(b, "get-thing-shadow", "--thing-name", "lamp", out)
    assert r.returncode == 0 and json.load(open(out))["state"]["delta"] == {"on": True}
    payload = tmp_path / "p.json"
    payload.write_text('{"state":{"reported":{"v":1}}}')
    r = umbractl(b, "update-thing-shadow", "--thing-name", "lamp", "--shadow-name", "cfg",
                 "--payload", "file://" + str(payload), out)
    assert r.returncode == 0, r.stderr
    r = umbractl(b, "list-named-shadows-for-thing", "--thing-name", "lamp")
    assert r.returncode == 0 and json.loads(r.stdout)["results"] == ["cfg"]
    sub = listen(b, "s", "cli/#")
    r = umbractl(b, "publish", "--topic", "cli/hello", "--qos", "1", "--payload", "hi")
    assert r.returncode == 0, r.stderr
    assert next_publish(sub).payload == b"hi"
    r = umbractl(b, "delete-thing-shadow", "--thing-name", "lamp", out)
    assert r.returncode == 0 and json.load(open(out))["version"] == 1
    r = umbractl(b, "get-thing-shadow", "--thing-name", "lamp", out)
    assert r.returncode == 1
    assert r.stderr.strip() == ("An error occurred (ResourceNotFoundException) when calling the "
                                "GetThingShadow operation: No shadow exists with name: 'lamp'")
    r = umbractl(b, "get-thing-shadow", "--thing-name", "lamp")
    assert r.returncode == 2 and "outfile" in r.stderr
    # umbractl's certificate is an administrator, not a registered device.
    assert ctl(b, "list-certificates")["certificates"] == []


def test_umbractl_iot_data_without_a_daemon(tmp_path):
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-thing-shadow", "--thing-name",
                        "x", str(tmp_path / "o")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "start umbrad" in r.stderr
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "--endpoint-url",
                        "https://127.0.0.1:1", "publish", "--topic", "a"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "cannot reach umbrad" in r.stderr
