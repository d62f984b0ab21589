// SPDX-License-Identifier: MIT
/*
 * Connection services: worker threads (the IOP's I/O processors, one loop
 * each), accepting and admitting clients, attaching each connection to a
 * worker for its whole life, and the ordered shutdown: stop admitting,
 * drain every connection, stop the workers.
 *
 * Locking: the start-up handshake with the workers, and cm->lock around
 * the export table and the management thread's calls into the workers
 * (connmgr_export.c).  A connection is handed to its worker with
 * base_loop_post and from then on lives on that thread alone; the
 * management thread sees it only through callbacks posted to that worker.
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/base_addr.h"
#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"
#include "iopd/remote_stats.h"

struct connmgr_handoff {
	struct connmgr_worker *worker;
	const struct remote_transport_ops *transport;
	/* Its transport_ctx is read when the connection starts, under
	 * cm->lock: a reload may replace it meanwhile
	 * (connmgr_transport_ctx_replace). */
	const struct connmgr_listener *listener;
	int rx_fd, tx_fd;
	uint64_t id;
	char peer[INET6_ADDRSTRLEN + 16];
	struct sockaddr_storage peer_addr; /* AF_UNSPEC: unknown */
	bool refusing; /* over a cap: conn_refuse, not conn_start */
};

static void connmgr_workers_stop(struct connmgr *cm);
static void connmgr_worker_drained(struct connmgr_worker *w);
static void connmgr_drain_timer_arm(struct connmgr *cm);

int connmgr_create(const struct connmgr_config *cfg, struct local *local,
		   struct connmgr **cmp)
{
	struct connmgr *cm = calloc(1, sizeof(*cm));
	int ret;

	if (!cm)
		return -ENOMEM;
	cm->cfg = *cfg;
	if (!cm->cfg.limits.max_request_bytes)
		cm->cfg.limits.max_request_bytes =
			CONN_DEFAULT_MAX_REQUEST_BYTES;
	if (!cm->cfg.limits.max_inflight)
		cm->cfg.limits.max_inflight = CONN_DEFAULT_MAX_INFLIGHT;
	if (!cm->cfg.limits.buffer_budget_bytes)
		cm->cfg.limits.buffer_budget_bytes =
			CONN_DEFAULT_BUFFER_BUDGET_BYTES;
	remote_mem_budget_set(cm->cfg.buffer_budget_bytes);
	if (!cm->cfg.drain_timeout_ms)
		cm->cfg.drain_timeout_ms = CONNMGR_DEFAULT_DRAIN_TIMEOUT_MS;
	cm->drain_timer_fd = -1;
	pthread_mutex_init(&cm->start_lock, NULL);
	pthread_cond_init(&cm->start_cond, NULL);
	pthread_mutex_init(&cm->lock, NULL);
	pthread_cond_init(&cm->cond, NULL);
	pthread_mutex_init(&cm->limit_lock, NULL);
	connmgr_control_init(cm);
	ret = connmgr_exports_build(cm, local);
	if (ret < 0) {
		connmgr_destroy(cm);
		return ret;
	}
	*cmp = cm;
	return 0;
}

void connmgr_destroy(struct connmgr *cm)
{
	if (!cm)
		return;
	connmgr_workers_stop(cm);
	for (unsigned int i = 0; i < cm->n_listeners; i++) {
		if (cm->listeners[i].fd >= 0)
			close(cm->listeners[i].fd);
		if (cm->listeners[i].acl)
			base_acl_fini(cm->listeners[i].acl);
		free(cm->listeners[i].acl);
	}
	connmgr_exports_free(cm);
	connmgr_limit_fini(cm);
	free(cm->workers);
	pthread_mutex_destroy(&cm->start_lock);
	pthread_cond_destroy(&cm->start_cond);
	pthread_mutex_destroy(&cm->lock);
	pthread_cond_destroy(&cm->cond);
	pthread_mutex_destroy(&cm->limit_lock);
	free(cm);
}

/* The registered transport called name, or NULL after logging why. */
static const struct remote_transport_ops *
connmgr_transport_find(const char *name)
{
	const struct remote_transport_ops *t = remote_transport_find(name);
	char built[128];

	if (!t)
		log_error("no %s transport in this iopd (built with: %s)",
			  name ? name : "(null)",
			  remote_transport_names(built, sizeof(built)));
	return t;
}

