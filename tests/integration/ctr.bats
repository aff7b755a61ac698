#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Debian's ctr (containerd 1.6.20) against berthd: the wire compatibility promise.

load helpers

setup() {
    berth_setup
}

teardown() {
    berth_teardown
}

@test "ctr version prints the server version and the UUID berthctl reports" {
    run ctrb version
    status_is 0
    output_has "Server:"
    ctr_uuid="$(sed -n 's/^ *UUID: *//p' <<<"$output")"
    [[ "$ctr_uuid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]

    run bctl version
    status_is 0
    b_uuid="$(sed -n 's/^ *UUID: *//p' <<<"$output")"
    [ "$ctr_uuid" = "$b_uuid" ]

    # The UUID is the store's: it survives a restart.
    stop_berthd --keep
    start_berthd
    run ctrb version
    status_is 0
    [ "$(sed -n 's/^ *UUID: *//p' <<<"$output")" = "$ctr_uuid" ]
}

@test "ctr plugins ls lists the grpc services as ok" {
    run ctrb plugins ls
    status_is 0
    grep -Eq '^io\.containerd\.grpc\.v1 +containers +- +ok *$' <<<"$output"
    grep -Eq '^io\.containerd\.grpc\.v1 +namespaces +- +ok *$' <<<"$output"
    grep -Eq '^io\.containerd\.grpc\.v1 +version +- +ok *$' <<<"$output"
    grep -Eq '^io\.containerd\.grpc\.v1 +introspection +- +ok *$' <<<"$output"

    # Filters are evaluated by the server.
    run ctrb plugins ls 'id==containers'
    status_is 0
    grep -Eq '^io\.containerd\.grpc\.v1 +containers ' <<<"$output"
    output_lacks "namespaces"
    output_lacks "introspection"
}

@test "ctr namespaces create/ls/label/rm" {
    run ctrb namespaces create x a=b
    status_is 0

    run ctrb namespaces ls
    status_is 0
    grep -Eq '^x +a=b *$' <<<"$output"

    run ctrb namespaces label x c=d
    status_is 0
    run ctrb namespaces ls
    grep -Eq '^x +a=b,c=d *$' <<<"$output"

    # An empty value deletes the label.
    run ctrb namespaces label x a=
    status_is 0
    run ctrb namespaces ls
    status_is 0
    grep -Eq '^x +c=d *$' <<<"$output"
    output_lacks "a=b"

    # Creating it again is AlreadyExists.
    run ctrb namespaces create x
    [ "$status" -ne 0 ]
    output_has "already exists"

    run ctrb namespaces rm x
    status_is 0
    run ctrb namespaces ls -q
    status_is 0
    line_absent x
}

@test "ctr sees containers created by berthctl: ls, info, label, rm" {
    run bctl -n x containers create --label k0=v0 docker.io/library/busybox:latest c1
    status_is 0

    run ctrb -n x containers ls
    status_is 0
    grep -Eq '^CONTAINER +IMAGE +RUNTIME' <<<"$output"
    grep -Eq '^c1 +docker\.io/library/busybox:latest +[^ ]+ *$' <<<"$output"

    run ctrb -n x containers ls -q
    status_is 0
    [ "$output" = "c1" ]

    # The namespace came into being with the first container.
    run ctrb namespaces ls -q
    line_present x

    # info decodes the spec Any as OCI JSON and shows the labels.
    run ctrb -n x containers info c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ID"] == "c1", d
assert d["Image"] == "docker.io/library/busybox:latest", d
assert d["Labels"] == {"k0": "v0"}, d["Labels"]
assert isinstance(d["Spec"], dict) and "ociVersion" in d["Spec"], d["Spec"]
assert not d["CreatedAt"].startswith("0001"), d["CreatedAt"]
'

    run ctrb -n x containers label c1 k=v
    status_is 0
    run ctrb -n x containers info c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["Labels"] == {"k0": "v0", "k": "v"}, d["Labels"]
assert d["UpdatedAt"] >= d["CreatedAt"], d
'
    # berthctl sees ctr's label.
    run bctl -n x containers label c1
    status_is 0
    [ "$output" = "k=v,k0=v0" ]

    run ctrb -n x containers label c1 k0=
    status_is 0
    run bctl -n x containers label c1
    [ "$output" = "k=v" ]

    run ctrb -n x containers rm c1
    status_is 0
    run ctrb -n x containers ls -q
    status_is 0
    [ -z "$output" ]
    run bctl -n x containers info c1
    status_is 1
    output_has "not found"
}

@test "ctr containers ls filters and other namespaces" {
    bctl -n x containers create --label k0=v0 img c1
    bctl -n x containers create --label k0=v1 img c2
    bctl -n y containers create img c3

    run ctrb -n x containers ls -q 'labels.k0==v0'
    status_is 0
    [ "$output" = "c1" ]
    run ctrb -n x containers ls -q 'labels.k0==v0' 'labels.k0==v1'
    status_is 0
    [ "$output" = "$(printf 'c1\nc2')" ]
    run ctrb -n y containers ls -q
    [ "$output" = "c3" ]
    run ctrb containers ls -q
    status_is 0
    [ -z "$output" ]
}

@test "ctr namespaces rm refuses a namespace that still holds a container" {
    run bctl -n x containers create --label k0=v0 docker.io/library/busybox:latest c1
    status_is 0

    run ctrb namespaces rm x
    [ "$status" -ne 0 ]
    output_has "must be empty"

    # Nothing changed.
    run ctrb -n x containers ls -q
    [ "$output" = "c1" ]

    run ctrb -n x containers rm c1
    status_is 0
    run ctrb namespaces rm x
    status_is 0
    run ctrb namespaces ls -q
    line_absent x
}

@test "ctr namespaces label creates a missing namespace" {
    run ctrb namespaces label ghost x=1
    status_is 0
    run ctrb namespaces ls
    grep -Eq '^ghost +x=1 *$' <<<"$output"
}
