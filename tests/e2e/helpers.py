"""paho-mqtt clients with bounded waits, for tests that need a real client library."""
import queue
import threading
import time

import paho.mqtt.client as mqtt


class PahoClient:
    def __init__(self, broker, client_id="", clean_session=True, keepalive=60, will=None):
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.flags = None
        self.client = mqtt.Client(client_id, clean_session=clean_session)
        if will:
            self.client.will_set(*will)
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_connect = self._on_connect
        self.client.connect(broker.host, broker.port, keepalive)
        self.client.loop_start()
        assert self.connected.wait(5), "no CONNACK"

    def _on_connect(self, client, userdata, flags, rc):
        self.flags = flags
        self.rc = rc
        self.connected.set()

    def subscribe(self, topic, qos=0):
        done = threading.Event()
        self.client.on_subscribe = lambda c, u, mid, granted: done.set()
        self.client.subscribe(topic, qos)
        assert done.wait(5), "no SUBACK"

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(timeout=5)
            assert info.is_published()
        return info

    def get(self, timeout=5.0):
        return self.messages.get(timeout=timeout)

    def get_all(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            out.append(self.messages.get(timeout=max(0.01, deadline - time.monotonic())))
        return out

    def none(self, timeout=0.3):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return True
        raise AssertionError("unexpected message on %s: %r" % (m.topic, m.payload))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Vanish without DISCONNECT."""
        self.client.loop_stop()
        self.client.socket().close()
