// SPDX-License-Identifier: MIT
/*
 * Management methods for exports: list, add, remove, set read-only, set
 * the default, resize.  export.add takes the config file's export object,
 * through the same parser and translation as start-up (mgmt_config.c),
 * and every change is mirrored in the running configuration so that
 * save-config writes what runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_path.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"
#include "scsi/scsi.h"

void mgmt_dev_health_json(json_t *o, const struct local_dev_info *d)
{
	json_object_set_new(o, "durability",
			    json_string(d->durability ? d->durability : ""));
	json_object_set_new(o, "state",
			    json_string(d->wb_error ? "degraded" : "ok"));
	if (d->wb_error)
		json_object_set_new(o, "writeback_error",
				    json_string(strerror(-d->wb_error)));
	json_object_set_new(o, "writeback_errors",
			    json_integer((json_int_t)d->wb_errors));
}

json_t *mgmt_export_info_json(struct mgmt_ctx *ctx,
			      const struct connmgr_export_info *info)
{
	struct mgmt_export *e = mgmt_config_export_find(ctx->cfg, info->name);
	struct local_dev_info dev = { .name = NULL };
	json_t *o;

	local_iop_dev_info(info->desc->ctx, info->dev_index, &dev);
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:i, s:i}", "name",
		      info->name, "iop", info->iop, "device", info->dev, "ddm",
		      dev.ddm ? dev.ddm : "", "read_only",
		      info->read_only || dev.read_only, "default",
		      info->is_default, "size", (json_int_t)dev.size_bytes,
		      "block_size", (int)dev.block_size_min, "sessions",
		      (int)dev.sessions);
	if (info->description)
		json_object_set_new(o, "description",
				    json_string(info->description));
	if (e && e->path)
		json_object_set_new(o, "path", json_string(e->path));
	if (e) {
		mgmt_access_to_json(e, o);
		mgmt_export_tls_to_json(e, o);
	}
	mgmt_dev_health_json(o, &dev);
	return o;
}

static int mgmt_export_list(struct mgmt_ctx *ctx, json_t *params,
			    json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name", NULL };
	struct connmgr_export_info info;
	const char *name = NULL;
	json_t *list;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", false, &name, err)) < 0)
		return ret;
	list = json_array();
	for (unsigned int i = 0; connmgr_export_info(ctx->cm, i, &info) == 0;
	     i++)
		if (!name || !strcmp(name, info.name))
			json_array_append_new(
				list, mgmt_export_info_json(ctx, &info));
	if (name && json_array_size(list) == 0) {
		json_decref(list);
		return mgmt_error_set(err, -ENOENT, "export %s: no such export",
				      name);
	}
	*result = list;
	return 0;
}

int mgmt_export_apply_add(struct mgmt_ctx *ctx, const struct mgmt_export *e)
{
	struct connmgr_export_spec spec;
	struct local_iop_spec iop;
	struct local_dev_spec dev;
	struct connmgr_export_info info;
	int owned, ret;

	if (connmgr_export_lookup(ctx->cm, e->name, &info) == 0) {
		log_error("export %s: exists already", e->name);
		return -EEXIST;
	}
	owned = mgmt_export_specs(ctx->cfg, e, &iop, &dev, &spec);
	if (owned) {
		ret = connmgr_iop_add(ctx->cm, &iop);
		if (ret < 0)
			return ret;
	}
	ret = connmgr_export_add(ctx->cm, &spec);
	if (ret < 0) {
		if (owned)
			connmgr_iop_remove(ctx->cm, iop.name);
		return ret;
	}
	ret = mgmt_config_export_append(ctx->cfg, e);
	if (ret < 0) {
		connmgr_export_remove(ctx->cm, e->name);
		return ret;
	}
	log_info("export %s: added", e->name);
	return 0;
}

int mgmt_export_apply_remove(struct mgmt_ctx *ctx, const char *name)
{
	struct connmgr_export_info info;
	int ret = connmgr_export_remove(ctx->cm, name);

	/* -ETIMEDOUT, or a failed flush on removal (-EIO): gone from the
	 * table all the same. */
	if (ret == 0 ||
	    (ret != -ENOENT && connmgr_export_lookup(ctx->cm, name, &info) < 0))
		mgmt_config_export_drop(ctx->cfg, name);
	return ret;
}

