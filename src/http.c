/*
 * The libmicrohttpd side: request contexts, routing, and small answers.
 *
 * MHD calls the URI log callback first with the raw request target (the
 * access handler only sees an unescaped path without the query); we make
 * the request's context there.  The first access handler call only routes;
 * answers are queued on a later call (queueing on the first one makes
 * 0.9.75 close the connection).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "httphdr.h"
#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

static enum MHD_Result	 http_first(struct MHD_Connection *, struct preq *,
			    const char *, const char *);
static enum MHD_Result	 http_local(struct MHD_Connection *, struct preq *,
			    const char *, const char *, const char *, size_t *);
static enum MHD_Result	 http_root(struct MHD_Connection *);
static bool		 http_tunnel_known(const char *);
static bool		 http_route_host(struct MHD_Connection *, char *,
			    size_t);
static enum MHD_Result	 http_answer(struct MHD_Connection *, struct preq *);
static enum MHD_Result	 http_send_hdr(struct MHD_Connection *, int,
			    const char *, const char *, unsigned int);
static bool		 http_has_body(struct MHD_Connection *);
static long long	 http_content_length(struct MHD_Connection *);
static bool		 http_is_api(const char *);
static enum MHD_Result	 http_xff_collect(void *, enum MHD_ValueKind,
			    const char *, const char *);

#define HTTP_MAX_XFF	8	/* X-Forwarded-For headers looked at */

struct xff_arg {
	const char	*v[HTTP_MAX_XFF];
	size_t		 n;
};

/* Body length of this thread's last http_send(), for the access log. */
static __thread size_t	 http_sent_len;

static const char *const http_reserved_names[] = {
	"api", "health", "metrics", "favicon.ico", "robots.txt", "static",
	"admin", "dashboard", "www", "status", "_", NULL
};

/*
 * Without public_url, the base URL of tunnels is the one the caller used:
 * its Host, and the scheme a trusted proxy reports.  NULL: use public_url.
 */
char *
http_request_base(struct MHD_Connection *c)
{
	const char	*host, *proto = NULL, *fhost;
	char		*base;

	if (cfg.public_url != NULL && *cfg.public_url != '\0')
		return NULL;
	if ((host = http_header(c, "Host")) == NULL ||
	    !httphdr_valid_value(host, strlen(host)) || strchr(host, '/'))
		return NULL;
	if (http_trusted(c, NULL, 0, NULL)) {
		proto = http_header(c, "X-Forwarded-Proto");
		if ((fhost = http_header(c, "X-Forwarded-Host")) != NULL &&
		    httphdr_valid_value(fhost, strlen(fhost)) &&
		    strchr(fhost, '/') == NULL)
			host = fhost;
	}
	xasprintf(&base, "%s://%s", tls_enabled() || (proto != NULL &&
	    strcasecmp(proto, "https") == 0) ? "https" : "http", host);
	return base;
}

/*
 * Is the caller one of the trusted proxies (whose X-Forwarded-* we keep)?
 * Its address as text goes to addr, if given, and as a sockaddr to *sap.
 */
bool
http_trusted(struct MHD_Connection *c, char *addr, size_t len,
    const struct sockaddr **sap)
{
	const union MHD_ConnectionInfo	*ci;
	size_t				 i;
	bool				 trusted = false;

	if (addr != NULL && len > 0)
		addr[0] = '\0';
	if (sap != NULL)
		*sap = NULL;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return false;
	if (addr != NULL)
		(void)util_sockaddr_str(ci->client_addr, addr, len);
	if (sap != NULL)
		*sap = ci->client_addr;
	pthread_rwlock_rdlock(&cfg_lock);	/* a reload swaps the list */
	for (i = 0; i < cfg.ntrusted && !trusted; i++)
		trusted = util_cidr_match(&cfg.trusted[i], ci->client_addr);
	pthread_rwlock_unlock(&cfg_lock);
	return trusted;
}

