#!/bin/sh
# Builds berth twice (warnings as errors; ASan+UBSan) and runs every test: the unit tests in
# both builds, the integration tests (real berthd, berthctl and Debian's ctr) in the first, and
# the shim, run, CRI-log, CRI and CRI streaming integration tests again with the sanitized
# berthd and berth-shim (the CRI tests pull from a local registry, so the puller runs there
# too; pull.bats itself runs once, to keep the suite within its time budget). Then builds the
# libFuzzer targets with clang (a third, partial build) and gives each a short run.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== format check"
scripts/check-format.sh

echo "== build (-Werror)"
cmake -S . -B build -DBERTH_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

# The sanitized and fuzz builds compile while the integration tests run, at the lowest CPU
# priority: those tests mostly wait (daemons, containers, registries), and the two builds would
# otherwise add minutes of wall time to the suite.
echo "== build (ASan+UBSan; clang fuzz targets) in the background, nice 19"
cmake -S . -B build-asan -DBERTH_WERROR=ON -DBERTH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
CC=clang cmake -S . -B build-fuzz -DBERTH_WERROR=ON -DBERTH_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
bg_log=$(mktemp)
(nice -n 19 cmake --build build-asan -j"$jobs" &&
    nice -n 19 cmake --build build-fuzz -j"$jobs" --target berth_fuzz) >"$bg_log" 2>&1 &
bg=$!

echo "== unit + integration tests"
ctest --test-dir build --output-on-failure -j"$jobs" -L unit
ctest --test-dir build --output-on-failure -L integration

echo "== ASan+UBSan unit tests"
if ! wait "$bg"; then
    cat "$bg_log" >&2
    echo "the sanitized or fuzz build failed (above)" >&2
    exit 1
fi
rm -f "$bg_log"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

# cristream runs once, in the stage above: the 25-minute budget; its parsers (SPDY, HTTP,
# WebSocket) run sanitized in the fuzz stage
echo "== sanitized berthd and berth-shim through the shim, run, crilog and cri tests"
# The shim's stderr is its log FIFO, so reports go to files; any file fails the run. Leak
# checks included: berthd, berthctl and every shim that is shut down check theirs at exit.
san_logs=$(mktemp -d)
ASAN_OPTIONS="detect_leaks=1:log_path=$san_logs/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$san_logs/ubsan" \
    ctest --test-dir build-asan --output-on-failure -R '^integration\.(shim|run|crilog|cri)$'
if [ -n "$(ls -A "$san_logs")" ]; then
    cat "$san_logs"/* >&2
    echo "sanitizer reports above" >&2
    exit 1
fi
rm -rf "$san_logs"

echo "== fuzz smoke runs (clang, libFuzzer+ASan+UBSan)"
# Only the fuzz targets and the libraries they link (built above); each target runs a fixed
# number of executions over a copy of its seed corpus (tests/fuzz/CMakeLists.txt).
ctest --test-dir build-fuzz --output-on-failure -j"$jobs" -L fuzz
echo "== all tests passed"
