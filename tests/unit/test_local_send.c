// SPDX-License-Identifier: MIT
/*
 * The Local Transport's send handler: validation (range, read-only, flags,
 * alignment, maximum size) and emulation (FUA by flush, WRITE_ZEROES by
 * writes, FAST_ZERO refused, TRIM advisory), driven through the exported
 * descriptor table exactly as a Remote Transport calls it.  A recording
 * DDM with few capabilities shows what reaches the driver; the ram DDM
 * shows data round trips.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "local/local_priv.h"
#include "test.h"
#include "test_local_ram.h"

#define REC_MAX 64

static struct rec_call {
	enum ddm_op op;
	uint32_t flags;
	uint64_t offset, len;
	int zero_ok; /* for writes: was the payload all zeroes */
} rec_calls[REC_MAX];
static int rec_n;
static unsigned char rec_disk[8 << 20];
/* Fail the next request of rec_fail_op with rec_fail_result, once. */
static int rec_fail_op = -1, rec_fail_result;
/* ddm_ops.sync: how often it ran, and what it returns. */
static int rec_syncs, rec_sync_result;

/* What rec_open declares: by default no FUA, no ZEROES, no TRIM. */
static uint32_t rec_caps = DDM_CAP_FLUSH;

static int rec_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	dev->size_bytes = sizeof(rec_disk);
	dev->caps = rec_caps;
	dev->block_size_min = 512;
	return 0;
}

static void rec_close(struct ddm_dev *dev)
{
}

static void rec_submit(struct ddm_req *req)
{
	struct rec_call *c =
		&rec_calls[rec_n < REC_MAX ? rec_n++ : REC_MAX - 1];
	uint64_t off = req->offset;

	c->op = req->op;
	c->flags = req->flags;
	c->offset = req->offset;
	c->len = req->len;
	c->zero_ok = 1;
	if ((int)req->op == rec_fail_op) {
		rec_fail_op = -1;
		ddm_req_complete(req, rec_fail_result);
		return;
	}
	for (int i = 0; i < req->iovcnt && req->op == DDM_OP_WRITE; i++) {
		const unsigned char *p = req->iov[i].iov_base;

		for (size_t j = 0; j < req->iov[i].iov_len; j++)
			if (p[j])
				c->zero_ok = 0;
		memcpy(rec_disk + off, p, req->iov[i].iov_len);
		off += req->iov[i].iov_len;
	}
	ddm_req_complete(req, 0);
}

static int rec_sync(struct ddm_dev *dev)
{
	rec_syncs++;
	return rec_sync_result;
}

static const struct ddm_ops rec_ops = {
	.name = "rec",
	.open = rec_open,
	.close = rec_close,
	.sync = rec_sync,
	.submit = rec_submit,
};

static struct local_iop_ctx rec_ctx;
static struct iop_desc rec_desc = { .ops = &local_desc_ops, .ctx = &rec_ctx };
static int msg_result;
static int msg_calls;

static void msg_done(struct iop_msg *msg, int result)
{
	msg_result = result;
	msg_calls++;
}

/* Submit one request through the descriptor; returns its result. */
static int run(struct iop_session *s, enum ddm_op op, uint32_t flags,
	       uint64_t offset, uint64_t len, void *buf)
{
	size_t size = local_desc_ops.msg_size(s);
	struct iop_msg *msg = calloc(1, size);
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	local_desc_ops.msg_init(s, msg);
	msg->op = op;
	msg->flags = flags;
	msg->offset = offset;
	msg->len = len;
	msg->iov = &iov;
	msg->iovcnt = 1;
	msg->done = msg_done;
	msg_calls = 0;
	local_desc_ops.submit(s, msg);
	CHECK_EQ_INT(msg_calls, 1); /* exactly one completion */
	free(msg);
	return msg_result;
}

static struct iop_session *rec_session(bool ro)
{
	struct ddm_open_args args = { 0 };
	struct iop_session *s = NULL;
	unsigned int idx;

	if (!rec_ctx.iop) {
		iop_create("rec", &rec_ops, &rec_ctx.iop);
		iop_dev_add(rec_ctx.iop, "rec0", &args, &idx);
		rec_ctx.max_request_bytes = 1 << 20;
	}
	CHECK_EQ_INT(local_desc_ops.session_open(&rec_desc, 0, ro, &s), 0);
	rec_n = 0;
	return s;
}

