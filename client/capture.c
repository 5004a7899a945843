/*
 * The inspector's store: the last exchanges of each tunnel, one bounded
 * ring per tunnel under its own mutex.
 *
 * The forwarding path (forward.c, the curl thread) calls capture_begin()
 * when a request starts, capture_body() with each piece of either body,
 * capture_head() with the response head and capture_end() once.  Each
 * body copies at most the body cap and only counts the rest, and nothing
 * here waits for the inspector: the ring's mutex is held for a few
 * pointer moves, and readers copy what they need under it and format it
 * outside (see struct capture in tunnel-client.h).  A capture is
 * reference counted: the ring holds one reference, its owner another
 * until capture_finish(), a reader one while it formats it.
 *
 * Every ring is sorted by id (ids are given out under the ring's mutex),
 * so a lookup is a binary search.  Besides the per-tunnel count, kept
 * body bytes of all rings are held under TC_INSPECT_MEM_MAX: past it the
 * oldest captures of the ring that grew go first.
 *
 * The capture file (--capture-file) is a journal of JSON lines: a first
 * line naming the format, then one finished capture a line (capfmt.c).
 * Finished captures are queued here and appended by the inspector's
 * worker thread (replay.c), never by the curl thread; the whole file is
 * rewritten from the rings after loading, after a clear and whenever it
 * holds twice as many lines as the rings.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tunerr.h"
#include "tunnel-client.h"
#include "util.h"
#include "xmalloc.h"

#define CAPTURE_FILE_HEADER	"{\"format\":\"tunnel-client-captures\"," \
				"\"version\":1}\n"
#define CAPTURE_LINE_EXTRA	(2 * 1024 * 1024)	/* all but bodies */
#define CAPTURE_LOAD_LINES	1000000

static struct {
	bool			 on;
	size_t			 max;		/* per ring */
	size_t			 cap;		/* kept of each body */
	struct capring		*rings;
	size_t			 nrings;
	uint64_t		 next_id;	/* under the ring mutexes */
	pthread_mutex_t		 idmtx;
	atomic_size_t		 bytes;		/* kept, all rings */
	/* the capture file */
	pthread_mutex_t		 jmtx;
	bool			 journal;	/* a file is kept */
	struct capture		**jq;		/* finished, to append */
	size_t			 jn;
	bool			 jcompact;	/* rewrite it whole */
	size_t			 jlines;	/* captures in the file */
	uint64_t		 jwarned;	/* last warning, ms */
} cap;

static void	 capture_push_locked(struct capring *, struct capture *);
static void	 capture_trim_locked(struct capring *);
static void	 capture_destroy(struct capture *);
static void	 capture_copy_head(struct proto_head *,
		    const struct proto_head *);
static void	 capture_queue(struct capture *);
static int	 capture_cmp_id(const void *, const void *);
static int	 capture_cmp_id_desc(const void *, const void *);
static struct capring *capture_ring_of(const char *);
static void	 capture_insert_locked(struct capring *, struct capture *);
static uint64_t	 capture_read_lines(FILE *, const char *);
static int	 capture_rewrite(const char *);
static int	 capture_append(const char *, struct capture **, size_t);
static void	 capture_jwarn(const char *, const char *);

/* One ring per tunnel; max captures each, cap bytes of each body. */
int
capture_init(size_t max, size_t body_cap)
{
	struct capring	*r;
	struct link	*l;
	size_t		 i;

	memset(&cap, 0, sizeof(cap));
	pthread_mutex_init(&cap.idmtx, NULL);
	pthread_mutex_init(&cap.jmtx, NULL);
	if (max == 0 || client.nlinks == 0)
		return TUN_EINVAL;
	cap.max = max;
	cap.cap = body_cap;
	cap.next_id = 1;
	atomic_init(&cap.bytes, 0);
	cap.nrings = client.nlinks;
	cap.rings = xcalloc(cap.nrings, sizeof(*cap.rings));
	for (i = 0; i < cap.nrings; i++) {
		r = &cap.rings[i];
		l = &client.links[i];
		pthread_mutex_init(&r->mtx, NULL);
		r->link = l;
		r->label = xstrdup(l->conf->name != NULL ? l->conf->name : "");
		r->ents = xcalloc(max, sizeof(*r->ents));
		r->max = max;
		l->ring = r;
	}
	cap.on = true;
	return 0;
}

