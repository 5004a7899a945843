/*
 * The inspector's formats, pure functions of their arguments: captures as
 * JSON for the API and the page, bodies rendered for reading (JSON
 * pretty-printed, forms decoded, text, images as base64, anything else as
 * a hex dump), the replay edits a caller sends, ids, and the lines of the
 * capture file.
 *
 * Everything that parses is a parser of untrusted bytes: JSON goes through
 * json-c's tokener with a depth limit, strict mode and UTF-8 checks, every
 * field is type- and range-checked, and counts are bounded.  Strings that
 * go out as JSON are valid UTF-8 (bad bytes become U+FFFD).
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "httphdr.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define CAPFMT_METHOD_MAX	32
#define CAPFMT_PATH_MAX		8192
#define CAPFMT_LABEL_MAX	128
#define CAPFMT_ERROR_MAX	1024
#define CAPFMT_EDIT_DEPTH	8
#define CAPFMT_PP_LINE		72		/* flat arrays up to this */
#define CAPFMT_PP_MAX		(32 * 1024 * 1024)

static const char capfmt_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t	 capfmt_utf8_len(const uint8_t *, size_t);
static struct json_object *capfmt_parse(const char *, size_t, int);
static bool	 capfmt_scalar(struct json_object *);
static int	 capfmt_pp_put(struct tbuf *, const char *);
static int	 capfmt_pp_indent(struct tbuf *, int);
static int	 capfmt_pp(struct tbuf *, struct json_object *, int);
static void	 capfmt_media(const char *, char *, size_t);
static bool	 capfmt_is_image(const char *);
static bool	 capfmt_is_json_type(const char *);
static bool	 capfmt_textish(const uint8_t *, size_t);
static char	*capfmt_urldecode(const uint8_t *, size_t, size_t *);
static int	 capfmt_get_head(struct json_object *, const char *,
		    struct proto_head *, char *, size_t);
static int	 capfmt_get_body(struct json_object *, const char *, size_t,
		    struct capbody *, char *, size_t);
static bool	 capfmt_get_i64(struct json_object *, const char *, int64_t,
		    int64_t, int64_t *);
static void	 capfmt_iso(int64_t, char *, size_t);
static struct json_object *capfmt_ms(uint64_t);

/* --- UTF-8 and JSON strings --------------------------------------------- */

