// SPDX-License-Identifier: MIT
/*
 * iSCSI over a byte stream: moves bytes between a socket and the engine
 * (iscsi_proto.c) with one outstanding read and one outstanding write per
 * connection (remote_stream.c, as for NBD), plus a one-second timerfd that
 * drives the engine's liveness checks (NOP-In pings, dead initiators, stalled
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
 * one (REPORT LUNS).  A reload hands every connection the new iSCSI
 * configuration (conn_reconfigure); sessions it would still admit go on.
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
#include "remote/remote_registry.h"
#include "remote/remote_stream.h"
#include "scsi/scsi_alua.h"

/* A graceful close waits this long at most for the peer to acknowledge
 * everything we sent, checking every ISCSI_SERVER_LINGER_TICK_NS. */
#define ISCSI_SERVER_LINGER_MS	    2000u
#define ISCSI_SERVER_LINGER_TICK_NS 10000000L

const struct iscsi_scsi_ops iscsi_scsi_default_ops = {
	.nexus_open = scsi_nexus_open,
	.nexus_close = scsi_nexus_close,
	.cmd_submit = scsi_cmd_submit,
	.tmf = scsi_nexus_tmf_async,
};

struct iscsi_conn {
	struct remote_conn rc; /* first: what the Connection Manager holds */
	struct iscsi_proto *proto;
	int timer_fd;
	struct base_io timer_io;
	uint64_t timer_ticks;
	bool timer_busy;
	uint64_t wake_ms; /* the engine's wake time the timer is set for */
	bool rx_shut;	  /* shutdown() ended the pending read */
	bool lingering, linger_over;
	uint64_t linger_end_ms;
	uint8_t junk[4096]; /* input read and dropped after rx_closed */
	char portal[64];
};

static void iscsi_server_pump(struct remote_conn *rc);

static struct iscsi_conn *iscsi_conn_of(struct remote_conn *rc)
{
	return (struct iscsi_conn *)rc;
}

static void iscsi_server_free(void *arg)
{
	struct iscsi_conn *c = arg;

	close(c->timer_fd);
	remote_stream_release(&c->rc.s);
	free(c);
}

static uint64_t iscsi_server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void iscsi_server_timer_done(struct base_io *io, int result)
{
	struct iscsi_conn *c = io->data;

	c->timer_busy = false;
	if (result > 0 && !c->rc.s.rx_closed &&
	    iscsi_proto_tick(c->proto, iscsi_server_now_ms()) < 0)
		remote_stream_break(&c->rc.s);
	iscsi_server_pump(&c->rc);
}

static void iscsi_server_timer_arm(struct iscsi_conn *c)
{
	if (base_io_read(c->rc.s.loop, &c->timer_io, c->timer_fd,
			 &c->timer_ticks, sizeof(c->timer_ticks),
			 iscsi_server_timer_done, c) == 0)
		c->timer_busy = true;
}

