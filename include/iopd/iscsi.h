/* SPDX-License-Identifier: MIT */
/*
 * The iSCSI Remote Transport as the rest of iopd sees it: its
 * configuration (what main.c builds from the command line and config
 * file, and hands to connmgr_listener_add as the listener's
 * transport_ctx).  Its transport table is found by name, "iscsi", in
 * the registry of iopd/remote.h.
 *
 * Targets resolve their LUNs' exports by name through the connection's
 * conn_exports view at login time, so exports added or removed while
 * iopd runs are seen by the next login.
 */
#ifndef IOPD_ISCSI_H
#define IOPD_ISCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "iopd/remote.h"

#define ISCSI_DEFAULT_PORT	 3260
#define ISCSI_DEFAULT_IQN_PREFIX "iqn.2026-11.org.iopd"

/* A CHAP identity: user name and secret (RFC 7143 section 12.1.3).  An
 * empty one (user == NULL) means "not required". */
struct iscsi_chap {
	const char *user;
	const char *secret;
};

struct iscsi_lun_cfg {
	uint64_t lun;
	const char *export; /* export name */
	bool read_only;
	uint32_t block_size; /* 0 = default (see struct scsi_lun_map) */
};

struct iscsi_target_cfg {
	const char *name;  /* IQN or EUI name */
	const char *alias; /* TargetAlias; may be NULL */
	unsigned int n_luns;
	const struct iscsi_lun_cfg *luns;
	/* The initiator must prove it knows chap.secret (CHAP); if
	 * mutual.user is set the initiator may, and then must be able to,
	 * ask the target to prove it knows mutual.secret. */
	struct iscsi_chap chap;
	struct iscsi_chap mutual;
	/* Initiator names allowed to log in; 0 = everyone. */
	unsigned int n_initiators;
	const char *const *initiators;
};

struct iscsi_config {
	/* 0 targets = one target per export, named "<iqn_prefix>:<export
	 * name>", with the export as LUN 0. */
	unsigned int n_targets;
	const struct iscsi_target_cfg *targets;
	const char *iqn_prefix; /* NULL = ISCSI_DEFAULT_IQN_PREFIX */
	/* CHAP for discovery sessions; empty = none. */
	struct iscsi_chap discovery_chap;
	struct iscsi_chap discovery_mutual;
	/* Seconds of silence before a NOP-In ping, and then before the
	 * connection is dropped; 0 = defaults. */
	unsigned int nop_interval_s;
	unsigned int nop_timeout_s;
};

#endif
