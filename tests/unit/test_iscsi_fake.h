/* SPDX-License-Identifier: MIT */
/*
 * Test-only helpers for the iSCSI engine (src/remote/iscsi/), shared by
 * tests/unit/test_iscsi_*.c and tests/fuzz/iscsi_*_fuzz.c:
 *
 *   - a stub SCSI command set under the transport (struct
 *     iscsi_scsi_ops): one 1 MiB RAM LUN 0 with 512-byte blocks that
 *     knows TEST UNIT READY, INQUIRY, READ(10) and WRITE(10); commands
 *     complete inside submit or are held until the test completes them;
 *   - a fake export table;
 *   - an initiator that builds PDUs (with digests when asked), feeds
 *     them and cuts the engine's output back into PDUs.
 *
 * Header-only with static functions: the Makefile builds one file per
 * test program.
 */
#ifndef IOPD_TEST_ISCSI_FAKE_H
#define IOPD_TEST_ISCSI_FAKE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/iscsi/iscsi_crc32c.h"
#include "remote/iscsi/iscsi_proto.h"
#include "remote/iscsi/iscsi_wire.h"

#define FS_DISK_BYTES (1024u * 1024)
#define FS_MAX_HELD   64

struct fake_scsi {
	uint8_t disk[FS_DISK_BYTES];
	bool hold; /* keep commands until fs_complete */
	struct scsi_cmd *held[FS_MAX_HELD];
	unsigned int n_held;
	unsigned int n_cmds, n_tmfs, n_open;
	struct scsi_target_info last_target; /* what the last open saw */
	struct scsi_lun_map last_luns[4];
	char last_initiator[300];
	enum scsi_tmf last_tmf;
	bool tmf_later; /* a LUN RESET finishes when the test says */
	scsi_tmf_done_fn *tmf_done;
	void *tmf_arg;
};

static struct fake_scsi fs;

static inline int fs_open(const struct scsi_nexus_args *args,
			  struct scsi_nexus **nexusp)
{
	fs.n_open++;
	fs.last_target = *args->target;
	memset(fs.last_luns, 0, sizeof(fs.last_luns));
	for (unsigned int i = 0; i < args->target->n_luns && i < 4; i++)
		fs.last_luns[i] = args->target->luns[i];
	snprintf(fs.last_initiator, sizeof(fs.last_initiator), "%s",
		 args->initiator);
	*nexusp = (struct scsi_nexus *)&fs;
	return 0;
}

static inline void fs_close(struct scsi_nexus *nexus)
{
	(void)nexus;
	fs.n_open--;
}

static inline void fs_sense(struct scsi_cmd *c, uint8_t key, uint8_t asc)
{
	c->status = SCSI_STATUS_CHECK_CONDITION;
	memset(c->sense, 0, 18);
	c->sense[0] = 0x70;
	c->sense[2] = key;
	c->sense[7] = 10;
	c->sense[12] = asc;
	c->sense_len = 18;
}

static inline void fs_exec(struct scsi_cmd *c)
{
	uint32_t lba = (uint32_t)c->cdb[2] << 24 | (uint32_t)c->cdb[3] << 16 |
		       (uint32_t)c->cdb[4] << 8 | c->cdb[5];
	uint32_t n = ((uint32_t)c->cdb[7] << 8 | c->cdb[8]) * 512u;
	uint32_t move;

	c->status = SCSI_STATUS_GOOD;
	c->sense_len = 0;
	c->data_len = 0;
	c->xfer_len = 0;
	if (c->lun != 0) {
		fs_sense(c, 0x05, 0x25);
		return;
	}
	switch (c->cdb[0]) {
	case 0x00:
		return;
	case 0x12:
		c->xfer_len = c->cdb[4];
		move = c->xfer_len < 36 ? c->xfer_len : 36;
		if (move > c->buf_len)
			move = c->buf_len;
		memset(c->buf, 0, move);
		memcpy(c->buf + (move > 8 ? 8 : move), "FAKE    ",
		       move > 16 ? 8 : (move > 8 ? move - 8 : 0));
		c->data_len = move;
		return;
	case 0x28:
	case 0x2a:
		if ((uint64_t)lba * 512 + n > FS_DISK_BYTES) {
			fs_sense(c, 0x05, 0x21);
			return;
		}
		c->xfer_len = n;
		move = n < c->buf_len ? n : c->buf_len;
		if (c->cdb[0] == 0x28) {
			memcpy(c->buf, fs.disk + lba * 512, move);
			c->data_len = move;
		} else {
			memcpy(fs.disk + lba * 512, c->buf, move);
		}
		return;
	default:
		fs_sense(c, 0x05, 0x20);
	}
}

