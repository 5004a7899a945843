/*
 * Configuration: one table of keys, read from the built-in defaults, then
 * the config file, then TUNNELD_* environment variables, then --long
 * options; a later source beats an earlier one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "jwt.h"
#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/tunneld/tunneld.conf"

enum opt_type {
	OPT_STR,
	OPT_INT,
	OPT_LLONG,
	OPT_APIKEY,
	OPT_ADMINKEY,
	OPT_CIDRS,
	OPT_LOGLEVEL,
	OPT_LOGFORMAT
};

struct optdef {
	const char	*name;
	enum opt_type	 type;
	size_t		 off;
	long long	 min, max;
	const char	*arg;
	const char	*help;
};

#define O(f)	offsetof(struct config, f)
static const struct optdef optdefs[] = {
	{ "listen", OPT_STR, O(listen), 0, 0, "ADDR:PORT",
	    "address to listen on (default 0.0.0.0:8080)" },
	{ "public_url", OPT_STR, O(public_url), 0, 0, "URL",
	    "public base URL of the server, for tunnel URLs" },
	{ "domain", OPT_STR, O(domain), 0, 0, "DOMAIN",
	    "serve tunnels as ID.DOMAIN (host routing)" },
	{ "api_key", OPT_APIKEY, 0, 0, 0, "[NAME:]KEY",
	    "an API key (repeatable; a bare key is named default)" },
	{ "api_key_file", OPT_STR, O(api_key_file), 0, 0, "FILE",
	    "file of NAME:KEY lines, see tunneld.conf(5)" },
	{ "admin_key", OPT_ADMINKEY, 0, 0, 0, "KEY",
	    "the admin key: sees and deletes every tunnel" },
	{ "tls_cert", OPT_STR, O(tls_cert), 0, 0, "FILE",
	    "serve HTTPS with this certificate chain (PEM)" },
	{ "tls_key", OPT_STR, O(tls_key), 0, 0, "FILE",
	    "the certificate's private key (PEM)" },
	{ "tls_priority", OPT_STR, O(tls_priority), 0, 0, "STRING",
	    "GnuTLS priority string (default NORMAL; TLS 1.2 at least)" },
	{ "redirect_listen", OPT_STR, O(redirect_listen), 0, 0, "ADDR:PORT",
	    "plain HTTP listener that redirects to https" },
	{ "request_timeout", OPT_INT, O(request_timeout), 0, 86400, "SECONDS",
	    "answer 504 when no response head comes in time (default 30)" },
	{ "max_tunnels", OPT_INT, O(max_tunnels), 0, 10000000, "N",
	    "tunnels in total (default 100; 0: no limit)" },
	{ "max_header_size", OPT_INT, O(max_header_size), 1024, 1048576,
	    "BYTES", "request header size, 431 past it (default 65536)" },
	{ "max_body_size", OPT_LLONG, O(max_body_size), 0, INT64_MAX, "BYTES",
	    "request body size, 413 past it (default 0: no limit)" },
	{ "max_streams", OPT_INT, O(max_streams), 0, 1000000, "N",
	    "concurrent requests per agent connection, 503 past it "
	    "(default 1000)" },
	{ "heartbeat_interval", OPT_INT, O(heartbeat_interval), 0, 3600,
	    "SECONDS", "ping agents this often (default 10)" },
	{ "idle_timeout", OPT_INT, O(idle_timeout), 0, 31536000, "SECONDS",
	    "remove random-id tunnels without an agent (default 3600)" },
	{ "cleanup_interval", OPT_INT, O(cleanup_interval), 1, 86400,
	    "SECONDS", "how often to look for idle tunnels (default 60)" },
	{ "rate_limit", OPT_INT, O(rate_limit), 0, 1000000, "N",
	    "API requests a second per key and address (default 0: none)" },
	{ "tunnel_rate_limit", OPT_INT, O(tunnel_rate_limit), 0, 1000000, "N",
	    "requests a second per tunnel (default 0: none)" },
	{ "max_conns_per_ip", OPT_INT, O(max_conns_per_ip), 0, 1000000, "N",
	    "connections at once per address (default 256)" },
	{ "connection_timeout", OPT_INT, O(connection_timeout), 0, 86400,
	    "SECONDS", "close connections idle this long (default 60)" },
	{ "deny_file", OPT_STR, O(deny_file), 0, 0, "FILE",
	    "tunnel names and addresses refused with 403" },
	{ "trusted_proxies", OPT_CIDRS, 0, 0, 0, "CIDR,...",
	    "proxies whose X-Forwarded-* headers are kept" },
	{ "tcp_ports", OPT_STR, O(tcp_ports), 0, 0, "LOW-HIGH",
	    "ports for TCP tunnels, e.g. 20000-20999 (default: none)" },
	{ "state_dir", OPT_STR, O(state_dir), 0, 0, "DIR",
	    "where tunnels and the generated key are kept" },
	{ "metrics_listen", OPT_STR, O(metrics_listen), 0, 0, "ADDR:PORT",
	    "serve /metrics here too, without a key" },
	{ "log_level", OPT_LOGLEVEL, O(log_level), 0, 0, "LEVEL",
	    "error, warn, info or debug (default info)" },
	{ "threads", OPT_INT, O(threads), 0, 256, "N",
	    "HTTP worker threads (default: the number of CPUs)" },
	{ "port_file", OPT_STR, O(port_file), 0, 0, "FILE",
	    "write the bound port here once listening" },
	{ "drain_timeout", OPT_INT, O(drain_timeout), 0, 3600, "SECONDS",
	    "on SIGTERM, wait this long for requests (default 10)" },
	{ "jwt_secret", OPT_STR, O(jwt_secret), 0, 0, "SECRET",
	    "accept HS256 JWTs signed with this secret" },
	{ "jwt_secret_file", OPT_STR, O(jwt_secret_file), 0, 0, "FILE",
	    "the HS256 JWT secret, read from a file" },
	{ "jwt_jwks_file", OPT_STR, O(jwt_jwks_file), 0, 0, "FILE",
	    "accept RS256 JWTs signed by a key of this JWKS" },
	{ "jwt_issuer", OPT_STR, O(jwt_issuer), 0, 0, "ISS",
	    "a JWT's iss claim must be this" },
	{ "jwt_audience", OPT_STR, O(jwt_audience), 0, 0, "AUD",
	    "a JWT's aud claim must hold this" },
	{ "log_format", OPT_LOGFORMAT, O(log_format), 0, 0, "FORMAT",
	    "text or json, one object a line (default text)" },
	{ "uptime_interval", OPT_INT, O(uptime_interval), 1, UPTIME_MAX_INTERVAL,
	    "SECONDS", "sample each tunnel's uptime this often (default 60)" },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};
#undef O

enum src { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_ARGV };

struct load_ctx {
	struct config	*cfg;
	enum src	 src;
	enum src	 keys_src;
	char		 err[256];
};

static const struct optdef *config_find(const char *);
static int	 config_set(struct load_ctx *, const struct optdef *,
		    const char *);
static int	 config_file_cb(void *, const char *, const char *,
		    const char *, const char *, int);
static int	 config_keyfile(struct config *, const char *);
static int	 config_push_key(struct config *, const struct apikey *,
		    char *, size_t);
static char	*config_default_state_dir(void);
static int	 config_mkdirs(const char *);
static int	 config_port_range(const char *, int *, int *);

void
config_defaults(struct config *c)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	c->listen = xstrdup("0.0.0.0:8080");
	c->request_timeout = 30;
	c->max_tunnels = 100;
	c->max_header_size = 65536;
	c->max_body_size = 0;
	c->max_streams = 1000;
	c->heartbeat_interval = 10;
	c->idle_timeout = 3600;
	c->cleanup_interval = 60;
	c->log_level = LOG_LEVEL_INFO;
	c->threads = n > 0 ? (int)n : 2;
	c->drain_timeout = 10;
	c->uptime_interval = 60;
	c->max_conns_per_ip = 256;
	c->connection_timeout = 60;
}

void
config_free(struct config *c)
{
	size_t	i;

	if (c->jwt_secret != NULL)
		explicit_bzero(c->jwt_secret, strlen(c->jwt_secret));
	jwt_verifier_free(c->jwt);
	free(c->jwt);
	for (i = 0; optdefs[i].name != NULL; i++)
		if (optdefs[i].type == OPT_STR)
			free(*(char **)(void *)((char *)c + optdefs[i].off));
	free(c->config_file);
	deny_free(c->deny);
	if (c->keys != NULL)
		explicit_bzero(c->keys, c->nkeys * sizeof(*c->keys));
	free(c->keys);
	free(c->trusted);
	memset(c, 0, sizeof(*c));
}

static const struct optdef *
config_find(const char *name)
{
	size_t	i;

	for (i = 0; optdefs[i].name != NULL; i++)
		if (strcmp(optdefs[i].name, name) == 0)
			return &optdefs[i];
	return NULL;
}

/* "NAME:KEY" or a bare "KEY" (named default). */
int
config_add_key(struct config *c, const char *spec, bool admin, char *err,
    size_t errlen)
{
	struct apikey	*k;
	const char	*colon = strchr(spec, ':'), *key = spec;
	char		 name[64] = "default";
	size_t		 i, n;

	if (admin)
		util_strlcpy(name, "admin", sizeof(name));
	else if (colon != NULL) {
		n = (size_t)(colon - spec);
		if (n == 0 || n >= sizeof(name)) {
			snprintf(err, errlen, "api_key: bad key name");
			return TUN_EINVAL;
		}
		memcpy(name, spec, n);
		name[n] = '\0';
		for (i = 0; i < n; i++) {
			if (!(name[i] == '-' || name[i] == '_' ||
			    name[i] == '.' || (name[i] >= '0' && name[i] <= '9')
			    || (name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= 'A' && name[i] <= 'Z'))) {
				snprintf(err, errlen, "api_key: bad key name "
				    "'%s'", name);
				return TUN_EINVAL;
			}
		}
		key = colon + 1;
	}
	if (strlen(key) < TUNNELD_MIN_KEY) {
		snprintf(err, errlen, "%s '%s' is too short: keys need at least "
		    "%d characters", admin ? "admin_key" : "api_key", name,
		    TUNNELD_MIN_KEY);
		return TUN_EINVAL;
	}
	for (i = 0; i < c->nkeys; i++) {
		if (strcmp(c->keys[i].name, name) == 0) {
			snprintf(err, errlen, "key name '%s' is used twice",
			    name);
			return TUN_EINVAL;
		}
	}
	c->keys = xreallocarray(c->keys, c->nkeys + 1, sizeof(*c->keys));
	k = &c->keys[c->nkeys++];
	memset(k, 0, sizeof(*k));
	util_strlcpy(k->name, name, sizeof(k->name));
	util_sha256_hex(key, strlen(key), k->hash);
	k->admin = admin;
	return 0;
}

