/* SPDX-License-Identifier: MIT */
/*
 * The frame every Remote Transport's protocol engine (nbd_proto.c,
 * iscsi_proto.c) is built on: a byte-in/byte-out state machine that never
 * touches a socket.  The frame owns the receive buffer, the output queue,
 * the deferred tx_ready "kick", failing, and the byte-stream API the
 * socket side (remote_stream.c), transcript tests and fuzzers drive.  The
 * protocol owns what the bytes mean, through struct remote_engine_ops.
 *
 * A protocol engine embeds struct remote_engine as its first member and
 * sets its ops; everything then runs on one worker thread.
 *
 * Receive: remote_engine_rx_buf() says where the next bytes go (the
 * receive buffer, or a buffer the protocol named for a payload received
 * in place); remote_engine_rx_done(n) takes them and runs the protocol's
 * rx_step until it needs more input, is paused, or input has closed.
 *
 * Transmit: a FIFO of struct remote_tx entries, each a list of iovecs
 * and a cursor.  remote_engine_tx_iov() gathers what is unsent,
 * remote_engine_tx_file() the file bytes at the front (sendfile), and
 * remote_engine_tx_done(n) moves the cursor and releases entries that
 * are all sent.
 *
 * tx_ready: called when output appears while the queue was empty, and
 * when receiving may resume after a pause, so that the caller re-polls
 * both tx_iov and rx_buf.  Inside an entry point (rx_done, rx_eof,
 * tx_done, a protocol's own between enter and leave) the call is deferred
 * until the outermost one is about to return, so the caller never
 * re-enters the engine half way through parsing.
 */
#ifndef IOPD_REMOTE_ENGINE_H
#define IOPD_REMOTE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct remote_engine;
struct base_loop;
struct conn_stats;
struct remote_mem_worker;

/* remote_tx.kind of a malloc'd block the frame frees; protocols number
 * their own kinds from 1. */
#define REMOTE_TX_BLOCK 0

/* One entry of the output queue. */
struct remote_tx {
	struct remote_tx *next;
	struct iovec *iov;
	int iovcnt;
	int done_iov;	   /* iovecs fully acknowledged */
	size_t done_bytes; /* bytes acknowledged of iov[done_iov] */
	int kind;	   /* REMOTE_TX_BLOCK or the protocol's */
	bool queued;	   /* from tx_push until released */
	/* Input ends when this is queued, the conversation once it is sent
	 * (a refused login, a logout). */
	bool last;
	/* iov[file_iov] (iov_base NULL) is sent from file_fd at file_off
	 * (remote_engine_tx_file), when has_file. */
	bool has_file;
	int file_iov;
	int file_fd;
	uint64_t file_off;
};

struct remote_tx_block {
	struct remote_tx tx;
	struct iovec iov;
	unsigned char data[];
};

/* What the protocol does; called by the frame on the worker thread. */
struct remote_engine_ops {
	const char *name; /* "nbd": logs, when there is no peer name */
	/*
	 * Act on the front of [rstart, rend) (moving rstart past what it
	 * took).  Returns > 0 to be called again, 0 when it needs more
	 * input or must wait, or -errno when the stream can no longer be
	 * trusted (after remote_engine_fail).
	 */
	int (*rx_step)(struct remote_engine *e);
	/* Backpressure: take no input now (no request slot free, or the
	 * peer is not reading its replies).  Checked only outside a
	 * payload received in place. */
	bool (*rx_paused)(const struct remote_engine *e);
	/* A payload is being received in place: where the rest goes.
	 * Returns false otherwise.  NULL: never. */
	bool (*rx_direct)(struct remote_engine *e, void **buf, size_t *len);
	/* n bytes landed where rx_direct said. */
	void (*rx_direct_done)(struct remote_engine *e, size_t n);
	/* Input ended (eof, a failed read, the caller stopped reading);
	 * was_open: it had not closed before.  May be NULL. */
	void (*rx_eof)(struct remote_engine *e, bool was_open);
	/* An entry of the protocol's kind is all sent. */
	void (*tx_release)(struct remote_engine *e, struct remote_tx *tx);
	/* Free the protocol engine (which calls remote_engine_fini). */
	void (*destroy)(struct remote_engine *e);
};

