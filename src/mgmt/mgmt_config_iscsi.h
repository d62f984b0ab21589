/* SPDX-License-Identifier: MIT */
/*
 * The iSCSI part of iopd's configuration: the config file's "iscsi"
 * object and the --iscsi-* command-line options, parsed into the struct
 * iscsi_config the iSCSI Remote Transport takes (include/iopd/iscsi.h)
 * plus the portal addresses main.c binds.  CHAP secrets come only from
 * files nobody but the owner can read, and are never logged.
 */
#ifndef IOPD_MGMT_CONFIG_ISCSI_H
#define IOPD_MGMT_CONFIG_ISCSI_H

#include <jansson.h>

#include "iopd/iscsi.h"

struct mgmt_config;

/* Everything here is owned by struct mgmt_iscsi and freed with it; cfg's
 * pointers point into the owned arrays and strings. */
struct mgmt_iscsi {
	struct iscsi_config cfg;
	struct iscsi_target_cfg *targets; /* == cfg.targets */
	char **listen;			  /* portal addresses */
	unsigned int n_listen;
	bool cli_listen;   /* --iscsi-listen seen: it replaces the file's */
	json_t *file_json; /* the config file's "iscsi" object, for saving */
	unsigned int n_file_targets; /* targets[0..n) came from the file */
	bool allow_short_secrets;    /* CHAP secrets under 12 bytes accepted */
	struct mgmt_alua *alua;	     /* port_groups; NULL: the default */
};

/* The config file's "iscsi" value.  Returns 0 or -errno after logging. */
int mgmt_iscsi_load_json(struct mgmt_config *cfg, json_t *v);
/* --iscsi-listen ADDR: the first one replaces the file's portals. */
int mgmt_iscsi_add_cli_listen(struct mgmt_config *cfg, const char *addr);
/* --iqn-prefix IQN. */
int mgmt_iscsi_set_iqn_prefix(struct mgmt_config *cfg, const char *iqn);
/* --iscsi-target IQN=EXPORT[,EXPORT...]: LUNs 0, 1, ... in order. */
int mgmt_iscsi_add_target_spec(struct mgmt_config *cfg, const char *spec);
/* After everything is parsed: every LUN names a known export.  Returns 0
 * or -EINVAL after logging. */
int mgmt_iscsi_check(const struct mgmt_config *cfg);
/* The running iSCSI configuration as a config file's "iscsi" object
 * (secrets as the secret_file paths they came from), for save-config; a
 * new reference, or NULL when there is nothing to save. */
json_t *mgmt_iscsi_save(const struct mgmt_config *cfg);
/* NULL when iSCSI is off (no portal configured). */
const struct mgmt_iscsi *mgmt_iscsi_get(const struct mgmt_config *cfg);
void mgmt_iscsi_free(struct mgmt_iscsi *iscsi);

/* "iqn.YYYY-MM.reverse.domain[:anything]", "eui.<16 hex>" or
 * "naa.<16 or 32 hex>", lower case, at most 223 bytes (RFC 7143
 * section 4.2.7).  Returns true if name is one. */
bool mgmt_iscsi_name_valid(const char *name);

#endif
