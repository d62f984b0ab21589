// SPDX-License-Identifier: MIT
/*
 * Parsing the command line's export specifications and the JSON config
 * file (jansson) into struct mgmt_config, and translating that into the
 * Local Transport's IOP specs and the Connection Manager's export specs.
 * Unknown keys are errors: an operator's typo must not silently change
 * what is exported.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mgmt/mgmt_config.h"

void mgmt_config_init(struct mgmt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->direct = -1;
	cfg->max_request_bytes = CONN_DEFAULT_MAX_REQUEST_BYTES;
	cfg->log_level = BASE_LOG_INFO;
	cfg->busy_poll_us = -1;
}

void mgmt_config_clear_listen(struct mgmt_config *cfg)
{
	for (unsigned int i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	free(cfg->listen);
	cfg->listen = NULL;
	cfg->n_listen = 0;
}

void mgmt_config_fini(struct mgmt_config *cfg)
{
	mgmt_config_clear_listen(cfg);
	for (unsigned int i = 0; i < cfg->n_exports; i++) {
		free(cfg->exports[i].name);
		free(cfg->exports[i].description);
		free(cfg->exports[i].ddm);
		free(cfg->exports[i].path);
	}
	free(cfg->exports);
	free(cfg->default_export);
	for (unsigned int i = 0; i < cfg->local.n_iops; i++)
		free(cfg->local.iops[i].devs);
	free(cfg->local.iops);
	free((void *)cfg->connmgr.exports);
}

int mgmt_size_parse(const char *text, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!text[0] || text[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	case 'p':
	case 'P':
		shift = 50;
		end++;
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int mgmt_direct_parse(const char *text, int *direct)
{
	if (!strcmp(text, "auto"))
		*direct = -1;
	else if (!strcmp(text, "on") || !strcmp(text, "true"))
		*direct = 1;
	else if (!strcmp(text, "off") || !strcmp(text, "false"))
		*direct = 0;
	else
		return -EINVAL;
	return 0;
}

int mgmt_config_add_listen(struct mgmt_config *cfg, const char *addr)
{
	char **l = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	cfg->listen = l;
	l[cfg->n_listen] = strdup(addr);
	if (!l[cfg->n_listen])
		return -ENOMEM;
	cfg->n_listen++;
	return 0;
}

static struct mgmt_export *mgmt_export_new(struct mgmt_config *cfg)
{
	struct mgmt_export *e;

	e = realloc(cfg->exports, (cfg->n_exports + 1) * sizeof(*e));
	if (!e)
		return NULL;
	cfg->exports = e;
	e = &cfg->exports[cfg->n_exports++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* "ram:1G", "null:1G", "file:PATH", "bdev:PATH" or a bare PATH. */
static int mgmt_export_parse_target(struct mgmt_export *e, const char *spec)
{
	struct stat st;
	const char *arg;

	if (!strncmp(spec, "ram:", 4) || !strncmp(spec, "null:", 5)) {
		arg = strchr(spec, ':') + 1;
		e->ddm = strndup(spec, (size_t)(arg - spec - 1));
		if (mgmt_size_parse(arg, &e->size_bytes) < 0 ||
		    e->size_bytes == 0) {
			log_error("export %s: bad size \"%s\" (try 1G)", spec,
				  arg);
			return -EINVAL;
		}
		return e->ddm ? 0 : -ENOMEM;
	}
	if (!strncmp(spec, "file:", 5) || !strncmp(spec, "bdev:", 5)) {
		e->ddm = strndup(spec, 4);
		e->path = strdup(spec + 5);
	} else {
		if (stat(spec, &st) < 0) {
			log_error("export %s: %s", spec, strerror(errno));
			return -errno;
		}
		e->ddm = strdup(S_ISBLK(st.st_mode) ? "bdev" : "file");
		e->path = strdup(spec);
	}
	if (!e->ddm || !e->path)
		return -ENOMEM;
	if (!e->path[0]) {
		log_error("export %s: missing path", spec);
		return -EINVAL;
	}
	return 0;
}

static int mgmt_export_default_name(struct mgmt_export *e)
{
	char *copy;

	if (e->name)
		return 0;
	if (!e->path) {
		e->name = strdup(e->ddm);
		return e->name ? 0 : -ENOMEM;
	}
	copy = strdup(e->path);
	if (!copy)
		return -ENOMEM;
	e->name = strdup(basename(copy));
	free(copy);
	return e->name ? 0 : -ENOMEM;
}

