// SPDX-License-Identifier: MIT
/*
 * base_uring: the io_uring engine.  One ring per loop carries sockets,
 * pipes and storage alike.  base_io_submit only fills SQEs (or, when the
 * SQ is full, parks the request on an overflow list); the loop hands them
 * to the kernel once per iteration with io_uring_submit_and_wait, so a
 * burst of requests costs one system call.  user_data
 * is the struct base_io pointer.  A read on the loop's wake eventfd is
 * kept armed in the ring so posts and stop from other threads get in.
 *
 * The ring is set up for a single issuer with deferred task work when the
 * kernel offers it, created disabled and enabled by the first
 * base_loop_run, so the task that runs the loop is the one the kernel
 * binds it to even if another thread created it.  A loop must therefore
 * always be run by the same thread.
 *
 * A reply goes to the kernel in the same io_uring_enter that waits for
 * the next request, and a send that completes there at once would end
 * that wait with nothing to do but reap it and enter again.  So a send
 * the caller marks BASE_IO_F_QUIET (nothing waits for its completion),
 * if small, goes as a SENDMSG with MSG_WAITALL, which completes only
 * once every byte is sent (or the socket fails), and the wait asks for
 * one completion more per such send.  With room in the socket it
 * completes during the submission; otherwise it still needs no action
 * when it completes, and at worst it hides one other completion until it
 * does.  Its CQE is still reaped and done() runs with the real result,
 * so the caller learns when its buffers are free (IOSQE_CQE_SKIP_SUCCESS
 * would hide that).  Such a wait has a timeout of BASE_IO_QUIET_MS, so a
 * broken assumption costs a delay, never a hang.  Only rings with
 * deferred task work and IORING_FEAT_EXT_ARG (kernel 6.1 on) do this.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "base/base_engine.h"
#include "base/base_log.h"

#define BASE_URING_DEPTH_DEFAULT 256
#define BASE_URING_DEPTH_MAX	 4096
#define BASE_URING_REAP_BATCH	 64
/* A wait never asks for more completions than this (quiet sends). */
#define BASE_URING_WAIT_MAX 64
/* Larger reads are reported short, like any stream read may be. */
#define BASE_URING_READ_MAX (1U << 30)

struct base_uring {
	struct io_uring ring;
	bool disabled; /* created IORING_SETUP_R_DISABLED, not yet enabled */
	bool quiet_ok; /* quiet sends as SENDMSG with MSG_WAITALL */
	/* Quiet sends in the SQ since the last enter. */
	unsigned int quiet;
	/* Their message headers, one per SQ slot: the kernel reads one when
	 * it submits the SQE. */
	struct msghdr *msgs;
	/* Requests that found the SQ full, oldest first. */
	struct base_io *overflow_head, *overflow_tail;
	struct base_io wake_io;
	uint64_t wake_val;
};

