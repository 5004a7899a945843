/*
 * Settings: the command line beats the environment (TUNNEL_SERVER,
 * TUNNEL_API_KEY), which beats the config file
 * ($XDG_CONFIG_HOME/tunnel-client/config or --config FILE).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "httphdr.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

/* What the command line gave; NULL or 0 where it said nothing. */
struct cli {
	struct options		 o;		/* top-level settings */
	struct tunnel_conf	 t;
	bool			 insecure;
	bool			 https;
	bool			 tcp;
	bool			 have_ct, have_rt;
	bool			 all;		/* --all */
	bool			 pool;		/* --pool */
	bool			 no_inspect;	/* --no-inspect */
	bool			 have_imax, have_icap;
	const char		*target;
	char			**start;	/* start NAME...: argv slice */
	int			 nstart;
};

enum {
	OPT_SERVER = 256, OPT_API_KEY, OPT_PORT, OPT_HOST, OPT_SUBDOMAIN,
	OPT_TCP, OPT_HTTPS, OPT_CA_FILE, OPT_INSECURE, OPT_CONNECT_TIMEOUT,
	OPT_REQUEST_TIMEOUT, OPT_BASIC_AUTH, OPT_ALLOW_CIDR, OPT_HOST_HEADER,
	OPT_CONFIG, OPT_NEW, OPT_ALL, OPT_REMOTE_PORT, OPT_POOL, OPT_INSPECT,
	OPT_NO_INSPECT, OPT_CAPTURE_FILE, OPT_INSPECT_MAX, OPT_INSPECT_BODY_CAP
};

static const struct option options_long[] = {
	{ "server",		required_argument, NULL, OPT_SERVER },
	{ "api-key",		required_argument, NULL, OPT_API_KEY },
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "host",		required_argument, NULL, OPT_HOST },
	{ "name",		required_argument, NULL, OPT_SUBDOMAIN },
	{ "subdomain",		required_argument, NULL, OPT_SUBDOMAIN },
	{ "tcp",		no_argument,	   NULL, OPT_TCP },
	{ "https",		no_argument,	   NULL, OPT_HTTPS },
	{ "ca-file",		required_argument, NULL, OPT_CA_FILE },
	{ "insecure",		no_argument,	   NULL, OPT_INSECURE },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "request-timeout",	required_argument, NULL, OPT_REQUEST_TIMEOUT },
	{ "basic-auth",		required_argument, NULL, OPT_BASIC_AUTH },
	{ "allow-cidr",		required_argument, NULL, OPT_ALLOW_CIDR },
	{ "host-header",	required_argument, NULL, OPT_HOST_HEADER },
	{ "config",		required_argument, NULL, OPT_CONFIG },
	{ "new",		no_argument,	   NULL, OPT_NEW },
	{ "all",		no_argument,	   NULL, OPT_ALL },
	{ "remote-port",	required_argument, NULL, OPT_REMOTE_PORT },
	{ "pool",		no_argument,	   NULL, OPT_POOL },
	{ "inspect",		required_argument, NULL, OPT_INSPECT },
	{ "no-inspect",		no_argument,	   NULL, OPT_NO_INSPECT },
	{ "capture-file",	required_argument, NULL, OPT_CAPTURE_FILE },
	{ "inspect-max",	required_argument, NULL, OPT_INSPECT_MAX },
	{ "inspect-body-cap",	required_argument, NULL, OPT_INSPECT_BODY_CAP },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL,			0,		   NULL, 0 }
};

static int	 options_cli(struct cli *, int, char **);
static int	 options_file(struct options *, const char *, bool);
static int	 options_conf_cb(void *, const char *, const char *,
		    const char *, const char *, int);
static int	 options_tunnel_key(struct tunnel_conf *, const char *,
		    const char *);
static int	 options_number(const char *, const char *, long long,
		    long long, int *);
static int	 options_check_tunnel(struct tunnel_conf *);
static int	 options_select(struct options *, struct cli *);
static void	 options_overlay(struct tunnel_conf *, struct cli *);
static void	 options_set(char **, const char *);
static void	 options_add_cidr(struct tunnel_conf *, const char *);
static void	 options_tunnel_free(struct tunnel_conf *);
static bool	 options_valid_host(const char *);
static char	*options_inspect_addr(const char *);
static int	 options_inspect(struct options *, struct cli *);
static char	*options_default_config(void);

