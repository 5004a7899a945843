/*
 * tunneld: the server.  One private header, prototypes grouped by file.
 *
 * Threads: libmicrohttpd's pool runs the access handlers; one session loop
 * (session.c) owns every agent WebSocket and every stream's protocol state.
 * A public request becomes a stream handed to the loop through its inbox
 * (mutex + eventfd) while its MHD connection is suspended; no pool thread
 * ever waits on a tunnel.  A request without a body is the exception: the
 * pool thread writes its OPEN and END to the agent's socket itself while
 * the loop sleeps and nothing else is being written (session_open_direct),
 * and the loop takes the stream into its table afterwards.  Data between
 * the two sides of a stream crosses under the stream's own mutex.
 */
#ifndef TUNNELD_H
#define TUNNELD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "proto.h"
#include "tbuf.h"
#include "util.h"
#include "wsframe.h"

#define TUNNELD_MIN_KEY		16
#define TUNNELD_ID_LEN		64		/* buffer for an id + NUL */
#define TUNNELD_RANDOM_ID	10		/* random ids: 10 of [a-z0-9] */
#define TUNNELD_TOKEN_LEN	43		/* auth_token characters */
#define TUNNELD_MAX_API_BODY	(64 * 1024)
#define TUNNELD_REQ_BUF		(256 * 1024)	/* upload bytes per stream */
#define TUNNELD_WQ_LOW		(256 * 1024)	/* produce DATA below this */
#define TUNNELD_WQ_MAX		(32 * 1024 * 1024)
#define TUNNELD_MAX_WS_FRAME	(PROTO_MAX_MSG)
#define TUNNELD_MEM_CAP		(256LL * 1024 * 1024)	/* all buffered bodies */
#define TUNNELD_POOL_MAX	16		/* agents (and tokens) per tunnel */
#define TUNNELD_SESSION_MAX	16		/* tunnels per agent connection */
#define TUNNELD_REQID_LEN	129		/* X-Request-Id + NUL */
#define TUNNELD_REQID_RANDOM	16		/* hex digits of a new one */
#define TUNNELD_BODY_SLACK	(1024 * 1024)	/* read past max_body_size */
#define TUNNELD_PROBE_MS	2000	/* a suspended caller still there? */
/*
 * libmicrohttpd's per-connection pool is max_header_size plus this.  It
 * zeroes the whole pool after every request, so each kept-alive
 * connection holds all of it in memory.
 */
#define TUNNELD_POOL_SLACK	(16 * 1024)
#define TUNNELD_WHOLE_BODY	(64 * 1024)	/* sent from a buffer up to this */
#define TUNNELD_SEND_BLOCK	(64 * 1024)	/* a streamed body's send size */
#define TUNNELD_BULK_BLOCK	(256 * 1024)	/* ... when it is at least */
#define TUNNELD_BULK_BODY	(1024 * 1024)	/* this long, */
#define TUNNELD_BULK_MAX	64		/* for so many at once */

/* An API key as configured: its name and SHA-256 (never the key itself). */
struct apikey {
	char		 name[64];
	char		 hash[UTIL_SHA256_HEX];
	bool		 admin;
	int		 max_tunnels;	/* 0: only the global max_tunnels */
	char		 names[256];	/* "demo-*,acme": names it may take */
};

struct jwt_verifier;

/* The deny list of deny_file (deny.c). */
#define DENY_MAX_RULES		65536
struct denylist {
	char		(*names)[TUNNELD_ID_LEN];	/* glob patterns */
	size_t		 nnames, names_cap;
	struct cidr	*addrs;
	size_t		 naddrs, addrs_cap;
};

