/*
 * Requests to the local service: a thread running a libcurl multi loop.
 *
 * The lws thread creates a stream on OPEN and hands it over through the
 * inbox (inbox.c: client.mtx + curl_multi_wakeup); this thread makes the
 * easy handle and turns curl's callbacks into RESPONSE, DATA and END on
 * the link's queues.  Nothing holds a whole body: the request body waits in a buffer
 * bounded by our window, the response body goes out as curl delivers it,
 * and the write callback pauses the transfer when the stream has no send
 * credit or the queues are over TC_OUTQ_MAX.  Only this thread calls curl
 * and frees streams.
 *
 * An upgrade request (Upgrade and "Connection: upgrade", no body) skips
 * curl: this thread connects to the local service itself (non-blocking,
 * GnuTLS for --https), writes the head, reads the response head with
 * httphead.c and, after a 101, relays raw bytes both ways as DATA under
 * the same credit rules; the sockets join curl_multi_poll() as extra fds.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "httphdr.h"
#include "httphead.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define FWD_PAGE_MAX	2048
#define FWD_MAXCONNECTS	256L		/* idle local connections kept */
#define FWD_IDLE_EASY	32		/* easy handles kept for reuse */
#define FWD_WAKE_BYTES	(64 * 1024)	/* DATA queued: wake lws now */
#define FWD_UP_PEND	(2 * PROTO_MAX_DATA)	/* head leftovers */
#define FWD_UP_READS	8			/* reads per turn */
#define FWD_REQ_KEEP	(512 * 1024)	/* request buffer kept drained */

/*
 * An upgrade request (WebSocket or any other) goes over a connection of
 * its own instead of curl: the head is written and the response head read
 * here, and after a 101 the bytes are relayed both ways under the
 * stream's flow control.  Curl thread only.
 */
enum { UP_CONNECT, UP_TLS, UP_HEAD, UP_BODY, UP_RELAY };

struct upgrade {
	int				 fd;
	int				 phase;
	struct addrinfo			*ai;	/* addresses to try */
	struct addrinfo			*cur;
	gnutls_session_t		 tls;	/* --https */
	gnutls_certificate_credentials_t cred;
	bool				 hs_started;
	size_t				 wtry;	/* TLS write to repeat */
	uint64_t			 deadline; /* ms, 0: none */
	struct tbuf			 out;	/* to the local service */
	struct tbuf			 pend;	/* read, not yet sent as DATA */
	struct httphead			 hh;
	struct httpchunk		 ck;
	int				 body;	/* HTTPHEAD_BODY_* */
	int64_t				 left;	/* Content-Length bytes left */
	bool				 rd_eof;	/* local EOF */
	bool				 end_sent;	/* our END */
	bool				 wr_shut;	/* server's END passed on */
};

static struct curl_waitfd	*fwd_poll;	/* curl thread only */
static struct stream		**fwd_pollst;
static size_t			 fwd_npoll;
static bool			 fwd_ws_due;	/* curl thread: wake lws */
static size_t			 fwd_ws_bytes;	/* DATA since the last wake */
static CURL			*fwd_idle[FWD_IDLE_EASY];	/* reset */
static size_t			 fwd_nidle;

static void	*forward_main(void *);
static void	 forward_ws_wake(void);
static void	 forward_drain(void);
static void	 forward_process(struct stream *);
static void	 forward_begin(struct stream *);
static void	 forward_headers(struct stream *);
static void	 forward_reap(void);
static void	 forward_done(struct stream *, CURLcode);
static void	 forward_reset(struct stream *, uint32_t, const char *);
static size_t	 forward_req_drop_locked(struct stream *);
static CURL	*forward_easy_get(void);
static void	 forward_easy_put(CURL *);
static void	 forward_drop_easy(struct stream *);
static void	 forward_maybe_free(struct stream *);
static void	 forward_free(struct stream *);
static size_t	 forward_header_cb(char *, size_t, size_t, void *);
static size_t	 forward_write_cb(char *, size_t, size_t, void *);
static size_t	 forward_read_cb(char *, size_t, size_t, void *);
static void	 forward_respond(struct stream *);
static int	 forward_error_page(struct stream *, int, const char *);
static void	 forward_queue_head(struct stream *, const struct proto_head *,
		    const void *, size_t);
static void	 forward_log(struct stream *);
static bool	 forward_is_upgrade(const struct stream *);
static void	 forward_up_head(struct stream *);
static void	 forward_up_begin(struct stream *);
static void	 forward_up_connect(struct stream *);
static int	 forward_up_tls_start(struct stream *);
static ssize_t	 forward_up_recv(struct upgrade *, void *, size_t);
static ssize_t	 forward_up_send(struct upgrade *, const void *, size_t);
static short	 forward_up_events(struct stream *);
static void	 forward_up_fail(struct stream *, int, const char *);
static void	 forward_up_tcp(struct stream *);
static void	 forward_up_close(struct stream *);
static int	 forward_up_emit(struct stream *, const void *, size_t);
static void	 forward_up_flush(struct stream *);
static void	 forward_data_locked(struct stream *, const void *, size_t);
static void	 forward_up_end(struct stream *);
static void	 forward_up_finish(struct stream *);
static int	 forward_up_response(struct stream *);
static int	 forward_up_feed(struct stream *, const uint8_t *, size_t);
static int	 forward_up_read(struct stream *);
static int	 forward_up_write(struct stream *);
static void	 forward_up_service(struct stream *, short);
static void	 forward_poll_room(size_t);
static int	 forward_up_pollset(void);
static void	 forward_up_ready(int);

int
forward_start(void)
{
	if ((client.multi = curl_multi_init()) == NULL)
		return TUN_ENOMEM;
	/*
	 * Keep a connection to the local service for every request that may
	 * run at once: curl's default cache (4 per transfer in progress)
	 * shrinks between bursts and closes connections the next one needs.
	 */
	curl_multi_setopt(client.multi, CURLMOPT_MAXCONNECTS, FWD_MAXCONNECTS);
	if (pthread_create(&client.fwd_thread, NULL, forward_main, NULL) != 0)
		return TUN_EIO;
	client.fwd_running = true;
	return 0;
}

/* After client_stop(): join the thread, then free every stream. */
void
forward_stop(void)
{
	struct stream	*st, *next, *batch;
	struct link	*l;
	size_t		 i, j;

	if (client.fwd_running) {
		forward_wake();
		pthread_join(client.fwd_thread, NULL);
		client.fwd_running = false;
	}
	pthread_mutex_lock(&client.mtx);
	for (i = 0; i < client.nlinks; i++) {
		l = &client.links[i];
		for (j = 0; j < TC_TABLE_SIZE; j++) {
			while ((st = l->tab[j]) != NULL) {
				st->reset = true;
				forward_table_remove_locked(st);
			}
		}
	}
	batch = inbox_take_locked();
	while ((st = inbox_next_locked(&batch)) != NULL)
		if (!st->in_all)
			forward_free(st);
	pthread_mutex_unlock(&client.mtx);
	for (st = client.all; st != NULL; st = next) {
		next = st->all_next;
		if (st->easy != NULL)
			forward_drop_easy(st);
		forward_free(st);
	}
	client.all = NULL;
	if (client.multi != NULL)
		curl_multi_cleanup(client.multi);
	client.multi = NULL;
	while (fwd_nidle > 0)
		curl_easy_cleanup(fwd_idle[--fwd_nidle]);
	free(fwd_poll);
	free(fwd_pollst);
	fwd_poll = NULL;
	fwd_pollst = NULL;
	fwd_npoll = 0;
}

