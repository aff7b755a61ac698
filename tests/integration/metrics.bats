#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Prometheus metrics ([metrics] address): berthd serves GET /v1/metrics on a loopback port;
# every line of every scrape passes tests/tools/prom-check.py (python3-prometheus-client's
# parser plus strict checks); gRPC counters move by the calls made, a failing call shows its
# code, a running container brings per-container cgroup metrics and the task gauges, and
# berthctl metrics summarises the same numbers.

load helpers

IMG=docker.io/berth/busybox:latest
PROMCHECK="/usr/bin/python3 $BATS_TEST_DIRNAME/../tools/prom-check.py"
VERSION_OK='grpc_server_handled_total{grpc_type="unary",grpc_service="containerd.services.version.v1.Version",grpc_method="Version",grpc_code="OK"}'
GET_NOTFOUND='grpc_server_handled_total{grpc_type="unary",grpc_service="containerd.services.containers.v1.Containers",grpc_method="Get",grpc_code="NotFound"}'

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || skip "needs python3-prometheus-client"
    berth_tmp_init
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    MADDR="127.0.0.1:$PORT"
    printf '[metrics]\naddress = "%s"\n' "$MADDR" >"$BERTH_TMP/metrics.toml"
    berth_setup --config "$BERTH_TMP/metrics.toml"
}

teardown() {
    tasks_teardown
}

# scrape FILE: GET /v1/metrics into FILE, checked strictly (extra prom-check args after FILE).
scrape() {
    local out="$1"
    shift
    curl -sf -o "$out" "http://$MADDR/v1/metrics"
    $PROMCHECK "$out" "$@"
}

# value FILE SERIES: the value of one series, exactly as written (the file passed scrape's
# strict check already; no second parse).
value() {
    awk -v s="$2 " 'index($0, s) == 1 { print substr($0, length(s) + 1) }' "$1"
}

@test "metrics: strict exposition, gRPC counts move, a failing call shows its code" {
    local before after
    run curl -s -D - -o /dev/null "http://$MADDR/v1/metrics"
    output_has "HTTP/1.1 200 OK"
    output_has "Content-Type: text/plain; version=0.0.4; charset=utf-8"
    scrape "$BERTH_TMP/m1" --family process_resident_memory_bytes --family process_open_fds \
        --family process_max_fds --family process_threads --family process_start_time_seconds \
        --family process_cpu_seconds_total --family process_virtual_memory_bytes \
        --family grpc_server_started_total --family grpc_server_handled_total \
        --family grpc_server_msg_received_total --family grpc_server_msg_sent_total \
        --family grpc_server_handling_seconds --family berth_metadata_commit_batch_size \
        --family berth_metadata_commit_seconds --family berth_gc_passes_total \
        --family berth_gc_pause_seconds --family berth_gc_removed_total \
        --family berth_pull_bytes_total --family berth_pulls_total --family berth_tasks_running \
        --family berth_shims_running
    before="$(value "$BERTH_TMP/m1" "$VERSION_OK")"
    for _ in 1 2 3 4 5; do bctl version >/dev/null; done
    run bctl containers info nope
    status_is 1
    scrape "$BERTH_TMP/m2" --sample "$GET_NOTFOUND"
    after="$(value "$BERTH_TMP/m2" "$VERSION_OK")"
    # berthctl version makes one Version call each (the self-check may add its own)
    [ "$((after - before))" -ge 5 ] && [ "$((after - before))" -le 7 ]
    [ "$(value "$BERTH_TMP/m2" "$GET_NOTFOUND")" = 1 ]
    # started = handled once no call is in flight (this scrape is not a gRPC call)
    [ "$(value "$BERTH_TMP/m2" 'grpc_server_started_total{grpc_type="unary",grpc_service="containerd.services.containers.v1.Containers",grpc_method="Get"}')" = 1 ]
    # the handling histogram of Version counted every call
    [ "$(value "$BERTH_TMP/m2" 'grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="containerd.services.version.v1.Version",grpc_method="Version"}')" = "$after" ]

    run bctl metrics --metrics-address "$MADDR"
    status_is 0
    output_has "grpc calls"
    output_has "NotFound 1"
    output_has "containerd.services.version.v1.Version/Version"
    output_has "process        RSS"
    output_has "gc             "
    BERTH_METRICS_ADDRESS="$MADDR" run bctl metrics
    status_is 0
    output_has "metrics        http://$MADDR/v1/metrics"
}

@test "metrics: 404 and 405, and a bad address refuses to start naming it" {
    run curl -s -o /dev/null -w '%{http_code}' "http://$MADDR/metrics"
    [ "$output" = 404 ]
    run curl -s -o /dev/null -w '%{http_code}' -X POST "http://$MADDR/v1/metrics"
    [ "$output" = 405 ]
    # config validation fails before anything is opened: a second root, the daemon untouched
    printf '[metrics]\naddress = "127.0.0.1"\n' >"$BERTH_TMP/bad.toml"
    run "$BERTH_BIN/berthd" --root "$BERTH_TMP/r2" --state "$BERTH_TMP/s2" \
        --address "$BERTH_TMP/b2.sock" --config "$BERTH_TMP/bad.toml"
    status_is 1
    output_has 'metrics.address "127.0.0.1"'
    [ ! -e "$BERTH_TMP/r2" ]
    run bctl metrics --metrics-address "127.0.0.1:1"
    status_is 1
    output_has "scrape http://127.0.0.1:1/v1/metrics"
}

@test "metrics: a running container brings task gauges and its cgroup metrics" {
    command -v runc >/dev/null || skip "needs runc"
    [ -x "$BERTH_BIN/berth-shim" ] || skip "needs berth-shim"
    import_busybox
    bctl run -d "$IMG" mc1 sleep 1000
    scrape "$BERTH_TMP/m3" --family container_pids_current --family container_pids_limit \
        --sample 'container_pids_current{container_id="mc1",namespace="default"}'
    [ "$(value "$BERTH_TMP/m3" berth_tasks_running)" = 1 ]
    [ "$(value "$BERTH_TMP/m3" berth_shims_running)" = 1 ]
    [ "$(value "$BERTH_TMP/m3" 'container_pids_current{container_id="mc1",namespace="default"}')" -ge 1 ]
    grep -Eq '^container_memory_usage(_usage)?_bytes\{container_id="mc1",namespace="default"\} [1-9]' "$BERTH_TMP/m3"
    grep -Eq '^container_cpu_(usage_microseconds|total_nanoseconds)\{container_id="mc1",namespace="default"\} ' "$BERTH_TMP/m3"
    run bctl metrics --metrics-address "$MADDR"
    output_has "tasks          1 running"
    bctl tasks kill -s 9 mc1
    sleep 0.3
    scrape "$BERTH_TMP/m4"
    [ "$(value "$BERTH_TMP/m4" berth_tasks_running)" = 0 ]
    ! grep -q 'container_id="mc1"' "$BERTH_TMP/m4"
    # every scrape counted the commits of the image import and the container record
    [ "$(value "$BERTH_TMP/m4" berth_metadata_commit_batch_size_count)" -ge 2 ]
}
