// SPDX-License-Identifier: MIT
/*
 * Local Transport start-up: walk the configured IOPs, open their devices
 * through the DDMs and build one opaque context per IOP.  The management
 * channel adds and removes IOPs the same way while iopd runs, from the
 * same specs, whether the operator wrote them or picked a candidate that
 * discovery (local_discover.c) found.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "local/local_priv.h"
#include "local/local_stats.h"

static int local_iop_open(const struct local_iop_spec *spec,
			  struct local_iop_ctx *ctx)
{
	const struct ddm_ops *ops = ddm_find(spec->ddm);
	unsigned int index;
	int ret;

	if (!ops) {
		log_error(
			"iop %s: no device driver module \"%s\" in this build",
			spec->name, spec->ddm);
		return -ENOENT;
	}
	ret = iop_create(spec->name, ops, &ctx->iop);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < spec->n_devs; i++) {
		ret = iop_dev_add(ctx->iop, spec->devs[i].name,
				  &spec->devs[i].args, &index);
		if (ret < 0)
			goto err_destroy_iop;
		/* A new device under an old name starts healthy. */
		local_stats_wb_set(spec->name, spec->devs[i].name, 0);
	}
	return 0;

err_destroy_iop:
	iop_destroy(ctx->iop);
	ctx->iop = NULL;
	return ret;
}

int local_iop_add(struct local *local, const struct local_iop_spec *spec,
		  void **ctxp)
{
	struct local_iop_ctx *ctx, **ctxs;
	int ret;

	for (unsigned int i = 0; i < local->n_iops; i++) {
		if (!strcmp(local->ctxs[i]->iop->name, spec->name)) {
			log_error("iop %s: exists already", spec->name);
			return -EEXIST;
		}
	}
	ctxs = realloc(local->ctxs, (local->n_iops + 1) * sizeof(*ctxs));
	if (!ctxs)
		return -ENOMEM;
	local->ctxs = ctxs;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->max_request_bytes = local->max_request_bytes;
	ret = local_iop_open(spec, ctx);
	if (ret < 0) {
		free(ctx);
		return ret;
	}
	local->ctxs[local->n_iops++] = ctx;
	if (ctxp)
		*ctxp = ctx;
	return 0;
}

int local_iop_remove(struct local *local, void *ctx)
{
	struct local_iop_ctx *c = ctx;
	unsigned int i;

	for (i = 0; i < local->n_iops; i++)
		if (local->ctxs[i] == c)
			break;
	if (i == local->n_iops)
		return -ENOENT;
	/* A session holds a reference on its device and points at ctx. */
	for (unsigned int d = 0; d < c->iop->n_devs; d++)
		if (atomic_load(&c->iop->devs[d]->refs) > 1)
			return -EBUSY;
	memmove(&local->ctxs[i], &local->ctxs[i + 1],
		(local->n_iops - i - 1) * sizeof(*local->ctxs));
	local->n_iops--;
	iop_destroy(c->iop);
	free(c);
	return 0;
}

int local_scan(const struct local_config *cfg, struct local **localp)
{
	struct local *local;
	int ret;

	local = calloc(1, sizeof(*local));
	if (!local)
		return -ENOMEM;
	local->max_request_bytes = cfg->max_request_bytes;
	for (unsigned int i = 0; i < cfg->n_iops; i++) {
		ret = local_iop_add(local, &cfg->iops[i], NULL);
		if (ret < 0)
			goto err_destroy;
	}
	*localp = local;
	return 0;

err_destroy:
	local_destroy(local);
	return ret;
}

int local_destroy(struct local *local)
{
	int ret = 0, r;

	if (!local)
		return 0;
	for (unsigned int i = 0; i < local->n_iops; i++) {
		r = iop_destroy(local->ctxs[i]->iop);
		if (r < 0 && ret == 0)
			ret = r;
		free(local->ctxs[i]);
	}
	free(local->ctxs);
	free(local);
	return ret;
}

unsigned long local_close_failures(void)
{
	return iop_close_failures();
}

unsigned int local_iop_count(const struct local *local)
{
	return local->n_iops;
}

void *local_iop_context(struct local *local, unsigned int index)
{
	return index < local->n_iops ? local->ctxs[index] : NULL;
}

