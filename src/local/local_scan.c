// SPDX-License-Identifier: MIT
/*
 * Local Transport start-up: walk the configured IOPs, open their devices
 * through the DDMs and build one opaque context per IOP.  Discovery of
 * /sys/block and image directories (issue 4) will feed the same specs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "local/local_priv.h"

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
	}
	return 0;

err_destroy_iop:
	iop_destroy(ctx->iop);
	ctx->iop = NULL;
	return ret;
}

int local_scan(const struct local_config *cfg, struct local **localp)
{
	struct local *local;
	int ret;

	local = calloc(1, sizeof(*local));
	if (!local)
		return -ENOMEM;
	local->ctxs =
		calloc(cfg->n_iops ? cfg->n_iops : 1, sizeof(*local->ctxs));
	if (!local->ctxs) {
		free(local);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < cfg->n_iops; i++) {
		local->ctxs[i].max_request_bytes = cfg->max_request_bytes;
		ret = local_iop_open(&cfg->iops[i], &local->ctxs[i]);
		if (ret < 0)
			goto err_destroy;
		local->n_iops++;
	}
	*localp = local;
	return 0;

err_destroy:
	local_destroy(local);
	return ret;
}

void local_destroy(struct local *local)
{
	if (!local)
		return;
	for (unsigned int i = 0; i < local->n_iops; i++)
		iop_destroy(local->ctxs[i].iop);
	free(local->ctxs);
	free(local);
}

unsigned int local_iop_count(const struct local *local)
{
	return local->n_iops;
}

void *local_iop_context(struct local *local, unsigned int index)
{
	return index < local->n_iops ? &local->ctxs[index] : NULL;
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
