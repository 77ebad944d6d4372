#!/bin/sh
# bench/run.sh - side-by-side benchmark of umbrad and Debian's mosquitto.
#
#   sh bench/run.sh BUILD_DIR [RESULTS.md]         (make bench: BUILD_DIR=build/release)
#
# Each scenario of BUILD_DIR/umbra-loadgen (bench/README.md) runs against a
# fresh broker, alternating brokers, for ROUNDS rounds; the table shows the
# medians. The broker is pinned to CPU 1 and the load generator to CPU 0.
# Everything listens on 127.0.0.1; every process started here is stopped on
# exit. Environment:
#   QUICK=1            1 round of short runs (about a minute)
#   ROUNDS=N           rounds (default 3, QUICK 1)
#   BROKERS="umbrad mosquitto"   the brokers to run (one is fine)
#   SCENARIOS="latency fanin fanout qos1 idle"
#   WARMUP=S DURATION=S DRAIN=S  seconds per load run (default 2, 5, 3)
#   IDLE_CONNECTIONS=N           connections of the idle scenario (10000)
#   RAW=FILE           also keep every run's JSON line, prefixed by broker and round
#   QUIET_WAIT=S       longest wait before each run for the CPUs to go idle (60, QUICK 10)
#   QUIET_BUDGET=S     longest such waiting over the whole run (90, QUICK 20)
#   NOISY_PCT=P        CPU % used by other processes that makes a run NOISY (25)
set -eu

usage() { echo "usage: sh bench/run.sh BUILD_DIR [RESULTS.md]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
out_md=${2:-}
quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
    rounds=${ROUNDS:-1} warmup=${WARMUP:-1} duration=${DURATION:-2} hold=2
    quiet_wait=${QUIET_WAIT:-10} quiet_budget=${QUIET_BUDGET:-20}
else
    rounds=${ROUNDS:-3} warmup=${WARMUP:-2} duration=${DURATION:-5} hold=3
    quiet_wait=${QUIET_WAIT:-60} quiet_budget=${QUIET_BUDGET:-90}
fi
drain=${DRAIN:-3}
brokers=${BROKERS:-umbrad mosquitto}
scenarios=${SCENARIOS:-latency fanin fanout qos1 idle}
idle_n=${IDLE_CONNECTIONS:-10000}
# A run is NOISY when the machine's busy time (/proc/stat) exceeds the broker's plus the
# generator's by more than this % of a CPU. Even alone on the machine the two ways of counting
# disagree by up to ~14 % under the heaviest loads.
noisy=${NOISY_PCT:-25}
loadgen=$build/umbra-loadgen
umbrad=$build/umbrad

work=$(mktemp -d "${TMPDIR:-/tmp}/umbra-bench.XXXXXX")
broker_pid=""
lg_pid=""

# ---- cleanup: stop what we started -----------------------------------------

# alive, term_or_kill, stop_pid
. "$(dirname "$0")/proc.sh"

cleanup() {
    [ -n "$lg_pid" ] && stop_pid "$lg_pid"
    [ -n "$broker_pid" ] && stop_pid "$broker_pid"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- checks -------------------------------------------------------------------

for b in $brokers; do
    case $b in
    umbrad) [ -x "$umbrad" ] || { echo "bench: $umbrad missing (make $umbrad)" >&2; exit 1; } ;;
    mosquitto) command -v mosquitto >/dev/null ||
        { echo "bench: mosquitto missing (sh .ci/install-deps.sh mosquitto)" >&2; exit 1; } ;;
    *) echo "bench: unknown broker '$b'" >&2; exit 2 ;;
    esac
done
[ -x "$loadgen" ] || { echo "bench: $loadgen missing (make $loadgen)" >&2; exit 1; }

# Run copies, so a rebuild during the run cannot mix two versions.
mkdir "$work/bin"
cp "$loadgen" "$work/bin/umbra-loadgen"
loadgen=$work/bin/umbra-loadgen
if [ -x "$umbrad" ]; then
    cp "$umbrad" "$work/bin/umbrad"
    umbrad=$work/bin/umbrad
fi

# Both the generator and the brokers hold one descriptor per idle connection.
# shellcheck disable=SC3045 # dash and bash both have ulimit -H and -n
hard=$(ulimit -Hn 2>/dev/null || echo 1024)
[ "$hard" = unlimited ] && hard=1048576
# shellcheck disable=SC3045
ulimit -n "$hard" 2>/dev/null || hard=$(ulimit -n)
if [ "$hard" -lt $((idle_n + 256)) ]; then
    idle_n=$((hard - 256))
    echo "bench: ulimit -Hn is $hard; idle scenario reduced to $idle_n connections" >&2
fi

if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_broker="taskset -c 1" pin_gen="taskset -c 0"
else
    pin_broker="" pin_gen=""
    echo "bench: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

