#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the binary seed files of tests/fuzz/corpus (the text seeds are written by hand):
# ttrpc streams, SPDY/3.1 frames with zlib header blocks, WebSocket frames, HTTP heads and
# layer tarballs (plain, gzip, zstd) with hostile entries. Deterministic; run from anywhere,
# then commit what changed: python3 tests/fuzz/make-corpus.py
import gzip
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- protobuf wire format
def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_len(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def pb_int(field, n):
    return varint(field << 3) + varint(n)


# --- ttrpc: 10-byte header (len, stream id, type, flags) + payload
def ttrpc_frame(sid, typ, payload, flags=0):
    return struct.pack(">IIBB", len(payload), sid, typ, flags) + payload


def ttrpc_request(method, payload, ns="default"):
    return (pb_len(1, "containerd.task.v2.Task") + pb_len(2, method) + pb_len(3, payload) +
            pb_int(4, 1000000000) + pb_len(5, pb_len(1, "containerd-namespace-ttrpc") +
                                             pb_len(2, ns)))


def ttrpc_seeds():
    mount = pb_len(1, "overlay") + pb_len(2, "overlay") + pb_len(4, "lowerdir=/a")
    create = (pb_len(1, "web") + pb_len(2, "/run/berth/b/web") + pb_len(3, mount) +
              pb_len(6, "crilog:///var/log/pods/x/0.log"))
    # first byte: write size - 1
    put("ttrpc", "create", bytes([255]) + ttrpc_frame(1, 1, ttrpc_request("Create", create)))
    put("ttrpc", "two-in-bytes", bytes([0]) + ttrpc_frame(1, 1, ttrpc_request("Delete", pb_len(1, "web"))) +
        ttrpc_frame(3, 1, ttrpc_request("Create", b"")))
    put("ttrpc", "bad-ids", bytes([16]) + ttrpc_frame(2, 1, ttrpc_request("Create", create)) +
        ttrpc_frame(1, 3, b"", 4) + ttrpc_frame(5, 9, b"xx") + ttrpc_frame(7, 1, b"\xff\xff"))
    put("ttrpc", "unknown", bytes([99]) + ttrpc_frame(1, 1, pb_len(1, "x.Y") + pb_len(2, "Z")) +
        ttrpc_frame(3, 1, ttrpc_request("Kill", b"")) + struct.pack(">IIBB", 5 << 20, 5, 1, 0))


# --- SPDY/3.1 (client-go's spdystream): control frames and zlib header blocks
def spdy_dictionary():
    src = open(os.path.join(ROOT, "services/streaming/spdy-dict.c")).read()
    body = src[src.index("{", src.index("berth_spdy_dictionary")):]
    return bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body))


def spdy_ctrl(typ, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, typ, flags << 24 | len(payload)) + payload


def spdy_block(z, headers):
    raw = struct.pack(">I", len(headers))
    for k, v in headers:
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    return z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)


def spdy_seeds():
    z = zlib.compressobj(zdict=spdy_dictionary())
    syn1 = spdy_ctrl(1, 0, struct.pack(">IIBB", 1, 0, 0, 0) +
                     spdy_block(z, [("streamtype", "error"), ("port", "8080")]))
    syn3 = spdy_ctrl(1, 2, struct.pack(">IIBB", 3, 0, 0x20, 0) +
                     spdy_block(z, [("streamtype", "stdout"), ("x", "a\0b")]))
    data = struct.pack(">IBBH", 3, 1, 0, 5) + b"hello"
    ping = spdy_ctrl(6, 0, struct.pack(">I", 1))
    rst = spdy_ctrl(3, 0, struct.pack(">II", 1, 5))
    settings = spdy_ctrl(4, 0, struct.pack(">III", 1, 0x01000007, 1000))
    wu = spdy_ctrl(9, 0, struct.pack(">II", 3, 65536))
    goaway = spdy_ctrl(7, 0, struct.pack(">II", 3, 0))
    headers = spdy_ctrl(8, 0, struct.pack(">I", 3) + spdy_block(z, [("a", "b")]))
    put("spdy", "session", syn1 + syn3 + data + headers + ping + settings + wu + rst + goaway)
    put("spdy", "syn", syn1)
    put("spdy", "bad-version", struct.pack(">HHI", 0x8002, 1, 10) + b"\0" * 10)
    put("spdy", "data-only", data + struct.pack(">IBBH", 1, 1, 0, 0))


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = bytes([b0, 0x80 | n])
    elif n < 65536:
        hdr = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    return hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def ws_seeds():
    put("websocket", "channels", ws_frame(2, b"\x00ls -l\n") + ws_frame(2, b"\x04{\"Width\":80}") +
        ws_frame(9, b"ping") + ws_frame(8, struct.pack(">H", 1000) + b"bye"))
    put("websocket", "fragmented", ws_frame(1, b"MGVjaG8", False) + ws_frame(0, b"gaGkK", True))
    put("websocket", "long", ws_frame(2, b"x" * 300))
    put("websocket", "unmasked", bytes([0x82, 3]) + b"abc")


