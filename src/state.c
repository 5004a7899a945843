/*
 * Tunnels and reserved names survive a restart: state_dir/tunnels.json is
 * rewritten atomically (temporary file, fsync, rename, fsync of the
 * directory) whenever a tunnel is made, deleted or given a new token.
 * Tokens are stored as SHA-256 only.
 *
 * The writing is done by a thread of its own, so that the registry lock
 * is held only while the tunnels are turned into text, never across the
 * file system: state_save_locked() asks for a save, and an API call that
 * must not answer before its change is on disk waits in state_sync().
 * Changes made while a save is being written go out together in the next
 * one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
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
static char	*state_text_locked(void);
static int	 state_put(char *);
static void	*state_main(void *);

static struct {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 wake;		/* to the writer: a save is wanted */
	pthread_cond_t	 done;		/* from it: st.written moved */
	uint64_t	 wanted;	/* saves asked for */
	uint64_t	 written;	/* the last of them on disk (or tried) */
	bool		 running, stop;
	pthread_t	 thread;
} st = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER
};
static _Thread_local uint64_t	 st_mine;	/* this thread's last ask */

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

/* The state file's text; caller holds the registry lock. */
static char *
state_text_locked(void)
{
	struct json_object	*root, *arr;
	char			*text;

	root = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(root, "version", json_object_new_int(1));
	registry_foreach_locked(state_add_json, arr);
	json_object_object_add(root, "tunnels", arr);
	text = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return text;
}

static int
state_put(char *text)
{
	char	*path;
	int	 r;

	xasprintf(&path, "%s/%s", cfg.state_dir, STATE_FILE);
	r = state_write(path, text, strlen(text));
	free(path);
	free(text);
	return r;
}

/*
 * Caller holds the registry lock.  With the writer running, this only
 * asks for a save; before it starts and after it stops, it writes.
 */
int
state_save_locked(void)
{
	if (cfg.state_dir == NULL)
		return 0;
	pthread_mutex_lock(&st.mtx);
	if (!st.running) {
		pthread_mutex_unlock(&st.mtx);
		return state_put(state_text_locked());
	}
	st_mine = ++st.wanted;
	pthread_cond_signal(&st.wake);
	pthread_mutex_unlock(&st.mtx);
	return 0;
}

/* Without the registry lock: until this thread's last save is written. */
void
state_sync(void)
{
	pthread_mutex_lock(&st.mtx);
	while (st.running && st.written < st_mine)
		pthread_cond_wait(&st.done, &st.mtx);
	pthread_mutex_unlock(&st.mtx);
}

static void *
state_main(void *arg)
{
	uint64_t	 gen;
	char		*text;

	(void)arg;
	pthread_mutex_lock(&st.mtx);
	for (;;) {
		while (st.written == st.wanted && !st.stop)
			pthread_cond_wait(&st.wake, &st.mtx);
		if (st.written == st.wanted)
			break;		/* stopping, nothing left */
		gen = st.wanted;
		pthread_mutex_unlock(&st.mtx);
		registry_lock();
		text = state_text_locked();
		registry_unlock();
		(void)state_put(text);
		pthread_mutex_lock(&st.mtx);
		st.written = gen;
		pthread_cond_broadcast(&st.done);
	}
	pthread_mutex_unlock(&st.mtx);
	return NULL;
}

int
state_start(void)
{
	if (cfg.state_dir == NULL)
		return 0;
	if (pthread_create(&st.thread, NULL, state_main, NULL) != 0)
		return TUN_EIO;
	pthread_mutex_lock(&st.mtx);
	st.running = true;
	pthread_mutex_unlock(&st.mtx);
	return 0;
}

/* Write what was asked for, and go back to writing in the caller. */
void
state_stop(void)
{
	pthread_mutex_lock(&st.mtx);
	if (!st.running) {
		pthread_mutex_unlock(&st.mtx);
		return;
	}
	st.stop = true;
	pthread_cond_signal(&st.wake);
	pthread_mutex_unlock(&st.mtx);
	pthread_join(st.thread, NULL);
	pthread_mutex_lock(&st.mtx);
	st.running = false;
	pthread_cond_broadcast(&st.done);
	pthread_mutex_unlock(&st.mtx);
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
