/*
 * Unit tests for src/keyfile.c: lines of api_key_file (plain and hashed
 * keys, per-key options, bad lines) and the names= patterns.  A refusal
 * must say why without ever repeating the key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tunerr.h"
#include "tunneld.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define K16		"0123456789abcdef"
/* SHA-256 of K16 */
#define H16		"9f9f5111f7b27a781f1f1ddde5ebc2dd" \
			"2b796bfc7365c9c28b548e564176929f"
#define H16U		"9F9F5111F7B27A781F1F1DDDE5EBC2DD" \
			"2B796BFC7365C9C28B548E564176929F"

static const struct {
	const char	*line;
	const char	*name;
	const char	*hash;		/* NULL: of K16 */
	int		 max;
	const char	*names;
} good[] = {
	{ "alice:" K16, "alice", NULL, 0, "" },
	{ "  alice:" K16 "  ", "alice", NULL, 0, "" },
	{ "A.b_c-9:" K16, "A.b_c-9", NULL, 0, "" },
	{ "bob:sha256:" H16, "bob", H16, 0, "" },
	{ "bob:sha256:" H16U, "bob", H16, 0, "" },
	{ "carol:" K16 " max_tunnels=5", "carol", NULL, 5, "" },
	{ "carol:" K16 "\tmax_tunnels=5\tnames=demo-*,acme", "carol", NULL, 5,
	    "demo-*,acme" },
	{ "dave:sha256:" H16 " names=a?c  max_tunnels=10000000", "dave", H16,
	    10000000, "a?c" },
	/* A key may hold a colon, and be long. */
	{ "eve:" K16 ":" K16, "eve", "x", 0, "" },
	{ "123456789012345678901234567890123456789012345678901234567890123:"
	    K16, "123456789012345678901234567890123456789012345678901234567890"
	    "123", NULL, 0, "" },
};

START_TEST(test_good)
{
	struct apikey	k;
	char		err[256] = "", h[UTIL_SHA256_HEX];

	ck_assert_msg(keyfile_parse_line(good[_i].line, &k, err,
	    sizeof(err)) == 0, "%s: %s", good[_i].line, err);
	ck_assert_str_eq(k.name, good[_i].name);
	if (good[_i].hash == NULL)
		ck_assert_str_eq(k.hash, H16);
	else if (strcmp(good[_i].hash, "x") == 0) {
		util_sha256_hex(K16 ":" K16, 33, h);
		ck_assert_str_eq(k.hash, h);
	} else
		ck_assert_str_eq(k.hash, good[_i].hash);
	ck_assert_int_eq(k.max_tunnels, good[_i].max);
	ck_assert_str_eq(k.names, good[_i].names);
	ck_assert(!k.admin);
}
END_TEST

static const char *const bad[] = {
	"",
	"   ",
	"alice",
	"alice " K16,
	":" K16,
	"al ice:" K16,
	"al/ice:" K16,
	"al:ice",				/* key too short */
	"alice:0123456789abcde",		/* 15 characters */
	"alice:",
	"1234567890123456789012345678901234567890123456789012345678901234:"
	    K16,				/* name of 64 */
	"bob:sha256:",
	"bob:sha256:abc",
	"bob:sha256:" H16 "0",
	"bob:sha256:gf9f5111f7b27a781f1f1ddde5ebc2dd"
	    "2b796bfc7365c9c28b548e564176929f",
	"bob:sha256:" H16 "x",
	"carol:" K16 " max_tunnels",
	"carol:" K16 " max_tunnels=",
	"carol:" K16 " max_tunnels=0",
	"carol:" K16 " max_tunnels=-1",
	"carol:" K16 " max_tunnels=abc",
	"carol:" K16 " max_tunnels=10000001",
	"carol:" K16 " max_tunnels=99999999999999999999",
	"carol:" K16 " max_tunnels=5 max_tunnels=6",
	"carol:" K16 " names=",
	"carol:" K16 " names=Demo",
	"carol:" K16 " names=a,,b",
	"carol:" K16 " names=a,",
	"carol:" K16 " names=,a",
	"carol:" K16 " names=a/b",
	"carol:" K16 " names=[a]",
	"carol:" K16 " names=a names=b",
	"carol:" K16 " names=1234567890123456789012345678901234567890123456"
	    "789012345678901234",		/* a pattern of 64 */
	"carol:" K16 " foo=1",
	"carol:" K16 " MAX_TUNNELS=1",
	"carol:" K16 " =",
	"carol:" K16 " " K16,
};

