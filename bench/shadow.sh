#!/bin/sh
# bench/shadow.sh - device shadow updates per second through umbrad, and how
# long an update takes to be accepted (which, in umbrad, means committed).
#
#   sh bench/shadow.sh BUILD_DIR [RESULTS.md]
#
# Scenarios, each on a fresh data directory, 1,000 things (bench-0000 ..
# bench-0999), updates of {"state":{"reported":{"seq":N}}}:
#   1 client, window 10     one connection keeps 10 updates in flight (AWS
#                           allows 10 unacknowledged shadow requests per
#                           connection)
#   100 clients, window 10  100 connections, 10 things each, 1,000 in flight
#   100 clients, window 1   each device waits for its accepted before the next
# for each persist_sync mode given in SYNC (default "normal": committed to the
# OS, survives a killed daemon; "full" also fsyncs). The broker is pinned to
# CPU 1 and BUILD_DIR/umbra-shadowgen to CPU 0. Prints one line per run and a
# Markdown table into RESULTS.md. Everything listens on 127.0.0.1; every
# process started here is stopped on exit. Environment:
#   ROUNDS=N        runs per scenario (3; QUICK=1: 1), the median is reported
#   WARMUP=S DURATION=S   seconds per run (1 and 5; QUICK=1: 1 and 2)
#   SYNC="normal full"    persist_sync modes to run
set -eu

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: sh bench/shadow.sh BUILD_DIR [RESULTS.md]" >&2; exit 2; }
build=$1
out_md=${2:-}
if [ "${QUICK:-0}" = 1 ]; then
    rounds=${ROUNDS:-1} warmup=${WARMUP:-1} duration=${DURATION:-2}
else
    rounds=${ROUNDS:-3} warmup=${WARMUP:-1} duration=${DURATION:-5}
fi
syncs=${SYNC:-normal}
umbrad=$build/umbrad
gen=$build/umbra-shadowgen
for f in "$umbrad" "$gen"; do
    [ -x "$f" ] || { echo "bench: $f missing (make $f)" >&2; exit 1; }
done
pin_broker="" pin_gen=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_broker="taskset -c 1" pin_gen="taskset -c 0"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/umbra-shadow-bench.XXXXXX")
broker_pid=""
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run SYNC CLIENTS WINDOW: one JSON line
run() {
    rm -rf "$work/data"
    port=$(free_port)
    # shellcheck disable=SC2086
    $pin_broker "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$port" --mqtts off --https off \
        --persist-sync "$1" --sys-interval 1 --max-subscriptions 2000 --log-level warn >"$work/broker.log" 2>&1 &
    broker_pid=$!
    i=0
    until /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { cat "$work/broker.log" >&2; exit 1; }
        sleep 0.05
    done
    # shellcheck disable=SC2086
    line=$($pin_gen "$gen" --port "$port" --clients "$2" --window "$3" --things 1000 \
        --warmup "$warmup" --duration "$duration" --pid "$broker_pid") || {
        echo "bench: shadowgen failed" >&2; cat "$work/broker.log" >&2; exit 1; }
    kill "$broker_pid"; wait "$broker_pid" || { echo "bench: umbrad exited with $?" >&2; exit 1; }
    broker_pid=""
    echo "$line"
}

field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

{
    echo "| persist_sync | clients | window | updates/s | p50 ms | p99 ms | broker CPU | commits/s | updates per commit |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
} >"$work/table.md"
for sync in $syncs; do
    for scenario in "1 10" "100 10" "100 1"; do
        set -- $scenario
        : >"$work/runs"
        r=0
        while [ $r -lt "$rounds" ]; do
            line=$(run "$sync" "$1" "$2")
            echo "$sync $1x$2: $line"
            echo "$line" >>"$work/runs"
            r=$((r + 1))
        done
        m() { while read -r l; do field "$l" "$1"; done <"$work/runs" | median; }
        printf '| %s | %s | %s | %.0f | %.2f | %.2f | %.0f %% | %.0f | %.1f |\n' "$sync" "$1" "$2" \
            "$(m updates_per_sec)" "$(m p50_ms)" "$(m p99_ms)" "$(m broker_cpu_pct)" \
            "$(m commits_per_sec)" "$(m updates_per_commit)" >>"$work/table.md"
    done
done
echo
cat "$work/table.md"
[ -z "$out_md" ] || cp "$work/table.md" "$out_md"
