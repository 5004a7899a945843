#!/bin/sh
# A dead link is noticed.  With tunneld frozen (SIGSTOP: the TCP connection
# stays up, but nothing answers, not even a pong), tunnel-client pings, gives
# the link up within 30 s, and once tunneld runs again it is back and serves.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

# shellcheck disable=SC2317
serves()
{
	_code=$(tcurl -o /dev/null -w '%{http_code}' --max-time $((2 * SLOW)) \
	    "$PUBLIC_URL"status/200 2>/dev/null)
	[ "$_code" = 200 ]
}

# shellcheck disable=SC2317
lost()
{
	grep -q 'lost the connection to the server' "$CLIENT_LOG"
}

start_localsvc
start_tunneld
start_client "$LOCAL_PORT"
check "serves at first" serves
check "no lost link before the freeze" lacks "$CLIENT_LOG" "lost the connection"

kill -STOP "$TUNNELD_PID"
t0=$(date +%s)
wait_for 40 lost
t1=$(date +%s)
kill -CONT "$TUNNELD_PID"
diag "link given up $((t1 - t0)) s after the freeze"
check "the client gives the link up" lost
check "within 30 s ($((t1 - t0)) s)" [ $((t1 - t0)) -le 30 ]
check "and says why" grep -q 'lost the connection to the server (no answer from the server)' \
    "$CLIENT_LOG"
check "tunnel-client keeps running" alive "$CLIENT_PID"
check "it is back and serves within 20 s" wait_for $((20 * SLOW)) serves

stop_pid "$CLIENT_PID"
is "tunnel-client exits 0" "$STOP_STATUS" 0
stop_pid "$TUNNELD_PID"
is "tunneld exits 0" "$STOP_STATUS" 0

done_testing
