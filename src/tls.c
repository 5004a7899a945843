/*
 * TLS on the public listener.
 *
 * libmicrohttpd 0.9.75 relays an upgraded TLS connection through a 4-byte
 * buffer (about 150 KB/s), and every agent link and public WebSocket is an
 * upgraded connection.  So tunneld terminates TLS itself: relay threads
 * accept on the public port, run the GnuTLS handshake, and hand a plain
 * libmicrohttpd (started with MHD_USE_NO_LISTEN_SOCKET) one end of a
 * socketpair with MHD_add_connection() and the caller's real address.  They
 * then copy plaintext between the TLS session and the socketpair, one TLS
 * record at a time.  MHD, the proxy and the session loop only ever see a
 * plain socket, so upgraded connections run at full speed on the one port.
 *
 * Each relay thread has its own epoll set and its own connections; all of
 * them watch the listening socket (EPOLLEXCLUSIVE).  A connection holds no
 * buffer while data flows: records are read into the thread's scratch
 * buffer and written on at once; only the rest of a short write to the
 * socketpair is kept (GnuTLS keeps a record it could not send itself).
 * Credentials are reference counted: a reload (SIGHUP) gives the next
 * handshake the new certificate while open connections keep theirs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

#define TLS_ACCEPTS		64		/* per wake-up */
#define TLS_RECORD		16384		/* largest TLS plaintext record */
#define TLS_HANDSHAKE_MS	10000		/* slow handshakes are cut */
#define TLS_MAX_THREADS		16
#define TLS_PUMP_ROUNDS		64		/* then let the others run */
#define TLS_MIN_VERSION		":-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"

struct tls_cred {
	atomic_int				 refs;
	gnutls_certificate_credentials_t	 x509;
	gnutls_priority_t			 prio;
};

struct tls_conn;

/* What an epoll event points at: one end of a connection. */
struct tls_end {
	struct tls_conn	*conn;
	bool		 app;		/* the socketpair, else the caller */
	uint32_t	 events;	/* registered with epoll */
};

struct tls_conn {
	int			 fd;		/* the caller's TCP socket */
	int			 app;		/* our end of the socketpair */
	int			 mhd;		/* MHD's end until handed over */
	gnutls_session_t	 s;
	struct tls_cred		*cred;
	struct tls_end		 ev_fd, ev_app;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	bool			 ready;		/* handshake done, MHD has it */
	bool			 tls_eof;	/* caller sent close_notify/EOF */
	bool			 app_eof;	/* MHD closed its end */
	bool			 send_pending;	/* GnuTLS holds a record */
	bool			 recv_out;	/* GnuTLS reads, wants to write */
	bool			 dead;		/* closed, freed after the batch */
	bool			 hot;		/* more to do: on the hot list */
	struct tls_conn		*hot_next;
	uint8_t			*pend;		/* for MHD, after a short write */
	size_t			 pend_off, pend_len;
	uint64_t		 deadline_ms;	/* handshake */
	uint64_t		 stall_ms;	/* a record waits since, or 0 */
	uint8_t			 ipkey[16];	/* counted in tls_ips */
	bool			 counted;
	struct tls_conn		*prev, *next;	/* the thread's list */
};

struct tls_thread {
	pthread_t		 tid;
	int			 epfd;
	int			 evfd;		/* wakes it to stop */
	bool			 listening;	/* listen fd in its epoll */
	uint64_t		 resume_ms;	/* accept again after EMFILE */
	uint64_t		 last_emfile_log;
	struct tls_conn		*conns;
	struct tls_conn		*dead;		/* freed after each batch */
	struct tls_conn		*hot;		/* stopped by TLS_PUMP_ROUNDS */
	uint8_t			 buf[TLS_RECORD];
};