/*
 * Messages queued for the server: before this thread next sleeps, write
 * them (ws_send_direct) or wake the lws thread once, so that a response's
 * head, body and END that curl hands over in one pass leave in one write.
 */
static void
forward_ws_wake(void)
{
	fwd_ws_due = true;
}

void
forward_wake(void)
{
	if (client.multi != NULL)
		curl_multi_wakeup(client.multi);
}

/*
 * A turn: the inbox, curl, the raw connections; what is queued for the
 * server is written; then the wait, with the server's connection in the
 * poll set once this thread reads it (ws_read_direct).
 */
static void *
forward_main(void *arg)
{
	int	running, n, rfd;

	while (!client_stopping()) {
		forward_drain();
		curl_multi_perform(client.multi, &running);
		forward_reap();
		n = forward_up_pollset();
		if (fwd_ws_due) {
			fwd_ws_due = false;
			fwd_ws_bytes = 0;
			if (!ws_send_direct())
				ws_wake();
		}
		if ((rfd = ws_direct_fd()) != -1) {
			forward_poll_room((size_t)n + 1);
			fwd_poll[n].fd = rfd;
			fwd_poll[n].events = POLLIN;
			fwd_poll[n].revents = 0;
		}
		curl_multi_poll(client.multi, n > 0 || rfd != -1 ? fwd_poll :
		    NULL, (unsigned int)n + (rfd != -1), 1000, NULL);
		forward_up_ready(n);
		if (ws_read_direct(rfd != -1 && fwd_poll[n].revents != 0))
			forward_ws_wake();
	}
	return NULL;
}

/* --- the stream table and the inbox, under client.mtx ---------------- */

struct stream *
forward_stream_new(struct link *l, uint32_t id, struct proto_head *head)
{
	struct stream	*st = xcalloc(1, sizeof(*st));

	st->id = id;
	st->link = l;
	st->started_ms = util_now_ms();
	st->open = *head;		/* the stream owns the head now */
	memset(head, 0, sizeof(*head));
	tbuf_init(&st->req, TC_WINDOW);
	st->resp_cl = -1;
	return st;
}

struct stream *
forward_lookup_locked(struct link *l, uint32_t id)
{
	struct stream	*st;

	for (st = l->conn->tab[id % TC_TABLE_SIZE]; st != NULL;
	    st = st->tab_next)
		if (st->id == id)
			return st;
	return NULL;
}

void
forward_table_add_locked(struct stream *st)
{
	struct stream	**bucket = &st->link->conn->tab[st->id % TC_TABLE_SIZE];

	st->tab_next = *bucket;
	*bucket = st;
	st->in_table = true;
	st->link->conn->nstreams++;
}

/* Out of the table: the curl thread looks at it again and frees it. */
void
forward_table_remove_locked(struct stream *st)
{
	struct stream	**pp;

	if (!st->in_table)
		return;
	for (pp = &st->link->conn->tab[st->id % TC_TABLE_SIZE]; *pp != NULL;
	    pp = &(*pp)->tab_next) {
		if (*pp == st) {
			*pp = st->tab_next;
			break;
		}
	}
	st->in_table = false;
	st->tab_next = NULL;
	st->link->conn->nstreams--;
	inbox_add_locked(st);
}

/* RESET the stream (once) and forget it. */
void
forward_send_reset_locked(struct stream *st, uint32_t code, const char *why)
{
	struct tbuf	 b;
	struct omsg	*m;

	if (st->in_table && !st->reset) {
		tbuf_init(&b, PROTO_HDR_LEN + 4 + PROTO_MAX_REASON);
		if (proto_encode_reset(&b, st->id, code, why) == 0) {
			m = ws_msg_new(tbuf_len(&b), false);
			memcpy(m->buf + LWS_PRE, tbuf_ptr(&b), tbuf_len(&b));
			ws_queue_locked(st->link, false, m);
		}
		tbuf_free(&b);
	}
	st->reset = true;
	st->local_done = true;
	(void)forward_req_drop_locked(st);	/* nobody sends it now */
	forward_table_remove_locked(st);
	inbox_add_locked(st);
}

/* The same, from the curl thread without the lock; lws is woken. */
static void
forward_reset(struct stream *st, uint32_t code, const char *why)
{
	pthread_mutex_lock(&client.mtx);
	forward_send_reset_locked(st, code, why);
	pthread_mutex_unlock(&client.mtx);
	forward_ws_wake();
}

/*
 * The request bytes st holds are dropped (not sent to the local service):
 * how many, uncounted from what the client holds (ws_held_add).
 */
static size_t
forward_req_drop_locked(struct stream *st)
{
	size_t	n = tbuf_len(&st->req);

	ws_held_sub(n);
	tbuf_free(&st->req);
	return n;
}

void
forward_send_window_locked(struct stream *st, uint32_t n)
{
	struct omsg	*m;
	uint8_t		*p;

	if (!st->in_table || st->reset || n == 0)
		return;
	m = ws_msg_new(PROTO_HDR_LEN + 4, false);
	p = m->buf + LWS_PRE;
	proto_put_hdr(p, PROTO_WINDOW, 0, st->id);
	p[6] = (uint8_t)(n >> 24);
	p[7] = (uint8_t)(n >> 16);
	p[8] = (uint8_t)(n >> 8);
	p[9] = (uint8_t)n;
	ws_queue_locked(st->link, false, m);
}

/*
 * The local service is done before the request body is: what is buffered
 * of it, and not yet credited, goes back to the server as credit (what
 * comes from now on is credited as it comes, ws.c), so that the server
 * can send the rest and its END.
 */
static void
forward_credit_rest_locked(struct stream *st)
{
	uint64_t	n;

	if (st->req_end)
		return;
	n = forward_req_drop_locked(st) + (uint64_t)st->unacked;
	st->unacked = 0;
	if (n > 0)
		forward_send_window_locked(st, (uint32_t)n);
}

/* --- the curl thread ------------------------------------------------- */

/*
 * The streams queued so far, one at a time: news for one of them while
 * the batch is worked off is seen in its turn or, once it has had its
 * turn, in the next batch (inbox.c).
 */
static void
forward_drain(void)
{
	struct stream	*st, *next, *batch;
	bool		 kick;

	pthread_mutex_lock(&client.mtx);
	batch = inbox_take_locked();
	kick = client.kick_all;
	client.kick_all = false;
	pthread_mutex_unlock(&client.mtx);

	for (;;) {
		pthread_mutex_lock(&client.mtx);
		st = inbox_next_locked(&batch);
		pthread_mutex_unlock(&client.mtx);
		if (st == NULL)
			break;
		forward_process(st);
	}
	if (!kick)
		return;
	for (st = client.all; st != NULL; st = next) {
		next = st->all_next;
		forward_process(st);
	}
}

