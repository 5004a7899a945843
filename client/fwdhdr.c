/*
 * The forwarding rules for a request's head, the same for a forwarded
 * request (forward.c) and a replayed one (replay.c): which of the
 * caller's headers pass, the Host the local service sees, and how a
 * header is put to libcurl.
 */
#include "config.h"

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
