#!/bin/sh
# Run each libFuzzer target for a bounded time on its seed corpus.
# Usage: fuzz/run.sh SECONDS BIN...   A crash, leak or timeout fails the run.
set -u
secs=$1; shift
fail=0; n=0
for bin in "$@"; do
    name=$(basename "$bin")
    seeds="fuzz/corpus/${name#fuzz_}"
    work="build/fuzz/corpus-$name"
    mkdir -p "$work"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
    n=$((n + 1))
    if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix=build/fuzz/ "$work" >"build/fuzz/$name.log" 2>&1; then
        echo "fuzz: $name ok ($(grep -c . "build/fuzz/$name.log") log lines, $(tail -1 "build/fuzz/$name.log" | tr -s ' '))"
    else
        echo "fuzz: $name FAILED, see build/fuzz/$name.log"; tail -40 "build/fuzz/$name.log"; fail=$((fail + 1))
    fi
done
echo "fuzz: $n targets run for ${secs}s each, $fail failed"
[ "$fail" -eq 0 ]
