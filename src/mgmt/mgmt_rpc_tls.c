// SPDX-License-Identifier: MIT
/*
 * TLS on the management channel's TCP listener.  A token crossing a
 * network in the clear is as good as published, so a TCP management
 * client speaks TLS from its first byte (no STARTTLS: nothing here is
 * worth a plaintext phase), with the daemon's --tls-certificates and
 * --tls-psk credentials (remote_tls.h, which also rotates them on
 * SIGHUP); daemon.auth with the token is still required inside it.
 *
 * GnuTLS runs on the client's non-blocking socket itself: the
 * management thread's poll loop waits for whatever direction GnuTLS
 * asked for, and reads and writes go through mgmt_rpc_io_recv/send,
 * which are plain recv/send for Unix clients.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc_server.h"
#include "remote/remote_tls.h"

int mgmt_rpc_tls_check(const char *addr)
{
	if (remote_tls_has_credentials())
		return 0;
	log_error("--mgmt-listen %s: the management channel over TCP needs "
		  "TLS; give --tls-certificates DIR or --tls-psk FILE",
		  addr);
	return -EINVAL;
}

/* "mgmt HOST:PORT", for the TLS logs. */
static void mgmt_rpc_peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	snprintf(buf, len,
		 ss.ss_family == AF_INET6 ? "mgmt [%s]:%u" : "mgmt %s:%u", host,
		 port);
}

int mgmt_rpc_tls_start(struct mgmt_rpc_client *c)
{
	char peer[INET6_ADDRSTRLEN + 16];

	mgmt_rpc_peer_name(c->fd, peer, sizeof(peer));
	c->tls = remote_tls_fd_session(c->fd, peer);
	return c->tls ? 0 : -EPROTO;
}

void mgmt_rpc_tls_end(struct mgmt_rpc_client *c)
{
	if (!c->tls)
		return;
	/* close_notify, if the socket takes it now: the peer can tell our
	 * close from a cut. */
	if (c->tls_ready)
		gnutls_bye(c->tls, GNUTLS_SHUT_WR);
	remote_tls_fd_session_free(c->tls);
	c->tls = NULL;
}

/* A plaintext JSON-RPC client (an old iopctl, nc): tell it why, in words
 * it can read, instead of a TLS alert it cannot.  Returns 1 when the
 * first byte is a '{', 0 when it is something else, -EAGAIN: none yet. */
static int mgmt_rpc_tls_plaintext(struct mgmt_rpc_client *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	return n == 1 && b == '{';
}

int mgmt_rpc_tls_handshake(struct mgmt_rpc_client *c)
{
	int ret;

	if (!c->tls_started) {
		ret = mgmt_rpc_tls_plaintext(c);
		if (ret == -EAGAIN)
			return 0;
		if (ret == 1) {
			log_warn("mgmt: refused a plaintext TCP client "
				 "(TLS required)");
			mgmt_rpc_send_now(
				c->fd, "{\"jsonrpc\":\"2.0\",\"id\":null,"
				       "\"error\":{\"code\":-32001,\"message\":"
				       "\"TLS required on this TCP management "
				       "listener\"}}\n");
			return -EPROTO;
		}
		c->tls_started = true;
	}
	ret = gnutls_handshake(c->tls);
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED ||
	    (ret < 0 && !gnutls_error_is_fatal(ret)))
		return 0;
	if (ret < 0) {
		log_warn("mgmt: TLS handshake with a TCP client failed: %s",
			 gnutls_strerror(ret));
		return -EPROTO;
	}
	c->tls_ready = true;
	remote_tls_fd_session_log(c->tls);
	return 1;
}

short mgmt_rpc_tls_events(const struct mgmt_rpc_client *c)
{
	if (!c->tls_started)
		return POLLIN;
	return gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
}

bool mgmt_rpc_tls_pending(const struct mgmt_rpc_client *c)
{
	return c->tls && c->tls_ready && gnutls_record_check_pending(c->tls);
}

/* GnuTLS's result as recv/send would say it: n, 0 (end), -errno. */
static ssize_t mgmt_rpc_tls_result(ssize_t r)
{
	if (r >= 0)
		return r;
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* a cut, not a close_notify: the same to us */
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
	    !gnutls_error_is_fatal((int)r))
		return -EAGAIN;
	log_warn("mgmt: TLS: %s", gnutls_strerror((int)r));
	return -EIO;
}

ssize_t mgmt_rpc_io_recv(struct mgmt_rpc_client *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->tls)
		return mgmt_rpc_tls_result(
			gnutls_record_recv(c->tls, buf, len));
	n = recv(c->fd, buf, len, MSG_DONTWAIT);
	if (n < 0 && errno == EINTR)
		return -EAGAIN;
	return n < 0 ? -errno : n;
}

ssize_t mgmt_rpc_io_send(struct mgmt_rpc_client *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->tls)
		return mgmt_rpc_tls_result(
			gnutls_record_send(c->tls, buf, len));
	n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno == EINTR)
		return -EAGAIN;
	return n < 0 ? -errno : n;
}