def http_seeds():
    put("http", "spdy",
        b"POST /exec/Ab3_x-9Q HTTP/1.1\r\nHost: 127.0.0.1:10010\r\nConnection: Upgrade\r\n"
        b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
        b"X-Stream-Protocol-Version: v3.channel.k8s.io, channel.k8s.io\r\n\r\n")
    put("http", "websocket",
        b"GET /attach/tok?stdout=1&tty=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io,, base64.channel.k8s.io\r\n\r\n")
    put("http", "bare-lf", b"GET /portforward/x HTTP/1.0\nContent-Length: 0\nContent-Length: 0\n\n")
    put("http", "metrics", b"GET /v1/metrics HTTP/1.1\r\nAccept: text/plain\r\n\r\nbody")


# --- layers: tar entries (name, type, extra), type one of file/dir/sym/hard/fifo/chr
def tar_bytes(entries):
    buf = io.BytesIO()
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for name, kind, arg in entries:
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        ti.mode = 0o644
        data = None
        if kind == "file":
            data = arg.encode()
            ti.size = len(data)
        elif kind == "dir":
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        elif kind == "sym":
            ti.type, ti.linkname = tarfile.SYMTYPE, arg
        elif kind == "hard":
            ti.type, ti.linkname = tarfile.LNKTYPE, arg
        elif kind == "fifo":
            ti.type = tarfile.FIFOTYPE
        elif kind == "chr":
            ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
    end = t.offset
    t.close()
    # tarfile pads to a 10 KiB record; keep only the end-of-archive blocks
    return buf.getvalue()[:end + 1024]


OUT = "/tmp/berth-fuzz-outside"  # fuzz_apply.c's trap (OUTSIDE_LINK)


def apply_seeds():
    normal = tar_bytes([("etc/", "dir", None), ("etc/hostname", "file", "pod\n"),
                        ("bin", "sym", "usr/bin"), ("usr/bin/", "dir", None),
                        ("usr/bin/sh", "file", "#!"), ("etc/hn2", "hard", "etc/hostname"),
                        ("run/fifo", "fifo", None), ("dev/null", "chr", None),
                        ("etc/.wh.old", "file", ""), ("var/.wh..wh..opq", "file", ""),
                        ("/abs/file", "file", "x")])
    dotdot = tar_bytes([("../escape", "file", "x"), ("a/../../escape2", "file", "y"),
                        ("./../../outside/file", "file", "overwrite")])
    symlinks = tar_bytes([("s", "sym", OUT), ("s/pwned", "file", "x"),
                          ("r", "sym", "../../outside"), ("r/pwned", "file", "y"),
                          ("d/", "dir", None), ("d/up", "sym", "../.."), ("d/up/run/x", "file", "z"),
                          ("loop", "sym", "loop"), ("loop/f", "file", "")])
    hardlinks = tar_bytes([("h", "hard", OUT + "/file"), ("h2", "hard", "../outside/file"),
                           ("h3", "hard", "/etc/passwd"), ("h", "file", "through the link"),
                           ("sl", "sym", OUT), ("h4", "hard", "sl/file")])
    whiteouts = tar_bytes([("a/", "dir", None), ("a/f", "file", "1"), ("a/.wh..wh..opq", "file", ""),
                           (".wh...", "file", ""), ("a/.wh...", "file", ""), ("b", "file", "2"),
                           ("b/", "dir", None), ("a", "file", "replaces a dir")])
    put("apply", "normal.tar", normal)
    put("apply", "normal-overlay.tar", normal + b"\0")  # odd length: OVERLAY mode
    put("apply", "dotdot.tar", dotdot)
    put("apply", "symlinks.tar", symlinks)
    put("apply", "symlinks-overlay.tar", symlinks + b"\0")
    put("apply", "hardlinks.tar", hardlinks)
    put("apply", "whiteouts-overlay.tar", whiteouts + b"\0")
    put("apply", "normal.tar.gz", gzip.compress(normal, mtime=0))
    if shutil.which("zstd"):
        z = subprocess.run(["zstd", "-q", "-c", "-3"], input=symlinks, stdout=subprocess.PIPE,
                           check=True).stdout
        put("apply", "symlinks.tar.zst", z)


