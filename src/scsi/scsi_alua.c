// SPDX-License-Identifier: MIT
/*
 * ALUA (SPC-4 5.16): the process' target port groups, which group a
 * nexus' target port belongs to, what each access state lets a command
 * do (5.16.2.4), REPORT TARGET PORT GROUPS (6.36), SET TARGET PORT
 * GROUPS (6.49) and the unit attention a state change raises.  See
 * scsi_alua.h.
 *
 * A nexus keeps a pointer to its relative port's slot for its whole
 * life; a reload rewrites slots in place and never moves a port.  The
 * state is atomic: the dispatcher reads it for every command without a
 * lock, and a change orders before or after each command.
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

/*
 * One relative target port and the group it is in.  A slot belongs to
 * its port for the life of the process (a nexus points at it); port 0:
 * never used.  The lock guards everything but the atomics, which the
 * dispatcher and VPD 0x83 read without it; portals change only on the
 * management thread, which alone reads them after unlocking.
 */
struct scsi_alua_group {
	_Atomic uint16_t id;
	uint16_t port;
	bool live; /* configured (else retired: reported unavailable) */
	bool preferred, explicit_ok;
	_Atomic uint8_t state;
	_Atomic uint8_t status; /* enum scsi_alua_status */
	unsigned int n_portals;
	struct scsi_alua_addr addrs[SCSI_ALUA_MAX_PORTALS];
	char *portals[SCSI_ALUA_MAX_PORTALS];
};

#define SCSI_ALUA_SLOTS (2 * SCSI_ALUA_MAX_GROUPS)

static const char *const scsi_alua_any[] = { "*" };
static pthread_mutex_t scsi_alua_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_alua_group scsi_alua_groups[SCSI_ALUA_SLOTS] = {
	{ .id = 1,
	  .port = 1,
	  .live = true,
	  .n_portals = 1,
	  .portals = { "*" } },
};
/* The configured groups, in configuration order: slot numbers. */
static unsigned int scsi_alua_order[SCSI_ALUA_MAX_GROUPS];
static unsigned int scsi_alua_n = 1;
static bool scsi_alua_owned; /* portals[] strings are ours to free */
/* Some group served here takes SET TARGET PORT GROUPS (TPGS 11b). */
static atomic_bool scsi_alua_explicit_on;

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

static void scsi_alua_slot_clear_portals(struct scsi_alua_group *g)
{
	if (scsi_alua_owned)
		for (unsigned int j = 0; j < g->n_portals; j++)
			free(g->portals[j]);
	memset(g->portals, 0, sizeof(g->portals));
	g->n_portals = 0;
}

