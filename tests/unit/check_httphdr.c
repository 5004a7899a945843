/* Unit tests for common/httphdr.c. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>

#include "httphdr.h"
#include "proto.h"
#include "util.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static char	*repeat(int, size_t);
static Suite	*httphdr_suite(void);

static char *
repeat(int c, size_t n)
{
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* --- httphdr_valid_name ------------------------------------------------- */

static const struct {
	const char	*s;
	bool		 ok;
} names[] = {
	{ "Host", true },
	{ "x", true },
	{ "X-Custom_1", true },
	{ "a!#$%&'*+-.^_`|~z", true },
	{ "0", true },
	{ "", false },
	{ "Bad Name", false },
	{ " Host", false },
	{ "Host ", false },
	{ "Host:", false },
	{ "a:b", false },
	{ "a\r", false },
	{ "a\nb", false },
	{ "a\tb", false },
	{ "(x)", false },
	{ "a,b", false },
	{ "a;b", false },
	{ "a\"b", false },
	{ "a/b", false },
	{ "a@b", false },
	{ "a=b", false },
	{ "a{b}", false },
	{ "a\\b", false },
	{ "\x7f", false },
	{ "\x01", false },
	{ "\xc3\xa4", false },
	{ NULL, false },
};

START_TEST(test_valid_name)
{
	ck_assert_msg(httphdr_valid_name(names[_i].s) == names[_i].ok, "'%s'",
	    names[_i].s ? names[_i].s : "(null)");
}
END_TEST

START_TEST(test_valid_name_length)
{
	char	*s = repeat('a', 257);

	ck_assert(!httphdr_valid_name(s));
	s[256] = '\0';
	ck_assert(httphdr_valid_name(s));
	s[255] = ' ';
	ck_assert(!httphdr_valid_name(s));
	free(s);
}
END_TEST

/* --- httphdr_valid_value ------------------------------------------------ */

static const struct {
	const char	*s;
	size_t		 len;
	bool		 ok;
} values[] = {
	{ "abc", 3, true },
	{ "", 0, true },
	{ "text/html; charset=utf-8", 24, true },
	{ "\t tabs and spaces \t", 19, true },
	{ "h\xc3\xa9", 3, true },
	{ "\x01\x7f", 2, true },	/* other controls are the caller's */
	{ "a\rb", 3, false },
	{ "a\nb", 3, false },
	{ "a\r\n", 3, false },
	{ "\r", 1, false },
	{ "a\0b", 3, false },
	{ "abc\n", 3, true },		/* only len bytes are looked at */
	{ NULL, 0, false },
};

START_TEST(test_valid_value)
{
	ck_assert_msg(httphdr_valid_value(values[_i].s, values[_i].len) ==
	    values[_i].ok, "case %d", _i);
}
END_TEST

START_TEST(test_valid_value_length)
{
	char	*s = repeat('v', 65537);

	ck_assert(httphdr_valid_value(s, 65536));
	ck_assert(!httphdr_valid_value(s, 65537));
	s[65535] = '\n';
	ck_assert(!httphdr_valid_value(s, 65536));
	ck_assert(httphdr_valid_value(s, 65535));
	free(s);
}
END_TEST

/* --- httphdr_hop_by_hop ------------------------------------------------- */

static const struct {
	const char	*name, *connection;
	bool		 hop;
} hops[] = {
	{ "Connection", NULL, true },
	{ "connection", NULL, true },
	{ "Keep-Alive", NULL, true },
	{ "KEEP-ALIVE", NULL, true },
	{ "Proxy-Connection", NULL, true },
	{ "Proxy-Authenticate", NULL, true },
	{ "Proxy-Authorization", NULL, true },
	{ "proxy-authorization", NULL, true },
	{ "TE", NULL, true },
	{ "te", NULL, true },
	{ "Trailer", NULL, true },
	{ "Transfer-Encoding", NULL, true },
	{ "transfer-encoding", NULL, true },
	{ "Upgrade", NULL, true },
	{ "Trailers", NULL, false },
	{ "Content-Type", NULL, false },
	{ "Content-Length", NULL, false },
	{ "Authorization", NULL, false },
	{ "Host", NULL, false },
	{ "Connection ", NULL, false },
	{ "", NULL, false },
	{ NULL, NULL, false },
	{ NULL, "x-foo", false },
	{ "X-Foo", "close, X-Foo", true },
	{ "x-foo", "close, X-Foo", true },
	{ "X-Bar", "X-Foo ,  X-Bar", true },
	{ "X-Bar", "X-Foo,X-Bar", true },
	{ "X-Bar", "X-Foo,X-Bar,", true },
	{ "X-Bar", "\tX-Bar\t", true },
	{ "x-a", ",,, x-a ,,", true },
	{ "X-Foo", "X-Foobar", false },
	{ "X-Foobar", "X-Foo", false },
	{ "X-Fo", "X-Foo", false },
	{ "X-Foo", "", false },
	{ "X-Foo", " , ,", false },
	{ "X-Foo", "\"X-Foo\"", false },
	{ "X-Foo", "X-Foo;q=1", false },
	{ "X-Foo", "X-Foo X-Bar", false },
	{ "X-Bar", "X-Foo X-Bar", false },
	{ "X-Bar", "X-Foo X-Baz, X-Bar", true },	/* next one counts */
	{ "X-Foo", "X-Foo/1", false },
	{ "X", "X Foo", false },
	{ "Content-Type", "keep-alive, Content-Type", true },
	{ "Cookie", "close", false },
	{ "close", "close", true },
	{ "X-Foo", "X-Foo\r\n", false },
	{ "", ",", false },
	{ "", "", false },
};

