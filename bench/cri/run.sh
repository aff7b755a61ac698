#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# CRI benchmark (issue 11): berthd's CRI vs containerd 1.6's CRI plugin, side by side in one
# run, driven by berth-bench-cri (an in-process runtime.v1 client, so no crictl start-up in the
# figures). Both daemons run at once on private roots under one temp dir, with one CNI conflist
# (a bridge and /22 of this run's own, host-local state in the temp dir), busybox and pause
# images imported offline, and the same berth-pause binary as pause process. Phases alternate
# between the daemons so load drift on a shared machine hits both alike:
#   pod start     RunPodSandbox + CreateContainer + StartContainer (target berthd <= 0.5x)
#   lifecycle     pod start + StopContainer(0) + RemoveContainer + StopPodSandbox + RemovePodSandbox
#   RSS           daemon + every shim with $FILL_RSS pods running (target <= 0.25x)
#   List*         ListPodSandbox + ListContainers + ListContainerStats with $FILL pods (<= 0.2x)
# Prints a markdown table. Everything made (pods, shims, netns, mounts, cgroups, the bridge,
# iptables rules naming it) is removed on exit, also after a failure. Nothing on the network.
#
# Env: BERTH_BIN (dir with berthd, berth-shim, berth-pause, berthctl, berth-bench-cri;
#      default <repo>/build/bin), CONTAINERD (/usr/bin/containerd), LIFECYCLES (timed pod
#      lifecycles per daemon, 30), WARMUP (untimed lifecycles first, 2), ROUNDS (alternations
#      of the timed phases, 2), FILL_RSS (pods for the RSS row, 50), FILL (pods for the List
#      row, 100), LIST_ROUNDS (List rounds per daemon, 30), FILL_C (concurrent pod starts while
#      filling, 4), ONLY ("berthd" or "containerd": run one side), TMPBASE (/var/tmp), KEEP=1
#      keeps the temp dir (logs are kept after a failure anyway).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
LIFECYCLES=${LIFECYCLES:-30}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
FILL_RSS=${FILL_RSS:-50}
FILL=${FILL:-100}
LIST_ROUNDS=${LIST_ROUNDS:-30}
FILL_C=${FILL_C:-4}
TMPBASE=${TMPBASE:-/var/tmp}
CRIBENCH=$BERTH_BIN/berth-bench-cri
DAEMONS=${ONLY:-berthd containerd}
# shellcheck source=bench/crienv.sh
. "$here/../crienv.sh" # the two daemons, images, conflist, teardown (crienv_*)

crienv_need_tools "$CRIBENCH"
[ "$FILL" -ge "$FILL_RSS" ] || crienv_die "FILL must be >= FILL_RSS"

crienv_init berth-bench-cri bcb
PREFIX=cribench-$tag
mkdir -p "$work/raw"

# cribench DAEMON MODE [ARGS...]: one berth-bench-cri run against DAEMON, its line on stdout
cribench() {
    local d=$1 mode=$2
    shift 2
    "$CRIBENCH" -a "${sock[$d]}" --label "$d" --prefix "$PREFIX" --image "$IMAGE" \
        --log-dir "$work/logs" --cgroup-parent "$CGROUP_PARENT" "$@" "$mode" 2>>"$work/cribench.log"
}

clean_pods() { # NAME
    cribench "$1" clean -c "$FILL_C"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e +o pipefail # remove as much as possible, whatever fails
    crienv_teardown "$rc" clean_pods
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

crienv_images
crienv_configs

# "daemon_kib shims_kib n_shims": VmRSS of the daemon and the sum over its shims
rss_of() { # NAME
    local d=$1 p shims=0 n=0 r
    for p in $(crienv_shim_pids "$d"); do
        r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        shims=$((shims + ${r:-0}))
        n=$((n + 1))
    done
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$d]}/status" 2>/dev/null) || r=0
    echo "${r:-0} $shims $n"
}

# CPU time (user + system, ms) the daemon process itself has used: its own work per pod, apart
# from runc, CNI plugins and shims (children it waited for are not counted)
cpu_ms() { # NAME
    crienv_cpu_ms "${pid[$1]}"
}
declare -A cpu
cpu[berthd]=0 cpu[containerd]=0

failed=0
run_phase() { # NAME PHASE MODE ARGS... (the line is appended to results)
    local d=$1 phase=$2 rc=0 line
    shift 2
    line=$(cribench "$d" "$@") || rc=$?
    echo "phase=$phase $line" >>"$work/results.txt"
    [ $rc -eq 0 ] || { failed=$((failed + 1)); echo "run.sh: $d $phase: errors (see $work/cribench.log)" >&2; }
    crienv_alive "$d" "$phase"
}

for d in $DAEMONS; do crienv_start "$d"; done
for d in $DAEMONS; do crienv_wait_ready "$d"; crienv_import "$d"; done
: >"$work/results.txt"

echo "# berth-bench-cri: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1); containerd: $("$CONTAINERD" --version 2>&1 | head -1); runc: $(runc --version 2>/dev/null | head -1)"
echo "# CNI: bridge $BR $SUBNET + host-local + portmap ($CNI_BIN); cgroup parent $CGROUP_PARENT; image $IMAGE"
echo "# $LIFECYCLES lifecycles (+$WARMUP warm-up) and $LIST_ROUNDS List rounds per daemon in $ROUNDS alternating parts; fill concurrency $FILL_C"

