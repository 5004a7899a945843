#!/bin/sh
# Several clients on one reserved tunnel id (--pool): requests go round
# robin over the connected agents, and when one client dies (kill -9) every
# request that arrives after it is gone is served by the other.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
PORT_A=$LOCAL_PORT
start_localsvc
PORT_B=$LOCAL_PORT
start_tunneld

start_client --name shared --pool "$PORT_A"
PID_A=$CLIENT_PID
start_client --name shared --pool "$PORT_B"
PID_B=$CLIENT_PID
is "both clients got the same id" "$TUNNEL_ID" "shared"

tcurl -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/shared" >"$TMPD/st.json"
is "the API counts two agents" "$(ht json "$TMPD/st.json" agents)" "2"

# Which local service answered: the Host it saw is its own address.
hosts()
{
	_h_n=$1
	: >"$TMPD/hosts"
	while [ "$_h_n" -gt 0 ]; do
		tcurl -o "$TMPD/echo.json" -w '%{http_code}\n' \
		    "$SERVER_URL/shared/echo" >>"$TMPD/codes"
		ht reqhdr "$TMPD/echo.json" Host >>"$TMPD/hosts" 2>/dev/null ||
		    echo none >>"$TMPD/hosts"
		_h_n=$((_h_n - 1))
	done
}

: >"$TMPD/codes"
hosts 20
is "20 requests: 10 reach the first client's service" \
    "$(grep -c ":$PORT_A\$" "$TMPD/hosts")" "10"
is "and 10 the second's (round robin)" \
    "$(grep -c ":$PORT_B\$" "$TMPD/hosts")" "10"
check "the first client logged requests" grep -q 'GET /echo 200' \
    "$TMPD/client.1.log"
check "the second client logged requests" grep -q 'GET /echo 200' \
    "$TMPD/client.2.log"

# One goes away for good: nothing that arrives after it is lost.
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null
_forget "$PID_A"
: >"$TMPD/codes"
hosts 50
is "after kill -9 of one client: 50 of 50 requests answered 200" \
    "$(grep -c '^200$' "$TMPD/codes")" "50"
is "all by the client left" "$(grep -c ":$PORT_B\$" "$TMPD/hosts")" "50"
tcurl -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/shared" >"$TMPD/st.json"
is "the API counts one agent" "$(ht json "$TMPD/st.json" agents)" "1"

# Requests in flight on many connections at once while the pool changes.
start_client --name shared --pool "$PORT_A"
PID_A=$CLIENT_PID
i=0
: >"$TMPD/par.cfg"
while [ $i -lt 40 ]; do
	printf 'url = "%s"\noutput = "/dev/null"\n' \
	    "$SERVER_URL/shared/slow?ms=50" >>"$TMPD/par.cfg"
	i=$((i + 1))
done
tcurl -s --parallel --parallel-max 20 -w '%{http_code}\n' -K "$TMPD/par.cfg" \
    >"$TMPD/par.codes"
is "40 parallel requests over a pool of two: all 200" \
    "$(grep -c '^200$' "$TMPD/par.codes")" "40"

# Without --pool the same name is taken over: the old agents are dropped.
start_client --name shared "$PORT_B" --new
check "a client without --pool takes the tunnel over" wait_for 10 sh -c \
    "! kill -0 $PID_A 2>/dev/null && ! kill -0 $PID_B 2>/dev/null"
_forget "$PID_A"
_forget "$PID_B"
check "the replaced clients say so" grep -q 'another agent took over' \
    "$TMPD/client.1.log" "$TMPD/client.3.log"
tcurl -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/shared" >"$TMPD/st.json"
is "then one agent serves it" "$(ht json "$TMPD/st.json" agents)" "1"

done_testing
