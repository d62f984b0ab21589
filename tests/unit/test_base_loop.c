// SPDX-License-Identifier: MIT
/*
 * The event loop contract, run on both engines: storage ops on a temp
 * file, streams over socketpairs and pipes (blocking and not), accept,
 * cross-thread posts, stop, -errno results, thousands of pending
 * reads, and destroy with work still outstanding.  Every completion checks
 * that it is not running inside base_io_submit.  No test sleeps: each one
 * stops its loop from the callback that finishes the work, and alarm()
 * turns a hang into a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "test.h"

static enum base_engine cur_engine;
static struct base_loop *loop;
static int in_submit;	      /* set around every base_io_submit */
static int reentered;	      /* completions seen inside submit */
static unsigned int pending;  /* test ops submitted and not completed */
static unsigned int op_flags; /* base_io.flags for file ops */

struct op {
	struct base_io io;
	int result;
	int ndone;
};

static void loop_open(unsigned int depth)
{
	loop = NULL;
	in_submit = reentered = 0;
	pending = 0;
	CHECK_EQ_INT(base_loop_create(&loop, cur_engine, depth), 0);
	if (loop)
		CHECK_EQ_INT(base_loop_engine(loop), cur_engine);
}

static void loop_close(void)
{
	CHECK_EQ_INT(reentered, 0);
	if (loop)
		CHECK_EQ_INT(base_loop_inflight(loop), pending);
	base_loop_destroy(loop);
	loop = NULL;
}

static void op_done(struct base_io *io, int result)
{
	struct op *op = (struct op *)io;

	if (in_submit)
		reentered++;
	op->result = result;
	op->ndone++;
	if (--pending == 0)
		base_loop_stop(loop);
}

static int submit(struct base_io *io)
{
	int ret;

	in_submit = 1;
	ret = base_io_submit(loop, io);
	in_submit = 0;
	if (ret == 0)
		pending++;
	return ret;
}

static void op_init(struct op *op, enum base_io_op kind, int fd)
{
	memset(op, 0, sizeof(*op));
	op->io.op = kind;
	op->io.fd = fd;
	op->io.done = op_done;
	op->io.flags = op_flags;
	op->result = INT32_MIN;
}

static void run(void)
{
	if (pending)
		base_loop_run(loop);
}

static int tmpfile_open(void)
{
	char path[] = "/tmp/test_base_loop.XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

/*
 * Kick: a one-byte socket write submitted after the ops under test.  Its
 * callback runs only once those ops are in the kernel (io_uring submits
 * in order) or parked in epoll, so fn() acts on really pending work.
 */
static int kick_sp[2] = { -1, -1 };
static struct op kick_op;
static char kick_byte = 'k';
static struct iovec kick_iov = { &kick_byte, 1 };
static void (*kick_fn)(void);

static void kick_done(struct base_io *io, int result)
{
	if (in_submit)
		reentered++;
	CHECK_EQ_INT(result, 1);
	kick_fn();
	if (--pending == 0)
		base_loop_stop(loop);
}

static void kick_after(void (*fn)(void))
{
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kick_sp) == 0);
	kick_fn = fn;
	op_init(&kick_op, BASE_IO_STREAM_WRITEV, kick_sp[0]);
	kick_op.io.iov = &kick_iov;
	kick_op.io.iovcnt = 1;
	kick_op.io.done = kick_done;
	CHECK_EQ_INT(submit(&kick_op.io), 0);
}

static void kick_close(void)
{
	close(kick_sp[0]);
	close(kick_sp[1]);
	kick_sp[0] = kick_sp[1] = -1;
}

static void stop_loop(void)
{
	base_loop_stop(loop);
}

/* Storage ------------------------------------------------------------- */

