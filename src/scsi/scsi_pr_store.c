// SPDX-License-Identifier: MIT
/*
 * The file store for persistent reservations (scsi_pr_store.h): one file
 * per device, DIR/<dev_id>.pr, whose first line carries the version.
 * Only this process writes the directory, so the version comparison
 * guards against nothing today; it is there so the callers are written
 * for stores that other processes share.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_file.h"
#include "scsi/scsi_pr_store.h"

#define SCSI_PR_STORE_MAGIC "iopd-pr-store"
#define SCSI_PR_STORE_MAX   (1u << 20) /* 256 registrations fit easily */

/* DIR/<dev_id>.pr with every byte outside [A-Za-z0-9._-] as %XX, so a
 * device name cannot leave the directory. */
static int scsi_pr_store_path(const char *dir, const char *dev_id, char *out,
			      size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s/", dir);

	for (const unsigned char *p = (const unsigned char *)dev_id; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') ||
			     (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '.' ||
			     *p == '-' || *p == '_';

		if (n + 4 >= size)
			return -ENAMETOOLONG;
		if (plain && !(*p == '.' && p == (const unsigned char *)dev_id))
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, size - n, "%%%02X", *p);
	}
	if (n + 4 >= size)
		return -ENAMETOOLONG;
	memcpy(out + n, ".pr", 4);
	return 0;
}

static int scsi_pr_store_read(const char *path, char **textp)
{
	char *buf = NULL;
	size_t len = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	buf = malloc(SCSI_PR_STORE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, SCSI_PR_STORE_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == SCSI_PR_STORE_MAX) {
			ret = -EFBIG;
			break;
		}
	}
	close(fd);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[len] = 0;
	*textp = buf;
	return 0;
}

static int scsi_pr_store_file_load(void *ctx, const char *dev_id, char **text,
				   uint64_t *version)
{
	char path[4096], *buf = NULL, *nl;
	uint64_t v;
	int ret, off = 0;

	ret = scsi_pr_store_path(ctx, dev_id, path, sizeof(path));
	if (ret < 0)
		return ret;
	ret = scsi_pr_store_read(path, &buf);
	if (ret < 0)
		return ret;
	nl = strchr(buf, '\n');
	if (!nl ||
	    sscanf(buf, SCSI_PR_STORE_MAGIC " %" SCNu64 "%n", &v, &off) != 1 ||
	    buf + off != nl) {
		free(buf);
		return -EBADMSG;
	}
	memmove(buf, nl + 1, strlen(nl + 1) + 1);
	*text = buf;
	*version = v;
	return 0;
}

static int scsi_pr_store_file_save(void *ctx, const char *dev_id,
				   const char *text, uint64_t expect)
{
	char path[4096], *old = NULL, *buf;
	uint64_t cur = 0;
	int ret, len;

	ret = scsi_pr_store_path(ctx, dev_id, path, sizeof(path));
	if (ret < 0)
		return ret;
	ret = scsi_pr_store_file_load(ctx, dev_id, &old, &cur);
	free(old);
	if (ret == -ENOENT)
		cur = 0;
	else if (ret < 0)
		return ret;
	if (cur != expect)
		return -ESTALE;
	if (!text) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	len = asprintf(&buf, SCSI_PR_STORE_MAGIC " %" PRIu64 "\n%s", expect + 1,
		       text);
	if (len < 0)
		return -ENOMEM;
	ret = base_file_write_atomic(path, buf, (size_t)len, 0600);
	free(buf);
	return ret;
}

const struct scsi_pr_store_ops scsi_pr_store_file_ops = {
	.load = scsi_pr_store_file_load,
	.save = scsi_pr_store_file_save,
};
