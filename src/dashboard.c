/*
 * The dashboard at /dashboard: one page (src/dashboard.html, built into
 * the binary) for the admin, and the JSON it reads.
 *
 *   GET  /dashboard                      the page, or the login form
 *   POST /dashboard/login                key=ADMIN_KEY (a form): cookie
 *   POST /dashboard/logout               ends the session
 *   GET  /dashboard/api/tunnels          every tunnel, counters, uptime bar
 *   GET  /dashboard/api/tunnels/ID/uptime  its history, 24 h and 30 days
 *   POST /dashboard/api/tunnels/ID/delete, .../rotate
 *
 * Everything but the page and the login needs the session cookie
 * (HttpOnly, SameSite=Strict, Path=/dashboard, Secure under HTTPS); the
 * POSTs also need the session's CSRF token in X-CSRF-Token.  The page
 * holds no secret: no key, no token, no hash.  Failed logins are logged
 * and limited per source address (websess.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#include "src/dashboard-page.h"	/* dashboard_html[], made from the .html */

#define DASH_BARS		90	/* the heartbeat bar: 24 h in 90 */
#define DASH_BAR_SLOTS		(UPTIME_FINE / DASH_BARS)
#define DASH_DAYS		30
#define DASH_DAY_SLOTS		UPTIME_FINE
#define DASH_NO_COOKIE		"The key was right, but the browser did not " \
				"keep the session cookie: it is Secure, so " \
				"use the https address."
#define DASH_CSP		"default-src 'none'; script-src 'nonce-%s'; " \
				"style-src 'nonce-%s'; connect-src 'self'; " \
				"img-src 'self' data:; form-action 'self'; " \
				"frame-ancestors 'none'; base-uri 'none'"

struct dash_list {
	struct json_object	*arr;
	const char		*base;
	int64_t			 slot;
};

static bool	 dashboard_https(struct MHD_Connection *);
static void	 dashboard_addr(struct MHD_Connection *, char *, size_t);
static bool	 dashboard_session(struct MHD_Connection *, struct websess *,
		    char *, size_t);
static enum MHD_Result dashboard_send(struct MHD_Connection *, int,
		    const char *, const char *, const char *, const char *);
static enum MHD_Result dashboard_json(struct MHD_Connection *, int,
		    struct json_object *);
static enum MHD_Result dashboard_error(struct MHD_Connection *, int,
		    const char *);
static enum MHD_Result dashboard_page(struct MHD_Connection *, int,
		    const char *, const char *, const char *, const char *);
static char	*dashboard_fill(const char *const [][2]);
static char	*dashboard_cookie(const char *, bool);
static enum MHD_Result dashboard_login(struct MHD_Connection *, struct preq *);
static enum MHD_Result dashboard_logout(struct MHD_Connection *,
		    const char *);
static enum MHD_Result dashboard_list(struct MHD_Connection *);
static enum MHD_Result dashboard_uptime(struct MHD_Connection *,
		    const char *);
static enum MHD_Result dashboard_action(struct MHD_Connection *,
		    const char *, const char *);
static void	 dashboard_list_one(struct tunnel *, void *);
static struct json_object *dashboard_bars(const struct uptime *, int64_t,
		    int, int);
static struct json_object *dashboard_percent(const struct uptime *, int64_t,
		    int64_t);

/*
 * Does the caller reach the dashboard over HTTPS?  Then its cookie is
 * Secure.  The scheme is the one tunnel URLs get: a trusted proxy's
 * X-Forwarded-Proto (http_request_base), or public_url's; the TLS
 * listener, once tunneld has one, answers for itself here.
 */
static bool
dashboard_https(struct MHD_Connection *c)
{
	char	*base;
	bool	 https;

	if (tls_enabled())
		return true;		/* tls.c terminates every connection */
	base = http_request_base(c);
	if (base != NULL)
		https = strncmp(base, "https:", 6) == 0;
	else
		https = strncmp(tunneld_public_base(), "https:", 6) == 0;
	free(base);
	return https;
}

/* Whom failed logins are counted for: a trusted proxy's caller, if any. */
static void
dashboard_addr(struct MHD_Connection *c, char *addr, size_t len)
{
	const char	*xff, *last;
	size_t		 n;

	if (!http_trusted(c, addr, len, NULL) ||
	    (xff = http_header(c, "X-Forwarded-For")) == NULL)
		return;
	last = strrchr(xff, ',') != NULL ? strrchr(xff, ',') + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	n = strcspn(last, " \t");
	if (n > 0 && n < len) {
		memcpy(addr, last, n);
		addr[n] = '\0';
	}
}

