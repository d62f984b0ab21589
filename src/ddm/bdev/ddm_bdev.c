/* SPDX-License-Identifier: MIT */
/*
 * The bdev DDM: a block device as a device.  It opens the device (O_DIRECT
 * unless told otherwise), reads its geometry from the block layer and asks
 * the queue limits in sysfs what zeroing it can offload; the data path is
 * the shared fd machinery in ddm_fd.c.  No extents: a block device has no
 * allocation map to report.
 *
 * How the kernel maps fallocate on a block device (block/fops.c):
 * ZERO_RANGE is blkdev_issue_zeroout, offloaded as WRITE ZEROES when the
 * device has it and otherwise done by the kernel writing zero pages (slow,
 * so not for FAST_ZERO); PUNCH_HOLE|KEEP_SIZE is zeroout that may unmap and
 * never falls back, so it only works on devices with WRITE ZEROES, and the
 * range then reads as zeroes.  TRIM uses that punch, so a device with
 * discard but no WRITE ZEROES offers no TRIM (trim is advisory; base_io has
 * no BLKDISCARD ioctl to do better).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/base_log.h"
#include "ddm/ddm_fd.h"

/* A page is what the kernel moves in any case; smaller preferred sizes
 * only invite read-modify-write cycles. */
#define BDEV_PREF_MIN_BYTES 4096

/*
 * A queue limit from sysfs, in bytes; 0 if unknown.  Partitions have no
 * queue directory of their own; their disk's is one level up.
 */
static uint64_t ddm_bdev_queue_limit(dev_t rdev, const char *name)
{
	unsigned long long val = 0;
	char path[128];

	for (int up = 0; up < 2; up++) {
		FILE *f;
		int ok;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%squeue/%s",
			 major(rdev), minor(rdev), up ? "../" : "", name);
		f = fopen(path, "re");
		if (!f)
			continue;
		ok = fscanf(f, "%llu", &val) == 1;
		fclose(f);
		if (ok)
			return val;
	}
	return 0;
}

static int ddm_bdev_geometry(struct ddm_dev *dev, int fd)
{
	uint64_t size;
	int lbs, pbs, ret;

	if (ioctl(fd, BLKGETSIZE64, &size) < 0 ||
	    ioctl(fd, BLKSSZGET, &lbs) < 0 || ioctl(fd, BLKPBSZGET, &pbs) < 0) {
		ret = -errno;
		log_error("%s: cannot read the block device geometry: %s",
			  dev->name, strerror(-ret));
		return ret;
	}
	if (lbs <= 0 || pbs < lbs) {
		log_error("%s: odd block sizes (logical %d, physical %d)",
			  dev->name, lbs, pbs);
		return -EINVAL;
	}
	dev->size_bytes = size;
	dev->block_size_min = (uint32_t)lbs;
	dev->block_size_pref =
		(uint32_t)(pbs > BDEV_PREF_MIN_BYTES ? pbs
						     : BDEV_PREF_MIN_BYTES);
	dev->block_size_max = 0;
	return 0;
}

static uint32_t ddm_bdev_caps(struct ddm_fd_dev *fdd, dev_t rdev,
			      bool read_only)
{
	/* One descriptor for all connections; fdatasync flushes the device
	 * cache for everything completed, whoever wrote it. */
	uint32_t caps = DDM_CAP_MULTI_CONN;
	bool offload = ddm_bdev_queue_limit(rdev, "write_zeroes_max_bytes") > 0;

	if (!fdd->direct)
		caps |= DDM_CAP_CACHE;
	if (read_only)
		return caps;
	fdd->punch = offload;
	fdd->zero_range = true;
	fdd->zero_range_fast = offload;
	caps |= DDM_CAP_FLUSH | DDM_CAP_FUA | DDM_CAP_ZEROES;
	if (offload)
		caps |= DDM_CAP_TRIM | DDM_CAP_FAST_ZERO;
	return caps;
}

static int ddm_bdev_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	struct ddm_fd_dev *fdd = dev->priv;
	struct stat st;
	int ret;

	fdd->fd = -1;
	if (!args->path) {
		log_error("%s: bdev: no path given", dev->name);
		return -EINVAL;
	}
	/* Block devices always take O_DIRECT at their logical block size,
	 * so -1 ("where allowed") means yes. */
	ret = ddm_fd_open(dev, fdd, args->path,
			  args->read_only ? O_RDONLY : O_RDWR, args->direct,
			  S_IFBLK, &st);
	if (ret < 0)
		return ret;
	ret = ddm_bdev_geometry(dev, fdd->fd);
	if (ret < 0)
		goto err_close;
	if (args->size_bytes && args->size_bytes != dev->size_bytes)
		log_warn("%s: %s has %llu bytes; ignoring the size asked for",
			 dev->name, args->path,
			 (unsigned long long)dev->size_bytes);
	dev->caps = ddm_bdev_caps(fdd, st.st_rdev, args->read_only);
	dev->read_only = args->read_only;
	/* RWF_DSYNC on a block device becomes REQ_FUA (or a write and a
	 * cache flush where the device has no FUA): the block layer's own
	 * path, shown durable on loop devices by test_durability.sh. */
	dev->durability = "fua:RWF_DSYNC flush:fdatasync";
	log_debug("%s: bdev %s: %llu bytes, %s, block %u/%u, caps 0x%x",
		  dev->name, args->path, (unsigned long long)dev->size_bytes,
		  fdd->direct ? "O_DIRECT" : "buffered", dev->block_size_min,
		  dev->block_size_pref, dev->caps);
	return 0;

err_close:
	ddm_fd_close(fdd);
	return ret;
}

static void ddm_bdev_close(struct ddm_dev *dev)
{
	ddm_fd_close(dev->priv);
}

const struct ddm_ops ddm_bdev_ops = {
	.name = "bdev",
	.spec_arg = DDM_SPEC_PATH,
	.spec_help = "bdev:PATH     block device",
	.dev_priv_size = sizeof(struct ddm_fd_dev),
	.req_priv_size = sizeof(struct ddm_fd_req),
	.open = ddm_bdev_open,
	.close = ddm_bdev_close,
	.sync = ddm_fd_sync_now,
	.submit = ddm_fd_submit,
	.extents = NULL,
};
