#!/bin/sh
# Limits and abuse controls: 431 for a huge head, 413 past max_body_size
# (with and without Content-Length), max_streams and max_tunnels (503), the
# deny list (addresses, also through a trusted proxy, and names; reloaded
# on SIGHUP, a bad file refused), rate_limit and tunnel_rate_limit (429
# with Retry-After), connection_timeout, and 1000 idle connections from
# one address (127.0.0.2; all of 127/8 is loopback) that must not keep
# another (127.0.0.1) from being served within a second.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

IDLECONNS=$top_srcdir/tests/integration/idleconns.py
KEY3=third-$(_rand)
KEY4=limited-$(_rand)
KEY5=fourth-$(_rand)

curl --noproxy '*' -s -o /dev/null --max-time 5 --interface 127.0.0.2 \
    http://127.0.0.1:1/ 2>/dev/null
[ $? -eq 45 ] && skip_all "curl cannot bind to 127.0.0.2 (--interface)"

# hdr FILE NAME: a header value of the file's response head, or "".
hdr()
{
	ht resphdr "$TMPD/$1.hdr" "$2" | head -n 1 | tr -d '\r'
}

# json_err NAME: the "error" of a JSON answer, or "(none)".
json_err()
{
	ht json "$TMPD/$1.body" error 2>/dev/null || echo "(none)"
}

# reloads: how many reloads tunneld logged as applied or refused.
reloads()
{
	grep -c 'reload: ' "$TMPD/tunneld.$_ntunneld.log" 2>/dev/null
}

# hup: SIGHUP to tunneld, then wait until its log shows the reload.
hup()
{
	_h_n=$(grep -c 'reload: \(the new configuration is refused\|[0-9]* keys\)' \
	    "$TMPD/tunneld.$_ntunneld.log")
	kill -HUP "$TUNNELD_PID"
	wait_for $((5 * SLOW)) _reloaded "$_h_n"
}
_reloaded()
{
	[ "$(grep -c 'reload: \(the new configuration is refused\|[0-9]* keys\)' \
	    "$TMPD/tunneld.$_ntunneld.log")" -gt "$1" ]
}

start_localsvc

# --- server A: sizes, streams, tunnels, the deny list ----------------------
printf 'limited:%s max_tunnels=1\n' "$KEY4" >"$TMPD/keys"
printf '# test deny list\naddr 127.0.0.2\naddr 198.51.100.0/24\nname blocked-*\n' \
    >"$TMPD/deny"
start_tunneld --state-dir "$TMPD/state-a" --max-body-size 1024 \
    --max-streams 2 --max-tunnels 3 --api-key-file "$TMPD/keys" \
    --trusted-proxies 127.0.0.1 --deny-file "$TMPD/deny"
start_client --name limits-a "$LOCAL_PORT"
fetch a-ok "$PUBLIC_URL"status/200
is "server A serves the tunnel" "$HTTP_STATUS" 200

# 431 (max_header_size 65536): a 70 KiB header gets tunneld's JSON error;
# a 100 KiB one does not fit the connection's buffer (max_header_size +
# 16 KiB) and gets libmicrohttpd's own 431; 60 KiB passes.
python3 -c 'print("X-Big: " + "a" * 102400)' >"$TMPD/big.hdr-line"
python3 -c 'print("X-Big: " + "a" * 71680)' >"$TMPD/over.hdr-line"
python3 -c 'print("X-Big: " + "a" * 61440)' >"$TMPD/mid.hdr-line"
fetch h431 -H @"$TMPD/over.hdr-line" "$PUBLIC_URL"echo
is "70 KiB header to a tunnel: 431" "$HTTP_STATUS" 431
is "431: a JSON error" "$(json_err h431)" "request header fields too large"
fetch h431big -H @"$TMPD/big.hdr-line" "$PUBLIC_URL"echo
is "100 KiB header to a tunnel: 431" "$HTTP_STATUS" 431
fetch h431api -H @"$TMPD/big.hdr-line" -H "X-API-Key: $KEY" \
    "$SERVER_URL/api/tunnels"
