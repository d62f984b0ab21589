// SPDX-License-Identifier: MIT
/*
 * Management methods for devices: every device of every IOP, with what
 * its DDM declared and who uses it.
 */
#include <errno.h>
#include <string.h>

#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"

static json_t *mgmt_device_caps_json(uint32_t caps)
{
	static const char *const names[] = {
		"flush",   "fua",   "trim",	  "zeroes",	   "fast_zero",
		"extents", "cache", "multi_conn", "extents_cheap",
	};
	json_t *list = json_array();

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (caps & (1u << i))
			json_array_append_new(list, json_string(names[i]));
	return list;
}

json_t *mgmt_device_json(const char *iop, const struct local_dev_info *d);
json_t *mgmt_device_json(const char *iop, const struct local_dev_info *d)
{
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:I, s:i, s:i, s:b, s:i, s:I, s:o}", "iop",
		iop, "name", d->name, "ddm", d->ddm, "size",
		(json_int_t)d->size_bytes, "block_size_min",
		(int)d->block_size_min, "block_size_pref",
		(int)d->block_size_pref, "read_only", d->read_only, "sessions",
		(int)d->sessions, "inflight", (json_int_t)d->inflight, "caps",
		mgmt_device_caps_json(d->caps));

	mgmt_dev_health_json(o, d);
	return o;
}

static int mgmt_device_list(struct mgmt_ctx *ctx, json_t *params,
			    json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "iop", NULL };
	const char *only = NULL;
	struct iop_desc *desc;
	json_t *list;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "iop", false, &only, err)) < 0)
		return ret;
	list = json_array();
	for (unsigned int i = 0; (desc = connmgr_iop_at(ctx->cm, i)); i++) {
		struct local_dev_info d;

		if (only && strcmp(only, desc->name))
			continue;
		for (unsigned int j = 0;
		     local_iop_dev_info(desc->ctx, j, &d) == 0; j++)
			json_array_append_new(list,
					      mgmt_device_json(desc->name, &d));
	}
	*result = list;
	return 0;
}

const struct mgmt_method mgmt_rpc_device_methods[] = {
	{ "device.list", mgmt_device_list,
	  "[iop]: the open devices: size, block sizes, capabilities, "
	  "sessions and requests in flight" },
	{ NULL },
};
