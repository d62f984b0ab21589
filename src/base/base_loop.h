/* SPDX-License-Identifier: MIT */
/*
 * base_loop: one event loop per thread, carrying both socket and storage
 * operations.  Two engines implement it: io_uring (default) and a portable
 * fallback (epoll for streams plus a thread pool for blocking storage
 * calls).  Callers never see which engine runs; they submit a struct
 * base_io and get exactly one completion callback, always on the loop's own
 * thread and never from inside base_io_submit() itself.
 *
 * This file knows nothing about storage devices or protocols.
 */
#ifndef IOPD_BASE_LOOP_H
#define IOPD_BASE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct base_loop;

enum base_engine {
	BASE_ENGINE_AUTO = 0, /* io_uring if it works, else fallback (logged) */
	BASE_ENGINE_URING,
	BASE_ENGINE_EPOLL, /* the portable fallback: epoll + thread pool */
};

enum base_io_op {
	/* Positional storage operations (regular files, block devices). */
	BASE_IO_READV,	/* preadv(fd, iov, iovcnt, offset) */
	BASE_IO_WRITEV, /* pwritev(fd, iov, iovcnt, offset); rw_flags may hold
			   RWF_DSYNC */
	BASE_IO_FSYNC,	/* fsync(fd) */
	BASE_IO_FDATASYNC, /* fdatasync(fd) */
	BASE_IO_FALLOCATE, /* fallocate(fd, mode, offset, len) */
	/* Stream operations (sockets, pipes): readiness based in the fallback.
	 */
	BASE_IO_STREAM_READ,   /* read(fd, buf, buf_len); result 0 = EOF */
	BASE_IO_STREAM_WRITEV, /* writev(fd, iov, iovcnt); may be partial */
	/* sendfile(fd, src_fd, offset, len): file bytes to a stream with no
	 * copy through user space; may be partial.  fd must be a
	 * non-blocking socket or pipe; src_fd a file whose reads do not
	 * block (BASE_IO_F_INLINE's memory file systems). */
	BASE_IO_STREAM_SENDFILE,
	/* accept4(fd, NULL, NULL, SOCK_NONBLOCK|SOCK_CLOEXEC).  Keep it last:
	 * base_io_submit refuses anything above it. */
	BASE_IO_ACCEPT,
};

/*
 * BASE_IO_F_INLINE: the positional operation (READV, WRITEV, FSYNC,
 * FDATASYNC, FALLOCATE) cannot block for long because the file lives in
 * memory (tmpfs, ramfs): make the system call on the loop's thread during
 * base_io_submit instead of handing it to kernel or pool workers, which
 * costs two thread switches per request for a memcpy.  done() still runs
 * on a later iteration, never inside submit.  Ignored for streams.
 */
#define BASE_IO_F_INLINE 0x1u

/*
 * BASE_IO_F_QUIET: a STREAM_WRITEV to a stream socket whose completion
 * nothing waits for: the caller has nothing more to send behind it, a
 * read on the same stream is pending, and freeing the buffers wakes
 * nobody.  The engine
 * may then deliver done() with the loop's next other event (or at most
 * BASE_IO_QUIET_MS later) instead of waking for it; the io_uring engine
 * sends such a reply in the same system call that waits for the next
 * request.  Ignored for other operations.
 */
#define BASE_IO_F_QUIET	 0x2u
#define BASE_IO_QUIET_MS 10

/*
 * One asynchronous operation.  The caller owns the struct and everything it
 * points to until done() runs.  done() gets the syscall's result (bytes,
 * new fd, or 0) or -errno.  Short reads and writes are reported as they are;
 * retrying is the caller's decision.
 */
struct base_io {
	enum base_io_op op;
	int fd;
	const struct iovec *iov; /* READV, WRITEV, STREAM_WRITEV */
	int iovcnt;
	void *buf; /* STREAM_READ */
	size_t buf_len;
	uint64_t offset;    /* READV, WRITEV, FALLOCATE, SENDFILE (of src_fd) */
	uint64_t len;	    /* FALLOCATE, SENDFILE */
	int src_fd;	    /* SENDFILE */
	int mode;	    /* FALLOCATE mode */
	int rw_flags;	    /* WRITEV: RWF_* flags such as RWF_DSYNC */
	unsigned int flags; /* BASE_IO_F_* */
	void (*done)(struct base_io *io, int result);
	void *data; /* caller's cookie; the loop never touches it */