START_TEST(test_hop_by_hop)
{
	ck_assert_msg(httphdr_hop_by_hop(hops[_i].name, hops[_i].connection) ==
	    hops[_i].hop, "'%s' with '%s'", hops[_i].name ? hops[_i].name :
	    "(null)", hops[_i].connection ? hops[_i].connection : "(null)");
}
END_TEST

START_TEST(test_hop_by_hop_long)
{
	char	*conn = malloc(65536 * 2 + 16);
	size_t	 i;

	ck_assert_ptr_nonnull(conn);
	for (i = 0; i < 65536; i++) {
		conn[2 * i] = 'a';
		conn[2 * i + 1] = ',';
	}
	memcpy(conn + 2 * 65536, "X-Last", 7);
	ck_assert(httphdr_hop_by_hop("X-Last", conn));
	ck_assert(httphdr_hop_by_hop("a", conn));
	ck_assert(!httphdr_hop_by_hop("b", conn));
	free(conn);
}
END_TEST

/* --- httphdr_is_forwarding ---------------------------------------------- */

static const struct {
	const char	*name;
	bool		 fwd;
} fwds[] = {
	{ "X-Forwarded-For", true },
	{ "x-forwarded-for", true },
	{ "X-Forwarded-Proto", true },
	{ "X-FORWARDED-HOST", true },
	{ "X-Forwarded-Prefix", true },
	{ "X-Forwarded-Port", true },
	{ "Forwarded", true },
	{ "forwarded", true },
	{ "X-Real-IP", true },
	{ "x-real-ip", true },
	{ "X-Forwarded", false },
	{ "X-Forwarded-", true },
	{ "Forwarded-For", false },
	{ "X-Real-IPs", false },
	{ "X-Real", false },
	{ "XForwarded-For", false },
	{ "Host", false },
	{ "", false },
	{ NULL, false },
};

/* httphdr_has_token: Connection / Upgrade lists. */
static const struct {
	const char	*list;
	const char	*token;
	bool		 want;
} has_token_cases[] = {
	{ "Upgrade", "upgrade", true },
	{ "keep-alive, Upgrade", "upgrade", true },
	{ "  keep-alive ,\tUPGRADE  ", "upgrade", true },
	{ "upgraded", "upgrade", false },
	{ "xupgrade", "upgrade", false },
	{ "up grade", "upgrade", false },
	{ "upgrade x", "upgrade", false },
	{ "", "upgrade", false },
	{ ",,,", "upgrade", false },
	{ NULL, "upgrade", false },
	{ "websocket", "websocket", true },
	{ "h2c, websocket", "websocket", true },
	{ "upgrade", "", false },
};

START_TEST(test_has_token)
{
	ck_assert_msg(httphdr_has_token(has_token_cases[_i].list,
	    has_token_cases[_i].token) == has_token_cases[_i].want,
	    "case %d: '%s' has '%s'", _i, has_token_cases[_i].list ?
	    has_token_cases[_i].list : "(null)", has_token_cases[_i].token);
}
END_TEST

START_TEST(test_is_forwarding)
{
	ck_assert_msg(httphdr_is_forwarding(fwds[_i].name) == fwds[_i].fwd,
	    "'%s'", fwds[_i].name ? fwds[_i].name : "(null)");
}
END_TEST

/* --- httphdr_rewrite_location ------------------------------------------- */

#define L	"localhost:3000"
#define P	"tun.example.com:8080"

