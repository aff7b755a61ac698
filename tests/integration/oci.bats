#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# runtime/oci against real runtimes: the spec berth-oci-spec prints (containerd 1.6's default
# plus options, with the default seccomp profile) must run under runc 1.1.5 as is. No berthd.
# The rootfs is Debian's busybox-static with hard-linked applets (see reference/machine.md).

load helpers

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "runc not installed"
    [ -x /bin/busybox ] || skip "busybox-static not installed"
    berth_tmp_init
    BUNDLE="$BERTH_TMP/bundle"
    mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs/etc"
    cp /bin/busybox "$BUNDLE/rootfs/bin/busybox"
    # Hard links, not symlinks: masked paths would otherwise mask busybox itself.
    for applet in sh echo true cat id grep unshare; do
        ln "$BUNDLE/rootfs/bin/busybox" "$BUNDLE/rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:44::/:/bin/sh\n' >"$BUNDLE/rootfs/etc/passwd"
    printf 'root:x:0:\nwww:x:44:\nstaff:x:50:www\n' >"$BUNDLE/rootfs/etc/group"
    CIDS=()
}

teardown() {
    local cid
    for cid in "${CIDS[@]}"; do
        runc delete -f "$cid" >/dev/null 2>&1 || true
        crun delete -f "$cid" >/dev/null 2>&1 || true
    done
    [ -n "${BERTH_TMP:-}" ] && rm -rf "$BERTH_TMP"
}

# spec [berth-oci-spec args...]: writes the bundle's config.json.
spec() {
    "$BERTH_BIN/berth-oci-spec" --id "oci-$BATS_TEST_NUMBER" "$@" >"$BUNDLE/config.json"
}

# run_in RUNTIME: runs the bundle under a fresh container id.
run_in() {
    local cid="berth-oci-$$-$BATS_TEST_NUMBER-$1"
    CIDS+=("$cid")
    run timeout 60 "$1" run --bundle "$BUNDLE" "$cid"
}

@test "runc runs the default spec with the default seccomp profile" {
    spec --seccomp echo hi
    run_in runc
    status_is 0
    [ "$output" = "hi" ]
}

@test "the default spec's capabilities and seccomp filter are in force" {
    spec --seccomp sh -c 'grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; unshare -n true || echo unshare-denied'
    run_in runc
    status_is 0
    output_has "CapEff:	00000000a80425fb"
    output_has "CapBnd:	00000000a80425fb"
    output_has "Seccomp:	2"
    output_has "NoNewPrivs:	1"
    output_has "unshare-denied"
}

@test "image user names resolve from the rootfs' /etc/passwd and /etc/group" {
    spec --seccomp --rootfs "$BUNDLE/rootfs" --user www id
    run_in runc
    status_is 0
    output_has "uid=33(www) gid=44(www)"
    output_has "groups=50(staff)"
}

@test "privileged, net-host, read-only and limits run under runc" {
    spec --privileged --net-host --readonly --cpus 0.5 --memory 67108864 \
        --mount "type=bind,src=$BERTH_TMP,dst=/host,options=rbind:ro" \
        sh -c 'grep "^CapEff:" /proc/self/status; grep -c . /etc/hosts >/dev/null && echo hosts-ok; touch /x 2>/dev/null || echo ro-ok; [ -d /host/bundle ] && echo bind-ok'
    run_in runc
    status_is 0
    output_lacks "CapEff:	00000000a80425fb"
    output_has "hosts-ok"
    output_has "ro-ok"
    output_has "bind-ok"
}

@test "crun runs the default spec (unless the cgroup layout is hybrid)" {
    command -v crun >/dev/null || skip "crun not installed"
    if [ -d /sys/fs/cgroup/unified ] && mountpoint -q /sys/fs/cgroup/unified; then
        skip "crun 1.8.1 refuses the hybrid cgroup v1+v2 layout of this machine"
    fi
    spec --seccomp echo hi
    run_in crun
    status_is 0
    [ "$output" = "hi" ]
}
