#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# One client must never crash, freeze or exhaust berthd: PING and stream floods, connection
# and descriptor exhaustion, clients that send nothing, stop reading or cancel, forged log
# lines, and the self-check that feeds systemd's watchdog. Raw HTTP/2 comes from
# tests/tools/berth-h2abuse; every test ends with berthd still serving a real client (ctr).

load helpers

setup() {
    berth_tmp_init
}

teardown() {
    berth_teardown
}

h2() {
    "$BERTH_BIN/berth-h2abuse" -a "$SOCK" "$@"
}

# proc_kb FIELD: a /proc/<berthd>/status value in kB (VmRSS, RssAnon, VmHWM).
proc_kb() {
    awk -v k="$1:" '$1 == k { print $2 }' "/proc/$BERTHD_PID/status"
}

nthreads() {
    ls "/proc/$BERTHD_PID/task" | wc -l
}

serving() {
    run ctrb version
    status_is 0
    output_has "Revision: berth"
    run ctrb -n abuse containers ls -q
    status_is 0
}

config() {
    cat >"$BERTH_TMP/config.toml"
}

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
    for _ in $(seq 100); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

@test "PING floods: memory stays bounded and is given back" {
    start_berthd
    anon0=$(proc_kb RssAnon)
    # 16 connections x 20,000 PINGs, read back (the probe: 22 MB -> 1.43 GB, 1.25 GB kept)
    # (wait names the pids: a bare wait would wait for berthd too)
    pids=()
    for i in $(seq 16); do
        h2 pings -n 20000 >"$BERTH_TMP/ping.$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    hwm=$(proc_kb VmHWM)
    grep -h acks= "$BERTH_TMP"/ping.* | sort | uniq -c
    # ... and 4 x 200,000 from clients that never read the acks: berthd stops reading them
    pids=()
    for _ in $(seq 4); do
        h2 pings -n 200000 --no-read >/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}"
    hwm2=$(proc_kb VmHWM)
    echo "RssAnon before ${anon0} kB; peak RSS ${hwm} kB, ${hwm2} kB after the unread flood"
    [ "$hwm2" -lt 262144 ]
    # what the floods freed goes back to the system within seconds
    gone() { [ "$(proc_kb RssAnon)" -lt $((anon0 + 32768)) ]; }
    wait_for gone
    serving
}

@test "under ulimit -n 64, 80 connections are capped and berthd accepts again" {
    BERTH_WRAPPER="prlimit --nofile=64:64" start_berthd
    grep -E '^Max open files +64 +64' "/proc/$BERTHD_PID/limits"
    grep -q 'max_connections=32' "$LOG"
    run h2 conns -c 80 --hold 2
    status_is 0
    output_has "opened=80 closed=48"
    run h2 conns -c 80 --hold 2 --preface
    output_has "opened=80 closed=48"
    grep -q 'connection refused: 32 connections open (limit 32)' "$LOG"
    serving
    # repeated refusals are one log line per interval, not one per connection
    [ "$(grep -c 'connection refused' "$LOG")" -le 2 ]
}

@test "the soft open-file limit is raised to the hard one" {
    BERTH_WRAPPER="prlimit --nofile=64:4096" start_berthd
    grep -E '^Max open files +4096 +4096' "/proc/$BERTHD_PID/limits"
    grep -q 'max_connections=1024' "$LOG"
}

@test "stream floods are bounded: threads capped, RESOURCE_EXHAUSTED past the bound" {
    start_berthd
    t0=$(nthreads)
    # The probe: one connection, 10,000 idle Content/Write streams, 10,045 threads. A client
    # that never acknowledges SETTINGS is not held to 128 streams by the core; berthd holds
    # each connection to 128 streaming calls itself, and other clients are not affected.
    anon0=$(proc_kb RssAnon)
    h2 streams -n 10000 --no-settings-ack --hold 12 >"$BERTH_TMP/flood" &
    flood=$!
    busy() { [ "$(nthreads)" -ge $((t0 + 128)) ]; }
    wait_for busy
    sleep 0.5
    peak=$(nthreads)
    echo "one connection: ${t0} threads idle, ${peak} under the flood, RSS $(proc_kb VmRSS) kB"
    [ "$peak" -le $((t0 + 128 + 8)) ]
    # what the 9,872 refused streams freed goes back while the flood still holds its 128
    for _ in $(seq 50); do
        [ "$(proc_kb RssAnon)" -lt $((anon0 + 65536)) ] && break
        sleep 0.1
    done
    echo "RssAnon ${anon0} kB idle, $(proc_kb RssAnon) kB while the flood holds its streams"
    [ "$(proc_kb RssAnon)" -lt $((anon0 + 65536)) ]
    kill -0 "$flood"
    run timeout 1 ctr --address "$SOCK" events
    [ "$status" -eq 124 ] # still streaming when the timeout ended it
    serving
    wait "$flood"
    cat "$BERTH_TMP/flood"
    grep -q 'ended=9872' "$BERTH_TMP/flood" # every stream past the bound got a status
    grep -q 'too many calls in flight on this connection (limit 128)' "$LOG"

    # Nine such connections reach the bound on all streaming calls (1024).
    pids=()
    for i in $(seq 9); do
        h2 streams -n 200 --no-settings-ack --hold 6 >"$BERTH_TMP/flood.$i" &
        pids+=($!)
    done
    full() { [ "$(nthreads)" -ge $((t0 + 1000)) ]; }
    wait_for full
    sleep 0.5
    peak=$(nthreads)
    echo "nine connections: ${peak} threads, RSS $(proc_kb VmRSS) kB"
    [ "$peak" -le $((t0 + 1024 + 8)) ]
    run timeout 10 ctr --address "$SOCK" events
    output_has "ResourceExhausted"
    output_has "too many streaming calls in flight (limit 1024)"
    run ctrb version
    status_is 0
    wait "${pids[@]}"
    back() { [ "$(nthreads)" -le $((t0 + 4)) ]; }
    wait_for back
    run timeout 1 ctr --address "$SOCK" events
    [ "$status" -eq 124 ]
    serving
}

