#!/bin/sh
# Requests through a tunnel look like requests straight to the local service:
# every method, headers, status codes, binary bodies, redirects, the query.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

start_localsvc
start_tunneld
start_client "$LOCAL_PORT"

like "Public URL is under the server" "$PUBLIC_URL" \
    "^http://127\\.0\\.0\\.1:$TUNNELD_PORT/[a-z0-9-]+/\$"
is "Public URL ends in the tunnel id" "$PUBLIC_URL" \
    "$SERVER_URL/$TUNNEL_ID/"

Q='echo?x=1&y=%20'

# --- every method: the same request reaches the local service ------------
for m in GET HEAD POST PUT PATCH DELETE OPTIONS PURGE; do
	case $m in
	HEAD)	set -- -I ;;
	GET)	set -- -H 'X-Test: one' -H 'X-Test: two' ;;
	POST|PUT|PATCH)
		set -- -X "$m" -H 'Content-Type: application/octet-stream' \
		    --data-binary "body for $m" ;;
	*)	set -- -X "$m" ;;
	esac
	fetch direct "$@" "$LOCAL_URL/$Q"
	ds=$HTTP_STATUS
	fetch tunnel "$@" "$PUBLIC_URL$Q"
	is "$m: status" "$HTTP_STATUS" "$ds"
	check "$m: response headers" ht respcmp "$TMPD/direct.hdr" \
	    "$TMPD/tunnel.hdr" content-length
	[ "$m" = HEAD ] && continue
	ht reqnorm "$TMPD/direct.body" >"$TMPD/direct.req" 2>&1
	ht reqnorm "$TMPD/tunnel.body" >"$TMPD/tunnel.req" 2>&1
	check "$m: request seen by the local service" \
	    diff -u "$TMPD/direct.req" "$TMPD/tunnel.req"
done

# --- HEAD: the headers a GET would have, and no body ----------------------
fetch hd -I "$LOCAL_URL/binary"
fetch ht -I "$PUBLIC_URL"binary
is "HEAD /binary: status" "$HTTP_STATUS" 200
check "HEAD /binary: response headers (with Content-Length)" \
    ht respcmp "$TMPD/hd.hdr" "$TMPD/ht.hdr"
# A body after the HEAD answer would corrupt the next response on the
# same connection.
r=$(tcurl -I -o /dev/null "$PUBLIC_URL"binary --next -sS --noproxy '*' \
    --max-time "$CURL_MAX_TIME" -o "$TMPD/after.body" \
    -w '%{http_code} %{num_connects}' "$PUBLIC_URL"status/200 2>&1)
is "HEAD: the next request on the connection is intact" "$r" "200 0"
is "HEAD: the next response body is intact" "$(cat "$TMPD/after.body")" \
    "status 200"

# --- forwarding headers ---------------------------------------------------
fetch fwd "$PUBLIC_URL$Q"
is "X-Forwarded-Prefix" "$(ht reqhdr "$TMPD/fwd.body" X-Forwarded-Prefix)" \
    "/$TUNNEL_ID"
is "X-Forwarded-Host" "$(ht reqhdr "$TMPD/fwd.body" X-Forwarded-Host)" \
    "127.0.0.1:$TUNNELD_PORT"
is "X-Forwarded-Proto" "$(ht reqhdr "$TMPD/fwd.body" X-Forwarded-Proto)" \
    http
is "X-Forwarded-For" "$(ht reqhdr "$TMPD/fwd.body" X-Forwarded-For)" \
    127.0.0.1
like "Host is the local service's address" \
    "$(ht reqhdr "$TMPD/fwd.body" Host)" \
    "^(127\\.0\\.0\\.1|localhost|\\[::1\\]):$LOCAL_PORT\$"

fetch spoof -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Forwarded-Host: evil.example' \
    -H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Prefix: /evil' \
    -H 'Forwarded: for=6.6.6.6;host=evil.example' "$PUBLIC_URL$Q"
is "spoofed X-Forwarded-For replaced" \
    "$(ht reqhdr "$TMPD/spoof.body" X-Forwarded-For)" 127.0.0.1
is "spoofed X-Forwarded-Host replaced" \
    "$(ht reqhdr "$TMPD/spoof.body" X-Forwarded-Host)" \
    "127.0.0.1:$TUNNELD_PORT"
is "spoofed X-Forwarded-Proto replaced" \
    "$(ht reqhdr "$TMPD/spoof.body" X-Forwarded-Proto)" http
is "spoofed X-Forwarded-Prefix replaced" \
    "$(ht reqhdr "$TMPD/spoof.body" X-Forwarded-Prefix)" "/$TUNNEL_ID"
check "spoofed Forwarded not passed on" \
    lacks "$TMPD/spoof.body" '6\.6\.6\.6|evil'

# --- query strings --------------------------------------------------------
for q in 'echo?a=%2F&b=%3F&c=x+y&d&e=&&f=%25' 'echo?%E2%82%AC=%00' \
    'echo?x=/a/b?c'; do
	fetch qd "$LOCAL_URL/$q"
	fetch qt "$PUBLIC_URL$q"
	is "query preserved: $q" "$(ht json "$TMPD/qt.body" path)" \
	    "$(ht json "$TMPD/qd.body" path)"
done

