/*
 * Unit tests for the dashboard's parts without I/O: the uptime rings and
 * their aggregation (src/uptime.c), the state file records with hostile
 * bytes, and the login helpers of src/websess.c: the Cookie and form
 * parsers, the session table (expiry, eviction, constant-time lookup by
 * value only) and the failed-login count.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tunerr.h"
#include "tunneld.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define T0		((int64_t)29000000)	/* a slot: minutes since 1970 */

/* --- uptime: recording and sums ------------------------------------------ */

START_TEST(test_uptime_empty)
{
	struct uptime	u;
	unsigned	n, up;
	int		bars[4];

	uptime_init(&u);
	uptime_sum(&u, 0, T0, &n, &up);
	ck_assert_uint_eq(n, 0);
	uptime_bars(&u, T0, 16, 4, bars);
	ck_assert_int_eq(bars[0], -1);
	ck_assert_int_eq(bars[3], -1);
}
END_TEST

START_TEST(test_uptime_fine)
{
	struct uptime	u;
	unsigned	n, up;
	int64_t		s;
	int		bars[3];

	uptime_init(&u);
	for (s = T0; s < T0 + 100; s++)
		uptime_record(&u, s, s % 4 != 0);	/* 75 % up */
	uptime_sum(&u, T0, T0 + 100, &n, &up);
	ck_assert_uint_eq(n, 100);
	ck_assert_uint_eq(up, 75);
	/* A slot sampled twice counts once; the first answer stays. */
	uptime_record(&u, T0 + 1, false);
	uptime_record(&u, T0 + 99, false);
	uptime_sum(&u, T0, T0 + 100, &n, &up);
	ck_assert_uint_eq(n, 100);
	ck_assert_uint_eq(up, 75);
	/* Ranges past the newest slot have no data. */
	uptime_sum(&u, T0 + 100, T0 + 200, &n, &up);
	ck_assert_uint_eq(n, 0);
	/* Bars ending at the newest slot: 4 of 4 per group, then ... */
	uptime_bars(&u, T0 + 99, 4, 3, bars);
	ck_assert_int_eq(bars[0], 750);
	ck_assert_int_eq(bars[2], 750);
	uptime_bars(&u, T0 + 101, 2, 3, bars);	/* no samples since 99 */
	ck_assert_int_eq(bars[0], 500);		/* 96 down, 97 up */
	ck_assert_int_eq(bars[1], 1000);	/* 98, 99 */
	ck_assert_int_eq(bars[2], -1);		/* 100, 101: no data */
}
END_TEST

START_TEST(test_uptime_gap)
{
	struct uptime	u;
	unsigned	n, up;

	uptime_init(&u);
	uptime_record(&u, T0, true);
	uptime_record(&u, T0 + 10, false);
	uptime_sum(&u, T0, T0 + 11, &n, &up);
	ck_assert_uint_eq(n, 2);		/* not sampled: no data */
	ck_assert_uint_eq(up, 1);
	/* Older than the fine ring, or negative: ignored. */
	uptime_record(&u, T0 + 10 - UPTIME_FINE, true);
	uptime_record(&u, -5, true);
	uptime_sum(&u, T0 + 11 - UPTIME_FINE, T0 + 11, &n, &up);
	ck_assert_uint_eq(n, 2);
	/* A late sample inside the ring is taken. */
	uptime_record(&u, T0 + 5, true);
	uptime_sum(&u, T0, T0 + 11, &n, &up);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(up, 2);
}
END_TEST

