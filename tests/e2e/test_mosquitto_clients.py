"""Interoperability with the mosquitto command-line clients and paho-mqtt."""
import subprocess
import time

import pytest

from helpers import PahoClient


def run(*args, timeout=10):
    return subprocess.run(list(args), capture_output=True, timeout=timeout)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_sub_receives_what_mosquitto_pub_sends(broker, qos):
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "m/#",
                            "-q", str(qos), "-C", "1", "-v", "-W", "10", "-i", "msub"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        broker.log_line("client connected: id=msub ")
        # The SUBSCRIBE follows the CONNECT; publish until mosquitto_sub has its one message.
        deadline = time.monotonic() + 10
        while sub.poll() is None:
            assert time.monotonic() < deadline, "mosquitto_sub got nothing"
            r = run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "m/x", "-m",
                    "hello", "-q", str(qos))
            assert r.returncode == 0, r.stderr
            try:
                sub.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
        out, err = sub.communicate(timeout=10)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    assert sub.returncode == 0, err
    assert out.decode() == "m/x hello\n"


def test_mosquitto_retained_and_mqttv31(broker):
    assert run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "r/x", "-m", "kept",
               "-r", "-q", "1", "-V", "mqttv31", "-i", "old-client").returncode == 0
    r = run("mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "r/x", "-C", "1",
            "-W", "5", "-q", "1", "-F", "%r %q %p")
    assert r.stdout.decode().strip() == "1 1 kept"  # retain flag, QoS, payload
    # Clearing it with mosquitto_pub -r -n leaves nothing for the next subscriber.
    assert run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "r/x", "-n", "-r",
               "-q", "1").returncode == 0
    r = run("mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "r/x", "-C", "1",
            "-W", "1")
    assert r.stdout == b""


def test_paho_qos1_round_trip_and_will(broker):
    sub = PahoClient(broker, "paho-sub")
    sub.subscribe("paho/#", 1)
    dev = PahoClient(broker, "paho-dev", will=("paho/will", "offline", 1, False))
    dev.publish("paho/data", '{"motion": true}', qos=1)
    m = sub.get()
    assert (m.topic, m.payload, m.qos) == ("paho/data", b'{"motion": true}', 1)
    dev.drop()
    w = sub.get()
    assert (w.topic, w.payload) == ("paho/will", b"offline")
    sub.close()


def test_paho_persistent_session(broker):
    c = PahoClient(broker, "paho-p", clean_session=False)
    c.subscribe("pp/t", 1)
    c.close()
    pub = PahoClient(broker, "paho-pub")
    for i in range(3):
        pub.publish("pp/t", "m%d" % i, qos=1)
    pub.close()
    c = PahoClient(broker, "paho-p", clean_session=False)
    assert c.flags["session present"] == 1
    assert [m.payload for m in c.get_all(3)] == [b"m0", b"m1", b"m2"]
    c.close()
