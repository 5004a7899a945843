/*
 * The proxy: a public request for a tunnel becomes a stream.
 *
 * proxy_start() runs on the first handler call: it finds the agent, builds
 * the request head (forwarding headers set, hop-by-hop dropped) and hands
 * the stream to the loop, which sends OPEN at once.  Later calls feed the
 * upload into the stream's bounded buffer, suspending the connection when
 * it is full, and finally queue the response when the agent's head is in
 * (or an error page).  Nothing here ever waits.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

struct head_arg {
	struct proto_head	*h;
	const char		*connection;
	bool			 trusted;
	bool			 strip_authz;	/* the tunnel's credential */
};

static enum MHD_Result	 proxy_copy_header(void *, enum MHD_ValueKind,
			    const char *, const char *);
static void		 proxy_forwarding(struct MHD_Connection *,
			    struct proto_head *, bool, const char *,
			    const char *, bool);
static enum MHD_Result	 proxy_answer(struct MHD_Connection *, struct preq *);
static enum MHD_Result	 proxy_fail(struct MHD_Connection *, struct preq *,
			    int, const char *);
static bool		 proxy_body_over(struct stream *, size_t);
static unsigned int	 proxy_count_header(struct MHD_Connection *,
			    const char *);
static bool		 proxy_valid_target(const char *);
static struct MHD_Response *proxy_upgrade_response_locked(struct stream *);

/*
 * The agent answered an upgrade with 101: MHD sends it, then hands the
 * caller's socket to relay_upgraded().  Caller holds st->mtx.
 */
static struct MHD_Response *
proxy_upgrade_response_locked(struct stream *st)
{
	struct MHD_Response		*r;
	const struct proto_header	*h;
	size_t				 i;

	if ((r = MHD_create_response_for_upgrade(relay_upgraded, NULL)) == NULL)
		return NULL;
	for (i = 0; i < st->resp.nhdrs; i++) {
		h = &st->resp.hdrs[i];
		if (!httphdr_valid_name(h->name) ||
		    !httphdr_valid_value(h->value, strlen(h->value)) ||
		    strcasecmp(h->name, "Connection") == 0 ||
		    strcasecmp(h->name, "Content-Length") == 0 ||
		    strcasecmp(h->name, "Transfer-Encoding") == 0)
			continue;
		(void)MHD_add_response_header(r, h->name, h->value);
	}
	if (MHD_get_response_header(r, MHD_HTTP_HEADER_UPGRADE) == NULL)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE,
		    "websocket");
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
	return r;
}

/* A page for the visitor; with a body to come, at once (http_refuse). */
static enum MHD_Result
proxy_fail(struct MHD_Connection *c, struct preq *pr, int status,
    const char *text)
{
	return http_refuse(c, pr, status, text, false, 0);
}

static enum MHD_Result
proxy_copy_header(void *cls, enum MHD_ValueKind kind, const char *name,
    const char *value)
{
	struct head_arg	*ha = cls;

	if (name == NULL || value == NULL)
		return MHD_YES;
	if (httphdr_hop_by_hop(name, ha->connection) ||
	    strcasecmp(name, "Content-Length") == 0)
		return MHD_YES;
	if (ha->strip_authz && strcasecmp(name, "Authorization") == 0)
		return MHD_YES;
	if (strcasecmp(name, "X-Request-Id") == 0)
		return MHD_YES;		/* ours is set: access.c */
	if (httphdr_is_forwarding(name) && !ha->trusted)
		return MHD_YES;
	if (ha->trusted && (strcasecmp(name, "X-Forwarded-For") == 0 ||
	    strcasecmp(name, "X-Forwarded-Prefix") == 0))
		return MHD_YES;		/* rebuilt below */
	if (!httphdr_valid_name(name) ||
	    !httphdr_valid_value(value, strlen(value)))
		return MHD_YES;
	proto_head_add(ha->h, name, value);
	return MHD_YES;
}

/*
 * MHD takes a request line with spaces inside its target; the local
 * service would not read it as one target.  Origin form has none, nor
 * control characters.
 */