struct config {
	char		*config_file;
	char		*listen;
	char		*public_url;
	char		*domain;
	struct apikey	*keys;
	size_t		 nkeys;
	char		*api_key_file;
	char		*tls_cert;
	char		*tls_key;
	char		*tls_priority;
	char		*redirect_listen;
	int		 request_timeout;
	int		 max_tunnels;
	int		 max_header_size;
	long long	 max_body_size;
	int		 max_streams;
	int		 heartbeat_interval;
	int		 idle_timeout;
	int		 cleanup_interval;
	int		 rate_limit;
	int		 tunnel_rate_limit;
	int		 max_conns_per_ip;
	int		 connection_timeout;
	char		*deny_file;
	struct denylist	*deny;			/* deny_file, or NULL */
	struct cidr	*trusted;
	size_t		 ntrusted;
	char		*tcp_ports;
	char		*state_dir;
	char		*metrics_listen;
	int		 log_level;
	int		 threads;
	char		*port_file;
	int		 drain_timeout;
	bool		 generated_key;		/* made on first start */
	int		 tcp_lo, tcp_hi;	/* tcp_ports, 0: none */
	char		*jwt_secret;
	char		*jwt_secret_file;
	char		*jwt_jwks_file;
	char		*jwt_issuer;
	char		*jwt_audience;
	struct jwt_verifier *jwt;		/* NULL: no JWT accepted */
	int		 log_format;		/* enum log_format */
	int		 uptime_interval;	/* s per uptime sample */
};

/* A tunnel: what the registry and the state file hold. */
struct tunnel {
	char		 id[TUNNELD_ID_LEN];
	char		 owner[64];		/* API key name */
	/* tokens: [0] newest; more than one when agents share (pool) it */
	char		 token_hash[TUNNELD_POOL_MAX][UTIL_SHA256_HEX];
	int		 ntokens;
	char		 type[8];
	int		 local_port;
	bool		 named;			/* requested by name: reserved */
	int64_t		 created_at;
	int64_t		 last_active;
	int64_t		 disconnected_at;	/* 0 while an agent is on */
	char		*metadata;		/* JSON text, may be NULL */
	/* visitor access, checked before anything reaches the agent */
	char		*auth_user;		/* basic auth, or NULL */
	char		 auth_salt[33];
	char		 auth_hash[UTIL_SHA256_HEX];	/* of salt + password */
	struct cidr	*allow;			/* allow list, or none */
	char		**allow_spec;		/* as given, for the state */
	size_t		 nallow;
	/* connected agents, served in turn; each holds a reference */
	struct session	*sessions[TUNNELD_POOL_MAX];
	int		 nsessions;
	unsigned	 rr;
	int		 tcp_port;		/* type tcp: its public port */
	uint64_t	 requests;
	struct tunnel	*next;			/* hash chain */
	struct tstats	*stats;			/* its /metrics counters */
	struct uptime	*uptime;		/* NULL until first sampled */
};

/*
 * A tunnel's uptime history (uptime.c): UPTIME_FINE slots of
 * uptime_interval seconds one by one, UPTIME_COARSE groups of UPTIME_GROUP
 * slots as counts.  With the default minute: 24 h, and 30 days by hour.
 */
#define UPTIME_FINE		1440
#define UPTIME_GROUP		60
#define UPTIME_COARSE		720
#define UPTIME_MAX_INTERVAL	3600
#define UPTIME_HDR		16
#define UPTIME_REC		(TUNNELD_ID_LEN + 8 + UPTIME_FINE / 4 + \
				    2 * UPTIME_COARSE)

struct uptime {
	int64_t		 last;			/* newest slot, -1: none */
	uint8_t		 seen[UPTIME_FINE / 8];	/* sampled */
	uint8_t		 up[UPTIME_FINE / 8];	/* and connected */
	uint8_t		 hn[UPTIME_COARSE];	/* samples in the group */
	uint8_t		 hup[UPTIME_COARSE];	/* connected ones */
};

