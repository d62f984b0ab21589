// SPDX-License-Identifier: MIT
/*
 * The socket side shared by the Remote Transports' servers
 * (remote_stream.h): reads into the engine's buffer, writes its iovecs
 * (or its file bytes with sendfile), drops output once the peer is gone,
 * counts bytes for the connection list.  What to do at the end (when to
 * post the free, lingering, timers) stays in each server.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base_log.h"
#include "remote/remote_stream.h"
#include "remote/remote_tls.h"

void remote_stream_init(struct remote_stream *s,
			void (*pump)(struct remote_conn *conn),
			struct remote_conn *conn,
			const struct remote_conn_args *args)
{
	int type = 0;
	socklen_t len = sizeof(type);

	s->pump = pump;
	s->conn = conn;
	s->loop = args->loop;
	s->rx_fd = args->rx_fd;
	s->tx_fd = args->tx_fd;
	s->stats = args->stats;
	s->closed = args->closed;
	s->opaque = args->opaque;
	strncpy(s->peer, args->peer, sizeof(s->peer) - 1);
	s->tx_sock =
		getsockopt(s->tx_fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		type == SOCK_STREAM;
}

struct remote_conn *remote_conn_new(size_t size,
				    void (*pump)(struct remote_conn *conn),
				    const struct remote_conn_args *args)
{
	struct remote_conn *c = calloc(1, size);
	int one = 1;

	if (!c) {
		remote_stream_close_fds(args->rx_fd, args->tx_fd);
		return NULL;
	}
	remote_stream_init(&c->s, pump, c, args);
	/* Replies are small and latency bound; don't let Nagle hold them.
	 * Fails harmlessly on Unix sockets and pipes. */
	setsockopt(c->s.tx_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

void remote_conn_start(struct remote_conn *c, struct remote_engine *engine)
{
	c->s.engine = engine;
	c->s.pump(c);
}

void remote_conn_discard(struct remote_conn *c)
{
	remote_stream_close_fds(c->s.rx_fd, c->s.tx_fd);
	free(c);
}

void remote_stream_close_fds(int rx_fd, int tx_fd)
{
	close(rx_fd);
	if (tx_fd != rx_fd)
		close(tx_fd);
}

void remote_stream_release(struct remote_stream *s)
{
	log_debug("%s: disconnected", s->peer);
	remote_engine_destroy(s->engine);
	if (s->xform)
		s->xform->ops->destroy(s->xform);
	remote_stream_close_fds(s->rx_fd, s->tx_fd);
	s->closed(s->opaque, s->conn);
}

void remote_stream_rx_stop(struct remote_stream *s)
{
	if (s->rx_closed)
		return;
	s->rx_closed = true;
	remote_engine_rx_eof(s->engine);
	if (s->rx_stop_shuts && s->rx_busy)
		shutdown(s->rx_fd, SHUT_RD);
}

void remote_stream_break(struct remote_stream *s)
{
	remote_stream_rx_stop(s);
	s->tx_broken = true;
	shutdown(s->tx_fd, SHUT_RDWR);
}

static void remote_stream_rx_done(struct base_io *io, int result)
{
	struct remote_stream *s = io->data;

	s->rx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		s->pump(s->conn);
		return;
	}
	if (result <= 0)
		s->rx_eof = true;
	if (s->rx_closed) {
		/* Shut down while the read was pending: drop what came. */
	} else if (result <= 0) {
		if (result < 0 && result != -ECONNRESET)
			log_debug("%s: read: %s", s->peer, strerror(-result));
		remote_stream_rx_stop(s);
	} else {
		if (s->stats)
			s->stats->bytes_in += (uint64_t)result;
		/* On error the engine logged why; the stream is lost. */
		if (s->xform)
			s->xform->ops->rx_done(s->xform, (size_t)result);
		else if (remote_engine_rx_done(s->engine, (size_t)result) < 0)
			remote_stream_break(s);
	}
	s->pump(s->conn);
}

