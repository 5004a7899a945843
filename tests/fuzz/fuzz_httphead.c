/*
 * The response head parser and the chunked decoder on the same bytes:
 * the first byte picks the piece size, the head is parsed from the rest,
 * and whatever follows the head (or the whole input) is decoded as a
 * chunked body, whole and in pieces.  Checks the invariants: nothing
 * read or claimed past the input, the same answer however it is cut.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httphdr.h"
#include "httphead.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 fuzz_head(const uint8_t *, size_t, size_t, size_t *);
static int	 fuzz_chunk(const uint8_t *, size_t, size_t, size_t *,
		    uint8_t *, size_t *);

static int
fuzz_head(const uint8_t *p, size_t len, size_t step, size_t *used)
{
	struct httphead	 h;
	size_t		 off = 0, n, u, i;
	int64_t		 cl;
	int		 r = 0, b;

	httphead_init(&h);
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = httphead_parse(&h, p + off, n, &u);
		if (u > n || (r == 0 && u != n) || (r < 0 && u != 0))
			abort();
		off += u;
		if (r != 0)
			break;
	}
	*used = off;
	if (r == 1) {
		if (h.head.status < 100 || h.head.status > 999 ||
		    h.head.nhdrs > HTTPHEAD_MAX_HEADERS ||
		    off > HTTPHEAD_MAX_SIZE)
			abort();
		for (i = 0; i < h.head.nhdrs; i++)
			if (!httphdr_valid_name(h.head.hdrs[i].name) ||
			    !httphdr_valid_value(h.head.hdrs[i].value,
			    strlen(h.head.hdrs[i].value)))
				abort();
		b = httphead_body(&h, "GET", &cl);
		if (b == HTTPHEAD_BODY_LENGTH && cl < 0)
			abort();
		(void)httphead_body(&h, "HEAD", &cl);
	} else if (r < 0 && h.head.nhdrs != 0)
		abort();
	httphead_free(&h);
	return r;
}

static int
fuzz_chunk(const uint8_t *p, size_t len, size_t step, size_t *used,
    uint8_t *out, size_t *outlen)
{
	struct httpchunk	 c;
	size_t			 off = 0, n, u, doff, dlen;
	int			 r = 0;

	httpchunk_init(&c);
	*outlen = 0;
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = httpchunk_decode(&c, p + off, n, &u, &doff, &dlen);
		if (u > n || (dlen > 0 && doff + dlen > u) ||
		    (r < 0 && (u != 0 || dlen != 0)))
			abort();
		memcpy(out + *outlen, p + off + doff, dlen);
		*outlen += dlen;
		off += u;
		if (r != 0)
			break;
		if (u == 0 && n > 0)
			abort();	/* no progress */
	}
	*used = off;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		 step, used, used1, body, o1, o2, u1, u2;
	uint8_t		*a, *b;
	int		 r, r1, r2;

	if (size == 0)
		return 0;
	step = data[0] % 16 + 1;
	data++;
	size--;
	r = fuzz_head(data, size, size, &used);
	r1 = fuzz_head(data, size, step, &used1);
	if (r != r1 || (r == 1 && used != used1))
		abort();
	(void)fuzz_head(data, size, 1, &used1);
	body = r == 1 ? used : 0;
	if ((a = malloc(size + 1)) == NULL || (b = malloc(size + 1)) == NULL) {
		free(a);
		return 0;
	}
	r1 = fuzz_chunk(data + body, size - body, size + 1, &u1, a, &o1);
	r2 = fuzz_chunk(data + body, size - body, step, &u2, b, &o2);
	if ((r1 >= 0) != (r2 >= 0) || (r1 == 1 && (r2 != 1 || u1 != u2)) ||
	    (r1 >= 0 && r2 >= 0 && (o1 != o2 || memcmp(a, b, o1) != 0)))
		abort();
	free(a);
	free(b);
	return 0;
}
