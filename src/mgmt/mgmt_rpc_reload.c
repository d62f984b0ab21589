// SPDX-License-Identifier: MIT
/*
 * Reload (daemon.reload, and what SIGHUP does): read the config file
 * again and apply the difference -- remove the exports it no longer has,
 * re-create those whose backing device changed, change the other
 * attributes in place with their clients connected, add the new ones --
 * so that a broken file changes nothing.  The iSCSI settings are
 * mgmt_rpc_reload_iscsi.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_path.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_priv.h"
#include "mgmt/mgmt_rpc_reload.h"
#include "mgmt/mgmt_schema.h"

/*
 * What a reload does to an export that is in the running configuration
 * and in the file: nothing when they are equal; re-create it when its
 * backing device differs (ddm, path, size, DDM options, iop/device:
 * anything but what follows); otherwise change in place, clients staying
 * connected:
 *   - description: handshakes and listings from now on show the new one;
 *   - protocols, allow/deny and the TLS keys (tls, tls_dn_allow,
 *     tls_psk_allow): new sessions get the new rules, and open ones that
 *     they refuse are asked to end (mgmt_export_apply_access);
 *   - read_only on: new sessions are read-only, and the export's open
 *     connections are asked to end (requests in flight finish), so that
 *     no write is accepted after the operator forbade them; clients that
 *     reconnect get the read-only export;
 *   - read_only off: new sessions are writable; open ones stay read-only
 *     until they reconnect (nothing is lost by waiting).  A device of its
 *     own that was opened read-only must be reopened: re-created.
 * Which export is the default is changed in place too, and so is the iSCSI
 * configuration (mgmt_reload_iscsi_*).
 */

/* Effective read-only: the export's own flag or --read-only. */
static bool mgmt_reload_ro(const struct mgmt_config *cfg,
			   const struct mgmt_export *e)
{
	return e->read_only || cfg->read_only;
}

/* Same backing device and options: only in-place attributes differ. */
static bool mgmt_reload_same_device(const struct mgmt_export *have,
				    const struct mgmt_export *want)
{
	struct mgmt_export c = *want; /* shallow: only compared */

	c.description = have->description;
	c.read_only = have->read_only;
	c.protocols = have->protocols;
	c.acl = have->acl;
	c.tls_required = have->tls_required;
	c.tls_dn_allow = have->tls_dn_allow;
	c.tls_psk_allow = have->tls_psk_allow;
	return mgmt_export_equal(have, &c);
}

void mgmt_reload_what_add(struct mgmt_reload_what *w, bool cond,
			  const char *text)
{
	if (cond && w->n < sizeof(w->s))
		w->n += (size_t)snprintf(w->s + w->n, sizeof(w->s) - w->n,
					 "%s%s", w->n ? ", " : "", text);
}

/* "path, size changed", for the log line of a re-created export. */
static void mgmt_reload_device_diff(const struct mgmt_export *have,
				    const struct mgmt_export *want, char *buf,
				    size_t len)
{
	struct mgmt_reload_what w = { .n = 0 };

	mgmt_reload_what_add(&w, mgmt_reload_str_differ(have->ddm, want->ddm),
			     "ddm");
	mgmt_reload_what_add(&w, mgmt_reload_str_differ(have->path, want->path),
			     "path");
	mgmt_reload_what_add(&w, have->size_bytes != want->size_bytes, "size");
	mgmt_reload_what_add(&w, mgmt_reload_str_differ(have->iop, want->iop),
			     "iop");
	mgmt_reload_what_add(&w,
			     mgmt_reload_str_differ(have->device, want->device),
			     "device");
	snprintf(buf, len, "%s", w.n ? w.s : "options");
}

