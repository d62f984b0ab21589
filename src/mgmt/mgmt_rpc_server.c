// SPDX-License-Identifier: MIT
/*
 * The JSON-RPC 2.0 server of the management channel: a listening Unix
 * socket (mode 0600, peers checked with SO_PEERCRED), TCP listeners (TLS
 * only, mgmt_rpc_tls.c), and the management thread that serves requests one at
 * a time (see mgmt_rpc.h for why).  Requests are parsed and dispatched in
 * mgmt_rpc.c.
 *
 * The thread exists even without a socket: a SIGHUP reload runs on it,
 * so that the main thread never blocks on a drain.
 *
 * No client can starve it (doc/security.md, "Management channel"): Unix
 * and TCP clients have separate pools of slots, a TCP client must
 * authenticate within a deadline, and replies are queued and sent
 * without blocking, within a bound and a write deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/base_fdlimit.h"
#include "base/base_log.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_server.h"

#define MGMT_RPC_MAX_LINE_BYTES (1024 * 1024)

/*
 * Clients never block the thread: sockets are non-blocking, replies wait
 * in the client's output queue until the peer reads them, and a client is
 * closed when that queue outgrows reply_max_bytes or the peer reads
 * nothing for write_timeout_ms.  A client with output queued is not read
 * from, so it cannot pile up more.
 */

static void mgmt_rpc_client_close(struct mgmt_rpc_client *c)
{
	mgmt_rpc_tls_end(c);
	close(c->fd);
	free(c->buf);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* A short message on a fresh socket, before it gets a slot. */
void mgmt_rpc_send_now(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it is being closed anyway */
	}
}

/* Queue text and a newline.  Returns false when the queue is over its
 * bound (the client is then closed). */
static bool mgmt_rpc_queue(struct mgmt_rpc *rpc, struct mgmt_rpc_client *c,
			   const char *text)
{
	size_t len = strlen(text), need = c->out_len - c->out_off + len + 1;

	if (need > rpc->cfg.reply_max_bytes) {
		log_warn("mgmt: closing a client that left %zu bytes of "
			 "replies unread (limit %u)",
			 need, rpc->cfg.reply_max_bytes);
		return false;
	}
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (need > c->out_cap) {
		char *out = realloc(c->out, need);

		if (!out)
			return false;
		c->out = out;
		c->out_cap = need;
	}
	if (c->out_len == 0)
		c->write_deadline_ns = base_fd_now_ns() +
				       rpc->cfg.write_timeout_ms * 1000000ull;
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return true;
}

/* Send what the peer takes now.  Returns false to close. */
static bool mgmt_rpc_flush(struct mgmt_rpc *rpc, struct mgmt_rpc_client *c)
{
	while (c->out_off < c->out_len) {
		/* Under TLS, a send that said EAGAIN is repeated with the
		 * same bytes: nothing is queued while output waits. */
		ssize_t n = mgmt_rpc_io_send(c, c->out + c->out_off,
					     c->out_len - c->out_off);

		if (n == -EAGAIN)
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
		/* It reads: a slow reader is not a stuck one. */
		c->write_deadline_ns = base_fd_now_ns() +
				       rpc->cfg.write_timeout_ms * 1000000ull;
	}
	c->out_off = c->out_len = 0;
	c->write_deadline_ns = 0;
	return !c->session.hang_up && !c->eof;
}

static bool mgmt_rpc_peer_allowed(const struct mgmt_rpc *rpc, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid() ||
	    (rpc->cfg.allow_uid >= 0 && cred.uid == (uid_t)rpc->cfg.allow_uid))
		return true;
	log_warn("mgmt: refused a client with uid %u (pid %d)",
		 (unsigned int)cred.uid, (int)cred.pid);
	return false;
}

/* A free slot of the listener's pool: Unix clients and TCP clients have
 * their own, so strangers can never lock root out. */
static struct mgmt_rpc_client *mgmt_rpc_slot(struct mgmt_rpc *rpc, bool tcp)
{
	unsigned int lo = tcp ? rpc->cfg.local_clients : 0;
	unsigned int hi = tcp ? rpc->n_clients : rpc->cfg.local_clients;

	for (unsigned int i = lo; i < hi; i++)
		if (rpc->clients[i].fd < 0)
			return &rpc->clients[i];
	return NULL;
}

