/*
 * The link to the server: one libwebsockets client connection per tunnel,
 * served by the main thread.
 *
 * Each link connects to /api/tunnel/connect/{id} with its token, sends
 * HELLO, and dispatches the server's messages: stream news goes to the
 * curl thread (forward.c) under client.mtx.  Outgoing messages wait in the
 * link's two queues (control first, then DATA and END).  Each WRITEABLE
 * callback frames a batch of them itself (masked with fresh keys, 8 bytes
 * at a time) into one buffer and hands it to lws as raw bytes: one send()
 * for many messages, and none of lws's byte-at-a-time masking.  A lost
 * link is retried forever with
 * exponential backoff and jitter; a refused token makes a new tunnel.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "wsframe.h"
#include "xmalloc.h"

/*
 * One WRITEABLE callback sends up to WS_TX_BATCH bytes of messages; the
 * buffer also holds one whole message past it and the frame headers.
 */
#define WS_TX_BATCH	(128 * 1024)
#define WS_TX_FRAMES	64
#define WS_TX_SIZE	(LWS_PRE + WS_TX_BATCH + PROTO_MAX_MSG + \
			    WS_TX_FRAMES * WS_MAX_HEADER)
#define WS_MASK_POOL	1024	/* bytes of masking keys fetched at once */

