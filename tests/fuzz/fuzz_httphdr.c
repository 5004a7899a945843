/*
 * Every httphdr function on fields cut from the input at NUL bytes:
 *	value \0 prefix \0 local_host \0 public_host \0 domain \0 ...
 * and each field also as a header name, value, path and host.  Checks the
 * invariants rather than exact answers.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "httphdr.h"
#include "proto.h"
#include "util.h"

#define FUZZ_FIELDS	6

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool	 fuzz_tchar(int);
static void	 fuzz_name(const char *);
static void	 fuzz_resp(const uint8_t *, size_t);
static void	 fuzz_value(const char *, size_t);
static void	 fuzz_rewrite(const char *, const char *, const char *,
		    const char *);
static void	 fuzz_split(const char *, size_t);
static void	 fuzz_host(const char *, const char *, size_t);
static void	 fuzz_reqid(const char *, size_t);
static void	 fuzz_xff(const char *);

static bool
fuzz_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
fuzz_name(const char *s)
{
	size_t	i, n = strlen(s);
	bool	want = n >= 1 && n <= 256;

	for (i = 0; i < n && want; i++)
		want = fuzz_tchar((unsigned char)s[i]);
	if (httphdr_valid_name(s) != want)
		abort();
	if (httphdr_is_forwarding(s) &&
	    strncasecmp(s, "X-Forwarded-", 12) != 0 &&
	    strcasecmp(s, "Forwarded") != 0 &&
	    strcasecmp(s, "X-Real-IP") != 0)
		abort();
}

static void
fuzz_value(const char *v, size_t len)
{
	bool	want = len <= 65536 && memchr(v, '\r', len) == NULL &&
		    memchr(v, '\n', len) == NULL &&
		    memchr(v, '\0', len) == NULL;

	if (httphdr_valid_value(v, len) != want)
		abort();
}

static void
fuzz_rewrite(const char *value, const char *prefix, const char *local,
    const char *public)
{
	char	*out, *again;
	size_t	 plen = strlen(prefix), olen;

	if ((out = httphdr_rewrite_location(value, prefix, local,
	    public)) == NULL)
		return;
	olen = strlen(out);
	/* Under the prefix, a path, no header injection, bounded. */
	if (strncmp(out, prefix, plen) != 0 || prefix[0] != '/' ||
	    prefix[plen - 1] == '/' || strpbrk(out, "\r\n") != NULL ||
	    olen > strlen(value) + plen + 1)
		abort();
	if (out[plen] != '\0' && out[plen] != '/' && out[plen] != '?' &&
	    out[plen] != '#')
		abort();
	/* Idempotent: once under the prefix, left alone. */
	if ((again = httphdr_rewrite_location(out, prefix, local,
	    public)) != NULL)
		abort();
	free(out);
}

static void
fuzz_split(const char *path, size_t idlen)
{
	char		 id[80];
	const char	*rest = NULL;
	size_t		 n;

	if (idlen > sizeof(id))
		idlen = sizeof(id);
	if (!httphdr_split_path(path, id, idlen, &rest)) {
		if (idlen > 0 && id[0] != '\0')
			abort();
		return;
	}
	n = strlen(id);
	if (!util_valid_name(id) || n >= idlen || path[0] != '/' ||
	    strncmp(path + 1, id, n) != 0 || rest != path + 1 + n ||
	    (*rest != '\0' && *rest != '/' && *rest != '?'))
		abort();
}

static void
fuzz_host(const char *host, const char *domain, size_t idlen)
{
	char	id[80];
	size_t	n;

	if (idlen > sizeof(id))
		idlen = sizeof(id);
	if (!httphdr_host_id(host, domain, id, idlen)) {
		if (idlen > 0 && id[0] != '\0')
			abort();
		return;
	}
	n = strlen(id);
	if (!util_valid_name(id) || n >= idlen ||
	    strncasecmp(host, id, n) != 0 || host[n] != '.')
		abort();
}