/* Make a pending timer read complete now (teardown). */
static void iscsi_server_timer_fire(struct iscsi_conn *c)
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
static bool iscsi_server_linger(struct iscsi_conn *c)
{
	struct itimerspec its = {
		{ 0, ISCSI_SERVER_LINGER_TICK_NS },
		{ 0, ISCSI_SERVER_LINGER_TICK_NS },
	};
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int unsent = 0;

	if (c->rc.s.tx_broken || c->linger_over)
		return false;
	if (!c->lingering) {
		c->lingering = true;
		c->linger_end_ms =
			iscsi_server_now_ms() + ISCSI_SERVER_LINGER_MS;
		shutdown(c->rc.s.tx_fd, SHUT_WR);
		timerfd_settime(c->timer_fd, 0, &its, NULL);
		log_debug("%s: sent FIN, waiting for the peer", c->rc.s.peer);
	}
	/* Over once the peer has acknowledged all our bytes and the FIN
	 * (a reset then loses nothing), or the connection was reset
	 * (TCP_CLOSE), or the time is up.  Not waiting for the peer's own
	 * close: libiscsi keeps the old socket open while it logs in
	 * again. */
	if (ioctl(c->rc.s.tx_fd, SIOCOUTQ, &unsent) == 0 && unsent > 0 &&
	    getsockopt(c->rc.s.tx_fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	    ti.tcpi_state != TCP_CLOSE &&
	    iscsi_server_now_ms() < c->linger_end_ms)
		return true;
	c->linger_over = true;
	log_debug("%s: linger over: %d unsent, peer %s", c->rc.s.peer, unsent,
		  c->rc.s.rx_eof ? "closed" : "open");
	return false;
}

/* After rx_closed, until the end: read and drop, so the receive queue
 * stays empty and the peer's close is seen. */
static void iscsi_server_rx_discard(struct iscsi_conn *c)
{
	if (remote_stream_read(&c->rc.s, c->junk, sizeof(c->junk)) < 0)
		c->rc.s.rx_eof = true;
}

/* The engine holds a login until a given time (failed CHAP logins from
 * its address): fire the timer then, then tick every second again. */
static void iscsi_server_wake(struct iscsi_conn *c)
{
	uint64_t ms = iscsi_proto_wake_ms(c->proto);
	struct itimerspec its = { .it_interval = { 1, 0 } };

	if (!ms || ms == c->wake_ms || c->lingering)
		return;
	c->wake_ms = ms;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	timerfd_settime(c->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void iscsi_server_pump(struct remote_conn *rc)
{
	struct iscsi_conn *c = iscsi_conn_of(rc);
	struct remote_stream *s = &rc->s;
	bool done = remote_stream_pump(s);

	iscsi_server_wake(c);

	if (s->rx_closed && !s->rx_busy && !s->rx_eof && !c->rx_shut &&
	    !s->tx_broken && !c->linger_over)
		iscsi_server_rx_discard(c);
	if (done && !s->tx_busy && !s->close_posted && iscsi_server_linger(c)) {
		if (!c->timer_busy)
			iscsi_server_timer_arm(c);
		return;
	}
	/* Everything sent: end the pending read. */
	if (done && s->rx_busy && !c->rx_shut) {
		c->rx_shut = true;
		shutdown(s->rx_fd, SHUT_RDWR);
	}
	if (!done && !c->timer_busy && !s->close_posted)
		iscsi_server_timer_arm(c);
	if (done && c->timer_busy)
		iscsi_server_timer_fire(c);
	if (s->close_posted || s->rx_busy || s->tx_busy || c->timer_busy ||
	    !done)
		return;
	remote_stream_post_free(s, iscsi_server_free, c);
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

static int iscsi_server_start(const struct remote_conn_args *args, bool refused,
			      struct remote_conn **connp)
{
	struct iscsi_proto_config cfg = {
		.iscsi = args->transport_ctx,
		.scsi = &iscsi_scsi_default_ops,
		.exports = args->exports,
		.limits = args->limits,
		.loop = args->loop,
		.stats = args->stats,
		.conn_id = args->id,
		.control = args->control,
		.tx_ready = iscsi_server_tx_ready,
		.start_ms = iscsi_server_now_ms(),
		.refused = refused,
	};
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	struct iscsi_conn *c;
	int ret;

	/* No rx_stop_shuts (SHUT_RD): data arriving after it would make the
	 * kernel reset the connection once we send FIN (iscsi_server_linger).
	 * A pending read completes when the peer sends or closes, and its
	 * bytes are dropped; the engine keeps its buffer until destroyed. */
	c = (struct iscsi_conn *)remote_conn_new(sizeof(*c), iscsi_server_pump,
						 args);
	if (!c)
		return -ENOMEM;
	iscsi_server_portal(c->rc.s.rx_fd, c->portal, sizeof(c->portal));
	cfg.peer = c->rc.s.peer;
	if (args->peer_addr)
		cfg.peer_addr = *args->peer_addr;
	cfg.portal = c->portal[0] ? c->portal : NULL;
	/* The portal's ALUA target port group decides the target port:
	 * its relative port is the target portal group tag. */
	cfg.tpg = scsi_alua_portal_port(cfg.portal);
	cfg.opaque = &c->rc;
	c->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL)) {
		ret = -errno;
		log_error("%s: timerfd: %s", c->rc.s.peer, strerror(errno));
		goto err_discard;
	}
	ret = iscsi_proto_create(&cfg, &c->proto);
	if (ret < 0)
		goto err_close_timer;
	remote_conn_start(&c->rc, iscsi_proto_engine(c->proto));
	*connp = &c->rc;
	return 0;

err_close_timer:
	close(c->timer_fd);
err_discard:
	remote_conn_discard(&c->rc);
	return ret;
}

static int iscsi_server_conn_start(const struct remote_conn_args *args,
				   struct remote_conn **connp)
{
	return iscsi_server_start(args, false, connp);
}

/* Over a connection cap: the first Login is answered "out of
 * resources", within the login deadline like any login. */
static int iscsi_server_conn_refuse(const struct remote_conn_args *args,
				    struct remote_conn **connp)
{
	return iscsi_server_start(args, true, connp);
}

static void iscsi_server_conn_shutdown(struct remote_conn *rc)
{
	struct iscsi_conn *c = iscsi_conn_of(rc);

	log_debug("%s: asked to end: %u commands in flight", c->rc.s.peer,
		  remote_engine_inflight(c->rc.s.engine));
	remote_stream_rx_stop(&c->rc.s);
	iscsi_server_pump(&c->rc);
}

static void iscsi_server_conn_abort(struct remote_conn *rc)
{
	struct iscsi_conn *c = iscsi_conn_of(rc);

	log_warn("%s: closing: the drain timed out", c->rc.s.peer);
	remote_stream_break(&c->rc.s);
	iscsi_server_pump(&c->rc);
}

static bool iscsi_server_conn_uses(struct remote_conn *rc,
				   const struct conn_export *exp)
{
	return iscsi_proto_uses(iscsi_conn_of(rc)->proto, exp);
}

static bool iscsi_server_conn_reconfigure(struct remote_conn *rc, void *ctx)
{
	return iscsi_proto_reconfigure(iscsi_conn_of(rc)->proto, ctx);
}

const struct remote_transport_ops iscsi_transport_ops = {
	.name = "iscsi",
	.conn_start = iscsi_server_conn_start,
	.conn_shutdown = iscsi_server_conn_shutdown,
	.conn_abort = iscsi_server_conn_abort,
	.conn_uses = iscsi_server_conn_uses,
	.conn_reconfigure = iscsi_server_conn_reconfigure,
	.conn_refuse = iscsi_server_conn_refuse,
};
