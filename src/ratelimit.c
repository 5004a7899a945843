/*
 * Token buckets by key, in a table of bounded size (the rate limits of
 * limits.c).  A bucket holds up to `burst` tokens and gains `rate` a
 * second; a request takes one, and a refused one takes none.
 *
 * Buckets are found through a hash keyed with a random secret (SipHash-1-3,
 * so chosen keys cannot pile up in one chain) and kept on a list from the
 * most to the least recently used.  At the cap a new key takes over the
 * least recently used bucket: a flood of new keys (addresses) costs a
 * fixed amount of memory and only makes the oldest buckets forget.  A full
 * bucket is the same as none, so ratelimit_expire() frees those from the
 * old end of the list.  Every call but ratelimit_expire() is O(1).
 *
 * Time is the caller's, in milliseconds of a monotonic clock, so the tests
 * run on a fake one.  Rate and burst come with each call: a reload applies
 * to the buckets there are.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

#define RATELIMIT_MILLI		1000ULL		/* a token, in thousandths */
#define RATELIMIT_LOG_MS	1000		/* a line a second per bucket */

struct rlbucket {
	struct rlbucket	*hnext;		/* hash chain */
	struct rlbucket	*prev, *next;	/* use list: head is the newest */
	uint64_t	 stamp;		/* ms of the last refill */
	uint64_t	 full_at;	/* ms when it is full again */
	uint64_t	 next_log;	/* ms from which a refusal is logged */
	uint64_t	 milli;		/* tokens, in thousandths */
	uint64_t	 hash;
	uint32_t	 suppressed;	/* refusals not logged since */
	char		 key[RATELIMIT_KEY];
};

struct ratelimit {
	pthread_mutex_t	  mtx;
	struct rlbucket	**tab;
	size_t		  mask;
	size_t		  n, cap;
	struct rlbucket	 *head, *tail;
	uint64_t	  seed[2];
};

static uint64_t	 ratelimit_hash(const uint64_t[2], const char *, size_t);
static struct rlbucket *ratelimit_find(struct ratelimit *, const char *,
		    uint64_t);
static void	 ratelimit_unlink(struct ratelimit *, struct rlbucket *);
static void	 ratelimit_push(struct ratelimit *, struct rlbucket *);
static void	 ratelimit_refill(struct rlbucket *, uint64_t, uint64_t,
		    uint64_t);

#define RL_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RL_ROUND do {							\
	v0 += v1; v1 = RL_ROTL(v1, 13); v1 ^= v0; v0 = RL_ROTL(v0, 32);	\
	v2 += v3; v3 = RL_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = RL_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = RL_ROTL(v1, 17); v1 ^= v2; v2 = RL_ROTL(v2, 32);	\
} while (0)