static void test_validation(void)
{
	struct iop_session *s = rec_session(false);
	static char buf[2 << 20];

	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 0, 4096, buf), 0);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, sizeof(rec_disk), 512, buf),
		     -EINVAL);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, 0, sizeof(rec_disk) - 512, 1024, buf),
		     -ENOSPC);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, 0, UINT64_MAX - 511, 1024, buf),
		     -ENOSPC);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 100, 512, buf), -EINVAL);
	CHECK_EQ_INT(run(s, DDM_OP_READ, DDM_F_FUA, 0, 512, buf), -EINVAL);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, DDM_F_NO_HOLE, 0, 512, buf), -EINVAL);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 0, (2 << 20), buf), -EOVERFLOW);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE_ZEROES, DDM_F_FAST_ZERO, 0, 4096, buf),
		     -ENOTSUP);
	CHECK_EQ_INT(run(s, (enum ddm_op)99, 0, 0, 512, buf), -EINVAL);
	/* Only the first, valid read reached the DDM. */
	CHECK_EQ_INT(rec_n, 1);
	local_desc_ops.session_close(s);
}

static void test_read_only(void)
{
	struct iop_session *s = rec_session(true);
	struct iop_dev_info info;
	char buf[512];

	local_desc_ops.session_info(s, &info);
	CHECK(info.read_only);
	CHECK(!(info.caps & (DDM_CAP_ZEROES | DDM_CAP_FUA | DDM_CAP_TRIM)));
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, 0, 0, 512, buf), -EPERM);
	CHECK_EQ_INT(run(s, DDM_OP_TRIM, 0, 0, 512, buf), -EPERM);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE_ZEROES, 0, 0, 512, buf), -EPERM);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 0, 512, buf), 0);
	CHECK_EQ_INT(run(s, DDM_OP_FLUSH, 0, 0, 0, buf), 0);
	local_desc_ops.session_close(s);
}

static void test_emulation(void)
{
	struct iop_session *s = rec_session(false);
	struct iop_dev_info info;
	uint64_t covered = 0;
	char buf[4096];

	local_desc_ops.session_info(s, &info);
	CHECK(info.caps & DDM_CAP_FUA);
	CHECK(info.caps & DDM_CAP_ZEROES);
	CHECK_EQ_INT(info.block_size_min, 512);

	memset(buf, 0xab, sizeof(buf));
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, DDM_F_FUA, 4096, 4096, buf), 0);
	CHECK_EQ_INT(rec_n, 2);
	CHECK_EQ_INT(rec_calls[0].op, DDM_OP_WRITE);
	CHECK_EQ_INT(rec_calls[0].flags, 0);
	CHECK_EQ_INT(rec_calls[1].op, DDM_OP_FLUSH);

	/* 5 MiB + 512 of zeroes, more than one emulation chunk. */
	rec_n = 0;
	CHECK_EQ_INT(run(s, DDM_OP_WRITE_ZEROES, DDM_F_FUA, 0, (5 << 20) + 512,
			 NULL),
		     0);
	for (int i = 0; i < rec_n - 1; i++) {
		CHECK_EQ_INT(rec_calls[i].op, DDM_OP_WRITE);
		CHECK_EQ_INT(rec_calls[i].offset, covered);
		CHECK(rec_calls[i].zero_ok);
		covered += rec_calls[i].len;
	}
	CHECK(rec_n >= 3);
	CHECK_EQ_INT(covered, (5 << 20) + 512);
	CHECK_EQ_INT(rec_calls[rec_n - 1].op, DDM_OP_FLUSH);
	CHECK(rec_disk[4096] == 0);

	/* TRIM is advisory: succeeds without reaching a DDM lacking it. */
	rec_n = 0;
	CHECK_EQ_INT(run(s, DDM_OP_TRIM, 0, 0, 4096, NULL), 0);
	CHECK_EQ_INT(rec_n, 0);
	/* Zero-length writes succeed without touching storage. */
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, 0, 0, 0, NULL), 0);
	CHECK_EQ_INT(rec_n, 0);
	local_desc_ops.session_close(s);
}

/*
 * A DDM that declared ZEROES but declines one (-EOPNOTSUPP, as the file
 * DDM does for NO_HOLE where only punching works): the Local Transport
 * writes the zeroes, and a FAST_ZERO request fails instead.
 */
