/*
 * Counters for /metrics in the Prometheus text format.  Updated with
 * relaxed atomics from every thread; rendered on demand.
 *
 * Each tunnel has its own counters (struct tstats), shared by reference
 * between the tunnel, its requests and their streams, so the hot path
 * only adds to atomics and never takes the registry's lock.  They are
 * labelled with the tunnel id and its key's name, never a secret.
 * metrics_listen serves /metrics alone, without a key, on a second small
 * libmicrohttpd daemon.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

static const double	 metrics_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define NBUCKETS	(sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

static atomic_uint_fast64_t	 metrics_c[M_COUNT];
static atomic_uint_fast64_t	 metrics_hist[NBUCKETS + 1];
static atomic_uint_fast64_t	 metrics_dur_ms;

/* Per tunnel: a handful of buckets, of the whole request. */
static const double	 metrics_tbounds[] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 30
};
#define NTBUCKETS	(sizeof(metrics_tbounds) / sizeof(metrics_tbounds[0]))

struct tstats {
	atomic_int		 refs;
	atomic_uint_fast64_t	 req[5];		/* 1xx .. 5xx */
	atomic_uint_fast64_t	 bytes_in;
	atomic_uint_fast64_t	 bytes_out;
	atomic_uint_fast64_t	 hist[NTBUCKETS + 1];
	atomic_uint_fast64_t	 dur_ms;
	atomic_int		 open;		/* streams open now */
};

/* What the render needs of one tunnel, copied under the registry lock. */
struct metrics_row {
	char		 id[TUNNELD_ID_LEN];
	char		 owner[64];
	struct tstats	*ts;
	int		 connected;
	int		 streams;
};

struct metrics_rows {
	struct metrics_row	*v;
	size_t			 n;
};

static struct MHD_Daemon	*metrics_mhd;

static void	 metrics_collect(struct tunnel *, void *);
static void	 metrics_label(FILE *, const char *);
static void	 metrics_labels(FILE *, const struct metrics_row *);
static void	 metrics_render_tunnels(FILE *);
static enum MHD_Result metrics_handler(void *, struct MHD_Connection *,
		    const char *, const char *, const char *, const char *,
		    size_t *, void **);
static enum MHD_Result metrics_answer(struct MHD_Connection *, int,
		    const char *);

struct tstats *
metrics_tunnel_new(void)
{
	struct tstats	*ts = xcalloc(1, sizeof(*ts));

	atomic_init(&ts->refs, 1);
	return ts;
}

void
metrics_tunnel_ref(struct tstats *ts)
{
	if (ts != NULL)
		atomic_fetch_add_explicit(&ts->refs, 1, memory_order_relaxed);
}

void
metrics_tunnel_unref(struct tstats *ts)
{
	if (ts != NULL && atomic_fetch_sub(&ts->refs, 1) == 1)
		free(ts);
}

/* Body bytes: "in" from the public caller, "out" to it. */
void
metrics_bytes(struct tstats *ts, enum metric_counter m, uint64_t n)
{
	metrics_add(m, n);
	if (ts == NULL)
		return;
	atomic_fetch_add_explicit(m == M_BYTES_IN ? &ts->bytes_in :
	    &ts->bytes_out, n, memory_order_relaxed);
}

/* A proxied request is over: its status class and whole duration. */
void
metrics_tunnel_done(struct tstats *ts, int status, uint64_t ms)
{
	size_t	i;
	int	cls = status / 100;

	if (ts == NULL || cls < 1 || cls > 5)
		return;
	atomic_fetch_add_explicit(&ts->req[cls - 1], 1, memory_order_relaxed);
	for (i = 0; i < NTBUCKETS; i++)
		if ((double)ms / 1000.0 <= metrics_tbounds[i])
			break;
	atomic_fetch_add_explicit(&ts->hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&ts->dur_ms, ms, memory_order_relaxed);
}

