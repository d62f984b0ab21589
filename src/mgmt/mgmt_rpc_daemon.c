// SPDX-License-Identifier: MIT
/*
 * Management methods for the daemon itself: version, the method list,
 * log level, the running configuration, save-config, and reload (its
 * work is in mgmt_rpc_reload.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "iopd/ddm.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"
#include "mgmt/mgmt_schema.h"

/* The Remote Transports built in, from the registry: ["nbd", "iscsi"]. */
static json_t *mgmt_daemon_transports(void)
{
	const struct remote_transport_ops *t;
	json_t *a = json_array();

	for (unsigned int i = 0; a && (t = remote_transport_at(i)); i++)
		json_array_append_new(a, json_string(t->name));
	return a;
}

/* The DDMs built in, from the registry: ["null", "ram", ...]. */
static json_t *mgmt_daemon_ddms(void)
{
	const struct ddm_ops *d;
	json_t *a = json_array();

	for (unsigned int i = 0; a && (d = ddm_at(i)); i++)
		json_array_append_new(a, json_string(d->name));
	return a;
}

static int mgmt_daemon_version(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err)
{
	*result = json_pack("{s:s, s:s, s:i, s:o, s:o}", "name", "iopd",
			    "version", ctx->version, "pid", (int)getpid(),
			    "transports", mgmt_daemon_transports(), "ddms",
			    mgmt_daemon_ddms());
	return 0;
}

static int mgmt_daemon_methods(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err)
{
	*result = mgmt_rpc_methods_json();
	return 0;
}

static int mgmt_daemon_log_level(struct mgmt_ctx *ctx, json_t *params,
				 json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "level", NULL };
	const struct mgmt_opt *o = mgmt_opt_by_key("log_level");
	const char *text = NULL;
	int level, ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "level", false, &text, err)) < 0)
		return ret;
	if (text) {
		if (o->parse(text, &level) < 0)
			return mgmt_error_set(err, -EINVAL,
					      "level \"%s\": expected %s", text,
					      o->expect);
		base_log_set_level((enum base_log_level)level);
		ctx->cfg->log_level = (enum base_log_level)level;
		log_info("log level set to %s", o->names[level]);
	}
	*result = json_pack("{s:s}", "level", o->names[base_log_get_level()]);
	return 0;
}

static int mgmt_daemon_config(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	*result = mgmt_config_to_json(ctx->cfg);
	return 0;
}

static int mgmt_daemon_save_config(struct mgmt_ctx *ctx, json_t *params,
				   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "path", NULL };
	const char *path = ctx->config_path;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "path", false, &path, err)) < 0)
		return ret;
	if (!path)
		return mgmt_error_set(err, -EINVAL,
				      "iopd runs without --config: give a "
				      "\"path\"");
	ret = mgmt_config_save(ctx->cfg, path);
	if (ret == 0)
		*result = json_pack("{s:s}", "path", path);
	return ret;
}

static int mgmt_daemon_reload(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	int ret = mgmt_params_only(params, keys, err);

	return ret < 0 ? ret : mgmt_reload(ctx, result, err);
}

const struct mgmt_method mgmt_rpc_daemon_methods[] = {
	{ "daemon.version", mgmt_daemon_version, "iopd's version and pid" },
	{ "daemon.methods", mgmt_daemon_methods,
	  "every method with a line of help" },
	{ "daemon.log_level", mgmt_daemon_log_level,
	  "[level]: show or set the log level (error, warn, info, debug)" },
	{ "daemon.config", mgmt_daemon_config,
	  "the running configuration, in the config file's format" },
	{ "daemon.save_config", mgmt_daemon_save_config,
	  "[path]: write the running configuration atomically to path "
	  "(default: the --config file)" },
	{ "daemon.reload", mgmt_daemon_reload,
	  "read the --config file again and apply the difference (like "
	  "SIGHUP): a changed device re-creates its export, other changes "
	  "apply in place with clients connected; a file with an error "
	  "changes nothing" },
	{ NULL },
};
