/*
 * Dashboard logins: a bounded table of sessions, the Cookie and form
 * parsers for their requests, and a bounded count of failed logins per
 * source address.
 *
 * A session is a random cookie value (util_random_token, from gnutls_rnd)
 * of which only the SHA-256 is kept, a CSRF token for the page, the hash
 * of the admin key that logged in (a reload that drops the key ends the
 * session: dashboard.c checks), and an absolute expiry.  Lookups compare
 * against every slot in constant time.  No MHD, no registry: the unit
 * tests call these with the time they want.
 */
#include "config.h"

#include <string.h>

#include "tunerr.h"
#include "tunneld.h"

struct websess_fail {
	char		 addr[64];
	int64_t		 since;		/* start of its window */
	int		 n;		/* failures in it */
};

static pthread_mutex_t		 websess_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct websess		 websess_tab[WEBSESS_MAX];
static struct websess_fail	 websess_fails[WEBSESS_FAIL_SLOTS];

static struct websess	*websess_find_locked(const char *, int64_t);

/*
 * A new session for the admin key of hash key_hash: the cookie value in
 * cookie, its CSRF token in csrf.  A full table loses its oldest session.
 */
void
websess_new(const char *key_hash, int64_t now, char *cookie, size_t clen,
    char *csrf, size_t csrflen)
{
	struct websess	*s = &websess_tab[0];
	size_t		 i;

	pthread_mutex_lock(&websess_mtx);
	for (i = 0; i < WEBSESS_MAX; i++) {
		if (!websess_tab[i].used || websess_tab[i].expires <= now) {
			s = &websess_tab[i];
			break;
		}
		if (websess_tab[i].expires < s->expires)
			s = &websess_tab[i];
	}
	memset(s, 0, sizeof(*s));
	util_random_token(cookie, clen);
	util_sha256_hex(cookie, strlen(cookie), s->hash);
	util_random_token(s->csrf, sizeof(s->csrf));
	util_strlcpy(csrf, s->csrf, csrflen);
	util_strlcpy(s->key_hash, key_hash, sizeof(s->key_hash));
	s->expires = now + WEBSESS_TTL;
	s->used = true;
	pthread_mutex_unlock(&websess_mtx);
}

/* Every slot compared, none skipped: no timing tells which matched. */
static struct websess *
websess_find_locked(const char *cookie, int64_t now)
{
	struct websess	*found = NULL;
	char		 h[UTIL_SHA256_HEX];
	size_t		 i;
	bool		 eq;

	if (cookie == NULL || strlen(cookie) != WEBSESS_COOKIE_LEN)
		return NULL;
	util_sha256_hex(cookie, strlen(cookie), h);
	for (i = 0; i < WEBSESS_MAX; i++) {
		eq = util_ct_eq(h, websess_tab[i].hash, sizeof(h));
		if (eq && websess_tab[i].used && found == NULL)
			found = &websess_tab[i];
	}
	if (found != NULL && found->expires <= now) {
		memset(found, 0, sizeof(*found));
		found = NULL;
	}
	return found;
}

/* The live session of a cookie value, copied to *out. */
bool
websess_lookup(const char *cookie, int64_t now, struct websess *out)
{
	struct websess	*s;

	pthread_mutex_lock(&websess_mtx);
	if ((s = websess_find_locked(cookie, now)) != NULL)
		*out = *s;
	pthread_mutex_unlock(&websess_mtx);
	return s != NULL;
}

/* Logout: the session of this cookie value is gone. */
void
websess_end(const char *cookie)
{
	struct websess	*s;

	pthread_mutex_lock(&websess_mtx);
	if ((s = websess_find_locked(cookie, 0)) != NULL)
		explicit_bzero(s, sizeof(*s));
	pthread_mutex_unlock(&websess_mtx);
}

/* Every session (and failure count) gone: at exit, and for the tests. */
void
websess_clear(void)
{
	pthread_mutex_lock(&websess_mtx);
	explicit_bzero(websess_tab, sizeof(websess_tab));
	memset(websess_fails, 0, sizeof(websess_fails));
	pthread_mutex_unlock(&websess_mtx);
}

size_t
websess_count(int64_t now)
{
	size_t	i, n = 0;

	pthread_mutex_lock(&websess_mtx);
	for (i = 0; i < WEBSESS_MAX; i++)
		if (websess_tab[i].used && websess_tab[i].expires > now)
			n++;
	pthread_mutex_unlock(&websess_mtx);
	return n;
}