# --- gRPC requests: two bytes (little endian) of method index, then the request. Indexes as
# `BERTH_FUZZ_GRPC_LIST=1 build-fuzz/fuzz/fuzz_grpc` prints them when the seeds were made.
def grpc(name, index, body):
    put("grpc", name, struct.pack("<H", index) + body)
    put("services", name, struct.pack("<H", index) + body)  # same input format


def kv(field, k, v):  # a map<string,string> entry, or a KeyValue
    return pb_len(field, pb_len(1, k) + pb_len(2, v))


def grpc_seeds():
    spec = pb_len(1, "types.containerd.io/opencontainers/runtime-spec/1/Spec") + pb_len(2, b'{"ociVersion":"1.1.0"}')
    container = (pb_len(1, "web") + kv(2, "io.cri-containerd.kind", "container") +
                 pb_len(3, "docker.io/library/nginx:1.25") +
                 pb_len(4, pb_len(1, "io.containerd.runc.v2")) + pb_len(5, spec) +
                 pb_len(6, "overlayfs") + pb_len(7, "web-snap"))
    grpc("containers-create", 3, pb_len(1, container))
    grpc("containers-update", 4, pb_len(1, container) + pb_len(2, pb_len(1, "labels.a") + pb_len(1, "image")))
    grpc("images-list", 21, pb_len(1, 'name~="^docker\\.io/",labels."x.y"==z') + pb_len(1, "target.mediatype"))
    grpc("bad-utf8", 21, pb_len(1, b"name==\xc0\xaf"))
    grpc("nul-in-id", 3, pb_len(1, pb_len(1, b"we\0b")))
    meta = pb_len(1, "nginx") + pb_len(2, "uid-1") + pb_len(3, "default") + pb_int(4, 1)
    podcfg = (pb_len(1, meta) + pb_len(2, "nginx") + pb_len(3, "/var/log/pods/default_nginx_uid-1") +
              pb_len(4, pb_len(1, "10.96.0.10") + pb_len(2, "svc.cluster.local") + pb_len(3, "ndots:5")) +
              pb_len(5, pb_int(1, 0) + pb_int(2, 80) + pb_int(3, 8080) + pb_len(4, "127.0.0.1")) +
              kv(6, "app", "nginx") + kv(7, "kubernetes.io/config.source", "api"))
    grpc("cri-runpodsandbox", 82, pb_len(1, podcfg) + pb_len(2, "runc"))
    ccfg = (pb_len(1, pb_len(1, "nginx") + pb_int(2, 0)) + pb_len(2, pb_len(1, "nginx:1.25")) +
            pb_len(3, "/bin/sh") + pb_len(4, "-c") + pb_len(4, "sleep 1") + pb_len(5, "/") +
            kv(6, "PATH", "/bin") + pb_len(7, pb_len(1, "/data") + pb_len(2, "/var/lib/x") + pb_int(3, 1)))
    grpc("cri-createcontainer", 87, pb_len(1, "0123456789ab") + pb_len(2, ccfg) + pb_len(3, podcfg))
    grpc("cri-pullimage", 112, pb_len(1, pb_len(1, "busybox") + kv(2, "a", "b")) +
         pb_len(2, pb_len(1, "user") + pb_len(2, "secret")) + pb_len(3, podcfg))
    nested = b""
    for _ in range(40):
        nested = pb_len(1, nested)
    grpc("deep", 87, pb_len(2, nested))
    grpc("truncated", 82, pb_len(1, podcfg)[:-7])


