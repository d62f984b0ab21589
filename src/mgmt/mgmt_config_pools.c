// SPDX-License-Identifier: MIT
/*
 * The config file's discover.pools: storage pools whose devices
 * discovery lists through their DDM (ddm_ops.list), each an IOP of
 * candidates that `iopctl device export` opens by name.
 *
 *	"discover": { "pools": [ { "iop": "ceph", "ddm": "rbd",
 *		"options": { "pool": "rbd", "conf": "/etc/ceph/ceph.conf",
 *			     "id": "admin" } } ] }
 *
 * "options" are the DDM's own settings, as an export's "options" object
 * takes them; "iop" defaults to the pool= option, else the DDM's name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config.h"
#include "mgmt/mgmt_config_ops.h"
#include "mgmt/mgmt_config_options.h"

/* A pool's options as the export code holds them (borrowed). */
static struct mgmt_export mgmt_pool_opts(const struct local_disc_pool *p)
{
	return (struct mgmt_export){
		.name = (char *)p->iop,
		.options = (struct ddm_option *)p->options,
		.n_options = p->n_options,
	};
}

static void mgmt_pool_fini(struct local_disc_pool *p)
{
	struct mgmt_export e = mgmt_pool_opts(p);

	mgmt_options_free(&e);
	free((char *)p->iop);
	free((char *)p->ddm);
	memset(p, 0, sizeof(*p));
}

void mgmt_pools_free(struct mgmt_ops *ops)
{
	for (unsigned int i = 0; i < ops->discover.n_pools; i++)
		mgmt_pool_fini(&ops->pools[i]);
	free(ops->pools);
	ops->pools = NULL;
	ops->discover.pools = NULL;
	ops->discover.n_pools = 0;
}

/* The default IOP name: the pool= option, else the DDM's name. */
static int mgmt_pool_default_iop(struct local_disc_pool *p)
{
	const char *name = p->ddm;

	for (unsigned int i = 0; i < p->n_options; i++)
		if (!strcmp(p->options[i].key, "pool"))
			name = p->options[i].value;
	p->iop = strdup(name);
	return p->iop ? 0 : -ENOMEM;
}

/* Keys the DDM does not take are refused here, at load, as an export's
 * are when it opens. */
static int mgmt_pool_keys_check(const struct ddm_ops *ops,
				const struct local_disc_pool *p)
{
	for (unsigned int i = 0; ops->option_keys && i < p->n_options; i++) {
		const char *const *k = ops->option_keys;

		while (*k && strcmp(*k, p->options[i].key))
			k++;
		if (!*k) {
			log_error("config: discover.pools %s: %s takes no "
				  "option \"%s\"",
				  p->iop ? p->iop : "", ops->name,
				  p->options[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

static int mgmt_pool_parse(json_t *obj, struct local_disc_pool *p)
{
	struct mgmt_export e = { .name = (char *)"discover.pools" };
	const char *key, *ddm = NULL, *iop = NULL;
	const struct ddm_ops *ops;
	json_t *v, *opts = NULL;
	int ret;

	if (!json_is_object(obj)) {
		log_error("config: discover.pools: each pool is an object");
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (!strcmp(key, "ddm") && json_is_string(v))
			ddm = json_string_value(v);
		else if (!strcmp(key, "iop") && json_is_string(v))
			iop = json_string_value(v);
		else if (!strcmp(key, "options"))
			opts = v;
		else {
			log_error("config: discover.pools: unknown or mistyped "
				  "key \"%s\" (ddm, iop, options)",
				  key);
			return -EINVAL;
		}
	}
	ops = ddm ? ddm_find(ddm) : NULL;
	if (!ops || !ops->list) {
		log_error("config: discover.pools: \"ddm\": %s%s",
			  ddm ? ddm : "",
			  !ddm	 ? "required (\"rbd\")"
			  : !ops ? ": not in this build"
				 : ": cannot list a pool");
		return -EINVAL;
	}
	ret = opts ? mgmt_options_parse_json(&e, opts) : 0;
	p->options = e.options;
	p->n_options = e.n_options;
	p->ddm = strdup(ddm);
	if (ret == 0 && !p->ddm)
		ret = -ENOMEM;
	if (ret == 0)
		ret = iop ? ((p->iop = strdup(iop)) ? 0 : -ENOMEM)
			  : mgmt_pool_default_iop(p);
	return ret < 0 ? ret : mgmt_pool_keys_check(ops, p);
}

int mgmt_pools_load_json(struct mgmt_ops *ops, json_t *v)
{
	struct local_disc_pool *pools;
	json_t *item;
	size_t i;
	int ret = 0;

	if (!json_is_array(v)) {
		log_error("config: discover.pools: expected a list of pools");
		return -EINVAL;
	}
	mgmt_pools_free(ops);
	pools = calloc(json_array_size(v) + 1, sizeof(*pools));
	if (!pools)
		return -ENOMEM;
	ops->pools = pools;
	ops->discover.pools = pools;
	json_array_foreach(v, i, item)
	{
		ret = mgmt_pool_parse(item, &pools[i]);
		ops->discover.n_pools++;
		if (ret < 0)
			break;
	}
	return ret;
}

json_t *mgmt_pools_to_json(const struct mgmt_ops *ops)
{
	json_t *a = json_array();

	for (unsigned int i = 0; a && i < ops->discover.n_pools; i++) {
		const struct local_disc_pool *p = &ops->pools[i];
		struct mgmt_export e = mgmt_pool_opts(p);

		json_array_append_new(a,
				      json_pack("{s:s,s:s,s:o}", "iop", p->iop,
						"ddm", p->ddm, "options",
						mgmt_options_to_json(&e)));
	}
	return a;
}
