/*
 * The JSON body of POST /api/tunnels: every field optional, a present one
 * validated.  Pure functions: no MHD, no registry, no locks, so the unit
 * tests and fuzz_apibody call them.  What needs the server's state (the
 * reserved names, a key's allowed names, the access settings) stays in
 * api.c.
 *
 * The text must be RFC 8259 JSON in UTF-8, one object: json-c's leniency
 * (single quotes, comments, trailing commas, NaN, "1.") is refused, and so
 * is what it would take quietly but change: "\u0000", which cuts its C
 * strings short, and a repeated key, of which only the last would count.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "proto.h"
#include "tunerr.h"
#include "tunneld.h"
#include "util.h"
#include "wsframe.h"
#include "xmalloc.h"

#define APIBODY_DEPTH		16

static int	 apibody_fail(char *, size_t, const char *);
static int	 apibody_json(const char *, size_t, struct json_object **,
		    char *, size_t);
static bool	 apibody_number(const char *);
static const char *apibody_numbers(struct json_object *);
static int	 apibody_name(struct apibody *, char *, size_t);
static bool	 apibody_get(struct json_object *, const char *,
		    struct json_object **);
static int	 apibody_port(struct json_object *, const char *, int *);
static int	 apibody_fields(struct apibody *, char *, size_t);
static int	 apibody_access(struct apibody *, char *, size_t);
static int	 apibody_metadata(struct apibody *, char *, size_t);

static int
apibody_fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return TUN_EINVAL;
}

/* One object, with nothing but white space around it. */
static int
apibody_json(const char *buf, size_t len, struct json_object **out,
    char *err, size_t errlen)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	enum json_tokener_error	 e;
	const char		*why;
	uint32_t		 st = 0;
	size_t			 end, nkeys;

	*out = NULL;
	if (wsframe_utf8(&st, (const uint8_t *)buf, len) != 0 || st != 0)
		return apibody_fail(err, errlen, "the body is not UTF-8");
	if ((tok = json_tokener_new_ex(APIBODY_DEPTH)) == NULL)
		fatalx("%s: out of memory", __func__);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && (buf[end] == ' ' || buf[end] == '\t' ||
	    buf[end] == '\r' || buf[end] == '\n'))
		end++;
	if (o == NULL || e != json_tokener_success || end != len ||
	    proto_json_scan((const uint8_t *)buf, len, &nkeys) != 0) {
		json_object_put(o);
		return apibody_fail(err, errlen, "the body is not valid JSON");
	}
	*out = o;
	if (!json_object_is_type(o, json_type_object))
		return apibody_fail(err, errlen,
		    "the body must be a JSON object");
	if (nkeys != (size_t)json_object_object_length(o))
		return apibody_fail(err, errlen, "the body repeats a key");
	if ((why = apibody_numbers(o)) != NULL)
		return apibody_fail(err, errlen, why);
	return 0;
}

/* RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, all of s. */
static bool
apibody_number(const char *s)
{
	size_t	n;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if ((n = strspn(s, "0123456789")) == 0)
		return false;
	else
		s += n;
	if (*s == '.') {
		if ((n = strspn(++s, "0123456789")) == 0)
			return false;
		s += n;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if ((n = strspn(s, "0123456789")) == 0)
			return false;
		s += n;
	}
	return *s == '\0';
}

/*
 * json-c keeps a fraction's text to write it out again, and takes "1.",
 * "-.5", NaN and Infinity: refuse those, and what overflows a double
 * (1e999), so that every number written back is JSON.  NULL when all is
 * well, else why not.
 */
static const char *
apibody_numbers(struct json_object *o)
{
	struct json_object_iterator	 it, end;
	const char			*why;
	size_t				 i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		if (!apibody_number(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN)))
			return "the body is not valid JSON";
		if (!isfinite(json_object_get_double(o)))
			return "the body holds a number out of range";
		return NULL;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++) {
			why = apibody_numbers(json_object_array_get_idx(o, i));
			if (why != NULL)
				return why;
		}
		return NULL;
	case json_type_object:
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			why = apibody_numbers(json_object_iter_peek_value(&it));
			if (why != NULL)
				return why;
		}
		return NULL;
	default:
		return NULL;
	}
}

/* A member that is present and not null. */
static bool
apibody_get(struct json_object *o, const char *key, struct json_object **v)
{
	return json_object_object_get_ex(o, key, v) &&
	    !json_object_is_type(*v, json_type_null);
}

