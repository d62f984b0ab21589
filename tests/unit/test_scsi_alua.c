// SPDX-License-Identifier: MIT
/*
 * Implicit ALUA in the SCSI command set (scsi_alua.c) over a RAM export:
 * the default single group, a configuration with local and another
 * gateway's groups, REPORT TARGET PORT GROUPS in both formats, the TPGS
 * field and the VPD 0x83 designators, the commands each state refuses
 * and their sense, the unit attention a state change raises on every
 * nexus, portal matching, and configurations that are refused; explicit
 * ALUA (SET TARGET PORT GROUPS: TPGS, what it accepts and refuses, the
 * unit attention on every nexus but the caller's) and a live
 * reconfiguration (kept and changed states, a retired port).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_loop.h"
#include "iopd/local.h"
#include "scsi/scsi.h"
#include "scsi/scsi_alua.h"
#include "test.h"
#include "test_local_ram.h"

static struct local *local;
static struct iop_desc desc = { .ops = &local_desc_ops, .name = "ram" };
static struct conn_export export = { .name = "d0", .desc = &desc };
static struct scsi_lun_map luns[1] = { { .lun = 0, .export = &export } };
static struct scsi_target_info target = {
	.name = "iqn.2026-11.org.iopd:alua",
	.tpg = 1,
	.n_luns = 1,
	.luns = luns,
};
static struct base_loop *loop;
static struct scsi_cmd cmd;
static uint8_t *buf;

static void cmd_done(struct scsi_cmd *c)
{
}

static struct scsi_nexus *nexus_open(uint16_t port)
{
	struct scsi_nexus_args args = {
		.target = &target,
		.initiator = "iqn.a",
		.rel_port_id = port,
		.loop = loop,
		.max_xfer_bytes = 256 * 1024,
	};
	struct scsi_nexus *n = NULL;

	CHECK_EQ_INT(scsi_nexus_open(&args, &n), 0);
	return n;
}

static int run_cdb(struct scsi_nexus *n, const uint8_t *cdb,
		   unsigned int cdb_len, enum scsi_data_dir dir,
		   uint32_t buf_len)
{
	memset(&cmd, 0, sizeof(cmd));
	memcpy(cmd.cdb, cdb, cdb_len);
	cmd.cdb_len = cdb_len;
	cmd.dir = dir;
	cmd.buf = buf;
	cmd.buf_len = buf_len;
	cmd.done = cmd_done;
	scsi_cmd_submit(n, &cmd);
	return cmd.status;
}

#define RUN(n, dir, len, ...)                                                  \
	run_cdb(n, (const uint8_t[]){ __VA_ARGS__ },                           \
		sizeof((const uint8_t[]){ __VA_ARGS__ }), dir, len)
#define TUR(n)	RUN(n, SCSI_DIR_NONE, 0, 0x00, 0, 0, 0, 0, 0)
#define READ(n) RUN(n, SCSI_DIR_READ, 512, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0)
#define RTPG(n, fmt)                                                           \
	RUN(n, SCSI_DIR_READ, 4096, 0xa3, (fmt) << 5 | 0x0a, 0, 0, 0, 0, 0, 0, \
	    0x10, 0, 0, 0)

/* Sense key << 16 | ASC << 8 | ASCQ of the last command (fixed format). */
static unsigned int sense(void)
{
	if (cmd.status != SCSI_STATUS_CHECK_CONDITION)
		return 0;
	return (cmd.sense[2] & 0x0fu) << 16 | cmd.sense[12] << 8 |
	       cmd.sense[13];
}

static unsigned int be16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static struct scsi_nexus *nexus_ready(uint16_t port)
{
	struct scsi_nexus *n = nexus_open(port);

	if (n)
		TUR(n); /* the power-on unit attention */
	return n;
}