static void remote_stream_tx_done(struct base_io *io, int result)
{
	struct remote_stream *s = io->data;
	size_t total = 0;

	s->tx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		s->pump(s->conn);
		return;
	}
	if (result < 0) {
		if (result != -EPIPE && result != -ECONNRESET)
			log_debug("%s: write: %s", s->peer, strerror(-result));
		s->tx_broken = true;
		remote_stream_rx_stop(s);
		if (io->op == BASE_IO_STREAM_SENDFILE)
			total = io->len;
		else
			for (int i = 0; i < io->iovcnt; i++)
				total += s->tx_iov[i].iov_len;
		if (s->xform)
			s->xform->ops->tx_done(s->xform, total);
		else
			remote_engine_tx_done(s->engine, total);
	} else if (result == 0 && io->op == BASE_IO_STREAM_SENDFILE) {
		/* The file shrank under a reply that promised its bytes. */
		log_warn("%s: export shrank under a read: disconnecting",
			 s->peer);
		s->tx_broken = true;
		remote_stream_rx_stop(s);
		remote_engine_tx_done(s->engine, io->len);
	} else {
		if (s->stats)
			s->stats->bytes_out += (uint64_t)result;
		if (s->xform)
			s->xform->ops->tx_done(s->xform, (size_t)result);
		else
			remote_engine_tx_done(s->engine, (size_t)result);
	}
	s->pump(s->conn);
}

int remote_stream_read(struct remote_stream *s, void *buf, size_t len)
{
	int ret;

	ret = base_io_read(s->loop, &s->rx_io, s->rx_fd, buf, len,
			   remote_stream_rx_done, s);
	if (ret == 0)
		s->rx_busy = true;
	return ret;
}

static void remote_stream_rx_arm(struct remote_stream *s)
{
	void *buf;
	size_t len;

	if (s->xform) {
		/* Wire bytes go to the transform while the engine takes
		 * input (its pump feeds the engine). */
		if (s->engine->rx_closed)
			return;
		s->xform->ops->rx_buf(s->xform, &buf, &len);
	} else {
		remote_engine_rx_buf(s->engine, &buf, &len);
	}
	/* Asking may let the engine parse input a pause held back and kick:
	 * the pump that ran then may have armed the read already. */
	if (len == 0 || s->rx_busy)
		return;
	if (remote_stream_read(s, buf, len) < 0)
		remote_stream_rx_stop(s);
}

static void remote_stream_tx_submit(struct remote_stream *s)
{
	s->tx_io.fd = s->tx_fd;
	s->tx_io.done = remote_stream_tx_done;
	s->tx_io.data = s;
	if (base_io_submit(s->loop, &s->tx_io) < 0) {
		s->tx_broken = true;
		remote_stream_rx_stop(s);
	} else {
		s->tx_busy = true;
	}
}

/* The front of the output is file bytes: sendfile them. */
static void remote_stream_tx_file(struct remote_stream *s)
{
	size_t len;

	if (!remote_engine_tx_file(s->engine, &s->tx_io.src_fd,
				   &s->tx_io.offset, &len))
		return;
	if (s->tx_broken) {
		remote_engine_tx_done(s->engine, len);
		return;
	}
	s->tx_io.op = BASE_IO_STREAM_SENDFILE;
	s->tx_io.len = len;
	s->tx_io.flags = 0;
	remote_stream_tx_submit(s);
}

