// SPDX-License-Identifier: MIT
/*
 * Transcripts of the NBD engine's transmission phase: requests in, simple
 * and structured replies out, byte for byte, through the fake connection
 * of tests/nbd_transcript.c over the in-memory storage stub; includes
 * asynchronous and out-of-order completion, back-pressure and fragmented
 * input.  Cases cite the proto.md rule they check where it is not obvious.
 */
#include "nbd_transcript.c"

/* ---- transmission ---- */

static void test_simple_read_write(void)
{
	static unsigned char data[8192];

	t_start_default();
	t_go("disk", false, false);
	fill_pattern(data, sizeof(data), 1);
	c_request(&C, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0x0102030405060708ull,
		  8192, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_READ, 2, 8192, sizeof(data));
	FEED();
	s_simple(&S, 0, 0x0102030405060708ull);
	s_simple(&S, 0, 2);
	b_mem(&S, data, sizeof(data));
	EXPECT();
	/* proto.md FUA is passed down as DDM_F_FUA. */
	CHECK_EQ_INT(fake_last_op(T.disk, 1)->op, DDM_OP_WRITE);
	CHECK_EQ_INT(fake_last_op(T.disk, 1)->flags, DDM_F_FUA);
	CHECK_EQ_INT(fake_last_op(T.disk, 0)->op, DDM_OP_READ);
	CHECK(memcmp(T.disk->data + 8192, data, sizeof(data)) == 0);

	/* A failed read's simple reply carries no data (proto.md). */
	T.disk->fail_next = -EIO;
	c_request(&C, 0, NBD_CMD_READ, 3, 0, 512);
	/* Zero-length read and write: success, storage untouched. */
	c_request(&C, 0, NBD_CMD_READ, 4, 0, 0);
	c_request(&C, 0, NBD_CMD_WRITE, 5, 0, 0);
	FEED();
	s_simple(&S, NBD_EIO, 3);
	s_simple(&S, 0, 4);
	s_simple(&S, 0, 5);
	EXPECT();
	CHECK_EQ_INT(fake_last_op(T.disk, 0)->offset, 0);
	CHECK_EQ_INT(fake_last_op(T.disk, 0)->len, 512);
	t_stop();
}

/*
 * A device whose extents are not cheap (the file DDM's lseek) is never
 * asked for them on a READ: the check once cost more than the read
 * (fio 4k random read went from 100k to 600 IOPS).
 */
static void test_read_skips_costly_extents(void)
{
	unsigned int calls;

	t_start_default();
	T.disk->caps &= ~DDM_CAP_EXTENTS_CHEAP;
	t_go("disk", true, false);
	calls = T.disk->n_extents_calls;
	c_request(&C, 0, NBD_CMD_READ, 1, 64 * KiB, 4096);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_DATA, 1, 8 + 4096);
	b_u64(&S, 64 * KiB);
	b_mem(&S, T.disk->data + 64 * KiB, 4096);
	EXPECT();
	CHECK_EQ_INT(T.disk->n_extents_calls, calls);
	t_stop();
}

static void test_structured_read(void)
{
	static unsigned char data[4096];
	unsigned int calls;
	unsigned int n_log;

	t_start_default();
	t_go("disk", true, false);
	fill_pattern(data, sizeof(data), 3);
	c_request(&C, 0, NBD_CMD_WRITE, 1, 4096, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_READ, 2, 4096, sizeof(data));
	c_request(&C, NBD_CMD_FLAG_DF, NBD_CMD_READ, 3, 4096, 100);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 1, 0);
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_DATA, 2, 8 + sizeof(data));
	b_u64(&S, 4096);
	b_mem(&S, data, sizeof(data));
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_DATA, 3, 8 + 100);
	b_u64(&S, 4096);
	b_mem(&S, data, 100);
	EXPECT();

	/* Sparse: an unwritten range is one hole chunk, storage unread. */
	n_log = T.disk->n_log;
	calls = T.disk->n_extents_calls;
	c_request(&C, 0, NBD_CMD_READ, 4, 64 * KiB, 128 * KiB);
	c_request(&C, NBD_CMD_FLAG_DF, NBD_CMD_READ, 5, 8192, 8192);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_HOLE, 4, 12);
	b_u64(&S, 64 * KiB);
	b_u32(&S, 128 * KiB);
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_HOLE, 5, 12);
	b_u64(&S, 8192);
	b_u32(&S, 8192);
	EXPECT();
	CHECK_EQ_INT(T.disk->n_log, n_log);
	CHECK_EQ_INT(T.disk->n_extents_calls, calls + 2);

	/* Half data, half hole: read as data. */
	c_request(&C, 0, NBD_CMD_READ, 6, 0, 8192);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_DATA, 6, 8 + 8192);
	b_u64(&S, 0);
	b_mem(&S, T.disk->data, 4096);
	b_mem(&S, data, 4096);
	EXPECT();

	/* Errors are error chunks, never simple replies (proto.md). */
	T.disk->fail_next = -EIO;
	c_request(&C, 0, NBD_CMD_READ, 7, 4096, 4096);
	c_request(&C, 0, NBD_CMD_READ, 8, 1 * MiB, 1);
	FEED();
	s_error_chunk(&S, 7, NBD_EIO);
	s_error_chunk(&S, 8, NBD_EINVAL);
	EXPECT();
	t_stop();
}

