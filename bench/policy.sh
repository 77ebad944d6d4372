#!/bin/sh
# bench/policy.sh - what authorization costs: QoS 0 fan-in through umbrad with
# an allow-all policy and with a realistic one (policy variables, wildcards,
# a Deny, a condition), over TLS with device certificates and on the plain
# listener.
#
#   sh bench/policy.sh BUILD_DIR [RESULTS.md]
#
# One data directory holds umbrad's CA and server key, one ACTIVE P-256
# device certificate (umbractl create-keys-and-certificate) and two policies,
# "allow-all" and "realistic", attached to nothing. Every run starts umbrad
# fresh on a copy of it:
#   tls/allow-all, tls/realistic   exactly that policy attached to the
#       certificate; BUILD_DIR/umbra-tlsgen --mode fanin: 8 publishers
#       (client ids bench-pub-0..7, topic bench/<client id>/data) and one
#       subscriber (bench-sub, filter bench/+/data), all over TLS;
#   plain/none, plain/allow-all, plain/realistic   BUILD_DIR/umbra-loadgen
#       --scenario fanin on the plain listener, umbrad without --mqtt-policy
#       or with --mqtt-policy FILE (the realistic document adapted to
#       loadgen's client ids loadgen-PID-N and its topic bench/load/topic).
# The order of the runs changes every round. The broker is pinned to CPU 1
# and the generator to CPU 0. Prints a table of medians and the ratio
# realistic / allow-all; RESULTS.md gets it in Markdown. Everything listens
# on 127.0.0.1; every process started here is stopped on exit. Environment:
#   QUICK=1            1 round of short runs (about 30 s)
#   ROUNDS=N           rounds (default 3, QUICK 1)
#   WARMUP=S DURATION=S DRAIN=S   seconds per run (2, 5 and 3; QUICK 1, 2 and 2)
#   PUBLISHERS=N       fan-in publishers (8)
#   PAYLOAD=BYTES      payload size (128)
#   PLAIN=0            TLS runs only
#   CHECK=0            skip the check that the realistic policy denies what it should
#   RAW=FILE           also keep every run's JSON line
#   QUIET_WAIT=S       longest wait before each run for the CPUs to go idle (60, QUICK 10)
#   QUIET_BUDGET=S     longest such waiting over the whole run (120, QUICK 20)
#   NOISY_PCT=P        CPU % used by other processes that makes a run NOISY (25)
#   RATE=R             pace the TLS publishers at R msgs/s in all (umbra-tlsgen --rate):
#                      below saturation the broker's CPU per message is what compares
#                      the policies ("msgs/s per broker core"); unpaced, QoS 0 floods
#                      end in congestion collapse now and then (docs/benchmarks.md)
set -eu

