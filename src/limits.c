/*
 * Limits on the request path: the deny list (deny_file, deny.c) and the
 * rate limits (token buckets, ratelimit.c), between the tables and the
 * handlers.
 *
 * rate_limit counts control API (/api...) and connect requests per source
 * address, checked before any key is looked at, and, once a key or a
 * tunnel's token proved good, per key (for connect: the key that owns the
 * tunnel).  tunnel_rate_limit counts the requests (or TCP connections) of
 * each tunnel.  A bucket holds twice its rate: two seconds' worth may come
 * at once.  The source address is http_source()'s: the peer, or the client
 * a trusted proxy names; IPv6 addresses count per /64.
 *
 * A refusal is logged at most once a second per bucket, and at most
 * LIMITS_LOG_PER_S lines a second in all; /metrics counts every one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunneld.h"

#define LIMITS_CTL_MAX		32768	/* buckets of addresses and keys */
#define LIMITS_TUN_MAX		16384	/* buckets of tunnels */
#define LIMITS_LOG_PER_S	10
#define LIMITS_EXPIRE_MAX	4096	/* buckets freed per call */

static struct ratelimit	*limits_ctl, *limits_tun;
static pthread_mutex_t	 limits_log_mtx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		 limits_log_sec;
static int		 limits_log_n;

static bool		 limits_log_ok(void);
static unsigned int	 limits_take(struct ratelimit *, const char *, int,
			    const char *, const char *);

void
limits_init(void)
{
	limits_ctl = ratelimit_new(LIMITS_CTL_MAX);
	limits_tun = ratelimit_new(LIMITS_TUN_MAX);
}

void
limits_free(void)
{
	ratelimit_free(limits_ctl);
	ratelimit_free(limits_tun);
	limits_ctl = limits_tun = NULL;
}

/* From the main loop, about once a second: full buckets go. */
void
limits_expire(void)
{
	uint64_t	now = util_now_ms();

	if (limits_ctl != NULL)
		(void)ratelimit_expire(limits_ctl, now, LIMITS_EXPIRE_MAX);
	if (limits_tun != NULL)
		(void)ratelimit_expire(limits_tun, now, LIMITS_EXPIRE_MAX);
}

/* At most LIMITS_LOG_PER_S refusal lines a second, in all. */
static bool
limits_log_ok(void)
{
	uint64_t	sec = util_now_ms() / 1000;
	bool		ok;

	pthread_mutex_lock(&limits_log_mtx);
	if (sec != limits_log_sec) {
		limits_log_sec = sec;
		limits_log_n = 0;
	}
	ok = limits_log_n < LIMITS_LOG_PER_S;
	if (ok)
		limits_log_n++;
	pthread_mutex_unlock(&limits_log_mtx);
	return ok;
}

/* 0, or the seconds to tell the caller to wait. */
static unsigned int
limits_take(struct ratelimit *rl, const char *key, int rate,
    const char *what, const char *name)
{
	struct rl_verdict	v;
	unsigned int		retry;

	if (rate <= 0 || rl == NULL)
		return 0;
	retry = ratelimit_take(rl, key, (unsigned int)rate,
	    2 * (unsigned int)rate, util_now_ms(), &v);
	if (retry == 0)
		return 0;
	metrics_add(M_RATE_LIMITED, 1);
	if (v.log && limits_log_ok()) {
		if (v.suppressed > 0)
			log_info("rate limited: %s %s, over %d a second (%u "
			    "more refused since the last line)", what, name,
			    rate, v.suppressed);
		else
			log_info("rate limited: %s %s, over %d a second",
			    what, name, rate);
	}
	return retry;
}

/* rate_limit: a control API or connect request from this address. */
unsigned int
limits_addr(const struct sockaddr_storage *ss)
{
	char	key[RATELIMIT_KEY];
	int	rate = CFG_GET(rate_limit);

	if (rate <= 0 || ratelimit_addr_key((const struct sockaddr *)
	    (const void *)ss, key, sizeof(key)) != 0)
		return 0;
	return limits_take(limits_ctl, key, rate, "address", key + 2);
}

/* rate_limit: a request with this key (by its name), once it is good. */
unsigned int
limits_key(const char *name)
{
	char	key[RATELIMIT_KEY];
	int	rate = CFG_GET(rate_limit);

	if (rate <= 0)
		return 0;
	(void)snprintf(key, sizeof(key), "k:%s", name);
	return limits_take(limits_ctl, key, rate, "key", name);
}

/* tunnel_rate_limit: a request for (or connection to) this tunnel. */
unsigned int
limits_tunnel(const char *id)
{
	return limits_take(limits_tun, id, CFG_GET(tunnel_rate_limit), "tunnel",
	    id);
}

bool
limits_denied_addr(const struct sockaddr_storage *ss)
{
	bool	denied;

	if (ss == NULL || ss->ss_family == 0)
		return false;
	pthread_rwlock_rdlock(&cfg_lock);	/* a reload swaps the list */
	denied = deny_match_addr(cfg.deny, (const struct sockaddr *)
	    (const void *)ss);
	pthread_rwlock_unlock(&cfg_lock);
	return denied;
}

bool
limits_denied_name(const char *id)
{
	bool	denied;

	pthread_rwlock_rdlock(&cfg_lock);
	denied = deny_match_name(cfg.deny, id);
	pthread_rwlock_unlock(&cfg_lock);
	return denied;
}
