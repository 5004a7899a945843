/*
 * Unit tests for src/apibody.c: the JSON body of POST /api/tunnels.  Good
 * bodies give the fields asked for; hostile ones (wrong types, huge
 * numbers, deep nesting, NUL bytes, "\u0000", invalid UTF-8, repeated
 * keys, json-c's extensions, trailing garbage, over 64 KiB) are refused
 * with the reason, and leave nothing behind.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tunerr.h"
#include "tunneld.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define N63		"abcdefghijklmnopqrstuvwxyz0123456789" \
			"abcdefghijklmnopqrstuvwxyz0"

#define E_JSON		"the body is not valid JSON"
#define E_OBJECT	"the body must be a JSON object"
#define E_NAME		"name must match [a-z0-9-]{1,63} (a DNS label)"
#define E_LPORT		"local_port must be an integer from 1 to 65535"
#define E_TYPE		"type must be \"http\" or \"tcp\""
#define E_RPORT		"remote_port must be an integer from 1 to 65535"
#define E_RPORT_TCP	"remote_port is for tcp tunnels"
#define E_POOL		"pool must be true or false"
#define E_AUTH		"basic_auth must be \"user:password\""
#define E_CIDRS		"allow_cidr must be a CIDR or a list of at most 64"
#define E_CIDR_STR	"allow_cidr must hold strings"
#define E_META		"metadata must be a JSON object of at most 4096 bytes"
#define E_UTF8		"the body is not UTF-8"
#define E_DUP		"the body repeats a key"
#define E_RANGE		"the body holds a number out of range"
#define E_DIFFER	"name and subdomain differ"

static int	 parse(const char *, size_t, struct apibody *, char *, size_t);
static char	*repeat(const char *, const char *, const char *, size_t,
		    const char *);
static char	*nest(const char *, const char *, const char *, size_t,
		    const char *);
static void	 assert_empty(const struct apibody *);

static const struct {
	const char	*body;
	const char	*name;
	int		 local_port;
	bool		 tcp;
	int		 remote_port;
	bool		 pool;
	const char	*basic_auth;
	size_t		 ncidrs;
	const char	*cidr0;
	const char	*metadata;
} good[] = {
	{ .body = "" },
	{ .body = "{}" },
	{ .body = " \t\r\n{}" },
	{ .body = "{\"unknown\":[1,2,{\"x\":null}],\"other\":\"ignored\"}" },
	{ .body = "{\"name\":\"demo\"}", .name = "demo" },
	{ .body = "{\"subdomain\":\"demo-1\"}", .name = "demo-1" },
	{ .body = "{\"name\":\"" N63 "\"}", .name = N63 },
	{ .body = "{\"name\":null,\"local_port\":null,\"type\":null,"
	    "\"remote_port\":null,\"pool\":null,\"basic_auth\":null,"
	    "\"allow_cidr\":null,\"metadata\":null}" },
	{ .body = "{\"local_port\":1}", .local_port = 1 },
	{ .body = "{\"local_port\":65535}", .local_port = 65535 },
	{ .body = "{\"type\":\"http\",\"local_port\":3000}",
	    .local_port = 3000 },
	{ .body = "{\"type\":\"tcp\"}", .tcp = true },
	{ .body = "{\"remote_port\":20000,\"type\":\"tcp\"}", .tcp = true,
	    .remote_port = 20000 },
	{ .body = "{\"pool\":true}", .pool = true },
	{ .body = "{\"pool\":false}" },
	{ .body = "{\"basic_auth\":\"alice:secret\"}",
	    .basic_auth = "alice:secret" },
	{ .body = "{\"allow_cidr\":\"10.0.0.0/8\"}", .ncidrs = 1,
	    .cidr0 = "10.0.0.0/8" },
	{ .body = "{\"allow_cidr\":[\"::1\",\"192.0.2.0/24\"]}", .ncidrs = 2,
	    .cidr0 = "::1" },
	{ .body = "{\"allow_cidr\":[]}" },
	{ .body = "{\"metadata\":{}}", .metadata = "{}" },
	{ .body = "{\"metadata\": { \"a\" : 1, \"b\" : [ true, null, "
	    "\"x/y\" ] } }",
	    .metadata = "{\"a\":1,\"b\":[true,null,\"x\\/y\"]}" },
	{ .body = "{\"metadata\":{\"n\":-12.5e3,\"big\":18446744073709551615}}",
	    .metadata = "{\"n\":-12.5e3,\"big\":18446744073709551615}" },
	{ .body = "{\"metadata\":{\"s\":\"caf\xc3\xa9 \\u00e9 "
	    "\\ud83d\\ude00\"}}",
	    .metadata = "{\"s\":\"caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80\"}" },
	/* White space around the object is fine, as RFC 8259 says. */
	{ .body = "{\"name\":\"a\"} \r\n\t", .name = "a" },
	{ .body = "\n{\"local_port\" :\t80 }\n", .local_port = 80 },
	/* name and subdomain: one field, two spellings */
	{ .body = "{\"name\":\"a\",\"subdomain\":\"a\"}", .name = "a" },
	{ .body = "{\"subdomain\":null,\"name\":\"a\"}", .name = "a" },
	{ .body = "{\"subdomain\":\"a\",\"name\":null}", .name = "a" },
	/* What looks like json-c's extensions, but inside strings. */
	{ .body = "{\"metadata\":{\"it's\":\"'q' /*c*/ //x\"}}",
	    .metadata = "{\"it's\":\"'q' \\/*c*\\/ \\/\\/x\"}" },
	{ .body = "{\"metadata\":{\"k\":\"\\\"{'a':1}\"}}",
	    .metadata = "{\"k\":\"\\\"{'a':1}\"}" },
	/* A lone surrogate escape is U+FFFD, valid UTF-8. */
	{ .body = "{\"metadata\":{\"s\":\"\\ud800\"}}",
	    .metadata = "{\"s\":\"\xef\xbf\xbd\"}" },
	/* Repeated keys below the root are metadata's own business. */
	{ .body = "{\"metadata\":{\"a\":1,\"a\":2}}",
	    .metadata = "{\"a\":2}" },
	{ .body = "{\"metadata\":{\"u\":\"\\u0001\\u001f\"}}",
	    .metadata = "{\"u\":\"\\u0001\\u001f\"}" },
	{ .body = "{\"metadata\":{\"big\":1e308,\"small\":-1e-400}}",
	    .metadata = "{\"big\":1e308,\"small\":-1e-400}" },
	{ .body = "{\"metadata\":{\"a\":0,\"b\":-0.0,\"c\":0.5E-3,"
	    "\"d\":10e+2}}",
	    .metadata = "{\"a\":0,\"b\":-0.0,\"c\":0.5E-3,\"d\":10e+2}" },
	{ .body = "{\"name\":\"a\",\"local_port\":8080,\"type\":\"tcp\","
	    "\"remote_port\":2222,\"pool\":true,\"basic_auth\":\"u:p\","
	    "\"allow_cidr\":[\"10.0.0.0/8\"],\"metadata\":{\"k\":\"v\"}}",
	    .name = "a", .local_port = 8080, .tcp = true, .remote_port = 2222,
	    .pool = true, .basic_auth = "u:p", .ncidrs = 1,
	    .cidr0 = "10.0.0.0/8", .metadata = "{\"k\":\"v\"}" },
};