is "100 KiB header to the API: 431" "$HTTP_STATUS" 431
fetch h60 -H @"$TMPD/mid.hdr-line" "$PUBLIC_URL"echo
is "60 KiB header: 200" "$HTTP_STATUS" 200

# 413: max_body_size 1024, with Content-Length and chunked.
head -c 1024 /dev/urandom >"$TMPD/b1024"
head -c 2000 /dev/urandom >"$TMPD/b2000"
head -c 3145728 /dev/zero >"$TMPD/b3m"
fetch b-ok --data-binary @"$TMPD/b1024" "$PUBLIC_URL"echo
is "a body of max_body_size passes" "$HTTP_STATUS" 200
is "... whole" "$(ht json "$TMPD/b-ok.body" body_len)" 1024
fetch b413 --data-binary @"$TMPD/b2000" "$PUBLIC_URL"echo
is "Content-Length over max_body_size: 413" "$HTTP_STATUS" 413
fetch b413c -H 'Transfer-Encoding: chunked' --data-binary @"$TMPD/b2000" \
    "$PUBLIC_URL"echo
is "a chunked body over max_body_size: 413" "$HTTP_STATUS" 413
check "413: a page says why" grep -q 'too large' "$TMPD/b413c.body"
fetch b413big -H 'Transfer-Encoding: chunked' -H 'Expect:' \
    --data-binary @"$TMPD/b3m" "$PUBLIC_URL"echo
like "a chunked body far over it: 413 or cut off" "$HTTP_STATUS" '^(413|000)$'
diag "a 3 MiB chunked body: status $HTTP_STATUS"
fetch b-after "$PUBLIC_URL"status/200
is "the tunnel serves after the 413s" "$HTTP_STATUS" 200
head -c 102400 /dev/zero >"$TMPD/b100k"
fetch b413api -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
    --data-binary @"$TMPD/b100k" "$SERVER_URL/api/tunnels"
is "a 100 KiB API body: 413" "$HTTP_STATUS" 413
is "413: a JSON error" "$(json_err b413api)" "request body too large"

# 503: max_streams 2, three slow requests at once.
pids=""
for i in 1 2 3; do
	tcurl -o /dev/null -w '%{http_code}\n' --max-time $((10 * SLOW)) \
	    "$PUBLIC_URL"'slow?ms=2000' >"$TMPD/slow$i.status" 2>/dev/null &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
is "max_streams 2: three at once give two 200 and one 503" \
    "$(cat "$TMPD"/slow?.status | sort | tr '\n' ' ')" "200 200 503 "

# 503: tunnels per key (max_tunnels=1 in api_key_file), then in total (3).
api()
{
	_a_name=$1
	_a_key=$2
	shift 2
	fetch "$_a_name" -H "X-API-Key: $_a_key" \
	    -H 'Content-Type: application/json' "$@"
}
api k1 "$KEY4" --data '{}' "$SERVER_URL/api/tunnels"
is "the limited key makes its one tunnel" "$HTTP_STATUS" 201
api k2 "$KEY4" --data '{}' "$SERVER_URL/api/tunnels"
is "its second: 503" "$HTTP_STATUS" 503
is "503: the key's limit" "$(json_err k2)" "this key's tunnel limit is reached"
api t3 "$KEY" --data '{}' "$SERVER_URL/api/tunnels"
is "a third tunnel in all" "$HTTP_STATUS" 201
api t4 "$KEY" --data '{}' "$SERVER_URL/api/tunnels"
is "a fourth: 503 (max_tunnels 3)" "$HTTP_STATUS" 503
is "503: the server's limit" "$(json_err t4)" \
    "the server's tunnel limit is reached"