int connmgr_listener_add(struct connmgr *cm, int fd, const char *transport,
			 void *transport_ctx)
{
	const struct remote_transport_ops *t =
		connmgr_transport_find(transport);

	if (!t)
		return -EPROTONOSUPPORT;
	return connmgr_listener_add_ops(cm, fd, t, transport_ctx);
}

int connmgr_listener_add_ops(struct connmgr *cm, int fd,
			     const struct remote_transport_ops *transport,
			     void *transport_ctx)
{
	if (cm->n_listeners == CONNMGR_MAX_LISTENERS) {
		log_error("too many listening sockets (at most %d)",
			  CONNMGR_MAX_LISTENERS);
		return -E2BIG;
	}
	cm->listeners[cm->n_listeners].cm = cm;
	cm->listeners[cm->n_listeners].transport = transport;
	cm->listeners[cm->n_listeners].transport_ctx = transport_ctx;
	cm->listeners[cm->n_listeners++].fd = fd;
	return 0;
}

int connmgr_listener_set_access(struct connmgr *cm, int fd,
				const struct base_acl *acl)
{
	struct connmgr_listener *l = NULL;
	struct base_acl *copy;

	for (unsigned int i = 0; i < cm->n_listeners; i++)
		if (cm->listeners[i].fd == fd)
			l = &cm->listeners[i];
	if (!l)
		return -ENOENT;
	copy = calloc(1, sizeof(*copy));
	if (!copy || base_acl_copy(copy, acl) < 0) {
		free(copy);
		return -ENOMEM;
	}
	if (l->acl)
		base_acl_fini(l->acl);
	free(l->acl);
	l->acl = copy;
	return 0;
}

/* Worker side --------------------------------------------------------- */

static void connmgr_maybe_finish(struct connmgr *cm)
{
	if (cm->stopping && cm->listeners_open == 0 && cm->workers_running == 0)
		base_loop_stop(cm->main_loop);
}

/* Main thread: a worker reports that its last connection closed. */
static void connmgr_worker_stopped(void *arg)
{
	struct connmgr_worker *w = arg;

	w->stopped = true;
	w->cm->workers_running--;
	connmgr_maybe_finish(w->cm);
}

static void connmgr_worker_drained(struct connmgr_worker *w)
{
	base_loop_stop(w->loop);
	/* No main loop when start-up failed before connmgr_run. */
	if (w->cm->main_loop)
		base_loop_post(w->cm->main_loop, connmgr_worker_stopped, w);
}

/* Give freed heap back to the kernel.  Not under AddressSanitizer: its
 * allocator owns the heap there, and glibc's malloc_trim, walking arenas
 * ASan does not use, crashed intermittently in the ASan test runs. */
static void connmgr_trim(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	malloc_trim(0);
#endif
}

static void connmgr_conn_closed(void *opaque, struct remote_conn *rc)
{
	struct connmgr_conn *conn = opaque;
	struct connmgr_worker *w = conn->worker;

	conn->prev->next = conn->next;
	conn->next->prev = conn->prev;
	w->n_conns--;
	if (!conn->refusing)
		remote_stats_conn_close(conn->transport->name);
	connmgr_limit_release(w->cm, &conn->peer_addr, conn->refusing);
	connmgr_export_conn_closed(w->cm, conn);
	free(conn);
	/* glibc keeps what a closed connection freed in the worker's arena
	 * for ever (measured: 30 MiB after 10,000 connections, 28 KiB of it
	 * in use); give it back when the worker goes idle, and now and then
	 * under a steady churn. */
	if (++w->closes_since_trim >= CONNMGR_TRIM_EVERY_CLOSES ||
	    w->n_conns == 0) {
		connmgr_trim();
		w->closes_since_trim = 0;
	}
	if (w->draining && w->n_conns == 0)
		connmgr_worker_drained(w);
}