/* Keeps the last HTTP_MAX_XFF X-Forwarded-For headers, in order. */
static enum MHD_Result
http_xff_collect(void *cls, enum MHD_ValueKind kind, const char *name,
    const char *value)
{
	struct xff_arg	*xa = cls;

	if (name == NULL || value == NULL ||
	    strcasecmp(name, "X-Forwarded-For") != 0)
		return MHD_YES;
	if (xa->n == HTTP_MAX_XFF) {
		memmove(&xa->v[0], &xa->v[1], (HTTP_MAX_XFF - 1) *
		    sizeof(xa->v[0]));
		xa->n--;
	}
	xa->v[xa->n++] = value;
	return MHD_YES;
}

/*
 * The caller's address as the limits and the deny list see it: the peer,
 * or when the peer is a trusted proxy the client its X-Forwarded-For names
 * (httphdr_xff_client, the last header first).  Family 0 if MHD has none.
 */
void
http_source(struct MHD_Connection *c, struct sockaddr_storage *ss)
{
	const union MHD_ConnectionInfo	*ci;
	struct xff_arg			 xa;
	size_t				 i, len;
	int				 r = 0;
	bool				 trusted = false;

	memset(ss, 0, sizeof(*ss));
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (ci->client_addr->sa_family == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return;
	memcpy(ss, ci->client_addr, len);
	pthread_rwlock_rdlock(&cfg_lock);	/* a reload swaps the list */
	for (i = 0; i < cfg.ntrusted && !trusted; i++)
		trusted = util_cidr_match(&cfg.trusted[i], ci->client_addr);
	if (trusted) {
		xa.n = 0;
		(void)MHD_get_connection_values(c, MHD_HEADER_KIND,
		    http_xff_collect, &xa);
		for (i = xa.n; i > 0 && r == 0; i--)
			r = httphdr_xff_client(xa.v[i - 1], cfg.trusted,
			    cfg.ntrusted, ss);
	}
	pthread_rwlock_unlock(&cfg_lock);
}

/*
 * A socket MHD hands over after a 101: non-blocking for the loop, and
 * Nagle off on the real TCP socket (MHD turns it back on before the
 * hand-over; under TLS `sock` would be a socketpair).
 */
void
http_upgraded_socket(struct MHD_Connection *c, MHD_socket sock)
{
	const union MHD_ConnectionInfo	*ci;
	int				 one = 1, fl;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		(void)setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
	if ((fl = fcntl(sock, F_GETFL)) != -1)
		(void)fcntl(sock, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Take an upgraded socket from MHD altogether: a duplicate of it is ours,
 * and MHD is told at once that it is closed, so that it frees the
 * connection and its memory pool now rather than when the socket ends.
 * (A plain connection's CLOSE only closes MHD's descriptor, with no
 * shutdown(): the duplicate keeps the connection up.)  Returns the new
 * descriptor, or -1 with the connection closed.
 */
int
http_detach_socket(struct MHD_Connection *c, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	int	fd;

	http_upgraded_socket(c, sock);
	if ((fd = fcntl(sock, F_DUPFD_CLOEXEC, 3)) == -1)
		log_warn("upgraded connection: dup: %s", strerror(errno));
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);	/* once */
	return fd;
}

bool
http_reserved(const char *name)
{
	size_t	i;

	for (i = 0; http_reserved_names[i] != NULL; i++) {
		if (strcmp(name, http_reserved_names[i]) == 0)
			return true;
	}
	return false;
}

/*
 * max_conns_per_ip, counted here (iplimit.c) rather than by MHD, which
 * counts an IPv6 caller by its whole address.  The accept policy refuses
 * an address at the limit; the connection is counted once MHD has it
 * (STARTED) and let go when MHD closes it, so that a connection MHD drops
 * in between is never counted.  Connections of one address accepted at
 * the same moment by several pool threads may pass the limit by a few.
 */
static struct iplimit	http_ips;

void
http_iplimit_init(unsigned int max)
{
	iplimit_init(&http_ips, max);
}

enum MHD_Result
http_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	uint8_t	key[16];

	iplimit_key(sa, key);
	if (iplimit_full(&http_ips, key)) {
		log_debug("max_conns_per_ip reached; connection closed");
		return MHD_NO;
	}
	return MHD_YES;
}

void
http_connection(void *cls, struct MHD_Connection *c, void **sctx,
    enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo	*ci;
	uint8_t				 key[16];

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	iplimit_key(ci != NULL ? ci->client_addr : NULL, key);
	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		if (iplimit_take(&http_ips, key, true) == IPLIMIT_TAKEN)
			*sctx = &http_ips;	/* counted */
	} else if (what == MHD_CONNECTION_NOTIFY_CLOSED &&
	    *sctx == &http_ips) {
		iplimit_put(&http_ips, key);
		*sctx = NULL;
	}
}

