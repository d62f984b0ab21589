// SPDX-License-Identifier: MIT
/*
 * The commands this box implements, in one table: the handler, what a
 * command may do before a unit attention or despite another nexus'
 * reservation, and the CDB usage data REPORT SUPPORTED OPERATION CODES
 * returns (SPC-4 6.35.3: a bit is set for every CDB bit the device
 * server looks at).  EXTENDED COPY, ORWRITE, atomic writes and SANITIZE
 * are deliberately absent: they answer INVALID OPERATION CODE.
 *
 * Under a persistent reservation held by another I_T nexus, PROK
 * commands always run, PRRD ones (they read, or touch nothing) run
 * where the type lets others read, and the rest conflict (SPC-4 table
 * 63, SBC-3 table 13; scsi_pr_conflict).
 */
#include <pthread.h>

#include "scsi/scsi_pr.h"
#include "scsi/scsi_priv.h"

#define ANY  SCSI_OPF_ANY_LUN
#define NOUA SCSI_OPF_NO_UA
#define RESV SCSI_OPF_RESV_OK
#define SA   SCSI_OPF_SA
#define PROK SCSI_OPF_PR_OK
#define PRRD SCSI_OPF_PR_READ
#define EXPL SCSI_OPF_EXPLICIT
#define L4   0xff, 0xff, 0xff, 0xff
#define L8   L4, L4

