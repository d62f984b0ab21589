// SPDX-License-Identifier: MIT
/*
 * Parsing the command line's export specifications and the JSON config
 * file (jansson; its top-level keys are those of the option schema,
 * mgmt_schema.h) into struct mgmt_config, and translating that into the
 * Local Transport's IOP specs and the Connection Manager's export specs.
 * Unknown keys are errors: an operator's typo must not silently change
 * what is exported.  IOPs are in mgmt_config_iop.c.
 */
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base_file.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_iscsi.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_config_options.h"
#include "mgmt/mgmt_path.h"
#include "mgmt/mgmt_schema.h"

void mgmt_config_init(struct mgmt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	mgmt_opts_defaults(cfg);
}

void mgmt_export_fini(struct mgmt_export *e)
{
	free(e->name);
	free(e->description);
	free(e->ddm);
	free(e->path);
	free(e->iop);
	free(e->device);
	mgmt_options_free(e);
	base_acl_fini(&e->acl);
	mgmt_export_tls_fini(e);
	memset(e, 0, sizeof(*e));
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
	for (unsigned int i = 0; i < cfg->n_exports; i++)
		mgmt_export_fini(&cfg->exports[i]);
	free(cfg->exports);
	free(cfg->mgmt_socket);
	for (unsigned int i = 0; i < cfg->n_iops; i++)
		mgmt_iop_fini(&cfg->iops[i]);
	free(cfg->iops);
	free(cfg->mgmt_listen);
	free(cfg->mgmt_token_file);
	free(cfg->pr_dir);
	free(cfg->user);
	free(cfg->group);
	free(cfg->default_export);
	free(cfg->tls_certificates);
	free(cfg->tls_psk);
	free(cfg->tls_priority);
	free(cfg->metrics_auth);
	mgmt_iscsi_free(cfg->iscsi);
	mgmt_ops_free(cfg->ops);
	mgmt_path_free_allowed(cfg);
	free(cfg->config_file);
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

/* The DDM a spec "NAME:ARG" names, with *arg at ARG; NULL when the spec
 * does not start with a DDM's name and a colon. */
static const struct ddm_ops *mgmt_spec_ddm(const char *spec, const char **arg)
{
	const char *colon = strchr(spec, ':');
	const struct ddm_ops *ops;
	char name[32];

	if (!colon || (size_t)(colon - spec) >= sizeof(name))
		return NULL;
	memcpy(name, spec, (size_t)(colon - spec));
	name[colon - spec] = 0;
	ops = ddm_find(name);
	*arg = colon + 1;
	return ops;
}

/* A bare PATH: file or bdev by its type. */
static int mgmt_export_parse_path(struct mgmt_export *e, const char *spec)
{
	struct stat st;

	if (stat(spec, &st) < 0) {
		char names[128];

		log_error("export %s: %s%s%s", spec, strerror(errno),
			  strchr(spec, ':') ? "; DDMs built in: " : "",
			  strchr(spec, ':') ? ddm_names(names, sizeof(names))
					    : "");
		return -errno;
	}
	e->ddm = strdup(S_ISBLK(st.st_mode) ? "bdev" : "file");
	e->path = strdup(spec);
	return e->ddm && e->path ? 0 : -ENOMEM;
}

/*
 * "NAME:ARG" for a DDM built in, ARG read as that DDM declares
 * (ddm_ops.spec_arg: ram:1G, file:PATH, rbd:pool/image), or a bare PATH.
 * A wrapping DDM's ARG (fault:SPEC) is parsed by mgmt_export_parse_target.
 */
static int mgmt_export_parse_device(struct mgmt_export *e, const char *spec)
{
	const char *arg = NULL;
	const struct ddm_ops *ops = mgmt_spec_ddm(spec, &arg);

	if (!ops)
		return mgmt_export_parse_path(e, spec);
	e->ddm = strdup(ops->name);
	if (!e->ddm)
		return -ENOMEM;
	if (!arg[0] && ops->spec_arg != DDM_SPEC_SIZE) {
		log_error("export %s: missing %s", spec,
			  ops->spec_arg == DDM_SPEC_PATH ? "path"
			  : ops->spec_key		 ? ops->spec_key
							 : "argument");
		return -EINVAL;
	}
	switch (ops->spec_arg) {
	case DDM_SPEC_SIZE:
		if (mgmt_size_parse(arg, &e->size_bytes) < 0 ||
		    e->size_bytes == 0) {
			log_error("export %s: bad size \"%s\" (try 1G)", spec,
				  arg);
			return -EINVAL;
		}
		return 0;
	case DDM_SPEC_OPTION:
		return mgmt_options_add(e, ops->spec_key, arg);
	case DDM_SPEC_WRAP:
		log_error("export %s: %s wraps another spec here only", spec,
			  ops->name);
		return -EINVAL;
	case DDM_SPEC_PATH:
	default:
		e->path = strdup(arg);
		return e->path ? 0 : -ENOMEM;
	}
}

/*
 * A device spec, then "?KEY=VALUE&..." for its DDM (the first '?' starts
 * them: a path holding one must come from the config file).  A wrapping
 * DDM's spec ("fault:SPEC") wraps SPEC's device.
 */
static int mgmt_export_parse_target(struct mgmt_export *e, const char *spec)
{
	const char *q = strchr(spec, '?'), *arg = NULL;
	const struct ddm_ops *ops = mgmt_spec_ddm(spec, &arg);
	bool wrap = ops && ops->spec_arg == DDM_SPEC_WRAP;
	char *dev;
	int ret;

	if (!q && !wrap)
		return mgmt_export_parse_device(e, spec);
	dev = strndup(spec, q ? (size_t)(q - spec) : strlen(spec));
	if (!dev)
		return -ENOMEM;
	ret = mgmt_export_parse_device(e, wrap ? dev + (arg - spec) : dev);
	if (ret == 0 && wrap)
		ret = mgmt_options_wrap(e, ops->name);
	if (ret == 0 && q)
		ret = mgmt_options_parse_query(e, q + 1);
	free(dev);
	return ret;
}

/* The value of the option a DDM's spec sets (rbd's image), if any. */
static const char *mgmt_export_spec_value(const struct mgmt_export *e)
{
	const struct ddm_ops *ops = ddm_find(e->ddm);

	if (!ops || ops->spec_arg != DDM_SPEC_OPTION)
		return NULL;
	for (unsigned int i = e->n_options; i-- > 0;)
		if (!strcmp(e->options[i].key, ops->spec_key))
			return e->options[i].value;
	return NULL;
}

static int mgmt_export_default_name(struct mgmt_export *e)
{
	const char *from;
	char *copy;

	if (e->name)
		return 0;
	from = e->path ? e->path : mgmt_export_spec_value(e);
	if (!from) {
		e->name = strdup(e->ddm);
		return e->name ? 0 : -ENOMEM;
	}
	copy = strdup(from);
	if (!copy)
		return -ENOMEM;
	e->name = strdup(basename(copy));
	free(copy);
	return e->name ? 0 : -ENOMEM;
}

/* Take the spec's trailing ",ro", ",rw" and access options
 * (",protocols=", ",allow=", ",deny=") off copy, the last first, up to
 * the first comma that starts none of them.  Returns 0 or -errno. */
static int mgmt_export_spec_opts(struct mgmt_export *e, char *copy)
{
	char *last;
	int ret;

	while ((last = strrchr(copy, ',')) && last != copy) {
		if (!strcmp(last, ",ro")) {
			e->read_only = true;
		} else if (strcmp(last, ",rw")) {
			ret = mgmt_access_parse_opt(e, last + 1);
			if (ret <= 0)
				return ret;
		}
		*last = 0;
	}
	return 0;
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
	ret = mgmt_export_spec_opts(e, copy);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
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
	e->cli = true;
	ret = mgmt_export_parse_target(e, target);
	if (ret == 0)
		ret = mgmt_export_default_name(e);
	/* The same export in the file (a saved config) and on the command
	 * line is one export. */
	for (unsigned int i = 0; ret == 0 && i + 1 < cfg->n_exports; i++) {
		if (mgmt_export_equal(&cfg->exports[i], e)) {
			mgmt_export_fini(e);
			cfg->n_exports--;
			break;
		}
	}
out:
	free(copy);
	return ret;
}

/* JSON config file ------------------------------------------------------ */

int mgmt_json_size(const char *what, json_t *v, uint64_t *bytes)
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

int mgmt_json_strdup(const char *what, json_t *v, char **out)
{
	if (!json_is_string(v)) {
		log_error("config: %s: expected a string", what);
		return -EINVAL;
	}
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int mgmt_export_parse_json(json_t *obj, struct mgmt_export *e)
{
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: exports: each export is an object");
		return -EINVAL;
	}
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
		else if (!strcmp(key, "iop"))
			ret = mgmt_json_strdup("iop", v, &e->iop);
		else if (!strcmp(key, "device"))
			ret = mgmt_json_strdup("device", v, &e->device);
		else if (!strcmp(key, "options"))
			ret = mgmt_options_parse_json(e, v);
		else if (!strcmp(key, "spec") && json_is_string(v) && !e->ddm)
			ret = mgmt_export_parse_target(e, json_string_value(v));
		else if ((ret = mgmt_export_tls_parse(e, key, v)) != -ENOENT)
			;
		else if ((ret = mgmt_access_parse_json(e, key, v)) != 0)
			ret = ret < 0 ? ret : 0;
		else {
			log_error("config: export: unknown or mistyped key "
				  "\"%s\"",
				  key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (!e->ddm == !e->iop) {
		log_error("config: export %s: give \"ddm\" (a device of its "
			  "own) or \"iop\" (a device of an existing IOP)",
			  e->name ? e->name : "(unnamed)");
		return -EINVAL;
	}
	if (e->iop && (e->path || e->size_bytes || e->n_options)) {
		log_error("config: export %s: \"path\", \"size\" and "
			  "\"options\" go with \"ddm\", not \"iop\"",
			  e->name ? e->name : "(unnamed)");
		return -EINVAL;
	}
	if (e->iop && !e->device) {
		e->device = strdup(e->iop);
		if (!e->device)
			return -ENOMEM;
	}
	if (!e->name && e->iop) {
		e->name = strdup(e->device);
		return e->name ? 0 : -ENOMEM;
	}
	return mgmt_export_default_name(e);
}

int mgmt_config_load_listen(struct mgmt_config *cfg, json_t *v)
{
	size_t i;
	json_t *item;
	int ret;

	if (json_is_string(v))
		return mgmt_config_add_listen(cfg, json_string_value(v));
	if (!json_is_array(v))
		goto err;
	/* An empty list: no NBD listener at all (not the default one). */
	cfg->no_listen = json_array_size(v) == 0;
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

int mgmt_config_load_exports(struct mgmt_config *cfg, json_t *v)
{
	struct mgmt_export *e;
	size_t i;
	json_t *item;
	int ret;

	if (!json_is_array(v)) {
		log_error("config: exports: expected a list of exports");
		return -EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		e = mgmt_export_new(cfg);
		if (!e)
			return -ENOMEM;
		ret = mgmt_export_parse_json(item, e);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The top-level object of a config file named path. */
static int mgmt_config_load_root(struct mgmt_config *cfg, const char *path,
				 json_t *root)
{
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(root)) {
		log_error("config %s: the top level must be an object", path);
		return -EINVAL;
	}
	json_object_foreach(root, key, v)
	{
		const struct mgmt_opt *o = mgmt_opt_by_key(key);

		if (!o) {
			log_error("config: unknown or mistyped key \"%s\"",
				  key);
			return -EINVAL;
		}
		ret = mgmt_opt_set_json(cfg, o, v);
		if (ret < 0)
			break;
	}
	return ret;
}

int mgmt_config_load_file(struct mgmt_config *cfg, const char *path)
{
	json_error_t err;
	json_t *root;
	int ret;

	free(cfg->config_file);
	cfg->config_file = strdup(path);
	if (!cfg->config_file)
		return -ENOMEM;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		log_error("config %s:%d:%d: %s", path, err.line, err.column,
			  err.text);
		return -EINVAL;
	}
	ret = mgmt_config_load_root(cfg, path, root);
	json_decref(root);
	return ret;
}

int mgmt_config_load_text(struct mgmt_config *cfg, const char *text, size_t len)
{
	json_error_t err;
	json_t *root;
	int ret;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		log_error("config:%d:%d: %s", err.line, err.column, err.text);
		return -EINVAL;
	}
	ret = mgmt_config_load_root(cfg, "(text)", root);
	json_decref(root);
	return ret;
}

/* Translation for the boxes below ---------------------------------------- */

int mgmt_export_specs(const struct mgmt_config *cfg,
		      const struct mgmt_export *e, struct local_iop_spec *iop,
		      struct local_dev_spec *dev,
		      struct connmgr_export_spec *exp)
{
	bool read_only = e->read_only || cfg->read_only;

	memset(exp, 0, sizeof(*exp));
	exp->name = e->name;
	exp->description = e->description;
	exp->read_only = read_only;
	exp->protocols = e->protocols;
	exp->acl = &e->acl;
	mgmt_export_tls_policy(e, &exp->tls);
	if (e->iop) {
		exp->iop = e->iop;
		exp->dev = e->device;
		return 0;
	}
	memset(iop, 0, sizeof(*iop));
	memset(dev, 0, sizeof(*dev));
	iop->name = e->name;
	iop->ddm = e->ddm;
	iop->n_devs = 1;
	iop->devs = dev;
	dev->name = e->name;
	dev->args.path = e->path;
	dev->args.size_bytes = e->size_bytes;
	dev->args.read_only = read_only;
	dev->args.direct = cfg->direct;
	dev->args.options = e->options;
	dev->args.n_options = e->n_options;
	exp->iop = e->name;
	exp->dev = e->name;
	exp->iop_owned = true;
	return 1;
}

int mgmt_config_specs(struct mgmt_config *cfg)
{
	unsigned int n = cfg->n_exports;
	struct connmgr_export_spec *exp;
	int ret;

	/* Start-up: the command line's exports and the file's. */
	ret = mgmt_path_check_config(cfg);
	if (ret < 0)
		return ret;
	cfg->local.iops = calloc(n + cfg->n_iops + 1, sizeof(*cfg->local.iops));
	exp = calloc(n ? n : 1, sizeof(*exp));
	cfg->connmgr.exports = exp;
	if (!cfg->local.iops || !exp)
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->n_iops; i++) {
		ret = mgmt_iop_specs(cfg, &cfg->iops[i],
				     &cfg->local.iops[cfg->local.n_iops]);
		if (ret < 0)
			return ret;
		cfg->local.n_iops++;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct local_iop_spec *iop =
			&cfg->local.iops[cfg->local.n_iops];
		struct local_dev_spec *dev = calloc(1, sizeof(*dev));

		if (!dev)
			return -ENOMEM;
		if (mgmt_export_specs(cfg, &cfg->exports[i], iop, dev,
				      &exp[i]) > 0)
			cfg->local.n_iops++;
		else
			free(dev);
	}
	cfg->local.max_request_bytes = cfg->max_request_bytes;
	cfg->connmgr.n_exports = n;
	cfg->connmgr.n_workers = cfg->threads;
	cfg->connmgr.engine = cfg->engine;
	cfg->connmgr.limits.max_request_bytes = cfg->max_request_bytes;
	cfg->connmgr.limits.max_inflight = CONN_DEFAULT_MAX_INFLIGHT;
	cfg->connmgr.limits.handshake_timeout_ms = cfg->handshake_timeout_ms;
	cfg->connmgr.limits.payload_timeout_ms = cfg->payload_timeout_ms;
	cfg->connmgr.limits.idle_timeout_ms = cfg->idle_timeout_ms;
	cfg->connmgr.limits.max_options = cfg->max_options;
	cfg->connmgr.max_conns = cfg->max_conns;
	cfg->connmgr.max_conns_per_addr = cfg->max_conns_per_addr;
	cfg->connmgr.limits.buffer_budget_bytes = cfg->conn_buffer_budget_bytes;
	cfg->connmgr.buffer_budget_bytes = cfg->buffer_budget_bytes;
	cfg->connmgr.default_export = cfg->default_export;
	cfg->connmgr.list_hidden = cfg->list_hidden;
	cfg->connmgr.drain_timeout_ms = cfg->drain_timeout_ms;
	cfg->connmgr.busy_poll_us = cfg->busy_poll_us < 0
					    ? MGMT_DEFAULT_BUSY_POLL_US
					    : (unsigned int)cfg->busy_poll_us;
	return 0;
}

/* Live changes and saving ------------------------------------------------ */

static bool mgmt_str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool mgmt_export_equal(const struct mgmt_export *a, const struct mgmt_export *b)
{
	return mgmt_str_equal(a->name, b->name) &&
	       mgmt_str_equal(a->description, b->description) &&
	       mgmt_str_equal(a->ddm, b->ddm) &&
	       mgmt_str_equal(a->path, b->path) &&
	       a->size_bytes == b->size_bytes && a->read_only == b->read_only &&
	       mgmt_str_equal(a->iop, b->iop) &&
	       mgmt_str_equal(a->device, b->device) &&
	       mgmt_options_equal(a, b) && mgmt_access_equal(a, b) &&
	       mgmt_export_tls_equal(a, b);
}

static char *mgmt_strdup_or_null(const char *s, bool *failed)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*failed = true;
	return copy;
}

int mgmt_config_export_append(struct mgmt_config *cfg,
			      const struct mgmt_export *e)
{
	struct mgmt_export *copy = mgmt_export_new(cfg);
	bool failed = false;

	if (!copy)
		return -ENOMEM;
	copy->name = mgmt_strdup_or_null(e->name, &failed);
	copy->description = mgmt_strdup_or_null(e->description, &failed);
	copy->ddm = mgmt_strdup_or_null(e->ddm, &failed);
	copy->path = mgmt_strdup_or_null(e->path, &failed);
	copy->iop = mgmt_strdup_or_null(e->iop, &failed);
	copy->device = mgmt_strdup_or_null(e->device, &failed);
	copy->size_bytes = e->size_bytes;
	copy->read_only = e->read_only;
	copy->cli = e->cli;
	if (mgmt_options_copy(copy, e) < 0 || mgmt_access_copy(copy, e) < 0 ||
	    mgmt_export_tls_copy(copy, e) < 0)
		failed = true;
	if (failed) {
		mgmt_export_fini(copy);
		cfg->n_exports--;
		return -ENOMEM;
	}
	return 0;
}

struct mgmt_export *mgmt_config_export_find(struct mgmt_config *cfg,
					    const char *name)
{
	for (unsigned int i = 0; i < cfg->n_exports; i++)
		if (!strcmp(cfg->exports[i].name, name))
			return &cfg->exports[i];
	return NULL;
}

void mgmt_config_export_drop(struct mgmt_config *cfg, const char *name)
{
	struct mgmt_export *e = mgmt_config_export_find(cfg, name);
	size_t i;

	if (!e)
		return;
	i = (size_t)(e - cfg->exports);
	mgmt_export_fini(e);
	memmove(e, e + 1, (cfg->n_exports - i - 1) * sizeof(*e));
	cfg->n_exports--;
}

json_t *mgmt_export_to_json(const struct mgmt_export *e, bool read_only)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(e->name));
	if (e->description)
		json_object_set_new(o, "description",
				    json_string(e->description));
	if (e->iop) {
		json_object_set_new(o, "iop", json_string(e->iop));
		json_object_set_new(o, "device", json_string(e->device));
	} else {
		json_object_set_new(o, "ddm", json_string(e->ddm));
		if (e->path)
			json_object_set_new(o, "path", json_string(e->path));
		if (e->size_bytes)
			json_object_set_new(
				o, "size",
				json_integer((json_int_t)e->size_bytes));
		if (e->n_options)
			json_object_set_new(o, "options",
					    mgmt_options_to_json(e));
	}
	json_object_set_new(o, "read_only",
			    json_boolean(e->read_only || read_only));
	mgmt_access_to_json(e, o);
	mgmt_export_tls_to_json(e, o);
	return o;
}

