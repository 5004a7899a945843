/* Unit tests for common/conf.c. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf.h"
#include "tunerr.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Every callback, one line each: "SECTION NAME key='value' LINE". */
struct rec {
	char	 log[16384];
	size_t	 calls;
	size_t	 stop_at;	/* return stop_ret on this call (1-based) */
	int	 stop_ret;
};

static int	 rec_cb(void *, const char *, const char *, const char *,
		    const char *, int);
static int	 parse_exact(const char *, size_t, struct rec *, char *,
		    size_t);
static char	*repeat(int, size_t);
static void	 write_file(const char *, const void *, size_t);
static Suite	*conf_suite(void);

static int
rec_cb(void *arg, const char *section, const char *name, const char *key,
    const char *value, int lineno)
{
	struct rec	*r = arg;
	size_t		 used = strlen(r->log);
	int		 n;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(value);
	if (section == NULL)
		ck_assert_ptr_null(name);
	n = snprintf(r->log + used, sizeof(r->log) - used,
	    "%s%s%s %s%s%s %s='%s' %d\n",
	    section ? "'" : "", section ? section : "-", section ? "'" : "",
	    name ? "'" : "", name ? name : "-", name ? "'" : "",
	    key, value, lineno);
	ck_assert(n > 0 && (size_t)n < sizeof(r->log) - used);
	r->calls++;
	if (r->stop_at != 0 && r->calls == r->stop_at)
		return r->stop_ret;
	return 0;
}

/* conf_parse on an exact-size heap copy, so ASan sees any over-read. */
static int
parse_exact(const char *in, size_t len, struct rec *r, char *err,
    size_t errlen)
{
	char	*copy;
	int	 ret;

	copy = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, in, len);
	ret = conf_parse(copy, len, rec_cb, r, err, errlen);
	free(copy);
	return ret;
}

