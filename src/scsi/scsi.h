/* SPDX-License-Identifier: MIT */
/*
 * The SCSI command set (SPC-4 / SBC-3) over the Local Transport.  It is a
 * command set, not a transport: a SCSI transport (iSCSI today) carries
 * CDBs and data, and this box turns them into iop_msg requests on the
 * exports' descriptors and back into status, sense and data.
 *
 * Objects:
 *   scsi_target  what the transport offers under one name (an iSCSI
 *                target): a LUN map over exports.  Described by the
 *                transport with struct scsi_target_info.
 *   scsi_nexus   one I_T nexus (one iSCSI session): the initiator's
 *                view of a target, with one logical unit per mapped LUN.
 *                State shared between nexuses of the same device
 *                (reservations, unit attentions per nexus, COMPARE AND
 *                WRITE serialisation) lives in this box, keyed by device.
 *   scsi_cmd     one command, owned by the transport.
 *
 * Threads: a nexus is used only on the worker thread of the loop it was
 * opened with; scsi_cmd_submit and every cmd->done run there.  done runs
 * exactly once per submit, possibly inside scsi_cmd_submit itself.
 */
#ifndef IOPD_SCSI_H
#define IOPD_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iopd/conn.h"
#include "scsi/scsi_codes.h"

struct base_loop;
struct scsi_nexus;

#define SCSI_CDB_MAX   32
#define SCSI_SENSE_MAX 96 /* fixed format is 18; descriptor format more */

/* SAM status codes. */
#define SCSI_STATUS_GOOD		 0x00
#define SCSI_STATUS_CHECK_CONDITION	 0x02
#define SCSI_STATUS_CONDITION_MET	 0x04
#define SCSI_STATUS_BUSY		 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL	 0x28
#define SCSI_STATUS_TASK_ABORTED	 0x40

struct scsi_lun_map {
	uint64_t lun; /* the LUN number, 0..16383 (flat/peripheral) */
	const struct conn_export *export;
	bool read_only;	     /* in addition to the export's own flag */
	uint32_t block_size; /* logical block size; 0 = max(512, the
				device's minimum I/O size) */
};

struct scsi_target_info {
	const char *name; /* e.g. "iqn.2026-11.org.iopd:disk0"; used for
			     VPD 0x83 target designators */
	uint16_t tpg;	  /* target portal group tag */
	unsigned int n_luns;
	const struct scsi_lun_map *luns;
};

struct scsi_nexus_args {
	const struct scsi_target_info *target; /* must outlive the nexus */
	/* The initiator port name (iSCSI: "<iqn>,i,0x<isid>"), for
	 * reservations and unit attentions; copied. */
	const char *initiator;
	uint16_t rel_port_id; /* relative target port identifier (>= 1) */
	struct base_loop *loop;
	/* The largest data transfer the transport accepts for one command
	 * (reported in the Block Limits VPD page); larger commands are
	 * refused with INVALID FIELD IN CDB. */
	uint32_t max_xfer_bytes;
};

/* Open sessions on every mapped export.  Returns 0 or -errno. */
int scsi_nexus_open(const struct scsi_nexus_args *args,
		    struct scsi_nexus **nexusp);
/* No command may be in flight. */
void scsi_nexus_close(struct scsi_nexus *nexus);

enum scsi_data_dir {
	SCSI_DIR_NONE,
	SCSI_DIR_READ,	/* data-in: target to initiator */
	SCSI_DIR_WRITE, /* data-out: initiator to target */
};

/*
 * One command.  The transport fills the "in" part, submits, and reads the
 * "out" part in done.  Between submit and done the command set owns the
 * struct and borrows buf.
 *
 * buf/buf_len: for SCSI_DIR_WRITE, the data-out the initiator sent (all
 * of it, already received: buf_len bytes); for SCSI_DIR_READ, room for
 * the data-in (buf_len = the transport's expected transfer length).  The
 * buffer is 4096-byte aligned so it can go to O_DIRECT storage as is.
 *
 * Transfer lengths: the command set computes from the CDB how many bytes
 * the command transfers (xfer_len) and moves at most buf_len of them; the
 * transport derives the residual (overflow if xfer_len > buf_len,
 * underflow if xfer_len < buf_len).
 */
struct scsi_cmd {
	/* in */
	uint8_t cdb[SCSI_CDB_MAX];
	unsigned int cdb_len;
	uint64_t lun; /* the LUN number as in struct scsi_lun_map */
	enum scsi_data_dir dir;
	uint8_t *buf;
	uint32_t buf_len;
	void (*done)(struct scsi_cmd *cmd);
	void *cookie; /* the transport's */
	/* The transport can take read data from a mapping of the device's
	 * file (data, below) and never touches it itself: only the kernel
	 * copies from it (a socket write), so a file that shrinks under it
	 * fails that write instead of raising SIGBUS. */
	bool may_map;

