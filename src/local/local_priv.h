/* SPDX-License-Identifier: MIT */
/* Private to the Local Transport: the per-IOP context and the session. */
#ifndef IOPD_LOCAL_PRIV_H
#define IOPD_LOCAL_PRIV_H

#include "iop/iop.h"
#include "iopd/local.h"

struct local_iop_ctx {
	struct iop *iop;
	uint32_t max_request_bytes;
};

/* The IOPs, each context allocated on its own: sessions point at it, so
 * adding an IOP must not move the others. */
struct local {
	unsigned int n_iops;
	struct local_iop_ctx **ctxs;
	uint32_t max_request_bytes;
};

struct iop_session {
	struct local_iop_ctx *ctx;
	struct iop_dev *dev;
	bool read_only;
	struct local_stats_live *stats; /* local_stats.h */
	/* The device's file mapped read-only (read_map), made at the
	 * first call (map_fd: its fd; map_tried: don't try again). */
	const uint8_t *map;
	size_t map_len;
	int map_fd;
	bool map_tried;
};

#endif
