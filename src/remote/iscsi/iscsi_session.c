// SPDX-License-Identifier: MIT
/*
 * Session-wide events of full feature phase (RFC 7143 §11.5, §11.6,
 * §11.14, §11.15): task management functions, which wait for the
 * commands they abort to come back from storage (requests cannot be
 * recalled) and drop those not yet started; Logout, which waits for
 * running commands; and the session's start (TSIH, the SCSI nexus over
 * the target's LUN map) and end.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_priv.h"

/* ---- task management (§11.5) ---- */

static uint8_t iscsi_tmf_response(int ret)
{
	return ret == 0		 ? ISCSI_TMF_RSP_COMPLETE
	       : ret == -ENOENT	 ? ISCSI_TMF_RSP_NO_LUN
	       : ret == -ENOTSUP ? ISCSI_TMF_RSP_NOT_SUPPORTED
				 : ISCSI_TMF_RSP_REJECTED;
}

/* The SCSI command set's part of m finished later (a reset the other
 * gateways heard): answer now.  The engine counted it in flight, so the
 * session and its nexus waited for it. */
static void iscsi_tmf_scsi_done(void *arg, int result)
{
	struct iscsi_tmf *m = arg;
	struct iscsi_proto *proto = m->proto;

	proto->e.inflight--;
	m->response = iscsi_tmf_response(result);
	m->waiting--;
	remote_engine_enter(&proto->e);
	iscsi_check_waiters(proto);
	/* The response, or the end of a session waiting for this. */
	remote_engine_kick(&proto->e);
	remote_engine_leave(&proto->e);
}

/* Run the SCSI command set's part of m, its aborted tasks finished:
 * true when it finishes later (iscsi_tmf_scsi_done). */
static bool iscsi_tmf_call(struct iscsi_proto *proto, struct iscsi_tmf *m)
{
	int ret;

	if (!m->call_scsi || !proto->nexus || proto->e.failed)
		return false;
	m->call_scsi = false;
	m->proto = proto;
	ret = proto->scsi->tmf(proto->nexus, m->scsi_tmf, m->lun,
			       iscsi_tmf_scsi_done, m);
	if (ret == 1) {
		m->waiting++;
		proto->e.inflight++;
		return true;
	}
	m->response = iscsi_tmf_response(ret);
	return false;
}

static void iscsi_tmf_respond(struct iscsi_proto *proto, struct iscsi_tmf *m)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };
	int func = m->bhs[1] & 0x7f;

	rsp[0] = ISCSI_OP_TMF_RSP;
	rsp[1] = ISCSI_FLAG_F;
	rsp[2] = m->response;
	memcpy(rsp + 16, m->bhs + 16, 4);
	iscsi_stamp(proto, rsp, true);
	iscsi_tx_pdu(proto, rsp, NULL, 0,
		     func == ISCSI_TMF_TARGET_COLD_RESET &&
			     m->response == ISCSI_TMF_RSP_COMPLETE);
}

/* Stop a task: not yet started ones are dropped now, running ones lose
 * their response and the TMF waits for them. */
static void iscsi_task_abort(struct iscsi_task *t, struct iscsi_tmf *m)
{
	switch (t->state) {
	case ISCSI_TASK_DATA_OUT:
		t->aborted = true;
		iscsi_task_drop(t);
		break;
	case ISCSI_TASK_SCSI:
		if (!t->aborted) {
			t->aborted = true;
			t->tmf = m;
			if (m)
				m->waiting++;
		}
		break;
	default:
		break;
	}
}

int iscsi_tmf_pdu(struct iscsi_proto *proto, const uint8_t *bhs)
{
	int func = bhs[1] & 0x7f;
	uint32_t rtt = base_be32_get(bhs + 20), ref = base_be32_get(bhs + 32);
	uint64_t lun = iscsi_lun_decode(bhs + 8);
	struct iscsi_tmf *m;
	struct iscsi_task *t;

	if (!iscsi_cmd_sn_ok(proto, bhs))
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	memcpy(m->bhs, bhs, ISCSI_BHS_BYTES);
	m->lun = lun;
	m->response = ISCSI_TMF_RSP_COMPLETE;
	switch (func) {
	case ISCSI_TMF_ABORT_TASK:
		/* §11.5.1: a task already answered does not exist any
		 * more; one never received counts as received (and so
		 * aborted) only if RefCmdSN is in the window and before
		 * the TMF's own CmdSN. */
		t = iscsi_task_by_itt(proto, rtt);
		if (t && t->state != ISCSI_TASK_TX &&
		    memcmp(t->lun_raw, bhs + 8, 8) == 0)
			iscsi_task_abort(t, m);
		else if (t || iscsi_sn_lt(ref, proto->exp_cmd_sn) ||
			 iscsi_sn_lt(iscsi_max_cmd_sn(proto), ref) ||
			 !iscsi_sn_lt(ref, base_be32_get(bhs + 24)))
			m->response = ISCSI_TMF_RSP_NO_TASK;
		break;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET:
		for (t = proto->tasks; t; t = t->next_all)
			if (t->state != ISCSI_TASK_FREE &&
			    memcmp(t->lun_raw, bhs + 8, 8) == 0)
				iscsi_task_abort(t, m);
		m->call_scsi = true;
		m->scsi_tmf = func == ISCSI_TMF_LUN_RESET ? SCSI_TMF_LUN_RESET
			      : func == ISCSI_TMF_ABORT_TASK_SET
				      ? SCSI_TMF_ABORT_TASK_SET
				      : SCSI_TMF_CLEAR_TASK_SET;
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		for (t = proto->tasks; t; t = t->next_all)
			if (t->state != ISCSI_TASK_FREE)
				iscsi_task_abort(t, m);
		m->call_scsi = true;
		m->scsi_tmf = func == ISCSI_TMF_TARGET_WARM_RESET
				      ? SCSI_TMF_TARGET_WARM_RESET
				      : SCSI_TMF_TARGET_COLD_RESET;
		break;
	case ISCSI_TMF_TASK_REASSIGN:
		/* 4: task allegiance reassignment not supported (level 0) */
		m->response = 4;
		break;
	case ISCSI_TMF_CLEAR_ACA:
		m->response = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	default:
		m->response = ISCSI_TMF_RSP_REJECTED;
		break;
	}
	m->next = proto->tmfs;
	proto->tmfs = m;
	iscsi_check_waiters(proto);
	return 0;
}