static void connmgr_conn_attach(void *arg)
{
	struct connmgr_handoff *h = arg;
	struct connmgr_worker *w = h->worker;
	struct connmgr *cm = w->cm;
	struct remote_conn_args args = {
		.rx_fd = h->rx_fd,
		.tx_fd = h->tx_fd,
		.loop = w->loop,
		.exports = &cm->view,
		.limits = cm->cfg.limits,
		.peer = h->peer,
		.peer_addr = h->peer_addr.ss_family == AF_INET ||
					     h->peer_addr.ss_family == AF_INET6
				     ? &h->peer_addr
				     : NULL,
		.closed = connmgr_conn_closed,
	};
	struct connmgr_conn *conn;
	int ret;

	pthread_mutex_lock(&cm->lock);
	args.transport_ctx = h->listener->transport_ctx;
	pthread_mutex_unlock(&cm->lock);
	conn = calloc(1, sizeof(*conn));
	if (!conn || w->draining) {
		close(h->rx_fd);
		if (h->tx_fd != h->rx_fd)
			close(h->tx_fd);
		connmgr_limit_release(cm, &h->peer_addr, h->refusing);
		free(conn);
		free(h);
		return;
	}
	conn->worker = w;
	conn->transport = h->transport;
	conn->transport_ctx = args.transport_ctx;
	conn->id = h->id;
	conn->since = time(NULL);
	snprintf(conn->peer, sizeof(conn->peer), "%s", h->peer);
	conn->peer_addr = h->peer_addr;
	conn->refusing = h->refusing;
	args.opaque = conn;
	args.stats = &conn->stats;
	args.id = conn->id;
	args.control = &cm->control;
	/* Link first: conn_start may not call closed(), but a later close
	 * must find the entry in the list. */
	conn->next = w->conns.next;
	conn->prev = &w->conns;
	w->conns.next->prev = conn;
	w->conns.next = conn;
	w->n_conns++;
	if (h->refusing)
		ret = conn->transport->conn_refuse(&args, &conn->rc);
	else
		ret = conn->transport->conn_start(&args, &conn->rc);
	if (ret == 0 && !h->refusing)
		remote_stats_conn_open(conn->transport->name);
	if (ret == 0 && conn->transport->conn_tick)
		connmgr_sweep_start(w);
	if (ret < 0) {
		log_warn("%s: cannot start connection: %s", h->peer,
			 strerror(-ret));
		conn->prev->next = conn->next;
		conn->next->prev = conn->prev;
		w->n_conns--;
		connmgr_limit_release(cm, &h->peer_addr, h->refusing);
		free(conn);
	}
	free(h);
}

static void connmgr_worker_drain(void *arg)
{
	struct connmgr_worker *w = arg;
	struct connmgr_conn *conn, *next;

	if (w->draining)
		return;
	w->draining = true;
	if (w->n_conns == 0) {
		connmgr_worker_drained(w);
		return;
	}
	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		conn->transport->conn_shutdown(conn->rc);
	}
}

static void connmgr_worker_abort(void *arg)
{
	struct connmgr_worker *w = arg;
	struct connmgr_conn *conn, *next;

	for (conn = w->conns.next; conn != &w->conns; conn = next) {
		next = conn->next;
		conn->transport->conn_abort(conn->rc);
	}
}

static void *connmgr_worker_main(void *arg)
{
	struct connmgr_worker *w = arg;
	struct connmgr *cm = w->cm;
	char name[16];

	snprintf(name, sizeof(name), "iopd-w%u", w->index);
	pthread_setname_np(pthread_self(), name);
	/* The loop is created on the thread that runs it: io_uring rings
	 * set up for a single issuer belong to their creating task. */
	w->start_result = base_loop_create(&w->loop, cm->cfg.engine, 0);
	if (w->start_result == 0) {
		base_loop_set_busy_poll(w->loop, cm->cfg.busy_poll_us);
		connmgr_sweep_init(w);
	}
	pthread_mutex_lock(&cm->start_lock);
	cm->n_started++;
	pthread_cond_signal(&cm->start_cond);
	pthread_mutex_unlock(&cm->start_lock);
	/* The loop is destroyed by whoever joins this thread, so posts that
	 * race with the end of the loop land in a live queue. */
	if (w->start_result == 0)
		base_loop_run(w->loop);
	return NULL;
}

