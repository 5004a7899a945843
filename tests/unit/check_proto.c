#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "proto.h"
#include "tbuf.h"
#include "tunerr.h"

/* Pieces of JSON that many cases share. */
#define HW	"\"window\":65536"
#define OPH	"\"method\":\"GET\",\"path\":\"/\""

/*
 * Every input is copied into a buffer of exactly its length, so that a read
 * past the end shows under ASan and valgrind.
 */

struct json_case {
	uint8_t		 type;
	uint32_t	 id;
	const char	*json;
	int		 r;
};

static uint8_t	*mkmsg(uint8_t, uint8_t, uint32_t, const void *, size_t,
		    size_t *);
static int	 parse_raw(uint8_t, uint8_t, uint32_t, const void *, size_t);
static int	 parse_json(uint8_t, uint32_t, const char *);
static int	 parse_copy(const uint8_t *, size_t, struct proto_msg *,
		    uint8_t **);
static void	 assert_zeroed(const struct proto_msg *);
static char	*rep(char, size_t);
static void	 head_eq(const struct proto_head *, const struct proto_head *);
static void	 check_prefixes(const uint8_t *, size_t);
static int	 hello_with(const char *, const char *);
static int	 open_with(const char *, const char *, const char *);

static uint8_t *
mkmsg(uint8_t type, uint8_t flags, uint32_t id, const void *pl, size_t plen,
    size_t *len)
{
	uint8_t	*b;

	b = malloc(PROTO_HDR_LEN + plen);
	ck_assert_ptr_nonnull(b);
	proto_put_hdr(b, type, flags, id);
	if (plen > 0)
		memcpy(b + PROTO_HDR_LEN, pl, plen);
	*len = PROTO_HDR_LEN + plen;
	return b;
}

static void
assert_zeroed(const struct proto_msg *m)
{
	struct proto_msg	zero;

	memset(&zero, 0, sizeof(zero));
	ck_assert_int_eq(memcmp(m, &zero, sizeof(zero)), 0);
}

static int
parse_copy(const uint8_t *p, size_t len, struct proto_msg *m, uint8_t **copy)
{
	int	r;

	*copy = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(*copy);
	if (len > 0)
		memcpy(*copy, p, len);
	r = proto_parse(*copy, len, m);
	if (r != 0)
		assert_zeroed(m);
	return r;
}

static int
parse_raw(uint8_t type, uint8_t flags, uint32_t id, const void *pl,
    size_t plen)
{
	struct proto_msg	 m;
	uint8_t			*b;
	size_t			 len;
	int			 r;

	b = mkmsg(type, flags, id, pl, plen, &len);
	r = proto_parse(b, len, &m);
	if (r != 0)
		assert_zeroed(&m);
	proto_msg_clear(&m);
	assert_zeroed(&m);
	free(b);
	return r;
}

static int
parse_json(uint8_t type, uint32_t id, const char *json)
{
	return parse_raw(type, 0, id, json, strlen(json));
}

static char *
rep(char c, size_t n)
{
	char	*s;

	s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
head_eq(const struct proto_head *a, const struct proto_head *b)
{
	size_t	i;

	if (a->method == NULL || b->method == NULL)
		ck_assert_ptr_eq(a->method, b->method);
	else
		ck_assert_str_eq(a->method, b->method);
	if (a->path == NULL || b->path == NULL)
		ck_assert_ptr_eq(a->path, b->path);
	else
		ck_assert_str_eq(a->path, b->path);
	ck_assert_int_eq(a->status, b->status);
	ck_assert_int_eq(a->content_length, b->content_length);
	ck_assert_int_eq(a->body, b->body);
	ck_assert_uint_eq(a->nhdrs, b->nhdrs);
	for (i = 0; i < a->nhdrs; i++) {
		ck_assert_str_eq(a->hdrs[i].name, b->hdrs[i].name);
		ck_assert_str_eq(a->hdrs[i].value, b->hdrs[i].value);
	}
}

/* A whole WebSocket message cut short at every byte. */
static void
check_prefixes(const uint8_t *p, size_t len)
{
	struct proto_msg	 m;
	uint8_t			*copy;
	size_t			 i;
	int			 r;

	for (i = 0; i < len; i++) {
		r = parse_copy(p, i, &m, &copy);
		if (i < PROTO_HDR_LEN || p[0] != PROTO_DATA)
			ck_assert_msg(r == TUN_EPROTO,
			    "type %u prefix %zu/%zu: %d", p[0], i, len, r);
		else if (i == PROTO_HDR_LEN)
			ck_assert_int_eq(r, TUN_EPROTO);	/* empty DATA */
		else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(m.len, i - PROTO_HDR_LEN);
		}
		proto_msg_clear(&m);
		free(copy);
	}
}

/* --- exact bytes --------------------------------------------------------- */

START_TEST(test_put_hdr)
{
	uint8_t	h[PROTO_HDR_LEN];
	const uint8_t want[] = { 0x07, 0x00, 0x81, 0x02, 0x03, 0xff };

	proto_put_hdr(h, PROTO_WINDOW, 0, 0x810203ff);
	ck_assert_mem_eq(h, want, sizeof(want));
}
END_TEST

START_TEST(test_encode_bytes)
{
	struct tbuf		b;
	struct proto_hello	hello;
	struct proto_head	head;
	const uint8_t	data[] = { 4, 0, 0, 0, 0, 3, 'a', 0, 'b' };
	const uint8_t	end[] = { 5, 0, 0, 0, 1, 0 };
	const uint8_t	reset[] = { 6, 0, 0, 0, 0, 5, 0, 0, 0, 3, 'n', 'o' };
	const uint8_t	reset0[] = { 6, 0, 0, 0, 0, 7, 0, 0, 0, 1 };
	const uint8_t	window[] = { 7, 0, 0, 0, 0, 9, 0, 1, 0, 0 };
	const char	*hello_json =
	    "{\"version\":1,\"window\":2097152,"
	    "\"agent\":\"tunnel-client/1.0\"}";
	const char	*server_json =
	    "{\"version\":1,\"window\":65536,\"tunnel_id\":\"abc\","
	    "\"url\":\"http://h.example:8080/abc/\"}";
	const char	*open_json =
	    "{\"method\":\"GET\",\"path\":\"/a/b?c=d\",\"body\":false,"
	    "\"content_length\":-1,\"headers\":[[\"Host\",\"example.com\"],"
	    "[\"X-A\",\"1\"],[\"x-a\",\"\"]]}";
	const char	*resp_json =
	    "{\"status\":204,\"content_length\":0,\"headers\":[]}";
	const char	*goaway_json = "{\"code\":3,\"reason\":\"gone/away\"}";

	tbuf_init(&b, PROTO_MAX_MSG);

	ck_assert_int_eq(proto_encode_data(&b, 3, "a\0b", 3), 0);
	ck_assert_uint_eq(tbuf_len(&b), sizeof(data));
	ck_assert_mem_eq(tbuf_ptr(&b), data, sizeof(data));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_end(&b, 256), 0);
	ck_assert_uint_eq(tbuf_len(&b), sizeof(end));
	ck_assert_mem_eq(tbuf_ptr(&b), end, sizeof(end));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_reset(&b, 5, PROTO_RESET_REFUSED, "no"),
	    0);
	ck_assert_uint_eq(tbuf_len(&b), sizeof(reset));
	ck_assert_mem_eq(tbuf_ptr(&b), reset, sizeof(reset));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_reset(&b, 7, PROTO_RESET_CANCEL, ""), 0);
	ck_assert_int_eq(proto_encode_reset(&b, 7, PROTO_RESET_CANCEL, NULL),
	    0);
	ck_assert_uint_eq(tbuf_len(&b), 2 * sizeof(reset0));
	ck_assert_mem_eq(tbuf_ptr(&b), reset0, sizeof(reset0));
	ck_assert_mem_eq(tbuf_ptr(&b) + sizeof(reset0), reset0,
	    sizeof(reset0));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_window(&b, 9, 65536), 0);
	ck_assert_uint_eq(tbuf_len(&b), sizeof(window));
	ck_assert_mem_eq(tbuf_ptr(&b), window, sizeof(window));
	tbuf_reset(&b);

	memset(&hello, 0, sizeof(hello));
	hello.version = PROTOCOL_VERSION;
	hello.window = PROTO_DEFAULT_WINDOW;
	hello.agent = (char *)(uintptr_t)"tunnel-client/1.0";
	ck_assert_int_eq(proto_encode_hello(&b, &hello), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + strlen(hello_json));
	ck_assert_mem_eq(tbuf_ptr(&b), "\1\0\0\0\0\0", PROTO_HDR_LEN);
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, hello_json,
	    strlen(hello_json));
	tbuf_reset(&b);

	memset(&hello, 0, sizeof(hello));
	hello.version = 1;
	hello.window = PROTO_MIN_WINDOW;
	hello.tunnel_id = (char *)(uintptr_t)"abc";
	hello.url = (char *)(uintptr_t)"http://h.example:8080/abc/";
	ck_assert_int_eq(proto_encode_hello(&b, &hello), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + strlen(server_json));
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, server_json,
	    strlen(server_json));
	tbuf_reset(&b);

	memset(&head, 0, sizeof(head));
	head.method = strdup("GET");
	head.path = strdup("/a/b?c=d");
	head.content_length = -1;
	proto_head_add(&head, "Host", "example.com");
	proto_head_add(&head, "X-A", "1");
	proto_head_add(&head, "x-a", "");
	ck_assert_int_eq(proto_encode_open(&b, 0x01020305, &head), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + strlen(open_json));
	ck_assert_mem_eq(tbuf_ptr(&b), "\2\0\1\2\3\5", PROTO_HDR_LEN);
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, open_json,
	    strlen(open_json));
	proto_head_clear(&head);
	tbuf_reset(&b);

	head.status = 204;
	ck_assert_int_eq(proto_encode_response(&b, 1, &head), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + strlen(resp_json));
	ck_assert_mem_eq(tbuf_ptr(&b), "\3\0\0\0\0\1", PROTO_HDR_LEN);
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, resp_json,
	    strlen(resp_json));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_goaway(&b, PROTO_GOAWAY_DELETED,
	    "gone/away"), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + strlen(goaway_json));
	ck_assert_mem_eq(tbuf_ptr(&b), "\10\0\0\0\0\0", PROTO_HDR_LEN);
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, goaway_json,
	    strlen(goaway_json));
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_goaway(&b, 1, ""), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + 10);
	ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, "{\"code\":1}", 10);
	tbuf_free(&b);
}
END_TEST

