/*
 * The request inspector: a small web server in tunnel-client (by default
 * on 127.0.0.1:4040, or the next free port) with a page that shows the
 * captured exchanges live, and a JSON API under /api/requests for the
 * page and for scripts:
 *
 *	GET  /                               the page (HTML, CSS, JS built in)
 *	GET  /api/requests[?limit=N]         summaries, newest first
 *	GET  /api/requests/ID                one exchange, heads and bodies
 *	GET  /api/requests/ID/request-body   the kept bytes of a body, raw
 *	GET  /api/requests/ID/response-body
 *	POST /api/requests/ID/replay         send it again (JSON edits)
 *	POST /api/requests/clear             forget every capture
 *	GET  /api/events                     server-sent events, live
 *	GET  /api/status                     tunnels and settings
 *
 * libmicrohttpd runs it on a thread of its own (internal polling, epoll);
 * nothing here touches libwebsockets or the forwarding curl state.
 * Replays run on the worker thread of replay.c while their connection is
 * suspended.  The event stream's reader suspends its connection when it
 * has nothing to send, and inspect_event() resumes it (STACK-NOTES Q3).
 *
 * Security: loopback by default; the Host header must name the listen
 * address (no DNS rebinding); POSTs need the per-process token that the
 * page carries (X-Inspector-Token) and a same-origin Origin if any; the
 * page's Content-Security-Policy allows its own script and style only.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define INSPECT_TOKEN_LEN	33		/* 32 characters and a NUL */
#define INSPECT_POST_MAX	(24 * 1024 * 1024)
#define INSPECT_EDIT_BODY_MAX	(16 * 1024 * 1024)
#define INSPECT_EV_RING		1024
#define INSPECT_EV_BATCH	64
#define INSPECT_SSE_MAX		32
#define INSPECT_SSE_OUT_MAX	(4 * 1024 * 1024)
#define INSPECT_LIST_MAX	10000
#define INSPECT_HOST_MAX	300

#define INSPECT_CSP	"default-src 'none'; script-src 'self'; " \
			"style-src 'self'; img-src 'self' data:; " \
			"connect-src 'self'; base-uri 'none'; " \
			"form-action 'none'; frame-ancestors 'none'"

struct inspect_ev {
	uint64_t	 seq;
	int		 kind;
	uint64_t	 id;
};

/* One /api/events connection. */
struct inspect_sse {
	struct inspect_sse	*next;
	struct MHD_Connection	*conn;
	uint64_t		 next_seq;
	bool			 waiting;	/* suspended for news */
	bool			 hello;
	struct tbuf		 out;
};

/* One request to the inspector. */
struct inspect_req {
	struct tbuf		 body;		/* POST body */
	bool			 keep_body;	/* a replay that passed the checks */
	bool			 too_big;
	struct replay_job	*job;		/* a replay, suspended */
};

static struct {
	struct MHD_Daemon	*mhd;
	char			 token[INSPECT_TOKEN_LEN];
	char			 ip[INET6_ADDRSTRLEN];	/* bound address */
	int			 port;
	char			 url[128];
	char			*page;
	size_t			 pagelen;
	pthread_mutex_t		 evmtx;
	struct inspect_ev	 ev[INSPECT_EV_RING];
	uint64_t		 ev_next;
	struct inspect_sse	*sse;
	size_t			 nsse;
	bool			 stopping;
} insp = { .evmtx = PTHREAD_MUTEX_INITIALIZER };

static int	 inspect_listen(const char *, bool, int *);
static int	 inspect_bind(const struct addrinfo *, int);
static void	 inspect_page_make(void);
static void	 inspect_completed(void *, struct MHD_Connection *, void **,
		    enum MHD_RequestTerminationCode);
static enum MHD_Result inspect_handler(void *, struct MHD_Connection *,
		    const char *, const char *, const char *, const char *,
		    size_t *, void **);
static enum MHD_Result inspect_route(struct MHD_Connection *,
		    struct inspect_req *, const char *, const char *);
static enum MHD_Result inspect_send(struct MHD_Connection *, unsigned int,
		    const char *, const void *, size_t, enum MHD_ResponseMemoryMode);
