#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Load (issue 14): CLIENTS concurrent clients of mixed containerd API calls for DURATION
# seconds against berthd, then against Debian's containerd, both running side by side in one
# run (default configurations, CRI on, private roots and sockets under one temp dir). The
# clients are berth-bench-metadata --op mixed (bench/metadata/mixed.c): each its own
# connection with one call out at a time, choosing from containers Get/List(filter)/Update/
# Create+Delete, a Get of a missing id, namespaces/images/tasks List, Version, content Info and
# snapshot Stat of missing objects, lease Create+Delete. Every call's gRPC code is counted per
# kind; the misses expect NotFound and are listed apart from unexpected codes.
# Prints a table: calls and p50/p99 latency per kind for both daemons, then each daemon's
# anonymous RSS, RSS, threads and fds idle (SETTLE s after start), at the peak of the run
# (sampled every 0.2 s) and SETTLE s after it, and a targets line: no unexpected code, and
# berthd after the load within issue 13's targets (anonymous RSS <= 10 MiB, threads <= 16).
# A benchmark: nothing is asserted on time. Unix sockets only; nothing on the network.
#
# Env: BERTH_BIN (dir with berthd and berth-bench-metadata; <repo>/build/bin), CONTAINERD
#      (/usr/bin/containerd; ONLY=berthd skips it), CLIENTS (200), DURATION (60 s), PRELOAD
#      (100 containers the reads target), SETTLE (15 s: berthd's idle workers end after 10 s),
#      TMPBASE (/var/tmp), KEEP=1 keeps the temp dir (logs are kept after a failure anyway).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # stop_daemon
repo=$(cd "$here/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CLIENTS=${CLIENTS:-200}
DURATION=${DURATION:-60}
PRELOAD=${PRELOAD:-100}
SETTLE=${SETTLE:-15}
TMPBASE=${TMPBASE:-/var/tmp}
DAEMONS=${ONLY:-berthd containerd}
LOADGEN=$BERTH_BIN/berth-bench-metadata

for f in "$BERTH_BIN/berthd" "$LOADGEN"; do
    [ -x "$f" ] || { echo "load.sh: $f not found or not executable" >&2; exit 1; }
done
if [[ " $DAEMONS " = *" containerd "* ]]; then
    [ -x "$CONTAINERD" ] || { echo "load.sh: $CONTAINERD not found (ONLY=berthd skips it)" >&2; exit 1; }
    command -v ctr >/dev/null || { echo "load.sh: ctr (Debian package containerd) not found" >&2; exit 1; }
fi
# every client holds a connection; the loader needs a descriptor for each
[ "$(ulimit -n)" -gt $((CLIENTS + 64)) ] || ulimit -n $((CLIENTS + 1024))

work=$(mktemp -d "$TMPBASE/berth-bench-load.XXXXXX")
declare -A pid sock
pid[berthd]='' pid[containerd]=''
sampler=''

cleanup() {
    local rc=$? d
    trap - EXIT INT TERM
    [ -z "$sampler" ] || { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; }
    for d in berthd containerd; do stop_daemon "${pid[$d]}" "$d"; done
    if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        rm -rf "$work/berthd/root" "$work/berthd/state" "$work/containerd/root" \
            "$work/containerd/state" "$work/containerd/opt"
        echo "load.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # berthd|containerd
    local d=$1
    mkdir -p "$work/$d"
    sock[$d]=$work/$d/$d.sock
    if [ "$d" = berthd ]; then
        "$BERTH_BIN/berthd" --root "$work/$d/root" --state "$work/$d/state" \
            --address "${sock[$d]}" >"$work/$d.log" 2>&1 </dev/null &
    else
        cat >"$work/$d/config.toml" <<EOF
version = 2
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/$d/opt"
EOF
        "$CONTAINERD" --root "$work/$d/root" --state "$work/$d/state" --address "${sock[$d]}" \
            --config "$work/$d/config.toml" >"$work/$d.log" 2>&1 </dev/null &
    fi
    pid[$d]=$!
}

wait_ready() { # NAME
    local d=$1
    for _ in $(seq 300); do
        kill -0 "${pid[$d]}" 2>/dev/null || { echo "load.sh: $d exited during startup; log:" >&2; tail -20 "$work/$d.log" >&2; exit 1; }
        if [ -S "${sock[$d]}" ] && ctr --address "${sock[$d]}" --timeout 1s version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "load.sh: $d not ready after 30 s" >&2
    exit 1
}

# "anon_kib rss_kib threads fds" of a process
sample() {
    local st fds
    st=$(awk '/^(VmRSS|RssAnon|Threads):/ { v[$1] = $2 } END { print v["RssAnon:"]+0, v["VmRSS:"]+0, v["Threads:"]+0 }' \
        "/proc/$1/status" 2>/dev/null) || st="0 0 0"
    fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "$st $fds"
}

# sampler PID FILE: a sample line every 0.2 s until killed
sampler() {
    while :; do
        sample "$1" >>"$2"
        sleep 0.2
    done
}

for d in $DAEMONS; do start "$d"; done
for d in $DAEMONS; do wait_ready "$d"; done
sleep "$SETTLE"

echo "# load: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1)$([[ " $DAEMONS " = *" containerd "* ]] && echo "; containerd: $("$CONTAINERD" --version 2>&1 | head -1)")"
echo "# $CLIENTS clients (a connection each, one call out at a time) for $DURATION s per daemon, $PRELOAD preloaded containers; each daemon with its default configuration"

failed=0
for d in $DAEMONS; do
    sample "${pid[$d]}" >"$work/$d.idle"
    : >"$work/$d.samples"
    sampler "${pid[$d]}" "$work/$d.samples" &
    sampler=$!
    rc=0
    "$LOADGEN" -a "${sock[$d]}" -n load --op mixed --concurrency "$CLIENTS" --duration "$DURATION" \
        --preload "$PRELOAD" --label "$d" >"$work/$d.out" 2>>"$work/loadgen.log" || rc=$?
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null || true
    sampler=''
    # rc 1: some unexpected codes (counted in the table); anything else: no run
    if [ $rc -gt 1 ] || ! grep -q 'kind=all' "$work/$d.out"; then
        echo "load.sh: the load against $d failed (exit $rc); see $work/loadgen.log" >&2
        failed=1
    fi
    kill -0 "${pid[$d]}" 2>/dev/null || { echo "load.sh: $d died under load; log tail:" >&2; tail -20 "$work/$d.log" >&2; exit 1; }
    sleep "$SETTLE"
    sample "${pid[$d]}" >"$work/$d.end"
done

# ---- the tables
kv() { # LINE KEY
    awk -v k="$2" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$1"
}
line_of() { grep -F " kind=$2 " "$work/$1.out" 2>/dev/null || true; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "n/a"; else printf "%.1f", u / 1000 }'; }

echo
printf '| call (expected code) |'
for d in $DAEMONS; do printf ' %s calls | %s p50 / p99 ms | %s codes |' "$d" "$d" "$d"; done
echo
printf '|---|'
for _ in $DAEMONS; do printf -- '---:|---:|---|'; done
echo
kinds=$(grep -o ' kind=[^ ]*' "$work/berthd.out" 2>/dev/null | cut -d= -f2 | grep -vx all || true)
for k in $kinds; do
    printf '| %s (%s) |' "$k" "$(kv "$(line_of berthd "$k")" expect)"
    for d in $DAEMONS; do
        l=$(line_of "$d" "$k")
        printf ' %s | %s / %s | %s |' "$(kv "$l" calls)" "$(ms "$(kv "$l" p50_us)")" "$(ms "$(kv "$l" p99_us)")" "$(kv "$l" codes)"
    done
    echo
done
printf '| **all** |'
for d in $DAEMONS; do
    l=$(line_of "$d" all)
    printf ' %s (%s/s) | %s / %s | %s unexpected, %s expected NotFound |' "$(kv "$l" calls)" \
        "$(kv "$l" calls_per_s)" "$(ms "$(kv "$l" p50_us)")" "$(ms "$(kv "$l" p99_us)")" \
        "$(kv "$l" unexpected)" "$(kv "$l" expected_errors)"
done
echo

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo
echo "| daemon | idle: anon / RSS MiB, threads, fds | peak under load: anon / RSS MiB, threads, fds | $SETTLE s after: anon / RSS MiB, threads, fds |"
echo "|---|---|---|---|"
for d in $DAEMONS; do
    read -r ia ir it if <"$work/$d.idle"
    # peaks of each column apart (they need not fall on one sample)
    read -r pa pr pt pf < <(awk '{ for (i = 1; i <= 4; i++) if ($i > m[i]) m[i] = $i } END { print m[1]+0, m[2]+0, m[3]+0, m[4]+0 }' "$work/$d.samples")
    read -r ea er et ef <"$work/$d.end"
    echo "| $d | $(mib "$ia") / $(mib "$ir"), $it, $if | $(mib "$pa") / $(mib "$pr"), $pt, $pf | $(mib "$ea") / $(mib "$er"), $et, $ef |"
done

echo
unexp=$(kv "$(line_of berthd all)" unexpected)
read -r ea _ et _ <"$work/berthd.end"
ok() { [ "$1" = 1 ] && echo met || echo MISSED; }
echo "targets: berthd unexpected codes ${unexp:-n/a} = 0: $(ok "$([ "${unexp:-x}" = 0 ] && echo 1)"); after the load anonymous RSS $(mib "$ea") MiB <= 10: $(ok "$(awk -v a="$ea" 'BEGIN { print (a <= 10240) }')"); threads $et <= 16: $(ok "$(awk -v t="$et" 'BEGIN { print (t <= 16) }')")"
if [ "$failed" = 1 ]; then
    KEEP=1
    exit 1
fi
