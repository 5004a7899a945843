#include "config.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunerr.h"
#include "wsframe.h"

/*
 * Decoder cases.  The input is written in a small notation, see build():
 *   HH		a byte in hex
 *   'text'	literal bytes
 *   *N:HH	N copies of a byte
 *   mKKKKKKKK	a masking key: written as is, then the bytes that follow
 *		are masked with it, up to the next '|'
 * The expected output is a transcript, see tx_event():
 *   <T:...>  <B:...>	a TEXT / BINARY message ('>' once it has ended)
 *   {P:...} {O:...}	PING, PONG
 *   {C1000:...}	CLOSE with its code and reason
 * Bytes outside 0x20-0x7e and the characters \<>{}[] are written \xHH;
 * a run of 16 or more equal characters c is written [c*N].
 */
struct dcase {
	const char		*name;
	enum wsframe_role	 role;
	uint64_t		 max_frame, max_msg;
	const char		*in;
	int			 ret;		/* after the whole input */
	uint16_t		 close_code;	/* if ret != 0 */
	const char		*want;
};

#define SRV	WSFRAME_SERVER
#define CLI	WSFRAME_CLIENT
#define BIG	(1u << 20)
#define K	" m37fa213d "			/* the RFC 6455 example key */
#define K2	" m01020304 "
#define EPROTO	TUN_EPROTO
#define ETOOBIG	TUN_ETOOBIG

#define OK(n, r, in, want)		{ n, r, BIG, BIG, in, 0, 0, want }
#define OKL(n, r, mf, mm, in, want)	{ n, r, mf, mm, in, 0, 0, want }
#define BAD(n, r, in, code, want)	{ n, r, BIG, BIG, in, EPROTO, code, want }
#define BIGL(n, r, mf, mm, in, want)	{ n, r, mf, mm, in, ETOOBIG, 1009, want }

