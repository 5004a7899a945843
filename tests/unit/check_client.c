/*
 * Unit tests for tunnel-client's parsers of user input: client/options.c
 * (command line, environment, config file, targets, server URLs) and
 * client/cstate.c (saved tunnels).  Every case runs in a private temporary
 * directory with HOME, XDG_CONFIG_HOME and XDG_STATE_HOME pointing into it;
 * stdout and stderr are captured and compared byte for byte (log lines
 * without their time stamp).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "conf.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define CAP_MAX		16384
#define MAX_ARGS	32

/* The top line of dump_options() with everything at its default. */
#define TOP_DEFAULT	"server=http://127.0.0.1:8080 key=- ca=- config=- " \
			"insecure=0 fresh=0 quiet=0 verbose=0 ct=10 rt=0 " \
			"done=0\n"
#define TUN_DEFAULT(port) "[-] host=localhost port=" port " https=0 tcp=0 " \
			"sub=- auth=- cidr= hh=rewrite\n"
#define BAD_TARGET(t)	"tunnel-client: bad target " t " (want PORT, " \
			"HOST:PORT or URL)\n"
#define NO_PORT		"tunnel-client: no local port: give PORT, " \
			"HOST:PORT or URL, or a [tunnel] section in the " \
			"config file\nTry 'tunnel-client --help'.\n"

static char	 tmpdir[PATH_MAX];
static char	 cap_out[CAP_MAX], cap_err[CAP_MAX];
static int	 cap_fd1 = -1, cap_fd2 = -1;

static void	 setup(void);
static void	 teardown(void);
static int	 rm_cb(const char *, const struct stat *, int, struct FTW *);
static char	*expand(const char *);
static char	*long_string(int, size_t);
static void	 mkdir_p(const char *);
static void	 write_file(const char *, const void *, size_t);
static void	 cap_begin(void);
static void	 cap_end(void);
static void	 cap_read(const char *, char *, size_t, bool);
static void	 dump_options(const struct options *, char *, size_t);
static const char *nz(const char *);
static void	 conf_init(struct options *, struct tunnel_conf *);
static void	 conf_fini(struct options *, struct tunnel_conf *);
static void	 cidr_add(struct tunnel_conf *, const char *);
static void	 check_mode(const char *, mode_t);
static void	 check_saved_json(const char *, const char *, const char *,
		    const char *, const char *);
static Suite	*client_suite(void);

/* --- helpers ---------------------------------------------------------- */

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700);
	remove(path);
	return 0;
}