/* Length of the valid UTF-8 sequence at p, 0 if there is none. */
static size_t
capfmt_utf8_len(const uint8_t *p, size_t len)
{
	uint32_t	cp;
	size_t		n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
capfmt_utf8_valid(const uint8_t *p, size_t len)
{
	size_t	i = 0, n;

	while (i < len) {
		if ((n = capfmt_utf8_len(p + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* A JSON string of bytes: invalid UTF-8 becomes U+FFFD. */
struct json_object *
capfmt_string(const char *s, size_t len)
{
	const uint8_t		*p = (const uint8_t *)s;
	struct json_object	*o;
	char			*out;
	size_t			 i = 0, j = 0, n;

	if (s == NULL)
		return json_object_new_string("");
	if (capfmt_utf8_valid(p, len))
		return json_object_new_string_len(s, (int)len);
	out = xreallocarray(NULL, len, 3);
	while (i < len) {
		if ((n = capfmt_utf8_len(p + i, len - i)) == 0) {
			memcpy(out + j, "\xef\xbf\xbd", 3);
			j += 3;
			i++;
		} else {
			memcpy(out + j, p + i, n);
			j += n;
			i += n;
		}
	}
	o = json_object_new_string_len(out, (int)j);
	free(out);
	return o;
}

/*
 * JSON of at most depth levels in json-c's strict mode (which still takes
 * single-quoted strings and NaN); NULL unless all of buf is one value.
 */
static struct json_object *
capfmt_parse(const char *buf, size_t len, int depth)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	size_t			 end;

	if (len == 0 || len > INT_MAX ||
	    (tok = json_tokener_new_ex(depth)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		o = json_tokener_parse_ex(tok, " ", 1);	/* "12" at the end */
		end = len;			/* all of buf was taken */
	}
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	for (; end < len; end++) {
		if (buf[end] != ' ' && buf[end] != '\t' && buf[end] != '\n' &&
		    buf[end] != '\r') {
			json_object_put(o);
			o = NULL;
			break;
		}
	}
	json_tokener_free(tok);
	return o;
}

/* --- bodies --------------------------------------------------------------- */

/* "Type/Sub; charset=x" -> "type/sub", lowercase, bounded. */
static void
capfmt_media(const char *ctype, char *out, size_t outlen)
{
	size_t	i = 0;

	if (ctype != NULL) {
		while (*ctype == ' ' || *ctype == '\t')
			ctype++;
		for (; ctype[i] != '\0' && ctype[i] != ';' && ctype[i] != ' ' &&
		    ctype[i] != '\t' && i < outlen - 1; i++)
			out[i] = (char)tolower((unsigned char)ctype[i]);
	}
	out[i] = '\0';
}

/* Raster images a browser shows from a data: URL; not SVG. */
static bool
capfmt_is_image(const char *media)
{
	static const char *const types[] = { "image/png", "image/jpeg",
	    "image/gif", "image/webp", "image/bmp", "image/x-icon",
	    "image/vnd.microsoft.icon", "image/avif" };
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(media, types[i]) == 0)
			return true;
	return false;
}

static bool
capfmt_is_json_type(const char *media)
{
	size_t	n = strlen(media);

	return strcmp(media, "application/json") == 0 ||
	    strcmp(media, "text/json") == 0 ||
	    (n > 5 && strcmp(media + n - 5, "+json") == 0);
}

/* Valid UTF-8 without NUL and other controls than tab, LF, CR, FF, ESC. */
static bool
capfmt_textish(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r' && p[i] != '\f' && p[i] != 0x1b)
			return false;
	return capfmt_utf8_valid(p, len);
}

/* How to show a body of content type ctype (may be NULL). */
int
capfmt_kind(const char *ctype, const uint8_t *p, size_t len)
{
	char	 media[128], *pretty;
	size_t	 i;

	if (len == 0)
		return CAPFMT_EMPTY;
	capfmt_media(ctype, media, sizeof(media));
	if (capfmt_is_image(media))
		return CAPFMT_IMAGE;
	if (!capfmt_textish(p, len))
		return CAPFMT_BINARY;
	if (strcmp(media, "application/x-www-form-urlencoded") == 0)
		return CAPFMT_FORM;
	for (i = 0; i < len && isspace(p[i]); i++)
		;
	if (capfmt_is_json_type(media) || (media[0] == '\0' && i < len &&
	    (p[i] == '{' || p[i] == '['))) {
		if ((pretty = capfmt_pretty_json(p, len)) != NULL) {
			free(pretty);
			return CAPFMT_JSON;
		}
	}
	return CAPFMT_TEXT;
}

static bool
capfmt_scalar(struct json_object *o)
{
	return !json_object_is_type(o, json_type_object) &&
	    !json_object_is_type(o, json_type_array);
}

static int
capfmt_pp_put(struct tbuf *b, const char *s)
{
	return tbuf_put(b, s, strlen(s));
}

static int
capfmt_pp_indent(struct tbuf *b, int depth)
{
	int	i, r = 0;

	for (i = 0; i < depth && r == 0; i++)
		r = tbuf_put(b, "  ", 2);
	return r;
}

/*
 * o indented by two spaces a level; an array of scalars that fits in
 * CAPFMT_PP_LINE characters stays on one line.  Depth is bounded by the
 * parser's limit, the output by b's ceiling (TUN_ETOOBIG).
 */
static int
capfmt_pp(struct tbuf *b, struct json_object *o, int depth)
{
	struct json_object	*k, *e;
	const char		*s;
	size_t			 n, i, mark;
	bool			 flat = true;
	int			 r = 0;

	if (capfmt_scalar(o))
		return capfmt_pp_put(b, o == NULL ? "null" :
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	if (json_object_is_type(o, json_type_object)) {
		if ((n = (size_t)json_object_object_length(o)) == 0)
			return capfmt_pp_put(b, "{}");
		r = capfmt_pp_put(b, "{\n");
		i = 0;
		json_object_object_foreach(o, key, val) {
			k = json_object_new_string(key);
			s = json_object_to_json_string_ext(k,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
			if (r == 0)
				r = capfmt_pp_indent(b, depth + 1);
			if (r == 0)
				r = capfmt_pp_put(b, s);
			json_object_put(k);
			if (r == 0)
				r = capfmt_pp_put(b, ": ");
			if (r == 0)
				r = capfmt_pp(b, val, depth + 1);
			if (r == 0)
				r = capfmt_pp_put(b, ++i < n ? ",\n" : "\n");
			if (r != 0)
				return r;
		}
		if ((r = capfmt_pp_indent(b, depth)) != 0)
			return r;
		return capfmt_pp_put(b, "}");
	}
	if ((n = json_object_array_length(o)) == 0)
		return capfmt_pp_put(b, "[]");
	for (i = 0; i < n && flat; i++)
		flat = capfmt_scalar(json_object_array_get_idx(o, i));
	if (flat) {
		mark = tbuf_len(b);
		r = capfmt_pp_put(b, "[");
		for (i = 0; i < n && r == 0; i++) {
			if (i > 0)
				r = capfmt_pp_put(b, ", ");
			if (r == 0)
				r = capfmt_pp(b, json_object_array_get_idx(o, i),
				    depth + 1);
		}
		if (r == 0)
			r = capfmt_pp_put(b, "]");
		if (r == 0 && tbuf_len(b) - mark <= CAPFMT_PP_LINE)
			return 0;
		b->len = mark;		/* too long: one a line */
	}
	r = capfmt_pp_put(b, "[\n");
	for (i = 0; i < n && r == 0; i++) {
		e = json_object_array_get_idx(o, i);
		r = capfmt_pp_indent(b, depth + 1);
		if (r == 0)
			r = capfmt_pp(b, e, depth + 1);
		if (r == 0)
			r = capfmt_pp_put(b, i + 1 < n ? ",\n" : "\n");
	}
	if (r == 0)
		r = capfmt_pp_indent(b, depth);
	if (r == 0)
		r = capfmt_pp_put(b, "]");
	return r;
}

/*
 * JSON indented by two spaces, or NULL if it is not strict JSON (or
 * would be over CAPFMT_PP_MAX bytes pretty-printed).
 */
char *
capfmt_pretty_json(const uint8_t *p, size_t len)
{
	struct json_object	*o;
	struct tbuf		 b;
	char			*s = NULL;

	if ((o = capfmt_parse((const char *)p, len, CAPFMT_JSON_DEPTH)) ==
	    NULL && !(len == 4 && memcmp(p, "null", 4) == 0))
		return NULL;
	tbuf_init(&b, CAPFMT_PP_MAX);
	if (capfmt_pp(&b, o, 0) == 0 && tbuf_put(&b, "", 1) == 0)
		s = xstrdup((const char *)tbuf_ptr(&b));
	tbuf_free(&b);
	json_object_put(o);
	return s;
}


/* application/x-www-form-urlencoded: '+' is a space, %XX a byte. */
static char *
capfmt_urldecode(const uint8_t *p, size_t len, size_t *outlen)
{
	char	*out = xmalloc(len + 1);
	size_t	 i, j = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (p[i] == '+')
			out[j++] = ' ';
		else if (p[i] == '%' && i + 2 < len &&
		    (hi = util_hexval(p[i + 1])) >= 0 &&
		    (lo = util_hexval(p[i + 2])) >= 0) {
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[j++] = (char)p[i];
	}
	out[j] = '\0';
	*outlen = j;
	return out;
}

/* The fields of a form as [name, value] pairs, at most CAPFMT_FORM_MAX. */
struct json_object *
capfmt_form(const uint8_t *p, size_t len)
{
	struct json_object	*arr = json_object_new_array(), *pair;
	const uint8_t		*end = p + len, *amp, *eq;
	char			*name, *value;
	size_t			 nl, vl, n = 0;

	while (p < end && n < CAPFMT_FORM_MAX) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp > p) {
			if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
				eq = amp;
			name = capfmt_urldecode(p, (size_t)(eq - p), &nl);
			value = eq < amp ? capfmt_urldecode(eq + 1,
			    (size_t)(amp - eq - 1), &vl) : xstrdup("");
			if (eq == amp)
				vl = 0;
			pair = json_object_new_array();
			json_object_array_add(pair, capfmt_string(name, nl));
			json_object_array_add(pair, capfmt_string(value, vl));
			json_object_array_add(arr, pair);
			free(name);
			free(value);
			n++;
		}
		p = amp + 1;
	}
	return arr;
}

/* "00000010  41 42 ...  |AB..|" lines for the first max bytes. */
char *
capfmt_hexdump(const uint8_t *p, size_t len, size_t max)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*out, *o;
	size_t			 n = len < max ? len : max, off, i;

	out = o = xmalloc((n + 15) / 16 * 80 + 1);
	for (off = 0; off < n; off += 16) {
		o += snprintf(o, 12, "%08zx  ", off);
		for (i = 0; i < 16; i++) {
			if (off + i < n) {
				*o++ = hex[p[off + i] >> 4];
				*o++ = hex[p[off + i] & 15];
			} else {
				*o++ = ' ';
				*o++ = ' ';
			}
			*o++ = ' ';
			if (i == 7)
				*o++ = ' ';
		}
		*o++ = ' ';
		*o++ = '|';
		for (i = 0; i < 16 && off + i < n; i++)
			*o++ = p[off + i] >= 0x20 && p[off + i] < 0x7f ?
			    (char)p[off + i] : '.';
		*o++ = '|';
		*o++ = '\n';
	}
	*o = '\0';
	return out;
}

char *
capfmt_b64_encode(const uint8_t *p, size_t len)
{
	char	*out, *o;
	size_t	 i;
	uint32_t v;

	out = o = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = capfmt_b64[v >> 18];
		*o++ = capfmt_b64[(v >> 12) & 63];
		*o++ = capfmt_b64[(v >> 6) & 63];
		*o++ = capfmt_b64[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = capfmt_b64[v >> 18];
		*o++ = capfmt_b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? capfmt_b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* Strict base64 with padding; TUN_EINVAL for anything else. */
int
capfmt_b64_decode(const char *s, size_t len, uint8_t **outp, size_t *outlen)
{
	const char	*q;
	uint8_t		*out;
	uint32_t	 v = 0;
	size_t		 i, j = 0, pad = 0;
	int		 k, d;

	*outp = NULL;
	*outlen = 0;
	if (len % 4 != 0)
		return TUN_EINVAL;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	out = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + (size_t)k >= len - pad) {
				if (s[i + (size_t)k] != '=')
					goto bad;
				d = 0;
			} else if (s[i + (size_t)k] == '\0' ||
			    (q = strchr(capfmt_b64, s[i + (size_t)k])) ==
			    NULL)
				goto bad;
			else
				d = (int)(q - capfmt_b64);
			v = v << 6 | (uint32_t)d;
		}
		out[j++] = (uint8_t)(v >> 16);
		out[j++] = (uint8_t)(v >> 8);
		out[j++] = (uint8_t)v;
	}
	j -= pad;
	/* The bits under the padding must be zero (one encoding only). */
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
		goto bad;
	*outp = out;
	*outlen = j;
	return 0;
bad:
	free(out);
	return TUN_EINVAL;
}

/*
 * One body: {size, kept, truncated, kind, content_type} and, by kind,
 * text (JSON pretty-printed, forms and text as they are), form (pairs),
 * base64 (images) or hex (the first CAPFMT_HEX_MAX bytes).
 */
struct json_object *
capfmt_body(const struct capbody *b, const char *ctype)
{
	static const char *const kinds[] = { "empty", "json", "form", "text",
	    "image", "binary" };
	struct json_object	*o = json_object_new_object();
	const uint8_t		*p = tbuf_ptr(&b->kept);
	size_t			 len = tbuf_len(&b->kept);
	char			*s;
	int			 kind;

	kind = capfmt_kind(ctype, p, len);
	json_object_object_add(o, "size", json_object_new_int64(
	    (int64_t)b->size));
	json_object_object_add(o, "kept", json_object_new_int64((int64_t)len));
	json_object_object_add(o, "truncated", json_object_new_boolean(
	    b->size > len));
	json_object_object_add(o, "kind", json_object_new_string(kinds[kind]));
	if (ctype != NULL)
		json_object_object_add(o, "content_type",
		    capfmt_string(ctype, strlen(ctype)));
	switch (kind) {
	case CAPFMT_JSON:
		s = capfmt_pretty_json(p, len);
		json_object_object_add(o, "text", json_object_new_string(s));
		free(s);
		break;
	case CAPFMT_FORM:
	case CAPFMT_TEXT:
		if (kind == CAPFMT_FORM)
			json_object_object_add(o, "form", capfmt_form(p, len));
		json_object_object_add(o, "text", capfmt_string(
		    (const char *)p, len));
		break;
	case CAPFMT_IMAGE:
		s = capfmt_b64_encode(p, len);
		json_object_object_add(o, "base64", json_object_new_string(s));
		free(s);
		break;
	case CAPFMT_BINARY:
		s = capfmt_hexdump(p, len, CAPFMT_HEX_MAX);
		json_object_object_add(o, "hex", json_object_new_string(s));
		json_object_object_add(o, "hex_truncated",
		    json_object_new_boolean(len > CAPFMT_HEX_MAX));
		free(s);
		break;
	}
	return o;
}

/* --- captures as JSON ------------------------------------------------------ */

struct json_object *
capfmt_headers(const struct proto_head *h)
{
	struct json_object	*arr = json_object_new_array(), *pair;
	size_t			 i;

	for (i = 0; i < h->nhdrs; i++) {
		pair = json_object_new_array();
		json_object_array_add(pair, capfmt_string(h->hdrs[i].name,
		    strlen(h->hdrs[i].name)));
		json_object_array_add(pair, capfmt_string(h->hdrs[i].value,
		    strlen(h->hdrs[i].value)));
		json_object_array_add(arr, pair);
	}
	return arr;
}

/* Microseconds as milliseconds with three decimals: 1.234 */
static struct json_object *
capfmt_ms(uint64_t us)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%llu.%03llu", (unsigned long long)(us /
	    1000), (unsigned long long)(us % 1000));
	return json_object_new_double_s((double)us / 1000.0, buf);
}