bool
websess_csrf_ok(const struct websess *s, const char *token)
{
	return token != NULL && util_ct_streq(token, s->csrf);
}

/*
 * The value of cookie `name` in a Cookie header ("a=1; b=2"), unquoted,
 * into out.  False when it is not there, is empty, does not fit, or holds
 * a byte a cookie value may not (RFC 6265 cookie-octet).
 */
bool
websess_cookie(const char *hdr, const char *name, char *out, size_t outlen)
{
	const char	*p = hdr, *v, *end;
	size_t		 nlen = strlen(name), vlen, i;

	if (hdr == NULL || outlen == 0)
		return false;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			vlen = (size_t)(end - v);
			while (vlen > 0 && (v[vlen - 1] == ' ' ||
			    v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen == 0 || vlen >= outlen)
				return false;
			for (i = 0; i < vlen; i++) {
				unsigned char ch = (unsigned char)v[i];

				if (ch < 0x21 || ch > 0x7e || ch == '"' ||
				    ch == ',' || ch == ';' || ch == '\\')
					return false;
			}
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}


/*
 * Field `name` of an application/x-www-form-urlencoded body of len bytes
 * (not NUL-terminated), decoded into out.  False when it is missing, does
 * not fit, has a broken %XX, or decodes to a NUL or a control character.
 */
bool
websess_form(const char *body, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char	*p = body, *end = body + len, *amp, *eq;
	size_t		 nlen = strlen(name), o;
	int		 hi, lo, ch;

	if (outlen == 0)
		return false;
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			for (o = 0, p = eq + 1; p < amp; p++) {
				ch = (unsigned char)*p;
				if (ch == '+')
					ch = ' ';
				else if (ch == '%') {
					if (amp - p < 3 ||
					    (hi = util_hexval(p[1])) < 0 ||
					    (lo = util_hexval(p[2])) < 0)
						return false;
					ch = hi * 16 + lo;
					p += 2;
				}
				if (ch < 0x20 || ch == 0x7f || o + 1 >= outlen)
					return false;
				out[o++] = (char)ch;
			}
			out[o] = '\0';
			return true;
		}
		p = amp + 1;
	}
	return false;
}

/*
 * Seconds the address must wait before its next login try: 0 while it has
 * had fewer than WEBSESS_FAIL_MAX failures in its WEBSESS_FAIL_WINDOW.
 */
int
websess_throttled(const char *addr, int64_t now)
{
	size_t	i;
	int	wait = 0;

	pthread_mutex_lock(&websess_mtx);
	for (i = 0; i < WEBSESS_FAIL_SLOTS; i++) {
		struct websess_fail *f = &websess_fails[i];

		if (f->n == 0 || strcmp(f->addr, addr) != 0)
			continue;
		if (now - f->since >= WEBSESS_FAIL_WINDOW)
			f->n = 0;
		else if (f->n >= WEBSESS_FAIL_MAX)
			wait = (int)(WEBSESS_FAIL_WINDOW - (now - f->since));
		break;
	}
	pthread_mutex_unlock(&websess_mtx);
	return wait;
}

/*
 * A failed login from addr; returns its count in the window.  A full table
 * gives up the slot whose window is oldest.
 */
int
websess_failed(const char *addr, int64_t now)
{
	struct websess_fail	*f = NULL, *g, *freeslot = NULL, *oldest = NULL;
	size_t			 i;
	int			 n;

	pthread_mutex_lock(&websess_mtx);
	for (i = 0; i < WEBSESS_FAIL_SLOTS; i++) {
		g = &websess_fails[i];
		if (g->n > 0 && now - g->since >= WEBSESS_FAIL_WINDOW)
			g->n = 0;		/* its window is over */
		if (g->n > 0 && strcmp(g->addr, addr) == 0) {
			f = g;
			break;
		}
		if (g->n == 0 && freeslot == NULL)
			freeslot = g;
		if (g->n > 0 && (oldest == NULL || g->since < oldest->since))
			oldest = g;
	}
	if (f == NULL) {
		f = freeslot != NULL ? freeslot : oldest;
		memset(f, 0, sizeof(*f));
		util_strlcpy(f->addr, addr, sizeof(f->addr));
		f->since = now;
	}
	n = ++f->n;
	pthread_mutex_unlock(&websess_mtx);
	return n;
}
