#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Malformed requests: containerd's validation rules, the status codes it returns, and proof
# that a rejected request leaves the store exactly as it was.

load helpers

C_SVC=/containerd.services.containers.v1.Containers
NS_SVC=/containerd.services.namespaces.v1.Namespaces

setup() {
    berth_setup
    # Some state for the "unchanged" checks.
    bctl namespaces create keep a=b
    bctl -n keep containers create --label k0=v0 img c1
    bctl -n keep containers create img c2
    BEFORE="$(store_dump)"
    [ -n "$BEFORE" ]
}

teardown() {
    berth_teardown
}

store_unchanged() {
    local after
    after="$(store_dump)"
    if [ "$after" != "$BEFORE" ]; then
        echo "store changed; before:" >&2
        echo "$BEFORE" >&2
        echo "after:" >&2
        echo "$after" >&2
        return 1
    fi
}

# The bytes of string $1 as hex (pb_field takes hex, so "$(hex_of ab)00$(hex_of cd)" is "ab\0cd",
# which no shell string can hold).
hex_of() {
    printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'
}

# CreateContainerRequest{container{id: <hex $1>, image: img, runtime{name: io.containerd.runc.v2},
# spec: Any{types.containerd.io/opencontainers/runtime-spec/1/Spec, "{}"}, <hex $2>}} as hex.
pb_container_hex() {
    pb_field 1 "$(pb_field 1 "$1")$(pb_str 3 img)$(pb_field 4 "$(pb_str 1 io.containerd.runc.v2)")$(pb_field 5 "$(pb_str 1 types.containerd.io/opencontainers/runtime-spec/1/Spec)$(pb_str 2 '{}')")${2:-}"
}

# The same with a plain id.
pb_container() {
    pb_container_hex "$(hex_of "$1")"
}

# bad_id ID: create (and get, label, rm) with an invalid container id -> InvalidArgument
bad_id() {
    local id="$1"
    run bctl -n keep containers create img "$id"
    status_is 1
    output_has "invalid argument"
    output_has "\"$id\""
    run bctl -n keep containers info -- "$id"
    status_is 1
    output_has "invalid argument"
    run bctl -n keep containers label "$id" a=b
    status_is 1
    output_has "invalid argument"
    run bctl -n keep containers rm "$id"
    status_is 1
    output_has "invalid argument"
    # The status code itself, on the wire.
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_container "$id")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has "$id"
    store_unchanged
}

@test "container id with a leading separator is InvalidArgument" {
    bad_id -bad
}

@test "container id with a double separator is InvalidArgument" {
    bad_id a..b
}

@test "container id with a trailing separator is InvalidArgument" {
    bad_id a_
}

@test "container id with a space or non-ASCII is InvalidArgument" {
    bad_id 'a b'
    bad_id 'é'
}

@test "container id of 77 characters is InvalidArgument, 76 is fine" {
    bad_id "$(repeat_char 77 a)"
    id76="$(repeat_char 76 a)"
    run bctl -n keep containers create img "$id76"
    status_is 0
    run bctl -n keep containers ls -q
    line_present "$id76"
}

@test "valid container ids per containerd's rule are accepted" {
    for id in UPPER_ok a.b-c_d 0 9x A1.b2_C3-d4; do
        [[ "$id" =~ $ID_RE ]]
        run bctl -n valid containers create img "$id"
        status_is 0
    done
    run bctl -n valid containers ls -q
    [ "$(sort <<<"$output")" = "$(printf '%s\n' 0 9x A1.b2_C3-d4 UPPER_ok a.b-c_d | sort)" ]
}

@test "a 5000-byte label value is InvalidArgument on container create and update" {
    big="$(repeat_char 5000)"
    run bctl -n keep containers create --label "k=$big" img big1
    status_is 1
    output_has "invalid argument"
    run bctl -n keep containers label c1 "k=$big"
    status_is 1
    output_has "invalid argument"
    store_unchanged
    # 4096 bytes key+value is the limit, inclusive.
    run bctl -n keep containers create --label "k=$(repeat_char 4095)" img edge
    status_is 0
    run bctl -n keep containers create --label "k=$(repeat_char 4096)" img edge2
    status_is 1
    output_has "invalid argument"
}

