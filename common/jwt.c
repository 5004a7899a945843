/*
 * JSON Web Tokens: a bounded parser and verifier for compact tokens signed
 * with HS256 or RS256, nothing else.  The header's alg picks the key kind,
 * and each kind has its own keys: an HS256 token is never checked against
 * an RSA key (no alg confusion), "none" and every other alg are refused.
 * The signature is checked before the claims are parsed; exp is required.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "jwt.h"
#include "tunerr.h"
#include "util.h"
#include "xmalloc.h"

#define JWT_JSON_DEPTH	8
#define JWT_HS256_LEN	32
#define JWT_MAX_E	16	/* bytes of an RSA public exponent */

static int	 jwt_b64val(unsigned char);
static struct json_object *jwt_json(const unsigned char *, size_t);
static int	 jwt_str(struct json_object *, const char *, const char **,
		    size_t);
static int	 jwt_num(struct json_object *, const char *, int64_t *);
static int	 jwt_decode_json(const char *, size_t, size_t,
		    struct json_object **);
static const struct jwt_rsakey *jwt_pick_key(const struct jwt_verifier *,
		    struct json_object *, const char **);
static int	 jwt_check_sig(const struct jwt_verifier *, bool,
		    const struct jwt_rsakey *, const char *, size_t,
		    const char *, size_t, const char **);
static int	 jwt_rsa_verify(const struct jwt_rsakey *,
		    const unsigned char *, size_t, const unsigned char *,
		    size_t);
static int	 jwt_check_claims(const struct jwt_verifier *,
		    struct json_object *, int64_t, struct jwt_claims *,
		    const char **);
static bool	 jwt_aud_ok(struct json_object *, const char *);
static int	 jwt_rsa_bits(const unsigned char *, size_t,
		    const unsigned char *, size_t, unsigned int *);
static int	 jwt_jwk(struct json_object *, struct jwt_rsakey *,
		    const char **);
static void	 jwt_rsakey_clear(struct jwt_rsakey *);

static const char jwt_b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
jwt_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * base64url without padding (RFC 7515 section 2), canonical only: no '=',
 * no other characters, unused low bits zero.  TUN_ETOOBIG when out cannot
 * hold the result.
 */
int
jwt_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t outmax, size_t *outlen)
{
	uint32_t	acc = 0;
	size_t		i, o = 0, need;
	int		v, bits = 0;

	*outlen = 0;
	if (len % 4 == 1)
		return TUN_EINVAL;
	need = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	if (need > outmax)
		return TUN_ETOOBIG;
	for (i = 0; i < len; i++) {
		if ((v = jwt_b64val((unsigned char)in[i])) < 0)
			return TUN_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)		/* leftover bits must be zero */
		return TUN_EINVAL;
	*outlen = o;
	return 0;
}

/* Encode with a NUL; returns the length, or 0 when out is too small. */
size_t
jwt_b64url_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	size_t		i, o = 0, need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
	uint32_t	acc = 0;
	int		bits = 0;

	if (need + 1 > outlen)
		return 0;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = jwt_b64chars[(acc >> bits) & 63];
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		out[o++] = jwt_b64chars[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

/* Three base64url parts joined by two dots, the first two not empty. */
bool
jwt_looks_like(const char *s)
{
	size_t	i, dots = 0, part = 0;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= JWT_MAX_TOKEN)
			return false;
		if (s[i] == '.') {
			if (part == 0 || ++dots > 2)
				return false;
			part = 0;
		} else if (jwt_b64val((unsigned char)s[i]) < 0)
			return false;
		else
			part++;
	}
	return dots == 2;
}

