// SPDX-License-Identifier: MIT
/*
 * One conformance suite for every DDM: null, ram, file (tmpfs, buffered
 * and O_DIRECT on a disk file system), bdev (a loop device made for the
 * run) and fault with nothing to inject (over ram and files, with and
 * without its volatile cache), on both loop engines.  The suite drives
 * each DDM directly, as the Local Transport would, and checks what the
 * contract in iopd/ddm.h promises: data round trips, FUA and flush
 * succeed, trimmed and zeroed ranges read as zeroes where the DDM says so,
 * FAST_ZERO is truthful, extents are contiguous and never call data a
 * hole, two threads with their own loops can share a device, and the last
 * block is reachable.
 *
 * rbd joins when IOPD_TEST_RBD names an image ([POOL/]IMAGE, 64 MiB, fresh
 * for each engine's pass: IOPD_TEST_RBD names the uring pass's image and
 * the epoll pass uses IMAGE-epoll) of the cluster CEPH_CONF describes;
 * test_rbd.sh starts one and runs this with IOPD_TEST_ONLY=rbd (only the
 * fixtures whose label starts so).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/ddm.h"
#include "test.h"

#define MIB	  (1024ull * 1024)
#define BUF_ALIGN 4096

struct fixture {
	const char *label;
	const char *ddm;
	struct ddm_open_args args;
	bool stores;	     /* reads return what was written (not null) */
	bool trim_zeroes;    /* a TRIM leaves zeroes behind */
	int want_direct;     /* file: expect O_DIRECT (block_size_min > 1) */
	bool coarse_extents; /* extents are whole objects (rbd: 4 MiB), so
			      * trimming 512 KiB shows no hole */
	char path[256];
};

/* One thread's view of the device under test. */
struct t_ctx {
	struct ddm_dev *dev;
	struct base_loop *loop;
	void *req_priv;
};

struct t_req {
	struct ddm_req req;
	struct t_ctx *ctx;
	bool done, waiting;
	int result;
};

static const struct fixture *cur_fx;
static enum base_engine cur_engine;
static struct ddm_dev cur_dev;
static struct t_ctx cur_ctx;

static void *t_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, BUF_ALIGN, len ? len : 1))
		abort();
	return p;
}

static void t_done(struct ddm_req *req, int result)
{
	struct t_req *t = (struct t_req *)req;

	CHECK(!t->done); /* exactly once */
	t->done = true;
	t->result = result;
	if (t->waiting)
		base_loop_stop(t->ctx->loop);
}

/* Run one request to completion on ctx's loop; returns its result. */
static int t_submit(struct t_ctx *ctx, enum ddm_op op, uint32_t flags,
		    uint64_t off, uint64_t len, struct iovec *iov, int iovcnt)
{
	struct t_req t = {
		.req = { .dev = ctx->dev,
			 .loop = ctx->loop,
			 .op = op,
			 .flags = flags,
			 .offset = off,
			 .len = len,
			 .iov = iov,
			 .iovcnt = iovcnt,
			 .done = t_done,
			 .priv = ctx->req_priv },
		.ctx = ctx,
	};

	ctx->dev->ops->submit(&t.req);
	t.waiting = true;
	while (!t.done)
		base_loop_run(ctx->loop);
	return t.result;
}

/*
 * ddm.h: a DDM may decline a WRITE_ZEROES it cannot do natively
 * (-EOPNOTSUPP); its caller then writes the zeroes, FUA by a flush after,
 * as the Local Transport does.  FAST_ZERO requests keep the refusal.
 */
static int t_run(struct t_ctx *ctx, enum ddm_op op, uint32_t flags,
		 uint64_t off, uint64_t len, struct iovec *iov, int iovcnt)
{
	int ret = t_submit(ctx, op, flags, off, len, iov, iovcnt);

	if (op != DDM_OP_WRITE_ZEROES || ret != -EOPNOTSUPP ||
	    (flags & DDM_F_FAST_ZERO))
		return ret;
	ret = 0;
	for (uint64_t done = 0, piece; ret == 0 && done < len; done += piece) {
		struct iovec zero = { .iov_base = (void *)ddm_zero_buf };

		piece = len - done < DDM_ZERO_BUF_BYTES ? len - done
							: DDM_ZERO_BUF_BYTES;
		zero.iov_len = piece;
		ret = t_submit(ctx, DDM_OP_WRITE, 0, off + done, piece, &zero,
			       1);
	}
	if (ret == 0 && (flags & DDM_F_FUA))
		ret = t_submit(ctx, DDM_OP_FLUSH, 0, 0, 0, NULL, 0);
	return ret;
}

