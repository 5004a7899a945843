#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "httphdr.h"
#include "log.h"
#include "pjson.h"
#include "proto.h"
#include "tunerr.h"
#include "xmalloc.h"

/* Limits of the JSON messages; PROTOCOL lists them too. */
#define PROTO_JSON_OUT		(JSON_C_TO_STRING_PLAIN | \
				    JSON_C_TO_STRING_NOSLASHESCAPE)
#define PROTO_MAX_VERSION	65535
#define PROTO_MAX_AGENT		128
#define PROTO_MAX_TUNNEL_ID	128
#define PROTO_MAX_AGENT_ID	64
#define PROTO_MAX_TOKEN		256
#define PROTO_MAX_URL		2048
#define PROTO_MAX_METHOD	32
#define PROTO_MAX_PATH		16384
#define PROTO_MAX_NAME		256
#define PROTO_MAX_VALUE		65536
#define PROTO_MIN_STATUS	100
#define PROTO_MAX_STATUS	999

static int	proto_check_stream(uint8_t, uint32_t);
struct pfield;

static int	proto_parse_jmsg(const uint8_t *, size_t, struct proto_msg *);
static int	proto_parse_window(const uint8_t *, size_t, struct proto_msg *);
static int	proto_read_object(const uint8_t *, size_t,
		    const struct pfield *, size_t);
static int	proto_read_field(struct pjson *, const struct pfield *);
static int	proto_parse_hello(const uint8_t *, size_t, struct proto_hello *);
static int	proto_parse_head(const uint8_t *, size_t, uint8_t,
		    struct proto_head *);
static int	proto_parse_headers(struct pjson *, struct proto_head *);
static int	proto_parse_unknown(struct pjson *, const char *, size_t,
		    char ***, size_t *);
static int	proto_keycmp(const void *, const void *);
static void	proto_head_grow(struct proto_head *);
static char	*proto_head_str(struct proto_head *, const char *, size_t);
static int	proto_parse_reset(const uint8_t *, size_t, struct proto_msg *);
static int	proto_parse_goaway(const uint8_t *, size_t,
		    struct proto_goaway *);
static int	proto_parse_attach(const uint8_t *, size_t, uint8_t,
		    struct proto_attach *);
static bool	proto_valid_token(const char *, size_t, size_t);
static bool	proto_valid_path(const char *, size_t);
static bool	proto_valid_value(const char *, size_t);
static bool	proto_valid_text(const char *, size_t, size_t);
static bool	proto_valid_opt(const char *, size_t);
static int	proto_check_head(uint8_t, uint32_t, const struct proto_head *);
static int	proto_encode_head(struct tbuf *, uint8_t, uint32_t,
		    const struct proto_head *);
static size_t	proto_reason_len(const char *);
static int	proto_put_msg(struct tbuf *, uint8_t, uint32_t, const void *,
		    size_t);
static int	proto_put_json(struct tbuf *, uint8_t, uint32_t,
		    struct json_object *);
static struct json_object *proto_jnew(struct json_object *);
static void	proto_jset(struct json_object *, const char *,
		    struct json_object *);
static void	proto_jstr(struct json_object *, const char *, const char *);

/* A JSON message being written into a tbuf. */
struct proto_jw {
	struct tbuf	*b;
	size_t		 start;		/* where its header is */
	bool		 err;		/* too large: nothing is kept */
};

static void	proto_jw_begin(struct proto_jw *, struct tbuf *);
static void	proto_jw_put(struct proto_jw *, const void *, size_t);
static void	proto_jw_raw(struct proto_jw *, const char *);
static void	proto_jw_str(struct proto_jw *, const char *);
static void	proto_jw_int(struct proto_jw *, int64_t);
static int	proto_jw_end(struct proto_jw *, uint8_t, uint32_t);
static uint32_t	proto_get_u32(const uint8_t *);
static void	proto_set_u32(uint8_t *, uint32_t);

static const char *const proto_type_names[] = {
	NULL, "HELLO", "OPEN", "RESPONSE", "DATA", "END", "RESET", "WINDOW",
	"GOAWAY", "ATTACH", "ATTACHED", "DETACH"
};

