#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Containers-API benchmark: berthd vs Debian's containerd, side by side in one run. Starts
# both daemons on private roots under one temp dir (same file system), drives each with
# berth-bench-metadata over its unix socket, alternating daemons per row, stops them and
# prints a markdown table with the issue's targets. Unix sockets only; nothing on the network.
#
# Env: BERTH_BIN (dir with berthd and berth-bench-metadata; default <repo>/build/bin),
#      CONTAINERD (default /usr/bin/containerd), DURATION (seconds per run, default 5),
#      CONCURRENCY (default "1 8 64"), TMPBASE (default /var/tmp), KEEP=1 keeps the temp dir
#      (after a failure only the logs are kept). ROWS="op:preload ..." narrows the matrix.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh" # stop_daemon
repo=$(cd "$here/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
DURATION=${DURATION:-5}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
TMPBASE=${TMPBASE:-/var/tmp}
LOADGEN=$BERTH_BIN/berth-bench-metadata
# op:preload. Unary List cannot return 10,000 records with a 1.5 KB spec (~19 MB > the
# 16 MiB message limit of both daemons), so that row uses ListStream.
# get-async: the same Gets from one thread keeping c calls in flight (--async), which costs the
# client far less CPU than a thread per call; on 2 shared cores it shows the daemons' capacity.
ROWS=${ROWS:-"create-delete:0 get:100 get-async:100 list:100 list-stream:10000"}

for f in "$BERTH_BIN/berthd" "$LOADGEN" "$CONTAINERD"; do
    [ -x "$f" ] || { echo "run.sh: $f not found or not executable" >&2; exit 1; }
done

work=$(mktemp -d "$TMPBASE/berth-bench-metadata.XXXXXX")
berthd_pid=
containerd_pid=


cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_daemon "$berthd_pid" berthd
    stop_daemon "$containerd_pid" containerd
    berthd_pid='' containerd_pid=''
    if [ "${KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        # keep the logs and results for a look, not the daemons' data
        rm -rf "$work/berthd/root" "$work/berthd/state" "$work/containerd/root" \
            "$work/containerd/state" "$work/containerd/opt"
        echo "run.sh: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# "VmRSS RssAnon RssFile" in KiB. berthd's RssFile is mostly the LMDB map (page cache
# shared with the kernel), so it is reported apart from anonymous memory.
rss_kib() { # pid
    awk '/^(VmRSS|RssAnon|RssFile):/ { v[$1] = $2 } END { print v["VmRSS:"]+0, v["RssAnon:"]+0, v["RssFile:"]+0 }' \
        "/proc/$1/status" 2>/dev/null || echo "0 0 0"
}

# Readiness: both daemons answer Version; ctr ships with containerd.
wait_ready() { # name pid sock
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || { echo "run.sh: $1 exited during startup; log:" >&2; cat "$work/$1.log" >&2; exit 1; }
        if [ -S "$3" ] && ctr --address "$3" --timeout 1s version >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "run.sh: $1 not ready after 20 s" >&2
    exit 1
}

mkdir -p "$work/berthd" "$work/containerd"
cat >"$work/berthd/config.toml" <<EOF
version = 1
[log]
level = "warn"
EOF
"$BERTH_BIN/berthd" --root "$work/berthd/root" --state "$work/berthd/state" \
    --address "$work/berthd/berthd.sock" --config "$work/berthd/config.toml" \
    >"$work/berthd.log" 2>&1 </dev/null &
berthd_pid=$!

# Minimal containerd: no CRI (it wants CNI and network); opt plugin kept inside $work.
cat >"$work/containerd/config.toml" <<EOF
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/containerd/opt"
EOF
"$CONTAINERD" --root "$work/containerd/root" --state "$work/containerd/state" \
    --address "$work/containerd/containerd.sock" --config "$work/containerd/config.toml" \
    >"$work/containerd.log" 2>&1 </dev/null &
containerd_pid=$!

wait_ready berthd "$berthd_pid" "$work/berthd/berthd.sock"
wait_ready containerd "$containerd_pid" "$work/containerd/containerd.sock"
sleep 1
# RSS snapshots: idle, then after each op's rows ("label:VmRSS RssAnon RssFile" per line).
rss_log=$work/rss.txt
echo "idle:$(rss_kib "$berthd_pid"):$(rss_kib "$containerd_pid")" >"$rss_log"

echo "# berth-bench-metadata: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, duration ${DURATION}s per run"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1)"
echo "# containerd: $("$CONTAINERD" --version 2>&1 | head -1)"
echo "# metadata file systems: berthd $(stat -f -c %T "$work/berthd/root"), containerd $(stat -f -c %T "$work/containerd/root") (both under $work)"

results=$work/results.txt
: >"$results"
failed_runs=0
for row in $ROWS; do
    op=${row%%:*}
    preload=${row#*:}
    for c in $CONCURRENCY; do
        for d in berthd containerd; do
            if [ $d = berthd ]; then pid=$berthd_pid sock=$work/berthd/berthd.sock
            else pid=$containerd_pid sock=$work/containerd/containerd.sock; fi
            if [ "$op" = get-async ]; then
                args=(-a "$sock" --op get --async --concurrency "$c" --duration "$DURATION" --label "$d")
            else
                args=(-a "$sock" --op "$op" --concurrency "$c" --duration "$DURATION" --label "$d")
            fi
            [ "$preload" -gt 0 ] && args+=(--preload "$preload")
            rc=0
            line=$("$LOADGEN" "${args[@]}" 2>>"$work/loadgen.log") || rc=$?
            [ "$op" = get-async ] && line=${line/ op=get / op=get-async }
            if [ -z "$line" ]; then
                line="label=$d op=$op c=$c preload=$preload ops=0 secs=0 ops_per_s=0 p50_us=0 p99_us=0 errors=failed"
            fi
            [ $rc -eq 0 ] || failed_runs=$((failed_runs + 1))
            echo "$line"
            echo "$line" >>"$results"
            kill -0 "$pid" 2>/dev/null || { echo "run.sh: $d died during $op c=$c" >&2; tail -20 "$work/$d.log" >&2; exit 1; }
        done
    done
    sleep 1
    echo "after $op@$preload:$(rss_kib "$berthd_pid"):$(rss_kib "$containerd_pid")" >>"$rss_log"
done
stop_daemon "$berthd_pid" berthd
stop_daemon "$containerd_pid" containerd
berthd_pid='' containerd_pid=''

# Markdown table. Targets (issue "Benchmark: bench/metadata"): create+delete at c=64 >= 3x
# containerd ops/s, get at c=64 >= 2x, and berthd's p99 lower than containerd's in every row.
awk -v rss_log="$rss_log" '
function mib(v,   a) {
    split(v, a, " ")
    return sprintf("%.1f (%.1f/%.1f)", a[1] / 1024, a[2] / 1024, a[3] / 1024)
}
function kv(line, key,   m) {
    if (match(" " line " ", " " key "=[^ ]*")) {
        m = substr(" " line " ", RSTART + length(key) + 2, RLENGTH - length(key) - 2)
        return m
    }
    return ""
}
{
    k = kv($0, "op") SUBSEP kv($0, "c")
    if (!(k in seen)) { seen[k] = 1; order[n++] = k }
    row[k, kv($0, "label")] = $0
}
END {
    print ""
    print "| op | c | preload | berthd ops/s | containerd ops/s | ratio | berthd p50/p99 us | containerd p50/p99 us | target | result |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    fails = 0
    for (i = 0; i < n; i++) {
        b = row[order[i], "berthd"]; c = row[order[i], "containerd"]
        op = kv(b, "op"); cc = kv(b, "c")
        bo = kv(b, "ops_per_s") + 0; co = kv(c, "ops_per_s") + 0
        ratio = co > 0 ? bo / co : 0
        bp99 = kv(b, "p99_us") + 0; cp99 = kv(c, "p99_us") + 0
        need = 0
        if (op == "create-delete" && cc == 64) need = 3
        if ((op == "get" || op == "get-async") && cc == 64) need = 2
        target = (need ? sprintf(">=%dx, ", need) : "") "p99 lower"
        ok = (bo > 0 && bp99 < cp99 && ratio >= need && kv(b, "errors") == "0" && kv(c, "errors") == "0")
        why = ""
        if (ratio < need) why = why " ratio"
        if (!(bp99 < cp99)) why = why " p99"
        if (kv(b, "errors") != "0" || kv(c, "errors") != "0") why = why " errors"
        if (!ok) fails++
        printf "| %s | %s | %s | %d | %d | %.2fx | %s/%s | %s/%s | %s | %s |\n", op, cc, kv(b, "preload"), bo, co, ratio,
            kv(b, "p50_us"), kv(b, "p99_us"), kv(c, "p50_us"), kv(c, "p99_us"), target, ok ? "PASS" : "FAIL (" substr(why, 2) ")"
    }
    print ""
    print "| RSS MiB: VmRSS (anon/file) | berthd | containerd |"
    print "|---|---:|---:|"
    while ((getline l < rss_log) > 0) {
        split(l, f, ":")
        printf "| %s | %s | %s |\n", f[1], mib(f[2]), mib(f[3])
    }
    printf "Rows failing a target: %d of %d\n", fails, n
}' "$results"

if [ "$failed_runs" -gt 0 ]; then
    echo "run.sh: $failed_runs runs reported errors; see $work/loadgen.log" >&2
    KEEP=1
fi