# --- fuzz_services: fuzz_grpc's seeds (written by grpc() above) and valid requests that reach
# the stores. Its first two bytes also pick the namespace header (bits 12-13: default, none,
# k8s.io, invalid) and the lease header (bits 14-15: none, fuzz-lease, gone, invalid). The
# names are those fuzz_services.c preloads in default and k8s.io: namespace labels fuzz=yes,
# lease fuzz-lease, the blob BLOB and the partial ingest fuzz-ref, snapshots base (committed)
# and active (on base) in overlayfs and native, image docker.io/library/fuzz:1, container web.
SVC = {n: i for i, n in enumerate([
    "containers/Get", "containers/List", "containers/ListStream", "containers/Create",
    "containers/Update", "containers/Delete", "content/Info", "content/Update", "content/List",
    "content/Delete", "content/Read", "content/Status", "content/ListStatuses", "content/Write",
    "content/Abort"])}
SVC.update({"events/Publish": 17, "events/Forward": 18, "images/Get": 20, "images/List": 21,
            "images/Create": 22, "images/Update": 23, "images/Delete": 24,
            "introspection/Plugins": 25, "leases/Create": 28, "leases/Delete": 29,
            "leases/List": 30, "leases/AddResource": 31, "leases/DeleteResource": 32,
            "leases/ListResources": 33, "namespaces/Get": 34, "namespaces/Create": 36,
            "namespaces/Update": 37, "namespaces/Delete": 38})
SVC.update({"snapshots/" + n: 53 + i for i, n in enumerate([
    "Prepare", "View", "Mounts", "Commit", "Remove", "Stat", "Update", "List", "Usage",
    "Cleanup"])})
SVC.update({"tasks/Create": 63})
NS = {"default": 0, None: 1, "k8s.io": 2, "invalid": 3}
LEASE = {None: 0, "fuzz-lease": 1, "gone": 2, "invalid": 3}
BLOB = b"berth fuzz blob\n"
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def svc(name, method, body, ns="default", lease=None):
    v = SVC[method] | NS[ns] << 12 | LEASE[lease] << 14
    put("services", name, struct.pack("<H", v) + body)


def mask(*paths):
    return b"".join(pb_len(1, p) for p in paths)