static const struct dcase dcases[] = {
	/* RFC 6455 section 5.7 examples, byte for byte. */
	OK("rfc_text", CLI, "81 05 48 65 6c 6c 6f", "<T:Hello>"),
	OK("rfc_masked_text", SRV, "81 85 37 fa 21 3d 7f 9f 4d 51 58",
	    "<T:Hello>"),
	OK("rfc_fragments", CLI, "01 03 48 65 6c 80 02 6c 6f", "<T:Hello>"),
	OK("rfc_ping", CLI, "89 05 48 65 6c 6c 6f", "{P:Hello}"),
	OK("rfc_masked_pong", SRV, "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
	    "{O:Hello}"),
	OK("rfc_len16", CLI, "82 7e 01 00 *256:61", "<B:[a*256]>"),
	OK("rfc_len64", CLI, "82 7f 00 00 00 00 00 01 00 00 *65536:63",
	    "<B:[c*65536]>"),

	/* Lengths and masking. */
	OK("masked_notation", SRV, "81 85" K "'Hello'", "<T:Hello>"),
	OK("len7_max", CLI, "82 7d *125:61", "<B:[a*125]>"),
	OK("len16_min", SRV, "82 fe 00 7e" K2 "*126:62", "<B:[b*126]>"),
	OK("len16_masked", SRV, "82 fe 01 2c" K2 "*300:62", "<B:[b*300]>"),
	OK("len16_max", CLI, "82 7e ff ff *65535:64", "<B:[d*65535]>"),
	OK("len64_masked", SRV, "82 ff 00 00 00 00 00 01 11 70" K
	    "*70000:65", "<B:[e*70000]>"),
	OK("len16_nonminimal", CLI, "82 7e 00 05 'abcde'", "<B:abcde>"),
	OK("len64_nonminimal", SRV, "82 ff 00 00 00 00 00 00 00 03" K2
	    "'xyz'", "<B:xyz>"),
	OK("len64_zero", CLI, "82 7f 00 00 00 00 00 00 00 00", "<B:>"),
	OK("ping_len16_nonminimal", CLI, "89 7e 00 03 'abc'", "{P:abc}"),
	OK("ping_125", SRV, "89 fd" K "*125:70", "{P:[p*125]}"),
	OK("masked_binary_bytes", SRV, "82 84" K2 "00 ff 80 7f",
	    "<B:\\x00\\xff\\x80\\x7f>"),

	/* Empty frames. */
	OK("empty_binary", CLI, "82 00", "<B:>"),
	OK("empty_text_masked", SRV, "81 80" K, "<T:>"),
	OK("empty_first_fragment", CLI, "02 00 80 03 'abc'", "<B:abc>"),
	OK("empty_last_fragment", CLI, "02 03 'abc' 80 00", "<B:abc>"),
	OK("empty_middle_fragment", CLI, "01 02 'ab' 00 00 80 01 'c'",
	    "<T:abc>"),
	OK("empty_all_fragments", SRV, "02 80" K "| 00 80" K2 "| 80 80" K,
	    "<B:>"),
	OK("empty_ping_pong", CLI, "89 00 8a 00", "{P:}{O:}"),

	/* Fragmentation and interleaved control frames. */
	OK("frag_ping_between", SRV, "01 83" K "'Hel' | 89 82" K2 "'hi' |"
	    "80 82" K "'lo'", "<T:Hel{P:hi}lo>"),
	OK("frag_three_keys", SRV, "02 82" K "'ab' | 00 82" K2 "'cd' |"
	    "80 82 m00000000 'ef'", "<B:abcdef>"),
	OK("frag_pong_ping_between", CLI, "02 01 'a' 8a 01 'x' 89 00 "
	    "00 01 'b' 80 01 'c'", "<B:a{O:x}{P:}bc>"),
	OK("frag_close_between", CLI, "02 02 'ab' 88 02 03 e8",
	    "<B:ab{C1000:}"),
	OK("messages_back_to_back", CLI, "81 01 'a' 82 01 'b' 89 00 8a 00"
	    "01 01 'c' 80 01 'd' 82 00", "<T:a><B:b>{P:}{O:}<T:cd><B:>"),

	/* CLOSE. */
	OK("close_empty", CLI, "88 00", "{C1005:}"),
	OK("close_code_only", CLI, "88 02 03 e8", "{C1000:}"),
	OK("close_reason_masked", SRV, "88 86" K "03 e9 'bye!'",
	    "{C1001:bye!}"),
	OK("close_1003", CLI, "88 02 03 eb", "{C1003:}"),
	OK("close_1007", CLI, "88 02 03 ef", "{C1007:}"),
	OK("close_1011", CLI, "88 02 03 f3", "{C1011:}"),
	OK("close_1014", CLI, "88 02 03 f6", "{C1014:}"),
	OK("close_3000", CLI, "88 02 0b b8", "{C3000:}"),
	OK("close_4999", CLI, "88 02 13 87", "{C4999:}"),
	OK("close_reason_utf8", CLI, "88 04 03 e8 c3 a9", "{C1000:\\xc3\\xa9}"),
	OK("close_reason_123", CLI, "88 7d 03 e8 *123:72", "{C1000:[r*123]}"),

	/* UTF-8 in TEXT messages. */
	OK("utf8_2byte", CLI, "81 06 'h' c3 a9 'llo'", "<T:h\\xc3\\xa9llo>"),
	OK("utf8_3byte", CLI, "81 03 e2 82 ac", "<T:\\xe2\\x82\\xac>"),
	OK("utf8_4byte", CLI, "81 04 f0 9f 98 80", "<T:\\xf0\\x9f\\x98\\x80>"),
	OK("utf8_max", CLI, "81 04 f4 8f bf bf", "<T:\\xf4\\x8f\\xbf\\xbf>"),
	OK("utf8_before_surrogates", CLI, "81 03 ed 9f bf",
	    "<T:\\xed\\x9f\\xbf>"),
	OK("utf8_after_surrogates", CLI, "81 03 ee 80 80",
	    "<T:\\xee\\x80\\x80>"),
	OK("utf8_ascii_run", SRV, "81 8c" K "'abcdefghij' c3 a9",
	    "<T:abcdefghij\\xc3\\xa9>"),
	OK("utf8_across_fragments", CLI, "01 02 'a' e2 80 02 82 ac",
	    "<T:a\\xe2\\x82\\xac>"),
	OK("utf8_across_ping", CLI, "01 01 f0 89 00 00 02 9f 98 80 01 80",
	    "<T:\\xf0{P:}\\x9f\\x98\\x80>"),
	OK("binary_not_utf8", CLI, "82 02 ff fe", "<B:\\xff\\xfe>"),

	/* Limits: exactly at the ceiling is fine. */
	OKL("frame_at_limit", CLI, 5, 5, "82 05 'abcde'", "<B:abcde>"),
	OKL("msg_at_limit", CLI, 3, 6, "01 03 'abc' 80 03 'def'",
	    "<T:abcdef>"),
	OKL("limit_per_message", CLI, 5, 5, "82 05 'abcde' 82 05 'fghij'",
	    "<B:abcde><B:fghij>"),
	OKL("ping_not_in_msg", CLI, 5, 4, "02 02 'ab' 89 05 'hello' 80 02 "
	    "'cd'", "<B:ab{P:hello}cd>"),

	/* Truncated input: everything is consumed, nothing more happens. */
	OK("trunc_1byte", CLI, "82", ""),
	OK("trunc_len16", CLI, "82 7e 01", ""),
	OK("trunc_len64", CLI, "82 7f 00 00 00 00", ""),
	OK("trunc_mask", SRV, "81 85 37 fa", ""),
	OK("trunc_payload", CLI, "82 05 'abc'", "<B:abc"),
	OK("trunc_payload_masked", SRV, "81 85" K "'Hel'", "<T:Hel"),
	OK("trunc_ping", CLI, "89 05 'abc'", ""),
	OK("trunc_close", SRV, "88 85" K "03 e8", ""),
	OK("trunc_fragmented", CLI, "01 02 'ab'", "<T:ab"),
	OK("trunc_utf8_mid_frame", CLI, "81 03 e2 82", "<T:\\xe2\\x82"),
	OK("empty_input", CLI, "", ""),

	/* Reserved bits. */
	BAD("rsv1", CLI, "c1 01 'a'", 1002, ""),
	BAD("rsv2", CLI, "a1 01 'a'", 1002, ""),
	BAD("rsv3", CLI, "91 01 'a'", 1002, ""),
	BAD("rsv1_ping", SRV, "c9 80" K, 1002, ""),
	BAD("rsv_after_message", CLI, "82 01 'a' f2 00", 1002, "<B:a>"),

	/* Unknown opcodes. */
	BAD("opcode_3", CLI, "83 00", 1002, ""),
	BAD("opcode_4", CLI, "84 00", 1002, ""),
	BAD("opcode_5", CLI, "85 00", 1002, ""),
	BAD("opcode_6", CLI, "86 00", 1002, ""),
	BAD("opcode_7", SRV, "87 80" K, 1002, ""),
	BAD("opcode_b", CLI, "8b 00", 1002, ""),
	BAD("opcode_c", CLI, "8c 00", 1002, ""),
	BAD("opcode_d", CLI, "8d 00", 1002, ""),
	BAD("opcode_e", CLI, "8e 00", 1002, ""),
	BAD("opcode_f", SRV, "8f 80" K, 1002, ""),

	/* Control frames: never fragmented, never over 125 bytes. */
	BAD("ping_nofin", CLI, "09 00", 1002, ""),
	BAD("pong_nofin", CLI, "0a 01 'a'", 1002, ""),
	BAD("close_nofin", SRV, "08 82" K "03 e8", 1002, ""),
	BAD("ping_126", CLI, "89 7e 00 7e *126:61", 1002, ""),
	BAD("pong_len64_126", CLI, "8a 7f 00 00 00 00 00 00 00 7e *126:61",
	    1002, ""),
	BAD("close_126", SRV, "88 fe 00 7e" K "03 e8 *124:61", 1002, ""),
	BAD("ping_65535", CLI, "89 7e ff ff", 1002, ""),

	/* Message sequencing. */
	BAD("cont_first", CLI, "80 01 'a'", 1002, ""),
	BAD("cont_empty_first", CLI, "00 00", 1002, ""),
	BAD("cont_after_message", CLI, "81 01 'a' 80 01 'b'", 1002, "<T:a>"),
	BAD("text_in_text", CLI, "01 01 'a' 81 01 'b'", 1002, "<T:a"),
	BAD("binary_in_binary", SRV, "02 81" K "'a' | 82 81" K "'b'", 1002,
	    "<B:a"),
	BAD("text_in_binary_after_ping", CLI, "02 01 'a' 89 00 01 01 'b'",
	    1002, "<B:a{P:}"),
	BAD("binary_in_empty_text", CLI, "01 00 02 00", 1002, "<T:"),

	/* Masking per role. */
	BAD("server_unmasked", SRV, "81 01 'a'", 1002, ""),
	BAD("server_unmasked_ping", SRV, "89 00", 1002, ""),
	BAD("server_unmasked_cont", SRV, "01 81" K "'a' | 80 01 'b'", 1002,
	    "<T:a"),
	BAD("client_masked", CLI, "81 81" K "'a'", 1002, ""),
	BAD("client_masked_close", CLI, "88 80" K, 1002, ""),

	/* Lengths. */
	BAD("len64_msb", CLI, "82 7f 80 00 00 00 00 00 00 01 'a'", 1002, ""),
	BAD("len64_all_ones", SRV, "82 ff ff ff ff ff ff ff ff ff" K, 1002,
	    ""),

	/* CLOSE payloads. */
	BAD("close_1byte", CLI, "88 01 03", 1002, ""),
	BAD("close_1byte_masked", SRV, "88 81" K "03", 1002, ""),
	BAD("close_code_0", CLI, "88 02 00 00", 1002, ""),
	BAD("close_code_999", CLI, "88 02 03 e7", 1002, ""),
	BAD("close_code_1004", CLI, "88 02 03 ec", 1002, ""),
	BAD("close_code_1005", CLI, "88 02 03 ed", 1002, ""),
	BAD("close_code_1006", SRV, "88 82" K "03 ee", 1002, ""),
	BAD("close_code_1015", CLI, "88 02 03 f7", 1002, ""),
	BAD("close_code_1016", CLI, "88 02 03 f8", 1002, ""),
	BAD("close_code_2999", CLI, "88 02 0b b7", 1002, ""),
	BAD("close_code_5000", CLI, "88 02 13 88", 1002, ""),
	BAD("close_code_65535", CLI, "88 05 ff ff 'bye'", 1002, ""),
	BAD("close_reason_bad_utf8", CLI, "88 03 03 e8 ff", 1007, ""),
	BAD("close_reason_cut_utf8", SRV, "88 84" K "03 e8 e2 82", 1007, ""),

	/* Invalid UTF-8 in TEXT. */
	BAD("utf8_lone_cont", CLI, "81 01 80", 1007, ""),
	BAD("utf8_overlong2", CLI, "81 02 c0 af", 1007, ""),
	BAD("utf8_overlong2_c1", CLI, "81 02 c1 bf", 1007, ""),
	BAD("utf8_overlong3", CLI, "81 03 e0 80 af", 1007, ""),
	BAD("utf8_overlong4", CLI, "81 04 f0 80 80 af", 1007, ""),
	BAD("utf8_surrogate", CLI, "81 03 ed a0 80", 1007, ""),
	BAD("utf8_too_high", CLI, "81 04 f4 90 80 80", 1007, ""),
	BAD("utf8_f5", CLI, "81 04 f5 80 80 80", 1007, ""),
	BAD("utf8_ff", CLI, "81 01 ff", 1007, ""),
	BAD("utf8_short_seq", CLI, "81 02 c3 41", 1007, ""),
	BAD("utf8_cut_at_end", CLI, "81 02 'a' e2", 1007, ""),
	BAD("utf8_cut_at_msg_end", CLI, "01 01 e2 80 01 82", 1007,
	    "<T:\\xe2"),
	BAD("utf8_cut_by_empty_fin", CLI, "01 01 e2 80 00", 1007, "<T:\\xe2"),
	BAD("utf8_after_valid", SRV, "81 86" K "'abcd' ff 'e'", 1007, ""),
	BAD("utf8_in_second_fragment", CLI, "01 01 'a' 89 00 80 01 c0", 1007,
	    "<T:a{P:}"),

	/* Ceilings: refused from the header, before the payload. */
	BIGL("frame_over", CLI, 4, BIG, "82 05 'abcde'", ""),
	BIGL("frame_over_no_payload", SRV, 4, BIG, "82 85" K, ""),
	BIGL("frame_over_len16", CLI, 256, BIG, "82 7e 01 2c", ""),
	BIGL("frame_over_len64", CLI, BIG, BIG,
	    "82 7f 00 00 01 00 00 00 00 00", ""),
	BIGL("frame_over_ping", CLI, 4, BIG, "89 05 'hello'", ""),
	BIGL("msg_over", CLI, BIG, 5, "01 03 'abc' 80 03 'def'", "<T:abc"),
	BIGL("msg_over_first", CLI, BIG, 5, "82 06", ""),
	BIGL("msg_over_third", SRV, 2, 5, "02 82" K "'ab' | 00 82" K "'cd' |"
	    "80 82" K "'ef'", "<B:abcd"),
};

