#!/bin/sh
# WebSocket passthrough: a public WebSocket client talks through the tunnel
# to a local WebSocket echo server (wsecho.py, standard library only):
# many messages in order, one large binary message, close codes both ways,
# many sessions at once, an idle session outliving --request-timeout, and
# a refused upgrade answered as an ordinary response.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

WSECHO=$top_srcdir/tests/integration/wsecho.py

rm -f "$TMPD/wsecho.port"
_spawn localsvc "$TMPD/localsvc.log" python3 -u "$WSECHO" \
    --port-file "$TMPD/wsecho.port"
wait_for 10 test -s "$TMPD/wsecho.port" || bail "wsecho.py did not start"
WS_PORT=$(cat "$TMPD/wsecho.port")

start_tunneld --request-timeout 2
start_client "$WS_PORT"
WS_URL=ws://127.0.0.1:$TUNNELD_PORT/$TUNNEL_ID/chat

# wsc NAME TEST [ARGS...]: the public client; its output in $WSC_OUT.
wsc()
{
	_w_name=$1
	shift
	python3 "$WSECHO" --client "$@" >"$TMPD/$_w_name.out" 2>&1
	WSC_OUT=$(tail -n 1 "$TMPD/$_w_name.out")
}

wsc text "$WS_URL" text 10000
is "10,000 text messages come back exact and in order" "$WSC_OUT" \
    "text: 10000 messages echoed in order"

wsc binary "$WS_URL" binary 16777216
is "a 16 MiB binary message comes back exact" "$WSC_OUT" \
    "binary: 16777216 bytes sent, 16777216 back, equal"

wsc close "$WS_URL" close 4001
is "close code 4001 comes back to the caller" "$WSC_OUT" \
    "close: sent 4001, got 4001 b'bye'"
check "the local service saw close code 4001" \
    wait_for 5 grep -q '^close 4001$' "$TMPD/localsvc.log"

wsc sessions "$WS_URL" sessions 100 5
is "100 sessions at once over one tunnel" "$WSC_OUT" \
    "sessions: 100 of 100 at once echoed 5 messages each"

wsc idle "$WS_URL" idle 4
is "a session idle for twice --request-timeout still works" "$WSC_OUT" \
    "idle: echoed after 4 s"

wsc reject "ws://127.0.0.1:$TUNNELD_PORT/$TUNNEL_ID/" reject
is "an upgrade the local service refuses: its 403 and body" "$WSC_OUT" \
    "reject: 403 forbidden by wsecho"

check "the client logs upgraded sessions with status 101" \
    grep -Eq 'GET /chat 101 [0-9]+ms' "$CLIENT_LOG"
like "the client logs the refused upgrade" \
    "$(grep 'GET /reject' "$CLIENT_LOG" | tail -n 1)" 'GET /reject 403 [0-9]+ms'

# The tunnel still serves after all of it.
wsc after "$WS_URL" text 10
is "the tunnel still works afterwards" "$WSC_OUT" \
    "text: 10 messages echoed in order"

done_testing