/* The fine ring wraps and forgets; the hourly counts keep 30 days. */
START_TEST(test_uptime_coarse)
{
	struct uptime	u;
	unsigned	n, up;
	int64_t		s, start = T0 - T0 % UPTIME_GROUP;
	int64_t		end = start + 3 * UPTIME_FINE;	/* three days */
	int		days[3];

	uptime_init(&u);
	for (s = start; s < end; s++)
		uptime_record(&u, s, s < start + UPTIME_FINE ||
		    s >= start + 2 * UPTIME_FINE);	/* day 2 down */
	uptime_sum(&u, end - UPTIME_FINE, end, &n, &up);
	ck_assert_uint_eq(n, UPTIME_FINE);
	ck_assert_uint_eq(up, UPTIME_FINE);
	uptime_sum(&u, start, end, &n, &up);	/* by hours */
	ck_assert_uint_eq(n, 3 * UPTIME_FINE);
	ck_assert_uint_eq(up, 2 * UPTIME_FINE);
	uptime_bars(&u, end - 1, UPTIME_FINE, 3, days);
	ck_assert_int_eq(days[0], 1000);
	ck_assert_int_eq(days[1], 0);
	ck_assert_int_eq(days[2], 1000);
	/* 31 days later only the last sample's day is left. */
	s = end + (int64_t)UPTIME_COARSE * UPTIME_GROUP;
	uptime_record(&u, s, true);
	uptime_sum(&u, s - (int64_t)UPTIME_COARSE * UPTIME_GROUP + 1, s + 1,
	    &n, &up);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(up, 1);
}
END_TEST

/* One sample an hour for 721 hours: the first hour is forgotten. */
START_TEST(test_uptime_thirty_days)
{
	struct uptime	u;
	unsigned	n, up;
	int64_t		start = T0 - T0 % UPTIME_GROUP, h;

	uptime_init(&u);
	for (h = 0; h < UPTIME_COARSE + 1; h++)
		uptime_record(&u, start + h * UPTIME_GROUP, h % 2 == 0);
	uptime_sum(&u, 0, start + (UPTIME_COARSE + 1) * UPTIME_GROUP, &n, &up);
	ck_assert_uint_eq(n, UPTIME_COARSE);
	ck_assert_uint_eq(up, UPTIME_COARSE / 2);	/* even hours 2 .. 720 */
}
END_TEST

/* --- uptime: records and files with hostile bytes ------------------------- */

static size_t	 parsed;
static char	 parsed_id[TUNNELD_ID_LEN];

static void
count_cb(const char *id, const struct uptime *u, void *arg)
{
	parsed++;
	memcpy(parsed_id, id, sizeof(parsed_id));
	if (arg != NULL)
		memcpy(arg, u, sizeof(*u));
}

static uint8_t *
make_file(int interval, size_t nrec, size_t *len)
{
	struct uptime	 u;
	uint8_t		*buf;
	size_t		 i;
	char		 id[16];

	*len = UPTIME_HDR + nrec * UPTIME_REC;
	buf = calloc(1, *len);
	ck_assert_ptr_nonnull(buf);
	uptime_header(buf, interval, (uint32_t)nrec);
	for (i = 0; i < nrec; i++) {
		uptime_init(&u);
		uptime_record(&u, T0 + (int64_t)i, true);
		uptime_record(&u, T0 + (int64_t)i + 1, false);
		snprintf(id, sizeof(id), "t%zu", i);
		uptime_encode(&u, id, buf + UPTIME_HDR + i * UPTIME_REC);
	}
	return buf;
}

START_TEST(test_uptime_roundtrip)
{
	struct uptime	 u;
	uint8_t		*buf;
	size_t		 len;
	unsigned	 n, up;
	int		 iv = 0;

	buf = make_file(60, 3, &len);
	parsed = 0;
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, &u), 0);
	ck_assert_int_eq(iv, 60);
	ck_assert_uint_eq(parsed, 3);
	ck_assert_str_eq(parsed_id, "t2");
	uptime_sum(&u, T0, T0 + 10, &n, &up);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(up, 1);
	ck_assert_int_eq(u.last, T0 + 3);
	/* Another slot length: refused before any record. */
	parsed = 0;
	ck_assert_int_eq(uptime_parse(buf, len, 1, &iv, count_cb, NULL),
	    TUN_EINVAL);
	ck_assert_int_eq(iv, 60);
	ck_assert_uint_eq(parsed, 0);
	free(buf);
}
END_TEST

