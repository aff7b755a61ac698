# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Real-registry harness for the pull tests (sourced by bats files after helpers.bash).
# Everything listens on 127.0.0.1 only and runs from a temp dir; nothing reaches the network.
#
#   reg_mkimages OUT              small OCI layouts built offline (busybox-static):
#                                 OUT/busybox   2 gzip layers (busybox + /etc/berth-pull marker),
#                                               runnable: `sh -c 'cat /etc/berth-pull'` prints
#                                               $REG_MARKER
#                                 OUT/multiarch an index: $REG_ARCH -> the busybox manifest,
#                                               $REG_OTHER_ARCH (variant v8 for arm64) -> a
#                                               manifest over one junk layer
#                                 OUT/big       busybox + one 8 MiB incompressible gzip layer
#   reg_start NAME KIND           docker-registry on a free port; KIND plain|tls|basic|bearer
#                                 (bearer: plus tests/tools/token-server.py on its own port)
#   reg_stop NAME / reg_stop_all  stop them (SIGTERM, then SIGKILL); never leaves processes
#   reg_push NAME LAYOUT REPO:TAG [skopeo flags]   skopeo copy oci:LAYOUT:latest to it
#   reg_host NAME / reg_port NAME / reg_url NAME / reg_dir NAME
#   reg_mark NAME; reg_blob_gets NAME [DIGEST]     blob GETs (2xx) in its access log since
#                                 the last mark (all blobs, or one digest)
#   bad_start NAME MODE [bad-registry.py flags]; bad_mode NAME MODE   tests/tools/bad-registry.py
#   hosts_toml DIR HOST SERVER [TOML LINES...]      write DIR/HOST/hosts.toml (see below)
#   pull_config FILE HOSTSDIR [TIMEOUT]             berthd config with a [registry] section
#   free_port                     a port nothing listens on right now
# State lives in $REG_ROOT (default $BATS_FILE_TMPDIR/reg, so a file can start registries once
# in setup_file and use them in every test). Credentials: $REG_USER / $REG_PASS.

REG_TOOLS="$BATS_TEST_DIRNAME/../tools"
REG_USER=${REG_USER:-berth}
REG_PASS=${REG_PASS:-Pw-s3cret-9f4e}
REG_MARKER=pulled-from-registry
REG_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
if [ "$REG_ARCH" = arm64 ]; then REG_OTHER_ARCH=amd64; else REG_OTHER_ARCH=arm64; fi
export REG_USER REG_PASS REG_MARKER REG_ARCH REG_OTHER_ARCH

# set here, not in a function: the functions below mostly run in $(...) subshells
REG_ROOT=${REG_ROOT:-${BATS_FILE_TMPDIR:-${BATS_TMPDIR:-/tmp}}/reg}
export REG_ROOT

