#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berth-shim's attach socket (runtime/shim/attach.h): while the init process's stdout is a CRI
# log, <bundle>/attach (SOCK_SEQPACKET) gives every client the output from then on, as the log
# gets it, and feeds the client's stdin to a process created with stdin attach://stdin[?once=1].
# The Task API is driven over ttrpc by berth-shim-call, runc underneath (as in crilog.bats);
# berth-attach is the client.

load helpers
load shimtest

NS=attachns

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "runc not installed"
    [ -x /bin/busybox ] || skip "busybox-static not installed"
    berth_tmp_init
    CID="c$BATS_TEST_NUMBER"
    BUNDLE="$STATE/io.containerd.runtime.v2.task/$NS/$CID"
    SOCK="$BUNDLE/attach"
    FAKE_ADDR="$BERTH_TMP/nobody.sock" # no daemon: events are dropped
    CLOG="$BERTH_TMP/pods/${NS}_pod_uid/ctr/0.log"
    shim_rootfs "$BUNDLE/rootfs" sh echo sleep cat seq
    : >"$BUNDLE/log" # the shim's own log, read back by the tests
    SHIM_PID=
    CLIENTS=()
}

teardown() {
    local p
    for p in "${CLIENTS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    shim_cleanup
}

# create_start [create options...]: Create (stdout and stderr to the CRI log) + Start.
create_start() {
    run call create "$CID" "$BUNDLE" --stdout "crilog://$CLOG" "$@"
    status_is 0
    run call start "$CID"
    status_is 0
}

# client NAME [berth-attach options...]: a background client writing NAME.out/NAME.err in
# $BERTH_TMP, connected when this returns; its stdin is /dev/null unless --no-stdin.
client() {
    local name="$1" i
    shift
    "$BERTH_BIN/berth-attach" --ready "$BERTH_TMP/$name.ready" "$@" "$SOCK" \
        >"$BERTH_TMP/$name.out" 2>"$BERTH_TMP/$name.err" </dev/null &
    CLIENTS+=($!)
    eval "${name}_PID=$!"
    for i in $(seq 100); do
        [ -e "$BERTH_TMP/$name.ready" ] && return 0
        sleep 0.05
    done
    echo "client $name never connected" >&2
    return 1
}

@test "output goes to the log and to a client, without history; the client reads EOF at the end" {
    spec sh -c 'echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo out1; echo err1 >&2; printf tail'
    shim_start -debug
    create_start --stderr "crilog://$CLOG"
    [ -S "$SOCK" ]
    [ "$(stat -c %a "$SOCK")" = 600 ]
    wait_log "$CLOG" ' stdout F before$'
    client a --no-stdin
    touch "$BUNDLE/rootfs/tmp/go"
    run call wait "$CID"
    [ "$output" = 0 ]
    # the shim closed the client once the output ended
    run timeout 5 tail --pid="$a_PID" -f /dev/null
    status_is 0
    wait "$a_PID"
    [ "$(cat "$BERTH_TMP/a.out")" = "$(printf 'out1\ntail')" ]
    [ "$(cat "$BERTH_TMP/a.err")" = err1 ]
    grep -q ' stdout F out1$' "$CLOG"
    grep -q ' stderr F err1$' "$CLOG"
    grep -q ' stdout P tail$' "$CLOG"
    # after the end a connection is closed at once
    run timeout 5 "$BERTH_BIN/berth-attach" --no-stdin "$SOCK"
    status_is 0
    [ -z "$output" ]
    shim_delete_stop "$SOCK"
}

@test "stdin_once: the client's stdin reaches sh and its EOF ends sh" {
    spec sh
    shim_start -debug
    create_start --stderr "crilog://$CLOG" --stdin "attach://stdin?once=1"
    run timeout 10 "$BERTH_BIN/berth-attach" "$SOCK" <<<"echo -n hello"
    status_is 0
    [ "$output" = hello ]
    run call wait "$CID"
    [ "$output" = 0 ]
    shim_delete_stop "$SOCK"
}

