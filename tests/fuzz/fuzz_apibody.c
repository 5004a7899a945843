/*
 * apibody_parse() (src/apibody.c) on arbitrary bytes: the body of
 * POST /api/tunnels.  The result must be a documented code with a reason
 * exactly when it is not 0, the same with a short error buffer, and an
 * empty body after a refusal.  A body that is taken is checked against
 * the documented limits, written again as JSON from its fields and parsed
 * again: the fields must come back the same, and the metadata text must
 * be a fixed point.  The CIDRs go on to util_cidr_parse(), as in api.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tunerr.h"
#include "tunneld.h"
#include "util.h"
#include "wsframe.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fuzz_apibody_zero(const struct apibody *);
static void	 fuzz_apibody_str(const char *, const char *);
static void	 fuzz_apibody_utf8(const char *);
static void	 fuzz_apibody_check(const struct apibody *, size_t);
static char	*fuzz_apibody_write(const struct apibody *);
static void	 fuzz_apibody_same(const struct apibody *,
		    const struct apibody *);
static void	 fuzz_apibody_again(const struct apibody *);

static void
fuzz_apibody_zero(const struct apibody *b)
{
	struct apibody	zero;

	memset(&zero, 0, sizeof(zero));
	if (memcmp(b, &zero, sizeof(zero)) != 0)
		abort();
}

static void
fuzz_apibody_str(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL))
		abort();
	if (a != NULL && strcmp(a, b) != 0)
		abort();
}

/* Whole UTF-8 characters only. */
static void
fuzz_apibody_utf8(const char *s)
{
	uint32_t	st = 0;

	if (wsframe_utf8(&st, (const uint8_t *)s, strlen(s)) != 0 || st != 0)
		abort();
}

/* What the parser promises about a body it took. */
static void
fuzz_apibody_check(const struct apibody *b, size_t size)
{
	struct cidr	c;
	size_t		i;

	if ((size == 0) != (b->root == NULL))
		abort();
	if (b->name != NULL && !util_valid_name(b->name))
		abort();
	if (b->local_port < 0 || b->local_port > 65535 ||
	    b->remote_port < 0 || b->remote_port > 65535 ||
	    (b->remote_port != 0 && !b->tcp))
		abort();
	if (b->ncidrs > APIBODY_MAX_CIDRS)
		abort();
	for (i = 0; i < b->ncidrs; i++) {
		if (b->cidrs[i] == NULL)
			abort();
		fuzz_apibody_utf8(b->cidrs[i]);
		(void)util_cidr_parse(b->cidrs[i], &c);
	}
	if (b->basic_auth != NULL)
		fuzz_apibody_utf8(b->basic_auth);
	if (b->metadata != NULL) {
		if (b->metadata[0] != '{' ||
		    strlen(b->metadata) > APIBODY_MAX_METADATA)
			abort();
		fuzz_apibody_utf8(b->metadata);
	}
}

/* The fields as a body of their own. */
static char *
fuzz_apibody_write(const struct apibody *b)
{
	struct json_object	*o = json_object_new_object(), *a, *m;
	char			*s;
	size_t			 i;

	if (b->name != NULL)
		json_object_object_add(o, (b->local_port & 1) ? "subdomain" :
		    "name", json_object_new_string(b->name));
	if (b->local_port != 0)
		json_object_object_add(o, "local_port",
		    json_object_new_int(b->local_port));
	if (b->tcp)
		json_object_object_add(o, "type",
		    json_object_new_string("tcp"));
	if (b->remote_port != 0)
		json_object_object_add(o, "remote_port",
		    json_object_new_int(b->remote_port));
	if (b->pool)
		json_object_object_add(o, "pool", json_object_new_boolean(1));
	if (b->basic_auth != NULL)
		json_object_object_add(o, "basic_auth",
		    json_object_new_string(b->basic_auth));
	if (b->ncidrs > 0) {
		a = json_object_new_array();
		for (i = 0; i < b->ncidrs; i++)
			json_object_array_add(a,
			    json_object_new_string(b->cidrs[i]));
		json_object_object_add(o, "allow_cidr", a);
	}
	if (b->metadata != NULL) {
		if ((m = json_tokener_parse(b->metadata)) == NULL)
			abort();
		json_object_object_add(o, "metadata", m);
	}
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	if (s == NULL)
		abort();
	json_object_put(o);
	return s;
}

static void
fuzz_apibody_same(const struct apibody *a, const struct apibody *b)
{
	size_t	i;

	fuzz_apibody_str(a->name, b->name);
	fuzz_apibody_str(a->basic_auth, b->basic_auth);
	fuzz_apibody_str(a->metadata, b->metadata);
	if (a->local_port != b->local_port || a->tcp != b->tcp ||
	    a->remote_port != b->remote_port || a->pool != b->pool ||
	    a->ncidrs != b->ncidrs)
		abort();
	for (i = 0; i < a->ncidrs; i++)
		fuzz_apibody_str(a->cidrs[i], b->cidrs[i]);
}

/* Written again and parsed again, the fields come back the same. */
static void
fuzz_apibody_again(const struct apibody *b)
{
	struct apibody	 b2;
	char		 err[128], *s;

	s = fuzz_apibody_write(b);
	if (strlen(s) > TUNNELD_MAX_API_BODY) {
		free(s);
		return;
	}
	if (apibody_parse(s, strlen(s), &b2, err, sizeof(err)) != 0)
		abort();
	fuzz_apibody_same(b, &b2);
	apibody_free(&b2);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apibody	 b, b2;
	char		 err[128], small[9];
	size_t		 n;
	int		 r, r2;

	memset(err, 'Z', sizeof(err));
	r = apibody_parse((const char *)data, size, &b, err, sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	n = strlen(err);
	switch (r) {
	case 0:
		if (n != 0)
			abort();
		fuzz_apibody_check(&b, size);
		break;
	case TUN_EINVAL:
	case TUN_ETOOBIG:
		if (n == 0 || (r == TUN_ETOOBIG) !=
		    (size > TUNNELD_MAX_API_BODY))
			abort();
		fuzz_apibody_zero(&b);
		break;
	default:
		abort();
	}

	/* The same again, with a short error buffer: the same result. */
	memset(small, 'Z', sizeof(small));
	r2 = apibody_parse((const char *)data, size, &b2, small,
	    sizeof(small));
	if (r2 != r || strnlen(small, sizeof(small)) >= sizeof(small) ||
	    strncmp(small, err, strlen(small)) != 0)
		abort();
	if (r == 0) {
		fuzz_apibody_same(&b, &b2);
		fuzz_apibody_again(&b);
	}
	apibody_free(&b2);
	apibody_free(&b);
	fuzz_apibody_zero(&b);
	return 0;
}