/* News for a stream: start, stop, or unpause its transfer. */
static void
forward_process(struct stream *st)
{
	bool	reset, unpause = false;

	pthread_mutex_lock(&client.mtx);
	reset = st->reset;
	if (st->easy != NULL && !reset) {
		if (st->read_paused && (tbuf_len(&st->req) > 0 ||
		    st->req_end)) {
			st->read_paused = false;
			unpause = true;
		}
		/*
		 * Credit, but the queues are full: ws_take kicks every stream
		 * once they drain, this one too.
		 */
		if (st->write_paused && st->credit > 0 &&
		    client.outq_bytes >= TC_OUTQ_MAX)
			client.outq_blocked = true;
		else if (st->write_paused && st->credit > 0) {
			st->write_paused = false;
			unpause = true;
		}
	}
	pthread_mutex_unlock(&client.mtx);

	if (!st->in_all) {
		st->in_all = true;
		st->all_prev = NULL;
		st->all_next = client.all;
		if (client.all != NULL)
			client.all->all_prev = st;
		client.all = st;
	}
	if (st->up != NULL || (!reset && st->easy == NULL &&
	    !st->easy_done && forward_is_upgrade(st))) {
		if (reset) {
			forward_log(st);
			forward_up_close(st);
		} else if (st->up == NULL)
			forward_up_begin(st);
		else
			forward_up_service(st, 0);
	} else if (st->easy == NULL && !st->easy_done) {
		if (reset)
			st->easy_done = true;
		else
			forward_begin(st);
	} else if (st->easy != NULL && reset) {
		forward_drop_easy(st);
		forward_log(st);
	} else if (unpause)
		curl_easy_pause(st->easy, CURLPAUSE_CONT);
	forward_maybe_free(st);
}

static void
forward_maybe_free(struct stream *st)
{
	bool	gone;

	pthread_mutex_lock(&client.mtx);
	gone = !st->in_table && !st->in_inbox && st->easy_done;
	pthread_mutex_unlock(&client.mtx);
	if (!gone)
		return;
	if (st->in_all) {
		if (st->all_prev != NULL)
			st->all_prev->all_next = st->all_next;
		else
			client.all = st->all_next;
		if (st->all_next != NULL)
			st->all_next->all_prev = st->all_prev;
	}
	forward_free(st);
}

static void
forward_free(struct stream *st)
{
	capture_end(st);		/* inspector */
	forward_up_close(st);
	proto_head_clear(&st->open);
	proto_head_clear(&st->resp);
	(void)forward_req_drop_locked(st);
	curl_slist_free_all(st->hdrs);
	free(st->sent_host);
	free(st);
}

static CURL *
forward_easy_get(void)
{
	if (fwd_nidle > 0)
		return fwd_idle[--fwd_nidle];
	return curl_easy_init();
}

static void
forward_easy_put(CURL *e)
{
	if (fwd_nidle == FWD_IDLE_EASY) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	fwd_idle[fwd_nidle++] = e;
}

static void
forward_drop_easy(struct stream *st)
{
	curl_multi_remove_handle(client.multi, st->easy);
	forward_easy_put(st->easy);
	st->easy = NULL;
	st->easy_done = true;
	curl_slist_free_all(st->hdrs);
	st->hdrs = NULL;
}

/*
 * The request head for curl: the caller's headers less hop-by-hop ones,
 * Host per --host-header, and none of curl's own additions.
 */
static void
forward_headers(struct stream *st)
{
	const struct proto_header	*h;
	const char			*conn, *host;
	size_t				 i;
	bool				 accept = false;

	conn = proto_head_get(&st->open, "Connection");
	for (i = 0; i < st->open.nhdrs; i++) {
		h = &st->open.hdrs[i];
		if (forward_header_dropped(h->name, conn))
			continue;
		if (strcasecmp(h->name, "Accept") == 0)
			accept = true;
		st->hdrs = forward_header_add(st->hdrs, h->name, h->value);
	}
	host = forward_host(st->link, &st->open);
	st->sent_host = xstrdup(host);
	st->hdrs = forward_header_add(st->hdrs, "Host", host);
	if (!accept)
		st->hdrs = xcurl_slist_append(st->hdrs, "Accept:");
	st->hdrs = xcurl_slist_append(st->hdrs, "Expect:");
}

static void
forward_begin(struct stream *st)
{
	const struct options	*o = client.opt;
	const char		*method = st->open.method;
	CURL			*e;
	bool			 upload, head;

	if ((e = forward_easy_get()) == NULL) {
		st->easy_done = true;
		(void)forward_error_page(st, 502, "out of memory");
		return;
	}
	forward_headers(st);
	capture_begin(st);		/* inspector */
	forward_curl_local(e, st->link, st->open.path);
	curl_easy_setopt(e, CURLOPT_PRIVATE, st);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, forward_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, forward_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, st->errbuf);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)TC_CURL_BUFFER);
	if (o->request_timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)o->request_timeout);
	/*
	 * A HEAD goes without a body (CURLOPT_UPLOAD would make it a PUT),
	 * whatever comes of one is credited back once curl is done; and a
	 * Content-Length the server says no body follows is 0 for curl.
	 */
	head = strcmp(method, "HEAD") == 0;
	upload = !head && (st->open.body || (st->open.content_length >= 0 &&
	    strcmp(method, "GET") != 0));
	if (head)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || upload)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (upload) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, forward_read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, st);
		if (!st->open.body || st->open.content_length >= 0)
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)(st->open.body ?
			    st->open.content_length : 0));
	}
	st->easy = e;
	if (curl_multi_add_handle(client.multi, e) != CURLM_OK) {
		forward_easy_put(e);
		st->easy = NULL;
		st->easy_done = true;
		(void)forward_error_page(st, 502, "curl_multi_add_handle "
		    "failed");
		return;
	}
	log_debug("stream %u: %s %s", st->id, method, st->open.path);
}

/* Response head lines; interim (1xx) heads are skipped. */
static size_t
forward_header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct stream	*st = arg;
	size_t		 len = size * n;

	if (st->head_done)
		return len;		/* trailers */
	if (httphdr_resp_line(&st->resp, &st->status, buf, len) ==
	    HTTPHDR_LINE_END && st->status >= 200) {
		st->head_done = true;
		forward_respond(st);
	}
	return len;
}

/* The final head is in: send RESPONSE. */
static void
forward_respond(struct stream *st)
{
	const struct proto_header	*h;
	struct proto_head		 out;
	const char			*conn, *prefix, *pub, *errstr;
	char				*loc;
	size_t				 i;
	long long			 cl;

	capture_head(st);		/* inspector */
	memset(&out, 0, sizeof(out));
	out.status = st->status;
	out.content_length = -1;
	conn = proto_head_get(&st->resp, "Connection");
	prefix = proto_head_get(&st->open, "X-Forwarded-Prefix");
	pub = proto_head_get(&st->open, "X-Forwarded-Host");
	for (i = 0; i < st->resp.nhdrs; i++) {
		h = &st->resp.hdrs[i];
		if (httphdr_hop_by_hop(h->name, conn))
			continue;
		if (strcasecmp(h->name, "Content-Length") == 0) {
			cl = util_strtonum(h->value, 0, INT64_MAX, &errstr);
			if (errstr == NULL)
				out.content_length = cl;
			continue;
		}
		if (prefix != NULL && strcasecmp(h->name, "Location") == 0 &&
		    (loc = httphdr_rewrite_location(h->value, prefix,
		    st->sent_host, pub != NULL ? pub : "")) != NULL) {
			proto_head_add(&out, h->name, loc);
			free(loc);
			continue;
		}
		proto_head_add(&out, h->name, h->value);
	}
	/* curl reads a chunked body by its chunks, whatever the length. */
	if (proto_head_get(&st->resp, "Transfer-Encoding") != NULL)
		out.content_length = -1;
	st->resp_cl = out.content_length;
	forward_queue_head(st, &out, NULL, 0);
	proto_head_clear(&out);
	proto_head_clear(&st->resp);
}

/*
 * RESPONSE, and a small body if given (error pages), on the stream's
 * link.  Sets resp_sent; a head too large for a message resets instead.
 */
