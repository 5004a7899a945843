/*
 * Header rules of the proxy, pure functions shared by both sides and the
 * tests: what is hop-by-hop, what is a valid name or value, and how a
 * Location header is kept under the path prefix.
 */
#ifndef HTTPHDR_H
#define HTTPHDR_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 9110 token characters, 1..256 long. */
bool	 httphdr_valid_name(const char *);
/* No CR, LF or NUL, at most 65536 bytes. */
bool	 httphdr_valid_value(const char *, size_t);
/*
 * Hop-by-hop: Connection, Keep-Alive, Proxy-Connection, Proxy-Authenticate,
 * Proxy-Authorization, TE, Trailer, Transfer-Encoding, Upgrade, and any
 * name listed in the Connection header's value (passed as `connection`,
 * may be NULL).  Case-insensitive.
 */
bool	 httphdr_hop_by_hop(const char *name, const char *connection);
/* X-Forwarded-*, Forwarded and X-Real-IP: replaced unless trusted. */
bool	 httphdr_is_forwarding(const char *name);
/*
 * Rewrite a Location value from the local service so that it stays under
 * the tunnel's public prefix.  `prefix` is "/{id}" (no trailing slash),
 * `local_host` the host[:port] the local service knows itself by, and
 * `public_host` the host[:port] the caller used.
 *   "/x"                          -> "/{id}/x"
 *   "http://local_host/x"          -> "/{id}/x"  (same host: made relative)
 *   "http://public_host/x" (not under prefix) -> "/{id}/x"
 *   "//public_host/x"             -> "/{id}/x"
 *   "x" (relative, no slash)      -> unchanged (resolves under the prefix)
 *   anything else (other hosts)   -> unchanged
 * Returns a newly allocated string, or NULL if unchanged.
 */
char	*httphdr_rewrite_location(const char *value, const char *prefix,
	    const char *local_host, const char *public_host);
/*
 * Split the path of a public request into tunnel id and the rest:
 * "/abc/x?q" -> id "abc", rest "/x?q"; "/abc" -> id "abc", rest "" (the
 * caller answers 308 to "/abc/").  Returns false if there is no valid id
 * (util_valid_name) in the first segment.
 */
bool	 httphdr_split_path(const char *path, char *id, size_t idlen,
	    const char **rest);
/*
 * Host routing: "abc.example.com[:port]" with domain "example.com" gives
 * id "abc".  Returns false if host is not a direct subdomain of domain.
 */
bool	 httphdr_host_id(const char *host, const char *domain, char *id,
	    size_t idlen);

#endif
