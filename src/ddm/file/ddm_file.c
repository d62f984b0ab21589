/* SPDX-License-Identifier: MIT */
/*
 * The file DDM: a regular file as a device.  It decides how to open the
 * file (O_DIRECT where the file system allows it, with the alignment that
 * implies), what the file system can do (punch holes, zero ranges) and how
 * the file is allocated (SEEK_DATA/SEEK_HOLE); the data path itself is the
 * shared fd machinery in ddm_fd.c.
 *
 * Size: the file's own size, extended (never truncated) to
 * args->size_bytes when that is larger; a missing file is created when a
 * size is given.  With O_DIRECT the device is as large as the whole
 * aligned blocks the file holds.
 *
 * Alignment: with O_DIRECT, block_size_min is the smallest offset
 * alignment direct I/O accepts (statx STATX_DIOALIGN, else a 512-byte
 * probe read), so the Local Transport rejects what the kernel would; the
 * buffers it hands down are assumed 4096-aligned, which covers every
 * memory alignment file systems ask for.  Buffered, any byte range works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/base_log.h"
#include "ddm/ddm_fd.h"

/* The memory alignment the Local Transport guarantees for buffers. */
#define FILE_BUF_ALIGN 4096

/*
 * The smallest offset/length alignment O_DIRECT accepts on this file, or 0
 * if direct I/O does not work here at all.
 */
static uint32_t ddm_file_dio_align(int fd, uint64_t size_bytes)
{
	struct statx stx;
	void *buf;
	uint32_t align = 0;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (stx.stx_dio_mem_align > FILE_BUF_ALIGN)
			return 0;
		return stx.stx_dio_offset_align;
	}
	/* Older kernels: try a 512-byte direct read, then a 4096-byte one. */
	if (posix_memalign(&buf, FILE_BUF_ALIGN, 4096))
		return 0;
	for (uint32_t try = 512; try <= 4096 && !align; try *= 8) {
		if (size_bytes < try)
			align = 4096; /* cannot probe; assume the strictest */
		else if (pread(fd, buf, try, 0) == (ssize_t)try)
			align = try;
	}
	free(buf);
	return align;
}

/* Leave O_DIRECT, keeping the descriptor. */
static int ddm_file_go_buffered(struct ddm_dev *dev, struct ddm_fd_dev *fdd)
{
	int fl = fcntl(fdd->fd, F_GETFL), ret;

	if (fl < 0 || fcntl(fdd->fd, F_SETFL, fl & ~O_DIRECT) < 0) {
		ret = -errno;
		log_error("%s: cannot turn O_DIRECT off: %s", dev->name,
			  strerror(-ret));
		return ret;
	}
	fdd->direct = false;
	return 0;
}

/*
 * Memory file systems have no page cache to bypass: there O_DIRECT only
 * costs.  Nor can io_uring complete tmpfs reads inline (kernel 6.18
 * still hands every one to an iou-wrk thread: two thread switches for a
 * memcpy, most of the server's CPU at queue depth 1), so calls on such a
 * file are made on the worker itself (BASE_IO_F_INLINE).
 */
static bool ddm_file_on_memory_fs(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 &&
	       (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
}

/*
 * The durability contract: may a FUA write be one write with RWF_DSYNC?
 * Only where that has been shown to reach stable storage: the local disk
 * file systems below (and memory, where nothing is durable anyway).  On
 * FUSE, io_uring's O_DIRECT write with RWF_DSYNC was acknowledged and
 * then lost at a power cut while a following fdatasync was not; network
 * and stacked file systems are not trusted either.  Everywhere else a
 * FUA write is the write followed by fdatasync (the Local Transport's
 * emulation, without DDM_CAP_FUA).
 */
static bool ddm_file_dsync_trusted(int fd, const char **why)
{
	static const struct {
		long magic;
		const char *name;
	} trusted[] = {
		{ EXT4_SUPER_MAGIC, "ext4" },	{ XFS_SUPER_MAGIC, "xfs" },
		{ BTRFS_SUPER_MAGIC, "btrfs" }, { TMPFS_MAGIC, "tmpfs" },
		{ RAMFS_MAGIC, "ramfs" },
	};
	struct statfs sfs;

	*why = "fua:write+fdatasync flush:fdatasync";
	if (fstatfs(fd, &sfs) < 0)
		return false;
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++)
		if (sfs.f_type == trusted[i].magic) {
			*why = "fua:RWF_DSYNC flush:fdatasync";
			return true;
		}
	return false;
}