static pthread_mutex_t		 tls_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct tls_cred		*tls_current;	/* under tls_mtx */
static gnutls_datum_t		 tls_ticket_key;
static struct tls_thread	 tls_threads[TLS_MAX_THREADS];
static int			 tls_nthreads;
static int			 tls_listen_fd = -1;
static unsigned char		 tls_http11[] = "http/1.1";
static const gnutls_datum_t	 tls_alpn = { tls_http11, 8 };
static atomic_bool		 tls_stopping;
static atomic_bool		 tls_quiet;	/* no more accepts */
static pthread_rwlock_t	 tls_mhd_lock = PTHREAD_RWLOCK_INITIALIZER;
static bool		 tls_mhd_gone;	/* under tls_mhd_lock */
static bool			 tls_on;
static struct iplimit		 tls_ips;	/* max_conns_per_ip, in TLS */

static void	*tls_thread_main(void *);
static void	 tls_accept(struct tls_thread *);
static void	 tls_accept_rest(struct tls_thread *, const char *);
static void	 tls_pump(struct tls_thread *, struct tls_conn *);
static int	 tls_handshake(struct tls_conn *);
static void	 tls_interest(struct tls_thread *, struct tls_conn *);
static void	 tls_conn_close(struct tls_thread *, struct tls_conn *);
static void	 tls_conn_free(struct tls_conn *);
static void	 tls_reap(struct tls_thread *);
static void	 tls_cred_unref(struct tls_cred *);
static int	 tls_to_app(struct tls_conn *, const uint8_t *, size_t);

bool
tls_enabled(void)
{
	return tls_on;
}

/*
 * Loads the certificate chain, key and priority string of cfg into a new
 * credential.  NULL with a log line if one of them does not load.
 */
static struct tls_cred *
tls_cred_load(const struct config *c)
{
	struct tls_cred	*cr;
	const char	*errpos = NULL;
	char		*prio;
	int		 r;

	cr = xcalloc(1, sizeof(*cr));
	atomic_init(&cr->refs, 1);
	if ((r = gnutls_certificate_allocate_credentials(&cr->x509)) != 0) {
		log_error("tls: %s", gnutls_strerror(r));
		free(cr);
		return NULL;
	}
	r = gnutls_certificate_set_x509_key_file2(cr->x509, c->tls_cert,
	    c->tls_key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		log_error("tls: cannot load tls_cert %s with tls_key %s: %s",
		    c->tls_cert, c->tls_key, gnutls_strerror(r));
		goto fail;
	}
	xasprintf(&prio, "%s" TLS_MIN_VERSION, c->tls_priority != NULL ?
	    c->tls_priority : "NORMAL");
	r = gnutls_priority_init2(&cr->prio, prio, &errpos, 0);
	if (r < 0) {
		log_error("tls: tls_priority '%s': %s near '%s'", prio,
		    gnutls_strerror(r), errpos != NULL ? errpos : "");
		free(prio);
		goto fail;
	}
	free(prio);
	return cr;
fail:
	gnutls_certificate_free_credentials(cr->x509);
	free(cr);
	return NULL;
}

static struct tls_cred *
tls_cred_get(void)
{
	struct tls_cred	*cr;

	pthread_mutex_lock(&tls_mtx);
	cr = tls_current;
	atomic_fetch_add(&cr->refs, 1);
	pthread_mutex_unlock(&tls_mtx);
	return cr;
}

static void
tls_cred_unref(struct tls_cred *cr)
{
	if (cr == NULL || atomic_fetch_sub(&cr->refs, 1) != 1)
		return;
	gnutls_priority_deinit(cr->prio);
	gnutls_certificate_free_credentials(cr->x509);
	free(cr);
}

/*
 * Checks and loads tls_cert and tls_key at start: 0 (TLS on, or off when
 * neither is set) or -1 with a log line.
 */
int
tls_init(void)
{
	if (cfg.tls_cert == NULL && cfg.tls_key == NULL)
		return 0;
	if (cfg.tls_cert == NULL || cfg.tls_key == NULL) {
		log_error("tls_cert and tls_key go together: set both");
		return -1;
	}
	if ((tls_current = tls_cred_load(&cfg)) == NULL)
		return -1;
	if (gnutls_session_ticket_key_generate(&tls_ticket_key) != 0) {
		log_error("tls: cannot make a session ticket key");
		return -1;
	}
	tls_on = true;
	return 0;
}