static const struct {
	const char	*body;
	const char	*err;
} bad[] = {
	/* Not JSON, or not one object. */
	{ "{", E_JSON },
	{ "}", E_JSON },
	{ " ", E_JSON },
	{ "null", E_JSON },
	{ "[]", E_OBJECT },
	{ "[{\"name\":\"a\"}]", E_OBJECT },
	{ "\"name\"", E_OBJECT },
	{ "true", E_JSON },
	{ "{\"name\":\"a\"", E_JSON },
	{ "{\"name\":\"a}", E_JSON },
	{ "{name:\"a\"}", E_JSON },
	{ "{\"a\":0x10}", E_JSON },
	{ "{\"a\":+1}", E_JSON },
	{ "{\"a\":\"\\x41\"}", E_JSON },
	/* Trailing garbage. */
	{ "{}x", E_JSON },
	{ "{}{}", E_JSON },
	{ "{\"name\":\"a\"}{\"name\":\"b\"}", E_JSON },
	{ "{\"name\":\"a\"},", E_JSON },
	{ "{\"name\":\"a\"}]", E_JSON },
	/* name */
	{ "{\"name\":\"\"}", E_NAME },
	{ "{\"name\":\"Demo\"}", E_NAME },
	{ "{\"name\":\"a_b\"}", E_NAME },
	{ "{\"name\":\"a.b\"}", E_NAME },
	{ "{\"name\":\"a b\"}", E_NAME },
	{ "{\"name\":\"caf\xc3\xa9\"}", E_NAME },
	{ "{\"name\":\"" N63 "4\"}", E_NAME },
	{ "{\"name\":1}", E_NAME },
	{ "{\"name\":true}", E_NAME },
	{ "{\"name\":[\"a\"]}", E_NAME },
	{ "{\"name\":{\"a\":1}}", E_NAME },
	{ "{\"subdomain\":\"-\"}", E_NAME },
	/* local_port: wrong types, out of range, huge */
	{ "{\"local_port\":0}", E_LPORT },
	{ "{\"local_port\":-1}", E_LPORT },
	{ "{\"local_port\":-0}", E_LPORT },
	{ "{\"local_port\":65536}", E_LPORT },
	{ "{\"local_port\":4294967297}", E_LPORT },
	{ "{\"local_port\":9223372036854775807}", E_LPORT },
	{ "{\"local_port\":9223372036854775808}", E_LPORT },
	{ "{\"local_port\":18446744073709551616}", E_LPORT },
	{ "{\"local_port\":-9223372036854775809}", E_LPORT },
	{ "{\"local_port\":99999999999999999999999999999999999999999}",
	    E_LPORT },
	{ "{\"local_port\":80.0}", E_LPORT },
	{ "{\"local_port\":8e1}", E_LPORT },
	{ "{\"local_port\":1e999}", E_RANGE },
	{ "{\"local_port\":\"80\"}", E_LPORT },
	{ "{\"local_port\":\"abc\"}", E_LPORT },
	{ "{\"local_port\":true}", E_LPORT },
	{ "{\"local_port\":[80]}", E_LPORT },
	{ "{\"local_port\":{\"port\":80}}", E_LPORT },
	/* type, remote_port, pool */
	{ "{\"type\":\"udp\"}", E_TYPE },
	{ "{\"type\":\"TCP\"}", E_TYPE },
	{ "{\"type\":\"\"}", E_TYPE },
	{ "{\"type\":\"tcp \"}", E_TYPE },
	{ "{\"type\":1}", E_TYPE },
	{ "{\"type\":[\"tcp\"]}", E_TYPE },
	{ "{\"type\":true}", E_TYPE },
	{ "{\"remote_port\":20000}", E_RPORT_TCP },
	{ "{\"type\":\"http\",\"remote_port\":20000}", E_RPORT_TCP },
	{ "{\"type\":\"tcp\",\"remote_port\":0}", E_RPORT },
	{ "{\"type\":\"tcp\",\"remote_port\":70000}", E_RPORT },
	{ "{\"type\":\"tcp\",\"remote_port\":\"22\"}", E_RPORT },
	{ "{\"type\":\"tcp\",\"remote_port\":1e999}", E_RANGE },
	{ "{\"pool\":1}", E_POOL },
	{ "{\"pool\":\"true\"}", E_POOL },
	{ "{\"pool\":[]}", E_POOL },
	/* basic_auth, allow_cidr */
	{ "{\"basic_auth\":1}", E_AUTH },
	{ "{\"basic_auth\":true}", E_AUTH },
	{ "{\"basic_auth\":[\"alice:pw\"]}", E_AUTH },
	{ "{\"basic_auth\":{\"alice\":\"pw\"}}", E_AUTH },
	{ "{\"allow_cidr\":1}", E_CIDRS },
	{ "{\"allow_cidr\":true}", E_CIDRS },
	{ "{\"allow_cidr\":{\"a\":\"10.0.0.0/8\"}}", E_CIDRS },
	{ "{\"allow_cidr\":[1]}", E_CIDR_STR },
	{ "{\"allow_cidr\":[\"10.0.0.0/8\",null]}", E_CIDR_STR },
	{ "{\"allow_cidr\":[[\"10.0.0.0/8\"]]}", E_CIDR_STR },
	/* metadata */
	{ "{\"metadata\":\"x\"}", E_META },
	{ "{\"metadata\":[]}", E_META },
	{ "{\"metadata\":1}", E_META },
	{ "{\"metadata\":true}", E_META },
	/* json-c's extensions: not JSON */
	{ "{'name':'a'}", E_JSON },
	{ "{\"name\":'a'}", E_JSON },
	{ "{\"name\":\"a\",}", E_JSON },
	{ "{\"allow_cidr\":[\"::1\",]}", E_JSON },
	{ "{/*c*/}", E_JSON },
	{ "{\"name\":\"a\"/**/}", E_JSON },
	{ "{\"name\":\"a\"}//c", E_JSON },
	{ "{\"pool\":True}", E_JSON },
	{ "{\"pool\":TRUE}", E_JSON },
	{ "{\"local_port\":080}", E_JSON },
	{ "\xef\xbb\xbf{}", E_JSON },
	{ "{}\f", E_JSON },
	{ "{}\v", E_JSON },
	/* Numbers JSON cannot carry back out */
	{ "{\"metadata\":{\"x\":NaN}}", E_JSON },
	{ "{\"metadata\":{\"x\":-NaN}}", E_JSON },
	{ "{\"metadata\":{\"x\":Infinity}}", E_JSON },
	{ "{\"metadata\":{\"x\":-Infinity}}", E_JSON },
	{ "{\"metadata\":{\"x\":80.}}", E_JSON },
	{ "{\"metadata\":{\"x\":1.e5}}", E_JSON },
	{ "{\"metadata\":{\"x\":-.5}}", E_JSON },
	{ "{\"metadata\":{\"x\":[1.,2]}}", E_JSON },
	{ "{\"other\":[NaN]}", E_JSON },
	{ "{\"local_port\":NaN}", E_JSON },
	{ "{\"metadata\":{\"x\":1e999}}", E_RANGE },
	{ "{\"metadata\":{\"x\":-1E+309}}", E_RANGE },
	{ "{\"metadata\":{\"x\":[1,{\"y\":-1e400}]}}", E_RANGE },
	{ "{\"other\":{\"y\":[[1e999]]}}", E_RANGE },
	/* "\u0000": json-c's C strings would end there */
	{ "{\"name\":\"a\\u0000b\"}", E_JSON },
	{ "{\"name\":\"a\\u0000\"}", E_JSON },
	{ "{\"type\":\"tcp\\u0000x\"}", E_JSON },
	{ "{\"basic_auth\":\"alice:pw\\u0000more\"}", E_JSON },
	{ "{\"allow_cidr\":\"10.0.0.0/8\\u0000junk\"}", E_JSON },
	{ "{\"na\\u0000me\":\"a\"}", E_JSON },
	{ "{\"metadata\":{\"k\\u0000\":1}}", E_JSON },
	{ "{\"metadata\":{\"k\":[\"\\u0000\"]}}", E_JSON },
	/* invalid UTF-8, in strings or out */
	{ "{\"metadata\":{\"s\":\"\xff\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\x80\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xc3\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xc0\x80\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xc1\xbf\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xe0\x80\xaf\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xed\xa0\x80\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xe2\x82\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xf0\x8f\xbf\xbf\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xf4\x90\x80\x80\"}}", E_UTF8 },
	{ "{\"metadata\":{\"s\":\"\xf5\x80\x80\x80\"}}", E_UTF8 },
	{ "{\"metadata\":{\"\xfe\":1}}", E_UTF8 },
	{ "{\"basic_auth\":\"alice:\xe9t\xe9\"}", E_UTF8 },
	{ "{\"name\":\"a\"}\xc3", E_UTF8 },
	{ "\xff{}", E_UTF8 },
	/* repeated keys: which one would count? */
	{ "{\"name\":\"a\",\"name\":\"b\"}", E_DUP },
	{ "{\"name\":\"a\",\"name\":\"a\"}", E_DUP },
	{ "{\"local_port\":80,\"local_port\":\"x\"}", E_DUP },
	{ "{\"type\":\"http\",\"pool\":true,\"type\":\"tcp\"}", E_DUP },
	{ "{\"x\":1,\"x\":1}", E_DUP },
	{ "{\"metadata\":{},\"metadata\":{\"a\":1}}", E_DUP },
	{ "{\"n\\u0061me\":\"a\",\"name\":\"b\"}", E_DUP },
	/* name and subdomain: both are checked, and must agree */
	{ "{\"name\":\"a\",\"subdomain\":\"b\"}", E_DIFFER },
	{ "{\"subdomain\":\"a\",\"name\":\"b\"}", E_DIFFER },
	{ "{\"subdomain\":\"a\",\"name\":\"A\"}", E_NAME },
	{ "{\"subdomain\":null,\"name\":\"A\"}", E_NAME },
	{ "{\"name\":\"a\",\"subdomain\":1}", E_NAME },
};

