/*
 * Upgraded public connections (WebSocket passthrough): after the agent
 * answers 101, libmicrohttpd hands us the caller's socket and the stream
 * turns into a relay of raw bytes.  The session loop owns the socket: it
 * reads the caller's bytes into DATA while the agent grants credit, and
 * writes the agent's DATA to the caller, returning credit as it goes.
 * Each side's END half-closes; both, or a RESET, close the connection
 * with MHD_upgrade_action(CLOSE), exactly once.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

#define RELAY_RBUF	(64 * 1024)

static void	relay_arm(struct stream *);
static void	relay_input(struct session *, struct stream *, const uint8_t *,
		    size_t);
static void	relay_maybe_done(struct session *, struct stream *);

static uint8_t	relay_rbuf[RELAY_RBUF];	/* the loop thread's only */

/* MHD pool thread: the caller's socket after our 101.  Hand it over. */
void
relay_upgraded(void *cls, struct MHD_Connection *c, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct preq	*pr = req_cls;
	struct stream	*st = pr->st;

	http_upgraded_socket(c, sock);
	pthread_mutex_lock(&st->mtx);
	st->fd = sock;
	st->urh = urh;
	if (extra_in_size > 0) {
		st->raw_in = xmalloc(extra_in_size);
		memcpy(st->raw_in, extra_in, extra_in_size);
		st->raw_in_len = extra_in_size;
	}
	st->raw_pending = true;
	loop_notify_locked(st);		/* the loop closes it if it must */
	pthread_mutex_unlock(&st->mtx);
}

/* Loop: take over the socket handed in by relay_upgraded(). */
void
relay_start(struct session *s, struct stream *st)
{
	struct epoll_event	 ev;
	uint8_t			*in;
	size_t			 inlen;

	pthread_mutex_lock(&st->mtx);
	st->raw_pending = false;
	in = st->raw_in;
	inlen = st->raw_in_len;
	st->raw_in = NULL;
	st->raw_in_len = 0;
	pthread_mutex_unlock(&st->mtx);
	if (st->finished || s->dead) {
		free(in);
		relay_close(st);
		return;
	}
	st->raw = true;
	st->evkind = EVK_STREAM;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = st;
	if (epoll_ctl(loop_epfd(), EPOLL_CTL_ADD, st->fd, &ev) == -1) {
		log_warn("stream %u: epoll_ctl: %s", st->id, strerror(errno));
		free(in);
		session_send_reset(s, st->id, PROTO_RESET_INTERNAL, "epoll");
		session_stream_finish(s, st);
		return;
	}
	stream_ref(st);			/* epoll's reference */
	st->in_epoll = true;
	log_debug("tunnel %s: stream %u upgraded", s->tunnel_id, st->id);
	if (inlen > 0)
		relay_input(s, st, in, inlen);
	free(in);
	relay_flush(s, st);
}

/* The caller's bytes become DATA, as far as credit allows. */
static void
relay_input(struct session *s, struct stream *st, const uint8_t *p,
    size_t len)
{
	size_t	n;

	while (len > 0) {
		n = len > PROTO_MAX_DATA ? PROTO_MAX_DATA : len;
		session_send_data(s, st->id, p, n);
		st->credit -= (int64_t)n;
		p += n;
		len -= n;
	}
}

static void
relay_arm(struct stream *st)
{
	struct epoll_event	ev;
	bool			rx = !st->raw_eof && !st->rx_off;

	if (!st->in_epoll)
		return;
	ev.events = (rx ? EPOLLIN | EPOLLRDHUP : 0) |
	    (st->want_out ? EPOLLOUT : 0);
	ev.data.ptr = st;
	(void)epoll_ctl(loop_epfd(), EPOLL_CTL_MOD, st->fd, &ev);
}