static enum MHD_Result inspect_json(struct MHD_Connection *, unsigned int,
		    struct json_object *);
static enum MHD_Result inspect_error(struct MHD_Connection *, unsigned int,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
static void	 inspect_headers(struct MHD_Response *);
static enum MHD_Result inspect_list(struct MHD_Connection *);
static enum MHD_Result inspect_one(struct MHD_Connection *, uint64_t,
		    const char *);
static enum MHD_Result inspect_raw(struct MHD_Connection *,
		    struct capture *, bool);
static enum MHD_Result inspect_status(struct MHD_Connection *);
static enum MHD_Result inspect_replay(struct MHD_Connection *,
		    struct inspect_req *, uint64_t);
static enum MHD_Result inspect_replay_answer(struct MHD_Connection *,
		    struct inspect_req *);
static enum MHD_Result inspect_events(struct MHD_Connection *);
static ssize_t	 inspect_sse_read(void *, uint64_t, char *, size_t);
static void	 inspect_sse_free(void *);
static void	 inspect_sse_format(struct inspect_sse *,
		    const struct inspect_ev *, size_t, size_t);
static bool	 inspect_post_ok(struct MHD_Connection *, const char **);

/* --- checks (pure) ---------------------------------------------------------- */

/*
 * Is a Host header one this inspector answers to?  It must carry our
 * port (80 when it has none) and name the bound address as an IP literal,
 * or "localhost" when bound to loopback; bound to a wildcard address, any
 * IP literal.  Names other than localhost never pass: that is what a DNS
 * rebinding attack would send.
 */
bool
inspect_host_ok(const char *host, const char *bound, int port)
{
	struct in6_addr	 a6, b6;
	struct in_addr	 a4, b4;
	char		 name[INSPECT_HOST_MAX];
	const char	*end, *digits = NULL, *errstr;
	size_t		 n;
	bool		 loop, wild, v6, bracket = false;
	int		 p = 80;

	if (host == NULL || bound == NULL || (n = strlen(host)) == 0 ||
	    n >= INSPECT_HOST_MAX)
		return false;
	if (host[0] == '[') {			/* [v6] or [v6]:port */
		if ((end = strchr(host, ']')) == NULL)
			return false;
		n = (size_t)(end - host - 1);
		if (end[1] == ':')
			digits = end + 2;
		else if (end[1] != '\0')
			return false;
		memcpy(name, host + 1, n);
		bracket = true;
	} else {				/* name or name:port */
		if ((end = strchr(host, ':')) != NULL) {
			if (strchr(end + 1, ':') != NULL)
				return false;	/* v6 wants brackets */
			digits = end + 1;
			n = (size_t)(end - host);
		}
		memcpy(name, host, n);
	}
	name[n] = '\0';
	if (digits != NULL) {
		if (digits[0] == '\0' || strlen(digits) > 5 ||
		    strspn(digits, "0123456789") != strlen(digits))
			return false;
		p = (int)util_strtonum(digits, 1, 65535, &errstr);
		if (errstr != NULL)
			return false;
	}
	if (p != port)
		return false;
	v6 = strchr(bound, ':') != NULL;
	if (v6 ? inet_pton(AF_INET6, bound, &b6) != 1 :
	    inet_pton(AF_INET, bound, &b4) != 1)
		return false;
	wild = v6 ? IN6_IS_ADDR_UNSPECIFIED(&b6) : b4.s_addr == INADDR_ANY;
	loop = v6 ? IN6_IS_ADDR_LOOPBACK(&b6) :
	    (ntohl(b4.s_addr) >> 24) == 127;
	if (bracket) {
		if (inet_pton(AF_INET6, name, &a6) != 1)
			return false;
		return wild || (v6 && memcmp(&a6, &b6, sizeof(a6)) == 0);
	}
	if (strcasecmp(name, "localhost") == 0)
		return loop || wild;
	if (inet_pton(AF_INET, name, &a4) != 1)
		return false;
	return wild || (!v6 && a4.s_addr == b4.s_addr);
}

/* The token of a POST, compared in constant time. */
bool
inspect_token_ok(const char *got, const char *token)
{
	if (got == NULL || token == NULL || token[0] == '\0')
		return false;
	return util_ct_streq(got, token);
}

/* --- start and stop ------------------------------------------------------------ */

static int
inspect_bind(const struct addrinfo *ai, int port)
{
	struct sockaddr_storage	 ss;
	int			 fd, one = 1, e;

	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == 0 &&
	    listen(fd, 64) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/*
 * The listening socket.  With fallback (the default address), a port in
 * use is followed by the next ones and then by any free port.
 */
static int
inspect_listen(const char *spec, bool fallback, int *fdp)
{
	struct addrinfo		 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[256];
	int			 port, fd = -1, i, r;

	if (util_split_hostport(spec, host, sizeof(host), &port) != 0)
		return TUN_EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, "0", &hints, &res)) != 0) {
		log_error("inspector: %s: %s", host, gai_strerror(r));
		return TUN_EINVAL;
	}
	for (i = 0; i < (fallback ? TC_INSPECT_TRIES : 1) && fd == -1; i++) {
		if ((fd = inspect_bind(res, port == 0 ? 0 : port + i)) == -1 &&
		    errno != EADDRINUSE)
			break;
	}
	if (fd == -1 && fallback && errno == EADDRINUSE)
		fd = inspect_bind(res, 0);
	if (fd == -1) {
		log_error("inspector: cannot listen on %s: %s", spec,
		    strerror(errno));
		freeaddrinfo(res);
		return TUN_EIO;
	}
	freeaddrinfo(res);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, insp.ip, sizeof(insp.ip),
	    NULL, 0, NI_NUMERICHOST) != 0) {
		close(fd);
		return TUN_EIO;
	}
	insp.port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	*fdp = fd;
	return 0;
}

