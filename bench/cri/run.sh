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
# shellcheck source=bench/lib.sh
. "$here/../lib.sh" # stop_daemon
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
IMAGE=docker.io/berth/busybox:latest
PAUSE_IMAGE=localhost/berth-bench/pause:1

for f in "$BERTH_BIN/berthd" "$BERTH_BIN/berth-shim" "$BERTH_BIN/berth-pause" \
    "$BERTH_BIN/berthctl" "$CRIBENCH" "$CONTAINERD" "$CNI_BIN/bridge" "$CNI_BIN/host-local" \
    "$CNI_BIN/portmap" "$CNI_BIN/loopback"; do
    [ -x "$f" ] || { echo "run.sh: $f not found or not executable" >&2; exit 1; }
done
command -v ctr >/dev/null || { echo "run.sh: ctr (Debian package containerd) not found" >&2; exit 1; }
[ "$FILL" -ge "$FILL_RSS" ] || { echo "run.sh: FILL must be >= FILL_RSS" >&2; exit 1; }

work=$(mktemp -d "$TMPBASE/berth-bench-cri.XXXXXX")
tag=$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 6)
BR=bcb$tag
CGROUP_PARENT=/berth-bench-cri-$tag
PREFIX=cribench-$tag
declare -A pid sock
pid[berthd]='' pid[containerd]=''
sock[berthd]=$work/berthd/berthd.sock
sock[containerd]=$work/containerd/containerd.sock
netns_before=$(find /var/run/netns -maxdepth 1 -name 'cni-*' -printf '%f\n' 2>/dev/null || true)

# A /22 of 10.240.0.0/12 that no route on this host touches (other tests use 10.99/16).
pick_subnet() {
    local a b routes
    routes=$(ip -4 route show)
    for _ in $(seq 50); do
        a=$((240 + RANDOM % 16)) b=$((RANDOM % 64 * 4))
        if ! grep -q "^10\.$a\." <<<"$routes"; then
            echo "10.$a.$b.0/22"
            return 0
        fi
    done
    echo "run.sh: no free 10.240.0.0/12 subnet" >&2
    return 1
}
SUBNET=$(pick_subnet)
SUBNET_RE=$(sed 's/\.0\/22$//; s/\./\\./g' <<<"$SUBNET")

# cribench DAEMON MODE [ARGS...]: one berth-bench-cri run against DAEMON, its line on stdout
cribench() {
    local d=$1 mode=$2
    shift 2
    "$CRIBENCH" -a "${sock[$d]}" --label "$d" --prefix "$PREFIX" --image "$IMAGE" \
        --log-dir "$work/logs" --cgroup-parent "$CGROUP_PARENT" "$@" "$mode" 2>>"$work/cribench.log"
}