void
metrics_add(enum metric_counter m, uint64_t n)
{
	atomic_fetch_add_explicit(&metrics_c[m], n, memory_order_relaxed);
}

void
metrics_request_done(int status, uint64_t ms)
{
	size_t	i;
	int	cls = status / 100;

	if (cls >= 1 && cls <= 5)
		metrics_add((enum metric_counter)(M_REQ_1XX + cls - 1), 1);
	for (i = 0; i < NBUCKETS; i++)
		if ((double)ms / 1000.0 <= metrics_bounds[i])
			break;
	atomic_fetch_add_explicit(&metrics_hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&metrics_dur_ms, ms, memory_order_relaxed);
}

char *
metrics_render(void)
{
	char		*out = NULL;
	size_t		 len = 0, i;
	uint64_t	 cum = 0, n;
	FILE		*f;

	if ((f = open_memstream(&out, &len)) == NULL)
		return xstrdup("");
	registry_lock();
	n = registry_count_locked();
	registry_unlock();
	fprintf(f, "# HELP tunneld_tunnels Tunnels known to the server.\n"
	    "# TYPE tunneld_tunnels gauge\ntunneld_tunnels %llu\n",
	    (unsigned long long)n);
	fprintf(f, "# HELP tunneld_agents_connected Agent WebSockets open.\n"
	    "# TYPE tunneld_agents_connected gauge\n"
	    "tunneld_agents_connected %d\n", session_count());
	fprintf(f, "# HELP tunneld_requests_total Proxied and API requests "
	    "answered, by status class.\n# TYPE tunneld_requests_total "
	    "counter\n");
	for (i = 0; i < 5; i++)
		fprintf(f, "tunneld_requests_total{code=\"%zuxx\"} %llu\n",
		    i + 1, (unsigned long long)atomic_load(
		    &metrics_c[M_REQ_1XX + i]));
	fprintf(f, "# HELP tunneld_bytes_total Body bytes carried.\n"
	    "# TYPE tunneld_bytes_total counter\n"
	    "tunneld_bytes_total{direction=\"in\"} %llu\n"
	    "tunneld_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)atomic_load(&metrics_c[M_BYTES_IN]),
	    (unsigned long long)atomic_load(&metrics_c[M_BYTES_OUT]));
	fprintf(f, "# HELP tunneld_agent_connects_total Agent sessions "
	    "established.\n# TYPE tunneld_agent_connects_total counter\n"
	    "tunneld_agent_connects_total %llu\n",
	    (unsigned long long)atomic_load(&metrics_c[M_AGENT_CONNECTS]));
	fprintf(f, "# HELP tunneld_refused_total Requests refused by the "
	    "rate limits and the deny list.\n# TYPE tunneld_refused_total "
	    "counter\ntunneld_refused_total{reason=\"rate_limit\"} %llu\n"
	    "tunneld_refused_total{reason=\"deny\"} %llu\n",
	    (unsigned long long)atomic_load(&metrics_c[M_RATE_LIMITED]),
	    (unsigned long long)atomic_load(&metrics_c[M_DENIED]));
	fprintf(f, "# HELP tunneld_request_duration_seconds Time to the "
	    "response head.\n# TYPE tunneld_request_duration_seconds "
	    "histogram\n");
	for (i = 0; i <= NBUCKETS; i++) {
		cum += atomic_load(&metrics_hist[i]);
		if (i < NBUCKETS)
			fprintf(f, "tunneld_request_duration_seconds_bucket"
			    "{le=\"%g\"} %llu\n", metrics_bounds[i],
			    (unsigned long long)cum);
		else
			fprintf(f, "tunneld_request_duration_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "tunneld_request_duration_seconds_sum %.3f\n"
	    "tunneld_request_duration_seconds_count %llu\n",
	    (double)atomic_load(&metrics_dur_ms) / 1000.0,
	    (unsigned long long)cum);
	metrics_render_tunnels(f);
	fclose(f);
	return out;
}

/* Called under the registry lock: a copy, and a reference to the counters. */
static void
metrics_collect(struct tunnel *t, void *arg)
{
	struct metrics_rows	*rows = arg;
	struct metrics_row	*r;

	if (t->stats == NULL)
		return;
	r = &rows->v[rows->n++];
	util_strlcpy(r->id, t->id, sizeof(r->id));
	util_strlcpy(r->owner, t->owner, sizeof(r->owner));
	metrics_tunnel_ref(t->stats);
	r->ts = t->stats;
	r->connected = t->nsessions > 0;
	r->streams = atomic_load(&t->stats->open);
}

/* A label value: backslash, quote and newline escaped. */
static void
metrics_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
metrics_labels(FILE *f, const struct metrics_row *r)
{
	fputs("tunnel=\"", f);
	metrics_label(f, r->id);
	fputs("\",owner=\"", f);
	metrics_label(f, r->owner);
	fputc('"', f);
}

static void
metrics_render_tunnels(FILE *f)
{
	struct metrics_rows	 rows;
	struct metrics_row	*r;
	size_t			 i, k;
	uint64_t		 cum;

	registry_lock();
	rows.v = xcalloc(registry_count_locked() + 1, sizeof(*rows.v));
	rows.n = 0;
	registry_foreach_locked(metrics_collect, &rows);
	registry_unlock();

	fprintf(f, "# HELP tunneld_tunnel_requests_total Proxied requests "
	    "of a tunnel, by status class.\n"
	    "# TYPE tunneld_tunnel_requests_total counter\n");
	for (i = 0; i < rows.n; i++) {
		r = &rows.v[i];
		for (k = 0; k < 5; k++) {
			fputs("tunneld_tunnel_requests_total{", f);
			metrics_labels(f, r);
			fprintf(f, ",code=\"%zuxx\"} %llu\n", k + 1,
			    (unsigned long long)atomic_load(&r->ts->req[k]));
		}
	}
	fprintf(f, "# HELP tunneld_tunnel_bytes_total Body bytes of a tunnel: "
	    "in from callers, out to them.\n"
	    "# TYPE tunneld_tunnel_bytes_total counter\n");
	for (i = 0; i < rows.n; i++) {
		r = &rows.v[i];
		fputs("tunneld_tunnel_bytes_total{", f);
		metrics_labels(f, r);
		fprintf(f, ",direction=\"in\"} %llu\n",
		    (unsigned long long)atomic_load(&r->ts->bytes_in));
		fputs("tunneld_tunnel_bytes_total{", f);
		metrics_labels(f, r);
		fprintf(f, ",direction=\"out\"} %llu\n",
		    (unsigned long long)atomic_load(&r->ts->bytes_out));
	}
	fprintf(f, "# HELP tunneld_tunnel_open_streams Requests of a tunnel "
	    "in flight.\n# TYPE tunneld_tunnel_open_streams gauge\n");
	for (i = 0; i < rows.n; i++) {
		fputs("tunneld_tunnel_open_streams{", f);
		metrics_labels(f, &rows.v[i]);
		fprintf(f, "} %d\n", rows.v[i].streams);
	}
	fprintf(f, "# HELP tunneld_tunnel_agent_connected 1 while an agent "
	    "serves the tunnel.\n"
	    "# TYPE tunneld_tunnel_agent_connected gauge\n");
	for (i = 0; i < rows.n; i++) {
		fputs("tunneld_tunnel_agent_connected{", f);
		metrics_labels(f, &rows.v[i]);
		fprintf(f, "} %d\n", rows.v[i].connected);
	}
	fprintf(f, "# HELP tunneld_tunnel_request_duration_seconds Time from "
	    "a proxied request to the end of its response.\n"
	    "# TYPE tunneld_tunnel_request_duration_seconds histogram\n");
	for (i = 0; i < rows.n; i++) {
		r = &rows.v[i];
		cum = 0;
		for (k = 0; k <= NTBUCKETS; k++) {
			cum += atomic_load(&r->ts->hist[k]);
			fputs("tunneld_tunnel_request_duration_seconds_bucket{",
			    f);
			metrics_labels(f, r);
			if (k < NTBUCKETS)
				fprintf(f, ",le=\"%g\"} %llu\n",
				    metrics_tbounds[k], (unsigned long long)cum);
			else
				fprintf(f, ",le=\"+Inf\"} %llu\n",
				    (unsigned long long)cum);
		}
		fputs("tunneld_tunnel_request_duration_seconds_sum{", f);
		metrics_labels(f, r);
		fprintf(f, "} %.3f\n",
		    (double)atomic_load(&r->ts->dur_ms) / 1000.0);
		fputs("tunneld_tunnel_request_duration_seconds_count{", f);
		metrics_labels(f, r);
		fprintf(f, "} %llu\n", (unsigned long long)cum);
	}
	for (i = 0; i < rows.n; i++)
		metrics_tunnel_unref(rows.v[i].ts);
	free(rows.v);
}

/* --- metrics_listen: /metrics alone, no key ------------------------------ */

static enum MHD_Result
metrics_answer(struct MHD_Connection *c, int status, const char *body)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(strlen(body),
	    (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(r, "Content-Type", status == 200 ?
	    "text/plain; version=0.0.4" : "text/plain; charset=utf-8");
	(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 405)
		(void)MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(c, (unsigned int)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
metrics_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	static int	 seen;
	char		*text;
	enum MHD_Result	 ret;

	if (*con_cls == NULL) {		/* answer on a later call */
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {	/* a body: not wanted, dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return metrics_answer(c, 404, "Only /metrics is served "
		    "here.\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_answer(c, 405, "GET or HEAD.\n");
	text = metrics_render();
	ret = metrics_answer(c, 200, text);
	free(text);
	return ret;
}

/* What log_mhd() puts before libmicrohttpd's messages. */
static char metrics_mhd_tag[] = "metrics listener";

/* Start-up: a bad address is fatal, like the main listener's. */
void
metrics_listen_start(void)
{
	int	fd, port = 0;

	if (cfg.metrics_listen == NULL || *cfg.metrics_listen == '\0')
		return;
	fd = tunneld_listen(cfg.metrics_listen, &port);
	metrics_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    metrics_handler, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, metrics_mhd_tag,
	    MHD_OPTION_END);
	if (metrics_mhd == NULL)
		fatalx("cannot start the metrics listener on %s",
		    cfg.metrics_listen);
	log_info("metrics on %s (port %d), no key needed there",
	    cfg.metrics_listen, port);
}

void
metrics_listen_stop(void)
{
	if (metrics_mhd == NULL)
		return;
	MHD_stop_daemon(metrics_mhd);
	metrics_mhd = NULL;
}

/* The counters of a tunnel, for the dashboard; zeros for NULL. */
void
metrics_tunnel_counts(struct tstats *ts, struct tcounts *tc)
{
	int	i;

	memset(tc, 0, sizeof(*tc));
	if (ts == NULL)
		return;
	for (i = 0; i < 5; i++)
		tc->req[i] = atomic_load(&ts->req[i]);
	tc->bytes_in = atomic_load(&ts->bytes_in);
	tc->bytes_out = atomic_load(&ts->bytes_out);
	tc->open = atomic_load(&ts->open);
}

/* A stream of the tunnel starts (with its own reference) or ends. */
void
metrics_stream_open(struct tstats *ts)
{
	if (ts == NULL)
		return;
	metrics_tunnel_ref(ts);
	atomic_fetch_add(&ts->open, 1);
}

void
metrics_stream_close(struct tstats *ts)
{
	if (ts == NULL)
		return;
	atomic_fetch_sub(&ts->open, 1);
	metrics_tunnel_unref(ts);
}