struct remote_engine {
	const struct remote_engine_ops *ops;
	const char *peer; /* for log messages; never NULL */
	/* See the top of this file; may be NULL for callers that poll. */
	void (*tx_ready)(void *opaque);
	void *opaque;

	/* Receive side: unparsed bytes are [rstart, rend) of rbuf. */
	unsigned char *rbuf;
	size_t rcap, rstart, rend;
	bool rx_closed;	  /* no more input is parsed */
	bool failed;	  /* the stream can no longer be trusted */
	bool closing;	  /* an entry marked last was sent */
	bool reparse;	  /* rbuf may hold input a pause held back */
	bool rx_activity; /* input arrived; the protocol clears it */
	/* A read into rbuf takes at most this many bytes (0: what fits),
	 * set by the protocol when a large payload may follow the next
	 * header: the payload is then read straight into its own buffer
	 * (rx_direct), not read into rbuf and copied. */
	size_t rx_read_max;

	/* Output queue. */
	struct remote_tx *tx_head, **tx_tail;
	size_t tx_block_bytes; /* bytes queued in blocks */

	/* Requests handed to storage (or the SCSI command set) and not yet
	 * completed; kept by the protocol. */
	unsigned int inflight;

	int depth; /* entry points running */
	bool kick; /* tx_ready is due when depth returns to 0 */

	/* Transport security (remote_tls.h).  upgrade: the protocol asked
	 * for TLS (NBD_OPT_STARTTLS); input waits until the socket side has
	 * sent the output queued so far and finished the TLS handshake.
	 * Then tls is set, with what the handshake proved of the peer:
	 * tls_dn, the Distinguished Name of a client certificate that
	 * verified against the CA, and tls_psk, the PSK identity (each NULL
	 * when absent; the socket side owns the strings). */
	bool upgrade;
	bool tls;
	const char *tls_dn;
	const char *tls_psk;
	/*
	 * Memory budget (remote_mem.c).  mem_held: bytes of request
	 * buffers charged to this connection (also in stats->
	 * buffered_bytes and the daemon-wide total); mem_budget: its
	 * ceiling (0: none); mem_want: a request of that many bytes is
	 * waiting for room (0: none), its header left unparsed.  loop: the
	 * worker, woken when daemon-wide room frees (NULL: the daemon
	 * budget never makes this engine wait).  The protocol sets
	 * mem_budget, loop and stats after remote_engine_init.
	 */
	size_t mem_held, mem_want, mem_budget;
	struct base_loop *loop;
	struct conn_stats *stats;
	/* Waiting for daemon-wide room: on mem_worker's list (under the
	 * budget's lock). */
	struct remote_mem_worker *mem_worker;
	struct remote_engine *mem_next, *mem_prev;
};

/* Set up an engine with an rcap-byte receive buffer.  peer NULL: the
 * ops' name.  Returns 0 or -ENOMEM. */
int remote_engine_init(struct remote_engine *e,
		       const struct remote_engine_ops *ops, const char *peer,
		       size_t rcap);
/* Free the receive buffer and the queued blocks; other entries are left
 * to the protocol (marked not queued). */
void remote_engine_fini(struct remote_engine *e);
/* The protocol's destroy.  Precondition: inflight == 0. */
void remote_engine_destroy(struct remote_engine *e);

/* Bracket a protocol's own entry point (a timer tick, a completion) so
 * tx_ready is deferred until it returns. */
void remote_engine_enter(struct remote_engine *e);
void remote_engine_leave(struct remote_engine *e);
/* Ask for tx_ready (now, or when the entry point returns). */
void remote_engine_kick(struct remote_engine *e);
/* Mark the stream broken and stop input, logging why once (with the
 * peer's name).  Returns err. */
