#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Content: Debian's ctr (containerd 1.6.20) and berthctl against berthd's Content service.

load helpers

# These tests read back blobs nothing references, which a garbage-collection pass would rightly
# remove (containerd semantics): keep the automatic passes out of the way.
setup() {
    berth_tmp_init
    printf '[gc]\nstartup_delay_ms = 3600000\nschedule_delay_ms = 3600000\n' >"$BERTH_TMP/nogc.toml"
    berth_setup --config "$BERTH_TMP/nogc.toml"
}

teardown() {
    berth_teardown
}

sha() {
    echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

@test "ctr content ingest/ls/get/label/rm" {
    head -c 3000000 /dev/urandom >"$BERTH_TMP/blob"
    d="$(sha "$BERTH_TMP/blob")"

    run ctrb content ingest ref1 <"$BERTH_TMP/blob"
    status_is 0
    run ctrb content ls
    status_is 0
    output_has "$d"
    grep -Eq "^$d\s+3MB\s" <<<"$output"
    run ctrb content ls -q
    [ "$output" = "$d" ]

    ctrb content get "$d" >"$BERTH_TMP/out"
    cmp "$BERTH_TMP/blob" "$BERTH_TMP/out"

    # Labels, including a dotted key filtered with quotes (what ctr images import relies on).
    run ctrb content label "$d" containerd.io/uncompressed=sha256:abc x=1
    status_is 0
    run ctrb content ls 'labels."containerd.io/uncompressed"==sha256:abc'
    status_is 0
    output_has "$d"
    run ctrb content ls 'labels."containerd.io/uncompressed"==sha256:nope'
    status_is 0
    output_lacks "$d"
    run ctrb content label "$d" x=
    status_is 0
    run bctl content ls
    output_has "containerd.io/uncompressed=sha256:abc"
    output_lacks "x=1"

    # Other namespaces do not see it.
    run ctrb -n other content ls -q
    status_is 0
    [ -z "$output" ]

    # Ingesting the same bytes again with the expected digest is a no-op success.
    run ctrb content ingest --expected-digest "$d" ref2 <"$BERTH_TMP/blob"
    status_is 0

    # A namespace holding a blob cannot be deleted.
    run ctrb namespaces rm default
    [ "$status" -ne 0 ]
    [[ "$output" == *blobs* ]]

    run ctrb content rm "$d"
    status_is 0
    run ctrb content ls -q
    [ -z "$output" ]
    run ctrb content get "$d"
    [ "$status" -ne 0 ]
    [[ "$output" == *"not found"* ]]
}

@test "a Write in another namespace shares a blob: status offset=total=size, commit records it" {
    head -c 100000 /dev/urandom >"$BERTH_TMP/blob"
    d="$(sha "$BERTH_TMP/blob")"
    run ctrb -n nsa content ingest --expected-digest "$d" refa <"$BERTH_TMP/blob"
    status_is 0

    # Namespace b sends no data: the writer opens (containerd's shared content policy; berthd
    # used to answer AlreadyExists), reports the whole blob, and the commit records it in b
    # with the commit's labels.
    run bctl -n nsb --format json content ingest --expected-digest "$d" --label shared=yes refb \
        </dev/null
    status_is 0
    output_has '"offset": 100000'
    output_has '"total": 100000'
    output_has '"existed": false'
    output_has "\"digest\": \"$d\""
    run bctl -n nsb content ls
    status_is 0
    output_has "$d"
    output_has "shared=yes"
    run bctl -n nsb content active
    output_lacks refb
    bctl -n nsb content get "$d" | cmp - "$BERTH_TMP/blob"

    # Now b has it: AlreadyExists at open, as containerd (the client takes it as success).
    run bctl -n nsb --format json content ingest --expected-digest "$d" refb2 </dev/null
    status_is 0
    output_has '"existed": true'

    # ctr with the bytes on stdin seeks past what the server has and commits.
    run ctrb -n nsc content ingest --expected-size 100000 --expected-digest "$d" refc \
        <"$BERTH_TMP/blob"
    status_is 0
    run ctrb -n nsc content ls -q
    [ "$output" = "$d" ]

    # Removing it from a and b leaves c's record and the bytes.
    run ctrb -n nsa content rm "$d"
    status_is 0
    run ctrb -n nsb content rm "$d"
    status_is 0
    ctrb -n nsc content get "$d" | cmp - "$BERTH_TMP/blob"
}

@test "berthctl content ingest/get/active" {
    printf 'hello berth\n' >"$BERTH_TMP/small"
    d="$(sha "$BERTH_TMP/small")"
    run bctl content ingest --expected-size 12 --expected-digest "$d" r <"$BERTH_TMP/small"
    status_is 0
    [ "$output" = "$d" ]
    run bctl content get "$d"
    [ "$output" = "hello berth" ]
    run bctl content ls -q
    [ "$output" = "$d" ]
    run bctl content active
    status_is 0
    output_lacks "r "
    run bctl content rm "$d" "$d"
    [ "$status" -eq 1 ]
}

@test "a digest mismatch on commit is a failed precondition and keeps the ingest" {
    printf 'abc' >"$BERTH_TMP/x"
    bad=sha256:0000000000000000000000000000000000000000000000000000000000000000
    run ctrb content ingest --expected-digest "$bad" badref <"$BERTH_TMP/x"
    [ "$status" -ne 0 ]
    [[ "$output" == *"unexpected commit digest"*"failed precondition"* ]]
    run ctrb content ls -q
    [ -z "$output" ]
    run ctrb content active
    status_is 0
    output_has "badref"
    # A wrong size fails too (ctr notices the short input itself) and stores nothing.
    run ctrb content ingest --expected-size 5 sizeref <"$BERTH_TMP/x"
    [ "$status" -ne 0 ]
    run ctrb content ls -q
    [ -z "$output" ]
    # berthctl sends the commit and gets the server's size check.
    run bctl content ingest --expected-size 5 sizeref2 <"$BERTH_TMP/x"
    [ "$status" -ne 0 ]
    [[ "$output" == *"unexpected commit size"*"failed precondition"* ]]
}

@test "kill -9 of berthd mid-ingest, then the ingest resumes" {
    head -c 3145728 /dev/urandom >"$BERTH_TMP/data"
    d="$(sha "$BERTH_TMP/data")"
    mkfifo "$BERTH_TMP/fifo"
    ctrb content ingest crashref <"$BERTH_TMP/fifo" >/dev/null 2>&1 3>&- &
    ctrpid=$!
    exec 5>"$BERTH_TMP/fifo"
    head -c 2097152 "$BERTH_TMP/data" >&5
    for _ in $(seq 100); do
        if bctl content active | grep -Eq '^crashref +2097152 '; then
            break
        fi
        sleep 0.1
    done
    run bctl content active
    grep -Eq '^crashref +2097152 ' <<<"$output"

    kill9_berthd
    exec 5>&-
    wait "$ctrpid" || true
    start_berthd --config "$BERTH_TMP/nogc.toml"

    # The partial ingest survived and is reported.
    run ctrb content active
    status_is 0
    output_has "crashref"
    run bctl content active 'ref==crashref'
    grep -Eq '^crashref +2097152 ' <<<"$output"

    # ctr asks for the status, skips what the server has and finishes.
    run ctrb content ingest crashref <"$BERTH_TMP/data"
    status_is 0
    run ctrb content ls -q
    [ "$output" = "$d" ]
    ctrb content get "$d" | cmp - "$BERTH_TMP/data"
    run bctl content active
    output_lacks "crashref"
}
