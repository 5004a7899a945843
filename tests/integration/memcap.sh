#!/bin/sh
# The cap on response bytes held for slow callers is shared fairly: 150
# callers that never read, on one tunnel, pin what its agent sent them
# (about 2 MiB each, its window: more than the 256 MiB cap in all), and a
# second tunnel with an agent of its own must still be served at once.
# And tunnel-client stops reading the server while the local service has
# not taken 64 MiB of request bodies.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

if [ -n "${TUNNEL_VALGRIND:-}" ] || [ -n "${TUNNEL_SANITIZERS:-}" ]; then
	skip_all "300 MiB through the tunnel: plain builds only"
fi

start_localsvc
start_tunneld
start_client --subdomain memcap-hog "$LOCAL_PORT"
HOG_URL=$PUBLIC_URL
start_client --subdomain memcap-other "$LOCAL_PORT"
OTHER_URL=$PUBLIC_URL
fetch before "$OTHER_URL"status/200
is "the other tunnel serves" "$HTTP_STATUS" 200

# 150 downloads of 8 MiB with a 4 KiB receive buffer, none read; the
# script holds them until told to go (stdin closed), then prints how many
# it had open.
mkfifo "$TMPD/hog.in"
cat >"$TMPD/hog.py" <<'PYEOF'
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
req = ("GET %sbytes?n=8388608&seed=hog HTTP/1.1\r\nHost: x\r\n\r\n"
       % u.path).encode()
socks = []
for i in range(150):
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect((u.hostname, u.port))
    c.sendall(req)
    socks.append(c)
print("open", len(socks), flush=True)
sys.stdin.read()
for c in socks:
    c.close()
PYEOF
python3 "$TMPD/hog.py" "$HOG_URL" <"$TMPD/hog.in" >"$TMPD/hog.out" 2>&1 &
hog=$!
exec 3>"$TMPD/hog.in"
check "150 callers that do not read" wait_for $((20 * SLOW)) \
    grep -q '^open 150' "$TMPD/hog.out"
# Wait until the hog's agent has been stopped (the log says so), or 15 s.
check "tunneld stops reading the hog's agent" wait_for $((15 * SLOW)) \
    grep -q 'session memcap-hog: over the memory cap' "$TMPD/tunneld.1.log"
fetch during --max-time 10 "$OTHER_URL"'bytes?n=1048576&seed=other'
is "the other tunnel still serves: 200" "$HTTP_STATUS" 200
is "the other tunnel still serves: every byte" \
    "$(wc -c <"$TMPD/during.body" | tr -d ' ')" 1048576
lacks_other()
{
	lacks "$TMPD/tunneld.1.log" 'session memcap-other: over the memory cap'
}
check "the other tunnel's agent is read on" lacks_other
# The bodies held stay under the cap (256 MiB); the process holds more
# (buffers of MHD, the sockets' own, freed memory kept): seen here from
# 190 to 320 MiB.  A bound on all of it, not a measure of the sharing.
hwm=$(vmhwm "$TUNNELD_PID")
if [ -n "$hwm" ] && [ "$hwm" -lt 524288 ]; then
	ok "tunneld peak RSS under 512 MiB (${hwm} KiB)"
else
	not_ok "tunneld peak RSS under 512 MiB (${hwm:-unknown} KiB)"
fi
exec 3>&-
wait "$hog"
fetch after "$HOG_URL"status/200
is "the hog's tunnel serves again once its callers are gone" \
    "$HTTP_STATUS" 200
check "tunneld runs on" alive "$TUNNELD_PID"