static int scsi_alua_check(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	struct scsi_alua_addr addr;
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
		if (g[i].explicit_ok && !g[i].n_portals) {
			log_error("alua: group %u: explicit needs portals here "
				  "(another gateway's group changes there)",
				  g[i].id);
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
		for (unsigned int j = 0; j < g[i].n_portals; j++)
			if (scsi_alua_addr_parse(g[i].portals[j], &addr) < 0) {
				log_error("alua: group %u: portal \"%s\" is "
					  "not *, ADDR or ADDR:PORT (numeric)",
					  g[i].id, g[i].portals[j]);
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

/* The slot of each group: its port's, else one never used.  Under the
 * lock. */
static int scsi_alua_slots(const struct scsi_alua_group_cfg *g, unsigned int n,
			   unsigned int *slot)
{
	bool taken[SCSI_ALUA_SLOTS] = { false };

	for (unsigned int i = 0; i < n; i++) {
		uint16_t port = g[i].port ? g[i].port : g[i].id;
		unsigned int s, free_slot = SCSI_ALUA_SLOTS;

		for (s = 0; s < SCSI_ALUA_SLOTS; s++) {
			if (scsi_alua_groups[s].port == port)
				break;
			if (!scsi_alua_groups[s].port && !taken[s] &&
			    free_slot == SCSI_ALUA_SLOTS)
				free_slot = s;
		}
		if (s == SCSI_ALUA_SLOTS)
			s = free_slot;
		if (s == SCSI_ALUA_SLOTS) {
			log_error("alua: more than %d relative target ports "
				  "since start-up: restart to apply",
				  SCSI_ALUA_SLOTS);
			return -ENOSPC;
		}
		taken[s] = true;
		slot[i] = s;
	}
	return 0;
}

static struct scsi_alua_group *scsi_alua_find(uint16_t id)
{
	for (unsigned int i = 0; i < scsi_alua_n; i++) {
		struct scsi_alua_group *g =
			&scsi_alua_groups[scsi_alua_order[i]];

		if (atomic_load(&g->id) == id)
			return g;
	}
	return NULL;
}

/* What each group's state and status become: the configured state, or
 * with keep_state its live one; a live change is implicit. */
static void scsi_alua_next_states(const struct scsi_alua_group_cfg *g,
				  unsigned int n, bool live, uint8_t *state,
				  uint8_t *status)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct scsi_alua_group *old =
			live ? scsi_alua_find(g[i].id) : NULL;

		state[i] = (uint8_t)g[i].state;
		status[i] = SCSI_ALUA_STATUS_NONE;
		if (!old)
			continue;
		status[i] = atomic_load(&old->status);
		if (g[i].keep_state)
			state[i] = atomic_load(&old->state);
		else if (state[i] != atomic_load(&old->state))
			status[i] = SCSI_ALUA_STATUS_IMPLICIT;
	}
}

static void scsi_alua_slot_set(struct scsi_alua_group *grp,
			       const struct scsi_alua_group_cfg *g,
			       uint8_t state, uint8_t status)
{
	scsi_alua_slot_clear_portals(grp);
	atomic_store(&grp->id, g->id);
	grp->port = g->port ? g->port : g->id;
	grp->live = true;
	grp->preferred = g->preferred;
	grp->explicit_ok = g->explicit_ok;
	atomic_store(&grp->state, state);
	atomic_store(&grp->status, status);
	for (unsigned int j = 0; j < g->n_portals; j++) {
		grp->portals[j] = strdup(g->portals[j]);
		if (!grp->portals[j])
			break; /* listed without it */
		scsi_alua_addr_parse(g->portals[j], &grp->addrs[j]);
		grp->n_portals = j + 1;
	}
}

static uint32_t scsi_alua_render(uint8_t *p);

/* Under the lock: install groups (checked) in their slots.  Live, a
 * port no longer configured is retired. */
static void scsi_alua_install(const struct scsi_alua_group_cfg *g,
			      unsigned int n, const unsigned int *slot,
			      bool live)
{
	uint8_t state[SCSI_ALUA_MAX_GROUPS], status[SCSI_ALUA_MAX_GROUPS];
	bool explicit_on = false;

	bool used[SCSI_ALUA_SLOTS] = { false };

	scsi_alua_next_states(g, n, live, state, status);
	for (unsigned int i = 0; i < n; i++)
		used[slot[i]] = true;
	for (unsigned int s = 0; s < SCSI_ALUA_SLOTS; s++) {
		struct scsi_alua_group *grp = &scsi_alua_groups[s];

		if (!live) {
			scsi_alua_slot_clear_portals(grp);
			memset(grp, 0, sizeof(*grp));
		} else if (grp->live && !used[s]) {
			scsi_alua_slot_clear_portals(grp);
			grp->live = false;
			grp->explicit_ok = false;
			atomic_store(&grp->state, SCSI_ALUA_UNAVAILABLE);
			atomic_store(&grp->status, SCSI_ALUA_STATUS_IMPLICIT);
		}
	}
	scsi_alua_owned = true;
	for (unsigned int i = 0; i < n; i++) {
		scsi_alua_slot_set(&scsi_alua_groups[slot[i]], &g[i], state[i],
				   status[i]);
		scsi_alua_order[i] = slot[i];
		explicit_on |= g[i].explicit_ok;
	}
	scsi_alua_n = n;
	atomic_store(&scsi_alua_explicit_on, explicit_on);
}

static const struct scsi_alua_group_cfg scsi_alua_dflt = {
	.id = 1,
	.n_portals = 1,
	.portals = scsi_alua_any,
};

int scsi_alua_configure(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	unsigned int slot[SCSI_ALUA_MAX_GROUPS];
	int ret = scsi_alua_check(g, n);

	if (ret < 0)
		return ret;
	if (!n) {
		g = &scsi_alua_dflt;
		n = 1;
	}
	for (unsigned int i = 0; i < n; i++)
		slot[i] = i;
	pthread_mutex_lock(&scsi_alua_lock);
	scsi_alua_install(g, n, slot, false);
	pthread_mutex_unlock(&scsi_alua_lock);
	return 0;
}

static int scsi_alua_reconfig(const struct scsi_alua_group_cfg *g,
			      unsigned int n, bool apply)
{
	uint8_t before[8 + SCSI_ALUA_MAX_GROUPS * 12];
	uint8_t after[sizeof(before)];
	unsigned int slot[SCSI_ALUA_MAX_GROUPS];
	uint32_t len_before, len_after;
	int ret = scsi_alua_check(g, n);

	if (ret < 0)
		return ret;
	if (!n) {
		g = &scsi_alua_dflt;
		n = 1;
	}
	pthread_mutex_lock(&scsi_alua_lock);
	ret = scsi_alua_slots(g, n, slot);
	if (ret < 0 || !apply) {
		pthread_mutex_unlock(&scsi_alua_lock);
		return ret;
	}
	len_before = scsi_alua_render(before);
	scsi_alua_install(g, n, slot, true);
	len_after = scsi_alua_render(after);
	pthread_mutex_unlock(&scsi_alua_lock);
	/* SPC-4 5.16.2.5: every nexus learns of a changed picture (a
	 * retired port's too: it became unavailable). */
	if (len_before != len_after || memcmp(before, after, len_after)) {
		log_info("alua: target port groups reconfigured");
		scsi_ua_raise_all(SCSI_ASC_ALUA_STATE_CHANGED, NULL);
	}
	return 0;
}

int scsi_alua_reconfigure(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	return scsi_alua_reconfig(g, n, true);
}

int scsi_alua_check_config(const struct scsi_alua_group_cfg *g, unsigned int n)
{
	return scsi_alua_reconfig(g, n, false);
}

static bool scsi_alua_addr_match(const struct scsi_alua_addr *want,
				 const struct scsi_alua_addr *have)
{
	size_t len = want->family == AF_INET ? 4 : 16;

	return want->family == have->family &&
	       !memcmp(want->addr, have->addr, len) &&
	       (!want->port || want->port == have->port);
}

static uint16_t scsi_alua_portal_port_locked(const struct scsi_alua_addr *have)
{
	const struct scsi_alua_group *any = NULL, *first = NULL;

	for (unsigned int i = 0; i < scsi_alua_n; i++) {
		const struct scsi_alua_group *g =
			&scsi_alua_groups[scsi_alua_order[i]];

		for (unsigned int j = 0; j < g->n_portals; j++) {
			if (g->addrs[j].family == AF_UNSPEC) {
				if (!any)
					any = g;
			} else if (scsi_alua_addr_match(&g->addrs[j], have)) {
				return g->port;
			}
		}
		if (g->n_portals && !first)
			first = g;
	}
	return any ? any->port : first ? first->port : 1;
}

uint16_t scsi_alua_portal_port(const char *local)
{
	struct scsi_alua_addr have;
	uint16_t port;

	if (!local || scsi_alua_addr_parse(local, &have) < 0)
		have.family = -1;
	pthread_mutex_lock(&scsi_alua_lock);
	port = scsi_alua_portal_port_locked(&have);
	pthread_mutex_unlock(&scsi_alua_lock);
	return port;
}

const struct scsi_alua_group *scsi_alua_group_of(uint16_t port)
{
	const struct scsi_alua_group *g = NULL;

	pthread_mutex_lock(&scsi_alua_lock);
	for (unsigned int s = 0; s < SCSI_ALUA_SLOTS && !g; s++)
		if (scsi_alua_groups[s].port == port)
			g = &scsi_alua_groups[s];
	for (unsigned int i = 0; i < scsi_alua_n && !g; i++)
		if (scsi_alua_groups[scsi_alua_order[i]].n_portals)
			g = &scsi_alua_groups[scsi_alua_order[i]];
	pthread_mutex_unlock(&scsi_alua_lock);
	return g;
}

uint16_t scsi_alua_group_id(const struct scsi_alua_group *g)
{
	return atomic_load_explicit(&g->id, memory_order_relaxed);
}

bool scsi_alua_explicit(void)
{
	return atomic_load_explicit(&scsi_alua_explicit_on,
				    memory_order_relaxed);
}

int scsi_alua_group_info(unsigned int i, struct scsi_alua_group_info *info)
{
	const struct scsi_alua_group *g;

	pthread_mutex_lock(&scsi_alua_lock);
	if (i >= scsi_alua_n) {
		pthread_mutex_unlock(&scsi_alua_lock);
		return -ENOENT;
	}
	g = &scsi_alua_groups[scsi_alua_order[i]];
	info->id = atomic_load(&g->id);
	info->port = g->port;
	info->state = atomic_load(&g->state);
	info->status = atomic_load(&g->status);
	info->preferred = g->preferred;
	info->explicit_ok = g->explicit_ok;
	info->n_portals = g->n_portals;
	info->portals = (const char *const *)g->portals;
	pthread_mutex_unlock(&scsi_alua_lock);
	return 0;
}

int scsi_alua_group_state(uint16_t id, enum scsi_alua_state *state)
{
	const struct scsi_alua_group *g;

	pthread_mutex_lock(&scsi_alua_lock);
	g = scsi_alua_find(id);
	if (g)
		*state = atomic_load(&g->state);
	pthread_mutex_unlock(&scsi_alua_lock);
	return g ? 0 : -ENOENT;
}

int scsi_alua_set_state(uint16_t id, enum scsi_alua_state state)
{
	struct scsi_alua_group *g;

	if (!scsi_alua_state_valid(state))
		return -EINVAL;
	pthread_mutex_lock(&scsi_alua_lock);
	g = scsi_alua_find(id);
	if (g) {
		atomic_store(&g->state, (uint8_t)state);
		atomic_store(&g->status, SCSI_ALUA_STATUS_IMPLICIT);
	}
	pthread_mutex_unlock(&scsi_alua_lock);
	if (!g)
		return -ENOENT;
	log_info("alua: target port group %u is now %s", id,
		 scsi_alua_state_name(state));
	/* SPC-4 5.16.2.5: every I_T nexus learns of it, on every path,
	 * since every group's state is reported on each. */
	scsi_ua_raise_all(SCSI_ASC_ALUA_STATE_CHANGED, NULL);
	return 0;
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
	 * dependent; SET TARGET PORT GROUPS takes the last four. */
	p[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
	base_be16_put(p + 2, atomic_load(&g->id));
	p[5] = atomic_load_explicit(&g->status, memory_order_relaxed);
	p[7] = 1; /* target port count */
	base_be16_put(p + 10, g->port);
	return 12;
}

/* The descriptors, under the lock; returns their length. */
static uint32_t scsi_alua_render(uint8_t *p)
{
	uint32_t n = 0;

	for (unsigned int i = 0; i < scsi_alua_n; i++)
		n += scsi_alua_desc(&scsi_alua_groups[scsi_alua_order[i]],
				    p + n);
	return n;
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
	pthread_mutex_lock(&scsi_alua_lock);
	n += scsi_alua_render(p + n);
	pthread_mutex_unlock(&scsi_alua_lock);
	base_be32_put(p, n - 4);
	scsi_data_in(cmd, p, n, alloc);
	return 0;
}

/*
 * SPC-4 6.49.2: each 4-byte descriptor names a group and the state
 * asked for.  Under the lock: 0 if every one may be applied, else the
 * ASC to refuse the whole list with (nothing changes then).
 */
static uint16_t scsi_alua_stpg_check(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *d = p + 4 * i;
		const struct scsi_alua_group *g =
			scsi_alua_find(base_be16_get(d + 2));

		/* Offline and LBA dependent are not supported, and
		 * transitioning is the target's to enter (6.49.2). */
		if ((d[0] & 0x0f) > SCSI_ALUA_UNAVAILABLE)
			return SCSI_ASC_INVALID_FIELD_PARAM;
		/* Another gateway's group changes there, not here. */
		if (!g || !g->explicit_ok || !g->n_portals)
			return SCSI_ASC_INVALID_FIELD_PARAM;
		for (uint32_t j = 0; j < i; j++)
			if (base_be16_get(p + 4 * j + 2) ==
			    base_be16_get(d + 2))
				return SCSI_ASC_INVALID_FIELD_PARAM;
	}
	return 0;
}

/* Under the lock, after scsi_alua_stpg_check: the number changed. */
static unsigned int scsi_alua_stpg_apply(const struct scsi_nexus *nexus,
					 const uint8_t *p, uint32_t n)
{
	unsigned int changed = 0;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *d = p + 4 * i;
		struct scsi_alua_group *g =
			scsi_alua_find(base_be16_get(d + 2));
		uint8_t state = d[0] & 0x0f;

		if (atomic_load(&g->state) == state)
			continue;
		atomic_store(&g->state, state);
		atomic_store(&g->status, SCSI_ALUA_STATUS_EXPLICIT);
		log_info("alua: target port group %u is now %s (SET TARGET "
			 "PORT GROUPS from %s)",
			 base_be16_get(d + 2), scsi_alua_state_name(state),
			 nexus->initiator ? nexus->initiator : "?");
		changed++;
	}
	return changed;
}

/*
 * SET TARGET PORT GROUPS (SPC-4 6.49): explicit ALUA, for the groups
 * configured "explicit".  The states are the process' (every logical
 * unit); only the groups listed change, and every other I_T nexus
 * hears of it (5.16.2.5: not the one that asked).
 */
int scsi_alua_stpg(struct scsi_nexus *nexus, struct scsi_lu *lu,
		   struct scsi_cmd *cmd)
{
	uint32_t len = base_be32_get(cmd->cdb + 6), n;
	unsigned int changed = 0;
	uint16_t asc;

	cmd->xfer_len = len;
	if (!len)
		return 0;
	if (len < 4 || len % 4 || len > cmd->buf_len) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	n = (len - 4) / 4;
	pthread_mutex_lock(&scsi_alua_lock);
	asc = scsi_alua_stpg_check(cmd->buf + 4, n);
	if (!asc)
		changed = scsi_alua_stpg_apply(nexus, cmd->buf + 4, n);
	pthread_mutex_unlock(&scsi_alua_lock);
	if (asc)
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST, asc);
	else if (changed)
		scsi_ua_raise_all(SCSI_ASC_ALUA_STATE_CHANGED, nexus);
	return 0;
}
