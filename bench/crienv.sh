# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Shell pieces for benchmarks that run berthd's CRI and containerd 1.6's CRI plugin side by side
# (bench/cri, bench/stream); sourced, not run: both daemons on private roots under one temp dir,
# one CNI conflist (a bridge
# and /22 of the run's own, host-local state in the temp dir), busybox and a pause image built
# from berth-pause imported offline, and a teardown that removes whatever the run made (shims,
# container processes, mounts, netns, cgroups, the bridge, iptables rules naming it) even after
# a crash of either daemon.
#
# The caller sets repo (the checkout), BERTH_BIN, CONTAINERD, CNI_BIN, TMPBASE and optionally CRIENV_BERTHD_CRI /
# CRIENV_CONTAINERD_CRI (extra TOML lines for berthd's [cri] table and containerd's
# [plugins."io.containerd.grpc.v1.cri"] table), then calls crienv_init NAME first. Globals set
# there: work (the temp dir), tag, BR, SUBNET, SUBNET_RE, CGROUP_PARENT, IMAGE, PAUSE_IMAGE and
# the arrays pid[NAME] and sock[NAME] for NAME in berthd, containerd. Messages go to stderr
# prefixed with $CRIENV_ME (the script's name).

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # stop_daemon

CRIENV_ME=${CRIENV_ME:-run.sh}
: "${repo:?crienv.sh: set repo before sourcing}"
# shellcheck disable=SC2034 # for the caller
IMAGE=docker.io/berth/busybox:latest
PAUSE_IMAGE=localhost/berth-bench/pause:1
declare -A pid sock
pid[berthd]='' pid[containerd]=''

crienv_die() {
    echo "$CRIENV_ME: $*" >&2
    exit 1
}

# crienv_need_tools [MORE...]: the binaries every CRI bench needs, plus MORE; exits if one is
# missing.
crienv_need_tools() {
    local f
    for f in "$BERTH_BIN/berthd" "$BERTH_BIN/berth-shim" "$BERTH_BIN/berth-pause" \
        "$BERTH_BIN/berthctl" "$CONTAINERD" "$CNI_BIN/bridge" "$CNI_BIN/host-local" \
        "$CNI_BIN/portmap" "$CNI_BIN/loopback" "$@"; do
        [ -x "$f" ] || crienv_die "$f not found or not executable"
    done
    command -v ctr >/dev/null || crienv_die "ctr (Debian package containerd) not found"
}

# A /22 of 10.240.0.0/12 that no route on this host touches (other tests use 10.99/16).
crienv_pick_subnet() {
    local a b routes
    routes=$(ip -4 route show)
    for _ in $(seq 50); do
        a=$((240 + RANDOM % 16)) b=$((RANDOM % 64 * 4))
        if ! grep -q "^10\.$a\." <<<"$routes"; then
            echo "10.$a.$b.0/22"
            return 0
        fi
    done
    crienv_die "no free 10.240.0.0/12 subnet"
}

# crienv_init NAME BRIDGE_PREFIX: makes the temp dir $TMPBASE/NAME.XXXXXX and names everything
# after it (the bridge is BRIDGE_PREFIX, 3 letters, and the dir's 6 random characters)
crienv_init() {
    work=$(mktemp -d "$TMPBASE/$1.XXXXXX")
    tag=$(basename "$work" | tr -dc 'a-zA-Z0-9' | tail -c 6)
    BR=$2$tag
    CGROUP_PARENT=/$1-$tag
    sock[berthd]=$work/berthd/berthd.sock
    sock[containerd]=$work/containerd/containerd.sock
    crienv_netns_before=$(find /var/run/netns -maxdepth 1 -name 'cni-*' -printf '%f\n' 2>/dev/null || true)
    SUBNET=$(crienv_pick_subnet)
    SUBNET_RE=$(sed 's/\.0\/22$//; s/\./\\./g' <<<"$SUBNET")
    mkdir -p "$work/berthd" "$work/containerd" "$work/cni" "$work/logs"
}