# ---- cleanup: pods first (through the daemons), then whatever a crash may have left
kill_leftovers() {
    local p exe f m ns
    # shims of our two daemons (their -address is our socket), then container processes (all
    # live in our cgroup parent)
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in */berth-shim | */containerd-shim-runc-v2) ;; *) continue ;; esac
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -e "${sock[berthd]}" -e "${sock[containerd]}"; then
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
    for f in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
        [ -d "$f" ] || continue
        find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null |
            while read -r p; do kill -KILL "$p" 2>/dev/null || true; done
    done
    # mounts under the work dir (rootfs, shm, netns bind mounts), deepest first
    awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    # containerd 1.6 keeps pod netns in /var/run/netns: ours are the new ones holding our subnet
    for ns in /var/run/netns/cni-*; do
        [ -e "$ns" ] || continue
        ns=${ns##*/}
        grep -qxF "$ns" <<<"$netns_before" && continue
        if ip netns exec "$ns" ip -4 addr show 2>/dev/null | grep -q "inet $SUBNET_RE\."; then
            umount "/var/run/netns/$ns" 2>/dev/null || true
            rm -f "/var/run/netns/$ns"
        fi
    done
    for f in /sys/fs/cgroup/*/"$CGROUP_PARENT"; do
        if [ -d "$f" ]; then find "$f" -depth -type d -exec rmdir {} + 2>/dev/null; fi
    done
    ip link del "$BR" 2>/dev/null || true
    # iptables rules naming our bridge or subnet (the conflist asks for none; a plugin change
    # could add some)
    local t line
    for t in filter nat mangle; do
        iptables-save -t "$t" 2>/dev/null | grep -E "^-A .*($BR|$SUBNET_RE\.)" |
            while read -r line; do
                # shellcheck disable=SC2086
                iptables -t "$t" -D ${line#-A } 2>/dev/null || true
            done
    done
}

cleanup() {
    local rc=$? d
    trap - EXIT INT TERM
    set +e +o pipefail # remove as much as possible, whatever fails
    for d in berthd containerd; do
        if [ -n "${pid[$d]}" ] && kill -0 "${pid[$d]}" 2>/dev/null; then
            cribench "$d" clean -c "$FILL_C" >/dev/null 2>&1 || true
        fi
        stop_daemon "${pid[$d]}" "$d"
        pid[$d]=''
    done
    kill_leftovers
    if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        rm -rf "$work/berthd/root" "$work/berthd/state" "$work/containerd/root" \
            "$work/containerd/state" "$work/containerd/opt" "$work/img"
        echo "run.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/berthd" "$work/containerd" "$work/cni" "$work/logs" "$work/raw"

# ---- images: busybox (tests/data/mkimages.sh, offline) and a pause image for containerd built
# from berth-pause as berthd builds its own (one layer holding /pause, user 65535)
bash "$repo/tests/data/mkimages.sh" "$work/img" >/dev/null
python3 - "$BERTH_BIN/berth-pause" "$work/img/pause.tar" "$PAUSE_IMAGE" <<'PY'
import hashlib, io, json, platform, sys, tarfile
pause, out, name = sys.argv[1:4]
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())

def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n, data, mode in members:
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

layer = tar_of([("pause", open(pause, "rb").read(), 0o755)])
config = json.dumps({"architecture": arch, "os": "linux", "created": "1970-01-01T00:00:00Z",
                     "config": {"Entrypoint": ["/pause"], "User": "65535:65535", "WorkingDir": "/"},
                     "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": digest(config), "size": len(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": digest(layer), "size": len(layer)}]}).encode()
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "digest": digest(manifest), "size": len(manifest),
                                   "annotations": {"io.containerd.image.name": name,
                                                   "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}}]}).encode()
blobs = [("blobs/sha256/" + digest(b)[7:], b, 0o644) for b in (layer, config, manifest)]
open(out, "wb").write(tar_of([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644),
                              ("index.json", index, 0o644)] + blobs))
PY

# ---- one conflist for both daemons
cat >"$work/cni/10-bench.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "berth-bench-cri", "plugins": [
  {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$work/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF

# ---- the daemons
cat >"$work/berthd/config.toml" <<EOF
[cri.cni]
conf_dir = "$work/cni"
bin_dir = "$CNI_BIN"
EOF
cat >"$work/containerd/config.toml" <<EOF
version = 2
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$work/cni"
EOF

start_daemon() { # NAME
    local d=$1
    case $d in
    berthd)
        "$BERTH_BIN/berthd" --root "$work/berthd/root" --state "$work/berthd/state" \
            --address "${sock[$d]}" --config "$work/berthd/config.toml" \
            >"$work/berthd.log" 2>&1 </dev/null &
        ;;
    containerd)
        "$CONTAINERD" --root "$work/containerd/root" --state "$work/containerd/state" \
            --address "${sock[$d]}" --config "$work/containerd/config.toml" \
            >"$work/containerd.log" 2>&1 </dev/null &
        ;;
    esac
    pid[$d]=$!
}

wait_ready() { # NAME
    local d=$1
    for _ in $(seq 300); do
        kill -0 "${pid[$d]}" 2>/dev/null || { echo "run.sh: $d exited during startup; log:" >&2; tail -30 "$work/$d.log" >&2; exit 1; }
        if [ -S "${sock[$d]}" ] && ctr --address "${sock[$d]}" --timeout 1s version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "run.sh: $d not ready after 30 s" >&2
    exit 1
}

import_images() { # NAME
    local d=$1 s=${sock[$1]}
    case $d in
    berthd) "$BERTH_BIN/berthctl" -a "$s" -n k8s.io images import "$work/img/oci/busybox.tar" ;;
    containerd)
        ctr -a "$s" -n k8s.io images import "$work/img/oci/busybox.tar" &&
            ctr -a "$s" -n k8s.io images import "$work/img/pause.tar"
        ;;
    esac >>"$work/import.log" 2>&1 || { echo "run.sh: importing images into $d failed; see $work/import.log" >&2; exit 1; }
}

# "daemon_kib shims_kib n_shims": VmRSS of the daemon and the sum over its shims
rss_of() { # NAME
    local d=$1 p exe shims=0 n=0 r
    local want=berth-shim
    [ "$d" = containerd ] && want=containerd-shim-runc-v2
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        [ "${exe##*/}" = "$want" ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "${sock[$d]}" || continue
        r=$(awk '/^VmRSS:/ { print $2 }' "$p/status" 2>/dev/null) || continue
        shims=$((shims + ${r:-0}))
        n=$((n + 1))
    done
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid[$d]}/status" 2>/dev/null) || r=0
    echo "${r:-0} $shims $n"
}

alive() { # NAME PHASE
    kill -0 "${pid[$1]}" 2>/dev/null && return 0
    echo "run.sh: $1 died during $2; log tail:" >&2
    tail -20 "$work/$1.log" >&2
    exit 1
}

# CPU time (user + system, ms) the daemon process itself has used: its own work per pod, apart
# from runc, CNI plugins and shims (children it waited for are not counted)
cpu_ms() { # NAME
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
        "/proc/${pid[$1]}/stat" 2>/dev/null || echo 0
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
    alive "$d" "$phase"
}

for d in $DAEMONS; do start_daemon "$d"; done
for d in $DAEMONS; do wait_ready "$d"; import_images "$d"; done
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
