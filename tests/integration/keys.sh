#!/bin/sh
# API keys from every source: api_key in the config file, api_key_file
# (plain and sha256: hashed, with per-key max_tunnels and names=),
# TUNNELD_API_KEY, --api-key, and JWTs signed with HS256 or RS256.  For
# each, a wrong credential gets 401 and the right one works; keys cannot
# see, use, delete or take each other's tunnels; SIGHUP with a changed key
# file swaps the keys and leaves the tunnels up.

# shellcheck source=SCRIPTDIR/lib.sh
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

command -v openssl >/dev/null 2>&1 || skip_all "openssl is not installed"
[ -x "$TUNNELD" ] || skip_all "$TUNNELD is not built"

KEY_CFG=config-$(_rand)
KEY_BOB=bob-$(_rand)
KEY_LIM=limited-$(_rand)
KEY_PAT=pattern-$(_rand)
KEY_NEW=new-$(_rand)
KEY_ENV=env-$(_rand)
KEY_FLAG=flag-$(_rand)
WRONG=wrong-$(_rand)
NOW=$(date +%s)

# --- JWT material: an HS256 secret, two RSA keys, a JWKS with the first ----
echo "$(_rand)$(_rand)" >"$TMPD/jwt.secret"
echo "$(_rand)$(_rand)" >"$TMPD/other.secret"
openssl genrsa -out "$TMPD/rsa1.pem" 2048 2>/dev/null &&
    openssl genrsa -out "$TMPD/rsa2.pem" 2048 2>/dev/null ||
    bail "openssl genrsa failed"
cat >"$TMPD/mkjwt.py" <<'EOF'
import base64, hashlib, hmac, json, subprocess, sys

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def token(hdr, claims, sign):
    si = b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())
    return si + "." + b64(sign(si.encode()))

def claims(args):
    c = {}
    for a in args:              # sub=alice exp=123 aud=x ...
        k, v = a.split("=", 1)
        c[k] = int(v) if v.lstrip("-").isdigit() else v
    return c

cmd = sys.argv[1]
if cmd == "hs":                 # hs SECRETFILE [ALG] claims...
    key = open(sys.argv[2], "rb").read().rstrip(b"\n")
    alg, rest = "HS256", sys.argv[3:]
    if rest and "=" not in rest[0]:
        alg, rest = rest[0], rest[1:]
    print(token({"alg": alg, "typ": "JWT"}, claims(rest),
                lambda m: hmac.new(key, m, hashlib.sha256).digest()))
elif cmd == "none":             # none claims...
    si = b64(b'{"alg":"none"}') + "." + b64(json.dumps(claims(sys.argv[2:])).encode())
    print(si + ".")
elif cmd == "rs":               # rs KEYPEM KID claims...
    def sign(m):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                               sys.argv[2], "-binary"], input=m,
                              stdout=subprocess.PIPE, check=True).stdout
    print(token({"alg": "RS256", "kid": sys.argv[3]}, claims(sys.argv[4:]),
                sign))
elif cmd == "jwks":             # jwks KEYPEM KID
    out = subprocess.run(["openssl", "rsa", "-in", sys.argv[2], "-noout",
                          "-modulus"], stdout=subprocess.PIPE, check=True,
                         text=True).stdout
    n = bytes.fromhex(out.strip().split("=", 1)[1])
    print(json.dumps({"keys": [{"kty": "RSA", "kid": sys.argv[3],
                                "use": "sig", "alg": "RS256", "e": "AQAB",
                                "n": b64(n)}]}))