/* ---- Logout (§11.14) ---- */

static void iscsi_logout_respond(struct iscsi_proto *proto, uint32_t itt,
				 uint8_t response, bool last)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };

	rsp[0] = ISCSI_OP_LOGOUT_RSP;
	rsp[1] = ISCSI_FLAG_F;
	rsp[2] = response;
	base_be32_put(rsp + 16, itt);
	iscsi_stamp(proto, rsp, true);
	base_be16_put(rsp + 40, (uint16_t)proto->p.time2wait);
	base_be16_put(rsp + 42, (uint16_t)proto->p.time2retain);
	iscsi_tx_pdu(proto, rsp, NULL, 0, last);
}

int iscsi_logout_pdu(struct iscsi_proto *proto, const uint8_t *bhs)
{
	int reason = bhs[1] & 0x7f;
	uint32_t itt = base_be32_get(bhs + 16);

	if (!iscsi_cmd_sn_ok(proto, bhs))
		return 0;
	if (reason == ISCSI_LOGOUT_RECOVERY) {
		iscsi_logout_respond(proto, itt, ISCSI_LOGOUT_RSP_NO_RECOVERY,
				     false);
		return 0;
	}
	if (reason == ISCSI_LOGOUT_CONNECTION &&
	    base_be16_get(bhs + 20) != proto->cid) {
		iscsi_logout_respond(proto, itt, ISCSI_LOGOUT_RSP_NO_CID,
				     false);
		return 0;
	}
	if (reason > ISCSI_LOGOUT_RECOVERY)
		return iscsi_reject(proto, ISCSI_REJECT_INVALID_FIELD, bhs);
	proto->logout = true;
	proto->logout_pending = true;
	proto->logout_itt = itt;
	/* Commands still waiting for data will never get it. */
	for (struct iscsi_task *t = proto->tasks; t; t = t->next_all)
		if (t->state == ISCSI_TASK_DATA_OUT)
			iscsi_task_abort(t, NULL);
	iscsi_check_waiters(proto);
	return 0;
}

/* TMFs whose aborted tasks have finished, and a logout once nothing is
 * running, answer now. */
void iscsi_check_waiters(struct iscsi_proto *proto)
{
	struct iscsi_tmf **pp = &proto->tmfs, *m;

	while ((m = *pp)) {
		if (m->waiting || iscsi_tmf_call(proto, m)) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		if (!proto->e.failed)
			iscsi_tmf_respond(proto, m);
		free(m);
	}
	if (proto->logout_pending && proto->e.inflight == 0) {
		proto->logout_pending = false;
		/* The I_T nexus ends here, not when the socket closes: its
		 * RESERVE(6) reservation must be gone before the response
		 * lets this or another initiator go on (SPC-2 5.5.1).
		 * Nothing runs on it now, and nothing new is accepted. */
		if (proto->nexus) {
			iscsi_tasks_unmap(proto);
			proto->scsi->nexus_close(proto->nexus);
			proto->nexus = NULL;
		}
		iscsi_logout_respond(proto, proto->logout_itt,
				     ISCSI_LOGOUT_RSP_OK, true);
	}
}

void iscsi_cmd_rx_abandon(struct iscsi_proto *proto)
{
	for (struct iscsi_task *t = proto->tasks; t; t = t->next_all)
		if (t->state == ISCSI_TASK_DATA_OUT)
			iscsi_task_abort(t, NULL);
}