json_t *mgmt_config_to_json(const struct mgmt_config *cfg)
{
	json_t *root = json_object(), *listen = json_array();
	json_t *exports = json_array();

	for (unsigned int i = 0; i < cfg->n_listen; i++)
		json_array_append_new(listen, json_string(cfg->listen[i]));
	/* "listen": [] says "no NBD listener", as it does when read. */
	if (cfg->n_listen || cfg->no_listen)
		json_object_set_new(root, "listen", listen);
	else
		json_decref(listen);
	if (cfg->list_hidden)
		json_object_set_new(root, "list_exports", json_false());
	mgmt_opts_to_json(cfg, root);
	mgmt_ops_to_json(cfg, root);
	mgmt_path_to_json(cfg, root);
	if (cfg->n_iops)
		json_object_set_new(root, "iops", mgmt_iops_to_json(cfg));
	for (unsigned int i = 0; i < cfg->n_exports; i++)
		json_array_append_new(
			exports,
			mgmt_export_to_json(&cfg->exports[i], cfg->read_only));
	json_object_set_new(root, "exports", exports);
	/* NULL (nothing set, and nothing added) when iSCSI is unused */
	json_object_set_new(root, "iscsi", mgmt_iscsi_save(cfg));
	return root;
}

int mgmt_config_save(const struct mgmt_config *cfg, const char *path)
{
	json_t *root = mgmt_config_to_json(cfg);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *grown;
	size_t len;
	int ret;

	json_decref(root);
	if (!text)
		return -ENOMEM;
	/* json_dumps leaves room for nothing more: end the line here. */
	len = strlen(text);
	grown = realloc(text, len + 2);
	if (!grown) {
		free(text);
		return -ENOMEM;
	}
	text = grown;
	text[len++] = '\n';
	text[len] = '\0';
	ret = base_file_write_atomic(path, text, len, 0600);
	free(text);
	if (ret < 0) {
		log_error("save config %s: %s", path, strerror(-ret));
		return ret;
	}
	log_info("configuration saved to %s", path);
	return 0;
}
