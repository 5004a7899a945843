/*
 * Tunnels and reserved names survive a restart: state_dir/tunnels.json is
 * rewritten atomically (temporary file, fsync, rename, fsync of the
 * directory) whenever a tunnel is made, deleted or given a new token.
 * Tokens are stored as SHA-256 only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define STATE_FILE	"tunnels.json"
#define STATE_MAX	(64 * 1024 * 1024)

static void	 state_add_json(struct tunnel *, void *);
static struct tunnel *state_tunnel(struct json_object *);

static void
state_add_json(struct tunnel *t, void *arg)
{
	struct json_object	*arr = arg, *o = json_object_new_object();
	struct json_object	*more;
	int			 i;

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "owner", json_object_new_string(t->owner));
	json_object_object_add(o, "token_sha256",
	    json_object_new_string(t->token_hash[0]));
	if (t->ntokens > 1) {
		more = json_object_new_array();
		for (i = 1; i < t->ntokens; i++)
			json_object_array_add(more,
			    json_object_new_string(t->token_hash[i]));
		json_object_object_add(o, "more_tokens_sha256", more);
	}
	if (t->tcp_port > 0)
		json_object_object_add(o, "tcp_port",
		    json_object_new_int(t->tcp_port));
	json_object_object_add(o, "type", json_object_new_string(t->type));
	json_object_object_add(o, "named", json_object_new_boolean(t->named));
	json_object_object_add(o, "local_port",
	    json_object_new_int(t->local_port));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(t->created_at));
	json_object_object_add(o, "last_active",
	    json_object_new_int64(t->last_active));
	if (t->metadata != NULL)
		json_object_object_add(o, "metadata",
		    json_tokener_parse(t->metadata));
	if (t->auth_user != NULL) {
		json_object_object_add(o, "basic_auth_user",
		    json_object_new_string(t->auth_user));
		json_object_object_add(o, "basic_auth_salt",
		    json_object_new_string(t->auth_salt));
		json_object_object_add(o, "basic_auth_sha256",
		    json_object_new_string(t->auth_hash));
	}
	if (t->nallow > 0)
		json_object_object_add(o, "allow_cidr", tunnel_allow_json(t));
	json_object_array_add(arr, o);
}

/*
 * Replace path with len bytes atomically: a temporary file, fsync, rename,
 * fsync of the directory.  Also for history.c's uptime file.
 */
int
state_write(const char *path, const void *data, size_t len)
{
	const char	*text = data;
	char		*tmp, *dir, *slash;
	int		 fd, dfd, r = TUN_EIO;
	size_t		 off = 0;
	ssize_t		 n;

	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	    == -1) {
		log_warn("state: %s: %s", tmp, strerror(errno));
		free(tmp);
		return TUN_EIO;
	}
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			log_warn("state: write %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		log_warn("state: fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) == -1) {
		log_warn("state: rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		if ((dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) != -1) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	free(dir);
	r = 0;
out:
	close(fd);
	if (r != 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* Caller holds the registry lock. */
int
state_save_locked(void)
{
	struct json_object	*root, *arr;
	const char		*text;
	char			*path;
	int			 r;

	if (cfg.state_dir == NULL)
		return 0;
	root = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(root, "version", json_object_new_int(1));
	registry_foreach_locked(state_add_json, arr);
	json_object_object_add(root, "tunnels", arr);
	xasprintf(&path, "%s/%s", cfg.state_dir, STATE_FILE);
	text = json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = state_write(path, text, strlen(text));
	free(path);
	json_object_put(root);
	return r;
}

static const char *
state_str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct tunnel *
state_tunnel(struct json_object *o)
{
	struct tunnel		*t;
	struct json_object	*v;
	const char		*id, *owner, *hash, *type;
	const char		*user, *salt = NULL, *ahash = NULL;
	const char		*cidrs[64], *err;
	size_t			 i, n;

	if ((id = state_str(o, "id")) == NULL || !util_valid_name(id) ||
	    (owner = state_str(o, "owner")) == NULL ||
	    (hash = state_str(o, "token_sha256")) == NULL ||
	    strlen(hash) != UTIL_SHA256_HEX - 1)
		return NULL;
	t = tunnel_new(id, owner);
	util_strlcpy(t->token_hash[0], hash, sizeof(t->token_hash[0]));
	t->ntokens = 1;
	if (json_object_object_get_ex(o, "more_tokens_sha256", &v) &&
	    json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v) &&
		    t->ntokens < TUNNELD_POOL_MAX; i++) {
			hash = json_object_get_string(
			    json_object_array_get_idx(v, i));
			if (hash != NULL && strlen(hash) == UTIL_SHA256_HEX - 1)
				util_strlcpy(t->token_hash[t->ntokens++], hash,
				    UTIL_SHA256_HEX);
		}
	}
	if (json_object_object_get_ex(o, "tcp_port", &v))
		t->tcp_port = json_object_get_int(v);
	if ((type = state_str(o, "type")) != NULL)
		util_strlcpy(t->type, type, sizeof(t->type));
	if (json_object_object_get_ex(o, "named", &v))
		t->named = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "local_port", &v))
		t->local_port = json_object_get_int(v);
	if (json_object_object_get_ex(o, "created_at", &v))
		t->created_at = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "last_active", &v))
		t->last_active = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "metadata", &v))
		t->metadata = xstrdup(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
	if ((user = state_str(o, "basic_auth_user")) != NULL &&
	    (salt = state_str(o, "basic_auth_salt")) != NULL &&
	    (ahash = state_str(o, "basic_auth_sha256")) != NULL)
		tunnel_set_auth_hash(t, user, salt, ahash);
	if (json_object_object_get_ex(o, "allow_cidr", &v) &&
	    json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		if (n > 64)
			n = 64;
		for (i = 0; i < n; i++)
			cidrs[i] = json_object_get_string(
			    json_object_array_get_idx(v, i));
		if (tunnel_set_access(t, NULL, cidrs, n, &err) != 0) {
			/* Fail closed: a list we cannot read lets nobody in. */
			cidrs[0] = "255.255.255.255/32";
			(void)tunnel_set_access(t, NULL, cidrs, 1, &err);
		}
		if (user != NULL && salt != NULL && ahash != NULL)
			tunnel_set_auth_hash(t, user, salt, ahash);
	}
	/* Idle time counts from this start: the agent could not connect. */
	t->disconnected_at = util_wall_s();
	return t;
}

int
state_load(void)
{
	struct json_object	*root = NULL, *arr, *o;
	struct tunnel		*t;
	char			*path;
	size_t			 i, n = 0;
	int			 r = 0;

	xasprintf(&path, "%s/%s", cfg.state_dir, STATE_FILE);
	if (access(path, F_OK) != 0) {
		free(path);
		return 0;
	}
	if ((root = json_object_from_file(path)) == NULL ||
	    !json_object_object_get_ex(root, "tunnels", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		log_error("state: %s is damaged; move it away to start "
		    "without saved tunnels", path);
		r = TUN_EINVAL;
		goto out;
	}
	registry_lock();
	for (i = 0; i < json_object_array_length(arr); i++) {
		o = json_object_array_get_idx(arr, i);
		if ((t = state_tunnel(o)) == NULL) {
			log_warn("state: %s: entry %zu ignored", path, i);
			continue;
		}
		if (registry_add_locked(t) != 0)
			tunnel_free(t);
		else
			n++;
	}
	registry_unlock();
	log_info("state: %zu tunnels loaded from %s", n, path);
out:
	json_object_put(root);
	free(path);
	return r;
}