struct tx {
	char		*s;
	size_t		 len, cap;
	bool		 in_msg;
	int		 msg_op;
	int		 ret;
	uint16_t	 close_code;
};

/* ck_assert() records every passing check too: too slow per byte. */
#define CHECK(e)	do {						\
	if (!(e))							\
		ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #e);	\
} while (0)

static size_t	build(const char *, uint8_t **);
static int	hexval(int);
static void	tx_putc(struct tx *, char);
static void	tx_puts(struct tx *, const char *);
static void	tx_bytes(struct tx *, const uint8_t *, size_t);
static void	tx_event(struct tx *, const struct wsframe_ev *);
static char	*squeeze(const char *);
static void	feed(struct wsframe_dec *, struct tx *, const uint8_t *,
		    size_t);
static char	*run_pieces(const struct dcase *, const uint8_t *, size_t,
		    const size_t *, size_t, struct tx *);
static void	roundtrip(enum wsframe_role, bool, const uint8_t *, size_t, size_t,
		    size_t);
static Suite	*wsframe_suite(void);

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	ck_abort_msg("bad hex digit '%c'", c);
	return 0;
}

/* Turn the notation above into bytes; returns the count, *out malloc'd. */
static size_t
build(const char *s, uint8_t **out)
{
	uint8_t	*b, key[4];
	size_t	 n = 0, cap = 64, count, i, moff = 0;
	bool	 masking = false;
	int	 c;

	b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	while (*s != '\0') {
		count = 1;
		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (*s == '|') {
			masking = false;
			s++;
			continue;
		}
		if (*s == 'm') {
			for (i = 0; i < 4; i++)
				key[i] = hexval(s[1 + 2 * i]) << 4 |
				    hexval(s[2 + 2 * i]);
			s += 9;
			if (n + 4 > cap)
				b = realloc(b, cap = 2 * cap + 4);
			ck_assert_ptr_nonnull(b);
			memcpy(b + n, key, 4);
			n += 4;
			masking = true;
			moff = 0;
			continue;
		}
		if (*s == '\'') {
			for (s++; *s != '\'' && *s != '\0'; s++) {
				if (n + 1 > cap)
					b = realloc(b, cap *= 2);
				ck_assert_ptr_nonnull(b);
				c = (uint8_t)*s;
				b[n++] = masking ? c ^ key[moff++ & 3] : c;
			}
			ck_assert_int_eq(*s, '\'');
			s++;
			continue;
		}
		if (*s == '*') {
			for (count = 0, s++; isdigit((unsigned char)*s); s++)
				count = count * 10 + (*s - '0');
			ck_assert_int_eq(*s, ':');
			s++;
		}
		c = hexval(s[0]) << 4 | hexval(s[1]);
		s += 2;
		if (n + count > cap)
			b = realloc(b, cap = 2 * cap + count);
		ck_assert_ptr_nonnull(b);
		for (i = 0; i < count; i++)
			b[n++] = masking ? c ^ key[moff++ & 3] : c;
	}
	*out = b;
	return n;
}