/* "2026-12-01T07:36:03.123Z" */
static void
capfmt_iso(int64_t ms, char *out, size_t outlen)
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	char		buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", buf, (int)(ms % 1000));
}

/* The list's line: sizes and times only once the exchange is done. */
struct json_object *
capfmt_summary(const struct capture *c, const struct capview *v)
{
	static const char *const states[] = { "pending", "head", "done" };
	struct json_object	*o = json_object_new_object();
	const char		*s, *ctype;
	char			 iso[40];

	json_object_object_add(o, "id", json_object_new_int64((int64_t)c->id));
	if (c->replay_of != 0)
		json_object_object_add(o, "replay_of",
		    json_object_new_int64((int64_t)c->replay_of));
	s = c->ring != NULL ? c->ring->label : "";
	json_object_object_add(o, "tunnel", capfmt_string(s, strlen(s)));
	capfmt_iso(c->wall_ms, iso, sizeof(iso));
	json_object_object_add(o, "time", json_object_new_string(iso));
	json_object_object_add(o, "time_ms", json_object_new_int64(c->wall_ms));
	s = c->req.method != NULL ? c->req.method : "";
	json_object_object_add(o, "method", capfmt_string(s, strlen(s)));
	s = c->req.path != NULL ? c->req.path : "";
	json_object_object_add(o, "path", capfmt_string(s, strlen(s)));
	json_object_object_add(o, "state", json_object_new_string(
	    states[v->state]));
	json_object_object_add(o, "status", v->status > 0 ?
	    json_object_new_int(v->status) : NULL);
	if (v->state == CAPTURE_DONE) {
		json_object_object_add(o, "duration_ms", capfmt_ms(v->total_us));
		json_object_object_add(o, "request_size", json_object_new_int64(
		    (int64_t)c->reqbody.size));
		json_object_object_add(o, "response_size",
		    json_object_new_int64((int64_t)c->respbody.size));
		json_object_object_add(o, "complete",
		    json_object_new_boolean(v->complete));
		if (v->error != NULL)
			json_object_object_add(o, "error", capfmt_string(
			    v->error, strlen(v->error)));
	}
	if (v->state >= CAPTURE_HEAD &&
	    (ctype = proto_head_get(&c->resp, "Content-Type")) != NULL)
		json_object_object_add(o, "content_type", capfmt_string(ctype,
		    strlen(ctype)));
	return o;
}

