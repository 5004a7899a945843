/*
 * conf_parse() on arbitrary bytes.  Every callback's arguments must be
 * sane NUL-terminated strings within the documented limits, line numbers
 * must rise, and the result must be one of the documented codes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "tunerr.h"

#define FUZZ_STOP	7777	/* returned by the callback for key "stop" */

struct fuzz_conf {
	int	last_line;
	size_t	calls;
};

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 fuzz_conf_cb(void *, const char *, const char *, const char *,
		    const char *, int);
static void	 fuzz_conf_word(const char *, size_t);
static void	 fuzz_conf_text(const char *, size_t, size_t);

/* 1..max of [a-z0-9_-]. */
static void
fuzz_conf_word(const char *s, size_t max)
{
	size_t	i, n;

	if (s == NULL || (n = strnlen(s, max + 1)) == 0 || n > max)
		abort();
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			abort();
	}
}

/* min..max bytes, no control character but tab. */
static void
fuzz_conf_text(const char *s, size_t min, size_t max)
{
	size_t	i, n;

	if (s == NULL || (n = strnlen(s, max + 1)) < min || n > max)
		abort();
	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			abort();
	}
}

static int
fuzz_conf_cb(void *arg, const char *section, const char *name,
    const char *key, const char *value, int lineno)
{
	struct fuzz_conf	*f = arg;
	int			 b;

	fuzz_conf_word(key, 64);
	fuzz_conf_text(value, 0, CONF_MAX_LINE);
	if (section != NULL) {
		fuzz_conf_word(section, 64);
		if (name != NULL)
			fuzz_conf_text(name, 1, 128);
	} else if (name != NULL)
		abort();
	if (lineno <= f->last_line)
		abort();
	f->last_line = lineno;
	f->calls++;
	b = conf_bool(value);
	if (b != -1 && b != 0 && b != 1)
		abort();
	return strcmp(key, "stop") == 0 ? FUZZ_STOP : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_conf	 f, g;
	char			 err[128], small[9];
	size_t			 n;
	int			 r, r2;

	memset(&f, 0, sizeof(f));
	memset(err, 'Z', sizeof(err));
	r = conf_parse((const char *)data, size, fuzz_conf_cb, &f, err,
	    sizeof(err));
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	n = strlen(err);
	switch (r) {
	case 0:
	case FUZZ_STOP:
		if (n != 0)
			abort();
		break;
	case TUN_EINVAL:
	case TUN_ETOOBIG:
		/* No callback before a syntax error; a message naming it. */
		if (f.calls != 0 || n == 0)
			abort();
		if (strncmp(err, "line ", 5) != 0 &&
		    strcmp(err, "over 1048576 bytes") != 0)
			abort();
		break;
	default:
		abort();
	}

	/* The same again, with a short error buffer: the same result. */
	memset(&g, 0, sizeof(g));
	r2 = conf_parse((const char *)data, size, fuzz_conf_cb, &g, small,
	    sizeof(small));
	if (r2 != r || g.calls != f.calls || g.last_line != f.last_line ||
	    strnlen(small, sizeof(small)) >= sizeof(small) ||
	    strncmp(small, err, strlen(small)) != 0)
		abort();
	return 0;
}
