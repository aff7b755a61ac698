#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# berthd's life cycle: exclusive root and socket, configuration, signals, persistence across
# clean and unclean restarts, logging.

load helpers

setup() {
    berth_setup
}

teardown() {
    berth_teardown
}

still_serving() {
    run bctl version
    status_is 0
    run bctl -n x containers ls -q
    status_is 0
}

@test "a second berthd on the same root refuses to start" {
    bctl -n x containers create img c1
    run timeout 10 "$BERTH_BIN/berthd" --root "$ROOT" --state "$BERTH_TMP/state2" \
        --address "$BERTH_TMP/second.sock"
    [ "$status" -ne 0 ]
    [ "$status" -ne 124 ] # it must not hang
    output_has "in use by another berthd"
    output_has "$ROOT"
    [ ! -e "$BERTH_TMP/second.sock" ]
    still_serving
    [ "$output" = "c1" ]
}

@test "a second berthd on the same socket refuses to start and the first keeps serving" {
    bctl -n x containers create img c1
    run timeout 10 "$BERTH_BIN/berthd" --root "$BERTH_TMP/root2" --state "$BERTH_TMP/state2" \
        --address "$SOCK"
    [ "$status" -ne 0 ]
    [ "$status" -ne 124 ]
    output_has "in use by another server"
    [ -S "$SOCK" ]
    still_serving
    [ "$output" = "c1" ]
}

@test "berthd config default prints every key and is a valid config" {
    run "$BERTH_BIN/berthd" config default
    status_is 0
    for key in version root state address gid cq_threads worker_threads shutdown_grace_ms \
        map_size_mb max_batch level; do
        grep -Eq "^$key = " <<<"$output" || {
            echo "key $key missing from: $output" >&2
            return 1
        }
    done
    for section in grpc metadata log; do
        line_present "[$section]"
    done
    printf '%s\n' "$output" >"$BERTH_TMP/default.toml"

    # Python's TOML parser agrees it is TOML.
    python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$BERTH_TMP/default.toml"

    # `config dump` with that file shows the same values.
    run "$BERTH_BIN/berthd" --config "$BERTH_TMP/default.toml" config dump
    status_is 0
    [ "$output" = "$(cat "$BERTH_TMP/default.toml")" ]

    # A daemon starts with it (paths overridden by flags).
    stop_berthd --keep
    start_berthd --config "$BERTH_TMP/default.toml"
    run bctl version
    status_is 0
}

@test "config values from the file are used; flags override them" {
    stop_berthd --keep
    cat >"$BERTH_TMP/c.toml" <<EOF
version = 1
root = "$BERTH_TMP/fileroot"
state = "$BERTH_TMP/filestate"
[grpc]
address = "$BERTH_TMP/file.sock"
worker_threads = 4
[log]
level = "debug"
EOF
    run "$BERTH_BIN/berthd" --config "$BERTH_TMP/c.toml" --root /flag/root config dump
    status_is 0
    line_present 'root = "/flag/root"'
    line_present "state = \"$BERTH_TMP/filestate\""
    line_present "address = \"$BERTH_TMP/file.sock\""
    line_present 'worker_threads = 4'
    line_present 'level = "debug"'
    line_present 'cq_threads = 1' # the default: not set in the file

    # Start it for real from the file alone.
    "$BERTH_BIN/berthd" --config "$BERTH_TMP/c.toml" >>"$LOG" 2>&1 3>&- &
    pid=$!
    for _ in $(seq 100); do
        socket_answers "$BERTH_TMP/file.sock" && break
        sleep 0.05
    done
    run "$BERTH_BIN/berthctl" -a "$BERTH_TMP/file.sock" version
    kill -TERM "$pid"
    wait_pid "$pid"
    status_is 0
    [ "$BERTHD_STATUS" -eq 0 ]
    [ -e "$BERTH_TMP/fileroot/berthd.lock" ]
}

