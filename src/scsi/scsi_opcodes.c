// SPDX-License-Identifier: MIT
/*
 * The commands this box implements, in one table: the handler, what a
 * command may do before a unit attention or despite another nexus'
 * reservation, and the CDB usage data REPORT SUPPORTED OPERATION CODES
 * returns (SPC-4 6.35.3: a bit is set for every CDB bit the device
 * server looks at).  Persistent reservations, EXTENDED COPY, ORWRITE,
 * atomic writes and SANITIZE are deliberately absent: they answer
 * INVALID OPERATION CODE.
 */
#include <pthread.h>

#include "scsi/scsi_priv.h"

#define ANY  SCSI_OPF_ANY_LUN
#define NOUA SCSI_OPF_NO_UA
#define RESV SCSI_OPF_RESV_OK
#define SA   SCSI_OPF_SA
#define L4   0xff, 0xff, 0xff, 0xff
#define L8   L4, L4

const struct scsi_opcode scsi_opcodes[] = {
	{ 0x00, 0, 0, 6, scsi_spc_test_unit_ready, { 0x00, 0, 0, 0, 0, 0 } },
	{ 0x03,
	  0,
	  ANY | NOUA | RESV,
	  6,
	  scsi_spc_request_sense,
	  { 0x03, 0x01, 0, 0, 0xff, 0 } },
	{ 0x08, 0, 0, 6, scsi_sbc_read, { 0x08, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ 0x0a, 0, 0, 6, scsi_sbc_write, { 0x0a, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ 0x12,
	  0,
	  ANY | NOUA | RESV,
	  6,
	  scsi_spc_inquiry,
	  { 0x12, 0x01, 0xff, 0xff, 0xff, 0 } },
	{ 0x15, 0, 0, 6, scsi_spc_mode_select, { 0x15, 0x11, 0, 0, 0xff, 0 } },
	{ 0x16, 0, 0, 6, scsi_spc_reserve6, { 0x16, 0, 0, 0, 0, 0 } },
	{ 0x17, 0, RESV, 6, scsi_spc_release6, { 0x17, 0, 0, 0, 0, 0 } },
	{ 0x1a,
	  0,
	  0,
	  6,
	  scsi_spc_mode_sense,
	  { 0x1a, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ 0x1b,
	  0,
	  0,
	  6,
	  scsi_spc_start_stop,
	  { 0x1b, 0x01, 0, 0x0f, 0xf7, 0 } },
	{ 0x1e, 0, 0, 6, scsi_spc_prevent_allow, { 0x1e, 0, 0, 0, 0x03, 0 } },
	{ 0x25,
	  0,
	  0,
	  10,
	  scsi_sbc_read_capacity10,
	  { 0x25, 0, L4, 0, 0, 0x01, 0 } },
	{ 0x28, 0, 0, 10, scsi_sbc_read, { 0x28, 0x18, L4, 0, 0xff, 0xff, 0 } },
	{ 0x2a,
	  0,
	  0,
	  10,
	  scsi_sbc_write,
	  { 0x2a, 0x18, L4, 0, 0xff, 0xff, 0 } },
	{ 0x2e,
	  0,
	  0,
	  10,
	  scsi_sbc_write,
	  { 0x2e, 0x12, L4, 0, 0xff, 0xff, 0 } },
	{ 0x2f,
	  0,
	  0,
	  10,
	  scsi_sbc_verify,
	  { 0x2f, 0x16, L4, 0, 0xff, 0xff, 0 } },
	{ 0x34,
	  0,
	  0,
	  10,
	  scsi_sbc_prefetch,
	  { 0x34, 0x02, L4, 0, 0xff, 0xff, 0 } },
	{ 0x35,
	  0,
	  0,
	  10,
	  scsi_sbc_sync_cache,
	  { 0x35, 0x02, L4, 0, 0xff, 0xff, 0 } },
	{ 0x37,
	  0,
	  0,
	  10,
	  scsi_sbc_read_defect_data,
	  { 0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ 0x41,
	  0,
	  0,
	  10,
	  scsi_sbc_write_same,
	  { 0x41, 0x08, L4, 0, 0xff, 0xff, 0 } },
	{ 0x42,
	  0,
	  0,
	  10,
	  scsi_sbc_unmap,
	  { 0x42, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ 0x55,
	  0,
	  0,
	  10,
	  scsi_spc_mode_select,
	  { 0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ 0x5a,
	  0,
	  0,
	  10,
	  scsi_spc_mode_sense,
	  { 0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ 0x88, 0, 0, 16, scsi_sbc_read, { 0x88, 0x18, L8, L4, 0, 0 } },
	{ 0x89,
	  0,
	  0,
	  16,
	  scsi_sbc_compare_and_write,
	  { 0x89, 0x18, L8, 0, 0, 0, 0xff, 0, 0 } },
	{ 0x8a, 0, 0, 16, scsi_sbc_write, { 0x8a, 0x18, L8, L4, 0, 0 } },
	{ 0x8e, 0, 0, 16, scsi_sbc_write, { 0x8e, 0x12, L8, L4, 0, 0 } },
	{ 0x8f, 0, 0, 16, scsi_sbc_verify, { 0x8f, 0x16, L8, L4, 0, 0 } },
	{ 0x90, 0, 0, 16, scsi_sbc_prefetch, { 0x90, 0x02, L8, L4, 0, 0 } },
	{ 0x91, 0, 0, 16, scsi_sbc_sync_cache, { 0x91, 0x02, L8, L4, 0, 0 } },
	{ 0x93, 0, 0, 16, scsi_sbc_write_same, { 0x93, 0x09, L8, L4, 0, 0 } },
	{ 0x9e,
	  0x10,
	  SA,
	  16,
	  scsi_sbc_read_capacity16,
	  { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, L4, 0, 0 } },
	{ 0x9e,
	  0x12,
	  SA,
	  16,
	  scsi_sbc_get_lba_status,
	  { 0x9e, 0x12, L8, L4, 0, 0 } },
	{ 0xa0,
	  0,
	  ANY | NOUA | RESV,
	  12,
	  scsi_spc_report_luns,
	  { 0xa0, 0, 0xff, 0, 0, 0, L4, 0, 0 } },
	{ 0xa3,
	  0x0c,
	  SA | RESV,
	  12,
	  scsi_spc_report_opcodes,
	  { 0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, L4, 0, 0 } },
	{ 0xa8, 0, 0, 12, scsi_sbc_read, { 0xa8, 0x18, L4, L4, 0, 0 } },
	{ 0xaa, 0, 0, 12, scsi_sbc_write, { 0xaa, 0x18, L4, L4, 0, 0 } },
	{ 0xae, 0, 0, 12, scsi_sbc_write, { 0xae, 0x12, L4, L4, 0, 0 } },
	{ 0xaf, 0, 0, 12, scsi_sbc_verify, { 0xaf, 0x16, L4, L4, 0, 0 } },
	{ 0xb7,
	  0,
	  0,
	  12,
	  scsi_sbc_read_defect_data,
	  { 0xb7, 0x1f, 0, 0, 0, 0, L4, 0, 0 } },
};
const unsigned int scsi_n_opcodes =
	sizeof(scsi_opcodes) / sizeof(scsi_opcodes[0]);

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
			return op;
	}
	return NULL;
}