/* The request id check against its definition; the log escape's bounds. */
static void
fuzz_reqid(const char *s, size_t outlen)
{
	char	out[512];
	size_t	i, n = strlen(s);
	bool	want = n >= 1 && n <= HTTPHDR_MAX_REQUEST_ID;

	for (i = 0; i < n && want; i++)
		want = (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == ':' || s[i] == '-';
	if (httphdr_request_id_ok(s) != want)
		abort();
	outlen = 4 + outlen % (sizeof(out) - 4);
	httphdr_log_escape(s, out, outlen);
	n = strlen(out);
	if (n >= outlen)
		abort();
	for (i = 0; i < n; i++)
		if (out[i] <= 0x20 || out[i] >= 0x7f)
			abort();
}

/* X-Forwarded-For: the client found is an address, and not trusted. */
static void
fuzz_xff(const char *v)
{
	struct cidr		 tr[2];
	struct sockaddr_storage	 ss;
	int			 r, i;

	if (util_cidr_parse("10.0.0.0/8", &tr[0]) != 0 ||
	    util_cidr_parse("2001:db8::/32", &tr[1]) != 0)
		abort();
	memset(&ss, 0, sizeof(ss));
	r = httphdr_xff_client(v, tr, 2, &ss);
	if (r < -1 || r > 1)
		abort();
	if (r == 1 || (r == 0 && v != NULL && *v != '\0')) {
		if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
			abort();
		for (i = 0; i < 2 && r == 1; i++)
			if (util_cidr_match(&tr[i], (struct sockaddr *)&ss))
				abort();
	}
	if (ss.ss_family != 0 && ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*f[FUZZ_FIELDS];
	char		*buf;
	size_t		 i, k, idlen;

	/* Raw bytes as a value: a NUL inside makes it invalid. */
	fuzz_value((const char *)data, size);
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0, k = 0; k < FUZZ_FIELDS; k++) {
		f[k] = buf + i;
		i += strlen(buf + i);
		if (i < size)
			i++;
	}
	idlen = size > 0 ? data[size - 1] % 72 : 64;

	for (k = 0; k < FUZZ_FIELDS; k++) {
		fuzz_name(f[k]);
		fuzz_value(f[k], strlen(f[k]));
		(void)httphdr_hop_by_hop(f[k], NULL);
		if (httphdr_hop_by_hop(f[k], f[(k + 1) % FUZZ_FIELDS]) &&
		    !httphdr_hop_by_hop(f[k], NULL) &&
		    strcasestr(f[(k + 1) % FUZZ_FIELDS], f[k]) == NULL)
			abort();
		fuzz_split(f[k], idlen);
		fuzz_split(f[k], 64);
		fuzz_host(f[k], f[4], idlen);
		fuzz_host(f[k], "example.com", 64);
		fuzz_reqid(f[k], idlen * 7 + k);
		fuzz_xff(f[k]);
	}
	fuzz_rewrite(f[0], f[1], f[2], f[3]);
	fuzz_rewrite(f[0], "/abc", f[2], f[3]);
	fuzz_rewrite(f[0], "/abc", "localhost:3000", "tun.example.com:8080");
	fuzz_rewrite(f[1], "/abc", f[0], f[0]);
	(void)httphdr_rewrite_location(NULL, f[1], NULL, NULL);
	free(buf);
	fuzz_resp(data, size);
	return 0;
}

/*
 * The input as a response head, one header-callback line at a time: what
 * is kept has a valid name and value, and never more than the limit.
 */
static void
fuzz_resp(const uint8_t *data, size_t size)
{
	struct proto_head	 h;
	const uint8_t		*nl;
	size_t			 i, n;
	int			 status = 0;

	memset(&h, 0, sizeof(h));
	while (size > 0) {
		nl = memchr(data, '\n', size);
		n = nl != NULL ? (size_t)(nl - data) + 1 : size;
		(void)httphdr_resp_line(&h, &status, (const char *)data, n);
		if (h.nhdrs > PROTO_MAX_HEADERS)
			abort();
		for (i = 0; i < h.nhdrs; i++)
			if (!httphdr_valid_name(h.hdrs[i].name) ||
			    !httphdr_valid_value(h.hdrs[i].value,
			    strlen(h.hdrs[i].value)))
				abort();
		data += n;
		size -= n;
	}
	proto_head_clear(&h);
}
