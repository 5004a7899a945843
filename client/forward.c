/*
 * Requests to the local service: a thread running a libcurl multi loop.
 *
 * The lws thread creates a stream on OPEN and hands it over through the
 * inbox (client.mtx + curl_multi_wakeup); this thread makes the easy handle
 * and turns curl's callbacks into RESPONSE, DATA and END on the link's
 * queues.  Nothing holds a whole body: the request body waits in a buffer
 * bounded by our window, the response body goes out as curl delivers it,
 * and the write callback pauses the transfer when the stream has no send
 * credit or the queues are over TC_OUTQ_MAX.  Only this thread calls curl
 * and frees streams.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define FWD_PAGE_MAX	2048

static void	*forward_main(void *);
static void	 forward_drain(void);
static void	 forward_process(struct stream *);
static void	 forward_begin(struct stream *);
static void	 forward_headers(struct stream *);
static void	 forward_reap(void);
static void	 forward_done(struct stream *, CURLcode);
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
static struct curl_slist *forward_slist(struct curl_slist *, const char *);

int
forward_start(void)
{
	if ((client.multi = curl_multi_init()) == NULL)
		return TUN_ENOMEM;
	if (pthread_create(&client.fwd_thread, NULL, forward_main, NULL) != 0)
		return TUN_EIO;
	client.fwd_running = true;
	return 0;
}

/* After client_stop(): join the thread, then free every stream. */
void
forward_stop(void)
{
	struct stream	*st, *next;
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
	st = client.inbox_head;
	client.inbox_head = client.inbox_tail = NULL;
	pthread_mutex_unlock(&client.mtx);
	for (; st != NULL; st = next) {
		next = st->inbox_next;
		st->in_inbox = false;
		if (!st->in_all)
			forward_free(st);
	}
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
}

void
forward_wake(void)
{
	if (client.multi != NULL)
		curl_multi_wakeup(client.multi);
}

