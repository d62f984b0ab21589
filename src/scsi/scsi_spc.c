// SPDX-License-Identifier: MIT
/*
 * SPC-4 primary commands: INQUIRY and its VPD pages, REPORT LUNS,
 * REQUEST SENSE, MODE SENSE/SELECT (caching, control, informational
 * exceptions), REPORT SUPPORTED OPERATION CODES, RESERVE/RELEASE(6),
 * TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL.  None
 * of them touches storage; all complete inside scsi_cmd_submit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

#define SCSI_VENDOR  "IOPD    "
#define SCSI_PRODUCT "iopd disk       "
#define SCSI_REV     "0001"

void scsi_data_in(struct scsi_cmd *cmd, const void *src, uint32_t len,
		  uint32_t alloc_len)
{
	uint32_t n = len < alloc_len ? len : alloc_len;

	cmd->xfer_len = n;
	if (n > cmd->buf_len)
		n = cmd->buf_len;
	if (n)
		memcpy(cmd->buf, src, n);
	cmd->data_len = n;
}

int scsi_spc_test_unit_ready(struct scsi_nexus *nexus, struct scsi_lu *lu,
			     struct scsi_cmd *cmd)
{
	return 0;
}

int scsi_spc_start_stop(struct scsi_nexus *nexus, struct scsi_lu *lu,
			struct scsi_cmd *cmd)
{
	/* SBC-3 5.25: no medium to load or eject, no power states to
	 * leave: every request is already satisfied. */
	return 0;
}

int scsi_spc_prevent_allow(struct scsi_nexus *nexus, struct scsi_lu *lu,
			   struct scsi_cmd *cmd)
{
	return 0;
}

static char scsi_host[256];
static pthread_once_t scsi_host_once = PTHREAD_ONCE_INIT;

static void scsi_host_init(void)
{
	if (gethostname(scsi_host, sizeof(scsi_host) - 1) < 0)
		scsi_host[0] = 0;
}

/* A stable identity for the device behind lu: FNV-1a over the host name,
 * the IOP's name and the device's index, so every export, target and
 * nexus that reaches the same device reports the same identifiers, and
 * iopd on another host (with the same configuration) different ones. */
static uint64_t scsi_lu_hash(const struct scsi_lu *lu, uint64_t seed)
{
	const struct conn_export *exp = lu->map->export;
	const char *name = exp->desc->name ? exp->desc->name : exp->name;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	unsigned int idx = exp->dev_index;

	pthread_once(&scsi_host_once, scsi_host_init);
	for (const char *p = scsi_host; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (int i = 0; i < 4; i++, idx >>= 8)
		h = (h ^ (idx & 0xff)) * 0x100000001b3ull;
	return h;
}

static void scsi_lu_serial(const struct scsi_lu *lu, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)scsi_lu_hash(lu, 0));
}

static uint32_t scsi_inquiry_std(const struct scsi_lu *lu, uint8_t *p)
{
	static const uint16_t versions[] = {
		0x00a0, /* SAM-5 */
		0x0960, /* iSCSI */
		0x0460, /* SPC-4 */
		0x04c0, /* SBC-3 */
	};

	memset(p, 0, 66);
	p[0] = lu ? 0x00 : 0x7f; /* SPC-4 6.4.2: qualifier 011b, no LU */
	p[2] = 0x06;		 /* SPC-4 */
	p[3] = 0x12;		 /* HISUP, response data format 2 */
	p[4] = 66 - 5;
	/* TPGS: 01b implicit ALUA, 11b implicit and explicit when a group
	 * served here takes SET TARGET PORT GROUPS (scsi_alua.c). */
	p[5] = scsi_alua_explicit() ? 0x30 : 0x10;
	p[7] = 0x02; /* CMDQUE */
	memcpy(p + 8, SCSI_VENDOR, 8);
	memcpy(p + 16, SCSI_PRODUCT, 16);
	memcpy(p + 32, SCSI_REV, 4);
	for (unsigned int i = 0; i < 4; i++)
		base_be16_put(p + 58 + 2 * i, versions[i]);
	return 66;
}

