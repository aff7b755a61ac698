#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# CRI streaming benchmark (issue 12): berthd's streaming server vs containerd 1.6's CRI plugin,
# side by side in one run, driven by crictl (its start-up is in both sides' figures alike). Both
# daemons run at once with the setup of bench/cri (crienv.sh: private roots under one temp dir,
# one CNI conflist of the run's own, busybox and pause images imported offline); each serves
# streaming on 127.0.0.1 with a port of the kernel's choice. One pod with one busybox container
# (sleep) per daemon, then, alternating between the daemons so load drift hits both alike:
#   latency     $N runs (after $WARMUP) of `crictl exec C true` per daemon, p50 and p90
#               (target berthd <= 0.5x); alongside, `crictl exec -s C true` (ExecSync, no
#               streaming) and `crictl version` (crictl's start-up: the floor of both), and
#               exec minus version paired in each round
#   throughput  `crictl exec C sh -c 'head -c $THRU_BYTES /dev/zero' | wc -c` (the count must
#               be exact), MiB/s best of $THRU_RUNS (target berthd >= 1x), and the CPU time
#               (user + system, from /proc/<pid>/stat) the daemon and its shims spent in these
#               runs, per GiB
# Prints a markdown table. Everything made (pods, shims, netns, mounts, cgroups, the bridge,
# iptables rules naming it) is removed on exit, also after a failure. Nothing on the network.
#
# Env: BERTH_BIN (dir with berthd, berth-shim, berth-pause, berthctl; default <repo>/build/bin),
#      CRICTL (crictl 1.26; default: from PATH, else <repo>/../shared/tools/crictl),
#      CONTAINERD (/usr/bin/containerd), N (timed execs per daemon, 50), WARMUP (untimed execs
#      first, 3), THRU_RUNS (throughput runs per daemon, 3), THRU_BYTES (1073741824), ONLY
#      ("berthd" or "containerd": run one side), TMPBASE (/var/tmp), KEEP=1 keeps the temp dir
#      (logs are kept after a failure anyway).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a '.'

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CRIENV_ME=stream/run.sh
# shellcheck source=bench/crienv.sh
. "$here/../crienv.sh"
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
N=${N:-50}
WARMUP=${WARMUP:-3}
THRU_RUNS=${THRU_RUNS:-3}
THRU_BYTES=${THRU_BYTES:-1073741824}
TMPBASE=${TMPBASE:-/var/tmp}
DAEMONS=${ONLY:-berthd containerd}
if [ -z "${CRICTL:-}" ]; then
    CRICTL=$(command -v crictl || echo "$repo/../shared/tools/crictl")
fi
# the defaults of both daemons, spelled out: this is what the figures are about
CRIENV_BERTHD_CRI='stream_server_address = "127.0.0.1"
stream_server_port = "0"'
CRIENV_CONTAINERD_CRI='  stream_server_address = "127.0.0.1"
  stream_server_port = "0"'

crienv_need_tools "$CRICTL"
if [ "$N" -lt 1 ] || [ "$THRU_RUNS" -lt 1 ] || [ "$THRU_BYTES" -lt 1 ]; then
    crienv_die "N, THRU_RUNS and THRU_BYTES must be at least 1"
fi

# cri NAME ARGS...: crictl against NAME's socket (a config file of the run's own, so no
# /etc/crictl.yaml applies)
cri() {
    local d=$1
    shift
    "$CRICTL" --config "$work/crictl-$d.yaml" "$@"
}

