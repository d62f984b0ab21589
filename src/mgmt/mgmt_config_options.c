// SPDX-License-Identifier: MIT
/*
 * DDM-specific settings of an export's device, as the management channel
 * holds them: a list of KEY=VALUE copies in struct mgmt_export, which the
 * translation hands to the Local Transport unchanged (ddm_open_args
 * .options).  What a key means is the DDM's business; here they are only
 * parsed, compared, copied and saved, in the order given.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_config_options.h"

#define MGMT_OPTIONS_MAX 32

int mgmt_options_add(struct mgmt_export *e, const char *key, const char *value)
{
	struct ddm_option *opts;
	char *k, *v;

	opts = realloc(e->options, (e->n_options + 1) * sizeof(*opts));
	if (!opts)
		return -ENOMEM;
	e->options = opts;
	k = strdup(key);
	v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	opts[e->n_options].key = k;
	opts[e->n_options++].value = v;
	return 0;
}

void mgmt_options_free(struct mgmt_export *e)
{
	for (unsigned int i = 0; i < e->n_options; i++) {
		free((char *)e->options[i].key);
		free((char *)e->options[i].value);
	}
	free(e->options);
	e->options = NULL;
	e->n_options = 0;
}

int mgmt_options_parse_query(struct mgmt_export *e, const char *query)
{
	struct ddm_option opts[MGMT_OPTIONS_MAX];
	char *copy = strdup(query);
	unsigned int n;
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = ddm_options_split(copy, opts, MGMT_OPTIONS_MAX, &n);
	if (ret < 0)
		log_error("export %s: options \"%s\": expected "
			  "KEY=VALUE[&KEY=VALUE...] (at most %d)",
			  e->name ? e->name : "(unnamed)", query,
			  MGMT_OPTIONS_MAX);
	for (unsigned int i = 0; ret == 0 && i < n; i++)
		ret = mgmt_options_add(e, opts[i].key, opts[i].value);
	free(copy);
	return ret;
}

int mgmt_options_parse_json(struct mgmt_export *e, json_t *obj)
{
	const char *key;
	json_t *v;
	char num[32];
	int ret = 0;

	if (!json_is_object(obj)) {
		log_error("config: export %s: \"options\" is an object of "
			  "settings for its DDM, e.g. {\"volatile\": \"1\"}",
			  e->name ? e->name : "(unnamed)");
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (json_is_string(v)) {
			ret = mgmt_options_add(e, key, json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
			ret = mgmt_options_add(e, key, num);
		} else if (json_is_boolean(v)) {
			ret = mgmt_options_add(e, key,
					       json_is_true(v) ? "1" : "0");
		} else {
			log_error("config: export %s: option \"%s\": expected "
				  "a string, a number or a boolean",
				  e->name ? e->name : "(unnamed)", key);
			ret = -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

json_t *mgmt_options_to_json(const struct mgmt_export *e)
{
	json_t *o = json_object();

	for (unsigned int i = 0; i < e->n_options; i++)
		json_object_set_new(o, e->options[i].key,
				    json_string(e->options[i].value));
	return o;
}

bool mgmt_options_equal(const struct mgmt_export *a,
			const struct mgmt_export *b)
{
	if (a->n_options != b->n_options)
		return false;
	for (unsigned int i = 0; i < a->n_options; i++)
		if (strcmp(a->options[i].key, b->options[i].key) ||
		    strcmp(a->options[i].value, b->options[i].value))
			return false;
	return true;
}

int mgmt_options_copy(struct mgmt_export *dst, const struct mgmt_export *src)
{
	for (unsigned int i = 0; i < src->n_options; i++) {
		if (mgmt_options_add(dst, src->options[i].key,
				     src->options[i].value) < 0) {
			mgmt_options_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int mgmt_options_wrap(struct mgmt_export *e, const char *ddm)
{
	char *copy = strdup(ddm);

	if (!copy || mgmt_options_add(e, "inner", e->ddm) < 0) {
		free(copy);
		return -ENOMEM;
	}
	free(e->ddm);
	e->ddm = copy;
	return 0;
}
