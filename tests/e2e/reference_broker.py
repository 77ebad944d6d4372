"""E2E_BROKER=mosquitto: run the suite against Debian's mosquitto to check the tests themselves.

A test that fails against umbrad but passes against mosquitto points at the broker; one that
fails against both usually points at the test. What only umbrad has (its log lines, the aws
profile, --connect-timeout, TLS with its registry, losing nothing on kill -9: mosquitto saves
its database only on exit) makes the test skip, with the reason, at the point it needs it.

Against mosquitto 2.0.11 these fail, each for a known difference of mosquitto's, not the test's:
  test_bad_protocol_name_gets_connack_1_and_close   closes without CONNACK (3.1.1 allows both)
  test_mqtt5_and_level_2_get_connack_1              mosquitto speaks MQTT 5
  pingreq_with_flags, publish_qos0_with_dup         mosquitto does not check these bits
  test_silent_client_dropped_after_..., test_will_sent_on_keepalive_timeout
                                                    keepalive 1 is not enforced within 4 s
  test_max_inflight_window                          sends 2 on one PUBACK with a window of 2
  test_outgoing_packet_ids_wrap_and_skip_...        reuses a packet id still in flight
  test_sys_topics_published_and_growing             publishes a $SYS value only when it changes
"""
import os
import signal
import subprocess

import pytest

REFERENCE = os.environ.get("E2E_BROKER", "umbrad")

# umbrad flag -> mosquitto.conf option (None: nothing to set)
_OPTIONS = {
    "--max-inflight": "max_inflight_messages",
    "--max-queued-messages": "max_queued_messages",
    "--max-queued-bytes": "max_queued_bytes",
    "--max-packet-size": "max_packet_size",
    "--sys-interval": "sys_interval",
    "--log-level": None,
}


def mosquitto_class(base):
    """A subclass of conftest's Broker that starts mosquitto instead of umbrad."""

    class MosquittoBroker(base):
        def _skip(self, why):
            pytest.skip(why)

        def start(self):
            if getattr(self, "tls_port", None):
                self._skip("TLS with umbractl's registry is umbrad's own")
            opts = {"max_packet_size": "131072", "sys_interval": "0"}  # umbrad's defaults
            args = list(self.args)
            while args:
                flag = args.pop(0)
                value = args.pop(0) if args else None
                if flag == "--mqtt-profile" and value == "mqtt":
                    continue
                if flag not in _OPTIONS:
                    self._skip("umbrad-only option %s %s" % (flag, value))
                if _OPTIONS[flag]:
                    opts[_OPTIONS[flag]] = value
            conf = os.path.join(self.data_dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write("listener %d %s\n" % (self.port, self.host))
                f.write("allow_anonymous true\npersistence true\n")
                f.write("persistence_location %s/\n" % self.data_dir)
                f.write("log_dest stderr\nlog_type all\n")
                if os.geteuid() == 0:
                    f.write("user root\n")
                for k, v in opts.items():
                    f.write("%s %s\n" % (k, v))
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=self.log,
                                         stderr=self.log)
            import conftest
            try:
                conftest.wait_port(self.host, self.port, self.proc, 10)
            except Exception as e:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                self.proc = None
                self.log.close()
                raise RuntimeError("%s; mosquitto's log:\n%s" % (e, self.raw_logs()[-6000:]))

        def raw_logs(self):
            return base.logs(self)

        def logs(self):
            pytest.skip("checks umbrad's log lines")

        def wait_log(self, *a, **kw):
            pytest.skip("checks umbrad's log lines")

        def log_line(self, *a, **kw):
            pytest.skip("checks umbrad's log lines")

        def kill9(self):
            pytest.skip("mosquitto saves its database only on exit: kill -9 loses it")

        def stop(self, sig=signal.SIGTERM):
            return base.stop(self, sig)

    return MosquittoBroker
