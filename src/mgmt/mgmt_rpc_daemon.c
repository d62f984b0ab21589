// SPDX-License-Identifier: MIT
/*
 * Management methods for the daemon itself: version, the method list,
 * log level, the running configuration, save-config, and reload (also
 * what SIGHUP does): read the config file again and apply the
 * difference -- remove the exports it no longer has, re-create those
 * whose backing device changed, change the other attributes in place
 * with their clients connected, add the new ones -- so that a broken file
 * changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_log.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_path.h"
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

static int mgmt_daemon_version(struct mgmt_ctx *ctx, json_t *params,
			       json_t **result, struct mgmt_error *err)
{
	*result = json_pack("{s:s, s:s, s:i, s:o}", "name", "iopd", "version",
			    ctx->version, "pid", (int)getpid(), "transports",
			    mgmt_daemon_transports());
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

/* Reload ------------------------------------------------------------------ */

/*
 * What a reload does to an export that is in the running configuration
 * and in the file: nothing when they are equal; re-create it when its
 * backing device differs (ddm, path, size, DDM options, iop/device:
 * anything but what follows); otherwise change in place, clients staying
 * connected:
 *   - description: handshakes and listings from now on show the new one;
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
	return mgmt_export_equal(have, &c);
}

static bool mgmt_reload_str_differ(const char *a, const char *b)
{
	return !(a == b || (a && b && !strcmp(a, b)));
}

/* "path, size changed", for the log line of a re-created export. */
static void mgmt_reload_device_diff(const struct mgmt_export *have,
				    const struct mgmt_export *want, char *buf,
				    size_t len)
{
	size_t n = 0;

	buf[0] = 0;
#define MGMT_RELOAD_DIFF(cond, what)                                           \
	do {                                                                   \
		if ((cond) && n < len)                                         \
			n += (size_t)snprintf(buf + n, len - n, "%s%s",        \
					      n ? ", " : "", what);            \
	} while (0)
	MGMT_RELOAD_DIFF(mgmt_reload_str_differ(have->ddm, want->ddm), "ddm");
	MGMT_RELOAD_DIFF(mgmt_reload_str_differ(have->path, want->path),
			 "path");
	MGMT_RELOAD_DIFF(have->size_bytes != want->size_bytes, "size");
	MGMT_RELOAD_DIFF(mgmt_reload_str_differ(have->iop, want->iop), "iop");
	MGMT_RELOAD_DIFF(mgmt_reload_str_differ(have->device, want->device),
			 "device");
#undef MGMT_RELOAD_DIFF
	if (!buf[0])
		snprintf(buf, len, "options");
}