reg_root() {
    mkdir -p "$REG_ROOT"
    echo "$REG_ROOT"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- images (offline)

_reg_sha() { sha256sum "$1" | cut -d' ' -f1; }

# _reg_blob FILE LAYOUT -> copies FILE into the layout, prints its hex digest
_reg_blob() {
    local h
    h=$(_reg_sha "$1")
    mkdir -p "$2/blobs/sha256"
    cp "$1" "$2/blobs/sha256/$h"
    echo "$h"
}

# _reg_layer SRCDIR OUT.tar.gz: a reproducible gzip layer of SRCDIR's contents
_reg_layer() {
    (cd "$1" && tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
        --format=gnu -cf - .) | gzip -n -1 >"$2"
}

# _reg_manifest LAYOUT ARCH VARIANT LAYER.tar.gz... -> writes config + manifest blobs, prints
# "<manifest hex> <manifest size>"
_reg_manifest() {
    local layout=$1 arch=$2 variant=$3 l ids="" layers="" sep="" ch mh tmp
    shift 3
    tmp=$(mktemp -d)
    for l in "$@"; do
        ids="$ids$sep\"sha256:$(gzip -dc "$l" | sha256sum | cut -d' ' -f1)\""
        layers="$layers$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$(_reg_blob "$l" "$layout")\",\"size\":$(stat -c %s "$l")}"
        sep=,
    done
    printf '{"architecture":"%s",%s"os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"Volumes":{"/data":{}}},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$arch" "${variant:+\"variant\":\"$variant\",}" "$ids" >"$tmp/config.json"
    ch=$(_reg_blob "$tmp/config.json" "$layout")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
        "$ch" "$(stat -c %s "$tmp/config.json")" "$layers" >"$tmp/manifest.json"
    mh=$(_reg_blob "$tmp/manifest.json" "$layout")
    echo "$mh $(stat -c %s "$tmp/manifest.json")"
    rm -rf "$tmp"
}

# _reg_top LAYOUT MEDIATYPE HEX SIZE: index.json naming the descriptor "latest"
_reg_top() {
    printf '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "$2" "$3" "$4" >"$1/index.json"
}

reg_mkimages() {
    local out=$1 bb w a mh ms oh os ih
    [ -f "$out/.done" ] && return 0
    bb=$(command -v busybox) || { echo "reg_mkimages: busybox not found" >&2; return 1; }
    mkdir -p "$out"
    w=$(mktemp -d "$out/.work.XXXXXX")
    # layer 1: busybox and the applets the tests use, /etc/passwd, /tmp
    mkdir -p "$w/l1/bin" "$w/l1/etc" "$w/l1/tmp"
    cp "$bb" "$w/l1/bin/busybox"
    for a in sh cat echo ls sleep true false env id dd grep head hostname httpd ip kill mkdir nc \
        ps sha256sum stat stty touch wc wget; do ln "$w/l1/bin/busybox" "$w/l1/bin/$a"; done
    # a user with supplementary groups, for the CRI's security-context tests
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n' >"$w/l1/etc/passwd"
    printf 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' >"$w/l1/etc/group"
    chmod 1777 "$w/l1/tmp"
    _reg_layer "$w/l1" "$w/l1.tar.gz"
    # layer 2: the marker file proving every layer was applied
    mkdir -p "$w/l2/etc" "$w/l2/data"
    echo "$REG_MARKER" >"$w/l2/etc/berth-pull"
    echo seeded >"$w/l2/data/seed" # an image volume's content (the CRI copies it)
    _reg_layer "$w/l2" "$w/l2.tar.gz"
    # junk layer for the other architecture
    mkdir -p "$w/lj"
    head -c 65536 /dev/urandom >"$w/lj/junk-$REG_OTHER_ARCH"
    _reg_layer "$w/lj" "$w/lj.tar.gz"
    # big layer: 8 MiB that gzip cannot shrink (resume and stall tests need bytes in flight)
    mkdir -p "$w/lb/data"
    head -c $((8 * 1024 * 1024)) /dev/urandom >"$w/lb/data/random"
    _reg_layer "$w/lb" "$w/lb.tar.gz"

    # hostile layer: 3 MiB, then an entry climbing out of the root, then 4 MiB more, so the
    # extractor refuses it while the download still has more than a pipe's worth to send
    python3 - "$w/lh.tar.gz" <<'PY'
import gzip, io, os, sys, tarfile
with gzip.open(sys.argv[1], "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as t:
    for name, size in (("a-random", 3 << 20), ("../../escape", 6), ("z-random", 4 << 20)):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = size, 1700000000
        t.addfile(ti, io.BytesIO(os.urandom(size)))
PY

    mkdir -p "$out/busybox" "$out/multiarch" "$out/big" "$out/hostile"
    read -r mh ms < <(_reg_manifest "$out/busybox" "$REG_ARCH" "" "$w/l1.tar.gz" "$w/l2.tar.gz")
    _reg_top "$out/busybox" application/vnd.oci.image.manifest.v1+json "$mh" "$ms"

    read -r mh ms < <(_reg_manifest "$out/multiarch" "$REG_ARCH" "" "$w/l1.tar.gz" "$w/l2.tar.gz")
    local ov=""
    [ "$REG_OTHER_ARCH" = arm64 ] && ov=v8
    read -r oh os < <(_reg_manifest "$out/multiarch" "$REG_OTHER_ARCH" "$ov" "$w/lj.tar.gz")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"%s}}]}' \
        "$mh" "$ms" "$REG_ARCH" "$oh" "$os" "$REG_OTHER_ARCH" "${ov:+,\"variant\":\"$ov\"}" \
        >"$w/index.json"
    ih=$(_reg_blob "$w/index.json" "$out/multiarch")
    _reg_top "$out/multiarch" application/vnd.oci.image.index.v1+json "$ih" \
        "$(stat -c %s "$w/index.json")"

    read -r mh ms < <(_reg_manifest "$out/big" "$REG_ARCH" "" "$w/l1.tar.gz" "$w/lb.tar.gz")
    _reg_top "$out/big" application/vnd.oci.image.manifest.v1+json "$mh" "$ms"

    read -r mh ms < <(_reg_manifest "$out/hostile" "$REG_ARCH" "" "$w/l1.tar.gz" "$w/lh.tar.gz")
    _reg_top "$out/hostile" application/vnd.oci.image.manifest.v1+json "$mh" "$ms"
    rm -rf "$w"
    touch "$out/.done"
}

# layout_digest LAYOUT -> the digest index.json names (the image's target)
layout_digest() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"])' "$1"
}

# layout_largest LAYOUT -> digest of the largest blob (a layer)
layout_largest() {
    echo "sha256:$(ls -S "$1/blobs/sha256" | head -1)"
}

# ---------------------------------------------------------------- registries

reg_dir() { echo "$(reg_root)/$1"; }
reg_port() { cat "$(reg_dir "$1")/port"; }
reg_host() { echo "127.0.0.1:$(reg_port "$1")"; }
reg_url() { echo "$(cat "$(reg_dir "$1")/scheme")://$(reg_host "$1")"; }

# _reg_spawn NAME LOG CMD...: background process, pid appended to NAME/pids
_reg_spawn() {
    local d
    d=$(reg_dir "$1")
    local log=$2
    shift 2
    # close every inherited descriptor above 2: bats waits for its pipes to close, so a daemon
    # holding one would hang the run after the last test
    (
        for fd in $(ls /proc/$BASHPID/fd); do
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done
        exec "$@"
    ) >>"$log" 2>&1 </dev/null &
    echo $! >>"$d/pids"
}

# _reg_wait_port PORTFILE: waits (5 s) for a server to publish its port
_reg_wait_port() {
    for _ in $(seq 100); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "no port in $1 after 5 s" >&2
    return 1
}

# _reg_wait_http URL [curl flags]: waits (10 s) until something answers HTTP there
_reg_wait_http() {
    local url=$1
    shift
    for _ in $(seq 200); do
        curl -s -o /dev/null --max-time 1 "$@" "$url" && return 0
        sleep 0.05
    done
    echo "nothing answers $url after 10 s" >&2
    return 1
}

reg_start() {
    local name=$1 kind=$2 d port tport auth="" tls="" scheme=http
    d=$(reg_dir "$name")
    rm -rf "$d"
    mkdir -p "$d/storage" "$d/certs"
    port=$(free_port)
    case $kind in
    plain) ;;
    tls)
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
            -keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
        cp "$d/cert.pem" "$d/certs/ca.crt" # skopeo --dest-cert-dir
        tls="  tls: {certificate: $d/cert.pem, key: $d/key.pem}"
        scheme=https
        ;;
    basic)
        htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$d/htpasswd"
        auth="auth: {htpasswd: {realm: basic-realm, path: $d/htpasswd}}"
        ;;
    bearer)
        _reg_spawn "$name" "$d/token-server.out" python3 "$REG_TOOLS/token-server.py" \
            --port-file "$d/token-port" --log "$d/token.log" --user "$REG_USER" \
            --password "$REG_PASS"
        _reg_wait_port "$d/token-port" || return 1
        tport=$(cat "$d/token-port")
        auth="auth: {silly: {realm: \"http://127.0.0.1:$tport/token\", service: test-registry}}"
        ;;
    *)
        echo "reg_start: unknown kind $kind" >&2
        return 1
        ;;
    esac
    cat >"$d/config.yml" <<EOF
