#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The Debian package (issue 13; packaging/CMakeLists.txt): cpack builds berth_<version>_<arch>.deb
# from the build dir (the parent of BERTH_BIN), then the tests check its control fields and
# files, run the berthd, berthctl, berth-shim and berth-pause extracted from it (they must find
# each other there, not in the build tree), verify its unit with systemd-analyze in the extracted
# root, and let apt resolve its dependencies. Nothing is installed on the machine.

load helpers

IMG=docker.io/berth/busybox:latest

setup_file() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    local tool
    for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze apt-get; do
        command -v "$tool" >/dev/null || skip "needs $tool"
    done
    BUILD="$(cd "$BERTH_BIN/.." && pwd)"
    SRC="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
    PKG_TMP="$(mktemp -d "${BATS_TMPDIR:-/tmp}/berth-pkg.XXXXXX")"
    # cpack first builds the "preinstall" target (all, with make's up-to-date walk over the
    # whole tree: 10 s) with CPACK_CMAKE_GENERATOR's tool. Ninja's generator has no such
    # target, so cpack packs the tree as built, which ctest runs after anyway.
    printf 'include("%s/CPackConfig.cmake")\nset(CPACK_CMAKE_GENERATOR Ninja)\n' "$BUILD" \
        >"$PKG_TMP/cpack.cmake"
    cpack -G DEB --config "$PKG_TMP/cpack.cmake" -B "$PKG_TMP/out" >"$PKG_TMP/cpack.log" 2>&1 || {
        cat "$PKG_TMP/cpack.log" >&2
        return 1
    }
    DEB=$(echo "$PKG_TMP"/out/*.deb)
    XROOT="$PKG_TMP/root"
    dpkg-deb -x "$DEB" "$XROOT"
    export BUILD SRC PKG_TMP DEB XROOT
}

teardown_file() {
    if [ -n "${PKG_TMP:-}" ]; then
        rm -rf "$PKG_TMP"
    fi
}

teardown() {
    tasks_teardown
}

# The extracted berthd on the per-test temp dirs, with the packaged config (CRI on, as an
# installed berthd runs); waits until it answers. Stopped by berth_teardown.
start_packaged_berthd() {
    berth_tmp_init
    "$XROOT/usr/bin/berthd" --config "$XROOT/etc/berth/config.toml" --root "$ROOT" \
        --state "$STATE" --address "$SOCK" >>"$LOG" 2>&1 3>&- &
    BERTHD_PID=$!
    for _ in $(seq 200); do
        socket_answers "$SOCK" && return 0
        kill -0 "$BERTHD_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "packaged berthd did not serve on $SOCK; log:" >&2
    cat "$LOG" >&2
    return 1
}

# The package's entries but directories, sorted, as "mode /path[ -> target]".
deb_files() {
    dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {
        sub(/^\./, "", $6)
        line = $1 " " $6
        if ($7 == "->")
            line = line " -> " $8
        print line
    }' | sort
}

pctl() {
    "$XROOT/usr/bin/berthctl" -a "$SOCK" "$@"
}

@test "control: name, version, architecture, section, dependencies, conffiles, file name" {
    local version arch
    version=$("$BERTH_BIN/berthd" --version | awk '{print $2}')
    arch=$(dpkg --print-architecture)
    [ "$(basename "$DEB")" = "berth_${version}_${arch}.deb" ]
    run dpkg-deb -f "$DEB" Package Version Architecture Section Priority Recommends
    status_is 0
    line_present "Package: berth"
    line_present "Version: $version"
    line_present "Architecture: $arch"
    line_present "Section: admin"
    line_present "Priority: optional"
    line_present "Recommends: containernetworking-plugins, iptables"
    run dpkg-deb -f "$DEB" Maintainer Description
    [[ $output == *"Maintainer: "*@* ]]
    [[ $output == *"Description: "*berthd* ]]
    # dpkg-shlibdeps adds berthd's and berthctl's shared libraries to the declared runtime
    run dpkg-deb -f "$DEB" Depends
    status_is 0
    output_has "runc | crun"
    local lib
    for lib in libgrpc29 liblmdb0 libprotobuf-c1 libsystemd0 libarchive13 libcurl4 libseccomp2 libc6; do
        output_has "$lib"
    done
    run dpkg-deb -I "$DEB" conffiles
    status_is 0
    [ "$output" = /etc/berth/config.toml ]
    # maintainer scripts as dh_installsystemd writes them (Debian's containerd has the same)
    run dpkg-deb -I "$DEB" postinst
    output_has "deb-systemd-helper enable 'berthd.service'"
    output_has "[ -d /run/systemd/system ]"
    dpkg-deb -I "$DEB" prerm | grep -qF "deb-systemd-invoke stop 'berthd.service'"
    dpkg-deb -I "$DEB" postrm | grep -qF "deb-systemd-helper purge 'berthd.service'"
}

@test "files: the binaries, the shim's containerd name, unit, conffile, completion, docs; nothing else" {
    local want f
    run deb_files
    status_is 0
    want=$(
        {
            for f in berth-pause berth-shim berthctl berthd; do
                echo "-rwxr-xr-x /usr/bin/$f"
            done
            echo "lrwxrwxrwx /usr/bin/containerd-shim-berth-v1 -> berth-shim"
            echo "-rw-r--r-- /etc/berth/config.toml"
            echo "-rw-r--r-- /lib/systemd/system/berthd.service"
            echo "-rw-r--r-- /usr/share/bash-completion/completions/berthctl"
            echo "-rw-r--r-- /usr/share/doc/berth/README.md"
            echo "-rw-r--r-- /usr/share/doc/berth/copyright"
            for f in "$SRC"/docs/*.md; do
                echo "-rw-r--r-- /usr/share/doc/berth/$(basename "$f")"
            done
        } | sort
    )
    if [ "$output" != "$want" ]; then
        diff <(echo "$want") <(echo "$output") >&2
        return 1
    fi
    # shipped as they are in the tree
    cmp "$XROOT/etc/berth/config.toml" "$SRC/packaging/config.toml"
    cmp "$XROOT/usr/share/bash-completion/completions/berthctl" \
        "$SRC/packaging/berthctl.bash-completion"
}

@test "the packaged config is berthd's embedded defaults: /var/lib/berth, /run/berth, berth-shim" {
    run "$XROOT/usr/bin/berthd" config default
    status_is 0
    diff <(echo "$output") "$XROOT/etc/berth/config.toml"
    line_present 'root = "/var/lib/berth"'
    line_present 'state = "/run/berth"'
    line_present 'address = "/run/berth/berthd.sock"'
    line_present 'default = "io.containerd.berth.v1"'
}

@test "the unit runs /usr/bin/berthd and systemd-analyze verify accepts it in the extracted root" {
    local unit="$XROOT/lib/systemd/system/berthd.service"
    grep -qx 'ExecStart=/usr/bin/berthd' "$unit"
    grep -qx 'Documentation=file:///usr/share/doc/berth/configuration.md' "$unit"
    [ -f "$XROOT/usr/share/doc/berth/configuration.md" ]
    # --root resolves ExecStart and the unit's dependencies in the extracted tree: give it the
    # machine's own units (sysinit.target, ...) beside the package's, as an installed system has
    mkdir -p "$XROOT/usr/lib/systemd"
    cp -a /usr/lib/systemd/system "$XROOT/usr/lib/systemd/"
    run systemd-analyze verify --man=no --root="$XROOT" /lib/systemd/system/berthd.service
    status_is 0
    [ -z "$output" ]
    # and it does check ExecStart: without the binary the same call fails
    mv "$XROOT/usr/bin/berthd" "$PKG_TMP/berthd.moved"
    run systemd-analyze verify --man=no --root="$XROOT" /lib/systemd/system/berthd.service
    mv "$PKG_TMP/berthd.moved" "$XROOT/usr/bin/berthd"
    [ "$status" -ne 0 ]
    output_has "/usr/bin/berthd is not executable"
}

@test "the extracted berthd serves with the packaged config and makes its pause image from the extracted berth-pause" {
    start_packaged_berthd
    run pctl version
    status_is 0
    output_has "Version:  $("$XROOT/usr/bin/berthd" --version | awk '{print $2}')"
    # berthd reads berth-pause from its own directory at start-up (services/cri/image.c)
    run pctl -n k8s.io images ls -q
    status_is 0
    line_present "localhost/berth/pause:$("$XROOT/usr/bin/berth-pause" -v 2>&1 | awk '{print $2}')"
    run grep -F "pause image" "$LOG"
    [ "$status" -ne 0 ]
}

@test "a container runs under the extracted berth-shim (the config's default runtime)" {
    command -v runc >/dev/null || skip "needs runc"
    start_packaged_berthd
    import_busybox
    pctl run -d "$IMG" pk2 sleep 1000
    local pid ppid
    pid=$(pctl tasks ls | awk '$1 == "pk2" {print $2}')
    [ -n "$pid" ]
    # the shim reaps the container (subreaper), so it is the task's parent
    ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
    [ "$(readlink "/proc/$ppid/exe")" = "$XROOT/usr/bin/berth-shim" ]
}

@test "apt-get resolves the package's dependencies on this machine (simulated, offline)" {
    # -o Debug::NoLocking: a simulation needs no dpkg lock, and another apt may hold it
    run apt-get install --simulate --no-download -o Debug::NoLocking=1 "$DEB"
    status_is 0
    output_has "Inst berth ("
    output_has "Conf berth ("
}