static int	 ws_callback(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static void	 ws_log_emit(int, const char *);
static void	 ws_connect_cb(lws_sorted_usec_list_t *);
static void	 ws_connect(struct link *);
static int	 ws_acquire(struct link *);
static void	 ws_schedule(struct link *, bool);
static void	 ws_link_down(struct link *, const char *);
static int	 ws_established(struct link *);
static int	 ws_receive(struct link *, struct lws *, const void *, size_t);
static int	 ws_writeable(struct link *, struct lws *);
static int	 ws_message(struct link *, const uint8_t *, size_t);
static int	 ws_hello(struct link *, struct proto_msg *);
static int	 ws_open(struct link *, struct proto_msg *, bool *);
static void	 ws_stream_msg(struct link *, struct proto_msg *, bool *);
static void	 ws_goaway(struct link *, struct proto_msg *);
static void	 ws_served(struct link *, const char *);
static void	 ws_send_attach(struct link *);
static struct link *ws_find(const char *);
static void	 ws_attached(struct proto_msg *);
static void	 ws_detach(struct proto_msg *);
static void	 ws_drop(struct link *, int, const char *);
static struct omsg *ws_pop_locked(struct link *);
static size_t	 ws_frame_into(uint8_t *, const struct omsg *);

static uint8_t	*ws_txbuf;		/* the lws thread's frame buffer */
static uint8_t	 ws_masks[WS_MASK_POOL];
static size_t	 ws_masks_used = WS_MASK_POOL;
static bool	 ws_fwd_due;		/* stream news for the curl thread */
static bool	 ws_pending(struct link *);

static const struct lws_protocols ws_protocols[] = {
	{ "tunnel", ws_callback, 0, TC_RX_BUFFER, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const lws_retry_bo_t ws_retry = {
	.secs_since_valid_ping = TC_PING_SECS,
	.secs_since_valid_hangup = TC_HANGUP_SECS
};

/* lws messages go to our log; certificate failures are remembered. */
static void
ws_log_emit(int level, const char *line)
{
	char	buf[512];
	size_t	n;

	util_strlcpy(buf, line, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (level & LLL_ERR) {
		if (strstr(buf, "SSL error") != NULL &&
		    (strstr(buf, "certificate") != NULL ||
		    strstr(buf, "hostname mismatch") != NULL ||
		    strstr(buf, "issuer") != NULL))
			client.cert_error = true;
		log_error("lws: %s", buf);
	} else if (level & LLL_WARN)
		log_warn("lws: %s", buf);
	else
		log_debug("lws: %s", buf);
}

int
ws_init(void)
{
	struct lws_context_creation_info	 info;
	const struct options			*o = client.opt;
	int					 levels = LLL_ERR | LLL_WARN;

	if (o->verbose >= 1)
		levels |= LLL_NOTICE;
	if (o->verbose >= 2)
		levels |= LLL_INFO | LLL_DEBUG | LLL_CLIENT;
	lws_set_log_level(levels, ws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.fd_limit_per_thread = 1 + 4 * TC_MAX_TUNNELS;
	if (o->ca_file != NULL)
		info.client_ssl_ca_filepath = o->ca_file;
	if ((client.ctx = lws_create_context(&info)) == NULL)
		return TUN_EIO;
	ws_txbuf = xmalloc(WS_TX_SIZE);
	lws_sul_schedule(client.ctx, 0, &client.links[0].sul, ws_connect_cb, 1);
	return 0;
}

void
ws_run(void)
{
	while (!client_stopping()) {
		if (lws_service(client.ctx, 0) < 0)
			break;
		/* One wake-up for all the messages of this round. */
		if (ws_fwd_due) {
			ws_fwd_due = false;
			forward_wake();
		}
	}
}

void
ws_free(void)
{
	size_t	i;

	if (client.ctx == NULL)
		return;
	lws_sul_cancel(&client.links[0].sul);
	lws_context_destroy(client.ctx);
	client.ctx = NULL;
	free(ws_txbuf);
	ws_txbuf = NULL;
	pthread_mutex_lock(&client.mtx);
	for (i = 0; i < client.nlinks; i++)
		ws_queue_free_locked(&client.links[i]);
	pthread_mutex_unlock(&client.mtx);
}

/* From any thread: run the lws loop once (queues, stop). */
void
ws_wake(void)
{
	if (client.ctx != NULL)
		lws_cancel_service(client.ctx);
}

struct omsg *
ws_msg_new(size_t len, bool data)
{
	struct omsg	*m;

	m = xmalloc(sizeof(*m) + LWS_PRE + len);
	m->next = NULL;
	m->len = len;
	m->data = data;
	return m;
}

/*
 * Queue one message for a tunnel, on the connection; the caller wakes lws
 * afterwards.
 */
void
ws_queue_locked(struct link *l, bool data, struct omsg *m)
{
	struct oqueue	*q;

	l = l->conn;
	q = data ? &l->data : &l->ctrl;

	if (!l->connected) {
		free(m);
		return;
	}
	m->data = data;
	if (data)
		client.outq_bytes += m->len;
	m->next = NULL;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
}

void
ws_queue_free_locked(struct link *l)
{
	struct oqueue	*qs[2] = { &l->ctrl, &l->data };
	struct omsg	*m;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		while ((m = qs[i]->head) != NULL) {
			qs[i]->head = m->next;
			if (m->data)
				client.outq_bytes -= m->len;
			free(m);
		}
		qs[i]->tail = NULL;
	}
}

/* Anything to write on a connected link? */
static bool
ws_pending(struct link *l)
{
	bool	pending;

	pthread_mutex_lock(&client.mtx);
	pending = l->connected && (l->ctrl.head != NULL || l->data.head != NULL);
	pthread_mutex_unlock(&client.mtx);
	return pending;
}

static struct omsg *
ws_pop_locked(struct link *l)
{
	struct oqueue	*q = l->ctrl.head != NULL ? &l->ctrl : &l->data;
	struct omsg	*m;

	if ((m = q->head) == NULL)
		return NULL;
	if ((q->head = m->next) == NULL)
		q->tail = NULL;
	if (m->data)
		client.outq_bytes -= m->len;
	return m;
}

static void
ws_connect_cb(lws_sorted_usec_list_t *sul)
{
	ws_connect(lws_container_of(sul, struct link, sul));
}

/* Next attempt: 0.5 s doubling to 30 s, +-25% jitter. */
static void
ws_schedule(struct link *l, bool now)
{
	uint32_t	 base, rnd = 0;
	uint64_t	 ms;

	if (client_stopping())
		return;
	base = TC_BACKOFF_MIN_MS << (l->attempts < 6 ? l->attempts : 6);
	if (base > TC_BACKOFF_MAX_MS)
		base = TC_BACKOFF_MAX_MS;
	if (l->attempts < UINT16_MAX)
		l->attempts++;
	(void)util_random(&rnd, sizeof(rnd));
	ms = (uint64_t)base * 3 / 4 + (uint64_t)rnd % (base / 2 + 1);
	if (now)
		ms = 0;
	else
		log_info("trying again in %.1f s", (double)ms / 1000);
	lws_sul_schedule(client.ctx, 0, &l->sul, ws_connect_cb,
	    (lws_usec_t)ms * LWS_US_PER_MS + 1);
}

/*
 * Know the tunnel: a saved one, or a new one from the API.  Returns 0,
 * TUN_EAGAIN (try again later) or TUN_ECLOSED (stopping).
 */
static int
ws_acquire(struct link *l)
{
	const struct options	*o = client.opt;
	char			 err[512];
	int			 r;

	if (!o->fresh && !l->stale && l->state_path != NULL &&
	    cstate_load(l->state_path, o->server, &l->info) == 0) {
		log_debug("reusing the saved tunnel %s", l->info.tunnel_id);
		goto known;
	}
	if (o->api_key == NULL) {
		fprintf(stderr, "%s: no API key: give --api-key KEY or set "
		    "TUNNEL_API_KEY\n", TC_NAME);
		client_stop(2);
		return TUN_ECLOSED;
	}
	r = api_create(o, &client.srv, l->conf, &l->info, err, sizeof(err));
	switch (r) {
	case 0:
		break;
	case TUN_EPERM:
		fprintf(stderr, "%s: the server rejected the API key (check "
		    "--api-key or TUNNEL_API_KEY)\n", TC_NAME);
		client_stop(1);
		return TUN_ECLOSED;
	case TUN_EINVAL:
		fprintf(stderr, "%s: cannot create the tunnel: %s\n", TC_NAME,
		    err);
		client_stop(1);
		return TUN_ECLOSED;
	case TUN_ECLOSED:
		return r;
	default:
		log_warn("cannot create the tunnel at %s: %s",
		    client.srv.base, err);
		return TUN_EAGAIN;
	}
	l->stale = false;
	if (l->state_path != NULL)
		(void)cstate_save(l->state_path, o->server, &l->info);
known:
	link_say(l, "Tunnel ID: %s", l->info.tunnel_id);
	if (l->conf->tcp)
		link_say(l, "Public address: %s", l->info.url);
	else
		link_say(l, "Public URL: %s", l->info.url);
	return 0;
}

static void
ws_connect(struct link *l)
{
	struct lws_client_connect_info	 ci;
	struct link			*t;
	char				 path[1200], hosthdr[300];
	size_t				 i;

	if (client_stopping() || l->wsi != NULL)
		return;
	/*
	 * Know every tunnel; the connection goes to the first one still
	 * wanted, and the others are attached once it is up.
	 */
	client.primary = NULL;
	for (i = 0; i < client.nlinks; i++) {
		t = &client.links[i];
		if (t->dropped)
			continue;
		if (t->info.tunnel_id == NULL && ws_acquire(t) != 0) {
			ws_schedule(l, false);
			return;
		}
		if (client.primary == NULL)
			client.primary = t;
	}
	if (client.primary == NULL) {
		client_stop(1);
		return;
	}
	if (snprintf(path, sizeof(path), "%s/api/tunnel/connect/%s",
	    client.srv.prefix, client.primary->info.tunnel_id) >=
	    (int)sizeof(path))
		fatalx("connect path too long");
	memset(&ci, 0, sizeof(ci));
	ci.context = client.ctx;
	ci.address = client.srv.host;
	ci.port = client.srv.port;
	ci.path = path;
	/* Host with its port (RFC 9110); TLS keeps the bare name for SNI. */
	if (!client.srv.tls && client.srv.port != 80 &&
	    snprintf(hosthdr, sizeof(hosthdr), strchr(client.srv.host, ':') ?
	    "[%s]:%d" : "%s:%d", client.srv.host, client.srv.port) <
	    (int)sizeof(hosthdr))
		ci.host = hosthdr;
	else
		ci.host = client.srv.host;
	ci.origin = client.srv.host;
	ci.local_protocol_name = ws_protocols[0].name;
	ci.retry_and_idle_policy = &ws_retry;
	ci.opaque_user_data = l;
	ci.pwsi = &l->wsi;
	if (client.srv.tls) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (client.opt->insecure)
			ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
			    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
			    LCCSCF_ALLOW_INSECURE;
	}
	log_debug("connecting to %s%s", client.srv.base, path +
	    strlen(client.srv.prefix));
	if (lws_client_connect_via_info(&ci) == NULL) {
		l->wsi = NULL;
		ws_schedule(l, false);
	}
}

/* The link is gone: every stream on it is over. */
static void
ws_link_down(struct link *l, const char *why)
{
	struct stream	*st;
	size_t		 i;
	bool		 was_up = l->hello_done;

	l->wsi = NULL;
	for (i = 0; i < client.nlinks; i++)
		client.links[i].attached = false;
	pthread_mutex_lock(&client.mtx);
	l->connected = false;
	ws_queue_free_locked(l);
	for (i = 0; i < TC_TABLE_SIZE; i++) {
		while ((st = l->tab[i]) != NULL) {
			st->reset = true;
			forward_table_remove_locked(st);
		}
	}
	pthread_mutex_unlock(&client.mtx);
	forward_wake();
	if (was_up && util_now_ms() - l->up_ms >= TC_STABLE_MS)
		l->attempts = 0;
	l->hello_done = false;
	l->rx_partial = false;
	tbuf_reset(&l->rx);
	tbuf_shrink(&l->rx);
	if (client_stopping())
		return;
	if (was_up)
		log_warn("lost the connection to the server (%s)", why);
	else
		log_warn("cannot connect to %s: %s", client.srv.base, why);
}

static int
ws_established(struct link *l)
{
	struct proto_hello	 h;
	struct tbuf		 b;
	struct omsg		*m;
	int			 r;

	memset(&h, 0, sizeof(h));
	h.version = PROTOCOL_VERSION;
	h.window = TC_WINDOW;
	h.agent = (char *)(uintptr_t)(TC_NAME "/" PACKAGE_VERSION);
	h.agent_id = client.opt->agent_id;
	tbuf_init(&b, PROTO_MAX_MSG);
	if ((r = proto_encode_hello(&b, &h)) == 0) {
		m = ws_msg_new(tbuf_len(&b), false);
		memcpy(m->buf + LWS_PRE, tbuf_ptr(&b), tbuf_len(&b));
		pthread_mutex_lock(&client.mtx);
		l->connected = true;
		l->peer_window = PROTO_MIN_WINDOW;
		ws_queue_locked(l, false, m);
		pthread_mutex_unlock(&client.mtx);
	}
	tbuf_free(&b);
	l->hello_done = false;
	l->rx_partial = false;
	tbuf_reset(&l->rx);
	return r;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct link	*l = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	struct link	*t;
	unsigned char	**p, *end;
	char		  auth[1024];
	const char	 *err;
	unsigned int	  status;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (l == NULL)
			break;
		p = (unsigned char **)in;
		end = *p + len;
		if (client.primary == NULL || snprintf(auth, sizeof(auth),
		    "Bearer %s", client.primary->info.token) >=
		    (int)sizeof(auth))
			return -1;
		if (lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"Authorization:",
		    (const unsigned char *)auth, (int)strlen(auth), p, end) ||
		    lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"X-Tunnel-Protocol:",
		    (const unsigned char *)"1", 1, p, end)) {
			explicit_bzero(auth, sizeof(auth));
			return -1;
		}
		explicit_bzero(auth, sizeof(auth));
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (l == NULL)
			return -1;
		log_debug("WebSocket established");
		if (ws_established(l) != 0)
			return -1;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (l == NULL)
			break;
		err = in != NULL ? (const char *)in : "unknown error";
		status = lws_http_client_http_response(wsi);
		ws_link_down(l, err);
		if (client.cert_error) {
			fprintf(stderr, "%s: the server's certificate failed "
			    "verification; give its CA with --ca-file, or use "
			    "--insecure\n", TC_NAME);
			client_stop(1);
			break;
		}
		if (status == 403) {
			/* The server's deny list: waiting will not help. */
			fprintf(stderr, "%s: the server refused tunnel %s "
			    "(HTTP 403: the tunnel or this address is "
			    "denied)\n", TC_NAME,
			    client.primary->info.tunnel_id != NULL ?
			    client.primary->info.tunnel_id : "?");
			client_stop(1);
			break;
		}
		if (strstr(err, "unauthorized") != NULL || status == 401 ||
		    status == 404) {
			/* The saved token or tunnel is gone: make a new one. */
			t = client.primary;
			log_warn("the server refused tunnel %s; creating it "
			    "again", t->info.tunnel_id);
			if (t->state_path != NULL)
				cstate_remove(t->state_path);
			tunnel_info_clear(&t->info);
			t->stale = true;
		}
		ws_schedule(l, false);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (l == NULL)
			break;
		ws_link_down(l, "closed");
		ws_schedule(l, false);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Gone without ERROR or CLOSED, e.g. a handshake timeout. */
		if (l == NULL || l->wsi != wsi)
			break;
		ws_link_down(l, "timed out");
		ws_schedule(l, false);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (l == NULL)
			return -1;
		return ws_receive(l, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (l == NULL)
			return -1;
		return ws_writeable(l, wsi);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		l = &client.links[0];
		if (l->wsi != NULL && ws_pending(l))
			lws_callback_on_writable(l->wsi);
		break;
	default:
		break;
	}
	return 0;
}

/* Fragments and rx-buffer pieces put together into whole messages. */
static int
ws_receive(struct link *l, struct lws *wsi, const void *in, size_t len)
{
	bool	final = lws_is_final_fragment(wsi);
	int	r;

	if (!lws_frame_is_binary(wsi) && !l->rx_partial) {
		log_warn("the server sent a text message");
		lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
		    NULL, 0);
		return -1;
	}
	if (!l->rx_partial && final)
		r = ws_message(l, in, len);
	else {
		if (tbuf_put(&l->rx, in, len) != 0) {
			log_warn("a message from the server is too large");
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			    NULL, 0);
			return -1;
		}
		l->rx_partial = !final;
		r = 0;
		if (final) {
			r = ws_message(l, tbuf_ptr(&l->rx), tbuf_len(&l->rx));
			tbuf_reset(&l->rx);
			tbuf_shrink(&l->rx);
		}
	}
	if (r != 0) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
		return -1;
	}
	if (client_stopping()) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * One masked binary frame for m at out; returns its length.  RFC 6455
 * wants an unpredictable key per frame: they come from GnuTLS's nonce
 * generator, a pool at a time.
 */
