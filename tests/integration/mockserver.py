#!/usr/bin/env python3
"""A tunneld impostor that answers tunnel-client's WebSocket badly.

It makes tunnels on POST /api/tunnels/create like tunneld (the id is the
requested subdomain), and answers each GET /api/tunnel/connect/{id} with
the next scenario of that tunnel's group: groups are given as
"one=a,b,c;two=d,e".  When a group is used up the tunnel gets "good": a
proper 101 and HELLO, and the connection is held open.  Every connection is logged to
--log as "ID N SCENARIO" and then "ID N closed".

Scenario "stall" is a good server that asks for more than the socket
holds and does not read: it grants a 64 MiB window, asks for STALL_BYTES
of /bytes?seed=stall, reads nothing for 2 s, then reads the answer and
logs "ID N stalled SHA256 LENGTH" of the DATA bytes (and closes).
Scenario "smallwin" grants the smallest window (64 KiB), asks for
SMALLWIN_BYTES of /bytes?seed=smallwin, hands out credit as the DATA comes
and logs "ID N smallwin-got SHA256 LENGTH".
Scenario "lateopen" sends, once HELLO has been in for a while, an
ATTACHED and a DETACH for a tunnel "ghost" nobody asked for and an OPEN
of LATEOPEN_BYTES of /bytes?seed=lateopen, all in one write, and logs
"ID N lateopen-got SHA256 LENGTH".
Scenario "overbody" sends an OPEN of a POST /upload with Content-Length
4 and more DATA than that (the 4 bytes, then a whole request to
/smuggled), and logs "ID N overbody-got BODY" of the answer (" reset"
after it if the client reset the stream).  Scenarios "shortbody",
"headbody", "nobodycl" and "tcponhttp" send one request each (SCENARIO_REQ) and log
"ID N NAME-got STATUS BODY"; "early" posts a window of body to /early,
which answers without reading it, and logs "ID N early-got STATUS
CREDITED" of the credit given back.  Scenario "flood" sends FLOOD_OPENS
OPENs at once (for a tunnel whose local service, --blackhole-file, never
answers) and logs "ID N flood-refused K" of those refused as too many;
"pingflood" sends PINGs and reads nothing, and logs "ID N pingflood
closed|open PINGS".
Scenario "refused" refuses the client's ATTACH of its second tunnel
(DETACH code 5), makes the next create of that tunnel take SLOW_CREATE s,
sends a PING 0.5 s later and logs "ID N refused-got pong MS attach TOKEN"
of the answer and of the ATTACH that follows.
Scenarios "late", "lateclose" and "latebad" misbehave only once HELLO has
been in for a while (when tunnel-client reads the connection from its
forwarding thread): "late" sends GOAWAY (shutdown), then a PING, and logs
"ID N pong PAYLOAD" of the answer, then a text frame; "lateclose" sends a
CLOSE; "latebad" a message that is not the protocol's; "lateeven" an
OPEN with an even stream id.  Each logs
"ID N closecode CODE" of the CLOSE the client sends back.
"""
import argparse, base64, hashlib, json, os, socket, struct, sys, threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mockagent import HELLO, frame, msg  # noqa: E402

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


STALL_BYTES = 48 << 20         # more than a loopback socket buffers
SMALLWIN_BYTES = 8 << 20
LATEOPEN_BYTES = 300000
SLOW_CREATE = 4


def hello(tid, port, window=1 << 21):
    return msg(HELLO, 0, json.dumps({
        "version": 1, "window": window, "tunnel_id": tid,
        "url": f"http://127.0.0.1:{port}/{tid}/"}).encode())


