// SPDX-License-Identifier: MIT
/*
 * base_epoll: the portable engine, for kernels or sandboxes without
 * io_uring.  Stream operations are readiness based: the call is tried at
 * once without blocking (MSG_DONTWAIT on sockets, so a blocking socket
 * such as a --stdio socketpair is fine); on EAGAIN the fd waits in
 * epoll and the call is retried when it is ready.  Each fd
 * holds at most one waiting reader-side op (STREAM_READ or ACCEPT) and
 * one waiting writer-side op (STREAM_WRITEV); a second one gets -EBUSY.
 * Blocking non-sockets (pipes, ttys, regular files as stdin) and all
 * storage calls run on the loop's thread pool (base_pool.c).  A result
 * known inside submit is delivered by the next loop iteration, never by
 * submit itself.
 *
 * An fd is registered once, edge triggered for both directions, and
 * stays registered: a request that arrives costs one epoll_wait and one
 * recv, with no epoll_ctl to re-arm and no recv that finds the socket
 * empty.  Edge triggering reports data that arrives after the fd was
 * last reported, so the engine keeps, per fd, whether it may still hold
 * unread bytes (readable: an event came, and no read since came back
 * short or with EAGAIN) and reads at submit only then.  A registration
 * is trusted only for the reader that an event woke and that read data
 * since the last epoll_wait (its callback asking for more): any other read
 * first tries the call and, on EAGAIN, re-registers with EPOLL_CTL_MOD
 * (or ADD), which also reports readiness the kernel has.  So an fd
 * closed and its number reused, whose registration the kernel dropped,
 * is registered again before anything waits on it; and a stale
 * registration (a dup of a closed fd still open) can only report
 * spurious readiness, which costs one EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base_assert.h"
#include "base/base_engine.h"
#include "base/base_log.h"
#include "base/base_pool.h"

#define BASE_EPOLL_EVENTS   256
#define BASE_EPOLL_WAKE_TAG UINT64_MAX

/* How a waiting stream op retries; kept in io->engine_result. */
enum base_epoll_kind {
	BASE_EPOLL_SOCKET = 1, /* recv/sendmsg with MSG_DONTWAIT */
	BASE_EPOLL_NONBLOCK,   /* read/writev on an O_NONBLOCK fd */
};

struct base_epoll_fd {
	struct base_io *reader, *writer;
	/* The reader that last read data, and the wait generation it did in
	 * (the registration is trusted for it, see above). */
	const struct base_io *last_reader;
	uint64_t last_gen;
	int last_kind;	 /* its enum base_epoll_kind */
	bool registered; /* in the epoll set as far as we know */
	bool readable;	 /* may hold unread input */
	/* The peer closed or the socket failed: a short read no longer means
	 * empty (the end, or the error, is still to be read), and no new
	 * edge will say so. */
	bool hup;
};

struct base_epoll {
	int epfd;
	struct base_pool *pool;
	struct base_epoll_fd *fds; /* indexed by fd number */
	size_t n_fds;
	uint64_t gen; /* epoll_wait calls so far */
};

static int base_epoll_init(struct base_loop *loop, unsigned int queue_depth)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = BASE_EPOLL_WAKE_TAG };
	struct base_epoll *ep;
	int ret;

	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	/* Level triggered: posts, stop and pool results all land here. */
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		ret = -errno;
		goto err_close_epfd;
	}
	ret = base_pool_create(&ep->pool, loop->wake_fd);
	if (ret < 0)
		goto err_close_epfd;
	loop->engine_priv = ep;
	return 0;

err_close_epfd:
	close(ep->epfd);
err_free:
	free(ep);
	return ret;
}

static void base_epoll_fini(struct base_loop *loop)
{
	struct base_epoll *ep = loop->engine_priv;

	/* Joins the pool first: its threads may still write to buffers. */
	base_pool_destroy(ep->pool);
	close(ep->epfd);
	free(ep->fds);
	free(ep);
	loop->engine_priv = NULL;
}