static bool
proxy_valid_target(const char *t)
{
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= ' ' || *t == 0x7f)
			return false;
	return true;
}

struct count_arg {
	const char	*name;
	unsigned int	 n;
};

static enum MHD_Result
proxy_count_cb(void *cls, enum MHD_ValueKind kind, const char *name,
    const char *value)
{
	struct count_arg	*ca = cls;

	if (name != NULL && strcasecmp(name, ca->name) == 0)
		ca->n++;
	return MHD_YES;
}

/* How many times the caller sent header name. */
static unsigned int
proxy_count_header(struct MHD_Connection *c, const char *name)
{
	struct count_arg	ca = { name, 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, proxy_count_cb, &ca);
	return ca.n;
}

/* X-Forwarded-*: replaced, unless the caller is a trusted proxy. */
static void
proxy_forwarding(struct MHD_Connection *c, struct proto_head *h,
    bool trusted, const char *addr, const char *id, bool path_routing)
{
	char		*xff = NULL, *prefix;
	const char	*prev, *host;

	prev = trusted ? http_header(c, "X-Forwarded-For") : NULL;
	if (prev != NULL && httphdr_valid_value(prev, strlen(prev)))
		xasprintf(&xff, "%s, %s", prev, addr);
	else
		xff = xstrdup(addr);
	proto_head_add(h, "X-Forwarded-For", xff);
	free(xff);
	if (!trusted || proto_head_get(h, "X-Forwarded-Proto") == NULL)
		proto_head_add(h, "X-Forwarded-Proto",
		    tls_enabled() ? "https" : "http");
	host = http_header(c, "Host");
	if ((!trusted || proto_head_get(h, "X-Forwarded-Host") == NULL) &&
	    host != NULL && httphdr_valid_value(host, strlen(host)))
		proto_head_add(h, "X-Forwarded-Host", host);
	if (path_routing) {
		xasprintf(&prefix, "/%s", id);
		proto_head_add(h, "X-Forwarded-Prefix", prefix);
		free(prefix);
	}
}