int
proto_parse(const uint8_t *buf, size_t len, struct proto_msg *m)
{
	const uint8_t	*p;
	size_t		 plen;
	int		 r;

	memset(m, 0, sizeof(*m));
	if (len > PROTO_MAX_MSG) {
		r = TUN_ETOOBIG;
		goto out;
	}
	r = TUN_EPROTO;
	if (len < PROTO_HDR_LEN)
		goto out;
	m->type = buf[0];
	m->flags = buf[1];
	m->stream_id = proto_get_u32(buf + 2);
	p = buf + PROTO_HDR_LEN;
	plen = len - PROTO_HDR_LEN;
	if (m->flags != 0 || (r = proto_check_stream(m->type,
	    m->stream_id)) != 0)
		goto out;

	/* proto_check_stream() let known types only through. */
	switch (m->type) {
	case PROTO_DATA:
		r = plen == 0 || plen > PROTO_MAX_DATA ? TUN_EPROTO : 0;
		m->data = p;
		m->len = plen;
		break;
	case PROTO_END:
		r = plen == 0 ? 0 : TUN_EPROTO;
		break;
	case PROTO_RESET:
		r = proto_parse_reset(p, plen, m);
		break;
	case PROTO_WINDOW:
		r = proto_parse_window(p, plen, m);
		break;
	default:
		r = proto_parse_jmsg(p, plen, m);
		break;
	}
out:
	if (r != 0)
		proto_msg_clear(m);
	return r;
}

void
proto_msg_clear(struct proto_msg *m)
{
	proto_hello_clear(&m->hello);
	proto_head_clear(&m->head);
	free(m->reason);
	free(m->goaway.reason);
	free(m->attach.tunnel_id);
	if (m->attach.token != NULL)
		freezero(m->attach.token, strlen(m->attach.token));
	free(m->attach.url);
	free(m->attach.reason);
	memset(m, 0, sizeof(*m));
}

/*
 * HELLO, GOAWAY and the tunnel messages belong to the connection, the rest
 * to one stream.
 */
static int
proto_check_stream(uint8_t type, uint32_t id)
{
	switch (type) {
	case PROTO_HELLO:
	case PROTO_GOAWAY:
	case PROTO_ATTACH:
	case PROTO_ATTACHED:
	case PROTO_DETACH:
		return id == 0 ? 0 : TUN_EPROTO;
	case PROTO_OPEN:
	case PROTO_RESPONSE:
	case PROTO_DATA:
	case PROTO_END:
	case PROTO_RESET:
	case PROTO_WINDOW:
		return id != 0 ? 0 : TUN_EPROTO;
	default:
		return TUN_EPROTO;
	}
}

/*
 * json-c, even in strict mode, takes things RFC 8259 does not, or takes them
 * quietly: single-quoted strings, "\u0000" (its keys are C strings, so
 * "a\u0000b" would become "a") and repeated keys (the last one wins).  The
 * text has parsed already; refuse those, and count the root object's keys so
 * that the caller can spot a repeated one.
 */