/* The page with this process's token in it. */
static void
inspect_page_make(void)
{
	const char	*tpl = (const char *)inspect_html, *at;
	size_t		 n = inspect_html_len, tl = strlen(insp.token), pre;

	at = memmem(tpl, n, "@TOKEN@", 7);
	if (at == NULL)
		fatalx("inspect.html has no @TOKEN@");
	pre = (size_t)(at - tpl);
	insp.pagelen = n - 7 + tl;
	insp.page = xmalloc(insp.pagelen + 1);
	memcpy(insp.page, tpl, pre);
	memcpy(insp.page + pre, insp.token, tl);
	memcpy(insp.page + pre + tl, at + 7, n - pre - 7);
	insp.page[insp.pagelen] = '\0';
}

/* What log_mhd() puts before libmicrohttpd's messages. */
static char inspect_mhd_tag[] = "inspector";

/*
 * After client_links(): the captures, the capture file, the listener and
 * the worker.  Prints "Inspector: URL".  Non-zero: a message was logged.
 */
int
inspect_start(void)
{
	const struct options	*o = client.opt;
	const char		*shown;
	int			 fd = -1, r;
	bool			 v6;

	if (o->inspect == NULL)
		return 0;
	if ((r = capture_init((size_t)o->inspect_max,
	    (size_t)o->inspect_body_cap)) != 0)
		return r;
	if (o->capture_file != NULL &&
	    (r = capture_load(o->capture_file)) != 0) {
		if (r == TUN_EINVAL)
			log_error("%s is not a tunnel-client capture file; "
			    "give another --capture-file", o->capture_file);
		else
			log_error("cannot read the capture file %s: %s",
			    o->capture_file, strerror(errno));
		return r;
	}
	if ((r = inspect_listen(o->inspect, o->inspect_default, &fd)) != 0)
		return r;
	util_random_token(insp.token, sizeof(insp.token));
	inspect_page_make();
	insp.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, inspect_handler, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_NOTIFY_COMPLETED, inspect_completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, inspect_mhd_tag,
	    MHD_OPTION_END);
	if (insp.mhd == NULL) {
		close(fd);
		log_error("inspector: cannot start its HTTP server");
		return TUN_EIO;
	}
	if ((r = replay_start()) != 0) {
		log_error("inspector: cannot start its worker thread");
		return r;
	}
	v6 = strchr(insp.ip, ':') != NULL;
	shown = insp.ip;
	if (strcmp(shown, "0.0.0.0") == 0)
		shown = "127.0.0.1";
	else if (strcmp(shown, "::") == 0)
		shown = "::1";
	snprintf(insp.url, sizeof(insp.url), "http://%s%s%s:%d", v6 ? "[" :
	    "", shown, v6 ? "]" : "", insp.port);
	if (strncmp(insp.ip, "127.", 4) != 0 && strcmp(insp.ip, "::1") != 0)
		log_warn("the inspector listens on %s: whoever reaches it can "
		    "read the captured requests", insp.ip);
	client_say("Inspector: %s", insp.url);
	return 0;
}