static void test_file_io(void)
{
	char a[4096], b[1000], r1[4096], r2[1000];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rv[2] = { { r1, sizeof(r1) }, { r2, sizeof(r2) } };
	struct op fa, wr, fs, fds, rd, punch, zr;
	struct stat st;
	int fd = tmpfile_open();

	CHECK(fd >= 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	loop_open(0);

	op_init(&fa, BASE_IO_FALLOCATE, fd);
	fa.io.offset = 0;
	fa.io.len = 1 << 20;
	CHECK_EQ_INT(submit(&fa.io), 0);
	CHECK_EQ_INT(fa.ndone, 0);
	run();
	CHECK_EQ_INT(fa.result, 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 1 << 20);

	op_init(&wr, BASE_IO_WRITEV, fd);
	wr.io.iov = wv;
	wr.io.iovcnt = 2;
	wr.io.offset = 8192;
	wr.io.rw_flags = RWF_DSYNC;
	op_init(&fs, BASE_IO_FSYNC, fd);
	op_init(&fds, BASE_IO_FDATASYNC, fd);
	CHECK_EQ_INT(submit(&wr.io), 0);
	run();
	CHECK_EQ_INT(wr.result, sizeof(a) + sizeof(b));
	CHECK_EQ_INT(submit(&fs.io), 0);
	CHECK_EQ_INT(submit(&fds.io), 0);
	run();
	CHECK_EQ_INT(fs.result, 0);
	CHECK_EQ_INT(fds.result, 0);

	op_init(&rd, BASE_IO_READV, fd);
	rd.io.iov = rv;
	rd.io.iovcnt = 2;
	rd.io.offset = 8192;
	CHECK_EQ_INT(submit(&rd.io), 0);
	run();
	CHECK_EQ_INT(rd.result, sizeof(r1) + sizeof(r2));
	CHECK(memcmp(r1, a, sizeof(a)) == 0);
	CHECK(memcmp(r2, b, sizeof(b)) == 0);

	/* Punching the hole must read back as zeroes (tmpfs, ext4, xfs). */
	op_init(&punch, BASE_IO_FALLOCATE, fd);
	punch.io.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	punch.io.offset = 8192;
	punch.io.len = 4096;
	CHECK_EQ_INT(submit(&punch.io), 0);
	run();
	CHECK(punch.result == 0 || punch.result == -EOPNOTSUPP);
	if (punch.result == 0) {
		op_init(&zr, BASE_IO_READV, fd);
		zr.io.iov = rv;
		zr.io.iovcnt = 1;
		zr.io.offset = 8192;
		CHECK_EQ_INT(submit(&zr.io), 0);
		run();
		CHECK_EQ_INT(zr.result, sizeof(r1));
		CHECK(r1[0] == 0 && r1[4095] == 0);
	}
	loop_close();
	close(fd);
}

/* The same file I/O made on the loop's thread: results are the same and
 * completions still come on a later iteration (loop_close checks). */
static void test_file_io_inline(void)
{
	struct op bad;
	char buf[16];
	struct iovec v = { buf, sizeof(buf) };

	op_flags = BASE_IO_F_INLINE;
	test_file_io();
	loop_open(0);
	op_init(&bad, BASE_IO_READV, -1);
	bad.io.iov = &v;
	bad.io.iovcnt = 1;
	CHECK_EQ_INT(submit(&bad.io), 0);
	CHECK_EQ_INT(bad.ndone, 0);
	run();
	CHECK_EQ_INT(bad.result, -EBADF);
	loop_close();
	op_flags = 0;
}

static void test_errors(void)
{
	char buf[16];
	struct iovec v = { buf, sizeof(buf) };
	struct op rd_bad, rd_closed, st_closed, wr_ro, fa_bad, sw_pipe, bad_op;
	int fd = tmpfile_open(), ro, sp[2], closed_fd;

	CHECK(fd >= 0);
	closed_fd = dup(fd);
	ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	close(sp[1]);
	loop_open(0);

	op_init(&rd_bad, BASE_IO_READV, -1);
	rd_bad.io.iov = &v;
	rd_bad.io.iovcnt = 1;
	op_init(&rd_closed, BASE_IO_READV, closed_fd);
	rd_closed.io.iov = &v;
	rd_closed.io.iovcnt = 1;
	op_init(&st_closed, BASE_IO_STREAM_READ, closed_fd);
	st_closed.io.buf = buf;
	st_closed.io.buf_len = sizeof(buf);
	op_init(&wr_ro, BASE_IO_WRITEV, ro);
	wr_ro.io.iov = &v;
	wr_ro.io.iovcnt = 1;
	op_init(&fa_bad, BASE_IO_FALLOCATE, fd);
	fa_bad.io.mode = -1;
	fa_bad.io.len = 4096;
	op_init(&sw_pipe, BASE_IO_STREAM_WRITEV, sp[0]);
	sw_pipe.io.iov = &v;
	sw_pipe.io.iovcnt = 1;

	/* Closed last, so nothing above reuses its number. */
	close(closed_fd);
	CHECK_EQ_INT(submit(&rd_bad.io), 0);
	CHECK_EQ_INT(submit(&rd_closed.io), 0);
	CHECK_EQ_INT(submit(&st_closed.io), 0);
	CHECK_EQ_INT(submit(&wr_ro.io), 0);
	CHECK_EQ_INT(submit(&fa_bad.io), 0);
	CHECK_EQ_INT(submit(&sw_pipe.io), 0);
	/* An unknown operation is refused at once, on every engine. */
	op_init(&bad_op, (enum base_io_op)(BASE_IO_ACCEPT + 1), fd);
	CHECK_EQ_INT(submit(&bad_op.io), -EINVAL);
	CHECK_EQ_INT(rd_bad.ndone + st_closed.ndone + sw_pipe.ndone, 0);
	run();
	CHECK_EQ_INT(rd_bad.result, -EBADF);
	CHECK_EQ_INT(rd_closed.result, -EBADF);
	CHECK_EQ_INT(st_closed.result, -EBADF);
	CHECK_EQ_INT(wr_ro.result, -EBADF);
	CHECK(fa_bad.result == -EINVAL || fa_bad.result == -EOPNOTSUPP);
	CHECK_EQ_INT(sw_pipe.result, -EPIPE);
	loop_close();
	close(fd);
	close(ro);
	close(sp[0]);
}

/* Streams ------------------------------------------------------------- */

#define XFER_BYTES (6u << 20)
#define XFER_CHUNK (64u << 10)

/* Writes XFER_BYTES through wfd, retrying short writes, then closes it;
 * reads them from rfd, then expects EOF. */
static struct xfer {
	struct op wr, rd;
	unsigned char *src, *dst;
	size_t written, got;
	struct iovec wv;
	int wfd;
	int src_fd; /* >= 0: the writer sendfiles from this copy of src */
	int short_writes;
	bool eof;
} xf;

static void xfer_write_next(void);
static void xfer_read_next(void);

static void xfer_write_done(struct base_io *io, int result)
{
	if (in_submit)
		reentered++;
	pending--;
	if (result < 0) {
		xf.wr.result = result;
		base_loop_stop(loop);
		return;
	}
	xf.written += (size_t)result;
	if (xf.written < XFER_BYTES) {
		xf.short_writes++;
		xfer_write_next();
		return;
	}
	close(xf.wfd);
	xf.wfd = -1;
}

static void xfer_write_next(void)
{
	xf.wv.iov_base = xf.src + xf.written;
	xf.wv.iov_len = XFER_BYTES - xf.written;
	xf.wr.io.offset = xf.written;
	xf.wr.io.len = XFER_BYTES - xf.written;
	CHECK_EQ_INT(submit(&xf.wr.io), 0);
}

static void xfer_read_done(struct base_io *io, int result)
{
	if (in_submit)
		reentered++;
	pending--;
	if (result <= 0) {
		xf.rd.result = result;
		xf.eof = result == 0;
		base_loop_stop(loop);
		return;
	}
	CHECK(xf.got + (size_t)result <= XFER_BYTES);
	if (xf.got + (size_t)result > XFER_BYTES) {
		base_loop_stop(loop);
		return;
	}
	memcpy(xf.dst + xf.got, xf.rd.io.buf, (size_t)result);
	xf.got += (size_t)result;
	xfer_read_next();
}

static void xfer_read_next(void)
{
	CHECK_EQ_INT(submit(&xf.rd.io), 0);
}

static void xfer_run_from(int rfd, int wfd, bool from_file)
{
	static unsigned char chunk[XFER_CHUNK];

	memset(&xf, 0, sizeof(xf));
	xf.src = malloc(XFER_BYTES);
	xf.dst = malloc(XFER_BYTES);
	CHECK(xf.src && xf.dst);
	for (size_t i = 0; i < XFER_BYTES; i++)
		xf.src[i] = (unsigned char)(i * 7 + i / 4093);
	xf.wfd = wfd;
	xf.src_fd = -1;
	op_init(&xf.wr, BASE_IO_STREAM_WRITEV, wfd);
	if (from_file) {
		xf.src_fd = tmpfile_open();
		CHECK(xf.src_fd >= 0);
		CHECK(pwrite(xf.src_fd, xf.src, XFER_BYTES, 0) == XFER_BYTES);
		xf.wr.io.op = BASE_IO_STREAM_SENDFILE;
		xf.wr.io.src_fd = xf.src_fd;
	}
	xf.wr.io.iov = &xf.wv;
	xf.wr.io.iovcnt = 1;
	xf.wr.io.done = xfer_write_done;
	op_init(&xf.rd, BASE_IO_STREAM_READ, rfd);
	xf.rd.io.buf = chunk;
	xf.rd.io.buf_len = sizeof(chunk);
	xf.rd.io.done = xfer_read_done;

	loop_open(0);
	xfer_read_next();
	xfer_write_next();
	run();
	CHECK(xf.eof);
	CHECK_EQ_INT(xf.got, XFER_BYTES);
	CHECK_EQ_INT(xf.written, XFER_BYTES);
	CHECK(memcmp(xf.src, xf.dst, XFER_BYTES) == 0);
	CHECK_EQ_INT(pending, 0);
	loop_close();
	if (xf.wfd >= 0)
		close(xf.wfd);
	if (xf.src_fd >= 0)
		close(xf.src_fd);
	close(rfd);
	free(xf.src);
	free(xf.dst);
}

static void xfer_run(int rfd, int wfd)
{
	xfer_run_from(rfd, wfd, false);
}

/* STREAM_SENDFILE: file bytes to a non-blocking socket that fills up,
 * so the op must wait for room again and again. */
static void test_stream_sendfile(void)
{
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
			 sp) == 0);
	xfer_run_from(sp[0], sp[1], true);
	CHECK(xf.short_writes > 0);
}