/* Strict JSON, one object filling the bytes exactly. */
static struct json_object *
jwt_json(const unsigned char *p, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o;

	if (len == 0 || memchr(p, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new_ex(JWT_JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)p, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * A string member of at most max bytes without NUL: 0, TUN_ENOENT when
 * absent, TUN_EINVAL when it is something else.
 */
static int
jwt_str(struct json_object *obj, const char *key, const char **out,
    size_t max)
{
	struct json_object	*v;
	const char		*s;
	int			 n;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return TUN_ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return TUN_EINVAL;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (n < 0 || (size_t)n > max || strlen(s) != (size_t)n)
		return TUN_EINVAL;
	*out = s;
	return 0;
}

/* A NumericDate: an integer, or a finite number of seconds. */
static int
jwt_num(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object	*v;
	double			 d;

	if (!json_object_object_get_ex(obj, key, &v))
		return TUN_ENOENT;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d) || d < -1e15 || d > 1e15)
			return TUN_EINVAL;
		*out = (int64_t)d;
		return 0;
	}
	return TUN_EINVAL;
}

static int
jwt_decode_json(const char *seg, size_t len, size_t max,
    struct json_object **out)
{
	unsigned char	buf[JWT_MAX_PAYLOAD];
	size_t		n;
	int		r;

	*out = NULL;
	if (len == 0 || len > max)
		return TUN_ETOOBIG;
	if ((r = jwt_b64url_decode(seg, len, buf, sizeof(buf), &n)) != 0)
		return r;
	if ((*out = jwt_json(buf, n)) == NULL)
		return TUN_EINVAL;
	return 0;
}

/* The RSA key for an RS256 header: by kid, or the only one. */
static const struct jwt_rsakey *
jwt_pick_key(const struct jwt_verifier *v, struct json_object *hdr,
    const char **why)
{
	const char	*kid;
	size_t		 i;
	int		 r;

	r = jwt_str(hdr, "kid", &kid, JWT_MAX_KID);
	if (r == TUN_EINVAL) {
		*why = "kid is not a string of at most 128 bytes";
		return NULL;
	}
	if (r == TUN_ENOENT) {
		if (v->nkeys == 1)
			return &v->keys[0];
		*why = "no kid, and the JWKS has more than one key";
		return NULL;
	}
	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].kid, kid) == 0)
			return &v->keys[i];
	*why = "unknown kid";
	return NULL;
}

static int
jwt_rsa_verify(const struct jwt_rsakey *k, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	gnutls_pubkey_t	pk;
	gnutls_datum_t	n, e, d, s;
	int		r = TUN_EPERM;

	n.data = k->n;
	n.size = (unsigned int)k->nlen;
	e.data = k->e;
	e.size = (unsigned int)k->elen;
	d.data = (unsigned char *)(uintptr_t)data;
	d.size = (unsigned int)len;
	s.data = (unsigned char *)(uintptr_t)sig;
	s.size = (unsigned int)siglen;
	if (gnutls_pubkey_init(&pk) < 0)
		return TUN_ENOMEM;
	if (gnutls_pubkey_import_rsa_raw(pk, &n, &e) >= 0 &&
	    gnutls_pubkey_verify_data2(pk, GNUTLS_SIGN_RSA_SHA256, 0, &d,
	    &s) >= 0)
		r = 0;
	gnutls_pubkey_deinit(pk);
	return r;
}

/* The signature over "header.payload" (signed, slen bytes). */
static int
jwt_check_sig(const struct jwt_verifier *v, bool hs, const struct jwt_rsakey *k,
    const char *signed_part, size_t slen, const char *sigseg, size_t siglen,
    const char **why)
{
	unsigned char	sig[JWT_MAX_SIG], mac[JWT_HS256_LEN];
	size_t		n;
	int		r;

	if (siglen == 0 || siglen > JWT_MAX_SIG) {
		*why = "the signature is missing or too long";
		return TUN_EPERM;
	}
	if (jwt_b64url_decode(sigseg, siglen, sig, sizeof(sig), &n) != 0) {
		*why = "the signature is not base64url";
		return TUN_EINVAL;
	}
	if (hs) {
		r = TUN_EPERM;
		if (n == sizeof(mac) && gnutls_hmac_fast(GNUTLS_MAC_SHA256,
		    v->secret, v->secretlen, signed_part, slen, mac) == 0 &&
		    util_ct_eq(mac, sig, sizeof(mac)))
			r = 0;
		explicit_bzero(mac, sizeof(mac));
	} else
		r = jwt_rsa_verify(k, (const unsigned char *)signed_part, slen,
		    sig, n);
	if (r != 0)
		*why = "bad signature";
	return r;
}

