#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# `berthctl images pull` (issue 10): berthd's own registry puller against real registries on
# 127.0.0.1 (Debian's docker-registry: plain HTTP, TLS with a self-signed CA, htpasswd Basic,
# Bearer through the silly provider and tests/tools/token-server.py) and a misbehaving one
# (tests/tools/bad-registry.py). The registries start once per file; each test gets its own
# berthd whose [registry] config_path is a hosts.toml directory the test writes.

load helpers
load registry

bats_require_minimum_version 1.5.0

setup_file() {
    if ! "$BERTH_BIN/berthctl" help images | grep -q '^  pull'; then
        echo "berthctl has no \"images pull\" (issue 10's puller is not in this build)" >&2
        return 1
    fi
    reg_mkimages "$BATS_FILE_TMPDIR/img"
    reg_start plain plain
    reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
    reg_push plain "$BATS_FILE_TMPDIR/img/multiarch" test/multiarch:latest --multi-arch all
    reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox-v2s2:latest --format v2s2
    reg_push plain "$BATS_FILE_TMPDIR/img/big" test/big:latest
    reg_push plain "$BATS_FILE_TMPDIR/img/hostile" test/hostile:latest
    reg_start tls tls
    reg_push tls "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
    reg_start basic basic
    reg_push basic "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
    reg_start bearer bearer
    reg_push bearer "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
}

teardown_file() {
    reg_stop_all
}

setup() {
    berth_tmp_init
    IMG="$BATS_FILE_TMPDIR/img"
    HOSTS="$BERTH_TMP/hosts"
    mkdir -p "$HOSTS"
    H=$(reg_host plain)
    EVENT_RE='^(index|manifest|config|layer) sha256:[0-9a-f]{64} (waiting|downloading|exists|done|unpacking|unpacked) [0-9]+/[0-9]+$'
    for r in plain tls basic bearer; do reg_mark "$r"; done
    : >"$(reg_dir bearer)/token.log"
}

teardown() {
    reg_stop bad
    tasks_teardown
}

# pull_start [PROGRESS-TIMEOUT]: berthd with [registry] config_path = $HOSTS
pull_start() {
    pull_config "$BERTH_TMP/berthd.toml" "$HOSTS" "${1:-5m}"
    start_berthd --config "$BERTH_TMP/berthd.toml"
}

# bctl_t SECONDS ARGS...: berthctl that may not take longer (error paths: a puller that hangs
# fails the test instead of the whole file)
bctl_t() {
    timeout "$1" "$BERTH_BIN/berthctl" -a "$SOCK" "${@:2}"
}

# plain_hosts: hosts.toml saying http:// for the plain registry
plain_hosts() {
    hosts_toml "$HOSTS" "$H" "http://$H"
}

# secret_absent: the registry password is in neither berthd's log nor $output/$stderr
secret_absent() {
    if grep -qF -- "$REG_PASS" "$LOG"; then
        echo "the password reached berthd's log" >&2
        return 1
    fi
    output_lacks "$REG_PASS"
    if grep -qF -- "$REG_PASS" <<<"${stderr:-}"; then
        echo "the password reached the error: $stderr" >&2
        return 1
    fi
}

# stderr_has TEXT (fixed string, case-insensitive)
stderr_has() {
    if ! grep -qiF -- "$1" <<<"$stderr"; then
        echo "expected stderr to contain: $1" >&2
        echo "stderr was: $stderr" >&2
        return 1
    fi
}

# stderr_matches ERE (case-insensitive)
stderr_matches() {
    if ! grep -qiE -- "$1" <<<"$stderr"; then
        echo "expected stderr to match: $1" >&2
        echo "stderr was: $stderr" >&2
        return 1
    fi
}

# image_absent NAME: neither berthctl nor ctr lists it
image_absent() {
    run bctl images ls -q
    line_absent "$1"
    run ctrb images ls -q
    line_absent "$1"
}

# ---------------------------------------------------------------- plain HTTP, output, records