static void mgmt_rpc_accept(struct mgmt_rpc *rpc,
			    const struct mgmt_rpc_listener *l)
{
	struct mgmt_rpc_client *slot;
	unsigned int ms;
	int fd;

	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (!base_fd_exhausted(errno))
			return;
		/* Listeners rest a while; clients already in are served. */
		ms = base_fd_pause_hit(&rpc->pause, "mgmt accept", errno);
		rpc->accept_resume_ns = base_fd_now_ns() + ms * 1000000ull;
		return;
	}
	base_fd_pause_clear(&rpc->pause);
	if (!l->tcp && !mgmt_rpc_peer_allowed(rpc, fd)) {
		mgmt_rpc_send_now(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,"
				      "\"error\":{\"code\":-32001,\"message\":"
				      "\"permission denied: not root or "
				      "iopd's user\"}}\n");
		close(fd);
		return;
	}
	slot = mgmt_rpc_slot(rpc, l->tcp);
	if (!slot) {
		mgmt_rpc_send_now(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,"
				      "\"error\":{\"code\":-32011,\"message\":"
				      "\"too many management clients\"}}\n");
		close(fd);
		return;
	}
	slot->fd = fd;
	slot->session.must_auth = l->tcp;
	slot->session.rpc = rpc;
	if (l->tcp && mgmt_rpc_tls_start(slot) < 0) {
		mgmt_rpc_client_close(slot);
		return;
	}
	/* The deadline covers the TLS handshake too. */
	if (l->tcp)
		slot->auth_deadline_ns = base_fd_now_ns() +
					 rpc->cfg.auth_timeout_ms * 1000000ull;
}

/* Handle every complete line in c's buffer.  Returns false to close. */
static bool mgmt_rpc_client_lines(struct mgmt_rpc *rpc,
				  struct mgmt_rpc_client *c)
{
	char *nl;

	while (!c->session.hang_up && (nl = memchr(c->buf, '\n', c->len))) {
		size_t line = (size_t)(nl - c->buf);
		char *resp = NULL;
		bool blank = true, ok = true;

		for (size_t i = 0; i < line; i++)
			if (c->buf[i] != ' ' && c->buf[i] != '\t' &&
			    c->buf[i] != '\r')
				blank = false;
		if (!blank)
			resp = mgmt_rpc_handle(rpc->ctx, c->buf, line,
					       &c->session);
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
		if (c->session.authed)
			c->auth_deadline_ns = 0;
		if (resp) {
			ok = mgmt_rpc_queue(rpc, c, resp);
			free(resp);
		}
		if (!ok)
			return false;
	}
	return mgmt_rpc_flush(rpc, c);
}

/* Room for the next read.  Returns false (after answering) to close. */
static bool mgmt_rpc_client_room(struct mgmt_rpc *rpc,
				 struct mgmt_rpc_client *c)
{
	size_t cap = c->cap ? c->cap * 2 : 8192;
	char *buf;

	if (c->cap - c->len >= 4096)
		return true;
	/* Strangers get no room to make us allocate. */
	if (cap > MGMT_RPC_MAX_LINE_BYTES + 8192 ||
	    (c->session.must_auth && !c->session.authed && cap > 8192)) {
		static const char msg[] =
			"{\"jsonrpc\":\"2.0\",\"id\":null,"
			"\"error\":{\"code\":-32600,\"message\":"
			"\"request line longer than 1 MiB\"}}\n";

		if (mgmt_rpc_io_send(c, msg, sizeof(msg) - 1) < 0) {
			/* it is being closed anyway */
		}
		return false;
	}
	buf = realloc(c->buf, cap);
	if (!buf)
		return false;
	c->buf = buf;
	c->cap = cap;
	return true;
}

/* One read and the lines it completes.  Returns false to close. */
static bool mgmt_rpc_client_read_once(struct mgmt_rpc *rpc,
				      struct mgmt_rpc_client *c)
{
	ssize_t n;