/* A dashboard login (websess.c). */
#define WEBSESS_MAX		64	/* sessions at once */
#define WEBSESS_TTL		(12 * 3600)	/* seconds, from the login */
#define WEBSESS_COOKIE		"tunneld_session"
#define WEBSESS_COOKIE_LEN	43	/* random [A-Za-z0-9] */
#define WEBSESS_CSRF_LEN	32
#define WEBSESS_FAIL_SLOTS	256	/* addresses with failed logins */
#define WEBSESS_FAIL_MAX	5	/* failures an address may have ... */
#define WEBSESS_FAIL_WINDOW	60	/* ... in this many seconds */

struct websess {
	char		 hash[UTIL_SHA256_HEX];		/* of the cookie */
	char		 csrf[WEBSESS_CSRF_LEN + 1];
	char		 key_hash[UTIL_SHA256_HEX];	/* admin key used */
	int64_t		 expires;
	bool		 used;
};

struct json_object;
struct loop;
struct tstats;

/* What an epoll event's data.ptr points at: the first member of each. */
enum evkind {
	EVK_SESSION = 1,
	EVK_STREAM,
	EVK_LISTEN		/* a TCP tunnel's public port: tcp.c */
};

/* One agent WebSocket. */
struct session {
	int			 evkind;	/* EVK_SESSION: first */
	atomic_int		 refs;
	struct loop		*loop;
	char			 tunnel_id[TUNNELD_ID_LEN];
	char			 peer[64];
	struct sockaddr_storage	 src;		/* source address (limits.c) */
	char			*base;		/* URL base the agent used */
	char			 token_hash[UTIL_SHA256_HEX];	/* it showed */
	char			*agent_id;	/* from HELLO, may be NULL */
	/* more tunnels served (ATTACH), loop private; tunnel_id first */
	char			(*more)[TUNNELD_ID_LEN];
	int			 nmore;
	/* multi and fd change under wmtx: pool threads read them */
	bool			 multi;		/* OPEN names the tunnel */
	int			 fd;		/* ours: detached from MHD */
	struct wsframe_dec	 dec;
	struct tbuf		 msg;		/* message being reassembled */
	int			 msg_opcode;
	struct tbuf		 wq;		/* bytes waiting for the socket */
	bool			 want_out;	/* EPOLLOUT armed */
	bool			 ready;		/* agent's HELLO received */
	bool			 closing;	/* close frame sent or asked */
	bool			 dead;		/* loop dropped it */
	bool			 rx_paused;	/* global memory cap */
	bool			 overflow;	/* write queue over its ceiling */
	bool			 relay_blocked;	/* an upgraded stream waits */
	bool			 goaway;	/* sent: pool threads stop */
	uint32_t		 peer_window;
	atomic_uint		 next_id;
	atomic_int		 nstreams;
	atomic_llong		 buffered;	/* its streams' response bytes */
	uint64_t		 last_rx_ms;
	uint64_t		 last_ping_ms;
	uint64_t		 opened_ms;
	/* the socket's write side, shared with the pool threads */
	pthread_mutex_t		 wmtx;		/* these, and every send() */
	bool			 wdirect;	/* pool threads may write */
	struct tbuf		 wrem;		/* what theirs left unwritten */
	struct stream		*opened;	/* theirs, not in tab yet */
	/* loop private */
	struct stream		**tab;		/* open-addressed by id */
	size_t			 tabsize;
	size_t			 tabused;
	struct stream		*ready_head;	/* streams with data to send */
	struct stream		*ready_tail;
	struct session		*next;		/* loop's list */
	struct session		*inbox_next;
	int			 close_code;
	char			 close_reason[64];
	uint8_t			*extra_in;
	size_t			 extra_len;
};

