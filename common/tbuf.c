#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tbuf.h"
#include "tunerr.h"
#include "xmalloc.h"

void
tbuf_init(struct tbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
tbuf_free(struct tbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
tbuf_reset(struct tbuf *b)
{
	b->off = b->len = 0;
}

uint8_t *
tbuf_reserve(struct tbuf *b, size_t n)
{
	size_t	need, ncap, ceiling;

	if (n > b->max - b->len)
		return NULL;
	if (b->len == 0)
		b->off = 0;
	/*
	 * The allocation may exceed max by half, so that the bytes still
	 * held are moved to the front only when no more of them are left
	 * than were consumed since the last move: a buffer that is filled
	 * at one end while it drains at the other costs a bounded number
	 * of copies per byte, not one move of the whole buffer per append.
	 */
	ceiling = b->max > SIZE_MAX / 3 * 2 ? SIZE_MAX : b->max + b->max / 2;
	need = b->off + b->len + n;
	if (b->off > 0 && need > b->cap &&
	    (b->len <= b->off || need > ceiling)) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		need = b->len + n;
	}
	if (need > b->cap || b->data == NULL) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
		if (ncap > ceiling)
			ncap = ceiling;		/* still >= need */
		if (ncap == 0)
			ncap = 1;		/* tbuf_reserve(b, 0), max 0 */
		b->data = xreallocarray(b->data, ncap, 1);
		b->cap = ncap;
	}
	return b->data + b->off + b->len;
}

void
tbuf_commit(struct tbuf *b, size_t n)
{
	b->len += n;
}

int
tbuf_put(struct tbuf *b, const void *p, size_t n)
{
	uint8_t	*dst;

	if (n == 0)
		return 0;
	if ((dst = tbuf_reserve(b, n)) == NULL)
		return TUN_ETOOBIG;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

/*
 * The bytes of iov[0..n) past the first skip: what a writev() that took
 * skip bytes left over.  All or nothing: TUN_ETOOBIG past the ceiling.
 */
int
tbuf_put_iov(struct tbuf *b, const struct iovec *iov, size_t n, size_t skip)
{
	size_t	 i, left = 0;
	uint8_t	*dst;

	for (i = 0; i < n; i++)
		left += iov[i].iov_len;
	left = left > skip ? left - skip : 0;
	if (left == 0)
		return 0;
	if ((dst = tbuf_reserve(b, left)) == NULL)
		return TUN_ETOOBIG;
	for (i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		memcpy(dst, (const uint8_t *)iov[i].iov_base + skip,
		    iov[i].iov_len - skip);
		dst += iov[i].iov_len - skip;
		skip = 0;
	}
	b->len += left;
	return 0;
}

void
tbuf_consume(struct tbuf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

/* Drop all but the first len unread bytes. */
void
tbuf_truncate(struct tbuf *b, size_t len)
{
	if (len < b->len)
		b->len = len;
}

void
tbuf_shrink(struct tbuf *b)
{
	if (b->len == 0 && b->cap > 0) {
		free(b->data);
		b->data = NULL;
		b->cap = b->off = 0;
	}
}
