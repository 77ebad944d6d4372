#!/usr/bin/env python3
"""Publish a (simulated) PIR motion sensor to the device shadow topic over MQTT/TLS.

This is the Raspberry Pi program from the AWS IoT "get started" lecture, kept as
close to the original as practical: the same callbacks and prints, the same
topics and payload, the same tls_set() call and QoS 1 publish loop. What changed:

  * RPi.GPIO is replaced by SimulatedPIR (seedable random bursts, or a fixed
    pattern with --pattern), so it runs anywhere;
  * endpoint, port, certificate paths, thing name and client id are options
    instead of hard-coded values;
  * it stops after --count publishes (default: until Ctrl-C);
  * it exits non-zero with a clear message when the connection is refused or
    not established in time, and waits for each PUBACK (QoS 1).

Tested with paho-mqtt 1.6 (Debian 12's python3-paho-mqtt); it also selects the 1.x callback API
on paho-mqtt 2.x, which the tests here do not cover.

Example, against a local umbrad (see examples/README.md):

    python3 examples/motion_sensor.py --ca var/ca.pem \\
        --cert certs/certificate.pem.crt --key certs/private.pem.key --count 5
"""

#required libraries for mqtt and AWS IoT
import sys
import ssl
import json
import argparse
import random
import threading
try:
    import paho.mqtt.client as mqtt
except ImportError:
    sys.exit("motion_sensor: paho-mqtt is not installed for %s: apt-get install python3-paho-mqtt, "
             "or pip install paho-mqtt" % sys.executable)

# for motion sensor
import time
from datetime import datetime
import builtins

_stdout_lock = threading.Lock()


def print(*args, **kwargs):
    """print() from both the main loop and paho's network thread (the callbacks) without
    interleaving their lines, flushed at once so the output can be piped."""
    kwargs.setdefault("flush", True)
    with _stdout_lock:
        builtins.print(*args, **kwargs)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Publish a simulated PIR motion sensor's readings to "
                    "$aws/things/THING/shadow/update over MQTT/TLS (the AWS IoT "
                    "getting-started Raspberry Pi example).")
    p.add_argument("--endpoint", default="localhost",
                   help="broker host name; must match its server certificate (default localhost)")
    p.add_argument("--port", type=int, default=8883, help="MQTT/TLS port (default 8883)")
    p.add_argument("--ca", required=True, help="CA certificate of the broker (for umbrad: DATA_DIR/ca.pem)")
    p.add_argument("--cert", required=True, help="device certificate (certificate.pem.crt)")
    p.add_argument("--key", required=True, help="device private key (private.pem.key)")
    p.add_argument("--thing", default="IoT-motion-sensor", help="thing name (default IoT-motion-sensor)")
    p.add_argument("--client-id", default="xinwenfu0",
                   help="MQTT client id (default xinwenfu0, as in the lecture; "
                        "AWS practice is to use the thing name)")
    p.add_argument("--count", type=int, default=0,
                   help="stop after N publishes (default 0: run until Ctrl-C)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed of the simulated sensor (default: random)")
    p.add_argument("--pattern", default=None,
                   help="fixed readings to cycle through instead of random ones, e.g. 0011100")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the connection (CONNACK) (default 10)")
    p.add_argument("--puback-timeout", type=float, default=10.0,
                   help="seconds to wait for each PUBACK (default 10)")
    args = p.parse_args(argv)
    if args.count < 0:
        p.error("--count must be >= 0")
    if args.interval < 0:
        p.error("--interval must be >= 0")
    if args.pattern is not None and (not args.pattern or set(args.pattern) - {"0", "1"}):
        p.error("--pattern must be a non-empty string of 0s and 1s")
    return args


class SimulatedPIR:
    """Stands in for an HC-SR501 PIR sensor read with GPIO.input(sensor).

    Like the real sensor, a detection holds the output high for a few reads.
    i = 1: Motion detected; i = 0: No Motion
    """

    def __init__(self, seed=None, pattern=None):
        self.rng = random.Random(seed)
        self.pattern = pattern
        self.reads = 0
        self.hold = 0

    def input(self):
        n, self.reads = self.reads, self.reads + 1
        if self.pattern:
            return int(self.pattern[n % len(self.pattern)])
        if self.hold > 0:
            self.hold -= 1
            return 1
        if self.rng.random() < 0.25:  # someone walks by
            self.hold = self.rng.randint(1, 4)
            return 1
        return 0

    def cleanup(self):
        pass


args = parse_args()
shadow_topic = "$aws/things/" + args.thing + "/shadow/update"
connected = threading.Event()   # set by on_connect (whatever rc) or on_disconnect
connect_rc = []                 # the CONNACK return code, or a reason the connection ended


#called while client tries to establish connection with the server
def on_connect(mqttc, obj, flags, rc, properties=None):
    rc = getattr(rc, "value", rc)  # paho 2.x passes an enum, not an int
    if rc==0:
        print ("Subscriber Connection status code: "+str(rc)+" | Connection status: successful")
        mqttc.subscribe(shadow_topic + "/accepted", qos=0)
        # mqttc.publish(shadow_topic, '{"state":{"reported":{"color":"Fu"}}}')
    elif rc==1:
        print ("Subscriber Connection status code: "+str(rc)+" | Connection status: Connection refused")
    else:
        print ("Subscriber Connection status code: "+str(rc)+" | Connection status: Connection refused ("
               + mqtt.connack_string(rc) + ")")
    # message_json['state']['reported']['color'] == "RED"
    if not connected.is_set():
        connect_rc.append(rc)
        connected.set()


