#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""pty-run: runs a command on a pseudo-terminal of a given size, as a user at a terminal would,
for tests of interactive clients (crictl exec -it, attach -it).

  pty-run.py [--size ROWSxCOLS] [--step EXPECT SEND [--resize ROWSxCOLS]]... -- CMD ARGS...

Each step waits (10 s at most) until the output so far contains EXPECT, then optionally resizes
the terminal (the kernel signals SIGWINCH to the command) and writes SEND (backslash escapes
such as \\n and \\x04 are decoded). The whole output goes to stdout; the exit status is the
command's (128 + signal when killed); 124 when a step times out."""
import codecs
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time


def winsize(fd, spec):
    rows, cols = (int(x) for x in spec.split("x"))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    args = sys.argv[1:]
    size = "24x80"
    steps = []
    while args and args[0] != "--":
        if args[0] == "--size":
            size = args[1]
            args = args[2:]
        elif args[0] == "--step":
            steps.append([args[1], codecs.decode(args[2], "unicode_escape"), None])
            args = args[3:]
        elif args[0] == "--resize":
            steps[-1][2] = args[1]
            args = args[2:]
        else:
            sys.exit("pty-run: unknown option %s" % args[0])
    cmd = args[1:]
    pid, fd = pty.fork()
    if pid == 0:
        winsize(0, size)
        os.execvp(cmd[0], cmd)
    out = b""
    seen = 0  # output already matched by earlier steps
    code = None
    deadline = None
    while True:
        if steps and deadline is None:
            deadline = time.time() + 10
        if steps:
            want = steps[0][0].encode()
            pos = out.find(want, seen)
            if pos >= 0:
                seen = pos + len(want)
                _, send, resize = steps.pop(0)
                if resize:
                    winsize(fd, resize)
                    time.sleep(0.3)  # crictl sends the size from its SIGWINCH handler
                if send:
                    os.write(fd, send.encode())
                deadline = None
                continue
            if time.time() > deadline:
                sys.stdout.write(out.decode(errors="replace"))
                sys.stderr.write("pty-run: timed out waiting for %r\n" % steps[0][0])
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                sys.exit(124)
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            out += data
    _, st = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
    sys.exit(code)


main()
