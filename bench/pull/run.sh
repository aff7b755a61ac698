#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Registry pull benchmark (issue 10): cold pulls from a local docker-registry (127.0.0.1, plain
# HTTP) of a busybox image and of a ~200 MiB 4-layer gzip image (half incompressible, half
# compressible data per layer), side by side in one run:
#   berthd           `berthctl images pull` (berthd's own puller)
#   containerd CRI   CRI PullImage (`crictl pull`) against Debian's containerd with CRI on and
#                    registry.config_path = a hosts.toml dir saying http://
#   ctr->containerd  `ctr images pull --plain-http` against that containerd
#   ctr->berthd      `ctr images pull --plain-http` against berthd (client-side pull)
# and ten concurrent pulls of the big image (berthd, containerd CRI): wall time and the blob
# GETs per digest in the registry's access log (target: each blob once).
# Every run gets freshly started daemons on empty roots. RUNS runs each (default 5); prints
# median and min. Rows whose command fails print "n/a" (e.g. a berthd without the puller).
# Env: BERTH_BIN (default build/bin), CONTAINERD (/usr/bin/containerd), CRICTL
# (/work/shared/tools/crictl or crictl in PATH), RUNS, WORK (scratch, default a temp dir under
# /var/tmp), KEEP=1 keeps it, LAYER_MIB (default 50).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
BERTH_BIN=${BERTH_BIN:-$HERE/../../build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CRICTL=${CRICTL:-$(command -v crictl || echo /work/shared/tools/crictl)}
RUNS=${RUNS:-5}
LAYER_MIB=${LAYER_MIB:-50}
WORK=${WORK:-$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)}
pid=

# the test harness's registry functions (docker-registry, skopeo push, access-log counts)
BATS_TEST_DIRNAME=$HERE/../../tests/integration
REG_ROOT=$WORK/reg
# shellcheck source=tests/integration/registry.bash
. "$BATS_TEST_DIRNAME/registry.bash"

cleanup() {
    stop_daemon "$pid" daemon
    reg_stop_all
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# ---- images: busybox from the test harness, and the big one
mkbig() { # OUT
    local out=$1 w i layers=() mh ms
    [ -f "$out/.done" ] && return 0
    mkdir -p "$out"
    w=$(mktemp -d "$out/.work.XXXXXX")
    mkdir -p "$w/l0/bin"
    cp "$(command -v busybox)" "$w/l0/bin/busybox"
    ln -s busybox "$w/l0/bin/sh"
    _reg_layer "$w/l0" "$w/l0.tar.gz"
    layers+=("$w/l0.tar.gz")
    for i in $(seq 1 4); do
        mkdir -p "$w/l$i/data$i"
        # half incompressible, half text that gzip shrinks about 4x
        head -c $((LAYER_MIB * 512 * 1024)) /dev/urandom >"$w/l$i/data$i/random"
        (set +o pipefail; head -c $((LAYER_MIB * 384 * 1024)) /dev/urandom | base64 -w 76 |
            head -c $((LAYER_MIB * 512 * 1024)) >"$w/l$i/data$i/text")
        (cd "$w/l$i" && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
            --format=gnu -cf - .) | gzip -n -6 >"$w/l$i.tar.gz"
        rm -rf "$w/l$i"
        layers+=("$w/l$i.tar.gz")
    done
    read -r mh ms < <(_reg_manifest "$out" "$REG_ARCH" "" "${layers[@]}")
    _reg_top "$out" application/vnd.oci.image.manifest.v1+json "$mh" "$ms"
    rm -rf "$w"
    touch "$out/.done"
}

reg_mkimages "$WORK/img"
mkbig "$WORK/img/big200"
reg_start bench plain
reg_push bench "$WORK/img/busybox" bench/busybox:latest
reg_push bench "$WORK/img/big200" bench/big:latest
H=$(reg_host bench)
mkdir -p "$WORK/hosts"
hosts_toml "$WORK/hosts" "$H" "http://$H"

# start berthd|berthd-plain|containerd: fresh root/state/socket; returns 1 if it does not come up
start() {
    stop_daemon "$pid" daemon
    pid=
    rm -rf "$WORK/d"
    mkdir -p "$WORK/d"
    case $1 in
    berthd)
        pull_config "$WORK/d/berthd.toml" "$WORK/hosts"
        "$BERTH_BIN/berthd" --config "$WORK/d/berthd.toml" --root "$WORK/d/root" \
            --state "$WORK/d/state" --address "$WORK/d/s.sock" >>"$WORK/berthd.log" 2>&1 </dev/null &
        ;;
    berthd-plain)
        "$BERTH_BIN/berthd" --root "$WORK/d/root" --state "$WORK/d/state" \
            --address "$WORK/d/s.sock" >>"$WORK/berthd.log" 2>&1 </dev/null &
        ;;
    containerd)
        cat >"$WORK/d/config.toml" <<EOC
version = 2
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$WORK/hosts"
EOC
        "$CONTAINERD" --root "$WORK/d/root" --state "$WORK/d/state" --address "$WORK/d/s.sock" \
            --config "$WORK/d/config.toml" >>"$WORK/containerd.log" 2>&1 </dev/null &
        ;;
    esac
    pid=$!
    wait_socket "$WORK/d/s.sock" "$pid"
}

