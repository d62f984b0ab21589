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

static int mgmt_alua_json_bool(unsigned int i, const char *key, json_t *v,
			       bool *out)
{
	if (v && !json_is_boolean(v)) {
		log_error("config: iscsi: port_groups[%u]: %s: expected true "
			  "or false",
			  i, key);
		return -EINVAL;
	}
	*out = json_is_true(v);
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

/* {"group", "state", "portals", "port", "preferred", "explicit"} */
static int mgmt_alua_json_group(struct mgmt_alua *alua, unsigned int i,
				json_t *obj)
{
	struct scsi_alua_group_cfg *g = &alua->groups[i];
	json_t *state;
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
		    strcmp(key, "preferred") && strcmp(key, "explicit")) {
			log_error("config: iscsi: port_groups[%u]: unknown "
				  "key \"%s\"",
				  i, key);
			return -EINVAL;
		}
	}
	state = json_object_get(obj, "state");
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
	if ((ret = mgmt_alua_json_bool(i, "preferred",
				       json_object_get(obj, "preferred"),
				       &g->preferred)) < 0 ||
	    (ret = mgmt_alua_json_bool(i, "explicit",
				       json_object_get(obj, "explicit"),
				       &g->explicit_ok)) < 0 ||
	    (ret = mgmt_alua_json_u16(i, "group", json_object_get(obj, "group"),
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

int mgmt_alua_check(const struct mgmt_alua *alua)
{
	return scsi_alua_check_config(alua ? alua->groups : NULL,
				      alua ? alua->n : 0);
}

/* The state the configuration gave group id (no port_groups: group 1,
 * active/optimized); -ENOENT if it had no such group. */
static int mgmt_alua_cfg_state(const struct mgmt_alua *alua, uint16_t id,
			       enum scsi_alua_state *state)
{
	if (!alua) {
		*state = SCSI_ALUA_OPTIMIZED;
		return id == 1 ? 0 : -ENOENT;
	}
	for (unsigned int i = 0; i < alua->n; i++)
		if (alua->groups[i].id == id) {
			*state = alua->groups[i].state;
			return 0;
		}
	return -ENOENT;
}

int mgmt_alua_reload(const struct mgmt_alua *have, struct mgmt_alua *want)
{
	static const char *const any[] = { "*" };
	struct scsi_alua_group_cfg dflt = {
		.id = 1,
		.n_portals = 1,
		.portals = any,
	};
	struct scsi_alua_group_cfg *g = want ? want->groups : &dflt;
	unsigned int n = want ? want->n : 1;
	enum scsi_alua_state old;

	/* A state the file did not change stays as an operator or an
	 * initiator left it; one it changed is applied. */
	for (unsigned int i = 0; i < n; i++)
		g[i].keep_state =
			mgmt_alua_cfg_state(have, g[i].id, &old) == 0 &&
			old == g[i].state;
	return scsi_alua_reconfigure(g, n);
}

void mgmt_alua_save_states(json_t *iscsi)
{
	json_t *groups = json_object_get(iscsi, "port_groups"), *item;
	enum scsi_alua_state state;
	size_t i;

	if (!groups) {
		/* The default group: written only if it changed. */
		if (scsi_alua_group_state(1, &state) < 0 ||
		    state == SCSI_ALUA_OPTIMIZED)
			return;
		json_object_set_new(iscsi, "port_groups",
				    json_pack("[{s:i, s:[s], s:s}]", "group", 1,
					      "portals", "*", "state",
					      scsi_alua_state_name(state)));
		return;
	}
	json_array_foreach(groups, i, item)
	{
		json_t *id = json_object_get(item, "group");

		if (json_is_integer(id) &&
		    scsi_alua_group_state((uint16_t)json_integer_value(id),
					  &state) == 0)
			json_object_set_new(
				item, "state",
				json_string(scsi_alua_state_name(state)));
	}
}
