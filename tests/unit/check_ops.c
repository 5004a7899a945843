/*
 * Unit tests for the operations helpers: the X-Request-Id check and the
 * log escape of httphdr.c, util_random_hex, and the JSON lines of log.c.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "httphdr.h"
#include "log.h"
#include "util.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static char	*repeat(int, size_t);
static char	*capture(void (*)(void));
static Suite	*ops_suite(void);

static char *
repeat(int c, size_t n)
{
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* --- httphdr_request_id_ok ------------------------------------------------ */

static const struct {
	const char	*s;
	bool		 ok;
} reqids[] = {
	{ "a", true },
	{ "0123456789abcdef", true },
	{ "Trace-1.2_3:abc-XYZ", true },
	{ "550e8400-e29b-41d4-a716-446655440000", true },
	{ "._:-", true },
	{ "", false },
	{ "a b", false },
	{ " a", false },
	{ "a\r\nX-Evil: 1", false },
	{ "a\rb", false },
	{ "a\nb", false },
	{ "a\tb", false },
	{ "\"quoted\"", false },
	{ "a/b", false },
	{ "a+b=", false },
	{ "100%", false },
	{ "<script>", false },
	{ "caf\xc3\xa9", false },
	{ "\x7f", false },
	{ "\xff\xfe", false },
	{ "a\x01", false },
	{ "a;b", false },
	{ "a,b", false },
};

START_TEST(test_request_id)
{
	ck_assert_msg(httphdr_request_id_ok(reqids[_i].s) == reqids[_i].ok,
	    "'%s'", reqids[_i].s);
}
END_TEST

START_TEST(test_request_id_length)
{
	char	*s;

	ck_assert(!httphdr_request_id_ok(NULL));
	s = repeat('k', HTTPHDR_MAX_REQUEST_ID);
	ck_assert(httphdr_request_id_ok(s));
	free(s);
	s = repeat('k', HTTPHDR_MAX_REQUEST_ID + 1);
	ck_assert(!httphdr_request_id_ok(s));
	free(s);
	s = repeat('x', 1000);
	ck_assert(!httphdr_request_id_ok(s));
	free(s);
	s = repeat('x', 1 << 20);
	ck_assert(!httphdr_request_id_ok(s));
	free(s);
}
END_TEST

/* --- httphdr_log_escape --------------------------------------------------- */

static const struct {
	const char	*in;
	size_t		 outlen;
	const char	*want;
} escapes[] = {
	{ "/abc/x?q=1&r=%20", 64, "/abc/x?q=1&r=%20" },
	{ "", 64, "" },
	{ "a b", 64, "a%20b" },
	{ "a\r\nb", 64, "a%0D%0Ab" },
	{ "\x01\x7f\x80\xff", 64, "%01%7F%80%FF" },
	{ "\"q\" \\", 64, "\"q\"%20\\" },
	{ "abcdefg", 8, "abcdefg" },		/* fits exactly */
	{ "abcdefgh", 8, "abcd..." },		/* one too many */
	{ "ab\x01\x01", 8, "ab..." },		/* an escape is not split */
	{ "ab\x01", 8, "ab%01" },
	{ "abc", 4, "abc" },
	{ "abcd", 4, "..." },
};

START_TEST(test_log_escape)
{
	char	out[64];

	ck_assert(escapes[_i].outlen <= sizeof(out));
	ck_assert_str_eq(httphdr_log_escape(escapes[_i].in, out,
	    escapes[_i].outlen), escapes[_i].want);
}
END_TEST

/* Every byte value, at every output size: bounded, printable, no space. */
START_TEST(test_log_escape_hostile)
{
	char	in[256], out[300];
	size_t	i, len, n;

	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	for (len = 4; len <= sizeof(out); len++) {
		memset(out, 'Z', sizeof(out));
		httphdr_log_escape(in, out, len);
		n = strlen(out);
		ck_assert_uint_lt(n, len);
		for (i = 0; i < n; i++)
			ck_assert(out[i] > 0x20 && out[i] < 0x7f);
		ck_assert(n == 0 || strcmp(out + n - 3, "...") == 0);
		if (len < sizeof(out))
			ck_assert_int_eq(out[len], 'Z');	/* no overrun */
	}
	ck_assert_str_eq(httphdr_log_escape(NULL, out, 8), "");
}
END_TEST

/* --- util_random_hex ------------------------------------------------------ */

