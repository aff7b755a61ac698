#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Debian's dockerd (docker.io 20.10) on berthd (issue 13): dockerd runs on private dirs and its own
# socket with --containerd pointing at a test berthd; its image comes from `docker load` of the
# busybox `docker save` archive of tests/data/mkimages.sh (dockerd keeps images in its own
# graphdriver). run, -d, logs, exec, top, pause, stats, update, kill, stop, rm, events, then the
# containers surviving a kill -9 of berthd: dockerd must resubscribe to events (it waits on
# grpc.health.v1.Health) or every exit after the restart is lost, and berthd must not flood its log.
# berthd and dockerd start once for the file; the tests run in order and the last two use the
# restart done by the one before them.

load helpers

IMG=berth/busybox:latest
# /usr/local/bin may hold a newer docker CLI that shadows Debian's: always name Debian's.
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
NS=berth-docker

setup_file() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    if [ ! -x "$DOCKERD" ] || [ ! -x "$DOCKER" ]; then
        skip "needs Debian's docker.io"
    fi
    command -v runc >/dev/null || skip "needs runc"
    command -v containerd-shim-runc-v2 >/dev/null || skip "needs containerd-shim-runc-v2"
    berth_tmp_init
    # in a subshell, so that the kill -9 later is no job of this shell's to report
    (
        start_berthd
        echo "$BERTHD_PID" >"$BERTH_TMP/berthd.pid"
    )
    DK="$BERTH_TMP/dk"
    DOCKER_SOCK="$DK/docker.sock"
    DLOG="$BERTH_TMP/dockerd.log"
    # a cgroup parent of our own, so the containers' cgroups never mix with a host docker's
    CGPARENT="berth-it-docker-${BERTH_TMP##*.}"
    export DK DOCKER_SOCK DLOG CGPARENT
    # the CLI reads no config of the host's
    export DOCKER_CONFIG="$DK/cli"
    mkdir -p "$DK/cli"
    # dockerd 20.10 writes its trust key to /etc/docker unless told otherwise (no flag for it)
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$DK" >"$DK/daemon.json"
    # and makes /run/docker/plugins whatever its flags say: removed again if it was not there
    [ -e /run/docker ] || touch "$DK/made-run-docker"
    # -D: "processing event stream" marks each (re)subscription to berthd's events
    "$DOCKERD" -D --config-file "$DK/daemon.json" --containerd "$SOCK" \
        --containerd-namespace "$NS" --containerd-plugins-namespace "$NS-plugins" \
        --data-root "$DK/data" --exec-root "$DK/exec" --pidfile "$DK/docker.pid" \
        -H "unix://$DOCKER_SOCK" --bridge none --iptables=false --ip6tables=false \
        --ip-masq=false --userland-proxy=false --storage-driver overlay2 \
        --cgroup-parent "/$CGPARENT" >"$DLOG" 2>&1 3>&- &
    echo $! >"$DK/dockerd.pid"
    for _ in $(seq 300); do
        dk version >/dev/null 2>&1 && break
        sleep 0.1
    done
    dk version >/dev/null || {
        echo "dockerd did not answer; log:" >&2
        cat "$DLOG" >&2
        return 1
    }
    DATA="$BERTH_TMP/data"
    bash "$BATS_TEST_DIRNAME/../data/mkimages.sh" "$DATA" >/dev/null
    dk load -i "$DATA/docker/busybox.tar" >/dev/null
}