/* One designation descriptor (SPC-4 7.8.6.1); returns its size. */
static uint32_t scsi_desig(uint8_t *p, uint8_t proto_codeset, uint8_t flags,
			   const void *id, uint32_t len)
{
	uint32_t padded = len;

	/* SCSI name strings are null terminated and padded to 4 bytes. */
	if ((proto_codeset & 0x0f) == 3)
		padded = (len + 4) & ~3u;
	p[0] = proto_codeset;
	p[1] = flags;
	p[2] = 0;
	p[3] = (uint8_t)padded;
	memset(p + 4, 0, padded);
	memcpy(p + 4, id, len);
	return 4 + padded;
}

static uint32_t scsi_vpd_devid(const struct scsi_nexus *nexus,
			       const struct scsi_lu *lu, uint8_t *p)
{
	const char *tname = nexus->target->name ? nexus->target->name : "";
	uint64_t h1 = scsi_lu_hash(lu, 1), h2 = scsi_lu_hash(lu, 2);
	uint8_t naa[16], rel[4] = { 0 }, tpg[4] = { 0 };
	char t10[8 + 16 + 1], sname[256];
	uint32_t n = 4, len;

	/* NAA 6 (IEEE registered extended): the hash fills every field
	 * after the NAA nibble. */
	base_be64_put(naa, h1);
	base_be64_put(naa + 8, h2);
	naa[0] = (uint8_t)(0x60 | (naa[0] & 0x0f));
	n += scsi_desig(p + n, 0x01, 0x03, naa, 16);
	memcpy(t10, SCSI_VENDOR, 8);
	scsi_lu_serial(lu, t10 + 8);
	n += scsi_desig(p + n, 0x02, 0x01, t10, 24);
	/* Target port designators carry the protocol: iSCSI (5), PIV. */
	base_be16_put(rel + 2, nexus->rel_port_id);
	n += scsi_desig(p + n, 0x51, 0x94, rel, 4);
	base_be16_put(tpg + 2, scsi_alua_group_id(nexus->alua));
	n += scsi_desig(p + n, 0x51, 0x95, tpg, 4);
	/* SPC-4 7.8.6.11: at most 255 bytes with the terminating null and
	 * padding; iSCSI names are at most 223 (RFC 7143 6.1). */
	len = (uint32_t)snprintf(sname, sizeof(sname), "%s,t,0x%04x", tname,
				 nexus->target->tpg);
	if (len > 251)
		len = 251;
	n += scsi_desig(p + n, 0x53, 0x98, sname, len);
	len = (uint32_t)strlen(tname);
	if (len > 251)
		len = 251;
	n += scsi_desig(p + n, 0x53, 0xa8, tname, len);
	return n;
}

static uint32_t scsi_caw_max_blocks(const struct scsi_lu *lu)
{
	uint32_t n = lu->max_xfer_blocks / 2;

	return n > 255 ? 255 : n ? n : 1;
}

/* SBC-3 6.6.4: Block Limits. */
static uint32_t scsi_vpd_block_limits(const struct scsi_lu *lu, uint8_t *p)
{
	uint32_t pref = lu->info.block_size_pref >> lu->block_shift;

	memset(p + 4, 0, 0x3c);
	p[5] = (uint8_t)scsi_caw_max_blocks(lu);
	base_be16_put(p + 6, pref > 1 && pref < 65536 ? (uint16_t)pref : 1);
	base_be32_put(p + 8, lu->max_xfer_blocks);
	base_be32_put(p + 12, lu->max_xfer_blocks);
	base_be32_put(p + 16, lu->max_xfer_blocks);
	if (lu->thin) {
		base_be32_put(p + 20, 0xffffffff); /* MAXIMUM UNMAP LBA COUNT */
		base_be32_put(p + 24, 256);	   /* ... BLOCK DESCRIPTORS */
		base_be32_put(p + 28, pref > 1 ? pref : 1);
	}
	/* MAXIMUM WRITE SAME LENGTH: what one WRITE may carry, so no
	 * initiator expects more of a WRITE SAME than of a WRITE. */
	base_be64_put(p + 36, lu->max_xfer_blocks);
	return 4 + 0x3c;
}

static int scsi_inquiry_vpd(struct scsi_nexus *nexus, struct scsi_lu *lu,
			    struct scsi_cmd *cmd, uint8_t *p)
{
	static const uint8_t pages[] = {
		SCSI_VPD_SUPPORTED_PAGES,
		SCSI_VPD_UNIT_SERIAL,
		SCSI_VPD_DEVICE_ID,
		SCSI_VPD_BLOCK_LIMITS,
		SCSI_VPD_BLOCK_CHARACTERISTICS,
		SCSI_VPD_LB_PROVISIONING,
	};
	uint8_t page = cmd->cdb[2];
	uint32_t n;