void
options_usage(FILE *fp)
{
	fprintf(fp,
"Usage: tunnel-client [OPTIONS] [PORT | HOST:PORT | URL]\n"
"       tunnel-client [OPTIONS] start NAME...\n"
"Expose a local HTTP or TCP service through a tunneld server.  Without a\n"
"target, every [tunnel NAME] section of the config file runs.\n"
"\n"
"  --server URL            tunnel server (default " TC_DEFAULT_SERVER ",\n"
"                          env TUNNEL_SERVER)\n"
"  --api-key KEY           API key (env TUNNEL_API_KEY)\n"
"  --port N                local port\n"
"  --host HOST             local host (default " TC_DEFAULT_HOST ")\n"
"  --name ID               request a named tunnel id\n"
"  --subdomain ID          the same as --name\n"
"  --tcp                   a TCP tunnel: raw bytes to the local port\n"
"  --remote-port N         TCP tunnel: ask for this public port\n"
"  --pool                  share the tunnel id with other clients\n"
"  --https                 the local service speaks https\n"
"  --ca-file FILE          CA certificates to verify the server with\n"
"  --insecure              do not verify the server's certificate\n"
"  --connect-timeout S     connect timeout in seconds (default 10)\n"
"  --request-timeout S     local request timeout in seconds (default 0: none)\n"
"  --basic-auth USER:PASS  ask the server to require basic auth\n"
"  --allow-cidr CIDR       accept callers from CIDR only (repeatable)\n"
"  --host-header MODE      preserve, rewrite (default) or a fixed VALUE\n"
"  --config FILE           config file (default\n"
"                          $XDG_CONFIG_HOME/tunnel-client/config)\n"
"  --new                   ignore the saved tunnel and create a new one\n"
"  --all                   run every tunnel of the config file\n"
"  --inspect ADDR          request inspector on ADDR (default\n"
"                          " TC_INSPECT_DEFAULT ", the next free port if taken)\n"
"  --no-inspect            no request inspector\n"
"  --capture-file FILE     keep the inspector's captures in FILE\n"
"  --inspect-max N         exchanges kept per tunnel (default 500)\n"
"  --inspect-body-cap B    bytes kept of each body (default 1048576)\n"
"  -v, --verbose           debug log (twice: libwebsockets' too)\n"
"  -q, --quiet             no line per request\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n");
}

static void
options_set(char **dst, const char *v)
{
	free(*dst);
	*dst = v != NULL ? xstrdup(v) : NULL;
}

/* A host name or address: 1..255 bytes, no blanks, controls or URL syntax. */
static bool
options_valid_host(const char *h)
{
	const unsigned char	*p;

	if (h[0] == '\0' || strlen(h) > 255 || strpbrk(h, "/?#@[]\\") != NULL)
		return false;
	for (p = (const unsigned char *)h; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f)
			return false;
	}
	return true;
}

static void
options_add_cidr(struct tunnel_conf *t, const char *v)
{
	t->allow_cidr = xreallocarray(t->allow_cidr, t->nallow_cidr + 1,
	    sizeof(*t->allow_cidr));
	t->allow_cidr[t->nallow_cidr++] = xstrdup(v);
}

static int
options_number(const char *what, const char *s, long long min, long long max,
    int *out)
{
	const char	*errstr;
	long long	 v;

	v = util_strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "%s: %s %s: %s\n", TC_NAME, what, s, errstr);
		return TUN_EINVAL;
	}
	*out = (int)v;
	return 0;
}

/*
 * PORT, HOST:PORT, [V6]:PORT or http(s)://HOST[:PORT][/].  Sets host, port
 * and https of t.
 */
