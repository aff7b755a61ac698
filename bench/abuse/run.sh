#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# Abuse benchmark: what hostile HTTP/2 clients (tests/tools/berth-h2abuse) cost berthd and
# Debian's containerd, side by side in one run, plus the pre-hardening berthd when
# OLD_BERTH_BIN is set ("before" figures). Every scenario runs on a freshly started daemon
# (private root, state and socket under one temp dir; killed and its dirs removed after), one
# daemon at a time, and prints one markdown table with a column per daemon:
#   idle       RSS, threads and descriptors right after start-up (before anything)
#   pings      16 connections x 20,000 PINGs read back, then 4 x 200,000 never read
#   streams    one connection, 10,000 idle Content/Write streams, SETTINGS never acknowledged
#   streams9   9 connections x 200 such streams: is a new streaming call refused?
#   nofile     daemon under `prlimit --nofile=64:64`, 80 connections: does it accept again?
#   silent     1,000 connections that send nothing for 15 s: how many are still open at 12 s
# Memory and threads: /proc/<pid>/status (RssAnon, VmRSS, Threads) and the /proc/<pid>/fd
# count, sampled every 50 ms in the background (a peak is the largest sample from the flood's
# start to the last reading after it); VmHWM is also reset (`echo 5 > clear_refs`) before each
# flood and read at that last reading, which catches VmRSS spikes shorter than the sampling
# interval. "ctr events works" means the stream delivered the event of a namespace created
# meanwhile. Unix sockets only; nothing on the network. Needs root (containerd). ~4 minutes.
#
# Env: BERTH_BIN (dir with berthd and berth-h2abuse; default <repo>/build/bin), OLD_BERTH_BIN
#      (dir with an older berthd, optional), CONTAINERD (default /usr/bin/containerd),
#      CTR (default ctr), TMPBASE (default /var/tmp), SCENARIOS (default "pings streams
#      streams9 nofile silent"; idle figures come with the first scenario), KEEP=1 keeps the
#      logs and samples (they are kept after a failure too, not after an interrupt).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a dot

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/../lib.sh" # stop_daemon
repo=$(cd "$here/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$repo/build/bin}
OLD_BERTH_BIN=${OLD_BERTH_BIN:-}
CONTAINERD=${CONTAINERD:-/usr/bin/containerd}
CTR=${CTR:-ctr}
TMPBASE=${TMPBASE:-/var/tmp}
SCENARIOS=${SCENARIOS:-"pings streams streams9 nofile silent"}
H2=$BERTH_BIN/berth-h2abuse
unset CONTAINERD_ADDRESS CONTAINERD_NAMESPACE

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (containerd, other users' /proc)" >&2; exit 1; }
for f in "$BERTH_BIN/berthd" "$H2" "$CONTAINERD" ${OLD_BERTH_BIN:+"$OLD_BERTH_BIN/berthd"}; do
    [ -x "$f" ] || { echo "run.sh: $f not found or not executable" >&2; exit 1; }
done
command -v "$CTR" >/dev/null || { echo "run.sh: $CTR not found" >&2; exit 1; }
command -v prlimit >/dev/null || { echo "run.sh: prlimit (util-linux) not found" >&2; exit 1; }

# Descriptors inherited from whatever started us would be inherited by the daemons and counted
# as theirs (and take a slot under --nofile=64): close all but stdio and bash's script fd.
for fd in "/proc/$$/fd/"*; do
    fd=${fd##*/}
    case $fd in
    0 | 1 | 2 | 255) ;;
    *) eval "exec $fd>&-" ;;
    esac
done

daemons=(berthd)
[ -n "$OLD_BERTH_BIN" ] && daemons+=(berthd-old)
daemons+=(containerd)
declare -A title=([berthd]=berthd [berthd-old]="berthd before" [containerd]=containerd)

work=$(mktemp -d "$TMPBASE/berth-bench-abuse.XXXXXX")
mkdir -p "$work/logs"
dpid='' dname='' ddir='' dsock='' dlog='' sampler_pid='' samples=''
ev_pid='' ev_secs='' ev_ns='' ev='' nap_pid=''
clients=() # background pids of this script: flood clients, ctr checks
nstart=0

stop_clients() {
    local p
    for p in "${clients[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${clients[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    clients=()
}

# nap SECS: sleep in the background and wait for it, so that a SIGTERM or SIGINT reaches the
# trap at once instead of after the sleep (bash runs traps between foreground commands).
nap() {
    sleep "$1" &
    nap_pid=$!
    wait "$nap_pid"
    nap_pid=''
}

stop_sampler() {
    [ -n "$sampler_pid" ] || return 0
    kill -TERM "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=''
}

# Stops the current daemon (bench/lib.sh) and removes its dirs (its log is elsewhere).
stop_current() {
    stop_daemon "$dpid" "$dname"
    dpid=''
    rm -rf "$ddir"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$nap_pid" ] || kill -TERM "$nap_pid" 2>/dev/null || true
    stop_clients
    stop_sampler
    stop_current
    # A failure keeps the logs and samples for a look (the daemons' dirs are gone already);
    # an interrupt keeps nothing.
    if [ "${KEEP:-0}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 130 ]; }; then
        echo "run.sh: logs and samples kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_daemon NAME SCENARIO [WRAPPER...]: a fresh daemon on new dirs; sets dpid dsock dlog.
start_daemon() {
    local name=$1 scen=$2 bin
    shift 2
    nstart=$((nstart + 1))
    dname=$name ddir=$work/$name.$nstart dlog=$work/logs/$name.$scen.log
    dsock=$ddir/d.sock
    mkdir -p "$ddir"
    case $name in
    berthd | berthd-old)
        bin=$BERTH_BIN/berthd
        [ "$name" = berthd ] || bin=$OLD_BERTH_BIN/berthd
        # an explicit file, so no /etc/berth/config.toml of the machine leaks in; defaults
        echo "version = 1" >"$ddir/config.toml"
        "$@" "$bin" --root "$ddir/root" --state "$ddir/state" --address "$dsock" \
            --config "$ddir/config.toml" >"$dlog" 2>&1 </dev/null &
        ;;
    containerd)
        # Minimal containerd: no CRI (it wants CNI and network); opt plugin kept inside $ddir.
        cat >"$ddir/config.toml" <<EOF
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[plugins."io.containerd.internal.v1.opt"]
  path = "$ddir/opt"
EOF
        "$@" "$CONTAINERD" --root "$ddir/root" --state "$ddir/state" --address "$dsock" \
            --config "$ddir/config.toml" >"$dlog" 2>&1 </dev/null &
        ;;
    esac
    dpid=$! # prlimit execs the daemon, so this is the daemon either way
    for _ in $(seq 200); do
        if ! kill -0 "$dpid" 2>/dev/null; then
            echo "run.sh: $name exited during startup; log:" >&2
            cat "$dlog" >&2
            exit 1
        fi
        if [ -S "$dsock" ] && "$CTR" --address "$dsock" --timeout 1s version >/dev/null 2>&1; then
            nap 1 # let start-up work (plugin loading, first housekeeping) settle
            return 0
        fi
        sleep 0.1
    done
    echo "run.sh: $name not ready after 20 s" >&2
    exit 1
}

# proc_kb FIELD: a /proc/<daemon>/status value (kB for memory fields).
proc_kb() {
    awk -v k="$1:" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$dpid/status" 2>/dev/null || echo 0
}
nfds() { find "/proc/$dpid/fd" -mindepth 1 2>/dev/null | wc -l; }
nsockets() { find "/proc/$dpid/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
reset_hwm() { echo 5 >"/proc/$dpid/clear_refs"; }

# Background sampler: "time RssAnon VmRSS Threads fds" every 50 ms (builtins only, so the
# sampling itself stays cheap; sleep is the one child).
sampler_start() {
    samples=$work/samples.$1.$dname
    (
        shopt -s nullglob
        pid=$dpid
        while :; do
            anon=0 rss=0 thr=0
            {
                while read -r k v _; do
                    case $k in
                    RssAnon:) anon=$v ;;
                    VmRSS:) rss=$v ;;
                    Threads:) thr=$v ;;
                    esac
                done <"/proc/$pid/status"
            } 2>/dev/null || exit 0
            fds=("/proc/$pid/fd/"*)
            echo "$EPOCHREALTIME $anon $rss $thr ${#fds[@]}"
            sleep 0.05
        done
    ) >"$samples" &
    sampler_pid=$!
}