check "503: Retry-After" test -n "$(hdr t4 Retry-After)"
for t in k1 t3; do
	id=$(ht json "$TMPD/$t.body" tunnel_id)
	api "del-$t" "$ADMIN_KEY" -X DELETE "$SERVER_URL/api/tunnels/$id"
	is "the admin key deletes another key's tunnel ($t)" "$HTTP_STATUS" 200
done

# The deny list: an address gets 403 on everything.
for path in /health /api /api/tunnels /api/tunnel/connect/limits-a \
    /limits-a/status/200; do
	fetch dn --interface 127.0.0.2 -H "X-API-Key: $KEY" "$SERVER_URL$path"
	is "denied address: $path is 403" "$HTTP_STATUS" 403
done
is "denied address: a JSON error" "$(json_err dn)" "this address is denied"
fetch dnpost --interface 127.0.0.2 -H "X-API-Key: $KEY" \
    --data-binary @"$TMPD/b3m" "$SERVER_URL/api/tunnels"
is "denied address with a 3 MiB body: 403" "$HTTP_STATUS" 403
fetch dnx -H 'X-Forwarded-For: 198.51.100.9' "$SERVER_URL/health"
is "denied address behind a trusted proxy: 403" "$HTTP_STATUS" 403
fetch dnx2 -H 'X-Forwarded-For: 198.51.100.9, 203.0.113.1' "$SERVER_URL/health"
is "the nearest untrusted X-Forwarded-For entry counts: 200" "$HTTP_STATUS" 200
fetch dnx3 --interface 127.0.0.3 -H 'X-Forwarded-For: 198.51.100.9' \
    "$SERVER_URL/health"
is "X-Forwarded-For from an untrusted peer is ignored: 200" "$HTTP_STATUS" 200
api dname "$KEY" --data '{"name":"blocked-x"}' "$SERVER_URL/api/tunnels"
is "a denied name cannot be made: 403" "$HTTP_STATUS" 403
is "403: a JSON error" "$(json_err dname)" "that name is denied on this server"

# SIGHUP: the running tunnel's name is denied now; its agent is sent away.
printf 'addr 127.0.0.2\nname limits-*\n' >"$TMPD/deny"
check "SIGHUP applies the new deny list" hup
fetch dis "$PUBLIC_URL"status/200
is "a denied tunnel: 403" "$HTTP_STATUS" 403
is "403: tunnel disabled" "$(json_err dis)" "tunnel disabled"
check "its agent is dropped, and tunnel-client exits" \
    wait_for $((10 * SLOW)) sh -c "! kill -0 $CLIENT_PID 2>/dev/null"
stop_pid "$CLIENT_PID"
is "tunnel-client exits 1 for a disabled tunnel" "$STOP_STATUS" 1
check "tunnel-client says why" grep -q 'tunnel disabled' "$CLIENT_LOG"
check "tunneld logs the drop" grep -q 'limits-a: agent from .* dropped: denied' \
    "$TMPD/tunneld.$_ntunneld.log"
api dshow "$KEY" "$SERVER_URL/api/tunnels/limits-a"
is "the API shows it disabled" "$(ht json "$TMPD/dshow.body" disabled)" true
api dtok "$KEY" --data '{"name":"limits-a"}' "$SERVER_URL/api/tunnels"
is "its name cannot be taken again either: 403" "$HTTP_STATUS" 403

# A bad file is refused whole; the running list stays.
printf 'addr 127.0.0.2\nname Not_A_Name\n' >"$TMPD/deny"
check "SIGHUP with a bad deny file" hup
check "the bad file is refused with its line" \
    grep -q "deny_file $TMPD/deny:2: name" "$TMPD/tunneld.$_ntunneld.log"
fetch still "$PUBLIC_URL"status/200
is "... and the old list kept: still 403" "$HTTP_STATUS" 403
fetch still2 --interface 127.0.0.2 "$SERVER_URL/health"
is "... for the address too" "$HTTP_STATUS" 403

