/*
 * The session loop: one thread that owns every agent WebSocket.
 *
 * It polls the sessions' sockets and an eventfd with epoll.  Other threads
 * hand it work through its inbox under loop.mtx: new sessions from the
 * upgrade handler, streams with news from the MHD side (loop_notify_locked),
 * and sessions to kick from the API.  Only this thread reads a session's
 * socket, and only it keeps the stream table and the protocol state of
 * the streams in it.  It writes to the socket under the session's wmtx,
 * and so may a pool thread, for the OPEN of a request without a body
 * (session_open_direct): then the stream waits in s->opened until the
 * loop takes it (session_adopt), which it does before it looks a stream
 * up and before it goes over the table for streams to fail.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define LOOP_TICK_MS	250
#define LOOP_RBUF	(256 * 1024)	/* one read from an agent */
#define HELLO_TIMEOUT_MS 10000

/* A tunnel to drop from a session (registry_kick): the loop's inbox. */
struct kick {
	struct session	*s;		/* with the registry's reference */
	char		 id[TUNNELD_ID_LEN];
	int		 code;
	char		 reason[64];
	struct kick	*next;
};

struct loop {
	pthread_t	 th;
	int		 epfd;
	int		 evfd;
	pthread_mutex_t	 mtx;
	bool		 running;
	bool		 stopping;
	struct session	*new_head;	/* inbox: new sessions */
	struct kick	*kick_head;	/* inbox: tunnels to drop */
	struct stream	*st_head;	/* inbox: streams with news */
	struct stream	*st_tail;
	struct stream	*defer_head;	/* unref after the epoll batch */
	struct session	*sessions;	/* loop private */
	int		 nsessions;
	uint64_t	 last_tick;
	uint8_t		 rbuf[LOOP_RBUF];
};

static struct loop	 loop = { .mtx = PTHREAD_MUTEX_INITIALIZER };
static atomic_int	 loop_nsessions;
static atomic_bool	 loop_waiting;	/* in epoll_wait: waking it costs */

static void	*loop_main(void *);
static void	 loop_release_deferred(void);
static void	 loop_drain_inbox(void);
static void	 loop_tick(uint64_t);
static void	 session_add(struct session *);
static void	 session_io(struct session *, uint32_t);
static void	 session_input(struct session *, uint8_t *, size_t);
static int	 session_message(struct session *, uint8_t *, size_t,
		    const uint8_t *, uint64_t);
static int	 session_take(struct tbuf *, const uint8_t *, size_t,
		    const uint8_t *, uint64_t);
static int	 session_hello(struct session *, struct proto_msg *);
static void	 session_kill(struct session *, int, const char *);
static void	 session_drop_tunnel(struct session *, const char *, int,
		    const char *);
static int	 session_attach(struct session *, struct proto_msg *);
static void	 session_attach_reply(struct session *, uint8_t, const char *,
		    const char *, int, const char *);
static bool	 session_serves(const struct session *, const char *);
static void	 session_relay_resume(struct session *);
static void	 session_rx_pause(struct session *, bool);
static bool	 session_caller_slow(struct stream *);
static void	 session_stream_stop(struct session *, struct stream *,
		    uint32_t, const char *, int, const char *);
static bool	 session_rx_over(const struct session *);
static bool	 session_rx_under(const struct session *);
static int	 session_flush(struct session *);
static int	 session_send_tbuf(struct session *, struct tbuf *);
static void	 session_pump(struct session *);
static void	 session_frame(struct session *, int, const void *, size_t);
static void	 session_send_msg(struct session *, struct tbuf *);
static void	 session_goaway(struct session *, int, const char *);
static void	 session_stream_news(struct stream *);
static void	 session_stream_open(struct session *, struct stream *);
static int	 session_encode_open(struct session *, struct stream *,
		    struct tbuf *);
static void	 session_stream_opened(struct session *, struct stream *);
static struct session *session_stream_move(struct stream *);
static void	 session_stream_fail(struct stream *, int, const char *);
static void	 session_ready_push(struct session *, struct stream *);
static struct stream *session_lookup(struct session *, uint32_t);
static void	 session_tab_insert(struct session *, struct stream *);
static void	 session_tab_remove(struct session *, struct stream *);
static void	 session_free(struct session *);
static void	 session_adopt(struct session *);

