#!/bin/sh
# A dead link is noticed.  With tunneld frozen (SIGSTOP: the TCP connection
# stays up, but nothing answers, not even a pong), tunnel-client pings, gives
# the link up within 30 s, and once tunneld runs again it is back and serves.
# And a connect that gets no answer at all is given up after
# --connect-timeout.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

# shellcheck disable=SC2317
serves()
{
	_code=$(tcurl -o /dev/null -w '%{http_code}' --max-time $((2 * SLOW)) \
	    "$PUBLIC_URL"status/200 2>/dev/null)
	[ "$_code" = 200 ]
}

# shellcheck disable=SC2317
lost()
{
	grep -q 'lost the connection to the server' "$CLIENT_LOG"
}

start_localsvc
start_tunneld
start_client "$LOCAL_PORT"
check "serves at first" serves
check "no lost link before the freeze" lacks "$CLIENT_LOG" "lost the connection"

kill -STOP "$TUNNELD_PID"
t0=$(date +%s)
wait_for 40 lost
t1=$(date +%s)
kill -CONT "$TUNNELD_PID"
diag "link given up $((t1 - t0)) s after the freeze"
check "the client gives the link up" lost
check "within 30 s ($((t1 - t0)) s)" [ $((t1 - t0)) -le 30 ]
check "and says why" grep -q 'lost the connection to the server (no answer from the server)' \
    "$CLIENT_LOG"
check "tunnel-client keeps running" alive "$CLIENT_PID"
check "it is back and serves within 20 s" wait_for $((20 * SLOW)) serves

stop_pid "$CLIENT_PID"
is "tunnel-client exits 0" "$STOP_STATUS" 0
stop_pid "$TUNNELD_PID"
is "tunneld exits 0" "$STOP_STATUS" 0

# --connect-timeout holds for the TCP connect too.  tunneld's port now has
# a listener that never accepts, its backlog full, so a SYN gets no answer;
# the client, started again, takes its saved tunnel (no API call) and gives
# the attempt up after 2 s (lws's own limit let it wait 5 s here).
cat >"$TMPD/blackhole.py" <<'PYEOF2'
import socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(0)
held = []
for _ in range(4):              # fill the accept queue
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", int(sys.argv[1])))
    held.append(c)
open(sys.argv[2], "w").write("ready\n")
time.sleep(120)
PYEOF2
rm -f "$TMPD/blackhole.ready"
_spawn localsvc "$TMPD/blackhole.log" python3 "$TMPD/blackhole.py" \
    "$TUNNELD_PORT" "$TMPD/blackhole.ready"
wait_for 10 test -s "$TMPD/blackhole.ready" || bail "blackhole did not start"
_spawn client "$TMPD/cto.log" "$TUNNEL_CLIENT" --server "$SERVER_URL" \
    --api-key "$KEY" --connect-timeout 2 -v "$LOCAL_PORT"
cto_pid=$_pid
wait_for $((15 * SLOW)) grep -q 'cannot connect to' "$TMPD/cto.log"
check "a connect with no answer is given up" grep -q 'cannot connect to' \
    "$TMPD/cto.log"
# From the attempt to giving it up, by the client's own time stamps.
took=$(python3 - "$TMPD/cto.log" <<'PYEOF2'
import re, sys, datetime
t = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ", line)
    for key in ("connecting to", "cannot connect to"):
        if m and key in line and key not in t:
            t[key] = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
d = t.get("cannot connect to", 0) and t["cannot connect to"] - t["connecting to"]
print("%.1f" % d.total_seconds() if d else "none")
PYEOF2
)
diag "connect attempt given up after $took s"
check "after --connect-timeout 2 ($took s)" \
    python3 -c "import sys; sys.exit(not (1.5 <= float('$took') <= 2.5 + $SLOW))"
stop_pid "$cto_pid"
is "that tunnel-client exits 0" "$STOP_STATUS" 0

done_testing
