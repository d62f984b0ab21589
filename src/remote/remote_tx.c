// SPDX-License-Identifier: MIT
/* Output bookkeeping shared by the protocol engines; see remote_tx.h. */
#include "remote/remote_tx.h"

bool remote_tx_gather(const struct iovec *iov, int iovcnt, int done_iov,
		      size_t done_bytes, int stop_at, struct iovec *out, int *n,
		      int max)
{
	for (int i = done_iov; i < iovcnt && *n < max; i++) {
		size_t off = i == done_iov ? done_bytes : 0;

		if (iov[i].iov_len == off)
			continue;
		if (i == stop_at)
			return false;
		out[*n].iov_base = (char *)iov[i].iov_base + off;
		out[*n].iov_len = iov[i].iov_len - off;
		(*n)++;
	}
	return true;
}

bool remote_tx_ack(const struct iovec *iov, int iovcnt, int *done_iov,
		   size_t *done_bytes, size_t *sent)
{
	while (*done_iov < iovcnt) {
		size_t left = iov[*done_iov].iov_len - *done_bytes;

		if (left > *sent) {
			*done_bytes += *sent;
			*sent = 0;
			return false;
		}
		*sent -= left;
		(*done_iov)++;
		*done_bytes = 0;
	}
	return true;
}
