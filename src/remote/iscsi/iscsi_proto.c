// SPDX-License-Identifier: MIT
/*
 * iscsi_proto: what the iSCSI engine gives the frame (remote_engine.h).
 * It cuts the byte stream into PDUs (BHS, AHS, header digest, data
 * segment, pad, data digest), places large write payloads straight into
 * their task's buffer, checks digests, hands each PDU to login, text or
 * command handling, and owns NOP-Out/NOP-In, Reject, liveness pings and
 * the engine's lifecycle.  It never touches a socket and never blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "iopd/remote_stats.h"
#include "remote/iscsi/iscsi_crc32c.h"
#include "remote/iscsi/iscsi_priv.h"

static struct iscsi_proto *iscsi_of(struct remote_engine *e)
{
	return (struct iscsi_proto *)e;
}

void iscsi_handshake_result(struct iscsi_proto *proto, bool ok)
{
	if (proto->handshake_counted)
		return;
	proto->handshake_counted = true;
	remote_stats_handshake("iscsi", ok);
}

/* ---- sequence numbers ---- */

/* RFC 7143 §4.2.2.1: the window is what we can still take without
 * running out of tasks; immediate commands do not count. */
uint32_t iscsi_max_cmd_sn(const struct iscsi_proto *proto)
{
	unsigned int window = proto->window;
	unsigned int left =
		proto->window_used < window ? window - proto->window_used : 0;

	if (proto->logout)
		left = 0;
	return proto->exp_cmd_sn + left - 1;
}

void iscsi_stamp(struct iscsi_proto *proto, uint8_t *bhs, bool advance)
{
	base_be32_put(bhs + 24, proto->stat_sn);
	if (advance)
		proto->stat_sn++;
	base_be32_put(bhs + 28, proto->exp_cmd_sn);
	base_be32_put(bhs + 32, iscsi_max_cmd_sn(proto));
}

/* Window check for a non-immediate command (RFC 7143 §3.2.2.1): outside
 * [ExpCmdSN, MaxCmdSN] it is silently ignored.  In the window it is taken
 * and ExpCmdSN moves past it. */
bool iscsi_cmd_sn_ok(struct iscsi_proto *proto, const uint8_t *bhs)
{
	uint32_t sn = base_be32_get(bhs + 24);

	if (bhs[0] & ISCSI_OP_IMMEDIATE)
		return true;
	if (iscsi_sn_lt(sn, proto->exp_cmd_sn) ||
	    iscsi_sn_lt(iscsi_max_cmd_sn(proto), sn)) {
		log_debug("%s: CmdSN %u outside [%u, %u]: ignored",
			  iscsi_peer(proto), sn, proto->exp_cmd_sn,
			  iscsi_max_cmd_sn(proto));
		return false;
	}
	proto->exp_cmd_sn = sn + 1;
	return true;
}

/* ---- output queue ---- */

size_t iscsi_pdu_seal(struct iscsi_proto *proto, uint8_t *hdr,
		      const uint8_t *data, uint32_t dlen, uint8_t *tail)
{
	uint32_t pad = iscsi_pad4(dlen);
	size_t n = 0;

	base_be24_put(hdr + 5, dlen);
	if (proto->p.header_digest && proto->phase == ISCSI_PHASE_FFP)
		iscsi_crc32c_put(hdr + ISCSI_BHS_BYTES,
				 iscsi_crc32c(hdr, ISCSI_BHS_BYTES));
	if (dlen == 0)
		return 0;
	memset(tail, 0, pad);
	n = pad;
	if (proto->p.data_digest && proto->phase == ISCSI_PHASE_FFP) {
		uint32_t crc = iscsi_crc32c_update(0xffffffffu, data, dlen);

		crc = ~iscsi_crc32c_update(crc, tail, pad);
		iscsi_crc32c_put(tail + pad, crc);
		n += ISCSI_DIGEST_BYTES;
	}
	return n;
}

static bool iscsi_hd(const struct iscsi_proto *proto)
{
	return proto->p.header_digest && proto->phase == ISCSI_PHASE_FFP;
}

