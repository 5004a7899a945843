/*
 * Unit tests for src/ratelimit.c (token buckets on a fake clock, a table
 * that must not grow past its cap whatever the input), src/deny.c (the
 * lines of deny_file and what they match) and src/iplimit.c (connections
 * per address, an IPv6 /64 as one).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tunerr.h"
#include "tunneld.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static struct sockaddr_storage	 addr(const char *);
static unsigned int	 take(struct ratelimit *, const char *, unsigned int,
			    uint64_t);

static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
	return ss;
}

/* A request at `now` ms with burst twice the rate, as limits.c does. */
static unsigned int
take(struct ratelimit *rl, const char *key, unsigned int rate, uint64_t now)
{
	struct rl_verdict	v;
	unsigned int		r;

	r = ratelimit_take(rl, key, rate, 2 * rate, now, &v);
	ck_assert_uint_eq(r, v.retry_after);
	return r;
}

/* --- token buckets ---------------------------------------------------- */

START_TEST(test_burst_then_refuse)
{
	struct ratelimit	*rl = ratelimit_new(16);
	int			 i;

	for (i = 0; i < 10; i++)		/* burst: 2 x 5 */
		ck_assert_uint_eq(take(rl, "a", 5, 1000), 0);
	ck_assert_uint_eq(take(rl, "a", 5, 1000), 1);	/* Retry-After 1 */
	/* Another key has its own bucket. */
	ck_assert_uint_eq(take(rl, "b", 5, 1000), 0);
	/* 200 ms at 5 a second: one token. */
	ck_assert_uint_eq(take(rl, "a", 5, 1199), 1);
	ck_assert_uint_eq(take(rl, "a", 5, 1200), 0);
	ck_assert_uint_eq(take(rl, "a", 5, 1200), 1);
	ratelimit_free(rl);
}
END_TEST

START_TEST(test_refill_caps_at_burst)
{
	struct ratelimit	*rl = ratelimit_new(16);
	int			 i;

	ck_assert_uint_eq(take(rl, "k", 1, 0), 0);
	ck_assert_uint_eq(take(rl, "k", 1, 0), 0);
	ck_assert_uint_eq(take(rl, "k", 1, 0), 1);
	/* An hour later the bucket is full again, and only full. */
	for (i = 0; i < 2; i++)
		ck_assert_uint_eq(take(rl, "k", 1, 3600 * 1000), 0);
	ck_assert_uint_eq(take(rl, "k", 1, 3600 * 1000), 1);
	ratelimit_free(rl);
}
END_TEST

/* Retry-After: whole seconds until a token, rounded up, at least 1. */
START_TEST(test_retry_after)
{
	struct ratelimit	*rl = ratelimit_new(16);
	struct rl_verdict	 v;

	/* One a second for a slow rate of 1, burst 1: wait 1 s. */
	ck_assert_uint_eq(ratelimit_take(rl, "x", 1, 1, 0, &v), 0);
	ck_assert_uint_eq(ratelimit_take(rl, "x", 1, 1, 0, &v), 1);
	ck_assert_uint_eq(ratelimit_take(rl, "x", 1, 1, 400, &v), 1);
	ck_assert_uint_eq(ratelimit_take(rl, "x", 1, 1, 1000, &v), 0);
	/* A fast rate still says 1, never 0. */
	ck_assert_uint_eq(ratelimit_take(rl, "y", 1000000, 1, 5, &v), 0);
	ck_assert_uint_eq(ratelimit_take(rl, "y", 1000000, 1, 5, &v), 1);
	ck_assert_uint_eq(ratelimit_take(rl, "y", 1000000, 1, 6, &v), 0);
	ratelimit_free(rl);
}
END_TEST

/* A burst of 1 with a rate of 1: one request a second, no more. */
START_TEST(test_steady_rate)
{
	struct ratelimit	*rl = ratelimit_new(16);
	struct rl_verdict	 v;
	uint64_t		 t;
	int			 ok = 0;

	for (t = 0; t < 10000; t += 10)
		if (ratelimit_take(rl, "s", 1, 1, t, &v) == 0)
			ok++;
	ck_assert_int_eq(ok, 10);
	ratelimit_free(rl);
}
END_TEST

