// SPDX-License-Identifier: MIT
/*
 * Full feature phase of a normal session (RFC 7143 §11.3-§11.9, §11.14,
 * §11.15): SCSI Command with immediate and unsolicited data, R2T and
 * Data-Out checks (DataSN, R2TSN, offsets), submission to the SCSI
 * command set, Data-In cut to the initiator's MaxRecvDataSegmentLength
 * with status in the last PDU, SCSI Response with sense and residuals,
 * task management and Logout.  Tasks are reused: their data buffer
 * (4096-aligned, the Expected Data Transfer Length) and PDU headers stay
 * allocated between commands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "remote/iscsi/iscsi_priv.h"

/* SAM-5 §4.7: peripheral (00b) and flat (01b) single-level LUNs. */
uint64_t iscsi_lun_decode(const uint8_t *raw)
{
	switch (raw[0] >> 6) {
	case 0:
		return raw[0] ? UINT64_MAX : raw[1];
	case 1:
		return (uint64_t)(raw[0] & 0x3f) << 8 | raw[1];
	default:
		return UINT64_MAX;
	}
}

bool iscsi_task_available(const struct iscsi_proto *proto)
{
	return proto->free_tasks || proto->n_tasks < proto->max_tasks;
}

static struct iscsi_task *iscsi_task_get(struct iscsi_proto *proto)
{
	struct iscsi_task *t = proto->free_tasks;

	if (t) {
		proto->free_tasks = t->next_free;
		proto->kept_bytes -= t->buf_cap;
	} else {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		t->proto = proto;
		t->next_all = proto->tasks;
		proto->tasks = t;
		proto->n_tasks++;
		t->tx.kind = ISCSI_TX_TASK;
		for (unsigned int i = 0; i < ISCSI_OUR_MAX_R2T; i++) {
			t->r2t[i].task = t;
			t->r2t[i].tx.kind = ISCSI_TX_R2T;
			t->r2t[i].tx.iov = &t->r2t[i].iov;
			t->r2t[i].tx.iovcnt = 1;
		}
	}
	t->immediate = t->aborted = t->discard = t->free_pending = false;
	t->windowed = false;
	t->tmf = NULL;
	t->got = t->unsol_end = t->unsol_datasn = t->solicited = 0;
	t->r2tsn = 0;
	t->r2t_active = 0;
	t->tx.last = false;
	memset(&t->scmd, 0, sizeof(t->scmd));
	return t;
}

static void iscsi_task_put(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;

	t->state = ISCSI_TASK_FREE;
	remote_engine_mem_put(&proto->e, t->mem_bytes);
	t->mem_bytes = 0;
	if ((t->buf_cap > ISCSI_TASK_KEEP_BYTES ||
	     proto->kept_bytes + t->buf_cap > ISCSI_TASK_KEEP_TOTAL) &&
	    t != proto->rx_pinned) {
		free(t->buf);
		t->buf = NULL;
		t->buf_cap = 0;
	}
	proto->kept_bytes += t->buf_cap;
	t->next_free = proto->free_tasks;
	proto->free_tasks = t;
	if (proto->e.rend > proto->e.rstart)
		proto->e.reparse = true;
}

static int iscsi_task_buf(struct iscsi_task *t, uint32_t len)
{
	size_t cap =
		(len + ISCSI_BUF_ALIGN - 1) & ~(size_t)(ISCSI_BUF_ALIGN - 1);

	if (cap == 0 || t->buf_cap >= cap)
		return 0;
	free(t->buf);
	t->buf = aligned_alloc(ISCSI_BUF_ALIGN, cap);
	t->buf_cap = t->buf ? cap : 0;
	return t->buf ? 0 : -ENOMEM;
}

static bool iscsi_task_r2t_queued(const struct iscsi_task *t)
{
	for (unsigned int i = 0; i < ISCSI_OUR_MAX_R2T; i++)
		if (t->r2t[i].tx.queued)
			return true;
	return false;
}

