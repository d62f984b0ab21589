// SPDX-License-Identifier: MIT
/*
 * Management methods for devices: every device of every IOP, with what
 * its DDM declared and who uses it.
 */
#include <errno.h>
#include <stdlib.h>
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

/* A DDM's control reply, KEY=VALUE lines, as an object (integers as
 * numbers); text that is not in that form comes back as "reply". */
static json_t *mgmt_device_reply_json(char *reply)
{
	json_t *o = json_object();
	char *save = NULL, *line, *eq, *end;
	long long n;

	for (line = strtok_r(reply, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (!eq || eq == line) {
			json_object_set_new(o, "reply", json_string(line));
			continue;
		}
		*eq++ = 0;
		errno = 0;
		n = strtoll(eq, &end, 10);
		json_object_set_new(o, line,
				    *eq && !*end && !errno
					    ? json_integer((json_int_t)n)
					    : json_string(eq));
	}
	return o;
}

/* {export} or {iop, device}: the device's IOP descriptor and index. */
static int mgmt_device_resolve(struct mgmt_ctx *ctx, json_t *params,
			       struct iop_desc **descp, unsigned int *indexp,
			       struct mgmt_error *err)
{
	struct connmgr_export_info info;
	const char *export = NULL, *iop = NULL, *dev = NULL;
	struct iop_desc *desc;
	int ret;

	if ((ret = mgmt_param_str(params, "export", false, &export, err)) < 0 ||
	    (ret = mgmt_param_str(params, "iop", false, &iop, err)) < 0 ||
	    (ret = mgmt_param_str(params, "device", false, &dev, err)) < 0)
		return ret;
	if (export) {
		if (connmgr_export_lookup(ctx->cm, export, &info) < 0)
			return mgmt_error_set(err, -ENOENT,
					      "export %s: no such export",
					      export);
		*descp = info.desc;
		*indexp = info.dev_index;
		return 0;
	}
	if (!iop)
		return mgmt_error_set(err, -EINVAL,
				      "give export, or iop and device");
	for (unsigned int i = 0; (desc = connmgr_iop_at(ctx->cm, i)); i++) {
		if (strcmp(desc->name, iop))
			continue;
		ret = local_iop_dev_find(desc->ctx, dev ? dev : iop);
		if (ret < 0)
			return mgmt_error_set(err, -ENOENT,
					      "iop %s: no device %s", iop,
					      dev ? dev : iop);
		*descp = desc;
		*indexp = (unsigned int)ret;
		return 0;
	}
	return mgmt_error_set(err, -ENOENT, "iop %s: no such IOP", iop);
}

static int mgmt_device_control(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "export", "iop", "device",
					    "verb",   "arg", NULL };
	const char *verb, *arg = NULL;
	struct iop_desc *desc = NULL;
	unsigned int index = 0;
	char reply[8192];
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "verb", true, &verb, err)) < 0 ||
	    (ret = mgmt_param_str(params, "arg", false, &arg, err)) < 0 ||
	    (ret = mgmt_device_resolve(ctx, params, &desc, &index, err)) < 0)
		return ret;
	ret = local_iop_dev_control(desc->ctx, index, verb, arg, reply,
				    sizeof(reply));
	if (ret < 0)
		return ret;
	*result = mgmt_device_reply_json(reply);
	return 0;
}

const struct mgmt_method mgmt_rpc_device_methods[] = {
	{ "device.list", mgmt_device_list,
	  "[iop]: the open devices: size, block sizes, capabilities, "
	  "sessions and requests in flight" },
	{ "device.control", mgmt_device_control,
	  "{export | iop, device}, verb, [arg]: a command for the device's "
	  "DDM (fault: crash, set, clear, stats); the reply's KEY=VALUE "
	  "lines as an object" },
	{ NULL },
};