static void mgmt_reload_settings(struct mgmt_ctx *ctx, struct mgmt_config *next)
{
	char later[256], kept[256];

	if (next->log_level != ctx->cfg->log_level) {
		base_log_set_level(next->log_level);
		ctx->cfg->log_level = next->log_level;
	}
	if (!ctx->cfg->list_hidden_cli &&
	    next->list_hidden != ctx->cfg->list_hidden &&
	    connmgr_list_hidden_set(ctx->cm, next->list_hidden) == 0)
		ctx->cfg->list_hidden = next->list_hidden;
	mgmt_path_take_allowed(ctx->cfg, next);
	/* Only what the file changes: a setting the command line gave is
	 * not the file's, and differs from the file's default. */
	mgmt_opts_restart_diff(ctx->cfg, next, later, kept, sizeof(later));
	if (later[0])
		log_warn("reload: %s: takes effect at the next start", later);
	if (kept[0])
		log_info("reload: %s: the command line's value stays", kept);
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
	log_info("default export: %s (changed in place)",
		 name ? name : "the first export");
	return 0;
}

/* Exports ----------------------------------------------------------------- */

/* What a reload does to one export of the file. */
struct mgmt_reload_item {
	struct mgmt_export *want;
	struct mgmt_export *have; /* in place, or replace */
	bool replace;		  /* it exists with another device: re-create */
	bool iop_open; /* its new IOP is open (under tmp_name if replace) */
	char tmp_name[64];
	char why[128]; /* replace: what changed */
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
	if (ret == 0 && item->replace)
		log_info("export %s: re-created (%s changed)", e->name,
			 item->why);
	else if (ret == 0)
		log_info("export %s: added", e->name);
	return ret;
}

/* Phase 4: the attributes that change in place (see the top). */
static int mgmt_reload_update(struct mgmt_ctx *ctx,
			      const struct mgmt_reload_item *item)
{
	struct mgmt_export *have = item->have, *want = item->want;
	bool ro = mgmt_reload_ro(ctx->cfg, want);
	bool was_ro = mgmt_reload_ro(ctx->cfg, have);
	char *desc = NULL;
	int ret;

	if (mgmt_reload_str_differ(have->description, want->description)) {
		if (want->description && !(desc = strdup(want->description)))
			return -ENOMEM;
		ret = connmgr_export_set_description(ctx->cm, want->name,
						     want->description);
		if (ret < 0) {
			free(desc);
			return ret;
		}
		free(have->description);
		have->description = desc;
		log_info("export %s: description changed in place", want->name);
	}
	if (!mgmt_access_equal(have, want) ||
	    !mgmt_export_tls_equal(have, want)) {
		ret = mgmt_export_apply_access(ctx, have, want);
		if (ret < 0)
			return ret;
		log_info("export %s: access changed in place; %d clients "
			 "disconnected",
			 want->name, ret);
	}
	if (have->read_only != want->read_only) {
		have->read_only = want->read_only;
		if (ro == was_ro) {
			log_info("export %s: read_only changed in place (no "
				 "effect: --read-only)",
				 want->name);
			return 0;
		}
		ret = connmgr_export_set_read_only(ctx->cm, want->name, ro);
		if (ret < 0)
			return ret;
		if (ro) {
			/* Writes must stop now, not at the clients' next
			 * connection. */
			ret = connmgr_export_kick(ctx->cm, want->name);
			if (ret < 0)
				return ret;
			log_info("export %s: read_only changed in place: its "
				 "%d connections were asked to reconnect, "
				 "read-only",
				 want->name, ret);
		} else {
			log_info("export %s: read_only changed in place: "
				 "writable for new sessions, open ones stay "
				 "read-only until they reconnect",
				 want->name);
		}
	}
	return 0;
}

/* Sort the file's export want against the running one have. */
static int mgmt_reload_classify(struct mgmt_ctx *ctx, struct mgmt_export *want,
				struct mgmt_export *have,
				struct mgmt_reload_item *item, bool *skip)
{
	struct connmgr_export_info info;