/* Give back the window slot (or immediate allowance) a task held. */
static void iscsi_task_unwindow(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;

	if (!t->windowed)
		return;
	t->windowed = false;
	if (t->immediate && proto->n_immediate)
		proto->n_immediate--;
	else if (!t->immediate && proto->window_used)
		proto->window_used--;
}

/* A task that will send nothing more: free it, or once its R2Ts have
 * left the output queue. */
void iscsi_task_drop(struct iscsi_task *t)
{
	iscsi_task_unwindow(t);
	if (iscsi_task_r2t_queued(t)) {
		t->free_pending = true;
		t->state = ISCSI_TASK_TX;
		return;
	}
	iscsi_task_put(t);
}

void iscsi_task_release(struct iscsi_task *t)
{
	iscsi_task_put(t);
	iscsi_check_waiters(t->proto);
}

void iscsi_r2t_release(struct iscsi_r2t *r2t)
{
	struct iscsi_task *t = r2t->task;

	if (t->free_pending && !iscsi_task_r2t_queued(t)) {
		t->free_pending = false;
		iscsi_task_put(t);
	}
}

/* ---- responses ---- */

static uint8_t *iscsi_task_pdus(struct iscsi_task *t, size_t n)
{
	if (t->n_pdus_cap < n) {
		uint8_t *p = realloc(t->pdus, n * ISCSI_PDU_AREA);
		struct iovec *iov;

		if (!p)
			return NULL;
		t->pdus = p;
		iov = realloc(t->iov, 3 * n * sizeof(*iov));
		if (!iov)
			return NULL;
		t->iov = iov;
		t->n_pdus_cap = n;
		t->iov_cap = (int)(3 * n);
	}
	return t->pdus;
}

/* RFC 7143 §11.4.5: residuals. */
static void iscsi_residual(const struct iscsi_task *t, uint8_t *flags,
			   uint32_t *count)
{
	const struct scsi_cmd *c = &t->scmd;
	uint32_t done = c->dir == SCSI_DIR_READ ? c->data_len : c->xfer_len;

	if (done > t->edtl)
		done = t->edtl;

	*flags = 0;
	*count = 0;
	if (c->xfer_len > t->edtl) {
		*flags = ISCSI_FLAG_RSP_O;
		*count = c->xfer_len - t->edtl;
	} else if (done < t->edtl) {
		*flags = ISCSI_FLAG_RSP_U;
		*count = t->edtl - done;
	}
}

/* How a task's response is cut into PDUs. */
struct iscsi_rsp_plan {
	uint32_t data_len; /* Data-In bytes, at most EDTL */
	uint32_t seg;	   /* the initiator's MaxRecvDataSegmentLength */
	size_t n_data;	   /* Data-In PDUs */
	bool in_data;	   /* the status rides on the last Data-In */
	uint8_t res_flags; /* residual O/U */
	uint32_t res;	   /* residual count */
	size_t hlen;	   /* BHS plus header digest */
	uint8_t *area;	   /* the PDU headers, one ISCSI_PDU_AREA each */
	int iov;	   /* t->iov used so far */
};

/* One PDU's iovecs: header, data segment (if any), and the padding and
 * digest tail iscsi_pdu_seal wrote after the header. */
static void iscsi_task_iov_pdu(struct iscsi_task *t, struct iscsi_rsp_plan *p,
			       uint8_t *h, void *data, uint32_t len,
			       size_t tail)
{
	t->iov[p->iov].iov_base = h;
	t->iov[p->iov++].iov_len = p->hlen;
	if (len) {
		t->iov[p->iov].iov_base = data;
		t->iov[p->iov++].iov_len = len;
	}
	if (tail) {
		t->iov[p->iov].iov_base = h + p->hlen;
		t->iov[p->iov++].iov_len = tail;
	}
}

/* RFC 7143 §11.7: the read data in Data-In PDUs of at most the
 * initiator's MaxRecvDataSegmentLength, the last one carrying the status
 * when there is no sense. */
