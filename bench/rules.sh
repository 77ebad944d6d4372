#!/bin/sh
# bench/rules.sh - what the rules engine costs on the publish path: QoS 0
# fan-in (8 publishers -> 1 subscriber, JSON payloads) through
#   none     umbrad without rules,
#   rules10  umbrad with 10 enabled rules, each
#            SELECT * FROM 'bench/#' WHERE temperature > 90
#            with a republish action to out/rN (r1..r10),
#   mosquitto  Debian's mosquitto, the reference (no rules).
#
#   sh bench/rules.sh BUILD_DIR [RESULTS.md]        (make bench-rules)
#
# The payloads are umbra-loadgen --payload-json: {"seq":N,"temperature":T,
# "device":"dev-K",...}, T above 90 in exactly one message in ten, so 10 % of
# the messages match all 10 rules and each of those is republished 10 times
# (nothing subscribes to out/#: a republish costs the rule's SQL, the JSON
# body and routing, not a delivery). Each round runs every configuration
# flooded (publishers as fast as TCP allows), then, unless RATE=0, umbrad's two
# configurations paced at RATE msgs/s in all: below saturation the broker's
# CPU per message is the steady measure of what the rules cost (a QoS 0 flood
# can end in congestion collapse, docs/benchmarks.md). Every run starts its
# broker fresh, on a fresh copy of its data directory; the order of the
# configurations changes every round. The broker is pinned to CPU 1 and the
# generator to CPU 0. Before the rounds, a check publishes one message that
# must match (temperature 95.5) and one that must not (50) and expects exactly
# one republish on each of out/r1..out/r10 (needs mosquitto_sub/_pub; skipped
# without them). Prints a table of medians and the ratio rules10 / none;
# RESULTS.md gets it in Markdown. Everything listens on 127.0.0.1; every
# process started here is stopped on exit. About 2 minutes. Environment:
#   ROUNDS=N           rounds (3), medians over them
#   WARMUP=S DURATION=S DRAIN=S   whole seconds per run (1, 4, 1)
#   RATE=R             paced runs at R msgs/s in all (200000); 0 = no paced runs
#   BROKERS="umbrad mosquitto"    mosquitto may be left out
#   RAW=FILE           also keep every run's JSON line
#   QUIET_WAIT=S       longest wait before each run for the CPUs to go idle (10)
#   QUIET_BUDGET=S     longest such waiting over the whole run (30)
#   NOISY_PCT=P        CPU % used by other processes that makes a run NOISY (25)
set -eu

