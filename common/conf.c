/*
 * The config file parser: a line at a time out of a bounded copy, no
 * allocation, no I/O.  The buffer is checked whole before the first
 * callback, so a file with a syntax error sets nothing.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "tunerr.h"
#include "xmalloc.h"

#define CONF_MAX_KEY	64
#define CONF_MAX_TYPE	64
#define CONF_MAX_NAME	128

struct conf_state {
	conf_cb		 cb;		/* NULL: syntax check only */
	void		*arg;
	char		*err;
	size_t		 errlen;
	int		 lineno;
	bool		 in_section;
	bool		 has_name;
	char		 type[CONF_MAX_TYPE + 1];
	char		 name[CONF_MAX_NAME + 1];
};

static void	 conf_seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 conf_error(struct conf_state *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 conf_run(struct conf_state *, const char *, size_t);
static int	 conf_line(struct conf_state *, char *);
static int	 conf_section(struct conf_state *, char *);
static int	 conf_pair(struct conf_state *, char *);
static int	 conf_quoted(struct conf_state *, char **, char **);
static int	 conf_trailer(struct conf_state *, const char *, const char *);
static bool	 conf_wordchar(int);
static char	*conf_skipws(char *);

static void
conf_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0)
		err[0] = '\0';
	va_end(ap);
}

/* "line N: message", returning the code. */
static int
conf_error(struct conf_state *s, int code, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	conf_seterr(s->err, s->errlen, "line %d: %s", s->lineno, msg);
	return code;
}

static bool
conf_wordchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-';
}

static char *
conf_skipws(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
conf_parse(const char *buf, size_t len, conf_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct conf_state	s;
	int			r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&s, 0, sizeof(s));
	s.err = err;
	s.errlen = errlen;
	if (len > CONF_MAX_FILE) {
		conf_seterr(err, errlen, "over %d bytes", CONF_MAX_FILE);
		return TUN_ETOOBIG;
	}
	/* First the syntax of the whole buffer, then the callbacks. */
	if ((r = conf_run(&s, buf, len)) != 0)
		return r;
	memset(&s, 0, sizeof(s));
	s.cb = cb;
	s.arg = arg;
	s.err = err;
	s.errlen = errlen;
	return conf_run(&s, buf, len);
}

static int
conf_run(struct conf_state *s, const char *buf, size_t len)
{
	char		 line[CONF_MAX_LINE + 1];
	const char	*p = buf, *end = buf + len, *nl, *nul;
	size_t		 n;
	int		 r;

	if (len == 0)
		return 0;
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		s->lineno = 1;
		while ((nl = memchr(p, '\n', (size_t)(nul - p))) != NULL) {
			s->lineno++;
			p = nl + 1;
		}
		return conf_error(s, TUN_EINVAL, "NUL byte");
	}
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		s->lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE)
			return conf_error(s, TUN_ETOOBIG, "line over %d bytes",
			    CONF_MAX_LINE);
		memcpy(line, p, n);
		line[n] = '\0';
		if ((r = conf_line(s, line)) != 0)
			return r;
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}

static int
conf_line(struct conf_state *s, char *line)
{
	char		*p;
	unsigned char	 c;

	for (p = line; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return conf_error(s, TUN_EINVAL,
			    "control character 0x%02x", c);
	}
	p = conf_skipws(line);
	if (*p == '\0' || *p == '#')
		return 0;
	if (*p == '[')
		return conf_section(s, p + 1);
	return conf_pair(s, p);
}

/* After "[": "type]", "type NAME]" or "type \"NAME\"]". */
static int
conf_section(struct conf_state *s, char *p)
{
	char	*type, *name = NULL;
	size_t	 n;
	int	 r;

	p = conf_skipws(p);
	type = p;
	while (conf_wordchar((unsigned char)*p))
		p++;
	n = (size_t)(p - type);
	if (n == 0 || (*p != ']' && *p != ' ' && *p != '\t' && *p != '\0'))
		return conf_error(s, TUN_EINVAL, "bad section header: "
		    "expected '[type]' or '[type name]' (type in a-z, 0-9, "
		    "'_', '-')");
	if (n > CONF_MAX_TYPE)
		return conf_error(s, TUN_EINVAL, "section type over %d bytes",
		    CONF_MAX_TYPE);
	p = conf_skipws(p);
	if (*p == '"') {
		if ((r = conf_quoted(s, &p, &name)) != 0)
			return r;
		p = conf_skipws(p);
	} else if (*p != ']' && *p != '\0') {
		name = p;
		while (*p != '\0' && *p != ']' && *p != ' ' && *p != '\t' &&
		    *p != '"' && *p != '[')
			p++;
		if (*p == ' ' || *p == '\t') {
			*p++ = '\0';
			p = conf_skipws(p);
		}
	}
	if (*p != ']')
		return conf_error(s, TUN_EINVAL, "bad section header: "
		    "expected ']'%s", name != NULL ? " (quote a name with "
		    "spaces)" : "");
	*p++ = '\0';
	if ((r = conf_trailer(s, p, "']'")) != 0)
		return r;
	if (name != NULL && *name == '\0')
		return conf_error(s, TUN_EINVAL, "empty section name");
	if (name != NULL && strlen(name) > CONF_MAX_NAME)
		return conf_error(s, TUN_EINVAL, "section name over %d bytes",
		    CONF_MAX_NAME);
	s->in_section = true;
	memcpy(s->type, type, n);
	s->type[n] = '\0';
	s->has_name = name != NULL;
	s->name[0] = '\0';
	if (name != NULL)
		memcpy(s->name, name, strlen(name) + 1);
	return 0;
}