static struct base_epoll_fd *base_epoll_fd_get(struct base_epoll *ep, int fd)
{
	if ((size_t)fd >= ep->n_fds) {
		size_t n = ep->n_fds ? ep->n_fds : 64;
		struct base_epoll_fd *fds;

		while (n <= (size_t)fd)
			n *= 2;
		fds = realloc(ep->fds, n * sizeof(*fds));
		if (!fds)
			return NULL;
		memset(fds + ep->n_fds, 0, (n - ep->n_fds) * sizeof(*fds));
		ep->fds = fds;
		ep->n_fds = n;
	}
	return &ep->fds[fd];
}

/* (Re-)register fd for both directions, edge triggered; also makes the
 * kernel report the readiness it has now. */
static int base_epoll_register(struct base_epoll *ep, int fd)
{
	struct base_epoll_fd *rec = &ep->fds[fd];
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
					    EPOLLET,
				  .data.u64 = (uint64_t)fd };
	int op = rec->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	for (int tries = 0; tries < 2; tries++) {
		if (epoll_ctl(ep->epfd, op, fd, &ev) == 0) {
			rec->registered = true;
			return 0;
		}
		/* Our idea of the set is stale when an fd number is reused
		 * or shared with a dup: switch verbs once. */
		if (errno == ENOENT)
			op = EPOLL_CTL_ADD;
		else if (errno == EEXIST)
			op = EPOLL_CTL_MOD;
		else
			break;
	}
	rec->registered = false;
	return -errno;
}

static bool base_epoll_is_reader(const struct base_io *io)
{
	return io->op == BASE_IO_STREAM_READ || io->op == BASE_IO_ACCEPT;
}

