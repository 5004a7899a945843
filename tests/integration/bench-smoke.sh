#!/bin/sh
# The benchmark scripts, each once in its tiny mode, so that they cannot
# rot: they run to the end and print their tables.  No figure is checked
# (timings are not tests).

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ -x "$TUNNELD" ] || skip_all "$TUNNELD is not built"
[ -x "$TUNNEL_CLIENT" ] || skip_all "$TUNNEL_CLIENT is not built"
[ -z "${TUNNEL_VALGRIND:-}" ] ||
    skip_all "the benchmarks are not run under valgrind"

export top_srcdir top_builddir
unset TUNNELD TUNNEL_CLIENT

# bench/run --quick: every path and figure, tiny sizes, 1 s of wrk.
python3 "$top_srcdir/bench/run" --quick >"$TMPD/run.out" 2>"$TMPD/run.err"
rc=$?
is "bench/run --quick exits 0" "$rc" 0
[ "$rc" = 0 ] || diag_file "$TMPD/run.err" 30
check "bench/run printed its table" \
    grep -q '^figure (median of 1 run)' "$TMPD/run.out"
for row in 'small GET, 1 conn, req/s' 'small GET, 50 conns, req/s' \
    'download, MiB/s' 'upload, MiB/s' 'burst, answered 200' \
    'tunneld peak RSS' 'tunnel-client peak RSS' '^targets met: '; do
	check "bench/run: row '$row'" grep -q -- "$row" "$TMPD/run.out"
done
check "bench/run: a tunnel path and a tunnel host column" \
    grep -q 'tunnel path  *tunnel host' "$TMPD/run.out"
# Every request of the burst was answered, on every path.
like "bench/run: the burst answered in full on every path" \
    "$(grep 'burst, answered 200' "$TMPD/run.out")" \
    '^20 x 200 ms burst, answered 200( +20)+ += 20 met$'
diag_file "$TMPD/run.out" 30

# bench/many-tunnels --tiny: 50 agent connections.
python3 "$top_srcdir/bench/many-tunnels" --tiny >"$TMPD/many.out" \
    2>"$TMPD/many.err"
rc=$?
is "bench/many-tunnels --tiny exits 0" "$rc" 0
[ "$rc" = 0 ] || diag_file "$TMPD/many.err" 30
check "bench/many-tunnels printed its table" \
    grep -q '^many-tunnels: 50 tunnels' "$TMPD/many.out"
like "bench/many-tunnels: all 50 agents connected" \
    "$(grep 'agents connected' "$TMPD/many.out")" ' 50 / 50 '
check "bench/many-tunnels: the latency rows" \
    grep -q 'request median / p90 ms, 50 tunnels' "$TMPD/many.out"
diag_file "$TMPD/many.out" 20

# bench/tls --tiny: one 4 MiB transfer each way of carrying it.
if command -v certtool >/dev/null 2>&1; then
	python3 "$top_srcdir/bench/tls" --tiny >"$TMPD/tls.out" \
	    2>"$TMPD/tls.err"
	rc=$?
	is "bench/tls --tiny exits 0" "$rc" 0
	[ "$rc" = 0 ] || diag_file "$TMPD/tls.err" 30
	for row in '4 MiB download MiB/s' 'WebSocket stream MiB/s' \
	    '^targets: '; do
		check "bench/tls: row '$row'" grep -q -- "$row" "$TMPD/tls.out"
	done
	diag_file "$TMPD/tls.out" 10
else
	skip "bench/tls --tiny" "certtool (gnutls-bin) is not installed"
fi

done_testing
