/*
 * tunnel-client: the agent.  One private header, prototypes grouped by file.
 *
 * Threads: the main thread runs libwebsockets (one connection for all
 * tunnels, with our TLS and WebSocket on it: ws.c) and the control API
 * calls; a second thread (forward.c) runs a libcurl multi loop that talks
 * to the local service.  They share the stream
 * tables and the outgoing queues under one client-wide mutex (client.mtx);
 * the curl thread wakes libwebsockets with lws_cancel_service() and the
 * lws thread wakes the curl thread with curl_multi_wakeup().  On a plain
 * connection the curl thread also writes what it queued itself when
 * nothing else is being written, under client.wmtx: a short response
 * leaves without waking the lws thread.  A signal thread turns SIGINT and
 * SIGTERM into a stop request.
 */
#ifndef TUNNEL_CLIENT_H
#define TUNNEL_CLIENT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <libwebsockets.h>

#include "httphead.h"
#include "log.h"
#include "proto.h"
#include "tbuf.h"
#include "wsframe.h"

#define TC_NAME			"tunnel-client"
#define TC_DEFAULT_SERVER	"http://127.0.0.1:8080"
#define TC_DEFAULT_HOST		"localhost"
#define TC_DEFAULT_CONNECT_TO	10
#define TC_MAX_TUNNELS		16
#define TC_ID_LEN		64
#define TC_WINDOW		PROTO_DEFAULT_WINDOW	/* our receive window */
#define TC_OUTQ_MAX		(4 * 1024 * 1024)	/* queued DATA, all links */
#define TC_OUTQ_LOW		(TC_OUTQ_MAX / 2)
#define TC_CTRLQ_MAX		(4 * 1024 * 1024)	/* queued control */
#define TC_MAX_STREAMS		1024	/* open on one connection */
#define TC_RX_BUFFER		(256 * 1024)	/* one read */
#define TC_HELD_MAX		(64 * 1024 * 1024)	/* bodies held, all */
#define TC_RX_READS		4	/* reads per curl-thread turn */
#define TC_CURL_BUFFER		(256 * 1024)	/* one read from the service */
#define TC_MALLOC_KEEP		(2 * TC_OUTQ_MAX)	/* freed, kept */
#define TC_MALLOC_MMAP		(1024 * 1024)	/* mmap from this size */
#define TC_TABLE_SIZE		256			/* hash buckets */
#define TC_BACKOFF_MIN_MS	500
#define TC_BACKOFF_MAX_MS	30000
#define TC_STABLE_MS		10000	/* a link that lasted resets backoff */
#define TC_PING_SECS		10
#define TC_HANGUP_SECS		20
#define TC_API_TIMEOUT		30
#define TC_INSPECT_DEFAULT	"127.0.0.1:4040"
#define TC_INSPECT_TRIES	10	/* 4040..4049, then any free port */
#define TC_INSPECT_MAX		500	/* exchanges kept per tunnel */
#define TC_INSPECT_MAX_MAX	100000
#define TC_INSPECT_BODY_CAP	(1024 * 1024)	/* kept of each body */
#define TC_INSPECT_CAP_MAX	(64 * 1024 * 1024)
#define TC_INSPECT_MEM_MAX	((size_t)64 * 1024 * 1024) /* kept, all */

/* One tunnel as configured: command line or a [tunnel NAME] section. */
struct tunnel_conf {
	char		 *name;		/* section name, may be NULL */
	char		 *host;		/* local service host */
	int		  port;		/* local service port, 0: none */
	bool		  https;	/* local service speaks https */
	bool		  tcp;		/* type tcp: raw bytes to port */
	int		  remote_port;	/* tcp: public port asked for, 0: any */
	bool		  pool;		/* share the tunnel with other agents */
	char		 *subdomain;	/* requested id, may be NULL */
	char		 *basic_auth;	/* USER:PASS, may be NULL */
	char		**allow_cidr;
	size_t		  nallow_cidr;
	char		 *host_header;	/* "rewrite", "preserve" or a value */
};

struct options {
	char			*server;
	char			*api_key;
	char			*ca_file;
	char			*config_file;
	bool			 insecure;
	bool			 fresh;		/* --new */
	bool			 quiet;
	int			 verbose;
	int			 connect_timeout;
	int			 request_timeout;
	bool			 done;		/* --help, --version: exit 0 */
	char			*inspect;	/* inspector ADDR:PORT, NULL: off */
	bool			 inspect_default; /* not given: next free port */
	char			*capture_file;	/* captures kept here, or NULL */
	int			 inspect_max;	/* exchanges kept per tunnel */
	int			 inspect_body_cap; /* bytes kept of each body */
	char			 agent_id[24];	/* this process, in HELLO */
	struct tunnel_conf	*tunnels;
	size_t			 ntunnels;
};

