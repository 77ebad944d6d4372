#!/usr/bin/env bash
# test.sh - `make test-image`: build the image and use it as a user would.
#
# Builds the Dockerfile under a test tag, runs it with its data on a volume,
# and from this machine: registers a thing, a certificate and a policy with
# umbractl inside the container, gets the CA with `umbractl get-root-ca`,
# publishes and subscribes with mosquitto_pub/mosquitto_sub over mutual TLS,
# updates and reads a shadow over HTTPS with curl, leaves a retained message;
# restarts the container and checks that all of it survived; stops it (exit
# status 0 within 10 s of SIGTERM). Removes the container, the volume, the
# test tag and the build's new untagged images at the end, whatever happened
# (layers cached before the test stay: `make image` builds them). Talks only
# to 127.0.0.1.
#
# Needs Debian packages only (installed when missing): podman, runc and
# debootstrap where no Docker engine runs, mosquitto-clients, curl.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../.ci/container.sh"

started=$(date +%s)
sh "$CONTAINER_ROOT/.ci/install-deps.sh" mosquitto-clients curl
engine_init

id=$$
tag=umbra:test-$id
name=umbra-test-$id
volume=umbra-test-data-$id
work=$(mktemp -d /tmp/umbra-image-test.XXXXXX)
sub_pid=

