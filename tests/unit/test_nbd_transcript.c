// SPDX-License-Identifier: MIT
/*
 * Byte-level transcripts of the NBD engine (src/remote/nbd/) through a
 * fake connection: exact client bytes in, exact server bytes out, over the
 * in-memory storage stub of tests/nbd_fake_backend.c.  Each case cites the
 * proto.md rule it checks where the rule is not obvious.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base_log.h"
#include "nbd_fake_backend.c"
#include "remote/nbd/nbd_proto.h"
#include "remote/nbd/nbd_proto_priv.h"
#include "test.h"

#define KiB 1024u
#define MiB (1024u * 1024)

#define DISK_FLAGS                                                         \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_CACHE |  \
	 NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |                          \
	 NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO |            \
	 NBD_FLAG_CAN_MULTI_CONN)
#define RO_FLAGS                                                          \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH |  \
	 NBD_FLAG_SEND_CACHE)

struct bytes {
	unsigned char b[512 * 1024];
	size_t len;
};

static void b_reset(struct bytes *b)
{
	b->len = 0;
}

static void b_mem(struct bytes *b, const void *p, size_t n)
{
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void b_u16(struct bytes *b, uint16_t v)
{
	nbd_put16(b->b + b->len, v);
	b->len += 2;
}

static void b_u32(struct bytes *b, uint32_t v)
{
	nbd_put32(b->b + b->len, v);
	b->len += 4;
}

static void b_u64(struct bytes *b, uint64_t v)
{
	nbd_put64(b->b + b->len, v);
	b->len += 8;
}

static void b_str(struct bytes *b, const char *s)
{
	b_mem(b, s, strlen(s));
}

/* ---- client messages ---- */

static void c_option(struct bytes *b, uint32_t option, const void *data,
		     uint32_t len)
{
	b_u64(b, NBD_IHAVEOPT);
	b_u32(b, option);
	b_u32(b, len);
	if (len)
		b_mem(b, data, len);
}

/* INFO or GO for name with the given information requests. */
static void c_info(struct bytes *b, uint32_t option, const char *name,
		   int n_req, const uint16_t *reqs)
{
	uint32_t nlen = (uint32_t)strlen(name);

	b_u64(b, NBD_IHAVEOPT);
	b_u32(b, option);
	b_u32(b, 4 + nlen + 2 + 2 * (uint32_t)n_req);
	b_u32(b, nlen);
	b_str(b, name);
	b_u16(b, (uint16_t)n_req);
	for (int i = 0; i < n_req; i++)
		b_u16(b, reqs[i]);
}

static void c_meta(struct bytes *b, uint32_t option, const char *name,
		   int n_q, const char *const *queries)
{
	uint32_t len = 4 + (uint32_t)strlen(name) + 4;

	for (int i = 0; i < n_q; i++)
		len += 4 + (uint32_t)strlen(queries[i]);
	b_u64(b, NBD_IHAVEOPT);
	b_u32(b, option);
	b_u32(b, len);
	b_u32(b, (uint32_t)strlen(name));
	b_str(b, name);
	b_u32(b, (uint32_t)n_q);
	for (int i = 0; i < n_q; i++) {
		b_u32(b, (uint32_t)strlen(queries[i]));
		b_str(b, queries[i]);
	}
}

static void c_request(struct bytes *b, uint16_t flags, uint16_t type,
		      uint64_t handle, uint64_t offset, uint32_t len)
{
	b_u32(b, NBD_REQUEST_MAGIC);
	b_u16(b, flags);
	b_u16(b, type);
	b_u64(b, handle);
	b_u64(b, offset);
	b_u32(b, len);
}

/* ---- server messages ---- */

