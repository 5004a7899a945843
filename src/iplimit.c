/*
 * max_conns_per_ip: connections open per caller address, an IPv6 caller
 * counted by its /64 (a subscriber has one to pick addresses from; the
 * rate limits do the same, ratelimit.c).  libmicrohttpd 0.9.75 counts
 * IPv6 by the whole address, so tunneld counts itself: on its connections
 * (http.c) and on those still in the TLS layer (tls.c).
 *
 * An open-addressed table of IPLIMIT_SLOTS addresses with a count, probed
 * IPLIMIT_PROBE slots from a keyed hash.  A neighbourhood full of other
 * addresses lets the connection through (libmicrohttpd's own cap and the
 * descriptor limit still hold): several thousand addresses must be held
 * open for that, and the key keeps them from aiming at one.
 */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tunneld.h"
#include "util.h"
#include "xmalloc.h"

#define IPLIMIT_SLOTS	8192		/* addresses counted at once */
#define IPLIMIT_PROBE	16

struct ipslot {
	uint8_t		 addr[16];	/* IPv6 /64, or IPv4 mapped */
	uint32_t	 n;		/* 0: free */
};

static struct ipslot	*iplimit_find_locked(struct iplimit *,
			    const uint8_t [16], struct ipslot **);

/* A table for max connections per address; max 0: no limit. */
void
iplimit_init(struct iplimit *lim, unsigned int max)
{
	memset(lim, 0, sizeof(*lim));
	pthread_mutex_init(&lim->mtx, NULL);
	if (max == 0)
		return;
	lim->max = max;
	lim->slots = xcalloc(IPLIMIT_SLOTS, sizeof(*lim->slots));
	(void)util_random(&lim->seed, sizeof(lim->seed));
}

void
iplimit_free(struct iplimit *lim)
{
	free(lim->slots);
	lim->slots = NULL;
	pthread_mutex_destroy(&lim->mtx);
}

/* The address sa counts as: IPv4 mapped, an IPv6 /64; zeros for others. */
void
iplimit_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 16);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(key, &sin6->sin6_addr, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memset(key + 8, 0, 8);
	} else if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
	}
}

static struct ipslot *
iplimit_find_locked(struct iplimit *lim, const uint8_t key[16],
    struct ipslot **freep)
{
	struct ipslot	*sl;
	uint32_t	 h = 2166136261u ^ lim->seed;
	int		 i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	*freep = NULL;
	for (i = 0; i < IPLIMIT_PROBE; i++) {
		sl = &lim->slots[(h + (uint32_t)i) % IPLIMIT_SLOTS];
		if (sl->n > 0 && memcmp(sl->addr, key, 16) == 0)
			return sl;
		if (sl->n == 0 && *freep == NULL)
			*freep = sl;
	}
	return NULL;
}

/*
 * One more connection of key: IPLIMIT_TAKEN (counted: iplimit_put() it
 * later), IPLIMIT_FULL (it has max already; with force, it is counted
 * anyway: the caller checked before, iplimit_full()) or IPLIMIT_PASS (not
 * counted: no limit, or no room in the table).
 */
int
iplimit_take(struct iplimit *lim, const uint8_t key[16], bool force)
{
	struct ipslot	*sl, *fr;
	int		 r = IPLIMIT_PASS;

	if (lim->slots == NULL)
		return IPLIMIT_PASS;
	pthread_mutex_lock(&lim->mtx);
	if ((sl = iplimit_find_locked(lim, key, &fr)) != NULL) {
		if (sl->n >= lim->max && !force)
			r = IPLIMIT_FULL;
		else {
			sl->n++;
			r = IPLIMIT_TAKEN;
		}
	} else if (fr != NULL) {
		memcpy(fr->addr, key, 16);
		fr->n = 1;
		r = IPLIMIT_TAKEN;
	}
	pthread_mutex_unlock(&lim->mtx);
	return r;
}

/* Has key max connections already? */
bool
iplimit_full(struct iplimit *lim, const uint8_t key[16])
{
	struct ipslot	*sl, *fr;
	bool		 full;

	if (lim->slots == NULL)
		return false;
	pthread_mutex_lock(&lim->mtx);
	full = (sl = iplimit_find_locked(lim, key, &fr)) != NULL &&
	    sl->n >= lim->max;
	pthread_mutex_unlock(&lim->mtx);
	return full;
}

/* One connection of key less (one that iplimit_take() counted). */
void
iplimit_put(struct iplimit *lim, const uint8_t key[16])
{
	struct ipslot	*sl, *fr;

	if (lim->slots == NULL)
		return;
	pthread_mutex_lock(&lim->mtx);
	if ((sl = iplimit_find_locked(lim, key, &fr)) != NULL)
		sl->n--;
	pthread_mutex_unlock(&lim->mtx);
}
