/*
 * proto_parse() on arbitrary bytes.  The result must be a documented code;
 * after an error nothing may be left in the message.  A message that parses
 * is checked against the documented limits, encoded again and parsed again:
 * the fields must come back the same, a binary message must come back byte
 * for byte, and a second encoding must equal the first.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tbuf.h"
#include "tunerr.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	 fuzz_proto_check(const struct proto_msg *, const uint8_t *,
		    size_t);
static int	 fuzz_proto_encode(struct tbuf *, const struct proto_msg *);
static void	 fuzz_proto_same(const struct proto_msg *,
		    const struct proto_msg *);
static void	 fuzz_proto_str(const char *, const char *);
static void	 fuzz_proto_zero(const struct proto_msg *);

static void
fuzz_proto_zero(const struct proto_msg *m)
{
	struct proto_msg	zero;

	memset(&zero, 0, sizeof(zero));
	if (memcmp(m, &zero, sizeof(zero)) != 0)
		abort();
}

static void
fuzz_proto_str(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL))
		abort();
	if (a != NULL && strcmp(a, b) != 0)
		abort();
}

/* What the parser promises about a message it accepted. */
static void
fuzz_proto_check(const struct proto_msg *m, const uint8_t *data, size_t size)
{
	size_t	i;

	if (size < PROTO_HDR_LEN || size > PROTO_MAX_MSG || m->flags != 0 ||
	    m->type != data[0])
		abort();
	if ((m->stream_id == 0) != (m->type == PROTO_HELLO ||
	    m->type == PROTO_GOAWAY || m->type == PROTO_ATTACH ||
	    m->type == PROTO_ATTACHED || m->type == PROTO_DETACH))
		abort();
	switch (m->type) {
	case PROTO_HELLO:
		if (m->hello.version < 1 || m->hello.version > 65535 ||
		    m->hello.window < PROTO_MIN_WINDOW ||
		    m->hello.window > PROTO_MAX_WINDOW)
			abort();
		break;
	case PROTO_OPEN:
	case PROTO_RESPONSE:
		if (m->head.nhdrs > PROTO_MAX_HEADERS ||
		    m->head.content_length < -1)
			abort();
		if (m->type == PROTO_OPEN && (m->head.method == NULL ||
		    m->head.path == NULL || m->head.path[0] != '/' ||
		    strpbrk(m->head.path, " \r\n") != NULL))
			abort();
		if (m->type == PROTO_RESPONSE && (m->head.status < 100 ||
		    m->head.status > 999 || m->head.method != NULL))
			abort();
		for (i = 0; i < m->head.nhdrs; i++) {
			if (m->head.hdrs[i].name[0] == '\0' ||
			    strpbrk(m->head.hdrs[i].name, " :\r\n") != NULL ||
			    strpbrk(m->head.hdrs[i].value, "\r\n") != NULL)
				abort();
		}
		break;
	case PROTO_DATA:
		if (m->data != data + PROTO_HDR_LEN ||
		    m->len != size - PROTO_HDR_LEN || m->len == 0 ||
		    m->len > PROTO_MAX_DATA)
			abort();
		break;
	case PROTO_END:
		if (size != PROTO_HDR_LEN)
			abort();
		break;
	case PROTO_RESET:
		if (m->reason != NULL && (m->reason[0] == '\0' ||
		    strlen(m->reason) > PROTO_MAX_REASON))
			abort();
		break;
	case PROTO_WINDOW:
		if (m->window == 0 || m->window > PROTO_MAX_WINDOW)
			abort();
		break;
	case PROTO_GOAWAY:
		if (m->goaway.code < 1 || (m->goaway.reason != NULL &&
		    strlen(m->goaway.reason) > PROTO_MAX_REASON))
			abort();
		break;
	case PROTO_ATTACH:
	case PROTO_ATTACHED:
	case PROTO_DETACH:
		if (m->attach.tunnel_id == NULL ||
		    m->attach.tunnel_id[0] == '\0' ||
		    (m->type == PROTO_ATTACH) != (m->attach.token != NULL) ||
		    (m->type == PROTO_DETACH) != (m->attach.code >= 1) ||
		    (m->type != PROTO_ATTACHED && m->attach.url != NULL) ||
		    (m->type != PROTO_DETACH && m->attach.reason != NULL))
			abort();
		break;
	default:
		abort();
	}
}

