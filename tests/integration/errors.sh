#!/bin/sh
# Failures have the right status: the local service down (502), no agent
# (502), a slow local service (504), and the control API's errors.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
start_tunneld --request-timeout 2 --api-key "other:$KEY2"
start_client "$LOCAL_PORT"

fetch ok1 "$PUBLIC_URL"status/200
is "tunnel serves" "$HTTP_STATUS" 200

# --- 504: no response head within request_timeout ------------------------
fetch slow "$PUBLIC_URL"'slow?ms=5000'
is "slow local service: 504" "$HTTP_STATUS" 504
check "504: a page says why" test -s "$TMPD/slow.body"
fetch ok2 "$PUBLIC_URL"status/200
is "tunnel serves after a 504" "$HTTP_STATUS" 200

# --- 400: a body whose length the tunnel cannot pass on -------------------
# rawpost URL TE-LINE CL-LINE: a chunked POST whose body holds a second
# request; prints the status and "closed" if the connection closed after
# the answer.
rawpost()
{
	python3 - "$@" <<'PYEOF'
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
head = "POST %supload HTTP/1.1\r\nHost: %s\r\n" % (u.path, u.netloc)
for h in sys.argv[2:]:
    if h:
        head += h + "\r\n"
c = socket.create_connection((u.hostname, u.port), timeout=10)
c.sendall(head.encode() + b"\r\n" + chunked)
got = b""
try:
    while True:
        d = c.recv(65536)
        if not d:
            got += b" closed"
            break
        got += d
except socket.timeout:
    pass
print(got.split(b" ")[1].decode(), "closed" if got.endswith(b" closed")
      else "open")
PYEOF
}
is "Transfer-Encoding with a Content-Length: 400, connection closed" \
    "$(rawpost "$PUBLIC_URL" 'Transfer-Encoding: chunked' 'Content-Length: 4')" \
    "400 closed"
is "Transfer-Encoding other than chunked: 400, connection closed" \
    "$(rawpost "$PUBLIC_URL" 'Transfer-Encoding: gzip, chunked' '')" \
    "400 closed"
