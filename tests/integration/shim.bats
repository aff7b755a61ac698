#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berth-shim without berthd: `start` and `delete` run as containerd runs them, the Task API
# driven over ttrpc by berth-shim-call, runc underneath (busybox-static rootfs). Then Debian's
# containerd 1.6 runs `ctr run` through containerd-shim-berth-v1. Every test ends with no shim,
# container process or mount left; teardown kills and unmounts whatever a failure left.

load helpers
load shimtest

NS=shimns

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "runc not installed"
    [ -x /bin/busybox ] || skip "busybox-static not installed"
    berth_tmp_init
    CID="c$BATS_TEST_NUMBER"
    # containerd's layout, so the shim derives its state dir ($STATE) from the bundle
    BUNDLE="$STATE/io.containerd.runtime.v2.task/$NS/$CID"
    FAKE_ADDR="$BERTH_TMP/nobody.sock" # no daemon: events are dropped
    mkdir -p "$BUNDLE"
    shim_rootfs "$BERTH_TMP/rootfs" sh echo sleep cat true
    # The shim logs to the bundle's FIFO; containerd keeps it open read-write, so do we.
    mkfifo "$BUNDLE/log"
    exec 8<>"$BUNDLE/log"
    SHIM_PID=
    PIDS=()
}

teardown() {
    local p
    exec 8>&-
    [ -n "${BERTH_TMP:-}" ] || return 0
    cd /
    [ -n "${CD_PID:-}" ] && kill -TERM "$CD_PID" 2>/dev/null && wait_pid "$CD_PID" 10
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    shim_cleanup "$BERTH_TMP/cd-state/runc/default"
}

# The rootfs lives in the bundle (no mount) unless the test asks for --rootfs-bind.
rootfs_in_bundle() {
    cp -a "$BERTH_TMP/rootfs" "$BUNDLE/rootfs"
}

# exec_spec FILE ARGS...: an OCI Process for Exec.
exec_spec() {
    local f="$1" args="" a sep=""
    shift
    for a in "$@"; do
        args="$args$sep$(printf '%s' "$a" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')"
        sep=,
    done
    printf '{"args":[%s],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' "$args" >"$f"
}

# Waits up to 5 s for the state of $1 (exec id or "") to show status $2.
wait_status() {
    local i
    for i in $(seq 100); do
        run call state "$CID" --exec "$1"
        [[ "$output" == status=$2\ * ]] && return 0
        sleep 0.05
    done
    echo "state never reached status=$2: $output" >&2
    return 1
}

# The shim's memory (informational, not asserted).
shim_mem() {
    local rss pss
    rss=$(awk '/^Rss:/ {print $2}' "/proc/$SHIM_PID/smaps_rollup")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$SHIM_PID/smaps_rollup")
    echo "# berth-shim with $1: RSS ${rss} kB, PSS ${pss} kB" >&3
    [ -z "${SHIM_SMAPS:-}" ] || cat "/proc/$SHIM_PID/smaps" >"$SHIM_SMAPS"
}

# shim_stop: Shutdown, then nothing may be left: shim, socket, container processes, mounts.
shim_stop() {
    local i
    run call shutdown "$CID"
    status_is 0
    for i in $(seq 100); do
        [ -d "/proc/$SHIM_PID" ] && ! grep -q '^State:.*Z' "/proc/$SHIM_PID/status" || break
        sleep 0.05
    done
    assert_clean
}

