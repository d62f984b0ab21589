// SPDX-License-Identifier: MIT
/*
 * Management methods for discovery: scan the local bus (block devices,
 * NVMe controllers, image directories, storage pools such as an RBD
 * pool's images) from scratch, rescan to see what
 * appeared and vanished, list the candidates, and export one by name.
 * The scan itself is the Local Transport's (local_discover.c); this file
 * keeps its result on the management thread and refuses to export
 * partitions and devices in use unless forced.  A rescan only marks what
 * vanished: an export that uses it keeps serving its clients.
 */
#include <errno.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_rpc_priv.h"

/* Does export e open pool device c: the same DDM with the same value of
 * its spec key (rbd's image=rbd/img)? */
static bool mgmt_cand_pool_match(const struct mgmt_export *e,
				 const struct local_candidate *c)
{
	const struct ddm_ops *ops = ddm_find(c->ddm);

	if (!ops || !e->ddm || strcmp(e->ddm, c->ddm))
		return false;
	for (unsigned int i = e->n_options; i-- > 0;)
		if (!strcmp(e->options[i].key, ops->spec_key))
			return !strcmp(e->options[i].value, c->path);
	return false;
}

static const char *mgmt_cand_exported_as(struct mgmt_ctx *ctx,
					 const struct local_candidate *c)
{
	for (unsigned int i = 0; i < ctx->cfg->n_exports; i++) {
		const struct mgmt_export *e = &ctx->cfg->exports[i];

		if (c->kind == LOCAL_CAND_POOL
			    ? mgmt_cand_pool_match(e, c)
			    : e->path && c->path && !strcmp(e->path, c->path))
			return e->name;
	}
	return NULL;
}

static const char *mgmt_cand_state(const struct local_candidate *c)
{
	if (c->vanished)
		return "vanished";
	if (c->mounted_at)
		return "mounted";
	if (c->holders)
		return "held";
	return c->appeared ? "new" : "present";
}

static json_t *mgmt_cand_json(struct mgmt_ctx *ctx,
			      const struct local_candidate *c)
{
	const char *exp = mgmt_cand_exported_as(ctx, c);
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:s?,s:I,s:i,s:i,s:b,s:b,s:s,s:b,s:s?}",
		      "name", c->name, "iop", c->iop, "kind",
		      local_cand_kind_name(c->kind), "path", c->path, "size",
		      (json_int_t)c->size_bytes, "logical_block_size",
		      (int)c->logical_block_size, "physical_block_size",
		      (int)c->physical_block_size, "rotational", c->rotational,
		      "read_only", c->read_only, "state", mgmt_cand_state(c),
		      "exportable", local_cand_exportable(c, false) == 0,
		      "exported_as", exp);
	if (!o)
		return NULL;
	if (c->ddm)
		json_object_set_new(o, "ddm", json_string(c->ddm));
	if (c->parent)
		json_object_set_new(o, "parent", json_string(c->parent));
	if (c->n_partitions)
		json_object_set_new(o, "partitions",
				    json_integer(c->n_partitions));
	if (c->mounted_at)
		json_object_set_new(o, "mounted_at",
				    json_string(c->mounted_at));
	if (c->holders)
		json_object_set_new(o, "holders", json_string(c->holders));
	if (c->backing_file)
		json_object_set_new(o, "backing_file",
				    json_string(c->backing_file));
	if (c->model)
		json_object_set_new(o, "model", json_string(c->model));
	if (c->serial)
		json_object_set_new(o, "serial", json_string(c->serial));
	return o;
}

static json_t *mgmt_cands_json(struct mgmt_ctx *ctx,
			       const struct local_discovery *d)
{
	json_t *list = json_array();

	for (unsigned int i = 0; list && i < d->n; i++)
		json_array_append_new(list, mgmt_cand_json(ctx, &d->cands[i]));
	return list;
}

/* The last scan, scanning now if there is none yet. */
static int mgmt_discovery_get(struct mgmt_ctx *ctx, struct local_discovery **dp)
{
	struct mgmt_ops *ops = mgmt_ops_get(ctx->cfg);
	int ret;

	if (!ops)
		return -ENOMEM;
	if (!ops->discovery) {
		ret = local_discover_scan(&ops->discover, &ops->discovery);
		if (ret < 0)
			return ret;
	}
	*dp = ops->discovery;
	return 0;
}

static int mgmt_iop_scan(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			 struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	struct mgmt_ops *ops = mgmt_ops_get(ctx->cfg);
	struct local_discovery *d;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	if (!ops)
		return -ENOMEM;
	ret = local_discover_scan(&ops->discover, &d);
	if (ret < 0)
		return ret;
	local_discovery_free(ops->discovery);
	ops->discovery = d;
	log_info("discover: %u candidates", d->n);
	*result = mgmt_cands_json(ctx, d);
	return 0;
}

