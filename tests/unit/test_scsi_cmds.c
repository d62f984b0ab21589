// SPDX-License-Identifier: MIT
/*
 * The SCSI command set over a RAM export, driven through scsi_nexus_open
 * and scsi_cmd_submit exactly as a transport drives it: status, sense
 * bytes and data for every command, the error cases included, and the
 * state nexuses share (reservations, unit attentions after resets).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_loop.h"
#include "iopd/local.h"
#include "scsi/scsi.h"
#include "scsi/scsi_priv.h"
#include "test.h"
#include "test_local_ram.h"

#define DISK_BYTES (4u << 20) /* 8192 blocks of 512 */
#define N_BLOCKS   (DISK_BYTES / 512)

static struct local *local;
static struct iop_desc desc = { .ops = &local_desc_ops, .name = "ram" };
static struct conn_export export = { .name = "d0", .desc = &desc };
static struct scsi_lun_map luns[3] = {
	{ .lun = 0, .export = &export },
	{ .lun = 1, .export = &export, .read_only = true },
	{ .lun = 300, .export = &export, .block_size = 4096 },
};
static struct scsi_target_info target = {
	.name = "iqn.2026-11.org.iopd:test",
	.tpg = 1,
	.n_luns = 3,
	.luns = luns,
};
static struct base_loop *loop;
static struct scsi_cmd cmd;
static int done_calls;
static uint8_t *buf;

static void cmd_done(struct scsi_cmd *c)
{
	done_calls++;
}

static struct scsi_nexus *nexus_open(const char *initiator)
{
	struct scsi_nexus_args args = {
		.target = &target,
		.initiator = initiator,
		.rel_port_id = 1,
		.loop = loop,
		.max_xfer_bytes = 256 * 1024,
	};
	struct scsi_nexus *n = NULL;

	CHECK_EQ_INT(scsi_nexus_open(&args, &n), 0);
	return n;
}

static int run_cdb(struct scsi_nexus *n, uint64_t lun, const uint8_t *cdb,
		   unsigned int cdb_len, enum scsi_data_dir dir,
		   uint32_t buf_len)
{
	memset(&cmd, 0, sizeof(cmd));
	memcpy(cmd.cdb, cdb, cdb_len);
	cmd.cdb_len = cdb_len;
	cmd.lun = lun;
	cmd.dir = dir;
	cmd.buf = buf;
	cmd.buf_len = buf_len;
	cmd.done = cmd_done;
	done_calls = 0;
	scsi_cmd_submit(n, &cmd);
	CHECK_EQ_INT(done_calls, 1);
	return cmd.status;
}

#define RUN(n, lun, dir, len, ...)                                             \
	run_cdb(n, lun, (const uint8_t[]){ __VA_ARGS__ },                      \
		sizeof((const uint8_t[]){ __VA_ARGS__ }), dir, len)

static unsigned int sense_key(void)
{
	return cmd.sense[0] == 0x72 ? cmd.sense[1] & 0x0f : cmd.sense[2] & 0x0f;
}

static unsigned int sense_asc(void)
{
	return cmd.sense[0] == 0x72 ? cmd.sense[2] << 8 | cmd.sense[3]
				    : cmd.sense[12] << 8 | cmd.sense[13];
}

#define CHECK_SENSE(key, asc)                                                  \
	do {                                                                   \
		CHECK_EQ_INT(cmd.status, SCSI_STATUS_CHECK_CONDITION);         \
		CHECK_EQ_INT(sense_key(), key);                                \
		CHECK_EQ_INT(sense_asc(), asc);                                \
	} while (0)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* A fresh nexus with its power-on unit attention already consumed. */
static struct scsi_nexus *nexus_ready(const char *initiator)
{
	struct scsi_nexus *n = nexus_open(initiator);

	for (uint64_t l = 0; l < 3; l++)
		RUN(n, luns[l].lun, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	return n;
}

static void test_unit_attention_and_tur(void)
{
	struct scsi_nexus *n = nexus_open("iqn.a");

	/* INQUIRY does not clear the power-on UA; TUR reports it once. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	RUN(n, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	CHECK_SENSE(0x6, 0x2900);
	CHECK_EQ_INT(cmd.sense_len, 18);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0), 0);
	/* Unknown LUN. */
	RUN(n, 7, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2500);
	/* Unknown opcode, EXTENDED COPY: INVALID OPCODE. */
	RUN(n, 0, SCSI_DIR_WRITE, 64, 0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0);
	CHECK_SENSE(0x5, 0x2000);
	/* PERSISTENT RESERVE IN, READ KEYS: generation 0, no keys. */
	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_READ, 64, 0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0),
		0);
	CHECK_EQ_INT(cmd.data_len, 8);
	scsi_nexus_close(n);
}