void iscsi_tasks_free(struct iscsi_proto *proto)
{
	struct iscsi_task *t, *next;
	struct iscsi_tmf *m, *mn;

	for (t = proto->tasks; t; t = next) {
		next = t->next_all;
		free(t->buf);
		free(t->pdus);
		free(t->iov);
		free(t);
	}
	proto->tasks = proto->free_tasks = NULL;
	for (m = proto->tmfs; m; m = mn) {
		mn = m->next;
		free(m);
	}
	proto->tmfs = NULL;
}

/* ---- session start ---- */

static atomic_uint iscsi_next_tsih = 1;

/* A configured target's LUN map, from the exports its LUNs name; a LUN
 * whose export is gone is left out.  Returns how many, or -ENOMEM. */
static int iscsi_session_map_luns(struct iscsi_proto *proto)
{
	struct iscsi_target_view *v = &proto->target;
	const struct iscsi_target_cfg *tc = v->cfg;
	int n = 0;

	proto->lun_maps = calloc(tc->n_luns + 1, sizeof(*proto->lun_maps));
	if (!proto->lun_maps)
		return -ENOMEM;
	for (unsigned int i = 0; i < tc->n_luns; i++) {
		const struct iscsi_lun_cfg *l = &tc->luns[i];
		const struct conn_export *e =
			iscsi_export_find(proto, l->export);

		/* Not offered over iSCSI or not to this address: not mapped,
		 * as if absent. */
		if (!e) {
			log_warn("%s: target %s: no export \"%s\" for LUN %llu "
				 "(absent, or not allowed over iSCSI from this "
				 "address)",
				 iscsi_peer(proto), v->name, l->export,
				 (unsigned long long)l->lun);
			continue;
		}
		proto->lun_maps[n].lun = l->lun;
		proto->lun_maps[n].export = e;
		proto->lun_maps[n].read_only = l->read_only;
		proto->lun_maps[n].block_size = l->block_size;
		n++;
	}
	v->info.luns = proto->lun_maps;
	return n;
}

/* An export's own target: LUN 0 only. */
static int iscsi_session_map_export(struct iscsi_proto *proto)
{
	struct iscsi_target_view *v = &proto->target;
	char name[ISCSI_NAME_MAX + 1];

	/* The export login found may have been removed since (login spans
	 * several PDUs and holds no export): find it again, now, in the
	 * callback that stores it. */
	memcpy(name, v->name, sizeof(name));
	if (!iscsi_target_lookup(proto, name, v)) {
		log_info("%s: target %s was removed during login",
			 iscsi_peer(proto), name);
		return -ENOENT;
	}
	v->info.luns = &v->lun0;
	return 1;
}

/* The I_T nexus for the target's LUNs (SAM-5: the initiator port is
 * "NAME,i,0xISID"). */
static int iscsi_session_nexus_open(struct iscsi_proto *proto)
{
	struct iscsi_target_view *v = &proto->target;
	struct scsi_nexus_args args = { 0 };
	char port[ISCSI_NAME_MAX + 32];
	int ret;

	snprintf(port, sizeof(port), "%s,i,0x%02x%02x%02x%02x%02x%02x",
		 proto->initiator, proto->isid[0], proto->isid[1],
		 proto->isid[2], proto->isid[3], proto->isid[4],
		 proto->isid[5]);
	args.target = &v->info;
	args.initiator = port;
	args.rel_port_id = proto->cfg.tpg;
	args.loop = proto->cfg.loop;
	args.max_xfer_bytes = proto->cfg.limits.max_request_bytes;
	ret = proto->scsi->nexus_open(&args, &proto->nexus);
	if (ret < 0)
		log_error("%s: target %s: cannot open its LUNs: %s",
			  iscsi_peer(proto), v->name, strerror(-ret));
	return ret;
}

int iscsi_session_start(struct iscsi_proto *proto)
{
	struct iscsi_target_view *v = &proto->target;
	int n, ret;

	do {
		proto->tsih = (uint16_t)atomic_fetch_add(&iscsi_next_tsih, 1);
	} while (proto->tsih == 0);
	if (proto->discovery)
		return 0;
	n = v->cfg ? iscsi_session_map_luns(proto)
		   : iscsi_session_map_export(proto);
	if (n < 0)
		return n;
	v->info.name = v->name;
	v->info.tpg = proto->cfg.tpg;
	v->info.n_luns = (unsigned int)n;
	ret = iscsi_session_nexus_open(proto);
	if (ret < 0)
		return ret;
	/* The connection list shows one export per connection: the
	 * lowest-numbered LUN's.  Removal checks them all
	 * (iscsi_proto_uses). */
	if (proto->cfg.stats) {
		const struct scsi_lun_map *first = NULL;

		for (int i = 0; i < n; i++)
			if (!first || v->info.luns[i].lun < first->lun)
				first = &v->info.luns[i];
		proto->cfg.stats->export = first ? first->export : NULL;
	}
	/* A leading login (TSIH 0, iscsi_login_header) for an ISID this
	 * initiator already has a session with: that one goes. */
	iscsi_reinstate_enter(proto);
	return 0;
}