@test "pull over http:// from hosts.toml: event lines, records, labels, chain-ID snapshots, no lease" {
    plain_hosts
    pull_start
    local dg
    dg=$(reg_digest "http://$H" test/busybox latest)
    run bctl images pull "$H/test/busybox:latest"
    status_is 0
    # every line but the last is an event; the last names the image and its target
    [ "$(tail -n1 <<<"$output")" = "image $H/test/busybox:latest $dg" ]
    while read -r l; do
        [[ $l =~ $EVENT_RE ]] || { echo "bad event line: $l" >&2; return 1; }
    done < <(sed '$d' <<<"$output")
    output_has "manifest $dg "
    for d in $(expected_labels "http://$H" test/busybox latest | awk '/uncompressed=/ {print $1}'); do
        grep -qE "^layer $d (done|unpacked) " <<<"$output"
    done
    assert_pulled_like_containerd test/busybox latest 3
}

@test "a reference without a tag is normalized to :latest" {
    plain_hosts
    pull_start
    run bctl images pull "$H/test/busybox"
    status_is 0
    [[ "$(tail -n1 <<<"$output")" == "image $H/test/busybox:latest sha256:"* ]]
    run bctl images ls -q
    line_present "$H/test/busybox:latest"
}

@test "--format json: one JSON event per line, then the image and its target" {
    plain_hosts
    pull_start
    local dg
    dg=$(reg_digest "http://$H" test/busybox latest)
    run bctl --format json images pull "$H/test/busybox:latest"
    status_is 0
    printf '%s\n' "$output" >"$BERTH_TMP/pull.json"
    python3 - "$H/test/busybox:latest" "$dg" "$BERTH_TMP/pull.json" <<'EOF'
import json, sys
lines = open(sys.argv[3]).read().splitlines()
objs = [json.loads(l) for l in lines]
for o in objs[:-1]:
    assert set(o) == {"kind", "digest", "state", "offset", "total"}, o
    assert o["kind"] in ("index", "manifest", "config", "layer"), o
    assert o["state"] in ("waiting", "downloading", "exists", "done", "unpacking", "unpacked"), o
    assert isinstance(o["offset"], int) and isinstance(o["total"], int), o
assert objs[-1] == {"image": sys.argv[1], "target": sys.argv[2]}, objs[-1]
assert any(o["kind"] == "layer" for o in objs[:-1])
EOF
}

@test "--plain-http without a hosts.toml entry; without either, no plain HTTP (error names the host)" {
    pull_start
    run --separate-stderr bctl images pull "$H/test/busybox:latest"
    status_is 1
    stderr_has "$H"
    image_absent "$H/test/busybox:latest"
    run bctl images pull --plain-http "$H/test/busybox:latest"
    status_is 0
    run bctl images ls -q
    line_present "$H/test/busybox:latest"
}

@test "the pulled image runs: berthctl run and ctr run see every layer" {
    plain_hosts
    pull_start
    bctl images pull "$H/test/busybox:latest" >/dev/null
    runs_marker bctl "$H/test/busybox:latest" p1
    runs_marker ctrb "$H/test/busybox:latest" p2
}

@test "a second pull of the same image fetches no blob" {
    plain_hosts
    pull_start
    bctl images pull "$H/test/busybox:latest" >/dev/null
    reg_mark plain
    run bctl images pull "$H/test/busybox:latest"
    status_is 0
    blob_gets_is plain 0
    no_leftovers
}

@test "-n pulls into that namespace only" {
    plain_hosts
    pull_start
    run bctl -n other images pull "$H/test/busybox:latest"
    status_is 0
    run bctl -n other images ls -q
    line_present "$H/test/busybox:latest"
    run bctl images ls -q
    line_absent "$H/test/busybox:latest"
    diff <(expected_labels "http://$H" test/busybox latest) <(actual_labels -n other)
}

# ---------------------------------------------------------------- TLS

@test "TLS with the CA from hosts.toml" {
    local T
    T=$(reg_host tls)
    hosts_toml "$HOSTS" "$T" "https://$T" "[host.\"https://$T\"]" \
        '  capabilities = ["pull", "resolve"]' "  ca = \"$(reg_dir tls)/cert.pem\""
    pull_start
    run bctl images pull "$T/test/busybox:latest"
    status_is 0
    diff <(expected_labels "https://$T" test/busybox latest) <(actual_labels)
    blob_gets_is tls 3
}