/* Settle O_DIRECT, block sizes and the device size from the file's. */
static int ddm_file_geometry(struct ddm_dev *dev, struct ddm_fd_dev *fdd,
			     const struct stat *st, int direct)
{
	uint64_t size = (uint64_t)st->st_size;
	uint32_t align = fdd->direct ? ddm_file_dio_align(fdd->fd, size) : 1;
	int ret;

	fdd->inline_io = ddm_file_on_memory_fs(fdd->fd);
	if (fdd->direct && direct < 0 && ddm_file_on_memory_fs(fdd->fd)) {
		log_debug("%s: on a memory file system: buffered I/O",
			  dev->name);
		ret = ddm_file_go_buffered(dev, fdd);
		if (ret < 0)
			return ret;
		align = 1;
	} else if (fdd->direct && (!align || size % align) && direct < 0) {
		/* Unaligned tail or no direct I/O here: the page cache
		 * serves every byte where O_DIRECT could not. */
		ret = ddm_file_go_buffered(dev, fdd);
		if (ret < 0)
			return ret;
		align = 1;
	} else if (fdd->direct && !align) {
		log_error("%s: O_DIRECT was required but direct I/O fails here",
			  dev->name);
		return -EINVAL;
	} else if (size % align) {
		log_warn("%s: O_DIRECT: the last %llu bytes, not a whole "
			 "%u-byte block, are not exported",
			 dev->name, (unsigned long long)(size % align), align);
		size -= size % align;
	}
	dev->size_bytes = size;
	dev->block_size_min = align;
	dev->block_size_pref = st->st_blksize > align ? st->st_blksize : align;
	dev->block_size_max = 0;
	return 0;
}

/*
 * Which fallocate modes work, asked on the 4 KiB just past the end of the
 * file with KEEP_SIZE so no byte the device exports changes.  The punch
 * comes second and also releases anything ZERO_RANGE preallocated there.
 */
static void ddm_file_probe_fallocate(struct ddm_fd_dev *fdd, uint64_t size)
{
	off_t off = (off_t)((size + 4095) & ~4095ull);

	fdd->zero_range =
		fallocate(fdd->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			  off, 4096) == 0;
	/* On a file system ZERO_RANGE converts extents to unwritten ones:
	 * metadata only, fast enough for FAST_ZERO. */
	fdd->zero_range_fast = fdd->zero_range;
	fdd->punch =
		fallocate(fdd->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  off, 4096) == 0;
}

static uint32_t ddm_file_caps(struct ddm_dev *dev, const struct ddm_fd_dev *fdd,
			      bool read_only)
{
	/* One descriptor serves every connection, and fdatasync on it
	 * covers every completed write, whoever sent it. */
	uint32_t caps = DDM_CAP_EXTENTS | DDM_CAP_MULTI_CONN;

	/* Readahead fills the page cache, which O_DIRECT reads bypass. */
	if (!fdd->direct)
		caps |= DDM_CAP_CACHE;
	if (read_only)
		return caps;
	caps |= DDM_CAP_FLUSH;
	if (ddm_file_dsync_trusted(fdd->fd, &dev->durability))
		caps |= DDM_CAP_FUA;
	if (fdd->punch)
		caps |= DDM_CAP_TRIM;
	if (fdd->punch || fdd->zero_range)
		caps |= DDM_CAP_ZEROES;
	/* Punching (no NO_HOLE) or a fast ZERO_RANGE serve FAST_ZERO; the
	 * cases neither covers fail -ENOTSUP, as the flag asks. */
	if (fdd->punch || fdd->zero_range_fast)
		caps |= DDM_CAP_FAST_ZERO;
	return caps;
}

static int ddm_file_size_set(struct ddm_dev *dev, struct ddm_fd_dev *fdd,
			     const struct ddm_open_args *args, struct stat *st)
{
	int ret;

	if (args->size_bytes <= (uint64_t)st->st_size)
		return 0;
	if (args->size_bytes > INT64_MAX || args->read_only) {
		log_error("%s: cannot grow %s to %llu bytes%s", dev->name,
			  args->path, (unsigned long long)args->size_bytes,
			  args->read_only ? ": opened read-only" : "");
		return -EINVAL;
	}
	if (ftruncate(fdd->fd, (off_t)args->size_bytes) < 0) {
		ret = -errno;
		log_error("%s: cannot grow %s to %llu bytes: %s", dev->name,
			  args->path, (unsigned long long)args->size_bytes,
			  strerror(-ret));
		return ret;
	}
	st->st_size = (off_t)args->size_bytes;
	return 0;
}