usage() { echo "usage: sh bench/rules.sh BUILD_DIR [RESULTS.md]" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
out_md=${2:-}
rounds=${ROUNDS:-3} warmup=${WARMUP:-1} duration=${DURATION:-4} drain=${DRAIN:-1}
rate=${RATE:-200000}
brokers=${BROKERS:-umbrad mosquitto}
quiet_wait=${QUIET_WAIT:-10} quiet_budget=${QUIET_BUDGET:-30}
noisy=${NOISY_PCT:-25}
nrules=10
loadgen=$build/umbra-loadgen
umbrad=$build/umbrad
umbractl=$build/umbractl

work=$(mktemp -d "${TMPDIR:-/tmp}/umbra-rules-bench.XXXXXX")
broker_pid=""
gen_pid=""
sub_pid=""

# ---- cleanup: stop what we started -----------------------------------------

# alive, term_or_kill, stop_pid
. "$(dirname "$0")/proc.sh"

cleanup() {
    [ -n "$sub_pid" ] && stop_pid "$sub_pid"
    [ -n "$gen_pid" ] && stop_pid "$gen_pid"
    [ -n "$broker_pid" ] && stop_pid "$broker_pid"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- checks -------------------------------------------------------------------

for f in "$umbrad" "$umbractl" "$loadgen"; do
    [ -x "$f" ] || { echo "bench: $f missing (make -j2 all)" >&2; exit 1; }
done
if ! "$loadgen" --help | grep -q -- --payload-json; then
    echo "bench: this umbra-loadgen has no --payload-json" >&2
    exit 1
fi
case " $brokers " in
*" mosquitto "*)
    command -v mosquitto >/dev/null ||
        { echo "bench: mosquitto missing (sh .ci/install-deps.sh mosquitto)" >&2; exit 1; } ;;
esac

# Run copies, so a rebuild during the run cannot mix two versions.
mkdir "$work/bin"
for f in "$umbrad" "$umbractl" "$loadgen"; do cp "$f" "$work/bin/"; done
umbrad=$work/bin/umbrad umbractl=$work/bin/umbractl loadgen=$work/bin/umbra-loadgen

if [ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] && command -v taskset >/dev/null; then
    pin_broker="taskset -c 1" pin_gen="taskset -c 0"
else
    pin_broker="" pin_gen=""
    echo "bench: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

umbrad_version=$("$umbrad" --version 2>&1 | head -1)
commit=$(git -C "$build" describe --always --dirty 2>/dev/null || true)
[ -n "$commit" ] && umbrad_version="$umbrad_version ($commit)"
mosq_version=""
if command -v mosquitto >/dev/null; then mosq_version=$(mosquitto -h 2>&1 | head -1); fi

# ---- data directories ---------------------------------------------------------

# The rules go into the registry with umbractl before umbrad starts; umbrad
# loads the enabled ones at start-up.
mkdir "$work/rules10"
i=1
while [ $i -le $nrules ]; do
    cat >"$work/rule.json" <<EOF
{"sql":"SELECT * FROM 'bench/#' WHERE temperature > 90","ruleDisabled":false,
 "awsIotSqlVersion":"2016-03-23",
 "actions":[{"republish":{"topic":"out/r$i","qos":0,
   "roleArn":"arn:aws:iam::123456789012:role/umbra-bench"}}]}
EOF
    "$umbractl" --data-dir "$work/rules10" create-topic-rule --rule-name "r$i" \
        --topic-rule-payload "file://$work/rule.json" >/dev/null
    i=$((i + 1))
done
mkdir "$work/none"
n=$("$umbractl" --data-dir "$work/rules10" list-topic-rules | grep -c '"ruleName"' || true)
[ "$n" = "$nrules" ] || { echo "bench: expected $nrules rules, the registry lists $n" >&2; exit 1; }

# ---- brokers ------------------------------------------------------------------

start_broker() { # config port
    case $1 in
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
connection_messages false
EOF
        # shellcheck disable=SC2086
        $pin_broker mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
        ;;
    *)
        rm -rf "$work/data"
        cp -R "$work/$1" "$work/data"
        # shellcheck disable=SC2086
        $pin_broker "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$2" --mqtts off \
            --https off --sys-interval 0 --log-level warn >"$work/broker.log" 2>&1 &
        ;;
    esac
    broker_pid=$!
    if ! "$loadgen" --port "$2" --probe 5; then
        echo "bench: $1 did not start listening:" >&2
        tail -5 "$work/broker.log" >&2
        exit 1
    fi
}

stop_broker() { # config
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

# ---- the rules fire: one republish per rule for a hot message, none for a cold one

check_rules() {
    if ! command -v mosquitto_sub >/dev/null || ! command -v mosquitto_pub >/dev/null; then
        echo "bench: no mosquitto_sub/mosquitto_pub: skipping the check that the rules fire" >&2
        return 0
    fi
    port=$("$loadgen" --free-port)
    start_broker rules10 "$port"
    timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -t 'out/#' -v -W 5 >"$work/check.out" \
        2>"$work/check.err" &
    sub_pid=$!
    sleep 0.5
    mosquitto_pub -h 127.0.0.1 -p "$port" -t bench/check -m '{"seq":1,"temperature":50,"device":"dev-cold"}'
    mosquitto_pub -h 127.0.0.1 -p "$port" -t bench/check -m '{"seq":2,"temperature":95.5,"device":"dev-hot"}'
    sleep 1
    stop_pid "$sub_pid"
    sub_pid=""
    stop_broker rules10
    hot=$(grep -c '"dev-hot"' "$work/check.out" || true)
    cold=$(grep -c '"dev-cold"' "$work/check.out" || true)
    topics=$(awk '{print $1}' "$work/check.out" | sort -u | wc -l)
    if [ "$hot" != "$nrules" ] || [ "$cold" != 0 ] || [ "$topics" != "$nrules" ]; then
        echo "bench: the rules do not fire as expected: $hot republishes of the hot message" \
            "(want $nrules, on $topics distinct topics), $cold of the cold one (want 0):" >&2
        head -20 "$work/check.out" "$work/check.err" >&2
        exit 1
    fi
    echo "bench: check passed: the hot message was republished to out/r1..out/r$nrules, the cold one nowhere" >&2
}

# ---- one run ------------------------------------------------------------------

busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }

