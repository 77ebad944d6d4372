"""MQTT over TLS with X.509 client certificates: the AWS IoT getting-started flow."""
import json
import os
import ssl
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import UMBRACTL


def ctl(b, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(tls=True)


def make_device(b, name, active=True):
    d = os.path.join(b.data_dir, name)
    os.makedirs(d)
    out = ctl(b, "create-keys-and-certificate", *(["--set-as-active"] if active else []),
              "--certificate-pem-outfile", d + "/cert.pem", "--private-key-outfile",
              d + "/key.pem")
    ctl(b, "create-thing", "--thing-name", name)
    ctl(b, "attach-thing-principal", "--thing-name", name, "--principal", out["certificateArn"])
    return out, d + "/cert.pem", d + "/key.pem"


def paho(b, cert, key, client_id):
    """Connect like the lecture's program; returns (client, connected?, messages)."""
    c = mqtt.Client(client_id)
    c.tls_set(ca_certs=os.path.join(b.data_dir, "ca.pem"), certfile=cert, keyfile=key)
    got, state = [], {}
    c.on_connect = lambda cl, u, f, rc: state.setdefault("rc", rc)
    c.on_message = lambda cl, u, m: got.append((m.topic, m.payload))
    c.on_disconnect = lambda cl, u, rc: state.setdefault("disconnected", rc)
    try:
        c.connect("localhost", b.tls_port, 60)
    except (ssl.SSLError, OSError):
        return c, False, got, state
    c.loop_start()
    deadline = time.monotonic() + 10
    while "rc" not in state and "disconnected" not in state and time.monotonic() < deadline:
        time.sleep(0.02)
    return c, state.get("rc") == 0, got, state


def test_getting_started_flow_with_paho_and_mosquitto(tls_broker):
    b = tls_broker
    out, cert, key = make_device(b, "MotionSensor")
    sub, ok, got, _ = paho(b, cert, key, "MotionSensor-sub")
    assert ok
    sub.subscribe("sensors/#", 1)
    time.sleep(0.3)
    ca = os.path.join(b.data_dir, "ca.pem")
    r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(b.tls_port), "--cafile", ca,
                        "--cert", cert, "--key", key, "-t", "sensors/motion", "-m",
                        '{"motion": true}', "-q", "1"], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got == [("sensors/motion", b'{"motion": true}')]
    sub.disconnect()
    sub.loop_stop()
    assert "cert=%s" % out["certificateId"] in b.logs()


def test_connection_without_client_certificate_refused(tls_broker):
    b = tls_broker
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.tls_port, "-CAfile",
                        os.path.join(b.data_dir, "ca.pem")], input=b"\x10\x0c\x00\x04MQTT\x04\x02"
                       b"\x00\x3c\x00\x00", capture_output=True, timeout=20)
    assert b"CONNACK" not in r.stdout
    deadline = time.monotonic() + 5
    while "no client certificate" not in b.logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "no client certificate" in b.logs()


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_certificate_that_is_not_active_is_refused(tls_broker, status):
    b = tls_broker
    out, cert, key = make_device(b, "dev-" + status.lower(), active=False)
    if status == "REVOKED":
        ctl(b, "update-certificate", "--certificate-id", out["certificateId"], "--new-status",
            "REVOKED")
    c, ok, _, _ = paho(b, cert, key, "x")
    assert not ok
    c.loop_stop()
    assert "certificate %s: certificate %s" % (
        out["certificateId"], "REVOKED" if status == "REVOKED" else "not ACTIVE") in b.logs()


def test_unregistered_certificate_from_unknown_ca_refused(tls_broker, tmp_path):
    b = tls_broker
    subprocess.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout k.pem -out c.pem -days 1 -subj /CN=intruder", shell=True,
                   cwd=tmp_path, check=True, capture_output=True)
    c, ok, _, _ = paho(b, str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), "intruder")
    assert not ok
    c.loop_stop()
    assert "certificate not registered" in b.logs()


def test_revoking_a_connected_certificate_closes_it(tls_broker):
    b = tls_broker
    out, cert, key = make_device(b, "doomed")
    c, ok, _, state = paho(b, cert, key, "doomed")
    assert ok
    t0 = time.monotonic()
    ctl(b, "update-certificate", "--certificate-id", out["certificateId"], "--new-status",
        "REVOKED")
    while "disconnected" not in state and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    assert "disconnected" in state
    assert time.monotonic() - t0 < 1.5
    c.loop_stop()


def test_certificates_survive_restart(tls_broker):
    b = tls_broker
    _, cert, key = make_device(b, "survivor")
    b.restart()
    c, ok, _, _ = paho(b, cert, key, "survivor")
    assert ok
    c.disconnect()
    c.loop_stop()
