#!/bin/sh
# The dashboard: the login form, logins with a wrong, a plain and the admin
# key (the cookie's attributes, Secure behind a trusted https proxy), the
# tunnel list with owner, connection and agent address, the uptime history
# sampled each uptime_interval, delete and rotate with and without the
# CSRF token, failed logins limited per address, logout, and the history
# kept across a restart.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

D=/dashboard

# login NAME KEY [curl args...]: POST the form; the cookie in $COOKIE.
login()
{
	_l_name=$1
	_l_key=$2
	shift 2
	fetch "$_l_name" --data-urlencode "key=$_l_key" "$@" "$SERVER_URL$D/login"
	SETCOOKIE=$(ht resphdr "$TMPD/$_l_name.hdr" Set-Cookie)
	COOKIE=$(printf '%s\n' "$SETCOOKIE" | sed -n 's/^\(tunneld_session=[^;]*\);.*/\1/p')
}

# csrf_of NAME: the token in a page fetched as NAME.
csrf_of()
{
	sed -n 's/.*name="csrf-token" content="\([A-Za-z0-9]*\)".*/\1/p' \
	    "$TMPD/$1.body"
}

samples()
{
	fetch up -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels/$1/uptime"
	ht json "$TMPD/up.body" samples_24h
}

has_samples()	# has_samples ID MIN
{
	[ "$(samples "$1")" -ge "$2" ]
}

connected_samples_ge()	# connected_samples_ge ID MIN
{
	fetch up -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels/$1/uptime"
	[ "$(ht json "$TMPD/up.body" connected_24h)" -ge "$2" ]
}

start_localsvc
start_tunneld --uptime-interval 1 --trusted-proxies 127.0.0.1
start_client --subdomain dash-one "$LOCAL_PORT"
fetch r1 "$PUBLIC_URL"status/200
fetch r2 "$PUBLIC_URL"status/503
fetch r3 "$PUBLIC_URL"status/404

# --- the page and the login ---------------------------------------------------
fetch p0 "$SERVER_URL$D"
is "GET /dashboard without a session: 200" "$HTTP_STATUS" 200
like "... the login form" "$(cat "$TMPD/p0.body")" 'action="/dashboard/login"'
like "... in the login view" "$(cat "$TMPD/p0.body")" 'class="view-login"'
is "... no CSRF token" "$(csrf_of p0)" ""
like "... with a content security policy" \
    "$(ht resphdr "$TMPD/p0.hdr" Content-Security-Policy)" "default-src 'none'"
is "... not framed" "$(ht resphdr "$TMPD/p0.hdr" X-Frame-Options)" DENY
check "... nothing from a CDN" lacks "$TMPD/p0.body" 'src="(https?:)?//'
fetch a0 "$SERVER_URL$D/api/tunnels"
is "the API without a session: 401" "$HTTP_STATUS" 401

login l1 "wrong-key-$(_rand)"
is "a wrong key: 401" "$HTTP_STATUS" 401
is "... and no cookie" "$SETCOOKIE" ""
like "... the form says so" "$(cat "$TMPD/l1.body")" 'not the admin key'
login l2 "$KEY"
is "a plain API key: 403" "$HTTP_STATUS" 403
is "... and no cookie" "$SETCOOKIE" ""
login l3 ""
is "no key at all: 401" "$HTTP_STATUS" 401
check "failed logins are logged with the address" \
    grep -q 'dashboard: failed login from 127.0.0.1' "$TMPD/tunneld.1.log"

login l4 "$ADMIN_KEY"
is "the admin key: 303" "$HTTP_STATUS" 303
is "... to the dashboard" "$(ht resphdr "$TMPD/l4.hdr" Location)" \
    '/dashboard?login=1'
like "... a session cookie" "$COOKIE" '^tunneld_session=[A-Za-z0-9]{43}$'
like "... HttpOnly" "$SETCOOKIE" '; HttpOnly(;|$)'
like "... SameSite=Strict" "$SETCOOKIE" '; SameSite=Strict(;|$)'
like "... Path=/dashboard" "$SETCOOKIE" '; Path=/dashboard(;|$)'
like "... 12 hours" "$SETCOOKIE" '; Max-Age=43200(;|$)'
check "... not Secure over plain HTTP" sh -c \
    "! printf '%s' '$SETCOOKIE' | grep -q Secure"
check "the admin key is not logged" lacks "$TMPD/tunneld.1.log" "$ADMIN_KEY"

COOKIE4=$COOKIE
login l5 "$ADMIN_KEY" -H 'X-Forwarded-Proto: https'
like "behind a trusted proxy saying https: Secure" "$SETCOOKIE" \
    '; Secure(;|$)'