static char *
repeat(int c, size_t n)
{
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	if (len > 0)
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* --- valid input: the exact callback sequence --------------------------- */

#define S(s)	s, sizeof(s) - 1

static const struct {
	const char	*in;
	size_t		 len;
	const char	*want;
} good[] = {
	{ S(""), "" },
	{ S("\n\n  \n\t\n"), "" },
	{ S("# only a comment"), "" },
	{ S("   # indented comment\n#\n"), "" },
	{ S("\xef\xbb\xbf"), "" },
	{ S("a = 1"), "- - a='1' 1\n" },
	{ S("a=1\n"), "- - a='1' 1\n" },
	{ S(
	    "# tunneld.conf\n"
	    "listen = 127.0.0.1:8080\n"
	    "domain=example.com\n"
	    "\n"
	    "[tunnel web]\n"
	    "local_port = 3000   # trailing comment\n"
	    "host-header = \"localhost:3000\" # c\n"
	    "[defaults]\n"
	    "x =\n"),
	  "- - listen='127.0.0.1:8080' 2\n"
	  "- - domain='example.com' 3\n"
	  "'tunnel' 'web' local_port='3000' 6\n"
	  "'tunnel' 'web' host-header='localhost:3000' 7\n"
	  "'defaults' - x='' 9\n" },
	/* Quoting and comments. */
	{ S(
	    "a = \"x # y\"\n"
	    "b = \"say \\\"hi\\\" \\\\ ok\"\n"
	    "c = \"\"\n"
	    "d = \"  padded  \"\n"
	    "e = val#nocomment\n"
	    "f = a\"b\n"
	    "g = \"q\"#c\n"
	    "h=#x\n"
	    "i = #x\n"
	    "j = a # b # c\n"
	    "k = a\t# tab comment\n"
	    "l = \"\\\\\"\n"
	    "m = \"\\\"\"\t \n"
	    "n = x  y  \n"
	    "o = \"h\xc3\xa9llo\"\n"
	    "p = 'single'\n"),
	  "- - a='x # y' 1\n"
	  "- - b='say \"hi\" \\ ok' 2\n"
	  "- - c='' 3\n"
	  "- - d='  padded  ' 4\n"
	  "- - e='val#nocomment' 5\n"
	  "- - f='a\"b' 6\n"
	  "- - g='q' 7\n"
	  "- - h='#x' 8\n"
	  "- - i='' 9\n"
	  "- - j='a' 10\n"
	  "- - k='a' 11\n"
	  "- - l='\\' 12\n"
	  "- - m='\"' 13\n"
	  "- - n='x  y' 14\n"
	  "- - o='h\xc3\xa9llo' 15\n"
	  "- - p=''single'' 16\n" },
	/* CRLF, and a last line without one. */
	{ S("a = 1\r\n\r\nb = \"2\"\r\n[s \"n m\"]\r\nc = 3"),
	  "- - a='1' 1\n- - b='2' 3\n's' 'n m' c='3' 5\n" },
	{ S("a = 1\r"), "- - a='1' 1\n" },
	{ S("a = 1 # c\r\n"), "- - a='1' 1\n" },
	/* A BOM only at the very start. */
	{ S("\xef\xbb\xbf" "a = 1\nb = 2\n"), "- - a='1' 1\n- - b='2' 2\n" },
	{ S("\xef\xbb\xbf[t]\r\nk = v\r\n"), "'t' - k='v' 2\n" },
	/* Sections. */
	{ S(
	    "top = 1\n"
	    "[t]\n"
	    "a = 1\n"
	    "[ t2  \"quoted name\" ]  # c\n"
	    "b = 2\n"
	    "[t3 bare-name.x]\n"
	    "c = 3\n"
	    "[t4 \"a\\\"b\\\\c\"]\n"
	    "d = 4\n"
	    "[t-1_x    name-2]# c\n"
	    "e = 5\n"
	    "[empty]\n"
	    "[t5 n]\n"
	    "  \tf\t=\tv a l  \t\n"
	    "[t6 \"#x]\"]\n"
	    "g = 7\n"),
	  "- - top='1' 1\n"
	  "'t' - a='1' 3\n"
	  "'t2' 'quoted name' b='2' 5\n"
	  "'t3' 'bare-name.x' c='3' 7\n"
	  "'t4' 'a\"b\\c' d='4' 9\n"
	  "'t-1_x' 'name-2' e='5' 11\n"
	  "'t5' 'n' f='v a l' 14\n"
	  "'t6' '#x]' g='7' 16\n" },
	/* Keys: the whole alphabet. */
	{ S("abcdefghijklmnopqrstuvwxyz_0123456789-=x\n_=y\n-=z\n9 = 0\n"),
	  "- - abcdefghijklmnopqrstuvwxyz_0123456789-='x' 1\n"
	  "- - _='y' 2\n- - -='z' 3\n- - 9='0' 4\n" },
};

START_TEST(test_good)
{
	struct rec	r;
	char		err[256] = "junk";

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(good[_i].in, good[_i].len, &r, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(r.log, good[_i].want);
}
END_TEST

/*
 * Every prefix of a valid file: no crash, no over-read, and either a
 * clean parse or a syntax error (a cut quote).  Then the whole file with
 * CRLF line endings gives the same callbacks.
 */
START_TEST(test_good_prefixes)
{
	struct rec	 r;
	char		 err[256], *crlf;
	size_t		 k, i, n;
	int		 ret;

	for (k = 0; k <= good[_i].len; k++) {
		memset(&r, 0, sizeof(r));
		ret = parse_exact(good[_i].in, k, &r, err, sizeof(err));
		ck_assert_msg(ret == 0 || ret == TUN_EINVAL, "prefix %zu: %d",
		    k, ret);
		if (ret != 0) {
			ck_assert_uint_eq(r.calls, 0);
			ck_assert_msg(strncmp(err, "line ", 5) == 0, "%s", err);
		}
	}
	crlf = malloc(2 * good[_i].len + 1);
	ck_assert_ptr_nonnull(crlf);
	for (i = n = 0; i < good[_i].len; i++) {
		if (good[_i].in[i] == '\n' && (i == 0 ||
		    good[_i].in[i - 1] != '\r'))
			crlf[n++] = '\r';
		crlf[n++] = good[_i].in[i];
	}
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(crlf, n, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.log, good[_i].want);
	free(crlf);
}
END_TEST

/* --- syntax errors ------------------------------------------------------ */

static const struct {
	const char	*in;
	size_t		 len;
	int		 ret;
	const char	*err;
} bad[] = {
	{ S("a = 1\nfoo\n"), TUN_EINVAL, "line 2: expected 'key = value'" },
	{ S("key value"), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("key\t:\tvalue"), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("= 1"), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("  ="), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("key"), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("key "), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("a b = 1"), TUN_EINVAL, "line 1: expected 'key = value'" },
	{ S("Key = 1"), TUN_EINVAL, "line 1: key 'Key' is not lower case" },
	{ S("\n\nLISTEN=x"), TUN_EINVAL,
	  "line 3: key 'LISTEN' is not lower case" },
	{ S("a.b = 1"), TUN_EINVAL,
	  "line 1: bad key 'a.b' (a-z, 0-9, '_' and '-' only)" },
	{ S("A.b = 1"), TUN_EINVAL,
	  "line 1: bad key 'A.b' (a-z, 0-9, '_' and '-' only)" },
	{ S("k\xc3\xa9 = 1"), TUN_EINVAL,
	  "line 1: bad key 'k\xc3\xa9' (a-z, 0-9, '_' and '-' only)" },
	{ S("\"k\" = 1"), TUN_EINVAL,
	  "line 1: bad key '\"k\"' (a-z, 0-9, '_' and '-' only)" },
	{ S("a = \"abc"), TUN_EINVAL, "line 1: unterminated quote" },
	{ S("a = \"abc\\\""), TUN_EINVAL, "line 1: unterminated quote" },
	{ S("a = \"ab\\"), TUN_EINVAL, "line 1: unterminated quote" },
	{ S("a = \"\n\"\n"), TUN_EINVAL, "line 1: unterminated quote" },
	{ S("a = \"a\\nb\""), TUN_EINVAL,
	  "line 1: bad escape in quotes (only \\\" and \\\\)" },
	{ S("a = \"x\" y"), TUN_EINVAL,
	  "line 1: unexpected text after closing quote" },
	{ S("a = \"x\"\"y\""), TUN_EINVAL,
	  "line 1: unexpected text after closing quote" },
	/* NUL bytes, with the line they are on. */
	{ S("\0"), TUN_EINVAL, "line 1: NUL byte" },
	{ S("a = 1\nb = \0\n"), TUN_EINVAL, "line 2: NUL byte" },
	{ S("a = 1\r\n\r\n# \0"), TUN_EINVAL, "line 3: NUL byte" },
	{ S("a = \"x\0y\"\n"), TUN_EINVAL, "line 1: NUL byte" },
	/* Other control characters. */
	{ S("a = \x01\n"), TUN_EINVAL, "line 1: control character 0x01" },
	{ S("a = b\rc\n"), TUN_EINVAL, "line 1: control character 0x0d" },
	{ S("a = b\r\r\n"), TUN_EINVAL, "line 1: control character 0x0d" },
	{ S("\n# \x1b[31m\n"), TUN_EINVAL, "line 2: control character 0x1b" },
	{ S("a = \"\x7f\"\n"), TUN_EINVAL, "line 1: control character 0x7f" },
	{ S("\x0c"), TUN_EINVAL, "line 1: control character 0x0c" },
	/* A BOM that is not at the start is text. */
	{ S("a = 1\n\xef\xbb\xbf" "b = 2\n"), TUN_EINVAL,
	  "line 2: bad key '\xef\xbb\xbf" "b' (a-z, 0-9, '_' and '-' only)" },
	{ S("\xef\xbb\xbf\xef\xbb\xbf" "b = 2\n"), TUN_EINVAL,
	  "line 1: bad key '\xef\xbb\xbf" "b' (a-z, 0-9, '_' and '-' only)" },
	/* Section headers. */
	{ S("["), TUN_EINVAL, "line 1: bad section header: expected '[type]' "
	  "or '[type name]' (type in a-z, 0-9, '_', '-')" },
	{ S("[]"), TUN_EINVAL, "line 1: bad section header: expected '[type]' "
	  "or '[type name]' (type in a-z, 0-9, '_', '-')" },
	{ S("[T]"), TUN_EINVAL, "line 1: bad section header: expected '[type]' "
	  "or '[type name]' (type in a-z, 0-9, '_', '-')" },
	{ S("[t.x]"), TUN_EINVAL, "line 1: bad section header: expected "
	  "'[type]' or '[type name]' (type in a-z, 0-9, '_', '-')" },
	{ S("[\"t\"]"), TUN_EINVAL, "line 1: bad section header: expected "
	  "'[type]' or '[type name]' (type in a-z, 0-9, '_', '-')" },
	{ S("[t"), TUN_EINVAL, "line 1: bad section header: expected ']'" },
	{ S("[t n"), TUN_EINVAL, "line 1: bad section header: expected ']' "
	  "(quote a name with spaces)" },
	{ S("[t n m]"), TUN_EINVAL, "line 1: bad section header: expected ']' "
	  "(quote a name with spaces)" },
	{ S("[t n\"x\"]"), TUN_EINVAL, "line 1: bad section header: expected "
	  "']' (quote a name with spaces)" },
	{ S("[t [n]]"), TUN_EINVAL, "line 1: bad section header: expected "
	  "']' (quote a name with spaces)" },
	{ S("[t \"n]"), TUN_EINVAL, "line 1: unterminated quote" },
	{ S("[t \"n\" x]"), TUN_EINVAL, "line 1: bad section header: expected "
	  "']' (quote a name with spaces)" },
	{ S("[t \"\"]"), TUN_EINVAL, "line 1: empty section name" },
	{ S("[t] x"), TUN_EINVAL, "line 1: unexpected text after closing ']'" },
	{ S("[t n]]"), TUN_EINVAL,
	  "line 1: unexpected text after closing ']'" },
	{ S("[t\tn] = 1"), TUN_EINVAL,
	  "line 1: unexpected text after closing ']'" },
};

START_TEST(test_bad)
{
	struct rec	r;
	char		err[256] = "junk";

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(bad[_i].in, bad[_i].len, &r, err,
	    sizeof(err)), bad[_i].ret);
	ck_assert_str_eq(err, bad[_i].err);
	ck_assert_uint_eq(r.calls, 0);
	ck_assert_str_eq(r.log, "");
}
END_TEST

/* An error late in the file: no callback at all, not even for line 1. */
START_TEST(test_error_no_callbacks)
{
	struct rec	r;
	char		err[256];
	const char	in[] = "a = 1\n[t x]\nb = 2\n\nc = \"3\n";

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, sizeof(in) - 1, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 5: unterminated quote");
	ck_assert_uint_eq(r.calls, 0);
}
END_TEST

/* Limits: a line of CONF_MAX_LINE bytes is fine, one more is not. */
START_TEST(test_line_limit)
{
	struct rec	 r;
	char		 err[256], *v, *in, *want;
	size_t		 vlen = CONF_MAX_LINE - 4;	/* "k = " */

	v = repeat('x', vlen + 1);
	in = malloc(CONF_MAX_LINE + 16);
	want = malloc(CONF_MAX_LINE + 32);
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(want);

	v[vlen] = '\0';
	snprintf(in, CONF_MAX_LINE + 16, "k = %s\r\n", v);
	ck_assert_uint_eq(strlen(in), CONF_MAX_LINE + 2);
	snprintf(want, CONF_MAX_LINE + 32, "- - k='%s' 1\n", v);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.log, want);
	/* Without the line end. */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, CONF_MAX_LINE, &r, err, sizeof(err)),
	    0);
	ck_assert_str_eq(r.log, want);

	/* One byte more, with and without the line end. */
	v[vlen] = 'x';
	snprintf(in, CONF_MAX_LINE + 16, "\nk = %s\n", v);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)),
	    TUN_ETOOBIG);
	ck_assert_str_eq(err, "line 2: line over 4096 bytes");
	ck_assert_int_eq(parse_exact(in, strlen(in) - 1, &r, err,
	    sizeof(err)), TUN_ETOOBIG);
	ck_assert_str_eq(err, "line 2: line over 4096 bytes");
	/* A long comment or blank line is too long as well. */
	memset(in, ' ', CONF_MAX_LINE + 1);
	in[0] = '#';
	ck_assert_int_eq(parse_exact(in, CONF_MAX_LINE + 1, &r, err,
	    sizeof(err)), TUN_ETOOBIG);
	in[0] = ' ';
	ck_assert_int_eq(parse_exact(in, CONF_MAX_LINE + 1, &r, err,
	    sizeof(err)), TUN_ETOOBIG);
	ck_assert_uint_eq(r.calls, 0);
	free(v);
	free(in);
	free(want);
}
END_TEST

