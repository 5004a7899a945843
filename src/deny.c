/*
 * The deny list of deny_file: the operator's kill switch.  One rule a
 * line, blank lines and lines starting with # skipped:
 *
 *	name PATTERN	a tunnel name or id; * and ? are globs ("spam-*")
 *	addr CIDR	a source address or network ("203.0.113.0/24")
 *
 * A file that does not parse is refused whole, with the line that is
 * wrong.  Lookups are linear in the rules; the list is bounded.  Nothing
 * here locks: the caller owns the list (config.c swaps it on SIGHUP).
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define DENY_MAX_LINE	1024

static bool	 deny_valid_pattern(const char *);
static void	*deny_grow(void *, size_t *, size_t, size_t);

/* Room for one more of n elements in *cap; doubles, so a file is O(n). */
static void *
deny_grow(void *v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap == 0 ? 16 : *cap * 2;
	return xreallocarray(v, *cap, size);
}

/* 1 to 63 of [a-z0-9-] with * and ?: what a name could match. */
static bool
deny_valid_pattern(const char *p)
{
	size_t	n = strlen(p), i;

	if (n == 0 || n >= TUNNELD_ID_LEN)
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' &&
		    p[i] <= '9') || p[i] == '-' || p[i] == '*' || p[i] == '?'))
			return false;
	return true;
}

struct denylist *
deny_new(void)
{
	return xcalloc(1, sizeof(struct denylist));
}

void
deny_free(struct denylist *d)
{
	if (d == NULL)
		return;
	free(d->names);
	free(d->addrs);
	free(d);
}

/*
 * One line of the file (comments and blank lines are fine).  Returns 0,
 * or TUN_EINVAL with the reason in err, or TUN_ELIMIT past DENY_MAX_RULES.
 */
int
deny_parse_line(struct denylist *d, const char *line, char *err,
    size_t errlen)
{
	char		 buf[DENY_MAX_LINE], *p, *word, *arg, *rest;
	struct cidr	 c;

	if (util_strlcpy(buf, line, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long");
		return TUN_EINVAL;
	}
	p = util_trim(buf);
	if (*p == '\0' || *p == '#')
		return 0;
	word = p;
	p += strcspn(p, " \t");
	if (*p != '\0')
		*p++ = '\0';
	arg = util_trim(p);
	rest = arg + strcspn(arg, " \t");
	if (*rest != '\0') {
		*rest++ = '\0';
		rest = util_trim(rest);
		if (*rest != '\0' && *rest != '#') {
			snprintf(err, errlen, "one %s a line", word);
			return TUN_EINVAL;
		}
	}
	if (*arg == '\0') {
		snprintf(err, errlen, "'%.32s' without a value", word);
		return TUN_EINVAL;
	}
	if (d->nnames + d->naddrs >= DENY_MAX_RULES) {
		snprintf(err, errlen, "more than %d rules", DENY_MAX_RULES);
		return TUN_ELIMIT;
	}
	if (strcmp(word, "name") == 0) {
		if (!deny_valid_pattern(arg)) {
			snprintf(err, errlen, "name '%.64s' is not 1 to 63 of "
			    "a-z, 0-9, '-', '*' and '?'", arg);
			return TUN_EINVAL;
		}
		d->names = deny_grow(d->names, &d->names_cap, d->nnames,
		    sizeof(*d->names));
		util_strlcpy(d->names[d->nnames++], arg, TUNNELD_ID_LEN);
		return 0;
	}
	if (strcmp(word, "addr") == 0) {
		if (util_cidr_parse(arg, &c) != 0) {
			snprintf(err, errlen, "addr '%.64s' is not an address "
			    "or CIDR", arg);
			return TUN_EINVAL;
		}
		d->addrs = deny_grow(d->addrs, &d->addrs_cap, d->naddrs,
		    sizeof(*d->addrs));
		d->addrs[d->naddrs++] = c;
		return 0;
	}
	snprintf(err, errlen, "unknown rule '%.32s' (want name or addr)", word);
	return TUN_EINVAL;
}

/*
 * Read a whole file into a new list.  Returns 0, or an error with
 * "FILE:LINE: reason" (or "FILE: reason") in err; *dp is left alone then.
 */
int
deny_load(const char *path, struct denylist **dp, char *err, size_t errlen)
{
	struct denylist	*d;
	FILE		*f;
	char		 line[DENY_MAX_LINE + 2], why[200];
	int		 lineno = 0, r = 0;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TUN_EIO;
	}
	d = deny_new();
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path,
			    lineno);
			r = TUN_EINVAL;
			break;
		}
		if ((r = deny_parse_line(d, line, why, sizeof(why))) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		r = TUN_EIO;
	}
	fclose(f);
	if (r != 0) {
		deny_free(d);
		return r;
	}
	*dp = d;
	return 0;
}

/* Does a name rule match tunnel name (or id) id?  NULL denies nothing. */
bool
deny_match_name(const struct denylist *d, const char *id)
{
	size_t	i;

	if (d == NULL || id == NULL)
		return false;
	for (i = 0; i < d->nnames; i++)
		if (fnmatch(d->names[i], id, 0) == 0)
			return true;
	return false;
}

bool
deny_match_addr(const struct denylist *d, const struct sockaddr *sa)
{
	size_t	i;

	if (d == NULL || sa == NULL)
		return false;
	for (i = 0; i < d->naddrs; i++)
		if (util_cidr_match(&d->addrs[i], sa))
			return true;
	return false;
}