static void test_zeroes_declined(void)
{
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct iop_desc desc = { .ops = &local_desc_ops, .ctx = &ctx };
	struct ddm_open_args args = { 0 };
	struct iop_session *s = NULL;
	unsigned int idx;

	rec_caps = DDM_CAP_FLUSH | DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO;
	CHECK_EQ_INT(iop_create("declining", &rec_ops, &ctx.iop), 0);
	CHECK_EQ_INT(iop_dev_add(ctx.iop, "d0", &args, &idx), 0);
	rec_caps = DDM_CAP_FLUSH;
	CHECK_EQ_INT(local_desc_ops.session_open(&desc, 0, false, &s), 0);
	if (!s)
		return;
	memset(rec_disk, 0xab, 16384);
	rec_n = 0;
	rec_fail_op = DDM_OP_WRITE_ZEROES;
	rec_fail_result = -EOPNOTSUPP;
	CHECK_EQ_INT(run(s, DDM_OP_WRITE_ZEROES, DDM_F_NO_HOLE | DDM_F_FUA, 0,
			 16384, NULL),
		     0);
	CHECK_EQ_INT(rec_n, 3);
	CHECK_EQ_INT(rec_calls[0].op, DDM_OP_WRITE_ZEROES);
	CHECK_EQ_INT(rec_calls[1].op, DDM_OP_WRITE);
	CHECK_EQ_INT(rec_calls[1].len, 16384);
	CHECK(rec_calls[1].zero_ok);
	CHECK_EQ_INT(rec_calls[2].op, DDM_OP_FLUSH); /* the FUA */
	CHECK(rec_disk[0] == 0 && rec_disk[16383] == 0);

	rec_n = 0;
	rec_fail_op = DDM_OP_WRITE_ZEROES;
	CHECK_EQ_INT(
		run(s, DDM_OP_WRITE_ZEROES, DDM_F_FAST_ZERO, 0, 4096, NULL),
		-ENOTSUP);
	CHECK_EQ_INT(rec_n, 1);
	/* Declining is no write-back error. */
	CHECK_EQ_INT(run(s, DDM_OP_FLUSH, 0, 0, 0, NULL), 0);
	local_desc_ops.session_close(s);
	CHECK_EQ_INT(iop_destroy(ctx.iop), 0);
}

static void test_ram_round_trip(void)
{
	struct local *local = NULL;
	struct iop_desc desc = { .ops = &local_desc_ops };
	struct iop_session *s = NULL;
	struct ddm_extent ext[8];
	unsigned int n_ext = 8;
	char in[8192], out[8192];

	CHECK_EQ_INT(test_local_ram_scan(1 << 20, &local), 0);
	if (!local)
		return;
	CHECK_EQ_INT(local_iop_count(local), 1);
	desc.ctx = local_iop_context(local, 0);
	CHECK_EQ_INT(local_iop_dev_find(desc.ctx, "r0"), 0);
	CHECK_EQ_INT(local_iop_dev_find(desc.ctx, "nope"), -ENOENT);
	CHECK_EQ_INT(desc.ops->session_open(&desc, 0, false, &s), 0);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 7 + 3);
	CHECK_EQ_INT(run(s, DDM_OP_WRITE, 0, 65536, sizeof(in), in), 0);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 65536, sizeof(out), out), 0);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ_INT(desc.ops->extents(s, 0, 1 << 20, ext, &n_ext), 0);
	CHECK(n_ext >= 1);
	CHECK(ext[0].flags & DDM_EXTENT_HOLE); /* nothing written at 0 */
	CHECK_EQ_INT(run(s, DDM_OP_WRITE_ZEROES, 0, 65536, sizeof(in), NULL),
		     0);
	CHECK_EQ_INT(run(s, DDM_OP_READ, 0, 65536, sizeof(out), out), 0);
	CHECK(out[0] == 0 && out[sizeof(out) - 1] == 0);
	desc.ops->session_close(s);
	local_destroy(local);
}

/*
 * The kernel reports a write-back error to one fsync only.  Once a flush
 * failed, no flush or FUA write may succeed again, on any session of the
 * device, until an operator clears the error; plain writes and reads go
 * on.
 */