/* Every truncation is refused, and no record past the cut is read. */
START_TEST(test_uptime_truncated)
{
	uint8_t	*buf;
	size_t	 len, cut;
	int	 iv;

	buf = make_file(60, 2, &len);
	for (cut = 0; cut < len; cut++) {
		parsed = 0;
		ck_assert_int_eq(uptime_parse(buf, cut, 60, &iv, count_cb, NULL),
		    TUN_EPROTO);
		ck_assert_uint_eq(parsed, 0);
	}
	free(buf);
}
END_TEST

static const struct {
	size_t		 off;		/* from the record's start */
	uint8_t		 val;
	const char	*why;
} bad_bytes[] = {
	{ 0, 'A', "an id that is not a name" },
	{ 0, '-', "an id that is not a DNS label (leading dash)" },
	{ 2, '/', "a slash in the id" },
	{ 63, 'x', "an id without its NUL" },
	{ TUNNELD_ID_LEN + 7, 0x80, "a negative newest slot" },
	{ TUNNELD_ID_LEN + 7, 0x7f, "a slot past any time" },
	{ TUNNELD_ID_LEN + 8 + UPTIME_FINE / 8, 0xff, "up where not seen" },
	{ TUNNELD_ID_LEN + 8 + UPTIME_FINE / 4, 61, "more samples than slots" },
	{ TUNNELD_ID_LEN + 8 + UPTIME_FINE / 4 + UPTIME_COARSE + 5, 1,
	    "more up than samples" },
};

START_TEST(test_uptime_bad_record)
{
	uint8_t	*buf;
	size_t	 len;
	int	 iv;

	buf = make_file(60, 2, &len);
	if (bad_bytes[_i].off == 63) {
		memset(buf + UPTIME_HDR + UPTIME_REC, 'a', TUNNELD_ID_LEN);
	} else
		buf[UPTIME_HDR + UPTIME_REC + bad_bytes[_i].off] =
		    bad_bytes[_i].val;
	parsed = 0;
	ck_assert_msg(uptime_parse(buf, len, 60, &iv, count_cb, NULL) ==
	    TUN_EPROTO, "%s was taken", bad_bytes[_i].why);
	ck_assert_uint_eq(parsed, 1);	/* the good first record */
	free(buf);
}
END_TEST

START_TEST(test_uptime_bad_header)
{
	uint8_t	*buf;
	size_t	 len;
	int	 iv;

	buf = make_file(60, 1, &len);
	buf[0] = 'X';
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, NULL),
	    TUN_EPROTO);
	uptime_header(buf, 60, 2);		/* count says 2, 1 there */
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, NULL),
	    TUN_EPROTO);
	uptime_header(buf, 0, 1);		/* no slot length */
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, NULL),
	    TUN_EPROTO);
	uptime_header(buf, UPTIME_MAX_INTERVAL + 1, 1);
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, NULL),
	    TUN_EPROTO);
	uptime_header(buf, 60, 0xffffffffu);	/* a huge count */
	ck_assert_int_eq(uptime_parse(buf, len, 60, &iv, count_cb, NULL),
	    TUN_EPROTO);
	free(buf);
}
END_TEST

/* Random bytes after a valid header never crash and never pass unseen. */
START_TEST(test_uptime_random)
{
	uint8_t	*buf;
	size_t	 len, i;
	int	 iv, round, r;

	buf = make_file(60, 2, &len);
	srand(7);
	for (round = 0; round < 2000; round++) {
		for (i = UPTIME_HDR; i < len; i++)
			if (rand() % 97 == 0)
				buf[i] = (uint8_t)rand();
		parsed = 0;
		r = uptime_parse(buf, len, 60, &iv, count_cb, NULL);
		ck_assert(r == 0 || r == TUN_EPROTO);
		ck_assert(r != 0 || parsed == 2);
	}
	free(buf);
}
END_TEST

