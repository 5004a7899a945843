/*
 * tunneld: a self-hosted tunnel server.
 *
 * The main thread parses the configuration, opens the listener, starts the
 * session loop and libmicrohttpd's thread pool, then waits for signals and
 * runs the periodic cleanup.  SIGTERM drains: no new connections, in-flight
 * requests get drain_timeout to finish, agents get GOAWAY, exit 0.
 * Under systemd (Type=notify) it reports READY=1 once listening,
 * RELOADING=1/READY=1 around a SIGHUP, STOPPING=1 as the drain starts, and
 * pings the watchdog from the main loop (notify.c).
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

struct config		 cfg;
struct MHD_Daemon	*tunneld_mhd;
atomic_bool		 tunneld_draining;
atomic_int		 tunneld_inflight;
atomic_llong		 tunneld_buffered;
pthread_rwlock_t	 cfg_lock = PTHREAD_RWLOCK_INITIALIZER;
static char		*tunneld_base;

static void	 tunneld_write_port(int);
static void	 tunneld_drain(int);
static unsigned int tunneld_nofile(void);

/* Every connection is a descriptor: use all the hard limit allows. */
/*
 * Returns the connection limit for libmicrohttpd: agents' WebSockets count
 * against it too, so it follows the descriptors we may have, less a
 * reserve for state files, the epoll and eventfd descriptors and MHD's own.
 */
static unsigned int
tunneld_nofile(void)
{
	rlim_t	n = 0;

	if (util_raise_nofile(&n) != 0) {
		if (n == 0)
			return 1000;
		log_warn("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	}
	if (n == RLIM_INFINITY || n > 1000000)
		return 1000000;
	return n > 1128 ? (unsigned int)n - 128 : 1000;
}

const char *
tunneld_public_base(void)
{
	return tunneld_base != NULL ? tunneld_base : "http://localhost:8080";
}

/* Also for the metrics listener (metrics.c). */
int
tunneld_listen(const char *spec, int *portp)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[256], port[8];
	int			 fd = -1, one = 1, p, r;

	if (util_split_hostport(spec, host, sizeof(host), &p) != 0)
		fatalx("listen: '%s' is not HOST:PORT", spec);
	snprintf(port, sizeof(port), "%d", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0)
		fatalx("listen: %s: %s", spec, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1)
		fatal("listen: %s", spec);
	freeaddrinfo(res);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*portp = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void
tunneld_write_port(int port)
{
	char	*tmp;
	FILE	*f;

	if (cfg.port_file == NULL)
		return;
	xasprintf(&tmp, "%s.tmp", cfg.port_file);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
	    fclose(f) != 0 || rename(tmp, cfg.port_file) != 0)
		fatal("port_file %s", cfg.port_file);
	free(tmp);
}

/* SIGTERM: finish what is in flight, then stop. */
static void
tunneld_drain(int listen_fd)
{
	uint64_t	deadline;
	MHD_socket	fd;

	atomic_store(&tunneld_draining, true);
	(void)notify_stopping();
	log_info("draining: %d requests in flight",
	    atomic_load(&tunneld_inflight));
	if (tls_enabled())
		tls_quiesce();
	else if ((fd = MHD_quiesce_daemon(tunneld_mhd)) != MHD_INVALID_SOCKET)
		close(fd);
	deadline = util_now_ms() + (uint64_t)CFG_GET(drain_timeout) * 1000;
	while (atomic_load(&tunneld_inflight) > 0 && util_now_ms() < deadline) {
		struct timespec	ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&tunneld_inflight) > 0)
		log_warn("drain: %d requests cut short",
		    atomic_load(&tunneld_inflight));
	loop_stop();		/* fails and resumes what is left */
	tls_release_mhd();	/* no more connections for MHD */
	MHD_stop_daemon(tunneld_mhd);
	tunneld_mhd = NULL;
	tls_stop();		/* closes the caller's side of each */
	(void)listen_fd;
}

/* What log_mhd() puts before libmicrohttpd's messages. */
static char tunneld_mhd_tag[] = "libmicrohttpd";

