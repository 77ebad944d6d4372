"""Raw MQTT 3.1.1 packets over a socket, for byte-exact end-to-end checks.

Written independently of the broker's C codec so the tests do not share its
mistakes.
"""
import os
import socket
import struct
import time

# Sanitizer builds are several times slower: every wait for a packet scales with them.
SLOW = 3 if os.environ.get("SANITIZE", "0") == "1" else 1

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([ptype << 4 | flags]) + varint(len(body)) + body


def connect(client_id="", clean=True, keepalive=60, will=None, username=None, password=None,
            proto=b"MQTT", level=4):
    """will = (topic, payload, qos, retain)"""
    flags = 0x02 if clean else 0
    payload = mqtt_str(client_id)
    if will:
        topic, wpayload, wqos, wretain = will
        flags |= 0x04 | (wqos << 3) | (0x20 if wretain else 0)
        payload += mqtt_str(topic) + mqtt_str(wpayload)
    if username is not None:
        flags |= 0x80
        payload += mqtt_str(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_str(password)
    body = mqtt_str(proto) + bytes([level, flags]) + struct.pack("!H", keepalive) + payload
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None):
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = mqtt_str(topic)
    if qos:
        body += struct.pack("!H", pid if pid is not None else 1)
    if isinstance(payload, str):
        payload = payload.encode()
    return packet(PUBLISH, flags, body + payload)


def subscribe(pid, *filters, flags=0x02):
    """filters: (filter, qos) pairs"""
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += mqtt_str(f) + bytes([q])
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(pid, *filters):
    return packet(UNSUBSCRIBE, 0x02, struct.pack("!H", pid) + b"".join(mqtt_str(f) for f in filters))


def ack(ptype, pid):
    return packet(ptype, 0x02 if ptype == PUBREL else 0, struct.pack("!H", pid))


PINGREQ_BYTES = bytes([PINGREQ << 4, 0])
DISCONNECT_BYTES = bytes([DISCONNECT << 4, 0])


class Packet:
    def __init__(self, first, body):
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body

    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def retain(self):
        return bool(self.flags & 1)

    @property
    def dup(self):
        return bool(self.flags & 8)

    @property
    def pid(self):
        if self.type == PUBLISH:
            tl = struct.unpack("!H", self.body[:2])[0]
            return struct.unpack("!H", self.body[2 + tl:4 + tl])[0] if self.qos else None
        return struct.unpack("!H", self.body[:2])[0]

    @property
    def topic(self):
        tl = struct.unpack("!H", self.body[:2])[0]
        return self.body[2:2 + tl].decode()

    @property
    def payload(self):
        tl = struct.unpack("!H", self.body[:2])[0]
        return self.body[2 + tl + (2 if self.qos else 0):]

    def __repr__(self):
        return "Packet(type=%d flags=%#x body=%r)" % (self.type, self.flags, self.body[:40])


class Client:
    """A blocking raw client with bounded waits."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        timeout *= SLOW
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no packet within the timeout")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by broker")
            self.buf += chunk

    def recv(self, timeout=None):
        """One whole packet; TimeoutError if none arrives within timeout (scaled by SLOW)."""
        deadline = time.monotonic() + (timeout * SLOW if timeout is not None else self.timeout)
        self._fill(2, deadline)
        mult, length, i = 1, 0, 1
        while True:
            self._fill(i + 1, deadline)
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._fill(i + length, deadline)
        p = Packet(self.buf[0], self.buf[i:i + length])
        self.buf = self.buf[i + length:]
        return p

    def expect(self, ptype, timeout=None):
        p = self.recv(timeout)
        assert p.type == ptype, "expected type %d, got %r" % (ptype, p)
        return p

    def connect(self, client_id="", **kw):
        self.send(connect(client_id, **kw))
        p = self.expect(CONNACK)
        return p.body[0] & 1, p.body[1]

    def subscribe(self, pid, *filters):
        self.send(subscribe(pid, *filters))
        p = self.expect(SUBACK)
        assert p.pid == pid
        return list(p.body[2:])

    def is_closed(self, timeout=3.0):
        """True when the broker closes the connection within timeout (data before EOF ignored)."""
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def no_packet(self, timeout=0.3):
        try:
            p = self.recv(timeout)
        except TimeoutError:
            return True
        raise AssertionError("unexpected packet %r" % p)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