wait_quiet() {
    wq_tck=$(getconf CLK_TCK)
    waited=0
    while [ "$waited" -lt "$quiet_wait" ] && [ "$quiet_budget" -gt 0 ]; do
        wq_t0=$(busy_ticks)
        sleep 1
        wq_t1=$(busy_ticks)
        [ $(((wq_t1 - wq_t0) * 100)) -lt $((wq_tck * 15)) ] && break
        waited=$((waited + 1)) quiet_budget=$((quiet_budget - 1))
    done
    [ "$waited" = 0 ] || echo "  (waited ${waited} s for other processes to leave the CPUs)" >&2
}

run_one() { # config mode(flood|paced) round
    cfg=$1 mode=$2 r=$3
    wait_quiet
    port=$("$loadgen" --free-port)
    start_broker "$cfg" "$port"
    args="--warmup $warmup --duration $duration --drain $drain"
    [ "$mode" = paced ] && args="$args --rate $rate"
    # shellcheck disable=SC2086
    timeout -k 5 $((warmup + duration + drain + 60)) $pin_gen "$loadgen" --port "$port" \
        --broker-pid "$broker_pid" --scenario fanin --payload-json $args \
        >"$work/run.out" 2>"$work/run.err" &
    gen_pid=$!
    rc=0
    wait "$gen_pid" || rc=$?
    gen_pid=""
    json=$(grep '^{' "$work/run.out" | tail -1 || true)
    [ -n "$json" ] || json='{"errors":1}'
    stop_broker "$cfg"
    {
        sed "s/^/  [$cfg $mode] /" "$work/run.err"
        [ "$rc" = 0 ] || echo "  [$cfg $mode] load generator exit status $rc"
        head -3 "$work/broker.log" | sed "s/^/  [$cfg $mode] broker: /"
    } >&2
    echo "$cfg $mode $r $json" >>"$work/results"
    [ -n "${RAW:-}" ] && echo "$cfg $mode $r $json" >>"$RAW"
    echo "$json" | awk -v c="$cfg" -v mo="$mode" -v r="$r" -v noisy="$noisy" '
        function j(k,   m) { if (!match($0, "\"" k "\":[^,}]*")) return "-"
                             m = substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
                             gsub(/"/, "", m); return m }
        { printf "  round %s %-9s %-5s received %s msg/s, published %s msg/s, broker cpu %s%%, p99 %s us, errors %s\n",
                 r, c, mo, j("msgs_per_sec"), j("sent_per_sec"), j("broker_cpu_pct"), j("p99_us"), j("errors")
          other = j("host_busy_pct") - j("broker_cpu_pct") - j("loadgen_cpu_pct")
          if (j("host_busy_pct") != "-" && other > noisy)
              printf "  round %s %-9s %-5s NOISY: other processes used %.0f%% of a CPU\n", r, c, mo, other }' >&2
}

# ---- main ---------------------------------------------------------------------

configs="none rules10"
case " $brokers " in *" mosquitto "*) configs="$configs mosquitto" ;; esac
case " $brokers " in
*" umbrad "*) ;;
*) echo "bench: BROKERS must include umbrad" >&2; exit 2 ;;
esac