static bool
jwt_aud_ok(struct json_object *payload, const char *want)
{
	struct json_object	*v, *e;
	size_t			 i, n;

	if (!json_object_object_get_ex(payload, "aud", &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), want) == 0 &&
		    strlen(want) == (size_t)json_object_get_string_len(v);
	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (i = 0; i < n && i < 64; i++) {
		e = json_object_array_get_idx(v, i);
		if (json_object_is_type(e, json_type_string) &&
		    strlen(want) == (size_t)json_object_get_string_len(e) &&
		    strcmp(json_object_get_string(e), want) == 0)
			return true;
	}
	return false;
}

static int
jwt_check_claims(const struct jwt_verifier *v, struct json_object *p,
    int64_t now, struct jwt_claims *cl, const char **why)
{
	const char	*s;
	int64_t		 exp, nbf;
	size_t		 i;
	int		 r;

	if (jwt_num(p, "exp", &exp) != 0) {
		*why = "exp is missing or not a number";
		return TUN_EPERM;
	}
	if (now - v->leeway > exp) {
		*why = "the token has expired";
		return TUN_EPERM;
	}
	if ((r = jwt_num(p, "nbf", &nbf)) == TUN_EINVAL ||
	    (r == 0 && nbf > now + v->leeway)) {
		*why = "the token is not valid yet (nbf)";
		return TUN_EPERM;
	}
	if (v->issuer != NULL && (jwt_str(p, "iss", &s, 1024) != 0 ||
	    strcmp(s, v->issuer) != 0)) {
		*why = "wrong issuer";
		return TUN_EPERM;
	}
	if (v->audience != NULL && !jwt_aud_ok(p, v->audience)) {
		*why = "wrong audience";
		return TUN_EPERM;
	}
	if (jwt_str(p, "sub", &s, JWT_MAX_SUB) != 0 || *s == '\0') {
		*why = "sub is missing or longer than 59 bytes";
		return TUN_EPERM;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			*why = "sub must be printable ASCII without spaces";
			return TUN_EPERM;
		}
	}
	util_strlcpy(cl->sub, s, sizeof(cl->sub));
	cl->exp = exp;
	return 0;
}

/*
 * Verify a compact JWT of len bytes at time now (seconds since the epoch).
 * 0 with *cl filled in, or TUN_EINVAL (malformed), TUN_ETOOBIG (over a
 * limit) or TUN_EPERM (alg, key, signature or claims refused), with *why
 * saying which check failed.  The token itself is never put in *why.
 */
int
jwt_verify(const struct jwt_verifier *v, const char *tok, size_t len,
    int64_t now, struct jwt_claims *cl, const char **why)
{
	struct json_object	*hdr = NULL, *pay = NULL;
	const struct jwt_rsakey	*k = NULL;
	const char		*d1, *d2, *alg;
	size_t			 hlen, plen;
	bool			 hs = false;
	int			 r;

	memset(cl, 0, sizeof(*cl));
	*why = "";
	if (len == 0 || len > JWT_MAX_TOKEN) {
		*why = "the token is empty or too long";
		return TUN_ETOOBIG;
	}
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL) {
		*why = "not three dot-separated parts";
		return TUN_EINVAL;
	}
	hlen = (size_t)(d1 - tok);
	plen = (size_t)(d2 - d1 - 1);
	if ((r = jwt_decode_json(tok, hlen, JWT_MAX_HEADER, &hdr)) != 0) {
		*why = r == TUN_ETOOBIG ? "the header is empty or too long" :
		    "the header is not base64url JSON";
		goto out;
	}
	r = TUN_EPERM;
	if (jwt_str(hdr, "alg", &alg, 16) != 0) {
		*why = "alg is missing";
		goto out;
	}
	if (json_object_object_get_ex(hdr, "crit", NULL)) {
		*why = "crit header parameters are not supported";
		goto out;
	}
	if (strcmp(alg, "HS256") == 0 && v->secret != NULL)
		hs = true;
	else if (strcmp(alg, "RS256") == 0 && v->nkeys > 0) {
		if ((k = jwt_pick_key(v, hdr, why)) == NULL)
			goto out;
	} else {
		*why = "alg is not one this server accepts";
		goto out;
	}
	if ((r = jwt_check_sig(v, hs, k, tok, (size_t)(d2 - tok), d2 + 1,
	    len - (size_t)(d2 + 1 - tok), why)) != 0)
		goto out;
	if ((r = jwt_decode_json(d1 + 1, plen, JWT_MAX_PAYLOAD, &pay)) != 0) {
		*why = r == TUN_ETOOBIG ? "the claims are empty or too long" :
		    "the claims are not base64url JSON";
		goto out;
	}
	if ((r = jwt_check_claims(v, pay, now, cl, why)) != 0)
		goto out;
	util_strlcpy(cl->alg, alg, sizeof(cl->alg));