def read_frame(c, buf):
    """One frame from the client (masked): (opcode, payload, rest)."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            d = c.recv(1 << 20)
            if not d:
                raise EOFError
            buf += d
        out, buf = buf[:n], buf[n:]
        return out
    b0, b1 = need(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", need(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", need(8))[0]
    key = need(4) if b1 & 0x80 else b""
    data = need(n)
    if key and n:
        k = (key * (n // 4 + 1))[:n]
        data = (int.from_bytes(data, "big") ^
                int.from_bytes(k, "big")).to_bytes(n, "big")
    return b0 & 0x0F, data, buf


def open_msg(seed, nbytes):
    """The frame of OPEN stream 1: GET nbytes of /bytes with this seed."""
    return frame(2, msg(2, 1, json.dumps({
        "method": "GET", "path": f"/bytes?n={nbytes}&seed={seed}",
        "headers": [["Host", "mock.test"]]}).encode()))


def fetch(c, tid, port, seed, nbytes, window, pause):
    """Ask for nbytes with this window; returns "SHA256 LENGTH" of what came."""
    c.sendall(frame(2, hello(tid, port, window)) + open_msg(seed, nbytes))
    time.sleep(pause)
    return collect(c, window)


def collect(c, window):
    """The DATA of stream 1 up to its END or RESET, granting credit as it
    comes: "SHA256 LENGTH", and " reset" after a RESET."""
    h, n, owed, buf = hashlib.sha256(), 0, 0, b""
    while True:
        op, data, buf = read_frame(c, buf)
        if op != 2 or len(data) < 6:
            continue
        t, sid = data[0], struct.unpack(">I", data[2:6])[0]
        if sid != 1:
            continue
        if t == 4:
            h.update(data[6:])
            n += len(data) - 6
            owed += len(data) - 6
            if owed >= window // 2:
                c.sendall(frame(2, msg(7, 1, struct.pack(">I", owed))))
                owed = 0
        elif t in (5, 6):
            return f"{h.hexdigest()} {n}" + ("" if t == 5 else " reset")


def lateopen(c, tid, port):
    """HELLO; once the client reads on its own, one write holding an
    ATTACHED and a DETACH for a tunnel it never asked for, then an OPEN:
    the control messages go to the client's WebSocket thread, the OPEN
    must still be read."""
    c.sendall(frame(2, hello(tid, port)))
    time.sleep(0.3)
    ghost = {"tunnel_id": "ghost", "url": f"http://127.0.0.1:{port}/ghost/"}
    c.sendall(frame(2, msg(10, 0, json.dumps(ghost).encode())) +
              frame(2, msg(11, 0, json.dumps({
                  "tunnel_id": "ghost", "code": 3,
                  "reason": "mock ghost"}).encode())) +
              open_msg("lateopen", LATEOPEN_BYTES))
    return collect(c, 1 << 21)


def overbody(c, tid, port):
    """HELLO, then a POST whose DATA runs past its Content-Length: what
    is past it must not reach the local service.  The answer's body."""
    c.sendall(frame(2, hello(tid, port)))
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: mock.test\r\n\r\n"
    c.sendall(frame(2, msg(2, 1, json.dumps({
        "method": "POST", "path": "/upload", "content_length": 4,
        "body": True, "headers": [["Host", "mock.test"]]}).encode())) +
              frame(2, msg(4, 1, b"abcd")) +
              frame(2, msg(4, 1, smuggled)) + frame(2, msg(5, 1, b"")))
    body, buf = b"", b""
    while True:
        op, data, buf = read_frame(c, buf)
        if op != 2 or len(data) < 6 or struct.unpack(">I", data[2:6])[0] != 1:
            continue
        if data[0] == 4:
            body += data[6:]
        elif data[0] in (5, 6):
            return (body.decode("utf-8", "replace").replace("\n", " ") +
                    (" reset" if data[0] == 6 else ""))


def one_request(c, tid, port, head, datas, end=True):
    """HELLO, then an OPEN of head with datas as its DATA (and END):
    "STATUS BODY" of the answer, " reset" after it if the client reset."""
    c.sendall(frame(2, hello(tid, port)))
    out = frame(2, msg(2, 1, json.dumps(head).encode()))
    for d in datas:
        out += frame(2, msg(4, 1, d))
    if end:
        out += frame(2, msg(5, 1, b""))
    c.sendall(out)
    status, body, buf = "-", b"", b""
    while True:
        op, data, buf = read_frame(c, buf)
        if op != 2 or len(data) < 6 or struct.unpack(">I", data[2:6])[0] != 1:
            continue
        if data[0] == 3:
            status = str(json.loads(data[6:]).get("status"))
        elif data[0] == 4:
            body += data[6:]
        elif data[0] in (5, 6):
            return (f"{status} " +
                    body.decode("utf-8", "replace").replace("\n", " ") +
                    (" reset" if data[0] == 6 else ""))


