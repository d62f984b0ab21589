/* SPDX-License-Identifier: MIT */
/*
 * iopd's configuration: what the command line and the JSON config file
 * describe, in one structure, and its translation into what the Local
 * Transport (IOPs and devices) and the Connection Manager (exports,
 * limits) take.  The management channel (issue 4) will take the same
 * objects over JSON-RPC.
 */
#ifndef IOPD_MGMT_CONFIG_H
#define IOPD_MGMT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "connmgr/connmgr.h"

#define MGMT_DEFAULT_PORT 10809

/* One export: one IOP of one device, named like the export. */
struct mgmt_export {
	char *name;
	char *description;
	char *ddm;  /* "file", "bdev", "ram", "null" */
	char *path; /* file, bdev */
	uint64_t size_bytes;
	bool read_only;
};

#define MGMT_DEFAULT_BUSY_POLL_US 50

struct mgmt_config {
	char **listen;
	unsigned int n_listen;
	unsigned int threads;
	enum base_engine engine;
	uint32_t max_request_bytes;
	unsigned int drain_timeout_ms;
	int busy_poll_us; /* -1: MGMT_DEFAULT_BUSY_POLL_US */
	char *default_export;
	int direct;	/* -1 auto, 0 off, 1 on */
	bool read_only; /* every export */
	enum base_log_level log_level;
	struct mgmt_export *exports;
	unsigned int n_exports;

	/* Built by mgmt_config_specs for local_scan and connmgr_create. */
	struct local_config local;
	struct connmgr_config connmgr;
};

void mgmt_config_init(struct mgmt_config *cfg);
void mgmt_config_fini(struct mgmt_config *cfg);

/* "[NAME=]SPEC[,ro][,desc=TEXT]"; see iopd(8).  Returns 0 or -errno after
 * logging what is wrong. */
int mgmt_config_add_export_spec(struct mgmt_config *cfg, const char *spec);
int mgmt_config_add_listen(struct mgmt_config *cfg, const char *addr);
void mgmt_config_clear_listen(struct mgmt_config *cfg);
/* Merge a JSON config file.  Returns 0 or -errno after logging. */
int mgmt_config_load_file(struct mgmt_config *cfg, const char *path);
/* Fill cfg->local and cfg->connmgr from the rest. */
int mgmt_config_specs(struct mgmt_config *cfg);

/* "512", "64K", "1G", "2T" (binary).  Returns 0 or -EINVAL. */
int mgmt_size_parse(const char *text, uint64_t *bytes);
int mgmt_direct_parse(const char *text, int *direct);

#endif
