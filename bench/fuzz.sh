#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Long fuzzing runs of every libFuzzer target in tests/fuzz (the CTest fuzz.* runs are short
# smoke runs of the same binaries). Builds them when needed (CC=clang, BERTH_FUZZ=ON), keeps
# a growing corpus per target under WORK (seeded from tests/fuzz/corpus/<name>, which is
# never written), and prints one table line per target:
#   target | executions | exec/s | corpus size | crashes
# A crash, leak, sanitizer report or failed check ends that target's libFuzzer run; the run is
# restarted for the rest of its time and the reproducers stay in WORK/<name>/crashes/ (replay
# one with `<build>/fuzz/fuzz_<name> <file>`).
# Env: SECONDS_PER_TARGET (default 60) or RUNS (executions per target, instead of a time),
# JOBS (targets run at once, default 1), TARGETS (space-separated names, default all),
# BUILD (build dir, default build-fuzz), WORK (default /var/tmp/berth-fuzz; kept between
# runs so corpora keep growing), SEED (libFuzzer -seed, default time-based).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=${BUILD:-$SRC/build-fuzz}
WORK=${WORK:-/var/tmp/berth-fuzz}
JOBS=${JOBS:-1}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
RUNS=${RUNS:-}

# name -> max_len, from the berth_fuzz_target() lines of tests/fuzz/CMakeLists.txt
declare -A MAX_LEN
while read -r name len; do
    MAX_LEN[$name]=$len
done < <(sed -n 's/^berth_fuzz_target(\([a-z0-9_]*\) .*MAX_LEN \([0-9]*\).*/\1 \2/p' \
    "$SRC/tests/fuzz/CMakeLists.txt")
if [ -z "${TARGETS:-}" ]; then
    TARGETS=$(printf '%s\n' "${!MAX_LEN[@]}" | sort | tr '\n' ' ')
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    CC=clang cmake -S "$SRC" -B "$BUILD" -DBERTH_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target berth_fuzz >/dev/null

# run_target NAME: fuzzes until its time (or RUNS) is used up, restarting after each finding;
# writes "<executions> <seconds> <crashes>" to WORK/NAME/result.
run_target() {
    local name=$1 dir=$WORK/$1 bin=$BUILD/fuzz/fuzz_$1
    local start now left execs=0 crashes before n limit
    mkdir -p "$dir/corpus" "$dir/crashes" "$dir/tmp"
    # what a target makes in TMPDIR (fuzz_services' stores) stays in its dir, even after a crash
    export TMPDIR=$dir/tmp
    before=$(find "$dir/crashes" -type f | wc -l)
    start=$(date +%s)
    while :; do
        now=$(date +%s)
        if [ -n "$RUNS" ]; then
            left=$((RUNS - execs))
            limit=(-runs="$left")
        else
            left=$((SECONDS_PER_TARGET - (now - start)))
            limit=(-max_total_time="$left")
        fi
        [ "$left" -gt 0 ] || break
        "$bin" "${limit[@]}" -max_len="${MAX_LEN[$name]}" ${SEED:+-seed="$SEED"} \
            -artifact_prefix="$dir/crashes/" -print_final_stats=1 \
            "$dir/corpus" "$SRC/tests/fuzz/corpus/$name" >"$dir/log" 2>&1 || true
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
        execs=$((execs + ${n:-0}))
        cat "$dir/log" >>"$dir/log.all"
        # a run that dies before its first execution would loop forever
        [ "${n:-0}" -gt 0 ] || break
    done
    rm -rf "$dir/tmp"
    crashes=$(($(find "$dir/crashes" -type f | wc -l) - before)) # this run's reproducers
    echo "$execs $(($(date +%s) - start)) $crashes" >"$dir/result"
}

mkdir -p "$WORK"
running=0
for t in $TARGETS; do
    [ -n "${MAX_LEN[$t]:-}" ] || { echo "fuzz.sh: no target \"$t\"" >&2; exit 2; }
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

printf '%-10s | %12s | %8s | %11s | %7s\n' target executions exec/s "corpus size" crashes
printf -- '-----------|--------------|----------|-------------|--------\n'
for t in $TARGETS; do
    read -r execs secs crashes <"$WORK/$t/result"
    files=$(find "$WORK/$t/corpus" -type f | wc -l)
    printf '%-10s | %12s | %8s | %11s | %7s\n' "$t" "$execs" "$((execs / (secs > 0 ? secs : 1)))" \
        "$files" "$crashes"
done