EOF
mkjwt()
{
	python3 -I -S "$TMPD/mkjwt.py" "$@"
}
mkjwt jwks "$TMPD/rsa1.pem" k1 >"$TMPD/jwks.json" || bail "no JWKS"
EXP=$((NOW + 600))
JWT_HS=$(mkjwt hs "$TMPD/jwt.secret" sub=carol exp=$EXP)
JWT_HS_ALICE=$(mkjwt hs "$TMPD/jwt.secret" sub=alice exp=$EXP)
JWT_HS_WRONG=$(mkjwt hs "$TMPD/other.secret" sub=carol exp=$EXP)
JWT_HS_EXPIRED=$(mkjwt hs "$TMPD/jwt.secret" sub=carol exp=$((NOW - 300)))
JWT_HS_NOEXP=$(mkjwt hs "$TMPD/jwt.secret" sub=carol)
JWT_HS384=$(mkjwt hs "$TMPD/jwt.secret" HS384 sub=carol exp=$EXP)
JWT_NONE=$(mkjwt none sub=carol exp=$EXP)
JWT_RS=$(mkjwt rs "$TMPD/rsa1.pem" k1 sub=dave exp=$EXP)
JWT_RS_OTHER=$(mkjwt rs "$TMPD/rsa2.pem" k1 sub=dave exp=$EXP)
JWT_RS_KID=$(mkjwt rs "$TMPD/rsa1.pem" k9 sub=dave exp=$EXP)
JWT_RS_EXPIRED=$(mkjwt rs "$TMPD/rsa1.pem" k1 sub=dave exp=$((NOW - 300)))
[ -n "$JWT_RS" ] || bail "cannot sign an RS256 token"

# run_tunneld [args...]: tunneld with no keys but these (and the admin key).
run_tunneld()
{
	_ntunneld=$((_ntunneld + 1))
	rm -f "$TMPD/tunneld.port"
	_spawn tunneld "$TMPD/tunneld.$_ntunneld.log" "$TUNNELD" \
	    --config "$TMPD/tunneld.conf" --listen 127.0.0.1:0 \
	    --port-file "$TMPD/tunneld.port" --state-dir "$TMPD/state" \
	    --admin-key "$ADMIN_KEY" "$@"
	TUNNELD_PID=$_pid
	TUNNELD_LOG=$TMPD/tunneld.$_ntunneld.log
	wait_for $((10 * SLOW)) _tunneld_up ||
	    bail "tunneld did not write its port file in time"
	TUNNELD_PORT=$(cat "$TMPD/tunneld.port")
	SERVER_URL=http://127.0.0.1:$TUNNELD_PORT
}

