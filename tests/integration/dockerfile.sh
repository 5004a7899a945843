#!/bin/sh
# The Dockerfile builds the way the project says to build: its build stage
# installs the packages of tools/install-deps and runs the README's build
# commands (and make check); its runtime stage carries the libraries the
# programs link and runs tunneld as UID 10001; its HEALTHCHECK command
# works against a real tunneld.  No image is built here (that needs a
# Docker engine).

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

DOCKERFILE=$top_srcdir/Dockerfile
[ -f "$DOCKERFILE" ] || bail "no Dockerfile in $top_srcdir"

# Stages of the Dockerfile with continuation lines joined, comments gone.
awk '
	/^[[:space:]]*#/ { next }
	{ line = line $0 }
	/\\$/ { sub(/\\$/, "", line); next }
	{ print line; line = "" }
' "$DOCKERFILE" >"$TMPD/df.joined"
awk '/^FROM /{ n++ } n == 1' "$TMPD/df.joined" >"$TMPD/df.build"
awk '/^FROM /{ n++ } n == 2' "$TMPD/df.joined" >"$TMPD/df.run"

# The packages after "apt-get install ... --no-install-recommends".
apt_packages()
{
	grep 'apt-get install' "$1" | head -n 1 |
	    sed 's/.*apt-get install//; s/&&.*//' | tr -s ' \t' '\n' |
	    grep -v '^-' | grep -v '^$' | LC_ALL=C sort
}
awk '{ line = line $0 } /\\$/ { sub(/\\$/, "", line); next }
    { print line; line = "" }' "$top_srcdir/tools/install-deps" \
    >"$TMPD/deps.joined"
apt_packages "$TMPD/deps.joined" >"$TMPD/pkgs.deps"
apt_packages "$TMPD/df.build" >"$TMPD/pkgs.docker"
like "tools/install-deps installs packages" "$(wc -l <"$TMPD/pkgs.deps")" \
    '^ *[1-9][0-9]*$'
if cmp -s "$TMPD/pkgs.deps" "$TMPD/pkgs.docker"; then
	ok "the build stage installs the packages of tools/install-deps ($(wc -l <"$TMPD/pkgs.deps" | tr -d ' '))"
else
	not_ok "the build stage installs the packages of tools/install-deps"
	diag "< tools/install-deps only, > Dockerfile only:"
	diff "$TMPD/pkgs.deps" "$TMPD/pkgs.docker" | grep '^[<>]' |
	    while IFS= read -r l; do diag "  $l"; done
fi
check "the build stage runs apt-get update first" \
    grep -q 'apt-get update.*&&.*apt-get install' "$TMPD/df.build"
like "the build stage starts from bookworm" "$(head -n 1 "$TMPD/df.build")" \
    '^FROM debian:bookworm '

# Build commands: "a && b && c" with options, sudo and DESTDIR left out.
steps()
{
	sed 's/^RUN //; s/^[[:space:]]*//' | sed 's/[[:space:]]*&&[[:space:]]*/\n/g' |
	    sed 's/^sudo //; s/[[:space:]]--[a-z][^[:space:]]*//g;
	    s/[[:space:]]DESTDIR=[^[:space:]]*//g; s/[[:space:]]*$//' |
	    tr '\n' ';'
}
readme=$(grep -m 1 '^[[:space:]]*autoreconf ' "$top_srcdir/README" | steps)
docker=$(grep -m 1 '^RUN autoreconf ' "$TMPD/df.build" | steps)
is "README: autoreconf, configure, make, make check, make install" "$readme" \
    "autoreconf -fi;./configure;make;make check;make install;"
is "the build stage runs the README's build commands" "$docker" "$readme"
check "the build stage installs into DESTDIR=/tmp/out" \
    grep -q 'make install DESTDIR=/tmp/out' "$TMPD/df.build"
check "the runtime stage copies the installed tree" \
    grep -q '^COPY --from=build /out/ /$' "$TMPD/df.run"

# --- the runtime stage ------------------------------------------------------
like "the runtime stage is bookworm-slim" "$(head -n 1 "$TMPD/df.run")" \
    '^FROM debian:bookworm-slim$'
is "it runs as UID 10001" "$(sed -n 's/^USER //p' "$TMPD/df.run")" \
    "10001:10001"
