// SPDX-License-Identifier: MIT
/*
 * NBD over a byte stream: moves bytes between a socket (or stdin/stdout)
 * and the protocol engine (nbd_proto.c) with one outstanding read and one
 * outstanding write per connection on the worker's loop.  The engine does
 * the protocol; this file does the I/O, the teardown order and nothing
 * else.
 *
 * Teardown: a connection is freed only from a posted callback, never from
 * inside the engine's tx_ready hook or an I/O completion that the engine
 * might still be running under, and only once no read, write or storage
 * request is outstanding.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/remote.h"
#include "remote/nbd/nbd_proto.h"

#define NBD_SERVER_TX_IOV 64

struct remote_conn {
	struct nbd_proto *proto;
	struct base_loop *loop;
	int rx_fd, tx_fd;
	struct base_io rx_io, tx_io;
	struct iovec tx_iov[NBD_SERVER_TX_IOV];
	bool rx_busy, tx_busy;
	bool rx_closed; /* no more reading: eof, error or shutdown */
	bool tx_broken; /* the peer is gone: drop output */
	bool close_posted;
	void (*closed)(void *opaque, struct remote_conn *conn);
	void *opaque;
	struct conn_stats *stats; /* the Connection Manager's; may be NULL */
	char peer[64];
};

static void nbd_server_pump(struct remote_conn *c);

static void nbd_server_free(void *arg)
{
	struct remote_conn *c = arg;

	log_debug("%s: disconnected", c->peer);
	nbd_proto_destroy(c->proto);
	close(c->rx_fd);
	if (c->tx_fd != c->rx_fd)
		close(c->tx_fd);
	c->closed(c->opaque, c);
	free(c);
}

/* Stop reading for good; a pending read returns at once. */
static void nbd_server_rx_stop(struct remote_conn *c)
{
	if (c->rx_closed)
		return;
	c->rx_closed = true;
	nbd_proto_rx_eof(c->proto);
	if (c->rx_busy)
		shutdown(c->rx_fd, SHUT_RD);
}

static void nbd_server_rx_done(struct base_io *io, int result)
{
	struct remote_conn *c = io->data;
	int ret;

	c->rx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		nbd_server_pump(c);
		return;
	}
	if (c->rx_closed) {
		/* Shut down while the read was pending: drop what came. */
	} else if (result <= 0) {
		if (result < 0 && result != -ECONNRESET)
			log_debug("%s: read: %s", c->peer, strerror(-result));
		nbd_server_rx_stop(c);
	} else {
		if (c->stats)
			c->stats->bytes_in += (uint64_t)result;
		ret = nbd_proto_rx_done(c->proto, (size_t)result);
		if (ret < 0) {
			/* The engine logged why; the stream is lost. */
			nbd_server_rx_stop(c);
			c->tx_broken = true;
			shutdown(c->tx_fd, SHUT_RDWR);
		}
	}
	nbd_server_pump(c);
}

static void nbd_server_tx_done(struct base_io *io, int result)
{
	struct remote_conn *c = io->data;
	size_t total = 0;

	c->tx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		nbd_server_pump(c);
		return;
	}
	if (result < 0) {
		if (result != -EPIPE && result != -ECONNRESET)
			log_debug("%s: write: %s", c->peer, strerror(-result));
		c->tx_broken = true;
		nbd_server_rx_stop(c);
		if (io->op == BASE_IO_STREAM_SENDFILE)
			total = io->len;
		else
			for (int i = 0; i < io->iovcnt; i++)
				total += c->tx_iov[i].iov_len;
		nbd_proto_tx_done(c->proto, total);
	} else if (result == 0 && io->op == BASE_IO_STREAM_SENDFILE) {
		/* The file shrank under a reply that promised its bytes. */
		log_warn("%s: export shrank under a read: disconnecting",
			 c->peer);
		c->tx_broken = true;
		nbd_server_rx_stop(c);
		nbd_proto_tx_done(c->proto, io->len);
	} else {
		if (c->stats)
			c->stats->bytes_out += (uint64_t)result;
		nbd_proto_tx_done(c->proto, (size_t)result);
	}
	nbd_server_pump(c);
}

static void nbd_server_rx_arm(struct remote_conn *c)
{
	void *buf;
	size_t len;

	nbd_proto_rx_buf(c->proto, &buf, &len);
	if (len == 0)
		return;
	c->rx_io.op = BASE_IO_STREAM_READ;
	c->rx_io.fd = c->rx_fd;
	c->rx_io.buf = buf;
	c->rx_io.buf_len = len;
	c->rx_io.done = nbd_server_rx_done;
	c->rx_io.data = c;
	if (base_io_submit(c->loop, &c->rx_io) < 0)
		nbd_server_rx_stop(c);
	else
		c->rx_busy = true;
}

/* The front of the output is file bytes: sendfile them. */
static void nbd_server_tx_file(struct remote_conn *c)
{
	size_t len;

	if (!nbd_proto_tx_file(c->proto, &c->tx_io.src_fd, &c->tx_io.offset,
			       &len))
		return;
	if (c->tx_broken) {
		nbd_proto_tx_done(c->proto, len);
		return;
	}
	c->tx_io.op = BASE_IO_STREAM_SENDFILE;
	c->tx_io.fd = c->tx_fd;
	c->tx_io.len = len;
	c->tx_io.done = nbd_server_tx_done;
	c->tx_io.data = c;
	if (base_io_submit(c->loop, &c->tx_io) < 0) {
		c->tx_broken = true;
		nbd_server_rx_stop(c);
	} else {
		c->tx_busy = true;
	}
}