static int mgmt_export_add(struct mgmt_ctx *ctx, json_t *params,
			   json_t **result, struct mgmt_error *err)
{
	struct mgmt_export e = { .name = NULL };
	struct connmgr_export_info info;
	int ret;

	if (!json_is_object(params))
		return mgmt_error_set(err, -EINVAL,
				      "params: an export object, e.g. "
				      "{\"name\": \"a\", \"ddm\": \"ram\", "
				      "\"size\": \"1G\"}");
	ret = mgmt_export_parse_json(params, &e);
	if (ret == -EINVAL)
		err->code = MGMT_ERR_INVALID_PARAMS;
	if (ret == 0)
		ret = mgmt_path_check(ctx->cfg, e.name, e.path, true);
	if (ret == 0)
		ret = mgmt_export_apply_add(ctx, &e);
	if (ret == 0 && connmgr_export_lookup(ctx->cm, e.name, &info) == 0)
		*result = mgmt_export_info_json(ctx, &info);
	mgmt_export_fini(&e);
	return ret;
}

int mgmt_remove_named(struct mgmt_ctx *ctx, json_t *params, json_t **result,
		      struct mgmt_error *err,
		      int (*remove)(struct mgmt_ctx *ctx, const char *name))
{
	static const char *const keys[] = { "name", NULL };
	const char *name;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0)
		return ret;
	ret = remove(ctx, name);
	if (ret == 0)
		*result = json_pack("{s:s}", "removed", name);
	return ret;
}

static int mgmt_export_remove(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	return mgmt_remove_named(ctx, params, result, err,
				 mgmt_export_apply_remove);
}

static int mgmt_export_set_read_only(struct mgmt_ctx *ctx, json_t *params,
				     json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name", "read_only", "disconnect",
					    NULL };
	struct connmgr_export_info info;
	struct local_dev_info dev = { .read_only = false };
	struct mgmt_export *e;
	const char *name;
	bool ro = true, kick = false;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0 ||
	    (ret = mgmt_param_bool(params, "read_only", &ro, err)) < 0 ||
	    (ret = mgmt_param_bool(params, "disconnect", &kick, err)) < 0)
		return ret;
	e = mgmt_config_export_find(ctx->cfg, name);
	if (connmgr_export_lookup(ctx->cm, name, &info) == 0)
		local_iop_dev_info(info.desc->ctx, info.dev_index, &dev);
	if (!ro && dev.read_only)
		/* The device itself was opened read-only. */
		return mgmt_error_set(err, -EROFS,
				      "export %s: its device was opened "
				      "read-only; remove and add it again to "
				      "make it writable",
				      name);
	ret = connmgr_export_set_read_only(ctx->cm, name, ro);
	if (ret < 0)
		return ret;
	if (e)
		e->read_only = ro;
	ret = kick ? connmgr_export_kick(ctx->cm, name) : 0;
	if (ret < 0)
		return ret;
	*result = json_pack("{s:s, s:b, s:i}", "name", name, "read_only", ro,
			    "disconnected", ret);
	return 0;
}

int mgmt_export_apply_access(struct mgmt_ctx *ctx, struct mgmt_export *have,
			     const struct mgmt_export *want)
{
	struct mgmt_export next = { .protocols = want->protocols };
	struct conn_tls_policy tls;
	int ret;

	if (base_acl_copy(&next.acl, &want->acl) < 0 ||
	    mgmt_export_tls_copy(&next, want) < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	mgmt_export_tls_policy(want, &tls);
	ret = connmgr_export_set_access(ctx->cm, have->name, want->protocols,
					&want->acl, &tls);
	if (ret < 0)
		goto fail;
	base_acl_fini(&have->acl);
	mgmt_export_tls_fini(have);
	have->acl = next.acl;
	have->protocols = next.protocols;
	have->tls_required = next.tls_required;
	have->tls_dn_allow = next.tls_dn_allow;
	have->tls_psk_allow = next.tls_psk_allow;
	return ret;
fail:
	base_acl_fini(&next.acl);
	mgmt_export_tls_fini(&next);
	return ret;
}

/* One key of export.set into want: the TLS keys ("tls_dn_allow": null
 * drops a list), or the access keys. */
static int mgmt_export_set_key(struct mgmt_export *want, const char *key,
			       json_t *v)
{
	struct base_acl *a = &want->acl;
	bool allow = key[0] == 'a';
	int ret = mgmt_export_tls_parse(want, key, v);

	if (ret != -ENOENT)
		return ret;
	if (!strcmp(key, "allow") || !strcmp(key, "deny")) {
		free(allow ? (void *)a->allow : (void *)a->deny);
		*(allow ? &a->allow : &a->deny) = NULL;
		*(allow ? &a->n_allow : &a->n_deny) = 0;
	}
	return mgmt_access_parse_json(want, key, v);
}

/* The keys given replace that part of the export's access; the others
 * stay ("allow": [] clears the allow list). */
static int mgmt_export_set(struct mgmt_ctx *ctx, json_t *params,
			   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name",	     "protocols",
					    "allow",	     "deny",
					    "tls",	     "tls_dn_allow",
					    "tls_psk_allow", NULL };
	struct mgmt_export want = { .name = NULL };
	struct mgmt_export *e;
	const char *name, *key;
	json_t *v;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0)
		return ret;
	e = mgmt_config_export_find(ctx->cfg, name);
	if (!e)
		return mgmt_error_set(err, -ENOENT, "export %s: no such export",
				      name);
	want.name = e->name;
	want.protocols = e->protocols;
	ret = base_acl_copy(&want.acl, &e->acl);
	if (ret == 0)
		ret = mgmt_export_tls_copy(&want, e);
	json_object_foreach(params, key, v)
	{
		if (ret < 0 || !strcmp(key, "name"))
			continue;
		ret = mgmt_export_set_key(&want, key, v);
	}
	if (ret >= 0)
		ret = mgmt_export_apply_access(ctx, e, &want);
	base_acl_fini(&want.acl);
	mgmt_export_tls_fini(&want);
	if (ret < 0)
		return mgmt_error_set(err, ret, "export %s: access not changed",
				      name);
	*result = mgmt_export_to_json(e, ctx->cfg->read_only);
	json_object_set_new(*result, "disconnected", json_integer(ret));
	return 0;
}

