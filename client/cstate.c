/*
 * Saved tunnels: the id and token of the tunnel last made for a server and
 * a set of tunnel settings, so that a restarted client gets its URL back.
 * One JSON file per settings hash under $XDG_STATE_HOME/tunnel-client/
 * (default ~/.local/state/tunnel-client/), directory 0700, files 0600,
 * written to a temporary file and renamed.
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
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define CSTATE_MAX_FILE	(64 * 1024)
#define CSTATE_MAX_TOKEN	1024
#define CSTATE_MAX_URL		2048

static char	*cstate_dir(void);
static int	 cstate_mkdirs(const char *);
static const char *cstate_str(struct json_object *, const char *);
static bool	 cstate_visible(const char *, size_t);

static char *
cstate_dir(void)
{
	const char	*x, *home;
	char		*p = NULL;

	if ((x = getenv("XDG_STATE_HOME")) != NULL && x[0] == '/')
		xasprintf(&p, "%s/tunnel-client", x);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		xasprintf(&p, "%s/.local/state/tunnel-client", home);
	return p;
}

/*
 * The file for these settings: everything that goes into the create call
 * and the API key (a token made for one key is no use to another).
 */
char *
cstate_path(const struct options *o, const struct tunnel_conf *t)
{
	char	*dir, *material, hash[UTIL_SHA256_HEX], *path;
	char	*cidrs = NULL, *tmp;
	size_t	 i;

	if ((dir = cstate_dir()) == NULL)
		return NULL;
	cidrs = xstrdup("");
	for (i = 0; i < t->nallow_cidr; i++) {
		xasprintf(&tmp, "%s%s,", cidrs, t->allow_cidr[i]);
		free(cidrs);
		cidrs = tmp;
	}
	xasprintf(&material, "v1\n%s\n%s\n%s\n%d\n%s\n%s\n%s\n%s\n",
	    o->server, o->api_key ? o->api_key : "", t->host, t->port,
	    t->tcp ? "tcp" : "http", t->subdomain ? t->subdomain : "",
	    t->basic_auth ? t->basic_auth : "", cidrs);
	util_sha256_hex(material, strlen(material), hash);
	freezero(material, strlen(material));
	free(cidrs);
	hash[24] = '\0';
	xasprintf(&path, "%s/tunnel-%s.json", dir, hash);
	free(dir);
	return path;
}

static const char *
cstate_str(struct json_object *obj, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))	/* a \u0000 inside */
		return NULL;
	return json_object_get_string(v);
}

/*
 * 1..max bytes of visible ASCII, no blanks: fit for a request header and
 * for the terminal.
 */
static bool
cstate_visible(const char *s, size_t max)
{
	const unsigned char	*p;

	if (s[0] == '\0' || strlen(s) > max)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	}
	return true;
}

void
tunnel_info_clear(struct tunnel_info *ti)
{
	free(ti->tunnel_id);
	if (ti->token != NULL)
		freezero(ti->token, strlen(ti->token));
	free(ti->url);
	memset(ti, 0, sizeof(*ti));
}

/*
 * TUN_ENOENT: nothing saved (or saved for another server).  A symbolic
 * link, a FIFO or any other non-regular file is damaged (TUN_EINVAL), never
 * followed or waited on.
 */
int
cstate_load(const char *path, const char *server, struct tunnel_info *ti)
{
	struct json_object	*obj = NULL;
	struct stat		 sb;
	const char		*id, *tok, *url, *srv;
	char			*buf = NULL;
	ssize_t			 n;
	int			 fd, r = TUN_ENOENT;

	memset(ti, 0, sizeof(*ti));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return TUN_ENOENT;
		if (errno != ELOOP)
			return TUN_EIO;
		log_warn("%s: ignoring a damaged saved tunnel", path);
		return TUN_EINVAL;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CSTATE_MAX_FILE) {
		r = TUN_EINVAL;
		goto out;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	if ((n = read(fd, buf, (size_t)sb.st_size)) != sb.st_size) {
		r = TUN_EIO;
		goto out;
	}
	buf[n] = '\0';
	if ((obj = json_tokener_parse(buf)) == NULL ||
	    !json_object_is_type(obj, json_type_object)) {
		r = TUN_EINVAL;
		goto out;
	}
	id = cstate_str(obj, "tunnel_id");
	tok = cstate_str(obj, "auth_token");
	url = cstate_str(obj, "url");
	srv = cstate_str(obj, "server");
	if (id == NULL || tok == NULL || url == NULL || srv == NULL ||
	    !util_valid_name(id) || !cstate_visible(tok, CSTATE_MAX_TOKEN) ||
	    !cstate_visible(url, CSTATE_MAX_URL)) {
		r = TUN_EINVAL;
		goto out;
	}
	if (strcmp(srv, server) != 0)
		goto out;
	ti->tunnel_id = xstrdup(id);
	ti->token = xstrdup(tok);
	ti->url = xstrdup(url);
	r = 0;
out:
	if (r == TUN_EINVAL)
		log_warn("%s: ignoring a damaged saved tunnel", path);
	json_object_put(obj);
	if (buf != NULL)
		freezero(buf, (size_t)sb.st_size + 1);
	close(fd);
	return r;
}

static int
cstate_mkdirs(const char *path)
{
	char	*dir, *p, c;
	int	 r = 0;

	dir = xstrdup(path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		goto out;
	*p = '\0';
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			r = TUN_EIO;
			goto out;
		}
		*p = c;
		if (c == '\0')
			break;
	}
out:
	free(dir);
	return r;
}

int
cstate_save(const char *path, const char *server, const struct tunnel_info *ti)
{
	struct json_object	*obj;
	const char		*text;
	char			*tmp = NULL;
	size_t			 len;
	int			 fd = -1, r = TUN_EIO;

	obj = json_object_new_object();
	json_object_object_add(obj, "server", json_object_new_string(server));
	json_object_object_add(obj, "tunnel_id",
	    json_object_new_string(ti->tunnel_id));
	json_object_object_add(obj, "auth_token",
	    json_object_new_string(ti->token));
	json_object_object_add(obj, "url", json_object_new_string(ti->url));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY);
	len = strlen(text);
	if (cstate_mkdirs(path) != 0)
		goto out;
	xasprintf(&tmp, "%s.tmp%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		goto out;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto out;
	r = 0;
out:
	if (r != 0) {
		log_warn("cannot save the tunnel in %s: %s", path,
		    strerror(errno));
		if (tmp != NULL)
			unlink(tmp);
	}
	if (fd != -1)
		close(fd);
	free(tmp);
	json_object_put(obj);
	return r;
}

void
cstate_remove(const char *path)
{
	if (path != NULL && unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}