static void
tx_putc(struct tx *t, char c)
{
	if (t->len + 2 > t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->s = realloc(t->s, t->cap);
		CHECK(t->s != NULL);
	}
	t->s[t->len++] = c;
	t->s[t->len] = '\0';
}

static void
tx_puts(struct tx *t, const char *s)
{
	while (*s != '\0')
		tx_putc(t, *s++);
}

static void
tx_bytes(struct tx *t, const uint8_t *p, size_t n)
{
	size_t	i;
	int	w;

	if (t->len + 4 * n + 1 > t->cap) {
		while (t->len + 4 * n + 1 > t->cap)
			t->cap *= 2;
		t->s = realloc(t->s, t->cap);
		CHECK(t->s != NULL);
	}
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e || strchr("\\<>{}[]", p[i])) {
			w = snprintf(t->s + t->len, 5, "\\x%02x", p[i]);
			CHECK(w == 4);
			t->len += 4;
		} else
			t->s[t->len++] = (char)p[i];
	}
	t->s[t->len] = '\0';
}

/* Check one event's flags against the message state and log it. */
static void
tx_event(struct tx *t, const struct wsframe_ev *ev)
{
	char	x[16];

	switch (ev->opcode) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		CHECK(ev->close_code == 0);
		if (ev->msg_start) {
			CHECK(!t->in_msg);
			t->in_msg = true;
			t->msg_op = ev->opcode;
			tx_puts(t, ev->opcode == WS_OP_TEXT ? "<T:" : "<B:");
		} else {
			CHECK(t->in_msg);
			CHECK(ev->opcode == t->msg_op);
		}
		if (ev->len == 0)
			CHECK(ev->msg_start || ev->msg_end);
		tx_bytes(t, ev->data, ev->len);
		if (ev->msg_end) {
			tx_putc(t, '>');
			t->in_msg = false;
		}
		break;
	case WS_OP_PING:
	case WS_OP_PONG:
	case WS_OP_CLOSE:
		CHECK(ev->msg_start && ev->msg_end);
		CHECK(ev->len <= WS_MAX_CONTROL);
		if (ev->opcode == WS_OP_CLOSE) {
			CHECK(ev->close_code != 0);
			snprintf(x, sizeof(x), "{C%u:", ev->close_code);
			tx_puts(t, x);
		} else {
			CHECK(ev->close_code == 0);
			tx_puts(t, ev->opcode == WS_OP_PING ? "{P:" : "{O:");
		}
		tx_bytes(t, ev->data, ev->len);
		tx_putc(t, '}');
		break;
	default:
		ck_abort_msg("event with opcode %d", ev->opcode);
	}
}

/* Write runs of 16 or more equal characters as [c*N]. */
static char *
squeeze(const char *s)
{
	char	*out, *o, tmp[32];
	size_t	 run;
	int	 w;

	out = o = malloc(strlen(s) + 1);
	CHECK(out != NULL);
	while (*s != '\0') {
		for (run = 1; s[run] == s[0]; run++)
			;
		if (run >= 16) {
			w = snprintf(tmp, sizeof(tmp), "[%c*%zu]", s[0], run);
			CHECK(w > 0 && (size_t)w < sizeof(tmp) &&
			    (size_t)w <= run);
			memcpy(o, tmp, w);
			o += w;
		} else {
			memcpy(o, s, run);
			o += run;
		}
		s += run;
	}
	*o = '\0';
	return out;
}