COOKIE5=$COOKIE
COOKIE=$COOKIE4

fetch p1 -H "Cookie: $COOKIE" "$SERVER_URL$D"
is "GET /dashboard with the session: 200" "$HTTP_STATUS" 200
like "... the dashboard view" "$(cat "$TMPD/p1.body")" 'class="view-main"'
CSRF=$(csrf_of p1)
like "... with a CSRF token" "$CSRF" '^[A-Za-z0-9]{32}$'
fetch p2 -H "Cookie: tunneld_session=$(_rand)$(_rand)" "$SERVER_URL$D"
like "a made-up cookie: the login form" "$(cat "$TMPD/p2.body")" \
    'class="view-login"'
fetch p3 "$SERVER_URL$D?login=1"
like "back from a login without the cookie: the form says why" \
    "$(cat "$TMPD/p3.body")" 'did not keep the session cookie'

# --- the tunnel list ------------------------------------------------------------
fetch a1 -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels"
is "the list: 200" "$HTTP_STATUS" 200
is "... one tunnel" "$(ht json "$TMPD/a1.body" total)" 1
is "... its id" "$(ht json "$TMPD/a1.body" tunnels.0.tunnel_id)" dash-one
is "... its owner" "$(ht json "$TMPD/a1.body" tunnels.0.owner)" tests
is "... connected" "$(ht json "$TMPD/a1.body" tunnels.0.connected)" true
is "... the agent's address" "$(ht json "$TMPD/a1.body" tunnels.0.agents.0)" \
    127.0.0.1
is "... 3 requests" "$(ht json "$TMPD/a1.body" tunnels.0.requests)" 3
is "... one 5xx" "$(ht json "$TMPD/a1.body" tunnels.0.requests_5xx)" 1
is "... one 4xx" "$(ht json "$TMPD/a1.body" tunnels.0.requests_4xx)" 1
like "... error rate a third" "$(ht json "$TMPD/a1.body" tunnels.0.error_rate)" \
    '^0\.333'
like "... bytes out" "$(ht json "$TMPD/a1.body" tunnels.0.bytes_out)" '^[1-9]'
is "... 90 uptime bars" "$(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["tunnels"][0]["uptime"]["bars"]))' \
    "$TMPD/a1.body")" 90
like "... the client command, without a key" \
    "$(ht json "$TMPD/a1.body" client_command)" \
    "^tunnel-client --server $SERVER_URL --api-key YOUR_API_KEY 3000\$"
no_secrets()
{
	for f in a1 p1; do
		TOKEN_HASH=$(sed -n 's/.*"token_sha256": *"\([0-9a-f]*\)".*/\1/p' \
		    "$TMPD/state/tunnels.json" | head -n 1)
		[ -n "$TOKEN_HASH" ] || return 1
		grep -q -e "$KEY" -e "$ADMIN_KEY" -e "$TOKEN_HASH" \
		    -e token_sha256 -e auth_token "$TMPD/$f.body" && return 1
	done
	return 0
}
check "no key, token or hash in the page or the list" no_secrets

# --- uptime history ---------------------------------------------------------------
check "uptime: samples every second" wait_for $((10 * SLOW)) has_samples \
    dash-one 3
check "uptime: connected samples" wait_for $((10 * SLOW)) \
    connected_samples_ge dash-one 2
like "uptime: 30 daily bars" "$(ht json "$TMPD/up.body" bars_30d)" \
    '^\[(-?[0-9]+, ){29}-?[0-9]+\]$'
fetch u404 -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels/nosuch/uptime"
is "uptime of no tunnel: 404" "$HTTP_STATUS" 404

# --- actions need the cookie and the CSRF token -------------------------------------
tcurl -o "$TMPD/c2.json" -X POST -H "X-API-Key: $KEY" \
    -d '{"subdomain":"dash-two"}' "$SERVER_URL/api/tunnels"
TOKEN2=$(ht json "$TMPD/c2.json" auth_token)
fetch x1 -X POST -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "delete without the CSRF token: 403" "$HTTP_STATUS" 403
fetch x2 -X POST -H "Cookie: $COOKIE" -H "X-CSRF-Token: $(_rand)" \
    "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "delete with a wrong CSRF token: 403" "$HTTP_STATUS" 403
fetch x3 -X POST -H "X-CSRF-Token: $CSRF" \
    "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "delete with the token but no cookie: 401" "$HTTP_STATUS" 401
fetch x4 -X POST -H "Cookie: $COOKIE5" -H "X-CSRF-Token: $CSRF" \
    "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "another session's CSRF token: 403" "$HTTP_STATUS" 403
fetch g2 -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/dash-two"
is "... and the tunnel is still there" "$HTTP_STATUS" 200

