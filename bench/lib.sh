# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shell pieces the bench/*/run.sh scripts share; sourced, not run.

# stop_daemon PID NAME: SIGTERM, up to 10 s, then SIGKILL; reaps it. An empty PID or a process
# already gone is fine.
stop_daemon() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: $2 (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# wait_socket SOCK [PID]: until something answers `ctr version` on SOCK (10 s); fails early
# when PID is given and gone.
wait_socket() {
    for _ in $(seq 1 200); do
        ctr -a "$1" version >/dev/null 2>&1 && return 0
        [ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    echo "daemon on $1 did not come up" >&2
    return 1
}

# start_fresh_daemon berthd|containerd WORK cri|nocri: starts the daemon in the background on an
# empty WORK/d (root, state, socket WORK/d/s.sock; containerd with WORK/d/opt and, for nocri,
# its CRI plugin disabled; berthd with its defaults either way, as the import bench always
# measured it), logging to WORK/<daemon>.log, and waits for its socket. Sets DAEMON_PID.
start_fresh_daemon() {
    local who=$1 work=$2 cri=$3
    rm -rf "$work/d"
    mkdir -p "$work/d"
    if [ "$who" = berthd ]; then
        "$BERTH_BIN/berthd" --root "$work/d/root" --state "$work/d/state" \
            --address "$work/d/s.sock" >>"$work/berthd.log" 2>&1 </dev/null &
    else
        {
            echo "version = 2"
            [ "$cri" = cri ] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
            echo '[plugins."io.containerd.internal.v1.opt"]'
            echo "  path = \"$work/d/opt\""
        } >"$work/d/config.toml"
        "$CONTAINERD" --root "$work/d/root" --state "$work/d/state" --address "$work/d/s.sock" \
            --config "$work/d/config.toml" >>"$work/containerd.log" 2>&1 </dev/null &
    fi
    DAEMON_PID=$!
    wait_socket "$work/d/s.sock" "$DAEMON_PID"
}