int iscsi_tx_pdu(struct iscsi_proto *proto, uint8_t *bhs, const void *data,
		 uint32_t dlen, bool last)
{
	size_t hlen = ISCSI_BHS_BYTES + (iscsi_hd(proto) ? 4 : 0);
	struct remote_tx_block *b = remote_tx_block_new(hlen + dlen + 8);
	size_t tail;

	if (!b)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	memcpy(b->data, bhs, ISCSI_BHS_BYTES);
	if (dlen)
		memcpy(b->data + hlen, data, dlen);
	tail = iscsi_pdu_seal(proto, b->data, b->data + hlen, dlen,
			      b->data + hlen + dlen);
	b->iov.iov_len = hlen + dlen + tail;
	b->tx.last = last;
	remote_engine_tx_push(&proto->e, &b->tx);
	return 0;
}

/* RFC 7143 §11.17: the rejected PDU's header is the data segment. */
int iscsi_reject(struct iscsi_proto *proto, uint8_t reason, const uint8_t *bhs)
{
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };

	log_debug("%s: reject opcode 0x%02x reason 0x%02x", iscsi_peer(proto),
		  bhs[0] & ISCSI_OP_MASK, reason);
	rsp[0] = ISCSI_OP_REJECT;
	rsp[1] = ISCSI_FLAG_F;
	rsp[2] = reason;
	base_be32_put(rsp + 16, ISCSI_RSVD_TAG);
	iscsi_stamp(proto, rsp, true);
	return iscsi_tx_pdu(proto, rsp, bhs, ISCSI_BHS_BYTES, false);
}

static void iscsi_tx_release(struct remote_engine *e, struct remote_tx *tx)
{
	if (tx->kind == ISCSI_TX_TASK)
		iscsi_task_release((struct iscsi_task *)tx);
	else
		iscsi_r2t_release((struct iscsi_r2t *)tx);
}

/* ---- NOP ---- */

/* RFC 7143 §11.18, §11.19. */
static int iscsi_nop_out(struct iscsi_proto *proto, const uint8_t *data)
{
	const uint8_t *bhs = proto->bhs;
	uint32_t itt = base_be32_get(bhs + 16);
	uint32_t ttt = base_be32_get(bhs + 20);
	uint8_t rsp[ISCSI_BHS_BYTES] = { 0 };

	if (itt == ISCSI_RSVD_TAG) {
		/* An answer to our ping; it must not ask for one itself. */
		if (!(bhs[0] & ISCSI_OP_IMMEDIATE))
			return iscsi_reject(proto, ISCSI_REJECT_PROTOCOL, bhs);
		if (proto->ping_out && ttt == proto->ping_ttt)
			proto->ping_out = false;
		return 0;
	}
	if (ttt != ISCSI_RSVD_TAG)
		return iscsi_reject(proto, ISCSI_REJECT_INVALID_FIELD, bhs);
	if (!iscsi_cmd_sn_ok(proto, bhs))
		return 0;
	rsp[0] = ISCSI_OP_NOP_IN;
	rsp[1] = ISCSI_FLAG_F;
	memcpy(rsp + 8, bhs + 8, 8);
	base_be32_put(rsp + 16, itt);
	base_be32_put(rsp + 20, ISCSI_RSVD_TAG);
	iscsi_stamp(proto, rsp, true);
	/* Echo the ping data, cut to what the initiator can take. */
	return iscsi_tx_pdu(proto, rsp, data,
			    proto->dlen < proto->p.ini_mrdsl
				    ? proto->dlen
				    : proto->p.ini_mrdsl,
			    false);
}

static int iscsi_nop_ping(struct iscsi_proto *proto)
{
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };

	proto->ping_ttt = (proto->ping_ttt + 1) & 0x7fffffffu;
	bhs[0] = ISCSI_OP_NOP_IN;
	bhs[1] = ISCSI_FLAG_F;
	base_be32_put(bhs + 16, ISCSI_RSVD_TAG);
	base_be32_put(bhs + 20, proto->ping_ttt);
	iscsi_stamp(proto, bhs, false);
	return iscsi_tx_pdu(proto, bhs, NULL, 0, false);
}

uint64_t iscsi_proto_wake_ms(const struct iscsi_proto *proto)
{
	return proto->login_hold_ms;
}

/* Waiting for the initiator's bytes: a PDU half received (part of a
 * header buffered, or its data segment), or a command's write data. */
