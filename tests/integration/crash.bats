#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Crash consistency (issue 14): in a loop, start one operation chosen at random (import of a
# ~50 MiB image, a pull from a local registry, `run -d`, a CRI pod with a container on a CNI
# bridge (crictl), a GC pass, 200 concurrent container creates whose acknowledgements are
# recorded), SIGKILL berthd after a random delay, restart it, let start-up cleanup run (a GC
# pass), then `berthctl fsck` must be clean, every acknowledged write must be there, and the
# operation must succeed when run again (a pod's removal must then leave no netns, sandbox or
# container dir). The same with a container's shim killed instead: the task shows stopped with
# an exit status and is deletable, the container removable, fsck clean.
#
# ITERATIONS (default 30) bounds the loop, CRASH_BUDGET (seconds, default 150) its time: the
# loop stops at whichever comes first and says how many iterations ran. SEED replays a run
# (the seed is printed). WRITES (default 200) is the number of concurrent creates. CRASH_OPS
# ("pod gc", ...) limits the operations drawn. Run thousands: ITERATIONS=5000 CRASH_BUDGET=0
# bats crash.bats.

load helpers
load registry
load cri # crictl and its helpers; this file's own setup functions below replace cri.bash's

IMG=docker.io/berth/busybox:latest
BIG=docker.io/berth/big:latest
SHIM=io.containerd.berth.v1

setup_file() {
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$BATS_FILE_TMPDIR/data" >/dev/null
    LAYER_MIB=50 LAYERS=1 bash "$BATS_TEST_DIRNAME/../../bench/import/mkbig.sh" \
        "$BATS_FILE_TMPDIR/big" >/dev/null
    if CRICTL_BIN=$(find_crictl); then
        export CRICTL_BIN
    elif [ "${CI:-}" = true ]; then
        echo "crictl not found (\$CRICTL, PATH, ../shared/tools/crictl)" >&2
        return 1
    fi
    if command -v docker-registry >/dev/null && command -v skopeo >/dev/null &&
        "$BERTH_BIN/berthctl" help images | grep -q '^  pull'; then
        reg_mkimages "$BATS_FILE_TMPDIR/img"
        reg_start plain plain
        reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
        touch "$BATS_FILE_TMPDIR/registry-up"
    fi
}

teardown_file() {
    reg_stop_all
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    berth_tmp_init
    OPS=(import run gc writes)
    if [ -e "$BATS_FILE_TMPDIR/registry-up" ]; then
        mkdir -p "$BERTH_TMP/hosts"
        H=$(reg_host plain)
        hosts_toml "$BERTH_TMP/hosts" "$H" "http://$H"
        pull_config "$BERTH_TMP/berthd.toml" "$BERTH_TMP/hosts"
        OPS+=(pull)
    else
        : >"$BERTH_TMP/berthd.toml"
    fi
    BR=
    if [ -n "${CRICTL_BIN:-}" ]; then
        # CRI pods on a bridge and subnet of this test's own (as cri.bash makes them)
        CNI_CONF="$BERTH_TMP/cni" LOGS="$BERTH_TMP/logs" IMAGE=$IMG
        BR="bc$(printf '%04x' $((RANDOM % 65536)))"
        mkdir -p "$CNI_CONF" "$LOGS"
        cni_conflist "$CNI_CONF" berth-crash "$BR" "10.98.$((RANDOM % 200 + 20)).0/24"
        printf '\n[cri.cni]\nconf_dir = "%s"\nbin_dir = "/usr/lib/cni"\n' "$CNI_CONF" \
            >>"$BERTH_TMP/berthd.toml"
        OPS+=(pod)
    else
        export BERTH_CRI=0
    fi
    [ -z "${CRASH_OPS:-}" ] || read -ra OPS <<<"$CRASH_OPS"
    start_berthd --config "$BERTH_TMP/berthd.toml"
    ctrb images import "$BATS_FILE_TMPDIR/data/oci/busybox.tar" >/dev/null
    [ -z "$BR" ] || bctl -n k8s.io images import "$BATS_FILE_TMPDIR/data/oci/busybox.tar" >/dev/null
    WRITES=${WRITES:-200}
    SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
    RANDOM=$SEED
    echo "# seed $SEED (replay with SEED=$SEED)" >&3
}

