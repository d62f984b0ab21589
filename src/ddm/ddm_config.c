// SPDX-License-Identifier: MIT
/*
 * The one path by which a device's DDM-specific settings reach it
 * (DESIGN.md: "DDMs take their own configuration through one key/value
 * hook"): ddm_dev_open hands each KEY=VALUE to ddm_ops.configure, then
 * opens.  Where the settings come from (the export spec's "?..." query,
 * the config file's "options" object) is the management channel's
 * business; what they mean is each DDM's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/ddm.h"

/* A key the DDM declared (ddm_ops.option_keys), or any when it declared
 * none; otherwise logged with the keys it takes. */
static int ddm_option_known(struct ddm_dev *dev, const char *key)
{
	const char *const *k = dev->ops->option_keys;
	char list[512];
	size_t off = 0;

	if (!k)
		return 0;
	for (; *k; k++)
		if (!strcmp(*k, key))
			return 0;
	list[0] = 0;
	for (k = dev->ops->option_keys; *k && off < sizeof(list); k++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					off ? ", " : "", *k);
	log_error("%s: %s: unknown option \"%s\" (it takes %s)", dev->name,
		  dev->ops->name, key, list[0] ? list : "none");
	return -EINVAL;
}

int ddm_dev_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	int ret;

	if (args->n_options && !dev->ops->configure) {
		log_error("%s: %s: takes no options (got \"%s\")", dev->name,
			  dev->ops->name, args->options[0].key);
		return -EINVAL;
	}
	/* Every key first: a refusal then leaves nothing configured. */
	for (unsigned int i = 0; i < args->n_options; i++) {
		ret = ddm_option_known(dev, args->options[i].key);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < args->n_options; i++) {
		const struct ddm_option *o = &args->options[i];

		ret = dev->ops->configure(dev, o->key,
					  o->value ? o->value : "");
		if (ret < 0)
			return ret;
	}
	return dev->ops->open(dev, args);
}

int ddm_options_split(char *text, struct ddm_option *opts, unsigned int max,
		      unsigned int *n)
{
	char *save = NULL, *item, *eq;

	*n = 0;
	for (item = strtok_r(text, "&", &save); item;
	     item = strtok_r(NULL, "&", &save)) {
		if (*n == max)
			return -E2BIG;
		eq = strchr(item, '=');
		if (eq)
			*eq = 0;
		if (!item[0])
			return -EINVAL;
		opts[*n].key = item;
		opts[*n].value = eq ? eq + 1 : "1";
		(*n)++;
	}
	return 0;
}
