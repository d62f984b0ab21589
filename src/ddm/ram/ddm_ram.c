/* SPDX-License-Identifier: MIT */
/*
 * The RAM DDM: a sparse, volatile disk in process memory.  Memory is spent
 * only on 64 KiB chunks that have been written; everything else reads as
 * zeroes and is reported as HOLE|ZERO.  Requests complete inside submit.
 *
 * Layout: a two-level table.  The top level, sized at open, holds one
 * pointer per 256 MiB leaf; a leaf holds 4096 chunk pointers.  Leaves and
 * chunks are allocated on first write, filled, and only then installed
 * with compare-and-swap, so two writers racing for the same empty slot
 * agree on one winner without a lock and no reader ever sees a chunk's
 * uninitialised memory.  Leaves live until close (32 KiB per 256 MiB
 * touched).
 *
 * Concurrency: submit runs on several worker threads at once.  The only
 * hazard the CAS does not cover is freeing a chunk (TRIM, WRITE_ZEROES)
 * while another thread copies to or from it.  Chunks are therefore guarded
 * by 64 striped reader-writer locks (stripe = chunk index mod 64): reads,
 * writes and in-place zeroing take their chunk's stripe shared, one chunk
 * at a time, so they never wait for each other; only freeing a whole
 * chunk takes its stripe exclusive, briefly, to unhook the pointer.  The
 * locks prefer writers so a stream of reads cannot starve a TRIM.  Two
 * overlapping in-flight writes race on the bytes as they would on a disk;
 * ordering them is the client's job (NBD proto.md leaves it undefined).
 *
 * Choices: TRIM and WRITE_ZEROES free whole chunks and zero partial ones,
 * so trimmed data always reads back as zeroes.  WRITE_ZEROES with NO_HOLE
 * allocates zeroed chunks: proto.md says NO_HOLE means "fully
 * provisioned", and for RAM provisioning is memory, so later writes to the
 * range cannot fail for lack of it.  There is no volatile cache to flush
 * (no FLUSH/FUA) and one memory serves every connection (MULTI_CONN).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "ddm/ddm_iov.h"
#include "iopd/ddm.h"

#define RAM_CHUNK_SHIFT 16
#define RAM_CHUNK_BYTES (1ull << RAM_CHUNK_SHIFT)
#define RAM_LEAF_SHIFT	12
#define RAM_LEAF_CHUNKS (1ull << RAM_LEAF_SHIFT)
#define RAM_LEAF_BYTES	(RAM_CHUNK_BYTES << RAM_LEAF_SHIFT)
#define RAM_STRIPES	64
#define RAM_MAX_BYTES	(16ull << 40) /* keeps the top table at 512 KiB */
/* extents() is "quick": look at no more than this many chunks per call. */
#define RAM_EXTENTS_SCAN_CHUNKS (64u * 1024)

struct ddm_ram_leaf {
	unsigned char *chunk[RAM_LEAF_CHUNKS];
};

/*
 * A cache line each, so threads on different stripes do not share one.
 * Padded rather than aligned: dev->priv only has malloc's alignment.
 */
union ddm_ram_stripe {
	pthread_rwlock_t lock;
	char pad[64];
};

struct ddm_ram_dev {
	uint64_t size_bytes;
	struct ddm_ram_leaf **leaves;
	uint64_t n_leaves;
	uint64_t n_chunks_used; /* atomic; for the close-time log line */
	unsigned int n_stripes_ready;
	union ddm_ram_stripe stripes[RAM_STRIPES];
};

static pthread_rwlock_t *ddm_ram_stripe_lock(struct ddm_ram_dev *rd,
					     uint64_t chunk)
{
	return &rd->stripes[chunk % RAM_STRIPES].lock;
}

/* The chunk slot for index chunk, allocating its leaf if alloc is set.
 * Returns NULL only when the leaf is absent (and !alloc) or out of memory. */
