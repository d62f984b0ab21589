// SPDX-License-Identifier: MIT
/*
 * The config file's "iops" (groups of devices of one DDM that exports
 * name with {iop, device}) and the RPC's iop.add: parsing, the Local
 * Transport's specs for them, keeping them in the running configuration
 * and saving them.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_config.h"

void mgmt_iop_fini(struct mgmt_iop *iop)
{
	for (unsigned int i = 0; i < iop->n_devs; i++) {
		free(iop->devs[i].name);
		free(iop->devs[i].path);
	}
	free(iop->devs);
	free(iop->name);
	free(iop->ddm);
	memset(iop, 0, sizeof(*iop));
}

static int mgmt_iop_dev_parse(json_t *obj, struct mgmt_iop_dev *d)
{
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: iop devices: each device is an object");
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "name"))
			ret = mgmt_json_strdup("device name", v, &d->name);
		else if (!strcmp(key, "path"))
			ret = mgmt_json_strdup("path", v, &d->path);
		else if (!strcmp(key, "size"))
			ret = mgmt_json_size("size", v, &d->size_bytes);
		else if (!strcmp(key, "read_only") && json_is_boolean(v))
			d->read_only = json_is_true(v);
		else {
			log_error("config: iop device: unknown or mistyped key "
				  "\"%s\"",
				  key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (!d->name) {
		log_error("config: iop device: \"name\" is required");
		return -EINVAL;
	}
	return 0;
}

int mgmt_iop_parse_json(json_t *obj, struct mgmt_iop *iop)
{
	const char *key;
	json_t *v, *item;
	size_t i;
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: iops: each IOP is an object");
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "name"))
			ret = mgmt_json_strdup("iop name", v, &iop->name);
		else if (!strcmp(key, "ddm"))
			ret = mgmt_json_strdup("ddm", v, &iop->ddm);
		else if (!strcmp(key, "devices") && json_is_array(v) &&
			 json_array_size(v) > 0 && !iop->devs) {
			iop->devs =
				calloc(json_array_size(v), sizeof(*iop->devs));
			if (!iop->devs)
				return -ENOMEM;
			json_array_foreach(v, i, item)
			{
				iop->n_devs++;
				ret = mgmt_iop_dev_parse(item, &iop->devs[i]);
				if (ret < 0)
					return ret;
			}
		} else {
			log_error("config: iop: unknown or mistyped key \"%s\" "
				  "(devices is a non-empty list)",
				  key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (!iop->name || !iop->ddm || !iop->n_devs) {
		log_error("config: iop %s: \"name\", \"ddm\" and \"devices\" "
			  "are required",
			  iop->name ? iop->name : "(unnamed)");
		return -EINVAL;
	}
	return 0;
}

int mgmt_iop_specs(const struct mgmt_config *cfg, const struct mgmt_iop *iop,
		   struct local_iop_spec *spec)
{
	spec->name = iop->name;
	spec->ddm = iop->ddm;
	spec->n_devs = iop->n_devs;
	spec->devs = calloc(iop->n_devs, sizeof(*spec->devs));
	if (!spec->devs)
		return -ENOMEM;
	for (unsigned int i = 0; i < iop->n_devs; i++) {
		spec->devs[i].name = iop->devs[i].name;
		spec->devs[i].args.path = iop->devs[i].path;
		spec->devs[i].args.size_bytes = iop->devs[i].size_bytes;
		spec->devs[i].args.read_only =
			iop->devs[i].read_only || cfg->read_only;
		spec->devs[i].args.direct = cfg->direct;
	}
	return 0;
}

/* Takes over iop's memory (iop is zeroed). */
int mgmt_config_iop_append(struct mgmt_config *cfg, struct mgmt_iop *iop)
{
	struct mgmt_iop *iops;

	iops = realloc(cfg->iops, (cfg->n_iops + 1) * sizeof(*iops));
	if (!iops)
		return -ENOMEM;
	cfg->iops = iops;
	iops[cfg->n_iops++] = *iop;
	memset(iop, 0, sizeof(*iop));
	return 0;
}

void mgmt_config_iop_drop(struct mgmt_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->n_iops; i++) {
		if (strcmp(cfg->iops[i].name, name))
			continue;
		mgmt_iop_fini(&cfg->iops[i]);
		memmove(&cfg->iops[i], &cfg->iops[i + 1],
			(cfg->n_iops - i - 1) * sizeof(*cfg->iops));
		cfg->n_iops--;
		return;
	}
}

json_t *mgmt_iop_to_json(const struct mgmt_iop *iop)
{
	json_t *devs = json_array();

	for (unsigned int i = 0; i < iop->n_devs; i++) {
		const struct mgmt_iop_dev *d = &iop->devs[i];
		json_t *o = json_pack("{s:s}", "name", d->name);

		if (d->path)
			json_object_set_new(o, "path", json_string(d->path));
		if (d->size_bytes)
			json_object_set_new(
				o, "size",
				json_integer((json_int_t)d->size_bytes));
		if (d->read_only)
			json_object_set_new(o, "read_only", json_true());
		json_array_append_new(devs, o);
	}
	return json_pack("{s:s, s:s, s:o}", "name", iop->name, "ddm", iop->ddm,
			 "devices", devs);
}

int mgmt_config_load_iops(struct mgmt_config *cfg, json_t *v)
{
	size_t i;
	json_t *item;
	int ret;

	if (!json_is_array(v)) {
		log_error("config: iops: expected a list of IOPs");
		return -EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		struct mgmt_iop iop = { .name = NULL };

		ret = mgmt_iop_parse_json(item, &iop);
		if (ret == 0)
			ret = mgmt_config_iop_append(cfg, &iop);
		if (ret < 0) {
			mgmt_iop_fini(&iop);
			return ret;
		}
	}
	return 0;
}

json_t *mgmt_iops_to_json(const struct mgmt_config *cfg)
{
	json_t *iops = json_array();

	for (unsigned int i = 0; i < cfg->n_iops; i++)
		json_array_append_new(iops, mgmt_iop_to_json(&cfg->iops[i]));
	return iops;
}
