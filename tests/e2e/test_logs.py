"""--log-format json: one JSON object per line, with the facts of each event as members."""
import json
import socket
import ssl
import time

from conftest import SLOW
from mqtt_raw import Client, DISCONNECT_BYTES, publish


def events(b):
    """Every line of the daemon's log, parsed: each must be one JSON object."""
    out = []
    for line in b.logs().splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert obj["time"].endswith("Z") and obj["level"] in ("error", "warn", "info", "debug")
        assert obj["event"] and "msg" in obj
        out.append(obj)
    return out


def wait_event(b, name, timeout=5.0, **members):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        for e in events(b):
            if e["event"] == name and all(e.get(k) == v for k, v in members.items()):
                return e
        assert time.monotonic() < deadline, "no %s %r in:\n%s" % (name, members, b.logs()[-3000:])
        time.sleep(0.02)


def test_json_lines_carry_connects_and_disconnects_as_fields(start_broker):
    b = start_broker("--log-format", "json")
    wait_event(b, "listening", listener="mqtt", port=b.port, insecure=True)
    c = Client(b.port)
    c.connect("json-client", clean=False, keepalive=30)
    port = c.sock.getsockname()[1]
    e = wait_event(b, "client_connected", client_id="json-client")
    assert e["address"] == "127.0.0.1:%d" % port and e["listener"] == "mqtt"
    assert e["clean"] is False and e["keepalive"] == 30 and e["insecure"] is True
    c.send(DISCONNECT_BYTES)
    e = wait_event(b, "client_disconnected", client_id="json-client")
    assert e["reason"] == "client sent DISCONNECT" and e["address"] == "127.0.0.1:%d" % port
    assert e["level"] == "info"


def test_json_escapes_what_a_client_id_holds(start_broker):
    b = start_broker("--log-format", "json")
    nasty = 'q"uo\\te\nline\x1b[2J\u00e9'
    c = Client(b.port)
    c.connect(nasty)
    e = wait_event(b, "client_connected", client_id=nasty)
    assert e["client_id"] == nasty
    c.close()
    wait_event(b, "client_disconnected", client_id=nasty)


def test_text_is_still_the_default(broker):
    c = Client(broker.port)
    c.connect("plain")
    assert " info  client connected: id=plain addr=127.0.0.1:" in broker.log_line("id=plain")


def test_denied_publish_is_an_event(start_broker, tmp_path):
    doc = tmp_path / "policy.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/secret/*"}]}))
    b = start_broker("--log-format", "json", "--mqtt-policy", str(doc))
    c = Client(b.port)
    c.connect("snoop")
    c.send(publish("secret/plans", b"x"))
    assert c.is_closed()
    e = wait_event(b, "denied", client_id="snoop")
    assert e["action"] == "iot:Publish" and e["resource"].endswith(":topic/secret/plans")
    assert e["level"] == "warn" and "explicit Deny" in e["reason"] and e["policy"] == str(doc)
    wait_event(b, "client_disconnected", client_id="snoop")


def test_tls_refusal_is_an_event(start_broker):
    b = start_broker("--log-format", "json", tls=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", b.tls_port), timeout=5 * SLOW)
    port = raw.getsockname()[1]
    try:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
            s.recv(1)
    except (ssl.SSLError, OSError):
        pass
    e = wait_event(b, "tls_refused", address="127.0.0.1:%d" % port)
    assert e["reason"] == "no client certificate" and e["listener"] == "mqtts"
    assert e["level"] == "warn"