static void
config_drop_keys(struct config *c, bool admin)
{
	size_t	i, j = 0;

	for (i = 0; i < c->nkeys; i++)
		if (c->keys[i].admin != admin)
			c->keys[j++] = c->keys[i];
	c->nkeys = j;
}

static int
config_set(struct load_ctx *lc, const struct optdef *o, const char *v)
{
	struct config	*c = lc->cfg;
	void		*p = (char *)c + o->off;
	const char	*errstr, *tok;
	char		*copy, *save = NULL;
	enum log_level	 lvl;
	enum log_format	 fmt;
	struct cidr	 cidr;
	long long	 n;

	switch (o->type) {
	case OPT_STR:
		free(*(char **)p);
		*(char **)p = *v != '\0' ? xstrdup(v) : NULL;
		return 0;
	case OPT_INT:
	case OPT_LLONG:
		n = util_strtonum(v, o->min, o->max, &errstr);
		if (errstr != NULL) {
			snprintf(lc->err, sizeof(lc->err), "%s: '%s' is %s "
			    "(%lld to %lld)", o->name, v, errstr, o->min,
			    o->max);
			return TUN_EINVAL;
		}
		if (o->type == OPT_INT)
			*(int *)p = (int)n;
		else
			*(long long *)p = n;
		return 0;
	case OPT_LOGLEVEL:
		if (log_level_parse(v, &lvl) != 0) {
			snprintf(lc->err, sizeof(lc->err), "log_level: '%s' is "
			    "not error, warn, info or debug", v);
			return TUN_EINVAL;
		}
		*(int *)p = (int)lvl;
		return 0;
	case OPT_LOGFORMAT:
		if (log_format_parse(v, &fmt) != 0) {
			snprintf(lc->err, sizeof(lc->err), "log_format: '%s' is "
			    "not text or json", v);
			return TUN_EINVAL;
		}
		*(int *)p = (int)fmt;
		return 0;
	case OPT_APIKEY:
	case OPT_ADMINKEY:
		/* A later source replaces the keys of an earlier one. */
		if (o->type == OPT_ADMINKEY)
			config_drop_keys(c, true);
		else if (lc->keys_src != lc->src) {
			config_drop_keys(c, false);
			lc->keys_src = lc->src;
		}
		return config_add_key(c, v, o->type == OPT_ADMINKEY, lc->err,
		    sizeof(lc->err));
	case OPT_CIDRS:
		free(c->trusted);
		c->trusted = NULL;
		c->ntrusted = 0;
		copy = xstrdup(v);
		for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save)) {
			if (util_cidr_parse(tok, &cidr) != 0) {
				snprintf(lc->err, sizeof(lc->err), "%s: '%s' "
				    "is not an address or CIDR", o->name, tok);
				free(copy);
				return TUN_EINVAL;
			}
			c->trusted = xreallocarray(c->trusted, c->ntrusted + 1,
			    sizeof(*c->trusted));
			c->trusted[c->ntrusted++] = cidr;
		}
		free(copy);
		return 0;
	}
	return TUN_EINVAL;
}

