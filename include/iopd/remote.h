/* SPDX-License-Identifier: MIT */
/*
 * The seam between the Connection Manager and a Remote Transport.  A
 * Remote Transport binds its listeners (remote_listen_*) and joins the
 * registry below; the Connection Manager, which owns accepting and
 * admitting, finds each listener's transport there by name and hands each
 * admitted client to it on a chosen worker with conn_start.
 */
#ifndef IOPD_REMOTE_H
#define IOPD_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base_acl.h"
#include "iopd/conn.h"

struct base_loop;
struct sockaddr;
struct sockaddr_storage;
struct remote_conn;

struct remote_conn_args {
	int rx_fd;		/* the transport owns both fds from here */
	int tx_fd;		/* == rx_fd for sockets */
	struct base_loop *loop; /* the worker's loop; conn stays on it */
	const struct conn_exports *exports;
	struct conn_limits limits;
	const char *peer; /* "127.0.0.1:53012", for logs; copied */
	/* The peer's address, for the exports' allow lists
	 * (remote_export_access); copied.  NULL when the peer has none
	 * (stdin/stdout). */
	const struct sockaddr_storage *peer_addr;
	/* What connmgr_listener_add was given for this listener: the
	 * transport's own configuration (iSCSI targets...).  May be NULL. */
	void *transport_ctx;
	/* The Connection Manager's record of this connection, which the
	 * transport keeps up to date on the worker thread.  May be NULL. */
	struct conn_stats *stats;
	/* The connection's id (as `conn list` shows it), and how to end
	 * another connection by its id.  0 and NULL outside the Connection
	 * Manager's workers (stdin/stdout, tests). */
	uint64_t id;
	const struct conn_control *control;
	/* Called on the worker thread once the connection has fully closed
	 * (fds closed, nothing in flight).  The conn pointer is then dead. */
	void (*closed)(void *opaque, struct remote_conn *conn);
	void *opaque;
};

struct remote_transport_ops {
	const char *name; /* "nbd" */
	/* On the worker thread of args->loop.  Returns 0 or -errno (then
	 * the fds are closed and closed() is not called). */
	int (*conn_start)(const struct remote_conn_args *args,
			  struct remote_conn **connp);
	/* Ask a connection to end: stop reading, let in-flight requests
	 * finish, send their replies, close.  closed() follows.  Worker
	 * thread. */
	void (*conn_shutdown)(struct remote_conn *conn);
	/* End a connection now, after conn_shutdown took too long (a peer
	 * that stopped reading): close the socket both ways and drop
	 * unsent replies.  Storage requests in flight still complete
	 * before closed().  Worker thread. */
	void (*conn_abort)(struct remote_conn *conn);
	/* Does conn hold a session on exp?  For transports whose connection
	 * may use several exports (iSCSI LUNs); NULL means "its
	 * conn_stats.export is exp".  Worker thread.  An export being
	 * removed drains the connections that use it. */
	bool (*conn_uses)(struct remote_conn *conn,
			  const struct conn_export *exp);
	/* A reload replaced this connection's transport_ctx with ctx (the
	 * old one is freed once every connection was told): use ctx from
	 * now on and keep no pointer into the old one.  Returns false when
	 * the session would not be admitted under ctx (its target gone, its
	 * initiator no longer allowed...): the caller then ends it with
	 * conn_shutdown.  Worker thread.  NULL: the transport takes no
	 * context (NBD). */
	bool (*conn_reconfigure)(struct remote_conn *conn, void *ctx);
	/* The Connection Manager refuses this client (a connection cap is
	 * reached): like conn_start, but the connection only tells the
	 * client so in the protocol's words (iSCSI: the first Login is
	 * answered "out of resources"), within its handshake deadline,
	 * then closes; it serves nothing.  NULL: the protocol has no such
	 * words and the Connection Manager closes the socket before any
	 * byte is sent (NBD: before the greeting). */
	int (*conn_refuse)(const struct remote_conn_args *args,
			   struct remote_conn **connp);
	/* About once a second, from the worker's sweep (connmgr.c), with a
	 * monotonic clock: end the connection if one of its deadlines
	 * (conn_limits) has passed.  It may close later (closed()), never
	 * inside this call.  Worker thread.  NULL: the transport keeps its
	 * own timers (iSCSI). */
	void (*conn_tick)(struct remote_conn *conn, uint64_t now_ms);
};

/*
 * The registry of the Remote Transports built into this iopd (the
 * Makefile's TRANSPORTS, e.g. "nbd iscsi").  A listener names its
 * transport and the Connection Manager looks the table up here, so no
 * code above this box names a transport's table and a build without one
 * of them still links.  Any thread; the tables live as long as iopd.
 */
/* The transport called name ("nbd", "iscsi"), or NULL if it is not built
 * in. */
const struct remote_transport_ops *remote_transport_find(const char *name);
/* The i-th built-in transport, in a fixed order; NULL past the last. */
const struct remote_transport_ops *remote_transport_at(unsigned int i);
/* Their names, space separated ("nbd iscsi"), in buf; returns buf. */
const char *remote_transport_names(char *buf, size_t len);

/* The CONN_PROTO_ bit of the transport called name, 0 if none. */
unsigned int remote_proto_bit(const char *name);
/*
 * May a client of the transport whose bit is proto, at peer (NULL: no
 * address, e.g. stdin/stdout), open a session on exp?  0 if so;
 * -ENOENT when exp is not offered over that protocol at all (the client
 * should see it as absent), -EACCES when the export's allow/deny list
 * refuses the address.  Call it in the callback that looked exp up.
 */
/* May NBD connection conn, as it is secured now, use exp under its TLS
 * policy (exp->tls)?  0, or -EACCES.  The connection's worker thread
 * (a live change of the policy checks the connections already open). */
int remote_conn_tls_access(struct remote_conn *conn,
			   const struct conn_export *exp);
int remote_export_access(const struct conn_export *exp, unsigned int proto,
			 const struct sockaddr *peer);

/*
 * Listener helpers shared by all Remote Transports.  addr is
 * "HOST:PORT", "[V6]:PORT", ":PORT" (every address) or "unix:PATH".
 * Returns the number of listening fds stored in fds (a host name may bind
 * several), or -errno after logging why.
 */
int remote_listen_bind(const char *addr, int default_port, int *fds,
		       int max_fds);
/*
 * A listener with options, as --listen and --iscsi-listen take it:
 * "ADDR[,KEY=VALUE...]".  TCP addresses take allow=CIDR and deny=CIDR
 * (repeatable; who may connect), unix:PATH takes mode=OCTAL (the
 * socket's file mode, set before anyone can connect) and uid=USER,
 * gid=GROUP (repeatable; SO_PEERCRED).  The path or address ends at the
 * first comma.
 */
struct remote_listen_opts {
	int mode; /* -1: not given */
	struct base_acl acl;
};
/* Split spec into addr (len bytes) and o (base_acl_fini its acl).
 * Returns 0 or -errno after logging. */
int remote_listen_parse(const char *spec, char *addr, size_t len,
			struct remote_listen_opts *o);
/* remote_listen_bind for a spec with options; the mode is applied, and
 * the allow lists are returned in *acl (zeroed by the caller; the caller
 * finishes it) for connmgr_listener_set_access. */
int remote_listen_bind_spec(const char *spec, int default_port, int *fds,
			    int max_fds, struct base_acl *acl);
/* "tcp 127.0.0.1:10809", "tcp [::1]:10809" or "unix /path" for a bound
 * socket.  Returns 0 or -errno. */
int remote_listen_describe(int fd, char *buf, size_t len);

#endif
