/*
 * Unit tests for common/jwt.c: base64url, the token verifier against
 * hostile tokens (bad base64, alg none and alg confusion, expiry, claims,
 * oversized parts, other keys, every truncation) and the JWKS parser.
 * Two RSA keys are made once at start with GnuTLS; tokens are signed here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "jwt.h"
#include "tunerr.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define NOW		1900000000LL
#define SECRET		"0123456789abcdef0123456789abcdef-test"
#define SECRET2		"another-secret-another-secret-another"

static gnutls_privkey_t	 rsa_a, rsa_b;
static char		 jwk_a[2048], jwk_b[2048];	/* one JWK each */

static char	*b64(const void *, size_t);
static char	*tok_hs(const char *, const char *, const char *);
static char	*tok_rs(gnutls_privkey_t, const char *, const char *);
static void	 make_rsa(gnutls_privkey_t *, char *, size_t, const char *);
static void	 verifier(struct jwt_verifier *, bool, bool);
static int	 verify(const struct jwt_verifier *, const char *,
		    struct jwt_claims *);
static int	 verify_str(const char *, bool, bool);
static Suite	*jwt_suite(void);

static char *
b64(const void *p, size_t len)
{
	size_t	 cap = len / 3 * 4 + 5;
	char	*s = malloc(cap);

	/* No ck_assert: main() calls this before the tests run. */
	if (s == NULL || (jwt_b64url_encode(p, len, s, cap) == 0 && len > 0))
		abort();
	return s;
}

static char *
tok_hs(const char *secret, const char *hdr, const char *pay)
{
	char		*h = b64(hdr, strlen(hdr)), *p = b64(pay, strlen(pay));
	char		*in, *s, *t;
	unsigned char	 mac[32];

	ck_assert_int_ge(asprintf(&in, "%s.%s", h, p), 0);
	ck_assert_int_eq(gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret,
	    strlen(secret), in, strlen(in), mac), 0);
	s = b64(mac, sizeof(mac));
	ck_assert_int_ge(asprintf(&t, "%s.%s", in, s), 0);
	free(h);
	free(p);
	free(in);
	free(s);
	return t;
}

static char *
tok_rs(gnutls_privkey_t key, const char *hdr, const char *pay)
{
	char		*h = b64(hdr, strlen(hdr)), *p = b64(pay, strlen(pay));
	char		*in, *s, *t;
	gnutls_datum_t	 d, sig;

	ck_assert_int_ge(asprintf(&in, "%s.%s", h, p), 0);
	d.data = (unsigned char *)in;
	d.size = (unsigned int)strlen(in);
	ck_assert_int_eq(gnutls_privkey_sign_data(key, GNUTLS_DIG_SHA256, 0,
	    &d, &sig), 0);
	s = b64(sig.data, sig.size);
	gnutls_free(sig.data);
	ck_assert_int_ge(asprintf(&t, "%s.%s", in, s), 0);
	free(h);
	free(p);
	free(in);
	free(s);
	return t;
}

/* A 2048-bit RSA key and its public half as a JWK with this kid. */
static void
make_rsa(gnutls_privkey_t *key, char *jwk, size_t len, const char *kid)
{
	gnutls_pubkey_t	pub;
	gnutls_datum_t	m, e;
	char		*ms, *es;

	if (gnutls_privkey_init(key) != 0 ||
	    gnutls_privkey_generate(*key, GNUTLS_PK_RSA, 2048, 0) != 0 ||
	    gnutls_pubkey_init(&pub) != 0 ||
	    gnutls_pubkey_import_privkey(pub, *key, 0, 0) != 0 ||
	    gnutls_pubkey_export_rsa_raw2(pub, &m, &e,
	    GNUTLS_EXPORT_FLAG_NO_LZ) != 0) {
		fprintf(stderr, "cannot make an RSA key\n");
		exit(99);
	}
	ms = b64(m.data, m.size);
	es = b64(e.data, e.size);
	snprintf(jwk, len, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\","
	    "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}", kid, ms, es);
	free(ms);
	free(es);
	gnutls_free(m.data);
	gnutls_free(e.data);
	gnutls_pubkey_deinit(pub);
}