START_TEST(test_key_name_limits)
{
	struct rec	 r;
	char		 err[256], in[512], want[512], *k64, *n128;

	k64 = repeat('k', 65);
	n128 = repeat('n', 129);
	k64[64] = '\0';
	n128[128] = '\0';
	snprintf(in, sizeof(in), "%s = 1\n[%s %s]\n%s = 2\n", k64, k64, n128,
	    k64);
	snprintf(want, sizeof(want), "- - %s='1' 1\n'%s' '%s' %s='2' 3\n", k64,
	    k64, n128, k64);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.log, want);

	k64[64] = 'k';
	snprintf(in, sizeof(in), "%s = 1\n", k64);
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 1: key over 64 bytes");
	snprintf(in, sizeof(in), "[%s]\n", k64);
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 1: section type over 64 bytes");
	n128[128] = 'n';
	snprintf(in, sizeof(in), "[t %s]\n", n128);
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 1: section name over 128 bytes");
	snprintf(in, sizeof(in), "[t \"%s\"]\n", n128);
	ck_assert_int_eq(parse_exact(in, strlen(in), &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 1: section name over 128 bytes");
	ck_assert_uint_eq(r.calls, 2);		/* the good file only */
	free(k64);
	free(n128);
}
END_TEST

/* Over CONF_MAX_FILE: refused before looking at it. */
START_TEST(test_huge)
{
	struct rec	 r;
	char		 err[256], *big;
	size_t		 i;

	big = repeat('\n', CONF_MAX_FILE + 1);
	for (i = 0; i + 6 < CONF_MAX_FILE; i += 4096)
		memcpy(big + i, "a = 1\n", 6);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(big, CONF_MAX_FILE + 1, &r, err,
	    sizeof(err)), TUN_ETOOBIG);
	ck_assert_str_eq(err, "over 1048576 bytes");
	ck_assert_uint_eq(r.calls, 0);
	/* Exactly CONF_MAX_FILE is fine: 256 keys. */
	ck_assert_int_eq(parse_exact(big, CONF_MAX_FILE, &r, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(r.calls, 256);
	free(big);
}
END_TEST

/* Many short lines: line numbers past the thousands. */
START_TEST(test_many_lines)
{
	struct rec	 r;
	char		 err[256], *in;
	size_t		 len = 200000;

	in = repeat('\n', len);
	memcpy(in + len - 7, "BAD = 1", 7);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(parse_exact(in, len, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 199994: key 'BAD' is not lower case");
	free(in);
}
END_TEST

/* The callback stops the parse; its value comes back unchanged. */
START_TEST(test_callback_stop)
{
	struct rec	r;
	char		err[256] = "junk";
	const char	in[] = "a = 1\n[s n]\nb = 2\nc = 3\n";

	memset(&r, 0, sizeof(r));
	r.stop_at = 2;
	r.stop_ret = 42;
	ck_assert_int_eq(conf_parse(in, sizeof(in) - 1, rec_cb, &r, err,
	    sizeof(err)), 42);
	ck_assert_uint_eq(r.calls, 2);
	ck_assert_str_eq(r.log, "- - a='1' 1\n's' 'n' b='2' 3\n");
	ck_assert_str_eq(err, "");

	memset(&r, 0, sizeof(r));
	r.stop_at = 1;
	r.stop_ret = TUN_EEXIST;
	ck_assert_int_eq(conf_parse(in, sizeof(in) - 1, rec_cb, &r, err,
	    sizeof(err)), TUN_EEXIST);
	ck_assert_uint_eq(r.calls, 1);

	memset(&r, 0, sizeof(r));
	r.stop_at = 3;
	r.stop_ret = -1000;
	ck_assert_int_eq(conf_parse(in, sizeof(in) - 1, rec_cb, &r, NULL, 0),
	    -1000);
	ck_assert_uint_eq(r.calls, 3);
}
END_TEST

/* err may be NULL or short; it is always terminated. */
START_TEST(test_err_buffer)
{
	struct rec	r;
	char		err[8];

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(conf_parse("x", 1, rec_cb, &r, NULL, 0), TUN_EINVAL);
	ck_assert_int_eq(conf_parse("x", 1, rec_cb, &r, NULL, 100), TUN_EINVAL);
	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(conf_parse("x", 1, rec_cb, &r, err, 0), TUN_EINVAL);
	ck_assert_int_eq(err[0], 'Z');
	ck_assert_int_eq(conf_parse("x", 1, rec_cb, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 1:");
	ck_assert_int_eq(conf_parse("x", 1, rec_cb, &r, err, 1), TUN_EINVAL);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(r.calls, 0);
}
END_TEST

static const struct {
	const char	*s;
	int		 want;
} bools[] = {
	{ "yes", 1 }, { "YES", 1 }, { "true", 1 }, { "True", 1 }, { "on", 1 },
	{ "ON", 1 }, { "1", 1 },
	{ "no", 0 }, { "No", 0 }, { "false", 0 }, { "FALSE", 0 }, { "off", 0 },
	{ "Off", 0 }, { "0", 0 },
	{ "", -1 }, { "y", -1 }, { "n", -1 }, { "2", -1 }, { "01", -1 },
	{ " yes", -1 }, { "yes ", -1 }, { "yess", -1 }, { "enable", -1 },
	{ "-1", -1 }, { NULL, -1 },
};

START_TEST(test_bool)
{
	ck_assert_msg(conf_bool(bools[_i].s) == bools[_i].want, "'%s'",
	    bools[_i].s ? bools[_i].s : "(null)");
}
END_TEST

/* --- conf_parse_file ---------------------------------------------------- */

START_TEST(test_file)
{
	struct rec	 r;
	char		 dir[] = "/tmp/check_conf.XXXXXX", path[256], err[256];
	char		*big;
	size_t		 i;
	const char	 text[] = "\xef\xbb\xbf# x\r\nport = 80\r\n"
			     "[t \"a b\"]\r\nk = \"v\"";

	ck_assert_ptr_nonnull(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/good.conf", dir);
	write_file(path, text, sizeof(text) - 1);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(r.log, "- - port='80' 2\n't' 'a b' k='v' 4\n");
	ck_assert_int_eq(unlink(path), 0);

	snprintf(path, sizeof(path), "%s/empty.conf", dir);
	write_file(path, "", 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(r.calls, 0);
	ck_assert_int_eq(unlink(path), 0);

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	write_file(path, "a = 1\n\nB = 2\n", 13);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 3: key 'B' is not lower case");
	ck_assert_int_eq(unlink(path), 0);

	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	write_file(path, "a = 1\n\0", 7);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "line 2: NUL byte");
	ck_assert_int_eq(unlink(path), 0);

	/* Missing: TUN_ENOENT, so callers can fall back to defaults. */
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_ENOENT);
	ck_assert_str_eq(err, strerror(ENOENT));
	snprintf(path, sizeof(path), "%s/missing/x.conf", dir);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, NULL, 0),
	    TUN_ENOENT);

	/* Not a regular file. */
	ck_assert_int_eq(conf_parse_file(dir, rec_cb, &r, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_str_eq(err, "not a regular file");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_EINVAL);			/* and it did not block */
	ck_assert_str_eq(err, "not a regular file");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(conf_parse_file("/dev/null", rec_cb, &r, err,
	    sizeof(err)), TUN_EINVAL);

	/* A path through a file: another system error. */
	snprintf(path, sizeof(path), "%s/file", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/file/x.conf", dir);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_EIO);
	ck_assert_str_eq(err, strerror(ENOTDIR));
	snprintf(path, sizeof(path), "%s/file", dir);
	ck_assert_int_eq(unlink(path), 0);

	/* Size: CONF_MAX_FILE is fine, one byte more is not. */
	big = repeat('#', CONF_MAX_FILE + 1);
	big[CONF_MAX_FILE - 1] = '\n';
	for (i = 4000; i < CONF_MAX_FILE; i += 4000)
		big[i] = '\n';
	snprintf(path, sizeof(path), "%s/big.conf", dir);
	write_file(path, big, CONF_MAX_FILE);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(r.calls, 0);
	write_file(path, big, CONF_MAX_FILE + 1);
	ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err, sizeof(err)),
	    TUN_ETOOBIG);
	ck_assert_str_eq(err, "over 1048576 bytes");
	ck_assert_int_eq(unlink(path), 0);
	free(big);

	/* Unreadable (root reads it anyway). */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/secret.conf", dir);
		write_file(path, "a = 1\n", 6);
		ck_assert_int_eq(chmod(path, 0), 0);
		ck_assert_int_eq(conf_parse_file(path, rec_cb, &r, err,
		    sizeof(err)), TUN_EIO);
		ck_assert_str_eq(err, strerror(EACCES));
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_good, 0, nitems(good));
	tcase_add_loop_test(tc, test_good_prefixes, 0, nitems(good));
	tcase_add_loop_test(tc, test_bad, 0, nitems(bad));
	tcase_add_test(tc, test_error_no_callbacks);
	tcase_add_test(tc, test_line_limit);
	tcase_add_test(tc, test_key_name_limits);
	tcase_add_test(tc, test_huge);
	tcase_add_test(tc, test_many_lines);
	tcase_add_test(tc, test_callback_stop);
	tcase_add_test(tc, test_err_buffer);
	tcase_add_loop_test(tc, test_bool, 0, nitems(bools));
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(conf_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
