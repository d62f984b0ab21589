// SPDX-License-Identifier: MIT
/*
 * Transcripts of the NBD engine's negotiation phase (fixed newstyle):
 * exact client bytes in, exact server bytes out, through the fake
 * connection of tests/nbd_transcript.c.  Cases cite the proto.md rule they
 * check where it is not obvious.
 */
#include "nbd_transcript.c"

/* ---- negotiation ---- */

static void test_greeting(void)
{
	t_start_default();
	s_greeting(&S);
	EXPECT();
	/* Nothing more until the client speaks. */
	EXPECT();
	t_stop();
}

static void test_client_flags_unknown(void)
{
	t_start_default();
	t_skip_output();
	/* proto.md: the server MUST drop the connection on unknown client
	 * flags. */
	b_u32(&C, 1u << 5);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	CHECK_EQ_INT(t_rx_room(), 0);
	t_stop();
}

static void test_list(void)
{
	unsigned char e[64];

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_LIST, NULL, 0);
	FEED();
	base_be32_put(e, 4);
	memcpy(e + 4, "disktest disk", 13);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_SERVER, e, 17);
	base_be32_put(e, 2);
	memcpy(e + 4, "ro", 2);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_SERVER, e, 6);
	base_be32_put(e, 7);
	memcpy(e + 4, "aligned", 7);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_SERVER, e, 11);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
	EXPECT();
	/* proto.md: LIST with data SHOULD be rejected as invalid. */
	c_option(&C, NBD_OPT_LIST, "x", 1);
	FEED();
	s_rep(&S, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();
	t_stop();
}

static void test_info_then_go(void)
{
	static const uint16_t all[] = { NBD_INFO_NAME, NBD_INFO_DESCRIPTION,
					NBD_INFO_BLOCK_SIZE, 77 };

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_info(&C, NBD_OPT_INFO, "disk", 0, NULL);
	FEED();
	s_info_export(&S, NBD_OPT_INFO, 1 * MiB, DISK_FLAGS);
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK_EQ_INT(T.disk->sessions_open, 0);

	/* Every request answered; the unknown one (77) ignored. */
	c_info(&C, NBD_OPT_INFO, "disk", 4, all);
	FEED();
	s_info_export(&S, NBD_OPT_INFO, 1 * MiB, DISK_FLAGS);
	s_info_string(&S, NBD_OPT_INFO, NBD_INFO_NAME, "disk");
	s_info_string(&S, NBD_OPT_INFO, NBD_INFO_DESCRIPTION, "test disk");
	s_info_bs(&S, NBD_OPT_INFO, 1, 4096, 1 * MiB);
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ACK, NULL, 0);
	EXPECT();

	/* "" is the default export (the first). */
	c_info(&C, NBD_OPT_GO, "", 0, NULL);
	FEED();
	s_info_export(&S, NBD_OPT_GO, 1 * MiB, DISK_FLAGS);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK_EQ_INT(T.proto->phase, NBD_PHASE_TRANSMISSION);
	CHECK_EQ_INT(T.disk->sessions_open, 1);
	c_request(&C, 0, NBD_CMD_READ, 9, 0, 4);
	FEED();
	s_simple(&S, 0, 9);
	b_u32(&S, 0);
	EXPECT();
	t_stop();
}

