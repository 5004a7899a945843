/*
 * API keys: configured keys are kept as SHA-256 only and a presented key
 * is compared against every one of them in constant time.  With jwt_secret
 * or jwt_jwks_file, a JSON Web Token is a credential too: its sub names the
 * key ("jwt:SUB"), and it is never the admin key.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwt.h"
#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

static __thread struct apikey	keys_found;

static const struct apikey *keys_jwt(const char *);
static int	 keys_read_file(const char *, size_t, char **, size_t *);
static const struct apikey *keys_lookup(const char *);

const struct apikey *
keys_check(const char *key)
{
	const struct apikey	*found = NULL;
	char			 h[UTIL_SHA256_HEX];
	size_t			 i;

	if (key == NULL || *key == '\0')
		return NULL;
	util_sha256_hex(key, strlen(key), h);
	pthread_rwlock_rdlock(&cfg_lock);
	for (i = 0; i < cfg.nkeys; i++) {	/* no early exit */
		if (util_ct_eq(h, cfg.keys[i].hash, sizeof(h)) && found == NULL)
			found = &cfg.keys[i];
	}
	if (found != NULL) {	/* a copy: a reload may free the array */
		keys_found = *found;
		found = &keys_found;
	}
	pthread_rwlock_unlock(&cfg_lock);
	explicit_bzero(h, sizeof(h));
	return found;
}

/*
 * Is hash still the SHA-256 of a configured admin key?  A dashboard login
 * ends when a reload takes its key away.  Every key is compared.
 */
bool
keys_admin_hash(const char *hash)
{
	size_t	i;
	bool	found = false;

	pthread_rwlock_rdlock(&cfg_lock);
	for (i = 0; i < cfg.nkeys; i++)
		found |= cfg.keys[i].admin &&
		    util_ct_eq(hash, cfg.keys[i].hash, UTIL_SHA256_HEX);
	pthread_rwlock_unlock(&cfg_lock);
	return found;
}

/* A JWT when they are configured: "jwt:SUB", never admin. */
static const struct apikey *
keys_jwt(const char *tok)
{
	struct jwt_claims	 cl;
	const char		*why = NULL;
	int			 r = TUN_EPERM;

	pthread_rwlock_rdlock(&cfg_lock);
	if (cfg.jwt != NULL)
		r = jwt_verify(cfg.jwt, tok, strlen(tok), util_wall_s(), &cl,
		    &why);
	pthread_rwlock_unlock(&cfg_lock);
	if (r != 0) {
		if (why != NULL)	/* NULL: JWTs are not configured */
			log_info("a JWT was refused: %s", why);
		return NULL;
	}
	memset(&keys_found, 0, sizeof(keys_found));
	(void)snprintf(keys_found.name, sizeof(keys_found.name), "jwt:%s",
	    cl.sub);
	log_debug("JWT (%s) accepted for %s", cl.alg, keys_found.name);
	return &keys_found;
}

static const struct apikey *
keys_lookup(const char *v)
{
	const struct apikey	*k;

	if ((k = keys_check(v)) == NULL && jwt_looks_like(v))
		k = keys_jwt(v);
	return k;
}

/* X-API-Key: KEY, or Authorization: Bearer KEY; either may be a JWT. */
const struct apikey *
keys_from_request(struct MHD_Connection *c)
{
	const char	*v;

	if ((v = http_header(c, "X-API-Key")) != NULL)
		return keys_lookup(v);
	if ((v = http_header(c, "Authorization")) != NULL &&
	    strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		return keys_lookup(v);
	}
	return NULL;
}

