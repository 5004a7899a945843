#!/bin/sh
# Replays every fuzz seed through its target (built with tests/fuzz/main.c)
# and prints one TAP stream: "ok N - TARGET/SEED" per seed.  A target that
# is missing, has no seeds or exits non-zero is "not ok"; after a failed
# run each seed is replayed alone to tell which ones fail.
# Environment: top_builddir, top_srcdir (set by make check).

LC_ALL=C
export LC_ALL
: "${top_builddir:=.}"
: "${top_srcdir:=.}"

targets="fuzz_wsframe fuzz_proto fuzz_conf fuzz_httphdr fuzz_httphead fuzz_jwt
    fuzz_apibody fuzz_jhead"
n=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/replay.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	echo "replay.sh: FAIL: $1" >&2
}

# Did the replay print "ok N - PATH" for this seed?
replayed() {
	P="$1" awk '
	    BEGIN { want = " - " ENVIRON["P"] }
	    /^ok [0-9]+ - / {
		i = index($0, " - ")
		if (substr($0, i) == want) { found = 1 }
	    }
	    END { exit found ? 0 : 1 }' "$tmp/out"
}

for t in $targets; do
	bin="$top_builddir/tests/fuzz/$t"
	dir="$top_srcdir/tests/fuzz/corpus/$t"
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		not_ok "$t: $bin is missing (not built)"
		continue
	fi
	if [ ! -d "$dir" ]; then
		not_ok "$t: no corpus directory $dir"
		continue
	fi
	seeds=
	for f in "$dir"/*; do
		[ -f "$f" ] && seeds=yes
	done
	if [ -z "$seeds" ]; then
		not_ok "$t: no seeds in $dir"
		continue
	fi

	"$bin" "$dir" >"$tmp/out" 2>"$tmp/err"
	st=$?
	if [ "$st" -eq 0 ]; then
		for f in "$dir"/*; do
			[ -f "$f" ] || continue
			if replayed "$f"; then
				ok "$t/${f##*/}"
			else
				not_ok "$t/${f##*/}: not replayed"
			fi
		done
		continue
	fi

	# The run failed: show why, then find the seeds that fail.
	last=$(sed -n 's/^# running //p' "$tmp/out" | tail -n 1)
	echo "# $t exited with status $st while running ${last:-?}"
	cat "$tmp/err" >&2
	before=$failed
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		"$bin" "$f" >"$tmp/out" 2>"$tmp/err"
		st=$?
		if [ "$st" -eq 0 ] && replayed "$f"; then
			ok "$t/${f##*/}"
		else
			cat "$tmp/err" >&2
			not_ok "$t/${f##*/}: $t exited with status $st"
		fi
	done
	if [ "$failed" -eq "$before" ]; then
		not_ok "$t: the corpus fails, though each seed passes alone"
	fi
done

echo "1..$n"
[ "$failed" -eq 0 ]
