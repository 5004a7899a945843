/*
 * Header rules of the proxy: pure functions on NUL-terminated strings, no
 * allocation except the rewritten Location.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "httphdr.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"

#define HTTPHDR_MAX_NAME	256
#define HTTPHDR_MAX_VALUE	65536
#define HTTPHDR_MAX_HOST	253	/* a DNS name, without a trailing dot */

static bool	 httphdr_ows(int);
static bool	 httphdr_valid_prefix(const char *, size_t);
static bool	 httphdr_under_prefix(const char *, const char *, size_t);
static bool	 httphdr_same_host(const char *, size_t, const char *, int);
static bool	 httphdr_split_authority(const char *, size_t, size_t *,
		    const char **, size_t *);
static char	*httphdr_join(const char *, size_t, const char *);
static bool	 httphdr_addr(const char *, size_t, struct sockaddr_storage *);

#define HOP(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*name;
	size_t		 len;
} httphdr_hop[] = {
	HOP("Connection"), HOP("Keep-Alive"), HOP("Proxy-Connection"),
	HOP("Proxy-Authenticate"), HOP("Proxy-Authorization"), HOP("TE"),
	HOP("Trailer"), HOP("Transfer-Encoding"), HOP("Upgrade")
};
#undef HOP

/* RFC 9110 5.6.2 tchar. */
bool
httphdr_tchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return true;
	default:
		return false;
	}
}

static bool
httphdr_ows(int c)
{
	return c == ' ' || c == '\t';
}

bool
httphdr_valid_name(const char *s)
{
	size_t	i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTPHDR_MAX_NAME ||
		    !httphdr_tchar((unsigned char)s[i]))
			return false;
	}
	return i > 0;
}

bool
httphdr_valid_value(const char *v, size_t len)
{
	size_t	i;

	if (v == NULL || len > HTTPHDR_MAX_VALUE)
		return false;
	for (i = 0; i < len; i++) {
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return false;
	}
	return true;
}

bool
httphdr_hop_by_hop(const char *name, const char *connection)
{
	size_t		 i, len;

	if (name == NULL)
		return false;
	len = strlen(name);
	for (i = 0; i < sizeof(httphdr_hop) / sizeof(httphdr_hop[0]); i++) {
		if (len == httphdr_hop[i].len &&
		    strcasecmp(name, httphdr_hop[i].name) == 0)
			return true;
	}
	return httphdr_has_token(connection, name);
}

bool
httphdr_has_token(const char *list, const char *name)
{
	const char	*p, *tok;
	size_t		 n, nlen;
	bool		 valid;

	if (list == NULL || name == NULL || (nlen = strlen(name)) == 0)
		return false;
	/* #token: elements split by commas, OWS around each. */
	for (p = list; *p != '\0'; ) {
		while (httphdr_ows((unsigned char)*p))
			p++;
		tok = p;
		valid = true;
		while (*p != '\0' && *p != ',' &&
		    !httphdr_ows((unsigned char)*p)) {
			if (!httphdr_tchar((unsigned char)*p))
				valid = false;
			p++;
		}
		n = (size_t)(p - tok);
		while (httphdr_ows((unsigned char)*p))
			p++;
		if (*p != '\0' && *p != ',')
			valid = false;		/* "a b": not a token */
		while (*p != '\0' && *p != ',')
			p++;
		if (*p == ',')
			p++;
		if (valid && n == nlen && strncasecmp(tok, name, n) == 0)
			return true;
	}
	return false;
}

bool
httphdr_is_forwarding(const char *name)
{
	if (name == NULL)
		return false;
	return strncasecmp(name, "X-Forwarded-", 12) == 0 ||
	    strcasecmp(name, "Forwarded") == 0 ||
	    strcasecmp(name, "X-Real-IP") == 0;
}

/*
 * "/seg[/seg...]" of RFC 3986 path characters: no empty segment, no
 * trailing '/', and nothing a browser might read as an authority or a
 * query ("//", '\\', '?', '#').
 */
