#!/bin/sh
# HTTPS on the public listener: tunneld terminates TLS itself (tls.c) in
# front of a plain libmicrohttpd, so the API, the proxied requests, the
# agent's wss:// link and public WebSockets all share one port.  TLS 1.3
# negotiated, TLS 1.1 refused; the client verifies the server against
# --ca-file and refuses it without; bodies and WebSockets pass exact; a
# certificate replaced on disk is served after SIGHUP while the tunnel
# stays up; the redirect listener sends plain HTTP to https.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

command -v certtool >/dev/null 2>&1 ||
    skip_all "certtool (gnutls-bin) is not installed"
WSECHO=$top_srcdir/tests/integration/wsecho.py

mkca one
mkca two
CA=$TMPD/one-ca.pem
cp "$TMPD/one.pem" "$TMPD/cert.pem"
cp "$TMPD/one-key.pem" "$TMPD/key.pem"

start_localsvc
start_tunneld --tls-cert "$TMPD/cert.pem" --tls-key "$TMPD/key.pem" \
    --redirect-listen 127.0.0.1:0
SERVER_URL=https://localhost:$TUNNELD_PORT

scurl()
{
	tcurl --cacert "$CA" "$@"
}

# --- the handshake ----------------------------------------------------------
is "GET /health over https" \
    "$(scurl -o /dev/null -w '%{http_code}' "$SERVER_URL/health")" 200
is "the API over https by address (IP SAN)" "$(scurl -o /dev/null \
    -w '%{http_code}' "https://127.0.0.1:$TUNNELD_PORT/api")" 200
if command -v gnutls-cli >/dev/null 2>&1; then
	timeout 20 gnutls-cli --x509cafile "$CA" -p "$TUNNELD_PORT" localhost \
	    </dev/null >"$TMPD/cli13.out" 2>&1
	check "gnutls-cli negotiates TLS 1.3" \
	    grep -q 'Description: (TLS1.3' "$TMPD/cli13.out"
	check "the certificate is trusted by gnutls-cli" \
	    grep -q 'The certificate is trusted' "$TMPD/cli13.out"
	if timeout 20 gnutls-cli --x509cafile "$CA" -p "$TUNNELD_PORT" \
	    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.1' localhost </dev/null \
	    >"$TMPD/cli11.out" 2>&1; then
		not_ok "TLS 1.1 is refused"
		diag_file "$TMPD/cli11.out" 10
	else
		ok "TLS 1.1 is refused"
	fi
else
	skip "gnutls-cli negotiates TLS 1.3" "gnutls-cli is not installed"
fi
is "without the CA, curl refuses the certificate" \
    "$(tcurl -o /dev/null -w '%{http_code}' "$SERVER_URL/health" \
    2>/dev/null)" 000
# Garbage and a plain request on the TLS port: dropped, nothing else hurt.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' |
    timeout 5 python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.settimeout(5)
try:
    s.recv(100)
except OSError:
    pass' "$TUNNELD_PORT" || true
is "still serving after plain HTTP on the TLS port" \
    "$(scurl -o /dev/null -w '%{http_code}' "$SERVER_URL/health")" 200

# --- the client: verified, or refused --------------------------------------
# A client without --ca-file, to its end: the status in $rc, its output in
# $TMPD/$1.log.
noca_run()
{
	if "$TUNNEL_CLIENT" --server "$SERVER_URL" --api-key "$KEY" \
	    "$LOCAL_PORT" >"$TMPD/$1.log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
}

noca_run noca
is "tunnel-client without --ca-file: exit 1" "$rc" 1
check "and says how to fix it" grep -q -- '--ca-file' "$TMPD/noca.log"

start_client --ca-file "$CA" "$LOCAL_PORT"
like "the public URL is https" "$PUBLIC_URL" \
    "^https://localhost:$TUNNELD_PORT/$TUNNEL_ID/\$"
fetch echo --cacert "$CA" "$PUBLIC_URL"echo
is "GET through the tunnel over https" "$HTTP_STATUS" 200

# Run again without --ca-file, the client takes its saved tunnel and makes
# no API call: the WebSocket's own TLS has to refuse the server.
noca_run noca2
is "saved tunnel, no --ca-file: exit 1" "$rc" 1
check "the WebSocket's TLS refused the certificate" \
    grep -q 'the certificate of localhost: .*NOT trusted' "$TMPD/noca2.log"
check "and says how to fix it" grep -q -- '--ca-file' "$TMPD/noca2.log"
check "the first client still serves" alive "$CLIENT_PID"