	p[0] = 0x00;
	p[1] = page;
	p[2] = 0;
	switch (page) {
	case SCSI_VPD_SUPPORTED_PAGES:
		memcpy(p + 4, pages, sizeof(pages));
		n = 4 + sizeof(pages);
		break;
	case SCSI_VPD_UNIT_SERIAL:
		scsi_lu_serial(lu, (char *)p + 4);
		n = 4 + 16;
		break;
	case SCSI_VPD_DEVICE_ID:
		n = scsi_vpd_devid(nexus, lu, p);
		break;
	case SCSI_VPD_BLOCK_LIMITS:
		n = scsi_vpd_block_limits(lu, p);
		break;
	case SCSI_VPD_BLOCK_CHARACTERISTICS:
		/* SBC-3 6.6.2: non-rotating medium, form factor not given */
		memset(p + 4, 0, 0x3c);
		base_be16_put(p + 4, 1);
		n = 4 + 0x3c;
		break;
	case SCSI_VPD_LB_PROVISIONING:
		/* SBC-3 6.6.4: UNMAP, WRITE SAME(16/10) with UNMAP; an
		 * unmapped block reads back as zeroes (LBPRZ). */
		memset(p + 4, 0, 4);
		if (lu->thin) {
			p[5] = 0x80 | 0x40 | 0x20 | 0x04;
			p[6] = 0x02; /* thin provisioned */
		}
		n = 8;
		break;
	default:
		scsi_bad_cdb(lu, cmd);
		return -EINVAL;
	}
	base_be16_put(p + 2, (uint16_t)(n - 4));
	return (int)n;
}

int scsi_spc_inquiry(struct scsi_nexus *nexus, struct scsi_lu *lu,
		     struct scsi_cmd *cmd)
{
	uint8_t p[1024]; /* the Device Identification page with two 223-byte
			    names fits */
	uint32_t alloc = base_be16_get(cmd->cdb + 3);
	int n;

	if (cmd->cdb[1] & 0x02) { /* CMDDT: obsolete */
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	if (!(cmd->cdb[1] & 0x01)) {
		if (cmd->cdb[2]) {
			scsi_bad_cdb(lu, cmd);
			return 0;
		}
		scsi_data_in(cmd, p, scsi_inquiry_std(lu, p), alloc);
		return 0;
	}
	if (!lu) {
		memset(p, 0, 4);
		p[0] = 0x7f;
		p[1] = cmd->cdb[2];
		scsi_data_in(cmd, p, 4, alloc);
		return 0;
	}
	n = scsi_inquiry_vpd(nexus, lu, cmd, p);
	if (n > 0)
		scsi_data_in(cmd, p, (uint32_t)n, alloc);
	return 0;
}

int scsi_spc_report_luns(struct scsi_nexus *nexus, struct scsi_lu *lu,
			 struct scsi_cmd *cmd)
{
	uint32_t alloc = base_be32_get(cmd->cdb + 6), room, n = 8;
	uint8_t select = cmd->cdb[2], e[8];
	unsigned int count = select == 0x01 ? 0 : nexus->n_lus;

	if (select > 0x02) {
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	/* Straight into the transport's buffer: a target may map up to
	 * 16384 LUNs.  Select 1 asks for well-known LUNs only: none. */
	room = alloc < cmd->buf_len ? alloc : cmd->buf_len;
	memset(e, 0, sizeof(e));
	base_be32_put(e, 8 * count);
	memcpy(cmd->buf, e, room < 8 ? room : 8);
	for (unsigned int i = 0; i < count; i++, n += 8) {
		uint64_t l = nexus->lus[i].map->lun;

		memset(e, 0, sizeof(e));
		/* SAM-5 4.7: peripheral below 256, flat space above */
		e[0] = l < 256 ? 0 : (uint8_t)(0x40 | ((l >> 8) & 0x3f));
		e[1] = (uint8_t)l;
		if (n < room)
			memcpy(cmd->buf + n, e, room - n < 8 ? room - n : 8);
	}
	cmd->xfer_len = n < alloc ? n : alloc;
	cmd->data_len = n < room ? n : room;
	return 0;
}

int scsi_spc_request_sense(struct scsi_nexus *nexus, struct scsi_lu *lu,
			   struct scsi_cmd *cmd)
{
	struct scsi_cmd tmp;
	bool desc = cmd->cdb[1] & 0x01;
	uint16_t ua = lu ? atomic_exchange(&lu->ua, 0) : 0;

