#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Daemon memory benchmark: berthd and Debian's containerd side by side in one run, each with its
# default configuration (CRI on) on a temp root and socket:
#   idle        RSS, anonymous RSS, PSS and threads SETTLE seconds after start-up
#   after work  the same after CYCLES import + remove cycles of a ~200 MiB, 5-layer image
#               (bench/import/mkbig.sh; berthctl images import / ctr images import), measured
#               SETTLE seconds after the last cycle (both daemons trim or GC in the meantime)
# and the targets line of issue 13: idle RSS <= 10 MiB, RSS after the cycles <= 1/2 of
# containerd's, idle threads <= 16. "RSS" in the targets is the anonymous RSS (the daemon's
# own memory; the rest is shared library text in the page cache, listed apart).
# Env: BERTH_BIN (default build/bin), CONTAINERD (/usr/bin/containerd), CYCLES (16), SETTLE
# (15 s: berthd's idle worker threads end after 10 s), KIND (tar|gzip, default gzip), WORK
# (scratch dir, default a temp dir under /var/tmp), KEEP=1 keeps it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
BERTH_BIN=${BERTH_BIN:-$HERE/../../build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CYCLES=${CYCLES:-16}
SETTLE=${SETTLE:-15}
KIND=${KIND:-gzip}
WORK=${WORK:-$(mktemp -d /var/tmp/berth-bench-mem.XXXXXX)}
pid=

cleanup() {
    stop_daemon "$pid" daemon
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$WORK/img/big-$KIND.tar" ] || bash "$HERE/../import/mkbig.sh" "$WORK/img" >/dev/null
ARCHIVE=$WORK/img/big-$KIND.tar

# sample -> "rss_kib anon_kib pss_kib threads"
sample() {
    local rss anon thr pss
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")
    thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
    [ -z "${VERBOSE:-}" ] || for x in "/proc/$pid"/task/*; do cat "$x/comm"; done | sort | uniq -c | tr -s " \n" " " >&2
    echo "$rss $anon $pss $thr"
}

cycles() { # berthd|containerd
    local i
    for i in $(seq 1 "$CYCLES"); do
        if [ "$1" = berthd ]; then
            "$BERTH_BIN/berthctl" -a "$WORK/d/s.sock" images import "$ARCHIVE" >/dev/null
            "$BERTH_BIN/berthctl" -a "$WORK/d/s.sock" images rm "docker.io/berth/big-$KIND:latest" >/dev/null
        else
            ctr -a "$WORK/d/s.sock" images import "$ARCHIVE" >/dev/null
            ctr -a "$WORK/d/s.sock" images rm "docker.io/berth/big-$KIND:latest" >/dev/null
        fi
    done
}

measure() { # berthd|containerd -> "idle... after..."
    local idle after
    start_fresh_daemon "$1" "$WORK" cri
    pid=$DAEMON_PID
    sleep "$SETTLE"
    idle=$(sample)
    cycles "$1"
    sleep "$SETTLE"
    after=$(sample)
    stop_daemon "$pid" "$1"
    pid=
    rm -rf "$WORK/d"
    echo "$idle $after"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg); containerd: $("$CONTAINERD" --version | head -1)"
echo "# $CYCLES cycles of import + remove of $(du -m "$ARCHIVE" | cut -f1) MiB ($KIND layers); samples ${SETTLE} s after start and after the cycles"
read -r b_rss b_anon b_pss b_thr b_rss2 b_anon2 b_pss2 b_thr2 <<<"$(measure berthd)"
read -r c_rss c_anon c_pss c_thr c_rss2 c_anon2 c_pss2 c_thr2 <<<"$(measure containerd)"
echo
echo "| MiB (threads) | berthd | containerd |"
echo "|---|---|---|"
echo "| idle: anonymous RSS | $(mib "$b_anon") | $(mib "$c_anon") |"
echo "| idle: RSS (PSS) | $(mib "$b_rss") ($(mib "$b_pss")) | $(mib "$c_rss") ($(mib "$c_pss")) |"
echo "| idle: threads | $b_thr | $c_thr |"
echo "| after $CYCLES cycles: anonymous RSS | $(mib "$b_anon2") | $(mib "$c_anon2") |"
echo "| after $CYCLES cycles: RSS (PSS) | $(mib "$b_rss2") ($(mib "$b_pss2")) | $(mib "$c_rss2") ($(mib "$c_pss2")) |"
echo "| after $CYCLES cycles: threads | $b_thr2 | $c_thr2 |"
echo
ok() { [ "$1" = 1 ] && echo met || echo MISSED; }
t1=$(awk -v a="$b_anon" 'BEGIN {print (a <= 10 * 1024)}')
t2=$(awk -v a="$b_anon2" -v c="$c_anon2" 'BEGIN {print (a <= c / 2)}')
t3=$(awk -v t="$b_thr" 'BEGIN {print (t <= 16)}')
echo "targets: idle anonymous RSS $(mib "$b_anon") MiB <= 10: $(ok "$t1"); after cycles $(mib "$b_anon2") <= 1/2 x $(mib "$c_anon2") MiB: $(ok "$t2"); idle threads $b_thr <= 16: $(ok "$t3")"
