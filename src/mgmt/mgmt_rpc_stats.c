// SPDX-License-Identifier: MIT
/*
 * Management methods for statistics: the figures of the metrics endpoint
 * (mgmt_metrics.c) as JSON, whole or as one table per object family.
 */
#include <errno.h>

#include "mgmt/mgmt_metrics.h"
#include "mgmt/mgmt_rpc.h"

static int mgmt_stats_show(struct mgmt_ctx *ctx, json_t *params,
			   json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	*result = mgmt_metrics_json();
	return *result ? 0 : -ENOMEM;
}

/* One flat row per device, for a table. */
static int mgmt_stats_devices(struct mgmt_ctx *ctx, json_t *params,
			      json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	json_t *all, *rows, *d;
	size_t i;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	all = mgmt_metrics_json();
	rows = json_array();
	if (!all || !rows) {
		json_decref(all);
		json_decref(rows);
		return -ENOMEM;
	}
	json_array_foreach(json_object_get(all, "devices"), i, d)
	{
		json_t *req = json_object_get(d, "requests");
		json_t *bytes = json_object_get(d, "bytes");
		json_t *errs = json_object_get(d, "errors");
		json_t *lat = json_object_get(d, "latency");
		json_int_t n_err = 0, n, sum_ns;
		const char *op;
		json_t *v;

		json_object_foreach(errs, op, v)
		{
			n_err += json_integer_value(v);
		}
		n = json_integer_value(json_object_get(lat, "count"));
		sum_ns = json_integer_value(json_object_get(lat, "sum_ns"));
		json_array_append_new(
			rows,
			json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:I,s:O,s:O,s:I}",
				  "iop", json_object_get(d, "iop"), "device",
				  json_object_get(d, "device"), "reads",
				  json_object_get(req, "read"), "writes",
				  json_object_get(req, "write"), "read_bytes",
				  json_object_get(bytes, "read"), "write_bytes",
				  json_object_get(bytes, "write"), "errors",
				  n_err, "inflight",
				  json_object_get(d, "inflight"), "sessions",
				  json_object_get(d, "sessions"),
				  "avg_latency_us",
				  n ? sum_ns / n / 1000 : (json_int_t)0));
	}
	json_decref(all);
	*result = rows;
	return 0;
}

static int mgmt_stats_protocols(struct mgmt_ctx *ctx, json_t *params,
				json_t **result, struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	json_t *all;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	all = mgmt_metrics_json();
	if (!all)
		return -ENOMEM;
	*result = json_incref(json_object_get(all, "protocols"));
	json_decref(all);
	return 0;
}

const struct mgmt_method mgmt_rpc_stats_methods[] = {
	{ "stats.show", mgmt_stats_show,
	  "every counter of the metrics endpoint: per device requests, "
	  "bytes and errors by operation, errors by errno, in flight, "
	  "latency histogram; per protocol connections and handshakes" },
	{ "stats.devices", mgmt_stats_devices,
	  "one line per device: reads, writes, bytes, errors, in flight, "
	  "sessions, average latency" },
	{ "stats.protocols", mgmt_stats_protocols,
	  "one line per protocol: connections open and total, handshakes "
	  "ok and failed" },
	{ NULL },
};