	*skip = false;
	memset(item, 0, sizeof(*item));
	item->want = want;
	item->have = have;
	if (!have) {
		if (connmgr_export_lookup(ctx->cm, want->name, &info) == 0) {
			log_error("reload: export %s: exists already",
				  want->name);
			return -EEXIST;
		}
		return 0;
	}
	if (have->cli || mgmt_export_equal(have, want)) {
		*skip = true;
		return 0;
	}
	if (!mgmt_reload_same_device(have, want)) {
		item->replace = true;
		mgmt_reload_device_diff(have, want, item->why,
					sizeof(item->why));
		return 0;
	}
	/* A device of its own opened read-only: writable means reopened. */
	if (have->ddm && !mgmt_reload_ro(ctx->cfg, want) &&
	    connmgr_export_lookup(ctx->cm, want->name, &info) == 0) {
		struct local_dev_info dev = { .read_only = false };

		local_iop_dev_info(info.desc->ctx, info.dev_index, &dev);
		if (dev.read_only) {
			item->replace = true;
			snprintf(item->why, sizeof(item->why),
				 "read_only (its device was opened read-only)");
		}
	}
	return 0;
}

/* Read the config file into next (initialised here; finished here on
 * error). */
static int mgmt_reload_file(struct mgmt_ctx *ctx, struct mgmt_config *next,
			    struct mgmt_error *err)
{
	int ret;

	log_info("reloading %s", ctx->config_path);
	mgmt_config_init(next);
	ret = mgmt_config_load_file(next, ctx->config_path);
	if (ret == 0)
		ret = mgmt_path_check_config(next);
	if (ret < 0) {
		mgmt_config_fini(next);
		if (!err->message[0])
			mgmt_error_set(err, ret, "cannot read %s",
				       ctx->config_path);
	}
	return ret;
}

/* What a reload did, for its result and its log line. */
struct mgmt_reload_result {
	json_t *added, *removed, *changed, *updated; /* export names */
	bool iscsi_updated;
};

static int mgmt_reload_names_check(const struct mgmt_config *next)
{
	for (unsigned int i = 0; i < next->n_exports; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(next->exports[i].name,
				    next->exports[j].name)) {
				log_error("reload: export %s: defined twice",
					  next->exports[i].name);
				return -EINVAL;
			}
	return 0;
}

/* Sort the file's exports into it[0..*n) (new or re-created) and
 * up[0..*n_up) (changed in place). */
static int mgmt_reload_plan(struct mgmt_ctx *ctx, struct mgmt_config *next,
			    struct mgmt_reload_item *it, unsigned int *n,
			    struct mgmt_reload_item *up, unsigned int *n_up)
{
	for (unsigned int i = 0; i < next->n_exports; i++) {
		struct mgmt_export *want = &next->exports[i];
		struct mgmt_reload_item item;
		bool skip;
		int ret;

		ret = mgmt_reload_classify(
			ctx, want,
			mgmt_config_export_find(ctx->cfg, want->name), &item,
			&skip);
		if (ret < 0)
			return ret;
		if (skip)
			continue;
		if (item.have && !item.replace)
			up[(*n_up)++] = item;
		else
			it[(*n)++] = item;
	}
	return 0;
}

/* Phase 2: remove what went (from the file or the RPC) and the old
 * versions of what changed. */
static int mgmt_reload_remove(struct mgmt_ctx *ctx, struct mgmt_config *next,
			      const struct mgmt_reload_item *it, unsigned int n,
			      struct mgmt_reload_result *r)
{
	struct mgmt_config *cur = ctx->cfg;

	for (unsigned int i = 0; i < cur->n_exports;) {
		struct mgmt_export *e = &cur->exports[i];
		bool want = mgmt_config_export_find(next, e->name) != NULL;
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
		if (!name)
			return -ENOMEM;
		mgmt_export_apply_remove(ctx, name);
		json_array_append_new(replaced ? r->changed : r->removed,
				      json_string(name));
		free(name);
	}
	return 0;
}

/* Phases 3 and 4: publish the new and re-created exports, then change
 * the others in place.  Returns 0 or the last error (each is tried). */
static int mgmt_reload_publish(struct mgmt_ctx *ctx,
			       struct mgmt_reload_item *it, unsigned int n,
			       struct mgmt_reload_item *up, unsigned int n_up,
			       struct mgmt_reload_result *r)
{
	int ret = 0, e;