/* --- websess: Cookie header ------------------------------------------------ */

static const struct {
	const char	*hdr;
	const char	*want;		/* NULL: not found */
} cookies[] = {
	{ "tunneld_session=abc", "abc" },
	{ "a=1; tunneld_session=abc; b=2", "abc" },
	{ "a=1;tunneld_session=abc", "abc" },
	{ "  tunneld_session=abc  ", "abc" },
	{ "tunneld_session=\"abc\"", "abc" },
	{ "xtunneld_session=abc", NULL },
	{ "tunneld_sessionx=abc", NULL },
	{ "tunneld_session", NULL },
	{ "tunneld_session=", NULL },
	{ "tunneld_session=\"\"", NULL },
	{ "tunneld_session=a b", NULL },
	{ "tunneld_session=a,b", NULL },
	{ "tunneld_session=a\\b", NULL },
	{ "tunneld_session=\"a", NULL },
	{ "tunneld_session=a\x01", NULL },
	{ "tunneld_session=caf\xc3\xa9", NULL },
	{ "", NULL },
	{ ";;;;", NULL },
	{ "=abc", NULL },
	/* The first one counts, as browsers send the most specific first. */
	{ "tunneld_session=one; tunneld_session=two", "one" },
	{ "tunneld_session=0123456789012345678901234567890123456789012345"
	    "6789", NULL },		/* longer than the buffer */
};

START_TEST(test_cookie)
{
	char	out[48];
	bool	ok;

	memset(out, 'Z', sizeof(out));
	ok = websess_cookie(cookies[_i].hdr, WEBSESS_COOKIE, out, sizeof(out));
	if (cookies[_i].want == NULL)
		ck_assert_msg(!ok, "'%s' gave '%s'", cookies[_i].hdr, out);
	else {
		ck_assert_msg(ok, "'%s' not found", cookies[_i].hdr);
		ck_assert_str_eq(out, cookies[_i].want);
	}
}
END_TEST

START_TEST(test_cookie_null)
{
	char	out[8];

	ck_assert(!websess_cookie(NULL, WEBSESS_COOKIE, out, sizeof(out)));
	ck_assert(!websess_cookie("tunneld_session=a", WEBSESS_COOKIE, out,
	    0));
	/* Exactly filling the buffer is refused, one less fits. */
	ck_assert(!websess_cookie("tunneld_session=12345678", WEBSESS_COOKIE,
	    out, sizeof(out)));
	ck_assert(websess_cookie("tunneld_session=1234567", WEBSESS_COOKIE,
	    out, sizeof(out)));
	ck_assert_str_eq(out, "1234567");
}
END_TEST

/* --- websess: form bodies --------------------------------------------------- */

static const struct {
	const char	*body;
	const char	*want;
} forms[] = {
	{ "key=abc", "abc" },
	{ "a=1&key=abc&b=2", "abc" },
	{ "key=a%2Bb+c%3d", "a+b c=" },
	{ "key=%41%62", "Ab" },
	{ "key=", "" },
	{ "keyx=abc", NULL },
	{ "xkey=abc", NULL },
	{ "key", NULL },
	{ "key=%", NULL },
	{ "key=%4", NULL },
	{ "key=%zz", NULL },
	{ "key=%00abc", NULL },
	{ "key=a%0d%0aX", NULL },
	{ "key=a%7f", NULL },
	{ "", NULL },
	{ "&&&", NULL },
	{ "key=%4&x=1", NULL },
	{ "key=0123456789abcdef0123456789abcdef", NULL },	/* too long */
	{ "key=caf%C3%A9", "caf\xc3\xa9" },
};

START_TEST(test_form)
{
	char	out[32];
	bool	ok;

	ok = websess_form(forms[_i].body, strlen(forms[_i].body), "key", out,
	    sizeof(out));
	if (forms[_i].want == NULL)
		ck_assert_msg(!ok, "'%s' gave '%s'", forms[_i].body, out);
	else {
		ck_assert_msg(ok, "'%s' not parsed", forms[_i].body);
		ck_assert_str_eq(out, forms[_i].want);
	}
}
END_TEST