	/* SPC-4 6.29: the sense data is the parameter data; the command
	 * itself succeeds.  A pending unit attention is reported (and so
	 * cleared) here. */
	if (!lu)
		scsi_cmd_set_sense(&tmp, desc, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LU_NOT_SUPPORTED, NULL);
	else if (ua)
		scsi_cmd_set_sense(&tmp, desc, SCSI_SK_UNIT_ATTENTION, ua,
				   NULL);
	else
		scsi_cmd_set_sense(&tmp, desc, SCSI_SK_NO_SENSE, SCSI_ASC_NONE,
				   NULL);
	scsi_data_in(cmd, tmp.sense, tmp.sense_len, cmd->cdb[4]);
	return 0;
}

/* Mode pages.  pc: 0 current, 1 changeable, 2 default.  Returns the
 * page's size, 0 if there is no such page. */
static uint32_t scsi_mode_page(const struct scsi_lu *lu, uint8_t page, int pc,
			       uint8_t *p)
{
	switch (page) {
	case SCSI_MODE_PAGE_CACHING: /* SBC-3 6.4.5 */
		memset(p, 0, 20);
		p[0] = SCSI_MODE_PAGE_CACHING;
		p[1] = 0x12;
		if (pc == 1)
			p[2] = 0x04;
		else if (pc == 2 ? (lu->info.caps & DDM_CAP_FLUSH) != 0
				 : lu->wce)
			p[2] = 0x04; /* WCE */
		return 20;
	case SCSI_MODE_PAGE_CONTROL: /* SPC-4 7.5.8 */
		memset(p, 0, 12);
		p[0] = SCSI_MODE_PAGE_CONTROL;
		p[1] = 0x0a;
		if (pc == 1) {
			p[2] = 0x04; /* D_SENSE may change */
			return 12;
		}
		if (pc == 0 && lu->d_sense)
			p[2] = 0x04;
		p[3] = 0x10; /* unrestricted reordering */
		base_be16_put(p + 8, 0xffff);
		return 12;
	case SCSI_MODE_PAGE_INFO_EXCEPT: /* SPC-4 7.5.13 */
		memset(p, 0, 12);
		p[0] = SCSI_MODE_PAGE_INFO_EXCEPT;
		p[1] = 0x0a;
		if (pc != 1)
			p[2] = 0x08; /* DEXCPT: none to report */
		return 12;
	}
	return 0;
}

static const uint8_t scsi_mode_pages[] = {
	SCSI_MODE_PAGE_CACHING,
	SCSI_MODE_PAGE_CONTROL,
	SCSI_MODE_PAGE_INFO_EXCEPT,
};

int scsi_spc_mode_sense(struct scsi_nexus *nexus, struct scsi_lu *lu,
			struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	bool ten = cdb[0] == SCSI_OP_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & SCSI_MODE_PAGE_CODE, sub = cdb[3];
	uint32_t alloc = ten ? base_be16_get(cdb + 7) : cdb[4];
	uint32_t hdr = ten ? 8 : 4, n, bdl = 0;
	uint8_t p[256];

	if (pc == 3) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_SAVING_PARAMS_UNSUP);
		return 0;
	}
	if (sub != 0 && sub != 0xff) {
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	memset(p, 0, sizeof(p));
	n = hdr;
	if (!dbd) {
		/* SPC-4 7.5.5: one block descriptor for the whole medium */
		if (llbaa) {
			base_be64_put(p + n, lu->n_blocks);
			base_be32_put(p + n + 12, lu->block_size);
			bdl = 16;
		} else {
			base_be32_put(p + n, lu->n_blocks > 0xffffffffull
						     ? 0xffffffff
						     : (uint32_t)lu->n_blocks);
			base_be32_put(p + n + 4, lu->block_size & 0xffffff);
			bdl = 8;
		}
		n += bdl;
	}
	if (page == SCSI_MODE_PAGE_ALL) {
		for (unsigned int i = 0; i < sizeof(scsi_mode_pages); i++)
			n += scsi_mode_page(lu, scsi_mode_pages[i], pc, p + n);
	} else {
		uint32_t len = scsi_mode_page(lu, page, pc, p + n);

		if (!len) {
			scsi_bad_cdb(lu, cmd);
			return 0;
		}
		n += len;
	}
	/* Device-specific parameter (SBC-3 6.4.1): WP, DPOFUA. */
	if (ten) {
		base_be16_put(p, (uint16_t)(n - 2));
		p[3] = (lu->read_only ? 0x80 : 0) | 0x10;
		p[4] = llbaa && bdl ? 0x01 : 0;
		base_be16_put(p + 6, (uint16_t)bdl);
	} else {
		p[0] = (uint8_t)(n - 1);
		p[2] = (lu->read_only ? 0x80 : 0) | 0x10;
		p[3] = (uint8_t)bdl;
	}
	scsi_data_in(cmd, p, n, alloc);
	return 0;
}

/* Check (apply false) or apply one page of a MODE SELECT list.  Returns
 * 0 or the ASC to fail with. */
static uint16_t scsi_mode_page_set(struct scsi_lu *lu, const uint8_t *pg,
				   uint32_t len, bool apply)
{
	uint8_t cur[32], chg[32];
	uint8_t code = pg[0] & SCSI_MODE_PAGE_CODE;
	uint32_t n = scsi_mode_page(lu, code, 0, cur);

	if ((pg[0] & 0x40) || !n || n != len)
		return SCSI_ASC_INVALID_FIELD_PARAM;
	scsi_mode_page(lu, code, 1, chg);
	for (uint32_t i = 2; i < n; i++)
		if ((pg[i] ^ cur[i]) & ~chg[i])
			return SCSI_ASC_INVALID_FIELD_PARAM;
	if (!apply)
		return 0;
	if (code == SCSI_MODE_PAGE_CACHING)
		lu->wce = pg[2] & 0x04;
	else if (code == SCSI_MODE_PAGE_CONTROL)
		lu->d_sense = pg[2] & 0x04;
	return 0;
}

int scsi_spc_mode_select(struct scsi_nexus *nexus, struct scsi_lu *lu,
			 struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb, *p = cmd->buf;
	bool ten = cdb[0] == SCSI_OP_MODE_SELECT_10;
	uint32_t len = ten ? base_be16_get(cdb + 7) : cdb[4];
	uint32_t hdr = ten ? 8 : 4, bdl, off;
	uint16_t asc = 0;

	cmd->xfer_len = len;
	if (cdb[1] & 0x01) { /* SP: nothing can be saved */
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	if (!len)
		return 0;
	if (len > cmd->buf_len || len < hdr) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	bdl = ten ? base_be16_get(p + 6) : p[3];
	if (hdr + bdl > len) {
		scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAM_LIST_LENGTH);
		return 0;
	}
	if (bdl) {
		bool longlba = ten && (p[4] & 0x01);
		const uint8_t *bd = p + hdr;
		uint32_t bs = longlba ? base_be32_get(bd + 12)
				      : (base_be32_get(bd + 4) & 0xffffff);

		if ((longlba ? bdl != 16 : bdl != 8) || bs != lu->block_size) {
			scsi_bad_param(lu, cmd);
			return 0;
		}
	}
	for (int apply = 0; apply < 2; apply++) {
		for (off = hdr + bdl; off < len && !asc;
		     off += 2 + p[off + 1]) {
			if (len - off < 2 || off + 2 + p[off + 1] > len) {
				asc = SCSI_ASC_PARAM_LIST_LENGTH;
				break;
			}
			asc = scsi_mode_page_set(lu, p + off, 2 + p[off + 1],
						 apply);
		}
		if (asc) {
			scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST, asc);
			return 0;
		}
	}
	return 0;
}

