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
 *
 * In detail:
 *	- lines end in LF or CRLF, the last may lack it; a UTF-8 BOM at the
 *	  start is skipped; a line (without its ending) is at most
 *	  CONF_MAX_LINE bytes, else TUN_ETOOBIG; a buffer over CONF_MAX_FILE
 *	  is TUN_ETOOBIG; a NUL byte anywhere or any other control character
 *	  than tab is TUN_EINVAL;
 *	- blank lines and lines whose first non-blank is '#' are skipped;
 *	- keys are 1..64 of [a-z0-9_-]; a bare value runs to a '#' that
 *	  follows a space or tab, trimmed, and may be empty ("key =");
 *	  a "quoted" value knows only the escapes \" and \\, and may be
 *	  followed by blanks and a comment only;
 *	- sections: "[type]", "[type NAME]" or "[type \"NAME\"]", type
 *	  1..64 of [a-z0-9_-], NAME 1..128 bytes (a bare NAME is one word).
 * The whole buffer is checked before the first callback: a syntax error
 * anywhere means no callback at all.  err never names the file: callers
 * print "FILE: ERR".
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
 * err (may be NULL) is "" unless there was a syntax error: a callback that
 * stops the parse keeps its own message.
 */
int	 conf_parse(const char *buf, size_t len, conf_cb cb, void *arg,
	    char *err, size_t errlen);
/*
 * TUN_ENOENT if the file does not exist (not an error for defaults);
 * TUN_EINVAL if it is not a regular file, TUN_ETOOBIG if it is over
 * CONF_MAX_FILE, TUN_EIO (strerror in err) for other system errors;
 * else as conf_parse().
 */
int	 conf_parse_file(const char *path, conf_cb cb, void *arg,
	    char *err, size_t errlen);
/* "yes/no/true/false/on/off/1/0", any case: 1, 0, or -1 if none. */
int	 conf_bool(const char *);

#endif