static void test_stream_socketpair(void)
{
	int sp[2];

	/* Blocking sockets, as a --stdio socketpair would be. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	xfer_run(sp[0], sp[1]);
	/* A 6 MiB write cannot fit a socket buffer at once. */
	CHECK(xf.short_writes > 0 || cur_engine == BASE_ENGINE_URING);
}

static void test_stream_pipe_blocking(void)
{
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	xfer_run(p[0], p[1]);
}

static void test_stream_pipe_nonblocking(void)
{
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	xfer_run(p[0], p[1]);
	CHECK(xf.short_writes > 0);
}

/* A read whose data is already there must still complete later. */
static void test_no_completion_in_submit(void)
{
	struct op rd, acc;
	char buf[8];
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	CHECK(write(sp[1], "hello", 5) == 5);
	loop_open(0);
	op_init(&rd, BASE_IO_STREAM_READ, sp[0]);
	rd.io.buf = buf;
	rd.io.buf_len = sizeof(buf);
	op_init(&acc, BASE_IO_ACCEPT, sp[0]); /* not listening: fails at once */
	CHECK_EQ_INT(submit(&rd.io), 0);
	CHECK_EQ_INT(submit(&acc.io), 0);
	CHECK_EQ_INT(rd.ndone + acc.ndone, 0);
	CHECK_EQ_INT(base_loop_inflight(loop), 2);
	run();
	CHECK_EQ_INT(rd.result, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(acc.result == -EINVAL || acc.result == -EOPNOTSUPP);
	loop_close();
	close(sp[0]);
	close(sp[1]);
}

/* Accept ------------------------------------------------------------- */

static int listen_loopback(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)sa, sizeof(*sa)) == 0);
	CHECK(listen(fd, 16) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)sa, &len) == 0);
	return fd;
}

