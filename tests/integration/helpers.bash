# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the berthd integration tests (bats). Every test gets its own berthd with
# fresh root/state dirs and socket under a temp dir; see start_berthd / stop_berthd.
#
# Environment: BERTH_BIN (dir with berthd, berthctl, berth-rawcall; CTest sets it),
# BERTH_CRI=1 (serve the CRI; otherwise berthd runs with --no-cri, so the tests of the
# containerd API see no k8s.io namespace, pause image or CNI state),
# BERTH_START_TIMEOUT (seconds to wait for the socket, default 5),
# BERTH_WRAPPER (command prefix for berthd, e.g. valgrind; word-split).

if [ -z "${BERTH_BIN:-}" ]; then
    BERTH_BIN="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build/bin"
fi
export BERTH_BIN
# Nothing from the caller's environment may redirect the clients.
unset CONTAINERD_ADDRESS CONTAINERD_NAMESPACE CONTAINERD_SNAPSHOTTER BERTH_ADDRESS BERTH_NAMESPACE
# Debian's python3 for every script the tests run: its packages are the ones installed
# (python3-prometheus-client), and it starts in 20 ms where a pyenv shim earlier in PATH takes
# 400 ms or more, which made python-heavy files several times slower.
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
    BERTH_PYBIN="${BATS_RUN_TMPDIR:-${TMPDIR:-/tmp}}/berth-python3"
    mkdir -p "$BERTH_PYBIN"
    ln -sf /usr/bin/python3 "$BERTH_PYBIN/python3"
    PATH="$BERTH_PYBIN:$PATH"
    export PATH
fi

ID_RE='^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$'

# Creates the per-test temp dir (once) and exports BERTH_TMP ROOT STATE SOCK LOG.
berth_tmp_init() {
    if [ -n "${BERTH_TMP:-}" ] && [ -d "$BERTH_TMP" ]; then
        return 0
    fi
    BERTH_TMP="$(mktemp -d "${BATS_TMPDIR:-/tmp}/berth-it.XXXXXX")"
    ROOT="$BERTH_TMP/root"
    STATE="$BERTH_TMP/state"
    SOCK="$BERTH_TMP/berthd.sock"
    LOG="$BERTH_TMP/berthd.log"
    export BERTH_TMP ROOT STATE SOCK LOG
}

# True once something answers gRPC on $1 (a completed call, whatever its status).
socket_answers() {
    [ -S "$1" ] &&
        "$BERTH_BIN/berth-rawcall" -a "$1" --timeout 2000 \
            /containerd.services.version.v1.Version/Version --empty >/dev/null 2>&1
}

# start_berthd [berthd flags...]: starts berthd on $ROOT/$STATE/$SOCK (creating them on first
# use; a second call after stop_berthd --keep reuses them) and waits for it to answer.
# Exports BERTHD_PID. Fails (printing the log) when berthd exits or does not answer in time.
start_berthd() {
    local timeout="${BERTH_START_TIMEOUT:-5}" deadline
    berth_tmp_init
    # shellcheck disable=SC2086
    local cri=--no-cri
    [ "${BERTH_CRI:-}" = 1 ] && cri=
    ${BERTH_WRAPPER:-} "$BERTH_BIN/berthd" --root "$ROOT" --state "$STATE" --address "$SOCK" \
        ${cri} "$@" >>"$LOG" 2>&1 3>&- &
    BERTHD_PID=$!
    export BERTHD_PID
    deadline=$((SECONDS + timeout))
    while ! socket_answers "$SOCK"; do
        if ! kill -0 "$BERTHD_PID" 2>/dev/null; then
            wait "$BERTHD_PID"
            echo "berthd exited early (status $?); log:" >&2
            cat "$LOG" >&2
            BERTHD_PID=
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "berthd did not answer on $SOCK within ${timeout}s; log:" >&2
            cat "$LOG" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Waits up to $2 seconds (default 15) for pid $1 to exit; sets BERTHD_STATUS. Returns 1 on
# timeout (after SIGKILL).
wait_pid() {
    local pid="$1" limit="${2:-15}" i=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$i" -ge $((limit * 20)) ]; then
            echo "pid $pid did not exit within ${limit}s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            BERTHD_STATUS=137
            return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    wait "$pid"
    BERTHD_STATUS=$?
    return 0
}

# stop_berthd [--keep]: SIGTERM, wait, assert exit status 0 and the socket gone. Removes the
# temp dirs unless --keep (for restarts). Prints the log on failure.
stop_berthd() {
    local keep=0 ok=1
    [ "${1:-}" = "--keep" ] && keep=1
    if [ -n "${BERTHD_PID:-}" ]; then
        kill -TERM "$BERTHD_PID" 2>/dev/null
        if ! wait_pid "$BERTHD_PID" "${BERTH_STOP_TIMEOUT:-15}"; then
            ok=0
        elif [ "$BERTHD_STATUS" -ne 0 ]; then
            echo "berthd exited with status $BERTHD_STATUS" >&2
            ok=0
        fi
        BERTHD_PID=
        if [ -e "$SOCK" ]; then
            echo "berthd left its socket $SOCK behind" >&2
            ok=0
        fi
    fi
    if [ "$ok" -ne 1 ]; then
        echo "---- berthd log ($LOG) ----" >&2
        cat "$LOG" >&2
    fi
    if [ "$keep" -eq 0 ] && [ -n "${BERTH_TMP:-}" ]; then
        rm -rf "$BERTH_TMP"
        BERTH_TMP=
    fi
    [ "$ok" -eq 1 ]
}

# SIGKILLs berthd (no cleanup of anything).
kill9_berthd() {
    kill -KILL "$BERTHD_PID"
    wait "$BERTHD_PID" 2>/dev/null || true
    BERTHD_PID=
}

# Default per-file setup/teardown; files may override setup to pass flags.
berth_setup() {
    start_berthd "$@"
}

berth_teardown() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${LOG:-}" ] && [ -f "$LOG" ]; then
        echo "---- berthd log ($LOG) ----" >&2
        cat "$LOG" >&2
    fi
    stop_berthd
}