clean_pods() { # NAME
    cri "$1" rmp -f -a
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e +o pipefail # remove as much as possible, whatever fails
    crienv_teardown "$rc" clean_pods
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

crienv_init berth-bench-stream bst
mkdir -p "$work/raw"
crienv_images
crienv_configs
for d in berthd containerd; do
    cat >"$work/crictl-$d.yaml" <<EOF
runtime-endpoint: unix://${sock[$d]}
image-endpoint: unix://${sock[$d]}
timeout: 10
pull-image-on-create: false
EOF
done

# ---- one pod with one sleeping busybox container per daemon
cat >"$work/pod.json" <<EOF
{"metadata": {"name": "streambench-$tag", "namespace": "default", "uid": "streambench-$tag-uid"},
 "log_directory": "$work/logs/pod",
 "linux": {"cgroup_parent": "$CGROUP_PARENT/podstreambench-$tag-uid"}}
EOF
cat >"$work/ctr.json" <<EOF
{"metadata": {"name": "sleeper"}, "image": {"image": "$IMAGE"},
 "command": ["sleep", "86400"], "log_path": "sleeper.log", "linux": {}}
EOF

# fail NAME WHAT ERRFILE: the exact failure (crictl's stderr, the daemon's log tail), then exit
fail() {
    echo "$CRIENV_ME: $1: $2 failed; crictl said:" >&2
    sed 's/^/    /' "$3" >&2
    echo "$CRIENV_ME: $1 log tail ($work/$1.log):" >&2
    tail -20 "$work/$1.log" | sed 's/^/    /' >&2
    exit 1
}

declare -A ctr
for d in $DAEMONS; do crienv_start "$d"; done
for d in $DAEMONS; do
    crienv_wait_ready "$d"
    crienv_import "$d"
    p=$(cri "$d" runp "$work/pod.json" 2>"$work/err") || fail "$d" "crictl runp" "$work/err"
    ctr[$d]=$(cri "$d" create --no-pull "$p" "$work/ctr.json" "$work/pod.json" 2>"$work/err") ||
        fail "$d" "crictl create" "$work/err"
    cri "$d" start "${ctr[$d]}" >/dev/null 2>"$work/err" || fail "$d" "crictl start" "$work/err"
    # one exec that must give its output back, before anything is timed
    out=$(timeout 60 "$CRICTL" --config "$work/crictl-$d.yaml" exec "${ctr[$d]}" echo stream-ok 2>"$work/err") ||
        fail "$d" "crictl exec ${ctr[$d]} echo stream-ok" "$work/err"
    [ "$out" = stream-ok ] || { echo "got: $out" >>"$work/err"; fail "$d" "exec output check" "$work/err"; }
done

# "ADDR:PORT" of the TCP listener of PID on loopback (its streaming server)
stream_addr() {
    ss -Hltnp 2>/dev/null | awk -v p="pid=$1," 'index($0, p) && $4 ~ /^127\.0\.0\.1:/ { print $4 }' |
        tr '\n' ' ' | sed 's/ $//'
}

echo "# berth-bench-stream: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1); containerd: $("$CONTAINERD" --version 2>&1 | head -1); runc: $(runc --version 2>/dev/null | head -1); $("$CRICTL" --version)"
for d in $DAEMONS; do
    echo "# $d streaming server: $(stream_addr "${pid[$d]}")"
done
echo "# $N timed execs (+$WARMUP warm-up) and $THRU_RUNS throughput runs of $THRU_BYTES bytes per daemon, alternating"

# rounds alternate which daemon goes first, so neither always follows the other's load
order() { # ROUND
    if [ $(($1 % 2)) = 1 ]; then echo "$DAEMONS"; else echo "$DAEMONS" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }'; fi
}

# ---- latency: per daemon per round one `crictl exec C true`, then for comparison one
# `crictl exec -s C true` (ExecSync: the same process start, no streaming) and one `crictl
# version` (crictl's start-up and one unary RPC)
for d in $DAEMONS; do
    for f in exec sync version above; do : >"$work/raw/$f-$d"; done
done
for r in $(seq $((WARMUP + N))); do
    for d in $(order "$r"); do
        t0=${EPOCHREALTIME/./}
        timeout 60 "$CRICTL" --config "$work/crictl-$d.yaml" exec "${ctr[$d]}" true \
            >/dev/null 2>"$work/err" || fail "$d" "crictl exec ${ctr[$d]} true (round $r)" "$work/err"
        t1=${EPOCHREALTIME/./}
        timeout 60 "$CRICTL" --config "$work/crictl-$d.yaml" exec -s "${ctr[$d]}" true \
            >/dev/null 2>"$work/err" || fail "$d" "crictl exec -s ${ctr[$d]} true (round $r)" "$work/err"
        t2=${EPOCHREALTIME/./}
        "$CRICTL" --config "$work/crictl-$d.yaml" version >/dev/null 2>"$work/err" ||
            fail "$d" "crictl version" "$work/err"
        t3=${EPOCHREALTIME/./}
        if [ "$r" -gt "$WARMUP" ]; then
            echo $((t1 - t0)) >>"$work/raw/exec-$d"
            echo $((t2 - t1)) >>"$work/raw/sync-$d"
            echo $((t3 - t2)) >>"$work/raw/version-$d"
            echo $((t1 - t0 - (t3 - t2))) >>"$work/raw/above-$d"
        fi
        crienv_alive "$d" latency
    done
done

# ---- throughput: THRU_BYTES of exec stdout through the streaming server into wc -c
declare -A cpu shimcpu
for d in $DAEMONS; do
    : >"$work/raw/thru-$d"
    cpu[$d]=0 shimcpu[$d]=0
