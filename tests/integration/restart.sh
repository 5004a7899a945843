#!/bin/sh
# Tunnels survive a crash of tunneld (state on disk, the client reconnects)
# and a restart of the client (same --subdomain, same URL).

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

NAME=restart-test

# shellcheck disable=SC2317
serves()
{
	_code=$(tcurl -o /dev/null -w '%{http_code}' --max-time $((2 * SLOW)) \
	    "$PUBLIC_URL"status/200 2>/dev/null)
	[ "$_code" = 200 ]
}

start_localsvc
start_tunneld
start_client --subdomain "$NAME" "$LOCAL_PORT"
url1=$PUBLIC_URL

is "the tunnel id is the requested name" "$TUNNEL_ID" "$NAME"
check "serves before the crash" serves

# --- tunneld dies without a chance to save anything ------------------------
stop_pid "$TUNNELD_PID" KILL
is "tunneld killed" "$STOP_STATUS" 137
start_tunneld --listen "127.0.0.1:$TUNNELD_PORT"
check "same URL serves again within 15 s" wait_for $((15 * SLOW)) serves
check "tunnel-client kept running" alive "$CLIENT_PID"

api_get()
{
	tcurl -H "X-API-Key: $KEY" -o "$TMPD/get.json" -w '%{http_code}' \
	    "$SERVER_URL/api/tunnels/$NAME"
}
is "the tunnel is known after the restart" "$(api_get)" 200

# --- the client restarts with the same name ----------------------------------
stop_pid "$CLIENT_PID"
is "tunnel-client exits 0 on SIGTERM" "$STOP_STATUS" 0
start_client --subdomain "$NAME" "$LOCAL_PORT"
is "restarted client: same URL" "$PUBLIC_URL" "$url1"
check "restarted client serves" wait_for $((5 * SLOW)) serves

# --- and a graceful restart of tunneld too ----------------------------------
stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0
start_tunneld --listen "127.0.0.1:$TUNNELD_PORT"
check "serves again after a graceful restart" wait_for $((15 * SLOW)) serves

done_testing