static void iscsi_task_data_in(struct iscsi_task *t, struct iscsi_rsp_plan *p)
{
	struct iscsi_proto *proto = t->proto;
	/* A mapping of the device's file (no data digest reads it then) or
	 * the task's buffer. */
	const uint8_t *src = t->scmd.data ? t->scmd.data : t->buf;
	uint32_t off = 0, burst = 0;

	for (size_t i = 0; i < p->n_data; i++) {
		uint8_t *h = p->area + i * ISCSI_PDU_AREA;
		uint32_t len =
			p->data_len - off < p->seg ? p->data_len - off : p->seg;
		bool last = i + 1 == p->n_data;
		size_t tail;

		memset(h, 0, ISCSI_BHS_BYTES);
		h[0] = ISCSI_OP_DATA_IN;
		burst += len;
		/* F ends each sequence of at most MaxBurstLength. */
		if (last || burst + p->seg > proto->p.max_burst) {
			h[1] |= ISCSI_FLAG_F;
			burst = 0;
		}
		memcpy(h + 8, t->lun_raw, 8);
		base_be32_put(h + 16, t->itt);
		base_be32_put(h + 20, ISCSI_RSVD_TAG);
		if (last && p->in_data) {
			h[1] |= ISCSI_FLAG_DATA_S | p->res_flags;
			h[3] = t->scmd.status;
			iscsi_stamp(proto, h, true);
			base_be32_put(h + 44, p->res);
		} else {
			iscsi_stamp(proto, h, false);
			base_be32_put(h + 24, 0);
		}
		base_be32_put(h + 36, (uint32_t)i);
		base_be32_put(h + 40, off);
		tail = iscsi_pdu_seal(proto, h, src + off, len, h + p->hlen);
		iscsi_task_iov_pdu(t, p, h, (void *)(src + off), len, tail);
		off += len;
	}
}

/* RFC 7143 §11.4: the SCSI Response, with the sense data if any. */
static void iscsi_task_scsi_rsp(struct iscsi_task *t, struct iscsi_rsp_plan *p)
{
	struct iscsi_proto *proto = t->proto;
	struct scsi_cmd *c = &t->scmd;
	uint8_t *h = p->area + p->n_data * ISCSI_PDU_AREA;
	uint32_t slen = 0;
	size_t tail;

	memset(h, 0, ISCSI_BHS_BYTES);
	h[0] = ISCSI_OP_SCSI_RSP;
	h[1] = ISCSI_FLAG_F | p->res_flags;
	h[2] = 0; /* command completed at target */
	h[3] = c->status;
	base_be32_put(h + 16, t->itt);
	base_be32_put(h + 20, 0);
	iscsi_stamp(proto, h, true);
	base_be32_put(h + 36,
		      c->dir == SCSI_DIR_READ ? (uint32_t)p->n_data : t->r2tsn);
	base_be32_put(h + 44, p->res);
	if (c->sense_len) {
		slen = c->sense_len > SCSI_SENSE_MAX ? SCSI_SENSE_MAX
						     : c->sense_len;
		base_be16_put(t->sense_seg, (uint16_t)slen);
		memcpy(t->sense_seg + 2, c->sense, slen);
		slen += 2;
	}
	tail = iscsi_pdu_seal(proto, h, t->sense_seg, slen, h + p->hlen);
	iscsi_task_iov_pdu(t, p, h, t->sense_seg, slen, tail);
}

