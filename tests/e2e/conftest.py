"""Fixtures: a real umbrad on 127.0.0.1 with a free port and its own data dir."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from reference_broker import REFERENCE, mosquitto_class

UMBRAD = os.environ.get("UMBRAD", os.path.join(os.path.dirname(__file__), "../../build/release/umbrad"))
UMBRACTL = os.environ.get("UMBRACTL", os.path.join(os.path.dirname(__file__), "../../build/release/umbractl"))
SANITIZE = os.environ.get("SANITIZE", "0") == "1"
SLOW = 3 if SANITIZE else 1
TEST_TIMEOUT = 60 * SLOW


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("umbrad exited with %s" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("umbrad did not listen on %s:%d" % (host, port))


class Broker:
    def __init__(self, args=(), host="127.0.0.1", data_dir=None, tls=False):
        self.host = host
        self.tls_port = free_port() if tls else None
        self.https_port = free_port() if tls else None
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.port = free_port(fam, host)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="umbra-e2e-")
        self.args = list(args)
        self.proc = None
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.data_dir, "umbrad.log")
        self.start()

    @property
    def listen(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host else "%s:%d" % (self.host, self.port)

    def start(self):
        self.log = open(self.log_path, "ab")
        # The metrics listener on a free port (DATA_DIR/metrics-url names it):
        # the default 127.0.0.1:9883 is for production.
        cmd = [UMBRAD, "--data-dir", self.data_dir, "--mqtt", self.listen, "--sys-interval", "0",
               "--metrics", "127.0.0.1:0"] + self.args
        # TLS on a free port, or off: the default 0.0.0.0:8883 is for production.
        cmd += ["--mqtts", "127.0.0.1:%d" % self.tls_port if self.tls_port else "off"]
        cmd += ["--https", "127.0.0.1:%d" % self.https_port if self.https_port else "off"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        try:
            wait_port(self.host, self.port, self.proc, 10 * SLOW)
            if self.tls_port:
                wait_port("127.0.0.1", self.tls_port, self.proc, 10 * SLOW)
                wait_port("127.0.0.1", self.https_port, self.proc, 10 * SLOW)
        except Exception as e:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
            raise RuntimeError("%s; umbrad's log:\n%s" % (e, self.logs()[-6000:])) from None

    def stop(self, sig=signal.SIGTERM):
        """Stop cleanly; return the exit status."""
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung"
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.log.close()

    def restart(self):
        assert self.stop() == 0, self.logs()
        self.start()

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=5.0):
        """Wait (bounded) until the daemon's log contains text; return the log."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            logs = self.logs()
            if text in logs:
                return logs
            assert time.monotonic() < deadline, "no %r in the log:\n%s" % (text, logs[-3000:])
            time.sleep(0.02)

    def log_line(self, *parts, timeout=5.0):
        """Wait (bounded) for one log line containing every part; return it."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            for line in self.logs().splitlines():
                if all(p in line for p in parts):
                    return line
            assert time.monotonic() < deadline, "no log line with %r:\n%s" % (parts, self.logs()[-3000:])
            time.sleep(0.02)


@pytest.fixture(autouse=True)
def _bounded_test():
    """Every test ends within TEST_TIMEOUT seconds, even if a socket hangs."""
    def on_alarm(signum, frame):
        raise TimeoutError("test exceeded %d s" % TEST_TIMEOUT)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries the stderr of every umbrad it started."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, b in enumerate(getattr(item, "umbra_brokers", ())):
            try:
                text = b.raw_logs() if hasattr(b, "raw_logs") else b.logs()
                rep.sections.append(("umbrad #%d stderr (port %d)" % (i, b.port), text[-8000:]))
            except OSError:
                pass


@pytest.fixture
def start_broker(request):
    """Factory: start_broker(*args) -> Broker. Every broker is stopped and must exit 0."""
    brokers = []
    request.node.umbra_brokers = brokers

    def factory(*args, host="127.0.0.1", tls=False):
        cls = mosquitto_class(Broker) if REFERENCE == "mosquitto" else Broker
        data_dir = tempfile.mkdtemp(prefix="umbra-e2e-")
        try:
            b = cls(args, host=host, tls=tls, data_dir=data_dir)
        except BaseException:  # did not start (or skipped): nothing for the teardown to stop
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
        brokers.append(b)
        return b

    yield factory
    failures = []
    for b in brokers:
        rc = b.stop()
        if rc != 0:
            text = b.raw_logs() if hasattr(b, "raw_logs") else b.logs()
            failures.append("umbrad exited with %s:\n%s" % (rc, text[-6000:]))
        shutil.rmtree(b.data_dir, ignore_errors=True)
    assert not failures, "\n".join(failures)


@pytest.fixture
def broker(start_broker):
    return start_broker()
