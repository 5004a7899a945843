/*
 * tunnel-client: the agent.  One private header, prototypes grouped by file.
 *
 * Threads: the main thread runs libwebsockets (one WebSocket for all tunnels)
 * and the control API calls; a second thread (forward.c) runs a libcurl
 * multi loop that talks to the local service.  They share the stream
 * tables and the outgoing queues under one client-wide mutex (client.mtx);
 * the curl thread wakes libwebsockets with lws_cancel_service() and the
 * lws thread wakes the curl thread with curl_multi_wakeup().  A signal
 * thread turns SIGINT and SIGTERM into a stop request.
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
#include <libwebsockets.h>

#include "proto.h"
#include "tbuf.h"

#define TC_NAME			"tunnel-client"
#define TC_DEFAULT_SERVER	"http://127.0.0.1:8080"
#define TC_DEFAULT_HOST		"localhost"
#define TC_DEFAULT_CONNECT_TO	10
#define TC_MAX_TUNNELS		16
#define TC_ID_LEN		64
#define TC_WINDOW		PROTO_DEFAULT_WINDOW	/* our receive window */
#define TC_OUTQ_MAX		(4 * 1024 * 1024)	/* queued DATA, all links */
#define TC_OUTQ_LOW		(TC_OUTQ_MAX / 2)
#define TC_RX_BUFFER		(64 * 1024)
#define TC_TABLE_SIZE		256			/* hash buckets */
#define TC_BACKOFF_MIN_MS	500
#define TC_BACKOFF_MAX_MS	30000
#define TC_STABLE_MS		10000	/* a link that lasted resets backoff */
#define TC_PING_SECS		10
#define TC_HANGUP_SECS		25
#define TC_API_TIMEOUT		30

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

/* A queued outgoing protocol message, LWS_PRE bytes of headroom. */
struct omsg {
	struct omsg	*next;
	size_t		 len;
	bool		 data;		/* DATA or END: counts for the cap */
	uint8_t		 buf[];		/* LWS_PRE + len */
};

struct oqueue {
	struct omsg	*head;
	struct omsg	*tail;
};

struct link;
struct upgrade;

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
	bool			 resp_sent;
	struct stream		*tab_next;
	struct stream		*inbox_next;
	/* curl thread only */
	struct upgrade		*up;		/* upgraded: a raw connection */
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
	uint16_t		 attempts;
	uint64_t		 up_ms;		/* HELLO received at */
	bool			 ever_up;
	bool			 hello_done;
	bool			 stale;		/* token refused: create again */
	struct tbuf		 rx;		/* message being reassembled */
	bool			 rx_partial;
	/* under client.mtx */
	bool			 connected;	/* established, may queue */
	uint32_t		 peer_window;
	struct oqueue		 ctrl;		/* HELLO, RESPONSE, WINDOW, RESET */
	struct oqueue		 data;		/* DATA, END */
	struct stream		*tab[TC_TABLE_SIZE];
};

struct client {
	struct options		*opt;
	struct server_url	 srv;
	pthread_mutex_t		 mtx;
	atomic_bool		 stop;
	int			 exit_code;
	struct link		*links;
	size_t			 nlinks;
	struct link		*primary;	/* the one connected to */
	/* lws */
	struct lws_context	*ctx;
	bool			 cert_error;	/* seen in the lws log */
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
void		 ws_queue_locked(struct link *, bool, struct omsg *);
struct omsg	*ws_msg_new(size_t, bool);
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

#endif
