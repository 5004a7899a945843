/*
 * Leveled logging to stderr.  Under systemd (JOURNAL_STREAM set) each line
 * carries a <N> syslog priority prefix that journald understands; on a
 * terminal or a file it carries a time stamp and the level's name.  With
 * LOG_FORMAT_JSON each line is one JSON object instead (tunneld's
 * log_format); the client always writes text.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static const char	*log_prog = "tunnel";
static int		 log_level = LOG_LEVEL_INFO;
static int		 log_journal;
static int		 log_format = LOG_FORMAT_TEXT;
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const int	 log_prio[] = { 3, 4, 6, 7 };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_level(enum log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

void
log_set_format(enum log_format format)
{
	__atomic_store_n(&log_format, (int)format, __ATOMIC_RELAXED);
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void
log_json_string(FILE *f, const char *s)
{
	const unsigned char	*p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* One JSON object: time (UTC), level, prog, msg, then the fields. */
static void
log_json_line(FILE *f, enum log_level level, const char *msg,
    const struct log_field *fields, size_t nfields)
{
	char		 ts[32];
	struct tm	 tm;
	struct timespec	 now;
	size_t		 i;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", ts,
	    now.tv_nsec / 1000000, log_names[level]);
	log_json_string(f, log_prog);
	fputs(",\"msg\":", f);
	log_json_string(f, msg);
	for (i = 0; i < nfields; i++) {
		fputc(',', f);
		log_json_string(f, fields[i].key);
		fputc(':', f);
		if (fields[i].str != NULL)
			log_json_string(f, fields[i].str);
		else
			fprintf(f, "%lld", fields[i].num);
	}
	fputc('}', f);
}

static void
log_text_line(FILE *f, enum log_level level, const char *msg,
    const struct log_field *fields, size_t nfields)
{
	char		 ts[32];
	struct tm	 tm;
	struct timespec	 now;
	size_t		 i;

	if (!log_journal) {
		clock_gettime(CLOCK_REALTIME, &now);
		localtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "%s.%03ld %s[%s]: ", ts, now.tv_nsec / 1000000,
		    log_prog, log_names[level]);
	}
	fputs(msg, f);
	for (i = 0; i < nfields; i++) {
		if (fields[i].str != NULL)
			fprintf(f, " %s=%s", fields[i].key, fields[i].str);
		else
			fprintf(f, " %s=%lld", fields[i].key, fields[i].num);
	}
}

/*
 * The line is built in memory and written with one call, so lines from
 * several threads never mix.  Under journald a <N> prefix carries the
 * priority (and the time stamp is journald's, in text).
 */
static void	 log_emit(enum log_level, const struct log_field *, size_t,
		    const char *, va_list) __attribute__((format(printf, 4, 0)));

static void
log_emit(enum log_level level, const struct log_field *fields,
    size_t nfields, const char *fmt, va_list ap)
{
	char	 msg[1024], *line = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((int)level > log_get_level())
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if ((f = open_memstream(&line, &len)) == NULL)
		return;
	if (log_journal)
		fprintf(f, "<%d>", log_prio[level]);
	if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == LOG_FORMAT_JSON)
		log_json_line(f, level, msg, fields, nfields);
	else
		log_text_line(f, level, msg, fields, nfields);
	fputc('\n', f);
	if (fclose(f) == 0) {
		pthread_mutex_lock(&log_mtx);
		fwrite(line, 1, len, stderr);
		pthread_mutex_unlock(&log_mtx);
	}
	free(line);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_emit(level, NULL, 0, fmt, ap);
}

void
log_fields(enum log_level level, const struct log_field *fields,
    size_t nfields, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_emit(level, fields, nfields, fmt, ap);
	va_end(ap);
}

/*
 * For libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER: its message at debug
 * level, one line, after the tag its cls points at (a char array).
 */
void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	char	buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("%s: %s", (const char *)cls, buf);
}

#define LOG_FN(name, level)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	va_start(ap, fmt);					\
	log_vmsg(level, fmt, ap);				\
	va_end(ap);						\
}
LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void
fatal(const char *fmt, ...)
{
	char	buf[768];
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_error("%s: %s", buf, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
