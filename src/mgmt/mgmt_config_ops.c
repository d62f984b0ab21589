// SPDX-License-Identifier: MIT
/*
 * The operations settings (mgmt_config_ops.h): the config file's
 * "metrics_listen", "log_target" and "discover" keys and their
 * command-line twins.  Like the rest of the config file, unknown keys and
 * mistyped values are errors.
 *
 *	"metrics_listen": "127.0.0.1:9100",
 *	"log_target": "journal",
 *	"discover": { "block": true, "image_dirs": ["/srv/images"],
 *		      "image_extensions": ["img", "raw"],
 *		      "pools": [...] }	(mgmt_config_pools.c)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"

/* Images are recognised by these extensions unless the config says. */
static const char *const mgmt_ops_default_exts[] = { "img", "raw", "iso",
						     "qcow", NULL };

static int mgmt_strv_add(char ***v, unsigned int *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

static void mgmt_strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

struct mgmt_ops *mgmt_ops_get(struct mgmt_config *cfg)
{
	struct mgmt_ops *ops = cfg->ops;

	if (ops)
		return ops;
	ops = calloc(1, sizeof(*ops));
	if (!ops)
		return NULL;
	ops->discover.scan_block = true;
	for (unsigned int i = 0; mgmt_ops_default_exts[i]; i++) {
		if (mgmt_strv_add(&ops->image_exts, &ops->discover.n_image_exts,
				  mgmt_ops_default_exts[i]) < 0) {
			mgmt_ops_free(ops);
			return NULL;
		}
	}
	ops->discover.image_exts = ops->image_exts;
	cfg->ops = ops;
	return ops;
}

void mgmt_ops_free(struct mgmt_ops *ops)
{
	if (!ops)
		return;
	free(ops->metrics_listen);
	mgmt_strv_free(ops->image_dirs);
	mgmt_strv_free(ops->image_exts);
	mgmt_pools_free(ops);
	local_discovery_free(ops->discovery);
	free(ops);
}

int mgmt_ops_set_metrics_listen(struct mgmt_config *cfg, const char *addr)
{
	struct mgmt_ops *ops = mgmt_ops_get(cfg);

	if (!ops)
		return -ENOMEM;
	free(ops->metrics_listen);
	ops->metrics_listen = NULL;
	/* "none" turns off what a config file turned on. */
	if (!strcmp(addr, "none"))
		return 0;
	ops->metrics_listen = strdup(addr);
	return ops->metrics_listen ? 0 : -ENOMEM;
}

int mgmt_ops_set_log_target(struct mgmt_config *cfg, const char *text)
{
	struct mgmt_ops *ops = mgmt_ops_get(cfg);

	if (!ops)
		return -ENOMEM;
	if (!strcmp(text, "stderr"))
		ops->log_target = MGMT_LOG_STDERR;
	else if (!strcmp(text, "syslog"))
		ops->log_target = MGMT_LOG_SYSLOG;
	else if (!strcmp(text, "journal"))
		ops->log_target = MGMT_LOG_JOURNAL;
	else {
		log_error("log target %s: expected stderr, syslog or journal",
			  text);
		return -EINVAL;
	}
	ops->log_target_set = true;
	return 0;
}

int mgmt_ops_add_image_dir(struct mgmt_config *cfg, const char *dir)
{
	struct mgmt_ops *ops = mgmt_ops_get(cfg);
	int ret;

	if (!ops)
		return -ENOMEM;
	ops->discover_set = true;
	ret = mgmt_strv_add(&ops->image_dirs, &ops->discover.n_image_dirs, dir);
	ops->discover.image_dirs = ops->image_dirs;
	return ret;
}

static int mgmt_ops_json_strings(json_t *v, const char *what,
				 struct mgmt_ops *ops, bool exts)
{
	size_t i;
	json_t *item;
	int ret;

	if (!json_is_array(v)) {
		log_error("config: discover.%s: expected a list of strings",
			  what);
		return -EINVAL;
	}
	if (exts) {
		/* The file's list replaces the default one. */
		mgmt_strv_free(ops->image_exts);
		ops->image_exts = NULL;
		ops->discover.n_image_exts = 0;
	}
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item)) {
			log_error("config: discover.%s: expected strings",
				  what);
			return -EINVAL;
		}
		ret = exts ? mgmt_strv_add(&ops->image_exts,
					   &ops->discover.n_image_exts,
					   json_string_value(item))
			   : mgmt_strv_add(&ops->image_dirs,
					   &ops->discover.n_image_dirs,
					   json_string_value(item));
		if (ret < 0)
			return ret;
	}
	ops->discover.image_dirs = ops->image_dirs;
	ops->discover.image_exts = ops->image_exts;
	return 0;
}

