#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the image test data into OUT (run at test time, offline). Needs only Debian packages:
# busybox-static, tar, gzip, zstd, coreutils, sed. Output:
#   layers/  single layer tars: busybox.tar(.gz|.zst), multi1.tar + multi2.tar (whiteout and
#            opaque dir), modes.tar (owners, setuid/sticky, fifo, a device node when run as
#            root), abs.tar (absolute names, legal), and hostile layers evil-traversal.tar,
#            evil-symlink.tar, evil-hardlink.tar
#   oci/     OCI image layouts: busybox (gzip layer), busybox-zstd, multi (two layers),
#            multiarch (an index with amd64 and arm64 manifests sharing one layer); plus each
#            layout as a tar (oci/<name>.tar) for `ctr images import`
#   docker/  busybox.tar, a `docker save` archive of the busybox image
# Every layer and its digests are listed in OUT/digests (name uncompressed-sha256 [blob-sha256]).
set -euo pipefail

OUT=${1:?usage: mkimages.sh OUTDIR}
BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
[ -x "$BUSYBOX" ] || { echo "mkimages.sh: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
MTIME=@1700000000
TAR=(tar --sort=name --mtime="$MTIME" --owner=0 --group=0 --numeric-owner --format=gnu)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'chmod -R u+rwx "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$OUT/layers" "$OUT/oci" "$OUT/docker"
: >"$OUT/digests"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# ---- layers ----

# busybox: /bin/busybox, every applet a hard link to it, /etc/passwd, /etc/group, /tmp
R=$WORK/busybox
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
    case $a in busybox | */*) continue ;; esac
    ln "$R/bin/busybox" "$R/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
chmod 1777 "$R/tmp"
# bin/busybox first, so it is the file and every applet a link to it
(cd "$R" && { printf 'bin\nbin/busybox\n'; find bin etc tmp -mindepth 0 ! -path bin ! -path bin/busybox | LC_ALL=C sort; } |
    "${TAR[@]}" --no-recursion --verbatim-files-from -T - -cf "$OUT/layers/busybox.tar")
gzip -n -9 -c "$OUT/layers/busybox.tar" >"$OUT/layers/busybox.tar.gz"
zstd -q -19 -c "$OUT/layers/busybox.tar" >"$OUT/layers/busybox.tar.zst"

# multi1: a/{keep,gone}, o/{old1,old2}, top; multi2 whites out a/gone and makes o opaque
R=$WORK/multi1
mkdir -p "$R/a" "$R/o"
echo keep >"$R/a/keep"
echo gone >"$R/a/gone"
echo old1 >"$R/o/old1"
echo old2 >"$R/o/old2"
echo top >"$R/top"
(cd "$R" && "${TAR[@]}" -cf "$OUT/layers/multi1.tar" a o top)
R=$WORK/multi2
mkdir -p "$R/a" "$R/o"
: >"$R/a/.wh.gone"
: >"$R/o/.wh..wh..opq"
echo new >"$R/o/new"
echo added >"$R/a/added"
(cd "$R" && "${TAR[@]}" -cf "$OUT/layers/multi2.tar" a o)

# modes: owners, setuid, sticky, setgid dir, a fifo, a symlink, a device node (root only)
R=$WORK/modes
mkdir -p "$R/d" "$R/sticky" "$R/sgid"
echo suid >"$R/suid"
chmod 4755 "$R/suid"
chmod 1777 "$R/sticky"
chmod 2750 "$R/sgid"
echo owned >"$R/d/owned"
chmod 0640 "$R/d/owned"
mkfifo "$R/fifo"
ln -s d/owned "$R/link"
if [ "$(id -u)" = 0 ]; then
    mknod "$R/null" c 1 3
    chmod 0666 "$R/null"
fi
(cd "$R" && "${TAR[@]}" --exclude=./d/owned -cf "$OUT/layers/modes.tar" .)
(cd "$R" && tar --mtime="$MTIME" --owner=1000 --group=2000 --numeric-owner --format=gnu \
    -rf "$OUT/layers/modes.tar" ./d/owned)

# abs: absolute member names are clamped to the root (legal)
R=$WORK/abs
mkdir -p "$R/abs"
echo abs >"$R/abs/file"
(cd "$R" && "${TAR[@]}" -P --transform='s,^abs,/abs,rSH' -cf "$OUT/layers/abs.tar" abs/file)

# hostile: a ".." that escapes
R=$WORK/evil1
mkdir -p "$R"
echo evil >"$R/evil"
(cd "$R" && "${TAR[@]}" -P --transform='s,^,../../,rSH' -cf "$OUT/layers/evil-traversal.tar" evil)

# hostile: symlink "link -> /" then "link/etc/evil"
R=$WORK/evil2
mkdir -p "$R/linkx/etc"
ln -s / "$R/link"
echo evil >"$R/linkx/etc/evil"
(cd "$R" && "${TAR[@]}" -P --no-recursion --transform='s,^linkx,link,rSH' \
    -cf "$OUT/layers/evil-symlink.tar" link linkx/etc/evil)

# hostile: a hard link to "../../etc/passwd". GNU tar strips "../" from link targets, so the
# target is written as ",0/,0/etc/passwd" and patched: ",0" and ".." have the same byte sum,
# so the header checksum stays valid.
R=$WORK/evil3
mkdir -p "$R/,0/,0/etc"
echo victim >"$R/,0/,0/etc/passwd"
ln "$R/,0/,0/etc/passwd" "$R/hl"
(cd "$R" && "${TAR[@]}" --transform='s|^,0/,0/etc/passwd$|target|rSH' \
    -cf "$OUT/layers/evil-hardlink.tar" ,0/,0/etc/passwd hl)
LC_ALL=C sed -i 's|,0/,0/etc/passwd|../../etc/passwd|' "$OUT/layers/evil-hardlink.tar"

for l in "$OUT"/layers/*.tar; do
    echo "$(basename "$l") sha256:$(sha "$l")" >>"$OUT/digests"
done

# ---- OCI layouts ----

# blob FILE LAYOUT -> copies FILE into LAYOUT/blobs/sha256 and prints its digest hex
blob() {
    local h
    h=$(sha "$1")
    mkdir -p "$2/blobs/sha256"
    cp "$1" "$2/blobs/sha256/$h"
    echo "$h"
}

# config ARCH DIFFID... -> JSON on stdout
config() {
    local arch=$1 ids="" sep=""
    shift
    for d in "$@"; do
        ids="$ids$sep\"sha256:$d\""
        sep=,
    done
    printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$arch" "$ids"
}

# manifest LAYOUT ARCH LAYERMEDIATYPE (COMPRESSED UNCOMPRESSED)... -> writes config+manifest,
# prints "<manifest hex> <manifest size>"
manifest() {
    local layout=$1 arch=$2 mt=$3
    shift 3
    local layers="" ids=() sep="" c u ch mh
    while [ $# -gt 0 ]; do
        c=$1 u=$2
        shift 2
        ch=$(blob "$c" "$layout")
        layers="$layers$sep{\"mediaType\":\"$mt\",\"digest\":\"sha256:$ch\",\"size\":$(size "$c")}"
        sep=,
        ids+=("$(sha "$u")")
    done
    config "$arch" "${ids[@]}" >"$WORK/config.json"
    ch=$(blob "$WORK/config.json" "$layout")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
        "$ch" "$(size "$WORK/config.json")" "$layers" >"$WORK/manifest.json"
    mh=$(blob "$WORK/manifest.json" "$layout")
    echo "$mh $(size "$WORK/manifest.json")"
}

# index LAYOUT NAME MEDIATYPE HEX SIZE [PLATFORM-JSON] -> index.json naming the image
index() {
    local layout=$1 name=$2 mt=$3 h=$4 s=$5 plat=${6:-}
    printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,%s"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
        "$mt" "$h" "$s" "$plat" "$name" >"$layout/index.json"
}

L=$OUT/oci/busybox
mkdir -p "$L"
read -r mh ms < <(manifest "$L" "$ARCH" application/vnd.oci.image.layer.v1.tar+gzip \
    "$OUT/layers/busybox.tar.gz" "$OUT/layers/busybox.tar")
index "$L" docker.io/berth/busybox:latest application/vnd.oci.image.manifest.v1+json "$mh" "$ms"

L=$OUT/oci/busybox-zstd
mkdir -p "$L"
read -r mh ms < <(manifest "$L" "$ARCH" application/vnd.oci.image.layer.v1.tar+zstd \
    "$OUT/layers/busybox.tar.zst" "$OUT/layers/busybox.tar")
index "$L" docker.io/berth/busybox-zstd:latest application/vnd.oci.image.manifest.v1+json "$mh" "$ms"

L=$OUT/oci/multi
mkdir -p "$L"
gzip -n -c "$OUT/layers/multi1.tar" >"$WORK/multi1.tar.gz"
gzip -n -c "$OUT/layers/multi2.tar" >"$WORK/multi2.tar.gz"
read -r mh ms < <(manifest "$L" "$ARCH" application/vnd.oci.image.layer.v1.tar+gzip \
    "$OUT/layers/busybox.tar.gz" "$OUT/layers/busybox.tar" \
    "$WORK/multi1.tar.gz" "$OUT/layers/multi1.tar" "$WORK/multi2.tar.gz" "$OUT/layers/multi2.tar")
index "$L" docker.io/berth/multi:latest application/vnd.oci.image.manifest.v1+json "$mh" "$ms"

# multiarch: an inner index with an amd64 and an arm64 manifest over the same layer
L=$OUT/oci/multiarch
mkdir -p "$L"
read -r ah as < <(manifest "$L" amd64 application/vnd.oci.image.layer.v1.tar+gzip \
    "$OUT/layers/busybox.tar.gz" "$OUT/layers/busybox.tar")
read -r rh rs < <(manifest "$L" arm64 application/vnd.oci.image.layer.v1.tar+gzip \
    "$OUT/layers/busybox.tar.gz" "$OUT/layers/busybox.tar")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
    "$ah" "$as" "$rh" "$rs" >"$WORK/index.json"
ih=$(blob "$WORK/index.json" "$L")
index "$L" docker.io/berth/multiarch:latest application/vnd.oci.image.index.v1+json "$ih" \
    "$(size "$WORK/index.json")"

for name in busybox busybox-zstd multi multiarch; do
    (cd "$OUT/oci/$name" && "${TAR[@]}" -cf "$OUT/oci/$name.tar" oci-layout index.json blobs)
done

# ---- docker save ----
D=$WORK/docker
mkdir -p "$D"
lh=$(sha "$OUT/layers/busybox.tar")
mkdir -p "$D/$lh"
cp "$OUT/layers/busybox.tar" "$D/$lh/layer.tar"
printf '1.0' >"$D/$lh/VERSION"
config "$ARCH" "$lh" >"$D/config.json"
ch=$(sha "$D/config.json")
mv "$D/config.json" "$D/$ch.json"
printf '[{"Config":"%s.json","RepoTags":["berth/busybox:latest"],"Layers":["%s/layer.tar"]}]' \
    "$ch" "$lh" >"$D/manifest.json"
printf '{"berth/busybox":{"latest":"%s"}}' "$lh" >"$D/repositories"
(cd "$D" && "${TAR[@]}" -cf "$OUT/docker/busybox.tar" .)

echo "mkimages.sh: wrote $OUT"