/* --- round trips ---------------------------------------------------------- */

START_TEST(test_roundtrip_hello)
{
	static const struct {
		int		 version;
		uint32_t	 window;
		const char	*agent, *tunnel_id, *url, *agent_id;
	} t[] = {
		{ 1, PROTO_DEFAULT_WINDOW, "tunnel-client/0.1", NULL, NULL,
		    "k2j4h5g6f7d8s9a0" },
		{ 1, PROTO_MIN_WINDOW, NULL, "abc123",
		    "https://abc123.t.example.com/", NULL },
		{ 65535, PROTO_MAX_WINDOW, "", "", "", "" },
		{ 2, 100000, "a\"b\\c\x01\t\xc3\xa9\xff", "x/y", "u", "\x01" },
		{ 1, PROTO_DEFAULT_WINDOW, NULL, NULL, NULL, NULL },
	};
	struct proto_hello	 h;
	struct proto_msg	 m;
	struct tbuf		 b;
	uint8_t			*copy;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tbuf_init(&b, PROTO_MAX_MSG);
		memset(&h, 0, sizeof(h));
		h.version = t[i].version;
		h.window = t[i].window;
		h.agent = (char *)(uintptr_t)t[i].agent;
		h.tunnel_id = (char *)(uintptr_t)t[i].tunnel_id;
		h.url = (char *)(uintptr_t)t[i].url;
		h.agent_id = (char *)(uintptr_t)t[i].agent_id;
		ck_assert_int_eq(proto_encode_hello(&b, &h), 0);
		ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m,
		    &copy), 0);
		ck_assert_uint_eq(m.type, PROTO_HELLO);
		ck_assert_uint_eq(m.flags, 0);
		ck_assert_uint_eq(m.stream_id, 0);
		ck_assert_int_eq(m.hello.version, t[i].version);
		ck_assert_uint_eq(m.hello.window, t[i].window);
		ck_assert_pstr_eq(m.hello.agent, t[i].agent);
		ck_assert_pstr_eq(m.hello.tunnel_id, t[i].tunnel_id);
		ck_assert_pstr_eq(m.hello.url, t[i].url);
		ck_assert_pstr_eq(m.hello.agent_id, t[i].agent_id);
		check_prefixes(tbuf_ptr(&b), tbuf_len(&b));
		proto_msg_clear(&m);
		assert_zeroed(&m);
		free(copy);
		tbuf_free(&b);
	}
}
END_TEST

START_TEST(test_roundtrip_heads)
{
	static const struct {
		const char	*method, *path;
		int		 status;
		int64_t		 clen;
		bool		 body;
		size_t		 nhdrs;
		const char	*h[8][2];
	} t[] = {
		{ "GET", "/", 0, -1, false, 0, { { NULL, NULL } } },
		{ "POST", "/upload?x=1&y=%20z", 0, 12345, true, 3,
		    { { "Host", "example.com" }, { "Content-Type",
		    "application/octet-stream" }, { "X-Empty", "" } } },
		{ "M-SEARCH", "/\xc3\xa9t\xe9/\"q\"", 0, -1, true, 4,
		    { { "Cookie", "a=1" }, { "cookie", "b=2" },
		    { "X-Obs", "caf\xe9 \x80\xff" },
		    { "X-Ctl", "a\tb\x01\x7f \"q\" \\ /" } } },
		{ "!#$%&'*+-.^_`|~09azAZ", "/*", 0, INT64_MAX, false, 1,
		    { { "!#$%&'*+-.^_`|~", "v" } } },
		{ NULL, NULL, 200, -1, false, 3, { { "Set-Cookie", "a=1" },
		    { "Set-Cookie", "b=2" }, { "Content-Length", "5" } } },
		{ NULL, NULL, 100, 0, false, 0, { { NULL, NULL } } },
		{ NULL, NULL, 999, 7, false, 1, { { "X", " spaced " } } },
	};
	struct proto_head	 h;
	struct proto_msg	 m;
	struct tbuf		 b;
	uint8_t			*copy, type;
	size_t			 i, j;
	uint32_t		 id = 0x7fffffff;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tbuf_init(&b, PROTO_MAX_MSG);
		memset(&h, 0, sizeof(h));
		h.method = t[i].method ? strdup(t[i].method) : NULL;
		h.path = t[i].path ? strdup(t[i].path) : NULL;
		h.status = t[i].status;
		h.content_length = t[i].clen;
		h.body = t[i].body;
		for (j = 0; j < t[i].nhdrs; j++)
			proto_head_add(&h, t[i].h[j][0], t[i].h[j][1]);
		if (t[i].method != NULL) {
			type = PROTO_OPEN;
			ck_assert_int_eq(proto_encode_open(&b, id, &h), 0);
		} else {
			type = PROTO_RESPONSE;
			ck_assert_int_eq(proto_encode_response(&b, id, &h), 0);
		}
		ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m,
		    &copy), 0);
		ck_assert_uint_eq(m.type, type);
		ck_assert_uint_eq(m.stream_id, id);
		head_eq(&m.head, &h);
		check_prefixes(tbuf_ptr(&b), tbuf_len(&b));
		proto_msg_clear(&m);
		proto_head_clear(&h);
		free(copy);
		tbuf_free(&b);
		id = 0xffffffff - (uint32_t)i;
	}
}
END_TEST

/*
 * The head encoder writes its JSON itself: the bytes must be those json-c
 * writes for the same object (PLAIN, no "\/"), for every byte a value may
 * hold, so that nothing on the wire changed with it.
 */
static uint32_t
rnd_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static char *
rnd_str(uint32_t *x, size_t n, unsigned lo, unsigned hi, const char *not)
{
	char	*s = malloc(n + 1);
	size_t	 i;
	int	 c;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++) {
		do
			c = (int)(lo + rnd_next(x) % (hi - lo + 1));
		while (strchr(not, c) != NULL);
		s[i] = (char)c;
	}
	s[n] = '\0';
	return s;
}

START_TEST(test_head_json_bytes)
{
	struct proto_head	 h;
	struct tbuf		 b;
	struct json_object	*o, *a, *pair;
	const char		*want;
	char			*name, *value;
	size_t			 wantlen, i, k;
	uint32_t		 x = 0x9e3779b9u;

	for (k = 0; k < 2000; k++) {
		memset(&h, 0, sizeof(h));
		h.method = rnd_str(&x, 1 + rnd_next(&x) % 8, 'A', 'Z', "");
		h.path = rnd_str(&x, 1 + rnd_next(&x) % 40, 0x21, 0xff, "\x7f");
		h.path[0] = '/';
		h.status = 100 + (int)(rnd_next(&x) % 900);
		h.content_length = k % 3 == 0 ? -1 : k % 3 == 1 ?
		    (int64_t)rnd_next(&x) : INT64_MAX - (int64_t)k;
		h.body = k % 2;
		if (k % 5 == 0)
			h.tunnel = rnd_str(&x, 8, 'a', 'z', "");
		for (i = 0; i < rnd_next(&x) % 6; i++) {
			name = rnd_str(&x, 1 + rnd_next(&x) % 12, 'a', 'z', "");
			value = rnd_str(&x, rnd_next(&x) % 30, 1, 255, "\r\n");
			proto_head_add(&h, name, value);
			free(name);
			free(value);
		}
		o = json_object_new_object();
		if (k % 2 == 0) {
			json_object_object_add(o, "method",
			    json_object_new_string(h.method));
			json_object_object_add(o, "path",
			    json_object_new_string(h.path));
			json_object_object_add(o, "body",
			    json_object_new_boolean(h.body));
			if (h.tunnel != NULL)
				json_object_object_add(o, "tunnel",
				    json_object_new_string(h.tunnel));
		} else
			json_object_object_add(o, "status",
			    json_object_new_int(h.status));
		json_object_object_add(o, "content_length",
		    json_object_new_int64(h.content_length));
		a = json_object_new_array();
		json_object_object_add(o, "headers", a);
		for (i = 0; i < h.nhdrs; i++) {
			pair = json_object_new_array();
			json_object_array_add(pair,
			    json_object_new_string(h.hdrs[i].name));
			json_object_array_add(pair,
			    json_object_new_string(h.hdrs[i].value));
			json_object_array_add(a, pair);
		}
		want = json_object_to_json_string_length(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &wantlen);
		tbuf_init(&b, PROTO_MAX_MSG);
		ck_assert_int_eq(k % 2 == 0 ? proto_encode_open(&b, 7, &h) :
		    proto_encode_response(&b, 7, &h), 0);
		ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + wantlen);
		ck_assert_mem_eq(tbuf_ptr(&b) + PROTO_HDR_LEN, want, wantlen);
		json_object_put(o);
		tbuf_free(&b);
		proto_head_clear(&h);
	}
}
END_TEST

