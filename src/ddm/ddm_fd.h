/* SPDX-License-Identifier: MIT */
/*
 * The data path shared by the DDMs that sit on a file descriptor (file,
 * bdev): asynchronous read, write, flush, trim and zeroing through base_io
 * on the submitting worker's loop, with short transfers resubmitted and
 * zeroing falling back from hole punching to ZERO_RANGE.  Where neither
 * serves a WRITE_ZEROES it answers -EOPNOTSUPP and the Local Transport
 * writes the zeroes (ddm.h).
 * Opening and probing what the descriptor supports stays with each DDM,
 * which records the answers here.
 */
#ifndef IOPD_DDM_FD_H
#define IOPD_DDM_FD_H

#include <sys/stat.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/base_loop.h"
#include "iopd/ddm.h"

/* What a DDM keeps at the start of dev->priv. */
struct ddm_fd_dev {
	int fd;
	bool direct; /* O_DIRECT is in use */
	/* The file lives in memory (tmpfs, ramfs): every call is a memcpy,
	 * made on the worker itself (BASE_IO_F_INLINE). */
	bool inline_io;
	/* fallocate(PUNCH_HOLE|KEEP_SIZE) works and the range then reads as
	 * zeroes. */
	bool punch;
	/* fallocate(ZERO_RANGE) works; cleared (atomically) the first time
	 * it answers -EOPNOTSUPP, so later requests go straight to the
	 * Local Transport's written zeroes. */
	bool zero_range;
	/* ZERO_RANGE is a metadata or offloaded operation, not the kernel
	 * writing zeroes for us: it may serve DDM_F_FAST_ZERO. */
	bool zero_range_fast;
	/* The storage under the descriptor vanished or shrank: said once. */
	bool gone_logged;
};

/* Per-request state; a DDM's req_priv_size must cover it. */
struct ddm_fd_req {
	struct base_io io;
	struct iovec head; /* rest of a partly transferred iovec */
	uint64_t done_bytes;
	int idx;    /* first iovec not yet fully transferred */
	size_t off; /* bytes of iov[idx] already transferred */
	int stage;
};

/*
 * Open path with flags (O_RDONLY or O_RDWR, plus O_CREAT and the like).
 * direct is ddm_open_args.direct: 1 insists on O_DIRECT, -1 falls back to
 * buffered I/O when the file system refuses it (EINVAL).  The opened file
 * must be of type (S_IFREG or S_IFBLK); its stat goes to *st.  Fills
 * fdd->fd and fdd->direct.  Returns 0 or -errno, having logged naming
 * dev->name.
 */
int ddm_fd_open(struct ddm_dev *dev, struct ddm_fd_dev *fdd, const char *path,
		int flags, int direct, mode_t type, struct stat *st);

/* ddm_ops.read_source for files with inline_io set. */
int ddm_fd_read_source(struct ddm_dev *dev, uint64_t offset, uint64_t len,
		       int *fd, uint64_t *fd_offset);

/* Close the descriptor. */
void ddm_fd_close(struct ddm_fd_dev *fdd);

/* ddm_ops.sync: fdatasync the descriptor. */
int ddm_fd_sync_now(struct ddm_dev *dev);

/*
 * Submit a READ, WRITE, FLUSH, TRIM or WRITE_ZEROES on the descriptor in
 * req->dev->priv (a struct ddm_fd_dev first).  Completes from req->loop,
 * or inline when nothing can be queued.
 */
void ddm_fd_submit(struct ddm_req *req);

#endif
