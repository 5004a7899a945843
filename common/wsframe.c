#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "tunerr.h"
#include "wsframe.h"

#define WSF_HDR		0	/* collecting a frame header */
#define WSF_DATA	1	/* handing out data frame payload */
#define WSF_CTL		2	/* collecting a control frame payload */
#define WSF_DEAD	3	/* after an error */

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN	24	/* base64 of 16 bytes */
#define WS_ACCEPT_LEN	28	/* base64 of a SHA-1 digest */

static const char wsframe_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int	wsframe_fail(struct wsframe_dec *, uint16_t);
static int	wsframe_hdr_first(struct wsframe_dec *);
static int	wsframe_hdr_done(struct wsframe_dec *, const uint8_t *,
		    struct wsframe_ev *);
static int	wsframe_data(struct wsframe_dec *, uint8_t *, size_t,
		    size_t *, struct wsframe_ev *);
static int	wsframe_ctl_event(struct wsframe_dec *, struct wsframe_ev *);
static void	wsframe_frame_done(struct wsframe_dec *);
static bool	wsframe_close_valid(unsigned);
static size_t	wsframe_min(uint64_t, size_t);

void
wsframe_dec_init(struct wsframe_dec *d, enum wsframe_role role,
    uint64_t max_frame, uint64_t max_msg)
{
	memset(d, 0, sizeof(*d));
	d->role = role;
	d->max_frame = max_frame;
	d->max_msg = max_msg;
	d->state = WSF_HDR;
	d->hdr_need = 2;
}

int
wsframe_decode(struct wsframe_dec *d, uint8_t *buf, size_t len, size_t *used,
    struct wsframe_ev *ev)
{
	size_t	off = 0, n;
	int	r = 0;

	memset(ev, 0, sizeof(*ev));
	if (d->state == WSF_DEAD) {
		r = d->close_code == WS_CLOSE_TOO_BIG ? TUN_ETOOBIG : TUN_EPROTO;
		goto out;
	}
	while (off < len) {
		switch (d->state) {
		case WSF_HDR:
			n = wsframe_min(d->hdr_need - d->hdr_have, len - off);
			memcpy(d->hdr + d->hdr_have, buf + off, n);
			d->hdr_have += n;
			off += n;
			if (d->hdr_have < d->hdr_need)
				break;
			if (d->hdr_have == 2) {
				if ((r = wsframe_hdr_first(d)) != 0)
					goto out;
				if (d->hdr_need > 2)
					break;
			}
			if ((r = wsframe_hdr_done(d, buf + off, ev)) != 0)
				goto out;
			break;
		case WSF_DATA:
			r = wsframe_data(d, buf + off, len - off, &n, ev);
			off += n;
			goto out;
		case WSF_CTL:
			n = wsframe_min(d->frame_len - d->frame_got, len - off);
			memcpy(d->ctl + d->frame_got, buf + off, n);
			if (d->masked)
				wsframe_mask(d->ctl + d->frame_got, n, d->mask,
				    d->frame_got);
			d->frame_got += n;
			off += n;
			if (d->frame_got == d->frame_len) {
				r = wsframe_ctl_event(d, ev);
				goto out;
			}
			break;
		}
	}
out:
	*used = off;
	return r;
}

static int
wsframe_fail(struct wsframe_dec *d, uint16_t code)
{
	d->state = WSF_DEAD;
	d->close_code = code;
	return code == WS_CLOSE_TOO_BIG ? TUN_ETOOBIG : TUN_EPROTO;
}

