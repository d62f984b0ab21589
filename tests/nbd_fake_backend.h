/* SPDX-License-Identifier: MIT */
/*
 * nbd_fake_backend: a test-only storage stub behind an IOP descriptor, for
 * the NBD engine's transcript tests and fuzzer.  Devices are in-memory
 * arrays with a 4 KiB allocation map (so extents report holes); requests
 * complete inside submit, or are held until the test completes them (to
 * drive asynchronous and out-of-order completion).  It checks nothing a
 * real Local Transport would not, and is not a DDM.
 *
 * The Makefile builds only the unit tests and fuzz targets themselves, so users
 * #include "nbd_fake_backend.c" once.
 */
#ifndef IOPD_NBD_FAKE_BACKEND_H
#define IOPD_NBD_FAKE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "iopd/conn.h"
#include "iopd/local.h"

#define FAKE_MAX_DEVS	 4
#define FAKE_MAX_PENDING 256
#define FAKE_LOG	 16
#define FAKE_BLOCK_BYTES 4096u

struct fake_op {
	enum ddm_op op;
	uint32_t flags;
	uint64_t offset;
	uint64_t len;
};

struct fake_dev {
	uint64_t size_bytes;
	uint32_t caps;
	uint32_t block_min, block_pref, max_request_bytes;
	bool read_only;
	unsigned char *data;
	unsigned char *alloc; /* per FAKE_BLOCK_BYTES: 1 = allocated */
	bool defer;	      /* hold requests until fake_complete() */
	int fail_next;	      /* -errno for the next request, 0 = none */
	int fail_open;	      /* -errno for session_open, 0 = none */
	struct iop_msg *pending[FAKE_MAX_PENDING];
	unsigned int n_pending;
	struct fake_op log[FAKE_LOG]; /* ring of submitted requests */
	unsigned int n_log;
	unsigned int n_extents_calls;
	int sessions_open;
};

struct fake_backend {
	struct fake_dev devs[FAKE_MAX_DEVS];
	struct conn_export exports[FAKE_MAX_DEVS];
	unsigned int n_devs;
	struct iop_desc desc;
	struct conn_exports table;
};

void fake_backend_init(struct fake_backend *fb);
void fake_backend_fini(struct fake_backend *fb);
/* Add a device and an export of it; the first is the default export. */
struct fake_dev *fake_backend_add(struct fake_backend *fb, const char *name,
				  const char *description, uint64_t size_bytes,
				  uint32_t caps, bool read_only);
/* Complete held request i (0 = oldest) with result. */
void fake_complete(struct fake_dev *dev, unsigned int i, int result);
/* Complete every held request, newest first. */
void fake_complete_all(struct fake_dev *dev);
/* The n-th most recent request submitted (0 = last). */
const struct fake_op *fake_last_op(const struct fake_dev *dev, unsigned int n);

#endif
