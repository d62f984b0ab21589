// SPDX-License-Identifier: MIT
/*
 * NBD over a byte stream: moves bytes between a socket (or stdin/stdout)
 * and the protocol engine (nbd_proto.c) with one outstanding read and one
 * outstanding write per connection on the worker's loop.  The engine does
 * the protocol, remote_stream.c the I/O; this file binds them and keeps
 * the teardown order, zero-copy sends and TCP_NODELAY.
 *
 * Teardown: a connection is freed only from a posted callback, never from
 * inside the engine's tx_ready hook or an I/O completion that the engine
 * might still be running under, and only once no read, write or storage
 * request is outstanding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/remote.h"
#include "remote/nbd/nbd_proto.h"
#include "remote/remote_registry.h"
#include "remote/remote_stream.h"

static uint64_t nbd_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nbd_server_free(void *arg)
{
	struct remote_conn *c = arg;

	remote_stream_release(&c->s);
	free(c);
}

/* Start whatever I/O can start; schedule the free when all is done.  Never
 * frees directly, so it is safe from the engine's tx_ready hook. */
static void nbd_server_pump(struct remote_conn *c)
{
	remote_stream_pump(&c->s);
	if (c->s.close_posted || !remote_stream_idle(&c->s))
		return;
	remote_stream_post_free(&c->s, nbd_server_free, c);
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
		.start_ms = nbd_server_now_ms(),
	};
	struct nbd_proto *proto;
	struct remote_conn *c;
	int ret;

	c = remote_conn_new(sizeof(*c), nbd_server_pump, args);
	if (!c)
		return -ENOMEM;
	/* A read pending when reading stops ends at once. */
	c->s.rx_stop_shuts = true;
	cfg.peer = c->s.peer;
	if (args->peer_addr)
		cfg.peer_addr = *args->peer_addr;
	cfg.opaque = c;
	cfg.zero_copy = nbd_server_can_sendfile(c->s.tx_fd);
	ret = nbd_proto_create(&cfg, &proto);
	if (ret < 0) {
		remote_conn_discard(c);
		return ret;
	}
	remote_conn_start(c, nbd_proto_engine(proto));
	*connp = c;
	return 0;
}

static void nbd_server_conn_shutdown(struct remote_conn *c)
{
	remote_stream_rx_stop(&c->s);
	nbd_server_pump(c);
}

static void nbd_server_conn_abort(struct remote_conn *c)
{
	log_warn("%s: closing: the drain timed out", c->s.peer);
	c->s.tx_broken = true;
	remote_stream_rx_stop(&c->s);
	/* Wakes a write stuck on a full socket buffer with EPIPE. */
	shutdown(c->s.tx_fd, SHUT_RDWR);
	nbd_server_pump(c);
}

/* The Connection Manager's sweep: a deadline passed ends the stream
 * (NBD has no message for it; the client sees the connection close). */
static void nbd_server_conn_tick(struct remote_conn *c, uint64_t now_ms)
{
	if (c->s.close_posted || c->s.rx_closed)
		return;
	if (nbd_proto_tick(nbd_proto_of_engine(c->s.engine), now_ms) < 0) {
		remote_stream_break(&c->s);
		nbd_server_pump(c);
	}
}

const struct remote_transport_ops nbd_transport_ops = {
	.name = "nbd",
	.conn_start = nbd_server_conn_start,
	.conn_shutdown = nbd_server_conn_shutdown,
	.conn_abort = nbd_server_conn_abort,
	.conn_tick = nbd_server_conn_tick,
};
