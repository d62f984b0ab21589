// SPDX-License-Identifier: MIT
/*
 * The JSON-RPC 2.0 side of the management channel: newline-delimited
 * requests parsed with jansson, batches, errors, and the method registry.
 * The methods themselves live in mgmt_rpc_<family>.c; the socket and the
 * management thread that serves them one at a time (see mgmt_rpc.h for
 * why) in mgmt_rpc_server.c; daemon.auth and its token in mgmt_rpc_auth.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc.h"
#include "mgmt/mgmt_rpc_server.h"

static const struct mgmt_method *const mgmt_rpc_tables[] = {
	mgmt_rpc_daemon_methods, mgmt_rpc_iop_methods,
	mgmt_rpc_device_methods, mgmt_rpc_export_methods,
	mgmt_rpc_conn_methods,	 mgmt_rpc_discover_methods,
	mgmt_rpc_stats_methods,	 mgmt_rpc_alua_methods,
};

/* Errors and parameters, for the handlers ------------------------------- */

int mgmt_error_set(struct mgmt_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (code == -EINVAL)
		err->code = MGMT_ERR_INVALID_PARAMS;
	return code;
}

int mgmt_params_only(json_t *params, const char *const *keys,
		     struct mgmt_error *err)
{
	const char *key;
	json_t *v;

	if (!params)
		return 0;
	if (!json_is_object(params))
		return mgmt_error_set(err, -EINVAL, "params must be an object");
	json_object_foreach(params, key, v)
	{
		unsigned int i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(keys[i], key))
				break;
		if (!keys[i])
			return mgmt_error_set(err, -EINVAL,
					      "unknown parameter \"%s\"", key);
	}
	return 0;
}

static json_t *mgmt_param_get(json_t *params, const char *key)
{
	return json_is_object(params) ? json_object_get(params, key) : NULL;
}

int mgmt_param_str(json_t *params, const char *key, bool required,
		   const char **out, struct mgmt_error *err)
{
	json_t *v = mgmt_param_get(params, key);

	if (!v && !required)
		return 0;
	if (!json_is_string(v))
		return mgmt_error_set(err, -EINVAL,
				      "parameter \"%s\": %s a string", key,
				      v ? "expected" : "missing,");
	*out = json_string_value(v);
	return 0;
}

int mgmt_param_bool(json_t *params, const char *key, bool *out,
		    struct mgmt_error *err)
{
	json_t *v = mgmt_param_get(params, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return mgmt_error_set(err, -EINVAL,
				      "parameter \"%s\": expected true or "
				      "false",
				      key);
	*out = json_is_true(v);
	return 0;
}

int mgmt_param_uint(json_t *params, const char *key, bool required,
		    uint64_t *out, struct mgmt_error *err)
{
	json_t *v = mgmt_param_get(params, key);

	if (!v && !required)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    mgmt_size_parse(json_string_value(v), out) == 0)
		return 0;
	return mgmt_error_set(err, -EINVAL,
			      "parameter \"%s\": %s a non-negative integer "
			      "(sizes may be \"1G\")",
			      key, v ? "expected" : "missing,");
}

/* Dispatch ---------------------------------------------------------------- */

static const struct mgmt_method *mgmt_rpc_method_find(const char *name)
{
	for (size_t t = 0;
	     t < sizeof(mgmt_rpc_tables) / sizeof(mgmt_rpc_tables[0]); t++)
		for (const struct mgmt_method *m = mgmt_rpc_tables[t]; m->name;
		     m++)
			if (!strcmp(m->name, name))
				return m;
	return NULL;
}

/* "daemon.methods": the registry itself, for iopctl and people. */
json_t *mgmt_rpc_methods_json(void);
json_t *mgmt_rpc_methods_json(void)
{
	json_t *list = json_array();

	for (size_t t = 0;
	     t < sizeof(mgmt_rpc_tables) / sizeof(mgmt_rpc_tables[0]); t++)
		for (const struct mgmt_method *m = mgmt_rpc_tables[t]; m->name;
		     m++)
			json_array_append_new(
				list,
				json_pack("{s:s, s:s}", "name", m->name, "help",
					  m->help ? m->help : ""));
	return list;
}

json_t *mgmt_rpc_error(json_t *id, int code, const char *message, int errnum)
{
	json_t *error =
		json_pack("{s:i, s:s}", "code", code, "message", message);

	if (errnum > 0)
		json_object_set_new(
			error, "data",
			json_pack("{s:s}", "errno",
				  strerrorname_np(errnum) ?: "unknown"));
	return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id,
			 "error", error);
}

