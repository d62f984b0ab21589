/* SPDX-License-Identifier: MIT */
/*
 * The operations part of iopd's configuration: the metrics endpoint's
 * address, where logs go, and what discovery scans (the config file's
 * "metrics_listen", "log_target" and "discover" keys, and the matching
 * command-line options), plus the discovery state the RPC methods keep.
 */
#ifndef IOPD_MGMT_CONFIG_OPS_H
#define IOPD_MGMT_CONFIG_OPS_H

#include <jansson.h>
#include <stdbool.h>

#include "iopd/local.h"

struct mgmt_config;
struct mgmt_metrics;

enum mgmt_log_target {
	MGMT_LOG_STDERR = 0,
	MGMT_LOG_SYSLOG,
	MGMT_LOG_JOURNAL,
};

struct mgmt_ops {
	char *metrics_listen; /* NULL: no metrics endpoint */
	enum mgmt_log_target log_target;
	bool log_target_set; /* else --daemon means syslog */
	/* What discovery scans; the strings are owned here. */
	struct local_discover_config discover;
	bool discover_set; /* the operator said something about it */
	char **image_dirs;
	char **image_exts;
	struct local_disc_pool *pools; /* discover.pools, owned */
	/* The last scan (mgmt_rpc_discover.c), management thread only. */
	struct local_discovery *discovery;
	struct mgmt_metrics *metrics; /* running endpoint (mgmt_ops.c) */
};

/* "metrics_listen", "log_target" or "discover" from the config file (the
 * option schema hands them over).  Returns 0 or -errno after logging. */
int mgmt_ops_load_json(struct mgmt_config *cfg, const char *key, json_t *v);
/* Created on first use; NULL only when out of memory. */
struct mgmt_ops *mgmt_ops_get(struct mgmt_config *cfg);
void mgmt_ops_free(struct mgmt_ops *ops);

/* Command line. */
int mgmt_ops_set_metrics_listen(struct mgmt_config *cfg, const char *addr);
int mgmt_ops_set_log_target(struct mgmt_config *cfg, const char *text);
int mgmt_ops_add_image_dir(struct mgmt_config *cfg, const char *dir);

/* discover.pools (mgmt_config_pools.c): replace them with the list v;
 * free them; the list for save-config. */
int mgmt_pools_load_json(struct mgmt_ops *ops, json_t *v);
void mgmt_pools_free(struct mgmt_ops *ops);
json_t *mgmt_pools_to_json(const struct mgmt_ops *ops);

/* Set this file's keys in root (the config file's object, for
 * save-config), those that differ from the defaults. */
void mgmt_ops_to_json(const struct mgmt_config *cfg, json_t *root);

#endif