int
proto_json_scan(const uint8_t *p, size_t len, size_t *nkeys)
{
	size_t	i, depth = 0;
	bool	instr = false, wantkey = false;

	*nkeys = 0;
	for (i = 0; i < len; i++) {
		if (instr) {
			if (p[i] == '"')
				instr = false;
			else if (p[i] == '\\') {
				if (len - i > 5 && p[i + 1] == 'u' &&
				    memcmp(p + i + 2, "0000", 4) == 0)
					return TUN_EPROTO;
				i++;
			}
			continue;
		}
		switch (p[i]) {
		case '\'':
		case '/':
			return TUN_EPROTO;
		case '"':
			instr = true;
			if (depth == 1 && wantkey) {
				(*nkeys)++;
				wantkey = false;
			}
			break;
		case '{':
		case '[':
			depth++;
			if (depth == 1)
				wantkey = p[i] == '{';
			break;
		case '}':
		case ']':
			depth--;
			break;
		case ',':
			if (depth == 1)
				wantkey = true;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* The messages whose payload is a JSON object. */
static int
proto_parse_jmsg(const uint8_t *p, size_t len, struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO:
		return proto_parse_hello(p, len, &m->hello);
	case PROTO_GOAWAY:
		return proto_parse_goaway(p, len, &m->goaway);
	case PROTO_ATTACH:
	case PROTO_ATTACHED:
	case PROTO_DETACH:
		return proto_parse_attach(p, len, m->type, &m->attach);
	default:
		return proto_parse_head(p, len, m->type, &m->head);
	}
}

static int
proto_parse_window(const uint8_t *p, size_t len, struct proto_msg *m)
{
	if (len != 4)
		return TUN_EPROTO;
	m->window = proto_get_u32(p);
	if (m->window == 0 || m->window > PROTO_MAX_WINDOW)
		return TUN_EPROTO;
	return 0;
}

/*
 * Every JSON message is read with pjson.c in one pass, straight into the
 * message: a table names the keys the message knows, what each holds and
 * where it goes.  Other keys are skipped, whatever their value, but may
 * not repeat any more than known ones.
 */
enum { PF_INT, PF_TEXT, PF_BOOL, PF_TOKEN, PF_PATH, PF_HEADERS };

struct pfield {
	const char	*key;
	int		 kind;
	bool		 need;
	int64_t		 min, max;	/* PF_INT; max: length for strings */
	bool		 keep_empty;	/* PF_TEXT: "" is kept, not absent */
	void		*out;		/* int64_t, char *, bool, proto_head */
};

static int
proto_read_field(struct pjson *j, const struct pfield *f)
{
	const char	*s;
	size_t		 len;
	int64_t		 v;

	switch (f->kind) {
	case PF_INT:
		if (pjson_int(j, &v) != 0 || v < f->min || v > f->max)
			return TUN_EPROTO;
		*(int64_t *)f->out = v;
		return 0;
	case PF_BOOL:
		return pjson_bool(j, f->out) == 0 ? 0 : TUN_EPROTO;
	case PF_HEADERS:
		return proto_parse_headers(j, f->out);
	default:
		break;
	}
	if (pjson_string(j, &s, &len) != 0)
		return TUN_EPROTO;
	switch (f->kind) {
	case PF_TOKEN:
		if (!proto_valid_token(s, len, (size_t)f->max))
			return TUN_EPROTO;
		break;
	case PF_PATH:
		if (!proto_valid_path(s, len))
			return TUN_EPROTO;
		break;
	default:
		if (!proto_valid_text(s, len, (size_t)f->max))
			return TUN_EPROTO;
		if (len == 0 && !f->keep_empty)
			return 0;	/* "" is read as absent */
		break;
	}
	*(char **)f->out = xstrndup(s, len);
	return 0;
}

static int
proto_read_object(const uint8_t *p, size_t plen, const struct pfield *f,
    size_t nf)
{
	struct pjson	 j;
	const char	*k;
	size_t		 klen, nunk = 0, i;
	char		**unk = NULL;
	uint32_t	 seen = 0;
	int		 r = TUN_EPROTO;

	pjson_init(&j, p, plen);
	if (pjson_enter(&j, '{') != 0)
		goto out;
	if (pjson_eat(&j, '}'))
		goto end;
	do {
		if (pjson_string(&j, &k, &klen) != 0 || !pjson_eat(&j, ':'))
			goto out;
		for (i = 0; i < nf; i++)
			if (strlen(f[i].key) == klen &&
			    memcmp(f[i].key, k, klen) == 0)
				break;
		if (i == nf) {
			if (proto_parse_unknown(&j, k, klen, &unk, &nunk) != 0)
				goto out;
			continue;
		}
		if (seen & (1u << i))
			goto out;		/* a repeated key */
		seen |= 1u << i;
		if (proto_read_field(&j, &f[i]) != 0)
			goto out;
	} while (pjson_eat(&j, ','));
	if (!pjson_eat(&j, '}'))
		goto out;
end:
	pjson_leave(&j);
	if (!pjson_done(&j))
		goto out;
	for (i = 0; i < nf; i++)
		if (f[i].need && !(seen & (1u << i)))
			goto out;
	/* A key may not repeat, an unknown one no more than the others. */
	if (nunk > 1) {
		qsort(unk, nunk, sizeof(*unk), proto_keycmp);
		for (i = 1; i < nunk; i++)
			if (proto_keycmp(&unk[i - 1], &unk[i]) == 0)
				goto out;
	}
	r = 0;
out:
	for (i = 0; i < nunk; i++)
		free(unk[i]);
	free(unk);
	pjson_free(&j);
	return r;
}

#define NFIELDS(f)	(sizeof(f) / sizeof((f)[0]))

/* OPEN and RESPONSE; the keys the other message knows are ignored. */
static int
proto_parse_head(const uint8_t *p, size_t plen, uint8_t type,
    struct proto_head *h)
{
	int64_t			 status = 0;
	int			 r;
	const struct pfield	 open[] = {
		{ "method", PF_TOKEN, true, 0, PROTO_MAX_METHOD, false,
		    &h->method },
		{ "path", PF_PATH, true, 0, 0, false, &h->path },
		{ "body", PF_BOOL, false, 0, 0, false, &h->body },
		{ "tunnel", PF_TEXT, false, 0, PROTO_MAX_TUNNEL_ID, false,
		    &h->tunnel },
		{ "content_length", PF_INT, false, -1, INT64_MAX, false,
		    &h->content_length },
		{ "headers", PF_HEADERS, true, 0, 0, false, h }
	}, resp[] = {
		{ "status", PF_INT, true, PROTO_MIN_STATUS, PROTO_MAX_STATUS,
		    false, &status },
		{ "content_length", PF_INT, false, -1, INT64_MAX, false,
		    &h->content_length },
		{ "headers", PF_HEADERS, true, 0, 0, false, h }
	};

	h->content_length = -1;
	if (type == PROTO_OPEN)
		return proto_read_object(p, plen, open, NFIELDS(open));
	r = proto_read_object(p, plen, resp, NFIELDS(resp));
	h->status = (int)status;
	return r;
}

static int
proto_parse_hello(const uint8_t *p, size_t plen, struct proto_hello *h)
{
	int64_t			 version = 0, window = 0;
	int			 r;
	const struct pfield	 f[] = {
		{ "version", PF_INT, true, 1, PROTO_MAX_VERSION, false,
		    &version },
		{ "window", PF_INT, true, PROTO_MIN_WINDOW, PROTO_MAX_WINDOW,
		    false, &window },
		{ "agent", PF_TEXT, false, 0, PROTO_MAX_AGENT, true,
		    &h->agent },
		{ "tunnel_id", PF_TEXT, false, 0, PROTO_MAX_TUNNEL_ID, true,
		    &h->tunnel_id },
		{ "agent_id", PF_TEXT, false, 0, PROTO_MAX_AGENT_ID, true,
		    &h->agent_id },
		{ "url", PF_TEXT, false, 0, PROTO_MAX_URL, true, &h->url }
	};

	r = proto_read_object(p, plen, f, NFIELDS(f));
	h->version = (int)version;
	h->window = (uint32_t)window;
	return r;
}

static int
proto_parse_goaway(const uint8_t *p, size_t plen, struct proto_goaway *g)
{
	int64_t			 code = 0;
	int			 r;
	const struct pfield	 f[] = {
		{ "code", PF_INT, true, 1, INT32_MAX, false, &code },
		{ "reason", PF_TEXT, false, 0, PROTO_MAX_REASON, false,
		    &g->reason }
	};

	r = proto_read_object(p, plen, f, NFIELDS(f));
	g->code = (int)code;
	return r;
}

/* tunnel_id, and token (ATTACH), url (ATTACHED) or code, reason. */
static int
proto_parse_attach(const uint8_t *p, size_t plen, uint8_t type,
    struct proto_attach *a)
{
	int64_t			 code = 0;
	int			 r;
	const struct pfield	 attach[] = {
		{ "tunnel_id", PF_TEXT, false, 0, PROTO_MAX_TUNNEL_ID, false,
		    &a->tunnel_id },
		{ "token", PF_TEXT, false, 0, PROTO_MAX_TOKEN, false,
		    &a->token }
	}, attached[] = {
		{ "tunnel_id", PF_TEXT, false, 0, PROTO_MAX_TUNNEL_ID, false,
		    &a->tunnel_id },
		{ "url", PF_TEXT, false, 0, PROTO_MAX_URL, false, &a->url }
	}, detach[] = {
		{ "tunnel_id", PF_TEXT, false, 0, PROTO_MAX_TUNNEL_ID, false,
		    &a->tunnel_id },
		{ "code", PF_INT, true, 1, INT32_MAX, false, &code },
		{ "reason", PF_TEXT, false, 0, PROTO_MAX_REASON, false,
		    &a->reason }
	};

	if (type == PROTO_ATTACH)
		r = proto_read_object(p, plen, attach, NFIELDS(attach));
	else if (type == PROTO_ATTACHED)
		r = proto_read_object(p, plen, attached, NFIELDS(attached));
	else
		r = proto_read_object(p, plen, detach, NFIELDS(detach));
	a->code = (int)code;
	/* Required, and not empty: an empty string is read as absent. */
	if (r == 0 && (a->tunnel_id == NULL ||
	    (type == PROTO_ATTACH && a->token == NULL)))
		r = TUN_EPROTO;
	return r;
}

/*
 * A key this message does not know: its value is skipped, the key kept
 * (length first, then the bytes) to find repeats.
 */
static int
proto_parse_unknown(struct pjson *j, const char *k, size_t klen,
    char ***unk, size_t *n)
{
	char	*copy;

	copy = xmalloc(sizeof(klen) + klen);
	memcpy(copy, &klen, sizeof(klen));
	memcpy(copy + sizeof(klen), k, klen);
	/* Doubling: a message can hold tens of thousands of keys. */
	if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0))
		*unk = xreallocarray(*unk, *n == 0 ? 8 : 2 * *n,
		    sizeof(**unk));
	(*unk)[(*n)++] = copy;
	return pjson_skip(j);
}