/* One request object.  Returns the response, or NULL for a notification. */
static json_t *mgmt_rpc_call(struct mgmt_ctx *ctx, json_t *req,
			     struct mgmt_rpc_session *s)
{
	struct mgmt_error err = { .code = 0 };
	const struct mgmt_method *m;
	json_t *id, *params, *result = NULL, *method, *version;
	int ret;

	if (!json_is_object(req))
		return mgmt_rpc_error(NULL, MGMT_ERR_INVALID_REQUEST,
				      "a request must be an object", 0);
	id = json_object_get(req, "id");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	version = json_object_get(req, "jsonrpc");
	if (id && !json_is_string(id) && !json_is_integer(id) &&
	    !json_is_null(id))
		return mgmt_rpc_error(NULL, MGMT_ERR_INVALID_REQUEST,
				      "id must be a string, an integer or null",
				      0);
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0"))
		return mgmt_rpc_error(id, MGMT_ERR_INVALID_REQUEST,
				      "\"jsonrpc\": \"2.0\" is required", 0);
	if (!json_is_string(method))
		return mgmt_rpc_error(id, MGMT_ERR_INVALID_REQUEST,
				      "\"method\" must be a string", 0);
	if (params && !json_is_object(params) && !json_is_array(params))
		return mgmt_rpc_error(id, MGMT_ERR_INVALID_REQUEST,
				      "\"params\" must be an object or an "
				      "array",
				      0);
	if (s && s->must_auth &&
	    !strcmp(json_string_value(method), "daemon.auth"))
		return mgmt_rpc_auth(s, id, params);
	if (s && s->must_auth && !s->authed) {
		s->hang_up = true;
		return mgmt_rpc_error(id, -32001,
				      "permission denied: call daemon.auth "
				      "with the token first",
				      0);
	}
	m = mgmt_rpc_method_find(json_string_value(method));
	if (!m) {
		char msg[300];

		snprintf(msg, sizeof(msg),
			 "no method \"%.200s\" (daemon.methods lists them)",
			 json_string_value(method));
		return id ? mgmt_rpc_error(id, MGMT_ERR_NO_METHOD, msg, 0)
			  : NULL;
	}
	log_debug("mgmt: %s", m->name);
	/* What the failing function logs is what the client reads. */
	base_log_capture(err.message, sizeof(err.message));
	ret = m->fn(ctx, params, &result, &err);
	base_log_capture(NULL, 0);
	if (!id) {
		json_decref(result);
		return NULL;
	}
	if (ret < 0) {
		int code = err.code ? err.code : MGMT_ERR_ERRNO_BASE + ret;

		if (-ret >= 100 && !err.code)
			code = MGMT_ERR_INTERNAL;
		return mgmt_rpc_error(
			id, code, err.message[0] ? err.message : strerror(-ret),
			-ret);
	}
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
			 "result", result ? result : json_null());
}

char *mgmt_rpc_handle(struct mgmt_ctx *ctx, const char *text, size_t len,
		      struct mgmt_rpc_session *s)
{
	json_error_t jerr;
	json_t *req, *resp = NULL;
	char *out = NULL;

	req = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr);
	if (!req) {
		char msg[300];

		snprintf(msg, sizeof(msg), "parse error at column %d: %s",
			 jerr.column, jerr.text);
		resp = mgmt_rpc_error(NULL, MGMT_ERR_PARSE, msg, 0);
	} else if (json_is_array(req)) {
		/* JSON-RPC 2.0 §6: a batch; notifications get nothing. */
		size_t i;
		json_t *item;

		if (json_array_size(req) == 0) {
			resp = mgmt_rpc_error(NULL, MGMT_ERR_INVALID_REQUEST,
					      "empty batch", 0);
		} else {
			resp = json_array();
			json_array_foreach(req, i, item)
			{
				json_t *r = mgmt_rpc_call(ctx, item, s);

				if (r)
					json_array_append_new(resp, r);
			}
			if (json_array_size(resp) == 0) {
				json_decref(resp);
				resp = NULL;
			}
		}
	} else {
		resp = mgmt_rpc_call(ctx, req, s);
	}
	json_decref(req);
	if (resp) {
		out = json_dumps(resp, JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(resp);
	}
	return out;
}

char *mgmt_rpc_handle_text(struct mgmt_ctx *ctx, const char *text, size_t len)
{
	return mgmt_rpc_handle(ctx, text, len, NULL);
}
