"""MQTT over TLS with X.509 client certificates: the AWS IoT getting-started flow."""
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization

from certs import make_cert, write_pair
from conftest import UMBRACTL


def ctl(b, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


@pytest.fixture
def tls_broker(start_broker):
    return start_broker(tls=True)


ALLOW_ALL = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}'


def allow_all(b, principal):
    """Attach a policy that allows everything (tests here are about identity, not policy)."""
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir, "create-policy", "--policy-name",
                        "allow-all", "--policy-document", ALLOW_ALL], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 or "ResourceAlreadyExists" in r.stderr, r.stderr
    ctl(b, "attach-policy", "--policy-name", "allow-all", "--target", principal)


def make_device(b, name, active=True, policy=True):
    d = os.path.join(b.data_dir, name)
    os.makedirs(d)
    out = ctl(b, "create-keys-and-certificate", *(["--set-as-active"] if active else []),
              "--certificate-pem-outfile", d + "/cert.pem", "--private-key-outfile",
              d + "/key.pem")
    ctl(b, "create-thing", "--thing-name", name)
    ctl(b, "attach-thing-principal", "--thing-name", name, "--principal", out["certificateArn"])
    if policy:
        allow_all(b, out["certificateArn"])
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


def unregistered_certificate(directory):
    """A self-signed certificate no registry knows: (cert path, key path)."""
    subprocess.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout k.pem -out c.pem -days 1 -subj /CN=intruder", shell=True,
                   cwd=directory, check=True, capture_output=True)
    return str(directory / "c.pem"), str(directory / "k.pem")


def test_unregistered_certificate_from_unknown_ca_refused(tls_broker, tmp_path):
    b = tls_broker
    c, ok, _, _ = paho(b, *unregistered_certificate(tmp_path), "intruder")
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


# ---- the rest of the trust rules: validity, CAs, handshake ----

def register_without_ca(b, cert_path):
    out = ctl(b, "register-certificate-without-ca", "--certificate-pem", "file://" + cert_path,
              "--status", "ACTIVE")
    allow_all(b, out["certificateArn"])
    return out


def test_expired_certificate_refused(tls_broker, tmp_path):
    b = tls_broker
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, key, _, _ = make_cert("short-lived", not_before=now - datetime.timedelta(hours=1),
                                not_after=now + datetime.timedelta(seconds=2))
    cpath, kpath = write_pair(tmp_path, "short", cert, key)
    out = register_without_ca(b, cpath)
    c, ok, _, _ = paho(b, cpath, kpath, "short-lived")
    assert ok  # valid now
    c.disconnect()
    c.loop_stop()
    time.sleep(max(0.0, (now + datetime.timedelta(seconds=3) -
                         datetime.datetime.now(datetime.timezone.utc)).total_seconds()))
    c, ok, _, _ = paho(b, cpath, kpath, "short-lived")
    assert not ok
    c.loop_stop()
    assert "certificate %s: certificate expired" % out["certificateId"] in b.logs()


def test_certificate_not_yet_valid_refused(tls_broker, tmp_path):
    b = tls_broker
    now = datetime.datetime.now(datetime.timezone.utc)
    cert, key, _, _ = make_cert("future", not_before=now + datetime.timedelta(days=1),
                                not_after=now + datetime.timedelta(days=2))
    cpath, kpath = write_pair(tmp_path, "future", cert, key)
    out = register_without_ca(b, cpath)
    c, ok, _, _ = paho(b, cpath, kpath, "future")
    assert not ok
    c.loop_stop()
    assert "certificate %s: certificate not yet valid" % out["certificateId"] in b.logs()


def test_device_of_a_registered_ca_connects_while_the_ca_is_active(tls_broker, tmp_path):
    b = tls_broker
    ca_pem, ca_key, ca_cert, ca_k = make_cert("fleet-ca", ca=True)
    ca_path, _ = write_pair(tmp_path, "fleet-ca", ca_pem, ca_key)
    ca = ctl(b, "register-ca-certificate", "--ca-certificate", "file://" + ca_path,
             "--set-as-active")
    dev_pem, dev_key, _, _ = make_cert("fleet-device", issuer=(ca_cert, ca_k))
    dpath, kpath = write_pair(tmp_path, "device", dev_pem, dev_key)
    dev = ctl(b, "register-certificate", "--certificate-pem", "file://" + dpath, "--set-as-active")
    allow_all(b, dev["certificateArn"])
    c, ok, _, state = paho(b, dpath, kpath, "fleet-device")
    assert ok
    # The CA set INACTIVE: its devices are cut off, connected or not.
    ctl(b, "update-ca-certificate", "--certificate-id", ca["certificateId"], "--new-status",
        "INACTIVE")
    deadline = time.monotonic() + 3
    while "disconnected" not in state and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "disconnected" in state
    c.loop_stop()
    c, ok, _, _ = paho(b, dpath, kpath, "fleet-device")
    assert not ok
    c.loop_stop()
    assert "certificate %s: CA certificate not ACTIVE" % dev["certificateId"] in b.logs()


