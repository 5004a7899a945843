#!/usr/bin/env python3
"""A minimal tunnel agent speaking the wire protocol with raw sockets.

Used by the tests to drive tunneld without tunnel-client: it connects,
sends HELLO, and answers every OPEN with a fixed response, or misbehaves on
request (--mode) to check that the server contains a broken agent.
"""
import argparse, base64, json, os, socket, struct, sys, threading, time

HELLO, OPEN, RESPONSE, DATA, END, RESET, WINDOW, GOAWAY = range(1, 9)


def ws_connect(host, port, path, token, proto="1"):
    s = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Authorization: Bearer {token}\r\nX-Tunnel-Protocol: {proto}\r\n\r\n")
    s.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("connection closed during handshake")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split()[1])
    return s, status, rest


def frame(opcode, payload, mask=None, length=None):
    """One FIN frame; mask is 4 bytes or None; length overrides the real one."""
    n = len(payload) if length is None else length
    hdr = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr += bytes([mbit | n])
    elif n < 65536:
        hdr += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        hdr += bytes([mbit | 127]) + struct.pack(">Q", n)
    if mask:
        hdr += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return hdr + payload


def ws_send(s, payload, opcode=2, mask=True):
    s.sendall(frame(opcode, payload, os.urandom(4) if mask else None))


class Reader:
    def __init__(self, s, rest):
        self.s, self.buf = s, rest

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.need(8))[0]
        return b0 & 0x0F, self.need(n)


def msg(t, sid, payload=b""):
    return struct.pack(">BBI", t, 0, sid) + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)  # host:port
    ap.add_argument("--id", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--mode", default="echo")
    ap.add_argument("--proto", default="1")
    ap.add_argument("--hello-delay", type=float, default=0)
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    s, status, rest = ws_connect(host, int(port), f"/api/tunnel/connect/{a.id}",
                                 a.token, a.proto)
    print(f"status {status}", flush=True)
    if status != 101:
        sys.exit(1)
    hello = msg(HELLO, 0, json.dumps({"version": 1, "window": 1 << 20,
                                       "agent": "mockagent"}).encode())
    if a.hello_delay > 0:
        time.sleep(a.hello_delay)
    ws_send(s, hello)
    if a.mode == "hello2":
        ws_send(s, hello)
    if a.mode == "unknown":         # streams the server never opened
        for t, pl in ((DATA, b"x"), (END, b""), (WINDOW, struct.pack(">I", 1)),
                      (RESET, struct.pack(">I", 1)),
                      (RESPONSE, json.dumps({"status": 200, "headers": [],
                                             "content_length": 0}).encode())):
            ws_send(s, msg(t, 999, pl))
    r = Reader(s, rest)
    bodies = {}
    while True:
        try:
            op, p = r.frame()
        except EOFError:
            print("closed", flush=True)
            return
        if op == 9:
            ws_send(s, p, opcode=10)
            continue
        if op == 8:
            code = struct.unpack(">H", p[:2])[0] if len(p) >= 2 else 1005
            print(f"close {code}", flush=True)
            return
        if op != 2:
            continue
        t, _, sid = struct.unpack(">BBI", p[:6])
        body = p[6:]
        if t == HELLO:
            print("hello " + body.decode(), flush=True)
        elif t == GOAWAY:
            print("goaway " + body.decode(), flush=True)
        elif t == OPEN:
            head = json.loads(body)
            bodies[sid] = (head, b"")
            if a.mode == "garbage":
                ws_send(s, b"\xff\x00garbage")
            elif a.mode == "unmasked":
                ws_send(s, msg(END, sid), mask=False)
            elif a.mode == "silent":
                pass
            elif a.mode == "early":     # answer at once, never read the body
                ws_send(s, msg(RESPONSE, sid, json.dumps(
                    {"status": 200, "headers": [], "content_length": 2}
                ).encode()))
                ws_send(s, msg(DATA, sid, b"ok"))
                ws_send(s, msg(END, sid))
            elif a.mode == "noend":     # more than it says, and no END
                ws_send(s, msg(RESPONSE, sid, json.dumps(
                    {"status": 200, "headers": [], "content_length": 0}
                ).encode()))
                ws_send(s, msg(DATA, sid, b"x" * 16384))
            elif a.mode == "up101reset":  # 101, then RESET, in one write
                s.sendall(frame(2, msg(RESPONSE, sid, json.dumps(
                    {"status": 101, "headers": [["Upgrade", "websocket"]],
                     "content_length": -1}).encode()), os.urandom(4)) +
                    frame(2, msg(RESET, sid, struct.pack(">I", 1)),
                          os.urandom(4)))
            elif a.mode == "datafirst":
                ws_send(s, msg(DATA, sid, b"too soon"))
            elif a.mode in ("resp2", "end2", "winover"):
                rm = msg(RESPONSE, sid, json.dumps(
                    {"status": 200, "headers": [], "content_length": -1}
                ).encode())
                ws_send(s, rm)
                if a.mode == "resp2":
                    ws_send(s, rm)
                elif a.mode == "end2":
                    ws_send(s, msg(DATA, sid, b"ok"))
                    ws_send(s, msg(END, sid))
                    ws_send(s, msg(END, sid))
                    ws_send(s, msg(DATA, sid, b"late"))
                else:
                    w = msg(WINDOW, sid, struct.pack(">I", 64 << 20))
                    ws_send(s, w)
                    ws_send(s, w)
        elif t == RESET:
            print(f"reset {sid}", flush=True)
        elif t == DATA and a.mode == "early":
            pass
        elif t == DATA:
            h, b = bodies.get(sid, (None, b""))
            bodies[sid] = (h, b + body)
            ws_send(s, msg(WINDOW, sid, struct.pack(">I", len(body))))
        elif t == END and sid in bodies and a.mode in ("echo", "unknown"):
            head, b = bodies.pop(sid)
            out = json.dumps({"method": head["method"], "path": head["path"],
                              "headers": head["headers"],
                              "body_len": len(b)}).encode()
            ws_send(s, msg(RESPONSE, sid, json.dumps(
                {"status": 200, "headers": [["Content-Type", "application/json"],
                                            ["X-Mock", "1"]],
                 "content_length": len(out)}).encode()))
            ws_send(s, msg(DATA, sid, out))
            ws_send(s, msg(END, sid))


if __name__ == "__main__":
    main()