static int
config_file_cb(void *arg, const char *section, const char *name,
    const char *key, const char *value, int lineno)
{
	struct load_ctx		*lc = arg;
	const struct optdef	*o;
	char			 msg[200];

	if (section != NULL) {
		snprintf(lc->err, sizeof(lc->err), "line %d: unknown section "
		    "[%s]", lineno, section);
		return TUN_EINVAL;
	}
	if ((o = config_find(key)) == NULL) {
		snprintf(lc->err, sizeof(lc->err), "line %d: unknown key '%s'",
		    lineno, key);
		return TUN_EINVAL;
	}
	if (config_set(lc, o, value) != 0) {
		util_strlcpy(msg, lc->err, sizeof(msg));
		snprintf(lc->err, sizeof(lc->err), "line %d: %s", lineno, msg);
		return TUN_EINVAL;
	}
	return 0;
}

/* A parsed key, unless its name is taken. */
static int
config_push_key(struct config *c, const struct apikey *k, char *err,
    size_t errlen)
{
	size_t	i;

	for (i = 0; i < c->nkeys; i++) {
		if (strcmp(c->keys[i].name, k->name) == 0) {
			snprintf(err, errlen, "key name '%s' is used twice",
			    k->name);
			return TUN_EINVAL;
		}
	}
	c->keys = xreallocarray(c->keys, c->nkeys + 1, sizeof(*c->keys));
	c->keys[c->nkeys++] = *k;
	return 0;
}

