// SPDX-License-Identifier: MIT
/*
 * The config file's "iscsi" object and the --iscsi-* options: what they
 * build into struct iscsi_config, and the mistakes they must refuse
 * (secret files others can read, unknown keys, bad names, LUN clashes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "test.h"

static char dir[] = "/tmp/iopd-test-iscsi-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	int fd = open(tmp_path(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CHECK(chmod(tmp_path(name), mode) == 0);
}

/* Load JSON text (with each %s replaced by the temp dir) into a fresh
 * cfg. */
static int load(struct mgmt_config *cfg, const char *json)
{
	char text[4096];
	size_t n = 0;

	for (const char *p = json; *p && n + sizeof(dir) < sizeof(text); p++) {
		if (p[0] == '%' && p[1] == 's') {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
					      dir);
			p++;
		} else {
			text[n++] = *p;
		}
	}
	text[n] = 0;
	write_file("cfg.json", text, 0600);
	mgmt_config_init(cfg);
	return mgmt_config_load_file(cfg, tmp_path("cfg.json"));
}

static void test_full(void)
{
	struct mgmt_config cfg;
	const struct mgmt_iscsi *is;
	const struct iscsi_target_cfg *t;

	write_file("u.secret", "user-secret-123\n", 0600);
	write_file("m.secret", "target-secret-456", 0400);
	CHECK_EQ_INT(
		load(&cfg,
		     "{\"exports\": [{\"name\": \"a\", \"ddm\": \"ram\", "
		     "\"size\": \"1M\"}],"
		     "\"iscsi\": {\"listen\": [\"127.0.0.1:0\", \":3261\"],"
		     " \"iqn_prefix\": \"iqn.2026-11.test.pre\","
		     " \"nop_interval\": 7, \"nop_timeout\": 21,"
		     " \"discovery_chap\": {\"user\": \"d\", \"secret_file\": "
		     "\"%s/u.secret\"},"
		     " \"targets\": [{\"name\": \"iqn.2026-11.test:t1\","
		     "  \"alias\": \"one\","
		     "  \"luns\": [{\"export\": \"a\"}, {\"lun\": 9, "
		     "\"export\": "
		     "\"a\", \"read_only\": true, \"block_size\": 4096}],"
		     "  \"chap\": {\"user\": \"u\", \"secret_file\": "
		     "\"%s/u.secret\"},"
		     "  \"mutual_chap\": {\"user\": \"m\", \"secret_file\": "
		     "\"%s/m.secret\"},"
		     "  \"initiators\": [\"iqn.2026-11.test:i\"]}]}}"),
		0);
	CHECK_EQ_INT(mgmt_iscsi_check(&cfg), 0);
	is = mgmt_iscsi_get(&cfg);
	CHECK(is != NULL);
	if (!is)
		goto out;
	CHECK_EQ_INT(is->n_listen, 2);
	CHECK(!strcmp(is->listen[1], ":3261"));
	CHECK(!strcmp(is->cfg.iqn_prefix, "iqn.2026-11.test.pre"));
	CHECK_EQ_INT(is->cfg.nop_interval_s, 7);
	CHECK_EQ_INT(is->cfg.nop_timeout_s, 21);
	CHECK(!strcmp(is->cfg.discovery_chap.user, "d"));
	CHECK(!strcmp(is->cfg.discovery_chap.secret, "user-secret-123"));
	CHECK(is->cfg.discovery_mutual.user == NULL);
	CHECK_EQ_INT(is->cfg.n_targets, 1);
	t = &is->cfg.targets[0];
	CHECK(!strcmp(t->name, "iqn.2026-11.test:t1"));
	CHECK(!strcmp(t->alias, "one"));
	CHECK_EQ_INT(t->n_luns, 2);
	CHECK_EQ_INT(t->luns[0].lun, 0);
	CHECK(!strcmp(t->luns[0].export, "a"));
	CHECK(!t->luns[0].read_only);
	CHECK_EQ_INT(t->luns[0].block_size, 0);
	CHECK_EQ_INT(t->luns[1].lun, 9);
	CHECK(t->luns[1].read_only);
	CHECK_EQ_INT(t->luns[1].block_size, 4096);
	CHECK(!strcmp(t->chap.secret, "user-secret-123"));
	CHECK(!strcmp(t->mutual.user, "m"));
	CHECK(!strcmp(t->mutual.secret, "target-secret-456"));
	CHECK_EQ_INT(t->n_initiators, 1);
	CHECK(!strcmp(t->initiators[0], "iqn.2026-11.test:i"));

	/* The command line: --iscsi-listen replaces, --iscsi-target adds. */
	CHECK_EQ_INT(mgmt_iscsi_add_cli_listen(&cfg, "127.0.0.2"), 0);
	CHECK_EQ_INT(mgmt_iscsi_add_cli_listen(&cfg, "127.0.0.3:1"), 0);
	CHECK_EQ_INT(is->n_listen, 2);
	CHECK(!strcmp(is->listen[0], "127.0.0.2"));
	CHECK_EQ_INT(
		mgmt_iscsi_add_target_spec(&cfg, "iqn.2026-11.test:t2=a,a"), 0);
	CHECK_EQ_INT(is->cfg.n_targets, 2);
	CHECK_EQ_INT(is->cfg.targets[1].n_luns, 2);
	CHECK_EQ_INT(is->cfg.targets[1].luns[1].lun, 1);
	CHECK(mgmt_iscsi_add_target_spec(&cfg, "iqn.2026-11.test:t2=a") < 0);
	CHECK(mgmt_iscsi_add_target_spec(&cfg, "iqn.2026-11.test:t3") < 0);
	CHECK(mgmt_iscsi_add_target_spec(&cfg, "iqn.2026-11.test:t4=b") == 0);
	CHECK_EQ_INT(mgmt_iscsi_check(&cfg), -EINVAL); /* no export b */

	/* save-config: the running state, secrets as their file paths. */
	{
		json_t *saved = mgmt_iscsi_save(&cfg);
		char *text = saved ? json_dumps(saved, JSON_SORT_KEYS) : NULL;

		CHECK(text != NULL);
		if (text) {
			CHECK(strstr(text, "\"listen\": [\"127.0.0.2\", "
					   "\"127.0.0.3:1\"]") != NULL);
			CHECK(strstr(text, "iqn.2026-11.test:t2") != NULL);
			CHECK(strstr(text, "iqn.2026-11.test:t4") != NULL);
			CHECK(strstr(text, "u.secret") != NULL);
			CHECK(strstr(text, "user-secret-123") == NULL);
			CHECK(strstr(text, "target-secret-456") == NULL);
		}
		free(text);
		json_decref(saved);
	}
out:
	mgmt_config_fini(&cfg);
}

