#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the import benchmark images into OUT: a ~200 MiB OCI image of 4 layers of ~50 MiB of
# random data plus the busybox layer, as an OCI archive with uncompressed layers
# (OUT/big-tar.tar) and with gzip layers (OUT/big-gzip.tar). Offline; needs busybox-static,
# tar, gzip, coreutils. LAYER_MIB (default 50) and LAYERS (default 4) size it.
set -euo pipefail

OUT=${1:?usage: mkbig.sh OUTDIR}
LAYER_MIB=${LAYER_MIB:-50}
LAYERS=${LAYERS:-4}
BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
[ -x "$BUSYBOX" ] || { echo "mkbig.sh: busybox not found" >&2; exit 1; }
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
TAR=(tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=gnu)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
sha() { sha256sum "$1" | cut -d' ' -f1; }

# layer tars: busybox, then LAYERS layers of random files (8 files each)
mkdir -p "$WORK/l0/bin"
cp "$BUSYBOX" "$WORK/l0/bin/busybox"
ln -s busybox "$WORK/l0/bin/sh"
(cd "$WORK/l0" && "${TAR[@]}" -cf "$WORK/layer0.tar" bin)
for i in $(seq 1 "$LAYERS"); do
    mkdir -p "$WORK/l$i/data$i"
    for f in $(seq 1 8); do
        head -c $((LAYER_MIB * 1024 * 1024 / 8)) /dev/urandom >"$WORK/l$i/data$i/f$f"
    done
    (cd "$WORK/l$i" && "${TAR[@]}" -cf "$WORK/layer$i.tar" "data$i")
    rm -rf "$WORK/l$i"
done

# layout KIND(tar|gzip) -> OUT/big-KIND.tar
layout() {
    local kind=$1 L=$WORK/oci-$1 layers="" ids="" sep="" mt h u c
    mkdir -p "$L/blobs/sha256"
    for i in $(seq 0 "$LAYERS"); do
        u=$WORK/layer$i.tar
        if [ "$kind" = gzip ]; then
            c=$WORK/layer$i.tar.gz
            [ -f "$c" ] || gzip -n -1 -c "$u" >"$c"
            mt=application/vnd.oci.image.layer.v1.tar+gzip
        else
            c=$u
            mt=application/vnd.oci.image.layer.v1.tar
        fi
        h=$(sha "$c")
        cp "$c" "$L/blobs/sha256/$h"
        layers="$layers$sep{\"mediaType\":\"$mt\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$c")}"
        ids="$ids$sep\"sha256:$(sha "$u")\""
        sep=,
    done
    printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$ARCH" "$ids" >"$WORK/config.json"
    h=$(sha "$WORK/config.json")
    cp "$WORK/config.json" "$L/blobs/sha256/$h"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
        "$h" "$(stat -c %s "$WORK/config.json")" "$layers" >"$WORK/manifest.json"
    h=$(sha "$WORK/manifest.json")
    cp "$WORK/manifest.json" "$L/blobs/sha256/$h"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/berth/big-%s:latest","org.opencontainers.image.ref.name":"latest"}}]}' \
        "$h" "$(stat -c %s "$WORK/manifest.json")" "$kind" >"$L/index.json"
    (cd "$L" && "${TAR[@]}" -cf "$OUT/big-$kind.tar" oci-layout index.json blobs)
}
layout tar
layout gzip
echo "mkbig.sh: wrote $OUT/big-tar.tar $OUT/big-gzip.tar"