start_s=$(date +%s)
check_rules
: >"$work/results"
paced_note=""
[ "$rate" = 0 ] || paced_note=", then none and rules10 paced at $rate msgs/s"
echo "bench: $rounds round(s) of: fan-in flood of $configs$paced_note" >&2
rot=$configs
for round in $(seq "$rounds"); do
    for c in $rot; do run_one "$c" flood "$round"; done
    if [ "$rate" != 0 ]; then
        if [ $((round % 2)) = 1 ]; then paced="rules10 none"; else paced="none rules10"; fi
        for c in $paced; do run_one "$c" paced "$round"; done
    fi
    # the first configuration goes last next round
    rot=$(echo "$rot" | awk '{for (i = 2; i <= NF; i++) printf "%s ", $i; print $1}')
done
echo "bench: $(($(date +%s) - start_s)) s" >&2

# ---- table --------------------------------------------------------------------

table() { # md: 1 for Markdown
    awk -v md="$1" -v noisy="$noisy" -v rate="$rate" -v mv="${mosq_version#mosquitto version }" '
    function j(line, k,   m) {
        if (!match(line, "\"" k "\":[^,}]*")) return ""
        m = substr(line, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
        gsub(/"/, "", m); return m
    }
    function median(key,   n, i, k, t, a, q) {
        star = 0
        n = cnt[key]; if (!n) return ""
        q = cntq[key] > 0
        if (q) n = cntq[key]; else star = 1
        for (i = 1; i <= n; i++) a[i] = (q ? valq[key, i] : val[key, i]) + 0
        for (i = 2; i <= n; i++) { t = a[i]; for (k = i - 1; k >= 1 && a[k] > t; k--) a[k + 1] = a[k]; a[k + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function group(n,   s) {
        s = sprintf("%.0f", n)
        while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
        return s
    }
    function add(key, v, quiet) {
        cnt[key]++; val[key, cnt[key]] = v
        if (quiet) { cntq[key]++; valq[key, cntq[key]] = v }
    }
    {
        c = $1; mo = $2; r = $3; line = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", line)
        k = mo SUBSEP c
        h = j(line, "host_busy_pct"); quiet = 1
        if (h != "") {
            other = h - j(line, "broker_cpu_pct") - j(line, "loadgen_cpu_pct")
            if (other > max_other) max_other = other
            quiet = other <= noisy
        }
        runs[k]++; if (quiet) quiets[k]++
        e = j(line, "errors") + 0; if (e > maxerr[k]) maxerr[k] = e
        secs = j(line, "seconds"); sent = j(line, "sent"); cpu = j(line, "broker_cpu_pct")
        add(k SUBSEP "recv", j(line, "msgs_per_sec"), quiet)
        add(k SUBSEP "sent", j(line, "sent_per_sec"), quiet)
        add(k SUBSEP "cpu", cpu, quiet)
        add(k SUBSEP "p99", j(line, "p99_us"), quiet)
        # CPU seconds of the broker per million messages it took in (published)
        if (sent + 0 > 0 && cpu != "") {
            cpm = cpu / 100 * secs / (sent / 1e6)
            add(k SUBSEP "cpm", cpm, quiet)
            per_round[k, r] = cpm
        }
        rr[k, r] = j(line, "msgs_per_sec")
        if (r > maxr) maxr = r
    }
    function label(c) {
        return c == "none" ? "umbrad, no rules" : c == "rules10" ? "umbrad, 10 rules" : "mosquitto " mv ", no rules"
    }
    function emit(a, b, cc, d, e, f, g, hh) {
        if (md) printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", a, b, cc, d, e, f, g, hh
        else printf "%-28s %-15s %13s %13s %10s %11s %9s %10s\n", a, b, cc, d, e, f, g, hh
    }
    END {
        if (md) {
            emit("configuration", "load", "msgs/s received", "msgs/s published", "broker CPU", "CPU s per M msgs", "p99 latency", "quiet/runs")
            print "|---|---|--:|--:|--:|--:|--:|--:|"
        } else emit("configuration", "load", "msgs/s recv", "msgs/s publ", "broker CPU", "CPU s / M", "p99 us", "quiet/runs")
        nk = split("flood none flood rules10 flood mosquitto paced none paced rules10", o, " ") / 2
        for (i = 1; i <= nk; i++) {
            order[i] = o[2 * i - 1] SUBSEP o[2 * i]
            if (!(order[i] in runs)) continue
            split(order[i], p, SUBSEP); mo = p[1]; c = p[2]; k = order[i]
            med[k, "recv"] = median(k SUBSEP "recv"); s = star
            med[k, "sent"] = median(k SUBSEP "sent")
            med[k, "cpu"] = median(k SUBSEP "cpu")
            med[k, "cpm"] = median(k SUBSEP "cpm")
            med[k, "p99"] = median(k SUBSEP "p99")
            emit(label(c), mo == "paced" ? "paced " group(rate) "/s" : "flood",
                 group(med[k, "recv"]) (s ? " *" : ""), group(med[k, "sent"]),
                 sprintf("%.1f %%", med[k, "cpu"]), sprintf("%.3f", med[k, "cpm"]),
                 group(med[k, "p99"]) (md ? " us" : ""), (quiets[k] + 0) "/" runs[k] (maxerr[k] ? " (errors)" : ""))
        }
        print ""
        a = "flood" SUBSEP "none"; b = "flood" SUBSEP "rules10"
        if ((a, "recv") in med && (b, "recv") in med && med[a, "recv"] > 0) {
            fr = med[b, "recv"] / med[a, "recv"]
            printf "%sflood, rules10 / none, msgs/s received: %.3f (per round:", md ? "- " : "", fr
            for (r = 1; r <= maxr; r++) if ((a, r) in rr && rr[a, r] > 0) printf " %.3f", rr[b, r] / rr[a, r]
            printf ")\n"
            printf "%sflood, rules10 / none, msgs/s published (taken in by the broker): %.3f\n",
                md ? "- " : "", med[b, "sent"] / med[a, "sent"]
        }
        a = "paced" SUBSEP "none"; b = "paced" SUBSEP "rules10"
        if ((a, "cpm") in med && (b, "cpm") in med && med[b, "cpm"] > 0) {
            pr = med[a, "cpm"] / med[b, "cpm"]
            printf "%spaced, msgs/s one broker core can carry (1e6 / CPU s per M msgs): none %s, rules10 %s; rules10 / none: %.3f (per round:",
                md ? "- " : "", group(1e6 / med[a, "cpm"]), group(1e6 / med[b, "cpm"]), pr
            for (r = 1; r <= maxr; r++) if ((a, r) in per_round && (b, r) in per_round) printf " %.3f", per_round[a, r] / per_round[b, r]
            printf ")\n"
            printf "%spaced, extra broker CPU per message for 10 rules: %.2f us\n", md ? "- " : "",
                med[b, "cpm"] - med[a, "cpm"]
        }
        verdict = ""
        if (fr != "") verdict = fr >= 0.8 ? "holds" : "does NOT hold"
        if (pr != "") verdict = verdict (verdict != "" ? " (flood)" : "") ", " (pr >= 0.8 ? "holds" : "does NOT hold") " (paced, per broker core)"
        printf "%starget: 10 rules keep at least 80 %% of the no-rule throughput: %s\n", md ? "- " : "", verdict
        printf "%s\nMedians are over the quiet runs (other processes used at most %d %% of a CPU); * marks a median over all runs because none was quiet. CPU used by other processes during a measured window: at most %.0f %% of one core.\n",
            md ? "" : "", noisy, max_other
    }' "$work/results"
}

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
header="$(date -u +%Y-%m-%d) | $cpu_model, $(getconf _NPROCESSORS_ONLN) CPUs | Linux $(uname -r) | $umbrad_version | $mosq_version | QoS 0 fan-in, 8 publishers -> 1 subscriber, 128-byte JSON payloads, 10 % with temperature > 90 | $rounds round(s), ${warmup} s warm-up + ${duration} s measured, medians"
echo
echo "$header"
table 0
if [ -n "$out_md" ]; then
    {
        echo "$header"
        echo
        table 1
        echo
        echo "CPU s per M msgs: the broker's utime+stime (/proc/PID/stat) over the measured window,"
        echo "per million messages the publishers sent in it (which the broker read and ran the rules"
        echo "on), whether or not it delivered them."
    } >"$out_md"
    echo "bench: table written to $out_md" >&2
fi