/* A clock that goes back adds nothing; a huge jump does not overflow. */
START_TEST(test_clock_edges)
{
	struct ratelimit	*rl = ratelimit_new(16);

	ck_assert_uint_eq(take(rl, "c", 1, 5000), 0);
	ck_assert_uint_eq(take(rl, "c", 1, 5000), 0);
	ck_assert_uint_eq(take(rl, "c", 1, 1000), 1);
	ck_assert_uint_eq(take(rl, "c", 1, 5000), 1);
	ck_assert_uint_eq(take(rl, "c", 1000000, UINT64_MAX - 1), 0);
	ck_assert_uint_eq(take(rl, "c", 1000000, UINT64_MAX - 1), 0);
	/* Rate 0 is "off": everything passes, nothing is kept. */
	ck_assert_uint_eq(take(rl, "off", 0, 0), 0);
	ck_assert_uint_eq(ratelimit_count(rl), 1);
	ratelimit_free(rl);
}
END_TEST

/* A lower burst after a reload applies to the bucket there is. */
START_TEST(test_burst_lowered)
{
	struct ratelimit	*rl = ratelimit_new(16);
	struct rl_verdict	 v;

	ck_assert_uint_eq(ratelimit_take(rl, "r", 100, 200, 0, &v), 0);
	ck_assert_uint_eq(ratelimit_take(rl, "r", 1, 1, 0, &v), 0);
	ck_assert_uint_eq(ratelimit_take(rl, "r", 1, 1, 0, &v), 1);
	ratelimit_free(rl);
}
END_TEST

/* A refusal is worth a log line once a second per bucket. */
START_TEST(test_log_once_a_second)
{
	struct ratelimit	*rl = ratelimit_new(16);
	struct rl_verdict	 v;
	int			 i, logged = 0;

	(void)ratelimit_take(rl, "l", 1, 1, 0, &v);
	ck_assert(!v.log);			/* allowed: nothing to log */
	for (i = 0; i < 100; i++) {		/* 100 refusals in 990 ms */
		ck_assert_uint_ne(ratelimit_take(rl, "l", 1, 1,
		    (uint64_t)i * 10, &v), 0);
		if (v.log)
			logged++;
	}
	ck_assert_int_eq(logged, 1);
	/* At 1000 ms a token is there; at 1001 the next refusal is logged
	 * and tells how many were not. */
	ck_assert_uint_eq(ratelimit_take(rl, "l", 1, 1, 1000, &v), 0);
	ck_assert_uint_ne(ratelimit_take(rl, "l", 1, 1, 1001, &v), 0);
	ck_assert(v.log);
	ck_assert_uint_eq(v.suppressed, 99);
	ratelimit_free(rl);
}
END_TEST

/* Hostile: 200 times as many keys as the cap never grow the table. */
START_TEST(test_cap_holds)
{
	struct ratelimit	*rl = ratelimit_new(1000);
	char			 key[64];
	int			 i;

	for (i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "a:10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		ck_assert_uint_eq(take(rl, key, 1, (uint64_t)i / 1000), 0);
		if (i % 4096 == 0)
			ck_assert_uint_le(ratelimit_count(rl), 1000);
	}
	ck_assert_uint_eq(ratelimit_count(rl), 1000);
	ratelimit_free(rl);
}
END_TEST

/*
 * At the cap the least recently used bucket goes: a key in use keeps its
 * state while a flood of new ones passes by.
 */
START_TEST(test_evicts_oldest)
{
	struct ratelimit	*rl = ratelimit_new(4);
	char			 key[16];
	int			 i;

	ck_assert_uint_eq(take(rl, "busy", 1, 0), 0);
	ck_assert_uint_eq(take(rl, "busy", 1, 0), 0);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "new%d", i);
		(void)take(rl, key, 1, 0);
		/* busy is used all the time: never the oldest. */
		ck_assert_uint_eq(take(rl, "busy", 1, 0), 1);
	}
	ck_assert_uint_eq(ratelimit_count(rl), 4);
	ratelimit_free(rl);
}
END_TEST