mosq_version="" umbrad_version=""
if command -v mosquitto >/dev/null; then mosq_version=$(mosquitto -h 2>&1 | head -1); fi
if [ -x "$umbrad" ]; then umbrad_version=$("$umbrad" --version 2>&1 | head -1); fi
# The commit of the tree BUILD_DIR is in ("-dirty": with uncommitted changes).
commit=$(git -C "$build" describe --always --dirty 2>/dev/null || true)
[ -n "$commit" ] && umbrad_version="$umbrad_version ($commit)"

# ---- brokers ------------------------------------------------------------------

start_broker() { # name port
    case $1 in
    umbrad)
        rm -rf "$work/data"
        # shellcheck disable=SC2086
        $pin_broker "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$2" --mqtts off --https off \
            --sys-interval 0 --log-level warn >"$work/broker.log" 2>&1 &
        ;;
    mosquitto)
        cat >"$work/mosquitto.conf" <<EOF
listener $2 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 100
max_queued_messages 1000
max_queued_bytes 16777216
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages false
EOF
        # shellcheck disable=SC2086
        $pin_broker mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
        ;;
    esac
    broker_pid=$!
    if ! "$loadgen" --port "$2" --probe 5; then
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

# ---- one run ------------------------------------------------------------------

busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

# Other people's builds and tests on a 2-CPU machine skew everything: wait
# (up to QUIET_WAIT seconds per run and QUIET_BUDGET in all) until the CPUs
# are nearly idle. Runs that still shared the CPUs are flagged NOISY.
wait_quiet() {
    # (sh has no local variables: these names are used nowhere else)
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

# Broker log lines worth showing (mosquitto's start-up notices are not).
broker_news() {
    grep -v -e 'mosquitto version' -e 'Config loaded' -e 'Opening ipv' -e 'Saving in-memory' \
        "$work/broker.log" | head -3 || true
}

run_one() { # broker scenario round
    b=$1 s=$2 r=$3
    wait_quiet
    port=$("$loadgen" --free-port)
    start_broker "$b" "$port"
    if [ "$s" = idle ]; then
        args="--connections $idle_n --hold $hold"
        limit=$((hold + 180))
    else
        args="--warmup $warmup --duration $duration --drain $drain"
        limit=$((warmup + duration + drain + 90))
    fi
    # shellcheck disable=SC2086
    timeout -k 5 "$limit" $pin_gen "$loadgen" --port "$port" --broker-pid "$broker_pid" \
        --scenario "$s" $args >"$work/run.out" 2>"$work/run.err" &
    lg_pid=$!
    rc=0
    wait "$lg_pid" || rc=$?
    lg_pid=""
    json=$(grep '^{' "$work/run.out" | tail -1 || true)
    [ -n "$json" ] || json='{"errors":1}'
    stop_broker "$b"
    {
        sed "s/^/  [$b $s] /" "$work/run.err"
        [ "$rc" = 0 ] || echo "  [$b $s] load generator exit status $rc (1: errors or lost QoS 1 messages)"
        broker_news | sed "s/^/  [$b $s] broker: /"
    } >&2
    echo "$b $s $r $json" >>"$work/results"
    [ -n "${RAW:-}" ] && echo "$b $r $json" >>"$RAW"
    echo "$json" | awk -v b="$b" -v s="$s" -v r="$r" -v noisy="$noisy" '
        function j(k,   m) { if (!match($0, "\"" k "\":[^,}]*")) return "-"
                             m = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
                             gsub(/"/, "", m); return m }
        { if (s == "idle")
              printf "  round %s %-8s %-9s %s KB/conn, rss %s KB, errors %s\n", r, s, b,
                     j("kb_per_conn"), j("broker_rss_kb"), j("errors")
          else {
              printf "  round %s %-8s %-9s %s msg/s, p50 %s us, p99 %s us, cpu %s%%, lost %s, errors %s\n",
                     r, s, b, j("msgs_per_sec"), j("p50_us"), j("p99_us"), j("broker_cpu_pct"),
                     j("lost"), j("errors")
              other = j("host_busy_pct") - j("broker_cpu_pct") - j("loadgen_cpu_pct")
              if (j("host_busy_pct") != "-" && other > noisy)
                  printf "  round %s %-8s %-9s NOISY: other processes used %.0f%% of a CPU\n", r, s, b, other
          } }' >&2
}

# ---- main ---------------------------------------------------------------------

echo "bench: $rounds round(s) of: $scenarios; brokers: $brokers" >&2
: >"$work/results"
order=$brokers
reversed=$(echo "$brokers" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
for round in $(seq "$rounds"); do
    for s in $scenarios; do
        for b in $order; do
            run_one "$b" "$s" "$round"
        done
    done
    # the other broker goes first next round
    if [ "$order" = "$brokers" ]; then order=$reversed; else order=$brokers; fi
done

# ---- table --------------------------------------------------------------------

table() { # md: 1 for Markdown
    awk -v md="$1" -v mv="${mosq_version#mosquitto version }" -v idle_n="$idle_n" -v noisy="$noisy" '
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
        if (v == "") return "-"
        if (v + 0 >= 100 || v == int(v)) s = group(v)
        else s = sprintf("%.2f", v)
        return s unit
    }
    function ratio(u, m) {
        if (u == "" || m == "" || m + 0 == 0) return "-"
        return sprintf("%.2f", u / m)
    }
    function row(label, u, m, unit, us, ms) {
        nrows++; L[nrows] = label; R[nrows] = ratio(u, m)
        U[nrows] = fmt(u, unit) (us ? " *" : ""); M[nrows] = fmt(m, unit) (ms ? " *" : "")
        if (us || ms) starred = 1
    }
    function metric(s, label, key, unit, agg,   us, ms) {
        star = 0
        u = agg == "max" ? maxof(s SUBSEP "umbrad" SUBSEP key) : median(s SUBSEP "umbrad" SUBSEP key)
        us = star; star = 0
        m = agg == "max" ? maxof(s SUBSEP "mosquitto" SUBSEP key) : median(s SUBSEP "mosquitto" SUBSEP key)
        ms = star
        row(label, u, m, unit, us, ms)
    }
    function rowraw(label, u, m) {
        nrows++; L[nrows] = label; U[nrows] = u; M[nrows] = m; R[nrows] = ""
    }
    function runs(s, b,   k) {
        k = s SUBSEP b SUBSEP "errors"
        return cnt[k] ? (cntq[k] + 0) "/" cnt[k] : "-"
    }
    {
        b = $1; s = $2; line = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", line)
        if (!(s in seen_s)) { seen_s[s] = 1; order[++ns] = s }
        h = j(line, "host_busy_pct"); quiet = 1
        if (h != "") {
            other = h - j(line, "broker_cpu_pct") - j(line, "loadgen_cpu_pct")
            if (other > max_other) max_other = other
            quiet = other <= noisy
        }
        n = split("msgs_per_sec sent_per_sec p50_us p99_us broker_cpu_pct broker_rss_kb lost errors kb_per_conn", keys, " ")
        for (i = 1; i <= n; i++) {
            v = j(line, keys[i]); if (v == "") continue
            key = s SUBSEP b SUBSEP keys[i]; cnt[key]++; val[key, cnt[key]] = v
            if (quiet) { cntq[key]++; valq[key, cntq[key]] = v }
        }
    }
    END {
        title["latency"] = "latency: 1 publisher at 10,000 msg/s -> 1 subscriber, QoS 0"
        title["fanin"] = "fanin: 8 publishers -> 1 subscriber, QoS 0, flood"
        title["fanout"] = "fanout: 1 publisher -> 50 subscribers, QoS 0, flood"
        title["qos1"] = "qos1: 8 publishers (window 100) -> 1 subscriber, QoS 1"
        for (o = 1; o <= ns; o++) {
            s = order[o]
            if (s == "idle") {
                row("idle: " idle_n " connections", "", "", "")
                metric(s, "  KB per idle connection", "kb_per_conn", " KB")
                metric(s, "  broker RSS with them", "broker_rss_kb", " KB")
                metric(s, "  errors (max)", "errors", "", "max")
                continue
            }
            row(title[s] != "" ? title[s] : s, "", "", "")
            metric(s, "  received msg/s" (s == "fanout" ? " (deliveries)" : ""), "msgs_per_sec", "")
            if (s != "latency") metric(s, "  published msg/s", "sent_per_sec", "")
            metric(s, "  latency p50", "p50_us", " us")
            metric(s, "  latency p99", "p99_us", " us")
            metric(s, "  broker CPU", "broker_cpu_pct", " %")
            metric(s, "  broker RSS", "broker_rss_kb", " KB")
            if (s == "qos1") metric(s, "  lost QoS 1 messages (max)", "lost", "", "max")
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
        printf "CPU used by other processes during a measured window: at most %.0f %% of one core.\n",
            max_other
    }' "$work/results"
}

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
header="$(date -u +%Y-%m-%d) | $cpu_model, $(getconf _NPROCESSORS_ONLN) CPUs | Linux $(uname -r) | $umbrad_version | $mosq_version | $rounds round(s), ${warmup} s warm-up + ${duration} s measured, medians"
echo
echo "$header"
table 0
if [ -n "$out_md" ]; then
    {
        echo "$header"
        echo
        table 1
        echo
        echo "Ratios are umbrad divided by mosquitto: above 1 is better for msg/s, below 1 is"
        echo "better for latency, CPU and memory. CPU is % of one core over the measured window."
    } >"$out_md"
    echo "bench: table written to $out_md" >&2
fi
