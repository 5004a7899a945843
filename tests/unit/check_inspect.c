/*
 * Unit tests for the request inspector of tunnel-client: the formats of
 * client/capfmt.c (UTF-8, body kinds, JSON pretty-printing, forms, hex,
 * base64, replay edits, ids, capture file lines), the Host and token
 * checks of client/inspect.c, and the capture store of client/capture.c
 * (rings, the body cap, the capture file).  Hostile input throughout;
 * the parsers are also fed every prefix of their inputs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "tunerr.h"
#include "tunnel-client.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* What tunnel-client.c has: the client and its output. */
struct client	 client;

void
client_say(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	va_end(ap);
}

static struct options		 t_opt;
static struct tunnel_conf	 t_conf[2];

static void	 store_setup(size_t, size_t);
static void	 store_teardown(void);
static const char *jget(struct json_object *, const char *);

/* A string constant where a head wants char * (it is only read). */
static char *
unconst(const char *s)
{
	return (char *)(uintptr_t)s;
}

/* --- helpers ---------------------------------------------------------- */

/* A dotted path into a JSON object as a string ("" if absent). */
static const char *
jget(struct json_object *o, const char *path)
{
	char	 buf[128], *p, *dot;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; o != NULL && p != NULL; p = dot) {
		if ((dot = strchr(p, '.')) != NULL)
			*dot++ = '\0';
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(p));
		else if (!json_object_object_get_ex(o, p, &o))
			return "";
	}
	return o == NULL ? "null" : json_object_get_string(o);
}

static void
store_setup(size_t max, size_t cap)
{
	size_t	i;

	memset(&client, 0, sizeof(client));
	memset(&t_opt, 0, sizeof(t_opt));
	memset(t_conf, 0, sizeof(t_conf));
	client.opt = &t_opt;
	client.nlinks = 2;
	client.links = xcalloc(2, sizeof(*client.links));
	t_conf[1].name = unconst("web");
	for (i = 0; i < 2; i++) {
		client.links[i].conf = &t_conf[i];
		snprintf(client.links[i].local_url,
		    sizeof(client.links[i].local_url), "http://127.0.0.1:%zu",
		    8000 + i);
	}
	ck_assert_int_eq(capture_init(max, cap), 0);
}

static void
store_teardown(void)
{
	capture_free();
	free(client.links);
	memset(&client, 0, sizeof(client));
}

static struct capture *
mkcap(size_t ring, const char *method, const char *path)
{
	struct proto_head	h;
	struct capture		*c;

	memset(&h, 0, sizeof(h));
	h.method = unconst(method);
	h.path = unconst(path);
	h.content_length = -1;
	c = capture_new(capture_ring(ring), &h, 0);
	return c;
}

/* --- UTF-8 and strings ------------------------------------------------- */

static const struct { const char *s; size_t n; bool ok; } utf8_cases[] = {
	{ "", 0, true },
	{ "plain ascii", 11, true },
	{ "caf\xc3\xa9", 5, true },
	{ "\xe2\x82\xac", 3, true },			/* U+20AC */
	{ "\xf0\x9f\x98\x80", 4, true },		/* U+1F600 */
	{ "\xf4\x8f\xbf\xbf", 4, true },		/* U+10FFFF */
	{ "a\0b", 3, true },				/* NUL is UTF-8 */
	{ "\xc0\xaf", 2, false },			/* overlong / */
	{ "\xe0\x80\xaf", 3, false },			/* overlong */
	{ "\xf0\x80\x80\xaf", 4, false },		/* overlong */
	{ "\xed\xa0\x80", 3, false },			/* surrogate */
	{ "\xf4\x90\x80\x80", 4, false },		/* > U+10FFFF */
	{ "\xf5\x80\x80\x80", 4, false },
	{ "\xc3", 1, false },				/* cut short */
	{ "\xe2\x82", 2, false },
	{ "\x80", 1, false },				/* lone continuation */
	{ "\xff", 1, false },
	{ "ok\xc3(", 4, false },
};

START_TEST(test_utf8)
{
	size_t	i;

	for (i = 0; i < nitems(utf8_cases); i++)
		ck_assert_msg(capfmt_utf8_valid((const uint8_t *)
		    utf8_cases[i].s, utf8_cases[i].n) == utf8_cases[i].ok,
		    "case %zu", i);
}
END_TEST

