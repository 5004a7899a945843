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

# --- 20 creates at once and a delete survive a KILL -------------------------
# The state is written by a thread of its own, with the changes made while
# it writes all in the next save.
i=0
pids=""
while [ $i -lt 20 ]; do
	tcurl -X POST -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
	    -d "{\"subdomain\":\"burst-$i\"}" -o /dev/null -w '%{http_code}\n' \
	    "$SERVER_URL/api/tunnels" >"$TMPD/burst-$i.code" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids
is "20 tunnels created at once: 201 each" \
    "$(cat "$TMPD"/burst-*.code | sort | uniq -c | tr -s ' ')" " 20 201"
fetch del -X DELETE -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/burst-7"
is "one of them deleted" "$HTTP_STATUS" 200
stop_pid "$TUNNELD_PID" KILL
is "tunneld killed right after the answers" "$STOP_STATUS" 137
start_tunneld --listen "127.0.0.1:$TUNNELD_PORT"
n=0
i=0
while [ $i -lt 20 ]; do
	fetch got -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/burst-$i"
	[ "$HTTP_STATUS" = 200 ] && n=$((n + 1))
	i=$((i + 1))
done
is "after the KILL: the 19 kept tunnels are known" "$n" 19
fetch gone -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/burst-7"
is "after the KILL: the deleted one is gone" "$HTTP_STATUS" 404

done_testing