/* An integer from 1 to 65535; 0 when absent. */
static int
apibody_port(struct json_object *root, const char *key, int *port)
{
	struct json_object	*v;

	*port = 0;
	if (!apibody_get(root, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 1 || json_object_get_int64(v) > 65535)
		return TUN_EINVAL;
	*port = json_object_get_int(v);
	return 0;
}

/* name and subdomain are the same field: either, or both alike. */
static int
apibody_name(struct apibody *b, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "subdomain" };
	struct json_object	*v;
	const char		*s;
	size_t			 i;

	for (i = 0; i < 2; i++) {
		if (!apibody_get(b->root, keys[i], &v))
			continue;
		if (!json_object_is_type(v, json_type_string) ||
		    !util_valid_name(s = json_object_get_string(v)))
			return apibody_fail(err, errlen, "name must match "
			    "[a-z0-9-]{1,63} (a DNS label)");
		if (b->name != NULL && strcmp(b->name, s) != 0)
			return apibody_fail(err, errlen,
			    "name and subdomain differ");
		b->name = s;
	}
	return 0;
}

/* name (or subdomain), local_port, type, remote_port, pool. */
static int
apibody_fields(struct apibody *b, char *err, size_t errlen)
{
	struct json_object	*v;
	const char		*s;
	int			 r;

	if ((r = apibody_name(b, err, errlen)) != 0)
		return r;
	if (apibody_port(b->root, "local_port", &b->local_port) != 0)
		return apibody_fail(err, errlen, "local_port must be an "
		    "integer from 1 to 65535");
	if (apibody_get(b->root, "type", &v)) {
		s = json_object_is_type(v, json_type_string) ?
		    json_object_get_string(v) : "";
		if (strcmp(s, "tcp") == 0)
			b->tcp = true;
		else if (strcmp(s, "http") != 0)
			return apibody_fail(err, errlen,
			    "type must be \"http\" or \"tcp\"");
	}
	if (apibody_port(b->root, "remote_port", &b->remote_port) != 0)
		return apibody_fail(err, errlen, "remote_port must be an "
		    "integer from 1 to 65535");
	if (b->remote_port != 0 && !b->tcp)
		return apibody_fail(err, errlen,
		    "remote_port is for tcp tunnels");
	if (apibody_get(b->root, "pool", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return apibody_fail(err, errlen,
			    "pool must be true or false");
		b->pool = json_object_get_boolean(v);
	}
	return 0;
}

/* basic_auth and allow_cidr: their types here, their values in api.c. */
static int
apibody_access(struct apibody *b, char *err, size_t errlen)
{
	struct json_object	*v, *e;
	size_t			 i, n;

	if (apibody_get(b->root, "basic_auth", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return apibody_fail(err, errlen,
			    "basic_auth must be \"user:password\"");
		b->basic_auth = json_object_get_string(v);
	}
	if (!apibody_get(b->root, "allow_cidr", &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		b->cidrs[b->ncidrs++] = json_object_get_string(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > APIBODY_MAX_CIDRS)
		return apibody_fail(err, errlen, "allow_cidr must be a CIDR "
		    "or a list of at most 64");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return apibody_fail(err, errlen,
			    "allow_cidr must hold strings");
		b->cidrs[b->ncidrs++] = json_object_get_string(e);
	}
	return 0;
}

/* An object, kept as compact JSON text of at most 4096 bytes. */
static int
apibody_metadata(struct apibody *b, char *err, size_t errlen)
{
	struct json_object	*v;
	const char		*s;

	if (!apibody_get(b->root, "metadata", &v))
		return 0;
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (!json_object_is_type(v, json_type_object) ||
	    strlen(s) > APIBODY_MAX_METADATA)
		return apibody_fail(err, errlen, "metadata must be a JSON "
		    "object of at most 4096 bytes");
	b->metadata = xstrdup(s);
	return 0;
}

/*
 * Parse len bytes of buf (no NUL needed) into *b: 0, or TUN_EINVAL
 * (TUN_ETOOBIG past TUNNELD_MAX_API_BODY) with the reason in err, and *b
 * emptied.  An empty body is every field absent.  On success the strings
 * in *b belong to it until apibody_free().
 */
int
apibody_parse(const char *buf, size_t len, struct apibody *b, char *err,
    size_t errlen)
{
	int	r;

	memset(b, 0, sizeof(*b));
	if (errlen > 0)
		*err = '\0';
	if (len > TUNNELD_MAX_API_BODY) {
		snprintf(err, errlen, "the body is over %d bytes",
		    TUNNELD_MAX_API_BODY);
		return TUN_ETOOBIG;
	}
	if (len == 0)
		return 0;
	if ((r = apibody_json(buf, len, &b->root, err, errlen)) != 0 ||
	    (r = apibody_fields(b, err, errlen)) != 0 ||
	    (r = apibody_access(b, err, errlen)) != 0 ||
	    (r = apibody_metadata(b, err, errlen)) != 0)
		goto out;
	return 0;
out:
	apibody_free(b);
	return r;
}

/* Frees what apibody_parse() kept; *b is empty again. */
void
apibody_free(struct apibody *b)
{
	json_object_put(b->root);
	free(b->metadata);
	memset(b, 0, sizeof(*b));
}