/* Feed one piece, in an exactly sized buffer, until it is used up. */
static void
feed(struct wsframe_dec *d, struct tx *t, const uint8_t *src, size_t n)
{
	struct wsframe_ev	 ev;
	uint8_t			*buf, *p;
	size_t			 used;
	int			 r;

	buf = malloc(n > 0 ? n : 1);
	CHECK(buf != NULL);
	if (n > 0)
		memcpy(buf, src, n);
	p = buf;
	while (t->ret == 0) {
		used = (size_t)-1;
		r = wsframe_decode(d, p, n, &used, &ev);
		CHECK(used <= n);
		if (r < 0) {
			CHECK(r == TUN_EPROTO || r == TUN_ETOOBIG);
			t->ret = r;
			t->close_code = d->close_code;
			break;
		}
		if (r == 0) {
			CHECK(used == n);
			break;
		}
		CHECK(r == 1);
		CHECK(used > 0);
		if ((ev.opcode == WS_OP_TEXT || ev.opcode == WS_OP_BINARY) &&
		    ev.len > 0)
			CHECK(ev.data >= p && ev.data + ev.len <= p + used);
		tx_event(t, &ev);
		p += used;
		n -= used;
	}
	free(buf);
}

/* Decode in pieces cut at cuts[]; returns the squeezed transcript. */
static char *
run_pieces(const struct dcase *c, const uint8_t *in, size_t n,
    const size_t *cuts, size_t ncuts, struct tx *t)
{
	struct wsframe_dec	 d;
	size_t			 i, from = 0, to;
	char			*s;

	memset(t, 0, sizeof(*t));
	t->cap = 256;
	t->s = malloc(t->cap);
	ck_assert_ptr_nonnull(t->s);
	t->s[0] = '\0';
	wsframe_dec_init(&d, c->role, c->max_frame, c->max_msg);
	for (i = 0; i <= ncuts && t->ret == 0; i++) {
		to = i < ncuts ? cuts[i] : n;
		feed(&d, t, in + from, to - from);
		from = to;
	}
	if (t->ret != 0) {
		struct wsframe_ev	ev;
		size_t			used = 99;
		uint8_t			more[2] = { 0x82, 0x00 };

		/* A dead decoder stays dead. */
		ck_assert_int_eq(wsframe_decode(&d, more, 2, &used, &ev),
		    t->ret);
		ck_assert_uint_eq(used, 0);
	}
	s = squeeze(t->s);
	free(t->s);
	return s;
}

START_TEST(test_decode)
{
	const struct dcase	*c = &dcases[_i];
	struct tx		 t;
	uint8_t			*in;
	size_t			 n, k, *cuts;
	char			*got;

	n = build(c->in, &in);

	/* Whole. */
	got = run_pieces(c, in, n, NULL, 0, &t);
	ck_assert_msg(strcmp(got, c->want) == 0, "%s: got \"%s\" want \"%s\"",
	    c->name, got, c->want);
	ck_assert_msg(t.ret == c->ret, "%s: ret %d want %d", c->name, t.ret,
	    c->ret);
	if (c->ret != 0)
		ck_assert_uint_eq(t.close_code, c->close_code);
	free(got);

	/*
	 * Split at every byte (big inputs: near both ends and every 4093rd),
	 * then in 1-byte pieces.  After an error, earlier pieces may have
	 * delivered more of the bad frame's payload: the whole-input
	 * transcript is then a prefix.
	 */
	cuts = malloc((n > 0 ? n : 1) * sizeof(*cuts));
	ck_assert_ptr_nonnull(cuts);
	for (k = 1; k <= n; k++) {
		if (k < n) {
			if (n > 4096 && k > 64 && n - k > 64 && k % 4093 != 0)
				continue;
			got = run_pieces(c, in, n, &k, 1, &t);
		} else {
			for (k = 0; k + 1 < n; k++)
				cuts[k] = k + 1;
			got = run_pieces(c, in, n, cuts, n - 1, &t);
			k = n;
		}
		ck_assert_msg(t.ret == c->ret, "%s split %zu: ret %d want %d",
		    c->name, k, t.ret, c->ret);
		if (c->ret == 0)
			ck_assert_msg(strcmp(got, c->want) == 0,
			    "%s split %zu: got \"%s\" want \"%s\"", c->name, k,
			    got, c->want);
		else {
			ck_assert_uint_eq(t.close_code, c->close_code);
			ck_assert_msg(strncmp(got, c->want,
			    strlen(c->want)) == 0,
			    "%s split %zu: got \"%s\" want prefix \"%s\"",
			    c->name, k, got, c->want);
		}
		free(got);
	}
	free(cuts);
	free(in);
}
END_TEST

