// SPDX-License-Identifier: MIT
/*
 * nbd_proto: the engine's frame.  It owns the receive buffer and the
 * output queue, runs the parsers (nbd_handshake.c while negotiating,
 * nbd_cmd.c in transmission), and implements the public API of
 * nbd_proto.h.  It never touches a socket and never blocks.
 *
 * tx_ready: the engine calls cfg->tx_ready when output appears while the
 * queue was empty, and when receiving may resume after a pause (a request
 * slot or negotiation output was freed), so that the caller re-polls both
 * nbd_proto_tx_iov() and nbd_proto_rx_buf().  When that happens inside one
 * of our entry points (rx_done, rx_eof, tx_done, or a storage completion
 * running inside submit), the call is deferred until the entry point is
 * about to return, so the caller never re-enters the engine while it is
 * half way through parsing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/remote_stats.h"
#include "remote/nbd/nbd_proto_priv.h"
#include "remote/remote_tx.h"

static void nbd_enter(struct nbd_proto *proto)
{
	proto->depth++;
}

static void nbd_leave(struct nbd_proto *proto)
{
	if (--proto->depth > 0 || !proto->kick)
		return;
	proto->kick = false;
	if (proto->cfg.tx_ready)
		proto->cfg.tx_ready(proto->cfg.opaque);
}

void nbd_proto_kick(struct nbd_proto *proto)
{
	proto->kick = true;
	if (proto->depth == 0) {
		nbd_enter(proto);
		nbd_leave(proto);
	}
}

int nbd_proto_fail(struct nbd_proto *proto, int err, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (!proto->failed) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		log_info("%s: %s; disconnecting", nbd_peer(proto), why);
	}
	proto->failed = true;
	proto->rx_closed = true;
	return err;
}

/*
 * The one place where an errno becomes an NBD error value.  proto.md
 * restricts the wire to a fixed set and says EDQUOT and EFBIG SHOULD map to
 * NBD_ENOSPC; anything without an equivalent is an I/O error.
 */
uint32_t nbd_error_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case EIO:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
	case EOPNOTSUPP:
#endif
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

/* ---- output queue ---- */

void nbd_tx_push(struct nbd_proto *proto, struct nbd_tx *tx)
{
	bool was_empty = proto->tx_head == NULL;

	tx->next = NULL;
	tx->done_iov = 0;
	tx->done_bytes = 0;
	*proto->tx_tail = tx;
	proto->tx_tail = &tx->next;
	if (was_empty)
		nbd_proto_kick(proto);
}

int nbd_tx_push_bytes(struct nbd_proto *proto, const void *head,
		      size_t head_len, const void *body, size_t body_len)
{
	struct nbd_tx_block *block =
		malloc(sizeof(*block) + head_len + body_len);

	if (!block)
		return -ENOMEM;
	if (head_len)
		memcpy(block->data, head, head_len);
	if (body_len)
		memcpy(block->data + head_len, body, body_len);
	block->iov.iov_base = block->data;
	block->iov.iov_len = head_len + body_len;
	block->tx.iov = &block->iov;
	block->tx.iovcnt = 1;
	block->tx.is_slot = false;
	block->tx.has_file = false;
	proto->tx_block_bytes += block->iov.iov_len;
	nbd_tx_push(proto, &block->tx);
	return 0;
}

static void nbd_tx_release(struct nbd_proto *proto, struct nbd_tx *tx)
{
	struct nbd_tx_block *block;

	if (tx->is_slot) {
		nbd_cmd_slot_release((struct nbd_slot *)tx);
		return;
	}
	block = (struct nbd_tx_block *)tx;
	proto->tx_block_bytes -= block->iov.iov_len;
	free(block);
}

int nbd_proto_tx_iov(struct nbd_proto *proto, struct iovec *iov, int max_iov)
{
	int n = 0;

	for (struct nbd_tx *tx = proto->tx_head; tx && n < max_iov;
	     tx = tx->next)
		/* File bytes go by nbd_proto_tx_file, in order. */
		if (!remote_tx_gather(
			    tx->iov, tx->iovcnt, tx->done_iov, tx->done_bytes,
			    tx->has_file ? tx->file_iov : -1, iov, &n, max_iov))
			break;
	return n;
}

/* ---- receive side ---- */

