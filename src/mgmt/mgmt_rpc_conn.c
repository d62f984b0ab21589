// SPDX-License-Identifier: MIT
/*
 * Management methods for connections: list them (peer, protocol, export,
 * bytes, requests, in flight, data buffered) and disconnect one.  The
 * Connection Manager takes the snapshot on each worker (connmgr_call.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_rpc.h"

static int mgmt_conn_list(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			  struct mgmt_error *err)
{
	static const char *const keys[] = { "export", NULL };
	struct connmgr_conn_info *infos = NULL;
	const char *export = NULL;
	unsigned int n = 0;
	json_t *list;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_str(params, "export", false, &export, err)) < 0)
		return ret;
	ret = connmgr_conns_list(ctx->cm, &infos, &n);
	if (ret < 0)
		return ret;
	list = json_array();
	for (unsigned int i = 0; i < n; i++) {
		const struct connmgr_conn_info *c = &infos[i];

		if (export && strcmp(export, c->export))
			continue;
		json_array_append_new(
			list,
			json_pack("{s:I, s:s, s:s, s:s?, s:i, s:I, s:I, s:I, "
				  "s:I, s:i, s:I}",
				  "id", (json_int_t)c->id, "peer", c->peer,
				  "protocol", c->protocol, "export",
				  c->export[0] ? c->export : NULL, "worker",
				  (int)c->worker, "since", (json_int_t)c->since,
				  "bytes_in", (json_int_t)c->stats.bytes_in,
				  "bytes_out", (json_int_t)c->stats.bytes_out,
				  "requests", (json_int_t)c->stats.requests,
				  "inflight", (int)c->stats.inflight,
				  "buffered_bytes",
				  (json_int_t)c->stats.buffered_bytes));
	}
	free(infos);
	*result = list;
	return 0;
}

static int mgmt_conn_disconnect(struct mgmt_ctx *ctx, json_t *params,
				json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { "id", "force", NULL };
	uint64_t id;
	bool force = false;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_param_uint(params, "id", true, &id, err)) < 0 ||
	    (ret = mgmt_param_bool(params, "force", &force, err)) < 0)
		return ret;
	ret = connmgr_conn_disconnect(ctx->cm, id, force);
	if (ret == 0)
		*result = json_pack("{s:I}", "disconnected", (json_int_t)id);
	return ret;
}

const struct mgmt_method mgmt_rpc_conn_methods[] = {
	{ "conn.list", mgmt_conn_list,
	  "[export]: the client connections: id, peer, protocol, export, "
	  "bytes in and out, requests, requests in flight, bytes of request "
	  "data buffered" },
	{ "conn.disconnect", mgmt_conn_disconnect,
	  "id, [force=false]: end one connection; its requests in flight "
	  "complete first (force: drop unsent replies too)" },
	{ NULL },
};