	/* out */
	uint8_t status;	   /* SCSI_STATUS_* */
	uint32_t data_len; /* data-in bytes placed in buf (<= buf_len) */
	uint32_t xfer_len; /* bytes the CDB asked to transfer */
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t sense_len; /* 0 unless CHECK CONDITION */
	/* NULL, or where the data_len bytes of data-in are instead of buf
	 * (a large READ with may_map set): a read-only mapping of the
	 * device's file, read when the transport sends it and valid until
	 * the nexus closes; scsi_cmd_data_copy() moves them into buf
	 * before that. */
	const uint8_t *data;
	int data_fd;
	uint64_t data_off;

	/* private to the command set */
	void *priv;
};

void scsi_cmd_submit(struct scsi_nexus *nexus, struct scsi_cmd *cmd);

/* A done command's data-in is in a mapping (cmd->data): read it into buf
 * instead, and clear data.  For a transport that still holds it when the
 * nexus must close.  Returns 0 or -errno. */
int scsi_cmd_data_copy(struct scsi_cmd *cmd);

/* Task management, after the transport has let the affected commands
 * finish (storage requests cannot be recalled).  Return a TMF response:
 * 0 = function complete, -ENOENT = LUN does not exist, -ENOTSUP. */
enum scsi_tmf {
	SCSI_TMF_ABORT_TASK_SET,
	SCSI_TMF_CLEAR_TASK_SET,
	SCSI_TMF_LUN_RESET,
	SCSI_TMF_TARGET_WARM_RESET,
	SCSI_TMF_TARGET_COLD_RESET,
};
int scsi_nexus_tmf(struct scsi_nexus *nexus, enum scsi_tmf tmf, uint64_t lun);
/* The same, and a LOGICAL UNIT RESET of a device other gateways export
 * too (shared persistent reservations) reaches them before it completes:
 * then 1 is returned and done(arg, result) runs later on the nexus'
 * loop, the nexus left open meanwhile.  done NULL: scsi_nexus_tmf. */
typedef void scsi_tmf_done_fn(void *arg, int result);
int scsi_nexus_tmf_async(struct scsi_nexus *nexus, enum scsi_tmf tmf,
			 uint64_t lun, scsi_tmf_done_fn *done, void *arg);

/*
 * Persistent reservations, for operators.  scsi_pr_configure names the
 * directory where APTPL state is kept (NULL: APTPL is refused); call it
 * once at start-up before any nexus opens.  The others run on the
 * management thread, for the device an export reaches.
 */
struct scsi_pr_info_reg {
	uint64_t key;
	char *initiator; /* initiator port, "NAME,i,0xISID" */
	char *tport;	 /* target port, "TARGET,t,0xTPGT" */
	uint16_t rel_port_id;
	bool all_tg_pt; /* registered through every target port */
	bool holder;	/* holds the reservation */
};

struct scsi_pr_info {
	uint32_t generation;
	uint8_t type; /* SPC-4 reservation type, 0 = not reserved */
	bool aptpl;   /* kept across restarts */
	unsigned int n_regs;
	struct scsi_pr_info_reg *regs;
	/* The RESERVE(6) holder's initiator port and target port, or NULL:
	 * the shared record's, or a nexus of this gateway's. */
	char *res6_initiator, *res6_tport;
};

int scsi_pr_configure(const char *dir);
/* 0 or -errno; free with scsi_pr_info_free. */
int scsi_pr_info_get(const struct conn_export *exp, struct scsi_pr_info *info);
void scsi_pr_info_free(struct scsi_pr_info *info);
/* Drop every registration and the reservation (a dead node's); the
 * registrants' nexuses get RESERVATIONS PREEMPTED.  0 or -errno. */
int scsi_pr_clear_export(const struct conn_export *exp);

/*
 * Set CHECK CONDITION with sense data: the one builder of sense, for the
 * command set and for transports reporting errors of their own.  Fixed
 * format (18 bytes) unless desc (descriptor format, as the control mode
 * page's D_SENSE asks); key is SCSI_SK_*, asc SCSI_ASC_* (asc << 8 |
 * ascq); info, if not NULL, the INFORMATION field (fixed format keeps
 * its low 32 bits).
 */
void scsi_cmd_set_sense(struct scsi_cmd *cmd, bool desc, uint8_t key,
			uint16_t asc, const uint64_t *info);

#endif