static void iscsi_task_respond(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;
	struct scsi_cmd *c = &t->scmd;
	struct iscsi_rsp_plan p = {
		.data_len = c->dir == SCSI_DIR_READ ? c->data_len : 0,
		.seg = proto->p.ini_mrdsl,
		.hlen = ISCSI_BHS_BYTES + (proto->p.header_digest ? 4 : 0),
	};

	if (p.data_len > t->edtl)
		p.data_len = t->edtl;
	p.n_data = p.data_len ? (p.data_len + p.seg - 1) / p.seg : 0;
	p.in_data = p.data_len && c->sense_len == 0 &&
		    c->status != SCSI_STATUS_CHECK_CONDITION;
	iscsi_residual(t, &p.res_flags, &p.res);
	p.area = iscsi_task_pdus(t, p.n_data + 1);
	if (!p.area) {
		iscsi_proto_fail(proto, -ENOMEM, "out of memory");
		iscsi_task_drop(t);
		return;
	}
	/* The window slot is free as soon as the status is on its way. */
	iscsi_task_unwindow(t);
	iscsi_task_data_in(t, &p);
	if (!p.in_data)
		iscsi_task_scsi_rsp(t, &p);
	t->tx.iov = t->iov;
	t->tx.iovcnt = p.iov;
	t->state = ISCSI_TASK_TX;
	remote_engine_tx_push(&proto->e, &t->tx);
}

/* Fixed-format sense for errors the transport finds itself. */
static void iscsi_task_fail(struct iscsi_task *t, uint8_t key, uint16_t asc)
{
	scsi_cmd_set_sense(&t->scmd, false, key, asc, NULL);
	t->scmd.data_len = 0;
}

static void iscsi_scsi_done(struct scsi_cmd *c)
{
	struct iscsi_task *t = c->cookie;
	struct iscsi_proto *proto = t->proto;

	proto->e.inflight--;
	if (proto->cfg.stats)
		proto->cfg.stats->inflight--;
	if (t->aborted) {
		if (t->tmf && t->tmf->waiting)
			t->tmf->waiting--;
		iscsi_task_drop(t);
		iscsi_check_waiters(proto);
		return;
	}
	if (proto->e.failed) {
		iscsi_task_drop(t);
		iscsi_check_waiters(proto);
		return;
	}
	iscsi_task_respond(t);
	iscsi_check_waiters(proto);
}

static void iscsi_task_submit(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;

	if (t->discard) {
		iscsi_task_respond(t);
		return;
	}
	t->scmd.buf = t->buf;
	t->scmd.buf_len = t->scmd.dir == SCSI_DIR_NONE ? 0 : t->edtl;
	/* Reads get the whole (4096-rounded) buffer: the command set moves
	 * whole blocks, and an expected length that ends inside a block
	 * still gets its leading bytes (Data-In stops at the EDTL). */
	if (t->scmd.dir == SCSI_DIR_READ && t->edtl)
		t->scmd.buf_len = (t->edtl + ISCSI_BUF_ALIGN - 1) &
				  ~(ISCSI_BUF_ALIGN - 1);
	t->scmd.done = iscsi_scsi_done;
	t->scmd.cookie = t;
	/* Read data may stay in the device's mapping unless a data digest
	 * must read it here: only the socket write touches it then. */
	t->scmd.may_map = !proto->p.data_digest;
	t->state = ISCSI_TASK_SCSI;
	proto->e.inflight++;
	if (proto->cfg.stats) {
		proto->cfg.stats->inflight++;
		proto->cfg.stats->requests++;
	}
	proto->scsi->cmd_submit(proto->nexus, &t->scmd);
}

/* The nexus closes while responses may still be queued: read data
 * still in the device's mapping moves to the tasks' own buffers, at the
 * same places in their iovecs. */
void iscsi_tasks_unmap(struct iscsi_proto *proto)
{
	for (struct iscsi_task *t = proto->tasks; t; t = t->next_all) {
		const uint8_t *m = t->scmd.data;
		size_t len = t->scmd.data_len;

		if (t->state != ISCSI_TASK_TX || !m)
			continue;
		if (scsi_cmd_data_copy(&t->scmd) < 0) {
			iscsi_proto_fail(proto, -EIO, "read data lost");
			continue;
		}
		for (int i = 0; i < t->tx.iovcnt; i++) {
			const uint8_t *b = t->iov[i].iov_base;

			if (b >= m && b < m + len)
				t->iov[i].iov_base = t->buf + (b - m);
		}
	}
}

/* ---- R2T ---- */

