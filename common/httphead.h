/*
 * HTTP/1.x response heads and chunked bodies from a local service: parsers
 * of untrusted bytes, incremental (input may come split at any byte),
 * bounded, no I/O.
 *
 * httphead_parse() collects one response head: the status line, then
 * header fields up to the empty line.  Lines end in CRLF or a bare LF
 * (RFC 9112 2.2); a bare CR, NUL, an obs-fold line (one that starts with
 * SP or HTAB), white space before a field's colon, a name that is not a
 * token, more than HTTPHEAD_MAX_HEADERS fields or a head over
 * HTTPHEAD_MAX_SIZE bytes are refused.  The status line is
 * "HTTP/1.D SP 3DIGIT [SP reason]", status 100..999.
 *
 * httpchunk_decode() takes a chunked body (RFC 9112 7.1) apart: sizes of
 * at most HTTPCHUNK_MAX_DIGITS hex digits, chunk extensions skipped within
 * HTTPCHUNK_MAX_LINE bytes per line, CRLF (or LF) after each chunk's data,
 * trailer fields skipped within HTTPCHUNK_MAX_TRAILER bytes.
 */
#ifndef HTTPHEAD_H
#define HTTPHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define HTTPHEAD_MAX_SIZE	(64 * 1024)	/* whole head, CRLFs included */
#define HTTPHEAD_MAX_HEADERS	256
#define HTTPCHUNK_MAX_DIGITS	15		/* sizes below 2^60 */
#define HTTPCHUNK_MAX_LINE	4096		/* size line with extensions */
#define HTTPCHUNK_MAX_TRAILER	(64 * 1024)

struct httphead {
	uint8_t			*buf;	/* the head so far */
	size_t			 len;
	size_t			 cap;
	size_t			 line;	/* where the current line starts */
	bool			 done;
	int			 error;	/* sticky TUN_E* */
	/* results once done */
	int			 minor;	/* HTTP/1.minor */
	struct proto_head	 head;	/* status and fields in order */
};

/* How a response's body is delimited (RFC 9112 6.3). */
enum httphead_body {
	HTTPHEAD_BODY_NONE,	/* HEAD, 1xx, 204, 304 */
	HTTPHEAD_BODY_LENGTH,	/* Content-Length bytes */
	HTTPHEAD_BODY_CHUNKED,	/* Transfer-Encoding ending in chunked */
	HTTPHEAD_BODY_EOF	/* until the connection closes */
};

void	 httphead_init(struct httphead *);
void	 httphead_free(struct httphead *);
/* Forget the head (after an interim 1xx head) and start again. */
void	 httphead_reset(struct httphead *);
/*
 * Feed in[0..len).  Sets *used to the bytes taken: all of them while the
 * head is incomplete, up to and including the empty line once it is.
 * Returns 1 when the head is complete (the rest of in is body or upgraded
 * bytes), 0 when more is needed, TUN_EPROTO for a malformed head or
 * TUN_ETOOBIG for one over the limits.  After an error, or once done,
 * further calls return the same without taking bytes.
 */
int	 httphead_parse(struct httphead *, const void *in, size_t len,
	    size_t *used);
/*
 * The body of a complete head, for a request with the given method.  Sets
 * *length for HTTPHEAD_BODY_LENGTH.  Returns the kind, or TUN_EPROTO for
 * an invalid or conflicting Content-Length.
 */
int	 httphead_body(const struct httphead *, const char *method,
	    int64_t *length);

struct httpchunk {
	int		 state;
	uint64_t	 left;		/* data bytes left in this chunk */
	size_t		 ndigits;
	size_t		 line;		/* bytes in the current line */
	size_t		 trailer;	/* trailer bytes so far */
	bool		 cr;		/* a CR was just seen */
	int		 error;
};

void	 httpchunk_init(struct httpchunk *);
/*
 * Feed in[0..len).  Sets *used to the bytes taken and, if the bytes taken
 * end in chunk data, *data_off and *data_len to that data (inside in,
 * within *used; *data_len is 0 when there is none).  Call again with the
 * rest.  Returns 1 when the last chunk and the trailers are over (nothing
 * after them is taken), 0 when more is needed, TUN_EPROTO for a malformed
 * body or TUN_ETOOBIG for one over the limits (sticky).
 */
int	 httpchunk_decode(struct httpchunk *, const void *in, size_t len,
	    size_t *used, size_t *data_off, size_t *data_len);

#endif
