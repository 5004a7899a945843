/*
 * The agent's connect request: authenticated by the tunnel's token before
 * anything is upgraded, then the socket is handed to the session loop.
 * The upgrade handler runs on an MHD pool thread: it only copies and
 * queues, and never blocks.  The socket leaves MHD there and then (see
 * http_detach_socket): an idle agent costs its session and nothing of
 * MHD's, and the session closes the socket itself.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphdr.h"
#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

static void	upgrade_done(void *, struct MHD_Connection *, void *,
		    const char *, size_t, MHD_socket,
		    struct MHD_UpgradeResponseHandle *);

static void
upgrade_done(void *cls, struct MHD_Connection *c, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct preq			*pr = req_cls;
	struct session			*s;
	const union MHD_ConnectionInfo	*ci;
	char				 peer[64] = "?";
	int				 fd;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL)
		(void)util_sockaddr_str(ci->client_addr, peer, sizeof(peer));
	s = session_new(pr->tunnel_id, peer);
	s->base = pr->base;		/* the session's now */
	pr->base = NULL;
	/* Checked in upgrade_connect; the loop checks it again on HELLO. */
	memcpy(s->token_hash, pr->token_hash, sizeof(s->token_hash));
	s->src = pr->src;
	if (extra_in_size > 0) {
		s->extra_in = xmalloc(extra_in_size);
		memcpy(s->extra_in, extra_in, extra_in_size);
		s->extra_len = extra_in_size;
	}
	/* extra_in lives in MHD's pool, which goes with the connection. */
	if ((fd = http_detach_socket(c, sock, urh)) == -1) {
		session_unref(s);
		return;
	}
	s->fd = fd;
	loop_add_session(s);	/* the loop's reference now */
}

/* Second handler call of GET /api/tunnel/connect/{id}. */
enum MHD_Result
upgrade_connect(struct MHD_Connection *c, struct preq *pr, const char *method)
{
	struct MHD_Response	*r;
	const char		*auth, *key, *v;
	char			 accept[64], owner[64];
	enum MHD_Result		 ret;
	unsigned int		 retry;

	if (strcmp(method, "GET") != 0)
		return http_send_json_error(c, 405, "method not allowed");
	auth = http_header(c, "Authorization");
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    !util_valid_name(pr->tunnel_id) ||
	    !registry_check_token(pr->tunnel_id, auth + 7, owner,
	    sizeof(owner))) {
		log_info("tunnel %s: connect refused: bad or missing token",
		    util_valid_name(pr->tunnel_id) ? pr->tunnel_id : "?");
		return http_send_json_error(c, 401,
		    "missing or wrong tunnel token");
	}
	if (limits_denied_name(pr->tunnel_id)) {
		metrics_add(M_DENIED, 1);
		log_info("tunnel %s: connect refused: disabled by the deny "
		    "list", pr->tunnel_id);
		return http_send_json_error(c, 403, "tunnel disabled");
	}
	if ((retry = limits_key(owner)) > 0)
		return http_send_json_retry(c, 429, "too many requests with "
		    "this key; slow down", retry);
	if ((v = http_header(c, "X-Tunnel-Protocol")) == NULL ||
	    strcmp(v, "1") != 0)
		return http_send_json_error(c, 400,
		    "unsupported tunnel protocol version");
	if ((v = http_header(c, "Upgrade")) == NULL ||
	    !httphdr_has_token(v, "websocket") ||
	    (v = http_header(c, "Connection")) == NULL ||
	    !httphdr_has_token(v, "upgrade") ||
	    (v = http_header(c, "Sec-WebSocket-Version")) == NULL ||
	    strcmp(v, "13") != 0 ||
	    (key = http_header(c, "Sec-WebSocket-Key")) == NULL ||
	    !wsframe_valid_key(key) ||
	    wsframe_accept_key(key, accept, sizeof(accept)) != 0)
		return http_send_json_error(c, 400,
		    "a WebSocket upgrade is expected here");
	if (atomic_load(&tunneld_draining))
		return http_send_json_error(c, 503, "server shutting down");
	free(pr->base);
	pr->base = http_request_base(c);
	util_sha256_hex(auth + 7, strlen(auth + 7), pr->token_hash);
	r = MHD_create_response_for_upgrade(upgrade_done, NULL);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}