START_TEST(test_decode_edges)
{
	struct wsframe_dec	d;
	struct wsframe_ev	ev;
	uint8_t			b[16] = { 0x82, 0x03, 'a', 'b', 'c', 0x81 };
	size_t			used = 99;

	/* Nothing in, nothing out. */
	wsframe_dec_init(&d, WSFRAME_CLIENT, 10, 10);
	ck_assert_int_eq(wsframe_decode(&d, b, 0, &used, &ev), 0);
	ck_assert_uint_eq(used, 0);

	/* One event per call, *used stops after it. */
	ck_assert_int_eq(wsframe_decode(&d, b, 6, &used, &ev), 1);
	ck_assert_uint_eq(used, 5);
	ck_assert_ptr_eq(ev.data, b + 2);
	ck_assert_uint_eq(ev.len, 3);
	ck_assert(ev.msg_start && ev.msg_end);
	ck_assert_int_eq(ev.opcode, WS_OP_BINARY);
	ck_assert_int_eq(wsframe_decode(&d, b + 5, 1, &used, &ev), 0);
	ck_assert_uint_eq(used, 1);

	/* Payload is unmasked in place, chunk by chunk. */
	wsframe_dec_init(&d, WSFRAME_SERVER, 10, 10);
	memcpy(b, "\x82\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
	ck_assert_int_eq(wsframe_decode(&d, b, 8, &used, &ev), 1);
	ck_assert_uint_eq(used, 8);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert(ev.msg_start && !ev.msg_end);
	ck_assert_mem_eq(b + 6, "He", 2);
	ck_assert_int_eq(wsframe_decode(&d, b + 8, 3, &used, &ev), 1);
	ck_assert_uint_eq(used, 3);
	ck_assert(!ev.msg_start && ev.msg_end);
	ck_assert_mem_eq(ev.data, "llo", 3);
	ck_assert_ptr_eq(ev.data, b + 8);

	/* The error leaves the close code. */
	wsframe_dec_init(&d, WSFRAME_SERVER, 10, 10);
	b[0] = 0x81;
	b[1] = 0x01;
	ck_assert_int_eq(wsframe_decode(&d, b, 3, &used, &ev), TUN_EPROTO);
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(d.close_code, WS_CLOSE_PROTOCOL);
}
END_TEST

struct hcase {
	int		 opcode;
	bool		 fin;
	uint64_t	 len;
	const char	*mask;
	const char	*want;
};

static const struct hcase hcases[] = {
	{ WS_OP_TEXT, true, 0, NULL, "81 00" },
	{ WS_OP_BINARY, false, 125, NULL, "02 7d" },
	{ WS_OP_PING, true, 126, NULL, "89 7e 00 7e" },
	{ WS_OP_BINARY, true, 65535, NULL, "82 7e ff ff" },
	{ WS_OP_BINARY, true, 65536, NULL, "82 7f 00 00 00 00 00 01 00 00" },
	{ WS_OP_CONT, true, 0x100000005ULL, NULL,
	  "80 7f 00 00 00 01 00 00 00 05" },
	{ WS_OP_CONT, false, 0x7fffffffffffffffULL, NULL,
	  "00 7f 7f ff ff ff ff ff ff ff" },
	{ WS_OP_TEXT, true, 5, "\x37\xfa\x21\x3d", "81 85 37 fa 21 3d" },
	{ WS_OP_BINARY, true, 300, "\x01\x02\x03\x04",
	  "82 fe 01 2c 01 02 03 04" },
	{ WS_OP_CLOSE, true, 70000, "\xaa\xbb\xcc\xdd",
	  "88 ff 00 00 00 00 00 01 11 70 aa bb cc dd" },
	{ WS_OP_PONG, true, 0, "\0\0\0\0", "8a 80 00 00 00 00" },
};

START_TEST(test_header)
{
	const struct hcase	*c = &hcases[_i];
	uint8_t			 out[WS_MAX_HEADER + 1], *want;
	size_t			 n, wn;

	memset(out, 0xee, sizeof(out));
	wn = build(c->want, &want);
	n = wsframe_header(out, c->opcode, c->fin, c->len,
	    (const uint8_t *)c->mask);
	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(out, want, wn);
	ck_assert_uint_eq(out[WS_MAX_HEADER], 0xee);
	free(want);
}
END_TEST

START_TEST(test_mask)
{
	const uint8_t	key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t		hello[5] = "Hello", orig[300], a[301], ref[300];
	size_t		len, off, cut, i;

	wsframe_mask(hello, 5, key, 0);
	CHECK(memcmp(hello, "\x7f\x9f\x4d\x51\x58", 5) == 0);
	wsframe_mask(hello, 5, key, 0);
	CHECK(memcmp(hello, "Hello", 5) == 0);

	for (i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)(i * 37 + 11);
	for (len = 0; len <= sizeof(orig); len++) {
		for (off = 0; off < 8; off++) {
			for (i = 0; i < len; i++)
				ref[i] = orig[i] ^ key[(off + i) & 3];
			/* Whole, from an odd address. */
			memcpy(a + 1, orig, len);
			wsframe_mask(a + 1, len, key, off);
			CHECK(memcmp(a + 1, ref, len) == 0);
			/* Copied, to an odd address, the source untouched. */
			memset(a, 0xee, sizeof(a));
			wsframe_mask_copy(a + 1, orig, len, key, off);
			CHECK(memcmp(a + 1, ref, len) == 0);
			CHECK(a[0] == 0xee && (len == sizeof(orig) ||
			    a[len + 1] == 0xee));
			CHECK(orig[len > 0 ? len - 1 : 0] ==
			    (uint8_t)((len > 0 ? len - 1 : 0) * 37 + 11));
			/* In two pieces carrying the offset. */
			for (cut = 0; cut <= len; cut += 1 + len / 8) {
				memcpy(a, orig, len);
				wsframe_mask(a, cut, key, off);
				wsframe_mask(a + cut, len - cut, key,
				    off + cut);
				CHECK(memcmp(a, ref, len) == 0);
			}
		}
	}
	/* A large offset only matters modulo 4. */
	memcpy(a, orig, 20);
	wsframe_mask(a, 20, key, 0x100000003ULL);
	for (i = 0; i < 20; i++)
		CHECK(a[i] == (orig[i] ^ key[(3 + i) & 3]));
}
END_TEST

/*
 * Encode a message as frames of `fsize` with a ping after the first.  With
 * keep, the decoder leaves BINARY payload masked and the pieces are
 * unmasked here with the key and offset it gives.
 */
static void
roundtrip(enum wsframe_role role, bool keep, const uint8_t *msg, size_t len,
    size_t fsize, size_t chunk)
{
	struct wsframe_dec	 d;
	struct wsframe_ev	 ev;
	uint8_t			*wire, *got, *p, key[4];
	size_t			 wn = 0, gn = 0, off, n, used, piece, nframes = 0;
	int			 r, events = 0, pings = 0;
	bool			 fin, started = false, ended = false;

	wire = malloc(len + (len / fsize + 2) * (WS_MAX_HEADER + 8));
	got = malloc(len + 1);
	CHECK(wire != NULL && got != NULL);
	off = 0;
	do {
		n = len - off < fsize ? len - off : fsize;
		fin = off + n == len;
		key[0] = (uint8_t)nframes;
		key[1] = 0x5a;
		key[2] = (uint8_t)(off >> 3);
		key[3] = 0xc3;
		wn += wsframe_header(wire + wn, off == 0 ? WS_OP_BINARY :
		    WS_OP_CONT, fin, n, role == WSFRAME_SERVER ? key : NULL);
		memcpy(wire + wn, msg + off, n);
		if (role == WSFRAME_SERVER) {
			/* Mask in two pieces, as a sender with a short buffer. */
			wsframe_mask(wire + wn, n / 3, key, 0);
			wsframe_mask(wire + wn + n / 3, n - n / 3, key, n / 3);
		}
		wn += n;
		off += n;
		if (nframes++ == 0 && !fin) {
			wn += wsframe_header(wire + wn, WS_OP_PING, true, 2,
			    role == WSFRAME_SERVER ? key : NULL);
			memcpy(wire + wn, "pi", 2);
			if (role == WSFRAME_SERVER)
				wsframe_mask(wire + wn, 2, key, 0);
			wn += 2;
		}
	} while (off < len);

	wsframe_dec_init(&d, role, fsize, len);
	d.keep_mask = keep;
	for (off = 0; off < wn; ) {
		piece = wn - off < chunk ? wn - off : chunk;
		p = wire + off;
		r = wsframe_decode(&d, p, piece, &used, &ev);
		CHECK(r >= 0);
		CHECK(used <= piece);
		off += used;
		if (r == 0)
			continue;
		events++;
		if (ev.opcode == WS_OP_PING) {
			CHECK(ev.len == 2);
			CHECK(memcmp(ev.data, "pi", 2) == 0);
			CHECK(ev.mask == NULL);
			pings++;
			continue;
		}
		CHECK(ev.opcode == WS_OP_BINARY);
		CHECK(ev.msg_start == !started);
		CHECK(!ended);
		started = true;
		ended = ev.msg_end;
		CHECK(gn + ev.len <= len);
		if (keep && role == WSFRAME_SERVER && ev.len > 0) {
			CHECK(ev.mask != NULL);
			CHECK(ev.mask_off < fsize);
			/* Still as it came: the wire's bytes. */
			CHECK(ev.data >= wire && ev.data < wire + wn);
			wsframe_mask_copy(got + gn, ev.data, ev.len, ev.mask,
			    ev.mask_off);
		} else {
			CHECK(ev.mask == NULL);
			memcpy(got + gn, ev.data, ev.len);
		}
		gn += ev.len;
	}
	CHECK(started && ended);
	CHECK(pings == (len > fsize ? 1 : 0));
	CHECK(events > 0);
	CHECK(gn == len);
	CHECK(memcmp(got, msg, len) == 0);
	free(wire);
	free(got);
}

START_TEST(test_roundtrip)
{
	static const size_t	 sizes[] = { 0, 1, 7, 8, 9, 125, 126, 127,
				    1000, 65535, 65536, 70001 };
	static const size_t	 chunks[] = { 1, 3, 4096, (size_t)-1 };
	uint8_t			*msg;
	size_t			 s, c, i, len;
	int			 k;

	msg = malloc(70001);
	ck_assert_ptr_nonnull(msg);
	for (i = 0; i < 70001; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		len = sizes[s];
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			if (chunks[c] < 4 && len > 2000)
				continue;
			for (k = 0; k < 2; k++) {
				roundtrip(WSFRAME_SERVER, k, msg, len, len + 1,
				    chunks[c]);
				roundtrip(WSFRAME_CLIENT, k, msg, len, len + 1,
				    chunks[c]);
				roundtrip(WSFRAME_SERVER, k, msg, len, 100,
				    chunks[c]);
				roundtrip(WSFRAME_CLIENT, k, msg, len, 65536,
				    chunks[c]);
			}
		}
	}
	free(msg);
}
END_TEST

