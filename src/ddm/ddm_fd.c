/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous I/O on a file descriptor for the file and bdev DDMs; see
 * ddm_fd.h.  Every request is a small state machine in req->priv driven by
 * base_io completions on the submitting worker's loop, so nothing here
 * blocks a worker except CACHE's posix_fadvise, which only queues
 * readahead.  Deciding which fallocate modes a descriptor supports is left
 * to the DDM that opened it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_assert.h"
#include "base/base_log.h"
#include "ddm/ddm_fd.h"

enum ddm_fd_stage {
	FD_STAGE_RW,
	FD_STAGE_TRIM,
	FD_STAGE_ZERO_PUNCH,
	FD_STAGE_ZERO_RANGE,
	FD_STAGE_SYNC,
};

/*
 * Refuse anything but a regular file or a block device before and after
 * opening it.  Before: opening a FIFO blocks until a writer comes, and
 * opening some character devices acts (a watchdog starts, a tape
 * rewinds), so a path that names one is refused without being opened.
 * After: the path may have changed in between, so the descriptor (opened
 * O_NONBLOCK, which cannot block) is what counts.  No character device is
 * allowed: the null DDM stands for /dev/null and /dev/zero.
 */
static int ddm_fd_type_check(struct ddm_dev *dev, const char *path, mode_t have,
			     mode_t type, bool opened)
{
	bool blk = type == S_IFBLK;

	if (have == type)
		return 0;
	if (have == S_IFIFO || have == S_IFSOCK || have == S_IFCHR) {
		log_error("%s: %s is a %s: refused (only regular files and "
			  "block devices are served)",
			  dev->name, path,
			  have == S_IFIFO    ? "FIFO"
			  : have == S_IFSOCK ? "socket"
					     : "character device");
		return blk ? -ENOTBLK : -EINVAL;
	}
	if (!opened)
		return 0; /* a directory, say: open() tells */
	log_error("%s: %s is not a %s (use the %s DDM)", dev->name, path,
		  blk ? "block device" : "regular file", blk ? "file" : "bdev");
	return blk ? -ENOTBLK : -EINVAL;
}

