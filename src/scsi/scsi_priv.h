/* SPDX-License-Identifier: MIT */
/*
 * Private to the SCSI command set: the nexus, its logical units, the
 * per-command state (struct scsi_task) and the state shared by every
 * nexus that reaches the same device (struct scsi_dev).
 */
#ifndef IOPD_SCSI_PRIV_H
#define IOPD_SCSI_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/base_be.h"
#include "iopd/local.h"
#include "scsi/scsi.h"

struct scsi_lu;
struct scsi_alua_group;
struct scsi_pr;
struct scsi_pr_fence;

/*
 * State shared by every nexus on one device, keyed by (desc, dev_index),
 * reference counted by the logical units that point at it.  lock guards
 * everything below it; the logical units it lists belong to nexuses on
 * other worker threads, so only their atomic fields are touched.
 */
struct scsi_dev {
	struct scsi_dev *next; /* in the global registry */
	const struct iop_desc *desc;
	unsigned int dev_index;
	unsigned int refs;

	pthread_mutex_t lock;
	struct scsi_lu *lus; /* linked by lu->dev_next */
	/* RESERVE(6) holder or NULL; written under lock, read without it
	 * by every command. */
	_Atomic(const struct scsi_nexus *) reserved;
	struct scsi_pr *pr; /* persistent reservations (scsi_pr.h) */
	bool caw_busy;	    /* a COMPARE AND WRITE runs */
	struct scsi_task *caw_head, *caw_tail; /* waiting for it */
};

struct scsi_task;
typedef int scsi_step_fn(struct scsi_task *task);
#define SCSI_STEP_IO   0 /* one iop_msg was submitted */
#define SCSI_STEP_DONE 1 /* the command is finished (status set) */

/*
 * Per-command state for commands that reach storage.  Allocated per
 * logical unit with the session's msg_size and kept on a free list, so a
 * steady stream of commands allocates nothing.
 */
struct scsi_task {
	struct scsi_task *next; /* free list, CAW wait queue */
	struct scsi_lu *lu;
	struct scsi_cmd *cmd;
	scsi_step_fn *step;
	int stage;
	int result; /* of the last iop_msg */
	bool in_submit, sync_done;

	uint64_t lba;	   /* first block of the command */
	uint64_t blocks;   /* blocks the command covers */
	uint64_t done_blk; /* progress of chunked work */
	uint32_t flags;	   /* DDM_F_* for the writes */
	uint32_t aux;	   /* command specific */

	uint8_t *bounce; /* scratch, 4096-aligned, kept with the task */
	size_t bounce_len;
	struct iovec iov;

	_Alignas(16) struct iop_msg msg; /* followed by the DDM's area */
};

struct scsi_lu {
	struct scsi_nexus *nexus;
	const struct scsi_lun_map *map;
	struct iop_session *session;
	struct iop_dev_info info;
	struct scsi_dev *dev;
	struct scsi_lu *dev_next; /* in dev->lus, under dev->lock */
	struct ddm_dev *shared;	  /* attached to dev->pr (scsi_pr_shared.c) */

	uint32_t block_size;
	unsigned int block_shift;
	uint64_t n_blocks;
	uint32_t max_xfer_blocks; /* one READ/WRITE, one iop_msg */
	bool read_only;
	bool thin; /* LBPME: UNMAP deallocates, reads back zeroes */

	/* Mode parameters (per I_T nexus). */
	bool wce, d_sense;

	/* Pending unit attention (asc << 8 | ascq, 0 = none); set by other
	 * threads under dev->lock, consumed on the nexus' thread. */
	_Atomic uint16_t ua;

	size_t task_size;
	struct scsi_task *free_tasks;
	unsigned int inflight;
	/* Commands submitted and not yet done, counted on the nexus'
	 * thread and read by a PREEMPT AND ABORT on another one, which
	 * sets fence to hear when it drops to 0 (scsi_pr_out.c). */
	atomic_uint busy;
	_Atomic(struct scsi_pr_fence *) fence;
};

struct scsi_nexus {
	const struct scsi_target_info *target;
	char *initiator;
	uint16_t rel_port_id;
	const struct scsi_alua_group *alua; /* its target port's group */
	struct base_loop *loop;
	uint32_t max_xfer_bytes;
	unsigned int n_lus;
	struct scsi_lu *lus;
};

/* The RESERVE(6) holder when it is an I_T nexus of another gateway
 * (scsi_pr_res6.c): every nexus here conflicts. */
extern const struct scsi_nexus scsi_res6_elsewhere;

/* scsi_sense.c */
/* The sense an -errno from the Local Transport means for this command. */
void scsi_sense_from_errno(struct scsi_cmd *cmd, bool desc, int err,
			   bool writing);
/* Sense into cmd for lu, honouring its D_SENSE. */
void scsi_lu_sense(const struct scsi_lu *lu, struct scsi_cmd *cmd, uint8_t key,
		   uint16_t asc);
/* INVALID FIELD IN CDB pointing at the field: byte, and bit or -1. */
void scsi_sense_field(const struct scsi_lu *lu, struct scsi_cmd *cmd,
		      unsigned int byte, int bit);
#define scsi_bad_cdb(lu, cmd)                                                  \
	scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,                        \
		      SCSI_ASC_INVALID_FIELD_CDB)
#define scsi_bad_param(lu, cmd)                                                \
	scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,                        \
		      SCSI_ASC_INVALID_FIELD_PARAM)
#define scsi_bad_lba(lu, cmd)                                                  \
	scsi_lu_sense(lu, cmd, SCSI_SK_ILLEGAL_REQUEST,                        \
		      SCSI_ASC_LBA_OUT_OF_RANGE)
