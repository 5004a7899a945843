#!/bin/sh
# Operations: per-tunnel /metrics (exact values after known requests, no
# secrets), the key-less metrics_listen, the access log with request ids
# carried to the local service and into the client's line, and
# log_format=json (by flag, by environment, and switched by SIGHUP).

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

NAME=opstest
HEX16='[0-9a-f]{16}'

# The port the metrics listener reported in tunneld's log ($1).
metrics_port()
{
	sed -n 's/.*metrics on [^ ]* (port \([0-9]*\)).*/\1/p' "$1" | tail -n 1
}

# metric NAME-WITH-LABELS: its value in $TMPD/m.body.
metric()
{
	awk -v k="$1" '$1 == k { print $2 }' "$TMPD/m.body"
}

# access_count LOG: access lines so far.
access_count()
{
	grep -c 'access tunnel=' "$1" || true
}

# access_lines_reach LOG N: wait for N access lines (the line is written
# when libmicrohttpd is done with the request, just after curl is).
access_lines_reach()
{
	[ "$(access_count "$1")" -ge "$2" ]
}

start_localsvc
start_tunneld --metrics-listen 127.0.0.1:0
TLOG=$TMPD/tunneld.1.log
MPORT=$(metrics_port "$TLOG")
like "the metrics listener says where it is" "$MPORT" '^[0-9]+$'
MURL=http://127.0.0.1:$MPORT
start_client --subdomain "$NAME" "$LOCAL_PORT"

# --- known traffic: 3 x 200, 2 x 404 -----------------------------------------
head -c 5000 /dev/zero | tr '\0' 'u' >"$TMPD/up.bin"
fetch r1 "$PUBLIC_URL"'bytes?n=1000&seed=a'
is "GET /bytes?n=1000: 200" "$HTTP_STATUS" 200
fetch r2 "$PUBLIC_URL"'bytes?n=1000&seed=b'
is "again: 200" "$HTTP_STATUS" 200
fetch r3 --data-binary @"$TMPD/up.bin" "$PUBLIC_URL"upload
is "POST /upload of 5000 bytes: 200" "$HTTP_STATUS" 200
fetch r4 "$PUBLIC_URL"status/404
is "GET /status/404: 404" "$HTTP_STATUS" 404
fetch r5 "$PUBLIC_URL"status/404
is "again: 404" "$HTTP_STATUS" 404
check "five access lines" wait_for $((10 * SLOW)) access_lines_reach "$TLOG" 5
out_bytes=$(cat "$TMPD/r1.body" "$TMPD/r2.body" "$TMPD/r3.body" \
    "$TMPD/r4.body" "$TMPD/r5.body" | wc -c | tr -d ' ')
is "the bodies are 2000 + /upload's answer + 2 x 11 bytes" \
    "$out_bytes" $((2022 + $(wc -c <"$TMPD/r3.body")))

fetch m "$MURL/metrics"
is "metrics_listen: /metrics without a key, 200" "$HTTP_STATUS" 200
like "metrics_listen: Prometheus text" \
    "$(ht resphdr "$TMPD/m.hdr" Content-Type)" '^text/plain; version=0.0.4'
L="tunnel=\"$NAME\",owner=\"tests\""
is "2xx of the tunnel: 3" "$(metric "tunneld_tunnel_requests_total{$L,code=\"2xx\"}")" 3
is "4xx of the tunnel: 2" "$(metric "tunneld_tunnel_requests_total{$L,code=\"4xx\"}")" 2
is "1xx of the tunnel: 0" "$(metric "tunneld_tunnel_requests_total{$L,code=\"1xx\"}")" 0
is "3xx of the tunnel: 0" "$(metric "tunneld_tunnel_requests_total{$L,code=\"3xx\"}")" 0
is "5xx of the tunnel: 0" "$(metric "tunneld_tunnel_requests_total{$L,code=\"5xx\"}")" 0
is "bytes in: the upload" "$(metric "tunneld_tunnel_bytes_total{$L,direction=\"in\"}")" 5000
is "bytes out: every body sent" \
    "$(metric "tunneld_tunnel_bytes_total{$L,direction=\"out\"}")" "$out_bytes"