/*
 * The caller's session, if its cookie names a live one whose admin key is
 * still configured; the cookie value goes to cookie (for the logout).
 */
static bool
dashboard_session(struct MHD_Connection *c, struct websess *ws, char *cookie,
    size_t len)
{
	const char	*hdr = http_header(c, "Cookie");
	bool		 ok;

	if (!websess_cookie(hdr, WEBSESS_COOKIE, cookie, len))
		return false;
	ok = websess_lookup(cookie, util_wall_s(), ws) &&
	    keys_admin_hash(ws->key_hash);
	if (!ok)
		explicit_bzero(ws, sizeof(*ws));
	return ok;
}

/* Every answer: no caching, no framing, no sniffing, no referrer. */
static enum MHD_Result
dashboard_send(struct MHD_Connection *c, int status, const char *type,
    const char *body, const char *cookie, const char *csp)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(strlen(body),
	    (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, "Content-Type", type);
	(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	(void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	(void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
	(void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (csp != NULL)
		(void)MHD_add_response_header(r, "Content-Security-Policy",
		    csp);
	if (cookie != NULL)
		(void)MHD_add_response_header(r, "Set-Cookie", cookie);
	if (status == 303)	/* ?login=1: tells a cookie refused, below */
		(void)MHD_add_response_header(r, "Location",
		    "/dashboard?login=1");
	if (status == 429)
		(void)MHD_add_response_header(r, "Retry-After", "60");
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	metrics_request_done(status, 0);
	return ret;
}

static enum MHD_Result
dashboard_json(struct MHD_Connection *c, int status, struct json_object *o)
{
	enum MHD_Result	ret;

	ret = dashboard_send(c, status, "application/json",
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE), NULL, NULL);
	json_object_put(o);
	return ret;
}

static enum MHD_Result
dashboard_error(struct MHD_Connection *c, int status, const char *msg)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	return dashboard_json(c, status, o);
}

/*
 * The page with its @NAME@ fields filled from vars (pairs, NULL-ended);
 * a name not in vars stays as it is.  Values are our own: tokens of
 * [A-Za-z0-9] and fixed messages without markup.
 */
static char *
dashboard_fill(const char *const vars[][2])
{
	const char	*p = dashboard_html, *at, *end;
	char		*out = NULL;
	size_t		 len = 0, i, n;
	FILE		*f;

	if ((f = open_memstream(&out, &len)) == NULL)
		fatal("open_memstream");
	while ((at = strchr(p, '@')) != NULL) {
		fwrite(p, 1, (size_t)(at - p), f);
		p = at + 1;
		if ((end = strchr(p, '@')) == NULL) {
			fputc('@', f);		/* a lone one: keep it */
			break;
		}
		n = (size_t)(end - p);
		for (i = 0; vars[i][0] != NULL; i++)
			if (strlen(vars[i][0]) == n &&
			    strncmp(vars[i][0], p, n) == 0)
				break;
		if (vars[i][0] == NULL) {
			fputc('@', f);		/* not a field: keep it */
			continue;
		}
		fputs(vars[i][1], f);
		p = end + 1;
	}
	fputs(p, f);
	if (fclose(f) != 0)
		fatal("open_memstream");
	return out;
}

/* view "login" (with a message, maybe) or "main" (with the CSRF token). */
static enum MHD_Result
dashboard_page(struct MHD_Connection *c, int status, const char *view,
    const char *csrf, const char *msg, const char *cookie)
{
	char		 nonce[23], csp[512], *page;
	enum MHD_Result	 ret;
	const char	*vars[][2] = {
		{ "NONCE", nonce }, { "VIEW", view }, { "CSRF", csrf },
		{ "MESSAGE", msg }, { "VERSION", PACKAGE_VERSION },
		{ NULL, NULL }
	};

	util_random_token(nonce, sizeof(nonce));
	(void)snprintf(csp, sizeof(csp), DASH_CSP, nonce, nonce);
	page = dashboard_fill(vars);
	ret = dashboard_send(c, status, "text/html; charset=utf-8", page,
	    cookie, csp);
	free(page);
	return ret;
}

/* The Set-Cookie value for a session (value NULL: the cookie's end). */
static char *
dashboard_cookie(const char *value, bool secure)
{
	char	*s;

	xasprintf(&s, "%s=%s; Path=/dashboard; Max-Age=%d; HttpOnly; "
	    "SameSite=Strict%s", WEBSESS_COOKIE, value != NULL ? value : "",
	    value != NULL ? WEBSESS_TTL : 0, secure ? "; Secure" : "");
	return s;
}

static enum MHD_Result
dashboard_login(struct MHD_Connection *c, struct preq *pr)
{
	const struct apikey	*k;
	char			 key[1024], addr[64] = "?";
	char			 cookie[WEBSESS_COOKIE_LEN + 1];
	char			 csrf[WEBSESS_CSRF_LEN + 1], *set;
	int64_t			 now = util_wall_s();
	int			 n;
	enum MHD_Result		 ret;

	(void)http_trusted(c, addr, sizeof(addr), NULL);
	dashboard_addr(c, addr, sizeof(addr));
	if (websess_throttled(addr, now) > 0) {
		log_warn("dashboard: login from %s refused: too many failures",
		    addr);
		return dashboard_page(c, 429, "login", "", "Too many failed "
		    "logins from your address; wait a minute.", NULL);
	}
	if (!websess_form((const char *)tbuf_ptr(&pr->body),
	    tbuf_len(&pr->body), "key", key, sizeof(key)))
		key[0] = '\0';
	k = keys_check(key);
	explicit_bzero(key, sizeof(key));
	if (k == NULL || !k->admin) {
		n = websess_failed(addr, now);
		log_warn("dashboard: failed login from %s (%s; %d in a row)",
		    addr, k == NULL ? "wrong key" : "not the admin key", n);
		return dashboard_page(c, k == NULL ? 401 : 403, "login", "",
		    k == NULL ? "That is not the admin key." :
		    "That key is not the admin key.", NULL);
	}
	websess_new(k->hash, now, cookie, sizeof(cookie), csrf, sizeof(csrf));
	set = dashboard_cookie(cookie, dashboard_https(c));
	log_info("dashboard: %s logged in from %s", k->name, addr);
	ret = dashboard_send(c, 303, "text/plain; charset=utf-8",
	    "Logged in.\n", set, NULL);
	explicit_bzero(cookie, sizeof(cookie));
	freezero(set, strlen(set));
	return ret;
}

static enum MHD_Result
dashboard_logout(struct MHD_Connection *c, const char *cookie)
{
	struct json_object	*o = json_object_new_object();
	char			*set;
	enum MHD_Result		 ret;

	websess_end(cookie);
	set = dashboard_cookie(NULL, dashboard_https(c));
	json_object_object_add(o, "logged_out", json_object_new_boolean(1));
	ret = dashboard_send(c, 200, "application/json",
	    json_object_to_json_string(o), set, NULL);
	json_object_put(o);
	free(set);
	return ret;
}

/* nbars bars of width slots, the last ending now: permille or -1. */
static struct json_object *
dashboard_bars(const struct uptime *u, int64_t now, int width, int nbars)
{
	struct json_object	*a = json_object_new_array();
	int			 v[DASH_BARS > DASH_DAYS ? DASH_BARS : DASH_DAYS];
	int			 i;

	for (i = 0; i < nbars; i++)
		v[i] = -1;
	if (u != NULL)
		uptime_bars(u, now, width, nbars, v);
	for (i = 0; i < nbars; i++)
		json_object_array_add(a, json_object_new_int(v[i]));
	return a;
}

/* Connected share of the samples in the last `slots`, or null. */
static struct json_object *
dashboard_percent(const struct uptime *u, int64_t now, int64_t slots)
{
	unsigned	n = 0, up = 0;

	if (u != NULL)
		uptime_sum(u, now + 1 - slots, now + 1, &n, &up);
	if (n == 0)
		return NULL;
	return json_object_new_double((double)(up * 10000ull / n) / 100.0);
}

/* Registry locked: one row of the list. */
static void
dashboard_list_one(struct tunnel *t, void *arg)
{
	struct dash_list	*dl = arg;
	struct json_object	*o = json_object_new_object(), *a, *up;
	struct tcounts		 tc;
	uint64_t		 total = 0;
	char			 ts[32], *url;
	int			 i;

	metrics_tunnel_counts(t->stats, &tc);
	for (i = 0; i < 5; i++)
		total += tc.req[i];
	json_object_object_add(o, "tunnel_id", json_object_new_string(t->id));
	json_object_object_add(o, "owner", json_object_new_string(t->owner));
	json_object_object_add(o, "type", json_object_new_string(t->type));
	json_object_object_add(o, "named", json_object_new_boolean(t->named));
	url = tunnel_url(t, dl->base);
	json_object_object_add(o, "url", json_object_new_string(url));
	free(url);
	json_object_object_add(o, "connected",
	    json_object_new_boolean(tunnel_connected(t)));
	a = json_object_new_array();
	for (i = 0; i < t->nsessions; i++)
		json_object_array_add(a,
		    json_object_new_string(t->sessions[i]->peer));
	json_object_object_add(o, "agents", a);
	util_iso8601(t->created_at, ts, sizeof(ts));
	json_object_object_add(o, "created_at", json_object_new_string(ts));
	util_iso8601(t->last_active, ts, sizeof(ts));
	json_object_object_add(o, "last_active", json_object_new_string(ts));
	json_object_object_add(o, "requests", json_object_new_int64(
	    (int64_t)total));
	json_object_object_add(o, "requests_4xx", json_object_new_int64(
	    (int64_t)tc.req[3]));
	json_object_object_add(o, "requests_5xx", json_object_new_int64(
	    (int64_t)tc.req[4]));
	json_object_object_add(o, "error_rate", json_object_new_double(
	    total == 0 ? 0.0 : (double)(tc.req[4] * 10000 / total) / 10000));
	json_object_object_add(o, "bytes_in", json_object_new_int64(
	    (int64_t)tc.bytes_in));
	json_object_object_add(o, "bytes_out", json_object_new_int64(
	    (int64_t)tc.bytes_out));
	json_object_object_add(o, "open_streams",
	    json_object_new_int(tc.open));
	up = json_object_new_object();
	json_object_object_add(up, "bars", dashboard_bars(t->uptime, dl->slot,
	    DASH_BAR_SLOTS, DASH_BARS));
	json_object_object_add(up, "percent_24h",
	    dashboard_percent(t->uptime, dl->slot, UPTIME_FINE));
	json_object_object_add(up, "percent_30d", dashboard_percent(t->uptime,
	    dl->slot, (int64_t)UPTIME_GROUP * UPTIME_COARSE));
	json_object_object_add(o, "uptime", up);
	json_object_array_add(dl->arr, o);
}

static enum MHD_Result
dashboard_list(struct MHD_Connection *c)
{
	struct json_object	*o = json_object_new_object();
	char			*base = http_request_base(c), *cmd;
	const char		*server = base != NULL ? base :
				    tunneld_public_base();
	struct dash_list	 dl = { json_object_new_array(), base,
				    history_slot() };

	registry_lock();
	registry_foreach_locked(dashboard_list_one, &dl);
	registry_unlock();
	json_object_object_add(o, "tunnels", dl.arr);
	json_object_object_add(o, "total",
	    json_object_new_int((int)json_object_array_length(dl.arr)));
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "server", json_object_new_string(server));
	json_object_object_add(o, "now", json_object_new_int64(util_wall_s()));
	json_object_object_add(o, "uptime_interval",
	    json_object_new_int(cfg.uptime_interval));
	json_object_object_add(o, "bar_slots",
	    json_object_new_int(DASH_BAR_SLOTS));
	xasprintf(&cmd, "tunnel-client --server %s --api-key YOUR_API_KEY "
	    "3000", server);
	json_object_object_add(o, "client_command",
	    json_object_new_string(cmd));
	free(cmd);
	free(base);
	return dashboard_json(c, 200, o);
}

static enum MHD_Result
dashboard_uptime(struct MHD_Connection *c, const char *id)
{
	struct json_object	*o;
	struct tunnel		*t;
	int64_t			 now = history_slot();
	unsigned		 n = 0, up = 0, n30 = 0, up30 = 0;

	registry_lock();
	if ((t = registry_find_locked(id)) == NULL) {
		registry_unlock();
		return dashboard_error(c, 404, "no such tunnel");
	}
	o = json_object_new_object();
	json_object_object_add(o, "tunnel_id", json_object_new_string(t->id));
	json_object_object_add(o, "uptime_interval",
	    json_object_new_int(cfg.uptime_interval));
	json_object_object_add(o, "slot", json_object_new_int64(now));
	if (t->uptime != NULL) {
		uptime_sum(t->uptime, now + 1 - UPTIME_FINE, now + 1, &n, &up);
		uptime_sum(t->uptime, now + 1 - (int64_t)UPTIME_GROUP *
		    UPTIME_COARSE, now + 1, &n30, &up30);
	}
	json_object_object_add(o, "samples_24h", json_object_new_int64(n));
	json_object_object_add(o, "connected_24h", json_object_new_int64(up));
	json_object_object_add(o, "samples_30d", json_object_new_int64(n30));
	json_object_object_add(o, "connected_30d",
	    json_object_new_int64(up30));
	json_object_object_add(o, "bar_slots",
	    json_object_new_int(DASH_BAR_SLOTS));
	json_object_object_add(o, "bars_24h", dashboard_bars(t->uptime, now,
	    DASH_BAR_SLOTS, DASH_BARS));
	json_object_object_add(o, "day_slots",
	    json_object_new_int(DASH_DAY_SLOTS));
	json_object_object_add(o, "bars_30d", dashboard_bars(t->uptime, now,
	    DASH_DAY_SLOTS, DASH_DAYS));
	registry_unlock();
	return dashboard_json(c, 200, o);
}

/* delete or rotate, for the admin: the agent is told why it must go. */
static enum MHD_Result
dashboard_action(struct MHD_Connection *c, const char *id, const char *verb)
{
	struct json_object	*o;
	char			 token[TUNNELD_TOKEN_LEN + 1];
	int			 r;

	if (strcmp(verb, "delete") == 0)
		r = registry_delete(id, NULL);
	else {
		/* The owner's client gets a new token with its own key. */
		r = registry_rotate(id, NULL, token, sizeof(token));
		explicit_bzero(token, sizeof(token));
	}
	if (r != 0)
		return dashboard_error(c, 404, "no such tunnel");
	log_info("tunnel %s: %s from the dashboard", id, strcmp(verb,
	    "delete") == 0 ? "deleted" : "token rotated");
	o = json_object_new_object();
	json_object_object_add(o, "tunnel_id", json_object_new_string(id));
	json_object_object_add(o, strcmp(verb, "delete") == 0 ? "deleted" :
	    "rotated", json_object_new_boolean(1));
	return dashboard_json(c, 200, o);
}

/* Everything under /dashboard (url is that or starts "/dashboard/"). */
enum MHD_Result
dashboard_dispatch(struct MHD_Connection *c, struct preq *pr, const char *url,
    const char *method)
{
	struct websess	 ws;
	char		 cookie[WEBSESS_COOKIE_LEN + 1], id[TUNNELD_ID_LEN];
	const char	*p, *slash;
	bool		 get = strcmp(method, "GET") == 0 ||
			    strcmp(method, "HEAD") == 0;
	bool		 post = strcmp(method, "POST") == 0, in;
	size_t		 n;
	enum MHD_Result	 ret;

	if (pr->too_big)
		return dashboard_error(c, 413, "request body too large");
	if (strcmp(url, "/dashboard/login") == 0 && post)
		return dashboard_login(c, pr);
	in = dashboard_session(c, &ws, cookie, sizeof(cookie));
	if (strcmp(url, "/dashboard") == 0 || strcmp(url, "/dashboard/") == 0 ||
	    strcmp(url, "/dashboard/login") == 0) {
		if (!get)
			ret = dashboard_error(c, 405, "method not allowed");
		else if (!in)
			ret = dashboard_page(c, 200, "login", "",
			    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
			    "login") == NULL ? "" : DASH_NO_COOKIE, NULL);
		else
			ret = dashboard_page(c, 200, "main", ws.csrf, "", NULL);
		goto out;
	}
	if (!in) {
		ret = dashboard_error(c, 401, "log in to the dashboard first");
		goto out;
	}
	if (post && !websess_csrf_ok(&ws, http_header(c, "X-CSRF-Token"))) {
		log_warn("dashboard: %s %s without the CSRF token", method, url);
		ret = dashboard_error(c, 403, "missing or wrong CSRF token");
		goto out;
	}
	if (strcmp(url, "/dashboard/logout") == 0) {
		ret = post ? dashboard_logout(c, cookie) :
		    dashboard_error(c, 405, "method not allowed");
		goto out;
	}
	if (strcmp(url, "/dashboard/api/tunnels") == 0) {
		ret = get ? dashboard_list(c) :
		    dashboard_error(c, 405, "method not allowed");
		goto out;
	}
	if (strncmp(url, "/dashboard/api/tunnels/", 23) != 0 ||
	    (slash = strchr(p = url + 23, '/')) == NULL ||
	    (n = (size_t)(slash - p)) == 0 || n >= sizeof(id)) {
		ret = dashboard_error(c, 404, "not found");
		goto out;
	}
	memcpy(id, p, n);
	id[n] = '\0';
	if (strcmp(slash + 1, "uptime") == 0)
		ret = get ? dashboard_uptime(c, id) :
		    dashboard_error(c, 405, "method not allowed");
	else if (strcmp(slash + 1, "delete") == 0 ||
	    strcmp(slash + 1, "rotate") == 0)
		ret = post ? dashboard_action(c, id, slash + 1) :
		    dashboard_error(c, 405, "method not allowed");
	else
		ret = dashboard_error(c, 404, "not found");
out:
	explicit_bzero(&ws, sizeof(ws));
	explicit_bzero(cookie, sizeof(cookie));
	return ret;
}