static struct sockaddr_in accept_sa;
static int accept_client = -1, accept_lfd = -1;

static void connect_client(void)
{
	accept_client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(accept_client, (struct sockaddr *)&accept_sa,
		      sizeof(accept_sa)) == 0);
}

static void test_accept(void)
{
	struct op acc;
	int lfd = listen_loopback(&accept_sa), flags;

	/* A blocking listener: the fallback must not block on it. */
	loop_open(0);
	op_init(&acc, BASE_IO_ACCEPT, lfd);
	CHECK_EQ_INT(submit(&acc.io), 0);
	kick_after(connect_client);
	run();
	CHECK(acc.result >= 0);
	if (acc.result >= 0) {
		flags = fcntl(acc.result, F_GETFL);
		CHECK(flags >= 0 && (flags & O_NONBLOCK));
		CHECK(fcntl(acc.result, F_GETFD) & FD_CLOEXEC);
		close(acc.result);
	}
	loop_close();
	kick_close();
	close(accept_client);
	close(lfd);
}

static void shutdown_listener(void)
{
	shutdown(accept_lfd, SHUT_RDWR);
}

/* connmgr stops its listeners this way and expects -EINVAL. */
static void test_accept_shutdown(void)
{
	struct sockaddr_in sa;
	struct op acc;

	accept_lfd = listen_loopback(&sa);
	loop_open(0);
	op_init(&acc, BASE_IO_ACCEPT, accept_lfd);
	CHECK_EQ_INT(submit(&acc.io), 0);
	kick_after(shutdown_listener);
	run();
	CHECK_EQ_INT(acc.result, -EINVAL);
	loop_close();
	kick_close();
	close(accept_lfd);
}