/* One public request (or upgraded connection) carried over a session. */
struct stream {
	int			 evkind;	/* EVK_STREAM: first */
	atomic_int		 refs;
	pthread_mutex_t		 mtx;
	uint32_t		 id;
	struct session		*sess;
	struct MHD_Connection	*conn;		/* NULL once MHD is done */
	uint64_t		 started_ms;
	char			 tunnel_id[TUNNELD_ID_LEN];
	/* from the MHD side, under mtx */
	struct proto_head	 open;		/* request head to send */
	struct tbuf		 req;		/* upload bytes to send */
	bool			 req_end;
	uint64_t		 req_total;	/* upload bytes so far */
	bool			 cancel;	/* caller gone or done */
	uint64_t		 consumed;	/* response bytes to credit */
	bool			 suspended;	/* we suspended conn */
	bool			 in_inbox;
	bool			 upload_wait;	/* suspended for req room */
	int			 caller_fd;	/* MHD's socket, for probes */
	uint64_t		 probe_ms;	/* next look at it, suspended */
	/* from the loop, under mtx */
	struct proto_head	 resp;
	bool			 have_resp;
	int			 err_status;	/* 502, 504 ... page */
	const char		*err_text;
	struct tbuf		 body;		/* response bytes for MHD */
	bool			 resp_end;
	bool			 resp_reset;
	/*
	 * loop private (a pool thread that opens the stream sets them before
	 * it puts it in sess->opened)
	 */
	bool			 open_sent;
	bool			 end_sent;
	bool			 in_table;
	bool			 in_ready;
	bool			 finished;
	int64_t			 credit;	/* we may send this much */
	int64_t			 recv_left;	/* peer may send this much */
	uint64_t		 deadline_ms;
	struct stream		*ready_next;
	struct stream		*inbox_next;
	struct stream		*tab_next;
	struct stream		*defer_next;
	struct stream		*opened_next;	/* under sess->wmtx */
	/* upgraded (WebSocket passthrough): see relay.c */
	bool			 upgrade;	/* the caller asked to upgrade */
	bool			 raw_pending;	/* MHD handed the socket over */
	uint8_t			*raw_in;	/* bytes MHD read past the head */
	size_t			 raw_in_len;
	int			 fd;
	struct MHD_UpgradeResponseHandle *urh;
	bool			 raw;		/* loop relays fd <-> DATA */
	bool			 in_epoll;
	bool			 raw_eof;	/* caller's EOF, END sent */
	bool			 raw_wr_shut;	/* agent's END delivered */
	bool			 rx_off;	/* not reading: no credit */
	bool			 want_out;
	uint64_t		 raw_unacked;	/* written, not yet credited */
	bool			 tcp;		/* a TCP tunnel's connection */
	struct tstats		*stats;		/* the tunnel's counters */
	atomic_uint_fast64_t	 bytes_sent;	/* body bytes to the caller */
	bool			 bulk_block;	/* its response has one */
};

/* Per-request context of the MHD side. */
enum preq_kind {
	PREQ_NEW = 0,
	PREQ_LOCAL,		/* answered by tunneld itself */
	PREQ_PROXY,		/* carried over a stream */
	PREQ_UPGRADE		/* agent connect */
};

struct preq {
	enum preq_kind		 kind;
	bool			 started;
	char			*uri;		/* raw request target */
	struct tbuf		 body;		/* API bodies */
	bool			 too_big;
	int			 status;	/* an answer decided early */
	char			*answer;
	const char		*answer_type;
	bool			 json;		/* answer: {"error": answer} */
	bool			 answered;	/* queued already */
	unsigned int		 retry_after;	/* 429: Retry-After */
	struct sockaddr_storage	 src;		/* source address (limits.c) */
	char			*base;		/* upgrade: URL base used */
	char			 token_hash[UTIL_SHA256_HEX];	/* upgrade */
	struct stream		*st;
	uint64_t		 started_ms;
	char			 tunnel_id[TUNNELD_ID_LEN];
	/* a proxied request, for the access log (access.c) */
	bool			 access;
	int			 sent_status;	/* the status queued */
	uint64_t		 local_bytes;	/* body of a page we sent */
	char			*method;
	char			 addr[64];	/* the caller's address */
	char			 reqid[TUNNELD_REQID_LEN];
	struct tstats		*stats;		/* the tunnel's counters */
};