static const struct {
	const char	*value, *prefix, *local, *public;
	const char	*want;		/* NULL: unchanged */
} locs[] = {
	/* Absolute paths. */
	{ "/x", "/abc", L, P, "/abc/x" },
	{ "/", "/abc", L, P, "/abc/" },
	{ "/x?q=1#f", "/abc", L, P, "/abc/x?q=1#f" },
	{ "/x/y/", "/abc", NULL, NULL, "/abc/x/y/" },
	{ "/abc", "/abc", L, P, NULL },
	{ "/abc/", "/abc", L, P, NULL },
	{ "/abc/x", "/abc", L, P, NULL },
	{ "/abc?x", "/abc", L, P, NULL },
	{ "/abc#x", "/abc", L, P, NULL },
	{ "/abcd", "/abc", L, P, "/abc/abcd" },
	{ "/abc-d/x", "/abc", L, P, "/abc/abc-d/x" },
	{ "/ABC/x", "/abc", L, P, "/abc/ABC/x" },
	{ "/\\evil.com", "/abc", L, P, "/abc/\\evil.com" },
	{ "/x y", "/abc", L, P, "/abc/x y" },
	/* The local service's own absolute URLs: made relative. */
	{ "http://localhost:3000/x", "/abc", L, P, "/abc/x" },
	{ "HTTP://LOCALHOST:3000/x?y#z", "/abc", L, P, "/abc/x?y#z" },
	{ "http://LocalHost:3000/x", "/abc", L, P, "/abc/x" },
	{ "http://localhost:3000", "/abc", L, P, "/abc/" },
	{ "http://localhost:3000?q", "/abc", L, P, "/abc/?q" },
	{ "http://localhost:3000#f", "/abc", L, P, "/abc/#f" },
	{ "http://localhost:3000/abc/x", "/abc", L, P, "/abc/x" },
	{ "http://localhost:3000/abc", "/abc", L, P, "/abc" },
	{ "http://localhost:3000//evil.com", "/abc", L, P, "/abc//evil.com" },
	{ "https://localhost:3000/x", "/abc", L, P, "/abc/x" },
	{ "http://localhost:3001/x", "/abc", L, P, NULL },
	{ "http://localhost/x", "/abc", L, P, NULL },
	{ "http://localhost/x", "/abc", "localhost:80", P, "/abc/x" },
	{ "http://localhost:80/x", "/abc", "localhost", P, "/abc/x" },
	{ "https://localhost/x", "/abc", "localhost:80", P, NULL },
	{ "https://localhost/x", "/abc", "localhost:443", P, "/abc/x" },
	{ "https://localhost:443/x", "/abc", "localhost", P, "/abc/x" },
	{ "http://localhost/x", "/abc", "localhost", P, "/abc/x" },
	{ "http://127.0.0.1:3000/x", "/abc", "127.0.0.1:3000", P, "/abc/x" },
	{ "http://[::1]:3000/x", "/abc", "[::1]:3000", P, "/abc/x" },
	{ "http://[::1]/x", "/abc", "[::1]:80", P, "/abc/x" },
	{ "http://[::1]:3000/x", "/abc", "[::2]:3000", P, NULL },
	{ "http://[::1:3000/x", "/abc", "[::1:3000", P, NULL },
	{ "http://localhost:3000:3000/x", "/abc", L, P, NULL },
	{ "http://localhost:30x0/x", "/abc", "localhost:30x0", P, NULL },
	/* The public host: prefixed unless already under the prefix. */
	{ "http://tun.example.com:8080/x", "/abc", L, P, "/abc/x" },
	{ "http://TUN.example.com:8080/x?a=b", "/abc", L, P, "/abc/x?a=b" },
	{ "http://tun.example.com:8080/abc/x", "/abc", L, P, NULL },
	{ "http://tun.example.com:8080/abc", "/abc", L, P, NULL },
	{ "http://tun.example.com/x", "/abc", L, "tun.example.com", "/abc/x" },
	{ "https://tun.example.com/x", "/abc", L, "tun.example.com:443",
	  "/abc/x" },
	{ "http://tun.example.com/x", "/abc", L, P, NULL },
	{ "//tun.example.com:8080/x", "/abc", L, P, "/abc/x" },
	{ "//tun.example.com:8080", "/abc", L, P, "/abc/" },
	{ "//tun.example.com:8080/abc/y", "/abc", L, P, NULL },
	{ "//localhost:3000/x", "/abc", L, P, "/abc/x" },
	{ "//localhost:3000/abc/x", "/abc", L, P, "/abc/x" },
	{ "//tun.example.com/x", "/abc", L, "tun.example.com:80", NULL },
	/* The same host both ways. */
	{ "http://h:1/x", "/abc", "h:1", "h:1", "/abc/x" },
	{ "http://h:1/abc/x", "/abc", "h:1", "h:1", NULL },
	/* Other hosts, schemes and relative references: unchanged. */
	{ "//evil.com/x", "/abc", L, P, NULL },
	{ "http://evil.com/x", "/abc", L, P, NULL },
	{ "https://evil.com", "/abc", L, P, NULL },
	{ "http://localhost:3000.evil.com/x", "/abc", L, P, NULL },
	{ "http://user@localhost:3000/x", "/abc", L, P, NULL },
	{ "http://localhost:3000@evil.com/x", "/abc", L, P, NULL },
	{ "http://localhost:3000\\@evil.com/x", "/abc", L, P, NULL },
	{ "ftp://localhost:3000/x", "/abc", L, P, NULL },
	{ "ws://localhost:3000/x", "/abc", L, P, NULL },
	{ "javascript:alert(1)", "/abc", L, P, NULL },
	{ "data:text/html,x", "/abc", L, P, NULL },
	{ "http:/x", "/abc", L, P, NULL },
	{ "http:x", "/abc", L, P, NULL },
	{ "http://", "/abc", L, P, NULL },
	{ "http:///x", "/abc", L, P, NULL },
	{ "///x", "/abc", L, P, NULL },
	{ " /x", "/abc", L, P, NULL },
	{ "x", "/abc", L, P, NULL },
	{ "x/y", "/abc", L, P, NULL },
	{ "../x", "/abc", L, P, NULL },
	{ "./x", "/abc", L, P, NULL },
	{ "?q", "/abc", L, P, NULL },
	{ "#f", "/abc", L, P, NULL },
	{ "", "/abc", L, P, NULL },
	{ "http://localhost:3000/x", "/abc", NULL, NULL, NULL },
	{ "//localhost:3000/x", "/abc", "", "", NULL },
	/* Header injection: never rewritten (the caller drops it). */
	{ "/x\r\nSet-Cookie: a=b", "/abc", L, P, NULL },
	{ "/x\n", "/abc", L, P, NULL },
	{ "/x\r", "/abc", L, P, NULL },
	{ "http://localhost:3000/\n", "/abc", L, P, NULL },
	{ "http://localhost:3000/x", "/ab\r\nc", L, P, NULL },
	/* Bad prefixes. */
	{ "/x", "abc", L, P, NULL },
	{ "/x", "/abc/", L, P, NULL },
	{ "/x", "/", L, P, NULL },
	{ "/x", "", L, P, NULL },
	{ "/x", NULL, L, P, NULL },
	{ "/x", "//evil.com", L, P, NULL },
	{ "/x", "/\\evil.com", L, P, NULL },
	{ "/x", "/a?b", L, P, NULL },
	{ "/x", "/a#b", L, P, NULL },
	{ "/x", "/a b", L, P, NULL },
	{ "/x", "/a//b", L, P, NULL },
	{ "/x", "/a\tb", L, P, NULL },
	{ "/x", "/a/b", L, P, "/a/b/x" },
	{ "/a/b/x", "/a/b", L, P, NULL },
	{ "/a/bc", "/a/b", L, P, "/a/b/a/bc" },
	{ "/x", "/a%2fb:@!$&'()*+,;=~._-", L, P, "/a%2fb:@!$&'()*+,;=~._-/x" },
	{ NULL, "/abc", L, P, NULL },
	/* A longer prefix. */
	{ "/x", "/my-tunnel-1", L, P, "/my-tunnel-1/x" },
	{ "/my-tunnel-1/x", "/my-tunnel-1", L, P, NULL },
	{ "/my-tunnel-10/x", "/my-tunnel-1", L, P,
	  "/my-tunnel-1/my-tunnel-10/x" },
};

