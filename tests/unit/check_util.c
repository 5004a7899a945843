/* Unit tests for common/util.c and common/tbuf.c. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tbuf.h"
#include "tunerr.h"
#include "util.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static void	sa_make(struct sockaddr_storage *, const char *);
static Suite	*util_suite(void);

/* A sockaddr from a numeric IPv4 or IPv6 address. */
static void
sa_make(struct sockaddr_storage *ss, const char *addr)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return;
	}
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	s6->sin6_family = AF_INET6;
}

/* --- util_strtonum ------------------------------------------------------ */

static const struct {
	const char	*s;
	long long	 min, max, want;
	const char	*err;		/* NULL: success */
} strtonum_cases[] = {
	{ "0", 0, 10, 0, NULL },
	{ "10", 0, 10, 10, NULL },
	{ "11", 0, 10, 0, "too large" },
	{ "-1", 0, 10, 0, "too small" },
	{ "-5", -10, 10, -5, NULL },
	{ "-11", -10, 10, 0, "too small" },
	{ "+7", 0, 10, 7, NULL },
	{ "007", 0, 10, 7, NULL },
	{ "65535", 0, 65535, 65535, NULL },
	{ "65536", 0, 65535, 0, "too large" },
	{ "9223372036854775807", LLONG_MIN, LLONG_MAX, LLONG_MAX, NULL },
	{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, LLONG_MIN, NULL },
	{ "9223372036854775808", LLONG_MIN, LLONG_MAX, 0, "too large" },
	{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, 0, "too small" },
	{ "99999999999999999999999", 0, 100, 0, "too large" },
	{ "-99999999999999999999999", 0, 100, 0, "too small" },
	{ "", 0, 10, 0, "invalid" },
	{ " 5", 0, 10, 0, "invalid" },
	{ "\t5", 0, 10, 0, "invalid" },
	{ "5 ", 0, 10, 0, "invalid" },
	{ "5\n", 0, 10, 0, "invalid" },
	{ "5x", 0, 10, 0, "invalid" },
	{ "x5", 0, 10, 0, "invalid" },
	{ "0x10", 0, 100, 0, "invalid" },
	{ "1e3", 0, 10000, 0, "invalid" },
	{ "-", 0, 10, 0, "invalid" },
	{ "+", 0, 10, 0, "invalid" },
	{ "--1", -10, 10, 0, "invalid" },
	{ "1.5", 0, 10, 0, "invalid" },
	{ "5", 10, 1, 0, "invalid" },		/* min > max */
};

START_TEST(test_strtonum)
{
	const char	*errstr = "unset";
	long long	 v;

	v = util_strtonum(strtonum_cases[_i].s, strtonum_cases[_i].min,
	    strtonum_cases[_i].max, &errstr);
	ck_assert_msg(v == strtonum_cases[_i].want, "'%s': %lld",
	    strtonum_cases[_i].s, v);
	if (strtonum_cases[_i].err == NULL)
		ck_assert_ptr_null(errstr);
	else {
		ck_assert_ptr_nonnull(errstr);
		ck_assert_str_eq(errstr, strtonum_cases[_i].err);
	}
}
END_TEST

START_TEST(test_strtonum_null)
{
	const char	*errstr = NULL;

	ck_assert_int_eq(util_strtonum(NULL, 0, 10, &errstr), 0);
	ck_assert_str_eq(errstr, "invalid");
}
END_TEST

/* --- util_strlcpy ------------------------------------------------------- */