/* The first two header bytes are in: check them, size the rest. */
static int
wsframe_hdr_first(struct wsframe_dec *d)
{
	unsigned	len7 = d->hdr[1] & 0x7f;	/* 126, 127: more */

	d->fin = (d->hdr[0] & 0x80) != 0;
	d->opcode = d->hdr[0] & 0x0f;
	d->masked = (d->hdr[1] & 0x80) != 0;
	if (d->hdr[0] & 0x70)			/* RSV1-3: no extensions */
		return wsframe_fail(d, WS_CLOSE_PROTOCOL);
	switch (d->opcode) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!d->fin)
			return wsframe_fail(d, WS_CLOSE_PROTOCOL);
		break;
	case WS_OP_CONT:
		if (d->msg_opcode == 0)
			return wsframe_fail(d, WS_CLOSE_PROTOCOL);
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (d->msg_opcode != 0)
			return wsframe_fail(d, WS_CLOSE_PROTOCOL);
		break;
	default:
		return wsframe_fail(d, WS_CLOSE_PROTOCOL);
	}
	if (d->masked != (d->role == WSFRAME_SERVER))
		return wsframe_fail(d, WS_CLOSE_PROTOCOL);
	d->hdr_need = 2 + (d->masked ? 4 : 0);
	if (len7 == 126)
		d->hdr_need += 2;
	else if (len7 == 127)
		d->hdr_need += 8;
	return 0;
}

/*
 * The whole header is in.  Returns 1 with *ev filled for a frame that is
 * delivered by its header alone (zero-length), 0 or an error.
 */
static int
wsframe_hdr_done(struct wsframe_dec *d, const uint8_t *p,
    struct wsframe_ev *ev)
{
	uint64_t	len = d->hdr[1] & 0x7f, base;
	size_t		i, at = 2;

	if (len == 126) {
		len = (uint64_t)d->hdr[2] << 8 | d->hdr[3];
		at = 4;
	} else if (len == 127) {
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | d->hdr[i];
		if (len >> 63)
			return wsframe_fail(d, WS_CLOSE_PROTOCOL);
		at = 10;
	}
	if (d->masked)
		memcpy(d->mask, d->hdr + at, sizeof(d->mask));
	/* Lengths need not be minimal, but a control frame stays small. */
	if ((d->opcode & 0x8) && len > WS_MAX_CONTROL)
		return wsframe_fail(d, WS_CLOSE_PROTOCOL);
	if (d->opcode == WS_OP_CLOSE && len == 1)
		return wsframe_fail(d, WS_CLOSE_PROTOCOL);
	if (len > d->max_frame)
		return wsframe_fail(d, WS_CLOSE_TOO_BIG);
	d->frame_len = len;
	d->frame_got = 0;
	if (d->opcode & 0x8) {
		d->state = WSF_CTL;
		return len == 0 ? wsframe_ctl_event(d, ev) : 0;
	}

	base = d->opcode == WS_OP_CONT ? d->msg_got : 0;
	if (base > d->max_msg || len > d->max_msg - base)
		return wsframe_fail(d, WS_CLOSE_TOO_BIG);
	if (d->opcode != WS_OP_CONT) {
		d->msg_opcode = d->opcode;
		d->msg_got = 0;
		d->msg_started_emitted = false;
		d->utf8 = 0;
	}
	d->state = WSF_DATA;
	if (len > 0)
		return 0;

	/* An empty frame is an event only if it starts or ends a message. */
	if (d->msg_started_emitted && !d->fin) {
		wsframe_frame_done(d);
		return 0;
	}
	if (d->fin && d->msg_opcode == WS_OP_TEXT && d->utf8 != 0)
		return wsframe_fail(d, WS_CLOSE_INVALID_DATA);
	ev->opcode = d->msg_opcode;
	ev->data = p;
	ev->len = 0;
	ev->msg_start = !d->msg_started_emitted;
	ev->msg_end = d->fin;
	d->msg_started_emitted = true;
	wsframe_frame_done(d);
	return 1;
}

/* Hand out the payload bytes at p (n > 0 of them) of a data frame. */
static int
wsframe_data(struct wsframe_dec *d, uint8_t *p, size_t n, size_t *used,
    struct wsframe_ev *ev)
{
	bool	last;

	n = wsframe_min(d->frame_len - d->frame_got, n);
	*used = n;
	if (d->masked && d->keep_mask && d->msg_opcode == WS_OP_BINARY) {
		ev->mask = d->mask;
		ev->mask_off = d->frame_got;
	} else if (d->masked)
		wsframe_mask(p, n, d->mask, d->frame_got);
	d->frame_got += n;
	d->msg_got += n;
	last = d->frame_got == d->frame_len;
	if (d->msg_opcode == WS_OP_TEXT) {
		if (wsframe_utf8(&d->utf8, p, n) != 0 ||
		    (last && d->fin && d->utf8 != 0))
			return wsframe_fail(d, WS_CLOSE_INVALID_DATA);
	}
	ev->opcode = d->msg_opcode;
	ev->data = p;
	ev->len = n;
	ev->msg_start = !d->msg_started_emitted;
	ev->msg_end = last && d->fin;
	d->msg_started_emitted = true;
	if (last)
		wsframe_frame_done(d);
	return 1;
}

