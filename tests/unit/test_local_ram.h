/* SPDX-License-Identifier: MIT */
/*
 * The Local Transport fixture several unit tests share: one IOP holding
 * one device, scanned; test_local_ram_scan is the usual one, IOP "ram"
 * with the RAM device "r0".  The specs may live on this function's
 * stack: the scan copies the names, and a DDM takes from the arguments
 * only what it opens with.
 */
#ifndef IOPD_TEST_LOCAL_RAM_H
#define IOPD_TEST_LOCAL_RAM_H

#include <stdint.h>

#include "iopd/local.h"

static inline int test_local_one_scan(const char *iop_name, const char *ddm,
				      const char *dev_name,
				      struct ddm_open_args args,
				      struct local **local)
{
	struct local_dev_spec dev = { .name = dev_name, .args = args };
	struct local_iop_spec iop = {
		.name = iop_name,
		.ddm = ddm,
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

static inline int test_local_ram_scan(uint64_t size_bytes, struct local **local)
{
	struct ddm_open_args args = { .size_bytes = size_bytes };

	return test_local_one_scan("ram", "ram", "r0", args, local);
}

#endif