/* expire frees full buckets from the old end, and only those. */
START_TEST(test_expire)
{
	struct ratelimit	*rl = ratelimit_new(64);
	char			 key[16];
	int			 i;

	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "e%d", i);
		(void)take(rl, key, 1, 0);	/* 1 of 2 tokens left */
	}
	ck_assert_uint_eq(ratelimit_count(rl), 10);
	ck_assert_uint_eq(ratelimit_expire(rl, 999, 100), 0);
	(void)take(rl, "late", 1, 900);		/* newest: full at 1900 */
	ck_assert_uint_eq(ratelimit_expire(rl, 1000, 3), 3);	/* max */
	ck_assert_uint_eq(ratelimit_expire(rl, 1000, 100), 7);
	ck_assert_uint_eq(ratelimit_count(rl), 1);
	ck_assert_uint_eq(ratelimit_expire(rl, 1899, 100), 0);
	ck_assert_uint_eq(ratelimit_expire(rl, 1900, 100), 1);
	ck_assert_uint_eq(ratelimit_count(rl), 0);
	/* A forgotten bucket is a full one: nothing changes for its key. */
	ck_assert_uint_eq(take(rl, "e0", 1, 2000), 0);
	ck_assert_uint_eq(take(rl, "e0", 1, 2000), 0);
	ck_assert_uint_eq(take(rl, "e0", 1, 2000), 1);
	ratelimit_free(rl);
}
END_TEST

/* Keys are cut at RATELIMIT_KEY - 1, never overrun. */
START_TEST(test_long_key)
{
	struct ratelimit	*rl = ratelimit_new(8);
	char			 a[300], b[300];

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 2] = 'y';		/* differs past the cut: same bucket */
	ck_assert_uint_eq(take(rl, a, 1, 0), 0);
	ck_assert_uint_eq(take(rl, b, 1, 0), 0);
	ck_assert_uint_eq(take(rl, a, 1, 0), 1);
	ck_assert_uint_eq(ratelimit_count(rl), 1);
	ck_assert_uint_eq(take(rl, "", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_count(rl), 2);
	ratelimit_free(rl);
}
END_TEST

static const struct {
	const char	*in;
	const char	*key;
} addrkeys[] = {
	{ "192.0.2.1", "a:192.0.2.1" },
	{ "::ffff:192.0.2.1", "a:192.0.2.1" },
	{ "2001:db8:1:2:3:4:5:6", "a:2001:db8:1:2::" },
	{ "2001:db8:1:2:ffff:ffff:ffff:ffff", "a:2001:db8:1:2::" },
	{ "2001:db8:1:3::1", "a:2001:db8:1:3::" },
	{ "::1", "a:::" },
};

START_TEST(test_addr_key)
{
	struct sockaddr_storage	ss = addr(addrkeys[_i].in);
	char			key[RATELIMIT_KEY];

	ck_assert_int_eq(ratelimit_addr_key((struct sockaddr *)&ss, key,
	    sizeof(key)), 0);
	ck_assert_str_eq(key, addrkeys[_i].key);
}
END_TEST

START_TEST(test_addr_key_bad)
{
	struct sockaddr_storage	ss;
	char			key[8];

	memset(&ss, 0, sizeof(ss));
	ck_assert_int_eq(ratelimit_addr_key((struct sockaddr *)&ss, key,
	    sizeof(key)), -1);
	ck_assert_int_eq(ratelimit_addr_key(NULL, key, sizeof(key)), -1);
	ss = addr("2001:db8:1:2::");
	ck_assert_int_eq(ratelimit_addr_key((struct sockaddr *)&ss, key,
	    sizeof(key)), -1);		/* does not fit */
}
END_TEST

/* --- deny list ---------------------------------------------------------- */

static const char *const deny_good[] = {
	"", "   ", "# a comment", "  # indented comment",
	"name spam", "name spam-*", "name *", "name a?c", "name x # why",
	"name\tspam", "  name  spam  ",
	"addr 203.0.113.7", "addr 203.0.113.0/24", "addr 2001:db8::/32",
	"addr ::1", "addr 0.0.0.0/0", "addr 10.0.0.0/8 # the lab",
};

