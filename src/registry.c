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
	free(t);
}

/* base: "scheme://host[:port]" the caller used, or NULL for public_url. */
char *
tunnel_url(const struct tunnel *t, const char *base)
{
	char		*url;
	const char	*scheme = "http";
	size_t		 n;

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
			if (t->session != NULL)
				session_unref(t->session);
			tunnel_free(t);
		}
		registry_tab[i] = NULL;
	}
	registry_n = 0;
	registry_unlock();
}

/*
 * One lookup per public request: may this caller reach the tunnel, and
 * which session serves it (with a reference for the caller)?  Returns 0,
 * or the status to answer: 404 no such tunnel, 403 not on its allow list,
 * 401 basic auth missing or wrong, 502 no agent connected.
 * *strip_authz: the Authorization header is the tunnel's, not the app's.
 */
int
registry_session(const char *id, const struct sockaddr *sa, const char *authz,
    bool *strip_authz, struct session **sp)
{
	return registry_session_stats(id, sa, authz, strip_authz, sp, NULL);
}

/*
 * The same, and when the tunnel exists (whatever the answer) a reference
 * to its counters in *tsp, if given.
 */
int
registry_session_stats(const char *id, const struct sockaddr *sa,
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
	if ((t = registry_find_locked(id)) == NULL) {
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
	if (r == 0 && t->session == NULL)
		r = 502;
	if (r == 0) {
		*sp = t->session;
		session_ref(*sp);
		t->last_active = util_wall_s();
		t->requests++;
	}
	registry_unlock();
	return r;
}

bool
registry_check_token(const char *id, const char *token)
{
	struct tunnel	*t;
	char		 h[UTIL_SHA256_HEX];
	bool		 ok = false;

	util_sha256_hex(token, strlen(token), h);
	registry_lock();
	if ((t = registry_find_locked(id)) != NULL)
		ok = util_ct_eq(h, t->token_hash, sizeof(h));
	registry_unlock();
	return ok;
}

/*
 * From the loop, on the agent's HELLO: the tunnel is served by s now.  A
 * session already there is stale (the agent reconnected) and is dropped.
 * The token is checked again: it may have been rotated, or the tunnel
 * deleted and made anew, since the agent connected.  TUN_EPERM: it was.
 */
int
registry_attach(struct session *s, char **url)
{
	struct tunnel	*t;
	struct session	*old;

	registry_lock();
	if ((t = registry_find_locked(s->tunnel_id)) == NULL) {
		registry_unlock();
		return TUN_ENOENT;
	}
	if (!util_ct_eq(s->token_hash, t->token_hash, sizeof(s->token_hash))) {
		registry_unlock();
		return TUN_EPERM;
	}
	old = t->session;
	session_ref(s);
	t->session = s;
	t->disconnected_at = 0;
	t->last_active = util_wall_s();
	*url = tunnel_url(t, s->base);
	registry_unlock();
	if (old != NULL) {
		log_info("tunnel %s: agent reconnected, dropping the old "
		    "session", s->tunnel_id);
		loop_kick(old, PROTO_GOAWAY_REPLACED, "replaced by a new "
		    "connection");
	}
	return 0;
}

void
registry_detach(struct session *s)
{
	struct tunnel	*t;
	bool		 was = false;

	registry_lock();
	if ((t = registry_find_locked(s->tunnel_id)) != NULL &&
	    t->session == s) {
		t->session = NULL;
		t->disconnected_at = util_wall_s();
		was = true;
	}
	registry_unlock();
	if (was)
		session_unref(s);
}

struct cleanup_arg {
	int64_t		 now;
	size_t		 removed;
};

static void
registry_cleanup_one(struct tunnel *t, void *arg)
{
	struct cleanup_arg	*ca = arg;

	if (t->named || t->session != NULL || cfg.idle_timeout <= 0)
		return;
	if (ca->now - t->disconnected_at < cfg.idle_timeout)
		return;
	log_info("tunnel %s: removed after %d s without an agent", t->id,
	    cfg.idle_timeout);
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