python3 - "$PUBLIC_URL" >"$TMPD/sp.out" <<'PYEOF'
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
for t in (b"a b", b"a\x01b", b"a\x7fb"):
    c = socket.create_connection((u.hostname, u.port), timeout=10)
    c.sendall(b"GET " + u.path.encode() + t + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    print(c.recv(4096).split(b" ")[1].decode(), end=" ")
PYEOF
is "a target with a space, a control character, DEL: 400 each" \
    "$(cat "$TMPD/sp.out")" "400 400 400 "
fetch dupcl -X POST -H 'Content-Length: 3' -H 'Content-Length: 3' \
    --data-binary abc "$PUBLIC_URL"upload
is "Content-Length twice: 400" "$HTTP_STATUS" 400
fetch chunked -H 'Transfer-Encoding: chunked' --data-binary abc \
    "$PUBLIC_URL"upload
is "chunked alone: 200" "$HTTP_STATUS" 200
is "chunked alone: the body arrives" "$(ht json "$TMPD/chunked.body" len)" 3
check "the refusals are logged" grep -q \
    '400 for a Transfer-Encoding with a Content-Length' "$TMPD/tunneld.1.log"

# --- 408: the caller's body stops coming -----------------------------------
# 10 bytes of 100, a pause past request_timeout (2 s), then the rest: the
# answer says it was the body that was late.  (A caller that sends no
# more is closed at connection_timeout.)
python3 - "$PUBLIC_URL" >"$TMPD/slowup.out" <<'PYEOF'
import socket, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = socket.create_connection((u.hostname, u.port), timeout=15)
c.sendall(("POST %supload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
           "0123456789" % u.path).encode())
time.sleep(3)
c.sendall(b"a" * 90)
print(c.recv(4096).split(b" ")[1].decode())
PYEOF
is "a request body that stops coming: 408, not 504" \
    "$(cat "$TMPD/slowup.out")" 408

# --- 502: the local service is down ---------------------------------------
stop_pid "$LOCALSVC_PID"
fetch down "$PUBLIC_URL"echo
is "local service down: 502" "$HTTP_STATUS" 502
check "local service down: a page says so" test -s "$TMPD/down.body"
check "tunnel-client keeps running" alive "$CLIENT_PID"
start_localsvc "$LOCAL_PORT"
fetch back "$PUBLIC_URL"status/200
is "local service back: 200" "$HTTP_STATUS" 200

# --- 502: no agent --------------------------------------------------------
stop_pid "$CLIENT_PID"
is "tunnel-client exits 0 on SIGTERM" "$STOP_STATUS" 0
fetch noagent "$PUBLIC_URL"echo
is "no agent: 502" "$HTTP_STATUS" 502
check "no agent: a page says so" test -s "$TMPD/noagent.body"

# --- control API ------------------------------------------------------------
# api NAME KEY|- METHOD PATH [BODY]
api()
{
	_a_name=$1
	_a_key=$2
	_a_method=$3
	_a_path=$4
	shift 4
	set -- -X "$_a_method" "$SERVER_URL$_a_path" "$@"
	if [ "$_a_key" != - ]; then
		set -- -H "X-API-Key: $_a_key" "$@"
	fi
	if [ "$_a_method" = POST ]; then
		set -- -H 'Content-Type: application/json' "$@"
	fi
	fetch "$_a_name" "$@"
}

# api_err DESC STATUS NAME: the status and a JSON {"error": "..."} body.
api_err()
{
	is "$1: $2" "$HTTP_STATUS" "$2"
	check "$1: JSON error" ht json "$TMPD/$3.body" error
}

api nokey - POST /api/tunnels --data '{}'
api_err "create without a key" 401 nokey
api badkey wrong-key-0123456789abcdef POST /api/tunnels --data '{}'
api_err "create with a wrong key" 401 badkey
api bearer - POST /api/tunnels -H "Authorization: Bearer wrong-key-0123456789abc" \
    --data '{}'
api_err "create with a wrong Bearer key" 401 bearer
api badjson "$KEY" POST /api/tunnels --data '{"subdomain":'
api_err "bad JSON" 400 badjson
api notobj "$KEY" POST /api/tunnels --data '[1,2]'
api_err "JSON that is not an object" 400 notobj
api badport "$KEY" POST /api/tunnels --data '{"local_port":"abc"}'
api_err "local_port \"abc\"" 400 badport
api badtype "$KEY" POST /api/tunnels --data '{"type":"gopher"}'
api_err "unknown type" 400 badtype
api reserved "$KEY" POST /api/tunnels --data '{"subdomain":"api"}'
api_err "reserved name api" 400 reserved
api reserved2 "$KEY" POST /api/tunnels --data '{"name":"health"}'
api_err "reserved name health" 400 reserved2
api badname "$KEY" POST /api/tunnels --data '{"subdomain":"Bad_Name!"}'
api_err "invalid name" 400 badname
api nulname "$KEY" POST /api/tunnels --data '{"name":"ok-name\u0000x"}'
api_err "a name with \\u0000" 400 nulname
api dupkey "$KEY" POST /api/tunnels --data '{"name":"dup-a","name":"dup-b"}'
api_err "a repeated key" 400 dupkey
api nan "$KEY" POST /api/tunnels --data '{"metadata":{"x":NaN}}'
api_err "NaN in metadata" 400 nan
printf '{"metadata":{"x":"\377"}}' >"$TMPD/utf8.json"
api utf8 "$KEY" POST /api/tunnels --data-binary @"$TMPD/utf8.json"
api_err "invalid UTF-8 in metadata" 400 utf8
printf '{"name":"white-space"}\n' >"$TMPD/ws.json"
api ws "$KEY" POST /api/tunnels --data-binary @"$TMPD/ws.json"
is "a body ending in a newline: 201" "$HTTP_STATUS" 201
api delws "$KEY" DELETE /api/tunnels/white-space
is "delete it again" "$HTTP_STATUS" 200

api mine "$KEY" POST /api/tunnels --data '{"subdomain":"taken-name"}'
is "create a named tunnel: 201" "$HTTP_STATUS" 201
is "create a named tunnel: its id" "$(ht json "$TMPD/mine.body" tunnel_id)" \
    taken-name
token=$(ht json "$TMPD/mine.body" auth_token)
api again "$KEY" POST /api/tunnels/create --data '{"name":"taken-name"}'
is "same key, same name: 200" "$HTTP_STATUS" 200
token2=$(ht json "$TMPD/again.body" auth_token)
check "same key, same name: a token" test -n "$token2"
check "same key, same name: a fresh token" test "$token" != "$token2"
api theirs "$KEY2" POST /api/tunnels --data '{"subdomain":"taken-name"}'
api_err "name owned by another key" 409 theirs

api get1 "$KEY" GET /api/tunnels/taken-name
is "owner sees its tunnel" "$HTTP_STATUS" 200
api get2 "$KEY2" GET /api/tunnels/taken-name
api_err "another key's tunnel" 404 get2
api get3 "$KEY2" GET /api/tunnels/taken-name/status
api_err "another key's tunnel status" 404 get3
api get4 "$ADMIN_KEY" GET /api/tunnels/taken-name
is "admin key sees every tunnel" "$HTTP_STATUS" 200
api del2 "$KEY2" DELETE /api/tunnels/taken-name
api_err "another key cannot delete it" 404 del2
api list2 "$KEY2" GET /api/tunnels
is "another key's list: 200" "$HTTP_STATUS" 200
check "another key's list does not show it" \
    lacks "$TMPD/list2.body" taken-name
api list1 "$KEY" GET /api/tunnels/list
check "owner's list shows it" grep -q taken-name "$TMPD/list1.body"
api nolist - GET /api/tunnels
api_err "list without a key" 401 nolist

api health - GET /health
is "health without a key: 200" "$HTTP_STATUS" 200
is "health: status ok" "$(ht json "$TMPD/health.body" status)" ok

# --- the connect endpoint ---------------------------------------------------
# connect NAME ID TOKEN VERSION: a WebSocket upgrade request.
connect()
{
	fetch "$1" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	    -H 'Sec-WebSocket-Version: 13' \
	    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
	    -H "Authorization: Bearer $3" -H "X-Tunnel-Protocol: $4" \
	    --max-time $((5 * SLOW)) "$SERVER_URL/api/tunnel/connect/$2"
}

connect cwrong taken-name wrong-token-0123456789 1
is "connect with a wrong token: 401" "$HTTP_STATUS" 401
connect cold taken-name "$token" 1
is "connect with the replaced token: 401" "$HTTP_STATUS" 401
connect cnone nosuchtunnel0000 "$token2" 1
is "connect to an unknown tunnel: 401 (ids are not revealed)" "$HTTP_STATUS" 401
connect cver taken-name "$token2" 999
is "connect with a bad protocol version: 400" "$HTTP_STATUS" 400

api del1 "$KEY" DELETE /api/tunnels/taken-name
is "owner deletes it" "$HTTP_STATUS" 200
api get5 "$KEY" GET /api/tunnels/taken-name
is "deleted: 404" "$HTTP_STATUS" 404

# --- an agent that says less than it sends, and never ends -----------------
# RESPONSE with Content-Length 0, then 16 KiB of DATA and no END: the
# visitor has the whole answer at once, and tunneld tells the agent to
# stop (the stream's bytes would be held, unread, until the agent left).
# mock_agent MODE ID: a tunnel ID served by mockagent.py in MODE (not
# under valgrind: it is python); its output in $TMPD/MODE.log.
mock_agent()
{
	api "ma-$1" "$KEY" POST /api/tunnels --data "{\"subdomain\":\"$2\"}"
	is "$1: tunnel created" "$HTTP_STATUS" 201
	_spawn localsvc "$TMPD/$1.log" python3 \
	    "$top_srcdir/tests/integration/mockagent.py" --server \
	    "127.0.0.1:$TUNNELD_PORT" --id "$2" --mode "$1" \
	    --token "$(ht json "$TMPD/ma-$1.body" auth_token)"
	check "$1: the mock agent is in" wait_for $((10 * SLOW)) \
	    grep -q '^hello ' "$TMPD/$1.log"
}
mock_agent noend noend-agent
fetch noend "$SERVER_URL/noend-agent/x"
is "noend: the visitor gets 200" "$HTTP_STATUS" 200
is "noend: and the 0 bytes it was told of" "$(wc -c <"$TMPD/noend.body" |
    tr -d ' ')" 0
check "noend: the agent is told to stop the stream" \
    wait_for $((10 * SLOW)) grep -q '^reset ' "$TMPD/noend.log"
fetch noend2 "$SERVER_URL/noend-agent/y"
is "noend: the next request is served too" "$HTTP_STATUS" 200

# --- an agent that answers 101 and resets the stream in the same write ----
# The caller's socket comes from MHD after the 101: it must still be
# closed, not left open with the stream gone.
mock_agent up101reset up101-reset
python3 - "127.0.0.1" "$TUNNELD_PORT" >"$TMPD/ur.out" 2>&1 <<'PYEOF'
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b"GET /up101-reset/ws HTTP/1.1\r\nHost: x\r\n"
          b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Version: 13\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
got = b""
try:
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    print(got.split(b" ")[1].decode() if got else "nothing", "closed")
except socket.timeout:
    print(got.split(b" ")[1].decode() if got else "nothing", "left open")
PYEOF
like "up101reset: the caller's connection is closed" "$(cat "$TMPD/ur.out")" \
    ' closed$'
check "up101reset: tunneld runs on" alive "$TUNNELD_PID"

done_testing
