#!/bin/sh
# The request inspector of tunnel-client: captures of requests through the
# tunnel in /api/requests, replay byte for byte (a 1 MiB binary POST), the
# body cap, the Host and token checks, the capture file across a restart,
# JSON errors for hostile input, live events, and the default port.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

CAPFILE=$TMPD/captures.jsonl

start_localsvc
start_tunneld
start_client --inspect 127.0.0.1:0 --capture-file "$CAPFILE" "$LOCAL_PORT"

INSPECT=$(sed -n 's/.*Inspector: \(http:[^[:space:]]*\).*/\1/p' "$CLIENT_LOG" |
    tail -n 1)
like "the client prints its inspector, time-stamped" \
    "$(grep 'Inspector:' "$CLIENT_LOG" | head -n 1)" \
    '^\[[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\] Inspector: http://127\.0\.0\.1:[0-9]+$'
IPORT=${INSPECT##*:}

# iget NAME PATH [curl args]: GET from the inspector into $TMPD/NAME.*
iget()
{
	_n=$1
	_p=$2
	shift 2
	fetch "$_n" "$@" "$INSPECT$_p"
}

# ipost NAME PATH [curl args]: POST with the page's token.
ipost()
{
	_n=$1
	_p=$2
	shift 2
	fetch "$_n" -X POST -H "X-Inspector-Token: $TOKEN" "$@" "$INSPECT$_p"
}

# The newest capture whose path is $1: its id, or "".
newest()
{
	tcurl "$INSPECT/api/requests" >"$TMPD/list.json" 2>/dev/null
	python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
for r in d["requests"]:
    if r["path"] == sys.argv[2] and r["state"] == "done":
        print(r["id"]); break' "$TMPD/list.json" "$1"
}

# has_capture PATH: a finished capture of PATH is listed.
has_capture()
{
	[ -n "$(newest "$1")" ]
}

# --- the page and its token --------------------------------------------------
iget page /
is "GET / is the page" "$HTTP_STATUS" 200
like "the page is HTML" "$(ht resphdr "$TMPD/page.hdr" Content-Type)" '^text/html'
like "the page has a Content-Security-Policy" \
    "$(ht resphdr "$TMPD/page.hdr" Content-Security-Policy)" "script-src 'self'"
TOKEN=$(sed -n 's/.*name="inspector-token" content="\([A-Za-z0-9]*\)".*/\1/p' \
    "$TMPD/page.body")
like "the page carries a token" "$TOKEN" '^[A-Za-z0-9]{32}$'
iget js /inspect.js
is "the script is served from the binary" "$HTTP_STATUS" 200
check "the page uses no other host" lacks "$TMPD/page.body" 'https?://'

# --- a request through the tunnel is captured ------------------------------------
printf '{"event":"push","n":7}' >"$TMPD/hook.json"
fetch hook -X POST -H 'Content-Type: application/json' -H 'X-Hook: yes' \
    --data-binary @"$TMPD/hook.json" "$PUBLIC_URL"echo?hook=1
is "a webhook through the tunnel" "$HTTP_STATUS" 200
check "it is captured" wait_for $((5 * SLOW)) has_capture /echo?hook=1
HOOK=$(newest /echo?hook=1)
iget one "/api/requests/$HOOK"
is "GET /api/requests/ID: 200" "$HTTP_STATUS" 200
is "method" "$(ht json "$TMPD/one.body" method)" POST
is "path" "$(ht json "$TMPD/one.body" path)" /echo?hook=1
is "status" "$(ht json "$TMPD/one.body" status)" 200
is "complete" "$(ht json "$TMPD/one.body" complete)" true
is "request body kind" "$(ht json "$TMPD/one.body" request.body.kind)" json
like "request body pretty-printed" \
    "$(ht json "$TMPD/one.body" request.body.text | tr '\n' '|')" \
    '^\{\|  "event": "push",\|  "n": 7\|\}\|$'
check "a request header is kept" grep -q '\["X-Hook","yes"\]' "$TMPD/one.body"
is "response body kind" "$(ht json "$TMPD/one.body" response.body.kind)" json
is "request size" "$(ht json "$TMPD/one.body" request_size)" 22
like "timing: head and total" \
    "$(ht json "$TMPD/one.body" timing.head_ms) $(ht json "$TMPD/one.body" timing.total_ms)" \
    '^[0-9.]+ [0-9.]+$'
iget raw "/api/requests/$HOOK/request-body"
check "the raw request body is the one sent" cmp "$TMPD/hook.json" "$TMPD/raw.body"

# --- binary bodies as hex, forms decoded ----------------------------------------
fetch bin "$PUBLIC_URL"binary
check "GET /binary captured" wait_for $((5 * SLOW)) has_capture /binary
iget bin "/api/requests/$(newest /binary)"
is "a binary response is shown as hex" \
    "$(ht json "$TMPD/bin.body" response.body.kind)" binary
like "the hex dump" "$(ht json "$TMPD/bin.body" response.body.hex | head -n 1)" \
    '^00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  \|\.+\|$'
fetch form -X POST --data 'a=1&b=x+y&c=%41%42' "$PUBLIC_URL"echo?form=1
check "a form POST captured" wait_for $((5 * SLOW)) has_capture /echo?form=1
iget form "/api/requests/$(newest /echo?form=1)"
is "a form is decoded" "$(ht json "$TMPD/form.body" request.body.form)" \
    '[["a", "1"], ["b", "x y"], ["c", "AB"]]'

# --- replay of a 1 MiB binary POST reaches the local service byte for byte --------
head -c 1048576 /dev/urandom >"$TMPD/mib.bin"
MIB_SHA=$(sha256 "$TMPD/mib.bin")
fetch up -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMPD/mib.bin" "$PUBLIC_URL"upload
is "1 MiB POST through the tunnel" "$(ht json "$TMPD/up.body" sha256)" "$MIB_SHA"
check "1 MiB POST captured" wait_for $((5 * SLOW)) has_capture /upload
UP=$(newest /upload)
iget upone "/api/requests/$UP"
is "1 MiB body kept whole" "$(ht json "$TMPD/upone.body" request.body.kept)" 1048576
is "1 MiB body not truncated" \
    "$(ht json "$TMPD/upone.body" request.body.truncated)" false
ipost replay "/api/requests/$UP/replay"
is "replay: 200" "$HTTP_STATUS" 200
RE=$(ht json "$TMPD/replay.body" id)
is "the replay is marked" "$(ht json "$TMPD/replay.body" replay_of)" "$UP"
is "the replay's status" "$(ht json "$TMPD/replay.body" status)" 200
iget reresp "/api/requests/$RE/response-body"
is "the local service got the replayed 1 MiB byte for byte (sha256)" \
    "$(ht json "$TMPD/reresp.body" sha256)" "$MIB_SHA"
is "the local service got 1048576 bytes" "$(ht json "$TMPD/reresp.body" len)" 1048576
iget rereq "/api/requests/$RE/request-body"
check "the replay's captured request body is the original" \
    cmp "$TMPD/mib.bin" "$TMPD/rereq.body"

# --- an edited replay -------------------------------------------------------------
printf '{"method":"PUT","path":"/echo?edited=1","headers":[["X-Edit","1"]],"body":"edited body"}' \
    >"$TMPD/edit.json"
ipost edited "/api/requests/$HOOK/replay" -H 'Content-Type: application/json' \
    --data-binary @"$TMPD/edit.json"
is "edited replay: 200" "$HTTP_STATUS" 200
iget edresp "/api/requests/$(ht json "$TMPD/edited.body" id)/response-body"
is "edited method reached the service" "$(ht json "$TMPD/edresp.body" method)" PUT
is "edited path reached the service" "$(ht json "$TMPD/edresp.body" path)" /echo?edited=1
is "edited body reached the service" "$(ht json "$TMPD/edresp.body" body_sha256)" \
    "$(printf 'edited body' | sha256sum | cut -d' ' -f1)"
is "edited headers replace the captured ones" \
    "$(ht reqhdr "$TMPD/edresp.body" X-Edit)/$(ht reqhdr "$TMPD/edresp.body" X-Hook)" "1/"

# --- the body cap: 3 MiB sent, 1 MiB kept, the size counted -------------------------
head -c 3145728 /dev/urandom >"$TMPD/big.bin"
fetch big -X POST --data-binary @"$TMPD/big.bin" "$PUBLIC_URL"upload?big=1
is "3 MiB POST through the tunnel" "$(ht json "$TMPD/big.body" len)" 3145728
check "3 MiB POST captured" wait_for $((5 * SLOW)) has_capture /upload?big=1
BIG=$(newest /upload?big=1)
iget bigone "/api/requests/$BIG"
is "3 MiB: size counted" "$(ht json "$TMPD/bigone.body" request.body.size)" 3145728
is "3 MiB: 1 MiB kept" "$(ht json "$TMPD/bigone.body" request.body.kept)" 1048576
is "3 MiB: marked truncated" "$(ht json "$TMPD/bigone.body" request.body.truncated)" true
iget bigraw "/api/requests/$BIG/request-body"
head -c 1048576 "$TMPD/big.bin" >"$TMPD/big.head"
check "3 MiB: the kept part is the first MiB" cmp "$TMPD/big.head" "$TMPD/bigraw.body"
is "3 MiB: X-Body-Size" "$(ht resphdr "$TMPD/bigraw.hdr" X-Body-Size)" 3145728
ipost bigre "/api/requests/$BIG/replay"
is "a truncated body is not replayed as it is: 409" "$HTTP_STATUS" 409
like "409 says why" "$(ht json "$TMPD/bigre.body" error)" 'not kept whole'

# --- Host header (DNS rebinding) and token checks -------------------------------------
iget foreign /api/requests -H "Host: attacker.example:$IPORT"
is "a foreign Host: 403" "$HTTP_STATUS" 403
like "403 is JSON" "$(ht json "$TMPD/foreign.body" error)" 'Host'
iget foreign2 / -H "Host: 127.0.0.1:$((IPORT + 1))"
is "another port in Host: 403" "$HTTP_STATUS" 403
iget foreign3 / -H "Host: 127.0.0.2:$IPORT"
is "another address in Host: 403" "$HTTP_STATUS" 403
iget nohost / -H 'Host:'
is "no Host: 403" "$HTTP_STATUS" 403
iget lh /api/requests -H "Host: localhost:$IPORT"
is "Host: localhost:PORT is fine" "$HTTP_STATUS" 200
fetch notok -X POST "$INSPECT/api/requests/$HOOK/replay"
is "replay without the token: 403" "$HTTP_STATUS" 403
fetch badtok -X POST -H 'X-Inspector-Token: 0123456789abcdef0123456789abcdef' \
    "$INSPECT/api/requests/$HOOK/replay"
is "replay with a wrong token: 403" "$HTTP_STATUS" 403
fetch clrnotok -X POST "$INSPECT/api/requests/clear"
is "clear without the token: 403" "$HTTP_STATUS" 403
ipost xorigin "/api/requests/$HOOK/replay" -H 'Origin: http://attacker.example'
is "a POST from another origin: 403" "$HTTP_STATUS" 403
iget getclear /api/requests/clear
is "GET of clear: 405" "$HTTP_STATUS" 405
iget getreplay "/api/requests/$HOOK/replay"
is "GET of replay: 405" "$HTTP_STATUS" 405

# --- hostile input gets JSON errors ------------------------------------------------------
ipost badjson "/api/requests/$HOOK/replay" --data-binary '{"method":'
is "bad JSON: 400" "$HTTP_STATUS" 400
like "bad JSON: a JSON error" "$(ht json "$TMPD/badjson.body" error)" 'JSON'
ipost deep "/api/requests/$HOOK/replay" \
    --data-binary "$(python3 -c 'print("[" * 5000 + "]" * 5000)')"
is "deeply nested JSON: 400" "$HTTP_STATUS" 400
ipost unk "/api/requests/$HOOK/replay" --data-binary '{"url":"http://x/"}'
is "an unknown field: 400" "$HTTP_STATUS" 400
ipost crlf "/api/requests/$HOOK/replay" \
    --data-binary '{"headers":[["X-A","b\r\nX-Injected: 1"]]}'
is "CR LF in a header value: 400" "$HTTP_STATUS" 400
ipost badname "/api/requests/$HOOK/replay" --data-binary '{"headers":[["a b","c"]]}'
is "a bad header name: 400" "$HTTP_STATUS" 400
ipost badpath "/api/requests/$HOOK/replay" --data-binary '{"path":"http://evil/"}'
is "a path that is not /...: 400" "$HTTP_STATUS" 400
ipost badmeth "/api/requests/$HOOK/replay" --data-binary '{"method":"GET /x HTTP/1.1"}'
is "a method that is not a token: 400" "$HTTP_STATUS" 400
ipost badb64 "/api/requests/$HOOK/replay" --data-binary '{"body_base64":"!!!"}'
is "bad base64: 400" "$HTTP_STATUS" 400
for id in 999999 0 abc -1 007 99999999999999999999 12abc; do
	iget unknown "/api/requests/$id"
	is "id $id: 404" "$HTTP_STATUS" 404
	check "id $id: a JSON error" grep -q '"error"' "$TMPD/unknown.body"
done
ipost unkre /api/requests/999999/replay
is "replay of an unknown id: 404" "$HTTP_STATUS" 404
head -c $((25 * 1024 * 1024)) /dev/zero >"$TMPD/huge.bin"
ipost huge "/api/requests/$HOOK/replay" --data-binary @"$TMPD/huge.bin"
is "a 25 MiB replay body: 413" "$HTTP_STATUS" 413
iget lim "/api/requests?limit=abc"
is "limit=abc: 400" "$HTTP_STATUS" 400
iget nothing /nothing
is "an unknown path: 404" "$HTTP_STATUS" 404
check "the client still runs" alive "$CLIENT_PID"

# --- live events --------------------------------------------------------------------------
tcurl -N --max-time $((3 * SLOW)) "$INSPECT/api/events" >"$TMPD/events.txt" 2>/dev/null &
EV=$!
sleep 1
fetch live "$PUBLIC_URL"status/201
wait "$EV"
check "an event stream says hello" grep -q '^event: hello' "$TMPD/events.txt"
check "a new request is an event" grep -q '"path":"/status/201","state":"done"' \
    "$TMPD/events.txt"

# --- the capture file survives a restart of the client ----------------------------------
check "the capture file is mode 0600" test "$(stat -c %a "$CAPFILE")" = 600
stop_pid "$CLIENT_PID"
is "tunnel-client exits 0 on SIGTERM" "$STOP_STATUS" 0
check "the webhook is in the capture file" grep -q '"path":"/echo?hook=1"' "$CAPFILE"
start_client --inspect 127.0.0.1:0 --capture-file "$CAPFILE" "$LOCAL_PORT"
INSPECT=$(sed -n 's/.*Inspector: \(http:[^[:space:]]*\).*/\1/p' "$CLIENT_LOG" |
    tail -n 1)
iget again "/api/requests/$HOOK"
is "after a restart the webhook is still there" "$HTTP_STATUS" 200
is "with its path" "$(ht json "$TMPD/again.body" path)" /echo?hook=1
iget againraw "/api/requests/$HOOK/request-body"
check "and its body" cmp "$TMPD/hook.json" "$TMPD/againraw.body"
iget againup "/api/requests/$UP/request-body"
check "and the 1 MiB body" cmp "$TMPD/mib.bin" "$TMPD/againup.body"
fetch after "$PUBLIC_URL"status/202
check "new captures after the restart" wait_for $((5 * SLOW)) has_capture /status/202
like "new ids go on after the old ones" "$(newest /status/202)" '^[0-9]+$'
test "$(newest /status/202)" -gt "$RE"
is "new ids are higher than the loaded ones" "$?" 0
TOKEN=$(tcurl "$INSPECT/" | sed -n 's/.*name="inspector-token" content="\([A-Za-z0-9]*\)".*/\1/p')
ipost clear /api/requests/clear
is "clear with the token: 200" "$HTTP_STATUS" 200
iget afterclear /api/requests
is "nothing left after clear" "$(ht json "$TMPD/afterclear.body" total)" 0
printf 'not a capture file\n' >"$TMPD/other.txt"
"$TUNNEL_CLIENT" --server "$SERVER_URL" --api-key "$KEY" --inspect 127.0.0.1:0 \
    --capture-file "$TMPD/other.txt" "$LOCAL_PORT" >"$TMPD/other.out" 2>&1
is "a file that is not a capture file: exit 1" "$?" 1
is "and it is left alone" "$(cat "$TMPD/other.txt")" 'not a capture file'

# --- --no-inspect; the default port falls back to a free one -----------------------------
start_client --no-inspect "$LOCAL_PORT"
check "--no-inspect: no inspector line" lacks "$CLIENT_LOG" 'Inspector:'
start_client "$LOCAL_PORT"
P1=$(sed -n 's/.*Inspector: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CLIENT_LOG")
start_client "$LOCAL_PORT"
P2=$(sed -n 's/.*Inspector: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CLIENT_LOG")
like "default inspector port" "$P1" '^[0-9]+$'
like "a second client takes another port" "$P2" '^[0-9]+$'
if [ -n "$P1" ] && [ "$P1" != "$P2" ]; then
	ok "two clients, two inspector ports ($P1, $P2)"
else
	not_ok "two clients, two inspector ports ($P1, $P2)"
fi
fetch p1 "http://127.0.0.1:$P1/api/status"
is "the first answers" "$HTTP_STATUS" 200

# --- what all captures keep: 64 MiB, the oldest go first ----------------------
start_client --new --inspect 127.0.0.1:0 "$LOCAL_PORT"
P3=$(sed -n 's/.*Inspector: http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CLIENT_LOG")
head -c 1048576 /dev/urandom >"$TMPD/mib.bin"
_i=0
while [ $_i -lt 72 ]; do
	tcurl -o /dev/null -X POST --data-binary @"$TMPD/mib.bin" \
	    "${PUBLIC_URL}upload?mib=$_i" || break
	_i=$((_i + 1))
done
is "72 POSTs of 1 MiB through the tunnel" "$_i" 72
fetch kept "http://127.0.0.1:$P3/api/requests?limit=1000"
_kept=$(ht json "$TMPD/kept.body" total)
if [ -n "$_kept" ] && [ "$_kept" -ge 56 ] && [ "$_kept" -lt 72 ]; then
	ok "64 MiB of bodies kept in all: $_kept of 72 exchanges"
else
	not_ok "64 MiB of bodies kept in all: ${_kept:-?} of 72 exchanges"
fi

done_testing
