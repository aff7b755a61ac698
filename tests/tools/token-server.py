#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Token server for the Bearer-auth test registry (docker-registry's `silly` auth provider).

The silly provider challenges every request that lacks Authorization with
    WWW-Authenticate: Bearer realm="<this server>/token",service="...",scope="..."
and accepts any Authorization value, so this server decides who gets a token:
  GET  /token?service=..&scope=..      anonymous (no Authorization): a token unless
                                       --no-anonymous; with `Authorization: Basic` the
                                       credentials must match --user/--password
  POST /token (form: grant_type=password, username, password, scope, service, client_id;
       or grant_type=refresh_token, refresh_token)
                                       a token when the credentials match, else 401
Replies: GET {"token","expires_in","issued_at"}, POST {"access_token","expires_in","issued_at"}.

Every request is appended to --log as one JSON object per line: method, path, query (dict of
lists), form (dict of lists, password included: the tests assert on what arrived; the file is
in the test's temp dir only), authorization (header value or null) and the status sent.
The chosen port is written to --port-file (bind to port 0 avoids races between tests).
Test-only code: no TLS, no real token signing.
"""
import argparse
import base64
import datetime
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--user", default="berth")
    p.add_argument("--password", default="s3cret-pw")
    p.add_argument("--no-anonymous", action="store_true")
    return p.parse_args()


ARGS = parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet; the JSON log is the record
        pass

    def record(self, status, form=None):
        u = urllib.parse.urlsplit(self.path)
        entry = {
            "method": self.command,
            "path": u.path,
            "query": urllib.parse.parse_qs(u.query, keep_blank_values=True),
            "form": form,
            "authorization": self.headers.get("Authorization"),
            "content_type": self.headers.get("Content-Type"),
            "status": status,
        }
        with LOG_LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def basic_ok(self):
        auth = self.headers.get("Authorization")
        if not auth or not auth.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except Exception:  # noqa: BLE001 - any garbage is a failed login
            return False
        return user == ARGS.user and pw == ARGS.password

    @staticmethod
    def now():
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != "/token":
            self.record(404)
            return self.reply(404, {"error": "not found"})
        ok = self.basic_ok()
        if ok is False or (ok is None and ARGS.no_anonymous):
            self.record(401)
            return self.reply(401, {"error": "invalid credentials"})
        self.record(200)
        tok = "user-token" if ok else "anon-token"
        return self.reply(200, {"token": tok, "expires_in": 300, "issued_at": self.now()})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode(errors="replace")
        form = urllib.parse.parse_qs(body, keep_blank_values=True)
        if urllib.parse.urlsplit(self.path).path != "/token":
            self.record(404, form)
            return self.reply(404, {"error": "not found"})
        grant = form.get("grant_type", [""])[0]
        user = form.get("username", [""])[0]
        pw = form.get("password", [""])[0]
        if grant != "password" or user != ARGS.user or pw != ARGS.password:
            self.record(401, form)
            return self.reply(401, {"error": "invalid credentials"})
        self.record(200, form)
        return self.reply(200, {"access_token": "user-token", "expires_in": 300,
                                "issued_at": self.now()})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    # rename: a reader never sees a half-written port
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
