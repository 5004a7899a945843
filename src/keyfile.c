/*
 * Lines of api_key_file, one key each:
 *
 *	NAME:KEY [max_tunnels=N] [names=PATTERN[,PATTERN...]]
 *	NAME:sha256:HEX [options]
 *
 * A plain KEY has at least TUNNELD_MIN_KEY characters and no blank; the
 * hashed form holds the SHA-256 of the key (64 hex digits), so the file
 * need not hold secrets.  Pure functions: no I/O, no locks.
 */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "tunerr.h"
#include "tunneld.h"

#define KEYFILE_BLANKS		" \t"

static bool	 keyfile_valid_name(const char *, size_t);
static int	 keyfile_secret(const char *, size_t, struct apikey *, char *,
		    size_t);
static int	 keyfile_option(const char *, size_t, struct apikey *, char *,
		    size_t);
static int	 keyfile_patterns(const char *, size_t, struct apikey *, char *,
		    size_t);

static bool
keyfile_valid_name(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n >= sizeof(((struct apikey *)0)->name))
		return false;
	for (i = 0; i < n; i++) {
		if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	}
	return true;
}

/* "sha256:HEX" or a plain key of n bytes. */
static int
keyfile_secret(const char *s, size_t n, struct apikey *k, char *err,
    size_t errlen)
{
	size_t	i;
	char	c;

	if (n >= 7 && strncmp(s, "sha256:", 7) == 0) {
		if (n != 7 + UTIL_SHA256_HEX - 1) {
			snprintf(err, errlen, "key '%s': sha256: needs 64 hex "
			    "digits", k->name);
			return TUN_EINVAL;
		}
		for (i = 0; i < UTIL_SHA256_HEX - 1; i++) {
			c = s[7 + i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
				snprintf(err, errlen, "key '%s': sha256: needs "
				    "64 hex digits", k->name);
				return TUN_EINVAL;
			}
			k->hash[i] = c;
		}
		k->hash[i] = '\0';
		return 0;
	}
	if (n < TUNNELD_MIN_KEY) {
		snprintf(err, errlen, "key '%s' is too short: keys need at least "
		    "%d characters", k->name, TUNNELD_MIN_KEY);
		return TUN_EINVAL;
	}
	util_sha256_hex(s, n, k->hash);
	return 0;
}

/* "demo-*,acme": patterns of [a-z0-9-*?], 1 to 63 characters each. */
static int
keyfile_patterns(const char *s, size_t n, struct apikey *k, char *err,
    size_t errlen)
{
	size_t	i, run = 0;

	if (n == 0 || n >= sizeof(k->names)) {
		snprintf(err, errlen, "key '%s': names= needs 1 to %zu "
		    "characters", k->name, sizeof(k->names) - 1);
		return TUN_EINVAL;
	}
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			if (run == 0 || run > 63) {
				snprintf(err, errlen, "key '%s': names= has an "
				    "empty or too long pattern", k->name);
				return TUN_EINVAL;
			}
			run = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '-' || s[i] == '*' || s[i] == '?')) {
			snprintf(err, errlen, "key '%s': names= patterns hold "
			    "a-z, 0-9, '-', '*' and '?' only", k->name);
			return TUN_EINVAL;
		}
		run++;
	}
	memcpy(k->names, s, n);
	k->names[n] = '\0';
	return 0;
}

static int
keyfile_option(const char *s, size_t n, struct apikey *k, char *err,
    size_t errlen)
{
	char		 num[16];
	const char	*errstr;
	long long	 v;

	if (n > 12 && strncmp(s, "max_tunnels=", 12) == 0) {
		if (k->max_tunnels != 0 || n - 12 >= sizeof(num))
			goto bad;
		memcpy(num, s + 12, n - 12);
		num[n - 12] = '\0';
		v = util_strtonum(num, 1, 10000000, &errstr);
		if (errstr != NULL)
			goto bad;
		k->max_tunnels = (int)v;
		return 0;
	}
	if (n > 6 && strncmp(s, "names=", 6) == 0 && k->names[0] == '\0')
		return keyfile_patterns(s + 6, n - 6, k, err, errlen);
bad:
	snprintf(err, errlen, "key '%s': a bad or repeated option (want "
	    "max_tunnels=N or names=PATTERN,... after the key)", k->name);
	return TUN_EINVAL;
}

/*
 * One line (no newline, not blank, not a comment) into *k.  0, or
 * TUN_EINVAL with a message in err that never holds the key.
 */
int
keyfile_parse_line(const char *line, struct apikey *k, char *err,
    size_t errlen)
{
	const char	*p = line, *colon;
	size_t		 n, len;
	int		 r;

	memset(k, 0, sizeof(*k));
	p += strspn(p, KEYFILE_BLANKS);
	len = strcspn(p, KEYFILE_BLANKS);
	if ((colon = memchr(p, ':', len)) == NULL) {
		snprintf(err, errlen, "expected NAME:KEY");
		return TUN_EINVAL;
	}
	n = (size_t)(colon - p);
	if (!keyfile_valid_name(p, n)) {
		snprintf(err, errlen, "bad key name (1 to 63 of A-Z a-z 0-9 . _ "
		    "-)");
		return TUN_EINVAL;
	}
	memcpy(k->name, p, n);
	k->name[n] = '\0';
	if ((r = keyfile_secret(colon + 1, len - n - 1, k, err, errlen)) != 0)
		goto out;
	for (p += len;;) {
		p += strspn(p, KEYFILE_BLANKS);
		if (*p == '\0')
			break;
		len = strcspn(p, KEYFILE_BLANKS);
		if ((r = keyfile_option(p, len, k, err, errlen)) != 0)
			goto out;
		p += len;
	}
out:
	if (r != 0)
		explicit_bzero(k, sizeof(*k));
	return r;
}

/* May key k take the name?  Any name when it has no names= list. */
bool
keyfile_name_allowed(const struct apikey *k, const char *name)
{
	char		 pat[64];
	const char	*p = k->names;
	size_t		 n;

	if (k->names[0] == '\0')
		return true;
	while (*p != '\0') {
		n = strcspn(p, ",");
		if (n < sizeof(pat)) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (fnmatch(pat, name, 0) == 0)
				return true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}