@test "TLS without the CA fails naming the host; skip_verify = true works" {
    local T
    T=$(reg_host tls)
    hosts_toml "$HOSTS" "$T" "https://$T"
    pull_start
    run --separate-stderr bctl images pull "$T/test/busybox:latest"
    status_is 1
    stderr_has "$T"
    image_absent "$T/test/busybox:latest"
    hosts_toml "$HOSTS" "$T" "https://$T" "[host.\"https://$T\"]" \
        '  capabilities = ["pull", "resolve"]' '  skip_verify = true'
    run bctl images pull "$T/test/busybox:latest"
    status_is 0
}

# ---------------------------------------------------------------- auth

@test "Basic auth (htpasswd) with -u user:password; the password reaches no log or error" {
    local B
    B=$(reg_host basic)
    hosts_toml "$HOSTS" "$B" "http://$B"
    pull_start
    run bctl images pull -u "$REG_USER:$REG_PASS" "$B/test/busybox:latest"
    status_is 0
    run bctl images ls -q
    line_present "$B/test/busybox:latest"
    secret_absent
}

@test "Basic auth: a wrong password or none is refused (permission denied), nothing recorded" {
    local B
    B=$(reg_host basic)
    hosts_toml "$HOSTS" "$B" "http://$B"
    pull_start
    run --separate-stderr bctl images pull -u "$REG_USER:wrong-$REG_PASS" "$B/test/busybox:latest"
    status_is 1
    stderr_matches 'permission denied|pull access denied'
    stderr_has "$B/test/busybox"
    secret_absent
    output_lacks "wrong-$REG_PASS"
    grep -qF -- "wrong-$REG_PASS" "$LOG" && return 1
    grep -qF -- "wrong-$REG_PASS" <<<"$stderr" && return 1
    run --separate-stderr bctl images pull "$B/test/busybox:latest"
    status_is 1
    stderr_matches 'permission denied|pull access denied|unauthori'
    image_absent "$B/test/busybox:latest"
    no_leftovers
}

@test "Bearer auth, anonymous: token fetched with GET, service and the pull scope" {
    local B
    B=$(reg_host bearer)
    hosts_toml "$HOSTS" "$B" "http://$B"
    pull_start
    run bctl images pull "$B/test/busybox:latest"
    status_is 0
    python3 - "$(reg_dir bearer)/token.log" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert reqs, "no token request"
for r in reqs:
    assert r["method"] == "GET" and r["authorization"] is None, r
    assert r["query"].get("service") == ["test-registry"], r
    assert "repository:test/busybox:pull" in " ".join(r["query"].get("scope", [])), r
EOF
    diff <(expected_labels "http://$B" test/busybox latest) <(actual_labels)
}

@test "Bearer auth with -u: token fetched with the POST form; a wrong password is refused" {
    local B
    B=$(reg_host bearer)
    hosts_toml "$HOSTS" "$B" "http://$B"
    pull_start
    run bctl images pull -u "$REG_USER:$REG_PASS" "$B/test/busybox:latest"
    status_is 0
    python3 - "$(reg_dir bearer)/token.log" "$REG_USER" "$REG_PASS" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
posts = [r for r in reqs if r["method"] == "POST" and r["status"] == 200]
assert posts, reqs
f = posts[0]["form"]
assert f.get("grant_type") == ["password"], f
assert f.get("username") == [sys.argv[2]] and f.get("password") == [sys.argv[3]], f
assert f.get("service") == ["test-registry"], f
assert "repository:test/busybox:pull" in f.get("scope", [""])[0].split(" "), f
assert posts[0]["content_type"].startswith("application/x-www-form-urlencoded"), posts[0]
EOF
    secret_absent
    bctl images rm "$B/test/busybox:latest" >/dev/null
    run --separate-stderr bctl images pull -u "$REG_USER:nope" "$B/test/busybox-other:latest"
    status_is 1
    stderr_matches 'permission denied|pull access denied'
    secret_absent
}

# ---------------------------------------------------------------- mirrors