static int
fuzz_proto_encode(struct tbuf *b, const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO:
		return proto_encode_hello(b, &m->hello);
	case PROTO_OPEN:
		return proto_encode_open(b, m->stream_id, &m->head);
	case PROTO_RESPONSE:
		return proto_encode_response(b, m->stream_id, &m->head);
	case PROTO_DATA:
		return proto_encode_data(b, m->stream_id, m->data, m->len);
	case PROTO_END:
		return proto_encode_end(b, m->stream_id);
	case PROTO_RESET:
		return proto_encode_reset(b, m->stream_id, m->code, m->reason);
	case PROTO_WINDOW:
		return proto_encode_window(b, m->stream_id, m->window);
	case PROTO_GOAWAY:
		return proto_encode_goaway(b, m->goaway.code, m->goaway.reason);
	case PROTO_ATTACH:
	case PROTO_ATTACHED:
	case PROTO_DETACH:
		return proto_encode_attach(b, m->type, &m->attach);
	default:
		abort();
	}
}

static void
fuzz_proto_same(const struct proto_msg *a, const struct proto_msg *b)
{
	size_t	i;

	if (a->type != b->type || a->flags != b->flags ||
	    a->stream_id != b->stream_id || a->len != b->len ||
	    a->window != b->window || a->code != b->code ||
	    a->goaway.code != b->goaway.code ||
	    a->hello.version != b->hello.version ||
	    a->hello.window != b->hello.window ||
	    a->head.status != b->head.status ||
	    a->head.content_length != b->head.content_length ||
	    a->head.body != b->head.body || a->head.nhdrs != b->head.nhdrs)
		abort();
	if (a->len > 0 && memcmp(a->data, b->data, a->len) != 0)
		abort();
	fuzz_proto_str(a->reason, b->reason);
	fuzz_proto_str(a->goaway.reason, b->goaway.reason);
	fuzz_proto_str(a->hello.agent, b->hello.agent);
	fuzz_proto_str(a->hello.tunnel_id, b->hello.tunnel_id);
	fuzz_proto_str(a->hello.url, b->hello.url);
	fuzz_proto_str(a->head.method, b->head.method);
	fuzz_proto_str(a->head.path, b->head.path);
	fuzz_proto_str(a->head.tunnel, b->head.tunnel);
	fuzz_proto_str(a->hello.agent_id, b->hello.agent_id);
	fuzz_proto_str(a->attach.tunnel_id, b->attach.tunnel_id);
	fuzz_proto_str(a->attach.token, b->attach.token);
	fuzz_proto_str(a->attach.url, b->attach.url);
	fuzz_proto_str(a->attach.reason, b->attach.reason);
	if (a->attach.code != b->attach.code)
		abort();
	for (i = 0; i < a->head.nhdrs; i++) {
		fuzz_proto_str(a->head.hdrs[i].name, b->head.hdrs[i].name);
		fuzz_proto_str(a->head.hdrs[i].value, b->head.hdrs[i].value);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg	m, m2;
	struct tbuf		b, b2;
	int			r;

	memset(&m2, 0, sizeof(m2));
	tbuf_init(&b, PROTO_MAX_MSG);
	tbuf_init(&b2, PROTO_MAX_MSG);
	r = proto_parse(data, size, &m);
	if (r != 0) {
		if (r != TUN_EPROTO && r != TUN_ETOOBIG)
			abort();
		if ((r == TUN_ETOOBIG) != (size > PROTO_MAX_MSG))
			abort();
		fuzz_proto_zero(&m);
		goto out;
	}
	fuzz_proto_check(&m, data, size);

	/* A JSON message may grow when written out again; nothing else may. */
	if ((r = fuzz_proto_encode(&b, &m)) != 0) {
		if (r == TUN_ETOOBIG && (m.type == PROTO_HELLO ||
		    m.type == PROTO_OPEN || m.type == PROTO_RESPONSE ||
		    m.type == PROTO_GOAWAY || m.type == PROTO_ATTACH ||
		    m.type == PROTO_ATTACHED || m.type == PROTO_DETACH))
			goto out;
		abort();
	}
	if (m.type != PROTO_HELLO && m.type != PROTO_OPEN &&
	    m.type != PROTO_RESPONSE && m.type != PROTO_GOAWAY &&
	    m.type < PROTO_ATTACH &&
	    (tbuf_len(&b) != size || memcmp(tbuf_ptr(&b), data, size) != 0))
		abort();
	if (proto_parse(tbuf_ptr(&b), tbuf_len(&b), &m2) != 0)
		abort();
	fuzz_proto_same(&m, &m2);

	/* Written out once, the encoding is a fixed point. */
	if (fuzz_proto_encode(&b2, &m2) != 0 || tbuf_len(&b2) != tbuf_len(&b) ||
	    memcmp(tbuf_ptr(&b2), tbuf_ptr(&b), tbuf_len(&b)) != 0)
		abort();
out:
	proto_msg_clear(&m);
	proto_msg_clear(&m2);
	fuzz_proto_zero(&m);
	tbuf_free(&b);
	tbuf_free(&b2);
	return 0;
}
