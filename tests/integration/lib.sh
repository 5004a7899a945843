# shellcheck shell=sh disable=SC2034
#
# Common code for the integration tests, sourced by each tests/integration/*.sh.
#
# The tests start the real tunneld and tunnel-client on 127.0.0.1 (port 0,
# the daemon writes its port to a file) in a private temporary directory,
# with curl as the public client and localsvc.py as the local service.
# Output is TAP; the plan comes last (done_testing).  A test that cannot
# run prints "1..0 # SKIP reason"; a broken environment bails out and
# exits 99.
#
# Environment:
#   top_builddir, top_srcdir  set by make check (default: relative to $0)
#   TUNNEL_VALGRIND=1         run tunneld and tunnel-client under valgrind
#   TUNNEL_SANITIZERS=1       the binaries are built with ASan (no RSS checks)
#   TUNNEL_TEST_KEEP=1        keep the temporary directory
#   TUNNEL_TEST_TIMEOUT=S     whole-test watchdog (default 300, 900 under
#                             valgrind)

set -u

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
if [ -z "${top_builddir:-}" ]; then
	top_builddir=$top_srcdir
fi
TUNNELD=$top_builddir/src/tunneld
TUNNEL_CLIENT=$top_builddir/client/tunnel-client
LOCALSVC=$top_srcdir/tests/integration/localsvc.py

# Nothing from the caller's environment may steer the programs under test.
for _v in $(env | sed -n 's/^\(TUNNELD_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$_v"
done
unset TUNNEL_SERVER TUNNEL_API_KEY http_proxy HTTP_PROXY https_proxy \
    HTTPS_PROXY all_proxy ALL_PROXY CURL_HOME
no_proxy='*'
NO_PROXY='*'
export no_proxy NO_PROXY
LC_ALL=C
export LC_ALL

_tap_n=0
_tap_failed=0
_tap_done=0
_procs=""		# "pid:kind:vglog" for each running process we started
_vglogs=""		# valgrind logs of processes stopped with SIGTERM
_watchdog=""
_nclients=0
TMPD=""

if [ -n "${TUNNEL_VALGRIND:-}" ]; then
	SLOW=3
	CURL_MAX_TIME=${CURL_MAX_TIME:-120}
else
	SLOW=1
	CURL_MAX_TIME=${CURL_MAX_TIME:-60}
fi

# --- TAP ------------------------------------------------------------------

diag()
{
	printf '%s\n' "$@" | sed 's/^/# /'
}

# Print a file (or its last $2 lines) as diagnostics.
diag_file()
{
	[ -f "$1" ] || return 0
	printf '# --- %s\n' "${1#"$TMPD"/}"
	tail -n "${2:-30}" "$1" | tr -c '\n -~' '?' | sed 's/^/#   /'
}

ok()
{
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$1"
}

not_ok()
{
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$1"
}

skip()
{
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$1" "$2"
}

# check "description" command [args...]: ok when the command exits 0.
check()
{
	_c_desc=$1
	shift
	if "$@" >"$TMPD/check.out" 2>&1; then
		ok "$_c_desc"
	else
		_c_rc=$?
		not_ok "$_c_desc"
		diag "command failed (exit $_c_rc): $*"
		diag_file "$TMPD/check.out" 20
	fi
}

# is "description" got expected
is()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "     got: '$2'" "expected: '$3'"
	fi
}

# like "description" got extended-regex
like()
{
	if printf '%s\n' "$2" | grep -Eq -- "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "     got: '$2'" "expected to match: /$3/"
	fi
}

skip_all()
{
	printf '1..0 # SKIP %s\n' "$1"
	_tap_done=1
	exit 0
}

bail()
{
	printf 'Bail out! %s\n' "$1"
	_tap_done=1
	_dump_logs
	exit 99
}

done_testing()
{
	_stop_all_graceful
	_check_valgrind
	_check_sanitizers
	if [ "$_tap_failed" -gt 0 ]; then
		diag "$_tap_failed of $_tap_n failed"
		_dump_logs
	fi
	printf '1..%d\n' "$_tap_n"
	_tap_done=1
	exit 0
}

_dump_logs()
{
	[ -n "$TMPD" ] && [ -d "$TMPD" ] || return 0
	for _f in "$TMPD"/localsvc.log "$TMPD"/tunneld.*.log "$TMPD"/client.*.log; do
		diag_file "$_f" 40
	done
}

# --- temporary directory, traps, watchdog ---------------------------------