static struct iscsi_r2t *iscsi_r2t_find(struct iscsi_task *t, uint32_t ttt)
{
	for (unsigned int i = 0; i < ISCSI_OUR_MAX_R2T; i++)
		if (t->r2t[i].active && t->r2t[i].ttt == ttt)
			return &t->r2t[i];
	return NULL;
}

/* RFC 7143 §11.8: solicit the rest in MaxBurstLength pieces, at most
 * MaxOutstandingR2T at a time. */
static void iscsi_r2t_send(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;

	while (t->solicited < t->edtl && t->r2t_active < proto->p.max_r2t) {
		struct iscsi_r2t *r = NULL;
		uint32_t len = t->edtl - t->solicited;
		uint8_t *h;

		for (unsigned int i = 0; i < ISCSI_OUR_MAX_R2T && !r; i++)
			if (!t->r2t[i].active && !t->r2t[i].tx.queued)
				r = &t->r2t[i];
		if (!r)
			return; /* again when an R2T leaves the queue */
		if (len > proto->p.max_burst)
			len = proto->p.max_burst;
		r->active = true;
		r->ttt = proto->next_ttt++;
		if (proto->next_ttt == ISCSI_RSVD_TAG)
			proto->next_ttt = 0;
		r->r2tsn = t->r2tsn++;
		r->offset = t->solicited;
		r->len = len;
		r->got = 0;
		r->datasn = 0;
		t->solicited += len;
		t->r2t_active++;
		h = r->hdr;
		memset(h, 0, ISCSI_BHS_BYTES);
		h[0] = ISCSI_OP_R2T;
		h[1] = ISCSI_FLAG_F;
		memcpy(h + 8, t->lun_raw, 8);
		base_be32_put(h + 16, t->itt);
		base_be32_put(h + 20, r->ttt);
		iscsi_stamp(proto, h, false);
		base_be32_put(h + 36, r->r2tsn);
		base_be32_put(h + 40, r->offset);
		base_be32_put(h + 44, r->len);
		iscsi_pdu_seal(proto, h, NULL, 0, NULL);
		r->iov.iov_base = h;
		r->iov.iov_len =
			ISCSI_BHS_BYTES +
			(proto->p.header_digest ? ISCSI_DIGEST_BYTES : 0);
		r->tx.last = false;
		remote_engine_tx_push(&proto->e, &r->tx);
	}
}

static void iscsi_task_progress(struct iscsi_task *t)
{
	if (t->got == t->edtl) {
		iscsi_task_submit(t);
		return;
	}
	if (t->got < t->unsol_end)
		return;
	if (t->discard) {
		/* Refused already: do not ask for data we would drop. */
		iscsi_task_respond(t);
		return;
	}
	if (t->solicited < t->unsol_end)
		t->solicited = t->unsol_end;
	iscsi_r2t_send(t);
}

/* ---- SCSI Command ---- */

struct iscsi_task *iscsi_task_by_itt(struct iscsi_proto *proto, uint32_t itt)
{
	for (struct iscsi_task *t = proto->tasks; t; t = t->next_all)
		if (t->state != ISCSI_TASK_FREE && !t->free_pending &&
		    t->itt == itt)
			return t;
	return NULL;
}

static uint8_t *iscsi_scratch(struct iscsi_proto *proto)
{
	if (!proto->scratch)
		proto->scratch = malloc(ISCSI_OUR_MRDSL);
	return proto->scratch;
}

static void iscsi_cmd_cdb(struct iscsi_task *t, const uint8_t *bhs,
			  const uint8_t *ahs, uint32_t ahs_len)
{
	struct scsi_cmd *c = &t->scmd;

	memcpy(c->cdb, bhs + 32, 16);
	c->cdb_len = 16;
	/* §11.3.4: an extended CDB AHS (type 1) carries the bytes past 16. */
	for (uint32_t off = 0; off + 4 <= ahs_len;) {
		uint32_t len = base_be16_get(ahs + off);

		if (off + 3 + len > ahs_len)
			break;
		if (ahs[off + 2] == 1 && len > 1) {
			uint32_t ext = len - 1;

			if (ext > SCSI_CDB_MAX - 16)
				ext = SCSI_CDB_MAX - 16;
			memcpy(c->cdb + 16, ahs + off + 4, ext);
			c->cdb_len = 16 + ext;
		}
		off += (3 + len + 3) & ~3u;
	}
}

