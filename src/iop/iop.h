/* SPDX-License-Identifier: MIT */
/*
 * An input/output platform (IOP): a group of devices driven by one DDM
 * (a directory of images, a RAM pool, one block device).  This file owns
 * the devices' memory and lifetime: it allocates each struct ddm_dev with
 * the DDM's private area, opens and closes it, and counts references so a
 * device is closed only when no session still uses it.
 */
#ifndef IOPD_IOP_H
#define IOPD_IOP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "iopd/ddm.h"

struct iop_dev {
	struct ddm_dev ddm;
	char *name;
	atomic_uint refs;      /* the IOP's own + one per open session */
	atomic_ulong inflight; /* requests dispatched and not completed */
	struct iop *iop;
};

struct iop {
	char *name;
	const struct ddm_ops *ops;
	unsigned int n_devs;
	struct iop_dev **devs;
};

int iop_create(const char *name, const struct ddm_ops *ops, struct iop **iopp);
/* Open a device with the IOP's DDM; its index is the order of adding. */
int iop_dev_add(struct iop *iop, const char *dev_name,
		const struct ddm_open_args *args, unsigned int *indexp);
void iop_dev_get(struct iop_dev *dev);
/* Drop a reference; the last one closes and frees the device. */
void iop_dev_put(struct iop_dev *dev);
/* Drop the IOP's references on its devices and free it. */
void iop_destroy(struct iop *iop);

#endif
