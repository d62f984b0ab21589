// SPDX-License-Identifier: MIT
/*
 * The fault DDM's volatile write cache ("volatile=1"): writes, trims and
 * zeroes land in a map of dirty blocks in memory, reads see them over what
 * the inner device holds, and only a FLUSH, a FUA write or ddm_ops.sync
 * writes them through.  A crash (the "crash" control verb) drops the map,
 * so whatever was not flushed is lost exactly as a power cut loses a disk's
 * cache.
 *
 * The map is a chained hash of fault_blk, one per block of
 * cache.block_bytes, under the device's lock.  A block is dirty (only
 * here), or clean (written back: the inner device holds the same bytes).
 * Clean blocks are freed at once unless a read is in flight: that read's
 * inner request may have fetched the block's old bytes before the write
 * back, and it overlays the map when it completes, so the map must still
 * hold the new ones then.  They are swept when the last read ends.
 *
 * Write-back runs in rounds (struct fault_wb), one at a time per device:
 * the round copies runs of consecutive dirty blocks into its buffer,
 * writes each to the inner device, then flushes it.  Requests needing
 * write-back while a round runs wait for the next round, which runs on
 * the loop of its first owner; each request is completed on its own loop
 * (base_loop_post) because a DDM completes on the submitting worker.
 * A block written again during its write-back keeps its newer generation
 * and stays dirty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/ddm_iov.h"
#include "ddm/fault/ddm_fault.h"

#define FAULT_BUCKETS_MIN 1024

/* The map ---------------------------------------------------------------- */

static size_t fault_hash(const struct fault_cache *c, uint64_t idx)
{
	uint64_t h = idx * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32)) & (c->n_buckets - 1);
}

static struct fault_blk *fault_blk_find(const struct fault_cache *c,
					uint64_t idx)
{
	struct fault_blk *b = c->buckets[fault_hash(c, idx)];

	while (b && b->idx != idx)
		b = b->next;
	return b;
}

/* Double the table; on failure keep the longer chains. */
static void fault_map_grow(struct fault_cache *c)
{
	size_t n = c->n_buckets * 2, old_n = c->n_buckets;
	struct fault_blk **old = c->buckets, *b, *next;

	c->buckets = calloc(n, sizeof(*c->buckets));
	if (!c->buckets) {
		c->buckets = old;
		return;
	}
	c->n_buckets = n;
	for (size_t i = 0; i < old_n; i++) {
		for (b = old[i]; b; b = next) {
			size_t h = fault_hash(c, b->idx);

			next = b->next;
			b->next = c->buckets[h];
			c->buckets[h] = b;
		}
	}
	free(old);
}

/*
 * The block idx, created (clean, reading as zeroes) if absent.  With
 * data, it is given a data buffer first, so a failure leaves the map as it
 * was.  NULL: out of memory.
 */