static int mgmt_export_set_default(struct mgmt_ctx *ctx, json_t *params,
				   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name", NULL };
	const char *name = NULL;
	char *copy = NULL;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", false, &name, err)) < 0)
		return ret;
	if (name && name[0] && !(copy = strdup(name)))
		return -ENOMEM;
	ret = connmgr_default_export_set(ctx->cm, name);
	if (ret < 0) {
		free(copy);
		return ret;
	}
	free(ctx->cfg->default_export);
	ctx->cfg->default_export = copy;
	*result = json_pack("{s:s?}", "default", copy);
	return 0;
}

static int mgmt_export_resize_dev(struct iop_desc *desc, unsigned int dev,
				  void *arg)
{
	return local_iop_dev_resize(desc->ctx, dev, *(uint64_t *)arg);
}

static int mgmt_export_resize(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name", "size", "disconnect",
					    NULL };
	struct connmgr_export_info info;
	struct local_dev_info dev = { .resize = 0 };
	struct mgmt_export *e;
	const char *name;
	uint64_t size;
	bool kick = false;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0 ||
	    (ret = mgmt_param_uint(params, "size", true, &size, err)) < 0 ||
	    (ret = mgmt_param_bool(params, "disconnect", &kick, err)) < 0)
		return ret;
	if (connmgr_export_lookup(ctx->cm, name, &info) < 0)
		return mgmt_error_set(err, -ENOENT, "export %s: no such export",
				      name);
	local_iop_dev_info(info.desc->ctx, info.dev_index, &dev);
	/* ram reallocates its tables: only with nobody able to use them. */
	if (dev.resize == 2)
		ret = connmgr_export_exclusive(ctx->cm, name,
					       mgmt_export_resize_dev, &size);
	else
		ret = local_iop_dev_resize(info.desc->ctx, info.dev_index,
					   size);
	if (ret < 0)
		return ret;
	connmgr_export_lookup(ctx->cm, name, &info);
	e = mgmt_config_export_find(ctx->cfg, name);
	if (e && e->ddm)
		e->size_bytes = size;
	if (kick && (ret = connmgr_export_kick(ctx->cm, name)) < 0)
		return ret;
	*result = mgmt_export_info_json(ctx, &info);
	return 0;
}

static int mgmt_export_clear_error(struct mgmt_ctx *ctx, json_t *params,
				   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "name", NULL };
	struct connmgr_export_info info;
	const char *name;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0)
		return ret;
	if (connmgr_export_lookup(ctx->cm, name, &info) < 0)
		return mgmt_error_set(err, -ENOENT, "export %s: no such export",
				      name);
	ret = local_iop_dev_clear_error(info.desc->ctx, info.dev_index);
	if (ret < 0)
		return ret;
	*result = json_pack("{s:s, s:s?}", "name", name, "cleared",
			    ret ? strerror(ret) : NULL);
	return 0;
}

/* SPC-4 table 169, by code. */
static const char *mgmt_pr_type_name(unsigned int type)
{
	static const char *const names[] = {
		[1] = "write-exclusive",
		[3] = "exclusive-access",
		[5] = "write-exclusive-registrants-only",
		[6] = "exclusive-access-registrants-only",
		[7] = "write-exclusive-all-registrants",
		[8] = "exclusive-access-all-registrants",
	};

	return type < 9 && names[type] ? names[type] : NULL;
}

