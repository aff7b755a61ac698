#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# CRI streaming (issue 12): crictl 1.26's exec, attach and port-forward against berthd's
# streaming server (SPDY/3.1), with real containers, pods and a busybox httpd. Shared setup:
# cri.bash. Interactive clients run on a pseudo-terminal (tests/tools/pty-run.py).

load helpers
load registry
load cri

bats_require_minimum_version 1.5.0

PTY="$BATS_TEST_DIRNAME/../tools/pty-run.py"

# pod_ctr NAME CMD-JSON [EXTRA]: a pod with one running container; sets POD and C
pod_ctr() {
    cri pull "$IMAGE" >/dev/null
    PJ=$(pod_json "$1")
    POD=$(cri runp "$PJ")
    C=$(run_ctr "$POD" "$PJ" "$1" "$2" "${3:-}")
}

# the URL a CRI call answers: rawcall METHOD HEX -> prints the url (field 1 of the response)
stream_url() {
    local out
    out=$("$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace "/runtime.v1.RuntimeService/$1" \
        --hex "$2")
    echo "$out" | grep -q '^code=0 OK' || {
        echo "$out" >&2
        return 1
    }
    echo "$out" | sed -n 's/^response=//p' | python3 -c '
import sys
b = bytes.fromhex(sys.stdin.read().strip())
assert b[0] == 0x0a
n, i, s = 0, 1, 0
while True:
    n |= (b[i] & 0x7f) << s
    s += 7
    i += 1
    if b[i - 1] < 0x80:
        break
print(b[i:i + n].decode())'
}

# hex of an ExecRequest{container_id, cmd..., stdout} or with flags: exec_req ID FLAGS CMD...
# FLAGS: letters t(ty) i(n) o(ut) e(rr)
exec_req() {
    python3 - "$@" <<'PY'
import sys
cid, flags, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
def f(n, b):
    return bytes([n << 3 | 2, len(b)]) + b
m = f(1, cid.encode())
for a in cmd:
    m += f(2, a.encode())
for n, ch in ((3, "t"), (4, "i"), (5, "o"), (6, "e")):
    if ch in flags:
        m += bytes([n << 3, 1])
print(m.hex())
PY
}

@test "exec: stdout and stderr apart, exit code 3 reported, stdin EOF reaches the process" {
    pod_ctr ex '["sleep", "1000"]'
    run --separate-stderr cri exec "$C" sh -c 'echo out; echo err >&2; exit 3'
    [ "$status" -eq 1 ]
    [ "$output" = out ]
    [[ "$stderr" == *err* ]]
    [[ "$stderr" == *"exit code 3"* ]]
    run --separate-stderr cri exec "$C" echo -n hello
    status_is 0
    [ "$output" = hello ]
    [ -z "$stderr" ]
    run cri exec -i "$C" cat <<<abc
    status_is 0
    [ "$output" = abc ]
    # the exec is gone from the shim and its FIFOs from berthd's state dir
    [ -z "$(ls "$STATE/io.containerd.grpc.v1.cri/containers/$C/io" 2>/dev/null)" ]
}

@test "exec -i: 50 MiB of stdin stored intact, 100 MiB of stdout received intact" {
    pod_ctr big '["sleep", "1000"]'
    head -c 52428800 /dev/urandom >"$BERTH_TMP/in"
    cri exec -i "$C" sh -c 'cat >/tmp/x' <"$BERTH_TMP/in"
    want=$(sha256sum <"$BERTH_TMP/in" | cut -d' ' -f1)
    run cri exec "$C" sh -c 'wc -c </tmp/x; sha256sum </tmp/x'
    status_is 0
    [ "$(echo "$output" | head -1 | tr -d ' ')" = 52428800 ]
    [ "$(echo "$output" | tail -1 | cut -d' ' -f1)" = "$want" ]
    cri exec "$C" cat /tmp/x /tmp/x >"$BERTH_TMP/out"
    [ "$(stat -c %s "$BERTH_TMP/out")" = 104857600 ]
    [ "$(sha256sum <"$BERTH_TMP/out" | cut -d' ' -f1)" = \
        "$(cat "$BERTH_TMP/in" "$BERTH_TMP/in" | sha256sum | cut -d' ' -f1)" ]
}

@test "exec -it through a pty: the terminal's size and a resize seen inside, the exit code" {
    pod_ctr tty '["sleep", "1000"]'
    run "$PTY" --size 24x80 --step "24 80" "\n" --resize 30x100 -- \
        "$CRICTL_BIN" --runtime-endpoint "unix://$SOCK" exec -it "$C" \
        sh -c 'stty size; read x; stty size; echo "TERM=$TERM"; exit 5'
    echo "$output"
    [ "$status" -eq 1 ]
    output_has "24 80"
    output_has "30 100"
    output_has "TERM=xterm"
    output_has "exit code 5"
}

@test "exec: 20 sessions at once; a client that leaves kills its exec" {
    pod_ctr many '["sleep", "1000"]'
    pids=()
    for i in $(seq 1 20); do
        cri exec "$C" sh -c "sleep 1; echo n$i" >"$BERTH_TMP/o$i" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in $(seq 1 20); do
        [ "$(cat "$BERTH_TMP/o$i")" = "n$i" ] || {
            cat "$BERTH_TMP/o$i"
            false
        }
    done
    # crictl itself, not a subshell around it: kill -9 must close its connection
    "$CRICTL_BIN" --runtime-endpoint "unix://$SOCK" exec "$C" sleep 4242 &
    cpid=$!
    for i in $(seq 1 50); do
        cri exec -s "$C" ps | grep -q 'sleep 4242' && break
        sleep 0.1
    done
    kill -9 "$cpid"
    wait "$cpid" || true
    for i in $(seq 1 50); do
        cri exec -s "$C" ps | grep -q 'sleep 4242' || break
        sleep 0.1
    done
    ! cri exec -s "$C" ps | grep -q 'sleep 4242'
}

@test "CRI Exec/Attach/PortForward validate; tokens are single use (404), an exec token is no attach token" {
    pod_ctr val '["sleep", "1000"]'
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /runtime.v1.RuntimeService/Exec \
        --hex "$(exec_req "$C" toe true)"
    line_present "code=3 INVALID_ARGUMENT"
    output_has "tty and stderr cannot both be true"
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /runtime.v1.RuntimeService/Exec \
        --hex "$(exec_req "$C" "" true)"
    line_present "code=3 INVALID_ARGUMENT"
    output_has "one of stdin, stdout, or stderr must be set"
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /runtime.v1.RuntimeService/Exec \
        --hex "$(exec_req nosuch o true)"
    line_present "code=5 NOT_FOUND"
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace \
        /runtime.v1.RuntimeService/PortForward --empty
    line_present "code=3 INVALID_ARGUMENT"
    url=$(stream_url Exec "$(exec_req "$C" o true)")
    [[ "$url" =~ ^http://127\.0\.0\.1:[0-9]+/exec/[A-Za-z0-9_-]{8}$ ]]
    # no upgrade headers: 400; the token is used up
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 400 ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 404 ]
    # an exec token on /attach/ is 404, and gone
    url=$(stream_url Exec "$(exec_req "$C" o true)")
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "${url/\/exec\//\/attach\/}")" = 404 ]
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 404 ]
    # no protocol in common: 403 naming ours
    url=$(stream_url Exec "$(exec_req "$C" o true)")
    run curl -s -i -X POST -H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' \
        -H 'X-Stream-Protocol-Version: v9.channel.k8s.io' "$url"
    output_has "403 Forbidden"
    output_has "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io"
    # a stopped container: FAILED_PRECONDITION
    cri stop "$C" >/dev/null
    run "$BERTH_BIN/berth-rawcall" -a "$SOCK" --no-namespace /runtime.v1.RuntimeService/Exec \
        --hex "$(exec_req "$C" o true)"
    line_present "code=9 FAILED_PRECONDITION"
    output_has "CONTAINER_EXITED"
}

