/*
 * OPEN and RESPONSE, two readers: proto_parse() (pjson.c) against json-c
 * with the checks proto.c made before pjson.c took over.  The first byte
 * picks the message, the rest is its JSON.  Whatever proto_parse()
 * accepts, json-c must accept with the same fields.  What json-c alone
 * accepts must be one of the things RFC 8259 refuses and json-c lets
 * through: a raw control character in a string, NaN and Infinity, a
 * number such as "1.", "-.5", "00" or "-01".
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proto.h"
#include "tunerr.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 ref_parse(const uint8_t *, size_t, uint8_t,
		    struct proto_head *);
static int	 ref_headers(struct json_object *, struct proto_head *);
static int	 ref_int(struct json_object *, const char *, bool, int64_t,
		    int64_t, int64_t *);
static int	 ref_str(struct json_object *, const char *, bool,
		    const char **, size_t *);
static bool	 ref_token(const char *, size_t, size_t);
static bool	 ref_value(const char *, size_t);
static bool	 ref_path(const char *, size_t);
static bool	 num_start(const uint8_t *, size_t);
static bool	 is_digit(const uint8_t *, size_t, size_t);
static bool	 json_lax(const uint8_t *, size_t);
static void	 same_str(const char *, const char *);

static bool
ref_token(const char *s, size_t len, size_t max)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == '\0' || strchr("!#$%&'*+-.^_`|~", c) == NULL)
			return false;
	}
	return true;
}

static bool
ref_path(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 16384 || s[0] != '/')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static bool
ref_value(const char *s, size_t len)
{
	size_t	i;

	if (len > 65536)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

static int
ref_int(struct json_object *o, const char *key, bool need, int64_t min,
    int64_t max, int64_t *v)
{
	struct json_object	*j;
	int64_t			 i;

	if (!json_object_object_get_ex(o, key, &j))
		return need ? TUN_EPROTO : 0;
	if (!json_object_is_type(j, json_type_int))
		return TUN_EPROTO;
	i = json_object_get_int64(j);
	if (i == INT64_MAX && json_object_get_uint64(j) != (uint64_t)INT64_MAX)
		return TUN_EPROTO;
	if (i < min || i > max)
		return TUN_EPROTO;
	*v = i;
	return 0;
}

static int
ref_str(struct json_object *o, const char *key, bool need, const char **s,
    size_t *len)
{
	struct json_object	*j;

	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(o, key, &j))
		return need ? TUN_EPROTO : 0;
	if (!json_object_is_type(j, json_type_string))
		return TUN_EPROTO;
	*s = json_object_get_string(j);
	*len = (size_t)json_object_get_string_len(j);
	return 0;
}

static int
ref_headers(struct json_object *o, struct proto_head *h)
{
	struct json_object	*a, *pair, *jn, *jv;
	size_t			 i, n;

	if (!json_object_object_get_ex(o, "headers", &a) ||
	    !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) > PROTO_MAX_HEADERS)
		return TUN_EPROTO;
	for (i = 0; i < n; i++) {
		pair = json_object_array_get_idx(a, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2)
			return TUN_EPROTO;
		jn = json_object_array_get_idx(pair, 0);
		jv = json_object_array_get_idx(pair, 1);
		if (!json_object_is_type(jn, json_type_string) ||
		    !json_object_is_type(jv, json_type_string) ||
		    !ref_token(json_object_get_string(jn),
		    (size_t)json_object_get_string_len(jn), 256) ||
		    !ref_value(json_object_get_string(jv),
		    (size_t)json_object_get_string_len(jv)))
			return TUN_EPROTO;
		proto_head_addn(h, json_object_get_string(jn),
		    (size_t)json_object_get_string_len(jn),
		    json_object_get_string(jv),
		    (size_t)json_object_get_string_len(jv));
	}
	return 0;
}

static int
ref_parse(const uint8_t *p, size_t len, uint8_t type, struct proto_head *h)
{
	struct json_tokener	*tok;
	struct json_object	*o, *j;
	const char		*s;
	size_t			 slen, nkeys;
	int64_t			 v;
	int			 r = TUN_EPROTO;

	h->content_length = -1;
	tok = json_tokener_new_ex(8);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object) ||
	    proto_json_scan(p, len, &nkeys) != 0 ||
	    nkeys != (size_t)json_object_object_length(o))
		goto out;
	if (type == PROTO_OPEN) {
		if (ref_str(o, "method", true, &s, &slen) != 0 ||
		    !ref_token(s, slen, 32))
			goto out;
		h->method = strndup(s, slen);
		if (ref_str(o, "path", true, &s, &slen) != 0 ||
		    !ref_path(s, slen))
			goto out;
		h->path = strndup(s, slen);
		if (json_object_object_get_ex(o, "body", &j)) {
			if (!json_object_is_type(j, json_type_boolean))
				goto out;
			h->body = json_object_get_boolean(j);
		}
		if (ref_str(o, "tunnel", false, &s, &slen) != 0 ||
		    (s != NULL && (slen > 128 || memchr(s, 0, slen) != NULL)))
			goto out;
		if (s != NULL && slen > 0)
			h->tunnel = strndup(s, slen);
	} else {
		if (ref_int(o, "status", true, 100, 999, &v) != 0)
			goto out;
		h->status = (int)v;
	}
	if (ref_int(o, "content_length", false, -1, INT64_MAX,
	    &h->content_length) != 0)
		goto out;
	r = ref_headers(o, h);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/* Does a number start at p[i]: not in an exponent or after a digit? */