static bool iscsi_tick_midway(const struct iscsi_proto *proto)
{
	if (proto->rx_state != ISCSI_RX_HDR || proto->e.rend > proto->e.rstart)
		return true;
	for (const struct iscsi_task *t = proto->tasks; t; t = t->next_all)
		if (t->state == ISCSI_TASK_DATA_OUT && !t->aborted)
			return true;
	return false;
}

/* The login deadline and the stalled-payload timeout.  active: input
 * since the last tick. */
static int iscsi_tick_deadlines(struct iscsi_proto *proto, uint64_t now_ms,
				bool active)
{
	const struct conn_limits *lim = &proto->cfg.limits;
	bool midway = iscsi_tick_midway(proto);

	if (!proto->start_ms)
		proto->start_ms = now_ms;
	if (active || !midway || proto->e.ops->rx_paused(&proto->e) ||
	    !proto->quiet_since_ms)
		proto->quiet_since_ms = now_ms;
	/* The whole login, not restarted by each byte: a login dripping
	 * a byte at a time must not live for ever. */
	if (proto->phase == ISCSI_PHASE_LOGIN && lim->handshake_timeout_ms &&
	    now_ms - proto->start_ms >= lim->handshake_timeout_ms) {
		remote_stats_limit("iscsi", REMOTE_LIMIT_HANDSHAKE_TIMEOUT);
		return iscsi_proto_fail(proto, -ETIMEDOUT,
					"login not finished after %u s",
					lim->handshake_timeout_ms / 1000);
	}
	if (midway && lim->payload_timeout_ms &&
	    now_ms - proto->quiet_since_ms >= lim->payload_timeout_ms) {
		remote_stats_limit("iscsi", REMOTE_LIMIT_PAYLOAD_TIMEOUT);
		return iscsi_proto_fail(proto, -ETIMEDOUT,
					"data stalled for %u s",
					lim->payload_timeout_ms / 1000);
	}
	return 0;
}

int iscsi_proto_tick(struct iscsi_proto *proto, uint64_t now_ms)
{
	const struct iscsi_config *ic = proto->icfg;
	uint64_t interval =
		(ic->nop_interval_s ? ic->nop_interval_s : 5) * 1000ull;
	uint64_t timeout =
		(ic->nop_timeout_s ? ic->nop_timeout_s : 30) * 1000ull;
	bool active = proto->e.rx_activity;
	int ret;

	if (proto->e.rx_closed)
		return 0;
	remote_engine_enter(&proto->e);
	if (proto->login_hold_ms) {
		/* A login held after failed CHAP checks (iscsi_authfail.c):
		 * the hold is capped, and resumes it here. */
		ret = iscsi_login_resume(proto, now_ms);
		remote_engine_leave(&proto->e);
		return ret;
	}
	ret = iscsi_tick_deadlines(proto, now_ms, active);
	if (ret < 0) {
		/* failed: nothing more to check */
	} else if (active || proto->last_rx_ms == 0) {
		proto->e.rx_activity = false;
		proto->last_rx_ms = now_ms;
		proto->ping_out = false;
	} else if (proto->phase == ISCSI_PHASE_LOGIN) {
		/* Silence; the deadline above bounds a login that talks. */
		if (now_ms - proto->last_rx_ms >= interval + timeout)
			ret = iscsi_proto_fail(proto, -ETIMEDOUT,
					       "login timed out");
	} else if (proto->ping_out) {
		if (now_ms - proto->ping_ms >= timeout)
			ret = iscsi_proto_fail(proto, -ETIMEDOUT,
					       "no answer to NOP-In for %llu s",
					       (unsigned long long)timeout /
						       1000);
	} else if (now_ms - proto->last_rx_ms >= interval && !proto->logout) {
		proto->ping_out = true;
		proto->ping_ms = now_ms;
		ret = iscsi_nop_ping(proto);
	}
	remote_engine_leave(&proto->e);
	return ret;
}

/* ---- receive side ---- */

static bool iscsi_rx_paused(const struct remote_engine *e)
{
	const struct iscsi_proto *proto = (const struct iscsi_proto *)e;

	if (proto->rx_state != ISCSI_RX_HDR)
		return false;
	if (proto->login_hold_ms)
		return true;
	/* A peer that does not read its replies must not grow our
	 * memory; nor may commands arrive with no task to take them. */
	if (e->tx_block_bytes > 4u * 1024 * 1024)
		return true;
	return proto->phase == ISCSI_PHASE_FFP && !iscsi_task_available(proto);
}

