/*
 * A strict JSON reader for the protocol's messages (proto.c).
 *
 * It walks the text once and builds nothing: the caller asks for the next
 * string, integer or boolean where it expects one and skips values it does
 * not know.  The grammar is RFC 8259's, with PROTOCOL's limits: no
 * "\u0000", at most PJSON_MAX_DEPTH levels of objects and arrays.  A
 * string without escapes is handed out in place; one with escapes is
 * decoded into a buffer of the reader's, valid until the next string.
 * Lone surrogates decode to U+FFFD, as json-c decodes them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pjson.h"
#include "xmalloc.h"

static int	pjson_hex4(const uint8_t *, unsigned int *);
static void	pjson_put(struct pjson *, size_t *, const void *, size_t);
static void	pjson_utf8(struct pjson *, size_t *, unsigned int);
static int	pjson_number(struct pjson *, bool *);

void
pjson_init(struct pjson *j, const void *p, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->p = p;
	j->end = j->p + len;
}

/* The buffer may have held a token: it is wiped. */
void
pjson_free(struct pjson *j)
{
	if (j->buf != NULL)
		freezero(j->buf, j->size);
	j->buf = NULL;
	j->size = 0;
}

/* Skip white space; the next byte, or -1 at the end. */
int
pjson_peek(struct pjson *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
	return j->p < j->end ? *j->p : -1;
}

/* The next byte is c: take it. */
bool
pjson_eat(struct pjson *j, int c)
{
	if (pjson_peek(j) != c)
		return false;
	j->p++;
	return true;
}

/* Only white space is left. */
bool
pjson_done(struct pjson *j)
{
	return pjson_peek(j) == -1;
}

/* '{' or '[': one level deeper, within the limit. */
int
pjson_enter(struct pjson *j, int c)
{
	if (!pjson_eat(j, c) || ++j->depth > PJSON_MAX_DEPTH)
		return -1;
	return 0;
}

void
pjson_leave(struct pjson *j)
{
	j->depth--;
}

static int
pjson_hex4(const uint8_t *p, unsigned int *v)
{
	unsigned int	c, i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*v = *v << 4 | c;
	}
	return 0;
}

static void
pjson_put(struct pjson *j, size_t *n, const void *p, size_t len)
{
	if (len == 0)
		return;
	if (*n + len > j->size) {
		j->size = *n + len > 2 * j->size ? *n + len : 2 * j->size;
		j->buf = xreallocarray(j->buf, j->size, 1);
	}
	memcpy(j->buf + *n, p, len);
	*n += len;
}

static void
pjson_utf8(struct pjson *j, size_t *n, unsigned int cp)
{
	uint8_t	u[4];
	size_t	len;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		len = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		len = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		len = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		len = 4;
	}
	pjson_put(j, n, u, len);
}

/*
 * A string: *s and *len are its bytes after decoding (not NUL-terminated).
 * Raw control characters and "\u0000" are refused.
 */
int
pjson_string(struct pjson *j, const char **s, size_t *len)
{
	const uint8_t	*p, *run;
	unsigned int	 cp, lo;
	size_t		 n = 0;
	bool		 esc = false;

	if (!pjson_eat(j, '"'))
		return -1;
	for (p = run = j->p; p < j->end; p++) {
		if (*p == '"') {
			if (esc) {
				pjson_put(j, &n, run, (size_t)(p - run));
				*s = j->buf;
				*len = n;
			} else {
				*s = (const char *)run;
				*len = (size_t)(p - run);
			}
			j->p = p + 1;
			return 0;
		}
		if (*p < 0x20)
			return -1;
		if (*p != '\\')
			continue;
		if (!esc) {
			esc = true;
			n = 0;
		}
		pjson_put(j, &n, run, (size_t)(p - run));
		if (++p == j->end)
			return -1;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
			pjson_put(j, &n, p, 1);
			break;
		case 'b':
			pjson_put(j, &n, "\b", 1);
			break;
		case 'f':
			pjson_put(j, &n, "\f", 1);
			break;
		case 'n':
			pjson_put(j, &n, "\n", 1);
			break;
		case 'r':
			pjson_put(j, &n, "\r", 1);
			break;
		case 't':
			pjson_put(j, &n, "\t", 1);
			break;
		case 'u':
			if (j->end - p < 5 || pjson_hex4(p + 1, &cp) != 0 ||
			    cp == 0)
				return -1;
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && j->end - p >= 7 &&
			    p[1] == '\\' && p[2] == 'u' &&
			    pjson_hex4(p + 3, &lo) == 0 &&
			    lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;	/* a lone surrogate */
			pjson_utf8(j, &n, cp);
			break;
		default:
			return -1;
		}
		run = p + 1;
	}
	return -1;
}

/*
 * A number, checked against the grammar; *integer says whether it has
 * neither fraction nor exponent.  j->p is left after it.
 */
static int
pjson_number(struct pjson *j, bool *integer)
{
	const uint8_t	*p = j->p;

	*integer = true;
	if (p < j->end && *p == '-')
		p++;
	if (p == j->end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0')
		p++;
	else
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	if (p < j->end && *p == '.') {
		*integer = false;
		if (++p == j->end || *p < '0' || *p > '9')
			return -1;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		*integer = false;
		if (++p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p == j->end || *p < '0' || *p > '9')
			return -1;
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	return 0;
}

/* An integer that fits in int64_t: no fraction, no exponent. */
int
pjson_int(struct pjson *j, int64_t *v)
{
	const uint8_t	*p;
	uint64_t	 u = 0, max = INT64_MAX;
	bool		 integer, neg;

	if (pjson_peek(j) == -1)
		return -1;
	p = j->p;
	if (pjson_number(j, &integer) != 0 || !integer)
		return -1;
	if ((neg = *p == '-'))
		p++, max++;
	for (; p < j->p; p++) {
		if (u > (max - (uint64_t)(*p - '0')) / 10)
			return -1;
		u = u * 10 + (uint64_t)(*p - '0');
	}
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

int
pjson_bool(struct pjson *j, bool *v)
{
	if (pjson_peek(j) == 't' && j->end - j->p >= 4 &&
	    memcmp(j->p, "true", 4) == 0) {
		j->p += 4;
		*v = true;
		return 0;
	}
	if (pjson_peek(j) == 'f' && j->end - j->p >= 5 &&
	    memcmp(j->p, "false", 5) == 0) {
		j->p += 5;
		*v = false;
		return 0;
	}
	return -1;
}

/* Any one value, whatever it holds. */
int
pjson_skip(struct pjson *j)
{
	const char	*s;
	size_t		 len;
	bool		 b;
	int		 c;

	switch ((c = pjson_peek(j))) {
	case '"':
		return pjson_string(j, &s, &len);
	case 't':
	case 'f':
		return pjson_bool(j, &b);
	case 'n':
		if (j->end - j->p < 4 || memcmp(j->p, "null", 4) != 0)
			return -1;
		j->p += 4;
		return 0;
	case '{':
	case '[':
		if (pjson_enter(j, c) != 0)
			return -1;
		if (!pjson_eat(j, c == '{' ? '}' : ']')) {
			do {
				if (c == '{' && (pjson_string(j, &s,
				    &len) != 0 || !pjson_eat(j, ':')))
					return -1;
				if (pjson_skip(j) != 0)
					return -1;
			} while (pjson_eat(j, ','));
			if (!pjson_eat(j, c == '{' ? '}' : ']'))
				return -1;
		}
		pjson_leave(j);
		return 0;
	default:
		return pjson_number(j, &b);
	}
}
