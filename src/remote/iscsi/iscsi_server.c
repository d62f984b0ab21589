// SPDX-License-Identifier: MIT
/*
 * iSCSI over a byte stream: moves bytes between a socket and the engine
 * (iscsi_proto.c) with one outstanding read and one outstanding write per
 * connection, like nbd_server.c, plus a one-second timerfd that drives
 * the engine's liveness checks (NOP-In pings, dead initiators, stalled
 * logins).  It also binds the engine to the real SCSI command set.
 *
 * Teardown: freed only from a posted callback once no read, write, timer
 * read or SCSI command is outstanding; the timer is made to fire at once
 * so its pending read completes.  A graceful end lingers first (see
 * iscsi_server_linger) so the peer gets every response.
 *
 * Management: the connection list shows the session's lowest-numbered
 * LUN's export (conn_stats.export); conn_uses answers for every LUN, so
 * removing any export of a session's LUNs ends that session the way
 * conn_shutdown does: stop reading, let the commands already with the
 * SCSI command set finish and send their responses, then close.  An
 * initiator sees its connection drop (ERL 0 session recovery) and logs in
 * again: a per-export target is gone (Login status "not found"); a
 * configured target with other LUNs serves those, without the removed
 * one (REPORT LUNS).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/iscsi.h"
#include "remote/iscsi/iscsi_proto.h"

#define ISCSI_SERVER_TX_IOV 64
/* A graceful close waits this long at most for the peer to acknowledge
 * everything we sent, checking every ISCSI_SERVER_LINGER_TICK_NS. */
#define ISCSI_SERVER_LINGER_MS	    2000u
#define ISCSI_SERVER_LINGER_TICK_NS 10000000L

const struct iscsi_scsi_ops iscsi_scsi_default_ops = {
	.nexus_open = scsi_nexus_open,
	.nexus_close = scsi_nexus_close,
	.cmd_submit = scsi_cmd_submit,
	.tmf = scsi_nexus_tmf,
};

struct remote_conn {
	struct iscsi_proto *proto;
	struct base_loop *loop;
	int rx_fd, tx_fd, timer_fd;
	struct base_io rx_io, tx_io, timer_io;
	uint64_t timer_ticks;
	struct iovec tx_iov[ISCSI_SERVER_TX_IOV];
	bool rx_busy, tx_busy, timer_busy;
	bool rx_closed; /* the engine takes no more input */
	bool rx_eof;	/* a read returned 0 or an error */
	bool rx_shut;	/* shutdown() ended the pending read */
	bool tx_broken;
	bool close_posted;
	bool lingering, linger_over;
	uint64_t linger_end_ms;
	uint8_t junk[4096];	  /* input read and dropped after rx_closed */
	struct conn_stats *stats; /* the Connection Manager's; may be NULL */
	void (*closed)(void *opaque, struct remote_conn *conn);
	void *opaque;
	char peer[64];
	char portal[64];
};

static void iscsi_server_pump(struct remote_conn *c);

static void iscsi_server_free(void *arg)
{
	struct remote_conn *c = arg;

	log_debug("%s: disconnected", c->peer);
	iscsi_proto_destroy(c->proto);
	close(c->timer_fd);
	close(c->rx_fd);
	if (c->tx_fd != c->rx_fd)
		close(c->tx_fd);
	c->closed(c->opaque, c);
	free(c);
}

static void iscsi_server_rx_stop(struct remote_conn *c)
{
	if (c->rx_closed)
		return;
	c->rx_closed = true;
	/* No SHUT_RD: data arriving after it would make the kernel reset
	 * the connection once we send FIN (iscsi_server_linger).  A pending
	 * read completes when the peer sends or closes, and its bytes are
	 * dropped; the engine keeps its buffer until destroyed. */
	iscsi_proto_rx_eof(c->proto);
}

/* The stream is lost: stop both ways, drop output. */
static void iscsi_server_break(struct remote_conn *c)
{
	iscsi_server_rx_stop(c);
	c->tx_broken = true;
	shutdown(c->tx_fd, SHUT_RDWR);
}

static void iscsi_server_rx_done(struct base_io *io, int result)
{
	struct remote_conn *c = io->data;

	c->rx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		iscsi_server_pump(c);
		return;
	}
	if (result <= 0)
		c->rx_eof = true;
	if (c->rx_closed) {
		/* shut down while the read was pending */
	} else if (result <= 0) {
		if (result < 0 && result != -ECONNRESET)
			log_debug("%s: read: %s", c->peer, strerror(-result));
		iscsi_server_rx_stop(c);
	} else {
		if (c->stats)
			c->stats->bytes_in += (uint64_t)result;
		if (iscsi_proto_rx_done(c->proto, (size_t)result) < 0)
			iscsi_server_break(c);
	}
	iscsi_server_pump(c);
}

