#!/bin/sh
# Run each cmocka unit-test binary; print one summary line; fail if any failed.
pass=0; fail=0; failed=""
for t in "$@"; do
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $(basename "$t")"; fi
done
echo "unit: $pass test programs passed, $fail failed${failed:+ ($failed )}"
[ "$fail" -eq 0 ]
