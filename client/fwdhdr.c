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
	char	*line;

	if (value[0] == '\0')
		xasprintf(&line, "%s;", name);
	else
		xasprintf(&line, "%s: %s", name, value);
	list = xcurl_slist_append(list, line);
	free(line);
	return list;
}