static void test_inquiry(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");

	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 0, 0, 0, 255, 0), 0);
	CHECK_EQ_INT(cmd.data_len, 66);
	CHECK_EQ_INT(buf[0], 0);
	CHECK_EQ_INT(buf[2], 6);
	CHECK_EQ_INT(buf[4], 61);
	CHECK(memcmp(buf + 8, "IOPD    ", 8) == 0);
	/* Allocation length truncates. */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 0, 0, 0, 5, 0);
	CHECK_EQ_INT(cmd.data_len, 5);
	/* No LU: peripheral qualifier 3. */
	RUN(n, 9, SCSI_DIR_READ, 255, 0x12, 0, 0, 0, 36, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(buf[0], 0x7f);
	/* Page code without EVPD, unknown VPD page. */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 0, 0x80, 0, 255, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0x99, 0, 255, 0);
	CHECK_SENSE(0x5, 0x2400);
	/* Supported pages. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0, 0, 255, 0), 0);
	CHECK_EQ_INT(buf[3], 6);
	CHECK(memcmp(buf + 4, "\x00\x80\x83\xb0\xb1\xb2", 6) == 0);
	/* Serial: 16 hex digits, the same through every LUN. */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0x80, 0, 255, 0);
	CHECK_EQ_INT(buf[3], 16);
	uint8_t serial[16];
	memcpy(serial, buf + 4, 16);
	RUN(n, 1, SCSI_DIR_READ, 255, 0x12, 1, 0x80, 0, 255, 0);
	CHECK(memcmp(serial, buf + 4, 16) == 0);
	/* Device identification: NAA 6 first, then T10, then the
	 * relative port and the target port group. */
	RUN(n, 0, SCSI_DIR_READ, 1024, 0x12, 1, 0x83, 0x03, 0xff, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(buf[4] & 0x0f, 1);
	CHECK_EQ_INT(buf[5] & 0x0f, 3);
	CHECK_EQ_INT(buf[7], 16);
	CHECK_EQ_INT(buf[8] >> 4, 6);
	CHECK_EQ_INT(buf[24 + 1] & 0x0f, 1); /* T10 vendor id */
	CHECK(memcmp(buf + 28, "IOPD    ", 8) == 0);
	CHECK_EQ_INT(buf[52 + 1], 0x94); /* relative target port */
	CHECK_EQ_INT(buf[52 + 7], 1);
	CHECK_EQ_INT(buf[60 + 1], 0x95); /* target port group */
	CHECK_EQ_INT(buf[60 + 7], 1);
	/* Block limits: max transfer from max_xfer_bytes (256 KiB). */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0xb0, 0, 255, 0);
	CHECK_EQ_INT(buf[3], 0x3c);
	CHECK_EQ_INT(be32(buf + 8), 512);
	CHECK_EQ_INT(buf[5], 255);
	CHECK(be32(buf + 20) > 0); /* unmap: the RAM DDM trims */
	CHECK(be32(buf + 24) > 0);
	CHECK_EQ_INT(be64(buf + 36), 512); /* WRITE SAME: as a WRITE */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0xb1, 0, 255, 0);
	CHECK_EQ_INT(buf[4] << 8 | buf[5], 1); /* non-rotating */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x12, 1, 0xb2, 0, 255, 0);
	CHECK_EQ_INT(buf[5], 0xe4); /* LBPU, LBPWS, LBPWS10, LBPRZ */
	/* Read-only LUN: no thin provisioning on offer. */
	RUN(n, 1, SCSI_DIR_READ, 255, 0x12, 1, 0xb2, 0, 255, 0);
	CHECK_EQ_INT(buf[5], 0);
	scsi_nexus_close(n);
}

/* Device identification with the longest iSCSI names there are. */
static void test_inquiry_long_names(void)
{
	static char name[224];
	struct scsi_target_info long_target = target;
	struct scsi_nexus_args args = {
		.target = &long_target,
		.initiator = "iqn.a",
		.rel_port_id = 2,
		.loop = loop,
	};
	struct scsi_nexus *n = NULL;
	uint32_t len;

	memset(name, 'x', 223);
	memcpy(name, "iqn.2026-11.org.iopd:", 21);
	long_target.name = name;
	long_target.tpg = 0x1234;
	CHECK_EQ_INT(scsi_nexus_open(&args, &n), 0);
	if (!n)
		return;
	RUN(n, 0, SCSI_DIR_READ, 4096, 0x12, 1, 0x83, 0x10, 0, 0);
	CHECK_EQ_INT(cmd.status, 0);
	len = (uint32_t)(buf[2] << 8 | buf[3]) + 4;
	CHECK_EQ_INT(cmd.data_len, len);
	CHECK(len > 2 * 223);
	/* The last designator: the target name, null terminated. */
	CHECK(memmem(buf, len, name, 223) != NULL);
	CHECK(memmem(buf, len, ",t,0x1234", 9) != NULL);
	CHECK_EQ_INT(buf[52 + 7], 2); /* relative port */
	scsi_nexus_close(n);
}

