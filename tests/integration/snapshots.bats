#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Snapshots: Debian's ctr (containerd 1.6.20) against berthd, for both built-in snapshotters.
# Mounts what ctr prints (so the mounts must be valid for the host kernel as they are).

load helpers

setup() {
    berth_setup
    MNT="$BERTH_TMP/mnt"
    mkdir -p "$MNT"
}

teardown() {
    umount "$MNT" 2>/dev/null || true
    berth_teardown
}

# full_cycle <snapshotter>
full_cycle() {
    local sn="$1"
    run ctrb snapshots --snapshotter "$sn" prepare k1
    status_is 0
    ctrb snapshots --snapshotter "$sn" mounts "$MNT" k1 | sh
    echo layer1 >"$MNT/f1"
    umount "$MNT"
    run ctrb snapshots --snapshotter "$sn" commit l1 k1
    status_is 0

    run ctrb snapshots --snapshotter "$sn" prepare "extract-1-ab_C sha256:x" l1
    status_is 0
    ctrb snapshots --snapshotter "$sn" mounts "$MNT" "extract-1-ab_C sha256:x" | sh
    [ "$(cat "$MNT/f1")" = layer1 ]
    echo layer2 >"$MNT/f2"
    rm "$MNT/f1"
    umount "$MNT"
    run ctrb snapshots --snapshotter "$sn" commit l2 "extract-1-ab_C sha256:x"
    status_is 0

    run ctrb snapshots --snapshotter "$sn" view v l2
    status_is 0
    ctrb snapshots --snapshotter "$sn" mounts "$MNT" v | sh
    [ "$(cat "$MNT/f2")" = layer2 ]
    [ ! -e "$MNT/f1" ]
    umount "$MNT"

    run ctrb snapshots --snapshotter "$sn" ls
    status_is 0
    grep -Eq '^l2 +l1 +Committed' <<<"$output"
    grep -Eq '^v +l2 +View' <<<"$output"
    run ctrb snapshots --snapshotter "$sn" tree
    status_is 0
    output_has '\_ l2'
    run ctrb snapshots --snapshotter "$sn" usage l2
    status_is 0
    run ctrb snapshots --snapshotter "$sn" info l2
    status_is 0
    output_has '"Kind": "Committed"'
    output_has '"Parent": "l1"'
    run ctrb snapshots --snapshotter "$sn" label l2 foo=bar
    status_is 0
    output_has 'foo=bar'

    run ctrb snapshots --snapshotter "$sn" rm l1
    [ "$status" -ne 0 ]
    output_has 'failed precondition'
    run ctrb snapshots --snapshotter "$sn" commit x v
    [ "$status" -ne 0 ]
    run ctrb snapshots --snapshotter "$sn" rm v l2 l1
    status_is 0
    run ctrb snapshots --snapshotter "$sn" ls
    status_is 0
    [ "$(echo "$output" | wc -l)" -eq 1 ]
}

@test "ctr snapshots with overlayfs" {
    full_cycle overlayfs
    # Remove is metadata-only: the backend directories go with a GC pass
    run bctl gc
    status_is 0
    [ -z "$(ls "$ROOT/snapshots/overlayfs/snapshots")" ]
}

@test "ctr snapshots with native" {
    full_cycle native
    run bctl gc
    status_is 0
    [ -z "$(ls "$ROOT/snapshots/native/snapshots")" ]
}

@test "ctr snapshots errors" {
    run ctrb snapshots prepare k missing
    [ "$status" -ne 0 ]
    output_has 'not found'
    run ctrb snapshots --snapshotter bogus ls
    [ "$status" -ne 0 ]
    output_has 'snapshotter not loaded: bogus'
    run ctrb snapshots prepare k
    status_is 0
    run ctrb snapshots prepare k
    [ "$status" -ne 0 ]
    output_has 'already exists'
    run ctrb namespaces rm default
    [ "$status" -ne 0 ]
    output_has 'snapshots'
}