static void iscsi_server_tx_done(struct base_io *io, int result)
{
	struct remote_conn *c = io->data;
	size_t total = 0;

	c->tx_busy = false;
	if (result == -EINTR || result == -EAGAIN) {
		iscsi_server_pump(c);
		return;
	}
	if (result < 0) {
		if (result != -EPIPE && result != -ECONNRESET)
			log_debug("%s: write: %s", c->peer, strerror(-result));
		c->tx_broken = true;
		iscsi_server_rx_stop(c);
		for (int i = 0; i < io->iovcnt; i++)
			total += c->tx_iov[i].iov_len;
		iscsi_proto_tx_done(c->proto, total);
	} else {
		if (c->stats)
			c->stats->bytes_out += (uint64_t)result;
		iscsi_proto_tx_done(c->proto, (size_t)result);
	}
	iscsi_server_pump(c);
}

static uint64_t iscsi_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void iscsi_server_timer_done(struct base_io *io, int result)
{
	struct remote_conn *c = io->data;

	c->timer_busy = false;
	if (result > 0 && !c->rx_closed &&
	    iscsi_proto_tick(c->proto, iscsi_server_now_ms()) < 0)
		iscsi_server_break(c);
	iscsi_server_pump(c);
}

static void iscsi_server_timer_arm(struct remote_conn *c)
{
	c->timer_io.op = BASE_IO_STREAM_READ;
	c->timer_io.fd = c->timer_fd;
	c->timer_io.buf = &c->timer_ticks;
	c->timer_io.buf_len = sizeof(c->timer_ticks);
	c->timer_io.done = iscsi_server_timer_done;
	c->timer_io.data = c;
	if (base_io_submit(c->loop, &c->timer_io) == 0)
		c->timer_busy = true;
}

/* Make a pending timer read complete now (teardown). */
static void iscsi_server_timer_fire(struct remote_conn *c)
{
	struct itimerspec its = { .it_value = { 0, 1 } };

	timerfd_settime(c->timer_fd, 0, &its, NULL);
}

/*
 * A graceful end (export removed, daemon draining, logout, refused login):
 * the engine has handed its last byte to the kernel, but the kernel may
 * not have sent it yet, and closing a socket whose receive queue holds
 * unread bytes (commands the initiator sent after we stopped reading)
 * sends a reset that throws away what is still unsent: responses to
 * commands that did complete.  So: send FIN after the data, keep reading
 * and dropping input (iscsi_server_rx_discard) until the peer has
 * acknowledged all of it (SIOCOUTQ 0), or ISCSI_SERVER_LINGER_MS passed,
 * then close.  Returns true while still
 * waiting.
 */
