// SPDX-License-Identifier: MIT
/*
 * mgmt_secret_read: see mgmt_secret.h.  The checks are made on the open
 * descriptor (fstat), so the file cannot be swapped between checking and
 * reading.  What the secret is for, and how long it must at least be, is
 * the caller's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_secret.h"

/* Is the open file one a secret may come from?  Logs why not. */
static int mgmt_secret_check(const char *what, const char *path, int fd,
			     size_t max_len)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s: secret file %s is not a regular file", what,
			  path);
		return -EINVAL;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_error("%s: secret file %s belongs to uid %u, neither root "
			  "nor iopd's user (uid %u); refusing it",
			  what, path, (unsigned int)st.st_uid,
			  (unsigned int)geteuid());
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		log_error("%s: secret file %s is accessible by group or others "
			  "(mode %04o); refusing it: chmod 600 %s",
			  what, path, (unsigned int)(st.st_mode & 07777), path);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max_len + 2) {
		log_error("%s: secret file %s is too large (%lld bytes; a "
			  "secret has at most %zu)",
			  what, path, (long long)st.st_size, max_len);
		return -EINVAL;
	}
	return 0;
}

/* Read all of fd into buf (size bytes); *len gets how much. */
static int mgmt_secret_slurp(int fd, char *buf, size_t size, size_t *len)
{
	ssize_t n;

	*len = 0;
	while (*len < size) {
		n = read(fd, buf + *len, size - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

/* One line of 1 to max_len bytes, its line end cut off in place. */
static bool mgmt_secret_one_line(char *buf, size_t len, size_t max_len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = 0;
	return len && len <= max_len && !memchr(buf, 0, len) &&
	       !memchr(buf, '\n', len);
}

/* Lines of max_len bytes in all, the last one's end cut off in place. */
static bool mgmt_secret_lines(char *buf, size_t len, size_t max_len)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = 0;
	return len && len <= max_len && !memchr(buf, 0, len);
}

static int mgmt_secret_read_as(const char *what, const char *path,
			       size_t max_len, bool lines, char **out);

int mgmt_secret_read(const char *what, const char *path, size_t max_len,
		     char **out)
{
	return mgmt_secret_read_as(what, path, max_len, false, out);
}

int mgmt_secret_read_lines(const char *what, const char *path, size_t max_len,
			   char **out)
{
	return mgmt_secret_read_as(what, path, max_len, true, out);
}

static int mgmt_secret_read_as(const char *what, const char *path,
			       size_t max_len, bool lines, char **out)
{
	/* Room for the line end and one byte more, to see a file grow. */
	size_t size = max_len + 3, len;
	char *buf;
	int fd, ret;

	/* O_NONBLOCK: a FIFO must not hang the daemon before fstat. */
	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		log_error("%s: secret file %s: %s", what, path,
			  ret == -ELOOP ? "is a symbolic link; name the file "
					  "itself"
					: strerror(-ret));
		return ret;
	}
	buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	ret = mgmt_secret_check(what, path, fd, max_len);
	if (ret == 0) {
		ret = mgmt_secret_slurp(fd, buf, size, &len);
		if (ret < 0)
			log_error("%s: secret file %s: %s", what, path,
				  strerror(-ret));
	}
	if (ret == 0 && !lines && !mgmt_secret_one_line(buf, len, max_len)) {
		log_error("%s: secret file %s must hold one line of 1 to %zu "
			  "bytes",
			  what, path, max_len);
		ret = -EINVAL;
	}
	if (ret == 0 && lines && !mgmt_secret_lines(buf, len, max_len)) {
		log_error("%s: secret file %s must hold lines of 1 to %zu "
			  "bytes in all",
			  what, path, max_len);
		ret = -EINVAL;
	}
	if (ret == 0) {
		*out = strdup(buf);
		ret = *out ? 0 : -ENOMEM;
	}
	explicit_bzero(buf, size + 1);
	free(buf);
	close(fd);
	return ret;
}