/* One non-blocking attempt.  Returns the result, or -EAGAIN to wait. */
static int base_epoll_try(struct base_io *io)
{
	ssize_t n;

	do {
		switch (io->op) {
		case BASE_IO_STREAM_READ:
			if (io->engine_result == BASE_EPOLL_SOCKET)
				n = recv(io->fd, io->buf, io->buf_len,
					 MSG_DONTWAIT);
			else
				n = read(io->fd, io->buf, io->buf_len);
			break;
		case BASE_IO_STREAM_WRITEV:
			if (io->engine_result == BASE_EPOLL_SOCKET) {
				struct msghdr msg = {
					.msg_iov = (struct iovec *)io->iov,
					.msg_iovlen = (size_t)io->iovcnt,
				};

				n = sendmsg(io->fd, &msg,
					    MSG_DONTWAIT | MSG_NOSIGNAL);
			} else {
				n = writev(io->fd, io->iov, io->iovcnt);
			}
			break;
		case BASE_IO_STREAM_SENDFILE:
			return base_io_sendfile(io);
		case BASE_IO_ACCEPT:
			n = accept4(io->fd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC);
			break;
		default:
			/* Only stream ops and ACCEPT come here. */
			IOPD_NEVER(true);
			n = -1;
			errno = EINVAL;
			break;
		}
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/*
 * A stream op that failed with ENOTSOCK, or an ACCEPT: decide how it can
 * run without blocking the loop.  Returns 0 with io->engine_result set to
 * a kind, 1 if it must go to the pool, or -errno.
 */
static int base_epoll_classify(struct base_io *io)
{
	int flags = fcntl(io->fd, F_GETFL);

	if (flags < 0)
		return -errno;
	if (io->op == BASE_IO_ACCEPT) {
		/* accept4 has no MSG_DONTWAIT: the listening socket is ours,
		 * so make it non-blocking (io_uring does not care). */
		if (!(flags & O_NONBLOCK) &&
		    fcntl(io->fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return -errno;
		io->engine_result = BASE_EPOLL_SOCKET;
		return 0;
	}
	/* A blocking pipe or tty is shared with whoever gave it to us, so
	 * we do not flip its O_NONBLOCK; a pool thread waits for it. */
	if (!(flags & O_NONBLOCK))
		return 1;
	io->engine_result = BASE_EPOLL_NONBLOCK;
	return 0;
}

/* What a reader's attempt tells about the fd's unread input.  A short
 * read from a stream socket emptied it: data that comes later is an edge
 * epoll reports.  evented: the reader was woken by an event, so the
 * registration it waited on is this file's (it was made for it, or
 * trusted the same way); only then is it trusted for the reader's next
 * read. */
static void base_epoll_note_read(struct base_epoll *ep, struct base_io *io,
				 int res, bool evented)
{
	struct base_epoll_fd *rec;

	if ((size_t)io->fd >= ep->n_fds)
		return;
	rec = &ep->fds[io->fd];
	if (res == -EAGAIN) {
		rec->readable = rec->hup = false;
		return;
	}
	if (res < 0 || (res == 0 && io->op == BASE_IO_STREAM_READ)) {
		rec->last_reader = NULL; /* the end: trust nothing after it */
		return;
	}
	rec->last_reader = evented ? io : NULL;
	rec->last_gen = ep->gen;
	rec->last_kind = io->engine_result;
	if (io->op == BASE_IO_STREAM_READ &&
	    io->engine_result == BASE_EPOLL_SOCKET &&
	    (size_t)res < io->buf_len && !rec->hup)
		rec->readable = false;
}

/* The reader that just read data asks again and the fd is empty: wait
 * on the registration it has, with no system call. */
static bool base_epoll_park_trusted(struct base_epoll *ep, struct base_io *io)
{
	struct base_epoll_fd *rec;

	if (!base_epoll_is_reader(io) || (size_t)io->fd >= ep->n_fds)
		return false;
	rec = &ep->fds[io->fd];
	if (!rec->registered || rec->readable || rec->last_reader != io ||
	    rec->last_gen != ep->gen)
		return false;
	io->engine_result = rec->last_kind;
	rec->reader = io;
	return true;
}

/* Park io until its fd is ready.  Returns 0, 1 if epoll refuses the fd
 * (a regular file), or -errno. */
static int base_epoll_park(struct base_epoll *ep, struct base_io *io)
{
	struct base_epoll_fd *rec = base_epoll_fd_get(ep, io->fd);
	struct base_io **slot;
	int ret;

	if (!rec)
		return -ENOMEM;
	slot = base_epoll_is_reader(io) ? &rec->reader : &rec->writer;
	if (*slot)
		return -EBUSY;
	*slot = io;
	ret = base_epoll_register(ep, io->fd);
	if (ret < 0) {
		*slot = NULL;
		return ret == -EPERM ? 1 : ret;
	}
	return 0;
}

static int base_epoll_submit_stream(struct base_loop *loop, struct base_io *io)
{
	struct base_epoll *ep = loop->engine_priv;
	struct base_epoll_fd *rec;
	int ret;

	if (io->fd < 0) {
		base_loop_defer(loop, io, -EBADF);
		return 0;
	}
	/* Trying now while an earlier op of the same side waits would
	 * reorder a byte stream. */
	if ((size_t)io->fd < ep->n_fds) {
		rec = &ep->fds[io->fd];
		if (base_epoll_is_reader(io) ? rec->reader : rec->writer)
			return -EBUSY;
	}
	if (base_epoll_park_trusted(ep, io))
		return 0;
	/* Sockets are the common case: try them first and learn the fd's
	 * kind only when that fails. */
	io->engine_result = BASE_EPOLL_SOCKET;
	ret = io->op == BASE_IO_ACCEPT ? -ENOTSOCK : base_epoll_try(io);
	if (ret == -ENOTSOCK) {
		ret = base_epoll_classify(io);
		if (ret == 1)
			return base_pool_submit(ep->pool, io);
		if (ret == 0)
			ret = base_epoll_try(io);
	}
	if (base_epoll_is_reader(io))
		base_epoll_note_read(ep, io, ret, false);
	if (ret != -EAGAIN) {
		base_loop_defer(loop, io, ret);
		return 0;
	}
	ret = base_epoll_park(ep, io);
	if (ret == 1)
		return base_pool_submit(ep->pool, io);
	if (ret == -EBUSY || ret == -ENOMEM)
		return ret;
	if (ret < 0)
		base_loop_defer(loop, io, ret);
	return 0;
}

static int base_epoll_submit(struct base_loop *loop, struct base_io *io)
{
	struct base_epoll *ep = loop->engine_priv;

	switch (io->op) {
	case BASE_IO_READV:
	case BASE_IO_WRITEV:
	case BASE_IO_FSYNC:
	case BASE_IO_FDATASYNC:
	case BASE_IO_FALLOCATE:
		return base_pool_submit(ep->pool, io);
	case BASE_IO_STREAM_READ:
	case BASE_IO_STREAM_WRITEV:
	case BASE_IO_STREAM_SENDFILE:
	case BASE_IO_ACCEPT:
		return base_epoll_submit_stream(loop, io);
	}
	return -EINVAL;
}

static void base_epoll_fd_event(struct base_loop *loop, int fd, uint32_t events)
{
	struct base_epoll *ep = loop->engine_priv;
	struct base_epoll_fd *rec;
	struct base_io *done[2] = { NULL, NULL };
	int res[2] = { 0, 0 };

	if ((size_t)fd >= ep->n_fds)
		return;
	rec = &ep->fds[fd];
	if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		rec->hup = true;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		rec->readable = true;
	if (rec->reader &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
		res[0] = base_epoll_try(rec->reader);
		base_epoll_note_read(ep, rec->reader, res[0], true);
		/* A shut-down Unix listener reports HUP while accept says
		 * EAGAIN; end the accept as a shut-down TCP listener does,
		 * with EINVAL, instead of waiting for ever. */
		if (res[0] == -EAGAIN && (events & EPOLLHUP) &&
		    rec->reader->op == BASE_IO_ACCEPT)
			res[0] = -EINVAL;
		if (res[0] != -EAGAIN) {
			done[0] = rec->reader;
			rec->reader = NULL;
		}
	}
	if (rec->writer && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		res[1] = base_epoll_try(rec->writer);
		if (res[1] != -EAGAIN) {
			done[1] = rec->writer;
			rec->writer = NULL;
		}
	}
	/* The registration stays: nothing to re-arm.  Callbacks submit on
	 * this fd and may grow (move) the fd table: rec is not used after. */
	for (int i = 0; i < 2; i++)
		if (done[i])
			base_loop_complete(loop, done[i], res[i]);
}

static void base_epoll_pool_done(struct base_loop *loop)
{
	struct base_epoll *ep = loop->engine_priv;
	struct base_io *io, *next;

	for (io = base_pool_take_done(ep->pool); io; io = next) {
		next = io->engine_next;
		io->engine_next = NULL;
		base_loop_complete(loop, io, io->engine_result);
	}
}

static void base_epoll_wait(struct base_loop *loop, bool can_block)
{
	struct base_epoll *ep = loop->engine_priv;
	struct epoll_event events[BASE_EPOLL_EVENTS];
	int n;

	n = epoll_wait(ep->epfd, events, BASE_EPOLL_EVENTS, can_block ? -1 : 0);
	ep->gen++;
	if (n < 0) {
		if (errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			atomic_store(&loop->stop, true);
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		if (events[i].data.u64 == BASE_EPOLL_WAKE_TAG) {
			/* Drain first, then take: a result that arrives in
			 * between re-signals the eventfd. */
			base_loop_wake_drain(loop);
			base_epoll_pool_done(loop);
			continue;
		}
		base_epoll_fd_event(loop, (int)events[i].data.u64,
				    events[i].events);
	}
}

const struct base_engine_ops base_epoll_ops = {
	.name = "epoll",
	.init = base_epoll_init,
	.fini = base_epoll_fini,
	.submit = base_epoll_submit,
	.wait = base_epoll_wait,
};
