#!/bin/sh
# bench/tls.sh - side-by-side MQTT-over-TLS benchmark of umbrad and Debian's mosquitto.
#
#   sh bench/tls.sh BUILD_DIR [RESULTS.md]         (make bench-tls: BUILD_DIR=build/release)
#
# Both brokers use the same server certificate and key (made by umbrad in a
# temporary data directory) and the same device certificates (made by
# umbractl: one RSA 2048, one P-256). For ROUNDS rounds, each broker (the one
# that goes first swaps every round) is started fresh for every run:
# BUILD_DIR/umbra-tlsgen measures full handshakes per second with each key
# type, then the broker memory per idle TLS connection. The table shows the
# medians. The broker is pinned to CPU 1 and the generator to CPU 0.
# Everything listens on 127.0.0.1; every process started here is stopped on
# exit. Environment:
#   QUICK=1            1 round of short runs (about a minute)
#   ROUNDS=N           rounds (default 3, QUICK 1)
#   BROKERS="umbrad mosquitto"   the brokers to run (one is fine)
#   KEYS="rsa2048 p256"          client key types of the handshake runs
#   CONCURRENCY=N      handshakes in flight (32: fewer leave both sides partly idle)
#   WARMUP=S DURATION=S          seconds per handshake run (default 2 and 5; QUICK 1 and 2)
#   IDLE_CONNECTIONS=N idle TLS connections (1000); IDLE_KEY=rsa2048|p256 (p256)
#   CURVES=LIST        ECDHE curves the generator offers, e.g. secp256r1,x25519
#                      (default: mbedTLS's own list, as an mbedTLS device would)
#   RAW=FILE           also keep every run's JSON line
#   QUIET_WAIT=S       longest wait before each run for the CPUs to go idle (60, QUICK 10)
#   QUIET_BUDGET=S     longest such waiting over the whole run (90, QUICK 20)
#   NOISY_PCT=P        CPU % used by other processes that makes a run NOISY (25)
set -eu

usage() { echo "usage: sh bench/tls.sh BUILD_DIR [RESULTS.md]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
out_md=${2:-}
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
    rounds=${ROUNDS:-1} warmup=${WARMUP:-1} duration=${DURATION:-2}
    quiet_wait=${QUIET_WAIT:-10} quiet_budget=${QUIET_BUDGET:-20}
else
    rounds=${ROUNDS:-3} warmup=${WARMUP:-2} duration=${DURATION:-5}
    quiet_wait=${QUIET_WAIT:-60} quiet_budget=${QUIET_BUDGET:-90}
fi
brokers=${BROKERS:-umbrad mosquitto}
keys=${KEYS:-rsa2048 p256}
concurrency=${CONCURRENCY:-32}
idle_n=${IDLE_CONNECTIONS:-1000}
idle_key=${IDLE_KEY:-p256}
hold=${HOLD:-2}
curves=${CURVES:-}
noisy=${NOISY_PCT:-25}
tlsgen=$build/umbra-tlsgen
umbrad=$build/umbrad
umbractl=$build/umbractl

work=$(mktemp -d "${TMPDIR:-/tmp}/umbra-tls-bench.XXXXXX")
broker_pid=""
gen_pid=""

# ---- cleanup: stop what we started -----------------------------------------

# alive, term_or_kill, stop_pid
. "$(dirname "$0")/proc.sh"

cleanup() {
    [ -n "$gen_pid" ] && stop_pid "$gen_pid"
    [ -n "$broker_pid" ] && stop_pid "$broker_pid"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- checks -------------------------------------------------------------------

for f in "$umbrad" "$umbractl" "$tlsgen"; do
    [ -x "$f" ] || { echo "bench: $f missing (make $f)" >&2; exit 1; }
done
for b in $brokers; do
    case $b in
    umbrad) ;;
    mosquitto) command -v mosquitto >/dev/null ||
        { echo "bench: mosquitto missing (sh .ci/install-deps.sh mosquitto)" >&2; exit 1; } ;;
    *) echo "bench: unknown broker '$b'" >&2; exit 2 ;;
    esac