/* A head too large for one message leaves the buffer as it was. */
START_TEST(test_head_too_large)
{
	struct proto_head	 h;
	struct tbuf		 b;
	char			*v;
	size_t			 i;

	memset(&h, 0, sizeof(h));
	h.status = 200;
	h.content_length = -1;
	v = malloc(4001);
	ck_assert_ptr_nonnull(v);
	memset(v, '\x01', 4000);	/* 6 bytes each when escaped */
	v[4000] = '\0';
	for (i = 0; i < 12; i++)
		proto_head_add(&h, "X-Big", v);
	tbuf_init(&b, 4 * PROTO_MAX_MSG);
	ck_assert_int_eq(tbuf_put(&b, "keep", 4), 0);
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_ETOOBIG);
	ck_assert_uint_eq(tbuf_len(&b), 4);
	ck_assert_mem_eq(tbuf_ptr(&b), "keep", 4);
	/* The buffer's own ceiling, too. */
	tbuf_free(&b);
	tbuf_init(&b, 100);
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_ETOOBIG);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	tbuf_free(&b);
	proto_head_clear(&h);
	free(v);
}
END_TEST

START_TEST(test_roundtrip_binary)
{
	struct proto_msg	 m;
	struct tbuf		 b;
	uint8_t			*copy, *big;
	char			*reason;
	size_t			 i, off;

	tbuf_init(&b, PROTO_MAX_MSG);
	big = malloc(PROTO_MAX_DATA);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < PROTO_MAX_DATA; i++)
		big[i] = (uint8_t)(i * 7);

	/* DATA: one byte, all bytes, the most bytes. */
	ck_assert_int_eq(proto_encode_data(&b, 1, "\0", 1), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.type, PROTO_DATA);
	ck_assert_uint_eq(m.len, 1);
	ck_assert_ptr_eq(m.data, copy + PROTO_HDR_LEN);
	ck_assert_uint_eq(m.data[0], 0);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_data(&b, 0xfffffffe, big,
	    PROTO_MAX_DATA), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + PROTO_MAX_DATA);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.stream_id, 0xfffffffe);
	ck_assert_uint_eq(m.len, PROTO_MAX_DATA);
	ck_assert_mem_eq(m.data, big, PROTO_MAX_DATA);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	/* END */
	ck_assert_int_eq(proto_encode_end(&b, 42), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.type, PROTO_END);
	ck_assert_uint_eq(m.stream_id, 42);
	ck_assert_uint_eq(m.len, 0);
	check_prefixes(tbuf_ptr(&b), tbuf_len(&b));
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	/* WINDOW at both ends of its range. */
	ck_assert_int_eq(proto_encode_window(&b, 3, 1), 0);
	ck_assert_int_eq(proto_encode_window(&b, 5, PROTO_MAX_WINDOW), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), 10, &m, &copy), 0);
	ck_assert_uint_eq(m.type, PROTO_WINDOW);
	ck_assert_uint_eq(m.stream_id, 3);
	ck_assert_uint_eq(m.window, 1);
	check_prefixes(tbuf_ptr(&b), 10);
	proto_msg_clear(&m);
	free(copy);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b) + 10, 10, &m, &copy), 0);
	ck_assert_uint_eq(m.stream_id, 5);
	ck_assert_uint_eq(m.window, PROTO_MAX_WINDOW);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	/* RESET: with a reason, without, any code, the longest reason. */
	ck_assert_int_eq(proto_encode_reset(&b, 9, PROTO_RESET_TIMEOUT,
	    "timed out"), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.type, PROTO_RESET);
	ck_assert_uint_eq(m.stream_id, 9);
	ck_assert_uint_eq(m.code, PROTO_RESET_TIMEOUT);
	ck_assert_str_eq(m.reason, "timed out");
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_reset(&b, 9, 0xdeadbeef, NULL), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.code, 0xdeadbeef);
	ck_assert_ptr_null(m.reason);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	reason = rep('r', PROTO_MAX_REASON);
	ck_assert_int_eq(proto_encode_reset(&b, 1, 2, reason), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + 4 + PROTO_MAX_REASON);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_str_eq(m.reason, reason);
	proto_msg_clear(&m);
	free(copy);
	free(reason);
	tbuf_reset(&b);

	/* Too long: cut, and not inside a UTF-8 sequence. */
	reason = rep('x', PROTO_MAX_REASON + 10);
	ck_assert_int_eq(proto_encode_reset(&b, 1, 2, reason), 0);
	ck_assert_uint_eq(tbuf_len(&b), PROTO_HDR_LEN + 4 + PROTO_MAX_REASON);
	memcpy(reason + PROTO_MAX_REASON - 1, "\xc3\xa9", 2);
	off = tbuf_len(&b);
	ck_assert_int_eq(proto_encode_reset(&b, 1, 2, reason), 0);
	ck_assert_uint_eq(tbuf_len(&b) - off,
	    PROTO_HDR_LEN + 4 + PROTO_MAX_REASON - 1);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b) + off, tbuf_len(&b) - off,
	    &m, &copy), 0);
	ck_assert_uint_eq(strlen(m.reason), PROTO_MAX_REASON - 1);
	ck_assert_int_eq(strncmp(m.reason, reason, PROTO_MAX_REASON - 1), 0);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	/* GOAWAY */
	ck_assert_int_eq(proto_encode_goaway(&b, PROTO_GOAWAY_REPLACED,
	    "another agent connected"), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(m.type, PROTO_GOAWAY);
	ck_assert_uint_eq(m.stream_id, 0);
	ck_assert_int_eq(m.goaway.code, PROTO_GOAWAY_REPLACED);
	ck_assert_str_eq(m.goaway.reason, "another agent connected");
	check_prefixes(tbuf_ptr(&b), tbuf_len(&b));
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_goaway(&b, 0x7fffffff, NULL), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_int_eq(m.goaway.code, 0x7fffffff);
	ck_assert_ptr_null(m.goaway.reason);
	proto_msg_clear(&m);
	free(copy);
	tbuf_reset(&b);

	ck_assert_int_eq(proto_encode_goaway(&b, 1, reason), 0);
	ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m, &copy), 0);
	ck_assert_uint_eq(strlen(m.goaway.reason), PROTO_MAX_REASON - 1);
	proto_msg_clear(&m);
	free(copy);

	free(reason);
	free(big);
	tbuf_free(&b);
}
END_TEST

/* --- rejections of the 6-byte header and of binary payloads --------------- */

START_TEST(test_reject_header)
{
	static const uint8_t	 types[] = { PROTO_HELLO, PROTO_OPEN,
	    PROTO_RESPONSE, PROTO_DATA, PROTO_END, PROTO_RESET, PROTO_WINDOW,
	    PROTO_GOAWAY };
	struct proto_msg	 m;
	uint8_t			 raw[PROTO_HDR_LEN] = { 5, 0, 0, 0, 0, 1 };
	uint8_t			*copy;
	size_t			 i;
	int			 t;

	/* Shorter than a header, including the empty message. */
	for (i = 0; i < PROTO_HDR_LEN; i++) {
		ck_assert_int_eq(parse_copy(raw, i, &m, &copy), TUN_EPROTO);
		free(copy);
	}
	ck_assert_int_eq(parse_copy(raw, PROTO_HDR_LEN, &m, &copy), 0);
	free(copy);
	ck_assert_int_eq(proto_parse(NULL, 0, &m), TUN_EPROTO);
	assert_zeroed(&m);

	/* Unknown types. */
	for (t = 0; t < 256; t++) {
		if (t >= PROTO_HELLO && t <= PROTO_GOAWAY)
			continue;
		ck_assert_int_eq(parse_raw((uint8_t)t, 0, 1, NULL, 0),
		    TUN_EPROTO);
		ck_assert_int_eq(parse_raw((uint8_t)t, 0, 0, "{}", 2),
		    TUN_EPROTO);
	}

	/* Flags and stream ids, for each type, with a valid payload. */
	for (i = 0; i < sizeof(types); i++) {
		const char	*pl = "";
		uint32_t	 good = 1, bad = 0;

		switch (types[i]) {
		case PROTO_HELLO:
			pl = "{\"version\":1,\"window\":65536}";
			good = 0;
			bad = 1;
			break;
		case PROTO_GOAWAY:
			pl = "{\"code\":1}";
			good = 0;
			bad = 0x80000000;
			break;
		case PROTO_OPEN:
			pl = "{" OPH ",\"headers\":[]}";
			break;
		case PROTO_RESPONSE:
			pl = "{\"status\":200,\"headers\":[]}";
			break;
		case PROTO_DATA:
			pl = "x";
			break;
		case PROTO_RESET:
			pl = "\0\0\0\1";
			break;
		case PROTO_WINDOW:
			pl = "\0\1\0\0";
			break;
		default:
			break;
		}
		size_t plen = types[i] == PROTO_RESET ||
		    types[i] == PROTO_WINDOW ? 4 : strlen(pl);
		ck_assert_int_eq(parse_raw(types[i], 0, good, pl, plen), 0);
		ck_assert_int_eq(parse_raw(types[i], 0, bad, pl, plen),
		    TUN_EPROTO);
		ck_assert_int_eq(parse_raw(types[i], 1, good, pl, plen),
		    TUN_EPROTO);
		ck_assert_int_eq(parse_raw(types[i], 0x80, good, pl, plen),
		    TUN_EPROTO);
		ck_assert_int_eq(parse_raw(types[i], 0xff, good, pl, plen),
		    TUN_EPROTO);
	}
}
END_TEST