/* A whole small file, NUL-terminated; TUN_ETOOBIG past max bytes. */
static int
keys_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	FILE	*f;
	char	*buf = xmalloc(max + 2);
	size_t	 n;
	int	 r = 0;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL) {
		log_error("%s: %s", path, strerror(errno));
		free(buf);
		return TUN_EIO;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		log_error("%s: %s", path, strerror(errno));
		r = TUN_EIO;
	} else if (n > max) {
		log_error("%s: larger than %zu bytes", path, max);
		r = TUN_ETOOBIG;
	}
	fclose(f);
	if (r != 0) {
		freezero(buf, max + 2);
		return r;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/*
 * Build c->jwt from jwt_secret or jwt_secret_file (HS256), jwt_jwks_file
 * (RS256), jwt_issuer and jwt_audience; none of the first three: no JWTs.
 */
int
keys_load_jwt(struct config *c)
{
	struct jwt_verifier	*v;
	const char		*why = "";
	char			*buf = NULL;
	size_t			 n = 0;
	int			 r = 0;

	if (c->jwt_secret == NULL && c->jwt_secret_file == NULL &&
	    c->jwt_jwks_file == NULL) {
		if (c->jwt_issuer != NULL || c->jwt_audience != NULL) {
			log_error("jwt_issuer and jwt_audience need jwt_secret, "
			    "jwt_secret_file or jwt_jwks_file");
			return TUN_EINVAL;
		}
		return 0;
	}
	if (c->jwt_secret != NULL && c->jwt_secret_file != NULL) {
		log_error("jwt_secret and jwt_secret_file: set one of them");
		return TUN_EINVAL;
	}
	v = xcalloc(1, sizeof(*v));
	v->leeway = JWT_LEEWAY;
	if (c->jwt_secret != NULL &&
	    (r = jwt_set_secret(v, c->jwt_secret, strlen(c->jwt_secret),
	    &why)) != 0)
		log_error("jwt_secret: %s", why);
	if (r == 0 && c->jwt_secret_file != NULL &&
	    (r = keys_read_file(c->jwt_secret_file, JWT_MAX_SECRET + 2, &buf,
	    &n)) == 0) {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		if ((r = jwt_set_secret(v, buf, n, &why)) != 0)
			log_error("jwt_secret_file %s: %s", c->jwt_secret_file,
			    why);
		freezero(buf, JWT_MAX_SECRET + 4);
		buf = NULL;
	}
	if (r == 0 && c->jwt_jwks_file != NULL &&
	    (r = keys_read_file(c->jwt_jwks_file, JWT_MAX_JWKS, &buf,
	    &n)) == 0) {
		if ((r = jwt_jwks_parse(v, buf, n, &why)) != 0)
			log_error("jwt_jwks_file %s: %s", c->jwt_jwks_file, why);
		free(buf);
	}
	if (r != 0) {
		jwt_verifier_free(v);
		free(v);
		return TUN_EINVAL;
	}
	if (c->jwt_issuer != NULL)
		v->issuer = xstrdup(c->jwt_issuer);
	if (c->jwt_audience != NULL)
		v->audience = xstrdup(c->jwt_audience);
	jwt_verifier_free(c->jwt);
	free(c->jwt);
	c->jwt = v;
	return 0;
}

/* tunneld --hash-key: a key on stdin, its api_key_file form on stdout. */
int
keys_hash_stdin(void)
{
	char	line[1024], h[UTIL_SHA256_HEX];
	size_t	n;

	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "tunneld: --hash-key: no key on stdin\n");
		return 1;
	}
	n = strcspn(line, "\r\n");
	if (line[n] == '\0' && !feof(stdin)) {
		fprintf(stderr, "tunneld: --hash-key: the key is too long\n");
		explicit_bzero(line, sizeof(line));
		return 1;
	}
	line[n] = '\0';
	if (n < TUNNELD_MIN_KEY || strpbrk(line, " \t") != NULL) {
		fprintf(stderr, "tunneld: --hash-key: keys need at least %d "
		    "characters and no blanks\n", TUNNELD_MIN_KEY);
		explicit_bzero(line, sizeof(line));
		return 1;
	}
	util_sha256_hex(line, n, h);
	explicit_bzero(line, sizeof(line));
	printf("sha256:%s\n", h);
	return fflush(stdout) == 0 ? 0 : 1;
}
