#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Soak (issue 14): berthd under mixed work for DURATION seconds, its resources sampled every
# INTERVAL seconds into a CSV, then the least-squares slope per minute of each series after
# WARMUP and a verdict line. The work, all at once, each loop in its own namespace:
#   run        `berthctl run --rm busybox true`
#   lifecycle  `berthctl containers create` + `tasks start -d` + `tasks kill -s KILL` +
#              `tasks rm` + `containers rm` (a sleeping container)
#   cri        crictl runp + create + start + stop + rm + stopp + rmp (a pod on a CNI bridge)
#   pull       `berthctl images pull` from a local docker-registry + `images rm` (the GC then
#              drops the blobs, so every pull fetches and unpacks again)
#   exec       `berthctl tasks exec` of `sh -c 'echo ok'` in one long-running container
#   meta       berth-bench-metadata create-delete at META_RATE calls/s (2 threads)
#   ctr        `ctr run --rm busybox true` (containerd's client and containerd-shim-runc-v2
#              against berthd; not in the default LOOPS: the issue's first measurement used it)
# Series: VmRSS, RssAnon, open fds, threads, the metadata and overlayfs-snapshot LMDB files,
# live shims, and the loops' finished iterations. Flat means |slope| is below the detection
# limit: twice the slope's standard error from the residuals around the fit, widened for the
# samples' lag-1 autocorrelation (a trendless series with this jitter gives a fitted slope
# inside that limit 95% of the time), with a floor of one unit over the window for the
# integer series (fds, threads, shims).
# With PROBE=1 (the default when gdb is there) the heap is read through gdb
# (malloc_stats(): every arena's system and in-use bytes) at the end of the warm-up, every
# PROBE_EVERY seconds (0: never) and at the end, then malloc_trim(0) is called and the RSS
# sampled again: growing in-use bytes are live allocations (a leak or a growing table), system
# bytes growing while in-use stays put are the allocator keeping freed memory.
#
# Everything runs on private roots under one temp dir: berthd (crienv.sh's CNI bridge and /22,
# cgroup parent), the registry on 127.0.0.1; teardown removes containers, shims, mounts, netns,
# cgroups and the bridge, also after a failure. Needs root.
#
# Env: BERTH_BIN (<repo>/build/bin), DURATION (3600 s), WARMUP (10% of DURATION), INTERVAL
#      (10 s), LOOPS ("run lifecycle cri pull exec meta"; add ctr), META_RATE (20 calls/s),
#      PAUSE (0.2 s between a loop's iterations), SETTLE (15 s at rest before the last
#      sample), CSV (the samples; default
#      $TMPBASE/berth-soak-<tag>.csv, kept), PROBE (1), PROBE_EVERY (0), CRICTL
#      (/work/shared/tools/crictl or crictl in PATH), CNI_BIN (/usr/lib/cni), TMPBASE
#      (/var/tmp), KEEP=1 keeps the temp dir (logs are kept after a failure anyway).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd} # crienv.sh checks it; not started here
CNI_BIN=${CNI_BIN:-/usr/lib/cni}
CRICTL=${CRICTL:-$(command -v crictl || echo /work/shared/tools/crictl)}
DURATION=${DURATION:-3600}
WARMUP=${WARMUP:-$((DURATION / 10))}
INTERVAL=${INTERVAL:-10}
LOOPS=${LOOPS:-run lifecycle cri pull exec meta}
META_RATE=${META_RATE:-20}
PAUSE=${PAUSE:-0.2}
SETTLE=${SETTLE:-15}
PROBE=${PROBE:-$(command -v gdb >/dev/null && echo 1 || echo 0)}
PROBE_EVERY=${PROBE_EVERY:-0}
TMPBASE=${TMPBASE:-/var/tmp}
CRIENV_ME=soak.sh
# shellcheck source=bench/crienv.sh
. "$here/crienv.sh" # work dir, CNI bridge, images, berthd start, teardown (crienv_*)