static size_t
ws_frame_into(uint8_t *out, const struct omsg *m)
{
	const uint8_t	*key;
	size_t		 n;

	if (ws_masks_used + 4 > sizeof(ws_masks)) {
		if (gnutls_rnd(GNUTLS_RND_NONCE, ws_masks,
		    sizeof(ws_masks)) != 0)
			fatalx("gnutls_rnd failed");
		ws_masks_used = 0;
	}
	key = ws_masks + ws_masks_used;
	ws_masks_used += 4;
	n = wsframe_header(out, WS_OP_BINARY, true, m->len, key);
	memcpy(out + n, m->buf + LWS_PRE, m->len);
	wsframe_mask(out + n, m->len, key, 0);
	return n + m->len;
}

/*
 * A batch of messages per callback, framed here and written as raw bytes
 * (lws queues what the socket does not take, and calls back only when
 * that has gone); come back if there is more.
 */
static int
ws_writeable(struct link *l, struct lws *wsi)
{
	struct omsg	*m, *batch = NULL, **tail = &batch;
	uint8_t		*out = ws_txbuf + LWS_PRE;
	size_t		 len = 0, took = 0, frames = 0;
	bool		 more, kick = false;
	int		 n;

	/* Take the batch under the lock; copy and mask it without. */
	pthread_mutex_lock(&client.mtx);
	while (took < WS_TX_BATCH && frames < WS_TX_FRAMES &&
	    (m = ws_pop_locked(l)) != NULL) {
		took += m->len;
		frames++;
		*tail = m;
		tail = &m->next;
	}
	*tail = NULL;
	more = l->ctrl.head != NULL || l->data.head != NULL;
	if (client.outq_blocked && client.outq_bytes < TC_OUTQ_LOW) {
		client.outq_blocked = false;
		client.kick_all = true;
		kick = true;
	}
	pthread_mutex_unlock(&client.mtx);
	if (kick)
		forward_wake();
	while ((m = batch) != NULL) {
		batch = m->next;
		len += ws_frame_into(out + len, m);
		free(m);
	}
	if (len == 0)
		return 0;
	n = lws_write(wsi, out, len, LWS_WRITE_RAW);
	if (n < 0 || (size_t)n != len) {
		log_warn("WebSocket write failed");
		return -1;
	}
	if (more)
		lws_callback_on_writable(wsi);
	return 0;
}

