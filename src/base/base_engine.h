/* SPDX-License-Identifier: MIT */
/*
 * base_engine: private contract between the engine-neutral loop
 * (base_loop.c) and the engines that move bytes (base_uring.c,
 * base_epoll.c).  The loop owns the wake eventfd, the cross-thread post
 * queue, the stop flag and the in-flight count; an
 * engine owns only how operations reach the kernel and how their
 * completions come back.
 */
#ifndef IOPD_BASE_ENGINE_H
#define IOPD_BASE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/base_loop.h"
#include "base/base_poll.h"

struct base_engine_ops {
	const char *name;
	/* Set up loop->engine_priv.  Returns 0 or -errno; must not log the
	 * failure when auto selection may still fall back (-ENOSYS, -EPERM). */
	int (*init)(struct base_loop *loop, unsigned int queue_depth);
	/* Free everything; operations still outstanding never complete. */
	void (*fini)(struct base_loop *loop);
	/* Queue io.  Never calls io->done; an op that finishes at once goes
	 * through base_loop_defer(). */
	int (*submit)(struct base_loop *loop, struct base_io *io);
	/* Called once per iteration from base_loop_run, last:
	 * push queued work to the kernel, block for at least one event if
	 * can_block, and deliver completions with base_loop_complete(). */
	void (*wait)(struct base_loop *loop, bool can_block);
};

struct base_post;

#define BASE_LOOP_BULK_BYTES (64u * 1024)

struct base_loop {
	const struct base_engine_ops *ops;
	enum base_engine engine;
	void *engine_priv;
	/* eventfd (EFD_NONBLOCK): made readable by posts, stop and the
	 * fallback's thread pool; each engine keeps a watch on it. */
	int wake_fd;
	atomic_bool stop;

	pthread_mutex_t post_lock;
	struct base_post *post_head, *post_tail;
	/* base_loop_send's lock-free list, newest first. */
	_Atomic(struct base_msg *) msg_head;

	/* Completions decided inside submit, run by the next iteration. */
	struct base_io *ready_head, *ready_tail;

	unsigned int inflight;
	/* Busy polling (base_loop_set_busy_poll): when the governor says
	 * polling pays, wait without blocking while the last completion is
	 * less than busy_poll_ns old (0 = never), and while the poll windows
	 * keep finding events. */
	uint64_t busy_poll_ns;
	struct base_poll poll;
	uint64_t last_event_ns;
	uint64_t completed, completed_seen; /* completions delivered */
	uint64_t work;	/* bytes moved by those completions: the governor's
			   measure of work done */
	bool poll_pays; /* the last poll or sleep ended within the window */
	bool bulk_in;	/* the last stream read brought BASE_LOOP_BULK_BYTES+ */
};

extern const struct base_engine_ops base_uring_ops;
extern const struct base_engine_ops base_epoll_ops;

/* Deliver one completion on the loop thread (drops the in-flight count). */
void base_loop_complete(struct base_loop *loop, struct base_io *io, int result);
/* Queue a completion found during submit for the next iteration. */
void base_loop_defer(struct base_loop *loop, struct base_io *io, int result);
/* Make the system call of a positional operation (READV, WRITEV, FSYNC,
 * FDATASYNC, FALLOCATE) synchronously on the calling thread: its result
 * (bytes, 0) or -errno; INT_MIN for any other operation.  Used for
 * BASE_IO_F_INLINE and by the fallback's thread pool. */
int base_io_call_positional(const struct base_io *io);
/* One non-blocking attempt at a STREAM_SENDFILE: bytes sent or -errno
 * (-EAGAIN: wait until fd is writable). */
#define BASE_IO_SENDFILE_MAX (1u << 30)
int base_io_sendfile(const struct base_io *io);
/* Make the engine's wait return soon.  Thread safe. */
void base_loop_wake(struct base_loop *loop);
/* Reset the wake eventfd after it fired. */
void base_loop_wake_drain(struct base_loop *loop);

#endif