# st CREDENTIAL METHOD PATH [BODY]: the status of an API call.
st()
{
	if [ $# -gt 3 ]; then
		tcurl -o "$TMPD/st.body" -w '%{http_code}' -X "$2" \
		    -H "Authorization: Bearer $1" -d "$4" "$SERVER_URL$3"
	else
		tcurl -o "$TMPD/st.body" -w '%{http_code}' -X "$2" \
		    -H "Authorization: Bearer $1" "$SERVER_URL$3"
	fi
}

# works "source" RIGHT WRONG: right lists tunnels (200), wrong gets 401.
works()
{
	is "$1: the right credential lists tunnels" "$(st "$2" GET /api/tunnels)" 200
	is "$1: a wrong one gets 401" "$(st "$3" GET /api/tunnels)" 401
	like "$1: the 401 is a JSON error" "$(cat "$TMPD/st.body")" '^\{"error":"'
}

# --- run A: config api_key, api_key_file plain/hashed/options, JWTs --------
printf 'api_key = cfg:%s\napi_key_file = %s\njwt_secret_file = %s\njwt_jwks_file = %s\n' \
    "$KEY_CFG" "$TMPD/keys" "$TMPD/jwt.secret" "$TMPD/jwks.json" \
    >"$TMPD/tunneld.conf"
HASH_BOB=$(printf '%s\n' "$KEY_BOB" | "$TUNNELD" --hash-key)
is "--hash-key prints sha256:HEX of the key" "$HASH_BOB" \
    "sha256:$(printf '%s' "$KEY_BOB" | sha256)"
is "--hash-key refuses a short key" \
    "$(printf 'short\n' | "$TUNNELD" --hash-key 2>/dev/null; echo "rc=$?")" "rc=1"
cat >"$TMPD/keys" <<EOF
# name:key [options]
alice:$KEY
bob:$HASH_BOB
limited:$KEY_LIM max_tunnels=2
pat:$KEY_PAT	names=demo-*,acme
EOF
start_localsvc
run_tunneld
works "api_key in the config file" "$KEY_CFG" "$WRONG"
works "api_key_file, plain" "$KEY" "$WRONG"
works "api_key_file, hashed" "$KEY_BOB" "$(printf %s "$HASH_BOB" | cut -c8-)"
works "JWT HS256" "$JWT_HS" "$JWT_HS_WRONG"
works "JWT RS256" "$JWT_RS" "$JWT_RS_OTHER"
is "JWT HS256 in X-API-Key works too" "$(tcurl -o /dev/null -w '%{http_code}' \
    -H "X-API-Key: $JWT_HS" "$SERVER_URL/api/tunnels")" 200
is "JWT: expired, 401" "$(st "$JWT_HS_EXPIRED" GET /api/tunnels)" 401
is "JWT: no exp, 401" "$(st "$JWT_HS_NOEXP" GET /api/tunnels)" 401
is "JWT: alg none, 401" "$(st "$JWT_NONE" GET /api/tunnels)" 401
is "JWT: alg HS384, 401" "$(st "$JWT_HS384" GET /api/tunnels)" 401
is "JWT: unknown kid, 401" "$(st "$JWT_RS_KID" GET /api/tunnels)" 401
is "JWT: RS256 expired, 401" "$(st "$JWT_RS_EXPIRED" GET /api/tunnels)" 401
is "JWT: never the admin (/metrics 403)" "$(st "$JWT_HS" GET /metrics)" 403
is "the hash itself is no key" "$(st "$HASH_BOB" GET /api/tunnels)" 401
no_secret_logged()
{
	! grep -F -e "$JWT_HS" -e "$KEY_BOB" -e "$KEY" -e "$KEY_CFG" \
	    "$TUNNELD_LOG"
}
like "a refused JWT is logged with the reason" "$(cat "$TUNNELD_LOG")" \
    'JWT was refused: the token has expired'

# --- isolation: alice, bob, carol (JWT), and a JWT whose sub is alice ------
start_client --subdomain alice-site "$LOCAL_PORT"
fetch p1 "$SERVER_URL/alice-site/echo"
is "alice's tunnel serves" "$HTTP_STATUS" 200
is "carol (JWT) creates a named tunnel" \
    "$(st "$JWT_HS" POST /api/tunnels '{"name":"carol-site"}')" 201
for who in bob jwt-carol jwt-alice; do
	case $who in
	bob) cred=$KEY_BOB ;;
	jwt-carol) cred=$JWT_HS ;;
	*) cred=$JWT_HS_ALICE ;;
	esac
	st "$cred" GET /api/tunnels >/dev/null
	lacks_alice()
	{
		! grep -q alice-site "$TMPD/st.body"
	}
	check "$who does not list alice's tunnel" lacks_alice
	is "$who: alice's tunnel is 404" "$(st "$cred" GET /api/tunnels/alice-site)" 404
	is "$who: rotating it is 404" \
	    "$(st "$cred" POST /api/tunnels/alice-site/rotate '{}')" 404
	is "$who: deleting it is 404" "$(st "$cred" DELETE /api/tunnels/alice-site)" 404
	is "$who: taking its name is 409" \
	    "$(st "$cred" POST /api/tunnels '{"name":"alice-site"}')" 409
done
is "alice: carol's tunnel is 404" "$(st "$KEY" GET /api/tunnels/carol-site)" 404
is "alice: taking carol's name is 409" \
    "$(st "$KEY" POST /api/tunnels '{"name":"carol-site"}')" 409
is "dave (RS256): carol's tunnel is 404" \
    "$(st "$JWT_RS" DELETE /api/tunnels/carol-site)" 404