/* tunneld.c */
extern struct config	 cfg;
extern struct MHD_Daemon *tunneld_mhd;
extern atomic_bool	 tunneld_draining;
extern atomic_int	 tunneld_inflight;
extern atomic_llong	 tunneld_buffered;	/* response bytes held */
extern pthread_rwlock_t	 cfg_lock;	/* cfg.keys, .trusted, .jwt, .deny */
/*
 * The limits a reload changes in place (config_reload) are read by the
 * pool threads without cfg_lock: each is one aligned word, stored and
 * loaded whole, so a reader sees either the old value or the new one.
 * Read each once where a decision uses it twice.
 */
#define CFG_GET(f)	__atomic_load_n(&cfg.f, __ATOMIC_RELAXED)
#define CFG_SET(f, v)	__atomic_store_n(&cfg.f, (v), __ATOMIC_RELAXED)
const char	*tunneld_public_base(void);
int		 tunneld_listen(const char *, int *);

/* config.c */
void		 config_defaults(struct config *);
int		 config_load(struct config *, int, char **);
void		 config_free(struct config *);
void		 config_usage(FILE *);
int		 config_add_key(struct config *, const char *, bool, char *,
		    size_t);
int		 config_ensure_key(struct config *);
void		 config_reload(int, char **);

/* keys.c */
const struct apikey *keys_check(const char *);
const struct apikey *keys_from_request(struct MHD_Connection *);
bool		 keys_admin_hash(const char *);
int		 keys_load_jwt(struct config *);
int		 keys_hash_stdin(void);

/* keyfile.c */
int		 keyfile_parse_line(const char *, struct apikey *, char *,
		    size_t);
bool		 keyfile_name_allowed(const struct apikey *, const char *);

/* apibody.c */
#define APIBODY_MAX_CIDRS	64
#define APIBODY_MAX_METADATA	4096
struct apibody {			/* POST /api/tunnels */
	struct json_object *root;	/* the parsed body: owns the strings */
	const char	*name;		/* name or subdomain, or NULL */
	int		 local_port;	/* 0: not given */
	bool		 tcp;		/* type "tcp" */
	int		 remote_port;	/* tcp: asked for, 0: any */
	bool		 pool;		/* join the agents of the tunnel */
	const char	*basic_auth;	/* "user:password", or NULL */
	const char	*cidrs[APIBODY_MAX_CIDRS];
	size_t		 ncidrs;
	char		*metadata;	/* compact JSON text, or NULL */
};
int		 apibody_parse(const char *, size_t, struct apibody *, char *,
		    size_t);
void		 apibody_free(struct apibody *);

/* http.c */
enum MHD_Result	 http_handler(void *, struct MHD_Connection *, const char *,
		    const char *, const char *, const char *, size_t *,
		    void **);
void		*http_uri_log(void *, const char *, struct MHD_Connection *);
void		 http_iplimit_init(unsigned int);
enum MHD_Result	 http_accept(void *, const struct sockaddr *, socklen_t);
void		 http_connection(void *, struct MHD_Connection *, void **,
		    enum MHD_ConnectionNotificationCode);
void		 http_completed(void *, struct MHD_Connection *, void **,
		    enum MHD_RequestTerminationCode);
enum MHD_Result	 http_send(struct MHD_Connection *, int, const char *,
		    const char *);
enum MHD_Result	 http_send_json_error(struct MHD_Connection *, int,
		    const char *);
enum MHD_Result	 http_send_json_retry(struct MHD_Connection *, int,
		    const char *, unsigned int);
enum MHD_Result	 http_refuse(struct MHD_Connection *, struct preq *, int,
		    const char *, bool, unsigned int);
void		 http_source(struct MHD_Connection *,
		    struct sockaddr_storage *);
