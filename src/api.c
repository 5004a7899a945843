/*
 * The control API: JSON in, JSON out, a key on every call but /health and
 * /api.  A key sees only the tunnels it made (another's: 404, so ids do
 * not leak); the admin key sees all.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

static enum MHD_Result	 api_send(struct MHD_Connection *, int,
			    struct json_object *);
static enum MHD_Result	 api_health(struct MHD_Connection *);
static enum MHD_Result	 api_index(struct MHD_Connection *);
static enum MHD_Result	 api_metrics(struct MHD_Connection *);
static enum MHD_Result	 api_create(struct MHD_Connection *, struct preq *,
			    const struct apikey *);
static enum MHD_Result	 api_list(struct MHD_Connection *,
			    const struct apikey *);
static enum MHD_Result	 api_one(struct MHD_Connection *,
			    const struct apikey *, const char *, const char *,
			    const char *);
static enum MHD_Result	 api_one_base(struct MHD_Connection *,
			    const struct apikey *, const char *, const char *,
			    const char *, const char *);
static struct json_object *api_tunnel_json(const struct tunnel *, bool,
			    const char *);
static bool		 api_may(const struct apikey *, const struct tunnel *);
static void		 api_new_token(struct tunnel *, char *, size_t, bool);
static int		 api_random_id(char *, size_t);

#define API_RANDOM_TRIES	100

static enum MHD_Result
api_send(struct MHD_Connection *c, int status, struct json_object *o)
{
	enum MHD_Result	ret;

	ret = http_send(c, status, "application/json",
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ret;
}

static enum MHD_Result
api_health(struct MHD_Connection *c)
{
	struct json_object	*o = json_object_new_object();
	size_t			 n;

	registry_lock();
	n = registry_count_locked();
	registry_unlock();
	json_object_object_add(o, "status", json_object_new_string(
	    atomic_load(&tunneld_draining) ? "draining" : "ok"));
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "tunnels", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "agents",
	    json_object_new_int(session_count()));
	return api_send(c, 200, o);
}

static enum MHD_Result
api_index(struct MHD_Connection *c)
{
	static const char *const eps[] = {
		"POST /api/tunnels", "POST /api/tunnels/create",
		"GET /api/tunnels", "GET /api/tunnels/list",
		"GET /api/tunnels/{id}", "GET /api/tunnels/{id}/status",
		"DELETE /api/tunnels/{id}", "POST /api/tunnels/{id}/rotate",
		"GET /api/tunnel/connect/{id}", "GET /health", "GET /metrics",
		NULL
	};
	struct json_object	*o = json_object_new_object(), *a;
	size_t			 i;

	a = json_object_new_array();
	for (i = 0; eps[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(eps[i]));
	json_object_object_add(o, "name", json_object_new_string("tunneld"));
	json_object_object_add(o, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "protocol",
	    json_object_new_int(PROTOCOL_VERSION));
	json_object_object_add(o, "endpoints", a);
	return api_send(c, 200, o);
}

static enum MHD_Result
api_metrics(struct MHD_Connection *c)
{
	const struct apikey	*k = keys_from_request(c);
	char			*text;
	enum MHD_Result		 ret;

	if (k == NULL)
		return http_send_json_error(c, 401, "missing or wrong API key");
	if (!k->admin)
		return http_send_json_error(c, 403, "the admin key is needed");
	text = metrics_render();
	ret = http_send(c, 200, "text/plain; version=0.0.4", text);
	free(text);
	return ret;
}

enum MHD_Result
api_dispatch(struct MHD_Connection *c, struct preq *pr, const char *url,
    const char *method)
{
	const struct apikey	*k;
	char			 id[TUNNELD_ID_LEN];
	const char		*p, *slash;
	unsigned int		 retry;
	bool			 get = strcmp(method, "GET") == 0 ||
				    strcmp(method, "HEAD") == 0;
	bool			 post = strcmp(method, "POST") == 0;

	metrics_add(M_API_REQUESTS, 1);
	if (strcmp(url, "/health") == 0)
		return get ? api_health(c) :
		    http_send_json_error(c, 405, "method not allowed");
	if (strcmp(url, "/api") == 0 || strcmp(url, "/api/") == 0)
		return get ? api_index(c) :
		    http_send_json_error(c, 405, "method not allowed");
	if (strcmp(url, "/metrics") == 0)
		return api_metrics(c);
	if (strncmp(url, "/api/tunnels", 12) != 0 ||
	    (url[12] != '\0' && url[12] != '/'))
		return http_send_json_error(c, 404, "not found");
	if ((k = keys_from_request(c)) == NULL)
		return http_send_json_error(c, 401, "missing or wrong API key");
	if ((retry = limits_key(k->name)) > 0)
		return http_send_json_retry(c, 429, "too many requests with "
		    "this key; slow down", retry);
	if (pr->too_big)
		return http_send_json_error(c, 413, "request body too large");
	p = url + 12;
	if (*p == '\0' || strcmp(p, "/") == 0 || strcmp(p, "/create") == 0 ||
	    strcmp(p, "/list") == 0) {
		if (post && strcmp(p, "/list") != 0)
			return api_create(c, pr, k);
		if (get && strcmp(p, "/create") != 0)
			return api_list(c, k);
		return http_send_json_error(c, 405, "method not allowed");
	}
	p++;			/* past the slash: "{id}" or "{id}/verb" */
	slash = strchr(p, '/');
	if ((slash ? (size_t)(slash - p) : strlen(p)) >= sizeof(id))
		return http_send_json_error(c, 404, "no such tunnel");
	util_strlcpy(id, p, slash ? (size_t)(slash - p) + 1 : sizeof(id));
	return api_one(c, k, id, slash ? slash + 1 : "", method);
}