enum MHD_Result
proxy_start(struct MHD_Connection *c, struct preq *pr, const char *id,
    const char *target, const char *method, bool path_routing)
{
	struct session		*s;
	struct stream		*st;
	struct head_arg		 ha;
	const union MHD_ConnectionInfo *ci;
	const char		*cl, *te, *errstr, *upgrade;
	char			 addr[64];
	long long		 len = -1, max;
	int			 r;
	unsigned int		 retry;
	bool			 strip_authz;
	const struct sockaddr	*sa;

	util_strlcpy(pr->tunnel_id, id, sizeof(pr->tunnel_id));
	ha.trusted = http_trusted(c, addr, sizeof(addr), &sa);
	access_start(c, pr, method, addr);
	r = registry_session_stats(id, false, sa, http_header(c,
	    "Authorization"), &strip_authz, &s, &pr->stats);
	/* A tunnel that exists: the deny list and its rate limit first. */
	if (r != 404 && limits_denied_name(id)) {
		if (s != NULL)
			session_unref(s);
		metrics_add(M_DENIED, 1);
		log_debug("tunnel %s: disabled by the deny list", id);
		return http_refuse(c, pr, 403, "tunnel disabled", true, 0);
	}
	switch (r) {
	case 0:
		break;
	case 404:
		return proxy_fail(c, pr, 404, "There is no tunnel here. Check "
		    "the address, or start tunnel-client again.");
	case 403:
		return proxy_fail(c, pr, 403, "Your address may not use this "
		    "tunnel.");
	case 401:
		return proxy_fail(c, pr, 401, "This tunnel needs a user name "
		    "and password.");
	default:
		return proxy_fail(c, pr, 502, "The tunnel exists, but no agent "
		    "is connected to it right now.");
	}
	/*
	 * Only callers let in count against the tunnel's rate: refused
	 * ones (allow list, password) would spend its users' share.
	 */
	if ((retry = limits_tunnel(id)) > 0) {
		session_unref(s);
		return http_refuse(c, pr, 429, "too many requests for this "
		    "tunnel; slow down", true, retry);
	}
	if (!proxy_valid_target(target)) {
		session_unref(s);
		return proxy_fail(c, pr, 400, "The request target has spaces "
		    "or control characters in it.");
	}
	/*
	 * MHD frames a body by Transfer-Encoding when there is one, and
	 * reads one that is not "chunked" to the end of the connection.
	 * Neither can be passed on as it is: a Content-Length beside
	 * chunked would tell the local service another length than the
	 * bytes that follow (RFC 9112, 6.3), so both are refused, and the
	 * connection closes after the 400.
	 */
	cl = http_header(c, "Content-Length");
	te = http_header(c, "Transfer-Encoding");
	if (te != NULL && (cl != NULL || strcasecmp(te, "chunked") != 0)) {
		session_unref(s);
		log_info("tunnel %s: 400 for a Transfer-Encoding %s", id,
		    cl != NULL ? "with a Content-Length" : "other than chunked");
		return proxy_fail(c, pr, 400, cl != NULL ? "Transfer-Encoding "
		    "and Content-Length together." : "Only the chunked "
		    "Transfer-Encoding is accepted.");
	}
	if (cl != NULL) {
		len = util_strtonum(cl, 0, INT64_MAX, &errstr);
		if (errstr == NULL && proxy_count_header(c,
		    "Content-Length") > 1)
			errstr = "repeated";
		if (errstr != NULL) {
			session_unref(s);
			return proxy_fail(c, pr, 400, "Bad Content-Length.");
		}
	}
	max = CFG_GET(max_body_size);
	if (max > 0 && len > max) {
		session_unref(s);
		return proxy_fail(c, pr, 413, "The request body is too large.");
	}
	upgrade = http_header(c, "Upgrade");
	if (upgrade != NULL && (!httphdr_has_token(http_header(c, "Connection"),
	    "upgrade") || len > 0 || te != NULL ||
	    !httphdr_valid_value(upgrade, strlen(upgrade))))
		upgrade = NULL;		/* not a usable upgrade request */
	st = stream_new(s, id);
	session_unref(s);		/* the stream holds its own */
	if (st == NULL)
		return proxy_fail(c, pr, 503, "Too many requests are in flight "
		    "on this tunnel; try again shortly.");
	metrics_stream_open(pr->stats);
	st->stats = pr->stats;
	st->open.method = xstrdup(method);
	st->open.path = xstrdup(*target != '\0' ? target : "/");
	st->open.content_length = len;
	st->open.body = len > 0 || te != NULL;
	ha.h = &st->open;
	ha.connection = http_header(c, "Connection");
	ha.strip_authz = strip_authz;
	MHD_get_connection_values(c, MHD_HEADER_KIND, proxy_copy_header, &ha);
	proxy_forwarding(c, &st->open, ha.trusted, addr, id, path_routing);
	proto_head_add(&st->open, "X-Request-Id", pr->reqid);
	if (upgrade != NULL) {		/* hop-by-hop, but asked for */
		st->upgrade = true;
		proto_head_add(&st->open, "Upgrade", upgrade);
		proto_head_add(&st->open, "Connection", "Upgrade");
	}
	/* Nothing follows the head: END leaves with the OPEN. */
	if (!st->open.body && !st->upgrade)
		st->req_end = true;
	st->conn = c;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	st->caller_fd = ci != NULL ? ci->connect_fd : -1;
	pr->st = st;			/* the MHD side's reference */
	atomic_fetch_add(&tunneld_inflight, 1);
	pthread_mutex_lock(&st->mtx);
	if (!session_open_direct(st))
		loop_notify_locked(st);
	pthread_mutex_unlock(&st->mtx);
	return MHD_YES;
}

/*
 * max_body_size for a body without Content-Length (chunked), under
 * st->mtx: n more bytes came.  Past the limit the agent is told to stop
 * (the stream is cancelled) and the caller gets 413 once its body is
 * over; true while more than TUNNELD_BODY_SLACK past it, which ends the
 * connection instead, since 0.9.75 cannot answer in the middle of a body.
 */
