"""umbrad as a program: listeners, signals, configuration, logs; umbractl basics."""
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import UMBRAD, UMBRACTL
from mqtt_raw import Client, connect, publish, PUBLISH, PUBREC, DISCONNECT_BYTES


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not has_ipv6(), reason="this machine has no IPv6 loopback")
def test_ipv6_listener(start_broker):
    b = start_broker(host="::1")
    s = Client(b.port, host="::1")
    s.connect("v6")
    s.subscribe(1, ("v6/t", 0))
    s.send(publish("v6/t", b"over ipv6"))
    assert s.expect(PUBLISH).payload == b"over ipv6"
    assert "addr=[::1]:" in b.logs()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly(start_broker, sig):
    b = start_broker()
    c = Client(b.port)
    c.connect("x")
    assert b.stop(sig) == 0, b.logs()
    assert c.is_closed()
    assert "umbrad stopped" in b.logs()


def test_connect_and_disconnect_are_logged_with_id_address_reason(broker):
    c = Client(broker.port)
    c.connect("logged-client", clean=False, keepalive=42)
    port = c.sock.getsockname()[1]
    line = broker.log_line("client connected: id=logged-client ")
    assert "addr=127.0.0.1:%d " % port in line and "clean=0" in line and "keepalive=42" in line
    c.close()
    line = broker.log_line("client disconnected: id=logged-client ")
    assert "addr=127.0.0.1:%d " % port in line
    assert "reason=connection closed by client" in line
    d = Client(broker.port)
    d.connect("polite")
    d.send(DISCONNECT_BYTES)
    assert "reason=client sent DISCONNECT" in broker.log_line("client disconnected: id=polite ")
    m = Client(broker.port)
    m.connect("rude")
    m.send(connect("rude"))
    assert "reason=second CONNECT" in broker.log_line("client disconnected: id=rude ")


def qos2_publish_accepted(b):
    """True on the mqtt profile (PUBREC), False on the aws one (connection closed)."""
    c = Client(b.port)
    c.connect("probe")
    c.send(publish("t", b"x", qos=2, pid=1))
    try:
        return c.recv().type == PUBREC
    except ConnectionError:
        return False


def test_config_file_is_applied(start_broker, tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text(json.dumps({"mqtt_profile": "aws", "max_inflight": 7}))
    b = start_broker("-c", str(cfg))
    assert "profile aws" in b.wait_log("listening: mqtt")
    assert not qos2_publish_accepted(b)


def test_flags_override_config_file(start_broker, tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text(json.dumps({"mqtt_profile": "aws", "max_inflight": 2}))
    b = start_broker("-c", str(cfg), "--mqtt-profile", "mqtt")
    assert "profile mqtt" in b.wait_log("listening: mqtt")
    assert qos2_publish_accepted(b)
    # What the flags do not override still comes from the file: an in-flight window of 2.
    s = Client(b.port)
    s.connect("s")
    s.subscribe(1, ("w", 1))
    p = Client(b.port)
    p.connect("p")
    for i in range(3):
        p.send(publish("w", b"%d" % i, qos=1, pid=i + 1))
    assert [s.expect(PUBLISH).payload for _ in range(2)] == [b"0", b"1"]
    s.no_packet(0.3)


def test_environment_overrides_config_file(start_broker, tmp_path, monkeypatch):
    cfg = tmp_path / "umbra.json"
    cfg.write_text(json.dumps({"mqtt_profile": "mqtt"}))
    monkeypatch.setenv("UMBRA_MQTT_PROFILE", "aws")
    b = start_broker("-c", str(cfg))
    assert "profile aws" in b.wait_log("listening: mqtt")
    assert not qos2_publish_accepted(b)


@pytest.mark.parametrize("var,value", [("UMBRA_MAX_INFLIGHT", "lots"), ("UMBRA_LOG_LEVEL", "loud"),
                                       ("UMBRA_MQTTS", "nonsense")])
def test_bad_environment_variable_exits_2_naming_it(tmp_path, var, value):
    env = dict(os.environ, **{var: value})
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path)], capture_output=True, timeout=20,
                       env=env)
    assert r.returncode == 2, r.stderr
    assert var.encode() in r.stderr


@pytest.mark.parametrize("args", [["--no-such-flag", "1"], ["--max-inflight", "lots"],
                                  ["--max-inflight", "-1"], ["--max-inflight"],
                                  ["--mqtt", "nonsense"], ["--mqtt-profile", "bogus"],
                                  ["--log-level", "loud"], ["-c", "/nonexistent.json"], ["stray"]])