static inline void fs_submit(struct scsi_nexus *nexus, struct scsi_cmd *c)
{
	(void)nexus;
	fs.n_cmds++;
	if (fs.hold && fs.n_held < FS_MAX_HELD) {
		fs.held[fs.n_held++] = c;
		return;
	}
	fs_exec(c);
	c->done(c);
}

/* Complete every held command, oldest first. */
static inline void fs_complete(void)
{
	unsigned int n = fs.n_held;

	fs.n_held = 0;
	for (unsigned int i = 0; i < n; i++) {
		fs_exec(fs.held[i]);
		fs.held[i]->done(fs.held[i]);
	}
}

static inline int fs_tmf(struct scsi_nexus *nexus, enum scsi_tmf tmf,
			 uint64_t lun, scsi_tmf_done_fn *done, void *arg)
{
	(void)nexus;
	fs.n_tmfs++;
	fs.last_tmf = tmf;
	if (fs.tmf_later && tmf == SCSI_TMF_LUN_RESET && lun == 0) {
		fs.tmf_done = done;
		fs.tmf_arg = arg;
		return 1;
	}
	if (tmf != SCSI_TMF_TARGET_WARM_RESET &&
	    tmf != SCSI_TMF_TARGET_COLD_RESET && lun != 0)
		return -ENOENT;
	return 0;
}

static const struct iscsi_scsi_ops fs_ops = {
	.nexus_open = fs_open,
	.nexus_close = fs_close,
	.cmd_submit = fs_submit,
	.tmf = fs_tmf,
};

/* ---- exports ---- */

#define FX_MAX 64
static struct conn_export fx_exports[FX_MAX];
static char fx_names[FX_MAX][48];
static unsigned int fx_count = 1;

static inline const struct conn_export *fx_find(void *opaque, const char *name)
{
	(void)opaque;
	for (unsigned int i = 0; i < fx_count; i++)
		if (strcmp(fx_exports[i].name, name) == 0)
			return &fx_exports[i];
	return NULL;
}

static inline unsigned int fx_n(void *opaque)
{
	(void)opaque;
	return fx_count;
}

static inline const struct conn_export *fx_at(void *opaque, unsigned int i)
{
	(void)opaque;
	return i < fx_count ? &fx_exports[i] : NULL;
}

static const struct conn_exports fx_table = {
	.find = fx_find,
	.count = fx_n,
	.at = fx_at,
};

static inline void fx_setup(unsigned int n)
{
	fx_count = n;
	for (unsigned int i = 0; i < n; i++) {
		snprintf(fx_names[i], sizeof(fx_names[i]),
			 i == 0 ? "disk%u" : "a-rather-long-export-name-%u", i);
		fx_exports[i].name = fx_names[i];
	}
}

/* ---- the initiator ---- */

#define CLI_OUT_MAX (4u * 1024 * 1024)

struct cli {
	struct iscsi_proto *p;
	uint8_t *out;
	size_t out_len, out_off;
	bool hd, dd; /* digests in use (after login) */
	uint32_t cmdsn, itt, exp_statsn;
	int fed; /* last remote_engine_feed result */
};