/* SPC-4 6.35: REPORT SUPPORTED OPERATION CODES. */
static uint32_t scsi_rsoc_timeouts(uint8_t *p)
{
	memset(p, 0, 12);
	base_be16_put(p, 0x0a);
	base_be32_put(p + 8, 30); /* recommended: 30 s */
	return 12;
}

static int scsi_rsoc_one(struct scsi_lu *lu, struct scsi_cmd *cmd, uint8_t *p,
			 int opts, bool rctd)
{
	uint8_t opcode = cmd->cdb[3];
	uint16_t sa = base_be16_get(cmd->cdb + 4);
	const struct scsi_opcode *op = NULL;
	bool has_sa = false;
	uint32_t n;

	for (unsigned int i = 0; i < scsi_n_opcodes; i++) {
		const struct scsi_opcode *o = &scsi_opcodes[i];

		if (o->opcode != opcode)
			continue;
		if (o->flags & SCSI_OPF_SA) {
			has_sa = true;
			if (o->sa != sa)
				continue;
		}
		if (!scsi_opcode_supported(o))
			break;
		op = o;
		break;
	}
	/* 011b: the service action counts only for commands that have
	 * one (SPC-4 6.35.1). */
	if (opts == 3)
		opts = has_sa ? 2 : 1;
	/* The field pointer matters: libiscsi takes INVALID FIELD IN CDB
	 * without one, or pointing at the service action, for "REPORT
	 * SUPPORTED OPERATION CODES not implemented". */
	if ((opts == 1 && has_sa) || (opts == 2 && !has_sa)) {
		scsi_sense_field(lu, cmd, 2, 2);
		return -EINVAL;
	}
	memset(p, 0, 4);
	if (!op) {
		p[1] = 0x01; /* not supported */
		return 4;
	}
	p[1] = 0x03 | (rctd ? 0x80 : 0);
	base_be16_put(p + 2, op->cdb_len);
	memcpy(p + 4, op->usage, op->cdb_len);
	n = 4 + op->cdb_len;
	if (rctd)
		n += scsi_rsoc_timeouts(p + n);
	return (int)n;
}