/* Bad bodies holding NUL bytes, so with their length. */
static const struct {
	const char	*body;
	size_t		 len;
	const char	*err;
} bad_len[] = {
	{ "\0", 1, E_JSON },
	{ "{}\0", 3, E_JSON },
	{ "{\"name\":\"a\"}\0", 13, E_JSON },
	{ "{\"name\":\"a\0\"}", 13, E_JSON },
	{ "{\"na\0me\":\"a\"}", 13, E_JSON },
	{ "{\0}", 3, E_JSON },
	{ "\0{}", 3, E_JSON },
};

static int
parse(const char *s, size_t len, struct apibody *b, char *err, size_t errlen)
{
	char	*copy;
	int	 r;

	/* An exact-size copy: a read past len is a sanitizer's finding. */
	copy = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, s, len);
	r = apibody_parse(copy, len, b, err, errlen);
	free(copy);
	return r;
}

/* head, then n times item with sep between them, then tail. */
static char *
repeat(const char *head, const char *item, const char *sep, size_t n,
    const char *tail)
{
	size_t	 hl = strlen(head), il = strlen(item), sl = strlen(sep);
	size_t	 tl = strlen(tail), i;
	char	*s, *p;

	s = malloc(hl + n * (il + sl) + tl + 1);
	ck_assert_ptr_nonnull(s);
	p = s;
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++) {
		if (i > 0) {
			memcpy(p, sep, sl);
			p += sl;
		}
		memcpy(p, item, il);
		p += il;
	}
	memcpy(p, tail, tl);
	p[tl] = '\0';
	return s;
}

