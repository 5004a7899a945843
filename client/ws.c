/*
 * The link to the server: one connection for all tunnels, served by the
 * main thread.
 *
 * libwebsockets makes the connection (name lookup, TCP, the poll loop,
 * timers) as a raw socket; what runs on it is ours: TLS for https with
 * GnuTLS, as libcurl's is (lws 4.1.6 cannot start TLS on a raw client
 * connection), verified against --ca-file or the system's CAs; the opening
 * handshake (RFC 6455 4.1) to /api/tunnel/connect/{id} with the token; and
 * the frames, read with the same decoder as tunneld's (wsframe.c), whole
 * buffers at a time (lws 4.1's own client parser takes one byte per call).
 * Then HELLO, and the server's messages are dispatched: stream news goes
 * to the curl thread (forward.c) under client.mtx.  Once HELLO is in on a
 * plain connection, the curl thread reads it itself (ws_read_direct, lws
 * no longer polls it for input): an OPEN then reaches curl without a
 * wake-up of another thread.  It deals with stream news and PINGs and
 * hands any other message back to the lws thread, reading nothing more
 * until that one is dealt with, so that the order holds; an end (EOF, a
 * CLOSE, a bad frame) goes back the same way and the lws thread closes.
 * Outgoing messages wait in the link's two queues (control first, then
 * DATA and END).  Each WRITEABLE callback frames a batch of them (masked
 * with fresh keys, 8 bytes at a time) into one buffer: one send() for many
 * messages.  On a plain connection the curl thread writes a batch itself
 * when nothing is being written (ws_send_direct), through a dup() of the
 * socket that is closed only here, after a CLOSE or in ws_link_down(): a
 * number lws closes and the system gives out again is never written to.
 * Quiet links are pinged, and dropped when nothing comes back.  A lost
 * link is retried forever with exponential backoff and jitter; a refused
 * token makes a new tunnel.
 */
#include "config.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "httphdr.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "wsframe.h"
#include "xmalloc.h"

/* One WRITEABLE callback sends up to WS_TX_BATCH bytes of frames. */
#define WS_MSG_MEM(m)	(sizeof(*(m)) + LWS_PRE + (m)->len)	/* held */
#define WS_TX_BATCH	(256 * 1024)
#define WS_TX_FRAMES	64
#define WS_KA_CHECK_MS	2000	/* how often a link's silence is looked at */

/* link.hs */
enum {
	WS_HS_NONE,		/* TCP not up yet */
	WS_HS_TLS,		/* TLS handshake */
	WS_HS_SEND,		/* the request is to be written */
	WS_HS_WAIT,		/* waiting for the 101 */
	WS_HS_OPEN		/* frames both ways */
};