# --insecure: no verification, on the API calls and on the WebSocket alike.
c1_pid=$CLIENT_PID c1_url=$PUBLIC_URL c1_log=$CLIENT_LOG c1_id=$TUNNEL_ID
start_client --insecure --new "$LOCAL_PORT"
check "--insecure: a warning says so" grep -q -- '--insecure' "$CLIENT_LOG"
fetch insecure --cacert "$CA" "${PUBLIC_URL}status/200"
is "--insecure: serves over https" "$HTTP_STATUS" 200
stop_pid "$CLIENT_PID"
is "--insecure: exits 0" "$STOP_STATUS" 0
CLIENT_PID=$c1_pid PUBLIC_URL=$c1_url CLIENT_LOG=$c1_log TUNNEL_ID=$c1_id
is "X-Forwarded-Proto is https" \
    "$(ht reqhdr "$TMPD/echo.body" X-Forwarded-Proto)" https
is "X-Forwarded-For is the caller" \
    "$(ht reqhdr "$TMPD/echo.body" X-Forwarded-For)" 127.0.0.1

want=$(tcurl "$LOCAL_URL/bytes?n=67108864&seed=tls" | sha256sum)
got=$(scurl "$PUBLIC_URL""bytes?n=67108864&seed=tls" | sha256sum)
is "64 MiB download over https: exact" "$got" "$want"
head -c 16777216 /dev/urandom >"$TMPD/up.bin"
fetch up --cacert "$CA" --data-binary @"$TMPD/up.bin" "$PUBLIC_URL"upload
is "16 MiB upload over https: status" "$HTTP_STATUS" 200
is "16 MiB upload over https: exact" "$(ht json "$TMPD/up.body" sha256)" \
    "$(sha256 "$TMPD/up.bin")"

: >"$TMPD/codes"
i=0
while [ "$i" -lt 40 ]; do
	printf 'url = "%sslow?ms=300"\noutput = /dev/null\n' "$PUBLIC_URL" \
	    >>"$TMPD/urls"
	i=$((i + 1))
done
scurl --parallel --parallel-immediate --parallel-max 40 \
    -w '%{http_code}\n' -K "$TMPD/urls" >"$TMPD/codes" 2>/dev/null
is "40 requests at once over https: all 200" \
    "$(sort "$TMPD/codes" | uniq -c | sed 's/^ *//')" "40 200"

# --- a public WebSocket over wss:// ----------------------------------------
rm -f "$TMPD/wsecho.port"
_spawn localsvc "$TMPD/wsecho.log" python3 -u "$WSECHO" \
    --port-file "$TMPD/wsecho.port"
wait_for 10 test -s "$TMPD/wsecho.port" || bail "wsecho.py did not start"
WSPORT=$(cat "$TMPD/wsecho.port")
CLIENT1_PID=$CLIENT_PID
CLIENT1_LOG=$CLIENT_LOG
PUBLIC1_URL=$PUBLIC_URL
start_client --ca-file "$CA" "$WSPORT"
WSS=wss://localhost:$TUNNELD_PORT/$TUNNEL_ID/chat
WSECHO_CAFILE=$CA
export WSECHO_CAFILE
out=$(python3 "$WSECHO" --client "$WSS" text 2000 2>&1 | tail -n 1)
is "wss: 2,000 text messages come back in order" "$out" \
    "text: 2000 messages echoed in order"
out=$(python3 "$WSECHO" --client "$WSS" binary 4194304 2>&1 | tail -n 1)
is "wss: a 4 MiB binary message comes back exact" "$out" \
    "binary: 4194304 bytes sent, 4194304 back, equal"

# --- the redirect listener -------------------------------------------------
RPORT=$(sed -n 's/.*redirecting http on .* (port \([0-9]*\)).*/\1/p' \
    "$TMPD/tunneld.1.log" | head -n 1)
fetch redir -H 'Host: example.test:8080' \
    "http://127.0.0.1:$RPORT/$TUNNEL_ID/a?b=c"
is "plain HTTP on redirect_listen: 308" "$HTTP_STATUS" 308
is "to the same URL over https, on the TLS port" \
    "$(ht resphdr "$TMPD/redir.hdr" Location)" \
    "https://example.test:$TUNNELD_PORT/$TUNNEL_ID/a?b=c"
fetch redir2 -H 'Host: bad host' "http://127.0.0.1:$RPORT/"
is "a Host that cannot go into a Location: 400" "$HTTP_STATUS" 400

# --- a new certificate on SIGHUP -------------------------------------------
printf 'not a certificate\n' >"$TMPD/cert.pem"
kill -HUP "$TUNNELD_PID"
check "a certificate that does not load is refused on reload" \
    wait_for 5 grep -q 'keeping the certificate in use' "$TMPD/tunneld.1.log"
is "and the old one is still served" \
    "$(scurl -o /dev/null -w '%{http_code}' "$SERVER_URL/health")" 200
cp "$TMPD/two.pem" "$TMPD/cert.pem"
cp "$TMPD/two-key.pem" "$TMPD/key.pem"
kill -HUP "$TUNNELD_PID"
check "SIGHUP loads the replaced certificate" \
    wait_for 5 grep -q 'TLS certificate .* loaded' "$TMPD/tunneld.1.log"
