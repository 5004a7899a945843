/*
 * Unit tests for client/wsout.c: messages made frames (as tunneld's
 * decoder reads them back), and frames written a piece at a time, as a
 * socket that takes less than it is given would take them.
 */
#include "config.h"

#include <sys/uio.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "proto.h"
#include "tunnel-client.h"
#include "tunerr.h"
#include "wsframe.h"

#define NMSG	7

/* Frame lengths about 125 and 65535 take the longer header forms. */
static const size_t	 sizes[NMSG] = { 1, 119, 120, 121, 1000, 16000,
			    PROTO_MAX_DATA };

static uint8_t	 body[PROTO_MAX_DATA];

static void
fill(void)
{
	size_t	i;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + (i >> 8));
}

/* The frame of m, as it goes on the wire. */
static const uint8_t *
wire(const struct omsg *m, size_t *len)
{
	*len = m->hl + m->len;
	return m->buf + LWS_PRE - m->hl;
}

/*
 * Decode n bytes of client frames as tunneld does (keep_mask: the payload
 * is unmasked as it is copied out); each message is appended to out.
 */
static int
decode(uint8_t *p, size_t n, uint8_t *out, size_t *outlen, int *nmsg)
{
	struct wsframe_dec	dec;
	struct wsframe_ev	ev;
	size_t			used;
	int			r;

	wsframe_dec_init(&dec, WSFRAME_SERVER, PROTO_MAX_MSG, PROTO_MAX_MSG);
	dec.keep_mask = true;
	*outlen = 0;
	*nmsg = 0;
	while (n > 0) {
		if ((r = wsframe_decode(&dec, p, n, &used, &ev)) < 0)
			return r;
		p += used;
		n -= used;
		if (r == 0)
			break;
		ck_assert_int_eq(ev.opcode, WS_OP_BINARY);
		ck_assert(ev.mask != NULL || ev.len == 0);
		if (ev.len > 0)
			wsframe_mask_copy(out + *outlen, ev.data, ev.len,
			    ev.mask, ev.mask_off);
		*outlen += ev.len;
		if (ev.msg_end)
			(*nmsg)++;
	}
	return 0;
}

/* m decodes to one message of len bytes, each of them c. */
static void
check_filled(const struct omsg *m, size_t len, int c)
{
	const uint8_t	*w;
	uint8_t		*copy, *out, *want;
	size_t		 n, got;
	int		 nmsg;

	w = wire(m, &n);
	copy = malloc(n);
	out = malloc(len);
	want = malloc(len);
	memcpy(copy, w, n);
	ck_assert_int_eq(decode(copy, n, out, &got, &nmsg), 0);
	ck_assert_int_eq(nmsg, 1);
	ck_assert_uint_eq(got, len);
	memset(want, c, len);
	ck_assert_mem_eq(out, want, len);
	free(want);
	free(out);
	free(copy);
}

START_TEST(test_data_frames)
{
	struct omsg	*m;
	struct proto_msg pm;
	const uint8_t	*w;
	uint8_t		*copy, *out;
	size_t		 i, n, got;
	int		 nmsg;

	fill();
	out = malloc(PROTO_MAX_MSG);
	for (i = 0; i < NMSG; i++) {
		m = ws_msg_data(77 + (uint32_t)i, body, sizes[i]);
		ck_assert_uint_eq(m->len, PROTO_HDR_LEN + sizes[i]);
		ck_assert(m->data);
		ck_assert_uint_ge(m->hl, 6);
		ck_assert_uint_le(m->hl, WS_MAX_HEADER);
		/* Masked: not the plain bytes on the wire. */
		ck_assert(sizes[i] < 4 || memcmp(m->buf + LWS_PRE +
		    PROTO_HDR_LEN, body, sizes[i]) != 0);
		w = wire(m, &n);
		copy = malloc(n);
		memcpy(copy, w, n);
		ck_assert_int_eq(decode(copy, n, out, &got, &nmsg), 0);
		ck_assert_int_eq(nmsg, 1);
		ck_assert_int_eq(proto_parse(out, got, &pm), 0);
		ck_assert_int_eq(pm.type, PROTO_DATA);
		ck_assert_uint_eq(pm.stream_id, 77 + i);
		ck_assert_uint_eq(pm.len, sizes[i]);
		ck_assert_mem_eq(pm.data, body, sizes[i]);
		proto_msg_clear(&pm);
		/* Sealing a frame again changes nothing. */
		w = wire(m, &n);
		ck_assert_uint_eq(n, PROTO_HDR_LEN + sizes[i] + m->hl);
		ws_msg_seal(m);
		ck_assert_ptr_eq(wire(m, &n), w);
		free(copy);
		free(m);
	}
	free(out);
}
END_TEST

