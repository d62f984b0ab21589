// SPDX-License-Identifier: MIT
/*
 * Management methods for ALUA target port groups (src/scsi/scsi_alua.h):
 * list them, and change a group's access state live.  Every initiator
 * session learns of a change through a unit attention; a gateway's
 * groups and states come from the config file's iscsi.port_groups, and
 * operators of a multi-gateway target set the same state on each.  A
 * change is not saved: daemon.save_config writes the live states.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/base_log.h"
#include "mgmt/mgmt_rpc.h"
#include "scsi/scsi_alua.h"

/* Who changed a group's state last: an initiator's SET TARGET PORT
 * GROUPS, or iopd (an operator, a reload). */
static const char *mgmt_alua_changed_by(enum scsi_alua_status status)
{
	switch (status) {
	case SCSI_ALUA_STATUS_EXPLICIT:
		return "initiator";
	case SCSI_ALUA_STATUS_IMPLICIT:
		return "iopd";
	default:
		return "-";
	}
}

static int mgmt_alua_list(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			  struct mgmt_error *err)
{
	static const char *const keys[] = { NULL };
	struct scsi_alua_group_info g;
	json_t *list;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0)
		return ret;
	list = json_array();
	for (unsigned int i = 0; scsi_alua_group_info(i, &g) == 0; i++) {
		json_t *portals = json_array();

		for (unsigned int j = 0; j < g.n_portals; j++)
			json_array_append_new(portals,
					      json_string(g.portals[j]));
		json_array_append_new(
			list,
			json_pack("{s:i, s:i, s:s, s:b, s:b, s:b, s:b, s:s, "
				  "s:o}",
				  "group", g.id, "port", g.port, "state",
				  scsi_alua_state_name(g.state), "preferred",
				  g.preferred, "local", g.n_portals > 0,
				  "explicit", g.explicit_ok, "changed",
				  g.status != SCSI_ALUA_STATUS_NONE,
				  "changed_by", mgmt_alua_changed_by(g.status),
				  "portals", portals));
	}
	*result = list;
	return 0;
}

/* group: a number, or a string of one (iopctl passes it so). */
static int mgmt_alua_group_param(json_t *params, uint16_t *id,
				 struct mgmt_error *err)
{
	json_t *v = json_object_get(params, "group");
	long long n = -1;
	char *end;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		n = strtoll(json_string_value(v), &end, 10);
		if (*end || end == json_string_value(v))
			n = -1;
	}
	if (n < 1 || n > 65535)
		return mgmt_error_set(err, -EINVAL,
				      "group: a target port group number");
	*id = (uint16_t)n;
	return 0;
}

static int mgmt_alua_set(struct mgmt_ctx *ctx, json_t *params, json_t **result,
			 struct mgmt_error *err)
{
	static const char *const keys[] = { "group", "state", NULL };
	enum scsi_alua_state state;
	const char *name = NULL;
	uint16_t id = 0;
	int ret;

	if ((ret = mgmt_params_only(params, keys, err)) < 0 ||
	    (ret = mgmt_alua_group_param(params, &id, err)) < 0 ||
	    (ret = mgmt_param_str(params, "state", true, &name, err)) < 0)
		return ret;
	if (scsi_alua_state_parse(name, &state) < 0)
		return mgmt_error_set(err, -EINVAL,
				      "state: active/optimized, "
				      "active/non-optimized, standby, "
				      "unavailable or transitioning");
	ret = scsi_alua_set_state(id, state);
	if (ret == -ENOENT)
		return mgmt_error_set(err, ret, "no target port group %u", id);
	if (ret == 0)
		*result = json_pack("{s:i, s:s}", "group", id, "state",
				    scsi_alua_state_name(state));
	return ret;
}

const struct mgmt_method mgmt_rpc_alua_methods[] = {
	{ "alua.list", mgmt_alua_list,
	  "the ALUA target port groups: group, relative port, state, "
	  "preferred, local (served here), explicit (SET TARGET PORT GROUPS "
	  "allowed), changed, changed_by (initiator, iopd or -), portals" },
	{ "alua.set", mgmt_alua_set,
	  "group, state: change a target port group's access state "
	  "(active/optimized, active/non-optimized, standby, unavailable, "
	  "transitioning); every session gets a unit attention" },
	{ NULL },
};