fetch p2 "$SERVER_URL/alice-site/echo"
is "alice's tunnel still serves" "$HTTP_STATUS" 200
st "$ADMIN_KEY" GET /api/tunnels/carol-site >/dev/null
like "the admin sees the JWT's tunnel, owned by jwt:carol" \
    "$(cat "$TMPD/st.body")" '"owner":"jwt:carol"'
is "carol deletes her tunnel" "$(st "$JWT_HS" DELETE /api/tunnels/carol-site)" 200

# --- per-key limits ----------------------------------------------------------
is "limited: tunnel 1" "$(st "$KEY_LIM" POST /api/tunnels '{}')" 201
is "limited: tunnel 2" "$(st "$KEY_LIM" POST /api/tunnels '{"name":"lim-b"}')" 201
is "limited: tunnel 3 is over max_tunnels=2, 503" \
    "$(st "$KEY_LIM" POST /api/tunnels '{}')" 503
is "limited: with a JSON error" "$(cat "$TMPD/st.body")" \
    '{"error":"this key'"'"'s tunnel limit is reached"}'
is "limited: taking its own name again is no new tunnel" \
    "$(st "$KEY_LIM" POST /api/tunnels '{"name":"lim-b"}')" 200
is "limited: other keys are not limited by it" \
    "$(st "$KEY_BOB" POST /api/tunnels '{}')" 201
is "limited: deletes one" "$(st "$KEY_LIM" DELETE /api/tunnels/lim-b)" 200
is "limited: then may make one again" "$(st "$KEY_LIM" POST /api/tunnels '{}')" 201
is "pat: demo-1 matches demo-*" \
    "$(st "$KEY_PAT" POST /api/tunnels '{"name":"demo-1"}')" 201
is "pat: acme is listed" "$(st "$KEY_PAT" POST /api/tunnels '{"name":"acme"}')" 201
is "pat: other is outside names=, 403" \
    "$(st "$KEY_PAT" POST /api/tunnels '{"name":"other"}')" 403
is "pat: with a JSON error" "$(cat "$TMPD/st.body")" \
    '{"error":"this key may not take that name"}'
is "pat: acme2 is outside names=, 403" \
    "$(st "$KEY_PAT" POST /api/tunnels '{"subdomain":"acme2"}')" 403
is "pat: a random id is still fine" "$(st "$KEY_PAT" POST /api/tunnels '{}')" 201
is "alice may take demo-2 (no names= for her)" \
    "$(st "$KEY" POST /api/tunnels '{"name":"demo-2"}')" 201
is "pat: demo-2, another key's, is 409" \
    "$(st "$KEY_PAT" POST /api/tunnels '{"name":"demo-2"}')" 409

# --- SIGHUP: alice removed, a new key added; a bad file is refused -----------
cat >"$TMPD/keys" <<EOF
bob:$HASH_BOB
newkey:$KEY_NEW
EOF
kill -HUP "$TUNNELD_PID"
new_works()
{
	[ "$(st "$KEY_NEW" GET /api/tunnels)" = 200 ]
}
check "SIGHUP: the new key works" wait_for $((5 * SLOW)) new_works
is "SIGHUP: the removed key gets 401" "$(st "$KEY" GET /api/tunnels)" 401
is "SIGHUP: a key kept works" "$(st "$KEY_BOB" GET /api/tunnels)" 200
is "SIGHUP: the JWTs still work" "$(st "$JWT_RS" GET /api/tunnels)" 200
fetch p3 "$SERVER_URL/alice-site/echo"
is "SIGHUP: the removed key's tunnel stays up" "$HTTP_STATUS" 200
check "SIGHUP: its agent stays connected" alive "$CLIENT_PID"
for bad in "bob:sha256:1234" "bob:$KEY_BOB max_tunnels=0" \
    "bob:$KEY_BOB colour=blue" "newkey:0123456789"; do
	printf 'newkey:%s\n%s\n' "$KEY_NEW" "$bad" >"$TMPD/keys"
	kill -HUP "$TUNNELD_PID"
	refused()
	{
		[ "$(grep -c 'reload: the new configuration is refused' \
		    "$TUNNELD_LOG")" -ge "$1" ]
	}
	_nref=$((${_nref:-0} + 1))
	check "SIGHUP with bad key file $_nref: refused" \
	    wait_for $((5 * SLOW)) refused "$_nref"
	is "  and the old keys stay" "$(st "$KEY_BOB" GET /api/tunnels)" 200