void
capture_free(void)
{
	struct capring	*r;
	size_t		 i, j;

	for (i = 0; i < cap.nrings; i++) {
		r = &cap.rings[i];
		for (j = 0; j < r->n; j++)
			capture_unref(r->ents[(r->first + j) % r->max]);
		free(r->ents);
		free(r->label);
		pthread_mutex_destroy(&r->mtx);
		if (r->link != NULL && i < client.nlinks)
			client.links[i].ring = NULL;
	}
	for (i = 0; i < cap.jn; i++)
		capture_unref(cap.jq[i]);
	free(cap.jq);
	free(cap.rings);
	pthread_mutex_destroy(&cap.idmtx);
	pthread_mutex_destroy(&cap.jmtx);
	memset(&cap, 0, sizeof(cap));
}

bool
capture_enabled(void)
{
	return cap.on;
}

size_t
capture_body_cap(void)
{
	return cap.cap;
}

size_t
capture_max(void)
{
	return cap.max;
}

struct capring *
capture_ring(size_t i)
{
	return i < cap.nrings ? &cap.rings[i] : NULL;
}

size_t
capture_nrings(void)
{
	return cap.nrings;
}

uint64_t
capture_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
capture_copy_head(struct proto_head *dst, const struct proto_head *src)
{
	size_t	i;

	memset(dst, 0, sizeof(*dst));
	if (src->method != NULL)
		dst->method = xstrdup(src->method);
	if (src->path != NULL)
		dst->path = xstrdup(src->path);
	dst->status = src->status;
	dst->content_length = src->content_length;
	dst->body = src->body;
	for (i = 0; i < src->nhdrs; i++)
		proto_head_add(dst, src->hdrs[i].name, src->hdrs[i].value);
}

/* --- the forwarding path's hooks (curl thread) ----------------------- */

void
capture_begin(struct stream *st)
{
	if (!cap.on || st->link->ring == NULL || st->cap != NULL)
		return;
	st->cap = capture_new(st->link->ring, &st->open, 0);
}

void
capture_body(struct stream *st, bool resp, const void *p, size_t len)
{
	if (st->cap != NULL)
		capture_put(resp ? &st->cap->respbody : &st->cap->reqbody, p,
		    len);
}

void
capture_head(struct stream *st)
{
	if (st->cap != NULL)
		capture_set_head(st->cap, st->status, &st->resp);
}

/* Once per stream; later calls do nothing. */
void
capture_end(struct stream *st)
{
	struct capture	*c = st->cap;
	const char	*why = NULL;
	bool		 whole;

	if (c == NULL)
		return;
	st->cap = NULL;
	whole = st->complete || (st->resp_cl >= 0 &&
	    st->bytes_out >= (uint64_t)st->resp_cl);
	if (!st->head_done || st->status == 0)
		why = st->errbuf[0] != '\0' ? st->errbuf :
		    st->status > 0 ? "no response from the local service" :
		    "reset before the response";
	else if (!whole)
		why = st->errbuf[0] != '\0' ? st->errbuf :
		    "the response was cut short";
	capture_finish(c, st->status, whole && why == NULL, why);
}

/* --- captures ---------------------------------------------------------- */

/*
 * A new capture of request head req in ring r, in the ring at once as
 * pending.  Two references: the ring's and the caller's (the owner's,
 * given up by capture_finish).
 */
struct capture *
capture_new(struct capring *r, const struct proto_head *req,
    uint64_t replay_of)
{
	struct capture	*c = xcalloc(1, sizeof(*c));
	struct timespec	 ts;
	uint64_t	 id;

	atomic_init(&c->refs, 2);
	c->replay_of = replay_of;
	c->ring = r;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	c->t0_us = capture_now_us();
	capture_copy_head(&c->req, req);
	tbuf_init(&c->reqbody.kept, cap.cap);
	tbuf_init(&c->respbody.kept, cap.cap);
	c->state = CAPTURE_PENDING;
	pthread_mutex_lock(&r->mtx);
	pthread_mutex_lock(&cap.idmtx);
	id = c->id = cap.next_id++;
	pthread_mutex_unlock(&cap.idmtx);
	capture_push_locked(r, c);
	pthread_mutex_unlock(&r->mtx);
	inspect_event(INSPECT_EV_NEW, id);
	return c;
}