static void test_off_by_default(void)
{
	struct mgmt_config cfg;

	mgmt_config_init(&cfg);
	CHECK(mgmt_iscsi_get(&cfg) == NULL);
	CHECK_EQ_INT(mgmt_iscsi_set_iqn_prefix(&cfg, "iqn.2026-11.x"), 0);
	CHECK(mgmt_iscsi_get(&cfg) == NULL); /* no portal: still off */
	CHECK(mgmt_iscsi_add_cli_listen(&cfg, "unix:/tmp/x") < 0);
	mgmt_config_fini(&cfg);
}

static void test_secret_files(void)
{
	static const char *const modes_bad[] = { "0644", "0640", "0604",
						 "0660" };
	struct mgmt_config cfg;
	const char *fmt = "{\"iscsi\": {\"discovery_chap\": {\"user\": \"d\", "
			  "\"secret_file\": \"%s/s.secret\"}}}";

	for (unsigned int i = 0; i < 4; i++) {
		write_file("s.secret", "some-secret-1234\n",
			   (mode_t)strtol(modes_bad[i], NULL, 8));
		CHECK_EQ_INT(load(&cfg, fmt), -EINVAL);
		mgmt_config_fini(&cfg);
	}
	write_file("s.secret", "", 0600);
	CHECK_EQ_INT(load(&cfg, fmt), -EINVAL);
	mgmt_config_fini(&cfg);
	write_file("s.secret", "two\nlines\n", 0600);
	CHECK_EQ_INT(load(&cfg, fmt), -EINVAL);
	mgmt_config_fini(&cfg);
	unlink(tmp_path("s.secret"));
	CHECK_EQ_INT(load(&cfg, fmt), -ENOENT);
	mgmt_config_fini(&cfg);
	write_file("s.secret", "crlf-secret-1234\r\n", 0600);
	CHECK_EQ_INT(load(&cfg, fmt), 0);
	CHECK(!strcmp(cfg.iscsi->cfg.discovery_chap.secret,
		      "crlf-secret-1234"));
	mgmt_config_fini(&cfg);
	/* Never inline. */
	CHECK_EQ_INT(load(&cfg, "{\"iscsi\": {\"discovery_chap\": {\"user\": "
				"\"d\", \"secret\": \"x\"}}}"),
		     -EINVAL);
	mgmt_config_fini(&cfg);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"{\"iscsi\": {\"lisen\": \"127.0.0.1\"}}",
		"{\"iscsi\": []}",
		"{\"iscsi\": {\"nop_interval\": -1}}",
		"{\"iscsi\": {\"nop_timeout\": \"5\"}}",
		"{\"iscsi\": {\"iqn_prefix\": \"eui.0123456789abcdef\"}}",
		"{\"iscsi\": {\"targets\": [{\"luns\": [{\"export\": "
		"\"a\"}]}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"IQN.2026-11.x:y\", "
		"\"luns\": [{\"export\": \"a\"}]}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\"}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\", "
		"\"luns\": [{\"lun\": 16384, \"export\": \"a\"}]}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\", "
		"\"luns\": [{\"export\": \"a\", \"block_size\": 8192}]}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\", "
		"\"luns\": [{\"export\": \"a\", \"blocksize\": 512}]}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\", "
		"\"luns\": [{\"export\": \"a\"}], \"initiators\": []}]}}",
		"{\"iscsi\": {\"targets\": [{\"name\": \"iqn.2026-11.x:y\", "
		"\"luns\": [{\"export\": \"a\"}]}, {\"name\": "
		"\"iqn.2026-11.x:y\", \"luns\": [{\"export\": \"a\"}]}]}}",
		"{\"iscsi\": {\"port_groups\": {}}}",
		"{\"iscsi\": {\"port_groups\": [{\"state\": \"standby\"}]}}",
		"{\"iscsi\": {\"port_groups\": [{\"group\": 0}]}}",
		"{\"iscsi\": {\"port_groups\": [{\"group\": 1, \"state\": "
		"\"asleep\"}]}}",
		"{\"iscsi\": {\"port_groups\": [{\"group\": 1, \"portal\": "
		"[\"*\"]}]}}",
		"{\"iscsi\": {\"port_groups\": [{\"group\": 1, \"portals\": "
		"[1]}]}}",
		"{\"iscsi\": {\"port_groups\": [{\"group\": 1, \"explicit\": "
		"\"yes\"}]}}",
	};
	struct mgmt_config cfg;

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = load(&cfg, bad[i]);

		if (ret != -EINVAL)
			printf("#   case %u: %d\n", i, ret);
		CHECK_EQ_INT(ret, -EINVAL);
		mgmt_config_fini(&cfg);
	}
}

