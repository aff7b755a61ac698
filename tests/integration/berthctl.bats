#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berthctl against berthd: every command, both output formats, exit codes (0 ok, 1 server or
# connection failure, 2 usage).

load helpers

setup() {
    berth_setup
}

teardown() {
    berth_teardown
}

json_ok() {
    python3 -c 'import json,sys; json.load(sys.stdin)'
}

@test "berthctl version: text and json" {
    run bctl version
    status_is 0
    output_has "Server:"
    grep -Eq '^ *UUID: [0-9a-f-]{36}$' <<<"$output"
    uuid="$(sed -n 's/^ *UUID: *//p' <<<"$output")"

    run bctl --format json version
    status_is 0
    printf '%s' "$output" | json_ok
    [ "$(printf '%s' "$output" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["uuid"])')" = "$uuid" ]

    run bctl --version
    status_is 0
    output_has "berthctl version"
}

@test "berthctl plugins ls" {
    run bctl plugins ls
    status_is 0
    grep -Eq '^io\.containerd\.grpc\.v1 +containers +- +ok *$' <<<"$output"
    run bctl --format json plugins ls
    status_is 0
    printf '%s' "$output" | json_ok
    run bctl plugins ls 'type==io.containerd.grpc.v1,id==namespaces'
    status_is 0
    grep -Eq '^io\.containerd\.grpc\.v1 +namespaces ' <<<"$output"
    output_lacks "containers"
}

@test "berthctl namespaces create/ls/label/rm" {
    run bctl namespaces create x a=b
    status_is 0
    run bctl namespaces ls
    status_is 0
    grep -Eq '^NAME +LABELS *$' <<<"$output"
    grep -Eq '^x +a=b *$' <<<"$output"

    run bctl namespaces label x c=d
    status_is 0
    run bctl namespaces label x
    status_is 0
    [ "$output" = "a=b,c=d" ]

    run bctl namespaces label x a=
    status_is 0
    run bctl namespaces label x
    [ "$output" = "c=d" ]

    run bctl --format json namespaces ls
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d == [{"name": "x", "labels": {"c": "d"}}], d
'
    run bctl namespaces ls -q
    [ "$output" = "x" ]

    run bctl namespaces create x
    status_is 1
    output_has "already exists"

    run bctl namespaces rm x
    status_is 0
    run bctl namespaces ls -q
    status_is 0
    [ -z "$output" ]

    # Removing a missing namespace is only a warning, as in ctr.
    run bctl namespaces rm x
    status_is 0
    output_has "not found"
}

@test "berthctl namespaces rm of a non-empty namespace fails with exit 1" {
    bctl -n x containers create img c1
    run bctl namespaces rm x
    status_is 1
    output_has "must be empty"
    run bctl -n x containers rm c1
    status_is 0
    run bctl namespaces rm x
    status_is 0
}

@test "berthctl containers create/ls/info/label/rm" {
    run bctl -n x containers create --label k0=v0 --label k1=v1 docker.io/library/busybox:latest c1
    status_is 0
    run bctl -n x containers create --runtime io.containerd.runc.v2 --snapshotter overlayfs \
        --snapshot-key c2 img2 c2
    status_is 0

    run bctl -n x containers ls
    status_is 0
    grep -Eq '^CONTAINER +IMAGE +RUNTIME *$' <<<"$output"
    grep -Eq '^c1 +docker\.io/library/busybox:latest +[^ ]+ *$' <<<"$output"
    grep -Eq '^c2 +img2 +io\.containerd\.runc\.v2 *$' <<<"$output"

    run bctl -n x containers ls -q
    [ "$output" = "$(printf 'c1\nc2')" ]

    run bctl -n x --format json containers ls
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [c["ID"] for c in d] == ["c1", "c2"], d
assert d[0]["Labels"] == {"k0": "v0", "k1": "v1"}, d[0]
assert d[1]["Snapshotter"] == "overlayfs" and d[1]["SnapshotKey"] == "c2", d[1]
assert d[1]["Runtime"]["Name"] == "io.containerd.runc.v2", d[1]
'

    run bctl -n x containers info c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ID"] == "c1" and d["Image"] == "docker.io/library/busybox:latest", d
assert d["Labels"] == {"k0": "v0", "k1": "v1"}, d
assert d["Spec"]["ociVersion"], d
'
    run bctl -n x containers info --spec c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert "ociVersion" in d, d
'

    # label: set, delete (empty value), show
    created="$(bctl -n x containers info c1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["CreatedAt"])')"
    run bctl -n x containers label c1 k2=v2 k1=
    status_is 0
    run bctl -n x containers label c1
    status_is 0
    [ "$output" = "k0=v0,k2=v2" ]
    run bctl -n x --format json containers label c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
assert json.load(sys.stdin) == {"k0": "v0", "k2": "v2"}
'
    run bctl -n x containers info c1
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["CreatedAt"] == sys.argv[1], (d["CreatedAt"], sys.argv[1])
assert d["UpdatedAt"] > d["CreatedAt"], d
' "$created"

    # The other namespace sees nothing.
    run bctl -n other containers ls -q
    status_is 0
    [ -z "$output" ]

    run bctl -n x containers rm c1 c2
    status_is 0
    run bctl -n x containers ls -q
    status_is 0
    [ -z "$output" ]
}

