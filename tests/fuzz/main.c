/*
 * Replay runner, linked instead of libFuzzer: feeds each file named on the
 * command line, or found in a directory named there (sorted, dot files
 * skipped), to LLVMFuzzerTestOneInput() once, in an exact-size buffer of
 * at most FUZZ_MAX_INPUT bytes.  Prints TAP: "# running NAME" before and
 * "ok N - NAME" after each input, the plan at the end.  A crash is a crash;
 * an unreadable file is "not ok" and the exit status is 1.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT	(1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

static int	main_path(const char *, int *);
static int	main_dir(const char *, int *);
static int	main_file(const char *, int *);
static int	main_read(const char *, uint8_t **, size_t *, int *);
static int	main_filter(const struct dirent *);

static int
main_filter(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Read at most FUZZ_MAX_INPUT bytes into an exact-size buffer. */
static int
main_read(const char *path, uint8_t **out, size_t *outlen, int *truncated)
{
	uint8_t	*buf = NULL, *exact;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, r = -1;

	*truncated = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if ((buf = malloc(FUZZ_MAX_INPUT + 1)) == NULL)
		goto out;
	while (len < FUZZ_MAX_INPUT + 1) {
		n = read(fd, buf + len, FUZZ_MAX_INPUT + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > FUZZ_MAX_INPUT) {
		len = FUZZ_MAX_INPUT;
		*truncated = 1;
	}
	/* Exact size, so a read past the end is caught by the sanitizers. */
	if ((exact = malloc(len > 0 ? len : 1)) == NULL)
		goto out;
	memcpy(exact, buf, len);
	*out = exact;
	*outlen = len;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int
main_file(const char *path, int *n)
{
	uint8_t	*data;
	size_t	 len;
	int	 truncated, saved;

	if (main_read(path, &data, &len, &truncated) == -1) {
		saved = errno;
		printf("not ok %d - %s: %s\n", ++*n, path, strerror(saved));
		fflush(stdout);
		return -1;
	}
	printf("# running %s\n", path);
	if (truncated)
		printf("# %s: only the first %d bytes\n", path, FUZZ_MAX_INPUT);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	printf("ok %d - %s\n", ++*n, path);
	fflush(stdout);
	return 0;
}

static int
main_dir(const char *path, int *n)
{
	struct dirent	**de;
	char		  sub[PATH_MAX];
	int		  i, len, count, r = 0;

	if ((count = scandir(path, &de, main_filter, alphasort)) == -1) {
		printf("not ok %d - %s: %s\n", ++*n, path, strerror(errno));
		return -1;
	}
	for (i = 0; i < count; i++) {
		len = snprintf(sub, sizeof(sub), "%s/%s", path, de[i]->d_name);
		if (len < 0 || (size_t)len >= sizeof(sub)) {
			printf("not ok %d - %s/%s: path too long\n", ++*n, path,
			    de[i]->d_name);
			r = -1;
		} else if (main_path(sub, n) != 0)
			r = -1;
		free(de[i]);
	}
	free(de);
	return r;
}

static int
main_path(const char *path, int *n)
{
	struct stat	st;

	if (stat(path, &st) == -1) {
		printf("not ok %d - %s: %s\n", ++*n, path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return main_dir(path, n);
	return main_file(path, n);
}

int
main(int argc, char **argv)
{
	int	i, n = 0, r = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc < 2) {
		fprintf(stderr, "usage: %s file|directory ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (main_path(argv[i], &n) != 0)
			r = 1;
	}
	printf("1..%d\n", n);
	return r;
}