[ "$(id -u)" -eq 0 ] || crienv_die "needs root"
crienv_need_tools "$BERTH_BIN/berth-bench-metadata"
for l in $LOOPS; do
    case $l in
    run | lifecycle | exec | meta) ;;
    cri) [ -x "$CRICTL" ] || crienv_die "crictl not found (CRICTL)" ;;
    pull) for t in docker-registry skopeo curl; do
            command -v "$t" >/dev/null || crienv_die "$t not found (LOOPS has pull)"
        done ;;
    ctr) command -v containerd-shim-runc-v2 >/dev/null || crienv_die "containerd-shim-runc-v2 not in PATH" ;;
    *) crienv_die "unknown loop \"$l\"" ;;
    esac
done
[ "$PROBE" = 0 ] || command -v gdb >/dev/null || crienv_die "PROBE=1 needs gdb"
[ "$WARMUP" -lt "$DURATION" ] || crienv_die "WARMUP ($WARMUP) must be below DURATION ($DURATION)"
has_loop() { [[ " $LOOPS " = *" $1 "* ]]; }
reg_stop_all() { :; } # registry.bash's replaces it when the pull loop starts a registry

crienv_init berth-soak bsk
NS=soak-$tag # berthctl/ctr loops; their containers live in cgroups /$NS-<loop>/<id>
CSV=${CSV:-$TMPBASE/berth-soak-$tag.csv}
mkdir -p "$work/loops" "$work/pods"
loop_pids=()

bctl() { # NS-SUFFIX ARGS...: berthctl on our berthd in namespace $NS-SUFFIX
    local n=$1
    shift
    timeout 120 "$BERTH_BIN/berthctl" -a "${sock[berthd]}" -n "$NS-$n" --timeout 60s "$@"
}
cri() { timeout 120 "$CRICTL" --timeout 60s -r "unix://${sock[berthd]}" -i "unix://${sock[berthd]}" "$@"; }

# clean_daemon NAME: what the loops left in berthd (crienv_teardown calls it while berthd
# still runs): pods through the CRI, tasks and containers of our namespaces
clean_daemon() {
    local p n id
    [ "$1" = berthd ] || return 0
    for p in $(cri pods -q 2>/dev/null); do cri stopp "$p" && cri rmp "$p"; done
    for n in run lifecycle exec ctr pull; do
        for id in $(bctl "$n" tasks ls 2>/dev/null | awk 'NR > 1 { print $1 }'); do
            bctl "$n" tasks rm -f "$id"
        done
        for id in $(bctl "$n" containers ls -q 2>/dev/null); do bctl "$n" containers rm "$id"; done
    done
}