/* The server URL split up. */
struct server_url {
	bool	 tls;
	char	 host[256];
	int	 port;
	char	 base[1024];	/* scheme://host[:port][/prefix], no trailing / */
	char	 prefix[512];	/* path prefix, "" or "/x" */
};

/* What the API gives back (and the state file keeps). */
struct tunnel_info {
	char	*tunnel_id;
	char	*token;
	char	*url;
};

/*
 * A message for the server: a protocol message (binary), or a WebSocket
 * PING, PONG or CLOSE payload.  Its bytes go at buf + LWS_PRE; once queued
 * it is a WebSocket frame: the header, hl bytes, written just before them
 * and the bytes masked in place, so that it is written as it is.
 */
struct omsg {
	struct omsg	*next;
	size_t		 len;
	bool		 data;		/* DATA or END: counts for the cap */
	uint8_t		 opcode;	/* WS_OP_BINARY unless a control */
	uint8_t		 hl;		/* frame header length; 0: not yet */
	uint8_t		 buf[];		/* LWS_PRE + len */
};

struct oqueue {
	struct omsg	*head;
	struct omsg	*tail;
};

struct link;
struct upgrade;
struct capture;
struct capring;

/*
 * One request carried over a link.  The lws thread creates it on OPEN and
 * puts it in the link's table; only the curl thread frees it, once it is
 * out of the table and the inbox and its easy handle is gone.
 */
struct stream {
	uint32_t		 id;
	struct link		*link;
	uint64_t		 started_ms;
	struct proto_head	 open;		/* request head, read-only */
	/* under client.mtx */
	struct tbuf		 req;		/* request body from the server */
	bool			 req_end;	/* server's END */
	bool			 reset;		/* stop: reset or link lost */
	bool			 local_done;	/* our END or RESET queued */
	bool			 curl_done;	/* transfer over, DATA queued */
	bool			 in_table;
	bool			 in_inbox;
	bool			 read_paused;
	bool			 write_paused;
	int64_t			 credit;	/* DATA bytes we may send */
	uint32_t		 unacked;	/* request bytes to credit back */
	int64_t			 req_sent;	/* request bytes given to curl */
	int64_t			 req_got;	/* request bytes from the server */
	bool			 resp_sent;
	struct stream		*tab_next;
	struct stream		*inbox_next;
	/* curl thread only */
	struct upgrade		*up;		/* upgraded: a raw connection */
	struct capture		*cap;		/* the inspector's copy, or NULL */
	CURL			*easy;
	bool			 easy_done;	/* no easy handle any more */
	struct curl_slist	*hdrs;
	char			*sent_host;	/* Host the local service saw */
	bool			 in_all;
	struct proto_head	 resp;
	int			 status;
	int64_t			 resp_cl;	/* Content-Length sent, or -1 */
	bool			 head_done;
	bool			 complete;	/* whole response queued */
	bool			 logged;
	uint64_t		 bytes_out;
	char			 errbuf[CURL_ERROR_SIZE];
	struct stream		*all_next;
	struct stream		*all_prev;
};

/*
 * One tunnel at run time: its API identity.  Every tunnel of the process
 * goes over one WebSocket (PROTOCOL 5.6), whose state lives in the first
 * link: `conn` points there, and the fields from wsi on are used in that
 * link only.  The connection goes to one tunnel (client.primary); the
 * others are added with ATTACH.
 */