_cleanup()
{
	_cl_rc=$?
	trap - EXIT HUP INT TERM
	for _p in $_procs; do
		_pid=${_p%%:*}
		kill -KILL "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
	done
	_procs=""
	if [ -n "$_watchdog" ]; then
		kill -TERM "$_watchdog" 2>/dev/null
		wait "$_watchdog" 2>/dev/null
	fi
	if [ "$_tap_done" = 0 ]; then
		# Died in the middle (set -u, a typo, a signal): make it an error.
		printf 'Bail out! the test script stopped early (status %d)\n' "$_cl_rc"
		_cl_rc=99
	fi
	if [ -n "$TMPD" ] && [ -z "${TUNNEL_TEST_KEEP:-}" ]; then
		rm -rf "$TMPD"
	elif [ -n "$TMPD" ]; then
		printf '# kept %s\n' "$TMPD"
	fi
	exit "$_cl_rc"
}

_on_signal()
{
	bail "killed by a signal or the $_timeout s watchdog"
}

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/tunnel-test.XXXXXXXX") ||
    { printf 'Bail out! mktemp failed\n'; exit 99; }
trap _cleanup EXIT
trap _on_signal HUP INT TERM

_timeout=${TUNNEL_TEST_TIMEOUT:-$((300 * SLOW))}
(
	trap 'kill "$_sp" 2>/dev/null; exit 0' TERM
	sleep "$_timeout" &
	_sp=$!
	wait "$_sp"
	kill -TERM $$ 2>/dev/null
) &
_watchdog=$!

mkdir "$TMPD/home" "$TMPD/xdg-config" "$TMPD/xdg-state" "$TMPD/xdg-cache" \
    "$TMPD/state"
HOME=$TMPD/home
XDG_CONFIG_HOME=$TMPD/xdg-config
XDG_STATE_HOME=$TMPD/xdg-state
XDG_CACHE_HOME=$TMPD/xdg-cache
export HOME XDG_CONFIG_HOME XDG_STATE_HOME XDG_CACHE_HOME

_rand()
{
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n'
}
KEY=tests-$(_rand)
KEY2=other-$(_rand)
ADMIN_KEY=admin-$(_rand)

command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
if [ -n "${TUNNEL_VALGRIND:-}" ]; then
	command -v valgrind >/dev/null 2>&1 ||
	    skip_all "TUNNEL_VALGRIND is set but valgrind is not installed"
fi

# --- helpers --------------------------------------------------------------

# curl with bounded time, no proxy, errors on stderr.
tcurl()
{
	curl -sS --noproxy '*' --max-time "$CURL_MAX_TIME" "$@"
}

# fetch NAME [curl args...] URL: headers in $TMPD/NAME.hdr, body in
# $TMPD/NAME.body, status in $HTTP_STATUS ("000" if the request failed).
fetch()
{
	_f_name=$1
	shift
	HTTP_STATUS=$(tcurl -D "$TMPD/$_f_name.hdr" -o "$TMPD/$_f_name.body" \
	    -w '%{http_code}' "$@" 2>"$TMPD/$_f_name.err") || true
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
	[ -f "$TMPD/$_f_name.body" ] || : >"$TMPD/$_f_name.body"
	[ -f "$TMPD/$_f_name.hdr" ] || : >"$TMPD/$_f_name.hdr"
}

# Small JSON and HTTP header tools (python3 is needed for localsvc anyway).
cat >"$TMPD/ht.py" <<'EOF'
import difflib, json, sys

HOP = {"connection", "keep-alive", "proxy-authenticate",
       "proxy-authorization", "proxy-connection", "te", "trailer",
       "transfer-encoding", "upgrade", "date"}

def last_block(path):
    """The last header block of a curl -D dump: (status, [(name, value)])."""
    blocks, cur = [], None
    with open(path, "rb") as f:
        for raw in f.read().decode("latin-1").split("\n"):
            line = raw.rstrip("\r")
            if line.startswith("HTTP/"):
                cur = [line.split(" ", 2)[1], []]
                blocks.append(cur)
            elif line and cur is not None and ":" in line:
                k, v = line.split(":", 1)
                cur[1].append((k.strip(), v.strip()))
    if not blocks:
        return "none", []
    return blocks[-1][0], blocks[-1][1]

def norm(hdrs, drop):
    out = [(k.lower(), v) for k, v in hdrs if k.lower() not in drop]
    out.sort(key=lambda kv: kv[0])     # stable: repeated ones keep order
    return ["%s: %s" % kv for kv in out]