# peak COLUMN T0 T1 [FLOOR]: largest sample of column (2 RssAnon, 3 VmRSS, 4 Threads, 5 fds)
# taken between T0 and T1, at least FLOOR (a value read directly at the window's edges).
peak() {
    awk -v c="$1" -v a="$2" -v b="$3" -v m="${4:-0}" \
        '$1 >= a && $1 <= b && $c + 0 > m { m = $c + 0 } END { print m }' "$samples"
}

# Results: res[scenario|metric|daemon]; metric order per scenario in order[scenario].
declare -A res order
put() { # scenario metric value (for the current daemon)
    local key="$1|$2"
    case $'\n'"${order[$1]:-}" in
    *$'\n'"$2"$'\n'*) ;;
    *) order[$1]+="$2"$'\n' ;;
    esac
    res["$key|$dname"]=$3
}

print_table() { # scenario heading
    local d line metric
    echo
    echo "### $2"
    echo
    line="| |"
    for d in "${daemons[@]}"; do line+=" ${title[$d]} |"; done
    echo "$line"
    line="|---|"
    for _ in "${daemons[@]}"; do line+="---:|"; done
    echo "$line"
    while IFS= read -r metric; do
        [ -n "$metric" ] || continue
        line="| $metric |"
        for d in "${daemons[@]}"; do line+=" ${res[$1|$metric|$d]:--} |"; done
        echo "$line"
    done <<<"${order[$1]:-}"
}

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# check_version SECS: does `ctr version` get an answer within SECS?
check_version() {
    local t0=$EPOCHREALTIME rc=0 out
    out=$(timeout "$1" "$CTR" --address "$dsock" version 2>&1) || rc=$?
    case $rc in
    0) echo "yes ($(ms_since "$t0") ms)" ;;
    124) echo "no (no answer in $1 s)" ;;
    *) echo "no ($(tail -1 <<<"$out" | cut -c1-80))" ;;
    esac
}

