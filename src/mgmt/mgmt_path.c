// SPDX-License-Identifier: MIT
/*
 * The export path policy; see mgmt_path.h.  It runs on the management
 * thread (or at start-up) before the device is opened.  What it cannot
 * close: between this check and the open, whoever can write a directory
 * on the resolved path can still swap it; "allowed_paths" should name
 * directories only trusted users write.
 */
#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_path.h"

void mgmt_path_free_allowed(struct mgmt_config *cfg)
{
	for (unsigned int i = 0; i < cfg->n_allowed_paths; i++)
		free(cfg->allowed_paths[i]);
	free(cfg->allowed_paths);
	cfg->allowed_paths = NULL;
	cfg->n_allowed_paths = 0;
}

void mgmt_path_take_allowed(struct mgmt_config *cfg, struct mgmt_config *next)
{
	mgmt_path_free_allowed(cfg);
	cfg->allowed_paths = next->allowed_paths;
	cfg->n_allowed_paths = next->n_allowed_paths;
	next->allowed_paths = NULL;
	next->n_allowed_paths = 0;
}

int mgmt_path_load_allowed(struct mgmt_config *cfg, json_t *v)
{
	size_t i, n = json_is_array(v) ? json_array_size(v) : 0;
	json_t *item;

	if (!json_is_array(v)) {
		log_error("config: allowed_paths: expected a list of "
			  "absolute directories");
		return -EINVAL;
	}
	mgmt_path_free_allowed(cfg);
	cfg->allowed_paths = calloc(n ? n : 1, sizeof(char *));
	if (!cfg->allowed_paths)
		return -ENOMEM;
	json_array_foreach(v, i, item)
	{
		const char *s = json_string_value(item);

		if (!s || s[0] != '/') {
			log_error("config: allowed_paths[%zu]: expected an "
				  "absolute directory",
				  i);
			return -EINVAL;
		}
		cfg->allowed_paths[i] = strdup(s);
		if (!cfg->allowed_paths[i])
			return -ENOMEM;
		cfg->n_allowed_paths++;
	}
	return 0;
}

void mgmt_path_to_json(const struct mgmt_config *cfg, json_t *root)
{
	json_t *a;

	if (!cfg->allowed_paths)
		return;
	a = json_array();
	for (unsigned int i = 0; a && i < cfg->n_allowed_paths; i++)
		json_array_append_new(a, json_string(cfg->allowed_paths[i]));
	json_object_set_new(root, "allowed_paths", a);
}

/*
 * path with every symlink resolved into real.  A file that does not
 * exist yet (the file DDM creates one when given a size): its directory
 * resolved, and the last component, which must be a plain name.
 */
static int mgmt_path_resolve(const char *path, char *real)
{
	char dir[PATH_MAX];
	const char *base;
	size_t n;

	if (realpath(path, real))
		return 0;
	if (errno != ENOENT)
		return -errno;
	base = strrchr(path, '/');
	if (!base) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		n = base == path ? 1 : (size_t)(base - path);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
		base++;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -ENOENT;
	if (!realpath(dir, real))
		return -errno;
	n = strlen(real);
	if (n + 1 + strlen(base) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (n > 1)
		real[n++] = '/';
	strcpy(real + n, base);
	return 0;
}

/* real is prefix or below it (prefix resolved too, "/" allows all). */
static bool mgmt_path_under(const char *real, const char *prefix)
{
	char rp[PATH_MAX];
	size_t n;

	if (!realpath(prefix, rp))
		return false;
	n = strlen(rp);
	if (n == 1)
		return true;
	return !strncmp(real, rp, n) && (real[n] == '/' || real[n] == '\0');
}

/* Is real the same file as secret (config, token, CHAP secret)? */
static bool mgmt_path_same(const struct stat *st, const char *secret)
{
	struct stat ss;

	return secret && stat(secret, &ss) == 0 && ss.st_dev == st->st_dev &&
	       ss.st_ino == st->st_ino;
}

/* Any "secret_file" in the config file's iscsi object, at any depth. */
static bool mgmt_path_is_chap_secret(const struct stat *st, json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			if (mgmt_path_is_chap_secret(st, item))
				return true;
		}
	}
	if (!json_is_object(v))
		return false;
	json_object_foreach(v, key, item)
	{
		if (!strcmp(key, "secret_file") && json_is_string(item) &&
		    mgmt_path_same(st, json_string_value(item)))
			return true;
		if (mgmt_path_is_chap_secret(st, item))
			return true;
	}
	return false;
}