static void test_report_luns_capacity(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");

	CHECK_EQ_INT(RUN(n, 5, SCSI_DIR_READ, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 1,
			 0, 0, 0),
		     0);
	CHECK_EQ_INT(be32(buf), 24);
	CHECK_EQ_INT(buf[8 + 1], 0);
	CHECK_EQ_INT(buf[16 + 1], 1);
	CHECK_EQ_INT(buf[24], 0x41); /* 300: flat space */
	CHECK_EQ_INT(buf[25], 300 & 0xff);
	RUN(n, 0, SCSI_DIR_READ, 256, 0xa0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2400);
	/* Allocation length cuts the list, not the length it reports. */
	memset(buf, 0xee, 64);
	RUN(n, 0, SCSI_DIR_READ, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0);
	CHECK_EQ_INT(cmd.data_len, 20);
	CHECK_EQ_INT(be32(buf), 24);
	CHECK_EQ_INT(buf[17], 1);
	CHECK_EQ_INT(buf[20], 0xee);

	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_READ, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		0);
	CHECK_EQ_INT(be32(buf), N_BLOCKS - 1);
	CHECK_EQ_INT(be32(buf + 4), 512);
	RUN(n, 0, SCSI_DIR_READ, 8, 0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2400); /* LBA without PMI */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0,
			 0, 0, 0, 0, 0, 32, 0, 0),
		     0);
	CHECK_EQ_INT(be64(buf), N_BLOCKS - 1);
	CHECK_EQ_INT(be32(buf + 8), 512);
	CHECK_EQ_INT(buf[13], 0);
	CHECK_EQ_INT(buf[14], 0xc0); /* LBPME, LBPRZ */
	RUN(n, 300, SCSI_DIR_READ, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 32, 0, 0);
	CHECK_EQ_INT(be64(buf), N_BLOCKS / 8 - 1);
	CHECK_EQ_INT(be32(buf + 8), 4096);
	scsi_nexus_close(n);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void test_read_write(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");
	static uint8_t want[65536];

	fill(want, sizeof(want), 1);
	memcpy(buf, want, 8192);
	/* WRITE(10) 16 blocks at LBA 100, FUA. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 8192, 0x2a, 0x08, 0, 0, 0, 100,
			 0, 0, 16, 0),
		     0);
	CHECK_EQ_INT(cmd.xfer_len, 8192);
	memset(buf, 0, 8192);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 8192, 0x28, 0, 0, 0, 0, 100, 0, 0,
			 16, 0),
		     0);
	CHECK_EQ_INT(cmd.data_len, 8192);
	CHECK(memcmp(buf, want, 8192) == 0);
	/* READ(6), READ(12), READ(16) see the same data. */
	memset(buf, 0, 8192);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x08, 0, 0, 101, 1, 0);
	CHECK(memcmp(buf, want + 512, 512) == 0);
	RUN(n, 0, SCSI_DIR_READ, 1024, 0xa8, 0, 0, 0, 0, 102, 0, 0, 0, 2, 0, 0);
	CHECK(memcmp(buf, want + 1024, 1024) == 0);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 115, 0, 0,
	    0, 1, 0, 0);
	CHECK(memcmp(buf, want + 15 * 512, 512) == 0);
	/* WRITE(6) 0 means 256 blocks; WRITE(16) at the last block. */
	memcpy(buf, want, 65536);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 131072, 0x0a, 0, 2, 0, 0, 0), 0);
	CHECK_EQ_INT(cmd.xfer_len, 131072);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 512, 0x8a, 0, 0, 0, 0, 0, 0, 0,
			 0x1f, 0xff, 0, 0, 0, 1, 0, 0),
		     0);
	/* Beyond the end, zero blocks, protection fields, too big. */
	RUN(n, 0, SCSI_DIR_READ, 1024, 0x28, 0, 0, 0, 0x1f, 0xff, 0, 0, 2, 0);
	CHECK_SENSE(0x5, 0x2100);
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0);
	CHECK_SENSE(0x5, 0x2100);
	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_READ, 0, 0x28, 0, 0, 0, 0, 5, 0, 0, 0, 0),
		0);
	CHECK_EQ_INT(cmd.data_len, 0);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0x20, 0, 0, 0, 5, 0, 0, 1, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_READ, 0, 0xa8, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2400); /* 4096 blocks > 256 KiB */
	/* Less room than the CDB asks: whole blocks that fit. */
	RUN(n, 0, SCSI_DIR_READ, 1000, 0x28, 0, 0, 0, 0, 100, 0, 0, 4, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(cmd.xfer_len, 2048);
	CHECK_EQ_INT(cmd.data_len, 512);
	/* The 4096-byte LUN sees the same bytes (LBA 512 * 512 / 4096). */
	RUN(n, 300, SCSI_DIR_READ, 4096, 0x28, 0, 0, 0, 0, 64, 0, 0, 1, 0);
	CHECK(memcmp(buf, want, 4096) == 0);
	/* Read-only LUN: reads work, writes are DATA PROTECT. */
	CHECK_EQ_INT(RUN(n, 1, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0, 100, 0, 0,
			 1, 0),
		     0);
	RUN(n, 1, SCSI_DIR_WRITE, 512, 0x2a, 0, 0, 0, 0, 100, 0, 0, 1, 0);
	CHECK_SENSE(0x7, 0x2700);
	RUN(n, 1, SCSI_DIR_WRITE, 512, 0x41, 0, 0, 0, 0, 100, 0, 0, 1, 0);
	CHECK_SENSE(0x7, 0x2700);
	RUN(n, 1, SCSI_DIR_WRITE, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0);
	CHECK_SENSE(0x7, 0x2700);
	RUN(n, 1, SCSI_DIR_WRITE, 512, 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 1, 0, 0);
	CHECK_SENSE(0x7, 0x2700);
	scsi_nexus_close(n);
}