static int mgmt_iop_rescan(struct mgmt_ctx *ctx, json_t *params,
			   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	struct mgmt_ops *ops = mgmt_ops_get(ctx->cfg);
	struct local_discovery *d;
	unsigned int appeared, vanished;
	json_t *app, *van;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	ret = mgmt_discovery_get(ctx, &d);
	if (ret < 0)
		return ret;
	ret = local_discover_rescan(&ops->discover, d, &appeared, &vanished);
	if (ret < 0)
		return ret;
	if (appeared || vanished)
		log_info("discover: %u appeared, %u vanished", appeared,
			 vanished);
	app = json_array();
	van = json_array();
	for (unsigned int i = 0; i < d->n; i++) {
		const struct local_candidate *c = &d->cands[i];

		if (c->appeared)
			json_array_append_new(app, json_string(c->name));
		/* Vanished in this rescan or before: still marked. */
		if (c->vanished)
			json_array_append_new(van, json_string(c->name));
	}
	*result = json_pack("{s:o,s:o,s:o}", "appeared", app, "vanished", van,
			    "candidates", mgmt_cands_json(ctx, d));
	return 0;
}

static int mgmt_device_discovered(struct mgmt_ctx *ctx, json_t *params,
				  json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	struct local_discovery *d;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_discovery_get(ctx, &d)) < 0)
		return ret;
	*result = mgmt_cands_json(ctx, d);
	return 0;
}

static int mgmt_device_export(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "device",	   "name",
					    "read_only",   "force",
					    "description", NULL };
	const char *dev = NULL, *name = NULL, *desc = NULL;
	const struct local_candidate *c;
	struct connmgr_export_info info;
	struct local_discovery *d;
	bool ro = false, force = false;
	struct mgmt_export e = { .name = NULL };
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "device", true, &dev, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", false, &name, err)) < 0 ||
	    (ret = mgmt_param_str(params, "description", false, &desc, err)) <
		    0 ||
	    (ret = mgmt_param_bool(params, "read_only", &ro, err)) < 0 ||
	    (ret = mgmt_param_bool(params, "force", &force, err)) < 0 ||
	    (ret = mgmt_discovery_get(ctx, &d)) < 0)
		return ret;
	c = local_discovery_find(d, dev);
	if (!c)
		return mgmt_error_set(err, -ENOENT,
				      "device %s: not among the discovered "
				      "devices (try iop.rescan)",
				      dev);
	ret = local_cand_exportable(c, force);
	if (ret == -ENODEV)
		return mgmt_error_set(err, ret, "device %s: vanished", dev);
	if (ret == -EBUSY) {
		bool part = c->kind == LOCAL_CAND_PARTITION;

		return mgmt_error_set(
			err, ret,
			"device %s %s %s; export it with force=true if you "
			"mean it",
			dev,
			part		? "is a partition of"
			: c->mounted_at ? "is mounted at"
					: "is held by",
			part		? c->parent
			: c->mounted_at ? c->mounted_at
					: c->holders);
	}
	e.name = (char *)(name ? name : c->name);
	e.description = (char *)desc;
	if (c->kind == LOCAL_CAND_POOL) {
		/* The pool's settings and spec_key=path, copied on adding. */
		e.ddm = c->ddm;
		e.options = c->options;
		e.n_options = c->n_options;
	} else {
		e.ddm = (char *)(c->kind == LOCAL_CAND_IMAGE ? "file" : "bdev");
		e.path = c->path;
	}
	e.read_only = ro || c->read_only;
	ret = mgmt_export_apply_add(ctx, &e);
	if (ret == 0 && connmgr_export_lookup(ctx->cm, e.name, &info) == 0)
		*result = mgmt_export_info_json(ctx, &info);
	return ret;
}

const struct mgmt_method mgmt_rpc_discover_methods[] = {
	{ "iop.scan", mgmt_iop_scan,
	  "scan the local bus from scratch (/sys/block, /sys/class/nvme, "
	  "image directories); the candidates, nothing exported" },
	{ "iop.rescan", mgmt_iop_rescan,
	  "scan again: what appeared, what vanished (marked, not removed: "
	  "exports using it keep their clients), and every candidate" },
	{ "device.discovered", mgmt_device_discovered,
	  "the candidates of the last scan, with their state (mounted, "
	  "held, vanished) and whether they may be exported" },
	{ "device.export", mgmt_device_export,
	  "device, [name], [read_only], [force], [description]: export a "
	  "discovered device; partitions and devices in use need force" },
	{ NULL },
};
