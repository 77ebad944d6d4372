"""examples/: the lecture's getting-started flow (getting-started.sh) and its paho program
(motion_sensor.py), run as a user would, against a real umbrad over TLS."""
import json
import os
import re
import shlex
import subprocess
import sys
import time

from conftest import SLOW, UMBRACTL, free_port
from helpers import PahoClient
from test_tls import ctl

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../examples")
SCRIPT = os.path.join(EXAMPLES, "getting-started.sh")
SENSOR = os.path.join(EXAMPLES, "motion_sensor.py")
THING = "IoT-motion-sensor"
SHADOW_UPDATE = "$aws/things/%s/shadow/update" % THING


def run(cmd, timeout, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * SLOW, **kw)


def getting_started(b, cert_dir):
    """Run getting-started.sh against b's data dir; return (its output, the command it printed)."""
    env = dict(os.environ, UMBRACTL=UMBRACTL, PORT=str(b.tls_port), ENDPOINT="localhost")
    r = run(["sh", SCRIPT, b.data_dir, cert_dir], 60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # The last lines: "  PYTHON .../motion_sensor.py ... \" continued over lines.
    tail = r.stdout[r.stdout.rindex("\n\n") + 2:]
    cmd = shlex.split(tail.replace("\\\n", " "))
    assert "python3" in cmd[0] and os.path.samefile(cmd[1], SENSOR), tail
    return r.stdout, [sys.executable] + cmd[1:]


def test_getting_started_then_motion_sensor(start_broker, tmp_path):
    b = start_broker(tls=True)
    # The TLS and plain listeners share one broker: watch the shadow topic on the plain one.
    sub = PahoClient(b, "watcher")
    sub.subscribe(SHADOW_UPDATE, 1)
    sub.subscribe(SHADOW_UPDATE + "/accepted", 1)

    certs = str(tmp_path / "certs")
    out, cmd = getting_started(b, certs)
    cert_id = re.search(r"certificateId:\s+([0-9a-f]{64})", out).group(1)
    for f in ("certificate.pem.crt", "public.pem.key", "private.pem.key"):
        assert os.path.getsize(os.path.join(certs, f)) > 0
    assert ctl(b, "describe-certificate", "--certificate-id",
               cert_id)["certificateDescription"]["status"] == "ACTIVE"
    principals = ctl(b, "list-thing-principals", "--thing-name", THING)["principals"]
    assert any(p.endswith("cert/" + cert_id) for p in principals)
    assert ("--ca %s/ca.pem" % b.data_dir) in " ".join(cmd)
    assert cmd[cmd.index("--port") + 1] == str(b.tls_port)

    # Run again after the thing got the lecture's attributes (so create-thing now fails with
    # ResourceAlreadyExistsException): the script carries on and makes a second certificate.
    ctl(b, "update-thing", "--thing-name", THING, "--attribute-payload",
        '{"attributes": {"Product-Name": "HC-SR501-Infrared-PIR-Motion-Sensor"}}')
    out2, _ = getting_started(b, str(tmp_path / "certs2"))
    assert "thing %s already exists; carrying on" % THING in out2
    cert_id2 = re.search(r"certificateId:\s+([0-9a-f]{64})", out2).group(1)
    assert cert_id2 != cert_id
    principals = ctl(b, "list-thing-principals", "--thing-name", THING)["principals"]
    assert sorted(p.rsplit("/", 1)[1] for p in principals) == sorted([cert_id, cert_id2])

    t0 = time.monotonic()
    r = run(cmd + ["--count", "3", "--interval", "0.2", "--pattern", "101"], 30)
    elapsed = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Connection status: successful" in r.stdout
    assert re.search(r"^Subscribed: 1 \(0,\)", r.stdout, re.M), r.stdout
    assert len(re.findall(r"^PUBACK received: message \d+ \(\d published\)$", r.stdout, re.M)) == 3
    assert "(3 published)" in r.stdout
    assert elapsed < 20 * SLOW
    sent = [line for line in r.stdout.splitlines() if line.startswith('{"state"')]
    assert len(sent) == 3

    # The three requests, and the shadow service's three accepted replies.
    got = sub.get_all(6)
    requests = [m for m in got if m.topic == SHADOW_UPDATE]
    accepted = [m for m in got if m.topic == SHADOW_UPDATE + "/accepted"]
    assert [m.payload.decode() for m in requests] == sent
    assert [json.loads(m.payload)["version"] for m in accepted] == [1, 2, 3]
    assert [json.loads(m.payload)["state"] for m in accepted] == \
        [json.loads(x)["state"] for x in sent]
    # The program subscribed to .../update/accepted on connect and printed what came.
    assert len(re.findall(r"^Received message from topic: \$aws/things/%s/shadow/update/accepted"
                          % THING, r.stdout, re.M)) >= 2, r.stdout
    motions = []
    for m in requests:
        doc = json.loads(m.payload)
        assert list(doc) == ["state"] and list(doc["state"]) == ["reported"]
        reported = doc["state"]["reported"]
        assert sorted(reported) == ["motion", "time"]
        assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", reported["time"])
        motions.append(reported["motion"])
    assert motions == [1, 0, 1]
    assert sub.none(0.3)
    # The device shadow keeps the last report.
    shadow = ctl_get_shadow(b)
    assert shadow["state"]["reported"]["motion"] == 1 and shadow["version"] == 3
    sub.close()

    line = b.log_line("client connected", "id=IoT-motion-sensor", "listener=mqtts")
    assert "cert=" + cert_id in line
    b.log_line("client disconnected", "id=IoT-motion-sensor", "client sent DISCONNECT")


def ctl_get_shadow(b):
    """The shadow as a device would get it: publish .../get, read .../get/accepted."""
    c = PahoClient(b, "shadow-reader")
    c.subscribe("$aws/things/%s/shadow/get/accepted" % THING, 1)
    c.publish("$aws/things/%s/shadow/get" % THING, b"", qos=1)
    m = c.get_all(1)[0]
    c.close()
    return json.loads(m.payload)


def self_signed(tmp_path):
    """A certificate and key that no registry has heard of."""
    subprocess.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout k.pem -out c.pem -days 1 -subj /CN=intruder", shell=True,
                   cwd=tmp_path, check=True, capture_output=True, timeout=30)
    return str(tmp_path / "c.pem"), str(tmp_path / "k.pem")


