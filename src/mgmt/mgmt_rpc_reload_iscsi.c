// SPDX-License-Identifier: MIT
/*
 * Reload of the iSCSI settings: the file's targets, discovery CHAP and
 * NOP timing change in place (open sessions go on unless they would not
 * be admitted now); the portals and the IQN prefix, bound and named at
 * start-up, change at the next start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/remote.h"
#include "mgmt/mgmt_config_alua.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_rpc_reload.h"

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

static bool mgmt_reload_initiators_differ(const struct iscsi_target_cfg *h,
					  const struct iscsi_target_cfg *w)
{
	if (h->n_initiators != w->n_initiators)
		return true;
	for (unsigned int j = 0; j < w->n_initiators; j++)
		if (strcmp(h->initiators[j], w->initiators[j]))
			return true;
	return false;
}

static bool mgmt_reload_luns_differ(const struct iscsi_target_cfg *h,
				    const struct iscsi_target_cfg *w)
{
	if (h->n_luns != w->n_luns)
		return true;
	for (unsigned int j = 0; j < w->n_luns; j++)
		if (h->luns[j].lun != w->luns[j].lun ||
		    strcmp(h->luns[j].export, w->luns[j].export) ||
		    h->luns[j].read_only != w->luns[j].read_only ||
		    h->luns[j].block_size != w->luns[j].block_size)
			return true;
	return false;
}

/* A target in both: does it change in place?  With say, log what. */
static bool mgmt_reload_target_diff(const struct iscsi_target_cfg *h,
				    const struct iscsi_target_cfg *w, bool say)
{
	bool initiators = mgmt_reload_initiators_differ(h, w);
	bool luns = mgmt_reload_luns_differ(h, w);
	struct mgmt_reload_what what = { .n = 0 };

	mgmt_reload_what_add(&what, mgmt_reload_str_differ(h->alias, w->alias),
			     "alias");
	mgmt_reload_what_add(&what, initiators, "initiators");
	mgmt_reload_what_add(&what, mgmt_reload_chap_differ(&h->chap, &w->chap),
			     "chap");
	mgmt_reload_what_add(&what,
			     mgmt_reload_chap_differ(&h->mutual, &w->mutual),
			     "mutual_chap");
	mgmt_reload_what_add(&what, luns, "luns");
	if (what.n && say)
		log_info("iscsi target %s: %s changed in place%s", w->name,
			 what.s,
			 luns || initiators ? " (sessions it would no longer "
					      "admit end)"
					    : "");
	return what.n != 0;
}

/* The targets: added, changed, removed, and the switch between
 * configured targets and one per export. */