static int base_uring_setup(struct base_uring *u, unsigned int depth)
{
	/* Most capable first; EINVAL means this kernel lacks a flag. */
	static const unsigned int flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		/* Thousands of idle connections each hold a read: let the CQ
		 * take a wave of them without leaning on kernel overflow. */
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = depth * 8;
		ret = io_uring_queue_init_params(depth, &u->ring, &p);
		if (ret == 0) {
			u->disabled = p.flags & IORING_SETUP_R_DISABLED;
			u->quiet_ok = (p.features & IORING_FEAT_EXT_ARG) &&
				      (p.flags & IORING_SETUP_DEFER_TASKRUN);
			return 0;
		}
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

/* liburing 2.3 declares io_uring_enable_rings but does not export it. */
static int base_uring_enable(struct base_uring *u)
{
	if (syscall(__NR_io_uring_register, u->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void base_uring_overflow_push(struct base_uring *u, struct base_io *io)
{
	io->engine_next = NULL;
	if (u->overflow_tail)
		u->overflow_tail->engine_next = io;
	else
		u->overflow_head = io;
	u->overflow_tail = io;
}

/* A quiet send, small enough to be sure of room in a socket that is
 * not backed up (the caller vouches that the fd is a stream socket:
 * remote_stream.tx_sock). */
static bool base_uring_quiet(const struct base_uring *u,
			     const struct base_io *io)
{
	size_t len = 0;

	if (io->op != BASE_IO_STREAM_WRITEV || !(io->flags & BASE_IO_F_QUIET) ||
	    !u->quiet_ok)
		return false;
	for (int i = 0; i < io->iovcnt; i++)
		len += io->iov[i].iov_len;
	return len <= BASE_LOOP_BULK_BYTES;
}

static void base_uring_prep_quiet(struct base_uring *u,
				  struct io_uring_sqe *sqe, struct base_io *io)
{
	struct msghdr *msg = &u->msgs[sqe - u->ring.sq.sqes];

	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = (struct iovec *)io->iov;
	msg->msg_iovlen = (size_t)io->iovcnt;
	io_uring_prep_sendmsg(sqe, io->fd, msg, MSG_WAITALL | MSG_NOSIGNAL);
	u->quiet++;
}

static void base_uring_prep(struct base_uring *u, struct io_uring_sqe *sqe,
			    struct base_io *io)
{
	unsigned int len;

	switch (io->op) {
	case BASE_IO_READV:
		io_uring_prep_readv(sqe, io->fd, io->iov, (unsigned)io->iovcnt,
				    io->offset);
		break;
	case BASE_IO_WRITEV:
		io_uring_prep_writev(sqe, io->fd, io->iov, (unsigned)io->iovcnt,
				     io->offset);
		sqe->rw_flags = io->rw_flags;
		break;
	case BASE_IO_FSYNC:
		io_uring_prep_fsync(sqe, io->fd, 0);
		break;
	case BASE_IO_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case BASE_IO_FALLOCATE:
		io_uring_prep_fallocate(sqe, io->fd, io->mode, io->offset,
					io->len);
		break;
	case BASE_IO_STREAM_READ:
		len = io->buf_len > BASE_URING_READ_MAX ? BASE_URING_READ_MAX
							: (unsigned)io->buf_len;
		/* Offset -1: use (and ignore) the file position, which is
		 * what sockets and pipes need. */
		io_uring_prep_read(sqe, io->fd, io->buf, len, (__u64)-1);
		break;
	case BASE_IO_STREAM_WRITEV:
		if (base_uring_quiet(u, io))
			base_uring_prep_quiet(u, sqe, io);
		else
			io_uring_prep_writev(sqe, io->fd, io->iov,
					     (unsigned)io->iovcnt, (__u64)-1);
		break;
	case BASE_IO_STREAM_SENDFILE:
		/* io_uring has no sendfile: wait for room, then try again
		 * (base_uring_sendfile_step). */
		io_uring_prep_poll_add(sqe, io->fd, POLLOUT);
		break;
	case BASE_IO_ACCEPT:
		io_uring_prep_accept(sqe, io->fd, NULL, NULL,
				     SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

/* Fill an SQE for io, or park it if the SQ is full (or others already
 * wait, to keep submission order). */
static void base_uring_queue(struct base_uring *u, struct base_io *io)
{
	struct io_uring_sqe *sqe = NULL;

	if (!u->overflow_head)
		sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		base_uring_overflow_push(u, io);
		return;
	}
	base_uring_prep(u, sqe, io);
}

/* Not base_io_read: the engine's own read goes straight to the ring,
 * without a done() callback and outside the loop's in-flight count. */
static void base_uring_wake_arm(struct base_loop *loop, struct base_uring *u)
{
	u->wake_io.op = BASE_IO_STREAM_READ;
	u->wake_io.fd = loop->wake_fd;
	u->wake_io.buf = &u->wake_val;
	u->wake_io.buf_len = sizeof(u->wake_val);
	base_uring_queue(u, &u->wake_io);
}

static int base_uring_init(struct base_loop *loop, unsigned int queue_depth)
{
	struct base_uring *u;
	int ret;

	if (queue_depth == 0)
		queue_depth = BASE_URING_DEPTH_DEFAULT;
	if (queue_depth > BASE_URING_DEPTH_MAX)
		queue_depth = BASE_URING_DEPTH_MAX;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = base_uring_setup(u, queue_depth);
	if (ret < 0) {
		free(u);
		return ret;
	}
	/* The kernel may round the SQ up: size by what it made. */
	u->msgs = calloc(*u->ring.sq.kring_entries, sizeof(*u->msgs));
	if (!u->msgs) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return -ENOMEM;
	}
	loop->engine_priv = u;
	base_uring_wake_arm(loop, u);
	return 0;
}

static void base_uring_fini(struct base_loop *loop)
{
	struct base_uring *u = loop->engine_priv;

	io_uring_queue_exit(&u->ring);
	free(u->msgs);
	free(u);
	loop->engine_priv = NULL;
}

/* A STREAM_SENDFILE is tried at once and after every POLLOUT; result is
 * the poll's (events or -errno), or 0 at submit.  Returns true when io
 * is finished with *res. */
static bool base_uring_sendfile_step(struct base_uring *u, struct base_io *io,
				     int *res)
{
	if (*res >= 0)
		*res = base_io_sendfile(io);
	if (*res != -EAGAIN)
		return true;
	base_uring_queue(u, io);
	return false;
}

static int base_uring_submit(struct base_loop *loop, struct base_io *io)
{
	int res = 0;

	if (io->op == BASE_IO_STREAM_SENDFILE) {
		if (base_uring_sendfile_step(loop->engine_priv, io, &res))
			base_loop_defer(loop, io, res);
		return 0;
	}
	base_uring_queue(loop->engine_priv, io);
	return 0;
}

/* Move parked requests into the SQ, submitting whenever it fills. */
static void base_uring_overflow_flush(struct base_uring *u)
{
	while (u->overflow_head) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
		struct base_io *io;

		if (!sqe) {
			if (io_uring_submit(&u->ring) <= 0)
				return; /* the kernel is busy; next iteration */
			/* Their CQEs are posted now: the wait needn't count
			 * them. */
			u->quiet = 0;
			continue;
		}
		io = u->overflow_head;
		u->overflow_head = io->engine_next;
		if (!u->overflow_head)
			u->overflow_tail = NULL;
		io->engine_next = NULL;
		base_uring_prep(u, sqe, io);
	}
}

static void base_uring_reap(struct base_loop *loop, struct base_uring *u)
{
	struct io_uring_cqe *cqes[BASE_URING_REAP_BATCH];
	struct {
		struct base_io *io;
		int res;
	} done[BASE_URING_REAP_BATCH];
	unsigned int n;

	/* Copy out and advance before running callbacks: they submit, and
	 * the CQ slots are better back in the kernel's hands. */
	while ((n = io_uring_peek_batch_cqe(&u->ring, cqes,
					    BASE_URING_REAP_BATCH)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			done[i].io = io_uring_cqe_get_data(cqes[i]);
			done[i].res = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		for (unsigned int i = 0; i < n; i++) {
			if (done[i].io == &u->wake_io) {
				base_uring_wake_arm(loop, u);
				continue;
			}
			if (done[i].io->op == BASE_IO_STREAM_SENDFILE &&
			    !base_uring_sendfile_step(u, done[i].io,
						      &done[i].res))
				continue;
			base_loop_complete(loop, done[i].io, done[i].res);
		}
	}
}

/* Submit and wait for one completion besides the quiet sends' own. */
static int base_uring_wait_quiet(struct base_uring *u)
{
	struct __kernel_timespec ts = {
		.tv_nsec = BASE_IO_QUIET_MS * 1000000L,
	};
	struct io_uring_cqe *cqe;
	unsigned int nr = u->quiet < BASE_URING_WAIT_MAX ? u->quiet + 1
							 : BASE_URING_WAIT_MAX;

	return io_uring_submit_and_wait_timeout(&u->ring, &cqe, nr, &ts, NULL);
}

static void base_uring_wait(struct base_loop *loop, bool can_block)
{
	struct base_uring *u = loop->engine_priv;
	int ret;

	if (u->disabled) {
		ret = base_uring_enable(u);
		if (ret < 0) {
			log_error("cannot enable the io_uring: %s",
				  strerror(-ret));
			atomic_store(&loop->stop, true);
			return;
		}
		u->disabled = false;
	}
	base_uring_overflow_flush(u);
	if (can_block && u->quiet)
		ret = base_uring_wait_quiet(u);
	else if (can_block)
		ret = io_uring_submit_and_wait(&u->ring, 1);
	else /* also runs deferred task work, so a busy poll sees events */
		ret = io_uring_submit_and_get_events(&u->ring);
	u->quiet = 0;
	/* EINTR: a signal; EBUSY/EAGAIN: the CQ must be drained first.
	 * Reaping below is the remedy for both. */
	if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN &&
	    ret != -ETIME) {
		/* EEXIST: run from a thread other than the ring's issuer. */
		log_error("io_uring_submit: %s", strerror(-ret));
		atomic_store(&loop->stop, true);
	}
	base_uring_reap(loop, u);
}

const struct base_engine_ops base_uring_ops = {
	.name = "io_uring",
	.init = base_uring_init,
	.fini = base_uring_fini,
	.submit = base_uring_submit,
	.wait = base_uring_wait,
};