/* head, n times open, n times close, tail. */
static char *
nest(const char *head, const char *open, const char *close, size_t n,
    const char *tail)
{
	char	*a, *s;

	a = repeat(head, open, "", n, "");
	s = repeat(a, close, "", n, tail);
	free(a);
	return s;
}

static void
assert_empty(const struct apibody *b)
{
	ck_assert_ptr_null(b->root);
	ck_assert_ptr_null(b->name);
	ck_assert_ptr_null(b->basic_auth);
	ck_assert_ptr_null(b->metadata);
	ck_assert_int_eq(b->local_port, 0);
	ck_assert_int_eq(b->remote_port, 0);
	ck_assert_uint_eq(b->ncidrs, 0);
	ck_assert(!b->tcp && !b->pool);
}

START_TEST(test_good)
{
	struct apibody	 b;
	char		 err[128];
	const char	*s = good[_i].body;

	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == 0,
	    "%s: %s", s, err);
	ck_assert_str_eq(err, "");
	if (good[_i].name == NULL)
		ck_assert_ptr_null(b.name);
	else
		ck_assert_str_eq(b.name, good[_i].name);
	ck_assert_int_eq(b.local_port, good[_i].local_port);
	ck_assert(b.tcp == good[_i].tcp);
	ck_assert_int_eq(b.remote_port, good[_i].remote_port);
	ck_assert(b.pool == good[_i].pool);
	if (good[_i].basic_auth == NULL)
		ck_assert_ptr_null(b.basic_auth);
	else
		ck_assert_str_eq(b.basic_auth, good[_i].basic_auth);
	ck_assert_uint_eq(b.ncidrs, good[_i].ncidrs);
	if (good[_i].cidr0 != NULL)
		ck_assert_str_eq(b.cidrs[0], good[_i].cidr0);
	if (good[_i].metadata == NULL)
		ck_assert_ptr_null(b.metadata);
	else
		ck_assert_str_eq(b.metadata, good[_i].metadata);
	apibody_free(&b);
	assert_empty(&b);
	apibody_free(&b);		/* twice is harmless */
}
END_TEST