void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct preq	*pr = xcalloc(1, sizeof(*pr));

	pr->uri = xstrdup(uri != NULL ? uri : "/");
	pr->started_ms = util_now_ms();
	tbuf_init(&pr->body, TUNNELD_MAX_API_BODY);
	return pr;
}

void
preq_free(struct preq *pr)
{
	if (pr == NULL)
		return;
	free(pr->uri);
	free(pr->answer);
	free(pr->base);
	free(pr->method);
	metrics_tunnel_unref(pr->stats);
	tbuf_free(&pr->body);
	free(pr);
}

const char *
http_header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

enum MHD_Result
http_send(struct MHD_Connection *c, int status, const char *type,
    const char *body)
{
	return http_send_hdr(c, status, type, body, status == 429 ||
	    status == 503 ? 1 : 0);
}

/* retry: Retry-After in seconds, 0 for none. */
static enum MHD_Result
http_send_hdr(struct MHD_Connection *c, int status, const char *type,
    const char *body, unsigned int retry)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;
	char			 ra[16];

	r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (type != NULL)
		MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 401 && type != NULL && strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(r, "WWW-Authenticate",
		    "Basic realm=\"tunnel\", charset=\"UTF-8\"");
	if (retry > 0) {
		(void)snprintf(ra, sizeof(ra), "%u", retry);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	metrics_request_done(status, 0);
	http_sent_len = strlen(body);
	return ret;
}

size_t
http_last_sent(void)
{
	return http_sent_len;
}

enum MHD_Result
http_send_json_error(struct MHD_Connection *c, int status, const char *msg)
{
	return http_send_json_retry(c, status, msg, status == 429 ||
	    status == 503 ? 1 : 0);
}

/* {"error": msg}, with Retry-After: retry (0: none). */
enum MHD_Result
http_send_json_retry(struct MHD_Connection *c, int status, const char *msg,
    unsigned int retry)
{
	struct json_object	*o = json_object_new_object();
	enum MHD_Result		 ret;

	json_object_object_add(o, "error", json_object_new_string(msg));
	ret = http_send_hdr(c, status, "application/json",
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), retry);
	json_object_put(o);
	return ret;
}

/* Content-Length: -1 if none, INT64_MAX if it does not parse. */
static long long
http_content_length(struct MHD_Connection *c)
{
	const char	*cl, *errstr;
	long long	 n;

	if ((cl = http_header(c, "Content-Length")) == NULL)
		return -1;
	n = util_strtonum(cl, 0, INT64_MAX, &errstr);
	return errstr != NULL ? INT64_MAX : n;
}

/* Does a body follow the head (a Content-Length above 0, or chunks)? */
static bool
http_has_body(struct MHD_Connection *c)
{
	return http_header(c, "Transfer-Encoding") != NULL ||
	    http_content_length(c) > 0;
}

/*
 * Refuse a request on its first handler call: status and msg, as JSON
 * ({"error": msg}, Retry-After: retry if not 0) or, for a tunnel's
 * visitors, a short page.  With no body to come the answer waits for the
 * second call (one queued on the first makes 0.9.75 close the connection);
 * with one it goes now, so the body is never read, and the connection
 * closes after it.
 */