START_TEST(test_seal)
{
	struct omsg	*m, *m2;
	uint8_t		*copy;
	const uint8_t	*w;
	size_t		 n;
	uint8_t		 key1[4], key2[4];

	m = ws_msg_new(130, false);
	ck_assert_uint_eq(m->hl, 0);
	memset(m->buf + LWS_PRE, 'x', 130);
	ws_msg_seal(m);
	ck_assert_uint_eq(m->hl, 8);		/* 2 + 2 (length) + 4 */
	w = wire(m, &n);
	ck_assert_uint_eq(n, 138);
	ck_assert_uint_eq(w[0], 0x82);		/* FIN, binary */
	ck_assert_uint_eq(w[1], 0x80 | 126);	/* masked, 16-bit length */
	memcpy(key1, w + 4, 4);
	w = wire(m, &n);
	copy = malloc(n);
	memcpy(copy, w, n);
	ws_msg_seal(m);				/* once only */
	ck_assert_mem_eq(wire(m, &n), copy, n);
	free(copy);
	check_filled(m, 130, 'x');

	/* A key per frame. */
	m2 = ws_msg_new(130, false);
	memset(m2->buf + LWS_PRE, 'x', 130);
	ws_msg_seal(m2);
	memcpy(key2, m2->buf + LWS_PRE - 4, 4);
	ck_assert(memcmp(key1, key2, 4) != 0);
	free(m);
	free(m2);

	/* 64-bit length. */
	m = ws_msg_new(70000, false);
	memset(m->buf + LWS_PRE, 'y', 70000);
	ws_msg_seal(m);
	ck_assert_uint_eq(m->hl, WS_MAX_HEADER);
	w = wire(m, &n);
	ck_assert_uint_eq(w[1], 0x80 | 127);
	check_filled(m, 70000, 'y');
	free(m);

	/* A control frame keeps its opcode; empty frames work. */
	m = ws_msg_new(0, false);
	m->opcode = WS_OP_PING;
	ws_msg_seal(m);
	w = wire(m, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_uint_eq(w[0], 0x80 | WS_OP_PING);
	ck_assert_uint_eq(w[1], 0x80);
	free(m);
}
END_TEST

/*
 * Frames written by a socket that takes step bytes at a time: the bytes
 * written are the frames, whole and in order, and every frame is freed
 * once written (ASan and valgrind see to that).
 */
static void
write_in_steps(size_t step)
{
	struct oqueue	 q = { NULL, NULL };
	struct iovec	 iov[4];
	struct omsg	*m;
	uint8_t		*want, *got, *out;
	size_t		 i, n, off = 0, wantlen = 0, gotlen = 0, take, k;
	int		 cnt, nmsg;
	const uint8_t	*w;

	fill();
	want = malloc(NMSG * (PROTO_MAX_DATA + 64));
	got = malloc(NMSG * (PROTO_MAX_DATA + 64));
	out = malloc(NMSG * (PROTO_MAX_DATA + 64));
	for (i = 0; i < NMSG; i++) {
		m = ws_msg_data(1 + 2 * (uint32_t)i, body, sizes[i]);
		w = wire(m, &n);
		memcpy(want + wantlen, w, n);
		wantlen += n;
		oqueue_push(&q, m);
	}
	while ((cnt = wsout_iov(&q, off, iov, 4)) > 0) {
		ck_assert_int_le(cnt, 4);
		/* The socket takes up to step bytes of the iovecs. */
		take = 0;
		for (k = 0; k < (size_t)cnt && take < step; k++) {
			n = iov[k].iov_len;
			if (n > step - take)
				n = step - take;
			memcpy(got + gotlen, iov[k].iov_base, n);
			gotlen += n;
			take += n;
		}
		wsout_consume(&q, &off, take);
	}
	ck_assert_ptr_null(q.head);
	ck_assert_ptr_null(q.tail);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(gotlen, wantlen);
	ck_assert_mem_eq(got, want, wantlen);
	ck_assert_int_eq(decode(got, gotlen, out, &n, &nmsg), 0);
	ck_assert_int_eq(nmsg, NMSG);
	free(want);
	free(got);
	free(out);
}

START_TEST(test_partial_writes)
{
	static const size_t steps[] = { 1, 3, 6, 7, 8, 13, 1000, 16390,
	    16400, 65536, 1 << 20 };
	size_t	i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		write_in_steps(steps[i]);
}
END_TEST

START_TEST(test_iov_and_free)
{
	struct oqueue	 q = { NULL, NULL };
	struct iovec	 iov[8];
	struct omsg	*m[3];
	size_t		 off = 0, i, n;

	ck_assert_int_eq(wsout_iov(&q, 0, iov, 8), 0);
	wsout_consume(&q, &off, 5);		/* nothing there: harmless */
	ck_assert_uint_eq(off, 0);
	for (i = 0; i < 3; i++) {
		m[i] = ws_msg_data(1, body, 10);
		oqueue_push(&q, m[i]);
	}
	ck_assert_int_eq(wsout_iov(&q, 0, iov, 2), 2);	/* at most max */
	ck_assert_int_eq(wsout_iov(&q, 0, iov, 8), 3);
	(void)wire(m[0], &n);
	ck_assert_uint_eq(iov[0].iov_len, n);
	/* Part of the first frame written: the rest of it comes first. */
	wsout_consume(&q, &off, 4);
	ck_assert_uint_eq(off, 4);
	ck_assert_int_eq(wsout_iov(&q, off, iov, 8), 3);
	ck_assert_uint_eq(iov[0].iov_len, n - 4);
	ck_assert_ptr_eq(iov[0].iov_base, wire(m[0], &n) + 4);
	ck_assert_uint_eq(iov[1].iov_len, n);
	/* The rest of it and part of the next. */
	wsout_consume(&q, &off, n - 4 + 1);
	ck_assert_ptr_eq(q.head, m[1]);
	ck_assert_uint_eq(off, 1);
	/* Frames still held are freed with the queue. */
	wsout_free(&q, &off);
	ck_assert_ptr_null(q.head);
	ck_assert_ptr_null(q.tail);
	ck_assert_uint_eq(off, 0);
}
END_TEST

static Suite *
wsout_suite(void)
{
	Suite	*s = suite_create("wsout");
	TCase	*tc = tcase_create("wsout");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_data_frames);
	tcase_add_test(tc, test_seal);
	tcase_add_test(tc, test_partial_writes);
	tcase_add_test(tc, test_iov_and_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nf;

	sr = srunner_create(wsout_suite());
	srunner_run_all(sr, CK_ENV);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