# Builds the test images (tests/data/mkimages.sh) into $DATA and imports busybox into berthd.
import_busybox() {
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
    ctrb images import "$DATA/oci/busybox.tar" >/dev/null
}

# Teardown of files that run containers: kills and deletes whatever tasks the test left, so the
# temp dir can go, then berth_teardown.
tasks_teardown() {
    local t
    if [ -n "${BERTHD_PID:-}" ]; then
        for t in $(bctl tasks ls 2>/dev/null | awk 'NR>1 {print $1}'); do
            bctl tasks kill -a -s 9 "$t" >/dev/null 2>&1 || true
            bctl tasks rm -f "$t" >/dev/null 2>&1 || true
        done
    fi
    berth_teardown
}

# Waits up to 10 s for task $1 to show STOPPED in `berthctl tasks ls`; fails (saying so)
# otherwise.
wait_task_stopped() {
    for _ in $(seq 100); do
        bctl tasks ls | grep -Eq "^$1 .*STOPPED" && return 0
        sleep 0.1
    done
    echo "task $1 never stopped: $(bctl tasks ls)" >&2
    return 1
}

bctl() {
    "$BERTH_BIN/berthctl" -a "$SOCK" "$@"
}

ctrb() {
    ctr --address "$SOCK" "$@"
}

rawcall() {
    "$BERTH_BIN/berth-rawcall" -a "$SOCK" "$@"
}

# Prints every line of $output that contains $1 (fixed string); fails if none.
output_has() {
    if ! grep -qF -- "$1" <<<"$output"; then
        echo "expected output to contain: $1" >&2
        echo "output was: $output" >&2
        return 1
    fi
}

output_lacks() {
    if grep -qF -- "$1" <<<"$output"; then
        echo "expected output NOT to contain: $1" >&2
        echo "output was: $output" >&2
        return 1
    fi
}

# Asserts $status equals $1 and prints the output when it does not.
status_is() {
    if [ "$status" -ne "$1" ]; then
        echo "expected exit status $1, got $status; output: $output" >&2
        return 1
    fi
}

# Everything the store holds, as text: the namespaces (with labels) and each namespace's
# containers as JSON. Used to prove that rejected calls changed nothing.
store_dump() {
    local ns
    bctl --format json namespaces ls || return 1
    for ns in $(bctl namespaces ls -q); do
        echo "== $ns"
        bctl -n "$ns" --format json containers ls || return 1
    done
}

# A protobuf length-delimited field: pb_field NUM HEXBYTES -> hex. Strings via pb_str.
pb_field() {
    python3 -c '
import sys
num, data = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
sys.stdout.write((varint(num << 3 | 2) + varint(len(data)) + data).hex())
' "$1" "$2"
}

pb_str() {
    pb_field "$1" "$(printf '%s' "$2" | od -An -tx1 -v | tr -d ' \n')"
}

# A string of $1 copies of character $2 (default x).
repeat_char() {
    head -c "$1" /dev/zero | tr '\0' "${2:-x}"
}

# Asserts that $output has (line_present) or lacks (line_absent) the exact line $1.
# (Use these instead of `! grep ...`: bats does not fail a test on a negated command.)
line_present() {
    if ! grep -qxF -- "$1" <<<"$output"; then
        echo "expected a line \"$1\" in output: $output" >&2
        return 1
    fi
}

line_absent() {
    if grep -qxF -- "$1" <<<"$output"; then
        echo "expected no line \"$1\" in output: $output" >&2
        return 1
    fi
}
