#!/bin/sh
# Large bodies both ways, chunked bodies, streaming, many requests at once,
# and memory that stays flat while they pass.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

MIB64=67108864
# 1 GiB each way in a plain build; 64 MiB under the sanitizers or valgrind,
# where the same bytes take minutes.  Streamed through pipes: nothing of
# that size is kept on disk.
BIG=1073741824
BIGNAME="1 GiB"
if [ -n "${TUNNEL_SANITIZERS:-}" ] || [ -n "${TUNNEL_VALGRIND:-}" ]; then
	BIG=$MIB64
	BIGNAME="64 MiB"
fi

# sha256 and length of stdin: "HEX LEN"
sumlen()
{
	python3 -c 'import hashlib, sys
h = hashlib.sha256(); n = 0
while True:
    b = sys.stdin.buffer.read(1 << 20)
    if not b:
        break
    h.update(b); n += len(b)
print(h.hexdigest(), n)'
}

start_localsvc
start_tunneld
start_client "$LOCAL_PORT"

# --- big download ---------------------------------------------------------
want=$(tcurl "$LOCAL_URL/bytes?n=$BIG&seed=down" | sumlen)
got=$(tcurl -D "$TMPD/down.hdr" "$PUBLIC_URL""bytes?n=$BIG&seed=down" | sumlen)
like "$BIGNAME download: status" "$(head -n 1 "$TMPD/down.hdr")" ' 200'
is "$BIGNAME download: SHA-256 and size" "$got" "$want"

# --- big upload (chunked, from a pipe) --------------------------------------
want=$(tcurl "$LOCAL_URL/bytes?n=$BIG&seed=up" | sumlen)
tcurl "$LOCAL_URL/bytes?n=$BIG&seed=up" |
    tcurl -o "$TMPD/upt.body" -T - -X POST "$PUBLIC_URL"upload
is "$BIGNAME upload: SHA-256 and size" \
    "$(ht json "$TMPD/upt.body" sha256) $(ht json "$TMPD/upt.body" len)" \
    "$want"

# --- 64 MiB upload with a Content-Length ----------------------------------
tcurl -o "$TMPD/up.bin" "$LOCAL_URL/bytes?n=$MIB64&seed=up" ||
    bail "cannot fetch the upload body from localsvc"
fetch upd --data-binary @"$TMPD/up.bin" "$LOCAL_URL/upload"
fetch upt --data-binary @"$TMPD/up.bin" "$PUBLIC_URL"upload
is "64 MiB upload: status" "$HTTP_STATUS" 200
is "64 MiB upload: length" "$(ht json "$TMPD/upt.body" len)" "$MIB64"
is "64 MiB upload: SHA-256" "$(ht json "$TMPD/upt.body" sha256)" \
    "$(ht json "$TMPD/upd.body" sha256)"
is "64 MiB upload: SHA-256 of the file" "$(ht json "$TMPD/upt.body" sha256)" \
    "$(sha256 "$TMPD/up.bin")"

# The same body, chunked by the caller (PUT, so both verbs stream).
head -c 8388608 "$TMPD/up.bin" >"$TMPD/up8.bin"
fetch upc -H 'Transfer-Encoding: chunked' -T "$TMPD/up8.bin" "$PUBLIC_URL"upload
is "8 MiB chunked upload: status" "$HTTP_STATUS" 200
is "8 MiB chunked upload: length" "$(ht json "$TMPD/upc.body" len)" 8388608
is "8 MiB chunked upload: SHA-256" "$(ht json "$TMPD/upc.body" sha256)" \
    "$(sha256 "$TMPD/up8.bin")"
rm -f "$TMPD/up.bin" "$TMPD/up8.bin"

# --- chunked download -----------------------------------------------------
n=20000003
want=$(tcurl "$LOCAL_URL/bytes?n=$n&seed=ch&chunked=1" | sha256)
fetch chd "$PUBLIC_URL""bytes?n=$n&seed=ch&chunked=1"
is "chunked download: status" "$HTTP_STATUS" 200
is "chunked download: size" "$(wc -c <"$TMPD/chd.body" | tr -d ' ')" "$n"
is "chunked download: SHA-256" "$(sha256 "$TMPD/chd.body")" "$want"
rm -f "$TMPD/chd.body"
# A service that sends a Content-Length with its chunks: the chunks win.
fetch chbad "$PUBLIC_URL""bytes?n=100000&seed=ch&chunked=1&badcl=1"
is "chunked download with a wrong Content-Length: every byte" \
    "$(wc -c <"$TMPD/chbad.body" | tr -d ' ')" 100000

# --- server-sent events arrive as they are written ------------------------
# The second event comes 30 s after the first; curl gives up long before.
# A tunnel that buffers the response delivers nothing in that time.
tcurl -N --max-time $((4 * SLOW)) "$PUBLIC_URL"'sse?n=2&ms=30000' \
    >"$TMPD/sse.out" 2>/dev/null
check "first server-sent event arrives before the response ends" \
    grep -q '^data: event 0' "$TMPD/sse.out"