/* A good body cut anywhere before its end is refused. */
START_TEST(test_good_prefixes)
{
	struct apibody	 b;
	char		 err[128];
	const char	*s = good[_i].body;
	size_t		 n, len = strlen(s);

	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	for (n = 1; n < len; n++) {
		ck_assert_msg(parse(s, n, &b, err, sizeof(err)) == TUN_EINVAL,
		    "%.*s taken", (int)n, s);
		assert_empty(&b);
	}
}
END_TEST

START_TEST(test_bad)
{
	struct apibody	 b;
	char		 err[128];
	const char	*s = bad[_i].body;

	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == TUN_EINVAL,
	    "%s taken", s);
	ck_assert_str_eq(err, bad[_i].err);
	assert_empty(&b);
	apibody_free(&b);
}
END_TEST

START_TEST(test_bad_len)
{
	struct apibody	 b;
	char		 err[128];

	ck_assert_int_eq(parse(bad_len[_i].body, bad_len[_i].len, &b, err,
	    sizeof(err)), TUN_EINVAL);
	ck_assert_str_eq(err, bad_len[_i].err);
	assert_empty(&b);
}
END_TEST

/* Nesting: 16 levels parse, 17 do not. */
START_TEST(test_depth)
{
	struct apibody	 b;
	char		 err[128], *s;

	/* root + metadata + 14 arrays = 16 */
	s = nest("{\"metadata\":{\"a\":", "[", "]", 14, "}}");
	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_ptr_nonnull(b.metadata);
	apibody_free(&b);
	free(s);

	s = nest("{\"metadata\":{\"a\":", "[", "]", 15, "}}");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_JSON);
	assert_empty(&b);
	free(s);

	/* Thousands of levels, closed or not: refused, no deep recursion */
	s = nest("", "[", "]", 30000, "");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_JSON);
	free(s);
	s = repeat("{\"metadata\":", "{\"a\":", "", 10000, "");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_JSON);
	assert_empty(&b);
	free(s);
}
END_TEST