enum MHD_Result
http_refuse(struct MHD_Connection *c, struct preq *pr, int status,
    const char *msg, bool json, unsigned int retry)
{
	pr->kind = PREQ_LOCAL;
	pr->status = status;
	free(pr->answer);
	pr->answer = xstrdup(msg);
	pr->json = json;
	pr->retry_after = retry;
	if (!http_has_body(c))
		return MHD_YES;
	return http_answer(c, pr);
}

/* The answer decided on the first call (pr->status). */
static enum MHD_Result
http_answer(struct MHD_Connection *c, struct preq *pr)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	if (pr->answered)
		return MHD_YES;
	pr->answered = true;
	if (pr->status == 308) {
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Location", pr->answer);
		ret = MHD_queue_response(c, 308, r);
		MHD_destroy_response(r);
		metrics_request_done(308, 0);
		return ret;
	}
	if (pr->json)
		ret = http_send_json_retry(c, pr->status, pr->answer != NULL ?
		    pr->answer : "", pr->retry_after);
	else
		ret = http_send_page(c, pr->status,
		    MHD_get_reason_phrase_for((unsigned int)pr->status),
		    pr->answer != NULL ? pr->answer : "");
	pr->sent_status = pr->status;
	pr->local_bytes = http_last_sent();
	return ret;
}

static bool
http_is_api(const char *url)
{
	return strncmp(url, "/api", 4) == 0 && (url[4] == '\0' ||
	    url[4] == '/');
}

/* A short HTML page for the visitors of a tunnel URL. */
enum MHD_Result
http_send_page(struct MHD_Connection *c, int status, const char *title,
    const char *text)
{
	char	*page;
	enum MHD_Result ret;

	xasprintf(&page, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p>\n"
	    "<hr><p><small>tunneld</small></p></body></html>\n",
	    status, title, status, title, text);
	ret = http_send(c, status, "text/html; charset=utf-8", page);
	free(page);
	return ret;
}

/* Host routing: "{id}.{domain}" when a domain is configured. */
static bool
http_route_host(struct MHD_Connection *c, char *id, size_t idlen)
{
	const char	*host;

	if (cfg.domain == NULL || *cfg.domain == '\0')
		return false;
	if ((host = http_header(c, "Host")) == NULL)
		return false;
	return httphdr_host_id(host, cfg.domain, id, idlen);
}

enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct preq	*pr = *con_cls;

	if (pr == NULL)		/* no URI log call: cannot happen */
		return MHD_NO;
	if (!pr->started) {
		pr->started = true;
		return http_first(c, pr, url, method);
	}
	switch (pr->kind) {
	case PREQ_PROXY:
		return proxy_continue(c, pr, upload_data, upload_data_size);
	case PREQ_UPGRADE:
		return upgrade_connect(c, pr, method);
	case PREQ_LOCAL:
	case PREQ_NEW:
		break;
	}
	return http_local(c, pr, url, method, upload_data, upload_data_size);
}