/*
 * SIGHUP: the certificate and key are read again (certbot renews them
 * behind our back).  The next handshake gets them; open connections keep
 * what they have.  A pair that does not load leaves the old one in use.
 */
void
tls_reload(const struct config *n)
{
	struct tls_cred	*cr, *old;

	if ((n->tls_cert != NULL) != tls_on) {
		log_warn("reload: turning TLS on or off needs a restart");
		return;
	}
	if (!tls_on)
		return;
	if (n->tls_key == NULL) {
		log_error("reload: tls_cert without tls_key; keeping the "
		    "certificate in use");
		return;
	}
	if ((cr = tls_cred_load(n)) == NULL) {
		log_error("reload: keeping the certificate in use");
		return;
	}
	pthread_mutex_lock(&tls_mtx);
	old = tls_current;
	tls_current = cr;
	pthread_mutex_unlock(&tls_mtx);
	tls_cred_unref(old);
	log_info("reload: TLS certificate %s loaded", n->tls_cert);
}

/* Starts the relay threads on the listening socket lfd. */
int
tls_start(int lfd, int nthreads)
{
	struct epoll_event	 ev;
	struct tls_thread	*t;
	int			 i, fl;

	tls_listen_fd = lfd;
	/* libmicrohttpd counts them again once it has them (http.c). */
	iplimit_init(&tls_ips, (unsigned int)cfg.max_conns_per_ip);
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	tls_nthreads = nthreads < 1 ? 1 : nthreads > TLS_MAX_THREADS ?
	    TLS_MAX_THREADS : nthreads;
	for (i = 0; i < tls_nthreads; i++) {
		t = &tls_threads[i];
		if ((t->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
		    (t->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
			return -1;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;		/* the eventfd */
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) == -1)
			return -1;
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.ptr = &tls_listen_fd;
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
			return -1;
		t->listening = true;
		if (pthread_create(&t->tid, NULL, tls_thread_main, t) != 0)
			return -1;
	}
	return 0;
}

static void
tls_wake_all(void)
{
	uint64_t	one = 1;
	int		i;

	for (i = 0; i < tls_nthreads; i++)
		(void)write(tls_threads[i].evfd, &one, sizeof(one));
}

/* Drain: no new connections; those open go on. */
void
tls_quiesce(void)
{
	if (!tls_on)
		return;
	atomic_store(&tls_quiet, true);
	tls_wake_all();
}

/*
 * Before MHD_stop_daemon: a handshake that completes from now on is not
 * handed to a daemon that is going away.
 */
void
tls_release_mhd(void)
{
	pthread_rwlock_wrlock(&tls_mhd_lock);
	tls_mhd_gone = true;
	pthread_rwlock_unlock(&tls_mhd_lock);
}

/* After MHD_stop_daemon: every connection closed, threads joined. */
void
tls_stop(void)
{
	int	i;

	if (!tls_on)
		return;
	atomic_store(&tls_stopping, true);
	tls_wake_all();
	for (i = 0; i < tls_nthreads; i++) {
		pthread_join(tls_threads[i].tid, NULL);
		close(tls_threads[i].epfd);
		close(tls_threads[i].evfd);
	}
	tls_nthreads = 0;
	if (tls_listen_fd != -1)
		close(tls_listen_fd);
	tls_listen_fd = -1;
	tls_cred_unref(tls_current);
	tls_current = NULL;
	iplimit_free(&tls_ips);
	gnutls_free(tls_ticket_key.data);
	tls_ticket_key.data = NULL;
	tls_on = false;
}

static void
tls_listening(struct tls_thread *t, bool on)
{
	struct epoll_event	ev;

	if (t->listening == on)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = &tls_listen_fd;
	(void)epoll_ctl(t->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    tls_listen_fd, &ev);
	t->listening = on;
}

static void *
tls_thread_main(void *arg)
{
	struct tls_thread	*t = arg;
	struct epoll_event	 evs[64];
	struct tls_conn		*c, *next, *hot;
	struct tls_end		*e;
	uint64_t		 now, last_sweep = 0, junk, stall;
	int			 n, i;

	while (!atomic_load(&tls_stopping)) {
		n = epoll_wait(t->epfd, evs, 64, t->hot != NULL ? 0 : 1000);
		now = util_now_ms();
		/* Those cut short last round; a pump may put one back. */
		hot = t->hot;
		t->hot = NULL;
		while ((c = hot) != NULL) {
			hot = c->hot_next;
			c->hot = false;
			tls_pump(t, c);
		}
		if (atomic_load(&tls_quiet))
			tls_listening(t, false);
		else if (!t->listening && now >= t->resume_ms)
			tls_listening(t, true);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				(void)read(t->evfd, &junk, sizeof(junk));
				continue;
			}
			if (evs[i].data.ptr == &tls_listen_fd) {
				tls_accept(t);
				continue;
			}
			e = evs[i].data.ptr;
			if (!e->conn->dead)
				tls_pump(t, e->conn);
		}
		tls_reap(t);
		if (now - last_sweep < 1000)
			continue;
		last_sweep = now;
		stall = (uint64_t)CFG_GET(connection_timeout) * 1000;
		for (c = t->conns; c != NULL; c = next) {
			next = c->next;
			if (!c->ready && now >= c->deadline_ms) {
				log_debug("tls: handshake timeout");
				tls_conn_close(t, c);
			} else if (c->stall_ms != 0 && stall > 0 &&
			    now - c->stall_ms >= stall) {
				/*
				 * The caller has not taken a record for
				 * connection_timeout: while one waits, the
				 * MHD side is not watched, so this is the
				 * only end it gets.
				 */
				log_debug("tls: caller stopped reading");
				tls_conn_close(t, c);
			}
		}
		tls_reap(t);
	}
	while (t->conns != NULL)
		tls_conn_close(t, t->conns);
	tls_reap(t);
	return NULL;
}