/* allow_cidr: 64 entries are fine, 65 are not. */
START_TEST(test_cidr_count)
{
	struct apibody	 b;
	char		 err[128], *s;

	s = repeat("{\"allow_cidr\":[", "\"10.0.0.0/8\"", ",", 64, "]}");
	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_eq(b.ncidrs, 64);
	ck_assert_str_eq(b.cidrs[63], "10.0.0.0/8");
	apibody_free(&b);
	free(s);

	s = repeat("{\"allow_cidr\":[", "\"10.0.0.0/8\"", ",", 65, "]}");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_CIDRS);
	assert_empty(&b);
	free(s);
}
END_TEST

/* metadata: at most 4096 bytes once written compactly. */
START_TEST(test_metadata_size)
{
	struct apibody	 b;
	char		 err[128], *s;
	size_t		 fill = 4096 - strlen("{\"k\":\"\"}");

	s = repeat("{\"metadata\" : { \"k\" : \"", "x", "", fill, "\" } }");
	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_eq(strlen(b.metadata), 4096);
	apibody_free(&b);
	free(s);

	s = repeat("{\"metadata\":{\"k\":\"", "x", "", fill + 1, "\"}}");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_META);
	free(s);

	/* What counts is the size written: 2045 "/" are 4090 bytes. */
	s = repeat("{\"metadata\":{\"k\":\"", "/", "", 2045, "\"}}");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, E_META);
	free(s);
}
END_TEST