int
options_parse_target(const char *s, struct tunnel_conf *t)
{
	char		 host[256], buf[512];
	const char	*p;
	size_t		 n;
	int		 port, dflt = 0;
	bool		 https = false, url = false;

	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		dflt = 80;
		url = true;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		dflt = 443;
		https = url = true;
	} else
		p = s;
	if (util_strlcpy(buf, p, sizeof(buf)) >= sizeof(buf))
		return TUN_EINVAL;
	n = strlen(buf);
	if (url && n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (n == 0 || strchr(buf, '/') != NULL || strchr(buf, '@') != NULL)
		return TUN_EINVAL;
	if (strspn(buf, "0123456789") == n) {
		if (url)
			return TUN_EINVAL;
		host[0] = '\0';
		if (options_number("port", buf, 1, 65535, &port) != 0)
			return TUN_EINVAL;
	} else if (url && (buf[0] == '[' ? buf[n - 1] == ']' :
	    strchr(buf, ':') == NULL)) {
		/* a URL without a port */
		if (buf[0] == '[') {
			if (n < 3)
				return TUN_EINVAL;
			buf[n - 1] = '\0';
			if (util_strlcpy(host, buf + 1, sizeof(host)) >=
			    sizeof(host))
				return TUN_EINVAL;
		} else if (util_strlcpy(host, buf, sizeof(host)) >=
		    sizeof(host))
			return TUN_EINVAL;
		port = dflt;
	} else if (util_split_hostport(buf, host, sizeof(host), &port) != 0 ||
	    port == 0)
		return TUN_EINVAL;
	if (host[0] != '\0')
		options_set(&t->host, host);
	t->port = port;
	if (url)
		t->https = https;
	return 0;
}

/* scheme://host[:port][/prefix] */
int
options_server_url(const char *s, struct server_url *u)
{
	char		 hp[300], *slash;
	const char	*p;
	size_t		 n;
	int		 port;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		u->port = 80;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->port = 443;
		u->tls = true;
	} else
		return TUN_EINVAL;
	if (util_strlcpy(hp, p, sizeof(hp)) >= sizeof(hp))
		return TUN_EINVAL;
	if ((slash = strchr(hp, '/')) != NULL) {
		if (util_strlcpy(u->prefix, slash, sizeof(u->prefix)) >=
		    sizeof(u->prefix))
			return TUN_EINVAL;
		*slash = '\0';
		n = strlen(u->prefix);
		while (n > 0 && u->prefix[n - 1] == '/')
			u->prefix[--n] = '\0';
		if (strpbrk(u->prefix, "?#") != NULL)
			return TUN_EINVAL;
	}
	if (hp[0] == '\0' || strchr(hp, '@') != NULL)
		return TUN_EINVAL;
	if (hp[0] == '[') {
		n = strlen(hp);
		if (hp[n - 1] == ']') {
			if (n < 3 || n - 2 >= sizeof(u->host))
				return TUN_EINVAL;
			memcpy(u->host, hp + 1, n - 2);
			u->host[n - 2] = '\0';
		} else if (util_split_hostport(hp, u->host, sizeof(u->host),
		    &port) != 0 || port == 0)
			return TUN_EINVAL;
		else
			u->port = port;
	} else if (strchr(hp, ':') == NULL) {
		if (util_strlcpy(u->host, hp, sizeof(u->host)) >=
		    sizeof(u->host))
			return TUN_EINVAL;
	} else if (util_split_hostport(hp, u->host, sizeof(u->host),
	    &port) != 0 || port == 0 || u->host[0] == '\0')
		return TUN_EINVAL;
	else
		u->port = port;
	if (!options_valid_host(u->host))
		return TUN_EINVAL;
	if (snprintf(u->base, sizeof(u->base), "%s://%s%s%s:%d%s",
	    u->tls ? "https" : "http", strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port, u->prefix) >=
	    (int)sizeof(u->base))
		return TUN_EINVAL;
	return 0;
}

/*
 * The inspector's address: HOST:PORT, [V6]:PORT or a PORT on 127.0.0.1;
 * PORT 0 for any.  A new string, or NULL if bad.
 */
static char *
options_inspect_addr(const char *s)
{
	char	host[256], *out;
	int	port;

	if (util_split_hostport(s, host, sizeof(host), &port) != 0)
		return NULL;
	if (host[0] == '\0' && strchr(s, ':') == NULL)
		util_strlcpy(host, "127.0.0.1", sizeof(host));
	if (host[0] == '\0' || !options_valid_host(host))
		return NULL;
	xasprintf(&out, "%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", port);
	return out;
}