/* A CHAP secret under 12 bytes is refused unless allow_short_secrets,
 * before or after the key that names it. */
static void test_short_secret(void)
{
	struct mgmt_config cfg;

	write_file("s.secret", "short-11by\n", 0600);
	CHECK_EQ_INT(load(&cfg, "{\"iscsi\": {\"discovery_chap\": {\"user\": "
				"\"d\", \"secret_file\": \"%s/s.secret\"}}}"),
		     -EINVAL);
	mgmt_config_fini(&cfg);
	CHECK_EQ_INT(load(&cfg, "{\"iscsi\": {\"discovery_chap\": {\"user\": "
				"\"d\", \"secret_file\": \"%s/s.secret\"}, "
				"\"allow_short_secrets\": true}}"),
		     0);
	mgmt_config_fini(&cfg);
	CHECK_EQ_INT(load(&cfg, "{\"iscsi\": {\"allow_short_secrets\": 1}}"),
		     -EINVAL);
	mgmt_config_fini(&cfg);
	/* Equal secrets for both directions stay refused. */
	CHECK_EQ_INT(load(&cfg, "{\"iscsi\": {\"discovery_chap\": {\"user\": "
				"\"d\", \"secret_file\": \"%s/u.secret\"}, "
				"\"discovery_mutual_chap\": {\"user\": \"m\", "
				"\"secret_file\": \"%s/u.secret\"}}}"),
		     -EINVAL);
	mgmt_config_fini(&cfg);
}

static void test_names(void)
{
	char longname[300];

	CHECK(mgmt_iscsi_name_valid("iqn.2026-11.org.iopd:disk0"));
	CHECK(mgmt_iscsi_name_valid("iqn.1993-08.org.debian:01:abc-def.1"));
	CHECK(mgmt_iscsi_name_valid("eui.02004567A425678D"));
	CHECK(mgmt_iscsi_name_valid("naa.52004567BA64678D"));
	CHECK(mgmt_iscsi_name_valid("naa.62004567BA64678D0123456789ABCDEF"));
	CHECK(!mgmt_iscsi_name_valid(""));
	CHECK(!mgmt_iscsi_name_valid("iqn."));
	CHECK(!mgmt_iscsi_name_valid("iqn.2026-11."));
	CHECK(!mgmt_iscsi_name_valid("iqn.26-11.org.x"));
	CHECK(!mgmt_iscsi_name_valid("iqn.2026-11.org.x:Disk"));
	CHECK(!mgmt_iscsi_name_valid("iqn.2026-11.org.x:a b"));
	CHECK(!mgmt_iscsi_name_valid("eui.0123"));
	CHECK(!mgmt_iscsi_name_valid("naa.0123456789abcdeZ"));
	CHECK(!mgmt_iscsi_name_valid("disk0"));
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "iqn.2026-11.org.x:", 18);
	longname[223] = 0;
	CHECK(mgmt_iscsi_name_valid(longname));
	longname[223] = 'a';
	longname[224] = 0;
	CHECK(!mgmt_iscsi_name_valid(longname));
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	TEST_CASE(test_full);
	TEST_CASE(test_off_by_default);
	TEST_CASE(test_secret_files);
	TEST_CASE(test_refused);
	TEST_CASE(test_names);
	TEST_CASE(test_short_secret);
	unlink(tmp_path("cfg.json"));
	unlink(tmp_path("u.secret"));
	unlink(tmp_path("m.secret"));
	unlink(tmp_path("s.secret"));
	rmdir(dir);
	return test_done();
}
