#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A misbehaving registry for the pull tests (test-only; python3 http.server, threaded).

Serves one OCI image layout (--layout DIR) under any repository name, the way the
distribution API does:
  HEAD|GET /v2/<repo>/manifests/<tag|digest>   tags from index.json's
                                               org.opencontainers.image.ref.name ("latest" also
                                               names the first entry); unknown: 404
                                               MANIFEST_UNKNOWN
  HEAD|GET /v2/<repo>/blobs/<digest>           with Range (bytes=N- and N-M: 206 Content-Range)
  GET /token                                   token endpoint for --auth bearer
and misbehaves according to the mode: --mode, or the first line of --mode-file, re-read on
every request so a test can switch modes while the server runs (`echo normal > FILE`).
Modes (apply to the target blob, --target DIGEST, default the largest blob in the layout):
  normal        behave
  bad-digest    same size, one byte flipped (the digest no longer matches)
  bad-size      the blob plus 100 extra bytes (Content-Length says so too)
  stall         send --stall-bytes of the body (default: half), then send nothing more until the
                mode changes or --stall-max seconds pass, then drop the connection
  500           every /v2 request answers 500 with an error body
  500:N         the first N /v2 requests answer 500, then behave (for retry tests)
  redirect      every blob GET answers 307 to the second listener (--redirect-port-file), which
                serves the blob without asking for credentials and logs whether Authorization
                arrived (it must not)
  redirect-loop every blob GET answers 302 to itself (with a changing query), forever
  big-manifest  the tag resolves to a valid manifest padded with an annotation to 4.5 MiB
  deny          every /v2 request answers 401 with a Bearer challenge carrying
                error="insufficient_scope" (pull access denied)
--auth basic|bearer makes the main listener ask for credentials (--user/--password; Bearer
tokens come from GET or POST /token on the main listener with those credentials, or
anonymously for GET without Authorization).

Every request (both listeners) is appended to --log as a JSON line: listener, method, path,
range, authorization (the header value: test-only file), status, bytes (body bytes sent).
Ports: chosen by the kernel, written to --port-file (and --redirect-port-file).
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--layout", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--redirect-port-file")
    p.add_argument("--mode", default="normal")
    p.add_argument("--mode-file")
    p.add_argument("--target")
    p.add_argument("--stall-bytes", type=int, default=-1)
    p.add_argument("--stall-max", type=float, default=300.0)
    p.add_argument("--auth", choices=("none", "basic", "bearer"), default="none")
    p.add_argument("--user", default="berth")
    p.add_argument("--password", default="s3cret-pw")
    return p.parse_args()


ARGS = parse_args()
LOCK = threading.Lock()
FAILS = {"n": 0}  # 500s sent so far (mode 500:N)
PORTS = {}


def blob_path(digest):
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        return None
    p = os.path.join(ARGS.layout, "blobs", "sha256", hexpart)
    return p if os.path.isfile(p) else None