/* The inspector's settings from the command line, over the file's. */
static int
options_inspect(struct options *o, struct cli *c)
{
	char	*a;

	if (c->o.inspect != NULL) {
		if ((a = options_inspect_addr(c->o.inspect)) == NULL) {
			fprintf(stderr, "%s: bad --inspect %s (want HOST:PORT "
			    "or PORT)\n", TC_NAME, c->o.inspect);
			return TUN_EINVAL;
		}
		free(o->inspect);
		o->inspect = a;
		o->inspect_default = false;
	}
	if (c->no_inspect)
		options_set(&o->inspect, NULL);
	if (c->o.capture_file != NULL)
		options_set(&o->capture_file, c->o.capture_file);
	if (c->have_imax)
		o->inspect_max = c->o.inspect_max;
	if (c->have_icap)
		o->inspect_body_cap = c->o.inspect_body_cap;
	if (o->capture_file != NULL && o->inspect == NULL)
		log_warn("--capture-file without the inspector: nothing is "
		    "captured");
	return 0;
}

static int
options_cli(struct cli *c, int argc, char **argv)
{
	int	ch;

	optind = 0;		/* start afresh, even after an early return */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":vqhV", options_long,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_SERVER:
			options_set(&c->o.server, optarg);
			break;
		case OPT_API_KEY:
			options_set(&c->o.api_key, optarg);
			break;
		case OPT_PORT:
			if (options_number("port", optarg, 1, 65535,
			    &c->t.port) != 0)
				return TUN_EINVAL;
			break;
		case OPT_HOST:
			options_set(&c->t.host, optarg);
			break;
		case OPT_SUBDOMAIN:
			options_set(&c->t.subdomain, optarg);
			break;
		case OPT_TCP:
			c->tcp = true;
			break;
		case OPT_HTTPS:
			c->https = true;
			break;
		case OPT_CA_FILE:
			options_set(&c->o.ca_file, optarg);
			break;
		case OPT_INSECURE:
			c->insecure = true;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (options_number("connect timeout", optarg, 1, 3600,
			    &c->o.connect_timeout) != 0)
				return TUN_EINVAL;
			c->have_ct = true;
			break;
		case OPT_REQUEST_TIMEOUT:
			if (options_number("request timeout", optarg, 0, 86400,
			    &c->o.request_timeout) != 0)
				return TUN_EINVAL;
			c->have_rt = true;
			break;
		case OPT_BASIC_AUTH:
			options_set(&c->t.basic_auth, optarg);
			break;
		case OPT_ALLOW_CIDR:
			options_add_cidr(&c->t, optarg);
			break;
		case OPT_HOST_HEADER:
			options_set(&c->t.host_header, optarg);
			break;
		case OPT_CONFIG:
			options_set(&c->o.config_file, optarg);
			break;
		case OPT_NEW:
			c->o.fresh = true;
			break;
		case OPT_ALL:
			c->all = true;
			break;
		case OPT_REMOTE_PORT:
			if (options_number("remote port", optarg, 1, 65535,
			    &c->t.remote_port) != 0)
				return TUN_EINVAL;
			break;
		case OPT_POOL:
			c->pool = true;
			break;
		case OPT_INSPECT:
			options_set(&c->o.inspect, optarg);
			c->no_inspect = false;
			break;
		case OPT_NO_INSPECT:
			c->no_inspect = true;
			break;
		case OPT_CAPTURE_FILE:
			options_set(&c->o.capture_file, optarg);
			break;
		case OPT_INSPECT_MAX:
			if (options_number("inspect max", optarg, 1,
			    TC_INSPECT_MAX_MAX, &c->o.inspect_max) != 0)
				return TUN_EINVAL;
			c->have_imax = true;
			break;
		case OPT_INSPECT_BODY_CAP:
			if (options_number("inspect body cap", optarg, 0,
			    TC_INSPECT_CAP_MAX, &c->o.inspect_body_cap) != 0)
				return TUN_EINVAL;
			c->have_icap = true;
			break;
		case 'v':
			c->o.verbose++;
			break;
		case 'q':
			c->o.quiet = true;
			break;
		case 'h':
			options_usage(stdout);
			c->o.done = true;
			return 0;
		case 'V':
			printf("%s %s\n", TC_NAME, PACKAGE_VERSION);
			c->o.done = true;
			return 0;
		case ':':
			fprintf(stderr, "%s: option %s needs a value\n",
			    TC_NAME, argv[optind - 1]);
			return TUN_EINVAL;
		default:
			if (optopt >= OPT_SERVER)
				fprintf(stderr, "%s: option %s takes no "
				    "value\n", TC_NAME, argv[optind - 1]);
			else if (optopt != 0)
				fprintf(stderr, "%s: unknown option -%c\n",
				    TC_NAME, optopt);
			else
				fprintf(stderr, "%s: unknown option %s\n",
				    TC_NAME, argv[optind - 1]);
			return TUN_EINVAL;
		}
	}
	if (optind < argc && strcmp(argv[optind], "start") == 0) {
		c->start = argv + optind + 1;
		c->nstart = argc - optind - 1;
		if (c->nstart == 0) {
			fprintf(stderr, "%s: start wants the names of [tunnel "
			    "NAME] sections\n", TC_NAME);
			return TUN_EINVAL;
		}
		return 0;
	}
	if (optind < argc - 1) {
		fprintf(stderr, "%s: too many arguments\n", TC_NAME);
		return TUN_EINVAL;
	}
	if (optind == argc - 1)
		c->target = argv[optind];
	return 0;
}

