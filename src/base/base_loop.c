// SPDX-License-Identifier: MIT
/*
 * base_loop: the engine-neutral half of the event loop.  It chooses an
 * engine, runs the iteration (posted work, deferred completions, engine
 * wait), and keeps the cross-thread post queue, the
 * stop flag and the in-flight count.  How operations reach the kernel is
 * the engines' business (base_uring.c, base_epoll.c).
 *
 * Stopping: base_loop_run returns after the iteration in which
 * base_loop_stop was seen.  It does not wait for outstanding operations;
 * callers drain their own I/O (base_loop_inflight() tells them when)
 * before they stop, because after base_loop_destroy an outstanding
 * operation never completes and its buffers must not be reused until the
 * loop is gone.  Posted functions not yet run at destroy are dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#include "base/base_engine.h"
#include "base/base_log.h"

struct base_post {
	struct base_post *next;
	void (*fn)(void *arg);
	void *arg;
};

const char *base_engine_name(enum base_engine engine)
{
	switch (engine) {
	case BASE_ENGINE_AUTO:
		return "auto";
	case BASE_ENGINE_URING:
		return "io_uring";
	case BASE_ENGINE_EPOLL:
		return "epoll";
	}
	return "unknown";
}

int base_engine_parse(const char *text, enum base_engine *engine)
{
	static const struct {
		const char *name;
		enum base_engine engine;
	} names[] = {
		{ "auto", BASE_ENGINE_AUTO },
		{ "uring", BASE_ENGINE_URING },
		{ "io_uring", BASE_ENGINE_URING },
		{ "epoll", BASE_ENGINE_EPOLL },
		{ "fallback", BASE_ENGINE_EPOLL },
	};

	if (!text)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*engine = names[i].engine;
			return 0;
		}
	}
	return -EINVAL;
}

static int base_loop_engine_init(struct base_loop *loop,
				 enum base_engine engine,
				 unsigned int queue_depth)
{
	static atomic_bool fallback_logged;
	int ret;

	if (engine == BASE_ENGINE_EPOLL)
		goto use_epoll;
	loop->ops = &base_uring_ops;
	loop->engine = BASE_ENGINE_URING;
	ret = loop->ops->init(loop, queue_depth);
	if (ret == 0)
		return 0;
	if (engine == BASE_ENGINE_URING) {
		log_error("cannot set up io_uring: %s", strerror(-ret));
		return ret;
	}
	/* Any failure but memory means the kernel or a seccomp policy
	 * refuses io_uring; say so once per process, not once per loop. */
	if (ret == -ENOMEM)
		return ret;
	if (!atomic_exchange(&fallback_logged, true))
		log_warn("io_uring unavailable (%s), using the epoll fallback "
			 "engine",
			 strerror(-ret));
use_epoll:
	loop->ops = &base_epoll_ops;
	loop->engine = BASE_ENGINE_EPOLL;
	ret = loop->ops->init(loop, queue_depth);
	if (ret < 0)
		log_error("cannot set up the epoll engine: %s", strerror(-ret));
	return ret;
}

int base_loop_create(struct base_loop **loopp, enum base_engine engine,
		     unsigned int queue_depth)
{
	struct base_loop *loop;
	int ret;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	ret = pthread_mutex_init(&loop->post_lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_free;
	}
	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wake_fd < 0) {
		ret = -errno;
		log_error("cannot create the loop's eventfd: %s",
			  strerror(-ret));
		goto err_destroy_lock;
	}
	ret = base_loop_engine_init(loop, engine, queue_depth);
	if (ret < 0)
		goto err_close_wake;
	*loopp = loop;
	return 0;

err_close_wake:
	close(loop->wake_fd);
err_destroy_lock:
	pthread_mutex_destroy(&loop->post_lock);
err_free:
	free(loop);
	return ret;
}

void base_loop_destroy(struct base_loop *loop)
{
	struct base_post *p, *next;

	if (!loop)
		return;
	loop->ops->fini(loop);
	for (p = loop->post_head; p; p = next) {
		next = p->next;
		free(p);
	}
	close(loop->wake_fd);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
}

enum base_engine base_loop_engine(const struct base_loop *loop)
{
	return loop->engine;
}