int connmgr_workers_start(struct connmgr *cm)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cm->cfg.n_workers;
	int ret = 0;

	if (n == 0)
		n = ncpu > 0 ? (unsigned int)ncpu : 1;
	cm->workers = calloc(n, sizeof(*cm->workers));
	if (!cm->workers)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct connmgr_worker *w = &cm->workers[i];

		w->cm = cm;
		w->index = i;
		w->tick_fd = -1;
		w->conns.next = w->conns.prev = &w->conns;
		ret = -pthread_create(&w->thread, NULL, connmgr_worker_main, w);
		if (ret < 0) {
			log_error("cannot start worker thread %u: %s", i,
				  strerror(-ret));
			break;
		}
		cm->n_workers++;
	}
	pthread_mutex_lock(&cm->start_lock);
	while (cm->n_started < cm->n_workers)
		pthread_cond_wait(&cm->start_cond, &cm->start_lock);
	pthread_mutex_unlock(&cm->start_lock);
	for (unsigned int i = 0; i < cm->n_workers; i++) {
		if (cm->workers[i].start_result < 0) {
			log_error("worker %u: cannot create its event loop: %s",
				  i, strerror(-cm->workers[i].start_result));
			ret = cm->workers[i].start_result;
		}
	}
	if (ret == 0 && cm->n_workers)
		log_info("%u workers, %s engine", cm->n_workers,
			 base_engine_name(
				 base_loop_engine(cm->workers[0].loop)));
	return ret;
}

/* Main thread: accepting and shutdown --------------------------------- */

static void connmgr_peer_name(int fd, char *buf, size_t len)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (base_addr_of_fd(fd, 1, buf, len) == 0 && strcmp(buf, "unix"))
		return;
	/* Unix peers have no address: their process tells them apart for
	 * the operator (conn.list), the fd number otherwise. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	    cred.pid > 0)
		snprintf(buf, len, "unix:pid=%d,uid=%u,fd=%d", (int)cred.pid,
			 (unsigned int)cred.uid, fd);
	else
		snprintf(buf, len, "unix:fd%d", fd);
}

/* The listener's allow lists, before a byte is read or written: a TCP
 * peer by its address, a Unix one by its SO_PEERCRED user and group. */
static bool connmgr_listener_allows(const struct connmgr_listener *l, int fd,
				    struct connmgr_handoff *h)
{
	socklen_t sl = sizeof(h->peer_addr);
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	/* A peer without an address is one that already left (ENOTCONN):
	 * refuse it rather than let it pass the address lists. */
	if (getpeername(fd, (struct sockaddr *)&h->peer_addr, &sl) < 0)
		return false;
	if (!l->acl)
		return true;
	if (h->peer_addr.ss_family != AF_UNIX)
		return base_acl_allows(l->acl,
				       (struct sockaddr *)&h->peer_addr);
	if (l->acl->n_uids == 0 && l->acl->n_gids == 0)
		return true;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	       base_acl_allows_cred(l->acl, cred.uid, cred.gid);
}

static void connmgr_admit(struct connmgr *cm, int fd,
			  const struct connmgr_listener *l)
{
	struct connmgr_handoff *h = calloc(1, sizeof(*h));
	struct connmgr_worker *w;

	if (!h) {
		close(fd);
		return;
	}
	if (!connmgr_listener_allows(l, fd, h)) {
		connmgr_peer_name(fd, h->peer, sizeof(h->peer));
		log_info("%s: refused by the listener's allow list (or "
			 "gone)",
			 h->peer);
		close(fd);
		free(h);
		return;
	}
	connmgr_peer_name(fd, h->peer, sizeof(h->peer));
	switch (connmgr_limit_admit(cm, l, &h->peer_addr, h->peer)) {
	case CONNMGR_ADMITTED:
		break;
	case CONNMGR_REFUSING:
		h->refusing = true;
		break;
	case CONNMGR_DROPPED:
		close(fd);
		free(h);
		return;
	}
	/* Round robin keeps connections spread over the workers; a
	 * connection never moves once attached. */
	w = &cm->workers[cm->next_worker++ % cm->n_workers];
	h->worker = w;
	h->transport = l->transport;
	h->listener = l;
	h->rx_fd = h->tx_fd = fd;
	h->id = ++cm->next_conn_id;
	log_debug("%s: connected, worker %u", h->peer, w->index);
	if (base_loop_post(w->loop, connmgr_conn_attach, h) < 0) {
		close(fd);
		connmgr_limit_release(cm, &h->peer_addr, h->refusing);
		free(h);
	}
}

static void connmgr_accept_done(struct base_io *io, int result);