/* One of the files --tls-certificates=DIR names (its private key above
 * all; the certificates are public, but none of them is storage). */
static bool mgmt_path_is_tls_key(const struct stat *st, const char *dir)
{
	static const char *const names[] = { "server-key.pem",
					     "server-cert.pem", "ca-cert.pem",
					     "ca-crl.pem" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) <
			    (int)sizeof(path) &&
		    mgmt_path_same(st, path))
			return true;
	}
	return false;
}

/* Never served, whoever asks: kernel interfaces and iopd's secrets. */
static const char *mgmt_path_forbidden(const struct mgmt_config *cfg,
				       const char *real)
{
	struct statfs fs;
	struct stat st;

	if (mgmt_path_under(real, "/proc") || mgmt_path_under(real, "/sys"))
		return "under /proc or /sys";
	if (statfs(real, &fs) == 0 &&
	    (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC))
		return "on a procfs or sysfs";
	if (stat(real, &st) < 0)
		return NULL; /* to be created: none of these */
	if (mgmt_path_same(&st, cfg->config_file))
		return "the config file";
	if (mgmt_path_same(&st, cfg->mgmt_token_file))
		return "the management token file";
	if (cfg->iscsi && mgmt_path_is_chap_secret(&st, cfg->iscsi->file_json))
		return "a CHAP secret file";
	if (mgmt_path_same(&st, cfg->tls_psk))
		return "the TLS pre-shared key file";
	if (cfg->tls_certificates &&
	    mgmt_path_is_tls_key(&st, cfg->tls_certificates))
		return "a TLS credentials file";
	return NULL;
}

int mgmt_path_check(const struct mgmt_config *cfg, const char *what,
		    const char *path, bool rpc)
{
	char real[PATH_MAX];
	const char *why;
	int ret;

	if (!path)
		return 0;
	if (rpc && path[0] != '/') {
		log_error("%s: %s: a relative path is refused over the "
			  "management channel",
			  what, path);
		return -EINVAL;
	}
	ret = mgmt_path_resolve(path, real);
	if (ret < 0 && (!rpc || !cfg->allowed_paths))
		return 0; /* opening it fails, and says why */
	if (ret < 0) {
		log_error("%s: %s: %s", what, path, strerror(-ret));
		return ret;
	}
	why = mgmt_path_forbidden(cfg, real);
	if (why) {
		log_error("%s: %s: refused: %s is %s", what, path, real, why);
		return -EACCES;
	}
	if (!rpc || !cfg->allowed_paths)
		return 0;
	for (unsigned int i = 0; i < cfg->n_allowed_paths; i++)
		if (mgmt_path_under(real, cfg->allowed_paths[i]))
			return 0;
	log_error("%s: %s: refused: %s is not under allowed_paths", what, path,
		  real);
	return -EACCES;
}

int mgmt_path_check_config(const struct mgmt_config *cfg)
{
	int ret;

	for (unsigned int i = 0; i < cfg->n_exports; i++) {
		ret = mgmt_path_check(cfg, cfg->exports[i].name,
				      cfg->exports[i].path, false);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < cfg->n_iops; i++)
		for (unsigned int j = 0; j < cfg->iops[i].n_devs; j++) {
			ret = mgmt_path_check(cfg, cfg->iops[i].devs[j].name,
					      cfg->iops[i].devs[j].path, false);
			if (ret < 0)
				return ret;
		}
	return 0;
}