/* After forward_stop(): every connection resumed, then the server. */
void
inspect_stop(void)
{
	struct inspect_sse	*s;

	if (insp.mhd == NULL) {
		capture_free();
		return;
	}
	pthread_mutex_lock(&insp.evmtx);
	insp.stopping = true;
	for (s = insp.sse; s != NULL; s = s->next) {
		if (s->waiting) {
			s->waiting = false;
			MHD_resume_connection(s->conn);
		}
	}
	pthread_mutex_unlock(&insp.evmtx);
	replay_stop();		/* answers and resumes the replays */
	MHD_stop_daemon(insp.mhd);
	insp.mhd = NULL;
	free(insp.page);
	insp.page = NULL;
	explicit_bzero(insp.token, sizeof(insp.token));
	capture_free();
}

/* Called by replay.c when a replay is over: its request goes on. */
void
inspect_resume(void *conn)
{
	MHD_resume_connection(conn);
}

/* --- events ---------------------------------------------------------------------- */

/* News for the event streams: a capture is new or changed, or all gone. */
void
inspect_event(int kind, uint64_t id)
{
	struct inspect_ev	*e;
	struct inspect_sse	*s;

	pthread_mutex_lock(&insp.evmtx);
	if (insp.mhd != NULL && !insp.stopping) {
		e = &insp.ev[insp.ev_next % INSPECT_EV_RING];
		e->seq = insp.ev_next++;
		e->kind = kind;
		e->id = id;
		for (s = insp.sse; s != NULL; s = s->next) {
			if (s->waiting) {
				s->waiting = false;
				MHD_resume_connection(s->conn);
			}
		}
	}
	pthread_mutex_unlock(&insp.evmtx);
}

static enum MHD_Result
inspect_events(struct MHD_Connection *c)
{
	struct inspect_sse	*s;
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	s = xcalloc(1, sizeof(*s));
	s->conn = c;
	tbuf_init(&s->out, INSPECT_SSE_OUT_MAX);
	pthread_mutex_lock(&insp.evmtx);
	if (insp.nsse >= INSPECT_SSE_MAX || insp.stopping) {
		pthread_mutex_unlock(&insp.evmtx);
		free(s);
		return inspect_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "too many event streams");
	}
	s->next_seq = insp.ev_next;
	s->next = insp.sse;
	insp.sse = s;
	insp.nsse++;
	pthread_mutex_unlock(&insp.evmtx);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
	    inspect_sse_read, s, inspect_sse_free);
	if (r == NULL) {
		inspect_sse_free(s);
		return MHD_NO;
	}
	inspect_headers(r);
	(void)MHD_add_response_header(r, "Content-Type", "text/event-stream");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* An event as SSE text: "event: request" with a summary, or "clear". */
static void
inspect_sse_format(struct inspect_sse *s, const struct inspect_ev *batch,
    size_t i, size_t n)
{
	const struct inspect_ev	*e = &batch[i];
	struct capture		*c;
	struct capview		 v;
	struct json_object	*o;
	const char		*js;
	char			*text = NULL;
	size_t			 j;

	switch (e->kind) {
	case INSPECT_EV_NEW:
	case INSPECT_EV_UPDATE:
		for (j = i + 1; j < n; j++)	/* a later one says more */
			if (batch[j].id == e->id &&
			    batch[j].kind != INSPECT_EV_CLEAR)
				return;
		if ((c = capture_get(e->id)) == NULL)
			return;
		capture_view(c, &v);
		o = capfmt_summary(c, &v);
		js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE);
		xasprintf(&text, "event: request\ndata: %s\n\n", js);
		json_object_put(o);
		capture_unref(c);
		break;
	case INSPECT_EV_CLEAR:
		text = xstrdup("event: clear\ndata: {}\n\n");
		break;
	default:
		text = xstrdup(": ping\n\n");
		break;
	}
	if (tbuf_put(&s->out, text, strlen(text)) != 0)
		s->next_seq = 0;	/* too much at once: a reset next */
	free(text);
}