/* HS256 with SECRET and/or RS256 with key A (kid "a"). */
static void
verifier(struct jwt_verifier *v, bool hs, bool rs)
{
	const char	*why;
	char		 jwks[4096];

	memset(v, 0, sizeof(*v));
	v->leeway = JWT_LEEWAY;
	if (hs)
		ck_assert_int_eq(jwt_set_secret(v, SECRET, strlen(SECRET),
		    &why), 0);
	if (rs) {
		snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", jwk_a);
		ck_assert_int_eq(jwt_jwks_parse(v, jwks, strlen(jwks), &why),
		    0);
	}
}

/* jwt_verify on an exact-size heap copy, so ASan sees any over-read. */
static int
verify(const struct jwt_verifier *v, const char *t, struct jwt_claims *cl)
{
	size_t		 len = strlen(t);
	char		*copy = malloc(len > 0 ? len : 1);
	const char	*why = NULL;
	int		 r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, t, len);
	r = jwt_verify(v, copy, len, NOW, cl, &why);
	ck_assert_ptr_nonnull(why);
	if (r != 0) {
		ck_assert_str_eq(cl->sub, "");
		ck_assert(strstr(why, t) == NULL || *t == '\0');
	}
	free(copy);
	return r;
}

static int
verify_str(const char *t, bool hs, bool rs)
{
	struct jwt_verifier	v;
	struct jwt_claims	cl;
	int			r;

	verifier(&v, hs, rs);
	r = verify(&v, t, &cl);
	jwt_verifier_free(&v);
	return r;
}

#define HS	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define RS	"{\"alg\":\"RS256\",\"kid\":\"a\"}"
#define CLAIMS	"{\"sub\":\"alice\",\"exp\":1900000100}"

/* --- base64url ------------------------------------------------------------ */

START_TEST(test_b64_roundtrip)
{
	unsigned char	in[64], out[64];
	char		enc[100];
	size_t		i, n, outlen;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 250);
	for (n = 0; n <= sizeof(in); n++) {
		ck_assert_uint_eq(jwt_b64url_encode(in, n, enc, sizeof(enc)),
		    strlen(enc));
		ck_assert(strchr(enc, '=') == NULL);
		ck_assert_int_eq(jwt_b64url_decode(enc, strlen(enc), out,
		    sizeof(out), &outlen), 0);
		ck_assert_uint_eq(outlen, n);
		ck_assert(memcmp(in, out, n) == 0);
		if (n > 0)	/* one byte short of room */
			ck_assert_int_eq(jwt_b64url_decode(enc, strlen(enc),
			    out, n - 1, &outlen), TUN_ETOOBIG);
	}
	ck_assert_uint_eq(jwt_b64url_encode(in, 3, enc, 4), 0);
	ck_assert_uint_eq(jwt_b64url_encode(in, 3, enc, 5), 4);
}
END_TEST

static const struct {
	const char	*in;
	const char	*want;		/* NULL: refused */
} b64cases[] = {
	{ "", "" },
	{ "Zg", "f" },
	{ "Zm8", "fo" },
	{ "Zm9v", "foo" },
	{ "-_8", "\xfb\xff" },
	{ "Zg==", NULL },		/* padding */
	{ "Zm9v=", NULL },
	{ "Z", NULL },			/* 1 mod 4 */
	{ "Zm9vY", NULL },
	{ "Zh", NULL },			/* non-zero leftover bits */
	{ "Zm9", NULL },
	{ "Zm+v", NULL },		/* standard alphabet */
	{ "Zm/v", NULL },
	{ "Zm v", NULL },
	{ "Zm\nv", NULL },
	{ "Zm.v", NULL },
	{ "\xc3\xa9\xc3\xa9", NULL },
};

START_TEST(test_b64_cases)
{
	unsigned char	out[16];
	size_t		outlen;
	int		r;

	r = jwt_b64url_decode(b64cases[_i].in, strlen(b64cases[_i].in), out,
	    sizeof(out), &outlen);
	if (b64cases[_i].want == NULL)
		ck_assert_int_eq(r, TUN_EINVAL);
	else {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(outlen, strlen(b64cases[_i].want));
		ck_assert(memcmp(out, b64cases[_i].want, outlen) == 0);
	}
}
END_TEST