#define scsi_write_protected(lu, cmd)                                          \
	scsi_lu_sense(lu, cmd, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED)

/* scsi_nexus.c */
struct scsi_task *scsi_task_get(struct scsi_lu *lu, struct scsi_cmd *cmd);
/* Run task->step until it finishes; always returns 1 (asynchronous). */
int scsi_task_start(struct scsi_task *task, scsi_step_fn *step);
/* Submit one iop_msg for the task; the step returns SCSI_STEP_IO. */
int scsi_task_io(struct scsi_task *task, enum ddm_op op, uint32_t flags,
		 uint64_t offset, uint64_t len, void *buf);
/* Make sure task->bounce holds len bytes; 0 or -ENOMEM. */
int scsi_task_bounce(struct scsi_task *task, size_t len);
int scsi_lu_reserve(struct scsi_lu *lu, bool reserve);
/* The shared state of a device, if some nexus has it open (a reference
 * the caller drops with scsi_dev_put), else NULL. */
struct scsi_dev *scsi_dev_lookup(const struct iop_desc *desc,
				 unsigned int dev_index);
void scsi_dev_put(struct scsi_dev *dev);
/* The end of a command counted in lu->busy (scsi_pr_out.c's fence). */
void scsi_lu_cmd_end(struct scsi_lu *lu);
bool scsi_lu_conflict(const struct scsi_lu *lu);
/* COMPARE AND WRITE serialisation per device: returns true if task may
 * run now; otherwise it runs (step called through scsi_task_start) when
 * the current one ends. */
/* What a LOGICAL UNIT RESET does to dev (SAM-5 6.3.3): a unit attention
 * on every nexus, the RESERVE(6) reservation released. */
void scsi_dev_lu_reset(struct scsi_dev *dev);
/* Raise asc on every logical unit of every nexus but skip (NULL: of
 * all; a pending power-on or reset condition, which outranks it,
 * stays). */
void scsi_ua_raise_all(uint16_t asc, const struct scsi_nexus *skip);
bool scsi_caw_acquire(struct scsi_task *task, scsi_step_fn *step);
void scsi_caw_release(struct scsi_lu *lu);

/* Handlers: return 0 when cmd is complete (status, sense, data set), or 1
 * when it completes later through cmd->done. */
typedef int scsi_cmd_fn(struct scsi_nexus *nexus, struct scsi_lu *lu,
			struct scsi_cmd *cmd);

/* scsi_opcodes.c */
#define SCSI_OPF_ANY_LUN (1u << 0) /* runs without a logical unit */
#define SCSI_OPF_NO_UA	 (1u << 1) /* neither reports nor clears a UA */
#define SCSI_OPF_RESV_OK (1u << 2) /* allowed despite another's RESERVE */
#define SCSI_OPF_SA	 (1u << 3) /* has a service action */
#define SCSI_OPF_PR_OK                                                         \
	(1u << 4) /* never conflicts with a persistent                         \
			 reservation (SPC-4 table 63) */
#define SCSI_OPF_PR_READ                                                       \
	(1u << 5) /* reads: allowed by write exclusive                         \
			 reservations */
#define SCSI_OPF_EXPLICIT                                                      \
	(1u << 6) /* supported only with explicit ALUA                         \
			 (scsi_alua_explicit) */

struct scsi_opcode {
	uint8_t opcode;
	uint8_t sa; /* service action, if SCSI_OPF_SA */
	uint8_t flags;
	uint8_t cdb_len;
	scsi_cmd_fn *fn;
	uint8_t usage[16]; /* CDB usage data for REPORT SUPPORTED OPCODES */
};
extern const struct scsi_opcode scsi_opcodes[];
extern const unsigned int scsi_n_opcodes;
/* The entry for cdb, if supported now. */
const struct scsi_opcode *scsi_opcode_find(const uint8_t *cdb,
					   unsigned int cdb_len);
/* Whether a table entry is supported now (SCSI_OPF_EXPLICIT). */
bool scsi_opcode_supported(const struct scsi_opcode *op);

/* scsi_spc.c */
scsi_cmd_fn scsi_spc_test_unit_ready, scsi_spc_inquiry, scsi_spc_report_luns,
	scsi_spc_request_sense, scsi_spc_mode_sense, scsi_spc_mode_select,
	scsi_spc_report_opcodes, scsi_spc_reserve6, scsi_spc_release6,
	scsi_spc_start_stop, scsi_spc_prevent_allow;
/* Copy len bytes of data-in, at most alloc_len, into cmd. */
void scsi_data_in(struct scsi_cmd *cmd, const void *src, uint32_t len,
		  uint32_t alloc_len);

/* scsi_alua.c */
/* The group of relative target port port (the first served one if
 * none has it). */
const struct scsi_alua_group *scsi_alua_group_of(uint16_t port);
uint16_t scsi_alua_group_id(const struct scsi_alua_group *group);
/* True when the nexus' access state refuses cmd: NOT READY is set. */
bool scsi_alua_refuse(const struct scsi_nexus *nexus, const struct scsi_lu *lu,
		      struct scsi_cmd *cmd);
scsi_cmd_fn scsi_alua_rtpg, scsi_alua_stpg;
/* Some group served here takes SET TARGET PORT GROUPS (TPGS 11b). */
bool scsi_alua_explicit(void);

/* scsi_sbc.c */
scsi_cmd_fn scsi_sbc_read, scsi_sbc_write, scsi_sbc_verify,
	scsi_sbc_read_capacity10, scsi_sbc_read_capacity16,
	scsi_sbc_get_lba_status, scsi_sbc_read_defect_data, scsi_sbc_sync_cache,
	scsi_sbc_prefetch, scsi_sbc_unmap, scsi_sbc_write_same,
	scsi_sbc_compare_and_write;

#endif