@test "a dead mirror first, then the server: pulls from the server" {
    local dead
    dead=$(free_port)
    hosts_toml "$HOSTS" "$H" "http://$H" \
        "[host.\"http://127.0.0.1:$dead\"]" '  capabilities = ["pull", "resolve"]' \
        "[host.\"http://$H\"]" '  capabilities = ["pull", "resolve"]'
    pull_start
    run bctl images pull "$H/test/busybox:latest"
    status_is 0
    blob_gets_is plain 3
}

@test "a mirror that has the image while the server is down" {
    local dead
    dead=$(free_port)
    hosts_toml "$HOSTS" "127.0.0.1:$dead" "http://127.0.0.1:$dead" \
        "[host.\"http://$H\"]" '  capabilities = ["pull", "resolve"]'
    pull_start
    run bctl images pull "127.0.0.1:$dead/test/busybox:latest"
    status_is 0
    run bctl images ls -q
    line_present "127.0.0.1:$dead/test/busybox:latest"
    blob_gets_is plain 3
    # the mirror was asked for the image, not anything else
    reg_access plain | grep -q "\"HEAD /v2/test/busybox/manifests/latest" ||
        reg_access plain | grep -q "\"GET /v2/test/busybox/manifests/latest"
    diff <(expected_labels "http://$H" test/busybox latest) <(actual_labels)
}

# ---------------------------------------------------------------- platforms, formats

@test "a multi-platform index: the host's manifest by default, labels for every child" {
    plain_hosts
    pull_start
    local dg
    dg=$(reg_digest "http://$H" test/multiarch latest)
    run bctl images pull "$H/test/multiarch:latest"
    status_is 0
    [ "$(tail -n1 <<<"$output")" = "image $H/test/multiarch:latest $dg" ]
    output_has "index $dg "
    diff <(expected_labels "http://$H" test/multiarch latest) <(actual_labels)
    blob_gets_is plain 3
    runs_marker bctl "$H/test/multiarch:latest" p3
}

@test "--platform linux/<other arch> --no-unpack fetches that manifest only and unpacks nothing" {
    plain_hosts
    pull_start
    run bctl images pull --platform "linux/$REG_OTHER_ARCH" --no-unpack "$H/test/multiarch:latest"
    status_is 0
    # config + the junk layer, not the busybox layers
    blob_gets_is plain 2
    diff <(expected_labels "http://$H" test/multiarch latest "" "linux/$REG_OTHER_ARCH" |
        grep -v -e 'containerd.io/uncompressed=' -e 'containerd.io/gc.ref.snapshot.') <(actual_labels)
    run bctl snapshots ls -q
    status_is 0
    [ -z "$output" ]
    no_leftovers
}

@test "a layer the extractor refuses mid-stream fails the pull at once, naming the entry" {
    # The refusal comes while the download has more than a pipe's worth left: the transfer
    # must not stay held on a pipe nobody reads.
    plain_hosts
    pull_start
    run bctl_t 30 images pull "$H/test/hostile:latest"
    status_is 1
    output_has "$H/test/hostile:latest"
    output_has "../../escape"
    run bctl images ls -q
    line_absent "$H/test/hostile:latest"
    # busybox's layer stays as a snapshot (a later pull reuses it); nothing of the hostile one
    run bctl snapshots ls
    [ "$(grep -c . <<<"$output")" -le 2 ]
    output_lacks extract-
    no_leftovers
}

@test "a Docker schema2 image" {
    plain_hosts
    pull_start
    run bctl images pull "$H/test/busybox-v2s2:latest"
    status_is 0
    run bctl --format json images ls
    output_has '"media_type": "application/vnd.docker.distribution.manifest.v2+json"'
    diff <(expected_labels "http://$H" test/busybox-v2s2 latest) <(actual_labels)
    runs_marker bctl "$H/test/busybox-v2s2:latest" p4
}

@test "ten concurrent pulls of one image: all succeed, each blob fetched once" {
    plain_hosts
    pull_start
    local i pids=()
    for i in $(seq 10); do
        bctl images pull "$H/test/big:latest" >"$BERTH_TMP/pull$i.out" 2>&1 &
        pids+=($!)
    done
    for i in $(seq 0 9); do
        if ! wait "${pids[$i]}"; then
            cat "$BERTH_TMP/pull$((i + 1)).out" >&2
            return 1
        fi
    done
    run reg_blob_get_counts plain
    echo "$output"
    [ "$(wc -l <<<"$output")" -eq 3 ]
    [ -z "$(awk '$1 != 1' <<<"$output")" ]
    no_leftovers
    run bctl run --rm "$H/test/big:latest" p5 ls -l /data/random
    output_has 8388608
}

