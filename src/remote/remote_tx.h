/* SPDX-License-Identifier: MIT */
/*
 * Output bookkeeping shared by the protocol engines (nbd_proto.c,
 * iscsi_proto.c).  Each engine queues replies as entries holding an iovec
 * array and a cursor (done_iov, done_bytes: what the socket has taken so
 * far); these two steps walk one entry, so the engines keep only their own
 * queue and release policy.
 */
#ifndef IOPD_REMOTE_TX_H
#define IOPD_REMOTE_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/*
 * Append to out[*n] (up to max) the unsent pieces of iov[0..iovcnt) from
 * the cursor on, stopping before iovec stop_at (-1: none; an iovec whose
 * bytes go out another way, e.g. by sendfile).  Returns false if it
 * stopped there, true if the whole entry fit or out is full.
 */
bool remote_tx_gather(const struct iovec *iov, int iovcnt, int done_iov,
		      size_t done_bytes, int stop_at, struct iovec *out, int *n,
		      int max);

/*
 * Move the cursor over up to *sent bytes, taking them off *sent.  Returns
 * true when the entry is all sent.
 */
bool remote_tx_ack(const struct iovec *iov, int iovcnt, int *done_iov,
		   size_t *done_bytes, size_t *sent);

#endif
