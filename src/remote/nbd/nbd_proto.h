/* SPDX-License-Identifier: MIT */
/*
 * nbd_proto: the NBD protocol engine, a byte-in/byte-out state machine
 * for one client connection (fixed newstyle handshake, then transmission).
 * It never touches a socket: the caller (nbd_server.c for real sockets,
 * tests and fuzzers for transcripts) moves bytes in and out.
 *
 * Receive side: nbd_proto_rx_buf() says where the next bytes should land.
 * Usually that is the engine's own receive buffer; while a large WRITE
 * payload is outstanding it is the request's data buffer itself, so the
 * payload goes from the socket to the buffer the DDM writes from without a
 * copy.  After writing n bytes there, call nbd_proto_rx_done(n).
 *
 * Requests go to storage through the export's IOP descriptor
 * (iopd/local.h); replies are queued as iovecs that the caller collects
 * with nbd_proto_tx_iov() and acknowledges with nbd_proto_tx_done().
 *
 * Threads: everything runs on one worker thread, the one whose loop is in
 * the config.
 */
#ifndef IOPD_NBD_PROTO_H
#define IOPD_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iopd/conn.h"

struct base_loop;
struct nbd_proto;

struct nbd_proto_config {
	const struct conn_exports *exports;
	struct conn_limits limits;
	struct base_loop *loop; /* goes into every iop_msg */
	const char *peer;	/* for log messages */
	/* Output became available (a completion queued a reply).  Called on
	 * the worker thread, possibly from inside rx_done or from a storage
	 * completion; the caller should arrange a send, not send
	 * re-entrantly.  May be NULL for callers that poll tx_iov. */
	void (*tx_ready)(void *opaque);
	void *opaque;
	/* Kept up to date for the management channel; may be NULL. */
	struct conn_stats *stats;
	/* The caller can send file bytes (nbd_proto_tx_file): large READs
	 * may then skip the copy through a buffer. */
	bool zero_copy;
};

/* Create the engine; the initial server greeting is already queued for tx.
 * Returns 0 or -ENOMEM. */
int nbd_proto_create(const struct nbd_proto_config *cfg,
		     struct nbd_proto **protop);

/* Free everything.  Precondition: nbd_proto_inflight() == 0 (closes any
 * open session). */
void nbd_proto_destroy(struct nbd_proto *proto);

/*
 * Where to receive next.  *len == 0 means "do not receive now": all
 * request slots are busy (resume after a completion, i.e. after tx_ready),
 * or the engine is finishing (after NBD_CMD_DISC, NBD_OPT_ABORT, an
 * error, or eof).
 */
void nbd_proto_rx_buf(struct nbd_proto *proto, void **buf, size_t *len);

/*
 * n bytes (0 < n <= the len rx_buf gave) were written at the buffer
 * rx_buf gave.  Parses and acts on them.  Returns 0, or -errno when the
 * stream can no longer be trusted and the caller must disconnect (replies
 * to requests already in flight are dropped).
 */
int nbd_proto_rx_done(struct nbd_proto *proto, size_t n);

/* The peer closed its sending side or the read failed: parse nothing more.
 * Requests in flight still complete. */
void nbd_proto_rx_eof(struct nbd_proto *proto);

/* Fill iov with up to max_iov pieces of pending output; returns how many
 * (0: nothing to send now).  The memory stays valid until tx_done covers
 * it. */
int nbd_proto_tx_iov(struct nbd_proto *proto, struct iovec *iov, int max_iov);

/*
 * When tx_iov returns 0 with output pending, the front of the output is
 * len bytes of the file fd at offset: send them from there (sendfile)
 * and acknowledge with tx_done.  Only with config.zero_copy.
 */
bool nbd_proto_tx_file(struct nbd_proto *proto, int *fd, uint64_t *offset,
		       size_t *len);

/* n bytes from the front of the pending output were sent. */
void nbd_proto_tx_done(struct nbd_proto *proto, size_t n);

/* Requests submitted to storage and not yet completed. */
unsigned int nbd_proto_inflight(const struct nbd_proto *proto);

/*
 * True when the conversation is over (DISC or ABORT received, eof, or a
 * fatal error), nothing is in flight and all output has been handed out
 * and acknowledged: the caller should close the connection.
 */
bool nbd_proto_finished(const struct nbd_proto *proto);

/*
 * Convenience for transcripts, fuzzers and tests: push len bytes through
 * rx_buf/rx_done, copying.  Stops early when rx_buf offers no room; returns
 * the number of bytes consumed, or -errno from rx_done.
 */
long nbd_proto_feed(struct nbd_proto *proto, const void *data, size_t len);

#endif