static int iscsi_dispatch(struct iscsi_proto *proto, const uint8_t *data,
			  bool digest_ok)
{
	const uint8_t *bhs = proto->bhs;
	uint8_t op = bhs[0] & ISCSI_OP_MASK;

	if (proto->phase == ISCSI_PHASE_LOGIN)
		return iscsi_login_pdu(proto, bhs, data, proto->dlen);
	if (op == ISCSI_OP_SCSI_CMD && !proto->discovery)
		return iscsi_cmd_pdu(proto, data, digest_ok);
	if (op == ISCSI_OP_DATA_OUT && !proto->discovery)
		return iscsi_data_out_pdu(proto, data, digest_ok);
	if (!digest_ok)
		return iscsi_reject(proto, ISCSI_REJECT_DATA_DIGEST, bhs);
	switch (op) {
	case ISCSI_OP_NOP_OUT:
		return iscsi_nop_out(proto, data);
	case ISCSI_OP_TEXT_REQ:
		return iscsi_text_pdu(proto, bhs, data, proto->dlen);
	case ISCSI_OP_LOGOUT:
		return iscsi_logout_pdu(proto, bhs);
	case ISCSI_OP_TMF_REQ:
		if (proto->discovery)
			return iscsi_reject(proto, ISCSI_REJECT_PROTOCOL, bhs);
		return iscsi_tmf_pdu(proto, bhs);
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_DATA_OUT:
	case ISCSI_OP_LOGIN_REQ:
	case ISCSI_OP_SNACK: /* no SNACK at error recovery level 0 */
		return iscsi_reject(proto, ISCSI_REJECT_PROTOCOL, bhs);
	default:
		return iscsi_reject(proto, ISCSI_REJECT_NOT_SUPPORTED, bhs);
	}
}

/* A whole BHS (and AHS, header digest) is at rbuf + rstart. */
static int iscsi_rx_header(struct iscsi_proto *proto, size_t hlen)
{
	uint8_t *p = proto->e.rbuf + proto->e.rstart;
	uint8_t op = p[0] & ISCSI_OP_MASK;
	uint8_t *dst = NULL;
	int ret = 0;

	if (iscsi_hd(proto)) {
		size_t covered = hlen - ISCSI_DIGEST_BYTES;

		if (iscsi_crc32c(p, covered) != iscsi_crc32c_get(p + covered))
			return iscsi_proto_fail(proto, -EPROTO,
						"header digest error");
	}
	if (proto->phase == ISCSI_PHASE_LOGIN && op != ISCSI_OP_LOGIN_REQ)
		return iscsi_proto_fail(proto, -EPROTO,
					"opcode 0x%02x before login", op);
	memcpy(proto->bhs, p, ISCSI_BHS_BYTES);
	proto->e.rstart += hlen;
	proto->rx_task = NULL;
	proto->rx_drop = 0;
	proto->rx_r2t = NULL;
	if (proto->phase == ISCSI_PHASE_FFP && !proto->discovery) {
		if (op == ISCSI_OP_SCSI_CMD) {
			/* The AHS (extended CDB) is still in rbuf. */
			proto->ahs = p + ISCSI_BHS_BYTES;
			ret = iscsi_cmd_hdr(proto, &dst);
		} else if (op == ISCSI_OP_DATA_OUT) {
			ret = iscsi_data_out_hdr(proto, &dst);
		}
		if (ret < 0)
			return ret;
	}
	proto->rx_dst = dst;
	proto->rx_got = 0;
	return 0;
}

static bool iscsi_dd(const struct iscsi_proto *proto)
{
	return proto->p.data_digest && proto->phase == ISCSI_PHASE_FFP;
}

static bool iscsi_dd_check(struct iscsi_proto *proto, const uint8_t *data,
			   const uint8_t *tail)
{
	uint32_t crc;

	if (!iscsi_dd(proto) || proto->dlen == 0)
		return true;
	crc = iscsi_crc32c_update(0xffffffffu, data, proto->dlen);
	crc = ~iscsi_crc32c_update(crc, tail, proto->pad);
	return crc == iscsi_crc32c_get(tail + proto->pad);
}