cleanup() {
    local rc=$? p f
    trap - EXIT INT TERM
    set +e +o pipefail # remove as much as possible, whatever fails
    for p in "${loop_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${loop_pids[@]}"; do wait "$p" 2>/dev/null; done
    reg_stop_all # before the teardown removes the temp dir holding the registry's pid file
    crienv_teardown "$rc" clean_daemon
    # containers of the berthctl/ctr loops (cgroup /<ns>/<id>); crienv's cleanup knows the CRI's
    for f in /sys/fs/cgroup/*/"$NS"-*/* /sys/fs/cgroup/"$NS"-*/*; do
        [ -f "$f/cgroup.procs" ] || continue
        while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$f/cgroup.procs"
    done
    sleep 0.2
    for f in /sys/fs/cgroup/*/"$NS"-* /sys/fs/cgroup/"$NS"-*; do
        [ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- images, registry, configs
crienv_images
crienv_configs
if has_loop pull; then
    # the test harness's registry functions (docker-registry, skopeo push)
    BATS_TEST_DIRNAME=$repo/tests/integration
    REG_ROOT=$work/reg
    # shellcheck source=tests/integration/registry.bash
    . "$BATS_TEST_DIRNAME/registry.bash"
    reg_mkimages "$work/regimg" >/dev/null
    reg_start soak plain
    reg_push soak "$work/regimg/busybox" soak/busybox:latest
    REG_IMAGE=$(reg_host soak)/soak/busybox:latest
    hosts_toml "$work/hosts" "$(reg_host soak)" "http://$(reg_host soak)"
    printf '[registry]\nconfig_path = "%s"\n' "$work/hosts" >>"$work/berthd/config.toml"
fi

crienv_start berthd
crienv_wait_ready berthd
crienv_import berthd # busybox into k8s.io for the CRI loop
BPID=${pid[berthd]}
for n in run lifecycle exec ctr; do
    has_loop "$n" || continue
    bctl "$n" images import "$work/img/oci/busybox.tar" >>"$work/import.log" 2>&1 ||
        crienv_die "import into $NS-$n failed; see $work/import.log"
done

# ---- the loops: each counts "ok fail" into $work/loops/NAME.count and logs failures
end_at=$(($(date +%s) + DURATION))

# iter NAME OK: records one iteration's outcome
declare -A n_ok n_fail
iter() {
    if [ "$2" = 0 ]; then n_ok[$1]=$((${n_ok[$1]:-0} + 1)); else n_fail[$1]=$((${n_fail[$1]:-0} + 1)); fi
    echo "${n_ok[$1]:-0} ${n_fail[$1]:-0}" >"$work/loops/$1.count"
}
# step NAME CMD...: runs CMD, output appended to the loop's log only when it fails
step() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then return 0; fi
    printf '%s: %s: %s\n' "$(date -u +%T)" "$*" "$out" >>"$work/loops/$name.log"
    return 1
}
running() { [ "$(date +%s)" -lt "$end_at" ]; }

loop_run() {
    local i=0 rc
    while running; do
        i=$((i + 1)) rc=0
        step run bctl run run --rm "$IMAGE" "r$i" true || rc=1
        if [ $rc != 0 ]; then bctl run tasks rm -f "r$i"; bctl run containers rm "r$i"; fi >/dev/null 2>&1
        iter run $rc
        sleep "$PAUSE"
    done
}

loop_ctr() {
    local i=0 rc
    while running; do
        i=$((i + 1)) rc=0
        step ctr timeout 120 ctr -a "${sock[berthd]}" -n "$NS-ctr" run --rm "$IMAGE" "c$i" true || rc=1
        if [ $rc != 0 ]; then bctl ctr tasks rm -f "c$i"; bctl ctr containers rm "c$i"; fi >/dev/null 2>&1
        iter ctr $rc
        sleep "$PAUSE"
    done
}

# tasks rm until the killed task has stopped (it takes the shim a moment to reap it)
task_rm_stopped() { # ID
    for _ in $(seq 50); do
        bctl lifecycle tasks rm "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    bctl lifecycle tasks rm "$1"
}

loop_lifecycle() {
    local i=0 rc id
    while running; do
        i=$((i + 1)) rc=0 id=l$i
        step lifecycle bctl lifecycle containers create "$IMAGE" "$id" sleep 1000 &&
            step lifecycle bctl lifecycle tasks start -d "$id" &&
            step lifecycle bctl lifecycle tasks kill -s KILL "$id" &&
            step lifecycle task_rm_stopped "$id" &&
            step lifecycle bctl lifecycle containers rm "$id" || rc=1
        if [ $rc != 0 ]; then bctl lifecycle tasks rm -f "$id"; bctl lifecycle containers rm "$id"; fi >/dev/null 2>&1
        iter lifecycle $rc
        sleep "$PAUSE"
    done
}

loop_exec() {
    local i=0 rc out
    if ! step exec bctl exec run -d "$IMAGE" host sleep 1000000; then
        iter exec 1
        return
    fi
    while running; do
        i=$((i + 1)) rc=0
        out=$(bctl exec tasks exec --exec-id "e$i" host sh -c 'echo ok' 2>&1) || rc=1
        if [ "$out" != ok ]; then
            rc=1
            printf '%s: exec e%d: %s\n' "$(date -u +%T)" "$i" "$out" >>"$work/loops/exec.log"
        fi
        iter exec $rc
        sleep "$PAUSE"
    done
}

loop_pull() {
    local rc
    while running; do
        rc=0
        step pull bctl pull images pull "$REG_IMAGE" &&
            step pull bctl pull images rm "$REG_IMAGE" || rc=1
        iter pull $rc
        sleep "$PAUSE"
    done
}

loop_cri() {
    local i=0 rc p c
    while running; do
        i=$((i + 1)) rc=0 p='' c=''
        cat >"$work/pods/pod.json" <<EOF
{"metadata": {"name": "soak-$tag-$i", "uid": "soak-$tag-$i-uid", "namespace": "berth-soak"},
 "hostname": "soak-$i", "log_directory": "$work/logs/soak-$i",
 "linux": {"cgroup_parent": "$CGROUP_PARENT/podsoak-$tag-$i-uid"}}
EOF
        cat >"$work/pods/ctr.json" <<EOF
{"metadata": {"name": "c"}, "image": {"image": "$IMAGE"}, "command": ["sleep", "1000"],
 "log_path": "c.log", "linux": {}}
EOF
        if p=$(cri runp "$work/pods/pod.json" 2>>"$work/loops/cri.log") &&
            c=$(cri create "$p" "$work/pods/ctr.json" "$work/pods/pod.json" 2>>"$work/loops/cri.log"); then
            step cri cri start "$c" && step cri cri stop -t 0 "$c" && step cri cri rm "$c" || rc=1
        else
            rc=1
        fi
        if [ -n "$p" ]; then step cri cri stopp "$p" && step cri cri rmp "$p" || rc=1; fi
        rm -rf "$work/logs/soak-$i"
        iter cri $rc
        sleep "$PAUSE"
    done
}

loop_meta() {
    local left=$((end_at - $(date +%s))) line
    [ "$left" -gt 0 ] || return 0
    line=$("$BERTH_BIN/berth-bench-metadata" -a "${sock[berthd]}" -n "$NS-meta" --op create-delete \
        --concurrency 2 --rate "$META_RATE" --duration "$left" 2>>"$work/loops/meta.log") || true
    echo "$line" >>"$work/loops/meta.log"
    # one call = a create and a delete
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
         END { print v["ops"] + 0, v["errors"] + 0 }' <<<"$line" >"$work/loops/meta.count"
}

# ---- sampling
# live shims of our berthd (berth-shim, containerd-shim-runc-v2: the socket on their command
# line); one grep over every command line, which crienv_shim_pids' loop is too slow for here
shim_count() {
    local f n=0 comm
    while read -r f; do
        comm=$(cat "${f%/cmdline}/comm" 2>/dev/null) || continue
        case $comm in berth-shim | containerd-shim*) n=$((n + 1)) ;; esac
    done < <(grep -lF -- "${sock[berthd]}" /proc/[0-9]*/cmdline 2>/dev/null)
    echo "$n"
}
# sample T -> one CSV row
sample() {
    local t=$1 st fds meta snap shims it=0 l c
    st=$(awk '/^(VmRSS|RssAnon|Threads):/ { v[$1] = $2 } END { print v["VmRSS:"]+0, v["RssAnon:"]+0, v["Threads:"]+0 }' \
        "/proc/$BPID/status" 2>/dev/null) || return 1
    fds=$(find "/proc/$BPID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    meta=$(($(stat -c %s "$work/berthd/root/metadata/data.mdb" 2>/dev/null || echo 0) / 1024))
    snap=$(($(stat -c %s "$work/berthd/root/snapshots/overlayfs/metadata/data.mdb" 2>/dev/null || echo 0) / 1024))
    shims=$(shim_count)
    for l in $LOOPS; do
        [ "$l" = meta ] && continue # counted once at the end
        c=$(cut -d' ' -f1 "$work/loops/$l.count" 2>/dev/null || echo 0)
        it=$((it + c))
    done
    # shellcheck disable=SC2086 # three numbers
    set -- $st
    echo "$t,$1,$2,$fds,$3,$meta,$snap,$shims,$it"
}

# probe LABEL: the heap as malloc_stats() prints it to berthd's stderr (its log), read through
# gdb; prints "LABEL arenas system_kib in_use_kib mmap_kib"
probe() {
    local from lines
    from=$(($(wc -l <"$work/berthd.log") + 1))
    # gdb resumes every thread during the call, so an arena lock held at the stop is released
    timeout 300 gdb -p "$BPID" -batch -nx -ex 'call (void)malloc_stats()' >>"$work/gdb.out" 2>&1 || true
    sleep 0.5
    lines=$(tail -n +"$from" "$work/berthd.log")
    awk -v label="$1" '
        /^Arena [0-9]+:/ { arenas++ }
        /^Total \(incl. mmap\):/ { total = 1 }
        total && /system bytes/ { sys = $NF }
        total && /in use bytes/ { use = $NF; total = 0 }
        /^max mmap bytes/ { mm = $NF }
        END { printf "%s %d %.0f %.0f %.0f\n", label, arenas, sys / 1024, use / 1024, mm / 1024 }' <<<"$lines"
}

echo "# soak: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "# berthd: $("$BERTH_BIN/berthd" --version 2>&1 | head -1) pid $BPID; runc: $(runc --version 2>/dev/null | head -1)"
echo "# $DURATION s, warm-up $WARMUP s, a sample every $INTERVAL s; loops: $LOOPS; meta at $META_RATE calls/s; pause ${PAUSE}s"
echo "# samples: $CSV"

echo "t_s,rss_kib,anon_kib,fds,threads,meta_lmdb_kib,snap_lmdb_kib,shims,iterations" >"$CSV"
t0=$(date +%s)
for l in $LOOPS; do
    "loop_$l" </dev/null &
    loop_pids+=($!)
done
probed_warm=0
next_probe=$((t0 + WARMUP + PROBE_EVERY))
: >"$work/heap.txt"
while :; do
    now=$(date +%s)
    [ "$now" -lt "$end_at" ] || break
    crienv_alive berthd "the soak"
    sample $((now - t0)) >>"$CSV" || true
    if [ "$PROBE" = 1 ]; then
        if [ "$probed_warm" = 0 ] && [ $((now - t0)) -ge "$WARMUP" ]; then
            probe "t=$((now - t0))" >>"$work/heap.txt"
            probed_warm=1
        elif [ "$PROBE_EVERY" -gt 0 ] && [ "$now" -ge "$next_probe" ]; then
            probe "t=$((now - t0))" >>"$work/heap.txt"
            next_probe=$((now + PROBE_EVERY))
        fi
    fi
    next_sample=$((${next_sample:-$t0} + INTERVAL))
    [ "$next_sample" -le "$(date +%s)" ] || sleep $((next_sample - $(date +%s)))
done
for p in "${loop_pids[@]}"; do wait "$p" || true; done
loop_pids=()
crienv_alive berthd "the soak"
sample $(($(date +%s) - t0)) >>"$CSV" || true

# ---- after the loops and SETTLE s at rest (idle workers end after 10 s): the heap, then a trim
sleep "$SETTLE"
end_sample=$(sample 0)
if [ "$PROBE" = 1 ]; then
    probe "end" >>"$work/heap.txt"
    timeout 300 gdb -p "$BPID" -batch -nx -ex 'call (int)malloc_trim(0)' >>"$work/gdb.out" 2>&1 || true
    sleep 0.5
    probe "trimmed" >>"$work/heap.txt"
fi
trim_sample=$(sample 0)

# ---- report
echo
echo "| loop | iterations ok | failed |"
echo "|---|---:|---:|"
failed=0
for l in $LOOPS; do
    read -r ok fl <"$work/loops/$l.count" 2>/dev/null || { ok=0 fl=0; }
    echo "| $l | $ok | $fl |"
    failed=$((failed + fl))
done
echo
echo "| series (after warm-up) | first | last | min | max | slope /min | detection limit /min | verdict | slope, 2nd half /min |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---:|"
awk -F, -v warm="$WARMUP" '
NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; nf = NF; next }
$1 >= warm {
    n++
    t[n] = $1 / 60
    for (i = 2; i <= nf; i++) y[i, n] = $i
}
END {
    if (n < 4) { print "soak.sh: fewer than 4 samples after the warm-up: no slopes" > "/dev/stderr"; exit 1 }
    for (i = 2; i <= nf; i++) {
        if (name[i] == "iterations") continue
        st = 0; sy = 0
        for (k = 1; k <= n; k++) { st += t[k]; sy += y[i, k] }
        mt = st / n; my = sy / n
        sxx = 0; sxy = 0
        for (k = 1; k <= n; k++) { sxx += (t[k] - mt) ^ 2; sxy += (t[k] - mt) * (y[i, k] - my) }
        b = sxy / sxx; a = my - b * mt
        # the same fit over the second half: a leak keeps its slope, an allocator filling up
        # to its high-water mark flattens out
        h = int(n / 2) + 1; st2 = 0; sy2 = 0; sxx2 = 0; sxy2 = 0
        for (k = h; k <= n; k++) { st2 += t[k]; sy2 += y[i, k] }
        mt2 = st2 / (n - h + 1); my2 = sy2 / (n - h + 1)
        for (k = h; k <= n; k++) { sxx2 += (t[k] - mt2) ^ 2; sxy2 += (t[k] - mt2) * (y[i, k] - my2) }
        b2 = sxx2 > 0 ? sxy2 / sxx2 : 0
        # residuals, their variance and lag-1 autocorrelation
        ss = 0; c1 = 0
        for (k = 1; k <= n; k++) { r[k] = y[i, k] - (a + b * t[k]); ss += r[k] ^ 2 }
        for (k = 2; k <= n; k++) c1 += r[k] * r[k - 1]
        rho = ss > 0 ? c1 / ss : 0
        if (rho < 0) rho = 0
        if (rho > 0.9) rho = 0.9
        se = sqrt(ss / (n - 2) / sxx) * sqrt((1 + rho) / (1 - rho))
        lim = 2 * se
        integer = (name[i] == "fds" || name[i] == "threads" || name[i] == "shims")
        floor = integer ? 1 / (t[n] - t[1]) : 0
        if (lim < floor) lim = floor
        v = (b > lim) ? "GROWING" : (b < -lim ? "falling" : "flat")
        if (v == "GROWING") grow = grow " " name[i]
        mn = y[i, 1]; mx = y[i, 1]
        for (k = 1; k <= n; k++) { if (y[i, k] < mn) mn = y[i, k]; if (y[i, k] > mx) mx = y[i, k] }
        printf "| %s | %s | %s | %s | %s | %.2f | %.2f | %s | %.2f |\n", name[i], y[i, 1], y[i, n], mn, mx, b, lim, v, b2
    }
    printf "\nverdict: %s after %.0f min of warm-up, %d samples over %.1f min\n",
        grow == "" ? "FLAT: no series grows beyond its detection limit" : "GROWING:" grow,
        warm / 60, n, t[n] - t[1]
}' "$CSV"
echo
IFS=, read -r _ e_rss e_anon e_fds e_thr _ <<<"$end_sample"
IFS=, read -r _ t_rss t_anon _ <<<"$trim_sample"
echo "$SETTLE s after the loops: RSS $e_rss KiB, anon $e_anon KiB, fds $e_fds, threads $e_thr"
if [ "$PROBE" = 1 ]; then
    echo "after malloc_trim(0): RSS $t_rss KiB, anon $t_anon KiB"
    echo
    echo "| heap (malloc_stats) | arenas | system KiB | in use KiB | max mmap KiB |"
    echo "|---|---:|---:|---:|---:|"
    awk '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$work/heap.txt"
fi
if [ "$failed" -gt 0 ]; then
    echo "soak.sh: $failed loop iterations failed; see $work/loops/*.log" >&2
    KEEP=1
fi
