#!/bin/sh
# compose-setup.sh - register docker-compose.yml's motion sensor with the broker
# running under Docker Compose, with umbractl inside its container:
#
#   1. the CA devices trust                  -> CERT_DIR/ca.pem (umbractl get-root-ca)
#   2. the thing IoT-motion-sensor
#   3. an ACTIVE certificate and its key     -> CERT_DIR/certificate.pem.crt, private.pem.key
#   4. attached to the thing, with a policy for the thing's own shadow topics
#   5. the rule motion_to_postgres (examples/rules/postgres.json): each reading
#      becomes a row of table `motion` in the postgres service's database
#
# usage: sh examples/compose-setup.sh      (after `docker compose up -d umbra postgres`)
#
# Environment: COMPOSE (default "docker compose"; "podman-compose" works too),
# CERT_DIR (default examples/certs, which the sensor service mounts),
# THING_NAME (default IoT-motion-sensor).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
COMPOSE=${COMPOSE:-docker compose}
CERT_DIR=${CERT_DIR:-$HERE/certs}
THING_NAME=${THING_NAME:-IoT-motion-sensor}

# -T: no terminal, so the output can be redirected to files.
in_umbra() {
    (cd "$HERE/.." && $COMPOSE exec -T umbra "$@")
}
ctl() {
    in_umbra umbractl "$@"
}

mkdir -p "$CERT_DIR"

echo "== umbractl get-root-ca > $CERT_DIR/ca.pem"
ctl get-root-ca >"$CERT_DIR/ca.pem"

echo "== umbractl create-thing --thing-name $THING_NAME"
ctl describe-thing --thing-name "$THING_NAME" >/dev/null 2>&1 ||
    ctl create-thing --thing-name "$THING_NAME"

# The outfiles land in the container's working directory (umbra's home);
# they are copied out, then removed there.
echo "== umbractl create-keys-and-certificate --set-as-active"
json=$(ctl create-keys-and-certificate --set-as-active \
    --certificate-pem-outfile certificate.pem.crt --private-key-outfile private.pem.key)
in_umbra cat certificate.pem.crt >"$CERT_DIR/certificate.pem.crt"
(umask 077 && in_umbra cat private.pem.key >"$CERT_DIR/private.pem.key")
in_umbra rm -f certificate.pem.crt private.pem.key
ARN=$(printf '%s\n' "$json" | sed -n 's/.*"certificateArn": "\([^"]*\)".*/\1/p')
[ -n "$ARN" ] || {
    echo "compose-setup.sh: no certificateArn in: $json" >&2
    exit 1
}
echo "certificateArn: $ARN"

echo "== umbractl attach-thing-principal --thing-name $THING_NAME --principal $ARN"
ctl attach-thing-principal --thing-name "$THING_NAME" --principal "$ARN"

POLICY=${THING_NAME}-Policy
echo "== umbractl create-policy --policy-name $POLICY; attach-policy"
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
}' >/dev/null 2>&1 || echo "policy $POLICY already exists; carrying on"
ctl attach-policy --policy-name "$POLICY" --target "$ARN"

# Inline: a file:// path would be read inside the container.
echo "== umbractl create-topic-rule --rule-name motion_to_postgres"
ctl get-topic-rule --rule-name motion_to_postgres >/dev/null 2>&1 ||
    ctl create-topic-rule --rule-name motion_to_postgres \
        --topic-rule-payload "$(cat "$HERE/rules/postgres.json")"

echo
echo "Done. Start the device and watch its readings arrive:"
echo "  docker compose up -d sensor && docker compose logs -f sensor"
echo "  docker compose exec postgres psql -U umbra telemetry -c 'SELECT * FROM motion'"