/* A write whose data is still to come (other than except): its buffer
 * is charged, and its Data-Out may sit behind the next command. */
static bool iscsi_data_out_pending(const struct iscsi_proto *proto,
				   const struct iscsi_task *except)
{
	for (const struct iscsi_task *t = proto->tasks; t; t = t->next_all)
		if (t != except && t->state == ISCSI_TASK_DATA_OUT &&
		    !t->discard && t->mem_bytes)
			return true;
	return false;
}

/*
 * Memory for a command's data is asked before its BHS is taken, so that
 * input can pause there (remote_engine_mem_wait).  Not while a write
 * waits for its Data-Out: that data may be behind this command in the
 * stream, and the buffer waiting for it would never be given back.
 * Such a command is charged if it fits and answered TASK SET FULL if
 * not (iscsi_task_mem_get), so memory stays bounded either way.
 */
bool iscsi_cmd_mem_wait(struct iscsi_proto *proto, const uint8_t *p)
{
	uint32_t edtl = base_be32_get(p + 20);

	if (proto->phase != ISCSI_PHASE_FFP || proto->discovery ||
	    (p[0] & ISCSI_OP_MASK) != ISCSI_OP_SCSI_CMD || edtl == 0 ||
	    edtl > proto->cfg.limits.max_request_bytes ||
	    iscsi_data_out_pending(proto, NULL))
		return false;
	return remote_engine_mem_wait(&proto->e, edtl);
}

/* Charge t's data buffer.  False: it does not fit (only when a write's
 * Data-Out is pending; otherwise iscsi_cmd_mem_wait waited for room). */
static bool iscsi_task_mem_get(struct iscsi_task *t)
{
	struct iscsi_proto *proto = t->proto;

	if (t->edtl == 0)
		return true;
	if (iscsi_data_out_pending(proto, t) &&
	    !remote_engine_mem_fits(&proto->e, t->edtl))
		return false;
	t->mem_bytes = t->edtl;
	remote_engine_mem_charge(&proto->e, t->edtl);
	return true;
}

/* The checks a SCSI Command PDU must pass before it gets a task: the
 * session is not logging out, immediate commands and CmdSN within their
 * windows, immediate data as negotiated (§11.3.1: only for writes,
 * within FirstBurstLength and the expected length), a fresh ITT.
 * Returns false, with proto->rx_drop set, when the PDU is dropped. */
static bool iscsi_cmd_acceptable(struct iscsi_proto *proto, bool imm, bool wr,
				 uint32_t itt, uint32_t edtl)
{
	const uint8_t *bhs = proto->bhs;

	if (proto->logout)
		proto->rx_drop = ISCSI_REJECT_WAIT_LOGOUT;
	else if (imm && proto->n_immediate >= ISCSI_MAX_IMMEDIATE)
		proto->rx_drop = ISCSI_REJECT_IMM_TOO_MANY;
	else if (!iscsi_cmd_sn_ok(proto, bhs))
		proto->rx_drop = -1;
	else if (proto->dlen &&
		 (!wr || !proto->p.immediate_data || proto->dlen > edtl ||
		  proto->dlen > proto->p.first_burst))
		proto->rx_drop = ISCSI_REJECT_PROTOCOL;
	else if (itt == ISCSI_RSVD_TAG || iscsi_task_by_itt(proto, itt))
		proto->rx_drop = ISCSI_REJECT_INVALID_FIELD;
	else
		return true;
	return false;
}

/* Whether the new task t can run: a command iopd does not serve
 * (bidirectional, over the request limit) or one the buffer budget
 * cannot take now is answered without running (t->discard). */