START_TEST(test_strlcpy)
{
	char	buf[8];

	memset(buf, 'Z', sizeof(buf));
	ck_assert_uint_eq(util_strlcpy(buf, "abc", sizeof(buf)), 3);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(buf[4], 'Z');		/* nothing past the NUL */

	/* Exactly fitting: 7 characters and the NUL. */
	ck_assert_uint_eq(util_strlcpy(buf, "1234567", sizeof(buf)), 7);
	ck_assert_str_eq(buf, "1234567");

	/* Truncated: the return is the source length. */
	ck_assert_uint_eq(util_strlcpy(buf, "123456789abc", sizeof(buf)), 12);
	ck_assert_str_eq(buf, "1234567");
	ck_assert_mem_eq(buf, "1234567", 8);

	ck_assert_uint_eq(util_strlcpy(buf, "", sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");

	ck_assert_uint_eq(util_strlcpy(buf, "xy", 1), 2);
	ck_assert_str_eq(buf, "");

	/* Size 0 writes nothing. */
	memset(buf, 'Q', sizeof(buf));
	ck_assert_uint_eq(util_strlcpy(buf, "xy", 0), 2);
	ck_assert_int_eq(buf[0], 'Q');
}
END_TEST

/* --- util_valid_name ---------------------------------------------------- */

static const char	name63[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza";
static const char	name64[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyzab";

static const struct {
	const char	*s;
	bool		 ok;
} name_cases[] = {
	{ "a", true },
	{ "0", true },
	{ "abc", true },
	{ "a-b", true },
	{ "a--b", true },
	{ "123abc", true },
	{ name63, true },
	{ name64, false },
	{ "", false },
	{ "-a", false },
	{ "a-", false },
	{ "-", false },
	{ "A", false },
	{ "abC", false },
	{ "a_b", false },
	{ "a.b", false },
	{ "a b", false },
	{ "a/b", false },
	{ "a\n", false },
	{ "\xc3\xa9", false },
	{ "api%20", false },
};

START_TEST(test_valid_name)
{
	ck_assert_msg(util_valid_name(name_cases[_i].s) == name_cases[_i].ok,
	    "'%s'", name_cases[_i].s);
}
END_TEST

/* --- util_split_hostport ------------------------------------------------ */

static const struct {
	const char	*s;
	size_t		 hostlen;
	int		 r;
	const char	*host;
	int		 port;
} hostport_cases[] = {
	{ "127.0.0.1:8080", 64, 0, "127.0.0.1", 8080 },
	{ "localhost:0", 64, 0, "localhost", 0 },
	{ "example.com:65535", 64, 0, "example.com", 65535 },
	{ ":443", 64, 0, "", 443 },
	{ "80", 64, 0, "", 80 },
	{ "[::1]:80", 64, 0, "::1", 80 },
	{ "[2001:db8::1]:8443", 64, 0, "2001:db8::1", 8443 },
	{ "[::ffff:10.0.0.1]:1", 64, 0, "::ffff:10.0.0.1", 1 },
	{ "[::]:0", 64, 0, "::", 0 },
	{ "host:65536", 64, -1, NULL, 0 },
	{ "host:-1", 64, -1, NULL, 0 },
	{ "host:", 64, -1, NULL, 0 },
	{ "host:8x", 64, -1, NULL, 0 },
	{ "host: 80", 64, -1, NULL, 0 },
	{ "host", 64, -1, NULL, 0 },
	{ "", 64, -1, NULL, 0 },
	{ ":", 64, -1, NULL, 0 },
	{ "::1:80", 64, -1, NULL, 0 },
	{ "a:b:80", 64, -1, NULL, 0 },
	{ "[::1]", 64, -1, NULL, 0 },
	{ "[::1]80", 64, -1, NULL, 0 },
	{ "[::1]:", 64, -1, NULL, 0 },
	{ "[::1:80", 64, -1, NULL, 0 },
	{ "[2001:db8::1]:80", 8, -1, NULL, 0 },	/* host too long */
	{ "abcdefgh:80", 8, -1, NULL, 0 },
	{ "abcdefg:80", 8, 0, "abcdefg", 80 },
};

START_TEST(test_split_hostport)
{
	char	host[64];
	int	port = -42, r;

	r = util_split_hostport(hostport_cases[_i].s, host,
	    hostport_cases[_i].hostlen, &port);
	ck_assert_msg(r == hostport_cases[_i].r, "'%s': %d",
	    hostport_cases[_i].s, r);
	if (r == 0) {
		ck_assert_str_eq(host, hostport_cases[_i].host);
		ck_assert_int_eq(port, hostport_cases[_i].port);
	}
}
END_TEST

/* --- CIDR --------------------------------------------------------------- */

static const struct {
	const char	*cidr;
	const char	*addr;
	bool		 match;
} cidr_cases[] = {
	{ "10.0.0.0/8", "10.1.2.3", true },
	{ "10.0.0.0/8", "10.255.255.255", true },
	{ "10.0.0.0/8", "11.0.0.0", false },
	{ "10.0.0.0/8", "9.255.255.255", false },
	{ "10.0.0.0/7", "11.255.255.255", true },
	{ "10.0.0.0/7", "12.0.0.0", false },
	{ "192.168.1.5", "192.168.1.5", true },
	{ "192.168.1.5", "192.168.1.4", false },
	{ "192.168.1.5/32", "192.168.1.5", true },
	{ "192.168.1.0/31", "192.168.1.1", true },
	{ "192.168.1.0/31", "192.168.1.2", false },
	{ "172.16.0.0/12", "172.31.255.1", true },
	{ "172.16.0.0/12", "172.32.0.1", false },
	{ "0.0.0.0/0", "1.2.3.4", true },
	{ "0.0.0.0/0", "::1", false },
	{ "0.0.0.0/0", "::ffff:1.2.3.4", true },
	/* An IPv4 rule matches a v4-mapped peer, only in the mapped range. */
	{ "10.0.0.0/8", "::ffff:10.9.8.7", true },
	{ "10.0.0.0/8", "::ffff:11.9.8.7", false },
	{ "10.0.0.0/8", "::10.9.8.7", false },
	{ "10.0.0.0/8", "64:ff9b::10.9.8.7", false },
	{ "127.0.0.1", "::ffff:127.0.0.1", true },
	{ "::1", "::1", true },
	{ "::1/128", "::2", false },
	{ "::1", "127.0.0.1", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	{ "fe80::/10", "febf::1", true },
	{ "fe80::/10", "fec0::1", false },
	{ "::/0", "2001:db8::1", true },
	{ "::/0", "10.0.0.1", false },
	/* A v6 rule in the mapped range compares as IPv6 only. */
	{ "::ffff:10.0.0.0/104", "::ffff:10.1.1.1", true },
	{ "::ffff:10.0.0.0/104", "10.1.1.1", false },
};

START_TEST(test_cidr_match)
{
	struct cidr		c;
	struct sockaddr_storage	ss;

	ck_assert_int_eq(util_cidr_parse(cidr_cases[_i].cidr, &c), 0);
	sa_make(&ss, cidr_cases[_i].addr);
	ck_assert_msg(util_cidr_match(&c, (struct sockaddr *)&ss) ==
	    cidr_cases[_i].match, "%s ~ %s", cidr_cases[_i].cidr,
	    cidr_cases[_i].addr);
}
END_TEST

START_TEST(test_cidr_parse)
{
	struct cidr	c;
	static const uint8_t	v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	ck_assert_int_eq(util_cidr_parse("10.1.2.3/8", &c), 0);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_int_eq(c.bits, 8);
	ck_assert_mem_eq(c.addr, "\x0a\x01\x02\x03", 4);
	ck_assert_int_eq(util_cidr_parse("1.2.3.4", &c), 0);
	ck_assert_int_eq(c.bits, 32);
	ck_assert_int_eq(util_cidr_parse("2001:db8::/32", &c), 0);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_int_eq(c.bits, 32);
	ck_assert_mem_eq(c.addr, v6, 16);
	ck_assert_int_eq(util_cidr_parse("::", &c), 0);
	ck_assert_int_eq(c.bits, 128);
	ck_assert_int_eq(util_cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert_int_eq(c.bits, 0);
}
END_TEST

static const char	*const bad_cidrs[] = {
	"", "/", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
	"10.0.0.0/8x", "10.0.0.0/ 8", "10.0.0.0 /8", " 10.0.0.0/8",
	"10.0.0/8", "10.0.0.256/8", "10.0.0.0/8/8", "::/129", "::1/1000",
	"2001:db8::g/32", "localhost/8", "10.0.0.0/0x8",
	"10.0.0.0/99999999999999999999",
	"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd/8",
	"0000000000000000000000000000000000000000000000000000000000000000000",
};

START_TEST(test_cidr_bad)
{
	struct cidr	c;

	ck_assert_msg(util_cidr_parse(bad_cidrs[_i], &c) == -1, "'%s'",
	    bad_cidrs[_i]);
}
END_TEST

START_TEST(test_cidr_other_family)
{
	struct cidr		c;
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(util_cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert(!util_cidr_match(&c, (struct sockaddr *)&sun));
	ck_assert_int_eq(util_cidr_parse("::/0", &c), 0);
	ck_assert(!util_cidr_match(&c, (struct sockaddr *)&sun));
}
END_TEST

/* --- small helpers ------------------------------------------------------ */

START_TEST(test_ct_streq)
{
	ck_assert(util_ct_streq("", ""));
	ck_assert(util_ct_streq("secret-key-12345", "secret-key-12345"));
	ck_assert(!util_ct_streq("secret-key-12345", "secret-key-12346"));
	ck_assert(!util_ct_streq("Secret-key-12345", "secret-key-12345"));
	ck_assert(!util_ct_streq("secret", "secret-key"));
	ck_assert(!util_ct_streq("secret-key", "secret"));
	ck_assert(!util_ct_streq("", "a"));
	ck_assert(util_ct_eq("a\0b", "a\0b", 3));
	ck_assert(!util_ct_eq("a\0b", "a\0c", 3));
	ck_assert(util_ct_eq("x", "y", 0));
}
END_TEST

START_TEST(test_random_id)
{
	char	a[33], b[33], one[1] = { 'Z' };
	bool	seen[36];
	size_t	i, j, k;

	memset(seen, 0, sizeof(seen));
	for (k = 0; k < 200; k++) {
		memset(a, 'Z', sizeof(a));
		util_random_id(a, sizeof(a));
		ck_assert_uint_eq(strlen(a), 32);
		for (i = 0; i < 32; i++) {
			ck_assert_msg((a[i] >= 'a' && a[i] <= 'z') ||
			    (a[i] >= '0' && a[i] <= '9'), "char %d", a[i]);
			j = a[i] >= 'a' ? (size_t)(a[i] - 'a') :
			    26 + (size_t)(a[i] - '0');
			seen[j] = true;
		}
	}
	/* 6400 draws: every one of the 36 characters turns up. */
	for (j = 0; j < 36; j++)
		ck_assert_msg(seen[j], "character %zu never drawn", j);
	util_random_id(b, sizeof(b));
	ck_assert_str_ne(a, b);
	util_random_id(one, sizeof(one));
	ck_assert_int_eq(one[0], '\0');
	util_random_id(a, 9);
	ck_assert_uint_eq(strlen(a), 8);
}
END_TEST

START_TEST(test_random_token)
{
	char	t[65];
	size_t	i, k;
	bool	upper = false, lower = false, digit = false;

	for (k = 0; k < 50; k++) {
		util_random_token(t, sizeof(t));
		ck_assert_uint_eq(strlen(t), 64);
		for (i = 0; i < 64; i++) {
			if (t[i] >= 'A' && t[i] <= 'Z')
				upper = true;
			else if (t[i] >= 'a' && t[i] <= 'z')
				lower = true;
			else if (t[i] >= '0' && t[i] <= '9')
				digit = true;
			else
				ck_abort_msg("bad token char %d", t[i]);
		}
	}
	ck_assert(upper && lower && digit);
}
END_TEST

START_TEST(test_sha256_hex)
{
	char	out[UTIL_SHA256_HEX];

	memset(out, 'Z', sizeof(out));
	util_sha256_hex("", 0, out);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	util_sha256_hex("abc", 3, out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	util_sha256_hex("abcdbcdecdefdefgefghfghighijhijk"
	    "ijkljklmklmnlmnomnopnopq", 56, out);
	ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_trim)
{
	char	a[] = " \t abc def \t\r\n", b[] = "", c[] = " \t\r\n";
	char	d[] = "x";

	ck_assert_str_eq(util_trim(a), "abc def");
	ck_assert_str_eq(util_trim(b), "");
	ck_assert_str_eq(util_trim(c), "");
	ck_assert_str_eq(util_trim(d), "x");
}
END_TEST

START_TEST(test_iso8601)
{
	char	buf[32];

	util_iso8601(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	util_iso8601(1700000000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2023-11-14T22:13:20Z");
	util_iso8601(951782400, buf, sizeof(buf));	/* leap day */
	ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
}
END_TEST

START_TEST(test_sockaddr_str)
{
	struct sockaddr_storage	ss;
	struct sockaddr_un	sun;
	char			buf[64];

	sa_make(&ss, "192.0.2.7");
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "192.0.2.7");
	sa_make(&ss, "2001:db8::1");
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2001:db8::1");
	sa_make(&ss, "::ffff:192.0.2.7");		/* shown as IPv4 */
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "192.0.2.7");
	sa_make(&ss, "192.0.2.7");
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, buf, 4),
	    -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&sun, buf,
	    sizeof(buf)), -1);
	ck_assert_int_eq(util_sockaddr_str(NULL, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_now_ms)
{
	uint64_t	a, b;

	a = util_now_ms();
	b = util_now_ms();
	ck_assert_uint_ge(b, a);
	ck_assert_int_gt(util_wall_s(), 1600000000);
}
END_TEST

/* --- tbuf --------------------------------------------------------------- */

START_TEST(test_tbuf_ceiling)
{
	struct tbuf	b;

	tbuf_init(&b, 10);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	ck_assert_uint_eq(tbuf_room(&b), 10);
	ck_assert_int_eq(tbuf_put(&b, "0123456789", 10), 0);
	ck_assert_uint_eq(tbuf_len(&b), 10);
	ck_assert_uint_eq(tbuf_room(&b), 0);
	ck_assert_uint_le(b.cap, 15);
	ck_assert_int_eq(tbuf_put(&b, "x", 1), TUN_ETOOBIG);
	ck_assert_uint_eq(tbuf_len(&b), 10);
	ck_assert_mem_eq(tbuf_ptr(&b), "0123456789", 10);
	ck_assert_int_eq(tbuf_put(&b, "", 0), 0);
	ck_assert_ptr_null(tbuf_reserve(&b, 1));
	ck_assert_ptr_null(tbuf_reserve(&b, SIZE_MAX));
	tbuf_consume(&b, 4);
	ck_assert_uint_eq(tbuf_len(&b), 6);
	ck_assert_uint_eq(tbuf_room(&b), 4);
	ck_assert_mem_eq(tbuf_ptr(&b), "456789", 6);
	/* Room at the back comes from moving the data down. */
	ck_assert_int_eq(tbuf_put(&b, "abcde", 5), TUN_ETOOBIG);
	ck_assert_int_eq(tbuf_put(&b, "abcd", 4), 0);
	ck_assert_uint_eq(tbuf_len(&b), 10);
	ck_assert_mem_eq(tbuf_ptr(&b), "456789abcd", 10);
	ck_assert_uint_le(b.cap, 15);
	tbuf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.max, 0);
}
END_TEST

/* What a short writev() left: every cut of three pieces, and no room. */
START_TEST(test_tbuf_put_iov)
{
	const char	*all = "abcdefghij";
	struct iovec	 iov[4];
	struct tbuf	 b;
	size_t		 skip;

	iov[0].iov_base = (void *)(uintptr_t)all;
	iov[0].iov_len = 3;
	iov[1].iov_base = (void *)(uintptr_t)(all + 3);
	iov[1].iov_len = 0;			/* an empty piece */
	iov[2].iov_base = (void *)(uintptr_t)(all + 3);
	iov[2].iov_len = 5;
	iov[3].iov_base = (void *)(uintptr_t)(all + 8);
	iov[3].iov_len = 2;
	for (skip = 0; skip <= 12; skip++) {
		tbuf_init(&b, 64);
		ck_assert_int_eq(tbuf_put(&b, "<", 1), 0);
		ck_assert_int_eq(tbuf_put_iov(&b, iov, 4, skip), 0);
		ck_assert_uint_eq(tbuf_len(&b), 1 + (skip < 10 ? 10 - skip : 0));
		ck_assert_mem_eq(tbuf_ptr(&b) + 1, all + (skip < 10 ? skip : 10),
		    tbuf_len(&b) - 1);
		tbuf_free(&b);
	}
	tbuf_init(&b, 9);
	ck_assert_int_eq(tbuf_put_iov(&b, iov, 4, 0), TUN_ETOOBIG);
	ck_assert_uint_eq(tbuf_len(&b), 0);	/* nothing of it */
	ck_assert_int_eq(tbuf_put_iov(&b, iov, 4, 1), 0);
	ck_assert_mem_eq(tbuf_ptr(&b), "bcdefghij", 9);
	ck_assert_int_eq(tbuf_put_iov(&b, iov, 0, 0), 0);
	ck_assert_int_eq(tbuf_put_iov(&b, iov, 4, 10), 0);
	ck_assert_uint_eq(tbuf_len(&b), 9);
	tbuf_free(&b);
}
END_TEST

START_TEST(test_hexval)
{
	const char	*hex = "0123456789abcdefABCDEF";
	int		 c, n = 0;

	for (c = -1; c < 256; c++)
		if (util_hexval(c) >= 0) {
			ck_assert_ptr_nonnull(strchr(hex, c));
			n++;
		}
	ck_assert_int_eq(n, 22);
	ck_assert_int_eq(util_hexval('7'), 7);
	ck_assert_int_eq(util_hexval('b'), 11);
	ck_assert_int_eq(util_hexval('F'), 15);
	ck_assert_int_eq(util_hexval('g'), -1);
	ck_assert_int_eq(util_hexval('\0'), -1);
}
END_TEST

START_TEST(test_tbuf_consume)
{
	struct tbuf	b;

	tbuf_init(&b, 1024);
	tbuf_consume(&b, 5);			/* empty: harmless */
	ck_assert_uint_eq(tbuf_len(&b), 0);
	ck_assert_int_eq(tbuf_put(&b, "hello world", 11), 0);
	tbuf_consume(&b, 0);
	ck_assert_mem_eq(tbuf_ptr(&b), "hello world", 11);
	tbuf_consume(&b, 6);
	ck_assert_uint_eq(tbuf_len(&b), 5);
	ck_assert_mem_eq(tbuf_ptr(&b), "world", 5);
	tbuf_consume(&b, 100);			/* more than there is */
	ck_assert_uint_eq(tbuf_len(&b), 0);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(tbuf_room(&b), 1024);
	ck_assert_int_eq(tbuf_put(&b, "ab", 2), 0);
	tbuf_consume(&b, 2);
	ck_assert_uint_eq(b.off, 0);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	tbuf_free(&b);
}
END_TEST

START_TEST(test_tbuf_reserve_commit)
{
	struct tbuf	 b;
	uint8_t		*p;

	tbuf_init(&b, 300);
	/* Reserving nothing is not "over max". */
	ck_assert_ptr_nonnull(tbuf_reserve(&b, 0));
	ck_assert_ptr_nonnull(p = tbuf_reserve(&b, 300));
	ck_assert_uint_ge(b.cap, 300);
	ck_assert_uint_le(b.cap, 450);
	memcpy(p, "abc", 3);
	tbuf_commit(&b, 3);
	ck_assert_uint_eq(tbuf_len(&b), 3);
	ck_assert_mem_eq(tbuf_ptr(&b), "abc", 3);
	ck_assert_ptr_null(tbuf_reserve(&b, 298));
	ck_assert_ptr_nonnull(p = tbuf_reserve(&b, 297));
	ck_assert_ptr_eq(p, tbuf_ptr(&b) + 3);
	memset(p, 'x', 297);
	tbuf_commit(&b, 297);
	ck_assert_uint_eq(tbuf_room(&b), 0);
	ck_assert_ptr_nonnull(tbuf_reserve(&b, 0));
	tbuf_consume(&b, 1);
	/* After a consume the reserved space follows the unread data. */
	ck_assert_ptr_nonnull(p = tbuf_reserve(&b, 1));
	ck_assert_ptr_eq(p, tbuf_ptr(&b) + 299);
	*p = 'y';
	tbuf_commit(&b, 1);
	ck_assert_mem_eq(tbuf_ptr(&b), "bc", 2);
	ck_assert_int_eq(tbuf_ptr(&b)[298], 'x');
	ck_assert_int_eq(tbuf_ptr(&b)[299], 'y');
	tbuf_free(&b);

	/* A zero ceiling: nothing fits, but reserving 0 works. */
	tbuf_init(&b, 0);
	ck_assert_ptr_null(tbuf_reserve(&b, 1));
	ck_assert_int_eq(tbuf_put(&b, "a", 1), TUN_ETOOBIG);
	ck_assert_int_eq(tbuf_put(&b, "", 0), 0);
	ck_assert_ptr_nonnull(tbuf_reserve(&b, 0));
	tbuf_free(&b);
}
END_TEST

START_TEST(test_tbuf_shrink_reset)
{
	struct tbuf	b;

	tbuf_init(&b, 64);
	tbuf_shrink(&b);			/* never allocated */
	ck_assert_int_eq(tbuf_put(&b, "abc", 3), 0);
	tbuf_shrink(&b);			/* not empty: kept */
	ck_assert_ptr_nonnull(b.data);
	ck_assert_mem_eq(tbuf_ptr(&b), "abc", 3);
	tbuf_reset(&b);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	ck_assert_uint_eq(tbuf_room(&b), 64);
	tbuf_shrink(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 64);
	ck_assert_int_eq(tbuf_put(&b, "de", 2), 0);
	ck_assert_mem_eq(tbuf_ptr(&b), "de", 2);
	tbuf_free(&b);
	tbuf_free(&b);				/* twice is fine */
}
END_TEST

/* A FIFO of a counting byte pattern, through many grows and moves. */
START_TEST(test_tbuf_stream)
{
	struct tbuf	 b;
	uint8_t		 chunk[1000], *p;
	uint32_t	 in = 0, out = 0;
	size_t		 i, n, k;

	tbuf_init(&b, 100000);
	for (k = 0; k < 2000; k++) {
		n = 1 + (k * 7919) % sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = (uint8_t)(in + i);
		if (tbuf_room(&b) >= n) {
			if (k % 2 == 0)
				ck_assert_int_eq(tbuf_put(&b, chunk, n), 0);
			else {
				ck_assert_ptr_nonnull(p = tbuf_reserve(&b, n));
				memcpy(p, chunk, n);
				tbuf_commit(&b, n);
			}
			in += (uint32_t)n;
		} else
			ck_assert_int_eq(tbuf_put(&b, chunk, n), TUN_ETOOBIG);
		ck_assert_uint_le(b.cap, b.max + b.max / 2);
		ck_assert_uint_le(b.off + b.len, b.cap);
		n = (k * 104729) % 1500;
		if (n > tbuf_len(&b))
			n = tbuf_len(&b);
		for (i = 0; i < n; i++)
			ck_assert_uint_eq(tbuf_ptr(&b)[i], (uint8_t)(out + i));
		tbuf_consume(&b, n);
		out += (uint32_t)n;
		ck_assert_uint_eq(tbuf_len(&b), in - out);
	}
	ck_assert_uint_gt(in, 500000);
	tbuf_free(&b);
}
END_TEST

/*
 * A buffer kept nearly full, filled at the back as it drains at the front
 * (a stream's window): the bytes moved to the front stay within a small
 * multiple of the bytes that went through, however full it is kept.
 */
START_TEST(test_tbuf_full_fifo)
{
	struct tbuf	 b;
	uint8_t		 chunk[16384];
	uint64_t	 through = 0, moved = 0;
	size_t		 max = 2 * 1024 * 1024, k, off, len;
	uint8_t		 in = 0, out = 0;

	tbuf_init(&b, max);
	while (tbuf_room(&b) >= sizeof(chunk)) {
		memset(chunk, in++, sizeof(chunk));
		ck_assert_int_eq(tbuf_put(&b, chunk, sizeof(chunk)), 0);
	}
	for (k = 0; k < 4000; k++) {
		/* Take 16 KiB off the front, put 16 KiB at the back. */
		ck_assert_uint_eq(tbuf_ptr(&b)[0], out);
		ck_assert_uint_eq(tbuf_ptr(&b)[sizeof(chunk) - 1], out);
		tbuf_consume(&b, sizeof(chunk));
		out++;
		through += sizeof(chunk);
		off = b.off;
		len = b.len;
		memset(chunk, in++, sizeof(chunk));
		ck_assert_int_eq(tbuf_put(&b, chunk, sizeof(chunk)), 0);
		if (off > 0 && b.off == 0)
			moved += len;
		ck_assert_uint_le(b.cap, max + max / 2);
	}
	ck_assert_uint_le(moved, 3 * through);
	tbuf_free(&b);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc;

	tc = tcase_create("util");
	tcase_add_loop_test(tc, test_strtonum, 0, nitems(strtonum_cases));
	tcase_add_test(tc, test_strtonum_null);
	tcase_add_test(tc, test_strlcpy);
	tcase_add_loop_test(tc, test_valid_name, 0, nitems(name_cases));
	tcase_add_loop_test(tc, test_split_hostport, 0, nitems(hostport_cases));
	tcase_add_loop_test(tc, test_cidr_match, 0, nitems(cidr_cases));
	tcase_add_test(tc, test_cidr_parse);
	tcase_add_loop_test(tc, test_cidr_bad, 0, nitems(bad_cidrs));
	tcase_add_test(tc, test_cidr_other_family);
	tcase_add_test(tc, test_ct_streq);
	tcase_add_test(tc, test_random_id);
	tcase_add_test(tc, test_random_token);
	tcase_add_test(tc, test_sha256_hex);
	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_iso8601);
	tcase_add_test(tc, test_sockaddr_str);
	tcase_add_test(tc, test_now_ms);
	suite_add_tcase(s, tc);

	tc = tcase_create("tbuf");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tbuf_ceiling);
	tcase_add_test(tc, test_tbuf_consume);
	tcase_add_test(tc, test_tbuf_put_iov);
	tcase_add_test(tc, test_tbuf_reserve_commit);
	tcase_add_test(tc, test_tbuf_shrink_reset);
	tcase_add_test(tc, test_tbuf_stream);
	tcase_add_test(tc, test_tbuf_full_fifo);
	tcase_add_test(tc, test_hexval);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