static void test_go_errors(void)
{
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_info(&C, NBD_OPT_GO, "nope", 0, NULL);
	FEED();
	s_rep(&S, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, NULL, 0);
	EXPECT();
	/* Name length beyond the option data. */
	b_u64(&C, NBD_IHAVEOPT);
	b_u32(&C, NBD_OPT_INFO);
	b_u32(&C, 8);
	b_u32(&C, 100);
	b_u32(&C, 0);
	FEED();
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();
	/* Request count not matching the data length. */
	b_u64(&C, NBD_IHAVEOPT);
	b_u32(&C, NBD_OPT_GO);
	b_u32(&C, 7);
	b_u32(&C, 0);
	b_u16(&C, 1);
	b_mem(&C, "z", 1);
	FEED();
	s_rep(&S, NBD_OPT_GO, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();
	/* Still negotiating. */
	CHECK_EQ_INT(T.proto->phase, NBD_PHASE_OPTIONS);
	c_info(&C, NBD_OPT_GO, "ro", 0, NULL);
	FEED();
	s_info_export(&S, NBD_OPT_GO, 64 * KiB, RO_FLAGS);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	EXPECT();
	t_stop();
}

/* A device with a 512-byte minimum: block sizes are sent even unasked
 * and the client is served; out-of-constraint requests get EINVAL. */
static void test_go_block_size_unrequested(void)
{
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_info(&C, NBD_OPT_GO, "aligned", 0, NULL);
	FEED();
	s_info_export(&S, NBD_OPT_GO, 256 * KiB,
		      NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
			      NBD_FLAG_SEND_CACHE | NBD_FLAG_SEND_FUA |
			      NBD_FLAG_SEND_WRITE_ZEROES);
	s_info_bs(&S, NBD_OPT_GO, 512, 4096, 64 * KiB);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	EXPECT();
	c_request(&C, 0, NBD_CMD_READ, 1, 100, 512);
	c_request(&C, 0, NBD_CMD_READ, 2, 0, 128 * KiB);
	c_request(&C, 0, NBD_CMD_READ, 3, 512, 1);
	/* FAST_ZERO was not advertised for this device. */
	c_request(&C, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 4, 0, 512);
	c_request(&C, 0, NBD_CMD_READ, 5, 512, 512);
	FEED();
	s_simple(&S, NBD_EINVAL, 1);
	s_simple(&S, NBD_EINVAL, 2);
	s_simple(&S, NBD_EINVAL, 3);
	s_simple(&S, NBD_EINVAL, 4);
	s_simple(&S, 0, 5);
	b_mem(&S, T.aligned->data + 512, 512);
	EXPECT();
	t_stop();
}

static void test_export_name(void)
{
	static unsigned char zeroes[124];

	/* With NO_ZEROES: size and flags only. */
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	c_option(&C, NBD_OPT_EXPORT_NAME, "ro", 2);
	FEED();
	b_u64(&S, 64 * KiB);
	b_u16(&S, RO_FLAGS);
	EXPECT();
	CHECK_EQ_INT(T.proto->phase, NBD_PHASE_TRANSMISSION);
	t_stop();

	/* Without: 124 bytes of zeroes follow. */
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_EXPORT_NAME, "", 0);
	FEED();
	b_u64(&S, 1 * MiB);
	b_u16(&S, DISK_FLAGS);
	b_mem(&S, zeroes, sizeof(zeroes));
	EXPECT();
	t_stop();

	/* proto.md: an export it cannot serve MUST terminate the session. */
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_EXPORT_NAME, "nope", 4);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_structured_and_meta(void)
{
	static const char *const base[] = { "base:" };
	static const char *const alloc[] = { "base:allocation" };
	static const char *const other[] = { "x-foo:bar", "base:nothing" };
	static const char *const two[] = { "qemu:dirty", "base:allocation" };

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* proto.md: SET needs structured replies first (SHOULD INVALID). */
	c_meta(&C, NBD_OPT_SET_META_CONTEXT, "disk", 1, alloc);
	c_option(&C, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	FEED();
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	EXPECT();

	/* LIST: no query and "base:" list everything; ids are 0. */
	c_meta(&C, NBD_OPT_LIST_META_CONTEXT, "disk", 0, NULL);
	c_meta(&C, NBD_OPT_LIST_META_CONTEXT, "disk", 1, base);
	c_meta(&C, NBD_OPT_LIST_META_CONTEXT, "disk", 2, other);
	FEED();
	s_meta(&S, NBD_OPT_LIST_META_CONTEXT, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	s_meta(&S, NBD_OPT_LIST_META_CONTEXT, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	EXPECT();

	/* SET: "base:" and no queries select nothing; unknown namespaces
	 * are ignored; unknown exports are refused. */
	c_meta(&C, NBD_OPT_SET_META_CONTEXT, "disk", 1, base);
	c_meta(&C, NBD_OPT_SET_META_CONTEXT, "disk", 0, NULL);
	c_meta(&C, NBD_OPT_SET_META_CONTEXT, "nope", 1, alloc);
	c_meta(&C, NBD_OPT_SET_META_CONTEXT, "disk", 2, two);
	FEED();
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_UNKNOWN, NULL, 0);
	s_meta(&S, NBD_OPT_SET_META_CONTEXT, NBD_META_ID_BASE_ALLOCATION);
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK(T.proto->meta_set);

	/* A query longer than the option: invalid, and it clears the
	 * selection (proto.md: SET replaces it even when failing). */
	b_u64(&C, NBD_IHAVEOPT);
	b_u32(&C, NBD_OPT_SET_META_CONTEXT);
	b_u32(&C, 16);
	b_u32(&C, 4);
	b_str(&C, "disk");
	b_u32(&C, 1);
	b_u32(&C, 50);
	FEED();
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();
	CHECK(!T.proto->meta_set);
	t_stop();
}

static void test_unsupported_options(void)
{
	static unsigned char big[70000];

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* proto.md NOTLS: STARTTLS gets ERR_POLICY or ERR_UNSUP. */
	c_option(&C, NBD_OPT_STARTTLS, NULL, 0);
	c_option(&C, 99, "abc", 3);
	c_option(&C, NBD_OPT_PEEK_EXPORT, NULL, 0);
	FEED();
	s_rep(&S, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP, NULL, 0);
	s_rep(&S, 99, NBD_REP_ERR_UNSUP, NULL, 0);
	s_rep(&S, NBD_OPT_PEEK_EXPORT, NBD_REP_ERR_UNSUP, NULL, 0);
	EXPECT();
	/* An option beyond what we parse is skipped, answered TOO_BIG, and
	 * the stream stays in step. */
	c_option(&C, NBD_OPT_INFO, big, sizeof(big));
	c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	FEED();
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ERR_TOO_BIG, NULL, 0);
	s_rep(&S, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	EXPECT();
	/* Absurd: dropped without reading it. */
	b_u64(&C, NBD_IHAVEOPT);
	b_u32(&C, NBD_OPT_LIST);
	b_u32(&C, 0x7fffffff);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_abort(void)
{
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_ABORT, NULL, 0);
	FEED();
	CHECK_EQ_INT(t_rx_room(), 0);
	CHECK(!remote_engine_finished(
		nbd_proto_engine(T.proto))); /* the ACK is not out yet */
	s_rep(&S, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_option_bad_magic(void)
{
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	b_u64(&C, NBD_MAGIC);
	b_u32(&C, NBD_OPT_LIST);
	b_u32(&C, 0);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

/* A client that never reads its replies stops being read. */
static void test_handshake_backpressure(void)
{
	size_t fed = 0;
	long ret;

	t_start_default();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	for (int i = 0; i < 4000; i++)
		c_option(&C, NBD_OPT_LIST, NULL, 0);
	ret = remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len);
	CHECK(ret > 0 && (size_t)ret < C.len);
	CHECK_EQ_INT(t_rx_room(), 0);
	fed = (size_t)ret;
	while (fed < C.len) {
		t_drain_mode(0, true);
		ret = remote_engine_feed(nbd_proto_engine(T.proto), C.b + fed,
					 C.len - fed);
		CHECK(ret > 0);
		if (ret <= 0)
			break;
		fed += (size_t)ret;
	}
	t_skip_output();
	b_reset(&C);
	t_stop();
}

static void test_malformed_options(void)
{
	static char long_name[5001];
	static const char *const q[] = { "x-a:b" };

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_INFO, "\0\0\0\0", 4);
	/* proto.md: strings MUST NOT contain NUL, MUST be at most 4096
	 * bytes (this one also needs a larger receive buffer). */
	c_info(&C, NBD_OPT_INFO, "d", 0, NULL);
	C.b[C.len - 3] = '\0';
	memset(long_name, 'n', sizeof(long_name) - 1);
	c_info(&C, NBD_OPT_GO, long_name, 0, NULL);
	FEED();
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();

	c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_option(&C, NBD_OPT_LIST_META_CONTEXT, "\0\0\0\0", 4);
	/* Name length beyond the data. */
	c_option(&C, NBD_OPT_LIST_META_CONTEXT, "\0\0\0\x09\0\0\0\0", 8);
	/* Trailing bytes after the last query. */
	c_option(&C, NBD_OPT_LIST_META_CONTEXT, "\0\0\0\0\0\0\0\0zz", 10);
	/* Fewer queries than announced. */
	c_option(&C, NBD_OPT_SET_META_CONTEXT, "\0\0\0\0\0\0\0\x02\0\0\0\0",
		 12);
	FEED();
	s_rep(&S, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	s_rep(&S, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID, NULL, 0);
	EXPECT();

	/* Many queries of an unknown namespace: ignored (proto.md MUST),
	 * and the option is larger than the initial receive buffer. */
	{
		size_t start = C.len;

		c_meta(&C, NBD_OPT_LIST_META_CONTEXT, "disk", 1, q);
		for (int i = 1; i < 1000; i++) {
			b_u32(&C, 5);
			b_str(&C, "x-a:b");
		}
		base_be32_put(C.b + start + 12,
			      (uint32_t)(C.len - start - NBD_OPTION_BYTES));
		base_be32_put(C.b + start + 16 + 8, 1000);
	}
	FEED();
	s_rep(&S, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL, 0);
	EXPECT();
	t_stop();
}

static void test_export_name_nul(void)
{
	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_EXPORT_NAME, "di\0sk", 5);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_session_open_fails(void)
{
	t_start_default();
	t_skip_output();
	T.disk->fail_open = -EIO;
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_info(&C, NBD_OPT_INFO, "disk", 0, NULL);
	c_info(&C, NBD_OPT_GO, "disk", 0, NULL);
	FEED();
	s_rep(&S, NBD_OPT_INFO, NBD_REP_ERR_UNKNOWN, NULL, 0);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, NULL, 0);
	EXPECT();
	c_option(&C, NBD_OPT_EXPORT_NAME, "disk", 4);
	CHECK(remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len) < 0);
	b_reset(&C);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

static void test_abort_big_payload(void)
{
	static unsigned char big[70000];

	t_start_default();
	t_skip_output();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_ABORT, big, sizeof(big));
	FEED();
	s_rep(&S, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK(remote_engine_finished(nbd_proto_engine(T.proto)));
	t_stop();
}

/* A whole negotiation arriving one byte at a time. */
static void test_bytewise_negotiation(void)
{
	t_start_default();
	s_greeting(&S);
	EXPECT();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	c_info(&C, NBD_OPT_GO, "ro", 0, NULL);
	c_request(&C, 0, NBD_CMD_READ, 1, 0, 1);
	for (size_t i = 0; i < C.len; i++)
		CHECK_EQ_INT(remote_engine_feed(nbd_proto_engine(T.proto),
						C.b + i, 1),
			     1);
	b_reset(&C);
	s_rep(&S, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	s_info_export(&S, NBD_OPT_GO, 64 * KiB, RO_FLAGS | NBD_FLAG_SEND_DF);
	s_rep(&S, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	s_chunk(&S, NBD_REPLY_TYPE_OFFSET_HOLE, 1, 12);
	b_u64(&S, 0);
	b_u32(&S, 1);
	EXPECT();
	t_stop();
}

/* Output still queued when the engine goes away is freed with it. */
static void test_destroy_with_output(void)
{
	t_start_default();
	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE);
	c_option(&C, NBD_OPT_LIST, NULL, 0);
	FEED();
	t_stop();
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	TEST_CASE(test_greeting);
	TEST_CASE(test_client_flags_unknown);
	TEST_CASE(test_list);
	TEST_CASE(test_info_then_go);
	TEST_CASE(test_go_errors);
	TEST_CASE(test_go_block_size_unrequested);
	TEST_CASE(test_export_name);
	TEST_CASE(test_structured_and_meta);
	TEST_CASE(test_unsupported_options);
	TEST_CASE(test_abort);
	TEST_CASE(test_option_bad_magic);
	TEST_CASE(test_handshake_backpressure);
	TEST_CASE(test_malformed_options);
	TEST_CASE(test_export_name_nul);
	TEST_CASE(test_session_open_fails);
	TEST_CASE(test_abort_big_payload);
	TEST_CASE(test_bytewise_negotiation);
	TEST_CASE(test_destroy_with_output);
	return test_done();
}