# ---------------------------------------------------------------- errors

@test "an unknown tag or repository: not found, naming the reference" {
    plain_hosts
    pull_start
    run --separate-stderr bctl images pull "$H/test/busybox:nope"
    status_is 1
    stderr_has "not found"
    stderr_has "$H/test/busybox:nope"
    run --separate-stderr bctl images pull "$H/test/no-such-repo:latest"
    status_is 1
    stderr_has "not found"
    image_absent "$H/test/busybox:nope"
    no_leftovers
}

@test "a closed port fails fast, naming the host" {
    local dead t0
    dead=$(free_port)
    hosts_toml "$HOSTS" "127.0.0.1:$dead" "http://127.0.0.1:$dead"
    pull_start
    t0=$SECONDS
    run --separate-stderr bctl_t 60 images pull "127.0.0.1:$dead/test/busybox:latest"
    status_is 1
    [ $((SECONDS - t0)) -lt 10 ]
    stderr_has "127.0.0.1:$dead"
    no_leftovers
}

# bad_pull MODE [bad-registry flags]: a bad registry serving the big image in MODE, berthd
# pointed at it over http://; sets BAD (host:port)
bad_pull() {
    local mode=$1
    shift
    bad_start bad "$mode" "$IMG/big" "$@"
    BAD=127.0.0.1:$(reg_port bad)
    hosts_toml "$HOSTS" "$BAD" "http://$BAD"
}

# refused_cleanly REF: exit 1 naming REF, nothing visible, no ingest, no lease, the bad blob
# not in the store
refused_cleanly() {
    status_is 1
    stderr_has "$1"
    image_absent "$1"
    run bctl content ls -q
    line_absent "$(layout_largest "$IMG/big")"
    no_leftovers
}

@test "a blob whose bytes do not match its digest is refused; nothing is left" {
    bad_pull bad-digest
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    refused_cleanly "$BAD/test/big:latest"
    stderr_has "$(layout_largest "$IMG/big")"
}

@test "a blob of the wrong size is refused; nothing is left" {
    bad_pull bad-size
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    refused_cleanly "$BAD/test/big:latest"
}

@test "a stalled transfer ends after pull_progress_timeout" {
    bad_pull stall
    pull_start 2s
    local t0=$SECONDS
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    status_is 1
    [ $((SECONDS - t0)) -lt 10 ]
    stderr_matches 'time ?out|timed out|deadline|stall'
    stderr_has "$BAD/test/big:latest"
    image_absent "$BAD/test/big:latest"
    run ctrb leases ls -q
    [ -z "$output" ]
}

@test "500s: retried, then an unavailable error naming the reference" {
    bad_pull 500
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    status_is 1
    stderr_matches 'unavailable|500|internal server error'
    stderr_has "$BAD/test/big:latest"
    # retried: more than one request reached the registry
    [ "$(bad_requests bad 'r["status"] == 500' | wc -l)" -gt 1 ]
    image_absent "$BAD/test/big:latest"
    no_leftovers
}

@test "two 500s, then OK: the retried pull succeeds" {
    bad_pull 500:2
    pull_start
    run bctl images pull "$BAD/test/big:latest"
    status_is 0
    [ "$(bad_requests bad 'r["status"] == 500' | wc -l)" -eq 2 ]
}

@test "a blob redirected to another port is fetched there without the Authorization header" {
    bad_pull redirect --auth basic
    pull_start
    run bctl images pull -u "$REG_USER:$REG_PASS" "$BAD/test/big:latest"
    status_is 0
    run bad_requests bad 'r["listener"] == "redirect" and r["method"] == "GET"'
    [ "$(wc -l <<<"$output")" -ge 3 ]
    # no request that reached the other port carried credentials
    run bad_requests bad 'r["listener"] == "redirect" and r["authorization"]'
    [ -z "$output" ]
    secret_absent
}