teardown_file() {
    local pid ok=0
    [ -n "${BERTH_TMP:-}" ] || return 0
    if [ -n "${DOCKER_SOCK:-}" ] && [ -S "$DOCKER_SOCK" ]; then
        # shellcheck disable=SC2046
        dk rm -f $(dk ps -aq) >/dev/null 2>&1 || true
    fi
    pid=$(cat "$DK/dockerd.pid" 2>/dev/null || true)
    [ -n "$pid" ] && stop_pid "$pid" dockerd
    pid=$(cat "$BERTH_TMP/berthd.pid" 2>/dev/null || true)
    [ -n "$pid" ] && stop_pid "$pid" berthd
    # what dockerd would have unmounted had it stopped cleanly
    grep -o " $BERTH_TMP/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
    find /sys/fs/cgroup -maxdepth 2 -type d -name "$CGPARENT" 2>/dev/null |
        while read -r d; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done || true
    if [ -e "$DK/made-run-docker" ]; then
        rmdir /run/docker/plugins /run/docker 2>/dev/null || true
    fi
    # as stop_berthd checks: a berthd that stopped cleanly took its socket with it
    if [ -e "$SOCK" ]; then
        echo "berthd left its socket $SOCK behind; log:" >&2
        cat "$LOG" >&2
        ok=1
    fi
    rm -rf "$BERTH_TMP"
    return "$ok"
}

teardown() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
        echo "---- berthd log (tail) ----" >&2
        tail -n 40 "$LOG" >&2
        echo "---- dockerd log (tail) ----" >&2
        grep -v 'module=grpc' "$DLOG" | tail -n 40 >&2
    fi
}

# Debian's docker CLI on the test dockerd; a call that hangs (a lost exit) fails after 20 s.
dk() {
    timeout "${DK_TIMEOUT:-20}" "$DOCKER" -H "unix://$DOCKER_SOCK" "$@"
}

# stop_pid PID NAME: SIGTERM, then SIGKILL after 20 s (the process is not this shell's child).
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$2 (pid $1) ignored SIGTERM for 20 s; killing it" >&2
    kill -KILL "$1" 2>/dev/null || true
}

subscriptions() {
    grep -c 'msg="processing event stream"' "$DLOG" || true
}

@test "docker run: output, exit code 3 propagated, --rm" {
    run dk run --rm --name fg "$IMG" sh -c 'echo hello from berth; exit 3'
    status_is 3
    [ "$output" = "hello from berth" ]
    run dk run --rm "$IMG" true
    status_is 0
    run dk ps -aq --filter name=fg
    [ -z "$output" ]
}

@test "docker run -d, logs, exec (output and exit code), top" {
    dk run -d --name d1 "$IMG" sh -c 'echo started; exec sleep 1000'
    for _ in $(seq 50); do
        [ "$(dk logs d1 2>&1)" = started ] && break
        sleep 0.1
    done
    run dk logs d1
    [ "$output" = started ]
    run dk exec d1 echo hi
    status_is 0
    [ "$output" = hi ]
    run dk exec d1 sh -c 'exit 5'
    status_is 5
    run dk top d1
    status_is 0
    output_has "sleep 1000"
}

@test "docker pause/unpause, stats --no-stream, update --memory" {
    dk pause d1
    run dk inspect -f '{{.State.Status}}' d1
    [ "$output" = paused ]
    dk unpause d1
    run dk inspect -f '{{.State.Status}}' d1
    [ "$output" = running ]
    run dk stats --no-stream --format '{{.Name}} {{.PIDs}}' d1
    status_is 0
    [ "$output" = "d1 1" ]
    # dockerd itself refuses --memory alone on a container created without limits (its swap
    # limit is 0), so give both; the new limit must reach the container's cgroup
    dk update --memory 64m --memory-swap 128m d1
    run dk exec d1 sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||
        cat /sys/fs/cgroup/memory.max'
    [ "$output" = 67108864 ]
}

@test "docker kill, stop, rm" {
    dk kill d1
    run dk wait d1
    [ "$output" = 137 ]
    dk rm d1
    dk run -d --name d2 "$IMG" sleep 1000
    start=$SECONDS
    dk stop -t 1 d2
    [ $((SECONDS - start)) -lt 10 ]
    run dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' d2
    [ "$output" = "exited 137" ]
    dk rm d2
    run dk ps -aq
    [ -z "$output" ]
}