static int
proto_keycmp(const void *a, const void *b)
{
	const char	*x = *(char *const *)a, *y = *(char *const *)b;
	size_t		 xl, yl;
	int		 c;

	memcpy(&xl, x, sizeof(xl));
	memcpy(&yl, y, sizeof(yl));
	c = memcmp(x + sizeof(xl), y + sizeof(yl), xl < yl ? xl : yl);
	if (c != 0)
		return c;
	return xl < yl ? -1 : xl > yl;
}

/* "headers": [[name, value], ...], kept in order, repeats and all. */
static int
proto_parse_headers(struct pjson *j, struct proto_head *h)
{
	const char	*s;
	char		*name;
	size_t		 len;

	if (pjson_enter(j, '[') != 0)
		return TUN_EPROTO;
	if (pjson_eat(j, ']')) {
		pjson_leave(j);
		return 0;
	}
	do {
		if (h->nhdrs == PROTO_MAX_HEADERS ||
		    pjson_enter(j, '[') != 0 ||
		    pjson_string(j, &s, &len) != 0 ||
		    !proto_valid_token(s, len, PROTO_MAX_NAME))
			return TUN_EPROTO;
		name = proto_head_str(h, s, len);
		if (!pjson_eat(j, ',') || pjson_string(j, &s, &len) != 0 ||
		    !proto_valid_value(s, len) || !pjson_eat(j, ']'))
			return TUN_EPROTO;	/* name: freed with the head */
		pjson_leave(j);
		proto_head_grow(h);
		h->hdrs[h->nhdrs].name = name;
		h->hdrs[h->nhdrs].value = proto_head_str(h, s, len);
		h->nhdrs++;
	} while (pjson_eat(j, ','));
	if (!pjson_eat(j, ']'))
		return TUN_EPROTO;
	pjson_leave(j);
	return 0;
}

