/*
 * RFC 6455 frame codec: no I/O, no locks.  The decoder keeps partial frames
 * in its state, never reads past the length it is given, unmasks payload in
 * place, and hands payload out in chunks as it arrives (a data frame is never
 * buffered whole).  Control frames (<= 125 bytes) are collected and handed
 * out whole.
 */
#ifndef WSFRAME_H
#define WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never sent on the wire */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011

#define WS_MAX_HEADER	14	/* 2 + 8 (length) + 4 (mask) */
#define WS_MAX_CONTROL	125

enum wsframe_role {
	WSFRAME_SERVER,		/* we decode client frames: masking required */
	WSFRAME_CLIENT		/* we decode server frames: masking forbidden */
};

/* One piece of decoded payload. */
struct wsframe_ev {
	int		 opcode;	/* message opcode (TEXT/BINARY, never
					   CONT) or the control opcode */
	const uint8_t	*data;		/* payload bytes, unmasked */
	size_t		 len;
	const uint8_t	*mask;		/* keep_mask: data is still masked
					   with this key, as from payload
					   offset mask_off; else NULL */
	uint64_t	 mask_off;
	bool		 msg_start;	/* first chunk of a message */
	bool		 msg_end;	/* last chunk of a message (FIN frame
					   fully delivered); always true for
					   control frames */
	uint16_t	 close_code;	/* CLOSE: code, or WS_CLOSE_NO_STATUS */
};

struct wsframe_dec {
	enum wsframe_role role;
	uint64_t	 max_frame;	/* payload ceiling per frame */
	uint64_t	 max_msg;	/* payload ceiling per message */
	bool		 keep_mask;	/* leave BINARY payload masked (set
					   after init): the reader unmasks
					   it as it copies it */
	/* private */
	int		 state;
	uint8_t		 hdr[WS_MAX_HEADER];
	size_t		 hdr_have, hdr_need;
	int		 opcode;	/* current frame's opcode */
	bool		 fin;
	bool		 masked;
	uint8_t		 mask[4];
	uint64_t	 frame_len, frame_got;
	int		 msg_opcode;	/* 0: no message in progress */
	uint64_t	 msg_got;
	bool		 msg_started_emitted;
	uint8_t		 ctl[WS_MAX_CONTROL];
	uint16_t	 close_code;	/* after an error: the code to send */
	uint32_t	 utf8;		/* TEXT message: UTF-8 validator state */
};

/*
 * max_frame and max_msg are inclusive payload ceilings (0 allows only empty
 * payloads); control frames count against max_frame but not max_msg.
 */
void	 wsframe_dec_init(struct wsframe_dec *, enum wsframe_role,
	    uint64_t max_frame, uint64_t max_msg);

/*
 * Decode from buf[0..len).  Returns 1 with *ev filled when an event is ready
 * (ev->data points into buf, or into the decoder for control frames, and is
 * valid until the next call), 0 when all of buf was consumed without an
 * event, or a negative TUN_E* on a protocol violation (dec->close_code then
 * holds the close code to send: 1002, 1007 or 1009).  *used is always set to
 * the bytes consumed; call again with the rest.  buf is modified (unmasked
 * in place), except the payload of BINARY messages with keep_mask: ev->mask
 * is set then, and the bytes at ev->data are as they came.  After an error
 * the decoder must not be used again.
 */
int	 wsframe_decode(struct wsframe_dec *, uint8_t *buf, size_t len,
	    size_t *used, struct wsframe_ev *ev);

/*
 * Write a frame header into out (at least WS_MAX_HEADER bytes); mask is NULL
 * for an unmasked (server) frame.  Returns the header length.
 */
size_t	 wsframe_header(uint8_t *out, int opcode, bool fin, uint64_t len,
	    const uint8_t *mask);
/* XOR data with the mask, as if data started at payload offset `off`. */
void	 wsframe_mask(uint8_t *data, size_t len, const uint8_t mask[4],
	    uint64_t off);
/* The same from src into dst (equal, or not overlapping): one pass. */
void	 wsframe_mask_copy(uint8_t *dst, const uint8_t *src, size_t len,
	    const uint8_t mask[4], uint64_t off);
/* CLOSE payload: code and reason (truncated to fit 125); returns length. */
size_t	 wsframe_close_payload(uint8_t *out, uint16_t code, const char *reason);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key; out >= 29 bytes. */
int	 wsframe_accept_key(const char *key, char *out, size_t outlen);
/* A fresh random client key (RFC 6455 4.1); out >= 25 bytes. */
int	 wsframe_client_key(char *out, size_t outlen);
/* A valid client key is base64 of 16 bytes (24 chars). */
bool	 wsframe_valid_key(const char *key);
/*
 * UTF-8 (RFC 3629), checked in pieces: *st is 0 before the first and, if
 * the text ends on a whole character, after the last.  0 or -1.  Also for
 * tunneld's API bodies.
 */
int	 wsframe_utf8(uint32_t *st, const uint8_t *p, size_t n);

#endif