# events_start SECS / events_result: a new streaming call (`ctr events`, ended by timeout after
# SECS) and, a second after it started, a namespace created through the same daemon. Works =
# the stream delivered that /namespaces/create event (a ctr still dialling would also be
# running at the timeout, so running alone proves nothing).
events_start() {
    timeout "$1" "$CTR" --address "$dsock" events >"$work/events.out" 2>&1 &
    ev_pid=$!
    clients+=("$ev_pid")
    ev_secs=$1
    nap 1
    ev_ns=ok
    timeout 3 "$CTR" --address "$dsock" namespaces create "abuse-probe-$nstart" >/dev/null 2>&1 ||
        ev_ns=failed
}
events_result() { # sets ev (not in a subshell: it waits for ctr)
    local rc=0
    wait "$ev_pid" || rc=$?
    if grep -q ResourceExhausted "$work/events.out"; then
        ev="RESOURCE_EXHAUSTED (\"$(sed -n 's/.*desc = //p' "$work/events.out" | head -1)\")"
    elif grep -q /namespaces/create "$work/events.out"; then
        ev="works (event delivered)"
    elif [ $rc -eq 124 ]; then
        ev="no event in ${ev_secs} s (namespace create: $ev_ns)"
    else
        ev="fails ($(tail -1 "$work/events.out" | cut -c1-80))"
    fi
}

alive() {
    kill -0 "$dpid" 2>/dev/null && return 0
    echo "run.sh: $dname died during $1; log tail:" >&2
    tail -20 "$dlog" >&2
    return 1
}

# h2 ARGS...: berth-h2abuse against the current daemon, bounded in time. Clients that run in
# the background are started without this function, so that $! is timeout itself, which
# passes a SIGTERM from stop_clients on to the client.
h2() { timeout 90 "$H2" -a "$dsock" "$@"; }

sum_field() { # field files...: sums field=<n> over the clients' outputs
    local f=$1
    shift
    cat "$@" 2>/dev/null | tr ' ' '\n' | awk -F= -v f="$f" '$1 == f { s += $2 } END { print s + 0 }'
}

