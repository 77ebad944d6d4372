"""AWS IoT policies enforced on connect, subscribe, publish and every delivery, over TLS."""
import json
import os
import socket
import ssl
import time

import pytest

from conftest import SLOW
from mqtt_raw import Client, CONNACK, PUBLISH, PUBACK, connect, publish
from test_tls import ctl, make_device

ARN_TAIL = "arn:aws:iot:us-east-1:%s:%s"

# The AWS example: a device may only use its own thing's topics.
THING_SCOPED = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": "arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": "arn:aws:iot:*:*:topicfilter/things/${iot:Connection.Thing.ThingName}/*"},
    ],
}


class TLSClient(Client):
    """mqtt_raw's client over TLS with a device certificate."""

    def __init__(self, b, cert, key, timeout=5.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(b.data_dir, "ca.pem"))
        ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", b.tls_port), timeout=timeout * SLOW)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.timeout = timeout * SLOW
        self.buf = b""


def policy(b, name, doc, target=None):
    ctl(b, "create-policy", "--policy-name", name, "--policy-document", json.dumps(doc))
    if target:
        ctl(b, "attach-policy", "--policy-name", name, "--target", target)


def device(b, name, doc=None, policy_name=None):
    out, cert, key = make_device(b, name, policy=False)
    if doc is not None:
        policy(b, policy_name or name + "-policy", doc, out["certificateArn"])
    return out, cert, key


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(tls=True)


def refused_without_connack(c, client_id, **kw):
    c.send(connect(client_id, **kw))
    return c.is_closed()


def test_thing_scoped_policy_enforced_exactly(tls_broker):
    b = tls_broker
    _, cert, key = device(b, "dev1", THING_SCOPED)
    # Connect: only as the thing's own name.
    assert refused_without_connack(TLSClient(b, cert, key), "someone-else")
    line = b.log_line("denied: client=someone-else action=iot:Connect")
    assert "no policy allows it" in line
    c = TLSClient(b, cert, key)
    assert c.connect("dev1") == (0, 0)
    # Subscribe: allowed filters granted, the other gets 0x80 in the same SUBACK.
    assert c.subscribe(1, ("things/dev1/#", 1), ("things/dev2/#", 1), ("things/dev1/cmd", 0)) == \
        [1, 0x80, 0]
    # Publish to its own topic: delivered back through its own subscription.
    c.send(publish("things/dev1/telemetry", b"21.5", qos=1, pid=7))
    got = {}
    for _ in range(2):
        p = c.recv()
        got[p.type] = p
    assert got[PUBACK].pid == 7 and got[PUBLISH].payload == b"21.5"
    # Publish elsewhere: the connection is closed, as AWS does for MQTT 3.1.1.
    c.send(publish("things/dev2/telemetry", b"x", qos=1, pid=8))
    assert c.is_closed()
    assert "denied: client=dev1 action=iot:Publish resource=arn:aws:iot:us-east-1:" in b.logs()


def test_no_policy_means_no_connection(tls_broker):
    b = tls_broker
    _, cert, key = device(b, "bare")  # no policy at all
    assert refused_without_connack(TLSClient(b, cert, key), "bare")
    assert "(none attached)" in b.log_line("denied: client=bare action=iot:Connect")


def test_explicit_deny_wins_and_is_named(tls_broker):
    b = tls_broker
    out, cert, key = device(b, "d", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}, "allow-all")
    policy(b, "no-secrets", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/secret/*"}]},
        out["certificateArn"])
    c = TLSClient(b, cert, key)
    c.connect("d")
    c.send(publish("open/x", b"1", qos=1, pid=1))
    assert c.expect(PUBACK).pid == 1
    c.send(publish("secret/x", b"1", qos=1, pid=2))
    assert c.is_closed()
    assert "explicit Deny in policy no-secrets" in b.log_line("denied: client=d action=iot:Publish")


def test_receive_checked_on_every_delivery(tls_broker):
    """Denying a topic filter does not stop '#' from matching: iot:Receive does."""
    b = tls_broker
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"],
         "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Receive", "Resource": "arn:aws:iot:*:*:topic/a/secret"}]}
    _, cert, key = device(b, "listener", doc)
    _, pcert, pkey = device(b, "talker", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
    sub = TLSClient(b, cert, key)
    sub.connect("listener")
    assert sub.subscribe(1, ("a/#", 0)) == [0]
    pub = TLSClient(b, pcert, pkey)
    pub.connect("talker")
    for t in ("a/secret", "a/open"):
        pub.send(publish(t, t.encode()))
    assert sub.expect(PUBLISH).topic == "a/open"
    sub.no_packet(0.3)
    # Retained messages on subscribe are deliveries too.
    pub.send(publish("a/secret", b"kept", retain=True, qos=1, pid=3))
    assert pub.expect(PUBACK).pid == 3
    assert sub.subscribe(2, ("a/secret", 0)) == [0]
    sub.no_packet(0.3)


def test_will_needs_publish_permission(tls_broker):
    b = tls_broker
    _, cert, key = device(b, "w", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"],
         "Resource": ["arn:aws:iot:*:*:client/w", "arn:aws:iot:*:*:topic/status/w"]}]})
    assert refused_without_connack(TLSClient(b, cert, key), "w", will=("status/other", b"gone", 0,
                                                                          False))
    c = TLSClient(b, cert, key)
    assert c.connect("w", will=("status/w", b"gone", 0, False)) == (0, 0)


def test_policy_changes_apply_to_live_connections(tls_broker):
    b = tls_broker
    allow = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
    out, cert, key = device(b, "live", allow, "live-policy")
    c = TLSClient(b, cert, key)
    c.connect("live")
    assert c.subscribe(1, ("t/#", 1)) == [1]
    c.send(publish("t/1", b"a", qos=1, pid=1))
    kinds = {c.recv().type for _ in range(2)}
    assert kinds == {PUBACK, PUBLISH}
    # A new default version that takes Receive away: no more deliveries, same connection.
    no_receive = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish", "iot:Subscribe"],
         "Resource": "*"}]}
    ctl(b, "create-policy-version", "--policy-name", "live-policy", "--policy-document",
        json.dumps(no_receive), "--set-as-default")
    time.sleep(0.6 * SLOW)  # the registry is polled every 250 ms
    c.send(publish("t/2", b"b", qos=1, pid=2))
    assert c.expect(PUBACK).pid == 2
    c.no_packet(0.3)
    # Detached: the next publish is refused and the connection closed.
    ctl(b, "detach-policy", "--policy-name", "live-policy", "--target", out["certificateArn"])
    time.sleep(0.6 * SLOW)
    c.send(publish("t/3", b"c", qos=1, pid=3))
    assert c.is_closed()


def test_thing_variables_follow_registry_changes(tls_broker):
    """${iot:Connection.Thing.Attributes[...]} is read from the registry, and re-read when it
    changes."""
    b = tls_broker
    _, cert, key = device(b, "lamp", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
        {"Effect": "Allow", "Action": "iot:Publish",
         "Resource": "arn:aws:iot:*:*:topic/rooms/${iot:Connection.Thing.Attributes[room]}/*"}]})
    ctl(b, "update-thing", "--thing-name", "lamp", "--attribute-payload",
        '{"attributes": {"room": "kitchen"}}')
    c = TLSClient(b, cert, key)
    c.connect("lamp")
    c.send(publish("rooms/kitchen/light", b"on", qos=1, pid=1))
    assert c.expect(PUBACK).pid == 1
    ctl(b, "update-thing", "--thing-name", "lamp", "--attribute-payload",
        '{"attributes": {"room": "hall"}}')
    time.sleep(0.6 * SLOW)
    c.send(publish("rooms/hall/light", b"on", qos=1, pid=2))
    assert c.expect(PUBACK).pid == 2
    c.send(publish("rooms/kitchen/light", b"on", qos=1, pid=3))
    assert c.is_closed()


def test_plain_listener_policy_file(start_broker, tmp_path):
    doc = tmp_path / "dev-policy.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/ok-*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
         "Resource": "*"}]}))
    b = start_broker("--mqtt-policy", str(doc))
    bad = Client(b.port)
    bad.send(connect("nope"))
    assert bad.is_closed()
    good = Client(b.port)
    assert good.connect("ok-1") == (0, 0)


def test_bad_plain_policy_file_stops_the_daemon(tmp_path):
    import subprocess
    from conftest import UMBRAD
    doc = tmp_path / "p.json"
    doc.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}')
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path / "d"), "--mqtt", "127.0.0.1:0",
                        "--mqtts", "off", "--https", "off", "--mqtt-policy", str(doc)], capture_output=True,
                       timeout=20)
    assert r.returncode != 0
    assert b"Invalid effect" in r.stderr


def test_receive_checked_for_messages_queued_across_a_restart(tls_broker):
    """A persistent session restored from disk has no policy context until its client comes
    back: what was queued for it meanwhile is checked when it is sent."""
    b = tls_broker
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Receive", "Resource": "arn:aws:iot:*:*:topic/a/secret"}]}
    _, cert, key = device(b, "sleeper", doc)
    _, pcert, pkey = device(b, "talker2", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
    s = TLSClient(b, cert, key)
    s.connect("sleeper", clean=False)
    assert s.subscribe(1, ("a/#", 1)) == [1]
    s.sock.close()
    b.restart()
    p = TLSClient(b, pcert, pkey)
    p.connect("talker2")
    p.send(publish("a/secret", b"s", qos=1, pid=1))
    assert p.expect(PUBACK).pid == 1
    p.send(publish("a/open", b"o", qos=1, pid=2))
    assert p.expect(PUBACK).pid == 2
    s = TLSClient(b, cert, key)
    assert s.connect("sleeper", clean=False) == (1, 0)
    got = s.expect(PUBLISH)
    assert got.topic == "a/open"
    s.no_packet(0.3)


def test_receive_denials_do_not_flood_the_log(tls_broker):
    b = tls_broker
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Receive", "Resource": "arn:aws:iot:*:*:topic/a/secret/*"}]}
    _, cert, key = device(b, "quiet", doc)
    _, pcert, pkey = device(b, "noisy", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
    s = TLSClient(b, cert, key)
    s.connect("quiet")
    assert s.subscribe(1, ("a/#", 0)) == [0]
    p = TLSClient(b, pcert, pkey)
    p.connect("noisy")
    for i in range(200):  # 200 topics: 200 decisions, every one a denial
        p.send(publish("a/secret/%d" % i, b"x"))
    p.send(publish("a/open", b"y"))
    assert s.expect(PUBLISH).topic == "a/open"
    lines = [l for l in b.logs().splitlines() if "denied: client=quiet action=iot:Receive" in l]
    assert 1 <= len(lines) <= 3


def test_thing_scoped_policy_with_paho(tls_broker):
    """The same AWS example policy, seen from paho as a device program sees it."""
    from test_tls import paho
    b = tls_broker
    _, cert, key = device(b, "sensor7", THING_SCOPED)
    c, ok, got, state = paho(b, cert, key, "sensor7")
    assert ok
    granted = {}
    c.on_subscribe = lambda cl, u, mid, qos: granted.setdefault(mid, list(qos))
    _, mid = c.subscribe([("things/sensor7/cmd", 1), ("things/other/cmd", 1)])
    deadline = time.monotonic() + 5 * SLOW
    while mid not in granted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert granted[mid] == [1, 0x80]
    c.publish("things/sensor7/cmd", b"go", qos=1).wait_for_publish(5 * SLOW)
    deadline = time.monotonic() + 5 * SLOW
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got == [("things/sensor7/cmd", b"go")]
    # A publish outside its own topics ends the connection, as AWS does.
    c.publish("things/other/cmd", b"no", qos=1)
    deadline = time.monotonic() + 5 * SLOW
    while "disconnected" not in state and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.get("disconnected", 0) != 0
    c.loop_stop()