static int t_io(struct t_ctx *ctx, enum ddm_op op, uint32_t flags, uint64_t off,
		void *buf, uint64_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return t_run(ctx, op, flags, off, len, &iov, 1);
}

static unsigned char pattern_byte(uint64_t pos, unsigned int seed)
{
	uint64_t x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (unsigned char)((x >> 29) | 1); /* never zero */
}

static void pattern_fill(unsigned char *buf, uint64_t len, uint64_t pos,
			 unsigned int seed)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = pattern_byte(pos + i, seed);
}

/* Index of the first byte that differs, or -1. */
static long long pattern_diff(const unsigned char *buf, uint64_t len,
			      uint64_t pos, unsigned int seed)
{
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != (seed ? pattern_byte(pos + i, seed) : 0))
			return (long long)i;
	return -1;
}

static int write_pattern(struct t_ctx *ctx, uint64_t off, uint64_t len,
			 unsigned int seed, uint32_t flags)
{
	unsigned char *buf = t_alloc(len);
	int ret;

	pattern_fill(buf, len, off, seed);
	ret = t_io(ctx, DDM_OP_WRITE, flags, off, buf, len);
	free(buf);
	return ret;
}

/* Read [off, off+len) and compare with seed's pattern (0: zeroes). */
static long long read_check(struct t_ctx *ctx, uint64_t off, uint64_t len,
			    unsigned int seed)
{
	unsigned char *buf = t_alloc(len);
	long long diff;
	int ret;

	memset(buf, 0xa5, len);
	ret = t_io(ctx, DDM_OP_READ, 0, off, buf, len);
	diff = ret < 0 ? ret : pattern_diff(buf, len, off, seed);
	if (diff != -1)
		printf("#   read [%llu,+%llu) seed %u: %s %lld\n",
		       (unsigned long long)off, (unsigned long long)len, seed,
		       ret < 0 ? "error" : "differs at", diff);
	free(buf);
	return diff;
}

static uint32_t bsz(void)
{
	return cur_dev.block_size_pref > cur_dev.block_size_min
		       ? cur_dev.block_size_pref
		       : cur_dev.block_size_min;
}

static unsigned int data_seed(unsigned int seed)
{
	return cur_fx->stores ? seed : 0;
}

static void test_open_sanity(void)
{
	uint32_t caps = cur_dev.caps, min = cur_dev.block_size_min;

	CHECK(min >= 1 && (min & (min - 1)) == 0);
	CHECK(cur_dev.block_size_pref >= min);
	CHECK(cur_dev.block_size_pref % min == 0);
	CHECK(cur_dev.size_bytes % min == 0);
	CHECK(!cur_dev.read_only);
	CHECK(!(caps & DDM_CAP_FAST_ZERO) || (caps & DDM_CAP_ZEROES));
	CHECK(!(caps & DDM_CAP_EXTENTS) || cur_dev.ops->extents);
	CHECK(caps & DDM_CAP_MULTI_CONN);
	if (cur_fx->args.size_bytes && strcmp(cur_fx->ddm, "bdev"))
		CHECK_EQ_INT(cur_dev.size_bytes, cur_fx->args.size_bytes);
	if (cur_fx->want_direct >= 0)
		CHECK_EQ_INT(min > 1, cur_fx->want_direct);
	if (!strcmp(cur_fx->ddm, "file") || !strcmp(cur_fx->ddm, "bdev"))
		CHECK((caps & DDM_CAP_FLUSH) && (caps & DDM_CAP_FUA));
	printf("# %s: size %llu block %u/%u caps 0x%x\n", cur_fx->label,
	       (unsigned long long)cur_dev.size_bytes, min,
	       cur_dev.block_size_pref, caps);
}

