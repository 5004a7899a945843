/*
 * Counters for /metrics in the Prometheus text format.  Updated with
 * relaxed atomics from every thread; rendered on demand.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunneld.h"
#include "xmalloc.h"

static const double	 metrics_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define NBUCKETS	(sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

static atomic_uint_fast64_t	 metrics_c[M_COUNT];
static atomic_uint_fast64_t	 metrics_hist[NBUCKETS + 1];
static atomic_uint_fast64_t	 metrics_dur_ms;

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
	fclose(f);
	return out;
}