/*
 * Out of descriptors or memory: the listener stays readable, so this
 * thread leaves it for 100 ms (a warning every 10 s at most).
 */
static void
tls_accept_rest(struct tls_thread *t, const char *what)
{
	uint64_t	now = util_now_ms();

	if (now - t->last_emfile_log > 10000) {
		t->last_emfile_log = now;
		log_warn("tls: %s: %s", what, strerror(errno));
	}
	t->resume_ms = now + 100;
	tls_listening(t, false);
}

static void
tls_accept(struct tls_thread *t)
{
	struct tls_conn	*c;
	struct sockaddr_storage ss;
	socklen_t	 sl;
	uint8_t		 key[16];
	int		 fd, sv[2], one = 1, r, n, taken;

	/*
	 * A batch per wake-up: the listener is level-triggered, and this
	 * thread's connections and handshake deadlines wait meanwhile.
	 */
	for (n = 0; n < TLS_ACCEPTS; n++) {
		sl = sizeof(ss);
		fd = accept4(tls_listen_fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				tls_accept_rest(t, "accept");
			return;
		}
		iplimit_key((struct sockaddr *)&ss, key);
		if ((taken = iplimit_take(&tls_ips, key, false)) ==
		    IPLIMIT_FULL) {
			log_debug("tls: max_conns_per_ip reached; closed");
			close(fd);
			continue;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sv) == -1) {
			tls_accept_rest(t, "socketpair");	/* EMFILE too */
			if (taken == IPLIMIT_TAKEN)
				iplimit_put(&tls_ips, key);
			close(fd);
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->app = sv[0];
		c->mhd = sv[1];
		memcpy(&c->peer, &ss, sl);
		c->peerlen = sl;
		memcpy(c->ipkey, key, 16);
		c->counted = taken == IPLIMIT_TAKEN;
		c->ev_fd.conn = c->ev_app.conn = c;
		c->ev_app.app = true;
		c->deadline_ms = util_now_ms() + TLS_HANDSHAKE_MS;
		c->cred = tls_cred_get();
		r = gnutls_init(&c->s, GNUTLS_SERVER | GNUTLS_NONBLOCK |
		    GNUTLS_NO_SIGNAL);
		if (r == 0)
			r = gnutls_priority_set(c->s, c->cred->prio);
		if (r == 0)
			r = gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE,
			    c->cred->x509);
		if (r == 0)
			r = gnutls_session_ticket_enable_server(c->s,
			    &tls_ticket_key);
		if (r == 0)
			r = gnutls_alpn_set_protocols(c->s, &tls_alpn, 1, 0);
		if (r != 0) {
			log_warn("tls: new session: %s", gnutls_strerror(r));
			tls_conn_free(c);
			continue;
		}
		gnutls_transport_set_int(c->s, fd);
		gnutls_handshake_set_timeout(c->s, 0);
		if ((c->next = t->conns) != NULL)
			c->next->prev = c;
		t->conns = c;
		tls_pump(t, c);
	}
}

