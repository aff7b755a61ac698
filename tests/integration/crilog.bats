#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berth-shim's CRI log (stdout = crilog:///path?max_line_size=N): the shim itself writes the
# container's stdout/stderr to the log in kubelet's format, reopens it on an Update carrying
# io.berth.log.reopen=1, and reports the exit only after the last line is in the file. The
# Task API is driven over ttrpc by berth-shim-call, runc underneath (as in shim.bats).

load helpers
load shimtest

NS=crilogns
# <RFC3339Nano local time> as Go prints it: no trailing zeros in the fraction, Z or +hh:mm
TS_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?(Z|[+-][0-9]{2}:[0-9]{2})'

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "runc not installed"
    [ -x /bin/busybox ] || skip "busybox-static not installed"
    berth_tmp_init
    CID="c$BATS_TEST_NUMBER"
    BUNDLE="$STATE/io.containerd.runtime.v2.task/$NS/$CID"
    FAKE_ADDR="$BERTH_TMP/nobody.sock" # no daemon: events are dropped
    LOGDIR="$BERTH_TMP/pods/${NS}_pod_uid/ctr" # created by the shim
    CLOG="$LOGDIR/0.log"
    shim_rootfs "$BUNDLE/rootfs" sh echo sleep cat true seq head tr printf
    # the shim's own log: a plain file (not containerd's FIFO) so tests can read it back
    : >"$BUNDLE/log"
    SHIM_PID=
}

teardown() {
    shim_cleanup
}

# log_lines FILE: the log with the timestamps checked and cut off ("stdout F text").
log_lines() {
    local line
    while IFS= read -r line; do
        if ! [[ "$line" =~ ^$TS_RE\ (stdout|stderr)\ [FP]\  ]]; then
            echo "malformed log line: $line" >&2
            return 1
        fi
        printf '%s\n' "${line#* }"
    done <"$1"
}

@test "stdout and stderr lines, an empty line and a last partial line go to one CRI log" {
    spec sh -c 'echo out1; echo err1 >&2; echo; printf "a\r\nb\r\n"; echo err2 >&2; printf "no newline"'
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG?max_line_size=16384" \
        --stderr "crilog://$CLOG?max_line_size=16384"
    status_is 0
    run call start "$CID"
    status_is 0
    run call wait "$CID"
    [ "$output" = 0 ]
    run log_lines "$CLOG"
    status_is 0
    # stdout and stderr are two pipes: only each stream's own order is fixed
    [ "$(grep '^stdout' <<<"$output")" = "$(printf 'stdout F out1\nstdout F \nstdout F a\nstdout F b\nstdout P no newline')" ]
    [ "$(grep '^stderr' <<<"$output")" = "$(printf 'stderr F err1\nstderr F err2')" ]
    [ "$(stat -c %a "$CLOG")" = 640 ]
    [ "$(stat -c %a "$LOGDIR")" = 755 ]
    # State shows the URI it was given
    shim_delete_stop
}

@test "the whole output is in the log when Wait answers" {
    spec sh -c 'seq 1 30000; seq 1 30000 >&2'
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG" --stderr "crilog://$CLOG"
    status_is 0
    run call start "$CID"
    status_is 0
    run call wait "$CID"
    [ "$output" = 0 ]
    # read at once: kubelet reads the log as soon as it sees the exit
    [ "$(grep -c ' stdout F ' "$CLOG")" = 30000 ]
    [ "$(grep -c ' stderr F ' "$CLOG")" = 30000 ]
    [ "$(grep ' stdout ' "$CLOG" | tail -n 1 | cut -d' ' -f2-)" = "stdout F 30000" ]
    [ "$(grep ' stderr ' "$CLOG" | tail -n 1 | cut -d' ' -f2-)" = "stderr F 30000" ]
    shim_delete_stop
}

# stopped_exit [create options...]: runs the spec'd container while the shim is stopped
# (SIGSTOP), so that its whole output is still in the pipe or pty when the shim sees the exit.
stopped_exit() {
    run call create "$CID" "$BUNDLE" "$@"
    status_is 0
    run call start "$CID"
    status_is 0
    kill -STOP "$SHIM_PID"
    sleep 1.5
    kill -CONT "$SHIM_PID"
    run call wait "$CID"
    [ "$output" = 0 ]
}

# The shim reported the exit (shim log "exited with") only after the log stream $1 ended.
ended_before_exit() {
    local ended exited
    ended=$(grep -n ": $1 ended" "$BUNDLE/log" | head -n 1 | cut -d: -f1)
    exited=$(grep -n "exited with" "$BUNDLE/log" | head -n 1 | cut -d: -f1)
    if [ -z "$ended" ] || [ -z "$exited" ] || [ "$ended" -gt "$exited" ]; then
        echo "$1 ended at line '$ended', exit at line '$exited' of the shim log:" >&2
        cat "$BUNDLE/log" >&2
        return 1
    fi
}

@test "output still in the pipes when the container exits is logged before the exit" {
    # ~58 KB: fits in the pipe, more than one read of the shim
    spec sh -c 'sleep 0.3; seq 1 12000; echo err >&2'
    shim_start -debug
    stopped_exit --stdout "crilog://$CLOG" --stderr "crilog://$CLOG"
    ended_before_exit stdout
    ended_before_exit stderr
    [ "$(grep -c ' stdout F ' "$CLOG")" = 12000 ]
    shim_delete_stop
}