START_TEST(test_string_replaces_bad_bytes)
{
	struct json_object	*o;

	o = capfmt_string("a\xff" "b\xc3", 4);
	ck_assert_str_eq(json_object_get_string(o),
	    "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	json_object_put(o);
	o = capfmt_string("caf\xc3\xa9", 5);
	ck_assert_str_eq(json_object_get_string(o), "caf\xc3\xa9");
	json_object_put(o);
	o = capfmt_string(NULL, 0);
	ck_assert_str_eq(json_object_get_string(o), "");
	json_object_put(o);
}
END_TEST

/* --- body kinds ---------------------------------------------------------- */

static const struct { const char *ctype; const char *body; size_t n;
    int kind; } kind_cases[] = {
	{ "application/json", "", 0, CAPFMT_EMPTY },
	{ "application/json", "{\"a\":1}", 7, CAPFMT_JSON },
	{ "Application/JSON; charset=utf-8", "[1,2]", 5, CAPFMT_JSON },
	{ "application/vnd.api+json", "{}", 2, CAPFMT_JSON },
	{ NULL, "  {\"a\":[true,null]}\n", 20, CAPFMT_JSON },
	{ "application/json", "{\"a\":", 5, CAPFMT_TEXT },	/* cut short */
	{ "application/json", "{\"a\":1,}", 8, CAPFMT_TEXT },
	{ "application/json", "{} x", 4, CAPFMT_TEXT },	/* trailing */
	{ "text/plain", "{\"a\":1}", 7, CAPFMT_TEXT },
	{ "application/x-www-form-urlencoded", "a=1&b=2", 7, CAPFMT_FORM },
	{ "text/html", "<b>hi</b>\n", 10, CAPFMT_TEXT },
	{ NULL, "hello\r\n\tworld", 13, CAPFMT_TEXT },
	{ "text/plain", "a\0b", 3, CAPFMT_BINARY },
	{ "text/plain", "\xff\xfe", 2, CAPFMT_BINARY },
	{ "application/octet-stream", "\x01\x02", 2, CAPFMT_BINARY },
	{ "image/png", "\x89PNG", 4, CAPFMT_IMAGE },
	{ "IMAGE/JPEG", "\xff\xd8", 2, CAPFMT_IMAGE },
	{ "image/svg+xml", "<svg/>", 6, CAPFMT_TEXT },	/* never inlined */
	{ "image/png;x", "x", 1, CAPFMT_IMAGE },
	{ "application/x-www-form-urlencoded", "a=\x01", 3, CAPFMT_BINARY },
};

START_TEST(test_kind)
{
	size_t	i;

	for (i = 0; i < nitems(kind_cases); i++)
		ck_assert_msg(capfmt_kind(kind_cases[i].ctype,
		    (const uint8_t *)kind_cases[i].body, kind_cases[i].n) ==
		    kind_cases[i].kind, "case %zu: %d", i, capfmt_kind(
		    kind_cases[i].ctype, (const uint8_t *)kind_cases[i].body,
		    kind_cases[i].n));
}
END_TEST

START_TEST(test_pretty_json)
{
	static const struct { const char *in; const char *out; } c[] = {
		{ "{\"a\":1,\"b\":[1,2,3],\"c\":{}}",
		  "{\n  \"a\": 1,\n  \"b\": [1, 2, 3],\n  \"c\": {}\n}" },
		{ "[]", "[]" },
		{ "\"x/y\"", "\"x/y\"" },
		{ "[[1],[2]]", "[\n  [1],\n  [2]\n]" },
		{ "{\"h\":[[\"Host\",\"x\"]]}",
		  "{\n  \"h\": [\n    [\"Host\", \"x\"]\n  ]\n}" },
		{ "1.50", "1.50" },
		{ "{\"\\u00e9\\n\":\"\\t\"}", "{\n  \"\xc3\xa9\\n\": \"\\t\"\n}" },
		{ "null", "null" },
	};
	char	*s, in[200];
	size_t	 i;

	for (i = 0; i < nitems(c); i++) {
		s = capfmt_pretty_json((const uint8_t *)c[i].in,
		    strlen(c[i].in));
		ck_assert_msg(s != NULL, "case %zu", i);
		ck_assert_str_eq(s, c[i].out);
		free(s);
	}
	/* A long flat array goes one element a line. */
	memset(in, 0, sizeof(in));
	strcpy(in, "[");
	for (i = 0; i < 30; i++)
		strcat(in, i ? ",1234" : "1234");
	strcat(in, "]");
	s = capfmt_pretty_json((const uint8_t *)in, strlen(in));
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s[1], '\n');
	free(s);
}
END_TEST

START_TEST(test_pretty_json_hostile)
{
	static const char *const bad[] = { "", "{", "[1,", "{\"a\"}", "nul",
	    "[1] [2]", "{\"a\":1}}", "[01]", "[1,]", "{a:1}",
	    "\"\xff\"", "\"\\ud800\"x", "12 3", "1.5e" };
	char	*deep, *s;
	size_t	 i, n = 200;

	for (i = 0; i < nitems(bad); i++) {
		s = capfmt_pretty_json((const uint8_t *)bad[i], strlen(bad[i]));
		ck_assert_msg(s == NULL, "case %zu: %s", i, bad[i]);
	}
	/* 64 levels parse; deeper ones do not, and nothing crashes. */
	deep = xmalloc(2 * n + 1);
	for (i = 0; i < n; i++) {
		deep[i] = '[';
		deep[2 * n - 1 - i] = ']';
	}
	deep[2 * n] = '\0';
	s = capfmt_pretty_json((const uint8_t *)deep + (n - 64), 128);
	ck_assert_ptr_nonnull(s);
	free(s);
	s = capfmt_pretty_json((const uint8_t *)deep + (n - 65), 130);
	ck_assert_ptr_null(s);
	s = capfmt_pretty_json((const uint8_t *)deep, 2 * n);
	ck_assert_ptr_null(s);
	free(deep);
}
END_TEST