static bool
httphdr_valid_prefix(const char *prefix, size_t plen)
{
	size_t	i;
	int	c;

	if (plen < 2 || plen > HTTPHDR_MAX_NAME || prefix[0] != '/' ||
	    prefix[plen - 1] == '/')
		return false;
	for (i = 1; i < plen; i++) {
		c = (unsigned char)prefix[i];
		if (c == '/' && prefix[i - 1] == '/')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') ||
		    strchr("-._~!$&'()*+,;=:@%/", c) != NULL))
			return false;
	}
	return true;
}

/* A path at or below prefix: "/id", "/id/...", "/id?..." or "/id#...". */
static bool
httphdr_under_prefix(const char *path, const char *prefix, size_t plen)
{
	if (strncmp(path, prefix, plen) != 0)
		return false;
	return path[plen] == '\0' || path[plen] == '/' || path[plen] == '?' ||
	    path[plen] == '#';
}

/*
 * Split "host[:port]" or "[v6][:port]" of length len: hostlen and the
 * port digits (portlen 0 if none).  False if malformed.
 */
static bool
httphdr_split_authority(const char *a, size_t len, size_t *hostlen,
    const char **port, size_t *portlen)
{
	const char	*colon = NULL, *end = a + len, *p;

	if (len > 0 && a[0] == '[') {
		if ((p = memchr(a, ']', len)) == NULL)
			return false;
		*hostlen = (size_t)(p - a) + 1;
		if (p + 1 < end) {
			if (p[1] != ':')
				return false;
			colon = p + 1;
		}
	} else {
		for (p = a; p < end; p++) {
			if (*p == ':') {
				if (colon != NULL)
					return false;
				colon = p;
			}
		}
		*hostlen = (size_t)((colon != NULL ? colon : end) - a);
	}
	*port = colon != NULL ? colon + 1 : end;
	*portlen = (size_t)(end - *port);
	for (p = *port; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	return *hostlen > 0 && *portlen <= 5;
}

/*
 * Is the authority a (length alen) the same as host[:port]?  Hosts compare
 * case-insensitively; a missing port is defport (0: no default).
 */
static bool
httphdr_same_host(const char *a, size_t alen, const char *host, int defport)
{
	const char	*ap, *hp, *dp = NULL;
	size_t		 ahl, apl, hhl, hpl;

	if (host == NULL || *host == '\0')
		return false;
	if (!httphdr_split_authority(a, alen, &ahl, &ap, &apl) ||
	    !httphdr_split_authority(host, strlen(host), &hhl, &hp, &hpl))
		return false;
	if (ahl != hhl || strncasecmp(a, host, ahl) != 0)
		return false;
	if (defport == 80)
		dp = "80";
	else if (defport == 443)
		dp = "443";
	if (apl == 0 && dp != NULL) {
		ap = dp;
		apl = strlen(dp);
	}
	if (hpl == 0 && dp != NULL) {
		hp = dp;
		hpl = strlen(dp);
	}
	return apl == hpl && memcmp(ap, hp, apl) == 0;
}

/* prefix (plen bytes) + path, where path is "", "/x", "?q" or "#f". */
static char *
httphdr_join(const char *prefix, size_t plen, const char *path)
{
	char	*out;

	xasprintf(&out, "%.*s%s%s", (int)plen, prefix, *path == '/' ? "" : "/",
	    path);
	return out;
}

char *
httphdr_rewrite_location(const char *value, const char *prefix,
    const char *local_host, const char *public_host)
{
	const char	*auth, *path;
	size_t		 plen, vlen;
	int		 defport;

	if (value == NULL || prefix == NULL)
		return NULL;
	vlen = strlen(value);
	plen = strlen(prefix);
	if (!httphdr_valid_value(value, vlen) ||
	    !httphdr_valid_prefix(prefix, plen))
		return NULL;
	if (value[0] == '/' && value[1] != '/') {
		/* An absolute path. */
		if (httphdr_under_prefix(value, prefix, plen))
			return NULL;
		return httphdr_join(prefix, plen, value);
	}
	if (strncmp(value, "//", 2) == 0) {
		auth = value + 2;
		defport = 0;
	} else if (strncasecmp(value, "http://", 7) == 0) {
		auth = value + 7;
		defport = 80;
	} else if (strncasecmp(value, "https://", 8) == 0) {
		auth = value + 8;
		defport = 443;
	} else
		return NULL;		/* relative, or another scheme */
	path = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(path - auth)) != NULL)
		return NULL;		/* userinfo: leave it alone */
	if (httphdr_same_host(auth, (size_t)(path - auth), public_host,
	    defport)) {
		if (*path == '/' && httphdr_under_prefix(path, prefix, plen))
			return NULL;	/* already right */
		return httphdr_join(prefix, plen, path);
	}
	if (httphdr_same_host(auth, (size_t)(path - auth), local_host,
	    defport)) {
		if (*path == '/' && httphdr_under_prefix(path, prefix, plen))
			return xstrdup(path);
		return httphdr_join(prefix, plen, path);
	}
	return NULL;
}