/* Posts, stop ---------------------------------------------------- */

#define POSTS 1000

static pthread_t loop_thread;
static int posts_seen, posts_wrong_thread, posts_out_of_order;

static void post_fn(void *arg)
{
	int n = (int)(intptr_t)arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		posts_wrong_thread++;
	if (n != posts_seen)
		posts_out_of_order++;
	if (++posts_seen == POSTS)
		base_loop_stop(loop);
}

static void *post_thread(void *arg)
{
	for (int i = 0; i < POSTS; i++)
		CHECK_EQ_INT(base_loop_post(loop, post_fn, (void *)(intptr_t)i),
			     0);
	return NULL;
}

static void test_post_from_thread(void)
{
	pthread_t t;

	posts_seen = posts_wrong_thread = posts_out_of_order = 0;
	loop_thread = pthread_self();
	loop_open(0);
	CHECK(pthread_create(&t, NULL, post_thread, NULL) == 0);
	base_loop_run(loop);
	pthread_join(t, NULL);
	CHECK_EQ_INT(posts_seen, POSTS);
	CHECK_EQ_INT(posts_wrong_thread, 0);
	CHECK_EQ_INT(posts_out_of_order, 0);
	loop_close();
}

/* base_loop_send from four threads at once: every message runs once, on
 * the loop's thread, each sender's in the order it sent them. */
#define SENDERS 4
#define SENDS	20000

struct sent {
	struct base_msg msg;
	int sender, seq;
};

static struct sent sent[SENDERS][SENDS];
static int sends_seen, sends_wrong_thread, sends_out_of_order;
static int sends_next[SENDERS];

static void send_fn(struct base_msg *msg)
{
	struct sent *m = (struct sent *)msg;

	if (!pthread_equal(pthread_self(), loop_thread))
		sends_wrong_thread++;
	if (m->seq != sends_next[m->sender]++)
		sends_out_of_order++;
	if (++sends_seen == SENDERS * SENDS)
		base_loop_stop(loop);
}

static void *send_thread(void *arg)
{
	int s = (int)(intptr_t)arg;

	for (int i = 0; i < SENDS; i++) {
		sent[s][i] = (struct sent){ .msg.fn = send_fn,
					    .sender = s,
					    .seq = i };
		base_loop_send(loop, &sent[s][i].msg);
	}
	return NULL;
}