static int
options_tunnel_key(struct tunnel_conf *t, const char *key, const char *value)
{
	int	b;

	if (strcmp(key, "port") == 0)
		return options_number("port", value, 1, 65535, &t->port);
	if (strcmp(key, "host") == 0)
		options_set(&t->host, value);
	else if (strcmp(key, "subdomain") == 0 || strcmp(key, "name") == 0)
		options_set(&t->subdomain, value);
	else if (strcmp(key, "type") == 0) {
		if (strcmp(value, "tcp") == 0)
			t->tcp = true;
		else if (strcmp(value, "http") == 0)
			t->tcp = false;
		else
			return TUN_EINVAL;
	} else if (strcmp(key, "https") == 0) {
		if ((b = conf_bool(value)) < 0)
			return TUN_EINVAL;
		t->https = b;
	} else if (strcmp(key, "basic_auth") == 0)
		options_set(&t->basic_auth, value);
	else if (strcmp(key, "allow_cidr") == 0)
		options_add_cidr(t, value);
	else if (strcmp(key, "host_header") == 0)
		options_set(&t->host_header, value);
	else if (strcmp(key, "remote_port") == 0)
		return options_number("remote_port", value, 1, 65535,
		    &t->remote_port);
	else if (strcmp(key, "pool") == 0) {
		if ((b = conf_bool(value)) < 0)
			return TUN_EINVAL;
		t->pool = b;
	} else
		return TUN_ENOENT;
	return 0;
}