static inline void cli_drain(struct cli *c)
{
	struct iovec iov[16];
	int n;

	while ((n = remote_engine_tx_iov(iscsi_proto_engine(c->p), iov, 16)) >
	       0) {
		size_t total = 0;

		for (int i = 0; i < n; i++) {
			if (c->out_len + iov[i].iov_len <= CLI_OUT_MAX)
				memcpy(c->out + c->out_len, iov[i].iov_base,
				       iov[i].iov_len);
			c->out_len += iov[i].iov_len;
			total += iov[i].iov_len;
		}
		remote_engine_tx_done(iscsi_proto_engine(c->p), total);
	}
}

static inline int cli_create(struct cli *c, const struct iscsi_config *ic)
{
	struct iscsi_proto_config cfg = {
		.iscsi = ic,
		.scsi = &fs_ops,
		.exports = &fx_table,
		.peer = "test",
		.portal = "127.0.0.1:3260",
	};

	memset(c, 0, sizeof(*c));
	c->out = malloc(CLI_OUT_MAX);
	c->cmdsn = 1;
	c->itt = 0x100;
	return iscsi_proto_create(&cfg, &c->p);
}

static inline void cli_destroy(struct cli *c)
{
	fs.hold = false;
	fs_complete();
	cli_drain(c);
	iscsi_proto_destroy(c->p);
	free(c->out);
}

/* Send one PDU; bhs's DataSegmentLength is filled in. */
static inline int cli_send(struct cli *c, uint8_t *bhs, const void *data,
			   uint32_t dlen)
{
	static uint8_t buf[ISCSI_BHS_BYTES + 8 + 300 * 1024];
	uint32_t pad = iscsi_pad4(dlen);
	size_t n = ISCSI_BHS_BYTES;

	base_be24_put(bhs + 5, dlen);
	memcpy(buf, bhs, ISCSI_BHS_BYTES);
	if (c->hd) {
		iscsi_crc32c_put(buf + n, iscsi_crc32c(bhs, ISCSI_BHS_BYTES));
		n += 4;
	}
	if (dlen) {
		memcpy(buf + n, data, dlen);
		memset(buf + n + dlen, 0, pad);
		if (c->dd)
			iscsi_crc32c_put(buf + n + dlen + pad,
					 iscsi_crc32c(buf + n, dlen + pad));
		n += dlen + pad + (c->dd ? 4 : 0);
	}
	c->fed = (int)remote_engine_feed(iscsi_proto_engine(c->p), buf, n);
	cli_drain(c);
	return c->fed;
}

/* The next PDU the target sent, or false if none is complete. */
static inline bool cli_recv(struct cli *c, uint8_t *bhs, uint8_t **data,
			    uint32_t *dlen)
{
	size_t avail = c->out_len - c->out_off;
	uint8_t *p = c->out + c->out_off;
	size_t hl = ISCSI_BHS_BYTES + (c->hd ? 4 : 0), need;
	uint32_t len;

	cli_drain(c);
	avail = c->out_len - c->out_off;
	p = c->out + c->out_off;
	if (avail < ISCSI_BHS_BYTES)
		return false;
	len = base_be24_get(p + 5);
	need = hl + len + iscsi_pad4(len) + (len && c->dd ? 4 : 0);
	if (avail < need)
		return false;
	memcpy(bhs, p, ISCSI_BHS_BYTES);
	if (c->hd && iscsi_crc32c(p, ISCSI_BHS_BYTES) !=
			     iscsi_crc32c_get(p + ISCSI_BHS_BYTES))
		bhs[0] = 0xff; /* make the test see it */
	if (c->dd && len &&
	    iscsi_crc32c(p + hl, len + iscsi_pad4(len)) !=
		    iscsi_crc32c_get(p + hl + len + iscsi_pad4(len)))
		bhs[0] = 0xfe;
	if (data)
		*data = p + hl;
	if (dlen)
		*dlen = len;
	c->out_off += need;
	if (bhs[0] == ISCSI_OP_SCSI_RSP || bhs[0] == ISCSI_OP_NOP_IN)
		c->exp_statsn = base_be32_get(bhs + 24) + 1;
	return true;
}

