/*
 * The control API, with blocking libcurl easy calls from the main thread:
 * only tunnel creation for now.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define API_MAX_BODY	(64 * 1024)

static size_t	 api_write(char *, size_t, size_t, void *);
static int	 api_progress(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static char	*api_body(const struct tunnel_conf *);
static int	 api_answer(long, struct tbuf *, struct tunnel_info *, char *,
		    size_t);

static size_t
api_write(char *p, size_t size, size_t n, void *arg)
{
	struct tbuf	*b = arg;

	if (tbuf_put(b, p, size * n) != 0)
		return 0;
	return size * n;
}

/* Give up at once when asked to stop. */
static int
api_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	return client_stopping() ? 1 : 0;
}

/* Verification of the server: --ca-file, or none with --insecure. */
void
api_set_tls(CURL *e, const struct options *o)
{
	if (o->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	if (o->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

static char *
api_body(const struct tunnel_conf *t)
{
	struct json_object	*obj, *arr;
	char			*s;
	size_t			 i;

	obj = json_object_new_object();
	json_object_object_add(obj, "type", json_object_new_string(t->tcp ?
	    "tcp" : "http"));
	json_object_object_add(obj, "local_port", json_object_new_int(t->port));
	if (t->remote_port > 0)
		json_object_object_add(obj, "remote_port",
		    json_object_new_int(t->remote_port));
	if (t->pool)
		json_object_object_add(obj, "pool",
		    json_object_new_boolean(true));
	if (t->subdomain != NULL)
		json_object_object_add(obj, "subdomain",
		    json_object_new_string(t->subdomain));
	if (t->basic_auth != NULL)
		json_object_object_add(obj, "basic_auth",
		    json_object_new_string(t->basic_auth));
	if (t->nallow_cidr > 0) {
		arr = json_object_new_array();
		for (i = 0; i < t->nallow_cidr; i++)
			json_object_array_add(arr,
			    json_object_new_string(t->allow_cidr[i]));
		json_object_object_add(obj, "allow_cidr", arr);
	}
	s = xstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	return s;
}

static int
api_answer(long status, struct tbuf *b, struct tunnel_info *ti, char *err,
    size_t errlen)
{
	struct json_object	*obj = NULL, *v;
	const char		*id = NULL, *tok = NULL, *url = NULL, *msg = NULL;
	char			*text;
	int			 r;

	text = xstrndup((const char *)tbuf_ptr(b), tbuf_len(b));
	obj = json_tokener_parse(text);
	if (obj != NULL && json_object_is_type(obj, json_type_object)) {
		if (json_object_object_get_ex(obj, "tunnel_id", &v))
			id = json_object_get_string(v);
		if (json_object_object_get_ex(obj, "auth_token", &v))
			tok = json_object_get_string(v);
		if (json_object_object_get_ex(obj, "url", &v))
			url = json_object_get_string(v);
		if (json_object_object_get_ex(obj, "error", &v))
			msg = json_object_get_string(v);
	}
	if (status == 200 || status == 201) {
		if (id == NULL || tok == NULL || url == NULL ||
		    !util_valid_name(id) || tok[0] == '\0') {
			snprintf(err, errlen, "the server's answer lacks "
			    "tunnel_id, auth_token or url");
			r = TUN_EAGAIN;
			goto out;
		}
		ti->tunnel_id = xstrdup(id);
		ti->token = xstrdup(tok);
		ti->url = xstrdup(url);
		r = 0;
		goto out;
	}
	snprintf(err, errlen, "HTTP %ld%s%s", status, msg ? ": " : "",
	    msg ? msg : "");
	switch (status) {
	case 401:
		r = TUN_EPERM;
		break;
	case 400:
	case 403:		/* the name, or the address, is refused */
	case 404:
	case 409:
	case 413:
		r = TUN_EINVAL;
		break;
	default:
		r = TUN_EAGAIN;
		break;
	}
out:
	json_object_put(obj);
	freezero(text, strlen(text));
	return r;
}

/*
 * POST {server}/api/tunnels.  Returns 0, TUN_EPERM (the key was refused),
 * TUN_EINVAL (a permanent error: message in err), TUN_EAGAIN (transient:
 * message in err) or TUN_ECLOSED (asked to stop).
 */
int
api_create(const struct options *o, const struct server_url *srv,
    const struct tunnel_conf *t, struct tunnel_info *ti, char *err,
    size_t errlen)
{
	CURL			*e;
	struct curl_slist	*hdrs = NULL;
	struct tbuf		 b;
	char			*url = NULL, *body, *keyhdr = NULL;
	char			 cerr[CURL_ERROR_SIZE];
	long			 status = 0;
	CURLcode		 cc;
	int			 r;

	memset(ti, 0, sizeof(*ti));
	err[0] = cerr[0] = '\0';
	tbuf_init(&b, API_MAX_BODY);
	body = api_body(t);
	xasprintf(&url, "%s/api/tunnels", srv->base);
	if (o->api_key != NULL)
		xasprintf(&keyhdr, "X-API-Key: %s", o->api_key);
	if ((e = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		r = TUN_EAGAIN;
		goto out;
	}
	hdrs = xcurl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = xcurl_slist_append(hdrs, "Accept: application/json");
	hdrs = xcurl_slist_append(hdrs, "Expect:");
	if (keyhdr != NULL)
		hdrs = xcurl_slist_append(hdrs, keyhdr);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_USERAGENT, TC_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, api_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, api_progress);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)TC_API_TIMEOUT);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	api_set_tls(e, o);
	cc = curl_easy_perform(e);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		r = TUN_ECLOSED;
		goto out;
	}
	if (cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE) {
		snprintf(err, errlen, "the server's certificate failed "
		    "verification (%s); give its CA with --ca-file, or use "
		    "--insecure", cerr[0] ? cerr : curl_easy_strerror(cc));
		r = TUN_EINVAL;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr :
		    curl_easy_strerror(cc));
		r = TUN_EAGAIN;
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	r = api_answer(status, &b, ti, err, errlen);
out:
	if (e != NULL)
		curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	if (keyhdr != NULL)
		freezero(keyhdr, strlen(keyhdr));
	freezero(body, strlen(body));
	free(url);
	tbuf_free(&b);
	return r;
}
