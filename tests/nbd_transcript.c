// SPDX-License-Identifier: MIT
/*
 * nbd_transcript: helpers for byte-level transcripts of the NBD engine
 * through a fake connection: builders for client and server messages, a
 * connection over the storage stub of nbd_fake_backend.c, and EXPECT()
 * that compares the engine's output with the expected bytes exactly.
 * Included once by each tests/unit/test_nbd_*.c (the Makefile builds only
 * the test files themselves).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base_log.h"
#include "nbd_fake_backend.c"
#include "remote/nbd/nbd_proto.h"
#include "remote/nbd/nbd_proto_priv.h"
#include "unit/test.h"

/* Each test program uses a different subset of these helpers. */
#define HELPER static __attribute__((unused))
#define KiB    1024u
#define MiB    (1024u * 1024)

#define DISK_FLAGS                                                             \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_CACHE |      \
	 NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | \
	 NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN)
#define RO_FLAGS                                                               \
	(NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH |       \
	 NBD_FLAG_SEND_CACHE)

struct bytes {
	unsigned char b[512 * 1024];
	size_t len;
};

HELPER void b_reset(struct bytes *b)
{
	b->len = 0;
}

HELPER void b_mem(struct bytes *b, const void *p, size_t n)
{
	memcpy(b->b + b->len, p, n);
	b->len += n;
}

HELPER void b_u16(struct bytes *b, uint16_t v)
{
	base_be16_put(b->b + b->len, v);
	b->len += 2;
}

HELPER void b_u32(struct bytes *b, uint32_t v)
{
	base_be32_put(b->b + b->len, v);
	b->len += 4;
}

HELPER void b_u64(struct bytes *b, uint64_t v)
{
	base_be64_put(b->b + b->len, v);
	b->len += 8;
}

HELPER void b_str(struct bytes *b, const char *s)
{
	b_mem(b, s, strlen(s));
}

/* ---- client messages ---- */

HELPER void c_option(struct bytes *b, uint32_t option, const void *data,
		     uint32_t len)
{
	b_u64(b, NBD_IHAVEOPT);
	b_u32(b, option);
	b_u32(b, len);
	if (len)
		b_mem(b, data, len);
}