static void test_rw_pattern(void)
{
	uint64_t b = bsz(), off = 3 * b, len = 8 * b;
	unsigned char *buf = t_alloc(len);
	/* Uneven iovec splits on each side, all multiples of the block. */
	struct iovec wv[3] = { { buf, b },
			       { buf + b, 5 * b },
			       { buf + 6 * b, 2 * b } };
	struct iovec rv[2] = { { buf, 7 * b }, { buf + 7 * b, b } };

	pattern_fill(buf, len, off, 1);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_WRITE, 0, off, len, wv, 3), 0);
	memset(buf, 0, len);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_READ, 0, off, len, rv, 2), 0);
	CHECK_EQ_INT(pattern_diff(buf, len, off, data_seed(1)), -1);
	/* Untouched neighbours still read as before (zeroes: fresh device). */
	CHECK_EQ_INT(read_check(&cur_ctx, off - b, b, 0), -1);
	CHECK_EQ_INT(read_check(&cur_ctx, off + len, b, 0), -1);
	/* A one-block write inside, then the whole range again. */
	CHECK_EQ_INT(write_pattern(&cur_ctx, off + 2 * b, b, 2, 0), 0);
	CHECK_EQ_INT(read_check(&cur_ctx, off + 2 * b, b, data_seed(2)), -1);
	CHECK_EQ_INT(read_check(&cur_ctx, off, 2 * b, data_seed(1)), -1);
	free(buf);
}

static void test_fua_flush(void)
{
	uint64_t b = bsz(), off = 16 * b;
	uint32_t fua = cur_dev.caps & DDM_CAP_FUA ? DDM_F_FUA : 0;

	CHECK_EQ_INT(write_pattern(&cur_ctx, off, 4 * b, 3, fua), 0);
	CHECK_EQ_INT(read_check(&cur_ctx, off, 4 * b, data_seed(3)), -1);
	if (cur_dev.caps & DDM_CAP_FLUSH)
		CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_FLUSH, 0, 0, 0, NULL, 0),
			     0);
	if (cur_dev.caps & DDM_CAP_CACHE)
		CHECK_EQ_INT(
			t_run(&cur_ctx, DDM_OP_CACHE, 0, off, 4 * b, NULL, 0),
			0);
}

/* Does any extent in [off, off+len) carry HOLE? */
static bool extents_show_hole(uint64_t off, uint64_t len)
{
	struct ddm_extent ext[16];
	unsigned int n = 16;
	uint64_t pos = off;
	bool hole = false;

	CHECK_EQ_INT(cur_dev.ops->extents(&cur_dev, off, len, ext, &n), 0);
	for (unsigned int i = 0; i < n && pos < off + len; i++) {
		if (ext[i].flags & DDM_EXTENT_HOLE)
			hole = true;
		pos += ext[i].len;
	}
	return hole;
}

/* 1 MiB regions, aligned for every allocation unit here (ram: 64 KiB). */
static uint64_t region(unsigned int i)
{
	return (uint64_t)(4 + i) * MIB;
}

static void test_trim(void)
{
	uint64_t off = region(0), len = MIB, b = bsz();
	uint32_t fua = cur_dev.caps & DDM_CAP_FUA ? DDM_F_FUA : 0;

	if (!(cur_dev.caps & DDM_CAP_TRIM)) {
		printf("# no TRIM\n");
		return;
	}
	CHECK_EQ_INT(write_pattern(&cur_ctx, off, len, 4, 0), 0);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_TRIM, 0, off, len / 2, NULL, 0), 0);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_TRIM, fua, off + len / 2,
			   len / 2 - b, NULL, 0),
		     0);
	if (cur_fx->trim_zeroes)
		CHECK_EQ_INT(read_check(&cur_ctx, off, len - b, 0), -1);
	CHECK_EQ_INT(read_check(&cur_ctx, off + len - b, b, data_seed(4)), -1);
	if ((cur_dev.caps & DDM_CAP_EXTENTS) && !cur_fx->coarse_extents)
		CHECK(extents_show_hole(off, len / 2));
	/* Zero length is legal and does nothing. */
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_TRIM, 0, off, 0, NULL, 0), 0);
}

static void test_write_zeroes(void)
{
	static const uint32_t flag_sets[] = { 0, DDM_F_NO_HOLE, DDM_F_FUA,
					      DDM_F_NO_HOLE | DDM_F_FUA };
	uint64_t off = region(1), len = MIB, b = bsz(), min;

	if (!(cur_dev.caps & DDM_CAP_ZEROES)) {
		printf("# no ZEROES\n");
		return;
	}
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		uint32_t flags = flag_sets[i];

		if (!(cur_dev.caps & DDM_CAP_FUA))
			flags &= ~DDM_F_FUA;
		CHECK_EQ_INT(write_pattern(&cur_ctx, off, len, 5, 0), 0);
		CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_WRITE_ZEROES, flags,
				   off + b, len - 2 * b, NULL, 0),
			     0);
		CHECK_EQ_INT(read_check(&cur_ctx, off + b, len - 2 * b, 0), -1);
		CHECK_EQ_INT(read_check(&cur_ctx, off, b, data_seed(5)), -1);
		CHECK_EQ_INT(
			read_check(&cur_ctx, off + len - b, b, data_seed(5)),
			-1);
	}
	/* The smallest unaligned piece the device allows, inside data. */
	min = cur_dev.block_size_min;
	CHECK_EQ_INT(write_pattern(&cur_ctx, off, len, 6, 0), 0);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_WRITE_ZEROES, 0, off + 3 * min, min,
			   NULL, 0),
		     0);
	CHECK_EQ_INT(read_check(&cur_ctx, off + 3 * min, min, 0), -1);
	CHECK_EQ_INT(read_check(&cur_ctx, off, 3 * min, data_seed(6)), -1);
	CHECK_EQ_INT(read_check(&cur_ctx, off + 4 * min, b, data_seed(6)), -1);
	CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_WRITE_ZEROES, DDM_F_NO_HOLE, off, 0,
			   NULL, 0),
		     0);
}