START_TEST(test_reject_binary)
{
	static const struct {
		uint8_t		 type;
		const char	*pl;
		size_t		 len;
		int		 r;
	} t[] = {
		{ PROTO_DATA, "", 0, TUN_EPROTO },
		{ PROTO_END, "x", 1, TUN_EPROTO },
		{ PROTO_END, "\0", 1, TUN_EPROTO },
		{ PROTO_RESET, "", 0, TUN_EPROTO },
		{ PROTO_RESET, "\0", 1, TUN_EPROTO },
		{ PROTO_RESET, "\0\0", 2, TUN_EPROTO },
		{ PROTO_RESET, "\0\0\0", 3, TUN_EPROTO },
		{ PROTO_RESET, "\0\0\0\0", 4, 0 },
		{ PROTO_RESET, "\0\0\0\1a\0b", 7, TUN_EPROTO },
		{ PROTO_RESET, "\0\0\0\1\0", 5, TUN_EPROTO },
		{ PROTO_RESET, "\0\0\0\1\xff\xfe", 6, 0 },
		{ PROTO_WINDOW, "", 0, TUN_EPROTO },
		{ PROTO_WINDOW, "\0\0\1", 3, TUN_EPROTO },
		{ PROTO_WINDOW, "\0\0\0\1\0", 5, TUN_EPROTO },
		{ PROTO_WINDOW, "\0\0\0\0", 4, TUN_EPROTO },
		{ PROTO_WINDOW, "\0\0\0\1", 4, 0 },
		{ PROTO_WINDOW, "\x04\0\0\0", 4, 0 },
		{ PROTO_WINDOW, "\x04\0\0\1", 4, TUN_EPROTO },
		{ PROTO_WINDOW, "\xff\xff\xff\xff", 4, TUN_EPROTO },
		{ PROTO_HELLO, "", 0, TUN_EPROTO },
		{ PROTO_GOAWAY, "", 0, TUN_EPROTO },
		{ PROTO_OPEN, "", 0, TUN_EPROTO },
		{ PROTO_RESPONSE, "", 0, TUN_EPROTO },
	};
	uint8_t	*data;
	char	*reason;
	size_t	 i;
	uint32_t id;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		id = t[i].type == PROTO_HELLO || t[i].type == PROTO_GOAWAY ?
		    0 : 1;
		ck_assert_msg(parse_raw(t[i].type, 0, id, t[i].pl, t[i].len) ==
		    t[i].r, "case %zu", i);
	}

	/* DATA one byte over its limit; RESET reason one byte over. */
	data = calloc(1, PROTO_MAX_DATA + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(parse_raw(PROTO_DATA, 0, 1, data, PROTO_MAX_DATA), 0);
	ck_assert_int_eq(parse_raw(PROTO_DATA, 0, 1, data, PROTO_MAX_DATA + 1),
	    TUN_EPROTO);
	free(data);
	reason = rep('r', 4 + PROTO_MAX_REASON + 1);
	ck_assert_int_eq(parse_raw(PROTO_RESET, 0, 1, reason,
	    4 + PROTO_MAX_REASON), 0);
	ck_assert_int_eq(parse_raw(PROTO_RESET, 0, 1, reason,
	    4 + PROTO_MAX_REASON + 1), TUN_EPROTO);
	free(reason);
}
END_TEST

/* Whole-message ceiling: exactly PROTO_MAX_MSG parses, one more does not. */
START_TEST(test_reject_oversize)
{
	const char	*json = "{" OPH ",\"headers\":[]}";
	struct proto_msg m;
	uint8_t		*b;
	size_t		 plen = PROTO_MAX_MSG - PROTO_HDR_LEN;

	b = malloc(PROTO_MAX_MSG + 1);
	ck_assert_ptr_nonnull(b);
	proto_put_hdr(b, PROTO_OPEN, 0, 1);
	memset(b + PROTO_HDR_LEN, ' ', plen + 1);
	memcpy(b + PROTO_HDR_LEN, json, strlen(json));
	ck_assert_int_eq(proto_parse(b, PROTO_MAX_MSG, &m), 0);
	ck_assert_str_eq(m.head.method, "GET");
	proto_msg_clear(&m);
	ck_assert_int_eq(proto_parse(b, PROTO_MAX_MSG + 1, &m), TUN_ETOOBIG);
	assert_zeroed(&m);
	/* Too big wins over everything else wrong with it. */
	b[0] = 0xee;
	b[1] = 1;
	ck_assert_int_eq(proto_parse(b, PROTO_MAX_MSG + 1, &m), TUN_ETOOBIG);
	ck_assert_int_eq(proto_parse(b, (size_t)-1, &m), TUN_ETOOBIG);
	assert_zeroed(&m);
	free(b);
}
END_TEST

/* --- hostile JSON --------------------------------------------------------- */

static const struct json_case json_cases[] = {
	/* HELLO */
	{ PROTO_HELLO, 0, "{\"version\":1," HW "}", 0 },
	{ PROTO_HELLO, 0, " \t\r\n{\"version\":1," HW "} \n", 0 },
	{ PROTO_HELLO, 0, "{" HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":0," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":-1," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":65535," HW "}", 0 },
	{ PROTO_HELLO, 0, "{\"version\":65536," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":\"1\"," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1.0," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1e0," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1e400," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":true," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":null," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":[1]," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":{}," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":NaN," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":01," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":+1," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":0x1," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":65535}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":67108864}", 0 },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":67108865}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":0}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":-65536}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":4294967296}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":9223372036854775807}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":9223372036854775808}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":18446744073709551617}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0,
	    "{\"version\":1,\"window\":99999999999999999999999999999999}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0,
	    "{\"version\":-99999999999999999999999999999999," HW "}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":5}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":null}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":[\"a\"]}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"tunnel_id\":1}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"url\":false}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":\"a\\u0000b\"}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"url\":\"\\u0000\"}",
	    TUN_EPROTO },
	/* an escaped backslash, then the text u0000: fine */
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":\"\\\\u0000\"}", 0 },
	/* unknown keys, however nested (within the depth limit) */
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"future\":{\"a\":[1,2.5,"
	    "{\"b\":null,\"c\":\"\\u00e9\"}],\"d\":-1e-3}}", 0 },
	/* not JSON, though json-c takes them (PROTOCOL 3) */
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"d\":NaN}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"d\":-01}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":\"a\tb\"}",
	    TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":1,\"x\":1.}", TUN_EPROTO },
	{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"t\",\"token\":\"k\",\"x\":00}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"x\":[[[[[[1]]]]]]}", 0 },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"x\":[[[[[[[1]]]]]]]}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"x\":[[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"x\":{\"a\":1,\"a\":2}}", 0 },
	/* duplicate keys at the top */
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"version\":2}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"vers\\u0069on\":1}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"agent\":\"a\",\"version\":1," HW
	    ",\"agent\":\"b\"}", TUN_EPROTO },
	/* keys with a NUL: json-c would cut them */
	{ PROTO_HELLO, 0, "{\"version\\u0000x\":2,\"version\":1," HW "}",
	    TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"x\\u0000\":1}", TUN_EPROTO },
	/* not RFC 8259 */
	{ PROTO_HELLO, 0, "{'version':1," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"a\":'b'}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"a\":[1,]}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{/**/\"version\":1," HW "}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW "}//", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"a\":TRUE}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{version:1," HW "}", TUN_EPROTO },
	/* not one whole object */
	{ PROTO_HELLO, 0, "{\"version\":1," HW "}x", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW "}{}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW "}}", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW, TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1,\"window\":65", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{\"version\":1," HW ",\"agent\":\"abc", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{", TUN_EPROTO },
	{ PROTO_HELLO, 0, " ", TUN_EPROTO },
	{ PROTO_HELLO, 0, "[]", TUN_EPROTO },
	{ PROTO_HELLO, 0, "[{\"version\":1," HW "}]", TUN_EPROTO },
	{ PROTO_HELLO, 0, "\"version\"", TUN_EPROTO },
	{ PROTO_HELLO, 0, "1", TUN_EPROTO },
	{ PROTO_HELLO, 0, "null", TUN_EPROTO },
	{ PROTO_HELLO, 0, "true", TUN_EPROTO },
	{ PROTO_HELLO, 0, "{}", TUN_EPROTO },

	/* OPEN */
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[]}", 0 },
	{ PROTO_OPEN, 1, "{\"headers\":[],\"path\":\"/\",\"method\":\"GET\"}",
	    0 },
	{ PROTO_OPEN, 1, "{" OPH "}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"path\":\"/\",\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":null}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":{}}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":\"\"}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":{\"Host\":\"x\"}}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"\",\"path\":\"/\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"G T\",\"path\":\"/\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET(\",\"path\":\"/\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"G\\u00e9\",\"path\":\"/\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\\n\",\"path\":\"/\","
	    "\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\\u0000\",\"path\":\"/\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":1,\"path\":\"/\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"ABCDEFGHIJABCDEFGHIJABCDEFGHIJAB\","
	    "\"path\":\"/\",\"headers\":[]}", 0 },
	{ PROTO_OPEN, 1, "{\"method\":\"ABCDEFGHIJABCDEFGHIJABCDEFGHIJABC\","
	    "\"path\":\"/\",\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"x\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"*\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"http://h/\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a b\","
	    "\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a\\r\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a\\nb\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a\\tb\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a\\u007f\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":\"/a\\u0000\","
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\","
	    "\"path\":\"/\\u00e9?q=\\\"x\\\"\","
	    "\"headers\":[]}", 0 },
	{ PROTO_OPEN, 1, "{\"method\":\"GET\",\"path\":[\"/\"],\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"1\"],[\"a\",\"2\"],"
	    "[\"B\",\"\"]]}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\"]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"1\",\"2\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[\"A\",\"1\"]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[{\"A\":\"1\"}]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",1]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[1,\"1\"]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",null]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"\",\"1\"]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A B\",\"1\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A:\",\"1\"]]}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\\r\\nB\",\"1\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\\u0000\",\"1\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"\\u00e9\",\"1\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"1\\r\\nB: 2\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"1\\r\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"\\n\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"a\\u0000b\"]]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"\\t\\u0001\\u00ff "
	    "\\\"\"]]}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":true}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":\"true\"}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":1}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":null}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"content_length\":-1}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"content_length\":0}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"content_length\":-2}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"content_length\":\"5\"}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"content_length\":1.5}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],"
	    "\"content_length\":9223372036854775807}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],"
	    "\"content_length\":9223372036854775808}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],"
	    "\"content_length\":-9223372036854775808}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"status\":\"x\"}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"method\":\"PUT\"}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[[\"A\",\"1\"]],\"headers\":[]}",
	    TUN_EPROTO },

	/* RESPONSE */
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[]}", 0 },
	{ PROTO_RESPONSE, 1, "{\"status\":100,\"headers\":[]}", 0 },
	{ PROTO_RESPONSE, 1, "{\"status\":999,\"headers\":[]}", 0 },
	{ PROTO_RESPONSE, 1, "{\"status\":99,\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":1000,\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":-200,\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":\"200\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200.0,\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":4294967496,\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"Set-Cookie\","
	    "\"a\"],[\"Set-Cookie\",\"b\"]],\"content_length\":3}", 0 },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[],"
	    "\"content_length\":-5}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"Bad Name\","
	    "\"x\"]]}", TUN_EPROTO },
	/* OPEN's keys mean nothing in a RESPONSE */
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[],\"method\":7,"
	    "\"path\":\"x\",\"body\":\"no\"}", 0 },

	/* GOAWAY */
	{ PROTO_GOAWAY, 0, "{\"code\":1}", 0 },
	{ PROTO_GOAWAY, 0, "{\"code\":4,\"reason\":\"rotated\"}", 0 },
	{ PROTO_GOAWAY, 0, "{\"code\":99,\"reason\":\"\"}", 0 },
	{ PROTO_GOAWAY, 0, "{\"code\":2147483647}", 0 },
	{ PROTO_GOAWAY, 0, "{\"code\":2147483648}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":0}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":-1}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":\"1\"}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"reason\":\"x\"}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":1,\"reason\":1}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":1,\"reason\":\"a\\u0000\"}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":1,\"code\":2}", TUN_EPROTO },
	{ PROTO_GOAWAY, 0, "{\"code\":1}\n", 0 },
	/* OPEN and RESPONSE: pjson.c, strict RFC 8259 */