/* One protocol message from the server.  Non-zero: drop the link. */
static int
ws_message(struct link *l, const uint8_t *buf, size_t len)
{
	struct proto_msg	m;
	bool			wake = false;
	int			r;

	if ((r = proto_parse(buf, len, &m)) != 0) {
		log_warn("bad message from the server: %s", tunerr_str(r));
		return r;
	}
	log_debug("<- %s stream %u", proto_type_str(m.type), m.stream_id);
	if (m.type == PROTO_HELLO)
		r = ws_hello(l, &m);
	else if (!l->hello_done) {
		log_warn("the server sent %s before HELLO",
		    proto_type_str(m.type));
		r = TUN_EPROTO;
	} else if (m.type == PROTO_GOAWAY)
		ws_goaway(l, &m);
	else if (m.type == PROTO_ATTACHED)
		ws_attached(&m);
	else if (m.type == PROTO_DETACH)
		ws_detach(&m);
	else if (m.type == PROTO_OPEN)
		r = ws_open(l, &m, &wake);
	else if (m.type == PROTO_DATA || m.type == PROTO_END ||
	    m.type == PROTO_RESET || m.type == PROTO_WINDOW)
		ws_stream_msg(l, &m, &wake);
	else {
		log_warn("unexpected %s from the server",
		    proto_type_str(m.type));
		r = TUN_EPROTO;
	}
	proto_msg_clear(&m);
	if (wake)
		ws_fwd_due = true;
	if (l->wsi != NULL && ws_pending(l))
		lws_callback_on_writable(l->wsi);
	return r;
}

