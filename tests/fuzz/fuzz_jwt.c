/*
 * common/jwt.c on arbitrary bytes.  The first byte picks what the rest is:
 *	0 mod 4	a token, verified against an HS256 secret and a JWKS
 *	1 mod 4	a JWKS
 *	2 mod 4	"header JSON \n claims JSON": the target signs them with the
 *		HS256 secret, so the claim checks are reached
 *	3 mod 4	base64url, decoded and encoded again
 * Bit 4 of the first byte adds an issuer and an audience to the verifier.
 * Checks invariants: documented results only; an accepted token names a
 * printable sub and was HS256 or RS256 as configured; a canonical
 * base64url decoding encodes back to the same text.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "jwt.h"
#include "tunerr.h"
#include "xmalloc.h"

#define FUZZ_NOW	1900000000LL
#define FUZZ_SECRET	"fuzz-secret-fuzz-secret-fuzz-secret!"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fuzz_init(void);
static void	 fuzz_result(int, const struct jwt_claims *, bool);
static void	 fuzz_token(const struct jwt_verifier *, const uint8_t *,
		    size_t, bool);
static void	 fuzz_jwks(const uint8_t *, size_t);
static void	 fuzz_signed(const struct jwt_verifier *, const uint8_t *,
		    size_t);
static void	 fuzz_b64(const uint8_t *, size_t);

/* A 2048-bit RSA public key, kid "fz". */
static const char fuzz_jwks_text[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"},"
    "{\"kty\":\"RSA\",\"kid\":\"fz\",\"use\":\"sig\",\"alg\":\"RS256\","
    "\"e\":\"AQAB\",\"n\":\""
    "slJakxGe7ebWf40_azbofZhYBUhfsOdPXb3eDcVsjNibKJ_7ArqTaNCa-6VpeQ1F"
    "7_gg8FCCHuWfKCEHtpBdPneuPf0TDnRRQkICky3E4OWXSWnwx1fwXSY8xajcwnGD"
    "7oAoVS0DQyau_UHLQ0oGKz-zAottDarRk31MWrcZN5WhW9IztJlusRKVj2iIvBe3"
    "sri4Q2IMdHfRW-3j0uK5swN9upBk3XQcOPC304ZC6LyrK3O6WTOlzMz1XwUo5kCf"
    "eVjw2mKPGt07EN9wyw0B2zeAQ5us8DUD7pPhRLyCLzNT_2w8nTtHzmw6WUh8wAK0"
    "2yK90dlTvSt1ijpwgU4iUw\"}]}";

static struct jwt_verifier	fuzz_v, fuzz_strict;
static bool			fuzz_ready;

static void
fuzz_init(void)
{
	struct jwt_verifier	*v[2] = { &fuzz_v, &fuzz_strict };
	const char		*why;
	int			 i;

	for (i = 0; i < 2; i++) {
		v[i]->leeway = JWT_LEEWAY;
		if (jwt_set_secret(v[i], FUZZ_SECRET, strlen(FUZZ_SECRET),
		    &why) != 0 || jwt_jwks_parse(v[i], fuzz_jwks_text,
		    strlen(fuzz_jwks_text), &why) != 0 || v[i]->nkeys != 1)
			abort();
	}
	fuzz_strict.issuer = xstrdup("https://issuer.test");
	fuzz_strict.audience = xstrdup("tunneld");
	fuzz_ready = true;
}

static void
fuzz_result(int r, const struct jwt_claims *cl, bool hs_only)
{
	size_t	i, n;

	if (r != 0 && r != TUN_EINVAL && r != TUN_ETOOBIG && r != TUN_EPERM)
		abort();
	if (r != 0) {
		if (cl->sub[0] != '\0' || cl->alg[0] != '\0')
			abort();
		return;
	}
	n = strnlen(cl->sub, sizeof(cl->sub));
	if (n == 0 || n > JWT_MAX_SUB)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)cl->sub[i] <= 0x20 ||
		    (unsigned char)cl->sub[i] >= 0x7f)
			abort();
	if (strcmp(cl->alg, "HS256") != 0 &&
	    (hs_only || strcmp(cl->alg, "RS256") != 0))
		abort();
	if (FUZZ_NOW - JWT_LEEWAY > cl->exp)
		abort();
}