#define RH	"\"status\":200,\"headers\":[]"
	{ PROTO_RESPONSE, 1, "{" RH "}", 0 },
	{ PROTO_RESPONSE, 1, " { \"status\" : 200 , \"headers\" : [ [ \"A\" , "
	    "\"b\" ] , [\"C\",\"\"] ] } \r\n", 0 },
	{ PROTO_RESPONSE, 1, "{}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "[]", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{," RH "}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH "}x", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH "}{}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH "\v}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":1.}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":.5}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":-01}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":01}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":00}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":-.5}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":+1}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":1e}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":-}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":NaN}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":Infinity}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":-Infinity}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":tru}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":nulL}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":[1,]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":{\"a\"}}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":{1:2}}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":'a'}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"\\x\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"\\u12\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"\\u12g4\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"\\u0000\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"a\tb\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"a\x01\"}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"a}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":\"\x7f\x80\xff\"}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":[-0,0.5e-3,1E+9,true,false,null,"
	    "{},[],{\"a\":{\"a\":1,\"a\":2}},\"\\ud800\"]}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":[[[[[[1]]]]]]}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":[[[[[[[1]]]]]]]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":{\"a\":[{\"b\":[[[1]]]}]}}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":{\"a\":[{\"b\":[[[[1]]]]}]}}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":1,\"x\":1}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":1,\"\\u0078\":1}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"x\":1,\"xx\":1,\"\":1,\"x \":1}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"st\\u0061tus\":200}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"st\\u0061tus\":200,\"headers\":[]}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"method\":5,\"path\":null,\"body\":1}",
	    0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":-1}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":-2}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":-0}", 0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":1e2}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":2.0}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":9223372036854775807}",
	    0 },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":9223372036854775808}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":"
	    "-9223372036854775809}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{" RH ",\"content_length\":"
	    "123456789012345678901234567890}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\",\"1\"]],"
	    "\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\",\"1\"],]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\",\"1\",]]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\" \"1\"]]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\",\"1\"]"
	    "[\"B\",\"2\"]]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200,\"headers\":[[\"A\",\"a\tb\"]]}",
	    TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":200.0,\"headers\":[]}", TUN_EPROTO },
	{ PROTO_RESPONSE, 1, "{\"status\":\"200\",\"headers\":[]}",
	    TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"status\":\"x\"}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":true}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":1}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"body\":tRue}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"tunnel\":\"\"}", 0 },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"tunnel\":7}", TUN_EPROTO },
	{ PROTO_OPEN, 1, "{" OPH ",\"headers\":[],\"method\":\"GET\"}",
	    TUN_EPROTO },
#undef RH
	{ PROTO_GOAWAY, 0, "{\"code\":1}\0", TUN_EPROTO },
};

START_TEST(test_json_cases)
{
	const struct json_case	*c = &json_cases[_i];
	size_t			 len = strlen(c->json);

	/* The last case carries its NUL on purpose. */
	if (_i == (int)(sizeof(json_cases) / sizeof(json_cases[0])) - 1)
		len++;
	ck_assert_msg(parse_raw(c->type, 0, c->id, c->json, len) == c->r,
	    "case %d: %s: want %d", _i, c->json, c->r);
}
END_TEST

