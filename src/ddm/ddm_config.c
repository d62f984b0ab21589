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
#include <string.h>

#include "base/base_log.h"
#include "iopd/ddm.h"

int ddm_dev_open(struct ddm_dev *dev, const struct ddm_open_args *args)
{
	int ret;

	if (args->n_options && !dev->ops->configure) {
		log_error("%s: %s: takes no options (got \"%s\")", dev->name,
			  dev->ops->name, args->options[0].key);
		return -EINVAL;
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