static void iscsi_cmd_admit(struct iscsi_proto *proto, struct iscsi_task *t,
			    bool rd, bool wr, uint32_t edtl)
{
	if (rd && wr) {
		/* Bidirectional commands are not supported. */
		iscsi_task_fail(t, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_FIELD_CDB);
		t->discard = true;
	} else if (edtl > proto->cfg.limits.max_request_bytes) {
		iscsi_task_fail(t, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_FIELD_CDB);
		t->discard = true;
	} else if (!iscsi_task_mem_get(t)) {
		/* SAM-5 §5.3: TASK SET FULL; the initiator retries. */
		t->scmd.status = SCSI_STATUS_TASK_SET_FULL;
		t->discard = true;
	} else if (iscsi_task_buf(t, edtl) < 0) {
		iscsi_task_fail(t, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_FIELD_CDB);
		t->discard = true;
	}
}

int iscsi_cmd_hdr(struct iscsi_proto *proto, uint8_t **dst)
{
	const uint8_t *bhs = proto->bhs;
	bool imm = bhs[0] & ISCSI_OP_IMMEDIATE;
	bool rd = bhs[1] & ISCSI_FLAG_CMD_R, wr = bhs[1] & ISCSI_FLAG_CMD_W;
	uint32_t itt = base_be32_get(bhs + 16), edtl = base_be32_get(bhs + 20);
	struct iscsi_task *t;

	if (!iscsi_cmd_acceptable(proto, imm, wr, itt, edtl))
		return 0;
	t = iscsi_task_get(proto);
	if (!t)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	t->state = ISCSI_TASK_DATA_OUT;
	t->immediate = imm;
	t->windowed = true;
	if (imm)
		proto->n_immediate++;
	else
		proto->window_used++;
	t->itt = itt;
	t->edtl = edtl;
	memcpy(t->lun_raw, bhs + 8, 8);
	t->scmd.lun = iscsi_lun_decode(bhs + 8);
	iscsi_cmd_cdb(t, bhs, proto->ahs, proto->ahs_len);
	t->scmd.dir = wr ? SCSI_DIR_WRITE : rd ? SCSI_DIR_READ : SCSI_DIR_NONE;
	if (!rd && !wr)
		t->edtl = 0;
	proto->rx_task = t;
	iscsi_cmd_admit(proto, t, rd, wr, edtl);
	if (wr) {
		/* F set: no unsolicited Data-Out follows. */
		t->unsol_end = proto->dlen;
		if (!(bhs[1] & ISCSI_FLAG_F) && !proto->p.initial_r2t)
			t->unsol_end = edtl < proto->p.first_burst
					       ? edtl
					       : proto->p.first_burst;
		if (t->unsol_end < proto->dlen)
			t->unsol_end = proto->dlen;
	}
	if (proto->dlen)
		*dst = t->discard ? iscsi_scratch(proto) : t->buf;
	if (proto->dlen && !*dst)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	return 0;
}

int iscsi_cmd_pdu(struct iscsi_proto *proto, const uint8_t *data,
		  bool digest_ok)
{
	struct iscsi_task *t = proto->rx_task;

	(void)data;
	if (proto->rx_drop > 0)
		return iscsi_reject(proto, (uint8_t)proto->rx_drop, proto->bhs);
	if (proto->rx_drop < 0 || !t)
		return 0;
	if (!digest_ok) {
		/* §7.8: the command is lost; the initiator retries it. */
		iscsi_task_drop(t);
		return iscsi_reject(proto, ISCSI_REJECT_DATA_DIGEST,
				    proto->bhs);
	}
	t->got = proto->dlen;
	if (t->scmd.dir == SCSI_DIR_WRITE)
		iscsi_task_progress(t);
	else
		iscsi_task_submit(t);
	return 0;
}

/* ---- Data-Out ---- */

/* A bad Data-Out ends its task (§7.1.2 at level 0): ABORTED COMMAND
 * with asc, the rest of its data discarded, the status sent now. */