/* OPEN and RESPONSE: escapes decoded, keys matched after decoding. */
START_TEST(test_head_values)
{
	const char	*json;
	struct proto_msg m;
	struct tbuf	 t;
	uint8_t		*b, *copy;
	char		 pair[32];
	size_t		 len;
	int		 i;

	json = "{\"st\\u0061tus\":204,\"content_length\":0,\"headers\":["
	    "[\"\\u0041\",\"\\ud83d\\ude00|\\ud800|\\udc00x|\\ud800\\u0041\"],"
	    "[\"B\",\"\\u00e9\\u20ac\\/\\\\\\\"\\b\\f\"]],"
	    "\"x\":{\"y\":[\"\\ud800\"]}}";
	b = mkmsg(PROTO_RESPONSE, 0, 1, json, strlen(json), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_int_eq(m.head.status, 204);
	ck_assert_int_eq(m.head.content_length, 0);
	ck_assert_uint_eq(m.head.nhdrs, 2);
	ck_assert_str_eq(m.head.hdrs[0].name, "A");
	ck_assert_str_eq(m.head.hdrs[0].value, "\xf0\x9f\x98\x80|\xef\xbf\xbd|"
	    "\xef\xbf\xbdx|\xef\xbf\xbd" "A");
	ck_assert_str_eq(m.head.hdrs[1].name, "B");
	ck_assert_str_eq(m.head.hdrs[1].value, "\xc3\xa9\xe2\x82\xac/\\\"\b\f");
	proto_msg_clear(&m);
	free(copy);
	free(b);

	/* Many headers: the array grows past its first sizes. */
	tbuf_init(&t, PROTO_MAX_MSG);
	tbuf_put(&t, "{" OPH ",\"headers\":[", strlen("{" OPH
	    ",\"headers\":["));
	for (i = 0; i < PROTO_MAX_HEADERS; i++) {
		snprintf(pair, sizeof(pair), "%s[\"H%d\",\"%d\"]",
		    i > 0 ? "," : "", i, i);
		tbuf_put(&t, pair, strlen(pair));
	}
	tbuf_put(&t, "]}", 2);
	b = mkmsg(PROTO_OPEN, 0, 1, (const char *)tbuf_ptr(&t),
	    tbuf_len(&t), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_uint_eq(m.head.nhdrs, PROTO_MAX_HEADERS);
	ck_assert_str_eq(m.head.hdrs[255].name, "H255");
	ck_assert_str_eq(m.head.hdrs[255].value, "255");
	proto_head_add(&m.head, "Extra", "1");
	ck_assert_str_eq(m.head.hdrs[256].name, "Extra");
	proto_msg_clear(&m);
	free(copy);
	free(b);

	/* As many unknown keys as fit; one repeat among them is refused. */
	for (i = 0; i < 2; i++) {
		tbuf_reset(&t);
		json = "{\"status\":200,\"headers\":[]";
		tbuf_put(&t, json, strlen(json));
		while (tbuf_len(&t) < PROTO_MAX_MSG - PROTO_HDR_LEN - 64) {
			snprintf(pair, sizeof(pair), ",\"%zu\":0", tbuf_len(&t));
			tbuf_put(&t, pair, strlen(pair));
		}
		if (i == 1)		/* the first key, again */
			tbuf_put(&t, ",\"26\":1", 7);
		tbuf_put(&t, "}", 1);
		b = mkmsg(PROTO_RESPONSE, 0, 1, (const char *)tbuf_ptr(&t),
		    tbuf_len(&t), &len);
		ck_assert_int_eq(parse_copy(b, len, &m, &copy),
		    i == 0 ? 0 : TUN_EPROTO);
		proto_msg_clear(&m);
		free(copy);
		free(b);
	}
	tbuf_free(&t);
}
END_TEST

/* Parsed values of a few of the cases above. */
START_TEST(test_json_values)
{
	const char	*json;
	struct proto_msg m;
	uint8_t		*b, *copy;
	size_t		 len;

	json = "{\"version\":1," HW ",\"agent\":\"\\\\u0000\","
	    "\"tunnel_id\":\"\",\"x\":1}";
	b = mkmsg(PROTO_HELLO, 0, 0, json, strlen(json), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_str_eq(m.hello.agent, "\\u0000");
	ck_assert_str_eq(m.hello.tunnel_id, "");
	ck_assert_ptr_null(m.hello.url);
	proto_msg_clear(&m);
	free(copy);
	free(b);

	json = "{" OPH ",\"headers\":[[\"A\",\"\\t\\u0001\\u00ff \\\"\"],"
	    "[\"a\",\"\xff\\/\"]]}";
	b = mkmsg(PROTO_OPEN, 0, 1, json, strlen(json), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_uint_eq(m.head.nhdrs, 2);
	ck_assert_str_eq(m.head.hdrs[0].value, "\t\x01\xc3\xbf \"");
	ck_assert_str_eq(m.head.hdrs[1].value, "\xff/");
	ck_assert_str_eq(proto_head_get(&m.head, "A"), "\t\x01\xc3\xbf \"");
	ck_assert_int_eq(m.head.content_length, -1);
	ck_assert_int_eq(m.head.body, false);
	ck_assert_int_eq(m.head.status, 0);
	proto_msg_clear(&m);
	free(copy);
	free(b);

	json = "{\"status\":200,\"headers\":[],\"method\":7,\"body\":true}";
	b = mkmsg(PROTO_RESPONSE, 0, 1, json, strlen(json), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_int_eq(m.head.status, 200);
	ck_assert_ptr_null(m.head.method);
	ck_assert_ptr_null(m.head.path);
	ck_assert_ptr_null(m.head.hdrs);
	ck_assert_int_eq(m.head.body, false);
	ck_assert_int_eq(m.head.content_length, -1);
	proto_msg_clear(&m);
	free(copy);
	free(b);

	json = "{\"code\":99,\"reason\":\"\"}";
	b = mkmsg(PROTO_GOAWAY, 0, 0, json, strlen(json), &len);
	ck_assert_int_eq(parse_copy(b, len, &m, &copy), 0);
	ck_assert_int_eq(m.goaway.code, 99);
	ck_assert_ptr_null(m.goaway.reason);
	proto_msg_clear(&m);
	free(copy);
	free(b);
}
END_TEST

/* Built-up inputs: lengths at and past each limit. */
static int
hello_with(const char *key, const char *value)
{
	char	*json;
	int	 r;

	if (asprintf(&json, "{\"version\":1," HW ",\"%s\":\"%s\"}", key,
	    value) < 0)
		ck_abort();
	r = parse_json(PROTO_HELLO, 0, json);
	free(json);
	return r;
}

static int
open_with(const char *path, const char *name, const char *value)
{
	char	*json;
	int	 r;

	if (asprintf(&json, "{\"method\":\"GET\",\"path\":\"%s\","
	    "\"headers\":[[\"%s\",\"%s\"]]}", path, name, value) < 0)
		ck_abort();
	r = parse_json(PROTO_OPEN, 1, json);
	free(json);
	return r;
}

START_TEST(test_json_limits)
{
	char	*s, *p, *json;
	size_t	 i, off, sz;

	s = rep('a', 128);
	ck_assert_int_eq(hello_with("agent", s), 0);
	free(s);
	s = rep('a', 129);
	ck_assert_int_eq(hello_with("agent", s), TUN_EPROTO);
	free(s);
	s = rep('t', 128);
	ck_assert_int_eq(hello_with("tunnel_id", s), 0);
	free(s);
	s = rep('t', 129);
	ck_assert_int_eq(hello_with("tunnel_id", s), TUN_EPROTO);
	free(s);
	s = rep('i', 64);
	ck_assert_int_eq(hello_with("agent_id", s), 0);
	free(s);
	s = rep('i', 65);
	ck_assert_int_eq(hello_with("agent_id", s), TUN_EPROTO);
	free(s);
	s = rep('u', 2048);
	ck_assert_int_eq(hello_with("url", s), 0);
	free(s);
	s = rep('u', 2049);
	ck_assert_int_eq(hello_with("url", s), TUN_EPROTO);
	free(s);

	p = rep('/', 16384);
	ck_assert_int_eq(open_with(p, "A", "v"), 0);
	free(p);
	p = rep('/', 16385);
	ck_assert_int_eq(open_with(p, "A", "v"), TUN_EPROTO);
	free(p);
	s = rep('N', 256);
	ck_assert_int_eq(open_with("/", s, "v"), 0);
	free(s);
	s = rep('N', 257);
	ck_assert_int_eq(open_with("/", s, "v"), TUN_EPROTO);
	free(s);
	s = rep('v', 65536);
	ck_assert_int_eq(open_with("/", "A", s), 0);
	free(s);
	s = rep('v', 65537);
	ck_assert_int_eq(open_with("/", "A", s), TUN_EPROTO);
	free(s);

	s = rep('r', PROTO_MAX_REASON + 1);
	if (asprintf(&json, "{\"code\":1,\"reason\":\"%s\"}", s) < 0)
		ck_abort();
	ck_assert_int_eq(parse_json(PROTO_GOAWAY, 0, json), TUN_EPROTO);
	free(json);
	s[PROTO_MAX_REASON] = '\0';
	if (asprintf(&json, "{\"code\":1,\"reason\":\"%s\"}", s) < 0)
		ck_abort();
	ck_assert_int_eq(parse_json(PROTO_GOAWAY, 0, json), 0);
	free(json);
	free(s);

	/* PROTO_MAX_HEADERS headers, then one more. */
	sz = 64 + (PROTO_MAX_HEADERS + 1) * 24;
	json = malloc(sz);
	ck_assert_ptr_nonnull(json);
	off = (size_t)snprintf(json, sz, "{" OPH ",\"headers\":[");
	for (i = 0; i < PROTO_MAX_HEADERS; i++)
		off += (size_t)snprintf(json + off, sz - off,
		    "%s[\"H%zu\",\"%zu\"]", i ? "," : "", i % 7, i);
	ck_assert_uint_lt(off + 3, sz);
	memcpy(json + off, "]}", 3);
	ck_assert_int_eq(parse_json(PROTO_OPEN, 1, json), 0);
	off += (size_t)snprintf(json + off, sz - off, ",[\"X\",\"y\"]]}");
	ck_assert_uint_lt(off, sz);
	ck_assert_int_eq(parse_json(PROTO_OPEN, 1, json), TUN_EPROTO);
	free(json);
}
END_TEST

/* A failure in the middle of the headers leaves nothing behind. */
START_TEST(test_partial_free)
{
	const char	*json = "{" OPH ",\"headers\":[[\"A\",\"1\"],"
	    "[\"B\",\"2\"],"
	    "[\"C\",\"3\\n\"]]}";

	ck_assert_int_eq(parse_json(PROTO_OPEN, 1, json), TUN_EPROTO);
	json = "{\"version\":1," HW ",\"agent\":\"a\",\"tunnel_id\":\"t\","
	    "\"url\":7}";
	ck_assert_int_eq(parse_json(PROTO_HELLO, 0, json), TUN_EPROTO);
}
END_TEST

/* --- encoders: refusals -------------------------------------------------- */

START_TEST(test_encode_invalid)
{
	struct tbuf		b;
	struct proto_hello	hello;
	struct proto_head	h;
	uint8_t			big[PROTO_MAX_DATA + 1];
	char			good[] = "Good";
	char			injected[] = "a\r\nInjected: 1";
	char			*s;
	size_t			n;

	memset(big, 'x', sizeof(big));
	tbuf_init(&b, PROTO_MAX_MSG);
	ck_assert_int_eq(proto_encode_data(&b, 1, big, 0), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_data(&b, 1, big, PROTO_MAX_DATA + 1),
	    TUN_EINVAL);
	ck_assert_int_eq(proto_encode_data(&b, 0, big, 1), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_end(&b, 0), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_reset(&b, 0, 1, "x"), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_window(&b, 1, 0), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_window(&b, 1, PROTO_MAX_WINDOW + 1),
	    TUN_EINVAL);
	ck_assert_int_eq(proto_encode_window(&b, 0, 1), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_goaway(&b, 0, NULL), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_goaway(&b, -1, "x"), TUN_EINVAL);

	memset(&hello, 0, sizeof(hello));
	hello.version = 0;
	hello.window = PROTO_DEFAULT_WINDOW;
	ck_assert_int_eq(proto_encode_hello(&b, &hello), TUN_EINVAL);
	hello.version = 65536;
	ck_assert_int_eq(proto_encode_hello(&b, &hello), TUN_EINVAL);
	hello.version = 1;
	hello.window = PROTO_MIN_WINDOW - 1;
	ck_assert_int_eq(proto_encode_hello(&b, &hello), TUN_EINVAL);
	hello.window = PROTO_MAX_WINDOW + 1;
	ck_assert_int_eq(proto_encode_hello(&b, &hello), TUN_EINVAL);
	hello.window = PROTO_MAX_WINDOW;
	s = rep('a', 129);
	hello.agent = s;
	ck_assert_int_eq(proto_encode_hello(&b, &hello), TUN_EINVAL);
	free(s);

	memset(&h, 0, sizeof(h));
	h.content_length = -1;
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	h.method = strdup("GET");
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	h.path = strdup("/");
	ck_assert_int_eq(proto_encode_open(&b, 0, &h), TUN_EINVAL);
	h.content_length = -2;
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	h.content_length = -1;
	proto_head_add(&h, "Bad Name", "v");
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	/* The strings belong to the arena: point at our own instead. */
	h.hdrs[0].name = good;
	h.hdrs[0].value = injected;
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	h.hdrs[0].value[1] = ' ';
	h.hdrs[0].value[2] = ' ';
	ck_assert_uint_eq(tbuf_len(&b), 0);	/* nothing went out so far */
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), 0);
	n = tbuf_len(&b);
	ck_assert_uint_gt(n, PROTO_HDR_LEN);
	free(h.path);
	h.path = strdup("/a b");
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	free(h.method);
	h.method = strdup("GE(T");
	free(h.path);
	h.path = strdup("/");
	ck_assert_int_eq(proto_encode_open(&b, 1, &h), TUN_EINVAL);
	h.status = 99;
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_EINVAL);
	h.status = 1000;
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_EINVAL);
	h.status = 200;
	ck_assert_int_eq(proto_encode_response(&b, 0, &h), TUN_EINVAL);
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), 0);
	proto_head_clear(&h);

	/* Only the two good ones went out. */
	ck_assert_uint_eq(tbuf_ptr(&b)[0], PROTO_OPEN);
	ck_assert_uint_gt(tbuf_len(&b), n + PROTO_HDR_LEN);
	ck_assert_uint_eq(tbuf_ptr(&b)[n], PROTO_RESPONSE);
	tbuf_free(&b);
}
END_TEST

