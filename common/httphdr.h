/*
 * Header rules of the proxy, pure functions shared by both sides and the
 * tests: what is hop-by-hop, what is a valid name or value, and how a
 * Location header is kept under the path prefix.
 */
#ifndef HTTPHDR_H
#define HTTPHDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr;
struct sockaddr_storage;

bool	 httphdr_tchar(int);		/* RFC 9110 tchar */
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
/*
 * Is `token` one of the comma-separated tokens of `list` (a Connection or
 * Upgrade value; NULL is an empty list)?  Case-insensitive; an element that
 * is not a token ("a b") matches nothing.
 */
bool	 httphdr_has_token(const char *list, const char *token);
int	 httphdr_status_line(const char *, size_t);	/* 0: not one */

/* What httphdr_resp_line() made of a line. */
enum httphdr_line {
	HTTPHDR_LINE_STATUS,	/* a status line: a new head begins */
	HTTPHDR_LINE_END,	/* the empty line after a head */
	HTTPHDR_LINE_FIELD,	/* a field, added */
	HTTPHDR_LINE_DROPPED	/* folded, stray, invalid or one too many */
};

struct proto_head;
enum httphdr_line httphdr_resp_line(struct proto_head *, int *status,
	    const char *, size_t);
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
 * Only the schemes http and https (any case) and "//"; hosts compare
 * case-insensitively, a missing port equals the scheme's default (80,
 * 443).  A path already under the prefix ("/{id}", "/{id}/...", "/{id}?..."
 * or "/{id}#...") is not prefixed again: unchanged for the public host,
 * made relative for the local host.  The query and fragment are kept.
 * Unchanged (NULL) too: userinfo ("user@host"), a value or prefix with
 * CR, LF or over 65536 bytes, a prefix that is not "/seg[/seg...]" of
 * RFC 3986 path characters (no "//", '\\', '?', '#', trailing '/', at
 * most 256 bytes).
 * Returns a newly allocated string (starting with prefix), or NULL if
 * unchanged.
 */
char	*httphdr_rewrite_location(const char *value, const char *prefix,
	    const char *local_host, const char *public_host);
/*
 * Split the path of a public request into tunnel id and the rest:
 * "/abc/x?q" -> id "abc", rest "/x?q"; "/abc" -> id "abc", rest "" (the
 * caller answers 308 to "/abc/").  Returns false if there is no valid id
 * (util_valid_name) in the first segment.
 * The first segment ends at '/', '?' or the end; rest points into path
 * there, so "/abc?q" gives id "abc" and rest "?q": a rest that does not
 * start with '/' is the redirect case (308 to "/abc/" + rest).  The path
 * must start with '/'; an id that does not fit idlen is false; id is ""
 * and rest untouched when false.
 */
bool	 httphdr_split_path(const char *path, char *id, size_t idlen,
	    const char **rest);
/*
 * Host routing: "abc.example.com[:port]" with domain "example.com" gives
 * id "abc".  Returns false if host is not a direct subdomain of domain.
 * Case-insensitive; a trailing dot on host or domain is ignored; the
 * port must be digits; the one label before the domain is lowercased into
 * id and must pass util_valid_name.  IPv6 literals are never an id.
 */
bool	 httphdr_host_id(const char *host, const char *domain, char *id,
	    size_t idlen);
/*
 * X-Request-Id values kept from a caller: 1..128 characters of
 * [A-Za-z0-9._:-].  NULL and anything else are false.
 */
#define HTTPHDR_MAX_REQUEST_ID	128
bool	 httphdr_request_id_ok(const char *);
/*
 * Untrusted text (a request path) for a log line: bytes outside 0x21..0x7e
 * become %XX, so the result has no spaces, quotes stay as they are, and
 * nothing can start a new line.  At most outlen - 1 bytes and a NUL; a
 * value cut short ends in "...".  Returns out.  outlen must be >= 4.
 */
char	*httphdr_log_escape(const char *in, char *out, size_t outlen);
/*
 * The client of a request that came through trusted proxies: walk
 * X-Forwarded-For from the right (the entry the nearest proxy added) and
 * stop at the first address that is not one of the trusted proxies
 * itself.  An entry is an IPv4 or IPv6 address, optionally in brackets
 * ("[::1]"), either optionally with ":port"; blanks around it are fine.
 * Returns 1 with *ss set to that client; 0 when every entry is a trusted
 * proxy (*ss the leftmost, so an earlier header may go on); -1 at an entry
 * that is not an address, an empty one, or past HTTPHDR_MAX_XFF entries
 * (*ss the last good one to its right, or untouched).  NULL is 0.
 */
#define HTTPHDR_MAX_XFF		64
int	 httphdr_xff_client(const char *value, const struct cidr *trusted,
	    size_t ntrusted, struct sockaddr_storage *ss);

#endif
