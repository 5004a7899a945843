#!/usr/bin/env python3
"""A tiny RFC 6455 WebSocket echo server and client, standard library only.

Server (the local service of tests/integration/websocket.sh):
    wsecho.py --port-file FILE [--port N]
  answers GET with Upgrade: websocket with 101, then echoes every text and
  binary message (fragments put together), answers pings with pongs and
  echoes a close frame's code and reason.  Every close it sees is logged to
  stdout as "close CODE".  A request for a path that starts with /reject
  gets "403 Forbidden" and a small body instead of the upgrade; one for
  /stream?n=BYTES gets BYTES in 1 MiB binary messages, then a close.

Client (the public caller):
    wsecho.py --client ws[s]://HOST:PORT/PATH TEST [ARG...]
  (wss:// verifies the server against the CA file in $WSECHO_CAFILE)
  TEST is one of
    text N          N text messages, echoed exact and in order
    binary BYTES    one binary message of BYTES random bytes
    close CODE      a close frame with CODE; the echoed code must match
    sessions N M    N sessions open at once, M messages each
    idle SECONDS    one message, SECONDS of silence, another message
    reject          expects a non-101 answer; prints status and body
    stream BYTES    downloads PATH + stream?n=BYTES; prints the rate
  Prints one line with what it saw and exits 0 when all was as expected.
"""

import base64
import hashlib
import os
import socket
import ssl
import socketserver
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MSG = 64 * 1024 * 1024


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def xor_mask(data, mask):
    if not data:
        return data
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(
        n, "big")


def read_head(f):
    """Request or response head lines, up to the empty line."""
    lines = []
    total = 0
    while True:
        line = f.readline(65537)
        if not line:
            raise EOFError("connection closed in the head")
        total += len(line)
        if total > 65536:
            raise ValueError("head too large")
        line = line.rstrip(b"\r\n")
        if not line:
            return lines
        lines.append(line)


def parse_fields(lines):
    fields = {}
    for line in lines:
        k, _, v = line.partition(b":")
        fields[k.strip().lower()] = v.strip()
    return fields


def send_frame(sock, opcode, payload, mask):
    hdr = bytearray([0x80 | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr.append(mbit | n)
    elif n < 65536:
        hdr.append(mbit | 126)
        hdr += struct.pack("!H", n)
    else:
        hdr.append(mbit | 127)
        hdr += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        hdr += key
        payload = xor_mask(payload, key)
    sock.sendall(bytes(hdr) + payload)


def read_exact(f, n):
    b = f.read(n)
    if b is None or len(b) != n:
        raise EOFError("connection closed in a frame")
    return b


def read_frame(f, want_masked):
    b0, b1 = read_exact(f, 2)
    fin, opcode = b0 & 0x80, b0 & 0x0F
    if b0 & 0x70:
        raise ValueError("reserved bits set")
    masked, n = b1 & 0x80, b1 & 0x7F
    if bool(masked) != want_masked:
        raise ValueError("masking is wrong")
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    if n > MAX_MSG:
        raise ValueError("frame too large")
    key = read_exact(f, 4) if masked else None
    payload = read_exact(f, n)
    if key:
        payload = xor_mask(payload, key)
    return bool(fin), opcode, payload


def read_message(f, sock, want_masked):
    """(opcode, payload) of the next data or close message; pings answered."""
    parts, first = [], None
    while True:
        fin, op, payload = read_frame(f, want_masked)
        if op == 0x9:
            send_frame(sock, 0xA, payload, not want_masked)
            continue
        if op == 0xA:
            continue
        if op == 0x8:
            return op, payload
        if op != 0:
            first = op
        parts.append(payload)
        if fin:
            return first, b"".join(parts)


# --- server -------------------------------------------------------------

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            lines = read_head(self.rfile)
            method, path, _ = lines[0].split(b" ", 2)
            fields = parse_fields(lines[1:])
            if path.startswith(b"/reject"):
                body = b"forbidden by wsecho\n"
                sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: "
                             b"text/plain\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" %
                             (len(body), body))
                return
            key = fields.get(b"sec-websocket-key")
            if (method != b"GET" or key is None or b"websocket" not in
                    fields.get(b"upgrade", b"").lower()):
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                             b"Content-Length: 0\r\n\r\n")
                return
            extra = b""
            proto = fields.get(b"sec-websocket-protocol")
            if proto:
                extra = b"Sec-WebSocket-Protocol: %s\r\n" % \
                    proto.split(b",")[0].strip()
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                         b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: %s\r\n%s"
                         b"X-Seen-Host: %s\r\n\r\n" %
                         (accept_key(key), extra,
                          fields.get(b"host", b"")))
            if path.startswith(b"/stream?n="):
                # N bytes as 1 MiB binary frames, then a close: a download
                return stream_out(sock, int(path[10:]))
            while True:
                op, payload = read_message(self.rfile, sock, True)
                if op == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] \
                        if len(payload) >= 2 else 1005
                    print("close %d" % code, flush=True)
                    send_frame(sock, 0x8, payload, False)
                    return
                send_frame(sock, op, payload, False)
        except (EOFError, ValueError, OSError) as e:
            print("session ended: %s" % e, flush=True)