bool
httphdr_split_path(const char *path, char *id, size_t idlen,
    const char **rest)
{
	size_t	n;

	if (id != NULL && idlen > 0)
		id[0] = '\0';
	if (path == NULL || id == NULL || path[0] != '/')
		return false;
	n = strcspn(path + 1, "/?");
	if (n == 0 || n >= idlen)
		return false;
	memcpy(id, path + 1, n);
	id[n] = '\0';
	if (!util_valid_name(id)) {
		id[0] = '\0';
		return false;
	}
	if (rest != NULL)
		*rest = path + 1 + n;
	return true;
}

bool
httphdr_host_id(const char *host, const char *domain, char *id,
    size_t idlen)
{
	const char	*colon, *p;
	size_t		 hlen, dlen, n, i;

	if (id != NULL && idlen > 0)
		id[0] = '\0';
	if (host == NULL || domain == NULL || id == NULL || host[0] == '[')
		return false;
	hlen = strlen(host);
	if ((colon = strchr(host, ':')) != NULL) {
		/* A port: digits only. */
		for (p = colon + 1; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return false;
		}
		if (hlen - (size_t)(colon - host) - 1 > 5)
			return false;
		hlen = (size_t)(colon - host);
	}
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	dlen = strlen(domain);
	if (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;
	if (dlen == 0 || hlen > HTTPHDR_MAX_HOST || hlen < dlen + 2 ||
	    host[hlen - dlen - 1] != '.' ||
	    strncasecmp(host + hlen - dlen, domain, dlen) != 0)
		return false;
	n = hlen - dlen - 1;		/* the label before ".domain" */
	if (n >= idlen || memchr(host, '.', n) != NULL)
		return false;
	for (i = 0; i < n; i++) {
		id[i] = host[i] >= 'A' && host[i] <= 'Z' ?
		    (char)(host[i] - 'A' + 'a') : host[i];
	}
	id[n] = '\0';
	if (!util_valid_name(id)) {
		id[0] = '\0';
		return false;
	}
	return true;
}

bool
httphdr_request_id_ok(const char *s)
{
	size_t	i;

	if (s == NULL || *s == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HTTPHDR_MAX_REQUEST_ID)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == ':' || s[i] == '-'))
			return false;
	}
	return true;
}