/* The front of rbuf may be a BHS: start its PDU.  Returns as rx_step. */
static int iscsi_rx_pdu(struct iscsi_proto *proto)
{
	size_t avail = proto->e.rend - proto->e.rstart;
	uint8_t *p = proto->e.rbuf + proto->e.rstart;
	size_t need;
	int ret;

	if (iscsi_rx_paused(&proto->e) || avail < ISCSI_BHS_BYTES ||
	    iscsi_cmd_mem_wait(proto, p))
		return 0;
	proto->ahs_len = p[4] * 4u;
	proto->dlen = base_be24_get(p + 5);
	proto->pad = iscsi_pad4(proto->dlen);
	if (proto->dlen > ISCSI_OUR_MRDSL)
		return iscsi_proto_fail(proto, -EPROTO,
					"data segment of %u bytes",
					proto->dlen);
	need = ISCSI_BHS_BYTES + proto->ahs_len + (iscsi_hd(proto) ? 4 : 0);
	if (avail < need)
		return 0;
	ret = iscsi_rx_header(proto, need);
	if (ret < 0 || proto->e.rx_closed)
		return ret;
	/* After a large payload read in place, the next is likely another
	 * (a write's Data-Out stream): read little more than its header
	 * into rbuf, so its payload too lands in place, not copied. */
	proto->e.rx_read_max = proto->rx_dst && proto->dlen >= ISCSI_RX_BIG
				       ? ISCSI_RX_HDR_READ
				       : 0;
	if (proto->dlen == 0) {
		ret = iscsi_dispatch(proto, NULL, true);
		return ret < 0 ? ret : 1;
	}
	if (!proto->rx_dst) {
		proto->rx_state = ISCSI_RX_BODY;
		return 1;
	}
	/* Straight into the task's buffer: what is already here is copied,
	 * the rest is read in place. */
	need = proto->e.rend - proto->e.rstart;
	if (need > proto->dlen)
		need = proto->dlen;
	memcpy(proto->rx_dst, proto->e.rbuf + proto->e.rstart, need);
	proto->e.rstart += need;
	proto->rx_got = (uint32_t)need;
	proto->rx_state = proto->rx_got < proto->dlen ? ISCSI_RX_PAYLOAD
						      : ISCSI_RX_TRAILER;
	return 1;
}

static int iscsi_rx_step(struct remote_engine *e)
{
	struct iscsi_proto *proto = iscsi_of(e);
	size_t avail = e->rend - e->rstart;
	uint8_t *p = e->rbuf + e->rstart;
	size_t dd = iscsi_dd(proto) && proto->dlen ? 4 : 0;
	size_t need;
	int ret;

	switch (proto->rx_state) {
	case ISCSI_RX_PAYLOAD:
		return 0;
	case ISCSI_RX_TRAILER:
		if (avail < proto->pad + dd)
			return 0;
		e->rstart += proto->pad + dd;
		proto->rx_state = ISCSI_RX_HDR;
		ret = iscsi_dispatch(proto, proto->rx_dst,
				     iscsi_dd_check(proto, proto->rx_dst, p));
		return ret < 0 ? ret : 1;
	case ISCSI_RX_BODY:
		need = proto->dlen + proto->pad + dd;
		if (avail < need)
			return 0;
		e->rstart += need;
		proto->rx_state = ISCSI_RX_HDR;
		ret = iscsi_dispatch(proto, p,
				     iscsi_dd_check(proto, p, p + proto->dlen));
		return ret < 0 ? ret : 1;
	case ISCSI_RX_HDR:
		break;
	}
	return iscsi_rx_pdu(proto);
}

static bool iscsi_rx_direct(struct remote_engine *e, void **buf, size_t *len)
{
	struct iscsi_proto *proto = iscsi_of(e);

	if (proto->rx_state != ISCSI_RX_PAYLOAD)
		return false;
	*buf = proto->rx_dst + proto->rx_got;
	*len = proto->dlen - proto->rx_got;
	return true;
}

static void iscsi_rx_direct_done(struct remote_engine *e, size_t n)
{
	struct iscsi_proto *proto = iscsi_of(e);
	size_t left = proto->dlen - proto->rx_got;

	proto->rx_got += (uint32_t)(n < left ? n : left);
	if (proto->rx_got == proto->dlen)
		proto->rx_state = ISCSI_RX_TRAILER;
}

