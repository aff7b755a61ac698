#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berthctl fsck (issue 14) on a real berthd with the busybox image and a running container:
# clean is exit 0 (live and offline, --verify too); a deleted blob or snapshot directory is an
# error (exit 1, never repaired); an orphan blob, ingest, snapshot directory and bundle are
# found and --repair removes them, live through berthd and offline with --root; offline is
# refused while berthd holds the root.

load helpers

IMG=docker.io/berth/busybox:latest
SHIM=io.containerd.berth.v1

setup_file() {
    # the test images once per file (they take most of a test's time to build)
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$BATS_FILE_TMPDIR/data" >/dev/null
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    berth_setup
    ctrb images import "$BATS_FILE_TMPDIR/data/oci/busybox.tar" >/dev/null
}

teardown() {
    tasks_teardown
}

# An ingest directory as the content store makes it, for ref $1, with no record naming it.
orphan_ingest() {
    local dir
    dir="$ROOT/content/ingest/$(printf %s "$1" | sha256sum | cut -c1-64)"
    mkdir -p "$dir"
    printf %s "$1" >"$dir/ref"
    printf abc >"$dir/data"
    date +%s%N >"$dir/startedat"
}

# A blob file no record names.
orphan_blob() {
    local d
    d=$(printf %s "$1" | sha256sum | cut -c1-64)
    printf %s "$1" >"$ROOT/content/blobs/sha256/$d"
    echo "sha256:$d"
}

@test "fsck: clean with an image and a running container, live and offline, exit 0" {
    bctl run -d --runtime "$SHIM" "$IMG" c1 sleep 1000
    run bctl fsck --verify
    status_is 0
    output_has "0 error(s), 0 orphan(s)"
    output_has clean
    run bctl --format json fsck
    status_is 0
    output_has '"clean": true'
    # a live check has no default deadline, but --timeout still applies (exit 2)
    run "$BERTH_BIN/berthctl" -a "$SOCK" --timeout 1ns fsck --verify
    status_is 2
    output_has "Deadline Exceeded"
    # offline is refused while berthd holds the root, with exit 2
    run "$BERTH_BIN/berthctl" fsck --root "$ROOT" --state "$STATE"
    status_is 2
    output_has "in use by a running berthd"
    stop_berthd --keep
    run "$BERTH_BIN/berthctl" fsck --root "$ROOT" --state "$STATE" --verify
    status_is 0
    output_has clean
    start_berthd
    bctl tasks kill -s 9 c1
    wait_task_stopped c1
}

@test "fsck: orphans found and repaired live; a deleted blob and snapshot dir are errors" {
    bctl run -d --runtime "$SHIM" "$IMG" c1 sleep 1000
    blob=$(orphan_blob "nobody names me")
    orphan_ingest default/left-behind
    mkdir "$ROOT/snapshots/overlayfs/snapshots/424242"
    mkdir -p "$STATE/tasks/default/ghost/rootfs"
    run bctl fsck
    status_is 1
    output_has "blob $blob: orphan"
    output_has "ingest default/left-behind: orphan"
    output_has "snapshot-dir $ROOT/snapshots/overlayfs/snapshots/424242: orphan"
    output_has "bundle $STATE/tasks/default/ghost: orphan"
    output_has "4 orphan(s)"
    run bctl fsck --repair
    status_is 0
    output_has "4 orphan(s) (4 repaired)"
    [ ! -e "$ROOT/content/blobs/sha256/${blob#sha256:}" ]
    [ ! -e "$STATE/tasks/default/ghost" ]
    run bctl fsck
    status_is 0
    # the running container is untouched
    run bctl tasks ls
    output_has RUNNING

    # damage to referenced objects: errors, and --repair removes nothing
    layer=$(find "$ROOT/content/blobs/sha256" -type f -size +1k | head -n1)
    rm "$layer"
    snapdir=$(find "$ROOT/snapshots/overlayfs/snapshots" -mindepth 1 -maxdepth 1 -type d | sort -n | head -n1)
    mv "$snapdir" "$BERTH_TMP/moved-snapshot"
    run bctl fsck --repair
    status_is 1
    output_has "content default/sha256:$(basename "$layer"): error: blob is missing"
    output_has "error: data directory \"$snapdir/fs\""
    output_has "0 orphan(s)"
    [ -d "$BERTH_TMP/moved-snapshot" ]
    # the container's rootfs, which names the moved snapshot, is not an orphan mount
    grep -q " $STATE/tasks/default/c1/rootfs " /proc/self/mountinfo
    mv "$BERTH_TMP/moved-snapshot" "$snapdir"
    bctl tasks kill -s 9 c1
    wait_task_stopped c1
}

@test "fsck: offline --repair on a stopped root removes orphans; exit 1 then 0" {
    stop_berthd --keep
    blob=$(orphan_blob "offline orphan")
    orphan_ingest default/offline
    mkdir -p "$STATE/tasks/default/.half-removed" "$ROOT/snapshots/overlayfs/snapshots/new-abc"
    run "$BERTH_BIN/berthctl" fsck --root "$ROOT" --state "$STATE"
    status_is 1
    output_has "4 orphan(s)"
    output_has "snapshot-dir $ROOT/snapshots/overlayfs/snapshots/new-abc: orphan"
    run "$BERTH_BIN/berthctl" fsck --root "$ROOT" --state "$STATE" --repair
    status_is 0
    output_has "(4 repaired)"
    run "$BERTH_BIN/berthctl" fsck --root "$ROOT" --state "$STATE"
    status_is 0
    [ ! -e "$ROOT/snapshots/overlayfs/snapshots/new-abc" ]
    start_berthd
}