@test "a 5000-byte label value is InvalidArgument on namespace create and label" {
    big="$(repeat_char 5000)"
    run bctl namespaces create bigns "k=$big"
    status_is 1
    output_has "invalid argument"
    run bctl namespaces label keep "k=$big"
    status_is 1
    output_has "invalid argument"
    store_unchanged
}

@test "an invalid namespace name is InvalidArgument everywhere" {
    run bctl -n 'bad..ns' containers ls
    status_is 1
    output_has "invalid argument"
    output_has "bad..ns"
    run bctl -n 'bad..ns' containers create img c9
    status_is 1
    output_has "invalid argument"
    run bctl namespaces create 'bad..ns'
    status_is 1
    output_has "invalid argument"
    run bctl namespaces label 'bad..ns' a=b
    status_is 1
    output_has "invalid argument"
    run bctl namespaces create "$(repeat_char 77 n)"
    status_is 1
    output_has "invalid argument"
    run rawcall -n 'bad..ns' "$C_SVC/List" --empty
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
}

@test "a missing namespace header is FailedPrecondition 'namespace is required'" {
    run rawcall --no-namespace "$C_SVC/List" --empty
    status_is 0
    line_present "code=9 FAILED_PRECONDITION"
    output_has "namespace is required"
    run rawcall --no-namespace "$C_SVC/Create" --hex "$(pb_container nons)"
    status_is 0
    line_present "code=9 FAILED_PRECONDITION"
    output_has "namespace is required"
    # Namespaces, Version and Introspection do not need one.
    run rawcall --no-namespace "$NS_SVC/List" --empty
    status_is 0
    line_present "code=0 OK"
    run rawcall --no-namespace /containerd.services.version.v1.Version/Version --empty
    status_is 0
    line_present "code=0 OK"
    run rawcall --no-namespace /containerd.services.introspection.v1.Introspection/Plugins --empty
    status_is 0
    line_present "code=0 OK"
    store_unchanged
}

@test "an undecodable body is InvalidArgument" {
    run rawcall -n keep "$C_SVC/Get" --hex ffffffff0a
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n keep "$C_SVC/Create" --hex ffffffff0a
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n keep "$C_SVC/Delete" --text "this is not protobuf"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall "$NS_SVC/Create" --hex 0aff
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
    # The server still works.
    run bctl -n keep containers info c1
    status_is 0
}

@test "unknown methods and services are Unimplemented" {
    run rawcall -n keep "$C_SVC/Nope" --empty
    status_is 0
    line_present "code=12 UNIMPLEMENTED"
    run rawcall -n keep /containerd.services.nope.v1.Nope/Get --empty
    status_is 0
    line_present "code=12 UNIMPLEMENTED"
    store_unchanged
}

@test "Create without a container, Get/Delete with an empty id are rejected" {
    run rawcall -n keep "$C_SVC/Create" --empty
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n keep "$C_SVC/Get" --empty
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n keep "$C_SVC/Delete" --empty
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
}

@test "deleting a namespace that still has a container is FailedPrecondition" {
    run rawcall "$NS_SVC/Delete" --hex "$(pb_str 1 keep)"
    status_is 0
    line_present "code=9 FAILED_PRECONDITION"
    output_has "must be empty"
    run bctl namespaces rm keep
    status_is 1
    output_has "must be empty"
    store_unchanged
}

@test "getting a missing container is NotFound, creating a duplicate AlreadyExists" {
    run rawcall -n keep "$C_SVC/Get" --hex "$(pb_str 1 nope)"
    status_is 0
    line_present "code=5 NOT_FOUND"
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_container c1)"
    status_is 0
    line_present "code=6 ALREADY_EXISTS"
    store_unchanged
}

@test "update with an unknown field path is InvalidArgument" {
    # UpdateContainerRequest{container{id:c1}, update_mask{paths:["bogus"]}}
    run rawcall -n keep "$C_SVC/Update" --hex "$(pb_field 1 "$(pb_str 1 c1)")$(pb_field 2 "$(pb_str 1 bogus)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    # Changing the runtime through an empty mask is refused (containerd: immutable fields).
    run rawcall -n keep "$C_SVC/Update" --hex "$(pb_field 1 "$(pb_str 1 c1)$(pb_str 3 img)$(pb_field 4 "$(pb_str 1 other.runtime)")")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
}

@test "a NUL byte in a container id is InvalidArgument and creates nothing" {
    # protobuf-c alone would hand the handler "ab" and create that.
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_container_hex "$(hex_of ab)00$(hex_of cd)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has 'container.id'
    output_has '"ab\x00cd"'
    store_unchanged
    run bctl -n keep containers info ab
    status_is 1
    output_has "not found"
}