static json_t *mgmt_pr_json(const char *name, const struct scsi_pr_info *pr)
{
	json_t *regs = json_array(), *holder = json_null();
	char key[19];

	for (unsigned int i = 0; i < pr->n_regs; i++) {
		const struct scsi_pr_info_reg *r = &pr->regs[i];

		snprintf(key, sizeof(key), "0x%016llx",
			 (unsigned long long)r->key);
		json_array_append_new(
			regs, json_pack("{s:s, s:s, s:s, s:i, s:b, s:b}", "key",
					key, "initiator", r->initiator,
					"target_port", r->tport, "rel_port_id",
					r->rel_port_id, "all_tg_pt",
					r->all_tg_pt, "holder", r->holder));
		if (r->holder && json_is_null(holder))
			holder = json_string(r->initiator);
	}
	return json_pack("{s:s, s:I, s:s?, s:o, s:b, s:o, s:s?, s:s?}", "name",
			 name, "generation", (json_int_t)pr->generation, "type",
			 mgmt_pr_type_name(pr->type), "holder", holder, "aptpl",
			 pr->aptpl, "registrations", regs, "reserve6",
			 pr->res6_initiator, "reserve6_target_port",
			 pr->res6_tport);
}

/* export.pr and export.pr_clear: the device's persistent reservations. */
static int mgmt_export_pr_call(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err,
			       bool clear)
{
	static const char *const keys[] = { "name", NULL };
	struct connmgr_export_info info;
	struct conn_export exp = { .name = NULL };
	struct scsi_pr_info pr;
	const char *name;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "name", true, &name, err)) < 0)
		return ret;
	if (connmgr_export_lookup(ctx->cm, name, &info) < 0)
		return mgmt_error_set(err, -ENOENT, "export %s: no such export",
				      name);
	exp.name = info.name;
	exp.desc = info.desc;
	exp.dev_index = info.dev_index;
	if (clear && (ret = scsi_pr_clear_export(&exp)) < 0)
		return ret;
	ret = scsi_pr_info_get(&exp, &pr);
	if (ret < 0)
		return ret;
	*result = mgmt_pr_json(name, &pr);
	scsi_pr_info_free(&pr);
	return 0;
}

static int mgmt_export_pr(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			  struct mgmt_error *err)
{
	return mgmt_export_pr_call(ctx, params, result, err, false);
}

static int mgmt_export_pr_clear(struct mgmt_ctx *ctx, json_t *params,
				json_t **result, struct mgmt_error *err)
{
	return mgmt_export_pr_call(ctx, params, result, err, true);
}

const struct mgmt_method mgmt_rpc_export_methods[] = {
	{ "export.list", mgmt_export_list,
	  "[name]: the exports, with their device, size and mode" },
	{ "export.add", mgmt_export_add,
	  "an export object as in the config file: {name, ddm, path, size, "
	  "read_only, description} for a device of its own, or {name, iop, "
	  "device, read_only, description} for a device of an existing IOP" },
	{ "export.remove", mgmt_export_remove,
	  "name: new clients stop finding it at once; its clients finish "
	  "their requests and are disconnected; then its own device closes" },
	{ "export.set_read_only", mgmt_export_set_read_only,
	  "name, [read_only=true], [disconnect=false]: for connections made "
	  "from now on; disconnect: ask the current ones to reconnect" },
	{ "export.clear_error", mgmt_export_clear_error,
	  "name: acknowledge the device's write-back error (its state "
	  "\"degraded\"): flushes and FUA writes may succeed again; check "
	  "the data first, acknowledged writes may have been lost" },
	{ "export.pr", mgmt_export_pr,
	  "name: the SCSI persistent reservations of the export's device "
	  "(every target and portal reaching it): generation, type, holder, "
	  "APTPL, the registrations, and the RESERVE(6) holder (reserve6, "
	  "reserve6_target_port; null when none)" },
	{ "export.pr_clear", mgmt_export_pr_clear,
	  "name: drop every registration and the reservation of the "
	  "export's device (a dead cluster node's), as PREEMPT would; the "
	  "registrants' sessions get RESERVATIONS PREEMPTED" },
	{ "export.set", mgmt_export_set,
	  "name, [protocols], [allow], [deny], [tls], [tls_dn_allow], "
	  "[tls_psk_allow]: who may reach the export (as in the config "
	  "file; null drops a TLS allow list), live: connected clients "
	  "that lose access are disconnected, the others stay" },
	{ "export.set_default", mgmt_export_set_default,
	  "[name]: what a client asking for \"\" gets (none: the first)" },
	{ "export.resize", mgmt_export_resize,
	  "name, size, [disconnect=false]: grow or shrink the device (ram, "
	  "file); clients see it when they next connect (disconnect: ask "
	  "them to, file only)" },
	{ NULL },
};
