#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ws-stream: a WebSocket client of the Kubernetes channel protocols, as non-Go API clients
(kubernetes-client/python's ws_client) speak them through kubelet, for tests.

  ws-stream.py URL PROTOCOL [--stdin TEXT] [--status FILE] [--send-on CHANNEL]

Opens URL (http://host:port/path) with "Upgrade: websocket" and Sec-WebSocket-Protocol
PROTOCOL ("-": none), sends TEXT on channel 0 (or --send-on), then prints what arrives:
channel 1 to stdout, 2 to stderr, 3 (the status) to FILE; with port-forward channels every
message is printed as "<channel>:<hex>" lines. Ends at the server's close frame or EOF; exit
0 when the handshake worked, 1 otherwise."""
import base64
import os
import socket
import struct
import sys
import urllib.parse


def frame(payload, opcode):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def main():
    url, proto = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    stdin_text = status_file = None
    send_on = 0
    raw = False
    while args:
        if args[0] == "--stdin":
            stdin_text = args[1].encode()
        elif args[0] == "--status":
            status_file = args[1]
        elif args[0] == "--send-on":
            send_on = int(args[1])
            raw = True
        args = args[2:]
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n" % (u.path, u.hostname, u.port, key))
    if proto != "-":
        req += "Sec-WebSocket-Protocol: %s\r\n" % proto
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        sys.stderr.write(head.decode(errors="replace") + "\n")
        return 1
    b64 = "base64" in proto
    if stdin_text is not None:
        msg = (bytes([ord("0") + send_on]) + base64.b64encode(stdin_text)) if b64 else \
            (bytes([send_on]) + stdin_text)
        s.sendall(frame(msg, 1 if b64 else 2))
    status = b""
    while True:
        while len(buf) >= 2:
            op, n = buf[0] & 0x0f, buf[1] & 0x7f
            hl = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, hl = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, hl = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < hl + n:
                break
            payload, buf = buf[hl:hl + n], buf[hl + n:]
            if op == 8:
                s.sendall(frame(payload[:2], 8))
                if status_file:
                    open(status_file, "wb").write(status)
                return 0
            if not payload:
                continue
            ch = payload[0] - ord("0") if b64 else payload[0]
            data = base64.b64decode(payload[1:]) if b64 else payload[1:]
            if raw:
                print("%d:%s" % (ch, data.hex()), flush=True)
            elif ch == 1:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            elif ch == 2:
                sys.stderr.buffer.write(data)
            elif ch == 3:
                status += data
        d = s.recv(65536)
        if not d:
            if status_file:
                open(status_file, "wb").write(status)
            return 0
        buf += d


sys.exit(main())