/* Loop: events on an upgraded caller's socket. */
void
relay_io(struct stream *st, uint32_t events)
{
	struct session	*s = st->sess;
	ssize_t		 n;
	size_t		 want;

	stream_ref(st);
	if (events & EPOLLOUT)
		relay_flush(s, st);
	while (!st->finished && !st->raw_eof &&
	    (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
		if (st->credit <= 0 || tbuf_len(&s->wq) >= TUNNELD_WQ_LOW) {
			/* No credit or the agent's link is full: wait. */
			st->rx_off = true;
			s->relay_blocked = true;
			relay_arm(st);
			break;
		}
		want = (size_t)st->credit < sizeof(relay_rbuf) ?
		    (size_t)st->credit : sizeof(relay_rbuf);
		n = recv(st->fd, relay_rbuf, want, MSG_DONTWAIT);
		if (n > 0) {
			relay_input(s, st, relay_rbuf, (size_t)n);
			metrics_bytes(st->stats, M_BYTES_IN, (uint64_t)n);
			if ((size_t)n < want)
				break;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n == 0) {		/* the caller is done sending */
			st->raw_eof = true;
			session_send_end(s, st->id);
			st->end_sent = true;
			relay_arm(st);
			relay_maybe_done(s, st);
			break;
		}
		session_send_reset(s, st->id, PROTO_RESET_CANCEL,
		    "caller connection failed");
		session_stream_finish(s, st);
		break;
	}
	if (!s->dead)
		session_output(s);
	stream_unref(st);
}

/* Agent's bytes to the caller; credit back as they leave. */
void
relay_flush(struct session *s, struct stream *st)
{
	ssize_t	n;
	size_t	sent = 0;
	bool	want;

	if (!st->raw || st->finished)
		return;
	pthread_mutex_lock(&st->mtx);
	while (tbuf_len(&st->body) > 0) {
		n = send(st->fd, tbuf_ptr(&st->body), tbuf_len(&st->body),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			tbuf_consume(&st->body, (size_t)n);
			stream_held(st, -(long long)n);
			sent += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		pthread_mutex_unlock(&st->mtx);
		session_send_reset(s, st->id, PROTO_RESET_CANCEL,
		    "caller connection failed");
		session_stream_finish(s, st);
		return;
	}
	if (tbuf_len(&st->body) == 0)
		tbuf_shrink(&st->body);
	want = tbuf_len(&st->body) > 0;
	pthread_mutex_unlock(&st->mtx);
	if (sent > 0) {
		metrics_bytes(st->stats, M_BYTES_OUT, sent);
		atomic_fetch_add_explicit(&st->bytes_sent, sent,
		    memory_order_relaxed);
		st->raw_unacked += sent;
		if (st->raw_unacked >= PROTO_DEFAULT_WINDOW / 4 || !want) {
			session_send_window(s, st->id,
			    (uint32_t)st->raw_unacked);
			st->recv_left += (int64_t)st->raw_unacked;
			st->raw_unacked = 0;
		}
	}
	if (want != st->want_out) {
		st->want_out = want;
		relay_arm(st);
	}
	/* The agent is done sending and all of it is out: half-close. */
	if (!want && st->resp_end && !st->raw_wr_shut) {
		(void)shutdown(st->fd, SHUT_WR);
		st->raw_wr_shut = true;
	}
	relay_maybe_done(s, st);
}

static void
relay_maybe_done(struct session *s, struct stream *st)
{
	if (st->finished)
		return;
	if (st->raw_eof && st->raw_wr_shut)
		session_stream_finish(s, st);
}

/* After WINDOW, or the session's write queue drained: read again. */
void
relay_resume(struct stream *st)
{
	if (!st->raw || !st->rx_off || st->credit <= 0 ||
	    tbuf_len(&st->sess->wq) >= TUNNELD_WQ_LOW)
		return;
	st->rx_off = false;
	relay_arm(st);
}

/* Close the caller's connection: once, from the loop. */
void
relay_close(struct stream *st)
{
	struct MHD_UpgradeResponseHandle	*urh;
	int					 fd;

	if (st->in_epoll) {
		(void)epoll_ctl(loop_epfd(), EPOLL_CTL_DEL, st->fd, NULL);
		st->in_epoll = false;
		/*
		 * An event for it may still sit in this epoll_wait batch:
		 * epoll's reference goes after the batch.
		 */
		loop_defer_unref(st);
	}
	/* relay_upgraded may be setting urh on a pool thread right now. */
	pthread_mutex_lock(&st->mtx);
	urh = st->urh;
	st->urh = NULL;
	fd = st->fd;
	if (urh != NULL || (st->tcp && fd != -1))
		st->fd = -1;
	pthread_mutex_unlock(&st->mtx);
	if (urh != NULL)
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	else if (st->tcp && fd != -1)
		(void)close(fd);	/* ours: accepted by tcp.c */
}
