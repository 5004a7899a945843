/*
 * Response heads and chunked bodies from a local service, taken apart
 * without I/O.  See httphead.h for the rules.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "httphead.h"
#include "tunerr.h"
#include "util.h"
#include "xmalloc.h"

#define HTTPHEAD_MIN_ALLOC	1024

enum {
	CHUNK_SIZE,		/* hex digits of the size */
	CHUNK_BWS,		/* white space after the size */
	CHUNK_EXT,		/* ";ext": skipped */
	CHUNK_DATA,
	CHUNK_DATA_END,		/* CRLF after the data */
	CHUNK_TRAILER,		/* trailer fields, skipped */
	CHUNK_DONE
};

static int	 httphead_fail(struct httphead *, int);
static int	 httphead_grow(struct httphead *, size_t);
static int	 httphead_split(struct httphead *);
static int	 httphead_status(struct httphead *, const char *, size_t);
static int	 httphead_field(struct httphead *, const char *, size_t);
static bool	 httphead_ows(int);
static int	 httphead_length(const char *, int64_t *);
static int	 httpchunk_fail(struct httpchunk *, int);
static int	 httpchunk_eol(struct httpchunk *, int);
static int	 httpchunk_hex(int);
static int	 httpchunk_byte(struct httpchunk *, int);

void
httphead_init(struct httphead *h)
{
	memset(h, 0, sizeof(*h));
	h->head.content_length = -1;
}

void
httphead_free(struct httphead *h)
{
	free(h->buf);
	proto_head_clear(&h->head);
	httphead_init(h);
}

void
httphead_reset(struct httphead *h)
{
	httphead_free(h);
}

static int
httphead_fail(struct httphead *h, int r)
{
	h->error = r;
	proto_head_clear(&h->head);
	h->head.content_length = -1;
	return r;
}

static bool
httphead_ows(int c)
{
	return c == ' ' || c == '\t';
}

/* Room for n more bytes, doubling up to HTTPHEAD_MAX_SIZE. */
static int
httphead_grow(struct httphead *h, size_t n)
{
	size_t	cap;

	if (n > HTTPHEAD_MAX_SIZE - h->len)
		return TUN_ETOOBIG;
	if (h->len + n <= h->cap)
		return 0;
	for (cap = HTTPHEAD_MIN_ALLOC; cap < h->len + n; cap *= 2)
		;
	if (cap > HTTPHEAD_MAX_SIZE)
		cap = HTTPHEAD_MAX_SIZE;
	h->buf = xreallocarray(h->buf, cap, 1);
	h->cap = cap;
	return 0;
}

int
httphead_parse(struct httphead *h, const void *in, size_t len, size_t *used)
{
	const uint8_t	*p = in;
	size_t		 i, n;
	int		 r;

	*used = 0;
	if (h->error != 0)
		return h->error;
	if (h->done)
		return 1;
	/* Take bytes up to the end of the head, or all of them. */
	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			break;
		if (p[i] != '\n')
			continue;
		/* The line's bytes before the LF, old ones and new ones. */
		n = h->len + i - h->line;
		if (n == 0 || (n == 1 &&
		    (i > 0 ? p[i - 1] : h->buf[h->len - 1]) == '\r')) {
			if (h->line == 0)
				break;		/* empty status line */
			i++;
			h->done = true;
			break;
		}
		h->line = h->len + i + 1;
	}
	/* A NUL, or an empty status line. */
	if (!h->done && i < len)
		return httphead_fail(h, TUN_EPROTO);
	if ((r = httphead_grow(h, i)) != 0)
		return httphead_fail(h, r);
	if (i > 0)
		memcpy(h->buf + h->len, p, i);
	h->len += i;
	*used = i;
	if (!h->done)
		return 0;
	if ((r = httphead_split(h)) != 0) {
		*used = 0;
		return httphead_fail(h, r);
	}
	return 1;
}

/* The whole head is in buf: the status line, then the fields. */
static int
httphead_split(struct httphead *h)
{
	const char	*s = (const char *)h->buf, *nl;
	size_t		 off = 0, n;
	int		 r;
	bool		 first = true;

	while (off < h->len) {
		nl = memchr(s + off, '\n', h->len - off);
		if (nl == NULL)
			return TUN_EPROTO;
		n = (size_t)(nl - (s + off));
		if (n > 0 && s[off + n - 1] == '\r')
			n--;
		if (memchr(s + off, '\r', n) != NULL)
			return TUN_EPROTO;	/* a bare CR */
		if (n == 0)
			return first ? TUN_EPROTO : 0;
		r = first ? httphead_status(h, s + off, n) :
		    httphead_field(h, s + off, n);
		if (r != 0)
			return r;
		first = false;
		off = (size_t)(nl - s) + 1;
	}
	return TUN_EPROTO;
}