done
for k in $keys $idle_key; do
    case $k in rsa2048 | p256) ;; *) echo "bench: unknown key type '$k'" >&2; exit 2 ;; esac
done

# Run copies, so a rebuild during the run cannot mix two versions.
mkdir "$work/bin"
for f in "$umbrad" "$umbractl" "$tlsgen"; do cp "$f" "$work/bin/"; done
umbrad=$work/bin/umbrad umbractl=$work/bin/umbractl tlsgen=$work/bin/umbra-tlsgen

# Both sides hold one descriptor per idle connection.
# shellcheck disable=SC3045 # dash and bash both have ulimit -H and -n
hard=$(ulimit -Hn 2>/dev/null || echo 1024)
[ "$hard" = unlimited ] && hard=1048576
# shellcheck disable=SC3045
ulimit -n "$hard" 2>/dev/null || hard=$(ulimit -n)
if [ "$hard" -lt $((idle_n + 256)) ]; then
    idle_n=$((hard - 256))
    echo "bench: ulimit -Hn is $hard; idle runs reduced to $idle_n connections" >&2
fi

if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_broker="taskset -c 1" pin_gen="taskset -c 0"
else
    pin_broker="" pin_gen=""
    echo "bench: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

mosq_version="" umbrad_version=""
if command -v mosquitto >/dev/null; then mosq_version=$(mosquitto -h 2>&1 | head -1); fi
umbrad_version=$("$umbrad" --version 2>&1 | head -1)
# The commit of the tree BUILD_DIR is in ("-dirty": with uncommitted changes).
commit=$(git -C "$build" describe --always --dirty 2>/dev/null || true)
[ -n "$commit" ] && umbrad_version="$umbrad_version ($commit)"
openssl_version=$(openssl version 2>/dev/null | awk '{print $1 " " $2}' || true)
mbedtls_version=$(dpkg-query -W -f '${Version}' libmbedtls-dev 2>/dev/null || true)

# ---- PKI: one umbrad start makes the CA and the server certificate ---------------

pki=$work/pki
port1=$("$tlsgen" --free-port)
port2=$("$tlsgen" --free-port)
"$umbrad" --data-dir "$pki" --mqtt "127.0.0.1:$port1" --mqtts "127.0.0.1:$port2" --https off \
    --sys-interval 0 --log-level warn >"$work/pki.log" 2>&1 &
broker_pid=$!
if ! "$tlsgen" --port "$port2" --probe 10; then
    echo "bench: umbrad did not start its TLS listener:" >&2
    tail -5 "$work/pki.log" >&2
    exit 1
fi
stop_pid "$broker_pid"
broker_pid=""
for f in ca.pem server.pem server.key; do
    [ -s "$pki/$f" ] || { echo "bench: umbrad made no $pki/$f" >&2; exit 1; }
done
# As in AWS IoT, a certificate may CONNECT only when an attached policy allows
# iot:Connect: the benchmark's policy allows exactly that (an umbractl without
# policy commands has a broker that does not ask).
with_policy=0
if "$umbractl" --help 2>&1 | grep -q attach-policy; then
    with_policy=1
    "$umbractl" --data-dir "$pki" create-policy --policy-name tls-bench --policy-document \
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}' \
        >/dev/null || { echo "bench: umbractl could not create the policy" >&2; exit 1; }
fi
mkdir "$work/certs"
for k in rsa2048 p256; do
    kt=""
    [ $k = p256 ] && kt="--key-type ec"
    # shellcheck disable=SC2086
    "$umbractl" --data-dir "$pki" create-keys-and-certificate --set-as-active $kt \
        --certificate-pem-outfile "$work/certs/$k.pem" --private-key-outfile "$work/certs/$k.key" \
        >"$work/certs/$k.json" || { echo "bench: umbractl could not make the $k certificate" >&2; exit 1; }
    if [ $with_policy = 1 ]; then
        arn=$(sed -n 's/.*"certificateArn": *"\([^"]*\)".*/\1/p' "$work/certs/$k.json")
        "$umbractl" --data-dir "$pki" attach-policy --policy-name tls-bench --target "$arn" \
            >/dev/null || { echo "bench: umbractl could not attach the policy to $arn" >&2; exit 1; }
    fi