version: 0.1
log: {level: info, formatter: text, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $d/storage}, delete: {enabled: true}}
http:
  addr: 127.0.0.1:$port
  secret: test-only
$tls
$auth
EOF
    echo "$scheme" >"$d/scheme"
    echo "$port" >"$d/port"
    : >"$d/registry.log"
    echo 0 >"$d/mark"
    _reg_spawn "$name" "$d/registry.log" docker-registry serve "$d/config.yml"
    _reg_wait_http "$scheme://127.0.0.1:$port/v2/" -k || {
        cat "$d/registry.log" >&2
        return 1
    }
}

# bad_start NAME MODE LAYOUT [bad-registry.py flags...]: the misbehaving registry, mode in
# NAME/mode (bad_mode switches it while it runs); the redirect listener's port in
# NAME/redirect-port
bad_start() {
    local name=$1 mode=$2 layout=$3 d
    shift 3
    d=$(reg_dir "$name")
    rm -rf "$d"
    mkdir -p "$d"
    echo "$mode" >"$d/mode"
    echo http >"$d/scheme"
    echo 0 >"$d/mark"
    : >"$d/requests.log"
    _reg_spawn "$name" "$d/bad-registry.out" python3 "$REG_TOOLS/bad-registry.py" \
        --layout "$layout" --log "$d/requests.log" --mode-file "$d/mode" \
        --port-file "$d/port" --redirect-port-file "$d/redirect-port" --user "$REG_USER" \
        --password "$REG_PASS" "$@"
    _reg_wait_port "$d/port" && _reg_wait_port "$d/redirect-port"
}

