/*
 * The registry: every tunnel by id, under one mutex.  A tunnel points at
 * its connected session (holding a reference); the session loop attaches
 * and detaches, the API creates, deletes and rotates.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define REGISTRY_BUCKETS	4096

static pthread_mutex_t	 registry_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct tunnel	*registry_tab[REGISTRY_BUCKETS];
static size_t		 registry_n;

static unsigned		 registry_hash(const char *);
static char		*tunnel_tcp_url(const struct tunnel *, const char *);

static unsigned
registry_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h % REGISTRY_BUCKETS;
}

void
registry_init(void)
{
}

void
registry_lock(void)
{
	pthread_mutex_lock(&registry_mtx);
}

void
registry_unlock(void)
{
	pthread_mutex_unlock(&registry_mtx);
}

struct tunnel *
tunnel_new(const char *id, const char *owner)
{
	struct tunnel	*t = xcalloc(1, sizeof(*t));

	util_strlcpy(t->id, id, sizeof(t->id));
	util_strlcpy(t->owner, owner, sizeof(t->owner));
	util_strlcpy(t->type, "http", sizeof(t->type));
	t->stats = metrics_tunnel_new();
	t->created_at = t->last_active = t->disconnected_at = util_wall_s();
	return t;
}

static void
tunnel_clear_access(struct tunnel *t)
{
	size_t	i;

	free(t->auth_user);
	t->auth_user = NULL;
	explicit_bzero(t->auth_hash, sizeof(t->auth_hash));
	for (i = 0; i < t->nallow; i++)
		free(t->allow_spec[i]);
	free(t->allow_spec);
	free(t->allow);
	t->allow_spec = NULL;
	t->allow = NULL;
	t->nallow = 0;
}

/* Restore from the state file: the hash, never the password. */
void
tunnel_set_auth_hash(struct tunnel *t, const char *user, const char *salt,
    const char *hash)
{
	free(t->auth_user);
	t->auth_user = xstrdup(user);
	util_strlcpy(t->auth_salt, salt, sizeof(t->auth_salt));
	util_strlcpy(t->auth_hash, hash, sizeof(t->auth_hash));
}

static void
tunnel_hash_password(const char *salt, const char *pass, char *out)
{
	char	*buf;
	int	 n;

	n = xasprintf(&buf, "%s%s", salt, pass);
	util_sha256_hex(buf, (size_t)n, out);
	freezero(buf, (size_t)n);
}

/*
 * Visitor access of a tunnel: basic auth as "user:pass" (NULL: none) and
 * an allow list of CIDRs (none: everyone).  Replaces what was set.
 */
int
tunnel_set_access(struct tunnel *t, const char *basic, const char *const *cidrs,
    size_t ncidrs, const char **err)
{
	const char	*colon;
	struct cidr	*allow = NULL;
	size_t		 i;

	if (basic != NULL && ((colon = strchr(basic, ':')) == NULL ||
	    colon == basic || colon[1] == '\0' || colon - basic > 128 ||
	    strlen(colon + 1) > 256)) {
		*err = "basic_auth must be \"user:password\"";
		return TUN_EINVAL;
	}
	if (ncidrs > 0)
		allow = xcalloc(ncidrs, sizeof(*allow));
	for (i = 0; i < ncidrs; i++) {
		if (util_cidr_parse(cidrs[i], &allow[i]) != 0) {
			free(allow);
			*err = "allow_cidr must hold addresses or CIDRs";
			return TUN_EINVAL;
		}
	}
	tunnel_clear_access(t);
	if (basic != NULL) {
		colon = strchr(basic, ':');
		t->auth_user = xstrndup(basic, (size_t)(colon - basic));
		util_random_token(t->auth_salt, sizeof(t->auth_salt));
		tunnel_hash_password(t->auth_salt, colon + 1, t->auth_hash);
	}
	t->allow = allow;
	t->nallow = ncidrs;
	if (ncidrs > 0)
		t->allow_spec = xcalloc(ncidrs, sizeof(*t->allow_spec));
	for (i = 0; i < ncidrs; i++)
		t->allow_spec[i] = xstrdup(cidrs[i]);
	return 0;
}