assert_clean() {
    local p
    if [ -n "$SHIM_PID" ] && [ -d "/proc/$SHIM_PID" ] && ! grep -q '^State:.*Z' "/proc/$SHIM_PID/status"; then
        echo "shim $SHIM_PID still running" >&2
        return 1
    fi
    [ ! -e "${ADDR#unix://}" ] || { echo "socket ${ADDR#unix://} left" >&2; return 1; }
    for p in "${PIDS[@]}"; do
        if [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status"; then
            echo "process $p still running" >&2
            return 1
        fi
    done
    if grep -qF " $BERTH_TMP/" /proc/self/mountinfo; then
        echo "mounts left:" >&2
        grep -F " $BERTH_TMP/" /proc/self/mountinfo >&2
        return 1
    fi
    [ -z "$(runc --root "$STATE/runc/$NS" list -q 2>/dev/null)" ]
}

# create_start [create options...]: Create + Start; records the init pid in PIDS and $INIT.
create_start() {
    run call create "$CID" "$BUNDLE" "$@"
    status_is 0
    INIT="$output"
    PIDS+=("$INIT")
    run call start "$CID"
    status_is 0
    [ "$output" = "$INIT" ]
}

@test "start prints only the address and a second start reuses the running shim" {
    rootfs_in_bundle
    spec true
    shim_start
    [ -S "${ADDR#unix://}" ]
    run bash -c "cd '$BUNDLE' && '$BERTH_BIN/berth-shim' -namespace $NS -id $CID -address '$FAKE_ADDR' -publish-binary /bin/true start"
    status_is 0
    [ "$output" = "$ADDR" ]
    run call connect "$CID"
    output_has "shim_pid=$SHIM_PID "
    shim_stop
}

@test "echo hi through a stdout FIFO and stderr to a file; the exit file lives until delete" {
    rootfs_in_bundle
    spec sh -c 'echo hi; echo oops >&2'
    mkfifo "$BERTH_TMP/stdout"
    exec 9<>"$BERTH_TMP/stdout"
    shim_start
    create_start --stdout "$BERTH_TMP/stdout" --stderr "file://$BERTH_TMP/stderr"
    read -r -t 5 line <&9
    [ "$line" = hi ]
    exec 9>&-
    run call wait "$CID"
    status_is 0
    [ "$output" = 0 ]
    [ "$(cat "$BERTH_TMP/stderr")" = oops ]
    [[ "$(cat "$BUNDLE/exit")" =~ ^0\ [0-9]+$ ]]
    run call state "$CID"
    [ "$output" = "status=3 pid=$INIT exit=0 exited=1" ]
    run call delete "$CID"
    status_is 0
    [ "$output" = 0 ]
    [ ! -e "$BUNDLE/exit" ]
    run call state "$CID"
    status_is 1
    output_has "error: NOT_FOUND"
    shim_stop
}

@test "exit code 3 propagates through Wait, State and Delete" {
    rootfs_in_bundle
    spec sh -c 'exit 3'
    shim_start
    create_start
    run call wait "$CID"
    [ "$output" = 3 ]
    run call state "$CID"
    [ "$output" = "status=3 pid=$INIT exit=3 exited=1" ]
    run call delete "$CID"
    [ "$output" = 3 ]
    shim_stop
}

@test "an exit while nobody is connected is reported by a later State and Wait" {
    rootfs_in_bundle
    spec sh -c 'sleep 0.3; exit 7'
    shim_start
    create_start
    # no connection while it exits
    sleep 1
    [[ "$(cat "$BUNDLE/exit")" =~ ^7\ [0-9]+$ ]]
    run call state "$CID"
    [ "$output" = "status=3 pid=$INIT exit=7 exited=1" ]
    run call wait "$CID"
    [ "$output" = 7 ]
    # a second Wait gets the same answer, and the exit file is still there
    run call wait "$CID"
    [ "$output" = 7 ]
    [ -e "$BUNDLE/exit" ]
    run call delete "$CID"
    [ "$output" = 7 ]
    [ ! -e "$BUNDLE/exit" ]
    shim_stop
}

@test "exec runs with its own output and exit code 5; pids lists init and exec" {
    rootfs_in_bundle
    spec sleep 1000
    shim_start
    create_start
    shim_mem "one running container"
    exec_spec "$BERTH_TMP/exec.json" sh -c 'echo from-exec; echo exec-err >&2; sleep 0.5; exit 5'
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json" \
        --stdout "file://$BERTH_TMP/exec.out" --stderr "file://$BERTH_TMP/exec.err"
    status_is 0
    run call state "$CID" --exec e1
    [[ "$output" == status=1\ * ]]
    run call start "$CID" --exec e1
    status_is 0
    EXEC_PID="$output"
    PIDS+=("$EXEC_PID")
    run call pids "$CID"
    status_is 0
    line_present "$INIT"
    line_present "$EXEC_PID"
    # the same exec id twice is ALREADY_EXISTS
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json"
    status_is 1
    output_has "error: ALREADY_EXISTS"
    run call wait "$CID" --exec e1
    status_is 0
    [ "$output" = 5 ]
    [ "$(cat "$BERTH_TMP/exec.out")" = from-exec ]
    [ "$(cat "$BERTH_TMP/exec.err")" = exec-err ]
    run call delete "$CID" --exec e1
    status_is 0
    [ "$output" = 5 ]
    run call state "$CID" --exec e1
    output_has "error: NOT_FOUND"
    # init is still running
    run call state "$CID"
    [[ "$output" == status=2\ * ]]
    run call kill "$CID" 9
    status_is 0
    run call wait "$CID"
    [ "$output" = 137 ]
    run call delete "$CID"
    [ "$output" = 137 ]
    shim_stop
}

@test "pause and resume change the state; kill gives 137; delete of a running task is refused" {
    rootfs_in_bundle
    spec sleep 1000
    shim_start
    create_start
    run call state "$CID"
    [ "$output" = "status=2 pid=$INIT exit=0 exited=0" ]
    run call pause "$CID"
    status_is 0
    run call state "$CID"
    [[ "$output" == status=4\ * ]]
    run call pause "$CID"
    status_is 1
    output_has "error: FAILED_PRECONDITION"
    run call resume "$CID"
    status_is 0
    run call state "$CID"
    [[ "$output" == status=2\ * ]]
    run call delete "$CID"
    status_is 1
    output_has "error: FAILED_PRECONDITION"
    run call kill "$CID" 0
    output_has "error: INVALID_ARGUMENT"
    run call kill "$CID" 9
    status_is 0
    run call wait "$CID"
    [ "$output" = 137 ]
    wait_status "" 3
    run call kill "$CID" 9
    output_has "error: NOT_FOUND"
    run call delete "$CID"
    [ "$output" = 137 ]
    shim_stop
}

@test "a bind-mounted rootfs is unmounted by Delete" {
    spec sh -c 'exit 0'
    shim_start
    create_start --rootfs-bind "$BERTH_TMP/rootfs"
    grep -qF " $BUNDLE/rootfs " /proc/self/mountinfo
    run call wait "$CID"
    [ "$output" = 0 ]
    run call delete "$CID"
    [ "$output" = 0 ]
    run grep -F " $BUNDLE/rootfs " /proc/self/mountinfo
    status_is 1
    shim_stop
}

@test "berth-shim delete cleans up after a dead shim" {
    spec sleep 1000
    shim_start
    create_start --rootfs-bind "$BERTH_TMP/rootfs"
    kill -KILL "$SHIM_PID"
    sleep 0.2
    # containerd runs it with the bundle as cwd and also passes -bundle
    run bash -c "cd '$BUNDLE' && '$BERTH_BIN/berth-shim' -namespace $NS -id $CID -address '$FAKE_ADDR' -publish-binary /bin/true -bundle '$BUNDLE' delete | od -An -tx1 -v | tr -d ' \n'"
    status_is 0
    # DeleteResponse: pid (field 1), exit_status 137 (field 2: 10 89 01), exited_at (field 3)
    [[ "$output" == 08* ]]
    output_has "108901"
    output_has "1a"
    run runc --root "$STATE/runc/$NS" list -q
    [ -z "$output" ]
    SHIM_PID=
    rm -f "${ADDR#unix://}"
    sleep 0.2
    assert_clean
}

@test "berth-shim delete reports the exit file's status" {
    rootfs_in_bundle
    spec sh -c 'exit 3'
    shim_start
    create_start
    run call wait "$CID"
    [ "$output" = 3 ]
    kill -KILL "$SHIM_PID"
    run bash -c "cd '$BUNDLE' && '$BERTH_BIN/berth-shim' -namespace $NS -id $CID -address '$FAKE_ADDR' delete | od -An -tx1 -v | tr -d ' \n'"
    status_is 0
    output_has "1003"
    SHIM_PID=
    rm -f "${ADDR#unix://}"
    assert_clean
}

@test "50 MiB through an exec's stdin FIFO arrive whole while the process is slow to read" {
    rootfs_in_bundle
    spec sleep 1000
    shim_start
    create_start
    head -c 52428800 /dev/urandom >"$BERTH_TMP/in"
    # reads nothing for 2 s: the shim must hold the bytes back, not drop them
    exec_spec "$BERTH_TMP/exec.json" sh -c 'sleep 2; cat >/tmp/x'
    mkfifo "$BERTH_TMP/stdin"
    exec 9<>"$BERTH_TMP/stdin" # a writer before the shim opens it (no early EOF)
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json" --stdin "$BERTH_TMP/stdin"
    status_is 0
    run call start "$CID" --exec e1
    status_is 0
    PIDS+=("$output")
    cat "$BERTH_TMP/in" >&9
    exec 9>&-
    run call wait "$CID" --exec e1
    status_is 0
    [ "$output" = 0 ]
    [ "$(stat -c %s "$BUNDLE/rootfs/tmp/x")" = 52428800 ]
    [ "$(sha256sum <"$BUNDLE/rootfs/tmp/x")" = "$(sha256sum <"$BERTH_TMP/in")" ]
    run call kill "$CID" 9
    run call wait "$CID"
    run call delete "$CID"
    status_is 0
    shim_stop
}

@test "a terminal's output waits while its stdout FIFO is full instead of being dropped" {
    rootfs_in_bundle
    spec sleep 1000
    shim_start
    create_start
    printf '%s' '{"terminal":true,"args":["sh","-c","i=0; while [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done; echo END"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$BERTH_TMP/exec.json"
    mkfifo "$BERTH_TMP/stdout"
    exec 9<>"$BERTH_TMP/stdout"
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json" --terminal --stdout "$BERTH_TMP/stdout"
    status_is 0
    run call start "$CID" --exec e1
    status_is 0
    PIDS+=("$output")
    # nobody reads for 3 s: ~200 KB do not fit in the FIFO and the terminal
    sleep 3
    local n=0 line last=
    while IFS= read -r -t 10 line <&9; do
        last="${line%$'\r'}"
        [ "$last" = END ] && break
        [ "$last" = "line$n" ] || { echo "line $n is '$last'" >&2; return 1; }
        n=$((n + 1))
    done
    exec 9>&-
    [ "$n" = 20000 ]
    [ "$last" = END ]
    run call wait "$CID" --exec e1
    [ "$output" = 0 ]
    run call kill "$CID" 9
    run call wait "$CID"
    run call delete "$CID"
    status_is 0
    shim_stop
}

@test "containerd runs ctr run through containerd-shim-berth-v1" {
    command -v containerd >/dev/null || skip "containerd not installed"
    command -v ctr >/dev/null || skip "ctr not installed"
    local cd="$BERTH_TMP" img=docker.io/berth/busybox:latest
    CD_SOCK="$cd/cd.sock"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$cd/data" >/dev/null
    cat >"$cd/config.toml" <<EOF
version = 2
root = "$cd/cd-root"
state = "$cd/cd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$CD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$cd/opt"
EOF
    PATH="$BERTH_BIN:$PATH" containerd --config "$cd/config.toml" >"$cd/containerd.log" 2>&1 &
    CD_PID=$!
    for i in $(seq 100); do
        ctr -a "$CD_SOCK" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    run ctr -a "$CD_SOCK" images import "$cd/data/oci/busybox.tar"
    status_is 0
    run timeout 30 ctr -a "$CD_SOCK" run --rm --runtime io.containerd.berth.v1 "$img" t1 echo hi
    status_is 0
    [ "$output" = hi ]
    run timeout 30 ctr -a "$CD_SOCK" run --rm --runtime io.containerd.berth.v1 "$img" t2 sh -c 'exit 3'
    status_is 3
    run ctr -a "$CD_SOCK" containers ls -q
    [ -z "$output" ]
    kill -TERM "$CD_PID"
    wait_pid "$CD_PID" 10
    CD_PID=
    # no shim of this containerd is left, and no mount
    run pgrep -f -- "-address $CD_SOCK"
    status_is 1
    run grep -F " $cd/" /proc/self/mountinfo
    status_is 1
}