struct link {
	struct link		*conn;		/* &client.links[0] */
	bool			 attached;	/* served on the connection */
	bool			 dropped;	/* deleted, rotated, taken over */
	struct tunnel_conf	*conf;
	char			*state_path;	/* saved token file */
	struct tunnel_info	 info;
	char			 local_url[512];	/* http://host:port */
	char			 local_hostport[300];
	/* lws thread only */
	struct lws		*wsi;
	lws_sorted_usec_list_t	 sul;		/* reconnect timer */
	lws_sorted_usec_list_t	 ka;		/* keepalive timer */
	int			 hs;		/* WS_HS_*: the opening handshake */
	char			 hs_accept[32];	/* the Sec-WebSocket-Accept due */
	int			 hs_status;	/* the server's non-101 status */
	char			 hs_error[160];	/* and its JSON error, if any */
	struct httphead		 hh;		/* the server's answer so far */
	gnutls_session_t	 tls;		/* https: our TLS on lws's socket */
	const uint8_t		*tls_in;	/* ciphertext for GnuTLS to pull */
	size_t			 tls_in_len;
	/* dec and rx: the reader's (client.rx_mode) */
	struct wsframe_dec	 dec;		/* the server's frames */
	uint64_t		 rx_ms;		/* bytes last came in at (atomic) */
	const char		*down_why;	/* why we closed it, for the log */
	uint16_t		 attempts;
	uint64_t		 up_ms;		/* HELLO received at */
	bool			 ever_up;
	bool			 hello_done;
	bool			 stale;		/* token refused: create again */
	/* a tunnel made again after DETACH REFUSED, off the lws thread */
	pthread_t		 maker;
	bool			 making;	/* maker runs, or is to be joined */
	bool			 made;		/* atomic: maker's result is in */
	int			 made_rc;	/* the maker's, until made */
	struct tunnel_info	 made_info;
	char			 made_err[512];
	struct tbuf		 rx;		/* message being reassembled */
	/* under client.wmtx: the frames being written */
	struct oqueue		 out;		/* frames taken, not all written */
	size_t			 out_off;	/* bytes of out.head written */
	int			 wfd;		/* plain: our dup of the socket */
	/* under client.mtx */
	bool			 connected;	/* established, may queue */
	uint32_t		 peer_window;
	struct oqueue		 ctrl;		/* HELLO, RESPONSE, WINDOW, RESET */
	size_t			 ctrl_bytes;
	bool			 ctrl_over;	/* the server does not read */
	struct oqueue		 data;		/* DATA, END */
	size_t			 nstreams;	/* in tab */
	struct stream		*tab[TC_TABLE_SIZE];
	struct capring		*ring;		/* inspector captures, or NULL */
};

/* client.rx_mode: who reads the connection */
enum {
	WS_RX_LWS,		/* the lws thread (TLS, or before HELLO) */
	WS_RX_DIRECT,		/* the curl thread */
	WS_RX_BACK		/* nobody: client.back waits for lws */
};

struct client {
	struct options		*opt;
	struct server_url	 srv;
	pthread_mutex_t		 mtx;
	pthread_mutex_t		 wmtx;		/* writes to the server */
	/*
	 * Under rmtx: a plain connection, once HELLO is in, is read by the
	 * curl thread (ws_read_direct).  It hands any message but stream
	 * news back to the lws thread and reads nothing more until that
	 * one has been dealt with.
	 */
	pthread_mutex_t		 rmtx;
	int			 rx_mode;	/* WS_RX_* */
	int			 rfd;		/* the curl thread's dup, or -1 */
	uint8_t			*rbuf;		/* read, TC_RX_BUFFER */
	size_t			 rbuf_off, rbuf_len;	/* not taken apart yet */
	struct tbuf		 back;		/* WS_RX_BACK: the message */
	uint16_t		 back_code;	/* ... or the end: CLOSE code, */
	const char		*back_why;	/* and why (NULL: a message) */
	/*
	 * Atomic: request bytes held for the local service, all streams; a
	 * stream whose DATA would take them past TC_HELD_MAX is reset.
	 */
	size_t			 held;
	atomic_bool		 stop;
	int			 exit_code;
	struct link		*links;
	size_t			 nlinks;
	struct link		*primary;	/* the one connected to */
	/* lws */
	struct lws_context	*ctx;
	bool			 cert_error;	/* the server's failed verification */
	/* curl thread */
	CURLM			*multi;
	pthread_t		 fwd_thread;
	bool			 fwd_running;
	struct stream		*all;		/* curl thread only */
	/* under mtx */
	struct stream		*inbox_head;
	struct stream		*inbox_tail;
	size_t			 outq_bytes;	/* queued DATA, all links */
	bool			 outq_blocked;	/* a stream waits for room */
	bool			 kick_all;
};

/*
 * The inspector's copy of one exchange (capture.c).  The thread that made
 * it (the curl thread, or the replay worker) is its owner: it fills the
 * bodies without a lock while the state is not CAPTURE_DONE, and sets
 * state, status, response head and times under the ring's mutex.  The
 * request head is set before the capture joins its ring and never changes;
 * the response head never changes once the state is CAPTURE_HEAD, nor the
 * bodies once it is CAPTURE_DONE, so readers look at those without the
 * lock after checking the state under it (capture_view).
 */
enum { CAPTURE_PENDING, CAPTURE_HEAD, CAPTURE_DONE };

struct capbody {
	struct tbuf		 kept;		/* the first body-cap bytes */
	uint64_t		 size;		/* all bytes seen */
};

