/*
 * JSON Web Tokens (RFC 7519) as API credentials: HS256 with a shared
 * secret, RS256 with RSA public keys from a JWKS (RFC 7517).  Pure
 * functions, no I/O, no locks: tunneld, the unit tests and the fuzz target
 * call them alike.
 */
#ifndef JWT_H
#define JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN	8192	/* whole compact token, bytes */
#define JWT_MAX_HEADER	1024	/* base64url characters of the header */
#define JWT_MAX_PAYLOAD	4096	/* base64url characters of the claims */
#define JWT_MAX_SIG	1366	/* base64url of a 8192-bit RSA signature */
#define JWT_MAX_KEYS	16	/* RSA keys in a JWKS */
#define JWT_MAX_KID	128
#define JWT_MAX_JWKS	(256 * 1024)	/* JWKS file, bytes */
#define JWT_MIN_SECRET	32	/* HS256 secret, bytes */
#define JWT_MAX_SECRET	1024
#define JWT_MIN_RSA_BITS 2048
#define JWT_MAX_RSA_BITS 8192
#define JWT_MAX_SUB	59	/* "jwt:" + sub fits a 64-byte key name */
#define JWT_LEEWAY	60	/* seconds of clock skew allowed */

struct jwt_rsakey {
	char		 kid[JWT_MAX_KID + 1];	/* "" when the JWK has none */
	unsigned char	*n;
	size_t		 nlen;
	unsigned char	*e;
	size_t		 elen;
};

/* What a token is checked against; all zero: no JWT is accepted. */
struct jwt_verifier {
	unsigned char		*secret;	/* HS256, or NULL */
	size_t			 secretlen;
	struct jwt_rsakey	*keys;		/* RS256, or none */
	size_t			 nkeys;
	char			*issuer;	/* iss must be this, or NULL */
	char			*audience;	/* aud must hold this, or NULL */
	int			 leeway;	/* seconds, for exp and nbf */
};

struct jwt_claims {
	char		 sub[JWT_MAX_SUB + 1];
	char		 alg[8];		/* "HS256" or "RS256" */
	int64_t		 exp;
};

bool	 jwt_looks_like(const char *);
int	 jwt_verify(const struct jwt_verifier *, const char *, size_t,
	    int64_t, struct jwt_claims *, const char **);
int	 jwt_set_secret(struct jwt_verifier *, const void *, size_t,
	    const char **);
int	 jwt_jwks_parse(struct jwt_verifier *, const char *, size_t,
	    const char **);
void	 jwt_verifier_free(struct jwt_verifier *);
int	 jwt_b64url_decode(const char *, size_t, unsigned char *, size_t,
	    size_t *);
size_t	 jwt_b64url_encode(const unsigned char *, size_t, char *, size_t);

#endif
