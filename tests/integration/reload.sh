#!/bin/sh
# SIGHUP applies the limits and the log level of a changed tunneld.conf at
# once, with the agent's session and a request in flight kept; a changed
# file that does not load is refused with a log line and the running
# configuration stays.  (Key reload: server.sh and keys.sh; log_format:
# ops.sh; the notifications around a reload: notify.sh.)

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

NAME=reloadtest
CONF=$TMPD/tunneld.conf
# The limits are in the file, not on the command line, which a reload
# reads again and which beats the file.
cat >"$CONF" <<EOF
max_body_size = 1000
max_header_size = 8192
log_level = info
EOF
start_localsvc
start_tunneld
TLOG=$TMPD/tunneld.1.log
start_client --subdomain "$NAME" "$LOCAL_PORT"
URL=$SERVER_URL/$NAME/

head -c 2000 /dev/zero >"$TMPD/2k"
head -c 5000 /dev/zero >"$TMPD/5k"
hdr6k=$(head -c 6000 /dev/zero | tr '\0' h)

# agent_sessions: how often the agent connected.
agent_sessions()
{
	grep -c "tunnel $NAME: agent connected" "$TLOG" || true
}
replaced_lines()
{
	grep -c 'X-Request-Id replaced' "$TLOG" || true
}

# --- before: the limits and the log level of the file -------------------------
fetch b1 --data-binary @"$TMPD/2k" "$URL"upload
is "before: a 2000-byte body over max_body_size 1000: 413" "$HTTP_STATUS" 413
fetch b2 -H "X-Big: $hdr6k" "$URL"echo
is "before: a 6000-byte header under max_header_size 8192: 200" \
    "$HTTP_STATUS" 200
fetch b3 -H 'X-Request-Id: not sane' "$URL"echo
is "before: a request with an odd X-Request-Id: 200" "$HTTP_STATUS" 200
check "before: its access line" wait_for $((5 * SLOW)) \
    grep -q "path=/$NAME/echo status=200" "$TLOG"
is "log_level info: the replaced X-Request-Id is not logged" \
    "$(replaced_lines)" 0
is "one agent session" "$(agent_sessions)" 1

# --- SIGHUP with new limits and log_level = debug, a request in flight --------
tcurl -o "$TMPD/slow.body" -w '%{http_code}' "$URL"'slow?ms=2000' \
    >"$TMPD/slow.code" 2>/dev/null &
slow_pid=$!
sleep 0.5
cat >"$CONF" <<EOF
max_body_size = 4000
max_header_size = 2048
log_level = debug
EOF
kill -HUP "$TUNNELD_PID"
check "SIGHUP: the reload is applied" wait_for $((5 * SLOW)) \
    grep -q 'reload: .* applied' "$TLOG"
wait "$slow_pid" || true
is "a request in flight across the reload completes" \
    "$(cat "$TMPD/slow.code")/$(cat "$TMPD/slow.body")" "200/ok"
fetch a1 --data-binary @"$TMPD/2k" "$URL"upload
is "after: the 2000-byte body under max_body_size 4000: 200" "$HTTP_STATUS" 200
fetch a2 --data-binary @"$TMPD/5k" "$URL"upload
is "after: a 5000-byte body over max_body_size 4000: 413" "$HTTP_STATUS" 413
fetch a3 -H "X-Big: $hdr6k" "$URL"echo
is "after: the 6000-byte header over max_header_size 2048: 431" \
    "$HTTP_STATUS" 431
fetch a4 -H 'X-Request-Id: not sane' "$URL"echo
is "after: the odd X-Request-Id again: 200" "$HTTP_STATUS" 200
check "log_level debug: the replaced X-Request-Id is logged" \
    wait_for $((5 * SLOW)) grep -q "tunnel $NAME: X-Request-Id replaced" "$TLOG"
is "the agent's session was kept" "$(agent_sessions)" 1
check "the client did not reconnect" lacks "$CLIENT_LOG" 'Reconnected:'
check "the agent is still connected" alive "$CLIENT_PID"

# --- SIGHUP with a file that does not load: refused, the old one stays --------
cp "$CONF" "$TMPD/conf.good"
cat >"$CONF" <<EOF
max_body_size = 100
max_header_size = lots
log_level = info
EOF
kill -HUP "$TUNNELD_PID"
check "a bad file: the reload is refused" wait_for $((5 * SLOW)) \
    grep -q 'reload: the new configuration is refused' "$TLOG"
check "a bad file: the line says why" grep -q "max_header_size: 'lots' is invalid" "$TLOG"
check "tunneld keeps running" alive "$TUNNELD_PID"
fetch r1 --data-binary @"$TMPD/2k" "$URL"upload
is "refused: max_body_size is still 4000 (2000 bytes: 200)" "$HTTP_STATUS" 200
fetch r2 -H "X-Big: $hdr6k" "$URL"echo
is "refused: max_header_size is still 2048 (431)" "$HTTP_STATUS" 431
n=$(replaced_lines)
fetch r3 -H 'X-Request-Id: not sane' "$URL"echo
is "refused: the tunnel still serves" "$HTTP_STATUS" 200
# shellcheck disable=SC2317
still_debug()
{
	[ "$(replaced_lines)" -gt "$n" ]
}
check "refused: log_level is still debug" wait_for $((5 * SLOW)) still_debug
is "refused: the agent's session was kept" "$(agent_sessions)" 1

# --- and a good file again ---------------------------------------------------
cp "$TMPD/conf.good" "$CONF"
sed -i 's/^log_level = debug$/log_level = info/' "$CONF"
n=$(grep -c 'reload: .* applied' "$TLOG")
kill -HUP "$TUNNELD_PID"
# shellcheck disable=SC2317
applied_again()
{
	[ "$(grep -c 'reload: .* applied' "$TLOG")" -gt "$n" ]
}
check "a good file after a refused one is applied" wait_for $((5 * SLOW)) \
    applied_again
n=$(replaced_lines)
fetch g1 -H 'X-Request-Id: not sane' "$URL"'echo?last'
is "log_level info again: 200" "$HTTP_STATUS" 200
check "log_level info again: the access line" wait_for $((5 * SLOW)) \
    grep -q "path=/$NAME/echo?last status=200" "$TLOG"
is "log_level info again: no debug line" "$(replaced_lines)" "$n"

stop_pid "$CLIENT_PID"
stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0

done_testing
