// SPDX-License-Identifier: MIT
/*
 * COMPARE AND WRITE is atomic against other COMPARE AND WRITEs on the
 * same device from other nexuses.  The file DDM completes through the
 * event loop, so commands really overlap: nexus A swaps zeroes for X
 * while nexus B, submitted at the same moment, swaps X for Y.  Only if B
 * waits for A does B's compare see X; then a third, stale swap fails
 * with MISCOMPARE.  Plain WRITEs and READs on the same loop show the
 * asynchronous path too.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_loop.h"
#include "iopd/local.h"
#include "scsi/scsi.h"
#include "test.h"
#include "test_local_ram.h"

#define DISK_BYTES (1u << 20)

static struct base_loop *loop;
static int pending;
static bool running;

static void cmd_done(struct scsi_cmd *c)
{
	/* A stop asked while the loop is not running would end the next
	 * run at once. */
	if (--pending == 0 && running)
		base_loop_stop(loop);
}

static void cmd_init(struct scsi_cmd *c, uint8_t *buf, uint32_t len,
		     uint8_t opcode)
{
	memset(c, 0, sizeof(*c));
	c->cdb[0] = opcode;
	c->cdb_len = opcode == 0x89 ? 16 : 10;
	c->dir = opcode == 0x28	  ? SCSI_DIR_READ
		 : opcode == 0x00 ? SCSI_DIR_NONE
				  : SCSI_DIR_WRITE;
	c->buf = buf;
	c->buf_len = len;
	c->done = cmd_done;
}

/* Submit n commands together and run the loop until all are done. */
static void run_all(struct scsi_nexus **nx, struct scsi_cmd *c, int n)
{
	pending = n;
	for (int i = 0; i < n; i++)
		scsi_cmd_submit(nx[i], &c[i]);
	if (pending) {
		running = true;
		base_loop_run(loop);
		running = false;
	}
	CHECK_EQ_INT(pending, 0);
}

static struct scsi_nexus *a, *b;

static void test_caw_serialised(void)
{
	uint8_t *ba = aligned_alloc(4096, 8192),
		*bb = aligned_alloc(4096, 8192);
	uint8_t *bc = aligned_alloc(4096, 8192);
	struct scsi_nexus *nx[3] = { a, b, a };
	struct scsi_cmd c[3];

	/* Clear the power-on unit attentions. */
	cmd_init(&c[0], ba, 0, 0x00);
	cmd_init(&c[1], bb, 0, 0x00);
	run_all(nx, c, 2);
	CHECK_EQ_INT(c[0].sense[2] & 0x0f, 6);
	CHECK_EQ_INT(c[1].sense[2] & 0x0f, 6);

	/* 4 blocks at LBA 8: A: 0 -> X, B: X -> Y, A again: 0 -> Z. */
	memset(ba, 0, 2048);
	memset(ba + 2048, 'X', 2048);
	memset(bb, 'X', 2048);
	memset(bb + 2048, 'Y', 2048);
	memset(bc, 0, 2048);
	memset(bc + 2048, 'Z', 2048);
	for (int i = 0; i < 3; i++) {
		cmd_init(&c[i], i == 0 ? ba : i == 1 ? bb : bc, 4096, 0x89);
		c[i].cdb[9] = 8;
		c[i].cdb[13] = 4;
	}
	run_all(nx, c, 3);
	CHECK_EQ_INT(c[0].status, 0);
	CHECK_EQ_INT(c[1].status, 0);
	CHECK_EQ_INT(c[2].status, 2);
	CHECK_EQ_INT(c[2].sense[2] & 0x0f, 0xe);
	CHECK_EQ_INT(c[2].sense[12], 0x1d);

	cmd_init(&c[0], ba, 2048, 0x28);
	c[0].cdb[5] = 8;
	c[0].cdb[8] = 4;
	run_all(nx, c, 1);
	CHECK_EQ_INT(c[0].status, 0);
	CHECK_EQ_INT(c[0].data_len, 2048);
	CHECK(ba[0] == 'Y' && ba[2047] == 'Y');
	free(ba);
	free(bb);
	free(bc);
}

int main(void)
{
	char path[] = "/tmp/iopd-scsi-caw-XXXXXX";
	int fd = mkstemp(path);
	struct ddm_open_args dev_args = {
		.path = path,
		.size_bytes = DISK_BYTES,
		.direct = 0,
	};
	struct iop_desc desc = { .ops = &local_desc_ops, .name = "files" };
	struct conn_export export = { .name = "f0", .desc = &desc };
	struct scsi_lun_map lun = { .lun = 0, .export = &export };
	struct scsi_target_info target = {
		.name = "iqn.2026-11.org.iopd:caw",
		.n_luns = 1,
		.luns = &lun,
	};
	struct scsi_nexus_args args = {
		.target = &target,
		.rel_port_id = 1,
		.max_xfer_bytes = 1 << 20,
	};
	struct local *local = NULL;

	if (fd < 0 ||
	    test_local_one_scan("files", "file", "f0", dev_args, &local) < 0 ||
	    base_loop_create(&loop, BASE_ENGINE_AUTO, 0) < 0) {
		printf("Bail out! no file export or loop\n");
		return 1;
	}
	close(fd);
	desc.ctx = local_iop_context(local, 0);
	args.loop = loop;
	args.initiator = "iqn.a";
	CHECK_EQ_INT(scsi_nexus_open(&args, &a), 0);
	args.initiator = "iqn.b";
	CHECK_EQ_INT(scsi_nexus_open(&args, &b), 0);
	if (a && b)
		TEST_CASE(test_caw_serialised);
	scsi_nexus_close(a);
	scsi_nexus_close(b);
	base_loop_destroy(loop);
	local_destroy(local);
	unlink(path);
	return test_done();
}
