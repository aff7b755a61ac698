#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# What a kill -9 of berthd in the middle of `ctr run -d` leaves (a bundle, a shim started for a
# task whose Create never came), set up exactly and then after berthd restarts, or while it
# runs: no shim without a task, no bundle without a task, the id free again. With berth-shim
# and Debian's containerd-shim-runc-v2; the last test kills berthd at random points instead.

load helpers

IMG=docker.io/berth/busybox:latest
BERTH_RT=io.containerd.berth.v1
RUNC_RT=io.containerd.runc.v2

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    command -v containerd-shim-runc-v2 >/dev/null || skip "needs containerd-shim-runc-v2"
    [ -x "$BERTH_BIN/berth-shim" ] || skip "berth-shim not built"
    berth_setup
    import_busybox
}

teardown() {
    local p sock="${SOCK:-}"
    exec 8>&-
    tasks_teardown
    # shims a failed test left (no task holds them): their command line names this test's socket
    [ -n "$sock" ] || return 0
    # TERM first: runc-v2 removes its socket under /run/containerd/s then
    for p in $(pgrep -f -- "-address $sock( |$)" || true); do
        kill -TERM "$p" 2>/dev/null || true
        wait_pid "$p" 2 || true
    done
}

shim_bin() {
    case "$1" in
    "$BERTH_RT") echo "$BERTH_BIN/berth-shim" ;;
    *) command -v containerd-shim-runc-v2 ;;
    esac
}

bundle_of() {
    echo "$STATE/tasks/default/$1"
}

# Pids of the live (not zombie) shims of id $1 started for this berthd.
shim_pids() {
    local p s
    for p in $(pgrep -f -- "-id $1 -address $SOCK( |$)" || true); do
        s=$(ps -o stat= -p "$p" 2>/dev/null) || continue
        [[ "$s" == Z* ]] || echo "$p"
    done
}

# Waits up to 5 s for id $1 to have no shim left; fails naming the ones that stay.
wait_no_shim() {
    for _ in $(seq 100); do
        [ -z "$(shim_pids "$1")" ] && return 0
        sleep 0.05
    done
    echo "shims of $1 still running: $(shim_pids "$1")" >&2
    return 1
}

# leftover RUNTIME ID [bundle|binary|started]: the container record plus what berthd has made
# for its task at the point named (default started): the bundle (config.json, rootfs/, the log
# FIFO), then shim-binary-path, then a shim started in it with the runtime v2 `start` protocol
# exactly as berthd runs it. Nothing has sent Create. Sets SHIM_PID for started.
leftover() {
    local rt="$1" id="$2" stage="${3:-started}" b bin
    b=$(bundle_of "$id")
    bin=$(shim_bin "$rt")
    ctrb c create --runtime "$rt" "$IMG" "$id" sleep 1000
    mkdir -p -m 0711 "$STATE/tasks/default"
    mkdir -m 0700 "$b"
    ctrb c info "$id" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["Spec"]))' >"$b/config.json"
    mkdir -m 0711 "$b/rootfs"
    mkfifo -m 0700 "$b/log"
    [ "$stage" = bundle ] && return 0
    printf '%s' "$bin" >"$b/shim-binary-path"
    [ "$stage" = binary ] && return 0
    # berthd holds the FIFO's read side while a shim starts (runc-v2's waits for a reader)
    exec 8<>"$b/log"
    (cd "$b" && TTRPC_ADDRESS="$SOCK.ttrpc" GOMAXPROCS=2 "$bin" -namespace default -id "$id" \
        -address "$SOCK" -publish-binary "$BERTH_BIN/berthd" start </dev/null >/dev/null)
    [ -s "$b/address" ]
    SHIM_PID=$(shim_pids "$id")
    [ -n "$SHIM_PID" ]
}

restart_berthd() {
    kill9_berthd
    exec 8>&-
    start_berthd
}

# ID RUNTIME: no shim, no bundle, no task listed; then the id works again.
assert_id_free() {
    local id="$1" rt="$2"
    wait_no_shim "$id"
    [ ! -e "$(bundle_of "$id")" ]
    run ctrb t ls -q
    status_is 0
    line_absent "$id"
    run ctrb c rm "$id"
    status_is 0
    run ctrb run -d --runtime "$rt" "$IMG" "$id" sleep 1000
    status_is 0
    run ctrb t ls
    grep -Eq "^$id +[0-9]+ +RUNNING" <<<"$output"
}

@test "berth-shim started before Create: a restart shuts it down and frees the id" {
    leftover "$BERTH_RT" b1
    restart_berthd
    assert_id_free b1 "$BERTH_RT"
    run cat "$LOG"
    output_has "task default/b1: its shim holds no task"
    output_lacks "reattached to task default/b1 (pid 0)"
}

@test "containerd-shim-runc-v2 started before Create: a restart shuts it down and frees the id" {
    leftover "$RUNC_RT" r1
    restart_berthd
    assert_id_free r1 "$RUNC_RT"
    run cat "$LOG"
    output_has "task default/r1: its shim holds no task"
    output_lacks "reattached to task default/r1 (pid 0)"
}

@test "a shim that started before its address was written: a restart finds and shuts it down" {
    # berth-shim writes the address after forking the shim; runc-v2's is gone here as well
    leftover "$BERTH_RT" a1
    rm "$(bundle_of a1)/address"
    leftover "$RUNC_RT" a2
    rm "$(bundle_of a2)/address"
    restart_berthd
    assert_id_free a1 "$BERTH_RT"
    assert_id_free a2 "$RUNC_RT"
    run cat "$LOG"
    output_has "task default/a1: its shim holds no task"
    output_has "task default/a2: its shim holds no task"
}

