/*
 * Readiness, reload and watchdog notifications for systemd (Type=notify),
 * without libsystemd: the sd_notify(3) protocol is one datagram of
 * "KEY=VALUE" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET,
 * a path, or a name in the abstract namespace when it starts with '@'.
 * Without $NOTIFY_SOCKET every function here does nothing.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tunerr.h"
#include "tunneld.h"

static int	 notify_send(const char *);

static uint64_t	 notify_last_ping;

static int
notify_send(const char *msg)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 len;
	size_t			 n;
	int			 fd = -1, r = 0;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return 0;
	n = strlen(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		r = TUN_EINVAL;
		goto out;
	}
	memcpy(sun.sun_path, path, n);
	len = offsetof(struct sockaddr_un, sun_path) + n;
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract: no NUL counted */
	else
		len++;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1)
		r = TUN_EIO;
out:
	if (r != 0)
		log_warn("%s: NOTIFY_SOCKET %s: %s%s%s", __func__, path,
		    tunerr_str(r), r == TUN_EIO ? ": " : "",
		    r == TUN_EIO ? strerror(errno) : "");
	if (fd != -1)
		close(fd);
	return r;
}

int
notify_ready(void)
{
	notify_last_ping = util_now_ms();
	return notify_send("READY=1\nSTATUS=serving\n");
}

/* Reloading: systemd 253 and later also want the monotonic clock. */
int
notify_reloading(void)
{
	struct timespec	 ts;
	char		 msg[96];
	int		 n;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return notify_send("RELOADING=1\n");
	n = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return TUN_ETOOBIG;
	return notify_send(msg);
}

int
notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=draining\n");
}

/*
 * How often to ping the watchdog, in ms: half of $WATCHDOG_USEC, or 0 when
 * systemd asked for none (or asked another process: $WATCHDOG_PID).
 */
uint64_t
notify_watchdog_ms(void)
{
	const char	*v, *errstr;
	long long	 usec, pid;

	if ((v = getenv("WATCHDOG_USEC")) == NULL || *v == '\0')
		return 0;
	usec = util_strtonum(v, 1, 1000000LL * 86400 * 365, &errstr);
	if (errstr != NULL)
		return 0;
	if ((v = getenv("WATCHDOG_PID")) != NULL && *v != '\0') {
		pid = util_strtonum(v, 1, 0x7fffffff, &errstr);
		if (errstr != NULL || pid != (long long)getpid())
			return 0;
	}
	return usec / 2000 > 0 ? (uint64_t)usec / 2000 : 1;
}

/* Call often (the main loop does); pings at most every notify_watchdog_ms. */
int
notify_watchdog(void)
{
	uint64_t	 every, now;

	if ((every = notify_watchdog_ms()) == 0)
		return 0;
	now = util_now_ms();
	if (notify_last_ping != 0 && now - notify_last_ping < every)
		return 0;
	notify_last_ping = now;
	return notify_send("WATCHDOG=1\n");
}
