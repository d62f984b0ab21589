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
	/*
	 * Sticky write-back error: 0, or the -errno of the first flush or
	 * FUA write that failed.  The kernel reports a write-back error to
	 * one fsync of a file only, so the device keeps it: every later
	 * flush and FUA write fails with it, on every connection, until an
	 * operator clears it (iop_dev_clear_error).
	 */
	atomic_int wb_error;
	atomic_ulong wb_errors; /* durability points that failed, total */
	struct iop *iop;
};

struct iop {
	char *name;
	const struct ddm_ops *ops;
	unsigned int n_devs;
	struct iop_dev **devs;
};

int iop_create(const char *name, const struct ddm_ops *ops, struct iop **iopp);
/* Open a device with the IOP's DDM; its index is the order of adding.
 * Main thread at start-up, management thread while iopd runs. */
int iop_dev_add(struct iop *iop, const char *dev_name,
		const struct ddm_open_args *args, unsigned int *indexp);
void iop_dev_get(struct iop_dev *dev);
/*
 * Drop a reference; the last one flushes (ddm_ops.sync on a writable
 * device), closes and frees the device, on the caller's thread: main,
 * management or a worker closing a session (ddm.h's thread rules).  Returns 0,
 * or -errno when that flush failed or the device was closed with a write-back
 * error nobody cleared (both logged, and counted in iop_close_failures()).
 */
int iop_dev_put(struct iop_dev *dev);
/* Drop the IOP's references on its devices and free it.  Returns 0 or
 * the first failure of iop_dev_put. */
int iop_destroy(struct iop *iop);

/*
 * Make every completed write on dev durable now (ddm_ops.sync), as the
 * flush on stop and on export removal.  A failure becomes the device's
 * sticky write-back error.  Any thread; may block.  Returns 0 or -errno.
 */
int iop_dev_sync(struct iop_dev *dev);
/* Record a failed durability point (sticky); logged the first time. */
void iop_dev_wb_fail(struct iop_dev *dev, int err);
/* The operator has dealt with it: flushes work again.  Returns the error
 * that was cleared (0 if none). */
int iop_dev_clear_error(struct iop_dev *dev);
/* Devices whose final flush failed or that closed with an uncleared
 * write-back error, since start: main exits 1 if any. */
unsigned long iop_close_failures(void);

#endif
