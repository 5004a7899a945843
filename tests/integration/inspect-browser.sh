#!/bin/sh
# The inspector's page in a real browser: headless Chromium (Debian's
# chromium) driven by playwright-core (tests/browser, installed by
# tools/install-deps) through tests/browser/inspect.js: a request through
# the tunnel appears within 1 s, a click shows its body, replay gives a
# second entry.  The screenshots are kept as $TMPD/inspector.png (after a
# replay) and inspector-detail.png (one exchange) and copied to
# $TUNNEL_BROWSER_SHOT (default /tmp/inspect-shot.png) and its -detail.png.
#
# Skips where node, chromium or playwright-core is missing.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
MODULES=${TUNNEL_BROWSER_MODULES:-$top_srcdir/tests/browser/node_modules}
SHOT_COPY=${TUNNEL_BROWSER_SHOT:-/tmp/inspect-shot.png}

command -v node >/dev/null 2>&1 || skip_all "node is not installed"
[ -x "$CHROMIUM" ] || skip_all "chromium is not installed ($CHROMIUM)"
[ -d "$MODULES/playwright-core" ] ||
    skip_all "playwright-core is not installed in $MODULES (tools/install-deps)"

start_localsvc
start_tunneld
start_client --inspect 127.0.0.1:0 "$LOCAL_PORT"
INSPECT=$(sed -n 's/.*Inspector: \(http:[^[:space:]]*\).*/\1/p' "$CLIENT_LOG" |
    tail -n 1)
like "the inspector is up" "$INSPECT" '^http://127\.0\.0\.1:[0-9]+$'

mkdir "$TMPD/profile"
# Under valgrind or the sanitizers the client is slower: the 1 s bound
# grows with them.
if [ -n "${TUNNEL_VALGRIND:-}" ] || [ -n "${TUNNEL_SANITIZERS:-}" ]; then
	APPEAR_MS=$((3000 * SLOW))
else
	APPEAR_MS=1000
fi
NODE_PATH=$MODULES INSPECT_URL=$INSPECT PUBLIC_URL=$PUBLIC_URL \
    CHROMIUM=$CHROMIUM PROFILE_DIR=$TMPD/profile SHOT=$TMPD/inspector.png \
    APPEAR_MS=$APPEAR_MS timeout $((120 * SLOW)) \
    node "$top_srcdir/tests/browser/inspect.js" >"$TMPD/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) not_ok "${line#not ok }" ;;
	"#"*) printf '%s\n' "$line" ;;
	*) diag "$line" ;;
	esac
done <"$TMPD/browser.out"
is "the browser flow exits 0" "$rc" 0
if [ -s "$TMPD/inspector.png" ]; then
	if cp "$TMPD/inspector.png" "$SHOT_COPY" 2>/dev/null &&
	    cp "$TMPD/inspector-detail.png" "${SHOT_COPY%.png}-detail.png" \
	    2>/dev/null; then
		diag "screenshots: $SHOT_COPY ${SHOT_COPY%.png}-detail.png"
	fi
	like "the screenshot is a PNG" \
	    "$(od -An -c -N4 "$TMPD/inspector.png" | tr -d ' ')" '^211PNG$'
else
	not_ok "a screenshot was taken"
fi

done_testing
