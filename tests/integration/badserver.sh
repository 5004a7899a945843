#!/bin/sh
# A server that answers the WebSocket badly (tests/integration/mockserver.py):
# a line that is not HTTP, a wrong Sec-WebSocket-Accept, a 503 with its JSON
# error, a text frame, a masked frame, a frame of 2^40 bytes, a message that
# is not the protocol's, a CLOSE, a WINDOW before HELLO.  Each time
# tunnel-client says what was wrong, keeps running and tries again; once the
# server behaves, it is connected.  And a server that stops reading while
# the client has more to send than the socket holds, and one that sends an
# OPEN in the same write as control messages.  And, once HELLO has
# been in for a while (the forwarding thread reads the connection then), a
# GOAWAY, a PING, a text frame, a CLOSE, a message that is not the
# protocol's.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ -x "$TUNNEL_CLIENT" ] || skip_all "$TUNNEL_CLIENT is not built"

_spawn localsvc "$TMPD/mock.log" python3 \
    "$top_srcdir/tests/integration/mockserver.py" \
    --port-file "$TMPD/mock.port" --log "$TMPD/conns.log" \
    --blackhole-file "$TMPD/blackhole.port" \
    --groups "g1=garbage,badaccept,status503;g2=text,masked,huge;g3=badmsg,close,nohello;g4=stall,smallwin,lateopen,overbody;g7=shortbody,headbody,nobodycl,tcponhttp,early;g5=late,lateclose,latebad,lateeven;g6=pingflood,flood;r1=refused"
wait_for 10 test -s "$TMPD/mock.port" || bail "mockserver did not start"
MOCK_URL=http://127.0.0.1:$(cat "$TMPD/mock.port")
start_localsvc --verbose

pids=
for g in g1 g2 g3 g5; do
	_spawn client "$TMPD/$g.log" "$TUNNEL_CLIENT" --server "$MOCK_URL" \
	    --api-key "$KEY" --subdomain "$g" --no-inspect 1
	pids="$pids $_pid"
done
# r1 and r2 on one connection: r2's saved token is refused on the live
# connection, and making r2 again takes the mock 4 s; meanwhile the
# connection must go on being served.
cat >"$TMPD/r.conf" <<EOC
server = $MOCK_URL
api_key = $KEY

[tunnel r1]
port = $LOCAL_PORT
subdomain = r1

[tunnel r2]
port = $LOCAL_PORT
subdomain = r2
EOC
_spawn client "$TMPD/r.log" "$TUNNEL_CLIENT" --config "$TMPD/r.conf" \
    --no-inspect
rpid=$_pid
# g4 serves the local test service: the mock asks it for 48 MiB (more than
# a loopback socket holds) within one window, and reads nothing for 2 s;
# then, on the next connection, for 8 MiB with the smallest window the
# protocol allows (64 KiB, less than curl's buffer), credit coming as the
# bytes do; then, on the third, for 300000 bytes in the same write as an
# ATTACHED and a DETACH the client has to hand to its WebSocket thread;
# then, on the fourth, sends a POST with more body than its Content-Length.
_spawn client "$TMPD/g4.log" "$TUNNEL_CLIENT" --server "$MOCK_URL" \
    --api-key "$KEY" --subdomain g4 --no-inspect "$LOCAL_PORT"
pids="$pids $_pid"
# g7 serves it too: requests with bodies that do not match their heads,
# and one whose body the local service does not read.
_spawn client "$TMPD/g7.log" "$TUNNEL_CLIENT" --server "$MOCK_URL" \
    --api-key "$KEY" --subdomain g7 --no-inspect "$LOCAL_PORT"
pids="$pids $_pid"
# g6 serves a port that takes connections and never answers: the mock
# sends PINGs without reading the PONGs, then more OPENs than the client
# keeps open at once.
_spawn client "$TMPD/g6.log" "$TUNNEL_CLIENT" --server "$MOCK_URL" \
    --api-key "$KEY" --subdomain g6 --no-inspect "$(cat "$TMPD/blackhole.port")"
g6pid=$_pid

