/*
 * One tunnel's uptime history: a sample (agent connected or not) per slot
 * of uptime_interval seconds, a minute by default.
 *
 * The last UPTIME_FINE slots (24 h) are kept one by one, two bits a slot
 * (sampled, connected); the last UPTIME_COARSE hours (30 days) as two
 * counts per hour of UPTIME_GROUP slots (samples, connected ones).  That is
 * 1.8 KB a tunnel instead of the 5.4 KB of a bitmap of 30 days, and a slot
 * the server was not running for is "no data", not "down".  Both rings are
 * indexed by the absolute slot number; moving forward clears what the ring
 * passes over.  No I/O, no locks: history.c holds the registry's lock, the
 * unit tests call these directly.
 *
 * The state file holds fixed-size records (uptime_encode), little-endian,
 * after a header of magic, interval and count; uptime_parse checks every
 * byte it is given.
 */
#include "config.h"

#include <string.h>

#include "tunerr.h"
#include "tunneld.h"

#define UPTIME_MAGIC		"TUNUPTM1"
#define UPTIME_MAX_SLOT		(INT64_C(1) << 52)

static void	 uptime_advance(struct uptime *, int64_t);
static unsigned	 uptime_bit(const uint8_t *, int64_t);
static void	 uptime_put64(uint8_t *, uint64_t);
static uint64_t	 uptime_get64(const uint8_t *);
static int	 uptime_check(const struct uptime *);

void
uptime_init(struct uptime *u)
{
	memset(u, 0, sizeof(*u));
	u->last = -1;
}

static unsigned
uptime_bit(const uint8_t *map, int64_t slot)
{
	int64_t	i = slot % UPTIME_FINE;

	return (map[i / 8] >> (i % 8)) & 1;
}

/* Move the newest slot to s (> u->last), clearing what the rings pass. */
static void
uptime_advance(struct uptime *u, int64_t s)
{
	int64_t	i, h, oldh;

	if (u->last < 0 || s - u->last >= UPTIME_FINE) {
		memset(u->seen, 0, sizeof(u->seen));
		memset(u->up, 0, sizeof(u->up));
	} else {
		for (i = u->last + 1; i <= s; i++) {
			u->seen[(i % UPTIME_FINE) / 8] &=
			    (uint8_t)~(1u << ((i % UPTIME_FINE) % 8));
			u->up[(i % UPTIME_FINE) / 8] &=
			    (uint8_t)~(1u << ((i % UPTIME_FINE) % 8));
		}
	}
	oldh = u->last / UPTIME_GROUP;
	h = s / UPTIME_GROUP;
	if (u->last < 0 || h - oldh >= UPTIME_COARSE) {
		memset(u->hn, 0, sizeof(u->hn));
		memset(u->hup, 0, sizeof(u->hup));
	} else {
		for (i = oldh + 1; i <= h; i++) {
			u->hn[i % UPTIME_COARSE] = 0;
			u->hup[i % UPTIME_COARSE] = 0;
		}
	}
	u->last = s;
}

/*
 * Slot s was sampled: the agent was connected (up) or not.  A slot older
 * than the fine ring, a negative one, or one sampled already is ignored.
 */
void
uptime_record(struct uptime *u, int64_t s, bool up)
{
	int64_t	i, h;

	if (s < 0 || s >= UPTIME_MAX_SLOT)
		return;
	if (s > u->last)
		uptime_advance(u, s);
	else if (u->last - s >= UPTIME_FINE || uptime_bit(u->seen, s))
		return;
	i = s % UPTIME_FINE;
	u->seen[i / 8] |= (uint8_t)(1u << (i % 8));
	if (up)
		u->up[i / 8] |= (uint8_t)(1u << (i % 8));
	h = (s / UPTIME_GROUP) % UPTIME_COARSE;
	if (u->hn[h] < UPTIME_GROUP) {
		u->hn[h]++;
		if (up)
			u->hup[h]++;
	}
}

/*
 * Samples (*n) and connected ones (*up) in the slots [from, to).  A range
 * that starts inside the last UPTIME_FINE slots is counted slot by slot;
 * one that reaches further back is counted by whole hours, from the hour
 * that holds `from` to the one that holds `to - 1`.
 */
void
uptime_sum(const struct uptime *u, int64_t from, int64_t to, unsigned *n,
    unsigned *up)
{
	int64_t	s, h, hfrom, hto, lasth;

	*n = *up = 0;
	if (u->last < 0 || from >= to)
		return;
	if (to > u->last + 1)
		to = u->last + 1;
	if (from > u->last - UPTIME_FINE) {
		for (s = from < 0 ? 0 : from; s < to; s++) {
			*n += uptime_bit(u->seen, s);
			*up += uptime_bit(u->up, s);
		}
		return;
	}
	lasth = u->last / UPTIME_GROUP;
	hfrom = from < 0 ? 0 : from / UPTIME_GROUP;
	if (hfrom <= lasth - UPTIME_COARSE)
		hfrom = lasth - UPTIME_COARSE + 1;
	hto = to <= 0 ? 0 : (to - 1) / UPTIME_GROUP + 1;
	for (h = hfrom; h < hto; h++) {
		*n += u->hn[h % UPTIME_COARSE];
		*up += u->hup[h % UPTIME_COARSE];
	}
}