usage() { echo "usage: sh bench/policy.sh BUILD_DIR [RESULTS.md]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
out_md=${2:-}
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
    rounds=${ROUNDS:-1} warmup=${WARMUP:-1} duration=${DURATION:-2} drain=${DRAIN:-2}
    quiet_wait=${QUIET_WAIT:-10} quiet_budget=${QUIET_BUDGET:-20}
else
    rounds=${ROUNDS:-3} warmup=${WARMUP:-2} duration=${DURATION:-5} drain=${DRAIN:-3}
    quiet_wait=${QUIET_WAIT:-60} quiet_budget=${QUIET_BUDGET:-120}
fi
publishers=${PUBLISHERS:-8}
payload=${PAYLOAD:-128}
with_plain=${PLAIN:-1}
rate=${RATE:-}
check=${CHECK:-1}
noisy=${NOISY_PCT:-25}
tlsgen=$build/umbra-tlsgen
loadgen=$build/umbra-loadgen
umbrad=$build/umbrad
umbractl=$build/umbractl

work=$(mktemp -d "${TMPDIR:-/tmp}/umbra-policy-bench.XXXXXX")
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

bins="$umbrad $umbractl $tlsgen"
[ "$with_plain" = 1 ] && bins="$bins $loadgen"
for f in $bins; do
    [ -x "$f" ] || { echo "bench: $f missing (make -j2 all)" >&2; exit 1; }
done
if ! "$umbractl" --help 2>&1 | grep -q attach-policy; then
    echo "bench: this umbractl has no policy commands" >&2
    exit 1
fi

# Run copies, so a rebuild during the run cannot mix two versions.
mkdir "$work/bin"
for f in $bins; do cp "$f" "$work/bin/"; done
umbrad=$work/bin/umbrad umbractl=$work/bin/umbractl tlsgen=$work/bin/umbra-tlsgen
loadgen=$work/bin/umbra-loadgen

if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_broker="taskset -c 1" pin_gen="taskset -c 0"
else
    pin_broker="" pin_gen=""
    echo "bench: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

umbrad_version=$("$umbrad" --version 2>&1 | head -1)
# The commit of the tree BUILD_DIR is in ("-dirty": with uncommitted changes).
commit=$(git -C "$build" describe --always --dirty 2>/dev/null || true)
[ -n "$commit" ] && umbrad_version="$umbrad_version ($commit)"
mbedtls_version=$(dpkg-query -W -f '${Version}' libmbedtls-dev 2>/dev/null || true)

# ---- the policies -------------------------------------------------------------

allow_all='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}'
# What a fleet's policy looks like: a client may connect under its own id
# prefix from an allowed network, publish only below its own client id,
# subscribe and receive below bench/, and never publish to an admin topic.
# shellcheck disable=SC2016 # ${iot:ClientId} is the policy's variable
realistic='{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/bench-*",
  "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/${iot:ClientId}/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/bench/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/bench/*"},
 {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/*/admin"}]}'
# The same for umbra-loadgen on the plain listener: its client ids are
# loadgen-PID-N and every publisher uses bench/load/topic, so the Publish
# grant names that subtree; the ${iot:ClientId} statement stays (it is
# evaluated, and matches nothing).
# shellcheck disable=SC2016
realistic_plain='{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/loadgen-*",
  "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/${iot:ClientId}/*"},
 {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/load/*"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/bench/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/bench/*"},
 {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/bench/*/admin"}]}'
printf '%s\n' "$allow_all" >"$work/allow-all.json"
printf '%s\n' "$realistic_plain" >"$work/realistic-plain.json"

# ---- PKI and registry: one umbrad start makes the CA and the server key ------

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
[ -s "$pki/ca.pem" ] || { echo "bench: umbrad made no $pki/ca.pem" >&2; exit 1; }
"$umbractl" --data-dir "$pki" create-keys-and-certificate --set-as-active --key-type ec \
    --certificate-pem-outfile "$work/dev.pem" --private-key-outfile "$work/dev.key" \
    >"$work/dev.json" || { echo "bench: umbractl could not make the certificate" >&2; exit 1; }
cert_arn=$(sed -n 's/.*"certificateArn": *"\([^"]*\)".*/\1/p' "$work/dev.json")
[ -n "$cert_arn" ] || { echo "bench: no certificateArn in umbractl's answer" >&2; exit 1; }
"$umbractl" --data-dir "$pki" create-policy --policy-name allow-all \
    --policy-document "$allow_all" >/dev/null ||
    { echo "bench: umbractl could not create the allow-all policy" >&2; exit 1; }
"$umbractl" --data-dir "$pki" create-policy --policy-name realistic \
    --policy-document "$realistic" >/dev/null ||
    { echo "bench: umbractl could not create the realistic policy" >&2; exit 1; }

# ---- brokers ------------------------------------------------------------------

# A fresh copy of the data directory with exactly one policy attached (none
# for the plain runs, whose policy comes from --mqtt-policy).
prepare_data() { # policy name or ""
    rm -rf "$work/data"
    cp -R "$pki" "$work/data"
    if [ -n "$1" ]; then
        "$umbractl" --data-dir "$work/data" attach-policy --policy-name "$1" \
            --target "$cert_arn" >/dev/null ||
            { echo "bench: umbractl could not attach $1 to $cert_arn" >&2; exit 1; }
    fi
}

start_broker() { # [--mqtt-policy FILE]: sets broker_pid, plain_port and tls_port
    plain_port=$("$tlsgen" --free-port)
    tls_port=$("$tlsgen" --free-port)
    # shellcheck disable=SC2086
    $pin_broker "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$plain_port" \
        --mqtts "127.0.0.1:$tls_port" --https off --sys-interval 0 --log-level warn "$@" \
        >"$work/broker.log" 2>&1 &
    broker_pid=$!
    if ! "$tlsgen" --port "$tls_port" --probe 10 || ! "$tlsgen" --port "$plain_port" --probe 10; then
        echo "bench: umbrad did not start listening:" >&2
        tail -5 "$work/broker.log" >&2
        exit 1
    fi
}

# Stop the broker; note it when it died on its own or exited with an error.
stop_broker() {
    if ! alive "$broker_pid"; then
        echo "bench: umbrad died during the run; last log lines:" >&2
        tail -5 "$work/broker.log" >&2
    fi
    term_or_kill "$broker_pid" || echo "bench: umbrad ignored SIGTERM for 10 s: killed" >&2
    sb_rc=0
    wait "$broker_pid" || sb_rc=$?
    [ "$sb_rc" = 0 ] || echo "bench: umbrad exited with status $sb_rc" >&2
    broker_pid=""
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

# Run a generator under timeout in the background, so that the EXIT trap can
# stop it; sets rc and json.
run_gen() { # limit command...
    rg_limit=$1
    shift
    # shellcheck disable=SC2086
    timeout -k 5 "$rg_limit" $pin_gen "$@" >"$work/run.out" 2>"$work/run.err" &
    gen_pid=$!
    rc=0
    wait "$gen_pid" || rc=$?
    gen_pid=""
    json=$(grep '^{' "$work/run.out" | tail -1 || true)
    [ -n "$json" ] || json='{"errors":1}'
}

tls_args() {
    echo "--mode fanin --port $tls_port --pid $broker_pid --ca $work/data/ca.pem" \
        "--cert $work/dev.pem --key $work/dev.key --publishers $publishers --payload $payload" \
        ${rate:+--rate $rate}
}

run_one() { # kind round; kind: tls/allow-all tls/realistic plain/none plain/allow-all plain/realistic
    kind=$1 r=$2
    limit=$((warmup + duration + drain + 40))
    case $kind in
    tls/*)
        prepare_data "${kind#tls/}"
        wait_quiet
        start_broker
        # shellcheck disable=SC2046
        run_gen "$limit" "$tlsgen" $(tls_args) --warmup "$warmup" --duration "$duration" \
            --drain "$drain"
        ;;
    plain/*)
        prepare_data ""
        wait_quiet
        case $kind in
        plain/none) start_broker ;;
        plain/allow-all) start_broker --mqtt-policy "$work/allow-all.json" ;;
        plain/realistic) start_broker --mqtt-policy "$work/realistic-plain.json" ;;
        esac
        run_gen "$limit" "$loadgen" --port "$plain_port" --scenario fanin \
            --broker-pid "$broker_pid" --publishers "$publishers" --payload "$payload" \
            --warmup "$warmup" --duration "$duration" --drain "$drain"
        ;;
    esac
    stop_broker
    {
        sed "s|^|  [$kind] |" "$work/run.err"
        [ "$rc" = 0 ] || echo "  [$kind] generator exit status $rc (1: errors, 124: timeout)"
        head -3 "$work/broker.log" | sed "s|^|  [$kind] broker: |"
    } >&2
    echo "$kind $r $json" >>"$work/results"
    [ -n "${RAW:-}" ] && echo "$kind $r $json" >>"$RAW"
    echo "$json" | awk -v k="$kind" -v r="$r" -v noisy="$noisy" '
        function j(key,   m) { if (!match($0, "\"" key "\":[^,}]*")) return "-"
                               m = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
                               gsub(/"/, "", m); return m }
        { gen = j("gen_cpu_pct"); if (gen == "-") gen = j("loadgen_cpu_pct")
          printf "  round %s %-16s %s msgs/s received (sent %s/s), broker cpu %s%%, generator cpu %s%%, p99 %s us, errors %s\n",
                 r, k, j("msgs_per_sec"), j("sent_per_sec"), j("broker_cpu_pct"), gen, j("p99_us"), j("errors")
          other = j("host_busy_pct") - j("broker_cpu_pct") - gen
          if (j("host_busy_pct") != "-" && other > noisy)
              printf "  round %s %-16s NOISY: other processes used %.0f%% of a CPU\n", r, k, other }' >&2
}

# The realistic policy must refuse what it does not grant, or the benchmark
# would measure nothing: a publish to an admin topic (the Deny) closes the
# publisher; a client id outside bench-* is refused at CONNECT.
check_realistic() {
    prepare_data realistic
    start_broker
    # shellcheck disable=SC2046
    run_gen 30 "$tlsgen" $(tls_args) --warmup 0 --duration 1 --drain 1 --publishers 1 \
        --topic-pattern 'bench/%c/admin'
    ok=1
    if [ "$rc" = 1 ] && grep -q -e "publisher closed by the broker" -e "publisher read" -e "write PUBLISH" "$work/run.err"; then
        echo "  check: publish to bench/bench-pub-0/admin denied: the connection was closed" >&2
    else
        echo "bench: the realistic policy did not deny bench/bench-pub-0/admin (rc $rc):" >&2
        ok=0
    fi
    # shellcheck disable=SC2046
    run_gen 30 "$tlsgen" $(tls_args) --warmup 0 --duration 1 --drain 1 --publishers 1 \
        --client-prefix other-
    if [ "$rc" = 1 ] && grep -q -e "CONNACK refused" -e "before CONNACK" "$work/run.err"; then
        echo "  check: client id other-sub refused at CONNECT" >&2
    else
        echo "bench: the realistic policy did not refuse client id other-sub (rc $rc):" >&2
        ok=0
    fi
    stop_broker
    if [ $ok = 0 ]; then
        sed 's/^/  /' "$work/run.err" >&2
        exit 1
    fi
}

# ---- main ---------------------------------------------------------------------

tls_kinds="tls/allow-all tls/realistic"
plain_kinds="plain/none plain/allow-all plain/realistic"
[ "$with_plain" = 1 ] || plain_kinds=""
echo "bench: $rounds round(s) of: $tls_kinds $plain_kinds" >&2
[ "$check" = 1 ] && check_realistic
: >"$work/results"
for round in $(seq "$rounds"); do
    # rotate the order every round, so that no configuration always goes first
    case $((round % 3)) in
    1) order="$tls_kinds $plain_kinds" ;;
    2) order="tls/realistic tls/allow-all"
       [ -n "$plain_kinds" ] && order="$order plain/realistic plain/none plain/allow-all" ;;
    0) order="${plain_kinds:+plain/allow-all plain/realistic plain/none }tls/allow-all tls/realistic" ;;
    esac
    for kind in $order; do
        run_one "$kind" "$round"
    done
done

# ---- table --------------------------------------------------------------------

table() { # md: 1 for Markdown
    awk -v md="$1" -v noisy="$noisy" '
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
        return s unit (star ? " *" : "")
    }
    function cell(k, key, unit,   v) {
        v = median(k SUBSEP key); s = fmt(v, unit); if (star) starred = 1
        return s
    }
    function ratio(a, b, key,   x, y) {
        x = median(a SUBSEP key); y = median(b SUBSEP key)
        if (x == "" || y == "" || y + 0 <= 0) return "-"
        return sprintf("%.3f", x / y)
    }
    function addrow(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10) {
        nrows++; C[nrows, 1] = c1; C[nrows, 2] = c2; C[nrows, 3] = c3; C[nrows, 4] = c4
        C[nrows, 5] = c5; C[nrows, 6] = c6; C[nrows, 7] = c7; C[nrows, 8] = c8; C[nrows, 9] = c9
        C[nrows, 10] = c10
    }
    function kindrow(k, listener, policy,   e) {
        if (!cnt[k SUBSEP "errors"]) return
        e = maxof(k SUBSEP "errors")
        addrow(listener, policy, cell(k, "msgs_per_sec", ""), cell(k, "sent_per_sec", ""),
               cell(k, "broker_cpu_pct", " %"), cell(k, "gen_cpu_pct", " %"),
               cell(k, "p99_us", " us"), e == "" ? "-" : e, (cntq[k SUBSEP "errors"] + 0) "/" cnt[k SUBSEP "errors"],
               cell(k, "capacity_per_core", ""))
    }
    function ratiorow(listener, a, b) {
        if (!cnt[a SUBSEP "errors"] || !cnt[b SUBSEP "errors"]) return
        addrow(listener, "**realistic / allow-all**", "**" ratio(a, b, "msgs_per_sec") "**",
               ratio(a, b, "sent_per_sec"), ratio(a, b, "broker_cpu_pct"), "",
               ratio(a, b, "p99_us"), "", "", "**" ratio(a, b, "capacity_per_core") "**")
    }
    # Ratio of the two configurations within each round: the noise shows.
    function rounds_ratio(a, b,   r, s) {
        s = ""
        for (r = 1; r <= maxr; r++)
            if ((a, r) in rate && (b, r) in rate && rate[b, r] > 0)
                s = s sprintf(" %.3f", rate[a, r] / rate[b, r])
        return s
    }
    {
        k = $1; r = $2; line = $0; sub(/^[^ ]+ [^ ]+ /, "", line)
        if (r + 0 > maxr) maxr = r + 0
        gen = j(line, "gen_cpu_pct"); if (gen == "") gen = j(line, "loadgen_cpu_pct")
        h = j(line, "host_busy_pct"); quiet = 1
        if (h != "") {
            other = h - j(line, "broker_cpu_pct") - gen
            if (other > max_other) max_other = other
            quiet = other <= noisy
        }
        rate[k, r] = j(line, "msgs_per_sec") + 0
        n = split("msgs_per_sec sent_per_sec broker_cpu_pct gen_cpu_pct p99_us errors capacity_per_core", keys, " ")
        for (i = 1; i <= n; i++) {
            v = keys[i] == "gen_cpu_pct" ? gen : j(line, keys[i]); if (v == "") continue
            key = k SUBSEP keys[i]; cnt[key]++; val[key, cnt[key]] = v
            if (quiet) { cntq[key]++; valq[key, cntq[key]] = v }
        }
    }
    END {
        kindrow("tls/allow-all", "TLS", "allow-all")
        kindrow("tls/realistic", "TLS", "realistic")
        ratiorow("TLS", "tls/realistic", "tls/allow-all")
        kindrow("plain/none", "plain", "none (no --mqtt-policy)")
        kindrow("plain/allow-all", "plain", "allow-all")
        kindrow("plain/realistic", "plain", "realistic")
        ratiorow("plain", "plain/realistic", "plain/allow-all")
        split("listener|policy|msgs/s received|sent/s|broker CPU|generator CPU|p99 latency|errors (max)|quiet runs / runs|msgs/s per broker core", H, "|")
        if (md) {
            printf "|"; for (c = 1; c <= 10; c++) printf " %s |", H[c]; printf "\n"
            printf "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
            for (i = 1; i <= nrows; i++) {
                printf "|"; for (c = 1; c <= 10; c++) printf " %s |", C[i, c]; printf "\n"
            }
        } else {
            for (c = 1; c <= 10; c++) w[c] = length(H[c])
            for (i = 1; i <= nrows; i++)
                for (c = 1; c <= 10; c++) {
                    gsub(/\*\*/, "", C[i, c])
                    if (length(C[i, c]) > w[c]) w[c] = length(C[i, c])
                }
            for (c = 1; c <= 10; c++) printf (c <= 2 ? "%-" : "%") w[c] "s%s", H[c], c < 10 ? "  " : "\n"
            for (i = 1; i <= nrows; i++)
                for (c = 1; c <= 10; c++) printf (c <= 2 ? "%-" : "%") w[c] "s%s", C[i, c], c < 10 ? "  " : "\n"
        }
        printf "%sRatio realistic / allow-all of msgs/s in each round: TLS%s", md ? "\n" : "",
            rounds_ratio("tls/realistic", "tls/allow-all")
        if (cnt["plain/realistic" SUBSEP "errors"])
            printf "; plain%s", rounds_ratio("plain/realistic", "plain/allow-all")
        printf ".\n"
        printf "%sMedians are over the quiet runs, in which other processes used at most %d %% of a CPU",
            md ? "\n" : "", noisy
        printf "%s\n", starred ? "; * marks medians over all runs because none was quiet." : "."
        printf "%sCPU used by other processes during a measured window: at most %.0f %% of one core.\n",
            md ? "\n" : "", max_other
    }' "$work/results"
}

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
header="$(date -u +%Y-%m-%d) | $cpu_model, $(getconf _NPROCESSORS_ONLN) CPUs | Linux $(uname -r) | $umbrad_version (mbedTLS $mbedtls_version) | QoS 0 fan-in, $publishers publishers -> 1 subscriber, $payload-byte payload | $rounds round(s), ${warmup} s warm-up + ${duration} s measured, medians"
echo
echo "$header"
table 0
if [ -n "$out_md" ]; then
    {
        echo "$header"
        echo
        table 1
        echo
        echo "TLS: umbra-tlsgen --mode fanin, every client with the same P-256 device certificate,"
        echo "to which exactly one policy is attached. Plain: umbra-loadgen --scenario fanin,"
        echo "umbrad with no --mqtt-policy, or --mqtt-policy with the allow-all or the realistic"
        echo "document. CPU is % of one core over the measured window; the broker is pinned to"
        echo "one core and the generator to the other. Latency is end to end (send time in the"
        echo "payload) and, under this flood, mostly time spent in socket buffers."
        echo
        echo "Realistic policy (TLS):"
        echo
        echo '```json'
        printf '%s\n' "$realistic"
        echo '```'
    } >"$out_md"
    echo "bench: table written to $out_md" >&2
fi
