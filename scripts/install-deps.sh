#!/bin/sh
# Installs everything berth needs to build, run and test on Debian 12 (run as root).
# (systemd only for systemd-analyze, which tests/integration/package.bats runs on the unit)
# (clang and libclang-rt-dev, which holds libclang_rt.fuzzer, only for the fuzz build:
# tests/fuzz, BERTH_FUZZ=ON)
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    build-essential cmake pkg-config git ca-certificates \
    libgrpc-dev protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev \
    liblmdb-dev lmdb-utils libarchive-dev libseccomp-dev libcurl4-openssl-dev \
    libjansson-dev libsystemd-dev libcmocka-dev \
    bats containerd runc crun valgrind clang-format systemd \
    clang libclang-rt-dev \
    docker-registry skopeo apache2-utils openssl curl \
    busybox-static zstd python3 \
    containernetworking-plugins iptables docker.io python3-prometheus-client