static int
options_conf_cb(void *arg, const char *section, const char *name,
    const char *key, const char *value, int lineno)
{
	struct options		*o = arg;
	struct tunnel_conf	*t;
	int			 b, r;

	if (section == NULL) {
		if (strcmp(key, "server") == 0)
			options_set(&o->server, value);
		else if (strcmp(key, "api_key") == 0)
			options_set(&o->api_key, value);
		else if (strcmp(key, "ca_file") == 0)
			options_set(&o->ca_file, value);
		else if (strcmp(key, "insecure") == 0) {
			if ((b = conf_bool(value)) < 0)
				goto bad;
			o->insecure = b;
		} else if (strcmp(key, "inspect") == 0) {
			free(o->inspect);
			o->inspect = NULL;
			o->inspect_default = false;
			if ((b = conf_bool(value)) == 1) {
				o->inspect = xstrdup(TC_INSPECT_DEFAULT);
				o->inspect_default = true;
			} else if (b < 0 && (o->inspect =
			    options_inspect_addr(value)) == NULL)
				goto bad;
		} else if (strcmp(key, "capture_file") == 0)
			options_set(&o->capture_file, value[0] != '\0' ?
			    value : NULL);
		else if (strcmp(key, "inspect_max") == 0) {
			if (options_number("inspect_max", value, 1,
			    TC_INSPECT_MAX_MAX, &o->inspect_max) != 0)
				goto bad;
		} else if (strcmp(key, "inspect_body_cap") == 0) {
			if (options_number("inspect_body_cap", value, 0,
			    TC_INSPECT_CAP_MAX, &o->inspect_body_cap) != 0)
				goto bad;
		} else
			goto unknown;
		return 0;
	}
	if (strcmp(section, "tunnel") != 0) {
		log_error("config line %d: unknown section [%s]", lineno,
		    section);
		return TUN_EINVAL;
	}
	/* A new section starts a new tunnel. */
	t = o->ntunnels > 0 ? &o->tunnels[o->ntunnels - 1] : NULL;
	if (t == NULL || !((t->name == NULL && name == NULL) ||
	    (t->name != NULL && name != NULL && strcmp(t->name, name) == 0))) {
		if (o->ntunnels >= TC_MAX_TUNNELS) {
			log_error("config line %d: too many tunnels", lineno);
			return TUN_ELIMIT;
		}
		o->tunnels = xreallocarray(o->tunnels, o->ntunnels + 1,
		    sizeof(*o->tunnels));
		t = &o->tunnels[o->ntunnels++];
		memset(t, 0, sizeof(*t));
		if (name != NULL)
			t->name = xstrdup(name);
	}
	if ((r = options_tunnel_key(t, key, value)) == TUN_ENOENT)
		goto unknown;
	if (r != 0)
		goto bad;
	return 0;
unknown:
	log_error("config line %d: unknown key %s", lineno, key);
	return TUN_EINVAL;
bad:
	log_error("config line %d: bad value for %s", lineno, key);
	return TUN_EINVAL;
}

static char *
options_default_config(void)
{
	const char	*x, *home;
	char		*p = NULL;

	if ((x = getenv("XDG_CONFIG_HOME")) != NULL && x[0] == '/')
		xasprintf(&p, "%s/tunnel-client/config", x);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		xasprintf(&p, "%s/.config/tunnel-client/config", home);
	return p;
}

static int
options_file(struct options *o, const char *path, bool must)
{
	char	err[256];
	int	r;

	err[0] = '\0';
	r = conf_parse_file(path, options_conf_cb, o, err, sizeof(err));
	if (r == TUN_ENOENT && !must)
		return 0;
	if (r != 0) {
		fprintf(stderr, "%s: %s: %s\n", TC_NAME, path,
		    err[0] != '\0' ? err : tunerr_str(r));
		return TUN_EINVAL;
	}
	return 0;
}

/* Command-line tunnel settings win over the file's. */
static void
options_overlay(struct tunnel_conf *t, struct cli *c)
{
	size_t	i;

	if (c->t.host != NULL)
		options_set(&t->host, c->t.host);
	if (c->t.port != 0)
		t->port = c->t.port;
	if (c->https || c->t.https)	/* --https or an https:// target */
		t->https = true;
	if (c->tcp)
		t->tcp = true;
	if (c->t.remote_port != 0)
		t->remote_port = c->t.remote_port;
	if (c->pool)
		t->pool = true;
	if (c->t.subdomain != NULL)
		options_set(&t->subdomain, c->t.subdomain);
	if (c->t.basic_auth != NULL)
		options_set(&t->basic_auth, c->t.basic_auth);
	if (c->t.host_header != NULL)
		options_set(&t->host_header, c->t.host_header);
	if (c->t.nallow_cidr > 0) {
		for (i = 0; i < t->nallow_cidr; i++)
			free(t->allow_cidr[i]);
		t->nallow_cidr = 0;
		for (i = 0; i < c->t.nallow_cidr; i++)
			options_add_cidr(t, c->t.allow_cidr[i]);
	}
}