# pf_start POD REMOTE-PORT: crictl port-forward in the background; sets PF_PID and PF_PORT
pf_start() {
    "$CRICTL_BIN" --runtime-endpoint "unix://$SOCK" port-forward "$1" "0:$2" \
        >"$BERTH_TMP/pf.out" 2>&1 &
    PF_PID=$!
    for i in $(seq 1 100); do
        PF_PORT=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$BERTH_TMP/pf.out" |
            head -1)
        [ -z "$PF_PORT" ] || return 0
        sleep 0.1
    done
    cat "$BERTH_TMP/pf.out" >&2
    return 1
}

# pf_check PORT [IDLE]: sequential, 10 concurrent, then (with IDLE) again after 15 s idle
pf_check() {
    local i
    for i in 1 2 3; do
        [ "$(curl -s --max-time 10 "http://127.0.0.1:$1/index.html")" = served ]
    done
    local pids=()
    for i in $(seq 1 10); do
        curl -s --max-time 20 -o "$BERTH_TMP/c$i" "http://127.0.0.1:$1/index.html" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in $(seq 1 10); do [ "$(cat "$BERTH_TMP/c$i")" = served ]; done
    [ -n "${2:-}" ] || return 0
    # past client-go's 5 s ping period several times over: the session lives on
    sleep 15
    [ "$(curl -s --max-time 10 "http://127.0.0.1:$1/index.html")" = served ]
}

@test "port-forward to a busybox httpd in a pod: sequential, 10 at once, idle 15 s; a closed port ends the client" {
    pod_ctr web '["sh", "-c", "mkdir -p /tmp/www && echo served > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]'
    pf_start "$POD" 8080
    pf_check "$PF_PORT" idle
    kill "$PF_PID"
    wait "$PF_PID" || true
    # nothing listens on 9999: the error reaches the client, which exits
    pf_start "$POD" 9999
    run curl -s --max-time 10 "http://127.0.0.1:$PF_PORT/"
    [ "$status" -ne 0 ]
    for i in $(seq 1 100); do
        kill -0 "$PF_PID" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$PF_PID" 2>/dev/null
    grep -q "error forwarding port 9999" "$BERTH_TMP/pf.out"
}

@test "port-forward in a host-network pod" {
    port=$((20000 + RANDOM % 20000))
    cri pull "$IMAGE" >/dev/null
    PJ=$(pod_json hn '"linux": {"security_context": {"namespace_options": {"network": 2}}}')
    POD=$(cri runp "$PJ")
    C=$(run_ctr "$POD" "$PJ" hweb "[\"sh\", \"-c\", \"mkdir -p /tmp/www && echo served > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:$port -h /tmp/www\"]")
    pf_start "$POD" "$port"
    pf_check "$PF_PORT"
    kill "$PF_PID"
}

@test "attach: a stdin_once shell runs what the client sends, no history; the client's EOF ends it; the log has it all" {
    cri pull "$IMAGE" >/dev/null
    PJ=$(pod_json at)
    POD=$(cri runp "$PJ")
    C=$(run_ctr "$POD" "$PJ" at '["sh", "-c", "echo before; exec sh"]' \
        '"stdin": true, "stdin_once": true')
    for i in $(seq 1 50); do
        grep -q before "$LOGS/at/at.log" 2>/dev/null && break
        sleep 0.1
    done
    run --separate-stderr cri attach -i "$C" <<<'echo -n hello; echo oops >&2'
    status_is 0
    [ "$output" = hello ]
    [[ "$stderr" == *oops* ]]
    [[ "$stderr" != *before* ]]
    wait_state "$C" CONTAINER_EXITED
    grep -Eq ' stdout F before$' "$LOGS/at/at.log"
    grep -Eq ' stderr F oops$' "$LOGS/at/at.log"
    grep -Eq ' stdout P hello$' "$LOGS/at/at.log"
    # the container is gone: attach is FAILED_PRECONDITION at the CRI call
    run cri attach "$C"
    [ "$status" -ne 0 ]
    output_has "CONTAINER_EXITED"
}

@test "attach -it to a tty container: keystrokes in, the size and a resize seen inside, detach by exit" {
    cri pull "$IMAGE" >/dev/null
    PJ=$(pod_json tta)
    POD=$(cri runp "$PJ")
    C=$(run_ctr "$POD" "$PJ" tta '["sh"]' '"stdin": true, "tty": true')
    run "$PTY" --size 24x80 --step "" "sleep 0.5; stty size\n" \
        --step "24 80" "stty size\n" --resize 30x100 \
        --step "30 100" "exit 7\n" -- \
        "$CRICTL_BIN" --runtime-endpoint "unix://$SOCK" attach -it "$C"
    echo "$output"
    status_is 0
    wait_state "$C" CONTAINER_EXITED
    [ "$(cri inspect -o go-template --template '{{.status.exitCode}}' "$C")" = 7 ]
}

@test "WebSocket clients (the channel protocols kubelet passes through): exec in binary and base64 v4, port-forward" {
    WS="$BATS_TEST_DIRNAME/../tools/ws-stream.py"
    pod_ctr wsp '["sh", "-c", "mkdir -p /tmp/www && echo served > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]'
    url=$(stream_url Exec "$(exec_req "$C" oe sh -c 'echo out; echo err >&2; exit 3')")
    run --separate-stderr "$WS" "$url" v4.channel.k8s.io --status "$BERTH_TMP/st"
    status_is 0
    [ "$output" = out ]
    [ "$stderr" = err ]
    grep -q '"reason":"ExitCode","message":"3"' "$BERTH_TMP/st"
    url=$(stream_url Exec "$(exec_req "$C" io head -c 5)")
    run "$WS" "$url" v4.base64.channel.k8s.io --stdin hello --status "$BERTH_TMP/st"
    status_is 0
    [ "$output" = hello ]
    [ "$(cat "$BERTH_TMP/st")" = '{"metadata":{},"status":"Success"}' ]
    # PortForwardRequest{pod_sandbox_id, port: [8080]} (packed varint)
    pf=$(python3 -c 'import sys; p=sys.argv[1].encode(); print((bytes([0x0a, len(p)]) + p + bytes([0x12, 2, 0x90, 0x3f])).hex())' "$POD")
    url=$(stream_url PortForward "$pf")
    run "$WS" "$url" v4.channel.k8s.io --send-on 0 --stdin $'GET /index.html HTTP/1.0\r\n\r\n'
    status_is 0
    echo "$output" | grep '^0:' | cut -d: -f2 | tr -d '\n' | xxd -r -p | grep -q served
    # the first message of each channel is the port, little-endian (8080 = 0x1f90)
    [ "$(echo "$output" | grep '^1:' | head -1)" = "1:901f" ]
}