check "the user is made with UID 10001" \
    grep -q 'useradd .*--uid 10001' "$TMPD/df.run"
check "/var/lib/tunneld is a volume" \
    grep -q '^VOLUME \["/var/lib/tunneld"\]$' "$TMPD/df.run"
check "port 8080 is exposed" grep -q '^EXPOSE 8080$' "$TMPD/df.run"

# The runtime packages cover every library the programs link directly.
apt_packages "$TMPD/df.run" >"$TMPD/pkgs.run"
# The image is built without sanitizers: their runtime libraries do not count.
if [ -n "${TUNNEL_SANITIZERS:-}" ]; then
	skip "the runtime stage installs every library linked" \
	    "a sanitizer build links its own runtime"
	skip "libraries linked: found their packages" "as above"
elif command -v dpkg >/dev/null 2>&1 && command -v ldd >/dev/null 2>&1 &&
    [ -x "$TUNNELD" ] && [ -x "$TUNNEL_CLIENT" ]; then
	: >"$TMPD/needed"
	for bin in "$TUNNELD" "$TUNNEL_CLIENT"; do
		ldd "$bin" | sed -n 's/^[[:space:]]*\([^ ]*\) => \(\/[^ ]*\) .*/\1 \2/p' |
		    while read -r soname path; do
			readelf -d "$bin" | grep -q "NEEDED.*\[$soname\]" || continue
			pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
			    dpkg -S "$path" 2>/dev/null)
			printf '%s %s\n' "$soname" "${pkg%%:*}"
		    done >>"$TMPD/needed"
	done
	missing=$(sort -u "$TMPD/needed" | while read -r soname pkg; do
		[ "$pkg" = libc6 ] && continue	# in every image
		grep -qx "$pkg" "$TMPD/pkgs.run" || printf '%s(%s) ' "$soname" "$pkg"
	done)
	like "libraries linked: found their packages" \
	    "$(wc -l <"$TMPD/needed")" '^ *[4-9]$|^ *[1-9][0-9]$'
	is "the runtime stage installs the package of every library linked" \
	    "$missing" ""
else
	skip "the runtime stage installs every library linked" \
	    "needs dpkg, ldd and the built programs"
	skip "libraries linked: found their packages" "as above"
fi

# ENTRYPOINT: tunneld, on 0.0.0.0:8080, state in the volume; options it has.
entry=$(sed -n 's/^ENTRYPOINT //p' "$TMPD/df.run")
is "ENTRYPOINT" "$entry" \
    '["/usr/sbin/tunneld", "--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/tunneld"]'
start_tunneld
"$TUNNELD" --help >"$TMPD/help" 2>&1
for o in $(printf '%s\n' "$entry" | grep -o -- '--[a-z-]*'); do
	check "tunneld has $o" grep -q -- "^ *$o " "$TMPD/help"
done

# HEALTHCHECK: the command itself, against this tunneld instead of :8080.
hc=$(sed -n 's/^HEALTHCHECK .* CMD //p' "$TMPD/df.run")
printf '%s\n' "$hc" >"$TMPD/hc.json"
python3 -I -S -c '
import json, sys
argv = json.load(open(sys.argv[1]))
port = sys.argv[2]
for a in argv:
    print(a.replace("/8080", "/" + port))
' "$TMPD/hc.json" "$TUNNELD_PORT" >"$TMPD/hc.argv" ||
    bail "HEALTHCHECK CMD is not a JSON array: $hc"
like "HEALTHCHECK probes /health" "$hc" '/health'
hc_run()
{
	# Three arguments: shell, -c, script.
	{ read -r a0; read -r a1; IFS= read -r a2; } <"$TMPD/hc.argv"
	timeout 5 "$a0" "$a1" "$a2"
}
check "HEALTHCHECK succeeds against a running tunneld" hc_run
stop_pid "$TUNNELD_PID"
is "tunneld exits 0 on SIGTERM" "$STOP_STATUS" 0
if hc_run >/dev/null 2>&1; then
	not_ok "HEALTHCHECK fails when nothing listens"
else
	ok "HEALTHCHECK fails when nothing listens"
fi

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	diag "a Docker engine is available; build with: docker build -t tunneld ."
else
	diag "no Docker engine here: the image itself was not built"
fi

done_testing
