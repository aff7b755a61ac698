#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berth's own import/export (Transfer service, run inside berthd) checked with Debian's ctr:
# images, content and snapshots it leaves, export -> ctr import round trip, images mount, and a
# kill -9 of berthd in the middle of a large import.

load helpers

setup() {
    berth_setup
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
    MNT="$BERTH_TMP/mnt"
    mkdir -p "$MNT"
}

teardown() {
    umount "$MNT" 2>/dev/null || true
    berth_teardown
}

@test "berthctl images import: ctr sees image, content, snapshots" {
    run bctl images import "$DATA/oci/busybox.tar"
    status_is 0
    output_has "docker.io/berth/busybox:latest sha256:"
    run ctrb images ls -q
    status_is 0
    line_present "docker.io/berth/busybox:latest"
    run ctrb content ls
    status_is 0
    output_has "containerd.io/gc.ref.content.config="
    output_has "containerd.io/uncompressed="
    output_has "containerd.io/gc.ref.snapshot.overlayfs="
    run ctrb snapshots tree
    status_is 0
    output_has "sha256:"
    run ctrb leases ls -q
    [ -z "$output" ]
    run ctrb content active
    output_lacks "import-"
    # ctr can run what berth unpacked without unpacking again
    run ctrb images check
    status_is 0
    output_has "complete"
}

@test "berthctl images import: multi-layer, docker archive, platforms, bad input" {
    run bctl images import "$DATA/oci/multi.tar"
    status_is 0
    run bctl images import "$DATA/docker/busybox.tar"
    status_is 0
    output_has "docker.io/berth/busybox:latest"
    run bctl images import --platform linux/arm64 --snapshotter native "$DATA/oci/multiarch.tar"
    status_is 0
    run ctrb snapshots --snapshotter native ls
    output_has "sha256:"
    run bctl images import --platform linux//x "$DATA/oci/multiarch.tar"
    [ "$status" -ne 0 ]
    output_has "invalid platform"
    run bctl images import --platform linux/s390x "$DATA/oci/multiarch.tar"
    [ "$status" -ne 0 ]
    output_has "no manifest for platform linux/s390x"
    run bctl images import "$DATA/layers/multi1.tar"
    [ "$status" -ne 0 ]
    output_has "neither an OCI image layout nor a docker save archive"
    # import has no default deadline (it lasts as long as its data), but one given is kept
    run bctl --timeout 1ms images import "$DATA/oci/multi.tar"
    status_is 1
    output_has "Deadline Exceeded"
    run bctl images import "$BERTH_TMP/nonexistent.tar"
    [ "$status" -ne 0 ]
    # stdin works too
    run bash -c "'$BERTH_BIN/berthctl' -a '$SOCK' images import - <'$DATA/oci/busybox-zstd.tar'"
    status_is 0
    output_has "docker.io/berth/busybox-zstd:latest"
}

@test "berthctl images export -> ctr images import (other namespace) -> berthctl import" {
    run bctl images import "$DATA/oci/multi.tar"
    status_is 0
    run bctl images import "$DATA/oci/multiarch.tar"
    status_is 0
    run bctl images export "$BERTH_TMP/exp.tar" docker.io/berth/multi:latest docker.io/berth/multiarch:latest
    status_is 0
    run tar tf "$BERTH_TMP/exp.tar"
    line_present "index.json"
    line_present "oci-layout"
    run ctrb -n other images import "$BERTH_TMP/exp.tar"
    status_is 0
    run ctrb -n other images ls -q
    line_present "docker.io/berth/multi:latest"
    line_present "docker.io/berth/multiarch:latest"
    run bctl -n third images import "$BERTH_TMP/exp.tar"
    status_is 0
    run bctl images export "$BERTH_TMP/x.tar" docker.io/berth/nope:1
    [ "$status" -ne 0 ]
    output_has "not found"
    [ ! -e "$BERTH_TMP/x.tar" ]
}

@test "berthctl images mount shows /bin/busybox; unmount --rm removes the snapshot" {
    run bctl images import "$DATA/oci/multi.tar"
    status_is 0
    run bctl images mount docker.io/berth/multi:latest "$MNT"
    status_is 0
    [ -x "$MNT/bin/busybox" ]
    [ -e "$MNT/a/added" ]
    [ ! -e "$MNT/a/gone" ]
    run bctl images unmount --rm "$MNT"
    status_is 0
    [ ! -e "$MNT/bin/busybox" ]
    run ctrb snapshots ls
    output_lacks "$MNT"
    run ctrb leases ls -q
    [ -z "$output" ]
}

@test "kill -9 of berthd mid-import: the next start releases the import and GC frees it" {
    LAYER_MIB=50 LAYERS=4 bash "$BATS_TEST_DIRNAME/../../bench/import/mkbig.sh" "$BERTH_TMP/big" >/dev/null
    big="$BERTH_TMP/big/big-gzip.tar"
    bctl images import "$big" >/dev/null 2>&1 &
    client=$!
    # wait until berthd has an ingest open, then kill it hard
    for _ in $(seq 1 200); do
        ctrb content active 2>/dev/null | grep -q import- && break
        sleep 0.02
    done
    run ctrb content active
    output_has "import-"
    kill -9 "$BERTHD_PID"
    wait "$client" || true
    BERTHD_PID=
    start_berthd
    # imports run inside berthd, so none survived it: its lease is released at start-up ...
    grep -q "released 1 lease(s) of imports" "$LOG"
    run ctrb leases ls -q
    [ -z "$output" ]
    run ctrb images ls -q
    [ -z "$output" ]
    # ... and a GC pass frees everything the dead import wrote
    run bctl gc
    status_is 0
    run ctrb content active
    output_lacks "import-"
    run ctrb content ls -q
    [ -z "$output" ]
    run ctrb snapshots ls
    output_lacks "extract-"
    output_lacks "sha256:"
    [ -z "$(find "$ROOT/content/blobs" -type f)" ]
    [ -z "$(ls -A "$ROOT/content/ingest" 2>/dev/null)" ]
    run bctl images import "$big"
    status_is 0
    output_has "docker.io/berth/big-gzip:latest"
    run ctrb images check
    status_is 0
    output_has "complete"
}

@test "berthctl images import --index-name of an archive longer than one message names it" {
    # The options come in the first Import message; the index image is written after the last
    # one, when the first had been freed: the name used to arrive as garbage ("invalid
    # reference") or as whatever reused the memory.
    LAYER_MIB=6 LAYERS=1 bash "$BATS_TEST_DIRNAME/../../bench/import/mkbig.sh" "$DATA/big" >/dev/null
    [ "$(stat -c %s "$DATA/big/big-tar.tar")" -gt $((4 << 20)) ]
    run bctl images import --index-name docker.io/berth/indexed:v1 "$DATA/big/big-tar.tar"
    status_is 0
    output_has "docker.io/berth/indexed:v1 sha256:"
    run ctrb images ls -q
    line_present "docker.io/berth/indexed:v1"
}