static void mgmt_reload_settings(struct mgmt_ctx *ctx, struct mgmt_config *next)
{
	char later[256];

	if (next->log_level != ctx->cfg->log_level) {
		base_log_set_level(next->log_level);
		ctx->cfg->log_level = next->log_level;
	}
	if (!ctx->cfg->list_hidden_cli &&
	    next->list_hidden != ctx->cfg->list_hidden &&
	    connmgr_list_hidden_set(ctx->cm, next->list_hidden) == 0)
		ctx->cfg->list_hidden = next->list_hidden;
	mgmt_path_take_allowed(ctx->cfg, next);
	mgmt_opts_restart_diff(ctx->cfg, next, later, sizeof(later));
	if (later[0])
		log_warn("reload: %s: takes effect at the next start", later);
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

/* iSCSI ------------------------------------------------------------------- */

static bool mgmt_reload_chap_differ(const struct iscsi_chap *a,
				    const struct iscsi_chap *b)
{
	return mgmt_reload_str_differ(a->user, b->user) ||
	       mgmt_reload_str_differ(a->secret, b->secret);
}

static const struct iscsi_target_cfg *
mgmt_reload_target_find(const struct iscsi_config *c, const char *name)
{
	for (unsigned int i = 0; i < c->n_targets; i++)
		if (!strcmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

/* Does anything differ between the running iSCSI settings and the
 * reloaded ones?  With say, log what. */
static bool mgmt_reload_iscsi_diff(const struct iscsi_config *have,
				   const struct iscsi_config *want, bool say)
{
	bool any = false;
	char what[128];
	size_t n;

#define MGMT_RELOAD_WHAT(cond, text)                                           \
	do {                                                                   \
		if ((cond) && n < sizeof(what))                                \
			n += (size_t)snprintf(what + n, sizeof(what) - n,      \
					      "%s%s", n ? ", " : "", text);    \
	} while (0)
	for (unsigned int i = 0; i < want->n_targets; i++) {
		const struct iscsi_target_cfg *w = &want->targets[i];
		const struct iscsi_target_cfg *h =
			mgmt_reload_target_find(have, w->name);
		bool initiators, luns;

		if (!h) {
			if (say)
				log_info("iscsi target %s: added", w->name);
			any = true;
			continue;
		}
		initiators = h->n_initiators != w->n_initiators;
		for (unsigned int j = 0; !initiators && j < w->n_initiators;
		     j++)
			initiators = strcmp(h->initiators[j], w->initiators[j]);
		luns = h->n_luns != w->n_luns;
		for (unsigned int j = 0; !luns && j < w->n_luns; j++)
			luns = h->luns[j].lun != w->luns[j].lun ||
			       strcmp(h->luns[j].export, w->luns[j].export) ||
			       h->luns[j].read_only != w->luns[j].read_only ||
			       h->luns[j].block_size != w->luns[j].block_size;
		n = 0;
		what[0] = 0;
		MGMT_RELOAD_WHAT(mgmt_reload_str_differ(h->alias, w->alias),
				 "alias");
		MGMT_RELOAD_WHAT(initiators, "initiators");
		MGMT_RELOAD_WHAT(mgmt_reload_chap_differ(&h->chap, &w->chap),
				 "chap");
		MGMT_RELOAD_WHAT(
			mgmt_reload_chap_differ(&h->mutual, &w->mutual),
			"mutual_chap");
		MGMT_RELOAD_WHAT(luns, "luns");
		if (n && say) {
			log_info("iscsi target %s: %s changed in place%s",
				 w->name, what,
				 luns || initiators
					 ? " (sessions it would no longer "
					   "admit end)"
					 : "");
		}
		any = any || n;
	}
	for (unsigned int i = 0; i < have->n_targets; i++) {
		if (!mgmt_reload_target_find(want, have->targets[i].name)) {
			if (say)
				log_info("iscsi target %s: removed (its "
					 "sessions end)",
					 have->targets[i].name);
			any = true;
		}
	}
	if (!have->n_targets != !want->n_targets) {
		if (say)
			log_info("iscsi: %s",
				 want->n_targets
					 ? "targets configured: the "
					   "per-export targets are gone"
					 : "no targets configured: each "
					   "export is a target again");
		any = true;
	}
	n = 0;
	what[0] = 0;
	MGMT_RELOAD_WHAT(mgmt_reload_chap_differ(&have->discovery_chap,
						 &want->discovery_chap),
			 "discovery_chap");
	MGMT_RELOAD_WHAT(mgmt_reload_chap_differ(&have->discovery_mutual,
						 &want->discovery_mutual),
			 "discovery_mutual_chap");
	MGMT_RELOAD_WHAT(have->nop_interval_s != want->nop_interval_s,
			 "nop_interval");
	MGMT_RELOAD_WHAT(have->nop_timeout_s != want->nop_timeout_s,
			 "nop_timeout");
#undef MGMT_RELOAD_WHAT
	if (n && say)
		log_info("iscsi: %s changed in place", what);
	return any || n;
}

static bool mgmt_reload_listen_differ(const struct mgmt_iscsi *a,
				      const struct mgmt_iscsi *b)
{
	if (!b || a->n_listen != b->n_listen)
		return true;
	for (unsigned int i = 0; i < a->n_listen; i++)
		if (strcmp(a->listen[i], b->listen[i]))
			return true;
	return false;
}

/*
 * Before anything changes: make next's iSCSI settings what will run if
 * they are applied -- the file's targets, discovery CHAP and NOP timing;
 * the running portals and IQN prefix (bound and named at start-up: they
 * change at the next start); the targets of --iscsi-target -- and check
 * that every LUN names an export the reload keeps or adds.  *apply: the
 * result differs from what runs.  Returns 0 or -errno after logging.
 */
static int mgmt_reload_iscsi_prepare(struct mgmt_ctx *ctx,
				     struct mgmt_config *next, bool *apply)
{
	const struct mgmt_config *cur = ctx->cfg;
	const struct mgmt_iscsi *have = mgmt_iscsi_get(cur);
	struct mgmt_iscsi *want;
	const char *prefix;
	int ret;

	*apply = false;
	if (mgmt_iscsi_get(next) && !remote_transport_find("iscsi")) {
		log_error("reload: iscsi.listen needs the iscsi transport, "
			  "which this iopd was built without");
		return -EPROTONOSUPPORT;
	}
	if (!have) {
		if (mgmt_iscsi_get(next))
			log_warn("reload: iSCSI (iscsi.listen) starts at the "
				 "next start");
		return 0;
	}
	if (!have->cli_listen && mgmt_reload_listen_differ(have, next->iscsi))
		log_warn("reload: iscsi.listen takes effect at the next "
			 "start");
	for (unsigned int i = 0; i < have->n_listen; i++) {
		ret = mgmt_iscsi_add_cli_listen(next, have->listen[i]);
		if (ret < 0)
			return ret;
	}
	want = next->iscsi;
	want->cli_listen = have->cli_listen;
	prefix = have->cfg.iqn_prefix;
	if (mgmt_reload_str_differ(prefix, want->cfg.iqn_prefix)) {
		if (!have->file_json ||
		    mgmt_reload_str_differ(
			    json_string_value(json_object_get(have->file_json,
							      "iqn_prefix")),
			    want->cfg.iqn_prefix))
			log_warn("reload: iscsi.iqn_prefix takes effect at "
				 "the next start");
		free((char *)want->cfg.iqn_prefix);
		want->cfg.iqn_prefix = NULL;
		if (prefix &&
		    (ret = mgmt_iscsi_set_iqn_prefix(next, prefix)) < 0)
			return ret;
	}
	/* --iscsi-target: IQN=EXPORT,... mapped LUNs 0, 1, ... in order. */
	for (unsigned int i = have->n_file_targets; i < have->cfg.n_targets;
	     i++) {
		const struct iscsi_target_cfg *t = &have->targets[i];
		size_t len = strlen(t->name) + 2;
		char *spec;

		for (unsigned int j = 0; j < t->n_luns; j++)
			len += strlen(t->luns[j].export) + 1;
		spec = malloc(len);
		if (!spec)
			return -ENOMEM;
		strcpy(spec, t->name);
		for (unsigned int j = 0; j < t->n_luns; j++) {
			strcat(spec, j ? "," : "=");
			strcat(spec, t->luns[j].export);
		}
		ret = mgmt_iscsi_add_target_spec(next, spec);
		free(spec);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < want->cfg.n_targets; i++) {
		const struct iscsi_target_cfg *t = &want->targets[i];

		for (unsigned int j = 0; j < t->n_luns; j++) {
			const char *name = t->luns[j].export;
			const struct mgmt_export *e;

			e = mgmt_config_export_find(next, name);
			if (!e) {
				e = mgmt_config_export_find(ctx->cfg, name);
				if (e && !e->cli)
					e = NULL;
			}
			if (!e) {
				log_error("reload: iscsi target %s LUN %llu: "
					  "no export named \"%s\"",
					  t->name,
					  (unsigned long long)t->luns[j].lun,
					  name);
				return -EINVAL;
			}
		}
	}
	*apply = mgmt_reload_iscsi_diff(&have->cfg, &want->cfg, false);
	return 0;
}

/* Hand the new iSCSI settings to the transport: new logins use them, and
 * open sessions go on unless they would not be admitted now. */
static int mgmt_reload_iscsi_apply(struct mgmt_ctx *ctx,
				   struct mgmt_config *next)
{
	struct mgmt_iscsi *old = ctx->cfg->iscsi, *neu = next->iscsi;
	int ret;

	mgmt_reload_iscsi_diff(&old->cfg, &neu->cfg, true);
	ret = connmgr_transport_ctx_replace(ctx->cm, &old->cfg, &neu->cfg);
	if (ret == -ENOTSUP)
		return ret;
	/* The listeners have the new settings now. */
	ctx->cfg->iscsi = neu;
	next->iscsi = NULL;
	if (ret < 0) {
		/* Connections may still read the old ones: keep them. */
		log_warn("reload: iSCSI sessions could not all be given the "
			 "new settings: %s",
			 strerror(-ret));
		return ret;
	}
	mgmt_iscsi_free(old);
	if (ret > 0)
		log_info("reload: %d iSCSI connections it would no longer "
			 "admit were asked to end",
			 ret);
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
	char why[64]; /* replace: what changed */
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
	if (!mgmt_access_equal(have, want)) {
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

/*
 * The file's exports are the wanted state for every export that did not
 * come from the command line (those stay: the file does not describe
 * them).  New devices are opened first, so a file naming a device that
 * cannot be opened leaves everything as it was; attributes that change
 * in place change after that.
 */
static int mgmt_reload_apply(struct mgmt_ctx *ctx, struct mgmt_config *next,
			     json_t *added, json_t *removed, json_t *changed,
			     json_t *updated, bool *iscsi_updated)
{
	struct mgmt_config *cur = ctx->cfg;
	struct mgmt_reload_item *it, *up;
	unsigned int i, n = 0, n_up = 0;
	bool iscsi = false;
	int ret;

	for (i = 0; i < next->n_exports; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(next->exports[i].name,
				    next->exports[j].name)) {
				log_error("reload: export %s: defined twice",
					  next->exports[i].name);
				return -EINVAL;
			}
	ret = mgmt_reload_iscsi_prepare(ctx, next, &iscsi);
	if (ret < 0)
		return ret;
	it = calloc(2 * next->n_exports + 1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	up = it + next->n_exports;
	for (i = 0; i < next->n_exports; i++) {
		struct mgmt_export *want = &next->exports[i];
		struct mgmt_reload_item item;
		bool skip;

		ret = mgmt_reload_classify(
			ctx, want, mgmt_config_export_find(cur, want->name),
			&item, &skip);
		if (ret < 0)
			goto out;
		if (skip)
			continue;
		if (item.have && !item.replace)
			up[n_up++] = item;
		else
			it[n++] = item;
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
	/* 4. in place */
	for (i = 0; i < n_up; i++) {
		int r;

		/* Removals above may have moved it in the array. */
		up[i].have = mgmt_config_export_find(cur, up[i].want->name);
		r = up[i].have ? mgmt_reload_update(ctx, &up[i]) : -ENOENT;
		if (r < 0)
			ret = r;
		else
			json_array_append_new(updated,
					      json_string(up[i].want->name));
	}
	if (ret == 0)
		ret = mgmt_reload_default(ctx, next->default_export);
	if (ret == 0 && iscsi) {
		ret = mgmt_reload_iscsi_apply(ctx, next);
		*iscsi_updated = ret == 0;
	}
out:
	free(it);
	return ret;
}

int mgmt_reload(struct mgmt_ctx *ctx, json_t **result, struct mgmt_error *err)
{
	struct mgmt_config next;
	json_t *added, *removed, *changed, *updated;
	bool iscsi = false;
	int ret;

	if (!ctx->config_path)
		return mgmt_error_set(err, -ENOENT,
				      "iopd runs without --config: nothing to "
				      "reload");
	log_info("reloading %s", ctx->config_path);
	mgmt_config_init(&next);
	ret = mgmt_config_load_file(&next, ctx->config_path);
	if (ret == 0)
		ret = mgmt_path_check_config(&next);
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
	updated = json_array();
	ret = mgmt_reload_apply(ctx, &next, added, removed, changed, updated,
				&iscsi);
	if (ret == 0)
		mgmt_reload_settings(ctx, &next);
	mgmt_config_fini(&next);
	if (ret < 0) {
		json_decref(added);
		json_decref(removed);
		json_decref(changed);
		json_decref(updated);
		return ret;
	}
	log_info("reloaded %s: %zu added, %zu removed, %zu re-created, %zu "
		 "changed in place",
		 ctx->config_path, json_array_size(added),
		 json_array_size(removed), json_array_size(changed),
		 json_array_size(updated));
	*result = json_pack("{s:o, s:o, s:o, s:o, s:b}", "added", added,
			    "removed", removed, "changed", changed, "updated",
			    updated, "iscsi_updated", iscsi);
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
	  "SIGHUP): a changed device re-creates its export, other changes "
	  "apply in place with clients connected; a file with an error "
	  "changes nothing" },
	{ NULL },
};