out:
	json_object_put(hdr);
	json_object_put(pay);
	if (r != 0)
		memset(cl, 0, sizeof(*cl));
	return r;
}

int
jwt_set_secret(struct jwt_verifier *v, const void *secret, size_t len,
    const char **why)
{
	if (len < JWT_MIN_SECRET || len > JWT_MAX_SECRET) {
		*why = "the HS256 secret must have 32 to 1024 bytes";
		return TUN_EINVAL;
	}
	if (v->secret != NULL)
		freezero(v->secret, v->secretlen);
	v->secret = xmalloc(len);
	memcpy(v->secret, secret, len);
	v->secretlen = len;
	return 0;
}

static int
jwt_rsa_bits(const unsigned char *n, size_t nlen, const unsigned char *e,
    size_t elen, unsigned int *bits)
{
	gnutls_pubkey_t	pk;
	gnutls_datum_t	dn, de;
	int		r = TUN_EINVAL;

	dn.data = (unsigned char *)(uintptr_t)n;
	dn.size = (unsigned int)nlen;
	de.data = (unsigned char *)(uintptr_t)e;
	de.size = (unsigned int)elen;
	*bits = 0;
	if (gnutls_pubkey_init(&pk) < 0)
		return TUN_ENOMEM;
	if (gnutls_pubkey_import_rsa_raw(pk, &dn, &de) >= 0 &&
	    gnutls_pubkey_get_pk_algorithm(pk, bits) == GNUTLS_PK_RSA)
		r = 0;
	gnutls_pubkey_deinit(pk);
	return r;
}

static void
jwt_rsakey_clear(struct jwt_rsakey *k)
{
	free(k->n);
	free(k->e);
	memset(k, 0, sizeof(*k));
}

/* One JWK: 1 when it is an RSA signing key (filled in), 0 to skip it. */
static int
jwt_jwk(struct json_object *jwk, struct jwt_rsakey *k, const char **why)
{
	unsigned char	 nbuf[JWT_MAX_RSA_BITS / 8 + 1], ebuf[JWT_MAX_E];
	const char	*kty, *s, *ns, *es;
	size_t		 nlen, elen;
	unsigned int	 bits;

	memset(k, 0, sizeof(*k));
	if (!json_object_is_type(jwk, json_type_object)) {
		*why = "a key of the JWKS is not an object";
		return TUN_EINVAL;
	}
	if (jwt_str(jwk, "kty", &kty, 16) != 0) {
		*why = "a key of the JWKS has no kty";
		return TUN_EINVAL;
	}
	if (strcmp(kty, "RSA") != 0 ||
	    (jwt_str(jwk, "use", &s, 16) == 0 && strcmp(s, "sig") != 0) ||
	    (jwt_str(jwk, "alg", &s, 16) == 0 && strcmp(s, "RS256") != 0))
		return 0;
	if (jwt_str(jwk, "kid", &s, JWT_MAX_KID) == TUN_EINVAL) {
		*why = "a kid of the JWKS is not a string of at most 128 bytes";
		return TUN_EINVAL;
	}
	if (jwt_str(jwk, "n", &ns, JWT_MAX_SIG) != 0 ||
	    jwt_str(jwk, "e", &es, 24) != 0 ||
	    jwt_b64url_decode(ns, strlen(ns), nbuf, sizeof(nbuf), &nlen) != 0 ||
	    jwt_b64url_decode(es, strlen(es), ebuf, sizeof(ebuf), &elen) != 0 ||
	    nlen == 0 || elen == 0) {
		*why = "an RSA key of the JWKS lacks a base64url n or e";
		return TUN_EINVAL;
	}
	if (jwt_rsa_bits(nbuf, nlen, ebuf, elen, &bits) != 0 ||
	    bits < JWT_MIN_RSA_BITS || bits > JWT_MAX_RSA_BITS) {
		*why = "an RSA key of the JWKS is not a 2048 to 8192 bit key";
		return TUN_EINVAL;
	}
	if (s != NULL)
		util_strlcpy(k->kid, s, sizeof(k->kid));
	k->n = xmalloc(nlen);
	memcpy(k->n, nbuf, nlen);
	k->nlen = nlen;
	k->e = xmalloc(elen);
	memcpy(k->e, ebuf, elen);
	k->elen = elen;
	return 1;
}

