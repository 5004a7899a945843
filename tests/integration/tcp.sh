#!/bin/sh
# TCP tunnels: tunnel-client --tcp PORT gets a public port from tcp_ports;
# every connection to it reaches the local port.  A local echo server
# (tcpecho.py) checks bytes exact both ways with half-close kept, 256 MiB
# in one connection, 50 connections at once; then a real ssh session to a
# local sshd and a real psql session to a local PostgreSQL, both started
# here on loopback (each skipped with a message where not installed).

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

TCPECHO=$top_srcdir/tests/integration/tcpecho.py

# 256 MiB in the plain build; less where everything runs 10-50x slower.
BIG=268435456
if [ -n "${TUNNEL_VALGRIND:-}" ] || [ -n "${TUNNEL_SANITIZERS:-}" ]; then
	BIG=33554432
fi

rm -f "$TMPD/tcpecho.port"
_spawn localsvc "$TMPD/tcpecho.log" python3 -u "$TCPECHO" \
    --port-file "$TMPD/tcpecho.port"
ECHO_PID=$_pid
wait_for 10 test -s "$TMPD/tcpecho.port" || bail "tcpecho.py did not start"
ECHO_PORT=$(cat "$TMPD/tcpecho.port")

# A range of 20 ports somewhere in 21000-32599, below the kernel's
# ephemeral ports (32768 on), which other connections may hold.
LO=$((21000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 580 * 20))
HI=$((LO + 19))
# At debug level tunneld names each connection's stream and caller port,
# so a failed connection can be followed through both logs (tcp_diag).
start_tunneld --tcp-ports "$LO-$HI" --api-key "other:$KEY2" \
    --log-level debug

# tcp_client NAME ARGS...: a TCP tunnel client; sets TCP_ADDR (host:port),
# TCP_PID, TCP_LOG.
tcp_client()
{
	TCP_LOG=$TMPD/tcpclient.$1.log
	shift
	_spawn client "$TCP_LOG" "$TUNNEL_CLIENT" --server "$SERVER_URL" \
	    --api-key "$KEY" "$@"
	TCP_PID=$_pid
	wait_for $((15 * SLOW)) grep -q 'Forwarding:' "$TCP_LOG" ||
	    { diag_file "$TCP_LOG"; bail "the TCP client did not come up"; }
	TCP_ADDR=$(sed -n 's|.*Public address: tcp://\([^ ]*\).*|\1|p' \
	    "$TCP_LOG" | tail -n 1)
}

# tcp_diag: for each connection tcpecho.py reports failed (by its port, at
# most 5), its stream's lines in the tunneld and tunnel-client logs.
tcp_diag()
{
	sed -n 's/^failed: port \([0-9]*\): .*/\1/p' "$TMPD/echoc.out" |
	    head -n 5 >"$TMPD/failed.ports"
	while read -r _port; do
		diag "$(grep "^failed: port $_port: " "$TMPD/echoc.out")"
		_id=$(sed -n "s/.*: stream \([0-9]*\): TCP .* port $_port\$/\1/p" \
		    "$TMPD"/tunneld.*.log | tail -n 1)
		[ -n "$_id" ] || continue
		grep -hE "stream $_id([: ]|\$)" "$TMPD"/tunneld.*.log "$ONE_LOG" |
		    grep -v -e '<- DATA' -e '<- WINDOW' | head -n 20 |
		    sed 's/^/#   /'
	done <"$TMPD/failed.ports"
}

# -v: the client logs each stream's messages (tcp_diag shows them).
tcp_client one --tcp "$ECHO_PORT" -v
ONE_LOG=$TCP_LOG
ONE_PID=$TCP_PID
like "the client prints Public address: tcp://HOST:PORT" \
    "$(grep 'Public address:' "$TCP_LOG")" \
    "^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] Public address: tcp://127\.0\.0\.1:[0-9]+$"
