/*
 * API keys: configured keys are kept as SHA-256 only and a presented key
 * is compared against every one of them in constant time.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "tunneld.h"

static __thread struct apikey	keys_found;

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

/* X-API-Key: KEY, or Authorization: Bearer KEY. */
const struct apikey *
keys_from_request(struct MHD_Connection *c)
{
	const char	*v;

	if ((v = http_header(c, "X-API-Key")) != NULL)
		return keys_check(v);
	if ((v = http_header(c, "Authorization")) != NULL &&
	    strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		return keys_check(v);
	}
	return NULL;
}