/* The body is not NUL-terminated: nothing past len is read. */
START_TEST(test_form_bounded)
{
	char	 out[32], *body;
	size_t	 i;
	const char text[] = "key=secret&other=1";

	for (i = 0; i <= strlen(text); i++) {
		body = malloc(i == 0 ? 1 : i);
		ck_assert_ptr_nonnull(body);
		memcpy(body, text, i);
		if (websess_form(body, i, "key", out, sizeof(out)))
			ck_assert(strncmp("secret", out, strlen(out)) == 0 &&
			    strlen(out) + 4 <= i);
		else
			ck_assert_uint_lt(i, 4);
		free(body);
	}
}
END_TEST

/* --- websess: the session table --------------------------------------------- */

#define KH	"0000000000000000000000000000000000000000000000000000000000000000"

START_TEST(test_session)
{
	struct websess	s;
	char		c[WEBSESS_COOKIE_LEN + 1], csrf[WEBSESS_CSRF_LEN + 1];
	char		bad[WEBSESS_COOKIE_LEN + 1];

	websess_clear();
	websess_new(KH, 1000, c, sizeof(c), csrf, sizeof(csrf));
	ck_assert_uint_eq(strlen(c), WEBSESS_COOKIE_LEN);
	ck_assert_uint_eq(strlen(csrf), WEBSESS_CSRF_LEN);
	ck_assert(websess_lookup(c, 1001, &s));
	ck_assert_str_eq(s.key_hash, KH);
	ck_assert(websess_csrf_ok(&s, csrf));
	ck_assert(!websess_csrf_ok(&s, ""));
	ck_assert(!websess_csrf_ok(&s, NULL));
	ck_assert(!websess_csrf_ok(&s, c));
	/* The table keeps only a hash of the value. */
	ck_assert(strstr(s.hash, c) == NULL);
	/* One character off, shorter, longer, empty: no session. */
	memcpy(bad, c, sizeof(bad));
	bad[5] = bad[5] == 'a' ? 'b' : 'a';
	ck_assert(!websess_lookup(bad, 1001, &s));
	bad[5] = c[5];
	bad[WEBSESS_COOKIE_LEN - 1] = '\0';
	ck_assert(!websess_lookup(bad, 1001, &s));
	ck_assert(!websess_lookup("", 1001, &s));
	ck_assert(!websess_lookup(NULL, 1001, &s));
	/* The hash of an unused slot is no way in either. */
	ck_assert(!websess_lookup(KH, 1001, &s));
	/* Expiry, 12 hours after the login. */
	ck_assert(websess_lookup(c, 1000 + WEBSESS_TTL - 1, &s));
	ck_assert(!websess_lookup(c, 1000 + WEBSESS_TTL, &s));
	ck_assert(!websess_lookup(c, 1001, &s));	/* gone for good */
	/* Logout. */
	websess_new(KH, 2000, c, sizeof(c), csrf, sizeof(csrf));
	ck_assert(websess_lookup(c, 2001, &s));
	websess_end(c);
	ck_assert(!websess_lookup(c, 2001, &s));
	ck_assert_uint_eq(websess_count(2001), 0);
}
END_TEST