/* Keep what fits under the cap, count it all. */
void
capture_put(struct capbody *b, const void *p, size_t len)
{
	size_t	room;

	b->size += len;
	if ((room = tbuf_room(&b->kept)) == 0 || len == 0)
		return;
	(void)tbuf_put(&b->kept, p, len < room ? len : room);
}

/* The final response head: status and headers, once. */
void
capture_set_head(struct capture *c, int status, const struct proto_head *h)
{
	struct proto_head	copy;
	bool			set = false;

	capture_copy_head(&copy, h);
	pthread_mutex_lock(&c->ring->mtx);
	if (c->state == CAPTURE_PENDING) {
		c->resp = copy;
		c->status = status;
		c->head_us = capture_now_us() - c->t0_us;
		c->state = CAPTURE_HEAD;
		set = true;
	}
	pthread_mutex_unlock(&c->ring->mtx);
	if (!set)
		proto_head_clear(&copy);
	else
		inspect_event(INSPECT_EV_UPDATE, c->id);
}

/*
 * The exchange is over: status (when no head set one), whether the whole
 * response passed, and why not.  Gives up the owner's reference.
 */
void
capture_finish(struct capture *c, int status, bool complete,
    const char *error)
{
	struct capring	*r = c->ring;
	uint64_t	 id = c->id;
	bool		 done = false;

	pthread_mutex_lock(&r->mtx);
	if (c->state != CAPTURE_DONE) {
		if (c->state == CAPTURE_PENDING)
			c->status = status;
		c->total_us = capture_now_us() - c->t0_us;
		c->complete = complete;
		if (error != NULL)
			c->error = xstrdup(error);
		c->state = CAPTURE_DONE;
		atomic_fetch_add(&cap.bytes, tbuf_len(&c->reqbody.kept) +
		    tbuf_len(&c->respbody.kept));
		capture_trim_locked(r);
		done = true;
	}
	pthread_mutex_unlock(&r->mtx);
	if (done) {
		inspect_event(INSPECT_EV_UPDATE, id);
		capture_queue(c);
	}
	capture_unref(c);
}