static void test_block_status(void)
{
	static unsigned char data[4096];

	t_start_default();
	t_go("disk", true, true);
	c_request(&C, 0, NBD_CMD_WRITE, 1, 0, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_BLOCK_STATUS, 2, 0, 16384);
	c_request(&C, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 3, 0, 16384);
	c_request(&C, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 4, 4096, 100);
	c_request(&C, 0, NBD_CMD_BLOCK_STATUS, 5, 1 * MiB - 512, 1024);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 1, 0);
	s_chunk(&S, NBD_REPLY_TYPE_BLOCK_STATUS, 2, 4 + 16);
	b_u32(&S, NBD_META_ID_BASE_ALLOCATION);
	b_u32(&S, 4096);
	b_u32(&S, 0);
	b_u32(&S, 12288);
	b_u32(&S, NBD_STATE_HOLE | NBD_STATE_ZERO);
	s_chunk(&S, NBD_REPLY_TYPE_BLOCK_STATUS, 3, 4 + 8);
	b_u32(&S, NBD_META_ID_BASE_ALLOCATION);
	b_u32(&S, 4096);
	b_u32(&S, 0);
	s_chunk(&S, NBD_REPLY_TYPE_BLOCK_STATUS, 4, 4 + 8);
	b_u32(&S, NBD_META_ID_BASE_ALLOCATION);
	b_u32(&S, 100);
	b_u32(&S, NBD_STATE_HOLE | NBD_STATE_ZERO);
	/* proto.md: SHOULD be EINVAL beyond the end. */
	s_error_chunk(&S, 5, NBD_EINVAL);
	EXPECT();
	t_stop();

	/* Without SET_META_CONTEXT: proto.md SHOULD EINVAL. */
	t_start_default();
	t_go("disk", true, false);
	c_request(&C, 0, NBD_CMD_BLOCK_STATUS, 1, 0, 4096);
	FEED();
	s_error_chunk(&S, 1, NBD_EINVAL);
	EXPECT();
	t_stop();

	/* Contexts set for another export do not carry over. */
	t_start_default();
	{
		static const char *const q[] = { "base:allocation" };

		b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
		c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
		c_meta(&C, NBD_OPT_SET_META_CONTEXT, "ro", 1, q);
		c_info(&C, NBD_OPT_GO, "disk", 0, NULL);
		FEED();
		t_skip_output();
	}
	c_request(&C, 0, NBD_CMD_BLOCK_STATUS, 1, 0, 4096);
	FEED();
	s_error_chunk(&S, 1, NBD_EINVAL);
	EXPECT();
	t_stop();
}