static enum MHD_Result
http_first(struct MHD_Connection *c, struct preq *pr, const char *url,
    const char *method)
{
	char		 id[TUNNELD_ID_LEN], addr[64];
	const char	*rest;
	size_t		 hsize;
	unsigned int	 retry;
	int		 max;
	const union MHD_ConnectionInfo *ci;

	/* MHD caps headers by its pool; we answer 431 past the limit. */
	hsize = strlen(pr->uri) + strlen(method) + 16;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci != NULL)
		hsize = ci->header_size;
	max = CFG_GET(max_header_size);
	if (max > 0 && hsize > (size_t)max)
		return http_refuse(c, pr, 431, "request header fields too "
		    "large", true, 0);
	http_source(c, &pr->src);
	if (limits_denied_addr(&pr->src)) {
		metrics_add(M_DENIED, 1);
		if (util_sockaddr_str((struct sockaddr *)&pr->src, addr,
		    sizeof(addr)) == 0)
			log_debug("request from %s refused: address denied",
			    addr);
		return http_refuse(c, pr, 403, "this address is denied", true,
		    0);
	}
	if (http_route_host(c, id, sizeof(id))) {
		pr->kind = PREQ_PROXY;
		return proxy_start(c, pr, id, pr->uri, method, false);
	}
	if (http_is_api(url) && (retry = limits_addr(&pr->src)) > 0)
		return http_refuse(c, pr, 429, "too many requests from this "
		    "address; slow down", true, retry);
	if (strncmp(url, "/api/tunnel/connect/", 20) == 0) {
		pr->kind = PREQ_UPGRADE;
		util_strlcpy(pr->tunnel_id, url + 20, sizeof(pr->tunnel_id));
		return MHD_YES;
	}
	if (pr->uri[0] == '/' && httphdr_split_path(pr->uri, id, sizeof(id),
	    &rest) && !http_reserved(id)) {
		pr->kind = PREQ_PROXY;
		/* "/{id}" or "/{id}?q" of a tunnel: 308; of none: 404. */
		if (*rest != '/' && http_tunnel_known(id)) {
			pr->kind = PREQ_LOCAL;
			pr->status = 308;
			xasprintf(&pr->answer, "/%s/%s", id, rest);
			return MHD_YES;
		}
		return proxy_start(c, pr, id, rest, method, true);
	}
	pr->kind = PREQ_LOCAL;
	if (http_content_length(c) > TUNNELD_MAX_API_BODY)
		return http_refuse(c, pr, 413, "request body too large", true,
		    0);
	return MHD_YES;
}

static bool
http_tunnel_known(const char *id)
{
	bool	known;

	registry_lock();
	known = registry_find_locked(id) != NULL;
	registry_unlock();
	return known;
}

static enum MHD_Result
http_root(struct MHD_Connection *c)
{
	return http_send(c, 200, "text/plain; charset=utf-8",
	    "tunneld " PACKAGE_VERSION ": a self-hosted tunnel server.\n"
	    "See /api for the control API.\n");
}

static enum MHD_Result
http_local(struct MHD_Connection *c, struct preq *pr, const char *url,
    const char *method, const char *upload_data, size_t *upload_data_size)
{
	/* Collect a small body for the API, bounded. */
	if (*upload_data_size != 0) {
		if (pr->status != 0)
			;		/* answered anyway: discard */
		else if (!pr->too_big && tbuf_put(&pr->body, upload_data,
		    *upload_data_size) != 0)
			pr->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (pr->status != 0)
		return http_answer(c, pr);
	if (pr->too_big)
		return http_send_json_error(c, 413, "request body too large");
	if (strcmp(url, "/") == 0)
		return http_root(c);
	if (strncmp(url, "/dashboard", 10) == 0 &&
	    (url[10] == '\0' || url[10] == '/'))
		return dashboard_dispatch(c, pr, url, method);
	return api_dispatch(c, pr, url, method);
}

void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct preq	*pr = *con_cls;
	struct stream	*st;

	if (pr == NULL)
		return;
	access_log(pr);
	if ((st = pr->st) != NULL) {
		pthread_mutex_lock(&st->mtx);
		st->conn = NULL;
		/*
		 * The caller went away, or has all of the answer it will get
		 * (its Content-Length, or none for HEAD, 204 and 304) while
		 * the agent has not ended: the agent is told to stop, and what
		 * it sends past that is not kept.  Completed with the agent's
		 * END in: the loop finishes the stream.
		 */
		if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ||
		    (!st->resp_end && !st->upgrade)) {
			st->cancel = true;
			loop_notify_locked(st);
		}
		pthread_mutex_unlock(&st->mtx);
		stream_unref(st);
		atomic_fetch_sub(&tunneld_inflight, 1);
	}
	preq_free(pr);
	*con_cls = NULL;
}