# --- response headers ------------------------------------------------------
fetch cd "$LOCAL_URL/cookies"
fetch ct "$PUBLIC_URL"cookies
is "cookies: status" "$HTTP_STATUS" 200
is "Set-Cookie kept apart" \
    "$(ht resphdr "$TMPD/ct.hdr" Set-Cookie | tr '\n' '|')" "a=1|b=2|"
is "X-Multi kept apart" \
    "$(ht resphdr "$TMPD/ct.hdr" X-Multi | tr '\n' '|')" "one|two|"
check "cookies: response headers" ht respcmp "$TMPD/cd.hdr" "$TMPD/ct.hdr"

fetch hd "$LOCAL_URL/headers?X-A=1&Cache-Control=no-store&ETag=%22abc%22"
fetch ht "$PUBLIC_URL""headers?X-A=1&Cache-Control=no-store&ETag=%22abc%22"
check "custom response headers" ht respcmp "$TMPD/hd.hdr" "$TMPD/ht.hdr"

# --- bodies and status codes ---------------------------------------------
fetch bd "$LOCAL_URL/binary"
fetch bt "$PUBLIC_URL"binary
is "binary: status" "$HTTP_STATUS" 200
is "binary: 1024 bytes" "$(wc -c <"$TMPD/bt.body" | tr -d ' ')" 1024
check "binary: byte-exact" cmp "$TMPD/bd.body" "$TMPD/bt.body"
check "binary: response headers" ht respcmp "$TMPD/bd.hdr" "$TMPD/bt.hdr"

for s in 201 204 304 404 500 503; do
	fetch sd "$LOCAL_URL/status/$s"
	fetch st "$PUBLIC_URL"status/$s
	is "status $s passed through" "$HTTP_STATUS" "$s"
	check "status $s: same body" cmp "$TMPD/sd.body" "$TMPD/st.body"
	if [ "$s" = 304 ]; then
		# libmicrohttpd frames a bodiless 304 with its own
		# "Content-Length: 0"; every other header must match.
		grep -iv '^content-length:' "$TMPD/st.hdr" >"$TMPD/st.hdr2"
		grep -iv '^content-length:' "$TMPD/sd.hdr" >"$TMPD/sd.hdr2"
		check "status 304: response headers (less Content-Length)" \
		    ht respcmp "$TMPD/sd.hdr2" "$TMPD/st.hdr2"
		continue
	fi
	check "status $s: response headers" ht respcmp "$TMPD/sd.hdr" \
	    "$TMPD/st.hdr"
done

# --- redirects ------------------------------------------------------------
fetch r1 "$PUBLIC_URL"'redirect?to=/x'
is "redirect: status" "$HTTP_STATUS" 302
is "relative Location kept under the prefix" \
    "$(ht resphdr "$TMPD/r1.hdr" Location)" "/$TUNNEL_ID/x"
fetch r2 "$PUBLIC_URL"'redirect?to=/x%3Fy%3D1'
is "Location with a query kept under the prefix" \
    "$(ht resphdr "$TMPD/r2.hdr" Location)" "/$TUNNEL_ID/x?y=1"
fetch r3 "$PUBLIC_URL"'redirect?to=https%3A%2F%2Fexample.com%2Fz'
is "foreign Location untouched" "$(ht resphdr "$TMPD/r3.hdr" Location)" \
    https://example.com/z

fetch noslash "$SERVER_URL/$TUNNEL_ID"
is "no trailing slash: 308" "$HTTP_STATUS" 308
like "no trailing slash: Location" \
    "$(ht resphdr "$TMPD/noslash.hdr" Location)" "(^|/)$TUNNEL_ID/\$"
fetch noslashq "$SERVER_URL/$TUNNEL_ID?a=1&b=%20"
is "no trailing slash with a query: 308" "$HTTP_STATUS" 308
like "no trailing slash with a query: Location keeps it" \
    "$(ht resphdr "$TMPD/noslashq.hdr" Location)" \
    "(^|/)$TUNNEL_ID/\\?a=1&b=%20\$"

# --- unknown tunnel --------------------------------------------------------
fetch unknown "$SERVER_URL/nosuchtunnel0000/echo"
is "unknown tunnel: 404" "$HTTP_STATUS" 404
like "unknown tunnel: JSON or HTML error" \
    "$(ht resphdr "$TMPD/unknown.hdr" Content-Type)" \
    '^(application/json|text/html)'
check "unknown tunnel: a body" test -s "$TMPD/unknown.body"
fetch unknown2 "$SERVER_URL/nosuchtunnel0000"
is "unknown tunnel, no trailing slash: 404, not a redirect" "$HTTP_STATUS" 404

# The tunnel still serves after all that.
fetch last "$PUBLIC_URL$Q"
is "still serving" "$HTTP_STATUS" 200

# --- the local service is reached directly ---------------------------------
# A second client, with ALL_PROXY naming a port where nothing listens and
# only the server (127.0.0.1) in NO_PROXY: its requests to localhost still
# reach the local service.
dead=$(free_port)
ALL_PROXY=http://127.0.0.1:$dead
NO_PROXY=127.0.0.1
no_proxy=127.0.0.1
export ALL_PROXY NO_PROXY no_proxy
start_client "localhost:$LOCAL_PORT"
unset ALL_PROXY
no_proxy='*'
NO_PROXY='*'
fetch proxyenv "$PUBLIC_URL$Q"
is "ALL_PROXY set: the request reaches the local service" "$HTTP_STATUS" 200

done_testing