# shellcheck disable=SC2317
all_up()
{
	for _g in g1 g2 g3; do
		grep -q 'Forwarding:' "$TMPD/$_g.log" || return 1
	done
	grep -q '^g5 [0-9]* good$' "$TMPD/conns.log" &&
	    grep -q 'Reconnected:' "$TMPD/g5.log"
}
check "each client is connected once the server behaves" \
    wait_for $((30 * SLOW)) all_up
diag_file "$TMPD/conns.log"

said()
{
	# $1: group, $2: what it got, $3: what the client says (ERE)
	check "$2: the client says so" grep -Eq -- "$3" "$TMPD/$1.log"
	check "$2: the server saw it tried" grep -q "^$1 [0-9]* $2\$" \
	    "$TMPD/conns.log"
}
said g1 garbage 'cannot connect to .*: not an HTTP answer to the WebSocket handshake'
said g1 badaccept 'cannot connect to .*: a bad WebSocket handshake from the server'
said g1 status503 'the server answered 503: mock overloaded'
said g2 text 'the server sent a text message'
said g2 masked 'bad WebSocket frame from the server'
said g2 huge 'bad WebSocket frame from the server: .*(too|big|large)'
said g3 badmsg 'bad message from the server'
said g3 close 'cannot connect to .*: closed by the server'
said g3 nohello 'the server sent WINDOW before HELLO'
check "stall: the mock read the whole answer" \
    wait_for $((60 * SLOW)) grep -q '^g4 [0-9]* stalled ' "$TMPD/conns.log"
want=$(tcurl "$LOCAL_URL/bytes?n=50331648&seed=stall" | sha256)
is "stall: every byte came once the server read again, in order" \
    "$(sed -n 's/^g4 [0-9]* stalled //p' "$TMPD/conns.log")" "$want 50331648"
check "smallwin: the mock read the whole answer" \
    wait_for $((60 * SLOW)) grep -q '^g4 [0-9]* smallwin-got ' "$TMPD/conns.log"
want=$(tcurl "$LOCAL_URL/bytes?n=8388608&seed=smallwin" | sha256)
is "smallwin: 8 MiB within a 64 KiB window, exact" \
    "$(sed -n 's/^g4 [0-9]* smallwin-got //p' "$TMPD/conns.log")" "$want 8388608"
check "lateopen: the mock read the whole answer" \
    wait_for $((30 * SLOW)) grep -q '^g4 [0-9]* lateopen-got ' "$TMPD/conns.log"
want=$(tcurl "$LOCAL_URL/bytes?n=300000&seed=lateopen" | sha256)
is "lateopen: the OPEN after an ATTACHED and a DETACH is answered, exact" \
    "$(sed -n 's/^g4 [0-9]* lateopen-got //p' "$TMPD/conns.log")" "$want 300000"
check "lateopen: the client says it did not ask for tunnel ghost" grep -q \
    'the server attached tunnel ghost, not asked for' "$TMPD/g4.log"
check "overbody: the mock read the answer" \
    wait_for $((30 * SLOW)) grep -q '^g4 [0-9]* overbody-got ' "$TMPD/conns.log"
like "overbody: the client resets the stream" \
    "$(sed -n 's/^g4 [0-9]* overbody-got //p' "$TMPD/conns.log")" ' reset$'
check "overbody: the bytes past it never reached the local service" \
    lacks "$TMPD/localsvc.log" /smuggled
got()	# got SCENARIO: what the mock logged of its answer
{
	wait_for $((30 * SLOW)) grep -q "^g7 [0-9]* $1-got " "$TMPD/conns.log"
	sed -n "s/^g7 [0-9]* $1-got //p" "$TMPD/conns.log"
}
like "shortbody: a body shorter than its Content-Length: the client resets" \
    "$(got shortbody)" ' reset$'
is "headbody: a HEAD with a body: answered, no body" "$(got headbody)" "200 "
check "headbody: the local service saw a HEAD (not a PUT)" grep -q \
    '"HEAD /echo?tag=headbody' "$TMPD/localsvc.log"
like "nobodycl: a Content-Length and no body: the service reads none" \
    "$(got nobodycl)" '^200 .*"len": *0,'