static void test_fast_zero(void)
{
	static const uint32_t flag_sets[] = { DDM_F_FAST_ZERO,
					      DDM_F_FAST_ZERO | DDM_F_NO_HOLE };
	uint64_t off = region(2), len = MIB;

	if (!(cur_dev.caps & DDM_CAP_FAST_ZERO)) {
		printf("# no FAST_ZERO\n");
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		int ret;

		CHECK_EQ_INT(write_pattern(&cur_ctx, off, len, 7, 0), 0);
		ret = t_run(&cur_ctx, DDM_OP_WRITE_ZEROES, flag_sets[i], off,
			    len, NULL, 0);
		printf("# FAST_ZERO flags 0x%x: %d\n", flag_sets[i], ret);
		CHECK(ret == 0 || ret == -ENOTSUP);
		if (ret == 0)
			CHECK_EQ_INT(read_check(&cur_ctx, off, len, 0), -1);
		/* Always fast without NO_HOLE where holes can be punched. */
		if (!(flag_sets[i] & DDM_F_NO_HOLE))
			CHECK_EQ_INT(ret, 0);
	}
}

/* Walk [off, off+len) with at most max extents per call. */
static void extents_walk(uint64_t off, uint64_t len, unsigned int max)
{
	struct ddm_extent ext[8];
	uint64_t pos = off, end = off + len;

	while (pos < end) {
		unsigned int n = max;
		uint64_t sum = 0;

		CHECK_EQ_INT(
			cur_dev.ops->extents(&cur_dev, pos, end - pos, ext, &n),
			0);
		CHECK(n >= 1 && n <= max);
		if (n < 1 || n > max)
			return;
		for (unsigned int i = 0; i < n; i++) {
			CHECK(ext[i].len > 0);
			CHECK(!(ext[i].flags &
				~(DDM_EXTENT_HOLE | DDM_EXTENT_ZERO)));
			/* Whatever claims zeroes must read as zeroes. */
			if ((ext[i].flags & DDM_EXTENT_ZERO) &&
			    ext[i].len <= 64 * MIB)
				CHECK_EQ_INT(read_check(&cur_ctx, pos + sum,
							ext[i].len, 0),
					     -1);
			sum += ext[i].len;
		}
		CHECK(sum > 0 && sum <= end - pos);
		if (sum == 0)
			return;
		pos += sum;
	}
}

static void test_extents(void)
{
	uint64_t off = region(3), len = 4 * MIB;

	if (!(cur_dev.caps & DDM_CAP_EXTENTS)) {
		printf("# no EXTENTS\n");
		return;
	}
	/* data, hole, data, hole in 1 MiB steps */
	CHECK_EQ_INT(write_pattern(&cur_ctx, off, MIB, 8, 0), 0);
	CHECK_EQ_INT(write_pattern(&cur_ctx, off + 2 * MIB, MIB, 8, 0), 0);
	extents_walk(off, len, 8);
	extents_walk(off, len, 1);
	extents_walk(off + 12345 / cur_dev.block_size_min *
				     cur_dev.block_size_min,
		     len / 2, 2);
	extents_walk(0, cur_dev.size_bytes, 8);
	if (cur_fx->stores)
		CHECK(!extents_show_hole(off, MIB));
}