stop() {
    stop_daemon "$pid" daemon
    pid=
    rm -rf "$WORK/d"
}

# pull_cmd WHO REF: the pull command of WHO against $WORK/d/s.sock
pull_cmd() {
    local s=$WORK/d/s.sock
    case $1 in
    berthd) "$BERTH_BIN/berthctl" -a "$s" images pull "$2" ;;
    cri) "$CRICTL" --timeout 600s --runtime-endpoint "unix://$s" --image-endpoint "unix://$s" \
        pull "$2" ;;
    ctr-containerd | ctr-berthd) ctr -a "$s" images pull --plain-http "$2" ;;
    esac
}

daemon_of() {
    case $1 in
    berthd) echo berthd ;;
    ctr-berthd) echo berthd-plain ;;
    *) echo containerd ;;
    esac
}

# one_run WHO REF -> seconds, or n/a when the daemon or the pull fails
one_run() {
    local who=$1 ref=$2 t0 t1
    if ! start "$(daemon_of "$who")"; then
        stop
        echo n/a
        return
    fi
    sync
    t0=$(date +%s.%N)
    if ! pull_cmd "$who" "$ref" >>"$WORK/pull.log" 2>&1; then
        stop
        echo n/a
        return
    fi
    t1=$(date +%s.%N)
    stop
    echo "$t1 - $t0" | bc
}

stats() { # values... -> "median min", or "n/a n/a" if any run failed
    case " $* " in *" n/a "*)
        echo "n/a n/a"
        return
        ;;
    esac
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {printf "%.2f %.2f", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2), v[1]}'
}

ratio() { # a b -> a/b with 2 decimals, or n/a
    if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else echo "$(echo "scale=2; $1 / $2" | bc)x"; fi
}

# concurrent WHO N REF -> "seconds max-GETs-per-blob blobs-fetched", n/a when a pull failed
concurrent() {
    local who=$1 n=$2 ref=$3 t0 t1 i pids=() fail=0 counts
    if ! start "$(daemon_of "$who")"; then
        stop
        echo "n/a n/a n/a"
        return
    fi
    reg_mark bench
    t0=$(date +%s.%N)
    for i in $(seq "$n"); do
        pull_cmd "$who" "$ref" >>"$WORK/pull.log" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || fail=1; done
    t1=$(date +%s.%N)
    stop
    counts=$(reg_blob_get_counts bench)
    if [ "$fail" = 1 ]; then
        echo "n/a $(awk 'BEGIN {m=0} $1 > m {m=$1} END {print m}' <<<"$counts") $(grep -c . <<<"$counts")"
        return
    fi
    echo "$(printf '%.2f' "$(echo "$t1 - $t0" | bc)") $(awk 'BEGIN {m=0} $1 > m {m=$1} END {print m}' <<<"$counts") $(grep -c . <<<"$counts")"
}

big_mib=$(du -cm "$WORK/img/big200/blobs/sha256"/* | tail -1 | cut -f1)
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs; containerd: $("$CONTAINERD" --version | head -1); crictl: $("$CRICTL" --version)"
echo "# registry: docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null) on $H (plain HTTP); unpigz: $(command -v unpigz || echo absent)"
echo "# big image: 5 gzip layers (busybox + 4 x ${LAYER_MIB} MiB), ${big_mib} MiB compressed; $RUNS runs each, fresh daemons per run"
echo
echo "| image | berthd (berthctl) median / min s | containerd CRI (crictl) median / min s | ctr -> containerd median / min s | ctr -> berthd median / min s | CRI / berthd | target 1.5x |"
echo "|---|---|---|---|---|---|---|"
for img in busybox big; do
    ref=$H/bench/$img:latest
    declare -a b=() c=() cc=() cb=()
    for _ in $(seq 1 "$RUNS"); do
        b+=("$(one_run berthd "$ref")")
        c+=("$(one_run cri "$ref")")
        cc+=("$(one_run ctr-containerd "$ref")")
        cb+=("$(one_run ctr-berthd "$ref")")
    done
    read -r bm bn <<<"$(stats "${b[@]}")"
    read -r cm cn <<<"$(stats "${c[@]}")"
    read -r ccm ccn <<<"$(stats "${cc[@]}")"
    read -r xm xn <<<"$(stats "${cb[@]}")"
    r=$(ratio "$cm" "$bm")
    target=-
    if [ "$img" = big ]; then
        if [ "$r" = n/a ]; then target=n/a; elif [ "$(echo "${r%x} >= 1.5" | bc)" = 1 ]; then target=met; else target=MISSED; fi
    fi
    echo "| $img | $bm / $bn | $cm / $cn | $ccm / $ccn | $xm / $xn | $r | $target |"
done

echo
echo "| 10 concurrent pulls of big | wall s | max GETs of one blob | blobs fetched | each blob once |"
echo "|---|---|---|---|---|"
for who in berthd cri; do
    read -r secs maxg nblobs <<<"$(concurrent "$who" 10 "$H/bench/big:latest")"
    once=n/a
    if [ "$secs" != n/a ]; then [ "$maxg" = 1 ] && once=met || once=MISSED; fi
    echo "| $([ "$who" = cri ] && echo "containerd CRI" || echo berthd) | $secs | $maxg | $nblobs | $once |"
done