static int
proto_parse_reset(const uint8_t *p, size_t len, struct proto_msg *m)
{
	const char	*reason;

	if (len < 4)
		return TUN_EPROTO;
	m->code = proto_get_u32(p);
	reason = (const char *)p + 4;
	len -= 4;
	if (len == 0)
		return 0;
	if (!proto_valid_text(reason, len, PROTO_MAX_REASON))
		return TUN_EPROTO;
	m->reason = xstrndup(reason, len);
	return 0;
}

/* RFC 9110 token: 1*tchar, at most max characters. */
static bool
proto_valid_token(const char *s, size_t len, size_t max)
{
	size_t	i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++)
		if (!httphdr_tchar((unsigned char)s[i]))
			return false;
	return true;
}

/* Origin form: "/" then no controls, spaces or DEL. */
static bool
proto_valid_path(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0 || len > PROTO_MAX_PATH || s[0] != '/')
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

/* A field value: any bytes but CR, LF and NUL (obs-text is fine). */
static bool
proto_valid_value(const char *s, size_t len)
{
	size_t	i;

	if (len > PROTO_MAX_VALUE)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

static bool
proto_valid_text(const char *s, size_t len, size_t max)
{
	return len <= max && memchr(s, '\0', len) == NULL;
}

/* An optional C string for an encoder: NULL, or no longer than max. */
static bool
proto_valid_opt(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

void
proto_put_hdr(uint8_t out[PROTO_HDR_LEN], uint8_t type, uint8_t flags,
    uint32_t stream_id)
{
	out[0] = type;
	out[1] = flags;
	proto_set_u32(out + 2, stream_id);
}

int
proto_encode_hello(struct tbuf *b, const struct proto_hello *h)
{
	struct json_object	*o;
	int			 r;

	if (h->version < 1 || h->version > PROTO_MAX_VERSION ||
	    h->window < PROTO_MIN_WINDOW || h->window > PROTO_MAX_WINDOW ||
	    !proto_valid_opt(h->agent, PROTO_MAX_AGENT) ||
	    !proto_valid_opt(h->tunnel_id, PROTO_MAX_TUNNEL_ID) ||
	    !proto_valid_opt(h->agent_id, PROTO_MAX_AGENT_ID) ||
	    !proto_valid_opt(h->url, PROTO_MAX_URL))
		return TUN_EINVAL;
	o = proto_jnew(json_object_new_object());
	proto_jset(o, "version", json_object_new_int(h->version));
	proto_jset(o, "window", json_object_new_int64(h->window));
	if (h->agent != NULL)
		proto_jstr(o, "agent", h->agent);
	if (h->tunnel_id != NULL)
		proto_jstr(o, "tunnel_id", h->tunnel_id);
	if (h->agent_id != NULL)
		proto_jstr(o, "agent_id", h->agent_id);
	if (h->url != NULL)
		proto_jstr(o, "url", h->url);
	r = proto_put_json(b, PROTO_HELLO, 0, o);
	json_object_put(o);
	return r;
}

int
proto_encode_open(struct tbuf *b, uint32_t id, const struct proto_head *h)
{
	return proto_encode_head(b, PROTO_OPEN, id, h);
}

int
proto_encode_response(struct tbuf *b, uint32_t id, const struct proto_head *h)
{
	return proto_encode_head(b, PROTO_RESPONSE, id, h);
}

/* What the peer would refuse is refused here, before it is sent. */
static int
proto_check_head(uint8_t type, uint32_t id, const struct proto_head *h)
{
	size_t	i;

	if (id == 0 || h->nhdrs > PROTO_MAX_HEADERS ||
	    (h->nhdrs > 0 && h->hdrs == NULL) || h->content_length < -1)
		return TUN_EINVAL;
	if (type == PROTO_OPEN) {
		if (!proto_valid_opt(h->tunnel, PROTO_MAX_TUNNEL_ID))
			return TUN_EINVAL;
		if (h->method == NULL || h->path == NULL ||
		    !proto_valid_token(h->method, strlen(h->method),
		    PROTO_MAX_METHOD) ||
		    !proto_valid_path(h->path, strlen(h->path)))
			return TUN_EINVAL;
	} else if (h->status < PROTO_MIN_STATUS ||
	    h->status > PROTO_MAX_STATUS)
		return TUN_EINVAL;
	for (i = 0; i < h->nhdrs; i++) {
		if (h->hdrs[i].name == NULL || h->hdrs[i].value == NULL ||
		    !proto_valid_token(h->hdrs[i].name,
		    strlen(h->hdrs[i].name), PROTO_MAX_NAME) ||
		    !proto_valid_value(h->hdrs[i].value,
		    strlen(h->hdrs[i].value)))
			return TUN_EINVAL;
	}
	return 0;
}

/*
 * The head's JSON, written straight into the buffer: it is on the path of
 * every request, and building json-c objects for it cost a few dozen
 * allocations a message.  The bytes are those json-c writes with
 * PROTO_JSON_OUT (check_proto compares the two).
 */
static int
proto_encode_head(struct tbuf *b, uint8_t type, uint32_t id,
    const struct proto_head *h)
{
	struct proto_jw	 w;
	size_t		 i;
	int		 r;

	if ((r = proto_check_head(type, id, h)) != 0)
		return r;
	proto_jw_begin(&w, b);
	if (type == PROTO_OPEN) {
		proto_jw_raw(&w, "{\"method\":");
		proto_jw_str(&w, h->method);
		proto_jw_raw(&w, ",\"path\":");
		proto_jw_str(&w, h->path);
		proto_jw_raw(&w, h->body ? ",\"body\":true" : ",\"body\":false");
		if (h->tunnel != NULL) {
			proto_jw_raw(&w, ",\"tunnel\":");
			proto_jw_str(&w, h->tunnel);
		}
		proto_jw_raw(&w, ",");
	} else {
		proto_jw_raw(&w, "{\"status\":");
		proto_jw_int(&w, h->status);
		proto_jw_raw(&w, ",");
	}
	proto_jw_raw(&w, "\"content_length\":");
	proto_jw_int(&w, h->content_length);
	proto_jw_raw(&w, ",\"headers\":[");
	for (i = 0; i < h->nhdrs; i++) {
		proto_jw_raw(&w, i == 0 ? "[" : ",[");
		proto_jw_str(&w, h->hdrs[i].name);
		proto_jw_raw(&w, ",");
		proto_jw_str(&w, h->hdrs[i].value);
		proto_jw_raw(&w, "]");
	}
	proto_jw_raw(&w, "]}");
	return proto_jw_end(&w, type, id);
}

int
proto_encode_data(struct tbuf *b, uint32_t id, const void *p, size_t len)
{
	if (id == 0 || len == 0 || len > PROTO_MAX_DATA)
		return TUN_EINVAL;
	return proto_put_msg(b, PROTO_DATA, id, p, len);
}

int
proto_encode_end(struct tbuf *b, uint32_t id)
{
	if (id == 0)
		return TUN_EINVAL;
	return proto_put_msg(b, PROTO_END, id, NULL, 0);
}

/* A reason that is too long is cut, on a UTF-8 character boundary. */
int
proto_encode_reset(struct tbuf *b, uint32_t id, uint32_t code,
    const char *reason)
{
	uint8_t	p[4 + PROTO_MAX_REASON];
	size_t	n = 0;

	if (id == 0)
		return TUN_EINVAL;
	proto_set_u32(p, code);
	if (reason != NULL) {
		n = proto_reason_len(reason);
		memcpy(p + 4, reason, n);
	}
	return proto_put_msg(b, PROTO_RESET, id, p, 4 + n);
}

int
proto_encode_window(struct tbuf *b, uint32_t id, uint32_t incr)
{
	uint8_t	p[4];

	if (id == 0 || incr == 0 || incr > PROTO_MAX_WINDOW)
		return TUN_EINVAL;
	proto_set_u32(p, incr);
	return proto_put_msg(b, PROTO_WINDOW, id, p, sizeof(p));
}

int
proto_encode_goaway(struct tbuf *b, int code, const char *reason)
{
	struct json_object	*o;
	size_t			 n;
	int			 r;

	if (code < 1)
		return TUN_EINVAL;
	o = proto_jnew(json_object_new_object());
	proto_jset(o, "code", json_object_new_int(code));
	if (reason != NULL && (n = proto_reason_len(reason)) > 0)
		proto_jset(o, "reason", json_object_new_string_len(reason,
		    (int)n));
	r = proto_put_json(b, PROTO_GOAWAY, 0, o);
	json_object_put(o);
	return r;
}

/* ATTACH, ATTACHED or DETACH: the fields of its kind. */
int
proto_encode_attach(struct tbuf *b, uint8_t type, const struct proto_attach *a)
{
	struct json_object	*o;
	int			 r;

	if (a->tunnel_id == NULL || a->tunnel_id[0] == '\0' ||
	    !proto_valid_opt(a->tunnel_id, PROTO_MAX_TUNNEL_ID))
		return TUN_EINVAL;
	if ((type == PROTO_ATTACH && (a->token == NULL ||
	    a->token[0] == '\0' || !proto_valid_opt(a->token,
	    PROTO_MAX_TOKEN))) ||
	    (type == PROTO_ATTACHED && !proto_valid_opt(a->url,
	    PROTO_MAX_URL)) ||
	    (type == PROTO_DETACH && (a->code < 1 ||
	    !proto_valid_opt(a->reason, PROTO_MAX_REASON))) ||
	    type < PROTO_ATTACH || type > PROTO_DETACH)
		return TUN_EINVAL;
	o = proto_jnew(json_object_new_object());
	proto_jstr(o, "tunnel_id", a->tunnel_id);
	if (type == PROTO_ATTACH)
		proto_jstr(o, "token", a->token);
	if (type == PROTO_ATTACHED && a->url != NULL)
		proto_jstr(o, "url", a->url);
	if (type == PROTO_DETACH) {
		proto_jset(o, "code", json_object_new_int(a->code));
		if (a->reason != NULL)
			proto_jstr(o, "reason", a->reason);
	}
	r = proto_put_json(b, type, 0, o);
	json_object_put(o);
	return r;
}

static size_t
proto_reason_len(const char *s)
{
	size_t	n;

	if ((n = strnlen(s, PROTO_MAX_REASON + 1)) <= PROTO_MAX_REASON)
		return n;
	n = PROTO_MAX_REASON;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Header and payload in one go, or nothing at all. */
/*
 * A JSON message written in place: the 6-byte header first, then the
 * text, which may not make the message longer than PROTO_MAX_MSG.
 */
static void
proto_jw_begin(struct proto_jw *w, struct tbuf *b)
{
	w->b = b;
	w->start = tbuf_len(b);
	w->err = tbuf_reserve(b, PROTO_HDR_LEN) == NULL;
	if (!w->err)
		tbuf_commit(b, PROTO_HDR_LEN);
}

static void
proto_jw_put(struct proto_jw *w, const void *p, size_t n)
{
	if (!w->err && (tbuf_len(w->b) - w->start + n > PROTO_MAX_MSG ||
	    tbuf_put(w->b, p, n) != 0))
		w->err = true;
}

static void
proto_jw_raw(struct proto_jw *w, const char *s)
{
	proto_jw_put(w, s, strlen(s));
}

/* A decimal integer, as %lld writes it (snprintf costs more than the rest). */
static void
proto_jw_int(struct proto_jw *w, int64_t v)
{
	char		 num[24], *p = num + sizeof(num);
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	proto_jw_put(w, p, (size_t)(num + sizeof(num) - p));
}

/* A byte string, quoted; escapes as json-c's do (no "\/"). */
static void
proto_jw_str(struct proto_jw *w, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s, *run;
	char			 esc[6];
	uint8_t			*d;
	size_t			 n;

	/* Most strings need no escape: one copy, quotes and all. */
	for (n = 0; p[n] >= 0x20 && p[n] != '"' && p[n] != '\\'; n++)
		;
	if (p[n] == '\0') {
		if (w->err ||
		    tbuf_len(w->b) - w->start + n + 2 > PROTO_MAX_MSG ||
		    (d = tbuf_reserve(w->b, n + 2)) == NULL) {
			w->err = true;
			return;
		}
		d[0] = '"';
		memcpy(d + 1, s, n);
		d[n + 1] = '"';
		tbuf_commit(w->b, n + 2);
		return;
	}
	proto_jw_put(w, "\"", 1);
	for (run = p; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		proto_jw_put(w, run, (size_t)(p - run));
		run = p + 1;
		esc[0] = '\\';
		switch (*p) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			proto_jw_put(w, esc, 6);
			continue;
		}
		proto_jw_put(w, esc, 2);
	}
	proto_jw_put(w, run, (size_t)(p - run));
	proto_jw_put(w, "\"", 1);
}

/* The header, now the length is known; nothing is left on error. */
static int
proto_jw_end(struct proto_jw *w, uint8_t type, uint32_t id)
{
	if (w->err) {
		tbuf_truncate(w->b, w->start);
		return TUN_ETOOBIG;
	}
	proto_put_hdr(tbuf_ptr(w->b) + w->start, type, 0, id);
	return 0;
}

static int
proto_put_msg(struct tbuf *b, uint8_t type, uint32_t id, const void *p,
    size_t len)
{
	uint8_t	*dst;

	if (len > PROTO_MAX_MSG - PROTO_HDR_LEN)
		return TUN_ETOOBIG;
	if ((dst = tbuf_reserve(b, PROTO_HDR_LEN + len)) == NULL)
		return TUN_ETOOBIG;
	proto_put_hdr(dst, type, 0, id);
	if (len > 0)
		memcpy(dst + PROTO_HDR_LEN, p, len);
	tbuf_commit(b, PROTO_HDR_LEN + len);
	return 0;
}

static int
proto_put_json(struct tbuf *b, uint8_t type, uint32_t id,
    struct json_object *o)
{
	const char	*s;
	size_t		 len;

	if ((s = json_object_to_json_string_length(o, PROTO_JSON_OUT,
	    &len)) == NULL)
		fatalx("%s: out of memory", __func__);
	return proto_put_msg(b, type, id, s, len);
}

/* json-c returns NULL when out of memory: as fatal as xmalloc's. */
static struct json_object *
proto_jnew(struct json_object *o)
{
	if (o == NULL)
		fatalx("json-c: out of memory");
	return o;
}

static void
proto_jset(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, proto_jnew(v)) != 0)
		fatalx("json-c: out of memory");
}

