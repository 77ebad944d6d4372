"""SIGHUP reads the configuration file again: what can change live does, clients stay."""
import json
import signal
import threading
import time

from conftest import SLOW
from helpers import PahoClient
from mqtt_raw import Client, PUBLISH, publish


class SteadyClient:
    """A paho client that publishes QoS 1 to itself in a thread and counts what comes back."""

    def __init__(self, b):
        self.paho = PahoClient(b, "steady")
        self.disconnects = 0
        self.paho.client.on_disconnect = self._on_disconnect
        self.paho.subscribe("steady/#", 1)
        self.sent = self.received = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_disconnect(self, *args):
        self.disconnects += 1

    def _run(self):
        while not self.stop.is_set():
            self.paho.publish("steady/%d" % self.sent, b"tick", qos=1)
            self.sent += 1
            self.paho.get(timeout=5 * SLOW)
            self.received += 1
            time.sleep(0.01)

    def wait_more(self, n=5):
        """Bounded wait until n more round trips went through."""
        target = self.received + n
        deadline = time.monotonic() + 5 * SLOW
        while self.received < target:
            assert self.thread.is_alive() and time.monotonic() < deadline, "steady client stalled"
            time.sleep(0.01)

    def close(self):
        self.stop.set()
        self.thread.join(10 * SLOW)
        self.paho.close()


def reload(b, cfg, content, expect):
    cfg.write_text(content if isinstance(content, str) else json.dumps(content))
    before = b.logs().count(expect)
    b.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SLOW
    while b.logs().count(expect) == before:
        assert time.monotonic() < deadline, "no %r after SIGHUP:\n%s" % (expect, b.logs()[-3000:])
        time.sleep(0.02)
    return b.logs()


def connected_quietly(b, client_id):
    """Connect; True if no "client connected" line was logged (written before the CONNACK)."""
    c = Client(b.port)
    c.connect(client_id)
    c.close()
    return "client connected: id=%s " % client_id not in b.logs()


def big_publish_accepted(b, client_id, size):
    c = Client(b.port)
    c.connect(client_id)
    c.subscribe(1, ("big/" + client_id, 0))
    c.send(publish("big/" + client_id, b"x" * size))
    try:
        return c.expect(PUBLISH).payload == b"x" * size
    except (ConnectionError, OSError, AssertionError):
        return False
    finally:
        c.close()


def test_sighup_applies_the_file_while_a_client_keeps_publishing(start_broker, tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text(json.dumps({"log_level": "info", "max_packet_size": 4096}))
    b = start_broker("-c", str(cfg))
    steady = SteadyClient(b)
    try:
        steady.wait_more()
        assert not connected_quietly(b, "loud-1")
        assert big_publish_accepted(b, "before", 2000)

        # Live: level and packet size. Restart-only: the plain listener's profile and the region.
        logs = reload(b, cfg, {"log_level": "warn", "max_packet_size": 1024, "mqtt_profile": "aws",
                               "region": "eu-west-1"}, "2 changes applied, 2 need a restart")
        assert "reload: mqtt_profile changed to aws, which needs a restart; still mqtt" in logs
        assert "reload: region changed to eu-west-1, which needs a restart; still us-east-1" in logs
        steady.wait_more()
        assert connected_quietly(b, "quiet-1")  # info lines are gone at warn
        assert not big_publish_accepted(b, "after", 2000)
        assert big_publish_accepted(b, "small", 500)

        # A file that does not parse is refused, and nothing changes.
        logs = reload(b, cfg, '{"log_level": "debug", "max_packet_size": ', "reload: refused")
        line = [l for l in logs.splitlines() if "reload: refused" in l][-1]
        assert str(cfg) in line and "the running configuration stays" in line
        steady.wait_more()
        assert connected_quietly(b, "quiet-2")
        assert not big_publish_accepted(b, "still-small", 2000)

        # So is one with a value out of range, named by its key.
        logs = reload(b, cfg, {"log_level": "info", "max_inflight": 0}, "reload: refused")
        line = [l for l in logs.splitlines() if "reload: refused" in l][-1]
        assert "%s: max_inflight: expected 1..65535" % cfg in line
        assert connected_quietly(b, "quiet-3")

        # A good file again: back to info (its reload lines were still logged at warn).
        cfg.write_text(json.dumps({"log_level": "info"}))
        b.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        n = 0
        while connected_quietly(b, "loud-%d" % n):
            assert time.monotonic() < deadline, "log level not back to info:\n" + b.logs()[-3000:]
            n += 1
            time.sleep(0.05)
        steady.wait_more()
        assert big_publish_accepted(b, "default-size", 2000)
        assert steady.disconnects == 0
        assert "client disconnected: id=steady " not in b.logs()
    finally:
        steady.close()


def test_sighup_switches_the_log_format(start_broker, tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text("{}")
    b = start_broker("-c", str(cfg))
    reload(b, cfg, {"log_format": "json"}, "1 changes applied")
    c = Client(b.port)
    c.connect("json-now")
    deadline = time.monotonic() + 5 * SLOW
    while True:
        last = b.logs().splitlines()[-1]
        if "json-now" in last:
            break
        assert time.monotonic() < deadline, b.logs()[-2000:]
        time.sleep(0.02)
    e = json.loads(last)
    assert e["event"] == "client_connected" and e["client_id"] == "json-now"


def test_flags_still_override_the_file_after_a_reload(start_broker, tmp_path):
    cfg = tmp_path / "umbra.json"
    cfg.write_text("{}")
    b = start_broker("-c", str(cfg), "--log-level", "info")
    reload(b, cfg, {"log_level": "error"}, "0 changes applied")
    assert not connected_quietly(b, "flag-wins")
