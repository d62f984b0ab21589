/* SPDX-License-Identifier: MIT */
/*
 * The Local Transport fixture several unit tests share: one IOP "ram"
 * holding one RAM device "r0", scanned.  The specs may live on this
 * function's stack: the scan copies the names and the RAM DDM takes only
 * the size.
 */
#ifndef IOPD_TEST_LOCAL_RAM_H
#define IOPD_TEST_LOCAL_RAM_H

#include <stdint.h>

#include "iopd/local.h"

static inline int test_local_ram_scan(uint64_t size_bytes, struct local **local)
{
	struct local_dev_spec dev = {
		.name = "r0",
		.args = { .size_bytes = size_bytes },
	};
	struct local_iop_spec iop = {
		.name = "ram",
		.ddm = "ram",
		.n_devs = 1,
		.devs = &dev,
	};
	struct local_config cfg = {
		.n_iops = 1,
		.iops = &iop,
		.max_request_bytes = 1 << 20,
	};

	return local_scan(&cfg, local);
}

#endif
