#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Damaged or full stores never crash berthd: a truncated data.mdb (metadata or a snapshotter's)
# stops it at start with a message naming the file; a record that cannot be decoded is skipped
# by listings and keeps its namespace out of GC while the rest is collected; a full disk fails
# writes with RESOURCE_EXHAUSTED "disk full" and berthd serves on and recovers. Records are
# damaged with mdb_load (lmdb-utils) while berthd is stopped.

load helpers

S_SVC=/containerd.services.snapshots.v1.Snapshots
NS_SVC=/containerd.services.namespaces.v1.Namespaces

setup() {
    berth_setup
}

teardown() {
    if [ -n "${TMPFS_ROOT:-}" ]; then
        if [ -n "${BERTHD_PID:-}" ]; then
            kill -TERM "$BERTHD_PID" 2>/dev/null
            wait_pid "$BERTHD_PID" || true
            BERTHD_PID=
        fi
        umount -l "$TMPFS_ROOT"
        TMPFS_ROOT=
    fi
    berth_teardown
}

# Halves a data.mdb (whole pages) behind berthd's back.
truncate_half() {
    local size
    size=$(stat -c %s "$1")
    truncate -s $((size / 2 / 4096 * 4096)) "$1"
}

# Runs berthd on the test's root in the foreground; it must refuse to start, quickly and with a
# message rather than a signal (135 was the SIGBUS).
berthd_refuses() {
    run timeout 10 "$BERTH_BIN/berthd" --root "$ROOT" --state "$STATE" --address "$SOCK"
    echo "berthd exited with $status: $output" >&2
    [ "$status" -ne 0 ]
    [ "$status" -lt 124 ] # neither hung (124) nor killed by a signal (128+n)
    [ ! -S "$SOCK" ]
}

# Prepares gc.root snapshots k1..k$1 in the native snapshotter, each with a 3000-byte backend
# label: their records fill overflow pages no later write frees, so half the file is live.
prepare_root_snapshots() {
    local labels key i
    labels="$(pb_field 4 "$(pb_str 1 containerd.io/gc.root)$(pb_str 2 1)")"
    labels+="$(pb_field 4 "$(pb_str 1 containerd.io/snapshot/pad)$(pb_str 2 "$(repeat_char 3000)")")"
    for i in $(seq 1 "$1"); do
        key="$(printf '12%02x' "${#i}")$(printf '%s' "$i" | od -An -tx1 | tr -d ' \n')"
        run rawcall -n default "$S_SVC/Prepare" --hex "$(pb_str 1 native)${key}${labels}"
        status_is 0
        output_has "code=0 OK"
    done
}

@test "a truncated metadata data.mdb stops berthd at start with a message naming the file" {
    # records with a 3000-byte label fill overflow pages: half the file is live data
    for i in $(seq 1 20); do
        bctl -n x containers create --label pad="$(repeat_char 3000)" img "c$i"
    done
    stop_berthd --keep
    truncate_half "$ROOT/metadata/data.mdb"

    berthd_refuses
    output_has "$ROOT/metadata/data.mdb"
    output_has "truncated"
}

@test "a truncated snapshotter data.mdb stops berthd at start, never after READY" {
    prepare_root_snapshots 12
    stop_berthd --keep
    truncate_half "$ROOT/snapshots/native/metadata/data.mdb"

    # Before: READY, then SIGBUS in the first GC pass, and again after every restart.
    berthd_refuses
    output_has "$ROOT/snapshots/native/metadata/data.mdb"
    output_has "truncated"
    output_lacks "serving"
}

@test "a record that cannot be decoded: listings skip it, get names it, GC keeps its namespace" {
    bctl -n default containers create img c1
    bctl -n default containers create img bad
    bctl -n default containers create img c2
    kept=$(printf 'kept in default' | bctl -n default content ingest r-default)
    gone=$(printf 'garbage in other' | bctl -n other content ingest r-other)
    stop_berthd --keep
    # the value of c/default/bad becomes bytes no record decodes from
    printf 'c/default/bad\n\\ff\\ff\\ff\\ff\\ff\\ff\n' | mdb_load -T "$ROOT/metadata"
    start_berthd

    run bctl -n default containers ls -q
    status_is 0
    [ "$output" = "$(printf 'c1\nc2')" ]
    run bctl -n default containers info bad
    [ "$status" -ne 0 ]
    output_has 'record "c/default/bad" is corrupt'
    run rawcall -n default /containerd.services.containers.v1.Containers/Get \
        --hex "$(pb_str 1 bad)"
    output_has "code=15 DATA_LOSS"

    run bctl gc
    status_is 0
    run bctl -n default content ls -q
    line_present "$kept"
    run bctl -n other content ls -q
    line_absent "$gone"
    grep -q 'left in place: 1 record(s) that cannot be decoded (e.g. "c/default/bad")' "$LOG"

    # still there for a future fsck, and still serving
    run bctl -n default containers info bad
    [ "$status" -ne 0 ]
    run bctl -n default containers create img c3
    status_is 0
}

@test "a full disk fails metadata writes with RESOURCE_EXHAUSTED; berthd serves on and recovers" {
    stop_berthd
    berth_tmp_init
    mkdir -p "$ROOT"
    mount -t tmpfs -o size=4m tmpfs "$ROOT"
    TMPFS_ROOT="$ROOT"
    start_berthd
    bctl -n x containers create img c1
    dd if=/dev/zero of="$ROOT/fill" bs=64k 2>/dev/null || true

    run rawcall "$NS_SVC/Create" --hex "$(pb_field 1 "$(pb_str 1 full)")"
    status_is 0
    output_has "code=8 RESOURCE_EXHAUSTED"
    output_has "disk full"
    output_has "$ROOT/metadata/data.mdb"
    run bctl -n x containers create --label pad="$(repeat_char 3000)" img c2
    [ "$status" -ne 0 ]
    output_has "disk full"

    # reads go on, and berthd is alive
    run bctl -n x containers ls -q
    status_is 0
    [ "$output" = "c1" ]
    kill -0 "$BERTHD_PID"

    rm -f "$ROOT/fill"
    run bctl -n x containers create img c2
    status_is 0
    run bctl -n x containers ls -q
    [ "$output" = "$(printf 'c1\nc2')" ]
}
