// SPDX-License-Identifier: MIT
/*
 * The protocol engines' frame (remote_engine.h): receive buffer, output
 * queue, deferred tx_ready, failing and the byte-stream API.  What the
 * bytes mean is the protocol's, reached through remote_engine_ops.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "remote/remote_engine.h"
#include "remote/remote_mem.h"
#include "remote/remote_tx.h"

int remote_engine_init(struct remote_engine *e,
		       const struct remote_engine_ops *ops, const char *peer,
		       size_t rcap)
{
	e->ops = ops;
	e->peer = peer ? peer : ops->name;
	e->tx_tail = &e->tx_head;
	e->rbuf = malloc(rcap);
	if (!e->rbuf)
		return -ENOMEM;
	e->rcap = rcap;
	return 0;
}

void remote_engine_fini(struct remote_engine *e)
{
	struct remote_tx *tx, *next;

	for (tx = e->tx_head; tx; tx = next) {
		next = tx->next;
		tx->queued = false;
		if (tx->kind == REMOTE_TX_BLOCK)
			free(tx);
	}
	e->tx_head = NULL;
	e->tx_tail = &e->tx_head;
	/* The protocol frees its request buffers after this: give their
	 * charges back here, once. */
	remote_engine_mem_put(e, e->mem_held);
	remote_engine_mem_unwait(e);
	free(e->rbuf);
	e->rbuf = NULL;
}

void remote_engine_destroy(struct remote_engine *e)
{
	e->ops->destroy(e);
}

void remote_engine_enter(struct remote_engine *e)
{
	e->depth++;
}

void remote_engine_leave(struct remote_engine *e)
{
	if (--e->depth > 0 || !e->kick)
		return;
	e->kick = false;
	if (e->tx_ready)
		e->tx_ready(e->opaque);
}

void remote_engine_kick(struct remote_engine *e)
{
	e->kick = true;
	if (e->depth == 0) {
		remote_engine_enter(e);
		remote_engine_leave(e);
	}
}

int remote_engine_fail(struct remote_engine *e, int err, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	if (!e->failed) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		log_info("%s: %s; disconnecting", e->peer, why);
	}
	e->failed = true;
	e->rx_closed = true;
	return err;
}

int remote_engine_rx_reserve(struct remote_engine *e, size_t need)
{
	unsigned char *p;

	if (e->rcap >= need)
		return 0;
	p = realloc(e->rbuf, need);
	if (!p)
		return -ENOMEM;
	e->rbuf = p;
	e->rcap = need;
	return 0;
}

/* ---- output queue ---- */

void remote_engine_tx_push(struct remote_engine *e, struct remote_tx *tx)
{
	bool was_empty = e->tx_head == NULL;

	tx->next = NULL;
	tx->done_iov = 0;
	tx->done_bytes = 0;
	tx->queued = true;
	*e->tx_tail = tx;
	e->tx_tail = &tx->next;
	if (tx->kind == REMOTE_TX_BLOCK)
		e->tx_block_bytes += tx->iov[0].iov_len;
	if (tx->last)
		e->rx_closed = true;
	if (was_empty)
		remote_engine_kick(e);
}

struct remote_tx_block *remote_tx_block_new(size_t len)
{
	struct remote_tx_block *b = malloc(sizeof(*b) + len);

	if (!b)
		return NULL;
	memset(&b->tx, 0, sizeof(b->tx));
	b->tx.kind = REMOTE_TX_BLOCK;
	b->tx.iov = &b->iov;
	b->tx.iovcnt = 1;
	b->iov.iov_base = b->data;
	b->iov.iov_len = len;
	return b;
}

int remote_engine_tx_bytes(struct remote_engine *e, const void *head,
			   size_t head_len, const void *body, size_t body_len)
{
	struct remote_tx_block *b = remote_tx_block_new(head_len + body_len);

	if (!b)
		return -ENOMEM;
	if (head_len)
		memcpy(b->data, head, head_len);
	if (body_len)
		memcpy(b->data + head_len, body, body_len);
	remote_engine_tx_push(e, &b->tx);
	return 0;
}