static struct fault_blk *fault_blk_get(struct fault_cache *c, uint64_t idx,
				       bool data)
{
	struct fault_blk *b = fault_blk_find(c, idx);
	size_t h;

	if (b) {
		if (data && !b->data && !(b->data = malloc(c->block_bytes)))
			return NULL;
		return b;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (data && !(b->data = malloc(c->block_bytes))) {
		free(b);
		return NULL;
	}
	b->idx = idx;
	h = fault_hash(c, idx);
	b->next = c->buckets[h];
	c->buckets[h] = b;
	if (++c->n_blocks > 2 * c->n_buckets)
		fault_map_grow(c);
	return b;
}

static void fault_blk_dirty(struct fault_cache *c, struct fault_blk *b)
{
	if (!b->dirty) {
		b->dirty = true;
		c->n_dirty++;
	}
	b->gen = ++c->gen;
}

/* Free the blocks matching: clean ones only, or all (a crash). */
static void fault_map_drop(struct fault_cache *c, bool all)
{
	for (size_t i = 0; i < c->n_buckets; i++) {
		struct fault_blk **pp = &c->buckets[i], *b;

		while ((b = *pp)) {
			if (b->dirty && !all) {
				pp = &b->next;
				continue;
			}
			*pp = b->next;
			if (b->dirty)
				c->n_dirty--;
			c->n_blocks--;
			free(b->data);
			free(b);
		}
	}
	c->sweep_pending = false;
}

/* A block is on the inner device now: free it, unless a read needs it. */
static void fault_blk_clean(struct fault_cache *c, struct fault_blk *b)
{
	b->dirty = false;
	c->n_dirty--;
	c->sweep_pending = true; /* when the round ends or the last read */
}

/* Requests ---------------------------------------------------------------- */

static int fault_cache_write(struct fault_dev *fd, const struct ddm_req *req,
			     uint64_t len)
{
	struct fault_cache *c = &fd->cache;
	struct ddm_iov_cursor cur = { .iov = req->iov };
	uint64_t bs = c->block_bytes, idx = req->offset / bs;

	for (uint64_t n = len / bs; n; n--, idx++) {
		struct fault_blk *b = fault_blk_get(c, idx, true);

		if (!b)
			return -ENOMEM;
		ddm_iov_cursor_move(&cur, b->data, bs, DDM_IOV_FROM);
		fault_blk_dirty(c, b);
	}
	return 0;
}

static int fault_cache_zero(struct fault_dev *fd, const struct ddm_req *req)
{
	struct fault_cache *c = &fd->cache;
	uint64_t bs = c->block_bytes, idx = req->offset / bs;

	for (uint64_t n = req->len / bs; n; n--, idx++) {
		struct fault_blk *b = fault_blk_get(c, idx, false);

		if (!b)
			return -ENOMEM;
		free(b->data);
		b->data = NULL;
		fault_blk_dirty(c, b);
	}
	return 0;
}

static void fault_cache_overlay(struct fault_cache *c,
				const struct ddm_req *req)
{
	struct ddm_iov_cursor cur = { .iov = req->iov };
	uint64_t bs = c->block_bytes, idx = req->offset / bs;

	if (!c->n_blocks)
		return;
	for (uint64_t n = req->len / bs; n; n--, idx++) {
		struct fault_blk *b = fault_blk_find(c, idx);

		ddm_iov_cursor_move(&cur, b ? b->data : NULL, bs,
				    b ? DDM_IOV_TO : DDM_IOV_SKIP);
	}
}

static struct fault_req *fault_req_of(struct ddm_req *inner)
{
	return (struct fault_req *)((char *)inner -
				    offsetof(struct fault_req, inner));
}

static void fault_cache_read_done(struct ddm_req *in, int result)
{
	struct fault_req *fr = fault_req_of(in);
	struct fault_dev *fd = fr->outer->dev->priv;
	struct fault_cache *c = &fd->cache;

	pthread_mutex_lock(&fd->lock);
	if (result == 0)
		fault_cache_overlay(c, fr->outer);
	if (--c->reads_inflight == 0 && c->sweep_pending)
		fault_map_drop(c, false);
	pthread_mutex_unlock(&fd->lock);
	ddm_req_complete(fr->outer, result);
}

static void fault_cache_read(struct fault_req *fr)
{
	struct ddm_req *out = fr->outer;
	struct fault_dev *fd = out->dev->priv;

	pthread_mutex_lock(&fd->lock);
	fd->cache.reads_inflight++;
	pthread_mutex_unlock(&fd->lock);
	fr->inner = (struct ddm_req){
		.dev = &fd->inner,
		.loop = out->loop,
		.op = DDM_OP_READ,
		.offset = out->offset,
		.len = out->len,
		.iov = out->iov,
		.iovcnt = out->iovcnt,
		.done = fault_cache_read_done,
		.priv = fr->inner_priv,
	};
	fd->inner_ops->submit(&fr->inner);
}

/* Write-back rounds ------------------------------------------------------- */

static int fault_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Set the round up for owners (NULL: the whole device); lock held. */
static void fault_wb_prepare(struct fault_dev *fd, struct fault_req *owners,
			     struct base_loop *loop)
{
	struct fault_cache *c = &fd->cache;
	struct fault_wb *wb = &c->wb;
	size_t n = 0;

	wb->owners = owners;
	wb->loop = loop;
	wb->first = owners ? UINT64_MAX : 0;
	wb->end = owners ? 0 : UINT64_MAX;
	for (struct fault_req *o = owners; o; o = o->next) {
		if (o->wb_first < wb->first)
			wb->first = o->wb_first;
		if (o->wb_end > wb->end)
			wb->end = o->wb_end;
	}
	wb->pos = wb->n_idx = 0;
	wb->result = 0;
	wb->flushing = false;
	wb->idx = c->n_dirty ? malloc(c->n_dirty * sizeof(*wb->idx)) : NULL;
	if (c->n_dirty && !wb->idx) {
		wb->result = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < c->n_buckets; i++)
		for (struct fault_blk *b = c->buckets[i]; b; b = b->next)
			if (b->dirty && b->idx >= wb->first && b->idx < wb->end)
				wb->idx[n++] = b->idx;
	if (n)
		qsort(wb->idx, n, sizeof(*wb->idx), fault_u64_cmp);
	wb->n_idx = n;
}

/* Copy the next run of consecutive dirty blocks into the buffer; lock
 * held.  Returns false when none is left. */
static bool fault_wb_next_run(struct fault_dev *fd, struct fault_wb *wb)
{
	struct fault_cache *c = &fd->cache;
	size_t bs = c->block_bytes, max = FAULT_WB_BYTES / bs;
	uint32_t inner_max = fd->inner.block_size_max;
	struct fault_blk *b = NULL;

	if (inner_max && inner_max < FAULT_WB_BYTES)
		max = inner_max / bs ? inner_max / bs : 1;
	while (wb->pos < wb->n_idx &&
	       !((b = fault_blk_find(c, wb->idx[wb->pos])) && b->dirty))
		wb->pos++;
	if (wb->pos == wb->n_idx)
		return false;
	wb->run_idx = wb->idx[wb->pos];
	wb->run_n = 0;
	while (wb->pos < wb->n_idx && wb->run_n < max &&
	       wb->idx[wb->pos] == wb->run_idx + wb->run_n &&
	       (b = fault_blk_find(c, wb->idx[wb->pos])) && b->dirty) {
		unsigned char *dst = wb->buf + wb->run_n * bs;

		if (b->data)
			memcpy(dst, b->data, bs);
		else
			memset(dst, 0, bs);
		wb->gens[wb->run_n++] = b->gen;
		wb->pos++;
	}
	wb->iov.iov_base = wb->buf;
	wb->iov.iov_len = wb->run_n * bs;
	return true;
}

/* The run is on the inner device; lock held. */
static void fault_wb_run_done(struct fault_dev *fd, struct fault_wb *wb)
{
	struct fault_cache *c = &fd->cache;

	for (size_t i = 0; i < wb->run_n; i++) {
		struct fault_blk *b = fault_blk_find(c, wb->run_idx + i);

		/* Not rewritten meanwhile, not dropped by a crash. */
		if (b && b->dirty && b->gen == wb->gens[i])
			fault_blk_clean(c, b);
	}
	fd->stats.written_back_bytes += wb->run_n * c->block_bytes;
}

static void fault_wb_pump(struct fault_wb *wb);

static void fault_wb_kick(void *arg)
{
	fault_wb_pump(arg);
}

static void fault_wb_done(struct ddm_req *in, int result)
{
	struct fault_dev *fd =
		(struct fault_dev *)((char *)in->dev -
				     offsetof(struct fault_dev, inner));
	struct fault_wb *wb = &fd->cache.wb;

	pthread_mutex_lock(&fd->lock);
	if (result < 0) {
		wb->result = result;
		fd->stats.writeback_errors++;
	} else if (!wb->flushing) {
		fault_wb_run_done(fd, wb);
	}
	pthread_mutex_unlock(&fd->lock);
	if (wb->in_submit) {
		wb->inline_done = true;
		return;
	}
	fault_wb_pump(wb);
}

static void fault_wb_finish(struct fault_wb *wb)
{
	struct fault_dev *fd = wb->fd;
	struct fault_cache *c = &fd->cache;
	struct fault_req *owners, *next, *o;
	struct base_loop *loop = wb->loop;
	int result = wb->result;

	pthread_mutex_lock(&fd->lock);
	owners = wb->owners;
	wb->owners = NULL;
	free(wb->idx);
	wb->idx = NULL;
	if (result < 0)
		log_error("%s: fault: write-back failed: %s", fd->inner.name,
			  strerror(-result));
	else
		fd->stats.writebacks++;
	if (!c->reads_inflight && c->sweep_pending)
		fault_map_drop(c, false);
	next = c->waiters;
	c->waiters = c->waiters_tail = NULL;
	/* The next round runs on its first owner's loop: that worker cannot
	 * stop while the owner is in flight, which this one may. */
	if (next)
		fault_wb_prepare(fd, next, next->outer->loop);
	else
		c->wb_busy = false;
	pthread_mutex_unlock(&fd->lock);
	if (wb->sync_mode) {
		wb->sync_mode = false;
		wb->sync_result = result;
		wb->sync_done = true;
		if (wb->sync_waiting)
			base_loop_stop(loop);
	}
	for (o = owners; o; o = owners) {
		owners = o->next;
		fault_complete_from(o, loop, result);
	}
	if (next && next->outer->loop == loop)
		fault_wb_pump(wb);
	else if (next)
		fault_post(next->outer->loop, fault_wb_kick, wb);
}

/* Issue the round's next inner request; loops while they complete inline. */
static void fault_wb_pump(struct fault_wb *wb)
{
	struct fault_dev *fd = wb->fd;
	struct ddm_req *in = wb->inner;
	bool more;

	while (wb->result == 0) {
		pthread_mutex_lock(&fd->lock);
		more = !wb->flushing && fault_wb_next_run(fd, wb);
		pthread_mutex_unlock(&fd->lock);
		if (!more &&
		    (wb->flushing || !(fd->inner.caps & DDM_CAP_FLUSH)))
			break;
		in->dev = &fd->inner;
		in->loop = wb->loop;
		in->flags = 0;
		in->done = fault_wb_done;
		if (more) {
			in->op = DDM_OP_WRITE;
			in->offset = wb->run_idx * fd->cache.block_bytes;
			in->len = wb->iov.iov_len;
			in->iov = &wb->iov;
			in->iovcnt = 1;
		} else {
			in->op = DDM_OP_FLUSH;
			in->offset = in->len = 0;
			in->iov = NULL;
			in->iovcnt = 0;
			wb->flushing = true;
		}
		wb->in_submit = true;
		wb->inline_done = false;
		fd->inner_ops->submit(in);
		wb->in_submit = false;
		if (!wb->inline_done)
			return; /* fault_wb_done goes on */
	}
	fault_wb_finish(wb);
}

/* fr needs blocks [first, end) durable: start a round or wait for one. */
static void fault_wb_request(struct fault_req *fr, uint64_t first, uint64_t end)
{
	struct fault_dev *fd = fr->outer->dev->priv;
	struct fault_cache *c = &fd->cache;

	fr->wb_first = first;
	fr->wb_end = end;
	fr->next = NULL;
	pthread_mutex_lock(&fd->lock);
	if (c->wb_busy) {
		if (c->waiters_tail)
			c->waiters_tail->next = fr;
		else
			c->waiters = fr;
		c->waiters_tail = fr;
		pthread_mutex_unlock(&fd->lock);
		return;
	}
	c->wb_busy = true;
	fault_wb_prepare(fd, fr, fr->outer->loop);
	pthread_mutex_unlock(&fd->lock);
	fault_wb_pump(&c->wb);
}

void fault_cache_submit(struct fault_req *fr)
{
	struct ddm_req *req = fr->outer;
	struct fault_dev *fd = req->dev->priv;
	uint64_t bs = fd->cache.block_bytes, len = req->len;
	int ret = 0;

	switch (req->op) {
	case DDM_OP_READ:
		fault_cache_read(fr);
		return;
	case DDM_OP_FLUSH:
		fault_wb_request(fr, 0, UINT64_MAX);
		return;
	case DDM_OP_WRITE:
		/* A torn write: the first half (whole blocks) only. */
		if (fr->fate.partial)
			len = req->len / 2 / bs * bs;
		pthread_mutex_lock(&fd->lock);
		ret = fault_cache_write(fd, req, len);
		pthread_mutex_unlock(&fd->lock);
		if (fr->fate.partial)
			ret = fr->fate.error;
		break;
	case DDM_OP_TRIM:
	case DDM_OP_WRITE_ZEROES:
		pthread_mutex_lock(&fd->lock);
		ret = fault_cache_zero(fd, req);
		pthread_mutex_unlock(&fd->lock);
		break;
	default:
		break;
	}
	if (ret == 0 && (req->flags & DDM_F_FUA) && len) {
		fault_wb_request(fr, req->offset / bs,
				 (req->offset + len + bs - 1) / bs);
		return;
	}
	ddm_req_complete(req, ret);
}

/* Lifetime, crash, sync --------------------------------------------------- */

int fault_cache_init(struct fault_dev *fd)
{
	struct fault_cache *c = &fd->cache;
	size_t inner_off = (sizeof(struct ddm_req) + 15) & ~(size_t)15;
	void *buf = NULL;

	c->n_buckets = FAULT_BUCKETS_MIN;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	c->wb.fd = fd;
	c->wb.gens = calloc(FAULT_WB_BYTES / c->block_bytes + 1,
			    sizeof(*c->wb.gens));
	c->wb.inner = aligned_alloc(
		16, inner_off + ((fd->inner_ops->req_priv_size + 15) &
				 ~(size_t)15));
	if (posix_memalign(&buf, 4096, FAULT_WB_BYTES) == 0)
		c->wb.buf = buf;
	if (!c->buckets || !c->wb.gens || !c->wb.inner || !c->wb.buf) {
		fault_cache_fini(fd);
		return -ENOMEM;
	}
	memset(c->wb.inner, 0, inner_off);
	c->wb.inner->priv = (char *)c->wb.inner + inner_off;
	return 0;
}

void fault_cache_fini(struct fault_dev *fd)
{
	struct fault_cache *c = &fd->cache;

	if (c->buckets)
		fault_map_drop(c, true);
	free(c->buckets);
	free(c->wb.gens);
	free(c->wb.inner);
	free(c->wb.buf);
	c->buckets = NULL;
	c->wb.gens = NULL;
	c->wb.inner = NULL;
	c->wb.buf = NULL;
}

uint64_t fault_cache_crash(struct fault_dev *fd)
{
	struct fault_cache *c = &fd->cache;
	uint64_t lost;

	pthread_mutex_lock(&fd->lock);
	lost = (uint64_t)c->n_dirty * c->block_bytes;
	fault_map_drop(c, true);
	fd->stats.crashes++;
	fd->stats.lost_bytes += lost;
	pthread_mutex_unlock(&fd->lock);
	return lost;
}

int fault_cache_sync(struct fault_dev *fd)
{
	struct fault_cache *c = &fd->cache;
	struct fault_wb *wb = &c->wb;
	struct base_loop *loop;
	int ret;

	bool dirty;

	pthread_mutex_lock(&fd->lock);
	ret = c->wb_busy ? -EBUSY : 0;
	dirty = c->n_dirty > 0;
	pthread_mutex_unlock(&fd->lock);
	if (ret < 0 || !dirty)
		return ret;
	/* No worker is ours here: a private loop for the round's I/O. */
	ret = base_loop_create(&loop, BASE_ENGINE_AUTO, 8);
	if (ret < 0) {
		log_error("%s: fault: sync: no event loop: %s", fd->inner.name,
			  strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&fd->lock);
	c->wb_busy = true;
	wb->sync_mode = true;
	wb->sync_waiting = wb->sync_done = false;
	fault_wb_prepare(fd, NULL, loop);
	pthread_mutex_unlock(&fd->lock);
	fault_wb_pump(wb);
	wb->sync_waiting = true;
	while (!wb->sync_done)
		base_loop_run(loop);
	base_loop_destroy(loop);
	return wb->sync_result;
}
