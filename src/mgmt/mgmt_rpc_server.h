/* SPDX-License-Identifier: MIT */
/* The management server's state, shared by mgmt_rpc.c (dispatch),
 * mgmt_rpc_server.c (the socket and the thread) and mgmt_rpc_auth.c
 * (daemon.auth); private to them. */
#ifndef IOPD_MGMT_RPC_SERVER_H
#define IOPD_MGMT_RPC_SERVER_H

#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "base/base_fdlimit.h"
#include "mgmt/mgmt_rpc.h"

#define MGMT_RPC_MAX_LISTENERS 5 /* the Unix socket and 4 TCP addresses */

/* Where a request comes from: Unix peers are checked once at accept;
 * TCP peers must authenticate (daemon.auth) before anything else. */
struct mgmt_rpc_session {
	bool must_auth;
	bool authed;
	bool hang_up; /* a failed daemon.auth: answer, then close */
	const struct mgmt_rpc *rpc;
};

struct mgmt_rpc_client {
	int fd;
	char *buf; /* what came in, not yet handled */
	size_t len, cap;
	char *out; /* replies the peer has not read yet: [out_off, out_len) */
	size_t out_off, out_len, out_cap;
	/* CLOCK_MONOTONIC ns at which the client is closed; 0: none */
	uint64_t auth_deadline_ns;
	uint64_t write_deadline_ns;
	bool eof; /* the peer is done sending: close once answered */
	struct mgmt_rpc_session session;
	/* TCP clients: TLS from the first byte (mgmt_rpc_tls.c); NULL on
	 * the Unix socket.  started: past the plaintext check, in the
	 * handshake; ready: handshake done. */
	gnutls_session_t tls;
	bool tls_started, tls_ready;
};

struct mgmt_rpc_listener {
	int fd;
	bool tcp;
	char describe[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
};

struct mgmt_rpc {
	struct mgmt_rpc_config cfg;
	struct mgmt_ctx *ctx;
	char *path; /* the Unix socket we created, unlinked at the end */
	struct mgmt_rpc_listener listeners[MGMT_RPC_MAX_LISTENERS];
	unsigned int n_listeners;
	char *token; /* for TCP clients */
	int event_fd;
	atomic_bool stop, reload;
	bool started;
	pthread_t thread;
	/* Unix clients in [0, cfg.local_clients), TCP ones after them */
	struct mgmt_rpc_client *clients;
	unsigned int n_clients;
	struct pollfd *pfd; /* the thread's poll set, and what each is */
	int *map;
	struct base_fd_pause pause; /* out of descriptors: */
	uint64_t accept_resume_ns;  /* listeners rest until then */
};

/* An error response to request id; errnum > 0 names an errno in data. */
json_t *mgmt_rpc_error(json_t *id, int code, const char *message, int errnum);
/* Handle one request line (a request or a batch) for session s (NULL: no
 * socket, as for mgmt_rpc_handle_text).  Returns the response text (free
 * it), or NULL when nothing is to be sent. */
char *mgmt_rpc_handle(struct mgmt_ctx *ctx, const char *text, size_t len,
		      struct mgmt_rpc_session *s);

/* mgmt_rpc_auth.c */
/* daemon.auth, which only a TCP session needs and sees. */
json_t *mgmt_rpc_auth(struct mgmt_rpc_session *s, json_t *id, json_t *params);
/* The token: one line, from a file nobody but its owner can read. */
int mgmt_rpc_token_load(struct mgmt_rpc *rpc, const char *path);

/* A short message on a fresh socket, in plaintext, before it gets a slot
 * or TLS. */
void mgmt_rpc_send_now(int fd, const char *text);

/* mgmt_rpc_tls.c */
/* The TCP listener at addr can serve TLS: credentials are loaded.
 * Returns 0 or -EINVAL after logging. */
int mgmt_rpc_tls_check(const char *addr);
/* A TLS server session for the newly accepted TCP client c. */
int mgmt_rpc_tls_start(struct mgmt_rpc_client *c);
/* Move the handshake on.  Returns 1 when done, 0 to wait (poll for
 * mgmt_rpc_tls_events), -errno (logged) to close. */
int mgmt_rpc_tls_handshake(struct mgmt_rpc_client *c);
short mgmt_rpc_tls_events(const struct mgmt_rpc_client *c);
/* Decrypted bytes wait inside GnuTLS (poll would not say). */
bool mgmt_rpc_tls_pending(const struct mgmt_rpc_client *c);
/* Say goodbye and free the session; nothing for a Unix client. */
void mgmt_rpc_tls_end(struct mgmt_rpc_client *c);
/* The client's bytes, in plaintext or through TLS, never blocking:
 * n > 0, 0 (recv: the peer ended), -EAGAIN, or -errno. */
ssize_t mgmt_rpc_io_recv(struct mgmt_rpc_client *c, void *buf, size_t len);
ssize_t mgmt_rpc_io_send(struct mgmt_rpc_client *c, const void *buf,
			 size_t len);

#endif