/* One exchange: the summary, both heads, both bodies, the times. */
struct json_object *
capfmt_detail(const struct capture *c, const struct capview *v)
{
	struct json_object	*o = capfmt_summary(c, v), *side, *t;

	side = json_object_new_object();
	json_object_object_add(side, "headers", capfmt_headers(&c->req));
	if (v->state == CAPTURE_DONE)
		json_object_object_add(side, "body", capfmt_body(&c->reqbody,
		    proto_head_get(&c->req, "Content-Type")));
	json_object_object_add(o, "request", side);
	side = json_object_new_object();
	if (v->state >= CAPTURE_HEAD)
		json_object_object_add(side, "headers",
		    capfmt_headers(&c->resp));
	if (v->state == CAPTURE_DONE)
		json_object_object_add(side, "body", capfmt_body(&c->respbody,
		    v->state >= CAPTURE_HEAD ? proto_head_get(&c->resp,
		    "Content-Type") : NULL));
	json_object_object_add(o, "response", side);
	t = json_object_new_object();
	json_object_object_add(t, "head_ms", v->state >= CAPTURE_HEAD ?
	    capfmt_ms(v->head_us) : NULL);
	json_object_object_add(t, "total_ms", v->state == CAPTURE_DONE ?
	    capfmt_ms(v->total_us) : NULL);
	json_object_object_add(o, "timing", t);
	return o;
}

