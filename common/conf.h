/*
 * The config file syntax shared by tunneld.conf and tunnel-client's config:
 *
 *	# comment
 *	key = value		(value may be "quoted"; a # after a space ends it)
 *	[tunnel NAME]		(section: a type word and an optional name)
 *	key = value		(keys after a section header belong to it)
 *
 * Bounded: lines over CONF_MAX_LINE bytes, NUL bytes, keys outside
 * [a-z0-9_-], unterminated quotes and malformed section headers are errors
 * with the line number.  No I/O in conf_parse(); conf_parse_file() reads
 * a file of at most CONF_MAX_FILE bytes.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>

#define CONF_MAX_LINE	4096
#define CONF_MAX_FILE	(1024 * 1024)

/*
 * Called once per key: section type and name are NULL at top level (name
 * may be NULL in "[section]").  Return 0 to go on, or non-zero to stop the
 * parse; that value is then returned by conf_parse().
 */
typedef int (*conf_cb)(void *arg, const char *section, const char *name,
    const char *key, const char *value, int lineno);

/*
 * Returns 0, the callback's non-zero value, or TUN_EINVAL / TUN_ETOOBIG on a
 * syntax error, with a message in err ("line 3: expected 'key = value'").
 */
int	 conf_parse(const char *buf, size_t len, conf_cb cb, void *arg,
	    char *err, size_t errlen);
/* TUN_ENOENT if the file does not exist (not an error for defaults). */
int	 conf_parse_file(const char *path, conf_cb cb, void *arg,
	    char *err, size_t errlen);
/* "yes/no/true/false/on/off/1/0": 1, 0, or -1 if none of them. */
int	 conf_bool(const char *);

#endif
