/*
 * A strict JSON reader that builds nothing (pjson.c): the caller walks the
 * text, asking for what it expects next.  Every call returns 0, or -1 for
 * text that is not JSON or breaks PROTOCOL's limits.
 */
#ifndef PJSON_H
#define PJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PJSON_MAX_DEPTH	7	/* objects and arrays, the outer one included */

struct pjson {
	const uint8_t	*p;
	const uint8_t	*end;
	int		 depth;
	char		*buf;		/* the last string, if it had escapes */
	size_t		 size;
};

void	 pjson_init(struct pjson *, const void *, size_t);
void	 pjson_free(struct pjson *);
int	 pjson_peek(struct pjson *);
bool	 pjson_eat(struct pjson *, int);
bool	 pjson_done(struct pjson *);
int	 pjson_enter(struct pjson *, int);
void	 pjson_leave(struct pjson *);
int	 pjson_string(struct pjson *, const char **, size_t *);
int	 pjson_int(struct pjson *, int64_t *);
int	 pjson_bool(struct pjson *, bool *);
int	 pjson_skip(struct pjson *);

#endif /* PJSON_H */