static void test_verify_compare_and_write(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");
	static uint8_t want[4096];

	fill(want, sizeof(want), 7);
	memcpy(buf, want, 4096);
	RUN(n, 0, SCSI_DIR_WRITE, 4096, 0x2e, 0, 0, 0, 0x01, 0, 0, 0, 8, 0);
	CHECK_EQ_INT(cmd.status, 0);
	/* VERIFY(10) BYTCHK=1: match, then a miscompare. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 4096, 0x2f, 0x02, 0, 0, 0x01, 0,
			 0, 0, 8, 0),
		     0);
	buf[3000] ^= 1;
	RUN(n, 0, SCSI_DIR_WRITE, 4096, 0x2f, 0x02, 0, 0, 0x01, 0, 0, 0, 8, 0);
	CHECK_SENSE(0xe, 0x1d00);
	/* BYTCHK=0 checks only the range; BYTCHK=2 is reserved. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0xaf, 0, 0, 0, 0x01, 0, 0, 0,
			 0, 8, 0, 0),
		     0);
	RUN(n, 0, SCSI_DIR_NONE, 0, 0x2f, 0x04, 0, 0, 0x01, 0, 0, 0, 8, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_NONE, 0, 0x8f, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0,
	    1, 0, 0);
	CHECK_SENSE(0x5, 0x2100);

	/* COMPARE AND WRITE 1 block at 256: compare want, write ones. */
	memcpy(buf, want, 512);
	memset(buf + 512, 0x11, 512);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0,
			 0x01, 0, 0, 0, 0, 1, 0, 0),
		     0);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0x01, 0, 0, 0, 1, 0);
	CHECK(buf[0] == 0x11 && buf[511] == 0x11);
	/* Now the compare fails at byte 5; INFORMATION says so. */
	memset(buf, 0x11, 512);
	buf[5] = 0;
	memset(buf + 512, 0x22, 512);
	RUN(n, 0, SCSI_DIR_WRITE, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0,
	    0, 0, 1, 0, 0);
	CHECK_SENSE(0xe, 0x1d00);
	CHECK(cmd.sense[0] & 0x80);
	CHECK_EQ_INT(be32(cmd.sense + 3), 5);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0x01, 0, 0, 0, 1, 0);
	CHECK(buf[0] == 0x11);
	/* Zero blocks with data-out, too short a data-out, beyond the
	 * end, read-only. */
	RUN(n, 0, SCSI_DIR_WRITE, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0,
	    0, 0, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x89, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0,
	    0, 1, 0, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_WRITE, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0,
	    0, 0, 1, 0, 0);
	CHECK_SENSE(0x5, 0x2100);
	RUN(n, 1, SCSI_DIR_WRITE, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0,
	    0, 0, 1, 0, 0);
	CHECK_SENSE(0x7, 0x2700);
	scsi_nexus_close(n);
}