struct capture {
	atomic_int		 refs;
	uint64_t		 id;
	uint64_t		 replay_of;	/* 0: not a replay */
	struct capring		*ring;
	int64_t			 wall_ms;	/* started, ms since the epoch */
	uint64_t		 t0_us;		/* started, monotonic */
	struct proto_head	 req;		/* method, path, headers */
	struct capbody		 reqbody;
	struct capbody		 respbody;
	/* under ring->mtx */
	int			 state;
	int			 status;	/* 0: none (yet) */
	struct proto_head	 resp;
	uint64_t		 head_us;	/* response head after t0 */
	uint64_t		 total_us;	/* done after t0 */
	bool			 complete;	/* whole response passed */
	char			*error;		/* no response, cut short */
	bool			 journaled;	/* in the capture file */
};

/* What a reader may look at: copied under the ring's mutex. */
struct capview {
	int			 state;
	int			 status;
	uint64_t		 head_us;
	uint64_t		 total_us;
	bool			 complete;
	const char		*error;		/* immutable once DONE */
};

/* The exchanges of one tunnel: the newest `max`, oldest first. */
struct capring {
	pthread_mutex_t		 mtx;
	const struct link	*link;		/* local service (replay) */
	char			*label;		/* tunnel name, "" for none */
	struct capture		**ents;		/* circular, max slots */
	size_t			 max;
	size_t			 first;
	size_t			 n;
};

/* A replay's changes to the captured request (capfmt_parse_edit). */
struct capedit {
	char			*method;	/* NULL: as captured */
	char			*path;
	bool			 has_headers;	/* replace all of them */
	struct proto_head	 headers;
	bool			 has_body;
	uint8_t			*body;
	size_t			 body_len;
};

/* SSE events (inspect.c). */
enum { INSPECT_EV_NEW = 1, INSPECT_EV_UPDATE, INSPECT_EV_CLEAR,
    INSPECT_EV_PING };

