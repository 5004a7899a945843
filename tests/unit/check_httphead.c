/* Unit tests for common/httphead.c. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "httphead.h"
#include "tunerr.h"
#include "util.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define S(s)		s, sizeof(s) - 1

static Suite	*httphead_suite(void);

/* --- response heads ---------------------------------------------------- */

struct head_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 ret;		/* 1, 0 or TUN_E* */
	size_t		 used;		/* for ret 1 */
	int		 status;
	const char	*fields;	/* "name=value|..." in order */
};

static const struct head_case heads[] = {
	{ "101", S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZ"
	    "RbK+xOo=\r\n\r\n\x81\x05hello"), 1, 129, 101,
	    "Upgrade=websocket|Connection=Upgrade|Sec-WebSocket-Accept="
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" },
	{ "bare LF", S("HTTP/1.0 200 OK\nA: 1\n\nbody"), 1, 22, 200, "A=1" },
	{ "mixed endings", S("HTTP/1.1 404 Not Found\r\nA:1\n\r\n"), 1, 30,
	    404, "A=1" },
	{ "no reason", S("HTTP/1.1 204\r\n\r\n"), 1, 16, 204, "" },
	{ "empty reason", S("HTTP/1.1 403 \r\n\r\n"), 1, 17, 403, "" },
	{ "status 999", S("HTTP/1.1 999 X\r\n\r\n"), 1, 18, 999, "" },
	{ "status 100", S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"), 1, 25,
	    100, "" },
	{ "ows trimmed", S("HTTP/1.1 200 OK\r\nA: \t x y \t\r\nB:\r\nC:  \r\n"
	    "\r\n"), 1, 41, 200, "A=x y|B=|C=" },
	{ "repeated names keep order",
	    S("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n"
	    "X: 1\r\nset-cookie: b=2\r\n\r\n"), 1, 59, 200,
	    "Set-Cookie=a=1|X=1|set-cookie=b=2" },
	{ "obs-text kept",
	    S("HTTP/1.1 200 OK\r\nA: \xc3\xa4\xff\r\n\r\n"), 1, 27,
	    200, "A=\xc3\xa4\xff" },
	{ "colon in value",
	    S("HTTP/1.1 200 OK\r\nLocation: http://x:1/\r\n\r\n"),
	    1, 42, 200, "Location=http://x:1/" },
	{ "incomplete", S("HTTP/1.1 200 OK\r\nA: 1\r\n"), 0, 0, 0, NULL },
	{ "incomplete CR", S("HTTP/1.1 200 OK\r\nA: 1\r\n\r"), 0, 0, 0, NULL },
	{ "empty", S(""), 0, 0, 0, NULL },
	{ "HTTP/2", S("HTTP/2 200 OK\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "HTTP/1.1x", S("HTTP/1.x 200 OK\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "lower case", S("http/1.1 200 OK\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "status 099", S("HTTP/1.1 099 X\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "status 2 digits",
	    S("HTTP/1.1 20 X\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "status 4 digits", S("HTTP/1.1 2000 X\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "status sign", S("HTTP/1.1 +20 X\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "two spaces", S("HTTP/1.1  200 X\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "empty first line",
	    S("\r\nHTTP/1.1 200 OK\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "bare LF first line",
	    S("\nHTTP/1.1 200 OK\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "garbage", S("SSH-2.0-OpenSSH\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "NUL in status", S("HTTP/1.1 200 O\0K\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "NUL in value",
	    S("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "NUL, head incomplete",
	    S("HTTP/1.1 200 OK\r\nA\0"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "bare CR in value",
	    S("HTTP/1.1 200 OK\r\nA: x\ry\r\n\r\n"), TUN_EPROTO,
	    0, 0, NULL },
	{ "bare CR line",
	    S("HTTP/1.1 200 OK\r\nA: x\r\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "obs-fold",
	    S("HTTP/1.1 200 OK\r\nA: x\r\n y\r\n\r\n"), TUN_EPROTO, 0,
	    0, NULL },
	{ "obs-fold tab",
	    S("HTTP/1.1 200 OK\r\nA: x\r\n\ty\r\n\r\n"), TUN_EPROTO,
	    0, 0, NULL },
	{ "space before colon",
	    S("HTTP/1.1 200 OK\r\nA : x\r\n\r\n"), TUN_EPROTO,
	    0, 0, NULL },
	{ "no colon",
	    S("HTTP/1.1 200 OK\r\nAx\r\n\r\n"), TUN_EPROTO, 0, 0, NULL },
	{ "empty name", S("HTTP/1.1 200 OK\r\n: x\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "bad name",
	    S("HTTP/1.1 200 OK\r\nA(b): x\r\n\r\n"), TUN_EPROTO, 0, 0,
	    NULL },
	{ "injected header",
	    S("HTTP/1.1 200 OK\r\nA: x\r\nB\r\n\r\n"), TUN_EPROTO,
	    0, 0, NULL },
};

/* "a=1|b=2" against the fields of a head. */
static void
head_check_fields(const struct head_case *c, const struct httphead *h,
    const char *how)
{
	char	 want[512], got[512];
	size_t	 i, off = 0;
	int	 n;

	util_strlcpy(want, c->fields, sizeof(want));
	got[0] = '\0';
	for (i = 0; i < h->head.nhdrs; i++) {
		n = snprintf(got + off, sizeof(got) - off, "%s%s=%s",
		    i > 0 ? "|" : "", h->head.hdrs[i].name,
		    h->head.hdrs[i].value);
		ck_assert(n > 0 && (size_t)n < sizeof(got) - off);
		off += (size_t)n;
	}
	ck_assert_msg(strcmp(got, want) == 0, "%s %s: fields \"%s\" want "
	    "\"%s\"", c->name, how, got, want);
}

/* Feed in pieces: whole, cut at k, or byte by byte (step 1). */
static int
head_feed(struct httphead *h, const char *in, size_t len, size_t cut,
    bool bytewise, size_t *used)
{
	size_t	off = 0, piece, u;
	int	r = 0;

	*used = 0;
	while (off < len || (off == 0 && len == 0)) {
		piece = bytewise ? 1 : off < cut ? cut - off : len - off;
		if (piece > len - off)
			piece = len - off;
		r = httphead_parse(h, in + off, piece, &u);
		ck_assert(u <= piece);
		*used += u;
		if (r != 0 || len == 0)
			break;
		ck_assert_uint_eq(u, piece);
		off += piece;
	}
	return r;
}

static void
head_run(const struct head_case *c, size_t cut, bool bytewise)
{
	struct httphead	 h;
	char		 how[64];
	size_t		 used, u;
	int		 r;

	snprintf(how, sizeof(how), bytewise ? "bytewise" : "cut %zu", cut);
	httphead_init(&h);
	r = head_feed(&h, c->in, c->len, cut, bytewise, &used);
	ck_assert_msg(r == c->ret, "%s %s: ret %d want %d", c->name, how, r,
	    c->ret);
	if (r == 1) {
		ck_assert_msg(used == c->used, "%s %s: used %zu want %zu",
		    c->name, how, used, c->used);
		ck_assert_int_eq(h.head.status, c->status);
		head_check_fields(c, &h, how);
		/* Done: takes nothing more. */
		ck_assert_int_eq(httphead_parse(&h, "x", 1, &u), 1);
		ck_assert_uint_eq(u, 0);
	} else if (r < 0) {
		ck_assert_uint_eq(h.head.nhdrs, 0);
		ck_assert_int_eq(httphead_parse(&h, "\r\n\r\n", 4, &u), r);
		ck_assert_uint_eq(u, 0);
	} else
		ck_assert_uint_eq(used, c->len);
	httphead_free(&h);
}

START_TEST(test_head_table)
{
	const struct head_case	*c = &heads[_i];
	size_t			 k;

	head_run(c, c->len, false);
	for (k = 0; k <= c->len; k++)
		head_run(c, k, false);
	head_run(c, 0, true);
}
END_TEST

/* Interim head, then the final one from the same bytes. */
START_TEST(test_head_interim)
{
	static const char	 in[] = "HTTP/1.1 103 Early Hints\r\n"
	    "Link: </a>\r\n"
	    "\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw";
	struct httphead		 h;
	size_t			 used, used2;

	httphead_init(&h);
	ck_assert_int_eq(httphead_parse(&h, in, sizeof(in) - 1, &used), 1);
	ck_assert_int_eq(h.head.status, 103);
	ck_assert_uint_eq(used, 40);
	httphead_reset(&h);
	ck_assert_int_eq(httphead_parse(&h, in + used, sizeof(in) - 1 - used,
	    &used2), 1);
	ck_assert_int_eq(h.head.status, 101);
	ck_assert_str_eq(h.head.hdrs[0].name, "Upgrade");
	ck_assert_str_eq(in + used + used2, "raw");
	httphead_free(&h);
}
END_TEST

static void
big_head(char *buf, size_t *len, size_t fields, size_t vlen)
{
	size_t	i, off;

	off = (size_t)snprintf(buf, 32, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < fields; i++) {
		off += (size_t)snprintf(buf + off, 16, "F%zu: ", i);
		memset(buf + off, 'v', vlen);
		off += vlen;
		buf[off++] = '\r';
		buf[off++] = '\n';
	}
	buf[off++] = '\r';
	buf[off++] = '\n';
	*len = off;
}

START_TEST(test_head_limits)
{
	struct httphead	 h;
	char		*buf = malloc(200000);
	size_t		 len, used;

	ck_assert_ptr_nonnull(buf);
	/* 256 fields pass, 257 do not. */
	big_head(buf, &len, 256, 10);
	httphead_init(&h);
	ck_assert_int_eq(httphead_parse(&h, buf, len, &used), 1);
	ck_assert_uint_eq(h.head.nhdrs, 256);
	ck_assert_uint_eq(used, len);
	httphead_free(&h);
	big_head(buf, &len, 257, 10);
	ck_assert_int_eq(httphead_parse(&h, buf, len, &used), TUN_ETOOBIG);
	httphead_free(&h);
	/* Exactly 64 KiB passes; one byte more does not. */
	big_head(buf, &len, 1, 65536 - 17 - 4 - 4);
	ck_assert_uint_eq(len, 65536);
	ck_assert_int_eq(httphead_parse(&h, buf, len, &used), 1);
	ck_assert_uint_eq(strlen(h.head.hdrs[0].value), 65536 - 25);
	httphead_free(&h);
	big_head(buf, &len, 1, 65536 - 17 - 4 - 4 + 1);
	ck_assert_int_eq(httphead_parse(&h, buf, len, &used), TUN_ETOOBIG);
	httphead_free(&h);
	/* An endless head, fed in pieces, stops at the limit. */
	memset(buf, 'a', 200000);
	memcpy(buf, "HTTP/1.1 200 OK\r\nA: ", 20);
	for (len = 0; len < 200000; len += 1000)
		if (httphead_parse(&h, buf + len, 1000, &used) != 0)
			break;
	ck_assert_int_eq(httphead_parse(&h, buf, 1, &used), TUN_ETOOBIG);
	ck_assert_uint_le(len, 65536);
	httphead_free(&h);
	free(buf);
}
END_TEST

/* --- body framing ------------------------------------------------------ */

static const struct {
	const char	*in;
	const char	*method;
	int		 kind;
	int64_t		 length;
} bodies[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "GET",
	    HTTPHEAD_BODY_LENGTH, 12 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET",
	    HTTPHEAD_BODY_LENGTH, 0 },
	{ "HTTP/1.1 403 No\r\nContent-Length: 5, 5\r\n"
	    "Content-Length: 5\r\n\r\n",
	    "GET", HTTPHEAD_BODY_LENGTH, 5 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
	    "GET", HTTPHEAD_BODY_LENGTH, INT64_MAX },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "HEAD",
	    HTTPHEAD_BODY_NONE, -1 },
	{ "HTTP/1.1 204 OK\r\nContent-Length: 12\r\n\r\n", "GET",
	    HTTPHEAD_BODY_NONE, -1 },
	{ "HTTP/1.1 304 OK\r\n\r\n", "GET", HTTPHEAD_BODY_NONE, -1 },
	{ "HTTP/1.1 101 Up\r\nUpgrade: x\r\n\r\n", "GET", HTTPHEAD_BODY_NONE,
	    -1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
	    HTTPHEAD_BODY_CHUNKED, -1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED \r\n"
	    "Content-Length: 3\r\n\r\n", "GET", HTTPHEAD_BODY_CHUNKED, -1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "GET",
	    HTTPHEAD_BODY_EOF, -1 },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n", "GET",
	    HTTPHEAD_BODY_EOF, -1 },
	{ "HTTP/1.0 200 OK\r\n\r\n", "GET", HTTPHEAD_BODY_EOF, -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    "GET", TUN_EPROTO, -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5,6\r\n\r\n", "GET", TUN_EPROTO,
	    -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET", TUN_EPROTO,
	    -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", "GET", TUN_EPROTO,
	    -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "GET",
	    TUN_EPROTO, -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "GET", TUN_EPROTO, -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n", "GET", TUN_EPROTO,
	    -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
	    "GET", TUN_EPROTO, -1 },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    "GET", TUN_EPROTO, -1 },
};

START_TEST(test_body_table)
{
	struct httphead	 h;
	size_t		 used;
	int64_t		 len = 42;

	httphead_init(&h);
	ck_assert_int_eq(httphead_body(&h, "GET", &len), TUN_EINVAL);
	ck_assert_int_eq(httphead_parse(&h, bodies[_i].in,
	    strlen(bodies[_i].in), &used), 1);
	ck_assert_int_eq(httphead_body(&h, bodies[_i].method, &len),
	    bodies[_i].kind);
	if (bodies[_i].kind == HTTPHEAD_BODY_LENGTH)
		ck_assert_int_eq(len, bodies[_i].length);
	httphead_free(&h);
}
END_TEST

/* --- chunked ----------------------------------------------------------- */

struct chunk_case {
	const char	*name;
	const char	*in;
	size_t		 len;
	int		 ret;
	const char	*data;		/* decoded, for ret >= 0 */
	size_t		 datalen;
	size_t		 used;		/* for ret 1 */
};

static const struct chunk_case chunks[] = {
	{ "two chunks", S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT"), 1,
	    S("hello world"), 26 },
	{ "hex sizes", S("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n"), 1,
	    S("0123456789abcdefghij"), 35 },
	{ "leading zeros", S("005\r\nhello\r\n000\r\n\r\n"), 1,
	    S("hello"), 19 },
	{ "bare LF", S("5\nhello\n0\n\n"), 1, S("hello"), 11 },
	{ "extensions", S("5;a=b;c=\"d;e\"\r\nhello\r\n0;last\r\n\r\n"), 1,
	    S("hello"), 32 },
	{ "BWS before ext", S("5 \t;a\r\nhello\r\n0 \r\n\r\n"), 1,
	    S("hello"), 20 },
	{ "trailers skipped",
	    S("5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n"), 1,
	    S("hello"), 31 },
	{ "CRLF in data kept", S("4\r\n\r\n\r\n\r\n0\r\n\r\n"), 1,
	    S("\r\n\r\n"),
	    14 },
	{ "binary data", S("3\r\n\0\xff\n\r\n0\r\n\r\n"), 1,
	    S("\0\xff\n"), 13 },
	{ "incomplete", S("5\r\nhel"), 0, S("hel"), 0 },
	{ "incomplete trailer", S("0\r\nX: 1\r\n"), 0, S(""), 0 },
	{ "empty", S(""), 0, S(""), 0 },
	{ "no size", S("\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "ext without size", S(";x\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "bad hex", S("5g\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "space in size", S("1 2\r\nx\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "sign", S("+5\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "0x prefix", S("0x5\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "bare CR after size", S("5\rhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "no CRLF after data",
	    S("5\r\nhelloX\r\n0\r\n\r\n"), TUN_EPROTO, NULL, 0,
	    0 },
	{ "CR X after data", S("5\r\nhello\rX"), TUN_EPROTO, NULL, 0, 0 },
	{ "data too long", S("3\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "NUL in ext", S("5;\0\r\nhello\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "NUL in trailer", S("0\r\nX: \0\r\n\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "bare CR in trailer",
	    S("0\r\nX\rY\r\n\r\n"), TUN_EPROTO, NULL, 0, 0 },
	{ "size 15 digits", S("000000000000001\r\nx\r\n0\r\n\r\n"), 1, S("x"),
	    25 },
	{ "size 16 digits",
	    S("0000000000000001\r\nx\r\n"), TUN_ETOOBIG, NULL, 0,
	    0 },
	{ "huge size",
	    S("ffffffffffffffffffff\r\n"), TUN_ETOOBIG, NULL, 0, 0 },
};

static int
chunk_feed(struct httpchunk *c, const char *in, size_t len, size_t cut,
    bool bytewise, char *out, size_t *outlen, size_t *used)
{
	size_t	off = 0, end, u, doff, dlen;
	int	r = 0;

	*outlen = 0;
	*used = 0;
	while (off < len) {
		end = bytewise ? off + 1 : off < cut ? cut : len;
		r = httpchunk_decode(c, in + off, end - off, &u, &doff, &dlen);
		ck_assert(u <= end - off);
		if (dlen > 0) {
			ck_assert(doff + dlen <= u);
			memcpy(out + *outlen, in + off + doff, dlen);
			*outlen += dlen;
		}
		off += u;
		*used = off;
		if (r != 0)
			break;
		if (u == 0)
			ck_abort_msg("no progress at %zu", off);
	}
	return r;
}

static void
chunk_run(const struct chunk_case *c, size_t cut, bool bytewise)
{
	struct httpchunk	 ch;
	char			 out[256];
	size_t			 outlen, used, u, doff, dlen;
	int			 r;

	httpchunk_init(&ch);
	r = chunk_feed(&ch, c->in, c->len, cut, bytewise, out, &outlen,
	    &used);
	ck_assert_msg(r == c->ret, "%s cut %zu%s: ret %d want %d", c->name,
	    cut, bytewise ? " bytewise" : "", r, c->ret);
	if (r >= 0) {
		ck_assert_msg(outlen == c->datalen, "%s: %zu bytes of data",
		    c->name, outlen);
		ck_assert(memcmp(out, c->data, outlen) == 0);
	}
	if (r == 1) {
		ck_assert_uint_eq(used, c->used);
		ck_assert_int_eq(httpchunk_decode(&ch, "5\r\n", 3, &u, &doff,
		    &dlen), 1);
		ck_assert_uint_eq(u, 0);
	}
	if (r < 0) {
		ck_assert_int_eq(httpchunk_decode(&ch, "0\r\n\r\n", 5, &u,
		    &doff, &dlen), r);
		ck_assert_uint_eq(u, 0);
	}
}

START_TEST(test_chunk_table)
{
	const struct chunk_case	*c = &chunks[_i];
	size_t			 k;

	for (k = 0; k <= c->len; k++)
		chunk_run(c, k, false);
	chunk_run(c, 0, true);
}
END_TEST

START_TEST(test_chunk_limits)
{
	struct httpchunk	 c;
	char			*buf = malloc(200000);
	size_t			 u, doff, dlen, off;
	int			 r = 0;

	ck_assert_ptr_nonnull(buf);
	/* An endless extension stops at HTTPCHUNK_MAX_LINE. */
	memset(buf, 'e', 200000);
	memcpy(buf, "5;", 2);
	httpchunk_init(&c);
	ck_assert_int_eq(httpchunk_decode(&c, buf, HTTPCHUNK_MAX_LINE, &u,
	    &doff, &dlen), 0);
	ck_assert_int_eq(httpchunk_decode(&c, buf + 2, 1, &u, &doff, &dlen),
	    TUN_ETOOBIG);
	/* Endless trailers stop at HTTPCHUNK_MAX_TRAILER. */
	for (off = 0; off + 8 <= 200000; off += 8)
		memcpy(buf + off, "X: abc\r\n", 8);
	httpchunk_init(&c);
	ck_assert_int_eq(httpchunk_decode(&c, "0\r\n", 3, &u, &doff, &dlen),
	    0);
	for (off = 0; off < 200000 && r == 0; off += u)
		r = httpchunk_decode(&c, buf + off, 200000 - off, &u, &doff,
		    &dlen);
	ck_assert_int_eq(r, TUN_ETOOBIG);
	ck_assert_uint_le(off, HTTPCHUNK_MAX_TRAILER + 8);
	/* A large chunk passes through in one piece, not copied. */
	httpchunk_init(&c);
	ck_assert_int_eq(httpchunk_decode(&c, "186a0\r\n", 7, &u, &doff,
	    &dlen), 0);
	ck_assert_uint_eq(u, 7);
	ck_assert_int_eq(httpchunk_decode(&c, buf, 200000, &u, &doff, &dlen),
	    0);
	ck_assert_uint_eq(u, 100000);
	ck_assert_uint_eq(doff, 0);
	ck_assert_uint_eq(dlen, 100000);
	free(buf);
}
END_TEST

static Suite *
httphead_suite(void)
{
	Suite	*s = suite_create("httphead");
	TCase	*tc;

	tc = tcase_create("head");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_head_table, 0, nitems(heads));
	tcase_add_test(tc, test_head_interim);
	tcase_add_test(tc, test_head_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("body");
	tcase_add_loop_test(tc, test_body_table, 0, nitems(bodies));
	suite_add_tcase(s, tc);
	tc = tcase_create("chunked");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_chunk_table, 0, nitems(chunks));
	tcase_add_test(tc, test_chunk_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(httphead_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