static void test_sticky_error(void)
{
	struct iop_session *s1 = rec_session(false), *s2 = rec_session(false);
	struct local_dev_info info;
	char buf[4096] = { 0 };

	rec_fail_op = DDM_OP_FLUSH;
	rec_fail_result = -EIO;
	CHECK_EQ_INT(run(s1, DDM_OP_FLUSH, 0, 0, 0, NULL), -EIO);
	/* The DDM would succeed now; the device must not. */
	rec_n = 0;
	CHECK_EQ_INT(run(s1, DDM_OP_FLUSH, 0, 0, 0, NULL), -EIO);
	CHECK_EQ_INT(run(s2, DDM_OP_FLUSH, 0, 0, 0, NULL), -EIO);
	CHECK_EQ_INT(run(s2, DDM_OP_WRITE, DDM_F_FUA, 0, 4096, buf), -EIO);
	CHECK_EQ_INT(run(s2, DDM_OP_WRITE_ZEROES, DDM_F_FUA, 0, 4096, NULL),
		     -EIO);
	CHECK_EQ_INT(rec_n, 0); /* refused before the DDM */
	CHECK_EQ_INT(run(s2, DDM_OP_WRITE, 0, 0, 4096, buf), 0);
	CHECK_EQ_INT(run(s1, DDM_OP_READ, 0, 0, 4096, buf), 0);
	CHECK_EQ_INT(local_iop_dev_info(&rec_ctx, 0, &info), 0);
	CHECK_EQ_INT(info.wb_error, -EIO);
	CHECK_EQ_INT(info.wb_errors, 1);

	/* The operator acknowledges it: flushes work again. */
	CHECK_EQ_INT(local_iop_dev_clear_error(&rec_ctx, 0), EIO);
	CHECK_EQ_INT(local_iop_dev_clear_error(&rec_ctx, 0), 0);
	CHECK_EQ_INT(run(s2, DDM_OP_FLUSH, 0, 0, 0, NULL), 0);

	/* An emulated FUA write whose flush fails makes it sticky too. */
	rec_fail_op = DDM_OP_FLUSH;
	rec_fail_result = -ENOSPC;
	CHECK_EQ_INT(run(s1, DDM_OP_WRITE, DDM_F_FUA, 0, 4096, buf), -ENOSPC);
	CHECK_EQ_INT(run(s2, DDM_OP_FLUSH, 0, 0, 0, NULL), -ENOSPC);
	/* A failed plain write is that write's own error, not sticky. */
	CHECK_EQ_INT(local_iop_dev_clear_error(&rec_ctx, 0), ENOSPC);
	rec_fail_op = DDM_OP_WRITE;
	rec_fail_result = -EIO;
	CHECK_EQ_INT(run(s1, DDM_OP_WRITE, 0, 0, 4096, buf), -EIO);
	CHECK_EQ_INT(run(s1, DDM_OP_FLUSH, 0, 0, 0, NULL), 0);
	local_desc_ops.session_close(s1);
	local_desc_ops.session_close(s2);
}

/* Closing a writable device flushes it first (stop and export removal are
 * flush points); a failure, or an uncleared write-back error, is
 * reported to the caller and counted for the exit status. */
static void test_close_flushes(void)
{
	struct ddm_open_args args = { 0 }, ro = { .read_only = true };
	unsigned long failures = local_close_failures();
	struct iop *iop = NULL;
	unsigned int idx;

	CHECK_EQ_INT(iop_create("closing", &rec_ops, &iop), 0);
	CHECK_EQ_INT(iop_dev_add(iop, "w", &args, &idx), 0);
	CHECK_EQ_INT(iop_dev_add(iop, "ro", &ro, &idx), 0);
	rec_syncs = 0;
	CHECK_EQ_INT(iop_destroy(iop), 0);
	CHECK_EQ_INT(rec_syncs, 1); /* the writable one only */
	CHECK_EQ_INT(local_close_failures(), failures);

	CHECK_EQ_INT(iop_create("closing", &rec_ops, &iop), 0);
	CHECK_EQ_INT(iop_dev_add(iop, "w", &args, &idx), 0);
	rec_sync_result = -EIO;
	CHECK_EQ_INT(iop_destroy(iop), -EIO);
	rec_sync_result = 0;
	CHECK_EQ_INT(local_close_failures(), failures + 1);

	/* The final flush succeeds, but an earlier one had failed. */
	CHECK_EQ_INT(iop_create("closing", &rec_ops, &iop), 0);
	CHECK_EQ_INT(iop_dev_add(iop, "w", &args, &idx), 0);
	iop_dev_wb_fail(iop->devs[0], -EIO);
	CHECK_EQ_INT(iop_destroy(iop), -EIO);
	CHECK_EQ_INT(local_close_failures(), failures + 2);
}