scen_idle() {
    put idle "VmRSS MiB" "$(mib "$(proc_kb VmRSS)")"
    put idle "RssAnon MiB" "$(mib "$(proc_kb RssAnon)")"
    put idle "threads" "$(proc_kb Threads)"
    put idle "open fds" "$(nfds)"
}

# pings_phase TAG LABEL CONNS PINGS [--no-read]: CONNS clients at once, PINGS each. Peaks run
# from the flood's start to the last reading, 5 s after the clients closed.
pings_phase() {
    local tag=$1 label=$2 conns=$3 n=$4 t0 before after later i
    shift 4
    before=$(proc_kb RssAnon)
    reset_hwm
    t0=$EPOCHREALTIME
    clients=()
    for i in $(seq "$conns"); do
        timeout 90 "$H2" -a "$dsock" pings -n "$n" "$@" >"$work/ping.$dname.$tag.$i" 2>&1 &
        clients+=($!)
    done
    for i in "${clients[@]}"; do wait "$i" || true; done
    clients=()
    after=$(proc_kb RssAnon)
    alive "pings $label"
    nap 5
    later=$(proc_kb RssAnon)
    put pings "$label: RssAnon MiB before" "$(mib "$before")"
    put pings "$label: RssAnon MiB peak (50 ms samples)" "$(mib "$(peak 2 "$t0" "$EPOCHREALTIME" "$later")")"
    put pings "$label: VmRSS MiB peak (VmHWM)" "$(mib "$(proc_kb VmHWM)")"
    put pings "$label: RssAnon MiB right after the clients closed" "$(mib "$after")"
    put pings "$label: RssAnon MiB 5 s later" "$(mib "$later")"
    put pings "$label: PINGs sent / acks read" \
        "$(sum_field sent "$work/ping.$dname.$tag".*) / $(sum_field acks "$work/ping.$dname.$tag".*)"
}

scen_pings() {
    sampler_start pings
    pings_phase read "16 x 20,000 read" 16 20000
    pings_phase unread "4 x 200,000 unread" 4 200000 --no-read
    stop_sampler
    put pings "ctr version after" "$(check_version 5)"
}

# streams_common SCEN CONNS STREAMS: CONNS clients each opening STREAMS idle Content/Write
# streams without acknowledging SETTINGS, held 10 s; ctr checks 3 s in. Peaks run from the
# flood's start to the last reading, 3 s after the clients closed.
streams_common() {
    local scen=$1 conns=$2 n=$3 t0 t1 thr0 i v
    thr0=$(proc_kb Threads)
    sampler_start "$scen"
    reset_hwm
    t0=$EPOCHREALTIME
    clients=()
    for i in $(seq "$conns"); do
        timeout 90 "$H2" -a "$dsock" streams -n "$n" --no-settings-ack --hold 10 >"$work/streams.$dname.$scen.$i" 2>&1 &
        clients+=($!)
    done
    nap 3
    events_start 4
    v=$(check_version 5)
    events_result
    for i in "${clients[@]}"; do wait "$i" || true; done
    clients=()
    alive "$scen"
    nap 3
    stop_sampler
    t1=$EPOCHREALTIME
    put "$scen" "threads before" "$thr0"
    put "$scen" "threads peak" "$(peak 4 "$t0" "$t1")"
    put "$scen" "RssAnon MiB peak (50 ms samples)" "$(mib "$(peak 2 "$t0" "$t1")")"
    put "$scen" "VmRSS MiB peak (VmHWM)" "$(mib "$(proc_kb VmHWM)")"
    put "$scen" "ctr version during" "$v"
    put "$scen" "ctr events during" "$ev"
    put "$scen" "threads 3 s after" "$(proc_kb Threads)"
    put "$scen" "RssAnon MiB 3 s after" "$(mib "$(proc_kb RssAnon)")"
    put "$scen" "flood streams opened / answered with a status" \
        "$(sum_field opened "$work/streams.$dname.$scen".*) / $(sum_field ended "$work/streams.$dname.$scen".*)"
    put "$scen" "flood connections closed by the daemon" \
        "$(sum_field closed "$work/streams.$dname.$scen".*) of $conns"
}

scen_streams() { streams_common streams 1 10000; }
scen_streams9() { streams_common streams9 9 200; }