done
server_key=$(openssl pkey -in "$pki/server.key" -noout -text 2>/dev/null | head -1 || true)

# ---- brokers ------------------------------------------------------------------

start_broker() { # name: sets broker_pid and port
    port=$("$tlsgen" --free-port)
    case $1 in
    umbrad)
        rm -rf "$work/data"
        cp -R "$pki" "$work/data" # same CA, server key and registry every run
        plain=$("$tlsgen" --free-port)
        # shellcheck disable=SC2086
        $pin_broker "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$plain" \
            --mqtts "127.0.0.1:$port" --https off --sys-interval 0 --log-level warn >"$work/broker.log" 2>&1 &
        ;;
    mosquitto)
        # "user": as root, mosquitto would switch to the mosquitto user, who
        # cannot read the key in our private temporary directory.
        cat >"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
cafile $pki/ca.pem
certfile $pki/server.pem
keyfile $pki/server.key
require_certificate true
use_identity_as_username true
allow_anonymous true
persistence false
user $(id -un)
log_dest stderr
log_type error
log_type warning
connection_messages false
EOF
        # shellcheck disable=SC2086
        $pin_broker mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
        ;;
    esac
    broker_pid=$!
    if ! "$tlsgen" --port "$port" --probe 10; then
        echo "bench: $1 did not start listening:" >&2
        tail -5 "$work/broker.log" >&2
        exit 1
    fi
}

# Stop the broker; note it when it died on its own or exited with an error.
stop_broker() { # name
    if ! alive "$broker_pid"; then
        echo "bench: $1 died during the run; last log lines:" >&2
        tail -5 "$work/broker.log" >&2
    fi
    term_or_kill "$broker_pid" || echo "bench: $1 ignored SIGTERM for 10 s: killed" >&2
    sb_rc=0
    wait "$broker_pid" || sb_rc=$?
    [ "$sb_rc" = 0 ] || echo "bench: $1 exited with status $sb_rc" >&2
    broker_pid=""
}

# Broker log lines worth showing (mosquitto's warning about root is not).
broker_news() {
    grep -v -e 'should not be run as root' -e 'mosquitto version' -e 'Config loaded' \
        -e 'Opening ipv' "$work/broker.log" | head -3 || true
}

# ---- one run ------------------------------------------------------------------

busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

# Other people's builds and tests on a 2-CPU machine skew everything: wait
# (up to QUIET_WAIT seconds per run and QUIET_BUDGET in all) until the CPUs
# are nearly idle. Runs that still shared the CPUs are flagged NOISY.
wait_quiet() {
    wq_tck=$(getconf CLK_TCK)
    waited=0
    while [ "$waited" -lt "$quiet_wait" ] && [ "$quiet_budget" -gt 0 ]; do
        wq_t0=$(busy_ticks)
        sleep 1
        wq_t1=$(busy_ticks)
        # below 15 % of one core over that second
        [ $(((wq_t1 - wq_t0) * 100)) -lt $((wq_tck * 15)) ] && break
        waited=$((waited + 1)) quiet_budget=$((quiet_budget - 1))
    done
    if [ "$waited" -gt 0 ]; then
        echo "  (waited ${waited} s for other processes to leave the CPUs)" >&2
    fi
}