static int
conf_pair(struct conf_state *s, char *p)
{
	char	*key = p, *end, *value, *q;
	size_t	 n;
	int	 r;
	bool	 upper = false, bad = false;

	while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\t') {
		if (*p >= 'A' && *p <= 'Z')
			upper = true;
		else if (!conf_wordchar((unsigned char)*p))
			bad = true;
		p++;
	}
	n = (size_t)(p - key);
	end = p;
	p = conf_skipws(p);
	if (n == 0 || *p != '=')
		return conf_error(s, TUN_EINVAL, "expected 'key = value'");
	*end = '\0';		/* may be the '=' at p: p is not read again */
	if (upper && !bad)
		return conf_error(s, TUN_EINVAL, "key '%.64s' is not lower "
		    "case", key);
	if (upper || bad)
		return conf_error(s, TUN_EINVAL, "bad key '%.64s' (a-z, 0-9, "
		    "'_' and '-' only)", key);
	if (n > CONF_MAX_KEY)
		return conf_error(s, TUN_EINVAL, "key over %d bytes",
		    CONF_MAX_KEY);
	p = conf_skipws(p + 1);
	if (*p == '"') {
		if ((r = conf_quoted(s, &p, &value)) != 0)
			return r;
		if ((r = conf_trailer(s, p, "quote")) != 0)
			return r;
	} else {
		/* Bare: up to a '#' after white space, trimmed. */
		value = p;
		for (q = p; *q != '\0'; q++) {
			if (*q == '#' && (q[-1] == ' ' || q[-1] == '\t')) {
				*q = '\0';
				break;
			}
		}
		while (q > value && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		*q = '\0';
	}
	if (s->cb == NULL)
		return 0;
	return s->cb(s->arg, s->in_section ? s->type : NULL,
	    s->has_name ? s->name : NULL, key, value, s->lineno);
}

/*
 * *pp points at an opening quote: unescape \" and \\ in place, leave the
 * string in *out and *pp just past the closing quote.
 */
static int
conf_quoted(struct conf_state *s, char **pp, char **out)
{
	char	*in = *pp + 1, *o = *pp, c;

	*out = o;
	for (;;) {
		if ((c = *in++) == '\0')
			return conf_error(s, TUN_EINVAL, "unterminated quote");
		if (c == '"')
			break;
		if (c == '\\') {
			if ((c = *in++) == '\0')
				return conf_error(s, TUN_EINVAL,
				    "unterminated quote");
			if (c != '"' && c != '\\')
				return conf_error(s, TUN_EINVAL, "bad escape "
				    "in quotes (only \\\" and \\\\)");
		}
		*o++ = c;
	}
	*o = '\0';	/* at most in - 2: the rest is untouched */
	*pp = in;
	return 0;
}

/* What may follow a closing quote or bracket: white space and a comment. */
static int
conf_trailer(struct conf_state *s, const char *p, const char *what)
{
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != '#')
		return conf_error(s, TUN_EINVAL, "unexpected text after "
		    "closing %s", what);
	return 0;
}

int
conf_parse_file(const char *path, conf_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd = -1, r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		r = errno == ENOENT ? TUN_ENOENT : TUN_EIO;
		conf_seterr(err, errlen, "%s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		r = TUN_EIO;
		conf_seterr(err, errlen, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = TUN_EINVAL;
		conf_seterr(err, errlen, "not a regular file");
		goto out;
	}
	if (st.st_size > CONF_MAX_FILE) {
		r = TUN_ETOOBIG;
		conf_seterr(err, errlen, "over %d bytes", CONF_MAX_FILE);
		goto out;
	}
	/* One byte over the size seen, to notice a file that grows. */
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > CONF_MAX_FILE) {
				r = TUN_ETOOBIG;
				conf_seterr(err, errlen, "over %d bytes",
				    CONF_MAX_FILE);
				goto out;
			}
			cap = cap > (CONF_MAX_FILE + 1) / 2 ?
			    CONF_MAX_FILE + 1 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			r = TUN_EIO;
			conf_seterr(err, errlen, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = conf_parse(buf, len, cb, arg, err, errlen);
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return r;
}

int
conf_bool(const char *s)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t	i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}