START_TEST(test_looks_like)
{
	ck_assert(jwt_looks_like("a.b.c"));
	ck_assert(jwt_looks_like("a.b."));
	ck_assert(jwt_looks_like("eyJ-_.eyJ0.AbC_-"));
	ck_assert(!jwt_looks_like(NULL));
	ck_assert(!jwt_looks_like(""));
	ck_assert(!jwt_looks_like("a.b"));
	ck_assert(!jwt_looks_like("a.b.c.d"));
	ck_assert(!jwt_looks_like(".b.c"));
	ck_assert(!jwt_looks_like("a..c"));
	ck_assert(!jwt_looks_like("a.b.c="));
	ck_assert(!jwt_looks_like("a b.c.d"));
	ck_assert(!jwt_looks_like("tests-0123456789abcdef"));
}
END_TEST

/* --- good tokens -------------------------------------------------------------- */

START_TEST(test_hs256_ok)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	char			*t = tok_hs(SECRET, HS, CLAIMS);

	verifier(&v, true, false);
	ck_assert(jwt_looks_like(t));
	ck_assert_int_eq(verify(&v, t, &cl), 0);
	ck_assert_str_eq(cl.sub, "alice");
	ck_assert_str_eq(cl.alg, "HS256");
	ck_assert_int_eq(cl.exp, 1900000100LL);
	jwt_verifier_free(&v);
	free(t);
}
END_TEST

START_TEST(test_rs256_ok)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	char			*t = tok_rs(rsa_a, RS, CLAIMS);
	char			*t2 = tok_rs(rsa_a, "{\"alg\":\"RS256\"}", CLAIMS);

	verifier(&v, true, true);
	ck_assert_int_eq(verify(&v, t, &cl), 0);
	ck_assert_str_eq(cl.sub, "alice");
	ck_assert_str_eq(cl.alg, "RS256");
	/* No kid: fine while the JWKS has one key. */
	ck_assert_int_eq(verify(&v, t2, &cl), 0);
	jwt_verifier_free(&v);
	free(t);
	free(t2);
}
END_TEST

START_TEST(test_rs256_kid_select)
{
	struct jwt_verifier	 v = { 0 };
	struct jwt_claims	 cl;
	const char		*why;
	char			 jwks[8192];
	char			*ta = tok_rs(rsa_a, RS, CLAIMS);
	char			*tb = tok_rs(rsa_b, "{\"alg\":\"RS256\",\"kid\":"
				    "\"b\"}", CLAIMS);
	char			*tba = tok_rs(rsa_b, RS, CLAIMS);
	char			*tnokid = tok_rs(rsa_a, "{\"alg\":\"RS256\"}",
				    CLAIMS);

	v.leeway = JWT_LEEWAY;
	snprintf(jwks, sizeof(jwks), "{\"keys\":[%s,%s]}", jwk_a, jwk_b);
	ck_assert_int_eq(jwt_jwks_parse(&v, jwks, strlen(jwks), &why), 0);
	ck_assert_uint_eq(v.nkeys, 2);
	ck_assert_int_eq(verify(&v, ta, &cl), 0);
	ck_assert_int_eq(verify(&v, tb, &cl), 0);
	/* Signed by b, claims to be a. */
	ck_assert_int_eq(verify(&v, tba, &cl), TUN_EPERM);
	/* Two keys: a kid is needed. */
	ck_assert_int_eq(verify(&v, tnokid, &cl), TUN_EPERM);
	jwt_verifier_free(&v);
	free(ta);
	free(tb);
	free(tba);
	free(tnokid);
}
END_TEST

/* --- refused tokens, each with its signature made right ------------------- */