static void test_last_block(void)
{
	uint64_t b = cur_dev.block_size_min, end = cur_dev.size_bytes;

	CHECK_EQ_INT(write_pattern(&cur_ctx, end - b, b, 9, 0), 0);
	CHECK_EQ_INT(read_check(&cur_ctx, end - b, b, data_seed(9)), -1);
	if (bsz() * 2 <= end) {
		CHECK_EQ_INT(write_pattern(&cur_ctx, end - 2 * bsz(), 2 * bsz(),
					   10, 0),
			     0);
		CHECK_EQ_INT(read_check(&cur_ctx, end - 2 * bsz(), 2 * bsz(),
					data_seed(10)),
			     -1);
	}
	if (cur_dev.caps & DDM_CAP_ZEROES) {
		CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_WRITE_ZEROES, 0, end - b, b,
				   NULL, 0),
			     0);
		CHECK_EQ_INT(read_check(&cur_ctx, end - b, b, 0), -1);
	}
	if (cur_dev.caps & DDM_CAP_TRIM)
		CHECK_EQ_INT(t_run(&cur_ctx, DDM_OP_TRIM, 0, end - bsz(), bsz(),
				   NULL, 0),
			     0);
	if (cur_dev.caps & DDM_CAP_EXTENTS) {
		struct ddm_extent ext[2];
		unsigned int n = 2;

		CHECK_EQ_INT(
			cur_dev.ops->extents(&cur_dev, end - b, b, ext, &n), 0);
		CHECK(n == 1 && ext[0].len == b);
		/* The trim above left the tail a hole. */
		if (cur_fx->trim_zeroes && (cur_dev.caps & DDM_CAP_TRIM))
			CHECK(ext[0].flags & DDM_EXTENT_ZERO);
	}
}

/*
 * Two writer threads, each with its own loop, on disjoint 64 KiB pieces of
 * one region; piece k of thread 1 lies 64 pieces after piece k of thread
 * 0, so in the ram DDM both share leaves and lock stripes.  Each writes,
 * trims, zeroes and reads back its own pieces.  Both also churn a shared
 * area that only ever holds zeroes, provisioning it (WRITE_ZEROES NO_HOLE)
 * and releasing it (TRIM) again, while a third thread reads that area and
 * expects zeroes: a read racing the free of its memory must neither touch
 * freed memory (ASan) nor see anything else, and no byte is ever written
 * under a reader, so ThreadSanitizer has nothing to report.
 */
#define CONC_PIECE   (64 * 1024)
#define CONC_PIECES  32
#define CONC_GAP     64 /* pieces between the two writers' areas */
#define CONC_ROUNDS  12
#define CHURN_PIECES 8

struct conc_arg {
	unsigned int id; /* 0, 1: writers; 2: reader */
	int failures;
};

static int conc_writers_left;

static void conc_reader(struct t_ctx *ctx, struct conc_arg *a)
{
	while (__atomic_load_n(&conc_writers_left, __ATOMIC_ACQUIRE))
		if (read_check(ctx, region(24), CHURN_PIECES * CONC_PIECE, 0) !=
		    -1)
			a->failures++;
}

static void conc_churn(struct t_ctx *ctx, struct conc_arg *a, unsigned int k)
{
	uint64_t off = region(24) + (k % CHURN_PIECES) * CONC_PIECE;
	bool trim = (cur_dev.caps & DDM_CAP_TRIM) && cur_fx->trim_zeroes;

	if (!(cur_dev.caps & DDM_CAP_ZEROES))
		return;
	if (t_run(ctx, DDM_OP_WRITE_ZEROES, DDM_F_NO_HOLE, off, CONC_PIECE,
		  NULL, 0) ||
	    t_run(ctx, trim ? DDM_OP_TRIM : DDM_OP_WRITE_ZEROES, 0, off,
		  CONC_PIECE, NULL, 0))
		a->failures++;
}

static void conc_writer(struct t_ctx *ctx, struct conc_arg *a)
{
	uint64_t base = region(8) + a->id * CONC_GAP * CONC_PIECE;
	bool trim = (cur_dev.caps & DDM_CAP_TRIM) && cur_fx->trim_zeroes;

	for (unsigned int r = 0; r < CONC_ROUNDS; r++) {
		unsigned int seed = 100 + r * 2 + a->id;

		for (unsigned int k = 0; k < CONC_PIECES; k++) {
			uint64_t off = base + (uint64_t)k * CONC_PIECE;
			enum ddm_op op = trim && (k + r) % 3 == 0
						 ? DDM_OP_TRIM
						 : DDM_OP_WRITE_ZEROES;

			conc_churn(ctx, a, k + a->id);
			if (write_pattern(ctx, off, CONC_PIECE, seed, 0) ||
			    read_check(ctx, off, CONC_PIECE, data_seed(seed)) !=
				    -1)
				a->failures++;
			if (!(cur_dev.caps & DDM_CAP_ZEROES) || (k + r) % 2)
				continue;
			if (t_run(ctx, op, 0, off, CONC_PIECE, NULL, 0) ||
			    read_check(ctx, off, CONC_PIECE, 0) != -1)
				a->failures++;
		}
	}
	__atomic_fetch_sub(&conc_writers_left, 1, __ATOMIC_RELEASE);
}

