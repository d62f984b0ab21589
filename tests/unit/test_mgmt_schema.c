// SPDX-License-Identifier: MIT
/*
 * The option schema: one table for the command line and the config
 * file, with the command line's own bounds and units where they differ,
 * what daemon.config saves reading back to the same settings, and
 * --help naming every option.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_schema.h"
#include "test.h"

static const struct mgmt_opt *by_name(const char *name)
{
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++)
		if (o->name && !strcmp(o->name, name))
			return o;
	return NULL;
}

static int set_json(struct mgmt_config *cfg, const char *key, const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	int ret = mgmt_opt_set_json(cfg, mgmt_opt_by_key(key), v);

	json_decref(v);
	return ret;
}

static void test_table(void)
{
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++) {
		for (const struct mgmt_opt *p = o + 1; p->name || p->key; p++) {
			CHECK(!o->name || !p->name || strcmp(o->name, p->name));
			CHECK(!o->key || !p->key || strcmp(o->key, p->key));
			CHECK(!o->short_name || o->short_name != p->short_name);
		}
		/* A value the table parses says what it should have been. */
		CHECK(o->kind > MGMT_OPT_ENUM || o->expect);
		CHECK(!o->name || o->kind == MGMT_OPT_STR || o->help);
	}
}

static void test_cli_and_file(void)
{
	struct mgmt_config cfg;

	mgmt_config_init(&cfg);
	/* The table's defaults. */
	CHECK_EQ_INT(cfg.direct, -1);
	CHECK_EQ_INT(cfg.busy_poll_us, -1);
	CHECK_EQ_INT(cfg.max_request_bytes, CONN_DEFAULT_MAX_REQUEST_BYTES);
	CHECK_EQ_INT(cfg.log_level, BASE_LOG_INFO);
	CHECK_EQ_INT(cfg.threads, 0);
	/* --threads=0 is an error; the file's 0 is "one per CPU". */
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("threads"), "0"), -EINVAL);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("threads"), "1025"),
		     -EINVAL);
	CHECK_EQ_INT(set_json(&cfg, "threads", "0"), 0);
	CHECK_EQ_INT(set_json(&cfg, "threads", "\"4\""), -EINVAL);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("threads"), "8"), 0);
	CHECK_EQ_INT(cfg.threads, 8);
	/* Seconds on the command line, milliseconds in the file. */
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("drain-timeout"), "2"), 0);
	CHECK_EQ_INT(cfg.drain_timeout_ms, 2000);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("drain-timeout"), "3601"),
		     -EINVAL);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("drain-timeout"), "0"),
		     -EINVAL);
	CHECK_EQ_INT(set_json(&cfg, "drain_timeout_ms", "5"), 0);
	CHECK_EQ_INT(cfg.drain_timeout_ms, 5);
	CHECK_EQ_INT(set_json(&cfg, "drain_timeout_ms", "0"), -EINVAL);
	/* Sizes: "4K" or an integer, up to 4G-1. */
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("max-request"), "4095"),
		     -EINVAL);
	CHECK_EQ_INT(set_json(&cfg, "max_request_bytes", "4294967295"), 0);
	CHECK_EQ_INT(cfg.max_request_bytes, UINT32_MAX);
	CHECK_EQ_INT(set_json(&cfg, "max_request_bytes", "\"4G\""), -EINVAL);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("busy-poll"), "10001"),
		     -EINVAL);
	CHECK_EQ_INT(set_json(&cfg, "busy_poll_us", "0"), 0);
	CHECK_EQ_INT(cfg.busy_poll_us, 0);
	/* Enums with their aliases. */
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("direct"), "true"), 0);
	CHECK_EQ_INT(cfg.direct, 1);
	CHECK_EQ_INT(set_json(&cfg, "engine", "\"io_uring\""), 0);
	CHECK_EQ_INT(cfg.engine, BASE_ENGINE_URING);
	CHECK_EQ_INT(set_json(&cfg, "log_level", "\"loud\""), -EINVAL);
	/* "none" turns the management socket off on the command line. */
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("mgmt-socket"), "/x"), 0);
	CHECK(cfg.mgmt_socket && !strcmp(cfg.mgmt_socket, "/x"));
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("mgmt-socket"), "none"), 0);
	CHECK(!cfg.mgmt_socket);
	/* --listen replaces the file's addresses, then adds to them. */
	CHECK_EQ_INT(set_json(&cfg, "listen", "[\"a:1\", \"b:2\"]"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("listen"), "c:3"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cfg, by_name("listen"), "d:4"), 0);
	CHECK_EQ_INT(cfg.n_listen, 2);
	CHECK(!strcmp(cfg.listen[0], "c:3"));
	mgmt_config_fini(&cfg);
}

