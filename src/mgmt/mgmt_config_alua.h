/* SPDX-License-Identifier: MIT */
/*
 * The config file's iscsi.port_groups: this gateway's ALUA target port
 * groups (src/scsi/scsi_alua.h), read at start-up.  Their states change
 * live through alua.set and, for "explicit" groups, an initiator's SET
 * TARGET PORT GROUPS; a reload applies the file's groups in place, and
 * a state only where the file changed it.  Nothing is saved but by
 * save-config, which writes the live states.
 *
 *   "port_groups": [
 *     { "group": 1, "state": "active/optimized", "portals": ["10.0.0.1"],
 *       "port": 1, "preferred": true, "explicit": true },
 *     { "group": 2, "state": "standby" }   (another gateway's)
 *   ]
 */
#ifndef IOPD_MGMT_CONFIG_ALUA_H
#define IOPD_MGMT_CONFIG_ALUA_H

#include <jansson.h>

struct mgmt_alua;

/* Parse v into *alua (replacing what was there).  Returns 0 or -errno
 * after logging. */
int mgmt_alua_load_json(struct mgmt_alua **alua, json_t *v);
/* Hand the groups to the SCSI command set (NULL: the default group).
 * Returns 0 or -EINVAL after logging. */
int mgmt_alua_apply(const struct mgmt_alua *alua);
void mgmt_alua_free(struct mgmt_alua *alua);
/* Whether a reload could apply alua: 0 or -errno after logging. */
int mgmt_alua_check(const struct mgmt_alua *alua);
/* Apply want (NULL: the default group) live, where have was: a group
 * keeps its live state unless want gives it another state than have
 * did.  0 or -errno after logging. */
int mgmt_alua_reload(const struct mgmt_alua *have, struct mgmt_alua *want);
/* Set each group's "state" in iscsi (the config file's iscsi object) to
 * its live state, for save-config. */
void mgmt_alua_save_states(json_t *iscsi);

#endif