static void test_thin_provisioning(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");
	uint8_t *p;

	/* Write 128 blocks (64 KiB, one RAM chunk) at LBA 4096. */
	memset(buf, 0x5a, 65536);
	RUN(n, 0, SCSI_DIR_WRITE, 65536, 0x2a, 0, 0, 0, 0x10, 0, 0, 0, 128, 0);
	CHECK_EQ_INT(cmd.status, 0);
	/* GET LBA STATUS from 3968: 128 deallocated, then 128 mapped. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 1024, 0x9e, 0x12, 0, 0, 0, 0, 0,
			 0, 0x0f, 0x80, 0, 0, 0x04, 0, 0, 0),
		     0);
	CHECK(be32(buf) >= 4 + 2 * 16);
	CHECK_EQ_INT(be64(buf + 8), 3968);
	CHECK_EQ_INT(be32(buf + 16), 128);
	CHECK_EQ_INT(buf[20], 1);
	CHECK_EQ_INT(be64(buf + 24), 4096);
	CHECK_EQ_INT(be32(buf + 32), 128);
	CHECK_EQ_INT(buf[36], 0);
	RUN(n, 0, SCSI_DIR_READ, 1024, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x20, 0, 0,
	    0, 0x04, 0, 0, 0);
	CHECK_SENSE(0x5, 0x2100);
	/* UNMAP it: reads back zeroes and reports deallocated. */
	p = buf;
	memset(p, 0, 24);
	p[1] = 22;
	p[3] = 16;
	p[8 + 6] = 0x10; /* LBA 4096 */
	p[8 + 11] = 128;
	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_WRITE, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0),
		0);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0x10, 0x10, 0, 0, 1, 0);
	CHECK(buf[0] == 0 && buf[511] == 0);
	RUN(n, 0, SCSI_DIR_READ, 1024, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0x10, 0, 0,
	    0, 0x04, 0, 0, 0);
	CHECK_EQ_INT(buf[20], 1);
	/* UNMAP errors: short list, beyond the end, anchor. */
	memset(buf, 0, 24);
	RUN(n, 0, SCSI_DIR_WRITE, 4, 0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0);
	CHECK_SENSE(0x5, 0x1a00);
	buf[3] = 16;
	buf[8 + 6] = 0x20;
	buf[8 + 11] = 1;
	RUN(n, 0, SCSI_DIR_WRITE, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0);
	CHECK_SENSE(0x5, 0x2100);
	RUN(n, 0, SCSI_DIR_WRITE, 24, 0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0);
	CHECK_SENSE(0x5, 0x2400);

	/* WRITE SAME(10) with a pattern over 300 blocks at 2000. */
	memset(buf, 0xa5, 512);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0, 0, 0, 0x07, 0xd0,
			 0, 0x01, 0x2c, 0),
		     0);
	RUN(n, 0, SCSI_DIR_READ, 300 * 512, 0x28, 0, 0, 0, 0x07, 0xd0, 0, 0x01,
	    0x2c, 0);
	CHECK(buf[0] == 0xa5 && buf[300 * 512 - 1] == 0xa5);
	/* WRITE SAME(16) NDOB+UNMAP: zeroes, deallocated. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0x93, 0x09, 0, 0, 0, 0, 0, 0,
			 0x07, 0x80, 0, 0, 0x02, 0, 0, 0),
		     0);
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0x07, 0xd0, 0, 0, 1, 0);
	CHECK(buf[0] == 0 && buf[511] == 0);
	/* WRITE SAME(10) UNMAP with a pattern deallocates all the same. */
	memset(buf, 0xa5, 512);
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0, 0, 0, 0x07, 0xd0, 0, 0, 8, 0);
	memset(buf, 0xff, 512);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0x08, 0, 0, 0x07,
			 0xd0, 0, 0, 8, 0),
		     0);
	RUN(n, 0, SCSI_DIR_READ, 4096, 0x28, 0, 0, 0, 0x07, 0xd0, 0, 0, 8, 0);
	CHECK(buf[0] == 0 && buf[4095] == 0);
	/* The data-out is exactly one block. */
	RUN(n, 0, SCSI_DIR_WRITE, 1024, 0x41, 0, 0, 0, 0, 0, 0, 0, 2, 0);
	CHECK_SENSE(0x5, 0x2400);
	/* WRITE SAME errors: beyond the end, LBDATA, NDOB in (10). */
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0, 0, 0, 0x1f, 0xff, 0, 0, 2, 0);
	CHECK_SENSE(0x5, 0x2100);
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0, 0, 0, 0, 0, 0, 0x02, 1, 0);
	CHECK_SENSE(0x5, 0x2400); /* 513 blocks: more than a WRITE */
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0x02, 0, 0, 0, 0, 0, 0, 2, 0);
	CHECK_SENSE(0x5, 0x2400);
	RUN(n, 0, SCSI_DIR_WRITE, 512, 0x41, 0x01, 0, 0, 0, 0, 0, 0, 2, 0);
	CHECK_SENSE(0x5, 0x2400);
	scsi_nexus_close(n);
}