static int ddm_fd_open_one(const char *path, int flags)
{
	int fd = open(path, flags | O_NONBLOCK | O_NOCTTY, 0644);

	/* Back to blocking: io_uring and the inline path expect it. */
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int ddm_fd_open(struct ddm_dev *dev, struct ddm_fd_dev *fdd, const char *path,
		int flags, int direct, mode_t type, struct stat *st)
{
	int fd = -1, ret;

	flags |= O_CLOEXEC;
	if (stat(path, st) == 0 &&
	    (ret = ddm_fd_type_check(dev, path, st->st_mode & S_IFMT, type,
				     false)))
		return ret;
	if (direct) {
		fd = ddm_fd_open_one(path, flags | O_DIRECT);
		/* tmpfs and some FUSE file systems refuse O_DIRECT so. */
		if (fd < 0 && errno == EINVAL && direct < 0)
			log_info("%s: %s does not support O_DIRECT; using the "
				 "page cache",
				 dev->name, path);
		else if (fd < 0)
			goto err_log;
	}
	fdd->direct = fd >= 0;
	if (fd < 0)
		fd = ddm_fd_open_one(path, flags);
	if (fd < 0)
		goto err_log;
	if (fstat(fd, st) < 0) {
		ret = -errno;
		log_error("%s: cannot stat %s: %s", dev->name, path,
			  strerror(-ret));
		goto err_close;
	}
	ret = ddm_fd_type_check(dev, path, st->st_mode & S_IFMT, type, true);
	if (ret < 0)
		goto err_close;
	fdd->fd = fd;
	return 0;

err_close:
	close(fd);
	return ret;
err_log:
	ret = -errno;
	log_error("%s: cannot open %s%s: %s", dev->name, path,
		  direct > 0 ? " with O_DIRECT" : "", strerror(-ret));
	return ret;
}

void ddm_fd_close(struct ddm_fd_dev *fdd)
{
	if (fdd->fd >= 0)
		close(fdd->fd);
	fdd->fd = -1;
}

int ddm_fd_sync_now(struct ddm_dev *dev)
{
	struct ddm_fd_dev *fdd = dev->priv;

	if (fdd->fd < 0 || fdatasync(fdd->fd) == 0)
		return 0;
	return -errno;
}

int ddm_fd_read_source(struct ddm_dev *dev, uint64_t offset, uint64_t len,
		       int *fd, uint64_t *fd_offset)
{
	struct ddm_fd_dev *fdd = dev->priv;

	/* Elsewhere a read may fail or block, and the sender could only
	 * drop the connection in the middle of a reply. */
	if (!fdd->inline_io)
		return -ENOTSUP;
	*fd = fdd->fd;
	*fd_offset = offset;
	return 0;
}

static void ddm_fd_io_done(struct base_io *io, int result);

static void ddm_fd_queue(struct ddm_req *req, enum base_io_op op)
{
	struct ddm_fd_dev *fdd = req->dev->priv;
	struct ddm_fd_req *fr = req->priv;
	int ret;

	fr->io.op = op;
	fr->io.fd = fdd->fd;
	fr->io.flags = fdd->inline_io ? BASE_IO_F_INLINE : 0;
	fr->io.done = ddm_fd_io_done;
	fr->io.data = req;
	ret = base_io_submit(req->loop, &fr->io);
	if (ret < 0) {
		log_debug("%s: cannot queue I/O: %s", req->dev->name,
			  strerror(-ret));
		ddm_req_complete(req, ret);
	}
}

static void ddm_fd_fallocate(struct ddm_req *req, enum ddm_fd_stage stage,
			     int mode)
{
	struct ddm_fd_req *fr = req->priv;

	fr->stage = stage;
	fr->io.offset = req->offset;
	fr->io.len = req->len;
	fr->io.mode = mode;
	ddm_fd_queue(req, BASE_IO_FALLOCATE);
}

static void ddm_fd_sync(struct ddm_req *req)
{
	struct ddm_fd_req *fr = req->priv;

	fr->stage = FD_STAGE_SYNC;
	ddm_fd_queue(req, BASE_IO_FDATASYNC);
}

/* Queue the untransferred rest of a READ or WRITE. */
static void ddm_fd_rw_next(struct ddm_req *req)
{
	struct ddm_fd_req *fr = req->priv;
	const struct iovec *v = &req->iov[fr->idx];

	fr->io.offset = req->offset + fr->done_bytes;
	/* A partial iovec goes down alone; the next round resumes with the
	 * caller's array, which we must not modify. */
	if (fr->off) {
		fr->head.iov_base = (char *)v->iov_base + fr->off;
		fr->head.iov_len = v->iov_len - fr->off;
		fr->io.iov = &fr->head;
		fr->io.iovcnt = 1;
	} else {
		fr->io.iov = v;
		fr->io.iovcnt = req->iovcnt - fr->idx;
	}
	fr->io.rw_flags = req->op == DDM_OP_WRITE && (req->flags & DDM_F_FUA)
				  ? RWF_DSYNC
				  : 0;
	ddm_fd_queue(req,
		     req->op == DDM_OP_READ ? BASE_IO_READV : BASE_IO_WRITEV);
}

static void ddm_fd_rw_advance(struct ddm_req *req, size_t bytes)
{
	struct ddm_fd_req *fr = req->priv;

	fr->done_bytes += bytes;
	while (bytes && fr->idx < req->iovcnt) {
		size_t left = req->iov[fr->idx].iov_len - fr->off;

		if (bytes < left) {
			fr->off += bytes;
			return;
		}
		bytes -= left;
		fr->idx++;
		fr->off = 0;
	}
}

/*
 * ZERO_RANGE if it works and is fast enough.  Else the descriptor cannot
 * zero natively: -EOPNOTSUPP, and the Local Transport writes the zeroes
 * (or, for FAST_ZERO, fails the request as proto.md asks: the server must
 * fail rather than be slower than writing the zeroes would be).
 */
static void ddm_fd_zero_range(struct ddm_req *req)
{
	struct ddm_fd_dev *fdd = req->dev->priv;
	bool fast = req->flags & DDM_F_FAST_ZERO;

	if (__atomic_load_n(&fdd->zero_range, __ATOMIC_RELAXED) &&
	    (!fast || fdd->zero_range_fast)) {
		ddm_fd_fallocate(req, FD_STAGE_ZERO_RANGE,
				 FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
		return;
	}
	ddm_req_complete(req, -EOPNOTSUPP);
}

static void ddm_fd_zero_start(struct ddm_req *req)
{
	struct ddm_fd_dev *fdd = req->dev->priv;

	/* Without NO_HOLE a punched hole is the cheapest way to zeroes. */
	if (!(req->flags & DDM_F_NO_HOLE) && fdd->punch) {
		ddm_fd_fallocate(req, FD_STAGE_ZERO_PUNCH,
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		return;
	}
	ddm_fd_zero_range(req);
}

/* TRIM and WRITE_ZEROES are done: a FUA request still needs its sync. */
static void ddm_fd_modified(struct ddm_req *req)
{
	if (req->flags & DDM_F_FUA)
		ddm_fd_sync(req);
	else
		ddm_req_complete(req, 0);
}

/*
 * A transfer failed or came up short: was the backing file deleted or
 * truncated under us?  Said once per device; a smaller file becomes the
 * size new clients are told.  Regular files only: a block device does
 * not shrink so.
 */
static void ddm_fd_check_gone(struct ddm_dev *dev)
{
	struct ddm_fd_dev *fdd = dev->priv;
	uint64_t size, align = dev->block_size_min ? dev->block_size_min : 1;
	struct stat st;

	if (fstat(fdd->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	size = (uint64_t)st.st_size - (uint64_t)st.st_size % align;
	if (st.st_nlink && size >= dev->size_bytes)
		return;
	if (!__atomic_exchange_n(&fdd->gone_logged, true, __ATOMIC_RELAXED))
		log_error("%s: the backing file was %s (%llu bytes left)",
			  dev->name,
			  st.st_nlink
				  ? "truncated: requests past its end fail"
				  : "deleted: its data goes when the export "
				    "closes",
			  (unsigned long long)st.st_size);
	if (size < dev->size_bytes)
		__atomic_store_n(&dev->size_bytes, size, __ATOMIC_RELAXED);
}

/* A read or write returned: on failure, complete the request and say so.
 * Zero bytes inside the device means the backing store shrank under us;
 * resubmitting would spin. */
static bool ddm_fd_transfer_failed(struct ddm_req *req, int result)
{
	if (result > 0)
		return false;
	ddm_fd_check_gone(req->dev);
	ddm_req_complete(req, result ? result : -EIO);
	return true;
}

static void ddm_fd_rw_done(struct ddm_req *req, int result)
{
	struct ddm_fd_req *fr = req->priv;

	if (ddm_fd_transfer_failed(req, result))
		return;
	ddm_fd_rw_advance(req, (size_t)result);
	if (fr->done_bytes < req->len)
		ddm_fd_rw_next(req);
	else
		ddm_req_complete(req, 0);
}

static void ddm_fd_io_done(struct base_io *io, int result)
{
	struct ddm_req *req = io->data;
	struct ddm_fd_dev *fdd = req->dev->priv;
	struct ddm_fd_req *fr = req->priv;

	switch (fr->stage) {
	case FD_STAGE_RW:
		ddm_fd_rw_done(req, result);
		return;
	case FD_STAGE_SYNC:
		/* A flush is where an operator learns the file is gone. */
		ddm_fd_check_gone(req->dev);
		ddm_req_complete(req, result < 0 ? result : 0);
		return;
	case FD_STAGE_TRIM:
		/* proto.md: a trim is advisory, so "cannot" is success. */
		if (result == -EOPNOTSUPP)
			result = 0;
		break;
	case FD_STAGE_ZERO_PUNCH:
		if (result == -EOPNOTSUPP) {
			ddm_fd_zero_range(req);
			return;
		}
		break;
	case FD_STAGE_ZERO_RANGE:
		if (result == -EOPNOTSUPP) {
			__atomic_store_n(&fdd->zero_range, false,
					 __ATOMIC_RELAXED);
			ddm_fd_zero_range(req);
			return;
		}
		break;
	}
	if (result < 0)
		ddm_req_complete(req, result);
	else
		ddm_fd_modified(req);
}

void ddm_fd_submit(struct ddm_req *req)
{
	struct ddm_fd_dev *fdd = req->dev->priv;
	struct ddm_fd_req *fr = req->priv;
	int ret;

	memset(fr, 0, sizeof(*fr));
	switch (req->op) {
	case DDM_OP_READ:
	case DDM_OP_WRITE:
		if (req->len == 0)
			break;
		fr->stage = FD_STAGE_RW;
		ddm_fd_rw_next(req);
		return;
	case DDM_OP_FLUSH:
		ddm_fd_sync(req);
		return;
	case DDM_OP_TRIM:
	case DDM_OP_WRITE_ZEROES:
		/* fallocate refuses a zero length; there is nothing to do. */
		if (req->len == 0)
			break;
		if (req->op == DDM_OP_TRIM)
			ddm_fd_fallocate(req, FD_STAGE_TRIM,
					 FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_KEEP_SIZE);
		else
			ddm_fd_zero_start(req);
		return;
	case DDM_OP_CACHE:
		/* len 0 would mean "to the end of the file" to fadvise. */
		if (req->len == 0)
			break;
		/* Only queues readahead, so it is quick enough to do here. */
		ret = posix_fadvise(fdd->fd, (off_t)req->offset,
				    (off_t)req->len, POSIX_FADV_WILLNEED);
		ddm_req_complete(req, -ret);
		return;
	default:
		/* The Local Transport passes only the ops above down. */
		IOPD_NEVER(true);
		ddm_req_complete(req, -EINVAL);
		return;
	}
	ddm_req_complete(req, 0);
}
