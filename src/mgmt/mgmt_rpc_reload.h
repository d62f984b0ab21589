/* SPDX-License-Identifier: MIT */
/* Shared by the two halves of reload (mgmt_rpc_reload.c: exports and the
 * rest; mgmt_rpc_reload_iscsi.c: the iSCSI settings); private to
 * src/mgmt/. */
#ifndef IOPD_MGMT_RPC_RELOAD_H
#define IOPD_MGMT_RPC_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "mgmt/mgmt_rpc.h"

static inline bool mgmt_reload_str_differ(const char *a, const char *b)
{
	return !(a == b || (a && b && !strcmp(a, b)));
}

/* "ddm, path": what changed, for a reload's log lines. */
struct mgmt_reload_what {
	char s[128];
	size_t n;
};

/* Append text to w when cond holds. */
void mgmt_reload_what_add(struct mgmt_reload_what *w, bool cond,
			  const char *text);

/*
 * Before anything changes: make next's iSCSI settings what will run if
 * they are applied, and check them.  *apply: the result differs from
 * what runs.  Returns 0 or -errno after logging.
 */
int mgmt_reload_iscsi_prepare(struct mgmt_ctx *ctx, struct mgmt_config *next,
			      bool *apply);
/* Hand next's iSCSI settings to the transport (they move to ctx->cfg). */
int mgmt_reload_iscsi_apply(struct mgmt_ctx *ctx, struct mgmt_config *next);
/* A changed iscsi.port_groups, live (before mgmt_reload_iscsi_apply;
 * keep: that will not run). */
int mgmt_reload_alua_apply(struct mgmt_ctx *ctx, struct mgmt_config *next,
			   bool keep);

#endif
