// SPDX-License-Identifier: MIT
/*
 * How each DDM's open() treats what the operator asks for: refusals with
 * the right errno, sizes created, grown or kept, read-only devices that
 * offer no write capabilities, and the O_DIRECT decisions of the file
 * DDM.  The data path is the conformance suite's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "iopd/ddm.h"
#include "test.h"

#define MIB (1024ull * 1024)

static char disk_dir[64];
static char path[128];

/* Open with args and return the result, closing again on success. */
static int open_close(const char *ddm, const struct ddm_open_args *args,
		      struct ddm_dev *out)
{
	struct ddm_dev dev = { .ops = ddm_find(ddm), .name = "probe" };
	int ret;

	if (!dev.ops)
		return -ENOSYS;
	dev.priv = calloc(1, dev.ops->dev_priv_size + 1);
	ret = dev.ops->open(&dev, args);
	if (ret == 0 && dev.ops->extents && (dev.caps & DDM_CAP_EXTENTS) &&
	    dev.size_bytes) {
		struct ddm_extent ext[4];
		unsigned int n = 4;

		CHECK_EQ_INT(dev.ops->extents(&dev, 0, dev.size_bytes, ext, &n),
			     0);
		CHECK(n >= 1 && ext[0].len > 0);
	}
	if (ret == 0)
		dev.ops->close(&dev);
	if (out)
		*out = dev;
	free(dev.priv);
	return ret;
}

/* A file of size bytes at path (sparse). */
static void make_file(const char *name, off_t size)
{
	int fd;

	snprintf(path, sizeof(path), "%s/%s", disk_dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, size) == 0);
	if (fd >= 0)
		close(fd);
}

/* The Makefile defines IOPD_DDM_<NAME>=1 for each DDM it builds. */
#ifndef IOPD_DDM_NULL
#define IOPD_DDM_NULL 0
#endif
#ifndef IOPD_DDM_RAM
#define IOPD_DDM_RAM 0
#endif
#ifndef IOPD_DDM_FILE
#define IOPD_DDM_FILE 0
#endif
#ifndef IOPD_DDM_BDEV
#define IOPD_DDM_BDEV 0
#endif

static void test_registry(void)
{
	static const char *const names[] = { "null", "ram", "file", "bdev" };
	static const bool built[] = { IOPD_DDM_NULL, IOPD_DDM_RAM,
				      IOPD_DDM_FILE, IOPD_DDM_BDEV };

	CHECK(ddm_find("nonesuch") == NULL);
	CHECK(ddm_find(NULL) == NULL);
	for (int i = 0; i < 4; i++) {
		const struct ddm_ops *ops = ddm_find(names[i]);

		CHECK((ops != NULL) == built[i]);
		if (!ops)
			continue;
		CHECK(!strcmp(ops->name, names[i]));
		CHECK(ops->open && ops->close && ops->submit);
	}
	CHECK(((uintptr_t)ddm_zero_buf & 4095) == 0);
	CHECK(ddm_zero_buf[0] == 0 &&
	      ddm_zero_buf[DDM_ZERO_BUF_BYTES - 1] == 0);
}

static void test_sizes(void)
{
	struct ddm_open_args a = { .direct = -1 };
	struct ddm_dev dev;

	a.size_bytes = (16ull << 40) + 1;
	CHECK_EQ_INT(open_close("ram", &a, NULL), -EFBIG);
	a.size_bytes = 16ull << 40; /* the limit itself; extents stay quick */
	CHECK_EQ_INT(open_close("ram", &a, &dev), 0);
	CHECK_EQ_INT(dev.size_bytes, 16ull << 40);
	a.size_bytes = 0;
	CHECK_EQ_INT(open_close("ram", &a, NULL), 0);
	CHECK_EQ_INT(open_close("null", &a, NULL), 0);
	a.size_bytes = (uint64_t)INT64_MAX + 1;
	CHECK_EQ_INT(open_close("null", &a, NULL), -EINVAL);

	/* file: created at the size asked for, grown, never shrunk. */
	snprintf(path, sizeof(path), "%s/new", disk_dir);
	a = (struct ddm_open_args){ .path = path,
				    .size_bytes = MIB,
				    .direct = -1 };
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK_EQ_INT(dev.size_bytes, MIB);
	a.size_bytes = 2 * MIB;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK_EQ_INT(dev.size_bytes, 2 * MIB);
	a.size_bytes = MIB;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK_EQ_INT(dev.size_bytes, 2 * MIB);
	/* Read-only cannot grow it. */
	a.read_only = true;
	a.size_bytes = 4 * MIB;
	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
}