static const struct {
	const char	*hdr;
	const char	*pay;
	int		 want;
	bool		 rs;		/* sign with key A, else SECRET */
} claims[] = {
	/* The good ones, as a baseline. */
	{ HS, CLAIMS, 0, false },
	{ RS, CLAIMS, 0, true },
	{ HS, "{\"sub\":\"a\",\"exp\":1900000000.5}", 0, false },
	{ HS, "{\"sub\":\"a\",\"exp\":1899999950}", 0, false },	/* leeway */
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100,\"nbf\":1900000030}", 0,
	    false },
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100,\"iat\":\"whatever\"}", 0,
	    false },
	{ HS, "{\"sub\":\"12345678901234567890123456789012345678901234567890"
	    "123456789\",\"exp\":1900000100}", 0, false },	/* 59 bytes */
	/* exp */
	{ HS, "{\"sub\":\"a\"}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":1899999900}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":\"1900000100\"}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":null}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":true}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":-9223372036854775808}", TUN_EPERM,
	    false },
	{ HS, "{\"sub\":\"a\",\"exp\":1e300}", TUN_EPERM, false },
	{ RS, "{\"sub\":\"a\",\"exp\":1}", TUN_EPERM, true },
	/* nbf */
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100,\"nbf\":1900000100}",
	    TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100,\"nbf\":\"0\"}", TUN_EPERM,
	    false },
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100,"
	    "\"nbf\":9223372036854775807}", TUN_EPERM, false },
	/* sub */
	{ HS, "{\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"\",\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":7,\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a b\",\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\\nb\",\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\\u0000b\",\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"\\u00e9\",\"exp\":1900000100}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"12345678901234567890123456789012345678901234567890"
	    "1234567890\",\"exp\":1900000100}", TUN_EPERM, false },
	/* alg: none, unknown, confused, odd */
	{ "{\"alg\":\"none\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"None\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"hs256\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"HS384\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"HS512\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"RS512\"}", CLAIMS, TUN_EPERM, true },
	{ "{\"alg\":\"PS256\"}", CLAIMS, TUN_EPERM, true },
	{ "{\"alg\":\"ES256\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"HS256 \"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"HS256\\u0000\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":256}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":[\"HS256\"]}", CLAIMS, TUN_EPERM, false },
	{ "{\"typ\":\"JWT\"}", CLAIMS, TUN_EPERM, false },
	{ "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", CLAIMS, TUN_EPERM, false },
	{ HS, CLAIMS, TUN_EPERM, true },	/* RS signature, HS header */
	{ RS, CLAIMS, TUN_EPERM, false },	/* HS signature, RS header */
	{ "{\"alg\":\"RS256\",\"kid\":\"zzz\"}", CLAIMS, TUN_EPERM, true },
	{ "{\"alg\":\"RS256\",\"kid\":5}", CLAIMS, TUN_EPERM, true },
	/* not JSON objects */
	{ "[\"HS256\"]", CLAIMS, TUN_EINVAL, false },
	{ "\"HS256\"", CLAIMS, TUN_EINVAL, false },
	{ "{\"alg\":\"HS256\"} ", CLAIMS, 0, false },	/* still JSON */
	{ "{\"alg\":\"HS256\"} x", CLAIMS, TUN_EINVAL, false },
	{ "{\"alg\":\"HS256\"}{}", CLAIMS, TUN_EINVAL, false },
	{ "{'alg':'HS256'}", CLAIMS, TUN_EINVAL, false },
	{ "{\"alg\":\"HS256\",}", CLAIMS, TUN_EINVAL, false },
	{ "{\"alg\":\"HS256\"", CLAIMS, TUN_EINVAL, false },
	{ "{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[1]]]]]]]]]]]]}", CLAIMS,
	    TUN_EINVAL, false },
	{ HS, "[1]", TUN_EINVAL, false },
	{ HS, "{\"sub\":\"a\",\"exp\":1900000100", TUN_EINVAL, false },
	/* json-c takes these even when strict; exp must be finite. */
	{ HS, "{\"sub\":\"a\",\"exp\":NaN}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":Infinity}", TUN_EPERM, false },
	{ HS, "{\"sub\":\"a\",\"exp\":-Infinity}", TUN_EPERM, false },
};