START_TEST(test_deny_good)
{
	struct denylist	*d = deny_new();
	char		 err[256] = "";

	ck_assert_msg(deny_parse_line(d, deny_good[_i], err, sizeof(err)) == 0,
	    "'%s': %s", deny_good[_i], err);
	deny_free(d);
}
END_TEST

static const char *const deny_bad[] = {
	"name", "name ", "addr", "name Spam", "name spam_x", "name a/b",
	"name a b", "name ../x", "addr 300.1.1.1", "addr 10.0.0.0/33",
	"addr 2001:db8::/129", "addr example.com", "addr 10.0.0.1 10.0.0.2",
	"deny spam", "names spam", "NAME spam",
};

START_TEST(test_deny_bad)
{
	struct denylist	*d = deny_new();
	char		 err[256] = "";

	ck_assert_msg(deny_parse_line(d, deny_bad[_i], err, sizeof(err)) ==
	    TUN_EINVAL, "'%s' parsed", deny_bad[_i]);
	ck_assert(err[0] != '\0');
	ck_assert_uint_eq(d->nnames + d->naddrs, 0);
	deny_free(d);
}
END_TEST

/* A pattern of 63 characters is fine, of 64 not. */
START_TEST(test_deny_long_name)
{
	struct denylist	*d = deny_new();
	char		 line[80], err[256];

	memcpy(line, "name ", 5);
	memset(line + 5, 'n', 63);
	line[68] = '\0';
	ck_assert_int_eq(deny_parse_line(d, line, err, sizeof(err)), 0);
	ck_assert(deny_match_name(d, line + 5));
	line[68] = 'n';
	line[69] = '\0';
	ck_assert_int_eq(deny_parse_line(d, line, err, sizeof(err)),
	    TUN_EINVAL);
	deny_free(d);
}
END_TEST

static const struct {
	const char	*rule;
	const char	*name;
	bool		 match;
} deny_names[] = {
	{ "name spam", "spam", true },
	{ "name spam", "spam2", false },
	{ "name spam", "xspam", false },
	{ "name spam-*", "spam-1", true },
	{ "name spam-*", "spam-", true },
	{ "name spam-*", "spam", false },
	{ "name *-phish", "bank-phish", true },
	{ "name a?c", "abc", true },
	{ "name a?c", "ac", false },
	{ "name *", "anything", true },
};

START_TEST(test_deny_names)
{
	struct denylist	*d = deny_new();
	char		 err[256];

	ck_assert_int_eq(deny_parse_line(d, deny_names[_i].rule, err,
	    sizeof(err)), 0);
	ck_assert_msg(deny_match_name(d, deny_names[_i].name) ==
	    deny_names[_i].match, "%s: %s", deny_names[_i].rule,
	    deny_names[_i].name);
	deny_free(d);
}
END_TEST

static const struct {
	const char	*rule;
	const char	*addr;
	bool		 match;
} deny_addrs[] = {
	{ "addr 203.0.113.7", "203.0.113.7", true },
	{ "addr 203.0.113.7", "203.0.113.8", false },
	{ "addr 203.0.113.0/24", "203.0.113.200", true },
	{ "addr 203.0.113.0/24", "203.0.114.1", false },
	{ "addr 203.0.113.0/24", "::ffff:203.0.113.9", true },
	{ "addr 2001:db8::/32", "2001:db8:ffff::1", true },
	{ "addr 2001:db8::/32", "2001:db9::1", false },
	{ "addr 2001:db8::/32", "203.0.113.1", false },
	{ "addr 0.0.0.0/0", "198.51.100.1", true },
};

START_TEST(test_deny_addrs)
{
	struct denylist		*d = deny_new();
	struct sockaddr_storage	 ss = addr(deny_addrs[_i].addr);
	char			 err[256];

	ck_assert_int_eq(deny_parse_line(d, deny_addrs[_i].rule, err,
	    sizeof(err)), 0);
	ck_assert_msg(deny_match_addr(d, (struct sockaddr *)&ss) ==
	    deny_addrs[_i].match, "%s: %s", deny_addrs[_i].rule,
	    deny_addrs[_i].addr);
	deny_free(d);
}
END_TEST