/* What daemon.config saves, loaded again, is the same configuration. */
static void test_save_load(void)
{
	struct mgmt_config a, b;
	char diff[256], kept[256];
	json_t *root = json_object(), *v;
	const char *key;

	mgmt_config_init(&a);
	mgmt_config_init(&b);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("threads"), "3"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("engine"), "epoll"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("direct"), "off"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("log-level"), "debug"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("busy-poll"), "7"), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&a, by_name("default-export"), "x"), 0);
	mgmt_opts_to_json(&a, root);
	CHECK(!json_object_get(root, "drain_timeout_ms")); /* unset */
	CHECK(json_is_string(json_object_get(root, "direct")));
	/* As if a file had set them (test_restart_diff: the command
	 * line's). */
	memset(a.opts_cli, 0, sizeof(a.opts_cli));
	mgmt_opts_restart_diff(&a, &b, diff, kept, sizeof(diff));
	CHECK(!strcmp(diff, "threads, engine, direct"));
	json_object_foreach(root, key, v)
		CHECK_EQ_INT(mgmt_opt_set_json(&b, mgmt_opt_by_key(key), v), 0);
	mgmt_opts_restart_diff(&a, &b, diff, kept, sizeof(diff));
	CHECK(!strcmp(diff, ""));
	CHECK(!strcmp(kept, ""));
	CHECK_EQ_INT(b.log_level, BASE_LOG_DEBUG);
	CHECK_EQ_INT(b.busy_poll_us, 7);
	CHECK(!strcmp(b.default_export, "x"));
	json_decref(root);
	mgmt_config_fini(&a);
	mgmt_config_fini(&b);
}

/* Set key as the config file does, with v (taken). */
static int set_file(struct mgmt_config *cfg, const char *key, json_t *v)
{
	int ret = mgmt_opt_set_json(cfg, mgmt_opt_by_key(key), v);

	json_decref(v);
	return ret;
}

/* A reload warns only about what the file changes: equal strings in
 * other buffers are equal, settings of the command line are not the
 * file's. */
static void test_restart_diff(void)
{
	struct mgmt_config cur, next;
	char later[256], kept[256];

	mgmt_config_init(&cur);
	mgmt_config_init(&next);
	CHECK_EQ_INT(set_file(&cur, "pr_dir", json_string("/x")), 0);
	CHECK_EQ_INT(set_file(&next, "pr_dir", json_string("/x")), 0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cur, by_name("tls-certificates"), "/d"),
		     0);
	CHECK_EQ_INT(mgmt_opt_set_cli(&cur, by_name("drain-timeout"), "5"), 0);
	mgmt_opt_mark_cli(&cur, "engine");
	mgmt_opts_restart_diff(&cur, &next, later, kept, sizeof(later));
	CHECK(!strcmp(later, ""));
	CHECK(!strcmp(kept, "")); /* the file does not set them */
	CHECK_EQ_INT(set_file(&next, "engine", json_string("epoll")), 0);
	CHECK_EQ_INT(set_file(&next, "pr_dir", json_string("/y")), 0);
	CHECK_EQ_INT(set_file(&next, "threads", json_integer(2)), 0);
	mgmt_opts_restart_diff(&cur, &next, later, kept, sizeof(later));
	CHECK(!strcmp(later, "threads, pr_dir"));
	CHECK(!strcmp(kept, "engine"));
	mgmt_config_fini(&cur);
	mgmt_config_fini(&next);
}

static void test_usage(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f != NULL);
	mgmt_opts_usage(f);
	fclose(f);
	for (const struct mgmt_opt *o = mgmt_opts; o->name || o->key; o++) {
		char want[64];

		if (!o->name)
			continue;
		snprintf(want, sizeof(want), "--%s%s", o->name,
			 o->arg ? "=" : " ");
		CHECK(strstr(text, want) != NULL);
	}
	free(text);
}

int main(void)
{
	TEST_CASE(test_table);
	TEST_CASE(test_cli_and_file);
	TEST_CASE(test_save_load);
	TEST_CASE(test_restart_diff);
	TEST_CASE(test_usage);
	return test_done();
}
