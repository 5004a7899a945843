#!/bin/sh
# tunneld's own behaviour: host routing, the limits it answers itself
# (431, 413), /metrics for the admin only, idle cleanup of random-id
# tunnels, SIGHUP key reload, and a SIGTERM that lets an in-flight request
# finish.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
printf 'api_key_file = %s\n' "$TMPD/keys" >"$TMPD/tunneld.conf"
printf 'file:%s\n' "$KEY2" >"$TMPD/keys"
start_tunneld --domain tun.test --max-body-size 1000 --max-header-size 4096 \
    --idle-timeout 2 --cleanup-interval 1 --drain-timeout 10
start_client "$LOCAL_PORT"
RANDOM_ID=$TUNNEL_ID
like "with a domain, the API gives host-routed URLs" "$PUBLIC_URL" \
    "^http://$TUNNEL_ID\.tun\.test/\$"
# Path routing stays on; the test host has no wildcard DNS.
PATH_URL=$SERVER_URL/$TUNNEL_ID/

# --- host routing ---------------------------------------------------------
fetch h1 -H "Host: $TUNNEL_ID.tun.test" "$SERVER_URL/echo?via=host"
is "host routing: status" "$HTTP_STATUS" 200
like "host routing: the path is untouched" "$(cat "$TMPD/h1.body")" \
    '"path": "/echo\?via=host"'
lacks_prefix()
{
	! grep -qi 'x-forwarded-prefix' "$TMPD/h1.body"
}
check "host routing: no X-Forwarded-Prefix" lacks_prefix
fetch h2 -H "Host: nosuchtunnel.tun.test" "$SERVER_URL/echo"
is "host routing: unknown tunnel 404" "$HTTP_STATUS" 404
fetch h3 -H "Host: a.b.tun.test" "$SERVER_URL/health"
is "host routing: a deeper name is not a tunnel" "$HTTP_STATUS" 200

# --- limits answered by tunneld -------------------------------------------
big=$(head -c 6000 /dev/zero | tr '\0' a)
fetch l1 -H "X-Big: $big" "$PATH_URL"echo
is "header over max_header_size: 431" "$HTTP_STATUS" 431
head -c 2000 /dev/zero >"$TMPD/2k"
fetch l2 --data-binary @"$TMPD/2k" "$PATH_URL"upload
is "body over max_body_size: 413" "$HTTP_STATUS" 413
head -c 500 /dev/zero >"$TMPD/500"
fetch l3 --data-binary @"$TMPD/500" "$PATH_URL"upload
is "body under max_body_size passes" "$HTTP_STATUS" 200

# --- the API index, health, metrics ---------------------------------------
fetch a1 "$SERVER_URL/api"
is "/api without a key: 200" "$HTTP_STATUS" 200
like "/api lists the endpoints" "$(cat "$TMPD/a1.body")" 'api/tunnels'
fetch m1 "$SERVER_URL/metrics"
is "/metrics without a key: 401" "$HTTP_STATUS" 401
fetch m2 -H "X-API-Key: $KEY" "$SERVER_URL/metrics"
is "/metrics with a plain key: 403" "$HTTP_STATUS" 403
fetch m3 -H "Authorization: Bearer $ADMIN_KEY" "$SERVER_URL/metrics"
is "/metrics with the admin key: 200" "$HTTP_STATUS" 200
like "metrics count 2xx requests" "$(cat "$TMPD/m3.body")" \
    'tunneld_requests_total\{code="2xx"\} [1-9]'
like "metrics show the connected agent" "$(cat "$TMPD/m3.body")" \
    'tunneld_agents_connected 1'
like "metrics have a duration histogram" "$(cat "$TMPD/m3.body")" \
    'tunneld_request_duration_seconds_bucket\{le="\+Inf"\}'
no_secret()
{
	! grep -q "$KEY" "$TMPD/m3.body" && ! grep -q "$ADMIN_KEY" "$TMPD/m3.body"
}
check "metrics do not carry keys" no_secret

# --- SIGHUP: keys reloaded from the key file, tunnels kept -----------------
KEY3=third-$(_rand)
printf 'file:%s\n' "$KEY3" >"$TMPD/keys"
fetch k0 -H "X-API-Key: $KEY2" "$SERVER_URL/api/tunnels"
is "a key from api_key_file works" "$HTTP_STATUS" 200
kill -HUP "$TUNNELD_PID"
reloaded()
{
	_c=$(tcurl -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY3" \
	    "$SERVER_URL/api/tunnels")
	[ "$_c" = 200 ]
}
check "SIGHUP: the new key works" wait_for $((5 * SLOW)) reloaded
fetch k1 -H "X-API-Key: $KEY2" "$SERVER_URL/api/tunnels"
is "SIGHUP: the removed key is refused" "$HTTP_STATUS" 401
fetch k2 "$PATH_URL"echo
is "SIGHUP: the tunnel still serves" "$HTTP_STATUS" 200
printf 'file:short\n' >"$TMPD/keys"
kill -HUP "$TUNNELD_PID"
sleep 1
fetch k3 -H "X-API-Key: $KEY3" "$SERVER_URL/api/tunnels"
is "SIGHUP with a bad key file: the old keys stay" "$HTTP_STATUS" 200
check "tunneld still running" alive "$TUNNELD_PID"

# --- idle cleanup: a random id without agent goes, a named one stays -------
named()
{
	tcurl -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $KEY" \
	    -d '{"subdomain":"keep-me"}' "$SERVER_URL/api/tunnels"
}
is "a named tunnel is created" "$(named)" 201
stop_pid "$CLIENT_PID"
is "client stopped cleanly" "$STOP_STATUS" 0
gone()
{
	_c=$(tcurl -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY" \
	    "$SERVER_URL/api/tunnels/$RANDOM_ID")
	[ "$_c" = 404 ]
}
check "idle random-id tunnel removed after idle_timeout" \
    wait_for $((10 * SLOW)) gone
fetch n1 -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/keep-me"
is "the named tunnel stays" "$HTTP_STATUS" 200

# --- SIGTERM drains: an in-flight request still completes ------------------
start_client --subdomain drain-test "$LOCAL_PORT"
tcurl -o "$TMPD/drain.body" -w '%{http_code}' \
    "$SERVER_URL/drain-test/slow?ms=1500" \
    >"$TMPD/drain.code" 2>/dev/null &
curl_pid=$!
sleep 0.5
stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0
wait "$curl_pid" || true
is "the in-flight request completed during the drain" \
    "$(cat "$TMPD/drain.code")" 200
is "with its body" "$(cat "$TMPD/drain.body")" ok

done_testing