@test "invalid configs fail with a message naming the key" {
    cfg="$BERTH_TMP/bad.toml"
    check_bad() {
        run timeout 10 "$BERTH_BIN/berthd" --config "$cfg" --root "$BERTH_TMP/r" \
            --state "$BERTH_TMP/s" --address "$BERTH_TMP/bad.sock"
        status_is 1
        output_has "$1"
        [ ! -e "$BERTH_TMP/bad.sock" ]
    }
    printf 'version = 1\nbogus = 3\n' >"$cfg"
    check_bad '"bogus"'
    printf '[grpc]\nnope = 1\n' >"$cfg"
    check_bad 'grpc.nope'
    printf '[grpc]\ncq_threads = "two"\n' >"$cfg"
    check_bad 'grpc.cq_threads'
    printf '[metadata]\nmap_size_mb = true\n' >"$cfg"
    check_bad 'metadata.map_size_mb'
    printf 'root = 5\n' >"$cfg"
    check_bad '"root"'
    printf '[grpc]\nworker_threads = 0\n' >"$cfg"
    check_bad 'grpc.worker_threads'
    printf '[nosuch]\nx = 1\n' >"$cfg"
    check_bad 'nosuch'
    printf '[log]\nlevel = "loud"\n' >"$cfg"
    check_bad 'log.level'
    printf '[registry]\npull_progress_timeout = "5 minutes"\n' >"$cfg"
    check_bad 'registry.pull_progress_timeout "5 minutes"'
    printf '[registry]\nconfig_path = "etc/certs.d"\n' >"$cfg"
    check_bad 'registry.config_path "etc/certs.d"'
    printf '[registry]\nmax_concurrent_downloads = 0\n' >"$cfg"
    check_bad 'registry.max_concurrent_downloads'
    printf '[runtime]\nbinary_name = "no-such-oci-runtime"\n' >"$cfg"
    check_bad 'binary_name: OCI runtime "no-such-oci-runtime": not found'
    printf '[runtime]\nbinary_name = "bin/crun"\n' >"$cfg"
    check_bad 'OCI runtime "bin/crun": not an absolute path'
    # (no --root flag here: it would override the file)
    printf 'root = "relative/dir"\n' >"$cfg"
    run timeout 10 "$BERTH_BIN/berthd" --config "$cfg" --state "$BERTH_TMP/s" \
        --address "$BERTH_TMP/bad.sock"
    status_is 1
    output_has 'root "relative/dir"'
    [ ! -e relative/dir ]
    printf 'version = 2\n' >"$cfg"
    check_bad 'version'
    printf 'version = [\n' >"$cfg"
    check_bad "$cfg"
    run timeout 10 "$BERTH_BIN/berthd" --config "$BERTH_TMP/does-not-exist.toml"
    status_is 1
    output_has "does-not-exist.toml"
}

@test "a config that is a directory and a state that is a file are refused at start-up" {
    mkdir "$BERTH_TMP/conf.d"
    run timeout 10 "$BERTH_BIN/berthd" --config "$BERTH_TMP/conf.d" --root "$BERTH_TMP/r" \
        --state "$BERTH_TMP/s" --address "$BERTH_TMP/bad.sock"
    status_is 1
    output_has "config \"$BERTH_TMP/conf.d\" is not a regular file"
    [ ! -e "$BERTH_TMP/bad.sock" ]
    : >"$BERTH_TMP/state-file"
    run timeout 10 "$BERTH_BIN/berthd" --root "$BERTH_TMP/r" --state "$BERTH_TMP/state-file" \
        --address "$BERTH_TMP/bad.sock"
    status_is 1
    output_has "state \"$BERTH_TMP/state-file\" is not a directory"
    [ ! -e "$BERTH_TMP/bad.sock" ]
    : >"$BERTH_TMP/root-file"
    run timeout 10 "$BERTH_BIN/berthd" --root "$BERTH_TMP/root-file" --state "$BERTH_TMP/s" \
        --address "$BERTH_TMP/bad.sock"
    status_is 1
    output_has "root \"$BERTH_TMP/root-file\" is not a directory"
}

@test "bad flags are usage errors" {
    run "$BERTH_BIN/berthd" --bogus
    status_is 2
    run "$BERTH_BIN/berthd" config nonsense
    status_is 2
    run "$BERTH_BIN/berthd" --log-level loud config default
    status_is 1
    output_has "log.level"
    run "$BERTH_BIN/berthd" --version
    status_is 0
    output_has "berthd"
}

@test "the socket has mode 0660" {
    [ "$(stat -c %a "$SOCK")" = "660" ]
    [ "$(stat -c %F "$SOCK")" = "socket" ]
}

@test "SIGTERM: exit 0 and the socket is removed" {
    pid="$BERTHD_PID"
    kill -TERM "$pid"
    wait_pid "$pid"
    BERTHD_PID=
    [ "$BERTHD_STATUS" -eq 0 ]
    [ ! -e "$SOCK" ]
    grep -q "stopped" "$LOG"
    # SIGINT too.
    start_berthd
    kill -INT "$BERTHD_PID"
    wait_pid "$BERTHD_PID"
    BERTHD_PID=
    [ "$BERTHD_STATUS" -eq 0 ]
    [ ! -e "$SOCK" ]
}

@test "SIGHUP does not stop berthd" {
    kill -HUP "$BERTHD_PID"
    sleep 0.2
    kill -0 "$BERTHD_PID"
    run bctl version
    status_is 0
}

@test "data persists across a clean restart" {
    bctl namespaces create x a=b
    bctl -n x containers create --label k0=v0 img c1
    bctl -n x containers label c1 k1=v1
    before_info="$(bctl -n x containers info c1)"
    before_ns="$(bctl namespaces ls)"
    uuid="$(bctl --format json version | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["uuid"])')"

    stop_berthd --keep
    start_berthd

    run bctl -n x containers ls -q
    status_is 0
    [ "$output" = "c1" ]
    run bctl -n x containers info c1
    status_is 0
    [ "$output" = "$before_info" ] # same created/updated times, labels, spec
    run bctl namespaces ls
    [ "$output" = "$before_ns" ]
    run bctl --format json version
    [ "$(printf '%s' "$output" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["uuid"])')" = "$uuid" ]
}

