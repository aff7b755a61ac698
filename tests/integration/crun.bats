#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# crun as the OCI runtime (real crun): berthctl run --runc-binary crun through berth-shim, and
# Debian's ctr with --runtime io.containerd.runc.v2 --runc-binary crun through
# containerd-shim-runc-v2. berthd runs under hide-cgroup2.sh: crun 1.8 refuses this machine's
# hybrid cgroup layout unless the cgroup2 mount is out of sight.

load helpers

IMG=docker.io/berth/busybox:latest

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v crun >/dev/null || skip "needs crun"
    BERTH_WRAPPER="$BATS_TEST_DIRNAME/hide-cgroup2.sh" berth_setup
    import_busybox
}

teardown() {
    tasks_teardown
}

# crun's own view of its state root under berthd's state dir (runc cannot read crun's state).
crun_list() {
    crun --root "$STATE/runc/default" list
}

@test "berthctl run --runc-binary crun: output, exit codes, and crun's state shows the container" {
    run bctl run --rm --runc-binary crun "$IMG" cr1 echo hi
    status_is 0
    [ "$output" = hi ]
    run bctl run --rm --runc-binary crun "$IMG" cr2 sh -c 'exit 7'
    [ "$status" -eq 7 ]

    bctl run -d --runc-binary crun "$IMG" cr3 sleep 1000
    run crun_list
    status_is 0
    output_has "cr3"
    # runc does not know it: the container really is crun's
    run runc --root "$STATE/runc/default" state cr3
    [ "$status" -ne 0 ]
    run bctl tasks exec --exec-id e1 cr3 sh -c 'echo from-exec; exit 3'
    [ "$status" -eq 3 ]
    [ "$output" = from-exec ]
    run bctl tasks ps cr3
    status_is 0
    [ "$(grep -c '^[0-9]' <<<"$output")" -ge 1 ]
    bctl tasks pause cr3
    run bctl tasks ls
    output_has "PAUSED"
    bctl tasks resume cr3
    run bctl tasks metrics cr3
    status_is 0
    bctl tasks kill -s KILL cr3
    wait_task_stopped cr3
    run bctl tasks rm cr3
    status_is 0
    run crun_list
    output_lacks "cr3"
}

@test "ctr run --runtime io.containerd.runc.v2 --runc-binary crun against berthd" {
    run ctrb run --rm --runtime io.containerd.runc.v2 --runc-binary crun "$IMG" cc1 sh -c 'echo via-runc-v2; exit 4'
    [ "$status" -eq 4 ]
    [ "$output" = via-runc-v2 ]
}

@test "a runc binary that does not exist fails Create with its name and leaves nothing" {
    run bctl run --rm --runc-binary /nonexistent/oci-runtime "$IMG" cn1 true
    [ "$status" -ne 0 ]
    output_has "/nonexistent/oci-runtime"
    run bctl tasks ls
    output_lacks "cn1"
    run bctl run --runc-binary "" "$IMG" cn2 true
    status_is 2
    output_has "--runc-binary"
}

@test "a crun container whose shim is killed is deleted with crun, not runc" {
    local shim pid
    bctl run -d --runc-binary crun "$IMG" cr4 sleep 1000
    shim=$(pgrep -f -- "-id cr4 -address $SOCK" | head -1)
    pid=$(bctl tasks ls | awk '$1 == "cr4" {print $2}')
    [ -n "$shim" ] && [ -n "$pid" ]
    [ -s "$STATE/tasks/default/cr4/options.pb" ]
    kill -KILL "$shim"
    # berthd sees the shim go, runs `berth-shim delete` (crun delete --force) and reports an exit
    wait_task_stopped cr4
    run crun_list
    output_lacks "cr4"
    # the container's process went with it (a `runc delete` would have left it running)
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    run kill -0 "$pid"
    [ "$status" -ne 0 ]
    run bctl tasks rm cr4
    status_is 0
}

@test "[runtime] binary_name = \"crun\" makes crun berth-shim's runtime for every container" {
    stop_berthd --keep
    printf '[runtime]\nbinary_name = "crun"\n' >"$BERTH_TMP/crun.toml"
    BERTH_WRAPPER="$BATS_TEST_DIRNAME/hide-cgroup2.sh" start_berthd --config "$BERTH_TMP/crun.toml"
    run bctl run --rm "$IMG" cd1 echo hi
    status_is 0
    [ "$output" = hi ]
    bctl run -d "$IMG" cd2 sleep 1000
    run crun_list
    output_has "cd2"
    # a container's own options still win
    bctl run -d --runc-binary runc "$IMG" cd3 sleep 1000
    run runc --root "$STATE/runc/default" state cd3
    status_is 0
}