/* --- input: ids, edits, file lines ------------------------------------------ */

/* 1..2^63-1 in decimal, no sign, no leading zero. */
bool
capfmt_parse_id(const char *s, uint64_t *id)
{
	const char	*errstr;
	size_t		 n = strlen(s);
	long long	 v;

	if (n == 0 || n > 19 || s[0] == '0' || strspn(s, "0123456789") != n)
		return false;
	v = util_strtonum(s, 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return false;
	*id = (uint64_t)v;
	return true;
}

/* An HTTP method: a token of at most 32 characters. */
bool
capfmt_valid_method(const char *m)
{
	return m != NULL && strlen(m) <= CAPFMT_METHOD_MAX &&
	    httphdr_valid_name(m);
}

/* An origin-form target: "/" then visible bytes, at most 8192. */
bool
capfmt_valid_path(const char *p)
{
	const unsigned char	*q;

	if (p == NULL || p[0] != '/' || strlen(p) > CAPFMT_PATH_MAX)
		return false;
	for (q = (const unsigned char *)p; *q != '\0'; q++)
		if (*q <= 0x20 || *q == 0x7f)
			return false;
	return true;
}

/* An array of [name, value] string pairs into h. */
static int
capfmt_get_head(struct json_object *o, const char *what,
    struct proto_head *h, char *err, size_t errlen)
{
	struct json_object	*pair, *n, *v;
	const char		*name, *value;
	size_t			 i, len;

	if (!json_object_is_type(o, json_type_array) ||
	    (len = json_object_array_length(o)) > PROTO_MAX_HEADERS) {
		snprintf(err, errlen, "%s: want at most %d [name, value] "
		    "pairs", what, PROTO_MAX_HEADERS);
		return TUN_EINVAL;
	}
	for (i = 0; i < len; i++) {
		pair = json_object_array_get_idx(o, i);
		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    !json_object_is_type(n = json_object_array_get_idx(pair, 0),
		    json_type_string) ||
		    !json_object_is_type(v = json_object_array_get_idx(pair, 1),
		    json_type_string)) {
			snprintf(err, errlen, "%s: element %zu is not a "
			    "[name, value] pair of strings", what, i);
			return TUN_EINVAL;
		}
		name = json_object_get_string(n);
		value = json_object_get_string(v);
		if (!httphdr_valid_name(name) || strlen(name) !=
		    (size_t)json_object_get_string_len(n)) {
			snprintf(err, errlen, "%s: element %zu: bad header "
			    "name", what, i);
			return TUN_EINVAL;
		}
		if (!httphdr_valid_value(value, (size_t)
		    json_object_get_string_len(v)) || strlen(value) !=
		    (size_t)json_object_get_string_len(v)) {
			snprintf(err, errlen, "%s: element %zu: bad header "
			    "value (CR, LF, NUL or too long)", what, i);
			return TUN_EINVAL;
		}
		proto_head_add(h, name, value);
	}
	return 0;
}