/*
 * The event stream's content reader: what is queued, else the events
 * since the last call, else suspend until inspect_event() (under evmtx,
 * which it resumes under).
 */
static ssize_t
inspect_sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct inspect_sse	*s = cls;
	struct inspect_ev	 batch[INSPECT_EV_BATCH];
	size_t			 n = 0, i, len;
	bool			 reset = false;

	if (tbuf_len(&s->out) == 0) {
		pthread_mutex_lock(&insp.evmtx);
		if (insp.stopping) {
			pthread_mutex_unlock(&insp.evmtx);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (insp.ev_next - s->next_seq > INSPECT_EV_RING) {
			reset = true;
			s->next_seq = insp.ev_next;
		}
		while (s->next_seq < insp.ev_next && n < INSPECT_EV_BATCH)
			batch[n++] = insp.ev[s->next_seq++ % INSPECT_EV_RING];
		if (n == 0 && !reset && s->hello) {
			s->waiting = true;
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&insp.evmtx);
			return 0;
		}
		pthread_mutex_unlock(&insp.evmtx);
		if (!s->hello) {
			static const char hello[] = "retry: 2000\n\n"
			    "event: hello\ndata: {}\n\n";

			(void)tbuf_put(&s->out, hello, sizeof(hello) - 1);
			s->hello = true;
		}
		if (reset) {
			static const char rs[] = "event: reset\ndata: {}\n\n";

			(void)tbuf_put(&s->out, rs, sizeof(rs) - 1);
		}
		for (i = 0; i < n; i++)
			inspect_sse_format(s, batch, i, n);
		if (tbuf_len(&s->out) == 0)
			return inspect_sse_read(cls, pos, buf, max);
	}
	len = tbuf_len(&s->out) < max ? tbuf_len(&s->out) : max;
	memcpy(buf, tbuf_ptr(&s->out), len);
	tbuf_consume(&s->out, len);
	if (tbuf_len(&s->out) == 0)
		tbuf_shrink(&s->out);
	return (ssize_t)len;
}

static void
inspect_sse_free(void *cls)
{
	struct inspect_sse	*s = cls, **pp;

	pthread_mutex_lock(&insp.evmtx);
	for (pp = &insp.sse; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			insp.nsse--;
			break;
		}
	}
	pthread_mutex_unlock(&insp.evmtx);
	tbuf_free(&s->out);
	free(s);
}

/* --- requests ----------------------------------------------------------------- */

static void
inspect_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct inspect_req	*rq = *con_cls;

	if (rq == NULL)
		return;
	tbuf_free(&rq->body);
	if (rq->job != NULL)
		replay_job_free(rq->job);
	free(rq);
	*con_cls = NULL;
}

static enum MHD_Result
inspect_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct inspect_req	*rq = *con_cls;
	const char		*why;

	if (rq == NULL) {		/* answer on a later call */
		rq = xcalloc(1, sizeof(*rq));
		tbuf_init(&rq->body, INSPECT_POST_MAX);
		*con_cls = rq;
		/* Only a replay that will be served keeps its body. */
		rq->keep_body = strcmp(method, "POST") == 0 &&
		    strncmp(url, "/api/requests/", 14) == 0 &&
		    strlen(url) > 7 && strcmp(url + strlen(url) - 7,
		    "/replay") == 0 && inspect_host_ok(
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
		    insp.ip, insp.port) && inspect_post_ok(c, &why);
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (rq->keep_body && !rq->too_big && tbuf_put(&rq->body,
		    upload_data, *upload_data_size) != 0) {
			rq->too_big = true;
			tbuf_free(&rq->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->job != NULL)		/* a replay is over */
		return inspect_replay_answer(c, rq);
	return inspect_route(c, rq, url, method);
}

/* The token, and an Origin (if any) that is this inspector. */
static bool
inspect_post_ok(struct MHD_Connection *c, const char **why)
{
	const char	*origin, *host;
	char		 want[INSPECT_HOST_MAX + 16];

	if (!inspect_token_ok(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, "X-Inspector-Token"), insp.token)) {
		*why = "missing or wrong X-Inspector-Token";
		return false;
	}
	origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	if (origin != NULL && host != NULL) {
		snprintf(want, sizeof(want), "http://%s", host);
		if (strcasecmp(origin, want) != 0) {
			*why = "a request from another origin";
			return false;
		}
	}
	return true;
}