static int
ws_hello(struct link *l, struct proto_msg *m)
{
	struct link	*t = client.primary;
	size_t		 i;

	if (l->hello_done) {
		log_warn("second HELLO from the server");
		return TUN_EPROTO;
	}
	if (m->hello.version != PROTOCOL_VERSION) {
		log_error("the server speaks protocol %d, not %d",
		    m->hello.version, PROTOCOL_VERSION);
		return TUN_EPROTO;
	}
	if (m->hello.tunnel_id != NULL &&
	    strcmp(m->hello.tunnel_id, t->info.tunnel_id) != 0)
		log_warn("the server says this is tunnel %s, not %s",
		    m->hello.tunnel_id, t->info.tunnel_id);
	pthread_mutex_lock(&client.mtx);
	l->peer_window = m->hello.window;
	pthread_mutex_unlock(&client.mtx);
	l->hello_done = true;
	l->up_ms = util_now_ms();
	ws_served(t, m->hello.url);
	/* The other tunnels join the connection. */
	for (i = 0; i < client.nlinks; i++) {
		if (&client.links[i] != t && !client.links[i].dropped &&
		    client.links[i].info.tunnel_id != NULL)
			ws_send_attach(&client.links[i]);
	}
	return 0;
}

/* Tunnel t is served on the connection now: say so. */
static void
ws_served(struct link *t, const char *server_url)
{
	const char	*url;

	t->attached = true;
	/* The URL the API gave is the one "Public URL" showed. */
	url = t->info.url != NULL ? t->info.url : server_url;
	if (url == NULL)
		url = "?";
	if (!t->ever_up)
		link_say(t, "Forwarding: %s -> %s", url, t->local_url);
	else
		link_say(t, "Reconnected: %s -> %s", url, t->local_url);
	t->ever_up = true;
}

