// SPDX-License-Identifier: MIT
/*
 * base_pool: blocking system calls for the epoll engine, run on a few
 * threads per loop.  Storage calls (preadv, pwritev2, fsync, fallocate)
 * always come here; stream calls come here only for fds epoll cannot
 * watch safely (blocking pipes and ttys, regular files as stdin).  Such a
 * stream job first polls its fd together with a cancel eventfd, so
 * destroying the pool never waits on a peer that stays silent.  Signals
 * are blocked in pool threads: they belong to the daemon's main thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>

#include "base/base_engine.h"
#include "base/base_pool.h"

struct base_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct base_io *job_head, *job_tail;
	struct base_io *done_head, *done_tail;
	bool stopping;
	unsigned int n_threads;
	pthread_t threads[BASE_POOL_THREADS];
	int wake_fd;   /* the loop's: results are ready */
	int cancel_fd; /* ours: readable once the pool is being destroyed */
};

static void base_pool_list_push(struct base_io **head, struct base_io **tail,
				struct base_io *io)
{
	io->engine_next = NULL;
	if (*tail)
		(*tail)->engine_next = io;
	else
		*head = io;
	*tail = io;
}

/* Returns false if the pool is going away before fd became ready. */
static bool base_pool_wait_fd(struct base_pool *pool, int fd, short events)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = events },
		{ .fd = pool->cancel_fd, .events = POLLIN },
	};

	while (poll(pfd, 2, -1) < 0)
		if (errno != EINTR)
			return true; /* let the call itself report it */
	return !(pfd[1].revents & POLLIN);
}

static int base_pool_call(struct base_pool *pool, struct base_io *io,
			  bool *abandoned)
{
	ssize_t n;
	int ret = base_io_call_positional(io);

	if (ret != INT_MIN)
		return ret;
	switch (io->op) {
	case BASE_IO_STREAM_READ:
		if (!base_pool_wait_fd(pool, io->fd, POLLIN))
			goto abandon;
		n = read(io->fd, io->buf, io->buf_len);
		break;
	case BASE_IO_STREAM_WRITEV:
		if (!base_pool_wait_fd(pool, io->fd, POLLOUT))
			goto abandon;
		n = writev(io->fd, io->iov, io->iovcnt);
		break;
	case BASE_IO_ACCEPT:
		if (!base_pool_wait_fd(pool, io->fd, POLLIN))
			goto abandon;
		n = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	default:
		n = -1;
		errno = EINVAL;
		break;
	}
	return n < 0 ? -errno : (int)n;

abandon:
	*abandoned = true;
	return -ECANCELED;
}

static void *base_pool_main(void *arg)
{
	struct base_pool *pool = arg;

	for (;;) {
		struct base_io *io;
		bool abandoned = false, was_empty;
		int res;

		pthread_mutex_lock(&pool->lock);
		while (!pool->job_head && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		io = pool->job_head;
		pool->job_head = io->engine_next;
		if (!pool->job_head)
			pool->job_tail = NULL;
		pthread_mutex_unlock(&pool->lock);

		do
			res = base_pool_call(pool, io, &abandoned);
		while (res == -EINTR && !abandoned);
		if (abandoned)
			continue;

		io->engine_result = res;
		pthread_mutex_lock(&pool->lock);
		was_empty = !pool->done_head;
		base_pool_list_push(&pool->done_head, &pool->done_tail, io);
		pthread_mutex_unlock(&pool->lock);
		/* The loop drains its eventfd before taking the list, so one
		 * wake-up per non-empty list is enough. */
		if (was_empty) {
			uint64_t one = 1;

			while (write(pool->wake_fd, &one, sizeof(one)) < 0 &&
			       errno == EINTR)
				;
		}
	}
}

int base_pool_create(struct base_pool **poolp, int wake_fd)
{
	struct base_pool *pool;
	int ret;

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->wake_fd = wake_fd;
	pool->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool->cancel_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = -pthread_mutex_init(&pool->lock, NULL);
	if (ret)
		goto err_close_cancel;
	ret = -pthread_cond_init(&pool->cond, NULL);
	if (ret)
		goto err_destroy_lock;
	*poolp = pool;
	return 0;

err_destroy_lock:
	pthread_mutex_destroy(&pool->lock);
err_close_cancel:
	close(pool->cancel_fd);
err_free:
	free(pool);
	return ret;
}

static int base_pool_start(struct base_pool *pool)
{
	sigset_t all, old;
	int ret = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (pool->n_threads < BASE_POOL_THREADS) {
		ret = -pthread_create(&pool->threads[pool->n_threads], NULL,
				      base_pool_main, pool);
		if (ret)
			break;
		pool->n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* A partly started pool still works, only narrower. */
	return pool->n_threads ? 0 : ret;
}

int base_pool_submit(struct base_pool *pool, struct base_io *io)
{
	int ret;

	if (pool->n_threads == 0) {
		ret = base_pool_start(pool);
		if (ret < 0)
			return ret;
	}
	pthread_mutex_lock(&pool->lock);
	base_pool_list_push(&pool->job_head, &pool->job_tail, io);
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

struct base_io *base_pool_take_done(struct base_pool *pool)
{
	struct base_io *io;

	pthread_mutex_lock(&pool->lock);
	io = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	pthread_mutex_unlock(&pool->lock);
	return io;
}

void base_pool_destroy(struct base_pool *pool)
{
	uint64_t one = 1;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	/* Never read again: stays readable and releases every poll. */
	while (write(pool->cancel_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	for (unsigned int i = 0; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	close(pool->cancel_fd);
	free(pool);
}
