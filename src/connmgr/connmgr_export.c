// SPDX-License-Identifier: MIT
/*
 * IOP descriptors and the export table.  One descriptor per IOP (the
 * Local Transport's function table plus its context); each export names a
 * device in one IOP.  Remote Transports see the table through struct
 * conn_exports only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "connmgr/connmgr_priv.h"

static const struct conn_export *connmgr_export_find(void *opaque,
						     const char *name)
{
	struct connmgr *cm = opaque;

	if (cm->n_exports == 0)
		return NULL;
	if (!name[0])
		return &cm->exports[cm->default_export];
	for (unsigned int i = 0; i < cm->n_exports; i++)
		if (!strcmp(cm->exports[i].name, name))
			return &cm->exports[i];
	return NULL;
}

static unsigned int connmgr_export_count(void *opaque)
{
	return ((struct connmgr *)opaque)->n_exports;
}

static const struct conn_export *connmgr_export_at(void *opaque, unsigned int i)
{
	struct connmgr *cm = opaque;

	return i < cm->n_exports ? &cm->exports[i] : NULL;
}

static struct iop_desc *connmgr_desc_find(struct connmgr *cm, const char *name)
{
	for (unsigned int i = 0; i < cm->n_descs; i++)
		if (!strcmp(cm->descs[i].name, name))
			return &cm->descs[i];
	return NULL;
}

static int connmgr_export_add(struct connmgr *cm,
			      const struct connmgr_export_spec *spec)
{
	struct conn_export *exp = &cm->exports[cm->n_exports];
	struct iop_desc *desc;
	int dev;

	if (!spec->name[0] || strlen(spec->name) > 4096) {
		log_error("export \"%s\": a name must have 1 to 4096 bytes",
			  spec->name);
		return -EINVAL;
	}
	if (connmgr_export_find(cm, spec->name)) {
		log_error("export %s: defined twice", spec->name);
		return -EEXIST;
	}
	desc = connmgr_desc_find(cm, spec->iop);
	dev = desc ? local_iop_dev_find(desc->ctx, spec->dev) : -ENOENT;
	if (dev < 0) {
		log_error("export %s: no device %s in IOP %s", spec->name,
			  spec->dev, spec->iop);
		return -ENOENT;
	}
	exp->name = strdup(spec->name);
	exp->description = spec->description ? strdup(spec->description) : NULL;
	if (!exp->name || (spec->description && !exp->description)) {
		free((char *)exp->name);
		free((char *)exp->description);
		return -ENOMEM;
	}
	exp->desc = desc;
	exp->dev_index = (unsigned int)dev;
	exp->read_only = spec->read_only;
	cm->n_exports++;
	return 0;
}

int connmgr_exports_build(struct connmgr *cm, struct local *local)
{
	const struct connmgr_config *cfg = &cm->cfg;
	int ret;

	/* Claim 23: ask the Local Transport how many IOPs there are, then
	 * build one descriptor per IOP. */
	cm->n_descs = local_iop_count(local);
	cm->descs = calloc(cm->n_descs ? cm->n_descs : 1, sizeof(*cm->descs));
	cm->exports = calloc(cfg->n_exports ? cfg->n_exports : 1,
			     sizeof(*cm->exports));
	if (!cm->descs || !cm->exports)
		return -ENOMEM;
	for (unsigned int i = 0; i < cm->n_descs; i++) {
		cm->descs[i].ops = &local_desc_ops;
		cm->descs[i].ctx = local_iop_context(local, i);
		cm->descs[i].index = i;
		cm->descs[i].name = local_iop_name(cm->descs[i].ctx);
	}
	for (unsigned int i = 0; i < cfg->n_exports; i++) {
		ret = connmgr_export_add(cm, &cfg->exports[i]);
		if (ret < 0)
			return ret;
	}
	if (cfg->default_export) {
		const struct conn_export *def =
			connmgr_export_find(cm, cfg->default_export);

		if (!def || !cfg->default_export[0]) {
			log_error("default export %s: no such export",
				  cfg->default_export);
			return -ENOENT;
		}
		cm->default_export = (unsigned int)(def - cm->exports);
	}
	cm->view.find = connmgr_export_find;
	cm->view.count = connmgr_export_count;
	cm->view.at = connmgr_export_at;
	cm->view.opaque = cm;
	return 0;
}

void connmgr_exports_free(struct connmgr *cm)
{
	for (unsigned int i = 0; i < cm->n_exports; i++) {
		free((char *)cm->exports[i].name);
		free((char *)cm->exports[i].description);
	}
	free(cm->exports);
	free(cm->descs);
}