static void test_trim_zero_flush_cache(void)
{
	t_start_default();
	t_go("disk", true, false);
	c_request(&C, NBD_CMD_FLAG_FUA, NBD_CMD_TRIM, 1, 4096, 8192);
	c_request(&C,
		  NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO |
			  NBD_CMD_FLAG_FUA,
		  NBD_CMD_WRITE_ZEROES, 2, 0, 4096);
	c_request(&C, 0, NBD_CMD_FLUSH, 3, 0, 0);
	c_request(&C, 0, NBD_CMD_CACHE, 4, 0, 65536);
	FEED();
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 1, 0);
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 2, 0);
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 3, 0);
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 4, 0);
	EXPECT();
	CHECK_EQ_INT(fake_last_op(T.disk, 3)->op, DDM_OP_TRIM);
	CHECK_EQ_INT(fake_last_op(T.disk, 3)->flags, DDM_F_FUA);
	CHECK_EQ_INT(fake_last_op(T.disk, 3)->offset, 4096);
	CHECK_EQ_INT(fake_last_op(T.disk, 3)->len, 8192);
	CHECK_EQ_INT(fake_last_op(T.disk, 2)->op, DDM_OP_WRITE_ZEROES);
	CHECK_EQ_INT(fake_last_op(T.disk, 2)->flags,
		     DDM_F_FUA | DDM_F_NO_HOLE | DDM_F_FAST_ZERO);
	CHECK_EQ_INT(fake_last_op(T.disk, 1)->op, DDM_OP_FLUSH);
	CHECK_EQ_INT(fake_last_op(T.disk, 0)->op, DDM_OP_CACHE);

	/* A fast zero that cannot be fast: NBD_ENOTSUP (proto.md). */
	T.disk->fail_next = -ENOTSUP;
	c_request(&C, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 5, 0, 4096);
	/* FLUSH with a nonzero length: proto.md says they MUST be zero. */
	c_request(&C, 0, NBD_CMD_FLUSH, 6, 0, 512);
	FEED();
	s_error_chunk(&S, 5, NBD_ENOTSUP);
	s_error_chunk(&S, 6, NBD_EINVAL);
	EXPECT();
	t_stop();
}

static void test_request_errors(void)
{
	static unsigned char data[4096];

	t_start_default();
	t_go("disk", false, false);
	c_request(&C, 0, NBD_CMD_READ, 1, 1 * MiB - 100, 200);
	/* proto.md: writes past the end SHOULD get ENOSPC; the payload is
	 * still consumed so the next request parses. */
	c_request(&C, 0, NBD_CMD_WRITE, 2, 1 * MiB - 100, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_WRITE_ZEROES, 3, 1 * MiB, 1);
	c_request(&C, 0, NBD_CMD_TRIM, 4, 1 * MiB, 4096);
	c_request(&C, 0, NBD_CMD_READ, 5, UINT64_MAX - 10, 100);
	c_request(&C, 0, 42, 6, 0, 0);
	c_request(&C, 0x8000, NBD_CMD_READ, 7, 0, 1);
	/* DF is only valid once structured replies are on. */
	c_request(&C, NBD_CMD_FLAG_DF, NBD_CMD_READ, 8, 0, 1);
	c_request(&C, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_WRITE_ZEROES, 9, 0, 1);
	c_request(&C, 0, NBD_CMD_READ, 10, 0, 1);
	FEED();
	s_simple(&S, NBD_EINVAL, 1);
	s_simple(&S, NBD_ENOSPC, 2);
	s_simple(&S, NBD_ENOSPC, 3);
	s_simple(&S, NBD_EINVAL, 4);
	s_simple(&S, NBD_EINVAL, 5);
	s_simple(&S, NBD_EINVAL, 6);
	s_simple(&S, NBD_EINVAL, 7);
	s_simple(&S, NBD_EINVAL, 8);
	s_simple(&S, NBD_EINVAL, 9);
	s_simple(&S, 0, 10);
	b_mem(&S, "", 1);
	EXPECT();
	t_stop();
}

static void test_read_only(void)
{
	static unsigned char data[1024];

	t_start_default();
	t_go("ro", false, false);
	c_request(&C, 0, NBD_CMD_WRITE, 1, 0, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_TRIM, 2, 0, 4096);
	c_request(&C, 0, NBD_CMD_WRITE_ZEROES, 3, 0, 4096);
	c_request(&C, 0, NBD_CMD_FLUSH, 4, 0, 0);
	c_request(&C, 0, NBD_CMD_READ, 5, 0, 8);
	FEED();
	s_simple(&S, NBD_EPERM, 1);
	s_simple(&S, NBD_EPERM, 2);
	s_simple(&S, NBD_EPERM, 3);
	s_simple(&S, 0, 4);
	s_simple(&S, 0, 5);
	b_u64(&S, 0);
	EXPECT();
	t_stop();
}