static void test_cache_prefetch_start_stop(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");

	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_NONE, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		0);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0x91, 0x02, 0, 0, 0, 0, 0, 0,
			 0, 0, 0, 0, 0, 8, 0, 0),
		     0);
	RUN(n, 0, SCSI_DIR_NONE, 0, 0x35, 0, 0, 0, 0x20, 0, 0, 0, 1, 0);
	CHECK_SENSE(0x5, 0x2100);
	CHECK_EQ_INT(
		RUN(n, 0, SCSI_DIR_NONE, 0, 0x34, 0, 0, 0, 0, 0, 0, 0, 8, 0),
		SCSI_STATUS_CONDITION_MET);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0x90, 0, 0, 0, 0, 0, 0, 0, 0,
			 0, 0, 0, 0, 8, 0, 0),
		     SCSI_STATUS_CONDITION_MET);
	RUN(n, 0, SCSI_DIR_NONE, 0, 0x34, 0, 0, 0, 0x20, 0, 0, 0, 1, 0);
	CHECK_SENSE(0x5, 0x2100);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_NONE, 0, 0x1b, 0, 0, 0, 1, 0), 0);
	/* READ DEFECT DATA: empty lists in the format asked for. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 64, 0x37, 0, 0x1d, 0, 0, 0, 0, 0,
			 64, 0),
		     0);
	CHECK_EQ_INT(cmd.data_len, 4);
	CHECK_EQ_INT(buf[1], 0x1d);
	CHECK_EQ_INT(buf[2] | buf[3], 0);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 64, 0xb7, 0x0c, 0, 0, 0, 0, 0, 0,
			 0, 64, 0, 0),
		     0);
	CHECK_EQ_INT(cmd.data_len, 8);
	CHECK_EQ_INT(buf[1], 0x0c);
	scsi_nexus_close(n);
}

static void test_mode_pages_and_sense(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");
	uint8_t page[12];

	/* MODE SENSE(6) all pages: header, block descriptor, pages. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0, 0x3f, 0, 255, 0),
		     0);
	CHECK_EQ_INT(buf[0] + 1, cmd.data_len);
	CHECK_EQ_INT(buf[2], 0x10); /* DPOFUA, not WP */
	CHECK_EQ_INT(buf[3], 8);
	CHECK_EQ_INT(be32(buf + 4), N_BLOCKS);
	CHECK_EQ_INT(buf[12], 0x08);
	CHECK_EQ_INT(buf[32], 0x0a);
	CHECK_EQ_INT(buf[44], 0x1c);
	CHECK_EQ_INT(cmd.data_len, 56);
	/* Read-only LUN: WP; MODE SENSE(10) with LLBAA. */
	RUN(n, 1, SCSI_DIR_READ, 255, 0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(buf[3], 0x90);
	CHECK_EQ_INT(buf[4], 1);
	CHECK_EQ_INT(buf[7], 16);
	CHECK_EQ_INT(be64(buf + 8), N_BLOCKS);
	CHECK_EQ_INT(buf[24], 0x08);
	/* Saved values, unknown page. */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0, 0xc8, 0, 255, 0);
	CHECK_SENSE(0x5, 0x3900);
	RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0, 0x19, 0, 255, 0);
	CHECK_SENSE(0x5, 0x2400);

	/* MODE SELECT(6): set D_SENSE in the control page. */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0x08, 0x0a, 0, 255, 0);
	memcpy(page, buf + 4, 12);
	page[2] |= 0x04;
	memset(buf, 0, 4);
	memcpy(buf + 4, page, 12);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 16, 0x15, 0x10, 0, 0, 16, 0), 0);
	/* Now errors come in descriptor format. */
	RUN(n, 0, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0x20, 0, 0, 0, 1, 0);
	CHECK_SENSE(0x5, 0x2100);
	CHECK_EQ_INT(cmd.sense[0], 0x72);
	CHECK_EQ_INT(cmd.sense_len, 8);
	/* A bit that cannot change: INVALID FIELD IN PARAMETER LIST. */
	page[2] &= ~0x04;
	page[3] ^= 0x01;
	memset(buf, 0, 4);
	memcpy(buf + 4, page, 12);
	RUN(n, 0, SCSI_DIR_WRITE, 16, 0x15, 0x10, 0, 0, 16, 0);
	CHECK_SENSE(0x5, 0x2600);
	CHECK_EQ_INT(cmd.sense[0], 0x72); /* nothing was applied */
	/* Truncated list, save bit. */
	RUN(n, 0, SCSI_DIR_WRITE, 10, 0x15, 0x10, 0, 0, 10, 0);
	CHECK_SENSE(0x5, 0x1a00);
	RUN(n, 0, SCSI_DIR_WRITE, 16, 0x15, 0x11, 0, 0, 16, 0);
	CHECK_SENSE(0x5, 0x2400);
	/* Back to fixed format. */
	page[3] ^= 0x01;
	memset(buf, 0, 4);
	memcpy(buf + 4, page, 12);
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 16, 0x15, 0x10, 0, 0, 16, 0), 0);
	/* Caching page: WCE changeable; MODE SELECT(10) turns it on and
	 * MODE SENSE(10) reads it back (the RAM DDM has no cache, so it
	 * starts off). */
	RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0x08, 0x48, 0, 255, 0);
	CHECK_EQ_INT(buf[4], 0x08);
	CHECK_EQ_INT(buf[6], 0x04);
	RUN(n, 0, SCSI_DIR_READ, 255, 0x1a, 0x08, 0x08, 0, 255, 0);
	CHECK_EQ_INT(buf[6], 0);
	memset(buf, 0, 8);
	memset(buf + 8, 0, 20);
	buf[8] = 0x08;
	buf[9] = 0x12;
	buf[10] = 0x04;
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_WRITE, 28, 0x55, 0x10, 0, 0, 0, 0, 0, 0,
			 28, 0),
		     0);
	RUN(n, 0, SCSI_DIR_READ, 255, 0x5a, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(buf[8], 0x08);
	CHECK_EQ_INT(buf[10], 0x04);
	/* A page of the wrong length. */
	memset(buf, 0, 28);
	buf[8] = 0x08;
	buf[9] = 0x10;
	RUN(n, 0, SCSI_DIR_WRITE, 26, 0x55, 0x10, 0, 0, 0, 0, 0, 0, 26, 0);
	CHECK_SENSE(0x5, 0x2600);

	/* REQUEST SENSE: nothing pending, both formats. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 252, 0x03, 0, 0, 0, 252, 0), 0);
	CHECK_EQ_INT(cmd.data_len, 18);
	CHECK_EQ_INT(buf[0], 0x70);
	CHECK_EQ_INT(buf[2], 0);
	RUN(n, 0, SCSI_DIR_READ, 252, 0x03, 1, 0, 0, 252, 0);
	CHECK_EQ_INT(buf[0], 0x72);
	scsi_nexus_close(n);
}

static void test_report_opcodes(void)
{
	struct scsi_nexus *n = nexus_ready("iqn.a");
	uint32_t len;
	bool seen_read16 = false;

	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 4096, 0xa3, 0x0c, 0, 0, 0, 0, 0,
			 0, 0x10, 0, 0, 0),
		     0);
	len = be32(buf);
	CHECK(len > 0 && len % 8 == 0);
	for (uint32_t off = 4; off < 4 + len; off += 8)
		if (buf[off] == 0x88)
			seen_read16 = buf[off + 7] == 16;
	CHECK(seen_read16);
	/* One command: READ(10), with timeouts. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 256, 0xa3, 0x0c, 0x81, 0x28, 0, 0,
			 0, 0, 1, 0, 0, 0),
		     0);
	CHECK_EQ_INT(buf[1], 0x83);
	CHECK_EQ_INT(buf[3], 10);
	CHECK_EQ_INT(buf[4], 0x28);
	CHECK_EQ_INT(cmd.data_len, 4 + 10 + 12);
	/* Not supported; a service action where none exists. */
	RUN(n, 0, SCSI_DIR_READ, 256, 0xa3, 0x0c, 0x01, 0x83, 0, 0, 0, 0, 1, 0,
	    0, 0);
	CHECK_EQ_INT(buf[1] & 7, 1);
	RUN(n, 0, SCSI_DIR_READ, 256, 0xa3, 0x0c, 0x01, 0x5f, 0, 0, 0, 0, 1, 0,
	    0, 0);
	CHECK_EQ_INT(buf[1] & 7, 3);
	RUN(n, 0, SCSI_DIR_READ, 256, 0xa3, 0x0c, 0x02, 0x28, 0, 0, 0, 0, 1, 0,
	    0, 0);
	CHECK_SENSE(0x5, 0x2400);
	CHECK_EQ_INT(cmd.sense[15], 0xca); /* SKSV, C/D, BPV, bit 2 */
	CHECK_EQ_INT(cmd.sense[17], 2);	   /* byte 2: reporting options */
	/* READ CAPACITY(16) by opcode and service action. */
	CHECK_EQ_INT(RUN(n, 0, SCSI_DIR_READ, 256, 0xa3, 0x0c, 0x02, 0x9e, 0,
			 0x10, 0, 0, 1, 0, 0, 0),
		     0);
	CHECK_EQ_INT(buf[1] & 7, 3);
	CHECK_EQ_INT(buf[5], 0x10);
	scsi_nexus_close(n);
}

