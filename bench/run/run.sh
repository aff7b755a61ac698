#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Container start latency and shim memory: berthd vs Debian's containerd (same runc), side by
# side in one run. Builds the busybox test image (tests/data/mkimages.sh), starts berthd
# (default runtime io.containerd.berth.v1 = berth-shim next to berthd) and containerd
# (config `version = 2`, CRI disabled) on private roots/states/sockets under one temp dir,
# imports the image into both, then:
#   latency  RUNS runs each, alternating: `berthctl run --rm IMG ID true` -> berthd,
#            `ctr run --rm` -> containerd, and for reference `ctr run --rm` -> berthd with
#            runtime io.containerd.berth.v1 and io.containerd.runc.v2; p50/p90 (nearest rank)
#   memory   1, 10, 50 running containers (`run -d IMG ID sleep 1000`) per daemon, one daemon
#            at a time (berthd first): live shims' RSS and PSS (/proc/PID/smaps_rollup) and the
#            daemon's VmRSS; everything is killed and deleted after each step
# and prints a markdown table with the issue's targets. Unix sockets only, no network.
# A trap kills tasks, shims and daemons, unmounts and removes the temp dir on every exit path.
#
# Env: BERTH_BIN (dir with berthd, berthctl, berth-shim; default <repo>/build/bin),
#      CONTAINERD (default /usr/bin/containerd), RUNS (default 30), WARMUP (default 2),
#      COUNTS (default "1 10 50"), TMPBASE (default /var/tmp), KEEP=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh" # stop_daemon
repo=$(cd "$here/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-2}
COUNTS=${COUNTS:-"1 10 50"}
TMPBASE=${TMPBASE:-/var/tmp}
IMG=docker.io/berth/busybox:latest
# A namespace of our own: ctr and berthctl put containers in cgroup /<ns>/<id>, which is how
# the cleanup finds stray container processes.
NS=benchrun$$

[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root" >&2; exit 1; }
for f in "$BERTH_BIN/berthd" "$BERTH_BIN/berthctl" "$BERTH_BIN/berth-shim" "$CONTAINERD"; do
    [ -x "$f" ] || { echo "run.sh: $f not found or not executable" >&2; exit 1; }
done
for c in ctr runc containerd-shim-runc-v2; do
    command -v "$c" >/dev/null || { echo "run.sh: $c not in PATH" >&2; exit 1; }
done

work=$(mktemp -d "$TMPBASE/berth-bench-run.XXXXXX")
bsock=$work/berthd/berthd.sock
csock=$work/containerd/containerd.sock
berthd_pid=
containerd_pid=

bctl() { timeout 60 "$BERTH_BIN/berthctl" -a "$bsock" -n "$NS" "$@"; }
ctrd() { timeout 60 ctr -a "$1" -n "$NS" "${@:2}"; }

# Live (not zombie) shim pids of one daemon: binary name and the daemon's socket on the
# command line. PID 1 here does not reap orphans, so killed shims linger as <defunct>.
shim_pids() { # binary sock
    ps -eo pid=,stat=,args= | awk -v bin="$1" -v sock="$2" \
        '$2 !~ /^Z/ && index($0, bin) && index($0, "-address " sock) { print $1 }'
}

# Processes in this run's container cgroups (/<ns>/<id> in any v1 hierarchy).
container_pids() {
    grep -l ":/$NS/" /proc/[0-9]*/cgroup 2>/dev/null | awk -F/ '{ print $3 }' || true
}


# Kills and deletes every task and container of our namespace on one daemon (ctr for the
# container delete on both: it removes the rootfs snapshot too).
clear_daemon() { # berthd|containerd
    local id sock
    if [ "$1" = berthd ]; then sock=$bsock; else sock=$csock; fi
    for id in $(ctrd "$sock" tasks ls -q 2>/dev/null); do
        if [ "$1" = berthd ]; then
            bctl tasks rm -f "$id" >/dev/null 2>&1 || true
        else
            ctrd "$sock" tasks rm -f "$id" >/dev/null 2>&1 || true
        fi
    done
    for id in $(ctrd "$sock" containers ls -q 2>/dev/null); do
        ctrd "$sock" containers rm "$id" >/dev/null 2>&1 || true
    done
}

cleanup() {
    local rc=$? p m
    trap - EXIT INT TERM
    [ -n "$berthd_pid" ] && kill -0 "$berthd_pid" 2>/dev/null && clear_daemon berthd
    [ -n "$containerd_pid" ] && kill -0 "$containerd_pid" 2>/dev/null && clear_daemon containerd
    for p in $(container_pids); do kill -KILL "$p" 2>/dev/null || true; done
    stop_daemon "$berthd_pid" berthd
    stop_daemon "$containerd_pid" containerd
    berthd_pid='' containerd_pid=''
    # shims (and any runc they left) carry the temp dir's socket paths on their command line
    pkill -KILL -f -- "-address $bsock" 2>/dev/null || true
    pkill -KILL -f -- "-address $csock" 2>/dev/null || true
    sleep 0.2
    for p in $(container_pids); do kill -KILL "$p" 2>/dev/null || true; done
    # innermost first
    for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    # runc removes /<ns>/<id> but leaves the namespace's cgroup directory behind
    for m in /sys/fs/cgroup/*/"$NS"/* /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
        if [ -d "$m" ]; then rmdir "$m" 2>/dev/null || true; fi
    done
    if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        rm -rf "$work/berthd/root" "$work/berthd/state" "$work/containerd/root" \
            "$work/containerd/state" "$work/containerd/opt" "$work/data"
        echo "run.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() { # name pid sock
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || { echo "run.sh: $1 exited during startup; log:" >&2; cat "$work/$1.log" >&2; exit 1; }
        if [ -S "$3" ] && ctr --address "$3" --timeout 1s version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "run.sh: $1 not ready after 20 s" >&2
    exit 1
}

vmrss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---- setup ----
bash "$repo/tests/data/mkimages.sh" "$work/data" >/dev/null
mkdir -p "$work/berthd" "$work/containerd"
cat >"$work/berthd/config.toml" <<EOF
version = 1
[log]
level = "warn"
[runtime]
default = "io.containerd.berth.v1"
EOF
"$BERTH_BIN/berthd" --root "$work/berthd/root" --state "$work/berthd/state" \
    --address "$bsock" --config "$work/berthd/config.toml" >"$work/berthd.log" 2>&1 </dev/null &
berthd_pid=$!
cat >"$work/containerd/config.toml" <<EOF
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd/opt"
EOF
"$CONTAINERD" --root "$work/containerd/root" --state "$work/containerd/state" \
    --address "$csock" --config "$work/containerd/config.toml" >"$work/containerd.log" 2>&1 </dev/null &
containerd_pid=$!
wait_ready berthd "$berthd_pid" "$bsock"
wait_ready containerd "$containerd_pid" "$csock"

bctl images import "$work/data/oci/busybox.tar" >/dev/null
ctrd "$csock" images import "$work/data/oci/busybox.tar" >/dev/null

echo "# bench/run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, kernel $(uname -r), $RUNS runs (+$WARMUP warm-up) per variant"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1); containerd: $("$CONTAINERD" --version 2>&1 | head -1)"
echo "# runc: $(runc --version | head -1); containerd-shim-runc-v2: $(command -v containerd-shim-runc-v2)"
echo "# daemon RSS idle after import: berthd $(vmrss_kib "$berthd_pid") KiB, containerd $(vmrss_kib "$containerd_pid") KiB"

# ---- latency ----
# variant name -> command (ID appended as $1)
run_variant() { # variant id
    case $1 in
    berthctl-berthd) bctl run --rm "$IMG" "$2" true ;;
    ctr-containerd) ctrd "$csock" run --rm "$IMG" "$2" true ;;
    ctr-berthd-berth) ctrd "$bsock" run --rm --runtime io.containerd.berth.v1 "$IMG" "$2" true ;;
    ctr-berthd-runc) ctrd "$bsock" run --rm --runtime io.containerd.runc.v2 "$IMG" "$2" true ;;
    esac
}
VARIANTS="berthctl-berthd ctr-containerd ctr-berthd-berth ctr-berthd-runc"
lat=$work/latency
mkdir -p "$lat"
failed=0
for i in $(seq 1 $((WARMUP + RUNS))); do
    for v in $VARIANTS; do
        t0=$(date +%s%N)
        rc=0
        run_variant "$v" "bench-$i" >>"$work/run-output.log" 2>&1 || rc=$?
        t1=$(date +%s%N)
        if [ $rc -ne 0 ]; then
            echo "run.sh: $v run $i failed (exit $rc); see $work/run-output.log" >&2
            failed=$((failed + 1))
            continue
        fi
        [ "$i" -gt "$WARMUP" ] && echo $(((t1 - t0) / 1000)) >>"$lat/$v"
    done
done

# "p50 p90 n" in ms, nearest rank
pct() { # file
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "0 0 0"; exit }
        i50 = int((NR * 50 + 99) / 100); i90 = int((NR * 90 + 99) / 100)
        printf "%.1f %.1f %d\n", v[i50] / 1000, v[i90] / 1000, NR }'
}

# ---- memory ----
mem=$work/memory.txt
: >"$mem"
for d in berthd containerd; do
    if [ $d = berthd ]; then sock=$bsock dpid=$berthd_pid shim=berth-shim
    else sock=$csock dpid=$containerd_pid shim=containerd-shim-runc-v2; fi
    for n in $COUNTS; do
        for i in $(seq 1 "$n"); do
            if [ $d = berthd ]; then
                bctl run -d "$IMG" "mem-$i" sleep 1000 >>"$work/run-output.log" 2>&1
            else
                ctrd "$csock" run -d "$IMG" "mem-$i" sleep 1000 >>"$work/run-output.log" 2>&1
            fi
        done
        sleep 2
        pids=$(shim_pids "$shim" "$sock")
        nshim=$(echo "$pids" | grep -c . || true)
        # total Rss and Pss (KiB) over the live shims
        read -r rss pss <<<"$(for p in $pids; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
            awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { print r + 0, p + 0 }')"
        running=$(ctrd "$sock" tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING"' | wc -l)
        echo "$d $n $running $nshim $rss $pss $(vmrss_kib "$dpid")" >>"$mem"
        clear_daemon $d
        for _ in $(seq 100); do
            [ -z "$(shim_pids "$shim" "$sock")" ] && break
            sleep 0.1
        done
        left=$(shim_pids "$shim" "$sock" | grep -c . || true)
        [ "$left" -eq 0 ] || echo "run.sh: $left $shim still alive after cleaning $d ($n)" >&2
    done
done

# ---- table ----
read -r b50 b90 bn <<<"$(pct "$lat/berthctl-berthd")"
read -r c50 c90 cn <<<"$(pct "$lat/ctr-containerd")"
read -r x50 x90 xn <<<"$(pct "$lat/ctr-berthd-berth")"
read -r y50 y90 yn <<<"$(pct "$lat/ctr-berthd-runc")"

echo
echo "| run --rm IMG ID true | p50 ms | p90 ms | runs | vs containerd p50 | target | result |"
echo "|---|---:|---:|---:|---:|---|---|"
awk -v b50="$b50" -v b90="$b90" -v bn="$bn" -v c50="$c50" -v c90="$c90" -v cn="$cn" \
    -v x50="$x50" -v x90="$x90" -v xn="$xn" -v y50="$y50" -v y90="$y90" -v yn="$yn" 'BEGIN {
    r = c50 > 0 ? b50 / c50 : 0
    printf "| berthctl -> berthd (berth-shim) | %.1f | %.1f | %d | %.2fx | <= 0.7x | %s |\n", b50, b90, bn, r,
        ((bn > 0 && r <= 0.7) ? "PASS" : "FAIL")
    printf "| ctr -> containerd (containerd-shim-runc-v2) | %.1f | %.1f | %d | 1.00x | | |\n", c50, c90, cn
    printf "| ctr -> berthd, io.containerd.berth.v1 | %.1f | %.1f | %d | %.2fx | (reference) | |\n", x50, x90, xn,
        (c50 > 0 ? x50 / c50 : 0)
    printf "| ctr -> berthd, io.containerd.runc.v2 | %.1f | %.1f | %d | %.2fx | (reference) | |\n", y50, y90, yn,
        (c50 > 0 ? y50 / c50 : 0)
}'
echo
echo "| containers | berth-shim live | RSS/shim MiB | PSS/shim MiB | RSS total MiB | PSS total MiB | berthd RSS MiB | runc-v2 shims live | RSS/shim MiB | PSS/shim MiB | RSS total MiB | PSS total MiB | containerd RSS MiB | RSS/shim ratio | target | result |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
awk '
{ k = $2; if (!(k in seen)) { seen[k] = 1; order[n++] = k }
  run[$1, k] = $3; ns[$1, k] = $4; rss[$1, k] = $5; pss[$1, k] = $6; drss[$1, k] = $7 }
function per(v, c) { return c > 0 ? v / c / 1024 : 0 }
END {
    for (i = 0; i < n; i++) {
        k = order[i]
        br = per(rss["berthd", k], ns["berthd", k]); cr = per(rss["containerd", k], ns["containerd", k])
        ratio = cr > 0 ? br / cr : 0
        ok = ns["berthd", k] == k && ns["containerd", k] == k && run["berthd", k] == k && run["containerd", k] == k && ratio > 0 && ratio <= 0.125
        printf "| %d | %d | %.2f | %.2f | %.1f | %.1f | %.1f | %d | %.2f | %.2f | %.1f | %.1f | %.1f | %.3f (1/%.1f) | <= 1/8 | %s |\n", k,
            ns["berthd", k], br, per(pss["berthd", k], ns["berthd", k]), rss["berthd", k] / 1024, pss["berthd", k] / 1024,
            drss["berthd", k] / 1024,
            ns["containerd", k], cr, per(pss["containerd", k], ns["containerd", k]), rss["containerd", k] / 1024,
            pss["containerd", k] / 1024, drss["containerd", k] / 1024, ratio, (ratio > 0 ? 1 / ratio : 0),
            (ok ? "PASS" : "FAIL")
    }
    # the absolute targets, with one running container
    if (ns["berthd", 1] == 1) {
        r1 = rss["berthd", 1]; p1 = pss["berthd", 1]
        printf "\nberth-shim with 1 running container: RSS %d KiB (target <= 1024 KiB), PSS %d KiB (target <= 600 KiB): %s\n",
            r1, p1, (r1 <= 1024 && p1 <= 600 ? "PASS" : "FAIL")
    }
}' "$mem"

if [ "$failed" -gt 0 ]; then
    echo "run.sh: $failed latency runs failed; see $work/run-output.log" >&2
    KEEP=1
fi
