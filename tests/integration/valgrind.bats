#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berthd under valgrind memcheck: a create/list/info/label/delete cycle plus namespace
# operations, then SIGTERM. Fails on memory errors and on definite leaks; grpc core's static
# state may show up as "possibly lost"/"still reachable" and is tolerated.

load helpers

setup() {
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    berth_tmp_init
    VG_LOG="$BERTH_TMP/valgrind.log"
    BERTH_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --trace-children=no --num-callers=30 --log-file=$VG_LOG"
    BERTH_START_TIMEOUT=30
    BERTH_STOP_TIMEOUT=60
    start_berthd
}

teardown() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "${VG_LOG:-}" ]; then
        echo "---- valgrind log ----" >&2
        cat "$VG_LOG" >&2
    fi
    tasks_teardown # a failed life-cycle test may leave a task (and its shim) running
}

@test "berthd has no memory errors or definite leaks over a container and namespace cycle" {
    local n=20 i
    bctl namespaces create vg a=b
    bctl namespaces label vg c=d
    bctl namespaces label vg a=
    for i in $(seq 1 "$n"); do
        bctl -n vg containers create --label k0=v0 --label idx="$i" img "c$i"
    done
    run bctl -n vg containers ls -q
    status_is 0
    [ "$(wc -l <<<"$output")" -eq "$n" ]
    run bctl -n vg --format json containers ls 'labels.k0==v0,id~=^c1'
    status_is 0
    for i in $(seq 1 "$n"); do
        bctl -n vg containers info "c$i" >/dev/null
        bctl -n vg containers label "c$i" k1=v1 k0= >/dev/null
    done
    run bctl -n vg containers ls -q 'labels.k1==v1'
    [ "$(wc -l <<<"$output")" -eq "$n" ]
    # Error paths allocate too.
    run bctl -n vg containers info nope
    status_is 1
    run bctl -n vg containers create img 'bad..id'
    status_is 1
    run bctl -n vg containers create img c1
    status_is 1
    run bctl namespaces rm vg
    status_is 1
    run rawcall --no-namespace /containerd.services.containers.v1.Containers/List --empty
    line_present "code=9 FAILED_PRECONDITION"
    run rawcall -n vg /containerd.services.containers.v1.Containers/Get --hex ffffffff0a
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n vg /containerd.services.containers.v1.Containers/Nope --empty
    line_present "code=12 UNIMPLEMENTED"
    run ctrb -n vg containers ls -q
    status_is 0
    run bctl plugins ls
    status_is 0
    run bctl version
    status_is 0
    for i in $(seq 1 "$n"); do
        bctl -n vg containers rm "c$i"
    done
    bctl namespaces rm vg
    run bctl namespaces ls -q
    [ -z "$output" ]

    # SIGTERM: valgrind exits 99 on errors/definite leaks, else berthd's own status.
    stop_berthd --keep
    grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG"
    grep -Eq 'definitely lost: 0 bytes in 0 blocks|All heap blocks were freed' "$VG_LOG"
}

# A runtime path that runs the dynamically linked berth-shim under memcheck, one log per
# process (the start process, the serving shim, `delete`).
shim_wrapper() {
    SHIM_VG_DIR="$BERTH_TMP/shim-vg"
    mkdir -p "$SHIM_VG_DIR"
    cat >"$BERTH_TMP/vg-shim" <<EOS
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --num-callers=30 \\
    --log-file="$SHIM_VG_DIR/vg.%p" "$BERTH_BIN/berth-shim-dynamic" "\$@"
EOS
    chmod +x "$BERTH_TMP/vg-shim"
}

@test "berthd and berth-shim have no memory errors or definite leaks over container life cycles" {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    [ -x "$BERTH_BIN/berth-shim-dynamic" ] || skip "berth-shim-dynamic not built (sanitizer build)"
    local img=docker.io/berth/busybox:latest f
    shim_wrapper
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$BERTH_TMP/data" >/dev/null
    bctl images import "$BERTH_TMP/data/oci/busybox.tar" >/dev/null
    run bctl run --rm --runtime "$BERTH_TMP/vg-shim" "$img" v1 sh -c 'echo hi; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = hi ]
    bctl run -d --runtime "$BERTH_TMP/vg-shim" "$img" v2 sleep 1000
    run bctl tasks exec --exec-id e1 v2 sh -c 'echo in-exec'
    status_is 0
    [ "$output" = in-exec ]
    run bctl tasks exec --exec-id e2 v2 sh -c 'exit 5'
    [ "$status" -eq 5 ]
    bctl tasks ps v2 >/dev/null
    bctl tasks metrics v2 >/dev/null
    bctl tasks pause v2
    bctl tasks resume v2
    bctl tasks kill -s KILL v2
    run bctl tasks rm -f v2
    status_is 0
    bctl containers rm v2

    # every shim process has exited (Shutdown) and written its log: each must be empty
    for _ in $(seq 200); do
        pgrep -f -- "berth-shim-dynamic.*-address $SOCK" >/dev/null || break
        sleep 0.1
    done
    [ "$(ls "$SHIM_VG_DIR" | wc -l)" -ge 2 ]
    for f in "$SHIM_VG_DIR"/vg.*; do
        if [ -s "$f" ]; then
            echo "---- $f ----" >&2
            cat "$f" >&2
            return 1
        fi
    done

    stop_berthd --keep
    grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG"
    grep -Eq 'definitely lost: 0 bytes in 0 blocks|All heap blocks were freed' "$VG_LOG"
}
