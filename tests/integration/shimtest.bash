# SPDX-License-Identifier: Apache-2.0
# What the bats files that drive berth-shim without berthd share (shim.bats, crilog.bats,
# attach.bats): a busybox rootfs, the bundle's config.json, ttrpc calls through
# berth-shim-call, `berth-shim start`, and a teardown that leaves no shim, container or mount.
# The caller sets NS, CID, BUNDLE, FAKE_ADDR (and STATE through berth_tmp_init).

# shim_rootfs DIR APPLET...: busybox-static with hard-linked applets (symlinks would let masked
# paths mask busybox itself), root in /etc/passwd, /tmp.
shim_rootfs() {
    local dir="$1" a
    shift
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
    cp /bin/busybox "$dir/bin/busybox"
    for a in "$@"; do ln "$dir/bin/busybox" "$dir/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/etc/passwd"
}

# spec [berth-oci-spec args...] -- ARGS: the bundle's config.json.
spec() {
    "$BERTH_BIN/berth-oci-spec" --ns "$NS" --id "$CID" "$@" >"$BUNDLE/config.json"
}

call() {
    "$BERTH_BIN/berth-shim-call" "$ADDR" "$NS" "$@"
}

# shim_start [FLAG...]: runs `berth-shim [FLAG...] start` in the bundle; asserts it prints only
# the address; sets ADDR and SHIM_PID.
shim_start() {
    local out
    out=$(cd "$BUNDLE" && "$BERTH_BIN/berth-shim" -namespace "$NS" -id "$CID" \
        -address "$FAKE_ADDR" -publish-binary /bin/true "$@" start </dev/null 2>&1)
    if ! [[ "$out" =~ ^unix://$STATE/s/[0-9a-f]{32}$ ]]; then
        echo "start printed: $out" >&2
        return 1
    fi
    ADDR="$out"
    [ "$(cat "$BUNDLE/address")" = "$ADDR" ]
    run call connect "$CID"
    status_is 0
    SHIM_PID=$(sed -n 's/^shim_pid=\([0-9]*\) .*/\1/p' <<<"$output")
    [ -n "$SHIM_PID" ]
}

# shim_delete_stop [FILE]: Delete (after which FILE, if given, must be gone) and Shutdown; the
# shim must be gone.
shim_delete_stop() {
    local i
    run call delete "$CID"
    status_is 0
    [ -z "${1:-}" ] || [ ! -e "$1" ]
    run call shutdown "$CID"
    status_is 0
    for i in $(seq 100); do
        [ -d "/proc/$SHIM_PID" ] && ! grep -q '^State:.*Z' "/proc/$SHIM_PID/status" || return 0
        sleep 0.05
    done
    echo "shim $SHIM_PID still running" >&2
    return 1
}

# shim_cleanup [RUNC_ROOT...]: kills this test's shims (their command line names a path under
# $BERTH_TMP), deletes the containers of $STATE/runc/$NS and the other roots, unmounts
# everything under $BERTH_TMP (innermost first) and removes it.
shim_cleanup() {
    local p root c mnt
    [ -n "${BERTH_TMP:-}" ] || return 0
    cd /
    for p in $(pgrep -f -- "-address $BERTH_TMP/" || true); do
        kill -KILL "$p" 2>/dev/null || true
    done
    for root in "$STATE/runc/$NS" "$@"; do
        [ -d "$root" ] || continue
        for c in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" delete -f "$c" >/dev/null 2>&1 || true
        done
    done
    for mnt in $(awk -v t="$BERTH_TMP/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
        umount -l "$mnt" 2>/dev/null || true
    done
    rm -rf "$BERTH_TMP"
}

# Waits up to 5 s for FILE to hold a line matching the grep -E pattern.
wait_log() {
    local i
    for i in $(seq 100); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "no line matching '$2' in $1:" >&2
    cat "$1" >&2 || true
    return 1
}