# crienv_kill_leftovers: whatever a crash may have left, after the pods were removed through
# the daemons (or could not be)
crienv_kill_leftovers() {
    local p exe f m ns t line
    # shims of our two daemons (their -address is our socket), then container processes (all
    # live in our cgroup parent)
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case $exe in */berth-shim | */containerd-shim-runc-v2) ;; *) continue ;; esac
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -e "${sock[berthd]}" -e "${sock[containerd]}"; then
            kill -KILL "${p#/proc/}" 2>/dev/null || true
        fi
    done
    # cgroup v1 hierarchies and the v2 (or hybrid "unified") one
    for f in /sys/fs/cgroup/*"$CGROUP_PARENT" /sys/fs/cgroup"$CGROUP_PARENT"; do
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
        grep -qxF "$ns" <<<"$crienv_netns_before" && continue
        if ip netns exec "$ns" ip -4 addr show 2>/dev/null | grep -q "inet $SUBNET_RE\."; then
            umount "/var/run/netns/$ns" 2>/dev/null || true
            rm -f "/var/run/netns/$ns"
        fi
    done
    for f in /sys/fs/cgroup/*"$CGROUP_PARENT" /sys/fs/cgroup"$CGROUP_PARENT"; do
        if [ -d "$f" ]; then find "$f" -depth -type d -exec rmdir {} + 2>/dev/null; fi
    done
    ip link del "$BR" 2>/dev/null || true
    # iptables rules naming our bridge or subnet (the conflist asks for none; a plugin change
    # could add some)
    for t in filter nat mangle; do
        iptables-save -t "$t" 2>/dev/null | grep -E "^-A .*($BR|$SUBNET_RE\.)" |
            while read -r line; do
                # shellcheck disable=SC2086
                iptables -t "$t" -D ${line#-A } 2>/dev/null || true
            done
    done
}

# crienv_teardown RC CLEAN_FN: CLEAN_FN NAME (removing the pods through a daemon still
# running) for each daemon, stops both, removes leftovers, then the temp dir (only the logs are
# kept when RC is not 0 or KEEP=1)
crienv_teardown() {
    local rc=$1 clean=$2 d
    for d in berthd containerd; do
        if [ -n "${pid[$d]}" ] && kill -0 "${pid[$d]}" 2>/dev/null; then
            "$clean" "$d" >/dev/null 2>&1 || true
        fi
        stop_daemon "${pid[$d]}" "$d"
        pid[$d]=''
    done
    [ -n "${work:-}" ] || return 0
    crienv_kill_leftovers
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        rm -rf "$work/berthd/root" "$work/berthd/state" "$work/containerd/root" \
            "$work/containerd/state" "$work/containerd/opt" "$work/img"
        echo "$CRIENV_ME: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}

# crienv_images: busybox (tests/data/mkimages.sh, offline) and a pause image for containerd
# built from berth-pause as berthd builds its own (one layer holding /pause, user 65535)
crienv_images() {
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
}

# crienv_configs: the conflist and both daemons' config files
crienv_configs() {
    cat >"$work/cni/10-bench.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "berth-bench-cri", "plugins": [
  {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$work/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
    cat >"$work/berthd/config.toml" <<EOF
[cri]
${CRIENV_BERTHD_CRI:-}
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
${CRIENV_CONTAINERD_CRI:-}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$work/cni"
EOF
}

crienv_start() { # NAME
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

crienv_wait_ready() { # NAME
    local d=$1
    for _ in $(seq 300); do
        if ! kill -0 "${pid[$d]}" 2>/dev/null; then
            echo "$CRIENV_ME: $d exited during startup; log:" >&2
            tail -30 "$work/$d.log" >&2
            exit 1
        fi
        if [ -S "${sock[$d]}" ] && ctr --address "${sock[$d]}" --timeout 1s version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    crienv_die "$d not ready after 30 s"
}

crienv_import() { # NAME
    local d=$1 s=${sock[$1]}
    case $d in
    berthd) "$BERTH_BIN/berthctl" -a "$s" -n k8s.io images import "$work/img/oci/busybox.tar" ;;
    containerd)
        ctr -a "$s" -n k8s.io images import "$work/img/oci/busybox.tar" &&
            ctr -a "$s" -n k8s.io images import "$work/img/pause.tar"
        ;;
    esac >>"$work/import.log" 2>&1 || crienv_die "importing images into $d failed; see $work/import.log"
}

crienv_alive() { # NAME PHASE
    kill -0 "${pid[$1]}" 2>/dev/null && return 0
    echo "$CRIENV_ME: $1 died during $2; log tail:" >&2
    tail -20 "$work/$1.log" >&2
    exit 1
}

# crienv_cpu_ms PID: CPU time (user + system, ms) the process itself has used (children it
# waited for are not counted); 0 for a process gone
crienv_cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

# crienv_shim_pids NAME: the pids of NAME's shims (berth-shim or containerd-shim-runc-v2 with
# our socket on their command line), one a line
crienv_shim_pids() {
    local d=$1 p exe want=berth-shim
    [ "$d" = containerd ] && want=containerd-shim-runc-v2
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        [ "${exe##*/}" = "$want" ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "${sock[$d]}" || continue
        echo "${p#/proc/}"
    done
}

# crienv_pct FILE P [DIV]: nearest-rank P-quantile (0..1) of the numbers in FILE (one a line),
# divided by DIV (1), one decimal; n/a for an empty or missing file
crienv_pct() {
    [ -s "$1" ] || { echo n/a; return; }
    sort -n "$1" | awk -v p="$2" -v d="${3:-1}" \
        '{ v[NR] = $1 } END { r = int(p * NR + 0.999999); if (r < 1) r = 1; printf "%.1f", v[r] / d }'
}

crienv_ratio() { # A B -> A/B
    if [ "$1" = n/a ] || [ "$2" = n/a ] || [ "$2" = 0 ] || [ "$2" = 0.0 ]; then
        echo n/a
    else
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
    fi
}

# crienv_verdict RATIO OP LIMIT: "met" when RATIO OP LIMIT holds (OP is <= or >=), else MISSED
crienv_verdict() {
    if [ "$1" = n/a ]; then
        echo n/a
    elif awk -v r="${1%x}" -v op="$2" -v l="$3" 'BEGIN { exit !(op == "<=" ? r <= l : r >= l) }'; then
        echo met
    else
        echo MISSED
    fi
}
