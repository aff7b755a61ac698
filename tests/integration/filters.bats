#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Hostile `~=` filters through Debian's ctr: the security probe's inputs are refused at once,
# and a legal but costly filter neither freezes the API nor outlives its call or SIGTERM.

load helpers

# A legal regex whose match costs about the most a program may (lib/regex.h) per input byte
# when the input is all a's: tens of ms for a 4 KiB label value.
COSTLY='(?:[ab]*[ab]*){999}c'
# Records to create and copies of the filter to pass (ctr ORs them, so each costs again): a
# listing then takes several seconds, while the setup stays short.
N_RECORDS=60
N_FILTERS=4
DIGEST=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

setup() {
    berth_setup
}

teardown() {
    [ -n "${BG_PIDS:-}" ] && kill "$BG_PIDS" 2>/dev/null
    berth_teardown
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# The costly filter N_FILTERS times over field $1, as ctr arguments in the array FILTERS.
costly_filters() {
    FILTERS=()
    for _ in $(seq "$N_FILTERS"); do
        FILTERS+=("$1~=$COSTLY")
    done
}

# Creates $1 images (img-1...) or containers (c-1...), each with a label k of 4000 a's.
make_images() {
    local v
    v="$(repeat_char 4000 a)"
    # shellcheck disable=SC2016 # expanded by that sh
    seq "$1" | xargs -P 4 -I{} sh -c '"$0" -a "$1" images create "img-{}" "$2" 4 >/dev/null &&
        "$0" -a "$1" images label "img-{}" "k=$3" >/dev/null' "$BERTH_BIN/berthctl" "$SOCK" "$DIGEST" "$v"
    [ "$(bctl images ls -q | wc -l)" -eq "$1" ]
}

make_containers() {
    local v
    v="$(repeat_char 4000 a)"
    seq "$1" | xargs -P 4 -I{} "$BERTH_BIN/berthctl" -a "$SOCK" containers create \
        --label "k=$v" img "c-{}" >/dev/null
    [ "$(bctl containers ls -q | wc -l)" -eq "$1" ]
}

# Waits up to $2 seconds for the berthd log to have a line containing $1.
wait_log() {
    local i=0
    while ! grep -qF -- "$1" "$LOG"; do
        [ "$i" -ge $(($2 * 20)) ] && return 1
        sleep 0.05
        i=$((i + 1))
    done
}

@test "a regex nested 20,000 deep is InvalidArgument at once, and berthd keeps serving" {
    local deep t0
    deep="id~=$(repeat_char 20000 '(')a$(repeat_char 20000 ')')"
    t0=$(now_ms)
    run ctrb containers ls "$deep"
    [ "$status" -ne 0 ]
    output_has "invalid argument"
    output_has "expression nests too deeply"
    run ctrb images ls "name~=${deep#id~=}"
    [ "$status" -ne 0 ]
    output_has "invalid argument"
    [ $(($(now_ms) - t0)) -lt 5000 ]
    run ctrb version
    status_is 0
    output_has "Server:"
}

@test "a backreference is InvalidArgument at once" {
    local t0
    bctl images create img "$DIGEST" 4
    run ctrb images label img "k=$(repeat_char 100 b)"
    status_is 0
    t0=$(now_ms)
    run ctrb images ls 'labels.k~=^(b*)*\1\1\1\1\1c$'
    [ "$status" -ne 0 ]
    output_has "invalid argument"
    output_has 'invalid escape sequence'
    [ $(($(now_ms) - t0)) -lt 2000 ]
    run ctrb images ls -q
    status_is 0
    line_present img
}

@test "a costly images listing leaves the API responsive and ends with its deadline" {
    local t0 took list_pid
    # debug: the log says when a cancelled unary call's handler is done
    printf '[log]\nlevel = "debug"\n' >"$BERTH_TMP/debug.toml"
    stop_berthd --keep
    start_berthd --config "$BERTH_TMP/debug.toml"
    make_images "$N_RECORDS"
    costly_filters labels.k

    # Images.List is unary: before, it ran on the completion-queue thread and held every call.
    ctrb images ls -q "${FILTERS[@]}" >"$BERTH_TMP/list.out" 2>&1 3>&- &
    list_pid=$!
    BG_PIDS="$list_pid"
    sleep 0.5
    for cmd in "version" "namespaces ls" "images ls -q"; do
        t0=$(now_ms)
        # shellcheck disable=SC2086
        run ctrb $cmd
        status_is 0
        took=$(($(now_ms) - t0))
        echo "ctr $cmd during the listing: ${took} ms"
        [ "$took" -lt 2000 ]
    done
    kill -0 "$list_pid" # still listing, so the calls above really ran alongside it
    wait "$list_pid"
    BG_PIDS=
    [ ! -s "$BERTH_TMP/list.out" ] # nothing matches

    # The deadline ends the server's work too, not only the client's wait: the handler is
    # done (and the call logged) soon after, not when the whole listing would be.
    t0=$(now_ms)
    run ctrb --timeout 1s images ls -q "${FILTERS[@]}"
    [ "$status" -ne 0 ]
    output_has "deadline exceeded"
    took=$(($(now_ms) - t0))
    echo "ctr --timeout 1s images ls: ${took} ms"
    [ "$took" -lt 3000 ]
    wait_log "Images/List ns=default: cancelled by the client" 2
    took=$(($(now_ms) - t0))
    echo "server done with it after ${took} ms"

    t0=$(now_ms)
    run ctrb images ls -q "${FILTERS[@]}"
    status_is 0
    [ -z "$output" ]
    echo "# a costly images listing without a deadline ($N_RECORDS images with 4000-byte" \
        "labels, $N_FILTERS filters): $(($(now_ms) - t0)) ms" >&3
}

# sigterm_during_listing containers|images: SIGTERM to berthd (started with a 1 s grace) while
# `ctr <kind> ls` runs the costly FILTERS; berthd must stop soon after the grace, not when the
# listing would have ended; then starts it again.
sigterm_during_listing() {
    local t0 took list_pid
    ctrb "$1" ls -q "${FILTERS[@]}" >"$BERTH_TMP/list.out" 2>&1 3>&- &
    list_pid=$!
    BG_PIDS="$list_pid"
    sleep 1
    kill -0 "$list_pid"
    t0=$(now_ms)
    stop_berthd --keep
    took=$(($(now_ms) - t0))
    echo "# berthd stopped ${took} ms after SIGTERM during a costly $1 listing" >&3
    # grace period (1 s) + the cancelled listing noticing it + exit
    [ "$took" -lt 4000 ]
    wait "$list_pid" || true
    BG_PIDS=
    start_berthd --config "$BERTH_TMP/grace.toml"
}

@test "a costly containers listing ends with its deadline and with SIGTERM" {
    local t0 took
    # A short grace period: the listing below would outlast the default 5 s many times.
    printf '[grpc]\nshutdown_grace_ms = 1000\n' >"$BERTH_TMP/grace.toml"
    stop_berthd --keep
    start_berthd --config "$BERTH_TMP/grace.toml"
    make_containers "$N_RECORDS"
    costly_filters labels.k

    # ctr lists containers with ListStream (a stream: it sees the client go away as well).
    t0=$(now_ms)
    run ctrb --timeout 1s containers ls -q "${FILTERS[@]}"
    [ "$status" -ne 0 ]
    output_has "deadline exceeded"
    took=$(($(now_ms) - t0))
    [ "$took" -lt 3000 ]
    wait_log "Containers/ListStream ns=default: DEADLINE_EXCEEDED: deadline exceeded while listing containers" 3

    sigterm_during_listing containers
}

@test "a costly images listing ends with SIGTERM" {
    printf '[grpc]\nshutdown_grace_ms = 1000\n' >"$BERTH_TMP/grace.toml"
    stop_berthd --keep
    start_berthd --config "$BERTH_TMP/grace.toml"
    make_images "$N_RECORDS"
    costly_filters labels.k
    sigterm_during_listing images
}