def stream_out(sock, n):
    block = os.urandom(1 << 20)
    while n > 0:
        k = min(n, len(block))
        send_frame(sock, 0x2, block[:k], False)
        n -= k
    send_frame(sock, 0x8, struct.pack("!H", 1000), False)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def serve(port, port_file):
    srv = Server(("127.0.0.1", port), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


# --- client -------------------------------------------------------------

class Conn:
    def __init__(self, url, path_suffix=""):
        tls = url.startswith("wss://")
        assert tls or url.startswith("ws://")
        hostport, _, path = url[6 if tls else 5:].partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            # wss://: verified against the CA in $WSECHO_CAFILE
            ctx = ssl.create_default_context(
                cafile=os.environ.get("WSECHO_CAFILE"))
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        self.f = self.sock.makefile("rb")
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET /%s%s HTTP/1.1\r\nHost: %s\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: %s\r\n"
                          b"Sec-WebSocket-Version: 13\r\n"
                          b"Sec-WebSocket-Protocol: echo\r\n\r\n" %
                          (path.encode(), path_suffix.encode(),
                           hostport.encode(), key))
        lines = read_head(self.f)
        self.status = int(lines[0].split(b" ")[1])
        self.fields = parse_fields(lines[1:])
        if self.status == 101:
            if self.fields.get(b"sec-websocket-accept") != accept_key(key):
                raise ValueError("bad Sec-WebSocket-Accept")
            if self.fields.get(b"sec-websocket-protocol") != b"echo":
                raise ValueError("Sec-WebSocket-Protocol lost")

    def send(self, op, payload):
        send_frame(self.sock, op, payload, True)

    def recv(self):
        return read_message(self.f, self.sock, False)

    def close(self):
        self.f.close()
        self.sock.close()


def t_text(url, n):
    c = Conn(url)
    msgs = [("message %d %s" % (i, "x" * (i % 97))).encode()
            for i in range(n)]
    err = []

    def writer():
        try:
            for m in msgs:
                c.send(0x1, m)
        except OSError as e:
            err.append(e)

    def check(i, m):
        op, got = c.recv()
        if op != 0x1 or got != m:
            print("message %d differs: %r" % (i, got[:60]))
            return False
        return True
    if isinstance(c.sock, ssl.SSLSocket):
        # An SSL socket is not for two threads at once: batches of 50
        # sent, then their echoes read, still many in flight.
        for b in range(0, n, 50):
            for m in msgs[b:b + 50]:
                c.send(0x1, m)
            for i in range(b, min(b + 50, n)):
                if not check(i, msgs[i]):
                    return 1
    else:
        t = threading.Thread(target=writer)
        t.start()
        for i, m in enumerate(msgs):
            if not check(i, m):
                return 1
        t.join()
    if err:
        print("write failed: %s" % err[0])
        return 1
    c.send(0x8, struct.pack("!H", 1000))
    c.recv()
    c.close()
    print("text: %d messages echoed in order" % n)
    return 0


