#!/usr/bin/env bash
# Side-by-side benchmark: umbrad against Debian's mosquitto, same machine, same run.
#
#   sh bench/run.sh BUILD_DIR [RESULTS.md]      (make bench does this)
#   QUICK=1     shorter runs (about a minute in all)
#   ROUNDS=N    rounds per scenario and broker (median reported; default 3, QUICK 1)
#   BROKERS="umbrad mosquitto"   which brokers to run
#
# The broker runs pinned to CPU 1, the load generator to CPU 0. Brokers
# alternate within each round. Everything listens on 127.0.0.1 only and
# every process started here is stopped on exit.
set -eu
build=${1:-build/release}
out_md=${2:-}
quick=${QUICK:-0}
rounds=${ROUNDS:-$([ "$quick" = 1 ] && echo 1 || echo 3)}
brokers=${BROKERS:-"umbrad mosquitto"}
dur=$([ "$quick" = 1 ] && echo 3 || echo 8)
warm=$([ "$quick" = 1 ] && echo 1 || echo 2)
idle_n=${IDLE_CONNECTIONS:-10000}
loadgen="$build/umbra-loadgen"
umbrad="$build/umbrad"
work=$(mktemp -d /tmp/umbra-bench-XXXXXX)
pid=""

cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
command -v mosquitto >/dev/null || { echo "bench: mosquitto is not installed (make deps-bench)"; exit 1; }
[ -x "$loadgen" ] && [ -x "$umbrad" ] || { echo "bench: build $build first"; exit 1; }

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_broker() { # name port
    case $1 in
    umbrad)
        rm -rf "$work/data"
        taskset -c 1 "$umbrad" --data-dir "$work/data" --mqtt "127.0.0.1:$2" --sys-interval 0 \
            --log-level warn --max-connections 100000 2>"$work/umbrad.log" &
        ;;
    mosquitto)
        cat >"$work/mosquitto.conf" <<CONF
listener $2 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 100
max_queued_messages 1000
log_dest none
CONF
        taskset -c 1 mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
        ;;
    esac
    pid=$!
    for _ in $(seq 100); do
        /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: $1 did not start"; cat "$work/$1.log"; exit 1
}

stop_broker() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# run_one broker scenario -> appends "broker scenario json cpu% rss_kb" to $work/results
run_one() {
    port=$(free_port)
    start_broker "$1" "$port"
    sleep 0.3
    rss0=$(rss_kb "$pid")
    if [ "$2" = idle ]; then
        fifo="$work/fifo"; rm -f "$fifo"; mkfifo "$fifo"
        taskset -c 0 "$loadgen" --port "$port" --scenario idle --connections "$idle_n" --hold 3 >"$fifo" &
        lg=$!
        json=""
        while read -r line; do
            case $line in
            READY*) sleep 1; rss1=$(rss_kb "$pid") ;;
            "{"*) json=$line ;;
            esac
        done <"$fifo"
        wait "$lg" || true
        kb=$(awk -v a="$rss0" -v b="${rss1:-0}" -v n="$idle_n" 'BEGIN {printf "%.3f", (b - a) / n}')
        echo "$1 $2 $json 0 ${rss1:-0} $kb" >>"$work/results"
    else
        t0=$(cpu_ticks "$pid"); s0=$(date +%s.%N)
        json=$(taskset -c 0 timeout 120 "$loadgen" --port "$port" --scenario "$2" --duration "$dur" --warmup "$warm")
        t1=$(cpu_ticks "$pid"); s1=$(date +%s.%N)
        rss1=$(rss_kb "$pid")
        cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$(getconf CLK_TCK)" \
            'BEGIN {printf "%.0f", 100 * (b - a) / hz / (e - s)}')
        echo "$1 $2 $json $cpu $rss1 -" >>"$work/results"
    fi
    stop_broker
}

: >"$work/results"
for round in $(seq "$rounds"); do
    for scenario in ${SCENARIOS:-fanin fanout qos1 idle}; do
        for b in $brokers; do
            echo "bench: round $round, $scenario, $b" >&2
            run_one "$b" "$scenario"
        done
    done
done

mosq_version=$(mosquitto -h 2>&1 | head -1 | sed 's/^mosquitto version //;s/ .*//')
/usr/bin/python3 - "$work/results" "$mosq_version" "$out_md" "$dur" "$idle_n" <<'PY'
import json, statistics, sys
path, mver, out_md, dur, idle_n = sys.argv[1:6]
runs = {}
for line in open(path):
    parts = line.split(" ", 2)
    broker, scen, rest = parts
    j, cpu, rss, kb = rest.rsplit(" ", 3)
    d = json.loads(j) if j.startswith("{") else {}
    d.update(cpu=float(cpu), rss=int(rss), kb=None if kb.strip() == "-" else float(kb))
    runs.setdefault((scen, broker), []).append(d)

def med(scen, broker, key):
    vals = [r[key] for r in runs.get((scen, broker), []) if r.get(key) is not None]
    return statistics.median(vals) if vals else None

rows = []
names = {"fanin": "QoS 0 fan-in, 8 publishers -> 1 subscriber (msg/s delivered)",
         "fanout": "QoS 0 fan-out, 1 publisher -> 50 subscribers (deliveries/s)",
         "qos1": "QoS 1, 8 publishers (window 100) -> 1 subscriber (msg/s delivered)"}
def fmt(v, unit=""):
    if v is None: return "-"
    if isinstance(v, float) and v < 100: return "%.2f%s" % (v, unit)
    return "{:,.0f}{}".format(v, unit)
def ratio(a, b, higher_is_better=True):
    if not a or not b: return "-"
    return "%.2f" % (a / b if higher_is_better else b / a)
for scen in ("fanin", "fanout", "qos1"):
    u, m = med(scen, "umbrad", "msgs_per_sec"), med(scen, "mosquitto", "msgs_per_sec")
    rows.append((names[scen], fmt(u), fmt(m), ratio(u, m)))
    for key, label, unit in (("p50_us", "p50 latency", " us"), ("p99_us", "p99 latency", " us"),
                             ("cpu", "broker CPU", " %"), ("rss", "broker RSS", " KB")):
        u, m = med(scen, "umbrad", key), med(scen, "mosquitto", key)
        rows.append(("  " + label, fmt(u, unit), fmt(m, unit), ratio(u, m, False)))
u, m = med("idle", "umbrad", "kb"), med("idle", "mosquitto", "kb")
rows.append(("Idle connections: RSS per connection (%s connections)" % idle_n,
             fmt(u, " KB"), fmt(m, " KB"), ratio(u, m, False)))
head = ("scenario", "umbrad", "mosquitto " + mver, "ratio (>1: umbrad better)")
w = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
line = lambda r: "  ".join(r[i].ljust(w[i]) for i in range(4))
print(line(head)); print("  ".join("-" * x for x in w))
for r in rows: print(line(r))
if out_md:
    with open(out_md, "w") as f:
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * 4 + "\n")
        for r in rows: f.write("| " + " | ".join(x.strip() for x in r) + " |\n")
PY