/* SipHash-1-3 of s under the table's secret. */
static uint64_t
ratelimit_hash(const uint64_t k[2], const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint64_t		 v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t		 v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t		 v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t		 v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t		 m, b = (uint64_t)len << 56;
	size_t			 i, j;

	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		RL_ROUND;
		v0 ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	RL_ROUND;
	v0 ^= b;
	v2 ^= 0xff;
	RL_ROUND;
	RL_ROUND;
	RL_ROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* A table of at most cap buckets (at least 1). */
struct ratelimit *
ratelimit_new(size_t cap)
{
	struct ratelimit	*rl = xcalloc(1, sizeof(*rl));
	size_t			 size = 16;

	if (cap == 0)
		cap = 1;
	while (size < cap && size < ((size_t)1 << 30))
		size <<= 1;
	pthread_mutex_init(&rl->mtx, NULL);
	rl->tab = xcalloc(size, sizeof(*rl->tab));
	rl->mask = size - 1;
	rl->cap = cap;
	if (util_random(rl->seed, sizeof(rl->seed)) != 0)
		fatalx("ratelimit: no random numbers");
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	struct rlbucket	*b, *next;

	if (rl == NULL)
		return;
	for (b = rl->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	pthread_mutex_destroy(&rl->mtx);
	free(rl->tab);
	free(rl);
}

static struct rlbucket *
ratelimit_find(struct ratelimit *rl, const char *key, uint64_t h)
{
	struct rlbucket	*b;

	for (b = rl->tab[h & rl->mask]; b != NULL; b = b->hnext)
		if (b->hash == h && strcmp(b->key, key) == 0)
			return b;
	return NULL;
}

/* Out of the hash chain and the use list. */
static void
ratelimit_unlink(struct ratelimit *rl, struct rlbucket *b)
{
	struct rlbucket	**pp;

	for (pp = &rl->tab[b->hash & rl->mask]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == b) {
			*pp = b->hnext;
			break;
		}
	}
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		rl->head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		rl->tail = b->prev;
	b->prev = b->next = b->hnext = NULL;
	rl->n--;
}

/* Into the hash chain, at the head of the use list. */
static void
ratelimit_push(struct ratelimit *rl, struct rlbucket *b)
{
	size_t	i = b->hash & rl->mask;

	b->hnext = rl->tab[i];
	rl->tab[i] = b;
	b->prev = NULL;
	b->next = rl->head;
	if (rl->head != NULL)
		rl->head->prev = b;
	rl->head = b;
	if (rl->tail == NULL)
		rl->tail = b;
	rl->n++;
}

/* Tokens for the time since the last refill; cap in thousandths. */
static void
ratelimit_refill(struct rlbucket *b, uint64_t rate, uint64_t cap,
    uint64_t now)
{
	uint64_t	elapsed;

	if (now > b->stamp) {
		elapsed = now - b->stamp;
		/* rate <= 2^32 tokens a second: no overflow below 2^31 ms. */
		if (elapsed >= cap / rate + 1 || elapsed >= (1ULL << 31))
			b->milli = cap;
		else
			b->milli += elapsed * rate;
		b->stamp = now;
	}
	if (b->milli > cap)
		b->milli = cap;		/* the burst was lowered */
}

/*
 * Take a token from the bucket of key: 0 when there is one (the request
 * goes on), else the seconds until there is (at least 1: Retry-After).
 * rate is tokens a second, 0 lets everything through; burst (at least 1)
 * is the most a bucket holds, and a new key starts full.  A key longer than
 * RATELIMIT_KEY - 1 is cut there.  On a refusal *v says whether to log it
 * (once a second per bucket) and how many went unlogged before it.
 */
unsigned int
ratelimit_take(struct ratelimit *rl, const char *key, unsigned int rate,
    unsigned int burst, uint64_t now, struct rl_verdict *v)
{
	struct rlbucket	*b;
	char		 k[RATELIMIT_KEY];
	uint64_t	 h, cap, need, ms;
	unsigned int	 retry = 0;

	memset(v, 0, sizeof(*v));
	if (rate == 0)
		return 0;
	if (burst == 0)
		burst = 1;
	cap = (uint64_t)burst * RATELIMIT_MILLI;
	util_strlcpy(k, key, sizeof(k));
	h = ratelimit_hash(rl->seed, k, strlen(k));
	pthread_mutex_lock(&rl->mtx);
	if ((b = ratelimit_find(rl, k, h)) != NULL) {
		ratelimit_unlink(rl, b);
		ratelimit_refill(b, rate, cap, now);
	} else {
		if (rl->n >= rl->cap) {		/* the oldest makes room */
			b = rl->tail;
			ratelimit_unlink(rl, b);
			memset(b, 0, sizeof(*b));
		} else
			b = xcalloc(1, sizeof(*b));
		memcpy(b->key, k, sizeof(b->key));
		b->hash = h;
		b->milli = cap;
		b->stamp = now;
	}
	ratelimit_push(rl, b);
	if (b->milli >= RATELIMIT_MILLI)
		b->milli -= RATELIMIT_MILLI;
	else {
		need = RATELIMIT_MILLI - b->milli;
		ms = (need + rate - 1) / rate;
		retry = (unsigned int)((ms + 999) / 1000);
		if (retry == 0)
			retry = 1;
		v->retry_after = retry;
		if (now >= b->next_log) {
			v->log = true;
			v->suppressed = b->suppressed;
			b->suppressed = 0;
			b->next_log = now + RATELIMIT_LOG_MS;
		} else if (b->suppressed < UINT32_MAX)
			b->suppressed++;
	}
	b->full_at = now + (cap - b->milli + rate - 1) / rate;
	pthread_mutex_unlock(&rl->mtx);
	return retry;
}

/*
 * Free full buckets from the least recently used end, at most max of
 * them; stops at the first one that is not full yet.  Returns how many.
 */
size_t
ratelimit_expire(struct ratelimit *rl, uint64_t now, size_t max)
{
	struct rlbucket	*b;
	size_t		 n = 0;

	pthread_mutex_lock(&rl->mtx);
	while (n < max && (b = rl->tail) != NULL && b->full_at <= now) {
		ratelimit_unlink(rl, b);
		free(b);
		n++;
	}
	pthread_mutex_unlock(&rl->mtx);
	return n;
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t	n;

	pthread_mutex_lock(&rl->mtx);
	n = rl->n;
	pthread_mutex_unlock(&rl->mtx);
	return n;
}

/*
 * The bucket key of a source address: "a:" and the address, an IPv6 one
 * cut to its /64 (what one subscriber gets), a v4-mapped one as IPv4.
 * Returns 0, or -1 for another family.
 */
int
ratelimit_addr_key(const struct sockaddr *sa, char *buf, size_t len)
{
	struct sockaddr_in6	one;
	uint8_t			key[16];
	char			text[INET6_ADDRSTRLEN];

	if (sa == NULL || (sa->sa_family != AF_INET &&
	    sa->sa_family != AF_INET6))
		return -1;
	iplimit_key(sa, key);		/* the caller, as max_conns_per_ip's */
	memset(&one, 0, sizeof(one));
	one.sin6_family = AF_INET6;
	memcpy(&one.sin6_addr, key, 16);
	if (util_sockaddr_str((const struct sockaddr *)(const void *)&one,
	    text, sizeof(text)) != 0)
		return -1;
	if (snprintf(buf, len, "a:%s", text) >= (int)len)
		return -1;
	return 0;
}