static bool
proxy_body_over(struct stream *st, size_t n)
{
	long long	max = CFG_GET(max_body_size);

	st->req_total += n;
	if (max <= 0 || st->req_total <= (uint64_t)max)
		return false;
	if (!st->cancel) {
		log_info("tunnel %s: request body over max_body_size (%lld "
		    "bytes)", st->tunnel_id, max);
		st->err_status = 413;
		st->err_text = "The request body is too large.";
		st->cancel = true;
		loop_notify_locked(st);
	}
	return st->req_total - max > TUNNELD_BODY_SLACK;
}

/* Queue the answer: the agent's response, or an error page. */
static enum MHD_Result
proxy_answer(struct MHD_Connection *c, struct preq *pr)
{
	struct stream		*st = pr->st;
	struct MHD_Response	*r = NULL;
	enum MHD_Result		 ret;
	int			 status, err;
	const char		*text;

	pthread_mutex_lock(&st->mtx);
	err = st->err_status;
	text = st->err_text;
	status = st->resp.status;
	if (err == 0 && st->upgrade && status == 101)
		r = proxy_upgrade_response_locked(st);
	else if (err == 0)
		r = stream_response_locked(st);
	pthread_mutex_unlock(&st->mtx);
	if (err != 0) {
		log_debug("tunnel %s: %s -> %d", pr->tunnel_id, pr->uri, err);
		ret = http_send_page(c, err,
		    MHD_get_reason_phrase_for((unsigned int)err),
		    text ? text : "");
		pr->sent_status = err;
		pr->local_bytes = http_last_sent();
		return ret;
	}
	if (r == NULL)
		return MHD_NO;
	pr->sent_status = status;
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	metrics_request_done(status, util_now_ms() - pr->started_ms);
	return ret;
}

enum MHD_Result
proxy_continue(struct MHD_Connection *c, struct preq *pr,
    const char *upload_data, size_t *upload_data_size)
{
	struct stream	*st = pr->st;
	size_t		 n;

	if (st == NULL)
		return MHD_NO;
	pthread_mutex_lock(&st->mtx);
	if (*upload_data_size > 0) {
		if (proxy_body_over(st, *upload_data_size)) {
			pthread_mutex_unlock(&st->mtx);
			return MHD_NO;		/* far too much: hang up */
		}
		if (st->err_status != 0 || st->resp_reset) {
			*upload_data_size = 0;	/* nobody will read it */
			pthread_mutex_unlock(&st->mtx);
			return MHD_YES;
		}
		n = tbuf_room(&st->req);
		if (n > *upload_data_size)
			n = *upload_data_size;
		if (n > 0) {
			(void)tbuf_put(&st->req, upload_data, n);
			*upload_data_size -= n;
			metrics_bytes(st->stats, M_BYTES_IN, n);
			loop_notify_locked(st);
		}
		/* A stopping loop fails the stream in loop_notify_locked. */
		if (st->err_status != 0 || st->resp_reset)
			*upload_data_size = 0;
		if (*upload_data_size > 0) {	/* full: wait for room */
			st->suspended = true;
			st->upload_wait = true;
			MHD_suspend_connection(c);
		}
		pthread_mutex_unlock(&st->mtx);
		return MHD_YES;
	}
	/*
	 * The request side ends here, but for an upgrade only once the agent
	 * refused it: after a 101 the caller's bytes follow, and their END
	 * comes from the relay.
	 */
	if (!st->req_end && (!st->upgrade ||
	    (st->have_resp && st->resp.status != 101) || st->err_status != 0)) {
		st->req_end = true;
		loop_notify_locked(st);
	}
	if (!st->have_resp && st->err_status == 0) {
		stream_suspend_locked(st);
		pthread_mutex_unlock(&st->mtx);
		return MHD_YES;
	}
	pthread_mutex_unlock(&st->mtx);
	return proxy_answer(c, pr);
}
