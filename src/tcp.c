/*
 * TCP tunnels: each tunnel of type tcp has a public port of its own, from
 * tcp_ports.  Every connection to it becomes a stream to one of the
 * tunnel's agents (OPEN with method "TCP"), raw from the start: relay.c
 * carries the bytes both ways and each side's END half-closes.
 *
 * The port is bound by the API thread that creates the tunnel (so a port
 * in use is an answer, not a log line), then handed to the session loop,
 * which owns every listening socket: it accepts, and it alone closes them.
 * Both hand-overs go through a small queue under tcp_mtx.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define TCP_BACKLOG	128
#define TCP_ACCEPTS	64		/* per wake-up */
#define TCP_PAUSE_MS	200		/* no accepts after EMFILE */

struct tcplisten {
	int			 evkind;	/* EVK_LISTEN: first */
	int			 fd;
	int			 port;
	char			 tunnel_id[TUNNELD_ID_LEN];
	uint64_t		 paused_ms;	/* out of descriptors at */
	struct tcplisten	*next;
};

/* A queued hand-over: add (fd != -1) or close the listener of a tunnel. */
struct tcpop {
	int			 fd;
	int			 port;
	char			 tunnel_id[TUNNELD_ID_LEN];
	struct tcpop		*next;
};

static pthread_mutex_t	 tcp_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct tcpop	*tcp_ops, **tcp_ops_tail = &tcp_ops;
static struct tcplisten	*tcp_listeners;		/* loop only */

static int	 tcp_bind(int);
static int	 tcp_peer_port(const struct sockaddr_storage *);
static void	 tcp_queue(int, int, const char *);
static int	 tcp_restore_one(struct tunnel *, void *);
static void	 tcp_restore_cb(struct tunnel *, void *);