static void connmgr_accept_arm(struct connmgr_listener *l)
{
	l->io.op = BASE_IO_ACCEPT;
	l->io.fd = l->fd;
	l->io.done = connmgr_accept_done;
	l->io.data = l;
	if (base_io_submit(l->cm->main_loop, &l->io) < 0) {
		log_error("cannot accept on listener fd %d", l->fd);
		l->cm->listeners_open--;
	}
}

static void connmgr_accept_resume(struct base_io *io, int result)
{
	connmgr_accept_arm(io->data);
}

/* Out of descriptors: stop accepting for a while rather than retry at
 * once (which spins, and logs each failure). */
static void connmgr_accept_pause(struct connmgr_listener *l, int err)
{
	unsigned int ms = base_fd_pause_hit(&l->pause, "accept", err);
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000 },
	};

	if (ms == 0 || l->pause_fd < 0 ||
	    timerfd_settime(l->pause_fd, 0, &its, NULL) < 0) {
		connmgr_accept_arm(l);
		return;
	}
	if (base_io_read(l->cm->main_loop, &l->io, l->pause_fd, &l->pause_buf,
			 sizeof(l->pause_buf), connmgr_accept_resume, l) < 0)
		connmgr_accept_arm(l);
}

static void connmgr_accept_done(struct base_io *io, int result)
{
	struct connmgr_listener *l = io->data;
	struct connmgr *cm = l->cm;

	if (result >= 0 && !cm->stopping && base_fd_in_reserve(result)) {
		/* The last descriptors are the management channel's. */
		close(result);
		connmgr_accept_pause(l, 0);
		return;
	}
	if (result >= 0) {
		base_fd_pause_clear(&l->pause);
		if (cm->stopping)
			close(result);
		else
			connmgr_admit(cm, result, l);
	} else if (!cm->stopping && base_fd_exhausted(-result)) {
		connmgr_accept_pause(l, -result);
		return;
	} else if (!cm->stopping && result != -EINVAL) {
		/* ECONNABORTED...: the listener itself is fine. */
		log_warn("accept: %s", strerror(-result));
	}
	if (!cm->stopping && result != -EINVAL) {
		connmgr_accept_arm(l);
		return;
	}
	if (l->pause_fd >= 0)
		close(l->pause_fd);
	l->pause_fd = -1;
	close(l->fd);
	l->fd = -1;
	cm->listeners_open--;
	connmgr_maybe_finish(cm);
}

/* The drain took too long: some peer stopped reading its replies. */
static void connmgr_drain_timeout(struct base_io *io, int result)
{
	struct connmgr *cm = io->data;

	if (result <= 0 || cm->workers_running == 0)
		return;
	log_warn("drain timed out after %u ms: closing the remaining "
		 "connections",
		 cm->cfg.drain_timeout_ms);
	cm->aborted = true;
	for (unsigned int i = 0; i < cm->n_workers; i++)
		if (!cm->workers[i].stopped)
			base_loop_post(cm->workers[i].loop,
				       connmgr_worker_abort, &cm->workers[i]);
}

static void connmgr_drain_timer_arm(struct connmgr *cm)
{
	unsigned int ms = cm->cfg.drain_timeout_ms;
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000 },
	};

	/* Blocking on purpose: io_uring completes a read of a non-blocking
	 * timerfd with -EAGAIN at once instead of waiting for it. */
	cm->drain_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (cm->drain_timer_fd < 0 ||
	    timerfd_settime(cm->drain_timer_fd, 0, &its, NULL) < 0) {
		log_warn("drain timer: %s; waiting without a deadline",
			 strerror(errno));
		return;
	}
	base_io_read(cm->main_loop, &cm->drain_io, cm->drain_timer_fd,
		     &cm->drain_expirations, sizeof(cm->drain_expirations),
		     connmgr_drain_timeout, cm);
}