# ---- pod start and full lifecycle, alternating parts
for r in $(seq "$ROUNDS"); do
    for d in $DAEMONS; do
        n=$(((LIFECYCLES * r) / ROUNDS - (LIFECYCLES * (r - 1)) / ROUNDS))
        w=0
        [ "$r" = 1 ] && w=$WARMUP
        t=$(cpu_ms "$d")
        run_phase "$d" lifecycle lifecycle -n "$n" --warmup "$w" --raw "$work/raw/lifecycle-$d"
        cpu[$d]=$((cpu[$d] + $(cpu_ms "$d") - t))
    done
done

# ---- RSS with FILL_RSS pods, then List* with FILL pods
for d in $DAEMONS; do run_phase "$d" fill-rss fill -n "$FILL_RSS" -c "$FILL_C"; done
sleep 3 # let the shims and daemons settle after the burst
for d in $DAEMONS; do echo "$d $(rss_of "$d")" >>"$work/rss.txt"; done
for d in $DAEMONS; do run_phase "$d" fill fill -n $((FILL - FILL_RSS)) -c "$FILL_C"; done
sleep 3
for r in $(seq "$ROUNDS"); do
    for d in $DAEMONS; do
        n=$(((LIST_ROUNDS * r) / ROUNDS - (LIST_ROUNDS * (r - 1)) / ROUNDS))
        run_phase "$d" list list -n "$n" --expect "$FILL" --raw "$work/raw/list-$d"
    done
done
for d in $DAEMONS; do run_phase "$d" clean clean -c "$FILL_C"; done

# ---- the table (nearest-rank percentiles over every timed sample of a daemon)
pct() { # FILE COLUMN P -> ms
    [ -s "$1" ] || { echo n/a; return; }
    awk -v c="$2" '{ print $c }' "$1" | sort -n |
        awk -v p="$3" '{ v[NR] = $1 } END { r = int(p * NR + 0.999999); if (r < 1) r = 1; printf "%.1f", v[r] / 1e6 }'
}
ratio() { # A B -> A/B
    if [ "$1" = n/a ] || [ "$2" = n/a ] || [ "$2" = 0 ]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; fi
}
verdict() { # RATIO LIMIT
    if [ "$1" = n/a ]; then echo n/a; elif awk -v r="${1%x}" -v l="$2" 'BEGIN { exit !(r <= l) }'; then echo met; else echo MISSED; fi
}
cell() { # FILE COL -> "p50 (p90)"
    local a b
    a=$(pct "$1" "$2" 0.5) b=$(pct "$1" "$2" 0.9)
    [ "$a" = n/a ] && echo n/a || echo "$a ($b)"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row() { # LABEL COL FILE-STEM TARGET-LIMIT
    local b c r t=-
    b=$(pct "$work/raw/$3-berthd" "$2" 0.5) c=$(pct "$work/raw/$3-containerd" "$2" 0.5)
    r=$(ratio "$b" "$c")
    [ -n "$4" ] && t="<= $4x: $(verdict "$r" "$4")"
    echo "| $1 | $(cell "$work/raw/$3-berthd" "$2") | $(cell "$work/raw/$3-containerd" "$2") | $r | $t |"
}
rss_row() { # LABEL FIELD(1 daemon, 2 shims, 3 both) LIMIT
    local b c bn cn r t=-
    read -r _ bd bs bn < <(grep '^berthd ' "$work/rss.txt" || echo "berthd 0 0 0")
    read -r _ cd cs cn < <(grep '^containerd ' "$work/rss.txt" || echo "containerd 0 0 0")
    case $2 in
    1) b=$(mib "$bd") c=$(mib "$cd") ;;
    2) b="$(mib "$bs")" c="$(mib "$cs")" ;;
    3) b=$(mib $((bd + bs))) c=$(mib $((cd + cs))) ;;
    esac
    r=$(ratio "$b" "$c")
    [ -n "$3" ] && t="<= $3x: $(verdict "$r" "$3")"
    [ "$2" = 2 ] && b="$b ($bn shims)" c="$c ($cn shims)"
    echo "| $1 | $b | $c | $r | $t |"
}
echo
echo "| ms, p50 (p90) / MiB | berthd | containerd 1.6 CRI | berthd / containerd | target |"
echo "|---|---:|---:|---:|---|"
row "pod start (RunPodSandbox+CreateContainer+StartContainer)" 1 lifecycle 0.5
row "full lifecycle (+StopContainer 0, RemoveContainer, StopPodSandbox, RemovePodSandbox)" 2 lifecycle ""
row "List* with $FILL pods (ListPodSandbox+ListContainers+ListContainerStats)" 1 list 0.2
row "- ListPodSandbox" 2 list ""
row "- ListContainers" 3 list ""
row "- ListContainerStats" 4 list ""
cpu_row() {
    local n=$((LIFECYCLES + WARMUP)) b c
    b=$(awk -v v="${cpu[berthd]}" -v n=$n 'BEGIN { printf "%.1f", v / n }')
    c=$(awk -v v="${cpu[containerd]}" -v n=$n 'BEGIN { printf "%.1f", v / n }')
    [[ " $DAEMONS " = *" berthd "* ]] || b=n/a
    [[ " $DAEMONS " = *" containerd "* ]] || c=n/a
    echo "| daemon CPU per lifecycle (its own user+sys ms, no runc/CNI/shims) | $b | $c | $(ratio "$b" "$c") | - |"
}
cpu_row
rss_row "RSS with $FILL_RSS pods: daemon + shims" 3 0.25
rss_row "- daemon alone" 1 ""
rss_row "- shims alone" 2 ""
echo
echo "run lines:"
sed 's/^/    /' "$work/results.txt"
if [ "$failed" -gt 0 ]; then
    echo "run.sh: $failed phases reported errors; see $work/cribench.log" >&2
    exit 1
fi