static int	 ws_callback(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static void	 ws_log_emit(int, const char *);
static void	 ws_connect_cb(lws_sorted_usec_list_t *);
static void	 ws_connect(struct link *);
static int	 ws_acquire(struct link *);
static void	 ws_schedule(struct link *, bool);
static void	 ws_link_down(struct link *, const char *);
static int	 ws_established(struct link *);
static int	 ws_connected(struct link *, struct lws *);
static int	 ws_tls_start(struct link *);
static int	 ws_tls_handshake(struct link *, struct lws *);
static int	 ws_tls_rx(struct link *, struct lws *, const uint8_t *,
		    size_t);
static ssize_t	 ws_tls_push(gnutls_transport_ptr_t, const void *, size_t);
static ssize_t	 ws_tls_pull(gnutls_transport_ptr_t, void *, size_t);
static int	 ws_out(struct link *, struct lws *, uint8_t *, size_t);
static int	 ws_tls_send(struct link *, const uint8_t *, size_t);
static int	 ws_send_handshake(struct link *, struct lws *);
static void	 ws_refusal_text(struct link *, const uint8_t *, size_t);
static int	 ws_handshake_rx(struct link *, struct lws *, uint8_t **,
		    size_t *);
static void	 ws_refused(struct link *, const char *);
static int	 ws_receive(struct link *, struct lws *, uint8_t *, size_t);
static int	 ws_binary(struct link *, const struct wsframe_ev *,
		    int (*)(struct link *, const uint8_t *, size_t));
static void	 ws_queue_control(struct link *, int, const void *, size_t);
static void	 ws_close_now(struct link *, struct lws *, uint16_t,
		    const char *);
static void	 ws_keepalive_cb(lws_sorted_usec_list_t *);
static int	 ws_writeable(struct link *, struct lws *);
static int	 ws_message(struct link *, const uint8_t *, size_t);
static int	 ws_hello(struct link *, struct proto_msg *);
static int	 ws_open(struct link *, struct proto_msg *, bool *);
static void	 ws_stream_msg(struct link *, struct proto_msg *, bool *);
static void	 ws_goaway(struct link *, struct proto_msg *);
static void	 ws_served(struct link *, const char *);
static void	 ws_send_attach(struct link *);
static int	 ws_acquired(struct link *, int, const char *);
static void	 ws_announce(struct link *);
static void	 ws_remake(struct link *);
static void	*ws_maker(void *);
static void	 ws_made(struct link *, bool);
static struct stream	*ws_biggest_locked(struct link *);
static struct link *ws_find(const char *);
static void	 ws_attached(struct proto_msg *);
static void	 ws_detach(struct proto_msg *);
static void	 ws_drop(struct link *, int, const char *);
static struct omsg *ws_pop_locked(struct link *);
static int	 ws_out_frames(struct link *);
static int	 ws_sendmsg(struct link *);
static bool	 ws_take(struct link *);
static void	 ws_go_direct(struct link *, struct lws *);
static void	 ws_direct_off(void);
static int	 ws_rx_frames(struct link *);
static int	 ws_rx_message(struct link *, const uint8_t *, size_t);
static void	 ws_rx_end(uint16_t, const char *);
static void	 ws_back(struct link *);
static void	 ws_kill(struct link *, uint16_t, const char *, const char *);

static uint8_t	*ws_plain;		/* the lws thread's TLS read buffer */
static gnutls_certificate_credentials_t ws_cred;
static bool	 ws_fwd_due;		/* stream news for the curl thread */
static bool	 ws_pending(struct link *);

static const struct lws_protocols ws_protocols[] = {
	{ "tunnel", ws_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws messages go to our log. */
static void
ws_log_emit(int level, const char *line)
{
	char	buf[512];
	size_t	n;

	util_strlcpy(buf, line, sizeof(buf));
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (level & LLL_ERR)
		log_error("lws: %s", buf);
	else if (level & LLL_WARN)
		log_warn("lws: %s", buf);
	else
		log_debug("lws: %s", buf);
}

int
ws_init(void)
{
	struct lws_context_creation_info	 info;
	const struct options			*o = client.opt;
	int					 levels = LLL_ERR | LLL_WARN, r;

	if (o->verbose >= 1)
		levels |= LLL_NOTICE;
	if (o->verbose >= 2)
		levels |= LLL_INFO | LLL_DEBUG | LLL_CLIENT;
	lws_set_log_level(levels, ws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.fd_limit_per_thread = 1 + 4 * TC_MAX_TUNNELS;
	info.pt_serv_buf_size = TC_RX_BUFFER;	/* what one read takes */
	/* --connect-timeout for the TCP connect; ws_connected() the rest. */
	info.connect_timeout_secs = (unsigned int)(o->connect_timeout > 0 ?
	    o->connect_timeout : TC_DEFAULT_CONNECT_TO);
	if (client.srv.tls) {
		if (gnutls_certificate_allocate_credentials(&ws_cred) != 0)
			return TUN_ENOMEM;
		if (o->ca_file != NULL)
			r = gnutls_certificate_set_x509_trust_file(ws_cred,
			    o->ca_file, GNUTLS_X509_FMT_PEM);
		else
			r = gnutls_certificate_set_x509_system_trust(ws_cred);
		if (r <= 0 && !o->insecure)
			log_warn("no CA certificates from %s%s%s",
			    o->ca_file != NULL ? o->ca_file : "the system",
			    r < 0 ? ": " : "", r < 0 ? gnutls_strerror(r) : "");
		ws_plain = xmalloc(TC_RX_BUFFER);
	}
	if ((client.ctx = lws_create_context(&info)) == NULL)
		return TUN_EIO;
	lws_sul_schedule(client.ctx, 0, &client.links[0].sul, ws_connect_cb, 1);
	return 0;
}

void
ws_run(void)
{
	size_t	i;

	while (!client_stopping()) {
		if (lws_service(client.ctx, 0) < 0)
			break;
		for (i = 0; i < client.nlinks; i++)
			ws_made(&client.links[i], false);
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
	for (i = 0; i < client.nlinks; i++) {	/* stopping: they end soon */
		ws_made(&client.links[i], true);
		tunnel_info_clear(&client.links[i].made_info);
	}
	lws_sul_cancel(&client.links[0].sul);
	lws_sul_cancel(&client.links[0].ka);
	lws_context_destroy(client.ctx);
	client.ctx = NULL;
	free(ws_plain);
	ws_plain = NULL;
	ws_direct_off();
	free(client.rbuf);
	client.rbuf = NULL;
	tbuf_free(&client.back);
	if (ws_cred != NULL)
		gnutls_certificate_free_credentials(ws_cred);
	ws_cred = NULL;
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
	/*
	 * DATA is held back by curl's pauses (TC_OUTQ_MAX); what the
	 * server's own messages call for (PONG, WINDOW, RESET) is not, and
	 * a server that sends them without reading ours is left.
	 */
	if (!data && l->ctrl_bytes + WS_MSG_MEM(m) > TC_CTRLQ_MAX) {
		free(m);
		l->ctrl_over = true;
		return;
	}
	ws_msg_seal(m);
	m->data = data;
	if (data)
		client.outq_bytes += m->len;
	else
		l->ctrl_bytes += WS_MSG_MEM(m);
	oqueue_push(q, m);
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
	l->ctrl_bytes = 0;
	l->ctrl_over = false;
}

/* Anything to write on a connected link? */
static bool
ws_pending(struct link *l)
{
	bool	pending;

	pthread_mutex_lock(&client.wmtx);
	pthread_mutex_lock(&client.mtx);
	pending = l->connected && (l->ctrl.head != NULL ||
	    l->data.head != NULL || l->out.head != NULL);
	pthread_mutex_unlock(&client.mtx);
	pthread_mutex_unlock(&client.wmtx);
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
	else
		l->ctrl_bytes -= WS_MSG_MEM(m);
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
	return ws_acquired(l, r, err);
known:
	ws_announce(l);
	return 0;
}

/*
 * What api_create() said (r, err) of tunnel l: 0 and saved, TUN_EAGAIN
 * or TUN_ECLOSED (stopping: after a permanent error too).
 */
static int
ws_acquired(struct link *l, int r, const char *err)
{
	const struct options	*o = client.opt;

	if (r != 0)
		tunnel_info_clear(&l->info);
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
	ws_announce(l);
	return 0;
}

static void
ws_announce(struct link *l)
{
	link_say(l, "Tunnel ID: %s", l->info.tunnel_id);
	if (l->conf->tcp)
		link_say(l, "Public address: %s", l->info.url);
	else
		link_say(l, "Public URL: %s", l->info.url);
}

/*
 * Tunnel t again, after its token was refused on a live connection: the
 * API call (up to TC_API_TIMEOUT) is made on a thread of its own, so that
 * the lws thread goes on serving the connection and its other tunnels;
 * ws_made() takes the answer.
 */
static void
ws_remake(struct link *t)
{
	int	e;

	if (t->making)
		return;
	if (client.opt->api_key != NULL) {
		__atomic_store_n(&t->made, false, __ATOMIC_RELAXED);
		if ((e = pthread_create(&t->maker, NULL, ws_maker, t)) == 0) {
			t->making = true;
			return;
		}
		log_warn("pthread_create: %s", strerror(e));
	}
	if (ws_acquire(t) == 0)		/* the slow way, or the error */
		ws_send_attach(t);
}

/* Its own thread: the API call for ws_remake(), nothing else of t's. */
static void *
ws_maker(void *arg)
{
	struct link	*t = arg;

	t->made_rc = api_create(client.opt, &client.srv, t->conf,
	    &t->made_info, t->made_err, sizeof(t->made_err));
	__atomic_store_n(&t->made, true, __ATOMIC_RELEASE);
	ws_wake();
	return NULL;
}

/*
 * lws thread: t's maker is done (or wait must be waited for); the tunnel
 * is known, or not, as after ws_acquire(), and attached if the connection
 * is up.
 */
static void
ws_made(struct link *t, bool wait)
{
	if (!t->making || (!wait && !__atomic_load_n(&t->made,
	    __ATOMIC_ACQUIRE)))
		return;
	pthread_join(t->maker, NULL);
	t->making = false;
	if (t->dropped) {		/* taken over or deleted meanwhile */
		tunnel_info_clear(&t->made_info);
		return;
	}
	tunnel_info_clear(&t->info);
	t->info = t->made_info;
	memset(&t->made_info, 0, sizeof(t->made_info));
	if (ws_acquired(t, t->made_rc, t->made_err) == 0 &&
	    t->conn->hello_done && !t->dropped)
		ws_send_attach(t);
}

static void
ws_connect(struct link *l)
{
	struct lws_client_connect_info	 ci;
	struct link			*t;
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
		ws_made(t, true);
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
	/* A raw connection: the WebSocket handshake is ws_send_handshake's. */
	memset(&ci, 0, sizeof(ci));
	ci.context = client.ctx;
	ci.address = client.srv.host;
	ci.port = client.srv.port;
	ci.method = "RAW";
	ci.host = client.srv.host;
	ci.local_protocol_name = ws_protocols[0].name;
	ci.opaque_user_data = l;
	ci.pwsi = &l->wsi;
	l->hs = WS_HS_NONE;
	l->hs_status = 0;
	l->hs_error[0] = '\0';
	l->down_why = NULL;
	log_debug("connecting to %s/api/tunnel/connect/%s", client.srv.base,
	    client.primary->info.tunnel_id);
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

	ws_direct_off();
	l->wsi = NULL;
	lws_sul_cancel(&l->ka);
	if (l->down_why != NULL)
		why = l->down_why;
	l->down_why = NULL;
	l->hs = WS_HS_NONE;
	pthread_mutex_lock(&client.wmtx);
	if (l->wfd != -1)
		close(l->wfd);
	l->wfd = -1;
	wsout_free(&l->out, &l->out_off);
	pthread_mutex_unlock(&client.wmtx);
	httphead_free(&l->hh);
	if (l->tls != NULL)
		gnutls_deinit(l->tls);
	l->tls = NULL;
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
	tbuf_reset(&l->rx);
	return r;
}

/*
 * The server would not have us (a status other than 101), or the
 * connection failed before the WebSocket was up: give up for good, make
 * the tunnel again, or try again later.
 */
static void
ws_refused(struct link *l, const char *err)
{
	struct link	*t = client.primary;
	int		 status = l->hs_status;

	ws_link_down(l, err);
	if (client.cert_error) {
		fprintf(stderr, "%s: the server's certificate failed "
		    "verification; give its CA with --ca-file, or use "
		    "--insecure\n", TC_NAME);
		client_stop(1);
		return;
	}
	if (status == 403) {
		/* The server's deny list: waiting will not help. */
		fprintf(stderr, "%s: the server refused tunnel %s (HTTP 403: "
		    "the tunnel or this address is denied)\n", TC_NAME,
		    t != NULL && t->info.tunnel_id != NULL ?
		    t->info.tunnel_id : "?");
		client_stop(1);
		return;
	}
	if ((status == 401 || status == 404) && t != NULL) {
		/* The saved token or tunnel is gone: make a new one. */
		log_warn("the server refused tunnel %s; creating it again",
		    t->info.tunnel_id);
		if (t->state_path != NULL)
			cstate_remove(t->state_path);
		tunnel_info_clear(&t->info);
		t->stale = true;
	}
	ws_schedule(l, false);
}

/*
 * TCP is up: TLS first for https, then the opening handshake; both within
 * connect_timeout.
 */
static int
ws_connected(struct link *l, struct lws *wsi)
{
	if (l->hs != WS_HS_NONE)
		return 0;
	httphead_init(&l->hh);
	lws_set_timeout(wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE,
	    client.opt->connect_timeout > 0 ? client.opt->connect_timeout :
	    TC_DEFAULT_CONNECT_TO);
	if (client.srv.tls) {
		l->hs = WS_HS_TLS;
		if (ws_tls_start(l) != 0)
			return -1;
		return ws_tls_handshake(l, wsi);
	}
	l->hs = WS_HS_SEND;
	lws_callback_on_writable(wsi);
	return 0;
}

/* A GnuTLS client session on the link's socket. */
static int
ws_tls_start(struct link *l)
{
	const char	*host = client.srv.host;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	int		 r;

	if ((r = gnutls_init(&l->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) != 0) {
		l->tls = NULL;
		log_warn("TLS: %s", gnutls_strerror(r));
		return -1;
	}
	if ((r = gnutls_set_default_priority(l->tls)) != 0 ||
	    (r = gnutls_credentials_set(l->tls, GNUTLS_CRD_CERTIFICATE,
	    ws_cred)) != 0) {
		log_warn("TLS: %s", gnutls_strerror(r));
		return -1;
	}
	/* SNI names a host, never an address (RFC 6066 3). */
	if (inet_pton(AF_INET, host, &a4) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1)
		(void)gnutls_server_name_set(l->tls, GNUTLS_NAME_DNS, host,
		    strlen(host));
	if (!client.opt->insecure)
		gnutls_session_set_verify_cert(l->tls, host, 0);
	gnutls_transport_set_ptr(l->tls, l);
	gnutls_transport_set_push_function(l->tls, ws_tls_push);
	gnutls_transport_set_pull_function(l->tls, ws_tls_pull);
	return 0;
}

/* One step of the TLS handshake; -1 ends the connection. */
static int
ws_tls_handshake(struct link *l, struct lws *wsi)
{
	gnutls_datum_t	out;
	unsigned int	status;
	char		*desc;
	int		r;

	/* AGAIN with bytes left is a step done, not a want of input. */
	do
		r = gnutls_handshake(l->tls);
	while ((r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) &&
	    l->tls_in_len > 0);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
		return 0;
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(l->tls);
		if (gnutls_certificate_verification_status_print(status,
		    gnutls_certificate_type_get(l->tls), &out, 0) == 0) {
			log_error("the certificate of %s: %s", client.srv.host,
			    (const char *)out.data);
			gnutls_free(out.data);
		}
		client.cert_error = true;
		l->down_why = "certificate verification failed";
		return -1;
	}
	if (r != 0) {
		if (!gnutls_error_is_fatal(r))
			return 0;
		log_warn("TLS handshake with %s: %s", client.srv.host,
		    gnutls_strerror(r));
		l->down_why = "TLS handshake failed";
		return -1;
	}
	if ((desc = gnutls_session_get_desc(l->tls)) != NULL) {
		log_debug("TLS: %s", desc);
		gnutls_free(desc);
	}
	l->hs = WS_HS_SEND;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Ciphertext from lws: the handshake, then records, each to ws_receive. */
static int
ws_tls_rx(struct link *l, struct lws *wsi, const uint8_t *in, size_t len)
{
	ssize_t	n;
	size_t	left;
	int	r = 0;

	l->tls_in = in;
	l->tls_in_len = len;
	if (l->hs == WS_HS_TLS && ((r = ws_tls_handshake(l, wsi)) != 0 ||
	    l->hs == WS_HS_TLS))
		goto out;
	for (;;) {
		left = l->tls_in_len;
		n = gnutls_record_recv(l->tls, ws_plain, TC_RX_BUFFER);
		if (n > 0) {
			if ((r = ws_receive(l, wsi, ws_plain, (size_t)n)) != 0)
				break;
			continue;
		}
		/*
		 * AGAIN with bytes left (after a session ticket, say) is a
		 * step done: read on, as long as GnuTLS takes bytes.
		 */
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (l->tls_in_len == 0)
				break;
			if (l->tls_in_len < left)
				continue;
			n = GNUTLS_E_INTERNAL_ERROR;
		}
		if (n == 0) {
			l->down_why = "closed";
			r = -1;
			break;
		}
		if (!gnutls_error_is_fatal((int)n))
			continue;
		log_warn("TLS: %s", gnutls_strerror((int)n));
		l->down_why = "a TLS error";
		r = -1;
		break;
	}
out:
	l->tls_in = NULL;
	l->tls_in_len = 0;
	return r;
}

/* GnuTLS writes through lws, which keeps what the socket does not take. */
static ssize_t
ws_tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct link	*l = p;

	if (l->wsi == NULL || lws_write(l->wsi, (unsigned char *)(uintptr_t)buf,
	    len, LWS_WRITE_RAW) < 0) {
		gnutls_transport_set_errno(l->tls, EPIPE);
		return -1;
	}
	return (ssize_t)len;
}

/* GnuTLS reads what the current RAW_RX brought, and no more. */
static ssize_t
ws_tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct link	*l = p;

	if (l->tls_in_len == 0) {
		gnutls_transport_set_errno(l->tls, EAGAIN);
		return -1;
	}
	if (len > l->tls_in_len)
		len = l->tls_in_len;
	memcpy(buf, l->tls_in, len);
	l->tls_in += len;
	l->tls_in_len -= len;
	return (ssize_t)len;
}

/* Bytes for the server: straight to lws, or in TLS records first. */
static int
ws_out(struct link *l, struct lws *wsi, uint8_t *buf, size_t len)
{
	if (l->tls == NULL)
		return lws_write(wsi, buf, len, LWS_WRITE_RAW) == (int)len ?
		    0 : -1;
	gnutls_record_cork(l->tls);
	if (ws_tls_send(l, buf, len) != 0)
		return -1;
	return gnutls_record_uncork(l->tls, GNUTLS_RECORD_WAIT) < 0 ? -1 : 0;
}

/* Bytes into the corked TLS session: records go out when it is uncorked. */
static int
ws_tls_send(struct link *l, const uint8_t *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = gnutls_record_send(l->tls, buf, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0) {
			log_warn("TLS: %s", gnutls_strerror((int)n));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The client's opening handshake (RFC 6455 4.1), one write. */
static int
ws_send_handshake(struct link *l, struct lws *wsi)
{
	const struct server_url	*srv = &client.srv;
	struct link		*t = client.primary;
	char			 req[LWS_PRE + 2048], key[32], host[300];
	int			 n, len;

	if (t == NULL || t->info.token == NULL ||
	    wsframe_client_key(key, sizeof(key)) != 0 ||
	    wsframe_accept_key(key, l->hs_accept, sizeof(l->hs_accept)) != 0)
		return -1;
	/* Host with its port unless it is the scheme's (RFC 9110 7.2). */
	if (srv->port == (srv->tls ? 443 : 80))
		n = snprintf(host, sizeof(host), strchr(srv->host, ':') ?
		    "[%s]" : "%s", srv->host);
	else
		n = snprintf(host, sizeof(host), strchr(srv->host, ':') ?
		    "[%s]:%d" : "%s:%d", srv->host, srv->port);
	if (n < 0 || (size_t)n >= sizeof(host))
		return -1;
	len = snprintf(req + LWS_PRE, sizeof(req) - LWS_PRE,
	    "GET %s/api/tunnel/connect/%s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: " TC_NAME "/" PACKAGE_VERSION "\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Authorization: Bearer %s\r\n"
	    "X-Tunnel-Protocol: 1\r\n"
	    "\r\n", srv->prefix, t->info.tunnel_id, host, key, t->info.token);
	if (len < 0 || (size_t)len >= sizeof(req) - LWS_PRE) {
		explicit_bzero(req, sizeof(req));
		return -1;
	}
	n = ws_out(l, wsi, (uint8_t *)req + LWS_PRE, (size_t)len);
	explicit_bzero(req, sizeof(req));
	if (n != 0)
		return -1;
	l->hs = WS_HS_WAIT;
	return 0;
}

/* The JSON error of a refusal, when its body came with the head. */
static void
ws_refusal_text(struct link *l, const uint8_t *body, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o, *e;
	const char		*s;
	size_t			 i;

	if (len == 0 || (tok = json_tokener_new()) == NULL)
		return;
	o = json_tokener_parse_ex(tok, (const char *)body,
	    len > 4096 ? 4096 : (int)len);
	json_tokener_free(tok);
	if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_string)) {
		/* For the log: printable ASCII only. */
		s = json_object_get_string(e);
		for (i = 0; s[i] != '\0' && i + 1 < sizeof(l->hs_error); i++)
			l->hs_error[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
		l->hs_error[i] = '\0';
	}
	json_object_put(o);
}

/*
 * Bytes of the server's answer to the handshake.  Returns 1 once the
 * WebSocket is up (*p and *len then hold what follows the head), 0 for
 * more, -1 to close (l->hs_status says why).
 */
static int
ws_handshake_rx(struct link *l, struct lws *wsi, uint8_t **p, size_t *len)
{
	const struct proto_head	*h = &l->hh.head;
	const char		*v;
	size_t			 used;
	int			 r;

	r = httphead_parse(&l->hh, *p, *len, &used);
	*p += used;
	*len -= used;
	if (r == 0)
		return 0;
	if (r < 0) {
		l->down_why = "not an HTTP answer to the WebSocket handshake";
		return -1;
	}
	if (h->status != 101) {
		l->hs_status = h->status;
		ws_refusal_text(l, *p, *len);
		log_warn("the server answered %d%s%s", h->status,
		    l->hs_error[0] != '\0' ? ": " : "", l->hs_error);
		l->down_why = "refused";
		return -1;
	}
	if ((v = proto_head_get(h, "Upgrade")) == NULL ||
	    !httphdr_has_token(v, "websocket") ||
	    (v = proto_head_get(h, "Connection")) == NULL ||
	    !httphdr_has_token(v, "upgrade") ||
	    (v = proto_head_get(h, "Sec-WebSocket-Accept")) == NULL ||
	    strcmp(v, l->hs_accept) != 0) {
		l->down_why = "a bad WebSocket handshake from the server";
		return -1;
	}
	httphead_free(&l->hh);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	l->hs = WS_HS_OPEN;
	/*
	 * Frames go out on a descriptor of our own.  The server has answered
	 * the handshake: lws holds nothing more to write.
	 */
	if (l->tls == NULL) {
		pthread_mutex_lock(&client.wmtx);
		l->wfd = fcntl(lws_get_socket_fd(wsi), F_DUPFD_CLOEXEC, 0);
		pthread_mutex_unlock(&client.wmtx);
		if (l->wfd == -1) {
			log_warn("dup: %s", strerror(errno));
			return -1;
		}
	}
	wsframe_dec_init(&l->dec, WSFRAME_CLIENT, PROTO_MAX_MSG, PROTO_MAX_MSG);
	log_debug("WebSocket established");
	if (ws_established(l) != 0)
		return -1;
	lws_sul_schedule(client.ctx, 0, &l->ka, ws_keepalive_cb,
	    (lws_usec_t)WS_KA_CHECK_MS * LWS_US_PER_MS);
	lws_callback_on_writable(wsi);
	return 1;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct link	*l = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:	/* lws 4.1 says one, or both */
	case LWS_CALLBACK_RAW_ADOPT:
		if (l == NULL || l->wsi != wsi)
			return -1;
		return ws_connected(l, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (l == NULL || l->wsi != wsi)
			break;
		ws_refused(l, in != NULL ? (const char *)in : "unknown error");
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		if (l == NULL || l->wsi != wsi)
			break;
		if (l->hs == WS_HS_OPEN)
			ws_link_down(l, "closed");
		else if (l->hs_status != 0 || client.cert_error) {
			ws_refused(l, "refused");
			break;
		} else
			ws_link_down(l, l->hs == WS_HS_WAIT ?
			    "no answer to the WebSocket handshake" :
			    l->hs == WS_HS_TLS ? "the TLS handshake did not end" :
			    "closed");
		ws_schedule(l, false);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Gone without ERROR or CLOSE, e.g. a handshake timeout. */
		if (l == NULL || l->wsi != wsi)
			break;
		ws_link_down(l, "timed out");
		ws_schedule(l, false);
		break;
	case LWS_CALLBACK_RAW_RX:
		if (l == NULL || l->wsi != wsi)
			return -1;
		if (l->tls != NULL)
			return ws_tls_rx(l, wsi, in, len);
		return ws_receive(l, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (l == NULL || l->wsi != wsi)
			return -1;
		if (l->hs == WS_HS_SEND)
			return ws_send_handshake(l, wsi);
		if (l->hs != WS_HS_OPEN)
			return 0;
		return ws_writeable(l, wsi);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		l = &client.links[0];
		if (l->wsi != NULL && l->hs == WS_HS_OPEN)
			ws_back(l);
		if (l->wsi != NULL && l->hs == WS_HS_OPEN && ws_pending(l))
			lws_callback_on_writable(l->wsi);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Bytes from the server: the rest of the handshake, then frames, taken
 * apart in place.  Non-zero closes the connection.
 */
static int
ws_receive(struct link *l, struct lws *wsi, uint8_t *p, size_t len)
{
	struct wsframe_ev	 ev;
	size_t			 used;
	int			 r, mode;

	__atomic_store_n(&l->rx_ms, util_now_ms(), __ATOMIC_RELAXED);
	pthread_mutex_lock(&client.rmtx);
	mode = client.rx_mode;
	pthread_mutex_unlock(&client.rmtx);
	if (mode != WS_RX_LWS) {
		/* lws does not read a connection the curl thread reads. */
		log_warn("read by two threads at once: closing the connection");
		return -1;
	}
	if (l->hs == WS_HS_WAIT &&
	    (r = ws_handshake_rx(l, wsi, &p, &len)) != 1)
		return r;
	if (l->hs != WS_HS_OPEN)
		return len > 0 ? -1 : 0;	/* nothing asked for yet */
	while (len > 0) {
		r = wsframe_decode(&l->dec, p, len, &used, &ev);
		p += used;
		len -= used;
		if (r < 0) {
			log_warn("bad WebSocket frame from the server: %s",
			    tunerr_str(r));
			ws_close_now(l, wsi, l->dec.close_code, "bad frame");
			l->down_why = "a bad frame from the server";
			return -1;
		}
		if (r == 0)
			break;
		switch (ev.opcode) {
		case WS_OP_BINARY:
			if (ws_binary(l, &ev, ws_message) != 0) {
				ws_close_now(l, wsi, WS_CLOSE_PROTOCOL,
				    "protocol error");
				l->down_why = "a bad message from the server";
				return -1;
			}
			break;
		case WS_OP_PING:
			ws_queue_control(l, WS_OP_PONG, ev.data, ev.len);
			lws_callback_on_writable(wsi);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:
			ws_close_now(l, wsi, WS_CLOSE_NORMAL, NULL);
			l->down_why = "closed by the server";
			return -1;
		default:
			log_warn("the server sent a text message");
			ws_close_now(l, wsi, WS_CLOSE_UNSUPPORTED, NULL);
			l->down_why = "a text message from the server";
			return -1;
		}
		if (client_stopping()) {
			ws_close_now(l, wsi, WS_CLOSE_GOING_AWAY, NULL);
			return -1;
		}
	}
	ws_go_direct(l, wsi);
	return 0;
}

/* The stream of connection l holding the most request bytes, or NULL. */
static struct stream *
ws_biggest_locked(struct link *l)
{
	struct stream	*st, *big = NULL;
	size_t		 i;

	for (i = 0; i < TC_TABLE_SIZE; i++)
		for (st = l->tab[i]; st != NULL; st = st->tab_next)
			if (big == NULL ||
			    tbuf_len(&st->req) > tbuf_len(&big->req))
				big = st;
	return big;
}

/*
 * Request bytes held for the local service, all streams: n more (false,
 * and not counted, past TC_HELD_MAX), or n less (taken by curl or a raw
 * connection, or dropped).
 */
bool
ws_held_add(size_t n)
{
	size_t	old = __atomic_fetch_add(&client.held, n, __ATOMIC_RELAXED);

	if (old + n <= TC_HELD_MAX)
		return true;
	__atomic_fetch_sub(&client.held, n, __ATOMIC_RELAXED);
	return false;
}

void
ws_held_sub(size_t n)
{
	__atomic_fetch_sub(&client.held, n, __ATOMIC_RELAXED);
}

/*
 * A piece of a binary message: whole messages go to fn (ws_message, or
 * ws_rx_message on the curl thread) where they lie, others once they are
 * put together in l->rx.
 */
static int
ws_binary(struct link *l, const struct wsframe_ev *ev,
    int (*fn)(struct link *, const uint8_t *, size_t))
{
	int	r;

	if (ev->msg_start && ev->msg_end)
		return fn(l, ev->data, ev->len);
	if (ev->msg_start)
		tbuf_reset(&l->rx);
	if (tbuf_put(&l->rx, ev->data, ev->len) != 0)
		return TUN_ETOOBIG;	/* the decoder bounds it first */
	if (!ev->msg_end)
		return 0;
	r = fn(l, tbuf_ptr(&l->rx), tbuf_len(&l->rx));
	tbuf_reset(&l->rx);
	tbuf_shrink(&l->rx);
	return r;
}

/* A PING, PONG or CLOSE to send, ahead of the data. */
static void
ws_queue_control(struct link *l, int opcode, const void *payload, size_t len)
{
	struct omsg	*m;

	m = ws_msg_new(len, false);
	m->opcode = (uint8_t)opcode;
	if (len > 0)
		memcpy(m->buf + LWS_PRE, payload, len);
	pthread_mutex_lock(&client.mtx);
	ws_queue_locked(l, false, m);
	pthread_mutex_unlock(&client.mtx);
}

/* A CLOSE frame written at once, the connection closing after it. */
static void
ws_close_now(struct link *l, struct lws *wsi, uint16_t code,
    const char *reason)
{
	struct omsg	*m;
	uint8_t		 payload[WS_MAX_CONTROL];
	size_t		 n;

	pthread_mutex_lock(&client.wmtx);
	/* After part of a frame, a CLOSE would not be read as one. */
	if (l->out_off > 0) {
		pthread_mutex_unlock(&client.wmtx);
		return;
	}
	n = wsframe_close_payload(payload, code, reason);
	m = ws_msg_new(n, false);
	m->opcode = WS_OP_CLOSE;
	memcpy(m->buf + LWS_PRE, payload, n);
	ws_msg_seal(m);
	if (l->tls != NULL)
		(void)ws_out(l, wsi, m->buf + LWS_PRE - m->hl, m->hl + m->len);
	else if (l->wfd != -1) {
		(void)send(l->wfd, m->buf + LWS_PRE - m->hl, m->hl + m->len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(l->wfd);		/* nothing after the CLOSE */
		l->wfd = -1;
	}
	pthread_mutex_unlock(&client.wmtx);
	free(m);
	if (l->tls != NULL)
		(void)gnutls_bye(l->tls, GNUTLS_SHUT_WR);
}

/*
 * Every WS_KA_CHECK_MS: a link quiet for TC_PING_SECS is pinged (the
 * server answers PONG, and pings itself every heartbeat_interval), one
 * quiet for TC_HANGUP_SECS is dead.
 */
static void
ws_keepalive_cb(lws_sorted_usec_list_t *sul)
{
	struct link	*l = lws_container_of(sul, struct link, ka);
	uint64_t	 quiet;
	bool		 over;

	if (l->wsi == NULL || l->hs != WS_HS_OPEN)
		return;
	pthread_mutex_lock(&client.mtx);
	over = l->ctrl_over;
	pthread_mutex_unlock(&client.mtx);
	if (over) {
		ws_kill(l, 0, NULL, "the server does not read what it asks "
		    "for");
		return;
	}
	quiet = util_now_ms() - __atomic_load_n(&l->rx_ms, __ATOMIC_RELAXED);
	if (quiet >= (uint64_t)TC_HANGUP_SECS * 1000) {
		ws_kill(l, 0, NULL, "no answer from the server");
		return;
	}
	if (quiet >= (uint64_t)TC_PING_SECS * 1000) {
		ws_queue_control(l, WS_OP_PING, NULL, 0);
		lws_callback_on_writable(l->wsi);
	}
	lws_sul_schedule(client.ctx, 0, &l->ka, ws_keepalive_cb,
	    (lws_usec_t)WS_KA_CHECK_MS * LWS_US_PER_MS);
}

/*
 * Frames queued for the server into l->out, up to a batch with what is
 * already there; under client.wmtx.  True if more wait in the queues.
 */
static bool
ws_take(struct link *l)
{
	struct omsg	*m;
	size_t		 took = 0, frames = 0;
	bool		 more, kick = false;

	/*
	 * What the socket did not take last time goes first.  Frames taken
	 * no longer count in outq_bytes: at most a batch is outside the cap.
	 */
	for (m = l->out.head; m != NULL; m = m->next) {
		took += m->hl + m->len;
		frames++;
	}
	pthread_mutex_lock(&client.mtx);
	while (took < WS_TX_BATCH && frames < WS_TX_FRAMES &&
	    (m = ws_pop_locked(l)) != NULL) {
		took += m->hl + m->len;
		frames++;
		oqueue_push(&l->out, m);
	}
	more = l->ctrl.head != NULL || l->data.head != NULL;
	if (client.outq_blocked && client.outq_bytes < TC_OUTQ_LOW) {
		client.outq_blocked = false;
		client.kick_all = true;
		kick = true;
	}
	pthread_mutex_unlock(&client.mtx);
	if (kick)
		forward_wake();
	return more;
}

/*
 * A batch of frames per callback, written as they are queued (lws keeps
 * no copy of them); come back if there is more.
 */
static int
ws_writeable(struct link *l, struct lws *wsi)
{
	bool	more;
	int	r = 0;

	pthread_mutex_lock(&client.wmtx);
	more = ws_take(l);
	if (l->out.head != NULL && (r = ws_out_frames(l)) != 0)
		log_warn("WebSocket write failed");
	else if (more || l->out.head != NULL)
		lws_callback_on_writable(wsi);
	pthread_mutex_unlock(&client.wmtx);
	return r;
}

/*
 * From the curl thread: write what it queued, if the connection is plain
 * and nothing else is being written.  False if the lws thread has to
 * carry on (ws_wake): the socket did not take it all, or the lws thread
 * is writing, or it was not ours to write.
 */
bool
ws_send_direct(void)
{
	struct link	*l = &client.links[0];
	bool		 more, done = false;

	/* Not behind the lws thread's writes, TLS ones above all. */
	if (pthread_mutex_trylock(&client.wmtx) != 0)
		return false;
	if (l->wfd != -1 && l->out.head == NULL) {
		more = ws_take(l);
		if (l->out.head != NULL && ws_sendmsg(l) != 0)
			more = true;	/* the lws thread sees the error */
		done = !more && l->out.head == NULL;
	}
	pthread_mutex_unlock(&client.wmtx);
	return done;
}

/* Plain: the frames taken, in one system call; under client.wmtx. */
static int
ws_sendmsg(struct link *l)
{
	struct iovec	 iov[WS_TX_FRAMES];
	struct msghdr	 mh;
	ssize_t		 n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)wsout_iov(&l->out, l->out_off, iov,
	    WS_TX_FRAMES);
	n = sendmsg(l->wfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR ? 0 : -1;
	wsout_consume(&l->out, &l->out_off, (size_t)n);
	return 0;
}

/*
 * Write the frames taken.  Plain: straight from the messages, keeping
 * what the socket does not take for the next callback; after a CLOSE,
 * nothing.  TLS: all of them into GnuTLS, corked so that they go in as
 * few records as they fit; it writes through lws.
 */
static int
ws_out_frames(struct link *l)
{
	struct iovec	 iov[1];

	if (l->tls == NULL)
		return l->wfd != -1 ? ws_sendmsg(l) : 0;
	gnutls_record_cork(l->tls);
	while (wsout_iov(&l->out, l->out_off, iov, 1) > 0) {
		if (ws_tls_send(l, iov[0].iov_base, iov[0].iov_len) != 0)
			return -1;
		wsout_consume(&l->out, &l->out_off, iov[0].iov_len);
	}
	return gnutls_record_uncork(l->tls, GNUTLS_RECORD_WAIT) < 0 ? -1 : 0;
}

/*
 * A plain connection with HELLO in is read by the curl thread from here
 * on: an OPEN then reaches curl without waking another thread.  Called at
 * the end of a RAW_RX callback, all of whose bytes are taken apart; lws
 * stops polling the socket for input once the callback returns.
 */
static void
ws_go_direct(struct link *l, struct lws *wsi)
{
	int	fd;

	if (l->tls != NULL || l->wfd == -1 || !l->hello_done ||
	    client_stopping())
		return;
	if ((fd = fcntl(lws_get_socket_fd(wsi), F_DUPFD_CLOEXEC, 0)) == -1) {
		log_debug("dup: %s", strerror(errno));
		return;			/* lws goes on reading */
	}
	if (client.rbuf == NULL)
		client.rbuf = xmalloc(TC_RX_BUFFER);
	pthread_mutex_lock(&client.rmtx);
	client.rfd = fd;
	client.rbuf_off = client.rbuf_len = 0;
	client.back_why = NULL;
	client.rx_mode = WS_RX_DIRECT;
	pthread_mutex_unlock(&client.rmtx);
	lws_rx_flow_control(wsi, 0);
	forward_wake();
}

/*
 * lws thread: the curl thread reads no more (it finishes what it is
 * taking apart first).  The descriptor is closed under the lock: the
 * curl thread uses it only under the lock, but for poll().
 */
static void
ws_direct_off(void)
{
	pthread_mutex_lock(&client.rmtx);
	if (client.rfd != -1)
		close(client.rfd);
	client.rfd = -1;
	client.rx_mode = WS_RX_LWS;
	client.rbuf_off = client.rbuf_len = 0;
	client.back_why = NULL;
	tbuf_reset(&client.back);
	tbuf_shrink(&client.back);
	pthread_mutex_unlock(&client.rmtx);
}

/* Curl thread: the descriptor to poll for input, or -1. */
int
ws_direct_fd(void)
{
	int	fd;

	pthread_mutex_lock(&client.rmtx);
	fd = client.rx_mode == WS_RX_DIRECT ? client.rfd : -1;
	pthread_mutex_unlock(&client.rmtx);
	return fd;
}

/*
 * Curl thread: what the connection has, while it is ours to read (what
 * was left unread first, then up to TC_RX_READS reads if readable).
 * True if it took any: messages for the server may wait.
 */
bool
ws_read_direct(bool readable)
{
	struct link	*l = &client.links[0];
	ssize_t		 n;
	int		 reads = 0;
	bool		 took = false;

	pthread_mutex_lock(&client.rmtx);
	while (client.rx_mode == WS_RX_DIRECT) {
		if (client.rbuf_off < client.rbuf_len) {
			took = true;
			if (ws_rx_frames(l) != 0)
				break;
			continue;
		}
		if (!readable || reads++ == TC_RX_READS)
			break;
		n = recv(client.rfd, client.rbuf, TC_RX_BUFFER, MSG_DONTWAIT);
		if (n > 0) {
			client.rbuf_off = 0;
			client.rbuf_len = (size_t)n;
			__atomic_store_n(&l->rx_ms, util_now_ms(),
			    __ATOMIC_RELAXED);
			/* Less than asked for: that was all, for now. */
			readable = n == TC_RX_BUFFER;
		} else if (n == 0)
			ws_rx_end(0, "closed");
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		else if (errno == ECONNRESET)
			ws_rx_end(0, "reset by the server");
		else if (errno != EINTR)
			ws_rx_end(0, "a read error");
	}
	pthread_mutex_unlock(&client.rmtx);
	return took;
}

/*
 * Curl thread, under client.rmtx: the frames in client.rbuf, as
 * ws_receive() takes them.  Non-zero: it stopped, the rest of the bytes
 * wait for the lws thread to hand the connection back.
 */
static int
ws_rx_frames(struct link *l)
{
	struct wsframe_ev	 ev;
	size_t			 used;
	int			 r;

	while (client.rbuf_off < client.rbuf_len) {
		r = wsframe_decode(&l->dec, client.rbuf + client.rbuf_off,
		    client.rbuf_len - client.rbuf_off, &used, &ev);
		client.rbuf_off += used;
		if (r < 0) {
			log_warn("bad WebSocket frame from the server: %s",
			    tunerr_str(r));
			ws_rx_end(l->dec.close_code, "a bad frame from the server");
			return -1;
		}
		if (r == 0)
			break;
		switch (ev.opcode) {
		case WS_OP_BINARY:
			if ((r = ws_binary(l, &ev, ws_rx_message)) < 0) {
				ws_rx_end(WS_CLOSE_PROTOCOL,
				    "a bad message from the server");
				return -1;
			}
			if (r > 0)
				return 1;	/* handed back */
			break;
		case WS_OP_PING:
			ws_queue_control(l, WS_OP_PONG, ev.data, ev.len);
			break;
		case WS_OP_PONG:
			break;
		case WS_OP_CLOSE:
			ws_rx_end(WS_CLOSE_NORMAL, "closed by the server");
			return -1;
		default:
			log_warn("the server sent a text message");
			ws_rx_end(WS_CLOSE_UNSUPPORTED,
			    "a text message from the server");
			return -1;
		}
	}
	return 0;
}

/*
 * Curl thread, under client.rmtx: stream news is dealt with here, as the
 * lws thread would; any other message goes back to the lws thread, in
 * order (1).  Negative: drop the link.
 */
static int
ws_rx_message(struct link *l, const uint8_t *buf, size_t len)
{
	struct proto_msg	m;
	bool			wake = false;
	int			r;

	if (len < PROTO_HDR_LEN)
		return TUN_EPROTO;
	switch (buf[0]) {
	case PROTO_OPEN:
	case PROTO_DATA:
	case PROTO_END:
	case PROTO_RESET:
	case PROTO_WINDOW:
		break;
	default:
		tbuf_reset(&client.back);
		if (tbuf_put(&client.back, buf, len) != 0)
			return TUN_ETOOBIG;
		client.rx_mode = WS_RX_BACK;
		ws_wake();
		return 1;
	}
	if ((r = proto_parse(buf, len, &m)) != 0) {
		log_warn("bad message from the server: %s", tunerr_str(r));
		return r;
	}
	log_debug("<- %s stream %u", proto_type_str(m.type), m.stream_id);
	if (m.type == PROTO_OPEN)
		r = ws_open(l, &m, &wake);
	else
		ws_stream_msg(l, &m, &wake);
	proto_msg_clear(&m);
	return r;			/* the curl thread looks at its inbox next */
}

/* Curl thread, under client.rmtx: the connection is to close. */
static void
ws_rx_end(uint16_t code, const char *why)
{
	client.back_code = code;
	client.back_why = why;
	client.rx_mode = WS_RX_BACK;
	ws_wake();
}

/*
 * lws thread: what the curl thread handed back.  A message is dealt with
 * and the curl thread reads on; an end closes the connection.
 */
static void
ws_back(struct link *l)
{
	struct tbuf	 msg;
	const char	*why;
	uint16_t	 code;
	int		 r;

	pthread_mutex_lock(&client.rmtx);
	if (client.rx_mode != WS_RX_BACK) {
		pthread_mutex_unlock(&client.rmtx);
		return;
	}
	if ((why = client.back_why) != NULL) {
		code = client.back_code;
		client.back_why = NULL;		/* once */
		pthread_mutex_unlock(&client.rmtx);
		ws_kill(l, code, NULL, why);
		return;
	}
	if (tbuf_len(&client.back) == 0) {	/* the end, dealt with */
		pthread_mutex_unlock(&client.rmtx);
		return;
	}
	/* The curl thread reads nothing until the mode changes. */
	msg = client.back;
	tbuf_init(&client.back, PROTO_MAX_MSG);
	pthread_mutex_unlock(&client.rmtx);
	r = ws_message(l, tbuf_ptr(&msg), tbuf_len(&msg));
	tbuf_free(&msg);
	if (r != 0) {
		ws_kill(l, WS_CLOSE_PROTOCOL, "protocol error",
		    "a bad message from the server");
		return;
	}
	if (l->wsi == NULL)
		return;			/* gone meanwhile */
	pthread_mutex_lock(&client.rmtx);
	if (client.rx_mode == WS_RX_BACK)
		client.rx_mode = WS_RX_DIRECT;
	pthread_mutex_unlock(&client.rmtx);
	forward_wake();
}

/*
 * lws thread, outside the connection's own callbacks: a CLOSE with code
 * (none for 0), and the connection closed; why goes to the log.
 */
static void
ws_kill(struct link *l, uint16_t code, const char *reason, const char *why)
{
	if (code != 0)
		ws_close_now(l, l->wsi, code, reason);
	l->down_why = why;
	lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
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
		ws_remake(t);
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
	const char	*why = NULL;
	bool		 full;

	pthread_mutex_lock(&client.mtx);
	st = forward_lookup_locked(l, m->stream_id);
	pthread_mutex_unlock(&client.mtx);
	if (m->stream_id % 2 == 0) {
		log_warn("the server opened stream %u, an even id",
		    m->stream_id);
		return TUN_EPROTO;
	}
	if (st != NULL) {
		log_warn("the server opened stream %u twice", m->stream_id);
		return TUN_EPROTO;
	}
	/* Which tunnel: named in the OPEN, else the one connected to. */
	t = m->head.tunnel != NULL ? ws_find(m->head.tunnel) : client.primary;
	if (t == NULL || t->dropped || (!t->attached && t != client.primary)) {
		log_warn("stream %u for tunnel %s, not served here",
		    m->stream_id, m->head.tunnel != NULL ? m->head.tunnel : "?");
		why = "tunnel not served on this connection";
	} else {
		pthread_mutex_lock(&client.mtx);
		full = l->conn->nstreams >= TC_MAX_STREAMS;
		pthread_mutex_unlock(&client.mtx);
		if (full)
			why = "too many streams open";
	}
	if (why != NULL) {
		tbuf_init(&b, 512);
		if (proto_encode_reset(&b, m->stream_id, PROTO_RESET_REFUSED,
		    why) == 0) {
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
	struct stream	*st, *big;

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
		/* A body with a Content-Length has exactly that many bytes. */
		if (st->open.body && st->open.content_length >= 0 &&
		    (int64_t)m->len > st->open.content_length - st->req_got) {
			forward_send_reset_locked(st, PROTO_RESET_PROTOCOL,
			    "data beyond the Content-Length");
			*wake = true;
			break;
		}
		st->req_got += (int64_t)m->len;
		if (st->curl_done || st->local_done) {
			/* Nobody reads it any more: take it and credit it. */
			if (m->len > 0)
				forward_send_window_locked(st,
				    (uint32_t)m->len);
			break;
		}
		/*
		 * The local services are behind by TC_HELD_MAX in all: the
		 * stream holding the most goes, this one or another (the
		 * connection is read on, so that RESET, WINDOW and END keep
		 * coming for the others).
		 */
		while (!ws_held_add(m->len)) {
			big = ws_biggest_locked(l->conn);
			if (big == NULL || big == st || tbuf_len(&big->req) <=
			    tbuf_len(&st->req) + m->len)
				big = st;
			log_warn("stream %u: %zu MiB of requests wait for the "
			    "local service; reset, holding %zu KiB", big->id,
			    (size_t)(TC_HELD_MAX >> 20),
			    tbuf_len(&big->req) >> 10);
			forward_send_reset_locked(big, PROTO_RESET_LIMIT,
			    "the local service is too far behind");
			*wake = true;
			if (big == st)
				goto out;
		}
		if (tbuf_put(&st->req, m->data, m->len) != 0) {
			ws_held_sub(m->len);
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
		if (st->open.body && st->open.content_length >= 0 &&
		    st->req_got != st->open.content_length) {
			forward_send_reset_locked(st, PROTO_RESET_PROTOCOL,
			    "body shorter than its Content-Length");
			*wake = true;
			break;
		}
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
		if (st->credit > PROTO_MAX_WINDOW) {
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