static void *conc_thread(void *p)
{
	struct conc_arg *a = p;
	struct t_ctx ctx = { .dev = &cur_dev };

	if (base_loop_create(&ctx.loop, cur_engine, 64) < 0) {
		a->failures++;
		if (a->id < 2)
			__atomic_fetch_sub(&conc_writers_left, 1,
					   __ATOMIC_RELEASE);
		return NULL;
	}
	ctx.req_priv = t_alloc(cur_dev.ops->req_priv_size);
	if (a->id < 2)
		conc_writer(&ctx, a);
	else
		conc_reader(&ctx, a);
	free(ctx.req_priv);
	base_loop_destroy(ctx.loop);
	return NULL;
}

static void test_concurrent(void)
{
	struct conc_arg args[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
	pthread_t th[3];

	bool started[3];

	conc_writers_left = 2;
	for (int i = 0; i < 3; i++) {
		started[i] =
			!pthread_create(&th[i], NULL, conc_thread, &args[i]);
		CHECK(started[i]);
		/* A writer that never ran must not keep the reader going. */
		if (!started[i] && i < 2)
			__atomic_fetch_sub(&conc_writers_left, 1,
					   __ATOMIC_RELEASE);
	}
	for (int i = 0; i < 3; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
	}
}

/*
 * file, buffered: the file shrinks under the device.  The read gets a short
 * count, resubmits the rest, gets 0 and must fail -EIO instead of spinning
 * or returning stale bytes as success.
 */
static void test_file_shrunk(void)
{
	uint64_t size = cur_dev.size_bytes;
	unsigned char *buf;
	int fd;

	if (strcmp(cur_fx->ddm, "file") || cur_dev.block_size_min != 1)
		return;
	fd = open(cur_fx->path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	buf = t_alloc(4096);
	CHECK_EQ_INT(ftruncate(fd, (off_t)(size - 1000)), 0);
	CHECK_EQ_INT(t_io(&cur_ctx, DDM_OP_READ, 0, size - 4096, buf, 4096),
		     -EIO);
	CHECK_EQ_INT(ftruncate(fd, (off_t)size), 0);
	CHECK_EQ_INT(t_io(&cur_ctx, DDM_OP_READ, 0, size - 4096, buf, 4096), 0);
	close(fd);
	free(buf);
}

static void fixture_run(const struct fixture *fx)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "open", test_open_sanity },
		{ "rw", test_rw_pattern },
		{ "fua_flush", test_fua_flush },
		{ "trim", test_trim },
		{ "write_zeroes", test_write_zeroes },
		{ "fast_zero", test_fast_zero },
		{ "extents", test_extents },
		{ "last_block", test_last_block },
		{ "concurrent", test_concurrent },
		{ "file_shrunk", test_file_shrunk }, /* last: it truncates */
	};
	char name[128];
	int ret;

	cur_fx = fx;
	memset(&cur_dev, 0, sizeof(cur_dev));
	cur_dev.ops = ddm_find(fx->ddm);
	cur_dev.name = fx->label;
	snprintf(name, sizeof(name), "%s/%s/open", base_engine_name(cur_engine),
		 fx->label);
	if (!cur_dev.ops) {
		printf("ok %d - %s # SKIP not built\n", ++test_case_no, name);
		return;
	}
	cur_dev.priv = calloc(1, cur_dev.ops->dev_priv_size + 1);
	ret = ddm_dev_open(&cur_dev, &fx->args);
	if (ret < 0) {
		printf("# open %s: %s\n", fx->label, strerror(-ret));
		printf("not ok %d - %s\n", ++test_case_no, name);
		test_failures++;
		free(cur_dev.priv);
		return;
	}
	cur_ctx.dev = &cur_dev;
	cur_ctx.req_priv = t_alloc(cur_dev.ops->req_priv_size);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "%s/%s/%s",
			 base_engine_name(cur_engine), fx->label,
			 cases[i].name);
		test_run(name, cases[i].fn);
	}
	cur_dev.ops->close(&cur_dev);
	free(cur_ctx.req_priv);
	free(cur_dev.priv);
}

