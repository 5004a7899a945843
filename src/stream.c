/*
 * Streams: one public request carried over a session.
 *
 * A stream is shared by two sides: the MHD connection (access handler,
 * content reader, completion callback, on pool threads) and the session
 * loop.  Each side holds a reference; fields they share are under the
 * stream's mutex.  The MHD side suspends its connection under that mutex
 * and the loop resumes it under the same mutex (stream_wake_locked), so a
 * wake-up is never lost.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

/* Responses holding a TUNNELD_BULK_BLOCK. */
static atomic_int	stream_bulk_blocks;

/* A bulk block for st's response, if fewer than TUNNELD_BULK_MAX have one. */
static bool
stream_bulk_get(struct stream *st)
{
	if (atomic_fetch_add(&stream_bulk_blocks, 1) < TUNNELD_BULK_MAX) {
		st->bulk_block = true;
		return true;
	}
	atomic_fetch_sub(&stream_bulk_blocks, 1);
	return false;
}

static void
stream_bulk_put(struct stream *st)
{
	if (st->bulk_block)
		atomic_fetch_sub(&stream_bulk_blocks, 1);
	st->bulk_block = false;
}

/*
 * A stream on s, or NULL when max_streams refuses one more.  The stream
 * is counted before the limit is checked, so requests that come at once
 * on several pool threads cannot all pass it.
 */
struct stream *
stream_new(struct session *s, const char *tunnel_id)
{
	struct stream	*st;
	int		 max = CFG_GET(max_streams);

	if (atomic_fetch_add(&s->nstreams, 1) >= max && max > 0) {
		atomic_fetch_sub(&s->nstreams, 1);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->evkind = EVK_STREAM;
	st->fd = -1;
	st->caller_fd = -1;
	atomic_init(&st->refs, 1);
	pthread_mutex_init(&st->mtx, NULL);
	session_ref(s);
	st->sess = s;
	/* Odd ids, increasing: 1, 3, 5 ... */
	st->id = atomic_fetch_add(&s->next_id, 2);
	st->started_ms = util_now_ms();
	util_strlcpy(st->tunnel_id, tunnel_id, sizeof(st->tunnel_id));
	tbuf_init(&st->req, TUNNELD_REQ_BUF);
	tbuf_init(&st->body, PROTO_DEFAULT_WINDOW);
	st->open.content_length = -1;
	st->resp.content_length = -1;
	return st;
}

void
stream_ref(struct stream *st)
{
	atomic_fetch_add(&st->refs, 1);
}

void
stream_unref(struct stream *st)
{
	if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	stream_held(st, -(long long)tbuf_len(&st->body));
	atomic_fetch_sub(&st->sess->nstreams, 1);
	session_unref(st->sess);
	proto_head_clear(&st->open);
	proto_head_clear(&st->resp);
	tbuf_free(&st->req);
	tbuf_free(&st->body);
	free(st->raw_in);
	metrics_stream_close(st->stats);
	pthread_mutex_destroy(&st->mtx);
	free(st);
}

/*
 * n more response bytes (fewer if negative) held for st's caller: the
 * global count under TUNNELD_MEM_CAP and its session's share of it.
 */
void
stream_held(struct stream *st, long long n)
{
	atomic_fetch_add(&tunneld_buffered, n);
	atomic_fetch_add(&st->sess->buffered, n);
}

/*
 * Suspend the MHD connection to wait for the agent.  Caller holds st->mtx
 * and is MHD's thread for the connection.
 */
void
stream_suspend_locked(struct stream *st)
{
	st->suspended = true;
	st->probe_ms = util_now_ms() + TUNNELD_PROBE_MS;
	MHD_suspend_connection(st->conn);
}

/*
 * A suspended connection is out of MHD's sight: a caller who leaves while
 * we wait for the agent (a quiet event stream, a long poll, a slow local
 * service) would keep its stream until the agent next sends.  The loop
 * asks here every TUNNELD_PROBE_MS: true at the caller's EOF or a socket
 * error.  MHD keeps the socket open while the connection is suspended,
 * and st->mtx keeps it suspended during the look.  A caller whose upload
 * waits for room is not looked at: its deadline covers it.
 */
bool
stream_caller_gone(struct stream *st, uint64_t now)
{
	ssize_t	n;
	char	c;
	bool	gone = false;

	pthread_mutex_lock(&st->mtx);
	if (st->suspended && !st->upload_wait && st->conn != NULL &&
	    st->caller_fd != -1 && now >= st->probe_ms) {
		st->probe_ms = now + TUNNELD_PROBE_MS;
		n = recv(st->caller_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		gone = n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR);
	}
	pthread_mutex_unlock(&st->mtx);
	return gone;
}

/* Resume the MHD connection if we suspended it.  Caller holds st->mtx. */
void
stream_wake_locked(struct stream *st)
{
	if (st->suspended && st->conn != NULL) {
		st->suspended = false;
		st->upload_wait = false;
		MHD_resume_connection(st->conn);
	}
}

/*
 * The content reader, on an MHD pool thread: hand out what the agent has
 * sent, or suspend until the loop has more.
 */
ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream	*st = cls;
	size_t		 n;
	ssize_t		 ret;

	pthread_mutex_lock(&st->mtx);
	if ((n = tbuf_len(&st->body)) > 0) {
		if (n > max)
			n = max;
		memcpy(buf, tbuf_ptr(&st->body), n);
		tbuf_consume(&st->body, n);
		stream_held(st, -(long long)n);
		st->consumed += n;
		/*
		 * Credit back in batches, or when drained; once the agent's
		 * END is in, nothing more comes and no credit is owed.
		 */
		if (!st->resp_end && (st->consumed >= PROTO_DEFAULT_WINDOW / 4 ||
		    tbuf_len(&st->body) == 0))
			loop_notify_locked(st);
		if (tbuf_len(&st->body) == 0)
			tbuf_shrink(&st->body);
		metrics_bytes(st->stats, M_BYTES_OUT, n);
		atomic_fetch_add_explicit(&st->bytes_sent, n,
		    memory_order_relaxed);
		ret = (ssize_t)n;
	} else if (st->resp_end)
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	else if (st->resp_reset || st->conn == NULL)
		ret = MHD_CONTENT_READER_END_WITH_ERROR;
	else {
		stream_suspend_locked(st);
		ret = 0;
	}
	pthread_mutex_unlock(&st->mtx);
	return ret;
}

