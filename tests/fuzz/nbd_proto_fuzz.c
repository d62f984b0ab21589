// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the NBD protocol engine (src/remote/nbd/): the
 * input is a client byte stream, prefixed by two bytes that pick the
 * conditions (inline or deferred storage completion, slot count, read
 * fragment size, how output is acknowledged, the --tls mode and whether
 * the client's certificate DN is on an export's allow list).  The engine
 * runs over the in-memory storage stub of tests/nbd_fake_backend.c.
 *
 * STARTTLS: there is no socket side here, so once the engine asks for
 * TLS and its plaintext replies are taken, the harness declares the
 * handshake done (remote_engine_secured) and the rest of the input is
 * the session's plaintext.  That reaches every negotiation state around
 * STARTTLS: refusals before it, the reset, and the policy checks after.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks that a
 * conversation always ends: after eof, once storage has completed and the
 * output was taken, the engine must report finished.
 *
 *   clang -fsanitize=fuzzer,address,undefined ... (see the report) or
 *   plain gcc with tests/fuzz/fuzz_replay.c to replay the corpus.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/base_log.h"
#include "nbd_fake_backend.c"
#include "remote/nbd/nbd_proto.h"
#include "remote/remote_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz {
	struct fake_backend fb;
	struct nbd_proto *proto;
	uint8_t mode;
};

static void fuzz_complete(struct fuzz *f)
{
	for (unsigned int i = 0; i < f->fb.n_devs; i++) {
		struct fake_dev *dev = &f->fb.devs[i];

		if (f->mode & 8) {
			/* Oldest first, one at a time, some failing. */
			if (dev->n_pending)
				fake_complete(dev, 0,
					      dev->n_pending % 3 == 2 ? -EIO
								      : 0);
		} else {
			fake_complete_all(dev);
		}
	}
}

/* Take output; in mode 4 acknowledge it a few bytes at a time. */
static void fuzz_drain(struct fuzz *f)
{
	struct iovec iov[4];
	int n;

	while ((n = remote_engine_tx_iov(nbd_proto_engine(f->proto), iov, 4)) >
	       0) {
		size_t total = 0;

		for (int i = 0; i < n; i++)
			total += iov[i].iov_len;
		if ((f->mode & 4) && total > 7)
			total = 7;
		remote_engine_tx_done(nbd_proto_engine(f->proto), total);
	}
}

static unsigned int fuzz_pending(const struct fuzz *f)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < f->fb.n_devs; i++)
		n += f->fb.devs[i].n_pending;
	return n;
}

static const char *const fuzz_dn_allow[] = { "CN=fuzz", NULL };

static void fuzz_setup(struct fuzz *f)
{
	struct fake_dev *dev;

	fake_backend_init(&f->fb);
	dev = fake_backend_add(&f->fb, "disk", "fuzz disk", 256 * 1024,
			       DDM_CAP_FLUSH | DDM_CAP_FUA | DDM_CAP_TRIM |
				       DDM_CAP_ZEROES | DDM_CAP_FAST_ZERO |
				       DDM_CAP_EXTENTS | DDM_CAP_CACHE |
				       DDM_CAP_MULTI_CONN,
			       false);
	dev->defer = f->mode & 1;
	dev = fake_backend_add(&f->fb, "ro", NULL, 64 * 1024, DDM_CAP_EXTENTS,
			       false);
	dev->defer = f->mode & 1;
	f->fb.exports[1].read_only = true;
	f->fb.exports[1].tls.required = true;
	dev = fake_backend_add(&f->fb, "a", NULL, 64 * 1024,
			       DDM_CAP_FUA | DDM_CAP_ZEROES, false);
	dev->block_min = 512;
	dev->max_request_bytes = 32 * 1024;
	dev->defer = f->mode & 1;
	f->fb.exports[2].tls.dn_allow = fuzz_dn_allow;
}

/* The engine asked for TLS and its plaintext output was taken: the
 * handshake "succeeds", with a DN on export a's list in mode 128. */
static void fuzz_starttls(struct fuzz *f)
{
	struct remote_engine *e = nbd_proto_engine(f->proto);

	if (remote_engine_upgrade_due(e))
		remote_engine_secured(
			e, f->mode & 128 ? fuzz_dn_allow[0] : "CN=someone else",
			NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_proto_config cfg = { 0 };
	struct fuzz f;
	size_t pos = 2, chunk;
	int stuck = 0;

	if (size < 2)
		return 0;
	base_log_set_level(BASE_LOG_ERROR);
	f.mode = data[0];
	chunk = data[1] ? data[1] : 4096;
	/* Mode bits 32 and 64: --tls off, on, require (and require). */
	remote_tls_set_mode((f.mode >> 5 & 3) == 0   ? REMOTE_TLS_OFF
			    : (f.mode >> 5 & 3) == 1 ? REMOTE_TLS_ON
						     : REMOTE_TLS_REQUIRE);
	fuzz_setup(&f);
	cfg.exports = &f.fb.table;
	cfg.limits.max_inflight = f.mode & 2 ? 2 : 8;
	cfg.limits.max_request_bytes = f.mode & 16 ? 4096 : 128 * 1024;
	cfg.peer = "fuzz";
	if (nbd_proto_create(&cfg, &f.proto) < 0)
		abort();

	while (pos < size && stuck < 3) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		long ret = remote_engine_feed(nbd_proto_engine(f.proto),
					      data + pos, n);

		if (ret < 0)
			break;
		pos += (size_t)ret;
		stuck = ret == 0 ? stuck + 1 : 0;
		fuzz_drain(&f);
		fuzz_complete(&f);
		fuzz_drain(&f);
		fuzz_starttls(&f);
	}

	remote_engine_rx_eof(nbd_proto_engine(f.proto));
	while (fuzz_pending(&f) > 0) {
		fake_complete_all(&f.fb.devs[0]);
		fake_complete_all(&f.fb.devs[1]);
		fake_complete_all(&f.fb.devs[2]);
		fuzz_drain(&f);
	}
	fuzz_drain(&f);
	if (remote_engine_inflight(nbd_proto_engine(f.proto)) != 0 ||
	    !remote_engine_finished(nbd_proto_engine(f.proto)))
		abort();
	nbd_proto_destroy(f.proto);
	for (unsigned int i = 0; i < f.fb.n_devs; i++)
		if (f.fb.devs[i].sessions_open != 0)
			abort();
	fake_backend_fini(&f.fb);
	return 0;
}