int base_io_call_positional(const struct base_io *io)
{
	ssize_t n;

	switch (io->op) {
	case BASE_IO_READV:
		n = preadv2(io->fd, io->iov, io->iovcnt, (off_t)io->offset, 0);
		break;
	case BASE_IO_WRITEV:
		n = pwritev2(io->fd, io->iov, io->iovcnt, (off_t)io->offset,
			     io->rw_flags);
		break;
	case BASE_IO_FSYNC:
		n = fsync(io->fd);
		break;
	case BASE_IO_FDATASYNC:
		n = fdatasync(io->fd);
		break;
	case BASE_IO_FALLOCATE:
		n = fallocate(io->fd, io->mode, (off_t)io->offset,
			      (off_t)io->len);
		break;
	default:
		return INT_MIN; /* not positional: the engine's job */
	}
	if (n < 0)
		return -errno;
	return n > INT_MAX ? INT_MAX : (int)n;
}

int base_io_sendfile(const struct base_io *io)
{
	off_t off = (off_t)io->offset;
	size_t len = io->len > BASE_IO_SENDFILE_MAX ? BASE_IO_SENDFILE_MAX
						    : (size_t)io->len;
	ssize_t n;

	do
		n = sendfile(io->fd, io->src_fd, &off, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)n;
}

int base_io_read(struct base_loop *loop, struct base_io *io, int fd, void *buf,
		 size_t len, void (*done)(struct base_io *io, int result),
		 void *data)
{
	io->op = BASE_IO_STREAM_READ;
	io->fd = fd;
	io->buf = buf;
	io->buf_len = len;
	io->done = done;
	io->data = data;
	return base_io_submit(loop, io);
}

int base_io_submit(struct base_loop *loop, struct base_io *io)
{
	int ret;

	/* Unknown operations are refused here, once for every engine. */
	if (!io || !io->done || (unsigned int)io->op > BASE_IO_ACCEPT)
		return -EINVAL;
	io->engine_next = NULL;
	if ((io->flags & BASE_IO_F_INLINE) &&
	    (ret = base_io_call_positional(io)) != INT_MIN) {
		base_loop_defer(loop, io, ret);
		loop->inflight++;
		return 0;
	}
	ret = loop->ops->submit(loop, io);
	if (ret < 0)
		return ret;
	loop->inflight++;
	return 0;
}

static uint64_t base_loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void base_loop_complete(struct base_loop *loop, struct base_io *io, int result)
{
	/* A stream read this large means bulk data is streaming in: the
	 * next chunk follows the sender's copying, not a round trip, and
	 * polling for it would only burn the CPU the copy needs. */
	if (io->op == BASE_IO_STREAM_READ && result >= 0)
		loop->bulk_in = (unsigned int)result >= BASE_LOOP_BULK_BYTES;
	/* Every operation below ACCEPT but the syncs and FALLOCATE returns
	 * the bytes it moved. */
	if (result > 0 && io->op != BASE_IO_ACCEPT && io->op != BASE_IO_FSYNC &&
	    io->op != BASE_IO_FDATASYNC && io->op != BASE_IO_FALLOCATE)
		loop->work += (unsigned int)result;
	loop->completed++;
	loop->inflight--;
	io->done(io, result);
}

void base_loop_defer(struct base_loop *loop, struct base_io *io, int result)
{
	io->engine_result = result;
	io->engine_next = NULL;
	if (loop->ready_tail)
		loop->ready_tail->engine_next = io;
	else
		loop->ready_head = io;
	loop->ready_tail = io;
}

