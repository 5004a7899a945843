#!/bin/sh
# The manual pages agree with the programs: the options of tunneld --help
# and tunnel-client --help are those of tunneld(8) and tunnel-client(1),
# every configuration key of tunneld is in tunneld.conf(5) and in the
# sample tunneld.conf, and the pages are clean under mandoc -Tlint.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

MAN=$top_srcdir/man
[ -x "$TUNNELD" ] || skip_all "$TUNNELD is not built"
[ -x "$TUNNEL_CLIENT" ] || skip_all "$TUNNEL_CLIENT is not built"

# Option names from a --help text: "  -c, --config FILE" and "  --listen ...".
help_long()
{
	sed -n 's/^[[:space:]]*\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z0-9][a-z0-9-]*\).*/\2/p' \
	    "$1" | LC_ALL=C sort -u
}
help_short()
{
	sed -n 's/^[[:space:]]*-\([A-Za-z0-9]\), --.*/-\1/p' "$1" | LC_ALL=C sort -u
}
# From mdoc: ".It Fl c , Fl \-config Ar file", ".It Fl \-listen Ar ADDR:PORT".
man_long()
{
	grep '^\.It Fl ' "$1" | grep -o 'Fl \\-[a-z0-9][a-z0-9-]*' |
	    sed 's/^Fl \\-/--/' | LC_ALL=C sort -u
}
man_short()
{
	sed -n 's/^\.It Fl \([A-Za-z0-9]\) , Fl \\-.*/-\1/p' "$1" | LC_ALL=C sort -u
}

# same "description" FILE-A FILE-B: the sorted lists are equal; a diff if not.
same()
{
	if [ ! -s "$2" ] || [ ! -s "$3" ]; then
		not_ok "$1"
		diag "an empty list: $(wc -l <"$2") vs $(wc -l <"$3") lines"
	elif cmp -s "$2" "$3"; then
		ok "$1 ($(wc -l <"$2" | tr -d ' '))"
	else
		not_ok "$1"
		diag "< only in ${2##*/}, > only in ${3##*/}:"
		diff "$2" "$3" | grep '^[<>]' | sed 's/^/  /' | while IFS= read -r _l; do
			diag "$_l"
		done
	fi
}

for prog in tunneld tunnel-client; do
	case $prog in
	tunneld) bin=$TUNNELD page=$MAN/tunneld.8 ;;
	*) bin=$TUNNEL_CLIENT page=$MAN/tunnel-client.1 ;;
	esac
	if "$bin" --help >"$TMPD/$prog.help" 2>&1; then
		ok "$prog --help exits 0"
	else
		not_ok "$prog --help exits 0"
		diag_file "$TMPD/$prog.help"
	fi
	help_long "$TMPD/$prog.help" >"$TMPD/$prog.help-long"
	man_long "$page" >"$TMPD/$prog.man-long"
	same "$prog: the long options of --help and of ${page##*/} agree" \
	    "$TMPD/$prog.help-long" "$TMPD/$prog.man-long"
	help_short "$TMPD/$prog.help" >"$TMPD/$prog.help-short"
	man_short "$page" >"$TMPD/$prog.man-short"
	same "$prog: the short options of --help and of ${page##*/} agree" \
	    "$TMPD/$prog.help-short" "$TMPD/$prog.man-short"
done

# --- configuration keys ---------------------------------------------------
sed -n 's/^[[:space:]]*{ "\([a-z0-9_]*\)", OPT_.*/\1/p' \
    "$top_srcdir/src/config.c" | LC_ALL=C sort -u >"$TMPD/keys.src"
like "src/config.c has a table of keys" "$(wc -l <"$TMPD/keys.src")" '^ *[1-9][0-9]+$'
sed -n 's/^\.It Cm \([a-z0-9_]*\)\( .*\)\{0,1\}$/\1/p' "$MAN/tunneld.conf.5" |
    LC_ALL=C sort -u >"$TMPD/keys.man"
same "every key of tunneld is in tunneld.conf.5, and no other" \
    "$TMPD/keys.src" "$TMPD/keys.man"
# Each key is an option too: --key-with-dashes.
tr _ - <"$TMPD/keys.src" | sed 's/^/--/' >"$TMPD/keys.opt"
LC_ALL=C comm -23 "$TMPD/keys.opt" "$TMPD/tunneld.help-long" >"$TMPD/keys.noopt"
is "every key of tunneld is an option of tunneld --help" \
    "$(tr '\n' ' ' <"$TMPD/keys.noopt")" ""
SAMPLE=$top_srcdir/packaging/tunneld.conf.sample
sed -n 's/^#\([a-z0-9_]*\) = .*/\1/p' "$SAMPLE" | LC_ALL=C sort -u \
    >"$TMPD/keys.sample"
same "every key of tunneld is in the sample tunneld.conf, commented out" \
    "$TMPD/keys.src" "$TMPD/keys.sample"
is "the sample tunneld.conf sets nothing" \
    "$(grep -Ev '^[[:space:]]*(#|$)' "$SAMPLE")" ""
# The defaults the sample shows are those of tunneld.conf(5).
for k in request_timeout max_tunnels max_header_size max_body_size \
    max_streams heartbeat_interval idle_timeout cleanup_interval \
    drain_timeout log_level; do
	v=$(sed -n "s/^#$k = //p" "$SAMPLE")
	d=$(sed -n "/^\\.It Cm $k /,/^\\.It/s/^Default \\([^;.:]*\\).*/\\1/p" \
	    "$MAN/tunneld.conf.5")
	is "sample and tunneld.conf.5 give $k the same default" "$v" "$d"
done

# --- mandoc ---------------------------------------------------------------
if command -v mandoc >/dev/null 2>&1; then
	for page in tunneld.8 tunnel-client.1 tunneld.conf.5; do
		check "mandoc -Tlint -W warning $page" \
		    mandoc -Tlint -W warning "$MAN/$page"
	done
else
	for page in tunneld.8 tunnel-client.1 tunneld.conf.5; do
		skip "mandoc -Tlint -W warning $page" "mandoc is not installed"
	done
fi

done_testing