START_TEST(test_claims)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	char			*t;

	verifier(&v, true, true);
	if (claims[_i].rs)
		t = tok_rs(rsa_a, claims[_i].hdr, claims[_i].pay);
	else
		t = tok_hs(SECRET, claims[_i].hdr, claims[_i].pay);
	ck_assert_msg(verify(&v, t, &cl) == claims[_i].want,
	    "case %d: %s %s", _i, claims[_i].hdr, claims[_i].pay);
	jwt_verifier_free(&v);
	free(t);
}
END_TEST

START_TEST(test_header_nul)
{
	/* A NUL byte inside the decoded header is not JSON. */
	static const char	hdr[] = "{\"alg\":\"HS256\"}\0";
	char			*h = b64(hdr, sizeof(hdr) - 1);
	char			*p = b64(CLAIMS, strlen(CLAIMS)), *t;

	ck_assert_int_ge(asprintf(&t, "%s.%s.AAAA", h, p), 0);
	ck_assert_int_eq(verify_str(t, true, false), TUN_EINVAL);
	free(h);
	free(p);
	free(t);
}
END_TEST

START_TEST(test_iss_aud)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	static const struct {
		const char	*pay;
		int		 want;
	} c[] = {
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":\"tunneld\"}", 0 },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":[\"x\",\"tunneld\"]}", 0 },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"aud\":\"tunneld\"}",
		    TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"you\","
		    "\"aud\":\"tunneld\"}", TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":[\"me\"],"
		    "\"aud\":\"tunneld\"}", TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\"}",
		    TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":\"tunneld2\"}", TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":[\"x\",7]}", TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":{\"tunneld\":1}}", TUN_EPERM },
		{ "{\"sub\":\"a\",\"exp\":1900000100,\"iss\":\"me\","
		    "\"aud\":\"tunneld\\u0000x\"}", TUN_EPERM },
	};
	size_t			 i;
	char			*t;

	verifier(&v, true, false);
	v.issuer = strdup("me");
	v.audience = strdup("tunneld");
	for (i = 0; i < nitems(c); i++) {
		t = tok_hs(SECRET, HS, c[i].pay);
		ck_assert_msg(verify(&v, t, &cl) == c[i].want, "case %zu", i);
		free(t);
	}
	jwt_verifier_free(&v);
}
END_TEST

START_TEST(test_wrong_keys)
{
	char		*t = tok_hs(SECRET2, HS, CLAIMS);
	char		*tr = tok_rs(rsa_b, RS, CLAIMS);
	char		*ta = tok_rs(rsa_a, RS, CLAIMS);
	char		*th = tok_hs(SECRET, HS, CLAIMS);

	ck_assert_int_eq(verify_str(t, true, true), TUN_EPERM);
	ck_assert_int_eq(verify_str(tr, true, true), TUN_EPERM);
	/* Nothing configured for the alg: refused. */
	ck_assert_int_eq(verify_str(ta, true, false), TUN_EPERM);
	ck_assert_int_eq(verify_str(th, false, true), TUN_EPERM);
	ck_assert_int_eq(verify_str(th, false, false), TUN_EPERM);
	free(t);
	free(tr);
	free(ta);
	free(th);
}
END_TEST

/*
 * Alg confusion: an HS256 token "signed" with the RSA public key's bytes
 * (or its JWK text) as the secret must not pass where only RS256 is on.
 */
START_TEST(test_alg_confusion)
{
	char	*t1 = tok_hs(jwk_a, HS, CLAIMS);
	char	*t2 = tok_hs(jwk_a, RS, CLAIMS);

	ck_assert_int_eq(verify_str(t1, false, true), TUN_EPERM);
	ck_assert_int_eq(verify_str(t2, false, true), TUN_EPERM);
	ck_assert_int_eq(verify_str(t2, true, true), TUN_EPERM);
	free(t1);
	free(t2);
}
END_TEST