START_TEST(test_rewrite_location)
{
	char	*out;

	out = httphdr_rewrite_location(locs[_i].value, locs[_i].prefix,
	    locs[_i].local, locs[_i].public);
	if (locs[_i].want == NULL)
		ck_assert_msg(out == NULL, "'%s' -> '%s'", locs[_i].value, out);
	else {
		ck_assert_msg(out != NULL, "'%s' -> NULL", locs[_i].value);
		ck_assert_str_eq(out, locs[_i].want);
	}
	free(out);
}
END_TEST

START_TEST(test_rewrite_location_long)
{
	char	*v, *out;

	v = repeat('a', 65536);
	v[0] = '/';
	ck_assert_ptr_nonnull(out = httphdr_rewrite_location(v, "/abc", L, P));
	ck_assert_uint_eq(strlen(out), 65536 + 4);
	ck_assert_mem_eq(out, "/abc/aaa", 8);
	free(out);
	free(v);
	v = repeat('a', 65537);
	v[0] = '/';
	ck_assert_ptr_null(httphdr_rewrite_location(v, "/abc", L, P));
	free(v);
}
END_TEST

/* --- httphdr_split_path ------------------------------------------------- */

static const char	id63[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza";

static const struct {
	const char	*path;
	size_t		 idlen;
	bool		 ok;
	const char	*id, *rest;
} splits[] = {
	{ "/abc/x?q", 64, true, "abc", "/x?q" },
	{ "/abc", 64, true, "abc", "" },
	{ "/abc/", 64, true, "abc", "/" },
	{ "/abc?x=1", 64, true, "abc", "?x=1" },
	{ "/abc?", 64, true, "abc", "?" },
	{ "/abc?a/b", 64, true, "abc", "?a/b" },
	{ "/a-1/x/y/z", 64, true, "a-1", "/x/y/z" },
	{ "/0/", 64, true, "0", "/" },
	{ "/abc//x", 64, true, "abc", "//x" },
	{ "/abc/../x", 64, true, "abc", "/../x" },
	{ "/" "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza"
	  "/x", 64, true, id63, "/x" },
	{ "/" "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyzab"
	  "/x", 100, false, "", NULL },
	{ "/abcdef/", 7, true, "abcdef", "/" },
	{ "/abcdef/", 6, false, "", NULL },
	{ "/abc/", 1, false, "", NULL },
	{ "/", 64, false, "", NULL },
	{ "", 64, false, "", NULL },
	{ "//x", 64, false, "", NULL },
	{ "/?q", 64, false, "", NULL },
	{ "abc/x", 64, false, "", NULL },
	{ "http://h/abc/", 64, false, "", NULL },
	{ "*", 64, false, "", NULL },
	{ "/ABC/x", 64, false, "", NULL },
	{ "/-abc/", 64, false, "", NULL },
	{ "/abc-/", 64, false, "", NULL },
	{ "/a_b/", 64, false, "", NULL },
	{ "/a.b/", 64, false, "", NULL },
	{ "/a%62c/", 64, false, "", NULL },
	{ "/abc#x", 64, false, "", NULL },
	{ "/ab c/", 64, false, "", NULL },
	{ "/ab\xc3\xa9/", 64, false, "", NULL },
	{ NULL, 64, false, "", NULL },
};

START_TEST(test_split_path)
{
	char		 id[128];
	const char	*rest = "untouched";
	bool		 ok;

	memset(id, 'Z', sizeof(id));
	ok = httphdr_split_path(splits[_i].path, id, splits[_i].idlen, &rest);
	ck_assert_msg(ok == splits[_i].ok, "'%s'", splits[_i].path);
	ck_assert_str_eq(id, splits[_i].id);
	if (ok) {
		ck_assert_str_eq(rest, splits[_i].rest);
		/* rest points into the input. */
		ck_assert_ptr_eq(rest, splits[_i].path + 1 +
		    strlen(splits[_i].id));
	} else
		ck_assert_str_eq(rest, "untouched");
}
END_TEST

START_TEST(test_split_path_edges)
{
	char	id[8] = "ZZZZZZZ";

	ck_assert(httphdr_split_path("/abc/x", id, sizeof(id), NULL));
	ck_assert_str_eq(id, "abc");
	ck_assert(!httphdr_split_path("/abc/x", NULL, 0, NULL));
	id[0] = 'Z';
	ck_assert(!httphdr_split_path("/abc/x", id, 0, NULL));
	ck_assert_int_eq(id[0], 'Z');		/* idlen 0: not written */
}
END_TEST

/* --- httphdr_host_id ---------------------------------------------------- */

#define D	"example.com"

static const struct {
	const char	*host, *domain;
	size_t		 idlen;
	bool		 ok;
	const char	*id;
} hosts[] = {
	{ "abc.example.com", D, 64, true, "abc" },
	{ "ABC.Example.COM", D, 64, true, "abc" },
	{ "abc.example.com:8080", D, 64, true, "abc" },
	{ "Abc.EXAMPLE.com:65535", D, 64, true, "abc" },
	{ "abc.example.com.", D, 64, true, "abc" },
	{ "abc.example.com.:443", D, 64, true, "abc" },
	{ "abc.example.com", "example.com.", 64, true, "abc" },
	{ "abc.example.com", "EXAMPLE.COM", 64, true, "abc" },
	{ "abc.example.com:", D, 64, true, "abc" },
	{ "a-1.example.com", D, 64, true, "a-1" },
	{ "xn--bcher-kva.example.com", D, 64, true, "xn--bcher-kva" },
	{ "abc.com", "com", 64, true, "abc" },
	{ "abcdef.example.com", D, 7, true, "abcdef" },
	{ "abcdef.example.com", D, 6, false, "" },
	{ "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza"
	  ".example.com", D, 64, true, id63 },
	{ "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyzab"
	  ".example.com", D, 128, false, "" },
	{ "example.com", D, 64, false, "" },
	{ "example.com:80", D, 64, false, "" },
	{ ".example.com", D, 64, false, "" },
	{ "a.b.example.com", D, 64, false, "" },
	{ "abc..example.com", D, 64, false, "" },
	{ "abcexample.com", D, 64, false, "" },
	{ "abc.example.org", D, 64, false, "" },
	{ "abc.example.com.evil", D, 64, false, "" },
	{ "abc.example.com..", D, 64, false, "" },
	{ "abc.example.com:80x", D, 64, false, "" },
	{ "abc.example.com:123456", D, 64, false, "" },
	{ "abc.example.com:1:2", D, 64, false, "" },
	{ "abc.example.com:-1", D, 64, false, "" },
	{ "abc.example.com :80", D, 64, false, "" },
	{ "[::1]:80", D, 64, false, "" },
	{ "[abc.example.com]", D, 64, false, "" },
	{ "a_b.example.com", D, 64, false, "" },
	{ "-ab.example.com", D, 64, false, "" },
	{ "ab-.example.com", D, 64, false, "" },
	{ "a b.example.com", D, 64, false, "" },
	{ "a\xc3\xa9.example.com", D, 64, false, "" },
	{ "abc.example.com", "", 64, false, "" },
	{ "abc.example.com", ".", 64, false, "" },
	{ "", D, 64, false, "" },
	{ ":80", D, 64, false, "" },
	{ NULL, D, 64, false, "" },
	{ "abc.example.com", NULL, 64, false, "" },
};

START_TEST(test_host_id)
{
	char	id[128];
	bool	ok;

	memset(id, 'Z', sizeof(id));
	ok = httphdr_host_id(hosts[_i].host, hosts[_i].domain, id,
	    hosts[_i].idlen);
	ck_assert_msg(ok == hosts[_i].ok, "'%s' in '%s'",
	    hosts[_i].host ? hosts[_i].host : "(null)",
	    hosts[_i].domain ? hosts[_i].domain : "(null)");
	ck_assert_str_eq(id, hosts[_i].id);
}
END_TEST

START_TEST(test_host_id_long)
{
	char	*h, id[64];

	/* A 300-byte host that ends in the domain. */
	h = repeat('a', 300);
	memcpy(h + 300 - 12, ".example.com", 12);
	ck_assert(!httphdr_host_id(h, D, id, sizeof(id)));
	ck_assert_str_eq(id, "");
	free(h);
	ck_assert(!httphdr_host_id("abc.example.com", D, NULL, 0));
}
END_TEST

/* --- httphdr_xff_client -------------------------------------------------- */

/* Trusted: 127.0.0.1 and 10.0.0.0/8; the peer is 127.0.0.1. */
static const struct {
	const char	*xff;
	int		 r;
	const char	*client;	/* what *ss holds after */
} xffs[] = {
	{ "203.0.113.5", 1, "203.0.113.5" },
	{ "203.0.113.5, 10.0.0.2", 1, "203.0.113.5" },
	{ "203.0.113.5,10.0.0.2,127.0.0.1", 1, "203.0.113.5" },
	/* The leftmost entries are the caller's to write: not believed. */
	{ "198.51.100.1, 203.0.113.5", 1, "203.0.113.5" },
	{ "10.9.9.9, 10.0.0.2", 0, "10.9.9.9" },
	{ "  203.0.113.5\t,\t10.0.0.2  ", 1, "203.0.113.5" },
	{ "203.0.113.5:8080", 1, "203.0.113.5" },
	{ "2001:db8::1", 1, "2001:db8::1" },
	{ "[2001:db8::1]", 1, "2001:db8::1" },
	{ "[2001:db8::1]:443, 10.0.0.2", 1, "2001:db8::1" },
	{ "::ffff:10.0.0.2", 0, "10.0.0.2" },
	{ NULL, 0, "127.0.0.1" },
	/* Not an address: stop, and keep the last good one. */
	{ "unknown", -1, "127.0.0.1" },
	{ "", -1, "127.0.0.1" },
	{ ",", -1, "127.0.0.1" },
	{ "203.0.113.5,", -1, "127.0.0.1" },
	{ "203.0.113.5, bogus", -1, "127.0.0.1" },
	{ "bogus, 10.0.0.2", -1, "10.0.0.2" },
	{ "203.0.113.5, , 10.0.0.2", -1, "10.0.0.2" },
	{ "1.2.3", -1, "127.0.0.1" },
	{ "1.2.3.4:123456", -1, "127.0.0.1" },
	{ "1.2.3.4:", -1, "127.0.0.1" },
	{ "1.2.3.4:80x", -1, "127.0.0.1" },
	{ "[::1", -1, "127.0.0.1" },
	{ "[::1]x", -1, "127.0.0.1" },
	{ "[1.2.3.4]", -1, "127.0.0.1" },
	{ "fe80::1%eth0", -1, "127.0.0.1" },
	{ "2001:db8::1 extra", -1, "127.0.0.1" },
	{ "203.0.113.5\r\n", -1, "127.0.0.1" },
};

static struct sockaddr_storage
xff_peer(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	(void)inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	return ss;
}

START_TEST(test_xff_client)
{
	struct cidr		 tr[2];
	struct sockaddr_storage	 ss = xff_peer();
	char			 got[64];

	ck_assert_int_eq(util_cidr_parse("127.0.0.1", &tr[0]), 0);
	ck_assert_int_eq(util_cidr_parse("10.0.0.0/8", &tr[1]), 0);
	ck_assert_msg(httphdr_xff_client(xffs[_i].xff, tr, 2, &ss) ==
	    xffs[_i].r, "'%s'", xffs[_i].xff ? xffs[_i].xff : "(null)");
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, got,
	    sizeof(got)), 0);
	ck_assert_msg(strcmp(got, xffs[_i].client) == 0, "'%s': %s",
	    xffs[_i].xff ? xffs[_i].xff : "(null)", got);
}
END_TEST

