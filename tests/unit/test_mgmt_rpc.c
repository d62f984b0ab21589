// SPDX-License-Identifier: MIT
/*
 * The JSON-RPC layer of the management channel without a daemon: framing
 * errors, the request checks of JSON-RPC 2.0, batches and notifications,
 * the errno mapping; and the config round trip save-config relies on.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/mgmt_rpc.h"
#include "test.h"

static struct mgmt_config cfg;
static struct mgmt_ctx ctx = { .cfg = &cfg, .version = "test" };

/* Handle one request line; return the response parsed (or NULL). */
static json_t *call(const char *text)
{
	char *out = mgmt_rpc_handle_text(&ctx, text, strlen(text));
	json_t *resp = out ? json_loads(out, 0, NULL) : NULL;

	if (out)
		CHECK(!strchr(out, '\n')); /* one line */
	free(out);
	return resp;
}

static long long err_code(json_t *resp)
{
	return json_integer_value(
		json_object_get(json_object_get(resp, "error"), "code"));
}

static void test_parse_errors(void)
{
	json_t *r = call("{\"jsonrpc\":\"2.0\",");

	CHECK_EQ_INT(err_code(r), MGMT_ERR_PARSE);
	CHECK(json_is_null(json_object_get(r, "id")));
	json_decref(r);
	r = call("[]");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	r = call("42");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	/* duplicate keys are refused like in the config file */
	r = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_PARSE);
	json_decref(r);
}

static void test_request_checks(void)
{
	json_t *r = call("{\"id\":1,\"method\":\"daemon.version\"}");

	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	CHECK_EQ_INT(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = call("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":5}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	r = call("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"a\"}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	r = call("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"daemon.version\","
		 "\"params\":7}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	r = call("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"no.such\"}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_NO_METHOD);
	CHECK(!strcmp(json_string_value(json_object_get(r, "id")), "x"));
	json_decref(r);
}

static void test_results_and_params(void)
{
	json_t *r = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			 "\"daemon.version\"}");
	json_t *res = json_object_get(r, "result");

	CHECK(!strcmp(json_string_value(json_object_get(res, "version")),
		      "test"));
	CHECK(!json_object_get(r, "error"));
	json_decref(r);
	r = call(
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"daemon.log_level\","
		"\"params\":{\"level\":\"loud\"}}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_PARAMS);
	json_decref(r);
	r = call(
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"daemon.log_level\","
		"\"params\":{\"lvl\":\"info\"}}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_PARAMS);
	json_decref(r);
	/* no --config: save-config wants a path (EINVAL -> invalid params),
	 * reload has nothing to read (ENOENT -> -32002) */
	r = call("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":"
		 "\"daemon.save_config\"}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_INVALID_PARAMS);
	json_decref(r);
	r = call("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"daemon.reload\"}");
	CHECK_EQ_INT(err_code(r), MGMT_ERR_ERRNO_BASE - ENOENT);
	CHECK(!strcmp(
		json_string_value(json_object_get(
			json_object_get(json_object_get(r, "error"), "data"),
			"errno")),
		"ENOENT"));
	json_decref(r);
}

static void test_batch_and_notifications(void)
{
	json_t *r = call("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			 "\"daemon.version\"},{\"jsonrpc\":\"2.0\",\"method\":"
			 "\"daemon.version\"},5]");

	CHECK(json_is_array(r));
	CHECK_EQ_INT(json_array_size(r), 2);
	CHECK_EQ_INT(
		json_integer_value(json_object_get(json_array_get(r, 0), "id")),
		1);
	CHECK_EQ_INT(err_code(json_array_get(r, 1)), MGMT_ERR_INVALID_REQUEST);
	json_decref(r);
	CHECK(!call("{\"jsonrpc\":\"2.0\",\"method\":\"daemon.version\"}"));
	CHECK(!call("{\"jsonrpc\":\"2.0\",\"method\":\"no.such\"}"));
	CHECK(!call("[{\"jsonrpc\":\"2.0\",\"method\":\"daemon.version\"}]"));
}

static void test_config_round_trip(void)
{
	char dir[] = "/tmp/iopd-test-rpc-XXXXXX", path[64];
	struct mgmt_config again;
	struct mgmt_iop iop = { .name = NULL };
	json_t *iop_json;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/saved.json", dir);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "a=ram:1M,ro,desc=x,y"),
		     0);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "b=file:/srv/b.img"), 0);
	CHECK_EQ_INT(mgmt_config_add_listen(&cfg, "unix:/run/x.sock"), 0);
	iop_json = json_loads("{\"name\":\"g\",\"ddm\":\"ram\",\"devices\":"
			      "[{\"name\":\"d0\",\"size\":\"1M\"}]}",
			      0, NULL);
	CHECK_EQ_INT(mgmt_iop_parse_json(iop_json, &iop), 0);
	CHECK_EQ_INT(mgmt_config_iop_append(&cfg, &iop), 0);
	json_decref(iop_json);
	CHECK_EQ_INT(mgmt_config_save(&cfg, path), 0);
	mgmt_config_init(&again);
	CHECK_EQ_INT(mgmt_config_load_file(&again, path), 0);
	CHECK_EQ_INT(again.n_exports, 2);
	CHECK(mgmt_export_equal(&cfg.exports[0], &again.exports[0]));
	CHECK(mgmt_export_equal(&cfg.exports[1], &again.exports[1]));
	CHECK_EQ_INT(again.n_listen, 1);
	CHECK_EQ_INT(again.n_iops, 1);
	CHECK(again.n_iops == 1 && again.iops[0].n_devs == 1 &&
	      again.iops[0].devs[0].size_bytes == 1 << 20);
	/* the same export on the command line again is one export */
	CHECK_EQ_INT(
		mgmt_config_add_export_spec(&again, "a=ram:1M,ro,desc=x,y"), 0);
	CHECK_EQ_INT(again.n_exports, 2);
	mgmt_config_fini(&again);
	CHECK(access(path, R_OK) == 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	mgmt_config_init(&cfg);
	TEST_CASE(test_parse_errors);
	TEST_CASE(test_request_checks);
	TEST_CASE(test_results_and_params);
	TEST_CASE(test_batch_and_notifications);
	TEST_CASE(test_config_round_trip);
	mgmt_config_fini(&cfg);
	return test_done();
}