int
loop_start(void)
{
	struct epoll_event	ev = { .events = EPOLLIN };

	if ((loop.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return TUN_EIO;
	if ((loop.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return TUN_EIO;
	ev.data.ptr = NULL;
	if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, loop.evfd, &ev) == -1)
		return TUN_EIO;
	loop.running = true;
	if (pthread_create(&loop.th, NULL, loop_main, NULL) != 0)
		return TUN_EIO;
	return 0;
}

void
loop_wake(void)
{
	uint64_t	one = 1;

	if (write(loop.evfd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("eventfd write: %s", strerror(errno));
}

/* Stop the loop: every session gets GOAWAY and is closed. */
void
loop_stop(void)
{
	if (!loop.running)
		return;
	pthread_mutex_lock(&loop.mtx);
	loop.stopping = true;
	pthread_mutex_unlock(&loop.mtx);
	loop_wake();
	pthread_join(loop.th, NULL);
	loop.running = false;
	close(loop.evfd);
	close(loop.epfd);
}

int
loop_epfd(void)
{
	return loop.epfd;
}

/* Loop only: drop a reference once the current epoll batch is done. */
void
loop_defer_unref(struct stream *st)
{
	st->defer_next = loop.defer_head;
	loop.defer_head = st;
}

static void
loop_release_deferred(void)
{
	struct stream	*st;

	while ((st = loop.defer_head) != NULL) {
		loop.defer_head = st->defer_next;
		stream_unref(st);
	}
}

int
session_count(void)
{
	return atomic_load(&loop_nsessions);
}

/* From the upgrade handler: the socket is the loop's now. */
void
loop_add_session(struct session *s)
{
	bool	stopping;

	pthread_mutex_lock(&loop.mtx);
	if (!(stopping = loop.stopping)) {
		s->inbox_next = loop.new_head;
		loop.new_head = s;
	}
	pthread_mutex_unlock(&loop.mtx);
	if (stopping) {
		session_unref(s);
		return;
	}
	loop_wake();
}

/*
 * Tunnel id no longer goes to s (deleted, rotated, taken over): takes the
 * registry's reference.  A session that serves nothing else is closed with
 * GOAWAY; one that serves more tunnels gets DETACH for this one and goes
 * on.  Once the loop is stopping it closes every session on its way out
 * and reads the inbox no more: only the reference is left to drop.
 */
void
loop_kick(struct session *s, const char *id, int code, const char *reason)
{
	struct kick	*k;
	bool		 stopping;

	k = xcalloc(1, sizeof(*k));
	k->s = s;
	util_strlcpy(k->id, id, sizeof(k->id));
	k->code = code;
	util_strlcpy(k->reason, reason, sizeof(k->reason));
	pthread_mutex_lock(&loop.mtx);
	if (!(stopping = loop.stopping)) {
		k->next = loop.kick_head;
		loop.kick_head = k;
	}
	pthread_mutex_unlock(&loop.mtx);
	if (stopping) {
		free(k);
		session_unref(s);
		return;
	}
	loop_wake();
}

/*
 * Tell the loop a stream has news.  Caller holds st->mtx.  Once the loop
 * has stopped nothing will serve the stream: fail it here so the MHD side
 * answers instead of waiting.
 */
void
loop_notify_locked(struct stream *st)
{
	bool	stopping;

	if (st->in_inbox)
		return;
	pthread_mutex_lock(&loop.mtx);
	if (!(stopping = loop.stopping)) {
		st->in_inbox = true;
		stream_ref(st);
		st->inbox_next = NULL;
		if (loop.st_tail != NULL)
			loop.st_tail->inbox_next = st;
		else
			loop.st_head = st;
		loop.st_tail = st;
	}
	pthread_mutex_unlock(&loop.mtx);
	if (stopping) {
		if (!st->have_resp && st->err_status == 0) {
			st->err_status = 502;
			st->err_text = "The tunnel server is shutting down.";
		} else
			st->resp_reset = true;
		stream_wake_locked(st);
		return;
	}
	loop_wake();
}

void
session_ref(struct session *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void
session_unref(struct session *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		session_free(s);
}

struct session *
session_new(const char *tunnel_id, const char *peer)
{
	struct session	*s = xcalloc(1, sizeof(*s));

	s->evkind = EVK_SESSION;
	atomic_init(&s->refs, 1);
	atomic_init(&s->next_id, 1);
	atomic_init(&s->nstreams, 0);
	atomic_init(&s->buffered, 0);
	s->fd = -1;
	util_strlcpy(s->tunnel_id, tunnel_id, sizeof(s->tunnel_id));
	util_strlcpy(s->peer, peer, sizeof(s->peer));
	wsframe_dec_init(&s->dec, WSFRAME_SERVER, TUNNELD_MAX_WS_FRAME,
	    PROTO_MAX_MSG);
	s->dec.keep_mask = true;	/* unmasked as copied: session_input */
	tbuf_init(&s->msg, PROTO_MAX_MSG);
	tbuf_init(&s->wq, TUNNELD_WQ_MAX);
	pthread_mutex_init(&s->wmtx, NULL);
	tbuf_init(&s->wrem, PROTO_MAX_MSG + 2 * WS_MAX_HEADER + PROTO_HDR_LEN);
	s->opened_ms = s->last_rx_ms = s->last_ping_ms = util_now_ms();
	return s;
}

static void
session_free(struct session *s)
{
	if (s->fd != -1)
		(void)close(s->fd);
	tbuf_free(&s->msg);
	tbuf_free(&s->wq);
	tbuf_free(&s->wrem);
	pthread_mutex_destroy(&s->wmtx);
	free(s->base);
	free(s->agent_id);
	free(s->more);
	free(s->tab);
	free(s->extra_in);
	free(s);
}

static void *
loop_main(void *arg)
{
	struct epoll_event	 evs[64];
	struct session		*s, *next;
	uint64_t		 now, junk;
	int			 i, n;
	bool			 stopping;

	for (;;) {
		atomic_store_explicit(&loop_waiting, true, memory_order_relaxed);
		n = epoll_wait(loop.epfd, evs, 64, LOOP_TICK_MS);
		atomic_store_explicit(&loop_waiting, false, memory_order_relaxed);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				if (read(loop.evfd, &junk, sizeof(junk)) < 0 &&
				    errno != EAGAIN)
					log_warn("eventfd read: %s",
					    strerror(errno));
				continue;
			}
			if (*(int *)evs[i].data.ptr == EVK_STREAM) {
				relay_io(evs[i].data.ptr, evs[i].events);
				continue;
			}
			if (*(int *)evs[i].data.ptr == EVK_LISTEN) {
				tcp_accept(evs[i].data.ptr);
				continue;
			}
			s = evs[i].data.ptr;
			if (!s->dead)
				session_io(s, evs[i].events);
		}
		loop_release_deferred();
		loop_drain_inbox();
		now = util_now_ms();
		if (now - loop.last_tick >= LOOP_TICK_MS) {
			loop.last_tick = now;
			loop_tick(now);
		}
		pthread_mutex_lock(&loop.mtx);
		stopping = loop.stopping;
		pthread_mutex_unlock(&loop.mtx);
		if (stopping)
			break;
	}
	/* Shutting down: tell every agent, fail what is left. */
	loop_drain_inbox();
	tcp_stop();
	for (s = loop.sessions; s != NULL; s = next) {
		next = s->next;
		session_goaway(s, PROTO_GOAWAY_SHUTDOWN, "server shutting down");
		(void)session_flush(s);
		session_kill(s, WS_CLOSE_GOING_AWAY, "server shutting down");
	}
	loop_release_deferred();
	return NULL;
}

static void
loop_drain_inbox(void)
{
	struct session	*news, *s, *next;
	struct kick	*kicks, *k;
	struct stream	*st, *stnext;

	pthread_mutex_lock(&loop.mtx);
	news = loop.new_head;
	kicks = loop.kick_head;
	st = loop.st_head;
	loop.new_head = NULL;
	loop.kick_head = NULL;
	loop.st_head = loop.st_tail = NULL;
	pthread_mutex_unlock(&loop.mtx);

	tcp_loop_ops();

	for (s = news; s != NULL; s = next) {
		next = s->inbox_next;
		session_add(s);
	}
	while ((k = kicks) != NULL) {
		kicks = k->next;
		session_drop_tunnel(k->s, k->id, k->code, k->reason);
		session_unref(k->s);	/* the registry's reference */
		free(k);
	}
	for (; st != NULL; st = stnext) {
		stnext = st->inbox_next;
		session_stream_news(st);
		if (!st->sess->dead)
			session_output(st->sess);
		stream_unref(st);	/* the inbox's reference */
	}
}

static void
session_add(struct session *s)
{
	struct epoll_event	ev;

	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = s;
	s->loop = &loop;
	if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		log_warn("session %s: epoll_ctl: %s", s->tunnel_id,
		    strerror(errno));
		s->dead = true;
		session_unref(s);
		return;
	}
	s->next = loop.sessions;
	loop.sessions = s;
	loop.nsessions++;
	atomic_fetch_add(&loop_nsessions, 1);
	log_debug("session %s: WebSocket from %s", s->tunnel_id, s->peer);
	session_ref(s);
	if (s->extra_len > 0) {
		session_input(s, s->extra_in, s->extra_len);
		free(s->extra_in);
		s->extra_in = NULL;
		s->extra_len = 0;
	}
	if (!s->dead)
		session_output(s);
	session_unref(s);
}

static void
session_io(struct session *s, uint32_t events)
{
	ssize_t	n;
	int	rounds;

	session_ref(s);		/* kill below may drop the last other one */
	if ((events & EPOLLOUT) && session_flush(s) != 0) {
		session_kill(s, 0, "write error");
		goto out;
	}
	if ((events & EPOLLIN) && session_rx_over(s)) {
		session_rx_pause(s, true);
		goto out;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		for (rounds = 0; rounds < 16 && !s->dead; rounds++) {
			n = recv(s->fd, loop.rbuf, sizeof(loop.rbuf),
			    MSG_DONTWAIT);
			if (n > 0) {
				s->last_rx_ms = util_now_ms();
				session_input(s, loop.rbuf, (size_t)n);
				if ((size_t)n < sizeof(loop.rbuf))
					break;
				continue;
			}
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			session_kill(s, 0, n == 0 ? "agent closed the connection" :
			    strerror(errno));
			goto out;
		}
	}
	if (!s->dead)
		session_output(s);
out:
	session_unref(s);
}

/*
 * Bytes from the agent: WebSocket frames carrying protocol messages.  The
 * decoder leaves their bytes masked: they are unmasked as they are copied,
 * into the message being put together or, for DATA, into the stream's
 * body, so that a body byte is gone over once between recv() and MHD.
 */
static void
session_input(struct session *s, uint8_t *p, size_t len)
{
	struct wsframe_ev	 ev;
	size_t			 used;
	int			 r;

	while (len > 0 && !s->dead) {
		r = wsframe_decode(&s->dec, p, len, &used, &ev);
		p += used;
		len -= used;
		if (r < 0) {
			log_warn("session %s: WebSocket: %s", s->tunnel_id,
			    tunerr_str(r));
			session_kill(s, s->dec.close_code, "bad frame");
			return;
		}
		if (r == 0)
			break;
		switch (ev.opcode) {
		case WS_OP_BINARY:
			if (ev.msg_start && ev.msg_end) {
				/* ev.data is in p: ours to unmask. */
				r = session_message(s,
				    (uint8_t *)(uintptr_t)ev.data, ev.len,
				    ev.mask, ev.mask_off);
			} else {
				if (ev.msg_start)
					tbuf_reset(&s->msg);
				if (session_take(&s->msg, ev.data, ev.len,
				    ev.mask, ev.mask_off) != 0) {
					session_kill(s, WS_CLOSE_TOO_BIG,
					    "message too big");
					return;
				}
				r = 0;
				if (ev.msg_end) {
					r = session_message(s, tbuf_ptr(&s->msg),
					    tbuf_len(&s->msg), NULL, 0);
					tbuf_reset(&s->msg);
				}
			}
			if (r != 0) {
				session_kill(s, WS_CLOSE_PROTOCOL,
				    "protocol error");
				return;
			}
			break;
		case WS_OP_TEXT:
			session_kill(s, WS_CLOSE_UNSUPPORTED, "text frames");
			return;
		case WS_OP_PING:
			session_frame(s, WS_OP_PONG, ev.data, ev.len);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:
			log_info("session %s: agent closed (%u)", s->tunnel_id,
			    ev.close_code);
			session_kill(s, ev.close_code == WS_CLOSE_NO_STATUS ?
			    WS_CLOSE_NORMAL : ev.close_code, "agent closed");
			return;
		}
	}
}

/* Append n bytes to b, unmasked with mask (from offset off) if not NULL. */
static int
session_take(struct tbuf *b, const uint8_t *p, size_t n, const uint8_t *mask,
    uint64_t off)
{
	uint8_t	*dst;

	if (mask == NULL)
		return tbuf_put(b, p, n);
	if (n == 0)
		return 0;
	if ((dst = tbuf_reserve(b, n)) == NULL)
		return TUN_ETOOBIG;
	wsframe_mask_copy(dst, p, n, mask, off);
	tbuf_commit(b, n);
	return 0;
}

/*
 * One protocol message.  With a mask the bytes are still masked (from
 * payload offset off): the header is unmasked here, a DATA body as it is
 * copied to the stream, anything else before it is read.  Non-zero: the
 * session must go.
 */
static int
session_message(struct session *s, uint8_t *buf, size_t len,
    const uint8_t *mask, uint64_t off)
{
	struct proto_msg	 m;
	struct stream		*st;
	const uint8_t		*body_mask = NULL;
	size_t			 h;
	int			 r;

	if (mask != NULL) {
		h = len < PROTO_HDR_LEN ? len : PROTO_HDR_LEN;
		wsframe_mask(buf, h, mask, off);
		if (h == PROTO_HDR_LEN && buf[0] == PROTO_DATA)
			body_mask = mask;
		else
			wsframe_mask(buf + h, len - h, mask, off + h);
	}
	if ((r = proto_parse(buf, len, &m)) != 0) {
		log_warn("session %s: bad message: %s", s->tunnel_id,
		    tunerr_str(r));
		return r;
	}
	if (m.type == PROTO_HELLO) {
		r = session_hello(s, &m);
		goto out;
	}
	if (m.type == PROTO_ATTACH && s->ready) {
		r = session_attach(s, &m);
		goto out;
	}
	if (!s->ready || m.type == PROTO_OPEN || m.type == PROTO_GOAWAY ||
	    m.type == PROTO_ATTACH || m.type == PROTO_ATTACHED ||
	    m.type == PROTO_DETACH) {
		log_warn("session %s: unexpected %s", s->tunnel_id,
		    proto_type_str(m.type));
		r = TUN_EPROTO;
		goto out;
	}
	/*
	 * Not in the table: a pool thread's OPEN (the answer can come back
	 * before it has let go of s->wmtx), or a stream that has ended on
	 * our side already: drop quietly.
	 */
	if ((st = session_lookup(s, m.stream_id)) == NULL) {
		session_adopt(s);
		if ((st = session_lookup(s, m.stream_id)) == NULL)
			goto out;
	}
	switch (m.type) {
	case PROTO_RESPONSE:
		/* err_status: a stopping loop_notify_locked may set it. */
		pthread_mutex_lock(&st->mtx);
		if (st->have_resp || st->err_status != 0) {
			pthread_mutex_unlock(&st->mtx);
			session_send_reset(s, st->id, PROTO_RESET_PROTOCOL,
			    "second response");
			session_stream_fail(st, 502, "The agent broke the "
			    "protocol.");
			session_stream_finish(s, st);
			break;
		}
		if (st->tcp && m.head.status != 200) {
			pthread_mutex_unlock(&st->mtx);
			session_send_reset(s, st->id, PROTO_RESET_PROTOCOL,
			    "a TCP stream answers 200");
			session_stream_finish(s, st);
			break;
		}
		st->resp = m.head;
		memset(&m.head, 0, sizeof(m.head));
		st->have_resp = true;
		stream_wake_locked(st);
		pthread_mutex_unlock(&st->mtx);
		/* Else the upload keeps its timeout; upgrades have none. */
		if (st->end_sent || st->upgrade)
			st->deadline_ms = 0;
		break;
	case PROTO_DATA:
		st->recv_left -= (int64_t)m.len;
		pthread_mutex_lock(&st->mtx);
		if (st->recv_left < 0 || !st->have_resp || st->resp_end ||
		    session_take(&st->body, m.data, m.len, body_mask,
		    off + PROTO_HDR_LEN) != 0) {
			pthread_mutex_unlock(&st->mtx);
			session_send_reset(s, st->id, PROTO_RESET_PROTOCOL,
			    "data beyond the window");
			session_stream_fail(st, 502, "The agent broke the "
			    "protocol.");
			session_stream_finish(s, st);
			break;
		}
		stream_held(st, (long long)m.len);
		stream_wake_locked(st);
		pthread_mutex_unlock(&st->mtx);
		if (st->raw)
			relay_flush(s, st);
		break;
	case PROTO_END:
		pthread_mutex_lock(&st->mtx);
		if (!st->have_resp && st->err_status == 0) {
			st->err_status = 502;
			st->err_text = "The agent ended the request without "
			    "a response.";
		}
		st->resp_end = true;
		stream_wake_locked(st);
		pthread_mutex_unlock(&st->mtx);
		if (st->raw)
			relay_flush(s, st);	/* half-closes, maybe done */
		else if (st->end_sent)
			session_stream_finish(s, st);
		break;
	case PROTO_RESET:
		log_debug("session %s: stream %u reset by agent: %u %s",
		    s->tunnel_id, st->id, m.code, m.reason ? m.reason : "");
		session_stream_fail(st, m.code == PROTO_RESET_REFUSED ?
		    502 : 502, "The agent could not complete the request.");
		session_stream_finish(s, st);
		break;
	case PROTO_WINDOW:
		st->credit += m.window;
		if (st->credit > PROTO_MAX_WINDOW) {
			session_send_reset(s, st->id, PROTO_RESET_PROTOCOL,
			    "window overflow");
			session_stream_fail(st, 502, "The agent broke the "
			    "protocol.");
			session_stream_finish(s, st);
			break;
		}
		session_ready_push(s, st);
		relay_resume(st);
		break;
	default:
		r = TUN_EPROTO;
		break;
	}
out:
	proto_msg_clear(&m);
	return r;
}

static int
session_hello(struct session *s, struct proto_msg *m)
{
	struct proto_hello	 h;
	struct tbuf		 b;
	char			*url = NULL;
	int			 r;

	if (s->ready) {
		log_warn("session %s: second HELLO", s->tunnel_id);
		return TUN_EPROTO;
	}
	if (m->hello.version != PROTOCOL_VERSION) {
		log_warn("session %s: agent speaks protocol %d, not %d",
		    s->tunnel_id, m->hello.version, PROTOCOL_VERSION);
		return TUN_EPROTO;
	}
	s->peer_window = m->hello.window;
	if (m->hello.agent_id != NULL) {
		s->agent_id = m->hello.agent_id;
		m->hello.agent_id = NULL;
	}
	if ((r = registry_attach(s, s->tunnel_id, s->token_hash, &url)) != 0) {
		if (r == TUN_ELIMIT) {
			log_warn("tunnel %s: agent from %s refused: %d agents "
			    "share the tunnel already", s->tunnel_id, s->peer,
			    TUNNELD_POOL_MAX);
			session_goaway(s, PROTO_GOAWAY_SHUTDOWN,
			    "too many agents share this tunnel");
		} else if (r == TUN_EPERM) {
			log_info("tunnel %s: agent from %s refused: the token "
			    "changed since it connected", s->tunnel_id, s->peer);
			session_goaway(s, PROTO_GOAWAY_ROTATED,
			    "token rotated");
		} else if (r == TUN_EDENIED) {
			log_info("tunnel %s: agent from %s refused: denied",
			    s->tunnel_id, s->peer);
			session_goaway(s, PROTO_GOAWAY_DELETED,
			    "tunnel disabled");
		} else
			session_goaway(s, PROTO_GOAWAY_DELETED,
			    "no such tunnel");
		return r;
	}
	memset(&h, 0, sizeof(h));
	h.version = PROTOCOL_VERSION;
	h.window = PROTO_DEFAULT_WINDOW;
	h.agent = (char *)(uintptr_t)"tunneld/" PACKAGE_VERSION;
	h.tunnel_id = s->tunnel_id;
	h.url = url;
	tbuf_init(&b, PROTO_MAX_MSG);
	if ((r = proto_encode_hello(&b, &h)) == 0)
		session_send_msg(s, &b);
	tbuf_free(&b);
	free(url);
	s->ready = true;
	metrics_add(M_AGENT_CONNECTS, 1);
	log_info("tunnel %s: agent connected from %s (%s)", s->tunnel_id,
	    s->peer, m->hello.agent != NULL ? m->hello.agent : "unknown agent");
	return r;
}

/* Does s serve tunnel id? */
static bool
session_serves(const struct session *s, const char *id)
{
	int	i;

	if (strcmp(s->tunnel_id, id) == 0)
		return true;
	for (i = 0; i < s->nmore; i++)
		if (strcmp(s->more[i], id) == 0)
			return true;
	return false;
}

static void
session_attach_reply(struct session *s, uint8_t type, const char *id,
    const char *url, int code, const char *why)
{
	struct proto_attach	a;
	struct tbuf		b;

	memset(&a, 0, sizeof(a));
	a.tunnel_id = (char *)(uintptr_t)id;
	a.url = (char *)(uintptr_t)url;
	a.code = code;
	a.reason = (char *)(uintptr_t)why;
	tbuf_init(&b, PROTO_MAX_MSG);
	if (proto_encode_attach(&b, type, &a) == 0)
		session_send_msg(s, &b);
	tbuf_free(&b);
}

/*
 * ATTACH: one more tunnel over this connection, with that tunnel's own
 * token, checked as at connect.  A refusal is a DETACH; the connection and
 * its other tunnels go on.
 */
static int
session_attach(struct session *s, struct proto_msg *m)
{
	const char	*id = m->attach.tunnel_id, *why = NULL;
	char		 hash[UTIL_SHA256_HEX], *url = NULL;
	int		 r, code = PROTO_GOAWAY_REFUSED;

	if (!util_valid_name(id))
		why = "bad tunnel id";
	else if (session_serves(s, id)) {
		/* Asked again: it is served already. */
		session_attach_reply(s, PROTO_ATTACHED, id, NULL, 0, NULL);
		return 0;
	} else if (s->nmore + 1 >= TUNNELD_SESSION_MAX)
		why = "too many tunnels on one connection";
	if (why != NULL) {
		log_info("session %s: ATTACH refused: %s", s->tunnel_id, why);
		session_attach_reply(s, PROTO_DETACH, util_valid_name(id) ?
		    id : "?", NULL, code, why);
		return 0;
	}
	util_sha256_hex(m->attach.token, strlen(m->attach.token), hash);
	/*
	 * No OPEN for the tunnel before ATTACHED: pool threads write none
	 * until session_flush has sent it.
	 */
	pthread_mutex_lock(&s->wmtx);
	s->wdirect = false;
	pthread_mutex_unlock(&s->wmtx);
	r = registry_attach(s, id, hash, &url);
	if (r != 0) {
		if (r == TUN_ENOENT) {
			code = PROTO_GOAWAY_DELETED;
			why = "no such tunnel";
		} else if (r == TUN_ELIMIT) {
			code = PROTO_GOAWAY_SHUTDOWN;
			why = "too many agents share this tunnel";
		} else if (r == TUN_EDENIED) {
			code = PROTO_GOAWAY_DELETED;
			why = "tunnel disabled";
		} else
			why = "wrong token for this tunnel";
		log_info("tunnel %s: agent from %s refused: %s", id, s->peer,
		    why);
		session_attach_reply(s, PROTO_DETACH, id, NULL, code, why);
		explicit_bzero(hash, sizeof(hash));
		return 0;
	}
	pthread_mutex_lock(&s->wmtx);
	s->multi = true;		/* read by pool threads */
	pthread_mutex_unlock(&s->wmtx);
	s->more = xreallocarray(s->more, (size_t)s->nmore + 1,
	    sizeof(*s->more));
	util_strlcpy(s->more[s->nmore++], id, TUNNELD_ID_LEN);
	session_attach_reply(s, PROTO_ATTACHED, id, url, 0, NULL);
	free(url);
	explicit_bzero(hash, sizeof(hash));
	metrics_add(M_AGENT_CONNECTS, 1);
	log_info("tunnel %s: agent connected from %s (with tunnel %s)", id,
	    s->peer, s->tunnel_id);
	return 0;
}

/*
 * Loop: tunnel id no longer goes to s.  If s serves nothing else it is
 * closed; else DETACH says so, that tunnel's streams on s fail, and s goes
 * on with the others.  (The registry already let go of s for id.)
 */
static void
session_drop_tunnel(struct session *s, const char *id, int code,
    const char *why)
{
	struct stream	*st, *next;
	size_t		 i;
	int		 k;

	if (s->dead || !session_serves(s, id))
		return;
	if (s->nmore == 0) {
		session_goaway(s, code, why);
		(void)session_flush(s);
		session_kill(s, WS_CLOSE_POLICY, why);
		return;
	}
	if (strcmp(s->tunnel_id, id) == 0) {
		/* The one it connected to goes: another takes its place. */
		util_strlcpy(s->tunnel_id, s->more[--s->nmore],
		    sizeof(s->tunnel_id));
	} else {
		for (k = 0; k < s->nmore; k++)
			if (strcmp(s->more[k], id) == 0)
				break;
		memmove(s->more[k], s->more[k + 1],
		    (size_t)(s->nmore - k - 1) * sizeof(*s->more));
		s->nmore--;
	}
	log_info("tunnel %s: agent from %s dropped: %s", id, s->peer, why);
	session_attach_reply(s, PROTO_DETACH, id, NULL, code, why);
	session_adopt(s);
	for (i = 0; i < s->tabsize; i++) {
		for (st = s->tab[i]; st != NULL; st = next) {
			next = st->tab_next;
			if (strcmp(st->tunnel_id, id) != 0)
				continue;
			session_send_reset(s, st->id, PROTO_RESET_CANCEL,
			    "tunnel detached");
			session_stream_fail(st, 502, "The agent disconnected.");
			session_stream_finish(s, st);
		}
	}
	session_output(s);
}

/* The session is over: fail its streams, close the socket once. */
static void
session_kill(struct session *s, int code, const char *why)
{
	struct session	**pp;
	struct stream	 *st;
	uint8_t		  payload[WS_MAX_CONTROL];
	size_t		  i, n;

	if (s->dead)
		return;
	if (code != 0 && !s->closing) {
		n = wsframe_close_payload(payload, (uint16_t)code, why);
		session_frame(s, WS_OP_CLOSE, payload, n);
		s->closing = true;
		(void)session_flush(s);
	}
	s->dead = true;
	pthread_mutex_lock(&s->wmtx);
	s->wdirect = false;
	pthread_mutex_unlock(&s->wmtx);
	session_adopt(s);
	if (s->ready)
		log_info("tunnel %s: agent disconnected: %s", s->tunnel_id,
		    why);
	else
		log_debug("session %s: closed before HELLO: %s", s->tunnel_id,
		    why);
	registry_detach(s);
	for (i = 0; i < s->tabsize; i++) {
		while ((st = s->tab[i]) != NULL) {
			session_stream_fail(st, 502,
			    "The agent disconnected.");
			session_stream_finish(s, st);
		}
	}
	while ((st = s->ready_head) != NULL) {
		s->ready_head = st->ready_next;
		st->in_ready = false;
		stream_unref(st);
	}
	s->ready_tail = NULL;
	epoll_ctl(loop.epfd, EPOLL_CTL_DEL, s->fd, NULL);
	pthread_mutex_lock(&s->wmtx);
	(void)close(s->fd);
	s->fd = -1;
	pthread_mutex_unlock(&s->wmtx);
	for (pp = &loop.sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	loop.nsessions--;
	atomic_fetch_sub(&loop_nsessions, 1);
	session_unref(s);	/* the loop's reference */
}

/* Produce DATA from uploads, then write what can be written. */
void
session_output(struct session *s)
{
	int	i;

	if (s->overflow && !s->dead) {
		log_warn("session %s: write queue full: the agent does not "
		    "read", s->tunnel_id);
		session_kill(s, 0, "write queue full");
		return;
	}
	for (i = 0; i < 64 && !s->dead; i++) {
		session_pump(s);
		if (session_flush(s) != 0) {
			session_kill(s, 0, "write error");
			return;
		}
		if (tbuf_len(&s->wq) > 0 || s->ready_head == NULL)
			break;
	}
	if (s->relay_blocked && !s->dead && tbuf_len(&s->wq) < TUNNELD_WQ_LOW)
		session_relay_resume(s);
}

static int
session_flush(struct session *s)
{
	struct epoll_event	ev;
	bool			want;
	int			r;

	pthread_mutex_lock(&s->wmtx);
	/* A pool thread's OPEN is finished before anything else. */
	if ((r = session_send_tbuf(s, &s->wrem)) == 0 &&
	    tbuf_len(&s->wrem) == 0)
		r = session_send_tbuf(s, &s->wq);
	if (r != 0) {
		s->closing = true;	/* no close frame on a broken socket */
		tbuf_reset(&s->wq);
		tbuf_reset(&s->wrem);
	}
	if (tbuf_len(&s->wq) == 0)
		tbuf_shrink(&s->wq);
	if (tbuf_len(&s->wrem) == 0)
		tbuf_shrink(&s->wrem);
	want = tbuf_len(&s->wq) > 0 || tbuf_len(&s->wrem) > 0;
	/* Only with nothing of ours waiting: HELLO and ATTACHED go first. */
	s->wdirect = s->ready && !want && !s->closing && !s->goaway &&
	    !s->dead && s->fd != -1;
	pthread_mutex_unlock(&s->wmtx);
	if (r != 0)
		return -1;
	if (want != s->want_out && s->fd != -1 && !s->dead) {
		ev.events = (s->rx_paused ? 0 : EPOLLIN | EPOLLRDHUP) |
	    (want ? EPOLLOUT : 0);
		ev.data.ptr = s;
		epoll_ctl(loop.epfd, EPOLL_CTL_MOD, s->fd, &ev);
		s->want_out = want;
	}
	return 0;
}

/* What the socket takes of b; under s->wmtx.  -1: it is broken. */
static int
session_send_tbuf(struct session *s, struct tbuf *b)
{
	ssize_t	n;

	while (tbuf_len(b) > 0 && s->fd != -1) {
		n = send(s->fd, tbuf_ptr(b), tbuf_len(b),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			tbuf_consume(b, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		return -1;
	}
	return 0;
}

/* Move upload bytes into DATA messages while the socket keeps up. */
static void
session_pump(struct session *s)
{
	struct stream	*st;
	size_t		 n;
	int		 to;
	bool		 more;

	while ((st = s->ready_head) != NULL &&
	    tbuf_len(&s->wq) < TUNNELD_WQ_LOW) {
		s->ready_head = st->ready_next;
		if (s->ready_head == NULL)
			s->ready_tail = NULL;
		st->in_ready = false;
		if (st->finished || !st->in_table) {
			stream_unref(st);
			continue;
		}
		pthread_mutex_lock(&st->mtx);
		n = tbuf_len(&st->req);
		if ((int64_t)n > st->credit)
			n = st->credit > 0 ? (size_t)st->credit : 0;
		if (n > PROTO_MAX_DATA)
			n = PROTO_MAX_DATA;
		if (n > 0) {
			session_send_data(s, st->id, tbuf_ptr(&st->req), n);
			tbuf_consume(&st->req, n);
			st->credit -= (int64_t)n;
			if (st->upload_wait)
				stream_wake_locked(st);
		}
		if (tbuf_len(&st->req) == 0 && st->req_end && !st->end_sent) {
			tbuf_shrink(&st->req);
			session_send_end(s, st->id);
			st->end_sent = true;
		}
		more = tbuf_len(&st->req) > 0 && st->credit > 0;
		pthread_mutex_unlock(&st->mtx);
		/*
		 * The response timeout counts from the last upload progress;
		 * after an early response it covers the rest of the upload.
		 */
		if (st->deadline_ms != 0) {
			to = CFG_GET(request_timeout);
			st->deadline_ms = (st->have_resp && st->end_sent) ||
			    to <= 0 ? 0 : util_now_ms() + (uint64_t)to * 1000;
		}
		if (more)
			session_ready_push(s, st);
		if (st->end_sent && st->resp_end)
			session_stream_finish(s, st);
		stream_unref(st);	/* the ready list's reference */
	}
}

static void
session_ready_push(struct session *s, struct stream *st)
{
	if (st->in_ready || st->finished)
		return;
	stream_ref(st);
	st->in_ready = true;
	st->ready_next = NULL;
	if (s->ready_tail != NULL)
		s->ready_tail->ready_next = st;
	else
		s->ready_head = st;
	s->ready_tail = st;
}

/* A WebSocket frame from the server: never masked. */
static void
session_frame(struct session *s, int opcode, const void *p, size_t len)
{
	uint8_t	hdr[WS_MAX_HEADER];
	size_t	hl;

	if (s->closing || s->dead)
		return;
	hl = wsframe_header(hdr, opcode, true, len, NULL);
	if (tbuf_room(&s->wq) < hl + len) {
		/* The agent does not read: session_output drops it. */
		s->closing = true;
		s->overflow = true;
		return;
	}
	(void)tbuf_put(&s->wq, hdr, hl);
	(void)tbuf_put(&s->wq, p, len);
}

static void
session_send_msg(struct session *s, struct tbuf *b)
{
	session_frame(s, WS_OP_BINARY, tbuf_ptr(b), tbuf_len(b));
	tbuf_reset(b);
}

void
session_send_reset(struct session *s, uint32_t id, uint32_t code,
    const char *why)
{
	struct tbuf	b;

	tbuf_init(&b, PROTO_HDR_LEN + 4 + PROTO_MAX_REASON);
	if (proto_encode_reset(&b, id, code, why) == 0)
		session_send_msg(s, &b);
	tbuf_free(&b);
}

static void
session_goaway(struct session *s, int code, const char *why)
{
	struct tbuf	b;

	/* Nothing opens after it, a pool thread's OPEN neither. */
	s->goaway = true;
	pthread_mutex_lock(&s->wmtx);
	s->wdirect = false;
	pthread_mutex_unlock(&s->wmtx);
	tbuf_init(&b, 1024);
	if (proto_encode_goaway(&b, code, why) == 0)
		session_send_msg(s, &b);
	tbuf_free(&b);
}

/* News from the MHD side of a stream. */
static void
session_stream_news(struct stream *st)
{
	struct session	*s = st->sess;
	struct tbuf	 b;
	uint64_t	 consumed;
	bool		 cancel, upload, raw_pending;

	session_adopt(s);
	pthread_mutex_lock(&st->mtx);
	st->in_inbox = false;
	cancel = st->cancel;
	consumed = st->consumed;
	st->consumed = 0;
	upload = tbuf_len(&st->req) > 0 || (st->req_end && !st->end_sent);
	raw_pending = st->raw_pending;
	pthread_mutex_unlock(&st->mtx);

	if (st->finished) {
		/*
		 * Reset or failed while MHD was handing over the caller's
		 * socket after the 101: relay_start closes it.
		 */
		if (raw_pending)
			relay_start(s, st);
		return;
	}
	if (!st->open_sent) {
		if (cancel) {
			st->finished = true;
			return;
		}
		if ((s->dead || !s->ready) && (s = session_stream_move(st)) ==
		    NULL) {
			session_stream_fail(st, 502, "The agent disconnected.");
			st->finished = true;
			return;
		}
		session_stream_open(s, st);
		if (st->finished)
			return;
	}
	if (raw_pending) {
		relay_start(s, st);
		return;
	}
	if (cancel && !st->raw) {
		if (!(st->end_sent && st->resp_end))
			session_send_reset(s, st->id, PROTO_RESET_CANCEL,
			    "caller went away");
		session_stream_finish(s, st);
		return;
	}
	if (consumed > 0 && !st->resp_end) {
		tbuf_init(&b, 64);
		if (proto_encode_window(&b, st->id, (uint32_t)consumed) == 0)
			session_send_msg(s, &b);
		tbuf_free(&b);
		st->recv_left += (int64_t)consumed;
	}
	if (upload)
		session_ready_push(s, st);
}

/*
 * The agent a stream was given went away before its OPEN went out: hand
 * it to another agent of the pool, if one is left.  Nothing of it reached
 * the dead one, so nothing runs twice.
 */
static struct session *
session_stream_move(struct stream *st)
{
	struct session	*old = st->sess, *s;

	if ((s = registry_other_session(st->tunnel_id, old)) == NULL)
		return NULL;
	if (s->dead || !s->ready) {
		session_unref(s);
		return NULL;
	}
	pthread_mutex_lock(&st->mtx);
	st->sess = s;			/* the registry's reference is its */
	st->id = atomic_fetch_add(&s->next_id, 2);
	pthread_mutex_unlock(&st->mtx);
	atomic_fetch_add(&s->nstreams, 1);
	atomic_fetch_sub(&old->nstreams, 1);
	session_unref(old);
	log_debug("tunnel %s: stream moved to the agent from %s",
	    st->tunnel_id, s->peer);
	return s;
}

static void
session_stream_open(struct session *s, struct stream *st)
{
	struct tbuf	b;
	int		r;

	tbuf_init(&b, PROTO_MAX_MSG);
	pthread_mutex_lock(&st->mtx);
	r = session_encode_open(s, st, &b);
	pthread_mutex_unlock(&st->mtx);
	if (r != 0) {
		tbuf_free(&b);
		session_stream_fail(st, 431, "The request head is too large "
		    "for the tunnel.");
		st->finished = true;
		return;
	}
	session_send_msg(s, &b);
	tbuf_free(&b);
	session_stream_opened(s, st);
	session_tab_insert(s, st);
}

/*
 * st's OPEN into b, under st->mtx; the head goes into it.  Once several
 * tunnels share the connection, OPEN names its own.  Non-zero: too large
 * for the tunnel, and the head is left as it was.
 */
static int
session_encode_open(struct session *s, struct stream *st, struct tbuf *b)
{
	int	r;

	if (s->multi)
		st->open.tunnel = xstrdup(st->tunnel_id);
	if ((r = proto_encode_open(b, st->id, &st->open)) != 0) {
		free(st->open.tunnel);
		st->open.tunnel = NULL;
		return r;
	}
	proto_head_clear(&st->open);
	return 0;
}

/* OPEN has gone out, or waits to: credit, window and deadline start. */
static void
session_stream_opened(struct session *s, struct stream *st)
{
	int	to = CFG_GET(request_timeout);

	st->open_sent = true;
	st->credit = s->peer_window;
	st->recv_left = PROTO_DEFAULT_WINDOW;
	st->deadline_ms = to > 0 ? util_now_ms() + (uint64_t)to * 1000 : 0;
}

/*
 * From a pool thread, under st->mtx: the OPEN and END of a request
 * without a body, straight to the agent's socket when the loop sleeps and
 * has nothing waiting to be written, so that it need not be woken.
 * Whatever the socket does not take waits in s->wrem, ahead of the loop's
 * own bytes.  False: the loop must be told (loop_notify_locked), to open the
 * stream itself or to write the rest.
 */
bool
session_open_direct(struct stream *st)
{
	struct session	*s = st->sess;
	struct tbuf	 b;
	struct iovec	 iov[4];
	struct msghdr	 mh;
	uint8_t		 oh[WS_MAX_HEADER], eh[WS_MAX_HEADER];
	uint8_t		 end[PROTO_HDR_LEN];
	size_t		 total, i;
	ssize_t		 n;

	/*
	 * An awake loop takes it in its stride, and writes many OPENs in one
	 * send() when they come fast.
	 */
	if (!st->req_end || st->upgrade || st->cancel ||
	    !atomic_load_explicit(&loop_waiting, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&s->wmtx);
	if (!s->wdirect || tbuf_len(&s->wrem) > 0) {
		pthread_mutex_unlock(&s->wmtx);
		return false;
	}
	tbuf_init(&b, PROTO_MAX_MSG);
	if (session_encode_open(s, st, &b) != 0) {
		/* The loop answers 431. */
		pthread_mutex_unlock(&s->wmtx);
		tbuf_free(&b);
		return false;
	}
	proto_put_hdr(end, PROTO_END, 0, st->id);
	iov[0].iov_base = oh;
	iov[0].iov_len = wsframe_header(oh, WS_OP_BINARY, true, tbuf_len(&b),
	    NULL);
	iov[1].iov_base = tbuf_ptr(&b);
	iov[1].iov_len = tbuf_len(&b);
	iov[2].iov_base = eh;
	iov[2].iov_len = wsframe_header(eh, WS_OP_BINARY, true, sizeof(end),
	    NULL);
	iov[3].iov_base = end;
	iov[3].iov_len = sizeof(end);
	for (total = 0, i = 0; i < 4; i++)
		total += iov[i].iov_len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 4;
	/* An error is the loop's to see, on its next write. */
	if ((n = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0)
		n = 0;
	(void)tbuf_put_iov(&s->wrem, iov, 4, (size_t)n);	/* it fits */
	session_stream_opened(s, st);
	st->end_sent = true;
	stream_ref(st);			/* s->opened's */
	st->opened_next = s->opened;
	s->opened = st;
	pthread_mutex_unlock(&s->wmtx);
	tbuf_free(&b);
	return (size_t)n == total;
}

/* Loop: into the table, the streams pool threads have opened. */
static void
session_adopt(struct session *s)
{
	struct stream	*st, *next;

	pthread_mutex_lock(&s->wmtx);
	st = s->opened;
	s->opened = NULL;
	pthread_mutex_unlock(&s->wmtx);
	for (; st != NULL; st = next) {
		next = st->opened_next;
		st->opened_next = NULL;
		session_tab_insert(s, st);
		stream_unref(st);	/* s->opened's */
	}
}

/*
 * Give the MHD side an answer if it has none; caller does not hold mtx.
 * After the agent's END the body still ends cleanly (the reader checks
 * resp_end first), but resp_reset is set anyway: it tells an upload still
 * in progress to drop its bytes instead of waiting for room forever.
 */
static void
session_stream_fail(struct stream *st, int status, const char *text)
{
	pthread_mutex_lock(&st->mtx);
	if (!st->have_resp && st->err_status == 0) {
		st->err_status = status;
		st->err_text = text;
	} else
		st->resp_reset = true;
	stream_wake_locked(st);
	pthread_mutex_unlock(&st->mtx);
}

/*
 * Loop: a stream that is raw from the start (a TCP tunnel's connection,
 * st->fd set): OPEN, then relay the bytes both ways.
 */
void
session_stream_raw(struct session *s, struct stream *st)
{
	session_stream_open(s, st);
	if (st->finished) {
		relay_close(st);
		return;
	}
	relay_start(s, st);
}

void
session_stream_finish(struct session *s, struct stream *st)
{
	st->finished = true;
	relay_close(st);
	if (st->in_table)
		session_tab_remove(s, st);	/* drops the table's ref */
}

/*
 * Response bytes wait for slow callers up to TUNNELD_MEM_CAP in all.  The
 * cap is shared: past half of it a session holding a sixteenth or more
 * stops being read (TCP pushes back on its agent), past all of it every
 * session does; each is read again once the callers have drained enough.
 * So callers who read slowly from one tunnel hold back that tunnel and
 * not the others.
 */
static bool
session_rx_over(const struct session *s)
{
	long long	g = atomic_load(&tunneld_buffered);

	return g > TUNNELD_MEM_CAP || (g > TUNNELD_MEM_CAP / 2 &&
	    atomic_load(&s->buffered) >= TUNNELD_MEM_CAP / 16);
}

static bool
session_rx_under(const struct session *s)
{
	long long	g = atomic_load(&tunneld_buffered);

	return g < TUNNELD_MEM_CAP / 4 * 3 && (g < TUNNELD_MEM_CAP / 4 ||
	    atomic_load(&s->buffered) < TUNNELD_MEM_CAP / 32);
}

static void
session_rx_pause(struct session *s, bool pause)
{
	struct epoll_event	ev;

	if (s->rx_paused == pause || s->dead)
		return;
	s->rx_paused = pause;
	ev.events = (pause ? 0 : EPOLLIN | EPOLLRDHUP) |
	    (s->want_out ? EPOLLOUT : 0);
	ev.data.ptr = s;
	epoll_ctl(loop.epfd, EPOLL_CTL_MOD, s->fd, &ev);
	if (pause)
		log_warn("session %s: over the memory cap, not reading",
		    s->tunnel_id);
	else
		s->last_rx_ms = util_now_ms();	/* paused is not dead */
}

static void
session_relay_resume(struct session *s)
{
	struct stream	*st;
	size_t		 i;

	s->relay_blocked = false;
	for (i = 0; i < s->tabsize; i++)
		for (st = s->tab[i]; st != NULL; st = st->tab_next)
			if (st->raw && st->rx_off)
				relay_resume(st);
}

/* Small messages of the relay. */
void
session_send_data(struct session *s, uint32_t id, const void *p, size_t n)
{
	uint8_t	wh[WS_MAX_HEADER], ph[PROTO_HDR_LEN];
	size_t	hl;

	if (s->closing || s->dead)
		return;
	hl = wsframe_header(wh, WS_OP_BINARY, true, PROTO_HDR_LEN + n, NULL);
	proto_put_hdr(ph, PROTO_DATA, 0, id);
	if (tbuf_room(&s->wq) < hl + sizeof(ph) + n) {
		s->closing = true;
		s->overflow = true;
		return;
	}
	(void)tbuf_put(&s->wq, wh, hl);
	(void)tbuf_put(&s->wq, ph, sizeof(ph));
	(void)tbuf_put(&s->wq, p, n);
}

void
session_send_end(struct session *s, uint32_t id)
{
	uint8_t	ph[PROTO_HDR_LEN];

	proto_put_hdr(ph, PROTO_END, 0, id);
	session_frame(s, WS_OP_BINARY, ph, sizeof(ph));
}

void
session_send_window(struct session *s, uint32_t id, uint32_t n)
{
	struct tbuf	b;

	tbuf_init(&b, 64);
	if (proto_encode_window(&b, id, n) == 0)
		session_send_msg(s, &b);
	tbuf_free(&b);
}

/*
 * Loop: a stream ended from our side (caller gone, timeout): the agent
 * is told why, the caller gets status and text if it has no answer yet.
 */
static void
session_stream_stop(struct session *s, struct stream *st, uint32_t code,
    const char *why, int status, const char *text)
{
	log_debug("tunnel %s: stream %u: %s", st->tunnel_id, st->id, why);
	session_send_reset(s, st->id, code, why);
	session_stream_fail(st, status, text);
	session_stream_finish(s, st);
}

/*
 * At the request timeout: true if it is the caller who is late, its body
 * still coming with nothing of it waiting for the agent (an agent that
 * does not take the body holds it back itself: that is 504).
 */
static bool
session_caller_slow(struct stream *st)
{
	bool	slow;

	pthread_mutex_lock(&st->mtx);
	slow = !st->have_resp && !st->req_end && tbuf_len(&st->req) == 0 &&
	    !st->upload_wait;
	pthread_mutex_unlock(&st->mtx);
	return slow;
}

static void
loop_tick(uint64_t now)
{
	struct session	*s, *next;
	struct stream	*st, *snext;
	uint64_t	 hb = (uint64_t)CFG_GET(heartbeat_interval) * 1000;
	size_t		 i;

	tcp_tick(now);

	for (s = loop.sessions; s != NULL; s = next) {
		next = s->next;
		if (!s->ready && now - s->opened_ms > HELLO_TIMEOUT_MS) {
			session_kill(s, WS_CLOSE_POLICY, "no HELLO");
			continue;
		}
		if (s->rx_paused && session_rx_under(s))
			session_rx_pause(s, false);
		if (hb > 0 && now - s->last_rx_ms > 3 * hb && !s->rx_paused) {
			session_kill(s, WS_CLOSE_GOING_AWAY,
			    "heartbeat timeout");
			continue;
		}
		if (hb > 0 && now - s->last_ping_ms >= hb) {
			s->last_ping_ms = now;
			session_frame(s, WS_OP_PING, "tunneld", 7);
		}
		session_adopt(s);	/* their deadlines too */
		for (i = 0; i < s->tabsize; i++) {
			for (st = s->tab[i]; st != NULL; st = snext) {
				snext = st->tab_next;
				if (stream_caller_gone(st, now))
					session_stream_stop(s, st,
					    PROTO_RESET_CANCEL,
					    "caller went away", 502,
					    "The caller went away.");
				else if (st->deadline_ms == 0 ||
				    now < st->deadline_ms)
					continue;
				else if (session_caller_slow(st))
					session_stream_stop(s, st,
					    PROTO_RESET_TIMEOUT,
					    "request body too slow", 408,
					    "The request body did not arrive "
					    "in time.");
				else
					session_stream_stop(s, st,
					    PROTO_RESET_TIMEOUT,
					    "no response in time", 504,
					    "The local service did not "
					    "answer in time.");
			}
		}
		session_output(s);
	}
}

/* The stream table: chained hash by id, grown as needed. */
static struct stream *
session_lookup(struct session *s, uint32_t id)
{
	struct stream	*st;

	if (s->tabsize == 0)
		return NULL;
	for (st = s->tab[id & (s->tabsize - 1)]; st != NULL; st = st->tab_next)
		if (st->id == id)
			return st;
	return NULL;
}

static void
session_tab_insert(struct session *s, struct stream *st)
{
	struct stream	**ntab, *p, *next;
	size_t		  nsize, i;

	if (s->tabused >= s->tabsize) {
		nsize = s->tabsize ? s->tabsize * 2 : 8;
		ntab = xcalloc(nsize, sizeof(*ntab));
		for (i = 0; i < s->tabsize; i++) {
			for (p = s->tab[i]; p != NULL; p = next) {
				next = p->tab_next;
				p->tab_next = ntab[p->id & (nsize - 1)];
				ntab[p->id & (nsize - 1)] = p;
			}
		}
		free(s->tab);
		s->tab = ntab;
		s->tabsize = nsize;
	}
	stream_ref(st);
	st->tab_next = s->tab[st->id & (s->tabsize - 1)];
	s->tab[st->id & (s->tabsize - 1)] = st;
	st->in_table = true;
	s->tabused++;
}

static void
session_tab_remove(struct session *s, struct stream *st)
{
	struct stream	**pp;

	for (pp = &s->tab[st->id & (s->tabsize - 1)]; *pp != NULL;
	    pp = &(*pp)->tab_next) {
		if (*pp == st) {
			*pp = st->tab_next;
			st->in_table = false;
			s->tabused--;
			stream_unref(st);
			return;
		}
	}
}