static char shm_dir[64], disk_dir[64], loop_dev[64];

static int sh(const char *cmd, char *out, size_t out_len)
{
	FILE *p = popen(cmd, "r");
	int status;

	if (!p)
		return -1;
	if (out && !fgets(out, (int)out_len, p))
		out[0] = 0;
	status = pclose(p);
	if (out)
		out[strcspn(out, "\n")] = 0;
	return status;
}

/* The fault DDM with nothing to inject, over ram and files, and with its
 * volatile cache (over ram, and over an O_DIRECT file whose write-back
 * completes later). */
static const struct ddm_option fault_ram_opts[] = { { "inner", "ram" } };
static const struct ddm_option fault_file_opts[] = { { "inner", "file" } };
static const struct ddm_option fault_vram_opts[] = { { "inner", "ram" },
						     { "volatile", "1" } };
static const struct ddm_option fault_vfile_opts[] = { { "inner", "file" },
						      { "volatile", "1" } };

/* The rbd fixture's image, set from IOPD_TEST_RBD per engine pass. */
static char rbd_image[256];
static struct ddm_option rbd_opts[] = { { "image", rbd_image } };

static struct fixture fixtures[] = {
	{ .label = "null",
	  .ddm = "null",
	  .want_direct = 0,
	  .trim_zeroes = 1,
	  .args = { .size_bytes = 64 * MIB } },
	/* Not a multiple of a chunk and more than one 256 MiB leaf. */
	{ .label = "ram",
	  .ddm = "ram",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 0,
	  .args = { .size_bytes = 300 * MIB + 777 } },
	/* tmpfs takes O_DIRECT from Linux 6.6 on, refuses it before. */
	{ .label = "file-tmpfs",
	  .ddm = "file",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = -1,
	  .args = { .size_bytes = 64 * MIB, .direct = -1 } },
	{ .label = "file-direct",
	  .ddm = "file",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 1,
	  .args = { .size_bytes = 64 * MIB, .direct = -1 } },
	{ .label = "file-buffered",
	  .ddm = "file",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 0,
	  .args = { .size_bytes = 64 * MIB, .direct = 0 } },
	{ .label = "bdev",
	  .ddm = "bdev",
	  .stores = 1,
	  .want_direct = -1,
	  .args = { .direct = -1 } },
	{ .label = "fault-ram",
	  .ddm = "fault",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 0,
	  .args = { .size_bytes = 300 * MIB + 777,
		    .options = fault_ram_opts,
		    .n_options = 1 } },
	{ .label = "fault-file-tmpfs",
	  .ddm = "fault",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = -1,
	  .args = { .size_bytes = 64 * MIB,
		    .direct = -1,
		    .options = fault_file_opts,
		    .n_options = 1 } },
	{ .label = "fault-volatile-ram",
	  .ddm = "fault",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 1,
	  .args = { .size_bytes = 64 * MIB,
		    .options = fault_vram_opts,
		    .n_options = 2 } },
	{ .label = "fault-volatile-file-direct",
	  .ddm = "fault",
	  .stores = 1,
	  .trim_zeroes = 1,
	  .want_direct = 1,
	  .args = { .size_bytes = 64 * MIB,
		    .direct = -1,
		    .options = fault_vfile_opts,
		    .n_options = 2 } },
	/* Partial-object discards may be skipped (rbd_skip_partial_discard):
	 * a trim need not leave zeroes. */
	{ .label = "rbd",
	  .ddm = "rbd",
	  .stores = 1,
	  .trim_zeroes = 0,
	  .coarse_extents = 1,
	  .want_direct = -1,
	  .args = { .size_bytes = 64 * MIB,
		    .options = rbd_opts,
		    .n_options = 1 } },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

/* Fresh backing files for each engine's pass. */
static int fixtures_prepare(void)
{
	char cmd[256];

	snprintf(fixtures[2].path, sizeof(fixtures[2].path), "%s/img-%d",
		 shm_dir, (int)cur_engine);
	snprintf(fixtures[3].path, sizeof(fixtures[3].path), "%s/img-d-%d",
		 disk_dir, (int)cur_engine);
	snprintf(fixtures[4].path, sizeof(fixtures[4].path), "%s/img-b-%d",
		 disk_dir, (int)cur_engine);
	snprintf(fixtures[7].path, sizeof(fixtures[7].path), "%s/img-f-%d",
		 shm_dir, (int)cur_engine);
	snprintf(fixtures[9].path, sizeof(fixtures[9].path), "%s/img-fd-%d",
		 disk_dir, (int)cur_engine);
	for (int i = 2; i <= 4; i++)
		fixtures[i].args.path = fixtures[i].path;
	fixtures[7].args.path = fixtures[7].path;
	fixtures[9].args.path = fixtures[9].path;
	fixtures[5].args.path = NULL;
	if (getenv("IOPD_TEST_RBD"))
		snprintf(rbd_image, sizeof(rbd_image), "%s%s",
			 getenv("IOPD_TEST_RBD"),
			 cur_engine == BASE_ENGINE_EPOLL ? "-epoll" : "");
	if (!loop_dev[0])
		return 0;
	/* Zero the loop device's backing file between passes. */
	snprintf(cmd, sizeof(cmd),
		 "blkdiscard -f %s 2>/dev/null ||"
		 " dd if=/dev/zero of=%s bs=1M count=64 oflag=direct "
		 "2>/dev/null",
		 loop_dev, loop_dev);
	if (sh(cmd, NULL, 0) != 0)
		return -1;
	fixtures[5].args.path = loop_dev;
	return 0;
}

/*
 * Attach a loop device the way losetup -f does, but with AUTOCLEAR and our
 * descriptor held open: the kernel detaches it when the last user closes,
 * so even a crashed run leaves no device behind.
 */
static int loop_fd = -1;

static void loop_setup(void)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR };
	char backing[128];
	int ctl, nr, fd = -1, backing_fd;

	snprintf(backing, sizeof(backing), "%s/loop-backing", disk_dir);
	backing_fd = open(backing, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (backing_fd < 0 || ftruncate(backing_fd, 64 * MIB) < 0 || ctl < 0)
		goto out;
	cfg.fd = (uint32_t)backing_fd;
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr < 0)
		goto out;
	snprintf(loop_dev, sizeof(loop_dev), "/dev/loop%d", nr);
	fd = open(loop_dev, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, LOOP_CONFIGURE, &cfg) < 0) {
		printf("# cannot attach %s: %s\n", loop_dev, strerror(errno));
		loop_dev[0] = 0;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	loop_fd = fd;
out:
	if (ctl >= 0)
		close(ctl);
	if (backing_fd >= 0)
		close(backing_fd);
}

