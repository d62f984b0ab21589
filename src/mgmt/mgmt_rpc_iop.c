// SPDX-License-Identifier: MIT
/*
 * Management methods for IOPs: list, add (a group of devices driven by
 * one DDM, opened through the Local Transport), remove (when no export
 * uses it).  An export with a "ddm" has an IOP of its own, named like it,
 * which export.remove takes away; iop.add is for groups that several
 * exports share.  Discovery adds its own methods (scan, rescan) here.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/base_log.h"
#include "mgmt/mgmt_path.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"

static int mgmt_iop_list(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			 struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	struct iop_desc *desc;
	json_t *list;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	list = json_array();
	for (unsigned int i = 0; (desc = connmgr_iop_at(ctx->cm, i)); i++) {
		struct connmgr_export_info info;
		struct local_dev_info d = { .ddm = "" };
		json_t *devs = json_array(), *exports = json_array();

		for (unsigned int j = 0;
		     local_iop_dev_info(desc->ctx, j, &d) == 0; j++)
			json_array_append_new(devs, json_string(d.name));
		for (unsigned int j = 0;
		     connmgr_export_info(ctx->cm, j, &info) == 0; j++)
			if (info.desc == desc)
				json_array_append_new(exports,
						      json_string(info.name));
		json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o}",
						      "name", desc->name, "ddm",
						      d.ddm, "devices", devs,
						      "exports", exports));
	}
	*result = list;
	return 0;
}

/* The config file's IOP object, through the config file's parser. */
static int mgmt_iop_add(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			struct mgmt_error *err)
{
	struct mgmt_iop iop = { .name = NULL };
	struct local_iop_spec spec = { .name = NULL };
	int ret;

	if (!json_is_object(params))
		return mgmt_error_set(err, -EINVAL,
				      "params: {name, ddm, devices: [{name, "
				      "path, size, read_only}]}");
	ret = mgmt_iop_parse_json(params, &iop);
	if (ret == -EINVAL)
		err->code = MGMT_ERR_INVALID_PARAMS;
	for (unsigned int i = 0; ret == 0 && i < iop.n_devs; i++)
		ret = mgmt_path_check(ctx->cfg, iop.devs[i].name,
				      iop.devs[i].path, true);
	if (ret == 0)
		ret = mgmt_iop_specs(ctx->cfg, &iop, &spec);
	if (ret == 0)
		ret = connmgr_iop_add(ctx->cm, &spec);
	free(spec.devs);
	if (ret == 0) {
		log_info("iop %s: added, %u devices", iop.name, iop.n_devs);
		*result = json_pack("{s:s}", "added", iop.name);
		ret = mgmt_config_iop_append(ctx->cfg, &iop);
	}
	mgmt_iop_fini(&iop);
	return ret;
}

/* Remove the IOP called name from the daemon and the running
 * configuration. */
static int mgmt_iop_apply_remove(struct mgmt_ctx *ctx, const char *name)
{
	int ret = connmgr_iop_remove(ctx->cm, name);

	if (ret == 0)
		mgmt_config_iop_drop(ctx->cfg, name);
	return ret;
}

static int mgmt_iop_remove(struct mgmt_ctx *ctx, json_t *params,
			   json_t **result, struct mgmt_error *err)
{
	return mgmt_remove_named(ctx, params, result, err,
				 mgmt_iop_apply_remove);
}

const struct mgmt_method mgmt_rpc_iop_methods[] = {
	{ "iop.list", mgmt_iop_list,
	  "the IOPs: their DDM, devices and the exports using them" },
	{ "iop.add", mgmt_iop_add,
	  "name, ddm, devices: [{name, path, size, read_only}]: open a group "
	  "of devices that exports can then name ({iop, device})" },
	{ "iop.remove", mgmt_iop_remove,
	  "name: close an IOP that no export uses" },
	{ NULL },
};
