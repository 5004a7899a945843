#!/bin/sh
# max_conns_per_ip counts an IPv6 caller by its /64 (a subscriber has one
# to pick addresses from), over plain HTTP and TLS.  In a network
# namespace of its own, with addresses of two /64s on lo, and
# max_conns_per_ip 2: idle connections from 2001:db8:7::1 and ::2 are
# held, one more from ::3 (the same /64) is closed at once, and one from
# 2001:db8:8::1 is held too.

if [ -z "${TUNNEL_NETNS:-}" ]; then
	TUNNEL_NETNS=none
	export TUNNEL_NETNS
	if command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
	    unshare -n true 2>/dev/null; then
		TUNNEL_NETNS=1
		exec unshare -n sh "$0" "$@"
	fi
fi

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$TUNNEL_NETNS" = 1 ] ||
    skip_all "needs a network namespace of its own (unshare -n, ip)"
ip link set lo up || bail "ip link set lo up failed"
for a in 2001:db8:7::1 2001:db8:7::2 2001:db8:7::3 2001:db8:7::100 \
    2001:db8:8::1; do
	ip -6 addr add "$a/128" dev lo nodad || bail "cannot add $a to lo"
done

cat >"$TMPD/conns.py" <<'PYEOF'
import socket, sys, time
host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
for src in sys.argv[4:]:
    s = socket.socket(socket.AF_INET6)
    s.bind((src, 0))
    s.connect((host, port))
    socks.append((src, s))
    time.sleep(0.2)             # each one in before the next
time.sleep(wait)
out = []
for src, s in socks:
    s.setblocking(False)
    try:
        st = "closed" if s.recv(1) == b"" else "data"
    except BlockingIOError:
        st = "open"
    except OSError:
        st = "closed"
    out.append("%s=%s" % (src, st))
print(" ".join(out))
PYEOF

conns()	# conns WHAT: the four connections against $TUNNELD_PORT
{
	is "$1: a third from the same /64 is closed, another /64 is held" \
	    "$(python3 "$TMPD/conns.py" 2001:db8:7::100 "$TUNNELD_PORT" \
	    "$SLOW" 2001:db8:7::1 2001:db8:7::2 2001:db8:7::3 2001:db8:8::1)" \
	    "2001:db8:7::1=open 2001:db8:7::2=open 2001:db8:7::3=closed 2001:db8:8::1=open"
	check "$1: tunneld runs on" alive "$TUNNELD_PID"
	stop_pid "$TUNNELD_PID"
	is "$1: tunneld exits 0" "$STOP_STATUS" 0
}

start_tunneld --listen '[2001:db8:7::100]:0' --max-conns-per-ip 2
SERVER_URL=http://[2001:db8:7::100]:$TUNNELD_PORT
is "plain: /health over IPv6" "$(tcurl -o /dev/null -w '%{http_code}' \
    "$SERVER_URL/health")" 200
conns plain

if command -v certtool >/dev/null 2>&1; then
	mkca c64
	start_tunneld --listen '[2001:db8:7::100]:0' --max-conns-per-ip 2 \
	    --tls-cert "$TMPD/c64.pem" --tls-key "$TMPD/c64-key.pem"
	is "tls: /health over IPv6" "$(tcurl --cacert "$TMPD/c64-ca.pem" \
	    --resolve "localhost:$TUNNELD_PORT:2001:db8:7::100" \
	    -o /dev/null -w '%{http_code}' \
	    "https://localhost:$TUNNELD_PORT/health")" 200
	conns tls
else
	skip "tls: the same" "certtool (gnutls-bin) is not installed"
fi

done_testing