static void remote_engine_tx_release(struct remote_engine *e,
				     struct remote_tx *tx)
{
	tx->queued = false;
	if (tx->last)
		e->closing = true;
	if (tx->kind != REMOTE_TX_BLOCK) {
		e->ops->tx_release(e, tx);
		return;
	}
	e->tx_block_bytes -= tx->iov[0].iov_len;
	free(tx);
}

int remote_engine_tx_iov(struct remote_engine *e, struct iovec *iov,
			 int max_iov)
{
	int n = 0;

	for (struct remote_tx *tx = e->tx_head; tx && n < max_iov;
	     tx = tx->next)
		/* File bytes go by remote_engine_tx_file, in order. */
		if (!remote_tx_gather(
			    tx->iov, tx->iovcnt, tx->done_iov, tx->done_bytes,
			    tx->has_file ? tx->file_iov : -1, iov, &n, max_iov))
			break;
	return n;
}

bool remote_engine_tx_file(struct remote_engine *e, int *fd, uint64_t *offset,
			   size_t *len)
{
	const struct remote_tx *tx = e->tx_head;

	if (!tx || !tx->has_file || tx->done_iov != tx->file_iov)
		return false;
	*fd = tx->file_fd;
	*offset = tx->file_off + tx->done_bytes;
	*len = tx->iov[tx->file_iov].iov_len - tx->done_bytes;
	return true;
}

bool remote_engine_tx_quiet(const struct remote_engine *e)
{
	for (const struct remote_tx *tx = e->tx_head; tx; tx = tx->next)
		if (tx->has_file || tx->last)
			return false;
	return e->inflight == 0 && !e->rx_closed && !e->upgrade &&
	       !e->closing && !e->mem_want && !e->ops->rx_paused(e) &&
	       !remote_mem_contended();
}

/* ---- receive side ---- */

/* Run the protocol over what is buffered until it needs more input, is
 * paused, or input closes.  Returns 0 or -errno (fatal). */
static int remote_engine_parse(struct remote_engine *e)
{
	int ret = 0;

	while (!e->rx_closed && !e->upgrade) {
		ret = e->ops->rx_step(e);
		if (ret <= 0)
			break;
	}
	if (e->rstart == e->rend)
		e->rstart = e->rend = 0;
	return ret < 0 ? ret : 0;
}

/* Take no input now: the protocol's backpressure, or a request waiting
 * for memory. */
static bool remote_engine_paused(const struct remote_engine *e)
{
	return e->ops->rx_paused(e) ||
	       (e->mem_want && !remote_engine_mem_fits(e, e->mem_want));
}

static bool remote_engine_rx_direct(struct remote_engine *e, void **buf,
				    size_t *len)
{
	return e->ops->rx_direct && e->ops->rx_direct(e, buf, len);
}

void remote_engine_rx_buf(struct remote_engine *e, void **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (e->rx_closed || e->upgrade)
		return;
	if (remote_engine_rx_direct(e, buf, len) || e->ops->rx_paused(e))
		return;
	if (e->mem_want) {
		/* A request waits for memory: ask again (which puts us on
		 * the daemon budget's list if that is what is short). */
		if (remote_engine_mem_wait(e, e->mem_want))
			return;
		e->reparse = true;
	}
	if (e->reparse) {
		/* Room came free outside tx_done (an aborted request came
		 * back): input may wait in rbuf for it. */
		e->reparse = false;
		remote_engine_enter(e);
		if (remote_engine_parse(e) < 0)
			e->failed = true;
		remote_engine_leave(e);
		remote_engine_rx_buf(e, buf, len);
		return;
	}
	if (e->rstart > 0) {
		memmove(e->rbuf, e->rbuf + e->rstart, e->rend - e->rstart);
		e->rend -= e->rstart;
		e->rstart = 0;
	}
	*buf = e->rbuf + e->rend;
	*len = e->rcap - e->rend;
	if (e->rx_read_max && *len > e->rx_read_max)
		*len = e->rx_read_max;
}