static void test_file_modes(void)
{
	struct ddm_open_args a = { .direct = -1 };
	struct ddm_dev dev;

	/* An odd-sized file keeps every byte by going buffered... */
	make_file("odd", 1000003);
	a.path = path;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK_EQ_INT(dev.size_bytes, 1000003);
	CHECK_EQ_INT(dev.block_size_min, 1);
	CHECK(dev.caps & DDM_CAP_CACHE);
	/* ...unless O_DIRECT is insisted on: then the tail is dropped. */
	a.direct = 1;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK(dev.block_size_min > 1);
	CHECK_EQ_INT(dev.size_bytes % dev.block_size_min, 0);
	CHECK(dev.size_bytes > 1000003 - dev.block_size_min);
	CHECK(!(dev.caps & DDM_CAP_CACHE));

	/* Read-only: no write capabilities. */
	a.read_only = true;
	a.direct = -1;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK(!(dev.caps & (DDM_CAP_TRIM | DDM_CAP_ZEROES | DDM_CAP_FUA |
			    DDM_CAP_FAST_ZERO | DDM_CAP_FLUSH)));
	CHECK(dev.read_only);
	CHECK(dev.caps & DDM_CAP_EXTENTS);
}

static void test_refusals(void)
{
	struct ddm_open_args a = { .direct = -1 };

	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
	CHECK_EQ_INT(open_close("bdev", &a, NULL), -EINVAL);
	a.path = disk_dir;
	CHECK_EQ_INT(open_close("file", &a, NULL), -EISDIR);
	snprintf(path, sizeof(path), "%s/missing", disk_dir);
	a.path = path;
	a.read_only = true;
	CHECK_EQ_INT(open_close("file", &a, NULL), -ENOENT);
	/* Insisting on O_DIRECT where it does not exist fails (tmpfs takes
	 * it since Linux 6.6, so a device node stands in). */
	a = (struct ddm_open_args){ .path = "/dev/null", .direct = 1 };
	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
	a.direct = -1;
	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
	CHECK_EQ_INT(open_close("bdev", &a, NULL), -ENOTBLK);
	make_file("plain", MIB);
	a.path = path;
	CHECK_EQ_INT(open_close("bdev", &a, NULL), -ENOTBLK);
	/* A FIFO is refused, and a read-only open of it does not wait for
	 * a writer (the test would hang). */
	snprintf(path, sizeof(path), "%s/fifo", disk_dir);
	CHECK(mkfifo(path, 0600) == 0);
	a = (struct ddm_open_args){ .path = path, .direct = -1 };
	a.read_only = true;
	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
	a.read_only = false;
	CHECK_EQ_INT(open_close("file", &a, NULL), -EINVAL);
	CHECK_EQ_INT(open_close("bdev", &a, NULL), -ENOTBLK);
}

/* On tmpfs O_DIRECT bypasses nothing and slows io_uring down, so "where
 * allowed" means buffered there; asked for explicitly, it is honoured. */
static void test_file_tmpfs_buffered(void)
{
	struct ddm_open_args a = { .direct = -1 };
	char shm[] = "/dev/shm/ddm-open-XXXXXX";
	struct ddm_dev dev;
	int fd = mkstemp(shm);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	if (fd >= 0)
		close(fd);
	a.path = shm;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK_EQ_INT(dev.block_size_min, 1);
	CHECK(dev.caps & DDM_CAP_CACHE);
	a.direct = 1;
	CHECK_EQ_INT(open_close("file", &a, &dev), 0);
	CHECK(dev.block_size_min > 1);
	unlink(shm);
}

int main(void)
{
	char cmd[128];

	if (!IOPD_DDM_NULL || !IOPD_DDM_RAM || !IOPD_DDM_FILE ||
	    !IOPD_DDM_BDEV) {
		TEST_CASE(test_registry);
		printf("# SKIP the rest: not every DDM is built\n");
		return test_done();
	}
	base_log_set_level(getenv("IOPD_TEST_DEBUG") ? BASE_LOG_DEBUG
						     : BASE_LOG_ERROR);
	strcpy(disk_dir, "/var/tmp/ddm-open-XXXXXX");
	if (!mkdtemp(disk_dir)) {
		perror("mkdtemp");
		return 1;
	}
	TEST_CASE(test_registry);
	TEST_CASE(test_sizes);
	TEST_CASE(test_file_modes);
	TEST_CASE(test_file_tmpfs_buffered);
	TEST_CASE(test_refusals);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", disk_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", disk_dir);
	return test_done();
}