@test "docker events: start, exec_die with its exit code, die with the container's" {
    since=$(date +%s)
    dk run -d --name ev "$IMG" sleep 1000
    run dk exec ev sh -c 'exit 6'
    status_is 6
    dk kill ev
    dk wait ev
    # --until a second ahead: every event above is in, and the call returns by itself
    run dk events --since "$since" --until "$(($(date +%s) + 1))" --filter container=ev \
        --format '{{.Action}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}'
    status_is 0
    line_present "start"
    line_present "exec_die 6"
    line_present "die 137"
    dk rm ev
}

@test "kill -9 of berthd: dockerd resubscribes; execs old and new, stop, rm and new containers still see their exits" {
    dk run -d --name surv "$IMG" sleep 1000
    # an exec started before the kill that exits after the restart, once told to
    (
        rc=0
        dk exec surv sh -c 'while [ ! -e /go ]; do sleep 0.1; done; echo went; exit 5' \
            >"$BERTH_TMP/exec.out" 2>&1 || rc=$?
        echo "$rc" >"$BERTH_TMP/exec.rc"
    ) 3>&- &
    bg=$!
    for _ in $(seq 50); do
        dk top surv | grep -q "while" && break
        sleep 0.1
    done
    subs=$(subscriptions)
    pid=$(cat "$BERTH_TMP/berthd.pid")
    kill -KILL "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    wc -l <"$LOG" >"$BERTH_TMP/restart.mark"
    date +%s >"$BERTH_TMP/restart.time"
    start_berthd
    echo "$BERTHD_PID" >"$BERTH_TMP/berthd.pid"
    # both namespaces (containers and plugins) subscribe again once Health/Check says SERVING
    for _ in $(seq 100); do
        [ "$(subscriptions)" -ge $((subs + 2)) ] && break
        sleep 0.1
    done
    if [ "$(subscriptions)" -lt $((subs + 2)) ]; then
        echo "dockerd did not subscribe to berthd's events again within 10 s" >&2
        return 1
    fi
    dk exec surv touch /go
    wait "$bg"
    [ "$(cat "$BERTH_TMP/exec.out")" = went ]
    [ "$(cat "$BERTH_TMP/exec.rc")" = 5 ]
    run dk exec surv sh -c 'exit 4'
    status_is 4
    run dk exec surv echo hi
    status_is 0
    [ "$output" = hi ]
    dk stop -t 1 surv
    run dk inspect -f '{{.State.Status}}' surv
    [ "$output" = exited ]
    dk rm surv
    dk run -d --name after "$IMG" sh -c 'sleep 0.2; exit 7'
    run dk wait after
    [ "$output" = 7 ]
    dk rm after
}

@test "after the restart berthd's log stays small and refuses none of dockerd's calls" {
    [ -f "$BERTH_TMP/restart.mark" ] || skip "needs the restart test before it"
    # ~5 s of dockerd on the restarted berthd (the restart test used part of them)
    elapsed=$(($(date +%s) - $(cat "$BERTH_TMP/restart.time")))
    [ "$elapsed" -ge 5 ] || sleep $((5 - elapsed))
    tail -n +$(($(cat "$BERTH_TMP/restart.mark") + 1)) "$LOG" >"$BERTH_TMP/after.log"
    n=$(wc -l <"$BERTH_TMP/after.log")
    echo "$n lines after the restart"
    if [ "$n" -ge 20 ]; then
        echo "berthd logged $n lines after the restart:" >&2
        cat "$BERTH_TMP/after.log" >&2
        return 1
    fi
    # berthd rate-limits repeated failed calls to one line per interval, so a client polling a
    # method berthd lacks (dockerd's Health/Check every 100 ms) shows as one line, not many
    if grep -F NOT_IMPLEMENTED "$BERTH_TMP/after.log" >&2; then
        echo "berthd refused calls of dockerd's" >&2
        return 1
    fi
    # no message (timestamp cut off) more than 3 times
    worst=$(cut -d' ' -f2- "$BERTH_TMP/after.log" | sort | uniq -c | sort -rn | head -n1)
    echo "most repeated: $worst"
    [ -z "$worst" ] || [ "$(awk '{print $1}' <<<"$worst")" -le 3 ]
}