	if (!mgmt_rpc_client_room(rpc, c))
		return false;
	n = mgmt_rpc_io_recv(c, c->buf + c->len, c->cap - c->len);
	if (n == -EAGAIN)
		return true;
	if (n < 0)
		return false;
	if (n == 0) {
		/* A last request without its newline still gets served;
		 * the client goes once its answers are out. */
		c->eof = true;
		if (c->len)
			c->buf[c->len++] = '\n';
	}
	c->len += (size_t)n;
	return mgmt_rpc_client_lines(rpc, c);
}

static void mgmt_rpc_client_read(struct mgmt_rpc *rpc,
				 struct mgmt_rpc_client *c)
{
	if (c->tls && !c->tls_ready) {
		int ret = mgmt_rpc_tls_handshake(c);

		if (ret < 0)
			mgmt_rpc_client_close(c);
		if (ret <= 0)
			return;
	}
	/* Bytes GnuTLS decrypted ahead are not seen by poll: take them
	 * while the client may send more. */
	do {
		if (!mgmt_rpc_client_read_once(rpc, c)) {
			mgmt_rpc_client_close(c);
			return;
		}
	} while (!c->out_len && mgmt_rpc_tls_pending(c));
}

static void mgmt_rpc_do_reload(struct mgmt_rpc *rpc)
{
	struct mgmt_error err = { .code = 0 };
	json_t *result = NULL;

	if (mgmt_reload(rpc->ctx, &result, &err) < 0)
		log_error("reload failed: %s",
			  err.message[0] ? err.message : "see above");
	json_decref(result);
}

/* The earliest deadline, as a poll timeout in ms (-1: none). */
static int mgmt_rpc_poll_timeout(const struct mgmt_rpc *rpc, uint64_t now)
{
	uint64_t first = rpc->accept_resume_ns;

	for (unsigned int i = 0; i < rpc->n_clients; i++) {
		const struct mgmt_rpc_client *c = &rpc->clients[i];

		if (c->fd < 0)
			continue;
		if (c->auth_deadline_ns &&
		    (!first || c->auth_deadline_ns < first))
			first = c->auth_deadline_ns;
		if (c->write_deadline_ns &&
		    (!first || c->write_deadline_ns < first))
			first = c->write_deadline_ns;
	}
	if (!first)
		return -1;
	return first <= now ? 0 : (int)((first - now) / 1000000u + 1);
}

/* Close the clients whose deadline passed. */
static void mgmt_rpc_expire(struct mgmt_rpc *rpc, uint64_t now)
{
	if (rpc->accept_resume_ns && now >= rpc->accept_resume_ns)
		rpc->accept_resume_ns = 0;
	for (unsigned int i = 0; i < rpc->n_clients; i++) {
		struct mgmt_rpc_client *c = &rpc->clients[i];

		if (c->fd < 0)
			continue;
		if (c->auth_deadline_ns && now >= c->auth_deadline_ns) {
			log_warn("mgmt: closing a TCP client that did not "
				 "authenticate within %u ms",
				 rpc->cfg.auth_timeout_ms);
			mgmt_rpc_client_close(c);
		} else if (c->write_deadline_ns &&
			   now >= c->write_deadline_ns) {
			log_warn("mgmt: closing a client that read none of "
				 "its reply for %u ms",
				 rpc->cfg.write_timeout_ms);
			mgmt_rpc_client_close(c);
		}
	}
}

/* Fill pfd: the eventfd, the listeners unless resting, the clients
 * (readers, or writers while output waits).  Returns the count. */
static unsigned int mgmt_rpc_poll_set(struct mgmt_rpc *rpc, struct pollfd *pfd,
				      int *map)
{
	unsigned int n = 0;

	pfd[n].fd = rpc->event_fd;
	pfd[n++].events = POLLIN;
	for (unsigned int i = 0; i < rpc->n_listeners && !rpc->accept_resume_ns;
	     i++) {
		map[n] = -1 - (int)i;
		pfd[n].fd = rpc->listeners[i].fd;
		pfd[n++].events = POLLIN;
	}
	for (unsigned int i = 0; i < rpc->n_clients; i++) {
		const struct mgmt_rpc_client *c = &rpc->clients[i];

		if (c->fd < 0)
			continue;
		map[n] = (int)i;
		pfd[n].fd = c->fd;
		if (c->tls && !c->tls_ready)
			pfd[n++].events = mgmt_rpc_tls_events(c);
		else
			pfd[n++].events = c->out_len ? POLLOUT : POLLIN;
	}
	return n;
}