PUB_PORT=${TCP_ADDR##*:}
check "the public port is in tcp_ports ($LO-$HI)" \
    test "$PUB_PORT" -ge "$LO" -a "$PUB_PORT" -le "$HI"
like "Forwarding shows the local TCP address" \
    "$(grep 'Forwarding:' "$TCP_LOG")" \
    "Forwarding: tcp://127\.0\.0\.1:$PUB_PORT -> tcp://localhost:$ECHO_PORT$"

echoc()
{
	python3 "$TCPECHO" --client "$TCP_ADDR" "$@" >"$TMPD/echoc.out" 2>&1
	ECHOC_OUT=$(tail -n 1 "$TMPD/echoc.out")
}

echoc greet
is "the local service's first bytes reach the caller" "$ECHOC_OUT" \
    "greet: b'hello from the local service\\n'"

echoc echo 1000
like "1000 bytes echoed exact; half-close passes both ways" "$ECHOC_OUT" \
    "^echo: 1000 bytes back exact, EOF seen"

echoc echo "$BIG"
like "$BIG bytes echoed exact through the tunnel" "$ECHOC_OUT" \
    "^echo: $BIG bytes back exact, EOF seen"
diag "$ECHOC_OUT"

echoc parallel 50 1048576
WANT_PAR="parallel: 50 connections, 1048576 bytes each, all exact"
is "50 connections at once, 1 MiB each, all exact" "$ECHOC_OUT" "$WANT_PAR"
[ "$ECHOC_OUT" = "$WANT_PAR" ] || tcp_diag

check "the client logs each connection: TCP, caller, 200, duration" \
    grep -Eq '\] TCP 127\.0\.0\.1 200 [0-9]+ms$' "$TCP_LOG"

# The API shows the tunnel as tcp with its address.
tcurl -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels" >"$TMPD/list.json"
is "the API lists the tunnel as type tcp" \
    "$(ht json "$TMPD/list.json" tunnels.0.type)" "tcp"
is "the API gives its tcp:// address" \
    "$(ht json "$TMPD/list.json" tunnels.0.url)" "tcp://127.0.0.1:$PUB_PORT"
TCP_ID=$(ht json "$TMPD/list.json" tunnels.0.tunnel_id)

# The tunnel id is not an HTTP tunnel.
is "the TCP tunnel's id over HTTP: 404" \
    "$(tcurl -o /dev/null -w '%{http_code}' "$SERVER_URL/$TCP_ID/")" "404"

# A given remote port, and another key cannot take it.
WANT=$((HI - 1))
[ "$WANT" = "$PUB_PORT" ] && WANT=$((HI - 2))
tcp_client two --tcp "$ECHO_PORT" --remote-port "$WANT" --new
is "--remote-port gives that port" "$TCP_ADDR" "127.0.0.1:$WANT"
echoc greet
is "the requested port carries to the local service" "$ECHOC_OUT" \
    "greet: b'hello from the local service\\n'"
is "another key asking for that port: 409" "$(tcurl -o "$TMPD/e.json" \
    -w '%{http_code}' -H "X-API-Key: $KEY2" -d \
    "{\"type\":\"tcp\",\"remote_port\":$WANT}" \
    "$SERVER_URL/api/tunnels")" "409"
is "a port outside tcp_ports: 400" "$(tcurl -o "$TMPD/e.json" \
    -w '%{http_code}' -H "X-API-Key: $KEY" -d \
    "{\"type\":\"tcp\",\"remote_port\":$((HI + 1))}" \
    "$SERVER_URL/api/tunnels")" "400"
is "remote_port on an http tunnel: 400" "$(tcurl -o "$TMPD/e.json" \
    -w '%{http_code}' -H "X-API-Key: $KEY" -d \
    '{"type":"http","remote_port":22}' "$SERVER_URL/api/tunnels")" "400"
stop_pid "$TCP_PID"

# The local service down: the caller's connection is closed, the client
# keeps running and serves again once it is back.
TCP_ADDR=127.0.0.1:$PUB_PORT
stop_pid "$ECHO_PID"
echoc closed
like "local service down: the caller's connection just closes" \
    "$ECHOC_OUT" "^closed: (EOF|reset)$"
check "the client is still running" alive "$ONE_PID"

# --- a real ssh session ---------------------------------------------------
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
if [ -x "$SSHD" ] && command -v ssh >/dev/null 2>&1 &&
    command -v ssh-keygen >/dev/null 2>&1; then
	mkdir -p "$TMPD/ssh" /run/sshd 2>/dev/null
	chmod 700 "$TMPD/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$TMPD/ssh/host" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$TMPD/ssh/user" </dev/null
	cp "$TMPD/ssh/user.pub" "$TMPD/ssh/authorized_keys"
	# A free port, tried again should another process take it first.
	for _try in 1 2 3; do
		SSH_PORT=$(free_port)
		cat >"$TMPD/ssh/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $TMPD/ssh/host
AuthorizedKeysFile $TMPD/ssh/authorized_keys
PidFile $TMPD/ssh/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
EOF
		_spawn localsvc "$TMPD/sshd.log" "$SSHD" -D -e \
		    -f "$TMPD/ssh/sshd_config"
		SSHD_PID=$_pid
		wait_for 10 sh -c "grep -q 'Server listening' '$TMPD/sshd.log' ||
		    ! kill -0 $SSHD_PID 2>/dev/null" || true
		grep -q 'Server listening' "$TMPD/sshd.log" && break
		diag_file "$TMPD/sshd.log"
		stop_pid "$SSHD_PID"
	done
	tcp_client ssh --tcp "$SSH_PORT" --new
	SSH_PUB=${TCP_ADDR##*:}
	ssh -p "$SSH_PUB" -i "$TMPD/ssh/user" -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR -o ConnectTimeout=20 "$(id -un)@127.0.0.1" \
	    'echo ssh-through-the-tunnel; head -c 1048576 /dev/zero | sha256sum' \
	    >"$TMPD/ssh.out" 2>&1
	is "a real ssh session through the TCP tunnel runs a command" \
	    "$(head -n 1 "$TMPD/ssh.out")" "ssh-through-the-tunnel"
	is "and streams its output back" "$(sed -n 2p "$TMPD/ssh.out")" \
	    "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58  -"
	stop_pid "$TCP_PID"
	stop_pid "$SSHD_PID"
else
	skip "ssh session" "sshd or ssh not installed"
	skip "ssh output" "sshd or ssh not installed"
fi

# --- a real psql session --------------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] &&
    command -v psql >/dev/null 2>&1 && id postgres >/dev/null 2>&1 &&
    command -v runuser >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	PGDIR=$TMPD/pg
	chmod o+x "$TMPD"	# postgres runs as its own user
	mkdir -p "$PGDIR"
	chown postgres "$PGDIR"
	chmod 700 "$PGDIR"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust \
	    -U postgres >"$TMPD/initdb.log" 2>&1 ||
	    diag_file "$TMPD/initdb.log"
	# A free port, tried again should another process take it first.
	for _try in 1 2 3; do
		PG_PORT=$(free_port)
		_spawn localsvc "$TMPD/postgres.$_try.log" runuser -u postgres \
		    -- "$PGBIN/postgres" -D "$PGDIR/data" -k "$PGDIR" \
		    -p "$PG_PORT" -c listen_addresses=127.0.0.1
		PG_PID=$_pid
		wait_for 20 sh -c "grep -q 'ready to accept connections' \
		    '$TMPD/postgres.$_try.log' || ! kill -0 $PG_PID 2>/dev/null" ||
		    true
		grep -q 'ready to accept connections' \
		    "$TMPD/postgres.$_try.log" && break
		diag_file "$TMPD/postgres.$_try.log"
		stop_pid "$PG_PID"
	done
	tcp_client psql --tcp "$PG_PORT" --new
	PG_PUB=${TCP_ADDR##*:}
	PGCONNECT_TIMEOUT=20 psql -h 127.0.0.1 -p "$PG_PUB" -U postgres -At \
	    -c "create table t (n int); insert into t select generate_series(1, 100000); select count(*), sum(n) from t;" \
	    postgres >"$TMPD/psql.out" 2>&1
	is "a real psql session through the TCP tunnel" \
	    "$(tail -n 1 "$TMPD/psql.out")" "100000|5000050000"
	stop_pid "$TCP_PID"
	kill -INT "$PG_PID" 2>/dev/null
else
	skip "psql session" "PostgreSQL server, psql or root not available"
fi

# Deleting the tunnel closes its port.
stop_pid "$ONE_PID"
tcurl -X DELETE -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/$TCP_ID" \
    >/dev/null
TCP_ADDR=127.0.0.1:$PUB_PORT
echoc closed
is "a deleted TCP tunnel's port is closed" "$ECHOC_OUT" "closed: refused"

done_testing
