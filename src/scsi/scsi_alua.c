// SPDX-License-Identifier: MIT
/*
 * Implicit ALUA (SPC-4 5.16): the process' target port groups, which
 * group a nexus' target port belongs to, what each access state lets a
 * command do (5.16.2.4), REPORT TARGET PORT GROUPS (6.36) and the unit
 * attention an operator's state change raises.  See scsi_alua.h.
 *
 * The table is written only by scsi_alua_configure, before any nexus
 * exists; a nexus keeps a pointer to its group for its whole life.  The
 * state is atomic: the dispatcher reads it for every command without a
 * lock, and an operator's change orders before or after each command.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "scsi/scsi_alua.h"
#include "scsi/scsi_priv.h"

/* One portal address; port 0 = any port. */
struct scsi_alua_addr {
	int family; /* AF_INET, AF_INET6; AF_UNSPEC = "*" */
	uint8_t addr[16];
	uint16_t port;
};

struct scsi_alua_group {
	uint16_t id, port;
	bool preferred;
	_Atomic uint8_t state;
	_Atomic bool changed;
	unsigned int n_portals;
	struct scsi_alua_addr addrs[SCSI_ALUA_MAX_PORTALS];
	char *portals[SCSI_ALUA_MAX_PORTALS];
};

static const char *const scsi_alua_any[] = { "*" };
static struct scsi_alua_group scsi_alua_groups[SCSI_ALUA_MAX_GROUPS] = {
	{ .id = 1, .port = 1, .n_portals = 1, .portals = { "*" } },
};
static unsigned int scsi_alua_n = 1;
static bool scsi_alua_owned; /* portals[] strings are ours to free */

static const struct {
	const char *name;
	enum scsi_alua_state state;
} scsi_alua_names[] = {
	{ "active/optimized", SCSI_ALUA_OPTIMIZED },
	{ "active/non-optimized", SCSI_ALUA_NON_OPTIMIZED },
	{ "standby", SCSI_ALUA_STANDBY },
	{ "unavailable", SCSI_ALUA_UNAVAILABLE },
	{ "transitioning", SCSI_ALUA_TRANSITIONING },
};

const char *scsi_alua_state_name(enum scsi_alua_state state)
{
	for (size_t i = 0;
	     i < sizeof(scsi_alua_names) / sizeof(*scsi_alua_names); i++)
		if (scsi_alua_names[i].state == state)
			return scsi_alua_names[i].name;
	return "unknown";
}

int scsi_alua_state_parse(const char *name, enum scsi_alua_state *state)
{
	for (size_t i = 0;
	     i < sizeof(scsi_alua_names) / sizeof(*scsi_alua_names); i++)
		if (!strcmp(scsi_alua_names[i].name, name)) {
			*state = scsi_alua_names[i].state;
			return 0;
		}
	return -EINVAL;
}

static bool scsi_alua_state_valid(enum scsi_alua_state state)
{
	return strcmp(scsi_alua_state_name(state), "unknown") != 0;
}

/* "*", "ADDR", "ADDR:PORT", "[ADDR]", "[ADDR]:PORT"; a bare IPv6
 * address has no port. */
