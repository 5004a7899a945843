/*
 * The access log: one line per proxied request, at info level, when it is
 * over; and the request id that goes with it to the local service.
 *
 * The id is the caller's X-Request-Id when that is sane (1..128 of
 * [A-Za-z0-9._:-]), from any caller, as Heroku's router and most proxies
 * do: it only ties log lines together and can inject nothing.  Anything
 * else gets 16 random hex digits.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "httphdr.h"
#include "log.h"
#include "tunneld.h"
#include "xmalloc.h"

/* proxy_start: the request is a proxied one; note what the log needs. */
void
access_start(struct MHD_Connection *c, struct preq *pr, const char *method,
    const char *addr)
{
	const char	*rid = http_header(c, "X-Request-Id");

	pr->access = true;
	free(pr->method);
	pr->method = xstrdup(method);
	util_strlcpy(pr->addr, addr, sizeof(pr->addr));
	if (httphdr_request_id_ok(rid))
		util_strlcpy(pr->reqid, rid, sizeof(pr->reqid));
	else {
		if (rid != NULL)
			log_debug("tunnel %s: X-Request-Id replaced: not 1 to "
			    "%d of [A-Za-z0-9._:-]", pr->tunnel_id,
			    HTTPHDR_MAX_REQUEST_ID);
		util_random_hex(pr->reqid, TUNNELD_REQID_RANDOM + 1);
	}
}

/*
 * From http_completed: count the request for its tunnel and log it.
 * Status 0: the caller went away before an answer was queued.
 */
void
access_log(struct preq *pr)
{
	struct log_field	 f[8];
	char			 path[1024], method[64];
	uint64_t		 ms, bytes = 0;
	bool			 head;

	if (!pr->access)
		return;
	ms = util_now_ms() - pr->started_ms;
	metrics_tunnel_done(pr->stats, pr->sent_status, ms);
	if (log_get_level() < LOG_LEVEL_INFO)
		return;
	head = pr->method != NULL && strcmp(pr->method, "HEAD") == 0;
	if (pr->st != NULL)
		bytes = atomic_load(&pr->st->bytes_sent);
	if (!head)
		bytes += pr->local_bytes;
	httphdr_log_escape(pr->uri, path, sizeof(path));
	httphdr_log_escape(pr->method, method, sizeof(method));
	f[0] = (struct log_field){ "tunnel", pr->tunnel_id, 0 };
	f[1] = (struct log_field){ "client", pr->addr[0] != '\0' ? pr->addr :
	    "-", 0 };
	f[2] = (struct log_field){ "method", method, 0 };
	f[3] = (struct log_field){ "path", path, 0 };
	f[4] = (struct log_field){ "status", NULL, pr->sent_status };
	f[5] = (struct log_field){ "bytes_out", NULL, (long long)bytes };
	f[6] = (struct log_field){ "duration_ms", NULL, (long long)ms };
	f[7] = (struct log_field){ "request_id", pr->reqid, 0 };
	log_fields(LOG_LEVEL_INFO, f, 8, "access");
}