static void test_oversized(void)
{
	static unsigned char data[128 * 1024];
	struct bytes *c = &C;

	t_start(16, 64 * KiB);
	t_go("disk", true, false);
	c_request(c, 0, NBD_CMD_READ, 1, 0, 128 * KiB);
	/* Over the maximum but sane: payload dropped, NBD_EINVAL. */
	c_request(c, 0, NBD_CMD_WRITE, 2, 0, sizeof(data));
	b_mem(c, data, sizeof(data));
	c_request(c, 0, NBD_CMD_FLUSH, 3, 0, 0);
	FEED();
	s_error_chunk(&S, 1, NBD_EINVAL);
	s_error_chunk(&S, 2, NBD_EINVAL);
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 3, 0);
	EXPECT();
	CHECK_EQ_INT(fake_last_op(T.disk, 0)->op, DDM_OP_FLUSH);
	/* Absurd: disconnect rather than read 100 MiB. */
	c_request(c, 0, NBD_CMD_WRITE, 4, 0, 100 * MiB);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	b_reset(&C);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_request_bad_magic(void)
{
	t_start_default();
	t_go("disk", false, false);
	T.disk->defer = true;
	c_request(&C, 0, NBD_CMD_READ, 1, 0, 512);
	FEED();
	b_u32(&C, 0x12560953); /* the historic request magic */
	b_mem(&C, "0123456789012345678901234", 24);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	b_reset(&C);
	CHECK_EQ_INT(t_rx_room(), 0);
	/* The stream is lost, but what is in flight completes first. */
	CHECK(!remote_engine_finished(nbd_proto_engine(T.proto)));
	fake_complete_all(T.disk);
	t_skip_output();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_disc(void)
{
	static unsigned char data[512];

	t_start_default();
	t_go("disk", false, false);
	T.disk->defer = true;
	c_request(&C, 0, NBD_CMD_WRITE, 1, 0, sizeof(data));
	b_mem(&C, data, sizeof(data));
	c_request(&C, 0, NBD_CMD_DISC, 2, 0, 0);
	FEED();
	CHECK_EQ_INT(t_rx_room(), 0);
	CHECK_EQ_INT(remote_engine_inflight(nbd_proto_engine(T.proto)), 1);
	CHECK(!remote_engine_finished(nbd_proto_engine(T.proto)));
	EXPECT();
	/* proto.md: the server MUST handle all outstanding requests; DISC
	 * itself gets no reply. */
	T.ready = 0;
	fake_complete_all(T.disk);
	CHECK_EQ_INT(T.ready, 1);
	CHECK(!remote_engine_finished(nbd_proto_engine(T.proto)));
	s_simple(&S, 0, 1);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_slots_exhausted(void)
{
	t_start(2, 1 * MiB);
	t_go("disk", false, false);
	T.disk->defer = true;
	for (int i = 1; i <= 4; i++)
		c_request(&C, 0, NBD_CMD_READ, (uint64_t)i, 0, 4);
	FEED();
	CHECK_EQ_INT(remote_engine_inflight(nbd_proto_engine(T.proto)), 2);
	CHECK_EQ_INT(T.proto->n_slots, 2);
	CHECK_EQ_INT(t_rx_room(), 0);
	T.ready = 0;
	fake_complete(T.disk, 0, 0);
	CHECK_EQ_INT(T.ready, 1);
	/* Completed but not yet sent: the slot is still taken. */
	CHECK_EQ_INT(t_rx_room(), 0);
	/* Sending it frees the slot, and request 3 waiting in the buffer
	 * is parsed without any new input. */
	s_simple(&S, 0, 1);
	b_u32(&S, 0);
	EXPECT();
	CHECK_EQ_INT(remote_engine_inflight(nbd_proto_engine(T.proto)), 2);
	CHECK_EQ_INT(T.proto->n_slots, 2);
	fake_complete_all(T.disk);
	s_simple(&S, 0, 3);
	b_u32(&S, 0);
	s_simple(&S, 0, 2);
	b_u32(&S, 0);
	EXPECT();
	fake_complete_all(T.disk);
	s_simple(&S, 0, 4);
	b_u32(&S, 0);
	EXPECT();
	CHECK(t_rx_room() > 0);
	t_stop();
}

static void test_out_of_order(void)
{
	t_start_default();
	t_go("disk", true, false);
	T.disk->defer = true;
	T.disk->data[0] = 0xaa;
	T.disk->alloc[0] = 1;
	c_request(&C, 0, NBD_CMD_READ, 1, 0, 1);
	c_request(&C, 0, NBD_CMD_FLUSH, 2, 0, 0);
	c_request(&C, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE_ZEROES, 3, 4096, 4096);
	FEED();
	EXPECT();
	fake_complete(T.disk, 1, 0);
	fake_complete(T.disk, 1, -ENOSPC);
	fake_complete(T.disk, 0, 0);
	s_chunk(&S, NBD_REPLY_TYPE_NONE, 2, 0);
	s_error_chunk(&S, 3, NBD_ENOSPC);
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_DATA, 1, 9);
	b_u64(&S, 0);
	b_mem(&S, "\xaa", 1);
	EXPECT();
	t_stop();
}

/* A WRITE arriving a byte at a time, and the payload going straight into
 * the request's buffer. */
static void test_write_fragments(void)
{
	static unsigned char data[8192];
	void *buf;
	size_t len;

	t_start_default();
	t_go("disk", false, false);
	fill_pattern(data, sizeof(data), 9);
	c_request(&C, 0, NBD_CMD_WRITE, 7, 4096, sizeof(data));
	for (size_t i = 0; i < NBD_REQUEST_BYTES; i++)
		CHECK_EQ_INT(remote_engine_feed(nbd_proto_engine(T.proto),
						C.b + i, 1),
			     1);
	b_reset(&C);
	remote_engine_rx_buf(nbd_proto_engine(T.proto), &buf, &len);
	CHECK_EQ_INT(len, sizeof(data));
	CHECK(((uintptr_t)buf & (NBD_BUF_ALIGN - 1)) == 0);
	for (size_t i = 0; i < sizeof(data); i++)
		CHECK_EQ_INT(remote_engine_feed(nbd_proto_engine(T.proto),
						data + i, 1),
			     1);
	s_simple(&S, 0, 7);
	EXPECT();
	CHECK(memcmp(T.disk->data + 4096, data, sizeof(data)) == 0);

	/* Output acknowledged a byte at a time too. */
	c_request(&C, 0, NBD_CMD_READ, 8, 4096, 16);
	FEED();
	t_drain_by(1);
	s_simple(&S, 0, 8);
	b_mem(&S, data, 16);
	EXPECT();
	t_stop();
}

static void test_eof_mid_write(void)
{
	static unsigned char data[100];

	t_start_default();
	t_go("disk", false, false);
	c_request(&C, 0, NBD_CMD_WRITE, 1, 0, 4096);
	b_mem(&C, data, sizeof(data));
	FEED();
	remote_engine_rx_eof(nbd_proto_engine(T.proto));
	CHECK_EQ_INT(t_rx_room(), 0);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

/* tx_ready is never called from inside rx_done while it parses, but once
 * when it returns with new output. */
static void test_tx_ready(void)
{
	t_start_default();
	t_go("disk", false, false);
	T.ready = 0;
	c_request(&C, 0, NBD_CMD_FLUSH, 1, 0, 0);
	c_request(&C, 0, NBD_CMD_FLUSH, 2, 0, 0);
	FEED();
	CHECK_EQ_INT(T.ready, 1);
	t_skip_output();
	t_stop();
}

static void test_error_from_errno(void)
{
	CHECK_EQ_INT(nbd_error_from_errno(0), 0);
	CHECK_EQ_INT(nbd_error_from_errno(-EPERM), NBD_EPERM);
	CHECK_EQ_INT(nbd_error_from_errno(-EROFS), NBD_EPERM);
	CHECK_EQ_INT(nbd_error_from_errno(-EIO), NBD_EIO);
	CHECK_EQ_INT(nbd_error_from_errno(-ENOMEM), NBD_ENOMEM);
	CHECK_EQ_INT(nbd_error_from_errno(-EINVAL), NBD_EINVAL);
	CHECK_EQ_INT(nbd_error_from_errno(-ENOSPC), NBD_ENOSPC);
	CHECK_EQ_INT(nbd_error_from_errno(-EDQUOT), NBD_ENOSPC);
	CHECK_EQ_INT(nbd_error_from_errno(-EFBIG), NBD_ENOSPC);
	CHECK_EQ_INT(nbd_error_from_errno(-EOVERFLOW), NBD_EOVERFLOW);
	CHECK_EQ_INT(nbd_error_from_errno(-ENOTSUP), NBD_ENOTSUP);
	CHECK_EQ_INT(nbd_error_from_errno(-EOPNOTSUPP), NBD_ENOTSUP);
	CHECK_EQ_INT(nbd_error_from_errno(-ESHUTDOWN), NBD_ESHUTDOWN);
	CHECK_EQ_INT(nbd_error_from_errno(-EBADF), NBD_EIO);
	CHECK_EQ_INT(nbd_error_from_errno(EINVAL), NBD_EINVAL);
}

/* Data buffers above 1 MiB are not kept by their slot. */
static void test_big_buffers_not_kept(void)
{
	struct fake_dev *big;

	t_start(16, 4 * MiB);
	big = fake_backend_add(&T.fb, "big", NULL, 4 * MiB, 0, false);
	big->data[2 * MiB - 1] = 0x5a;
	t_go("big", false, false);
	c_request(&C, 0, NBD_CMD_READ, 1, 0, 2 * MiB);
	FEED();
	CHECK(T.proto->all_slots && T.proto->all_slots->data_cap >= 2 * MiB);
	t_drain_mode(0, true);
	CHECK_EQ_INT(T.proto->n_slots, 1);
	CHECK(T.proto->all_slots->data == NULL);
	c_request(&C, 0, NBD_CMD_READ, 2, 0, 4096);
	FEED();
	t_skip_output();
	CHECK(T.proto->all_slots->data != NULL);
	t_stop();
}

/*
 * The connection's memory budget: a READ whose buffer would take it past
 * the budget stays unparsed and input pauses; the replies being sent
 * give the room back and the waiting requests run without new input.
 * A request larger than the whole budget still runs when nothing else
 * is held.
 */
static void test_buffer_budget(void)
{
	static const unsigned char zero[8192];
	struct remote_engine *e;

	t_start_default();
	e = nbd_proto_engine(T.proto);
	e->mem_budget = 8192;
	t_go("disk", false, false);
	for (int i = 1; i <= 4; i++)
		c_request(&C, 0, NBD_CMD_READ, (uint64_t)i, 0, 4096);
	FEED();
	CHECK_EQ_INT(e->mem_held, 8192);
	CHECK_EQ_INT(e->mem_want, 4096);
	CHECK_EQ_INT(t_rx_room(), 0);
	for (int i = 1; i <= 4; i++) {
		s_simple(&S, 0, (uint64_t)i);
		b_mem(&S, zero, 4096);
	}
	EXPECT();
	CHECK_EQ_INT(e->mem_held, 0);
	CHECK_EQ_INT(e->mem_want, 0);
	CHECK(t_rx_room() > 0);

	e->mem_budget = 4096;
	c_request(&C, 0, NBD_CMD_READ, 5, 0, 8192);
	FEED();
	CHECK_EQ_INT(e->mem_held, 8192);
	s_simple(&S, 0, 5);
	b_mem(&S, zero, 8192);
	EXPECT();
	CHECK_EQ_INT(e->mem_held, 0);
	t_stop();
}

static void test_not_advertised(void)
{
	t_start_default();
	t_go("aligned", false, false);
	/* TRIM was not advertised: proto.md says the client MUST NOT send
	 * it; refuse it cleanly. */
	c_request(&C, 0, NBD_CMD_TRIM, 1, 0, 512);
	c_request(&C, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE_ZEROES, 2, 0, 512);
	FEED();
	s_simple(&S, NBD_EINVAL, 1);
	s_simple(&S, 0, 2);
	EXPECT();
	CHECK_EQ_INT(fake_last_op(T.aligned, 0)->flags, DDM_F_FUA);
	t_stop();
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	TEST_CASE(test_simple_read_write);
	TEST_CASE(test_structured_read);
	TEST_CASE(test_read_skips_costly_extents);
	TEST_CASE(test_block_status);
	TEST_CASE(test_trim_zero_flush_cache);
	TEST_CASE(test_request_errors);
	TEST_CASE(test_read_only);
	TEST_CASE(test_oversized);
	TEST_CASE(test_request_bad_magic);
	TEST_CASE(test_disc);
	TEST_CASE(test_slots_exhausted);
	TEST_CASE(test_out_of_order);
	TEST_CASE(test_write_fragments);
	TEST_CASE(test_eof_mid_write);
	TEST_CASE(test_tx_ready);
	TEST_CASE(test_big_buffers_not_kept);
	TEST_CASE(test_buffer_budget);
	TEST_CASE(test_not_advertised);
	TEST_CASE(test_error_from_errno);
	return test_done();
}