/*
 * One "name:key [options]" or "name:sha256:HEX [options]" a line (see
 * keyfile.c); # comments and blank lines allowed.
 */
static int
config_keyfile(struct config *c, const char *path)
{
	struct apikey	 k;
	FILE		*f;
	char		 line[1024], err[256], *p;
	int		 lineno = 0, r = 0;

	if ((f = fopen(path, "re")) == NULL) {
		log_error("api_key_file %s: %s", path, strerror(errno));
		return TUN_EIO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			log_error("%s:%d: line too long", path, lineno);
			r = TUN_EINVAL;
			break;
		}
		p = util_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (keyfile_parse_line(p, &k, err, sizeof(err)) != 0 ||
		    config_push_key(c, &k, err, sizeof(err)) != 0) {
			log_error("%s:%d: %s", path, lineno, err);
			r = TUN_EINVAL;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	explicit_bzero(&k, sizeof(k));
	fclose(f);
	return r;
}

static char *
config_default_state_dir(void)
{
	const char	*v;
	char		*dir;

	if ((v = getenv("STATE_DIRECTORY")) != NULL && *v != '\0') {
		dir = xstrdup(v);	/* systemd: may be a list */
		dir[strcspn(dir, ":")] = '\0';
		return dir;
	}
	if (geteuid() == 0)
		return xstrdup(LOCALSTATEDIR "/lib/tunneld");
	if ((v = getenv("XDG_STATE_HOME")) != NULL && *v == '/')
		xasprintf(&dir, "%s/tunneld", v);
	else if ((v = getenv("HOME")) != NULL && *v == '/')
		xasprintf(&dir, "%s/.local/state/tunneld", v);
	else
		dir = xstrdup("/tmp/tunneld");
	return dir;
}

static int
config_mkdirs(const char *path)
{
	char	*p = xstrdup(path), *s;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

void
config_usage(FILE *f)
{
	const struct optdef	*o;
	char			 flag[64];
	size_t			 i;

	fprintf(f, "usage: tunneld [OPTIONS]\n\n"
	    "A self-hosted tunnel server: public URLs for local services "
	    "behind NAT.\n\nOptions (each also a key in %s and a TUNNELD_KEY "
	    "environment variable):\n", DEFAULT_CONFIG);
	fprintf(f, "  -c, --config FILE           read this config file\n");
	for (o = optdefs; o->name != NULL; o++) {
		snprintf(flag, sizeof(flag), "--%s %s", o->name, o->arg);
		for (i = 2; flag[i] != '\0' && flag[i] != ' '; i++)
			if (flag[i] == '_')
				flag[i] = '-';
		fprintf(f, "      %-24s%s%s\n", flag,
		    strlen(flag) >= 24 ? "\n                              " : "",
		    o->help);
	}
	fprintf(f, "      --hash-key              read a key on stdin, print the "
	    "sha256:HEX form\n"
	    "                              for api_key_file, and exit\n");
	fprintf(f, "  -f, --foreground            run in the foreground "
	    "(always the case)\n"
	    "  -h, --help                  show this help and exit\n"
	    "  -V, --version               show the version and exit\n\n"
	    "Command line beats environment beats file.  See tunneld(8) and "
	    "tunneld.conf(5).\n");
}

/* The argv option name ("request-timeout") as a key ("request_timeout"). */
static const struct optdef *
config_find_flag(const char *flag, char *key, size_t keylen)
{
	size_t	i;

	util_strlcpy(key, flag, keylen);
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] == '-')
			key[i] = '_';
	return config_find(key);
}

