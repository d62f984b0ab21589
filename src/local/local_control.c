// SPDX-License-Identifier: MIT
/*
 * The management channel's way to a device's DDM: commands that only the
 * DDM understands (the fault DDM's crash, set, clear, stats) pass through
 * here unread.  The Local Transport only finds the device: the IOP's own
 * reference keeps it open, and only this (management) thread removes IOPs.
 */
#include <errno.h>

#include "base/base_log.h"
#include "local/local_priv.h"

int local_iop_dev_control(void *ctx, unsigned int i, const char *verb,
			  const char *arg, char *reply, size_t reply_len)
{
	struct iop *iop = ((struct local_iop_ctx *)ctx)->iop;
	struct iop_dev *dev;

	if (reply_len)
		reply[0] = 0;
	if (i >= iop->n_devs)
		return -ENOENT;
	dev = iop->devs[i];
	if (!dev->ddm.ops->control) {
		log_error("%s: the %s DDM takes no commands", dev->name,
			  dev->ddm.ops->name);
		return -ENOTSUP;
	}
	return dev->ddm.ops->control(&dev->ddm, verb, arg, reply, reply_len);
}