/*
 * The body of a replay: {"method", "path", "headers": [[n, v], ...],
 * "body" (text) or "body_base64"}, every field optional, nothing else.
 * An empty input is no change.  Bodies over maxbody are refused.
 */
int
capfmt_parse_edit(const char *buf, size_t len, size_t maxbody,
    struct capedit *e, char *err, size_t errlen)
{
	struct json_object	*o, *v;
	const char		*s;
	size_t			 n;
	int			 r = TUN_EINVAL;

	memset(e, 0, sizeof(*e));
	err[0] = '\0';
	if (len == 0)
		return 0;
	if ((o = capfmt_parse(buf, len, CAPFMT_EDIT_DEPTH)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the body is not a JSON object");
		goto out;
	}
	json_object_object_foreach(o, key, val) {
		if (strcmp(key, "method") != 0 && strcmp(key, "path") != 0 &&
		    strcmp(key, "headers") != 0 && strcmp(key, "body") != 0 &&
		    strcmp(key, "body_base64") != 0) {
			snprintf(err, errlen, "unknown field %.64s", key);
			goto out;
		}
		(void)val;
	}
	if (json_object_object_get_ex(o, "method", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    !capfmt_valid_method(s = json_object_get_string(v)) ||
		    strlen(s) != (size_t)json_object_get_string_len(v)) {
			snprintf(err, errlen, "method: not an HTTP method");
			goto out;
		}
		e->method = xstrdup(s);
	}
	if (json_object_object_get_ex(o, "path", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    !capfmt_valid_path(s = json_object_get_string(v)) ||
		    strlen(s) != (size_t)json_object_get_string_len(v)) {
			snprintf(err, errlen, "path: want /..., visible "
			    "characters only, at most %d", CAPFMT_PATH_MAX);
			goto out;
		}
		e->path = xstrdup(s);
	}
	if (json_object_object_get_ex(o, "headers", &v)) {
		if (capfmt_get_head(v, "headers", &e->headers, err,
		    errlen) != 0)
			goto out;
		e->has_headers = true;
	}
	if (json_object_object_get_ex(o, "body", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "body: want a string");
			goto out;
		}
		n = (size_t)json_object_get_string_len(v);
		e->body = xmalloc(n + 1);
		memcpy(e->body, json_object_get_string(v), n);
		e->body_len = n;
		e->has_body = true;
	}
	if (json_object_object_get_ex(o, "body_base64", &v)) {
		if (e->has_body) {
			snprintf(err, errlen, "body and body_base64: one only");
			goto out;
		}
		if (!json_object_is_type(v, json_type_string) ||
		    capfmt_b64_decode(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), &e->body,
		    &e->body_len) != 0) {
			snprintf(err, errlen, "body_base64: not base64");
			goto out;
		}
		e->has_body = true;
	}
	if (e->has_body && e->body_len > maxbody) {
		snprintf(err, errlen, "body: over %zu bytes", maxbody);
		goto out;
	}
	r = 0;