static void test_default_group(void)
{
	struct scsi_nexus *n;

	CHECK_EQ_INT(scsi_alua_configure(NULL, 0), 0);
	CHECK_EQ_INT(scsi_alua_portal_port("192.0.2.1:3260"), 1);
	CHECK_EQ_INT(scsi_alua_portal_port(NULL), 1);
	n = nexus_ready(1);
	if (!n)
		return;
	CHECK_EQ_INT(RUN(n, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	CHECK_EQ_INT((buf[5] >> 4) & 3, 1); /* TPGS: implicit */
	CHECK_EQ_INT(RTPG(n, 0), 0);
	CHECK_EQ_INT(cmd.data_len, 16);
	CHECK_EQ_INT(buf[3], 12);
	CHECK_EQ_INT(buf[4], 0x00); /* active/optimized, not preferred */
	CHECK_EQ_INT(buf[5], 0x8f); /* T, U, S, AN, AO supported */
	CHECK_EQ_INT(be16(buf + 6), 1);
	CHECK_EQ_INT(buf[9], 0); /* no status */
	CHECK_EQ_INT(buf[11], 1);
	CHECK_EQ_INT(be16(buf + 14), 1);
	/* The extended header: format 1, transition time 0. */
	CHECK_EQ_INT(RTPG(n, 1), 0);
	CHECK_EQ_INT(cmd.data_len, 20);
	CHECK_EQ_INT(buf[3], 16);
	CHECK_EQ_INT(buf[4], 0x10);
	CHECK_EQ_INT(be16(buf + 10), 1);
	/* Formats 2..7 do not exist. */
	RTPG(n, 2);
	CHECK_EQ_INT(sense(), 0x052400);
	/* The allocation length cuts the data. */
	CHECK_EQ_INT(RUN(n, SCSI_DIR_READ, 4096, 0xa3, 0x0a, 0, 0, 0, 0, 0, 0,
			 0, 6, 0, 0),
		     0);
	CHECK_EQ_INT(cmd.data_len, 6);
	scsi_nexus_close(n);
}

static const char *const portals_a[] = { "127.0.0.1", "[::1]:3260" };
static const char *const portals_b[] = { "127.0.0.2:3260" };
static const struct scsi_alua_group_cfg groups[] = {
	{ .id = 10,
	  .port = 1,
	  .state = SCSI_ALUA_OPTIMIZED,
	  .preferred = true,
	  .n_portals = 2,
	  .portals = portals_a },
	{ .id = 20,
	  .port = 2,
	  .state = SCSI_ALUA_STANDBY,
	  .n_portals = 1,
	  .portals = portals_b },
	{ .id = 30, .state = SCSI_ALUA_NON_OPTIMIZED }, /* another gateway */
};

static void test_portals(void)
{
	CHECK_EQ_INT(scsi_alua_configure(groups, 3), 0);
	CHECK_EQ_INT(scsi_alua_portal_port("127.0.0.1:40000"), 1);
	CHECK_EQ_INT(scsi_alua_portal_port("[::1]:3260"), 1);
	CHECK_EQ_INT(scsi_alua_portal_port("127.0.0.2:3260"), 2);
	/* Wrong port or unknown address: the first served group. */
	CHECK_EQ_INT(scsi_alua_portal_port("127.0.0.2:3261"), 1);
	CHECK_EQ_INT(scsi_alua_portal_port("[::1]:3261"), 1);
	CHECK_EQ_INT(scsi_alua_portal_port("10.1.1.1:3260"), 1);
}

static void test_rtpg_and_designators(void)
{
	struct scsi_nexus *a, *b;

	CHECK_EQ_INT(scsi_alua_configure(groups, 3), 0);
	a = nexus_ready(1);
	b = nexus_ready(2);
	if (!a || !b)
		return;
	CHECK_EQ_INT(RTPG(b, 0), 0);
	CHECK_EQ_INT(cmd.data_len, 4 + 3 * 12);
	CHECK_EQ_INT(buf[4], 0x80); /* preferred, active/optimized */
	CHECK_EQ_INT(be16(buf + 6), 10);
	CHECK_EQ_INT(be16(buf + 14), 1);
	CHECK_EQ_INT(buf[16], 0x02); /* standby */
	CHECK_EQ_INT(be16(buf + 18), 20);
	CHECK_EQ_INT(be16(buf + 26), 2);
	CHECK_EQ_INT(buf[28], 0x01); /* active/non-optimized */
	CHECK_EQ_INT(be16(buf + 30), 30);
	CHECK_EQ_INT(be16(buf + 38), 30); /* port defaults to the id */
	/* VPD 0x83 through b: relative port 2, group 20. */
	CHECK_EQ_INT(RUN(b, SCSI_DIR_READ, 1024, 0x12, 1, 0x83, 0x04, 0, 0), 0);
	CHECK_EQ_INT(buf[52 + 1], 0x94);
	CHECK_EQ_INT(be16(buf + 52 + 6), 2);
	CHECK_EQ_INT(buf[60 + 1], 0x95);
	CHECK_EQ_INT(be16(buf + 60 + 6), 20);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

/* b is on standby: what still works, and the sense of what does not. */
static void test_standby(void)
{
	struct scsi_nexus *b;

	CHECK_EQ_INT(scsi_alua_configure(groups, 3), 0);
	b = nexus_open(2);
	if (!b)
		return;
	/* A unit attention comes before the access state. */
	TUR(b);
	CHECK_EQ_INT(sense(), 0x062900);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x02040b);
	READ(b);
	CHECK_EQ_INT(sense(), 0x02040b);
	CHECK_EQ_INT(RUN(b, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	CHECK_EQ_INT(RUN(b, SCSI_DIR_READ, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
			 0, 0),
		     0);
	CHECK_EQ_INT(RUN(b, SCSI_DIR_READ, 255, 0x1a, 0x08, 0x3f, 0, 255, 0),
		     0);
	CHECK_EQ_INT(RUN(b, SCSI_DIR_READ, 252, 0x03, 0, 0, 0, 252, 0), 0);
	CHECK_EQ_INT(RTPG(b, 0), 0);
	/* READ CAPACITY and REPORT SUPPORTED OPCODES are not on the list. */
	RUN(b, SCSI_DIR_READ, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	CHECK_EQ_INT(sense(), 0x02040b);
	scsi_nexus_close(b);
}

static void test_state_change(void)
{
	struct scsi_nexus *a, *b;

	CHECK_EQ_INT(scsi_alua_configure(groups, 3), 0);
	a = nexus_ready(1);
	b = nexus_ready(2);
	if (!a || !b)
		return;
	CHECK_EQ_INT(scsi_alua_set_state(99, SCSI_ALUA_STANDBY), -ENOENT);
	CHECK_EQ_INT(scsi_alua_set_state(20, (enum scsi_alua_state)7), -EINVAL);
	CHECK_EQ_INT(scsi_alua_set_state(20, SCSI_ALUA_OPTIMIZED), 0);
	CHECK_EQ_INT(scsi_alua_set_state(10, SCSI_ALUA_UNAVAILABLE), 0);
	/* Every nexus hears of it once, then sees its new state. */
	READ(b);
	CHECK_EQ_INT(sense(), 0x062a06);
	CHECK_EQ_INT(READ(b), 0);
	TUR(a);
	CHECK_EQ_INT(sense(), 0x062a06);
	TUR(a);
	CHECK_EQ_INT(sense(), 0x02040c);
	RUN(a, SCSI_DIR_READ, 255, 0x1a, 0x08, 0x3f, 0, 255, 0);
	CHECK_EQ_INT(sense(), 0x02040c); /* MODE SENSE: standby only */
	CHECK_EQ_INT(RTPG(a, 0), 0);
	CHECK_EQ_INT(buf[4], 0x83); /* preferred, unavailable */
	CHECK_EQ_INT(buf[9], 0x02); /* altered by an implicit transition */
	CHECK_EQ_INT(buf[16], 0x00);
	CHECK_EQ_INT(buf[33], 0x00); /* group 30 never changed */
	CHECK_EQ_INT(scsi_alua_set_state(10, SCSI_ALUA_TRANSITIONING), 0);
	TUR(a);
	TUR(a);
	CHECK_EQ_INT(sense(), 0x02040a);
	/* A pending reset outranks the state change. */
	CHECK_EQ_INT(scsi_nexus_tmf(b, SCSI_TMF_LUN_RESET, 0), 0);
	CHECK_EQ_INT(scsi_alua_set_state(10, SCSI_ALUA_OPTIMIZED), 0);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x062903);
	CHECK_EQ_INT(TUR(b), 0);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

/* SET TARGET PORT GROUPS from n: descriptors (state, group) pairs. */
static int stpg(struct scsi_nexus *n, unsigned int count, const uint16_t *d)
{
	uint32_t len = 4 + 4 * count;

	memset(buf, 0, len);
	for (unsigned int i = 0; i < count; i++) {
		buf[4 + 4 * i] = (uint8_t)d[2 * i];
		buf[4 + 4 * i + 2] = (uint8_t)(d[2 * i + 1] >> 8);
		buf[4 + 4 * i + 3] = (uint8_t)d[2 * i + 1];
	}
	return RUN(n, SCSI_DIR_WRITE, len, 0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0,
		   (uint8_t)len, 0, 0);
}
#define STPG(n, ...)                                                           \
	stpg(n, sizeof((const uint16_t[]){ __VA_ARGS__ }) / 4,                 \
	     (const uint16_t[]){ __VA_ARGS__ })

/* REPORT SUPPORTED OPERATION CODES, one command: its SUPPORT field. */
static unsigned int rsoc_support(struct scsi_nexus *n, uint8_t op, uint8_t sa)
{
	if (RUN(n, SCSI_DIR_READ, 64, 0xa3, 0x0c, 0x02, op, 0, sa, 0, 0, 0, 64,
		0, 0))
		return 0xff;
	return buf[1] & 0x07;
}

static void test_implicit_only(void)
{
	struct scsi_nexus *a;

	CHECK_EQ_INT(scsi_alua_configure(groups, 3), 0);
	a = nexus_ready(1);
	if (!a)
		return;
	CHECK_EQ_INT(RUN(a, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	CHECK_EQ_INT((buf[5] >> 4) & 3, 1);	      /* TPGS: implicit only */
	CHECK_EQ_INT(rsoc_support(a, 0xa4, 0x0a), 1); /* not supported */
	CHECK_EQ_INT(rsoc_support(a, 0xa3, 0x0a), 3);
	STPG(a, SCSI_ALUA_STANDBY, 10);
	CHECK_EQ_INT(sense(), 0x052000); /* INVALID COMMAND OPERATION CODE */
	scsi_nexus_close(a);
}

static const struct scsi_alua_group_cfg explicit_groups[] = {
	{ .id = 10,
	  .port = 1,
	  .state = SCSI_ALUA_OPTIMIZED,
	  .explicit_ok = true,
	  .n_portals = 2,
	  .portals = portals_a },
	{ .id = 20,
	  .port = 2,
	  .state = SCSI_ALUA_STANDBY,
	  .explicit_ok = true,
	  .n_portals = 1,
	  .portals = portals_b },
	{ .id = 30, .state = SCSI_ALUA_NON_OPTIMIZED }, /* another gateway */
	{ .id = 40,
	  .port = 4,
	  .state = SCSI_ALUA_NON_OPTIMIZED, /* served, but implicit only */
	  .n_portals = 1,
	  .portals = portals_b },
};

/* Every refused list leaves every state as it was. */
static void check_stpg_refusals(struct scsi_nexus *a)
{
	STPG(a, SCSI_ALUA_STANDBY, 10, SCSI_ALUA_OPTIMIZED, 99);
	CHECK_EQ_INT(sense(), 0x052600); /* no group 99 */
	STPG(a, SCSI_ALUA_OPTIMIZED, 30);
	CHECK_EQ_INT(sense(), 0x052600); /* another gateway's */
	STPG(a, SCSI_ALUA_OPTIMIZED, 40);
	CHECK_EQ_INT(sense(), 0x052600); /* not explicit */
	STPG(a, SCSI_ALUA_TRANSITIONING, 20);
	CHECK_EQ_INT(sense(), 0x052600);
	STPG(a, 0xe, 20); /* offline */
	CHECK_EQ_INT(sense(), 0x052600);
	STPG(a, SCSI_ALUA_STANDBY, 20, SCSI_ALUA_OPTIMIZED, 20);
	CHECK_EQ_INT(sense(), 0x052600); /* a group twice */
	/* A list cut inside a descriptor. */
	memset(buf, 0, 6);
	RUN(a, SCSI_DIR_WRITE, 6, 0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0);
	CHECK_EQ_INT(sense(), 0x051a00);
	/* An empty one is no error. */
	CHECK_EQ_INT(RUN(a, SCSI_DIR_WRITE, 0, 0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0,
			 0, 0, 0),
		     0);
	CHECK_EQ_INT(RTPG(a, 0), 0);
	CHECK_EQ_INT(buf[4], 0x00);  /* 10: still active/optimized */
	CHECK_EQ_INT(buf[16], 0x02); /* 20: still standby */
}

static void test_explicit(void)
{
	struct scsi_nexus *a, *b;

	CHECK_EQ_INT(scsi_alua_configure(explicit_groups, 4), 0);
	a = nexus_ready(1);
	b = nexus_ready(2);
	if (!a || !b)
		return;
	CHECK_EQ_INT(RUN(a, SCSI_DIR_READ, 96, 0x12, 0, 0, 0, 96, 0), 0);
	CHECK_EQ_INT((buf[5] >> 4) & 3, 3); /* TPGS: implicit and explicit */
	CHECK_EQ_INT(rsoc_support(a, 0xa4, 0x0a), 3);
	check_stpg_refusals(a);
	/* Nothing changed: no unit attention (b is on standby). */
	CHECK_EQ_INT(RTPG(b, 0), 0);
	/* Switch: 20 optimized, 10 non-optimized, through a. */
	CHECK_EQ_INT(
		STPG(a, SCSI_ALUA_OPTIMIZED, 20, SCSI_ALUA_NON_OPTIMIZED, 10),
		0);
	CHECK_EQ_INT(TUR(a), 0); /* not on the nexus that asked */
	READ(b);
	CHECK_EQ_INT(sense(), 0x062a06);
	CHECK_EQ_INT(READ(b), 0);
	CHECK_EQ_INT(RTPG(b, 0), 0);
	CHECK_EQ_INT(buf[4], 0x01);
	CHECK_EQ_INT(buf[9], 0x01); /* altered by SET TARGET PORT GROUPS */
	CHECK_EQ_INT(buf[16], 0x00);
	CHECK_EQ_INT(buf[21], 0x01);
	CHECK_EQ_INT(buf[33], 0x00); /* 30 untouched */
	/* The same state again changes nothing: no unit attention. */
	CHECK_EQ_INT(STPG(b, SCSI_ALUA_OPTIMIZED, 20), 0);
	CHECK_EQ_INT(TUR(a), 0);
	/* From a standby path too (SPC-4 5.16.2.4.4). */
	CHECK_EQ_INT(STPG(a, SCSI_ALUA_STANDBY, 10), 0);
	CHECK_EQ_INT(STPG(a, SCSI_ALUA_OPTIMIZED, 10), 0);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x062a06);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

/* A reload: kept and changed states, a retired port, no news when the
 * picture stays. */
static void test_reconfigure(void)
{
	struct scsi_alua_group_cfg g[4];
	struct scsi_alua_group_info info;
	struct scsi_nexus *a, *b;

	memcpy(g, explicit_groups, sizeof(g));
	CHECK_EQ_INT(scsi_alua_configure(g, 4), 0);
	a = nexus_ready(1);
	b = nexus_ready(2);
	if (!a || !b)
		return;
	CHECK_EQ_INT(scsi_alua_set_state(20, SCSI_ALUA_OPTIMIZED), 0);
	TUR(a);
	TUR(b);
	/* The same file again: nothing to tell. */
	g[1].keep_state = true;
	CHECK_EQ_INT(scsi_alua_reconfigure(g, 4), 0);
	CHECK_EQ_INT(TUR(a), 0);
	CHECK_EQ_INT(scsi_alua_group_info(1, &info), 0);
	CHECK_EQ_INT(info.state, SCSI_ALUA_OPTIMIZED); /* kept */
	/* Group 10 given another state, 40 gone, group 50 on port 5. */
	g[0].state = SCSI_ALUA_NON_OPTIMIZED;
	g[3].id = 50;
	g[3].port = 5;
	CHECK_EQ_INT(scsi_alua_reconfigure(g, 4), 0);
	TUR(a);
	CHECK_EQ_INT(sense(), 0x062a06);
	CHECK_EQ_INT(RTPG(a, 0), 0);
	CHECK_EQ_INT(buf[4], 0x01);
	CHECK_EQ_INT(buf[9], 0x02); /* an implicit transition */
	CHECK_EQ_INT(buf[16], 0x00);
	CHECK_EQ_INT(be16(buf + 42), 50);
	CHECK_EQ_INT(be16(buf + 50), 5);
	/* Port 2 retired: its nexus hears of it, then is unavailable. */
	CHECK_EQ_INT(scsi_alua_reconfigure(g, 1), 0);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x062a06);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x02040c);
	CHECK_EQ_INT(RTPG(b, 0), 0);
	CHECK_EQ_INT(cmd.data_len, 16);
	/* Back: the port's nexus sees the group again. */
	CHECK_EQ_INT(scsi_alua_reconfigure(g, 2), 0);
	TUR(b);
	CHECK_EQ_INT(sense(), 0x062a06);
	TUR(a);
	CHECK_EQ_INT(sense(), 0x062a06);
	/* A group new to the running set takes the state it is given. */
	TUR(b);
	CHECK_EQ_INT(sense(), 0x02040b);
	/* Refused: nothing changes. */
	g[1].explicit_ok = true;
	g[1].n_portals = 0;
	CHECK_EQ_INT(scsi_alua_check_config(g, 2), -EINVAL);
	CHECK_EQ_INT(scsi_alua_reconfigure(g, 2), -EINVAL);
	CHECK_EQ_INT(TUR(a), 0);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
}

static void test_refused_configs(void)
{
	static const char *const bad_portal[] = { "localhost" };
	struct scsi_alua_group_cfg g[2] = { groups[0], groups[1] };
	struct scsi_alua_group_info info;

	g[1].id = 10; /* twice */
	CHECK_EQ_INT(scsi_alua_configure(g, 2), -EINVAL);
	g[1] = groups[1];
	g[1].port = 1; /* port twice */
	CHECK_EQ_INT(scsi_alua_configure(g, 2), -EINVAL);
	CHECK_EQ_INT(scsi_alua_configure(&groups[2], 1),
		     -EINVAL); /* none here */
	g[1] = groups[1];
	g[1].portals = bad_portal;
	CHECK_EQ_INT(scsi_alua_configure(g, 2), -EINVAL);
	g[1] = groups[1];
	g[1].id = 0;
	CHECK_EQ_INT(scsi_alua_configure(g, 2), -EINVAL);
	g[1] = groups[2];
	g[1].explicit_ok = true; /* another gateway's: changes there */
	CHECK_EQ_INT(scsi_alua_configure(g, 2), -EINVAL);
	/* Refusals leave the groups as they were. */
	CHECK_EQ_INT(scsi_alua_group_info(0, &info), 0);
	CHECK_EQ_INT(info.id, 10);
	CHECK_EQ_INT(scsi_alua_group_info(3, &info), -ENOENT);
	CHECK_EQ_INT(scsi_alua_configure(NULL, 0), 0);
}

int main(void)
{
	if (test_local_ram_scan(1 << 20, &local) < 0 ||
	    base_loop_create(&loop, BASE_ENGINE_AUTO, 0) < 0) {
		printf("Bail out! no RAM export or loop\n");
		return 1;
	}
	desc.ctx = local_iop_context(local, 0);
	buf = aligned_alloc(4096, 1 << 20);
	TEST_CASE(test_default_group);
	TEST_CASE(test_portals);
	TEST_CASE(test_rtpg_and_designators);
	TEST_CASE(test_standby);
	TEST_CASE(test_state_change);
	TEST_CASE(test_implicit_only);
	TEST_CASE(test_explicit);
	TEST_CASE(test_reconfigure);
	TEST_CASE(test_refused_configs);
	free(buf);
	base_loop_destroy(loop);
	local_destroy(local);
	return test_done();
}