static bool iscsi_server_linger(struct remote_conn *c)
{
	struct itimerspec its = {
		{ 0, ISCSI_SERVER_LINGER_TICK_NS },
		{ 0, ISCSI_SERVER_LINGER_TICK_NS },
	};
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int unsent = 0;

	if (c->tx_broken || c->linger_over)
		return false;
	if (!c->lingering) {
		c->lingering = true;
		c->linger_end_ms =
			iscsi_server_now_ms() + ISCSI_SERVER_LINGER_MS;
		shutdown(c->tx_fd, SHUT_WR);
		timerfd_settime(c->timer_fd, 0, &its, NULL);
		log_debug("%s: sent FIN, waiting for the peer", c->peer);
	}
	/* Over once the peer has acknowledged all our bytes and the FIN
	 * (a reset then loses nothing), or the connection was reset
	 * (TCP_CLOSE), or the time is up.  Not waiting for the peer's own
	 * close: libiscsi keeps the old socket open while it logs in
	 * again. */
	if (ioctl(c->tx_fd, SIOCOUTQ, &unsent) == 0 && unsent > 0 &&
	    getsockopt(c->tx_fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	    ti.tcpi_state != TCP_CLOSE &&
	    iscsi_server_now_ms() < c->linger_end_ms)
		return true;
	c->linger_over = true;
	log_debug("%s: linger over: %d unsent, peer %s", c->peer, unsent,
		  c->rx_eof ? "closed" : "open");
	return false;
}

/* After rx_closed, until the end: read and drop, so the receive queue
 * stays empty and the peer's close is seen. */
static void iscsi_server_rx_discard(struct remote_conn *c)
{
	c->rx_io.op = BASE_IO_STREAM_READ;
	c->rx_io.fd = c->rx_fd;
	c->rx_io.buf = c->junk;
	c->rx_io.buf_len = sizeof(c->junk);
	c->rx_io.done = iscsi_server_rx_done;
	c->rx_io.data = c;
	if (base_io_submit(c->loop, &c->rx_io) < 0)
		c->rx_eof = true;
	else
		c->rx_busy = true;
}

static void iscsi_server_rx_arm(struct remote_conn *c)
{
	void *buf;
	size_t len;

	iscsi_proto_rx_buf(c->proto, &buf, &len);
	if (len == 0)
		return;
	c->rx_io.op = BASE_IO_STREAM_READ;
	c->rx_io.fd = c->rx_fd;
	c->rx_io.buf = buf;
	c->rx_io.buf_len = len;
	c->rx_io.done = iscsi_server_rx_done;
	c->rx_io.data = c;
	if (base_io_submit(c->loop, &c->rx_io) < 0)
		iscsi_server_rx_stop(c);
	else
		c->rx_busy = true;
}

static void iscsi_server_tx_arm(struct remote_conn *c)
{
	int n = iscsi_proto_tx_iov(c->proto, c->tx_iov, ISCSI_SERVER_TX_IOV);
	size_t total = 0;

	if (n <= 0)
		return;
	if (c->tx_broken) {
		for (int i = 0; i < n; i++)
			total += c->tx_iov[i].iov_len;
		iscsi_proto_tx_done(c->proto, total);
		return;
	}
	c->tx_io.op = BASE_IO_STREAM_WRITEV;
	c->tx_io.fd = c->tx_fd;
	c->tx_io.iov = c->tx_iov;
	c->tx_io.iovcnt = n;
	c->tx_io.done = iscsi_server_tx_done;
	c->tx_io.data = c;
	if (base_io_submit(c->loop, &c->tx_io) < 0) {
		c->tx_broken = true;
		iscsi_server_rx_stop(c);
	} else {
		c->tx_busy = true;
	}
}

static void iscsi_server_pump(struct remote_conn *c)
{
	bool done;

	if (!c->rx_busy && !c->rx_closed)
		iscsi_server_rx_arm(c);
	while (!c->tx_busy) {
		bool was_broken = c->tx_broken;

		iscsi_server_tx_arm(c);
		if (c->tx_busy || !was_broken ||
		    iscsi_proto_tx_iov(c->proto, c->tx_iov, 1) == 0)
			break;
	}
	done = iscsi_proto_finished(c->proto);
	if (done && !c->rx_closed)
		iscsi_server_rx_stop(c);
	if (c->rx_closed && !c->rx_busy && !c->rx_eof && !c->rx_shut &&
	    !c->tx_broken && !c->linger_over)
		iscsi_server_rx_discard(c);
	if (done && !c->tx_busy && !c->close_posted && iscsi_server_linger(c)) {
		if (!c->timer_busy)
			iscsi_server_timer_arm(c);
		return;
	}
	/* Everything sent: end the pending read. */
	if (done && c->rx_busy && !c->rx_shut) {
		c->rx_shut = true;
		shutdown(c->rx_fd, SHUT_RDWR);
	}
	if (!done && !c->timer_busy && !c->close_posted)
		iscsi_server_timer_arm(c);
	if (done && c->timer_busy)
		iscsi_server_timer_fire(c);
	if (c->close_posted || c->rx_busy || c->tx_busy || c->timer_busy ||
	    !done)
		return;
	c->close_posted = true;
	if (base_loop_post(c->loop, iscsi_server_free, c) < 0)
		log_error("%s: cannot schedule the close", c->peer);
}

static void iscsi_server_tx_ready(void *opaque)
{
	iscsi_server_pump(opaque);
}

/* "a.b.c.d:port" or "[v6]:port" of the local end, for SendTargets. */
static void iscsi_server_portal(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
}

static int iscsi_server_conn_start(const struct remote_conn_args *args,
				   struct remote_conn **connp)
{
	struct iscsi_proto_config cfg = {
		.iscsi = args->transport_ctx,
		.scsi = &iscsi_scsi_default_ops,
		.exports = args->exports,
		.limits = args->limits,
		.loop = args->loop,
		.stats = args->stats,
		.tx_ready = iscsi_server_tx_ready,
	};
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
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
	c->stats = args->stats;
	c->closed = args->closed;
	c->opaque = args->opaque;
	strncpy(c->peer, args->peer, sizeof(c->peer) - 1);
	iscsi_server_portal(c->rx_fd, c->portal, sizeof(c->portal));
	cfg.peer = c->peer;
	cfg.portal = c->portal[0] ? c->portal : NULL;
	cfg.opaque = c;
	c->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL)) {
		ret = -errno;
		log_error("%s: timerfd: %s", c->peer, strerror(errno));
		goto err_free_conn;
	}
	setsockopt(c->tx_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = iscsi_proto_create(&cfg, &c->proto);
	if (ret < 0)
		goto err_close_timer;
	iscsi_server_pump(c);
	*connp = c;
	return 0;

err_close_timer:
	close(c->timer_fd);
err_free_conn:
	free(c);
err_close_fds:
	close(args->rx_fd);
	if (args->tx_fd != args->rx_fd)
		close(args->tx_fd);
	return ret;
}

static void iscsi_server_conn_shutdown(struct remote_conn *c)
{
	log_debug("%s: asked to end: %u commands in flight", c->peer,
		  iscsi_proto_inflight(c->proto));
	iscsi_server_rx_stop(c);
	iscsi_server_pump(c);
}

static void iscsi_server_conn_abort(struct remote_conn *c)
{
	log_warn("%s: closing: the drain timed out", c->peer);
	iscsi_server_break(c);
	iscsi_server_pump(c);
}

static bool iscsi_server_conn_uses(struct remote_conn *c,
				   const struct conn_export *exp)
{
	return iscsi_proto_uses(c->proto, exp);
}

const struct remote_transport_ops iscsi_transport_ops = {
	.name = "iscsi",
	.conn_start = iscsi_server_conn_start,
	.conn_shutdown = iscsi_server_conn_shutdown,
	.conn_abort = iscsi_server_conn_abort,
	.conn_uses = iscsi_server_conn_uses,
};