/* Stop reading because of backpressure: no slot for the next request, or
 * the client is not reading its negotiation replies. */
static bool nbd_rx_paused(const struct nbd_proto *proto)
{
	if (proto->rx_state != NBD_RX_PARSE)
		return false;
	if (proto->phase == NBD_PHASE_TRANSMISSION)
		return !nbd_cmd_slot_available(proto);
	return proto->tx_block_bytes > NBD_HS_TX_MAX_BYTES;
}

int nbd_rx_reserve(struct nbd_proto *proto, size_t need)
{
	unsigned char *p;

	if (proto->rcap >= need)
		return 0;
	p = realloc(proto->rbuf, need);
	if (!p)
		return -ENOMEM;
	proto->rbuf = p;
	proto->rcap = need;
	return 0;
}

/* Run the parsers over what is buffered until they need more input, are
 * paused, or the conversation ends.  Returns 0 or -errno (fatal). */
static int nbd_rx_parse(struct nbd_proto *proto)
{
	int ret = 0;

	while (!proto->rx_closed) {
		if (proto->rx_state == NBD_RX_DISCARD) {
			size_t take = proto->rend - proto->rstart;

			if (take > proto->discard_left)
				take = (size_t)proto->discard_left;
			proto->rstart += take;
			proto->discard_left -= take;
			if (proto->discard_left > 0)
				break;
			proto->rx_state = NBD_RX_PARSE;
			if (proto->phase == NBD_PHASE_TRANSMISSION)
				nbd_cmd_discarded(proto);
			else
				ret = nbd_hs_discarded(proto);
			if (ret < 0)
				break;
			continue;
		}
		if (proto->rx_state != NBD_RX_PARSE)
			break;
		if (proto->phase == NBD_PHASE_TRANSMISSION)
			ret = nbd_cmd_parse(proto);
		else
			ret = nbd_hs_parse(proto);
		if (ret <= 0)
			break;
	}
	if (proto->rstart == proto->rend)
		proto->rstart = proto->rend = 0;
	return ret < 0 ? ret : 0;
}

void nbd_proto_rx_buf(struct nbd_proto *proto, void **buf, size_t *len)
{
	struct nbd_slot *slot = proto->rx_slot;

	*buf = NULL;
	*len = 0;
	if (proto->rx_closed)
		return;
	if (proto->rx_state == NBD_RX_PAYLOAD) {
		*buf = slot->data + slot->rx_got;
		*len = slot->req.length - slot->rx_got;
		return;
	}
	if (nbd_rx_paused(proto))
		return;
	if (proto->rstart > 0) {
		memmove(proto->rbuf, proto->rbuf + proto->rstart,
			proto->rend - proto->rstart);
		proto->rend -= proto->rstart;
		proto->rstart = 0;
	}
	*buf = proto->rbuf + proto->rend;
	*len = proto->rcap - proto->rend;
}

int nbd_proto_rx_done(struct nbd_proto *proto, size_t n)
{
	struct nbd_slot *slot = proto->rx_slot;
	int ret = 0;

	if (proto->rx_closed || n == 0)
		return proto->failed ? -EPROTO : 0;
	nbd_enter(proto);
	if (proto->rx_state == NBD_RX_PAYLOAD) {
		size_t left = slot->req.length - slot->rx_got;

		slot->rx_got += (uint32_t)(n < left ? n : left);
		if (slot->rx_got == slot->req.length)
			nbd_cmd_payload_done(proto);
	} else {
		proto->rend += n <= proto->rcap - proto->rend
				       ? n
				       : proto->rcap - proto->rend;
	}
	ret = nbd_rx_parse(proto);
	nbd_leave(proto);
	return ret;
}

void nbd_proto_rx_eof(struct nbd_proto *proto)
{
	nbd_enter(proto);
	if (!proto->rx_closed) {
		proto->rx_closed = true;
		if (proto->rx_slot)
			nbd_cmd_rx_abandon(proto);
	}
	nbd_leave(proto);
}

bool nbd_proto_tx_file(struct nbd_proto *proto, int *fd, uint64_t *offset,
		       size_t *len)
{
	const struct nbd_tx *tx = proto->tx_head;

	if (!tx || !tx->has_file || tx->done_iov != tx->file_iov)
		return false;
	*fd = tx->file_fd;
	*offset = tx->file_off + tx->done_bytes;
	*len = tx->iov[tx->file_iov].iov_len - tx->done_bytes;
	return true;
}