is "agent connected" "$(metric "tunneld_tunnel_agent_connected{$L}")" 1
is "no stream open" "$(metric "tunneld_tunnel_open_streams{$L}")" 0
is "duration count: 5" \
    "$(metric "tunneld_tunnel_request_duration_seconds_count{$L}")" 5
is "duration +Inf bucket: 5" \
    "$(metric "tunneld_tunnel_request_duration_seconds_bucket{$L,le=\"+Inf\"}")" 5
like "duration sum is a number" \
    "$(metric "tunneld_tunnel_request_duration_seconds_sum{$L}")" '^[0-9]+\.[0-9]{3}$'
is "global 4xx counts the same 404s" \
    "$(metric 'tunneld_requests_total{code="4xx"}')" 2
is "global bytes in: the upload only" \
    "$(metric 'tunneld_bytes_total{direction="in"}')" 5000
is "global bytes out" "$(metric 'tunneld_bytes_total{direction="out"}')" \
    "$out_bytes"
buckets_monotonic()
{
	grep "^tunneld_tunnel_request_duration_seconds_bucket{$L" \
	    "$TMPD/m.body" | awk '{ if ($2 < prev) exit 1; prev = $2 }'
}
check "the tunnel's buckets never decrease" buckets_monotonic
check "every family has HELP and TYPE" sh -c "
	for f in requests_total bytes_total open_streams agent_connected \
	    request_duration_seconds; do
		grep -q \"^# TYPE tunneld_tunnel_\$f \" '$TMPD/m.body' || exit 1
		grep -q \"^# HELP tunneld_tunnel_\$f \" '$TMPD/m.body' || exit 1
	done"

# A tunnel made through the API, without an agent: its token is secret.
tcurl -o "$TMPD/c.json" -X POST -H "X-API-Key: $KEY" \
    -d '{"subdomain":"apimade"}' "$SERVER_URL/api/tunnels"
TOKEN=$(ht json "$TMPD/c.json" auth_token)
like "the API gave a token" "$TOKEN" '^[A-Za-z0-9]{20,}$'
fetch m "$MURL/metrics"
is "a tunnel without an agent: connected 0" \
    "$(metric 'tunneld_tunnel_agent_connected{tunnel="apimade",owner="tests"}')" 0
is "... and no requests" \
    "$(metric 'tunneld_tunnel_requests_total{tunnel="apimade",owner="tests",code="2xx"}')" 0
fetch a1 "$SERVER_URL/apimade/echo"
is "a request to it: 502" "$HTTP_STATUS" 502
check "six access lines" wait_for $((10 * SLOW)) access_lines_reach "$TLOG" 6
fetch m "$MURL/metrics"
is "the 502 is counted for its tunnel" \
    "$(metric 'tunneld_tunnel_requests_total{tunnel="apimade",owner="tests",code="5xx"}')" 1
