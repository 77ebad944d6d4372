"""Type=notify: umbrad tells $NOTIFY_SOCKET READY=1, RELOADING=1 and STOPPING=1."""
import os
import signal
import socket
import subprocess

import pytest

from conftest import SLOW, UMBRAD, free_port
from mqtt_raw import Client


def notify_socket(tmp_path, is_abstract):
    """A datagram socket like the one systemd makes, and the $NOTIFY_SOCKET naming it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if is_abstract:
        name = "@umbra-e2e-notify-%d-%d" % (os.getpid(), free_port())
        s.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        s.bind(name)
    s.settimeout(15 * SLOW)
    return s, name


def recv_state(sock):
    """One datagram as a dict of its KEY=VALUE lines."""
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n") if line)


@pytest.mark.parametrize("is_abstract", [False, True], ids=["path", "abstract"])
def test_ready_after_the_listeners_then_reloading_and_stopping(tmp_path, is_abstract):
    sock, name = notify_socket(tmp_path, is_abstract)
    ports = {"mqtt": free_port(), "mqtts": free_port(), "https": free_port()}
    log = open(tmp_path / "umbrad.log", "wb")
    cmd = [UMBRAD, "--data-dir", str(tmp_path / "data"), "--sys-interval", "0"]
    for kind, port in ports.items():
        cmd += ["--" + kind, "127.0.0.1:%d" % port]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=dict(os.environ, NOTIFY_SOCKET=name))
    try:
        state = recv_state(sock)  # the first thing it says
        assert state.get("READY") == "1", state
        assert "mqtts on 127.0.0.1:%d" % ports["mqtts"] in state["STATUS"]
        # Ready means ready: every listener takes a connection now, on the first try.
        for kind, port in ports.items():
            socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW).close()
        c = Client(ports["mqtt"])
        c.connect("after-ready")

        proc.send_signal(signal.SIGHUP)
        state = recv_state(sock)
        assert state.get("RELOADING") == "1" and int(state["MONOTONIC_USEC"]) > 0, state
        state = recv_state(sock)
        assert state.get("READY") == "1", state

        proc.send_signal(signal.SIGTERM)
        assert recv_state(sock) == {"STOPPING": "1"}
        assert proc.wait(timeout=10 * SLOW) == 0
        assert c.is_closed()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sock.close()


def test_a_notify_socket_nobody_listens_on_costs_a_warning(start_broker, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    b = start_broker()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert "cannot notify the service manager" in b.wait_log("cannot notify")
    c = Client(b.port)
    c.connect("still-serving")