static bool mgmt_reload_targets_diff(const struct iscsi_config *have,
				     const struct iscsi_config *want, bool say)
{
	bool any = false;

	for (unsigned int i = 0; i < want->n_targets; i++) {
		const struct iscsi_target_cfg *w = &want->targets[i];
		const struct iscsi_target_cfg *h =
			mgmt_reload_target_find(have, w->name);

		if (!h) {
			if (say)
				log_info("iscsi target %s: added", w->name);
			any = true;
		} else if (mgmt_reload_target_diff(h, w, say)) {
			any = true;
		}
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
	return any;
}

/* Does anything differ between the running iSCSI settings and the
 * reloaded ones?  With say, log what. */
static bool mgmt_reload_iscsi_diff(const struct iscsi_config *have,
				   const struct iscsi_config *want, bool say)
{
	bool targets = mgmt_reload_targets_diff(have, want, say);
	struct mgmt_reload_what what = { .n = 0 };

	mgmt_reload_what_add(&what,
			     mgmt_reload_chap_differ(&have->discovery_chap,
						     &want->discovery_chap),
			     "discovery_chap");
	mgmt_reload_what_add(&what,
			     mgmt_reload_chap_differ(&have->discovery_mutual,
						     &want->discovery_mutual),
			     "discovery_mutual_chap");
	mgmt_reload_what_add(&what,
			     have->nop_interval_s != want->nop_interval_s,
			     "nop_interval");
	mgmt_reload_what_add(&what, have->nop_timeout_s != want->nop_timeout_s,
			     "nop_timeout");
	if (what.n && say)
		log_info("iscsi: %s changed in place", what.s);
	return targets || what.n;
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

/* The file's port_groups changed (a reload applies them in place). */
static bool mgmt_reload_port_groups_differ(const struct mgmt_iscsi *a,
					   const struct mgmt_iscsi *b)
{
	json_t *x = a->file_json ? json_object_get(a->file_json, "port_groups")
				 : NULL;
	json_t *y = b->file_json ? json_object_get(b->file_json, "port_groups")
				 : NULL;

	return (x || y) && !json_equal(x, y);
}

/* The running portals and IQN prefix go on into next: they were bound
 * and named at start-up and change at the next start. */
static int mgmt_reload_iscsi_keep_start(const struct mgmt_iscsi *have,
					struct mgmt_config *next)
{
	const char *prefix = have->cfg.iqn_prefix;
	struct mgmt_iscsi *want;
	int ret;

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
	if (mgmt_reload_port_groups_differ(have, want) &&
	    (ret = mgmt_alua_check(want->alua)) < 0)
		return ret;
	if (!mgmt_reload_str_differ(prefix, want->cfg.iqn_prefix))
		return 0;
	if (!have->file_json ||
	    mgmt_reload_str_differ(json_string_value(json_object_get(
					   have->file_json, "iqn_prefix")),
				   want->cfg.iqn_prefix))
		log_warn("reload: iscsi.iqn_prefix takes effect at the next "
			 "start");
	free((char *)want->cfg.iqn_prefix);
	want->cfg.iqn_prefix = NULL;
	if (prefix && (ret = mgmt_iscsi_set_iqn_prefix(next, prefix)) < 0)
		return ret;
	return 0;
}

/* The targets of --iscsi-target go on into next, as the spec they came
 * from: IQN=EXPORT,... mapped LUNs 0, 1, ... in order. */
static int mgmt_reload_iscsi_cli_targets(const struct mgmt_iscsi *have,
					 struct mgmt_config *next)
{
	int ret;

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
	return 0;
}

/* Every LUN names an export the reload keeps or adds: one of the file's,
 * or a running one from the command line. */
static int mgmt_reload_iscsi_luns_check(struct mgmt_ctx *ctx,
					struct mgmt_config *next)
{
	const struct mgmt_iscsi *want = next->iscsi;

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
	return 0;
}

/*
 * next's iSCSI settings become what will run if they are applied -- the
 * file's targets, discovery CHAP and NOP timing; the running portals and
 * IQN prefix; the targets of --iscsi-target -- and every LUN must name
 * an export the reload keeps or adds.
 */
int mgmt_reload_iscsi_prepare(struct mgmt_ctx *ctx, struct mgmt_config *next,
			      bool *apply)
{
	const struct mgmt_iscsi *have = mgmt_iscsi_get(ctx->cfg);
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
	ret = mgmt_reload_iscsi_keep_start(have, next);
	if (ret == 0)
		ret = mgmt_reload_iscsi_cli_targets(have, next);
	if (ret == 0)
		ret = mgmt_reload_iscsi_luns_check(ctx, next);
	if (ret < 0)
		return ret;
	*apply = mgmt_reload_iscsi_diff(&have->cfg, &next->iscsi->cfg, false);
	return 0;
}

/*
 * A changed iscsi.port_groups, in place (scsi_alua_reconfigure): before
 * mgmt_reload_iscsi_apply, which may free the running settings.  keep:
 * the running settings stay (nothing else of iSCSI changed), so they
 * take the new groups for the next reload to compare with.
 */
int mgmt_reload_alua_apply(struct mgmt_ctx *ctx, struct mgmt_config *next,
			   bool keep)
{
	struct mgmt_iscsi *have = ctx->cfg->iscsi, *want = next->iscsi;
	struct mgmt_alua *swap;
	json_t *groups;
	int ret;

	if (!have || !want || !mgmt_reload_port_groups_differ(have, want))
		return 0;
	ret = mgmt_alua_reload(have->alua, want->alua);
	if (ret < 0 || !keep)
		return ret;
	swap = have->alua;
	have->alua = want->alua;
	want->alua = swap;
	groups = want->file_json
			 ? json_object_get(want->file_json, "port_groups")
			 : NULL;
	if (!have->file_json && groups)
		have->file_json = json_object();
	if (groups)
		json_object_set(have->file_json, "port_groups", groups);
	else if (have->file_json)
		json_object_del(have->file_json, "port_groups");
	log_info("reload: iscsi.port_groups changed in place");
	return 0;
}

/* Hand the new iSCSI settings to the transport: new logins use them, and
 * open sessions go on unless they would not be admitted now. */
int mgmt_reload_iscsi_apply(struct mgmt_ctx *ctx, struct mgmt_config *next)
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