# tunnel-client's side: request bodies the local service does not take.
# Its listen queue is full, so curl's connects hang (until
# --connect-timeout, 6 s), and 150 callers each send a 2 MiB body (the
# window): 300 MiB the client would hold.  Past 64 MiB held it resets the
# streams holding the most, reads on, and a second tunnel on the same
# connection serves meanwhile, uploads too; every caller gets an error page.  On a
# plain connection the curl thread reads the connection; over TLS, lws.
cat >"$TMPD/full.py" <<'PYEOF'
import os, socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(0)
fill = socket.create_connection(ls.getsockname())  # the one place taken
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
PYEOF
_spawn localsvc "$TMPD/full.log" python3 "$TMPD/full.py" "$TMPD/full.port"
wait_for 10 test -s "$TMPD/full.port" || bail "full.py did not start"
cat >"$TMPD/bodies.py" <<'PYEOF'
import socket, ssl, sys, threading, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
n, size, got = 150, 2 << 20, []
def one():
    try:
        c = socket.create_connection((u.hostname, u.port), timeout=60)
        if u.scheme == "https":
            c = ssl.create_default_context(cafile=sys.argv[2]).wrap_socket(
                c, server_hostname=u.hostname)
        c.sendall(("POST %sup HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                   "\r\n\r\n" % (u.path, size)).encode() + b"b" * size)
        got.append(c.recv(64).split(b" ")[1].decode())
    except (OSError, IndexError) as e:
        got.append(type(e).__name__)
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
fives = sum(1 for k in got if k.startswith("5"))
print("%d of %d: %s" % (fives, n, " ".join(
    "%s:%d" % (k, got.count(k)) for k in sorted(set(got)))))
PYEOF
bodies()	# bodies WHAT [CLIENT OPTIONS...]
{
	_w=$1
	shift
	cat >"$TMPD/bodies.$_w.conf" <<EOC
[tunnel full]
port = $(cat "$TMPD/full.port")
subdomain = memcap-full-$_w

[tunnel ok]
port = $LOCAL_PORT
subdomain = memcap-ok-$_w
EOC
	start_client --config "$TMPD/bodies.$_w.conf" \
	    --connect-timeout 6 --no-inspect "$@"
	wait_for $((15 * SLOW)) sh -c \
	    "[ \$(grep -c 'Forwarding:' '$CLIENT_LOG') -ge 2 ]" ||
	    bail "$_w: the client did not forward both tunnels"
	_full=$(sed -n 's/.*\[full\] Public URL: *//p' "$CLIENT_LOG")
	_ok=$(sed -n 's/.*\[ok\] Public URL: *//p' "$CLIENT_LOG")
	python3 "$TMPD/bodies.py" "$_full" "${CA:-}" \
	    >"$TMPD/bodies.$_w.out" 2>&1 &
	_b=$!
	check "$_w: past 64 MiB held the client resets" \
	    wait_for $((30 * SLOW)) grep -q \
	    'MiB of requests wait for the local service; reset' "$CLIENT_LOG"
	fetch "ok-$_w" --max-time 5 ${CA:+--cacert "$CA"} "${_ok}status/200"
	is "$_w: and the other tunnel serves meanwhile" "$HTTP_STATUS" 200
	head -c 1048576 /dev/zero >"$TMPD/one.mib"
	fetch "okup-$_w" --max-time 10 ${CA:+--cacert "$CA"} \
	    --data-binary @"$TMPD/one.mib" "${_ok}upload"
	is "$_w: an upload to it too (the streams holding most are reset)" \
	    "$HTTP_STATUS $(ht json "$TMPD/okup-$_w.body" len)" "200 1048576"
	wait "$_b"
	like "$_w: every caller gets an error page" \
	    "$(cat "$TMPD/bodies.$_w.out")" '^150 of 150: '
	diag "$_w: $(cat "$TMPD/bodies.$_w.out")"
	hwm=$(vmhwm "$CLIENT_PID")
	if [ -n "$hwm" ] && [ "$hwm" -lt 163840 ]; then
		ok "$_w: tunnel-client peak RSS under 160 MiB (${hwm} KiB)"
	else
		not_ok "$_w: tunnel-client peak RSS under 160 MiB (${hwm:-?} KiB)"
	fi
	check "$_w: tunnel-client runs on" alive "$CLIENT_PID"
	stop_pid "$CLIENT_PID"
	check "$_w: tunneld runs on" alive "$TUNNELD_PID"
}
bodies plain
if command -v certtool >/dev/null 2>&1; then
	stop_pid "$TUNNELD_PID"
	mkca memcap
	CA=$TMPD/memcap-ca.pem
	start_tunneld --tls-cert "$TMPD/memcap.pem" \
	    --tls-key "$TMPD/memcap-key.pem"
	SERVER_URL=https://localhost:$TUNNELD_PORT
	bodies tls --ca-file "$CA"
fi

done_testing
