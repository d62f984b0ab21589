/* SPDX-License-Identifier: MIT */
/*
 * The socket side shared by the Remote Transports' servers (nbd_server.c,
 * iscsi_server.c): one outstanding read and one outstanding write per
 * connection on the worker's loop, moving bytes between the fds and a
 * protocol engine's frame (remote_engine.h).  Engine-agnostic: the
 * server keeps its own teardown policy (when to post the free, lingering,
 * timers) and calls remote_stream_pump() from its own pump.
 */
#ifndef IOPD_REMOTE_STREAM_H
#define IOPD_REMOTE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/base_loop.h"
#include "iopd/remote.h"
#include "remote/remote_engine.h"

#define REMOTE_STREAM_TX_IOV 64

struct remote_stream {
	struct remote_engine *engine; /* set once the engine is created */
	/* The byte transform between the socket and the engine (TLS, once
	 * the protocol upgraded); NULL: plaintext, bytes go straight to the
	 * engine's buffers (remote_tls.h). */
	struct remote_xform *xform;
	/* The server's pump, run after every read or write completes. */
	void (*pump)(struct remote_conn *conn);
	struct remote_conn *conn; /* the connection embedding this */
	struct base_loop *loop;
	int rx_fd, tx_fd;
	struct base_io rx_io, tx_io;
	struct iovec tx_iov[REMOTE_STREAM_TX_IOV];
	bool rx_busy, tx_busy;
	bool rx_closed; /* the engine takes no more input */
	bool rx_eof;	/* a read returned 0 or an error */
	bool tx_broken; /* the peer is gone: drop output */
	bool close_posted;
	bool tx_sock; /* tx_fd is a stream socket: replies may be quiet */
	/* remote_stream_rx_stop() ends a pending read with shutdown(SHUT_RD);
	 * otherwise the read stays and its bytes are dropped. */
	bool rx_stop_shuts;
	struct conn_stats *stats; /* the Connection Manager's; may be NULL */
	void (*closed)(void *opaque, struct remote_conn *conn);
	void *opaque;
	char peer[64];
};

/*
 * A Remote Transport's connection, the object iopd/remote.h hands the
 * Connection Manager.  Every server's connection starts with it (NBD
 * needs nothing more; iSCSI adds its timer and lingering).
 */
struct remote_conn {
	struct remote_stream s;
};

/*
 * A server's conn_start: allocate its connection (size bytes, a struct
 * that starts with struct remote_conn), zeroed, with the stream set up
 * from args (remote_stream_init) and TCP_NODELAY on.  NULL: out of
 * memory, and the fds are closed.
 */
struct remote_conn *remote_conn_new(size_t size,
				    void (*pump)(struct remote_conn *conn),
				    const struct remote_conn_args *args);
/* The engine exists: attach it and start the I/O (runs the pump). */
void remote_conn_start(struct remote_conn *c, struct remote_engine *engine);
/* conn_start failed after remote_conn_new: close the fds, free c. */
void remote_conn_discard(struct remote_conn *c);

/* Copies the fds, loop, stats, closed callback and peer from args. */
void remote_stream_init(struct remote_stream *s,
			void (*pump)(struct remote_conn *conn),
			struct remote_conn *conn,
			const struct remote_conn_args *args);

void remote_stream_close_fds(int rx_fd, int tx_fd);

/* Destroys the engine, closes the fds and calls closed(); the caller
 * frees the connection next.  Only once nothing is outstanding. */
void remote_stream_release(struct remote_stream *s);

/* Stop reading for good: tells the engine (rx_eof). */
void remote_stream_rx_stop(struct remote_stream *s);

/* The stream is lost: stop both ways, drop output. */
void remote_stream_break(struct remote_stream *s);

/* Submit a read into buf; its completion feeds the engine (or drops the
 * bytes after rx_closed) and runs the pump.  Returns 0 or -errno. */
int remote_stream_read(struct remote_stream *s, void *buf, size_t len);

/* Start whatever I/O can start (a read if the engine wants bytes, writes
 * until one is in flight or the engine has nothing left) and stop reading
 * once the engine has finished.  Returns whether the engine had finished
 * (checked before that stop).  Never frees. */
bool remote_stream_pump(struct remote_stream *s);

/* Nothing in flight, the engine finished and the transform has nothing
 * left to write: the server may post its free. */
bool remote_stream_idle(struct remote_stream *s);

/* Schedule fn(arg) (the server's free) on the loop, once. */
void remote_stream_post_free(struct remote_stream *s, void (*fn)(void *),
			     void *arg);

#endif
