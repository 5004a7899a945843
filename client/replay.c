/*
 * The inspector's worker thread: replays, the capture file, keep-alives.
 *
 * A replay sends a captured request (or its edited copy) to the tunnel's
 * local service again, with an easy handle of its own on this thread,
 * never through the forwarding curl multi.  The replayed exchange is
 * captured like any other, marked with the id it replays.  The request
 * head follows the forwarding rules (hop-by-hop headers dropped, Host per
 * --host-header); the body is the captured one unless the edit gives one.
 *
 * The same thread appends finished captures to the capture file
 * (capture_journal) and, every 15 s, sends a ping on the event streams so
 * that a browser that went away is noticed.  Every wait is bounded: a
 * replay by the request timeout (60 s when there is none), the queue by
 * REPLAY_QUEUE_MAX jobs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httphdr.h"
#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define REPLAY_QUEUE_MAX	8
#define REPLAY_TIMEOUT		60	/* s, without --request-timeout */
#define REPLAY_PING_MS		15000
#define REPLAY_TICK_MS		1000

/* One replay on the curl easy handle. */
struct replay_run {
	struct capture		*cap;
	struct proto_head	 resp;
	int			 status;
	bool			 head_done;
	char			 errbuf[CURL_ERROR_SIZE];
};

static struct {
	pthread_t		 thr;
	bool			 running;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct replay_job	*head;
	struct replay_job	*tail;
	size_t			 n;
	bool			 stop;
	bool			 kicked;
} rp = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void	*replay_main(void *);
static void	 replay_run(struct replay_job *);
static void	 replay_request(const struct replay_job *, struct proto_head *,
		    const uint8_t **, size_t *);
static size_t	 replay_header_cb(char *, size_t, size_t, void *);
static size_t	 replay_write_cb(char *, size_t, size_t, void *);

int
replay_start(void)
{
	rp.stop = false;
	if (pthread_create(&rp.thr, NULL, replay_main, NULL) != 0)
		return TUN_EIO;
	rp.running = true;
	return 0;
}

/* Waiting replays are answered 503; the capture file is brought up to date. */
void
replay_stop(void)
{
	if (!rp.running)
		return;
	pthread_mutex_lock(&rp.mtx);
	rp.stop = true;
	pthread_cond_signal(&rp.cond);
	pthread_mutex_unlock(&rp.mtx);
	pthread_join(rp.thr, NULL);
	rp.running = false;
}

/* News for the capture file. */
void
replay_kick(void)
{
	pthread_mutex_lock(&rp.mtx);
	rp.kicked = true;
	pthread_cond_signal(&rp.cond);
	pthread_mutex_unlock(&rp.mtx);
}

/* TUN_ELIMIT: the queue is full, or the worker is stopping. */
int
replay_submit(struct replay_job *job)
{
	pthread_mutex_lock(&rp.mtx);
	if (rp.stop || !rp.running || rp.n >= REPLAY_QUEUE_MAX) {
		pthread_mutex_unlock(&rp.mtx);
		return TUN_ELIMIT;
	}
	job->next = NULL;
	if (rp.tail != NULL)
		rp.tail->next = job;
	else
		rp.head = job;
	rp.tail = job;
	rp.n++;
	pthread_cond_signal(&rp.cond);
	pthread_mutex_unlock(&rp.mtx);
	return 0;
}

void
replay_job_free(struct replay_job *job)
{
	if (job == NULL)
		return;
	capture_unref(job->src);
	capfmt_edit_free(&job->edit);
	free(job);
}

