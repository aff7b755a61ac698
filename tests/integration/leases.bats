#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Leases: Debian's ctr (containerd 1.6.20) and berthctl against berthd.

load helpers

setup() {
    berth_setup
}

teardown() {
    berth_teardown
}

@test "ctr leases create/ls/rm" {
    run ctrb leases create
    status_is 0
    generated="$output"
    [[ "$generated" =~ ^[0-9]+-[A-Za-z0-9_-]{4}$ ]]

    run ctrb leases create --id foo -x 1h
    status_is 0
    [ "$output" = "foo" ]

    run ctrb leases create --id bar -x 0 a=b
    status_is 0

    run ctrb leases ls
    status_is 0
    grep -Eq '^ID +CREATED AT +LABELS' <<<"$output"
    grep -Eq "^$generated +[0-9T:-]+Z +containerd\.io/gc\.expire=[0-9T:-]+Z *$" <<<"$output"
    grep -Eq '^foo +[0-9T:-]+Z +containerd\.io/gc\.expire=[0-9T:-]+Z *$' <<<"$output"
    grep -Eq '^bar +[0-9T:-]+Z +a=b *$' <<<"$output"

    # Filters are evaluated by the server.
    run ctrb leases ls 'id==foo'
    status_is 0
    output_has "foo"
    output_lacks "bar"
    run ctrb leases ls -q 'labels.a==b'
    status_is 0
    [ "$output" = "bar" ]

    run ctrb leases create --id foo
    [ "$status" -ne 0 ]
    output_has "already exists"

    run ctrb leases rm foo
    status_is 0
    run ctrb leases rm foo
    [ "$status" -ne 0 ]
    output_has "not found"

    run ctrb leases ls -q
    status_is 0
    line_absent "foo"
    line_present "bar"
    line_present "$generated"
}

@test "leases are per namespace and go with their namespace" {
    run ctrb -n team leases create --id l1
    status_is 0
    run ctrb leases ls -q
    status_is 0
    line_absent "l1"

    # Leases don't keep a namespace alive (containerd deletes the whole bucket).
    run ctrb namespaces rm team
    status_is 0
    run ctrb -n team leases ls -q
    status_is 0
    [ -z "$output" ]
}

@test "berthctl leases create/ls/rm" {
    run bctl leases create --id b1 -x 30m -l team=a
    status_is 0
    [ "$output" = "b1" ]
    run bctl leases create -x 0
    status_is 0
    [[ "$output" =~ ^[0-9]+-[A-Za-z0-9_-]{4}$ ]]

    run bctl leases ls 'labels.team==a'
    status_is 0
    grep -Eq '^b1 +[0-9T:-]+Z +containerd\.io/gc\.expire=[0-9T:-]+Z,team=a *$' <<<"$output"

    run bctl --format json leases ls 'id==b1'
    status_is 0
    python3 -c 'import json,sys; v=json.load(sys.stdin); assert v[0]["id"]=="b1" and v[0]["labels"]["team"]=="a"' <<<"$output"

    # ctr sees what berthctl made.
    run ctrb leases ls -q
    status_is 0
    line_present "b1"

    run bctl leases rm --sync b1 missing
    status_is 1
    line_present "b1"

    run bctl leases create --id 'a/b'
    status_is 1
    output_has "invalid argument"
}