static void loop_teardown(void)
{
	if (loop_fd >= 0)
		close(loop_fd);
}

static void engine_pass(enum base_engine engine)
{
	struct base_loop *loop;

	cur_engine = engine;
	if (base_loop_create(&loop, engine, 64) < 0) {
		printf("ok %d - %s # SKIP engine unavailable\n", ++test_case_no,
		       base_engine_name(engine));
		return;
	}
	cur_ctx.loop = loop;
	if (base_loop_engine(loop) != engine) {
		printf("not ok %d - %s: another engine was chosen\n",
		       ++test_case_no, base_engine_name(engine));
		test_failures++;
	}
	if (fixtures_prepare() < 0)
		printf("# could not reset %s\n", loop_dev);
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const char *only = getenv("IOPD_TEST_ONLY");

		if (only && strncmp(fixtures[i].label, only, strlen(only)))
			continue;
		if (!strcmp(fixtures[i].ddm, "rbd") && !rbd_image[0]) {
			printf("ok %d - %s/rbd # SKIP no cluster "
			       "(IOPD_TEST_RBD)\n",
			       ++test_case_no, base_engine_name(engine));
			continue;
		}
		if (!strcmp(fixtures[i].ddm, "bdev") &&
		    !fixtures[i].args.path) {
			printf("ok %d - %s/bdev # SKIP no loop device\n",
			       ++test_case_no, base_engine_name(engine));
			continue;
		}
		fixture_run(&fixtures[i]);
	}
	base_loop_destroy(loop);
}

int main(void)
{
	char cmd[256];

	base_log_set_level(getenv("IOPD_TEST_DEBUG") ? BASE_LOG_DEBUG
						     : BASE_LOG_WARN);
	strcpy(shm_dir, "/dev/shm/ddm-conf-XXXXXX");
	strcpy(disk_dir, "/var/tmp/ddm-conf-XXXXXX");
	if (!mkdtemp(shm_dir) || !mkdtemp(disk_dir)) {
		perror("mkdtemp");
		return 1;
	}
	loop_setup();
	engine_pass(BASE_ENGINE_URING);
	engine_pass(BASE_ENGINE_EPOLL);
	loop_teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", shm_dir, disk_dir);
	sh(cmd, NULL, 0);
	return test_done();
}
