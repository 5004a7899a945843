/*
 * redirect_listen: a plain-HTTP listener that only sends callers to the
 * same URL over https (308, so a POST stays a POST).  The host is the one
 * the caller asked for, or public_url's when that is set; the port is the
 * HTTPS listener's unless it is 443.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

static struct MHD_Daemon	*redirect_mhd;
static int			 redirect_https_port;

/* A request's context: its raw target, as the URI log callback saw it. */
struct redirect_req {
	bool	seen;
	char	uri[];
};

static void *
redirect_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct redirect_req	*rq;
	size_t			 len;

	(void)cls; (void)c;
	if (uri == NULL)
		uri = "/";
	len = strlen(uri);
	rq = xmalloc(sizeof(*rq) + len + 1);
	rq->seen = false;
	memcpy(rq->uri, uri, len + 1);
	return rq;
}

static void
redirect_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls; (void)c; (void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

/* A Host that may go into a Location: a name or address, maybe a port. */
static bool
redirect_host_ok(const char *h, size_t len)
{
	size_t	i;

	if (len == 0 || len > 255)
		return false;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-:[]", h[i]) == NULL)
			return false;
	return true;
}

static enum MHD_Result
redirect_answer(struct MHD_Connection *c, unsigned int status,
    const char *location, const char *text)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, "Content-Type",
	    "text/plain; charset=utf-8");
	if (location != NULL)
		(void)MHD_add_response_header(r, "Location", location);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
redirect_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct redirect_req	*rq = *con_cls;
	const char		*host, *uri;
	char			*loc, port[16] = "";
	size_t			 hlen;
	enum MHD_Result		 ret;

	(void)cls; (void)url; (void)method; (void)version; (void)upload_data;
	if (rq == NULL)
		return MHD_NO;
	if (!rq->seen) {		/* answer on the second call */
		rq->seen = true;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {	/* a body: not wanted */
		*upload_data_size = 0;
		return MHD_YES;
	}
	uri = rq->uri;
	if (*uri != '/')
		return redirect_answer(c, 400, NULL, "Bad request target.\n");
	if (cfg.public_url != NULL && strncmp(cfg.public_url, "https://", 8)
	    == 0) {
		hlen = strcspn(cfg.public_url + 8, "/");
		xasprintf(&loc, "https://%.*s%s", (int)hlen,
		    cfg.public_url + 8, uri);
	} else {
		host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Host");
		if (host == NULL)
			return redirect_answer(c, 400, NULL,
			    "This server speaks https only.\n");
		hlen = strlen(host);
		if (host[0] != '[' && strchr(host, ':') != NULL)
			hlen = (size_t)(strchr(host, ':') - host);
		else if (host[0] == '[' && strchr(host, ']') != NULL)
			hlen = (size_t)(strchr(host, ']') - host) + 1;
		if (!redirect_host_ok(host, hlen))
			return redirect_answer(c, 400, NULL,
			    "Bad Host header.\n");
		if (redirect_https_port != 443)
			snprintf(port, sizeof(port), ":%d",
			    redirect_https_port);
		xasprintf(&loc, "https://%.*s%s%s", (int)hlen, host, port, uri);
	}
	ret = redirect_answer(c, 308, loc, "This server speaks https.\n");
	free(loc);
	return ret;
}

/* What log_mhd() puts before libmicrohttpd's messages. */
static char redirect_mhd_tag[] = "redirect: libmicrohttpd";

/* Start-up: a bad address is fatal, like the main listener's. */
void
redirect_start(int https_port)
{
	int	fd, port = 0;

	if (cfg.redirect_listen == NULL || *cfg.redirect_listen == '\0')
		return;
	if (!tls_enabled())
		fatalx("redirect_listen needs tls_cert and tls_key");
	redirect_https_port = https_port;
	fd = tunneld_listen(cfg.redirect_listen, &port);
	redirect_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    redirect_handler, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)15,
	    MHD_OPTION_URI_LOG_CALLBACK, redirect_uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, redirect_completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, redirect_mhd_tag,
	    MHD_OPTION_END);
	if (redirect_mhd == NULL)
		fatalx("cannot start the redirect listener on %s",
		    cfg.redirect_listen);
	log_info("redirecting http on %s (port %d) to https",
	    cfg.redirect_listen, port);
}

void
redirect_stop(void)
{
	if (redirect_mhd == NULL)
		return;
	MHD_stop_daemon(redirect_mhd);
	redirect_mhd = NULL;
}