@test "Get and Delete with a NUL byte in the id do not act on the prefix" {
    bctl -n keep containers create img ab
    BEFORE="$(store_dump)"
    run rawcall -n keep "$C_SVC/Get" --hex "$(pb_field 1 "$(hex_of ab)00$(hex_of zz)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_lacks "response="
    run rawcall -n keep "$C_SVC/Delete" --hex "$(pb_field 1 "$(hex_of ab)00$(hex_of zz)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
    run bctl -n keep containers info ab
    status_is 0
}

@test "content Info, Delete and Status with a NUL byte in the digest or ref are InvalidArgument" {
    local CT_SVC=/containerd.services.content.v1.Content d bad
    # The blob below is referenced by nothing: keep garbage collection away from it.
    printf '[gc]\nstartup_delay_ms = 3600000\nschedule_delay_ms = 3600000\n' >"$BERTH_TMP/nogc.toml"
    stop_berthd --keep
    start_berthd --config "$BERTH_TMP/nogc.toml"
    printf 'hello berth\n' >"$BERTH_TMP/blob"
    d="sha256:$(sha256sum "$BERTH_TMP/blob" | cut -d' ' -f1)"
    bctl -n keep content ingest --expected-digest "$d" r1 <"$BERTH_TMP/blob"
    # A failed commit keeps the ingest "badref" active.
    bad=sha256:0000000000000000000000000000000000000000000000000000000000000000
    run ctrb -n keep content ingest --expected-digest "$bad" badref <"$BERTH_TMP/blob"
    [ "$status" -ne 0 ]
    # Both exist under their real names...
    run rawcall -n keep "$CT_SVC/Info" --hex "$(pb_str 1 "$d")"
    line_present "code=0 OK"
    run rawcall -n keep "$CT_SVC/Status" --hex "$(pb_str 1 badref)"
    line_present "code=0 OK"
    # ...and not under a longer name that a NUL would cut back to them.
    run rawcall -n keep "$CT_SVC/Info" --hex "$(pb_field 1 "$(hex_of "$d")00$(hex_of zz)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has "field digest"
    run rawcall -n keep "$CT_SVC/Delete" --hex "$(pb_field 1 "$(hex_of "$d")00")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    run rawcall -n keep "$CT_SVC/Status" --hex "$(pb_field 1 "$(hex_of badref)00$(hex_of x)")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has "field ref"
    run bctl -n keep content get "$d"
    status_is 0
    [ "$output" = "hello berth" ]
    run ctrb -n keep content active
    output_has badref
}

@test "a label that is not valid UTF-8 is InvalidArgument" {
    # labels {"k": "\xff"}, and an overlong "/" as a key
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_container_hex "$(hex_of u1)" "$(pb_field 2 "$(pb_str 1 k)$(pb_field 2 ff)")")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has 'container.labels["k"]'
    output_has "not valid UTF-8"
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_container_hex "$(hex_of u2)" "$(pb_field 2 "$(pb_field 1 c0af)$(pb_str 2 v)")")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has '"\xc0\xaf"'
    # The same through the namespaces service.
    run rawcall "$NS_SVC/Create" --hex "$(pb_field 1 "$(pb_str 1 u3)$(pb_field 2 "$(pb_str 1 k)$(pb_field 2 eda080)")")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    store_unchanged
}

@test "valid UTF-8 and empty strings are still accepted" {
    run bctl -n keep containers create --label 'k=été € 😀' --label 'e=' img utf8ok
    status_is 0
    run bctl -n keep containers info utf8ok
    status_is 0
    output_has 'été € 😀'
    # An explicitly empty string on the wire (proto3 encoders omit it, but may send it).
    run rawcall -n keep "$C_SVC/List" --hex "$(pb_field 1 "")"
    status_is 0
    line_present "code=0 OK"
}

# containerd.runc.v1.Options as an Any: field $1 (6 binary_name, 7 root) holding hex $2.
pb_runc_opts() {
    pb_str 1 containerd.runc.v1.Options
    pb_field 2 "$(pb_field "$1" "$2")"
}

