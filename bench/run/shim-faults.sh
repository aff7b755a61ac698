#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks berth-shim's hot-text layout (cmd/berth-shim/hot-text.ld). Starts berthd on a temp
# root, runs one busybox container through berth-shim and takes it through a life cycle (exec,
# exec -t, ps, metrics, pause, resume, kill, wait, delete) while `perf record -e page-faults`
# watches the whole machine. Then prints the serving shim's RSS/PSS (measured before the kill)
# and every page fault the shim processes took on the shim's text outside .text.berth_hot:
#   serve  the long-lived serving shim: each line is a 64 KiB window kept resident; the function
#          named (its libc.a member) belongs in hot-text.ld (exit-time code is left out)
#   data   a fault of the serving shim on read-only data (rodata, eh_frame, RELRO)
#   other  the `start` process (its start-up code; it exits) and children forked to exec runc
#          (short-lived; informational)
# Exit status 0 when the serving shim faulted nothing outside the section, 1 otherwise.
# Needs root and perf (Debian's linux-perf); unix sockets only, no network.
#
# Env: BERTH_BIN (default <repo>/build/bin), TMPBASE (default /var/tmp).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
TMPBASE=${TMPBASE:-/var/tmp}
IMG=docker.io/berth/busybox:latest
NS=shimfaults$$
ID=sf1

[ "$(id -u)" -eq 0 ] || { echo "shim-faults.sh: needs root" >&2; exit 1; }
command -v perf >/dev/null || { echo "shim-faults.sh: perf not installed" >&2; exit 1; }
shim=$BERTH_BIN/berth-shim
readelf -SW "$shim" | grep -q '\.text\.berth_hot ' ||
    { echo "shim-faults.sh: $shim has no .text.berth_hot section" >&2; exit 1; }

work=$(mktemp -d "$TMPBASE/berth-shim-faults.XXXXXX")
sock=$work/berthd.sock
berthd_pid=
perf_pid=

bctl() { timeout 60 "$BERTH_BIN/berthctl" -a "$sock" -n "$NS" "$@"; }

cleanup() {
    local rc=$? m
    trap - EXIT INT TERM
    [ -n "$perf_pid" ] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
    if [ -n "$berthd_pid" ]; then
        bctl tasks rm -f "$ID" >/dev/null 2>&1 || true
        bctl containers rm "$ID" >/dev/null 2>&1 || true
        kill -TERM "$berthd_pid" 2>/dev/null || true
        wait "$berthd_pid" 2>/dev/null || true
    fi
    pkill -KILL -f -- "-address $sock" 2>/dev/null || true
    for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    for m in /sys/fs/cgroup/*/"$NS"/* /sys/fs/cgroup/*/"$NS"; do
        if [ -d "$m" ]; then rmdir "$m" 2>/dev/null || true; fi
    done
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$repo/tests/data/mkimages.sh" "$work/data" >/dev/null
"$BERTH_BIN/berthd" --root "$work/root" --state "$work/state" --address "$sock" \
    --log-level warn >"$work/berthd.log" 2>&1 </dev/null &
berthd_pid=$!
for _ in $(seq 100); do
    bctl version >/dev/null 2>&1 && break
    sleep 0.1
done
bctl images import "$work/data/oci/busybox.tar" >/dev/null

perf record -a -e page-faults -c 1 -d -o "$work/perf.data" >"$work/perf.log" 2>&1 &
perf_pid=$!
sleep 1.5 # perf needs a moment before it sees events

bctl run -d "$IMG" "$ID" sleep 1000
shim_pid=$(pgrep -f -- "-id $ID -address $sock" | head -1)
bctl tasks exec --exec-id e1 "$ID" echo hi >/dev/null
bctl tasks exec -t --exec-id e2 "$ID" true </dev/null >/dev/null 2>&1 || true
bctl tasks ps "$ID" >/dev/null
bctl tasks metrics "$ID" >/dev/null
bctl tasks pause "$ID"
bctl tasks resume "$ID"
sleep 0.5
rss=$(awk '/^Rss:/ { print $2 }' "/proc/$shim_pid/smaps_rollup")
pss=$(awk '/^Pss:/ { print $2 }' "/proc/$shim_pid/smaps_rollup")
# resident KiB per kind of mapping: the binary's segments, heap, stack, the rest
parts=$(awk -v bin="$shim" '/^[0-9a-f]+-[0-9a-f]+ / { k = ($6 == bin) ? $2 : ($6 == "[heap]" || $6 == "[stack]") ? $6 : "other" }
    /^Rss:/ { r[k] += $2 } END { for (k in r) printf "%s %d KiB, ", k, r[k] }' "/proc/$shim_pid/smaps")
bctl tasks kill -s KILL "$ID"
bctl tasks rm "$ID" >/dev/null
sleep 0.5
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
perf_pid=

echo "# serving shim (pid $shim_pid) with one running container: RSS $rss KiB, PSS $pss KiB"
echo "# resident: ${parts%, }"
perf script -i "$work/perf.data" -F comm,pid,ip,sym,addr 2>/dev/null >"$work/faults.txt"
readelf -SW "$shim" >"$work/sections.txt"
python3 - "$work/sections.txt" "$work/faults.txt" "$shim_pid" <<'PY'
import sys
secs = {}
for line in open(sys.argv[1]):
    f = line.replace('[ ', '[').split()
    if len(f) > 5 and f[0].startswith('[') and f[0] != '[Nr]':
        secs[f[1]] = (int(f[3], 16), int(f[5], 16))
lo, size = secs['.text.berth_hot']
text_lo = min(a for n, (a, s) in secs.items() if n.startswith('.text') or n == '.init')
text_hi = max(a + s for n, (a, s) in secs.items() if n.startswith('.text') or n.startswith('__libc_freeres_fn'))
ro_lo = min(a for n, (a, s) in secs.items() if n.startswith('.rodata'))
ro_hi = max(a + s for n, (a, s) in secs.items() if n.startswith('.data.rel.ro'))
print('# .text.berth_hot: 0x%x, %d KiB of %d KiB text' % (lo, size // 1024, (text_hi - text_lo) // 1024))
# code that only runs once the shim is leaving (exit after Shutdown): not part of its footprint
at_exit = {'exit', '__run_exit_handlers', '_IO_cleanup', '_fini', '__call_tls_dtors',
           '__deregister_frame_info', '__deregister_frame_info_bases', '__libc_atexit',
           '__do_global_dtors_aux'}
seen, bad = set(), False
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) < 5 or f[0] != 'berth-shim':
        continue
    addr, ip = int(f[2], 16), int(f[-2], 16)
    if f[1] == sys.argv[3] and f[-1] in at_exit:
        continue
    if f[1] == sys.argv[3] and ro_lo <= addr < ro_hi:
        print('data 0x%x %s (from %s)' % (addr, f[3], f[-1]))
    # instruction fetches in the text, outside the hot section
    if addr != ip or not text_lo <= ip < text_hi or lo <= ip < lo + size:
        continue
    who = 'serve' if f[1] == sys.argv[3] else 'other'
    if (who, f[-1]) in seen:
        continue
    seen.add((who, f[-1]))
    print('%s %s 0x%x' % (who, f[-1], ip))
    bad = bad or who == 'serve'
sys.exit(1 if bad else 0)
PY
