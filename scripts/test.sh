#!/bin/sh
# Builds berth twice (warnings as errors; ASan+UBSan) and runs every test: the unit tests in
# both builds, the integration tests (real berthd, berthctl and Debian's ctr) in the first.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== format check"
scripts/check-format.sh

echo "== build (-Werror)"
cmake -S . -B build -DBERTH_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

echo "== unit + integration tests"
ctest --test-dir build --output-on-failure -j"$jobs" -L unit
ctest --test-dir build --output-on-failure -L integration

echo "== build (ASan+UBSan) and unit tests"
cmake -S . -B build-asan -DBERTH_WERROR=ON -DBERTH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit
echo "== all tests passed"