def is_chunked(hdrs):
    return any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
               for k, v in hdrs)

def fwd(name):                  # set by the proxy (X-Request-Id: ops.sh)
    n = name.lower()
    return n.startswith("x-forwarded-") or n in ("forwarded", "host",
                                                 "x-request-id")

def load(path):
    with open(path) as f:
        return json.load(f)

def main(cmd, args):
    if cmd == "json":           # json FILE KEY: one field, strings raw
        v = load(args[0])
        for k in args[1].split("."):
            v = v[int(k)] if isinstance(v, list) else v[k]
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "reqnorm":      # reqnorm FILE: an /echo answer, sans Host,
        d = load(args[0])       # forwarding headers and X-Request-Id
        print("method: %s" % d["method"])
        print("path: %s" % d["path"])
        print("body: %d %s" % (d["body_len"], d["body_sha256"]))
        hdrs = [(k, v) for k, v in d["headers"] if not fwd(k)]
        print("\n".join(norm(hdrs, set())))
    elif cmd == "reqhdr":       # reqhdr FILE NAME: values from /echo
        for k, v in load(args[0])["headers"]:
            if k.lower() == args[1].lower():
                print(v)
    elif cmd == "resphdr":      # resphdr HDRFILE NAME: response values
        for k, v in last_block(args[0])[1]:
            if k.lower() == args[1].lower():
                print(v)
    elif cmd == "respcmp":      # respcmp A B [NAME...]: equal response heads
        sa, ha = last_block(args[0])
        sb, hb = last_block(args[1])
        drop = set(HOP) | {n.lower() for n in args[2:]}
        if is_chunked(ha) or is_chunked(hb):
            drop.add("content-length")
        a = ["status %s" % sa] + norm(ha, drop)
        b = ["status %s" % sb] + norm(hb, drop)
        if a != b:
            sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(
                a, b, "direct", "tunnel", lineterm=""))
            return 1
    else:
        return 2
    return 0

try:
    sys.exit(main(sys.argv[1], sys.argv[2:]))
except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
    sys.stderr.write("ht.py: %s: %s\n" % (sys.argv[1:], e))
    sys.exit(1)
EOF

ht()
{
	python3 -I -S "$TMPD/ht.py" "$@"
}

sha256()
{
	sha256sum "$@" | cut -d' ' -f1
}

# wait_for SECONDS command [args...]: poll every 0.1 s.
wait_for()
{
	_w_n=$(($1 * 10))
	shift
	while [ "$_w_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_w_n=$((_w_n - 1))
	done
	"$@"
}

# lacks FILE ERE: the file does not match.
lacks()
{
	! grep -Eq -- "$2" "$1"
}

alive()
{
	kill -0 "$1" 2>/dev/null
}

# free_port: a port of 127.0.0.1 that nothing listens on just now, for a
# server that cannot be told port 0 (sshd, postgres).
free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- processes ------------------------------------------------------------

# _spawn KIND LOG command [args...]: start in the background (under
# valgrind when asked, for tunneld and tunnel-client), sets $_pid.
_spawn()
{
	_s_kind=$1
	_s_log=$2
	shift 2
	_s_vg=-
	if [ -n "${TUNNEL_VALGRIND:-}" ] && [ "$_s_kind" != localsvc ]; then
		_s_vg=$_s_log.vg
		valgrind --leak-check=full --errors-for-leak-kinds=definite \
		    --error-exitcode=99 --log-file="$_s_vg" "$@" >"$_s_log" 2>&1 &
	else
		"$@" >"$_s_log" 2>&1 &
	fi
	_pid=$!
	_procs="$_procs $_pid:$_s_kind:$_s_vg"
}

_forget()
{
	_f_new=""
	for _p in $_procs; do
		case $_p in
		"$1":*) _f_entry=$_p ;;
		*) _f_new="$_f_new $_p" ;;
		esac
	done
	_procs=$_f_new
}