enum MHD_Result	 http_send_page(struct MHD_Connection *, int, const char *,
		    const char *);
const char	*http_header(struct MHD_Connection *, const char *);
bool		 http_reserved(const char *);
char		*http_request_base(struct MHD_Connection *);
void		 http_upgraded_socket(struct MHD_Connection *, MHD_socket);
int		 http_detach_socket(struct MHD_Connection *, MHD_socket,
		    struct MHD_UpgradeResponseHandle *);
bool		 http_trusted(struct MHD_Connection *, char *, size_t,
		    const struct sockaddr **);
void		 preq_free(struct preq *);
size_t		 http_last_sent(void);

/* api.c */
enum MHD_Result	 api_dispatch(struct MHD_Connection *, struct preq *,
		    const char *, const char *);

/* dashboard.c */
enum MHD_Result	 dashboard_dispatch(struct MHD_Connection *, struct preq *,
		    const char *, const char *);

/* proxy.c */
enum MHD_Result	 proxy_start(struct MHD_Connection *, struct preq *,
		    const char *, const char *, const char *, bool);
enum MHD_Result	 proxy_continue(struct MHD_Connection *, struct preq *,
		    const char *, size_t *);

/* upgrade.c */
enum MHD_Result	 upgrade_connect(struct MHD_Connection *, struct preq *,
		    const char *);

/* session.c */
int		 loop_start(void);
void		 loop_stop(void);
void		 loop_add_session(struct session *);
void		 loop_notify_locked(struct stream *);
void		 loop_kick(struct session *, const char *, int, const char *);
struct session	*session_new(const char *, const char *);
int		 loop_epfd(void);
void		 loop_defer_unref(struct stream *);
void		 session_send_data(struct session *, uint32_t, const void *,
		    size_t);
void		 session_send_end(struct session *, uint32_t);
void		 session_send_reset(struct session *, uint32_t, uint32_t,
		    const char *);
void		 session_send_window(struct session *, uint32_t, uint32_t);
void		 session_stream_finish(struct session *, struct stream *);
void		 session_stream_raw(struct session *, struct stream *);
bool		 session_open_direct(struct stream *);
void		 loop_wake(void);
void		 session_output(struct session *);
void		 session_ref(struct session *);
void		 session_unref(struct session *);
int		 session_count(void);

/* tcp.c */
int		 tcp_open_locked(struct tunnel *, int, const char **);
void		 tcp_close(const char *, int);
void		 tcp_restore(void);
void		 tcp_loop_ops(void);
void		 tcp_accept(void *);
void		 tcp_tick(uint64_t);
void		 tcp_stop(void);

/* iplimit.c */
struct ipslot;
struct iplimit {
	pthread_mutex_t	 mtx;
	struct ipslot	*slots;		/* NULL: no limit */
	uint32_t	 seed;
	unsigned int	 max;
};
enum { IPLIMIT_TAKEN, IPLIMIT_FULL, IPLIMIT_PASS };
void		 iplimit_init(struct iplimit *, unsigned int);
void		 iplimit_free(struct iplimit *);
void		 iplimit_key(const struct sockaddr *, uint8_t [16]);
int		 iplimit_take(struct iplimit *, const uint8_t [16], bool);
bool		 iplimit_full(struct iplimit *, const uint8_t [16]);
void		 iplimit_put(struct iplimit *, const uint8_t [16]);

/* tls.c */
int		 tls_init(void);
bool		 tls_enabled(void);
int		 tls_start(int, int);
void		 tls_quiesce(void);
void		 tls_release_mhd(void);
void		 tls_stop(void);
void		 tls_reload(const struct config *);

/* redirect.c */
void		 redirect_start(int);
void		 redirect_stop(void);

/* relay.c */
void		 relay_upgraded(void *, struct MHD_Connection *, void *,
		    const char *, size_t, MHD_socket,
		    struct MHD_UpgradeResponseHandle *);
