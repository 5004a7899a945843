#!/bin/sh
# Several tunnels from one config file, served by one client process over
# one WebSocket: every [tunnel NAME] section with no target (or --all),
# only the named ones with `start NAME...`; each line of output starts
# with the tunnel's name.  One tunnel deleted, the other goes on.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
PORT_A=$LOCAL_PORT
start_localsvc
PORT_B=$LOCAL_PORT
start_tunneld

mkdir -p "$TMPD/conf"
cat >"$TMPD/conf/config" <<EOC
server = $SERVER_URL
api_key = $KEY

[tunnel web]
port = $PORT_A
subdomain = web-$$

[tunnel api]
port = $PORT_B
subdomain = api-$$
EOC

# run NAME ARGS...: a client with the config file; waits for N Forwarding
# lines (N = $WANT); its log in $RUN_LOG.
run()
{
	RUN_LOG=$TMPD/run.$1.log
	shift
	_spawn client "$RUN_LOG" "$TUNNEL_CLIENT" --config "$TMPD/conf/config" \
	    "$@"
	RUN_PID=$_pid
	wait_for $((15 * SLOW)) sh -c \
	    "[ \$(grep -c 'Forwarding:' '$RUN_LOG') -ge $WANT ]" ||
	    diag_file "$RUN_LOG"
}

WANT=2
run all
is "one process, two tunnels: two Forwarding lines" \
    "$(grep -c 'Forwarding:' "$RUN_LOG")" "2"
like "the web tunnel's lines start with [web]" \
    "$(grep 'Public URL:' "$RUN_LOG" | grep "web-$$")" \
    "^\[[0-9:]{8}\] \[web\] Public URL: $SERVER_URL/web-$$/$"
like "the api tunnel's lines start with [api]" \
    "$(grep 'Public URL:' "$RUN_LOG" | grep "api-$$")" \
    "^\[[0-9:]{8}\] \[api\] Public URL: $SERVER_URL/api-$$/$"
tcurl -o "$TMPD/a.json" "$SERVER_URL/web-$$/echo"
is "the web tunnel reaches its service" \
    "$(ht reqhdr "$TMPD/a.json" Host)" "localhost:$PORT_A"
tcurl -o "$TMPD/b.json" "$SERVER_URL/api-$$/echo"
is "the api tunnel reaches its service" \
    "$(ht reqhdr "$TMPD/b.json" Host)" "localhost:$PORT_B"
check "request lines carry the tunnel's name" wait_for 5 grep -Eq \
    '\] \[api\] GET /echo 200 [0-9]+ms( id=[0-9a-f]+)?$' "$RUN_LOG"

# Established TCP connections to tunneld's port (the client's side).
conns()
{
	_c_hex=$(printf ':%04X' "$TUNNELD_PORT")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
	    awk -v p="$_c_hex" '$4 == "01" && substr($3, length($3) - 4) == p' |
	    wc -l | tr -d ' '
}
is "both tunnels share one connection to the server" "$(conns)" "1"
check "the server attached the second tunnel to the first's connection" \
    grep -Eq "tunnel (api|web)-$$: agent connected from 127\.0\.0\.1 \(with tunnel (web|api)-$$\)" \
    "$TMPD/tunneld.1.log"

# Many requests on both at once over the one connection.
: >"$TMPD/par.cfg"
i=0
while [ $i -lt 20 ]; do
	printf 'url = "%s"\noutput = "/dev/null"\nurl = "%s"\noutput = "/dev/null"\n' \
	    "$SERVER_URL/web-$$/slow?ms=20" "$SERVER_URL/api-$$/slow?ms=20" \
	    >>"$TMPD/par.cfg"
	i=$((i + 1))
done
tcurl -s --parallel --parallel-max 20 -w '%{http_code}\n' -K "$TMPD/par.cfg" \
    >"$TMPD/par.codes"
is "40 parallel requests over both tunnels: all 200" \
    "$(grep -c '^200$' "$TMPD/par.codes")" "40"

# One tunnel deleted: the client says so and serves the other.  A request
# in flight on it ends at once with 502 instead of its answer.
tcurl -o /dev/null -w '%{http_code}' "$SERVER_URL/api-$$/slow?ms=3000" \
    >"$TMPD/inflight.code" &
inflight=$!
sleep "$([ "$SLOW" -gt 1 ] && echo 1 || echo 0.1)"
tcurl -X DELETE -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/api-$$" \
    >/dev/null
wait "$inflight"
is "a request in flight on the deleted tunnel: 502" \
    "$(cat "$TMPD/inflight.code")" "502"
check "the client says the api tunnel was deleted" wait_for 5 grep -q \
    "tunnel api-$$ was deleted" "$RUN_LOG"
check "and keeps running" alive "$RUN_PID"
is "the web tunnel still answers" "$(tcurl -o /dev/null -w '%{http_code}' \
    "$SERVER_URL/web-$$/echo")" "200"
is "the deleted one is gone: 404" "$(tcurl -o /dev/null -w '%{http_code}' \
    "$SERVER_URL/api-$$/echo")" "404"
stop_pid "$RUN_PID"
is "the client exits 0 on SIGTERM" "$STOP_STATUS" "0"

WANT=1
run start start api
is "start api: one tunnel" "$(grep -c 'Forwarding:' "$RUN_LOG")" "1"
like "and it is the api one (no prefix with one tunnel)" \
    "$(grep 'Public URL:' "$RUN_LOG")" \
    "^\[[0-9:]{8}\] Public URL: $SERVER_URL/api-$$/$"
stop_pid "$RUN_PID"

WANT=2
run explicit --all
is "--all: both tunnels" "$(grep -c 'Forwarding:' "$RUN_LOG")" "2"
# The tunnel the connection was made to deleted: the other goes on.
tcurl -X DELETE -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/web-$$" \
    >/dev/null
check "deleting the first tunnel: the client says so" wait_for 5 grep -q \
    "tunnel web-$$ was deleted" "$RUN_LOG"
is "and the api tunnel still answers" "$(tcurl -o "$TMPD/b.json" \
    -w '%{http_code}' "$SERVER_URL/api-$$/echo")" "200"
is "from its own service" "$(ht reqhdr "$TMPD/b.json" Host)" \
    "localhost:$PORT_B"
tcurl -X DELETE -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/api-$$" \
    >/dev/null
check "with every tunnel deleted the client exits" wait_for 10 sh -c \
    "! kill -0 $RUN_PID 2>/dev/null"
stop_pid "$RUN_PID"
is "with status 1" "$STOP_STATUS" "1"

"$TUNNEL_CLIENT" --config "$TMPD/conf/config" start nope \
    >"$TMPD/nope.out" 2>&1
is "start with an unknown name exits 2" "$?" "2"
like "and names it" "$(cat "$TMPD/nope.out")" "no \[tunnel nope\]"
"$TUNNEL_CLIENT" --config "$TMPD/conf/config" start >"$TMPD/nope.out" 2>&1
is "start without a name exits 2" "$?" "2"

done_testing