static int ddm_file_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	struct ddm_fd_dev *fdd = dev->priv;
	struct stat st;
	int flags, ret;

	fdd->fd = -1;
	if (!args->path) {
		log_error("%s: file: no path given", dev->name);
		return -EINVAL;
	}
	flags = args->read_only ? O_RDONLY : O_RDWR;
	if (!args->read_only && args->size_bytes)
		flags |= O_CREAT;
	ret = ddm_fd_open(dev, fdd, args->path, flags, args->direct, S_IFREG,
			  &st);
	if (ret < 0)
		return ret;
	ret = ddm_file_size_set(dev, fdd, args, &st);
	if (ret < 0)
		goto err_close;
	ret = ddm_file_geometry(dev, fdd, &st, args->direct);
	if (ret < 0)
		goto err_close;
	if (!args->read_only)
		ddm_file_probe_fallocate(fdd, (uint64_t)st.st_size);
	dev->caps = ddm_file_caps(dev, fdd, args->read_only);
	dev->read_only = args->read_only;
	log_debug("%s: file %s: %llu bytes, %s, block %u, caps 0x%x, %s",
		  dev->name, args->path, (unsigned long long)dev->size_bytes,
		  fdd->direct ? "O_DIRECT" : "buffered", dev->block_size_min,
		  dev->caps, dev->read_only ? "read-only" : dev->durability);
	return 0;

err_close:
	ddm_fd_close(fdd);
	return ret;
}

static void ddm_file_close(struct ddm_dev *dev)
{
	ddm_fd_close(dev->priv);
}

/*
 * SEEK_DATA/SEEK_HOLE move the shared file offset, which nothing else uses:
 * the data path is positional.  A hole reads as zeroes; data is reported
 * as data even where it holds zeroes.
 */
static int ddm_file_extents(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			    struct ddm_extent *ext, unsigned int *n_ext)
{
	struct ddm_fd_dev *fdd = dev->priv;
	uint64_t pos = offset, end = offset + len;
	unsigned int n = 0;

	while (pos < end && n < *n_ext) {
		off_t data = lseek(fdd->fd, (off_t)pos, SEEK_DATA);
		off_t hole;
		uint64_t stop;
		uint32_t flags;

		if (data < 0 && errno != ENXIO) {
			/* No SEEK_DATA here: call it all data. */
			if (n)
				break;
			ext[0].len = len;
			ext[0].flags = 0;
			*n_ext = 1;
			return 0;
		}
		if (data < 0 || (uint64_t)data > pos) {
			/* ENXIO: nothing but hole up to the end of file. */
			stop = data < 0 ? end : (uint64_t)data;
			flags = DDM_EXTENT_HOLE | DDM_EXTENT_ZERO;
		} else {
			hole = lseek(fdd->fd, (off_t)pos, SEEK_HOLE);
			stop = hole < 0 ? end : (uint64_t)hole;
			flags = 0;
		}
		if (stop > end)
			stop = end;
		ext[n].len = stop - pos;
		ext[n++].flags = flags;
		pos = stop;
	}
	*n_ext = n;
	return 0;
}

/* Clients see the new size when they next connect. */
static int ddm_file_resize(struct ddm_dev *dev, uint64_t size_bytes)
{
	struct ddm_fd_dev *fdd = dev->priv;
	struct stat st;

	if (dev->read_only || fstat(fdd->fd, &st) < 0 ||
	    size_bytes > INT64_MAX) {
		log_error("%s: file: cannot resize a read-only file",
			  dev->name);
		return -EROFS;
	}
	if (ftruncate(fdd->fd, (off_t)size_bytes) < 0) {
		log_error("%s: file: resize to %llu bytes: %s", dev->name,
			  (unsigned long long)size_bytes, strerror(errno));
		return -errno;
	}
	dev->size_bytes = size_bytes;
	return 0;
}

const struct ddm_ops ddm_file_ops = {
	.name = "file",
	.spec_arg = DDM_SPEC_PATH,
	.spec_help = "file:PATH     regular file",
	.dev_priv_size = sizeof(struct ddm_fd_dev),
	.req_priv_size = sizeof(struct ddm_fd_req),
	.open = ddm_file_open,
	.close = ddm_file_close,
	.sync = ddm_fd_sync_now,
	.submit = ddm_fd_submit,
	.extents = ddm_file_extents,
	.resize = ddm_file_resize,
	.read_source = ddm_fd_read_source,
};