@test "bundles without a live shim: a restart removes them and lists no task" {
    leftover "$RUNC_RT" h1 bundle  # stopped while writing the bundle
    leftover "$BERTH_RT" h2 binary # stopped before `start`
    leftover "$BERTH_RT" h3        # the shim died too
    kill -KILL "$SHIM_PID"
    restart_berthd
    assert_id_free h1 "$RUNC_RT"
    assert_id_free h2 "$BERTH_RT"
    assert_id_free h3 "$BERTH_RT"
    run cat "$LOG"
    output_has "task default/h1: no shim and no task"
    output_has "task default/h3: no shim and no task"
    # h2's `start`, run again, brings up a shim that holds no task: shut down as well
    output_has "task default/h2: its shim holds no task"
}

@test "while berthd runs: Tasks.Create, Tasks.Delete and Containers.Delete clear a leftover shim" {
    leftover "$BERTH_RT" l1
    leftover "$RUNC_RT" l2
    leftover "$BERTH_RT" l3
    exec 8>&-
    # Tasks.Create for the container: the leftover gives way
    run ctrb t start -d l1
    status_is 0
    run ctrb t ls
    grep -Eq "^l1 +[0-9]+ +RUNNING" <<<"$output"
    [ "$(shim_pids l1 | wc -l)" -eq 1 ]
    [ "$(shim_pids l1)" != "$SHIM_PID" ]
    # Tasks.Delete: there is no task (NOT_FOUND), and the leftover goes
    run bctl tasks rm l2
    [ "$status" -ne 0 ]
    output_has "not found"
    assert_id_free l2 "$RUNC_RT"
    # Containers.Delete
    run ctrb c rm l3
    status_is 0
    wait_no_shim l3
    [ ! -e "$(bundle_of l3)" ]
}

@test "an entry whose shim holds no task any more: Tasks.Delete and Tasks.Create clear it" {
    local id b
    for id in e1 e2; do
        rt=$BERTH_RT
        [ "$id" = e2 ] && rt=$RUNC_RT
        ctrb run -d --runtime "$rt" "$IMG" "$id" sleep 1000
        ctrb t kill -s 9 "$id"
        wait_task_stopped "$id"
        # the shim forgets the task behind berthd's back, as if Delete had been its last call
        b=$(bundle_of "$id")
        run "$BERTH_BIN/berth-shim-call" "$(cat "$b/address")" default delete "$id"
        status_is 0
    done
    run bctl tasks rm e1
    [ "$status" -ne 0 ]
    output_has "not found"
    wait_no_shim e1
    [ ! -e "$(bundle_of e1)" ]
    run ctrb t start -d e2
    status_is 0
    run ctrb t ls
    grep -Eq "^e2 +[0-9]+ +RUNNING" <<<"$output"
    line_absent "e1"
    [ "$(shim_pids e2 | wc -l)" -eq 1 ]
}

# Every shim of this berthd has its task listed, and every bundle too (polls up to 5 s: a shim
# told to shut down may take a moment to leave).
invariants_hold() {
    local listed p id b ok
    for _ in $(seq 50); do
        ok=1
        listed=" $(ctrb t ls -q | tr '\n' ' ') "
        for p in $(pgrep -f -- "-address $SOCK( |$)" || true); do
            [[ "$(ps -o stat= -p "$p" 2>/dev/null)" == Z* ]] && continue
            id=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n '/^-id$/{n;p}')
            [ -z "$id" ] || [[ "$listed" == *" $id "* ]] || ok=0
        done
        for b in "$STATE"/tasks/default/*; do
            [ -d "$b" ] || continue
            [[ "$listed" == *" $(basename "$b") "* ]] || ok=0
        done
        [ "$ok" -eq 1 ] && return 0
        sleep 0.1
    done
    echo "tasks: $listed; shims: $(pgrep -af -- "-address $SOCK"); bundles: $(ls "$STATE/tasks/default" 2>&1)" >&2
    return 1
}

@test "kill -9 berthd at random points of ctr run -d: no shim or bundle without its task" {
    local i id rt cpid end=$((SECONDS + 20))
    for i in 1 2 3 4 5 6 7 8; do
        [ "$SECONDS" -lt "$end" ] || break
        id="k$i"
        rt=$BERTH_RT
        [ $((i % 2)) -eq 0 ] && rt=$RUNC_RT
        ctrb run -d --runtime "$rt" "$IMG" "$id" sleep 1000 >/dev/null 2>&1 &
        cpid=$!
        sleep "0.$(printf '%03d' $((RANDOM % 300)))"
        kill9_berthd
        wait "$cpid" || true
        start_berthd
        invariants_hold
        run cat "$LOG"
        output_lacks "(pid 0)"
        # whatever got made, it goes with t rm and c rm, and the id works again
        ctrb t rm -f "$id" >/dev/null 2>&1 || true
        ctrb c rm "$id" >/dev/null 2>&1 || true
        # a kill between ctr's snapshot Prepare and its container Create leaves the snapshot
        # under ctr's lease (24 h), with containerd too: not what this test is about
        ctrb snapshots rm "$id" >/dev/null 2>&1 || true
        wait_no_shim "$id"
        [ ! -e "$(bundle_of "$id")" ]
        ctrb run -d --runtime "$rt" "$IMG" "$id" sleep 1000
        ctrb t rm -f "$id" >/dev/null
        ctrb c rm "$id"
    done
}