static void
forward_queue_head(struct stream *st, const struct proto_head *head,
    const void *body, size_t len)
{
	struct tbuf	 b;
	struct omsg	*m = NULL, *d = NULL;
	int		 r;

	tbuf_init(&b, PROTO_MAX_MSG);
	if ((r = proto_encode_response(&b, st->id, head)) == 0) {
		m = ws_msg_new(tbuf_len(&b), false);
		memcpy(m->buf + LWS_PRE, tbuf_ptr(&b), tbuf_len(&b));
	}
	tbuf_free(&b);
	if (body != NULL && len > 0 && len <= PROTO_MAX_DATA) {
		d = ws_msg_data(st->id, body, len);
	}
	pthread_mutex_lock(&client.mtx);
	if (r != 0) {
		log_warn("stream %u: response head too large", st->id);
		forward_send_reset_locked(st, PROTO_RESET_LIMIT,
		    "response head too large");
	} else if (!st->reset && st->in_table) {
		ws_queue_locked(st->link, false, m);
		m = NULL;
		st->resp_sent = true;
		if (d != NULL && st->credit >= (int64_t)len) {
			ws_queue_locked(st->link, true, d);
			st->credit -= (int64_t)len;
			d = NULL;
		}
	}
	pthread_mutex_unlock(&client.mtx);
	free(m);
	free(d);
	forward_ws_wake();
}

/* Body bytes from the local service: DATA, or pause until credit. */
static size_t
forward_write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct stream	*st = arg;
	size_t		 len = size * n;

	pthread_mutex_lock(&client.mtx);
	if (st->reset || st->local_done || !st->resp_sent ||
	    len > st->link->conn->peer_window) {
		pthread_mutex_unlock(&client.mtx);
		return 0;		/* CURLE_WRITE_ERROR */
	}
	if (st->credit < (int64_t)len || client.outq_bytes >= TC_OUTQ_MAX) {
		st->write_paused = true;
		if (client.outq_bytes >= TC_OUTQ_MAX)
			client.outq_blocked = true;
		pthread_mutex_unlock(&client.mtx);
		return CURL_WRITEFUNC_PAUSE;
	}
	forward_data_locked(st, buf, len);
	pthread_mutex_unlock(&client.mtx);
	/* A long burst of body is not held back until curl is done. */
	if ((fwd_ws_bytes += len) >= FWD_WAKE_BYTES) {
		fwd_ws_bytes = 0;
		ws_wake();
	} else
		forward_ws_wake();
	capture_body(st, true, buf, len);	/* inspector */
	return len;
}

/* Request body for the local service, as the server sends it. */
static size_t
forward_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct stream	*st = arg;
	size_t		 max = size * n, len;
	bool		 wake = false;

	pthread_mutex_lock(&client.mtx);
	if (st->reset) {
		pthread_mutex_unlock(&client.mtx);
		return CURL_READFUNC_ABORT;
	}
	len = tbuf_len(&st->req);
	/*
	 * curl told the service the OPEN's Content-Length: never more than
	 * that goes after it, whatever the server sends (the rest would be
	 * read as the next request on the connection).
	 */
	if (st->open.content_length >= 0 &&
	    (int64_t)len > st->open.content_length - st->req_sent) {
		len = (size_t)(st->open.content_length - st->req_sent);
		if (len == 0) {
			pthread_mutex_unlock(&client.mtx);
			log_debug("stream %u: body past its Content-Length "
			    "dropped", st->id);
			return 0;
		}
	}
	if (len == 0) {
		if (st->req_end) {
			pthread_mutex_unlock(&client.mtx);
			return 0;
		}
		st->read_paused = true;
		pthread_mutex_unlock(&client.mtx);
		return CURL_READFUNC_PAUSE;
	}
	if (len > max)
		len = max;
	st->req_sent += (int64_t)len;
	memcpy(buf, tbuf_ptr(&st->req), len);
	tbuf_consume(&st->req, len);
	ws_held_sub(len);
	/* A buffer grown while the service lagged is not kept empty. */
	if (tbuf_len(&st->req) == 0 && st->req.cap > FWD_REQ_KEEP)
		tbuf_shrink(&st->req);
	st->unacked += (uint32_t)len;
	/* Credit back in batches, or when drained. */
	if (!st->req_end && (st->unacked >= TC_WINDOW / 4 ||
	    tbuf_len(&st->req) == 0)) {
		forward_send_window_locked(st, st->unacked);
		st->unacked = 0;
		wake = true;
	}
	pthread_mutex_unlock(&client.mtx);
	if (wake)
		forward_ws_wake();
	capture_body(st, false, buf, len);	/* inspector */
	return len;
}