static int scsi_alua_addr_parse(const char *s, struct scsi_alua_addr *a)
{
	char host[64];
	const char *colon = strrchr(s, ':'), *end = NULL;
	unsigned long port = 0;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (!strcmp(s, "*"))
		return 0;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		n = (size_t)(close - s - 1);
		s++;
		end = close[1] ? close + 2 : NULL;
	} else if (colon && colon == strchr(s, ':')) {
		n = (size_t)(colon - s);
		end = colon + 1;
	} else {
		n = strlen(s);
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = 0;
	if (end) {
		char *e;

		port = strtoul(end, &e, 10);
		if (!*end || *e || port > 65535)
			return -EINVAL;
	}
	a->port = (uint16_t)port;
	if (inet_pton(AF_INET, host, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static void scsi_alua_free_portals(void)
{
	if (!scsi_alua_owned)
		return;
	for (unsigned int i = 0; i < scsi_alua_n; i++)
		for (unsigned int j = 0; j < scsi_alua_groups[i].n_portals; j++)
			free(scsi_alua_groups[i].portals[j]);
	scsi_alua_owned = false;
}

static int scsi_alua_check(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	bool served = false;

	if (n > SCSI_ALUA_MAX_GROUPS) {
		log_error("alua: at most %d target port groups",
			  SCSI_ALUA_MAX_GROUPS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++) {
		uint16_t port = g[i].port ? g[i].port : g[i].id;

		if (!g[i].id || !scsi_alua_state_valid(g[i].state) ||
		    g[i].n_portals > SCSI_ALUA_MAX_PORTALS) {
			log_error("alua: group %u: bad id, state or more than "
				  "%d portals",
				  g[i].id, SCSI_ALUA_MAX_PORTALS);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++)
			if (g[j].id == g[i].id ||
			    (g[j].port ? g[j].port : g[j].id) == port) {
				log_error(
					"alua: group %u (port %u): id or port "
					"used twice",
					g[i].id, port);
				return -EINVAL;
			}
		served |= g[i].n_portals > 0;
	}
	if (n && !served) {
		log_error("alua: no target port group lists a portal of this "
			  "gateway");
		return -EINVAL;
	}
	return 0;
}

int scsi_alua_configure(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	static const struct scsi_alua_group_cfg dflt = {
		.id = 1,
		.n_portals = 1,
		.portals = scsi_alua_any,
	};
	struct scsi_alua_addr addrs[SCSI_ALUA_MAX_PORTALS];
	int ret = scsi_alua_check(g, n);

	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = 0; j < g[i].n_portals; j++)
			if (scsi_alua_addr_parse(g[i].portals[j], addrs) < 0) {
				log_error("alua: group %u: portal \"%s\" is "
					  "not *, ADDR or ADDR:PORT (numeric)",
					  g[i].id, g[i].portals[j]);
				return -EINVAL;
			}
	if (!n) {
		g = &dflt;
		n = 1;
	}
	scsi_alua_free_portals();
	memset(scsi_alua_groups, 0, sizeof(scsi_alua_groups));
	for (unsigned int i = 0; i < n; i++) {
		struct scsi_alua_group *grp = &scsi_alua_groups[i];

		grp->id = g[i].id;
		grp->port = g[i].port ? g[i].port : g[i].id;
		grp->preferred = g[i].preferred;
		atomic_store(&grp->state, (uint8_t)g[i].state);
		grp->n_portals = g[i].n_portals;
		for (unsigned int j = 0; j < grp->n_portals; j++) {
			scsi_alua_addr_parse(g[i].portals[j], &grp->addrs[j]);
			grp->portals[j] = strdup(g[i].portals[j]);
			if (!grp->portals[j])
				grp->n_portals = j; /* listed without it */
		}
	}
	scsi_alua_n = n;
	scsi_alua_owned = true;
	return 0;
}

static bool scsi_alua_addr_match(const struct scsi_alua_addr *want,
				 const struct scsi_alua_addr *have)
{
	size_t len = want->family == AF_INET ? 4 : 16;

	return want->family == have->family &&
	       !memcmp(want->addr, have->addr, len) &&
	       (!want->port || want->port == have->port);
}

uint16_t scsi_alua_portal_port(const char *local)
{
	struct scsi_alua_addr have;
	const struct scsi_alua_group *any = NULL, *first = NULL;

	if (!local || scsi_alua_addr_parse(local, &have) < 0)
		have.family = -1;
	for (unsigned int i = 0; i < scsi_alua_n; i++) {
		const struct scsi_alua_group *g = &scsi_alua_groups[i];

		for (unsigned int j = 0; j < g->n_portals; j++) {
			if (g->addrs[j].family == AF_UNSPEC) {
				if (!any)
					any = g;
			} else if (scsi_alua_addr_match(&g->addrs[j], &have)) {
				return g->port;
			}
		}
		if (g->n_portals && !first)
			first = g;
	}
	return any ? any->port : first ? first->port : 1;
}

const struct scsi_alua_group *scsi_alua_group_of(uint16_t port)
{
	const struct scsi_alua_group *first = NULL;

	for (unsigned int i = 0; i < scsi_alua_n; i++) {
		if (scsi_alua_groups[i].port == port)
			return &scsi_alua_groups[i];
		if (scsi_alua_groups[i].n_portals && !first)
			first = &scsi_alua_groups[i];
	}
	return first;
}

uint16_t scsi_alua_group_id(const struct scsi_alua_group *g)
{
	return g->id;
}

int scsi_alua_group_info(unsigned int i, struct scsi_alua_group_info *info)
{
	const struct scsi_alua_group *g;

	if (i >= scsi_alua_n)
		return -ENOENT;
	g = &scsi_alua_groups[i];
	info->id = g->id;
	info->port = g->port;
	info->state = atomic_load(&g->state);
	info->preferred = g->preferred;
	info->changed = atomic_load(&g->changed);
	info->n_portals = g->n_portals;
	info->portals = (const char *const *)g->portals;
	return 0;
}

int scsi_alua_set_state(uint16_t id, enum scsi_alua_state state)
{
	if (!scsi_alua_state_valid(state))
		return -EINVAL;
	for (unsigned int i = 0; i < scsi_alua_n; i++) {
		struct scsi_alua_group *g = &scsi_alua_groups[i];

		if (g->id != id)
			continue;
		atomic_store(&g->state, (uint8_t)state);
		atomic_store(&g->changed, true);
		log_info("alua: target port group %u is now %s", id,
			 scsi_alua_state_name(state));
		/* SPC-4 5.16.2.5: every I_T nexus learns of it, on every
		 * path, since every group's state is reported on each. */
		scsi_ua_raise_all(SCSI_ASC_ALUA_STATE_CHANGED);
		return 0;
	}
	return -ENOENT;
}

/*
 * SPC-4 5.16.2.4.4-6: what a logical unit accessed through a target
 * port in the standby, unavailable or transitioning state still does.
 * Persistent reservations (0x5e, 0x5f) work on standby paths, so a
 * cluster can fence through any of them.
 */
static bool scsi_alua_allowed(uint8_t state, const uint8_t *cdb)
{
	uint8_t sa = cdb[1] & 0x1f;

	switch (cdb[0]) {
	case SCSI_OP_INQUIRY:
	case SCSI_OP_REPORT_LUNS:
	case SCSI_OP_REQUEST_SENSE:
		return true;
	case SCSI_OP_MAINTENANCE_IN:
		return sa == SCSI_SA_REPORT_TARGET_PGS;
	case SCSI_OP_MAINTENANCE_OUT:
		return sa == SCSI_SA_SET_TARGET_PGS;
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_MODE_SENSE_10:
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
	case SCSI_OP_LOG_SELECT:
	case SCSI_OP_LOG_SENSE:
	case SCSI_OP_RECEIVE_DIAGNOSTIC:
	case SCSI_OP_SEND_DIAGNOSTIC:
	case SCSI_OP_PR_IN:
	case SCSI_OP_PR_OUT:
		return state == SCSI_ALUA_STANDBY;
	}
	return false;
}

bool scsi_alua_refuse(const struct scsi_nexus *nexus, const struct scsi_lu *lu,
		      struct scsi_cmd *cmd)
{
	uint8_t state =
		atomic_load_explicit(&nexus->alua->state, memory_order_relaxed);
	uint16_t asc;

	if (state <= SCSI_ALUA_NON_OPTIMIZED ||
	    scsi_alua_allowed(state, cmd->cdb))
		return false;
	asc = state == SCSI_ALUA_STANDBY       ? SCSI_ASC_ALUA_STANDBY
	      : state == SCSI_ALUA_UNAVAILABLE ? SCSI_ASC_ALUA_UNAVAILABLE
					       : SCSI_ASC_ALUA_TRANSITION;
	scsi_lu_sense(lu, cmd, SCSI_SK_NOT_READY, asc);
	return true;
}

/* SPC-4 6.36.2: one target port group descriptor with its one port. */
static uint32_t scsi_alua_desc(const struct scsi_alua_group *g, uint8_t *p)
{
	memset(p, 0, 12);
	p[0] = (uint8_t)((g->preferred ? 0x80 : 0) |
			 atomic_load_explicit(&g->state, memory_order_relaxed));
	/* T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP: no offline, no LBA
	 * dependent. */
	p[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
	base_be16_put(p + 2, g->id);
	/* STATUS CODE: 02h, altered by an implicit transition */
	p[5] = atomic_load_explicit(&g->changed, memory_order_relaxed) ? 0x02
								       : 0x00;
	p[7] = 1; /* target port count */
	base_be16_put(p + 10, g->port);
	return 12;
}

int scsi_alua_rtpg(struct scsi_nexus *nexus, struct scsi_lu *lu,
		   struct scsi_cmd *cmd)
{
	uint8_t p[8 + SCSI_ALUA_MAX_GROUPS * 12];
	uint32_t alloc = base_be32_get(cmd->cdb + 6), n;
	uint8_t format = cmd->cdb[1] >> 5;

	if (format > 1) {
		scsi_sense_field(lu, cmd, 1, 7);
		return 0;
	}
	/* 001b: the extended header, with the implicit transition time
	 * (0: a change is immediate). */
	n = format ? 8 : 4;
	memset(p, 0, n);
	if (format)
		p[4] = 0x10;
	for (unsigned int i = 0; i < scsi_alua_n; i++)
		n += scsi_alua_desc(&scsi_alua_groups[i], p + n);
	base_be32_put(p, n - 4);
	scsi_data_in(cmd, p, n, alloc);
	return 0;
}