static void test_send_from_threads(void)
{
	pthread_t t[SENDERS];

	sends_seen = sends_wrong_thread = sends_out_of_order = 0;
	memset(sends_next, 0, sizeof(sends_next));
	loop_thread = pthread_self();
	loop_open(0);
	for (int i = 0; i < SENDERS; i++)
		CHECK(pthread_create(&t[i], NULL, send_thread,
				     (void *)(intptr_t)i) == 0);
	base_loop_run(loop);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(sends_seen, SENDERS * SENDS);
	CHECK_EQ_INT(sends_wrong_thread, 0);
	CHECK_EQ_INT(sends_out_of_order, 0);
	loop_close();
}

static void *stop_thread(void *arg)
{
	base_loop_stop(loop);
	return NULL;
}

static struct op batched;
static char batched_byte = 'x';
static struct iovec batched_iov = { &batched_byte, 1 };

static void test_stop(void)
{
	struct op rd;
	char buf[4];
	pthread_t t;
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	loop_open(0);
	op_init(&batched, BASE_IO_STREAM_WRITEV, sp[1]);
	batched.io.iov = &batched_iov;
	batched.io.iovcnt = 1;
	op_init(&rd, BASE_IO_STREAM_READ, sp[0]);
	rd.io.buf = buf;
	rd.io.buf_len = sizeof(buf);
	CHECK_EQ_INT(submit(&rd.io), 0);
	CHECK_EQ_INT(submit(&batched.io), 0);
	run();
	CHECK_EQ_INT(batched.result, 1);
	CHECK_EQ_INT(rd.result, 1);
	CHECK_EQ_INT(buf[0], 'x');

	/* Stop from another thread with a read still outstanding: run
	 * returns, and destroy copes with the leftover. */
	rd.ndone = 0;
	CHECK_EQ_INT(submit(&rd.io), 0);
	CHECK(pthread_create(&t, NULL, stop_thread, NULL) == 0);
	base_loop_run(loop);
	pthread_join(t, NULL);
	CHECK_EQ_INT(rd.ndone, 0);
	CHECK_EQ_INT(base_loop_inflight(loop), 1);
	loop_close();
	close(sp[0]);
	close(sp[1]);
}

/* Destroy while a pool thread waits on a silent blocking pipe. */
static void test_destroy_with_pending_pipe_read(void)
{
	static char buf[16];
	struct op rd;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	loop_open(0);
	op_init(&rd, BASE_IO_STREAM_READ, p[0]);
	rd.io.buf = buf;
	rd.io.buf_len = sizeof(buf);
	CHECK_EQ_INT(submit(&rd.io), 0);
	kick_after(stop_loop);
	base_loop_run(loop);
	CHECK_EQ_INT(rd.ndone, 0);
	loop_close();
	kick_close();
	close(p[0]);
	close(p[1]);
}

static struct op other_rd;

static void submit_posted(void *arg)
{
	CHECK(!pthread_equal(pthread_self(), loop_thread));
	CHECK_EQ_INT(submit(arg), 0);
}

/* Chains the read after the write: io_uring does not order them. */
static void other_write_done(struct base_io *io, int result)
{
	((struct op *)io)->result = result;
	pending--;
	CHECK_EQ_INT(submit(&other_rd.io), 0);
}

static void *run_thread(void *arg)
{
	base_loop_run(loop);
	return NULL;
}

/* Created on one thread, run by another: the io_uring is bound to its
 * issuer only when the first run enables it.  Every later run must come
 * from that same thread. */
static void test_run_on_other_thread(void)
{
	char data[512], back[512];
	struct iovec wv = { data, sizeof(data) }, rv = { back, sizeof(back) };
	struct op wr;
	pthread_t t;
	int fd = tmpfile_open();

	memset(data, 0x5a, sizeof(data));
	loop_thread = pthread_self();
	loop_open(0);
	op_init(&wr, BASE_IO_WRITEV, fd);
	wr.io.iov = &wv;
	wr.io.iovcnt = 1;
	wr.io.done = other_write_done;
	op_init(&other_rd, BASE_IO_READV, fd);
	other_rd.io.iov = &rv;
	other_rd.io.iovcnt = 1;
	/* Hand the submit to the loop's thread, as connmgr does. */
	CHECK_EQ_INT(base_loop_post(loop, submit_posted, &wr.io), 0);
	CHECK(pthread_create(&t, NULL, run_thread, NULL) == 0);
	pthread_join(t, NULL);
	CHECK_EQ_INT(wr.result, sizeof(data));
	CHECK_EQ_INT(other_rd.result, sizeof(back));
	CHECK(memcmp(data, back, sizeof(data)) == 0);
	loop_close();
	close(fd);
}