static unsigned char **ddm_ram_slot(struct ddm_ram_dev *rd, uint64_t chunk,
				    bool alloc)
{
	struct ddm_ram_leaf **leafp = &rd->leaves[chunk >> RAM_LEAF_SHIFT];
	struct ddm_ram_leaf *leaf = __atomic_load_n(leafp, __ATOMIC_ACQUIRE);
	struct ddm_ram_leaf *expected = NULL;

	if (!leaf) {
		if (!alloc)
			return NULL;
		leaf = calloc(1, sizeof(*leaf));
		if (!leaf)
			return NULL;
		if (!__atomic_compare_exchange_n(leafp, &expected, leaf, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			free(leaf);
			leaf = expected;
		}
	}
	return &leaf->chunk[chunk & (RAM_LEAF_CHUNKS - 1)];
}

/*
 * Install fresh (already filled) in an empty slot.  Returns the chunk now
 * in the slot: fresh, or another writer's if that one won the race, in
 * which case fresh is freed.  Filling before publishing matters: a reader
 * racing with the first write must never see malloc's leftovers, which may
 * be another export's data.
 */
static unsigned char *ddm_ram_chunk_install(struct ddm_ram_dev *rd,
					    unsigned char **slot,
					    unsigned char *fresh)
{
	unsigned char *expected = NULL;

	if (!__atomic_compare_exchange_n(slot, &expected, fresh, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(fresh);
		return expected;
	}
	__atomic_fetch_add(&rd->n_chunks_used, 1, __ATOMIC_RELAXED);
	return fresh;
}

/* Write n bytes from cur at off in one chunk; the stripe is held shared. */
static int ddm_ram_write_chunk(struct ddm_ram_dev *rd, uint64_t idx, size_t off,
			       size_t n, struct ddm_iov_cursor *cur)
{
	unsigned char **slot = ddm_ram_slot(rd, idx, true);
	unsigned char *chunk, *fresh;
	struct ddm_iov_cursor start = *cur;

	if (!slot)
		return -ENOMEM;
	chunk = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!chunk) {
		fresh = n == RAM_CHUNK_BYTES ? malloc(RAM_CHUNK_BYTES)
					     : calloc(1, RAM_CHUNK_BYTES);
		if (!fresh)
			return -ENOMEM;
		ddm_iov_cursor_move(cur, fresh + off, n, DDM_IOV_FROM);
		chunk = ddm_ram_chunk_install(rd, slot, fresh);
		if (chunk == fresh)
			return 0;
		/* Lost the race: write into the winner instead. */
		*cur = start;
	}
	ddm_iov_cursor_move(cur, chunk + off, n, DDM_IOV_FROM);
	return 0;
}

static int ddm_ram_rw(struct ddm_ram_dev *rd, const struct ddm_req *req)
{
	struct ddm_iov_cursor cur = { .iov = req->iov };
	uint64_t pos = req->offset, end = req->offset + req->len;

	while (pos < end) {
		uint64_t idx = pos >> RAM_CHUNK_SHIFT;
		size_t off = pos & (RAM_CHUNK_BYTES - 1);
		size_t n = RAM_CHUNK_BYTES - off;
		pthread_rwlock_t *lock = ddm_ram_stripe_lock(rd, idx);
		unsigned char **slot;
		unsigned char *chunk = NULL;
		int ret = 0;

		if (n > end - pos)
			n = end - pos;
		pthread_rwlock_rdlock(lock);
		if (req->op == DDM_OP_WRITE) {
			ret = ddm_ram_write_chunk(rd, idx, off, n, &cur);
		} else {
			slot = ddm_ram_slot(rd, idx, false);
			if (slot)
				chunk = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
			/* No chunk: never written, zeroes. */
			ddm_iov_cursor_move(&cur, chunk ? chunk + off : NULL, n,
					    DDM_IOV_TO);
		}
		pthread_rwlock_unlock(lock);
		if (ret < 0)
			return ret;
		pos += n;
	}
	return 0;
}

/* Zero part of one chunk in place, allocating it first if provision. */
static int ddm_ram_zero_part(struct ddm_ram_dev *rd, uint64_t idx, size_t off,
			     size_t n, bool provision)
{
	pthread_rwlock_t *lock = ddm_ram_stripe_lock(rd, idx);
	unsigned char **slot;
	unsigned char *chunk = NULL, *fresh;
	int ret = 0;

	pthread_rwlock_rdlock(lock);
	slot = ddm_ram_slot(rd, idx, provision);
	if (slot)
		chunk = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (chunk) {
		memset(chunk + off, 0, n);
	} else if (provision) {
		fresh = slot ? calloc(1, RAM_CHUNK_BYTES) : NULL;
		chunk = fresh ? ddm_ram_chunk_install(rd, slot, fresh) : NULL;
		/* A lost race leaves another writer's chunk: zero it too. */
		if (chunk && chunk != fresh)
			memset(chunk + off, 0, n);
		if (!chunk)
			ret = -ENOMEM;
	}
	pthread_rwlock_unlock(lock);
	return ret;
}

/* Free one whole chunk: exclusive, so nobody is copying through it. */
static void ddm_ram_chunk_free(struct ddm_ram_dev *rd, uint64_t idx)
{
	pthread_rwlock_t *lock = ddm_ram_stripe_lock(rd, idx);
	unsigned char **slot = ddm_ram_slot(rd, idx, false);
	unsigned char *chunk;

	if (!slot || !__atomic_load_n(slot, __ATOMIC_ACQUIRE))
		return;
	pthread_rwlock_wrlock(lock);
	chunk = __atomic_exchange_n(slot, NULL, __ATOMIC_ACQ_REL);
	pthread_rwlock_unlock(lock);
	if (chunk) {
		free(chunk);
		__atomic_fetch_sub(&rd->n_chunks_used, 1, __ATOMIC_RELAXED);
	}
}

/* TRIM and WRITE_ZEROES: afterwards the range reads as zeroes. */
static int ddm_ram_zero(struct ddm_ram_dev *rd, const struct ddm_req *req)
{
	bool provision =
		req->op == DDM_OP_WRITE_ZEROES && (req->flags & DDM_F_NO_HOLE);
	uint64_t pos = req->offset, end = req->offset + req->len;
	int ret;

	while (pos < end) {
		uint64_t idx = pos >> RAM_CHUNK_SHIFT;
		size_t off = pos & (RAM_CHUNK_BYTES - 1);
		size_t n = RAM_CHUNK_BYTES - off;

		if (n > end - pos)
			n = end - pos;
		/* The device's short last chunk counts as whole. */
		if (!provision && !off &&
		    (n == RAM_CHUNK_BYTES || pos + n == rd->size_bytes)) {
			ddm_ram_chunk_free(rd, idx);
		} else {
			ret = ddm_ram_zero_part(rd, idx, off, n, provision);
			if (ret < 0)
				return ret;
		}
		pos += n;
	}
	return 0;
}

static void ddm_ram_submit(struct ddm_req *req)
{
	struct ddm_ram_dev *rd = req->dev->priv;
	int ret = 0;

	switch (req->op) {
	case DDM_OP_READ:
	case DDM_OP_WRITE:
		ret = ddm_ram_rw(rd, req);
		break;
	case DDM_OP_TRIM:
	case DDM_OP_WRITE_ZEROES:
		ret = ddm_ram_zero(rd, req);
		break;
	case DDM_OP_FLUSH:
	case DDM_OP_CACHE:
		break;
	default:
		ret = -EINVAL;
		break;
	}
	ddm_req_complete(req, ret);
}

static bool ddm_ram_chunk_present(struct ddm_ram_dev *rd, uint64_t idx)
{
	unsigned char **slot = ddm_ram_slot(rd, idx, false);

	return slot && __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/*
 * A snapshot: a write racing with this call may or may not show.  Absent
 * chunks read as zeroes, so HOLE|ZERO is never claimed for data; present
 * chunks are reported as data even when they hold zeroes.
 */
static int ddm_ram_extents(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			   struct ddm_extent *ext, unsigned int *n_ext)
{
	struct ddm_ram_dev *rd = dev->priv;
	uint64_t pos = offset, end = offset + len;
	unsigned int n = 0, budget = RAM_EXTENTS_SCAN_CHUNKS;

	while (pos < end && budget) {
		uint64_t idx = pos >> RAM_CHUNK_SHIFT;
		uint64_t step_end;
		uint32_t flags;

		if (!__atomic_load_n(&rd->leaves[idx >> RAM_LEAF_SHIFT],
				     __ATOMIC_ACQUIRE)) {
			/* A missing leaf is 256 MiB of hole in one look. */
			step_end = (pos | (RAM_LEAF_BYTES - 1)) + 1;
			flags = DDM_EXTENT_HOLE | DDM_EXTENT_ZERO;
		} else {
			step_end = (pos | (RAM_CHUNK_BYTES - 1)) + 1;
			flags = ddm_ram_chunk_present(rd, idx)
					? 0
					: DDM_EXTENT_HOLE | DDM_EXTENT_ZERO;
		}
		budget--;
		if (step_end > end)
			step_end = end;
		if (n && ext[n - 1].flags == flags) {
			ext[n - 1].len += step_end - pos;
		} else {
			if (n == *n_ext)
				break;
			ext[n].len = step_end - pos;
			ext[n++].flags = flags;
		}
		pos = step_end;
	}
	*n_ext = n;
	return 0;
}

static void ddm_ram_stripes_destroy(struct ddm_ram_dev *rd)
{
	while (rd->n_stripes_ready)
		pthread_rwlock_destroy(
			&rd->stripes[--rd->n_stripes_ready].lock);
}

static int ddm_ram_stripes_init(struct ddm_ram_dev *rd)
{
	pthread_rwlockattr_t attr;
	int ret;

	ret = pthread_rwlockattr_init(&attr);
	if (ret)
		return -ret;
	/* glibc's default prefers readers, which could starve a TRIM. */
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (; rd->n_stripes_ready < RAM_STRIPES; rd->n_stripes_ready++) {
		ret = pthread_rwlock_init(
			&rd->stripes[rd->n_stripes_ready].lock, &attr);
		if (ret)
			break;
	}
	pthread_rwlockattr_destroy(&attr);
	if (ret) {
		ddm_ram_stripes_destroy(rd);
		return -ret;
	}
	return 0;
}

static int ddm_ram_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	struct ddm_ram_dev *rd = dev->priv;
	int ret;

	if (args->size_bytes > RAM_MAX_BYTES) {
		log_error("%s: ram: size %llu exceeds the %llu byte limit",
			  dev->name, (unsigned long long)args->size_bytes,
			  (unsigned long long)RAM_MAX_BYTES);
		return -EFBIG;
	}
	rd->n_leaves = (args->size_bytes + RAM_LEAF_BYTES - 1) / RAM_LEAF_BYTES;
	/* At least one leaf pointer, so calloc never sees zero. */
	rd->leaves =
		calloc(rd->n_leaves ? rd->n_leaves : 1, sizeof(*rd->leaves));
	if (!rd->leaves) {
		log_error("%s: ram: out of memory for the chunk table",
			  dev->name);
		return -ENOMEM;
	}
	ret = ddm_ram_stripes_init(rd);
	if (ret < 0) {
		log_error("%s: ram: cannot create locks: %s", dev->name,
			  strerror(-ret));
		goto err_free_leaves;
	}
	rd->size_bytes = args->size_bytes;
	dev->size_bytes = args->size_bytes;
	dev->caps = DDM_CAP_TRIM | DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO |
		    DDM_CAP_EXTENTS | DDM_CAP_EXTENTS_CHEAP |
		    DDM_CAP_MULTI_CONN;
	dev->block_size_min = 1;
	dev->block_size_pref = 4096;
	dev->block_size_max = 0;
	dev->read_only = args->read_only;
	return 0;

err_free_leaves:
	free(rd->leaves);
	rd->leaves = NULL;
	return ret;
}

static void ddm_ram_close(struct ddm_dev *dev)
{
	struct ddm_ram_dev *rd = dev->priv;

	log_debug("%s: ram: releasing %llu chunks", dev->name,
		  (unsigned long long)rd->n_chunks_used);
	for (uint64_t l = 0; l < rd->n_leaves; l++) {
		struct ddm_ram_leaf *leaf = rd->leaves[l];

		if (!leaf)
			continue;
		for (uint64_t c = 0; c < RAM_LEAF_CHUNKS; c++)
			free(leaf->chunk[c]);
		free(leaf);
	}
	free(rd->leaves);
	rd->leaves = NULL;
	ddm_ram_stripes_destroy(rd);
}

/* Only while no session is open (resize_idle_only): nothing else touches
 * the tables.  What a shrink cuts off reads as zeroes if it grows back. */
static int ddm_ram_resize(struct ddm_dev *dev, uint64_t size_bytes)
{
	struct ddm_ram_dev *rd = dev->priv;
	uint64_t n_leaves = (size_bytes + RAM_LEAF_BYTES - 1) / RAM_LEAF_BYTES;
	uint64_t tail = size_bytes & (RAM_CHUNK_BYTES - 1);
	struct ddm_ram_leaf **leaves;

	if (size_bytes > RAM_MAX_BYTES) {
		log_error("%s: ram: size %llu exceeds the %llu byte limit",
			  dev->name, (unsigned long long)size_bytes,
			  (unsigned long long)RAM_MAX_BYTES);
		return -EFBIG;
	}
	if (size_bytes < rd->size_bytes) {
		uint64_t first =
			(size_bytes + RAM_CHUNK_BYTES - 1) >> RAM_CHUNK_SHIFT;
		uint64_t end = (rd->size_bytes + RAM_CHUNK_BYTES - 1) >>
			       RAM_CHUNK_SHIFT;
		unsigned char **slot;

		for (uint64_t c = first; c < end; c++)
			ddm_ram_chunk_free(rd, c);
		slot = tail ? ddm_ram_slot(rd, size_bytes >> RAM_CHUNK_SHIFT,
					   false)
			    : NULL;
		if (slot && *slot)
			memset(*slot + tail, 0, RAM_CHUNK_BYTES - tail);
		for (uint64_t l = n_leaves; l < rd->n_leaves; l++) {
			free(rd->leaves[l]);
			rd->leaves[l] = NULL;
		}
	}
	if (n_leaves != rd->n_leaves) {
		leaves = realloc(rd->leaves,
				 (n_leaves ? n_leaves : 1) * sizeof(*leaves));
		if (!leaves) {
			log_error("%s: ram: out of memory for the chunk table",
				  dev->name);
			return -ENOMEM;
		}
		for (uint64_t l = rd->n_leaves; l < n_leaves; l++)
			leaves[l] = NULL;
		rd->leaves = leaves;
		rd->n_leaves = n_leaves;
	}
	rd->size_bytes = size_bytes;
	dev->size_bytes = size_bytes;
	return 0;
}

const struct ddm_ops ddm_ram_ops = {
	.name = "ram",
	.spec_arg = DDM_SPEC_SIZE,
	.spec_help = "ram:SIZE      sparse RAM disk (SIZE like 512M, 1G)",
	.dev_priv_size = sizeof(struct ddm_ram_dev),
	.req_priv_size = 0,
	.open = ddm_ram_open,
	.close = ddm_ram_close,
	.submit = ddm_ram_submit,
	.extents = ddm_ram_extents,
	.resize = ddm_ram_resize,
	.resize_idle_only = true,
};
