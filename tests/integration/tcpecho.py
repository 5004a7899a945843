#!/usr/bin/env python3
"""A TCP echo server and checking client, standard library only.

Server (the local service of tests/integration/tcp.sh):
    tcpecho.py --port-file FILE
  echoes every byte of every connection; at the caller's EOF it finishes
  echoing, then half-closes its own side.  A connection whose first bytes
  are "GREET\\n" gets "hello from the local service\\n" first.

Client (the public caller):
    tcpecho.py --client HOST:PORT TEST [ARG...]
  TEST is one of
    echo BYTES         send BYTES random bytes while reading the echo;
                       then half-close: the echo must be exact and end
                       with EOF (half-close kept both ways)
    parallel N BYTES   N connections at once, each an echo of BYTES
    greet              "GREET\\n" and check the greeting comes back
    closed             expects the connection to be closed (or refused)
                       without any byte
  Prints one line with what it saw and exits 0 when all was as expected.
"""

import hashlib
import os
import socket
import socketserver
import sys
import threading
import time

CHUNK = 256 * 1024


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        first = True
        while True:
            try:
                b = s.recv(CHUNK)
            except OSError:
                return
            if not b:
                break
            if first and b.startswith(b"GREET\n"):
                s.sendall(b"hello from the local service\n")
                b = b[6:]
            first = False
            try:
                s.sendall(b)
            except OSError:
                return
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(port_file):
    srv = Server(("127.0.0.1", 0), Echo)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=60)
    return s


def echo_once(addr, size, result, idx, where=None):
    t0 = time.time()
    try:
        s = connect(addr)
        if where is not None:
            where[idx] = s.getsockname()[1]
        sent = hashlib.sha256()
        got = hashlib.sha256()
        nread = [0]
        first = [None]
        err = []

        def reader():
            try:
                while True:
                    b = s.recv(CHUNK)
                    if not b:
                        return
                    if nread[0] == 0:
                        first[0] = time.time() - t0
                    got.update(b)
                    nread[0] += len(b)
            except OSError as e:
                err.append(str(e))

        t = threading.Thread(target=reader)
        t.start()
        left = size
        block = os.urandom(CHUNK)
        n = 0
        while left > 0:
            # vary the block so a reordering would show
            piece = block[: min(left, CHUNK)]
            piece = n.to_bytes(8, "big") + piece[8:] if len(piece) >= 8 \
                else piece
            s.sendall(piece)
            sent.update(piece)
            left -= len(piece)
            n += 1
        s.shutdown(socket.SHUT_WR)
        t.join(120)
        s.close()
        if t.is_alive():
            result[idx] = "timeout after %d of %d bytes" % (nread[0], size)
        elif err:
            result[idx] = "read error: %s after %d of %d bytes" % (
                err[0], nread[0], size)
        elif nread[0] != size or got.digest() != sent.digest():
            result[idx] = "mismatch: %d of %d bytes back" % (nread[0], size)
        else:
            result[idx] = "ok"
    except OSError as e:
        result[idx] = "error: %s" % e
    if where is not None and result[idx] != "ok":
        when = "%.1f s" % (time.time() - t0)
        if first[0] is not None:
            when += ", first byte back after %.1f s" % first[0]
        result[idx] += " (%s)" % when


def client(addr, test, args):
    if test == "echo":
        size = int(args[0])
        res = [None]
        t0 = time.time()
        echo_once(addr, size, res, 0)
        if res[0] != "ok":
            print("echo: " + res[0])
            return 1
        print("echo: %d bytes back exact, EOF seen, %.1f s" %
              (size, time.time() - t0))
        return 0
    if test == "parallel":
        n, size = int(args[0]), int(args[1])
        res = [None] * n
        ports = [None] * n
        ts = [threading.Thread(target=echo_once,
                               args=(addr, size, res, i, ports))
              for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(180)
        bad = [i for i in range(n) if res[i] != "ok"]
        if bad:
            # One line per failed connection, by its local port (the
            # server logs it), then the summary line.
            kinds = {}
            for i in bad:
                print("failed: port %s: %s" % (ports[i], res[i]))
                k = str(res[i]).split(" (")[0]
                kinds[k] = kinds.get(k, 0) + 1
            print("parallel: %d of %d failed: %s" % (len(bad), n, "; ".join(
                "%d x %s" % (c, k) for k, c in sorted(kinds.items()))))
            return 1
        print("parallel: %d connections, %d bytes each, all exact" %
              (n, size))
        return 0
    if test == "greet":
        s = connect(addr)
        s.sendall(b"GREET\n")
        want = b"hello from the local service\n"
        got = b""
        while len(got) < len(want):
            b = s.recv(100)
            if not b:
                break
            got += b
        s.close()
        print("greet: %r" % got)
        return 0 if got == want else 1
    if test == "closed":
        try:
            s = connect(addr)
            s.settimeout(20)
            b = s.recv(100)
        except ConnectionRefusedError:
            print("closed: refused")
            return 0
        except ConnectionResetError:
            print("closed: reset")
            return 0
        except socket.timeout:
            print("closed: still open after 20 s")
            return 1
        if b:
            print("closed: got %r" % b)
            return 1
        print("closed: EOF")
        return 0
    print("unknown test " + test)
    return 2


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "--port-file":
        serve(a[1])
        return 0
    if len(a) >= 3 and a[0] == "--client":
        return client(a[1], a[2], a[3:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
