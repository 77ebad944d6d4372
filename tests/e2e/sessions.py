"""Raw-socket helpers for persistent-session tests (shared by test_sessions and test_persistence)."""
from mqtt_raw import Client, publish, ack, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP


def persistent(broker, cid="dev", filt="s/#", qos=1):
    """Connect with clean session 0 (and subscribe to filt); return (client, session_present)."""
    c = Client(broker.port)
    present, rc = c.connect(cid, clean=False)
    assert rc == 0
    if filt:
        assert c.subscribe(1, (filt, qos)) == [qos]
    return c, present


def publish_acked(broker, n, qos=1, topic="s/t", start=0, cid="pub"):
    """Publish m<start>..m<start+n-1>, each fully acknowledged before the next."""
    p = Client(broker.port)
    p.connect(cid)
    for i in range(start, start + n):
        p.send(publish(topic, b"m%d" % i, qos=qos, pid=i + 1))
        if qos == 1:
            assert p.expect(PUBACK).pid == i + 1
        elif qos == 2:
            assert p.expect(PUBREC).pid == i + 1
            p.send(ack(PUBREL, i + 1))
            assert p.expect(PUBCOMP).pid == i + 1
    p.close()


def drain(c, n):
    """Receive n PUBLISH packets, completing every acknowledgement flow.

    The broker may send several messages before the first one's QoS 2 flow completes, so
    PUBLISH and PUBREL packets can interleave."""
    out, awaiting_pubrel = [], set()
    while len(out) < n or awaiting_pubrel:
        p = c.recv()
        if p.type == PUBLISH:
            assert len(out) < n, "more than %d messages: %r" % (n, p)
            out.append(p)
            if p.qos == 1:
                c.send(ack(PUBACK, p.pid))
            elif p.qos == 2:
                c.send(ack(PUBREC, p.pid))
                awaiting_pubrel.add(p.pid)
        else:
            assert p.type == PUBREL and p.pid in awaiting_pubrel, "unexpected %r" % p
            awaiting_pubrel.discard(p.pid)
            c.send(ack(PUBCOMP, p.pid))
    return out
