// SPDX-License-Identifier: MIT
/*
 * Configuration parsing: sizes, the command line's export specifications,
 * and the JSON config file, including the errors an operator's typo must
 * produce.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "test.h"

static void test_sizes(void)
{
	uint64_t v = 0;

	CHECK_EQ_INT(mgmt_size_parse("512", &v), 0);
	CHECK_EQ_INT(v, 512);
	CHECK_EQ_INT(mgmt_size_parse("64K", &v), 0);
	CHECK_EQ_INT(v, 65536);
	CHECK_EQ_INT(mgmt_size_parse("1G", &v), 0);
	CHECK_EQ_INT(v, 1ull << 30);
	CHECK_EQ_INT(mgmt_size_parse("2TiB", &v), 0);
	CHECK_EQ_INT(v, 2ull << 40);
	CHECK_EQ_INT(mgmt_size_parse("", &v), -EINVAL);
	CHECK_EQ_INT(mgmt_size_parse("-1", &v), -EINVAL);
	CHECK_EQ_INT(mgmt_size_parse("1X", &v), -EINVAL);
	CHECK_EQ_INT(mgmt_size_parse("99999999999P", &v), -EINVAL);
}

static void test_export_specs(void)
{
	struct mgmt_config cfg;
	char path[] = "/tmp/iopd-test-XXXXXX";
	int fd = mkstemp(path);
	char spec[512];

	CHECK(fd >= 0);
	close(fd);
	mgmt_config_init(&cfg);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "ram:1G"), 0);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "scratch=null:64M,ro"),
		     0);
	snprintf(spec, sizeof(spec), "%s,desc=a disk, with commas", path);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, spec), 0);
	CHECK_EQ_INT(cfg.n_exports, 3);
	CHECK(!strcmp(cfg.exports[0].name, "ram"));
	CHECK(!strcmp(cfg.exports[0].ddm, "ram"));
	CHECK_EQ_INT(cfg.exports[0].size_bytes, 1ull << 30);
	CHECK(!strcmp(cfg.exports[1].name, "scratch"));
	CHECK(cfg.exports[1].read_only);
	CHECK(!strcmp(cfg.exports[2].ddm, "file"));
	CHECK(!strcmp(cfg.exports[2].path, path));
	CHECK(!strcmp(cfg.exports[2].name, strrchr(path, '/') + 1));
	CHECK(!strcmp(cfg.exports[2].description, "a disk, with commas"));

	CHECK(mgmt_config_add_export_spec(&cfg, "ram:") < 0);
	CHECK(mgmt_config_add_export_spec(&cfg, "ram:0") < 0);
	CHECK(mgmt_config_add_export_spec(&cfg, "/no/such/file") < 0);

	CHECK_EQ_INT(mgmt_config_specs(&cfg), 0);
	CHECK(cfg.local.n_iops >= 3);
	CHECK(cfg.local.iops[1].devs[0].args.read_only);
	CHECK(cfg.connmgr.exports[1].read_only);
	mgmt_config_fini(&cfg);
	unlink(path);
}

static int load_json(struct mgmt_config *cfg, const char *text)
{
	char path[] = "/tmp/iopd-conf-XXXXXX";
	int fd = mkstemp(path);
	int ret;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -EIO;
	close(fd);
	ret = mgmt_config_load_file(cfg, path);
	unlink(path);
	return ret;
}

static void test_json(void)
{
	struct mgmt_config cfg;

	mgmt_config_init(&cfg);
	CHECK_EQ_INT(
		load_json(&cfg,
			  "{\"listen\": [\"127.0.0.1:0\", "
			  "\"unix:/tmp/x.sock\"],"
			  "\"threads\": 3, \"engine\": \"epoll\","
			  "\"max_request_bytes\": \"8M\","
			  "\"default_export\": \"b\","
			  "\"exports\": ["
			  "{\"name\":\"a\",\"ddm\":\"ram\",\"size\":\"1M\"},"
			  "{\"name\":\"b\",\"ddm\":\"null\","
			  "\"size\":4096,\"read_only\":true,"
			  "\"description\":\"d\"}]}"),
		0);
	CHECK_EQ_INT(cfg.n_listen, 2);
	CHECK_EQ_INT(cfg.threads, 3);
	CHECK_EQ_INT(cfg.engine, BASE_ENGINE_EPOLL);
	CHECK_EQ_INT(cfg.max_request_bytes, 8 << 20);
	CHECK(!strcmp(cfg.default_export, "b"));
	CHECK_EQ_INT(cfg.n_exports, 2);
	CHECK_EQ_INT(cfg.exports[0].size_bytes, 1 << 20);
	CHECK(cfg.exports[1].read_only);
	CHECK(!strcmp(cfg.exports[1].description, "d"));
	mgmt_config_fini(&cfg);

	mgmt_config_init(&cfg);
	CHECK_EQ_INT(load_json(&cfg, "{\"listn\": \"x\"}"), -EINVAL);
	CHECK_EQ_INT(load_json(&cfg, "{\"exports\": [{\"ddm\":\"ram\","
				     "\"sise\":\"1G\"}]}"),
		     -EINVAL);
	CHECK_EQ_INT(load_json(&cfg, "{\"exports\": [{\"name\":\"x\"}]}"),
		     -EINVAL);
	CHECK_EQ_INT(load_json(&cfg, "{not json"), -EINVAL);
	CHECK_EQ_INT(load_json(&cfg, "[1,2]"), -EINVAL);
	CHECK_EQ_INT(load_json(&cfg, "{\"threads\": -1}"), -EINVAL);
	mgmt_config_fini(&cfg);
}

/* A DDM's own settings: "fault:SPEC", "?K=V&K=V", "options" and "spec"
 * in JSON, save-config and back, and equality for reload. */