/*
 * A JWKS: {"keys":[{"kty":"RSA","kid":...,"n":...,"e":...}, ...]}.  Keys of
 * another kty, or marked for another use or alg, are skipped; at least one
 * RSA key must remain, kids must differ.  Replaces v's RSA keys only on
 * success.
 */
int
jwt_jwks_parse(struct jwt_verifier *v, const char *json, size_t len,
    const char **why)
{
	struct json_object	*root, *arr;
	struct jwt_rsakey	*keys = NULL, k;
	size_t			 i, j, n, nkeys = 0;
	int			 r = TUN_EINVAL, one;

	*why = "";
	if (len > JWT_MAX_JWKS) {
		*why = "the JWKS is larger than 256 KiB";
		return TUN_ETOOBIG;
	}
	if ((root = jwt_json((const unsigned char *)json, len)) == NULL) {
		*why = "the JWKS is not a JSON object";
		return TUN_EINVAL;
	}
	if (!json_object_object_get_ex(root, "keys", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		*why = "the JWKS has no \"keys\" array";
		goto out;
	}
	n = json_object_array_length(arr);
	keys = xcalloc(JWT_MAX_KEYS, sizeof(*keys));
	for (i = 0; i < n; i++) {
		if ((one = jwt_jwk(json_object_array_get_idx(arr, i), &k,
		    why)) < 0)
			goto out;
		if (one == 0)
			continue;
		for (j = 0; j < nkeys; j++) {
			if (strcmp(keys[j].kid, k.kid) == 0) {
				*why = "two keys of the JWKS have the same kid";
				jwt_rsakey_clear(&k);
				goto out;
			}
		}
		if (nkeys == JWT_MAX_KEYS) {
			*why = "the JWKS has more than 16 RSA keys";
			jwt_rsakey_clear(&k);
			goto out;
		}
		keys[nkeys++] = k;
	}
	if (nkeys == 0) {
		*why = "the JWKS has no RSA signing key";
		goto out;
	}
	for (i = 0; i < v->nkeys; i++)
		jwt_rsakey_clear(&v->keys[i]);
	free(v->keys);
	v->keys = keys;
	v->nkeys = nkeys;
	keys = NULL;
	r = 0;
out:
	if (keys != NULL) {
		for (i = 0; i < nkeys; i++)
			jwt_rsakey_clear(&keys[i]);
		free(keys);
	}
	json_object_put(root);
	return r;
}

void
jwt_verifier_free(struct jwt_verifier *v)
{
	size_t	i;

	if (v == NULL)
		return;
	if (v->secret != NULL)
		freezero(v->secret, v->secretlen);
	for (i = 0; i < v->nkeys; i++)
		jwt_rsakey_clear(&v->keys[i]);
	free(v->keys);
	free(v->issuer);
	free(v->audience);
	memset(v, 0, sizeof(*v));
}