def load_layout():
    with open(os.path.join(ARGS.layout, "index.json")) as f:
        idx = json.load(f)
    tags = {}
    for i, m in enumerate(idx.get("manifests", [])):
        name = (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if name:
            tags.setdefault(name, m)
        if i == 0:
            tags.setdefault("latest", m)
    blobs = os.listdir(os.path.join(ARGS.layout, "blobs", "sha256"))
    largest = max(blobs, key=lambda h: os.path.getsize(os.path.join(ARGS.layout, "blobs",
                                                                      "sha256", h)))
    return tags, ARGS.target or "sha256:" + largest


TAGS, TARGET = load_layout()


def big_manifest():
    """The latest manifest padded with an annotation to 4.5 MiB (valid JSON, own digest)."""
    desc = TAGS["latest"]
    with open(blob_path(desc["digest"]), "rb") as f:
        m = json.load(f)
    m.setdefault("annotations", {})["pad"] = "x" * (4608 * 1024)
    data = json.dumps(m).encode()
    return data, "sha256:" + hashlib.sha256(data).hexdigest(), desc["mediaType"]


BIG = None  # built on first use


def mode():
    if ARGS.mode_file:
        try:
            with open(ARGS.mode_file) as f:
                m = f.readline().strip()
            if m:
                return m
        except OSError:
            pass
    return ARGS.mode


def log(entry):
    with LOCK, open(ARGS.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "main"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----

    def record(self, status, sent=0):
        log({
            "listener": self.listener,
            "method": self.command,
            "path": self.path,
            "range": self.headers.get("Range"),
            "authorization": self.headers.get("Authorization"),
            "status": status,
            "bytes": sent,
        })

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.record(status)

    def error(self, status, code, message, detail=None, headers=()):
        self.send_json(status, {"errors": [{"code": code, "message": message,
                                            "detail": detail}]}, headers)

    def send_bytes(self, status, data, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            self.wfile.write(data)
            sent = len(data)
        self.record(status, sent)

    # ---- auth ----

    def realm(self):
        return "http://127.0.0.1:%d/token" % PORTS["main"]

    def authorized(self, repo):
        if self.listener != "main" or ARGS.auth == "none":
            return True
        auth = self.headers.get("Authorization") or ""
        if ARGS.auth == "basic":
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (ARGS.user, ARGS.password)).encode()).decode()
            if auth == want:
                return True
            self.error(401, "UNAUTHORIZED", "authentication required",
                       headers=[("WWW-Authenticate", 'Basic realm="bad-registry"')])
            return False
        if auth in ("Bearer anon-token", "Bearer user-token"):
            return True
        self.error(401, "UNAUTHORIZED", "authentication required", headers=[(
            "WWW-Authenticate",
            'Bearer realm="%s",service="bad-registry",scope="repository:%s:pull"' %
            (self.realm(), repo))])
        return False

    def token(self, body=None):
        auth = self.headers.get("Authorization") or ""
        ok = None
        if body is not None:
            form = urllib.parse.parse_qs(body)
            ok = (form.get("username", [""])[0] == ARGS.user and
                  form.get("password", [""])[0] == ARGS.password)
        elif auth.startswith("Basic "):
            ok = auth == "Basic " + base64.b64encode(
                ("%s:%s" % (ARGS.user, ARGS.password)).encode()).decode()
        if ok is False:
            return self.send_json(401, {"error": "invalid credentials"})
        tok = "user-token" if ok else "anon-token"
        key = "access_token" if body is not None else "token"
        return self.send_json(200, {key: tok, "expires_in": 300})

    # ---- routes ----

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        if urllib.parse.urlsplit(self.path).path == "/token" and self.listener == "main":
            return self.token(body)
        return self.error(405, "UNSUPPORTED", "method not allowed")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        if path == "/token" and self.listener == "main":
            return self.token()
        if not path.startswith("/v2/"):
            return self.error(404, "NOT_FOUND", "not found")
        m = mode()
        if m.startswith("500"):
            limit = int(m[4:]) if m.startswith("500:") else None
            with LOCK:
                fail = limit is None or FAILS["n"] < limit
                if fail:
                    FAILS["n"] += 1
            if fail:
                return self.error(500, "UNKNOWN", "internal server error (injected)")
        if path == "/v2/":
            return self.send_json(200, {})
        rest = path[len("/v2/"):]
        if "/manifests/" in rest:
            repo, _, ref = rest.rpartition("/manifests/")
            kind = "manifest"
        elif "/blobs/" in rest:
            repo, _, ref = rest.rpartition("/blobs/")
            kind = "blob"
        else:
            return self.error(404, "NOT_FOUND", "not found")
        if m == "deny":
            return self.error(401, "DENIED", "access denied", headers=[(
                "WWW-Authenticate",
                'Bearer realm="%s",service="bad-registry",scope="repository:%s:pull",'
                'error="insufficient_scope"' % (self.realm(), repo))])
        if not self.authorized(repo):
            return None
        if kind == "manifest":
            return self.manifest(repo, ref, m)
        return self.blob(repo, ref, m, u.query)

    def manifest(self, repo, ref, m):
        global BIG
        if m == "big-manifest":
            with LOCK:
                if BIG is None:
                    BIG = big_manifest()
            data, dg, mt = BIG
            if ref in ("latest", dg):
                return self.send_bytes(200, data, mt, [("Docker-Content-Digest", dg)])
        if ref.startswith("sha256:"):
            p = blob_path(ref)
            mt = None
            if p:
                with open(p, "rb") as f:
                    data = f.read()
                try:
                    mt = json.loads(data).get("mediaType")
                except ValueError:
                    mt = None
            if not p or mt not in MANIFEST_TYPES:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Digest": ref})
            return self.send_bytes(200, data, mt, [("Docker-Content-Digest", ref)])
        desc = TAGS.get(ref)
        if not desc:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"Tag": ref})
        with open(blob_path(desc["digest"]), "rb") as f:
            data = f.read()
        return self.send_bytes(200, data, desc["mediaType"],
                               [("Docker-Content-Digest", desc["digest"])])

    def blob(self, repo, digest, m, query):
        p = blob_path(digest)
        if not p:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry", digest)
        target = digest == TARGET
        if self.listener == "main" and self.command == "GET":
            if m == "redirect":
                self.send_response(307)
                self.send_header("Location", "http://127.0.0.1:%d/v2/%s/blobs/%s" %
                                 (PORTS["redirect"], repo, digest))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self.record(307)
            if m == "redirect-loop":
                n = int(urllib.parse.parse_qs(query).get("loop", ["0"])[0])
                self.send_response(302)
                self.send_header("Location", "/v2/%s/blobs/%s?loop=%d" % (repo, digest, n + 1))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self.record(302)
        with open(p, "rb") as f:
            data = f.read()
        if target and m == "bad-digest":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        elif target and m == "bad-size":
            data = data + b"\0" * 100
        size = len(data)
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        status = 200
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            try:
                start = int(a)
                end = int(b) if b else size - 1
            except ValueError:
                return self.error(416, "BLOB_UNKNOWN", "bad range")
            if start >= size or end < start:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self.record(416)
            end = min(end, size - 1)
            status = 206
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Content-Digest", digest)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if self.command == "HEAD":
            return self.record(status)
        if target and m == "stall" and self.listener == "main":
            part = ARGS.stall_bytes if ARGS.stall_bytes >= 0 else len(body) // 2
            part = min(part, len(body))
            self.wfile.write(body[:part])
            self.wfile.flush()
            self.record(status, part)
            deadline = time.monotonic() + ARGS.stall_max
            while mode() == "stall" and time.monotonic() < deadline:
                time.sleep(0.1)
            # never finish the body: the client sees a connection cut short
            self.close_connection = True
            return None
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return self.record(status, len(body))


class RedirectHandler(Handler):
    listener = "redirect"


def serve(handler, port_file, key):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    PORTS[key] = srv.server_address[1]
    return srv, port_file


def main():
    servers = [serve(Handler, ARGS.port_file, "main")]
    if ARGS.redirect_port_file:
        servers.append(serve(RedirectHandler, ARGS.redirect_port_file, "redirect"))
    else:
        PORTS["redirect"] = 0
    for srv, pf in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    for srv, pf in servers:  # ports are published once everything listens
        with open(pf + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(pf + ".tmp", pf)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