def services_seeds():
    svc("ns-create", "namespaces/Create", pb_len(1, pb_len(1, "team-a") + kv(2, "owner", "x")))
    svc("ns-update", "namespaces/Update", pb_len(1, pb_len(1, "default") + kv(2, "fuzz", "no")) +
        pb_len(2, mask("labels.fuzz")))
    svc("ns-delete-busy", "namespaces/Delete", pb_len(1, "default"))
    svc("ns-get", "namespaces/Get", pb_len(1, "k8s.io"))
    svc("lease-create", "leases/Create", pb_len(1, "l2") + kv(3, "containerd.io/gc.expire",
                                                           "2030-01-01T00:00:00Z"))
    svc("lease-create-generated", "leases/Create", b"", ns="k8s.io")
    svc("lease-add", "leases/AddResource", pb_len(1, "fuzz-lease") +
        pb_len(2, pb_len(1, "active") + pb_len(2, "snapshots/overlayfs")))
    svc("lease-add-content", "leases/AddResource", pb_len(1, "fuzz-lease") +
        pb_len(2, pb_len(1, BLOB_DIGEST) + pb_len(2, "content")))
    svc("lease-del-res", "leases/DeleteResource", pb_len(1, "fuzz-lease") +
        pb_len(2, pb_len(1, "active") + pb_len(2, "snapshots/overlayfs")))
    svc("lease-list-res", "leases/ListResources", pb_len(1, "fuzz-lease"))
    svc("lease-list", "leases/List", pb_len(1, 'id~="fuzz"'))
    svc("lease-delete", "leases/Delete", pb_len(1, "fuzz-lease") + pb_int(2, 1))
    target = pb_len(1, "application/vnd.oci.image.manifest.v1+json") + pb_len(2, BLOB_DIGEST) + \
        pb_int(3, len(BLOB))
    svc("image-create", "images/Create", pb_len(1, pb_len(1, "docker.io/library/new:2") +
                                             kv(2, "a", "b") + pb_len(3, target)), lease="fuzz-lease")
    svc("image-update", "images/Update", pb_len(1, pb_len(1, "docker.io/library/fuzz:1") +
                                             kv(2, "a", "c") + pb_len(3, target)) +
        pb_len(2, mask("labels.a", "target")))
    svc("image-delete", "images/Delete", pb_len(1, "docker.io/library/fuzz:1") + pb_int(2, 1) +
        pb_len(3, target))
    svc("image-get", "images/Get", pb_len(1, "docker.io/library/fuzz:1"), ns="k8s.io")
    spec = pb_len(1, "types.containerd.io/opencontainers/runtime-spec/1/Spec") + pb_len(2, b"{}")
    c = (pb_len(1, "web2") + kv(2, "io.cri-containerd.kind", "sandbox") +
         kv(2, "containerd.io/gc.ref.snapshot.overlayfs", "active") +
         pb_len(3, "docker.io/library/fuzz:1") + pb_len(4, pb_len(1, "io.containerd.runc.v2")) +
         pb_len(5, spec) + pb_len(6, "native") + pb_len(7, "active") +
         pb_len(10, pb_len(1, "ext") + pb_len(2, pb_len(1, "x.Y") + pb_len(2, b"\x01"))))
    svc("container-create", "containers/Create", pb_len(1, c), lease="fuzz-lease")
    svc("container-update", "containers/Update", pb_len(1, pb_len(1, "web") + kv(2, "x", "y") +
                                                      pb_len(7, "base")) +
        pb_len(2, mask("labels.x", "snapshotkey")))
    svc("container-delete", "containers/Delete", pb_len(1, "web"), ns="k8s.io")
    svc("container-get", "containers/Get", pb_len(1, "web"))
    svc("container-list", "containers/List", pb_len(1, 'labels."io.cri-containerd.kind"==sandbox'))
    for sn in ("overlayfs", "native"):
        svc("snap-prepare-" + sn, "snapshots/Prepare", pb_len(1, sn) + pb_len(2, "k1") +
            pb_len(3, "base") + kv(4, "containerd.io/snapshot.ref", "r"), lease="fuzz-lease")
        svc("snap-view-" + sn, "snapshots/View", pb_len(1, sn) + pb_len(2, "v1") + pb_len(3, "base"))
        svc("snap-commit-" + sn, "snapshots/Commit", pb_len(1, sn) + pb_len(2, "c1") +
            pb_len(3, "active") + kv(4, "l", "v"))
        svc("snap-remove-" + sn, "snapshots/Remove", pb_len(1, sn) + pb_len(2, "active"))
        svc("snap-remove-parent-" + sn, "snapshots/Remove", pb_len(1, sn) + pb_len(2, "base"))
        svc("snap-stat-" + sn, "snapshots/Stat", pb_len(1, sn) + pb_len(2, "base"))
        svc("snap-mounts-" + sn, "snapshots/Mounts", pb_len(1, sn) + pb_len(2, "active"))
        svc("snap-usage-" + sn, "snapshots/Usage", pb_len(1, sn) + pb_len(2, "active"))
        svc("snap-update-" + sn, "snapshots/Update", pb_len(1, sn) +
            pb_len(2, pb_len(1, "base") + kv(6, "containerd.io/gc.root", "x")) +
            pb_len(3, mask("labels.containerd.io/gc.root")))
        svc("snap-list-" + sn, "snapshots/List", pb_len(1, sn) + pb_len(2, "kind==committed"))
        svc("snap-cleanup-" + sn, "snapshots/Cleanup", pb_len(1, sn))
    svc("content-info", "content/Info", pb_len(1, BLOB_DIGEST))
    svc("content-update", "content/Update", pb_len(1, pb_len(1, BLOB_DIGEST) + kv(5, "k", "v")) +
        pb_len(2, mask("labels.k")))
    svc("content-delete", "content/Delete", pb_len(1, BLOB_DIGEST), lease="fuzz-lease")
    svc("content-read", "content/Read", pb_len(1, BLOB_DIGEST) + pb_int(2, 3) + pb_int(3, 4))
    svc("content-list", "content/List", pb_len(1, "labels.k==v"))
    svc("content-status", "content/Status", pb_len(1, "fuzz-ref"))
    svc("content-statuses", "content/ListStatuses", pb_len(1, "ref~=fuzz"))
    svc("content-abort", "content/Abort", pb_len(1, "fuzz-ref"))
    data = b"hello"
    svc("content-write-commit", "content/Write", pb_int(1, 2) + pb_len(2, "w1") +
        pb_int(3, len(data)) + pb_len(4, "sha256:" + hashlib.sha256(data).hexdigest()) +
        pb_len(6, data) + kv(7, "containerd.io/uncompressed", BLOB_DIGEST), lease="fuzz-lease")
    svc("content-write-partial", "content/Write", pb_int(1, 1) + pb_len(2, "fuzz-ref") +
        pb_int(5, 5) + pb_len(6, data))
    ts = pb_int(1, 1700000000) + pb_int(2, 5)
    any_ev = pb_len(1, "containerd.events.ContainerCreate") + pb_len(2, pb_len(1, "web"))
    svc("events-publish", "events/Publish", pb_len(1, "/containers/create") + pb_len(2, any_ev))
    svc("events-forward", "events/Forward", pb_len(1, pb_len(1, ts) + pb_len(2, "default") +
                                                   pb_len(3, "/x/y") + pb_len(4, any_ev)), ns=None)
    svc("task-create", "tasks/Create", pb_len(1, "web"))