@test "output still in the terminal when the container exits is logged before the exit" {
    spec --tty sh -c 'sleep 0.3; seq 1 2000'
    shim_start -debug
    stopped_exit --terminal --stdout "crilog://$CLOG"
    ended_before_exit terminal
    [ "$(grep -c ' stdout F ' "$CLOG")" = 2000 ]
    shim_delete_stop
}

@test "a 40000-byte line with max_line_size 16384 is P P F; max_line_size 0 never splits" {
    spec sh -c 'head -c 40000 /dev/zero | tr "\0" x; echo; echo short'
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG?max_line_size=16384" \
        --stderr "crilog://$CLOG?max_line_size=16384"
    status_is 0
    run call start "$CID"
    status_is 0
    run call wait "$CID"
    [ "$output" = 0 ]
    run log_lines "$CLOG"
    status_is 0
    [ "${#lines[@]}" -eq 4 ]
    [ "${lines[0]}" = "stdout P $(printf 'x%.0s' $(seq 16384))" ]
    [ "${lines[1]}" = "${lines[0]}" ]
    [ "${lines[2]}" = "stdout F $(printf 'x%.0s' $(seq 7232))" ]
    [ "${lines[3]}" = "stdout F short" ]
    shim_delete_stop

    # the same container again, without splitting, into another log
    CLOG="$LOGDIR/1.log"
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG?max_line_size=0"
    status_is 0
    run call start "$CID"
    status_is 0
    run call wait "$CID"
    run log_lines "$CLOG"
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[0]}" = "stdout F $(printf 'x%.0s' $(seq 40000))" ]
    shim_delete_stop
}

@test "Update with io.berth.log.reopen=1 reopens the log after kubelet renamed it" {
    # waits for the test between its lines: /tmp is the bundle's rootfs/tmp
    spec sh -c 'echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; echo err-after >&2; while [ ! -e /tmp/end ]; do sleep 0.05; done'
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG" --stderr "crilog://$CLOG"
    status_is 0
    run call start "$CID"
    status_is 0
    wait_log "$CLOG" ' stdout F before$'
    echo "# berth-shim with one CRI-logged container: RSS $(awk '/^Rss:/ {print $2}' "/proc/$SHIM_PID/smaps_rollup") kB" >&3
    [ -z "${SHIM_SMAPS:-}" ] || cat "/proc/$SHIM_PID/smaps" >"$SHIM_SMAPS"
    mv "$CLOG" "$CLOG.20240101-000000"
    run call update "$CID" --annotation io.berth.log.reopen=1
    status_is 0
    [ -z "$output" ]
    [ -e "$CLOG" ]
    touch "$BUNDLE/rootfs/tmp/go"
    wait_log "$CLOG" ' stderr F err-after$'
    wait_log "$CLOG" ' stdout F after$'
    run log_lines "$CLOG.20240101-000000"
    [ "$output" = "stdout F before" ]
    # the directory is gone (kubelet removed the pod's logs): reopen makes it again
    rm -rf "$LOGDIR"
    run call update "$CID" --annotation io.berth.log.reopen=1
    status_is 0
    [ -e "$CLOG" ]
    # any other value, or no annotation, without resources is still refused
    run call update "$CID" --annotation io.berth.log.reopen=0
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call update "$CID"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    touch "$BUNDLE/rootfs/tmp/end"
    run call wait "$CID"
    [ "$output" = 0 ]
    shim_delete_stop
}

@test "a terminal container logs its output as stdout only" {
    spec --tty sh -c 'echo out; echo err >&2; printf partial'
    shim_start -debug
    run call create "$CID" "$BUNDLE" --terminal --stdout "crilog://$CLOG"
    status_is 0
    run call start "$CID"
    status_is 0
    run call wait "$CID"
    [ "$output" = 0 ]
    run log_lines "$CLOG"
    status_is 0
    # the pty turned "\n" into "\r\n": stripped like "\n"
    [ "$output" = "$(printf 'stdout F out\nstdout F err\nstdout P partial')" ]
    shim_delete_stop
}

@test "a CRI log is refused for stdin, a different stderr and an exec; no log, no reopen" {
    spec sleep 1000
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG" --stderr "crilog://$CLOG.err"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call create "$CID" "$BUNDLE" --stdout "file://$BERTH_TMP/out" --stderr "crilog://$CLOG"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call create "$CID" "$BUNDLE" --stdin "crilog://$CLOG"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG?max_line_size=lots"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    # a task without a CRI log has nothing to reopen
    run call create "$CID" "$BUNDLE"
    status_is 0
    PID="$output"
    run call update "$CID" --annotation io.berth.log.reopen=1
    status_is 1
    output_has "error: FAILED_PRECONDITION"
    # exec output never goes to the CRI log
    printf '{"args":["true"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$BERTH_TMP/exec.json"
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json" --stdout "crilog://$CLOG"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    [ ! -e "$CLOG" ]
    run call kill "$CID" 9
    run call delete "$CID"
    status_is 0
    run call shutdown "$CID"
    status_is 0
}