static void test_ddm_options(void)
{
	struct mgmt_config cfg;
	struct mgmt_export *e, back = { .name = NULL };
	struct local_iop_spec iop;
	struct local_dev_spec dev;
	struct connmgr_export_spec exp;
	json_t *j;

	mgmt_config_init(&cfg);
	CHECK_EQ_INT(
		mgmt_config_add_export_spec(
			&cfg, "d=fault:ram:1G?volatile=1&flush=EIO:once,ro"),
		0);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "fault:file:/x/y.img"),
		     0);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "m=ram:1M?a=1"), 0);
	CHECK_EQ_INT(mgmt_config_add_export_spec(&cfg, "z=ram:1M?=1"), -EINVAL);
	CHECK_EQ_INT(cfg.n_exports, 4);
	e = &cfg.exports[0];
	CHECK(!strcmp(e->name, "d") && !strcmp(e->ddm, "fault"));
	CHECK_EQ_INT(e->size_bytes, 1 << 30);
	CHECK(e->read_only);
	CHECK_EQ_INT(e->n_options, 3);
	CHECK(!strcmp(e->options[0].key, "inner") &&
	      !strcmp(e->options[0].value, "ram"));
	CHECK(!strcmp(e->options[2].key, "flush") &&
	      !strcmp(e->options[2].value, "EIO:once"));
	CHECK(!strcmp(cfg.exports[1].name, "y.img") &&
	      !strcmp(cfg.exports[1].path, "/x/y.img") &&
	      !strcmp(cfg.exports[1].options[0].value, "file"));
	/* The options reach the Local Transport's open arguments. */
	CHECK_EQ_INT(mgmt_export_specs(&cfg, e, &iop, &dev, &exp), 1);
	CHECK_EQ_INT(dev.args.n_options, 3);
	CHECK(dev.args.options == e->options);
	/* Saved as an "options" object and parsed back: the same export. */
	j = mgmt_export_to_json(e, false);
	CHECK(json_is_object(json_object_get(j, "options")));
	CHECK_EQ_INT(mgmt_export_parse_json(j, &back), 0);
	CHECK(mgmt_export_equal(e, &back));
	json_decref(j);
	mgmt_export_fini(&back);
	j = json_loads("{\"name\":\"d\",\"spec\":\"fault:ram:1G?volatile=1"
		       "&flush=EIO:once\",\"read_only\":true}",
		       0, NULL);
	CHECK_EQ_INT(mgmt_export_parse_json(j, &back), 0);
	CHECK(mgmt_export_equal(e, &back));
	mgmt_export_fini(&back);
	json_decref(j);
	j = json_loads("{\"name\":\"d\",\"ddm\":\"fault\",\"size\":1024,"
		       "\"options\":{\"volatile\":true,\"delay\":5}}",
		       0, NULL);
	CHECK_EQ_INT(mgmt_export_parse_json(j, &back), 0);
	CHECK(back.n_options == 2 && !strcmp(back.options[0].value, "1") &&
	      !strcmp(back.options[1].value, "5"));
	CHECK(!mgmt_export_equal(e, &back));
	mgmt_export_fini(&back);
	json_decref(j);
	j = json_loads("{\"name\":\"d\",\"iop\":\"p\","
		       "\"options\":{\"a\":\"1\"}}",
		       0, NULL);
	CHECK_EQ_INT(mgmt_export_parse_json(j, &back), -EINVAL);
	mgmt_export_fini(&back);
	json_decref(j);
	mgmt_config_fini(&cfg);
}