bad_mode() {
    echo "$2" >"$(reg_dir "$1")/mode.tmp"
    mv "$(reg_dir "$1")/mode.tmp" "$(reg_dir "$1")/mode"
}

# bad_requests NAME [PYTHON-EXPR]: the JSON request log of a bad registry, one line per request
# for which EXPR (over `r`, default True) holds, printed as "listener method path range auth"
bad_requests() {
    python3 - "$(reg_dir "$1")/requests.log" "${2:-True}" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if eval(sys.argv[2], {}, {"r": r}):
        print(r["listener"], r["method"], r["path"], r["range"] or "-", r["authorization"] or "-",
              r["status"], r["bytes"])
EOF
}

_reg_kill_pids() {
    local f=$1 pid
    [ -f "$f" ] || return 0
    for pid in $(cat "$f"); do
        kill -TERM "$pid" 2>/dev/null || continue
    done
    for pid in $(cat "$f"); do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$f"
}

reg_stop() {
    _reg_kill_pids "$(reg_dir "$1")/pids"
}

reg_stop_all() {
    local d
    [ -n "${REG_ROOT:-}" ] && [ -d "$REG_ROOT" ] || return 0
    for d in "$REG_ROOT"/*/; do
        _reg_kill_pids "$d/pids"
    done
}

# reg_push NAME LAYOUT REPO:TAG [skopeo flags]: the layout's "latest" into the registry
reg_push() {
    local name=$1 layout=$2 ref=$3 d creds=() tls=(--dest-tls-verify=false)
    shift 3
    d=$(reg_dir "$name")
    case $(cat "$d/config.yml") in
    *htpasswd* | *silly*) creds=(--dest-creds "$REG_USER:$REG_PASS") ;;
    esac
    [ -f "$d/cert.pem" ] && tls=(--dest-cert-dir "$d/certs")
    skopeo copy -q "${tls[@]}" "${creds[@]}" "$@" "oci:$layout:latest" \
        "docker://$(reg_host "$name")/$ref" >"$d/push.out" 2>&1 || {
        cat "$d/push.out" >&2
        return 1
    }
}

reg_mark() {
    local d
    d=$(reg_dir "$1")
    wc -l <"$d/registry.log" >"$d/mark"
}

# reg_access NAME: access-log lines (Combined Log Format) since the mark, without the harness's
# own requests (expected_labels, chain_ids, reg_digest). docker-registry writes
# a line when a response completes, a moment after the client has the body: wait for quiet.
reg_access() {
    local d n=-1 m
    d=$(reg_dir "$1")
    for _ in $(seq 20); do
        m=$(wc -l <"$d/registry.log")
        [ "$m" = "$n" ] && break
        n=$m
        sleep 0.1
    done
    tail -n +"$(($(cat "$d/mark") + 1))" "$d/registry.log" | grep -E '^127\.0\.0\.1 - ' |
        grep -vF '"berth-test-harness"' || true
}

# reg_blob_gets NAME [DIGEST]: how many blob GETs (2xx) the registry served since the mark
reg_blob_gets() {
    reg_access "$1" | grep -cE "\"GET /v2/[^ ]*/blobs/${2:-sha256:[0-9a-f]{64}}[ ?][^\"]*\" 20[06] " || true
}

# reg_blob_get_counts NAME: "<count> <digest>" per blob fetched since the mark
reg_blob_get_counts() {
    reg_access "$1" | grep -oE "\"GET /v2/[^ ]*/blobs/sha256:[0-9a-f]{64}[ ?][^\"]*\" 20[06] " |
        grep -oE 'sha256:[0-9a-f]{64}' | sort | uniq -c | awk '{print $1, $2}' || true
}

# ---------------------------------------------------------------- berthd side

# hosts_toml DIR HOST SERVER [LINES...]: DIR/HOST/hosts.toml with `server = SERVER` and the
# given TOML lines after it ([host."..."] tables, ca = ..., skip_verify = ...). A host table
# is required by containerd's parser; when none is given, one for SERVER is added.
hosts_toml() {
    local dir=$1 host=$2 server=$3 f
    shift 3
    mkdir -p "$dir/$host"
    f=$dir/$host/hosts.toml
    printf 'server = "%s"\n' "$server" >"$f"
    if [ $# -eq 0 ]; then
        printf '\n[host."%s"]\n  capabilities = ["pull", "resolve"]\n' "$server" >>"$f"
    fi
    for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
}

# pull_config FILE HOSTSDIR [PROGRESS-TIMEOUT]: a berthd config using HOSTSDIR
pull_config() {
    cat >"$1" <<EOF
[registry]
config_path = "$2"
max_concurrent_downloads = 3
pull_progress_timeout = "${3:-5m}"
EOF
}

# expected_labels URL REPO TAG [SNAPSHOTTER] [OS/ARCH]: the content labels containerd 1.6 sets
# after pulling and unpacking URL/REPO:TAG, from the registry itself ("<digest> <key>=<value>"
# lines, sorted; tests/tools/reg-expect.py)
expected_labels() {
    python3 "$REG_TOOLS/reg-expect.py" labels "$@"
}

# chain_ids URL REPO TAG [OS/ARCH]: the chain IDs of the image's layers, bottom first
chain_ids() {
    python3 "$REG_TOOLS/reg-expect.py" chains "$@"
}

# reg_digest URL REPO TAG: the digest the registry resolves the tag to
reg_digest() {
    python3 "$REG_TOOLS/reg-expect.py" digest "$@"
}

# actual_labels [-n NS]: every content label berthd holds, as "<digest> <key>=<value>", sorted
actual_labels() {
    bctl "$@" --format json content ls | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    for k, v in (c.get("labels") or {}).items():
        print(c["digest"], "%s=%s" % (k, v))' | LC_ALL=C sort
}

# no_leftovers: no lease, no active ingest (after the test's pulls are over)
no_leftovers() {
    local l a
    l=$(ctrb leases ls -q)
    a=$(ctrb content active | tail -n +2)
    if [ -n "$l" ] || [ -n "$a" ]; then
        echo "leftovers: leases [$l] ingests [$a]" >&2
        return 1
    fi
}

# blob_gets_is NAME N: asserts the registry served N blob GETs since the mark (prints its
# access log otherwise)
blob_gets_is() {
    local n
    n=$(reg_blob_gets "$1")
    if [ "$n" -ne "$2" ]; then
        echo "registry $1: $n blob GETs since the mark, want $2; access log:" >&2
        reg_access "$1" >&2
        return 1
    fi
}

# What a pull of REPO:TAG from the plain registry H must leave, whoever pulled it (berthctl or
# ctr): the image listed by both clients, containerd's labels key by key (registry-cni.md A4),
# committed snapshots under the chain IDs, no lease or ingest left, and each of GETS blobs
# fetched once.
assert_pulled_like_containerd() { # REPO TAG GETS
    run bctl images ls -q
    line_present "$H/$1:$2"
    run ctrb images ls -q
    line_present "$H/$1:$2"
    diff <(expected_labels "http://$H" "$1" "$2") <(actual_labels)
    for c in $(chain_ids "http://$H" "$1" "$2"); do
        ctrb snapshots info "$c" | grep -q '"Kind": "Committed"'
    done
    no_leftovers
    blob_gets_is plain "$3"
}

# runs_marker bctl|ctrb IMAGE NAME: a container of IMAGE run by that client prints the marker
# file of the test images' top layer (every layer was applied)
runs_marker() {
    run "$1" run --rm "$2" "$3" cat /etc/berth-pull
    status_is 0
    [ "$output" = "$REG_MARKER" ]
}
