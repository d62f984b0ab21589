// SPDX-License-Identifier: MIT
/*
 * Session reinstatement (RFC 7143 §6.3.5): a leading login whose
 * InitiatorName and ISID match a session the initiator already has with
 * the same target portal group asks for that session to be replaced (an
 * initiator that lost its connection and logs in again, as after ERL 0
 * session recovery).  The new session starts with a new TSIH and the old
 * one's connection is ended: its commands still with storage complete,
 * their responses are not sent (conn_abort).  Without this, the old
 * session would stay until its NOP-In pings went unanswered, holding its
 * I_T nexus, and an initiator that retried could pile them up.
 *
 * Sessions live on every worker thread, so the table is the process's,
 * under a mutex; it is touched once when a normal session starts and once
 * when it ends.  Discovery sessions take no part: they name no target.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_priv.h"

struct iscsi_sess_entry {
	struct iscsi_sess_entry *next;
	const struct iscsi_proto *owner; /* the session now holding the key */
	uint64_t conn_id;		 /* the owner's connection */
	uint16_t tpg;
	uint8_t isid[6];
	char initiator[ISCSI_NAME_MAX + 1];
	char target[ISCSI_NAME_MAX + 1];
};

static pthread_mutex_t iscsi_sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iscsi_sess_entry *iscsi_sessions;

/* iSCSI names compare without case (the ACLs' strcasecmp, RFC 3722's
 * folding). */
static bool iscsi_sess_matches(const struct iscsi_sess_entry *e,
			       const struct iscsi_proto *proto)
{
	return e->tpg == proto->cfg.tpg &&
	       memcmp(e->isid, proto->isid, sizeof(e->isid)) == 0 &&
	       strcasecmp(e->initiator, proto->initiator) == 0 &&
	       strcasecmp(e->target, proto->target.name) == 0;
}

/* Under iscsi_sessions_lock. */
static struct iscsi_sess_entry *iscsi_sess_find(const struct iscsi_proto *p)
{
	struct iscsi_sess_entry *e;

	for (e = iscsi_sessions; e; e = e->next)
		if (iscsi_sess_matches(e, p))
			return e;
	return NULL;
}

static void iscsi_reinstate_log(const struct iscsi_proto *proto,
				uint64_t old_id)
{
	char ini[BASE_LOG_ESC_BYTES], tgt[BASE_LOG_ESC_BYTES];
	const uint8_t *i = proto->isid;

	log_info("%s: session reinstated: initiator \"%s\" ISID "
		 "0x%02x%02x%02x%02x%02x%02x on \"%s\": new TSIH %u, "
		 "connection %llu ends",
		 iscsi_peer(proto),
		 base_log_escape(ini, sizeof(ini), proto->initiator), i[0],
		 i[1], i[2], i[3], i[4], i[5],
		 base_log_escape(tgt, sizeof(tgt), proto->target.name),
		 proto->tsih, (unsigned long long)old_id);
}

void iscsi_reinstate_enter(struct iscsi_proto *proto)
{
	const struct conn_control *ctl = proto->cfg.control;
	struct iscsi_sess_entry *e;
	uint64_t old_id = 0;
	bool replaced = false;

	if (!ctl || proto->discovery)
		return;
	pthread_mutex_lock(&iscsi_sessions_lock);
	e = iscsi_sess_find(proto);
	if (e) {
		old_id = e->conn_id;
		replaced = true;
	} else if ((e = calloc(1, sizeof(*e)))) {
		e->tpg = proto->cfg.tpg;
		memcpy(e->isid, proto->isid, sizeof(e->isid));
		strcpy(e->initiator, proto->initiator);
		strcpy(e->target, proto->target.name);
		e->next = iscsi_sessions;
		iscsi_sessions = e;
	}
	if (e) {
		/* The old session, if any, no longer owns the entry: its
		 * end (iscsi_reinstate_leave) leaves it alone. */
		e->owner = proto;
		e->conn_id = proto->cfg.conn_id;
		proto->reinstatable = true;
	}
	pthread_mutex_unlock(&iscsi_sessions_lock);
	if (!e) {
		log_warn("%s: out of memory: the session cannot be reinstated "
			 "later",
			 iscsi_peer(proto));
		return;
	}
	if (replaced && old_id != proto->cfg.conn_id) {
		iscsi_reinstate_log(proto, old_id);
		ctl->abort(ctl->opaque, old_id);
	}
}

void iscsi_reinstate_leave(struct iscsi_proto *proto)
{
	struct iscsi_sess_entry **pp, *e;

	if (!proto->reinstatable)
		return;
	pthread_mutex_lock(&iscsi_sessions_lock);
	for (pp = &iscsi_sessions; (e = *pp); pp = &e->next) {
		if (e->owner == proto) {
			*pp = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&iscsi_sessions_lock);
	proto->reinstatable = false;
}