/* 64 KiB: exactly that is parsed, one byte more is refused unread. */
START_TEST(test_body_limit)
{
	struct apibody	 b;
	char		 err[128], *s;
	size_t		 fill = TUNNELD_MAX_API_BODY - strlen("{\"x\":\"\"}");

	s = repeat("{\"x\":\"", "a", "", fill, "\"}");
	ck_assert_uint_eq(strlen(s), TUNNELD_MAX_API_BODY);
	ck_assert_msg(parse(s, strlen(s), &b, err, sizeof(err)) == 0, "%s",
	    err);
	apibody_free(&b);
	free(s);

	s = repeat("{\"x\":\"", "a", "", fill + 1, "\"}");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_ETOOBIG);
	ck_assert_str_eq(err, "the body is over 65536 bytes");
	assert_empty(&b);
	free(s);

	/* Not even looked at: garbage past the limit is still "too big". */
	s = repeat("", "\xff", "", TUNNELD_MAX_API_BODY + 1, "");
	ck_assert_int_eq(parse(s, strlen(s), &b, err, sizeof(err)),
	    TUN_ETOOBIG);
	free(s);
}
END_TEST

/* A short error buffer: cut, NUL-terminated, the same result. */
START_TEST(test_small_err)
{
	struct apibody	 b;
	char		 err[8];

	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(apibody_parse("{\"local_port\":0}", 16, &b, err,
	    sizeof(err)), TUN_EINVAL);
	ck_assert_str_eq(err, "local_p");
	ck_assert_int_eq(apibody_parse("{\"local_port\":0}", 16, &b, NULL, 0),
	    TUN_EINVAL);
	ck_assert_int_eq(apibody_parse("{\"local_port\":1}", 16, &b, NULL, 0),
	    0);
	ck_assert_int_eq(b.local_port, 1);
	apibody_free(&b);
	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(apibody_parse("{}", 2, &b, err, 1), 0);
	ck_assert_int_eq(err[0], '\0');
	ck_assert_int_eq(err[1], 'Z');
	apibody_free(&b);
}
END_TEST

static Suite *
apibody_suite(void)
{
	Suite	*s = suite_create("apibody");
	TCase	*tc;

	tc = tcase_create("good");
	tcase_add_loop_test(tc, test_good, 0, nitems(good));
	tcase_add_loop_test(tc, test_good_prefixes, 0, nitems(good));
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_loop_test(tc, test_bad, 0, nitems(bad));
	tcase_add_loop_test(tc, test_bad_len, 0, nitems(bad_len));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_cidr_count);
	tcase_add_test(tc, test_metadata_size);
	tcase_add_test(tc, test_body_limit);
	tcase_add_test(tc, test_small_err);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(apibody_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