/* "a=b\nc=d\n" to NUL-separated text; returns its length. */
static inline uint32_t cli_keys(const char *text, char *out)
{
	size_t n = strlen(text);

	memcpy(out, text, n);
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n')
			out[i] = '\0';
	return (uint32_t)n;
}

/* Find key in NUL-separated text; returns its value or NULL. */
static inline const char *cli_key(const uint8_t *data, uint32_t len,
				  const char *key)
{
	static char val[512];
	size_t kl = strlen(key);

	for (uint32_t i = 0; i < len;) {
		const char *pair = (const char *)data + i;
		size_t pl = strnlen(pair, len - i);

		if (pl > kl && strncmp(pair, key, kl) == 0 && pair[kl] == '=') {
			snprintf(val, sizeof(val), "%.*s", (int)(pl - kl - 1),
				 pair + kl + 1);
			return val;
		}
		i += (uint32_t)pl + 1;
	}
	return NULL;
}

/* One Login Request; returns the response's status (class<<8|detail), or
 * -1 if there was no response.  flags: T/C/CSG/NSG byte. */
static inline int cli_login_pdu(struct cli *c, uint8_t flags, const char *keys,
				uint8_t *rsp, uint8_t **data, uint32_t *dlen)
{
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };
	char text[4096];
	uint32_t n = cli_keys(keys, text);

	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = flags;
	bhs[8] = 0x80; /* ISID: random format */
	bhs[13] = 1;
	base_be32_put(bhs + 16, c->itt);
	base_be32_put(bhs + 24, c->cmdsn);
	base_be32_put(bhs + 28, c->exp_statsn);
	cli_send(c, bhs, text, n);
	if (!cli_recv(c, rsp, data, dlen))
		return -1;
	c->exp_statsn = base_be32_get(rsp + 24) + 1;
	return rsp[36] << 8 | rsp[37];
}

#define LOGIN_OP_FFP (ISCSI_FLAG_LOGIN_T | 1 << 2 | 3)
#define LOGIN_SEC_OP (ISCSI_FLAG_LOGIN_T | 0 << 2 | 1)

/* A whole normal or discovery login straight to full feature phase. */
static inline int cli_login(struct cli *c, const char *target,
			    const char *extra)
{
	char keys[2048];
	uint8_t rsp[ISCSI_BHS_BYTES];
	int st;

	snprintf(keys, sizeof(keys),
		 "InitiatorName=iqn.2026-11.test:ini\n%s%s%s%s%s",
		 target ? "SessionType=Normal\nTargetName=" : "",
		 target ? target : "SessionType=Discovery", "\n",
		 extra ? extra : "", "");
	st = cli_login_pdu(c, LOGIN_OP_FFP, keys, rsp, NULL, NULL);
	return st;
}

/* A SCSI Command PDU. */
static inline void cli_cmd(struct cli *c, uint8_t flags, const uint8_t *cdb,
			   uint32_t edtl, const void *data, uint32_t dlen,
			   bool immediate)
{
	uint8_t bhs[ISCSI_BHS_BYTES] = { 0 };

	bhs[0] = ISCSI_OP_SCSI_CMD | (immediate ? ISCSI_OP_IMMEDIATE : 0);
	bhs[1] = flags;
	base_be32_put(bhs + 16, ++c->itt);
	base_be32_put(bhs + 20, edtl);
	base_be32_put(bhs + 24, c->cmdsn);
	if (!immediate)
		c->cmdsn++;
	base_be32_put(bhs + 28, c->exp_statsn);
	memcpy(bhs + 32, cdb, 16);
	cli_send(c, bhs, data, dlen);
}

static inline void cdb_rw10(uint8_t *cdb, uint8_t op, uint32_t lba,
			    uint16_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	base_be32_put(cdb + 2, lba);
	base_be16_put(cdb + 7, blocks);
}

#endif
