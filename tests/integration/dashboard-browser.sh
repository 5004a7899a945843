#!/bin/sh
# The dashboard in a real browser: headless Chromium (Debian's chromium)
# driven by playwright-core logs in, finds the tunnel a client made with
# its uptime bar, deletes another, and takes a screenshot (kept as
# $TUNNEL_DASHBOARD_SHOT, default /tmp/dashboard-shot.png, and the login
# form beside it as ...-login.png).  Skips where
# node, chromium or playwright-core is missing; tools/install-deps
# installs them.
#
#   CHROMIUM=PATH     the browser (default /usr/bin/chromium)
#   NODE_PATH=DIRS    where playwright-core is, if not in tests/browser

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOT=${TUNNEL_DASHBOARD_SHOT:-/tmp/dashboard-shot.png}
NODE_PATH=$top_srcdir/tests/browser/node_modules${NODE_PATH:+:$NODE_PATH}
export CHROMIUM NODE_PATH

command -v node >/dev/null 2>&1 || skip_all "node is not installed"
[ -x "$CHROMIUM" ] || skip_all "no Chromium at $CHROMIUM (apt-get install chromium)"
node -e 'require("playwright-core")' >/dev/null 2>&1 ||
    skip_all "playwright-core is not installed (tools/install-deps puts it in tests/browser)"

start_localsvc
start_tunneld --uptime-interval 1
start_client --subdomain browser-demo "$LOCAL_PORT"
for p in status/200 status/200 bytes?n=20000 status/404 status/502; do
	fetch r "$PUBLIC_URL$p"
done
tcurl -o /dev/null -X POST -H "X-API-Key: $KEY" -d '{"subdomain":"to-delete"}' \
    "$SERVER_URL/api/tunnels"
tcurl -o /dev/null -X POST -H "X-API-Key: $KEY" -d '{"subdomain":"idle-api"}' \
    "$SERVER_URL/api/tunnels"
sleep 3			# a few uptime samples

timeout $((120 * SLOW)) node "$top_srcdir/tests/browser/dashboard.js" \
    "$SERVER_URL" "$ADMIN_KEY" browser-demo to-delete "$TMPD/shot.png" \
    >"$TMPD/browser.out" 2>"$TMPD/browser.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*) ok "browser: ${line#ok }" ;;
	"not ok "*) not_ok "browser: ${line#not ok }" ;;
	"diag "*) diag "${line#diag }" ;;
	esac
done <"$TMPD/browser.out"
is "the browser run exits 0" "$rc" 0
[ "$rc" = 0 ] || diag_file "$TMPD/browser.err" 30
if [ -s "$TMPD/shot.png" ] && cp "$TMPD/shot.png" "$SHOT" 2>/dev/null; then
	diag "screenshot: $SHOT"
	cp "$TMPD/shot-login.png" "${SHOT%.png}-login.png" 2>/dev/null &&
	    diag "the login form: ${SHOT%.png}-login.png"
fi
fetch g -H "X-API-Key: $KEY" "$SERVER_URL/api/tunnels/to-delete"
is "the tunnel deleted in the browser is gone" "$HTTP_STATUS" 404

done_testing