int
config_load(struct config *c, int argc, char **argv)
{
	struct load_ctx		 lc;
	const struct optdef	*o;
	const char		*v, *file = NULL;
	char			 key[64], envname[80], err[256], *eq, *arg;
	int			 i, r;
	bool			 explicit_file = false;

	memset(&lc, 0, sizeof(lc));
	lc.cfg = c;
	/* Pass 1: --config, --help and --version. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			config_usage(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "-V") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("tunneld %s (protocol %d)\n", PACKAGE_VERSION,
			    PROTOCOL_VERSION);
			exit(0);
		}
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			file = argv[++i];
			explicit_file = true;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
			explicit_file = true;
		}
	}
	if (file == NULL && (v = getenv("TUNNELD_CONFIG")) != NULL && *v) {
		file = v;
		explicit_file = true;
	}
	if (file == NULL)
		file = DEFAULT_CONFIG;
	c->config_file = xstrdup(file);
	lc.src = SRC_FILE;
	r = conf_parse_file(file, config_file_cb, &lc, err, sizeof(err));
	if (r == TUN_ENOENT && !explicit_file)
		r = 0;
	if (r != 0) {
		log_error("%s: %s", file, lc.err[0] ? lc.err : err);
		return TUN_EINVAL;
	}
	/* Environment: TUNNELD_LISTEN, TUNNELD_API_KEY ... */
	lc.src = SRC_ENV;
	for (o = optdefs; o->name != NULL; o++) {
		snprintf(envname, sizeof(envname), "TUNNELD_%s", o->name);
		for (i = 8; envname[i] != '\0'; i++)
			if (envname[i] >= 'a' && envname[i] <= 'z')
				envname[i] = (char)(envname[i] - 'a' + 'A');
		if ((v = getenv(envname)) == NULL)
			continue;
		if (config_set(&lc, o, v) != 0) {
			log_error("%s: %s", envname, lc.err);
			return TUN_EINVAL;
		}
	}
	/* Command line. */
	lc.src = SRC_ARGV;
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "-f") == 0 || strcmp(arg, "--foreground") == 0)
			continue;
		if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(arg, "--config=", 9) == 0)
			continue;
		if (strncmp(arg, "--", 2) != 0) {
			log_error("unexpected argument '%s' (see --help)", arg);
			return TUN_EINVAL;
		}
		util_strlcpy(key, arg + 2, sizeof(key));
		if ((eq = strchr(key, '=')) != NULL)
			*eq = '\0';
		if ((o = config_find_flag(key, key, sizeof(key))) == NULL) {
			log_error("unknown option '%s' (see --help)", arg);
			return TUN_EINVAL;
		}
		if ((eq = strchr(arg, '=')) != NULL)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			log_error("option '%s' needs a value", arg);
			return TUN_EINVAL;
		}
		if (config_set(&lc, o, v) != 0) {
			log_error("--%s: %s", o->name, lc.err);
			return TUN_EINVAL;
		}
	}
	if (c->api_key_file != NULL && config_keyfile(c, c->api_key_file) != 0)
		return TUN_EINVAL;
	if (c->deny_file != NULL && deny_load(c->deny_file, &c->deny, err,
	    sizeof(err)) != 0) {
		log_error("deny_file %s", err);
		return TUN_EINVAL;
	}
	if (c->tcp_ports != NULL && config_port_range(c->tcp_ports,
	    &c->tcp_lo, &c->tcp_hi) != 0) {
		log_error("tcp_ports %s: want LOW-HIGH (1-65535) or one port",
		    c->tcp_ports);
		return TUN_EINVAL;
	}
	if (keys_load_jwt(c) != 0)
		return TUN_EINVAL;
	if (c->state_dir == NULL)
		c->state_dir = config_default_state_dir();
	if (config_mkdirs(c->state_dir) != 0) {
		log_error("state_dir %s: %s", c->state_dir, strerror(errno));
		return TUN_EIO;
	}
	return 0;
}

