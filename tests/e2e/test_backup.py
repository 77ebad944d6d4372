"""umbractl backup: a consistent copy of a serving broker's data directory, and a restore."""
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time

from conftest import SLOW, UMBRACTL, Broker
from mqtt_raw import Client, PUBACK, PUBLISH, publish
from test_tls import ctl, make_device, mqtt_connect, tls_socket

PAYLOAD = b"p" * 4000  # big enough that a few hundred messages make a backup take a while


class RetainedPublisher:
    """Publishes QoS 1 retained messages to load/N, one at a time, and notes each PUBACK."""

    def __init__(self, b):
        self.client = Client(b.port)
        self.client.connect("loader")
        self.acked = []  # (topic, monotonic time of its PUBACK), in order
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                topic = "load/%d" % n
                self.client.send(publish(topic, PAYLOAD, qos=1, retain=True, pid=n % 65535 + 1))
                self.client.expect(PUBACK, timeout=10)
                self.acked.append((topic, time.monotonic()))
        except Exception as e:  # reported by the test, not lost in the thread
            self.error = e

    def wait_acked(self, n):
        deadline = time.monotonic() + 30 * SLOW
        while len(self.acked) < n:
            assert self.error is None and time.monotonic() < deadline, self.error
            time.sleep(0.01)

    def close(self):
        self.stop.set()
        self.thread.join(15 * SLOW)
        self.client.close()


def retained_topics(b):
    """Every retained load/N topic of a broker, with its payload."""
    c = Client(b.port)
    c.connect("reader")
    c.subscribe(1, ("load/#", 0))
    got = {}
    while True:
        try:
            p = c.recv(timeout=1.0)
        except TimeoutError:
            break
        if p.type == PUBLISH:
            got[p.topic] = p.payload
    c.close()
    return got


def test_backup_while_serving_restores_what_was_acknowledged(start_broker, tmp_path):
    b = start_broker(tls=True)
    _, cert, key = make_device(b, "Sensor")
    loader = RetainedPublisher(b)
    restored = None
    try:
        loader.wait_acked(600)  # a database of a few MB
        acked_before = {t for t, _ in loader.acked}
        started = time.monotonic()
        dest = str(tmp_path / "backup")
        # One page per step and a pause after each: the copy runs for seconds, under load.
        backup = subprocess.Popen([UMBRACTL, "--data-dir", b.data_dir, "backup", dest,
                                   "--pages-per-step", "1", "--sleep-ms", "3"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10 * SLOW
            while not glob.glob(dest + ".partial-*/umbra.db"):
                assert backup.poll() is None and time.monotonic() < deadline, backup.communicate()
                time.sleep(0.005)
            # The registry stays writable while the copy runs.
            ctl(b, "create-thing", "--thing-name", "MadeDuringBackup")
            acks_at_thing = len(loader.acked)
            time.sleep(0.3)
            assert backup.poll() is None, "the backup ended too soon to overlap anything"
            out, err = backup.communicate(timeout=60 * SLOW)
        finally:
            if backup.poll() is None:
                backup.kill()
                backup.wait()
        assert backup.returncode == 0, err
        ended = time.monotonic()
        # The daemon's writer was not starved: acknowledgements went on during the copy.
        assert len([t for t, at in loader.acked if started < at < ended]) > 20
        assert len(loader.acked) > acks_at_thing
        report = json.loads(out)
        assert report["backup"] == dest and report["databasePages"] > 600
        assert sorted(report["files"]) == sorted(["ca.pem", "ca.key", "server.pem", "server.key",
                                                  "umbractl.pem", "umbractl.key", "umbra.db"])
        assert not glob.glob(dest + ".partial-*")
        loader.close()
        assert loader.error is None, loader.error

        assert sorted(os.listdir(dest)) == sorted(report["files"])
        assert oct(os.stat(dest).st_mode & 0o777) == "0o700"
        assert oct(os.stat(os.path.join(dest, "ca.key")).st_mode & 0o777) == "0o600"
        with open(os.path.join(dest, "ca.pem"), "rb") as f, \
                open(os.path.join(b.data_dir, "ca.pem"), "rb") as g:
            assert f.read() == g.read()
        db = sqlite3.connect(os.path.join(dest, "umbra.db"))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()

        # Restore: a new umbrad on the copy.
        restored = Broker(data_dir=dest, tls=True)
        got = retained_topics(restored)
        missing = acked_before - set(got)
        assert not missing, "%d acknowledged messages lost, e.g. %s" % (len(missing),
                                                                        sorted(missing)[:5])
        assert all(p == PAYLOAD for p in got.values())
        assert ctl(restored, "describe-thing", "--thing-name", "Sensor")["thingName"] == "Sensor"
        # Made during the copy: all there or not there, never half.
        r = subprocess.run([UMBRACTL, "--data-dir", dest, "describe-thing", "--thing-name",
                            "MadeDuringBackup"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 or "ResourceNotFoundException" in r.stderr, r.stderr
        # The device's certificate, its CA and the server certificate came along.
        s = tls_socket(restored, cert, key)
        assert mqtt_connect(s, "Sensor") == b"\x20\x02\x00\x00"
        s.close()
    finally:
        loader.close()
        if restored:
            assert restored.stop() == 0, restored.logs()


def test_backup_refuses_an_existing_destination_and_a_missing_database(broker, tmp_path):
    existing = tmp_path / "there"
    existing.mkdir()
    r = subprocess.run([UMBRACTL, "--data-dir", broker.data_dir, "backup", str(existing)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path / "no-such-dir"), "backup",
                        str(tmp_path / "b")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "umbra.db" in r.stderr
    assert not os.path.exists(tmp_path / "b") and not glob.glob(str(tmp_path / "b.partial-*"))
    r = subprocess.run([UMBRACTL, "backup"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([UMBRACTL, "backup", str(tmp_path / "c"), "--pages-per-step", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2


def test_backup_of_a_stopped_broker_has_its_sessions(start_broker, tmp_path):
    b = start_broker()
    s = Client(b.port)
    s.connect("keeper", clean=False)
    s.subscribe(1, ("kept/#", 1))
    s.close()
    p = Client(b.port)
    p.connect("p")
    p.send(publish("kept/x", b"queued", qos=1, pid=1))
    p.expect(PUBACK)
    p.close()
    assert b.stop() == 0
    dest = str(tmp_path / "copy")
    r = subprocess.run([UMBRACTL, "--data-dir", b.data_dir, "backup", dest], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    restored = Broker(data_dir=dest)
    try:
        c = Client(restored.port)
        assert c.connect("keeper", clean=False)[0] == 1  # session present
        assert c.expect(PUBLISH).payload == b"queued"
    finally:
        assert restored.stop() == 0, restored.logs()
    shutil.rmtree(dest, ignore_errors=True)
