/*
 * Uptime history of every tunnel: the main loop calls history_tick() at
 * least once a second; at each new slot of uptime_interval seconds every
 * tunnel records whether an agent serves it (uptime.c).  The history lives
 * in the tunnel (t->uptime, under the registry's lock), so it goes when
 * the tunnel is deleted or cleaned up.
 *
 * state_dir/uptime.bin is written atomically every HISTORY_SAVE_EVERY
 * samples and at exit, and read at start after tunnels.json: records of
 * tunnels that are gone by then are dropped, and a file of another slot
 * length is ignored (its slots would mean other times).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"
#include "xmalloc.h"

#define HISTORY_FILE		"uptime.bin"
#define HISTORY_SAVE_EVERY	10

struct history_buf {
	uint8_t		*p;
	size_t		 n;		/* records written */
	size_t		 max;		/* records it has room for */
	int64_t		 slot;
};

struct history_load {
	size_t		 kept;
	size_t		 dropped;
};

static int64_t	 history_last = -1;	/* main thread only */
static int	 history_unsaved;

static void	 history_sample_one(struct tunnel *, void *);
static void	 history_encode_one(struct tunnel *, void *);
static void	 history_restore_one(const char *, const struct uptime *,
		    void *);
static int	 history_read(const char *, uint8_t **, size_t *);

/* The slot now is in. */
int64_t
history_slot(void)
{
	int	iv = cfg.uptime_interval > 0 ? cfg.uptime_interval : 60;

	return util_wall_s() / iv;
}

static void
history_sample_one(struct tunnel *t, void *arg)
{
	const int64_t	*slot = arg;

	if (t->uptime == NULL) {
		t->uptime = xmalloc(sizeof(*t->uptime));
		uptime_init(t->uptime);
	}
	uptime_record(t->uptime, *slot, tunnel_connected(t));
}

void
history_tick(void)
{
	int64_t	slot = history_slot();

	if (slot == history_last)
		return;
	history_last = slot;
	registry_lock();
	registry_foreach_locked(history_sample_one, &slot);
	registry_unlock();
	if (++history_unsaved >= HISTORY_SAVE_EVERY)
		(void)history_save();
}

static void
history_encode_one(struct tunnel *t, void *arg)
{
	struct history_buf	*hb = arg;

	if (t->uptime == NULL || hb->n >= hb->max)
		return;
	uptime_encode(t->uptime, t->id,
	    hb->p + UPTIME_HDR + hb->n * UPTIME_REC);
	hb->n++;
}

/* Encoded under the registry's lock, written outside it. */
int
history_save(void)
{
	struct history_buf	 hb;
	char			*path;
	int			 r;

	history_unsaved = 0;
	if (cfg.state_dir == NULL)
		return 0;
	registry_lock();
	hb.max = registry_count_locked();
	hb.p = xmalloc(UPTIME_HDR + hb.max * UPTIME_REC);
	hb.n = 0;
	registry_foreach_locked(history_encode_one, &hb);
	registry_unlock();
	uptime_header(hb.p, cfg.uptime_interval, (uint32_t)hb.n);
	xasprintf(&path, "%s/%s", cfg.state_dir, HISTORY_FILE);
	r = state_write(path, hb.p, UPTIME_HDR + hb.n * UPTIME_REC);
	free(path);
	free(hb.p);
	return r;
}

/* Registry locked: a record goes to its tunnel, if the tunnel is there. */
static void
history_restore_one(const char *id, const struct uptime *u, void *arg)
{
	struct history_load	*hl = arg;
	struct tunnel		*t;

	if ((t = registry_find_locked(id)) == NULL || t->uptime != NULL) {
		hl->dropped++;
		return;
	}
	t->uptime = xmalloc(sizeof(*t->uptime));
	*t->uptime = *u;
	hl->kept++;
}

/* The whole file, at most a header and a record per possible tunnel. */
static int
history_read(const char *path, uint8_t **out, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 max, off = 0;
	ssize_t		 n;
	int		 fd, r = TUN_EIO;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? TUN_ENOENT : TUN_EIO;
	max = UPTIME_HDR + (registry_count_locked() + 1) * UPTIME_REC * 2;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > max) {
		r = TUN_ETOOBIG;
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	*out = buf;
	*lenp = off;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

/* At start, after state_load(): a damaged file is logged and ignored. */
int
history_load(void)
{
	struct history_load	 hl = { 0, 0 };
	uint8_t			*buf = NULL;
	size_t			 len = 0;
	char			*path;
	int			 r, interval = 0;

	xasprintf(&path, "%s/%s", cfg.state_dir, HISTORY_FILE);
	registry_lock();
	if ((r = history_read(path, &buf, &len)) == 0)
		r = uptime_parse(buf, len, cfg.uptime_interval, &interval,
		    history_restore_one, &hl);
	registry_unlock();
	if (r == TUN_ENOENT)
		r = 0;
	else if (r == TUN_EINVAL)
		log_warn("history: %s has slots of %d s, not uptime_interval "
		    "%d s; starting a new history", path, interval,
		    cfg.uptime_interval);
	else if (r != 0)
		log_warn("history: %s: %s; starting without (some) uptime "
		    "history", path, tunerr_str(r));
	else
		log_info("history: uptime of %zu tunnels loaded from %s (%zu "
		    "dropped)", hl.kept, path, hl.dropped);
	free(buf);
	free(path);
	return 0;
}