@test "kill -9 then restart on the same root works and committed data is there" {
    for i in $(seq 1 10); do
        bctl -n x containers create --label i="$i" img "c$i"
    done
    bctl -n x containers rm c3
    bctl namespaces create y
    before="$(store_dump)"

    kill9_berthd
    [ -S "$SOCK" ] # a stale socket file stays behind

    start_berthd
    [ "$(store_dump)" = "$before" ]
    run bctl -n x containers ls -q
    [ "$(wc -l <<<"$output")" -eq 9 ]
    line_absent c3

    # And it still takes writes.
    run bctl -n x containers create img c11
    status_is 0
}

@test "log lines are one per line with a timestamp and name the namespace of failed calls" {
    run bctl -n lognsx containers info nope-id
    status_is 1
    run bctl -n lognsy containers create img 'bad..id'
    status_is 1
    # Client-controlled text with line breaks must not split log lines.
    run bctl -n lognsz containers create img $'line1\nline2'
    status_is 1
    run rawcall --no-namespace /containerd.services.containers.v1.Containers/List --empty
    status_is 0

    grep -E 'Containers/Get.*lognsx|lognsx.*Containers/Get' "$LOG" | grep -q 'nope-id'
    grep -E 'Containers/Create.*lognsy|lognsy.*Containers/Create' "$LOG" | grep -q 'bad\.\.id'
    grep -E 'Containers/Create.*lognsz' "$LOG" | grep -q 'line1'
    grep -q 'Containers/List' "$LOG"
    # Every line starts with an RFC 3339 timestamp (nothing spilled onto its own line).
    bad="$(grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}' "$LOG" || true)"
    if [ -n "$bad" ]; then
        echo "log lines without a timestamp: $bad" >&2
        return 1
    fi
    ! grep -q '^line2' "$LOG" || return 1
}

@test "log lines carry no raw control characters from clients" {
    run bctl -n logesc containers create img $'esc\x1b[31mred\x07'
    status_is 1
    grep -q 'logesc' "$LOG"
    # ESC/BEL from a client must be escaped, not written raw to the log (terminal injection).
    if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$LOG"; then
        echo "raw control characters in the log:" >&2
        LC_ALL=C grep $'[\x01-\x08\x0b-\x1f\x7f]' "$LOG" | cat -v >&2
        return 1
    fi
}

@test "--log-level warn hides the per-call info lines" {
    stop_berthd --keep
    : >"$LOG"
    start_berthd --log-level warn
    run bctl -n x containers info nope
    status_is 1
    ! grep -q 'serving' "$LOG" || return 1
    ! grep -q 'nope' "$LOG" || return 1
}

@test "the root lock file holds the daemon's pid" {
    [ "$(tr -d '\n' <"$ROOT/berthd.lock")" = "$BERTHD_PID" ]
}

@test "grpc.health.v1.Health/Check: SERVING for the server and its services, NOT_FOUND otherwise; polling it does not fill the log" {
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /grpc.health.v1.Health/Check --empty
    line_present "code=0 OK"
    line_present "response=0801" # status: SERVING
    svc=$(printf %s containerd.services.tasks.v1.Tasks | xxd -p | tr -d '\n')
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /grpc.health.v1.Health/Check \
        --hex "0a22$svc"
    line_present "response=0801"
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /grpc.health.v1.Health/Check \
        --text nope
    line_present "code=3 INVALID_ARGUMENT"
    svc=$(printf %s no.such.Service | xxd -p | tr -d '\n')
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /grpc.health.v1.Health/Check \
        --hex "0a0f$svc"
    line_present "code=5 NOT_FOUND"
    # dockerd polls Check every 100 ms while it waits for berthd: no line per call
    before=$(wc -l <"$BERTH_TMP/berthd.log")
    for i in $(seq 1 50); do
        "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /grpc.health.v1.Health/Check \
            --empty >/dev/null
    done
    [ $(($(wc -l <"$BERTH_TMP/berthd.log") - before)) -lt 5 ]
}

@test "an idle berthd runs at most 16 threads; the worker pool grows with calls and needs none at rest" {
    threads() { awk '/^Threads:/ {print $2}' "/proc/$BERTHD_PID/status"; }
    idle=$(threads)
    echo "idle threads: $idle" >&2
    [ "$idle" -le 16 ]
    # Blocking calls run on pool threads made on demand (they end after 10 s idle).
    pids=()
    for i in $(seq 1 8); do
        bctl namespaces create "ns$i" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    [ "$(bctl namespaces ls -q | grep -c '^ns[0-9]$')" -eq 8 ]
    echo "threads after the calls: $(threads)" >&2
    [ "$(threads)" -gt "$idle" ]
}
