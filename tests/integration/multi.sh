#!/bin/sh
# Several tunnels from one config file, served by one client process over
# one connection each: every [tunnel NAME] section with no target (or
# --all), only the named ones with `start NAME...`; each line of output
# starts with the tunnel's name.

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
    '\] \[api\] GET /echo 200 [0-9]+ms$' "$RUN_LOG"
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
stop_pid "$RUN_PID"

"$TUNNEL_CLIENT" --config "$TMPD/conf/config" start nope \
    >"$TMPD/nope.out" 2>&1
is "start with an unknown name exits 2" "$?" "2"
like "and names it" "$(cat "$TMPD/nope.out")" "no \[tunnel nope\]"
"$TUNNEL_CLIENT" --config "$TMPD/conf/config" start >"$TMPD/nope.out" 2>&1
is "start without a name exits 2" "$?" "2"

done_testing