static void
proto_jstr(struct json_object *o, const char *key, const char *s)
{
	proto_jset(o, key, json_object_new_string_len(s, (int)strlen(s)));
}

void
proto_head_add(struct proto_head *h, const char *name, const char *value)
{
	proto_head_addn(h, name, strlen(name), value, strlen(value));
}

/*
 * Room for one more header.  The array has room for the next power of two
 * of nhdrs (8 at least), so it grows when nhdrs reaches one.
 */
static void
proto_head_grow(struct proto_head *h)
{
	size_t	n = h->nhdrs;

	if (n == 0 || (n >= 8 && (n & (n - 1)) == 0))
		h->hdrs = xreallocarray(h->hdrs, n == 0 ? 8 : 2 * n,
		    sizeof(*h->hdrs));
}

/*
 * The arena: blocks of at least PROTO_ARENA_MIN bytes, each twice the last,
 * newest first.  A head of a few headers takes one allocation, a head of
 * PROTO_MAX_MSG bytes about ten.
 */
#define PROTO_ARENA_MIN	1024

struct proto_arena {
	struct proto_arena	*next;
	size_t			 used, size;
	char			 data[];
};

/* A copy of s[0..len) and a NUL in h's arena. */
static char *
proto_head_str(struct proto_head *h, const char *s, size_t len)
{
	struct proto_arena	*a = h->arena;
	size_t			 size;
	char			*p;

	if (a == NULL || a->size - a->used <= len) {
		size = a != NULL ? a->size * 2 : PROTO_ARENA_MIN;
		if (size <= len)
			size = len + 1;
		a = xmalloc(sizeof(*a) + size);
		a->next = h->arena;
		a->used = 0;
		a->size = size;
		h->arena = a;
	}
	p = a->data + a->used;
	memcpy(p, s, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

void
proto_head_addn(struct proto_head *h, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char	*n, *v;

	n = proto_head_str(h, name, nlen);
	v = proto_head_str(h, value, vlen);
	proto_head_grow(h);
	h->hdrs[h->nhdrs].name = n;
	h->hdrs[h->nhdrs].value = v;
	h->nhdrs++;
}

/* The first header of that name, case-insensitively; NULL if none. */
const char *
proto_head_get(const struct proto_head *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->nhdrs; i++)
		if (strcasecmp(h->hdrs[i].name, name) == 0)
			return h->hdrs[i].value;
	return NULL;
}

void
proto_head_clear(struct proto_head *h)
{
	struct proto_arena	*a, *next;

	for (a = h->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	free(h->hdrs);
	free(h->method);
	free(h->path);
	free(h->tunnel);
	memset(h, 0, sizeof(*h));
}

void
proto_hello_clear(struct proto_hello *h)
{
	free(h->agent);
	free(h->tunnel_id);
	free(h->agent_id);
	free(h->url);
	memset(h, 0, sizeof(*h));
}

const char *
proto_type_str(int type)
{
	if (type >= PROTO_HELLO && type <= PROTO_DETACH)
		return proto_type_names[type];
	return "unknown";
}

static uint32_t
proto_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
proto_set_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}