# --- the CRI in fuzz_services: RuntimeService 81-109, ImageService 110-114 (fuzz_grpc's order).
# Its image view is k8s.io's: the preloaded CRI image (CRI_CONFIG in fuzz_services.c, for the
# host platform, no layers) under a tag, a digest and its id. Its pod and container stores stay
# empty, so calls naming one answer NOT_FOUND after their checks.
CRI = {n: 81 + i for i, n in enumerate([
    "Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
    "ListPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
    "ListContainers", "ContainerStatus", "UpdateContainerResources", "ReopenContainerLog",
    "ExecSync", "Exec", "Attach", "PortForward", "ContainerStats", "ListContainerStats",
    "PodSandboxStats", "ListPodSandboxStats", "UpdateRuntimeConfig", "Status",
    "CheckpointContainer", "GetContainerEvents", "ListMetricDescriptors",
    "ListPodSandboxMetrics", "RuntimeConfig", "ListImages", "ImageStatus", "PullImage",
    "RemoveImage", "ImageFsInfo"])}
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
CRI_CONFIG = ('{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],'
              '"StopSignal":"SIGINT"},"rootfs":{"type":"layers","diff_ids":[]}}' % ARCH).encode()
CRI_CONFIG_DIGEST = "sha256:" + hashlib.sha256(CRI_CONFIG).hexdigest()
CRI_MANIFEST = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s",'
                '"size":%d},"layers":[]}' % (CRI_CONFIG_DIGEST, len(CRI_CONFIG))).encode()
CRI_MANIFEST_DIGEST = "sha256:" + hashlib.sha256(CRI_MANIFEST).hexdigest()
VERSION = re.search(r"project\(berth VERSION ([0-9.]+)", open(os.path.join(ROOT, "CMakeLists.txt")).read()).group(1)


def cri(name, method, body):
    put("services", "cri-" + name, struct.pack("<H", CRI[method]) + body)