static void connmgr_signal_done(struct base_io *io, int result)
{
	struct connmgr *cm = io->data;
	const struct signalfd_siginfo *si = (const void *)cm->signal_buf;

	if (result <= 0 && result != -EINTR && result != -EAGAIN) {
		log_error("signal fd: %s", result ? strerror(-result) : "EOF");
	} else if (result == -EINTR || result == -EAGAIN ||
		   (result >= (int)sizeof(*si) && si->ssi_signo == SIGHUP)) {
		if (result > 0 && cm->hup_fn)
			cm->hup_fn(cm->hup_arg);
		else if (result > 0)
			log_info("SIGHUP: nothing to reload");
		base_io_submit(cm->main_loop, io);
		return;
	}
	log_info("shutting down: no new clients, draining connections");
	if (cm->stop_fn)
		cm->stop_fn(cm->stop_arg);
	cm->stopping = true;
	/* The management thread posts nothing to the workers from now on,
	 * so everything it posted runs before their drain. */
	pthread_mutex_lock(&cm->lock);
	cm->shutting_down = true;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
	/* Wakes the pending accepts, which then fail with EINVAL. */
	for (unsigned int i = 0; i < cm->n_listeners; i++)
		if (cm->listeners[i].fd >= 0)
			shutdown(cm->listeners[i].fd, SHUT_RDWR);
	for (unsigned int i = 0; i < cm->n_workers; i++)
		base_loop_post(cm->workers[i].loop, connmgr_worker_drain,
			       &cm->workers[i]);
	connmgr_drain_timer_arm(cm);
	connmgr_maybe_finish(cm);
}

static void connmgr_workers_stop(struct connmgr *cm)
{
	for (unsigned int i = 0; i < cm->n_workers; i++)
		if (cm->workers[i].start_result == 0 && !cm->workers[i].stopped)
			base_loop_post(cm->workers[i].loop,
				       connmgr_worker_drain, &cm->workers[i]);
	for (unsigned int i = 0; i < cm->n_workers; i++) {
		pthread_join(cm->workers[i].thread, NULL);
		if (cm->workers[i].loop)
			base_loop_destroy(cm->workers[i].loop);
		cm->workers[i].loop = NULL;
		connmgr_sweep_fini(&cm->workers[i]);
	}
	cm->n_workers = 0;
}

int connmgr_run(struct connmgr *cm, int signal_fd)
{
	int ret;

	ret = base_loop_create(&cm->main_loop, cm->cfg.engine, 64);
	if (ret < 0) {
		log_error("cannot create the main event loop: %s",
			  strerror(-ret));
		connmgr_workers_stop(cm);
		return ret;
	}
	base_io_read(cm->main_loop, &cm->signal_io, signal_fd, cm->signal_buf,
		     sizeof(cm->signal_buf), connmgr_signal_done, cm);
	cm->listeners_open = cm->n_listeners;
	cm->workers_running = cm->n_workers;
	for (unsigned int i = 0; i < cm->n_listeners; i++) {
		/* Blocking, like the drain timer (io_uring and EAGAIN). */
		cm->listeners[i].pause_fd =
			timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		connmgr_accept_arm(&cm->listeners[i]);
	}
	base_loop_run(cm->main_loop);
	connmgr_workers_stop(cm);
	base_loop_destroy(cm->main_loop);
	cm->main_loop = NULL;
	if (cm->drain_timer_fd >= 0)
		close(cm->drain_timer_fd);
	cm->drain_timer_fd = -1;
	log_info("all connections closed");
	return cm->aborted ? -ETIMEDOUT : 0;
}

/* Single connection on stdin/stdout ------------------------------------- */

static void connmgr_stdio_closed(void *opaque, struct remote_conn *rc)
{
	base_loop_stop(opaque);
}

int connmgr_serve_stdio(struct connmgr *cm, const char *transport, int rx_fd,
			int tx_fd)
{
	const struct remote_transport_ops *t =
		connmgr_transport_find(transport);
	struct remote_conn_args args = {
		.rx_fd = rx_fd,
		.tx_fd = tx_fd,
		.exports = &cm->view,
		.limits = cm->cfg.limits,
		.peer = "stdio",
		.closed = connmgr_stdio_closed,
	};
	struct base_loop *loop;
	struct remote_conn *rc;
	int ret;

	if (!t)
		return -EPROTONOSUPPORT;
	ret = base_loop_create(&loop, cm->cfg.engine, 0);
	if (ret < 0) {
		log_error("cannot create an event loop: %s", strerror(-ret));
		return ret;
	}
	args.loop = loop;
	args.opaque = loop;
	ret = t->conn_start(&args, &rc);
	if (ret == 0)
		base_loop_run(loop);
	base_loop_destroy(loop);
	return ret;
}