static bool
api_may(const struct apikey *k, const struct tunnel *t)
{
	return k->admin || strcmp(k->name, t->owner) == 0;
}

/*
 * A random id no tunnel has, not reserved, and not denied (registry
 * locked).  TUN_EDENIED when the deny list takes every one we try (a "*").
 */
static int
api_random_id(char *id, size_t len)
{
	int	i;

	for (i = 0; i < API_RANDOM_TRIES; i++) {
		util_random_id(id, TUNNELD_RANDOM_ID + 1 < len ?
		    TUNNELD_RANDOM_ID + 1 : len);
		if (registry_find_locked(id) == NULL && !http_reserved(id) &&
		    !limits_denied_name(id))
			return 0;
	}
	return TUN_EDENIED;
}

static void
api_new_token(struct tunnel *t, char *token, size_t len, bool add)
{
	util_random_token(token, len);
	tunnel_set_token(t, token, add);
}

static struct json_object *
api_tunnel_json(const struct tunnel *t, bool admin, const char *base)
{
	struct json_object	*o = json_object_new_object();
	char			 ts[32], *url;

	json_object_object_add(o, "tunnel_id", json_object_new_string(t->id));
	json_object_object_add(o, "name", t->named ?
	    json_object_new_string(t->id) : NULL);
	json_object_object_add(o, "type", json_object_new_string(t->type));
	url = tunnel_url(t, base);
	json_object_object_add(o, "url", json_object_new_string(url));
	free(url);
	json_object_object_add(o, "status", json_object_new_string(
	    tunnel_connected(t) ? "connected" : "disconnected"));
	json_object_object_add(o, "connected",
	    json_object_new_boolean(tunnel_connected(t)));
	json_object_object_add(o, "agents",
	    json_object_new_int(t->nsessions));
	util_iso8601(t->created_at, ts, sizeof(ts));
	json_object_object_add(o, "created_at", json_object_new_string(ts));
	util_iso8601(t->last_active, ts, sizeof(ts));
	json_object_object_add(o, "last_active", json_object_new_string(ts));
	if (t->local_port > 0)
		json_object_object_add(o, "local_port",
		    json_object_new_int(t->local_port));
	json_object_object_add(o, "requests",
	    json_object_new_int64((int64_t)t->requests));
	json_object_object_add(o, "basic_auth",
	    json_object_new_boolean(t->auth_user != NULL));
	if (t->nallow > 0)
		json_object_object_add(o, "allow_cidr", tunnel_allow_json(t));
	if (t->metadata != NULL)
		json_object_object_add(o, "metadata",
		    json_tokener_parse(t->metadata));
	if (admin)
		json_object_object_add(o, "owner",
		    json_object_new_string(t->owner));
	if (limits_denied_name(t->id))
		json_object_object_add(o, "disabled",
		    json_object_new_boolean(true));
	return o;
}

