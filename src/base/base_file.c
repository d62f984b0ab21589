// SPDX-License-Identifier: MIT
/*
 * base_file: the atomic, symlink-proof small-file write; see base_file.h.
 * The temporary name is "."-prefixed basename plus 16 random hex digits,
 * opened relative to a descriptor of the directory so the directory the
 * name was checked in is the one written to.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_file.h"

/* Split path into its directory (opened) and its last component. */
static int base_file_dir_open(const char *path, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		*base = path;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	*base = slash + 1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Create a fresh temporary file next to base in dfd; its name in tmp. */
static int base_file_tmp_create(int dfd, const char *base, char *tmp,
				size_t size, mode_t mode)
{
	for (int tries = 0; tries < 16; tries++) {
		uint64_t r;
		int fd;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -1;
		if ((size_t)snprintf(tmp, size, ".%s.%016llx", base,
				     (unsigned long long)r) >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int base_file_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int base_file_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode)
{
	char tmp[NAME_MAX + 1];
	const char *base;
	int dfd, fd, ret;

	if (!path || !*path)
		return -EINVAL;
	dfd = base_file_dir_open(path, &base);
	if (dfd < 0)
		return -errno;
	if (!*base) {
		close(dfd);
		return -EISDIR;
	}
	fd = base_file_tmp_create(dfd, base, tmp, sizeof(tmp), mode);
	if (fd < 0) {
		ret = -errno;
		close(dfd);
		return ret;
	}
	ret = base_file_write_all(fd, data, len);
	/* fchmod: the umask may have narrowed the creation mode. */
	if (ret == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && renameat(dfd, tmp, dfd, base) < 0)
		ret = -errno;
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
	else
		/* The rename is durable once the directory is; a file
		 * system that cannot sync a directory has it done already. */
		(void)fsync(dfd);
	close(dfd);
	return ret;
}
