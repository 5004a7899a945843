/*
 * The forwarding rules for a request, the same for a forwarded request
 * (forward.c) and a replayed one (replay.c): which of the caller's headers
 * pass, the Host the local service sees, how a header is put to libcurl,
 * and how libcurl reaches the local service.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "tunnel-client.h"
#include "xmalloc.h"

/* The Host the local service sees, as --host-header says. */
const char *
forward_host(const struct link *l, const struct proto_head *req)
{
	const char	*host;

	if (strcmp(l->conf->host_header, "rewrite") == 0)
		return l->local_hostport;
	if (strcmp(l->conf->host_header, "preserve") == 0)
		return (host = proto_head_get(req, "Host")) != NULL ? host :
		    l->local_hostport;
	return l->conf->host_header;
}

/*
 * A caller's header that is not passed on: Host (forward_host's), the
 * body's framing (curl's own), Expect, and hop-by-hop ones.
 */
bool
forward_header_dropped(const char *name, const char *connection)
{
	return strcasecmp(name, "Host") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Expect") == 0 ||
	    httphdr_hop_by_hop(name, connection);
}

/* One header for curl; "Name;" is how curl sends an empty value. */
struct curl_slist *
forward_header_add(struct curl_slist *list, const char *name,
    const char *value)
{
	char	 buf[512], *line = buf;
	size_t	 nlen = strlen(name), vlen = strlen(value);

	/* curl copies the line: most fit on the stack. */
	if (nlen + vlen + 3 > sizeof(buf))
		line = xmalloc(nlen + vlen + 3);
	memcpy(line, name, nlen);
	if (vlen == 0)
		memcpy(line + nlen, ";", 2);
	else {
		memcpy(line + nlen, ": ", 2);
		memcpy(line + nlen + 2, value, vlen + 1);
	}
	list = xcurl_slist_append(list, line);
	if (line != buf)
		free(line);
	return list;
}

/*
 * An easy handle for a request to the local service at target: HTTP/1.1,
 * bodies untouched, no proxy (libcurl would follow http_proxy and the
 * like even to 127.0.0.1), and its certificate not checked for --https
 * (local services use self-made ones).
 */
void
forward_curl_local(CURL *e, const struct link *l, const char *target)
{
	char	url[sizeof(l->local_url) + 1];

	(void)snprintf(url, sizeof(url), "%s/", l->local_url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_REQUEST_TARGET, target);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
	    (long)client.opt->connect_timeout);
	if (l->conf->https) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}
