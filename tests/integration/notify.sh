#!/bin/sh
# systemd's notification protocol without systemd: tunneld sends READY=1
# once it listens, RELOADING=1 and READY=1 around a SIGHUP (also one whose
# configuration is refused), WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on
# SIGTERM; to a socket path and to one in the abstract namespace ('@').

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

# One line per datagram received, its lines joined by spaces.
cat >"$TMPD/notifysock.py" <<'PYEOF'
import socket, sys
path, out, ready = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
open(ready, "w").close()
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536)
        f.write(" ".join(data.decode("utf-8", "replace").split("\n")).strip()
                + "\n")
PYEOF

# listen SOCKET: start the listener; sets NOTIFY_OUT, NOTIFY_PID.
_nlisten=0
listen()
{
	_nlisten=$((_nlisten + 1))
	NOTIFY_OUT=$TMPD/notify.$_nlisten.out
	: >"$NOTIFY_OUT"
	# "localsvc": never under valgrind.
	_spawn localsvc "$TMPD/notifysock.$_nlisten.log" python3 -I -S \
	    "$TMPD/notifysock.py" "$1" "$NOTIFY_OUT" "$TMPD/notify.$_nlisten.ready"
	NOTIFY_PID=$_pid
	wait_for 10 test -f "$TMPD/notify.$_nlisten.ready" ||
	    bail "the notification socket listener did not start"
}

# The datagrams so far, watchdog pings left out, first line of each.
sequence()
{
	grep -v '^WATCHDOG=1' "$NOTIFY_OUT" | cut -d' ' -f1 | tr '\n' ' ' |
	    sed 's/ $//'
}
# shellcheck disable=SC2317
seq_is()
{
	[ "$(sequence)" = "$1" ]
}

# --- a socket path, with a watchdog ---------------------------------------
listen "$TMPD/notify.sock"
NOTIFY_SOCKET=$TMPD/notify.sock
WATCHDOG_USEC=400000
export NOTIFY_SOCKET WATCHDOG_USEC
start_tunneld
unset NOTIFY_SOCKET WATCHDOG_USEC
wait_for 5 seq_is "READY=1"
is "READY=1 once the port file is written" "$(sequence)" "READY=1"
like "READY=1 comes with a STATUS" "$(head -n 1 "$NOTIFY_OUT")" \
    '^READY=1 STATUS=[a-z]'

# The main loop wakes often enough for a watchdog of 0.4 s: about 7 pings
# in 1.5 s (one every 0.2 s); a loop waking once a second would send 2.
sleep 1.5
n=$(grep -c '^WATCHDOG=1$' "$NOTIFY_OUT")
like "WATCHDOG=1 about every WATCHDOG_USEC/2 ($n in 1.5 s)" "$n" \
    '^([4-9]|1[0-2])$'

kill -HUP "$TUNNELD_PID"
wait_for 5 seq_is "READY=1 RELOADING=1 READY=1"
is "SIGHUP: RELOADING=1, then READY=1" "$(sequence)" \
    "READY=1 RELOADING=1 READY=1"
like "RELOADING=1 carries MONOTONIC_USEC" \
    "$(grep '^RELOADING=1' "$NOTIFY_OUT" | head -n 1)" \
    '^RELOADING=1 MONOTONIC_USEC=[0-9]+$'
check "the reload was applied" wait_for 5 grep -q 'reload:' \
    "$TMPD/tunneld.1.log"

# A configuration that does not load: refused, still RELOADING/READY.
printf 'no_such_key = 1\n' >"$TMPD/tunneld.conf"
kill -HUP "$TUNNELD_PID"
wait_for 5 seq_is "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
is "a refused reload: RELOADING=1, then READY=1 again" "$(sequence)" \
    "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
check "a refused reload is logged" wait_for 5 grep -q 'refused' \
    "$TMPD/tunneld.1.log"
check "tunneld keeps running after a refused reload" alive "$TUNNELD_PID"
fetch h1 "$SERVER_URL/health"
is "and keeps serving" "$HTTP_STATUS" 200
rm -f "$TMPD/tunneld.conf"

stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0
wait_for 5 seq_is "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1"
is "SIGTERM: STOPPING=1" "$(sequence)" \
    "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1"
stop_pid "$NOTIFY_PID"

# --- the abstract namespace, no watchdog ---------------------------------
listen "@tunneld-test-$(_rand)"
NOTIFY_SOCKET=$(tr '\0' '\n' <"/proc/$NOTIFY_PID/cmdline" | grep '^@')
export NOTIFY_SOCKET
start_tunneld
unset NOTIFY_SOCKET
wait_for 5 seq_is "READY=1"
is "abstract socket: READY=1" "$(sequence)" "READY=1"
sleep 1
is "no watchdog pings without WATCHDOG_USEC" \
    "$(grep -c '^WATCHDOG=1' "$NOTIFY_OUT")" 0
stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0
wait_for 5 seq_is "READY=1 STOPPING=1"
is "abstract socket: STOPPING=1 on SIGTERM" "$(sequence)" "READY=1 STOPPING=1"


# --- the units, checked by systemd-analyze ---------------------------------
unitin=$top_srcdir/systemd/tunneld.service.in
sbin=$(cd "$(dirname "$TUNNELD")" && pwd)
bin=$(cd "$(dirname "$TUNNEL_CLIENT")" && pwd)
mkdir "$TMPD/units"
sed -e "s|@sbindir@|$sbin|g; s|@bindir@|$bin|g; s|@sysconfdir@|/etc|g" \
    "$unitin" >"$TMPD/units/tunneld.service"
sed -e "s|@bindir@|$bin|g" "$top_srcdir/systemd/tunnel-client@.service.in" \
    >"$TMPD/units/tunnel-client@.service"
unit()
{
	sed -n "s/^$1=//p" "$TMPD/units/tunneld.service" | tr '\n' ' ' |
	    sed 's/ $//'
}
is "tunneld.service: Type=notify" "$(unit Type)" notify
# shellcheck disable=SC2016
is "tunneld.service: ExecReload sends SIGHUP" "$(unit ExecReload)" \
    '/bin/kill -HUP $MAINPID'
is "tunneld.service: WatchdogSec=30" "$(unit WatchdogSec)" 30
is "tunneld.service: ExecStart is tunneld" "$(unit ExecStart)" "$sbin/tunneld -f"
# The user unit runs the instance's [tunnel NAME] section: start %i.
is "tunnel-client@.service: ExecStart runs start %i" \
    "$(sed -n 's/^ExecStart=//p' "$TMPD/units/tunnel-client@.service")" \
    "$bin/tunnel-client --config %h/.config/tunnel-client/config start %i"
is "tunneld.service: the TLS key by LoadCredential" "$(unit LoadCredential)" \
    "tls.key:/etc/tunneld/tls.key"
is "tunneld.service: CAP_NET_BIND_SERVICE only" \
    "$(unit AmbientCapabilities)/$(unit CapabilityBoundingSet)" \
    "CAP_NET_BIND_SERVICE/CAP_NET_BIND_SERVICE"
for kv in DynamicUser=yes StateDirectory=tunneld ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes \
    ProtectKernelTunables=yes ProtectKernelModules=yes RestrictNamespaces=yes \
    LockPersonality=yes MemoryDenyWriteExecute=yes UMask=0077 \
    SystemCallArchitectures=native SystemCallFilter=@system-service \
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
    "Documentation=man:tunneld(8) man:tunneld.conf(5)"; do
	check "tunneld.service: $kv" grep -qx "$kv" "$TMPD/units/tunneld.service"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	check "systemd-analyze verify tunneld.service" \
	    systemd-analyze verify --man=no "$TMPD/units/tunneld.service"
	# A user manager may be out of reach (no XDG_RUNTIME_DIR): then skip.
	mkdir -m 0700 "$TMPD/xdg-runtime"
	if XDG_RUNTIME_DIR=$TMPD/xdg-runtime systemd-analyze --user verify \
	    --man=no "$TMPD/units/tunnel-client@.service" \
	    >"$TMPD/verify-user.out" 2>&1; then
		ok "systemd-analyze --user verify tunnel-client@.service"
	elif grep -q 'Failed to initialize manager' "$TMPD/verify-user.out"; then
		skip "systemd-analyze --user verify tunnel-client@.service" \
		    "no user manager here"
	else
		not_ok "systemd-analyze --user verify tunnel-client@.service"
		diag_file "$TMPD/verify-user.out"
	fi
	if systemd-analyze security --offline=yes \
	    "$TMPD/units/tunneld.service" >"$TMPD/security.out" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
		    "$TMPD/security.out")
		like "systemd-analyze security: exposure 2.0 or better ($score)" \
		    "$score" '^(0\.[0-9]|1\.[0-9]|2\.0)$'
	else
		skip "systemd-analyze security: exposure 2.0 or better" \
		    "systemd-analyze security --offline cannot run here"
	fi
else
	skip "systemd-analyze verify tunneld.service" "systemd is not installed"
	skip "systemd-analyze --user verify tunnel-client@.service" \
	    "systemd is not installed"
	skip "systemd-analyze security: exposure 2.0 or better" \
	    "systemd is not installed"
fi

done_testing