done
shims_cpu_ms() { # NAME: the sum over its shims
    local s=0 p
    for p in $(crienv_shim_pids "$1"); do s=$((s + $(crienv_cpu_ms "$p"))); done
    echo "$s"
}
for r in $(seq "$THRU_RUNS"); do
    for d in $(order "$r"); do
        c0=$(crienv_cpu_ms "${pid[$d]}") s0=$(shims_cpu_ms "$d")
        t0=${EPOCHREALTIME/./}
        got=$(timeout 600 "$CRICTL" --config "$work/crictl-$d.yaml" exec "${ctr[$d]}" \
            sh -c "head -c $THRU_BYTES /dev/zero" 2>"$work/err" | wc -c) ||
            fail "$d" "crictl exec ${ctr[$d]} sh -c 'head -c $THRU_BYTES /dev/zero' (run $r)" "$work/err"
        t1=${EPOCHREALTIME/./}
        c1=$(crienv_cpu_ms "${pid[$d]}") s1=$(shims_cpu_ms "$d")
        if [ "$got" != "$THRU_BYTES" ]; then
            echo "received $got bytes of $THRU_BYTES" >>"$work/err"
            fail "$d" "throughput run $r" "$work/err"
        fi
        cpu[$d]=$((cpu[$d] + c1 - c0))
        shimcpu[$d]=$((shimcpu[$d] + s1 - s0))
        awk -v b="$THRU_BYTES" -v us=$((t1 - t0)) 'BEGIN { printf "%.1f\n", b / 1048576 / (us / 1e6) }' \
            >>"$work/raw/thru-$d"
        crienv_alive "$d" throughput
    done
done

# ---- the table
has() { [[ " $DAEMONS " = *" $1 "* ]]; }
lat_cell() { # FILE -> "p50 (p90)" in ms
    local a
    a=$(crienv_pct "$1" 0.5 1000)
    [ "$a" = n/a ] && echo n/a || echo "$a ($(crienv_pct "$1" 0.9 1000))"
}
lat_row() { # LABEL STEM LIMIT
    local b c r t=-
    b=$(crienv_pct "$work/raw/$2-berthd" 0.5 1000) c=$(crienv_pct "$work/raw/$2-containerd" 0.5 1000)
    r=$(crienv_ratio "$b" "$c")
    [ -n "$3" ] && t="<= $3x: $(crienv_verdict "$r" "<=" "$3")"
    echo "| $1 | $(lat_cell "$work/raw/$2-berthd") | $(lat_cell "$work/raw/$2-containerd") | $r | $t |"
}
best() { [ -s "$1" ] && sort -n "$1" | tail -1 || echo n/a; }
thru_cell() { # FILE -> "best (each run)"
    [ -s "$1" ] || { echo n/a; return; }
    echo "$(best "$1") ($(paste -sd' ' "$1"))"
}
per_gib() { # NAME MS
    has "$1" || { echo n/a; return; }
    awk -v ms="$2" -v b=$((THRU_BYTES * THRU_RUNS)) 'BEGIN { printf "%.0f", ms / (b / 1073741824) }'
}
cpu_row() { # LABEL ARRAY
    local -n a=$2
    local b c
    b=$(per_gib berthd "${a[berthd]:-0}") c=$(per_gib containerd "${a[containerd]:-0}")
    echo "| $1 | $b | $c | $(crienv_ratio "$b" "$c") | - |"
}
gib=$(awk -v b="$THRU_BYTES" 'BEGIN { printf "%g", b / 1073741824 }')
echo
echo "| ms p50 (p90) / MiB/s / CPU ms | berthd | containerd 1.6 CRI | berthd / containerd | target |"
echo "|---|---:|---:|---:|---|"
lat_row "\`crictl exec C true\`, ms p50 (p90) over $N" exec 0.5
lat_row "- \`crictl exec -s C true\` (ExecSync: same process start, no streaming)" sync ""
lat_row "- \`crictl version\` (crictl start-up + one unary RPC: the floor of both)" version ""
lat_row "- exec minus version, paired in each round (the daemon's share of exec)" above ""
b=$(best "$work/raw/thru-berthd") c=$(best "$work/raw/thru-containerd")
r=$(crienv_ratio "$b" "$c")
echo "| exec stdout throughput, $gib GiB into \`wc -c\`, MiB/s best of $THRU_RUNS (each run) | $(thru_cell "$work/raw/thru-berthd") | $(thru_cell "$work/raw/thru-containerd") | $r | >= 1x: $(crienv_verdict "$r" ">=" 1) |"
cpu_row "daemon CPU per GiB in the throughput runs (its own user+sys ms)" cpu
cpu_row "- its shims' CPU per GiB (user+sys ms)" shimcpu