/* The allow list as given, for the API and the state file. */
struct json_object *
tunnel_allow_json(const struct tunnel *t)
{
	struct json_object	*a = json_object_new_array();
	size_t			 i;

	for (i = 0; i < t->nallow; i++)
		json_object_array_add(a, json_object_new_string(t->allow_spec[i]));
	return a;
}

/* "Basic base64(user:pass)" against the tunnel's user and hash. */
static bool
tunnel_check_basic(const struct tunnel *t, const char *authz)
{
	gnutls_datum_t	 in, out = { NULL, 0 };
	char		 h[UTIL_SHA256_HEX], *cred = NULL, *pass;
	bool		 ok = false, user_ok, pass_ok;

	if (authz == NULL || strncasecmp(authz, "Basic ", 6) != 0)
		return false;
	authz += 6;
	while (*authz == ' ')
		authz++;
	in.data = (unsigned char *)(uintptr_t)authz;
	in.size = (unsigned int)strlen(authz);
	if (in.size == 0 || in.size > 1024 ||
	    gnutls_base64_decode2(&in, &out) != 0)
		return false;
	cred = xstrndup((const char *)out.data, out.size);
	if (strlen(cred) != out.size || (pass = strchr(cred, ':')) == NULL)
		goto out;		/* a NUL inside, or no colon */
	*pass++ = '\0';
	tunnel_hash_password(t->auth_salt, pass, h);
	/* Both comparisons always run: no early exit on the user name. */
	user_ok = util_ct_streq(cred, t->auth_user);
	pass_ok = util_ct_eq(h, t->auth_hash, sizeof(h));
	ok = user_ok && pass_ok;
out:
	freezero(cred, out.size + 1);
	explicit_bzero(out.data, out.size);
	gnutls_free(out.data);
	return ok;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	tunnel_clear_access(t);
	free(t->metadata);
	explicit_bzero(t->token_hash, sizeof(t->token_hash));
	metrics_tunnel_unref(t->stats);
	free(t->uptime);
	free(t);
}

/*
 * A new token for t: the only one (add false: every other stops working),
 * or one more for an agent joining the pool (the oldest goes past
 * TUNNELD_POOL_MAX).  Only its hash is kept.
 */
void
tunnel_set_token(struct tunnel *t, const char *token, bool add)
{
	int	n = add ? t->ntokens : 0;

	if (n >= TUNNELD_POOL_MAX)
		n = TUNNELD_POOL_MAX - 1;
	memmove(t->token_hash[1], t->token_hash[0],
	    (size_t)n * sizeof(t->token_hash[0]));
	util_sha256_hex(token, strlen(token), t->token_hash[0]);
	t->ntokens = n + 1;
}

/* Is hash one of t's tokens?  Every slot is compared: constant time. */
static bool
tunnel_token_ok(const struct tunnel *t, const char *hash)
{
	bool	ok = false;
	int	i;

	for (i = 0; i < t->ntokens; i++)
		ok |= util_ct_eq(hash, t->token_hash[i], UTIL_SHA256_HEX);
	return ok;
}

bool
tunnel_connected(const struct tunnel *t)
{
	return t->nsessions > 0;
}

/* Unhook every agent of t (registry locked); the caller kicks them. */
int
tunnel_take_sessions(struct tunnel *t, struct session *out[TUNNELD_POOL_MAX])
{
	int	n = t->nsessions;

	memcpy(out, t->sessions, (size_t)n * sizeof(*out));
	t->nsessions = 0;
	if (n > 0)
		t->disconnected_at = util_wall_s();
	return n;
}

/* Kick sessions taken from tunnel id, registry unlocked. */
void
registry_kick(struct session *const *ss, int n, const char *id, int code,
    const char *why)
{
	int	i;

	for (i = 0; i < n; i++)
		loop_kick(ss[i], id, code, why);
}

