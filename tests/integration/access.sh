#!/bin/sh
# Per-tunnel visitor access: HTTP basic auth and an IP allow list, checked
# by tunneld before anything reaches the agent, kept across a restart, and
# never stored or shown in the clear.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
start_tunneld
start_client --subdomain guarded --basic-auth 'alice:s3cret pass' "$LOCAL_PORT"

fetch b1 "$PUBLIC_URL"echo
is "basic auth: no credentials, 401" "$HTTP_STATUS" 401
like "basic auth: 401 asks for Basic" "$(cat "$TMPD/b1.hdr")" \
    '[Ww][Ww][Ww]-[Aa]uthenticate: Basic realm="tunnel"'
fetch b2 -u 'alice:wrong' "$PUBLIC_URL"echo
is "basic auth: wrong password, 401" "$HTTP_STATUS" 401
fetch b3 -u 'mallory:s3cret pass' "$PUBLIC_URL"echo
is "basic auth: wrong user, 401" "$HTTP_STATUS" 401
fetch b4 -H 'Authorization: Basic !!!notbase64' "$PUBLIC_URL"echo
is "basic auth: garbage credentials, 401" "$HTTP_STATUS" 401
fetch b5 -u 'alice:s3cret pass' "$PUBLIC_URL"echo
is "basic auth: right credentials, 200" "$HTTP_STATUS" 200
no_authz()
{
	! grep -qi '"authorization"' "$TMPD/b5.body"
}
check "the tunnel's credentials are not passed to the local service" no_authz

fetch s1 -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/guarded"
like "the API says basic auth is on" "$(cat "$TMPD/s1.body")" \
    '"basic_auth":true'
no_clear_password()
{
	! grep -rq 's3cret' "$TMPD/state" "$TMPD/s1.body"
}
check "the password is nowhere in the clear" no_clear_password

stop_pid "$TUNNELD_PID"
start_tunneld --listen "127.0.0.1:$TUNNELD_PORT"
up_401()
{
	_c=$(tcurl -o /dev/null -w '%{http_code}' "$PUBLIC_URL"echo)
	[ "$_c" = 401 ]
}
check "after a restart, basic auth still holds" wait_for $((15 * SLOW)) up_401
up_200()
{
	_c=$(tcurl -o /dev/null -w '%{http_code}' -u 'alice:s3cret pass' \
	    "$PUBLIC_URL"echo)
	[ "$_c" = 200 ]
}
check "after a restart, the password still works" wait_for $((15 * SLOW)) up_200
stop_pid "$CLIENT_PID"

# --- allow lists ------------------------------------------------------------
start_client --subdomain walled --allow-cidr 10.0.0.0/8 \
    --allow-cidr 2001:db8::/32 "$LOCAL_PORT"
fetch a1 "$PUBLIC_URL"echo
is "allow list without 127.0.0.1: 403" "$HTTP_STATUS" 403
stop_pid "$CLIENT_PID"
start_client --subdomain open-lo --allow-cidr 127.0.0.0/8 "$LOCAL_PORT"
fetch a2 "$PUBLIC_URL"echo
is "allow list with 127.0.0.0/8: 200" "$HTTP_STATUS" 200

# --- bad settings are refused, not ignored -------------------------------------
api_create()
{
	tcurl -o "$TMPD/c.json" -w '%{http_code}' -X POST -H "X-API-Key: $KEY" \
	    -d "$1" "$SERVER_URL/api/tunnels"
}
is "basic_auth without a colon: 400" "$(api_create '{"basic_auth":"alice"}')" 400
is "basic_auth with an empty password: 400" \
    "$(api_create '{"basic_auth":"alice:"}')" 400
is "basic_auth not a string: 400" "$(api_create '{"basic_auth":1}')" 400
is "allow_cidr not a CIDR: 400" "$(api_create '{"allow_cidr":["10.0.0.0/33"]}')" 400
is "allow_cidr not strings: 400" "$(api_create '{"allow_cidr":[1]}')" 400

done_testing