START_TEST(test_deny_empty)
{
	struct sockaddr_storage	 ss = addr("192.0.2.1");
	struct denylist		*d = deny_new();
	char			 err[256];

	ck_assert(!deny_match_name(NULL, "x"));
	ck_assert(!deny_match_addr(NULL, (struct sockaddr *)&ss));
	ck_assert(!deny_match_name(d, "x"));
	ck_assert(!deny_match_addr(d, (struct sockaddr *)&ss));
	memset(&ss, 0, sizeof(ss));	/* no address at all */
	ck_assert(deny_parse_line(d, "addr 0.0.0.0/0", err, sizeof(err)) == 0);
	ck_assert(!deny_match_addr(d, (struct sockaddr *)&ss));
	deny_free(d);
	deny_free(NULL);
}
END_TEST

/* A file: read whole, or refused whole with FILE:LINE. */
static char *
deny_file(const char *text)
{
	char	*path = strdup("/tmp/check_limits.XXXXXX");
	int	 fd;

	ck_assert_ptr_nonnull(path);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_deny_load)
{
	struct denylist	*d = NULL;
	char		 err[512], want[256], *path;

	path = deny_file("# kill switch\nname spam-*\n\naddr 192.0.2.0/24\n"
	    "addr 2001:db8::1\nname last");	/* no final newline */
	ck_assert_int_eq(deny_load(path, &d, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->nnames, 2);
	ck_assert_uint_eq(d->naddrs, 2);
	ck_assert(deny_match_name(d, "last"));
	deny_free(d);
	unlink(path);
	free(path);

	d = NULL;
	path = deny_file("name ok\naddr 192.0.2.1\nname Not-OK\nname x\n");
	ck_assert_int_eq(deny_load(path, &d, err, sizeof(err)), TUN_EINVAL);
	ck_assert_ptr_null(d);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	unlink(path);
	free(path);

	ck_assert_int_eq(deny_load("/nonexistent/deny", &d, err,
	    sizeof(err)), TUN_EIO);
	ck_assert_ptr_null(d);
}
END_TEST

/* Hostile files: lines too long, too many rules. */
START_TEST(test_deny_bounds)
{
	struct denylist	*d = NULL;
	char		 err[512], *path, *text;
	size_t		 i, n, off;

	text = malloc(4096);
	ck_assert_ptr_nonnull(text);
	memcpy(text, "name ", 5);
	memset(text + 5, 'a', 3000);
	memcpy(text + 3005, "\n", 2);
	path = deny_file(text);
	ck_assert_int_eq(deny_load(path, &d, err, sizeof(err)), TUN_EINVAL);
	ck_assert(strstr(err, ":1: line too long") != NULL);
	unlink(path);
	free(path);
	free(text);

	n = (size_t)DENY_MAX_RULES + 1;
	text = malloc(n * 16 + 1);
	ck_assert_ptr_nonnull(text);
	for (i = 0, off = 0; i < n; i++)
		off += (size_t)snprintf(text + off, n * 16 + 1 - off,
		    "name n%zu\n", i);
	path = deny_file(text);
	ck_assert_int_eq(deny_load(path, &d, err, sizeof(err)), TUN_ELIMIT);
	ck_assert_ptr_null(d);
	unlink(path);
	free(path);
	free(text);
}
END_TEST

/* --- connections per address (iplimit.c) ------------------------------ */

static int
ip_take(struct iplimit *lim, const char *a, bool force)
{
	struct sockaddr_storage	ss = addr(a);
	uint8_t			key[16];

	iplimit_key((struct sockaddr *)&ss, key);
	return iplimit_take(lim, key, force);
}

static void
ip_put(struct iplimit *lim, const char *a)
{
	struct sockaddr_storage	ss = addr(a);
	uint8_t			key[16];

	iplimit_key((struct sockaddr *)&ss, key);
	iplimit_put(lim, key);
}

START_TEST(test_iplimit_v4)
{
	struct iplimit	lim;

	iplimit_init(&lim, 2);
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_TAKEN);
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_TAKEN);
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_FULL);
	ck_assert_int_eq(ip_take(&lim, "192.0.2.2", false), IPLIMIT_TAKEN);
	ip_put(&lim, "192.0.2.1");
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_TAKEN);
	/* forced: counted past the limit, and each put gives one back */
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", true), IPLIMIT_TAKEN);
	ip_put(&lim, "192.0.2.1");
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_FULL);
	ip_put(&lim, "192.0.2.1");
	ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false), IPLIMIT_TAKEN);
	/* the v4-mapped form is the same caller */
	ck_assert_int_eq(ip_take(&lim, "::ffff:192.0.2.2", false),
	    IPLIMIT_TAKEN);
	ck_assert_int_eq(ip_take(&lim, "::ffff:192.0.2.2", false),
	    IPLIMIT_FULL);
	iplimit_free(&lim);
}
END_TEST