static enum MHD_Result
api_create(struct MHD_Connection *c, struct preq *pr, const struct apikey *k)
{
	struct apibody		 cr;
	struct json_object	*o;
	struct tunnel		*t, *scratch;
	struct session		*old[TUNNELD_POOL_MAX];
	int			 nold = 0;
	const char		*err = NULL;
	int			 r;
	char			 id[TUNNELD_ID_LEN], token[TUNNELD_TOKEN_LEN + 1];
	char			 msg[128];
	int			 status = 201;
	enum MHD_Result		 ret;
	char			*base = http_request_base(c);

	if ((r = apibody_parse((const char *)tbuf_ptr(&pr->body),
	    tbuf_len(&pr->body), &cr, msg, sizeof(msg))) != 0) {
		ret = http_send_json_error(c, r == TUN_ETOOBIG ? 413 : 400,
		    msg);
		goto out;
	}
	if (cr.name != NULL && http_reserved(cr.name)) {
		ret = http_send_json_error(c, 400,
		    "that name is reserved by the server");
		goto out;
	}
	if (cr.name != NULL && limits_denied_name(cr.name)) {
		metrics_add(M_DENIED, 1);
		log_info("key %s may not take the name %s: denied", k->name,
		    cr.name);
		ret = http_send_json_error(c, 403, "that name is denied on "
		    "this server");
		goto out;
	}
	if (cr.name != NULL && !keyfile_name_allowed(k, cr.name)) {
		log_info("key %s may not take the name %s", k->name, cr.name);
		ret = http_send_json_error(c, 403,
		    "this key may not take that name");
		goto out;
	}
	/* Validate the access settings before anything changes. */
	scratch = tunnel_new("scratch", k->name);
	r = tunnel_set_access(scratch, cr.basic_auth, cr.cidrs, cr.ncidrs,
	    &err);
	tunnel_free(scratch);
	if (r != 0) {
		ret = http_send_json_error(c, 400, err);
		goto out;
	}
	if (cr.tcp && cr.basic_auth != NULL) {
		ret = http_send_json_error(c, 400, "basic_auth is for http "
		    "tunnels");
		goto out;
	}
	registry_lock();
	t = NULL;
	if (cr.name != NULL)
		t = registry_find_locked(cr.name);
	else if (cr.tcp && cr.remote_port != 0)
		t = registry_find_port_locked(cr.remote_port);
	if (t != NULL && (t->tcp_port > 0) != cr.tcp) {
		registry_unlock();
		ret = http_send_json_error(c, 409, strcmp(t->owner,
		    k->name) != 0 ? "that name is taken" : "that name is a "
		    "tunnel of another type");
		goto out;
	}
	if (t != NULL && cr.tcp && cr.remote_port != 0 &&
	    t->tcp_port != cr.remote_port) {
		registry_unlock();
		ret = http_send_json_error(c, 409, "that tunnel has another "
		    "port");
		goto out;
	}
	if (t != NULL) {
		if (strcmp(t->owner, k->name) != 0) {
			registry_unlock();
			ret = http_send_json_error(c, 409, "that name is taken");
			goto out;
		}
		/*
		 * The same key again: same tunnel, fresh token; the agents
		 * on the old one are dropped, unless the new one joins them.
		 */
		if (!cr.pool)
			nold = tunnel_take_sessions(t, old);
		status = 200;
	} else {
		int	max = CFG_GET(max_tunnels);

		if (max > 0 && registry_count_locked() >= (size_t)max) {
			registry_unlock();
			ret = http_send_json_error(c, 503,
			    "the server's tunnel limit is reached");
			goto out;
		}
		if (k->max_tunnels > 0 && registry_count_owner_locked(k->name)
		    >= (size_t)k->max_tunnels) {
			registry_unlock();
			ret = http_send_json_error(c, 503,
			    "this key's tunnel limit is reached");
			goto out;
		}
		if (cr.name != NULL)
			util_strlcpy(id, cr.name, sizeof(id));
		else if (api_random_id(id, sizeof(id)) != 0) {
			registry_unlock();
			ret = http_send_json_error(c, 403, "new tunnels are "
			    "denied on this server");
			goto out;
		}
		t = tunnel_new(id, k->name);
		t->named = cr.name != NULL || cr.remote_port != 0;
		if (cr.tcp && (r = tcp_open_locked(t, cr.remote_port,
		    &err)) != 0) {
			registry_unlock();
			tunnel_free(t);
			ret = http_send_json_error(c, r, err);
			goto out;
		}
		(void)registry_add_locked(t);
	}
	(void)tunnel_set_access(t, cr.basic_auth, cr.cidrs, cr.ncidrs, &err);
	if (cr.local_port > 0)
		t->local_port = cr.local_port;
	if (cr.metadata != NULL) {
		free(t->metadata);
		t->metadata = cr.metadata;
		cr.metadata = NULL;
	}
	api_new_token(t, token, sizeof(token), cr.pool && status == 200);
	(void)state_save_locked();
	o = api_tunnel_json(t, k->admin, base);
	registry_unlock();
	registry_kick(old, nold, json_object_get_string(
	    json_object_object_get(o, "tunnel_id")), PROTO_GOAWAY_REPLACED,
	    "a new token was issued");
	state_sync();
	log_info("tunnel %s: %s by key %s", json_object_get_string(
	    json_object_object_get(o, "tunnel_id")),
	    status == 201 ? "created" : "taken again", k->name);
	json_object_object_add(o, "auth_token", json_object_new_string(token));
	explicit_bzero(token, sizeof(token));
	ret = api_send(c, status, o);
out:
	free(base);
	apibody_free(&cr);
	return ret;
}