static void *
forward_main(void *arg)
{
	int	running;

	while (!client_stopping()) {
		forward_drain();
		curl_multi_perform(client.multi, &running);
		forward_reap();
		curl_multi_poll(client.multi, NULL, 0, 1000, NULL);
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

	for (st = l->tab[id % TC_TABLE_SIZE]; st != NULL; st = st->tab_next)
		if (st->id == id)
			return st;
	return NULL;
}

void
forward_table_add_locked(struct stream *st)
{
	struct stream	**bucket = &st->link->tab[st->id % TC_TABLE_SIZE];

	st->tab_next = *bucket;
	*bucket = st;
	st->in_table = true;
}

/* Out of the table: the curl thread looks at it again and frees it. */
void
forward_table_remove_locked(struct stream *st)
{
	struct stream	**pp;

	if (!st->in_table)
		return;
	for (pp = &st->link->tab[st->id % TC_TABLE_SIZE]; *pp != NULL;
	    pp = &(*pp)->tab_next) {
		if (*pp == st) {
			*pp = st->tab_next;
			break;
		}
	}
	st->in_table = false;
	st->tab_next = NULL;
	forward_inbox_locked(st);
}

void
forward_inbox_locked(struct stream *st)
{
	if (st->in_inbox)
		return;
	st->in_inbox = true;
	st->inbox_next = NULL;
	if (client.inbox_tail != NULL)
		client.inbox_tail->inbox_next = st;
	else
		client.inbox_head = st;
	client.inbox_tail = st;
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
	forward_table_remove_locked(st);
	forward_inbox_locked(st);
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

/* --- the curl thread ------------------------------------------------- */

static void
forward_drain(void)
{
	struct stream	*st, *next, *list;
	bool		 kick;

	pthread_mutex_lock(&client.mtx);
	list = client.inbox_head;
	client.inbox_head = client.inbox_tail = NULL;
	for (st = list; st != NULL; st = st->inbox_next)
		st->in_inbox = false;
	kick = client.kick_all;
	client.kick_all = false;
	pthread_mutex_unlock(&client.mtx);

	for (st = list; st != NULL; st = next) {
		next = st->inbox_next;
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
		if (st->write_paused && st->credit > 0 &&
		    client.outq_bytes < TC_OUTQ_MAX) {
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
	if (st->easy == NULL && !st->easy_done) {
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
	proto_head_clear(&st->open);
	proto_head_clear(&st->resp);
	tbuf_free(&st->req);
	curl_slist_free_all(st->hdrs);
	free(st->sent_host);
	free(st);
}

static void
forward_drop_easy(struct stream *st)
{
	curl_multi_remove_handle(client.multi, st->easy);
	curl_easy_cleanup(st->easy);
	st->easy = NULL;
	st->easy_done = true;
	curl_slist_free_all(st->hdrs);
	st->hdrs = NULL;
}

static struct curl_slist *
forward_slist(struct curl_slist *list, const char *s)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(list, s)) == NULL)
		fatalx("curl_slist_append: out of memory");
	return n;
}

/*
 * The request head for curl: the caller's headers less hop-by-hop ones,
 * Host per --host-header, and none of curl's own additions.
 */
static void
forward_headers(struct stream *st)
{
	const struct tunnel_conf	*t = st->link->conf;
	const struct proto_header	*h;
	const char			*conn, *host;
	char				*line;
	size_t				 i;
	bool				 accept = false;

	conn = proto_head_get(&st->open, "Connection");
	for (i = 0; i < st->open.nhdrs; i++) {
		h = &st->open.hdrs[i];
		if (strcasecmp(h->name, "Host") == 0 ||
		    strcasecmp(h->name, "Content-Length") == 0 ||
		    strcasecmp(h->name, "Expect") == 0 ||
		    httphdr_hop_by_hop(h->name, conn))
			continue;
		if (strcasecmp(h->name, "Accept") == 0)
			accept = true;
		if (h->value[0] == '\0')
			xasprintf(&line, "%s;", h->name);
		else
			xasprintf(&line, "%s: %s", h->name, h->value);
		st->hdrs = forward_slist(st->hdrs, line);
		free(line);
	}
	if (strcmp(t->host_header, "rewrite") == 0)
		host = st->link->local_hostport;
	else if (strcmp(t->host_header, "preserve") == 0) {
		if ((host = proto_head_get(&st->open, "Host")) == NULL)
			host = st->link->local_hostport;
	} else
		host = t->host_header;
	st->sent_host = xstrdup(host);
	xasprintf(&line, "Host: %s", host);
	st->hdrs = forward_slist(st->hdrs, line);
	free(line);
	if (!accept)
		st->hdrs = forward_slist(st->hdrs, "Accept:");
	st->hdrs = forward_slist(st->hdrs, "Expect:");
}

static void
forward_begin(struct stream *st)
{
	const struct options	*o = client.opt;
	const char		*method = st->open.method;
	char			*url;
	CURL			*e;
	bool			 upload;

	if ((e = curl_easy_init()) == NULL) {
		st->easy_done = true;
		(void)forward_error_page(st, 502, "out of memory");
		return;
	}
	forward_headers(st);
	xasprintf(&url, "%s/", st->link->local_url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_REQUEST_TARGET, st->open.path);
	curl_easy_setopt(e, CURLOPT_PRIVATE, st);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, forward_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, forward_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, st->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout);
	if (o->request_timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)o->request_timeout);
	if (st->link->conf->https) {
		/* Local services use self-made certificates: not checked. */
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	upload = st->open.body || (st->open.content_length >= 0 &&
	    strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || upload)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (upload) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, forward_read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, st);
		if (st->open.content_length >= 0)
			curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)st->open.content_length);
	}
	st->easy = e;
	if (curl_multi_add_handle(client.multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
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
	const char	*errstr;
	char		*colon, line[12];
	size_t		 len = size * n, nl, vl;
	const char	*v;

	if (st->head_done)
		return len;		/* trailers */
	nl = len;
	while (nl > 0 && (buf[nl - 1] == '\n' || buf[nl - 1] == '\r'))
		nl--;
	if (nl >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		proto_head_clear(&st->resp);
		st->status = 0;
		if ((v = memchr(buf, ' ', nl)) != NULL &&
		    (size_t)(buf + nl - v) >= 4) {
			memcpy(line, v + 1, 3);
			line[3] = '\0';
			st->status = (int)util_strtonum(line, 100, 999,
			    &errstr);
		}
		return len;
	}
	if (nl == 0) {
		if (st->status >= 200) {
			st->head_done = true;
			forward_respond(st);
		}
		return len;
	}
	if (buf[0] == ' ' || buf[0] == '\t' || st->status == 0 ||
	    st->resp.nhdrs >= PROTO_MAX_HEADERS ||
	    (colon = memchr(buf, ':', nl)) == NULL)
		return len;		/* folded, stray or too many: dropped */
	v = colon + 1;
	vl = nl - (size_t)(v - buf);
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	proto_head_addn(&st->resp, buf, (size_t)(colon - buf), v, vl);
	/* Invalid names or values: dropped again. */
	if (!httphdr_valid_name(st->resp.hdrs[st->resp.nhdrs - 1].name) ||
	    !httphdr_valid_value(v, vl) || memchr(v, '\0', vl) != NULL) {
		st->resp.nhdrs--;
		free(st->resp.hdrs[st->resp.nhdrs].name);
		free(st->resp.hdrs[st->resp.nhdrs].value);
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
		d = ws_msg_new(PROTO_HDR_LEN + len, true);
		proto_put_hdr(d->buf + LWS_PRE, PROTO_DATA, 0, st->id);
		memcpy(d->buf + LWS_PRE + PROTO_HDR_LEN, body, len);
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
	ws_wake();
}

/* Body bytes from the local service: DATA, or pause until credit. */
static size_t
forward_write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct stream	*st = arg;
	struct omsg	*m;
	size_t		 len = size * n, off, chunk;

	pthread_mutex_lock(&client.mtx);
	if (st->reset || st->local_done || !st->resp_sent ||
	    len > st->link->peer_window) {
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
	for (off = 0; off < len; off += chunk) {
		chunk = len - off > PROTO_MAX_DATA ? PROTO_MAX_DATA : len - off;
		m = ws_msg_new(PROTO_HDR_LEN + chunk, true);
		proto_put_hdr(m->buf + LWS_PRE, PROTO_DATA, 0, st->id);
		memcpy(m->buf + LWS_PRE + PROTO_HDR_LEN, buf + off, chunk);
		ws_queue_locked(st->link, true, m);
	}
	st->credit -= (int64_t)len;
	st->bytes_out += len;
	pthread_mutex_unlock(&client.mtx);
	ws_wake();
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
	if ((len = tbuf_len(&st->req)) == 0) {
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
	memcpy(buf, tbuf_ptr(&st->req), len);
	tbuf_consume(&st->req, len);
	st->unacked += (uint32_t)len;
	/* Credit back in batches, or when drained. */
	if (!st->req_end && (st->unacked >= TC_WINDOW / 4 ||
	    tbuf_len(&st->req) == 0)) {
		forward_send_window_locked(st, st->unacked);
		st->unacked = 0;
		wake = true;
	}
	if (tbuf_len(&st->req) == 0)
		tbuf_shrink(&st->req);
	pthread_mutex_unlock(&client.mtx);
	if (wake)
		ws_wake();
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
	}
	pthread_mutex_unlock(&client.mtx);
	ws_wake();
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
	ws_wake();
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
 * "GET /path 200 12ms", once per stream; "reset" when the response was
 * cut short or never came.
 */
static void
forward_log(struct stream *st)
{
	char		 path[256], code[32];
	const char	*p = st->open.path != NULL ? st->open.path : "";
	size_t		 i;
	bool		 whole;

	if (st->logged || client.opt->quiet)
		return;
	st->logged = true;
	for (i = 0; p[i] != '\0' && i < sizeof(path) - 1; i++)
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
	client_say("%s %s %s %llums", st->open.method != NULL ?
	    st->open.method : "?", path, code,
	    (unsigned long long)(util_now_ms() - st->started_ms));
}
