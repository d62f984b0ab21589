// SPDX-License-Identifier: MIT
/*
 * Management methods for the daemon itself: version, the method list,
 * log level, the running configuration, save-config, and reload (also
 * what SIGHUP does): read the config file again and apply the
 * difference -- remove the exports it no longer has, re-create those it
 * changed, add the new ones -- so that a broken file changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"

static int mgmt_daemon_version(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err)
{
	*result = json_pack("{s:s, s:s, s:i}", "name", "iopd", "version",
			    ctx->version, "pid", (int)getpid());
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
	static const char *const names[] = { "error", "warn", "info", "debug" };
	enum base_log_level level;
	const char *text = NULL;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "level", false, &text, err)) < 0)
		return ret;
	if (text) {
		if (base_log_parse_level(text, &level) < 0)
			return mgmt_error_set(err, -EINVAL,
					      "level \"%s\": expected error, "
					      "warn, info or debug",
					      text);
		base_log_set_level(level);
		ctx->cfg->log_level = level;
		log_info("log level set to %s", names[level]);
	}
	*result = json_pack("{s:s}", "level", names[base_log_get_level()]);
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

/* Reload ------------------------------------------------------------------ */

static bool mgmt_only_read_only_differs(const struct mgmt_export *a,
					const struct mgmt_export *b)
{
	struct mgmt_export c = *b;

	c.read_only = a->read_only;
	/* Turning a device of its own writable needs it reopened. */
	return mgmt_export_equal(a, &c) && (a->iop || b->read_only);
}

static void mgmt_reload_settings(struct mgmt_ctx *ctx,
				 const struct mgmt_config *next)
{
	const struct mgmt_config *cur = ctx->cfg;

	if (next->log_level != cur->log_level) {
		base_log_set_level(next->log_level);
		ctx->cfg->log_level = next->log_level;
	}
	if (next->threads != cur->threads || next->engine != cur->engine ||
	    next->max_request_bytes != cur->max_request_bytes ||
	    next->drain_timeout_ms != cur->drain_timeout_ms ||
	    next->direct != cur->direct)
		log_warn("reload: threads, engine, max_request_bytes, "
			 "drain_timeout_ms and direct take effect at the next "
			 "start");
}

static int mgmt_reload_default(struct mgmt_ctx *ctx, const char *name)
{
	char *copy = NULL;

	if (!name && !ctx->cfg->default_export)
		return 0;
	if (name && ctx->cfg->default_export &&
	    !strcmp(name, ctx->cfg->default_export))
		return 0;
	if (name && !(copy = strdup(name)))
		return -ENOMEM;
	if (connmgr_default_export_set(ctx->cm, name) < 0) {
		free(copy);
		return -ENOENT;
	}
	free(ctx->cfg->default_export);
	ctx->cfg->default_export = copy;
	return 0;
}

/* What a reload does to one export of the file. */
struct mgmt_reload_item {
	struct mgmt_export *want;
	bool replace;  /* it exists with another device: re-create it */
	bool iop_open; /* its new IOP is open (under tmp_name if replace) */
	char tmp_name[64];
};

/* Phase 1, which may fail and then changes nothing: open the devices of
 * new and changed exports (a changed one's under a temporary IOP name). */
static int mgmt_reload_open(struct mgmt_ctx *ctx, struct mgmt_reload_item *it,
			    unsigned int n)
{
	static unsigned int generation;
	int ret;

	generation++;
	for (unsigned int i = 0; i < n; i++) {
		struct connmgr_export_spec spec;
		struct local_iop_spec iop;
		struct local_dev_spec dev;
		struct iop_desc *desc;
		bool found = false;

		if (mgmt_export_specs(ctx->cfg, it[i].want, &iop, &dev,
				      &spec) == 0) {
			/* A device of an existing IOP: is it there? */
			for (unsigned int j = 0;
			     (desc = connmgr_iop_at(ctx->cm, j)); j++)
				if (!strcmp(desc->name, spec.iop))
					found = local_iop_dev_find(desc->ctx,
								   spec.dev) >=
						0;
			if (!found) {
				log_error("export %s: no device %s in IOP %s",
					  spec.name, spec.dev, spec.iop);
				return -ENOENT;
			}
			continue;
		}
		if (it[i].replace) {
			snprintf(it[i].tmp_name, sizeof(it[i].tmp_name),
				 "reload-%u-%u", generation, i);
			iop.name = it[i].tmp_name;
		}
		ret = connmgr_iop_add(ctx->cm, &iop);
		if (ret < 0)
			return ret;
		it[i].iop_open = true;
	}
	return 0;
}

static void mgmt_reload_close(struct mgmt_ctx *ctx, struct mgmt_reload_item *it,
			      unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (it[i].iop_open)
			connmgr_iop_remove(ctx->cm, it[i].replace
							    ? it[i].tmp_name
							    : it[i].want->name);
}

/* Phase 3: the IOPs are open and the old exports gone: publish. */
static int mgmt_reload_attach(struct mgmt_ctx *ctx,
			      struct mgmt_reload_item *item)
{
	struct mgmt_export *e = item->want;
	struct connmgr_export_spec spec;
	struct local_iop_spec iop;
	struct local_dev_spec dev;
	int ret;