teardown() {
    if [ -n "${BERTHD_PID:-}" ] && [ -n "${BR:-}" ]; then
        for p in $(cri pods -q 2>/dev/null); do cri rmp -f "$p" >/dev/null 2>&1 || true; done
    fi
    tasks_teardown
    [ -z "${BR:-}" ] || ip link del "$BR" 2>/dev/null || true
}

# The pods named $1 (crictl), one id a line.
pods_named() {
    cri pods -q --name "^$1\$" 2>/dev/null
}

# The operation $1 of iteration $2, run to completion (its status is what it returns).
op() {
    local i
    case $1 in
    import) bctl images import --index-name "$BIG" "$BATS_FILE_TMPDIR/big/big-tar.tar" ;;
    pull) bctl images pull "$H/test/busybox:latest" ;;
    run) bctl run -d --runtime "$SHIM" "$IMG" "r$2" sleep 1000 ;;
    pod)
        local pj p
        pj=$(pod_json "p$2" '"port_mappings": [{"protocol": 0, "container_port": 80, "host_port": '$((20000 + $2))'}]')
        p=$(cri runp "$pj") && run_ctr "$p" "$pj" "c$2" '["sleep", "1000"]'
        ;;
    gc) bctl gc ;;
    writes) # all at once on one connection; each id printed when acknowledged
        seq -f "w$2-%g" "$WRITES" |
            "$BERTH_BIN/berth-creates" -a "$SOCK" --image "$IMG" >>"$BERTH_TMP/acked"
        ;;
    esac
}

# Finishes operation $1 of iteration $2 after the restart: running it again must succeed.
finish() {
    local p
    case $1 in
    run)
        # whatever the crash left of r$2 goes, then the run must work from scratch
        bctl tasks kill -s 9 "r$2" >/dev/null 2>&1 || true
        bctl tasks rm -f "r$2" >/dev/null 2>&1 || true
        bctl containers rm "r$2" >/dev/null 2>&1 || true
        # a kill between the snapshot and the container record leaves the snapshot, held by
        # the run's lease (as with ctr run): the operator removes it to reuse the name
        bctl snapshots rm "r$2" >/dev/null 2>&1 || true
        op run "$2" || return 1
        bctl tasks kill -s 9 "r$2" && wait_task_stopped "r$2" && bctl tasks rm "r$2" &&
            bctl containers rm "r$2"
        ;;
    pod)
        # whatever the crash left of pod p$2 goes with rmp, then the pod must run from scratch
        for p in $(pods_named "p$2"); do cri rmp -f "$p" >/dev/null || return 1; done
        op pod "$2" >/dev/null || return 1
        for p in $(pods_named "p$2"); do cri rmp -f "$p" >/dev/null || return 1; done
        # nothing of any pod is left: no netns, sandbox or container dir, lease or port rule
        local left
        left=$(ls "$STATE/netns" "$ROOT"/io.containerd.grpc.v1.cri/{sandboxes,containers} \
            "$STATE"/io.containerd.grpc.v1.cri/{sandboxes,containers} 2>/dev/null | grep -v -e '^/' -e '^$')
        [ -z "$left" ] || {
            echo "after the pods went: $left" >&2
            return 1
        }
        [ -z "$(ls "$BERTH_TMP/ipam/berth-crash" 2>/dev/null | grep '^10\.')" ] || return 1
        ! iptables-save -t nat | grep -q "\"berth-crash\"" || return 1
        ;;
    writes)
        bctl containers ls -q >"$BERTH_TMP/present"
        seq -f "w$2-%g" "$WRITES" | grep -vxF -f "$BERTH_TMP/present" |
            "$BERTH_BIN/berth-creates" -a "$SOCK" --image "$IMG" >/dev/null ||
            true # a failure shows as a missing id
        bctl containers ls -q >"$BERTH_TMP/present"
        [ "$(grep -c "^w$2-" "$BERTH_TMP/present")" -eq "$WRITES" ] || return 1
        # keep the store small for the next iterations
        # shellcheck disable=SC2046
        bctl containers rm $(grep "^w$2-" "$BERTH_TMP/present") >/dev/null
        ;;
    *) op "$1" "$2" >/dev/null ;;
    esac
}