/* "HTTP/1.D SP 3DIGIT [SP reason]" */
static int
httphead_status(struct httphead *h, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    s[7] < '0' || s[7] > '9' || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '9' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' '))
		return TUN_EPROTO;
	h->minor = s[7] - '0';
	h->head.status = (s[9] - '0') * 100 + (s[10] - '0') * 10 +
	    (s[11] - '0');
	return 0;
}

/* "name: value"; obs-fold and white space before the colon refused. */
static int
httphead_field(struct httphead *h, const char *s, size_t n)
{
	const char	*colon, *v;
	char		 name[257];
	size_t		 nl, vl;

	if (httphead_ows((unsigned char)s[0]))
		return TUN_EPROTO;
	if ((colon = memchr(s, ':', n)) == NULL)
		return TUN_EPROTO;
	nl = (size_t)(colon - s);
	if (nl == 0 || nl >= sizeof(name))
		return TUN_EPROTO;
	memcpy(name, s, nl);
	name[nl] = '\0';
	if (!httphdr_valid_name(name))
		return TUN_EPROTO;
	v = colon + 1;
	vl = n - nl - 1;
	while (vl > 0 && httphead_ows((unsigned char)*v)) {
		v++;
		vl--;
	}
	while (vl > 0 && httphead_ows((unsigned char)v[vl - 1]))
		vl--;
	if (!httphdr_valid_value(v, vl))
		return TUN_EPROTO;
	if (h->head.nhdrs >= HTTPHEAD_MAX_HEADERS)
		return TUN_ETOOBIG;
	proto_head_addn(&h->head, s, nl, v, vl);
	return 0;
}