int mgmt_config_add_export_spec(struct mgmt_config *cfg, const char *spec)
{
	struct mgmt_export *e;
	char *copy, *target, *opt, *eq;
	int ret = -ENOMEM;

	copy = strdup(spec);
	e = copy ? mgmt_export_new(cfg) : NULL;
	if (!e)
		goto out;
	/* desc= comes last and may hold commas. */
	opt = strstr(copy, ",desc=");
	if (opt) {
		*opt = 0;
		e->description = strdup(opt + 6);
		if (!e->description)
			goto out;
	}
	for (;;) {
		size_t n = strlen(copy);

		if (n > 3 && !strcmp(copy + n - 3, ",ro"))
			e->read_only = true;
		else if (!(n > 3 && !strcmp(copy + n - 3, ",rw")))
			break;
		copy[n - 3] = 0;
	}
	target = copy;
	eq = strchr(copy, '=');
	/* NAME= only when what precedes '=' cannot be a path or a DDM. */
	if (eq && !memchr(copy, '/', (size_t)(eq - copy)) &&
	    !memchr(copy, ':', (size_t)(eq - copy))) {
		*eq = 0;
		e->name = strdup(copy);
		if (!e->name)
			goto out;
		target = eq + 1;
	}
	ret = mgmt_export_parse_target(e, target);
	if (ret == 0)
		ret = mgmt_export_default_name(e);
out:
	free(copy);
	return ret;
}

/* JSON config file ------------------------------------------------------ */

static int mgmt_json_size(const char *what, json_t *v, uint64_t *bytes)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*bytes = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    mgmt_size_parse(json_string_value(v), bytes) == 0)
		return 0;
	log_error("config: %s: expected a size such as 1073741824 or \"1G\"",
		  what);
	return -EINVAL;
}

static int mgmt_json_strdup(const char *what, json_t *v, char **out)
{
	if (!json_is_string(v)) {
		log_error("config: %s: expected a string", what);
		return -EINVAL;
	}
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int mgmt_json_export(struct mgmt_config *cfg, json_t *obj)
{
	struct mgmt_export *e;
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: exports: each export is an object");
		return -EINVAL;
	}
	e = mgmt_export_new(cfg);
	if (!e)
		return -ENOMEM;
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "name"))
			ret = mgmt_json_strdup("export name", v, &e->name);
		else if (!strcmp(key, "description"))
			ret = mgmt_json_strdup("description", v,
					       &e->description);
		else if (!strcmp(key, "ddm"))
			ret = mgmt_json_strdup("ddm", v, &e->ddm);
		else if (!strcmp(key, "path"))
			ret = mgmt_json_strdup("path", v, &e->path);
		else if (!strcmp(key, "size"))
			ret = mgmt_json_size("size", v, &e->size_bytes);
		else if (!strcmp(key, "read_only") && json_is_boolean(v))
			e->read_only = json_is_true(v);
		else {
			log_error("config: export: unknown or mistyped key "
				  "\"%s\"",
				  key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (!e->ddm) {
		log_error("config: export %s: \"ddm\" is required",
			  e->name ? e->name : "(unnamed)");
		return -EINVAL;
	}
	return mgmt_export_default_name(e);
}

static int mgmt_json_listen(struct mgmt_config *cfg, json_t *v)
{
	size_t i;
	json_t *item;
	int ret;

	if (json_is_string(v))
		return mgmt_config_add_listen(cfg, json_string_value(v));
	if (!json_is_array(v))
		goto err;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			goto err;
		ret = mgmt_config_add_listen(cfg, json_string_value(item));
		if (ret < 0)
			return ret;
	}
	return 0;
err:
	log_error("config: listen: expected an address or a list of them");
	return -EINVAL;
}

