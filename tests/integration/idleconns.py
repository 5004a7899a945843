#!/usr/bin/env python3
"""Open many idle connections from one source address and hold them.

    idleconns.py --port P [--host 127.0.0.1] [--source 127.0.0.2]
                 [--count 1000] [--hold 10] [--partial] --status FILE

Connects --count sockets (bound to --source) to HOST:PORT, with --partial
each one sends half a request head and stops, as a slowloris would.  Then
it holds them for at most --hold seconds, noting which ones the server
closes.  FILE is rewritten (atomically) with one line

    connected=N refused=N open=N closed=N elapsed=S

once everything is connected and then about every 0.2 s.  It exits once
every socket is closed, after --hold seconds, or on SIGTERM.
"""
import argparse
import errno
import os
import select
import signal
import socket
import sys
import time


def write_status(path, fields):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(" ".join("%s=%s" % kv for kv in fields) + "\n")
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=10.0)
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--status", required=True)
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    t0 = time.monotonic()
    deadline = t0 + a.hold
    pending, refused = {}, 0
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((a.source, 0))
        s.setblocking(False)
        r = s.connect_ex((a.host, a.port))
        if r not in (0, errno.EINPROGRESS):
            refused += 1
            s.close()
            continue
        pending[s.fileno()] = s

    # Wait (bounded) for the connects to finish.
    ep = select.epoll()
    for fd in pending:
        ep.register(fd, select.EPOLLOUT)
    live = {}
    limit = min(deadline, time.monotonic() + 10)
    while pending and time.monotonic() < limit and not stop:
        for fd, _ in ep.poll(0.2):
            s = pending.pop(fd, None)
            if s is None:
                continue
            ep.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                refused += 1
                s.close()
                continue
            live[fd] = s
    for s in pending.values():
        refused += 1
        s.close()
    connected = len(live)

    head = b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: "
    for fd, s in live.items():
        if a.partial:
            try:
                s.send(head)
            except OSError:
                pass
        ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP)

    closed = 0
    last = 0.0
    while live and time.monotonic() < deadline and not stop:
        for fd, _ in ep.poll(0.1):
            s = live.get(fd)
            if s is None:
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                continue        # an answer: keep reading until EOF
            ep.unregister(fd)
            s.close()
            del live[fd]
            closed += 1
        now = time.monotonic()
        if now - last >= 0.2:
            last = now
            write_status(a.status, [("connected", connected),
                                    ("refused", refused),
                                    ("open", len(live)),
                                    ("closed", closed),
                                    ("elapsed", "%.1f" % (now - t0))])
    write_status(a.status, [("connected", connected), ("refused", refused),
                            ("open", len(live)), ("closed", closed),
                            ("elapsed", "%.1f" % (time.monotonic() - t0)),
                            ("done", 1)])
    for s in live.values():
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