def t_binary(url, size):
    c = Conn(url)
    data = os.urandom(size)
    t = threading.Thread(target=c.send, args=(0x2, data))
    t.start()
    op, got = c.recv()
    t.join()
    c.close()
    ok = op == 0x2 and got == data
    print("binary: %d bytes sent, %d back, %s" %
          (size, len(got), "equal" if ok else "DIFFERENT"))
    return 0 if ok else 1


def t_close(url, code):
    c = Conn(url)
    c.send(0x1, b"before close")
    op, got = c.recv()
    c.send(0x8, struct.pack("!H", code) + b"bye")
    op, got = c.recv()
    back = struct.unpack("!H", got[:2])[0] if len(got) >= 2 else None
    c.close()
    print("close: sent %d, got %s %r" % (code, back, got[2:]))
    return 0 if op == 0x8 and back == code and got[2:] == b"bye" else 1


def t_sessions(url, n, m):
    barrier = threading.Barrier(n, timeout=120)
    results = [None] * n

    def one(k):
        try:
            c = Conn(url)
            barrier.wait()          # all open at once
            for i in range(m):
                msg = ("session %d message %d" % (k, i)).encode()
                c.send(0x1, msg)
                op, got = c.recv()
                if got != msg:
                    raise ValueError("echo differs")
            barrier.wait()
            c.send(0x8, struct.pack("!H", 1000))
            c.recv()
            c.close()
            results[k] = True
        except Exception as e:      # pylint: disable=broad-except
            results[k] = "%s: %s" % (type(e).__name__, e)
    ts = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    good = sum(1 for r in results if r is True)
    bad = [r for r in results if r is not True]
    print("sessions: %d of %d at once echoed %d messages each%s" %
          (good, n, m, "; first error: %s" % bad[0] if bad else ""))
    return 0 if good == n else 1


def t_idle(url, secs):
    c = Conn(url)
    c.send(0x1, b"first")
    op, a = c.recv()
    time.sleep(secs)
    c.send(0x1, b"after idle")
    op, b = c.recv()
    c.send(0x8, struct.pack("!H", 1000))
    c.recv()
    c.close()
    ok = a == b"first" and b == b"after idle"
    print("idle: %s after %g s" % ("echoed" if ok else "FAILED", secs))
    return 0 if ok else 1


def t_stream(url, n):
    """Reads the /stream download of n bytes; prints the rate."""
    c = Conn(url, "stream?n=%d" % n)
    if c.status != 101:
        print("stream: status %d" % c.status)
        return 1
    t0, got = time.time(), 0
    while True:
        fin, op, payload = read_frame(c.f, False)
        if op == 0x8:
            break
        got += len(payload)
    dt = max(time.time() - t0, 1e-6)
    c.close()
    print("stream: %d of %d bytes in %.3f s, %.1f MiB/s" %
          (got, n, dt, got / dt / (1 << 20)))
    return 0 if got == n else 1


def t_reject(url):
    c = Conn(url, "reject")
    body = b""
    n = int(c.fields.get(b"content-length", b"-1"))
    if n >= 0:
        body = c.f.read(n)
    c.close()
    print("reject: %d %s" % (c.status, body.decode(errors="replace").strip()))
    return 0 if c.status != 101 else 1


def main(argv):
    if argv[:1] == ["--client"]:
        url, test, args = argv[1], argv[2], [int(a) for a in argv[3:]]
        fn = {"text": t_text, "binary": t_binary, "close": t_close,
              "sessions": t_sessions, "idle": t_idle, "stream": t_stream,
              "reject": t_reject}[test]
        return fn(url, *args)
    port, port_file = 0, None
    while argv:
        if argv[0] == "--port":
            port = int(argv[1])
        elif argv[0] == "--port-file":
            port_file = argv[1]
        argv = argv[2:]
    serve(port, port_file)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError, EOFError) as e:
        print("wsecho: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