static void *
replay_main(void *arg)
{
	const char		*path = client.opt->capture_file;
	struct replay_job	*job;
	struct timespec		 ts;
	uint64_t		 last_ping = util_now_ms();
	bool			 kicked;

	pthread_mutex_lock(&rp.mtx);
	while (!rp.stop) {
		if ((job = rp.head) != NULL) {
			if ((rp.head = job->next) == NULL)
				rp.tail = NULL;
			rp.n--;
			pthread_mutex_unlock(&rp.mtx);
			replay_run(job);
			inspect_resume(job->conn);	/* job is not ours now */
			pthread_mutex_lock(&rp.mtx);
			continue;
		}
		kicked = rp.kicked;
		rp.kicked = false;
		if (kicked && path != NULL) {
			pthread_mutex_unlock(&rp.mtx);
			(void)capture_journal(path, false);
			pthread_mutex_lock(&rp.mtx);
			continue;
		}
		if (util_now_ms() - last_ping >= REPLAY_PING_MS) {
			pthread_mutex_unlock(&rp.mtx);
			inspect_event(INSPECT_EV_PING, 0);
			last_ping = util_now_ms();
			pthread_mutex_lock(&rp.mtx);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += REPLAY_TICK_MS / 1000;
		(void)pthread_cond_timedwait(&rp.cond, &rp.mtx, &ts);
	}
	while ((job = rp.head) != NULL) {
		rp.head = job->next;
		rp.n--;
		job->code = 503;
		util_strlcpy(job->error, "tunnel-client is stopping",
		    sizeof(job->error));
		inspect_resume(job->conn);
	}
	rp.tail = NULL;
	pthread_mutex_unlock(&rp.mtx);
	if (path != NULL)
		(void)capture_journal(path, true);
	return NULL;
}

/*
 * The head to send: the edit's or the captured method, path and headers,
 * less Host, Content-Length, Expect and hop-by-hop ones, then Host as the
 * tunnel's --host-header says.  The body: the edit's or the captured one.
 */
static void
replay_request(const struct replay_job *job, struct proto_head *req,
    const uint8_t **body, size_t *len)
{
	const struct capture		*src = job->src;
	const struct capedit		*e = &job->edit;
	const struct proto_head		*from;
	const struct proto_header	*h;
	const char			*conn;
	size_t				 i;

	memset(req, 0, sizeof(*req));
	req->method = xstrdup(e->method != NULL ? e->method :
	    src->req.method);
	req->path = xstrdup(e->path != NULL ? e->path : src->req.path);
	req->content_length = -1;
	from = e->has_headers ? &e->headers : &src->req;
	conn = proto_head_get(from, "Connection");
	proto_head_add(req, "Host", forward_host(src->ring->link, &src->req));
	for (i = 0; i < from->nhdrs; i++) {
		h = &from->hdrs[i];
		if (!forward_header_dropped(h->name, conn))
			proto_head_add(req, h->name, h->value);
	}
	if (e->has_body) {
		*body = e->body;
		*len = e->body_len;
	} else {
		*body = tbuf_ptr(&src->reqbody.kept);
		*len = tbuf_len(&src->reqbody.kept);
	}
	req->body = *len > 0 || src->req.body ||
	    src->req.content_length >= 0 || e->has_body;
}

static size_t
replay_header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct replay_run	*rr = arg;
	size_t			 len = size * n;

	if (rr->head_done)
		return len;
	if (httphdr_resp_line(&rr->resp, &rr->status, buf, len) ==
	    HTTPHDR_LINE_END && rr->status >= 200) {
		rr->head_done = true;
		capture_set_head(rr->cap, rr->status, &rr->resp);
	}
	return len;
}

static size_t
replay_write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct replay_run	*rr = arg;

	capture_put(&rr->cap->respbody, buf, size * n);
	return size * n;
}

/* Send it, capture it as a new exchange, set the job's result. */
static void
replay_run(struct replay_job *job)
{
	const struct options	*o = client.opt;
	const struct link	*l = job->src->ring->link;
	struct replay_run	 rr;
	struct proto_head	 req;
	struct curl_slist	*hdrs = NULL;
	const uint8_t		*body;
	size_t			 len, i;
	CURL			*e;
	CURLcode		 cc;
	bool			 accept = false, ctype = false;

	if (l->conf->tcp) {
		job->code = 409;
		util_strlcpy(job->error, "a TCP tunnel's connections are not "
		    "replayed", sizeof(job->error));
		return;
	}
	if ((e = curl_easy_init()) == NULL) {
		job->code = 503;
		util_strlcpy(job->error, "out of memory", sizeof(job->error));
		return;
	}
	memset(&rr, 0, sizeof(rr));
	replay_request(job, &req, &body, &len);
	rr.cap = capture_new(job->src->ring, &req, job->src->id);
	capture_put(&rr.cap->reqbody, body, len);
	for (i = 0; i < req.nhdrs; i++) {
		if (strcasecmp(req.hdrs[i].name, "Accept") == 0)
			accept = true;
		if (strcasecmp(req.hdrs[i].name, "Content-Type") == 0)
			ctype = true;
		hdrs = forward_header_add(hdrs, req.hdrs[i].name,
		    req.hdrs[i].value);
	}
	if (!accept)
		hdrs = xcurl_slist_append(hdrs, "Accept:");
	if (!ctype && req.body)
		hdrs = xcurl_slist_append(hdrs, "Content-Type:");
	hdrs = xcurl_slist_append(hdrs, "Expect:");
	forward_curl_local(e, l, req.path);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, replay_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &rr);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, replay_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &rr);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rr.errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)(o->request_timeout > 0 ?
	    o->request_timeout : REPLAY_TIMEOUT));
	if (strcmp(req.method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(req.method, "GET") != 0 || req.body)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method);
	if (req.body && strcmp(req.method, "HEAD") != 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, len > 0 ?
		    (const char *)body : "");
	}
	cc = curl_easy_perform(e);
	job->id = rr.cap->id;
	job->code = 200;
	if (cc != CURLE_OK)
		log_debug("replay of %llu: %s", (unsigned long long)
		    job->src->id, rr.errbuf[0] ? rr.errbuf :
		    curl_easy_strerror(cc));
	capture_finish(rr.cap, 0, cc == CURLE_OK && rr.head_done,
	    cc == CURLE_OK ? (rr.head_done ? NULL : "no response") :
	    rr.errbuf[0] ? rr.errbuf : curl_easy_strerror(cc));
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	proto_head_clear(&rr.resp);
	proto_head_clear(&req);
}