static int
options_check_tunnel(struct tunnel_conf *t)
{
	struct cidr	 cidr;
	const char	*what = t->name != NULL ? t->name : "tunnel";
	size_t		 i;

	if (t->tcp && t->https) {
		fprintf(stderr, "%s: %s: a TCP tunnel carries raw bytes: no "
		    "--https\n", TC_NAME, what);
		return TUN_EINVAL;
	}
	if (!t->tcp && t->remote_port != 0) {
		fprintf(stderr, "%s: %s: --remote-port is for TCP tunnels\n",
		    TC_NAME, what);
		return TUN_EINVAL;
	}
	if (t->host == NULL)
		t->host = xstrdup(TC_DEFAULT_HOST);
	if (!options_valid_host(t->host)) {
		fprintf(stderr, "%s: %s: bad host %s\n", TC_NAME, what,
		    t->host);
		return TUN_EINVAL;
	}
	if (t->subdomain != NULL && !util_valid_name(t->subdomain)) {
		fprintf(stderr, "%s: %s: bad name %s (use [a-z0-9-], at most "
		    "63)\n", TC_NAME, what, t->subdomain);
		return TUN_EINVAL;
	}
	if (t->basic_auth != NULL && (strchr(t->basic_auth, ':') == NULL ||
	    t->basic_auth[0] == ':')) {
		fprintf(stderr, "%s: %s: --basic-auth wants USER:PASS\n",
		    TC_NAME, what);
		return TUN_EINVAL;
	}
	for (i = 0; i < t->nallow_cidr; i++) {
		if (util_cidr_parse(t->allow_cidr[i], &cidr) != 0) {
			fprintf(stderr, "%s: %s: bad CIDR %s\n", TC_NAME,
			    what, t->allow_cidr[i]);
			return TUN_EINVAL;
		}
	}
	if (t->host_header == NULL)
		t->host_header = xstrdup("rewrite");
	if (t->host_header[0] == '\0' || !httphdr_valid_value(t->host_header,
	    strlen(t->host_header)) || strpbrk(t->host_header, " \t") != NULL) {
		fprintf(stderr, "%s: %s: bad --host-header %s\n", TC_NAME,
		    what, t->host_header);
		return TUN_EINVAL;
	}
	return 0;
}

/*
 * Returns 0 (run, or o->done for --help and --version) or TUN_EINVAL after
 * a message: a usage error.
 */
int
options_load(struct options *o, int argc, char **argv)
{
	struct cli		 c;
	struct server_url	 u;
	struct tunnel_conf	*t;
	const char		*env;
	char			*path = NULL;
	size_t			 i;
	int			 r;

	memset(&c, 0, sizeof(c));
	memset(o, 0, sizeof(*o));
	o->connect_timeout = TC_DEFAULT_CONNECT_TO;
	o->inspect = xstrdup(TC_INSPECT_DEFAULT);
	o->inspect_default = true;
	o->inspect_max = TC_INSPECT_MAX;
	o->inspect_body_cap = TC_INSPECT_BODY_CAP;
	if ((r = options_cli(&c, argc, argv)) != 0 || c.o.done) {
		o->done = c.o.done;
		goto out;
	}
	/* The file first, then the environment, then the command line. */
	if (c.o.config_file != NULL)
		r = options_file(o, c.o.config_file, true);
	else if ((path = options_default_config()) != NULL)
		r = options_file(o, path, false);
	if (r != 0)
		goto out;
	if ((env = getenv("TUNNEL_SERVER")) != NULL && env[0] != '\0')
		options_set(&o->server, env);
	if ((env = getenv("TUNNEL_API_KEY")) != NULL && env[0] != '\0')
		options_set(&o->api_key, env);
	if (c.o.server != NULL)
		options_set(&o->server, c.o.server);
	if (c.o.api_key != NULL)
		options_set(&o->api_key, c.o.api_key);
	if (c.o.ca_file != NULL)
		options_set(&o->ca_file, c.o.ca_file);
	if (c.insecure)
		o->insecure = true;
	if (c.have_ct)
		o->connect_timeout = c.o.connect_timeout;
	if (c.have_rt)
		o->request_timeout = c.o.request_timeout;
	o->fresh = c.o.fresh;
	o->verbose = c.o.verbose;
	o->quiet = c.o.quiet;
	options_set(&o->config_file, c.o.config_file);
	if ((r = options_inspect(o, &c)) != 0)
		goto out;
	if (o->server == NULL)
		o->server = xstrdup(TC_DEFAULT_SERVER);
	if (options_server_url(o->server, &u) != 0) {
		fprintf(stderr, "%s: bad server URL %s (want http://HOST[:PORT] "
		    "or https://...)\n", TC_NAME, o->server);
		r = TUN_EINVAL;
		goto out;
	}

	/* A port on the command line: that tunnel only. */
	if (c.target != NULL && (r = options_parse_target(c.target,
	    &c.t)) != 0) {
		fprintf(stderr, "%s: bad target %s (want PORT, HOST:PORT or "
		    "URL)\n", TC_NAME, c.target);
		goto out;
	}
	if (c.t.port != 0) {
		for (i = 0; i < o->ntunnels; i++)
			options_tunnel_free(&o->tunnels[i]);
		free(o->tunnels);
		o->tunnels = xcalloc(1, sizeof(*o->tunnels));
		o->ntunnels = 1;
		if (c.start != NULL || c.all) {
			fprintf(stderr, "%s: a PORT runs one tunnel: no start "
			    "or --all with it\n", TC_NAME);
			r = TUN_EINVAL;
			goto out;
		}
	} else if (o->ntunnels == 0) {
		fprintf(stderr, "%s: no local port: give PORT, HOST:PORT or "
		    "URL, or a [tunnel] section in the config file\n"
		    "Try '%s --help'.\n", TC_NAME, TC_NAME);
		r = TUN_EINVAL;
		goto out;
	} else if ((r = options_select(o, &c)) != 0)
		goto out;
	for (i = 0; i < o->ntunnels; i++) {
		t = &o->tunnels[i];
		options_overlay(t, &c);
		if (t->port == 0) {
			fprintf(stderr, "%s: [tunnel %s] has no port\n",
			    TC_NAME, t->name != NULL ? t->name : "");
			r = TUN_EINVAL;
			goto out;
		}
		if ((r = options_check_tunnel(t)) != 0)
			goto out;
	}
out:
	free(path);
	options_free(&c.o);
	options_tunnel_free(&c.t);
	return r;
}