/* No trusted proxies at all: the rightmost entry is the client. */
START_TEST(test_xff_untrusted)
{
	struct sockaddr_storage	 ss = xff_peer();
	char			 got[64];

	ck_assert_int_eq(httphdr_xff_client("192.0.2.1, 192.0.2.2", NULL, 0,
	    &ss), 1);
	ck_assert_int_eq(util_sockaddr_str((struct sockaddr *)&ss, got,
	    sizeof(got)), 0);
	ck_assert_str_eq(got, "192.0.2.2");
}
END_TEST

/* A long chain of trusted hops is cut at HTTPHDR_MAX_XFF entries. */
/* Status lines as libcurl hands them over, and hostile ones. */
START_TEST(test_status_line)
{
	static const struct {
		const char	*line;
		int		 status;
	} cases[] = {
		{ "HTTP/1.1 200 OK", 200 },
		{ "HTTP/1.0 404 Not Found", 404 },
		{ "HTTP/1.1 101 Switching Protocols", 101 },
		{ "HTTP/2 204", 204 },
		{ "HTTP/1.1 999 ?", 999 },
		{ "HTTP/1.1 099 low", 0 },
		{ "HTTP/1.1 20", 0 },
		{ "HTTP/1.1 2x0 OK", 0 },
		{ "HTTP/1.1 -20 OK", 0 },
		{ "HTTP/1.1", 0 },
		{ "HTTP/", 0 },
		{ "HTTX/1.1 200 OK", 0 },
		{ "Content-Type: text/plain", 0 },
		{ "", 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_int_eq(httphdr_status_line(cases[i].line,
		    strlen(cases[i].line)), cases[i].status);
	/* The length is honoured: the code past it is not read. */
	ck_assert_int_eq(httphdr_status_line("HTTP/1.1 200 OK", 11), 0);
	ck_assert_int_eq(httphdr_status_line("HTTP/1.1 200 OK", 12), 200);
}
END_TEST

START_TEST(test_xff_long)
{
	struct cidr		 tr;
	struct sockaddr_storage	 ss = xff_peer();
	char			*v;
	size_t			 i, n = HTTPHDR_MAX_XFF + 1, off = 0;

	ck_assert_int_eq(util_cidr_parse("10.0.0.0/8", &tr), 0);
	v = malloc(n * 16);
	ck_assert_ptr_nonnull(v);
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(v + off, n * 16 - off, "%s10.0.0.%zu",
		    i > 0 ? "," : "", i % 250);
	ck_assert_int_eq(httphdr_xff_client(v, &tr, 1, &ss), -1);
	/* One fewer: all trusted, 0. */
	*strrchr(v, ',') = '\0';
	ck_assert_int_eq(httphdr_xff_client(v, &tr, 1, &ss), 0);
	free(v);
	v = repeat(',', 100000);
	ck_assert_int_eq(httphdr_xff_client(v, &tr, 1, &ss), -1);
	free(v);
}
END_TEST

/* Response head lines as curl's header callback gives them. */
START_TEST(test_resp_line)
{
	struct proto_head	 h;
	int			 status = 0;
	char			 many[32];
	size_t			 i;

#define LINE(s)	httphdr_resp_line(&h, &status, (s), sizeof(s) - 1)
	memset(&h, 0, sizeof(h));
	/* Before any status line a field is stray. */
	ck_assert_int_eq(LINE("X-Early: 1\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("HTTP/1.1 100 Continue\r\n"),
	    HTTPHDR_LINE_STATUS);
	ck_assert_int_eq(status, 100);
	ck_assert_int_eq(LINE("X-Interim: a\r\n"), HTTPHDR_LINE_FIELD);
	ck_assert_int_eq(LINE("\r\n"), HTTPHDR_LINE_END);
	/* The final head starts afresh. */
	ck_assert_int_eq(LINE("HTTP/1.1 201 Created\r\n"), HTTPHDR_LINE_STATUS);
	ck_assert_int_eq(status, 201);
	ck_assert_uint_eq(h.nhdrs, 0);
	ck_assert_int_eq(LINE("Set-Cookie:  a=1 \t\r\n"), HTTPHDR_LINE_FIELD);
	ck_assert_int_eq(LINE("Set-Cookie:b=2\n"), HTTPHDR_LINE_FIELD);
	ck_assert_int_eq(LINE("X-Empty:\r\n"), HTTPHDR_LINE_FIELD);
	ck_assert_int_eq(LINE(" folded\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("\tfolded\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("no colon\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("Bad Name: x\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE(": x\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("X-Nul: a\0b\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(LINE("X-Cr: a\rb\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_uint_eq(h.nhdrs, 3);
	ck_assert_str_eq(h.hdrs[0].name, "Set-Cookie");
	ck_assert_str_eq(h.hdrs[0].value, "a=1");
	ck_assert_str_eq(h.hdrs[1].value, "b=2");
	ck_assert_str_eq(h.hdrs[2].name, "X-Empty");
	ck_assert_str_eq(h.hdrs[2].value, "");
	ck_assert_int_eq(LINE("\n"), HTTPHDR_LINE_END);
	/* No more than PROTO_MAX_HEADERS. */
	for (i = h.nhdrs; i < PROTO_MAX_HEADERS; i++) {
		snprintf(many, sizeof(many), "X-%zu: v", i);
		ck_assert_int_eq(httphdr_resp_line(&h, &status, many,
		    strlen(many)), HTTPHDR_LINE_FIELD);
	}
	ck_assert_int_eq(LINE("X-One-Too-Many: v\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_uint_eq(h.nhdrs, PROTO_MAX_HEADERS);
	/* A bad status line: a new head with status 0, fields stray. */
	ck_assert_int_eq(LINE("HTTP/1.1 abc\r\n"), HTTPHDR_LINE_STATUS);
	ck_assert_int_eq(status, 0);
	ck_assert_uint_eq(h.nhdrs, 0);
	ck_assert_int_eq(LINE("X-After: 1\r\n"), HTTPHDR_LINE_DROPPED);
	ck_assert_int_eq(httphdr_resp_line(&h, &status, "", 0),
	    HTTPHDR_LINE_END);
#undef LINE
	proto_head_clear(&h);
}
END_TEST

static Suite *
httphdr_suite(void)
{
	Suite	*s = suite_create("httphdr");
	TCase	*tc;

	tc = tcase_create("httphdr");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_valid_name, 0, nitems(names));
	tcase_add_test(tc, test_valid_name_length);
	tcase_add_loop_test(tc, test_valid_value, 0, nitems(values));
	tcase_add_test(tc, test_valid_value_length);
	tcase_add_loop_test(tc, test_hop_by_hop, 0, nitems(hops));
	tcase_add_test(tc, test_hop_by_hop_long);
	tcase_add_loop_test(tc, test_has_token, 0,
	    sizeof(has_token_cases) / sizeof(has_token_cases[0]));
	tcase_add_loop_test(tc, test_is_forwarding, 0, nitems(fwds));
	tcase_add_loop_test(tc, test_rewrite_location, 0, nitems(locs));
	tcase_add_test(tc, test_rewrite_location_long);
	tcase_add_loop_test(tc, test_split_path, 0, nitems(splits));
	tcase_add_test(tc, test_split_path_edges);
	tcase_add_loop_test(tc, test_host_id, 0, nitems(hosts));
	tcase_add_test(tc, test_host_id_long);
	tcase_add_loop_test(tc, test_xff_client, 0, nitems(xffs));
	tcase_add_test(tc, test_xff_untrusted);
	tcase_add_test(tc, test_xff_long);
	tcase_add_test(tc, test_status_line);
	tcase_add_test(tc, test_resp_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(httphdr_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