# An empty list: everything is back.
printf '# nothing denied\n' >"$TMPD/deny"
check "SIGHUP with an empty deny file" hup
fetch back --interface 127.0.0.2 "$SERVER_URL/health"
is "the address is served again" "$HTTP_STATUS" 200
start_client --name limits-a "$LOCAL_PORT"
fetch back2 "$PUBLIC_URL"status/200
is "the tunnel is served again" "$HTTP_STATUS" 200
fetch metrics -H "X-API-Key: $ADMIN_KEY" "$SERVER_URL/metrics"
like "/metrics counts the denials" \
    "$(grep '^tunneld_refused_total{reason="deny"}' "$TMPD/metrics.body")" \
    ' [1-9][0-9]*$'

# The other kill switch: the admin key deletes a connected tunnel.
api kill "$ADMIN_KEY" -X DELETE "$SERVER_URL/api/tunnels/limits-a"
is "the admin key deletes a connected tunnel" "$HTTP_STATUS" 200
check "... its agent is sent away and exits" \
    wait_for $((10 * SLOW)) sh -c "! kill -0 $CLIENT_PID 2>/dev/null"
stop_pid "$CLIENT_PID"
is "... with status 1" "$STOP_STATUS" 1
fetch gone "$PUBLIC_URL"status/200
is "... and the tunnel is gone: 404" "$HTTP_STATUS" 404
stop_pid "$TUNNELD_PID"
is "server A exits 0" "$STOP_STATUS" 0

# --- server B: rate limits --------------------------------------------------
start_tunneld --state-dir "$TMPD/state-b" --rate-limit 1 \
    --tunnel-rate-limit 2 --trusted-proxies 127.0.0.1 \
    --api-key "other:$KEY2" --api-key "third:$KEY3" --api-key "fourth:$KEY5"
start_client "$LOCAL_PORT"

# burst NAME: 12 requests for the tunnel at once, their statuses in
# $TMPD/NAME.codes, the answers in NAME0..NAME11.
burst()
{
	: >"$TMPD/$1.codes"
	_b=0
	while [ "$_b" -lt 12 ]; do
		fetch "$1$_b" "$PUBLIC_URL"status/200
		echo "$HTTP_STATUS" >>"$TMPD/$1.codes"
		_b=$((_b + 1))
	done
}

# tunnel_rate_limit 2: a burst of 4, then 429.
t0=$(date +%s)
burst tr
t1=$(date +%s)
is "tunnel_rate_limit: the first request passes" "$(head -n 1 "$TMPD/tr.codes")" 200
n429=$(grep -c '^429$' "$TMPD/tr.codes")
like "tunnel_rate_limit: a burst of 12 gets 429s ($n429)" "$n429" '^([1-9]|1[0-2])$'
n200=$(grep -c '^200$' "$TMPD/tr.codes")
is "... and only 200s besides" "$((n200 + n429))" 12
first=$(grep -n '^429$' "$TMPD/tr.codes" | head -n 1 | cut -d: -f1)
first=$((first - 1))
like "429 for a tunnel: Retry-After in seconds" "$(hdr "tr$first" Retry-After)" \
    '^[1-9][0-9]*$'
is "429 for a tunnel: a JSON error" "$(json_err "tr$first")" \
    "too many requests for this tunnel; slow down"
nlog=$(grep -c "rate limited: tunnel $TUNNEL_ID" "$TMPD/tunneld.$_ntunneld.log")
like "the refusals are logged, at most once a second ($nlog lines, $n429 refusals)" \
    "$nlog" '^[1-9][0-9]*$'
check "... not once each" test "$nlog" -le $((t1 - t0 + 1))