/* One Content-Length value, "1*DIGIT" or a list of equal ones. */
static int
httphead_length(const char *v, int64_t *out)
{
	const char	*errstr, *p = v;
	char		 num[20];
	size_t		 n;
	long long	 x;

	for (;;) {
		while (httphead_ows((unsigned char)*p))
			p++;
		n = strspn(p, "0123456789");
		if (n == 0 || n >= sizeof(num))
			return TUN_EPROTO;
		memcpy(num, p, n);
		num[n] = '\0';
		x = util_strtonum(num, 0, INT64_MAX, &errstr);
		if (errstr != NULL || (*out >= 0 && *out != x))
			return TUN_EPROTO;
		*out = x;
		p += n;
		while (httphead_ows((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return TUN_EPROTO;
	}
}

int
httphead_body(const struct httphead *h, const char *method, int64_t *length)
{
	const struct proto_header	*f;
	const char			*te = NULL, *last;
	size_t				 i, n;
	int64_t				 cl = -1;
	bool				 has_cl = false;

	*length = -1;
	if (!h->done || h->error != 0)
		return TUN_EINVAL;
	if ((method != NULL && strcmp(method, "HEAD") == 0) ||
	    h->head.status < 200 || h->head.status == 204 ||
	    h->head.status == 304)
		return HTTPHEAD_BODY_NONE;
	for (i = 0; i < h->head.nhdrs; i++) {
		f = &h->head.hdrs[i];
		if (strcasecmp(f->name, "Transfer-Encoding") == 0)
			te = f->value;		/* the last one counts */
		else if (strcasecmp(f->name, "Content-Length") == 0) {
			has_cl = true;
			if (httphead_length(f->value, &cl) != 0)
				return TUN_EPROTO;
		}
	}
	if (te != NULL) {
		/* The final coding decides (RFC 9112 6.3, 4 and 5). */
		last = strrchr(te, ',');
		last = last != NULL ? last + 1 : te;
		while (httphead_ows((unsigned char)*last))
			last++;
		n = strlen(last);
		while (n > 0 && httphead_ows((unsigned char)last[n - 1]))
			n--;
		if (n == 7 && strncasecmp(last, "chunked", 7) == 0)
			return HTTPHEAD_BODY_CHUNKED;
		return HTTPHEAD_BODY_EOF;
	}
	if (has_cl) {
		*length = cl;
		return HTTPHEAD_BODY_LENGTH;
	}
	return HTTPHEAD_BODY_EOF;
}

/* --- chunked ---------------------------------------------------------- */

void
httpchunk_init(struct httpchunk *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNK_SIZE;
}

static int
httpchunk_fail(struct httpchunk *c, int r)
{
	c->error = r;
	return r;
}

static int
httpchunk_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * CR and LF handling shared by the line states: 1 at the end of a line,
 * 0 for a CR (an LF must follow), -1 for any other byte; a byte other
 * than LF after a CR is an error.
 */
static int
httpchunk_eol(struct httpchunk *c, int ch)
{
	if (c->cr && ch != '\n')
		return httpchunk_fail(c, TUN_EPROTO);
	if (ch == '\n') {
		c->cr = false;
		return 1;
	}
	if (ch == '\r') {
		c->cr = true;
		return 0;
	}
	if (ch == '\0')
		return httpchunk_fail(c, TUN_EPROTO);
	return -1;
}

/* One byte of framing.  0 or TUN_E*. */
static int
httpchunk_byte(struct httpchunk *c, int ch)
{
	int	e, v;

	if (c->state != CHUNK_TRAILER && ++c->line > HTTPCHUNK_MAX_LINE)
		return httpchunk_fail(c, TUN_ETOOBIG);
	if ((e = httpchunk_eol(c, ch)) < -1)
		return e;
	switch (c->state) {
	case CHUNK_SIZE:
	case CHUNK_BWS:
	case CHUNK_EXT:
		if (e == 1) {
			if (c->ndigits == 0)
				return httpchunk_fail(c, TUN_EPROTO);
			c->state = c->left > 0 ? CHUNK_DATA : CHUNK_TRAILER;
			c->line = 0;
			return 0;
		}
		if (e == 0 || c->state == CHUNK_EXT)
			return 0;
		if (c->state == CHUNK_SIZE &&
		    (v = httpchunk_hex(ch)) >= 0) {
			if (++c->ndigits > HTTPCHUNK_MAX_DIGITS)
				return httpchunk_fail(c, TUN_ETOOBIG);
			c->left = c->left * 16 + (uint64_t)v;
			return 0;
		}
		if (c->ndigits == 0)
			return httpchunk_fail(c, TUN_EPROTO);
		if (ch == ' ' || ch == '\t')
			c->state = CHUNK_BWS;
		else if (ch == ';')
			c->state = CHUNK_EXT;
		else
			return httpchunk_fail(c, TUN_EPROTO);
		return 0;
	case CHUNK_DATA_END:
		if (e == 1) {
			c->state = CHUNK_SIZE;
			c->ndigits = 0;
			c->left = 0;
			c->line = 0;
			return 0;
		}
		if (e == 0)
			return 0;
		return httpchunk_fail(c, TUN_EPROTO);
	case CHUNK_TRAILER:
		if (++c->trailer > HTTPCHUNK_MAX_TRAILER)
			return httpchunk_fail(c, TUN_ETOOBIG);
		if (e == 1) {
			if (c->line == 0)
				c->state = CHUNK_DONE;
			c->line = 0;
		} else if (e == -1)
			c->line++;
		return 0;
	default:
		return httpchunk_fail(c, TUN_EPROTO);
	}
}

int
httpchunk_decode(struct httpchunk *c, const void *in, size_t len,
    size_t *used, size_t *data_off, size_t *data_len)
{
	const uint8_t	*p = in;
	size_t		 i = 0, n;
	int		 r;

	*used = 0;
	*data_off = 0;
	*data_len = 0;
	if (c->error != 0)
		return c->error;
	while (i < len && c->state != CHUNK_DONE) {
		if (c->state == CHUNK_DATA) {
			n = len - i;
			if ((uint64_t)n > c->left)
				n = (size_t)c->left;
			*data_off = i;
			*data_len = n;
			c->left -= n;
			i += n;
			if (c->left == 0) {
				c->state = CHUNK_DATA_END;
				c->line = 0;
			}
			*used = i;
			return 0;
		}
		if ((r = httpchunk_byte(c, p[i])) != 0)
			return r;
		i++;
	}
	*used = i;
	return c->state == CHUNK_DONE ? 1 : 0;
}