done
like "the bad line is logged with its line number" "$(cat "$TUNNELD_LOG")" \
    "$TMPD/keys:2: key 'newkey' is too short"
check "no key or token in the log" no_secret_logged
stop_pid "$CLIENT_PID"
stop_pid "$TUNNELD_PID"
is "run A: tunneld exits 0" "$STOP_STATUS" 0

# --- run B: TUNNELD_API_KEY beats the config file ----------------------------
printf 'api_key = cfg:%s\n' "$KEY_CFG" >"$TMPD/tunneld.conf"
TUNNELD_API_KEY=envk:$KEY_ENV
export TUNNELD_API_KEY
run_tunneld
works "TUNNELD_API_KEY" "$KEY_ENV" "$WRONG"
is "TUNNELD_API_KEY replaces the config file's api_key" \
    "$(st "$KEY_CFG" GET /api/tunnels)" 401
is "no JWT configured: a good-looking JWT is 401" \
    "$(st "$JWT_HS" GET /api/tunnels)" 401
is "the env key creates a tunnel" "$(st "$KEY_ENV" POST /api/tunnels '{"name":"env-site"}')" 201
stop_pid "$TUNNELD_PID"

# --- run C: --api-key beats the environment ---------------------------------
run_tunneld --api-key "flagk:$KEY_FLAG"
works "--api-key" "$KEY_FLAG" "$WRONG"
is "--api-key replaces TUNNELD_API_KEY" "$(st "$KEY_ENV" GET /api/tunnels)" 401
is "--api-key: env-site (another key's) is 404" \
    "$(st "$KEY_FLAG" GET /api/tunnels/env-site)" 404
unset TUNNELD_API_KEY
stop_pid "$TUNNELD_PID"

# --- refused at start: short keys, bad JWT settings ---------------------------
: >"$TMPD/tunneld.conf"
start_fails()
{
	_sf_name=$1
	shift
	timeout 20 "$TUNNELD" --config "$TMPD/tunneld.conf" \
	    --listen 127.0.0.1:0 --state-dir "$TMPD/state" "$@" \
	    >"$TMPD/$_sf_name.out" 2>&1
	echo "rc=$?"
}
is "--api-key shorter than 16: exit 1" "$(start_fails s1 --api-key x:0123456789)" rc=1
like "  with a message" "$(cat "$TMPD/s1.out")" 'too short: keys need at least 16'
printf 'x:0123456789\n' >"$TMPD/short.keys"
is "api_key_file with a short key: exit 1" \
    "$(start_fails s2 --api-key-file "$TMPD/short.keys")" rc=1
like "  with the file and line" "$(cat "$TMPD/s2.out")" \
    "short.keys:1: key 'x' is too short"
is "jwt_secret shorter than 32 bytes: exit 1" \
    "$(start_fails s3 --jwt-secret 0123456789abcdef)" rc=1
like "  with a message" "$(cat "$TMPD/s3.out")" 'jwt_secret: the HS256 secret'
printf '{"keys":[]}' >"$TMPD/empty.jwks"
is "a JWKS without RSA keys: exit 1" \
    "$(start_fails s4 --jwt-jwks-file "$TMPD/empty.jwks")" rc=1
like "  with a message" "$(cat "$TMPD/s4.out")" 'no RSA signing key'

done_testing