START_TEST(test_iplimit_v6_by_64)
{
	struct iplimit	lim;

	iplimit_init(&lim, 2);
	ck_assert_int_eq(ip_take(&lim, "2001:db8:7::1", false),
	    IPLIMIT_TAKEN);
	ck_assert_int_eq(ip_take(&lim, "2001:db8:7::ffff:2", false),
	    IPLIMIT_TAKEN);
	ck_assert_int_eq(ip_take(&lim, "2001:db8:7:0:1234::3", false),
	    IPLIMIT_FULL);
	ck_assert_int_eq(ip_take(&lim, "2001:db8:7:1::1", false),
	    IPLIMIT_TAKEN);
	ip_put(&lim, "2001:db8:7::9");
	ck_assert_int_eq(ip_take(&lim, "2001:db8:7::3", false),
	    IPLIMIT_TAKEN);
	iplimit_free(&lim);
}
END_TEST

START_TEST(test_iplimit_off_and_full_table)
{
	struct iplimit	lim;
	char		a[64];
	int		i, pass = 0, r;

	iplimit_init(&lim, 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(ip_take(&lim, "192.0.2.1", false),
		    IPLIMIT_PASS);
	ip_put(&lim, "192.0.2.1");
	iplimit_free(&lim);
	/* More addresses than the table holds: the rest pass uncounted. */
	iplimit_init(&lim, 1);
	for (i = 0; i < 20000; i++) {
		(void)snprintf(a, sizeof(a), "10.%d.%d.1", i >> 8, i & 0xff);
		r = ip_take(&lim, a, false);
		ck_assert_int_ne(r, IPLIMIT_FULL);
		pass += r == IPLIMIT_PASS;
	}
	ck_assert_int_gt(pass, 20000 - 8192 - 1);
	ck_assert_int_eq(ip_take(&lim, "10.0.0.1", false), IPLIMIT_FULL);
	iplimit_free(&lim);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite	*s = suite_create("limits");
	TCase	*tc;

	tc = tcase_create("ratelimit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_burst_then_refuse);
	tcase_add_test(tc, test_refill_caps_at_burst);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_steady_rate);
	tcase_add_test(tc, test_clock_edges);
	tcase_add_test(tc, test_burst_lowered);
	tcase_add_test(tc, test_log_once_a_second);
	tcase_add_test(tc, test_cap_holds);
	tcase_add_test(tc, test_evicts_oldest);
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_long_key);
	tcase_add_loop_test(tc, test_addr_key, 0, nitems(addrkeys));
	tcase_add_test(tc, test_addr_key_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("iplimit");
	tcase_add_test(tc, test_iplimit_v4);
	tcase_add_test(tc, test_iplimit_v6_by_64);
	tcase_add_test(tc, test_iplimit_off_and_full_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("deny");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_deny_good, 0, nitems(deny_good));
	tcase_add_loop_test(tc, test_deny_bad, 0, nitems(deny_bad));
	tcase_add_test(tc, test_deny_long_name);
	tcase_add_loop_test(tc, test_deny_names, 0, nitems(deny_names));
	tcase_add_loop_test(tc, test_deny_addrs, 0, nitems(deny_addrs));
	tcase_add_test(tc, test_deny_empty);
	tcase_add_test(tc, test_deny_load);
	tcase_add_test(tc, test_deny_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(limits_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