static bool
num_start(const uint8_t *p, size_t i)
{
	if (i == 0)
		return true;
	if (p[i - 1] == '-')
		return i < 2 || (p[i - 2] != 'e' && p[i - 2] != 'E');
	return p[i - 1] != '\0' && strchr(":[, \t\r\n", p[i - 1]) != NULL;
}

static bool
is_digit(const uint8_t *p, size_t len, size_t i)
{
	return i < len && p[i] >= '0' && p[i] <= '9';
}

/* Does the text hold something json-c takes and RFC 8259 does not? */
static bool
json_lax(const uint8_t *p, size_t len)
{
	size_t	i;
	bool	instr = false;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (p[i] == '"')
				instr = false;
			else if (p[i] == '\\')
				i++;
			else if (p[i] < 0x20)
				return true;
			continue;
		}
		if (p[i] == '"')
			instr = true;
		else if (p[i] == 'N' || p[i] == 'I')
			return true;		/* NaN, Infinity */
		else if (p[i] == '.' && (i == 0 || !is_digit(p, len, i - 1) ||
		    !is_digit(p, len, i + 1)))
			return true;		/* "1.", "-.5" */
		else if (p[i] == '0' && is_digit(p, len, i + 1) &&
		    num_start(p, i))
			return true;		/* "01", "-01" */
	}
	return false;
}

static void
same_str(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg	 m;
	struct proto_head	 ref;
	uint8_t			*msg, type;
	size_t			 i, len;
	int			 r, rr;

	if (size < 1 || size > PROTO_MAX_MSG - PROTO_HDR_LEN + 1)
		return 0;
	type = (data[0] & 1) ? PROTO_RESPONSE : PROTO_OPEN;
	len = size - 1;
	if ((msg = malloc(PROTO_HDR_LEN + len)) == NULL)
		abort();
	proto_put_hdr(msg, type, 0, 1);
	memcpy(msg + PROTO_HDR_LEN, data + 1, len);
	r = proto_parse(msg, PROTO_HDR_LEN + len, &m);
	memset(&ref, 0, sizeof(ref));
	rr = ref_parse(data + 1, len, type, &ref);
	if (r != 0 && r != TUN_EPROTO)
		abort();
	if (r == 0) {
		if (rr != 0)
			abort();	/* pjson took what json-c refused */
		if (m.head.status != ref.status ||
		    m.head.content_length != ref.content_length ||
		    m.head.body != ref.body || m.head.nhdrs != ref.nhdrs)
			abort();
		same_str(m.head.method, ref.method);
		same_str(m.head.path, ref.path);
		same_str(m.head.tunnel, ref.tunnel);
		for (i = 0; i < m.head.nhdrs; i++) {
			same_str(m.head.hdrs[i].name, ref.hdrs[i].name);
			same_str(m.head.hdrs[i].value, ref.hdrs[i].value);
		}
	} else if (rr == 0 && !json_lax(data + 1, len))
		abort();		/* pjson refused plain JSON */
	proto_msg_clear(&m);
	proto_head_clear(&ref);
	free(msg);
	return 0;
}