const struct scsi_opcode scsi_opcodes[] = {
	{ SCSI_OP_TEST_UNIT_READY,
	  0,
	  PROK,
	  6,
	  scsi_spc_test_unit_ready,
	  { SCSI_OP_TEST_UNIT_READY, 0, 0, 0, 0, 0 } },
	{ SCSI_OP_REQUEST_SENSE,
	  0,
	  ANY | NOUA | RESV | PROK,
	  6,
	  scsi_spc_request_sense,
	  { SCSI_OP_REQUEST_SENSE, 0x01, 0, 0, 0xff, 0 } },
	{ SCSI_OP_READ_6,
	  0,
	  PRRD,
	  6,
	  scsi_sbc_read,
	  { SCSI_OP_READ_6, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ SCSI_OP_WRITE_6,
	  0,
	  0,
	  6,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_6, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ SCSI_OP_INQUIRY,
	  0,
	  ANY | NOUA | RESV | PROK,
	  6,
	  scsi_spc_inquiry,
	  { SCSI_OP_INQUIRY, 0x01, 0xff, 0xff, 0xff, 0 } },
	{ SCSI_OP_MODE_SELECT_6,
	  0,
	  0,
	  6,
	  scsi_spc_mode_select,
	  { SCSI_OP_MODE_SELECT_6, 0x11, 0, 0, 0xff, 0 } },
	{ SCSI_OP_RESERVE_6,
	  0,
	  PROK,
	  6,
	  scsi_spc_reserve6,
	  { SCSI_OP_RESERVE_6, 0, 0, 0, 0, 0 } },
	{ SCSI_OP_RELEASE_6,
	  0,
	  RESV | PROK,
	  6,
	  scsi_spc_release6,
	  { SCSI_OP_RELEASE_6, 0, 0, 0, 0, 0 } },
	{ SCSI_OP_MODE_SENSE_6,
	  0,
	  PRRD,
	  6,
	  scsi_spc_mode_sense,
	  { SCSI_OP_MODE_SENSE_6, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ SCSI_OP_START_STOP_UNIT,
	  0,
	  0,
	  6,
	  scsi_spc_start_stop,
	  { SCSI_OP_START_STOP_UNIT, 0x01, 0, 0x0f, 0xf7, 0 } },
	{ SCSI_OP_PREVENT_ALLOW,
	  0,
	  0,
	  6,
	  scsi_spc_prevent_allow,
	  { SCSI_OP_PREVENT_ALLOW, 0, 0, 0, 0x03, 0 } },
	{ SCSI_OP_READ_CAPACITY_10,
	  0,
	  PROK,
	  10,
	  scsi_sbc_read_capacity10,
	  { SCSI_OP_READ_CAPACITY_10, 0, L4, 0, 0, 0x01, 0 } },
	{ SCSI_OP_READ_10,
	  0,
	  PRRD,
	  10,
	  scsi_sbc_read,
	  { SCSI_OP_READ_10, 0x18, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_WRITE_10,
	  0,
	  0,
	  10,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_10, 0x18, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_WRITE_VERIFY_10,
	  0,
	  0,
	  10,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_VERIFY_10, 0x12, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_VERIFY_10,
	  0,
	  PRRD,
	  10,
	  scsi_sbc_verify,
	  { SCSI_OP_VERIFY_10, 0x16, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_PRE_FETCH_10,
	  0,
	  PRRD,
	  10,
	  scsi_sbc_prefetch,
	  { SCSI_OP_PRE_FETCH_10, 0x02, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_SYNCHRONIZE_CACHE_10,
	  0,
	  0,
	  10,
	  scsi_sbc_sync_cache,
	  { SCSI_OP_SYNCHRONIZE_CACHE_10, 0x02, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_READ_DEFECT_DATA_10,
	  0,
	  PRRD,
	  10,
	  scsi_sbc_read_defect_data,
	  { SCSI_OP_READ_DEFECT_DATA_10, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_WRITE_SAME_10,
	  0,
	  0,
	  10,
	  scsi_sbc_write_same,
	  { SCSI_OP_WRITE_SAME_10, 0x08, L4, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_UNMAP,
	  0,
	  0,
	  10,
	  scsi_sbc_unmap,
	  { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_MODE_SELECT_10,
	  0,
	  0,
	  10,
	  scsi_spc_mode_select,
	  { SCSI_OP_MODE_SELECT_10, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_MODE_SENSE_10,
	  0,
	  PRRD,
	  10,
	  scsi_spc_mode_sense,
	  { SCSI_OP_MODE_SENSE_10, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_PR_IN,
	  0,
	  PROK,
	  10,
	  scsi_pr_in,
	  { SCSI_OP_PR_IN, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ SCSI_OP_PR_OUT,
	  0,
	  PROK,
	  10,
	  scsi_pr_out,
	  { SCSI_OP_PR_OUT, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0 } },
	{ SCSI_OP_READ_16,
	  0,
	  PRRD,
	  16,
	  scsi_sbc_read,
	  { SCSI_OP_READ_16, 0x18, L8, L4, 0, 0 } },
	{ SCSI_OP_COMPARE_AND_WRITE,
	  0,
	  0,
	  16,
	  scsi_sbc_compare_and_write,
	  { SCSI_OP_COMPARE_AND_WRITE, 0x18, L8, 0, 0, 0, 0xff, 0, 0 } },
	{ SCSI_OP_WRITE_16,
	  0,
	  0,
	  16,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_16, 0x18, L8, L4, 0, 0 } },
	{ SCSI_OP_WRITE_VERIFY_16,
	  0,
	  0,
	  16,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_VERIFY_16, 0x12, L8, L4, 0, 0 } },
	{ SCSI_OP_VERIFY_16,
	  0,
	  PRRD,
	  16,
	  scsi_sbc_verify,
	  { SCSI_OP_VERIFY_16, 0x16, L8, L4, 0, 0 } },
	{ SCSI_OP_PRE_FETCH_16,
	  0,
	  PRRD,
	  16,
	  scsi_sbc_prefetch,
	  { SCSI_OP_PRE_FETCH_16, 0x02, L8, L4, 0, 0 } },
	{ SCSI_OP_SYNCHRONIZE_CACHE_16,
	  0,
	  0,
	  16,
	  scsi_sbc_sync_cache,
	  { SCSI_OP_SYNCHRONIZE_CACHE_16, 0x02, L8, L4, 0, 0 } },
	{ SCSI_OP_WRITE_SAME_16,
	  0,
	  0,
	  16,
	  scsi_sbc_write_same,
	  { SCSI_OP_WRITE_SAME_16, 0x09, L8, L4, 0, 0 } },
	{ SCSI_OP_SERVICE_ACTION_IN_16,
	  SCSI_SA_READ_CAPACITY_16,
	  SA | PROK,
	  16,
	  scsi_sbc_read_capacity16,
	  { SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SA_READ_CAPACITY_16, 0, 0, 0, 0,
	    0, 0, 0, 0, L4, 0, 0 } },
	{ SCSI_OP_SERVICE_ACTION_IN_16,
	  SCSI_SA_GET_LBA_STATUS,
	  SA | PRRD,
	  16,
	  scsi_sbc_get_lba_status,
	  { SCSI_OP_SERVICE_ACTION_IN_16, SCSI_SA_GET_LBA_STATUS, L8, L4, 0,
	    0 } },
	{ SCSI_OP_REPORT_LUNS,
	  0,
	  ANY | NOUA | RESV | PROK,
	  12,
	  scsi_spc_report_luns,
	  { SCSI_OP_REPORT_LUNS, 0, 0xff, 0, 0, 0, L4, 0, 0 } },
	{ SCSI_OP_MAINTENANCE_IN,
	  SCSI_SA_REPORT_SUPPORTED_OPCODES,
	  SA | RESV | PROK,
	  12,
	  scsi_spc_report_opcodes,
	  { SCSI_OP_MAINTENANCE_IN, SCSI_SA_REPORT_SUPPORTED_OPCODES, 0x87,
	    0xff, 0xff, 0xff, L4, 0, 0 } },
	{ SCSI_OP_MAINTENANCE_IN,
	  SCSI_SA_REPORT_TARGET_PGS,
	  SA | RESV | PROK,
	  12,
	  scsi_alua_rtpg,
	  { SCSI_OP_MAINTENANCE_IN, 0xe0 | SCSI_SA_REPORT_TARGET_PGS, 0, 0, 0,
	    0, L4, 0, 0 } },
	{ SCSI_OP_MAINTENANCE_OUT,
	  SCSI_SA_SET_TARGET_PGS,
	  SA | EXPL,
	  12,
	  scsi_alua_stpg,
	  { SCSI_OP_MAINTENANCE_OUT, SCSI_SA_SET_TARGET_PGS, 0, 0, 0, 0, L4, 0,
	    0 } },
	{ SCSI_OP_READ_12,
	  0,
	  PRRD,
	  12,
	  scsi_sbc_read,
	  { SCSI_OP_READ_12, 0x18, L4, L4, 0, 0 } },
	{ SCSI_OP_WRITE_12,
	  0,
	  0,
	  12,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_12, 0x18, L4, L4, 0, 0 } },
	{ SCSI_OP_WRITE_VERIFY_12,
	  0,
	  0,
	  12,
	  scsi_sbc_write,
	  { SCSI_OP_WRITE_VERIFY_12, 0x12, L4, L4, 0, 0 } },
	{ SCSI_OP_VERIFY_12,
	  0,
	  PRRD,
	  12,
	  scsi_sbc_verify,
	  { SCSI_OP_VERIFY_12, 0x16, L4, L4, 0, 0 } },
	{ SCSI_OP_READ_DEFECT_DATA_12,
	  0,
	  PRRD,
	  12,
	  scsi_sbc_read_defect_data,
	  { SCSI_OP_READ_DEFECT_DATA_12, 0x1f, 0, 0, 0, 0, L4, 0, 0 } },
};
const unsigned int scsi_n_opcodes =
	sizeof(scsi_opcodes) / sizeof(scsi_opcodes[0]);

bool scsi_opcode_supported(const struct scsi_opcode *op)
{
	return !(op->flags & SCSI_OPF_EXPLICIT) || scsi_alua_explicit();
}

/* First table entry per opcode, + 1 (0 = none). */
static uint8_t scsi_opcode_index[256];
static pthread_once_t scsi_opcode_once = PTHREAD_ONCE_INIT;

static void scsi_opcode_index_build(void)
{
	for (unsigned int i = scsi_n_opcodes; i-- > 0;)
		scsi_opcode_index[scsi_opcodes[i].opcode] = (uint8_t)(i + 1);
}

const struct scsi_opcode *scsi_opcode_find(const uint8_t *cdb,
					   unsigned int cdb_len)
{
	unsigned int i;

	if (!cdb_len)
		return NULL;
	pthread_once(&scsi_opcode_once, scsi_opcode_index_build);
	i = scsi_opcode_index[cdb[0]];
	if (!i--)
		return NULL;
	for (; i < scsi_n_opcodes && scsi_opcodes[i].opcode == cdb[0]; i++) {
		const struct scsi_opcode *op = &scsi_opcodes[i];

		if (!(op->flags & SCSI_OPF_SA) ||
		    (cdb_len > 1 && (cdb[1] & 0x1f) == op->sa))
			return scsi_opcode_supported(op) ? op : NULL;
	}
	return NULL;
}
