#!/bin/sh
# getting-started.sh - the AWS IoT "get started with a Raspberry Pi" registry
# steps, against a local Umbra broker with umbractl instead of the AWS console
# (thing, certificate, attachment, policy):
#
#   1. create a thing         IoT-motion-sensor
#   2. create keys and an ACTIVE certificate, saved to CERT_DIR
#   3. attach the certificate to the thing
#   4. create IoT-motion-sensor-Policy (the thing's own shadow topics) and attach it
#
# then print the command that runs examples/motion_sensor.py with them.
#
# usage: examples/getting-started.sh [DATA_DIR [CERT_DIR]]
#
#   DATA_DIR  the broker's data directory (default $UMBRA_DATA_DIR, else ./var);
#             umbrad creates DATA_DIR/ca.pem on its first start
#   CERT_DIR  where the certificate and keys go (default $CERT_DIR, else ./certs)
#
# Environment: UMBRACTL (the umbractl to run; default umbractl on PATH, else
# ./build/release/umbractl), THING_NAME (default IoT-motion-sensor),
# ENDPOINT (default localhost), PORT (default 8883), PYTHON (the python3 shown
# in the printed command; default python3, else /usr/bin/python3 if only it has paho-mqtt).
set -eu

DATA_DIR=${1:-${UMBRA_DATA_DIR:-./var}}
CERT_DIR=${2:-${CERT_DIR:-./certs}}
THING_NAME=${THING_NAME:-IoT-motion-sensor}
ENDPOINT=${ENDPOINT:-localhost}
PORT=${PORT:-8883}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ -n "${UMBRACTL:-}" ]; then
    :
elif command -v umbractl >/dev/null 2>&1; then
    UMBRACTL=umbractl
elif [ -x ./build/release/umbractl ]; then
    UMBRACTL=./build/release/umbractl
elif [ -x "$HERE/../build/release/umbractl" ]; then
    UMBRACTL=$HERE/../build/release/umbractl
else
    echo "getting-started.sh: umbractl not found; set UMBRACTL or run 'make' first" >&2
    exit 1
fi

ctl() {
    "$UMBRACTL" --data-dir "$DATA_DIR" "$@"
}

mkdir -p "$DATA_DIR" "$CERT_DIR"

# 1. Create a thing: the device's entry in the registry.
echo "== umbractl create-thing --thing-name $THING_NAME"
if ! out=$(ctl create-thing --thing-name "$THING_NAME" 2>&1); then
    if ctl describe-thing --thing-name "$THING_NAME" >/dev/null 2>&1; then
        echo "thing $THING_NAME already exists; carrying on"
    else
        echo "$out" >&2
        exit 1
    fi
else
    echo "$out"
fi

# 2. Create, download and activate a certificate and keys: they authenticate
#    the device to the broker.
CERT=$CERT_DIR/certificate.pem.crt
PUB=$CERT_DIR/public.pem.key
KEY=$CERT_DIR/private.pem.key
echo "== umbractl create-keys-and-certificate --set-as-active"
json=$(ctl create-keys-and-certificate --set-as-active \
    --certificate-pem-outfile "$CERT" \
    --public-key-outfile "$PUB" \
    --private-key-outfile "$KEY")
chmod 600 "$KEY"
ARN=$(printf '%s' "$json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["certificateArn"])')
CERT_ID=${ARN##*/}
echo "certificateArn: $ARN"
echo "certificateId:  $CERT_ID"

# 3. Attach the certificate (the principal) to the thing.
echo "== umbractl attach-thing-principal --thing-name $THING_NAME --principal $ARN"
ctl attach-thing-principal --thing-name "$THING_NAME" --principal "$ARN"

# 4. A policy: what the device may do. This one is scoped to the thing: it may
#    connect only with the thing's name as client id and use only its own
#    shadow topics. create-policy fails if it exists already; that is fine.
POLICY=${THING_NAME}-Policy
echo "== umbractl create-policy --policy-name $POLICY"
ctl create-policy --policy-name "$POLICY" --policy-document '{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect",
     "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
     "Resource": "arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe",
     "Resource": "arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"}
  ]
}' 2>/dev/null || echo "policy $POLICY already exists; carrying on"
echo "== umbractl attach-policy --policy-name $POLICY --target $ARN"
ctl attach-policy --policy-name "$POLICY" --target "$ARN"

# A python3 that has paho-mqtt, for the printed command.
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import paho.mqtt.client' >/dev/null 2>&1; then
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import paho.mqtt.client' >/dev/null 2>&1; then
        PYTHON=/usr/bin/python3
    else
        echo "note: $PYTHON has no paho-mqtt: apt-get install python3-paho-mqtt, or pip install paho-mqtt" >&2
    fi
fi

CA=$DATA_DIR/ca.pem
if [ ! -f "$CA" ]; then
    echo "note: $CA does not exist yet; start umbrad with --data-dir $DATA_DIR --mqtts ... once to create it" >&2
fi

echo
echo "Done. With umbrad running (--data-dir $DATA_DIR --mqtts 127.0.0.1:$PORT), run the device:"
echo
echo "  $PYTHON $HERE/motion_sensor.py --endpoint $ENDPOINT --port $PORT \\"
echo "      --ca $CA --cert $CERT --key $KEY \\"
echo "      --thing $THING_NAME --client-id $THING_NAME"