static void
ws_send_attach(struct link *t)
{
	struct proto_attach	 a;
	struct tbuf		 b;
	struct omsg		*m;

	memset(&a, 0, sizeof(a));
	a.tunnel_id = t->info.tunnel_id;
	a.token = t->info.token;
	tbuf_init(&b, PROTO_MAX_MSG);
	if (proto_encode_attach(&b, PROTO_ATTACH, &a) == 0) {
		m = ws_msg_new(tbuf_len(&b), false);
		memcpy(m->buf + LWS_PRE, tbuf_ptr(&b), tbuf_len(&b));
		pthread_mutex_lock(&client.mtx);
		ws_queue_locked(t, false, m);
		pthread_mutex_unlock(&client.mtx);
	}
	explicit_bzero(tbuf_ptr(&b), tbuf_len(&b));
	tbuf_free(&b);
}

/* The link of a tunnel id, or NULL. */
static struct link *
ws_find(const char *id)
{
	size_t	i;

	for (i = 0; i < client.nlinks; i++)
		if (client.links[i].info.tunnel_id != NULL &&
		    strcmp(client.links[i].info.tunnel_id, id) == 0)
			return &client.links[i];
	return NULL;
}

static void
ws_attached(struct proto_msg *m)
{
	struct link	*t;

	if ((t = ws_find(m->attach.tunnel_id)) == NULL || t->dropped) {
		log_warn("the server attached tunnel %s, not asked for",
		    m->attach.tunnel_id);
		return;
	}
	if (!t->attached)
		ws_served(t, m->attach.url);
}