out:
	json_object_put(o);
	if (r != 0)
		capfmt_edit_free(e);
	return r;
}

void
capfmt_edit_free(struct capedit *e)
{
	free(e->method);
	free(e->path);
	proto_head_clear(&e->headers);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

/* One finished capture as a line of the capture file. */
char *
capfmt_encode_line(const struct capture *c)
{
	struct json_object	*o = json_object_new_object();
	char			*s, *line;
	const char		*label = c->ring != NULL ? c->ring->label : "";

	json_object_object_add(o, "id", json_object_new_int64((int64_t)c->id));
	json_object_object_add(o, "replay_of",
	    json_object_new_int64((int64_t)c->replay_of));
	json_object_object_add(o, "tunnel", capfmt_string(label,
	    strlen(label)));
	json_object_object_add(o, "time_ms", json_object_new_int64(c->wall_ms));
	json_object_object_add(o, "method", json_object_new_string(
	    c->req.method != NULL ? c->req.method : "GET"));
	json_object_object_add(o, "path", json_object_new_string(
	    c->req.path != NULL ? c->req.path : "/"));
	json_object_object_add(o, "req_headers", capfmt_headers(&c->req));
	json_object_object_add(o, "req_size", json_object_new_int64(
	    (int64_t)c->reqbody.size));
	s = capfmt_b64_encode(tbuf_ptr(&c->reqbody.kept),
	    tbuf_len(&c->reqbody.kept));
	json_object_object_add(o, "req_body", json_object_new_string(s));
	free(s);
	json_object_object_add(o, "status", json_object_new_int(c->status));
	json_object_object_add(o, "resp_headers", capfmt_headers(&c->resp));
	json_object_object_add(o, "resp_size", json_object_new_int64(
	    (int64_t)c->respbody.size));
	s = capfmt_b64_encode(tbuf_ptr(&c->respbody.kept),
	    tbuf_len(&c->respbody.kept));
	json_object_object_add(o, "resp_body", json_object_new_string(s));
	free(s);
	json_object_object_add(o, "head_us", json_object_new_int64(
	    (int64_t)c->head_us));
	json_object_object_add(o, "total_us", json_object_new_int64(
	    (int64_t)c->total_us));
	json_object_object_add(o, "complete", json_object_new_boolean(
	    c->complete));
	if (c->error != NULL)
		json_object_object_add(o, "error", capfmt_string(c->error,
		    strlen(c->error)));
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}

static bool
capfmt_get_i64(struct json_object *o, const char *key, int64_t min,
    int64_t max, int64_t *out)
{
	struct json_object	*v;
	int64_t			 x;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	x = json_object_get_int64(v);
	if (x < min || x > max)
		return false;
	*out = x;
	return true;
}

/* A body of the file: base64, at most cap bytes kept, size >= kept. */
static int
capfmt_get_body(struct json_object *o, const char *what, size_t cap,
    struct capbody *b, char *err, size_t errlen)
{
	struct json_object	*v;
	uint8_t			*data;
	size_t			 len;
	int64_t			 size;
	char			 key[16];

	snprintf(key, sizeof(key), "%s_size", what);
	if (!capfmt_get_i64(o, key, 0, INT64_MAX, &size)) {
		snprintf(err, errlen, "%s: missing or bad", key);
		return TUN_EINVAL;
	}
	snprintf(key, sizeof(key), "%s_body", what);
	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    capfmt_b64_decode(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), &data, &len) != 0) {
		snprintf(err, errlen, "%s: missing or not base64", key);
		return TUN_EINVAL;
	}
	if ((uint64_t)len > (uint64_t)size) {
		free(data);
		snprintf(err, errlen, "%s: longer than its size", key);
		return TUN_EINVAL;
	}
	tbuf_init(&b->kept, cap);
	(void)tbuf_put(&b->kept, data, len < cap ? len : cap);
	b->size = (uint64_t)size;
	free(data);
	return 0;
}