int remote_engine_rx_done(struct remote_engine *e, size_t n)
{
	void *buf;
	size_t len;
	int ret;

	if (e->rx_closed || n == 0)
		return e->failed ? -EPROTO : 0;
	remote_engine_enter(e);
	e->rx_activity = true;
	if (remote_engine_rx_direct(e, &buf, &len))
		e->ops->rx_direct_done(e, n);
	else
		e->rend += n <= e->rcap - e->rend ? n : e->rcap - e->rend;
	ret = remote_engine_parse(e);
	if (e->failed && ret == 0)
		ret = -EPROTO;
	remote_engine_leave(e);
	return ret;
}

void remote_engine_rx_eof(struct remote_engine *e)
{
	bool was_open = !e->rx_closed;

	remote_engine_enter(e);
	e->rx_closed = true;
	if (e->ops->rx_eof)
		e->ops->rx_eof(e, was_open);
	remote_engine_leave(e);
}

void remote_engine_tx_done(struct remote_engine *e, size_t n)
{
	bool was_paused = !e->rx_closed && remote_engine_paused(e);
	struct remote_tx *tx;

	remote_engine_enter(e);
	while ((tx = e->tx_head)) {
		if (!remote_tx_ack(tx->iov, tx->iovcnt, &tx->done_iov,
				   &tx->done_bytes, &n))
			break;
		e->tx_head = tx->next;
		if (!e->tx_head)
			e->tx_tail = &e->tx_head;
		remote_engine_tx_release(e, tx);
	}
	/* Input may wait in the receive buffer for the room that just came
	 * free: the peer may be waiting for our replies and send nothing
	 * more, so nobody else would parse it. */
	if (was_paused && !e->rx_closed && !remote_engine_paused(e)) {
		if (remote_engine_parse(e) < 0)
			e->failed = true;
		e->kick = true;
	}
	remote_engine_leave(e);
}

/* ---- TLS upgrade ---- */

void remote_engine_starttls(struct remote_engine *e)
{
	e->upgrade = true;
}

bool remote_engine_upgrade_due(const struct remote_engine *e)
{
	return e->upgrade && !e->rx_closed && !e->tx_head;
}

size_t remote_engine_rx_take(struct remote_engine *e, void *buf, size_t cap)
{
	size_t n = e->rend - e->rstart;

	if (n > cap)
		n = cap;
	memcpy(buf, e->rbuf + e->rstart, n);
	e->rstart += n;
	if (e->rstart == e->rend)
		e->rstart = e->rend = 0;
	return n;
}

void remote_engine_secured(struct remote_engine *e, const char *dn,
			   const char *psk)
{
	/* Input resumes: the caller re-polls rx_buf next. */
	e->upgrade = false;
	e->tls = true;
	e->tls_dn = dn;
	e->tls_psk = psk;
}

/* ---- state ---- */

unsigned int remote_engine_inflight(const struct remote_engine *e)
{
	return e->inflight;
}

bool remote_engine_finished(const struct remote_engine *e)
{
	return (e->rx_closed || e->closing) && e->inflight == 0 && !e->tx_head;
}

long remote_engine_feed(struct remote_engine *e, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t done = 0;

	while (done < len) {
		void *buf;
		size_t room;
		int ret;

		remote_engine_rx_buf(e, &buf, &room);
		if (room == 0)
			break;
		if (room > len - done)
			room = len - done;
		memcpy(buf, p + done, room);
		done += room;
		ret = remote_engine_rx_done(e, room);
		if (ret < 0)
			return ret;
	}
	return (long)done;
}