/* tcp://HOST:PORT, HOST from the base the caller used or public_url. */
static char *
tunnel_tcp_url(const struct tunnel *t, const char *base)
{
	char		 host[256], *url;
	const char	*p, *end;
	size_t		 n;

	if (base == NULL)
		base = tunneld_public_base();
	p = (p = strstr(base, "://")) != NULL ? p + 3 : base;
	if (*p == '[')
		end = strchr(p, ']') != NULL ? strchr(p, ']') + 1 : p + strlen(p);
	else
		end = p + strcspn(p, ":/");
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(host))
		util_strlcpy(host, "localhost", sizeof(host));
	else {
		memcpy(host, p, n);
		host[n] = '\0';
	}
	xasprintf(&url, "tcp://%s:%d", host, t->tcp_port);
	return url;
}

/* base: "scheme://host[:port]" the caller used, or NULL for public_url. */
char *
tunnel_url(const struct tunnel *t, const char *base)
{
	char		*url;
	const char	*scheme = "http";
	size_t		 n;

	if (t->tcp_port > 0)
		return tunnel_tcp_url(t, base);
	if (cfg.domain != NULL && *cfg.domain != '\0') {
		if ((cfg.public_url != NULL &&
		    strncmp(cfg.public_url, "https:", 6) == 0) ||
		    (base != NULL && strncmp(base, "https:", 6) == 0))
			scheme = "https";
		xasprintf(&url, "%s://%s.%s/", scheme, t->id, cfg.domain);
		return url;
	}
	if (base == NULL)
		base = tunneld_public_base();
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	xasprintf(&url, "%.*s/%s/", (int)n, base, t->id);
	return url;
}