# stop_pid PID [SIGNAL]: TERM (or SIGNAL), wait up to 5 s (15 s under
# valgrind), then KILL.  Only for processes this test started.  Sets
# $STOP_STATUS to the exit status.
stop_pid()
{
	_sp_pid=$1
	_f_entry=""
	_forget "$_sp_pid"
	if [ -z "$_f_entry" ]; then
		diag "stop_pid: $_sp_pid was not started by this test"
		STOP_STATUS=255
		return 1
	fi
	kill -"${2:-TERM}" "$_sp_pid" 2>/dev/null
	_sp_n=$((50 * SLOW))
	while alive "$_sp_pid" && [ "$_sp_n" -gt 0 ]; do
		# A zombie is finished: stop polling.
		case $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' \
		    "/proc/$_sp_pid/status" 2>/dev/null) in
		Z) break ;;
		esac
		sleep 0.1
		_sp_n=$((_sp_n - 1))
	done
	_sp_graceful=1
	if alive "$_sp_pid" && [ "$_sp_n" -le 0 ]; then
		diag "pid $_sp_pid ignored SIG${2:-TERM}; killing it"
		kill -KILL "$_sp_pid" 2>/dev/null
		_sp_graceful=0
	fi
	wait "$_sp_pid" 2>/dev/null
	STOP_STATUS=$?
	_sp_vg=${_f_entry##*:}
	if [ "$_sp_vg" != - ] && [ "${2:-TERM}" = TERM ] &&
	    [ "$_sp_graceful" = 1 ]; then
		_vglogs="$_vglogs $_sp_vg"
	fi
	return 0
}

# Stop in the reverse order of starting: clients, then tunneld, then localsvc.
_stop_all_graceful()
{
	_g_rev=""
	for _p in $_procs; do
		_g_rev="$_p $_g_rev"
	done
	for _p in $_g_rev; do
		_g_pid=${_p%%:*}
		_g_kind=${_p#*:}
		_g_kind=${_g_kind%%:*}
		stop_pid "$_g_pid"
		case $_g_kind in
		tunneld|client)
			is "$_g_kind $_g_pid exits 0 on SIGTERM" "$STOP_STATUS" 0 ;;
		esac
	done
}