void
capture_ref(struct capture *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void
capture_unref(struct capture *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		capture_destroy(c);
}

static void
capture_destroy(struct capture *c)
{
	if (c->state == CAPTURE_DONE)
		atomic_fetch_sub(&cap.bytes, tbuf_len(&c->reqbody.kept) +
		    tbuf_len(&c->respbody.kept));
	proto_head_clear(&c->req);
	proto_head_clear(&c->resp);
	tbuf_free(&c->reqbody.kept);
	tbuf_free(&c->respbody.kept);
	free(c->error);
	free(c);
}

/* The newest at the end; a full ring drops its oldest. */
static void
capture_push_locked(struct capring *r, struct capture *c)
{
	if (r->n == r->max) {
		capture_unref(r->ents[r->first]);
		r->first = (r->first + 1) % r->max;
		r->n--;
	}
	r->ents[(r->first + r->n) % r->max] = c;
	r->n++;
}

/* Over the memory ceiling: the oldest go, all but the newest. */
static void
capture_trim_locked(struct capring *r)
{
	while (atomic_load(&cap.bytes) > TC_INSPECT_MEM_MAX && r->n > 1) {
		capture_unref(r->ents[r->first]);
		r->first = (r->first + 1) % r->max;
		r->n--;
	}
}

void
capture_view(struct capture *c, struct capview *v)
{
	pthread_mutex_lock(&c->ring->mtx);
	v->state = c->state;
	v->status = c->status;
	v->head_us = c->head_us;
	v->total_us = c->total_us;
	v->complete = c->complete;
	v->error = c->state == CAPTURE_DONE ? c->error : NULL;
	pthread_mutex_unlock(&c->ring->mtx);
}

/* The capture with this id, with a reference for the caller; or NULL. */
struct capture *
capture_get(uint64_t id)
{
	struct capring	*r;
	struct capture	*c, *found = NULL;
	size_t		 i, lo, hi, mid;

	for (i = 0; i < cap.nrings && found == NULL; i++) {
		r = &cap.rings[i];
		pthread_mutex_lock(&r->mtx);
		lo = 0;
		hi = r->n;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			c = r->ents[(r->first + mid) % r->max];
			if (c->id == id) {
				capture_ref(c);
				found = c;
				break;
			}
			if (c->id < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		pthread_mutex_unlock(&r->mtx);
	}
	return found;
}

static int
capture_cmp_id(const void *a, const void *b)
{
	const struct capture	*x = *(const struct capture * const *)a;
	const struct capture	*y = *(const struct capture * const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int
capture_cmp_id_desc(const void *a, const void *b)
{
	return capture_cmp_id(b, a);
}

/* Up to max captures of all tunnels, newest first, each referenced. */
size_t
capture_list(struct capture **out, size_t max)
{
	struct capture	**all;
	struct capring	 *r;
	size_t		  i, j, k, n = 0, per;

	if (max == 0 || cap.nrings == 0)
		return 0;
	per = max < cap.max ? max : cap.max;	/* no ring holds more */
	all = xreallocarray(NULL, cap.nrings, per * sizeof(*all));
	for (i = 0; i < cap.nrings; i++) {
		r = &cap.rings[i];
		pthread_mutex_lock(&r->mtx);
		k = r->n < per ? r->n : per;
		for (j = r->n - k; j < r->n; j++) {
			all[n] = r->ents[(r->first + j) % r->max];
			capture_ref(all[n++]);
		}
		pthread_mutex_unlock(&r->mtx);
	}
	qsort(all, n, sizeof(*all), capture_cmp_id_desc);
	for (i = max; i < n; i++)
		capture_unref(all[i]);
	n = n < max ? n : max;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	return n;
}

size_t
capture_count(void)
{
	size_t	i, n = 0;

	for (i = 0; i < cap.nrings; i++) {
		pthread_mutex_lock(&cap.rings[i].mtx);
		n += cap.rings[i].n;
		pthread_mutex_unlock(&cap.rings[i].mtx);
	}
	return n;
}

void
capture_clear(void)
{
	struct capring	*r;
	size_t		 i;

	for (i = 0; i < cap.nrings; i++) {
		r = &cap.rings[i];
		pthread_mutex_lock(&r->mtx);
		while (r->n > 0) {
			capture_unref(r->ents[r->first]);
			r->first = (r->first + 1) % r->max;
			r->n--;
		}
		r->first = 0;
		pthread_mutex_unlock(&r->mtx);
	}
	inspect_event(INSPECT_EV_CLEAR, 0);
	pthread_mutex_lock(&cap.jmtx);
	cap.jcompact = cap.journal;
	pthread_mutex_unlock(&cap.jmtx);
	if (cap.journal)
		replay_kick();
}

/* --- the capture file ---------------------------------------------------- */

/* A finished capture for the file; a full queue asks for a rewrite. */
static void
capture_queue(struct capture *c)
{
	bool	kick = false;

	pthread_mutex_lock(&cap.jmtx);
	if (cap.journal) {
		if (cap.jn >= cap.max * cap.nrings)
			cap.jcompact = true;
		else {
			if (cap.jq == NULL)
				cap.jq = xcalloc(cap.max * cap.nrings,
				    sizeof(*cap.jq));
			capture_ref(c);
			cap.jq[cap.jn++] = c;
		}
		kick = true;
	}
	pthread_mutex_unlock(&cap.jmtx);
	if (kick)
		replay_kick();
}

static struct capring *
capture_ring_of(const char *label)
{
	size_t	i;

	for (i = 0; i < cap.nrings; i++)
		if (strcmp(cap.rings[i].label, label) == 0)
			return &cap.rings[i];
	return &cap.rings[0];
}

/*
 * A loaded capture into its ring in id order (the file is in the order
 * exchanges finished, so nearly sorted): one already there, or older than
 * a full ring's oldest, is dropped.  Gives the ring c's reference.
 */
static void
capture_insert_locked(struct capring *r, struct capture *c)
{
	size_t	lo = 0, hi = r->n, mid, j;

	if (r->n == 0 || r->ents[(r->first + r->n - 1) % r->max]->id < c->id) {
		capture_push_locked(r, c);
		return;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r->ents[(r->first + mid) % r->max]->id < c->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (r->ents[(r->first + lo) % r->max]->id == c->id ||
	    (lo == 0 && r->n == r->max)) {
		capture_unref(c);
		return;
	}
	if (r->n == r->max) {		/* the oldest goes */
		capture_unref(r->ents[r->first]);
		r->first = (r->first + 1) % r->max;
		r->n--;
		lo--;
	}
	for (j = r->n; j > lo; j--)
		r->ents[(r->first + j) % r->max] =
		    r->ents[(r->first + j - 1) % r->max];
	r->ents[(r->first + lo) % r->max] = c;
	r->n++;
}

/*
 * The lines after the first, each a capture (capfmt.c), straight into
 * the rings.  A bad line is skipped with a warning, a line over the limit
 * too.  Returns the highest id seen.
 */
static uint64_t
capture_read_lines(FILE *fp, const char *path)
{
	struct capture	*c;
	struct capring	*r;
	struct tbuf	 line;
	char		 err[256], *label;
	size_t		 lineno = 1, maxline;
	uint64_t	 top = 0;
	int		 ch;
	bool		 skipping = false;

	maxline = 2 * (cap.cap / 3 * 4 + 8) + CAPTURE_LINE_EXTRA;
	tbuf_init(&line, maxline);
	while (lineno < CAPTURE_LOAD_LINES) {
		ch = getc(fp);
		if (ch != '\n' && ch != EOF) {
			if (!skipping && tbuf_put(&line, &(char){ (char)ch },
			    1) != 0) {
				log_warn("%s: line %zu is too long; skipped",
				    path, lineno + 1);
				skipping = true;
			}
			continue;
		}
		if (tbuf_len(&line) > 0 || skipping)
			lineno++;
		if (tbuf_len(&line) > 0 && !skipping) {
			c = capfmt_decode_line((const char *)tbuf_ptr(&line),
			    tbuf_len(&line), cap.cap, &label, err, sizeof(err));
			if (c == NULL)
				log_warn("%s: line %zu: %s; skipped", path,
				    lineno, err);
			else {
				r = c->ring = capture_ring_of(label);
				free(label);
				c->journaled = true;
				atomic_fetch_add(&cap.bytes,
				    tbuf_len(&c->reqbody.kept) +
				    tbuf_len(&c->respbody.kept));
				if (c->id > top)
					top = c->id;
				pthread_mutex_lock(&r->mtx);
				capture_insert_locked(r, c);
				capture_trim_locked(r);
				pthread_mutex_unlock(&r->mtx);
			}
		}
		skipping = false;
		tbuf_reset(&line);
		if (ch == EOF)
			break;
	}
	tbuf_free(&line);
	return top;
}

/*
 * At start: the captures of the file join the rings (each ring keeps its
 * newest), and the file is kept from now on.  No file yet: a new one.
 * A file that is not a capture file is an error, so it is not clobbered.
 */
int
capture_load(const char *path)
{
	struct stat	 sb;
	FILE		*fp;
	char		 head[128];
	uint64_t	 top;
	int		 r = 0;

	if (!cap.on)
		return 0;
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			return TUN_EIO;
		goto done;
	}
	if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fclose(fp);
		return TUN_EINVAL;
	}
	if (fgets(head, sizeof(head), fp) == NULL)
		goto close;			/* empty: a new file */
	if (strcmp(head, CAPTURE_FILE_HEADER) != 0) {
		fclose(fp);
		return TUN_EINVAL;
	}
	top = capture_read_lines(fp, path);
	if (ferror(fp))
		r = TUN_EIO;
	pthread_mutex_lock(&cap.idmtx);
	if (top >= cap.next_id)
		cap.next_id = top + 1;
	pthread_mutex_unlock(&cap.idmtx);
close:
	fclose(fp);
done:
	pthread_mutex_lock(&cap.jmtx);
	cap.journal = true;
	cap.jcompact = true;
	pthread_mutex_unlock(&cap.jmtx);
	return r;
}

static void
capture_jwarn(const char *path, const char *what)
{
	uint64_t	now = util_now_ms();

	if (cap.jwarned != 0 && now - cap.jwarned < 10000)
		return;
	cap.jwarned = now;
	log_warn("capture file %s: %s: %s", path, what, strerror(errno));
}

static int
capture_write_all(int fd, const char *s, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, s, len)) < 0) {
			if (errno == EINTR)
				continue;
			return TUN_EIO;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The whole file anew from the rings: FILE.tmp, then renamed. */
static int
capture_rewrite(const char *path)
{
	struct capture	**all;
	struct capview	  v;
	char		 *tmp, *line;
	size_t		  i, n, lines = 0;
	int		  fd, r = 0;

	n = cap.max * cap.nrings;
	all = xcalloc(n, sizeof(*all));
	n = capture_list(all, n);
	qsort(all, n, sizeof(*all), capture_cmp_id);
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		capture_jwarn(tmp, "cannot create");
		r = TUN_EIO;
		goto out;
	}
	r = capture_write_all(fd, CAPTURE_FILE_HEADER,
	    strlen(CAPTURE_FILE_HEADER));
	for (i = 0; i < n && r == 0; i++) {
		capture_view(all[i], &v);
		if (v.state != CAPTURE_DONE)
			continue;	/* appended when done */
		line = capfmt_encode_line(all[i]);
		r = capture_write_all(fd, line, strlen(line));
		free(line);
		all[i]->journaled = true;
		lines++;
	}
	if (close(fd) != 0 && r == 0)
		r = TUN_EIO;
	if (r == 0 && rename(tmp, path) != 0)
		r = TUN_EIO;
	if (r != 0) {
		capture_jwarn(path, "cannot write");
		(void)unlink(tmp);
	} else
		cap.jlines = lines;
out:
	for (i = 0; i < n; i++)
		capture_unref(all[i]);
	free(all);
	free(tmp);
	return r;
}

/* Finished captures at the end of the file. */
static int
capture_append(const char *path, struct capture **q, size_t n)
{
	struct stat	 sb;
	char		*line;
	size_t		 i;
	int		 fd, r = 0;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		capture_jwarn(path, "cannot open");
		return TUN_EIO;
	}
	if (fstat(fd, &sb) == 0 && sb.st_size == 0)
		r = capture_write_all(fd, CAPTURE_FILE_HEADER,
		    strlen(CAPTURE_FILE_HEADER));
	for (i = 0; i < n && r == 0; i++) {
		if (q[i]->journaled)
			continue;
		line = capfmt_encode_line(q[i]);
		r = capture_write_all(fd, line, strlen(line));
		free(line);
		q[i]->journaled = true;
		cap.jlines++;
	}
	if (close(fd) != 0 && r == 0)
		r = TUN_EIO;
	if (r != 0)
		capture_jwarn(path, "cannot append");
	return r;
}

/*
 * The worker thread's turn (replay.c): append what finished, or rewrite
 * the file when asked to or when it has grown to twice the rings.
 */
int
capture_journal(const char *path, bool final)
{
	struct capture	**q;
	size_t		  n, i;
	bool		  compact;
	int		  r;

	pthread_mutex_lock(&cap.jmtx);
	if (!cap.journal) {
		pthread_mutex_unlock(&cap.jmtx);
		return 0;
	}
	q = cap.jq;
	n = cap.jn;
	cap.jq = NULL;
	cap.jn = 0;
	compact = cap.jcompact || cap.jlines + n > 2 * cap.max * cap.nrings;
	cap.jcompact = false;
	pthread_mutex_unlock(&cap.jmtx);
	if (compact)
		r = capture_rewrite(path);
	else if (n > 0)
		r = capture_append(path, q, n);
	else
		r = 0;
	if (r != 0 && !final) {
		pthread_mutex_lock(&cap.jmtx);
		cap.jcompact = true;		/* try again, whole */
		pthread_mutex_unlock(&cap.jmtx);
	}
	for (i = 0; i < n; i++)
		capture_unref(q[i]);
	free(q);
	return r;
}
