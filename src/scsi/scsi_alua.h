/* SPDX-License-Identifier: MIT */
/*
 * Asymmetric logical unit access (SPC-4 5.16): target port groups and
 * their access states, the same for every logical unit of every target
 * of this process.  States change implicitly (an operator, a reload)
 * and, for groups that allow it, explicitly: an initiator's SET TARGET
 * PORT GROUPS.
 *
 * Each group has one target port (a relative target port identifier,
 * which iSCSI also uses as the target portal group tag of the portals
 * in it) and lists the portal addresses this process serves it on.  A
 * group without portals is served by another gateway: it is only
 * reported (REPORT TARGET PORT GROUPS), so two processes exporting one
 * image under one target name, each configured with both groups, give
 * initiators the same picture.
 *
 * The groups are configured before the first nexus opens
 * (scsi_alua_configure) and may be replaced live (scsi_alua_reconfigure,
 * a reload): a nexus stays with its relative target port, whose group
 * may change; a port no longer configured is reported to its remaining
 * nexuses as unavailable.  Without a configuration there is one group
 * (1, port 1, every portal) in the active/optimized state.
 *
 * Nothing here is saved: a restart starts from the configuration.
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

/* How a group's state last changed (REPORT TARGET PORT GROUPS' STATUS
 * CODE). */
enum scsi_alua_status {
	SCSI_ALUA_STATUS_NONE = 0x0,
	SCSI_ALUA_STATUS_EXPLICIT = 0x1, /* SET TARGET PORT GROUPS */
	SCSI_ALUA_STATUS_IMPLICIT = 0x2, /* an operator, a reload */
};

struct scsi_alua_group_cfg {
	uint16_t id;   /* target port group, >= 1 */
	uint16_t port; /* its relative target port identifier; 0 = id */
	enum scsi_alua_state state;
	bool preferred;	  /* the PREF bit */
	bool explicit_ok; /* SET TARGET PORT GROUPS may change it */
	/* scsi_alua_reconfigure: a group of that id keeps its live state
	 * (changed since by an operator or initiator). */
	bool keep_state;
	/* "ADDR", "ADDR:PORT", "[ADDR]:PORT" (numeric addresses) or "*"
	 * (every address); none: another gateway's group. */
	unsigned int n_portals;
	const char *const *portals;
};

/* Replace the groups (at start-up, before any nexus).  At least one
 * group must have portals; ids and ports are unique; explicit_ok needs
 * portals (another gateway's group changes there).  n == 0 restores the
 * default.  Returns 0 or -EINVAL after logging. */
int scsi_alua_configure(const struct scsi_alua_group_cfg *groups,
			unsigned int n);
/* Replace the groups with nexuses open (a reload): a state that changes
 * is reported as an implicit transition, and every nexus gets
 * ASYMMETRIC ACCESS STATE CHANGED if what REPORT TARGET PORT GROUPS
 * shows changed.  Returns 0, -EINVAL or -ENOSPC (more relative ports
 * than there is room for since start-up) after logging. */
int scsi_alua_reconfigure(const struct scsi_alua_group_cfg *groups,
			  unsigned int n);
/* Whether scsi_alua_reconfigure would accept them; changes nothing. */
int scsi_alua_check_config(const struct scsi_alua_group_cfg *groups,
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
	bool preferred, explicit_ok;
	enum scsi_alua_status status;
	unsigned int n_portals;
	const char *const *portals;
};
int scsi_alua_group_info(unsigned int i, struct scsi_alua_group_info *info);
/* The live state of group id: 0 or -ENOENT. */
int scsi_alua_group_state(uint16_t id, enum scsi_alua_state *state);

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