def test_bad_arguments_exit_2_with_a_message(tmp_path, args):
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path)] + args, capture_output=True, timeout=20)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip()


@pytest.mark.parametrize("content", ['{"no_such_key": 1}', '{bad json', '{"max_inflight": "lots"}',
                                     '[1, 2]'])
def test_bad_config_file_exits_2_with_a_message(tmp_path, content):
    cfg = tmp_path / "bad.json"
    cfg.write_text(content)
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path), "-c", str(cfg)], capture_output=True,
                       timeout=20)
    assert r.returncode == 2, r.stderr
    assert b"bad.json" in r.stderr


def test_port_in_use_exits_1(broker, tmp_path):
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path), "--mqtt", broker.listen, "--mqtts", "off", "--https", "off"],
                       capture_output=True, timeout=20)
    assert r.returncode == 1
    assert b"cannot listen" in r.stderr


def test_version_and_help():
    for prog in (UMBRAD, UMBRACTL):
        v = subprocess.run([prog, "--version"], capture_output=True, timeout=10)
        assert v.returncode == 0 and b"0." in v.stdout
        h = subprocess.run([prog, "--help"], capture_output=True, timeout=10)
        assert h.returncode == 0 and b"usage" in h.stdout


@pytest.mark.parametrize("args", [["frobnicate"], ["--bogus"], ["describe-thing", "--nope", "x"]])
def test_umbractl_unknown_command_or_flag_exits_2(tmp_path, args):
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path)] + args, capture_output=True, timeout=10)
    assert r.returncode == 2
    assert b"unknown" in r.stderr
    assert r.stdout == b""


def test_control_characters_from_clients_cannot_forge_log_lines(broker):
    forged = "2026-01-01T00:00:00.000Z error forged by a client"
    c = Client(broker.port)
    c.connect("evil\n" + forged + "\x1b[2J")
    line = broker.log_line("client connected: id=evil?")
    assert forged in line and "?[2J" in line
    assert not any(l.startswith(forged) for l in broker.logs().splitlines())


def test_umbractl_get_root_ca_prints_the_ca_devices_trust(start_broker):
    b = start_broker(tls=True)
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir, "get-root-ca"], capture_output=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(b.data_dir, "ca.pem"), "rb") as f:
        assert r.stdout == f.read()
    assert r.stdout.startswith(b"-----BEGIN CERTIFICATE-----")


def test_umbractl_get_root_ca_without_a_ca_fails(tmp_path):
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "get-root-ca"], capture_output=True,
                       timeout=10)
    assert r.returncode == 1 and r.stdout == b""
    assert b"ca.pem" in r.stderr


class HealthEndpoint:
    """A stand-in for umbrad's metrics listener: GET /healthz answers `status`."""

    def __init__(self):
        import http.server
        import threading
        endpoint = self
        self.status = 200
        self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.paths.append(self.path)
                body = b"ok\n" if endpoint.status == 200 else b"persistence stalled\n"
                self.send_response(endpoint.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_umbractl_health_asks_the_metrics_listener(tmp_path):
    endpoint = HealthEndpoint()
    try:
        # Whatever path the URL was written with, the check asks for /healthz.
        (tmp_path / "metrics-url").write_text("http://127.0.0.1:%d/metrics\n" % endpoint.port)
        health = [UMBRACTL, "--data-dir", str(tmp_path), "health"]
        r = subprocess.run(health, capture_output=True, text=True, timeout=10)
        assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
        assert endpoint.paths == ["/healthz"]
        endpoint.status = 503
        r = subprocess.run(health, capture_output=True, text=True, timeout=10)
        assert r.returncode == 1 and r.stdout == ""
        assert "HTTP 503" in r.stderr and "persistence stalled" in r.stderr
    finally:
        endpoint.close()
    # Nobody listening: unhealthy, within the check's 3 s.
    r = subprocess.run(health, capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "no answer" in r.stderr


def test_umbractl_uses_the_region_of_the_environment(tmp_path):
    env = dict(os.environ, UMBRA_REGION="eu-west-1")
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path), "create-thing", "--thing-name", "t"],
                       capture_output=True, text=True, timeout=20, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["thingArn"].startswith("arn:aws:iot:eu-west-1:")