static void nbd_server_tx_arm(struct remote_conn *c)
{
	int n = nbd_proto_tx_iov(c->proto, c->tx_iov, NBD_SERVER_TX_IOV);
	size_t total = 0;

	if (n == 0)
		nbd_server_tx_file(c);
	if (n <= 0)
		return;
	if (c->tx_broken) {
		/* Nobody will read it: let the engine free its slots. */
		for (int i = 0; i < n; i++)
			total += c->tx_iov[i].iov_len;
		nbd_proto_tx_done(c->proto, total);
		return;
	}
	c->tx_io.op = BASE_IO_STREAM_WRITEV;
	c->tx_io.fd = c->tx_fd;
	c->tx_io.iov = c->tx_iov;
	c->tx_io.iovcnt = n;
	c->tx_io.done = nbd_server_tx_done;
	c->tx_io.data = c;
	if (base_io_submit(c->loop, &c->tx_io) < 0) {
		c->tx_broken = true;
		nbd_server_rx_stop(c);
	} else {
		c->tx_busy = true;
	}
}

/* Start whatever I/O can start; schedule the free when all is done.  Never
 * frees directly, so it is safe from the engine's tx_ready hook. */
static void nbd_server_pump(struct remote_conn *c)
{
	if (!c->rx_busy && !c->rx_closed)
		nbd_server_rx_arm(c);
	/* Dropping output may free engine slots and so produce more: loop
	 * until the engine has nothing left or a write is in flight. */
	while (!c->tx_busy) {
		bool was_broken = c->tx_broken;
		uint64_t off;
		size_t len;
		int fd;

		nbd_server_tx_arm(c);
		if (c->tx_busy || !was_broken ||
		    (nbd_proto_tx_iov(c->proto, c->tx_iov, 1) == 0 &&
		     !nbd_proto_tx_file(c->proto, &fd, &off, &len)))
			break;
	}
	if (nbd_proto_finished(c->proto) && !c->rx_closed)
		nbd_server_rx_stop(c);
	if (c->close_posted || c->rx_busy || c->tx_busy ||
	    !nbd_proto_finished(c->proto))
		return;
	c->close_posted = true;
	if (base_loop_post(c->loop, nbd_server_free, c) < 0)
		log_error("%s: cannot schedule the close", c->peer);
}

static void nbd_server_tx_ready(void *opaque)
{
	nbd_server_pump(opaque);
}

/* sendfile needs an output that never blocks the worker: a non-blocking
 * socket (what the Connection Manager accepts), not --stdio's pipes. */
static bool nbd_server_can_sendfile(int fd)
{
	struct stat st;
	int flags = fcntl(fd, F_GETFL);

	return flags >= 0 && (flags & O_NONBLOCK) && fstat(fd, &st) == 0 &&
	       S_ISSOCK(st.st_mode);
}

static int nbd_server_conn_start(const struct remote_conn_args *args,
				 struct remote_conn **connp)
{
	struct nbd_proto_config cfg = {
		.exports = args->exports,
		.limits = args->limits,
		.loop = args->loop,
		.tx_ready = nbd_server_tx_ready,
		.stats = args->stats,
	};
	struct remote_conn *c;
	int one = 1;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		goto err_close_fds;
	}
	c->loop = args->loop;
	c->rx_fd = args->rx_fd;
	c->tx_fd = args->tx_fd;
	c->closed = args->closed;
	c->opaque = args->opaque;
	c->stats = args->stats;
	strncpy(c->peer, args->peer, sizeof(c->peer) - 1);
	cfg.peer = c->peer;
	cfg.opaque = c;
	cfg.zero_copy = nbd_server_can_sendfile(c->tx_fd);
	/* Replies are small and latency bound; don't let Nagle hold them.
	 * Fails harmlessly on Unix sockets and pipes. */
	setsockopt(c->tx_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = nbd_proto_create(&cfg, &c->proto);
	if (ret < 0)
		goto err_free_conn;
	nbd_server_pump(c);
	*connp = c;
	return 0;

err_free_conn:
	free(c);
err_close_fds:
	close(args->rx_fd);
	if (args->tx_fd != args->rx_fd)
		close(args->tx_fd);
	return ret;
}

static void nbd_server_conn_shutdown(struct remote_conn *c)
{
	nbd_server_rx_stop(c);
	nbd_server_pump(c);
}

static void nbd_server_conn_abort(struct remote_conn *c)
{
	log_warn("%s: closing: the drain timed out", c->peer);
	c->tx_broken = true;
	nbd_server_rx_stop(c);
	/* Wakes a write stuck on a full socket buffer with EPIPE. */
	shutdown(c->tx_fd, SHUT_RDWR);
	nbd_server_pump(c);
}

const struct remote_transport_ops nbd_transport_ops = {
	.name = "nbd",
	.conn_start = nbd_server_conn_start,
	.conn_shutdown = nbd_server_conn_shutdown,
	.conn_abort = nbd_server_conn_abort,
};