int remote_engine_fail(struct remote_engine *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Make room for need unparsed bytes.  Returns 0 or -ENOMEM. */
int remote_engine_rx_reserve(struct remote_engine *e, size_t need);

/* Queue tx (iov, iovcnt, kind, last, has_file... set); kicks if the queue
 * was empty. */
void remote_engine_tx_push(struct remote_engine *e, struct remote_tx *tx);
/* A block with room for len bytes at data (iov_len = len); the caller
 * fills it, may shorten iov_len, and pushes it.  NULL: out of memory. */
struct remote_tx_block *remote_tx_block_new(size_t len);
/* Queue head then body (both copied) as one block.  Returns 0 or
 * -ENOMEM. */
int remote_engine_tx_bytes(struct remote_engine *e, const void *head,
			   size_t head_len, const void *body, size_t body_len);

/*
 * The byte-stream API.  rx_buf: where to receive next; *len == 0 means
 * not now (paused, or input has closed).  rx_done: n bytes (0 < n <= the
 * len rx_buf gave) were written there; returns 0, or -errno when the
 * caller must disconnect.  rx_eof: the peer closed its side or the read
 * failed; requests in flight still complete.
 */
void remote_engine_rx_buf(struct remote_engine *e, void **buf, size_t *len);
int remote_engine_rx_done(struct remote_engine *e, size_t n);
void remote_engine_rx_eof(struct remote_engine *e);

/* Up to max_iov pieces of pending output; 0: nothing to send now.  The
 * memory stays valid until tx_done covers it. */
int remote_engine_tx_iov(struct remote_engine *e, struct iovec *iov,
			 int max_iov);
/* When tx_iov returns 0 with output pending, the front of the output may
 * be len bytes of fd at offset: send them from there (sendfile) and
 * acknowledge with tx_done. */
bool remote_engine_tx_file(struct remote_engine *e, int *fd, uint64_t *offset,
			   size_t *len);
/* n bytes from the front of the pending output were sent. */
void remote_engine_tx_done(struct remote_engine *e, size_t n);

/*
 * Memory budget.  Before taking a request that needs a bytes-long
 * buffer, a protocol asks remote_engine_mem_wait(): false means go on
 * (and charge it with remote_engine_mem_charge); true means leave the
 * request unparsed and return 0 from rx_step: input pauses until the
 * connection's own replies drain or, for the daemon-wide budget, until
 * room frees anywhere (the engine is kicked with reparse set).  Never
 * a deadlock: a connection holding nothing always fits its own budget,
 * and a daemon holding nothing fits any request.  mem_put gives bytes
 * back when the buffer is freed or no longer holds reply data.
 */
bool remote_engine_mem_fits(const struct remote_engine *e, size_t bytes);
bool remote_engine_mem_wait(struct remote_engine *e, size_t bytes);
void remote_engine_mem_charge(struct remote_engine *e, size_t bytes);
void remote_engine_mem_put(struct remote_engine *e, size_t bytes);

/* Output gathered in full by the last remote_engine_tx_iov() may be
 * acknowledged late (BASE_IO_F_QUIET): no request in flight (whose
 * reply would queue behind it), no file bytes or last entry in the
 * queue, input open and not paused, nobody waiting for the memory its
 * release frees. */
bool remote_engine_tx_quiet(const struct remote_engine *e);

/* Requests with storage and not yet completed. */
unsigned int remote_engine_inflight(const struct remote_engine *e);
/* The conversation is over, nothing is in flight and all output has
 * been acknowledged: the caller should close the connection. */
bool remote_engine_finished(const struct remote_engine *e);

/*
 * Upgrading to TLS.  The protocol calls remote_engine_starttls() after
 * queueing its last plaintext reply; input stops being parsed.  The
 * socket side waits for remote_engine_upgrade_due() (output all sent),
 * moves any bytes already received past the request out with
 * remote_engine_rx_take() (they are the start of the TLS handshake),
 * runs the handshake and calls remote_engine_secured(), then polls
 * rx_buf again: input resumes.
 */
void remote_engine_starttls(struct remote_engine *e);
bool remote_engine_upgrade_due(const struct remote_engine *e);
size_t remote_engine_rx_take(struct remote_engine *e, void *buf, size_t cap);
void remote_engine_secured(struct remote_engine *e, const char *dn,
			   const char *psk);

/*
 * For transcripts, fuzzers and tests: push len bytes through rx_buf and
 * rx_done, copying.  Stops early when rx_buf offers no room; returns the
 * number of bytes consumed, or -errno from rx_done.
 */
long remote_engine_feed(struct remote_engine *e, const void *data, size_t len);

#endif