	mgmt_export_specs(ctx->cfg, e, &iop, &dev, &spec);
	if (item->replace && item->iop_open) {
		ret = connmgr_iop_rename(ctx->cm, item->tmp_name, e->name);
		if (ret < 0)
			return ret;
	}
	ret = connmgr_export_add(ctx->cm, &spec);
	if (ret == 0)
		ret = mgmt_config_export_append(ctx->cfg, e);
	if (ret == 0)
		log_info("export %s: %s", e->name,
			 item->replace ? "re-created" : "added");
	return ret;
}

/*
 * The file's exports are the wanted state for every export that did not
 * come from the command line (those stay: the file does not describe
 * them).  New devices are opened first, so a file naming a device that
 * cannot be opened leaves everything as it was.
 */
static int mgmt_reload_apply(struct mgmt_ctx *ctx, struct mgmt_config *next,
			     json_t *added, json_t *removed, json_t *changed)
{
	struct mgmt_config *cur = ctx->cfg;
	struct mgmt_reload_item *it;
	unsigned int i, n = 0;
	int ret;

	for (i = 0; i < next->n_exports; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(next->exports[i].name,
				    next->exports[j].name)) {
				log_error("reload: export %s: defined twice",
					  next->exports[i].name);
				return -EINVAL;
			}
	it = calloc(next->n_exports + 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	for (i = 0; i < next->n_exports; i++) {
		struct mgmt_export *want = &next->exports[i];
		struct mgmt_export *have =
			mgmt_config_export_find(cur, want->name);
		struct connmgr_export_info info;

		if (have && (have->cli || mgmt_export_equal(have, want)))
			continue;
		if (have && mgmt_only_read_only_differs(have, want)) {
			connmgr_export_set_read_only(ctx->cm, want->name,
						     want->read_only ||
							     cur->read_only);
			have->read_only = want->read_only;
			json_array_append_new(changed, json_string(want->name));
			continue;
		}
		if (!have &&
		    connmgr_export_lookup(ctx->cm, want->name, &info) == 0) {
			log_error("reload: export %s: exists already",
				  want->name);
			ret = -EEXIST;
			goto out;
		}
		it[n].want = want;
		it[n++].replace = have != NULL;
	}
	/* 1. open */
	ret = mgmt_reload_open(ctx, it, n);
	if (ret < 0) {
		mgmt_reload_close(ctx, it, n);
		goto out;
	}
	/* 2. remove what went (from the file or the RPC) and the old
	 * versions of what changed */
	for (i = 0; i < cur->n_exports;) {
		struct mgmt_export *e = &cur->exports[i];
		struct mgmt_export *want =
			mgmt_config_export_find(next, e->name);
		bool replaced = false;
		char *name;

		for (unsigned int j = 0; j < n; j++)
			if (it[j].replace && !strcmp(it[j].want->name, e->name))
				replaced = true;
		if (e->cli || (want && !replaced)) {
			i++;
			continue;
		}
		name = strdup(e->name);
		if (!name) {
			ret = -ENOMEM;
			goto out;
		}
		mgmt_export_apply_remove(ctx, name);
		json_array_append_new(replaced ? changed : removed,
				      json_string(name));
		free(name);
	}
	/* 3. publish */
	for (i = 0; i < n; i++) {
		int r = mgmt_reload_attach(ctx, &it[i]);

		if (r < 0)
			ret = r;
		else if (!it[i].replace)
			json_array_append_new(added,
					      json_string(it[i].want->name));
	}
	if (ret == 0)
		ret = mgmt_reload_default(ctx, next->default_export);
out:
	free(it);
	return ret;
}

int mgmt_reload(struct mgmt_ctx *ctx, json_t **result, struct mgmt_error *err)
{
	struct mgmt_config next;
	json_t *added, *removed, *changed;
	int ret;

	if (!ctx->config_path)
		return mgmt_error_set(err, -ENOENT,
				      "iopd runs without --config: nothing to "
				      "reload");
	log_info("reloading %s", ctx->config_path);
	mgmt_config_init(&next);
	ret = mgmt_config_load_file(&next, ctx->config_path);
	if (ret < 0) {
		mgmt_config_fini(&next);
		if (!err->message[0])
			mgmt_error_set(err, ret, "cannot read %s",
				       ctx->config_path);
		return ret;
	}
	added = json_array();
	removed = json_array();
	changed = json_array();
	ret = mgmt_reload_apply(ctx, &next, added, removed, changed);
	if (ret == 0)
		mgmt_reload_settings(ctx, &next);
	mgmt_config_fini(&next);
	if (ret < 0) {
		json_decref(added);
		json_decref(removed);
		json_decref(changed);
		return ret;
	}
	log_info("reloaded %s: %zu added, %zu removed, %zu changed",
		 ctx->config_path, json_array_size(added),
		 json_array_size(removed), json_array_size(changed));
	*result = json_pack("{s:o, s:o, s:o}", "added", added, "removed",
			    removed, "changed", changed);
	return 0;
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
	  "SIGHUP); a file with an error changes nothing" },
	{ NULL },
};