cleanup() {
    local rc=$?
    [ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
    if [ "$rc" -ne 0 ] && ctr inspect "$name" >/dev/null 2>&1; then
        echo "-- umbrad's log:" >&2
        ctr logs "$name" 2>&1 | tail -30 >&2 || true
    fi
    ctr rm -f "$name" >/dev/null 2>&1 || true
    ctr volume rm -f "$volume" >/dev/null 2>&1 || true
    ctr rmi "$tag" >/dev/null 2>&1 || true
    remove_new_images
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The images this run's build made that nothing names: the build stage and
# the steps' intermediate images. Children go before parents, hence passes.
remove_new_images() {
    [ -f "$work/images.before" ] || return 0
    local pass id removed
    for pass in 1 2 3 4 5; do
        removed=0
        for id in $(ctr images -a -q --no-trunc | sort -u | comm -13 "$work/images.before" -); do
            [ -z "$(ctr image inspect --format '{{range .RepoTags}}{{.}}{{end}}' "$id" 2>/dev/null)" ] ||
                continue
            ctr rmi "$id" >/dev/null 2>&1 && removed=1
        done
        [ "$removed" = 1 ] || break
    done
}

fail() {
    echo "test-image: FAILED: $*" >&2
    exit 1
}

step() {
    echo "== $*"
}

# A port nothing on this machine uses, in any state (from the kernel's tables).
free_port() {
    local port hex
    while :; do
        port=$((20000 + RANDOM % 40000))
        hex=$(printf ':%04X ' "$port")
        grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
    done
    echo "$port"
}

# Until umbrad has said N times that both TLS listeners listen (the log
# keeps earlier starts), and the ports answer. The log first: a published
# port may accept before the container does.
wait_ready() {
    local n=$1 deadline=$(($(date +%s) + 30)) port
    until [ "$(ctr logs "$name" 2>&1 | grep -c 'listening: https')" -ge "$n" ] &&
        [ "$(ctr logs "$name" 2>&1 | grep -c 'listening: mqtts')" -ge "$n" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "umbrad did not listen within 30 s"
        [ "$(ctr inspect --format '{{.State.Running}}' "$name")" = true ] ||
            fail "the container stopped"
        sleep 0.2
    done
    for port in "$mqtts_port" "$https_port"; do
        until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
            [ "$(date +%s)" -lt "$deadline" ] || fail "nothing answers on 127.0.0.1:$port"
            sleep 0.2
        done
    done
}

ctl() {
    timeout 30 "${CTR[@]}" exec "$name" umbractl "$@"
}

# Stop with SIGTERM: umbrad must exit 0, well before the engine's SIGKILL.
stop_container() {
    local t0 t1 code
    t0=$(date +%s%N)
    ctr stop -t 10 "$name" >/dev/null
    t1=$(date +%s%N)
    code=$(ctr inspect --format '{{.State.ExitCode}}' "$name")
    echo "stopped in $(((t1 - t0) / 1000000)) ms, exit status $code"
    [ "$code" = 0 ] || fail "umbrad exited with $code after SIGTERM"
    [ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "umbrad took 10 s or more to stop"
}

# A QoS 1 publish and its delivery over mutual TLS, with the device's certificate.
mqtt_tls() {
    printf '%s\n' -h localhost -p "$mqtts_port" --cafile "$work/ca.pem" \
        --cert "$work/device.pem.crt" --key "$work/private.pem.key"
}

step "build $tag ($ENGINE)"
ensure_base_image
ctr images -a -q --no-trunc | sort -u >"$work/images.before"
build_image "$tag" >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log" >&2
    fail "the image does not build"
}
size=$(ctr image inspect --format '{{.Size}}' "$tag")

mqtts_port=$(free_port)
https_port=$(free_port)
while [ "$https_port" = "$mqtts_port" ]; do https_port=$(free_port); done
metrics_port=$(free_port)
while [ "$metrics_port" = "$mqtts_port" ] || [ "$metrics_port" = "$https_port" ]; do
    metrics_port=$(free_port)
done
mapfile -t run_flags < <(ctr_run_flags)
if [ "$ENGINE" = podman ]; then
    # Host networking: the ports go to umbrad through its environment, on
    # loopback only.
    run_flags+=(-e "UMBRA_MQTTS=127.0.0.1:$mqtts_port" -e "UMBRA_HTTPS=127.0.0.1:$https_port"
        -e "UMBRA_METRICS=127.0.0.1:$metrics_port" --no-healthcheck)
else
    run_flags+=(-p "127.0.0.1:$mqtts_port:8883" -p "127.0.0.1:$https_port:8443")
fi

step "run $name with volume $volume (mqtts $mqtts_port, https $https_port)"
ctr volume create "$volume" >/dev/null
ctr run -d --name "$name" "${run_flags[@]}" -e UMBRA_HOSTNAMES=localhost,127.0.0.1 \
    -v "$volume:/var/lib/umbra" "$tag" >/dev/null
wait_ready 1

step "register a thing, a certificate and a policy with umbractl in the container"
ctl create-thing --thing-name ImageSensor >/dev/null
cert_json=$(ctl create-keys-and-certificate --set-as-active \
    --certificate-pem-outfile device.pem.crt --private-key-outfile private.pem.key)
arn=$(printf '%s\n' "$cert_json" | sed -n 's/.*"certificateArn": "\([^"]*\)".*/\1/p')
cert_id=${arn##*/}
[ -n "$cert_id" ] || fail "no certificateArn in: $cert_json"
ctl attach-thing-principal --thing-name ImageSensor --principal "$arn"
ctl create-policy --policy-name ImageSensor-Policy --policy-document \
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}' \
    >/dev/null
ctl attach-policy --policy-name ImageSensor-Policy --target "$arn"
# The outfiles went to the working directory, umbra's home; the CA comes
# from get-root-ca, as a user without a shell in the container gets it.
ctr exec "$name" cat device.pem.crt >"$work/device.pem.crt"
ctr exec "$name" cat private.pem.key >"$work/private.pem.key"
ctl get-root-ca >"$work/ca.pem"
grep -q "BEGIN CERTIFICATE" "$work/ca.pem" || fail "get-root-ca printed no certificate"
mapfile -t tls < <(mqtt_tls)

step "publish and subscribe over mutual TLS"
timeout 20 mosquitto_sub "${tls[@]}" -i ImageSensor-sub -t sensors/image -C 1 -W 15 \
    >"$work/received" &
sub_pid=$!
# Until the subscriber has it: its subscription takes a moment to be made.
for _ in $(seq 30); do
    kill -0 "$sub_pid" 2>/dev/null || break
    timeout 20 mosquitto_pub "${tls[@]}" -i ImageSensor -t sensors/image -m '{"motion": 1}' -q 1
    sleep 0.5
done
wait "$sub_pid" || fail "mosquitto_sub received nothing"
sub_pid=
[ "$(cat "$work/received")" = '{"motion": 1}' ] || fail "received '$(cat "$work/received")'"
timeout 20 mosquitto_pub "${tls[@]}" -i ImageSensor -t sensors/image/last -m kept -q 1 -r

step "update and get the shadow over HTTPS"
https() {
    timeout 20 curl -sS --fail-with-body --cacert "$work/ca.pem" --cert "$work/device.pem.crt" \
        --key "$work/private.pem.key" "$@"
}
https -X POST -d '{"state": {"reported": {"motion": 1}}}' \
    "https://localhost:$https_port/things/ImageSensor/shadow" >/dev/null
https "https://localhost:$https_port/things/ImageSensor/shadow" | grep -q '"motion":1' ||
    fail "the shadow does not hold the update"

step "health"
# The metrics listener is on by default (loopback, inside the container):
# the image's HEALTHCHECK depends on it.
ctr exec "$name" test -f /var/lib/umbra/metrics-url ||
    fail "umbrad wrote no /var/lib/umbra/metrics-url"
health=$(ctl health) || fail "umbractl health failed: $health"
[ "$health" = ok ] || fail "umbractl health said '$health', not ok"
ctr exec "$name" cat /var/lib/umbra/metrics-url | grep -q '^http://127\.0\.0\.1:[0-9]*/metrics$' ||
    fail "metrics-url is not the loopback listener"

step "restart"
stop_container
ctr start "$name" >/dev/null
wait_ready 2
ctl describe-thing --thing-name ImageSensor | grep -q '"thingName": "ImageSensor"' ||
    fail "the thing is gone"
ctl describe-certificate --certificate-id "$cert_id" | grep -q '"status": "ACTIVE"' ||
    fail "the certificate is gone or not ACTIVE"
retained=$(timeout 20 mosquitto_sub "${tls[@]}" -i ImageSensor-sub -t sensors/image/last -C 1 -W 10) ||
    fail "no retained message after the restart"
[ "$retained" = kept ] || fail "retained message '$retained'"
https "https://localhost:$https_port/things/ImageSensor/shadow" | grep -q '"motion":1' ||
    fail "the shadow is gone"

step "stop"
stop_container

echo "test-image: ok: image $(awk -v s="$size" 'BEGIN {printf "%.1f MB", s / 1e6}') ($ENGINE), $(($(date +%s) - started)) s"
