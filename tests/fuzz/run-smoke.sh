#!/bin/sh
# CTest's fuzz.<name>: runs one libFuzzer target for a fixed number of executions over a copy
# of its seed corpus (the repo is never written), with a fixed seed so a CI failure replays.
# A crashing input is kept in $BERTH_FUZZ_ARTIFACTS (default ./fuzz-artifacts of the build
# directory) for `fuzz_<name> <file>` to reproduce.
# Usage: run-smoke.sh <target binary> <corpus dir> <runs> <max_len>
set -eu
bin=$1 corpus=$2 runs=$3 max_len=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-fuzz.XXXXXX")
# Temp dirs a target makes (fuzz_services' stores) go with the rest.
export TMPDIR="$work"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
cp "$corpus"/* "$work/corpus/"
rc=0
"$bin" -runs="$runs" -max_len="$max_len" -seed="${BERTH_FUZZ_SEED:-1}" \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" || rc=$?
if [ "$rc" -ne 0 ]; then
    keep=${BERTH_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
    mkdir -p "$keep"
    cp "$work/artifacts/"* "$keep/" 2>/dev/null || true
    echo "fuzz target failed (exit $rc); reproducer(s) in $keep" >&2
fi
exit "$rc"
