/* Leveled logging to stderr; fatal() for start-up and broken invariants only. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* Text lines (the default) or one JSON object a line. */
enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON
};

/* A named value of a structured line: str, or num when str is NULL. */
struct log_field {
	const char	*key;
	const char	*str;
	long long	 num;
};

void	 log_init(const char *, enum log_level);
void	 log_set_level(enum log_level);
enum log_level log_get_level(void);
int	 log_level_parse(const char *, enum log_level *);
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_vmsg(enum log_level, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 log_mhd(void *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 log_set_format(enum log_format);
int	 log_format_parse(const char *, enum log_format *);
/*
 * A line with fields: in text "msg key=value ...", in JSON each field a
 * key of the object.  Values are written as given in text: the caller
 * escapes what is untrusted (httphdr_log_escape).
 */
void	 log_fields(enum log_level, const struct log_field *, size_t,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
/* s as a JSON string, quotes included; bytes >= 0x80 as \u00XX. */
void	 log_json_string(FILE *, const char *);
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));	/* appends strerror */
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