/* Too many headers, or too large a head: refused whole. */
START_TEST(test_encode_toobig)
{
	struct tbuf		 b;
	struct proto_head	 h;
	char			*v;
	size_t			 i;

	tbuf_init(&b, 64 * 1024 * 1024);
	memset(&h, 0, sizeof(h));
	h.status = 200;
	h.content_length = -1;
	for (i = 0; i < PROTO_MAX_HEADERS; i++)
		proto_head_add(&h, "X", "y");
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), 0);
	tbuf_reset(&b);
	proto_head_add(&h, "X", "y");
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_EINVAL);
	proto_head_clear(&h);

	v = rep('v', 65536);
	h.status = 200;
	for (i = 0; i < 4; i++)
		proto_head_add(&h, "X", v);
	ck_assert_int_eq(proto_encode_response(&b, 1, &h), TUN_ETOOBIG);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	proto_head_clear(&h);
	free(v);
	tbuf_free(&b);
}
END_TEST

/* No room in the buffer: TUN_ETOOBIG and nothing partial left in it. */
START_TEST(test_encode_room)
{
	struct tbuf		b;
	struct proto_hello	hello;
	struct proto_head	h;
	size_t			need, k;
	int			r;

	memset(&hello, 0, sizeof(hello));
	hello.version = 1;
	hello.window = PROTO_DEFAULT_WINDOW;
	memset(&h, 0, sizeof(h));
	h.method = strdup("GET");
	h.path = strdup("/");
	h.status = 200;
	h.content_length = -1;
	proto_head_add(&h, "Host", "x");

	for (k = 0; k < 8; k++) {
		/* First learn the size, then offer one byte less, then it. */
		for (need = 0; ; need++) {
			tbuf_init(&b, 3 + need);
			ck_assert_int_eq(tbuf_put(&b, "abc", 3), 0);
			switch (k) {
			case 0:
				r = proto_encode_hello(&b, &hello);
				break;
			case 1:
				r = proto_encode_open(&b, 1, &h);
				break;
			case 2:
				r = proto_encode_response(&b, 1, &h);
				break;
			case 3:
				r = proto_encode_data(&b, 1, "data", 4);
				break;
			case 4:
				r = proto_encode_end(&b, 1);
				break;
			case 5:
				r = proto_encode_reset(&b, 1, 1, "why");
				break;
			case 6:
				r = proto_encode_window(&b, 1, 100);
				break;
			default:
				r = proto_encode_goaway(&b, 1, "bye");
				break;
			}
			if (r == 0) {
				ck_assert_uint_eq(tbuf_len(&b), 3 + need);
				ck_assert_uint_eq(tbuf_room(&b), 0);
				tbuf_free(&b);
				break;
			}
			ck_assert_int_eq(r, TUN_ETOOBIG);
			ck_assert_uint_eq(tbuf_len(&b), 3);
			ck_assert_mem_eq(tbuf_ptr(&b), "abc", 3);
			tbuf_free(&b);
			ck_assert_uint_lt(need, 200);
		}
		ck_assert_uint_ge(need, PROTO_HDR_LEN);
	}
	proto_head_clear(&h);
}
END_TEST

/* --- heads ---------------------------------------------------------------- */

START_TEST(test_head_helpers)
{
	struct proto_head	h;
	struct proto_hello	hello;
	struct proto_msg	m;
	const char		*buf = "Content-Typetext/plainjunk";

	memset(&h, 0, sizeof(h));
	ck_assert_ptr_null(proto_head_get(&h, "Host"));
	proto_head_add(&h, "Set-Cookie", "a=1");
	proto_head_addn(&h, buf, 12, buf + 12, 10);
	proto_head_add(&h, "set-cookie", "b=2");
	proto_head_addn(&h, "X-Emptyzzz", 7, "", 0);
	ck_assert_uint_eq(h.nhdrs, 4);
	ck_assert_str_eq(h.hdrs[1].name, "Content-Type");
	ck_assert_str_eq(h.hdrs[1].value, "text/plain");
	ck_assert_str_eq(h.hdrs[3].name, "X-Empty");
	ck_assert_str_eq(h.hdrs[3].value, "");
	ck_assert_str_eq(proto_head_get(&h, "SET-COOKIE"), "a=1");
	ck_assert_str_eq(proto_head_get(&h, "content-type"), "text/plain");
	ck_assert_str_eq(proto_head_get(&h, "x-empty"), "");
	ck_assert_ptr_null(proto_head_get(&h, "Content"));
	ck_assert_ptr_null(proto_head_get(&h, "Set-Cookie2"));
	h.method = strdup("GET");
	h.path = strdup("/");
	h.status = 7;
	h.content_length = 5;
	h.body = true;
	proto_head_clear(&h);
	ck_assert_ptr_null(h.hdrs);
	ck_assert_ptr_null(h.method);
	ck_assert_ptr_null(h.path);
	ck_assert_uint_eq(h.nhdrs, 0);
	ck_assert_int_eq(h.status, 0);
	ck_assert_int_eq(h.content_length, 0);
	ck_assert_int_eq(h.body, false);
	proto_head_clear(&h);

	memset(&hello, 0, sizeof(hello));
	hello.version = 1;
	hello.agent = strdup("a");
	hello.url = strdup("u");
	proto_hello_clear(&hello);
	ck_assert_ptr_null(hello.agent);
	ck_assert_ptr_null(hello.url);
	ck_assert_int_eq(hello.version, 0);
	proto_hello_clear(&hello);

	memset(&m, 0, sizeof(m));
	proto_msg_clear(&m);
	proto_msg_clear(&m);
	assert_zeroed(&m);
}
END_TEST