struct list_arg {
	const struct apikey	*k;
	struct json_object	*arr;
	const char		*base;
	int			 n;
};

static void
api_list_one(struct tunnel *t, void *arg)
{
	struct list_arg	*la = arg;

	if (!api_may(la->k, t))
		return;
	json_object_array_add(la->arr, api_tunnel_json(t, la->k->admin,
	    la->base));
	la->n++;
}

static enum MHD_Result
api_list(struct MHD_Connection *c, const struct apikey *k)
{
	struct json_object	*o = json_object_new_object();
	char			*base = http_request_base(c);
	struct list_arg		 la = { k, json_object_new_array(),
				    base, 0 };

	registry_lock();
	registry_foreach_locked(api_list_one, &la);
	registry_unlock();
	free(base);
	json_object_object_add(o, "tunnels", la.arr);
	json_object_object_add(o, "total", json_object_new_int(la.n));
	return api_send(c, 200, o);
}

static enum MHD_Result
api_one(struct MHD_Connection *c, const struct apikey *k, const char *id,
    const char *verb, const char *method)
{
	char		*base = http_request_base(c);
	enum MHD_Result	 ret;

	ret = api_one_base(c, k, id, verb, method, base);
	free(base);
	return ret;
}

static enum MHD_Result
api_one_base(struct MHD_Connection *c, const struct apikey *k, const char *id,
    const char *verb, const char *method, const char *base)
{
	struct tunnel		*t;
	struct session		*ss[TUNNELD_POOL_MAX];
	struct json_object	*o;
	char			 token[TUNNELD_TOKEN_LEN + 1];
	int			 n;
	bool			 get = strcmp(method, "GET") == 0 ||
				    strcmp(method, "HEAD") == 0;

	registry_lock();
	if ((t = registry_find_locked(id)) == NULL || !api_may(k, t)) {
		registry_unlock();
		return http_send_json_error(c, 404, "no such tunnel");
	}
	if (get && (*verb == '\0' || strcmp(verb, "status") == 0)) {
		o = api_tunnel_json(t, k->admin, base);
		registry_unlock();
		return api_send(c, 200, o);
	}
	if (strcmp(method, "DELETE") == 0 && *verb == '\0') {
		registry_unlock();
		if (registry_delete(id, k->admin ? NULL : k->name) != 0)
			return http_send_json_error(c, 404, "no such tunnel");
		log_info("tunnel %s: deleted by key %s", id, k->name);
		o = json_object_new_object();
		json_object_object_add(o, "deleted", json_object_new_string(id));
		return api_send(c, 200, o);
	}
	if (strcmp(method, "POST") == 0 && strcmp(verb, "rotate") == 0) {
		api_new_token(t, token, sizeof(token), false);
		n = tunnel_take_sessions(t, ss);
		(void)state_save_locked();
		o = api_tunnel_json(t, k->admin, base);
		registry_unlock();
		registry_kick(ss, n, id, PROTO_GOAWAY_ROTATED,
		    "token rotated");
		state_sync();
		log_info("tunnel %s: token rotated by key %s", id, k->name);
		json_object_object_add(o, "auth_token",
		    json_object_new_string(token));
		explicit_bzero(token, sizeof(token));
		return api_send(c, 200, o);
	}
	registry_unlock();
	if (*verb != '\0' && strcmp(verb, "status") != 0 &&
	    strcmp(verb, "rotate") != 0)
		return http_send_json_error(c, 404, "not found");
	return http_send_json_error(c, 405, "method not allowed");
}