run_one() { # broker kind round; kind: hs-KEY or idle
    b=$1 kind=$2 r=$3
    wait_quiet
    start_broker "$b"
    if [ "$kind" = idle ]; then
        key=$idle_key
        args="--mode idle --connections $idle_n --hold $hold"
        limit=$((hold + 150))
    else
        key=${kind#hs-}
        args="--mode handshake --concurrency $concurrency --warmup $warmup --duration $duration"
        limit=$((warmup + duration + 40))
    fi
    [ -n "$curves" ] && args="$args --curves $curves"
    # shellcheck disable=SC2086
    timeout -k 5 "$limit" $pin_gen "$tlsgen" --port "$port" --pid "$broker_pid" \
        --ca "$pki/ca.pem" --cert "$work/certs/$key.pem" --key "$work/certs/$key.key" \
        $args >"$work/run.out" 2>"$work/run.err" &
    gen_pid=$!
    rc=0
    wait "$gen_pid" || rc=$?
    gen_pid=""
    json=$(grep '^{' "$work/run.out" | tail -1 || true)
    [ -n "$json" ] || json='{"errors":1}'
    stop_broker "$b"
    {
        sed "s/^/  [$b $kind] /" "$work/run.err"
        [ "$rc" = 0 ] || echo "  [$b $kind] generator exit status $rc (1: errors, 124: timeout)"
        broker_news | sed "s/^/  [$b $kind] broker: /"
    } >&2
    echo "$b $kind $r $json" >>"$work/results"
    [ -n "${RAW:-}" ] && echo "$b $kind $r $json" >>"$RAW"
    echo "$json" | awk -v b="$b" -v k="$kind" -v r="$r" -v noisy="$noisy" '
        function j(key,   m) { if (!match($0, "\"" key "\":[^,}]*")) return "-"
                               m = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
                               gsub(/"/, "", m); return m }
        { if (k == "idle")
              printf "  round %s %-12s %-9s %s KB/conn, rss %s KB, %s/%s connected, errors %s\n",
                     r, k, b, j("kb_per_conn"), j("broker_rss_kb"), j("held"), j("connections"),
                     j("errors")
          else {
              printf "  round %s %-12s %-9s %s handshakes/s, broker cpu %s%% (%s ms each), generator cpu %s%%, %s, errors %s\n",
                     r, k, b, j("handshakes_per_sec"), j("broker_cpu_pct"),
                     j("broker_cpu_ms_per_handshake"), j("gen_cpu_pct"), j("curve"), j("errors")
              other = j("host_busy_pct") - j("broker_cpu_pct") - j("gen_cpu_pct")
              if (j("host_busy_pct") != "-" && other > noisy)
                  printf "  round %s %-12s %-9s NOISY: other processes used %.0f%% of a CPU\n", r, k, b, other
          } }' >&2
}

# ---- main ---------------------------------------------------------------------

kinds=""
for k in $keys; do kinds="$kinds hs-$k"; done
kinds="$kinds idle"
echo "bench: $rounds round(s) of:$kinds; brokers: $brokers" >&2
: >"$work/results"
order=$brokers
reversed=$(echo "$brokers" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
for round in $(seq "$rounds"); do
    for b in $order; do
        for kind in $kinds; do
            run_one "$b" "$kind" "$round"
        done
    done
    # the other broker goes first next round
    if [ "$order" = "$brokers" ]; then order=$reversed; else order=$brokers; fi
done

# ---- table --------------------------------------------------------------------

table() { # md: 1 for Markdown
    awk -v md="$1" -v mv="${mosq_version#mosquitto version }" -v idle_n="$idle_n" \
        -v idle_key="$idle_key" -v noisy="$noisy" -v conc="$concurrency" '
    function j(line, k,   m) {
        if (!match(line, "\"" k "\":[^,}]*")) return ""
        m = substr(line, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
        gsub(/"/, "", m); return m
    }
    # Median over the quiet runs, or over all runs (setting star) when none was quiet.
    function median(key,   n, i, k, t, a, q) {
        star = 0
        n = cnt[key]; if (!n) return ""
        q = cntq[key] > 0
        if (q) n = cntq[key]; else star = 1
        for (i = 1; i <= n; i++) a[i] = (q ? valq[key, i] : val[key, i]) + 0
        for (i = 2; i <= n; i++) { t = a[i]; for (k = i - 1; k >= 1 && a[k] > t; k--) a[k + 1] = a[k]; a[k + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function maxof(key,   n, i, m) {
        n = cnt[key]; if (!n) return ""
        m = val[key, 1] + 0
        for (i = 2; i <= n; i++) if (val[key, i] + 0 > m) m = val[key, i] + 0
        return m
    }
    function group(n,   s, neg) { # 1234567 -> 1,234,567
        s = sprintf("%.0f", n); neg = ""
        if (s ~ /^-/) { neg = "-"; s = substr(s, 2) }
        while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
        return neg s
    }
    function fmt(v, unit,   s) {
        if (v == "" || v + 0 < 0) return "-"
        if (v + 0 >= 100 || v == int(v)) s = group(v)
        else if (v + 0 >= 10) s = sprintf("%.1f", v)
        else s = sprintf("%.2f", v)
        return s unit
    }
    function ratio(u, m) {
        if (u == "" || m == "" || u + 0 < 0 || m + 0 <= 0) return "-"
        return sprintf("%.2f", u / m)
    }
    function row(label, u, m, unit, us, ms, um, mm) {
        nrows++; L[nrows] = label; R[nrows] = ratio(u, m)
        U[nrows] = fmt(u, unit) (us ? " *" : "") um; M[nrows] = fmt(m, unit) (ms ? " *" : "") mm
        if (us || ms) starred = 1
    }
    # mark: a key whose median at or above 85 marks the cell with "+"
    function metric(s, label, key, unit, agg, mark,   us, ms, um, mm) {
        star = 0
        u = agg == "max" ? maxof(s SUBSEP "umbrad" SUBSEP key) : median(s SUBSEP "umbrad" SUBSEP key)
        us = star; star = 0
        m = agg == "max" ? maxof(s SUBSEP "mosquitto" SUBSEP key) : median(s SUBSEP "mosquitto" SUBSEP key)
        ms = star
        um = mm = ""
        if (mark != "") {
            if (median(s SUBSEP "umbrad" SUBSEP mark) >= 85) { um = " +"; marked = 1 }
            if (median(s SUBSEP "mosquitto" SUBSEP mark) >= 85) { mm = " +"; marked = 1 }
        }
        row(label, u, m, unit, us, ms, um, mm)
    }
    function rowraw(label, u, m) {
        nrows++; L[nrows] = label; U[nrows] = u; M[nrows] = m; R[nrows] = ""
    }
    function text(s, b, k,   v) { v = txt[s SUBSEP b SUBSEP k]; return v == "" ? "-" : v }
    function runs(s, b,   k) {
        k = s SUBSEP b SUBSEP "errors"
        return cnt[k] ? (cntq[k] + 0) "/" cnt[k] : "-"
    }
    {
        b = $1; s = $2; line = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", line)
        if (!(s in seen_s)) { seen_s[s] = 1; order[++ns] = s }
        h = j(line, "host_busy_pct"); quiet = 1
        if (h != "") {
            other = h - j(line, "broker_cpu_pct") - j(line, "gen_cpu_pct")
            if (other > max_other) max_other = other
            quiet = other <= noisy
        }
        n = split("handshakes_per_sec p50_ms p99_ms broker_cpu_pct broker_cpu_ms_per_handshake gen_cpu_pct gen_cpu_ms_per_handshake kb_per_conn broker_rss_kb errors", keys, " ")
        for (i = 1; i <= n; i++) {
            v = j(line, keys[i]); if (v == "") continue
            key = s SUBSEP b SUBSEP keys[i]; cnt[key]++; val[key, cnt[key]] = v
            if (quiet) { cntq[key]++; valq[key, cntq[key]] = v }
        }
        # the negotiated parameters, as seen in the first run that has them
        v = j(line, "curve"); w = j(line, "suite")
        if (v != "" && v != "?" && txt[s SUBSEP b SUBSEP "tls"] == "")
            txt[s SUBSEP b SUBSEP "tls"] = w ", " v
    }
    END {
        kname["hs-rsa2048"] = "RSA 2048"; kname["hs-p256"] = "P-256"
        kname["rsa2048"] = "RSA 2048"; kname["p256"] = "P-256"
        for (o = 1; o <= ns; o++) {
            s = order[o]
            if (s == "idle") {
                row("idle: " idle_n " TLS connections, " kname[idle_key] " client certificates", "", "", "")
                metric(s, "  KB per idle TLS connection", "kb_per_conn", " KB")
                metric(s, "  broker RSS with them", "broker_rss_kb", " KB")
                metric(s, "  broker CPU per connection setup", "broker_cpu_ms_per_handshake", " ms")
                metric(s, "  errors (max)", "errors", "", "max")
                rowraw("  runs", runs(s, "umbrad"), runs(s, "mosquitto"))
                continue
            }
            row("handshakes, " kname[s] " client certificate, " conc " in flight", "", "", "")
            metric(s, "  handshakes/s", "handshakes_per_sec", "", "", "gen_cpu_pct")
            metric(s, "  broker CPU", "broker_cpu_pct", " %")
            metric(s, "  broker CPU per handshake", "broker_cpu_ms_per_handshake", " ms")
            metric(s, "  generator CPU", "gen_cpu_pct", " %")
            metric(s, "  generator CPU per handshake", "gen_cpu_ms_per_handshake", " ms")
            metric(s, "  connect to CONNACK p50", "p50_ms", " ms")
            metric(s, "  connect to CONNACK p99", "p99_ms", " ms")
            rowraw("  negotiated", text(s, "umbrad", "tls"), text(s, "mosquitto", "tls"))
            metric(s, "  errors (max)", "errors", "", "max")
            rowraw("  quiet runs / runs", runs(s, "umbrad"), runs(s, "mosquitto"))
        }
        h1 = "scenario"; h2 = "umbrad"; h3 = "mosquitto" (mv != "" ? " " mv : ""); h4 = "umbrad/mosquitto"
        if (md) {
            printf "| %s | %s | %s | %s |\n|---|--:|--:|--:|\n", h1, h2, h3, h4
            for (i = 1; i <= nrows; i++) {
                lab = L[i]; if (lab ~ /^  /) sub(/^  /, "\\&nbsp;\\&nbsp;", lab); else lab = "**" lab "**"
                if (U[i] == "-" && M[i] == "-" && L[i] !~ /^  /) printf "| %s | | | |\n", lab
                else printf "| %s | %s | %s | %s |\n", lab, U[i], M[i], R[i]
            }
        } else {
            w1 = length(h1); w2 = length(h2); w3 = length(h3)
            for (i = 1; i <= nrows; i++) {
                if (length(L[i]) > w1) w1 = length(L[i])
                if (length(U[i]) > w2) w2 = length(U[i])
                if (length(M[i]) > w3) w3 = length(M[i])
            }
            printf "%-" w1 "s  %" w2 "s  %" w3 "s  %s\n", h1, h2, h3, h4
            for (i = 1; i <= nrows; i++)
                if (U[i] == "-" && M[i] == "-" && L[i] !~ /^  /) printf "%s\n", L[i]
                else printf "%-" w1 "s  %" w2 "s  %" w3 "s  %" length(h4) "s\n", L[i], U[i], M[i], R[i]
        }
        printf "%sMedians are over the quiet runs, in which other processes used at most %d %% of a CPU",
            md ? "\n" : "", noisy
        printf "%s\n", starred ? "; * marks medians over all runs because none was quiet." : "."
        if (marked)
            printf "+ marks a rate set by the generator: its median CPU was 85 %% or more of its core.\n"
        printf "CPU used by other processes during a measured window: at most %.0f %% of one core.\n",
            max_other
    }' "$work/results"
}

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
header="$(date -u +%Y-%m-%d) | $cpu_model, $(getconf _NPROCESSORS_ONLN) CPUs | Linux $(uname -r) | $umbrad_version (mbedTLS $mbedtls_version) | $mosq_version ($openssl_version) | server key: $server_key | $rounds round(s), ${warmup} s warm-up + ${duration} s measured, medians"
echo
echo "$header"
table 0
if [ -n "$out_md" ]; then
    {
        echo "$header"
        echo
        table 1
        echo
        echo "Ratios are umbrad divided by mosquitto: above 1 is better for handshakes/s, below 1"
        echo "is better for CPU and memory. CPU is % of one core over the measured window. The"
        echo "generator is one mbedTLS client thread on the other core; when it is saturated (+),"
        echo "broker CPU per handshake is the figure that compares the brokers."
    } >"$out_md"
    echo "bench: table written to $out_md" >&2
fi