no_secrets()
{
	for _s in "$KEY" "$ADMIN_KEY" "$TOKEN" \
	    $(cat "$XDG_STATE_HOME"/tunnel-client/* 2>/dev/null |
	    sed -n 's/.*"auth_token": *"\([^"]*\)".*/\1/p'); do
		if grep -qF -- "$_s" "$TMPD/m.body"; then
			echo "found $_s"
			return 1
		fi
	done
}
check "no key or token appears in /metrics" no_secrets
have_client_token()
{
	cat "$XDG_STATE_HOME"/tunnel-client/* 2>/dev/null | grep -q auth_token
}
check "(the client's token was among those looked for)" have_client_token

fetch m2 "$MURL/other"
is "metrics_listen: another path, 404" "$HTTP_STATUS" 404
fetch m3 -X POST "$MURL/metrics"
is "metrics_listen: POST, 405" "$HTTP_STATUS" 405
fetch k1 "$SERVER_URL/metrics"
is "main listener: /metrics without a key, 401" "$HTTP_STATUS" 401
fetch k2 -H "X-API-Key: $KEY" "$SERVER_URL/metrics"
is "main listener: a user key, 403" "$HTTP_STATUS" 403
fetch k3 -H "X-API-Key: $ADMIN_KEY" "$SERVER_URL/metrics"
is "main listener: the admin key, 200" "$HTTP_STATUS" 200
check "main listener: the same per-tunnel series" \
    grep -q "^tunneld_tunnel_requests_total{$L,code=\"2xx\"} 3\$" "$TMPD/k3.body"

# A request in flight is an open stream, until it is answered.
tcurl -o "$TMPD/slow.body" "$PUBLIC_URL"'slow?ms=1500' 2>/dev/null &
slow_pid=$!
open_streams_is()
{
	fetch m "$MURL/metrics"
	[ "$(metric "tunneld_tunnel_open_streams{$L}")" = "$1" ]
}
check "a request in flight: one open stream" wait_for $((5 * SLOW)) \
    open_streams_is 1
wait "$slow_pid" || true
is "the slow request was answered" "$(cat "$TMPD/slow.body")" ok
check "answered: no open stream again" wait_for $((5 * SLOW)) \
    open_streams_is 0

# --- the access log -------------------------------------------------------------
line=$(grep 'access tunnel=' "$TLOG" | grep 'seed=a' | tail -n 1)
like "access line: every field" "$line" \
    "tunneld\[info\]: access tunnel=$NAME client=127\.0\.0\.1 method=GET path=/$NAME/bytes\?n=1000&seed=a status=200 bytes_out=1000 duration_ms=[0-9]+ request_id=$HEX16\$"
line=$(grep 'access tunnel=' "$TLOG" | grep 'method=POST' | tail -n 1)
like "access line of the upload" "$line" \
    "method=POST path=/$NAME/upload status=200 bytes_out=$(wc -c <"$TMPD/r3.body") "
line=$(grep 'access tunnel=' "$TLOG" | grep 'status=404' | tail -n 1)
like "access line of a 404" "$line" "path=/$NAME/status/404 status=404 bytes_out=11 "
line=$(grep 'access tunnel=apimade' "$TLOG" | tail -n 1)
like "access line of the 502 (no agent)" "$line" \
    "path=/apimade/echo status=502 bytes_out=$(wc -c <"$TMPD/a1.body") duration_ms=[0-9]+ request_id=$HEX16\$"

# --- request ids ----------------------------------------------------------------
# reqid_case DESC NAME [curl args]: GET /echo?NAME, then the id the local
# service saw is in $RID (one X-Request-Id exactly), and the server's and
# the client's lines for that request carry it.
reqid_case()
{
	_d=$1
	_n=$2
	shift 2
	fetch "$_n" "$@" "$PUBLIC_URL"'echo?'"$_n"
	is "$_d: 200" "$HTTP_STATUS" 200
	RID=$(ht reqhdr "$TMPD/$_n.body" X-Request-Id)
	is "$_d: the local service got one X-Request-Id" \
	    "$(printf '%s\n' "$RID" | grep -c .)" 1
	check "$_d: the server's access line has it" wait_for $((10 * SLOW)) \
	    grep -Eq "path=/$NAME/echo\\?$_n .* request_id=$RID\$" "$TLOG"
	check "$_d: the client's line has it" wait_for $((10 * SLOW)) \
	    grep -Eq "GET /echo\\?$_n 200 [0-9]+ms id=$RID\$" "$CLIENT_LOG"
}

reqid_case "no X-Request-Id" q1
like "no X-Request-Id: 16 random hex digits" "$RID" "^$HEX16\$"
first=$RID
reqid_case "no X-Request-Id again" q2
check "a new id each time" test "$RID" != "$first"
SANE='Trace-1.2_3:abc-XYZ'
reqid_case "a sane X-Request-Id" q3 -H "X-Request-Id: $SANE"
is "a sane X-Request-Id is kept" "$RID" "$SANE"
LONG128=$(head -c 128 /dev/zero | tr '\0' 'k')
reqid_case "128 characters" q4 -H "X-Request-Id: $LONG128"
is "128 characters are kept" "$RID" "$LONG128"
LONG=$(head -c 1000 /dev/zero | tr '\0' 'x')
reqid_case "1000 characters" q5 -H "X-Request-Id: $LONG"
like "1000 characters are replaced" "$RID" "^$HEX16\$"
reqid_case "spaces and quotes" q6 -H 'X-Request-Id: a "b" <c>'
like "spaces and quotes are replaced" "$RID" "^$HEX16\$"
reqid_case "two of them" q7 -H "X-Request-Id: $SANE" -H 'X-Request-Id: other'
is "two of them: the first is kept, once" "$RID" "$SANE"

# Bytes curl will not send: a raw request with a CR and a control byte.
cat >"$TMPD/raw.py" <<'EOF'
import socket, sys
port, path, value = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"X-Request-Id: " + value.encode("latin-1") + b"\r\n"
          b"Connection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
sys.stdout.write(data.decode("latin-1"))
EOF
raw_case()
{
	python3 "$TMPD/raw.py" "$TUNNELD_PORT" "/$NAME/echo?$1" "$2" \
	    >"$TMPD/$1.raw" 2>&1 || true
}
raw_case q8 "$(printf 'evil\rinjected: 1')"
raw_case q9 "$(printf 'ctl\001byte')"
raw_case q10 "$(printf 'obs\r\n fold')"
for q in q8 q9 q10; do
	st=$(sed -n '1s/^HTTP\/1\.1 \([0-9]*\).*/\1/p' "$TMPD/$q.raw")
	if [ "$st" = 200 ]; then
		rid=$(sed '1,/^\r$/d' "$TMPD/$q.raw" | python3 -c '
import json, sys
print("\n".join(v for k, v in json.load(sys.stdin)["headers"]
                if k.lower() == "x-request-id"))')
		like "hostile X-Request-Id ($q): replaced" "$rid" "^$HEX16\$"
		check "hostile X-Request-Id ($q): nothing injected in the log" \
		    lacks "$TLOG" 'injected|ctl.byte|fold'
	else
		# libmicrohttpd refused the request itself: fine, nothing passed.
		like "hostile X-Request-Id ($q): refused by the HTTP layer" \
		    "$st" '^4[0-9][0-9]$'
	fi
done
check "the client's log is text, not JSON" lacks "$CLIENT_LOG" '^\{'

# --- log_format = json, switched by SIGHUP -----------------------------------
printf 'log_format = json\n' >>"$TMPD/tunneld.conf"
kill -HUP "$TUNNELD_PID"
reloaded()
{
	grep -q '"msg":"reload:' "$TLOG"
}
check "SIGHUP: the reload line is JSON" wait_for $((10 * SLOW)) reloaded
fetch j1 -H "X-Request-Id: json-1" "$PUBLIC_URL"'bytes?n=77'
is "after the switch: 200" "$HTTP_STATUS" 200
json_access()
{
	grep -q '"request_id":"json-1"' "$TLOG"
}
check "a JSON access line" wait_for $((10 * SLOW)) json_access

# Every line from the first JSON one on: one object, with time, level, msg.
cat >"$TMPD/jsonlines.py" <<'EOF'
import json, sys
n = 0
started = len(sys.argv) > 2
for line in open(sys.argv[1], encoding="utf-8"):
    if not started:
        if not line.startswith("{"):
            continue
        started = True
    o = json.loads(line)
    assert isinstance(o, dict), line
    for k in ("time", "level", "msg"):
        assert isinstance(o[k], str), (k, line)
    n += 1
if n == 0:
    sys.exit("no JSON lines")
print(n)
EOF
check "every line after the switch parses as JSON" \
    python3 "$TMPD/jsonlines.py" "$TLOG"
cat >"$TMPD/jsonaccess.py" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if o.get("request_id") == "json-1":
        want = {"msg": "access", "level": "info", "tunnel": sys.argv[2],
                "client": "127.0.0.1", "method": "GET",
                "path": "/%s/bytes?n=77" % sys.argv[2], "status": 200,
                "bytes_out": 77}
        for k, v in want.items():
            assert o[k] == v, (k, o[k], v)
        assert isinstance(o["duration_ms"], int), o
        assert o["time"].endswith("Z"), o
        sys.exit(0)
sys.exit("no access line for json-1")
EOF
check "the JSON access line has each field as a key" \
    python3 "$TMPD/jsonaccess.py" "$TLOG" "$NAME"
fetch j2 -H "X-Request-Id: json-2" "$PUBLIC_URL"'echo?%FF%22%5C%0A'
odd_path()
{
	grep -q '"request_id":"json-2"' "$TLOG" &&
	    python3 "$TMPD/jsonlines.py" "$TLOG" >/dev/null
}
check "an odd path still gives valid JSON" wait_for $((10 * SLOW)) odd_path
# Raw bytes in the path: invalid UTF-8, a quote, a backslash, DEL.
cat >"$TMPD/rawpath.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /" + sys.argv[2].encode() + b"/echo?\xc3\x28\"\\\x7f HTTP/1.1\r\n"
          b"Host: 127.0.0.1\r\nX-Request-Id: json-3\r\n"
          b"Connection: close\r\n\r\n")
while s.recv(65536):
    pass
EOF
python3 "$TMPD/rawpath.py" "$TUNNELD_PORT" "$NAME" >"$TMPD/rawpath.out" 2>&1
raw_path()
{
	grep -q '"request_id":"json-3"' "$TLOG" &&
	    python3 "$TMPD/jsonlines.py" "$TLOG" >/dev/null
}
check "raw bytes in the path: the lines are still JSON" \
    wait_for $((10 * SLOW)) raw_path
check "... the path written escaped" \
    grep -qF '"path":"/'"$NAME"'/echo?%C3(\"\\%7F"' "$TLOG"

# --- by flag and by environment ----------------------------------------------
stop_pid "$CLIENT_PID"
stop_pid "$TUNNELD_PID"
is "tunneld exits 0" "$STOP_STATUS" 0
printf '# integration test: everything is on the command line\n' \
    >"$TMPD/tunneld.conf"
TUNNELD_LOG_FORMAT=yaml "$TUNNELD" --config "$TMPD/tunneld.conf" \
    --state-dir "$TMPD/state" --api-key "tests:$KEY" >"$TMPD/bad.log" 2>&1
is "TUNNELD_LOG_FORMAT=yaml: exit 1" "$?" 1
like "... with a clear error" "$(cat "$TMPD/bad.log")" \
    "TUNNELD_LOG_FORMAT: log_format: 'yaml' is not text or json"
"$TUNNELD" --config "$TMPD/tunneld.conf" --state-dir "$TMPD/state" \
    --api-key "tests:$KEY" --log-format xml >"$TMPD/bad2.log" 2>&1
is "--log-format xml: exit 1" "$?" 1

TUNNELD_LOG_FORMAT=json
export TUNNELD_LOG_FORMAT
start_tunneld --metrics-listen 127.0.0.1:0
unset TUNNELD_LOG_FORMAT
TLOG=$TMPD/tunneld.2.log
start_client --subdomain "$NAME" "$LOCAL_PORT"
fetch e1 -H "X-Request-Id: json-1" "$PUBLIC_URL"'bytes?n=77'
is "TUNNELD_LOG_FORMAT=json: 200" "$HTTP_STATUS" 200
check "TUNNELD_LOG_FORMAT=json: the access line" wait_for $((10 * SLOW)) \
    json_access
check "TUNNELD_LOG_FORMAT=json: every line from the start is JSON" \
    python3 "$TMPD/jsonlines.py" "$TLOG" all
check "the client's log is still text" lacks "$CLIENT_LOG" '^\{'
stop_pid "$CLIENT_PID"
stop_pid "$TUNNELD_PID"

start_tunneld --log-format json
TLOG=$TMPD/tunneld.3.log
check "--log-format json: every line is JSON" \
    python3 "$TMPD/jsonlines.py" "$TLOG" all

done_testing