static void
fuzz_token(const struct jwt_verifier *v, const uint8_t *p, size_t len,
    bool hs_only)
{
	struct jwt_claims	 cl;
	const char		*why = NULL;
	char			*s;
	int			 r;

	r = jwt_verify(v, (const char *)p, len, FUZZ_NOW, &cl, &why);
	if (why == NULL)
		abort();
	fuzz_result(r, &cl, hs_only);
	if (r == 0 && len <= JWT_MAX_TOKEN) {
		/* Whatever verifies looks like a JWT to keys.c. */
		s = xstrndup((const char *)p, len);
		if (strlen(s) == len && !jwt_looks_like(s))
			abort();
		free(s);
	}
}

static void
fuzz_jwks(const uint8_t *p, size_t len)
{
	struct jwt_verifier	 v;
	const char		*why = NULL;
	size_t			 i;
	int			 r;

	memset(&v, 0, sizeof(v));
	r = jwt_jwks_parse(&v, (const char *)p, len, &why);
	if (why == NULL)
		abort();
	if (r == 0) {
		if (v.nkeys < 1 || v.nkeys > JWT_MAX_KEYS)
			abort();
		for (i = 0; i < v.nkeys; i++)
			if (v.keys[i].nlen == 0 || v.keys[i].elen == 0 ||
			    strnlen(v.keys[i].kid, JWT_MAX_KID + 1) >
			    JWT_MAX_KID)
				abort();
	} else if ((r != TUN_EINVAL && r != TUN_ETOOBIG) || v.nkeys != 0 ||
	    *why == '\0')
		abort();
	jwt_verifier_free(&v);
}

/* b64(header) "." b64(claims) "." b64(HMAC-SHA256 of the two). */
static void
fuzz_signed(const struct jwt_verifier *v, const uint8_t *p, size_t len)
{
	const uint8_t	*nl = memchr(p, '\n', len);
	size_t		 hl, pl, cap, n;
	unsigned char	 mac[32];
	char		*t;

	if (nl == NULL)
		return;
	hl = (size_t)(nl - p);
	pl = len - hl - 1;
	cap = (hl + pl) / 3 * 4 + 64 + 8;
	t = xmalloc(cap);
	n = jwt_b64url_encode(p, hl, t, cap);
	t[n++] = '.';
	n += jwt_b64url_encode(nl + 1, pl, t + n, cap - n);
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, FUZZ_SECRET,
	    strlen(FUZZ_SECRET), t, n, mac) != 0)
		abort();
	t[n++] = '.';
	n += jwt_b64url_encode(mac, sizeof(mac), t + n, cap - n);
	/* HMAC-signed: only an HS256 header may pass. */
	fuzz_token(v, (const uint8_t *)t, n, true);
	free(t);
}

static void
fuzz_b64(const uint8_t *p, size_t len)
{
	unsigned char	*out;
	char		*enc;
	size_t		 n, cap = len / 4 * 3 + 3;
	int		 r;

	out = xmalloc(cap);
	r = jwt_b64url_decode((const char *)p, len, out, cap, &n);
	if (r == 0) {
		enc = xmalloc(len + 1);
		if (jwt_b64url_encode(out, n, enc, len + 1) != len ||
		    memcmp(enc, p, len) != 0)
			abort();
		free(enc);
	} else if (r != TUN_EINVAL)
		abort();
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct jwt_verifier	*v;

	if (!fuzz_ready)
		fuzz_init();
	if (size == 0)
		return 0;
	v = (data[0] & 0x10) ? &fuzz_strict : &fuzz_v;
	switch (data[0] % 4) {
	case 0:
		fuzz_token(v, data + 1, size - 1, false);
		break;
	case 1:
		fuzz_jwks(data + 1, size - 1);
		break;
	case 2:
		fuzz_signed(v, data + 1, size - 1);
		break;
	default:
		fuzz_b64(data + 1, size - 1);
		break;
	}
	return 0;
}