START_TEST(test_form)
{
	struct json_object	*o, *v;
	char			 big[8192];
	size_t			 i;

	o = capfmt_form((const uint8_t *)"a=1&b=x+y&c=%41%42&d&&e=&%zz=%4",
	    31);
	ck_assert_str_eq(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "[[\"a\",\"1\"],[\"b\",\"x y\"],"
	    "[\"c\",\"AB\"],[\"d\",\"\"],[\"e\",\"\"],[\"%zz\",\"%4\"]]");
	json_object_put(o);
	o = capfmt_form((const uint8_t *)"n=%00%ff", 8);
	v = json_object_array_get_idx(json_object_array_get_idx(o, 0), 1);
	ck_assert_int_eq(json_object_get_string_len(v), 4);
	ck_assert(memcmp(json_object_get_string(v), "\0\xef\xbf\xbd", 4) ==
	    0);					/* NUL, then U+FFFD */
	json_object_put(o);
	/* At most CAPFMT_FORM_MAX fields. */
	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "a&", 2);
	o = capfmt_form((const uint8_t *)big, sizeof(big) - 2);
	ck_assert_int_eq(json_object_array_length(o), CAPFMT_FORM_MAX);
	json_object_put(o);
}
END_TEST

START_TEST(test_hexdump)
{
	uint8_t	 b[20];
	char	*s;
	size_t	 i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i == 16 ? 'A' : i);
	s = capfmt_hexdump(b, 17, 100);
	ck_assert_str_eq(s,
	    "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  "
	    "|................|\n"
	    "00000010  41                                                "
	    "|A|\n");
	free(s);
	s = capfmt_hexdump(b, 20, 16);		/* the first max bytes */
	ck_assert_int_eq(strlen(s), 79);
	free(s);
	s = capfmt_hexdump(b, 0, 16);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_base64)
{
	static const struct { const char *in; bool ok; } dec[] = {
		{ "", true }, { "QQ==", true }, { "QUI=", true },
		{ "QUJD", true }, { "QQ=", false }, { "QR==", false },
		{ "QUJ=", false }, { "Q===", false }, { "=QQQ", false },
		{ "QU=D", false }, { "QUJD\n", false }, { "QU JD", false },
		{ "QUJ*", false }, { "====", false },
	};
	uint8_t	 raw[64], *out;
	size_t	 n, i, len;
	char	*enc;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 37 + 11);
	for (n = 0; n <= sizeof(raw); n++) {
		enc = capfmt_b64_encode(raw, n);
		ck_assert_uint_eq(strlen(enc), (n + 2) / 3 * 4);
		ck_assert_int_eq(capfmt_b64_decode(enc, strlen(enc), &out,
		    &len), 0);
		ck_assert_uint_eq(len, n);
		ck_assert(memcmp(out, raw, n) == 0);
		free(out);
		free(enc);
	}
	for (i = 0; i < nitems(dec); i++) {
		ck_assert_msg((capfmt_b64_decode(dec[i].in, strlen(dec[i].in),
		    &out, &len) == 0) == dec[i].ok, "case %zu", i);
		free(out);
	}
	ck_assert_int_eq(capfmt_b64_decode("QQ\0=", 4, &out, &len),
	    TUN_EINVAL);
}
END_TEST

/* --- ids and edits --------------------------------------------------------- */

START_TEST(test_parse_id)
{
	static const struct { const char *s; bool ok; uint64_t id; } c[] = {
		{ "1", true, 1 }, { "42", true, 42 },
		{ "9223372036854775807", true, 9223372036854775807ULL },
		{ "9223372036854775808", false, 0 }, { "0", false, 0 },
		{ "007", false, 0 }, { "", false, 0 }, { "-1", false, 0 },
		{ "+1", false, 0 }, { "1a", false, 0 }, { " 1", false, 0 },
		{ "99999999999999999999", false, 0 }, { "0x10", false, 0 },
	};
	uint64_t	id;
	size_t		i;

	for (i = 0; i < nitems(c); i++) {
		id = 0;
		ck_assert_msg(capfmt_parse_id(c[i].s, &id) == c[i].ok,
		    "case %zu", i);
		if (c[i].ok)
			ck_assert_uint_eq(id, c[i].id);
	}
}
END_TEST