/* tunnel-client.c */
extern struct client	 client;
void		 client_say(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 link_say(const struct link *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 client_stop(int);
bool		 client_stopping(void);

/* options.c */
int		 options_load(struct options *, int, char **);
void		 options_free(struct options *);
void		 options_usage(FILE *);
int		 options_server_url(const char *, struct server_url *);
int		 options_parse_target(const char *, struct tunnel_conf *);

/* api.c */
int		 api_create(const struct options *, const struct server_url *,
		    const struct tunnel_conf *, struct tunnel_info *, char *,
		    size_t);
void		 api_set_tls(CURL *, const struct options *);

/* cstate.c */
char		*cstate_path(const struct options *, const struct tunnel_conf *);
int		 cstate_load(const char *, const char *, struct tunnel_info *);
int		 cstate_save(const char *, const char *,
		    const struct tunnel_info *);
void		 cstate_remove(const char *);
void		 tunnel_info_clear(struct tunnel_info *);

/* ws.c */
int		 ws_init(void);
void		 ws_run(void);
void		 ws_free(void);
void		 ws_wake(void);
bool		 ws_send_direct(void);
int		 ws_direct_fd(void);
bool		 ws_held_add(size_t);
void		 ws_held_sub(size_t);
bool		 ws_read_direct(bool);
void		 ws_queue_locked(struct link *, bool, struct omsg *);

/* wsout.c */
struct iovec;
struct omsg	*ws_msg_new(size_t, bool);
struct omsg	*ws_msg_data(uint32_t, const void *, size_t);
void		 ws_msg_seal(struct omsg *);
void		 oqueue_push(struct oqueue *, struct omsg *);
int		 wsout_iov(const struct oqueue *, size_t, struct iovec *, int);
void		 wsout_consume(struct oqueue *, size_t *, size_t);
void		 wsout_free(struct oqueue *, size_t *);
void		 ws_queue_free_locked(struct link *);

/* inbox.c */
void		 inbox_add_locked(struct stream *);
struct stream	*inbox_take_locked(void);
struct stream	*inbox_next_locked(struct stream **);

/* forward.c */
int		 forward_start(void);
void		 forward_stop(void);
void		 forward_wake(void);
struct stream	*forward_stream_new(struct link *, uint32_t,
		    struct proto_head *);
struct stream	*forward_lookup_locked(struct link *, uint32_t);
void		 forward_table_add_locked(struct stream *);
void		 forward_table_remove_locked(struct stream *);
void		 forward_send_reset_locked(struct stream *, uint32_t,
		    const char *);
void		 forward_send_window_locked(struct stream *, uint32_t);
/* fwdhdr.c: the forwarding rules, for forwarded and replayed requests */
const char	*forward_host(const struct link *, const struct proto_head *);
bool		 forward_header_dropped(const char *, const char *);
void		 forward_curl_local(CURL *, const struct link *, const char *);
struct curl_slist *forward_header_add(struct curl_slist *, const char *,
		    const char *);

/* capture.c */
int		 capture_init(size_t, size_t);
void		 capture_free(void);
bool		 capture_enabled(void);
size_t		 capture_body_cap(void);
size_t		 capture_max(void);
void		 capture_begin(struct stream *);
void		 capture_body(struct stream *, bool, const void *, size_t);
void		 capture_head(struct stream *);
void		 capture_end(struct stream *);
struct capture	*capture_new(struct capring *, const struct proto_head *,
		    uint64_t);
void		 capture_put(struct capbody *, const void *, size_t);
void		 capture_set_head(struct capture *, int,
		    const struct proto_head *);
void		 capture_finish(struct capture *, int, bool, const char *);
void		 capture_ref(struct capture *);
void		 capture_unref(struct capture *);
void		 capture_view(struct capture *, struct capview *);
struct capture	*capture_get(uint64_t);
size_t		 capture_list(struct capture **, size_t);
size_t		 capture_count(void);
void		 capture_clear(void);
struct capring	*capture_ring(size_t);
size_t		 capture_nrings(void);
int		 capture_load(const char *);
int		 capture_journal(const char *, bool);
uint64_t	 capture_now_us(void);

/* capfmt.c */
struct json_object;
enum { CAPFMT_EMPTY, CAPFMT_JSON, CAPFMT_FORM, CAPFMT_TEXT, CAPFMT_IMAGE,
    CAPFMT_BINARY };
#define CAPFMT_HEX_MAX		(64 * 1024)	/* hex dump of the first bytes */
#define CAPFMT_FORM_MAX		1000		/* form fields shown */
#define CAPFMT_JSON_DEPTH	64
struct json_object *capfmt_summary(const struct capture *,
		    const struct capview *);
struct json_object *capfmt_detail(const struct capture *,
		    const struct capview *);
struct json_object *capfmt_body(const struct capbody *, const char *);
struct json_object *capfmt_headers(const struct proto_head *);
struct json_object *capfmt_string(const char *, size_t);
int		 capfmt_kind(const char *, const uint8_t *, size_t);
bool		 capfmt_utf8_valid(const uint8_t *, size_t);
struct json_object *capfmt_form(const uint8_t *, size_t);
char		*capfmt_pretty_json(const uint8_t *, size_t);
char		*capfmt_hexdump(const uint8_t *, size_t, size_t);
char		*capfmt_b64_encode(const uint8_t *, size_t);
int		 capfmt_b64_decode(const char *, size_t, uint8_t **, size_t *);
int		 capfmt_parse_edit(const char *, size_t, size_t,
		    struct capedit *, char *, size_t);
void		 capfmt_edit_free(struct capedit *);
bool		 capfmt_parse_id(const char *, uint64_t *);
char		*capfmt_encode_line(const struct capture *);
struct capture	*capfmt_decode_line(const char *, size_t, size_t, char **,
		    char *, size_t);
bool		 capfmt_valid_method(const char *);
bool		 capfmt_valid_path(const char *);

/* inspect.c */
int		 inspect_start(void);
void		 inspect_stop(void);
void		 inspect_event(int, uint64_t);
bool		 inspect_host_ok(const char *, const char *, int);
void		 inspect_resume(void *);
bool		 inspect_token_ok(const char *, const char *);

/* replay.c */
struct replay_job {
	struct replay_job	*next;
	struct capture		*src;		/* referenced */
	struct capedit		 edit;
	void			*conn;		/* suspended; resumed when done */
	/* the result, read once the connection is resumed */
	uint64_t		 id;		/* the new capture, 0: none */
	int			 code;		/* HTTP status of the answer */
	char			 error[256];
};
int		 replay_start(void);
void		 replay_stop(void);
void		 replay_kick(void);
int		 replay_submit(struct replay_job *);
void		 replay_job_free(struct replay_job *);

/* inspect_page.c (made from inspect.html, .css and .js at build time) */
extern const unsigned char	 inspect_html[], inspect_css[], inspect_js[];
extern const size_t		 inspect_html_len, inspect_css_len,
				 inspect_js_len;

/* curl_slist_append(); out of memory is fatal, as in xmalloc(). */
static inline struct curl_slist *
xcurl_slist_append(struct curl_slist *list, const char *s)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(list, s)) == NULL)
		fatalx("curl_slist_append: out of memory");
	return n;
}

#endif