_check_valgrind()
{
	[ -n "${TUNNEL_VALGRIND:-}" ] || return 0
	for _l in $_vglogs; do
		_n=${_l#"$TMPD"/}
		if [ ! -s "$_l" ]; then
			not_ok "valgrind: $_n exists"
			continue
		fi
		if grep -q 'ERROR SUMMARY: 0 errors' "$_l" &&
		    ! grep -Eq 'definitely lost: [1-9]' "$_l"; then
			ok "valgrind: $_n: no errors, no definite leaks"
		else
			not_ok "valgrind: $_n: no errors, no definite leaks"
			diag_file "$_l" 60
		fi
	done
}

# Sanitizer reports in the logs (UBSan does not change the exit status).
_check_sanitizers()
{
	for _l in "$TMPD"/tunneld.*.log "$TMPD"/client.*.log; do
		[ -f "$_l" ] || continue
		if grep -Eq 'runtime error:|(ERROR|WARNING): [A-Za-z]+Sanitizer' \
		    "$_l"; then
			not_ok "no sanitizer reports in ${_l#"$TMPD"/}"
			grep -E -A 30 'runtime error:|Sanitizer' "$_l" | head -n 40 |
			    sed 's/^/#   /'
		fi
	done
}

# start_localsvc [PORT]: the local service; sets LOCAL_PORT, LOCALSVC_PID.
start_localsvc()
{
	rm -f "$TMPD/localsvc.port"
	if [ $# -gt 0 ] && [ "$1" = --verbose ]; then
		set -- --verbose		# each request logged
	elif [ $# -gt 0 ]; then
		set -- --port "$1"
	fi
	_spawn localsvc "$TMPD/localsvc.log" python3 "$LOCALSVC" \
	    --port-file "$TMPD/localsvc.port" "$@"
	LOCALSVC_PID=$_pid
	wait_for 10 test -s "$TMPD/localsvc.port" ||
	    bail "localsvc did not start"
	LOCAL_PORT=$(cat "$TMPD/localsvc.port")
	LOCAL_URL=http://127.0.0.1:$LOCAL_PORT
}

# start_tunneld [--listen ADDR:PORT] [extra args...]: sets TUNNELD_PID,
# TUNNELD_PORT, SERVER_URL.  Keys: $KEY (name "tests"), $ADMIN_KEY.
_ntunneld=0
# shellcheck disable=SC2120
start_tunneld()
{
	[ -x "$TUNNELD" ] || skip_all "$TUNNELD is not built"
	_t_listen=127.0.0.1:0
	if [ "${1:-}" = --listen ]; then
		_t_listen=$2
		shift 2
	fi
	_ntunneld=$((_ntunneld + 1))
	rm -f "$TMPD/tunneld.port"
	[ -f "$TMPD/tunneld.conf" ] ||
	    printf '# integration test: everything is on the command line\n' \
	    >"$TMPD/tunneld.conf"
	_spawn tunneld "$TMPD/tunneld.$_ntunneld.log" "$TUNNELD" \
	    --config "$TMPD/tunneld.conf" --listen "$_t_listen" \
	    --port-file "$TMPD/tunneld.port" --state-dir "$TMPD/state" \
	    --api-key "tests:$KEY" --admin-key "$ADMIN_KEY" "$@"
	TUNNELD_PID=$_pid
	wait_for $((10 * SLOW)) _tunneld_up ||
	    bail "tunneld did not write its port file in time"
	TUNNELD_PORT=$(cat "$TMPD/tunneld.port")
	SERVER_URL=http://127.0.0.1:$TUNNELD_PORT
}

_tunneld_up()
{
	alive "$TUNNELD_PID" || bail "tunneld exited at start"
	test -s "$TMPD/tunneld.port"
}

# start_client [args...]: tunnel-client --server $SERVER_URL --api-key $KEY
# args...; waits for "Public URL:" and "Forwarding:"; sets CLIENT_PID,
# CLIENT_LOG, PUBLIC_URL, TUNNEL_ID.
start_client()
{
	[ -x "$TUNNEL_CLIENT" ] || skip_all "$TUNNEL_CLIENT is not built"
	_nclients=$((_nclients + 1))
	CLIENT_LOG=$TMPD/client.$_nclients.log
	_spawn client "$CLIENT_LOG" "$TUNNEL_CLIENT" --server "$SERVER_URL" \
	    --api-key "$KEY" "$@"
	CLIENT_PID=$_pid
	wait_for $((15 * SLOW)) _client_up ||
	    bail "tunnel-client did not print Public URL and Forwarding in time"
	PUBLIC_URL=$(sed -n 's/.*Public URL:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
	    "$CLIENT_LOG" | tail -n 1)
	TUNNEL_ID=$(sed -n 's/.*Tunnel ID:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
	    "$CLIENT_LOG" | tail -n 1)
	if [ -z "$TUNNEL_ID" ]; then
		TUNNEL_ID=${PUBLIC_URL%/}
		TUNNEL_ID=${TUNNEL_ID##*/}
	fi
	case $PUBLIC_URL in
	http://*/ | https://*/) ;;
	*) bail "tunnel-client printed an odd Public URL: '$PUBLIC_URL'" ;;
	esac
}

_client_up()
{
	alive "$CLIENT_PID" || bail "tunnel-client exited at start"
	grep -q 'Public URL:' "$CLIENT_LOG" && grep -q 'Forwarding:' "$CLIENT_LOG"
}

# mkca NAME: a CA in $TMPD/NAME-ca.pem and a server certificate for
# localhost and 127.0.0.1 in $TMPD/NAME.pem, its key in $TMPD/NAME-key.pem.
mkca()
{
	_m=$TMPD/$1
	printf 'cn = "%s test CA"\nca\ncert_signing_key\nexpiration_days = 7\n' \
	    "$1" >"$_m-ca.tmpl"
	printf '%s\n' 'cn = "localhost"' 'dns_name = "localhost"' \
	    'ip_address = "127.0.0.1"' tls_www_server encryption_key \
	    signing_key 'expiration_days = 7' >"$_m.tmpl"
	certtool --generate-privkey --key-type=ecdsa --no-text \
	    --outfile "$_m-ca-key.pem" 2>/dev/null &&
	certtool --generate-self-signed --load-privkey "$_m-ca-key.pem" \
	    --template "$_m-ca.tmpl" --no-text --outfile "$_m-ca.pem" \
	    2>/dev/null &&
	certtool --generate-privkey --key-type=ecdsa --no-text \
	    --outfile "$_m-key.pem" 2>/dev/null &&
	certtool --generate-certificate --load-privkey "$_m-key.pem" \
	    --load-ca-certificate "$_m-ca.pem" \
	    --load-ca-privkey "$_m-ca-key.pem" --template "$_m.tmpl" \
	    --no-text --outfile "$_m.pem" 2>/dev/null ||
	    bail "certtool could not make the $1 certificates"
}
# Peak resident memory in KiB (VmHWM), empty if unknown.
vmhwm()
{
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB.*/\1/p' "/proc/$1/status" \
	    2>/dev/null
}