static void s_greeting(struct bytes *b)
{
	b_u64(b, NBD_MAGIC);
	b_u64(b, NBD_IHAVEOPT);
	b_u16(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
}

static void s_rep(struct bytes *b, uint32_t option, uint32_t type,
		  const void *data, uint32_t len)
{
	b_u64(b, NBD_REP_MAGIC);
	b_u32(b, option);
	b_u32(b, type);
	b_u32(b, len);
	if (len)
		b_mem(b, data, len);
}

static void s_info_export(struct bytes *b, uint32_t option, uint64_t size,
			  uint16_t flags)
{
	unsigned char p[12];

	nbd_put16(nbd_put64(nbd_put16(p, NBD_INFO_EXPORT), size), flags);
	s_rep(b, option, NBD_REP_INFO, p, sizeof(p));
}

static void s_info_bs(struct bytes *b, uint32_t option, uint32_t min,
		      uint32_t pref, uint32_t max)
{
	unsigned char p[14];

	nbd_put32(nbd_put32(nbd_put32(nbd_put16(p, NBD_INFO_BLOCK_SIZE), min),
			    pref),
		  max);
	s_rep(b, option, NBD_REP_INFO, p, sizeof(p));
}

static void s_info_string(struct bytes *b, uint32_t option, uint16_t type,
			  const char *s)
{
	unsigned char p[64];

	nbd_put16(p, type);
	memcpy(p + 2, s, strlen(s));
	s_rep(b, option, NBD_REP_INFO, p, 2 + (uint32_t)strlen(s));
}

static void s_meta(struct bytes *b, uint32_t option, uint32_t id)
{
	unsigned char p[4 + 15];

	nbd_put32(p, id);
	memcpy(p + 4, "base:allocation", 15);
	s_rep(b, option, NBD_REP_META_CONTEXT, p, sizeof(p));
}

static void s_simple(struct bytes *b, uint32_t error, uint64_t handle)
{
	b_u32(b, NBD_SIMPLE_REPLY_MAGIC);
	b_u32(b, error);
	b_u64(b, handle);
}

static void s_chunk(struct bytes *b, uint16_t type, uint64_t handle,
		    uint32_t len)
{
	b_u32(b, NBD_STRUCTURED_REPLY_MAGIC);
	b_u16(b, NBD_REPLY_FLAG_DONE);
	b_u16(b, type);
	b_u64(b, handle);
	b_u32(b, len);
}

static void s_error_chunk(struct bytes *b, uint64_t handle, uint32_t error)
{
	s_chunk(b, NBD_REPLY_TYPE_ERROR, handle, 6);
	b_u32(b, error);
	b_u16(b, 0);
}

/* ---- the fake connection ---- */

struct t {
	struct fake_backend fb;
	struct fake_dev *disk, *ro, *aligned;
	struct conn_limits limits;
	struct nbd_proto *proto;
	struct bytes out;
	size_t out_pos;
	int ready;
};

static struct t T;
static struct bytes C, S; /* client input, expected server output */

static void on_tx_ready(void *opaque)
{
	((struct t *)opaque)->ready++;
}

static void t_start(unsigned int max_inflight, uint32_t max_request_bytes)
{
	struct nbd_proto_config cfg;

	memset(&T, 0, sizeof(T));
	fake_backend_init(&T.fb);
	T.disk = fake_backend_add(&T.fb, "disk", "test disk", 1 * MiB,
				  DDM_CAP_FLUSH | DDM_CAP_FUA | DDM_CAP_TRIM |
					  DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO |
					  DDM_CAP_EXTENTS | DDM_CAP_CACHE |
					  DDM_CAP_MULTI_CONN,
				  false);
	T.ro = fake_backend_add(&T.fb, "ro", NULL, 64 * KiB, DDM_CAP_EXTENTS,
				false);
	T.fb.exports[1].read_only = true;
	T.aligned = fake_backend_add(&T.fb, "aligned", NULL, 256 * KiB,
				     DDM_CAP_FUA | DDM_CAP_ZEROES, false);
	T.aligned->block_min = 512;
	T.aligned->max_request_bytes = 64 * KiB;
	T.limits.max_inflight = max_inflight;
	T.limits.max_request_bytes = max_request_bytes;
	memset(&cfg, 0, sizeof(cfg));
	cfg.exports = &T.fb.table;
	cfg.limits = T.limits;
	cfg.peer = "test";
	cfg.tx_ready = on_tx_ready;
	cfg.opaque = &T;
	CHECK_EQ_INT(nbd_proto_create(&cfg, &T.proto), 0);
	b_reset(&C);
	b_reset(&S);
}

static void t_start_default(void)
{
	t_start(16, 1 * MiB);
}

static void t_stop(void)
{
	CHECK_EQ_INT(nbd_proto_inflight(T.proto), 0);
	nbd_proto_destroy(T.proto);
	for (unsigned int i = 0; i < T.fb.n_devs; i++)
		CHECK_EQ_INT(T.fb.devs[i].sessions_open, 0);
	fake_backend_fini(&T.fb);
}

/* Collect all pending output, acknowledging it in pieces of at most
 * chunk bytes (0: all at once); keep it in T.out unless discard. */
static void t_drain_mode(size_t chunk, bool discard)
{
	struct iovec iov[8];
	int n;

	while ((n = nbd_proto_tx_iov(T.proto, iov, 8)) > 0) {
		size_t total = 0;

		for (int i = 0; i < n; i++) {
			size_t len = iov[i].iov_len;

			if (chunk && total + len > chunk)
				len = chunk - total;
			if (!discard && T.out.len + len <= sizeof(T.out.b))
				b_mem(&T.out, iov[i].iov_base, len);
			else if (!discard)
				test_case_failed = 1;
			total += len;
			if (chunk && total == chunk)
				break;
		}
		nbd_proto_tx_done(T.proto, total);
	}
}

static void t_drain_by(size_t chunk)
{
	t_drain_mode(chunk, false);
}

static void t_drain(void)
{
	t_drain_by(0);
}

/* The output since the last check must be exactly S. */
static void t_expect_at(const char *file, int line)
{
	const unsigned char *p;
	size_t got;

	t_drain();
	got = T.out.len - T.out_pos;
	p = T.out.b + T.out_pos;
	if (got != S.len || memcmp(p, S.b, S.len) != 0) {
		size_t i = 0;

		while (i < got && i < S.len && p[i] == S.b[i])
			i++;
		printf("#   %s:%d: output differs at byte %zu: got %zu bytes, "
		       "want %zu\n",
		       file, line, i, got, S.len);
		test_case_failed = 1;
	}
	T.out_pos = T.out.len;
	b_reset(&S);
}

#define EXPECT() t_expect_at(__FILE__, __LINE__)

static void t_skip_output(void)
{
	t_drain();
	T.out.len = T.out_pos = 0;
}

/* Feed C (all of it must be taken) and clear it. */
static void t_feed_at(const char *file, int line)
{
	long ret = nbd_proto_feed(T.proto, C.b, C.len);

	if (ret != (long)C.len) {
		printf("#   %s:%d: feed returned %ld, want %zu\n", file, line,
		       ret, C.len);
		test_case_failed = 1;
	}
	b_reset(&C);
}

#define FEED() t_feed_at(__FILE__, __LINE__)

static size_t t_rx_room(void)
{
	void *buf;
	size_t len;

	nbd_proto_rx_buf(T.proto, &buf, &len);
	return len;
}

/* Negotiate up to transmission on export name with GO. */
static void t_go(const char *name, bool structured, bool meta)
{
	static const char *const q[] = {"base:allocation"};

	b_u32(&C, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	if (structured)
		c_option(&C, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	if (meta)
		c_meta(&C, NBD_OPT_SET_META_CONTEXT, name, 1, q);
	c_info(&C, NBD_OPT_GO, name, 0, NULL);
	FEED();
	t_skip_output();
	CHECK_EQ_INT(T.proto->phase, NBD_PHASE_TRANSMISSION);
}

static void fill_pattern(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	CHECK(nbd_proto_finished(T.proto));
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
	nbd_put32(e, 4);
	memcpy(e + 4, "disktest disk", 13);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_SERVER, e, 17);
	nbd_put32(e, 2);
	memcpy(e + 4, "ro", 2);
	s_rep(&S, NBD_OPT_LIST, NBD_REP_SERVER, e, 6);
	nbd_put32(e, 7);
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
	static const uint16_t all[] = {NBD_INFO_NAME, NBD_INFO_DESCRIPTION,
				       NBD_INFO_BLOCK_SIZE, 77};

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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	EXPECT();
	CHECK(nbd_proto_finished(T.proto));
	t_stop();
}

static void test_structured_and_meta(void)
{
	static const char *const base[] = {"base:"};
	static const char *const alloc[] = {"base:allocation"};
	static const char *const other[] = {"x-foo:bar", "base:nothing"};
	static const char *const two[] = {"qemu:dirty", "base:allocation"};

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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	CHECK(nbd_proto_finished(T.proto));
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
	CHECK(!nbd_proto_finished(T.proto)); /* the ACK is not out yet */
	s_rep(&S, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0);
	EXPECT();
	CHECK(nbd_proto_finished(T.proto));
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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	CHECK(nbd_proto_finished(T.proto));
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
	ret = nbd_proto_feed(T.proto, C.b, C.len);
	CHECK(ret > 0 && (size_t)ret < C.len);
	CHECK_EQ_INT(t_rx_room(), 0);
	fed = (size_t)ret;
	while (fed < C.len) {
		t_drain_mode(0, true);
		ret = nbd_proto_feed(T.proto, C.b + fed, C.len - fed);
		CHECK(ret > 0);
		if (ret <= 0)
			break;
		fed += (size_t)ret;
	}
	t_skip_output();
	b_reset(&C);
	t_stop();
}

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
	c_request(&C, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 4, 4096,
		  100);
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
		static const char *const q[] = {"base:allocation"};

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
	c_request(&C, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO |
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
	c_request(&C, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 5, 0,
		  4096);
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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	b_reset(&C);
	EXPECT();
	CHECK(nbd_proto_finished(T.proto));
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
	CHECK(nbd_proto_feed(T.proto, C.b, C.len) < 0);
	b_reset(&C);
	CHECK_EQ_INT(t_rx_room(), 0);
	/* The stream is lost, but what is in flight completes first. */
	CHECK(!nbd_proto_finished(T.proto));
	fake_complete_all(T.disk);
	t_skip_output();
	CHECK(nbd_proto_finished(T.proto));
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
	CHECK_EQ_INT(nbd_proto_inflight(T.proto), 1);
	CHECK(!nbd_proto_finished(T.proto));
	EXPECT();
	/* proto.md: the server MUST handle all outstanding requests; DISC
	 * itself gets no reply. */
	T.ready = 0;
	fake_complete_all(T.disk);
	CHECK_EQ_INT(T.ready, 1);
	CHECK(!nbd_proto_finished(T.proto));
	s_simple(&S, 0, 1);
	EXPECT();
	CHECK(nbd_proto_finished(T.proto));
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
	CHECK_EQ_INT(nbd_proto_inflight(T.proto), 2);
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
	CHECK_EQ_INT(nbd_proto_inflight(T.proto), 2);
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
		CHECK_EQ_INT(nbd_proto_feed(T.proto, C.b + i, 1), 1);
	b_reset(&C);
	nbd_proto_rx_buf(T.proto, &buf, &len);
	CHECK_EQ_INT(len, sizeof(data));
	CHECK(((uintptr_t)buf & (NBD_BUF_ALIGN - 1)) == 0);
	for (size_t i = 0; i < sizeof(data); i++)
		CHECK_EQ_INT(nbd_proto_feed(T.proto, data + i, 1), 1);
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
	nbd_proto_rx_eof(T.proto);
	CHECK_EQ_INT(t_rx_room(), 0);
	EXPECT();
	CHECK(nbd_proto_finished(T.proto));
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
	TEST_CASE(test_simple_read_write);
	TEST_CASE(test_structured_read);
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
	TEST_CASE(test_error_from_errno);
	return test_done();
}