	for (unsigned int i = 0; i < n; i++) {
		e = mgmt_reload_attach(ctx, &it[i]);
		if (e < 0)
			ret = e;
		else if (!it[i].replace)
			json_array_append_new(r->added,
					      json_string(it[i].want->name));
	}
	for (unsigned int i = 0; i < n_up; i++) {
		/* Removals may have moved it in the array. */
		up[i].have =
			mgmt_config_export_find(ctx->cfg, up[i].want->name);
		e = up[i].have ? mgmt_reload_update(ctx, &up[i]) : -ENOENT;
		if (e < 0)
			ret = e;
		else
			json_array_append_new(r->updated,
					      json_string(up[i].want->name));
	}
	return ret;
}

/*
 * The file's exports are the wanted state for every export that did not
 * come from the command line (those stay: the file does not describe
 * them).  New devices are opened first, so a file naming a device that
 * cannot be opened leaves everything as it was; attributes that change
 * in place change after that.
 */
static int mgmt_reload_apply(struct mgmt_ctx *ctx, struct mgmt_config *next,
			     struct mgmt_reload_result *r)
{
	struct mgmt_reload_item *it, *up;
	unsigned int n = 0, n_up = 0;
	bool iscsi = false;
	int ret;

	ret = mgmt_reload_names_check(next);
	if (ret == 0)
		ret = mgmt_reload_iscsi_prepare(ctx, next, &iscsi);
	if (ret < 0)
		return ret;
	it = calloc(2 * next->n_exports + 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	up = it + next->n_exports;
	ret = mgmt_reload_plan(ctx, next, it, &n, up, &n_up);
	if (ret < 0)
		goto out;
	/* 1. open */
	ret = mgmt_reload_open(ctx, it, n);
	if (ret < 0) {
		mgmt_reload_close(ctx, it, n);
		goto out;
	}
	/* 2. remove; 3. publish; 4. in place */
	ret = mgmt_reload_remove(ctx, next, it, n, r);
	if (ret < 0)
		goto out;
	ret = mgmt_reload_publish(ctx, it, n, up, n_up, r);
	if (ret == 0)
		ret = mgmt_reload_default(ctx, next->default_export);
	if (ret == 0)
		ret = mgmt_reload_alua_apply(ctx, next, !iscsi);
	if (ret == 0 && iscsi) {
		ret = mgmt_reload_iscsi_apply(ctx, next);
		r->iscsi_updated = ret == 0;
	}
out:
	free(it);
	return ret;
}

int mgmt_reload(struct mgmt_ctx *ctx, json_t **result, struct mgmt_error *err)
{
	struct mgmt_config next;
	struct mgmt_reload_result r = {
		.added = json_array(),
		.removed = json_array(),
		.changed = json_array(),
		.updated = json_array(),
	};
	int ret;

	if (!ctx->config_path)
		ret = mgmt_error_set(err, -ENOENT,
				     "iopd runs without --config: nothing to "
				     "reload");
	else
		ret = mgmt_reload_file(ctx, &next, err);
	if (ret == 0) {
		ret = mgmt_reload_apply(ctx, &next, &r);
		if (ret == 0)
			mgmt_reload_settings(ctx, &next);
		mgmt_config_fini(&next);
	}
	if (ret < 0) {
		json_decref(r.added);
		json_decref(r.removed);
		json_decref(r.changed);
		json_decref(r.updated);
		return ret;
	}
	log_info("reloaded %s: %zu added, %zu removed, %zu re-created, %zu "
		 "changed in place",
		 ctx->config_path, json_array_size(r.added),
		 json_array_size(r.removed), json_array_size(r.changed),
		 json_array_size(r.updated));
	*result =
		json_pack("{s:o, s:o, s:o, s:o, s:b}", "added", r.added,
			  "removed", r.removed, "changed", r.changed, "updated",
			  r.updated, "iscsi_updated", r.iscsi_updated);
	return 0;
}