# bctl_cycle <snapshotter>: the same flow through berthctl, checked against ctr's output.
bctl_cycle() {
    local sn="$1"
    local S=(snapshots --snapshotter "$sn")

    run bctl "${S[@]}" prepare k1
    status_is 0
    [ -z "$output" ]
    bctl "${S[@]}" mounts "$MNT" k1 | sh
    echo layer1 >"$MNT/f1"
    umount "$MNT"
    run bctl "${S[@]}" commit l1 k1
    status_is 0

    # prepare -t prints the mount lines itself; --mounts adds ctr's JSON.
    run bctl "${S[@]}" prepare -t "$MNT" --mounts "k2 with space" l1
    status_is 0
    output_has "mount -t "
    output_has '"Options": ['
    bctl "${S[@]}" mounts "$MNT" "k2 with space" | sh
    [ "$(cat "$MNT/f1")" = layer1 ]
    echo layer2 >"$MNT/f2"
    umount "$MNT"
    run bctl "${S[@]}" commit l2 "k2 with space"
    status_is 0
    run bctl "${S[@]}" view v l2
    status_is 0
    [ -z "$output" ]
    bctl "${S[@]}" mounts "$MNT" v | sh
    [ "$(cat "$MNT/f2")" = layer2 ]
    run touch "$MNT/ro"
    [ "$status" -ne 0 ]
    umount "$MNT"

    # Tables and JSON are byte-identical to ctr's (both format client-side).
    for cmd in "ls" "tree" "usage" "usage -b" "usage l1 v" "info l2" "info v" "mounts /x v"; do
        # shellcheck disable=SC2086
        diff <(ctrb snapshots --snapshotter "$sn" $cmd) <(bctl "${S[@]}" $cmd)
    done
    run bctl "${S[@]}" ls
    grep -Eq '^l2 +l1 +Committed +$' <<<"$output"
    grep -Eq '^v +l2 +View +$' <<<"$output"
    run bctl "${S[@]}" tree
    [ "${lines[0]}" = " l1" ]
    [ "${lines[1]}" = "  \\_ l2" ]
    [ "${lines[2]}" = "    \\_ v" ]
    run bctl "${S[@]}" ls -q kind==committed
    status_is 0
    [ "$output" = "$(printf 'l1\nl2')" ]
    run bctl --format json "${S[@]}" ls parent==l2
    status_is 0
    output_has '"Kind": "View"'
    output_has '"Parent": "l2"'
    run bctl --format json "${S[@]}" usage l1
    status_is 0
    output_has '"Key": "l1"'

    run bctl "${S[@]}" label l2 foo=bar a=b
    status_is 0
    [[ "$output" =~ ^a=b,containerd.io/gc.root=.*,foo=bar$ ]]
    run bctl "${S[@]}" label l2 a=
    status_is 0
    output_lacks 'a=b'
    run bctl "${S[@]}" label l2
    output_has 'foo=bar'
    run bctl "${S[@]}" info l2
    output_has '"foo": "bar"'

    # Errors: classes and exit codes.
    run bctl "${S[@]}" rm l1
    status_is 1
    output_has 'remove snapshot "l1"'
    output_has 'failed precondition'
    run bctl "${S[@]}" commit x v
    status_is 1
    run bctl "${S[@]}" prepare k3 missing
    status_is 1
    output_has 'not found'
    run bctl "${S[@]}" prepare l1
    status_is 1
    output_has 'already exists'
    run bctl "${S[@]}" mounts "$MNT"
    status_is 2
    run bctl "${S[@]}" info nope
    status_is 1
    output_has 'not found'

    run bctl "${S[@]}" rm v l2 l1
    status_is 0
    run bctl "${S[@]}" ls -q
    status_is 0
    [ -z "$output" ]
}

@test "berthctl snapshots with overlayfs" {
    bctl_cycle overlayfs
    run bctl gc # Remove is metadata-only: the backend directories go with a GC pass
    status_is 0
    [ -z "$(ls "$ROOT/snapshots/overlayfs/snapshots")" ]
}

@test "berthctl snapshots with native" {
    bctl_cycle native
    run bctl gc # Remove is metadata-only: the backend directories go with a GC pass
    status_is 0
    [ -z "$(ls "$ROOT/snapshots/native/snapshots")" ]
}

@test "berthctl snapshots: snapshotter choice and usage errors" {
    run bctl snapshots --snapshotter bogus ls
    status_is 1
    output_has 'snapshotter not loaded: bogus'
    BERTH_SNAPSHOTTER=native run bctl snapshot prepare envkey
    status_is 0
    run bctl snapshots --snapshotter native ls -q
    [ "$output" = envkey ]
    run bctl snapshots ls -q
    [ -z "$output" ]
    run bctl snapshots
    status_is 2
    run bctl snapshots frob
    status_is 2
    output_has 'unknown command "frob"'
    run bctl snapshots prepare
    status_is 2
    run bctl snapshots prepare a b c
    status_is 2
    run bctl snapshots --bogus ls
    status_is 2
    run bctl snapshots info
    status_is 2
    run bctl snapshots rm
    status_is 2
    run bctl snapshots --help
    status_is 0
    output_has 'mounts|mount TARGET KEY'
    run bctl snapshots ls 'kind=='
    status_is 1
    output_has 'invalid argument'
}