/* INFO or GO for name with the given information requests. */
HELPER void c_info(struct bytes *b, uint32_t option, const char *name,
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

HELPER void c_meta(struct bytes *b, uint32_t option, const char *name, int n_q,
		   const char *const *queries)
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

HELPER void c_request(struct bytes *b, uint16_t flags, uint16_t type,
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

HELPER void s_greeting(struct bytes *b)
{
	b_u64(b, NBD_MAGIC);
	b_u64(b, NBD_IHAVEOPT);
	b_u16(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
}

HELPER void s_rep(struct bytes *b, uint32_t option, uint32_t type,
		  const void *data, uint32_t len)
{
	b_u64(b, NBD_REP_MAGIC);
	b_u32(b, option);
	b_u32(b, type);
	b_u32(b, len);
	if (len)
		b_mem(b, data, len);
}

HELPER void s_info_export(struct bytes *b, uint32_t option, uint64_t size,
			  uint16_t flags)
{
	unsigned char p[12];

	base_be16_put(base_be64_put(base_be16_put(p, NBD_INFO_EXPORT), size),
		      flags);
	s_rep(b, option, NBD_REP_INFO, p, sizeof(p));
}

HELPER void s_info_bs(struct bytes *b, uint32_t option, uint32_t min,
		      uint32_t pref, uint32_t max)
{
	unsigned char p[14];

	base_be32_put(
		base_be32_put(
			base_be32_put(base_be16_put(p, NBD_INFO_BLOCK_SIZE),
				      min),
			pref),
		max);
	s_rep(b, option, NBD_REP_INFO, p, sizeof(p));
}

HELPER void s_info_string(struct bytes *b, uint32_t option, uint16_t type,
			  const char *s)
{
	unsigned char p[64];

	base_be16_put(p, type);
	memcpy(p + 2, s, strlen(s));
	s_rep(b, option, NBD_REP_INFO, p, 2 + (uint32_t)strlen(s));
}

HELPER void s_meta(struct bytes *b, uint32_t option, uint32_t id)
{
	unsigned char p[4 + 15];

	base_be32_put(p, id);
	memcpy(p + 4, "base:allocation", 15);
	s_rep(b, option, NBD_REP_META_CONTEXT, p, sizeof(p));
}

HELPER void s_simple(struct bytes *b, uint32_t error, uint64_t handle)
{
	b_u32(b, NBD_SIMPLE_REPLY_MAGIC);
	b_u32(b, error);
	b_u64(b, handle);
}

HELPER void s_chunk(struct bytes *b, uint16_t type, uint64_t handle,
		    uint32_t len)
{
	b_u32(b, NBD_STRUCTURED_REPLY_MAGIC);
	b_u16(b, NBD_REPLY_FLAG_DONE);
	b_u16(b, type);
	b_u64(b, handle);
	b_u32(b, len);
}

HELPER void s_error_chunk(struct bytes *b, uint64_t handle, uint32_t error)
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

HELPER void on_tx_ready(void *opaque)
{
	((struct t *)opaque)->ready++;
}

HELPER void t_start(unsigned int max_inflight, uint32_t max_request_bytes)
{
	struct nbd_proto_config cfg;

	memset(&T, 0, sizeof(T));
	fake_backend_init(&T.fb);
	T.disk = fake_backend_add(&T.fb, "disk", "test disk", 1 * MiB,
				  DDM_CAP_FLUSH | DDM_CAP_FUA | DDM_CAP_TRIM |
					  DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO |
					  DDM_CAP_EXTENTS |
					  DDM_CAP_EXTENTS_CHEAP |
					  DDM_CAP_CACHE | DDM_CAP_MULTI_CONN,
				  false);
	T.ro = fake_backend_add(&T.fb, "ro", NULL, 64 * KiB,
				DDM_CAP_EXTENTS | DDM_CAP_EXTENTS_CHEAP, false);
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

HELPER void t_start_default(void)
{
	t_start(16, 1 * MiB);
}

HELPER void t_stop(void)
{
	CHECK_EQ_INT(remote_engine_inflight(nbd_proto_engine(T.proto)), 0);
	nbd_proto_destroy(T.proto);
	for (unsigned int i = 0; i < T.fb.n_devs; i++)
		CHECK_EQ_INT(T.fb.devs[i].sessions_open, 0);
	fake_backend_fini(&T.fb);
}

/* Collect all pending output, acknowledging it in pieces of at most
 * chunk bytes (0: all at once); keep it in T.out unless discard. */
HELPER void t_drain_mode(size_t chunk, bool discard)
{
	struct iovec iov[8];
	int n;

	while ((n = remote_engine_tx_iov(nbd_proto_engine(T.proto), iov, 8)) >
	       0) {
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
		remote_engine_tx_done(nbd_proto_engine(T.proto), total);
	}
}

HELPER void t_drain_by(size_t chunk)
{
	t_drain_mode(chunk, false);
}

HELPER void t_drain(void)
{
	t_drain_by(0);
}

/* The output since the last check must be exactly S. */
HELPER void t_expect_at(const char *file, int line)
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

HELPER void t_skip_output(void)
{
	t_drain();
	T.out.len = T.out_pos = 0;
}

/* Feed C (all of it must be taken) and clear it. */
HELPER void t_feed_at(const char *file, int line)
{
	long ret = remote_engine_feed(nbd_proto_engine(T.proto), C.b, C.len);

	if (ret != (long)C.len) {
		printf("#   %s:%d: feed returned %ld, want %zu\n", file, line,
		       ret, C.len);
		test_case_failed = 1;
	}
	b_reset(&C);
}

#define FEED() t_feed_at(__FILE__, __LINE__)

HELPER size_t t_rx_room(void)
{
	void *buf;
	size_t len;

	remote_engine_rx_buf(nbd_proto_engine(T.proto), &buf, &len);
	return len;
}

/* Negotiate up to transmission on export name with GO. */
HELPER void t_go(const char *name, bool structured, bool meta)
{
	static const char *const q[] = { "base:allocation" };

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

HELPER void fill_pattern(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}