/*
 * Which tunnels of the config file run: those `start` names (each must
 * exist, in the order given), else all of them (--all, or no target).
 */
static int
options_select(struct options *o, struct cli *c)
{
	struct tunnel_conf	*sel;
	size_t			 i, n;
	int			 k;

	if (c->start == NULL)
		return 0;
	sel = xcalloc((size_t)c->nstart, sizeof(*sel));
	n = 0;
	for (k = 0; k < c->nstart; k++) {
		for (i = 0; i < o->ntunnels; i++)
			if (o->tunnels[i].name != NULL &&
			    strcmp(o->tunnels[i].name, c->start[k]) == 0)
				break;
		if (i == o->ntunnels) {
			/* A name given twice was moved already: the same. */
			fprintf(stderr, "%s: no [tunnel %s] in the config "
			    "file (or named twice)\n", TC_NAME, c->start[k]);
			for (i = 0; i < n; i++)
				options_tunnel_free(&sel[i]);
			free(sel);
			return TUN_EINVAL;
		}
		sel[n++] = o->tunnels[i];	/* moved */
		memset(&o->tunnels[i], 0, sizeof(o->tunnels[i]));
	}
	for (i = 0; i < o->ntunnels; i++)
		options_tunnel_free(&o->tunnels[i]);
	free(o->tunnels);
	o->tunnels = sel;
	o->ntunnels = n;
	return 0;
}

static void
options_tunnel_free(struct tunnel_conf *t)
{
	size_t	i;

	free(t->name);
	free(t->host);
	free(t->subdomain);
	if (t->basic_auth != NULL)
		freezero(t->basic_auth, strlen(t->basic_auth));
	for (i = 0; i < t->nallow_cidr; i++)
		free(t->allow_cidr[i]);
	free(t->allow_cidr);
	free(t->host_header);
	memset(t, 0, sizeof(*t));
}

void
options_free(struct options *o)
{
	size_t	i;

	free(o->server);
	if (o->api_key != NULL)
		freezero(o->api_key, strlen(o->api_key));
	free(o->ca_file);
	free(o->config_file);
	free(o->inspect);
	free(o->capture_file);
	for (i = 0; i < o->ntunnels; i++)
		options_tunnel_free(&o->tunnels[i]);
	free(o->tunnels);
	memset(o, 0, sizeof(*o));
}