# fsck after start-up cleanup; prints what it found on failure.
fsck_clean() {
    bctl gc >/dev/null # the start-up pass: what a crash left half-made goes (gc.md)
    run bctl fsck
    if [ "$status" -ne 0 ]; then
        echo "iteration $1 ($2, seed $SEED): fsck exit $status:" >&2
        echo "$output" >&2
        return 1
    fi
}

@test "crash: SIGKILL berthd during random operations; fsck clean, acknowledged writes kept" {
    local n=${ITERATIONS:-30} budget=${CRASH_BUDGET:-150} start=$SECONDS i=0 o delay pid
    local -A count=()
    : >"$BERTH_TMP/acked"
    while [ "$i" -lt "$n" ]; do
        if [ "$budget" -gt 0 ] && [ $((SECONDS - start)) -ge "$budget" ]; then
            break
        fi
        i=$((i + 1))
        o=${OPS[RANDOM % ${#OPS[@]}]}
        count[$o]=$((${count[$o]:-0} + 1))
        # the kill lands while the operation runs (about as long as each takes here)
        case $o in
        writes | gc) delay=$((RANDOM % 150)) ;;
        run) delay=$((RANDOM % 300)) ;;
        pull) delay=$((RANDOM % 600)) ;;
        *) delay=$((RANDOM % 1500)) ;;
        esac
        # a client cut off by the kill must give up, never hang the loop
        (op "$o" "$i") >"$BERTH_TMP/op.out" 2>&1 &
        pid=$!
        sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
        kill9_berthd
        wait_pid "$pid" 15 || {
            echo "iteration $i ($o, seed $SEED): the client hung after berthd died" >&2
            return 1
        }
        echo "# iteration $i: $o killed after ${delay} ms ($((SECONDS - start)) s)$([ "$o" != writes ] || echo ", $(wc -l <"$BERTH_TMP/acked")/$WRITES acknowledged")" >&3
        start_berthd --config "$BERTH_TMP/berthd.toml"
        fsck_clean "$i" "$o"
        # every acknowledged create survived
        bctl containers ls -q >"$BERTH_TMP/present"
        while read -r id; do
            grep -qx "$id" "$BERTH_TMP/present" || {
                echo "iteration $i (seed $SEED): acknowledged container $id is gone" >&2
                return 1
            }
        done <"$BERTH_TMP/acked"
        : >"$BERTH_TMP/acked"
        finish "$o" "$i" || {
            echo "iteration $i ($o, seed $SEED): finishing the operation failed" >&2
            return 1
        }
        fsck_clean "$i" "$o after finishing"
    done
    echo "# $i iteration(s) in $((SECONDS - start)) s: $(for k in "${!count[@]}"; do printf '%s=%s ' "$k" "${count[$k]}"; done)" >&3
    echo "# start-up removed $(grep -c 'left by a crash before its record' "$LOG") CRI object(s) without a record, $(grep -c 'named by no sandbox: removed' "$LOG") stray netns" >&3
    [ "$i" -gt 0 ]
}

@test "crash: SIGKILL a container's shim; the task stops with a status, deletes; fsck clean" {
    local n=$(((${ITERATIONS:-30} + 9) / 10)) i spid
    for i in $(seq "$n"); do
        bctl run -d --runtime "$SHIM" "$IMG" "s$i" sleep 1000
        spid=$(pgrep -f "berth-shim.* -id s$i( |$)" | head -n1)
        [ -n "$spid" ]
        kill -9 "$spid"
        wait_task_stopped "s$i"
        run bctl tasks ls
        # a stopped task with an exit status (the kill took the container with the shim)
        echo "$output" | grep -Eq "^s$i +[0-9]+ +STOPPED +[0-9]+"
        bctl tasks rm "s$i"
        bctl containers rm "s$i"
        fsck_clean "$i" shim-kill
    done
}
