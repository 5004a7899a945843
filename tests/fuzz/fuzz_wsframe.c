#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunerr.h"
#include "wsframe.h"

/*
 * Input: byte 0 picks the ceilings, byte 1 the size of the pieces fed to
 * the decoder, the rest is the stream.  The stream is decoded with both
 * roles (the server's also with keep_mask); then the whole input is read
 * as a list of frames to build with wsframe_header()/wsframe_mask(), and
 * the decoder must give back exactly what went in, with keep_mask too once
 * the bytes it left masked are unmasked with the key and offset it gave.
 */

#define FZ_ASSERT(e)	do { if (!(e)) abort(); } while (0)
#define RT_MAX_WIRE	(1 << 17)

struct fz_log {
	uint8_t		*b;
	size_t		 n, cap;
};

/* What a decoder handed out, the same whatever the chunking. */
struct fz_rec {
	struct fz_log	 marks;		/* message starts and ends, control
					   frames, each with data.n */
	struct fz_log	 data;		/* data message bytes */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fz_decode(enum wsframe_role, const uint8_t *, size_t, uint64_t,
		    uint64_t, size_t, bool);
static void	fz_roundtrip(const uint8_t *, size_t);
static void	fz_fill(uint8_t *, size_t, const uint8_t *, size_t, size_t);
static void	fz_log(struct fz_log *, const void *, size_t);
static void	fz_mark(struct fz_rec *, const uint8_t *, size_t);
static void	fz_rec_event(struct fz_rec *, const struct wsframe_ev *);
static bool	fz_utf8(const uint8_t *, size_t);
static bool	fz_close_code(unsigned);

static const uint16_t fz_codes[] = {
	1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
	1014, 3000, 3999, 4000, 4999, WS_CLOSE_NO_STATUS
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	max_frame, max_msg;
	size_t		chunk;

	if (size < 2)
		return 0;
	max_frame = 1 + (data[0] & 0x1f) * 8;
	max_msg = max_frame * (1 + (data[0] >> 5));
	chunk = data[1] == 0xff ? size : 1 + (size_t)(data[1] % 32);
	fz_decode(WSFRAME_SERVER, data + 2, size - 2, max_frame, max_msg,
	    chunk, false);
	fz_decode(WSFRAME_SERVER, data + 2, size - 2, max_frame, max_msg,
	    chunk, true);
	fz_decode(WSFRAME_CLIENT, data + 2, size - 2, max_frame, max_msg,
	    chunk, false);
	fz_decode(WSFRAME_CLIENT, data + 2, size - 2, 1 << 20, 1 << 20,
	    chunk, true);
	fz_roundtrip(data, size);
	return 0;
}

/* Arbitrary bytes: no crash, and every event must be sane. */
static void
fz_decode(enum wsframe_role role, const uint8_t *data, size_t size,
    uint64_t max_frame, uint64_t max_msg, size_t chunk, bool keep)
{
	struct wsframe_dec	 d;
	struct wsframe_ev	 ev;
	uint8_t			*buf, *p, *msg;
	size_t			 off, n, used, left, mlen = 0;
	int			 r = 0, r2, msg_op = 0;

	msg = malloc(max_msg > size ? size + 1 : max_msg + 1);
	FZ_ASSERT(msg != NULL);
	wsframe_dec_init(&d, role, max_frame, max_msg);
	d.keep_mask = keep;
	for (off = 0; off < size && r >= 0; off += n) {
		n = size - off < chunk ? size - off : chunk;
		/* Its own allocation, so reading past it is caught. */
		buf = malloc(n);
		FZ_ASSERT(buf != NULL);
		memcpy(buf, data + off, n);
		for (p = buf, left = n; ; p += used, left -= used) {
			used = (size_t)-1;
			r = wsframe_decode(&d, p, left, &used, &ev);
			FZ_ASSERT(used <= left);
			if (r < 0) {
				FZ_ASSERT((r == TUN_ETOOBIG) ==
				    (d.close_code == WS_CLOSE_TOO_BIG));
				FZ_ASSERT(r == TUN_ETOOBIG || r == TUN_EPROTO);
				FZ_ASSERT(d.close_code == WS_CLOSE_PROTOCOL ||
				    d.close_code == WS_CLOSE_INVALID_DATA ||
				    d.close_code == WS_CLOSE_TOO_BIG);
				r2 = wsframe_decode(&d, buf, n, &used, &ev);
				FZ_ASSERT(r2 == r && used == 0);
				break;
			}
			if (r == 0) {
				FZ_ASSERT(used == left);
				break;
			}
			FZ_ASSERT(r == 1 && used > 0);
			FZ_ASSERT(ev.msg_start || ev.msg_end || ev.len > 0);
			if (ev.opcode == WS_OP_TEXT ||
			    ev.opcode == WS_OP_BINARY) {
				FZ_ASSERT(ev.msg_start == (msg_op == 0));
				FZ_ASSERT(msg_op == 0 || ev.opcode == msg_op);
				FZ_ASSERT(ev.len == 0 || (ev.data >= p &&
				    ev.data + ev.len <= p + used));
				FZ_ASSERT(mlen + ev.len <= max_msg);
				/* Left masked: a server's BINARY only. */
				FZ_ASSERT(ev.mask == NULL || (keep &&
				    role == WSFRAME_SERVER &&
				    ev.opcode == WS_OP_BINARY));
				FZ_ASSERT(ev.mask != NULL || !keep ||
				    role != WSFRAME_SERVER ||
				    ev.opcode != WS_OP_BINARY || ev.len == 0);
				if (ev.mask != NULL)
					wsframe_mask_copy(msg + mlen, ev.data,
					    ev.len, ev.mask, ev.mask_off);
				else
					memcpy(msg + mlen, ev.data, ev.len);
				mlen += ev.len;
				msg_op = ev.opcode;
				if (ev.msg_end) {
					FZ_ASSERT(msg_op != WS_OP_TEXT ||
					    fz_utf8(msg, mlen));
					msg_op = 0;
					mlen = 0;
				}
				continue;
			}
			FZ_ASSERT(ev.msg_start && ev.msg_end);
			FZ_ASSERT(ev.len <= WS_MAX_CONTROL && ev.mask == NULL);
			if (ev.opcode == WS_OP_CLOSE) {
				FZ_ASSERT(ev.close_code == WS_CLOSE_NO_STATUS ||
				    fz_close_code(ev.close_code));
				FZ_ASSERT(fz_utf8(ev.data, ev.len));
			} else
				FZ_ASSERT((ev.opcode == WS_OP_PING ||
				    ev.opcode == WS_OP_PONG) &&
				    ev.close_code == 0);
		}
		free(buf);
	}
	free(msg);
}

/*
 * Frames built from the input, two bytes each (op, length) plus a masking
 * key: op bits 0-1 pick BINARY/TEXT data, PING/PONG or CLOSE, bit 2 FIN,
 * bit 3 a long (x300) length or PONG; the upper bits pick where the
 * payload is masked in two pieces.  Payload bytes come from the input.
 */
static void
fz_roundtrip(const uint8_t *data, size_t size)
{
	struct wsframe_dec	 d;
	struct wsframe_ev	 ev;
	static struct fz_rec	 want, got;	/* kept: malloc is slow */
	static uint8_t		 wire[RT_MAX_WIRE + WS_MAX_HEADER];
	static uint8_t		 plain[RT_MAX_WIRE];
	uint8_t			*buf, key[4], op, hdr[5];
	uint8_t			 cp[WS_MAX_CONTROL];
	char			 reason[16];
	size_t			 wn = 0, i, j, len, cut, chunk, off, n, used;
	size_t			 left;
	uint16_t		 code;
	bool			 masked, in_msg = false, fin;
	int			 opcode, msg_op = 0, r, keep;

	masked = (data[0] & 0x80) != 0;
	chunk = 1 + data[1] % 16;
	want.marks.n = want.data.n = got.marks.n = got.data.n = 0;
	for (i = 2; i + 2 <= size; ) {
		/* Room for a control frame and the final header. */
		if (wn + 2 * WS_MAX_HEADER + WS_MAX_CONTROL > RT_MAX_WIRE)
			goto built;
		op = data[i];
		len = data[i + 1];
		i += 2;
		for (j = 0; j < 4; j++)
			key[j] = data[(i + j) % size];
		if (masked)
			i += 4;
		fin = (op & 0x04) != 0;
		switch (op & 0x03) {
		case 0:
		case 3:
			if (op & 0x08)
				len *= 300;
			if (wn + WS_MAX_HEADER + len > RT_MAX_WIRE)
				goto built;
			if (!in_msg) {
				msg_op = (op & 3) == 3 ? WS_OP_TEXT :
				    WS_OP_BINARY;
				hdr[0] = 's';
				hdr[1] = (uint8_t)msg_op;
				fz_mark(&want, hdr, 2);
			}
			opcode = in_msg ? WS_OP_CONT : msg_op;
			in_msg = !fin;
			break;
		case 1:
			opcode = op & 0x08 ? WS_OP_PONG : WS_OP_PING;
			len %= WS_MAX_CONTROL + 1;
			break;
		default:
			opcode = WS_OP_CLOSE;
			code = fz_codes[len % (sizeof(fz_codes) /
			    sizeof(fz_codes[0]))];
			for (j = 0; j < (size_t)(op >> 4); j++)
				reason[j] = ' ' + data[(i + j) % size] % 95;
			reason[j] = '\0';
			len = wsframe_close_payload(cp, code, reason);
			break;
		}
		wn += wsframe_header(wire + wn, opcode, opcode & 0x8 ? true :
		    fin, len, masked ? key : NULL);
		if (opcode == WS_OP_CLOSE)
			memcpy(wire + wn, cp, len);
		else {
			fz_fill(wire + wn, len, data, size, i);
			for (j = 0; msg_op == WS_OP_TEXT && !(opcode & 0x8) &&
			    j < len; j++)
				wire[wn + j] &= 0x7f;
		}

		/* What the decoder must hand out for this frame. */
		if (opcode & 0x8) {
			hdr[0] = 'c';
			hdr[1] = (uint8_t)opcode;
			code = 0;
			if (opcode == WS_OP_CLOSE)
				code = len >= 2 ? wire[wn] << 8 | wire[wn + 1] :
				    WS_CLOSE_NO_STATUS;
			hdr[2] = code >> 8;
			hdr[3] = code & 0xff;
			n = opcode == WS_OP_CLOSE && len >= 2 ? 2 : 0;
			hdr[4] = (uint8_t)(len - n);
			fz_mark(&want, hdr, 5);
			fz_mark(&want, wire + wn + n, len - n);
		} else {
			fz_log(&want.data, wire + wn, len);
			if (fin)
				fz_mark(&want, (const uint8_t *)"e", 1);
		}

		if (masked) {
			cut = len == 0 ? 0 : (op >> 4) * len / 16;
			wsframe_mask(wire + wn, cut, key, 0);
			wsframe_mask(wire + wn + cut, len - cut, key, cut);
		}
		wn += len;
	}
built:
	if (in_msg) {
		wn += wsframe_header(wire + wn, WS_OP_CONT, true, 0,
		    masked ? key : NULL);
		fz_mark(&want, (const uint8_t *)"e", 1);
	}
	if (wn > 4096)		/* big inputs: bigger pieces, or it is slow */
		chunk = chunk * 997;

	for (keep = 0; keep < (masked ? 2 : 1); keep++) {
		got.marks.n = got.data.n = 0;
		wsframe_dec_init(&d, masked ? WSFRAME_SERVER : WSFRAME_CLIENT,
		    RT_MAX_WIRE, RT_MAX_WIRE);
		d.keep_mask = keep == 1;
		for (off = 0; off < wn; off += n) {
			n = wn - off < chunk ? wn - off : chunk;
			buf = malloc(n);
			FZ_ASSERT(buf != NULL);
			memcpy(buf, wire + off, n);
			for (left = n, j = 0; ; j += used, left -= used) {
				r = wsframe_decode(&d, buf + j, left, &used,
				    &ev);
				FZ_ASSERT(r >= 0 && used <= left);
				if (r == 0)
					break;
				if (ev.mask != NULL) {
					FZ_ASSERT(keep &&
					    ev.opcode == WS_OP_BINARY);
					wsframe_mask_copy(plain, ev.data,
					    ev.len, ev.mask, ev.mask_off);
					ev.data = plain;
				}
				fz_rec_event(&got, &ev);
			}
			free(buf);
		}
		FZ_ASSERT(got.marks.n == want.marks.n &&
		    got.data.n == want.data.n);
		FZ_ASSERT(got.marks.n == 0 ||
		    memcmp(got.marks.b, want.marks.b, got.marks.n) == 0);
		FZ_ASSERT(got.data.n == 0 ||
		    memcmp(got.data.b, want.data.b, got.data.n) == 0);
	}
}

/* len bytes of the input from `at` on, round and round. */
static void
fz_fill(uint8_t *out, size_t len, const uint8_t *data, size_t size,
    size_t at)
{
	size_t	n;

	for (at %= size; len > 0; at = 0) {
		n = size - at < len ? size - at : len;
		memcpy(out, data + at, n);
		out += n;
		len -= n;
	}
}

static void
fz_log(struct fz_log *l, const void *p, size_t n)
{
	if (l->n + n > l->cap) {
		l->cap = 2 * (l->n + n) + 64;
		l->b = realloc(l->b, l->cap);
		FZ_ASSERT(l->b != NULL);
	}
	if (n > 0)
		memcpy(l->b + l->n, p, n);
	l->n += n;
}

/* A record, and where in the data it happened. */
static void
fz_mark(struct fz_rec *r, const uint8_t *p, size_t n)
{
	uint64_t	at = r->data.n;

	fz_log(&r->marks, p, n);
	fz_log(&r->marks, &at, sizeof(at));
}

static void
fz_rec_event(struct fz_rec *r, const struct wsframe_ev *ev)
{
	uint8_t	hdr[5];

	if (ev->opcode & 0x8) {
		hdr[0] = 'c';
		hdr[1] = (uint8_t)ev->opcode;
		hdr[2] = ev->close_code >> 8;
		hdr[3] = ev->close_code & 0xff;
		hdr[4] = (uint8_t)ev->len;
		fz_mark(r, hdr, 5);
		fz_mark(r, ev->data, ev->len);
		return;
	}
	if (ev->msg_start) {
		hdr[0] = 's';
		hdr[1] = (uint8_t)ev->opcode;
		fz_mark(r, hdr, 2);
	}
	fz_log(&r->data, ev->data, ev->len);
	if (ev->msg_end)
		fz_mark(r, (const uint8_t *)"e", 1);
}

/* A plain code point decoder, to check the decoder's validator. */
static bool
fz_utf8(const uint8_t *p, size_t n)
{
	uint32_t	cp, min;
	size_t		i = 0, k, j;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return false;
		if (n - i <= k)
			return false;
		for (j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static bool
fz_close_code(unsigned c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	    (c >= 3000 && c <= 4999);
}