/* A full table gives up its oldest session, never more than its size. */
START_TEST(test_session_full)
{
	struct websess	s;
	char		c[WEBSESS_MAX + 1][WEBSESS_COOKIE_LEN + 1];
	char		csrf[WEBSESS_CSRF_LEN + 1];
	int		i;

	websess_clear();
	for (i = 0; i <= WEBSESS_MAX; i++)
		websess_new(KH, 1000 + i, c[i], sizeof(c[i]), csrf,
		    sizeof(csrf));
	ck_assert_uint_eq(websess_count(2000), WEBSESS_MAX);
	ck_assert(!websess_lookup(c[0], 2000, &s));	/* the oldest */
	for (i = 1; i <= WEBSESS_MAX; i++)
		ck_assert(websess_lookup(c[i], 2000, &s));
	/* Expired ones make room first. */
	websess_clear();
	websess_new(KH, 0, c[0], sizeof(c[0]), csrf, sizeof(csrf));
	for (i = 1; i < WEBSESS_MAX; i++)
		websess_new(KH, WEBSESS_TTL, c[i], sizeof(c[i]), csrf,
		    sizeof(csrf));
	websess_new(KH, WEBSESS_TTL + 1, c[WEBSESS_MAX], sizeof(c[0]), csrf,
	    sizeof(csrf));
	ck_assert(websess_lookup(c[1], WEBSESS_TTL + 2, &s));
	ck_assert(websess_lookup(c[WEBSESS_MAX], WEBSESS_TTL + 2, &s));
	websess_clear();
}
END_TEST

/* --- websess: failed logins ----------------------------------------------- */

START_TEST(test_throttle)
{
	char	addr[32];
	int	i;

	websess_clear();
	for (i = 1; i < WEBSESS_FAIL_MAX; i++) {
		ck_assert_int_eq(websess_failed("192.0.2.1", 100), i);
		ck_assert_int_eq(websess_throttled("192.0.2.1", 100), 0);
	}
	ck_assert_int_eq(websess_failed("192.0.2.1", 110), WEBSESS_FAIL_MAX);
	ck_assert_int_eq(websess_throttled("192.0.2.1", 110),
	    WEBSESS_FAIL_WINDOW - 10);
	ck_assert_int_eq(websess_throttled("192.0.2.2", 110), 0);
	ck_assert_int_eq(websess_throttled("192.0.2.1",
	    100 + WEBSESS_FAIL_WINDOW), 0);		/* the window is over */
	ck_assert_int_eq(websess_failed("192.0.2.1", 100 + WEBSESS_FAIL_WINDOW),
	    1);
	/* Many addresses: the table stays bounded, the newest are kept. */
	for (i = 0; i < 3 * WEBSESS_FAIL_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "2001:db8::%x", i);
		ck_assert_int_eq(websess_failed(addr, 200 + i / 100), 1);
	}
	for (i = 0; i < WEBSESS_FAIL_MAX - 1; i++)
		(void)websess_failed(addr, 210);
	ck_assert_int_gt(websess_throttled(addr, 210), 0);
	websess_clear();
}
END_TEST

static Suite *
dashboard_suite(void)
{
	Suite	*s = suite_create("dashboard");
	TCase	*tc;

	tc = tcase_create("uptime");
	tcase_add_test(tc, test_uptime_empty);
	tcase_add_test(tc, test_uptime_fine);
	tcase_add_test(tc, test_uptime_gap);
	tcase_add_test(tc, test_uptime_coarse);
	tcase_add_test(tc, test_uptime_thirty_days);
	suite_add_tcase(s, tc);
	tc = tcase_create("uptime_file");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_uptime_roundtrip);
	tcase_add_test(tc, test_uptime_truncated);
	tcase_add_loop_test(tc, test_uptime_bad_record, 0, nitems(bad_bytes));
	tcase_add_test(tc, test_uptime_bad_header);
	tcase_add_test(tc, test_uptime_random);
	suite_add_tcase(s, tc);
	tc = tcase_create("cookie");
	tcase_add_loop_test(tc, test_cookie, 0, nitems(cookies));
	tcase_add_test(tc, test_cookie_null);
	suite_add_tcase(s, tc);
	tc = tcase_create("form");
	tcase_add_loop_test(tc, test_form, 0, nitems(forms));
	tcase_add_test(tc, test_form_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("session");
	tcase_add_test(tc, test_session);
	tcase_add_test(tc, test_session_full);
	tcase_add_test(tc, test_throttle);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dashboard_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