void		 relay_start(struct session *, struct stream *);
void		 relay_io(struct stream *, uint32_t);
void		 relay_flush(struct session *, struct stream *);
void		 relay_resume(struct stream *);
void		 relay_close(struct stream *);

/* stream.c */
struct stream	*stream_new(struct session *, const char *);
void		 stream_ref(struct stream *);
void		 stream_unref(struct stream *);
ssize_t		 stream_reader(void *, uint64_t, char *, size_t);
void		 stream_reader_free(void *);
void		 stream_wake_locked(struct stream *);
void		 stream_held(struct stream *, long long);
void		 stream_suspend_locked(struct stream *);
bool		 stream_caller_gone(struct stream *, uint64_t);
struct MHD_Response *stream_response_locked(struct stream *);

/* registry.c */
void		 registry_init(void);
void		 registry_free(void);
void		 registry_lock(void);
void		 registry_unlock(void);
struct tunnel	*registry_find_locked(const char *);
struct tunnel	*registry_find_port_locked(int);
int		 registry_add_locked(struct tunnel *);
void		 registry_remove_locked(struct tunnel *);
size_t		 registry_count_locked(void);
size_t		 registry_count_owner_locked(const char *);
void		 registry_foreach_locked(void (*)(struct tunnel *, void *),
		    void *);
struct tunnel	*tunnel_new(const char *, const char *);
char		*tunnel_url(const struct tunnel *, const char *);
void		 tunnel_free(struct tunnel *);
int		 registry_session(const char *, bool, const struct sockaddr *,
		    const char *, bool *, struct session **);
struct session	*registry_other_session(const char *, const struct session *);
void		 tunnel_set_token(struct tunnel *, const char *, bool);
bool		 tunnel_connected(const struct tunnel *);
int		 tunnel_take_sessions(struct tunnel *,
		    struct session *[TUNNELD_POOL_MAX]);
void		 registry_kick(struct session *const *, int, const char *, int,
		    const char *);
int		 registry_attach(struct session *, const char *, const char *,
		    char **);
int		 registry_session_stats(const char *, bool,
		    const struct sockaddr *, const char *, bool *,
		    struct session **, struct tstats **);
void		 registry_detach(struct session *);
void		 registry_detach_one(struct session *, const char *);
void		 registry_cleanup(void);
int		 registry_delete(const char *, const char *);
int		 registry_rotate(const char *, const char *, char *, size_t);
bool		 registry_check_token(const char *, const char *, char *,
		    size_t);
void		 registry_deny_sweep(void);
int		 tunnel_set_access(struct tunnel *, const char *,
		    const char *const *, size_t, const char **);
void		 tunnel_set_auth_hash(struct tunnel *, const char *,
		    const char *, const char *);
struct json_object *tunnel_allow_json(const struct tunnel *);

/* state.c */
int		 state_load(void);
int		 state_save_locked(void);
int		 state_start(void);
void		 state_stop(void);
void		 state_sync(void);
int		 state_write(const char *, const void *, size_t);

/* history.c */
void		 history_tick(void);
int		 history_load(void);
int		 history_save(void);
int64_t		 history_slot(void);

/* notify.c */
int		 notify_ready(void);
int		 notify_reloading(void);
int		 notify_stopping(void);
int		 notify_watchdog(void);
uint64_t	 notify_watchdog_ms(void);

/* metrics.c */
enum metric_counter {
	M_REQ_1XX, M_REQ_2XX, M_REQ_3XX, M_REQ_4XX, M_REQ_5XX,
	M_BYTES_IN, M_BYTES_OUT, M_AGENT_CONNECTS, M_API_REQUESTS,
	M_RATE_LIMITED, M_DENIED,
	M_COUNT
};