/* ATTACH, ATTACHED, DETACH: round trips, then what must be refused. */
START_TEST(test_attach)
{
	static const struct {
		uint8_t		 type;
		const char	*id, *token, *url, *reason;
		int		 code;
	} ok[] = {
		{ PROTO_ATTACH, "web", "tok-123", NULL, NULL, 0 },
		{ PROTO_ATTACHED, "web", NULL, "http://h/web/", NULL, 0 },
		{ PROTO_ATTACHED, "api", NULL, NULL, NULL, 0 },
		{ PROTO_DETACH, "web", NULL, NULL, "tunnel deleted",
		    PROTO_GOAWAY_DELETED },
		{ PROTO_DETACH, "x", NULL, NULL, NULL, PROTO_GOAWAY_REFUSED },
	};
	static const struct {
		uint8_t		 type;
		uint32_t	 id;
		const char	*json;
	} bad[] = {
		{ PROTO_ATTACH, 0, "{\"token\":\"t\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"a\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"a\",\"token\":\"\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"\",\"token\":\"t\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":1,\"token\":\"t\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"a\",\"token\":null}" },
		{ PROTO_ATTACH, 3, "{\"tunnel_id\":\"a\",\"token\":\"t\"}" },
		{ PROTO_ATTACH, 0, "{\"tunnel_id\":\"a\\u0000\",\"token\":\"t\"}" },
		{ PROTO_ATTACHED, 0, "{}" },
		{ PROTO_ATTACHED, 0, "{\"tunnel_id\":\"a\",\"url\":[]}" },
		{ PROTO_ATTACHED, 1, "{\"tunnel_id\":\"a\"}" },
		{ PROTO_DETACH, 0, "{\"tunnel_id\":\"a\"}" },
		{ PROTO_DETACH, 0, "{\"tunnel_id\":\"a\",\"code\":0}" },
		{ PROTO_DETACH, 0, "{\"tunnel_id\":\"a\",\"code\":1.5}" },
		{ PROTO_DETACH, 0, "{\"tunnel_id\":\"a\",\"code\":\"1\"}" },
		{ PROTO_DETACH, 0, "[1]" },
	};
	struct proto_attach	 a;
	struct proto_msg	 m;
	struct tbuf		 b;
	uint8_t			*copy;
	char			*longid;
	size_t			 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		tbuf_init(&b, PROTO_MAX_MSG);
		memset(&a, 0, sizeof(a));
		a.tunnel_id = (char *)(uintptr_t)ok[i].id;
		a.token = (char *)(uintptr_t)ok[i].token;
		a.url = (char *)(uintptr_t)ok[i].url;
		a.reason = (char *)(uintptr_t)ok[i].reason;
		a.code = ok[i].code;
		ck_assert_int_eq(proto_encode_attach(&b, ok[i].type, &a), 0);
		ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m,
		    &copy), 0);
		ck_assert_uint_eq(m.type, ok[i].type);
		ck_assert_uint_eq(m.stream_id, 0);
		ck_assert_str_eq(m.attach.tunnel_id, ok[i].id);
		ck_assert_pstr_eq(m.attach.token, ok[i].token);
		ck_assert_pstr_eq(m.attach.url, ok[i].url);
		ck_assert_pstr_eq(m.attach.reason, ok[i].reason);
		ck_assert_int_eq(m.attach.code, ok[i].code);
		check_prefixes(tbuf_ptr(&b), tbuf_len(&b));
		proto_msg_clear(&m);
		assert_zeroed(&m);
		free(copy);
		tbuf_free(&b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_json(bad[i].type, bad[i].id,
		    bad[i].json) == TUN_EPROTO, "bad[%zu] accepted", i);

	/* The encoder refuses what the parser would. */
	tbuf_init(&b, PROTO_MAX_MSG);
	memset(&a, 0, sizeof(a));
	a.tunnel_id = (char *)(uintptr_t)"a";
	ck_assert_int_eq(proto_encode_attach(&b, PROTO_ATTACH, &a),
	    TUN_EINVAL);			/* no token */
	ck_assert_int_eq(proto_encode_attach(&b, PROTO_DETACH, &a),
	    TUN_EINVAL);			/* no code */
	ck_assert_int_eq(proto_encode_attach(&b, PROTO_OPEN, &a), TUN_EINVAL);
	longid = rep('i', 129);
	a.tunnel_id = longid;
	ck_assert_int_eq(proto_encode_attach(&b, PROTO_ATTACHED, &a),
	    TUN_EINVAL);
	free(longid);
	ck_assert_uint_eq(tbuf_len(&b), 0);
	tbuf_free(&b);

	/* OPEN names its tunnel; a bad name is refused both ways. */
	{
		struct proto_head	h;

		memset(&h, 0, sizeof(h));
		h.method = (char *)(uintptr_t)"GET";
		h.path = (char *)(uintptr_t)"/x";
		h.content_length = -1;
		h.tunnel = (char *)(uintptr_t)"api";
		tbuf_init(&b, PROTO_MAX_MSG);
		ck_assert_int_eq(proto_encode_open(&b, 5, &h), 0);
		ck_assert_int_eq(parse_copy(tbuf_ptr(&b), tbuf_len(&b), &m,
		    &copy), 0);
		ck_assert_str_eq(m.head.tunnel, "api");
		proto_msg_clear(&m);
		free(copy);
		tbuf_reset(&b);
		longid = rep('t', 129);
		h.tunnel = longid;
		ck_assert_int_eq(proto_encode_open(&b, 5, &h), TUN_EINVAL);
		free(longid);
		tbuf_free(&b);
	}
	ck_assert_int_eq(parse_json(PROTO_OPEN, 1, "{\"method\":\"GET\","
	    "\"path\":\"/\",\"headers\":[],\"tunnel\":\"api\"}"), 0);
	ck_assert_int_eq(parse_json(PROTO_OPEN, 1, "{\"method\":\"GET\","
	    "\"path\":\"/\",\"headers\":[],\"tunnel\":7}"), TUN_EPROTO);
}
END_TEST

START_TEST(test_type_str)
{
	ck_assert_str_eq(proto_type_str(PROTO_HELLO), "HELLO");
	ck_assert_str_eq(proto_type_str(PROTO_OPEN), "OPEN");
	ck_assert_str_eq(proto_type_str(PROTO_RESPONSE), "RESPONSE");
	ck_assert_str_eq(proto_type_str(PROTO_DATA), "DATA");
	ck_assert_str_eq(proto_type_str(PROTO_END), "END");
	ck_assert_str_eq(proto_type_str(PROTO_RESET), "RESET");
	ck_assert_str_eq(proto_type_str(PROTO_WINDOW), "WINDOW");
	ck_assert_str_eq(proto_type_str(PROTO_GOAWAY), "GOAWAY");
	ck_assert_str_eq(proto_type_str(PROTO_ATTACH), "ATTACH");
	ck_assert_str_eq(proto_type_str(PROTO_ATTACHED), "ATTACHED");
	ck_assert_str_eq(proto_type_str(PROTO_DETACH), "DETACH");
	ck_assert_str_eq(proto_type_str(0), "unknown");
	ck_assert_str_eq(proto_type_str(12), "unknown");
	ck_assert_str_eq(proto_type_str(-1), "unknown");
	ck_assert_str_eq(proto_type_str(256 + PROTO_OPEN), "unknown");
}
END_TEST

/* Several messages back to back in one buffer, as a sender queues them. */
START_TEST(test_sequence)
{
	struct tbuf		 b;
	struct proto_head	 h;
	struct proto_msg	 m;
	uint8_t			*copy;
	size_t			 lens[4], i, off;
	static const uint8_t	 types[] = { PROTO_RESPONSE, PROTO_DATA,
	    PROTO_WINDOW, PROTO_END };

	tbuf_init(&b, PROTO_MAX_MSG);
	memset(&h, 0, sizeof(h));
	h.status = 404;
	h.content_length = 2;
	ck_assert_int_eq(proto_encode_response(&b, 11, &h), 0);
	lens[0] = tbuf_len(&b);
	ck_assert_int_eq(proto_encode_data(&b, 11, "no", 2), 0);
	lens[1] = tbuf_len(&b) - lens[0];
	ck_assert_int_eq(proto_encode_window(&b, 11, 4096), 0);
	lens[2] = 10;
	ck_assert_int_eq(proto_encode_end(&b, 11), 0);
	lens[3] = 6;
	ck_assert_uint_eq(tbuf_len(&b), lens[0] + lens[1] + 16);
	for (i = 0, off = 0; i < 4; off += lens[i], i++) {
		ck_assert_int_eq(parse_copy(tbuf_ptr(&b) + off, lens[i], &m,
		    &copy), 0);
		ck_assert_uint_eq(m.type, types[i]);
		ck_assert_uint_eq(m.stream_id, 11);
		proto_msg_clear(&m);
		free(copy);
	}
	tbuf_free(&b);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("proto");
	tc = tcase_create("bytes");
	tcase_add_test(tc, test_put_hdr);
	tcase_add_test(tc, test_encode_bytes);
	tcase_add_test(tc, test_sequence);
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_roundtrip_hello);
	tcase_add_test(tc, test_roundtrip_heads);
	tcase_add_test(tc, test_head_json_bytes);
	tcase_add_test(tc, test_head_too_large);
	tcase_add_test(tc, test_roundtrip_binary);
	suite_add_tcase(s, tc);

	tc = tcase_create("reject");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reject_header);
	tcase_add_test(tc, test_reject_binary);
	tcase_add_test(tc, test_reject_oversize);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_json_cases, 0,
	    (int)(sizeof(json_cases) / sizeof(json_cases[0])));
	tcase_add_test(tc, test_json_values);
	tcase_add_test(tc, test_head_values);
	tcase_add_test(tc, test_json_limits);
	tcase_add_test(tc, test_partial_free);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_encode_invalid);
	tcase_add_test(tc, test_encode_toobig);
	tcase_add_test(tc, test_encode_room);
	suite_add_tcase(s, tc);

	tc = tcase_create("head");
	tcase_add_test(tc, test_head_helpers);
	tcase_add_test(tc, test_type_str);
	tcase_add_test(tc, test_attach);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
