#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Garbage collection: deletes are metadata-only and `berthctl gc` (or a sync delete) frees
# blobs and snapshot directories no image, container or live lease holds any more; leased
# resources survive, expired leases are swept. Uses the busybox image tests/data/mkimages.sh
# builds and Debian's ctr (containerd 1.6.20).

load helpers

L_SVC=/containerd.services.leases.v1.Leases

setup() {
    berth_setup
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
}

teardown() {
    berth_teardown
}

nblobs() {
    find "$ROOT/content/blobs" -type f | wc -l
}

nsnapdirs() {
    find "$ROOT/snapshots/overlayfs/snapshots" -mindepth 1 -maxdepth 1 -type d | wc -l
}

# AddResource(lease $2, content $3) in namespace $1.
lease_add_content() {
    rawcall -n "$1" "$L_SVC/AddResource" \
        --hex "$(pb_str 1 "$2")$(pb_field 2 "$(pb_str 1 "$3")$(pb_str 2 content)")"
}

@test "gc: images rm + berthctl gc frees blobs and snapshot dirs; leased copy survives" {
    run ctrb images import "$DATA/oci/busybox.tar"
    status_is 0
    name=$(ctrb images ls -q | head -n1)
    [ -n "$name" ]
    run ctrb content ls
    status_is 0
    run ctrb snapshots tree
    status_is 0
    [ "$(nblobs)" -ge 3 ]
    [ "$(nsnapdirs)" -ge 1 ]
    blobs_before=$(nblobs)

    # The same image in another namespace, its blobs held by a lease, then the image removed.
    run ctrb -n held leases create --id keep
    status_is 0
    run ctrb -n held images import --no-unpack "$DATA/oci/busybox.tar"
    status_is 0
    for d in $(ctrb -n held content ls -q); do
        run lease_add_content held keep "$d"
        status_is 0
    done
    run ctrb -n held images rm "$name"
    status_is 0

    # Deletes are metadata-only.
    run ctrb images rm "$name"
    status_is 0
    run bctl gc
    status_is 0
    output_has "removed records:"
    output_has "held the metadata writer"
    # default's records are gone; the files stay because the lease in "held" holds them.
    run ctrb content ls -q
    [ -z "$output" ]
    run ctrb snapshots ls
    [ "$(echo "$output" | wc -l)" -le 1 ]
    [ "$(nsnapdirs)" -eq 0 ]
    [ "$(nblobs)" -eq "$blobs_before" ]
    run ctrb -n held content ls -q
    [ "$(echo "$output" | wc -l)" -eq "$blobs_before" ]

    # Dropping the lease (sync) frees the blobs.
    run ctrb -n held leases rm --sync keep
    status_is 0
    [ "$(nblobs)" -eq 0 ]
    run ctrb -n held content ls -q
    [ -z "$output" ]
    grep -q "pass removed" "$LOG"
}

@test "gc: an expired lease's resources go with the next pass" {
    # Long enough for the import and the first pass on a loaded machine; the test then waits
    # only for what is left of it.
    local start=$SECONDS
    run ctrb -n exp leases create --id short --expires 15s
    status_is 0
    run ctrb -n exp images import --no-unpack "$DATA/oci/busybox.tar"
    status_is 0
    name=$(ctrb -n exp images ls -q | head -n1)
    for d in $(ctrb -n exp content ls -q); do
        run lease_add_content exp short "$d"
        status_is 0
    done
    run ctrb -n exp images rm "$name"
    status_is 0
    run bctl gc
    status_is 0
    held=$(ctrb -n exp content ls -q | wc -l)
    [ "$held" -ge 2 ]
    [ "$(nblobs)" -eq "$held" ]
    run ctrb -n exp leases ls -q
    line_present short
    local left=$((start + 16 - SECONDS))
    [ "$left" -le 0 ] || sleep "$left"
    run bctl --format json gc
    status_is 0
    output_has '"leases"'
    run ctrb -n exp leases ls -q
    line_absent short
    [ "$(nblobs)" -eq 0 ]
}

@test "gc: images rm --sync frees at once; berthctl gc on an empty store" {
    run bctl gc
    status_is 0
    output_has "0 leases, 0 snapshots, 0 content, 0 ingests"
    run ctrb images import "$DATA/oci/busybox.tar"
    status_is 0
    name=$(ctrb images ls -q | head -n1)
    run ctrb images rm --sync "$name"
    status_is 0
    [ "$(nblobs)" -eq 0 ]
    [ "$(nsnapdirs)" -eq 0 ]
    run bctl gc extra
    [ "$status" -eq 2 ]
}

@test "gc: kill -9 leftovers are cleaned by the start-up pass" {
    run ctrb images import "$DATA/oci/busybox.tar"
    status_is 0
    # Half-made things: a blob and a snapshot dir no record names, a temp dir of a prepare.
    mkdir -p "$ROOT/snapshots/overlayfs/snapshots/new-crash1/fs"
    printf 'junk' >"$ROOT/content/blobs/sha256/$(printf 'junk' | sha256sum | cut -d' ' -f1)"
    before=$(nblobs)
    kill -9 "$BERTHD_PID"
    wait "$BERTHD_PID" 2>/dev/null || true
    BERTHD_PID=
    start_berthd
    sleep 0.5
    [ "$(nblobs)" -eq $((before - 1)) ]
    [ ! -e "$ROOT/snapshots/overlayfs/snapshots/new-crash1" ]
    run ctrb images ls -q
    [ -n "$output" ]
}