int scsi_spc_report_opcodes(struct scsi_nexus *nexus, struct scsi_lu *lu,
			    struct scsi_cmd *cmd)
{
	uint8_t p[4096];
	bool rctd = cmd->cdb[2] & 0x80;
	int opts = cmd->cdb[2] & 0x07;
	uint32_t alloc = base_be32_get(cmd->cdb + 6), n = 4;
	int len;

	if (opts == 0) {
		for (unsigned int i = 0; i < scsi_n_opcodes; i++) {
			const struct scsi_opcode *o = &scsi_opcodes[i];
			uint8_t *d = p + n;

			if (!scsi_opcode_supported(o))
				continue;
			memset(d, 0, 8);
			d[0] = o->opcode;
			base_be16_put(d + 2, o->sa);
			d[5] = (o->flags & SCSI_OPF_SA ? 0x01 : 0) |
			       (rctd ? 0x02 : 0);
			base_be16_put(d + 6, o->cdb_len);
			n += 8;
			if (rctd)
				n += scsi_rsoc_timeouts(p + n);
		}
		base_be32_put(p, n - 4);
		scsi_data_in(cmd, p, n, alloc);
		return 0;
	}
	if (opts > 3) {
		scsi_sense_field(lu, cmd, 2, 2);
		return 0;
	}
	len = scsi_rsoc_one(lu, cmd, p, opts, rctd);
	if (len > 0)
		scsi_data_in(cmd, p, (uint32_t)len, alloc);
	return 0;
}

int scsi_spc_reserve6(struct scsi_nexus *nexus, struct scsi_lu *lu,
		      struct scsi_cmd *cmd)
{
	/* SPC-2 7.21: third-party and extent reservations are not kept */
	if (cmd->cdb[1] & 0x1f) {
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	/* Kept with the other gateways' when they share the device. */
	if (scsi_pr_res6_cmd(lu, cmd, true))
		return 1;
	if (scsi_lu_reserve(lu, true) < 0)
		cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
	return 0;
}

int scsi_spc_release6(struct scsi_nexus *nexus, struct scsi_lu *lu,
		      struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & 0x1f) {
		scsi_bad_cdb(lu, cmd);
		return 0;
	}
	/* SPC-2 7.17: releasing someone else's reservation is a no-op;
	 * while persistent registrations exist it conflicts (SPC-4
	 * 5.14.3). */
	if (scsi_pr_res6_cmd(lu, cmd, false))
		return 1;
	if (scsi_lu_reserve(lu, false) < 0)
		cmd->status = SCSI_STATUS_RESERVATION_CONFLICT;
	return 0;
}