is "the next handshake gets the new certificate" \
    "$(tcurl --cacert "$TMPD/two-ca.pem" -o /dev/null -w '%{http_code}' \
    "$SERVER_URL/health")" 200
is "the old CA no longer verifies it" \
    "$(scurl -o /dev/null -w '%{http_code}' "$SERVER_URL/health" \
    2>/dev/null)" 000
CA=$TMPD/two-ca.pem
fetch after --cacert "$CA" "$PUBLIC1_URL"echo
is "the open tunnel keeps serving" "$HTTP_STATUS" 200
check "its agent did not reconnect" sh -c \
    "[ \$(grep -c 'Forwarding:' '$CLIENT1_LOG') -eq 1 ]"
alive "$CLIENT1_PID" && ok "the first client is still running" ||
    not_ok "the first client is still running"

# --- idle callers that never finish a handshake -------------------------------
# 300 sockets from 127.0.0.2 that send nothing: max_conns_per_ip (256) is
# enforced in the TLS layer before libmicrohttpd sees them, the rest wait
# for the 10 s handshake limit, and 127.0.0.1 is served meanwhile.
if curl --noproxy '*' -s -o /dev/null --max-time 5 --interface 127.0.0.2 \
    http://127.0.0.1:1/ 2>/dev/null || [ $? -ne 45 ]; then
	rm -f "$TMPD/idle.status"
	_spawn localsvc "$TMPD/idle.log" python3 \
	    "$top_srcdir/tests/integration/idleconns.py" --host 127.0.0.1 \
	    --port "$TUNNELD_PORT" --source 127.0.0.2 --count 300 \
	    --hold $((20 * SLOW)) --status "$TMPD/idle.status"
	IDLE_PID=$_pid
	wait_for $((15 * SLOW)) test -s "$TMPD/idle.status"
	check "300 silent callers: the TLS layer closes the 44 over 256" \
	    wait_for 5 sh -c "[ \"\$(sed -n 's/.*closed=\([0-9]*\).*/\1/p' \
	    '$TMPD/idle.status')\" -ge 44 ]"
	t=$(tcurl --cacert "$CA" --interface 127.0.0.1 -o /dev/null \
	    -w '%{http_code} %{time_total}' "$SERVER_URL/health" 2>/dev/null)
	diag "GET /health over https next to 256 silent callers: $t"
	like "and another address is served at once" "$t" '^200 0\.'
	check "the handshake limit closes the other 256 within 15 s" \
	    wait_for $((15 * SLOW)) sh -c "[ \"\$(sed -n \
	    's/.*closed=\([0-9]*\).*/\1/p' '$TMPD/idle.status')\" -ge 300 ]"
	diag "silent callers: $(cat "$TMPD/idle.status")"
	stop_pid "$IDLE_PID"
else
	skip "silent callers" "curl cannot bind to 127.0.0.2 (--interface)"
fi

# --- a caller who stops reading ----------------------------------------------
# A download the caller never reads: once the TLS layer has a record it
# cannot send, it no longer watches libmicrohttpd's side, and so must let
# the connection go itself after connection_timeout (2 s here) without
# progress, not keep its descriptor for as long as the caller stays.
start_tunneld --tls-cert "$TMPD/cert.pem" --tls-key "$TMPD/key.pem" \
    --connection-timeout 2 --state-dir "$TMPD/state-stall"
SERVER_URL=https://localhost:$TUNNELD_PORT
start_client --ca-file "$CA" --new "$LOCAL_PORT"
cat >"$TMPD/stall.py" <<'PYEOF'
import socket, ssl, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(("127.0.0.1", u.port))
c = ctx.wrap_socket(raw, server_hostname="localhost")
c.sendall(("GET %sbytes?n=100000000 HTTP/1.1\r\nHost: localhost\r\n\r\n"
           % u.path).encode())
print(c.getsockname()[1], flush=True)
time.sleep(float(sys.argv[3]))
PYEOF
_spawn localsvc "$TMPD/stall.out" python3 "$TMPD/stall.py" "$PUBLIC_URL" "$CA" \
    $((12 * SLOW))
STALL_PID=$_pid
wait_for 10 test -s "$TMPD/stall.out"
cport=$(head -n 1 "$TMPD/stall.out")
held()
{
	ss -Htnp "( dport = :$cport )" 2>/dev/null | grep -q "pid=$TUNNELD_PID,"
}
if command -v ss >/dev/null 2>&1; then
	check "tunneld holds the stalled caller's connection at first" held
	sleep 3
	check "and lets it go after connection_timeout" wait_for \
	    $((8 * SLOW)) sh -c "! ss -Htnp '( dport = :$cport )' |
	    grep -q 'pid=$TUNNELD_PID,'"
else
	skip "a stalled caller let go" "ss (iproute2) is not installed"
fi
stop_pid "$STALL_PID"

done_testing