static void iscsi_task_abort_data(struct iscsi_task *t, uint16_t asc)
{
	iscsi_task_fail(t, SCSI_SK_ABORTED_COMMAND, asc);
	t->discard = true;
	t->got = t->edtl;
	for (unsigned int i = 0; i < ISCSI_OUR_MAX_R2T; i++)
		t->r2t[i].active = false;
	t->r2t_active = 0;
	iscsi_task_respond(t);
}

int iscsi_data_out_hdr(struct iscsi_proto *proto, uint8_t **dst)
{
	const uint8_t *bhs = proto->bhs;
	uint32_t itt = base_be32_get(bhs + 16), ttt = base_be32_get(bhs + 20);
	uint32_t datasn = base_be32_get(bhs + 36),
		 off = base_be32_get(bhs + 40);
	uint32_t len = proto->dlen;
	struct iscsi_task *t = iscsi_task_by_itt(proto, itt);
	struct iscsi_r2t *r = NULL;
	bool ok;

	proto->rx_drop = -1;
	if (!t || t->state != ISCSI_TASK_DATA_OUT || t->aborted) {
		/* Data for a task that was aborted or refused is dropped;
		 * a Target Transfer Tag we never gave is an invalid field
		 * (§11.7.4). */
		if (ttt != ISCSI_RSVD_TAG && ttt >= proto->next_ttt)
			proto->rx_drop = ISCSI_REJECT_INVALID_FIELD;
		log_debug("%s: Data-Out for unknown task 0x%x dropped",
			  iscsi_peer(proto), itt);
		*dst = len ? iscsi_scratch(proto) : NULL;
		return len && !*dst ? iscsi_proto_fail(proto, -ENOMEM,
						       "out of memory")
				    : 0;
	}
	if (ttt == ISCSI_RSVD_TAG) {
		ok = off == t->got && (uint64_t)off + len <= t->unsol_end &&
		     datasn == t->unsol_datasn;
	} else {
		r = iscsi_r2t_find(t, ttt);
		ok = r && off == t->got && off == r->offset + r->got &&
		     (uint64_t)r->got + len <= r->len && datasn == r->datasn;
	}
	*dst = len ? (t->discard ? iscsi_scratch(proto) : t->buf + off) : NULL;
	if (!ok) {
		/* §7.1.2 at level 0: a sequence error ends the task. */
		log_info("%s: bad Data-Out for task 0x%x (DataSN %u, offset "
			 "%u, length %u)",
			 iscsi_peer(proto), itt, datasn, off, len);
		*dst = len ? iscsi_scratch(proto) : NULL;
		iscsi_task_abort_data(t, SCSI_ASC_DATA_PHASE_ERROR);
		return len && !*dst ? iscsi_proto_fail(proto, -ENOMEM,
						       "out of memory")
				    : 0;
	}
	if (len && !*dst)
		return iscsi_proto_fail(proto, -ENOMEM, "out of memory");
	proto->rx_drop = 0;
	proto->rx_task = t;
	proto->rx_r2t = r;
	return 0;
}

int iscsi_data_out_pdu(struct iscsi_proto *proto, const uint8_t *data,
		       bool digest_ok)
{
	struct iscsi_task *t = proto->rx_task;
	struct iscsi_r2t *r = proto->rx_r2t;

	(void)data;
	if (proto->rx_drop > 0)
		return iscsi_reject(proto, (uint8_t)proto->rx_drop, proto->bhs);
	if (proto->rx_drop || !t)
		return 0;
	if (!digest_ok) {
		iscsi_task_abort_data(t, SCSI_ASC_PROTOCOL_CRC_ERROR);
		return iscsi_reject(proto, ISCSI_REJECT_DATA_DIGEST,
				    proto->bhs);
	}
	t->got += proto->dlen;
	if (r) {
		r->got += proto->dlen;
		r->datasn++;
		if (r->got == r->len) {
			r->active = false;
			t->r2t_active--;
		}
	} else {
		t->unsol_datasn++;
	}
	iscsi_task_progress(t);
	return 0;
}