START_TEST(test_random_hex)
{
	char	a[17], b[17], big[300], one[1] = { 'x' };
	size_t	i;

	util_random_hex(a, sizeof(a));
	util_random_hex(b, sizeof(b));
	ck_assert_uint_eq(strlen(a), 16);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 16);
	ck_assert(httphdr_request_id_ok(a));
	util_random_hex(big, sizeof(big));
	ck_assert_uint_eq(strlen(big), sizeof(big) - 1);
	for (i = 0; i < sizeof(big) - 1; i++)
		ck_assert(strchr("0123456789abcdef", big[i]) != NULL);
	util_random_hex(one, sizeof(one));
	ck_assert_int_eq(one[0], '\0');
	util_random_hex(one, 0);		/* nothing written */
	ck_assert_int_eq(one[0], '\0');
}
END_TEST

/* --- log.c: formats and JSON ---------------------------------------------- */

START_TEST(test_log_format_parse)
{
	enum log_format	f = LOG_FORMAT_JSON;

	ck_assert_int_eq(log_format_parse("text", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("JSON", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("xml", &f), -1);
	ck_assert_int_eq(log_format_parse("", &f), -1);
	ck_assert_int_eq(log_format_parse("json ", &f), -1);
}
END_TEST

START_TEST(test_json_string)
{
	char	*buf = NULL, in[256];
	size_t	 len = 0, i;
	FILE	*f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	log_json_string(f, "a\"b\\c\n\t\x01\x7f\xff/");
	fclose(f);
	ck_assert_str_eq(buf,
	    "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u00ff/\"");
	free(buf);

	/* Every byte: only printable ASCII comes out. */
	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	buf = NULL;
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	log_json_string(f, in);
	fclose(f);
	for (i = 0; i < len; i++)
		ck_assert(buf[i] >= 0x20 && buf[i] < 0x7f);
	free(buf);
}
END_TEST

static void
emit_fields(void)
{
	struct log_field	f[3] = {
		{ "tunnel", "abc", 0 },
		{ "path", "/x\"y", 0 },
		{ "status", NULL, 404 },
	};

	log_fields(LOG_LEVEL_INFO, f, nitems(f), "access");
	log_debug("not shown at info");
	log_warn("plain %d", 7);
}

/* What the callback writes to stderr, as a string to free. */
static char *
capture(void (*fn)(void))
{
	char	 path[] = "/tmp/check_ops.XXXXXX", *buf;
	int	 fd, saved;
	long	 n;
	FILE	*f;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	fn();
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	buf = calloc(1, 4096);
	ck_assert_ptr_nonnull(buf);
	n = (long)fread(buf, 1, 4095, f);
	ck_assert_int_gt(n, 0);
	fclose(f);
	unlink(path);
	return buf;
}

START_TEST(test_log_lines)
{
	char	*out;
	char	*nl;

	unsetenv("JOURNAL_STREAM");
	log_init("check", LOG_LEVEL_INFO);

	log_set_format(LOG_FORMAT_JSON);
	out = capture(emit_fields);
	ck_assert_msg(strncmp(out, "{\"time\":\"", 9) == 0, "%s", out);
	nl = strchr(out, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_int_eq(nl[-1], '}');
	ck_assert_msg(strstr(out, "Z\",\"level\":\"info\",\"prog\":\"check\","
	    "\"msg\":\"access\",\"tunnel\":\"abc\",\"path\":\"/x\\\"y\","
	    "\"status\":404}\n{\"time\":\"") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"level\":\"warn\",\"prog\":\"check\","
	    "\"msg\":\"plain 7\"}\n") != NULL, "%s", out);
	ck_assert(strstr(out, "not shown") == NULL);
	free(out);

	log_set_format(LOG_FORMAT_TEXT);
	out = capture(emit_fields);
	ck_assert_msg(strstr(out, " check[info]: access tunnel=abc "
	    "path=/x\"y status=404\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " check[warn]: plain 7\n") != NULL, "%s",
	    out);
	free(out);
}
END_TEST

static Suite *
ops_suite(void)
{
	Suite	*s = suite_create("ops");
	TCase	*tc;

	tc = tcase_create("ops");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_request_id, 0, nitems(reqids));
	tcase_add_test(tc, test_request_id_length);
	tcase_add_loop_test(tc, test_log_escape, 0, nitems(escapes));
	tcase_add_test(tc, test_log_escape_hostile);
	tcase_add_test(tc, test_random_hex);
	tcase_add_test(tc, test_log_format_parse);
	tcase_add_test(tc, test_json_string);
	tcase_add_test(tc, test_log_lines);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(ops_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