def tls_socket(b, cert, key, alpn=None, sni="localhost", verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(os.path.join(b.data_dir, "ca.pem"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", b.tls_port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=sni)


def mqtt_connect(sock, client_id):
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    sock.sendall(bytes([0x10, len(body)]) + body)
    return sock.recv(4)


@pytest.mark.parametrize("alpn", [["x-amzn-mqtt-ca"], ["mqtt"], None])
def test_alpn_protocols_of_aws_and_mqtt_accepted(tls_broker, alpn):
    b = tls_broker
    _, cert, key = make_device(b, "alpn-%s" % (alpn[0] if alpn else "none"))
    s = tls_socket(b, cert, key, alpn=alpn)
    assert s.selected_alpn_protocol() == (alpn[0] if alpn else None)
    assert mqtt_connect(s, "alpn") == b"\x20\x02\x00\x00"
    s.close()
    if alpn:
        assert "alpn=%s" % alpn[0] in b.log_line("client connected: id=alpn ")


def test_any_server_name_accepted_like_an_aws_endpoint(tls_broker):
    b = tls_broker
    _, cert, key = make_device(b, "sni")
    name = "a3voqmfbv77hzi-ats.iot.us-west-2.amazonaws.com"
    s = tls_socket(b, cert, key, sni=name, verify=False)
    assert mqtt_connect(s, "sni") == b"\x20\x02\x00\x00"
    s.close()
    assert "sni=" + name in b.log_line("client connected: id=sni ")


def test_silent_tls_client_dropped_after_the_handshake_timeout(start_broker):
    b = start_broker("--tls-handshake-timeout", "1", tls=True)
    s = socket.create_connection(("127.0.0.1", b.tls_port), timeout=10)
    t0 = time.monotonic()
    assert s.recv(1) == b""  # closed by the broker, not by our timeout
    assert 0.9 < time.monotonic() - t0 < 4
    s.close()
    assert "handshake not finished in 1s" in b.logs()


def test_sighup_reloads_the_server_certificate_without_dropping_clients(start_broker, tmp_path):
    cert_path, key_path = str(tmp_path / "server.pem"), str(tmp_path / "server.key")
    probe = start_broker(tls=True)  # makes a CA and server certificate to start with
    shutil.copy(os.path.join(probe.data_dir, "server.pem"), cert_path)
    shutil.copy(os.path.join(probe.data_dir, "server.key"), key_path)
    b = start_broker("--tls-cert", cert_path, "--tls-key", key_path, tls=True)
    _, cert, key = make_device(b, "steady")
    before = tls_socket(b, cert, key, verify=False)
    assert mqtt_connect(before, "steady") == b"\x20\x02\x00\x00"
    old_der = before.getpeercert(binary_form=True)

    new_pem, new_key, new_cert, _ = make_cert("localhost", dns=["localhost"])
    write_pair(tmp_path, "server", new_pem, new_key)
    b.proc.send_signal(signal.SIGHUP)
    b.wait_log("reload: new TLS connections use")

    after = tls_socket(b, cert, key, verify=False)
    assert after.getpeercert(binary_form=True) == new_cert.public_bytes(
        serialization.Encoding.DER) != old_der
    assert mqtt_connect(after, "fresh") == b"\x20\x02\x00\x00"
    # The connection made before the reload still works: PINGREQ, PINGRESP.
    before.sendall(b"\xc0\x00")
    assert before.recv(2) == b"\xd0\x00"
    before.close()
    after.close()

    # A broken file is refused and the current certificate kept.
    with open(cert_path, "w") as f:
        f.write("not a certificate")
    b.proc.send_signal(signal.SIGHUP)
    b.wait_log("reload: kept the current server certificate")
    again = tls_socket(b, cert, key, verify=False)
    assert again.getpeercert(binary_form=True) == new_cert.public_bytes(serialization.Encoding.DER)
    again.close()