	/* Engine private, do not touch. */
	struct base_io *engine_next;
	int engine_result;
};

/*
 * Create a loop.  A loop must always be run by one and the same thread (an
 * io_uring set up for a single issuer belongs to it); create it on that
 * thread where possible.  queue_depth 0 picks the default.  Returns 0 or
 * -errno; base_loop_engine() tells which engine was chosen.
 *
 * Rules for stream operations: at most one pending read-side op (STREAM_READ
 * or ACCEPT) and one pending STREAM_WRITEV per fd (the fallback returns
 * -EBUSY otherwise); shutdown() an fd before closing it while an op is
 * pending; the process must ignore SIGPIPE.
 */
int base_loop_create(struct base_loop **loopp, enum base_engine engine,
		     unsigned int queue_depth);
void base_loop_destroy(struct base_loop *loop);
enum base_engine base_loop_engine(const struct base_loop *loop);
const char *base_engine_name(enum base_engine engine);

/*
 * Parse "auto", "uring"/"io_uring", "epoll"/"fallback".  Returns 0 or
 * -EINVAL.
 */
int base_engine_parse(const char *text, enum base_engine *engine);

/* Queue an operation.  Returns 0, or -errno if it could not be queued (then
 * done() will not run). Must be called on the loop's thread. */
int base_io_submit(struct base_loop *loop, struct base_io *io);
/* Set io up as a BASE_IO_STREAM_READ of len bytes of fd into buf, calling
 * done(io, result) with data, and submit it: base_io_submit's result. */
int base_io_read(struct base_loop *loop, struct base_io *io, int fd, void *buf,
		 size_t len, void (*done)(struct base_io *io, int result),
		 void *data);

/*
 * Run the loop until base_loop_stop() is called; it returns after the
 * iteration in which stop was seen and does not wait for outstanding
 * operations: callers drain first.  After base_loop_destroy, outstanding
 * operations never complete and posted functions not yet run are dropped.
 */
void base_loop_run(struct base_loop *loop);

/* Make base_loop_run return after its current iteration.  Thread safe. */
void base_loop_stop(struct base_loop *loop);

/*
 * Run fn(arg) on the loop's thread soon.  Thread safe; this is how other
 * threads hand work (a new connection, a shutdown request) to a worker.
 * Returns 0 or -ENOMEM.
 */
int base_loop_post(struct base_loop *loop, void (*fn)(void *arg), void *arg);

/*
 * A message for base_loop_send, embedded in the sender's own object (a
 * storage request), so sending allocates nothing.  fn(msg) runs on the
 * loop's thread; the loop owns next between send and fn.
 */
struct base_msg {
	struct base_msg *next;
	void (*fn)(struct base_msg *msg);
};

/*
 * Run msg->fn(msg) on the loop's thread soon: base_loop_post without the
 * malloc and the mutex, for work that arrives once per I/O from threads
 * the loop does not own (a storage library's callback threads).  Thread
 * safe and lock free: msg is pushed on the loop's list with one
 * compare-and-swap, and only the push that finds the list empty writes
 * the loop's wake eventfd, so a burst of completions costs one wake-up;
 * the loop takes the whole list at once and runs it in the order sent,
 * before the iteration's other work.  Messages still queued when the
 * loop is destroyed are dropped.
 */
void base_loop_send(struct base_loop *loop, struct base_msg *msg);

/*
 * Busy polling: after a completion, keep polling for the next one without
 * sleeping for up to usec microseconds before blocking, but only while
 * that measurably pays: the loop tries it now and then and keeps it only
 * when more operations complete per second with it than without (clients
 * that send one request at a time, whose every round trip would include
 * the wake-up a sleeping thread costs; see base_poll.h).  Load that
 * comes at its own pace, and an idle loop, sleep.  0 (the default) never
 * spins.  Loop thread only.
 */
void base_loop_set_busy_poll(struct base_loop *loop, unsigned int usec);

/* Number of base_io submitted and not yet completed. */
unsigned int base_loop_inflight(const struct base_loop *loop);

#endif