static void
setup(void)
{
	char	*p;

	util_strlcpy(tmpdir, "/tmp/check_client.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	p = expand("%T/xdg");
	setenv("XDG_CONFIG_HOME", p, 1);
	free(p);
	p = expand("%T/home");
	setenv("HOME", p, 1);
	free(p);
	p = expand("%T/state");
	setenv("XDG_STATE_HOME", p, 1);
	free(p);
	unsetenv("TUNNEL_SERVER");
	unsetenv("TUNNEL_API_KEY");
	unsetenv("POSIXLY_CORRECT");
}

static void
teardown(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* A copy of s with every "%T" replaced by the test's directory. */
static char *
expand(const char *s)
{
	size_t	 n = 0, tl = strlen(tmpdir);
	char	*out, *o;
	const char *p;

	for (p = s; *p != '\0'; p++)
		n += (p[0] == '%' && p[1] == 'T') ? tl : 1;
	out = o = xmalloc(n + 1);
	for (p = s; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'T') {
			memcpy(o, tmpdir, tl);
			o += tl;
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static char *
long_string(int c, size_t n)
{
	char	*s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
mkdir_p(const char *path)
{
	char	*d = xstrdup(path), *p;

	for (p = d + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(d, 0700);
			*p = '/';
		}
	}
	(void)mkdir(d, 0700);
	free(d);
}

/* Writes path (creating its directory) with exactly len bytes. */
static void
write_file(const char *path, const void *data, size_t len)
{
	char	*dir = xstrdup(path), *slash;
	int	 fd;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		mkdir_p(dir);
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* stdout and stderr into files in tmpdir until cap_end(). */
static void
cap_begin(void)
{
	char	*p;
	int	 fd;

	fflush(stdout);
	fflush(stderr);
	cap_fd1 = dup(1);
	cap_fd2 = dup(2);
	ck_assert_int_ge(cap_fd1, 0);
	ck_assert_int_ge(cap_fd2, 0);
	p = expand("%T/.stdout");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 1);
	close(fd);
	free(p);
	p = expand("%T/.stderr");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	free(p);
}

static void
cap_end(void)
{
	char	*p;

	fflush(stdout);
	fflush(stderr);
	dup2(cap_fd1, 1);
	dup2(cap_fd2, 2);
	close(cap_fd1);
	close(cap_fd2);
	p = expand("%T/.stdout");
	cap_read(p, cap_out, sizeof(cap_out), false);
	free(p);
	p = expand("%T/.stderr");
	cap_read(p, cap_err, sizeof(cap_err), true);
	free(p);
}

/* The file's text; log lines lose "YYYY-MM-DD HH:MM:SS.mmm ". */
static void
cap_read(const char *path, char *buf, size_t size, bool strip)
{
	char	 raw[CAP_MAX], *line, *nl;
	size_t	 used = 0, len;
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	ck_assert_int_lt(n, (ssize_t)sizeof(raw) - 1);
	raw[n] = '\0';
	buf[0] = '\0';
	for (line = raw; *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			nl++;
		else
			nl = line + strlen(line);
		if (strip && nl - line > 24 && line[4] == '-' &&
		    line[10] == ' ' && line[13] == ':' && line[19] == '.' &&
		    line[23] == ' ')
			line += 24;
		len = (size_t)(nl - line);
		ck_assert_uint_lt(used + len, size);
		memcpy(buf + used, line, len);
		used += len;
		buf[used] = '\0';
	}
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "-";
}

/* Every field of o, one line for the top and one per tunnel. */
static void
dump_options(const struct options *o, char *buf, size_t size)
{
	const struct tunnel_conf	*t;
	size_t				 used, i, j;
	int				 n;

	n = snprintf(buf, size, "server=%s key=%s ca=%s config=%s insecure=%d "
	    "fresh=%d quiet=%d verbose=%d ct=%d rt=%d done=%d\n", nz(o->server),
	    nz(o->api_key), nz(o->ca_file), nz(o->config_file), o->insecure,
	    o->fresh, o->quiet, o->verbose, o->connect_timeout,
	    o->request_timeout, o->done);
	ck_assert(n > 0 && (size_t)n < size);
	used = (size_t)n;
	for (i = 0; i < o->ntunnels; i++) {
		t = &o->tunnels[i];
		n = snprintf(buf + used, size - used, "[%s] host=%s port=%d "
		    "https=%d tcp=%d sub=%s auth=%s cidr=", nz(t->name),
		    nz(t->host), t->port, t->https, t->tcp, nz(t->subdomain),
		    nz(t->basic_auth));
		ck_assert(n > 0 && (size_t)n < size - used);
		used += (size_t)n;
		for (j = 0; j < t->nallow_cidr; j++) {
			n = snprintf(buf + used, size - used, "%s%s",
			    j > 0 ? "," : "", t->allow_cidr[j]);
			ck_assert(n > 0 && (size_t)n < size - used);
			used += (size_t)n;
		}
		n = snprintf(buf + used, size - used, " hh=%s",
		    nz(t->host_header));
		ck_assert(n > 0 && (size_t)n < size - used);
		used += (size_t)n;
		/* Shown only when set: most cases need not spell them. */
		if (t->remote_port != 0 || t->pool) {
			n = snprintf(buf + used, size - used, " rport=%d "
			    "pool=%d", t->remote_port, t->pool);
			ck_assert(n > 0 && (size_t)n < size - used);
			used += (size_t)n;
		}
		n = snprintf(buf + used, size - used, "\n");
		ck_assert(n > 0 && (size_t)n < size - used);
		used += (size_t)n;
	}
}

/* --- options_parse_target --------------------------------------------- */

/*
 * Parsed into a tunnel_conf that starts as host "prev", port 7, https on:
 * a field the target does not set must keep that value.
 */
static const struct target_case {
	const char	*in;
	int		 r;
	const char	*host;
	int		 port;
	bool		 https;
	const char	*err;
} targets[] = {
	{ "3000", 0, "prev", 3000, true, "" },
	{ "1", 0, "prev", 1, true, "" },
	{ "65535", 0, "prev", 65535, true, "" },
	{ "0003000", 0, "prev", 3000, true, "" },
	{ "localhost:8080", 0, "localhost", 8080, true, "" },
	{ "10.1.2.3:80", 0, "10.1.2.3", 80, true, "" },
	{ "[::1]:3000", 0, "::1", 3000, true, "" },
	{ "[fe80::1%eth0]:3000", 0, "fe80::1%eth0", 3000, true, "" },
	{ ":3000", 0, "prev", 3000, true, "" },
	{ "http://example.com", 0, "example.com", 80, false, "" },
	{ "http://example.com/", 0, "example.com", 80, false, "" },
	{ "HTTP://Example.COM:81", 0, "Example.COM", 81, false, "" },
	{ "https://example.com", 0, "example.com", 443, true, "" },
	{ "https://127.0.0.1:8443/", 0, "127.0.0.1", 8443, true, "" },
	{ "http://[::1]", 0, "::1", 80, false, "" },
	{ "https://[::1]:9443", 0, "::1", 9443, true, "" },
	{ "http://[::1]/", 0, "::1", 80, false, "" },
	/* bad ports */
	{ "0", TUN_EINVAL, "prev", 7, true,
	  "tunnel-client: port 0: too small\n" },
	{ "65536", TUN_EINVAL, "prev", 7, true,
	  "tunnel-client: port 65536: too large\n" },
	{ "99999999999999999999999", TUN_EINVAL, "prev", 7, true,
	  "tunnel-client: port 99999999999999999999999: too large\n" },
	{ "host:0", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:65536", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:-1", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:8o", TUN_EINVAL, "prev", 7, true, "" },
	{ "host: 80", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:80 ", TUN_EINVAL, "prev", 7, true, "" },
	{ "host:0x50", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://host:0", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://host:", TUN_EINVAL, "prev", 7, true, "" },
	{ "https://[::1]:99999", TUN_EINVAL, "prev", 7, true, "" },
	/* not a target at all */
	{ "", TUN_EINVAL, "prev", 7, true, "" },
	{ "host", TUN_EINVAL, "prev", 7, true, "" },
	{ "-1", TUN_EINVAL, "prev", 7, true, "" },
	{ "::1", TUN_EINVAL, "prev", 7, true, "" },
	{ "a:b:80", TUN_EINVAL, "prev", 7, true, "" },
	{ "[::1]", TUN_EINVAL, "prev", 7, true, "" },
	{ "[::1]80", TUN_EINVAL, "prev", 7, true, "" },
	{ "[::1:80", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://", TUN_EINVAL, "prev", 7, true, "" },
	{ "https:///", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://3000", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://[]", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://[", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://host/path", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://host//", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://user@host", TUN_EINVAL, "prev", 7, true, "" },
	{ "http://user:pw@host:80", TUN_EINVAL, "prev", 7, true, "" },
	{ "ftp://host:21", TUN_EINVAL, "prev", 7, true, "" },
	{ "host/x:80", TUN_EINVAL, "prev", 7, true, "" },
	{ "http:/host", TUN_EINVAL, "prev", 7, true, "" },
};

START_TEST(test_target)
{
	const struct target_case	*tc = &targets[_i];
	struct tunnel_conf		 t;
	char				*in;
	int				 r;

	memset(&t, 0, sizeof(t));
	t.host = xstrdup("prev");
	t.port = 7;
	t.https = true;
	in = xstrdup(tc->in);		/* exact size: ASan sees over-reads */
	cap_begin();
	r = options_parse_target(in, &t);
	cap_end();
	ck_assert_msg(r == tc->r, "%s: r %d, want %d", tc->in, r, tc->r);
	ck_assert_str_eq(t.host, tc->host);
	ck_assert_int_eq(t.port, tc->port);
	ck_assert_int_eq(t.https, tc->https);
	ck_assert_str_eq(cap_err, tc->err);
	ck_assert_str_eq(cap_out, "");
	free(in);
	free(t.host);
}
END_TEST

/* Every prefix of every target: no crash, no over-read, sane results. */
START_TEST(test_target_prefixes)
{
	struct tunnel_conf	 t;
	size_t			 i, n;
	char			*in;
	int			 r;

	cap_begin();
	for (i = 0; i < nitems(targets); i++) {
		for (n = 0; n <= strlen(targets[i].in); n++) {
			memset(&t, 0, sizeof(t));
			in = xstrndup(targets[i].in, n);
			r = options_parse_target(in, &t);
			ck_assert(r == 0 || r == TUN_EINVAL);
			if (r == 0)
				ck_assert(t.port >= 1 && t.port <= 65535);
			else {
				ck_assert_ptr_null(t.host);
				ck_assert_int_eq(t.port, 0);
			}
			free(t.host);
			free(in);
		}
	}
	cap_end();
}
END_TEST

/* Over-long hosts are refused, never cut short. */
START_TEST(test_target_long)
{
	struct tunnel_conf	 t;
	char			*host, *in;
	size_t			 i;
	static const struct {
		const char	*pre;
		size_t		 hostlen;
		const char	*post;
		int		 r;
	} cases[] = {
		{ "http://", 255, "", 0 },
		{ "http://", 256, "", TUN_EINVAL },
		{ "http://", 400, "", TUN_EINVAL },
		{ "https://[", 255, "]", 0 },
		{ "https://[", 256, "]", TUN_EINVAL },
		{ "", 255, ":80", 0 },
		{ "", 256, ":80", TUN_EINVAL },
		{ "[", 255, "]:80", 0 },
		{ "[", 256, "]:80", TUN_EINVAL },
		{ "", 600, ":80", TUN_EINVAL },
		{ "", 100000, "", TUN_EINVAL },
	};

	for (i = 0; i < nitems(cases); i++) {
		memset(&t, 0, sizeof(t));
		host = long_string('a', cases[i].hostlen);
		xasprintf(&in, "%s%s%s", cases[i].pre, host, cases[i].post);
		cap_begin();
		ck_assert_msg(options_parse_target(in, &t) == cases[i].r,
		    "case %zu", i);
		cap_end();
		if (cases[i].r == 0) {
			ck_assert_str_eq(t.host, host);
			ck_assert(t.port == 80 || t.port == 443);
		} else {
			ck_assert_ptr_null(t.host);
			ck_assert_int_eq(t.port, 0);
		}
		free(t.host);
		free(in);
		free(host);
	}
}
END_TEST

/* --- options_server_url ----------------------------------------------- */

static const struct url_case {
	const char	*in;
	int		 r;
	bool		 tls;
	const char	*host;
	int		 port;
	const char	*base;
	const char	*prefix;
} urls[] = {
	{ "http://127.0.0.1:8080", 0, false, "127.0.0.1", 8080,
	  "http://127.0.0.1:8080", "" },
	{ "http://example.com", 0, false, "example.com", 80,
	  "http://example.com:80", "" },
	{ "https://example.com", 0, true, "example.com", 443,
	  "https://example.com:443", "" },
	{ "HTTPS://Example.com:8443/", 0, true, "Example.com", 8443,
	  "https://Example.com:8443", "" },
	{ "https://t.example/base", 0, true, "t.example", 443,
	  "https://t.example:443/base", "/base" },
	{ "https://t.example/a/b///", 0, true, "t.example", 443,
	  "https://t.example:443/a/b", "/a/b" },
	{ "http://h//", 0, false, "h", 80, "http://h:80", "" },
	{ "http://[::1]", 0, false, "::1", 80, "http://[::1]:80", "" },
	{ "http://[::1]:9000/x", 0, false, "::1", 9000,
	  "http://[::1]:9000/x", "/x" },
	{ "http://h:1", 0, false, "h", 1, "http://h:1", "" },
	{ "http://h:65535", 0, false, "h", 65535, "http://h:65535", "" },
	/* bad */
	{ "", TUN_EINVAL, false, "", 0, "", "" },
	{ "example.com", TUN_EINVAL, false, "", 0, "", "" },
	{ "127.0.0.1:8080", TUN_EINVAL, false, "", 0, "", "" },
	{ "ftp://h", TUN_EINVAL, false, "", 0, "", "" },
	{ "ws://h", TUN_EINVAL, false, "", 0, "", "" },
	{ "http:/h", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://", TUN_EINVAL, false, "", 0, "", "" },
	{ "http:///x", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://:80", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:0", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:65536", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:-80", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:80x", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h:80:81", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://::1", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://[]", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://[]:80", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://[::1", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://[::1]x", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://[::1]:0", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://user@h", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://user:pw@h:80/", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h/x?y=1", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h/#frag", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h?y=1", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h#frag", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h x", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h\tx", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h\r\nX-Evil: 1", TUN_EINVAL, false, "", 0, "", "" },
	{ "http://h\x7f", TUN_EINVAL, false, "", 0, "", "" },
};

START_TEST(test_url)
{
	const struct url_case	*tc = &urls[_i];
	struct server_url	 u;
	char			*in;
	int			 r;

	memset(&u, 0xa5, sizeof(u));
	in = xstrdup(tc->in);
	r = options_server_url(in, &u);
	free(in);
	ck_assert_msg(r == tc->r, "%s: r %d, want %d", tc->in, r, tc->r);
	if (r != 0)
		return;
	ck_assert_int_eq(u.tls, tc->tls);
	ck_assert_str_eq(u.host, tc->host);
	ck_assert_int_eq(u.port, tc->port);
	ck_assert_str_eq(u.base, tc->base);
	ck_assert_str_eq(u.prefix, tc->prefix);
}
END_TEST

START_TEST(test_url_long)
{
	struct server_url	 u;
	char			*s, *in;
	size_t			 i;
	static const struct {
		const char	*pre;
		size_t		 n;
		const char	*post;
		int		 r;
	} cases[] = {
		{ "http://", 255, "", 0 },
		{ "http://", 256, "", TUN_EINVAL },
		{ "http://", 299, "", TUN_EINVAL },
		{ "http://", 5000, "", TUN_EINVAL },
		{ "http://[", 255, "]", 0 },
		{ "http://[", 256, "]", TUN_EINVAL },
		{ "http://", 255, ":80", 0 },
		{ "http://", 256, ":80", TUN_EINVAL },
		{ "http://h/", 250, "", 0 },
		{ "http://h/", 600, "", TUN_EINVAL },
	};

	for (i = 0; i < nitems(cases); i++) {
		s = long_string('b', cases[i].n);
		xasprintf(&in, "%s%s%s", cases[i].pre, s, cases[i].post);
		ck_assert_msg(options_server_url(in, &u) == cases[i].r,
		    "case %zu", i);
		if (cases[i].r == 0) {
			if (strcmp(cases[i].pre, "http://h/") == 0) {
				ck_assert_str_eq(u.host, "h");
				ck_assert_str_eq(u.prefix + 1, s);
			} else
				ck_assert_str_eq(u.host, s);
		}
		free(in);
		free(s);
	}
}
END_TEST

/* --- options_load ------------------------------------------------------- */

/*
 * args after argv[0]; env and xdg NULL: unset / the default %T/xdg; cfg
 * written to cfgpath (default %T/xdg/tunnel-client/config) unless NULL.
 */
static const struct load_case {
	const char	*what;
	const char	*args[MAX_ARGS];
	const char	*env_server;
	const char	*env_key;
	const char	*xdg;
	const char	*cfgpath;
	const char	*cfg;
	int		 r;
	const char	*want;		/* dump_options(), when r is 0 */
	const char	*err;		/* stderr, exact */
} loads[] = {
	/* targets and flags */
	{ "port", { "3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT TUN_DEFAULT("3000"), "" },
	{ "host:port", { "127.0.0.2:8081" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT "[-] host=127.0.0.2 port=8081 https=0 tcp=0 sub=- "
	  "auth=- cidr= hh=rewrite\n", "" },
	{ "v6", { "[::1]:3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT "[-] host=::1 port=3000 https=0 tcp=0 sub=- auth=- "
	  "cidr= hh=rewrite\n", "" },
	{ "https url", { "https://127.0.0.1:8443" }, NULL, NULL, NULL, NULL,
	  NULL, 0, TOP_DEFAULT "[-] host=127.0.0.1 port=8443 https=1 tcp=0 "
	  "sub=- auth=- cidr= hh=rewrite\n", "" },
	{ "http url", { "http://app.local" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT "[-] host=app.local port=80 https=0 tcp=0 sub=- auth=- "
	  "cidr= hh=rewrite\n", "" },
	{ "--port", { "--port", "5000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT TUN_DEFAULT("5000"), "" },
	{ "--port=", { "--port=5001" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT TUN_DEFAULT("5001"), "" },
	{ "target beats --port", { "--port", "5000", "6000" }, NULL, NULL,
	  NULL, NULL, NULL, 0, TOP_DEFAULT TUN_DEFAULT("6000"), "" },
	{ "--host --https", { "--host", "10.0.0.1", "--port", "81",
	  "--https" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT "[-] host=10.0.0.1 port=81 https=1 tcp=0 sub=- auth=- "
	  "cidr= hh=rewrite\n", "" },
	{ "everything", { "--server", "https://t.example:9443/base",
	  "--api-key", "KEY", "--ca-file", "/ca.pem", "--insecure",
	  "--connect-timeout", "5", "--request-timeout", "0", "--name",
	  "my-app", "--basic-auth", "u:p", "--allow-cidr", "10.0.0.0/8",
	  "--allow-cidr", "::1", "--host-header", "preserve", "--new", "-v",
	  "--verbose", "-q", "3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  "server=https://t.example:9443/base key=KEY ca=/ca.pem config=- "
	  "insecure=1 fresh=1 quiet=1 verbose=2 ct=5 rt=0 done=0\n"
	  "[-] host=localhost port=3000 https=0 tcp=0 sub=my-app auth=u:p "
	  "cidr=10.0.0.0/8,::1 hh=preserve\n", "" },
	{ "--subdomain, limits", { "--subdomain", "a", "--connect-timeout",
	  "3600", "--request-timeout", "86400", "--host-header",
	  "example.com:8080", "3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  "server=http://127.0.0.1:8080 key=- ca=- config=- insecure=0 "
	  "fresh=0 quiet=0 verbose=0 ct=3600 rt=86400 done=0\n"
	  "[-] host=localhost port=3000 https=0 tcp=0 sub=a auth=- cidr= "
	  "hh=example.com:8080\n", "" },
	{ "short cluster", { "-vvq", "3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  "server=http://127.0.0.1:8080 key=- ca=- config=- insecure=0 "
	  "fresh=0 quiet=1 verbose=2 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"),
	  "" },
	{ "options after the target", { "3000", "--api-key", "K" }, NULL,
	  NULL, NULL, NULL, NULL, 0,
	  "server=http://127.0.0.1:8080 key=K ca=- config=- insecure=0 "
	  "fresh=0 quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"),
	  "" },
	{ "--", { "--", "3000" }, NULL, NULL, NULL, NULL, NULL, 0,
	  TOP_DEFAULT TUN_DEFAULT("3000"), "" },
	{ "unique abbreviation", { "--serv", "http://x", "3000" }, NULL, NULL,
	  NULL, NULL, NULL, 0,
	  "server=http://x key=- ca=- config=- insecure=0 fresh=0 quiet=0 "
	  "verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "--help", { "--help", "--bogus" }, NULL, NULL, NULL, NULL, NULL, 0,
	  "server=- key=- ca=- config=- insecure=0 fresh=0 quiet=0 verbose=0 "
	  "ct=10 rt=0 done=1\n", "" },
	{ "-V", { "-V" }, NULL, NULL, NULL, NULL, NULL, 0,
	  "server=- key=- ca=- config=- insecure=0 fresh=0 quiet=0 verbose=0 "
	  "ct=10 rt=0 done=1\n", "" },

	/* usage errors */
	{ "nothing", { NULL }, NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  NO_PORT },
	{ "unknown long", { "--bogus", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: unknown option --bogus\n" },
	{ "unknown long=", { "--bogus=1", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: unknown option --bogus=1\n" },
	{ "ambiguous", { "--h", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: unknown option --h\n" },
	{ "unknown short", { "-x", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: unknown option -x\n" },
	{ "unknown short last", { "-vx", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: unknown option -x\n" },
	{ "unknown short first", { "-xv", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: unknown option -x\n" },
	{ "flag with a value", { "--tcp=yes", "3000" }, NULL, NULL, NULL,
	  NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: option --tcp=yes takes no value\n" },
	{ "missing value", { "3000", "--server" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL,
	  "tunnel-client: option --server needs a value\n" },
	{ "missing port value", { "--port" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: option --port needs a value\n" },
	{ "--port 0", { "--port", "0" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: port 0: too small\n" },
	{ "--port 65536", { "--port", "65536" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: port 65536: too large\n" },
	{ "--port abc", { "--port", "abc" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: port abc: invalid\n" },
	{ "--port empty", { "--port=" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: port : invalid\n" },
	{ "--port space", { "--port", " 80" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: port  80: invalid\n" },
	{ "--connect-timeout 0", { "--connect-timeout", "0", "3000" }, NULL,
	  NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: connect timeout 0: too small\n" },
	{ "--connect-timeout 3601", { "--connect-timeout", "3601", "3000" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: connect timeout 3601: too large\n" },
	{ "--request-timeout -1", { "--request-timeout", "-1", "3000" }, NULL,
	  NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: request timeout -1: too small\n" },
	{ "--request-timeout 1.5", { "--request-timeout", "1.5", "3000" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: request timeout 1.5: invalid\n" },
	{ "two targets", { "3000", "4000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: too many arguments\n" },
	{ "target 0", { "0" }, NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: port 0: too small\n" BAD_TARGET("0") },
	{ "target host:0", { "h:0" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, BAD_TARGET("h:0") },
	{ "target ftp", { "ftp://h:21" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, BAD_TARGET("ftp://h:21") },
	{ "target -", { "-" }, NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  BAD_TARGET("-") },
	{ "bad server", { "--server", "ftp://x", "3000" }, NULL, NULL, NULL,
	  NULL, NULL, TUN_EINVAL, NULL, "tunnel-client: bad server URL "
	  "ftp://x (want http://HOST[:PORT] or https://...)\n" },
	{ "empty server", { "--server=", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: bad server URL  (want "
	  "http://HOST[:PORT] or https://...)\n" },
	{ "--tcp", { "--tcp", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  0, TOP_DEFAULT "[-] host=localhost port=3000 https=0 tcp=1 sub=- "
	  "auth=- cidr= hh=rewrite\n", "" },
	{ "--tcp --remote-port --pool", { "--tcp", "--remote-port", "20001",
	  "--pool", "5432" }, NULL, NULL, NULL, NULL, NULL,
	  0, TOP_DEFAULT "[-] host=localhost port=5432 https=0 tcp=1 sub=- "
	  "auth=- cidr= hh=rewrite rport=20001 pool=1\n", "" },
	{ "--tcp alone", { "--tcp" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, NO_PORT },
	{ "--remote-port without --tcp", { "--remote-port", "20001", "80" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: --remote-port is for TCP tunnels\n" },
	{ "--remote-port 0", { "--tcp", "--remote-port", "0", "80" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: remote port 0: too small\n" },
	{ "--tcp with an https target", { "--tcp", "https://x:443" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: a TCP tunnel carries raw bytes: no "
	  "--https\n" },
	{ "start picks sections in order", { "start", "b", "a" }, NULL, NULL,
	  NULL, NULL, "[tunnel a]\nport = 1\n[tunnel b]\nport = 2\n"
	  "[tunnel c]\nport = 3\n", 0,
	  TOP_DEFAULT "[b] host=localhost port=2 https=0 tcp=0 sub=- auth=- "
	  "cidr= hh=rewrite\n[a] host=localhost port=1 https=0 tcp=0 sub=- "
	  "auth=- cidr= hh=rewrite\n", "" },
	{ "start an unknown name", { "start", "a", "zz" }, NULL, NULL,
	  NULL, NULL, "[tunnel a]\nport = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client: no [tunnel zz] in the config file (or named "
	  "twice)\n" },
	{ "start a name twice", { "start", "a", "a" }, NULL, NULL,
	  NULL, NULL, "[tunnel a]\nport = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client: no [tunnel a] in the config file (or named "
	  "twice)\n" },
	{ "start without names", { "start" }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client: start wants the names of [tunnel NAME] sections\n" },
	{ "--all runs every section", { "--all" }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\n[tunnel b]\nport = 2\ntype = tcp\n"
	  "remote_port = 20002\npool = yes\n", 0,
	  TOP_DEFAULT "[a] host=localhost port=1 https=0 tcp=0 sub=- auth=- "
	  "cidr= hh=rewrite\n[b] host=localhost port=2 https=0 tcp=1 sub=- "
	  "auth=- cidr= hh=rewrite rport=20002 pool=1\n", "" },
	{ "a port and --all", { "--all", "3000" }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client: a PORT runs one tunnel: no start or --all with "
	  "it\n" },
	{ "bad name", { "--name", "Bad_Name", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: tunnel: bad name Bad_Name "
	  "(use [a-z0-9-], at most 63)\n" },
	{ "name too long", { "--name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaa", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: tunnel: bad name aaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (use [a-z0-9-], "
	  "at most 63)\n" },
	{ "basic-auth no colon", { "--basic-auth", "user", "3000" }, NULL,
	  NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: --basic-auth wants USER:PASS\n" },
	{ "basic-auth no user", { "--basic-auth", ":pw", "3000" }, NULL, NULL,
	  NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: --basic-auth wants USER:PASS\n" },
	{ "bad cidr", { "--allow-cidr", "10.0.0.0/8", "--allow-cidr",
	  "10.0.0.0/33", "3000" }, NULL, NULL, NULL, NULL, NULL, TUN_EINVAL,
	  NULL, "tunnel-client: tunnel: bad CIDR 10.0.0.0/33\n" },
	{ "cidr garbage", { "--allow-cidr", "example.com", "3000" }, NULL,
	  NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad CIDR example.com\n" },
	{ "host-header space", { "--host-header", "a b", "3000" }, NULL, NULL,
	  NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad --host-header a b\n" },
	{ "host-header empty", { "--host-header=", "3000" }, NULL, NULL, NULL,
	  NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad --host-header \n" },
	{ "host-header CRLF", { "--host-header", "a\r\nX-Evil: 1", "3000" },
	  NULL, NULL, NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad --host-header a\r\nX-Evil: 1\n" },
	{ "host space", { "--host", "a b", "3000" }, NULL, NULL, NULL, NULL,
	  NULL, TUN_EINVAL, NULL, "tunnel-client: tunnel: bad host a b\n" },
	{ "host empty", { "--host=", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: tunnel: bad host \n" },
	{ "host @", { "--host", "u@h", "3000" }, NULL, NULL, NULL, NULL, NULL,
	  TUN_EINVAL, NULL, "tunnel-client: tunnel: bad host u@h\n" },
	{ "host CRLF", { "--host", "h\r\nX: 1", "3000" }, NULL, NULL, NULL,
	  NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad host h\r\nX: 1\n" },
	{ "host brackets", { "--host", "[::1]", "3000" }, NULL, NULL, NULL,
	  NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: tunnel: bad host [::1]\n" },
	{ "missing --config", { "--config", "%T/nope", "3000" }, NULL, NULL,
	  NULL, NULL, NULL, TUN_EINVAL, NULL,
	  "tunnel-client: %T/nope: No such file or directory\n" },

	/* environment and config file: precedence */
	{ "env", { "3000" }, "http://env:1", "envkey", NULL, NULL, NULL, 0,
	  "server=http://env:1 key=envkey ca=- config=- insecure=0 fresh=0 "
	  "quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "file", { "3000" }, NULL, NULL, NULL, NULL,
	  "# top\nserver = https://file.example\napi_key = \"file key\"\n"
	  "ca_file = /etc/ca.pem\ninsecure = on\n", 0,
	  "server=https://file.example key=file key ca=/etc/ca.pem config=- "
	  "insecure=1 fresh=0 quiet=0 verbose=0 ct=10 rt=0 done=0\n"
	  TUN_DEFAULT("3000"), "" },
	{ "env beats file", { "3000" }, "http://env:1", "envkey", NULL, NULL,
	  "server = http://file:2\napi_key = filekey\n", 0,
	  "server=http://env:1 key=envkey ca=- config=- insecure=0 fresh=0 "
	  "quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "empty env is unset", { "3000" }, "", "", NULL, NULL,
	  "server = http://file:2\napi_key = filekey\n", 0,
	  "server=http://file:2 key=filekey ca=- config=- insecure=0 fresh=0 "
	  "quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "command line beats env and file", { "--server", "http://cli:3",
	  "--api-key", "clikey", "3000" }, "http://env:1", "envkey", NULL,
	  NULL, "server = http://file:2\napi_key = filekey\n", 0,
	  "server=http://cli:3 key=clikey ca=- config=- insecure=0 fresh=0 "
	  "quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "one from each", { "--api-key", "clikey", "3000" }, "http://env:1",
	  NULL, NULL, NULL, "server = http://file:2\napi_key = filekey\n"
	  "ca_file = /f\n", 0,
	  "server=http://env:1 key=clikey ca=/f config=- insecure=0 fresh=0 "
	  "quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"), "" },
	{ "--config", { "--config", "%T/my.conf", "3000" }, NULL, NULL, NULL,
	  "%T/my.conf", "api_key = mine\n", 0,
	  "server=http://127.0.0.1:8080 key=mine ca=- config=%T/my.conf "
	  "insecure=0 fresh=0 quiet=0 verbose=0 ct=10 rt=0 done=0\n"
	  TUN_DEFAULT("3000"), "" },
	{ "--config skips the default", { "--config", "%T/my.conf", "3000" },
	  NULL, NULL, NULL, NULL, "api_key = default\n", TUN_EINVAL, NULL,
	  "tunnel-client: %T/my.conf: No such file or directory\n" },
	{ "relative XDG_CONFIG_HOME: HOME", { "3000" }, NULL, NULL, "xdg",
	  "%T/home/.config/tunnel-client/config", "api_key = home\n", 0,
	  "server=http://127.0.0.1:8080 key=home ca=- config=- insecure=0 "
	  "fresh=0 quiet=0 verbose=0 ct=10 rt=0 done=0\n" TUN_DEFAULT("3000"),
	  "" },
	{ "XDG_CONFIG_HOME beats HOME", { "3000" }, NULL, NULL, NULL,
	  "%T/home/.config/tunnel-client/config", "api_key = home\n", 0,
	  TOP_DEFAULT TUN_DEFAULT("3000"), "" },
	{ "sections", { NULL }, NULL, NULL, NULL, NULL,
	  "api_key = k\n[tunnel web]\nport = 3000\nhost = 127.0.0.1\n"
	  "subdomain = web\nhttps = yes\nbasic_auth = a:b\n"
	  "allow_cidr = 10.0.0.0/8\nallow_cidr = 192.168.0.0/16\n"
	  "host_header = preserve\ntype = http\n"
	  "[tunnel \"api two\"]\nport = 4000\nname = api\n", 0,
	  "server=http://127.0.0.1:8080 key=k ca=- config=- insecure=0 "
	  "fresh=0 quiet=0 verbose=0 ct=10 rt=0 done=0\n"
	  "[web] host=127.0.0.1 port=3000 https=1 tcp=0 sub=web auth=a:b "
	  "cidr=10.0.0.0/8,192.168.0.0/16 hh=preserve\n"
	  "[api two] host=localhost port=4000 https=0 tcp=0 sub=api auth=- "
	  "cidr= hh=rewrite\n", "" },
	{ "flags overlay every section", { "--host-header", "rewrite",
	  "--allow-cidr", "1.2.3.4", "--https", "--name", "x" }, NULL, NULL,
	  NULL, NULL, "[tunnel a]\nport = 1\nallow_cidr = 10.0.0.0/8\n"
	  "host_header = preserve\n[tunnel b]\nport = 2\n", 0,
	  TOP_DEFAULT "[a] host=localhost port=1 https=1 tcp=0 sub=x auth=- "
	  "cidr=1.2.3.4 hh=rewrite\n[b] host=localhost port=2 https=1 tcp=0 "
	  "sub=x auth=- cidr=1.2.3.4 hh=rewrite\n", "" },
	{ "a port on the command line replaces the sections", { "--port",
	  "4000" }, NULL, NULL, NULL, NULL, "[tunnel a]\nport = 1\n"
	  "subdomain = a\n[tunnel b]\nport = 2\n", 0,
	  TOP_DEFAULT TUN_DEFAULT("4000"), "" },
	{ "unnamed section", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel]\nport = 9\n", 0, TOP_DEFAULT TUN_DEFAULT("9"), "" },
	{ "same name again continues the section", { NULL }, NULL, NULL, NULL,
	  NULL, "[tunnel a]\nport = 1\n[tunnel a]\nport = 2\nhost = h\n", 0,
	  TOP_DEFAULT "[a] host=h port=2 https=0 tcp=0 sub=- auth=- cidr= "
	  "hh=rewrite\n", "" },
	{ "empty file", { "3000" }, NULL, NULL, NULL, NULL, "", 0,
	  TOP_DEFAULT TUN_DEFAULT("3000"), "" },
	{ "empty section", { NULL }, NULL, NULL, NULL, NULL, "[tunnel a]\n",
	  TUN_EINVAL, NULL, NO_PORT },

	/* config file errors */
	{ "unknown key", { "3000" }, NULL, NULL, NULL, NULL,
	  "server = http://x\nfoo = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 2: unknown key foo\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "tunnel key at top", { "3000" }, NULL, NULL, NULL, NULL,
	  "port = 3000\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 1: unknown key port\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "top key in a section", { "3000" }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nserver = http://x\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 2: unknown key server\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "unknown section", { "3000" }, NULL, NULL, NULL, NULL,
	  "[server]\nport = 1\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 2: unknown section [server]\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "bad port", { "3000" }, NULL, NULL, NULL, NULL,
	  "\n\n[tunnel]\nport = 3x\n", TUN_EINVAL, NULL,
	  "tunnel-client: port 3x: invalid\n"
	  "tunnel-client[error]: config line 4: bad value for port\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "bad bool", { "3000" }, NULL, NULL, NULL, NULL, "insecure = maybe\n",
	  TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 1: bad value for insecure\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "bad https", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel]\nport = 1\nhttps = 2\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 3: bad value for https\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "bad type", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel]\ntype = udp\n", TUN_EINVAL, NULL,
	  "tunnel-client[error]: config line 2: bad value for type\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "type tcp", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel]\ntype = tcp\nport = 22\n", 0,
	  TOP_DEFAULT "[-] host=localhost port=22 https=0 tcp=1 sub=- auth=- "
	  "cidr= hh=rewrite\n", "" },
	{ "bad remote_port", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel]\ntype = tcp\nport = 22\nremote_port = 70000\n",
	  TUN_EINVAL, NULL, "tunnel-client: remote_port 70000: too large\n"
	  "tunnel-client[error]: config line 4: bad value for remote_port\n"
	  "tunnel-client: %T/xdg/tunnel-client/config: invalid value\n" },
	{ "section without a port", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\n[tunnel b]\nhost = x\n", TUN_EINVAL, NULL,
	  "tunnel-client: [tunnel b] has no port\n" },
	{ "empty subdomain", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\nsubdomain =\n", TUN_EINVAL, NULL,
	  "tunnel-client: a: bad name  (use [a-z0-9-], at most 63)\n" },
	{ "bad cidr in a section", { NULL }, NULL, NULL, NULL, NULL,
	  "[tunnel a]\nport = 1\nallow_cidr = 1.2.3.4/40\n", TUN_EINVAL, NULL,
	  "tunnel-client: a: bad CIDR 1.2.3.4/40\n" },
	{ "syntax error", { "3000" }, NULL, NULL, NULL, NULL,
	  "server = http://x\n[tunnel\n", TUN_EINVAL, NULL,
	  "tunnel-client: %T/xdg/tunnel-client/config: line 2: bad section "
	  "header: expected ']'\n" },
	{ "no equals", { "3000" }, NULL, NULL, NULL, NULL,
	  "server http://x\n", TUN_EINVAL, NULL,
	  "tunnel-client: %T/xdg/tunnel-client/config: line 1: expected "
	  "'key = value'\n" },
	{ "unterminated quote", { "3000" }, NULL, NULL, NULL, NULL,
	  "api_key = \"abc\n", TUN_EINVAL, NULL,
	  "tunnel-client: %T/xdg/tunnel-client/config: line 1: unterminated "
	  "quote\n" },
	{ "control character", { "3000" }, NULL, NULL, NULL, NULL,
	  "api_key = a\x01" "b\n", TUN_EINVAL, NULL,
	  "tunnel-client: %T/xdg/tunnel-client/config: line 1: control "
	  "character 0x01\n" },
	{ "bad server in the file", { "3000" }, NULL, NULL, NULL, NULL,
	  "server = example.com\n", TUN_EINVAL, NULL,
	  "tunnel-client: bad server URL example.com (want "
	  "http://HOST[:PORT] or https://...)\n" },
};

START_TEST(test_load)
{
	const struct load_case	*tc = &loads[_i];
	struct options		 o;
	char			*argv[MAX_ARGS + 2], *p, *want, *err;
	char			 got[CAP_MAX];
	int			 argc, i, r;

	argv[0] = xstrdup("tunnel-client");
	for (argc = 1; argc <= MAX_ARGS && tc->args[argc - 1] != NULL; argc++)
		argv[argc] = expand(tc->args[argc - 1]);
	argv[argc] = NULL;
	if (tc->env_server != NULL)
		setenv("TUNNEL_SERVER", tc->env_server, 1);
	if (tc->env_key != NULL)
		setenv("TUNNEL_API_KEY", tc->env_key, 1);
	if (tc->xdg != NULL)
		setenv("XDG_CONFIG_HOME", tc->xdg, 1);
	if (tc->cfg != NULL) {
		p = expand(tc->cfgpath != NULL ? tc->cfgpath :
		    "%T/xdg/tunnel-client/config");
		write_file(p, tc->cfg, strlen(tc->cfg));
		free(p);
	}
	cap_begin();
	r = options_load(&o, argc, argv);
	cap_end();
	err = expand(tc->err);
	ck_assert_msg(r == tc->r, "%s: r %d, want %d (%s)", tc->what, r,
	    tc->r, cap_err);
	ck_assert_msg(strcmp(cap_err, err) == 0, "%s: stderr \"%s\", want "
	    "\"%s\"", tc->what, cap_err, err);
	if (r == 0) {
		want = expand(tc->want);
		dump_options(&o, got, sizeof(got));
		ck_assert_msg(strcmp(got, want) == 0, "%s:\n%s\nwant\n%s",
		    tc->what, got, want);
		free(want);
	}
	if (o.done && strcmp(tc->args[0], "-V") == 0)
		ck_assert_str_eq(cap_out, "tunnel-client " PACKAGE_VERSION
		    "\n");
	else if (o.done)
		ck_assert(strncmp(cap_out, "Usage: tunnel-client [OPTIONS] "
		    "[PORT | HOST:PORT | URL]\n", 55) == 0);
	else
		ck_assert_str_eq(cap_out, "");
	options_free(&o);
	ck_assert_ptr_null(o.server);
	ck_assert_ptr_null(o.tunnels);
	ck_assert_uint_eq(o.ntunnels, 0);
	free(err);
	for (i = 0; i < argc; i++)
		free(argv[i]);
}
END_TEST

/* Parsing twice in one process (getopt keeps state between calls). */
START_TEST(test_load_twice)
{
	struct options	 o;
	char		 a0[] = "tunnel-client", a1[] = "-hv", a2[] = "3000";
	char		 b1[] = "-q", b2[] = "4000";
	char		*argv1[] = { a0, a1, a2, NULL };
	char		*argv2[] = { a0, b1, b2, NULL };
	char		 got[CAP_MAX];

	cap_begin();
	ck_assert_int_eq(options_load(&o, 3, argv1), 0);
	ck_assert(o.done);
	options_free(&o);
	ck_assert_int_eq(options_load(&o, 3, argv2), 0);
	cap_end();
	dump_options(&o, got, sizeof(got));
	ck_assert_str_eq(got, "server=http://127.0.0.1:8080 key=- ca=- "
	    "config=- insecure=0 fresh=0 quiet=1 verbose=0 ct=10 rt=0 "
	    "done=0\n" TUN_DEFAULT("4000"));
	ck_assert_str_eq(cap_err, "");
	options_free(&o);
}
END_TEST

/* Hostile files and values that are too big for a table. */
START_TEST(test_load_files)
{
	struct options	 o;
	char		 a0[] = "tunnel-client", a1[] = "3000";
	char		*argv[] = { a0, a1, NULL }, *path, *want, *buf, *s;
	size_t		 i, n;
	int		 r;

	path = expand("%T/xdg/tunnel-client/config");

	/* a directory where the file should be */
	mkdir_p(path);
	cap_begin();
	ck_assert_int_eq(options_load(&o, 2, argv), TUN_EINVAL);
	cap_end();
	options_free(&o);
	xasprintf(&want, "tunnel-client: %s: not a regular file\n", path);
	ck_assert_str_eq(cap_err, want);
	free(want);
	ck_assert_int_eq(rmdir(path), 0);

	/* a NUL byte */
	write_file(path, "api_key = a\0b\n", 14);
	cap_begin();
	ck_assert_int_eq(options_load(&o, 2, argv), TUN_EINVAL);
	cap_end();
	options_free(&o);
	xasprintf(&want, "tunnel-client: %s: line 1: NUL byte\n", path);
	ck_assert_str_eq(cap_err, want);
	free(want);

	/* a line one byte too long */
	s = long_string('k', CONF_MAX_LINE + 1);
	xasprintf(&buf, "api_key = %s\n", s + 10);
	write_file(path, buf, strlen(buf));
	cap_begin();
	ck_assert_int_eq(options_load(&o, 2, argv), TUN_EINVAL);
	cap_end();
	options_free(&o);
	xasprintf(&want, "tunnel-client: %s: line 1: line over 4096 "
	    "bytes\n", path);
	ck_assert_str_eq(cap_err, want);
	free(want);
	free(buf);

	/* the longest line (CONF_MAX_LINE): the key kept whole */
	xasprintf(&buf, "api_key = %s\n", s + 11);
	write_file(path, buf, strlen(buf));
	cap_begin();
	r = options_load(&o, 2, argv);
	cap_end();
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(o.api_key, s + 11);
	options_free(&o);
	free(buf);
	free(s);

	/* 16 sections are fine, 17 are too many */
	for (n = 16; n <= 17; n++) {
		buf = xstrdup("");
		for (i = 0; i < n; i++) {
			xasprintf(&s, "%s[tunnel t%zu]\nport = %zu\n", buf, i,
			    i + 1);
			free(buf);
			buf = s;
		}
		write_file(path, buf, strlen(buf));
		free(buf);
		argv[1] = NULL;
		cap_begin();
		r = options_load(&o, 1, argv);
		cap_end();
		if (n == 16) {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(o.ntunnels, 16);
			ck_assert_str_eq(o.tunnels[15].name, "t15");
			ck_assert_int_eq(o.tunnels[15].port, 16);
			ck_assert_str_eq(cap_err, "");
		} else {
			ck_assert_int_eq(r, TUN_EINVAL);
			xasprintf(&want, "tunnel-client[error]: config line "
			    "34: too many tunnels\ntunnel-client: %s: limit "
			    "reached\n", path);
			ck_assert_str_eq(cap_err, want);
			free(want);
		}
		options_free(&o);
		argv[1] = a1;
	}

	/* a symlink to the file is followed (it is the user's own) */
	free(path);
	path = expand("%T/real.conf");
	write_file(path, "api_key = linked\n", 17);
	want = expand("%T/xdg/tunnel-client/config");
	ck_assert_int_eq(unlink(want), 0);
	ck_assert_int_eq(symlink(path, want), 0);
	cap_begin();
	ck_assert_int_eq(options_load(&o, 2, argv), 0);
	cap_end();
	ck_assert_str_eq(o.api_key, "linked");
	options_free(&o);
	free(want);
	free(path);
}
END_TEST

/* Long values pass through whole or are refused, never cut. */
START_TEST(test_load_long)
{
	struct options	 o;
	char		 a0[] = "tunnel-client", opt_host[] = "--host";
	char		 opt_key[] = "--api-key", a3[] = "3000";
	char		*argv[] = { a0, opt_key, NULL, opt_host, NULL, a3,
			    NULL };
	char		*key, *host, *want;

	key = long_string('K', 100000);
	argv[2] = key;
	host = long_string('h', 255);
	argv[4] = host;
	cap_begin();
	ck_assert_int_eq(options_load(&o, 6, argv), 0);
	cap_end();
	ck_assert_str_eq(o.api_key, key);
	ck_assert_str_eq(o.tunnels[0].host, host);
	options_free(&o);
	free(host);

	host = long_string('h', 256);
	argv[4] = host;
	cap_begin();
	ck_assert_int_eq(options_load(&o, 6, argv), TUN_EINVAL);
	cap_end();
	options_free(&o);
	xasprintf(&want, "tunnel-client: tunnel: bad host %s\n", host);
	ck_assert_str_eq(cap_err, want);
	free(want);
	free(host);
	free(key);
}
END_TEST

/* --- cstate ------------------------------------------------------------- */

static void
conf_init(struct options *o, struct tunnel_conf *t)
{
	memset(o, 0, sizeof(*o));
	memset(t, 0, sizeof(*t));
	o->server = xstrdup("http://127.0.0.1:8080");
	o->api_key = xstrdup("k1234567890123456");
	t->host = xstrdup("localhost");
	t->port = 3000;
	t->host_header = xstrdup("rewrite");
}

static void
conf_fini(struct options *o, struct tunnel_conf *t)
{
	size_t	i;

	free(o->server);
	free(o->api_key);
	free(t->name);
	free(t->host);
	free(t->subdomain);
	free(t->basic_auth);
	free(t->host_header);
	for (i = 0; i < t->nallow_cidr; i++)
		free(t->allow_cidr[i]);
	free(t->allow_cidr);
}

START_TEST(test_cstate_path)
{
	struct options		 o;
	struct tunnel_conf	 t;
	char			*p, *want;

	conf_init(&o, &t);
	/* sha256("v1\nSERVER\nKEY\nlocalhost\n3000\nhttp\n\n\n\n")[:24] */
	p = cstate_path(&o, &t);
	want = expand("%T/state/tunnel-client/tunnel-ca940b624e38ee7b1764994d"
	    ".json");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);

	/* no key */
	free(o.api_key);
	o.api_key = NULL;
	p = cstate_path(&o, &t);
	want = expand("%T/state/tunnel-client/tunnel-dbe11c70dbe3c1a9919411f8"
	    ".json");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);

	/* a relative XDG_STATE_HOME is ignored: HOME */
	setenv("XDG_STATE_HOME", "state", 1);
	p = cstate_path(&o, &t);
	want = expand("%T/home/.local/state/tunnel-client/"
	    "tunnel-dbe11c70dbe3c1a9919411f8.json");
	ck_assert_str_eq(p, want);
	free(p);
	free(want);

	/* nowhere to keep it */
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "", 1);
	ck_assert_ptr_null(cstate_path(&o, &t));
	unsetenv("HOME");
	ck_assert_ptr_null(cstate_path(&o, &t));
	conf_fini(&o, &t);
}
END_TEST

/* Which settings choose another saved tunnel, and which do not. */
enum { CH_KEY, CH_NOKEY, CH_SERVER, CH_HOST, CH_PORT, CH_TCP, CH_SUB,
    CH_AUTH, CH_CIDR, CH_CIDR_ORDER, CH_HTTPS, CH_HH, CH_NAME, CH_FRESH,
    };
static const struct {
	int	 what;
	bool	 differs;
} changes[] = {
	{ CH_KEY, true }, { CH_NOKEY, true }, { CH_SERVER, true },
	{ CH_HOST, true }, { CH_PORT, true }, { CH_TCP, true },
	{ CH_SUB, true }, { CH_AUTH, true }, { CH_CIDR, true },
	{ CH_CIDR_ORDER, true },
	{ CH_HTTPS, false }, { CH_HH, false }, { CH_NAME, false },
	{ CH_FRESH, false },
};

static void
cidr_add(struct tunnel_conf *t, const char *c)
{
	t->allow_cidr = xreallocarray(t->allow_cidr, t->nallow_cidr + 1,
	    sizeof(*t->allow_cidr));
	t->allow_cidr[t->nallow_cidr++] = xstrdup(c);
}

START_TEST(test_cstate_path_inputs)
{
	struct options		 o;
	struct tunnel_conf	 t;
	char			*a, *b;

	conf_init(&o, &t);
	cidr_add(&t, "10.0.0.0/8");
	cidr_add(&t, "::1");
	t.subdomain = xstrdup("app");
	t.basic_auth = xstrdup("u:p");
	a = cstate_path(&o, &t);
	switch (changes[_i].what) {
	case CH_KEY:
		o.api_key[0] = 'X';
		break;
	case CH_NOKEY:
		free(o.api_key);
		o.api_key = NULL;
		break;
	case CH_SERVER:
		free(o.server);
		o.server = xstrdup("http://127.0.0.1:8081");
		break;
	case CH_HOST:
		free(t.host);
		t.host = xstrdup("127.0.0.1");
		break;
	case CH_PORT:
		t.port = 3001;
		break;
	case CH_TCP:
		t.tcp = true;
		break;
	case CH_SUB:
		t.subdomain[0] = 'b';
		break;
	case CH_AUTH:
		t.basic_auth[2] = 'q';
		break;
	case CH_CIDR:
		cidr_add(&t, "192.168.0.0/16");
		break;
	case CH_CIDR_ORDER:
		free(t.allow_cidr[0]);
		free(t.allow_cidr[1]);
		t.allow_cidr[0] = xstrdup("::1");
		t.allow_cidr[1] = xstrdup("10.0.0.0/8");
		break;
	case CH_HTTPS:
		t.https = true;
		break;
	case CH_HH:
		free(t.host_header);
		t.host_header = xstrdup("preserve");
		break;
	case CH_NAME:
		t.name = xstrdup("web");
		break;
	case CH_FRESH:
		o.fresh = true;
		o.insecure = true;
		o.verbose = 2;
		break;
	}
	b = cstate_path(&o, &t);
	ck_assert_uint_eq(strlen(a), strlen(b));
	if (changes[_i].differs)
		ck_assert_str_ne(a, b);
	else
		ck_assert_str_eq(a, b);
	free(a);
	free(b);
	conf_fini(&o, &t);
}
END_TEST

static void
check_mode(const char *path, mode_t want)
{
	struct stat	sb;

	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert_msg((sb.st_mode & 07777) == want, "%s: mode %o, want %o",
	    path, (unsigned)(sb.st_mode & 07777), (unsigned)want);
}

static void
check_saved_json(const char *path, const char *server, const char *id,
    const char *tok, const char *url)
{
	struct json_object	*obj, *v;

	obj = json_object_from_file(path);
	ck_assert_ptr_nonnull(obj);
	ck_assert_int_eq(json_object_object_length(obj), 4);
	ck_assert(json_object_object_get_ex(obj, "server", &v));
	ck_assert_str_eq(json_object_get_string(v), server);
	ck_assert(json_object_object_get_ex(obj, "tunnel_id", &v));
	ck_assert_str_eq(json_object_get_string(v), id);
	ck_assert(json_object_object_get_ex(obj, "auth_token", &v));
	ck_assert_str_eq(json_object_get_string(v), tok);
	ck_assert(json_object_object_get_ex(obj, "url", &v));
	ck_assert_str_eq(json_object_get_string(v), url);
	json_object_put(obj);
}

START_TEST(test_cstate_roundtrip)
{
	struct tunnel_info	 ti, got;
	char			*path, *dir;
	char			 id[] = "abc123";
	char			 tok[] = "TOKENtoken0123456789";
	char			 url[] = "http://127.0.0.1:8080/abc123/";
	char			 id2[] = "second", tok2[] = "T2";
	char			 url2[] = "https://t.example/second/";
	mode_t			 old;

	ti.tunnel_id = id;
	ti.token = tok;
	ti.url = url;
	path = expand("%T/state/a/b/tunnel-x.json");
	old = umask(0);		/* the modes must not depend on the umask */
	cstate_remove(path);	/* nothing there: silent */
	cap_begin();
	ck_assert_int_eq(cstate_save(path, "http://s:1", &ti), 0);
	cap_end();
	umask(old);
	ck_assert_str_eq(cap_err, "");
	check_mode(path, 0600);
	dir = expand("%T/state");
	check_mode(dir, 0700);
	free(dir);
	dir = expand("%T/state/a");
	check_mode(dir, 0700);
	free(dir);
	dir = expand("%T/state/a/b");
	check_mode(dir, 0700);
	check_saved_json(path, "http://s:1", id, tok, url);

	memset(&got, 0xa5, sizeof(got));
	ck_assert_int_eq(cstate_load(path, "http://s:1", &got), 0);
	ck_assert_str_eq(got.tunnel_id, id);
	ck_assert_str_eq(got.token, tok);
	ck_assert_str_eq(got.url, url);
	tunnel_info_clear(&got);
	ck_assert_ptr_null(got.tunnel_id);
	ck_assert_ptr_null(got.token);
	ck_assert_ptr_null(got.url);

	/* another server: nothing saved for it, quietly */
	memset(&got, 0xa5, sizeof(got));
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "http://s:2", &got), TUN_ENOENT);
	cap_end();
	ck_assert_str_eq(cap_err, "");
	ck_assert_ptr_null(got.tunnel_id);
	ck_assert_ptr_null(got.token);

	/* overwrite: still 0600, no temporary file left */
	ti.tunnel_id = id2;
	ti.token = tok2;
	ti.url = url2;
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_eq(cstate_save(path, "http://s:1", &ti), 0);
	check_mode(path, 0600);
	check_saved_json(path, "http://s:1", id2, tok2, url2);
	ck_assert_int_eq(cstate_load(path, "http://s:1", &got), 0);
	ck_assert_str_eq(got.tunnel_id, id2);
	tunnel_info_clear(&got);
	{
		char	*ls;
		FILE	*fp;
		char	 line[512];
		int	 n = 0;

		xasprintf(&ls, "ls -A '%s'", dir);
		fp = popen(ls, "r");
		ck_assert_ptr_nonnull(fp);
		while (fgets(line, sizeof(line), fp) != NULL) {
			ck_assert_str_eq(line, "tunnel-x.json\n");
			n++;
		}
		pclose(fp);
		ck_assert_int_eq(n, 1);
		free(ls);
	}

	cstate_remove(path);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(cstate_load(path, "http://s:1", &got), TUN_ENOENT);
	free(dir);
	free(path);
}
END_TEST

/* Saved files that are damaged or made to hurt. */
static const struct state_case {
	const char	*what;
	const char	*text;
	size_t		 len;		/* 0: strlen(text) */
	int		 r;
} states[] = {
#define GOOD_TAIL "\"auth_token\":\"tok\",\"url\":\"http://s/a/\"}"
	{ "good", "{\"server\":\"S\",\"tunnel_id\":\"a\"," GOOD_TAIL, 0, 0 },
	{ "good, extra keys", "{\"x\":[1,{}],\"server\":\"S\","
	  "\"tunnel_id\":\"a\"," GOOD_TAIL, 0, 0 },
	{ "empty", "", 0, TUN_EINVAL },
	{ "blank", " \n", 0, TUN_EINVAL },
	{ "null", "null", 0, TUN_EINVAL },
	{ "array", "[\"S\",\"a\",\"tok\"]", 0, TUN_EINVAL },
	{ "string", "\"S\"", 0, TUN_EINVAL },
	{ "empty object", "{}", 0, TUN_EINVAL },
	{ "truncated", "{\"server\":\"S\",\"tunnel_id\":\"a\",\"auth_tok", 0,
	  TUN_EINVAL },
	{ "no server", "{\"tunnel_id\":\"a\"," GOOD_TAIL, 0, TUN_EINVAL },
	{ "no id", "{\"server\":\"S\"," GOOD_TAIL, 0, TUN_EINVAL },
	{ "no token", "{\"server\":\"S\",\"tunnel_id\":\"a\",\"url\":\"u\"}",
	  0, TUN_EINVAL },
	{ "no url", "{\"server\":\"S\",\"tunnel_id\":\"a\",\"auth_token\":"
	  "\"t\"}", 0, TUN_EINVAL },
	{ "number id", "{\"server\":\"S\",\"tunnel_id\":7," GOOD_TAIL, 0,
	  TUN_EINVAL },
	{ "null token", "{\"server\":\"S\",\"tunnel_id\":\"a\",\"auth_token\":"
	  "null,\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "object server", "{\"server\":{},\"tunnel_id\":\"a\"," GOOD_TAIL, 0,
	  TUN_EINVAL },
	{ "empty token", "{\"server\":\"S\",\"tunnel_id\":\"a\",\"auth_token\":"
	  "\"\",\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "id with a slash", "{\"server\":\"S\",\"tunnel_id\":\"../a\","
	  GOOD_TAIL, 0, TUN_EINVAL },
	{ "id upper case", "{\"server\":\"S\",\"tunnel_id\":\"Ab\"," GOOD_TAIL,
	  0, TUN_EINVAL },
	{ "id empty", "{\"server\":\"S\",\"tunnel_id\":\"\"," GOOD_TAIL, 0,
	  TUN_EINVAL },
	{ "id too long", "{\"server\":\"S\",\"tunnel_id\":\"aaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"," GOOD_TAIL, 0,
	  TUN_EINVAL },
	{ "token with CRLF", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\\r\\nX-Evil: 1\",\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "token with a space", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t t\",\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "token with a NUL", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\\u0000x\",\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "token with UTF-8", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\\u00e9\",\"url\":\"u\"}", 0, TUN_EINVAL },
	{ "url with ESC", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\",\"url\":\"\\u001b[2J\"}", 0, TUN_EINVAL },
	{ "url with LF", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\",\"url\":\"a\\nb\"}", 0, TUN_EINVAL },
	{ "url empty", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  "\"auth_token\":\"t\",\"url\":\"\"}", 0, TUN_EINVAL },
	{ "NUL byte in the file", "{\"server\":\"S\",\"tunnel_id\":\"a\","
	  GOOD_TAIL "\0garbage", 0, 0 },
	{ "raw NUL in a string", "{\"server\":\"S\",\"tunnel_id\":\"a\0\","
	  GOOD_TAIL, sizeof("{\"server\":\"S\",\"tunnel_id\":\"a\0\","
	  GOOD_TAIL) - 1, TUN_EINVAL },
	{ "binary", "\xff\xfe\x00\x01\x80{", 6, TUN_EINVAL },
	{ "deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0, TUN_EINVAL },
#undef GOOD_TAIL
};

START_TEST(test_cstate_hostile)
{
	const struct state_case	*tc = &states[_i];
	struct tunnel_info	 ti;
	char			*path, *want;
	size_t			 len;

	len = tc->len != 0 ? tc->len : strlen(tc->text);
	path = expand("%T/state/tunnel-client/tunnel-h.json");
	write_file(path, tc->text, len);
	memset(&ti, 0xa5, sizeof(ti));
	cap_begin();
	ck_assert_msg(cstate_load(path, "S", &ti) == tc->r, "%s", tc->what);
	cap_end();
	if (tc->r == 0) {
		ck_assert_str_eq(ti.tunnel_id, "a");
		ck_assert_str_eq(ti.token, "tok");
		ck_assert_str_eq(ti.url, "http://s/a/");
		ck_assert_str_eq(cap_err, "");
		tunnel_info_clear(&ti);
	} else {
		ck_assert_ptr_null(ti.tunnel_id);
		ck_assert_ptr_null(ti.token);
		ck_assert_ptr_null(ti.url);
		xasprintf(&want, "tunnel-client[warn]: %s: ignoring a damaged "
		    "saved tunnel\n", path);
		ck_assert_msg(strcmp(cap_err, want) == 0, "%s: %s", tc->what,
		    cap_err);
		free(want);
	}
	free(path);
}
END_TEST

/* Sizes, non-regular files and symbolic links. */
START_TEST(test_cstate_files)
{
	struct tunnel_info	 ti;
	char			*path, *real, *buf, *want;
	const char		*head = "{\"server\":\"S\",\"tunnel_id\":\"a\","
				    "\"auth_token\":\"tok\",\"url\":\"u\"}";
	size_t			 hl = strlen(head);

	path = expand("%T/state/tunnel-client/tunnel-f.json");
	real = expand("%T/elsewhere.json");
	xasprintf(&want, "tunnel-client[warn]: %s: ignoring a damaged saved "
	    "tunnel\n", path);

	/* 64 KiB exactly, padded with blanks: fine; one byte more: not */
	buf = long_string(' ', 64 * 1024 + 1);
	memcpy(buf, head, hl);
	write_file(path, buf, 64 * 1024);
	ck_assert_int_eq(cstate_load(path, "S", &ti), 0);
	tunnel_info_clear(&ti);
	write_file(path, buf, 64 * 1024 + 1);
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_str_eq(cap_err, want);
	ck_assert_ptr_null(ti.token);
	free(buf);

	/* a directory */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_str_eq(cap_err, want);
	ck_assert_int_eq(rmdir(path), 0);

	/* a FIFO: refused at once, no hang waiting for a writer */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_str_eq(cap_err, want);
	ck_assert_int_eq(unlink(path), 0);

	/* a symbolic link, even to a good file, is not followed */
	write_file(real, head, hl);
	ck_assert_int_eq(symlink(real, path), 0);
	memset(&ti, 0xa5, sizeof(ti));
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_str_eq(cap_err, want);
	ck_assert_ptr_null(ti.token);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/zero", path), 0);
	cap_begin();
	ck_assert_int_eq(cstate_load(path, "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_str_eq(cap_err, want);
	ck_assert_int_eq(unlink(path), 0);

	/* /dev/null itself */
	cap_begin();
	ck_assert_int_eq(cstate_load("/dev/null", "S", &ti), TUN_EINVAL);
	cap_end();
	ck_assert_ptr_null(ti.token);

	free(want);
	free(real);
	free(path);
}
END_TEST

/* Saving never writes through a link and fails cleanly. */
START_TEST(test_cstate_save_hostile)
{
	struct tunnel_info	 ti;
	char			 id[] = "a", tok[] = "tok", url[] = "u";
	char			*path, *victim, *tmp, *want, *blocker;
	struct stat		 sb;
	FILE			*fp;
	char			 line[64];

	ti.tunnel_id = id;
	ti.token = tok;
	ti.url = url;
	path = expand("%T/state/tunnel-client/tunnel-s.json");
	victim = expand("%T/victim");
	write_file(victim, "precious\n", 9);

	/* the state file is a link: the link is replaced, not followed */
	mkdir_p(path);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink(victim, path), 0);
	ck_assert_int_eq(cstate_save(path, "S", &ti), 0);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	check_mode(path, 0600);
	fp = fopen(victim, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	fclose(fp);
	ck_assert_str_eq(line, "precious\n");

	/* the temporary file is a link: refused */
	xasprintf(&tmp, "%s.tmp%ld", path, (long)getpid());
	ck_assert_int_eq(symlink(victim, tmp), 0);
	cap_begin();
	ck_assert_int_eq(cstate_save(path, "S", &ti), TUN_EIO);
	cap_end();
	xasprintf(&want, "tunnel-client[warn]: cannot save the tunnel in %s: "
	    "%s\n", path, strerror(ELOOP));
	ck_assert_str_eq(cap_err, want);
	free(want);
	fp = fopen(victim, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	fclose(fp);
	ck_assert_str_eq(line, "precious\n");
	ck_assert_int_eq(lstat(tmp, &sb), -1);
	free(tmp);
	free(path);

	/* a file in the way of the state directory */
	blocker = expand("%T/blocker");
	write_file(blocker, "x", 1);
	path = expand("%T/blocker/tunnel-client/tunnel-s.json");
	cap_begin();
	ck_assert_int_eq(cstate_save(path, "S", &ti), TUN_EIO);
	cap_end();
	xasprintf(&want, "tunnel-client[warn]: cannot save the tunnel in %s: "
	    "%s\n", path, strerror(ENOTDIR));
	ck_assert_str_eq(cap_err, want);
	free(want);
	free(path);

	/* a directory that is not writable (means something as non-root) */
	if (geteuid() != 0) {
		path = expand("%T/ro/tunnel-s.json");
		mkdir_p(path);
		ck_assert_int_eq(rmdir(path), 0);
		tmp = expand("%T/ro");
		ck_assert_int_eq(chmod(tmp, 0500), 0);
		cap_begin();
		ck_assert_int_eq(cstate_save(path, "S", &ti), TUN_EIO);
		cap_end();
		xasprintf(&want, "tunnel-client[warn]: cannot save the tunnel "
		    "in %s: %s\n", path, strerror(EACCES));
		ck_assert_str_eq(cap_err, want);
		free(want);
		ck_assert_int_eq(access(path, F_OK), -1);
		free(tmp);
		free(path);
	}

	/* cstate_remove on a directory warns and leaves it */
	path = expand("%T/adir");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	cap_begin();
	cstate_remove(path);
	cstate_remove(NULL);
	cap_end();
	xasprintf(&want, "tunnel-client[warn]: cannot remove %s: %s\n", path,
	    strerror(EISDIR));
	ck_assert_str_eq(cap_err, want);
	ck_assert_int_eq(stat(path, &sb), 0);
	free(want);
	free(path);
	free(blocker);
	free(victim);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite	*s = suite_create("client");
	TCase	*tc;

	tc = tcase_create("target");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_target, 0, nitems(targets));
	tcase_add_test(tc, test_target_prefixes);
	tcase_add_test(tc, test_target_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("server_url");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_url, 0, nitems(urls));
	tcase_add_test(tc, test_url_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_load, 0, nitems(loads));
	tcase_add_test(tc, test_load_twice);
	tcase_add_test(tc, test_load_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("load_files");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("cstate");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cstate_path);
	tcase_add_loop_test(tc, test_cstate_path_inputs, 0, nitems(changes));
	tcase_add_test(tc, test_cstate_roundtrip);
	tcase_add_loop_test(tc, test_cstate_hostile, 0, nitems(states));
	tcase_add_test(tc, test_cstate_files);
	tcase_add_test(tc, test_cstate_save_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	unsetenv("JOURNAL_STREAM");	/* plain log lines */
	log_init(TC_NAME, LOG_LEVEL_INFO);
	sr = srunner_create(client_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