static void
forward_reap(void)
{
	struct stream	*st;
	CURLMsg		*msg;
	char		*priv;
	int		 left;

	while ((msg = curl_multi_info_read(client.multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((st = (struct stream *)(void *)priv) == NULL)
			continue;
		forward_done(st, msg->data.result);
	}
}

/*
 * A page for the caller when the local service gave no response: 502
 * (or 504 for a timeout), then END.
 */
static int
forward_error_page(struct stream *st, int status, const char *why)
{
	struct proto_head	 h;
	char			 page[FWD_PAGE_MAX], esc[512];
	const char		*p;
	size_t			 i = 0;
	int			 n;

	for (p = why; *p != '\0' && i + 6 < sizeof(esc); p++) {
		if (*p == '<' || *p == '>' || *p == '&') {
			memcpy(esc + i, *p == '&' ? "&amp;" : *p == '<' ?
			    "&lt;" : "&gt;", *p == '&' ? 5 : 4);
			i += *p == '&' ? 5 : 4;
		} else
			esc[i++] = isprint((unsigned char)*p) ? *p : '?';
	}
	esc[i] = '\0';
	n = snprintf(page, sizeof(page), "<!DOCTYPE html>\n<html><head><title>"
	    "%d %s</title></head><body>\n<h1>%s</h1>\n<p>tunnel-client could "
	    "not reach the local service at %s: %s</p>\n</body></html>\n",
	    status, status == 504 ? "Gateway Timeout" : "Bad Gateway",
	    status == 504 ? "Gateway Timeout" : "Bad Gateway",
	    st->link->local_url, esc);
	if (n < 0 || (size_t)n >= sizeof(page))
		n = (int)strlen(page);
	memset(&h, 0, sizeof(h));
	h.status = status;
	h.content_length = n;
	proto_head_add(&h, "Content-Type", "text/html; charset=utf-8");
	proto_head_add(&h, "Cache-Control", "no-store");
	forward_queue_head(st, &h, page, (size_t)n);
	proto_head_clear(&h);
	pthread_mutex_lock(&client.mtx);
	if (!st->reset && st->in_table) {
		struct omsg *m = ws_msg_new(PROTO_HDR_LEN, true);

		proto_put_hdr(m->buf + LWS_PRE, PROTO_END, 0, st->id);
		ws_queue_locked(st->link, true, m);
		st->local_done = st->curl_done = true;
		if (st->req_end)
			forward_table_remove_locked(st);
		else
			forward_credit_rest_locked(st);
	}
	pthread_mutex_unlock(&client.mtx);
	forward_ws_wake();
	st->status = status;
	st->complete = true;
	forward_log(st);
	return 0;
}

/* The transfer is over: END, an error page, or RESET. */
static void
forward_done(struct stream *st, CURLcode cc)
{
	struct omsg	*m;
	const char	*why;
	bool		 reset, sent, logit = false;

	forward_drop_easy(st);
	pthread_mutex_lock(&client.mtx);
	reset = st->reset;
	sent = st->resp_sent;
	if (!reset && sent && cc == CURLE_OK) {
		m = ws_msg_new(PROTO_HDR_LEN, true);
		proto_put_hdr(m->buf + LWS_PRE, PROTO_END, 0, st->id);
		ws_queue_locked(st->link, true, m);
		st->local_done = st->curl_done = true;
		if (st->req_end)
			forward_table_remove_locked(st);
		else
			forward_credit_rest_locked(st);
		logit = true;
	} else if (!reset && sent) {
		log_debug("stream %u: %s", st->id, st->errbuf[0] ?
		    st->errbuf : curl_easy_strerror(cc));
		forward_send_reset_locked(st, cc == CURLE_OPERATION_TIMEDOUT ?
		    PROTO_RESET_TIMEOUT : PROTO_RESET_REFUSED,
		    "the local service failed");
		logit = true;
	}
	pthread_mutex_unlock(&client.mtx);
	forward_ws_wake();
	if (!reset && !sent) {
		why = st->errbuf[0] ? st->errbuf : cc != CURLE_OK ?
		    curl_easy_strerror(cc) : "no response";
		log_debug("stream %u: %s", st->id, why);
		(void)forward_error_page(st, cc == CURLE_OPERATION_TIMEDOUT ?
		    504 : 502, why);
	} else {
		st->complete = logit && cc == CURLE_OK;
		forward_log(st);
	}
	forward_maybe_free(st);
}

/*
 * "GET /path 200 12ms id=ID", once per stream; "reset" when the response
 * was cut short or never came.  ID: the server's X-Request-Id.
 */
static void
forward_log(struct stream *st)
{
	char		 path[256], code[32];
	const char	*p = st->open.path != NULL ? st->open.path : "";
	const char	*rid = proto_head_get(&st->open, "X-Request-Id");
	size_t		 i;
	bool		 whole;

	capture_end(st);		/* inspector */
	if (st->logged || client.opt->quiet)
		return;
	/* A TCP connection: where it came from instead of a path. */
	if (st->link->conf->tcp &&
	    (p = proto_head_get(&st->open, "X-Forwarded-For")) == NULL)
		p = "?";
	st->logged = true;
	for (i = 0; i < sizeof(path) - 1 && p[i] != '\0'; i++)
		path[i] = isprint((unsigned char)p[i]) ? p[i] : '?';
	path[i] = '\0';
	whole = st->complete || (st->resp_cl >= 0 &&
	    st->bytes_out >= (uint64_t)st->resp_cl);
	if (st->status > 0 && st->head_done)
		snprintf(code, sizeof(code), "%d%s", st->status,
		    whole ? "" : " reset");
	else if (st->status > 0 && st->complete)
		snprintf(code, sizeof(code), "%d", st->status);
	else
		util_strlcpy(code, "reset", sizeof(code));
	if (!httphdr_request_id_ok(rid))
		rid = NULL;		/* a server's X-Request-Id, if sane */
	link_say(st->link, "%s %s %s %llums%s%s", st->open.method != NULL ?
	    st->open.method : "?", path, code,
	    (unsigned long long)(util_now_ms() - st->started_ms),
	    rid != NULL ? " id=" : "", rid != NULL ? rid : "");
}

/* --- upgrades: a raw connection per stream ----------------------------- */

/* Is the request an upgrade (Upgrade and "Connection: ...upgrade...")? */
static bool
forward_is_upgrade(const struct stream *st)
{
	const char	*u;

	if (st->link->conf->tcp || strcmp(st->open.method, "TCP") == 0)
		return true;		/* raw bytes: forward_up_begin checks */
	if (st->open.body)
		return false;		/* not one (PROTOCOL 5.3): curl's */
	u = proto_head_get(&st->open, "Upgrade");
	return u != NULL && u[0] != '\0' && httphdr_has_token(
	    proto_head_get(&st->open, "Connection"), "upgrade");
}

/* The request head for the local service, in up->out. */
static void
forward_up_head(struct stream *st)
{
	struct upgrade			*up = st->up;
	const struct tunnel_conf	*t = st->link->conf;
	const struct proto_header	*h;
	const char			*conn, *host;
	char				*line;
	size_t				 i;

	conn = proto_head_get(&st->open, "Connection");
	if (strcmp(t->host_header, "rewrite") == 0)
		host = st->link->local_hostport;
	else if (strcmp(t->host_header, "preserve") == 0) {
		if ((host = proto_head_get(&st->open, "Host")) == NULL)
			host = st->link->local_hostport;
	} else
		host = t->host_header;
	st->sent_host = xstrdup(host);
	xasprintf(&line, "%s %s HTTP/1.1\r\nHost: %s\r\n", st->open.method,
	    st->open.path, host);
	(void)tbuf_put(&up->out, line, strlen(line));
	free(line);
	for (i = 0; i < st->open.nhdrs; i++) {
		h = &st->open.hdrs[i];
		if (strcasecmp(h->name, "Host") == 0 ||
		    strcasecmp(h->name, "Content-Length") == 0 ||
		    strcasecmp(h->name, "Expect") == 0 ||
		    (strcasecmp(h->name, "Upgrade") != 0 &&
		    strcasecmp(h->name, "Connection") != 0 &&
		    httphdr_hop_by_hop(h->name, conn)))
			continue;
		xasprintf(&line, "%s: %s\r\n", h->name, h->value);
		(void)tbuf_put(&up->out, line, strlen(line));
		free(line);
	}
	(void)tbuf_put(&up->out, "\r\n", 2);
}

/* Start: resolve, connect (non-blocking), queue the head. */
static void
forward_up_begin(struct stream *st)
{
	const struct tunnel_conf	*t = st->link->conf;
	struct upgrade			*up;
	struct addrinfo			 hints;
	char				 port[16];
	int				 e;

	up = st->up = xcalloc(1, sizeof(*up));
	up->fd = -1;
	tbuf_init(&up->out, PROTO_MAX_MSG + 1024);
	tbuf_init(&up->pend, FWD_UP_PEND);
	httphead_init(&up->hh);
	httpchunk_init(&up->ck);
	up->deadline = util_now_ms() +
	    (uint64_t)client.opt->connect_timeout * 1000;
	pthread_mutex_lock(&client.mtx);
	st->read_paused = true;		/* every DATA and END wakes us */
	pthread_mutex_unlock(&client.mtx);
	if (t->tcp != (strcmp(st->open.method, "TCP") == 0)) {
		/* A TCP stream on an HTTP tunnel or the other way round. */
		log_warn("stream %u: %s stream on a%s tunnel: reset", st->id,
		    t->tcp ? "an HTTP" : "a TCP", t->tcp ? " TCP" : "n HTTP");
		forward_reset(st, PROTO_RESET_PROTOCOL,
		    "wrong kind of stream for this tunnel");
		forward_up_close(st);
		return;
	}
	if (!t->tcp)
		forward_up_head(st);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	(void)snprintf(port, sizeof(port), "%d", t->port);
	if ((e = getaddrinfo(t->host, port, &hints, &up->ai)) != 0) {
		up->ai = NULL;
		forward_up_fail(st, 502, gai_strerror(e));
		return;
	}
	up->cur = up->ai;
	log_debug("stream %u: upgrade %s %s", st->id, st->open.method,
	    st->open.path);
	forward_up_connect(st);
}

/* Try the addresses in turn (::1 then 127.0.0.1 for localhost). */
static void
forward_up_connect(struct stream *st)
{
	struct upgrade	*up = st->up;
	int		 one = 1, err = 0;
	socklen_t	 len = sizeof(err);

	if (up->fd != -1) {
		/* A connect in progress: did it work? */
		if (getsockopt(up->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return;
		if (err == 0)
			goto connected;
		close(up->fd);
		up->fd = -1;
		up->cur = up->cur->ai_next;
	}
	for (; up->cur != NULL; up->cur = up->cur->ai_next) {
		up->fd = socket(up->cur->ai_family, up->cur->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, up->cur->ai_protocol);
		if (up->fd == -1) {
			err = errno;
			continue;
		}
		if (connect(up->fd, up->cur->ai_addr, up->cur->ai_addrlen) ==
		    0)
			goto connected;
		if (errno == EINPROGRESS)
			return;
		err = errno;
		close(up->fd);
		up->fd = -1;
	}
	forward_up_fail(st, 502, strerror(err != 0 ? err : ECONNREFUSED));
	return;
connected:
	(void)setsockopt(up->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(up->ai);
	up->ai = up->cur = NULL;
	if (client.opt->request_timeout > 0)
		up->deadline = util_now_ms() +
		    (uint64_t)client.opt->request_timeout * 1000;
	else
		up->deadline = 0;
	if (st->link->conf->tcp) {
		forward_up_tcp(st);
		return;
	}
	if (!st->link->conf->https) {
		up->phase = UP_HEAD;
		return;
	}
	if (forward_up_tls_start(st) != 0) {
		forward_up_fail(st, 502, "TLS set-up failed");
		return;
	}
	up->phase = UP_TLS;
}

static int
forward_up_tls_start(struct stream *st)
{
	struct upgrade		*up = st->up;
	const char		*host = st->link->conf->host;
	struct in6_addr		 a6;
	int			 r;

	if ((r = gnutls_certificate_allocate_credentials(&up->cred)) != 0) {
		up->cred = NULL;
		return TUN_ENOMEM;
	}
	if ((r = gnutls_init(&up->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) !=
	    0) {
		up->tls = NULL;
		return TUN_ENOMEM;
	}
	/* Local services use self-made certificates: not checked. */
	if (gnutls_set_default_priority(up->tls) != 0 ||
	    gnutls_credentials_set(up->tls, GNUTLS_CRD_CERTIFICATE,
	    up->cred) != 0)
		return TUN_EINVAL;
	if (inet_pton(AF_INET, host, &a6) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1)
		(void)gnutls_server_name_set(up->tls, GNUTLS_NAME_DNS, host,
		    strlen(host));
	gnutls_transport_set_int(up->tls, up->fd);
	return 0;
}

/* Bytes from the local service: > 0, 0 at EOF, TUN_EAGAIN or TUN_EIO. */
static ssize_t
forward_up_recv(struct upgrade *up, void *buf, size_t len)
{
	ssize_t	n;

	if (up->tls != NULL) {
		n = gnutls_record_recv(up->tls, buf, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return TUN_EAGAIN;
		if (n == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;
		return n < 0 ? TUN_EIO : n;
	}
	n = recv(up->fd, buf, len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR ? TUN_EAGAIN : TUN_EIO;
	return n;
}

static ssize_t
forward_up_send(struct upgrade *up, const void *buf, size_t len)
{
	ssize_t	n;

	if (up->tls != NULL) {
		/* After GNUTLS_E_AGAIN the same length is sent again. */
		if (up->wtry != 0)
			len = up->wtry;
		n = gnutls_record_send(up->tls, buf, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			up->wtry = len;
			return TUN_EAGAIN;
		}
		up->wtry = 0;
		return n < 0 ? TUN_EIO : n;
	}
	n = send(up->fd, buf, len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR ? TUN_EAGAIN : TUN_EIO;
	return n;
}

/* Which poll events the stream waits for; 0: none now. */
static short
forward_up_events(struct stream *st)
{
	struct upgrade	*up = st->up;
	short		 ev = 0;
	bool		 can_send, req;

	if (up == NULL || up->fd == -1)
		return 0;
	if (up->phase == UP_CONNECT)
		return POLLOUT;
	if (up->phase == UP_TLS)
		return !up->hs_started || gnutls_record_get_direction(up->tls) ?
		    POLLOUT : POLLIN;
	pthread_mutex_lock(&client.mtx);
	can_send = st->credit > 0 && client.outq_bytes < TC_OUTQ_MAX;
	req = tbuf_len(&st->req) > 0;
	pthread_mutex_unlock(&client.mtx);
	if (tbuf_len(&up->out) > 0 || (up->phase == UP_RELAY && req &&
	    !up->wr_shut))
		ev |= POLLOUT;
	if (up->phase == UP_HEAD || (!up->rd_eof && can_send &&
	    tbuf_len(&up->pend) == 0))
		ev |= POLLIN;
	return ev;
}

/*
 * TCP: connected to the local port.  RESPONSE 200 says so; then the bytes
 * flow both ways as after a 101.
 */
static void
forward_up_tcp(struct stream *st)
{
	struct proto_head	out;

	memset(&out, 0, sizeof(out));
	out.status = 200;
	out.content_length = -1;
	st->status = 200;
	st->head_done = true;
	forward_queue_head(st, &out, NULL, 0);
	st->up->phase = UP_RELAY;
	st->up->deadline = 0;
}

/*
 * Before the head: an error page (TCP: RESET, the caller's connection is
 * closed); after: RESET.  Then close.
 */
static void
forward_up_fail(struct stream *st, int status, const char *why)
{
	log_debug("stream %u: %s", st->id, why);
	if (st->link->conf->tcp && !st->head_done) {
		forward_reset(st, PROTO_RESET_REFUSED, why);
		log_warn("%s: %s", st->link->local_hostport, why);
	} else if (!st->resp_sent && !st->head_done)
		(void)forward_error_page(st, status, why);
	else {
		forward_reset(st, PROTO_RESET_CANCEL, why);
		forward_log(st);
	}
	forward_up_close(st);
}

/* The connection is over: close it; the stream may be freed now. */
static void
forward_up_close(struct stream *st)
{
	struct upgrade	*up = st->up;

	if (up == NULL)
		return;
	if (up->tls != NULL)
		gnutls_deinit(up->tls);
	if (up->cred != NULL)
		gnutls_certificate_free_credentials(up->cred);
	if (up->fd != -1)
		close(up->fd);
	if (up->ai != NULL)
		freeaddrinfo(up->ai);
	tbuf_free(&up->out);
	tbuf_free(&up->pend);
	httphead_free(&up->hh);
	free(up);
	st->up = NULL;
	st->easy_done = true;
}

/*
 * DATA toward the server if there is credit and room, else kept in pend
 * (the head's leftovers only: later reads never exceed the credit).
 */
static int
forward_up_emit(struct stream *st, const void *buf, size_t len)
{
	struct upgrade	*up = st->up;
	bool		 sent = false;

	if (len == 0)
		return 0;
	pthread_mutex_lock(&client.mtx);
	if (tbuf_len(&up->pend) == 0 && st->credit >= (int64_t)len &&
	    client.outq_bytes < TC_OUTQ_MAX) {
		forward_data_locked(st, buf, len);
		sent = true;
	}
	pthread_mutex_unlock(&client.mtx);
	if (sent) {
		forward_ws_wake();
		return 0;
	}
	return tbuf_put(&up->pend, buf, len);
}

/* Leftover bytes out first, as far as credit goes. */
static void
forward_up_flush(struct stream *st)
{
	struct upgrade	*up = st->up;
	size_t		 n;

	if (tbuf_len(&up->pend) == 0)
		goto out;
	pthread_mutex_lock(&client.mtx);
	n = tbuf_len(&up->pend);
	if (st->credit < (int64_t)n)
		n = st->credit > 0 ? (size_t)st->credit : 0;
	if (client.outq_bytes >= TC_OUTQ_MAX) {
		client.outq_blocked = true;
		n = 0;
	}
	if (n > 0) {
		forward_data_locked(st, tbuf_ptr(&up->pend), n);
		tbuf_consume(&up->pend, n);
	}
	if (tbuf_len(&up->pend) > 0)
		st->write_paused = true;
	pthread_mutex_unlock(&client.mtx);
	if (n > 0)
		forward_ws_wake();
out:
	if (tbuf_len(&up->pend) == 0 && up->rd_eof && up->phase == UP_RELAY)
		forward_up_end(st);
}

/* DATA messages for buf, within the credit; caller holds client.mtx. */
static void
forward_data_locked(struct stream *st, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	struct omsg	*m;
	size_t		 off, chunk;

	if (st->reset || !st->in_table)
		return;
	for (off = 0; off < len; off += chunk) {
		chunk = len - off > PROTO_MAX_DATA ? PROTO_MAX_DATA : len - off;
		m = ws_msg_data(st->id, p + off, chunk);
		ws_queue_locked(st->link, true, m);
	}
	st->credit -= (int64_t)len;
	st->bytes_out += len;
}

/* Our END: the local service is done sending. */
static void
forward_up_end(struct stream *st)
{
	struct upgrade	*up = st->up;
	struct omsg	*m;

	if (up->end_sent)
		return;
	up->end_sent = true;
	pthread_mutex_lock(&client.mtx);
	if (!st->reset && st->in_table) {
		m = ws_msg_new(PROTO_HDR_LEN, true);
		proto_put_hdr(m->buf + LWS_PRE, PROTO_END, 0, st->id);
		ws_queue_locked(st->link, true, m);
	}
	pthread_mutex_unlock(&client.mtx);
	forward_ws_wake();
}

/* A non-101 response is complete: END, and the connection closes. */
static void
forward_up_finish(struct stream *st)
{
	struct omsg	*m;
	size_t		 n;

	pthread_mutex_lock(&client.mtx);
	if (!st->reset && st->in_table) {
		m = ws_msg_new(PROTO_HDR_LEN, true);
		proto_put_hdr(m->buf + LWS_PRE, PROTO_END, 0, st->id);
		ws_queue_locked(st->link, true, m);
		st->local_done = st->curl_done = true;
		/* Nobody reads what the caller sent: credit it back. */
		if ((n = forward_req_drop_locked(st)) > 0)
			forward_send_window_locked(st, (uint32_t)n);
		if (st->req_end)
			forward_table_remove_locked(st);
	}
	pthread_mutex_unlock(&client.mtx);
	forward_ws_wake();
	st->complete = true;
	forward_log(st);
	forward_up_close(st);
}

/* The final head is in: RESPONSE, then relay (101) or the body. */
static int
forward_up_response(struct stream *st)
{
	struct upgrade		*up = st->up;
	struct proto_head	 out;
	const struct proto_header *h;
	size_t			 i;
	int			 kind;

	st->status = up->hh.head.status;
	st->head_done = true;
	if (st->status == 101) {
		memset(&out, 0, sizeof(out));
		out.status = 101;
		out.content_length = -1;
		for (i = 0; i < up->hh.head.nhdrs; i++) {
			h = &up->hh.head.hdrs[i];
			proto_head_add(&out, h->name, h->value);
		}
		forward_queue_head(st, &out, NULL, 0);
		proto_head_clear(&out);
		up->phase = UP_RELAY;
		up->deadline = 0;
		return 0;
	}
	if ((kind = httphead_body(&up->hh, st->open.method,
	    &up->left)) < 0) {
		st->head_done = false;
		forward_up_fail(st, 502, "bad Content-Length from the local "
		    "service");
		return TUN_EPROTO;
	}
	up->body = kind;
	/* Only a Content-Length body keeps Content-Length. */
	if (kind == HTTPHEAD_BODY_CHUNKED || kind == HTTPHEAD_BODY_EOF) {
		for (i = 0; i < up->hh.head.nhdrs; i++) {
			h = &up->hh.head.hdrs[i];
			if (strcasecmp(h->name, "Content-Length") == 0)
				h->name[0] = '\0';	/* dropped below */
		}
	}
	proto_head_clear(&st->resp);
	for (i = 0; i < up->hh.head.nhdrs; i++) {
		h = &up->hh.head.hdrs[i];
		if (h->name[0] != '\0')
			proto_head_add(&st->resp, h->name, h->value);
	}
	forward_respond(st);
	up->phase = UP_BODY;
	up->deadline = 0;
	if (kind == HTTPHEAD_BODY_NONE ||
	    (kind == HTTPHEAD_BODY_LENGTH && up->left == 0)) {
		forward_up_finish(st);
		return TUN_ECLOSED;
	}
	return 0;
}

/* Bytes read from the local service.  Non-zero: the stream is over. */
static int
forward_up_feed(struct stream *st, const uint8_t *buf, size_t len)
{
	struct upgrade	*up = st->up;
	size_t		 used, doff, dlen;
	int		 r;

	while (len > 0 && up->phase == UP_HEAD) {
		r = httphead_parse(&up->hh, buf, len, &used);
		if (r < 0) {
			forward_up_fail(st, 502, r == TUN_ETOOBIG ?
			    "response head too large" : "bad response head");
			return r;
		}
		buf += used;
		len -= used;
		if (r == 0)
			return 0;
		if (up->hh.head.status < 200 && up->hh.head.status != 101) {
			httphead_reset(&up->hh);	/* interim: skipped */
			continue;
		}
		if ((r = forward_up_response(st)) != 0)
			return r;
	}
	if (len == 0)
		return 0;
	if (up->phase == UP_RELAY || up->body == HTTPHEAD_BODY_EOF)
		return forward_up_emit(st, buf, len) == 0 ? 0 :
		    TUN_ETOOBIG;
	if (up->body == HTTPHEAD_BODY_LENGTH) {
		if ((uint64_t)len > (uint64_t)up->left)
			len = (size_t)up->left;
		up->left -= (int64_t)len;
		if (forward_up_emit(st, buf, len) != 0)
			return TUN_ETOOBIG;
		if (up->left == 0 && tbuf_len(&up->pend) == 0) {
			forward_up_finish(st);
			return TUN_ECLOSED;
		}
		return 0;
	}
	while (len > 0) {
		r = httpchunk_decode(&up->ck, buf, len, &used, &doff, &dlen);
		if (r < 0) {
			forward_up_fail(st, 502, "bad chunked body");
			return r;
		}
		if (dlen > 0 && forward_up_emit(st, buf + doff, dlen) != 0)
			return TUN_ETOOBIG;
		buf += used;
		len -= used;
		if (r == 1) {
			up->left = 0;
			up->body = HTTPHEAD_BODY_LENGTH;	/* done */
			if (tbuf_len(&up->pend) == 0) {
				forward_up_finish(st);
				return TUN_ECLOSED;
			}
			return 0;
		}
	}
	return 0;
}

/* Read what the credit allows.  Non-zero: the stream is over. */
static int
forward_up_read(struct stream *st)
{
	struct upgrade	*up = st->up;
	uint8_t		 buf[PROTO_MAX_DATA];
	size_t		 want;
	ssize_t		 n;
	int		 i, r;

	for (i = 0; i < FWD_UP_READS; i++) {
		forward_up_flush(st);
		if (tbuf_len(&up->pend) > 0)
			return 0;
		if (up->body == HTTPHEAD_BODY_LENGTH && up->left == 0 &&
		    up->phase == UP_BODY) {
			forward_up_finish(st);
			return TUN_ECLOSED;
		}
		if (up->rd_eof)
			return 0;
		want = sizeof(buf);
		if (up->phase != UP_HEAD) {
			pthread_mutex_lock(&client.mtx);
			if (st->credit < (int64_t)want)
				want = st->credit > 0 ? (size_t)st->credit : 0;
			if (client.outq_bytes >= TC_OUTQ_MAX) {
				client.outq_blocked = true;
				want = 0;
			}
			if (want == 0)
				st->write_paused = true;
			pthread_mutex_unlock(&client.mtx);
			if (want == 0)
				return 0;
		}
		if ((n = forward_up_recv(up, buf, want)) == TUN_EAGAIN)
			return 0;
		if (n < 0) {
			forward_up_fail(st, 502, "cannot read from the local "
			    "service");
			return TUN_EIO;
		}
		if (n == 0) {
			up->rd_eof = true;
			if (up->phase == UP_HEAD) {
				forward_up_fail(st, 502, "the local service "
				    "closed the connection");
				return TUN_ECLOSED;
			}
			if (up->phase == UP_RELAY) {
				forward_up_flush(st);
				return 0;
			}
			if (up->body == HTTPHEAD_BODY_EOF) {
				forward_up_finish(st);
				return TUN_ECLOSED;
			}
			forward_up_fail(st, 502, "the response was cut short");
			return TUN_ECLOSED;
		}
		if ((r = forward_up_feed(st, buf, (size_t)n)) != 0)
			return r;
	}
	return 0;
}

/* Write the head, then the caller's bytes; credit them back as written. */
static int
forward_up_write(struct stream *st)
{
	struct upgrade	*up = st->up;
	size_t		 n, written = 0;
	ssize_t		 w;
	bool		 end, wake = false;

	for (;;) {
		if (tbuf_len(&up->out) == 0 && up->phase == UP_RELAY) {
			pthread_mutex_lock(&client.mtx);
			n = tbuf_len(&st->req);
			if (n > PROTO_MAX_DATA)
				n = PROTO_MAX_DATA;
			if (n > 0) {
				(void)tbuf_put(&up->out, tbuf_ptr(&st->req), n);
				tbuf_consume(&st->req, n);
				ws_held_sub(n);
				/*
				 * Not credited yet: the window left for the
				 * server shrinks until it is (exact check of
				 * "DATA beyond the window" in ws.c).
				 */
				st->req.max -= n;
				if (tbuf_len(&st->req) == 0)
					tbuf_shrink(&st->req);
			}
			end = st->req_end && tbuf_len(&st->req) == 0;
			pthread_mutex_unlock(&client.mtx);
			if (n == 0 && end && !up->wr_shut) {
				/* END from the server: half-close. */
				if (up->tls != NULL)
					(void)gnutls_bye(up->tls,
					    GNUTLS_SHUT_WR);
				(void)shutdown(up->fd, SHUT_WR);
				up->wr_shut = true;
			}
		}
		if (tbuf_len(&up->out) == 0)
			break;
		w = forward_up_send(up, tbuf_ptr(&up->out),
		    tbuf_len(&up->out));
		if (w == TUN_EAGAIN)
			break;
		if (w < 0) {
			forward_up_fail(st, 502, "cannot write to the local "
			    "service");
			return TUN_EIO;
		}
		tbuf_consume(&up->out, (size_t)w);
		if (up->phase == UP_RELAY)
			written += (size_t)w;
	}
	if (tbuf_len(&up->out) == 0)
		tbuf_shrink(&up->out);
	if (written > 0) {
		pthread_mutex_lock(&client.mtx);
		st->unacked += (uint32_t)written;
		if (st->unacked >= TC_WINDOW / 4 || (tbuf_len(&st->req) == 0 &&
		    tbuf_len(&up->out) == 0)) {
			forward_send_window_locked(st, st->unacked);
			st->req.max += st->unacked;
			st->unacked = 0;
			wake = true;
		}
		pthread_mutex_unlock(&client.mtx);
		if (wake)
			forward_ws_wake();
	}
	return 0;
}

/* Move the connection along as far as it goes now. */
static void
forward_up_service(struct stream *st, short revents)
{
	struct upgrade	*up = st->up;
	int		 r;
	bool		 done;

	if (up->phase == UP_CONNECT) {
		if (revents == 0 && up->fd != -1)
			goto deadline;
		forward_up_connect(st);
		if ((up = st->up) == NULL || up->phase == UP_CONNECT)
			goto deadline;
	}
	if (up->phase == UP_TLS) {
		up->hs_started = true;
		r = gnutls_handshake(up->tls);
		if (r < 0 && gnutls_error_is_fatal(r)) {
			forward_up_fail(st, 502, gnutls_strerror(r));
			return;
		}
		if (r < 0)
			goto deadline;
		up->phase = UP_HEAD;
	}
	if (forward_up_write(st) != 0 || forward_up_read(st) != 0)
		return;
	/* Written what came in meanwhile; both halves over: close. */
	if (forward_up_write(st) != 0)
		return;
	if (up->phase == UP_RELAY) {
		pthread_mutex_lock(&client.mtx);
		done = up->end_sent && up->wr_shut &&
		    tbuf_len(&up->out) == 0 && st->req_end;
		if (done) {
			st->local_done = st->curl_done = true;
			forward_table_remove_locked(st);
		}
		pthread_mutex_unlock(&client.mtx);
		if (done) {
			st->complete = true;
			forward_log(st);
			forward_up_close(st);
		}
		return;
	}
deadline:
	if (st->up != NULL && st->up->deadline != 0 &&
	    util_now_ms() >= st->up->deadline)
		forward_up_fail(st, 504, up->phase == UP_HEAD ?
		    "no response in time" : "connect timed out");
}

/* Room for n entries in the poll set. */
static void
forward_poll_room(size_t n)
{
	if (n <= fwd_npoll)
		return;
	fwd_npoll = fwd_npoll == 0 ? 64 : fwd_npoll * 2;
	fwd_poll = xreallocarray(fwd_poll, fwd_npoll, sizeof(*fwd_poll));
	fwd_pollst = xreallocarray(fwd_pollst, fwd_npoll, sizeof(*fwd_pollst));
}

/* Poll set: the raw connections that wait for something. */
static int
forward_up_pollset(void)
{
	struct stream	*st;
	short		 ev;
	size_t		 n = 0;

	for (st = client.all; st != NULL; st = st->all_next) {
		if (st->up == NULL || (ev = forward_up_events(st)) == 0)
			continue;
		forward_poll_room(n + 1);
		fwd_poll[n].fd = st->up->fd;
		fwd_poll[n].events = ev;
		fwd_poll[n].revents = 0;
		fwd_pollst[n] = st;
		n++;
	}
	return (int)n;
}

/* After the poll: serve the ready ones and check deadlines. */
static void
forward_up_ready(int n)
{
	struct stream	*st;
	int		 i;

	for (i = 0; i < n; i++) {
		st = fwd_pollst[i];
		if (st->up == NULL)
			continue;
		if (fwd_poll[i].revents != 0 || (st->up->phase < UP_RELAY &&
		    st->up->deadline != 0)) {
			forward_up_service(st, fwd_poll[i].revents);
			forward_maybe_free(st);
		}
	}
}