@test "two clients at once; without once a client's EOF leaves stdin open" {
    spec sh
    shim_start -debug
    create_start --stderr "crilog://$CLOG" --stdin attach://stdin
    client a --no-stdin
    printf 'echo two\n' >"$BERTH_TMP/in-b"
    "$BERTH_BIN/berth-attach" "$SOCK" <"$BERTH_TMP/in-b" >"$BERTH_TMP/b.out" 2>&1 &
    b_PID=$!
    CLIENTS+=("$b_PID")
    wait_log "$CLOG" ' stdout F two$'
    # b's EOF closed nothing: sh still reads
    run call state "$CID"
    [[ "$output" == status=2\ * ]]
    run timeout 10 "$BERTH_BIN/berth-attach" "$SOCK" <<<"echo three; echo oops >&2; exit 4"
    status_is 0
    [ "$output" = "$(printf 'three\noops')" ]
    run call wait "$CID"
    [ "$output" = 4 ]
    wait "$a_PID"
    wait "$b_PID"
    [ "$(cat "$BERTH_TMP/a.out")" = "$(printf 'two\nthree')" ]
    [ "$(cat "$BERTH_TMP/a.err")" = oops ]
    [ "$(cat "$BERTH_TMP/b.out")" = "$(printf 'two\nthree\noops')" ] ||
        [ "$(cat "$BERTH_TMP/b.out")" = "$(printf 'two\noops\nthree')" ]
    shim_delete_stop "$SOCK"
}

@test "a client that never reads holds the output back 10 s at most and loses no log line" {
    spec sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done; seq 1 300000; echo done'
    shim_start -debug
    create_start --stderr "crilog://$CLOG"
    client stalled --hold
    client reader --no-stdin
    touch "$BUNDLE/rootfs/tmp/go"
    local t0=$SECONDS
    run timeout 40 "$BERTH_BIN/berth-shim-call" "$ADDR" "$NS" wait "$CID"
    [ "$output" = 0 ]
    # held back until the stalled client was dropped, then every line
    [ $((SECONDS - t0)) -ge 8 ]
    grep -q 'attach client took no output for 10s' "$BUNDLE/log"
    [ "$(grep -c ' stdout F ' "$CLOG")" = 300001 ]
    grep -q ' stdout F 300000$' "$CLOG"
    wait "$reader_PID"
    [ "$(wc -l <"$BERTH_TMP/reader.out")" = 300001 ]
    [ "$(tail -n 1 "$BERTH_TMP/reader.out")" = done ]
    shim_delete_stop "$SOCK"
}

@test "a terminal: attach stdin goes to the pty, output comes back as stdout" {
    spec --tty sh
    shim_start -debug
    create_start --terminal --stdin attach://stdin
    run timeout 10 "$BERTH_BIN/berth-attach" "$SOCK" <<<"echo a\$((40 + 2))b; exit 5"
    status_is 0
    [[ "$output" == *a42b* ]]
    run call wait "$CID"
    [ "$output" = 5 ]
    grep -q ' stdout F a42b$' "$CLOG"
    shim_delete_stop "$SOCK"
}

@test "attach stdin is refused without a CRI log and for an exec; no socket without a CRI log" {
    spec sleep 1000
    shim_start -debug
    run call create "$CID" "$BUNDLE" --stdin attach://stdin
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    output_has "attach://stdin"
    run call create "$CID" "$BUNDLE" --stdin "attach://stdout" --stdout "crilog://$CLOG"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call create "$CID" "$BUNDLE" --stdout "attach://stdin"
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call create "$CID" "$BUNDLE"
    status_is 0
    [ ! -e "$SOCK" ]
    run "$BERTH_BIN/berth-attach" --no-stdin "$SOCK"
    status_is 1
    printf '{"args":["true"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$BERTH_TMP/exec.json"
    run call exec "$CID" --exec e1 --spec "$BERTH_TMP/exec.json" --stdin attach://stdin
    status_is 1
    output_has "error: INVALID_ARGUMENT"
    run call kill "$CID" 9
    run call delete "$CID"
    status_is 0
    run call shutdown "$CID"
    status_is 0
}

@test "the socket goes with Delete and with the shim; a stale one is replaced" {
    spec sleep 1000
    shim_start -debug
    # a leftover of an earlier task in the bundle
    python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' "$SOCK"
    create_start
    [ -S "$SOCK" ]
    client a --no-stdin
    run call kill "$CID" 9
    run call wait "$CID"
    [ "$output" = 137 ]
    wait "$a_PID"
    shim_delete_stop "$SOCK"
}
