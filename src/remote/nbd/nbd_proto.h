/* SPDX-License-Identifier: MIT */
/*
 * nbd_proto: the NBD protocol engine, a byte-in/byte-out state machine
 * for one client connection (fixed newstyle handshake, then transmission).
 * It never touches a socket: the caller (nbd_server.c for real sockets,
 * tests and fuzzers for transcripts) moves bytes in and out.
 *
 * The byte stream is the frame's (remote_engine.h): the caller drives
 * nbd_proto_engine() with remote_engine_rx_buf/rx_done/tx_iov/tx_done.
 * Usually input lands in the frame's receive buffer; while a large WRITE
 * payload is outstanding it lands in the request's data buffer itself, so
 * the payload goes from the socket to the buffer the DDM writes from
 * without a copy.
 *
 * Requests go to storage through the export's IOP descriptor
 * (iopd/local.h); replies are queued as iovecs, large READs' data as file
 * bytes (remote_engine_tx_file) when the config allows zero copy.
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

#include <sys/socket.h>

#include "iopd/conn.h"
#include "remote/remote_engine.h"

struct base_loop;
struct nbd_proto;

struct nbd_proto_config {
	const struct conn_exports *exports;
	struct conn_limits limits;
	struct base_loop *loop; /* goes into every iop_msg */
	const char *peer;	/* for log messages */
	/* For the exports' allow lists; AF_UNSPEC when the peer has no
	 * address (stdin/stdout, a Unix socket). */
	struct sockaddr_storage peer_addr;
	/* Output became available (a completion queued a reply).  Called on
	 * the worker thread, possibly from inside rx_done or from a storage
	 * completion; the caller should arrange a send, not send
	 * re-entrantly.  May be NULL for callers that poll tx_iov. */
	void (*tx_ready)(void *opaque);
	void *opaque;
	/* Kept up to date for the management channel; may be NULL. */
	struct conn_stats *stats;
	/* The caller can send file bytes (remote_engine_tx_file): large READs
	 * may then skip the copy through a buffer. */
	bool zero_copy;
	/* When the connection started (CLOCK_MONOTONIC ms), for the
	 * handshake deadline; 0: at the first nbd_proto_tick. */
	uint64_t start_ms;
};

/* Create the engine; the initial server greeting is already queued for tx.
 * Returns 0 or -ENOMEM. */
int nbd_proto_create(const struct nbd_proto_config *cfg,
		     struct nbd_proto **protop);

/* Free everything.  Precondition: remote_engine_inflight() == 0 (closes
 * any open session). */
void nbd_proto_destroy(struct nbd_proto *proto);

/* The frame the caller drives: rx_buf, rx_done, rx_eof (requests in
 * flight still complete), tx_iov, tx_file, tx_done, inflight, finished
 * (DISC or ABORT received, eof, or a fatal error, and everything
 * completed and sent) and destroy. */
struct remote_engine *nbd_proto_engine(struct nbd_proto *proto);
/* The engine nbd_proto_engine returned, back. */
struct nbd_proto *nbd_proto_of_engine(struct remote_engine *e);

/*
 * The deadlines of cfg.limits, checked about once a second with a
 * monotonic clock: the whole negotiation (handshake_timeout_ms from
 * start_ms), a request whose header or WRITE payload stopped arriving
 * half way (payload_timeout_ms without a byte, not counting time the
 * engine itself paused reading), and, in transmission, idleness
 * (idle_timeout_ms without a byte or a request in flight).  Returns 0,
 * or -ETIMEDOUT after failing the engine (logged, counted): the caller
 * disconnects.
 */
int nbd_proto_tick(struct nbd_proto *proto, uint64_t now_ms);

#endif