scen_nofile() {
    local out t0 t1 v
    put nofile "open-file limit" "$(awk '/^Max open files/ { print $4 ":" $5 }' "/proc/$dpid/limits")"
    put nofile "open fds before" "$(nfds)"
    sampler_start nofile
    t0=$EPOCHREALTIME
    out=$(h2 conns -c 80 --hold 2 2>&1) || true
    t1=$EPOCHREALTIME
    alive nofile
    v=$(check_version 5)
    stop_sampler
    put nofile "open fds peak" "$(peak 5 "$t0" "$t1")"
    put nofile "80 connections: opened / closed by the daemon" \
        "$(sum_field opened <(echo "$out")) / $(sum_field closed <(echo "$out"))"
    put nofile "ctr version right after they closed" "$v"
    if [ "${v%% *}" = no ]; then
        nap 5
        put nofile "ctr version 5 s later" "$(check_version 5)"
    else
        put nofile "ctr version 5 s later" "(not needed)"
    fi
    put nofile "log lines naming EMFILE" \
        "$(grep -ciE 'too many open files|EMFILE' "$dlog" || true)"
}

scen_silent() {
    local s0 f0 t0 t1 cpid s12 f12
    s0=$(nsockets)
    f0=$(nfds)
    sampler_start silent
    t0=$EPOCHREALTIME
    timeout 90 "$H2" -a "$dsock" conns -c 1000 --hold 15 >"$work/silent.$dname" 2>&1 &
    cpid=$!
    clients=("$cpid")
    nap 12
    s12=$(nsockets)
    f12=$(nfds)
    wait "$cpid" || true
    clients=()
    t1=$EPOCHREALTIME
    alive silent
    stop_sampler
    put silent "open fds before" "$f0"
    put silent "open fds peak" "$(peak 5 "$t0" "$t1")"
    put silent "open fds at 12 s" "$f12"
    put silent "connections still open at 12 s (sockets - sockets before)" "$((s12 - s0))"
    put silent "closed by the daemon within 15 s (client's view)" \
        "$(sum_field closed "$work/silent.$dname") of $(sum_field opened "$work/silent.$dname")"
    put silent "RssAnon MiB peak (50 ms samples)" "$(mib "$(peak 2 "$t0" "$t1")")"
    put silent "ctr version after" "$(check_version 5)"
}

echo "# bench/abuse: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# berthd: $BERTH_BIN/berthd ($("$BERTH_BIN/berthd" --version 2>&1 | head -1))"
[ -z "$OLD_BERTH_BIN" ] || echo "# berthd before: $OLD_BERTH_BIN/berthd ($("$OLD_BERTH_BIN/berthd" --version 2>&1 | head -1))"
echo "# containerd: $("$CONTAINERD" --version 2>&1 | head -1)"
echo "# memory and threads: /proc/<pid>/status sampled every 50 ms; VmHWM reset (clear_refs 5) before each flood"

for scen in $SCENARIOS; do
    case $scen in
    pings | streams | streams9 | nofile | silent) ;;
    *) echo "run.sh: unknown scenario $scen" >&2; exit 2 ;;
    esac
done
started=$SECONDS
first=1
for scen in $SCENARIOS; do
    for d in "${daemons[@]}"; do
        echo "run.sh: $scen: $d" >&2
        if [ "$scen" = nofile ]; then
            start_daemon "$d" "$scen" prlimit --nofile=64:64
        else
            start_daemon "$d" "$scen"
        fi
        [ "$first" = 0 ] || scen_idle
        "scen_$scen"
        stop_current
    done
    [ "$first" = 0 ] || print_table idle "5. Idle, right after start-up"
    first=0
    case $scen in
    pings) print_table pings "1. PING flood" ;;
    streams) print_table streams "2. Stream flood: one connection, 10,000 idle Content/Write streams, SETTINGS never acknowledged, held 10 s" ;;
    streams9) print_table streams9 "3. Stream flood: 9 connections x 200 streams, SETTINGS never acknowledged, held 10 s" ;;
    nofile) print_table nofile "4a. Connection exhaustion: daemon under prlimit --nofile=64:64, 80 connections held 2 s" ;;
    silent) print_table silent "4b. 1,000 connections that send nothing for 15 s (normal open-file limit)" ;;
    esac
done
echo
echo "# whole run: $((SECONDS - started)) s"
