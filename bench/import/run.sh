#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image import benchmark: import + unpack of a ~200 MiB, 5-layer OCI archive (mkbig.sh;
# uncompressed and gzip layers), side by side in one run:
#   berthd      `berthctl images import` (berth's Transfer/Import, done inside berthd)
#   containerd  `ctr images import` against Debian's containerd on its own temp root/socket
#   ctr->berthd `ctr images import` against berthd (client-side import over the containerd API)
# Every run gets freshly started daemons on empty roots (nothing cached in the stores; the
# page cache holds the archive for all). RUNS runs each (default 5); prints median and min.
# Env: BERTH_BIN (dir with berthd, berthctl; default build/bin), CONTAINERD (/usr/bin/containerd),
# RUNS, WORK (scratch dir, default a temp dir under /var/tmp), KEEP=1 keeps it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
BERTH_BIN=${BERTH_BIN:-$HERE/../../build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
RUNS=${RUNS:-5}
WORK=${WORK:-$(mktemp -d /var/tmp/berth-bench-import.XXXXXX)}
pid=

cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$WORK/img/big-tar.tar" ] || bash "$HERE/mkbig.sh" "$WORK/img" >/dev/null

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    # overlay snapshots may still be mounted by nobody; plain removal is enough
    rm -rf "$WORK/d"
}

# one_run WHO ARCHIVE -> seconds on stdout
one_run() {
    local who=$1 archive=$2 t0 t1 daemon=berthd
    [ "$who" = containerd ] && daemon=containerd
    start_fresh_daemon "$daemon" "$WORK" nocri
    pid=$DAEMON_PID
    sync
    t0=$(date +%s.%N)
    if [ "$who" = berthd ]; then
        "$BERTH_BIN/berthctl" -a "$WORK/d/s.sock" images import "$archive" >/dev/null
    else
        ctr -a "$WORK/d/s.sock" images import "$archive" >/dev/null
    fi
    t1=$(date +%s.%N)
    stop
    echo "$t1 - $t0" | bc
}

stats() { # values... -> "median min"
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%.2f %.2f", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), v[1]}'
}

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; containerd: $("$CONTAINERD" --version | head -1)"
echo "# archive sizes: tar $(du -m "$WORK/img/big-tar.tar" | cut -f1) MiB, gzip $(du -m "$WORK/img/big-gzip.tar" | cut -f1) MiB; $RUNS runs each, fresh daemons per run"
echo
echo "| layers | berthd (berthctl) median / min s | containerd (ctr) median / min s | ctr -> berthd median / min s | containerd / berthd | target 1.5x |"
echo "|---|---|---|---|---|---|"
for kind in tar gzip; do
    declare -a b=() c=() cb=()
    for _ in $(seq 1 "$RUNS"); do
        b+=("$(one_run berthd "$WORK/img/big-$kind.tar")")
        c+=("$(one_run containerd "$WORK/img/big-$kind.tar")")
        cb+=("$(one_run ctr-berthd "$WORK/img/big-$kind.tar")")
    done
    read -r bm bn <<<"$(stats "${b[@]}")"
    read -r cm cn <<<"$(stats "${c[@]}")"
    read -r xm xn <<<"$(stats "${cb[@]}")"
    ratio=$(echo "scale=2; $cm / $bm" | bc)
    ok=$(echo "$ratio >= 1.5" | bc)
    echo "| $kind | $bm / $bn | $cm / $cn | $xm / $xn | ${ratio}x | $([ "$ok" = 1 ] && echo met || echo MISSED) |"
done