static int mgmt_ops_json_discover(struct mgmt_ops *ops, json_t *v)
{
	const char *key;
	json_t *item;
	int ret = 0;

	if (!json_is_object(v)) {
		log_error("config: discover: expected an object");
		return -EINVAL;
	}
	ops->discover_set = true;
	json_object_foreach(v, key, item)
	{
		if (!strcmp(key, "block") && json_is_boolean(item))
			ops->discover.scan_block = json_is_true(item);
		else if (!strcmp(key, "image_dirs"))
			ret = mgmt_ops_json_strings(item, key, ops, false);
		else if (!strcmp(key, "pools"))
			ret = mgmt_pools_load_json(ops, item);
		else if (!strcmp(key, "image_extensions") &&
			 json_is_string(item) &&
			 !strcmp(json_string_value(item), "all")) {
			mgmt_strv_free(ops->image_exts);
			ops->image_exts = NULL;
			ops->discover.image_exts = NULL;
			ops->discover.n_image_exts = 0;
		} else if (!strcmp(key, "image_extensions"))
			ret = mgmt_ops_json_strings(item, key, ops, true);
		else {
			log_error("config: discover: unknown or mistyped key "
				  "\"%s\"",
				  key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int mgmt_ops_load_json(struct mgmt_config *cfg, const char *key, json_t *v)
{
	struct mgmt_ops *ops = mgmt_ops_get(cfg);

	if (!ops)
		return -ENOMEM;
	if (!strcmp(key, "discover"))
		return mgmt_ops_json_discover(ops, v);
	if (!json_is_string(v)) {
		log_error("config: %s: expected a string", key);
		return -EINVAL;
	}
	if (!strcmp(key, "metrics_listen"))
		return mgmt_ops_set_metrics_listen(cfg, json_string_value(v));
	return mgmt_ops_set_log_target(cfg, json_string_value(v));
}

static json_t *mgmt_ops_strv_json(char **v)
{
	json_t *a = json_array();

	for (char **p = v; a && p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

void mgmt_ops_to_json(const struct mgmt_config *cfg, json_t *root)
{
	static const char *const targets[] = { "stderr", "syslog", "journal" };
	const struct mgmt_ops *ops = cfg->ops;
	json_t *d;

	if (!ops)
		return;
	if (ops->metrics_listen)
		json_object_set_new(root, "metrics_listen",
				    json_string(ops->metrics_listen));
	if (ops->log_target_set)
		json_object_set_new(root, "log_target",
				    json_string(targets[ops->log_target]));
	if (!ops->discover_set)
		return;
	d = json_pack("{s:b,s:o,s:o}", "block", ops->discover.scan_block,
		      "image_dirs", mgmt_ops_strv_json(ops->image_dirs),
		      "image_extensions",
		      ops->image_exts ? mgmt_ops_strv_json(ops->image_exts)
				      : json_string("all"));
	if (d && ops->discover.n_pools)
		json_object_set_new(d, "pools", mgmt_pools_to_json(ops));
	json_object_set_new(root, "discover", d);
}
