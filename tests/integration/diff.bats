#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Diff.Diff: Debian's ctr `snapshots diff` (lease + View/Mounts + Diff.Diff, then it copies the
# blob Diff returned to stdout) against berthd, over the busybox image of tests/data/mkimages.sh,
# for both built-in snapshotters.

load helpers

setup() {
    berth_setup
    MNT="$BERTH_TMP/mnt"
    mkdir -p "$MNT"
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
}

teardown() {
    umount "$MNT" 2>/dev/null || true
    berth_teardown
}

# diff_cycle <snapshotter>: a snapshot over busybox's layer gains a file and loses one.
diff_cycle() {
    local sn="$1" top dg
    run ctrb images import --snapshotter "$sn" "$DATA/oci/busybox.tar"
    status_is 0
    top=$(ctrb snapshots --snapshotter "$sn" ls | awk 'NR > 1 && / Committed *$/ {print $1}')
    [ -n "$top" ]
    run ctrb snapshots --snapshotter "$sn" prepare work "$top"
    status_is 0
    ctrb snapshots --snapshotter "$sn" mounts "$MNT" work | sh
    echo hello >"$MNT/newfile"
    rm "$MNT/bin/ls"
    umount "$MNT"

    ctrb snapshots --snapshotter "$sn" diff --keep --label team=x work >"$BERTH_TMP/layer.tgz"
    dg="sha256:$(sha256sum "$BERTH_TMP/layer.tgz" | cut -d' ' -f1)"
    gunzip -t "$BERTH_TMP/layer.tgz"
    ctrb content get "$dg" | tar tz >"$BERTH_TMP/list"
    grep -qx newfile "$BERTH_TMP/list"
    grep -qx 'bin/\.wh\.ls' "$BERTH_TMP/list"
    ! grep -qx 'bin/sh' "$BERTH_TMP/list"
    [ "$(ctrb content get "$dg" | tar xzO newfile)" = hello ]
    run ctrb content ls
    status_is 0
    line=$(grep "^$dg" <<<"$output")
    [[ "$line" == *"containerd.io/uncompressed=sha256:$(ctrb content get "$dg" | gunzip | sha256sum | cut -d' ' -f1)"* ]]
    [[ "$line" == *"team=x"* ]]

    # the same diff again is the same blob; plain tar is accepted too
    ctrb snapshots --snapshotter "$sn" diff --keep work | cmp - "$BERTH_TMP/layer.tgz"
    ctrb snapshots --snapshotter "$sn" diff --keep \
        --media-type application/vnd.oci.image.layer.v1.tar work >"$BERTH_TMP/layer.tar"
    tar tf "$BERTH_TMP/layer.tar" | grep -qx newfile
    run ctrb content ls -q
    line_present "sha256:$(sha256sum "$BERTH_TMP/layer.tar" | cut -d' ' -f1)"

    # against the snapshot itself: nothing changed, an empty layer
    ctrb snapshots --snapshotter "$sn" diff --keep work work >"$BERTH_TMP/empty.tgz"
    [ -z "$(tar tzf "$BERTH_TMP/empty.tgz")" ]
}

@test "ctr snapshots diff with overlayfs" {
    diff_cycle overlayfs
}

@test "ctr snapshots diff with native" {
    diff_cycle native
}

@test "ctr snapshots diff: unsupported media type, unknown snapshot" {
    run ctrb snapshots prepare work ""
    status_is 0
    run ctrb snapshots diff --media-type application/vnd.oci.image.layer.v1.tar+zstd work
    [ "$status" -ne 0 ]
    output_has 'unsupported media type'
    run ctrb snapshots diff nope
    [ "$status" -ne 0 ]
    output_has 'not found'
    run ctrb content ls -q
    [ -z "$output" ]
}