/* "LOW-HIGH" or "PORT". */
static int
config_port_range(const char *s, int *lo, int *hi)
{
	char		 buf[32], *dash;
	const char	*e1 = NULL, *e2 = NULL;

	if (util_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return TUN_EINVAL;
	if ((dash = strchr(buf, '-')) != NULL)
		*dash++ = '\0';
	*lo = (int)util_strtonum(buf, 1, 65535, &e1);
	*hi = dash != NULL ? (int)util_strtonum(dash, 1, 65535, &e2) : *lo;
	if (e1 != NULL || e2 != NULL || *lo > *hi)
		return TUN_EINVAL;
	return 0;
}

/*
 * No key configured at all: use the one made on an earlier start, or make
 * one, store it (0600) and say how to use it.
 */
int
config_ensure_key(struct config *c)
{
	char	*path, buf[128], key[33], err[256], *p;
	FILE	*f;
	int	 fd;
	size_t	 i;

	for (i = 0; i < c->nkeys; i++)
		if (!c->keys[i].admin)
			return 0;
	if (c->jwt != NULL)		/* JWTs are the keys */
		return 0;
	xasprintf(&path, "%s/api_key", c->state_dir);
	if ((f = fopen(path, "re")) != NULL) {
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p == NULL || config_add_key(c, util_trim(buf), false, err,
		    sizeof(err)) != 0) {
			log_error("%s: no usable key in it (%s)", path,
			    p == NULL ? "empty" : err);
			explicit_bzero(buf, sizeof(buf));
			free(path);
			return TUN_EINVAL;
		}
		log_info("using the API key stored in %s", path);
		explicit_bzero(buf, sizeof(buf));
		free(path);
		return 0;
	}
	util_random_token(key, sizeof(key));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    == -1 || dprintf(fd, "%s\n", key) < 0 || close(fd) != 0) {
		log_error("cannot store a new API key in %s: %s", path,
		    strerror(errno));
		free(path);
		return TUN_EIO;
	}
	(void)config_add_key(c, key, false, err, sizeof(err));
	c->generated_key = true;
	printf("tunneld: no API key was configured, so one was made and stored "
	    "in %s (mode 0600):\n\n    %s\n\nExpose a local service on port "
	    "3000 with:\n\n    tunnel-client --server %s --api-key %s 3000\n\n",
	    path, key, tunneld_public_base(), key);
	fflush(stdout);
	explicit_bzero(key, sizeof(key));
	free(path);
	return 0;
}

