/* Small helpers shared by both programs. */
#ifndef UTIL_H
#define UTIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define UTIL_SHA256_HEX	65	/* 64 hex digits and a NUL */

size_t	 util_strlcpy(char *, const char *, size_t);
long long util_strtonum(const char *, long long, long long, const char **);
uint64_t util_now_ms(void);		/* CLOCK_MONOTONIC */
int64_t	 util_wall_s(void);		/* CLOCK_REALTIME seconds */
void	 util_iso8601(int64_t, char *, size_t);
bool	 util_ct_eq(const void *, const void *, size_t);
bool	 util_ct_streq(const char *, const char *);
int	 util_random(void *, size_t);
void	 util_random_id(char *, size_t);	/* [a-z0-9], NUL at len-1 */
void	 util_random_token(char *, size_t);	/* url-safe [A-Za-z0-9], NUL */
void	 util_random_hex(char *, size_t);	/* [0-9a-f], NUL at len-1 */
void	 util_sha256_hex(const void *, size_t, char out[UTIL_SHA256_HEX]);
bool	 util_valid_name(const char *);		/* [a-z0-9-]{1,63}, DNS label */
char	*util_trim(char *);
int	 util_hexval(int);			/* a hex digit's value, or -1 */
int	 util_split_hostport(const char *, char *, size_t, int *);
int	 util_raise_nofile(rlim_t *);

/* CIDR lists: trusted proxies, visitor allow lists. */
struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];
	int		bits;
};
int	 util_cidr_parse(const char *, struct cidr *);
bool	 util_cidr_match(const struct cidr *, const struct sockaddr *);
int	 util_sockaddr_str(const struct sockaddr *, char *, size_t);

#endif