/* keep_mask leaves only BINARY payload masked: TEXT and controls are read. */
START_TEST(test_keep_mask_kinds)
{
	struct wsframe_dec	 d;
	struct wsframe_ev	 ev;
	uint8_t			*wire, *p;
	size_t			 n, used;

	/* TEXT "hi" (8 bytes), PONG "abc" (9), BINARY "12345" (11). */
	n = build("81 82" K "'hi' | 8a 83" K2 "'abc' | 82 85" K "'12345'",
	    &wire);
	ck_assert_uint_eq(n, 28);
	wsframe_dec_init(&d, WSFRAME_SERVER, 100, 100);
	d.keep_mask = true;
	ck_assert_int_eq(wsframe_decode(&d, wire, n, &used, &ev), 1);
	ck_assert_int_eq(ev.opcode, WS_OP_TEXT);
	ck_assert_ptr_null(ev.mask);
	ck_assert_mem_eq(ev.data, "hi", 2);
	p = wire + used;
	ck_assert_int_eq(wsframe_decode(&d, p, 9, &used, &ev), 1);
	ck_assert_int_eq(ev.opcode, WS_OP_PONG);
	ck_assert_ptr_null(ev.mask);
	ck_assert_mem_eq(ev.data, "abc", 3);

	/* BINARY in two reads: the second piece says where it starts. */
	p += used;
	ck_assert_int_eq(wsframe_decode(&d, p, 8, &used, &ev), 1);
	ck_assert_ptr_nonnull(ev.mask);
	ck_assert_uint_eq(ev.mask_off, 0);
	ck_assert_uint_eq(ev.len, 2);
	ck_assert_mem_ne(ev.data, "12", 2);	/* as it came */
	p += used;
	ck_assert_int_eq(wsframe_decode(&d, p, 3, &used, &ev), 1);
	ck_assert_uint_eq(ev.mask_off, 2);
	ck_assert_uint_eq(ev.len, 3);
	wsframe_mask(p, 3, ev.mask, ev.mask_off);
	ck_assert_mem_eq(p, "345", 3);
	ck_assert(ev.msg_end);
	free(wire);
}
END_TEST

struct ccase {
	uint16_t	 code;
	const char	*reason;	/* NULL, or a spec for build() */
	size_t		 want_len;
	uint16_t	 want_code;	/* decoded */
	size_t		 want_reason;	/* bytes of reason kept */
};