@test "a redirect loop is an error" {
    bad_pull redirect-loop
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    refused_cleanly "$BAD/test/big:latest"
    stderr_has redirect
    [ "$(bad_requests bad 'r["status"] == 302' | wc -l)" -le 40 ]
}

@test "a manifest over 4 MiB is refused" {
    bad_pull big-manifest
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    refused_cleanly "$BAD/test/big:latest"
}

@test "a Bearer challenge the token does not satisfy: pull access denied" {
    bad_pull deny
    pull_start
    run --separate-stderr bctl_t 60 images pull "$BAD/test/big:latest"
    refused_cleanly "$BAD/test/big:latest"
    stderr_matches 'permission denied|pull access denied'
}

# active_offset: the largest offset among the namespace's active ingests once it stops growing
active_offset() {
    local off="" prev=x
    for _ in $(seq 100); do
        off=$(bctl content active | awk 'NR > 1 {print $2}' | sort -n | tail -1)
        [ -n "$off" ] && [ "$off" = "$prev" ] && [ "$off" -gt 0 ] && break
        prev=$off
        sleep 0.2
    done
    echo "$off"
}

@test "leaving berthctl cancels the pull (ingest kept, no lease); --detach lets it finish in berthd" {
    bad_pull stall --stall-bytes 4194304
    pull_start
    "$BERTH_BIN/berthctl" -a "$SOCK" images pull "$BAD/test/big:latest" >"$BERTH_TMP/pull.out" 2>&1 &
    local cpid=$! off
    off=$(active_offset)
    [ -n "$off" ] && [ "$off" -gt 0 ]
    kill -INT "$cpid"
    wait "$cpid" || true
    # the pull ends within a progress tick or two: its lease goes, the partial ingest stays
    for _ in $(seq 50); do
        [ -z "$(ctrb leases ls -q)" ] && break
        sleep 0.1
    done
    [ -z "$(ctrb leases ls -q)" ]
    [ "$(active_offset)" = "$off" ]
    image_absent "$BAD/test/big:latest"
    # detached: berthctl returns at once, the pull resumes and completes after it left
    bad_mode bad normal
    run bctl_t 20 images pull --detach "$BAD/test/big:latest"
    status_is 0
    output_has "pulling $BAD/test/big:latest in berthd"
    for _ in $(seq 100); do
        bctl images ls -q | grep -qx "$BAD/test/big:latest" && break
        sleep 0.2
    done
    run bctl images ls -q
    line_present "$BAD/test/big:latest"
    run bad_requests bad "r['range'] == 'bytes=$off-'"
    [ -n "$output" ]
    for _ in $(seq 50); do
        [ -z "$(ctrb leases ls -q)" ] && break
        sleep 0.1
    done
    no_leftovers
}

@test "kill -9 of berthd mid-pull, restart, pull again: resumes with Range from the partial offset" {
    bad_pull stall --stall-bytes 4194304
    pull_start
    "$BERTH_BIN/berthctl" -a "$SOCK" images pull "$BAD/test/big:latest" >"$BERTH_TMP/pull.out" 2>&1 &
    local cpid=$! off="" prev=x
    # wait until the ingest stops growing at the stall
    for _ in $(seq 100); do
        off=$(bctl content active | awk 'NR > 1 {print $2}' | sort -n | tail -1)
        [ -n "$off" ] && [ "$off" = "$prev" ] && [ "$off" -gt 0 ] && break
        prev=$off
        sleep 0.2
    done
    [ -n "$off" ] && [ "$off" -gt 0 ]
    kill9_berthd
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" || true
    start_berthd --config "$BERTH_TMP/berthd.toml"
    # what survived the crash is what berthd resumes from
    off=$(bctl content active | awk 'NR > 1 {print $2}' | sort -n | tail -1)
    [ -n "$off" ] && [ "$off" -gt 0 ]
    bad_mode bad normal
    run bctl images pull "$BAD/test/big:latest"
    status_is 0
    run bad_requests bad "r['range'] == 'bytes=$off-'"
    [ -n "$output" ]
    run bctl run --rm "$BAD/test/big:latest" p6 ls -l /data/random
    output_has 8388608
    bctl gc >/dev/null
    no_leftovers
}