char *
httphdr_log_escape(const char *in, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 o = 0, need, total = 0, room;

	if (in == NULL)
		in = "";
	for (p = (const unsigned char *)in; *p != '\0'; p++)
		total += *p > 0x20 && *p < 0x7f ? 1 : 3;
	/* All of it, or as much as leaves room for "..." and the NUL. */
	room = total < outlen ? outlen - 1 : outlen - 4;
	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		need = *p > 0x20 && *p < 0x7f ? 1 : 3;
		if (o + need > room)
			break;
		if (need == 1)
			out[o++] = (char)*p;
		else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (total >= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* One X-Forwarded-For entry: an address, maybe "[v6]", maybe ":port". */
static bool
httphdr_addr(const char *s, size_t n, struct sockaddr_storage *ss)
{
	struct sockaddr_storage	 tmp;
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)&tmp;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)&tmp;
	char			 buf[INET6_ADDRSTRLEN + 8];
	const char		*port = NULL, *p;
	size_t			 i, alen;
	bool			 v6only = false;

	while (n > 0 && httphdr_ows((unsigned char)s[0])) {
		s++;
		n--;
	}
	while (n > 0 && httphdr_ows((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return false;
	alen = n;
	if (s[0] == '[') {
		v6only = true;
		if ((p = memchr(s, ']', n)) == NULL)
			return false;
		alen = (size_t)(p - s) - 1;
		memcpy(buf, s + 1, alen);
		if ((size_t)(p - s) + 1 < n) {
			if (p[1] != ':')
				return false;
			port = p + 2;
		}
	} else {
		p = memchr(s, ':', n);
		if (p != NULL && memchr(p + 1, ':', n - (size_t)(p - s) - 1) ==
		    NULL) {
			alen = (size_t)(p - s);		/* a.b.c.d:port */
			port = p + 1;
		}
		memcpy(buf, s, alen);
	}
	buf[alen] = '\0';
	if (port != NULL) {
		i = (size_t)(port - s);
		if (i >= n || n - i > 5)
			return false;
		for (; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
	}
	memset(&tmp, 0, sizeof(tmp));
	if (!v6only && inet_pton(AF_INET, buf, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (strchr(buf, ':') != NULL &&
	    inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return false;
	*ss = tmp;
	return true;
}

int
httphdr_xff_client(const char *v, const struct cidr *trusted, size_t ntrusted,
    struct sockaddr_storage *ss)
{
	const char	*start, *end;
	size_t		 i;
	int		 entries = 0;
	bool		 proxy;

	if (v == NULL)
		return 0;
	for (end = v + strlen(v);; end = start - 1) {
		for (start = end; start > v && start[-1] != ','; start--)
			;
		if (++entries > HTTPHDR_MAX_XFF ||
		    !httphdr_addr(start, (size_t)(end - start), ss))
			return -1;
		proxy = false;
		for (i = 0; i < ntrusted && !proxy; i++)
			proxy = util_cidr_match(&trusted[i],
			    (const struct sockaddr *)(const void *)ss);
		if (!proxy)
			return 1;
		if (start == v)
			return 0;
	}
}

/*
 * The status of an HTTP/1.x status line of len bytes ("HTTP/1.1 200 OK",
 * no CR LF needed), or 0 if it is not one.
 */
int
httphdr_status_line(const char *buf, size_t len)
{
	const char	*v, *errstr;
	char		 code[4];
	long long	 st;

	if (len < 5 || memcmp(buf, "HTTP/", 5) != 0 ||
	    (v = memchr(buf, ' ', len)) == NULL || (size_t)(buf + len - v) < 4)
		return 0;
	memcpy(code, v + 1, 3);
	code[3] = '\0';
	st = util_strtonum(code, 100, 999, &errstr);
	return errstr == NULL ? (int)st : 0;
}

/*
 * One line of a response head as libcurl's header callback hands it over,
 * line end included.  A status line clears h and sets *status; a field
 * line after it is added to h, its value trimmed, unless it is folded,
 * stray (no colon, or before any status line), invalid (name, value or a
 * NUL) or past PROTO_MAX_HEADERS.
 */
enum httphdr_line
httphdr_resp_line(struct proto_head *h, int *status, const char *buf,
    size_t len)
{
	const char	*colon, *v;
	size_t		 vl;

	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		proto_head_clear(h);
		*status = httphdr_status_line(buf, len);
		return HTTPHDR_LINE_STATUS;
	}
	if (len == 0)
		return HTTPHDR_LINE_END;
	if (buf[0] == ' ' || buf[0] == '\t' || *status == 0 ||
	    h->nhdrs >= PROTO_MAX_HEADERS ||
	    (colon = memchr(buf, ':', len)) == NULL)
		return HTTPHDR_LINE_DROPPED;
	v = colon + 1;
	vl = len - (size_t)(v - buf);
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (memchr(v, '\0', vl) != NULL || !httphdr_valid_value(v, vl))
		return HTTPHDR_LINE_DROPPED;
	proto_head_addn(h, buf, (size_t)(colon - buf), v, vl);
	if (!httphdr_valid_name(h->hdrs[h->nhdrs - 1].name)) {
		h->nhdrs--;		/* its strings go with the arena */
		return HTTPHDR_LINE_DROPPED;
	}
	return HTTPHDR_LINE_FIELD;
}
