/* SPDX-License-Identifier: MIT */
/* Shared by the management method files; private to src/mgmt/. */
#ifndef IOPD_MGMT_RPC_PRIV_H
#define IOPD_MGMT_RPC_PRIV_H

#include "mgmt/mgmt_rpc.h"

/* An export as export.list shows it. */
json_t *mgmt_export_info_json(struct mgmt_ctx *ctx,
			      const struct connmgr_export_info *info);
/* Add e to the running daemon and the running configuration; remove the
 * export called name from both.  Return 0 or -errno after logging. */
int mgmt_export_apply_add(struct mgmt_ctx *ctx, const struct mgmt_export *e);
int mgmt_export_apply_remove(struct mgmt_ctx *ctx, const char *name);
/* Give the running export have (in ctx->cfg) want's protocols and
 * address lists, live: the clients that lose access are disconnected.
 * Returns how many were, or -errno after logging. */
int mgmt_export_apply_access(struct mgmt_ctx *ctx, struct mgmt_export *have,
			     const struct mgmt_export *want);
/* An *.remove method: params {name}; remove(ctx, name); the result
 * {"removed": name}. */
int mgmt_remove_named(struct mgmt_ctx *ctx, json_t *params, json_t **result,
		      struct mgmt_error *err,
		      int (*remove)(struct mgmt_ctx *ctx, const char *name));
/* A device's durability path and health, added to o: "durability",
 * "state" ("ok" or "degraded"), "writeback_error", "writeback_errors". */
void mgmt_dev_health_json(json_t *o, const struct local_dev_info *d);
/* The method registry as a JSON array (daemon.methods). */
json_t *mgmt_rpc_methods_json(void);

#endif