void nbd_proto_tx_done(struct nbd_proto *proto, size_t n)
{
	bool was_paused = !proto->rx_closed && nbd_rx_paused(proto);
	struct nbd_tx *tx;

	nbd_enter(proto);
	while ((tx = proto->tx_head)) {
		if (!remote_tx_ack(tx->iov, tx->iovcnt, &tx->done_iov,
				   &tx->done_bytes, &n))
			break;
		proto->tx_head = tx->next;
		if (!proto->tx_head)
			proto->tx_tail = &proto->tx_head;
		nbd_tx_release(proto, tx);
	}
	/* Requests may wait in the receive buffer for the slot that just
	 * came free: the client may be waiting for our replies and send
	 * nothing more, so nobody else would parse them. */
	if (was_paused && !proto->rx_closed && !nbd_rx_paused(proto)) {
		nbd_rx_parse(proto);
		proto->kick = true;
	}
	nbd_leave(proto);
}

/* ---- lifecycle ---- */

int nbd_proto_create(const struct nbd_proto_config *cfg,
		     struct nbd_proto **protop)
{
	struct nbd_proto *proto = calloc(1, sizeof(*proto));
	int ret;

	if (!proto)
		return -ENOMEM;
	proto->cfg = *cfg;
	if (proto->cfg.limits.max_request_bytes == 0)
		proto->cfg.limits.max_request_bytes =
			CONN_DEFAULT_MAX_REQUEST_BYTES;
	if (proto->cfg.limits.max_request_bytes > NBD_REQUEST_CAP_BYTES)
		proto->cfg.limits.max_request_bytes = NBD_REQUEST_CAP_BYTES;
	proto->max_slots = proto->cfg.limits.max_inflight
				   ? proto->cfg.limits.max_inflight
				   : CONN_DEFAULT_MAX_INFLIGHT;
	proto->tx_tail = &proto->tx_head;
	proto->rbuf = malloc(NBD_RX_HANDSHAKE_BYTES);
	if (!proto->rbuf) {
		ret = -ENOMEM;
		goto err_free_proto;
	}
	proto->rcap = NBD_RX_HANDSHAKE_BYTES;
	/* No tx_ready for the greeting: the caller has not even got the
	 * engine pointer yet. */
	proto->depth = 1;
	ret = nbd_hs_greeting(proto);
	proto->depth = 0;
	proto->kick = false;
	if (ret < 0)
		goto err_free_rbuf;
	*protop = proto;
	return 0;

err_free_rbuf:
	free(proto->rbuf);
err_free_proto:
	free(proto);
	return ret;
}

void nbd_proto_destroy(struct nbd_proto *proto)
{
	struct nbd_tx *tx, *next;

	if (!proto)
		return;
	/* A negotiation the engine gave up on (a client that merely
	 * listed exports or hung up is not a failure). */
	if (proto->phase != NBD_PHASE_TRANSMISSION && proto->failed)
		remote_stats_handshake("nbd", false);
	for (tx = proto->tx_head; tx; tx = next) {
		next = tx->next;
		if (!tx->is_slot)
			free(tx);
	}
	nbd_cmd_slots_free(proto);
	if (proto->session)
		proto->export->desc->ops->session_close(proto->session);
	free(proto->meta_name);
	free(proto->rbuf);
	free(proto);
}

unsigned int nbd_proto_inflight(const struct nbd_proto *proto)
{
	return proto->inflight;
}

bool nbd_proto_finished(const struct nbd_proto *proto)
{
	return proto->rx_closed && proto->inflight == 0 && !proto->tx_head;
}

long nbd_proto_feed(struct nbd_proto *proto, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t done = 0;

	while (done < len) {
		void *buf;
		size_t room;
		int ret;

		nbd_proto_rx_buf(proto, &buf, &room);
		if (room == 0)
			break;
		if (room > len - done)
			room = len - done;
		memcpy(buf, p + done, room);
		done += room;
		ret = nbd_proto_rx_done(proto, room);
		if (ret < 0)
			return ret;
	}
	return (long)done;
}