/* A tunnel's counters as read at one moment (for the dashboard). */
struct tcounts {
	uint64_t	 req[5];		/* 1xx .. 5xx */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	int		 open;
};
void		 metrics_add(enum metric_counter, uint64_t);
void		 metrics_request_done(int, uint64_t);
char		*metrics_render(void);
struct tstats	*metrics_tunnel_new(void);
void		 metrics_tunnel_ref(struct tstats *);
void		 metrics_tunnel_unref(struct tstats *);
void		 metrics_stream_open(struct tstats *);
void		 metrics_stream_close(struct tstats *);
void		 metrics_tunnel_done(struct tstats *, int, uint64_t);
void		 metrics_bytes(struct tstats *, enum metric_counter, uint64_t);
void		 metrics_tunnel_counts(struct tstats *, struct tcounts *);
void		 metrics_listen_start(void);
void		 metrics_listen_stop(void);

/* uptime.c */
void		 uptime_init(struct uptime *);
void		 uptime_record(struct uptime *, int64_t, bool);
void		 uptime_sum(const struct uptime *, int64_t, int64_t, unsigned *,
		    unsigned *);
void		 uptime_bars(const struct uptime *, int64_t, int, int, int *);
void		 uptime_encode(const struct uptime *, const char *, uint8_t *);
int		 uptime_decode(const uint8_t *, char [TUNNELD_ID_LEN],
		    struct uptime *);
void		 uptime_header(uint8_t *, int, uint32_t);
int		 uptime_parse(const uint8_t *, size_t, int, int *,
		    void (*)(const char *, const struct uptime *, void *),
		    void *);

/* websess.c */
void		 websess_new(const char *, int64_t, char *, size_t, char *,
		    size_t);
bool		 websess_lookup(const char *, int64_t, struct websess *);
void		 websess_end(const char *);
void		 websess_clear(void);
size_t		 websess_count(int64_t);
bool		 websess_csrf_ok(const struct websess *, const char *);
bool		 websess_cookie(const char *, const char *, char *, size_t);
bool		 websess_form(const char *, size_t, const char *, char *,
		    size_t);
int		 websess_throttled(const char *, int64_t);
int		 websess_failed(const char *, int64_t);

/* ratelimit.c */
#define RATELIMIT_KEY		80	/* a key and its NUL */
struct ratelimit;
struct rl_verdict {
	unsigned int	 retry_after;	/* 0: allowed, else seconds (>= 1) */
	bool		 log;		/* a refusal to log */
	unsigned int	 suppressed;	/* refusals not logged before it */
};
struct ratelimit *ratelimit_new(size_t);
void		 ratelimit_free(struct ratelimit *);
unsigned int	 ratelimit_take(struct ratelimit *, const char *,
		    unsigned int, unsigned int, uint64_t, struct rl_verdict *);
size_t		 ratelimit_expire(struct ratelimit *, uint64_t, size_t);
size_t		 ratelimit_count(struct ratelimit *);
int		 ratelimit_addr_key(const struct sockaddr *, char *, size_t);

/* deny.c */
struct denylist	*deny_new(void);
void		 deny_free(struct denylist *);
int		 deny_parse_line(struct denylist *, const char *, char *,
		    size_t);
int		 deny_load(const char *, struct denylist **, char *, size_t);
bool		 deny_match_name(const struct denylist *, const char *);
bool		 deny_match_addr(const struct denylist *,
		    const struct sockaddr *);

/* limits.c */
void		 limits_init(void);
void		 limits_free(void);
void		 limits_expire(void);
unsigned int	 limits_addr(const struct sockaddr_storage *);
unsigned int	 limits_key(const char *);
unsigned int	 limits_tunnel(const char *);
bool		 limits_denied_addr(const struct sockaddr_storage *);
bool		 limits_denied_name(const char *);

/* access.c */
void		 access_start(struct MHD_Connection *, struct preq *,
		    const char *, const char *);
void		 access_log(struct preq *);

#endif
