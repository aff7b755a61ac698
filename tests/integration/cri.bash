# SPDX-License-Identifier: Apache-2.0
# What the CRI bats files share (cri.bats, cristream.bats): crictl lookup, a registry with a
# busybox image, a per-test berthd with the CRI on a CNI bridge + host-local + portmap conflist
# of the test's own, and small crictl helpers.
#
# crictl is found through $CRICTL, PATH, then ../shared/tools/crictl; with CI=true a missing
# crictl fails the file instead of skipping it.

export BERTH_CRI=1 # start_berthd: the CRI on (other files run berthd with --no-cri)

find_crictl() {
    local c
    for c in "${CRICTL:-}" "$(command -v crictl 2>/dev/null)" \
        "$BATS_TEST_DIRNAME/../../../shared/tools/crictl"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

setup_file() {
    if ! CRICTL_BIN=$(find_crictl); then
        if [ "${CI:-}" = true ]; then
            echo "crictl not found (\$CRICTL, PATH, ../shared/tools/crictl)" >&2
            return 1
        fi
        export CRI_SKIP=1
        return 0
    fi
    export CRICTL_BIN
    reg_mkimages "$BATS_FILE_TMPDIR/img"
    reg_start plain plain
    reg_push plain "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
    reg_start basic basic
    reg_push basic "$BATS_FILE_TMPDIR/img/busybox" test/busybox:latest
}

teardown_file() {
    reg_stop_all
}

setup() {
    [ -z "${CRI_SKIP:-}" ] || skip "crictl not found"
    berth_tmp_init
    H=$(reg_host plain)
    IMAGE="$H/test/busybox:latest"
    HOSTS="$BERTH_TMP/hosts"
    CNI_CONF="$BERTH_TMP/cni"
    LOGS="$BERTH_TMP/logs"
    mkdir -p "$HOSTS" "$CNI_CONF" "$LOGS"
    hosts_toml "$HOSTS" "$H" "http://$H"
    # A bridge and subnet of this test's own (tests may run next to others).
    BR="bt$(printf '%04x' $((RANDOM % 65536)))"
    NET3=$((RANDOM % 200 + 20))
    cni_conflist "$CNI_CONF" berth-test "$BR" "10.99.$NET3.0/24"
    cat >"$BERTH_TMP/berthd.toml" <<EOF
[registry]
config_path = "$HOSTS"

[cri]
max_container_log_line_size = 64

[cri.cni]
conf_dir = "$CNI_CONF"
bin_dir = "/usr/lib/cni"
EOF
    start_berthd --config "$BERTH_TMP/berthd.toml"
}

# cni_conflist DIR NAME BRIDGE SUBNET: DIR/10-test.conflist, a bridge + host-local (leases in
# $BERTH_TMP/ipam) + portmap network
cni_conflist() {
    cat >"$1/10-test.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$2", "plugins": [
  {"type": "bridge", "bridge": "$3", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$4"}]],
            "dataDir": "$BERTH_TMP/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
}

teardown() {
    [ -z "${CRI_SKIP:-}" ] || return 0
    if [ -n "${BERTHD_PID:-}" ]; then
        # Every pod goes, so no netns, veth, iptables rule or shim outlives the test.
        for p in $(cri pods -q 2>/dev/null); do cri rmp -f "$p" >/dev/null 2>&1 || true; done
    fi
    berth_teardown
    ip link del "$BR" 2>/dev/null || true
}

cri() {
    "$CRICTL_BIN" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" \
        --timeout 60s "$@"
}

# pod_json NAME [EXTRA JSON MEMBERS]: a pod config file, printed path
pod_json() {
    local f="$BERTH_TMP/pod-$1.json"
    cat >"$f" <<EOF
{"metadata": {"name": "$1", "namespace": "ns1", "uid": "uid-$1", "attempt": 0},
 "log_directory": "$LOGS/$1", "linux": {}${2:+, $2}}
EOF
    echo "$f"
}

# ctr_json NAME CMD-JSON-ARRAY [EXTRA JSON MEMBERS]
ctr_json() {
    local f="$BERTH_TMP/ctr-$1.json"
    cat >"$f" <<EOF
{"metadata": {"name": "$1"}, "image": {"image": "$IMAGE"}, "command": $2,
 "log_path": "$1.log", "linux": {}${3:+, $3}}
EOF
    echo "$f"
}

# run_ctr POD-ID POD-JSON NAME CMD [EXTRA]: create + start, prints the container id
run_ctr() {
    local c
    c=$(cri create "$1" "$(ctr_json "$3" "$4" "${5:-}")" "$2") || return 1
    cri start "$c" >/dev/null || return 1
    echo "$c"
}

# wait_state CTR STATE [SECONDS]
wait_state() {
    local i
    for i in $(seq 1 $((${3:-10} * 10))); do
        [ "$(cri inspect -o go-template --template '{{.status.state}}' "$1" 2>/dev/null)" = "$2" ] &&
            return 0
        sleep 0.1
    done
    cri inspect "$1" >&2
    return 1
}