/* A DDM whose bytes a sender may take from a file itself
 * (ddm_ops.read_source): map_fd, or -ENOTSUP while map_fd < 0. */
static int map_fd = -1;

static int map_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	dev->size_bytes = 1 << 20;
	dev->caps = DDM_CAP_FLUSH;
	dev->block_size_min = 512;
	return 0;
}

static int map_read_source(struct ddm_dev *dev, uint64_t offset, uint64_t len,
			   int *fd, uint64_t *fd_offset)
{
	if (map_fd < 0)
		return -ENOTSUP;
	*fd = map_fd;
	*fd_offset = offset;
	return 0;
}

static const struct ddm_ops map_ops = {
	.name = "mapsrc",
	.open = map_open,
	.close = rec_close,
	.sync = rec_sync,
	.submit = rec_submit,
	.read_source = map_read_source,
};

/* read_map: validated like a READ, a pointer into one mapping per
 * session that stays valid until that session closes, none when the
 * file can't be mapped. */
static void test_read_map(void)
{
	struct local_iop_ctx ctx = { .max_request_bytes = 1 << 20 };
	struct iop_desc desc = { .ops = &local_desc_ops, .ctx = &ctx };
	struct ddm_open_args args = { 0 };
	struct iop_session *s1, *s2;
	const uint8_t *d1, *d2, *d3;
	static unsigned char pat[1 << 20];
	unsigned int idx;
	uint64_t off;
	int fd, src, pipefd[2];

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i * 7 + (i >> 12));
	fd = memfd_create("read_map", 0);
	CHECK(fd >= 0);
	CHECK_EQ_INT((int)pwrite(fd, pat, sizeof(pat), 0), (int)sizeof(pat));
	CHECK_EQ_INT(iop_create("map", &map_ops, &ctx.iop), 0);
	CHECK_EQ_INT(iop_dev_add(ctx.iop, "m0", &args, &idx), 0);
	CHECK_EQ_INT(local_desc_ops.session_open(&desc, 0, false, &s1), 0);
	CHECK_EQ_INT(local_desc_ops.session_open(&desc, 0, true, &s2), 0);

	/* No source: the caller reads the usual way. */
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 0, 65536, &src, &off, &d1),
		     -ENOTSUP);
	map_fd = fd;
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 65536, 65536, &src, &off, &d1),
		     0);
	CHECK(d1 && off == 65536 && !memcmp(d1, pat + 65536, 65536));
	/* The same mapping for the session's next read. */
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 4096, 512, &src, &off, &d3),
		     0);
	CHECK(d3 == d1 - 65536 + 4096);
	/* Refused like a READ: past the end, unaligned. */
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 1 << 20, 512, &src, &off, &d3),
		     -EINVAL);
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 100, 512, &src, &off, &d3),
		     -EINVAL);
	/* Another session has its own, which outlives the first. */
	CHECK_EQ_INT(local_desc_ops.read_map(s2, 65536, 65536, &src, &off, &d2),
		     0);
	CHECK(d2 && d2 != d1);
	local_desc_ops.session_close(s1);
	CHECK(!memcmp(d2, pat + 65536, 65536));
	local_desc_ops.session_close(s2);

	/* A source that can't be mapped: still served, from the fd. */
	CHECK_EQ_INT(pipe(pipefd), 0);
	map_fd = pipefd[0];
	CHECK_EQ_INT(local_desc_ops.session_open(&desc, 0, false, &s1), 0);
	CHECK_EQ_INT(local_desc_ops.read_map(s1, 0, 65536, &src, &off, &d1), 0);
	CHECK(!d1 && src == pipefd[0]);
	local_desc_ops.session_close(s1);
	map_fd = -1;
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	iop_destroy(ctx.iop);
}

int main(void)
{
	TEST_CASE(test_validation);
	TEST_CASE(test_read_only);
	TEST_CASE(test_emulation);
	TEST_CASE(test_zeroes_declined);
	TEST_CASE(test_ram_round_trip);
	TEST_CASE(test_sticky_error);
	TEST_CASE(test_close_flushes);
	TEST_CASE(test_read_map);
	iop_destroy(rec_ctx.iop);
	return test_done();
}