static void *mgmt_rpc_thread(void *arg)
{
	struct mgmt_rpc *rpc = arg;

	pthread_setname_np(pthread_self(), "iopd-mgmt");
	while (!atomic_load(&rpc->stop)) {
		struct pollfd *pfd = rpc->pfd;
		int *map = rpc->map, timeout;
		unsigned int n = mgmt_rpc_poll_set(rpc, pfd, map);
		uint64_t v;

		timeout = mgmt_rpc_poll_timeout(rpc, base_fd_now_ns());
		if (poll(pfd, n, timeout) < 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			if (read(rpc->event_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: another reader got it */
			}
			if (atomic_exchange(&rpc->reload, false))
				mgmt_rpc_do_reload(rpc);
		}
		for (unsigned int i = 1; i < n; i++) {
			struct mgmt_rpc_client *c;

			if (!pfd[i].revents)
				continue;
			if (map[i] < 0) {
				mgmt_rpc_accept(rpc,
						&rpc->listeners[-1 - map[i]]);
				continue;
			}
			c = &rpc->clients[map[i]];
			if (c->fd != pfd[i].fd)
				continue; /* closed and reused meanwhile */
			if (!c->out_len || (c->tls && !c->tls_ready))
				mgmt_rpc_client_read(rpc, c);
			else if (!mgmt_rpc_flush(rpc, c))
				mgmt_rpc_client_close(c);
			else if (mgmt_rpc_tls_pending(c))
				mgmt_rpc_client_read(rpc, c);
		}
		mgmt_rpc_expire(rpc, base_fd_now_ns());
	}
	return NULL;
}

/* An existing socket file: another daemon's (refuse) or a stale one. */
static int mgmt_rpc_unlink_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, ret;

	if (lstat(sun->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("mgmt socket %s: exists and is not a socket",
			  sun->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (ret == 0) {
		log_error("mgmt socket %s: another iopd is using it",
			  sun->sun_path);
		return -EADDRINUSE;
	}
	unlink(sun->sun_path);
	return 0;
}

static int mgmt_rpc_bind_unix(struct mgmt_rpc *rpc, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct mgmt_rpc_listener *l = &rpc->listeners[rpc->n_listeners];
	mode_t mode = rpc->cfg.socket_mode ? rpc->cfg.socket_mode : 0600;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_error("mgmt socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	ret = mgmt_rpc_unlink_stale(&sun);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Never visible with looser permissions, not even for a moment;
	 * only the main thread runs yet. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || chmod(path, mode) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		log_error("mgmt socket %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	rpc->path = strdup(path);
	if (!rpc->path) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	l->fd = fd;
	snprintf(l->describe, sizeof(l->describe), "unix %s", path);
	rpc->n_listeners++;
	return 0;
}

static int mgmt_rpc_bind_tcp(struct mgmt_rpc *rpc, const char *addr)
{
	int fds[MGMT_RPC_MAX_LISTENERS - 1], n, ret;

	ret = mgmt_rpc_tls_check(addr);
	if (ret < 0)
		return ret;
	ret = mgmt_rpc_token_load(rpc, rpc->cfg.token_file);
	if (ret < 0)
		return ret;
	n = remote_listen_bind(addr, MGMT_DEFAULT_PORT + 1, fds,
			       MGMT_RPC_MAX_LISTENERS - 1);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct mgmt_rpc_listener *l = &rpc->listeners[rpc->n_listeners];

		l->fd = fds[i];
		l->tcp = true;
		if (remote_listen_describe(fds[i], l->describe,
					   sizeof(l->describe)) < 0)
			snprintf(l->describe, sizeof(l->describe), "tcp %s",
				 addr);
		rpc->n_listeners++;
	}
	return 0;
}

/* The two pools of client slots and the poll set, sized from cfg. */
static int mgmt_rpc_clients_alloc(struct mgmt_rpc *rpc)
{
	struct mgmt_rpc_config *cfg = &rpc->cfg;
	unsigned int n;

	if (!cfg->local_clients)
		cfg->local_clients = MGMT_DEFAULT_LOCAL_CLIENTS;
	if (!cfg->tcp_clients)
		cfg->tcp_clients = MGMT_DEFAULT_TCP_CLIENTS;
	if (!cfg->auth_timeout_ms)
		cfg->auth_timeout_ms = MGMT_DEFAULT_AUTH_TIMEOUT_MS;
	if (!cfg->reply_max_bytes)
		cfg->reply_max_bytes = MGMT_DEFAULT_REPLY_MAX_BYTES;
	if (!cfg->write_timeout_ms)
		cfg->write_timeout_ms = MGMT_DEFAULT_WRITE_TIMEOUT_MS;
	/* Without a TCP listener its pool stays empty. */
	n = cfg->local_clients + (cfg->tcp_addr ? cfg->tcp_clients : 0);
	rpc->clients = calloc(n, sizeof(*rpc->clients));
	rpc->pfd = calloc(n + MGMT_RPC_MAX_LISTENERS + 1, sizeof(*rpc->pfd));
	rpc->map = calloc(n + MGMT_RPC_MAX_LISTENERS + 1, sizeof(*rpc->map));
	if (!rpc->clients || !rpc->pfd || !rpc->map)
		return -ENOMEM;
	rpc->n_clients = n;
	for (unsigned int i = 0; i < n; i++)
		rpc->clients[i].fd = -1;
	return 0;
}

int mgmt_rpc_create(const struct mgmt_rpc_config *cfg, struct mgmt_ctx *ctx,
		    struct mgmt_rpc **rpcp)
{
	struct mgmt_rpc *rpc = calloc(1, sizeof(*rpc));
	int ret = 0;

	if (!rpc)
		return -ENOMEM;
	rpc->cfg = *cfg;
	rpc->ctx = ctx;
	rpc->event_fd = -1;
	ret = mgmt_rpc_clients_alloc(rpc);
	if (ret == 0) {
		rpc->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rpc->event_fd < 0)
			ret = -errno;
	}
	if (ret == 0 && cfg->socket_path)
		ret = mgmt_rpc_bind_unix(rpc, cfg->socket_path);
	if (ret == 0 && cfg->tcp_addr)
		ret = mgmt_rpc_bind_tcp(rpc, cfg->tcp_addr);
	if (ret < 0) {
		mgmt_rpc_destroy(rpc);
		return ret;
	}
	ctx->rpc = rpc;
	*rpcp = rpc;
	return 0;
}

const char *mgmt_rpc_describe(const struct mgmt_rpc *rpc, unsigned int i)
{
	return i < rpc->n_listeners ? rpc->listeners[i].describe : NULL;
}

int mgmt_rpc_start(struct mgmt_rpc *rpc)
{
	int ret = -pthread_create(&rpc->thread, NULL, mgmt_rpc_thread, rpc);

	if (ret < 0) {
		log_error("cannot start the management thread: %s",
			  strerror(-ret));
		return ret;
	}
	rpc->started = true;
	return 0;
}

static void mgmt_rpc_wake(struct mgmt_rpc *rpc)
{
	uint64_t one = 1;

	if (write(rpc->event_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: it is awake anyway */
	}
}

void mgmt_rpc_request_reload(struct mgmt_rpc *rpc)
{
	atomic_store(&rpc->reload, true);
	mgmt_rpc_wake(rpc);
}

void mgmt_rpc_destroy(struct mgmt_rpc *rpc)
{
	if (!rpc)
		return;
	if (rpc->started) {
		atomic_store(&rpc->stop, true);
		mgmt_rpc_wake(rpc);
		pthread_join(rpc->thread, NULL);
	}
	for (unsigned int i = 0; i < rpc->n_clients; i++)
		if (rpc->clients[i].fd >= 0)
			mgmt_rpc_client_close(&rpc->clients[i]);
	for (unsigned int i = 0; i < rpc->n_listeners; i++)
		close(rpc->listeners[i].fd);
	if (rpc->path)
		unlink(rpc->path);
	if (rpc->token) {
		explicit_bzero(rpc->token, strlen(rpc->token));
		free(rpc->token);
	}
	if (rpc->ctx)
		rpc->ctx->rpc = NULL;
	if (rpc->event_fd >= 0)
		close(rpc->event_fd);
	free(rpc->clients);
	free(rpc->pfd);
	free(rpc->map);
	free(rpc->path);
	free(rpc);
}