@test "Tasks.Create with a NUL byte in the runc options is InvalidArgument and starts nothing" {
    local T_SVC=/containerd.services.tasks.v1.Tasks opts
    # CreateTaskRequest{container_id: c1, options (9): {binary_name: "ru\0nc"}}: the shim's
    # protobuf-c would have read "ru".
    opts="$(pb_runc_opts 6 "$(hex_of ru)00$(hex_of nc)")"
    run rawcall -n keep "$T_SVC/Create" --hex "$(pb_str 1 c1)$(pb_field 9 "$opts")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has "task options (containerd.runc.v1.Options): field binary_name"
    output_has '"ru\x00nc"'
    # Invalid UTF-8 in root, through the type URL ctr sends.
    opts="$(pb_str 1 type.googleapis.com/containerd.runc.v1.Options)$(pb_field 2 "$(pb_field 7 "$(hex_of /run/)ff")")"
    run rawcall -n keep "$T_SVC/Create" --hex "$(pb_str 1 c1)$(pb_field 9 "$opts")"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has "field root"
    output_has "not valid UTF-8"
    run bctl -n keep tasks ls
    status_is 0
    [ -z "$(awk 'NR > 1' <<<"$output")" ] # the header only
    store_unchanged
}

@test "Tasks.Create refuses a container whose runtime options hold a NUL byte" {
    local T_SVC=/containerd.services.tasks.v1.Tasks rt
    # Containers.Create stores runtime options as they come, as containerd does...
    rt="$(pb_field 4 "$(pb_str 1 io.containerd.runc.v2)$(pb_field 2 "$(pb_runc_opts 7 "$(hex_of /run/x)00$(hex_of y)")")")"
    run rawcall -n keep "$C_SVC/Create" --hex "$(pb_field 1 "$(pb_str 1 badopts)$(pb_str 3 img)$rt$(pb_field 5 "$(pb_str 1 types.containerd.io/opencontainers/runtime-spec/1/Spec)$(pb_str 2 '{}')")")"
    status_is 0
    line_present "code=0 OK"
    # ...and Tasks.Create, which hands them to the shim, checks them.
    run rawcall -n keep "$T_SVC/Create" --hex "$(pb_str 1 badopts)"
    status_is 0
    line_present "code=3 INVALID_ARGUMENT"
    output_has 'container "badopts": runtime options (containerd.runc.v1.Options): field root'
    run bctl -n keep tasks ls
    status_is 0
    [ -z "$(awk 'NR > 1' <<<"$output")" ] # the header only
}

@test "a published payload that does not decode is passed on but has no fields for filters" {
    local E_SVC=/containerd.services.events.v1.Events pids
    bctl events 'event.id==c1' >"$BERTH_TMP/by-id.ev" 2>&1 3>&- &
    pids="$!"
    bctl events 'topic=="/test/nul"' >"$BERTH_TMP/by-topic.ev" 2>&1 3>&- &
    pids="$pids $!"
    sleep 0.5
    # PublishRequest{topic, event: ContainerCreate{id: "c1\0x"}}: containerd forwards payloads
    # without decoding them, so this is accepted; protobuf-c would read the id as "c1".
    run rawcall -n keep "$E_SVC/Publish" --hex "$(pb_str 1 /test/nul)$(pb_field 2 "$(pb_str 1 containerd.events.ContainerCreate)$(pb_field 2 "$(pb_field 1 "$(hex_of c1)00$(hex_of x)")")")"
    status_is 0
    line_present "code=0 OK"
    # A sound one for comparison.
    run rawcall -n keep "$E_SVC/Publish" --hex "$(pb_str 1 /test/ok)$(pb_field 2 "$(pb_str 1 containerd.events.ContainerCreate)$(pb_field 2 "$(pb_str 1 c1)")")"
    line_present "code=0 OK"
    for _ in $(seq 50); do
        [ -s "$BERTH_TMP/by-id.ev" ] && [ -s "$BERTH_TMP/by-topic.ev" ] && break
        sleep 0.1
    done
    sleep 0.3
    # shellcheck disable=SC2086 # two pids
    kill $pids 2>/dev/null
    cat "$BERTH_TMP/by-id.ev" "$BERTH_TMP/by-topic.ev"
    [ "$(wc -l <"$BERTH_TMP/by-topic.ev")" -eq 1 ]
    [ "$(wc -l <"$BERTH_TMP/by-id.ev")" -eq 1 ]
    grep -q /test/ok "$BERTH_TMP/by-id.ev"
}