static void iscsi_rx_eof(struct remote_engine *e, bool was_open)
{
	struct iscsi_proto *proto = iscsi_of(e);

	/* The caller's pending read may still land in this task's buffer:
	 * keep it until the engine is destroyed. */
	if (proto->rx_state == ISCSI_RX_PAYLOAD && proto->rx_task)
		proto->rx_pinned = proto->rx_task;
	iscsi_cmd_rx_abandon(proto);
}

static void iscsi_engine_destroy(struct remote_engine *e)
{
	iscsi_proto_destroy(iscsi_of(e));
}

static const struct remote_engine_ops iscsi_engine_ops = {
	.name = "iscsi",
	.rx_step = iscsi_rx_step,
	.rx_paused = iscsi_rx_paused,
	.rx_direct = iscsi_rx_direct,
	.rx_direct_done = iscsi_rx_direct_done,
	.rx_eof = iscsi_rx_eof,
	.tx_release = iscsi_tx_release,
	.destroy = iscsi_engine_destroy,
};

/* ---- lifecycle ---- */

static const struct iscsi_config iscsi_no_config;

int iscsi_proto_create(const struct iscsi_proto_config *cfg,
		       struct iscsi_proto **protop)
{
	struct iscsi_proto *proto = calloc(1, sizeof(*proto));

	if (!proto)
		return -ENOMEM;
	proto->cfg = *cfg;
	proto->start_ms = cfg->start_ms;
	proto->icfg = cfg->iscsi ? cfg->iscsi : &iscsi_no_config;
	proto->scsi = cfg->scsi;
	if (proto->cfg.limits.max_request_bytes == 0)
		proto->cfg.limits.max_request_bytes =
			CONN_DEFAULT_MAX_REQUEST_BYTES;
	if (proto->cfg.tpg == 0)
		proto->cfg.tpg = 1;
	proto->window = proto->cfg.limits.max_inflight
				? proto->cfg.limits.max_inflight
				: CONN_DEFAULT_MAX_INFLIGHT;
	proto->max_tasks = 2 * proto->window + ISCSI_MAX_IMMEDIATE;
	/* RFC 7143 §13: defaults until negotiated. */
	proto->p.ini_mrdsl = 8192;
	proto->p.max_burst = 262144;
	proto->p.first_burst = 65536;
	proto->p.initial_r2t = true;
	proto->p.immediate_data = true;
	proto->p.max_r2t = 1;
	proto->p.time2wait = 2;
	proto->p.time2retain = 0;
	if (remote_engine_init(&proto->e, &iscsi_engine_ops, cfg->peer,
			       ISCSI_RX_BUF_BYTES) < 0) {
		free(proto);
		return -ENOMEM;
	}
	proto->e.tx_ready = cfg->tx_ready;
	proto->e.opaque = cfg->opaque;
	proto->e.loop = cfg->loop;
	proto->e.stats = cfg->stats;
	proto->e.mem_budget = cfg->limits.buffer_budget_bytes;
	*protop = proto;
	return 0;
}

void iscsi_proto_destroy(struct iscsi_proto *proto)
{
	if (!proto)
		return;
	/* A login the engine gave up on (an initiator that merely hung up
	 * during login is not a failure). */
	if (proto->phase != ISCSI_PHASE_FFP && proto->e.failed)
		iscsi_handshake_result(proto, false);
	iscsi_reinstate_leave(proto);
	remote_engine_fini(&proto->e);
	iscsi_tasks_free(proto);
	if (proto->nexus)
		proto->scsi->nexus_close(proto->nexus);
	/* The nexus read the LUN map until it closed. */
	free(proto->lun_maps);
	iscsi_login_free(proto);
	iscsi_text_free(proto);
	free(proto->scratch);
	free(proto);
}

bool iscsi_proto_uses(const struct iscsi_proto *proto,
		      const struct conn_export *exp)
{
	const struct scsi_target_info *info = &proto->target.info;

	if (!proto->nexus)
		return false;
	for (unsigned int i = 0; i < info->n_luns; i++)
		if (info->luns[i].export == exp)
			return true;
	return false;
}

struct remote_engine *iscsi_proto_engine(struct iscsi_proto *proto)
{
	return &proto->e;
}
