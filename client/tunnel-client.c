/*
 * tunnel-client: expose a local HTTP service through a tunneld server.
 *
 * main() reads the settings, starts the curl thread (forward.c) and a
 * thread that waits for SIGINT and SIGTERM, and runs libwebsockets (ws.c)
 * on the main thread until asked to stop or a permanent error.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

struct client	 client;

static pthread_mutex_t	 say_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_t	 sig_thread;
static bool		 sig_running;

static void	*client_sigwait(void *);
static int	 client_signals_block(void);
static int	 client_signals_start(void);
static int	 client_links(void);
static void	 client_free(void);

/* One time-stamped line on stdout: "[HH:MM:SS] text". */
void
client_say(const char *fmt, ...)
{
	char		 msg[2048], ts[16];
	struct tm	 tm;
	time_t		 now = time(NULL);
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	pthread_mutex_lock(&say_mtx);
	printf("[%s] %s\n", ts, msg);
	pthread_mutex_unlock(&say_mtx);
}

/*
 * A line about one tunnel: with several tunnels running, each line starts
 * with the tunnel's name ("[HH:MM:SS] [web] Public URL: ...").
 */
void
link_say(const struct link *l, const char *fmt, ...)
{
	char		 msg[2048];
	const char	*name = l->conf->name != NULL ? l->conf->name : "tunnel";
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (client.nlinks > 1)
		client_say("[%s] %s", name, msg);
	else
		client_say("%s", msg);
}

/* Ask every loop to finish; the first exit code given wins. */
void
client_stop(int code)
{
	bool	was = atomic_exchange(&client.stop, true);

	if (!was)
		client.exit_code = code;
	ws_wake();
	forward_wake();
}

bool
client_stopping(void)
{
	return atomic_load(&client.stop);
}

static void *
client_sigwait(void *arg)
{
	sigset_t	*set = arg;
	int		 sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)		/* from main: time to go */
			break;
		log_info("signal %d: stopping", sig);
		client_stop(0);
	}
	return NULL;
}

static sigset_t	 sig_set;

/* Block SIGINT and SIGTERM in every thread; one thread waits for them. */
static int
client_signals_block(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&sig_set);
	sigaddset(&sig_set, SIGINT);
	sigaddset(&sig_set, SIGTERM);
	sigaddset(&sig_set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &sig_set, NULL) != 0)
		return TUN_EIO;
	return 0;
}

static int
client_signals_start(void)
{
	if (pthread_create(&sig_thread, NULL, client_sigwait, &sig_set) != 0)
		return TUN_EIO;
	sig_running = true;
	return 0;
}

static int
client_links(void)
{
	struct options		*o = client.opt;
	struct tunnel_conf	*t;
	struct link		*l;
	const char		*h;
	size_t			 i;
	bool			 v6;

	/* All of them over one WebSocket (see ws.c). */
	client.nlinks = o->ntunnels;
	client.links = xcalloc(client.nlinks, sizeof(*client.links));
	for (i = 0; i < client.nlinks; i++) {
		l = &client.links[i];
		t = &o->tunnels[i];
		l->conn = &client.links[0];
		l->conf = t;
		l->wfd = -1;
		h = t->host;
		v6 = strchr(h, ':') != NULL;
		if (snprintf(l->local_hostport, sizeof(l->local_hostport),
		    "%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "", t->port) >=
		    (int)sizeof(l->local_hostport) ||
		    snprintf(l->local_url, sizeof(l->local_url), "%s://%s",
		    t->tcp ? "tcp" : t->https ? "https" : "http",
		    l->local_hostport) >=
		    (int)sizeof(l->local_url))
			return TUN_EINVAL;
		l->state_path = cstate_path(o, t);
		tbuf_init(&l->rx, PROTO_MAX_MSG);
	}
	return 0;
}

static void
client_free(void)
{
	struct link	*l;
	size_t		 i;

	for (i = 0; i < client.nlinks; i++) {
		l = &client.links[i];
		tunnel_info_clear(&l->info);
		free(l->state_path);
		tbuf_free(&l->rx);
	}
	free(client.links);
	client.links = NULL;
	client.nlinks = 0;
	pthread_mutex_destroy(&client.mtx);
}

int
main(int argc, char *argv[])
{
	struct options	opt;
	rlim_t		nofile = 0;
	int		r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * Bodies pass as messages allocated by the curl thread and freed by
	 * the lws thread: without these, glibc gives the curl thread's arena
	 * back to the kernel after each burst (madvise) and takes it again a
	 * page fault at a time, a fifth of the client's CPU on a download.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, TC_MALLOC_KEEP);
	(void)mallopt(M_MMAP_THRESHOLD, TC_MALLOC_MMAP);
	log_init(TC_NAME, LOG_LEVEL_INFO);
	if (options_load(&opt, argc, argv) != 0) {
		options_free(&opt);
		return 2;
	}
	if (opt.done) {
		options_free(&opt);
		return 0;
	}
	if (opt.verbose > 0)
		log_set_level(LOG_LEVEL_DEBUG);
	/* A descriptor per request in flight to the local service. */
	if (util_raise_nofile(&nofile) != 0 && nofile != 0)
		log_warn("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	memset(&client, 0, sizeof(client));
	util_random_id(opt.agent_id, sizeof(opt.agent_id));
	client.opt = &opt;
	pthread_mutex_init(&client.mtx, NULL);
	pthread_mutex_init(&client.wmtx, NULL);
	pthread_mutex_init(&client.rmtx, NULL);
	client.rfd = -1;
	tbuf_init(&client.back, PROTO_MAX_MSG);
	atomic_init(&client.stop, false);
	if (options_server_url(opt.server, &client.srv) != 0)
		fatalx("bad server URL %s", opt.server);
	if (client.srv.tls && opt.insecure)
		log_warn("--insecure: the server's certificate is not "
		    "verified; anyone on the path can read the tunnel");
	if (client_links() != 0)
		fatalx("local address too long");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	if ((r = client_signals_block()) != 0)
		fatalx("cannot block signals: %s", tunerr_str(r));
	if (inspect_start() != 0)
		exit(1);
	if ((r = ws_init()) != 0)
		fatalx("cannot start libwebsockets");
	if ((r = forward_start()) != 0)
		fatalx("cannot start the forwarding thread");
	if ((r = client_signals_start()) != 0)
		fatalx("cannot start the signal thread: %s", tunerr_str(r));

	ws_run();

	/* No more wake-ups from the signal thread once the loops are gone. */
	if (sig_running) {
		pthread_kill(sig_thread, SIGUSR1);
		pthread_join(sig_thread, NULL);
	}
	forward_stop();
	inspect_stop();
	ws_free();
	r = client.exit_code;
	client_free();
	curl_global_cleanup();
	options_free(&opt);
	return r;
}