fetch y1 -X POST -H "Cookie: $COOKIE" -H "X-CSRF-Token: $CSRF" \
    "$SERVER_URL$D/api/tunnels/dash-two/rotate"
is "rotate with cookie and token: 200" "$HTTP_STATUS" 200
check "... no token in the answer" lacks "$TMPD/y1.body" 'auth_token'
fetch y2 -H "Authorization: Bearer $TOKEN2" \
    "$SERVER_URL/api/tunnel/connect/dash-two"
is "... the old token no longer connects" "$HTTP_STATUS" 401
fetch x5 -X POST -H "Cookie: $COOKIE" -H "X-CSRF-Token: $CSRF" \
    "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "delete with cookie and token: 200" "$HTTP_STATUS" 200
fetch g3 -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/dash-two"
is "... the tunnel is gone" "$HTTP_STATUS" 404
fetch x6 -X POST -H "Cookie: $COOKIE" -H "X-CSRF-Token: $CSRF" \
    "$SERVER_URL$D/api/tunnels/dash-two/delete"
is "delete it again: 404" "$HTTP_STATUS" 404
fetch x7 -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels/dash-one/delete"
is "delete with GET: 405" "$HTTP_STATUS" 405

# --- failed logins are limited per address ------------------------------------------
for i in 1 2 3 4 5; do
	login f$i "wrong-key-$(_rand)" -H 'X-Forwarded-For: 192.0.2.7'
done
login f4 "$ADMIN_KEY" -H 'X-Forwarded-For: 192.0.2.7'
is "the 6th try from an address: 429, even with the right key" \
    "$HTTP_STATUS" 429
is "... no cookie" "$SETCOOKIE" ""
login f5 "$ADMIN_KEY" -H 'X-Forwarded-For: 192.0.2.8'
is "another address still logs in" "$HTTP_STATUS" 303

# --- logout ----------------------------------------------------------------------------
fetch o1 -X POST -H "Cookie: $COOKIE5" "$SERVER_URL$D/logout"
is "logout without the CSRF token: 403" "$HTTP_STATUS" 403
fetch p5 -H "Cookie: $COOKIE5" "$SERVER_URL$D"
CSRF5=$(csrf_of p5)
fetch o2 -X POST -H "Cookie: $COOKIE5" -H "X-CSRF-Token: $CSRF5" \
    "$SERVER_URL$D/logout"
is "logout: 200" "$HTTP_STATUS" 200
like "... the cookie is cleared" "$(ht resphdr "$TMPD/o2.hdr" Set-Cookie)" \
    '^tunneld_session=; Path=/dashboard; Max-Age=0'
fetch o3 -H "Cookie: $COOKIE5" "$SERVER_URL$D/api/tunnels"
is "... and the session is over" "$HTTP_STATUS" 401
fetch o4 -H "Cookie: $COOKIE" "$SERVER_URL$D/api/tunnels"
is "... the other session is not" "$HTTP_STATUS" 200

# --- the history survives a restart ----------------------------------------------------
before=$(samples dash-one)
stop_pid "$CLIENT_PID"
is "client stops" "$STOP_STATUS" 0
check "uptime: a disconnected sample after the client left" wait_for \
    $((10 * SLOW)) sh -c "
	curl -sS --noproxy '*' -H 'Cookie: $COOKIE' \
	    '$SERVER_URL$D/api/tunnels/dash-one/uptime' |
	    python3 -c 'import json,sys; d=json.load(sys.stdin)
sys.exit(0 if d[\"samples_24h\"] > d[\"connected_24h\"] else 1)'"
stop_pid "$TUNNELD_PID"
is "tunneld stops" "$STOP_STATUS" 0
check "uptime.bin is written" test -s "$TMPD/state/uptime.bin"
check "uptime.bin is private" sh -c \
    "[ \"\$(stat -c %a '$TMPD/state/uptime.bin')\" = 600 ]"
start_tunneld --uptime-interval 1
login r1 "$ADMIN_KEY"
is "after the restart: log in again (sessions are not kept)" "$HTTP_STATUS" 303
after=$(samples dash-one)
check "after the restart the samples are still there ($before -> $after)" \
    test "$after" -ge "$before"
check "tunneld says it loaded the history" \
    grep -q 'history: uptime of 1 tunnels loaded' "$TMPD/tunneld.2.log"
stop_pid "$TUNNELD_PID"
is "tunneld stops again" "$STOP_STATUS" 0
start_tunneld --uptime-interval 2
check "another uptime_interval: the old history is set aside" \
    grep -q 'has slots of 1 s, not uptime_interval 2 s' "$TMPD/tunneld.3.log"

done_testing
