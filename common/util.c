#include "config.h"

#include <sys/resource.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "util.h"

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* OpenBSD's strtonum: decimal only, whole string, range checked. */
long long
util_strtonum(const char *s, long long min, long long max, const char **errstr)
{
	long long	 v;
	char		*end;

	*errstr = NULL;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) ||
	    min > max) {
		*errstr = "invalid";
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s)
		*errstr = "invalid";
	else if ((errno == ERANGE && v == LLONG_MIN) || v < min)
		*errstr = "too small";
	else if ((errno == ERANGE && v == LLONG_MAX) || v > max)
		*errstr = "too large";
	return *errstr != NULL ? 0 : v;
}

uint64_t
util_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
util_wall_s(void)
{
	return (int64_t)time(NULL);
}

void
util_iso8601(int64_t t, char *buf, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
util_ct_eq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char	*pa = a, *pb = b;
	unsigned char			 d = 0;
	size_t				 i;

	for (i = 0; i < n; i++)
		d |= pa[i] ^ pb[i];
	return d == 0;
}

/* Constant time in the contents; the lengths are not secret. */
bool
util_ct_streq(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return util_ct_eq(a, b, la);
}

int
util_random(void *buf, size_t len)
{
	if (gnutls_rnd(GNUTLS_RND_KEY, buf, len) != 0)
		return -1;
	return 0;
}

static void
util_random_alpha(char *out, size_t size, const char *alpha, unsigned n)
{
	unsigned char	r;
	size_t		i = 0;
	unsigned	lim = 256 - (256 % n);	/* no modulo bias */

	if (size == 0)
		return;
	while (i < size - 1) {
		if (util_random(&r, 1) != 0)
			fatalx("gnutls_rnd failed");
		if (r >= lim)
			continue;
		out[i++] = alpha[r % n];
	}
	out[i] = '\0';
}

void
util_random_id(char *out, size_t size)
{
	util_random_alpha(out, size, "abcdefghijklmnopqrstuvwxyz0123456789", 36);
}

void
util_random_token(char *out, size_t size)
{
	util_random_alpha(out, size,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 62);
}

void
util_sha256_hex(const void *data, size_t len, char out[UTIL_SHA256_HEX])
{
	unsigned char	md[32];
	size_t		i;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, md) != 0)
		fatalx("gnutls_hash_fast failed");
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

bool
util_valid_name(const char *s)
{
	size_t	i, n = strlen(s);

	if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

char *
util_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* "host:port", "[v6]:port", ":port" or "port". */
int
util_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char	*digits, *errstr, *p;
	size_t		 n;

	host[0] = '\0';
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(p - s - 1);
		if (n >= hostlen)
			return -1;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (p[1] != ':')
			return -1;
		digits = p + 2;
	} else if ((p = strrchr(s, ':')) != NULL) {
		n = (size_t)(p - s);
		if (n >= hostlen || memchr(s, ':', n) != NULL)
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
		digits = p + 1;
	} else
		digits = s;
	*port = (int)util_strtonum(digits, 0, 65535, &errstr);
	return errstr != NULL ? -1 : 0;
}

int
util_cidr_parse(const char *s, struct cidr *c)
{
	char		 buf[64], *slash;
	const char	*errstr;
	int		 max;

	if (util_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	memset(c, 0, sizeof(*c));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->bits = max;
	if (slash != NULL) {
		c->bits = (int)util_strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return -1;
	}
	return 0;
}

static bool
util_prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int	full = bits / 8, rem = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rem == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rem))) == 0;
}

bool
util_cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	static const uint8_t		 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0,
					     0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		if (c->family != AF_INET)
			return false;
		return util_prefix_eq(c->addr,
		    (const uint8_t *)&s4->sin_addr, c->bits);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (c->family == AF_INET6)
		return util_prefix_eq(c->addr, s6->sin6_addr.s6_addr, c->bits);
	/* An IPv4 rule matches a v4-mapped IPv6 peer. */
	if (memcmp(s6->sin6_addr.s6_addr, v4mapped, 12) != 0)
		return false;
	return util_prefix_eq(c->addr, s6->sin6_addr.s6_addr + 12, c->bits);
}

int
util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*a;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return -1;
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		return -1;
	if (sa->sa_family == AF_INET6 && strncmp(buf, "::ffff:", 7) == 0 &&
	    strchr(buf + 7, '.') != NULL)
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
	return 0;
}

/* Request ids and the like: not secrets, so the cheaper nonce generator. */
void
util_random_hex(char *out, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 r[32];
	size_t			 i;

	if (size == 0)
		return;
	for (i = 0; i < size - 1; i++) {
		if (i % (2 * sizeof(r)) == 0 &&
		    gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r)) != 0)
			fatalx("gnutls_rnd failed");
		out[i] = hex[(r[(i / 2) % sizeof(r)] >> (i % 2 == 0 ? 4 : 0)) &
		    15];
	}
	out[i] = '\0';
}

/* The value of one hex digit, either case; -1 for anything else. */
int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Every connection is a descriptor: the soft limit raised to the hard one.
 * The limit now in *now (RLIM_INFINITY as is); -1 with errno if the raise
 * failed (*now is then the limit as it was), or if there is none to read.
 */
int
util_raise_nofile(rlim_t *now)
{
	struct rlimit	rl;
	int		r = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			r = -1;
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	*now = rl.rlim_cur;
	return r;
}