is "tcponhttp: a TCP stream on an HTTP tunnel is reset" "$(got tcponhttp)" \
    "-  reset"
check "tcponhttp: no request of it reached the local service" \
    lacks "$TMPD/localsvc.log" '"TCP /'
check "tcponhttp: nor its bytes" lacks "$TMPD/localsvc.log" /tcponhttp
is "early: a body the service never read is all credited back" \
    "$(got early)" "413 2097152"

said g5 late 'the server is going away \(mock going away\)'
check "late: the PING after a GOAWAY is answered" \
    grep -q '^g5 [0-9]* pong late-ping$' "$TMPD/conns.log"
check "late: a text frame: the client says so" grep -q \
    'lost the connection to the server (a text message from the server)' \
    "$TMPD/g5.log"
closed_with()
{
	# $1: scenario, $2: the CLOSE code due
	_n=$(awk -v s="$1" '$1 == "g5" && $3 == s && NF == 3 { print $2 }' \
	    "$TMPD/conns.log")
	is "$1: the client closes with $2" "$(awk -v n="$_n" \
	    '$1 == "g5" && $2 == n && $3 == "closecode" { print $4 }' \
	    "$TMPD/conns.log")" "$2"
}
closed_with late 1003
said g5 lateclose 'lost the connection to the server \(closed by the server\)'
closed_with lateclose 1000
said g5 latebad 'lost the connection to the server \(a bad message from the server\)'
closed_with latebad 1002
said g5 lateeven 'lost the connection to the server \(a bad message from the server\)'
closed_with lateeven 1002

check "refused: the mock is done" wait_for $((30 * SLOW)) \
    grep -q '^r1 [0-9]* refused-got ' "$TMPD/conns.log"
r=$(sed -n 's/^r1 [0-9]* refused-got //p' "$TMPD/conns.log")
like "refused: the tunnel is made again, and attached with its new token" \
    "$r" ' attach tok-r2-2$'
check "refused: the connection is served while it is made (PING: ${r%% attach*})" \
    test "$(echo "$r" | awk '{ print $2 }')" -lt $((1500 * SLOW))
check "refused: the client says so" grep -q \
    'the server refused tunnel r2 (mock refused); creating it again' \
    "$TMPD/r.log"
check "refused: and serves r2 again" wait_for $((10 * SLOW)) \
    grep -q '\[r2\] Forwarding: ' "$TMPD/r.log"
check "tunnel-client r1+r2 kept running" alive "$rpid"
stop_pid "$rpid"
is "tunnel-client r1+r2 exits 0" "$STOP_STATUS" 0

check "pingflood: the mock is done" wait_for $((60 * SLOW)) \
    grep -q '^g6 [0-9]* pingflood ' "$TMPD/conns.log"
like "pingflood: the client leaves a server that does not read" \
    "$(sed -n 's/^g6 [0-9]* pingflood //p' "$TMPD/conns.log")" '^closed '
check "pingflood: the client says why" grep -q \
    'the server does not read what it asks for' "$TMPD/g6.log"
check "flood: the mock is done" wait_for $((60 * SLOW)) \
    grep -q '^g6 [0-9]* flood-refused ' "$TMPD/conns.log"
is "flood: the OPENs past 1024 at once are refused" \
    "$(sed -n 's/^g6 [0-9]* flood-refused //p' "$TMPD/conns.log")" 76
check "tunnel-client g6 kept running" alive "$g6pid"
stop_pid "$g6pid"

# (The good one is held open but does not answer PINGs, so the client
# leaves it after a while and comes back: more lines may follow it.)
for g in g1:4 g2:4 g3:4 g5:5; do
	is "${g%:*}: connection ${g#*:} is the good one" \
	    "$(grep "^${g%:*} [0-9]* " "$TMPD/conns.log" | grep -Ev ' (closed|pong .*|closecode [0-9]+)$' | sed -n "${g#*:}s/^[^ ]* [0-9]* //p")" good
done

for p in $pids; do
	check "tunnel-client $p kept running" alive "$p"
	stop_pid "$p"
	is "tunnel-client $p exits 0" "$STOP_STATUS" 0
done

done_testing