const char *local_iop_name(const void *ctx)
{
	return ((const struct local_iop_ctx *)ctx)->iop->name;
}

int local_iop_dev_find(const void *ctx, const char *name)
{
	const struct iop *iop = ((const struct local_iop_ctx *)ctx)->iop;

	for (unsigned int i = 0; i < iop->n_devs; i++)
		if (!strcmp(iop->devs[i]->name, name))
			return (int)i;
	return -ENOENT;
}

/* What local_dev_info.durability says: the DDM's own words, else what its
 * capabilities make of FUA and flush. */
static const char *local_dev_durability(const struct ddm_dev *ddm)
{
	if (ddm->read_only || !(ddm->caps & DDM_CAP_FLUSH))
		return "none";
	if (ddm->durability)
		return ddm->durability;
	return ddm->caps & DDM_CAP_FUA ? "fua:native flush:native"
				       : "fua:write+flush flush:native";
}

int local_iop_dev_info(const void *ctx, unsigned int i,
		       struct local_dev_info *info)
{
	const struct iop *iop = ((const struct local_iop_ctx *)ctx)->iop;
	struct iop_dev *dev;

	if (i >= iop->n_devs)
		return -ENOENT;
	dev = iop->devs[i];
	info->name = dev->name;
	info->ddm = iop->ops->name;
	info->size_bytes = dev->ddm.size_bytes;
	info->caps = dev->ddm.caps;
	info->block_size_min = dev->ddm.block_size_min;
	info->block_size_pref = dev->ddm.block_size_pref;
	info->read_only = dev->ddm.read_only;
	/* The IOP holds one reference of its own. */
	info->sessions = atomic_load(&dev->refs) - 1;
	info->inflight = atomic_load(&dev->inflight);
	info->resize = 0;
	if (iop->ops->resize)
		info->resize = iop->ops->resize_idle_only ? 2 : 1;
	info->durability = local_dev_durability(&dev->ddm);
	info->wb_error = atomic_load(&dev->wb_error);
	info->wb_errors = atomic_load(&dev->wb_errors);
	return 0;
}

int local_iop_dev_sync(void *ctx, unsigned int i)
{
	struct iop *iop = ((struct local_iop_ctx *)ctx)->iop;

	int ret;

	if (i >= iop->n_devs)
		return -ENOENT;
	ret = iop_dev_sync(iop->devs[i]);
	if (ret < 0)
		local_stats_wb_set(iop->name, iop->devs[i]->name, ret);
	return ret;
}

int local_iop_dev_clear_error(void *ctx, unsigned int i)
{
	struct iop *iop = ((struct local_iop_ctx *)ctx)->iop;

	if (i >= iop->n_devs)
		return -ENOENT;
	local_stats_wb_set(iop->name, iop->devs[i]->name, 0);
	return -iop_dev_clear_error(iop->devs[i]);
}

int local_iop_dev_resize(void *ctx, unsigned int i, uint64_t size_bytes)
{
	struct iop *iop = ((struct local_iop_ctx *)ctx)->iop;
	struct iop_dev *dev;

	if (i >= iop->n_devs)
		return -ENOENT;
	dev = iop->devs[i];
	if (!iop->ops->resize) {
		log_error("%s: the %s device driver cannot resize", dev->name,
			  iop->ops->name);
		return -ENOTSUP;
	}
	if (iop->ops->resize_idle_only && atomic_load(&dev->refs) > 1) {
		log_error("%s: a %s device resizes only while no client uses "
			  "it",
			  dev->name, iop->ops->name);
		return -EBUSY;
	}
	if (size_bytes == 0 || size_bytes % dev->ddm.block_size_min) {
		log_error("%s: size %llu: must be a non-zero multiple of %u",
			  dev->name, (unsigned long long)size_bytes,
			  dev->ddm.block_size_min);
		return -EINVAL;
	}
	return iop->ops->resize(&dev->ddm, size_bytes);
}

int local_iop_rename(void *ctx, const char *name)
{
	struct iop *iop = ((struct local_iop_ctx *)ctx)->iop;
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	free(iop->name);
	iop->name = copy;
	return 0;
}