static void remote_stream_tx_arm(struct remote_stream *s)
{
	int n;
	size_t total = 0;

	if (s->xform && !s->tx_broken) {
		n = s->xform->ops->tx_iov(s->xform, s->tx_iov,
					  REMOTE_STREAM_TX_IOV);
		if (n <= 0)
			return;
		s->tx_io.op = BASE_IO_STREAM_WRITEV;
		s->tx_io.iov = s->tx_iov;
		s->tx_io.iovcnt = n;
		s->tx_io.flags = 0;
		remote_stream_tx_submit(s);
		return;
	}
	n = remote_engine_tx_iov(s->engine, s->tx_iov, REMOTE_STREAM_TX_IOV);

	if (n == 0)
		remote_stream_tx_file(s);
	if (n <= 0)
		return;
	if (s->tx_broken) {
		/* Nobody will read it: let the engine free its slots. */
		for (int i = 0; i < n; i++)
			total += s->tx_iov[i].iov_len;
		remote_engine_tx_done(s->engine, total);
		return;
	}
	s->tx_io.op = BASE_IO_STREAM_WRITEV;
	s->tx_io.iov = s->tx_iov;
	s->tx_io.iovcnt = n;
	/* All the output in one write, the next request's read pending:
	 * nothing needs to hear that it went until that request comes. */
	s->tx_io.flags = n < REMOTE_STREAM_TX_IOV && s->tx_sock && s->rx_busy &&
					 remote_engine_tx_quiet(s->engine)
				 ? BASE_IO_F_QUIET
				 : 0;
	remote_stream_tx_submit(s);
}

/* More output queued behind what was just dropped? */
static bool remote_stream_tx_pending(struct remote_stream *s)
{
	uint64_t off;
	size_t len;
	int fd;

	return remote_engine_tx_iov(s->engine, s->tx_iov, 1) != 0 ||
	       remote_engine_tx_file(s->engine, &fd, &off, &len);
}

/* The protocol asked for TLS and its plaintext output is all sent: start
 * the transform, handing it what was received past the request. */
static void remote_stream_upgrade(struct remote_stream *s)
{
	void *buf;
	size_t len;

	s->xform = remote_tls_server_new(s->peer);
	if (!s->xform) {
		remote_stream_break(s);
		return;
	}
	s->xform->ops->rx_buf(s->xform, &buf, &len);
	s->xform->ops->rx_done(s->xform,
			       remote_engine_rx_take(s->engine, buf, len));
}

/* Run the transform: handshake, decrypt into the engine, encrypt its
 * output. */
static void remote_stream_xform(struct remote_stream *s)
{
	int ret;

	if (!s->xform && !s->tx_busy && remote_engine_upgrade_due(s->engine))
		remote_stream_upgrade(s);
	if (!s->xform || s->tx_broken)
		return;
	ret = s->xform->ops->pump(s->xform, s->engine);
	if (ret == REMOTE_XFORM_EOF)
		remote_stream_rx_stop(s);
	else if (ret < 0)
		remote_stream_break(s);
}

bool remote_stream_pump(struct remote_stream *s)
{
	bool done;

	if (s->xform || s->engine->upgrade)
		remote_stream_xform(s);
	if (!s->rx_busy && !s->rx_closed)
		remote_stream_rx_arm(s);
	/* Dropping output may free engine slots and so produce more: loop
	 * until the engine has nothing left or a write is in flight. */
	while (!s->tx_busy) {
		bool was_broken = s->tx_broken;

		remote_stream_tx_arm(s);
		if (s->tx_busy || !was_broken || !remote_stream_tx_pending(s))
			break;
	}
	done = remote_engine_finished(s->engine);
	if (done && !s->rx_closed)
		remote_stream_rx_stop(s);
	return done;
}

bool remote_stream_idle(struct remote_stream *s)
{
	struct iovec iov;

	if (s->rx_busy || s->tx_busy || !remote_engine_finished(s->engine))
		return false;
	return !s->xform || s->tx_broken ||
	       s->xform->ops->tx_iov(s->xform, &iov, 1) == 0;
}

void remote_stream_post_free(struct remote_stream *s, void (*fn)(void *),
			     void *arg)
{
	s->close_posted = true;
	if (base_loop_post(s->loop, fn, arg) < 0)
		log_error("%s: cannot schedule the close", s->peer);
}
