/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric logical unit access (SPC-4 5.16), implicit only: target
 * port groups and their access states, the same for every logical unit
 * of every target of this process.
 *
 * Each group has one target port (a relative target port identifier,
 * which iSCSI also uses as the target portal group tag of the portals
 * in it) and lists the portal addresses this process serves it on.  A
 * group without portals is served by another gateway: it is only
 * reported (REPORT TARGET PORT GROUPS), so two processes exporting one
 * image under one target name, each configured with both groups, give
 * initiators the same picture.
 *
 * The groups are configured once, before the first nexus opens; only
 * their states change afterwards (scsi_alua_set_state, any thread).
 * Without a configuration there is one group (1, port 1, every portal)
 * in the active/optimized state.
 */
#ifndef IOPD_SCSI_ALUA_H
#define IOPD_SCSI_ALUA_H

#include <stdbool.h>
#include <stdint.h>

#define SCSI_ALUA_MAX_GROUPS  32
#define SCSI_ALUA_MAX_PORTALS 16 /* per group */

/* Asymmetric access states, as REPORT TARGET PORT GROUPS codes them. */
enum scsi_alua_state {
	SCSI_ALUA_OPTIMIZED = 0x0,
	SCSI_ALUA_NON_OPTIMIZED = 0x1,
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
	SCSI_ALUA_TRANSITIONING = 0xf,
};

struct scsi_alua_group_cfg {
	uint16_t id;   /* target port group, >= 1 */
	uint16_t port; /* its relative target port identifier; 0 = id */
	enum scsi_alua_state state;
	bool preferred; /* the PREF bit */
	/* "ADDR", "ADDR:PORT", "[ADDR]:PORT" (numeric addresses) or "*"
	 * (every address); none: another gateway's group. */
	unsigned int n_portals;
	const char *const *portals;
};

/* Replace the groups (at start-up, before any nexus).  At least one
 * group must have portals; ids and ports are unique.  n == 0 restores
 * the default.  Returns 0 or -EINVAL after logging. */
int scsi_alua_configure(const struct scsi_alua_group_cfg *groups,
			unsigned int n);

/* The relative target port of the group serving the local address a
 * connection came in on ("10.0.0.1:3260", "[::1]:3260"; NULL = unknown):
 * a group naming that address (and port, if it gives one), else a group
 * with "*", else the first group with portals. */
uint16_t scsi_alua_portal_port(const char *local);

/* Group i (0-based) for listings; -ENOENT past the last. */
struct scsi_alua_group_info {
	uint16_t id, port;
	enum scsi_alua_state state;
	bool preferred;
	bool changed; /* by an operator since start-up */
	unsigned int n_portals;
	const char *const *portals;
};
int scsi_alua_group_info(unsigned int i, struct scsi_alua_group_info *info);

/* Change group id's state: every I_T nexus gets the unit attention
 * ASYMMETRIC ACCESS STATE CHANGED.  Returns 0, -ENOENT (no such group)
 * or -EINVAL. */
int scsi_alua_set_state(uint16_t id, enum scsi_alua_state state);

/* "active/optimized", "active/non-optimized", "standby", "unavailable",
 * "transitioning". */
const char *scsi_alua_state_name(enum scsi_alua_state state);
/* Returns 0 or -EINVAL. */
int scsi_alua_state_parse(const char *name, enum scsi_alua_state *state);

#endif