START_TEST(test_bad)
{
	struct apikey	k;
	char		err[256] = "";

	ck_assert_msg(keyfile_parse_line(bad[_i], &k, err, sizeof(err)) ==
	    TUN_EINVAL, "accepted: '%s'", bad[_i]);
	ck_assert_str_ne(err, "");
	ck_assert_msg(strstr(err, K16) == NULL && strstr(err, "0123456789abcde")
	    == NULL, "the key is in the message: %s", err);
	ck_assert_str_eq(k.name, "");
	ck_assert_str_eq(k.hash, "");
}
END_TEST

START_TEST(test_names_too_long)
{
	struct apikey	k;
	char		line[600], err[256];
	size_t		off;
	int		n;

	off = (size_t)snprintf(line, sizeof(line), "x:%s names=a", K16);
	while (off < 25 + 260) {
		n = snprintf(line + off, sizeof(line) - off, ",abcdefgh");
		ck_assert(n > 0);
		off += (size_t)n;
	}
	ck_assert_int_eq(keyfile_parse_line(line, &k, err, sizeof(err)),
	    TUN_EINVAL);
	/* 255 characters fit. */
	off = (size_t)snprintf(line, sizeof(line), "x:%s names=", K16);
	memset(line + off, 'a', 255);
	line[off + 255] = '\0';
	for (n = 60; n < 255; n += 61)
		line[off + (size_t)n] = ',';
	ck_assert_int_eq(keyfile_parse_line(line, &k, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(k.names), 255);
}
END_TEST

/* A tiny err buffer is fine too. */
START_TEST(test_small_err)
{
	struct apikey	k;
	char		err[8];

	ck_assert_int_eq(keyfile_parse_line("x:short", &k, err, sizeof(err)),
	    TUN_EINVAL);
	ck_assert_uint_lt(strlen(err), sizeof(err));
}
END_TEST

static const struct {
	const char	*names;
	const char	*name;
	bool		 ok;
} allow[] = {
	{ "", "anything", true },
	{ "demo-*,acme", "demo-1", true },
	{ "demo-*,acme", "demo-", true },
	{ "demo-*,acme", "acme", true },
	{ "demo-*,acme", "acme2", false },
	{ "demo-*,acme", "xdemo-1", false },
	{ "demo-*,acme", "demo", false },
	{ "a?c", "abc", true },
	{ "a?c", "ac", false },
	{ "*", "x", true },
	{ "acme", "acm", false },
};

START_TEST(test_allowed)
{
	struct apikey	k;

	memset(&k, 0, sizeof(k));
	snprintf(k.names, sizeof(k.names), "%s", allow[_i].names);
	ck_assert_msg(keyfile_name_allowed(&k, allow[_i].name) == allow[_i].ok,
	    "%s in %s", allow[_i].name, allow[_i].names);
}
END_TEST

static Suite *
keyfile_suite(void)
{
	Suite	*s = suite_create("keyfile");
	TCase	*tc;

	tc = tcase_create("lines");
	tcase_add_loop_test(tc, test_good, 0, nitems(good));
	tcase_add_loop_test(tc, test_bad, 0, nitems(bad));
	tcase_add_test(tc, test_names_too_long);
	tcase_add_test(tc, test_small_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_allowed, 0, nitems(allow));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(keyfile_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