/*
 * A line of the capture file back into a finished capture (one reference,
 * no ring yet; *label is its tunnel's, to be freed), or NULL with a
 * reason in err.
 */
struct capture *
capfmt_decode_line(const char *buf, size_t len, size_t cap, char **label,
    char *err, size_t errlen)
{
	struct json_object	*o = NULL, *v;
	struct capture		*c = xcalloc(1, sizeof(*c));
	const char		*s;
	int64_t			 x;

	*label = NULL;
	err[0] = '\0';
	atomic_init(&c->refs, 1);
	c->state = CAPTURE_DONE;
	tbuf_init(&c->reqbody.kept, cap);
	tbuf_init(&c->respbody.kept, cap);
	if ((o = capfmt_parse(buf, len, CAPFMT_EDIT_DEPTH)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		goto bad;
	}
	if (!capfmt_get_i64(o, "id", 1, INT64_MAX, &x)) {
		snprintf(err, errlen, "id: missing or bad");
		goto bad;
	}
	c->id = (uint64_t)x;
	if (!capfmt_get_i64(o, "replay_of", 0, INT64_MAX, &x)) {
		snprintf(err, errlen, "replay_of: missing or bad");
		goto bad;
	}
	c->replay_of = (uint64_t)x;
	if (!capfmt_get_i64(o, "time_ms", 0, INT64_MAX, &c->wall_ms) ||
	    !capfmt_get_i64(o, "status", 0, 999, &x)) {
		snprintf(err, errlen, "time_ms or status: missing or bad");
		goto bad;
	}
	c->status = (int)x;
	if (!capfmt_get_i64(o, "head_us", 0, INT64_MAX, &x)) {
		snprintf(err, errlen, "head_us: missing or bad");
		goto bad;
	}
	c->head_us = (uint64_t)x;
	if (!capfmt_get_i64(o, "total_us", 0, INT64_MAX, &x)) {
		snprintf(err, errlen, "total_us: missing or bad");
		goto bad;
	}
	c->total_us = (uint64_t)x;
	if (!json_object_object_get_ex(o, "tunnel", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) > CAPFMT_LABEL_MAX) {
		snprintf(err, errlen, "tunnel: missing or bad");
		goto bad;
	}
	*label = xstrdup(json_object_get_string(v));
	if (!json_object_object_get_ex(o, "method", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !capfmt_valid_method(s = json_object_get_string(v)) ||
	    strlen(s) != (size_t)json_object_get_string_len(v)) {
		snprintf(err, errlen, "method: missing or bad");
		goto bad;
	}
	c->req.method = xstrdup(s);
	if (!json_object_object_get_ex(o, "path", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !capfmt_valid_path(s = json_object_get_string(v)) ||
	    strlen(s) != (size_t)json_object_get_string_len(v)) {
		snprintf(err, errlen, "path: missing or bad");
		goto bad;
	}
	c->req.path = xstrdup(s);
	c->req.content_length = -1;
	c->resp.content_length = -1;
	if (!json_object_object_get_ex(o, "req_headers", &v) ||
	    capfmt_get_head(v, "req_headers", &c->req, err, errlen) != 0 ||
	    !json_object_object_get_ex(o, "resp_headers", &v) ||
	    capfmt_get_head(v, "resp_headers", &c->resp, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "headers: missing");
		goto bad;
	}
	tbuf_free(&c->reqbody.kept);
	tbuf_free(&c->respbody.kept);
	if (capfmt_get_body(o, "req", cap, &c->reqbody, err, errlen) != 0 ||
	    capfmt_get_body(o, "resp", cap, &c->respbody, err, errlen) != 0)
		goto bad;
	if (!json_object_object_get_ex(o, "complete", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		snprintf(err, errlen, "complete: missing or bad");
		goto bad;
	}
	c->complete = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "error", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > CAPFMT_ERROR_MAX) {
			snprintf(err, errlen, "error: bad");
			goto bad;
		}
		c->error = xstrdup(json_object_get_string(v));
	}
	if (c->status > 0)
		c->head_us = c->head_us <= c->total_us ? c->head_us :
		    c->total_us;
	json_object_put(o);
	return c;
bad:
	json_object_put(o);
	free(*label);
	*label = NULL;
	proto_head_clear(&c->req);
	proto_head_clear(&c->resp);
	tbuf_free(&c->reqbody.kept);
	tbuf_free(&c->respbody.kept);
	free(c->error);
	free(c);
	return NULL;
}