@test "a client opening more streams than advertised loses its connection" {
    start_berthd
    run h2 streams -n 300 --hold 2
    status_is 0
    output_has "max_streams=128"
    output_has "closed=1"
    serving
}

@test "clients that send nothing, stop reading or never send their request are cut off" {
    config <<'EOF'
[grpc]
preface_timeout_ms = 1000
request_timeout_ms = 1000
idle_timeout_ms = 2000
keepalive_time_ms = 1000
keepalive_timeout_ms = 1000
EOF
    start_berthd --config "$BERTH_TMP/config.toml"
    # connected, nothing sent: closed after preface_timeout_ms (garbage instead of a preface is
    # closed at once: tests/unit/services/server/test_listener.c)
    h2 idle --hold 5 >"$BERTH_TMP/silent" &
    silent=$!
    # the preface, then no call: closed when idle
    h2 idle --preface --hold 6 >"$BERTH_TMP/idle" &
    idle=$!
    # a unary call whose request message never comes: cancelled after request_timeout_ms
    run h2 streams -n 2 -p /containerd.services.containers.v1.Containers/List --hold 3
    output_has "ended=2"
    # a stream whose client never reads: keepalive closes the connection
    run h2 streams -n 1 --no-read --hold 5
    output_has "closed=1"
    wait "$silent" "$idle"
    grep -E 'closed_after_ms=(9[0-9][0-9]|1[0-9]{3})$' "$BERTH_TMP/silent"
    grep -E 'closed_after_ms=(19[0-9][0-9]|2[0-9]{3})$' "$BERTH_TMP/idle"
    grep -q 'Containers/List ns=abuse: request message not received within 1000 ms' "$LOG"
    serving
}

@test "a call its client cancels is not logged as a bad request" {
    start_berthd
    run h2 streams -n 5 -p /containerd.services.version.v1.Version/Version --rst --hold 1
    status_is 0
    serving
    if grep -q 'request message missing' "$LOG"; then
        grep 'request message missing' "$LOG" >&2
        return 1
    fi
}

@test "gRPC core's log lines are escaped: a header value cannot forge a log line" {
    start_berthd
    run h2 streams -n 1 -p /containerd.services.version.v1.Version/Version --body --hold 1 \
        --header "grpc-timeout=1Z
2026-01-01T00:00:00.000000Z error berthd: FORGED"
    status_is 0
    serving
    grep -q 'grpc: Error parsing metadata.*\\x0a2026-01-01T00:00:00.000000Z error berthd: FORGED' "$LOG"
    if grep -q '^2026-01-01T00:00:00.000000Z' "$LOG"; then
        echo "forged line in the log" >&2
        return 1
    fi
}

@test "a client repeating one bad call gets one log line per interval" {
    start_berthd
    local start=$SECONDS
    for _ in $(seq 200); do
        rawcall --no-namespace /containerd.services.containers.v1.Containers/List --empty
    done >/dev/null
    n=$(grep -c 'Containers/List ns=-: FAILED_PRECONDITION' "$LOG")
    echo "$n log line(s) for 200 identical failed calls in $((SECONDS - start)) s"
    # one line per 10 s interval (however slow the machine), not one per call
    [ "$n" -ge 1 ] && [ "$n" -le $(((SECONDS - start) / 10 + 2)) ]
}

@test "the self-check feeds the watchdog only while the socket answers" {
    sink="$BERTH_TMP/notify.sock"
    "$BERTH_BIN/berth-notify-sink" "$sink" 60 >"$BERTH_TMP/notify" &
    sinkpid=$!
    while [ ! -S "$sink" ]; do sleep 0.05; done
    config <<'EOF'
[grpc]
max_connections = 4
self_check_interval_ms = 200
EOF
    NOTIFY_SOCKET="$sink" WATCHDOG_USEC=1000000 start_berthd --config "$BERTH_TMP/config.toml"
    fed() { [ "$(grep -c 'WATCHDOG=1' "$BERTH_TMP/notify")" -ge "$1" ]; }
    wait_for fed 3
    grep -q 'READY=1' "$BERTH_TMP/notify"
    # Every connection slot taken (by clients that sent a preface and then nothing): the
    # daemon is up but serves no one, and the watchdog starves.
    h2 conns -c 4 --preface --hold 4 >/dev/null &
    holder=$!
    sleep 1.5
    before=$(grep -c 'WATCHDOG=1' "$BERTH_TMP/notify")
    sleep 2
    after=$(grep -c 'WATCHDOG=1' "$BERTH_TMP/notify")
    echo "WATCHDOG=1 while full: $before -> $after"
    [ "$after" -eq "$before" ]
    grep -q 'self-check: .* does not answer' "$LOG"
    wait "$holder"
    wait_for fed $((after + 3))
    wait_for grep -q 'self-check: .* answers again' "$LOG"
    serving
    kill "$sinkpid"
}