START_TEST(test_alg_none_unsigned)
{
	char	*h = b64("{\"alg\":\"none\"}", 14);
	char	*p = b64(CLAIMS, strlen(CLAIMS)), *t;

	ck_assert_int_ge(asprintf(&t, "%s.%s.", h, p), 0);
	ck_assert(jwt_looks_like(t));
	ck_assert_int_eq(verify_str(t, true, true), TUN_EPERM);
	free(t);
	ck_assert_int_ge(asprintf(&t, "%s.%s", h, p), 0);
	ck_assert_int_eq(verify_str(t, true, true), TUN_EINVAL);
	free(t);
	free(h);
	free(p);
}
END_TEST

/* Tampering with any part breaks the signature. */
START_TEST(test_tamper)
{
	char	*t = tok_hs(SECRET, HS, CLAIMS), *u;
	char	*r = tok_rs(rsa_a, RS, CLAIMS);
	char	*forged = tok_hs(SECRET, HS,
		    "{\"sub\":\"admin\",\"exp\":1900000100}");
	size_t	 i, len;
	char	*d2;

	/* Claims of one token with the signature of another. */
	d2 = strrchr(forged, '.');
	ck_assert_int_ge(asprintf(&u, "%.*s%s", (int)(d2 - forged), forged,
	    strrchr(t, '.')), 0);
	ck_assert_int_eq(verify_str(u, true, false), TUN_EPERM);
	free(u);
	for (len = strlen(r), i = 0; i < len; i += 7) {
		if (r[i] == '.')
			continue;
		u = strdup(r);
		ck_assert_ptr_nonnull(u);
		u[i] = u[i] == 'A' ? 'B' : 'A';
		ck_assert_int_ne(verify_str(u, true, true), 0);
		free(u);
	}
	free(t);
	free(r);
	free(forged);
}
END_TEST

START_TEST(test_truncated)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	const char		*why;
	char			*t[2];
	size_t			 i, j, len;
	char			*copy;

	verifier(&v, true, true);
	t[0] = tok_hs(SECRET, HS, CLAIMS);
	t[1] = tok_rs(rsa_a, RS, CLAIMS);
	for (j = 0; j < 2; j++) {
		len = strlen(t[j]);
		ck_assert_int_eq(jwt_verify(&v, t[j], len, NOW, &cl, &why), 0);
		for (i = 0; i < len; i++) {
			copy = malloc(i > 0 ? i : 1);
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, t[j], i);
			ck_assert_msg(jwt_verify(&v, copy, i, NOW, &cl,
			    &why) != 0, "token %zu cut at %zu passed", j, i);
			ck_assert_str_eq(cl.sub, "");
			free(copy);
		}
	}
	free(t[0]);
	free(t[1]);
	jwt_verifier_free(&v);
}
END_TEST

static char *
fill(int c, size_t n)
{
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_huge)
{
	struct jwt_verifier	 v;
	struct jwt_claims	 cl;
	char			*big, *t, *pay;
	const char		*why;
	size_t			 n;

	verifier(&v, true, true);
	/* Header past 1024 characters. */
	big = fill('A', 1028);
	ck_assert_int_ge(asprintf(&t, "%s.e30.AAAA", big), 0);
	ck_assert_int_eq(verify(&v, t, &cl), TUN_ETOOBIG);
	free(t);
	/* Signature past 1366 characters. */
	t = tok_hs(SECRET, HS, CLAIMS);
	*strrchr(t, '.') = '\0';
	pay = t;
	ck_assert_int_ge(asprintf(&t, "%s.%s", pay, big), 0);
	ck_assert_int_eq(verify(&v, t, &cl), TUN_EPERM);
	free(t);
	free(pay);
	free(big);
	/* Claims past 4096 characters, correctly signed. */
	big = fill('x', 3200);
	ck_assert_int_ge(asprintf(&pay, "{\"sub\":\"a\",\"exp\":1900000100,"
	    "\"pad\":\"%s\"}", big), 0);
	t = tok_hs(SECRET, HS, pay);
	ck_assert_int_eq(verify(&v, t, &cl), TUN_ETOOBIG);
	free(t);
	free(pay);
	free(big);
	/* Whole token past 8192. */
	big = fill('A', JWT_MAX_TOKEN + 1);
	big[10] = '.';
	big[20] = '.';
	ck_assert_int_eq(jwt_verify(&v, big, strlen(big), NOW, &cl, &why),
	    TUN_ETOOBIG);
	ck_assert(!jwt_looks_like(big));
	free(big);
	/* Many dots, empty parts. */
	for (n = 0; n < 6; n++) {
		static const char *const odd[] = { "", ".", "..", "...",
		    "a.b.c.d", "....." };
		ck_assert_int_ne(verify(&v, odd[n], &cl), 0);
	}
	jwt_verifier_free(&v);
}
END_TEST