/* Runs the handshake on; at its end hands the socketpair to MHD. */
static int
tls_handshake(struct tls_conn *c)
{
	int	r;

	do {
		r = gnutls_handshake(c->s);
	} while (r < 0 && !gnutls_error_is_fatal(r) && r != GNUTLS_E_AGAIN);
	if (r == GNUTLS_E_AGAIN)
		return 0;
	if (r < 0) {
		log_debug("tls: handshake: %s", gnutls_strerror(r));
		return -1;
	}
	c->ready = true;
	/*
	 * MHD owns (and closes, even on failure) its end from here on.  Not
	 * once shutdown has let go of the daemon (tls_release_mhd): then the
	 * connection goes, as one still in its handshake would.
	 */
	pthread_rwlock_rdlock(&tls_mhd_lock);	/* the threads at once */
	if (tls_mhd_gone) {
		pthread_rwlock_unlock(&tls_mhd_lock);
		return -1;
	}
	r = MHD_add_connection(tunneld_mhd, c->mhd,
	    (const struct sockaddr *)&c->peer, c->peerlen);
	pthread_rwlock_unlock(&tls_mhd_lock);
	c->mhd = -1;
	if (r != MHD_YES) {
		log_warn("tls: connection refused by the HTTP server: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Hands plaintext to MHD; keeps what the socketpair did not take. */
static int
tls_to_app(struct tls_conn *c, const uint8_t *p, size_t len)
{
	ssize_t	n;

	n = send(c->app, p, len, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		n = 0;
	}
	if ((size_t)n < len) {
		c->pend = xmalloc(len - (size_t)n);
		memcpy(c->pend, p + n, len - (size_t)n);
		c->pend_off = 0;
		c->pend_len = len - (size_t)n;
	}
	return 0;
}

/*
 * Moves everything that can move, in both directions, until nothing does;
 * then sets which events to wait for.  Closes the connection when it is
 * over or broken.
 */
static void
tls_pump(struct tls_thread *t, struct tls_conn *c)
{
	ssize_t	n;
	size_t	max;
	bool	progress;
	int	rounds = 0;

	if (!c->ready) {
		if (tls_handshake(c) != 0) {
			tls_conn_close(t, c);
			return;
		}
		if (!c->ready) {
			tls_interest(t, c);
			return;
		}
	}
	do {
		progress = false;
		/* caller -> MHD */
		if (c->pend_len > 0) {
			n = send(c->app, c->pend + c->pend_off, c->pend_len,
			    MSG_NOSIGNAL);
			if (n > 0) {
				c->pend_off += (size_t)n;
				c->pend_len -= (size_t)n;
				if (c->pend_len == 0) {
					free(c->pend);
					c->pend = NULL;
				}
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR)
				goto fail;
		}
		if (c->pend_len == 0 && !c->tls_eof) {
			c->recv_out = false;
			n = gnutls_record_recv(c->s, t->buf, sizeof(t->buf));
			if (n > 0) {
				if (tls_to_app(c, t->buf, (size_t)n) != 0)
					goto fail;
				progress = true;
			} else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
				c->tls_eof = true;
				(void)shutdown(c->app, SHUT_WR);
				progress = true;
			} else if (n == GNUTLS_E_AGAIN)
				c->recv_out = gnutls_record_get_direction(c->s);
			else if (gnutls_error_is_fatal((int)n)) {
				log_debug("tls: receive: %s",
				    gnutls_strerror((int)n));
				goto fail;
			} else
				progress = true;	/* a warning alert */
		}
		/* MHD -> caller */
		if (c->send_pending) {
			n = gnutls_record_send(c->s, NULL, 0);
			if (n >= 0) {
				c->send_pending = false;
				c->stall_ms = 0;
				progress = true;
			} else if (n != GNUTLS_E_AGAIN &&
			    n != GNUTLS_E_INTERRUPTED)
				goto fail;
		}
		if (!c->send_pending && !c->app_eof) {
			max = gnutls_record_get_max_size(c->s);
			if (max == 0 || max > sizeof(t->buf))
				max = sizeof(t->buf);
			n = recv(c->app, t->buf, max, 0);
			if (n > 0) {
				n = gnutls_record_send(c->s, t->buf, (size_t)n);
				if (n == GNUTLS_E_AGAIN ||
				    n == GNUTLS_E_INTERRUPTED) {
					c->send_pending = true;
					c->stall_ms = util_now_ms();
				} else if (n < 0)
					goto fail;
				progress = true;
			} else if (n == 0) {
				c->app_eof = true;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR)
				goto fail;
		}
	} while (progress && ++rounds < TLS_PUMP_ROUNDS);
	if (progress && !c->hot) {
		/* Not done, but others wait: again after this batch. */
		c->hot = true;
		c->hot_next = t->hot;
		t->hot = c;
	}
	if (c->app_eof && !c->send_pending) {
		(void)gnutls_bye(c->s, GNUTLS_SHUT_WR);
		goto fail;
	}
	tls_interest(t, c);
	return;
fail:
	tls_conn_close(t, c);
}

static void
tls_watch(struct tls_thread *t, int fd, struct tls_end *e, uint32_t want)
{
	struct epoll_event	ev;
	int			op;

	if (e->events == want)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = e;
	op = e->events == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL :
	    EPOLL_CTL_MOD;
	if (epoll_ctl(t->epfd, op, fd, &ev) == 0)
		e->events = want;
}

static void
tls_interest(struct tls_thread *t, struct tls_conn *c)
{
	uint32_t	wfd = 0, wapp = 0;
	bool		out;

	if (!c->ready) {
		out = gnutls_record_get_direction(c->s) == 1;
		wfd = out ? EPOLLOUT : EPOLLIN;
	} else {
		if (c->pend_len == 0 && !c->tls_eof)
			wfd |= c->recv_out ? EPOLLOUT : EPOLLIN;
		if (c->send_pending)
			wfd |= EPOLLOUT;
		if (!c->send_pending && !c->app_eof)
			wapp |= EPOLLIN;
		if (c->pend_len > 0)
			wapp |= EPOLLOUT;
	}
	tls_watch(t, c->fd, &c->ev_fd, wfd);
	tls_watch(t, c->app, &c->ev_app, wapp);
}

/*
 * Closes a connection's descriptors (which takes them out of the epoll
 * set); the memory waits for the end of the batch of events, which may
 * still name it.
 */
static void
tls_conn_close(struct tls_thread *t, struct tls_conn *c)
{
	struct tls_conn	**pp;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->hot) {
		for (pp = &t->hot; *pp != c; pp = &(*pp)->hot_next)
			;
		*pp = c->hot_next;
		c->hot = false;
	}
	close(c->fd);
	close(c->app);
	c->fd = c->app = -1;
	c->dead = true;
	c->next = t->dead;
	t->dead = c;
}

static void
tls_reap(struct tls_thread *t)
{
	struct tls_conn	*c;

	while ((c = t->dead) != NULL) {
		t->dead = c->next;
		tls_conn_free(c);
	}
}

static void
tls_conn_free(struct tls_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	if (c->app != -1)
		close(c->app);
	if (c->mhd != -1)
		close(c->mhd);
	if (c->s != NULL)
		gnutls_deinit(c->s);
	if (c->counted)
		iplimit_put(&tls_ips, c->ipkey);
	tls_cred_unref(c->cred);
	free(c->pend);
	free(c);
}
