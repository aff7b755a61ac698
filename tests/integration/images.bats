#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Images and Diff: Debian's ctr (containerd 1.6.20) and berthctl against berthd. Image records
# made with berthctl, then the full `ctr images import` flow (content, images, snapshots and
# Diff.Apply with ctr's client-side diff ID check) over the layouts tests/data/mkimages.sh builds.

load helpers

DG=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

setup() {
    berth_setup
    MNT="$BERTH_TMP/mnt"
    mkdir -p "$MNT"
}

teardown() {
    umount "$MNT" 2>/dev/null || true
    berth_teardown
}

# Builds the image test data once per test into $BERTH_TMP/data.
mkdata() {
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
}

@test "image records: ctr ls/label/rm, berthctl create/ls/label/rm" {
    run ctrb images ls -q
    status_is 0
    [ -z "$output" ]

    run bctl images create docker.io/library/x:1 "$DG" 42
    status_is 0
    run bctl images create example.com:5000/a/b@"$DG" "$DG" 7 application/vnd.oci.image.index.v1+json
    status_is 0
    run bctl images create docker.io/library/x:1 "$DG" 42
    [ "$status" -ne 0 ]
    output_has "already exists"

    run ctrb images ls -q
    status_is 0
    line_present "docker.io/library/x:1"
    line_present "example.com:5000/a/b@$DG"

    run ctrb images label docker.io/library/x:1 team=blue
    status_is 0
    run bctl images ls 'labels.team==blue'
    status_is 0
    output_has "docker.io/library/x:1"
    output_lacks "example.com"
    run bctl images label docker.io/library/x:1
    status_is 0
    [ "$output" = "team=blue" ]
    run bctl images label docker.io/library/x:1 team=
    status_is 0
    run bctl images label docker.io/library/x:1
    [ -z "$output" ]

    run bctl --format json images ls 'target.mediatype~=index'
    status_is 0
    output_has '"name": "example.com:5000/a/b@'"$DG"'"'

    # images block namespace deletion
    run ctrb namespaces rm default
    [ "$status" -ne 0 ]
    output_has "images"

    run ctrb images rm docker.io/library/x:1 nope
    status_is 0
    run bctl images rm --sync "example.com:5000/a/b@$DG"
    status_is 0
    run ctrb images ls -q
    [ -z "$output" ]
    run ctrb namespaces rm default
    status_is 0
}

@test "image records: bad input is refused and changes nothing" {
    run bctl images create "" "$DG" 1
    [ "$status" -ne 0 ]
    run bctl images create x sha256:abc 1
    [ "$status" -ne 0 ]
    output_has "invalid argument"
    run bctl images create x "$DG" 0
    [ "$status" -ne 0 ]
    output_has "invalid argument"
    run bctl images label missing a=b
    [ "$status" -ne 0 ]
    output_has "not found"
    run bctl images ls 'name=='
    run bctl images ls -q
    [ -z "$output" ]
}

@test "ctr images import unpacks through Diff.Apply (gzip, zstd, whiteouts, index, docker)" {
    mkdata
    for f in oci/busybox.tar oci/busybox-zstd.tar oci/multi.tar oci/multiarch.tar docker/busybox.tar; do
        run ctrb images import "$DATA/$f"
        status_is 0
        output_has "done"
    done
    run ctrb images ls -q
    line_present docker.io/berth/busybox:latest
    line_present docker.io/berth/busybox-zstd:latest
    line_present docker.io/berth/multi:latest
    line_present docker.io/berth/multiarch:latest

    # the busybox layer's diff ID is the sha256 of the uncompressed tar
    run ctrb snapshots ls
    output_has "sha256:$(sha256sum "$DATA/layers/busybox.tar" | cut -d' ' -f1)"
    run ctrb content ls 'labels."containerd.io/uncompressed"'
    status_is 0
    output_has "containerd.io/uncompressed=sha256:"

    # the top of the multi image: whiteout and opaque dir applied, busybox hard links kept
    top=$(ctrb snapshots ls | awk 'NR > 1 && $2 ~ /^sha256:/ {print $1}' | while read -r k; do
        ctrb snapshots ls | awk -v p="$k" '$2 == p' | grep -q . || echo "$k"
    done | head -1)
    [ -n "$top" ]
    ctrb snapshots view v1 "$top" >/dev/null
    ctrb snapshots mounts "$MNT" v1 | sh
    [ -f "$MNT/a/keep" ]
    [ -f "$MNT/a/added" ]
    [ ! -e "$MNT/a/gone" ]
    [ -f "$MNT/o/new" ]
    [ ! -e "$MNT/o/old1" ]
    [ "$(stat -c %i "$MNT/bin/sh")" = "$(stat -c %i "$MNT/bin/busybox")" ]
    [ "$(stat -c %a "$MNT/tmp")" = 1777 ]
    umount "$MNT"
}

@test "Diff.Apply over raw gRPC: unknown media type and missing blob" {
    # ApplyRequest{diff: Descriptor{media_type=1, digest=2, size=3}}
    desc=$(pb_str 1 application/vnd.oci.image.layer.v1.tar+encrypted)$(pb_str 2 "$DG")
    run rawcall -n default /containerd.services.diff.v1.Diff/Apply --hex "$(pb_field 1 "$desc")"
    status_is 0
    line_present "code=12 UNIMPLEMENTED"
    desc=$(pb_str 1 application/vnd.oci.image.layer.v1.tar)$(pb_str 2 "$DG")
    run rawcall -n default /containerd.services.diff.v1.Diff/Apply --hex "$(pb_field 1 "$desc")"
    status_is 0
    line_present "code=5 NOT_FOUND"
}
