/*
 * Frames for the server, and the frames being written.
 *
 * A message is made a WebSocket frame once, when it is queued: the header
 * goes into the LWS_PRE bytes before it and its bytes are masked in place
 * (a DATA message is masked as its body is copied in).  The lws thread
 * then writes frames straight from the messages, several in one system
 * call, and keeps those the socket did not take, with the count of bytes
 * of the first one already written, for the next time.
 */
#include "config.h"

#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "log.h"
#include "tunnel-client.h"
#include "wsframe.h"
#include "xmalloc.h"

#define WS_MASK_POOL	1024	/* bytes of masking keys fetched at once */

static const uint8_t *ws_msg_header(struct omsg *);

/*
 * Masking keys: RFC 6455 wants an unpredictable one for every frame.  They
 * come from GnuTLS's nonce generator, a pool at a time for each thread
 * that frames messages.
 */
static __thread uint8_t	ws_keys[WS_MASK_POOL];
static __thread size_t	ws_keys_used = WS_MASK_POOL;

struct omsg *
ws_msg_new(size_t len, bool data)
{
	struct omsg	*m;

	m = xmalloc(sizeof(*m) + LWS_PRE + len);
	m->next = NULL;
	m->len = len;
	m->data = data;
	m->opcode = WS_OP_BINARY;
	m->hl = 0;
	return m;
}

/* The frame header, just before m's bytes; returns its masking key. */
static const uint8_t *
ws_msg_header(struct omsg *m)
{
	uint8_t		 hdr[WS_MAX_HEADER];
	const uint8_t	*key;
	size_t		 hl;

	_Static_assert(LWS_PRE >= WS_MAX_HEADER, "LWS_PRE holds a header");
	if (ws_keys_used + 4 > sizeof(ws_keys)) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, ws_keys, sizeof(ws_keys)) != 0)
			fatalx("gnutls_rnd failed");
		ws_keys_used = 0;
	}
	key = ws_keys + ws_keys_used;
	ws_keys_used += 4;
	hl = wsframe_header(hdr, m->opcode, true, m->len, key);
	memcpy(m->buf + LWS_PRE - hl, hdr, hl);
	m->hl = (uint8_t)hl;
	return key;
}

/* Make m a frame, unless it is one: the header, and its bytes masked. */
void
ws_msg_seal(struct omsg *m)
{
	const uint8_t	*key;

	if (m->hl != 0)
		return;
	key = ws_msg_header(m);
	wsframe_mask(m->buf + LWS_PRE, m->len, key, 0);
}

/*
 * A DATA frame for n bytes at p (1..PROTO_MAX_DATA), masked as they are
 * copied in: the one copy of a body byte on its way to the server.
 */
struct omsg *
ws_msg_data(uint32_t id, const void *p, size_t n)
{
	struct omsg	*m;
	const uint8_t	*key;

	m = ws_msg_new(PROTO_HDR_LEN + n, true);
	key = ws_msg_header(m);
	proto_put_hdr(m->buf + LWS_PRE, PROTO_DATA, 0, id);
	wsframe_mask(m->buf + LWS_PRE, PROTO_HDR_LEN, key, 0);
	wsframe_mask_copy(m->buf + LWS_PRE + PROTO_HDR_LEN, p, n, key,
	    PROTO_HDR_LEN);
	return m;
}

/* Append a message to a queue: the link's, or the frames being written. */
void
oqueue_push(struct oqueue *q, struct omsg *m)
{
	m->next = NULL;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

/*
 * Up to max iovecs for the bytes still to write, off of them written
 * already from the first frame; returns how many.
 */
int
wsout_iov(const struct oqueue *q, size_t off, struct iovec *iov, int max)
{
	const struct omsg	*m;
	int			 n = 0;

	for (m = q->head; m != NULL && n < max; m = m->next) {
		iov[n].iov_base = (uint8_t *)(uintptr_t)m->buf + LWS_PRE -
		    m->hl + off;
		iov[n].iov_len = m->hl + m->len - off;
		off = 0;
		n++;
	}
	return n;
}

/* n more bytes have been written: free the frames that are done. */
void
wsout_consume(struct oqueue *q, size_t *off, size_t n)
{
	struct omsg	*m;
	size_t		 left;

	while (n > 0 && (m = q->head) != NULL) {
		left = m->hl + m->len - *off;
		if (n < left) {
			*off += n;
			return;
		}
		n -= left;
		*off = 0;
		if ((q->head = m->next) == NULL)
			q->tail = NULL;
		free(m);
	}
}

void
wsout_free(struct oqueue *q, size_t *off)
{
	struct omsg	*m;

	while ((m = q->head) != NULL) {
		q->head = m->next;
		free(m);
	}
	q->tail = NULL;
	*off = 0;
}