# Callers refused by the tunnel's password do not spend its rate: 12 of
# them get 401 each, and then its user is let in.
start_client --subdomain rate-guarded --basic-auth 'bob:pw' "$LOCAL_PORT"
burst rg
is "refused callers get 401, not 429" "$(grep -c '^401$' "$TMPD/rg.codes")" 12
fetch rgok -u 'bob:pw' "$PUBLIC_URL"status/200
is "... and do not use up the tunnel's rate: its user gets 200" \
    "$HTTP_STATUS" 200

# rate_limit 1 per address: a burst of 2, then 429, with or without a key.
n=0
: >"$TMPD/ra.codes"
while [ "$n" -lt 10 ]; do
	fetch "ra$n" --interface 127.0.0.5 -H "X-API-Key: $KEY2" \
	    "$SERVER_URL/api/tunnels"
	echo "$HTTP_STATUS" >>"$TMPD/ra.codes"
	n=$((n + 1))
done
is "rate_limit per address: the first two pass" \
    "$(head -n 2 "$TMPD/ra.codes" | tr '\n' ' ')" "200 200 "
check "rate_limit per address: then 429" grep -q '^429$' "$TMPD/ra.codes"
first=$(grep -n '^429$' "$TMPD/ra.codes" | head -n 1 | cut -d: -f1)
first=$((first - 1))
retry=$(hdr "ra$first" Retry-After)
like "429 for the API: Retry-After in seconds" "$retry" '^[1-9][0-9]*$'
is "429 for the API: a JSON error" "$(json_err "ra$first")" \
    "too many requests from this address; slow down"
sleep "${retry:-1}"
fetch ra-later --interface 127.0.0.5 -H "X-API-Key: $KEY2" \
    "$SERVER_URL/api/tunnels"
is "after Retry-After it passes again" "$HTTP_STATUS" 200

n=0
: >"$TMPD/rn.codes"
while [ "$n" -lt 10 ]; do
	fetch "rn$n" --interface 127.0.0.6 "$SERVER_URL/api"
	echo "$HTTP_STATUS" >>"$TMPD/rn.codes"
	n=$((n + 1))
done
check "rate_limit per address, without a key (GET /api): 429" \
    grep -q '^429$' "$TMPD/rn.codes"

# Per key: each request from a new address, so only the key's bucket counts.
n=0
: >"$TMPD/rk.codes"
while [ "$n" -lt 10 ]; do
	fetch "rk$n" --interface "127.0.0.$((20 + n))" -H "X-API-Key: $KEY3" \
	    "$SERVER_URL/api/tunnels"
	echo "$HTTP_STATUS" >>"$TMPD/rk.codes"
	n=$((n + 1))
done
check "rate_limit per key, from ten addresses: 429" grep -q '^429$' "$TMPD/rk.codes"
first=$(grep -n '^429$' "$TMPD/rk.codes" | head -n 1 | cut -d: -f1)
is "... saying it is the key" "$(json_err "rk$((first - 1))")" \
    "too many requests with this key; slow down"
fetch rk-other --interface 127.0.0.37 -H "X-API-Key: $KEY5" \
    "$SERVER_URL/api/tunnels"
is "another key from a new address passes" "$HTTP_STATUS" 200

# The connect endpoint counts too (wrong tokens: 401, then 429).
n=0
: >"$TMPD/rc.codes"
while [ "$n" -lt 10 ]; do
	fetch "rc$n" --interface 127.0.0.7 -H 'Connection: Upgrade' \
	    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
	    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
	    -H 'Authorization: Bearer wrong-token-0123456789' \
	    -H 'X-Tunnel-Protocol: 1' "$SERVER_URL/api/tunnel/connect/$TUNNEL_ID"
	echo "$HTTP_STATUS" >>"$TMPD/rc.codes"
	n=$((n + 1))
done
is "connect: the first is a plain 401" "$(head -n 1 "$TMPD/rc.codes")" 401
check "connect: then 429" grep -q '^429$' "$TMPD/rc.codes"

