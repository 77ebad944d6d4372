"""A subscriber that stops reading costs bounded memory; what is dropped is counted."""
import socket
import time

from conftest import SANITIZE
from mqtt_raw import Client, publish, PUBLISH


def dropped(broker):
    s = Client(broker.port)
    s.connect("sys-reader-%f" % time.monotonic())
    s.subscribe(1, ("$SYS/broker/publish/messages/dropped", 0))
    return int(s.expect(PUBLISH, timeout=5).payload)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


def test_qos0_to_a_stalled_subscriber_is_dropped_and_counted(start_broker):
    b = start_broker("--max-queued-messages", "10", "--sys-interval", "1")
    stalled = Client(b.port)
    stalled.connect("stalled")
    stalled.subscribe(1, ("flood/t", 0))
    p = Client(b.port)
    p.connect("flooder")
    payload = b"x" * 60000
    rss_before = rss_kb(b.proc.pid)
    for i in range(400):  # 24 MB at a reader that takes nothing: beyond every buffer
        p.send(publish("flood/t", b"%06d" % i + payload))
    deadline = time.monotonic() + 10
    while dropped(b) == 0:
        assert time.monotonic() < deadline, "nothing counted as dropped"
        time.sleep(0.3)
    # Memory stayed bounded: the connection's output cap plus a 10-message queue.
    # (AddressSanitizer keeps freed memory in quarantine, so RSS says nothing there.)
    if not SANITIZE:
        assert rss_kb(b.proc.pid) - rss_before < 8 * 1024
    # What does arrive, arrives in order.
    seen = []
    try:
        while True:
            m = stalled.recv(1.0)
            seen.append(int(m.payload[:6]))
    except TimeoutError:
        pass
    assert seen and seen == sorted(seen) and len(seen) < 400
    # The broker still serves everyone else.
    other = Client(b.port)
    other.connect("other")
    other.subscribe(1, ("ok", 0))
    p.send(publish("ok", b"fine"))
    assert other.expect(PUBLISH).payload == b"fine"


def test_client_that_never_reads_is_throttled_not_buffered(start_broker):
    b = start_broker()
    s = Client(b.port)
    s.connect("watcher")
    s.subscribe(1, ("echo/#", 0))
    flooder = Client(b.port)
    flooder.connect("flooder")
    rss_before = rss_kb(b.proc.pid)
    # Tiny QoS 1 publishes: each costs the broker a PUBACK the flooder never reads.
    chunk = b"".join(publish("e", b"", qos=1, pid=i % 65535 + 1) for i in range(100000))
    flooder.sock.settimeout(3)
    sent = 0
    try:
        for _ in range(100):  # up to 10 million publishes
            flooder.sock.sendall(chunk)
            sent += len(chunk)
    except (socket.timeout, TimeoutError):
        pass  # the broker stopped reading: TCP pushes back on the sender
    assert sent < 100 * len(chunk), "the broker never pushed back"
    if not SANITIZE:
        assert rss_kb(b.proc.pid) - rss_before < 32 * 1024
    p = Client(b.port)
    p.connect("p")
    p.send(publish("echo/ok", b"still serving"))
    assert s.expect(PUBLISH).payload == b"still serving"
