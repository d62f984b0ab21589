// SPDX-License-Identifier: MIT
/*
 * iscsi.port_groups: parsed here, checked and applied by the SCSI
 * command set (scsi_alua_configure).  See mgmt_config_alua.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "mgmt/mgmt_config_alua.h"
#include "scsi/scsi_alua.h"

struct mgmt_alua {
	unsigned int n;
	struct scsi_alua_group_cfg groups[SCSI_ALUA_MAX_GROUPS];
	char *portals[SCSI_ALUA_MAX_GROUPS][SCSI_ALUA_MAX_PORTALS];
};

void mgmt_alua_free(struct mgmt_alua *alua)
{
	if (!alua)
		return;
	for (unsigned int i = 0; i < alua->n; i++)
		for (unsigned int j = 0; j < alua->groups[i].n_portals; j++)
			free(alua->portals[i][j]);
	free(alua);
}

static int mgmt_alua_json_u16(unsigned int i, const char *key, json_t *v,
			      uint16_t *out)
{
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 65535) {
		log_error("config: iscsi: port_groups[%u]: %s: expected an "
			  "integer from 1 to 65535",
			  i, key);
		return -EINVAL;
	}
	*out = (uint16_t)json_integer_value(v);
	return 0;
}

static int mgmt_alua_json_portals(struct mgmt_alua *alua, unsigned int i,
				  json_t *v)
{
	struct scsi_alua_group_cfg *g = &alua->groups[i];
	json_t *item;
	size_t k;

	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > SCSI_ALUA_MAX_PORTALS) {
		log_error("config: iscsi: port_groups[%u]: portals: expected "
			  "at most %d addresses",
			  i, SCSI_ALUA_MAX_PORTALS);
		return -EINVAL;
	}
	json_array_foreach(v, k, item)
	{
		if (!json_is_string(item)) {
			log_error("config: iscsi: port_groups[%u]: portals: "
				  "expected strings",
				  i);
			return -EINVAL;
		}
		alua->portals[i][k] = strdup(json_string_value(item));
		if (!alua->portals[i][k])
			return -ENOMEM;
		g->n_portals = (unsigned int)k + 1;
	}
	g->portals = (const char *const *)alua->portals[i];
	return 0;
}

/* {"group", "state", "portals", "port", "preferred"} */
static int mgmt_alua_json_group(struct mgmt_alua *alua, unsigned int i,
				json_t *obj)
{
	struct scsi_alua_group_cfg *g = &alua->groups[i];
	json_t *state, *pref;
	const char *key;
	json_t *v;
	int ret;

	if (!json_is_object(obj) || !json_object_get(obj, "group")) {
		log_error("config: iscsi: port_groups[%u]: expected an object "
			  "with a group number",
			  i);
		return -EINVAL;
	}
	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, "group") && strcmp(key, "state") &&
		    strcmp(key, "portals") && strcmp(key, "port") &&
		    strcmp(key, "preferred")) {
			log_error("config: iscsi: port_groups[%u]: unknown "
				  "key \"%s\"",
				  i, key);
			return -EINVAL;
		}
	}
	state = json_object_get(obj, "state");
	pref = json_object_get(obj, "preferred");
	g->state = SCSI_ALUA_OPTIMIZED;
	if (state &&
	    (!json_is_string(state) ||
	     scsi_alua_state_parse(json_string_value(state), &g->state) < 0)) {
		log_error("config: iscsi: port_groups[%u]: state: "
			  "active/optimized, active/non-optimized, standby, "
			  "unavailable or transitioning",
			  i);
		return -EINVAL;
	}
	if (pref && !json_is_boolean(pref)) {
		log_error("config: iscsi: port_groups[%u]: preferred: "
			  "expected true or false",
			  i);
		return -EINVAL;
	}
	g->preferred = json_is_true(pref);
	if ((ret = mgmt_alua_json_u16(i, "group", json_object_get(obj, "group"),
				      &g->id)) < 0 ||
	    (ret = mgmt_alua_json_u16(i, "port", json_object_get(obj, "port"),
				      &g->port)) < 0)
		return ret;
	return mgmt_alua_json_portals(alua, i, json_object_get(obj, "portals"));
}

int mgmt_alua_load_json(struct mgmt_alua **aluap, json_t *v)
{
	struct mgmt_alua *alua;
	json_t *item;
	size_t i;
	int ret;

	if (!json_is_array(v) || json_array_size(v) > SCSI_ALUA_MAX_GROUPS) {
		log_error("config: iscsi: port_groups: expected an array of "
			  "at most %d groups",
			  SCSI_ALUA_MAX_GROUPS);
		return -EINVAL;
	}
	alua = calloc(1, sizeof(*alua));
	if (!alua)
		return -ENOMEM;
	json_array_foreach(v, i, item)
	{
		alua->n = (unsigned int)i + 1;
		ret = mgmt_alua_json_group(alua, (unsigned int)i, item);
		if (ret < 0) {
			mgmt_alua_free(alua);
			return ret;
		}
	}
	mgmt_alua_free(*aluap);
	*aluap = alua;
	return 0;
}

int mgmt_alua_apply(const struct mgmt_alua *alua)
{
	return scsi_alua_configure(alua ? alua->groups : NULL,
				   alua ? alua->n : 0);
}