void
stream_reader_free(void *cls)
{
	struct stream	*st = cls;

	stream_bulk_put(st);
	stream_unref(st);
}

/*
 * Build the MHD response for the agent's response head.  Caller holds
 * st->mtx and st->have_resp is set.
 */
struct MHD_Response *
stream_response_locked(struct stream *st)
{
	struct MHD_Response	*r;
	const struct proto_header *h;
	const char		*conn_hdr;
	uint64_t		 size;
	size_t			 i, n, block;

	n = tbuf_len(&st->body);
	if (st->resp_end && st->resp.content_length >= 0 &&
	    (uint64_t)st->resp.content_length == n &&
	    n <= TUNNELD_WHOLE_BODY) {
		/*
		 * The whole body is here already (a small response comes in
		 * one go): one buffer, which MHD sends with the head in one
		 * call, and no reader.
		 */
		r = MHD_create_response_from_buffer(n, tbuf_ptr(&st->body),
		    MHD_RESPMEM_MUST_COPY);
		if (r == NULL)
			return NULL;
		tbuf_reset(&st->body);
		tbuf_shrink(&st->body);
		stream_held(st, -(long long)n);
		metrics_bytes(st->stats, M_BYTES_OUT, n);
		atomic_fetch_add_explicit(&st->bytes_sent, n,
		    memory_order_relaxed);
	} else {
		size = st->resp.content_length >= 0 ?
		    (uint64_t)st->resp.content_length : MHD_SIZE_UNKNOWN;
		/*
		 * MHD allocates the block for every response and sends at
		 * most a block per call: large for a large body (up to
		 * TUNNELD_BULK_MAX of them, 16 MiB in all), smaller for one
		 * of unknown length (an event stream may stay open for
		 * hours), no more than a small body.
		 */
		block = st->resp.content_length >= TUNNELD_BULK_BODY &&
		    stream_bulk_get(st) ? TUNNELD_BULK_BLOCK :
		    TUNNELD_SEND_BLOCK;
		if (st->resp.content_length >= 0 &&
		    st->resp.content_length < (int64_t)block)
			block = st->resp.content_length < 4096 ? 4096 :
			    (size_t)st->resp.content_length;
		r = MHD_create_response_from_callback(size, block,
		    stream_reader, st, stream_reader_free);
		if (r == NULL) {
			stream_bulk_put(st);
			return NULL;
		}
		stream_ref(st);		/* the response's reference */
	}
	conn_hdr = proto_head_get(&st->resp, "Connection");
	for (i = 0; i < st->resp.nhdrs; i++) {
		h = &st->resp.hdrs[i];
		if (!httphdr_valid_name(h->name) ||
		    !httphdr_valid_value(h->value, strlen(h->value)))
			continue;
		if (httphdr_hop_by_hop(h->name, conn_hdr) ||
		    strcasecmp(h->name, "Content-Length") == 0)
			continue;
		if (MHD_add_response_header(r, h->name, h->value) != MHD_YES)
			log_debug("stream %u: header %s refused", st->id,
			    h->name);
	}
	return r;
}