# --- a caller who leaves a quiet event stream ------------------------------
# The connection waits, suspended, for the next event (a minute away); the
# caller reads the first and closes.  tunneld notices within seconds: the
# request is over (its access line) and the agent told to stop it.
python3 - "$PUBLIC_URL" <<'PYEOF'
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = socket.create_connection((u.hostname, u.port), timeout=10)
c.sendall(("GET %ssse?n=2&ms=60000&tag=leave HTTP/1.1\r\nHost: x\r\n\r\n"
           % u.path).encode())
got = b""
while b"event 0" not in got:
    d = c.recv(4096)
    if not d:
        break
    got += d
c.close()
PYEOF
check "a caller who leaves a quiet event stream: its request ends" \
    wait_for $((10 * SLOW)) grep -q 'access .*tag=leave' "$TMPD/tunneld.1.log"

# --- 50 requests at once --------------------------------------------------
set --
i=0
while [ "$i" -lt 50 ]; do
	set -- "$@" -o /dev/null "$PUBLIC_URL"'slow?ms=1000'
	i=$((i + 1))
done
tcurl --no-progress-meter --parallel --parallel-immediate --parallel-max 50 \
    -w '%{http_code}\n' "$@" >"$TMPD/par.out" 2>"$TMPD/par.err"
is "50 concurrent slow requests: all 200" \
    "$(grep -c '^200$' "$TMPD/par.out")" 50
[ "$(grep -c '^200$' "$TMPD/par.out")" = 50 ] ||
    diag "statuses: $(sort "$TMPD/par.out" | uniq -c | tr '\n' ' ')"

# --- the server stops reading for a second --------------------------------
# Eight downloads at once, and tunneld stopped while they run: the client
# has a window of bytes for each, more than the socket to tunneld takes, so
# its writes are cut off and go on where they stopped once tunneld reads
# again.  Every byte arrives, in order.
n=$((BIG / 4))
want=$(tcurl "$LOCAL_URL/bytes?n=$n&seed=stall" | sumlen)
set --
i=0
while [ "$i" -lt 8 ]; do
	{ tcurl "$PUBLIC_URL""bytes?n=$n&seed=stall" | sumlen \
	    >"$TMPD/stall.$i"; } &
	set -- "$@" $!
	i=$((i + 1))
done
sleep 0.2
kill -STOP "$TUNNELD_PID"
sleep 1
kill -CONT "$TUNNELD_PID"
wait "$@"
i=0
good=0
while [ "$i" -lt 8 ]; do
	[ "$(cat "$TMPD/stall.$i")" = "$want" ] && good=$((good + 1))
	i=$((i + 1))
done
is "8 downloads across a stopped server: all exact" "$good" 8
check "tunneld runs on" alive "$TUNNELD_PID"
check "tunnel-client runs on" alive "$CLIENT_PID"

# --- memory ---------------------------------------------------------------
if [ -n "${TUNNEL_VALGRIND:-}" ]; then
	skip "tunneld peak RSS" "under valgrind"
	skip "tunnel-client peak RSS" "under valgrind"
elif [ "${TUNNEL_SANITIZERS:-}" = 1 ]; then
	skip "tunneld peak RSS" "under ASan"
	skip "tunnel-client peak RSS" "under ASan"
else
	for p in "tunneld $TUNNELD_PID" "tunnel-client $CLIENT_PID"; do
		pid=${p#* }
		hwm=$(vmhwm "$pid")
		if [ -n "$hwm" ] && [ "$hwm" -lt 65536 ]; then
			ok "${p% *} peak RSS under 64 MiB (${hwm} KiB)"
		else
			not_ok "${p% *} peak RSS under 64 MiB (${hwm:-unknown} KiB)"
		fi
	done
fi

# --- the agent stops reading ----------------------------------------------
# A new tunnel-client, stopped at once, and 150 requests with 60 KB heads,
# 15 ms apart: more than the sockets between the two hold (the client's
# receive buffer has not grown yet), so a write of one is cut off and the
# rest of it, and of the others, waits.  Once the agent reads again each
# request is answered, and each with its own answer.
start_client "$LOCAL_PORT"
kill -STOP "$CLIENT_PID"
python3 - "$PUBLIC_URL" >"$TMPD/heads.out" 2>&1 <<'PYEOF' &
import http.client, sys, threading, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
pad = "p" * 60000
good = []
def one(i):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        c.request("GET", u.path + "echo?i=%d" % i, headers={"X-Pad": pad})
        r = c.getresponse()
        body = r.read()
        if r.status == 200 and b'"path": "/echo?i=%d"' % i in body:
            good.append(i)
    except Exception as e:
        print(i, e)
ts = [threading.Thread(target=one, args=(i,)) for i in range(150)]
for t in ts:
    t.start()
    time.sleep(0.015)   # one at a time: tunneld's workers write them
for t in ts:
    t.join(90)
print("answered", len(good))
PYEOF
heads=$!
sleep 4
kill -CONT "$CLIENT_PID"
wait "$heads"
is "150 big heads across a stopped agent: all answered, each its own" \
    "$(tail -n 1 "$TMPD/heads.out")" "answered 150"
check "tunneld runs on" alive "$TUNNELD_PID"
check "tunnel-client runs on" alive "$CLIENT_PID"

done_testing
