/*
 * Bounded byte buffers: the ceiling is set at creation and tbuf_put()
 * refuses to grow past it.  Data is read from the front (tbuf_ptr,
 * tbuf_consume) and appended at the back.
 */
#ifndef TBUF_H
#define TBUF_H

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

struct tbuf {
	uint8_t	*data;
	size_t	 off;		/* start of unread data */
	size_t	 len;		/* bytes of unread data */
	size_t	 cap;		/* allocated */
	size_t	 max;		/* ceiling on len */
};

void	 tbuf_init(struct tbuf *, size_t);
void	 tbuf_free(struct tbuf *);
void	 tbuf_reset(struct tbuf *);
int	 tbuf_put(struct tbuf *, const void *, size_t);	/* TUN_ETOOBIG */
int	 tbuf_put_iov(struct tbuf *, const struct iovec *, size_t, size_t);
uint8_t	*tbuf_reserve(struct tbuf *, size_t);		/* NULL: over max */
void	 tbuf_commit(struct tbuf *, size_t);
void	 tbuf_consume(struct tbuf *, size_t);
void	 tbuf_truncate(struct tbuf *, size_t);	/* keep the first n unread */
void	 tbuf_shrink(struct tbuf *);		/* release memory if empty */

static inline size_t
tbuf_len(const struct tbuf *b)
{
	return b->len;
}

static inline uint8_t *
tbuf_ptr(const struct tbuf *b)
{
	return b->data + b->off;
}

static inline size_t
tbuf_room(const struct tbuf *b)
{
	return b->max - b->len;
}

#endif