/*
 * A tunnel is no longer served on the connection, or was refused.  Like
 * GOAWAY for that tunnel alone; the others go on.
 */
static void
ws_detach(struct proto_msg *m)
{
	struct link	*t;
	const char	*why = m->attach.reason != NULL ? m->attach.reason : "";

	if ((t = ws_find(m->attach.tunnel_id)) == NULL || t->dropped)
		return;
	t->attached = false;
	switch (m->attach.code) {
	case PROTO_GOAWAY_REFUSED:
		/* A saved token the server does not take: a new tunnel. */
		log_warn("the server refused tunnel %s (%s); creating it again",
		    t->info.tunnel_id, why);
		if (t->state_path != NULL)
			cstate_remove(t->state_path);
		tunnel_info_clear(&t->info);
		t->stale = true;
		if (ws_acquire(t) == 0)
			ws_send_attach(t);
		break;
	case PROTO_GOAWAY_DELETED:
	case PROTO_GOAWAY_ROTATED:
	case PROTO_GOAWAY_REPLACED:
		ws_drop(t, m->attach.code, why);
		break;
	default:
		log_warn("tunnel %s not served for now (%s); trying again "
		    "when reconnecting", t->info.tunnel_id, why);
		break;
	}
}

/* A permanent end for tunnel t; with none left, the client exits 1. */
static void
ws_drop(struct link *t, int code, const char *why)
{
	size_t	i;

	switch (code) {
	case PROTO_GOAWAY_DELETED:
		fprintf(stderr, "%s: tunnel %s was deleted on the server%s%s\n",
		    TC_NAME, t->info.tunnel_id, why[0] ? ": " : "", why);
		if (t->state_path != NULL)
			cstate_remove(t->state_path);
		break;
	case PROTO_GOAWAY_ROTATED:
		fprintf(stderr, "%s: the token of tunnel %s was rotated; "
		    "run tunnel-client again for a new one\n", TC_NAME,
		    t->info.tunnel_id);
		if (t->state_path != NULL)
			cstate_remove(t->state_path);
		break;
	default:
		fprintf(stderr, "%s: another agent took over tunnel %s\n",
		    TC_NAME, t->info.tunnel_id);
		break;
	}
	t->dropped = true;
	t->attached = false;
	for (i = 0; i < client.nlinks; i++)
		if (!client.links[i].dropped)
			return;
	client_stop(1);
}