# Behind a trusted proxy the X-Forwarded-For client is the one counted.
n=0
: >"$TMPD/rx.codes"
while [ "$n" -lt 10 ]; do
	fetch "rx$n" -H 'X-Forwarded-For: 198.51.100.7' "$SERVER_URL/api"
	echo "$HTTP_STATUS" >>"$TMPD/rx.codes"
	n=$((n + 1))
done
check "rate_limit behind a trusted proxy: the client gets 429" \
    grep -q '^429$' "$TMPD/rx.codes"
fetch rx-other -H 'X-Forwarded-For: 198.51.100.8' "$SERVER_URL/api"
is "... while another client of the same proxy passes" "$HTTP_STATUS" 200

n=0
: >"$TMPD/rh.codes"
while [ "$n" -lt 10 ]; do
	fetch "rh$n" --interface 127.0.0.8 "$SERVER_URL/health"
	echo "$HTTP_STATUS" >>"$TMPD/rh.codes"
	n=$((n + 1))
done
is "/health is not rate limited" "$(sort -u "$TMPD/rh.codes")" 200
check "rate limit lines name the address" \
    grep -q 'rate limited: address 127.0.0.5' "$TMPD/tunneld.$_ntunneld.log"
fetch rmetrics -H "X-API-Key: $ADMIN_KEY" "$SERVER_URL/metrics"
like "/metrics counts the rate limited requests" \
    "$(grep '^tunneld_refused_total{reason="rate_limit"}' "$TMPD/rmetrics.body")" \
    ' [1-9][0-9]*$'
stop_pid "$CLIENT_PID"
stop_pid "$TUNNELD_PID"
is "server B exits 0" "$STOP_STATUS" 0

# --- 1000 idle connections from one address ----------------------------------
# The python helper needs a descriptor each; raise the soft limit if we can.
want=1200
soft=$(ulimit -n)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then
	hard=$(ulimit -H -n)
	if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
		ulimit -n "$want" 2>/dev/null
	fi
fi
soft=$(ulimit -n)

# idle NAME [args...]: idleconns.py from 127.0.0.2 against $TUNNELD_PORT;
# waits until it has connected everything (bounded).
idle()
{
	_i_name=$1
	shift
	rm -f "$TMPD/$_i_name.status"
	_spawn localsvc "$TMPD/$_i_name.log" python3 "$IDLECONNS" --host 127.0.0.1 \
	    --port "$TUNNELD_PORT" --source 127.0.0.2 --status "$TMPD/$_i_name.status" \
	    "$@"
	IDLE_PID=$_pid
	wait_for $((15 * SLOW)) test -s "$TMPD/$_i_name.status"
}

# field NAME KEY: a field of the helper's status line.
field()
{
	sed -n "s/.*\\<$2=\\([0-9.]*\\).*/\\1/p" "$TMPD/$1.status" 2>/dev/null
}

# closed_ge NAME N: the helper saw at least N of its sockets closed.
closed_ge()
{
	_c=$(field "$1" closed)
	[ -n "$_c" ] && [ "$_c" -ge "$2" ]
}