@test "berthctl containers create with --spec FILE stores the spec verbatim" {
    printf '{"ociVersion":"1.0.2","process":{"args":["/bin/true"],"cwd":"/"},"hostname":"h1"}' \
        >"$BERTH_TMP/spec.json"
    run bctl -n x containers create --spec "$BERTH_TMP/spec.json" img c1
    status_is 0
    run bctl -n x containers info --spec c1
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["hostname"] == "h1" and d["process"]["args"] == ["/bin/true"], d
'
    printf 'not json' >"$BERTH_TMP/bad.json"
    run bctl -n x containers create --spec "$BERTH_TMP/bad.json" img c2
    [ "$status" -ne 0 ]
    run bctl -n x containers ls -q
    [ "$output" = "c1" ]
}

@test "berthctl containers ls filters" {
    bctl -n x containers create --label k0=v0 img c1
    bctl -n x containers create --label k0=v1 img c2
    bctl -n x containers create --label k0=v0 img d3
    bctl -n x containers create other e4

    run bctl -n x containers ls -q 'labels.k0==v0'
    status_is 0
    [ "$output" = "$(printf 'c1\nd3')" ]

    run bctl -n x containers ls -q 'id~=^c'
    status_is 0
    [ "$output" = "$(printf 'c1\nc2')" ]

    # comma = AND, separate filters = OR
    run bctl -n x containers ls -q 'labels.k0==v0,id~=^c'
    status_is 0
    [ "$output" = "c1" ]
    run bctl -n x containers ls -q 'id==c2' 'id==e4'
    status_is 0
    [ "$output" = "$(printf 'c2\ne4')" ]

    # != matches absent fields; presence test
    run bctl -n x containers ls -q 'labels.k0!=v0'
    status_is 0
    [ "$output" = "$(printf 'c2\ne4')" ]
    run bctl -n x containers ls -q 'labels.k0'
    status_is 0
    [ "$output" = "$(printf 'c1\nc2\nd3')" ]
    run bctl -n x containers ls -q 'image==other'
    [ "$output" = "e4" ]

    run bctl -n x --format json containers ls 'labels.k0==v1'
    status_is 0
    printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [c["ID"] for c in d] == ["c2"], d
'
    # No match: empty JSON array, empty table.
    run bctl -n x --format json containers ls 'id==nope'
    status_is 0
    [ "$(printf '%s' "$output" | python3 -c 'import json,sys; print(json.load(sys.stdin))')" = "[]" ]

    # A filter that does not parse is a server error (InvalidArgument): exit 1.
    run bctl -n x containers ls 'labels.k0=='
    status_is 1
    output_has "invalid argument"
}

@test "berthctl exit codes: 1 for server errors" {
    run bctl -n x containers info nope
    status_is 1
    output_has "not found"

    run bctl -n x containers rm nope
    status_is 1
    output_has "nope"

    bctl -n x containers create img c1
    run bctl -n x containers create img c1
    status_is 1
    output_has "already exists"

    run bctl -n x containers label nope a=b
    status_is 1
    output_has "not found"

    # rm of several ids: the good ones go, the exit code tells about the bad one.
    bctl -n x containers create img c2
    run bctl -n x containers rm c1 nope c2
    status_is 1
    run bctl -n x containers ls -q
    status_is 0
    [ -z "$output" ]
}

@test "berthctl exit codes: 2 for usage errors" {
    run bctl
    status_is 2
    run bctl bogus
    status_is 2
    output_has "unknown command"
    run bctl --bogus version
    status_is 2
    run bctl --format yaml version
    status_is 2
    run bctl --timeout nonsense version
    status_is 2
    run bctl containers bogus
    status_is 2
    run bctl containers create onlyimage
    status_is 2
    run bctl containers info
    status_is 2
    run bctl containers ls --bogus
    status_is 2
    run bctl namespaces create
    status_is 2
    run bctl namespaces create x novalue
    status_is 2
    run bctl version extra
    status_is 2
    # Nothing reached the store.
    run bctl namespaces ls -q
    [ -z "$output" ]

    run bctl --help
    status_is 0
    run bctl containers --help
    status_is 0
    output_has "create"
}

@test "berthctl against a missing socket fails fast" {
    start=$(date +%s%N)
    run "$BERTH_BIN/berthctl" -a /nonexistent.sock version
    end=$(date +%s%N)
    [ "$status" -ne 0 ]
    status_is 1
    output_has "/nonexistent.sock"
    [ $(((end - start) / 1000000)) -lt 5000 ]

    # A socket file nobody listens on (stale after a crash) fails fast too.
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$BERTH_TMP/stale.sock"
    start=$(date +%s%N)
    run "$BERTH_BIN/berthctl" -a "$BERTH_TMP/stale.sock" containers ls
    end=$(date +%s%N)
    status_is 1
    [ $(((end - start) / 1000000)) -lt 5000 ]
}

@test "berthctl honours BERTH_ADDRESS and BERTH_NAMESPACE" {
    BERTH_ADDRESS="$SOCK" BERTH_NAMESPACE=envns run "$BERTH_BIN/berthctl" containers create img c1
    status_is 0
    run bctl -n envns containers ls -q
    [ "$output" = "c1" ]
}

@test "berthctl with a namespace that is not a valid header value fails fast" {
    # A newline cannot travel in a gRPC header, so the call fails locally. It must fail at once
    # (exit 1), not wait for the deadline -- or forever with --timeout 0.
    for cmd in version "namespaces ls" "containers ls"; do
        # shellcheck disable=SC2086
        run timeout 5 "$BERTH_BIN/berthctl" -a "$SOCK" --timeout 0 -n $'bad\nns' $cmd
        if [ "$status" -eq 124 ]; then
            echo "berthctl $cmd hung (killed after 5 s)" >&2
            return 1
        fi
        status_is 1
    done
}
