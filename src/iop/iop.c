// SPDX-License-Identifier: MIT
/*
 * IOP: device ownership for one DDM.  It does not validate or route
 * requests; that is the Local Transport's send handler (src/local/).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "iop/iop.h"

int iop_create(const char *name, const struct ddm_ops *ops, struct iop **iopp)
{
	struct iop *iop = calloc(1, sizeof(*iop));

	if (!iop)
		return -ENOMEM;
	iop->name = strdup(name);
	if (!iop->name) {
		free(iop);
		return -ENOMEM;
	}
	iop->ops = ops;
	*iopp = iop;
	return 0;
}

int iop_dev_add(struct iop *iop, const char *dev_name,
		const struct ddm_open_args *args, unsigned int *indexp)
{
	struct iop_dev **devs;
	struct iop_dev *dev;
	int ret = -ENOMEM;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->name = strdup(dev_name);
	if (!dev->name)
		goto err_free_dev;
	if (iop->ops->dev_priv_size) {
		dev->ddm.priv = calloc(1, iop->ops->dev_priv_size);
		if (!dev->ddm.priv)
			goto err_free_name;
	}
	dev->ddm.ops = iop->ops;
	dev->ddm.name = dev->name;
	dev->ddm.block_size_min = 1;
	dev->iop = iop;
	atomic_init(&dev->refs, 1);

	devs = realloc(iop->devs, (iop->n_devs + 1) * sizeof(*devs));
	if (!devs)
		goto err_free_priv;
	iop->devs = devs;

	ret = ddm_dev_open(&dev->ddm, args);
	if (ret < 0)
		goto err_free_priv;
	if (dev->ddm.block_size_min == 0)
		dev->ddm.block_size_min = 1;
	if (dev->ddm.block_size_pref < dev->ddm.block_size_min)
		dev->ddm.block_size_pref = dev->ddm.block_size_min < 4096
						   ? 4096
						   : dev->ddm.block_size_min;
	if (args->read_only)
		dev->ddm.read_only = true;

	devs[iop->n_devs] = dev;
	*indexp = iop->n_devs++;
	log_debug("iop %s: device %s (%s) opened, %llu bytes", iop->name,
		  dev->name, iop->ops->name,
		  (unsigned long long)dev->ddm.size_bytes);
	return 0;

err_free_priv:
	free(dev->ddm.priv);
err_free_name:
	free(dev->name);
err_free_dev:
	free(dev);
	return ret;
}

void iop_dev_get(struct iop_dev *dev)
{
	atomic_fetch_add(&dev->refs, 1);
}

static atomic_ulong iop_close_failed;

unsigned long iop_close_failures(void)
{
	return atomic_load(&iop_close_failed);
}

void iop_dev_wb_fail(struct iop_dev *dev, int err)
{
	int none = 0;

	atomic_fetch_add(&dev->wb_errors, 1);
	if (atomic_compare_exchange_strong(&dev->wb_error, &none, err))
		log_error("%s: write-back failed (%s): data acknowledged as "
			  "written may not be on storage; every flush and "
			  "FUA write now fails until an operator runs "
			  "'iopctl export clear-error'",
			  dev->name, strerror(-err));
}

int iop_dev_clear_error(struct iop_dev *dev)
{
	int err = atomic_exchange(&dev->wb_error, 0);

	if (err)
		log_warn("%s: write-back error (%s) cleared by the operator",
			 dev->name, strerror(-err));
	return err;
}

int iop_dev_sync(struct iop_dev *dev)
{
	int ret;

	if (dev->ddm.read_only || !dev->ddm.ops->sync)
		return 0;
	ret = dev->ddm.ops->sync(&dev->ddm);
	if (ret < 0)
		iop_dev_wb_fail(dev, ret);
	return ret;
}

int iop_dev_put(struct iop_dev *dev)
{
	int ret;

	if (atomic_fetch_sub(&dev->refs, 1) != 1)
		return 0;
	ret = iop_dev_sync(dev);
	if (ret == 0)
		ret = atomic_load(&dev->wb_error);
	if (ret < 0) {
		log_error("%s: closed with a write-back error (%s): "
			  "acknowledged writes may be lost",
			  dev->name, strerror(-ret));
		atomic_fetch_add(&iop_close_failed, 1);
	} else if (!dev->ddm.read_only && dev->ddm.ops->sync) {
		log_debug("%s: flushed", dev->name);
	}
	dev->ddm.ops->close(&dev->ddm);
	free(dev->ddm.priv);
	free(dev->name);
	free(dev);
	return ret;
}

int iop_destroy(struct iop *iop)
{
	int ret = 0, r;

	if (!iop)
		return 0;
	for (unsigned int i = 0; i < iop->n_devs; i++) {
		r = iop_dev_put(iop->devs[i]);
		if (r < 0 && ret == 0)
			ret = r;
	}
	free(iop->devs);
	free(iop->name);
	free(iop);
	return ret;
}