static int mgmt_json_key(struct mgmt_config *cfg, const char *key, json_t *v)
{
	uint64_t n;
	size_t i;
	json_t *item;
	int ret;

	if (!strcmp(key, "listen"))
		return mgmt_json_listen(cfg, v);
	if (!strcmp(key, "threads") && json_is_integer(v) &&
	    json_integer_value(v) >= 0 && json_integer_value(v) <= 1024) {
		cfg->threads = (unsigned int)json_integer_value(v);
		return 0;
	}
	if (!strcmp(key, "engine") && json_is_string(v)) {
		enum base_engine engine;

		if (base_engine_parse(json_string_value(v), &engine) < 0)
			goto err_value;
		cfg->engine = engine;
		return 0;
	}
	if (!strcmp(key, "max_request_bytes")) {
		ret = mgmt_json_size(key, v, &n);
		if (ret == 0 && (n < 4096 || n > UINT32_MAX)) {
			log_error("config: max_request_bytes: 4K to 4G-1");
			return -EINVAL;
		}
		cfg->max_request_bytes = (uint32_t)n;
		return ret;
	}
	if (!strcmp(key, "busy_poll_us") && json_is_integer(v) &&
	    json_integer_value(v) >= 0 && json_integer_value(v) <= 10000) {
		cfg->busy_poll_us = (int)json_integer_value(v);
		return 0;
	}
	if (!strcmp(key, "drain_timeout_ms") && json_is_integer(v) &&
	    json_integer_value(v) > 0 && json_integer_value(v) <= 3600000) {
		cfg->drain_timeout_ms = (unsigned int)json_integer_value(v);
		return 0;
	}
	if (!strcmp(key, "default_export"))
		return mgmt_json_strdup(key, v, &cfg->default_export);
	if (!strcmp(key, "direct") && json_is_string(v)) {
		if (mgmt_direct_parse(json_string_value(v), &cfg->direct) < 0)
			goto err_value;
		return 0;
	}
	if (!strcmp(key, "log_level") && json_is_string(v)) {
		enum base_log_level level;

		if (base_log_parse_level(json_string_value(v), &level) < 0)
			goto err_value;
		cfg->log_level = level;
		return 0;
	}
	if (!strcmp(key, "exports") && json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			ret = mgmt_json_export(cfg, item);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	log_error("config: unknown or mistyped key \"%s\"", key);
	return -EINVAL;
err_value:
	log_error("config: %s: bad value \"%s\"", key, json_string_value(v));
	return -EINVAL;
}

int mgmt_config_load_file(struct mgmt_config *cfg, const char *path)
{
	json_error_t err;
	json_t *root;
	const char *key;
	json_t *v;
	int ret = 0;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		log_error("config %s:%d:%d: %s", path, err.line, err.column,
			  err.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		log_error("config %s: the top level must be an object", path);
		ret = -EINVAL;
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		ret = mgmt_json_key(cfg, key, v);
		if (ret < 0)
			break;
	}
out:
	json_decref(root);
	return ret;
}

/* Translation for the boxes below ---------------------------------------- */

int mgmt_config_specs(struct mgmt_config *cfg)
{
	unsigned int n = cfg->n_exports;
	struct connmgr_export_spec *exp;

	cfg->local.iops = calloc(n ? n : 1, sizeof(*cfg->local.iops));
	exp = calloc(n ? n : 1, sizeof(*exp));
	cfg->connmgr.exports = exp;
	if (!cfg->local.iops || !exp)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		struct mgmt_export *e = &cfg->exports[i];
		struct local_iop_spec *iop = &cfg->local.iops[i];

		iop->devs = calloc(1, sizeof(*iop->devs));
		if (!iop->devs)
			return -ENOMEM;
		cfg->local.n_iops++;
		iop->name = e->name;
		iop->ddm = e->ddm;
		iop->n_devs = 1;
		iop->devs[0].name = e->name;
		iop->devs[0].args.path = e->path;
		iop->devs[0].args.size_bytes = e->size_bytes;
		iop->devs[0].args.read_only = e->read_only || cfg->read_only;
		iop->devs[0].args.direct = cfg->direct;

		exp[i].name = e->name;
		exp[i].description = e->description;
		exp[i].iop = e->name;
		exp[i].dev = e->name;
		exp[i].read_only = e->read_only || cfg->read_only;
	}
	cfg->local.max_request_bytes = cfg->max_request_bytes;
	cfg->connmgr.n_exports = n;
	cfg->connmgr.n_workers = cfg->threads;
	cfg->connmgr.engine = cfg->engine;
	cfg->connmgr.limits.max_request_bytes = cfg->max_request_bytes;
	cfg->connmgr.limits.max_inflight = CONN_DEFAULT_MAX_INFLIGHT;
	cfg->connmgr.default_export = cfg->default_export;
	cfg->connmgr.drain_timeout_ms = cfg->drain_timeout_ms;
	cfg->connmgr.busy_poll_us = cfg->busy_poll_us < 0
					    ? MGMT_DEFAULT_BUSY_POLL_US
					    : (unsigned int)cfg->busy_poll_us;
	return 0;
}
