#!/usr/bin/env python3
"""The local service the integration tests tunnel to.

Standard library only.  Binds 127.0.0.1 on a free port and writes the
port, then a newline, to the file named by --port-file.  HTTP/1.1 with
keep-alive.  Endpoints (every method; HEAD answers the headers only):

  /echo               JSON {method, path, headers, body_sha256, body_len}
  /bytes?n=N&seed=S   N deterministic pseudo-random bytes (&chunked=1;
                      &badcl=1 adds a wrong Content-Length to chunked)
  /upload             JSON {len, sha256} of the request body
  /early              413 at once, the body unread, and the connection closed
  /slow?ms=N          sleeps N ms, then 200 "ok"
  /status/N           status N
  /redirect?to=URL    302 with Location: URL
  /cookies            two Set-Cookie and two X-Multi headers
  /headers?k=v&...    the given response headers
  /sse?n=N&ms=M       N server-sent events M ms apart, chunked
  /binary             bytes 0..255, four times
"""

import argparse
import hashlib
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

PIECE = 64 * 1024
BLOCK = 1024 * 1024
MAX_BYTES = 1 << 40
BINARY_BODY = bytes(range(256)) * 4

_blocks = {}
_blocks_lock = threading.Lock()


def seed_block(seed):
    """One 1 MiB block per seed: SHA-256 in counter mode, cached."""
    with _blocks_lock:
        b = _blocks.get(seed)
        if b is not None:
            return b
    key = hashlib.sha256(seed.encode("utf-8", "surrogateescape")).digest()
    parts = []
    for i in range(BLOCK // 32):
        parts.append(hashlib.sha256(key + i.to_bytes(8, "big")).digest())
    b = memoryview(b"".join(parts))
    with _blocks_lock:
        if len(_blocks) > 64:
            _blocks.clear()
        _blocks[seed] = b
    return b


def qint(q, name, default, lo, hi):
    try:
        v = int(q.get(name, [str(default)])[0], 10)
    except ValueError:
        raise BadRequest("%s: not a number" % name)
    if v < lo or v > hi:
        raise BadRequest("%s: out of range" % name)
    return v


class BadRequest(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    verbose = False

    def version_string(self):
        return "localsvc/1"

    # Any method token reaches dispatch(): do_GET, do_PURGE, ...
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("localsvc: %s - %s\n" %
                             (self.address_string(), fmt % args))

    # --- request bodies -------------------------------------------------

    def body_pieces(self):
        """Yield the request body in pieces (Content-Length or chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if te:
            codings = [t.strip().lower() for t in te.split(",")]
            if codings[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            yield from self.dechunk()
            return
        cl = self.headers.get("Content-Length")
        if cl is None:
            return
        try:
            left = int(cl.strip(), 10)
        except ValueError:
            raise BadRequest("bad content-length")
        if left < 0:
            raise BadRequest("bad content-length")
        while left > 0:
            d = self.rfile.read(min(left, 4 * PIECE))
            if not d:
                raise ConnectionError("body cut short")
            left -= len(d)
            yield d

    def dechunk(self):
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BadRequest("bad chunk size line")
            hexsize = line.split(b";", 1)[0].strip()
            try:
                size = int(hexsize, 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size < 0:
                raise BadRequest("bad chunk size")
            if size == 0:
                break
            while size > 0:
                d = self.rfile.read(min(size, 4 * PIECE))
                if not d:
                    raise ConnectionError("chunk cut short")
                size -= len(d)
                yield d
            if self.rfile.readline(1024).strip() != b"":
                raise BadRequest("missing CRLF after chunk")
        # Trailers, up to the empty line.
        for _ in range(100):
            line = self.rfile.readline(8192)
            if not line or line in (b"\r\n", b"\n"):
                return
        raise BadRequest("too many trailers")

    def read_body(self):
        h = hashlib.sha256()
        n = 0
        for d in self.body_pieces():
            h.update(d)
            n += len(d)
        return n, h.hexdigest()

    # --- responses ------------------------------------------------------

    def send_whole(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, extra=()):
        body = (json.dumps(obj, sort_keys=True) + "\n").encode()
        self.send_whole(status, body, "application/json", extra)

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")

    # --- dispatch -------------------------------------------------------

    def dispatch(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        p = u.path
        try:
            if p == "/echo":
                return self.ep_echo()
            if p == "/upload":
                return self.ep_upload()
            if p == "/early":   # 413 before reading the body, then close
                self.close_connection = True
                return self.send_json(413, {"error": "not read"},
                                      extra=(("Connection", "close"),))
            # The rest take no body: drain whatever came.
            for _ in self.body_pieces():
                pass
            if p == "/bytes":
                return self.ep_bytes(q)
            if p == "/slow":
                return self.ep_slow(q)
            if p.startswith("/status/"):
                return self.ep_status(p[len("/status/"):])
            if p == "/redirect":
                return self.ep_redirect(q)
            if p == "/cookies":
                return self.ep_cookies()
            if p == "/headers":
                return self.ep_headers(u.query)
            if p == "/sse":
                return self.ep_sse(q)
            if p == "/binary":
                return self.send_whole(200, BINARY_BODY,
                                       "application/octet-stream")
            self.send_json(404, {"error": "no such endpoint", "path": p})
        except BadRequest as e:
            self.close_connection = True
            self.send_json(400, {"error": str(e)},
                           extra=(("Connection", "close"),))

    def ep_echo(self):
        n, sha = self.read_body()
        self.send_json(200, {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_sha256": sha,
            "body_len": n,
        })

    def ep_upload(self):
        if self.command not in ("POST", "PUT"):
            for _ in self.body_pieces():
                pass
            return self.send_json(405, {"error": "POST or PUT"},
                                  extra=(("Allow", "POST, PUT"),))
        n, sha = self.read_body()
        self.send_json(200, {"len": n, "sha256": sha})

    def ep_bytes(self, q):
        n = qint(q, "n", 0, 0, MAX_BYTES)
        seed = q.get("seed", ["0"])[0]
        chunked = q.get("chunked", ["0"])[0] not in ("", "0")
        block = seed_block(seed)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            if q.get("badcl", ["0"])[0] not in ("", "0"):
                self.send_header("Content-Length", "10")    # a wrong one
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        off = 0
        w = self.wfile.write
        while n > 0:
            k = min(n, PIECE, BLOCK - off)
            if chunked:
                self.write_chunk(block[off:off + k])
            else:
                w(block[off:off + k])
            n -= k
            off = (off + k) % BLOCK
        if chunked:
            self.end_chunks()

    def ep_slow(self, q):
        ms = qint(q, "ms", 1000, 0, 3600 * 1000)
        time.sleep(ms / 1000.0)
        self.send_whole(200, b"ok")

    def ep_status(self, s):
        try:
            code = int(s, 10)
        except ValueError:
            raise BadRequest("status: not a number")
        if code < 100 or code > 999 or code == 101:
            raise BadRequest("status: out of range")
        if code < 200:
            # An interim response, then a final 200.
            self.send_response_only(code)
            self.end_headers()
            code = 200
        self.send_response(code)
        if code in (204, 304):
            self.end_headers()
            return
        body = ("status %d\n" % code).encode()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def ep_redirect(self, q):
        to = q.get("to", ["/"])[0]
        if "\r" in to or "\n" in to:
            raise BadRequest("to: CR or LF")
        self.send_whole(302, b"redirecting\n", extra=(("Location", to),))

    def ep_cookies(self):
        self.send_whole(200, b"cookies\n", extra=(
            ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
            ("X-Multi", "one"), ("X-Multi", "two")))

    def ep_headers(self, query):
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        for k, v in pairs:
            if not k or any(c in k + v for c in "\r\n\0") or ":" in k:
                raise BadRequest("bad header")
        self.send_json(200, {"headers": pairs}, extra=pairs)

    def ep_sse(self, q):
        n = qint(q, "n", 3, 0, 100000)
        ms = qint(q, "ms", 100, 0, 3600 * 1000)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for i in range(n):
            if i > 0:
                time.sleep(ms / 1000.0)
            self.write_chunk(("id: %d\ndata: event %d\n\n" % (i, i)).encode())
            self.wfile.flush()
        self.end_chunks()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    verbose = False

    def handle_error(self, request, client_address):
        # Callers hanging up mid-response are normal in the tests.
        if self.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="local service for tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()

    Handler.verbose = a.verbose
    Server.verbose = a.verbose
    srv = Server(("127.0.0.1", a.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