static enum MHD_Result
inspect_route(struct MHD_Connection *c, struct inspect_req *rq,
    const char *url, const char *method)
{
	const char	*rest, *why, *slash;
	char		 idbuf[24];
	uint64_t	 id;
	size_t		 n;
	bool		 get, post;

	if (!inspect_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Host"), insp.ip, insp.port))
		return inspect_error(c, MHD_HTTP_FORBIDDEN, "the Host header "
		    "must be the inspector's address (%s)", insp.url);
	get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	post = strcmp(method, "POST") == 0;
	if (post && !inspect_post_ok(c, &why))
		return inspect_error(c, MHD_HTTP_FORBIDDEN, "%s", why);
	if (rq->too_big)
		return inspect_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the request body is over %d bytes", INSPECT_POST_MAX);
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
		if (!get)
			goto method;
		return inspect_send(c, MHD_HTTP_OK, "text/html; charset=utf-8",
		    insp.page, insp.pagelen, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/inspect.css") == 0 || strcmp(url, "/inspect.js") ==
	    0) {
		if (!get)
			goto method;
		if (url[9] == 'c')
			return inspect_send(c, MHD_HTTP_OK, "text/css; "
			    "charset=utf-8", inspect_css, inspect_css_len,
			    MHD_RESPMEM_PERSISTENT);
		return inspect_send(c, MHD_HTTP_OK, "text/javascript; "
		    "charset=utf-8", inspect_js, inspect_js_len,
		    MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/api/events") == 0)
		return get ? inspect_events(c) : inspect_error(c,
		    MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	if (strcmp(url, "/api/status") == 0)
		return get ? inspect_status(c) : inspect_error(c,
		    MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	if (strcmp(url, "/api/requests") == 0 ||
	    strcmp(url, "/api/requests/") == 0)
		return get ? inspect_list(c) : inspect_error(c,
		    MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	if (strcmp(url, "/api/requests/clear") == 0) {
		if (!post)
			return inspect_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "POST only");
		capture_clear();
		return inspect_send(c, MHD_HTTP_OK, "application/json",
		    "{\"cleared\":true}", 16, MHD_RESPMEM_PERSISTENT);
	}
	if (strncmp(url, "/api/requests/", 14) != 0)
		return inspect_error(c, MHD_HTTP_NOT_FOUND, "nothing here");
	rest = url + 14;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof(idbuf))
		return inspect_error(c, MHD_HTTP_NOT_FOUND, "no such request");
	memcpy(idbuf, rest, n);
	idbuf[n] = '\0';
	if (!capfmt_parse_id(idbuf, &id))
		return inspect_error(c, MHD_HTTP_NOT_FOUND, "no such request: "
		    "an id is a positive decimal number");
	rest = slash != NULL ? slash : "";
	if (strcmp(rest, "/replay") == 0)
		return post ? inspect_replay(c, rq, id) : inspect_error(c,
		    MHD_HTTP_METHOD_NOT_ALLOWED, "POST only");
	if (strcmp(rest, "") == 0 || strcmp(rest, "/request-body") == 0 ||
	    strcmp(rest, "/response-body") == 0)
		return get ? inspect_one(c, id, rest) : inspect_error(c,
		    MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	return inspect_error(c, MHD_HTTP_NOT_FOUND, "nothing here");
method:
	return inspect_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
}

/* Headers on every answer: no caching, no sniffing, no framing. */
static void
inspect_headers(struct MHD_Response *r)
{
	(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	(void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	(void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
	(void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	(void)MHD_add_response_header(r, "Content-Security-Policy",
	    INSPECT_CSP);
}

static enum MHD_Result
inspect_send(struct MHD_Connection *c, unsigned int status, const char *ctype,
    const void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    mode);
	if (r == NULL)
		return MHD_NO;
	inspect_headers(r);
	(void)MHD_add_response_header(r, "Content-Type", ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, "Allow", "GET, HEAD, POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sends o (and frees it). */
static enum MHD_Result
inspect_json(struct MHD_Connection *c, unsigned int status,
    struct json_object *o)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;
	char			*s;
	size_t			 len;

	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	len = strlen(s);
	if ((r = MHD_create_response_from_buffer_with_free_callback(len, s,
	    free)) == NULL) {
		free(s);
		return MHD_NO;
	}
	inspect_headers(r);
	(void)MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, "Allow", "GET, HEAD, POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
inspect_error(struct MHD_Connection *c, unsigned int status, const char *fmt,
    ...)
{
	struct json_object	*o = json_object_new_object();
	char			 msg[512];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", capfmt_string(msg, strlen(msg)));
	return inspect_json(c, status, o);
}

static enum MHD_Result
inspect_list(struct MHD_Connection *c)
{
	struct json_object	*o, *arr;
	struct capture		**all;
	struct capview		 v;
	const char		*s, *errstr;
	size_t			 i, n, limit;

	limit = capture_max() * capture_nrings();
	if (limit > INSPECT_LIST_MAX)
		limit = INSPECT_LIST_MAX;
	if ((s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "limit")) != NULL) {
		limit = (size_t)util_strtonum(s, 1, INSPECT_LIST_MAX, &errstr);
		if (errstr != NULL)
			return inspect_error(c, MHD_HTTP_BAD_REQUEST, "limit: "
			    "want 1..%d", INSPECT_LIST_MAX);
	}
	all = xcalloc(limit, sizeof(*all));
	n = capture_list(all, limit);
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		capture_view(all[i], &v);
		json_object_array_add(arr, capfmt_summary(all[i], &v));
		capture_unref(all[i]);
	}
	free(all);
	o = json_object_new_object();
	json_object_object_add(o, "requests", arr);
	json_object_object_add(o, "total", json_object_new_int64(
	    (int64_t)capture_count()));
	return inspect_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result
inspect_one(struct MHD_Connection *c, uint64_t id, const char *part)
{
	struct capture	*cap;
	struct capview	 v;
	enum MHD_Result	 ret;

	if ((cap = capture_get(id)) == NULL)
		return inspect_error(c, MHD_HTTP_NOT_FOUND, "no such request: "
		    "%llu", (unsigned long long)id);
	capture_view(cap, &v);
	if (part[0] == '\0')
		ret = inspect_json(c, MHD_HTTP_OK, capfmt_detail(cap, &v));
	else if (v.state != CAPTURE_DONE)
		ret = inspect_error(c, MHD_HTTP_CONFLICT, "the exchange is "
		    "still going on");
	else
		ret = inspect_raw(c, cap, strcmp(part, "/response-body") == 0);
	capture_unref(cap);
	return ret;
}

/* The kept bytes of a body, as a download. */
static enum MHD_Result
inspect_raw(struct MHD_Connection *c, struct capture *cap, bool resp)
{
	const struct capbody	*b = resp ? &cap->respbody : &cap->reqbody;
	struct MHD_Response	*r;
	enum MHD_Result		 ret;
	char			 v[64];

	r = MHD_create_response_from_buffer(tbuf_len(&b->kept),
	    tbuf_ptr(&b->kept), MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	inspect_headers(r);
	(void)MHD_add_response_header(r, "Content-Type",
	    "application/octet-stream");
	snprintf(v, sizeof(v), "attachment; filename=\"%s-%llu.bin\"",
	    resp ? "response" : "request", (unsigned long long)cap->id);
	(void)MHD_add_response_header(r, "Content-Disposition", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)b->size);
	(void)MHD_add_response_header(r, "X-Body-Size", v);
	(void)MHD_add_response_header(r, "X-Body-Truncated",
	    b->size > tbuf_len(&b->kept) ? "yes" : "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
inspect_status(struct MHD_Connection *c)
{
	const struct options	*opt = client.opt;
	struct json_object	*o = json_object_new_object(), *arr, *t;
	struct capring		*r;
	size_t			 i;

	json_object_object_add(o, "version", json_object_new_string(
	    PACKAGE_VERSION));
	json_object_object_add(o, "inspector", json_object_new_string(
	    insp.url));
	arr = json_object_new_array();
	for (i = 0; (r = capture_ring(i)) != NULL; i++) {
		t = json_object_new_object();
		json_object_object_add(t, "name", capfmt_string(r->label,
		    strlen(r->label)));
		json_object_object_add(t, "local", json_object_new_string(
		    r->link->local_url));
		json_object_array_add(arr, t);
	}
	json_object_object_add(o, "tunnels", arr);
	json_object_object_add(o, "max", json_object_new_int64(
	    (int64_t)capture_max()));
	json_object_object_add(o, "body_cap", json_object_new_int64(
	    (int64_t)capture_body_cap()));
	json_object_object_add(o, "capture_file", opt->capture_file != NULL ?
	    capfmt_string(opt->capture_file, strlen(opt->capture_file)) :
	    NULL);
	json_object_object_add(o, "total", json_object_new_int64(
	    (int64_t)capture_count()));
	return inspect_json(c, MHD_HTTP_OK, o);
}

/*
 * POST /api/requests/ID/replay: checked here, then sent by the worker
 * while this connection is suspended; inspect_replay_answer() answers.
 */
static enum MHD_Result
inspect_replay(struct MHD_Connection *c, struct inspect_req *rq, uint64_t id)
{
	struct replay_job	*job;
	struct capture		*src;
	struct capview		 v;
	struct capedit		 edit;
	char			 err[256];
	enum MHD_Result		 ret;

	if ((src = capture_get(id)) == NULL)
		return inspect_error(c, MHD_HTTP_NOT_FOUND, "no such request: "
		    "%llu", (unsigned long long)id);
	capture_view(src, &v);
	if (v.state != CAPTURE_DONE) {
		ret = inspect_error(c, MHD_HTTP_CONFLICT, "the exchange is "
		    "still going on");
		goto out;
	}
	if (capfmt_parse_edit((const char *)tbuf_ptr(&rq->body),
	    tbuf_len(&rq->body), INSPECT_EDIT_BODY_MAX, &edit, err,
	    sizeof(err)) != 0) {
		ret = inspect_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
		goto out;
	}
	if (!edit.has_body && src->reqbody.size > tbuf_len(&src->reqbody.kept)) {
		capfmt_edit_free(&edit);
		ret = inspect_error(c, MHD_HTTP_CONFLICT, "the request body was "
		    "not kept whole (%zu of %llu bytes): send one as body or "
		    "body_base64", tbuf_len(&src->reqbody.kept),
		    (unsigned long long)src->reqbody.size);
		goto out;
	}
	job = xcalloc(1, sizeof(*job));
	job->src = src;
	job->edit = edit;
	job->conn = c;
	src = NULL;			/* the job's now */
	rq->job = job;
	MHD_suspend_connection(c);	/* before the worker may resume it */
	if (replay_submit(job) != 0) {
		job->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		util_strlcpy(job->error, "too many replays at once; try again",
		    sizeof(job->error));
		MHD_resume_connection(c);
	}
	return MHD_YES;
out:
	capture_unref(src);
	return ret;
}

static enum MHD_Result
inspect_replay_answer(struct MHD_Connection *c, struct inspect_req *rq)
{
	struct replay_job	*job = rq->job;
	struct json_object	*o;
	struct capture		*cap;
	struct capview		 v;
	enum MHD_Result		 ret;

	rq->job = NULL;
	if (job->code != 0 && job->code != MHD_HTTP_OK)
		ret = inspect_error(c, (unsigned int)job->code, "%s",
		    job->error);
	else if (job->id == 0 || (cap = capture_get(job->id)) == NULL)
		ret = inspect_error(c, MHD_HTTP_GONE, "the replay's capture "
		    "is gone already");
	else {
		capture_view(cap, &v);
		o = capfmt_summary(cap, &v);
		capture_unref(cap);
		ret = inspect_json(c, MHD_HTTP_OK, o);
	}
	replay_job_free(job);
	return ret;
}