/* Many idle connections ---------------------------------------------- */

#define MANY 2000

static int many_fds[MANY][2];
static struct op many_rd[MANY];
static unsigned char many_buf[MANY];

/* Runs once every read is in the kernel (io_uring) or parked (epoll):
 * the kick was submitted after them. */
static void many_write_peers(void)
{
	for (int i = 0; i < MANY; i++) {
		unsigned char c = (unsigned char)i;

		CHECK_EQ_INT(many_rd[i].ndone, 0);
		CHECK(write(many_fds[i][1], &c, 1) == 1);
	}
}

static void test_many_pending_reads(unsigned int depth)
{
	struct rlimit rl;
	int bad = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * MANY + 64 && rl.rlim_max >= 2 * MANY + 64) {
		rl.rlim_cur = 2 * MANY + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	loop_open(depth);
	for (int i = 0; i < MANY; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				 many_fds[i]) == 0);
		op_init(&many_rd[i], BASE_IO_STREAM_READ, many_fds[i][0]);
		many_rd[i].io.buf = &many_buf[i];
		many_rd[i].io.buf_len = 1;
		CHECK_EQ_INT(submit(&many_rd[i].io), 0);
	}
	kick_after(many_write_peers);
	CHECK_EQ_INT(base_loop_inflight(loop), MANY + 1);
	run();
	for (int i = 0; i < MANY; i++) {
		if (many_rd[i].result != 1 || many_buf[i] != (unsigned char)i)
			bad++;
		close(many_fds[i][0]);
		close(many_fds[i][1]);
	}
	CHECK_EQ_INT(bad, 0);
	loop_close();
	kick_close();
}

static void test_many_pending_reads_default_depth(void)
{
	test_many_pending_reads(0);
}

/* An SQ of 8 and a CQ far smaller than the wave of completions. */
static void test_many_pending_reads_tiny_ring(void)
{
	test_many_pending_reads(8);
}

static const struct {
	const char *name;
	void (*fn)(void);
} engine_tests[] = {
	{ "file_io", test_file_io },
	{ "file_io_inline", test_file_io_inline },
	{ "errors", test_errors },
	{ "stream_socketpair", test_stream_socketpair },
	{ "stream_sendfile", test_stream_sendfile },
	{ "stream_pipe_blocking", test_stream_pipe_blocking },
	{ "stream_pipe_nonblocking", test_stream_pipe_nonblocking },
	{ "no_completion_in_submit", test_no_completion_in_submit },
	{ "accept", test_accept },
	{ "accept_shutdown", test_accept_shutdown },
	{ "post_from_thread", test_post_from_thread },
	{ "send_from_threads", test_send_from_threads },
	{ "stop", test_stop },
	{ "destroy_with_pending_pipe_read",
	  test_destroy_with_pending_pipe_read },
	{ "run_on_other_thread", test_run_on_other_thread },
	{ "many_pending_reads", test_many_pending_reads_default_depth },
	{ "many_pending_reads_tiny_ring", test_many_pending_reads_tiny_ring },
};

int main(void)
{
	static const enum base_engine engines[] = { BASE_ENGINE_URING,
						    BASE_ENGINE_EPOLL };
	char name[128];

	/* A hang is a failure, not a stuck CI job. */
	alarm(120);
	/* As iopd does: a dead peer is -EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
		cur_engine = engines[e];
		for (size_t i = 0;
		     i < sizeof(engine_tests) / sizeof(engine_tests[0]); i++) {
			snprintf(name, sizeof(name), "%s/%s",
				 base_engine_name(cur_engine),
				 engine_tests[i].name);
			test_run(name, engine_tests[i].fn);
		}
	}
	return test_done();
}
