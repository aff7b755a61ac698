#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berth-pause, the pod sandbox process (issue 11): as PID 1 of its own PID namespace it reaps
# every orphan re-parented to it and exits 0 on SIGTERM or SIGINT; no berthd involved.

load helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    PAUSE="$BERTH_BIN/berth-pause"
    [ -x "$PAUSE" ]
    upid=""
}

teardown() {
    [ -n "$upid" ] && kill -9 "$upid" 2>/dev/null || true
}

# start_pause: berth-pause as PID 1 of a new PID namespace; sets upid (unshare) and ppid
start_pause() {
    unshare --pid --fork --kill-child "$PAUSE" 3>&- &
    upid=$!
    ppid=""
    for _ in $(seq 50); do
        ppid=$(pgrep -P "$upid" -x berth-pause) && break
        sleep 0.1
    done
    [ -n "$ppid" ]
}

# exits_with PID CODE: waits (at most 5 s) for PID, a child of this shell, and checks its status
exits_with() {
    local st
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
    st=0
    wait "$1" || st=$?
    [ "$st" -eq "$2" ]
}

@test "berth-pause -v prints its version; other arguments are a usage error" {
    run "$PAUSE" -v
    status_is 0
    [ "$output" = "berth-pause $("$BERTH_BIN/berthd" --version | awk '{print $2}')" ]
    run "$PAUSE" extra
    status_is 2
    output_has usage
}

@test "as PID 1 it reaps orphans re-parented to it, then exits 0 on SIGTERM" {
    start_pause
    # each sh leaves a sleep behind that the namespace's PID 1 inherits, and that then exits
    for _ in 1 2 3 4 5; do
        nsenter -t "$ppid" -p -- /bin/sh -c 'sleep 0.2 & exit 0'
    done
    sleep 1
    # the orphans were its children and none is left as a zombie
    [ -z "$(ps --ppid "$ppid" -o stat= | grep Z)" ]
    [ -z "$(ps --ppid "$ppid" -o pid=)" ]
    kill -TERM "$ppid"
    exits_with "$upid" 0
    upid=""
}

@test "SIGINT stops it too, and it holds its namespace until then" {
    start_pause
    local ns
    ns=$(readlink "/proc/$ppid/ns/pid")
    sleep 0.5
    [ "$(readlink "/proc/$ppid/ns/pid")" = "$ns" ]
    kill -INT "$ppid"
    exits_with "$upid" 0
    upid=""
}