int
main(int argc, char **argv)
{
	sigset_t	 set;
	siginfo_t	 si;
	struct timespec	 ts = { 1, 0 };
	char		 host[256];
	int		 lfd, port = 0, sig, hp, i;
	unsigned int	 flags, connlimit;
	struct MHD_OptionItem listen_opt[] = {
		{ MHD_OPTION_LISTEN_SOCKET, 0, NULL },
		{ MHD_OPTION_END, 0, NULL }
	};
	uint64_t	 last_clean, wd_ms;

	log_init("tunneld", LOG_LEVEL_INFO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (gnutls_global_init() != 0)
		fatalx("gnutls_global_init failed");
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--hash-key") == 0)
			exit(keys_hash_stdin());
	config_defaults(&cfg);
	if (config_load(&cfg, argc, argv) != 0)
		exit(1);
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)cfg.log_format);
	if (tls_init() != 0)
		exit(1);
	if (cfg.max_conns_per_ip > 0 && cfg.ntrusted > 0)
		log_info("max_conns_per_ip %d counts the connections of each "
		    "of the trusted_proxies too", cfg.max_conns_per_ip);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* every thread inherits */
	signal(SIGPIPE, SIG_IGN);
	connlimit = tunneld_nofile();

	lfd = tunneld_listen(cfg.listen, &port);
	if (cfg.public_url != NULL)
		tunneld_base = xstrdup(cfg.public_url);
	else {
		(void)util_split_hostport(cfg.listen, host, sizeof(host), &hp);
		if (*host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
		    strcmp(host, "::") == 0)
			util_strlcpy(host, "localhost", sizeof(host));
		xasprintf(&tunneld_base, strchr(host, ':') ?
		    "%s://[%s]:%d" : "%s://%s:%d", tls_enabled() ? "https" :
		    "http", host, port);
	}
	registry_init();
	limits_init();
	if (state_load() != 0 || history_load() != 0)
		exit(1);
	if (config_ensure_key(&cfg) != 0)
		exit(1);
	if (loop_start() != 0)
		fatal("session loop");
	if (state_start() != 0)
		fatal("state writer");
	tcp_restore();

	/*
	 * Under TLS, tls.c accepts, terminates TLS and hands MHD plain
	 * connections (MHD_add_connection): MHD listens on nothing.
	 */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG;
	if (tls_enabled()) {
		flags |= MHD_USE_NO_LISTEN_SOCKET;
		listen_opt[0].option = MHD_OPTION_END;
	} else
		listen_opt[0].value = lfd;
	http_iplimit_init((unsigned int)cfg.max_conns_per_ip);
	tunneld_mhd = MHD_start_daemon(flags, 0, http_accept, NULL,
	    http_handler, NULL,
	    MHD_OPTION_ARRAY, listen_opt,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(cfg.threads > 0 ?
	    cfg.threads : 1),
	    MHD_OPTION_CONNECTION_LIMIT, connlimit,
	    MHD_OPTION_NOTIFY_CONNECTION, http_connection, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg.connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg.max_header_size +
	    TUNNELD_POOL_SLACK),
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, tunneld_mhd_tag,
	    MHD_OPTION_END);
	if (tunneld_mhd == NULL)
		fatalx("cannot start the HTTP server on %s", cfg.listen);
	if (tls_enabled() && tls_start(lfd, cfg.threads) != 0)
		fatal("tls: cannot start the TLS threads");
	redirect_start(port);
	metrics_listen_start();
	tunneld_write_port(port);
	log_info("tunneld %s listening on %s (port %d, %s), %d threads, state "
	    "in %s", PACKAGE_VERSION, cfg.listen, port, tls_enabled() ?
	    "https" : "http", cfg.threads, cfg.state_dir);
	(void)notify_ready();
	/* Wake at least once a second, and often enough for the watchdog. */
	if ((wd_ms = notify_watchdog_ms()) > 0 && wd_ms < 1000) {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)wd_ms * 1000 * 1000;
	}

	last_clean = util_now_ms();
	for (;;) {
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			(void)notify_reloading();
			config_reload(argc, argv);
			(void)notify_ready();
		}
		(void)notify_watchdog();
		history_tick();
		limits_expire();
		if (util_now_ms() - last_clean >=
		    (uint64_t)CFG_GET(cleanup_interval) * 1000) {
			last_clean = util_now_ms();
			registry_cleanup();
		}
	}
	log_info("%s: shutting down", strsignal(sig));
	tunneld_drain(lfd);
	redirect_stop();
	metrics_listen_stop();
	state_stop();
	registry_lock();
	(void)state_save_locked();
	registry_unlock();
	(void)history_save();
	websess_clear();
	registry_free();
	limits_free();
	config_free(&cfg);
	free(tunneld_base);
	gnutls_global_deinit();
	log_info("bye");
	return 0;
}