static const struct ccase ccases[] = {
	{ 1000, "'bye'", 5, 1000, 3 },
	{ 1001, NULL, 2, 1001, 0 },
	{ 1011, "", 2, 1011, 0 },
	{ WS_CLOSE_NO_STATUS, "'ignored'", 0, WS_CLOSE_NO_STATUS, 0 },
	{ 4000, "*200:78", 125, 4000, 123 },
	{ 1000, "*123:78", 125, 1000, 123 },
	{ 1000, "*122:61 c3 a9", 124, 1000, 122 },
	{ 1000, "*121:61 c3 a9", 125, 1000, 123 },
	{ 1000, "*121:61 e2 82 ac", 123, 1000, 121 },
	{ 1000, "*120:61 e2 82 ac", 125, 1000, 123 },
	{ 1000, "*119:61 f0 9f 98 80 'z'", 125, 1000, 123 },
	{ 1000, "*120:61 f0 9f 98 80", 122, 1000, 120 },
};

START_TEST(test_close_payload)
{
	const struct ccase	*c = &ccases[_i];
	struct wsframe_dec	 d;
	struct wsframe_ev	 ev;
	uint8_t			 out[WS_MAX_CONTROL + 1], frame[2 + 125];
	uint8_t			*rb = NULL;
	char			*reason = NULL;
	size_t			 n, rn = 0, used;

	if (c->reason != NULL) {
		rn = build(c->reason, &rb);
		reason = calloc(1, rn + 1);
		ck_assert_ptr_nonnull(reason);
		memcpy(reason, rb, rn);
	}
	memset(out, 0xee, sizeof(out));
	n = wsframe_close_payload(out, c->code, reason);
	ck_assert_uint_eq(n, c->want_len);
	ck_assert_uint_eq(out[WS_MAX_CONTROL], 0xee);
	if (n > 0) {
		ck_assert_uint_eq(out[0], c->code >> 8);
		ck_assert_uint_eq(out[1], c->code & 0xff);
		if (n > 2)
			ck_assert_mem_eq(out + 2, rb, n - 2);
	}

	/* And it decodes back. */
	wsframe_dec_init(&d, WSFRAME_CLIENT, 1000, 1000);
	wsframe_header(frame, WS_OP_CLOSE, true, n, NULL);
	memcpy(frame + 2, out, n);
	ck_assert_int_eq(wsframe_decode(&d, frame, 2 + n, &used, &ev), 1);
	ck_assert_uint_eq(used, 2 + n);
	ck_assert_int_eq(ev.opcode, WS_OP_CLOSE);
	ck_assert_uint_eq(ev.close_code, c->want_code);
	ck_assert_uint_eq(ev.len, c->want_reason);
	if (ev.len > 0)
		ck_assert_mem_eq(ev.data, rb, ev.len);
	free(reason);
	free(rb);
}
END_TEST

START_TEST(test_accept_key)
{
	char	out[29];

	ck_assert_int_eq(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(wsframe_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	ck_assert_int_eq(wsframe_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(wsframe_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out,
	    28), TUN_EINVAL);
	ck_assert_int_eq(wsframe_accept_key(NULL, out, sizeof(out)),
	    TUN_EINVAL);
}
END_TEST

/* Fresh client keys: valid by the server's own test, and all different. */
START_TEST(test_client_key)
{
	char	keys[64][25], out[29];
	size_t	i, j;

	for (i = 0; i < 64; i++) {
		ck_assert_int_eq(wsframe_client_key(keys[i], sizeof(keys[i])),
		    0);
		ck_assert(wsframe_valid_key(keys[i]));
		ck_assert_int_eq(wsframe_accept_key(keys[i], out, sizeof(out)),
		    0);
		ck_assert_uint_eq(strlen(out), 28);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(keys[i], keys[j]);
	}
	ck_assert_int_eq(wsframe_client_key(out, 24), TUN_EINVAL);
}
END_TEST

struct kcase {
	const char	*key;
	bool		 valid;
};

static const struct kcase kcases[] = {
	{ "dGhlIHNhbXBsZSBub25jZQ==", true },
	{ "x3JJHMbDL1EzLkh9GBhXDw==", true },
	{ "AAAAAAAAAAAAAAAAAAAAAA==", true },
	{ "++++////0000zzzzZZZZ9w==", true },
	{ "dGhlIHNhbXBsZSBub25jZQ=", false },
	{ "dGhlIHNhbXBsZSBub25jZQ===", false },
	{ "dGhlIHNhbXBsZSBub25jZQ", false },
	{ "dGhlIHNhbXBsZSBub25jZQ== ", false },
	{ " dGhlIHNhbXBsZSBub25jZQ=", false },
	{ "dGhlIHNhbXBsZSBub25jZQAA", false },
	{ "dGhlIHNhbXBsZSBub25jZ===", false },
	{ "dGhlIHNhbXBsZSBub25j-Q==", false },
	{ "dGhlIHNhbXBsZSBub25j_Q==", false },
	{ "dGhlIHNhbXBs=SBub25jZQ==", false },
	{ "", false },
	{ NULL, false },
};

START_TEST(test_valid_key)
{
	ck_assert_msg(wsframe_valid_key(kcases[_i].key) == kcases[_i].valid,
	    "key \"%s\"", kcases[_i].key ? kcases[_i].key : "(null)");
}
END_TEST

#define NELEM(a)	(int)(sizeof(a) / sizeof((a)[0]))

static Suite *
wsframe_suite(void)
{
	Suite	*s = suite_create("wsframe");
	TCase	*tc;

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_decode, 0, NELEM(dcases));
	tcase_add_test(tc, test_decode_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_header, 0, NELEM(hcases));
	tcase_add_test(tc, test_mask);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_keep_mask_kinds);
	tcase_add_loop_test(tc, test_close_payload, 0, NELEM(ccases));
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_accept_key);
	tcase_add_test(tc, test_client_key);
	tcase_add_loop_test(tc, test_valid_key, 0, NELEM(kcases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(wsframe_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