struct tunnel *
registry_find_locked(const char *id)
{
	struct tunnel	*t;

	for (t = registry_tab[registry_hash(id)]; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

/* The tunnel on a public TCP port, or NULL. */
struct tunnel *
registry_find_port_locked(int port)
{
	struct tunnel	*t;
	size_t		 i;

	for (i = 0; i < REGISTRY_BUCKETS; i++)
		for (t = registry_tab[i]; t != NULL; t = t->next)
			if (t->tcp_port == port)
				return t;
	return NULL;
}

int
registry_add_locked(struct tunnel *t)
{
	unsigned	h = registry_hash(t->id);

	if (registry_find_locked(t->id) != NULL)
		return TUN_EEXIST;
	t->next = registry_tab[h];
	registry_tab[h] = t;
	registry_n++;
	return 0;
}

/* Unlink; the caller kicks t->session and frees t. */
void
registry_remove_locked(struct tunnel *t)
{
	struct tunnel	**pp;

	for (pp = &registry_tab[registry_hash(t->id)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			registry_n--;
			return;
		}
	}
}

size_t
registry_count_locked(void)
{
	return registry_n;
}

size_t
registry_count_owner_locked(const char *owner)
{
	struct tunnel	*t;
	size_t		 i, n = 0;

	for (i = 0; i < REGISTRY_BUCKETS; i++)
		for (t = registry_tab[i]; t != NULL; t = t->next)
			if (strcmp(t->owner, owner) == 0)
				n++;
	return n;
}

void
registry_foreach_locked(void (*fn)(struct tunnel *, void *), void *arg)
{
	struct tunnel	*t, *next;
	size_t		 i;

	for (i = 0; i < REGISTRY_BUCKETS; i++) {
		for (t = registry_tab[i]; t != NULL; t = next) {
			next = t->next;
			fn(t, arg);
		}
	}
}

/* Free everything at exit (sessions are gone by then). */
void
registry_free(void)
{
	struct tunnel	*t, *next;
	size_t		 i;

	registry_lock();
	for (i = 0; i < REGISTRY_BUCKETS; i++) {
		for (t = registry_tab[i]; t != NULL; t = next) {
			next = t->next;
			while (t->nsessions > 0)
				session_unref(t->sessions[--t->nsessions]);
			tunnel_free(t);
		}
		registry_tab[i] = NULL;
	}
	registry_n = 0;
	registry_unlock();
}

/*
 * One lookup per public request: may this caller reach the tunnel, and
 * which session serves it (with a reference for the caller)?  tcp: the
 * caller came to a TCP tunnel's port (and an HTTP caller never reaches a
 * TCP tunnel, nor the other way round).  Returns 0,
 * or the status to answer: 404 no such tunnel, 403 not on its allow list,
 * 401 basic auth missing or wrong, 502 no agent connected.
 * *strip_authz: the Authorization header is the tunnel's, not the app's.
 */
int
registry_session(const char *id, bool tcp, const struct sockaddr *sa,
    const char *authz, bool *strip_authz, struct session **sp)
{
	return registry_session_stats(id, tcp, sa, authz, strip_authz, sp,
	    NULL);
}

/*
 * The same, and when the tunnel exists (whatever the answer) a reference
 * to its counters in *tsp, if given.
 */
int
registry_session_stats(const char *id, bool tcp, const struct sockaddr *sa,
    const char *authz, bool *strip_authz, struct session **sp,
    struct tstats **tsp)
{
	struct tunnel	*t;
	size_t		 i;
	int		 r = 0;

	*sp = NULL;
	*strip_authz = false;
	if (tsp != NULL)
		*tsp = NULL;
	registry_lock();
	if ((t = registry_find_locked(id)) == NULL ||
	    (t->tcp_port > 0) != tcp) {
		registry_unlock();
		return 404;
	}
	if (tsp != NULL) {
		metrics_tunnel_ref(t->stats);
		*tsp = t->stats;
	}
	if (t->nallow > 0) {
		for (i = 0; sa != NULL && i < t->nallow; i++)
			if (util_cidr_match(&t->allow[i], sa))
				break;
		if (sa == NULL || i == t->nallow)
			r = 403;
	}
	if (r == 0 && t->auth_user != NULL) {
		*strip_authz = true;
		if (!tunnel_check_basic(t, authz))
			r = 401;
	}
	if (r == 0 && t->nsessions == 0)
		r = 502;
	if (r == 0) {
		/* Round robin over the pool. */
		*sp = t->sessions[t->rr++ % (unsigned)t->nsessions];
		session_ref(*sp);
		t->last_active = util_wall_s();
		t->requests++;
	}
	registry_unlock();
	return r;
}

/*
 * Another agent of the tunnel than `not` (which went away before a stream
 * it was given could start), with a reference; NULL if none is left.
 */
struct session *
registry_other_session(const char *id, const struct session *not)
{
	struct tunnel	*t;
	struct session	*s = NULL;
	int		 i;

	registry_lock();
	if ((t = registry_find_locked(id)) != NULL) {
		for (i = 0; i < t->nsessions; i++) {
			s = t->sessions[(t->rr++ + (unsigned)i) %
			    (unsigned)t->nsessions];
			if (s != not)
				break;
			s = NULL;
		}
	}
	if (s != NULL)
		session_ref(s);
	registry_unlock();
	return s;
}

/* Is token one of tunnel id's?  Its owner's key name to owner, if given. */
bool
registry_check_token(const char *id, const char *token, char *owner,
    size_t len)
{
	struct tunnel	*t;
	char		 h[UTIL_SHA256_HEX];
	bool		 ok = false;

	util_sha256_hex(token, strlen(token), h);
	if (owner != NULL && len > 0)
		owner[0] = '\0';
	registry_lock();
	if ((t = registry_find_locked(id)) != NULL)
		ok = tunnel_token_ok(t, h);
	if (ok && owner != NULL)
		util_strlcpy(owner, t->owner, len);
	registry_unlock();
	return ok;
}

/*
 * From the loop, on the agent's HELLO (the tunnel it connected to) or
 * ATTACH (one more): s serves tunnel id now, having shown a token with
 * hash token_hash.  An agent
 * with the same agent_id is the same client reconnecting: its stale
 * session is dropped at once.  Agents with other ids join the pool and
 * share the requests; an agent without one replaces every other (it cannot
 * say whether it is new).  The token is checked again: it may have been
 * rotated, or the tunnel deleted and made anew, since the agent connected.
 * TUN_EPERM: it was.  TUN_ELIMIT: the pool is full.  TUN_EDENIED: the
 * deny list names the tunnel or the agent's address (checked under the
 * registry's lock, so registry_deny_sweep() after a reload misses none).
 */
int
registry_attach(struct session *s, const char *id, const char *token_hash,
    char **url)
{
	struct tunnel	*t;
	struct session	*old[TUNNELD_POOL_MAX];
	int		 i, nold = 0;

	registry_lock();
	if ((t = registry_find_locked(id)) == NULL) {
		registry_unlock();
		return TUN_ENOENT;
	}
	if (!tunnel_token_ok(t, token_hash)) {
		registry_unlock();
		return TUN_EPERM;
	}
	if (limits_denied_name(id) || limits_denied_addr(&s->src)) {
		registry_unlock();
		return TUN_EDENIED;
	}
	if (s->agent_id == NULL)
		nold = tunnel_take_sessions(t, old);
	for (i = 0; i < t->nsessions; i++) {
		if (t->sessions[i]->agent_id != NULL &&
		    strcmp(t->sessions[i]->agent_id, s->agent_id) == 0) {
			old[nold++] = t->sessions[i];
			t->sessions[i] = t->sessions[--t->nsessions];
			break;
		}
	}
	if (t->nsessions >= TUNNELD_POOL_MAX) {	/* so nold is 0 */
		registry_unlock();
		return TUN_ELIMIT;
	}
	session_ref(s);
	t->sessions[t->nsessions++] = s;
	t->disconnected_at = 0;
	t->last_active = util_wall_s();
	*url = tunnel_url(t, s->base);
	i = t->nsessions;
	registry_unlock();
	if (nold > 0)
		log_info("tunnel %s: agent reconnected, dropping the old "
		    "session", id);
	else if (i > 1)
		log_info("tunnel %s: %d agents share it now", id, i);
	registry_kick(old, nold, id, PROTO_GOAWAY_REPLACED,
	    "replaced by a new connection");
	return 0;
}

/* s no longer serves every tunnel it served (it is gone). */
void
registry_detach(struct session *s)
{
	int	i;

	registry_detach_one(s, s->tunnel_id);
	for (i = 0; i < s->nmore; i++)
		registry_detach_one(s, s->more[i]);
}

/* s no longer serves tunnel id (if it did: the registry's reference). */
void
registry_detach_one(struct session *s, const char *id)
{
	struct tunnel	*t;
	bool		 was = false;
	int		 i;

	registry_lock();
	if ((t = registry_find_locked(id)) != NULL) {
		for (i = 0; i < t->nsessions; i++) {
			if (t->sessions[i] != s)
				continue;
			/* Keep the order: round robin stays fair. */
			memmove(&t->sessions[i], &t->sessions[i + 1],
			    (size_t)(t->nsessions - i - 1) *
			    sizeof(t->sessions[0]));
			t->nsessions--;
			if (t->nsessions == 0)
				t->disconnected_at = util_wall_s();
			was = true;
			break;
		}
	}
	registry_unlock();
	if (was)
		session_unref(s);
}

/*
 * Delete tunnel id (owner NULL: whoever owns it; else only the owner's):
 * its agents are told, its TCP port closed, the state saved.
 * TUN_ENOENT: no such tunnel, or another's.
 */
int
registry_delete(const char *id, const char *owner)
{
	struct tunnel	*t;
	struct session	*ss[TUNNELD_POOL_MAX];
	int		 n;

	registry_lock();
	if ((t = registry_find_locked(id)) == NULL ||
	    (owner != NULL && strcmp(t->owner, owner) != 0)) {
		registry_unlock();
		return TUN_ENOENT;
	}
	n = tunnel_take_sessions(t, ss);
	tcp_close(t->id, t->tcp_port);
	registry_remove_locked(t);
	(void)state_save_locked();
	registry_unlock();
	registry_kick(ss, n, t->id, PROTO_GOAWAY_DELETED, "tunnel deleted");
	tunnel_free(t);
	state_sync();
	return 0;
}

/*
 * A new token for tunnel id (owner as for registry_delete), into token
 * (len bytes), the only one: the old ones stop working and the agents
 * holding them are dropped.
 */
int
registry_rotate(const char *id, const char *owner, char *token, size_t len)
{
	struct tunnel	*t;
	struct session	*ss[TUNNELD_POOL_MAX];
	int		 n;

	registry_lock();
	if ((t = registry_find_locked(id)) == NULL ||
	    (owner != NULL && strcmp(t->owner, owner) != 0)) {
		registry_unlock();
		return TUN_ENOENT;
	}
	util_random_token(token, len);
	tunnel_set_token(t, token, false);
	n = tunnel_take_sessions(t, ss);
	(void)state_save_locked();
	registry_unlock();
	registry_kick(ss, n, id, PROTO_GOAWAY_ROTATED, "token rotated");
	state_sync();
	return 0;
}

struct sweep_arg {
	struct session	**ss;
	char		(*ids)[TUNNELD_ID_LEN];
	size_t		  n;
};

static void
registry_sweep_one(struct tunnel *t, void *arg)
{
	struct sweep_arg	*sa = arg;
	bool			 named = limits_denied_name(t->id);
	int			 i;

	for (i = t->nsessions - 1; i >= 0; i--) {
		if (!named && !limits_denied_addr(&t->sessions[i]->src))
			continue;
		sa->ss = xreallocarray(sa->ss, sa->n + 1, sizeof(*sa->ss));
		sa->ids = xreallocarray(sa->ids, sa->n + 1, sizeof(*sa->ids));
		sa->ss[sa->n] = t->sessions[i];	/* the registry's ref */
		util_strlcpy(sa->ids[sa->n++], t->id, TUNNELD_ID_LEN);
		memmove(&t->sessions[i], &t->sessions[i + 1],
		    (size_t)(t->nsessions - i - 1) * sizeof(t->sessions[0]));
		if (--t->nsessions == 0)
			t->disconnected_at = util_wall_s();
	}
}

/*
 * The deny list changed (SIGHUP): agents of a tunnel it names, or
 * connected from an address it names, are let go with GOAWAY "deleted",
 * so tunnel-client stops.  The tunnels stay (a named one answers 403)
 * and come back to life once the rule goes.
 */
void
registry_deny_sweep(void)
{
	struct sweep_arg	sa = { NULL, NULL, 0 };
	size_t			i;

	registry_lock();
	registry_foreach_locked(registry_sweep_one, &sa);
	registry_unlock();
	for (i = 0; i < sa.n; i++) {
		log_info("tunnel %s: agent from %s dropped: denied", sa.ids[i],
		    sa.ss[i]->peer);
		loop_kick(sa.ss[i], sa.ids[i], PROTO_GOAWAY_DELETED,
		    "tunnel disabled");
	}
	free(sa.ss);
	free(sa.ids);
}

struct cleanup_arg {
	int64_t		 now;
	size_t		 removed;
};

static void
registry_cleanup_one(struct tunnel *t, void *arg)
{
	struct cleanup_arg	*ca = arg;
	int			 idle = CFG_GET(idle_timeout);

	if (t->named || t->nsessions > 0 || idle <= 0)
		return;
	if (ca->now - t->disconnected_at < idle)
		return;
	log_info("tunnel %s: removed after %d s without an agent", t->id,
	    idle);
	tcp_close(t->id, t->tcp_port);
	registry_remove_locked(t);
	tunnel_free(t);
	ca->removed++;
}

/* Random-id tunnels with no agent for idle_timeout go away. */
void
registry_cleanup(void)
{
	struct cleanup_arg	ca = { util_wall_s(), 0 };

	registry_lock();
	registry_foreach_locked(registry_cleanup_one, &ca);
	if (ca.removed > 0)
		state_save_locked();
	registry_unlock();
}