/*
 * nbars bars of width slots each, the last one ending with slot now; each
 * is the connected share in permille, or -1 where nothing was sampled.
 */
void
uptime_bars(const struct uptime *u, int64_t now, int width, int nbars,
    int *out)
{
	int64_t		 from;
	unsigned	 n, up;
	int		 i;

	for (i = 0; i < nbars; i++) {
		from = now + 1 - (int64_t)(nbars - i) * width;
		uptime_sum(u, from, from + width, &n, &up);
		out[i] = n == 0 ? -1 : (int)((up * 1000ull) / n);
	}
}

static void
uptime_put64(uint8_t *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
uptime_get64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The record of tunnel id's history: UPTIME_REC bytes at out. */
void
uptime_encode(const struct uptime *u, const char *id, uint8_t *out)
{
	size_t	off = 0;

	memset(out, 0, TUNNELD_ID_LEN);
	memcpy(out, id, strnlen(id, TUNNELD_ID_LEN - 1));
	off += TUNNELD_ID_LEN;
	uptime_put64(out + off, (uint64_t)u->last);
	off += 8;
	memcpy(out + off, u->seen, sizeof(u->seen));
	off += sizeof(u->seen);
	memcpy(out + off, u->up, sizeof(u->up));
	off += sizeof(u->up);
	memcpy(out + off, u->hn, sizeof(u->hn));
	off += sizeof(u->hn);
	memcpy(out + off, u->hup, sizeof(u->hup));
}

/* A decoded record makes sense: counts in range, up only where seen. */
static int
uptime_check(const struct uptime *u)
{
	size_t	i;

	if (u->last < -1 || u->last >= UPTIME_MAX_SLOT)
		return TUN_EPROTO;
	for (i = 0; i < sizeof(u->seen); i++)
		if ((u->up[i] & ~u->seen[i]) != 0)
			return TUN_EPROTO;
	for (i = 0; i < UPTIME_COARSE; i++)
		if (u->hn[i] > UPTIME_GROUP || u->hup[i] > u->hn[i])
			return TUN_EPROTO;
	return 0;
}

/* One record of UPTIME_REC bytes: the tunnel id (a valid name) and u. */
int
uptime_decode(const uint8_t *in, char id[TUNNELD_ID_LEN], struct uptime *u)
{
	size_t	off = TUNNELD_ID_LEN;

	if (memchr(in, '\0', TUNNELD_ID_LEN) == NULL)
		return TUN_EPROTO;
	memcpy(id, in, TUNNELD_ID_LEN);
	if (!util_valid_name(id))
		return TUN_EPROTO;
	uptime_init(u);
	u->last = (int64_t)uptime_get64(in + off);
	off += 8;
	memcpy(u->seen, in + off, sizeof(u->seen));
	off += sizeof(u->seen);
	memcpy(u->up, in + off, sizeof(u->up));
	off += sizeof(u->up);
	memcpy(u->hn, in + off, sizeof(u->hn));
	off += sizeof(u->hn);
	memcpy(u->hup, in + off, sizeof(u->hup));
	return uptime_check(u);
}

/* The file header: magic, the slot length in seconds, the record count. */
void
uptime_header(uint8_t *out, int interval, uint32_t count)
{
	memcpy(out, UPTIME_MAGIC, 8);
	uptime_put64(out + 8, (uint64_t)(uint32_t)interval |
	    (uint64_t)count << 32);
}

/*
 * A whole file of len bytes: header, then records, each handed to fn
 * (which keeps what it wants).  TUN_EPROTO for a bad header, a length that
 * is not the count's, or a bad record (fn has seen the records before
 * it); TUN_EINVAL, before any record, when the file's slot length
 * (*interval) is not want.
 */
int
uptime_parse(const uint8_t *buf, size_t len, int want, int *interval,
    void (*fn)(const char *, const struct uptime *, void *), void *arg)
{
	struct uptime	 u;
	char		 id[TUNNELD_ID_LEN];
	uint64_t	 v;
	uint32_t	 count, i;
	int		 r;

	if (len < UPTIME_HDR || memcmp(buf, UPTIME_MAGIC, 8) != 0)
		return TUN_EPROTO;
	v = uptime_get64(buf + 8);
	*interval = (int)(uint32_t)v;
	count = (uint32_t)(v >> 32);
	if (*interval < 1 || *interval > UPTIME_MAX_INTERVAL ||
	    (len - UPTIME_HDR) / UPTIME_REC != count ||
	    (len - UPTIME_HDR) % UPTIME_REC != 0)
		return TUN_EPROTO;
	if (*interval != want)
		return TUN_EINVAL;
	for (i = 0; i < count; i++) {
		if ((r = uptime_decode(buf + UPTIME_HDR + (size_t)i *
		    UPTIME_REC, id, &u)) != 0)
			return r;
		fn(id, &u, arg);
	}
	return 0;
}