# timed NAME URL: fetch from 127.0.0.1, time_total in $TIME_TOTAL.
timed()
{
	TIME_TOTAL=$(tcurl --interface 127.0.0.1 -o "$TMPD/$1.body" \
	    -w '%{http_code} %{time_total}' --max-time 10 "$2" 2>/dev/null) ||
	    true
	HTTP_STATUS=${TIME_TOTAL%% *}
	TIME_TOTAL=${TIME_TOTAL#* }
}

# under_1s T: T (seconds, decimal) is below 1.
under_1s()
{
	awk -v t="$1" 'BEGIN { exit !(t != "" && t + 0 < 1.0) }'
}

if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then
	for t in "1000 idle connections: another address served within 1 s" \
	    "1000 idle connections: max_conns_per_ip closes all but 256" \
	    "1000 slow heads, no per-address cap: another address within 1 s" \
	    "connection_timeout closes all 1000"; do
		skip "$t" "ulimit -n is $soft and the hard limit does not allow $want"
	done
else
	# Default max_conns_per_ip (256).
	start_tunneld --state-dir "$TMPD/state-c"
	start_client "$LOCAL_PORT"
	idle idle1 --count 1000 --hold $((20 * SLOW))
	diag "idle connections: $(cat "$TMPD/idle1.status" 2>/dev/null)"
	timed h1 "$SERVER_URL/health"
	diag "GET /health from 127.0.0.1 next to 1000 idle: time_total $TIME_TOTAL s"
	is "1000 idle connections: /health from another address: 200" \
	    "$HTTP_STATUS" 200
	check "1000 idle connections: another address served within 1 s ($TIME_TOTAL s)" \
	    under_1s "$TIME_TOTAL"
	timed h1t "${PUBLIC_URL}status/200"
	diag "GET through the tunnel next to 1000 idle: time_total $TIME_TOTAL s"
	is "... and through the tunnel: 200" "$HTTP_STATUS" 200
	check "... within 1 s ($TIME_TOTAL s)" under_1s "$TIME_TOTAL"
	wait_for $((5 * SLOW)) closed_ge idle1 744
	is "1000 idle connections: max_conns_per_ip closes all but 256" \
	    "$(field idle1 open)/$(field idle1 connected)" "256/1000"
	stop_pid "$IDLE_PID"
	stop_pid "$CLIENT_PID"
	stop_pid "$TUNNELD_PID"
	is "server C exits 0" "$STOP_STATUS" 0

	# No per-address cap, half a request head on each, connection_timeout 2.
	start_tunneld --state-dir "$TMPD/state-d" --max-conns-per-ip 0 \
	    --connection-timeout 2
	idle idle2 --count 1000 --hold $((20 * SLOW)) --partial
	diag "slow heads: $(cat "$TMPD/idle2.status" 2>/dev/null)"
	timed h2 "$SERVER_URL/health"
	diag "GET /health from 127.0.0.1 next to 1000 slow heads: time_total $TIME_TOTAL s"
	is "1000 slow heads, no per-address cap: /health: 200" "$HTTP_STATUS" 200
	check "1000 slow heads, no per-address cap: another address within 1 s ($TIME_TOTAL s)" \
	    under_1s "$TIME_TOTAL"
	is "all 1000 held open at first" "$(field idle2 connected)" 1000
	wait_for $((10 * SLOW)) closed_ge idle2 1000
	is "connection_timeout closes all 1000" "$(field idle2 closed)" 1000
	diag "closed by connection_timeout 2 after $(field idle2 elapsed) s"
	fetch h3 "$SERVER_URL/health"
	is "the server serves on afterwards" "$HTTP_STATUS" 200
	stop_pid "$IDLE_PID"
	stop_pid "$TUNNELD_PID"
	is "server D exits 0" "$STOP_STATUS" 0
fi

# An agent leaves libmicrohttpd once its WebSocket is up, and with it the
# per-address count: max_conns_per_ip 3 does not hold back a fourth agent
# from the same address, and each serves.
start_tunneld --state-dir "$TMPD/state-e" --max-conns-per-ip 3
agent_pids= agent_urls=
for i in 1 2 3 4; do
	start_client --new "$LOCAL_PORT"
	agent_pids="$agent_pids $CLIENT_PID"
	agent_urls="$agent_urls $PUBLIC_URL"
done
served=0
for u in $agent_urls; do
	fetch agent "${u}status/200"
	[ "$HTTP_STATUS" = 200 ] && served=$((served + 1))
done
is "max_conns_per_ip 3: four agents from one address, each serves" \
    "$served" 4
for p in $agent_pids; do
	stop_pid "$p"
done
stop_pid "$TUNNELD_PID"
is "server E exits 0" "$STOP_STATUS" 0

done_testing