def early(c, tid, port):
    """A chunked POST to /early, which answers before reading: one window
    of DATA (2 MiB), then, once the answer and its END are in, the
    credit the client gives back (all of it, since nobody reads the
    body), then END.  "STATUS CREDITED"."""
    win = 1 << 21
    c.sendall(frame(2, hello(tid, port)) + frame(2, msg(2, 1, json.dumps({
        "method": "POST", "path": "/early", "content_length": -1,
        "body": True, "headers": [["Host", "mock.test"]]}).encode())))
    out = b"".join(frame(2, msg(4, 1, b"e" * 16384))
                   for _ in range(win // 16384))
    c.sendall(out)
    status, credited, ended, buf = "-", 0, False, b""
    c.settimeout(10)
    try:
        while not (ended and credited >= win):
            op, data, buf = read_frame(c, buf)
            if op != 2 or len(data) < 6 or \
                    struct.unpack(">I", data[2:6])[0] != 1:
                continue
            if data[0] == 3:
                status = str(json.loads(data[6:]).get("status"))
            elif data[0] == 7:
                credited += struct.unpack(">I", data[6:10])[0]
            elif data[0] in (5, 6):
                ended = True
    except (socket.timeout, EOFError):
        pass
    c.sendall(frame(2, msg(5, 1, b"")))
    return f"{status} {credited}"


FLOOD_OPENS = 1100             # more than the client's TC_MAX_STREAMS


def flood(c, tid, port):
    """HELLO, then FLOOD_OPENS OPENs at once for a service that never
    answers: the number of them the client refuses as too many."""
    c.sendall(frame(2, hello(tid, port)))
    head = json.dumps({"method": "GET", "path": "/",
                       "headers": [["Host", "mock.test"]]}).encode()
    c.sendall(b"".join(frame(2, msg(2, 2 * i + 1, head))
                       for i in range(FLOOD_OPENS)))
    refused, buf = 0, b""
    c.settimeout(10)
    try:
        while True:
            op, data, buf = read_frame(c, buf)
            if op == 2 and len(data) >= 6 and data[0] == 6 and \
                    b"too many streams" in data:
                refused += 1
    except (socket.timeout, EOFError, OSError):
        pass
    return str(refused)


def pingflood(c, tid, port):
    """HELLO, then PINGs and nothing read: the PONGs pile up on the
    client's side until it leaves.  "closed N" after N PINGs, or "open N"
    if it was still there after all of them."""
    c.sendall(frame(2, hello(tid, port)))
    ping = frame(9, b"p" * 125) * 100
    n = 0
    c.settimeout(2)
    try:
        while n < 300000:
            c.sendall(ping)
            n += 100
    except socket.timeout:
        pass                    # it stopped reading: enough
    except OSError:
        return f"closed {n}"
    # Then read what it sent until it leaves, for up to 10 s.
    c.settimeout(10)
    try:
        while c.recv(1 << 20):
            pass
    except socket.timeout:
        return f"open {n}"
    except OSError:
        pass
    return f"closed {n}"


SCENARIO_REQ = {
    # a body shorter than its Content-Length
    "shortbody": ({"method": "POST", "path": "/upload", "content_length": 10,
                   "body": True, "headers": [["Host", "mock.test"]]},
                  [b"abc"]),
    # a HEAD with a body
    "headbody": ({"method": "HEAD", "path": "/echo?tag=headbody",
                  "content_length": 5, "body": True,
                  "headers": [["Host", "mock.test"]]}, [b"hello"]),
    # a Content-Length, and no body to follow
    "nobodycl": ({"method": "POST", "path": "/upload", "content_length": 5,
                  "body": False, "headers": [["Host", "mock.test"]]}, []),
    # a TCP stream on an HTTP tunnel (PROTOCOL 5.4: the client resets it)
    "tcponhttp": ({"method": "TCP", "path": "/", "body": False,
                   "headers": [["X-Forwarded-For", "203.0.113.7"]]},
                  [b"GET /tcponhttp HTTP/1.1\r\nHost: mock.test\r\n\r\n"]),
}


def read_until(c, buf, want):
    """Frames from the client up to one with opcode want: (payload, rest)."""
    while True:
        op, data, buf = read_frame(c, buf)
        if op == want:
            return data, buf


def late(c, tid, port, scenario, note):
    """A good start, then trouble once the client reads on its own."""
    c.sendall(frame(2, hello(tid, port)))
    time.sleep(0.3)
    buf = b""
    if scenario == "late":
        # One read: the PING waits behind the GOAWAY handed back.
        c.sendall(frame(2, msg(8, 0, json.dumps({
            "code": 1, "reason": "mock going away"}).encode())) +
            frame(9, b"late-ping"))
        data, buf = read_until(c, buf, 10)
        note(f"pong {data.decode('latin-1')}")
        c.sendall(frame(1, b"late text"))
    elif scenario == "lateclose":
        c.sendall(frame(8, struct.pack(">H", 1001) + b"bye"))
    elif scenario == "lateeven":    # stream ids of the server are odd
        c.sendall(open_msg("even", 10).replace(
            struct.pack(">BBI", 2, 0, 1), struct.pack(">BBI", 2, 0, 2), 1))
    else:
        c.sendall(frame(2, b"\xff\x00\x00\x00\x00\x00{}"))
    data, buf = read_until(c, buf, 8)
    note("closecode %d" % (struct.unpack(">H", data[:2])[0] if len(data) >= 2
                           else 0))


def read_msg(c, buf, typ):
    """Messages from the client up to one of type typ: (its JSON, rest)."""
    while True:
        op, data, buf = read_frame(c, buf)
        if op == 2 and len(data) >= 6 and data[0] == typ:
            return json.loads(data[6:] or b"{}"), buf


def refused(c, tid, port, slow):
    """HELLO; the client's ATTACH of its other tunnel is refused (DETACH
    code 5) and the next create of that tunnel is slow (slow(id)); a PING
    half a second later: "pong MS attach TOKEN" of its answer and of the
    ATTACH that follows (ATTACHED then)."""
    c.sendall(frame(2, hello(tid, port)))
    att, buf = read_msg(c, b"", 9)
    other = att.get("tunnel_id")
    slow(other)
    c.sendall(frame(2, msg(11, 0, json.dumps({
        "tunnel_id": other, "code": 5, "reason": "mock refused"}).encode())))
    time.sleep(0.5)
    t0 = time.monotonic()
    c.sendall(frame(9, b"refused-ping"))
    ms, att = None, None
    while ms is None or att is None:     # in either order
        op, data, buf = read_frame(c, buf)
        if op == 10 and ms is None:
            ms = int((time.monotonic() - t0) * 1000)
        elif op == 2 and len(data) >= 6 and data[0] == 9:
            att = json.loads(data[6:])
    c.sendall(frame(2, msg(10, 0, json.dumps({
        "tunnel_id": other,
        "url": f"http://127.0.0.1:{port}/{other}/"}).encode())))
    return f"pong {ms} attach {att.get('token')}"


def accept(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade(acc):
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {acc}\r\n\r\n").encode()


def answer(scenario, key, tid, port):
    """The bytes of one scenario, and whether to hold the connection open."""
    good = upgrade(accept(key))
    if scenario == "garbage":
        return b"SSH-2.0-not-http\r\n\r\n", False
    if scenario == "badaccept":
        return upgrade(accept(key + "x")), True
    if scenario == "status503":
        body = b'{"error":"mock overloaded"}'
        return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body), False
    if scenario == "text":
        return good + frame(1, b"hello"), True
    if scenario == "masked":
        return good + frame(2, hello(tid, port), mask=b"\x01\x02\x03\x04"), True
    if scenario == "huge":
        return good + frame(2, b"", length=1 << 40), True
    if scenario == "badmsg":
        return good + frame(2, b"\xff\x00\x00\x00\x00\x00{}"), True
    if scenario == "close":
        return good + frame(8, struct.pack(">H", 1001) + b"bye"), True
    if scenario == "nohello":
        return good + frame(2, msg(7, 1, struct.pack(">I", 4096))), True
    return good + frame(2, hello(tid, port)), True


class Server:
    def __init__(self, groups, log):
        self.groups = {}
        for g in groups.split(";"):
            name, _, sc = g.partition("=")
            self.groups[name] = sc.split(",") if sc else []
        self.log = open(log, "a", buffering=1)
        self.lock = threading.Lock()
        self.tunnels = {}       # id -> [scenarios left]
        self.creates = {}       # id -> tunnels made
        self.slow = set()       # ids whose next create takes SLOW_CREATE s
        self.conns = 0

    def slow_create(self, tid):
        with self.lock:
            self.slow.add(tid)

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")

    def serve(self, c):
        try:
            self.handle(c)
        except OSError:
            pass
        finally:
            c.close()

    def handle(self, c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                return
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split()[:2]
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        port = c.getsockname()[1]
        if method == "POST" and path.startswith("/api/tunnels"):
            n = int(hdrs.get("content-length", "0"))
            while len(rest) < n:
                rest += c.recv(4096)
            try:
                tid = json.loads(rest[:n] or b"{}").get("subdomain") or "mock"
            except ValueError:
                tid = "mock"
            with self.lock:
                self.tunnels[tid] = list(self.groups.get(tid, []))
                self.creates[tid] = k = self.creates.get(tid, 0) + 1
                slow = tid in self.slow
                self.slow.discard(tid)
            if slow:
                time.sleep(SLOW_CREATE)
            tok = f"tok-{tid}" + (f"-{k}" if k > 1 else "")
            body = json.dumps({"tunnel_id": tid, "auth_token": tok,
                               "url": f"http://127.0.0.1:{port}/{tid}/",
                               "created_at": "2026-01-01T00:00:00Z"}).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            return
        if method == "GET" and path.startswith("/api/tunnel/connect/"):
            tid = path.rsplit("/", 1)[1]
            with self.lock:
                left = self.tunnels.get(tid, [])
                scenario = left.pop(0) if left else "good"
                self.conns += 1
                n = self.conns
            self.note(f"{tid} {n} {scenario}")
            out, hold = answer(scenario, hdrs.get("sec-websocket-key", ""),
                               tid, port)
            if scenario == "refused":
                c.sendall(upgrade(accept(hdrs.get("sec-websocket-key", ""))))
                got = refused(c, tid, port, self.slow_create)
                self.note(f"{tid} {n} refused-got {got}")
                while c.recv(65536):
                    pass
                return
            if scenario in ("late", "lateclose", "latebad", "lateeven"):
                c.sendall(upgrade(accept(hdrs.get("sec-websocket-key", ""))))
                try:
                    late(c, tid, port, scenario,
                         lambda s: self.note(f"{tid} {n} {s}"))
                except EOFError:
                    pass
                self.note(f"{tid} {n} closed")
                return
            if scenario in ("stall", "smallwin", "lateopen", "overbody",
                            "early", "flood", "pingflood") or \
                    scenario in SCENARIO_REQ:
                c.sendall(upgrade(accept(hdrs.get("sec-websocket-key", ""))))
                if scenario == "flood":
                    self.note(f"{tid} {n} flood-refused {flood(c, tid, port)}")
                elif scenario == "pingflood":
                    self.note(f"{tid} {n} pingflood {pingflood(c, tid, port)}")
                elif scenario in SCENARIO_REQ:
                    head, datas = SCENARIO_REQ[scenario]
                    got = one_request(c, tid, port, head, datas)
                    self.note(f"{tid} {n} {scenario}-got {got}")
                elif scenario == "early":
                    got = early(c, tid, port)
                    self.note(f"{tid} {n} early-got {got}")
                elif scenario == "overbody":
                    got = overbody(c, tid, port)
                    self.note(f"{tid} {n} overbody-got {got}")
                elif scenario == "lateopen":
                    got = lateopen(c, tid, port)
                    self.note(f"{tid} {n} lateopen-got {got}")
                elif scenario == "stall":
                    got = fetch(c, tid, port, "stall", STALL_BYTES, 1 << 26, 2)
                    self.note(f"{tid} {n} stalled {got}")
                else:
                    got = fetch(c, tid, port, "smallwin", SMALLWIN_BYTES,
                                1 << 16, 0)
                    self.note(f"{tid} {n} smallwin-got {got}")
                return
            c.sendall(out)
            while hold:
                if not c.recv(65536):
                    break
            self.note(f"{tid} {n} closed")
            return
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--groups", default="")
    ap.add_argument("--log", required=True)
    ap.add_argument("--blackhole-file")
    a = ap.parse_args()
    srv = Server(a.groups, a.log)
    if a.blackhole_file:        # a local service that never answers
        bh = socket.socket()
        bh.bind(("127.0.0.1", 0))
        bh.listen(4096)         # connections wait in the backlog
        with open(a.blackhole_file + ".tmp", "w") as f:
            f.write(str(bh.getsockname()[1]))
        os.rename(a.blackhole_file + ".tmp", a.blackhole_file)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=srv.serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