static void test_reservations_and_resets(void)
{
	struct scsi_nexus *a = nexus_ready("iqn.a"), *b = nexus_ready("iqn.b");

	CHECK_EQ_INT(RUN(a, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_INT(RUN(a, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0),
		     SCSI_STATUS_RESERVATION_CONFLICT);
	/* Every LUN on the same device is reserved. */
	CHECK_EQ_INT(
		RUN(b, 1, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
		SCSI_STATUS_RESERVATION_CONFLICT);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_NONE, 0, 0x17, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_READ, 255, 0x1a, 0, 0x3f, 0, 255, 0),
		     SCSI_STATUS_RESERVATION_CONFLICT);
	CHECK_EQ_INT(RUN(a, 0, SCSI_DIR_READ, 255, 0x1a, 0, 0x3f, 0, 255, 0),
		     0);
	/* A LUN reset from a clears the reservation and raises a UA on
	 * both nexuses, the resetting one included. */
	CHECK_EQ_INT(scsi_nexus_tmf(a, SCSI_TMF_LUN_RESET, 0), 0);
	CHECK_EQ_INT(scsi_nexus_tmf(a, SCSI_TMF_LUN_RESET, 42), -ENOENT);
	RUN(a, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	CHECK_SENSE(0x6, 0x2903);
	RUN(b, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	CHECK_SENSE(0x6, 0x2903);
	/* REQUEST SENSE reports and clears a UA. */
	RUN(b, 1, SCSI_DIR_READ, 18, 0x03, 0, 0, 0, 18, 0);
	CHECK_EQ_INT(cmd.status, 0);
	CHECK_EQ_INT(buf[2], 0x6);
	CHECK_EQ_INT(RUN(b, 1, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0), 0);
	/* A target reset raises the UA on the other nexus only. */
	CHECK_EQ_INT(scsi_nexus_tmf(b, SCSI_TMF_TARGET_WARM_RESET, 0), 0);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0), 0);
	RUN(a, 0, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0);
	CHECK_SENSE(0x6, 0x2903);
	CHECK_EQ_INT(RUN(b, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0), 0);
	/* Closing the nexus (logout) releases what it held. */
	scsi_nexus_close(b);
	RUN(a, 1, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0); /* UA of LUN 1 */
	CHECK_EQ_INT(RUN(a, 0, SCSI_DIR_NONE, 0, 0x16, 0, 0, 0, 0, 0), 0);
	CHECK_EQ_INT(RUN(a, 0, SCSI_DIR_NONE, 0, 0x17, 0, 0, 0, 0, 0), 0);
	scsi_nexus_close(a);
}

/* The one errno-to-sense converter, and both sense formats. */
static void test_sense_formats(void)
{
	struct scsi_cmd c;
	uint64_t info = 0x1234;

	scsi_sense_from_errno(&c, false, -EIO, false);
	CHECK_EQ_INT(c.sense[2], 0x3);
	CHECK_EQ_INT(c.sense[12] << 8 | c.sense[13], 0x1100);
	scsi_sense_from_errno(&c, false, -EIO, true);
	CHECK_EQ_INT(c.sense[12] << 8 | c.sense[13], 0x0c00);
	scsi_sense_from_errno(&c, false, -EPERM, true);
	CHECK_EQ_INT(c.sense[2], 0x7);
	scsi_sense_from_errno(&c, false, -ENOSPC, true);
	CHECK_EQ_INT(c.sense[12] << 8 | c.sense[13], 0x2707);
	scsi_sense_from_errno(&c, false, -ENOMEM, false);
	CHECK_EQ_INT(c.sense[2], 0xb);
	scsi_sense_from_errno(&c, true, -EXDEV, false);
	CHECK_EQ_INT(c.sense[0], 0x72);
	CHECK_EQ_INT(c.sense[1], 0x4);
	CHECK_EQ_INT(c.status, SCSI_STATUS_CHECK_CONDITION);
	/* Descriptor format carries INFORMATION in its own descriptor. */
	scsi_cmd_set_sense(&c, true, 0xe, 0x1d00, &info);
	CHECK_EQ_INT(c.sense_len, 20);
	CHECK_EQ_INT(c.sense[7], 12);
	CHECK_EQ_INT(c.sense[8], 0);
	CHECK_EQ_INT(c.sense[10], 0x80);
	CHECK_EQ_INT(be64(c.sense + 12), 0x1234);
	/* The transport's own: fixed, 18 bytes. */
	scsi_cmd_set_sense(&c, false, 0xb, 0x4700, NULL);
	CHECK_EQ_INT(c.sense_len, 18);
	CHECK_EQ_INT(c.sense[0], 0x70);
	CHECK_EQ_INT(c.sense[12], 0x47);
}

int main(void)
{
	if (test_local_ram_scan(DISK_BYTES, &local) < 0 ||
	    base_loop_create(&loop, BASE_ENGINE_AUTO, 0) < 0) {
		printf("Bail out! no RAM export or loop\n");
		return 1;
	}
	desc.ctx = local_iop_context(local, 0);
	buf = aligned_alloc(4096, 1 << 20);
	TEST_CASE(test_unit_attention_and_tur);
	TEST_CASE(test_inquiry);
	TEST_CASE(test_inquiry_long_names);
	TEST_CASE(test_report_luns_capacity);
	TEST_CASE(test_read_write);
	TEST_CASE(test_verify_compare_and_write);
	TEST_CASE(test_thin_provisioning);
	TEST_CASE(test_cache_prefetch_start_stop);
	TEST_CASE(test_mode_pages_and_sense);
	TEST_CASE(test_report_opcodes);
	TEST_CASE(test_reservations_and_resets);
	TEST_CASE(test_sense_formats);
	free(buf);
	base_loop_destroy(loop);
	local_destroy(local);
	return test_done();
}
