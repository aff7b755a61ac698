#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Events: Debian's ctr and berthctl subscribe to berthd and see what berthctl does in other
# namespaces; a subscriber that never reads is dropped instead of holding publishers back.

load helpers

setup() {
    berth_setup
}

teardown() {
    [ -n "${SUB_PIDS:-}" ] && kill $SUB_PIDS 2>/dev/null
    berth_teardown
}

# Waits up to 5 s for file $1 to contain $2 lines.
wait_lines() {
    local i=0
    while [ "$(wc -l <"$1")" -lt "$2" ]; do
        [ "$i" -ge 100 ] && return 1
        sleep 0.05
        i=$((i + 1))
    done
}

@test "ctr events and berthctl events see berthctl actions in other namespaces" {
    ctrb events >"$BERTH_TMP/ctr.ev" 2>&1 3>&- &
    SUB_PIDS="$!"
    bctl events 'topic~=^/containers/' >"$BERTH_TMP/bctl.ev" 2>&1 3>&- &
    SUB_PIDS="$SUB_PIDS $!"
    bctl --format json events 'namespace==team-b' >"$BERTH_TMP/json.ev" 2>&1 3>&- &
    SUB_PIDS="$SUB_PIDS $!"
    sleep 0.5

    run bctl -n team-a containers create --label k=v docker.io/library/busybox:latest c1
    status_is 0
    run bctl namespaces create team-b x=y
    status_is 0
    run bctl -n team-a containers label c1 k2=v2
    status_is 0
    run bctl -n team-a containers rm c1
    status_is 0
    run bctl namespaces rm team-b
    status_is 0

    wait_lines "$BERTH_TMP/ctr.ev" 5
    cat "$BERTH_TMP/ctr.ev"
    grep -Eq ' team-a /containers/create \{"id":"c1","image":"docker.io/library/busybox:latest"' "$BERTH_TMP/ctr.ev"
    grep -Eq ' team-b /namespaces/create \{"name":"team-b","labels":\{"x":"y"\}\}' "$BERTH_TMP/ctr.ev"
    grep -Eq ' team-a /containers/update \{"id":"c1".*"labels":\{"k":"v","k2":"v2"\}' "$BERTH_TMP/ctr.ev"
    grep -Eq ' team-a /containers/delete \{"id":"c1"\}' "$BERTH_TMP/ctr.ev"
    grep -Eq ' team-b /namespaces/delete \{"name":"team-b"\}' "$BERTH_TMP/ctr.ev"

    wait_lines "$BERTH_TMP/bctl.ev" 3
    [ "$(wc -l <"$BERTH_TMP/bctl.ev")" -eq 3 ]
    run grep -c namespaces "$BERTH_TMP/bctl.ev"
    [ "$output" = "0" ]

    wait_lines "$BERTH_TMP/json.ev" 2
    [ "$(wc -l <"$BERTH_TMP/json.ev")" -eq 2 ]
    while read -r line; do
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["namespace"]=="team-b", d' "$line"
    done <"$BERTH_TMP/json.ev"
}

@test "events publish rejects bad topics; forward needs a namespace and a timestamp" {
    # Publish with a topic that is not /identifier/... -> INVALID_ARGUMENT
    run rawcall -n default /containerd.services.events.v1.Events/Publish --hex "$(pb_str 1 'no-slash')"
    status_is 0
    output_has "code=3 INVALID_ARGUMENT"
    run rawcall -n default /containerd.services.events.v1.Events/Publish --hex "$(pb_str 1 '/a//b')"
    output_has "code=3 INVALID_ARGUMENT"
    # Forward with an empty envelope -> INVALID_ARGUMENT
    run rawcall -n default /containerd.services.events.v1.Events/Forward --hex "0a00"
    output_has "code=3 INVALID_ARGUMENT"
}

@test "a subscriber that never reads is dropped; 1,000 creates all complete" {
    # ctr's output goes into a pipe nobody reads: it stops reading its stream, the stream
    # stalls, and the exchange must drop it rather than wait.
    mkfifo "$BERTH_TMP/stuck"
    sleep 600 <"$BERTH_TMP/stuck" >/dev/null 2>&1 3>&- &
    SUB_PIDS="$!"
    ctrb events >"$BERTH_TMP/stuck" 2>/dev/null 3>&- &
    SUB_PIDS="$SUB_PIDS $!"
    # Flood until the stalled subscriber is dropped: on a loaded machine ctr may subscribe late
    # or the flood may run slower, so a fixed amount of it proves nothing either way.
    total=0
    for round in 1 2 3 4 5; do
        run "$BERTH_BIN/berth-bench-metadata" -a "$SOCK" -n flood --op create-delete \
            --concurrency 8 --duration 3
        status_is 0
        output_has "errors=0"
        ops=$(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<<"$output")
        total=$((total + ops))
        echo "round $round: create+delete pairs: $ops" >&2
        grep -q "dropping a subscriber" "$LOG" && break
    done
    [ "$total" -ge 1000 ]
    grep -q "dropping a subscriber" "$LOG"
    # the daemon still answers and publishes to new subscribers
    bctl events >"$BERTH_TMP/late.ev" 2>&1 3>&- &
    SUB_PIDS="$SUB_PIDS $!"
    sleep 0.3
    run bctl -n flood containers create docker.io/library/busybox:latest last
    status_is 0
    wait_lines "$BERTH_TMP/late.ev" 1
    grep -q '/containers/create' "$BERTH_TMP/late.ev"
}
