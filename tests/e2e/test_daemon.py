"""umbrad as a program: listeners, signals, configuration, logs; umbractl basics."""
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import UMBRAD, UMBRACTL, Broker
from mqtt_raw import Client, publish, PUBLISH


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
def test_signals_stop_cleanly(tmp_path, sig):
    b = Broker(data_dir=str(tmp_path))
    c = Client(b.port)
    c.connect("x")
    assert b.stop(sig) == 0
    assert "umbrad stopped" in b.logs()


def test_connect_and_disconnect_are_logged_with_id_address_reason(broker):
    c = Client(broker.port)
    c.connect("logged-client")
    c.close()
    c2 = Client(broker.port)
    c2.connect("other")
    logs = broker.logs()
    assert "client connected: id=logged-client addr=127.0.0.1:" in logs
    assert "client disconnected: id=logged-client addr=127.0.0.1:" in logs
    assert "reason=connection closed by client" in logs


def test_config_file_and_flags_override_it(tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text(json.dumps({"mqtt_profile": "aws", "max_inflight": 7}))
    b = Broker(args=["-c", str(cfg), "--mqtt-profile", "mqtt"], data_dir=str(tmp_path / "d"))
    try:
        assert "profile mqtt" in b.logs()
    finally:
        assert b.stop() == 0


@pytest.mark.parametrize("args", [["--no-such-flag", "1"], ["--max-inflight", "lots"],
                                  ["--mqtt", "nonsense"], ["--mqtt-profile", "bogus"],
                                  ["-c", "/nonexistent.json"], ["stray"]])
def test_bad_arguments_exit_2_with_a_message(tmp_path, args):
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path)] + args, capture_output=True, timeout=20)
    assert r.returncode == 2
    assert r.stderr.strip()


def test_port_in_use_exits_1(broker, tmp_path):
    r = subprocess.run([UMBRAD, "--data-dir", str(tmp_path), "--mqtt", broker.listen],
                       capture_output=True, timeout=20)
    assert r.returncode == 1
    assert b"cannot listen" in r.stderr


def test_version_and_help():
    for prog in (UMBRAD, UMBRACTL):
        v = subprocess.run([prog, "--version"], capture_output=True, timeout=10)
        assert v.returncode == 0 and b"0." in v.stdout
        h = subprocess.run([prog, "--help"], capture_output=True, timeout=10)
        assert h.returncode == 0 and b"usage" in h.stdout


def test_umbractl_unknown_command_exits_2():
    r = subprocess.run([UMBRACTL, "frobnicate"], capture_output=True, timeout=10)
    assert r.returncode == 2
    assert b"unknown command" in r.stderr