static int
ws_open(struct link *l, struct proto_msg *m, bool *wake)
{
	struct stream	*st;
	struct link	*t;
	struct omsg	*r;
	struct tbuf	 b;

	pthread_mutex_lock(&client.mtx);
	st = forward_lookup_locked(l, m->stream_id);
	pthread_mutex_unlock(&client.mtx);
	if (st != NULL) {
		log_warn("the server opened stream %u twice", m->stream_id);
		return TUN_EPROTO;
	}
	/* Which tunnel: named in the OPEN, else the one connected to. */
	t = m->head.tunnel != NULL ? ws_find(m->head.tunnel) : client.primary;
	if (t == NULL || t->dropped || (!t->attached && t != client.primary)) {
		log_warn("stream %u for tunnel %s, not served here",
		    m->stream_id, m->head.tunnel != NULL ? m->head.tunnel : "?");
		tbuf_init(&b, 512);
		if (proto_encode_reset(&b, m->stream_id, PROTO_RESET_REFUSED,
		    "tunnel not served on this connection") == 0) {
			r = ws_msg_new(tbuf_len(&b), false);
			memcpy(r->buf + LWS_PRE, tbuf_ptr(&b), tbuf_len(&b));
			pthread_mutex_lock(&client.mtx);
			ws_queue_locked(l, false, r);
			pthread_mutex_unlock(&client.mtx);
		}
		tbuf_free(&b);
		return 0;
	}
	st = forward_stream_new(t, m->stream_id, &m->head);
	pthread_mutex_lock(&client.mtx);
	st->credit = l->peer_window;
	forward_table_add_locked(st);
	inbox_add_locked(st);
	pthread_mutex_unlock(&client.mtx);
	*wake = true;
	return 0;
}

/* DATA, END, RESET, WINDOW for a stream. */
static void
ws_stream_msg(struct link *l, struct proto_msg *m, bool *wake)
{
	struct stream	*st;

	pthread_mutex_lock(&client.mtx);
	if ((st = forward_lookup_locked(l, m->stream_id)) == NULL)
		goto out;	/* over on our side already */
	switch (m->type) {
	case PROTO_DATA:
		if (st->req_end) {
			forward_send_reset_locked(st, PROTO_RESET_PROTOCOL,
			    "data after end");
			*wake = true;
			break;
		}
		if (st->curl_done || st->local_done) {
			/* Nobody reads it any more: take it and credit it. */
			if (m->len > 0)
				forward_send_window_locked(st,
				    (uint32_t)m->len);
			break;
		}
		if (tbuf_put(&st->req, m->data, m->len) != 0) {
			forward_send_reset_locked(st, PROTO_RESET_PROTOCOL,
			    "data beyond the window");
			*wake = true;
			break;
		}
		if (st->read_paused) {
			inbox_add_locked(st);
			*wake = true;
		}
		break;
	case PROTO_END:
		st->req_end = true;
		if (st->local_done)
			forward_table_remove_locked(st);
		else if (st->read_paused)
			inbox_add_locked(st);
		*wake = true;
		break;
	case PROTO_RESET:
		log_debug("stream %u reset by the server: %u %s", st->id,
		    m->code, m->reason != NULL ? m->reason : "");
		st->reset = true;
		forward_table_remove_locked(st);
		*wake = true;
		break;
	case PROTO_WINDOW:
		st->credit += m->window;
		if (st->credit > INT32_MAX) {
			forward_send_reset_locked(st, PROTO_RESET_PROTOCOL,
			    "window overflow");
			*wake = true;
			break;
		}
		if (st->write_paused) {
			inbox_add_locked(st);
			*wake = true;
		}
		break;
	}
out:
	pthread_mutex_unlock(&client.mtx);
}

/*
 * GOAWAY closes the connection.  The server sends it for a permanent end
 * only when the connection serves that one tunnel: the one attached.
 */
static void
ws_goaway(struct link *l, struct proto_msg *m)
{
	const char	*why = m->goaway.reason != NULL ? m->goaway.reason : "";
	struct link	*t = NULL;
	size_t		 i;

	switch (m->goaway.code) {
	case PROTO_GOAWAY_DELETED:
	case PROTO_GOAWAY_ROTATED:
	case PROTO_GOAWAY_REPLACED:
		for (i = 0; i < client.nlinks && t == NULL; i++)
			if (client.links[i].attached)
				t = &client.links[i];
		ws_drop(t != NULL ? t : client.primary, m->goaway.code, why);
		break;
	default:
		log_info("the server is going away (%s); will reconnect", why);
		break;
	}
}
