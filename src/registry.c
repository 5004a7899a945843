/*
 * The registry: every tunnel by id, under one mutex.  A tunnel points at
 * its connected session (holding a reference); the session loop attaches
 * and detaches, the API creates, deletes and rotates.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

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
	t->created_at = t->last_active = t->disconnected_at = util_wall_s();
	return t;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	free(t->metadata);
	explicit_bzero(t->token_hash, sizeof(t->token_hash));
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
 * The session serving a tunnel, with a reference for the caller.
 * TUN_ENOENT: no such tunnel; TUN_ECLOSED: no agent connected.
 */
int
registry_session(const char *id, struct session **sp)
{
	struct tunnel	*t;
	int		 r = 0;

	*sp = NULL;
	registry_lock();
	if ((t = registry_find_locked(id)) == NULL)
		r = TUN_ENOENT;
	else if (t->session == NULL)
		r = TUN_ECLOSED;
	else {
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