/* discover.pools: a pool whose DDM can list one, and what is refused. */
static void test_discover_pools(void)
{
	static const char *const bad[] = {
		"{\"discover\":{\"pools\":{}}}",
		"{\"discover\":{\"pools\":[{\"options\":{}}]}}",
		"{\"discover\":{\"pools\":[{\"ddm\":\"ram\"}]}}",
		"{\"discover\":{\"pools\":[{\"ddm\":\"nonesuch\"}]}}",
		"{\"discover\":{\"pools\":[{\"ddm\":\"rbd\",\"colour\":1}]}}",
		"{\"discover\":{\"pools\":[{\"ddm\":\"rbd\",\"options\":3}]}}",
		"{\"discover\":{\"pools\":[{\"ddm\":\"rbd\",\"options\":"
		"{\"colour\":\"blue\"}}]}}",
	};
	struct mgmt_config cfg;
	json_t *root, *pools;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mgmt_config_init(&cfg);
		CHECK_EQ_INT(load_json(&cfg, bad[i]), -EINVAL);
		mgmt_config_fini(&cfg);
	}
	if (!ddm_find("rbd"))
		return; /* built without librbd: nothing lists a pool */
	mgmt_config_init(&cfg);
	CHECK_EQ_INT(load_json(&cfg, "{\"discover\":{\"block\":false,"
				     "\"pools\":[{\"ddm\":\"rbd\","
				     "\"options\":{\"pool\":\"p\","
				     "\"id\":\"x\"}},{\"ddm\":\"rbd\","
				     "\"iop\":\"ceph\"}]}}"),
		     0);
	CHECK_EQ_INT(cfg.ops->discover.n_pools, 2);
	CHECK(!strcmp(cfg.ops->discover.pools[0].iop, "p"));
	CHECK_EQ_INT(cfg.ops->discover.pools[0].n_options, 2);
	CHECK(!strcmp(cfg.ops->discover.pools[0].options[1].key, "id"));
	CHECK(!strcmp(cfg.ops->discover.pools[1].iop, "ceph"));
	/* save-config keeps them. */
	root = json_object();
	mgmt_ops_to_json(&cfg, root);
	pools = json_object_get(json_object_get(root, "discover"), "pools");
	CHECK_EQ_INT(json_array_size(pools), 2);
	CHECK(!strcmp(
		json_string_value(json_object_get(
			json_object_get(json_array_get(pools, 0), "options"),
			"pool")),
		"p"));
	json_decref(root);
	mgmt_config_fini(&cfg);
}

int main(void)
{
	TEST_CASE(test_sizes);
	TEST_CASE(test_export_specs);
	TEST_CASE(test_json);
	TEST_CASE(test_ddm_options);
	TEST_CASE(test_discover_pools);
	return test_done();
}