/* A control frame is complete in d->ctl. */
static int
wsframe_ctl_event(struct wsframe_dec *d, struct wsframe_ev *ev)
{
	uint32_t	st = 0;
	unsigned	code;

	ev->opcode = d->opcode;
	ev->data = d->ctl;
	ev->len = d->frame_len;
	ev->msg_start = ev->msg_end = true;
	if (d->opcode == WS_OP_CLOSE) {
		ev->close_code = WS_CLOSE_NO_STATUS;
		if (d->frame_len >= 2) {
			code = (unsigned)d->ctl[0] << 8 | d->ctl[1];
			if (!wsframe_close_valid(code))
				return wsframe_fail(d, WS_CLOSE_PROTOCOL);
			if (wsframe_utf8(&st, d->ctl + 2, ev->len - 2) != 0 ||
			    st != 0)
				return wsframe_fail(d, WS_CLOSE_INVALID_DATA);
			ev->close_code = (uint16_t)code;
			ev->data = d->ctl + 2;
			ev->len -= 2;
		}
	}
	wsframe_frame_done(d);
	return 1;
}

static void
wsframe_frame_done(struct wsframe_dec *d)
{
	if (!(d->opcode & 0x8) && d->fin) {
		d->msg_opcode = 0;
		d->msg_got = 0;
		d->msg_started_emitted = false;
	}
	d->state = WSF_HDR;
	d->hdr_have = 0;
	d->hdr_need = 2;
}

/*
 * Incremental UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing
 * past U+10FFFF).  *st is 0 between characters, else the count of
 * continuation bytes still due << 16 | the next byte's low << 8 | high.
 */
int
wsframe_utf8(uint32_t *st, const uint8_t *p, size_t n)
{
	unsigned	need = *st >> 16, lo = (*st >> 8) & 0xff, hi = *st & 0xff;
	uint64_t	w;
	size_t		i = 0;
	uint8_t		c;

	while (i < n) {
		if (need > 0) {
			c = p[i++];
			if (c < lo || c > hi)
				return -1;
			need--;
			lo = 0x80;
			hi = 0xbf;
			continue;
		}
		while (n - i >= 8) {			/* ASCII runs */
			memcpy(&w, p + i, sizeof(w));
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i == n)
			break;
		if ((c = p[i++]) < 0x80)
			continue;
		lo = 0x80;
		hi = 0xbf;
		if (c < 0xc2)
			return -1;
		else if (c < 0xe0)
			need = 1;
		else if (c < 0xf0) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;		/* overlong */
			else if (c == 0xed)
				hi = 0x9f;		/* surrogates */
		} else if (c < 0xf5) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;		/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;		/* > U+10FFFF */
		} else
			return -1;
	}
	*st = need == 0 ? 0 : need << 16 | lo << 8 | hi;
	return 0;
}

static bool
wsframe_close_valid(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return true;
	if (code < 1000 || code > 1014)
		return false;
	return code != 1004 && code != 1005 && code != 1006;
}

static size_t
wsframe_min(uint64_t a, size_t b)
{
	return a < b ? (size_t)a : b;
}

size_t
wsframe_header(uint8_t *out, int opcode, bool fin, uint64_t len,
    const uint8_t *mask)
{
	size_t	n = 2;
	int	i;

	out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
	if (len < 126)
		out[1] = (uint8_t)len;
	else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void
wsframe_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t off)
{
	wsframe_mask_copy(data, data, len, mask, off);
}

/*
 * 16 bytes at a time in a vector of the compiler's (SSE2 on x86-64, NEON
 * on arm64, plain words elsewhere), four to a turn: every body byte
 * passes through here once on each side of the tunnel.
 */
