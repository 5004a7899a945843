/*
 * The tunnel protocol spoken over the WebSocket between tunneld and
 * tunnel-client.  Every binary WebSocket message carries exactly one
 * protocol message:
 *
 *	type (1) | flags (1) | stream id (4, big endian) | payload
 *
 * See PROTOCOL at the top of the tree for each message, byte for byte.
 * proto_parse() is a parser of untrusted bytes: bounded, no I/O.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tbuf.h"

#define PROTOCOL_VERSION	1
#define PROTO_HDR_LEN		6
#define PROTO_MAX_MSG		(256 * 1024)	/* whole message, header included */
#define PROTO_MAX_DATA		(16 * 1024)	/* payload of one DATA message */
#define PROTO_MAX_HEADERS	256
#define PROTO_MAX_REASON	256
#define PROTO_DEFAULT_WINDOW	(2 * 1024 * 1024)
#define PROTO_MIN_WINDOW	(64 * 1024)
#define PROTO_MAX_WINDOW	(64 * 1024 * 1024)

enum proto_type {
	PROTO_HELLO = 1,	/* both ways, stream 0, JSON */
	PROTO_OPEN = 2,		/* server -> client: request head, JSON */
	PROTO_RESPONSE = 3,	/* client -> server: response head, JSON */
	PROTO_DATA = 4,		/* both ways: body bytes */
	PROTO_END = 5,		/* both ways: sender's half is finished */
	PROTO_RESET = 6,	/* both ways: abort the stream; u32 code + text */
	PROTO_WINDOW = 7,	/* both ways: u32 credit increment */
	PROTO_GOAWAY = 8,	/* server -> client, stream 0, JSON */
	PROTO_ATTACH = 9,	/* client -> server, stream 0: one more tunnel */
	PROTO_ATTACHED = 10,	/* server -> client, stream 0: it is served */
	PROTO_DETACH = 11	/* server -> client, stream 0: it is not */
};

enum proto_reset_code {
	PROTO_RESET_CANCEL = 1,		/* caller went away, or not wanted */
	PROTO_RESET_PROTOCOL = 2,	/* peer broke the protocol */
	PROTO_RESET_REFUSED = 3,	/* local service refused/unreachable */
	PROTO_RESET_TIMEOUT = 4,	/* timed out */
	PROTO_RESET_LIMIT = 5,		/* too many streams, too large */
	PROTO_RESET_INTERNAL = 6
};

enum proto_goaway_code {
	PROTO_GOAWAY_SHUTDOWN = 1,	/* server going down: reconnect */
	PROTO_GOAWAY_REPLACED = 2,	/* another agent took the tunnel */
	PROTO_GOAWAY_DELETED = 3,	/* tunnel deleted: do not reconnect */
	PROTO_GOAWAY_ROTATED = 4,	/* token rotated: do not reconnect */
	PROTO_GOAWAY_REFUSED = 5	/* DETACH: token or tunnel unknown */
};

/* A header's name and value live in the head's arena: see proto_head_addn(). */
struct proto_header {
	char	*name;
	char	*value;
};

struct proto_arena;

/* HELLO: both fields sides send; the server also sends the tunnel's. */
struct proto_hello {
	int		 version;
	uint32_t	 window;	/* initial per-stream receive window */
	char		*agent;		/* client's name/version, optional */
	char		*tunnel_id;	/* server only */
	char		*url;		/* server only */
	char		*agent_id;	/* client only: this agent, optional */
};

/* OPEN (request) and RESPONSE heads. */
struct proto_head {
	char			*method;	/* OPEN */
	char			*path;		/* OPEN: path and query */
	int			 status;	/* RESPONSE: 100..999 */
	struct proto_header	*hdrs;
	size_t			 nhdrs;
	int64_t			 content_length; /* -1: unknown/none */
	bool			 body;		/* OPEN: a request body follows */
	char			*tunnel;	/* OPEN: for this tunnel, or NULL:
						   the one connected to */
	struct proto_arena	*arena;		/* the headers' strings */
};

struct proto_goaway {
	int	 code;
	char	*reason;
};

/* ATTACH (tunnel_id, token), ATTACHED (tunnel_id, url), DETACH
 * (tunnel_id, code, reason). */
struct proto_attach {
	char	*tunnel_id;
	char	*token;
	char	*url;
	int	 code;
	char	*reason;
};

struct proto_msg {
	uint8_t			 type;
	uint8_t			 flags;
	uint32_t		 stream_id;
	/* by type; data points into the parsed buffer */
	const uint8_t		*data;		/* DATA */
	size_t			 len;
	uint32_t		 window;	/* WINDOW */
	uint32_t		 code;		/* RESET */
	char			*reason;	/* RESET, allocated */
	struct proto_hello	 hello;		/* HELLO, allocated strings */
	struct proto_head	 head;		/* OPEN/RESPONSE, allocated */
	struct proto_goaway	 goaway;	/* GOAWAY */
	struct proto_attach	 attach;	/* ATTACH, ATTACHED, DETACH */
};

/*
 * Parse one message from buf[0..len).  Returns 0 or TUN_EPROTO (bad type,
 * bad length, bad JSON, missing or invalid field, a stream id of 0 where one
 * is needed or non-zero where none is, more than PROTO_MAX_HEADERS headers,
 * header names that are not tokens, values with CR, LF or NUL, ...) or
 * TUN_ETOOBIG (len > PROTO_MAX_MSG).  On success free with proto_msg_clear().
 * On error nothing is left allocated.
 */
int	 proto_parse(const uint8_t *buf, size_t len, struct proto_msg *m);
void	 proto_msg_clear(struct proto_msg *);
/*
 * What json-c takes but RFC 8259 does not (single quotes, comments), or
 * takes quietly ("\u0000", repeated keys), in text that parsed already:
 * 0 or TUN_EPROTO, and the number of keys of the root object in *nkeys.
 * Also for tunneld's API bodies.
 */
int	 proto_json_scan(const uint8_t *, size_t, size_t *);

/* Encoders append one whole message to `out`; TUN_ETOOBIG if it won't fit. */
void	 proto_put_hdr(uint8_t out[PROTO_HDR_LEN], uint8_t type, uint8_t flags,
	    uint32_t stream_id);
int	 proto_encode_hello(struct tbuf *, const struct proto_hello *);
int	 proto_encode_open(struct tbuf *, uint32_t, const struct proto_head *);
int	 proto_encode_response(struct tbuf *, uint32_t, const struct proto_head *);
int	 proto_encode_data(struct tbuf *, uint32_t, const void *, size_t);
int	 proto_encode_end(struct tbuf *, uint32_t);
int	 proto_encode_reset(struct tbuf *, uint32_t, uint32_t, const char *);
int	 proto_encode_window(struct tbuf *, uint32_t, uint32_t);
int	 proto_encode_goaway(struct tbuf *, int, const char *);
int	 proto_encode_attach(struct tbuf *, uint8_t,
	    const struct proto_attach *);

/*
 * Heads: building and freeing.  proto_head_add() and proto_head_addn() copy
 * the name and the value into the head's arena, a short list of blocks that
 * proto_head_clear() frees at once: a header's strings are not freed one by
 * one, and dropping the last header is only nhdrs--.
 */
void	 proto_head_add(struct proto_head *, const char *, const char *);
void	 proto_head_addn(struct proto_head *, const char *, size_t,
	    const char *, size_t);
const char *proto_head_get(const struct proto_head *, const char *);
void	 proto_head_clear(struct proto_head *);
void	 proto_hello_clear(struct proto_hello *);
const char *proto_type_str(int);

#endif