void base_loop_wake(struct base_loop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already huge: the loop is awake. */
	while (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void base_loop_wake_drain(struct base_loop *loop)
{
	uint64_t val;

	while (read(loop->wake_fd, &val, sizeof(val)) < 0 && errno == EINTR)
		;
}

static void base_loop_run_posted(struct base_loop *loop)
{
	struct base_post *p, *next;

	pthread_mutex_lock(&loop->post_lock);
	p = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	pthread_mutex_unlock(&loop->post_lock);
	for (; p; p = next) {
		next = p->next;
		p->fn(p->arg);
		free(p);
	}
}

void base_loop_send(struct base_loop *loop, struct base_msg *msg)
{
	struct base_msg *old =
		atomic_load_explicit(&loop->msg_head, memory_order_relaxed);

	do
		msg->next = old;
	while (!atomic_compare_exchange_weak_explicit(&loop->msg_head, &old,
						      msg, memory_order_release,
						      memory_order_relaxed));
	/* A non-empty list already has a wake-up on its way. */
	if (!old)
		base_loop_wake(loop);
}

/* Take every message sent so far, reverse the list (it is pushed newest
 * first) and run it in the order sent. */
static void base_loop_run_msgs(struct base_loop *loop)
{
	struct base_msg *m, *next, *fifo = NULL;

	if (!atomic_load_explicit(&loop->msg_head, memory_order_relaxed))
		return;
	m = atomic_exchange_explicit(&loop->msg_head, NULL,
				     memory_order_acquire);
	for (; m; m = next) {
		next = m->next;
		m->next = fifo;
		fifo = m;
	}
	for (m = fifo; m; m = next) {
		next = m->next;
		m->next = NULL;
		loop->completed++;
		m->fn(m);
	}
}

/* Only the completions queued before this call: a callback that submits
 * again and completes at once waits for the next iteration, so one busy
 * stream cannot starve the others. */
static void base_loop_run_ready(struct base_loop *loop)
{
	struct base_io *io = loop->ready_head, *next;

	loop->ready_head = loop->ready_tail = NULL;
	for (; io; io = next) {
		next = io->engine_next;
		io->engine_next = NULL;
		base_loop_complete(loop, io, io->engine_result);
	}
}

/*
 * Whether this iteration may block: not with work queued, nor while busy
 * polling.  A loop polls only in the epochs the governor (base_poll.c)
 * has found polling to raise the rate of bytes moved, and then after an
 * event only while the windows keep finding the next one: it stops when a
 * poll window passes without an event (the next gap is probably long
 * too) and starts again when a sleep turns out shorter than the window.
 * So idle connections, whose gaps are long, cost no spinning; nor does a
 * stream of bulk data coming in (bulk_in).
 */
static bool base_loop_may_block(struct base_loop *loop)
{
	uint64_t now;

	if (loop->ready_head || atomic_load(&loop->stop))
		return false;
	if (!loop->busy_poll_ns || loop->bulk_in)
		return true;
	now = base_loop_now_ns();
	if (!base_poll_tick(&loop->poll, now, loop->completed, loop->work) ||
	    !loop->poll_pays)
		return true;
	if (loop->completed != loop->completed_seen) {
		loop->completed_seen = loop->completed;
		loop->last_event_ns = now;
		return false;
	}
	if (now - loop->last_event_ns < loop->busy_poll_ns)
		return false;
	loop->poll_pays = false;
	return true;
}

static void base_loop_wait(struct base_loop *loop)
{
	uint64_t t0;

	if (!base_loop_may_block(loop)) {
		loop->ops->wait(loop, false);
		return;
	}
	if (!loop->busy_poll_ns) {
		loop->ops->wait(loop, true);
		return;
	}
	t0 = base_loop_now_ns();
	loop->ops->wait(loop, true);
	loop->last_event_ns = base_loop_now_ns();
	loop->completed_seen = loop->completed;
	if (loop->last_event_ns - t0 < loop->busy_poll_ns)
		loop->poll_pays = true;
}

void base_loop_run(struct base_loop *loop)
{
	bool looked = true;

	while (!atomic_load(&loop->stop)) {
		base_loop_run_msgs(loop);
		base_loop_run_posted(loop);
		base_loop_run_ready(loop);
		if (atomic_load(&loop->stop))
			break;
		/* Completions found during that (the epoll engine's sends
		 * finish in submit) run next without a look at the kernel
		 * that cannot block, but only every other time, so the
		 * kernel's events are never kept waiting for long. */
		if (loop->ready_head && looked) {
			looked = false;
			continue;
		}
		looked = true;
		base_loop_wait(loop);
	}
	/* A stopped loop may be run again. */
	atomic_store(&loop->stop, false);
}

void base_loop_stop(struct base_loop *loop)
{
	atomic_store(&loop->stop, true);
	base_loop_wake(loop);
}

int base_loop_post(struct base_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct base_post *p;
	bool was_empty;

	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->next = NULL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&loop->post_lock);
	was_empty = !loop->post_head;
	if (loop->post_tail)
		loop->post_tail->next = p;
	else
		loop->post_head = p;
	loop->post_tail = p;
	pthread_mutex_unlock(&loop->post_lock);
	/* A non-empty queue already has a wake-up on its way: the loop
	 * drains the eventfd before it takes the queue. */
	if (was_empty)
		base_loop_wake(loop);
	return 0;
}

void base_loop_set_busy_poll(struct base_loop *loop, unsigned int usec)
{
	loop->busy_poll_ns = (uint64_t)usec * 1000u;
	base_poll_init(&loop->poll, base_loop_now_ns(), loop->completed,
		       loop->work);
}

unsigned int base_loop_inflight(const struct base_loop *loop)
{
	return loop->inflight;
}