/* The listen address's host, with our port; -1 and errno if it fails. */
static int
tcp_bind(int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 host[256];
	socklen_t		 len;
	int			 fd, one = 1, hp, e;

	memset(&ss, 0, sizeof(ss));
	if (util_split_hostport(cfg.listen, host, sizeof(host), &hp) != 0)
		host[0] = '\0';
	if (host[0] != '\0' && strchr(host, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (host[0] != '\0' && inet_pton(AF_INET, host,
		    &sin->sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		len = sizeof(*sin);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, TCP_BACKLOG) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The caller's port, for the log (a test finds its connection by it). */
static int
tcp_peer_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)
		    ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static void
tcp_queue(int fd, int port, const char *id)
{
	struct tcpop	*op = xcalloc(1, sizeof(*op));

	op->fd = fd;
	op->port = port;
	util_strlcpy(op->tunnel_id, id, sizeof(op->tunnel_id));
	pthread_mutex_lock(&tcp_mtx);
	*tcp_ops_tail = op;
	tcp_ops_tail = &op->next;
	pthread_mutex_unlock(&tcp_mtx);
	loop_wake();
}

/*
 * A public port for t (registry locked): `want`, or the first free one of
 * tcp_ports from a random start.  Returns 0, or 400/409/503 with *err.
 */
int
tcp_open_locked(struct tunnel *t, int want, const char **err)
{
	int		 span, i, port, fd = -1;
	uint32_t	 start;

	if (cfg.tcp_lo == 0) {
		*err = "TCP tunnels are not enabled on this server (tcp_ports)";
		return 400;
	}
	if (want != 0) {
		if (want < cfg.tcp_lo || want > cfg.tcp_hi) {
			*err = "remote_port is outside the server's tcp_ports";
			return 400;
		}
		if ((fd = tcp_bind(want)) == -1) {
			log_warn("tunnel %s: port %d: %s", t->id, want,
			    strerror(errno));
			*err = "that port is in use";
			return 409;
		}
		port = want;
	} else {
		span = cfg.tcp_hi - cfg.tcp_lo + 1;
		if (util_random(&start, sizeof(start)) != 0)
			start = 0;
		for (i = 0; i < span; i++) {
			port = cfg.tcp_lo + (int)((start + (uint32_t)i) %
			    (uint32_t)span);
			if (registry_find_port_locked(port) != NULL)
				continue;
			if ((fd = tcp_bind(port)) != -1)
				break;
		}
		if (fd == -1) {
			*err = "no free port left in the server's tcp_ports";
			return 503;
		}
	}
	t->tcp_port = port;
	util_strlcpy(t->type, "tcp", sizeof(t->type));
	tcp_queue(fd, port, t->id);
	log_info("tunnel %s: public TCP port %d", t->id, port);
	return 0;
}

/* The tunnel is gone: its port closes (from the loop). */
void
tcp_close(const char *id, int port)
{
	if (port > 0)
		tcp_queue(-1, port, id);
}

static int
tcp_restore_one(struct tunnel *t, void *arg)
{
	int	fd;

	if (t->tcp_port <= 0)
		return 0;
	if ((fd = tcp_bind(t->tcp_port)) == -1) {
		log_error("tunnel %s: cannot listen on its port %d again: %s",
		    t->id, t->tcp_port, strerror(errno));
		return TUN_EIO;
	}
	tcp_queue(fd, t->tcp_port, t->id);
	return 0;
}

static void
tcp_restore_cb(struct tunnel *t, void *arg)
{
	(void)tcp_restore_one(t, arg);
}

/* At start: the ports of the TCP tunnels in the state file, again. */
void
tcp_restore(void)
{
	registry_lock();
	registry_foreach_locked(tcp_restore_cb, NULL);
	registry_unlock();
}

/* Loop: carry out the queued hand-overs. */
void
tcp_loop_ops(void)
{
	struct tcpop		*op, *next;
	struct tcplisten	*l, **pp;
	struct epoll_event	 ev;

	pthread_mutex_lock(&tcp_mtx);
	op = tcp_ops;
	tcp_ops = NULL;
	tcp_ops_tail = &tcp_ops;
	pthread_mutex_unlock(&tcp_mtx);
	for (; op != NULL; op = next) {
		next = op->next;
		if (op->fd != -1) {
			l = xcalloc(1, sizeof(*l));
			l->evkind = EVK_LISTEN;
			l->fd = op->fd;
			l->port = op->port;
			util_strlcpy(l->tunnel_id, op->tunnel_id,
			    sizeof(l->tunnel_id));
			ev.events = EPOLLIN;
			ev.data.ptr = l;
			if (epoll_ctl(loop_epfd(), EPOLL_CTL_ADD, l->fd,
			    &ev) == -1) {
				log_warn("tunnel %s: epoll_ctl: %s",
				    l->tunnel_id, strerror(errno));
				close(l->fd);
				free(l);
			} else {
				l->next = tcp_listeners;
				tcp_listeners = l;
			}
		} else {
			for (pp = &tcp_listeners; (l = *pp) != NULL;
			    pp = &l->next) {
				if (l->port == op->port &&
				    strcmp(l->tunnel_id, op->tunnel_id) == 0) {
					*pp = l->next;
					(void)epoll_ctl(loop_epfd(),
					    EPOLL_CTL_DEL, l->fd, NULL);
					close(l->fd);
					free(l);	/* no event left: see below */
					break;
				}
			}
		}
		free(op);
	}
}

/* Loop, every tick: listeners left out for lack of descriptors, back in. */
void
tcp_tick(uint64_t now)
{
	struct tcplisten	*l;
	struct epoll_event	 ev;

	for (l = tcp_listeners; l != NULL; l = l->next) {
		if (l->paused_ms == 0 || now - l->paused_ms < TCP_PAUSE_MS)
			continue;
		l->paused_ms = 0;
		ev.events = EPOLLIN;
		ev.data.ptr = l;
		(void)epoll_ctl(loop_epfd(), EPOLL_CTL_MOD, l->fd, &ev);
	}
}

/*
 * Loop: connections on a tunnel's port.  Each goes to an agent of the
 * tunnel (round robin) as a raw stream; with none, or not allowed, it is
 * closed at once.  (Listeners are freed only in tcp_loop_ops, after the
 * epoll batch, so an event never points at a freed one.)
 */
void
tcp_accept(void *arg)
{
	struct tcplisten	*l = arg;
	struct sockaddr_storage	 ss;
	struct epoll_event	 ev;
	struct session		*s;
	struct stream		*st;
	socklen_t		 len;
	char			 peer[64];
	const char		*why;
	bool			 strip;
	int			 fd, i, r, one = 1;

	for (i = 0; i < TCP_ACCEPTS; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/*
			 * Out of descriptors or memory: the listener stays
			 * readable, so it is left out of epoll for a tick
			 * (tcp_tick) rather than spun on.
			 */
			log_warn("tunnel %s: accept: %s; trying again shortly",
			    l->tunnel_id, strerror(errno));
			ev.events = 0;
			ev.data.ptr = l;
			(void)epoll_ctl(loop_epfd(), EPOLL_CTL_MOD, l->fd, &ev);
			l->paused_ms = util_now_ms();
			return;
		}
		if (atomic_load(&tunneld_draining)) {
			close(fd);
			continue;
		}
		(void)util_sockaddr_str((struct sockaddr *)&ss, peer,
		    sizeof(peer));
		if (limits_denied_addr(&ss)) {
			metrics_add(M_DENIED, 1);
			log_debug("tunnel %s: TCP connection from %s refused "
			    "(address denied)", l->tunnel_id, peer);
			close(fd);
			continue;
		}
		r = registry_session(l->tunnel_id, true, (struct sockaddr *)&ss,
		    NULL, &strip, &s);
		why = NULL;
		if (r != 404 && limits_denied_name(l->tunnel_id)) {
			metrics_add(M_DENIED, 1);
			why = "tunnel disabled";
		} else if (r == 0 && (s->dead || !s->ready))
			why = "no agent connected";
		else if (r != 0)
			why = r == 502 ? "no agent connected" : r == 403 ?
			    "not on the allow list" : "no such tunnel";
		else if (limits_tunnel(l->tunnel_id) > 0)
			why = "";		/* rate limited: logged there */
		if (why != NULL) {
			if (*why != '\0')
				log_info("tunnel %s: TCP connection from %s "
				    "refused (%s)", l->tunnel_id, peer, why);
			if (s != NULL)
				session_unref(s);
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		st = stream_new(s, l->tunnel_id);
		session_unref(s);		/* the stream holds its own */
		if (st == NULL) {
			log_info("tunnel %s: TCP connection from %s refused "
			    "(too many streams)", l->tunnel_id, peer);
			close(fd);
			continue;
		}
		st->open.method = xstrdup("TCP");
		st->open.path = xstrdup("/");
		st->open.content_length = -1;
		proto_head_add(&st->open, "X-Forwarded-For", peer);
		st->upgrade = true;		/* no response timeout after */
		st->tcp = true;
		st->fd = fd;
		log_debug("tunnel %s: stream %u: TCP connection from %s port "
		    "%d", l->tunnel_id, st->id, peer, tcp_peer_port(&ss));
		session_stream_raw(s, st);
		if (!s->dead)
			session_output(s);
		stream_unref(st);		/* ours; table and epoll keep it */
	}
}

/* Loop, at exit: close every port. */
void
tcp_stop(void)
{
	struct tcplisten	*l;

	tcp_loop_ops();
	while ((l = tcp_listeners) != NULL) {
		tcp_listeners = l->next;
		(void)epoll_ctl(loop_epfd(), EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		free(l);
	}
}
