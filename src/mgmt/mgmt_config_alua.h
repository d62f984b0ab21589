/* SPDX-License-Identifier: MIT */
/*
 * The config file's iscsi.port_groups: this gateway's ALUA target port
 * groups (src/scsi/scsi_alua.h), read at start-up.  Their states change
 * live through alua.set; a reload leaves the groups as they are.
 *
 *   "port_groups": [
 *     { "group": 1, "state": "active/optimized", "portals": ["10.0.0.1"],
 *       "port": 1, "preferred": true },
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

#endif
