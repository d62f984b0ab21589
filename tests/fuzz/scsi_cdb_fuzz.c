// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SCSI command set (src/scsi/): each input is a
 * sequence of commands against a small RAM disk, through two nexuses so
 * reservations and resets cross between them.  A command is
 *
 *   byte 0      bits 0-1 LUN selector (0, 1 = read-only, 2 = 4 KiB
 *               blocks, 3 = absent), bit 2 nexus, bits 3-4 direction,
 *               bit 5: a LUN reset before it
 *   byte 1      CDB length (mod 33)
 *   bytes 2-3   buffer length (little endian, mod 64 KiB)
 *   CDB bytes, then data-out bytes (as many as are left, up to buffer
 *   length)
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks what the
 * seam promises: done runs exactly once per submit, data_len never
 * exceeds buf_len, sense only with CHECK CONDITION.
 *
 *   clang -fsanitize=fuzzer,address,undefined, or plain gcc with
 *   tests/fuzz/fuzz_replay.c to replay tests/fuzz/corpus/scsi_cdb/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_log.h"
#include "base/base_loop.h"
#include "iopd/local.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct local *fz_local;
static struct base_loop *fz_loop;
static struct iop_desc fz_desc = { .ops = &local_desc_ops, .name = "ram" };
static struct conn_export fz_export = { .name = "d0", .desc = &fz_desc };
static struct scsi_lun_map fz_luns[3] = {
	{ .lun = 0, .export = &fz_export },
	{ .lun = 1, .export = &fz_export, .read_only = true },
	{ .lun = 2, .export = &fz_export, .block_size = 4096 },
};
static struct scsi_target_info fz_target = {
	.name = "iqn.2026-11.org.iopd:fuzz",
	.n_luns = 3,
	.luns = fz_luns,
};
static uint8_t *fz_buf;
static int fz_done;

static void fz_cmd_done(struct scsi_cmd *cmd)
{
	fz_done++;
}

static int fz_setup(void)
{
	static struct local_dev_spec dev = {
		.name = "r0",
		.args = { .size_bytes = 1 << 20 },
	};
	static struct local_iop_spec iop = {
		.name = "ram",
		.ddm = "ram",
		.n_devs = 1,
		.devs = &dev,
	};
	static struct local_config cfg = {
		.n_iops = 1,
		.iops = &iop,
		.max_request_bytes = 1 << 20,
	};

	base_log_set_level(BASE_LOG_ERROR);
	if (local_scan(&cfg, &fz_local) < 0 ||
	    base_loop_create(&fz_loop, BASE_ENGINE_AUTO, 0) < 0)
		abort();
	fz_desc.ctx = local_iop_context(fz_local, 0);
	fz_buf = aligned_alloc(4096, 65536);
	if (!fz_buf)
		abort();
	return 0;
}

static void fz_one(struct scsi_nexus **nx, const uint8_t **pp, size_t *left)
{
	const uint8_t *p = *pp;
	struct scsi_cmd cmd;
	unsigned int cdb_len, buf_len, data;
	struct scsi_nexus *n;

	memset(&cmd, 0, sizeof(cmd));
	n = nx[(p[0] >> 2) & 1];
	cmd.lun = (p[0] & 3) == 3 ? 77 : (p[0] & 3);
	cmd.dir = (enum scsi_data_dir)(((p[0] >> 3) & 3) % 3);
	if (p[0] & 0x20)
		scsi_nexus_tmf(n, SCSI_TMF_LUN_RESET, cmd.lun);
	cdb_len = p[1] % (SCSI_CDB_MAX + 1);
	buf_len = (unsigned int)(p[2] | p[3] << 8);
	*pp += 4;
	*left -= 4;
	if (cdb_len > *left)
		cdb_len = (unsigned int)*left;
	memcpy(cmd.cdb, *pp, cdb_len);
	cmd.cdb_len = cdb_len;
	*pp += cdb_len;
	*left -= cdb_len;
	memset(fz_buf, 0xee, 65536);
	data = buf_len < *left ? buf_len : (unsigned int)*left;
	if (cmd.dir == SCSI_DIR_WRITE) {
		memcpy(fz_buf, *pp, data);
		*pp += data;
		*left -= data;
	}
	cmd.buf = fz_buf;
	cmd.buf_len = buf_len;
	cmd.done = fz_cmd_done;
	fz_done = 0;
	scsi_cmd_submit(n, &cmd);
	/* The RAM DDM completes inside submit, so done has run. */
	if (fz_done != 1 || cmd.data_len > cmd.buf_len ||
	    cmd.sense_len > SCSI_SENSE_MAX ||
	    (cmd.sense_len && cmd.status != SCSI_STATUS_CHECK_CONDITION))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready = -1;
	struct scsi_nexus_args args = {
		.target = &fz_target,
		.rel_port_id = 1,
		.max_xfer_bytes = 65536,
	};
	struct scsi_nexus *nx[2] = { NULL, NULL };

	if (ready < 0)
		ready = fz_setup();
	args.loop = fz_loop;
	args.initiator = "iqn.fuzz:a";
	if (scsi_nexus_open(&args, &nx[0]) < 0)
		abort();
	args.initiator = "iqn.fuzz:b";
	if (scsi_nexus_open(&args, &nx[1]) < 0)
		abort();
	while (size >= 4)
		fz_one(nx, &data, &size);
	scsi_nexus_close(nx[0]);
	scsi_nexus_close(nx[1]);
	return 0;
}