def cri_seeds():
    image = lambda ref: pb_len(1, ref)  # ImageSpec
    sel = kv(3, "app", "nginx")
    cri("version", "Version", pb_len(1, "v1"))
    cri("status-verbose", "Status", pb_int(1, 1))
    cri("update-runtime-config", "UpdateRuntimeConfig", pb_len(1, pb_len(1, pb_len(1, "10.88.0.0/16"))))
    cri("list-images", "ListImages", pb_len(1, pb_len(1, image("busybox:1.36"))))
    cri("image-status", "ImageStatus", pb_len(1, image("busybox:1.36")) + pb_int(2, 1))
    cri("image-status-id", "ImageStatus", pb_len(1, image(CRI_CONFIG_DIGEST[7:19])) + pb_int(2, 1))
    cri("image-status-digest", "ImageStatus",
        pb_len(1, image("docker.io/library/busybox@" + CRI_MANIFEST_DIGEST)))
    cri("remove-image", "RemoveImage", pb_len(1, image("docker.io/library/busybox:1.36")))
    cri("remove-image-id", "RemoveImage", pb_len(1, image(CRI_CONFIG_DIGEST)))
    cri("image-fs-info", "ImageFsInfo", b"")
    cri("pull", "PullImage", pb_len(1, image("busybox:1.36")))
    # "auth" that decodes to no user:password (its buffer leaked once)
    cri("pull-bad-auth", "PullImage", pb_len(1, image("busybox")) + pb_len(2, pb_len(3, "bm9jb2xvbg==")))
    meta = pb_len(1, "web") + pb_len(2, "uid-2") + pb_len(3, "default") + pb_int(4, 0)
    podcfg = pb_len(1, meta) + pb_len(2, "web") + pb_len(3, "/var/log/pods/default_web_uid-2") + \
        kv(6, "app", "nginx")
    cri("run-pod", "RunPodSandbox", pb_len(1, podcfg))
    cri("run-pod-handler", "RunPodSandbox", pb_len(1, podcfg) + pb_len(2, "kata"))
    cri("stop-pod", "StopPodSandbox", pb_len(1, "0123456789ab"))
    cri("remove-pod", "RemovePodSandbox", pb_len(1, "0123456789ab"))
    cri("pod-status", "PodSandboxStatus", pb_len(1, "0123") + pb_int(2, 1))
    cri("list-pods", "ListPodSandbox", pb_len(1, pb_len(1, "01") + pb_len(2, pb_int(1, 0)) + sel))
    ccfg = (pb_len(1, pb_len(1, "web") + pb_int(2, 0)) + pb_len(2, image("busybox:1.36")) +
            pb_len(3, "/bin/sh") + pb_len(4, "-c") + pb_len(4, "sleep 1") + kv(6, "A", "b") +
            pb_len(11, "web/0.log"))
    cri("create-container", "CreateContainer", pb_len(1, "0123456789ab") + pb_len(2, ccfg) +
        pb_len(3, podcfg))
    # what CreateContainer's spec step (cri_container_spec) reads: mounts, devices, resources,
    # the security context, the pod's cgroup parent and namespaces
    res = (pb_int(1, 100000) + pb_int(2, 50000) + pb_int(3, 512) + pb_int(4, 1 << 28) +
           pb_int(5, (1 << 64) - 999) + pb_len(6, "0-1") + kv(9, "memory.high", "200000000"))
    sc = (pb_len(1, pb_len(1, "CAP_NET_ADMIN") + pb_len(2, "ALL")) +
          pb_len(3, pb_int(1, 2) + pb_int(2, 0)) + pb_len(5, pb_int(1, 1000)) +
          pb_len(12, pb_int(1, 1000)) + pb_int(7, 1) + pb_len(8, b"\x01\x02") + pb_int(11, 1) +
          pb_len(13, "/proc/kcore") + pb_len(14, "/proc/sys") + pb_len(15, pb_int(1, 0)))
    rich = (pb_len(1, pb_len(1, "app") + pb_int(2, 1)) + pb_len(2, image("busybox:1.36")) +
            pb_len(3, "/bin/sh") + pb_len(5, "/work") + kv(6, "A", "b") +
            pb_len(7, pb_len(1, "/data") + pb_len(2, "/etc") + pb_int(3, 1)) +
            pb_len(8, pb_len(1, "/dev/fuse") + pb_len(2, "/dev/fuse") + pb_len(3, "rw")) +
            kv(10, "x", "y") + pb_int(14, 1) + pb_len(15, pb_len(1, res) + pb_len(2, sc)))
    hostpod = podcfg + pb_len(8, pb_len(1, "/kubepods/pod2") +
                              pb_len(2, pb_len(1, pb_int(1, 2) + pb_int(3, 2)) + pb_int(6, 1)))
    cri("create-container-rich", "CreateContainer", pb_len(1, "0123456789ab") + pb_len(2, rich) +
        pb_len(3, hostpod))
    priv = (pb_len(1, pb_len(1, "priv")) + pb_len(2, image(CRI_CONFIG_DIGEST)) +
            pb_len(15, pb_len(2, pb_int(2, 1) + pb_len(15, pb_int(1, 2) + pb_len(2, "/x.json")))))
    cri("create-container-privileged", "CreateContainer", pb_len(1, "0123") + pb_len(2, priv) +
        pb_len(3, podcfg))
    cri("create-container-privileged-pod", "CreateContainer", pb_len(1, "0123") +
        pb_len(2, priv) + pb_len(3, hostpod))
    cri("start-container", "StartContainer", pb_len(1, "abc"))
    cri("stop-container", "StopContainer", pb_len(1, "abc") + pb_int(2, 10))
    cri("remove-container", "RemoveContainer", pb_len(1, "abc"))
    cri("list-containers", "ListContainers", pb_len(1, pb_len(1, "ab") + pb_len(2, pb_int(1, 1)) +
                                                    pb_len(3, "01") + kv(4, "app", "nginx")))
    cri("container-status", "ContainerStatus", pb_len(1, "abc") + pb_int(2, 1))
    cri("update-resources", "UpdateContainerResources", pb_len(1, "abc") + pb_len(
        2, pb_int(1, 100000) + pb_int(2, 50000) + pb_int(3, 512) + pb_int(4, 1 << 28)))
    cri("reopen-log", "ReopenContainerLog", pb_len(1, "abc"))
    cri("exec-sync", "ExecSync", pb_len(1, "abc") + pb_len(2, "ls") + pb_len(2, "/") + pb_int(3, 5))
    cri("exec", "Exec", pb_len(1, "abc") + pb_len(2, "sh") + pb_int(4, 1) + pb_int(5, 1))
    cri("exec-tty-stderr", "Exec", pb_len(1, "abc") + pb_len(2, "sh") + pb_int(3, 1) + pb_int(6, 1))
    cri("attach", "Attach", pb_len(1, "abc") + pb_int(2, 1) + pb_int(4, 1))
    cri("port-forward", "PortForward", pb_len(1, "0123") + pb_len(2, b"\x50\x90\x3f"))
    cri("container-stats", "ContainerStats", pb_len(1, "abc"))
    cri("list-container-stats", "ListContainerStats", pb_len(1, pb_len(1, "ab") + pb_len(2, "01") +
                                                             sel))
    cri("pod-stats", "PodSandboxStats", pb_len(1, "0123"))
    cri("list-pod-stats", "ListPodSandboxStats", pb_len(1, pb_len(1, "01") + kv(2, "app", "nginx")))
    cri("checkpoint", "CheckpointContainer", pb_len(1, "abc"))
    # the sandbox image, named after the layerless CRI image: RunPodSandbox stops at "no layers"
    target = pb_len(1, "application/vnd.oci.image.manifest.v1+json") + \
        pb_len(2, CRI_MANIFEST_DIGEST) + pb_int(3, len(CRI_MANIFEST))
    svc("image-create-pause", "images/Create",
        pb_len(1, pb_len(1, "localhost/berth/pause:" + VERSION) + pb_len(3, target)), ns="k8s.io")


if __name__ == "__main__":
    ttrpc_seeds()
    spdy_seeds()
    ws_seeds()
    http_seeds()
    apply_seeds()
    grpc_seeds()
    services_seeds()
    cri_seeds()