typedef uint8_t wsframe_v16 __attribute__((vector_size(16)));

void
wsframe_mask_copy(uint8_t *dst, const uint8_t *src, size_t len,
    const uint8_t mask[4], uint64_t off)
{
	uint8_t		k[16];
	wsframe_v16	m, a, b, c, d;
	size_t		i;

	for (i = 0; i < sizeof(k); i++)
		k[i] = mask[(off + i) & 3];
	memcpy(&m, k, sizeof(m));
	for (i = 0; len - i >= 64; i += 64) {
		memcpy(&a, src + i, 16);
		memcpy(&b, src + i + 16, 16);
		memcpy(&c, src + i + 32, 16);
		memcpy(&d, src + i + 48, 16);
		a ^= m;
		b ^= m;
		c ^= m;
		d ^= m;
		memcpy(dst + i, &a, 16);
		memcpy(dst + i + 16, &b, 16);
		memcpy(dst + i + 32, &c, 16);
		memcpy(dst + i + 48, &d, 16);
	}
	for (; len - i >= 16; i += 16) {
		memcpy(&a, src + i, 16);
		a ^= m;
		memcpy(dst + i, &a, 16);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ k[i & 15];
}

size_t
wsframe_close_payload(uint8_t *out, uint16_t code, const char *reason)
{
	size_t	n;

	if (code == WS_CLOSE_NO_STATUS)
		return 0;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (reason == NULL)
		return 2;
	n = strnlen(reason, WS_MAX_CONTROL - 2 + 1);
	if (n > WS_MAX_CONTROL - 2) {
		/* Truncate, but never inside a UTF-8 sequence. */
		n = WS_MAX_CONTROL - 2;
		while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out + 2, reason, n);
	return 2 + n;
}

/* Base64 (RFC 4648, padded) of in[0..n) into out, NUL-terminated. */
static void
wsframe_b64_encode(const uint8_t *in, size_t n, char *out)
{
	unsigned	v;
	size_t		i;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*out++ = wsframe_b64[v >> 18];
		*out++ = wsframe_b64[(v >> 12) & 0x3f];
		*out++ = wsframe_b64[(v >> 6) & 0x3f];
		*out++ = wsframe_b64[v & 0x3f];
	}
	if (i < n) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		*out++ = wsframe_b64[v >> 18];
		*out++ = wsframe_b64[(v >> 12) & 0x3f];
		*out++ = i + 1 < n ? wsframe_b64[(v >> 6) & 0x3f] : '=';
		*out++ = '=';
	}
	*out = '\0';
}

int
wsframe_client_key(char *out, size_t outlen)
{
	uint8_t	raw[16];

	if (outlen < 25)
		return TUN_EINVAL;
	if (gnutls_rnd(GNUTLS_RND_NONCE, raw, sizeof(raw)) != 0)
		return TUN_EIO;
	wsframe_b64_encode(raw, sizeof(raw), out);
	return 0;
}

int
wsframe_accept_key(const char *key, char *out, size_t outlen)
{
	gnutls_hash_hd_t	 h;
	uint8_t			 md[20];

	if (key == NULL || outlen < WS_ACCEPT_LEN + 1)
		return TUN_EINVAL;
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA1) != 0)
		return TUN_ENOMEM;
	if (gnutls_hash(h, key, strlen(key)) != 0 ||
	    gnutls_hash(h, WS_GUID, strlen(WS_GUID)) != 0) {
		gnutls_hash_deinit(h, NULL);
		return TUN_ENOMEM;
	}
	gnutls_hash_deinit(h, md);
	wsframe_b64_encode(md, sizeof(md), out);
	return 0;
}

bool
wsframe_valid_key(const char *key)
{
	size_t	i;

	if (key == NULL || strlen(key) != WS_KEY_LEN)
		return false;
	for (i = 0; i < WS_KEY_LEN - 2; i++) {
		if (key[i] == '\0' || strchr(wsframe_b64, key[i]) == NULL)
			return false;
	}
	return key[WS_KEY_LEN - 2] == '=' && key[WS_KEY_LEN - 1] == '=';
}
