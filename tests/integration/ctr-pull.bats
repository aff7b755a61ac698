#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Debian's `ctr images pull` against berthd (issue 10): the client-side pull (content Write,
# Info/Update labels, Images.Create, Diff/Snapshots unpack, leases) from a real docker-registry
# on 127.0.0.1, then `ctr run` / `berthctl run` of the image. Registries start once per file.

load helpers
load registry

setup_file() {
    reg_mkimages "$BATS_FILE_TMPDIR/img"
    reg_start plain plain
    reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
    reg_push plain "$BATS_FILE_TMPDIR/img/multiarch" test/multiarch:latest --multi-arch all
    reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox-v2s2:latest --format v2s2
    reg_push plain "$BATS_FILE_TMPDIR/img/big" test/big:latest
}

teardown_file() {
    reg_stop_all
}

setup() {
    berth_setup
    IMG="$BATS_FILE_TMPDIR/img"
    H=$(reg_host plain)
    reg_mark plain
}

teardown() {
    tasks_teardown
}

@test "ctr pull --plain-http from a registry stores the image, labels and snapshots like containerd" {
    run ctrb images pull --plain-http "$H/test/busybox:latest"
    status_is 0
    output_has "unpacking linux/$REG_ARCH"
    assert_pulled_like_containerd test/busybox latest 3
}

@test "ctr run and berthctl run of a ctr-pulled image see every layer" {
    ctrb images pull --plain-http "$H/test/busybox:latest" >/dev/null
    runs_marker ctrb "$H/test/busybox:latest" cp1
    run bctl run --rm "$H/test/busybox:latest" cp2 sh -c 'cat /etc/berth-pull; echo ok'
    status_is 0
    line_present "$REG_MARKER"
    line_present ok
}

@test "ctr pull of the same image into a second namespace fetches no blob and runs there" {
    ctrb images pull --plain-http "$H/test/busybox:latest" >/dev/null
    reg_mark plain
    run ctrb -n second images pull --plain-http "$H/test/busybox:latest"
    status_is 0
    blob_gets_is plain 0
    run ctrb -n second images ls -q
    line_present "$H/test/busybox:latest"
    diff <(expected_labels "http://$H" test/busybox latest) <(actual_labels -n second)
    run ctrb -n second run --rm "$H/test/busybox:latest" cp3 cat /etc/berth-pull
    status_is 0
    [ "$output" = "$REG_MARKER" ]
    run ctrb -n second leases ls -q
    [ -z "$output" ]
}

@test "ctr pull of a multi-platform index: --platform picks the manifest, labels name every child" {
    run ctrb images pull --plain-http --platform "linux/$REG_OTHER_ARCH" "$H/test/multiarch:latest"
    status_is 0
    diff <(expected_labels "http://$H" test/multiarch latest "" "linux/$REG_OTHER_ARCH") <(actual_labels)
    # only the other platform's blobs were fetched: its junk layer, not the busybox layers
    blob_gets_is plain 2
    no_leftovers
    reg_mark plain
    run ctrb images pull --plain-http "$H/test/multiarch:latest"
    status_is 0
    runs_marker ctrb "$H/test/multiarch:latest" cp4
}

@test "ctr pull of a Docker schema2 image" {
    run ctrb images pull --plain-http "$H/test/busybox-v2s2:latest"
    status_is 0
    run bctl --format json images ls
    grep -q '"media_type": "application/vnd.docker.distribution.manifest.v2+json"' <<<"$output"
    diff <(expected_labels "http://$H" test/busybox-v2s2 latest) <(actual_labels)
    runs_marker ctrb "$H/test/busybox-v2s2:latest" cp5
}

@test "ctr pull of an 8 MiB layer, then a repeated pull fetches nothing" {
    run ctrb images pull --plain-http "$H/test/big:latest"
    status_is 0
    run ctrb run --rm "$H/test/big:latest" cp6 ls -l /data/random
    status_is 0
    output_has 8388608
    reg_mark plain
    run ctrb images pull --plain-http "$H/test/big:latest"
    status_is 0
    blob_gets_is plain 0
    no_leftovers
}

@test "five concurrent ctr pulls of one image all succeed" {
    local i pids=()
    for i in 1 2 3 4 5; do
        ctrb images pull --plain-http "$H/test/big:latest" >"$BERTH_TMP/pull$i.out" 2>&1 &
        pids+=($!)
    done
    for i in 0 1 2 3 4; do
        if ! wait "${pids[$i]}"; then
            cat "$BERTH_TMP/pull$((i + 1)).out" >&2
            return 1
        fi
    done
    run ctrb run --rm "$H/test/big:latest" cp7 cat /etc/passwd
    status_is 0
    no_leftovers
}