def test_motion_sensor_with_unregistered_certificate_fails(start_broker, tmp_path):
    b = start_broker(tls=True)
    cert, key = self_signed(tmp_path)
    t0 = time.monotonic()
    r = run([sys.executable, SENSOR, "--endpoint", "localhost", "--port", str(b.tls_port),
             "--ca", os.path.join(b.data_dir, "ca.pem"), "--cert", cert, "--key", key,
             "--count", "3", "--interval", "0.2", "--connect-timeout", "5"], 30)
    elapsed = time.monotonic() - t0
    assert r.returncode != 0
    assert elapsed < 10 * SLOW
    assert "Traceback" not in r.stderr, r.stderr
    assert re.search(r"^motion_sensor: (connection to localhost:%d refused|TLS handshake with "
                     r"localhost:%d failed)" % (b.tls_port, b.tls_port), r.stderr, re.M), r.stderr
    assert "PUBACK" not in r.stdout
    b.log_line("certificate not registered")


def test_motion_sensor_with_nothing_listening_fails(tmp_path):
    cert, key = self_signed(tmp_path)
    r = run([sys.executable, SENSOR, "--endpoint", "127.0.0.1", "--port", str(free_port()),
             "--ca", cert, "--cert", cert, "--key", key, "--count", "1"], 30)
    assert r.returncode != 0
    assert re.search(r"^motion_sensor: cannot connect to 127.0.0.1:\d+: ", r.stderr, re.M), r.stderr
    assert "Traceback" not in r.stderr


def test_lecture_rules_with_the_motion_sensor(start_broker, tmp_path):
    """The lecture's two rules from examples/rules/: FuSNS (every message to a notification
    endpoint; an http action stands in for SNS) and save (every message into the motion_sensor
    table keyed by topic and timestamp), fed by the motion sensor program."""
    from rule_endpoint import Endpoint
    from test_rules import rows
    b = start_broker(tls=True)
    ep = Endpoint()
    try:
        with open(os.path.join(EXAMPLES, "rules", "notify.json")) as f:
            notify = json.load(f)
        notify["actions"][0]["http"]["url"] = ep.url + "/notify"
        (tmp_path / "notify.json").write_text(json.dumps(notify))
        ctl(b, "create-topic-rule", "--rule-name", "FuSNS", "--topic-rule-payload",
            "file://" + str(tmp_path / "notify.json"))
        ctl(b, "create-topic-rule", "--rule-name", "save", "--topic-rule-payload",
            "file://" + os.path.join(EXAMPLES, "rules", "save.json"))
        _, cmd = getting_started(b, str(tmp_path / "certs"))
        time.sleep(0.6 * SLOW)  # the daemon's registry poll
        r = run(cmd + ["--count", "2", "--interval", "0.2", "--pattern", "10"], 30)
        assert r.returncode == 0, r.stdout + r.stderr
        # Each report and the shadow service's replies to it reach both rules.
        got = ep.wait(4)
        topics = [h["x-topic"] for _, h, _ in got]
        assert topics.count(SHADOW_UPDATE) == 2, topics
        assert SHADOW_UPDATE + "/accepted" in topics
        reports = [json.loads(body) for _, h, body in got if h["x-topic"] == SHADOW_UPDATE]
        assert [m["state"]["reported"]["motion"] for m in reports] == [1, 0]
        deadline = time.monotonic() + 5 * SLOW
        while True:
            saved = [r for r in rows(b, "ddb_motion_sensor") if r[0] == SHADOW_UPDATE]
            if len(saved) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [json.loads(p)["state"]["reported"]["motion"] for _, _, p in saved] == [1, 0]
        assert all(abs(ts / 1000 - time.time()) < 60 for _, ts, _ in saved)
    finally:
        ep.close()