/*
 * SIGHUP: read everything again; keys, limits, trusted proxies, the deny
 * list, the log level and the log format take effect at once, tunnels stay
 * up (but agents the new deny list names are dropped).  A config that does
 * not load, deny_file included, is refused and the running one kept.  The
 * listeners (listen, metrics_listen, redirect_listen), state_dir,
 * max_conns_per_ip and connection_timeout need a restart; the TLS
 * certificate and key are read again (tls.c).
 */
void
config_reload(int argc, char **argv)
{
	struct config	 n;
	struct apikey	*oldkeys;
	struct cidr	*oldtrusted;
	struct jwt_verifier *oldjwt;
	struct denylist	*olddeny;

	config_defaults(&n);
	if (config_load(&n, argc, argv) != 0 || config_ensure_key(&n) != 0) {
		log_error("reload: the new configuration is refused; keeping "
		    "the running one");
		config_free(&n);
		return;
	}
	if (strcmp(n.listen, cfg.listen) != 0 ||
	    strcmp(n.state_dir, cfg.state_dir) != 0 ||
	    n.uptime_interval != cfg.uptime_interval)
		log_warn("reload: listen, state_dir and uptime_interval change "
		    "only on restart");
	if ((n.metrics_listen == NULL) != (cfg.metrics_listen == NULL) ||
	    (n.metrics_listen != NULL &&
	    strcmp(n.metrics_listen, cfg.metrics_listen) != 0))
		log_warn("reload: metrics_listen changes only on restart");
	if (n.max_conns_per_ip != cfg.max_conns_per_ip ||
	    n.connection_timeout != cfg.connection_timeout)
		log_warn("reload: max_conns_per_ip and connection_timeout "
		    "change only on restart");
	pthread_rwlock_wrlock(&cfg_lock);
	oldkeys = cfg.keys;
	oldtrusted = cfg.trusted;
	cfg.keys = n.keys;
	cfg.nkeys = n.nkeys;
	cfg.trusted = n.trusted;
	cfg.ntrusted = n.ntrusted;
	n.keys = oldkeys;
	n.trusted = oldtrusted;
	oldjwt = cfg.jwt;
	cfg.jwt = n.jwt;
	n.jwt = oldjwt;
	olddeny = cfg.deny;
	cfg.deny = n.deny;
	n.deny = olddeny;
#define TAKE(f)	CFG_SET(f, n.f)
	TAKE(request_timeout);
	TAKE(max_tunnels);
	TAKE(max_header_size);
	TAKE(max_body_size);
	TAKE(max_streams);
	TAKE(heartbeat_interval);
	TAKE(idle_timeout);
	TAKE(cleanup_interval);
	TAKE(rate_limit);
	TAKE(tunnel_rate_limit);
	TAKE(drain_timeout);
	TAKE(log_level);
	TAKE(log_format);
#undef TAKE
	pthread_rwlock_unlock(&cfg_lock);
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)cfg.log_format);
	log_info("reload: %zu keys, limits, log level and format applied",
	    cfg.nkeys);
	if (cfg.deny != NULL)
		log_info("reload: deny list of %zu names and %zu addresses",
		    cfg.deny->nnames, cfg.deny->naddrs);
	tls_reload(&n);
	config_free(&n);
	registry_deny_sweep();
}