def on_disconnect(mqttc, obj, *rest):
    # (client, userdata, rc), also under paho 2.x with CallbackAPIVersion.VERSION1
    if not connected.is_set():
        connect_rc.append("the broker closed the connection before CONNACK (is the device "
                          "certificate registered and ACTIVE? see the broker's log)")
        connected.set()


#called when a topic is successfully subscribed to
def on_subscribe(mqttc, obj, mid, granted_qos, properties=None):
    print("Subscribed: "+str(mid)+" "+str(granted_qos)+"data"+str(obj))


#called when a message is received by a topic
def on_message(mqttc, obj, msg):
    print("Received message from topic: "+msg.topic+" | QoS: "+str(msg.qos)+" | Data Received: "+str(msg.payload))


def fail(why):
    print("motion_sensor: " + why, file=sys.stderr)
    sys.exit(1)


#creating a client with client-id=mqtt-test
try:  # paho-mqtt 2.x asks which callback signatures we use; 1.x has no CallbackAPIVersion
    mqttc = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=args.client_id)
except AttributeError:
    mqttc = mqtt.Client(client_id=args.client_id)

mqttc.on_connect = on_connect
mqttc.on_disconnect = on_disconnect
mqttc.on_subscribe = on_subscribe
mqttc.on_message = on_message

#Configure network encryption and authentication options. Enables SSL/TLS support.
#adding client-side certificates and enabling tlsv1.2 support as required by aws-iot service
try:
    mqttc.tls_set(ca_certs=args.ca,
                  certfile=args.cert,
                  keyfile=args.key,
                  tls_version=ssl.PROTOCOL_TLSv1_2,
                  ciphers=None)
except (OSError, ssl.SSLError) as e:
    fail("cannot load the CA certificate, device certificate or key (%s, %s, %s): %s"
         % (args.ca, args.cert, args.key, e))

#mqttc.tls_insecure_set(True)
#connecting to aws-account-specific-iot-endpoint
print("Connecting to %s:%d as client %r (thing %s)" % (args.endpoint, args.port, args.client_id, args.thing))
deadline = time.monotonic() + args.connect_timeout
connect_error = []
def connect():
    # paho's connect() blocks in the TLS handshake for up to keepalive (60 s) seconds;
    # running it in a thread keeps the whole connection within --connect-timeout.
    try:
        mqttc.connect(args.endpoint, port=args.port)
    except Exception as e:
        connect_error.append(e)
    #AWS IoT service hostname and portno
connector = threading.Thread(target=connect, daemon=True)
connector.start()
connector.join(args.connect_timeout)
if connector.is_alive():
    fail("no TLS handshake with %s:%d within %g s" % (args.endpoint, args.port, args.connect_timeout))
if connect_error:
    e = connect_error[0]
    if isinstance(e, ssl.SSLError):
        fail("TLS handshake with %s:%d failed: %s (is --ca the broker's CA, and is the device "
             "certificate registered and ACTIVE?)" % (args.endpoint, args.port, e))
    fail("cannot connect to %s:%d: %s" % (args.endpoint, args.port, e))

#automatically handles reconnecting
#mqttc.loop_forever()
# start a new thread handling communication with AWS IoT
mqttc.loop_start()

if not connected.wait(max(0.0, deadline - time.monotonic())):
    mqttc.loop_stop()
    fail("no CONNACK from %s:%d within %g s" % (args.endpoint, args.port, args.connect_timeout))
if connect_rc[0] != 0:
    mqttc.loop_stop()
    why = connect_rc[0]
    if isinstance(why, int):
        why = "rc=%d, %s" % (why, mqtt.connack_string(why))
    fail("connection to %s:%d refused: %s" % (args.endpoint, args.port, why))

sensor = SimulatedPIR(seed=args.seed, pattern=args.pattern)

rc=0
published=0
try:
    while rc == 0:
        i = sensor.input()
        print(i)      # i = 1: Motion detected; i = 0: No Motion
        data={}
        data['motion']=i
        data['time']=datetime.now().strftime('%Y/%m/%d %H:%M:%S')
        payload = '{"state":{"reported":'+json.dumps(data)+'}}'
        #json.dumps(data)
        print(payload)

        #the topic to publish to
        #The names of these topics start with $aws/things/thingName/shadow."
        msg_info = mqttc.publish(shadow_topic, payload, qos=1)
        try:
            msg_info.wait_for_publish(timeout=args.puback_timeout)
        except (RuntimeError, ValueError) as e:
            rc = 1
            print("motion_sensor: publish failed: %s" % e, file=sys.stderr)
            break
        if not msg_info.is_published():
            rc = 1
            print("motion_sensor: no PUBACK for message %d within %g s"
                  % (msg_info.mid, args.puback_timeout), file=sys.stderr)
            break
        published += 1
        print("PUBACK received: message %d (%d published)" % (msg_info.mid, published))

        if args.count and published >= args.count:
            break
        time.sleep(args.interval)

except KeyboardInterrupt:
    pass    # a null operation

sensor.cleanup()
mqttc.disconnect()
mqttc.loop_stop()
sys.exit(rc)