/* --- secrets and the JWKS ----------------------------------------------------- */

START_TEST(test_secret)
{
	struct jwt_verifier	 v = { 0 };
	const char		*why = NULL;
	char			*big = fill('s', JWT_MAX_SECRET + 1);

	ck_assert_int_eq(jwt_set_secret(&v, "short", 5, &why), TUN_EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(jwt_set_secret(&v, big, 31, &why), TUN_EINVAL);
	ck_assert_int_eq(jwt_set_secret(&v, big, JWT_MAX_SECRET + 1, &why),
	    TUN_EINVAL);
	ck_assert_ptr_null(v.secret);
	ck_assert_int_eq(jwt_set_secret(&v, big, 32, &why), 0);
	ck_assert_int_eq(jwt_set_secret(&v, big, JWT_MAX_SECRET, &why), 0);
	ck_assert_uint_eq(v.secretlen, JWT_MAX_SECRET);
	jwt_verifier_free(&v);
	ck_assert_ptr_null(v.secret);
	free(big);
}
END_TEST

static const struct {
	const char	*tmpl;		/* each @: jwk_a */
	int		 want;
	size_t		 nkeys;
} jwks_cases[] = {
	{ "{\"keys\":[@]}", 0, 1 },
	{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
	    "\"y\":\"AA\"},@]}", 0, 1 },
	{ "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},@]}", 0, 1 },
	{ "{\"other\":1,\"keys\":[@]}", 0, 1 },
	{ "{\"keys\":[@,@]}", TUN_EINVAL, 0 },	/* same kid */
	{ "{\"keys\":[]}", TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"EC\"}]}", TUN_EINVAL, 0 },
	{ "{\"keys\":{}}", TUN_EINVAL, 0 },
	{ "{\"keys\":[1]}", TUN_EINVAL, 0 },
	{ "{\"keys\":[{}]}", TUN_EINVAL, 0 },
	{ "{}", TUN_EINVAL, 0 },
	{ "[]", TUN_EINVAL, 0 },
	{ "", TUN_EINVAL, 0 },
	{ "{\"keys\":[@]", TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
	    TUN_EINVAL, 0 },			/* a tiny modulus */
	{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
	    TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"RSA\",\"n\":5,\"e\":\"AQAB\"}]}",
	    TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"RSA\",\"kid\":7,\"n\":\"AQAB\","
	    "\"e\":\"AQAB\"}]}", TUN_EINVAL, 0 },
	{ "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\","
	    "\"e\":\"AQAB\"}]}", TUN_EINVAL, 0 },	/* skipped: none left */
	{ "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS512\",\"n\":\"AQAB\","
	    "\"e\":\"AQAB\"}]}", TUN_EINVAL, 0 },
};

START_TEST(test_jwks)
{
	struct jwt_verifier	 v = { 0 };
	const char		*why = NULL;
	char			 buf[8192];
	const char		*p;
	size_t			 n = 0;

	for (p = jwks_cases[_i].tmpl; *p != '\0'; p++) {
		if (*p == '@') {
			ck_assert_uint_lt(n + strlen(jwk_a), sizeof(buf));
			memcpy(buf + n, jwk_a, strlen(jwk_a));
			n += strlen(jwk_a);
		} else {
			ck_assert_uint_lt(n + 1, sizeof(buf));
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
	ck_assert_msg(jwt_jwks_parse(&v, buf, n, &why) ==
	    jwks_cases[_i].want, "case %d: %s", _i, why);
	ck_assert_uint_eq(v.nkeys, jwks_cases[_i].nkeys);
	if (jwks_cases[_i].want != 0)
		ck_assert_str_ne(why, "");
	jwt_verifier_free(&v);
}
END_TEST

/* Smaller than 2048 bits, too many keys, too big a file. */
START_TEST(test_jwks_limits)
{
	struct jwt_verifier	 v = { 0 };
	const char		*why, *n0;
	char			*buf, *small, *cut;
	size_t			 i, len, off;
	int			 n;

	/* Key A's modulus cut to 1024 bits is still a modulus: refused. */
	n0 = strstr(jwk_a, "\"n\":\"") + 5;
	ck_assert_int_ge(asprintf(&small, "{\"keys\":[{\"kty\":\"RSA\","
	    "\"n\":\"%.*s\",\"e\":\"AQAB\"}]}", 172, n0), 0);
	ck_assert_int_eq(jwt_jwks_parse(&v, small, strlen(small), &why),
	    TUN_EINVAL);
	ck_assert_str_eq(why, "an RSA key of the JWKS is not a 2048 to 8192 "
	    "bit key");
	free(small);
	/* 17 RSA keys. */
	len = 17 * (strlen(jwk_a) + 16) + 32;
	buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	off = (size_t)snprintf(buf, len, "{\"keys\":[");
	for (i = 0; i < 17; i++) {
		n = snprintf(buf + off, len - off, "%s{\"kty\":\"RSA\","
		    "\"kid\":\"k%zu\",%s", i ? "," : "", i,
		    strstr(jwk_a, "\"n\":"));
		ck_assert(n > 0 && (size_t)n < len - off);
		off += (size_t)n;
	}
	ck_assert_int_eq(snprintf(buf + off, len - off, "]}"), 2);
	ck_assert_int_eq(jwt_jwks_parse(&v, buf, strlen(buf), &why),
	    TUN_EINVAL);
	ck_assert_uint_eq(v.nkeys, 0);
	/* 16 are fine. */
	cut = strstr(buf, ",{\"kty\":\"RSA\",\"kid\":\"k16\"");
	ck_assert_ptr_nonnull(cut);
	memcpy(cut, "]}", 3);
	ck_assert_int_eq(jwt_jwks_parse(&v, buf, strlen(buf), &why), 0);
	ck_assert_uint_eq(v.nkeys, 16);
	/* A failed parse keeps the keys there were. */
	ck_assert_int_eq(jwt_jwks_parse(&v, "{}", 2, &why), TUN_EINVAL);
	ck_assert_uint_eq(v.nkeys, 16);
	free(buf);
	jwt_verifier_free(&v);
	buf = fill(' ', JWT_MAX_JWKS + 1);
	ck_assert_int_eq(jwt_jwks_parse(&v, buf, strlen(buf), &why),
	    TUN_ETOOBIG);
	free(buf);
}
END_TEST

static Suite *
jwt_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc;

	tc = tcase_create("base64url");
	tcase_add_test(tc, test_b64_roundtrip);
	tcase_add_loop_test(tc, test_b64_cases, 0, nitems(b64cases));
	tcase_add_test(tc, test_looks_like);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hs256_ok);
	tcase_add_test(tc, test_rs256_ok);
	tcase_add_test(tc, test_rs256_kid_select);
	tcase_add_loop_test(tc, test_claims, 0, nitems(claims));
	tcase_add_test(tc, test_header_nul);
	tcase_add_test(tc, test_iss_aud);
	tcase_add_test(tc, test_wrong_keys);
	tcase_add_test(tc, test_alg_confusion);
	tcase_add_test(tc, test_alg_none_unsigned);
	tcase_add_test(tc, test_tamper);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_huge);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_secret);
	tcase_add_loop_test(tc, test_jwks, 0, nitems(jwks_cases));
	tcase_add_test(tc, test_jwks_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	make_rsa(&rsa_a, jwk_a, sizeof(jwk_a), "a");
	make_rsa(&rsa_b, jwk_b, sizeof(jwk_b), "b");
	sr = srunner_create(jwt_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	gnutls_privkey_deinit(rsa_a);
	gnutls_privkey_deinit(rsa_b);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