START_TEST(test_edit_ok)
{
	static const char in[] = "{\"method\":\"PUT\",\"path\":\"/x?y=1\","
	    "\"headers\":[[\"X-A\",\"1\"],[\"X-A\",\"2\"],[\"E\",\"\"]],"
	    "\"body_base64\":\"AAEC\"}";
	struct capedit	e;
	char		err[256];

	ck_assert_int_eq(capfmt_parse_edit(in, strlen(in), 100, &e, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(e.method, "PUT");
	ck_assert_str_eq(e.path, "/x?y=1");
	ck_assert(e.has_headers);
	ck_assert_uint_eq(e.headers.nhdrs, 3);
	ck_assert_str_eq(e.headers.hdrs[1].value, "2");
	ck_assert(e.has_body);
	ck_assert_uint_eq(e.body_len, 3);
	ck_assert(memcmp(e.body, "\0\1\2", 3) == 0);
	capfmt_edit_free(&e);
	ck_assert_int_eq(capfmt_parse_edit("", 0, 100, &e, err, sizeof(err)),
	    0);
	ck_assert(!e.has_body && !e.has_headers && e.method == NULL);
	ck_assert_int_eq(capfmt_parse_edit("{\"body\":\"a\\u0000b\"}", 19, 100,
	    &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.body_len, 3);	/* NUL kept in a body */
	capfmt_edit_free(&e);
}
END_TEST

START_TEST(test_edit_hostile)
{
	static const char *const bad[] = {
		"{", "[]", "\"x\"", "null", "{\"method\":1}",
		"{\"method\":\"GET /x\"}", "{\"method\":\"\"}",
		"{\"method\":\"AVERYLONGMETHODNAMEOFMORETHAN32CH\"}",
		"{\"path\":\"x\"}", "{\"path\":\"/a b\"}",
		"{\"path\":\"/a\\r\\nX: y\"}", "{\"path\":\"/\\u0000\"}",
		"{\"headers\":{}}", "{\"headers\":[[\"a\"]]}",
		"{\"headers\":[[\"a\",1]]}", "{\"headers\":[\"a: b\"]}",
		"{\"headers\":[[\"a b\",\"c\"]]}", "{\"headers\":[[\"\",\"c\"]]}",
		"{\"headers\":[[\"a\",\"b\\r\\nc: d\"]]}",
		"{\"headers\":[[\"a\",\"b\\u0000c\"]]}",
		"{\"headers\":[[\"a\\u0000\",\"b\"]]}",
		"{\"body\":1}", "{\"body\":\"x\",\"body_base64\":\"eA==\"}",
		"{\"body_base64\":\"eA\"}", "{\"body\":\"0123456789abcdefX\"}",
		"{\"url\":\"http://x/\"}", "{\"method\":\"GET\"} {}",
		"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}",
	};
	static const char good[] = "{\"method\":\"PUT\",\"headers\":"
	    "[[\"A\",\"b\"]],\"body\":\"x\"}";
	struct capedit	 e;
	char		 err[256], *many, *p;
	size_t		 i, n;

	for (i = 0; i < nitems(bad); i++) {
		ck_assert_msg(capfmt_parse_edit(bad[i], strlen(bad[i]), 16, &e,
		    err, sizeof(err)) == TUN_EINVAL, "case %zu: %s", i, bad[i]);
		ck_assert_msg(err[0] != '\0', "case %zu: no reason", i);
		ck_assert_ptr_null(e.method);
		ck_assert_ptr_null(e.body);
	}
	/* More headers than a request may have. */
	many = p = xmalloc(20 + 12 * (PROTO_MAX_HEADERS + 1));
	p += sprintf(p, "{\"headers\":[");
	for (i = 0; i <= PROTO_MAX_HEADERS; i++)
		p += sprintf(p, "%s[\"a\",\"b\"]", i ? "," : "");
	sprintf(p, "]}");
	ck_assert_int_eq(capfmt_parse_edit(many, strlen(many), 16, &e, err,
	    sizeof(err)), TUN_EINVAL);
	free(many);
	/* Every prefix of a good edit is refused, none crashes. */
	n = strlen(good);
	ck_assert_int_eq(capfmt_parse_edit(good, n, 16, &e, err, sizeof(err)),
	    0);
	capfmt_edit_free(&e);
	for (i = 1; i < n; i++)
		ck_assert_int_eq(capfmt_parse_edit(good, i, 16, &e, err,
		    sizeof(err)), TUN_EINVAL);
}
END_TEST

/* --- Host and token ------------------------------------------------------------ */

static const struct { const char *host; const char *bound; bool ok; }
    host_cases[] = {
	{ "127.0.0.1:4040", "127.0.0.1", true },
	{ "localhost:4040", "127.0.0.1", true },
	{ "LocalHost:4040", "127.0.0.1", true },
	{ "127.0.0.1:04040", "127.0.0.1", true },
	{ "127.0.0.1", "127.0.0.1", false },		/* port 80 */
	{ "127.0.0.1:4041", "127.0.0.1", false },
	{ "127.0.0.1:", "127.0.0.1", false },
	{ "127.0.0.1:4040:1", "127.0.0.1", false },
	{ "127.0.0.1:+4040", "127.0.0.1", false },
	{ "127.0.0.1:4040 ", "127.0.0.1", false },
	{ " 127.0.0.1:4040", "127.0.0.1", false },
	{ "127.0.0.2:4040", "127.0.0.1", false },
	{ "127.1:4040", "127.0.0.1", false },
	{ "attacker.example:4040", "127.0.0.1", false },
	{ "127.0.0.1.nip.io:4040", "127.0.0.1", false },
	{ "localhost.:4040", "127.0.0.1", false },
	{ "[::1]:4040", "127.0.0.1", false },
	{ "", "127.0.0.1", false },
	{ ":4040", "127.0.0.1", false },
	{ "[::1]:4040", "::1", true },
	{ "[0:0:0:0:0:0:0:1]:4040", "::1", true },
	{ "localhost:4040", "::1", true },
	{ "::1:4040", "::1", false },
	{ "[::1]", "::1", false },
	{ "[::1]x:4040", "::1", false },
	{ "[::1:4040", "::1", false },
	{ "[::2]:4040", "::1", false },
	{ "127.0.0.1:4040", "::1", false },
	{ "[localhost]:4040", "::1", false },
	{ "192.0.2.7:4040", "0.0.0.0", true },
	{ "localhost:4040", "0.0.0.0", true },
	{ "evil.example:4040", "0.0.0.0", false },
	{ "192.0.2.7:4040", "192.0.2.7", true },
	{ "localhost:4040", "192.0.2.7", false },
	{ "[2001:db8::1]:4040", "::", true },
	{ "127.0.0.1:4040", "not an address", false },
};

START_TEST(test_host)
{
	char	long_host[400];
	size_t	i;

	for (i = 0; i < nitems(host_cases); i++)
		ck_assert_msg(inspect_host_ok(host_cases[i].host,
		    host_cases[i].bound, 4040) == host_cases[i].ok,
		    "case %zu: %s on %s", i, host_cases[i].host,
		    host_cases[i].bound);
	ck_assert(!inspect_host_ok(NULL, "127.0.0.1", 4040));
	ck_assert(!inspect_host_ok("127.0.0.1:4040", NULL, 4040));
	ck_assert(inspect_host_ok("127.0.0.1", "127.0.0.1", 80));
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	ck_assert(!inspect_host_ok(long_host, "127.0.0.1", 4040));
	memcpy(long_host + 300, ":4040", 6);
	ck_assert(!inspect_host_ok(long_host, "0.0.0.0", 4040));
}
END_TEST

START_TEST(test_token)
{
	const char	*tok = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";

	ck_assert(inspect_token_ok("AbCdEfGhIjKlMnOpQrStUvWxYz012345", tok));
	ck_assert(!inspect_token_ok("AbCdEfGhIjKlMnOpQrStUvWxYz01234", tok));
	ck_assert(!inspect_token_ok("AbCdEfGhIjKlMnOpQrStUvWxYz0123456",
	    tok));
	ck_assert(!inspect_token_ok("abCdEfGhIjKlMnOpQrStUvWxYz012345", tok));
	ck_assert(!inspect_token_ok("", tok));
	ck_assert(!inspect_token_ok(NULL, tok));
	ck_assert(!inspect_token_ok("", ""));
	ck_assert(!inspect_token_ok("x", NULL));
}
END_TEST

/* --- the store --------------------------------------------------------------------- */

/* fwdhdr.c: the rules forwarded and replayed requests share. */
START_TEST(test_forward_rules)
{
	static const char *const dropped[] = { "Host", "host", "Content-Length",
	    "CONTENT-LENGTH", "Expect", "Connection", "Keep-Alive", "TE",
	    "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Trailer",
	    "X-Named-In-Connection" };
	static const char *const kept[] = { "Accept", "Authorization",
	    "Cookie", "X-Forwarded-For", "Content-Type", "Hostname", "" };
	struct tunnel_conf	 conf;
	struct link		 l;
	struct proto_head	 req;
	struct curl_slist	*list = NULL;
	char			 mode[3][16] = { "rewrite", "preserve",
				     "example.test" };
	size_t			 i;

	for (i = 0; i < nitems(dropped); i++)
		ck_assert_msg(forward_header_dropped(dropped[i],
		    "close, X-Named-In-Connection"), "%s", dropped[i]);
	for (i = 0; i < nitems(kept); i++)
		ck_assert_msg(!forward_header_dropped(kept[i], "close"), "%s",
		    kept[i]);

	memset(&conf, 0, sizeof(conf));
	memset(&l, 0, sizeof(l));
	memset(&req, 0, sizeof(req));
	l.conf = &conf;
	snprintf(l.local_hostport, sizeof(l.local_hostport), "localhost:3000");
	conf.host_header = mode[0];
	ck_assert_str_eq(forward_host(&l, &req), "localhost:3000");
	conf.host_header = mode[1];
	ck_assert_str_eq(forward_host(&l, &req), "localhost:3000");
	proto_head_add(&req, "Host", "public.example:8080");
	ck_assert_str_eq(forward_host(&l, &req), "public.example:8080");
	conf.host_header = mode[0];
	ck_assert_str_eq(forward_host(&l, &req), "localhost:3000");
	conf.host_header = mode[2];
	ck_assert_str_eq(forward_host(&l, &req), "example.test");
	proto_head_clear(&req);

	list = forward_header_add(list, "X-Empty", "");
	list = forward_header_add(list, "X-Full", "a b");
	ck_assert_str_eq(list->data, "X-Empty;");
	ck_assert_str_eq(list->next->data, "X-Full: a b");
	ck_assert_ptr_null(list->next->next);
	curl_slist_free_all(list);
}
END_TEST

START_TEST(test_ring_bounded)
{
	struct capture	*c, *all[8];
	struct capview	 v;
	size_t		 i, n;

	store_setup(3, 8);
	for (i = 0; i < 5; i++) {
		c = mkcap(0, "GET", "/x");
		capture_finish(c, 200, true, NULL);
	}
	ck_assert_uint_eq(capture_count(), 3);
	ck_assert_ptr_null(capture_get(1));
	ck_assert_ptr_null(capture_get(2));
	ck_assert_ptr_nonnull(c = capture_get(4));
	capture_view(c, &v);
	ck_assert_int_eq(v.state, CAPTURE_DONE);
	ck_assert_int_eq(v.status, 200);
	capture_unref(c);
	c = mkcap(1, "POST", "/y");		/* the other tunnel */
	n = capture_list(all, nitems(all));
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(all[0]->id, 6);	/* newest first */
	ck_assert_uint_eq(all[3]->id, 3);
	for (i = 0; i < n; i++)
		capture_unref(all[i]);
	ck_assert_uint_eq(capture_list(all, 2), 2);
	capture_unref(all[0]);
	capture_unref(all[1]);
	capture_finish(c, 0, false, "reset");
	capture_clear();
	ck_assert_uint_eq(capture_count(), 0);
	store_teardown();
}
END_TEST

START_TEST(test_body_cap)
{
	struct proto_head	 h;
	struct capture		*c;
	struct capview		 v;
	struct json_object	*o;
	char			 buf[4096];
	size_t			 i;

	store_setup(10, 1000);
	c = mkcap(1, "POST", "/upload");
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < 768; i++)		/* 3 MiB in 4 KiB pieces */
		capture_put(&c->reqbody, buf, sizeof(buf));
	ck_assert_uint_eq(c->reqbody.size, 3 * 1024 * 1024);
	ck_assert_uint_eq(tbuf_len(&c->reqbody.kept), 1000);
	capture_put(&c->respbody, "ok", 2);
	/* The head is set once: the second is ignored. */
	memset(&h, 0, sizeof(h));
	proto_head_add(&h, "Content-Type", "text/plain");
	capture_set_head(c, 201, &h);
	capture_set_head(c, 500, &h);
	proto_head_clear(&h);
	capture_view(c, &v);
	ck_assert_int_eq(v.state, CAPTURE_HEAD);
	o = capfmt_summary(c, &v);
	ck_assert_str_eq(jget(o, "status"), "201");
	ck_assert_str_eq(jget(o, "request_size"), "");	/* not done yet */
	ck_assert_str_eq(jget(o, "tunnel"), "web");
	json_object_put(o);
	capture_ref(c);
	capture_finish(c, 0, true, NULL);
	capture_view(c, &v);
	o = capfmt_detail(c, &v);
	ck_assert_str_eq(jget(o, "status"), "201");
	ck_assert_str_eq(jget(o, "request_size"), "3145728");
	ck_assert_str_eq(jget(o, "request.body.kept"), "1000");
	ck_assert_str_eq(jget(o, "request.body.truncated"), "true");
	ck_assert_str_eq(jget(o, "response.body.kind"), "text");
	ck_assert_str_eq(jget(o, "response.body.text"), "ok");
	ck_assert_str_eq(jget(o, "response.headers.0.1"), "text/plain");
	json_object_put(o);
	capture_unref(c);
	store_teardown();
}
END_TEST

START_TEST(test_line_round_trip)
{
	struct proto_head	 h;
	struct capture		*c, *d;
	char			*line, *again, err[256], *label;
	size_t			 i, n;

	store_setup(10, 64);
	memset(&h, 0, sizeof(h));
	h.method = xstrdup("POST");
	h.path = xstrdup("/hook?a=%20");
	proto_head_add(&h, "Content-Type", "application/octet-stream");
	proto_head_add(&h, "X-Odd", "caf\xc3\xa9 \"q\"");
	c = capture_new(capture_ring(1), &h, 0);
	proto_head_clear(&h);
	capture_put(&c->reqbody, "\0\1\2\377binary", 10);
	memset(&h, 0, sizeof(h));
	proto_head_add(&h, "Set-Cookie", "a=1");
	proto_head_add(&h, "Set-Cookie", "b=2");
	capture_set_head(c, 404, &h);
	proto_head_clear(&h);
	capture_put(&c->respbody, "nope", 4);
	capture_ref(c);
	capture_finish(c, 0, false, "the response was cut short");
	line = capfmt_encode_line(c);
	n = strlen(line);
	ck_assert_int_eq(line[n - 1], '\n');
	d = capfmt_decode_line(line, n - 1, 64, &label, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_str_eq(label, "web");
	d->ring = c->ring;
	ck_assert_uint_eq(d->id, c->id);
	ck_assert_int_eq(d->status, 404);
	ck_assert_str_eq(d->req.path, "/hook?a=%20");
	ck_assert_str_eq(d->req.hdrs[1].value, "caf\xc3\xa9 \"q\"");
	ck_assert_uint_eq(d->resp.nhdrs, 2);
	ck_assert_uint_eq(tbuf_len(&d->reqbody.kept), 10);
	ck_assert(memcmp(tbuf_ptr(&d->reqbody.kept), "\0\1\2\377binary",
	    10) == 0);
	ck_assert_str_eq(d->error, "the response was cut short");
	ck_assert(!d->complete);
	again = capfmt_encode_line(d);
	ck_assert_str_eq(again, line);		/* the same line again */
	free(again);
	free(label);
	capture_unref(d);
	/* A smaller cap keeps less; the size stays. */
	d = capfmt_decode_line(line, n - 1, 4, &label, err, sizeof(err));
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(tbuf_len(&d->reqbody.kept), 4);
	ck_assert_uint_eq(d->reqbody.size, 10);
	free(label);
	capture_unref(d);
	/* Every prefix is refused cleanly. */
	for (i = 0; i < n - 1; i++) {
		d = capfmt_decode_line(line, i, 64, &label, err, sizeof(err));
		ck_assert_msg(d == NULL, "prefix %zu", i);
		ck_assert_ptr_null(label);
	}
	free(line);
	capture_unref(c);
	store_teardown();
}
END_TEST

START_TEST(test_line_hostile)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"id\":0}",
		"{\"id\":\"1\",\"replay_of\":0}",
		"{\"id\":1,\"replay_of\":-1}",
	};
	static const char good[] = "{\"id\":5,\"replay_of\":0,\"tunnel\":\"\","
	    "\"time_ms\":1,\"method\":\"GET\",\"path\":\"/\",\"req_headers\":[],"
	    "\"req_size\":0,\"req_body\":\"\",\"status\":200,\"resp_headers\":"
	    "[],\"resp_size\":2,\"resp_body\":\"b2s=\",\"head_us\":1,"
	    "\"total_us\":2,\"complete\":true}";
	static const struct { const char *from, *to; } muts[] = {
		{ "\"id\":5", "\"id\":-5" }, { "\"status\":200", "\"status\":1000" },
		{ "\"method\":\"GET\"", "\"method\":\"G T\"" },
		{ "\"path\":\"/\"", "\"path\":\"x\"" },
		{ "\"resp_size\":2", "\"resp_size\":1" },	/* body longer */
		{ "\"resp_body\":\"b2s=\"", "\"resp_body\":\"b2s\"" },
		{ "\"req_headers\":[]", "\"req_headers\":[[\"a\\r\",\"b\"]]" },
		{ "\"complete\":true", "\"complete\":1" },
		{ "\"tunnel\":\"\"", "\"tunnel\":5" },
		{ "\"time_ms\":1", "\"time_ms\":1.5" },
	};
	struct capture	*d;
	char		 err[256], *label, line[1024], *at;
	size_t		 i;

	for (i = 0; i < nitems(bad); i++) {
		d = capfmt_decode_line(bad[i], strlen(bad[i]), 64, &label, err,
		    sizeof(err));
		ck_assert_msg(d == NULL, "case %zu", i);
		ck_assert(err[0] != '\0');
	}
	d = capfmt_decode_line(good, strlen(good), 64, &label, err,
	    sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	free(label);
	capture_unref(d);
	for (i = 0; i < nitems(muts); i++) {
		at = strstr(good, muts[i].from);
		ck_assert_ptr_nonnull(at);
		snprintf(line, sizeof(line), "%.*s%s%s", (int)(at - good), good,
		    muts[i].to, at + strlen(muts[i].from));
		d = capfmt_decode_line(line, strlen(line), 64, &label, err,
		    sizeof(err));
		ck_assert_msg(d == NULL, "mutation %zu: %s", i, line);
	}
}
END_TEST

START_TEST(test_capture_file)
{
	struct capture	*c;
	char		 dir[] = "/tmp/check_inspect.XXXXXX", path[PATH_MAX];
	char		 junk[PATH_MAX], other[PATH_MAX];
	FILE		*fp;
	size_t		 i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cap.jsonl", dir);
	snprintf(junk, sizeof(junk), "%s/junk.txt", dir);
	snprintf(other, sizeof(other), "%s/mixed.jsonl", dir);
	store_setup(4, 16);
	ck_assert_int_eq(capture_load(path), 0);	/* no file yet */
	for (i = 0; i < 6; i++) {
		c = mkcap(i % 2, "POST", "/hook");
		capture_put(&c->reqbody, "payload", 7);
		capture_finish(c, 200, true, NULL);
	}
	ck_assert_int_eq(capture_journal(path, true), 0);
	ck_assert_int_eq(access(path, F_OK), 0);
	store_teardown();

	store_setup(4, 16);
	ck_assert_int_eq(capture_load(path), 0);
	ck_assert_uint_eq(capture_count(), 6);
	ck_assert_ptr_nonnull(c = capture_get(6));
	ck_assert(c->ring == capture_ring(1));		/* its tunnel */
	ck_assert(memcmp(tbuf_ptr(&c->reqbody.kept), "payload", 7) == 0);
	capture_unref(c);
	c = mkcap(0, "GET", "/new");			/* ids go on */
	ck_assert_uint_eq(c->id, 7);
	capture_finish(c, 204, true, NULL);
	store_teardown();

	/* Not a capture file: refused, so that it is not overwritten. */
	fp = fopen(junk, "w");
	fputs("hello\n", fp);
	fclose(fp);
	store_setup(4, 16);
	ck_assert_int_eq(capture_load(junk), TUN_EINVAL);
	store_teardown();

	/* Bad lines are skipped, good ones kept. */
	fp = fopen(other, "w");
	fputs("{\"format\":\"tunnel-client-captures\",\"version\":1}\n"
	    "garbage\n{\"id\":3}\n\n"
	    "{\"id\":9,\"replay_of\":0,\"tunnel\":\"nosuch\",\"time_ms\":1,"
	    "\"method\":\"GET\",\"path\":\"/\",\"req_headers\":[],\"req_size\":0,"
	    "\"req_body\":\"\",\"status\":200,\"resp_headers\":[],"
	    "\"resp_size\":0,\"resp_body\":\"\",\"head_us\":1,\"total_us\":2,"
	    "\"complete\":true}", fp);
	fclose(fp);
	store_setup(4, 16);
	ck_assert_int_eq(capture_load(other), 0);
	ck_assert_uint_eq(capture_count(), 1);
	ck_assert_ptr_nonnull(c = capture_get(9));
	ck_assert(c->ring == capture_ring(0));	/* unknown tunnel: first */
	capture_unref(c);
	store_teardown();
	unlink(path);
	unlink(junk);
	unlink(other);
	rmdir(dir);
}
END_TEST

/* Lines out of order and twice: each ring keeps its newest, once each. */
START_TEST(test_capture_file_order)
{
	static const uint64_t	 ids[] = { 5, 3, 4, 5, 1, 7, 2, 6 };
	struct capture		*all[8];
	char			 dir[] = "/tmp/check_inspect.XXXXXX";
	char			 path[PATH_MAX];
	FILE			*fp;
	size_t			 i, n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/order.jsonl", dir);
	fp = fopen(path, "w");
	fputs("{\"format\":\"tunnel-client-captures\",\"version\":1}\n", fp);
	for (i = 0; i < nitems(ids); i++)
		fprintf(fp, "{\"id\":%llu,\"replay_of\":0,\"tunnel\":\"\","
		    "\"time_ms\":1,\"method\":\"GET\",\"path\":\"/%zu\","
		    "\"req_headers\":[],\"req_size\":0,\"req_body\":\"\","
		    "\"status\":200,\"resp_headers\":[],\"resp_size\":0,"
		    "\"resp_body\":\"\",\"head_us\":1,\"total_us\":2,"
		    "\"complete\":true}\n", (unsigned long long)ids[i], i);
	fclose(fp);
	store_setup(4, 16);
	ck_assert_int_eq(capture_load(path), 0);
	n = capture_list(all, nitems(all));
	ck_assert_uint_eq(n, 4);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(all[i]->id, 7 - i);	/* 7 6 5 4 */
		capture_unref(all[i]);
	}
	ck_assert_ptr_null(capture_get(3));
	ck_assert_ptr_nonnull(all[0] = capture_get(5));
	ck_assert_str_eq(all[0]->req.path, "/0");	/* the first line */
	capture_unref(all[0]);
	all[0] = mkcap(0, "GET", "/next");
	ck_assert_uint_eq(all[0]->id, 8);
	capture_finish(all[0], 200, true, NULL);
	store_teardown();
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
inspect_suite(void)
{
	Suite	*s = suite_create("inspect");
	TCase	*tc;

	tc = tcase_create("capfmt");
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_string_replaces_bad_bytes);
	tcase_add_test(tc, test_kind);
	tcase_add_test(tc, test_pretty_json);
	tcase_add_test(tc, test_pretty_json_hostile);
	tcase_add_test(tc, test_form);
	tcase_add_test(tc, test_hexdump);
	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_parse_id);
	tcase_add_test(tc, test_edit_ok);
	tcase_add_test(tc, test_edit_hostile);
	suite_add_tcase(s, tc);
	tc = tcase_create("checks");
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_forward_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ring_bounded);
	tcase_add_test(tc, test_body_cap);
	tcase_add_test(tc, test_line_round_trip);
	tcase_add_test(tc, test_line_hostile);
	tcase_add_test(tc, test_capture_file);
	tcase_add_test(tc, test_capture_file_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(inspect_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
